#!/bin/sh
# The fuzz smoke: the libFuzzer harnesses (fuzz/, built with clang + ASan + UBSan in
# $BUILD-fuzz) replay their regression cases under tests/fuzz-cases/ and then run
# FUZZ_SMOKE_SECONDS each (10: the four stay under a minute) on seeds made from $SHARED.
# A crash is "not ok" with the reproducer's path. `make fuzz` is the long run.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
FUZZ_BUILD=$BUILD-fuzz
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! make -s -j"$(nproc)" fuzz-build FUZZ_BUILD="$FUZZ_BUILD" >"$log" 2>&1; then
	echo "not ok 1 - fuzz harness build: $(grep -m3 -E 'error|Error' "$log")"
	exit 1
fi
FUZZ_BUILD=$FUZZ_BUILD SHARED=$SHARED exec scripts/fuzz.sh "${FUZZ_SMOKE_SECONDS:-10}" config onnx decode http
