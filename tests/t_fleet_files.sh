#!/bin/sh
# Fleet file items (issue 19 item 2) with a real etcd on free loopback ports and 2 real vapd
# nodes: file sources with loop: false are work items, processed once. Each ends "done"
# (PREFIX/done/<id>, with its frames, node and epoch), its claim is deleted, it is never
# claimed again, and every frame of it was published by exactly one node; `vapd fleet
# status`/`list` show the marks; `vapd fleet add` of a done item resets it and it runs again.
# kill -9 of the owner of a longer item: the other node resumes it from its last checkpoint
# (PREFIX/progress/<id>) under a new epoch, and every frame is published at least once.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
CLIP=$SHARED/data/videos/people-2s.mp4
LONG=$SHARED/data/videos/people-432p.mp4     # 10 s
TTL=3; CAP=2; ITEMS=5
# Lines wait in the file sink up to this long: longer than the 2 s checkpoint period, so a
# done mark or checkpoint that ran ahead of the file would show (lost frames, early marks).
FLUSH_MS=3000
FLEET_TEST="fleet file items"
. "$(dirname "$0")/fleet_lib.sh"

# The keys of one folder (claims, done) as "id value create_revision" lines.
cat >"$tmp/keys.py" <<'PY'
import base64, json, sys, urllib.request
url, folder = sys.argv[1], "/vapd/" + sys.argv[2] + "/"
end = folder[:-1] + chr(ord(folder[-1]) + 1)
b = lambda s: base64.b64encode(s.encode()).decode()
req = urllib.request.Request(url + "/v3/kv/range", json.dumps({"key": b(folder), "range_end": b(end)}).encode())
try:
    kvs = json.load(urllib.request.urlopen(req, timeout=2)).get("kvs", [])
except Exception:
    sys.exit(1)
for kv in kvs:
    print(base64.b64decode(kv["key"]).decode()[len(folder):], base64.b64decode(kv["value"]).decode(),
          kv["create_revision"])
PY
keys() { $PY "$tmp/keys.py" "$ETCD" "$1"; }
i=0; until keys claims >/dev/null 2>&1; do i=$((i + 1)); [ $i -ge 100 ] && break; sleep 0.1; done
check "etcd answers on $ETCD" 'keys claims >/dev/null'

{
	echo "sources:"
	for c in $(seq 1 $ITEMS); do
		printf '  - id: clip%s\n    uri: %s\n    realtime: true\n    loop: false\n' "$c" "$CLIP"
	done
} >"$tmp/items.yaml"
"$VAPD" fleet --etcd "$ETCD" import "$tmp/items.yaml" >/dev/null 2>&1
check "vapd fleet import stores $ITEMS file items" \
	'[ "$("$VAPD" fleet --etcd "$ETCD" list | grep -c "^- id: clip")" = $ITEMS ]'

start_node() {
	cat >"$tmp/$1.yaml" <<EOF2
pipeline: { name: $1 }
fleet: { etcd: [$ETCD], node_id: $1, capacity: $CAP, lease_ttl_s: $TTL }
sinks: [ { type: file, path: $tmp/$1.jsonl, flush_ms: $FLUSH_MS } ]
EOF2
	"$VAPD" -q -c "$tmp/$1.yaml" >>"$tmp/$1.log" 2>&1 &
	eval "pid_$1=$!"
	pids="$pids $!"
}
start_node a
start_node b

# The done marks (read first) whose item's end is not in its node's file yet.
early() {
	while read -r id v _; do
		node=$(echo "$v" | sed 's/.*"node":"\([^"]*\)".*/\1/')
		grep "\"stream\":\"$id\"" "$tmp/$node.jsonl" 2>/dev/null | grep -q '"eos":true' || echo "$id"
	done
}
# Every claim ever seen, sampled, to show none is made again after an item is done.
: >"$tmp/seen"; : >"$tmp/early"
i=0
while [ $i -lt 300 ]; do
	i=$((i + 1)); sleep 0.1
	keys claims >>"$tmp/seen" 2>/dev/null
	keys done >"$tmp/d" 2>/dev/null
	early <"$tmp/d" >>"$tmp/early"
	[ "$(wc -l <"$tmp/d")" = $ITEMS ] && break
done
keys done >"$tmp/done1"
check "all $ITEMS file items end done, none claimed any more ($(wc -l <"$tmp/done1") done)" \
	'[ "$(wc -l <"$tmp/done1")" = $ITEMS ] && [ -z "$(keys claims)" ]'
check "no done mark before its item's last messages were in the file (flush_ms $FLUSH_MS; early: $(sort -u "$tmp/early" | tr '\n' ' '))" \
	'[ ! -s "$tmp/early" ]'
sleep 2
keys claims >>"$tmp/seen"
r=$(sort -u "$tmp/seen" | awk '{ print $1 }' | sort | uniq -d | tr '\n' ' ')
check "each item was claimed once (one epoch each), and not again 2 s after it was done ($r)" \
	'[ -z "$r" ] && [ -z "$(keys claims)" ] && cmp -s "$tmp/done1" "$(keys done >"$tmp/done2"; echo "$tmp/done2")"'

# Every frame of every item published exactly once over both nodes, under the done epoch,
# and as many frames as the done mark says.
cat >"$tmp/once.py" <<'PY'
import json, sys
done = {}
for line in open(sys.argv[1]):
    id, v, _ = line.split(" ", 2)
    done[id] = json.loads(v)
seen = {}
for path in sys.argv[2:]:
    node = path.rsplit("/", 1)[1].split(".")[0]
    for line in open(path):
        m = json.loads(line)
        if "frame" not in m or m.get("type", "frame") != "frame":
            continue
        seen.setdefault(m["stream"], []).append((m["frame"], node, m.get("epoch")))
