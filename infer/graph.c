/* Graph helpers shared by the importer, the passes and the operator kernels:
 * attribute lookup with defaults, dtype sizes and element counts. */
#include <string.h>

#include "graph.h"

const inf_attr *inf_attr_get(const inf_node *n, const char *name)
{
	for (int i = 0; i < n->n_attr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	return NULL;
}

int64_t inf_attr_int(const inf_node *n, const char *name, int64_t def)
{
	const inf_attr *a = inf_attr_get(n, name);
	return a && a->type == INF_ATTR_INT ? a->i : def;
}

float inf_attr_float(const inf_node *n, const char *name, float def)
{
	const inf_attr *a = inf_attr_get(n, name);
	if (!a)
		return def;
	if (a->type == INF_ATTR_FLOAT)
		return a->f;
	/* Some exporters write integral floats (e.g. Clip bounds) as ints. */
	return a->type == INF_ATTR_INT ? (float)a->i : def;
}

const char *inf_attr_str(const inf_node *n, const char *name, const char *def)
{
	const inf_attr *a = inf_attr_get(n, name);
	return a && a->type == INF_ATTR_STRING && a->s ? a->s : def;
}

int inf_attr_ints(const inf_node *n, const char *name, const int64_t **ret)
{
	const inf_attr *a = inf_attr_get(n, name);
	if (!a || a->type != INF_ATTR_INTS)
		return -1;
	*ret = a->ints;
	return a->n;
}

int inf_attr_floats(const inf_node *n, const char *name, const float **ret)
{
	const inf_attr *a = inf_attr_get(n, name);
	if (!a || a->type != INF_ATTR_FLOATS)
		return -1;
	*ret = a->floats;
	return a->n;
}

size_t inf_dtype_size(int dtype)
{
	switch (dtype) {
	case INF_DT_FLOAT: case INF_DT_INT32: return 4;
	case INF_DT_UINT8: case INF_DT_INT8: case INF_DT_BOOL: return 1;
	case INF_DT_INT64: case INF_DT_DOUBLE: return 8;
	case INF_DT_FLOAT16: return 2;
	default: return 0;
	}
}

int64_t inf_tensor_numel(const inf_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->dims[i];
	return n;
}
