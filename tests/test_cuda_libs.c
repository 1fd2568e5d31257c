/* The cuDNN / cuBLAS search (infer/cuda/cuda_libs.c) on a fake file system: every test builds a
 * tree of stub shared objects (compiled here with cc -shared, exporting the symbols of the
 * real tables, with a chosen version and handle status) under a temporary root, and runs
 * the real search order and candidate tables over it. No GPU, no CUDA library needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "infer/cuda/cuda_libs.h"
#include "pipeline/vp_err.h"
#include "test_skip.h"

static char root[256];
static char log_text[16384];

/* How a stub main library behaves. */
typedef struct stub_opts {
	int version;        /* cudnnGetVersion's value, or cuBLAS's major version */
	int create_status;  /* what cudnnCreate / cublasCreate_v2 return */
	const char *omit;   /* a symbol of the table left out */
} stub_opts;

static void mkdirs(const char *path)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	mkdir(buf, 0755);
}

static void compile(const char *src, const char *dir, const char *soname)
{
	char full[1024], cmd[3072], c_file[1100];
	snprintf(full, sizeof(full), "%s%s", root, dir);
	mkdirs(full);
	snprintf(c_file, sizeof(c_file), "%s/stub-%s.c", root, soname);
	FILE *f = fopen(c_file, "w");
	assert_non_null(f);
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -o '%s/%s' -Wl,-soname,%s '%s' 2>&1", full, soname, soname, c_file);
	assert_int_equal(system(cmd), 0);
}

/* A main library exporting every symbol of spec (but opts.omit). */
static void stub_main(const cuda_lib_spec *spec, const char *dir, const char *soname, stub_opts o)
{
	char src[8192];
	size_t w = (size_t)snprintf(src, sizeof(src), "#include <stddef.h>\n");
	for (int i = 0; spec->syms[i]; i++) {
		const char *s = spec->syms[i];
		if (o.omit && strcmp(s, o.omit) == 0)
			continue;
		if (strcmp(s, "cudnnGetVersion") == 0)
			w += (size_t)snprintf(src + w, sizeof(src) - w, "size_t %s(void) { return %d; }\n", s, o.version);
		else if (strcmp(s, "cudnnCreate") == 0 || strcmp(s, "cublasCreate_v2") == 0)
			w += (size_t)snprintf(src + w, sizeof(src) - w, "int %s(void **h) { *h = (void *)h; return %d; }\n", s,
			                      o.create_status);
		else if (strcmp(s, "cudnnGetErrorString") == 0)
			w += (size_t)snprintf(src + w, sizeof(src) - w,
			                      "const char *%s(int s) { return s ? \"CUDNN_STATUS_STUB_FAILURE\" : \"ok\"; }\n", s);
		else if (strcmp(s, "cublasGetProperty") == 0)
			w += (size_t)snprintf(src + w, sizeof(src) - w,
			                      "int %s(int t, int *v) { *v = t == 0 ? %d : t == 1 ? 1 : 2; return 0; }\n", s,
			                      o.version);
		else
			w += (size_t)snprintf(src + w, sizeof(src) - w, "int %s(void) { return 0; }\n", s);
		assert_true(w < sizeof(src));
	}
	compile(src, dir, soname);
}

static void stub_plain(const char *dir, const char *soname)
{
	compile("int vapd_stub(void) { return 0; }\n", dir, soname);
}

/* cuDNN 9 with its engine libraries, as pip's nvidia-cudnn wheel lays it out. */
static void stub_cudnn(const char *dir, stub_opts o)
{
	static const char *const subs[] = {
		"libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_engines_precompiled.so.9",
		"libcudnn_heuristic.so.9", "libcudnn_engines_runtime_compiled.so.9", NULL,
	};
	stub_main(&cuda_lib_cudnn, dir, "libcudnn.so.9", o);
	for (int i = 0; subs[i]; i++)
		stub_plain(dir, subs[i]);
}

