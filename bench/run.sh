#!/bin/sh
# make bench: prints the benchmark tables (software decode, CPU engine next to onnxruntime,
# end-to-end pipeline, tracking on vs off and the tracking stage per frame, sinks; GPU tables
# when a GPU is visible). Benchmarks, not tests.
#   bench/run.sh [--gpu-only]
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
# Idle OpenMP workers spin only briefly, as vapd itself sets it (pipeline/vp_omp.c): libgomp's
# long default spin starves other threads, passive waiting slows every parallel region.
[ -z "$OMP_WAIT_POLICY" ] && GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-20000} && export GOMP_SPINCOUNT
export BUILD SHARED
cd "$(dirname "$0")/.." || exit 1
echo "# vapd benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
rc=0
run() { # title program args...
	[ -x "$2" ] || { echo "(skipped $1: $2 not built)"; return; }
	t=$1; shift
	echo; echo "## $t"; "$@" || rc=1
}
# --gpu-only: just the GPU tables (scripts/gpu-run.sh on a GPU machine with little time).
if [ "${1:-}" != "--gpu-only" ]; then
	run "Software decode" "$BUILD/bench/bench_decode" "$SHARED/data/videos"
	run "CPU preprocessing, reference vs fast (ms per frame)" "$BUILD/bench/bench_preprocess" "$SHARED"
	run "CPU engine" "$BUILD/bench/bench_engine"
	echo; echo "## onnxruntime CPU EP (same machine, same run)"
	SHARED="$SHARED" sh bench/run-ort.sh || rc=1
	run "End-to-end offline pipeline (CPU backend)" "$BUILD/bench/bench_pipeline" "$SHARED"
	run "Tracking on vs off, end to end (CPU backend, YOLOX-Nano)" "$BUILD/bench/bench_pipeline" --tracking "$SHARED"
	run "Tracking stage per frame (synthetic scenes, 10 to 1,000 objects)" "$BUILD/bench/bench_tracker"
	run "Sinks at 1,000 frames/s" "$BUILD/bench/bench_sinks"
	run "Live sources in real time (CPU backend)" "$BUILD/bench/bench_live" "$SHARED"
	run "Annotated recording (ms per frame)" "$BUILD/bench/bench_record" "$SHARED"
	echo; echo "## The view stage: live view, snapshots, recording vs everything off (end to end)"
	sh bench/bench_view.sh || rc=1
fi
for b in "$BUILD"/bench/bench_gpu_*; do
	case "$b" in *.o|*.d) continue ;; esac
	[ -x "$b" ] && run "GPU: $(basename "$b")" "$b" "$SHARED"
done
echo; echo "## onnxruntime on the GPU (same machine, same run)"
python3 bench/ort_gpu_bench.py "$SHARED" || rc=1
exit $rc
