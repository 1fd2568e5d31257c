/* The inference engine: an ONNX model imported once into a graph (constant folding,
 * BatchNormalization folded into Conv, activation fusion, batch dimension rewritten),
 * planned into one arena, and executed by a backend (cpu, cuda). */
#ifndef INF_ENGINE_H
#define INF_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define INF_MAX_DIMS 8

/* ONNX TensorProto.DataType codes. */
enum inf_dtype {
	INF_DT_FLOAT = 1, INF_DT_UINT8 = 2, INF_DT_INT8 = 3, INF_DT_INT32 = 6, INF_DT_INT64 = 7,
	INF_DT_BOOL = 9, INF_DT_FLOAT16 = 10, INF_DT_DOUBLE = 11,
};

/* ONNX dtype name for messages ("FLOAT", "INT64", ...). */
const char *inf_dtype_name(int dtype);

typedef struct inf_tensor_info {
	const char *name;
	int dtype;               /* enum inf_dtype */
	int ndim;
	int64_t dims[INF_MAX_DIMS];
} inf_tensor_info;

typedef struct inf_engine_opts {
	const char *backend;     /* "cpu" or "cuda"; NULL = "cpu" */
	int max_batch;           /* >= 1; the graph is planned for this batch */
	int input_w, input_h;    /* 0: the model's own spatial size */
	int threads;             /* cpu: worker threads, 0 = all cores */
	int fp16;                /* cuda: FP16 tensor-core path */
	int gpu;                 /* cuda: device index (made current at prepare and every run) */
	/* Exact shapes for the inputs (matched by name; a NULL name matches by position), overriding max_batch and
	 * input_w/h: the model runs as it is, without batch rewriting. NULL: unused. */
	const inf_tensor_info *input_shapes;
	int n_input_shapes;
	/* With input_shapes: non-NULL entries (parallel to input_shapes) make that input a
	 * constant with this data, for inputs that decide shapes (a Reshape target, axes). */
	const void *const *input_consts;
	int profile;             /* time every node (see inf_engine_op_times) */
	int gpu_nchw;            /* cuda: 1 keeps every activation NCHW (default: NHWC between layout-aware ops in FP16) */
} inf_engine_opts;

typedef struct inf_engine inf_engine;

/* Loads and plans the model. On failure logs one message (every offending node for
 * unsupported models) and returns VP_EMODEL, VP_EUNSUP, VP_ENODEV or -errno. */
int inf_engine_open(const char *path, const inf_engine_opts *opts, inf_engine **ret);
void inf_engine_free(inf_engine **e);

int inf_engine_n_inputs(const inf_engine *e);
int inf_engine_n_outputs(const inf_engine *e);
/* Shapes at max_batch. */
int inf_engine_input_info(const inf_engine *e, int i, inf_tensor_info *ret);
int inf_engine_output_info(const inf_engine *e, int i, inf_tensor_info *ret);
/* Engine-owned host buffer for input i (room for max_batch); fill it, then run. */
void *inf_engine_input(inf_engine *e, int i);
/* Runs the first `batch` items (1..max_batch) of the inputs. A partial batch of a model
 * whose batch was rewritten runs item by item through a batch-1 plan, so its cost
 * follows its size; a model with a fixed batch always runs all its items. */
int inf_engine_run(inf_engine *e, int batch);
/* Host pointer to output i of the last run; its leading dim is the batch that ran. */
const void *inf_engine_output(inf_engine *e, int i);
/* Peak bytes of the activation arena plus weights. */
size_t inf_engine_peak_bytes(const inf_engine *e);

typedef struct inf_engine_stats {
	int nodes;                 /* executed nodes after folding and fusion */
	int fused_acts;            /* activations fused into their producer */
	size_t arena_bytes;        /* activation arena (buffers reused after their last read) */
	size_t activation_bytes;   /* what the activations would take without reuse */
	size_t workspace_bytes;    /* shared scratch: the largest any node needs */
	size_t weight_bytes;       /* constants: weights and folded tensors */
	int nhwc_tensors;          /* cuda: activations stored NHWC (0: all NCHW) */
	uint64_t graph_capture_failures;   /* cuda: failed CUDA graph captures so far (each size retries
	                                    * up to 3 times, then runs node by node); safe to read
	                                    * while another thread runs the engine */
} inf_engine_stats;

void inf_engine_stats_get(const inf_engine *e, inf_engine_stats *ret);

/* With opts.profile: time spent per operator type over all runs so far, slowest first.
 * Returns the number of entries written (at most cap). */
typedef struct inf_op_time {
	const char *op_type;
	int nodes;
	double ms;
} inf_op_time;

int inf_engine_op_times(const inf_engine *e, inf_op_time *ret, int cap);
const char *inf_engine_backend_name(const inf_engine *e);

/* Device-side access for the zero-copy GPU path (backend "cuda"; NULL / plain runs on cpu).
 * inf_engine_device_input: device buffer of input i (the model's dtype, float NCHW, room for
 * max_batch) that a GPU producer (preprocessing) may fill on inf_engine_stream's stream, or
 * on another stream after an event the engine stream waits for. inf_engine_device_output:
 * device buffer of output i after a run (float). inf_engine_stream: the cudaStream_t the
 * engine enqueues on. */
void *inf_engine_device_input(inf_engine *e, int i);
const void *inf_engine_device_output(inf_engine *e, int i);
void *inf_engine_stream(inf_engine *e);

/* How the engine stores input i on the device: IEEE half (fp16 engines) and/or NHWC
 * (what the cuda layout pass chose), with room for max_batch items. */
typedef struct inf_input_form {
	int fp16;
	int nhwc;
} inf_input_form;
/* The device buffer of input i in the form the engine stores it (*form says which), for a
 * producer that writes it directly (the CUDA preprocessing in FP16 NHWC): run with
 * INF_RUN_DEVICE_INPUT_STORED, and the engine skips its float -> half conversion and
 * transpose. The same buffer as inf_engine_device_input (form all 0) when the engine
 * stores the input as given; NULL on cpu. */
void *inf_engine_device_input_stored(inf_engine *e, int i, inf_input_form *form);

enum inf_run_flags {
	INF_RUN_DEVICE_INPUT = 1,    /* inputs are already in the device buffers: no host copy */
	INF_RUN_DEVICE_OUTPUT = 2,   /* leave outputs on the device and return once enqueued */
	INF_RUN_DEVICE_INPUT_STORED = 4, /* every input is in inf_engine_device_input_stored's buffer,
	                                  * in its stored form (implies INF_RUN_DEVICE_INPUT) */
};
/* inf_engine_run with flags (enum inf_run_flags). With INF_RUN_DEVICE_OUTPUT the call only
 * enqueues: synchronize inf_engine_stream (or record an event on it) before reading the
 * device outputs. On cpu the flags are ignored and the run is synchronous. */
int inf_engine_run_flags(inf_engine *e, int batch, int flags);

/* A tensor read from an ONNX TensorProto file (the format of the ONNX test data). */
typedef struct inf_blob {
	inf_tensor_info info;    /* info.name points at name */
	char *name;
	void *data;
	size_t bytes;
} inf_blob;

/* Logs and returns < 0 for unreadable or malformed files. */
int inf_blob_read(const char *path, inf_blob *ret);
void inf_blob_clear(inf_blob *b);
int inf_blob_write(const char *path, const inf_tensor_info *info, const void *data);

#endif
