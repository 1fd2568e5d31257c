#!/bin/sh
# Detection accuracy on the short clips against the onnxruntime reference (F1 >= 0.97).
cd "$(dirname "$0")/.." || exit 1
out=$(sh scripts/check-accuracy.sh --quick 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
if [ $rc -eq 0 ]; then
	echo "ok 1 - accuracy on people-2s and highway-160x90 (yolox_nano, yolov8n) F1 >= 0.97"
else
	echo "not ok 1 - accuracy on people-2s and highway-160x90 (yolox_nano, yolov8n) F1 >= 0.97"
fi
exit $rc