static void stub_cublas(const char *dir, int major, stub_opts o)
{
	char name[64], lt[64];
	snprintf(name, sizeof(name), "libcublas.so.%d", major);
	snprintf(lt, sizeof(lt), "libcublasLt.so.%d", major);
	o.version = major;
	stub_plain(dir, lt);
	stub_main(&cuda_lib_cublas, dir, name, o);
}

static void remove_file(const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s%s/%s", root, dir, name);
	assert_int_equal(unlink(path), 0);
}

static void write_garbage(const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s%s/%s", root, dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("not an ELF file\n", f);
	fclose(f);
}

/* Runs the search with the real tables over the fake root; its log lands in log_text. */
static int find(const cuda_lib_spec *spec, cuda_lib *l, char *why, size_t wn)
{
	fflush(stderr);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(2);
	assert_true(saved >= 0 && dup2(fileno(tmp), 2) >= 0);
	int rc = cuda_lib_find(spec, cuda_lib_places, root, l, why, wn);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t got = fread(log_text, 1, sizeof(log_text) - 1, tmp);
	log_text[got] = 0;
	fclose(tmp);
	return rc;
}

static void expect_path(const cuda_lib *l, const char *dir, const char *name)
{
	char want[1024];
	snprintf(want, sizeof(want), "%s%s/%s", root, dir, name);
	assert_string_equal(l->path, want);
}

static int setup(void **state)
{
	(void)state;
	if (system("command -v cc >/dev/null 2>&1") != 0)
		return 0;
	snprintf(root, sizeof(root), "/tmp/vapd-cuda-libs-XXXXXX");
	assert_non_null(mkdtemp(root));
	/* only what a test sets may point the search anywhere */
	static const char *const vars[] = { "VAPD_CUDA_LIB_DIRS", "VIRTUAL_ENV", "CONDA_PREFIX", "CUDA_HOME", "HOME", NULL };
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	if (root[0] && strncmp(root, "/tmp/vapd-cuda-libs-", 20) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			return -1;
	}
	root[0] = 0;
	return 0;
}

#define NEED_CC()                                                  \
	do {                                                       \
		if (!root[0])                                      \
			skip_because("deps", "cc not found");      \
	} while (0)

#define VENV "/opt/torch/.venv/lib/python3.12/site-packages"
#define OLD_VENV "/opt/torch/.venv/lib/python3.9/site-packages"

static void test_cudnn_found_in_a_venv_with_version_and_path_logged(void **state)
{
	(void)state;
	NEED_CC();
	stub_cudnn(VENV "/nvidia/cudnn/lib", (stub_opts){ .version = 90102 });
	cuda_lib l;
	char why[1024] = "";
	assert_int_equal(find(&cuda_lib_cudnn, &l, why, sizeof(why)), 0);
	expect_path(&l, VENV "/nvidia/cudnn/lib", "libcudnn.so.9");
	assert_string_equal(l.version, "9.1.2");
	char line[1200];
	snprintf(line, sizeof(line), "cuDNN 9.1.2 from %s\n", l.path);
	assert_non_null(strstr(log_text, line));
	assert_null(strstr(log_text, "WARN"));
	assert_int_equal(l.n_held, 6);   /* 4 engine libraries + the 2 optional ones */
	cuda_lib_close(&l);
}

static void test_cublas_12_found_when_13_is_absent(void **state)
{
	(void)state;
	NEED_CC();
	/* a CUDA 12 venv: nvidia/cublas/lib holds .12 only */
	stub_cublas(VENV "/nvidia/cublas/lib", 12, (stub_opts){ 0 });
	cuda_lib l;
	char why[1024] = "";
	assert_int_equal(find(&cuda_lib_cublas, &l, why, sizeof(why)), 0);
	expect_path(&l, VENV "/nvidia/cublas/lib", "libcublas.so.12");
	assert_string_equal(l.version, "12.1.2");
	assert_int_equal(l.n_held, 1);   /* libcublasLt.so.12, opened first from the same folder */
	cuda_lib_close(&l);
}

