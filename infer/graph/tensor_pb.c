/* TensorProto decoding (raw_data and the typed repeated fields) and the public
 * .pb file reader/writer used by vapd-run-model and the conformance runner. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "tensor_pb.h"

const char *inf_dtype_name(int dtype)
{
	static const char *const names[] = {
		"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
		"STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
		"COMPLEX128", "BFLOAT16",
	};
	if (dtype >= 0 && dtype < (int)(sizeof(names) / sizeof(names[0])))
		return names[dtype];
	return "UNKNOWN";
}

/* Copies the n elements of a typed repeated field, narrowing to the dtype's width. */
static void copy_typed(const Onnx__TensorProto *tp, int dtype, void *dst, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (dtype) {
		case INF_DT_FLOAT: ((float *)dst)[i] = tp->float_data[i]; break;
		case INF_DT_DOUBLE: ((double *)dst)[i] = tp->double_data[i]; break;
		case INF_DT_INT64: ((int64_t *)dst)[i] = tp->int64_data[i]; break;
		case INF_DT_INT32: ((int32_t *)dst)[i] = tp->int32_data[i]; break;
		case INF_DT_FLOAT16: ((uint16_t *)dst)[i] = (uint16_t)tp->int32_data[i]; break;
		default: ((uint8_t *)dst)[i] = (uint8_t)tp->int32_data[i]; break;
		}
	}
}

static size_t typed_count(const Onnx__TensorProto *tp, int dtype)
{
	switch (dtype) {
	case INF_DT_FLOAT: return tp->n_float_data;
	case INF_DT_DOUBLE: return tp->n_double_data;
	case INF_DT_INT64: return tp->n_int64_data;
	default: return tp->n_int32_data;
	}
}

int inf_tensor_from_proto(const Onnx__TensorProto *tp, inf_tensor *t, char *err, size_t errlen)
{
	if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
		snprintf(err, errlen, "tensor '%s' uses external data, which is not supported",
		         tp->name ? tp->name : "");
		return VP_EUNSUP;
	}
	int dt = tp->data_type;
	if (inf_dtype_size(dt) == 0) {
		snprintf(err, errlen, "tensor '%s' has unsupported data type %s",
		         tp->name ? tp->name : "", inf_dtype_name(dt));
		return VP_EUNSUP;
	}
	if (tp->n_dims > INF_MAX_DIMS) {
		snprintf(err, errlen, "tensor '%s' has %zu dims (max %d)", tp->name ? tp->name : "",
		         tp->n_dims, INF_MAX_DIMS);
		return VP_EUNSUP;
	}
	t->dtype = dt;
	t->ndim = (int)tp->n_dims;
	for (size_t i = 0; i < tp->n_dims; i++) {
		if (tp->dims[i] < 0) {
			snprintf(err, errlen, "tensor '%s' has negative dim", tp->name ? tp->name : "");
			return VP_EMODEL;
		}
		t->dims[i] = tp->dims[i];
	}
	int64_t check = (int64_t)inf_dtype_size(dt);
	for (int i = 0; i < t->ndim; i++) {
		if (__builtin_mul_overflow(check, t->dims[i], &check)) {
			snprintf(err, errlen, "tensor '%s' has an oversized shape", tp->name ? tp->name : "");
			return VP_EMODEL;
		}
	}
	size_t n = (size_t)inf_tensor_numel(t), bytes = (size_t)check;
	size_t have = tp->has_raw_data ? tp->raw_data.len : typed_count(tp, dt) * inf_dtype_size(dt);
	if (have != bytes) {
		snprintf(err, errlen, "tensor '%s' holds %zu bytes of data, its shape needs %zu",
		         tp->name ? tp->name : "", have, bytes);
		return VP_EMODEL;
	}
	void *data = malloc(bytes ? bytes : 1);
	if (!data)
		return -ENOMEM;
	if (tp->has_raw_data && bytes)
		memcpy(data, tp->raw_data.data, bytes);
	else
		copy_typed(tp, dt, data, n);
	if (t->is_const)
		free(t->data);
	t->data = data;
	t->is_const = 1;
	return 0;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	struct stat st;
	int ret = 0;
	if (fstat(fileno(f), &st) < 0) {
		ret = -errno;
		goto out;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (fread(*buf, 1, *len, f) != *len) {
		ret = -EIO;
		free(*buf);
		*buf = NULL;
	}
out:
	fclose(f);
	return ret;
}

int inf_read_file(const char *path, uint8_t **buf, size_t *len)
{
	return read_file(path, buf, len);
}

int inf_blob_read(const char *path, inf_blob *b)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];
	memset(b, 0, sizeof(*b));
	int ret = read_file(path, &buf, &len);
	if (ret < 0) {
		vp_err("infer", NULL, "%s: %s", path, vp_strerror(ret));
		return ret;
	}
	Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
	free(buf);
	if (!tp) {
		vp_err("infer", NULL, "%s: not an ONNX TensorProto file", path);
		return VP_EMODEL;
	}
	inf_tensor t = { 0 };
	ret = inf_tensor_from_proto(tp, &t, err, sizeof(err));
	if (ret < 0) {
		vp_err("infer", NULL, "%s: %s", path, err);
		onnx__tensor_proto__free_unpacked(tp, NULL);
		return ret;
	}
	b->name = strdup(tp->name ? tp->name : "");
	onnx__tensor_proto__free_unpacked(tp, NULL);
	b->data = t.data;
	b->info.dtype = t.dtype;
	b->info.ndim = t.ndim;
	memcpy(b->info.dims, t.dims, sizeof(t.dims));
	b->info.name = b->name;
	b->bytes = inf_tensor_bytes(&t);
	if (!b->name) {
		inf_blob_clear(b);
		return -ENOMEM;
	}
	return 0;
}

void inf_blob_clear(inf_blob *b)
{
	free(b->name);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int inf_blob_write(const char *path, const inf_tensor_info *info, const void *data)
{
	Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
	inf_tensor t = { .dtype = info->dtype, .ndim = info->ndim };
	memcpy(t.dims, info->dims, sizeof(t.dims));
	tp.name = (char *)info->name;
	tp.n_dims = (size_t)info->ndim;
	tp.dims = t.dims;
	tp.has_data_type = 1;
	tp.data_type = info->dtype;
	tp.has_raw_data = 1;
	tp.raw_data.len = inf_tensor_bytes(&t);
	tp.raw_data.data = (uint8_t *)data;
	size_t len = onnx__tensor_proto__get_packed_size(&tp);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	onnx__tensor_proto__pack(&tp, buf);
	int ret = 0;
	FILE *f = fopen(path, "wb");
	if (!f)
		ret = -errno;
	else if (fwrite(buf, 1, len, f) != len)
		ret = -EIO;
	if (f && fclose(f) != 0 && ret == 0)
		ret = -errno;
	free(buf);
	if (ret < 0)
		vp_err("infer", NULL, "%s: cannot write: %s", path, vp_strerror(ret));
	return ret;
}
