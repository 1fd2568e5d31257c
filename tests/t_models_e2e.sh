#!/bin/sh
# The end-to-end families through vapd itself, with family auto: yolo26n (NMS-free YOLO) and
# deimv2_atto (DETR with its post-processor, dynamic batch) on people-432p (100 frames) give
# detections close to onnxruntime's (compare-detections.py, F1 >= 0.97), auto names the
# family in one log line, and deimv2_atto at batch 1, 3 and 8 gives the same detections on
# every frame (same classes, boxes within 0.5 px, scores within 1e-3).
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
PYTHON=${PYTHON:-python3}
cd "$(dirname "$0")/.." || exit 1
clip=people-432p
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fails=0
result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=1; fi
}
for f in "$BUILD/vapd" "$SHARED/models/yolo26n.onnx" "$SHARED/models/deimv2_atto.onnx" \
	"$SHARED/data/videos/$clip.mp4"; do
	[ -e "$f" ] || { echo "1..0 # SKIP $f missing"; exit 0; }
done

# $1 model, $2 batch, $3 tag: runs vapd with family auto, CPU, threshold 0.25, no nms_iou.
run() {
	cat >"$tmp/$3.yaml" <<YAML
sources:
  - id: clip
    uri: $SHARED/data/videos/$clip.mp4
model:
  path: $SHARED/models/$1.onnx
  family: auto
  labels: $SHARED/models/coco.names
  backend: cpu
  threads: 2
  threshold: 0.25
  batch: { max_size: $2 }
sinks:
  - type: file
    path: $tmp/$3.jsonl
    mode: truncate
YAML
	"$BUILD/vapd" -c "$tmp/$3.yaml" >"$tmp/$3.log" 2>&1
}

# $1 model, $2 tag, $3 family auto should pick
check_ref() {
	res=$("$PYTHON" "$SHARED/tools/compare-detections.py" "$tmp/$2.jsonl" \
		"$SHARED/data/reference/$clip.$1.jsonl" --min-f1 0.97 2>&1 | tr "\n" " ")
	result $? "$1 on $clip matches onnxruntime: $res"
	grep -q "family auto: $3 (" "$tmp/$2.log"
	result $? "$1: family auto says $3 in one line: $(grep -o 'family auto: [a-z0-9]*' "$tmp/$2.log")"
}

run yolo26n 8 y26 || sed 's/^/# /' "$tmp/y26.log"
check_ref yolo26n y26 yolov10

for b in 1 3 8; do
	run deimv2_atto $b deim$b || sed 's/^/# /' "$tmp/deim$b.log"
done
check_ref deimv2_atto deim8 detr

# Per frame, the same detections whatever the batch the frame ran in.
for b in 1 3; do
	"$PYTHON" - "$tmp/deim$b.jsonl" "$tmp/deim8.jsonl" <<'PY'
import json, sys
def load(p):
    out = {}
    for line in open(p):
        m = json.loads(line)
        if "frame" in m and "detections" in m:
            out[m["frame"]] = sorted((d["class_id"], d["score"], d["bbox"]) for d in m["detections"])
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys() and len(a) > 0, "frames differ"
for f in a:
    assert len(a[f]) == len(b[f]), f"frame {f}: {len(a[f])} vs {len(b[f])} detections"
    left = list(b[f])
    for x in a[f]:
        hit = [y for y in left if y[0] == x[0] and abs(x[1] - y[1]) <= 1e-3 and
               all(abs(p - q) <= 0.5 for p, q in zip(x[2], y[2]))]
        assert hit, f"frame {f}: {x} has no twin in {left}"
        left.remove(hit[0])
print(f"{len(a)} frames, {sum(len(v) for v in a.values())} detections")
PY
	result $? "deimv2_atto (dynamic batch) at batch $b gives batch 8's detections on every frame"
done
echo "1..$n"
exit $fails
