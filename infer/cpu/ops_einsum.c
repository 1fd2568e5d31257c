/* Einsum on float and double tensors: explicit ("bij,bjk->bik") and implicit ("ij,jk")
 * outputs, "..." broadcast dims, repeated labels within a term (diagonals), summed labels.
 * Evaluated directly: for every output element, the sum over the summed labels of the
 * product of the operands, in double. Correct for any equation; a large contraction
 * (an attention product) is better exported as MatMul, which the engine runs on GEMM. */
#include <string.h>

#include "ops_common.h"
#include "ops_tables.h"

#define EIN_MAX_IN 4
#define EIN_LETTERS 52          /* a-z, A-Z */
#define EIN_LABELS (EIN_LETTERS + INF_MAX_DIMS)   /* letters, then the ellipsis dims */

typedef struct ein_plan {
	int n_in, n_out, n_sum, ell;               /* ell: ellipsis rank (the widest operand's) */
	int out[INF_MAX_DIMS], sum[EIN_LABELS];    /* labels of the output, of the summed */
	int64_t size[EIN_LABELS];
	int64_t stride[EIN_MAX_IN][EIN_LABELS];     /* element stride of each label in each operand */
} ein_plan;

static int letter_id(char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + c - 'A' : -1;
}

/* Labels of one term into lab[] (ellipsis dims as EIN_LETTERS + position within the
 * ellipsis, right-aligned to `ell`); *ret_n their count, or -1 when malformed. */
static int term_labels(const char *s, size_t len, int rank, int ell, int *lab, int *ret_n)
{
	int n = 0, letters = 0, has_ell = 0;

	for (size_t i = 0; i < len; i++)
		letters += letter_id(s[i]) >= 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' && i + 2 < len && s[i + 1] == '.' && s[i + 2] == '.' && !has_ell) {
			int e = rank < 0 ? ell : rank - letters;
			if (e < 0 || e > ell || n + e > INF_MAX_DIMS)
				return -1;
			for (int k = 0; k < e; k++)
				lab[n++] = EIN_LETTERS + ell - e + k;
			has_ell = 1;
			i += 2;
		} else if (letter_id(s[i]) >= 0 && n < INF_MAX_DIMS) {
			lab[n++] = letter_id(s[i]);
		} else {
			return -1;
		}
	}
	*ret_n = n;
	return rank < 0 || n == rank ? 0 : -1;
}

/* The equation without spaces into buf; the "->" split into *arrow (NULL: implicit). */
static int ein_clean(const char *eq, char *buf, size_t cap, const char **arrow)
{
	size_t n = 0;

	for (; *eq; eq++)
		if (*eq != ' ') {
			if (n + 1 >= cap)
				return -1;
			buf[n++] = *eq;
		}
	buf[n] = 0;
	*arrow = strstr(buf, "->");
	return 0;
}

/* Ellipsis rank: the largest rank - letters over the terms that have "...". */
static int ein_ell(const inf_node *n, const char *lhs, size_t lhs_len)
{
	int ell = 0, k = 0;
	const char *t = lhs;

	for (const char *p = lhs; p <= lhs + lhs_len && k < n->n_in; p++)
		if (p == lhs + lhs_len || *p == ',') {
			int letters = 0;
			for (const char *q = t; q < p; q++)
				letters += letter_id(*q) >= 0;
			if (memmem(t, (size_t)(p - t), "...", 3) && n->in[k]->ndim - letters > ell)
				ell = n->in[k]->ndim - letters;
			t = p + 1;
			k++;
		}
	return ell;
}

/* Sizes and strides of every label from the operands; -1 on a size conflict. */
static int ein_operand(ein_plan *p, int k, const inf_tensor *t, const int *lab, int nl)
{
	int64_t st = 1;

	for (int d = nl - 1; d >= 0; d--) {
		int64_t dim = t->dims[d];
		int l = lab[d];
		/* sizes must agree; 1 broadcasts (ellipsis dims), -1 is not seen yet */
		if (p->size[l] >= 0 && dim != p->size[l] && dim != 1 && p->size[l] != 1)
			return -1;
		if (p->size[l] < 0 || p->size[l] == 1)
			p->size[l] = dim;
		/* a repeated label walks the diagonal: the strides add up; size-1 dims broadcast */
		p->stride[k][l] += dim == 1 ? 0 : st;
		st *= dim;
	}
	return 0;
}

