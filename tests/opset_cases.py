"""Writes old-opset ONNX graphs and their new-opset twins for t_opset_upgrade.sh.

Usage: opset_cases.py DIR. For each case NAME: DIR/NAME.old.onnx, DIR/NAME.new.onnx and
DIR/NAME.input.pb (the same input for both); refusal cases: DIR/refuse-NAME.onnx.
Only python3-onnx and numpy are needed (Debian's onnx 1.12)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out_dir = sys.argv[1]
F = TensorProto.FLOAT
X = helper.make_tensor_value_info("x", F, [1, 3, 4, 4])


def model(nodes, opset, outputs, inits=(), inputs=(X,)):
    g = helper.make_graph(nodes, "g", list(inputs), outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7 if opset < 14 else 8
    return m


def out(name="y"):
    return helper.make_tensor_value_info(name, F, None)


def i64(name, vals):
    return numpy_helper.from_array(np.array(vals, dtype=np.int64), name)


def f32(name, vals):
    return numpy_helper.from_array(np.array(vals, dtype=np.float32), name)


def case(name, old, new):
    onnx.save(old, os.path.join(out_dir, name + ".old.onnx"))
    onnx.save(new, os.path.join(out_dir, name + ".new.onnx"))
    x = np.random.default_rng(len(name)).standard_normal((1, 3, 4, 4)).astype(np.float32)
    with open(os.path.join(out_dir, name + ".input.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())


def resize13(mode, scales):
    return model([helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode=mode,
                                   coordinate_transformation_mode="asymmetric",
                                   nearest_mode="floor")], 13, [out()],
                 [f32("roi", []), f32("scales", scales)])


S = [1.0, 1.0, 2.0, 2.0]
case("upsample7", model([helper.make_node("Upsample", ["x"], ["y"], mode="nearest", scales=S)], 7,
                        [out()]), resize13("nearest", S))
case("upsample9", model([helper.make_node("Upsample", ["x", "s"], ["y"], mode="linear")], 9, [out()],
                        [f32("s", S)]), resize13("linear", S))
case("resize10", model([helper.make_node("Resize", ["x", "s"], ["y"], mode="nearest")], 10, [out()],
                       [f32("s", [1, 1, 2, 3])]), resize13("nearest", [1, 1, 2, 3]))
case("slice7", model([helper.make_node("Slice", ["x"], ["y"], starts=[1, 0], ends=[3, -1], axes=[1, 3])],
                     7, [out()]),
     model([helper.make_node("Slice", ["x", "st", "en", "ax"], ["y"])], 13, [out()],
           [i64("st", [1, 0]), i64("en", [3, -1]), i64("ax", [1, 3])]))
P = [0, 0, 1, 2, 0, 0, 2, 1]
case("pad7", model([helper.make_node("Pad", ["x"], ["y"], pads=P, value=0.5)], 7, [out()]),
     model([helper.make_node("Pad", ["x", "p", "v"], ["y"])], 13, [out()], [i64("p", P), f32("v", 0.5)]))
case("split7", model([helper.make_node("Split", ["x"], ["y", "z"], axis=1, split=[1, 2])], 7,
                     [out("y"), out("z")]),
     model([helper.make_node("Split", ["x", "sp"], ["y", "z"], axis=1)], 13, [out("y"), out("z")],
           [i64("sp", [1, 2])]))
case("squeeze11", model([helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0]),
                         helper.make_node("Squeeze", ["u"], ["y"], axes=[0])], 11, [out()]),
     model([helper.make_node("Unsqueeze", ["x", "a"], ["u"]),
            helper.make_node("Squeeze", ["u", "a"], ["y"])], 13, [out()], [i64("a", [0])]))
case("reducemean11", model([helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3])], 11, [out()]),
     model([helper.make_node("ReduceMean", ["x", "a"], ["y"])], 18, [out()], [i64("a", [2, 3])]))
case("reducesum11", model([helper.make_node("ReduceSum", ["x"], ["y"], axes=[1], keepdims=0)], 11,
                          [out()]),
     model([helper.make_node("ReduceSum", ["x", "a"], ["y"], keepdims=0)], 13, [out()], [i64("a", [1])]))
case("clip7", model([helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.25)], 7, [out()]),
     model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], 13, [out()],
           [f32("lo", -0.5), f32("hi", 0.25)]))
bn = [f32("sc", [1, 2, 3]), f32("b", [0, 1, -1]), f32("m", [0.1, 0, -0.2]), f32("v", [1, 4, 0.5])]
case("batchnorm7", model([helper.make_node("BatchNormalization", ["x", "sc", "b", "m", "v"], ["y"],
                                           spatial=1, epsilon=1e-3)], 7, [out()], bn),
     model([helper.make_node("BatchNormalization", ["x", "sc", "b", "m", "v"], ["y"], epsilon=1e-3)],
           15, [out()], bn))
case("dropout7", model([helper.make_node("Dropout", ["x"], ["d"], ratio=0.3),
                        helper.make_node("Relu", ["d"], ["y"])], 7, [out()]),
     model([helper.make_node("Relu", ["x"], ["y"])], 13, [out()]))

onnx.save(model([helper.make_node("Relu", ["x"], ["y"])], 22, [out()]),
          os.path.join(out_dir, "refuse-opset22.onnx"))
nz = model([helper.make_node("NonZero", ["x"], ["y"], name="find_nonzero")], 13,
           [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
onnx.save(nz, os.path.join(out_dir, "refuse-nonzero.onnx"))
k = helper.make_tensor_value_info("k", TensorProto.INT64, [1])
tk = model([helper.make_node("TopK", ["x", "k"], ["y", "i"], name="runtime_topk")], 13,
           [out(), helper.make_tensor_value_info("i", TensorProto.INT64, None)], inputs=(X, k))
onnx.save(tk, os.path.join(out_dir, "refuse-topk.onnx"))

# Malformed old forms: each must be refused (or run) cleanly, never crash.
hostile = {
    "upsample-no-input": [helper.make_node("Upsample", [], ["y"], mode="nearest", scales=S)],
    "upsample-int-scales": [helper.make_node("Upsample", ["x"], ["y"], scales=[1, 1, 2, 2])],
    "dropout-no-output": [helper.make_node("Dropout", ["x"], [], ratio=0.5),
                          helper.make_node("Relu", ["x"], ["y"])],
    "slice-long-attrs": [helper.make_node("Slice", ["x"], ["y"], starts=list(range(40)),
                                          ends=list(range(40)), axes=list(range(40)))],
    "clip-int-attrs": [helper.make_node("Clip", ["x"], ["y"], min=1, max=-1)],
    "pad-odd-pads": [helper.make_node("Pad", ["x"], ["y"], pads=[1, 2, 3], value=2.0)],
    "squeeze-bad-axes": [helper.make_node("Squeeze", ["x"], ["y"], axes=[7, -9])],
    "reduce-empty-axes": [helper.make_node("ReduceMean", ["x"], ["y"], axes=[])],
    "batchnorm-spatial0": [helper.make_node("BatchNormalization", ["x", "sc", "b", "m", "v"], ["y"],
                                            spatial=0)],
}
for name, nodes in hostile.items():
    onnx.save(model(nodes, 7, [out()], bn if "batchnorm" in name else ()),
              os.path.join(out_dir, "hostile-" + name + ".onnx"))
