#!/bin/sh
# make demo: runs the default pipeline (YOLOX-Nano on a sample clip at its own speed, tracked,
# detections to stdout) with the live view on http://127.0.0.1:9464/ (VAPD_DEMO_HTTP moves it)
# while it plays.
# Assets come from $VAPD_ASSETS, else ../shared, else they are downloaded (pinned sha256)
# into assets/ (ignored by git).
set -e
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
. scripts/assets.sh
find_assets
out=$BUILD/demo
mkdir -p "$out"
labels_line=""
[ -n "$LABELS" ] && labels_line="  labels: $LABELS"
http_addr=${VAPD_DEMO_HTTP:-127.0.0.1:9464}
cat > "$out/demo.yaml" <<YAML
pipeline:
  name: demo
http:
  listen: "$http_addr"
sources:
  - id: demo
    uri: $CLIP
    realtime: true
model:
  path: $MODEL
  family: yolox
$labels_line
  backend: auto
  threshold: 0.3
tracker: {}
sinks:
  - type: stdout
  - type: file
    path: $out/detections.jsonl
    mode: truncate
YAML
echo "demo: $BUILD/vapd -c $out/demo.yaml  (clip $CLIP, model $MODEL)" >&2
echo "demo: live view at http://$http_addr/ while the clip plays" >&2
"$BUILD/vapd" -q -c "$out/demo.yaml"
echo "demo: $(grep -c '"detections"' "$out/detections.jsonl") frame messages, $(grep -o '"class_id"' "$out/detections.jsonl" | wc -l) detections, written to $out/detections.jsonl" >&2
