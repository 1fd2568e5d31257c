/* Test helper: loads a float tensor from an ONNX TensorProto file (ONNX test-data format). */
#ifndef TESTS_TENSOR_PB_H
#define TESTS_TENSOR_PB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

typedef struct test_tensor {
	int ndim;
	long long dims[8];
	size_t n;
	float *data;
} test_tensor;

/* Returns 0 and fills t (free t->data) or -1 with a message on stderr. */
static int test_tensor_load(const char *path, test_tensor *t)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open\n", path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
	size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
	fclose(f);
	Onnx__TensorProto *tp = got == (size_t)len ? onnx__tensor_proto__unpack(NULL, got, buf) : NULL;
	free(buf);
	if (!tp || tp->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || tp->n_dims > 8) {
		fprintf(stderr, "%s: not a float TensorProto\n", path);
		if (tp)
			onnx__tensor_proto__free_unpacked(tp, NULL);
		return -1;
	}
	t->ndim = (int)tp->n_dims;
	t->n = 1;
	for (size_t i = 0; i < tp->n_dims; i++) {
		t->dims[i] = (long long)tp->dims[i];
		t->n *= (size_t)tp->dims[i];
	}
	t->data = malloc(t->n * sizeof(float));
	int ok = t->data != NULL;
	if (ok && tp->has_raw_data && tp->raw_data.len == t->n * sizeof(float))
		memcpy(t->data, tp->raw_data.data, t->n * sizeof(float));
	else if (ok && tp->n_float_data == t->n)
		memcpy(t->data, tp->float_data, t->n * sizeof(float));
	else
		ok = 0;
	onnx__tensor_proto__free_unpacked(tp, NULL);
	if (!ok) {
		fprintf(stderr, "%s: tensor data size does not match its dims\n", path);
		free(t->data);
		t->data = NULL;
		return -1;
	}
	return 0;
}

#endif
