/* Runs the official ONNX node test cases (Debian's libonnx-testdata) whose operators
 * the engine claims, each in a child process so a crashing kernel fails one case (on the
 * cuda backend, one worker process runs case after case and is replaced after a failure),
 * and compares every output (rtol 1e-3, atol 1e-5; FP16 on cuda: rtol 1e-2, atol 1e-3).
 * On the cuda backend a case with an operator that has no GPU kernel is skipped.
 * Usage: tool_onnx_conformance [--data DIR] [--backend cpu|cuda] [--fp16] [--worker] [-v] [FILTER...]
 * (FILTER: case-name substrings; --worker: the one-worker mode on any backend) */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infer/engine.h"
#include "infer/graph/graph.h"
#include "infer/graph/tensor_pb.h"
#include "onnx.pb-c.h"
#include "pipeline/vp_err.h"

#define RTOL 1e-3
#define ATOL 1e-5
#define RTOL_FP16 1e-2
#define ATOL_FP16 1e-3
#define EXIT_UNSUP 3

typedef struct run_opts {
	const char *backend;
	int fp16;
} run_opts;
#define MAX_IO 16
#define CASE_TIMEOUT_S 60

typedef struct skip_list {
	char names[256][64];
	int n;
} skip_list;

static void skip_add(skip_list *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return;
	if (s->n < 256)
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
}

/* Cases whose expected outputs come from numpy's random generator. */
static const char *const random_cases[] = {
	"test_training_dropout", "test_training_dropout_default", "test_training_dropout_default_mask",
	"test_training_dropout_mask", NULL,
};

static int is_random_case(const char *name)
{
	for (int i = 0; random_cases[i]; i++)
		if (strcmp(random_cases[i], name) == 0)
			return 1;
	return 0;
}

static int dtype_known(const Onnx__ValueInfoProto *vi)
{
	const Onnx__TypeProto *t = vi->type;
	return t && t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && t->tensor_type &&
	       inf_dtype_size(t->tensor_type->elem_type) > 0;
}

enum skip_kind { SKIP_NONE = 0, SKIP_OP, SKIP_DTYPE, SKIP_OPSET, SKIP_RANDOM, SKIP_KINDS };

/* Why the case is outside the engine's claims (unclaimed operator, non-tensor or
 * foreign dtype, opset older than 11), or SKIP_NONE when it must pass. used: set to the
 * case's operator types. */
static int skip_reason(const char *model, char *why, size_t len, skip_list *ops, skip_list *used)
{
	used->n = 0;
	int kind = SKIP_NONE;
	uint8_t *buf;
	size_t n;
	if (inf_read_file(model, &buf, &n) < 0)
		return SKIP_NONE;
	Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, buf);
	free(buf);
	if (!m || !m->graph) {
		if (m)
			onnx__model_proto__free_unpacked(m, NULL);
		return SKIP_NONE;
	}
	const Onnx__GraphProto *g = m->graph;
	*why = 0;
	for (size_t i = 0; i < g->n_node; i++) {
		const Onnx__NodeProto *np = g->node[i];
		skip_add(used, np->op_type);
		int foreign = np->domain && *np->domain && strcmp(np->domain, "ai.onnx") != 0;
		if (foreign || (strcmp(np->op_type, "Constant") != 0 && !inf_op_find(np->op_type))) {
			snprintf(why, len, "operator %s", np->op_type);
			skip_add(ops, np->op_type);
			kind = SKIP_OP;
			break;
		}
	}
	for (size_t i = 0; !*why && i < g->n_input + g->n_output; i++) {
		const Onnx__ValueInfoProto *vi = i < g->n_input ? g->input[i] : g->output[i - g->n_input];
		if (!dtype_known(vi)) {
			snprintf(why, len, "value '%s' is not a tensor of an engine dtype", vi->name);
			kind = SKIP_DTYPE;
		}
	}
	for (size_t i = 0; !*why && i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *o = m->opset_import[i];
		if ((!o->domain || !*o->domain) && o->version < 7) {
			snprintf(why, len, "opset %lld < 7", (long long)o->version);
			kind = SKIP_OPSET;
		}
	}
	onnx__model_proto__free_unpacked(m, NULL);
	return kind;
}

static float half_to_float(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25);
	return h & 0x8000 ? -v : v;
}