static void test_preferred_soname_wins_within_a_place_and_earlier_places_win(void **state)
{
	(void)state;
	NEED_CC();
	stub_cublas(VENV "/nvidia/cublas/lib", 12, (stub_opts){ 0 });
	stub_cublas(VENV "/nvidia/cu13/lib", 13, (stub_opts){ 0 });
	stub_cublas(OLD_VENV "/nvidia/cu13/lib", 13, (stub_opts){ 0 });
	cuda_lib l;
	char why[1024] = "";
	assert_int_equal(find(&cuda_lib_cublas, &l, why, sizeof(why)), 0);
	expect_path(&l, VENV "/nvidia/cu13/lib", "libcublas.so.13");   /* python3.12 sorts before 3.9 */
	cuda_lib_close(&l);
	/* the toolkit comes before any venv, even with an older soname */
	stub_cublas("/usr/local/cuda/lib64", 12, (stub_opts){ 0 });
	assert_int_equal(find(&cuda_lib_cublas, &l, why, sizeof(why)), 0);
	expect_path(&l, "/usr/local/cuda/lib64", "libcublas.so.12");
	cuda_lib_close(&l);
	/* and $VAPD_CUDA_LIB_DIRS before everything */
	stub_cublas("/mine/b", 13, (stub_opts){ 0 });
	setenv("VAPD_CUDA_LIB_DIRS", "/mine/a:/mine/b", 1);
	assert_int_equal(find(&cuda_lib_cublas, &l, why, sizeof(why)), 0);
	expect_path(&l, "/mine/b", "libcublas.so.13");
	cuda_lib_close(&l);
	unsetenv("VAPD_CUDA_LIB_DIRS");
}

static void test_candidate_missing_a_symbol_is_skipped_with_its_path(void **state)
{
	(void)state;
	NEED_CC();
	stub_cudnn("/usr/local/cuda/lib64", (stub_opts){ .version = 90000, .omit = "cudnnConvolutionBackwardData" });
	stub_cudnn(VENV "/nvidia/cudnn/lib", (stub_opts){ .version = 91000 });
	cuda_lib l;
	char why[1024] = "";
	assert_int_equal(find(&cuda_lib_cudnn, &l, why, sizeof(why)), 0);
	expect_path(&l, VENV "/nvidia/cudnn/lib", "libcudnn.so.9");
	char line[1200];
	snprintf(line, sizeof(line), "cuDNN: skipping %s/usr/local/cuda/lib64/libcudnn.so.9: symbol cudnnConvolutionBackwardData missing\n",
	         root);
	assert_non_null(strstr(log_text, line));
	assert_non_null(strstr(log_text, "cuDNN 9.10.0 from "));
	cuda_lib_close(&l);
}

static void test_missing_engine_library_fails_with_one_clear_reason(void **state)
{
	(void)state;
	NEED_CC();
	stub_cudnn(VENV "/nvidia/cudnn/lib", (stub_opts){ .version = 90100 });
	remove_file(VENV "/nvidia/cudnn/lib", "libcudnn_cnn.so.9");
	cuda_lib l;
	char why[2048] = "";
	assert_int_equal(find(&cuda_lib_cudnn, &l, why, sizeof(why)), VP_ENODEV);
	assert_null(l.lib);
	assert_non_null(strstr(why, "no usable cuDNN (libcudnn.so.9)"));
	assert_non_null(strstr(why, VENV "/nvidia/cudnn/lib/libcudnn.so.9: libcudnn_cnn.so.9 is missing beside it"));
}