bad = []
for id, d in done.items():
    f = seen.get(id, [])
    idx = sorted(x[0] for x in f)
    if not f or idx != list(range(len(idx))) or len(idx) != d["frames"] or \
            {(x[1], x[2]) for x in f} != {(d["node"], d["epoch"])}:
        bad.append("%s:%d/%d" % (id, len(idx), d["frames"]))
print("ok" if not bad else " ".join(bad))
PY
r=$($PY "$tmp/once.py" "$tmp/done1" "$tmp"/a.jsonl "$tmp"/b.jsonl 2>&1)
check "every frame of each item published once, by the node and epoch of its done mark ($r)" '[ "$r" = ok ]'
check "both nodes took items (capacity $CAP each)" \
	'grep -q "{\"node\":\"a\"" "$tmp/done1" && grep -q "{\"node\":\"b\"" "$tmp/done1"'

"$VAPD" fleet --etcd "$ETCD" status >"$tmp/status" 2>&1
"$VAPD" fleet --etcd "$ETCD" list >"$tmp/list" 2>&1
check "vapd fleet status and list show the done marks" \
	'grep -q "$ITEMS file item(s) done" "$tmp/status" && [ "$(grep -c "^  clip[0-9]* *done *{" "$tmp/status")" = $ITEMS ] &&
	 [ "$(grep -c "^# clip[0-9]* done: {" "$tmp/list")" = $ITEMS ]'

# add resets a done item: it runs once more, under a new epoch.
"$VAPD" fleet --etcd "$ETCD" add "{id: clip1, uri: $CLIP, realtime: true, loop: false}" >/dev/null
i=0; until keys done >"$tmp/done3" && grep -q "^clip1 " "$tmp/done3"; do i=$((i + 1)); [ $i -ge 200 ] && break; sleep 0.1; done
e1=$(awk '$1 == "clip1" { print $2 }' "$tmp/done1"); e2=$(keys done | awk '$1 == "clip1" { print $2 }')
check "vapd fleet add of a done item runs it again under a new epoch" '[ -n "$e2" ] && [ "$e1" != "$e2" ]'

# --- kill -9 of a file item's owner: the other node resumes from the checkpoint -------
"$VAPD" fleet --etcd "$ETCD" add "{id: long1, uri: $LONG, realtime: true, loop: false}" >/dev/null
i=0; ck=0
while [ $i -lt 150 ]; do
	i=$((i + 1)); sleep 0.1
	keys progress >"$tmp/ck" 2>/dev/null
	ck=$(awk '$1 == "long1" { sub(/.*"frame":/, "", $2); sub(/,.*/, "", $2); print $2 }' "$tmp/ck")
	[ -n "$ck" ] && [ "$ck" -gt 0 ] && break
done
keys claims >"$tmp/c1"
victim=$(awk '$1 == "long1" { print $2 }' "$tmp/c1")
"$VAPD" fleet --etcd "$ETCD" status >"$tmp/status2" 2>&1
check "a running file item has a checkpoint (frame ${ck:-none}, owner ${victim:-none}) that status shows" \
	'[ -n "$ck" ] && [ "$ck" -gt 0 ] && grep -q "^  long1 .*progress {\"frame\":" "$tmp/status2"'
sleep 0.5
eval "kill -KILL \$pid_$victim" 2>/dev/null
i=0; until keys done >"$tmp/done4" && grep -q "^long1 " "$tmp/done4"; do i=$((i + 1)); [ $i -ge 250 ] && break; sleep 0.1; done
cat >"$tmp/resume.py" <<'PY'
import json, sys
done = {l.split(" ", 2)[0]: json.loads(l.split(" ", 2)[1]) for l in open(sys.argv[1])}["long1"]
victim, survivor = sys.argv[2], sys.argv[3]
def frames(node):
    out = []
    for line in open(sys.argv[4] + "/" + node + ".jsonl"):
        try:
            m = json.loads(line)
        except ValueError:
            continue      # the last line of a killed writer may be cut
        if m.get("stream") == "long1" and "frame" in m:
            out.append((m["frame"], m.get("epoch")))
    return out
a, b = frames(victim), frames(survivor)
first = min(f for f, _ in b) if b else -1
union = {f for f, _ in a} | {f for f, _ in b}
twice = {f for f, _ in a} & {f for f, _ in b}
ok = (b and done["node"] == survivor and first == done["resumed_at"] > 0 and
      union == set(range(done["frames"])) and {e for _, e in b} == {done["epoch"]} and
      done["epoch"] not in {e for _, e in a} and (not twice or min(twice) >= first))
print("ok" if ok else "bad", "first=%d resumed_at=%s frames=%s union=%d twice=%d" %
      (first, done.get("resumed_at"), done.get("frames"), len(union), len(twice)))
PY
survivor=a; [ "$victim" = a ] && survivor=b
# Read at once: the done mark comes only after the survivor's file holds the item's end,
# and the checkpoint only counted frames in the victim's file before the kill.
r=$($PY "$tmp/resume.py" "$tmp/done4" "$victim" "$survivor" "$tmp" 2>&1)
check "after kill -9 of its owner, $survivor resumed the item at its checkpoint under a new epoch; every frame published, done ($r)" \
	'case "$r" in ok*) true ;; *) false ;; esac'

kill -TERM $pids 2>/dev/null
for p in $pids; do wait "$p" 2>/dev/null; done
pids=
echo "1..$n"
[ $fails = 0 ]
