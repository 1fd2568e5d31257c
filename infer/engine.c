/* The engine: import -> shapes and folding -> fusion -> backend. Everything is sized
 * at open time; inf_engine_run only executes. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "backend.h"

/* One imported graph planned for one batch size on the backend. */
typedef struct plan {
	inf_graph *g;
	void *state;
} plan;

struct inf_engine {
	const inf_backend_ops *be;
	plan full;                    /* planned for max_batch */
	plan single;                  /* batch 1, for partial batches; only when max_batch > 1 */
	/* Batch-1 plans of one thread each, so that items_faster backends run the items of
	 * a batch side by side, one per thread (no barriers between threads at all) */
	plan *par;
	int n_par;
	int max_batch;
};

/* Backend registry. */
static const inf_backend_ops *const backends[] = {
	&inf_backend_cpu,
#ifdef VP_HAVE_CUDA
	&inf_backend_cuda,
#endif
};

static const inf_backend_ops *find_backend(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

static int plan_build(const char *path, const inf_backend_ops *be, const inf_engine_opts *o,
                      const plan *share, plan *p)
{
	int err = inf_onnx_import(path, &p->g);
	if (err < 0)
		return err;
	if ((err = inf_graph_infer(p->g, o)) < 0)
		return err;
	if ((err = inf_graph_fuse(p->g)) < 0)
		return err;
	return be->prepare(p->g, o, share ? share->state : NULL, &p->state);
}

static void plan_free(const inf_backend_ops *be, plan *p)
{
	if (p->state)
		be->free(&p->state);
	inf_graph_free(&p->g);
}

static void log_loaded(const inf_engine *e, const char *path)
{
	inf_engine_stats st;
	inf_engine_stats_get(e, &st);
	vp_info("infer", e->be->name, "%s: %d nodes (%d activations fused), batch %d, arena %.1f MB "
	        "(%.1f MB unshared), weights %.1f MB, workspace %.1f MB, peak %.1f MB", path, st.nodes,
	        st.fused_acts, e->max_batch, st.arena_bytes / 1048576.0, st.activation_bytes / 1048576.0,
	        st.weight_bytes / 1048576.0, st.workspace_bytes / 1048576.0,
	        inf_engine_peak_bytes(e) / 1048576.0);
}

/* One single-threaded batch-1 plan per thread (up to one per item) for side-by-side
 * items; they share no scratch memory, since they run at the same time. The threaded
 * batch-1 plan stays for partial batches run one item at a time. */
static int par_build(inf_engine *e, const char *path, const inf_engine_opts *o)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = o->threads > 0 ? o->threads : cores > 0 ? (int)cores : 1;
	int n = threads < e->max_batch ? threads : e->max_batch;
	inf_engine_opts o1 = *o;

	if (n < 2)
		return 0;
	if (!(e->par = calloc((size_t)n, sizeof(*e->par))))
		return -ENOMEM;
	o1.max_batch = 1;
	o1.threads = 1;
	for (; e->n_par < n; e->n_par++) {
		int err = plan_build(path, e->be, &o1, NULL, &e->par[e->n_par]);
		if (err < 0) {
			plan_free(e->be, &e->par[e->n_par]);
			return err;
		}
	}
	return 0;
}

int inf_engine_open(const char *path, const inf_engine_opts *opts, inf_engine **ret)
{
	inf_engine_opts o = opts ? *opts : (inf_engine_opts){ 0 };
	const char *bname = o.backend ? o.backend : "cpu";
	const inf_backend_ops *be = find_backend(bname);
	if (!be) {
		vp_err("infer", NULL, "backend '%s' is not available in this build", bname);
		return strcmp(bname, "cuda") == 0 ? VP_ENODEV : VP_ECONFIG;
	}
	if (be->probe) {
		int rc = be->probe(o.gpu);
		if (rc < 0)
			return rc;
	}
	if (o.max_batch < 1 || o.input_shapes)
		o.max_batch = 1;
	inf_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->be = be;
	e->max_batch = o.max_batch;
	int err = plan_build(path, be, &o, NULL, &e->full);
	/* The static plan would run all max_batch items; a batch-1 plan run item by item
	 * keeps a partial batch's cost proportional to its size. */
	int rewritable = e->full.g && (e->full.g->model_batch == 1 || e->full.g->model_batch == -1);
	if (err >= 0 && o.max_batch > 1 && rewritable && !be->partial_batches) {
		inf_engine_opts o1 = o;
		o1.max_batch = 1;
		err = plan_build(path, be, &o1, &e->full, &e->single);
	}
	if (err >= 0 && e->single.g && be->items_faster)
		err = par_build(e, path, &o);
	if (err < 0)
		goto fail;
	log_loaded(e, path);
	*ret = e;
	return 0;
fail:
	inf_engine_free(&e);
	return err;
}

