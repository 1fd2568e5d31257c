/* The cuDNN / cuBLAS search: tables of acceptable files and places, and the search over
 * them (see cuda_libs.h). No CUDA header: the few calls the checks make go through
 * function types declared here with the libraries' C ABI. */
#include <dlfcn.h>
#include <glob.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "cuda_dl_syms.h"
#include "cuda_libs.h"

/* pip's nvidia-* wheels install under <site-packages>/nvidia/<pkg>/lib, on no loader path
 * unless LD_LIBRARY_PATH says so; the GPU machines' PyTorch lives in /opt/<name>/.venv.
 * An explicit $VAPD_CUDA_LIB_DIRS comes first. */
const cuda_lib_place cuda_lib_places[] = {
	{ CUDA_LIB_ENV_DIRS, "VAPD_CUDA_LIB_DIRS" },
	{ CUDA_LIB_LOADER, "the loader path" },
	{ CUDA_LIB_DIR, "$CUDA_HOME/lib64" },
	{ CUDA_LIB_DIR, "/usr/local/cuda/lib64" },
	{ CUDA_LIB_SITE, "$VIRTUAL_ENV/lib/python3*/site-packages" },
	{ CUDA_LIB_SITE, "$CONDA_PREFIX/lib/python3*/site-packages" },
	{ CUDA_LIB_SITE, "/opt/*/.venv/lib/python3*/site-packages" },
	{ CUDA_LIB_SITE, "/opt/*/venv/lib/python3*/site-packages" },
	{ CUDA_LIB_SITE, "/opt/*/lib/python3*/site-packages" },
	{ CUDA_LIB_SITE, "/opt/conda/lib/python3*/site-packages" },
	{ CUDA_LIB_SITE, "/usr/local/lib/python3*/dist-packages" },
	{ CUDA_LIB_SITE, "/usr/local/lib/python3*/site-packages" },
	{ CUDA_LIB_SITE, "/usr/lib/python3/dist-packages" },
	{ CUDA_LIB_SITE, "$HOME/.local/lib/python3*/site-packages" },
	{ CUDA_LIB_DIR, NULL },
};

/* ---- the libraries ---- */

#define SYM_NAME(lib, f) #f,
static const char *const cudnn_syms[] = { CUDA_DL_CUDNN_SYMS(SYM_NAME) NULL };
static const char *const cublas_syms[] = { CUDA_DL_CUBLAS_SYMS(SYM_NAME) NULL };
#undef SYM_NAME

/* Reads a symbol the caller has already checked into a function pointer of its type. */
#define LOAD_FN(type, var, lib, name)                  \
	type var;                                      \
	do {                                           \
		void *p_ = dlsym(lib, name);           \
		memcpy(&var, &p_, sizeof(var));        \
	} while (0)

typedef size_t (*dnn_version_fn)(void);
typedef int (*handle_create_fn)(void **handle);
typedef int (*handle_destroy_fn)(void *handle);
typedef const char *(*dnn_error_fn)(int status);
typedef int (*blas_property_fn)(int type, int *value);   /* libraryPropertyType: 0 major, 1 minor, 2 patch */

/* cudnnGetVersion: major*10000 + minor*100 + patch since 9 (major*1000 + ... before). The
 * handle is created on the current device: the backend calls this after choosing it. */
static int cudnn_check(void *lib, char *ver, size_t vn, char *why, size_t wn)
{
	LOAD_FN(dnn_version_fn, get_version, lib, "cudnnGetVersion");
	LOAD_FN(handle_create_fn, create, lib, "cudnnCreate");
	LOAD_FN(handle_destroy_fn, destroy, lib, "cudnnDestroy");
	LOAD_FN(dnn_error_fn, error_string, lib, "cudnnGetErrorString");
	size_t v = get_version();
	if (v >= 90000)
		snprintf(ver, vn, "%zu.%zu.%zu", v / 10000, v / 100 % 100, v % 100);
	else
		snprintf(ver, vn, "%zu.%zu.%zu", v / 1000, v / 100 % 10, v % 100);
	if (v < 90000) {
		snprintf(why, wn, "cuDNN %s is older than 9", ver);
		return -1;
	}
	void *h = NULL;
	int st = create(&h);
	if (st != 0) {
		const char *text = error_string(st);
		snprintf(why, wn, "cuDNN %s: cudnnCreate: %s", ver, text ? text : "unknown status");
		return -1;
	}
	destroy(h);
	return 0;
}

