#!/bin/sh
# build/vapd's process lifecycle as supervisors drive it: started with stdout or stderr
# closed, and stopped by signals that come twice or come before the pipeline runs.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
V=$SHARED/data/videos
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }
# flush_ms 0: every line is in the file once published, so the file can be read live.
file_sink() { printf '  - type: file\n    path: %s\n    mode: truncate\n    flush_ms: 0\n' "$1"; }
# Every line of $1 is a JSON object; stream $2's frames are 0..$3-1 in order, each once,
# and its EOS line comes last (pass - as $3 when the count is not known in advance).
jsonl_ok() {
	$PY - "$1" "$2" "$3" <<'PY'
import json, sys
path, sid, want = sys.argv[1], sys.argv[2], sys.argv[3]
msgs = []
for i, line in enumerate(open(path), 1):
    try:
        msgs.append(json.loads(line))
    except ValueError:
        sys.exit(f"# {path}:{i}: not JSON: {line[:80]!r}")
own = [m for m in msgs if m.get("stream") == sid]
idx = [m["frame"] for m in own if "frame" in m]
if idx != list(range(len(idx))) or (want != "-" and len(idx) != int(want)):
    sys.exit(f"# {path}: frames {idx[:5]}... ({len(idx)}), want 0..{want}")
if not own or not own[-1].get("eos") or sum(1 for m in own if m.get("eos")) != 1:
    sys.exit(f"# {path}: {len(own)} lines, the last is not the one EOS")
if len(msgs) != len(own):
    sys.exit(f"# {path}: lines of other streams")
PY
}

# --- stdout/stderr closed: the file sink must not get descriptor 1 or 2 -------------------
# A stdout sink as well: with fd 1 closed it would write into the file sink's descriptor.
for redir in '>&- 2>>"$tmp/err"' '2>&- >/dev/null' '>&- 2>&-'; do
	{ printf 'sources:\n  - id: cam\n    uri: %s\nsinks:\n' "$V/people-2s.mp4"
	  file_sink "$tmp/closed.jsonl"; printf '  - type: stdout\n'; } >"$tmp/closed.yaml"
	rm -f "$tmp/closed.jsonl"
	eval "\"\$VAPD\" -c \"\$tmp/closed.yaml\" $redir"; rc=$?
	lines=$(cat "$tmp/closed.jsonl" 2>/dev/null | wc -l)
	check "started with $redir: rc $rc, the file has 20 frame lines + EOS ($lines lines), all JSON, no log lines" \
		'[ $rc = 0 ] && [ "$lines" = 21 ] && jsonl_ok "$tmp/closed.jsonl" cam 20'
done

[ $fails = 0 ]
