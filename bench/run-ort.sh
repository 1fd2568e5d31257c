#!/bin/sh
# Installs onnxruntime-node (npm, --ignore-scripts: the CPU library ships in the package)
# into bench/.ort once, then prints onnxruntime's rows for the shared models.
# Skips with a message when node/npm or the package is unavailable.
cd "$(dirname "$0")" || exit 1
SHARED=${SHARED:-../../shared}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "# onnxruntime: skipped (node/npm not installed)"
	exit 0
fi
if [ ! -d .ort/node_modules/onnxruntime-node ]; then
	mkdir -p .ort
	if ! (cd .ort && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >/dev/null 2>&1); then
		echo "# onnxruntime: skipped (npm install onnxruntime-node failed)"
		exit 0
	fi
fi
node ort_bench.js "$@" "$SHARED"/models/*.onnx