static int cublas_check(void *lib, char *ver, size_t vn, char *why, size_t wn)
{
	LOAD_FN(blas_property_fn, property, lib, "cublasGetProperty");
	LOAD_FN(handle_create_fn, create, lib, "cublasCreate_v2");
	LOAD_FN(handle_destroy_fn, destroy, lib, "cublasDestroy_v2");
	int major = 0, minor = 0, patch = 0;
	property(0, &major);
	property(1, &minor);
	property(2, &patch);
	snprintf(ver, vn, "%d.%d.%d", major, minor, patch);
	void *h = NULL;
	int st = create(&h);
	if (st != 0) {
		/* 1 (NOT_INITIALIZED) is what a driver older than the library's CUDA gives */
		snprintf(why, wn, "cuBLAS %s: cublasCreate: status %d%s", ver, st,
		         st == 1 ? " (not initialized: is the driver older than this cuBLAS needs?)" : "");
		return -1;
	}
	destroy(h);
	return 0;
}

/* cuDNN 9 opens its engines by soname when first used; its RUNPATH ($ORIGIN) finds them
 * beside it. heuristic (mode B) and runtime-compiled engines (NVRTC) are not needed by the
 * legacy API the backend calls; adv (RNN, attention) is never used, so never opened. */
static const char *const cudnn9_after[] = {
	"libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_engines_precompiled.so.9", NULL,
};
static const char *const cudnn9_optional[] = {
	"libcudnn_heuristic.so.9", "libcudnn_engines_runtime_compiled.so.9", NULL,
};
static const cuda_lib_cand cudnn_cands[] = {
	{ "libcudnn.so.9", NULL, cudnn9_after, cudnn9_optional },
	{ NULL, NULL, NULL, NULL },
};
static const char *const cudnn_pkgs[] = { "cudnn", "cu13", NULL };

const cuda_lib_spec cuda_lib_cudnn = {
	.name = "cuDNN", .cands = cudnn_cands, .pkgs = cudnn_pkgs, .syms = cudnn_syms, .check = cudnn_check,
};

/* CUDA 13 wheels share nvidia/cu13/lib; CUDA 12 ones have nvidia/cublas/lib. The binary's
 * calls are the same in both (cudart is static, cuBLAS 12 runs on a CUDA 13 driver). */
static const char *const lt13[] = { "libcublasLt.so.13", NULL };
static const char *const lt12[] = { "libcublasLt.so.12", NULL };
static const cuda_lib_cand cublas_cands[] = {
	{ "libcublas.so.13", lt13, NULL, NULL },
	{ "libcublas.so.12", lt12, NULL, NULL },
	{ NULL, NULL, NULL, NULL },
};
static const char *const cublas_pkgs[] = { "cu13", "cublas", NULL };

const cuda_lib_spec cuda_lib_cublas = {
	.name = "cuBLAS", .cands = cublas_cands, .pkgs = cublas_pkgs, .syms = cublas_syms, .check = cublas_check,
};

/* ---- folders of a place ---- */

typedef struct dir_list {
	char **v;
	int n, cap;
} dir_list;

static void dirs_add(dir_list *d, const char *s)
{
	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 8;
		char **v = realloc(d->v, (size_t)cap * sizeof(*v));
		if (!v)
			return;
		d->v = v;
		d->cap = cap;
	}
	if ((d->v[d->n] = strdup(s)))
		d->n++;
}

static void dirs_free(dir_list *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
}

/* root + pattern (a leading $NAME expanded) + tail; 0 when the variable is unset or the
 * result does not fit. */
static int expand(const char *root, const char *pattern, const char *tail, char *out, size_t n)
{
	const char *rest = pattern, *val = "";
	if (pattern[0] == '$') {
		char name[32];
		size_t len = strcspn(pattern + 1, "/");
		if (len >= sizeof(name))
			return 0;
		memcpy(name, pattern + 1, len);
		name[len] = 0;
		val = getenv(name);
		rest = pattern + 1 + len;
		if (!val || !*val)
			return 0;
	}
	int w = snprintf(out, n, "%s%s%s%s", root, val, rest, tail);
	return w > 0 && (size_t)w < n;
}

