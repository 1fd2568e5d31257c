/* CPU backend: one arena for the activations (planned by plan.c), one workspace
 * shared by all nodes (the largest any node asks for), nodes run in order with the
 * operator table's run_cpu. OpenBLAS and OpenMP get the engine's thread count. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_fpu.h"
#include "pipeline/vp_log.h"
#include "infer/backend.h"
#include "taskpool.h"
#include "pipeline/vp_time.h"

typedef struct cpu_state {
	inf_graph *g;
	uint8_t *arena;
	size_t arena_bytes;
	void *work;
	size_t work_bytes;
	int work_shared;              /* work belongs to another plan's state */
	size_t const_bytes;
	inf_cpu_ctx cx;
	double *node_ms;              /* per node, when profiling */
} cpu_state;

static int cpu_threads(const inf_engine_opts *o)
{
	if (o->threads > 0)
		return o->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* Both settings are process-wide: set them per run so engines with different thread
 * counts can share a process. Kernels may narrow OpenBLAS to 1 inside OpenMP teams. */
static void apply_threads(const cpu_state *s)
{
	if (openblas_get_num_threads() != s->cx.threads)
		openblas_set_num_threads(s->cx.threads);
	if (omp_get_max_threads() != s->cx.threads)
		omp_set_num_threads(s->cx.threads);
}

/* FTZ/DAZ on the calling thread, whichever it is (the pipeline's engine thread, a tool's
 * main, an item thread of engine.c), and once per calling thread on its OpenMP team:
 * libgomp keeps a team per thread that starts a region, so setting it when the engine is
 * created (on another thread) would miss it. The task pool's workers set their own. */
static void flush_denormals(int threads)
{
	static _Thread_local int team;   /* size of this thread's team that flushes */
	vp_fpu_flush_denormals();
	if (team >= threads)
		return;
#pragma omp parallel num_threads(threads)
	vp_fpu_flush_denormals();
	team = threads;
}

static size_t count_const_bytes(const inf_graph *g)
{
	size_t bytes = 0;
	for (int i = 0; i < g->n_tensors; i++)
		if (g->tensors[i]->is_const)
			bytes += inf_tensor_bytes(g->tensors[i]);
	return bytes;
}

static void bind_arena(cpu_state *s)
{
	for (int i = 0; i < s->g->n_tensors; i++) {
		inf_tensor *t = s->g->tensors[i];
		if (!t->is_const && (t->producer >= 0 || t->is_input))
			t->data = s->arena + t->offset;
	}
}

static int prepare_nodes(cpu_state *s)
{
	for (int i = 0; i < s->g->n_nodes; i++) {
		inf_node *n = s->g->nodes[i];
		size_t ws = 0;
		if (n->op->prepare) {
			int ret = n->op->prepare(n, &ws);
			if (ret < 0) {
				vp_err("infer", "cpu", "%s: node '%s' (%s): prepare failed: %s", s->g->path,
				       n->name, n->op_type, vp_strerror(ret));
				return ret;
			}
		}
		if (ws > s->work_bytes)
			s->work_bytes = ws;
	}
	return 0;
}

static void cpu_free(void **ps)
{
	cpu_state *s = *ps;
	if (!s)
		return;
	for (int i = 0; i < s->g->n_nodes; i++) {
		inf_node *n = s->g->nodes[i];
		if (n->op->release && n->priv)
			n->op->release(n);
		n->priv = NULL;
	}
	tp_free(&s->cx.pool);
	free(s->arena);
	free(s->node_ms);
	if (!s->work_shared)
		free(s->work);
	free(s);
	*ps = NULL;
}

static int cpu_prepare(inf_graph *g, const inf_engine_opts *o, void *share, void **ret)
{
	const cpu_state *other = share;
	cpu_state *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->g = g;
	s->cx.threads = cpu_threads(o);
	if ((err = tp_new(&s->cx.pool, s->cx.threads)) < 0)
		goto fail;
	err = inf_graph_plan_ex(g, INF_PLAN_CONCAT_IN_PLACE, &s->arena_bytes);
	if (err < 0)
		goto fail;
	s->arena = aligned_alloc(64, s->arena_bytes + 64);
	err = -ENOMEM;
	if (!s->arena)
		goto fail;
	memset(s->arena, 0, s->arena_bytes);
	bind_arena(s);
	/* Kernels size their per-thread workspace from the OpenMP thread count at prepare. */
	apply_threads(s);
	if ((err = prepare_nodes(s)) < 0)
		goto fail;
	if (other && other->work && other->work_bytes >= s->work_bytes) {
		s->work = other->work;
		s->work_shared = 1;
	} else if (s->work_bytes && !(s->work = aligned_alloc(64, (s->work_bytes + 63) / 64 * 64))) {
		err = -ENOMEM;
		goto fail;
	}
	s->const_bytes = count_const_bytes(g);
	if (o->profile && !(s->node_ms = calloc((size_t)g->n_nodes + 1, sizeof(double)))) {
		err = -ENOMEM;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	if (err == -ENOMEM)
		vp_err("infer", "cpu", "%s: out of memory planning %zu arena bytes", g->path, s->arena_bytes);
	cpu_free((void **)&s);
	return err;
}

static int cpu_run(void *state, int batch)
{
	cpu_state *s = state;
	(void)batch;  /* the plan is static: the whole max batch runs */
	apply_threads(s);
	flush_denormals(s->cx.threads);
	for (int i = 0; i < s->g->n_nodes; i++) {
		inf_node *n = s->g->nodes[i];
		double t0 = s->node_ms ? (vp_mono_ns() / 1e6) : 0;
		int ret = n->op->run_cpu(n, s->work, &s->cx);
		if (s->node_ms)
			s->node_ms[i] += (vp_mono_ns() / 1e6) - t0;
		if (ret < 0) {
			vp_err("infer", "cpu", "node '%s' (%s) failed: %s", n->name, n->op_type, vp_strerror(ret));
			return ret;
		}
	}
	return 0;
}

static void *cpu_input(void *state, int i)
{
	cpu_state *s = state;
	return s->g->inputs[i]->data;
}

static void cpu_bind_input(void *state, int i, void *ptr)
{
	cpu_state *s = state;
	s->g->inputs[i]->data = ptr;
}

static void *cpu_output(void *state, int i)
{
	cpu_state *s = state;
	return s->g->outputs[i]->data;
}

static size_t cpu_peak_bytes(const void *state)
{
	const cpu_state *s = state;
	return s->arena_bytes + (s->work_shared ? 0 : s->work_bytes) + s->const_bytes;
}

static void cpu_stats(const void *state, inf_engine_stats *r)
{
	const cpu_state *s = state;
	r->arena_bytes = s->arena_bytes;
	r->workspace_bytes = s->work_bytes;
	r->weight_bytes = s->const_bytes;
}

static const double *cpu_node_ms(const void *state)
{
	return ((const cpu_state *)state)->node_ms;
}

const inf_backend_ops inf_backend_cpu = {
	.name = "cpu",
	.prepare = cpu_prepare,
	.run = cpu_run,
	.input = cpu_input,
	.output = cpu_output,
	.peak_bytes = cpu_peak_bytes,
	.stats = cpu_stats,
	.node_ms = cpu_node_ms,
	.free = cpu_free,
	.items_faster = 1,
	.bind_input = cpu_bind_input,
};
