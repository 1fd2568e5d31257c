/* Hostile nodes through the operators added for issue 17: random dtypes, ranks, dims,
 * data (raw bytes: NaN, huge integers) and attributes (INT64_MAX, NaN, 1e30, unknown
 * strings), each through shape, prepare and, when the shapes pass, run. A shape function
 * may refuse anything; nothing may crash, read or write out of bounds, hang or hit
 * undefined behaviour: tests/t_sanitize.sh runs this under ASan and UBSan. Folding runs
 * operators on a model's constants at load, so a hostile model reaches run_cpu too. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "infer/graph/graph.h"

#define NODES 150000
#define MAX_OUT_ELEMS 100000

static const char *const ops[] = {
	"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor", "Not", "Where",
	"IsNaN", "IsInf", "Mod", "PRelu", "Sum", "Mean", "Max", "Min", "CumSum", "Shrink", "Range", "Tile",
	"Size", "TopK", "ArgMax", "ArgMin", "Hardmax", "GatherElements", "LayerNormalization",
	"InstanceNormalization", "LRN", "ScatterND", "ScatterElements", "GatherND", "GridSample", "ReduceProd",
	"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "DepthToSpace",
	"SpaceToDepth", "Trilu", "EyeLike", "OneHot", "Neg", "Abs", "Sign", "Round", "Erf", "Selu", "Celu",
	"Einsum", "RoiAlign", "MeanVarianceNormalization", "Det", "MaxUnpool",
};
static const int dtypes[] = {
	INF_DT_FLOAT, INF_DT_INT64, INF_DT_INT32, INF_DT_BOOL, INF_DT_UINT8, INF_DT_INT8, INF_DT_DOUBLE,
	INF_DT_FLOAT16,
};
static const char *const attr_names[] = { "axis", "keepdims", "k", "largest", "fmod", "exclusive", "reverse",
	"upper", "blocksize", "size", "batch_dims", "select_last_index", "detect_positive", "epsilon", "lambd",
	"bias", "alpha", "mode", "padding_mode", "align_corners", "reduction", "dtype", "noop_with_empty_axes",
	"gamma", "equation", "axes", "kernel_shape", "strides", "pads", "output_height", "output_width",
	"sampling_ratio", "spatial_scale", "coordinate_transformation_mode" };
static const char *const attr_strs[] = { "bilinear", "nearest", "bicubic", "zeros", "border", "reflection",
	"add", "mul", "max", "min", "none", "DCR", "CRD", "junk", "ij,jk", "...ii->...i", "i,i", "ab->ba",
	"a...,...b->ab", "->", ",", "......", "abcdefghi,j", "avg",
	"half_pixel", "output_half_pixel" };
static const int64_t attr_ints[] = { 0, 1, -1, 2, 3, -5, INT64_MAX, INT64_MIN, 1000000000000LL, 7 };

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

typedef struct hnode {
	inf_node n;
	inf_tensor t[8];
	inf_tensor *in[5], *out[3];
	inf_attr attr[6];
} hnode;

/* Raw random bytes, or small integers stored in the tensor's type (so shapes often pass). */
static void fill(inf_tensor *t)
{
	unsigned char *p = malloc(inf_tensor_bytes(t) + 1);
	int small = rnd() % 3;

	assert_non_null(p);
	t->data = p;
	for (size_t i = 0; i < inf_tensor_bytes(t); i++)
		p[i] = (unsigned char)rnd();
	for (int64_t i = 0; small && i < inf_tensor_numel(t); i++) {
		int64_t v = (int64_t)(rnd() % 9) - 4;
		switch (t->dtype) {
		case INF_DT_FLOAT: ((float *)p)[i] = small == 2 ? (float)v * 0.37f : (float)v; break;
		case INF_DT_DOUBLE: ((double *)p)[i] = (double)v; break;
		case INF_DT_INT64: ((int64_t *)p)[i] = v; break;
		case INF_DT_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
		case INF_DT_BOOL: p[i] = v & 1; break;
		default: break;
		}
	}
}

