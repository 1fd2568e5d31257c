#!/bin/sh
# --check and a start agree: what a start refuses for a reason known without starting is
# refused by --check too, with exit 2 and the same FILE:LINE:COL line (an unwritable file-sink
# path, class names missing from the labels file or given without one), and what --check
# accepts starts (tcp-listen on port 0: the kernel picks the port and the log names it).
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
CLIP=$SHARED/data/videos/people-2s.mp4
M=$SHARED/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

SRC="sources:
  - id: cam1
    uri: $CLIP"
MODEL="model:
  path: $M/yolox_nano.onnx
  labels: $M/coco.names"

# refused NAME YAML L:C KEY: --check and a start both exit 2 with "FILE:L:C: KEY: ..."
refused() {
	printf '%s\n' "$2" >"$tmp/c.yaml"
	"$VAPD" --check -c "$tmp/c.yaml" >/dev/null 2>"$tmp/check.err"; crc=$?
	timeout 60 "$VAPD" -q -c "$tmp/c.yaml" >/dev/null 2>"$tmp/start.err"; src=$?
	want="$tmp/c.yaml:$3: $4"
	if [ $crc = 2 ] && grep -qF "$want" "$tmp/check.err"; then
		ok "--check refuses $1 at $3 ($(grep -F "$want" "$tmp/check.err" | head -1 | sed "s#$tmp/##"))"
	else
		nok "--check refuses $1 at $3 (exit $crc: $(head -2 "$tmp/check.err"))"
	fi
	if [ $src = 2 ] && grep -qF "$want" "$tmp/start.err"; then
		ok "a start refuses $1 the same way (exit 2)"
	else
		nok "a start refuses $1 the same way (exit $src: $(head -2 "$tmp/start.err"))"
	fi
}

refused "a file sink in a missing directory" "$SRC
sinks:
  - type: file
    path: $tmp/no-such-dir/out.jsonl" 6:11 "sinks[0].path:"
mkdir "$tmp/adir"
refused "a file sink path that is a directory" "$SRC
sinks:
  - type: file
    path: $tmp/adir" 6:11 "sinks[0].path:"
refused "model.classes: [nosuchclass]" "$SRC
$MODEL
  classes: [person, nosuchclass]" 7:21 "model.classes"
refused "model.class_thresholds: { nosuchclass: 0.5 }" "$SRC
$MODEL
  class_thresholds: { nosuchclass: 0.5 }" 7:23 "model.class_thresholds"
refused "a class name without model.labels" "$SRC
model:
  path: $M/yolox_nano.onnx
  classes: [person]" 6:13 "model.classes"
refused "zones[].classes: [nosuchclass]" "$SRC
    zones:
      - { name: z, polygon: [[0, 0], [9, 0], [9, 9]], classes: [nosuchclass] }
$MODEL
tracker: {}" 5:65 "sources[0].zones[0].classes"
refused "lines[].classes: [nosuchclass]" "$SRC
    lines:
      - { name: l, points: [[0, 0], [9, 9]], classes: [car, nosuchclass] }
$MODEL
tracker: {}" 5:61 "sources[0].lines[0].classes"

# Accepted by --check, so it must start: tcp-listen port 0 (the log names the port).
printf '%s\nsinks:\n  - type: socket\n    address: tcp-listen://127.0.0.1:0\n' "$SRC" >"$tmp/l.yaml"
"$VAPD" --check -c "$tmp/l.yaml" >/dev/null 2>"$tmp/l.check"; crc=$?
timeout 60 "$VAPD" -c "$tmp/l.yaml" >/dev/null 2>"$tmp/l.err"; src=$?
port=$(sed -n 's/.*listening on tcp 127.0.0.1 port \([0-9]*\).*/\1/p' "$tmp/l.err" | head -1)
if [ $crc = 0 ] && [ $src = 0 ] && [ "${port:-0}" -gt 0 ]; then
	ok "tcp-listen://127.0.0.1:0 passes --check and starts on port $port"
else
	nok "tcp-listen://127.0.0.1:0: --check exit $crc ($(head -1 "$tmp/l.check")), start exit $src, port '${port}'"
fi

echo "# $n checks, $fails failed"
[ $fails -eq 0 ]
