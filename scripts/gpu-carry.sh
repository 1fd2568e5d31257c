#!/bin/sh
# Packs what `make test-gpu` and the GPU benchmarks need on a GPU machine that has the
# NVIDIA driver, CUDA 13 and pip's cuDNN/cuBLAS but no compiler toolchain for us, no
# FFmpeg, no Debian packages and no network: run by `make gpu-carry` (which passes CC,
# LDFLAGS and LDLIBS), it writes .gpu-carry/vapd-gpu.tar.xz (< 64 MiB) holding
#   build/      the programs, relinked with DT_RPATH $ORIGIN/lib:$ORIGIN/../lib, so they
#               find build/lib without LD_LIBRARY_PATH (which would leak into python3)
#   build/lib/  the shared libraries they load that a bare glibc system lacks, with link
#               placeholders for what FFmpeg pulls in but never calls (scripts/gpu_carry_stubs.py)
#   shared/     $SHARED's clips, reference detections, models and tools
#   clips/      the clips tests/gpu_nvdec.c generates with ffmpeg where ffmpeg exists, and
#               the models tests/gpu_ops_more.c writes with python3 + onnx
#   onnx-node/  libonnx-testdata's node cases, for the conformance run on the cuda backend
# scripts/gpu-run.sh unpacks and runs it there (docs/gpu.md gives the device command).
set -eu
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
CC=${CC:-cc}
OUT=${GPU_CARRY_OUT:-.gpu-carry}
ONNX_NODE=/usr/share/libonnx-testdata/data/node
MAX_BYTES=$((60 * 1024 * 1024))
cd "$(dirname "$0")/.."
[ -n "${LDLIBS:-}" ] || { echo "gpu-carry: run through 'make gpu-carry' (LDLIBS unset)" >&2; exit 2; }
for d in "$SHARED/data/videos" "$SHARED/models" "$ONNX_NODE"; do
	[ -d "$d" ] || { echo "gpu-carry: $d missing" >&2; exit 2; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/vapd-gpu
mkdir -p "$root/build/tests" "$root/build/bench" "$root/build/lib" "$root/shared/data" \
         "$root/clips" "$root/onnx-node"

# $1 object, $2 program, $3 extra libraries
relink() {
	$CC ${LDFLAGS:-} -Wl,--disable-new-dtags,-rpath,'$ORIGIN/lib:$ORIGIN/../lib' -o "$root/$2" \
		"$1" "$BUILD/libvapd.a" $LDLIBS $3
	strip --strip-debug "$root/$2"
}
relink "$BUILD/pipeline/main.o" build/vapd ""
relink "$BUILD/infer/run_model.o" build/vapd-run-model ""
progs="$root/build/vapd $root/build/vapd-run-model"
for o in "$BUILD"/tests/gpu_*.o "$BUILD/tests/tool_onnx_conformance.o"; do
	t=$(basename "$o" .o)
	relink "$o" "build/tests/$t" -lcmocka
	progs="$progs $root/build/tests/$t"
done
for o in "$BUILD"/bench/bench_*.o; do
	b=$(basename "$o" .o)
	relink "$o" "build/bench/$b" ""
	progs="$progs $root/build/bench/$b"
done
# shellcheck disable=SC2086
/usr/bin/python3 scripts/gpu_carry_stubs.py "$root/build/lib" $progs

# The GPU machine's C library must be at least as new as the newest one any of this asks.
glibc=$(for f in $progs "$root"/build/lib/*; do objdump -T "$f"; done 2>/dev/null |
	grep -o 'GLIBC_2\.[0-9]*' | sort -t. -k2 -n -u | tail -1)
echo "gpu-carry: needs ${glibc:-GLIBC_2.?} or newer on the GPU machine (Ubuntu 22.04 has 2.35)"

cp -r "$SHARED/data/videos" "$SHARED/data/reference" "$root/shared/data/"
cp -r "$SHARED/models" "$SHARED/tools" "$root/shared/"
"$root/build/tests/gpu_nvdec" --make-clips "$root/clips"
"$root/build/tests/gpu_ops_more" --make-models "$root/clips"
cp -r "$ONNX_NODE/." "$root/onnx-node/"

mkdir -p "$OUT"
rm -f "$OUT/vapd-gpu.tar.xz"
tar -C "$stage" -cf - vapd-gpu | xz -T2 -6 >"$OUT/vapd-gpu.tar.xz"
size=$(stat -c %s "$OUT/vapd-gpu.tar.xz")
echo "gpu-carry: $OUT/vapd-gpu.tar.xz, $((size / 1048576)) MiB ($(du -sh "$root" | cut -f1) unpacked)"
if [ "$size" -gt "$MAX_BYTES" ]; then
	echo "gpu-carry: larger than $((MAX_BYTES / 1048576)) MiB: the device run takes 64 MiB with the tree" >&2
	exit 1
fi
