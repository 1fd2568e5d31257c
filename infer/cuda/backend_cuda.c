/* The cuda backend: the fused graph on one CUDA stream. Activations live in one device
 * arena planned by plan.c (float tensors stored as half in FP16 mode, so the float-sized
 * plan has room), constants are uploaded once in the storage type, and every node has a
 * cu_op row (cuda_conv.c: cuDNN/cuBLAS, cuda_ops.c: own kernels). A run copies the inputs
 * from pinned host memory (or takes them on the device), replays the CUDA graph captured
 * for that batch size (warmed up eagerly once, captured on the second run, a failed
 * capture retried a few times: cuda_graph_policy.h), and copies
 * the outputs back to pinned host memory. In FP16 the layout pass (cuda_layout_pass.c)
 * stores the activations between layout-aware operators NHWC; a graph that cuDNN
 * rejects that way is prepared again all NCHW. */
#ifdef VP_HAVE_CUDA
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "infer/backend.h"
#include "cuda_check.h"
#include "cuda_graph_policy.h"
#include "cuda_kernels.h"
#include "cuda_layout_pass.h"
#include "cuda_ops.h"

#define SEARCH_BYTES ((size_t)512 << 20)   /* the most workspace an algorithm may use */

typedef struct io_buf {
	inf_tensor *t;
	void *host;            /* pinned, float (or the tensor's dtype) */
	void *dev;             /* device copy in the caller's dtype: the arena itself unless converted */
	size_t bytes;          /* at max batch */
	int convert;           /* float <-> half at the boundary */
	int per_item;          /* leading dim is the batch: copies shrink with it */
	int nhwc;              /* an input stored NHWC: the conversion transposes along geom */
	cuk_geom geom;
} io_buf;

typedef struct cuda_state {
	inf_graph *g;
	cu_ctx c;
	int max_batch, gpu;
	uint8_t *arena;
	size_t arena_bytes, const_bytes;
	void **tdev;           /* device pointer of each tensor, parallel to g->tensors */
	uint8_t *nhwc;         /* stored NHWC, parallel to g->tensors */
	int n_nhwc;
	cu_node *nodes;
	io_buf *in, *out;
	cudaGraphExec_t *exec; /* per graph slot: batch size 1..max_batch, then with stored inputs */
	cu_graph_slot *graph;  /* per graph slot: eager, capture or replay (cuda_graph_policy.h) */
	atomic_uint_fast64_t capture_failures;   /* read by the metrics thread (cuda_stats) */
} cuda_state;

static int tensor_index(const inf_graph *g, const inf_tensor *t)
{
	for (int i = 0; i < g->n_tensors; i++)
		if (g->tensors[i] == t)
			return i;
	return -1;
}

/* Only tensors some node reads are uploaded; folded shape tensors stay on the host. */
static int upload_consts(cuda_state *s)
{
	inf_graph *g = s->g;
	for (int i = 0; i < g->n_nodes; i++) {
		inf_node *n = g->nodes[i];
		for (int k = 0; k < n->n_in; k++) {
			inf_tensor *t = n->in[k];
			int ti = t && t->is_const ? tensor_index(g, t) : -1;
			if (ti < 0 || s->tdev[ti] || !t->data)
				continue;
			size_t host_bytes = inf_tensor_bytes(t), bytes = (size_t)inf_tensor_numel(t) * cu_elem(&s->c, t);
			void *d = NULL, *tmp = NULL;
			int rc = CU_RT(cudaMalloc(&d, bytes ? bytes : 4));
			/* On the engine stream and waited for: a plain cudaMemcpy from pageable memory may
			 * return before its DMA lands, and the non-blocking stream would not wait for it. */
			if (rc == 0 && bytes != host_bytes) {
				if ((rc = CU_RT(cudaMalloc(&tmp, host_bytes))) == 0 &&
				    (rc = CU_RT(cudaMemcpyAsync(tmp, t->data, host_bytes, cudaMemcpyHostToDevice, s->c.stream))) == 0)
					rc = cuk_f32_to_f16(tmp, d, inf_tensor_numel(t), s->c.stream);
			} else if (rc == 0 && host_bytes) {
				rc = CU_RT(cudaMemcpyAsync(d, t->data, host_bytes, cudaMemcpyHostToDevice, s->c.stream));
			}
			if (rc == 0)
				rc = CU_RT(cudaStreamSynchronize(s->c.stream));
			cudaFree(tmp);
			if (d)
				s->tdev[ti] = d;
			if (rc < 0)
				return rc;
			s->const_bytes += bytes;
		}
	}
	return 0;
}

