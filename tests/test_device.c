/* pipeline.device: the config resolves it into the GPU index every part uses (cuda:N, auto
 * = 0, cpu = -1, which also puts the model on the CPU backend and refuses explicit GPU
 * keys), and the pipeline refuses at start a cuda:N this machine does not have, naming the
 * config line and what the machine has. Runs with or without a GPU. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipeline/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"

static char shared[512];

typedef struct loaded {
	char path[64];
	pipe_config *cfg;
	char *errs;
	int r;
} loaded;

/* Loads yaml (with $S replaced by the shared directory) from a temporary file kept until unload. */
static void load(loaded *l, const char *yaml)
{
	char text[4096];
	size_t o = 0;
	for (const char *s = yaml; *s && o + sizeof(shared) + 1 < sizeof(text); s++) {
		if (s[0] == '$' && s[1] == 'S') {
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s", shared);
			s++;
		} else {
			text[o++] = *s;
		}
	}
	text[o] = '\0';
	strcpy(l->path, "/tmp/vapd-dev-XXXXXX.yaml");
	int fd = mkstemps(l->path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, o), (ssize_t)o);
	close(fd);
	size_t len;
	FILE *err = open_memstream(&l->errs, &len);
	assert_non_null(err);
	l->cfg = NULL;
	l->r = pipe_config_load(l->path, err, &l->cfg);
	fclose(err);
}

static void unload(loaded *l)
{
	pipe_config_free(&l->cfg);
	free(l->errs);
	unlink(l->path);
}

#define SOURCE "sources:\n  - id: cars\n    uri: $S/data/videos/cars-432p.mp4\n"
#define MODEL "model:\n  path: $S/models/yolox_nano.onnx\n  family: yolox\n"

static void test_device_resolves_into_every_part(void **state)
{
	(void)state;
	static const struct { const char *dev; int gpu; } cases[] = {
		{ "", 0 }, { "pipeline: { device: auto }\n", 0 }, { "pipeline: { device: 'cuda:3' }\n", 3 },
		{ "pipeline: { device: cpu }\n", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[1024];
		loaded l;
		snprintf(yaml, sizeof(yaml), "%s" SOURCE "  - id: two\n    uri: $S/data/videos/people-2s.mp4\n" MODEL,
		         cases[i].dev);
		load(&l, yaml);
		assert_int_equal(l.r, 0);
		assert_int_equal(l.cfg->gpu, cases[i].gpu);
		assert_int_equal(l.cfg->model.gpu, cases[i].gpu);
		assert_int_equal(l.cfg->sources[0].gpu, cases[i].gpu);
		assert_int_equal(l.cfg->sources[1].gpu, cases[i].gpu);
		/* cpu leaves the backend no choice; otherwise auto stays auto. */
		assert_int_equal(l.cfg->model.backend, cases[i].gpu < 0 ? PIPE_BACKEND_CPU : PIPE_BACKEND_AUTO);
		assert_int_equal(l.cfg->device_pos.line, cases[i].dev[0] ? 1 : 0);
		unload(&l);
	}
}

/* Asserts that loading fails with a line "FILE:expect...". */
static void expect_error(const char *yaml, const char *expect)
{
	loaded l;
	load(&l, yaml);
	assert_int_equal(l.r, VP_ECONFIG);
	char want[256];
	snprintf(want, sizeof(want), "%s:%s", l.path, expect);
	if (!strstr(l.errs, want))
		fprintf(stderr, "expected '%s' in:\n%s", want, l.errs);
	assert_non_null(strstr(l.errs, want));
	unload(&l);
}

static void test_cpu_contradicts_explicit_gpu_keys(void **state)
{
	(void)state;
	expect_error("pipeline:\n  device: cpu\n" SOURCE MODEL "  backend: cuda\n",
	             "9:12: model.backend: cuda contradicts pipeline.device: cpu (line 2)");
	expect_error("pipeline:\n  device: cpu\n" SOURCE "    decoder: nvdec\n",
	             "6:14: sources[0].decoder: nvdec contradicts pipeline.device: cpu (line 2)");
}

/* Starts a pipeline on the config; returns its code and what it printed on stderr in out. */
static int start_capturing(const pipe_config *cfg, char *out, size_t n)
{
	char path[] = "/tmp/vapd-dev-err-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	dup2(fd, STDERR_FILENO);
	pipe_pipeline *p = NULL;
	int rc = pipe_pipeline_start(cfg, NULL, &p);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	if (rc == 0) {
		pipe_pipeline_stop(p);
		pipe_pipeline_free(&p);
	}
	ssize_t got = pread(fd, out, n - 1, 0);
	out[got > 0 ? got : 0] = '\0';
	close(fd);
	unlink(path);
	return rc;
}

static void test_start_refuses_a_gpu_the_machine_lacks(void **state)
{
	(void)state;
	loaded l;
	load(&l, "log: { level: error }\nsources:\n  - id: cars\n    uri: $S/data/videos/cars-432p.mp4\n"
	         "pipeline:\n  name: dev\n  device: cuda:63\n");
	assert_int_equal(l.r, 0);
	char out[2048], want[128];
	assert_int_equal(start_capturing(l.cfg, out, sizeof(out)), VP_ECONFIG);
	printf("# %s", out);
	snprintf(want, sizeof(want), "%s:7:11: pipeline.device: cuda:63, but this machine has ", l.path);
	assert_non_null(strstr(out, want));
	/* Either "N GPUs (cuda:0..cuda:N-1)" or "no usable GPU: <why>". */
	assert_true(strstr(out, " GPU") != NULL);
	unload(&l);
}

int main(void)
{
	const char *s = getenv("SHARED");
	snprintf(shared, sizeof(shared), "%s", s && *s ? s : "../shared");
	vp_log_set_level(VP_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_resolves_into_every_part),
		cmocka_unit_test(test_cpu_contradicts_explicit_gpu_keys),
		cmocka_unit_test(test_start_refuses_a_gpu_the_machine_lacks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
