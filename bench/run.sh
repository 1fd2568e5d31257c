#!/bin/sh
# make bench: prints the benchmark tables (software decode, CPU engine vs onnxruntime,
# end-to-end pipeline, sinks; GPU tables when a GPU is visible). Benchmarks, not tests.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
cd "$(dirname "$0")/.."
echo "# vapd benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
run() { # title program args...
	[ -x "$2" ] || { echo "(skipped $1: $2 not built)"; return; }
	echo; echo "## $1"; shift; "$@"
}
run "Software decode" "$BUILD/bench/bench_decode" "$SHARED/data/videos"
run "CPU engine" "$BUILD/bench/bench_engine" "$SHARED/models"
[ -x bench/run-ort.sh ] && { echo; echo "## onnxruntime (same machine, same run)"; bench/run-ort.sh "$SHARED/models"; }
run "End-to-end offline pipeline (CPU backend)" "$BUILD/bench/bench_pipeline" "$SHARED"
run "Sinks at 1,000 frames/s" "$BUILD/bench/bench_sinks"
for b in "$BUILD"/bench/bench_gpu_*; do
	[ -x "$b" ] && run "GPU: $(basename "$b")" "$b" "$SHARED"
done
exit 0