static double elem(const void *d, int dtype, size_t i)
{
	switch (dtype) {
	case INF_DT_FLOAT: return ((const float *)d)[i];
	case INF_DT_DOUBLE: return ((const double *)d)[i];
	case INF_DT_FLOAT16: return half_to_float(((const uint16_t *)d)[i]);
	case INF_DT_INT64: return (double)((const int64_t *)d)[i];
	case INF_DT_INT32: return ((const int32_t *)d)[i];
	case INF_DT_INT8: return ((const int8_t *)d)[i];
	default: return ((const uint8_t *)d)[i];
	}
}

static int compare(const inf_tensor_info *got, const void *data, const inf_blob *exp, double rtol, double atol,
                   char *why, size_t len)
{
	if (got->dtype != exp->info.dtype) {
		snprintf(why, len, "output '%s' dtype %d, expected %d", exp->name, got->dtype, exp->info.dtype);
		return -1;
	}
	if (got->ndim != exp->info.ndim || memcmp(got->dims, exp->info.dims, sizeof(int64_t) * (size_t)got->ndim)) {
		char a[128] = "", b[128] = "";
		for (int i = 0; i < got->ndim; i++)
			snprintf(a + strlen(a), sizeof(a) - strlen(a), "%s%lld", i ? "," : "", (long long)got->dims[i]);
		for (int i = 0; i < exp->info.ndim; i++)
			snprintf(b + strlen(b), sizeof(b) - strlen(b), "%s%lld", i ? "," : "", (long long)exp->info.dims[i]);
		snprintf(why, len, "output '%s' shape [%s], expected [%s]", exp->name, a, b);
		return -1;
	}
	int is_float = got->dtype == INF_DT_FLOAT || got->dtype == INF_DT_DOUBLE || got->dtype == INF_DT_FLOAT16;
	size_t n = exp->bytes / inf_dtype_size(exp->info.dtype);
	for (size_t i = 0; i < n; i++) {
		double g = elem(data, got->dtype, i), e = elem(exp->data, got->dtype, i);
		int ok = is_float ? ((isnan(g) && isnan(e)) || g == e || fabs(g - e) <= atol + rtol * fabs(e)) : g == e;
		if (!ok) {
			snprintf(why, len, "output '%s'[%zu] = %.7g, expected %.7g", exp->name, i, g, e);
			return -1;
		}
	}
	return 0;
}

static int load_blobs(const char *dir, const char *prefix, inf_blob *b, int *n)
{
	char path[1024];
	for (*n = 0; *n < MAX_IO; (*n)++) {
		snprintf(path, sizeof(path), "%s/test_data_set_0/%s_%d.pb", dir, prefix, *n);
		if (access(path, R_OK) != 0)
			break;
		if (inf_blob_read(path, &b[*n]) < 0)
			return -1;
	}
	return 0;
}

/* Range's start is its input 0 but, with limit and delta, decides the output's length. */
static int read_as_data(const inf_graph *g, const inf_tensor *t)
{
	for (int i = 0; i < g->n_nodes; i++)
		if (g->nodes[i]->n_in > 0 && g->nodes[i]->in[0] == t && strcmp(g->nodes[i]->op_type, "Range") != 0)
			return 1;
	return 0;
}

/* FP16 runs only cases whose float data half can hold (|v| <= 65504). */
static int fits_half(const inf_blob *b, int n)
{
	for (int k = 0; k < n; k++) {
		if (b[k].info.dtype != INF_DT_FLOAT)
			continue;
		const float *v = b[k].data;
		for (size_t i = 0; i < b[k].bytes / sizeof(float); i++)
			if (fabsf(v[i]) > 65504.0f)
				return 0;
	}
	return 1;
}

