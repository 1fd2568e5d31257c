#!/bin/sh
# make bench: every benchmark program build/bench/bench_*, then onnxruntime's rows for comparison.
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
export BUILD SHARED
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
