#!/bin/sh
# Accuracy against the onnxruntime reference detections: for every clip in
# $SHARED/data/videos with a reference $SHARED/data/reference/<clip>.<model>.jsonl, runs
# build/vapd on a generated pipeline file (one file source, the model, threshold 0.25,
# nms_iou 0.45 for the grid families (none written for the end-to-end ones, which select in
# the graph and run no NMS, as their references), batch 8, one file sink) and scores its output with
# tools/compare-detections.py. Prints a table; exits 1 if any F1 < 0.97 or any run fails.
# Clips with several containers (cars-432p.mp4 and .h264) share one reference.
# Every selected clip is checked with every model in MODELS: a missing model or reference
# is a failure (exit 1, before anything runs), not a row left out. The models in
# MODELS_WHERE_REF (newer, with references for some clips only) are checked on every
# selected clip that has their reference; a model with none at all is a failure.
#   --models LIST     only these models (space-separated), e.g. "yolo26n deimv2_atto"
#   --quick           only the short clips (people-2s, highway-160x90), for make test
#   --only GLOB       only clip files matching GLOB (e.g. 'people-*'); repeatable
#   --backend NAME    auto | cpu | cuda (default auto)
#   --keep DIR        keep configs, outputs and logs in DIR
set -u
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
PYTHON=${PYTHON:-python3}
MIN_F1=0.97
MODELS="yolox_nano yolov8n"
MODELS_WHERE_REF="yolo26n deimv2_atto"
quick=0; backend=auto; keep=""; only=""; pick=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--backend) shift; backend=${1:?--backend needs a value} ;;
	--only) shift; only="$only ${1:?--only needs a pattern}" ;;
	--keep) shift; keep=${1:?--keep needs a directory} ;;
	--models) shift; pick=${1:?--models needs a list} ;;
	-h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "check-accuracy: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
if [ -n "$pick" ]; then
	strict=""; where=""
	for m in $pick; do
		case " $MODELS " in *" $m "*) strict="$strict $m"; continue ;; esac
		case " $MODELS_WHERE_REF " in *" $m "*) where="$where $m"; continue ;; esac
		echo "check-accuracy: unknown model $m (known: $MODELS $MODELS_WHERE_REF)" >&2; exit 2
	done
	MODELS=$strict; MODELS_WHERE_REF=$where
fi
cd "$(dirname "$0")/.." || exit 2
vapd=$BUILD/vapd
videos=$SHARED/data/videos; refs=$SHARED/data/reference; models=$SHARED/models
compare=$SHARED/tools/compare-detections.py
for f in "$vapd" "$compare" "$models/coco.names"; do
	[ -e "$f" ] || { echo "check-accuracy: $f missing" >&2; exit 2; }
done
if [ -n "$keep" ]; then
	mkdir -p "$keep" && work=$keep || exit 2
else
	work=$(mktemp -d) || exit 2
	trap 'rm -rf "$work"' EXIT
fi

family_of() {
	case "$1" in
	yolox*) echo yolox ;;
	yolov8*|yolo11*) echo yolov8 ;;
	yolov5*) echo yolov5 ;;
	yolo26*|yolov10*) echo yolov10 ;;
	deim*|dfine*|rtdetr*|rf-detr*|rfdetr*) echo detr ;;
	*) return 1 ;;
	esac
}

# $1 clip file, $2 model name, $3 output, $4 config path
write_config() {
	cat > "$4" <<YAML
pipeline:
  name: accuracy
sources:
  - id: clip
    uri: $1
model:
  path: $models/$2.onnx
  family: $(family_of "$2")
  labels: $models/coco.names
  backend: $backend
  threshold: 0.25
$(case $(family_of "$2") in yolov10|detr) ;; *) echo "  nms_iou: 0.45" ;; esac)
  batch: { max_size: 8 }
sinks:
  - type: file
    path: $3
    mode: truncate
YAML
}

# Prints the selected clip files, one a line.
selected() {
	for clip in "$videos"/*; do
		file=$(basename "$clip")
		case "$file" in *.md) continue ;; esac
		if [ $quick -eq 1 ]; then
			case "${file%.*}" in people-2s|highway-160x90) ;; *) continue ;; esac
		fi
		if [ -n "$only" ]; then
			hit=0
			set -f
			for g in $only; do
				case "$file" in $g) hit=1 ;; esac
			done
			set +f
			[ $hit -eq 1 ] || continue
		fi
		echo "$clip"
	done
}

missing=0
for clip in $(selected); do
	base=$(basename "$clip"); base=${base%.*}
	for model in $MODELS; do
		for f in "$models/$model.onnx" "$refs/$base.$model.jsonl"; do
			[ -f "$f" ] || { echo "check-accuracy: $f missing" >&2; missing=1; }
		done
	done
done
for model in $MODELS_WHERE_REF; do
	[ -f "$models/$model.onnx" ] || { echo "check-accuracy: $models/$model.onnx missing" >&2; missing=1; }
	ls "$refs"/*."$model".jsonl >/dev/null 2>&1 ||
		{ echo "check-accuracy: no reference for $model under $refs" >&2; missing=1; }
done
[ $missing -eq 0 ] || exit 1

# The models to check on clip base $1: all of MODELS, those of MODELS_WHERE_REF with a reference.
models_for() {
	echo $MODELS
	for m in $MODELS_WHERE_REF; do
		[ -f "$refs/$1.$m.jsonl" ] && echo "$m"
	done
}

failed=0; rows=0
echo "| clip | model | precision | recall | F1 |"
echo "| --- | --- | --- | --- | --- |"
for clip in $(selected); do
	file=$(basename "$clip")
	base=${file%.*}
	for model in $(models_for "$base"); do
		ref=$refs/$base.$model.jsonl
		tag=$file.$model
		out=$work/$tag.jsonl; cfg=$work/$tag.yaml; log=$work/$tag.log
		write_config "$clip" "$model" "$out" "$cfg"
		rows=$((rows + 1))
		if ! "$vapd" -q -c "$cfg" >"$log" 2>&1; then
			echo "| $file | $model | vapd failed | | |"
			sed 's/^/    /' "$log" | tail -5 >&2
			failed=1
			continue
		fi
		if [ ! -s "$out" ]; then
			echo "| $file | $model | no output | | |"
			failed=1
			continue
		fi
		res=$("$PYTHON" "$compare" "$out" "$ref" --min-f1 $MIN_F1 2>&1); rc=$?
		p=$(echo "$res" | sed -n 's/.*precision=\([0-9.]*\).*/\1/p')
		r=$(echo "$res" | sed -n 's/.*recall=\([0-9.]*\).*/\1/p')
		f1=$(echo "$res" | sed -n 's/.*F1=\([0-9.]*\).*/\1/p')
		note=""
		if [ $rc -ne 0 ]; then
			failed=1
			note=" (below $MIN_F1 or frames differ)"
			echo "$res" | sed 's/^/    /' >&2
		fi
		echo "| $file | $model | ${p:-?} | ${r:-?} | ${f1:-?}$note |"
	done
done
if [ $rows -eq 0 ]; then
	echo "check-accuracy: no clip has a reference under $refs" >&2
	exit 1
fi
exit $failed
