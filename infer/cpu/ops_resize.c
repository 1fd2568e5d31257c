/* Resize (opset 10 to 13 inputs) and Upsample on float tensors. Every axis maps each
 * output coordinate to a few input taps with weights (nearest: one, linear: two,
 * cubic: four), so nearest is one gather over all axes, and linear/cubic are applied
 * one axis at a time from the innermost out, which is what the ONNX reference's
 * recursion computes (tf_crop_and_resize extrapolation included). */
#include <math.h>
#include <string.h>

#include "infer/cuda/cuda_kernels_math.h"
#include "ops_common.h"
#include "ops_tables.h"

enum { MODE_NEAREST = CUK_RS_NEAREST, MODE_LINEAR = CUK_RS_LINEAR, MODE_CUBIC = CUK_RS_CUBIC };
enum { CT_HALF_PIXEL = CUK_CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL = CUK_CT_PYTORCH_HALF_PIXEL,
       CT_ALIGN_CORNERS = CUK_CT_ALIGN_CORNERS, CT_ASYMMETRIC = CUK_CT_ASYMMETRIC,
       CT_TF_HALF_PIXEL_NN = CUK_CT_TF_HALF_PIXEL_NN, CT_TF_CROP_AND_RESIZE = CUK_CT_TF_CROP_AND_RESIZE };
enum { NR_PREFER_FLOOR = CUK_NR_PREFER_FLOOR, NR_PREFER_CEIL = CUK_NR_PREFER_CEIL, NR_FLOOR = CUK_NR_FLOOR,
       NR_CEIL = CUK_NR_CEIL };

typedef struct rs_params {
	int mode, ct, nr, exclude_outside, nd;
	float cubic_a, extrapolation;
	int64_t in[INF_MAX_DIMS], out[INF_MAX_DIMS];
	float scale[INF_MAX_DIMS], roi[2 * INF_MAX_DIMS];
	double olen[INF_MAX_DIMS];            /* resized length: in * scale, unfloored */
} rs_params;

