/* Allocation counter for the engine tests: this binary's malloc family wraps glibc's, so
 * allocations by the engine, its kernels and OpenMP are all seen while `counting` is on.
 * OpenBLAS's own small-matrix path allocates per call; those are counted apart in
 * blas_allocations (not ours to remove). Include once per test program, before its tests. */
#ifndef TEST_ALLOC_COUNT_H
#define TEST_ALLOC_COUNT_H

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#ifndef __SANITIZE_ADDRESS__  /* ASan owns the malloc family itself */
#define COUNT_ALLOCATIONS 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static volatile int counting, allocations, blas_allocations;

static void count_alloc(void *caller)
{
	Dl_info di;
	if (!counting)
		return;
	if (dladdr(caller, &di) && di.dli_fname && strstr(di.dli_fname, "openblas"))
		blas_allocations++;
	else
		allocations++;
}

void *malloc(size_t n)
{
	count_alloc(__builtin_return_address(0));
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	count_alloc(__builtin_return_address(0));
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	count_alloc(__builtin_return_address(0));
	return __libc_realloc(p, n);
}

void *aligned_alloc(size_t a, size_t n)
{
	count_alloc(__builtin_return_address(0));
	return __libc_memalign(a, n);
}

int posix_memalign(void **p, size_t a, size_t n)
{
	count_alloc(__builtin_return_address(0));
	*p = __libc_memalign(a, n);
	return *p ? 0 : ENOMEM;
}
#else
__attribute__((unused)) static volatile int counting, allocations, blas_allocations;
#endif

#endif
