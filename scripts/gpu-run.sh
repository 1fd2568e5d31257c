#!/bin/sh
# On a GPU machine without our build dependencies: unpacks .gpu-carry/vapd-gpu.tar.xz
# (made here by `make gpu-carry`) and runs what `make test-gpu` and `make bench` run,
# with no make, compiler or package needed there.
#   scripts/gpu-run.sh [test] [bench | bench-all]    (default: test bench)
#     test       tests/run.sh --gpu: every build/tests/gpu_* program
#     bench      bench/run.sh --gpu-only: the GPU tables and onnxruntime on the GPU
#     bench-all  bench/run.sh: every table, the CPU ones too
# When $OUT is set (the device tool's output folder) the whole log is also $OUT/gpu-run.log.
# Exit status: 0 when every step passed.
set -u
cd "$(dirname "$0")/.." || exit 2
bundle=.gpu-carry/vapd-gpu.tar.xz
dest=${VAPD_GPU_DIR:-/tmp/vapd-gpu-run}
steps=${*:-test bench}

main() {
	[ -f "$bundle" ] || { echo "gpu-run: $bundle missing: run 'make gpu-carry' where vapd builds" >&2; return 2; }
	rm -rf "$dest" && mkdir -p "$dest" || return 2
	# tar -J needs the xz program, which slim images lack; Python's tarfile reads xz itself.
	if ! tar -C "$dest" -xJf "$bundle" 2>/dev/null; then
		python3 -c 'import sys, tarfile
kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
tarfile.open(sys.argv[1]).extractall(sys.argv[2], **kw)' \
			"$bundle" "$dest" || { echo "gpu-run: cannot unpack $bundle" >&2; return 2; }
	fi
	root=$dest/vapd-gpu
	BUILD=$root/build SHARED=$root/shared VAPD_GPU_CLIPS=$root/clips VAPD_ONNX_NODE_DATA=$root/onnx-node
	# This is the GPU machine: a test that sees no GPU fails instead of skipping.
	VAPD_REQUIRE_GPU=${VAPD_REQUIRE_GPU-1}
	export BUILD SHARED VAPD_GPU_CLIPS VAPD_ONNX_NODE_DATA VAPD_REQUIRE_GPU
	# Driver libraries outside the loader cache (containers mount them under /usr/local/nvidia).
	for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
		[ -d "$d" ] && LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
	done
	export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
	report
	rc=0
	for s in $steps; do
		case "$s" in
		test) echo "## make test-gpu"; sh tests/run.sh --gpu || rc=1 ;;
		bench) echo "## make bench (GPU tables)"; sh bench/run.sh --gpu-only || rc=1 ;;
		bench-all) echo "## make bench"; sh bench/run.sh || rc=1 ;;
		*) echo "gpu-run: unknown step $s (test, bench, bench-all)" >&2; rc=2 ;;
		esac
	done
	echo "gpu-run: done, exit $rc"
	return $rc
}

# What the run depends on, so a failure can be told from a missing piece.
report() {
	echo "## GPU machine"
	if command -v nvidia-smi >/dev/null 2>&1; then
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -4
	else
		echo "nvidia-smi: not installed"
	fi
	for l in libcuda.so.1 libnvcuvid.so.1; do
		p=$(ldconfig -p 2>/dev/null | grep -m1 "$l" | sed 's/.*=> //')
		[ -z "$p" ] && for d in $(echo "$LD_LIBRARY_PATH" | tr ':' ' '); do [ -e "$d/$l" ] && p=$d/$l; done
		echo "$l: ${p:-not found}"
	done
	python3 -c 'import glob, site, sys
dirs = site.getsitepackages() + [site.getusersitepackages()]
for lib in ("nvidia/cudnn/lib/libcudnn.so.9", "nvidia/cu13/lib/libcublas.so.13"):
    hits = [h for d in dirs for h in glob.glob(d + "/" + lib)]
    print(lib.split("/")[-1] + ":", hits[0] if hits else "not in " + sys.executable + "'"'"'s site-packages")' 2>&1
	echo "bundle: $root ($(du -sh "$root" | cut -f1))"
	echo
}

if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
	status=$(mktemp)
	{ main; echo $? >"$status"; } 2>&1 | tee "$OUT/gpu-run.log"
	rc=$(cat "$status")
	rm -f "$status"
	exit "$rc"
fi
main