static int newest_first(const void *a, const void *b)
{
	return strverscmp(*(char *const *)b, *(char *const *)a);   /* python3.12 before python3.9 */
}

static void add_glob(dir_list *d, const char *pattern)
{
	glob_t gl;
	if (glob(pattern, GLOB_ONLYDIR, NULL, &gl) != 0)
		return;
	qsort(gl.gl_pathv, gl.gl_pathc, sizeof(char *), newest_first);
	for (size_t k = 0; k < gl.gl_pathc; k++)
		dirs_add(d, gl.gl_pathv[k]);
	globfree(&gl);
}

static void place_dirs(const cuda_lib_spec *spec, const cuda_lib_place *p, const char *root, dir_list *d)
{
	char path[1024];
	if (p->kind == CUDA_LIB_ENV_DIRS) {
		const char *dirs = getenv(p->where);
		while (dirs && *dirs) {
			int len = (int)strcspn(dirs, ":");
			if (len > 0 && snprintf(path, sizeof(path), "%s%.*s", root, len, dirs) < (int)sizeof(path))
				dirs_add(d, path);
			dirs += len + (dirs[len] == ':');
		}
	} else if (p->kind == CUDA_LIB_DIR) {
		if (expand(root, p->where, "", path, sizeof(path)))
			add_glob(d, path);
	} else if (p->kind == CUDA_LIB_SITE) {
		for (int k = 0; spec->pkgs[k]; k++) {
			char tail[96];
			snprintf(tail, sizeof(tail), "/nvidia/%s/lib", spec->pkgs[k]);
			if (expand(root, p->where, tail, path, sizeof(path)))
				add_glob(d, path);
		}
	}
}

/* ---- one candidate ---- */

void cuda_lib_close(cuda_lib *l)
{
	if (l->lib)
		dlclose(l->lib);
	while (l->n_held > 0)
		dlclose(l->held[--l->n_held]);
	l->lib = NULL;
}

/* Opens dir/name into l->held: 1 opened, 0 absent (an error when must), -1 with err. */
static int open_beside(cuda_lib *l, const char *dir, const char *name, int must, char *err, size_t n)
{
	char path[1024];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) || access(path, F_OK) != 0) {
		if (must)
			snprintf(err, n, "%s is missing beside it", name);
		return must ? -1 : 0;
	}
	if (l->n_held == CUDA_LIB_HELD) {
		snprintf(err, n, "more than %d companion libraries", CUDA_LIB_HELD);
		return -1;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, n, "%s does not load: %s", name, dlerror());
		return -1;
	}
	l->held[l->n_held++] = h;
	return 1;
}

/* The loader's "not found" for soname itself (not for a library it needs). */
static int loader_absent(const char *err, const char *soname)
{
	size_t len = strlen(soname);
	return err && strncmp(err, soname, len) == 0 && err[len] == ':' && strstr(err, "No such file");
}

static void lib_path(cuda_lib *l, const char *fallback)
{
	struct link_map *lm = NULL;
	const char *p = dlinfo(l->lib, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name[0] ? lm->l_name : fallback;
	snprintf(l->path, sizeof(l->path), "%s", p);
}

/* Whether the file at path was tried already (places overlap: /usr/local/cuda is often a
 * link, and on the loader path); remembers it otherwise. */
static int tried(dir_list *seen, const char *path)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return 0;
	for (int i = 0; i < seen->n; i++)
		if (strcmp(seen->v[i], real) == 0)
			return 1;
	dirs_add(seen, real);
	return 0;
}

/* Opens everything of candidate c from dir (NULL: the loader path) and checks it.
 * Returns 1 usable (l filled), 0 absent or tried before, -1 there but unusable (logged;
 * last says why). */
