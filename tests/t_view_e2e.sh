#!/bin/sh
# The view stage end to end on a shared clip (YOLOX-Nano, CPU, tracker, a line and a zone):
# every chosen event names a snapshot that exists and decodes at snapshots.width, track_end
# with a crop of the object's shape; track_end snapshots are the track's best frame; the recording's
# fragmented MP4 segments play in ffprobe as H.264 at record.width and hold every processed
# frame (a file source waits rather than drop); a recording killed mid-segment stays
# readable; and `vapd --source --model` runs a tracked pipeline with the live view.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
V=$SHARED/data/videos
M=$SHARED/models
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill -KILL $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }
wait_for() { i=0; while ! eval "$1"; do i=$((i + 1)); [ $i -ge "$2" ] && return 1; sleep 0.1; done; }
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cat >"$tmp/run.yaml" <<YAML
sources:
  - id: highway
    uri: $V/highway-540p.mp4
    lines: [{ name: overtake, points: [[120, 450], [120, 300]], classes: [car, truck] }]
    zones: [{ name: near, polygon: [[0, 380], [960, 380], [960, 540], [0, 540]] }]
    record: { dir: $tmp/rec, segment_s: 2, width: 480 }
model: { path: $M/yolox_nano.onnx, labels: $M/coco.names, classes: [car, truck, bus] }
tracker: {}
snapshots: { dir: $tmp/snaps, events: [line_cross, track_end, zone_enter], width: 480 }
sinks: [{ type: file, path: $tmp/out.jsonl, mode: truncate }]
YAML
"$VAPD" -q -c "$tmp/run.yaml" 2>"$tmp/run.err"
rc=$?
check "offline run with snapshots and recording exits 0 (rc=$rc)" '[ $rc = 0 ]'

# Every chosen event names a snapshot; its frame and crop exist and decode.
cat >"$tmp/snaps.py" <<'PY'
import json, os, subprocess, sys
snaps, want_w = sys.argv[1], int(sys.argv[2])
err, n = [], {}
def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
                          "-of", "csv=p=0", path], capture_output=True, text=True).stdout.strip()
    c, w, h = out.split(",")
    return c, int(w), int(h)
for line in open(sys.argv[3]):
    m = json.loads(line)
    ev = m.get("event")
    if ev not in ("line_cross", "track_end", "zone_enter"):
        if "snapshot" in m:
            err.append("unchosen %s has a snapshot" % ev)
        continue
    n[ev] = n.get(ev, 0) + 1
    rel = m.get("snapshot")
    if not rel:
        err.append("%s of track %d has no snapshot" % (ev, m["track_id"])); continue
    if rel.startswith("/") or ".." in rel or not rel.startswith("highway/"):
        err.append("snapshot path %r is not relative to the folder" % rel); continue
    if ev not in rel or "-%d" % m["track_id"] not in rel:
        err.append("name %r does not say %s and track %d" % (rel, ev, m["track_id"]))
    frame = os.path.join(snaps, rel)
    crop = frame[:-4] + "-crop.jpg"
    # zone and line events crop the track's box of that frame, when it was published there
    for p in (frame, crop) if ev == "track_end" else (frame,):
        if not os.path.isfile(p):
            err.append("missing %s" % p)
    if err: continue
    c, w, h = probe(frame)
    if c != "mjpeg" or w != want_w or abs(h - round(want_w * 540 / 960)) > 2:
        err.append("%s: %s %dx%d" % (rel, c, w, h))
    if ev == "track_end":
        b = m["best_bbox"]
        bw, bh = b[2] - b[0], b[3] - b[1]
        c, w, h = probe(crop)
        # the box with a 10% margin each side, cut at the frame's edges
        if not (w <= 1.2 * bw + 4 and h <= 1.2 * bh + 4 and w >= bw - 4 and h >= bh - 4):
            err.append("%s crop %dx%d for a %.0fx%.0f box" % (rel, w, h, bw, bh))
print("ok %s" % json.dumps(n, sort_keys=True) if not err and n.get("line_cross") and n.get("track_end")
      else "; ".join(err[:5]) or "no events: %r" % n)
