#!/bin/sh
# vapd-run-model: the reference input through a shared model (output compared with
# onnxruntime's), batch replication, and one-line errors with exit code 2 for bad models.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
RUN="$BUILD/vapd-run-model"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }

# rel_l2 GOT.pb REF.pb ITEMS: relative L2 error of every item of GOT against REF (max).
rel_l2() {
	$PY - "$1" "$2" <<'PYEOF'
import sys, numpy as np, onnx
from onnx import numpy_helper as nh
def load(p):
    t = onnx.TensorProto(); t.ParseFromString(open(p, 'rb').read()); return nh.to_array(t)
got, ref = load(sys.argv[1]), load(sys.argv[2])
assert got.shape[1:] == ref.shape[1:], (got.shape, ref.shape)
print(max(np.linalg.norm(g - ref[0]) / np.linalg.norm(ref[0]) for g in got))
PYEOF
}

io="$SHARED/data/reference/yolox_nano.io"
"$RUN" "$SHARED/models/yolox_nano.onnx" --input "$io/input_0.pb" --output-dir "$tmp/o1" >"$tmp/log" 2>&1
rc=$?
sed 's/^/# /' "$tmp/log"
check "yolox_nano reference input runs (exit 0) and reports timing" "[ $rc -eq 0 ] && grep -q 'ms/image' '$tmp/log'"
err=$(rel_l2 "$tmp/o1/output.pb" "$io/output_0.pb" 2>&1)
echo "# relative L2 error batch 1: $err"
check "yolox_nano output matches onnxruntime (rel L2 <= 1e-4)" "$PY -c 'import sys; sys.exit(0 if float(\"$err\") <= 1e-4 else 1)' 2>/dev/null"

"$RUN" "$SHARED/models/yolox_nano.onnx" --batch 2 --threads 2 --input images="$io/input_0.pb" \
	--output-dir "$tmp/o2" >"$tmp/log" 2>&1
rc=$?
sed 's/^/# /' "$tmp/log"
err=$(rel_l2 "$tmp/o2/output.pb" "$io/output_0.pb" 2>&1)
echo "# relative L2 error batch 2 (worst item): $err"
check "--batch 2 replicates the input; both items match" \
	"[ $rc -eq 0 ] && grep -q '2x3549x85' '$tmp/log' && $PY -c 'import sys; sys.exit(0 if float(\"$err\") <= 1e-4 else 1)' 2>/dev/null"

"$RUN" "$SHARED/models/yolox_nano.onnx" --profile --runs 2 --threads 1 --input "$io/input_0.pb" \
	--output-dir "$tmp/o3" >"$tmp/log" 2>/dev/null
rc=$?
sed 's/^/# /' "$tmp/log"
check "--profile lists time per operator, Conv among them" "[ $rc -eq 0 ] && grep -Eq '^Conv +[0-9]+ +[0-9.]+$' '$tmp/log'"

# expect_model_error NAME FILE PATTERN: exit 2 and exactly one stderr line matching PATTERN.
expect_model_error() {
	"$RUN" "$2" --input "$io/input_0.pb" --output-dir "$tmp/bad" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	sed 's/^/# /' "$tmp/err"
	lines=$(wc -l <"$tmp/err")
	check "$1: exit 2 with one error line" "[ $rc -eq 2 ] && [ $lines -eq 1 ] && grep -q '$3' '$tmp/err'"
}

$PY - "$tmp/unknown.onnx" <<'PYEOF'
import sys, onnx
from onnx import helper as h, TensorProto as T
x = h.make_tensor_value_info('images', T.FLOAT, [1, 3, 416, 416])
y = h.make_tensor_value_info('y', T.FLOAT, [1, 3, 416, 416])
n = [h.make_node('Relu', ['images'], ['a'], name='r'), h.make_node('Frobnicate', ['a'], ['y'], name='frob')]
onnx.save(h.make_model(h.make_graph(n, 'g', [x], [y]), opset_imports=[h.make_opsetid('', 13)]), sys.argv[1])
PYEOF
expect_model_error "unknown operator" "$tmp/unknown.onnx" "frob.*Frobnicate.*unknown operator"
head -c 200000 "$SHARED/models/yolox_nano.onnx" >"$tmp/truncated.onnx"
expect_model_error "truncated model" "$tmp/truncated.onnx" "not a valid ONNX model"
head -c 100000 /dev/urandom >"$tmp/random.onnx"
expect_model_error "random bytes" "$tmp/random.onnx" "not a valid ONNX model"

# A pooling window of 2^40 with SAME padding once passed shape inference and ran for ever.
$PY - "$tmp/hugepool.onnx" <<'PYEOF'
import sys, onnx
from onnx import helper as h, TensorProto as T
x = h.make_tensor_value_info('images', T.FLOAT, [1, 3, 416, 416])
y = h.make_tensor_value_info('y', T.FLOAT, [1, 3, 416, 416])
n = [h.make_node('AveragePool', ['images'], ['y'], name='pool', kernel_shape=[1 << 40, 1 << 40], auto_pad='SAME_UPPER')]
onnx.save(h.make_model(h.make_graph(n, 'g', [x], [y]), opset_imports=[h.make_opsetid('', 13)]), sys.argv[1])
PYEOF
expect_model_error "absurd pooling window" "$tmp/hugepool.onnx" "pool.*AveragePool.*invalid kernel"

# An int64 input given the float reference tensor: named with both types, not their codes.
$PY - "$tmp/int64.onnx" <<'PYEOF'
import sys, onnx
from onnx import helper as h, TensorProto as T
x = h.make_tensor_value_info('images', T.INT64, [1, 3, 416, 416])
y = h.make_tensor_value_info('y', T.INT64, [1, 3, 416, 416])
n = [h.make_node('Identity', ['images'], ['y'], name='id')]
onnx.save(h.make_model(h.make_graph(n, 'g', [x], [y]), opset_imports=[h.make_opsetid('', 13)]), sys.argv[1])
PYEOF
expect_model_error "int64 input given a float tensor" "$tmp/int64.onnx" "input .images. is INT64, given FLOAT"

"$RUN" --bogus >/dev/null 2>&1
rc=$?
check "usage error exits 1" "[ $rc -eq 1 ]"
[ $fails -eq 0 ]