static void test_broken_engine_library_is_named(void **state)
{
	(void)state;
	NEED_CC();
	stub_cudnn(VENV "/nvidia/cudnn/lib", (stub_opts){ .version = 90100 });
	write_garbage(VENV "/nvidia/cudnn/lib", "libcudnn_engines_precompiled.so.9");
	cuda_lib l;
	char why[2048] = "";
	assert_int_equal(find(&cuda_lib_cudnn, &l, why, sizeof(why)), VP_ENODEV);
	assert_non_null(strstr(why, "libcudnn_engines_precompiled.so.9 does not load: "));
}

static void test_broken_optional_library_is_a_warning_only(void **state)
{
	(void)state;
	NEED_CC();
	stub_cudnn(VENV "/nvidia/cudnn/lib", (stub_opts){ .version = 90100 });
	write_garbage(VENV "/nvidia/cudnn/lib", "libcudnn_engines_runtime_compiled.so.9");
	cuda_lib l;
	char why[1024] = "";
	assert_int_equal(find(&cuda_lib_cudnn, &l, why, sizeof(why)), 0);
	assert_non_null(strstr(log_text, "libcudnn_engines_runtime_compiled.so.9 does not load"));
	assert_non_null(strstr(log_text, "(optional, going on)"));
	cuda_lib_close(&l);
}

static void test_old_cudnn_and_failing_handle_are_skipped(void **state)
{
	(void)state;
	NEED_CC();
	stub_cudnn("/usr/local/cuda/lib64", (stub_opts){ .version = 8907 });
	stub_cudnn(VENV "/nvidia/cudnn/lib", (stub_opts){ .version = 90100, .create_status = 1001 });
	cuda_lib l;
	char why[2048] = "";
	assert_int_equal(find(&cuda_lib_cudnn, &l, why, sizeof(why)), VP_ENODEV);
	assert_non_null(strstr(log_text, "libcudnn.so.9: cuDNN 8.9.7 is older than 9"));
	assert_non_null(strstr(why, "libcudnn.so.9: cuDNN 9.1.0: cudnnCreate: CUDNN_STATUS_STUB_FAILURE"));
}

static void test_cublas_whose_handle_fails_falls_back_to_the_next_soname(void **state)
{
	(void)state;
	NEED_CC();
	/* cuBLAS 13 on a driver too old for it: cublasCreate says NOT_INITIALIZED */
	stub_cublas(VENV "/nvidia/cu13/lib", 13, (stub_opts){ .create_status = 1 });
	stub_cublas(VENV "/nvidia/cublas/lib", 12, (stub_opts){ 0 });
	cuda_lib l;
	char why[1024] = "";
	assert_int_equal(find(&cuda_lib_cublas, &l, why, sizeof(why)), 0);
	expect_path(&l, VENV "/nvidia/cublas/lib", "libcublas.so.12");
	assert_non_null(strstr(log_text, "cublasCreate: status 1 (not initialized"));
	cuda_lib_close(&l);
}

static void test_nothing_found_says_what_and_where(void **state)
{
	(void)state;
	NEED_CC();
	cuda_lib l;
	char why[1024] = "";
	assert_int_equal(find(&cuda_lib_cublas, &l, why, sizeof(why)), VP_ENODEV);
	assert_string_equal(why, "cuBLAS not found (libcublas.so.13 or libcublas.so.12 in $VAPD_CUDA_LIB_DIRS, on the "
	                         "loader path, in the CUDA toolkit or in a site-packages/nvidia/cu13/lib)");
	assert_string_equal(log_text, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cudnn_found_in_a_venv_with_version_and_path_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cublas_12_found_when_13_is_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preferred_soname_wins_within_a_place_and_earlier_places_win, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_candidate_missing_a_symbol_is_skipped_with_its_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_engine_library_fails_with_one_clear_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_engine_library_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_optional_library_is_a_warning_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_cudnn_and_failing_handle_are_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cublas_whose_handle_fails_falls_back_to_the_next_soname, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_nothing_found_says_what_and_where, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