static int bind_node(cuda_state *s, cu_node *cn)
{
	inf_node *n = cn->n;
	cn->din = calloc((size_t)n->n_in + 1, sizeof(void *));
	cn->dout = calloc((size_t)n->n_out + 1, sizeof(void *));
	if (!cn->din || !cn->dout)
		return -ENOMEM;
	int scale = s->c.batch_major && s->max_batch > 1;
	for (int k = 0; k < n->n_in + n->n_out; k++) {
		inf_tensor *t = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
		if (!t)
			continue;
		int ti = tensor_index(s->g, t);
		void *p = t->is_const ? s->tdev[ti] : s->arena + t->offset;
		if (k < n->n_in)
			cn->din[k] = p;
		else
			cn->dout[k - n->n_in] = p;
		if (!t->is_const && (t->ndim < 1 || t->dims[0] != s->max_batch))
			scale = 0;
	}
	cn->bscale = scale;
	return 0;
}

/* With `trial` (NHWC activations) the first node that does not run stops the prepare
 * with its reason in why and *retry set when NCHW may run it; otherwise every failing
 * node is logged. */
static int prepare_nodes(cuda_state *s, int trial, char *why, size_t whylen, int *retry)
{
	inf_graph *g = s->g;
	int bad = 0, first_err = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		cu_node *cn = &s->nodes[i];
		char err[256] = "";
		cn->n = g->nodes[i];
		int rc = bind_node(s, cn);
		if (rc < 0)
			return rc;
		if (!(cn->op = cu_op_find(cn->n->op_type))) {
			rc = VP_EUNSUP;
			snprintf(err, sizeof(err), "no GPU kernel for %s", cn->n->op_type);
		} else {
			rc = cn->op->prepare(&s->c, cn, err, sizeof(err));
			/* the shapes were valid for the CPU: what the GPU rejects is unsupported here */
			if (rc == VP_EMODEL)
				rc = VP_EUNSUP;
		}
		if (rc < 0 && trial) {
			snprintf(why, whylen, "node '%s' (%s): %s", cn->n->name, cn->n->op_type, err[0] ? err : vp_strerror(rc));
			*retry = rc == VP_EUNSUP && cn->op;
			return rc;
		}
		if (rc < 0) {
			vp_err("infer", "cuda", "%s: node '%s' (%s): %s", g->path, cn->n->name, cn->n->op_type,
			       err[0] ? err : vp_strerror(rc));
			if (!first_err || rc != VP_EUNSUP)
				first_err = rc;
			bad++;
			if (rc != VP_EUNSUP)
				break;
		}
	}
	return bad ? first_err : 0;
}

