/* Shared by the decode tests (CPU and NVDEC): a damaged copy of a clip, made at test time
 * so no broken media is committed. static inline: each test file takes what it uses. */
#ifndef TEST_DAMAGE_H
#define TEST_DAMAGE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

/* Copies the first keep (0..1] of src to out, with n_bad bytes from bad_at (0..1) of the
 * file replaced by a fixed pseudo-random sequence (the same damage every run). */
static inline void td_make_damaged(const char *src, const char *out, double keep, double bad_at, int n_bad)
{
	FILE *in = fopen(src, "rb");
	assert_non_null(in);
	fseek(in, 0, SEEK_END);
	long size = ftell(in);
	rewind(in);
	char *buf = malloc((size_t)size);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, in), (size_t)size);
	fclose(in);
	unsigned seed = 12345;
	for (long i = (long)(bad_at * size); i < (long)(bad_at * size) + n_bad && i < size; i++)
		buf[i] = (char)rand_r(&seed);
	FILE *o = fopen(out, "wb");
	assert_non_null(o);
	size_t kept = (size_t)(keep * size);
	assert_int_equal(fwrite(buf, 1, kept, o), kept);
	fclose(o);
	free(buf);
}

#endif