static int lookup(const char *s, const char *const *names, int cnt)
{
	for (int i = 0; i < cnt; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int ops_resize_modes(const inf_node *n, struct cuk_resize *k, char *err, size_t errlen)
{
	static const char *const modes[] = { "nearest", "linear", "cubic" };
	static const char *const cts[] = { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
		                           "tf_half_pixel_for_nn", "tf_crop_and_resize" };
	static const char *const nrs[] = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" };
	const char *m = inf_attr_str(n, "mode", "nearest");
	int legacy = !strcmp(n->op_type, "Upsample") || n->opset < 11;

	k->mode = !strcmp(m, "bilinear") ? MODE_LINEAR : lookup(m, modes, 3);
	/* Upsample and Resize-10 map asymmetrically and take the floor for nearest */
	k->ct = legacy ? CT_ASYMMETRIC : lookup(inf_attr_str(n, "coordinate_transformation_mode", "half_pixel"), cts, 6);
	k->nr = legacy ? NR_FLOOR : lookup(inf_attr_str(n, "nearest_mode", "round_prefer_floor"), nrs, 4);
	k->cubic_a = inf_attr_float(n, "cubic_coeff_a", -0.75f);
	k->exclude_outside = (int)inf_attr_int(n, "exclude_outside", 0);
	k->extrapolation = inf_attr_float(n, "extrapolation_value", 0.0f);
	if (k->mode < 0 || k->ct < 0 || k->nr < 0 || (legacy && k->mode == MODE_CUBIC))
		return ops_fail(err, errlen, VP_EUNSUP, "mode, coordinate_transformation_mode or nearest_mode unsupported");
	return legacy;
}

static int rs_modes(const inf_node *n, rs_params *p, char *err, size_t errlen)
{
	cuk_resize k = { 0 };
	int rc = ops_resize_modes(n, &k, err, errlen);

	if (rc < 0)
		return rc;
	p->mode = k.mode;
	p->ct = k.ct;
	p->nr = k.nr;
	p->cubic_a = k.cubic_a;
	p->exclude_outside = k.exclude_outside;
	p->extrapolation = k.extrapolation;
	return 0;
}

/* Input index of scales and sizes (-1 when the opset has none). */
static void rs_inputs(const inf_node *n, int *k_roi, int *k_scales, int *k_sizes)
{
	int legacy = !strcmp(n->op_type, "Upsample") || n->opset < 11;

	*k_roi = legacy ? -1 : 1;
	*k_scales = legacy ? 1 : 2;
	*k_sizes = legacy ? -1 : 3;
}

static int rs_params_get(const inf_node *n, rs_params *p, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0];
	int k_roi, k_sc, k_sz, cnt = 0, rc;
	int64_t sizes[INF_MAX_DIMS];
	const float *attr;

	if ((rc = ops_need_float(n, 0, err, errlen)) < 0 || (rc = rs_modes(n, p, err, errlen)) < 0)
		return rc;
	rs_inputs(n, &k_roi, &k_sc, &k_sz);
	p->nd = x->ndim;
	memcpy(p->in, x->dims, sizeof(p->in));
	if (k_sz >= 0 && ops_in(n, k_sz) && inf_tensor_numel(n->in[k_sz]) > 0) {
		if ((cnt = ops_const_ints(n, k_sz, sizes, INF_MAX_DIMS, err, errlen)) < 0)
			return cnt;
		if (cnt != x->ndim)
			return ops_fail(err, errlen, VP_EMODEL, "sizes has %d values for rank %d", cnt, x->ndim);
		for (int i = 0; i < p->nd; i++) {
			p->out[i] = sizes[i];
			p->scale[i] = (float)sizes[i] / (float)x->dims[i];
			p->olen[i] = (double)sizes[i];
		}
	} else {
		if (k_sc >= 0 && ops_in(n, k_sc) && inf_tensor_numel(n->in[k_sc]) > 0) {
			if ((cnt = ops_const_floats(n, k_sc, p->scale, INF_MAX_DIMS, err, errlen)) < 0)
				return cnt;
		} else if (!strcmp(n->op_type, "Upsample") && (cnt = inf_attr_floats(n, "scales", &attr)) > 0 &&
		           cnt <= INF_MAX_DIMS) {
			memcpy(p->scale, attr, sizeof(float) * (size_t)cnt);
		} else {
			return ops_fail(err, errlen, VP_EMODEL, "neither scales nor sizes is given");
		}
		if (cnt != x->ndim)
			return ops_fail(err, errlen, VP_EMODEL, "scales has %d values for rank %d", cnt, x->ndim);
		for (int i = 0; i < p->nd; i++) {
			if (!(p->scale[i] > 0.0f))
				return ops_fail(err, errlen, VP_EMODEL, "scale %g on axis %d is not positive", p->scale[i], i);
			p->out[i] = (int64_t)floorf((float)x->dims[i] * p->scale[i]);
			/* the reference maps coordinates with the unfloored length */
			p->olen[i] = (double)x->dims[i] * p->scale[i];
		}
	}
	for (int i = 0; i < p->nd; i++) {
		p->roi[i] = 0.0f;
		p->roi[p->nd + i] = 1.0f;
	}
	if (p->ct == CT_TF_CROP_AND_RESIZE && k_roi >= 0 && ops_in(n, k_roi) &&
	    ops_const_floats(n, k_roi, p->roi, 2 * INF_MAX_DIMS, err, errlen) != 2 * p->nd)
		return ops_fail(err, errlen, VP_EMODEL, "roi must be a constant of %d values", 2 * p->nd);
	return 0;
}

OPS_SHAPE(shape_resize, 1, 1)
{
	rs_params p;
	int rc = rs_params_get(n, &p, err, errlen);

	if (rc < 0)
		return rc;
	ops_set_shape(n->out[0], INF_DT_FLOAT, p.nd, p.out);
	return 0;
}

/* Per-axis tap table: 4 slots per output coordinate; idx -1 marks extrapolation. */
typedef struct rs_taps {
	int64_t *idx;
	float *w;
	int ntap;
	int identity;
} rs_taps;

/* The taps come from the GPU kernel's math (cuda_kernels_math.h), so the two backends
 * cannot drift apart; the enums of both files list the modes in the same order. */
static void rs_build_taps(const rs_params *p, int a, rs_taps *t)
{
	const cuk_resize k = { .mode = p->mode, .ct = p->ct, .nr = p->nr, .exclude_outside = p->exclude_outside,
	                       .cubic_a = p->cubic_a };
	const cuk_rs_axis ax = { .in = p->in[a], .out = p->out[a], .scale = p->scale[a], .olen = p->olen[a],
	                         .roi_start = p->roi[a], .roi_end = p->roi[p->nd + a] };

	t->ntap = p->mode == MODE_NEAREST ? 1 : p->mode == MODE_LINEAR ? 2 : 4;
	t->identity = p->out[a] == ax.in;
	for (int64_t o = 0; o < p->out[a]; o++) {
		int64_t *idx = t->idx + o * 4;
		float *w = t->w + o * 4;

		if (cuk_rs_taps(&k, &ax, o, idx, w) == 0) {
			idx[0] = -1;
			t->identity = 0;
			continue;
		}
		for (int k = 0; k < t->ntap; k++)
			if (!(idx[k] == o && w[k] == (k == 0 ? 1.0f : 0.0f)) && !(k > 0 && w[k] == 0.0f))
				t->identity = 0;
	}
}

/* Workspace: tap tables for every axis, then two intermediate tensors. */
static size_t rs_layout(const rs_params *p, size_t *tables, size_t *buf)
{
	int64_t cur = 1, maxn = 0, taps = 0;

	for (int a = 0; a < p->nd; a++)
		taps += p->out[a] * 4;
	for (int a = p->nd - 1; a >= 0; a--) {
		cur = 1;
		for (int i = 0; i < p->nd; i++)
			cur *= i < a ? p->in[i] : p->out[i];
		if (cur > maxn)
			maxn = cur;
	}
	*tables = (size_t)taps * (sizeof(int64_t) + sizeof(float));
	*buf = (size_t)maxn * sizeof(float);
	return *tables + 2 * *buf;
}

static int prepare_resize(inf_node *n, size_t *ret_ws)
{
	rs_params p;
	size_t tables, buf;
	char err[8];

	if (rs_params_get(n, &p, err, sizeof(err)) < 0)
		return VP_EMODEL;
	*ret_ws = rs_layout(&p, &tables, &buf);
	return 0;
}

/* y[2 i] = y[2 i + 1] = x[i]: the rows of a nearest 2x upsampling. */
OPS_VECTOR static void dup2_row(const float *restrict x, int64_t n, float *restrict y)
{
	for (int64_t i = 0; i < n; i++) {
		y[2 * i] = x[i];
		y[2 * i + 1] = x[i];
	}
}

/* Whether the last axis maps output o to input o / 2 everywhere (nearest 2x, the
 * upsampling in detector necks), so rows take dup2_row. */
static int last_axis_dup2(const rs_params *p, const rs_taps *t)
{
	int nd = p->nd;

	if (p->out[nd - 1] != 2 * p->in[nd - 1])
		return 0;
	for (int64_t o = 0; o < p->out[nd - 1]; o++)
		if (t[nd - 1].idx[o * 4] != o / 2)
			return 0;
	return 1;
}

static void rs_nearest_gather(const rs_params *p, const rs_taps *t, const float *x, float *y, int nth)
{
	int nd = p->nd, dup2 = last_axis_dup2(p, t);
	int64_t inner = p->out[nd - 1], rows = 1, s[INF_MAX_DIMS], acc = 1;

	for (int i = nd - 1; i >= 0; i--) {
		s[i] = acc;
		acc *= p->in[i];
	}
	for (int i = 0; i < nd - 1; i++)
		rows *= p->out[i];
#pragma omp parallel for num_threads(nth) if (rows * inner > 65536)
	for (int64_t r = 0; r < rows; r++) {
		int64_t off = 0, rr = r;
		int extra = 0;
		float *yr = y + r * inner;
		const int64_t *ix = t[nd - 1].idx;

		for (int d = nd - 2; d >= 0; d--) {
			int64_t i = t[d].idx[(rr % p->out[d]) * 4];
			rr /= p->out[d];
			if (i < 0)
				extra = 1;
			off += i * s[d];
		}
		if (dup2 && !extra) {
			dup2_row(x + off, inner / 2, yr);
			continue;
		}
		for (int64_t o = 0; o < inner; o++)
			yr[o] = extra || ix[o * 4] < 0 ? p->extrapolation : x[off + ix[o * 4]];
	}
}

/* One axis of a linear/cubic resize: dims are the current tensor's. */
static void rs_axis_pass(const rs_params *p, const rs_taps *t, int a, const int64_t *dims, const float *src,
                         float *dst, int nth)
{
	int64_t outer = 1, inner = 1, in = dims[a], out = p->out[a];

	for (int i = 0; i < a; i++)
		outer *= dims[i];
	for (int i = a + 1; i < p->nd; i++)
		inner *= dims[i];
#pragma omp parallel for num_threads(nth) if (outer * out * inner > 65536)
	for (int64_t r = 0; r < outer * out; r++) {
		int64_t o = r % out, b = r / out;
		const int64_t *idx = t->idx + o * 4;
		const float *w = t->w + o * 4;
		float *d = dst + r * inner;

		if (idx[0] < 0) {
			for (int64_t i = 0; i < inner; i++)
				d[i] = p->extrapolation;
			continue;
		}
		for (int64_t i = 0; i < inner; i++)
			d[i] = 0.0f;
		for (int k = 0; k < t->ntap; k++) {
			const float *s = src + (b * in + idx[k]) * inner;
			float wk = w[k];
			for (int64_t i = 0; i < inner; i++)
				d[i] += wk * s[i];
		}
	}
}

static int run_resize(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	rs_params p;
	rs_taps t[INF_MAX_DIMS];
	size_t tables, buf;
	int64_t dims[INF_MAX_DIMS], off = 0;
	int nth = ops_threads(cx), last = -1;
	char err[8];

	if (rs_params_get(n, &p, err, sizeof(err)) < 0)
		return VP_EMODEL;
	rs_layout(&p, &tables, &buf);
	for (int a = 0; a < p.nd; a++) {
		t[a].idx = (int64_t *)ws + off;
		t[a].w = (float *)((char *)ws + tables / (sizeof(int64_t) + sizeof(float)) * sizeof(int64_t)) + off;
		off += p.out[a] * 4;
		rs_build_taps(&p, a, &t[a]);
		if (!t[a].identity && last < 0)
			last = a;
	}
	if (p.mode == MODE_NEAREST) {
		rs_nearest_gather(&p, t, n->in[0]->data, n->out[0]->data, nth);
		return 0;
	}
	if (last < 0) {
		ops_copy_through(n);
		return 0;
	}
	/* passes from the innermost axis out; the outermost resized axis writes the output */
	const float *src = n->in[0]->data;
	float *bufs[2] = { (float *)((char *)ws + tables), (float *)((char *)ws + tables + buf) };
	int pb = 0;
	memcpy(dims, p.in, sizeof(dims));
	for (int a = p.nd - 1; a >= last; a--) {
		float *dst;
		if (t[a].identity)
			continue;
		dst = a == last ? (float *)n->out[0]->data : bufs[pb];
		rs_axis_pass(&p, &t[a], a, dims, src, dst, nth);
		dims[a] = p.out[a];
		src = dst;
		pb ^= 1;
	}
	return 0;
}

const inf_op ops_resize[] = {
	{ .op_type = "Resize", .shape = shape_resize, .prepare = prepare_resize, .run_cpu = run_resize },
	{ .op_type = "Upsample", .shape = shape_resize, .prepare = prepare_resize, .run_cpu = run_resize },
	{ .op_type = NULL },
};
