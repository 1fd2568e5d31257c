/* Test helper: a float tensor from an ONNX TensorProto file (ONNX test-data format),
 * read with the engine's own reader (inf_blob_read). */
#ifndef TESTS_TENSOR_PB_H
#define TESTS_TENSOR_PB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/engine.h"

typedef struct test_tensor {
	int ndim;
	long long dims[8];
	size_t n;
	float *data;          /* the caller frees it */
} test_tensor;

/* Returns 0 and fills t (free t->data) or -1 with a message. */
static int test_tensor_load(const char *path, test_tensor *t)
{
	inf_blob b = { 0 };
	if (inf_blob_read(path, &b) < 0)
		return -1;
	if (b.info.dtype != INF_DT_FLOAT) {
		fprintf(stderr, "%s: not a float TensorProto\n", path);
		inf_blob_clear(&b);
		return -1;
	}
	t->ndim = b.info.ndim;
	for (int i = 0; i < b.info.ndim; i++)
		t->dims[i] = (long long)b.info.dims[i];
	t->n = b.bytes / sizeof(float);
	t->data = b.data;     /* taken over from the blob */
	b.data = NULL;
	inf_blob_clear(&b);
	return 0;
}

#endif