void inf_engine_free(inf_engine **pe)
{
	inf_engine *e = *pe;
	if (!e)
		return;
	for (int i = 0; i < e->n_par; i++)
		plan_free(e->be, &e->par[i]);
	free(e->par);
	plan_free(e->be, &e->single);
	plan_free(e->be, &e->full);
	free(e);
	*pe = NULL;
}

int inf_engine_n_inputs(const inf_engine *e)
{
	return e->full.g->n_inputs;
}

int inf_engine_n_outputs(const inf_engine *e)
{
	return e->full.g->n_outputs;
}

static int tensor_info(const inf_tensor *t, inf_tensor_info *r)
{
	r->name = t->name;
	r->dtype = t->dtype;
	r->ndim = t->ndim;
	memcpy(r->dims, t->dims, sizeof(r->dims));
	return 0;
}

int inf_engine_input_info(const inf_engine *e, int i, inf_tensor_info *ret)
{
	if (i < 0 || i >= e->full.g->n_inputs)
		return -EINVAL;
	return tensor_info(e->full.g->inputs[i], ret);
}

int inf_engine_output_info(const inf_engine *e, int i, inf_tensor_info *ret)
{
	if (i < 0 || i >= e->full.g->n_outputs)
		return -EINVAL;
	return tensor_info(e->full.g->outputs[i], ret);
}

void *inf_engine_input(inf_engine *e, int i)
{
	return i >= 0 && i < e->full.g->n_inputs ? e->be->input(e->full.state, i) : NULL;
}

static size_t item_bytes(const inf_tensor *t)
{
	return t->ndim > 0 && t->dims[0] > 0 ? inf_tensor_bytes(t) / (size_t)t->dims[0] : inf_tensor_bytes(t);
}

/* Item b through batch-1 plan p, staged through the full plan's buffers. */
static int run_item(inf_engine *e, plan *p, int b)
{
	const inf_graph *g = e->full.g;

	for (int i = 0; i < g->n_inputs; i++) {
		size_t n = item_bytes(g->inputs[i]);
		uint8_t *src = (uint8_t *)e->be->input(e->full.state, i) + (size_t)b * n;

		if (e->be->bind_input)
			e->be->bind_input(p->state, i, src);
		else if (n)
			memcpy(e->be->input(p->state, i), src, n);
	}
	int ret = e->be->run(p->state, 1);
	if (ret < 0)
		return ret;
	for (int i = 0; i < g->n_outputs; i++) {
		size_t n = item_bytes(g->outputs[i]);
		if (n)
			memcpy((uint8_t *)e->be->output(e->full.state, i) + (size_t)b * n, e->be->output(p->state, i), n);
	}
	return 0;
}

/* Items through the batch-1 plans: one by one, or side by side on the single-threaded
 * plans, one thread each (thread t takes items t, t + n, ...). */
static int run_items(inf_engine *e, int batch)
{
	int n = e->n_par < batch ? e->n_par : batch, err = 0;

	if (n <= 1) {
		for (int b = 0; b < batch && err >= 0; b++)
			err = run_item(e, &e->single, b);
		return err;
	}
#pragma omp parallel num_threads(n) reduction(min : err)
	{
		int t = omp_get_thread_num();

		for (int b = t; b < batch && err >= 0; b += n)
			err = run_item(e, &e->par[t], b);
	}
	return err;
}