/* In the child: stdout carries the verdict line, stderr the engine's log. */
static int run_case(const char *dir, const run_opts *ro)
{
	inf_blob in[MAX_IO] = { 0 }, out[MAX_IO] = { 0 };
	inf_tensor_info shapes[MAX_IO];
	int n_in, n_out, ret = 1;
	char model[1100], why[512] = "";
	inf_engine *e = NULL;
	inf_graph *g = NULL;
	if (load_blobs(dir, "input", in, &n_in) < 0 || load_blobs(dir, "output", out, &n_out) < 0) {
		printf("FAIL cannot read test data\n");
		return 1;
	}
	if (ro->fp16 && (!fits_half(in, n_in) || !fits_half(out, n_out))) {
		printf("FAIL values outside the FP16 range\n");
		ret = EXIT_UNSUP;
		goto out;
	}
	snprintf(model, sizeof(model), "%s/model.onnx", dir);
	/* Input files are in the order of the graph's (non-initializer) inputs. */
	if (inf_onnx_import(model, &g) < 0) {
		printf("FAIL import\n");
		return 1;
	}
	for (int i = 0; i < n_in && i < g->n_inputs; i++) {
		shapes[i] = in[i].info;
		shapes[i].name = g->inputs[i]->name;
	}
	/* The engine plans static shapes: inputs that may decide shapes (integer inputs,
	 * parameters such as Resize scales that no node reads as its data input 0) are
	 * given as constants, as an exporter would have written them. */
	const void *consts[MAX_IO] = { 0 };
	for (int i = 0; i < n_in && i < g->n_inputs; i++)
		if (in[i].info.dtype == INF_DT_INT64 || in[i].info.dtype == INF_DT_INT32 ||
		    !read_as_data(g, g->inputs[i]))
			consts[i] = in[i].data;
	inf_engine_opts o = { .backend = ro->backend, .fp16 = ro->fp16, .threads = 2, .input_shapes = shapes,
	                      .n_input_shapes = n_in < g->n_inputs ? n_in : g->n_inputs,
	                      .input_consts = consts };
	int err = inf_engine_open(model, &o, &e);
	if (err < 0) {
		printf("FAIL open: %s\n", vp_strerror(err));
		if (err == VP_EUNSUP && strcmp(ro->backend, "cpu") != 0)
			ret = EXIT_UNSUP;
		goto out;
	}
	for (int i = 0; i < o.n_input_shapes; i++)
		if (!consts[i] && in[i].bytes)
			memcpy(inf_engine_input(e, i), in[i].data, in[i].bytes);
	if ((err = inf_engine_run(e, 1)) < 0) {
		printf("FAIL run: %s\n", vp_strerror(err));
		goto out;
	}
	if (n_out != inf_engine_n_outputs(e)) {
		printf("FAIL %d outputs, expected %d\n", inf_engine_n_outputs(e), n_out);
		goto out;
	}
	for (int i = 0; i < n_out; i++) {
		inf_tensor_info info;
		inf_engine_output_info(e, i, &info);
		if (compare(&info, inf_engine_output(e, i), &out[i], ro->fp16 ? RTOL_FP16 : RTOL, ro->fp16 ? ATOL_FP16 : ATOL,
		            why, sizeof(why)) < 0) {
			printf("FAIL %s\n", why);
			goto out;
		}
	}
	printf("PASS\n");
	ret = 0;
out:
	inf_engine_free(&e);
	inf_graph_free(&g);
	for (int i = 0; i < MAX_IO; i++) {
		inf_blob_clear(&in[i]);
		inf_blob_clear(&out[i]);
	}
	return ret;
}

/* A case's result from its exit code and output: 0 pass, EXIT_UNSUP, or 1 with the
 * reason (verdict + first log line) in why. */
static int verdict(char *out, int code, char *why, size_t len)
{
	if (code == 0)
		return 0;
	/* The verdict is the last line; a log line before it names the node. */
	char *last = NULL, *log = NULL, *save = NULL;
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "FAIL", 4) == 0)
			last = l;
		else if (!log && strstr(l, "error"))
			log = l;
	}
	snprintf(why, len, "%s%s%s", last ? last : "FAIL", log ? " | " : "", log ? log : "");
	return code == EXIT_UNSUP ? EXIT_UNSUP : 1;
}

/* Forks run_case; returns 0 pass, 1 fail with the reason (verdict + first log line) in why,
 * EXIT_UNSUP when the backend has no kernel for an operator of the case. */
