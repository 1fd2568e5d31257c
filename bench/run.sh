#!/bin/sh
# make bench: every benchmark program build/bench/bench_*, then onnxruntime's rows for comparison.
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
# Idle OpenMP workers sleep instead of spinning: on a shared or loaded machine spinning
# workers starve the OpenBLAS threads (measured: 368 ms -> 58 ms per YOLOX-Nano image).
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export BUILD SHARED OMP_WAIT_POLICY
cd "$(dirname "$0")/.." || exit 1
rc=0
for b in "$BUILD"/bench/bench_*; do
	case "$b" in *.o|*.d) continue ;; esac
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	"$b" || rc=1
done
echo "== onnxruntime"
SHARED="$SHARED" sh bench/run-ort.sh || rc=1
exit $rc
