/* vapd-run-model: runs an ONNX model on TensorProto inputs and writes every output as
 * DIR/<output name>.pb. Exit codes: 0 success, 1 usage or I/O error, 2 the model
 * cannot be loaded (malformed, unsupported operator, ...). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_fpu.h"
#include "pipeline/vp_log.h"
#include "pipeline/vp_omp.h"
#include "pipeline/vp_stdio.h"
#include "pipeline/vp_time.h"

#define MAX_INPUTS 16

/* Denormals flush to zero as in vapd (pipeline/main.c), from before the library
 * constructors: OpenBLAS's worker threads, started in one, inherit the FPU mode. */
static void flush_denormals_at_start(int argc, char **argv, char **envp)
{
	(void)argc, (void)argv, (void)envp;
	vp_fpu_flush_denormals();
}
__attribute__((section(".preinit_array"), used))
static void (*const preinit_flush_denormals)(int, char **, char **) = flush_denormals_at_start;

typedef struct args {
	const char *model, *backend, *out_dir;
	int batch, threads, runs, fp16, profile, nchw;
	const char *in_name[MAX_INPUTS], *in_file[MAX_INPUTS];
	int n_in;
} args;

static void usage(FILE *f)
{
	fprintf(f, "usage: vapd-run-model MODEL [--backend cpu|cuda] [--fp16] [--layout nchw|nhwc] [--batch N]\n"
	           "                      [--threads N] [--runs N] [--profile] --input [NAME=]FILE.pb ... --output-dir DIR\n");
}

static int parse_args(int argc, char **argv, args *a)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, 0, 'b' }, { "batch", required_argument, 0, 'n' },
		{ "threads", required_argument, 0, 't' }, { "runs", required_argument, 0, 'r' },
		{ "input", required_argument, 0, 'i' }, { "output-dir", required_argument, 0, 'o' },
		{ "profile", no_argument, 0, 'p' }, { "fp16", no_argument, 0, 'f' },
		{ "layout", required_argument, 0, 'l' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;
	*a = (args){ .backend = "cpu", .runs = 1 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': a->backend = optarg; break;
		case 'n': a->batch = atoi(optarg); break;
		case 't': a->threads = atoi(optarg); break;
		case 'r': a->runs = atoi(optarg); break;
		case 'f': a->fp16 = 1; break;
		case 'o': a->out_dir = optarg; break;
		case 'p': a->profile = 1; break;
		case 'l':
			/* nhwc is the cuda FP16 default where the graph allows it */
			if (strcmp(optarg, "nchw") != 0 && strcmp(optarg, "nhwc") != 0)
				return -1;
			a->nchw = !strcmp(optarg, "nchw");
			break;
		case 'i': {
			if (a->n_in == MAX_INPUTS)
				return -1;
			char *eq = strchr(optarg, '=');
			a->in_name[a->n_in] = eq ? optarg : NULL;
			a->in_file[a->n_in++] = eq ? eq + 1 : optarg;
			if (eq)
				*eq = 0;
			break;
		}
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc - 1 || !a->out_dir || a->runs < 1 || a->batch < 0)
		return -1;
	a->model = argv[optind];
	return 0;
}

static int64_t numel(const inf_tensor_info *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->dims[i];
	return n;
}

