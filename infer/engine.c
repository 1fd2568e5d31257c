/* The engine: import -> shapes and folding -> fusion -> backend. Everything is sized
 * at open time; inf_engine_run only executes. */
#include <stdlib.h>
#include <string.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "backend.h"

struct inf_engine {
	inf_graph *g;
	const inf_backend_ops *be;
	void *state;
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
		int rc = be->probe();
		if (rc < 0)
			return rc;
	}
	if (o.max_batch < 1)
		o.max_batch = 1;
	inf_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->be = be;
	e->max_batch = o.max_batch;
	int err = inf_onnx_import(path, &e->g);
	if (err < 0)
		goto fail;
	if ((err = inf_graph_infer(e->g, &o)) < 0)
		goto fail;
	if ((err = inf_graph_fuse(e->g)) < 0)
		goto fail;
	if ((err = be->prepare(e->g, &o, &e->state)) < 0)
		goto fail;
	vp_info("infer", be->name, "%s: %d nodes after folding and fusion, batch %d, peak %.1f MB",
	        path, e->g->n_nodes, o.input_shapes ? 1 : o.max_batch,
	        be->peak_bytes(e->state) / 1048576.0);
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
	if (e->state)
		e->be->free(&e->state);
	inf_graph_free(&e->g);
	free(e);
	*pe = NULL;
}

int inf_engine_n_inputs(const inf_engine *e)
{
	return e->g->n_inputs;
}

int inf_engine_n_outputs(const inf_engine *e)
{
	return e->g->n_outputs;
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
	if (i < 0 || i >= e->g->n_inputs)
		return -EINVAL;
	return tensor_info(e->g->inputs[i], ret);
}

int inf_engine_output_info(const inf_engine *e, int i, inf_tensor_info *ret)
{
	if (i < 0 || i >= e->g->n_outputs)
		return -EINVAL;
	return tensor_info(e->g->outputs[i], ret);
}

void *inf_engine_input(inf_engine *e, int i)
{
	return i >= 0 && i < e->g->n_inputs ? e->be->input(e->state, i) : NULL;
}

int inf_engine_run(inf_engine *e, int batch)
{
	if (batch < 1 || batch > e->max_batch)
		return -EINVAL;
	return e->be->run(e->state, batch);
}

const void *inf_engine_output(inf_engine *e, int i)
{
	return i >= 0 && i < e->g->n_outputs ? e->be->output(e->state, i) : NULL;
}

size_t inf_engine_peak_bytes(const inf_engine *e)
{
	return e->be->peak_bytes(e->state);
}

const char *inf_engine_backend_name(const inf_engine *e)
{
	return e->be->name;
}

void *inf_engine_device_input(inf_engine *e, int i)
{
	return e->be->device_input && i >= 0 && i < e->g->n_inputs ? e->be->device_input(e->state, i) : NULL;
}

const void *inf_engine_device_output(inf_engine *e, int i)
{
	return e->be->device_output && i >= 0 && i < e->g->n_outputs ? e->be->device_output(e->state, i) : NULL;
}

void *inf_engine_stream(inf_engine *e)
{
	return e->be->stream ? e->be->stream(e->state) : NULL;
}

int inf_engine_run_flags(inf_engine *e, int batch, int flags)
{
	if (batch < 1 || batch > e->max_batch)
		return -EINVAL;
	return e->be->run_flags ? e->be->run_flags(e->state, batch, flags) : e->be->run(e->state, batch);
}