static int fork_case(const char *dir, const run_opts *ro, char *why, size_t len)
{
	int fd[2];
	if (pipe(fd) < 0)
		return 1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		alarm(CASE_TIMEOUT_S);
		int rc = run_case(dir, ro);
		fflush(stdout);
		_exit(rc);
	}
	close(fd[1]);
	char buf[4096];
	size_t n = 0;
	ssize_t r;
	while ((r = read(fd[0], buf + n, sizeof(buf) - 1 - n)) > 0 && n < sizeof(buf) - 1)
		n += (size_t)r;
	while (r > 0)
		r = read(fd[0], (char[256]){ 0 }, 256);
	close(fd[0]);
	buf[n] = 0;
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st)) {
		snprintf(why, len, "crashed with signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
		return 1;
	}
	return verdict(buf, WEXITSTATUS(st), why, len);
}

/* ---- one worker process for many cases (backends other than cpu) ----
 * A CUDA context and the cuDNN/cuBLAS libraries take long to set up, once per process:
 * a child per case would spend most of the run there. The worker runs cases one after
 * another and is replaced after any failure, so a broken context or a crash still
 * costs one case only; a case over CASE_TIMEOUT_S is killed with its worker. */
#define VERDICT_MARK "\n@@conformance-verdict "

typedef struct worker {
	pid_t pid;
	int cmd, res;   /* case folders in; case output and verdict lines out */
} worker;

static void worker_stop(worker *w)
{
	if (w->pid <= 0)
		return;
	close(w->cmd);
	close(w->res);
	kill(w->pid, SIGKILL);
	waitpid(w->pid, NULL, 0);
	w->pid = 0;
}