PY
res=$($PY "$tmp/snaps.py" "$tmp/snaps" 480 "$tmp/out.jsonl" 2>&1)
check "every chosen event has its snapshot and crop, named after it, decoding at 480 wide ($res)" \
	'case "$res" in ok*) true ;; *) false ;; esac'

# The recording: fragmented MP4 segments of about 2 s, H.264 at 480 wide, every processed frame.
processed=$($PY -c 'import json,sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m.get("eos"): print(m["processed"])' "$tmp/out.jsonl")
frames=0; segs=0; bad=""
for f in "$tmp"/rec/highway/*.mp4; do
	[ -f "$f" ] || continue
	segs=$((segs + 1))
	info=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=codec_name,width,nb_read_frames -of csv=p=0 "$f")
	c=${info%%,*}; rest=${info#*,}; w=${rest%%,*}; k=${rest#*,}
	[ "$c" = h264 ] && [ "$w" = 480 ] || bad="$bad $(basename "$f"):$info"
	frames=$((frames + k))
done
check "recording: $segs segments of H.264 at 480 wide ($bad)" '[ $segs -ge 3 ] && [ -z "$bad" ]'
check "recording holds every processed frame ($frames of $processed)" '[ -n "$processed" ] && [ $frames = $processed ]'
check "segments are fragmented MP4 (moof boxes)" 'grep -c moof "$(ls "$tmp"/rec/highway/*.mp4 | head -1)" >/dev/null'

# A recording killed mid-segment stays readable up to its last fragment.
sed -e "s#$tmp/rec#$tmp/rec2#; s#segment_s: 2#segment_s: 60#" -e 's#uri: \(.*\)#uri: \1\n    realtime: true\n    loop: true#' \
	-e "/snapshots:/d" "$tmp/run.yaml" >"$tmp/kill.yaml"
"$VAPD" -q -c "$tmp/kill.yaml" 2>"$tmp/kill.err" &
kp=$!; pids="$pids $kp"
wait_for '[ -n "$(find "$tmp/rec2" -name "*.mp4" -size +40k 2>/dev/null)" ]' 300
kill -KILL $kp; wait $kp 2>/dev/null
f=$(ls "$tmp"/rec2/highway/*.mp4 2>/dev/null | head -1)
k=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$f" 2>/dev/null)
check "a recording killed mid-segment still plays ($k frames in $(basename "$f"))" '[ -n "$k" ] && [ "$k" -gt 0 ]'

# vapd --source --model: tracked, live view on --http, checked like a file.
port=$(free_port)
out=$("$VAPD" --check --source "$V/people-2s.mp4" --model "$M/yolox_nano.onnx" 2>&1)
check "vapd --check --source --model says the command line is ok ($out)" '[ "$out" = "command line: ok" ]'
out=$("$VAPD" --check --source /nonexistent.mp4 --model "$M/yolox_nano.onnx" 2>&1); rc=$?
check "a bad --source names the command line and the key (rc=$rc)" \
	'[ $rc = 2 ] && echo "$out" | grep -q "^command line:.*sources\[0\].uri: cannot read"'
"$VAPD" --source "$V/people-432p.mp4" --model "$M/yolox_nano.onnx" --http "127.0.0.1:$port" \
	>"$tmp/quick.jsonl" 2>"$tmp/quick.err" &
qp=$!; pids="$pids $qp"
wait_for 'curl -sf "http://127.0.0.1:$port/api/streams" 2>/dev/null | grep -q people-432p' 300
check "the live view lists the stream (/api/streams)" \
	'curl -sf "http://127.0.0.1:$port/api/streams" | grep -q "\"people-432p\""'
wait_for 'grep -q track_id "$tmp/quick.jsonl"' 300
check "frames carry track ids and labels" 'grep -q "\"track_id\"" "$tmp/quick.jsonl" && grep -q "\"label\":\"person\"" "$tmp/quick.jsonl"'
kill -TERM $qp; wait $qp; rc=$?
check "SIGTERM ends it cleanly (rc=$rc) with an EOS" '[ $rc = 0 ] && tail -1 "$tmp/quick.jsonl" | grep -q "\"eos\":true"'

echo "1..$n"
[ $fails = 0 ]