static int setup_io(cuda_state *s, io_buf **ret, inf_tensor **ts, int count, int is_in)
{
	io_buf *b = calloc((size_t)count + 1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	*ret = b;
	for (int i = 0; i < count; i++) {
		inf_tensor *t = ts[i];
		b[i].t = t;
		b[i].bytes = inf_tensor_bytes(t);
		b[i].convert = t->dtype == INF_DT_FLOAT && s->c.half && !t->is_const;
		b[i].per_item = s->c.batch_major && t->ndim >= 1 && t->dims[0] == s->max_batch;
		if ((b[i].nhwc = b[i].convert && cu_is_nhwc(&s->c, t))) {
			b[i].geom.nd = t->ndim;
			memcpy(b[i].geom.dims, t->dims, sizeof(t->dims));
			cu_contiguous(t, b[i].geom.sa);
			cu_strides(&s->c, t, b[i].geom.sy);
			cu_geom_output_order(&b[i].geom);
		}
		int rc = CU_RT(cudaHostAlloc(&b[i].host, b[i].bytes ? b[i].bytes : 4, cudaHostAllocDefault));
		if (rc < 0)
			return rc;
		if (t->is_const) {
			/* a folded output: its value is known at load */
			if (!is_in && t->data)
				memcpy(b[i].host, t->data, b[i].bytes);
			continue;
		}
		if (b[i].convert)
			rc = CU_RT(cudaMalloc(&b[i].dev, b[i].bytes ? b[i].bytes : 4));
		else
			b[i].dev = s->arena + t->offset;
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int64_t io_count(const cuda_state *s, const io_buf *b, int batch)
{
	int64_t n = inf_tensor_numel(b->t);
	return b->per_item ? n / s->max_batch * batch : n;
}

/* Everything between the input and output copies: conversions and nodes. This is
 * what one CUDA graph holds. stored: the producer wrote the inputs in their stored form
 * (cuda_device_input_stored), so they need no conversion. */
static int run_body(cuda_state *s, int batch, int stored)
{
	int rc = 0;
	for (int i = 0; i < s->g->n_inputs && rc == 0 && !stored; i++) {
		io_buf *b = &s->in[i];
		cuk_geom g = b->geom;
		if (b->nhwc && b->per_item)
			g.dims[0] = batch;
		if (b->nhwc)
			rc = cuk_cast_nd(0, 1, b->dev, s->arena + b->t->offset, &g, s->c.stream);
		else if (b->convert)
			rc = cuk_f32_to_f16(b->dev, s->arena + b->t->offset, io_count(s, b, batch), s->c.stream);
	}
	for (int i = 0; i < s->g->n_nodes && rc == 0; i++) {
		cu_node *cn = &s->nodes[i];
		if ((rc = cn->op->run(&s->c, cn, batch)) < 0)
			vp_err("infer", "cuda", "node '%s' (%s) failed: %s", cn->n->name, cn->n->op_type, vp_strerror(rc));
	}
	for (int i = 0; i < s->g->n_outputs && rc == 0; i++)
		if (s->out[i].convert)
			rc = cuk_f16_to_f32(s->arena + s->out[i].t->offset, s->out[i].dev, io_count(s, &s->out[i], batch),
			                    s->c.stream);
	return rc;
}

/* The graph slot of a batch size and input form. */
static int graph_slot(const cuda_state *s, int batch, int stored)
{
	return batch + (stored ? s->max_batch + 1 : 0);
}

/* Relaxed mode: a capture in Global mode (the default) makes every other thread's
 * "unsafe" call (cudaMalloc, cuMemAllocPitch, cuvidCreateDecoder: an NVDEC stream opening
 * or meeting a new sequence header) fail and invalidate the capture. Relaxed, like
 * ThreadLocal, leaves other threads alone, and also lets cuDNN/cuBLAS make a lazy
 * allocation in this thread (kept, not captured) instead of failing the capture. The
 * window holds only run_body: no copies, no allocation of ours (all made at load), and
 * the engine stream is non-blocking, so legacy-stream work of other threads does not join
 * it. */
static int capture(cuda_state *s, int batch, int stored)
{
	cudaGraph_t graph = NULL;
	int rc = CU_RT(cudaStreamBeginCapture(s->c.stream, cudaStreamCaptureModeRelaxed));
	if (rc < 0)
		return rc;
	int body = run_body(s, batch, stored);
	rc = CU_RT(cudaStreamEndCapture(s->c.stream, &graph));
	int k = graph_slot(s, batch, stored);
	if (body == 0 && rc == 0 && (rc = CU_RT(cudaGraphInstantiate(&s->exec[k], graph, 0))) < 0)
		s->exec[k] = NULL;
	if (graph)
		cudaGraphDestroy(graph);
	cudaGetLastError();
	return body < 0 ? body : rc;
}

/* Counted, retried at the size's next run, given up (once, with a warning) after
 * CU_GRAPH_MAX_FAILURES: a capture invalidated by something passing does not turn graphs
 * off for the run, and one size giving up leaves the others alone. */
static void capture_failed(cuda_state *s, int batch, int k)
{
	uint64_t n = atomic_fetch_add(&s->capture_failures, 1) + 1;
	if (cu_graph_done(&s->graph[k], CU_GRAPH_CAPTURE, 0))
		vp_warn("infer", "cuda", "batch %d: CUDA graph capture failed %d times: this batch size runs node by "
		        "node from now on", batch, CU_GRAPH_MAX_FAILURES);
	else
		vp_info("infer", "cuda", "batch %d: CUDA graph capture failed (%u of %d, %llu in all): running node by "
		        "node, capturing again at its next run", batch, (unsigned)s->graph[k].failures,
		        CU_GRAPH_MAX_FAILURES, (unsigned long long)n);
}

static int cuda_run_flags(void *state, int batch, int flags)
{
	cuda_state *s = state;
	cudaStream_t st = s->c.stream;
	/* The running thread may not be the one that prepared (the pipeline's engine thread). */
	int rc = CU_RT(cudaSetDevice(s->gpu));
	if (batch > s->max_batch)   /* exact input shapes: the planned tensors run whole */
		batch = s->max_batch;
	int stored = (flags & INF_RUN_DEVICE_INPUT_STORED) != 0, k = graph_slot(s, batch, stored);
	if (stored)
		flags |= INF_RUN_DEVICE_INPUT;
	if (!(flags & INF_RUN_DEVICE_INPUT))
		for (int i = 0; i < s->g->n_inputs && rc == 0; i++)
			if (s->in[i].dev)
				rc = CU_RT(cudaMemcpyAsync(s->in[i].dev, s->in[i].host,
				                           (size_t)io_count(s, &s->in[i], batch) * inf_dtype_size(s->in[i].t->dtype),
				                           cudaMemcpyHostToDevice, st));
	if (rc < 0)
		return rc;
	enum cu_graph_step step = cu_graph_next(&s->graph[k]);
	if (step == CU_GRAPH_CAPTURE && capture(s, batch, stored) < 0)
		capture_failed(s, batch, k);
	else
		cu_graph_done(&s->graph[k], step, 1);
	if (s->exec[k])
		rc = CU_RT(cudaGraphLaunch(s->exec[k], st));
	else
		rc = run_body(s, batch, stored);
	if (rc < 0 || (flags & INF_RUN_DEVICE_OUTPUT))
		return rc;
	for (int i = 0; i < s->g->n_outputs && rc == 0; i++)
		if (s->out[i].dev)
			rc = CU_RT(cudaMemcpyAsync(s->out[i].host, s->out[i].dev,
			                           (size_t)io_count(s, &s->out[i], batch) * inf_dtype_size(s->out[i].t->dtype),
			                           cudaMemcpyDeviceToHost, st));
	if (rc == 0)
		rc = CU_RT(cudaStreamSynchronize(st));
	return rc;
}

static int cuda_run(void *state, int batch)
{
	return cuda_run_flags(state, batch, 0);
}

static void free_io(io_buf **pb, int count)
{
	io_buf *b = *pb;
	for (int i = 0; b && i < count; i++) {
		cudaFreeHost(b[i].host);
		if (b[i].convert)
			cudaFree(b[i].dev);
	}
	free(b);
	*pb = NULL;
}

static void cuda_free(void **ps)
{
	cuda_state *s = *ps;
	if (!s)
		return;
	if (s->c.stream)
		cudaStreamSynchronize(s->c.stream);
	for (int b = 0; s->exec && b < 2 * (s->max_batch + 1); b++)
		if (s->exec[b])
			cudaGraphExecDestroy(s->exec[b]);
	for (int i = 0; s->nodes && i < s->g->n_nodes; i++) {
		cu_node *cn = &s->nodes[i];
		if (cn->op && cn->op->release && cn->priv)
			cn->op->release(&s->c, cn);
		free(cn->din);
		free(cn->dout);
	}
	for (int i = 0; s->tdev && i < s->g->n_tensors; i++)
		cudaFree(s->tdev[i]);
	free_io(&s->in, s->g->n_inputs);
	free_io(&s->out, s->g->n_outputs);
	cudaFree(s->arena);
	cudaFree(s->c.work);
	cudaFree(s->c.search);
	cudaFree(s->c.scratch);
	if (s->c.blas)
		s->c.dl->cublasDestroy_v2(s->c.blas);
	if (s->c.dnn)
		s->c.dl->cudnnDestroy(s->c.dnn);
	if (s->c.stream)
		cudaStreamDestroy(s->c.stream);
	free(s->exec);
	free(s->graph);
	free(s->tdev);
	free(s->nhwc);
	free(s->nodes);
	free(s);
	*ps = NULL;
}

/* No device, driver or usable library: VP_ENODEV with one line saying which. gpu (-1: the
 * current device) is selected first: the library check creates a cuDNN and a cuBLAS
 * handle on it, so a broken install fails here, not at the first convolution. */
static int probe(int gpu, const cuda_dl **ret)
{
	const char *why = NULL;
	if (krn_cuda_devices(&why) < 0) {
		vp_info("infer", "cuda", "no usable GPU: %s", why);
		return VP_ENODEV;
	}
	if (gpu >= 0 && CU_RT(cudaSetDevice(gpu)) < 0)
		return VP_ENODEV;
	if (!(*ret = cuda_dl_get(&why))) {
		vp_info("infer", "cuda", "GPU libraries not usable: %s", why);
		return VP_ENODEV;
	}
	return 0;
}

static int make_handles(cuda_state *s)
{
	const cuda_dl *dl = s->c.dl;
	int rc = CU_RT(cudaStreamCreateWithFlags(&s->c.stream, cudaStreamNonBlocking));
	if (rc == 0)
		rc = cuda_dnn_check(dl, dl->cudnnCreate(&s->c.dnn), "cudnnCreate");
	if (rc == 0)
		rc = cuda_dnn_check(dl, dl->cudnnSetStream(s->c.dnn, s->c.stream), "cudnnSetStream");
	if (rc == 0)
		rc = cuda_blas_check(dl->cublasCreate_v2(&s->c.blas), "cublasCreate");
	if (rc == 0)
		rc = cuda_blas_check(dl->cublasSetStream_v2(s->c.blas, s->c.stream), "cublasSetStream");
	if (rc == 0)
		rc = cuda_blas_check(dl->cublasSetMathMode(s->c.blas, s->c.half ? CUBLAS_DEFAULT_MATH : CUBLAS_PEDANTIC_MATH),
		                     "cublasSetMathMode");
	return rc;
}

static int alloc_state(cuda_state *s, inf_graph *g)
{
	int rc = inf_graph_plan(g, &s->arena_bytes);
	if (rc < 0)
		return rc;
	s->tdev = calloc((size_t)g->n_tensors + 1, sizeof(void *));
	s->nhwc = calloc((size_t)g->n_tensors + 1, 1);
	s->nodes = calloc((size_t)g->n_nodes + 1, sizeof(cu_node));
	s->exec = calloc(2 * ((size_t)s->max_batch + 1), sizeof(cudaGraphExec_t));   /* graph_slot */
	s->graph = calloc(2 * ((size_t)s->max_batch + 1), sizeof(cu_graph_slot));
	if (!s->tdev || !s->nhwc || !s->nodes || !s->exec || !s->graph)
		return -ENOMEM;
	if ((rc = CU_RT(cudaMalloc((void **)&s->arena, s->arena_bytes + 256))) < 0)
		return rc;
	/* cuBLAS needs its workspace fixed before graph capture */
	if ((rc = CU_RT(cudaMalloc(&s->c.search, SEARCH_BYTES))) < 0)
		return rc;
	s->c.search_bytes = SEARCH_BYTES;
	return CU_RT(cudaMemsetAsync(s->arena, 0, s->arena_bytes, s->c.stream));
}

static int finish_workspace(cuda_state *s)
{
	size_t blas_ws = (size_t)32 << 20;
	if (s->c.work_bytes < blas_ws)
		s->c.work_bytes = blas_ws;
	cudaFree(s->c.search);
	s->c.search = NULL;
	int rc = CU_RT(cudaMalloc(&s->c.work, s->c.work_bytes));
	if (rc == 0)
		rc = cuda_blas_check(s->c.dl->cublasSetWorkspace_v2(s->c.blas, s->c.work, s->c.work_bytes),
		                     "cublasSetWorkspace");
	return rc;
}

static int cuda_probe(int gpu)
{
	const cuda_dl *dl = NULL;
	return probe(gpu, &dl);
}

/* One attempt at the whole prepare with NHWC activations allowed or not; *retry is set
 * when an NHWC attempt failed on a node that NCHW may run. */
static int prepare_layout(inf_graph *g, const inf_engine_opts *o, const cuda_dl *dl, int nhwc, int *retry,
                          cuda_state **ret)
{
	char why[320] = "";
	*retry = 0;
	cuda_state *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->gpu = o->gpu;
	s->g = g;
	s->c.dl = dl;
	s->c.g = g;
	s->c.half = o->fp16;
	s->max_batch = o->input_shapes ? 1 : o->max_batch;
	s->c.max_batch = s->max_batch;
	s->c.batch_major = !o->input_shapes;
	int rc = make_handles(s);
	if (rc == 0)
		rc = alloc_state(s, g);
	if (rc == 0 && (rc = cu_layout_assign(g, nhwc, s->nhwc)) >= 0) {
		s->n_nhwc = rc;
		s->c.nhwc = s->nhwc;
		rc = 0;
	}
	if (rc < 0 || (rc = upload_consts(s)) < 0 || (rc = setup_io(s, &s->in, g->inputs, g->n_inputs, 1)) < 0 ||
	    (rc = setup_io(s, &s->out, g->outputs, g->n_outputs, 0)) < 0 ||
	    (rc = prepare_nodes(s, s->n_nhwc > 0, why, sizeof(why), retry)) < 0 || (rc = finish_workspace(s)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	if (*retry)
		vp_warn("infer", "cuda", "%s: %s with NHWC activations: running every activation NCHW", g->path, why);
	else if (why[0])
		vp_err("infer", "cuda", "%s: %s", g->path, why);
	cuda_free((void **)&s);
	return rc;
}

/* share (another plan's state) is unused: partial batches run on the full plan. */
static int cuda_prepare(inf_graph *g, const inf_engine_opts *o, void *share, void **ret)
{
	(void)share;
	const cuda_dl *dl = NULL;
	cuda_state *s = NULL;
	int retry = 0, rc = probe(o->gpu, &dl);
	/* before the handles: the waits of this engine (and of NVDEC on the same primary
	 * context) block instead of spinning a core */
	if (rc < 0 || (rc = krn_cuda_use_device(o->gpu)) < 0)
		return rc;
	/* NHWC is the tensor-core layout: FP16 only, unless the caller forces NCHW */
	rc = prepare_layout(g, o, dl, o->fp16 && !o->gpu_nchw, &retry, &s);
	if (rc < 0 && retry)
		rc = prepare_layout(g, o, dl, 0, &retry, &s);
	if (rc < 0)
		return rc;
	vp_info("infer", "cuda", "%s: %s, %s (%d activations NHWC)", g->path, s->c.half ? "fp16" : "fp32",
	        s->n_nhwc ? "NHWC" : "NCHW", s->n_nhwc);
	*ret = s;
	return 0;
}

static void *cuda_input(void *state, int i)
{
	cuda_state *s = state;
	return s->in[i].host;
}

static void *cuda_output(void *state, int i)
{
	cuda_state *s = state;
	return s->out[i].host;
}

static void *cuda_device_input(void *state, int i)
{
	cuda_state *s = state;
	return s->in[i].dev;
}

/* Where the producer writes input i in its stored form: the arena tensor itself. */
static void *cuda_device_input_stored(void *state, int i, int *fp16, int *nhwc)
{
	cuda_state *s = state;
	const io_buf *b = &s->in[i];
	*fp16 = b->convert;
	*nhwc = b->nhwc;
	return b->t->is_const ? NULL : s->arena + b->t->offset;
}

static const void *cuda_device_output(void *state, int i)
{
	cuda_state *s = state;
	return s->out[i].dev;
}

static void *cuda_stream(void *state)
{
	cuda_state *s = state;
	return s->c.stream;
}

static void cuda_stats(const void *state, inf_engine_stats *r)
{
	const cuda_state *s = state;
	r->arena_bytes = s->arena_bytes;
	r->workspace_bytes = s->c.work_bytes;
	r->weight_bytes = s->const_bytes;
	r->nhwc_tensors = s->n_nhwc;
	r->graph_capture_failures = atomic_load(&((cuda_state *)state)->capture_failures);
}

/* Nodes run inside one CUDA graph: no per-node host timing. */
static const double *cuda_node_ms(const void *state)
{
	(void)state;
	return NULL;
}

static size_t cuda_peak_bytes(const void *state)
{
	const cuda_state *s = state;
	return s->arena_bytes + s->c.work_bytes + s->const_bytes + s->c.scratch_bytes;
}

const inf_backend_ops inf_backend_cuda = {
	.name = "cuda",
	.probe = cuda_probe,
	.prepare = cuda_prepare,
	.run = cuda_run,
	.input = cuda_input,
	.output = cuda_output,
	.peak_bytes = cuda_peak_bytes,
	.stats = cuda_stats,
	.node_ms = cuda_node_ms,
	.free = cuda_free,
	.partial_batches = 1,
	.run_flags = cuda_run_flags,
	.device_input = cuda_device_input,
	.device_input_stored = cuda_device_input_stored,
	.device_output = cuda_device_output,
	.stream = cuda_stream,
};
#endif