/* Implicit output: the ellipsis dims, then the letters used exactly once, in ASCII order. */
static void ein_implicit(ein_plan *p, const int *count)
{
	static const char order[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	p->n_out = 0;
	for (int e = 0; e < p->ell; e++)
		p->out[p->n_out++] = EIN_LETTERS + e;
	for (const char *c = order; *c && p->n_out < INF_MAX_DIMS; c++)
		if (count[letter_id(*c)] == 1)
			p->out[p->n_out++] = letter_id(*c);
}

static int ein_plan_make(const inf_node *n, ein_plan *p, char *err, size_t errlen)
{
	char buf[256];
	const char *arrow, *t;
	int count[EIN_LABELS] = { 0 }, used[EIN_LABELS] = { 0 }, lab[INF_MAX_DIMS], nl, k = 0;

	memset(p, 0, sizeof(*p));
	p->n_in = n->n_in;
	for (int l = 0; l < EIN_LABELS; l++)
		p->size[l] = -1;
	if (ein_clean(inf_attr_str(n, "equation", ""), buf, sizeof(buf), &arrow) < 0)
		return ops_fail(err, errlen, VP_EUNSUP, "equation too long");
	size_t lhs_len = arrow ? (size_t)(arrow - buf) : strlen(buf);
	p->ell = ein_ell(n, buf, lhs_len);
	t = buf;
	for (const char *c = buf; c <= buf + lhs_len; c++) {
		if (c != buf + lhs_len && *c != ',')
			continue;
		if (k >= n->n_in || term_labels(t, (size_t)(c - t), n->in[k]->ndim, p->ell, lab, &nl) < 0 ||
		    ein_operand(p, k, n->in[k], lab, nl) < 0)
			return ops_fail(err, errlen, VP_EMODEL, "equation '%s' does not fit input %d", buf, k);
		for (int d = 0; d < nl; d++) {
			count[lab[d]]++;
			used[lab[d]] = 1;
		}
		t = c + 1;
		k++;
	}
	if (k != n->n_in)
		return ops_fail(err, errlen, VP_EMODEL, "equation '%s' has %d terms for %d inputs", buf, k, n->n_in);
	if (!arrow)
		ein_implicit(p, count);
	else if (term_labels(arrow + 2, strlen(arrow + 2), -1, p->ell, p->out, &p->n_out) < 0)
		return ops_fail(err, errlen, VP_EMODEL, "output of '%s' is malformed", buf);
	for (int i = 0; i < p->n_out; i++) {
		if (!used[p->out[i]])
			return ops_fail(err, errlen, VP_EMODEL, "output label of '%s' is in no input", buf);
		used[p->out[i]] = 2;
	}
	for (int l = 0; l < EIN_LABELS; l++)
		if (used[l] == 1)
			p->sum[p->n_sum++] = l;
	return 0;
}

OPS_SHAPE(shape_einsum, 1, 1)
{
	int64_t dims[INF_MAX_DIMS];
	ein_plan p;
	int rc, dt = n->in[0]->dtype;

	if (n->n_in > EIN_MAX_IN)
		return ops_fail(err, errlen, VP_EUNSUP, "%d inputs (at most %d)", n->n_in, EIN_MAX_IN);
	for (int k = 0; k < n->n_in; k++)
		if (!n->in[k] || n->in[k]->dtype != dt)
			return ops_fail(err, errlen, VP_EMODEL, "input %d is missing or of another type", k);
	if (dt != INF_DT_FLOAT && dt != INF_DT_DOUBLE)
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", dt);
	if ((rc = ein_plan_make(n, &p, err, errlen)) < 0)
		return rc;
	for (int i = 0; i < p.n_out; i++)
		dims[i] = p.size[p.out[i]];
	ops_set_shape(n->out[0], dt, p.n_out, dims);
	return 0;
}

/* One output element: the sum over the summed labels (an odometer) of the products. */
static double ein_element(const inf_node *n, const ein_plan *p, const int64_t *base)
{
	int64_t idx[EIN_LABELS] = { 0 }, off[EIN_MAX_IN];
	double acc = 0.0;

	memcpy(off, base, sizeof(off));
	for (int l = 0; l < p->n_sum; l++)
		if (p->size[p->sum[l]] == 0)
			return 0.0;
	for (;;) {
		double prod = 1.0;
		for (int k = 0; k < p->n_in; k++)
			prod *= ops_get_f64(n->in[k]->data, n->in[k]->dtype, off[k]);
		acc += prod;
		int l = p->n_sum - 1;
		for (; l >= 0; l--) {
			int lab = p->sum[l];
			for (int k = 0; k < p->n_in; k++)
				off[k] += p->stride[k][lab];
			if (++idx[l] < p->size[lab])
				break;
			for (int k = 0; k < p->n_in; k++)
				off[k] -= p->stride[k][lab] * p->size[lab];
			idx[l] = 0;
		}
		if (l < 0)
			return acc;
	}
}

static int run_einsum(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	inf_tensor *y = n->out[0];
	int64_t idx[INF_MAX_DIMS] = { 0 }, base[EIN_MAX_IN] = { 0 };
	char err[8];
	ein_plan p;

	(void)ws; (void)cx;
	if (ein_plan_make(n, &p, err, sizeof(err)) < 0)
		return VP_EMODEL;
	for (int64_t i = 0, cnt = inf_tensor_numel(y); i < cnt; i++) {
		ops_put_f64(y->data, y->dtype, i, ein_element(n, &p, base));
		for (int d = p.n_out - 1; d >= 0; d--) {
			int lab = p.out[d];
			for (int k = 0; k < p.n_in; k++)
				base[k] += p.stride[k][lab];
			if (++idx[d] < p.size[lab])
				break;
			for (int k = 0; k < p.n_in; k++)
				base[k] -= p.stride[k][lab] * p.size[lab];
			idx[d] = 0;
		}
	}
	return 0;
}

const inf_op ops_einsum[] = {
	{ .op_type = "Einsum", .shape = shape_einsum, .run_cpu = run_einsum },
	{ .op_type = NULL },
};