static void fmt_dims(const inf_tensor_info *t, char *buf, size_t len)
{
	buf[0] = 0;
	for (int i = 0; i < t->ndim; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%lld", i ? "x" : "", (long long)t->dims[i]);
}

/* Input k of the engine for blob j: by name when given, else by position. */
static int engine_index(const inf_engine *e, const args *a, int j)
{
	if (!a->in_name[j])
		return j < inf_engine_n_inputs(e) ? j : -1;
	for (int i = 0; i < inf_engine_n_inputs(e); i++) {
		inf_tensor_info ti;
		inf_engine_input_info(e, i, &ti);
		if (strcmp(ti.name, a->in_name[j]) == 0)
			return i;
	}
	return -1;
}

/* Copies a blob into the engine input; a batch-1 blob fills every item of a larger batch. */
static int fill_input(inf_engine *e, int k, const inf_blob *b, const char *file)
{
	inf_tensor_info ti;
	inf_engine_input_info(e, k, &ti);
	int64_t n = numel(&b->info);
	size_t need = (size_t)numel(&ti) * (n > 0 ? b->bytes / (size_t)n : 0);
	int same_item = ti.ndim == b->info.ndim && ti.dtype == b->info.dtype &&
	                (ti.ndim == 0 || memcmp(ti.dims + 1, b->info.dims + 1, sizeof(int64_t) * (size_t)(ti.ndim - 1)) == 0);
	int batch_fits = b->info.ndim == 0 || b->info.dims[0] == 1 || b->info.dims[0] == ti.dims[0];
	/* An empty tensor fits an empty input; otherwise whole copies must fill it. */
	int fits = same_item && batch_fits && (n == 0 ? numel(&ti) == 0 : need % b->bytes == 0);
	if (!fits) {
		char want[128], got[128];
		fmt_dims(&ti, want, sizeof(want));
		fmt_dims(&b->info, got, sizeof(got));
		vp_err("run-model", NULL, "%s: shape %s (dtype %d) does not fit input '%s' %s (dtype %d)",
		       file, got, b->info.dtype, ti.name, want, ti.dtype);
		return -EINVAL;
	}
	uint8_t *dst = inf_engine_input(e, k);
	for (size_t off = 0; n > 0 && off < need; off += b->bytes)
		memcpy(dst + off, b->data, b->bytes);
	return 0;
}

static int write_outputs(inf_engine *e, const char *dir, int batch)
{
	for (int i = 0; i < inf_engine_n_outputs(e); i++) {
		inf_tensor_info ti;
		char path[4096], dims[128], name[256];
		inf_engine_output_info(e, i, &ti);
		if (ti.ndim > 0 && batch > 0)
			ti.dims[0] = batch;
		snprintf(name, sizeof(name), "%s", ti.name);
		for (char *p = name; *p; p++)
			if (*p == '/')
				*p = '_';
		snprintf(path, sizeof(path), "%s/%s.pb", dir, name);
		fmt_dims(&ti, dims, sizeof(dims));
		int ret = inf_blob_write(path, &ti, inf_engine_output(e, i));
		if (ret < 0)
			return ret;
		printf("output %s: dtype %d shape %s -> %s\n", ti.name, ti.dtype, dims, path);
	}
	return 0;
}

static void print_profile(const inf_engine *e, int runs)
{
	inf_op_time t[64];
	int n = inf_engine_op_times(e, t, 64);
	printf("%-20s %6s %10s\n", "operator", "nodes", "ms/run");
	for (int i = 0; i < n; i++)
		printf("%-20s %6d %10.3f\n", t[i].op_type, t[i].nodes, t[i].ms / runs);
}

static int open_engine(const args *a, const inf_blob *blobs, inf_engine **e)
{
	inf_tensor_info shapes[MAX_INPUTS];
	inf_engine_opts o = { .backend = a->backend, .max_batch = a->batch ? a->batch : 1,
	                      .threads = a->threads, .fp16 = a->fp16, .profile = a->profile,
	                      .gpu_nchw = a->nchw };
	/* Without --batch the model runs at exactly the shapes of the given inputs. */
	if (!a->batch) {
		for (int j = 0; j < a->n_in; j++) {
			shapes[j] = blobs[j].info;
			shapes[j].name = a->in_name[j] ? a->in_name[j] : NULL;
		}
		o.input_shapes = shapes;
		o.n_input_shapes = a->n_in;
	}
	return inf_engine_open(a->model, &o, e);
}

int main(int argc, char **argv)
{
	/* The output files must not become stdout or stderr when a caller closed them. */
	if (vp_stdio_reserve() < 0)
		return 1;
	vp_omp_tune(argv);
	args a;
	inf_blob blobs[MAX_INPUTS] = { 0 };
	inf_engine *e = NULL;
	int rc = 1;
	if (parse_args(argc, argv, &a) < 0) {
		usage(stderr);
		return 1;
	}
	for (int j = 0; j < a.n_in; j++)
		if (inf_blob_read(a.in_file[j], &blobs[j]) < 0)
			goto out;
	if (mkdir(a.out_dir, 0755) < 0 && errno != EEXIST) {
		vp_err("run-model", NULL, "%s: cannot create the output directory: %s", a.out_dir, strerror(errno));
		goto out;
	}
	double t0 = (vp_mono_ns() / 1e6);
	if (open_engine(&a, blobs, &e) < 0) {
		rc = 2;
		goto out;
	}
	double t_load = (vp_mono_ns() / 1e6) - t0;
	for (int j = 0; j < a.n_in; j++) {
		int k = engine_index(e, &a, j);
		if (k < 0) {
			vp_err("run-model", NULL, "%s: the model has no input %s", a.in_file[j],
			       a.in_name[j] ? a.in_name[j] : "at this position");
			goto out;
		}
		if (fill_input(e, k, &blobs[j], a.in_file[j]) < 0)
			goto out;
	}
	int batch = a.batch ? a.batch : 1;
	double best = 1e30;
	for (int r = 0; r < a.runs; r++) {
		double t1 = (vp_mono_ns() / 1e6);
		if (inf_engine_run(e, batch) < 0)
			goto out;
		double dt = (vp_mono_ns() / 1e6) - t1;
		best = dt < best ? dt : best;
	}
	if (write_outputs(e, a.out_dir, a.batch) < 0)
		goto out;
	printf("backend %s, batch %d: load %.1f ms, run %.2f ms (best of %d), %.2f ms/image, peak %.1f MB\n",
	       inf_engine_backend_name(e), batch, t_load, best, a.runs, best / batch,
	       inf_engine_peak_bytes(e) / 1048576.0);
	if (a.profile)
		print_profile(e, a.runs);
	rc = 0;
out:
	inf_engine_free(&e);
	for (int j = 0; j < a.n_in; j++)
		inf_blob_clear(&blobs[j]);
	return rc;
}
