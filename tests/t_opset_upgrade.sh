#!/bin/sh
# Opsets 7 to 21: graphs in the older forms (Upsample, Resize-10, Slice/Pad/Split/Squeeze/
# Unsqueeze/Reduce*/Clip with attributes, BatchNormalization's old attributes, Dropout),
# built with python3-onnx, give the same outputs through vapd-run-model as their new-opset
# twins (within 1e-5); an opset above 21 and data-dependent output shapes (NonZero, a TopK
# with a runtime k) are refused at load with one line naming the opset or the node.
BUILD=${BUILD:-build}
PYTHON=${ONNX_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.." || exit 1
run=$BUILD/vapd-run-model
if ! "$PYTHON" -c 'import onnx, numpy' 2>/dev/null; then
	echo "1..0 # SKIP python3-onnx or numpy missing"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" tests/opset_cases.py "$tmp" || { echo "not ok 1 - opset_cases.py failed"; exit 1; }
n=0; fails=0
result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=1; fi
}
for old in "$tmp"/*.old.onnx; do
	c=$(basename "$old" .old.onnx)
	rc=0
	for v in old new; do
		"$run" "$tmp/$c.$v.onnx" --input "x=$tmp/$c.input.pb" --output-dir "$tmp/$c.$v" \
			>"$tmp/$c.$v.log" 2>&1 || { rc=1; sed 's/^/# /' "$tmp/$c.$v.log" | tail -3; }
	done
	if [ $rc -eq 0 ]; then
		"$PYTHON" - "$tmp/$c.old" "$tmp/$c.new" <<'PY' || rc=1
import os, sys
import numpy as np
from onnx import TensorProto, numpy_helper
a, b = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(b))
assert names and sorted(os.listdir(a)) == names, (os.listdir(a), names)
for f in names:
    t = [TensorProto(), TensorProto()]
    for k, d in enumerate((a, b)):
        t[k].ParseFromString(open(os.path.join(d, f), "rb").read())
    x, y = numpy_helper.to_array(t[0]), numpy_helper.to_array(t[1])
    assert x.shape == y.shape, (f, x.shape, y.shape)
    assert np.allclose(x, y, atol=1e-5), (f, np.abs(x - y).max())
PY
	fi
	result $rc "$c: the old-opset graph gives its new-opset twin's outputs"
done

# $1 model, $2 text the one error line must hold
refused() {
	"$run" "$tmp/$1.onnx" --input "x=$tmp/upsample7.input.pb" --output-dir "$tmp/$1.out" \
		>"$tmp/$1.log" 2>&1
	rc=$?
	lines=$(grep -c 'error' "$tmp/$1.log")
	[ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep 'error' "$tmp/$1.log" | grep -q "$2"
	result $? "$1 refused at load in one line naming $2: $(grep error "$tmp/$1.log" | head -1)"
}
refused refuse-opset22 "opset 22 is newer than the supported 21"
refused refuse-nonzero "node 'find_nonzero' (NonZero)"
refused refuse-topk "runtime_topk"
# Malformed old forms: a clean refusal or a run, never a crash (a signal: rc > 128).
for h in "$tmp"/hostile-*.onnx; do
	c=$(basename "$h" .onnx)
	"$run" "$h" --input "x=$tmp/upsample7.input.pb" --output-dir "$tmp/$c.out" >"$tmp/$c.log" 2>&1
	rc=$?
	[ $rc -lt 128 ] && ! grep -q 'Sanitizer' "$tmp/$c.log"
	result $? "$c: no crash (exit $rc: $(grep -m1 error "$tmp/$c.log" | cut -c1-160))"
done
echo "1..$n"
exit $fails
