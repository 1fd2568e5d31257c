/* Finding cuDNN and cuBLAS at run time. Which files are acceptable, what each needs beside
 * it and where to look are data (the tables in cuda_libs.c); the search is plain dlopen
 * and glob work, free of CUDA headers, so tests/test_cuda_libs.c runs it on a tree of stub
 * libraries on any machine. infer/cuda/cuda_dl.c resolves the backend's entry points from what
 * it finds. */
#ifndef INF_CUDA_LIBS_H
#define INF_CUDA_LIBS_H

#include <stddef.h>

/* One acceptable file of a library. Its folder must also hold `after`, the libraries it
 * opens lazily (cuDNN 9's engines): they are opened right after it, so a broken install
 * fails at start-up with one line instead of an error at the first convolution.
 * `optional` ones are opened when present (a broken one is a warning). `before`: what it
 * links against, opened first from the same folder, since that folder may be on no
 * loader path. Lists are NULL-terminated or NULL. */
typedef struct cuda_lib_cand {
	const char *soname;
	const char *const *before;
	const char *const *after;
	const char *const *optional;
} cuda_lib_cand;

typedef struct cuda_lib_spec {
	const char *name;                /* "cuDNN", in messages */
	const cuda_lib_cand *cands;      /* preferred first; ends with a NULL soname */
	const char *const *pkgs;         /* wheel folders under site-packages/nvidia/ */
	const char *const *syms;         /* every symbol the backend resolves */
	/* Writes the version ("9.1.0"); < 0 with why when the library is unusable (too old,
	 * or its handle cannot be created on the current device). */
	int (*check)(void *lib, char *ver, size_t vn, char *why, size_t wn);
} cuda_lib_spec;

enum cuda_lib_place_kind {
	CUDA_LIB_ENV_DIRS,   /* where: a variable of colon-separated folders */
	CUDA_LIB_LOADER,     /* the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache) */
	CUDA_LIB_DIR,        /* where: a folder (glob; a leading $NAME expands, unset: skipped) */
	CUDA_LIB_SITE,       /* where: a site-packages folder (glob, $NAME): its nvidia/<pkg>/lib */
};

typedef struct cuda_lib_place {
	enum cuda_lib_place_kind kind;
	const char *where;               /* NULL ends the table */
} cuda_lib_place;

/* The search order: $VAPD_CUDA_LIB_DIRS, the loader path, the CUDA toolkit, then the
 * site-packages of the usual Python installs and virtual environments. */
extern const cuda_lib_place cuda_lib_places[];
extern const cuda_lib_spec cuda_lib_cudnn, cuda_lib_cublas;

#define CUDA_LIB_HELD 16

typedef struct cuda_lib {
	void *lib;
	void *held[CUDA_LIB_HELD];       /* its before/after/optional companions, kept open */
	int n_held;
	char path[1024];                 /* the file lib came from */
	char version[32];
} cuda_lib;

/* Finds spec's library: place by place, every candidate soname in each place (in order),
 * the first that loads with its companions, exports every symbol of spec->syms and
 * passes spec->check. A candidate that is there but broken is skipped with one warning
 * naming the file and the reason; the one chosen is logged at info ("cuDNN 9.1.0 from
 * PATH"). root (tests: a fake tree; NULL or "" for the real one) prefixes every folder
 * searched and leaves the loader path out. Returns 0, or VP_ENODEV with why (what was
 * looked for, and the last reason a candidate was skipped). */
int cuda_lib_find(const cuda_lib_spec *spec, const cuda_lib_place *places, const char *root, cuda_lib *ret,
                  char *why, size_t wn);
/* Closes what cuda_lib_find opened; the struct may be zeroed or found. */
void cuda_lib_close(cuda_lib *l);

#endif
