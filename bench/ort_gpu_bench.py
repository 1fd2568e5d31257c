#!/usr/bin/env python3
"""onnxruntime on the GPU, with the rows of bench_gpu_engine: ms/batch and images/s at
batch 1, 8, 32 and 64, FP16 and FP32, input and output bound on the device (I/O binding).
Uses the fastest execution provider that opens: TensorRT (FP16 through trt_fp16_enable),
then CUDA (FP16 through a float16 copy of the model when onnxconverter_common is there).
Models exported with a fixed batch get a symbolic batch dim; when they still cannot run
batched, batch N runs as N batch-1 calls (noted). Skips cleanly without onnxruntime or GPU.
Usage: python3 bench/ort_gpu_bench.py SHARED_DIR"""
import glob
import os
import sys
import tempfile
import time

BATCHES = (1, 8, 32, 64)
MIN_SECONDS = 1.0


def skip(why):
    print(f"# onnxruntime GPU: skipped ({why})")
    sys.exit(0)


try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:
    skip(f"{e.name} not installed")


def dynamic_batch(path, tmp):
    m = onnx.load(path)
    for v in list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "N"
    del m.graph.value_info[:]
    out = os.path.join(tmp, "dyn_" + os.path.basename(path))
    onnx.save(m, out)
    return out


def fp16_copy(path, tmp):
    try:
        from onnxconverter_common import float16
    except ImportError:
        return None
    m = float16.convert_float_to_float16(onnx.load(path), keep_io_types=True)
    out = os.path.join(tmp, "fp16_" + os.path.basename(path))
    onnx.save(m, out)
    return out


def open_session(path, ep, fp16):
    if ep == "TensorrtExecutionProvider":
        opts = {"trt_fp16_enable": bool(fp16), "trt_engine_cache_enable": True,
                "trt_engine_cache_path": tempfile.gettempdir()}
        providers = [(ep, opts), "CUDAExecutionProvider"]
    else:
        providers = [ep]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(path, so, providers=providers)
    if s.get_providers()[0] != ep:
        raise RuntimeError(f"{ep} did not load")
    return s


def time_batch(s, shape, batch):
    """ms per batch of `batch` items; falls back to batch-1 calls when the model is fixed."""
    inp = s.get_inputs()[0]
    out_names = [o.name for o in s.get_outputs()]
    calls, run_b, note = 1, batch, ""
    x = np.random.default_rng(0).random((batch,) + tuple(shape[1:]), dtype=np.float32)
    try:
        xb = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
        io = s.io_binding()
        io.bind_ortvalue_input(inp.name, xb)
        for o in out_names:
            io.bind_output(o, "cuda")
        s.run_with_iobinding(io)
    except Exception:
        calls, run_b, note = batch, 1, f" ({batch} x batch 1)"
        xb = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x[:1]), "cuda", 0)
        io = s.io_binding()
        io.bind_ortvalue_input(inp.name, xb)
        for o in out_names:
            io.bind_output(o, "cuda")
        s.run_with_iobinding(io)
    for _ in range(3):
        s.run_with_iobinding(io)
    runs, t0 = 0, time.perf_counter()
    while True:
        for _ in range(calls):
            s.run_with_iobinding(io)
        runs += 1
        dt = time.perf_counter() - t0
        if dt >= MIN_SECONDS and runs >= 10:
            break
    return dt * 1e3 / runs, note


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
    avail = ort.get_available_providers()
    eps = [e for e in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if e in avail]
    if not eps:
        skip(f"no GPU execution provider in onnxruntime {ort.__version__} (have {', '.join(avail)})")
    models = sorted(glob.glob(os.path.join(shared, "models", "*.onnx")))
    print(f"# onnxruntime {ort.__version__}, providers tried in order: {', '.join(eps)}")
    print("| engine | model | precision | batch | ms/batch | images/s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in models:
            name = os.path.basename(path)
            dyn = dynamic_batch(path, tmp)
            for fp16 in (True, False):
                s, used = None, None
                for ep in eps:
                    src = dyn
                    if fp16 and ep == "CUDAExecutionProvider":
                        src = fp16_copy(dyn, tmp)
                        if src is None:
                            continue
                    try:
                        s, used = open_session(src, ep, fp16), ep
                        break
                    except Exception as e:  # noqa: BLE001 - try the next provider
                        print(f"# {name}: {ep} unavailable: {str(e).splitlines()[0][:120]}")
                if s is None:
                    print(f"| ort | {name} | {'fp16' if fp16 else 'fp32'} | - | skipped: no provider runs this precision |")
                    continue
                shape = [d if isinstance(d, int) and d > 0 else 1 for d in s.get_inputs()[0].shape]
                for b in BATCHES:
                    try:
                        ms, note = time_batch(s, shape, b)
                        print(f"| ort {used.replace('ExecutionProvider', '')} | {name} | {'fp16' if fp16 else 'fp32'} "
                              f"| {b}{note} | {ms:.3f} | {1e3 * b / ms:.1f} |", flush=True)
                    except Exception as e:  # noqa: BLE001
                        print(f"| ort | {name} | {'fp16' if fp16 else 'fp32'} | {b} | failed: {str(e)[:80]} |")


if __name__ == "__main__":
    main()