static int worker_start(worker *w, const run_opts *ro)
{
	int in[2], out[2];
	if (pipe(in) < 0)
		return -1;
	if (pipe(out) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	fflush(stdout);
	w->pid = fork();
	if (w->pid == 0) {
		close(in[1]);
		close(out[0]);
		dup2(out[1], 1);
		dup2(out[1], 2);
		FILE *cmds = fdopen(in[0], "r");
		char dir[1100];
		while (cmds && fgets(dir, sizeof(dir), cmds)) {
			dir[strcspn(dir, "\n")] = 0;
			int rc = run_case(dir, ro);
			fflush(stderr);
			printf(VERDICT_MARK "%d\n", rc);
			fflush(stdout);
		}
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	w->cmd = in[1];
	w->res = out[0];
	if (w->pid < 0) {
		close(w->cmd);
		close(w->res);
		w->pid = 0;
		return -1;
	}
	return 0;
}

/* Runs one case in the worker (started when needed); same results as fork_case. */
static int worker_case(worker *w, const char *dir, const run_opts *ro, char *why, size_t len)
{
	char buf[8192];
	size_t n = 0;
	if (!w->pid && worker_start(w, ro) < 0)
		return snprintf(why, len, "cannot start a worker process"), 1;
	if (dprintf(w->cmd, "%s\n", dir) < 0) {
		worker_stop(w);
		return snprintf(why, len, "worker process gone"), 1;
	}
	char *mark = NULL;
	while (!mark) {
		struct pollfd pf = { .fd = w->res, .events = POLLIN };
		int pr = poll(&pf, 1, CASE_TIMEOUT_S * 1000);
		ssize_t r = pr > 0 ? read(w->res, buf + n, sizeof(buf) - 1 - n) : -1;
		if (r <= 0) {
			int st = 0;
			close(w->cmd);
			close(w->res);
			if (pr == 0)
				kill(w->pid, SIGKILL);
			waitpid(w->pid, &st, 0);
			w->pid = 0;
			if (pr == 0)
				snprintf(why, len, "timed out after %d s", CASE_TIMEOUT_S);
			else if (WIFSIGNALED(st))
				snprintf(why, len, "crashed with signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
			else
				snprintf(why, len, "worker process ended (status %d)", WEXITSTATUS(st));
			return 1;
		}
		n += (size_t)r;
		buf[n] = 0;
		mark = strstr(buf, VERDICT_MARK);
		if (!mark && n == sizeof(buf) - 1) {   /* keep the head (the log) and the tail */
			memmove(buf + sizeof(buf) / 2, buf + n - 64, 64);
			n = sizeof(buf) / 2 + 64;
		}
	}
	/* The verdict line may still be arriving. */
	while (!strchr(mark + strlen(VERDICT_MARK), '\n')) {
		ssize_t r = read(w->res, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
	}
	int code = atoi(mark + strlen(VERDICT_MARK));
	*mark = 0;
	int rc = verdict(buf, code, why, len);
	if (rc != 0 && rc != EXIT_UNSUP)
		worker_stop(w);   /* the context may be broken: the next case gets a fresh one */
	return rc;
}

static int matches(const char *name, int nf, char **filters)
{
	if (nf == 0)
		return 1;
	for (int i = 0; i < nf; i++)
		if (strstr(name, filters[i]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *data = "/usr/share/libonnx-testdata/data/node";
	char **filters = calloc((size_t)argc, sizeof(char *));
	int nf = 0, verbose = 0, unsup = 0, force_worker = 0;
	run_opts ro = { .backend = "cpu" };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data = argv[++i];
		else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
			ro.backend = argv[++i];
		else if (strcmp(argv[i], "--fp16") == 0)
			ro.fp16 = 1;
		else if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "--worker") == 0)
			force_worker = 1;
		else
			filters[nf++] = argv[i];
	}
	struct dirent **ents;
	int n = scandir(data, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "conformance: cannot list %s\n", data);
		return 2;
	}
	static skip_list ops, claimed_skips[SKIP_KINDS], case_ops, passed_ops;
	/* The CPU backend starts fast: a process per case isolates every case. */
	int one_process = strcmp(ro.backend, "cpu") == 0 && !force_worker;
	worker w = { 0 };
	int passed = 0, failed = 0, skipped = 0;
	for (int i = 0; i < n; i++) {
		char dir[1024], model[1100], why[1024];
		int rc;
		const char *name = ents[i]->d_name;
		snprintf(dir, sizeof(dir), "%s/%s", data, name);
		snprintf(model, sizeof(model), "%s/model.onnx", dir);
		if (name[0] == '.' || !matches(name, nf, filters) || access(model, R_OK) != 0)
			continue;
		int kind = is_random_case(name) ? SKIP_RANDOM : skip_reason(model, why, sizeof(why), &ops, &case_ops);
		if (kind == SKIP_RANDOM)
			snprintf(why, sizeof(why), "expected output is random (training-mode Dropout)");
		if (kind != SKIP_NONE) {
			skipped++;
			/* Cases of claimed operators skipped for their data are listed by name. */
			if (kind != SKIP_OP)
				skip_add(&claimed_skips[kind], name);
			if (verbose)
				printf("SKIP %s: %s\n", name, why);
		} else if ((rc = one_process ? fork_case(dir, &ro, why, sizeof(why))
		                             : worker_case(&w, dir, &ro, why, sizeof(why))) == 0) {
			passed++;
			for (int k = 0; k < case_ops.n; k++)
				skip_add(&passed_ops, case_ops.names[k]);
			if (verbose)
				printf("PASS %s\n", name);
		} else if (rc == EXIT_UNSUP) {
			skipped++;
			unsup++;
			if (verbose)
				printf("SKIP %s: %s\n", name, why);
		} else {
			failed++;
			printf("FAIL %s: %s\n", name, why);
		}
	}
	worker_stop(&w);
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(filters);
	printf("conformance: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	if (unsup)
		printf("cases without %s kernels: %d (counted as skipped)\n", ro.backend, unsup);
	/* What the cases that passed exercised, for t_conformance.sh to hold against its list. */
	printf("passed operators (%d):", passed_ops.n);
	for (int i = 0; i < passed_ops.n; i++)
		printf(" %s", passed_ops.names[i]);
	printf("\n");
	printf("skipped operators (%d):", ops.n);
	for (int i = 0; i < ops.n; i++)
		printf(" %s", ops.names[i]);
	printf("\n");
	static const char *const kind_names[SKIP_KINDS] = {
		[SKIP_DTYPE] = "data type outside the engine (string, bfloat16, uint16...)",
		[SKIP_OPSET] = "opset older than 7",
		[SKIP_RANDOM] = "random expected output",
	};
	for (int k = SKIP_DTYPE; k < SKIP_KINDS; k++) {
		if (!claimed_skips[k].n)
			continue;
		printf("skipped for %s (%d):", kind_names[k], claimed_skips[k].n);
		for (int i = 0; i < claimed_skips[k].n; i++)
			printf(" %s", claimed_skips[k].names[i]);
		printf("\n");
	}
	return failed ? 1 : 0;
}
