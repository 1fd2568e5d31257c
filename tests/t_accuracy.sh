#!/bin/sh
# Detection accuracy on the short clips against the onnxruntime reference (F1 >= 0.97), and
# check-accuracy failing when a model or a reference it names is missing.
cd "$(dirname "$0")/.." || exit 1
SHARED=${SHARED:-$(cd .. && pwd)/shared}
fails=0
out=$(sh scripts/check-accuracy.sh --quick 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
if [ $rc -eq 0 ]; then
	echo "ok 1 - accuracy on people-2s and highway-160x90 (yolox_nano, yolov8n) F1 >= 0.97"
else
	echo "not ok 1 - accuracy on people-2s and highway-160x90 (yolox_nano, yolov8n) F1 >= 0.97"
	fails=1
fi

# A copy of $SHARED made of links, less one file: check-accuracy must fail and name it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=1
without() {
	rm -rf "$tmp/shared"
	mkdir -p "$tmp/shared/data/videos" "$tmp/shared/data/reference" "$tmp/shared/models"
	ln -s "$SHARED/tools" "$tmp/shared/tools"
	for f in "$SHARED"/data/videos/* "$SHARED"/data/reference/* "$SHARED"/models/*; do
		rel=${f#"$SHARED"/}
		[ "$rel" = "$1" ] || ln -s "$f" "$tmp/shared/$rel"
	done
	err=$(SHARED="$tmp/shared" sh scripts/check-accuracy.sh --only people-2s.mp4 2>&1); rc=$?
	n=$((n + 1))
	if [ $rc -ne 0 ] && echo "$err" | grep -q "$1 missing"; then
		echo "ok $n - check-accuracy fails when $1 is missing (exit $rc)"
	else
		echo "not ok $n - check-accuracy with $1 missing: exit $rc: $(echo "$err" | tail -3)"
		fails=1
	fi
}
without data/reference/people-2s.yolov8n.jsonl
without models/yolox_nano.onnx
exit $fails