/* Inputs mostly share one shape (or broadcast against it), sometimes not; some omitted. */
static void make_inputs(hnode *h)
{
	int nd = (int)(rnd() % 5);
	int64_t dims[INF_MAX_DIMS];

	for (int d = 0; d < nd; d++)
		dims[d] = (int64_t)(rnd() % 4);
	for (int k = 0; k < h->n.n_in; k++) {
		inf_tensor *x = &h->t[k];
		x->name = "x";
		x->dtype = dtypes[rnd() % N_OF(dtypes)];
		if (rnd() % 3) {
			x->ndim = nd;
			memcpy(x->dims, dims, sizeof(dims));
			if (nd && rnd() % 4 == 0)
				x->dims[rnd() % (uint64_t)nd] = 1;
		} else {
			x->ndim = (int)(rnd() % 5);
			for (int d = 0; d < x->ndim; d++)
				x->dims[d] = (int64_t)(rnd() % 5);
		}
		x->is_const = (int)(rnd() % 2);
		fill(x);
		h->in[k] = rnd() % 10 ? x : NULL;
	}
}

static void make_attrs(hnode *h)
{
	static const float floats[] = { 0, 1, -1, 0.5f, NAN, INFINITY, 1e30f, 2 };

	h->n.n_attr = (int)(rnd() % 5);
	for (int a = 0; a < h->n.n_attr; a++) {
		int type = (int)(rnd() % 4);
		h->attr[a].name = (char *)attr_names[rnd() % N_OF(attr_names)];
		h->attr[a].type = type == 0 ? INF_ATTR_INT : type == 1 ? INF_ATTR_FLOAT : type == 2 ? INF_ATTR_STRING :
		                  INF_ATTR_INTS;
		h->attr[a].ints = (int64_t *)&attr_ints[rnd() % 4];     /* a run of up to 6 from the table */
		h->attr[a].n = (int)(rnd() % 7);
		h->attr[a].i = attr_ints[rnd() % N_OF(attr_ints)];
		h->attr[a].f = floats[rnd() % N_OF(floats)];
		h->attr[a].s = (char *)attr_strs[rnd() % N_OF(attr_strs)];
	}
}

static void make_node(hnode *h)
{
	memset(h, 0, sizeof(*h));
	h->n.name = "hostile";
	h->n.op_type = (char *)ops[rnd() % N_OF(ops)];
	h->n.opset = 11 + (int)(rnd() % 11);
	h->n.n_in = (int)(rnd() % 5);
	h->n.n_out = 1 + (int)(rnd() % 3);
	h->n.in = h->in;
	h->n.out = h->out;
	h->n.attr = h->attr;
	for (int k = 0; k < h->n.n_out; k++) {
		h->out[k] = &h->t[5 + k];
		h->out[k]->name = "y";
	}
	make_inputs(h);
	make_attrs(h);
}

/* Shape; then, for outputs of a size the planner would hold here, prepare and run. */
static int exercise(hnode *h)
{
	const inf_op *op = inf_op_find(h->n.op_type);
	char err[256];
	size_t ws = 0;
	int ran = 0;

	assert_non_null(op);
	h->n.op = op;
	if (op->shape(&h->n, err, sizeof(err)) < 0)
		return 0;
	for (int k = 0; k < h->n.n_out; k++) {
		inf_tensor *y = h->out[k];
		if (y->ndim < 0 || inf_tensor_numel(y) < 0 || inf_tensor_numel(y) > MAX_OUT_ELEMS ||
		    !inf_dtype_size(y->dtype))
			return 0;
		y->data = calloc(1, inf_tensor_bytes(y) + 1);
		assert_non_null(y->data);
	}
	if ((!op->prepare || op->prepare(&h->n, &ws) >= 0) && ws < ((size_t)1 << 26)) {
		void *work = ws ? malloc(ws) : NULL;
		inf_cpu_ctx cx = { .threads = 1 };
		op->run_cpu(&h->n, work, &cx);   /* any return code; only crashes count */
		free(work);
		ran = 1;
	}
	if (op->release && h->n.priv)
		op->release(&h->n);
	return ran;
}

static void test_new_operators_survive_hostile_nodes(void **state)
{
	int ran = 0;

	(void)state;
	for (int i = 0; i < NODES; i++) {
		hnode h;
		make_node(&h);
		ran += exercise(&h);
		for (int k = 0; k < 8; k++)
			free(h.t[k].data);
	}
	printf("# %d hostile nodes, %d of them ran\n", NODES, ran);
	assert_true(ran > NODES / 50);     /* the generator still reaches the kernels */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_operators_survive_hostile_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
