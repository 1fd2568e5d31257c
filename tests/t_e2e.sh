#!/bin/sh
# End to end: build/vapd on every shared clip prints one frame message per decoded frame
# (count = ffprobe's nb_read_frames) and one EOS message, exits 0; the schema holds on a
# clip with detections; interval: N counts every frame and detects every Nth; SIGTERM and
# SIGINT drain; --check rejects a broken file with exit 2. (tests/t_sanitize.sh runs it under ASan+UBSan.)
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

config() { # clip out [model-family model]
	{
		printf 'sources:\n  - id: s1\n    uri: %s\n' "$1"
		[ -n "$3" ] && printf 'model:\n  path: %s\n  family: %s\n  labels: %s/models/coco.names\n  batch: { max_size: 4 }\n' "$4" "$3" "$SHARED"
		printf 'sinks:\n  - type: file\n    path: %s\n    mode: truncate\n' "$2"
	} > "$tmp/c.yaml"
}

for clip in "$SHARED"/data/videos/*.mp4 "$SHARED"/data/videos/*.mkv "$SHARED"/data/videos/*.h264; do
	name=$(basename "$clip")
	want=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$clip")
	config "$clip" "$tmp/out.jsonl"
	if "$VAPD" -q -c "$tmp/c.yaml" 2>"$tmp/err"; then
		got=$(grep -c '"detections"' "$tmp/out.jsonl")
		eos=$(grep -c '"eos":true' "$tmp/out.jsonl")
		last=$(tail -1 "$tmp/out.jsonl")
		if [ "$got" = "$want" ] && [ "$eos" = 1 ] && echo "$last" | grep -q "\"frames\":$want"; then
			ok "$name: $got frame messages + EOS"
		else
			nok "$name: $got frame messages (want $want), $eos EOS"
		fi
	else
		nok "$name: vapd failed: $(tail -3 "$tmp/err")"
	fi
done

# Every line is one JSON object of the schema, on a clip and model with detections, so the
# detection fields are checked too. Prints the number of detections.
schema() {
	/usr/bin/python3 - "$1" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "last line not terminated"
frame_keys = ["stream", "frame", "pts", "time", "width", "height", "detections"]
eos_keys = ["stream", "eos", "frames", "processed", "dropped", "errors"]
dets = 0
for n, line in enumerate(lines[:-1]):
    m = json.loads(line)
    assert m["stream"] == "s1"
    if m.get("eos"):
        assert n == len(lines) - 2 and list(m) == eos_keys and m["eos"] is True, line
        assert all(type(m[k]) is int for k in eos_keys[2:]), line
        continue
    assert list(m) == frame_keys, line
    assert type(m["frame"]) is int and type(m["pts"]) in (int, float), line
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", m["time"]), line
    assert type(m["width"]) is int and type(m["height"]) is int, line
    scores = []
    for d in m["detections"]:
        assert list(d) == ["class_id", "label", "score", "bbox"], line
        assert type(d["class_id"]) is int and 0 <= d["class_id"] < 80, line
        assert type(d["label"]) is str and d["label"], line
        assert type(d["score"]) in (int, float) and 0 <= d["score"] <= 1, line
        b = d["bbox"]
        assert len(b) == 4 and all(type(v) in (int, float) for v in b), line
        assert 0 <= b[0] <= b[2] <= m["width"] and 0 <= b[1] <= b[3] <= m["height"], line
        scores.append(d["score"])
    assert scores == sorted(scores, reverse=True), line
    dets += len(scores)
print(dets)
PY
}
config "$SHARED/data/videos/people-2s.mp4" "$tmp/det.jsonl" yolox "$SHARED/models/yolox_nano.onnx"
if "$VAPD" -q -c "$tmp/c.yaml" 2>"$tmp/err" && dets=$(schema "$tmp/det.jsonl" 2>"$tmp/py") &&
   [ "$dets" -gt 0 ]; then
	ok "people-2s with yolox_nano: every message has the schema's fields ($dets detections checked)"
else
	nok "people-2s with yolox_nano: ${dets:-no} detections; $(tail -3 "$tmp/err" "$tmp/py")"
fi

# interval: 3: every frame counted, frames 0, 3, 6... detected and published, EOS exact.
clip=$SHARED/data/videos/people-2s.mp4
want=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$clip")
config "$clip" "$tmp/iv.jsonl" yolox "$SHARED/models/yolox_nano.onnx"
sed -i 's|^\(    uri: .*\)$|\1\n    interval: 3|' "$tmp/c.yaml"
if "$VAPD" -q -c "$tmp/c.yaml" 2>"$tmp/err"; then
	got=$(grep -o '"frame":[0-9]*' "$tmp/iv.jsonl" | cut -d: -f2 | tr '\n' ' ')
	exp=$(seq 0 3 $((want - 1)) | tr '\n' ' ')
	proc=$(( (want + 2) / 3 ))
	if [ "$got" = "$exp" ] && tail -1 "$tmp/iv.jsonl" | grep -q "\"frames\":$want,\"processed\":$proc,\"dropped\":0," &&
	   [ "$(schema "$tmp/iv.jsonl")" -gt 0 ]; then
		ok "interval 3: frames $want counted, $proc processed (0, 3, 6...), EOS exact"
	else
		nok "interval 3: frames published: $got; EOS $(tail -1 "$tmp/iv.jsonl") (want $want frames, $proc processed)"
	fi
else
	nok "interval 3: vapd failed: $(tail -3 "$tmp/err")"
fi

# SIGTERM and SIGINT: stop reading, drain, flush, exit 0 with an EOS message.
for sig in TERM INT; do
	printf 'sources:\n  - id: live\n    uri: %s\n    realtime: true\nsinks:\n  - type: file\n    path: %s\n    mode: truncate\n' \
		"$SHARED/data/videos/people-432p.mp4" "$tmp/$sig.jsonl" > "$tmp/t.yaml"
	"$VAPD" -q -c "$tmp/t.yaml" 2>"$tmp/err" &
	pid=$!
	# A signal before the daemon blocks it would kill it: wait for its first frame.
	i=0; while [ ! -s "$tmp/$sig.jsonl" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	kill -$sig $pid
	wait $pid; rc=$?
	frames=$(grep -c '"detections"' "$tmp/$sig.jsonl")
	if [ $rc = 0 ] && tail -1 "$tmp/$sig.jsonl" | grep -q '"eos":true' && [ "$frames" -gt 0 ] && [ "$frames" -lt 100 ]; then
		ok "SIG$sig drains and exits 0 ($frames frames before the stop)"
	else
		nok "SIG$sig: rc=$rc frames=$frames"
	fi
done

# --check: a broken file is rejected with its position and exit code 2.
printf 'sources:\n  - id: a\n    uri: %s\n    interval: 0\n' "$SHARED/data/videos/people-2s.mp4" > "$tmp/bad.yaml"
"$VAPD" --check -c "$tmp/bad.yaml" 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q "bad.yaml:4:[0-9]*: sources\[0\].interval" "$tmp/err"; then
	ok "--check rejects a bad value with FILE:LINE:COL and exit 2"
else
	nok "--check: rc=$rc: $(cat "$tmp/err")"
fi

[ $fails = 0 ]
