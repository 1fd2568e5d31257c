#!/bin/sh
# ONNX node conformance: every libonnx-testdata case whose operators the engine claims
# must pass (rtol 1e-3, atol 1e-5). Prints the runner's failures and summary as comments.
BUILD=${BUILD:-build}
DATA=/usr/share/libonnx-testdata/data/node
tool="$BUILD/tests/tool_onnx_conformance"
if [ ! -d "$DATA" ]; then
	echo "not ok 1 - conformance: $DATA missing (install libonnx-testdata)"
	exit 1
fi
out=$(mktemp)
"$tool" >"$out" 2>&1
rc=$?
sed 's/^/# /' "$out"
summary=$(grep '^conformance:' "$out")
passed=$(echo "$summary" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')
rm -f "$out"
if [ $rc -eq 0 ] && [ -n "$summary" ] && [ "${passed:-0}" -gt 0 ]; then
	echo "ok 1 - $summary"
else
	echo "not ok 1 - ${summary:-conformance runner failed (exit $rc)}"
	exit 1
fi