static int try_cand(const cuda_lib_spec *spec, const cuda_lib_cand *c, const char *dir, dir_list *seen,
                    cuda_lib *l, char *last, size_t ln)
{
	char path[1024], folder[1024], err[400] = "";
	*l = (cuda_lib){ 0 };
	if (dir) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, c->soname) >= (int)sizeof(path) || access(path, F_OK) != 0 ||
		    tried(seen, path))
			return 0;
		for (int k = 0; c->before && c->before[k]; k++)
			if (open_beside(l, dir, c->before[k], 0, err, sizeof(err)) < 0)
				goto skip;
	} else {
		snprintf(path, sizeof(path), "%s", c->soname);
	}
	dlerror();
	if (!(l->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
		const char *e = dlerror();
		if (!dir && loader_absent(e, c->soname))
			return 0;
		snprintf(err, sizeof(err), "does not load: %s", e ? e : "unknown loader error");
		goto skip;
	}
	lib_path(l, path);
	if (!dir && tried(seen, l->path)) {
		cuda_lib_close(l);
		return 0;
	}
	snprintf(folder, sizeof(folder), "%s", l->path);
	char *slash = strrchr(folder, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(folder, sizeof(folder), ".");
	for (int k = 0; spec->syms[k]; k++)
		if (!dlsym(l->lib, spec->syms[k])) {
			snprintf(err, sizeof(err), "symbol %s missing", spec->syms[k]);
			goto skip;
		}
	for (int k = 0; c->after && c->after[k]; k++)
		if (open_beside(l, folder, c->after[k], 1, err, sizeof(err)) < 0)
			goto skip;
	for (int k = 0; c->optional && c->optional[k]; k++)
		if (open_beside(l, folder, c->optional[k], 0, err, sizeof(err)) < 0)
			vp_warn("infer", "cuda", "%s at %s: %s (optional, going on)", spec->name, l->path, err);
	if (spec->check && spec->check(l->lib, l->version, sizeof(l->version), err, sizeof(err)) < 0)
		goto skip;
	return 1;
skip:
	snprintf(last, ln, "%s: %s", l->path[0] ? l->path : path, err);
	vp_warn("infer", "cuda", "%s: skipping %s", spec->name, last);
	cuda_lib_close(l);
	return -1;
}

/* "libcublas.so.13 or libcublas.so.12" */
static void sonames(const cuda_lib_spec *spec, char *out, size_t n)
{
	size_t w = 0;
	out[0] = 0;
	for (int i = 0; spec->cands[i].soname && w < n; i++)
		w += (size_t)snprintf(out + w, n - w, "%s%s", i ? " or " : "", spec->cands[i].soname);
}

int cuda_lib_find(const cuda_lib_spec *spec, const cuda_lib_place *places, const char *root, cuda_lib *ret,
                  char *why, size_t wn)
{
	char last[1536] = "";   /* a path and a reason */
	dir_list seen = { 0 };
	int hit = 0;
	if (!root)
		root = "";
	*ret = (cuda_lib){ 0 };
	for (const cuda_lib_place *p = places; p->where && !hit; p++) {
		if (p->kind == CUDA_LIB_LOADER) {
			for (const cuda_lib_cand *c = spec->cands; c->soname && !hit && !*root; c++)
				hit = try_cand(spec, c, NULL, &seen, ret, last, sizeof(last)) > 0;
			continue;
		}
		dir_list d = { 0 };
		place_dirs(spec, p, root, &d);
		for (const cuda_lib_cand *c = spec->cands; c->soname && !hit; c++)
			for (int i = 0; i < d.n && !hit; i++)
				hit = try_cand(spec, c, d.v[i], &seen, ret, last, sizeof(last)) > 0;
		dirs_free(&d);
	}
	dirs_free(&seen);
	if (hit) {
		vp_info("infer", "cuda", "%s %s from %s", spec->name, ret->version[0] ? ret->version : "(version unknown)",
		        ret->path);
		return 0;
	}
	char names[160];
	sonames(spec, names, sizeof(names));
	if (last[0])
		snprintf(why, wn, "no usable %s (%s); the last one skipped: %s", spec->name, names, last);
	else
		snprintf(why, wn, "%s not found (%s in $VAPD_CUDA_LIB_DIRS, on the loader path, in the CUDA toolkit "
		         "or in a site-packages/nvidia/%s/lib)", spec->name, names, spec->pkgs[0]);
	return VP_ENODEV;
}
