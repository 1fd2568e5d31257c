#!/bin/sh
# End to end: build/vapd on every shared clip prints one frame message per decoded frame
# (count = ffprobe's nb_read_frames) and one EOS message, exits 0; SIGTERM drains;
# --check rejects a broken file with exit 2. (tests/t_sanitize.sh runs it under ASan+UBSan.)
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

# Every line is one JSON object of the schema.
if /usr/bin/python3 - "$tmp/out.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    assert m["stream"] == "s1"
    if m.get("eos"):
        assert all(isinstance(m[k], int) for k in ("frames", "processed", "dropped"))
    else:
        assert isinstance(m["frame"], int) and isinstance(m["pts"], (int, float))
        assert m["time"].endswith("Z") and isinstance(m["detections"], list)
PY
then ok "messages parse as JSON with the schema's fields"; else nok "messages do not match the schema"; fi

# SIGTERM: stop reading, drain, flush, exit 0 with an EOS message.
printf 'sources:\n  - id: live\n    uri: %s\n    realtime: true\nsinks:\n  - type: file\n    path: %s\n    mode: truncate\n' \
	"$SHARED/data/videos/people-432p.mp4" "$tmp/term.jsonl" > "$tmp/t.yaml"
"$VAPD" -q -c "$tmp/t.yaml" 2>"$tmp/err" &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid; rc=$?
frames=$(grep -c '"detections"' "$tmp/term.jsonl")
if [ $rc = 0 ] && grep -q '"eos":true' "$tmp/term.jsonl" && [ "$frames" -gt 0 ] && [ "$frames" -lt 100 ]; then
	ok "SIGTERM drains and exits 0 ($frames frames before the stop)"
else
	nok "SIGTERM: rc=$rc frames=$frames"
fi

# --check: a broken file is rejected with its position and exit code 2.
printf 'sources:\n  - id: a\n    uri: %s\n    interval: 0\n' "$SHARED/data/videos/people-2s.mp4" > "$tmp/bad.yaml"
"$VAPD" --check -c "$tmp/bad.yaml" 2>"$tmp/err"; rc=$?
if [ $rc = 2 ] && grep -q "bad.yaml:4:[0-9]*: sources\[0\].interval" "$tmp/err"; then
	ok "--check rejects a bad value with FILE:LINE:COL and exit 2"
else
	nok "--check: rc=$rc: $(cat "$tmp/err")"
fi

[ $fails = 0 ]