int inf_engine_run(inf_engine *e, int batch)
{
	if (batch < 1 || batch > e->max_batch)
		return -EINVAL;
	if (e->single.g && (batch < e->max_batch || e->be->items_faster))
		return run_items(e, batch);
	return e->be->run(e->full.state, batch);
}

const void *inf_engine_output(inf_engine *e, int i)
{
	return i >= 0 && i < e->full.g->n_outputs ? e->be->output(e->full.state, i) : NULL;
}

size_t inf_engine_peak_bytes(const inf_engine *e)
{
	size_t bytes = e->be->peak_bytes(e->full.state) + (e->single.state ? e->be->peak_bytes(e->single.state) : 0);

	for (int i = 0; i < e->n_par; i++)
		bytes += e->be->peak_bytes(e->par[i].state);
	return bytes;
}

void inf_engine_stats_get(const inf_engine *e, inf_engine_stats *r)
{
	*r = (inf_engine_stats){ .nodes = e->full.g->n_nodes };
	for (int i = 0; i < e->full.g->n_nodes; i++)
		r->fused_acts += e->full.g->nodes[i]->act != INF_ACT_NONE;
	for (int i = 0; i < e->full.g->n_tensors; i++) {
		const inf_tensor *t = e->full.g->tensors[i];
		if (!t->is_const && (t->producer >= 0 || t->is_input))
			r->activation_bytes += inf_tensor_bytes(t);
	}
	e->be->stats(e->full.state, r);
}

/* Adds plan p's node times to the per-op-type table t of n entries. */
static int add_op_times(const inf_engine *e, const plan *p, inf_op_time *t, int n, int cap)
{
	const double *ms = p->state ? e->be->node_ms(p->state) : NULL;
	for (int i = 0; ms && i < p->g->n_nodes; i++) {
		const char *op = p->g->nodes[i]->op->op_type;
		int k = 0;
		while (k < n && strcmp(t[k].op_type, op) != 0)
			k++;
		if (k == n) {
			if (n == cap)
				continue;
			t[n++] = (inf_op_time){ .op_type = op };
		}
		if (p == &e->full)
			t[k].nodes++;
		t[k].ms += ms[i];
	}
	return n;
}

static int by_ms_desc(const void *a, const void *b)
{
	double d = ((const inf_op_time *)b)->ms - ((const inf_op_time *)a)->ms;
	return (d > 0) - (d < 0);
}

int inf_engine_op_times(const inf_engine *e, inf_op_time *ret, int cap)
{
	int n = add_op_times(e, &e->full, ret, 0, cap);
	n = add_op_times(e, &e->single, ret, n, cap);
	for (int i = 0; i < e->n_par; i++)
		n = add_op_times(e, &e->par[i], ret, n, cap);
	qsort(ret, (size_t)n, sizeof(*ret), by_ms_desc);
	return n;
}

const char *inf_engine_backend_name(const inf_engine *e)
{
	return e->be->name;
}

void *inf_engine_device_input(inf_engine *e, int i)
{
	return e->be->device_input && i >= 0 && i < e->full.g->n_inputs ? e->be->device_input(e->full.state, i) : NULL;
}

void *inf_engine_device_input_stored(inf_engine *e, int i, inf_input_form *form)
{
	*form = (inf_input_form){ 0, 0 };
	if (!e->be->device_input_stored || i < 0 || i >= e->full.g->n_inputs)
		return NULL;
	return e->be->device_input_stored(e->full.state, i, &form->fp16, &form->nhwc);
}

const void *inf_engine_device_output(inf_engine *e, int i)
{
	return e->be->device_output && i >= 0 && i < e->full.g->n_outputs ? e->be->device_output(e->full.state, i)
	                                                                 : NULL;
}

void *inf_engine_stream(inf_engine *e)
{
	return e->be->stream ? e->be->stream(e->full.state) : NULL;
}

int inf_engine_run_flags(inf_engine *e, int batch, int flags)
{
	if (batch < 1 || batch > e->max_batch)
		return -EINVAL;
	return e->be->run_flags ? e->be->run_flags(e->full.state, batch, flags) : inf_engine_run(e, batch);
}
