# Sourced by demo/bench scripts: sets CLIP, MODEL and LABELS to a sample clip, the
# YOLOX-Nano model and the COCO labels. Order: $VAPD_ASSETS, ../shared, download.
# Downloads are pinned: the model by its full sha256, the clip by the sha256 prefix
# published in ../shared's MANIFEST files.
MODEL_URL=https://raw.githubusercontent.com/Bigisland1729/object-detection-models/7f3f2fa34b351e3d2af150893458106ad3f3a84f/yolox_nano.onnx
MODEL_SHA=e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd
CLIP_URL=https://raw.githubusercontent.com/udacity/CarND-LaneLines-P1/ce5681be7ef8140560c0e464ef2da611e40b4fc9/test_videos/solidWhiteRight.mp4
CLIP_SHA_PREFIX=2d8e14b46fe89afb

fetch() { # url dest sha256-or-prefix
	[ -f "$2" ] && sha256sum "$2" | grep -q "^$3" && return 0
	mkdir -p "$(dirname "$2")"
	echo "assets: downloading $1" >&2
	curl -fsSL --retry 3 -o "$2.part" "$1"
	if ! sha256sum "$2.part" | grep -q "^$3"; then
		echo "assets: checksum mismatch for $1" >&2
		rm -f "$2.part"
		return 1
	fi
	mv "$2.part" "$2"
}

find_assets() {
	SHARED_DIR=${SHARED:-../shared}
	if [ -n "$VAPD_ASSETS" ]; then
		CLIP=$(find "$VAPD_ASSETS" -name 'people-432p.mp4' -o -name 'solidWhiteRight.mp4' | head -1)
		MODEL=$(find "$VAPD_ASSETS" -name 'yolox_nano.onnx' | head -1)
		LABELS=$(find "$VAPD_ASSETS" -name 'coco.names' | head -1)
	elif [ -f "$SHARED_DIR/models/yolox_nano.onnx" ]; then
		CLIP=$SHARED_DIR/data/videos/people-432p.mp4
		MODEL=$SHARED_DIR/models/yolox_nano.onnx
		LABELS=$SHARED_DIR/models/coco.names
	fi
	if [ -z "$CLIP" ] || [ -z "$MODEL" ]; then
		fetch "$MODEL_URL" assets/yolox_nano.onnx "$MODEL_SHA"
		fetch "$CLIP_URL" assets/solidWhiteRight.mp4 "$CLIP_SHA_PREFIX"
		CLIP=assets/solidWhiteRight.mp4
		MODEL=assets/yolox_nano.onnx
		LABELS=""
	fi
}
