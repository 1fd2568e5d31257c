/* MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool over 1 to 3 spatial axes, and
 * MaxUnpool.
 * A pooling window is a product of per-axis ranges, so float pools reduce the outer
 * axes into a row buffer first and then slide along the row: O(k) per output instead
 * of O(k^2) (SPP blocks pool 13x13 windows). MaxPool with Indices or uint8 data takes
 * the direct path. */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_pool_flat.h"
#include "ops_tables.h"
#include "ops_window.h"

/* The row buffer lives on the stack: rows longer than this take the direct path. */
#define ROW_MAX 4096

static int pool_window(const inf_node *n, ops_window *w, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0];
	const int64_t *ks;
	int nks = inf_attr_ints(n, "kernel_shape", &ks);

	if (nks < 0)
		return ops_fail(err, errlen, VP_EMODEL, "kernel_shape is missing");
	if (nks != x->ndim - 2)
		return ops_fail(err, errlen, VP_EMODEL, "kernel_shape has %d values for an input of rank %d",
		                nks, x->ndim);
	return ops_window_forward(n, x, ks, (int)inf_attr_int(n, "ceil_mode", 0), w, err, errlen);
}

OPS_SHAPE(shape_pool, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int is_max = !strcmp(n->op_type, "MaxPool");
	int64_t dims[INF_MAX_DIMS];
	ops_window w;
	int rc;

	if (x->dtype != INF_DT_FLOAT && !(is_max && x->dtype == INF_DT_UINT8))
		return ops_fail(err, errlen, VP_EUNSUP, "data type %d is not supported", x->dtype);
	if ((rc = pool_window(n, &w, err, errlen)) < 0)
		return rc;
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	for (int i = 0; i < w.nsp; i++)
		dims[2 + i] = w.out[i];
	ops_set_shape(n->out[0], x->dtype, x->ndim, dims);
	if (n->n_out > 1)
		ops_set_shape(n->out[1], INF_DT_INT64, x->ndim, dims);
	return 0;
}

/* Valid input range [lo, hi) of window o on axis a, for the direct path. */
static void axis_range(const ops_window *w, int a, int64_t o, int64_t *start)
{
	*start = o * w->s[a] - w->pb[a];
}

/* Direct max pooling with optional argmax (flattened over N*C and the spatial axes;
 * storage_order 1 numbers the spatial positions column-major). */
#define MAXPOOL_DIRECT(T)                                                                          \
	static void maxpool_direct_##T(const inf_node *n, const ops_window *w, int nth)             \
	{                                                                                          \
		const T *xp = n->in[0]->data;                                                      \
		T *yp = n->out[0]->data;                                                           \
		int64_t *ip = n->n_out > 1 ? n->out[1]->data : NULL;                               \
		int64_t planes = n->in[0]->dims[0] * n->in[0]->dims[1];                            \
		int colmaj = (int)inf_attr_int(n, "storage_order", 0);                             \
		_Pragma("omp parallel for num_threads(nth)")                                      \
		for (int64_t p = 0; p < planes; p++) {                                             \
			const T *x = xp + p * w->in_size;                                          \
			int64_t o = p * w->out_size;                                               \
			for (int64_t oz = 0; oz < w->out[0]; oz++)                                 \
			for (int64_t oy = 0; oy < w->out[1]; oy++)                                 \
			for (int64_t ox = 0; ox < w->out[2]; ox++, o++) {                          \
				int64_t z0, y0, x0, best = -1;                                     \
				axis_range(w, 0, oz, &z0);                                         \
				axis_range(w, 1, oy, &y0);                                         \
				axis_range(w, 2, ox, &x0);                                         \
				for (int64_t kz = 0; kz < w->k[0]; kz++) {                         \
					int64_t iz = z0 + kz * w->d[0];                            \
					if (iz < 0 || iz >= w->in[0]) continue;                    \
					for (int64_t ky = 0; ky < w->k[1]; ky++) {                 \
						int64_t iy = y0 + ky * w->d[1];                    \
						if (iy < 0 || iy >= w->in[1]) continue;            \
						for (int64_t kx = 0; kx < w->k[2]; kx++) {         \
							int64_t ix = x0 + kx * w->d[2];            \
							if (ix < 0 || ix >= w->in[2]) continue;    \
							int64_t at = (iz * w->in[1] + iy) * w->in[2] + ix; \
							if (best < 0 || x[at] > x[best]) best = at; \
						}                                                  \
					}                                                          \
				}                                                                  \
				yp[o] = best >= 0 ? x[best] : 0;                                   \
				if (!ip)                                                           \
					continue;                                                  \
				if (colmaj && best >= 0) {                                         \
					int64_t bx = best % w->in[2], by = best / w->in[2] % w->in[1]; \
					int64_t bz = best / (w->in[2] * w->in[1]);                 \
					best = (bx * w->in[1] + by) * w->in[0] + bz;               \
				}                                                                  \
				ip[o] = p * w->in_size + best;                                     \
			}                                                                          \
		}                                                                                  \
	}

MAXPOOL_DIRECT(float)
MAXPOOL_DIRECT(uint8_t)

/* Separable float pooling of one plane. is_max: max, else average (divisor per window
 * = product of per-axis counts, of valid or of padded positions). */
OPS_VECTOR static void pool_plane(const float *x, const ops_window *w, int is_max, int incl_pad, float *y)
{
	/* the row sits after pb[2] slots of -inf (max) so the horizontal max needs no bounds
	 * checks; the slots after it are filled the same way */
	float buf[3 * ROW_MAX], *row = buf + (is_max ? w->pb[2] : 0);
	int64_t span = (w->out[2] - 1) * w->s[2] + (w->k[2] - 1) * w->d[2] + 1 - w->pb[2];

	for (int64_t oz = 0; oz < w->out[0]; oz++)
	for (int64_t oy = 0; oy < w->out[1]; oy++) {
		int64_t z0 = oz * w->s[0] - w->pb[0], y0 = oy * w->s[1] - w->pb[1], cnt_v = 0, pad_v = 0;
		float *yr = y + (oz * w->out[1] + oy) * w->out[2];

		for (int64_t ix = 0; ix < w->in[2]; ix++)
			row[ix] = is_max ? -INFINITY : 0.0f;
		for (int64_t kz = 0; kz < w->k[0]; kz++) {
			int64_t iz = z0 + kz * w->d[0];
			for (int64_t ky = 0; ky < w->k[1]; ky++) {
				int64_t iy = y0 + ky * w->d[1];
				int inside = iz >= 0 && iz < w->in[0] && iy >= 0 && iy < w->in[1];
				if (iz >= -w->pb[0] && iz < w->in[0] + w->pe[0] && iy >= -w->pb[1] &&
				    iy < w->in[1] + w->pe[1])
					pad_v++;
				if (!inside)
					continue;
				cnt_v++;
				const float *xr = x + (iz * w->in[1] + iy) * w->in[2];
				if (is_max)
					for (int64_t ix = 0; ix < w->in[2]; ix++)
						row[ix] = xr[ix] > row[ix] ? xr[ix] : row[ix];
				else
					for (int64_t ix = 0; ix < w->in[2]; ix++)
						row[ix] += xr[ix];
			}
		}
		if (is_max) {
			for (int64_t ix = -w->pb[2]; ix < 0; ix++)
				row[ix] = -INFINITY;
			for (int64_t ix = w->in[2]; ix < span; ix++)
				row[ix] = -INFINITY;
			for (int64_t ox = 0; ox < w->out[2]; ox++)
				yr[ox] = -INFINITY;
			for (int64_t kx = 0; kx < w->k[2]; kx++) {
				const float *rk = row + kx * w->d[2] - w->pb[2];
				for (int64_t ox = 0; ox < w->out[2]; ox++)
					yr[ox] = rk[ox * w->s[2]] > yr[ox] ? rk[ox * w->s[2]] : yr[ox];
			}
			continue;
		}
		for (int64_t ox = 0; ox < w->out[2]; ox++) {
			int64_t x0 = ox * w->s[2] - w->pb[2], cnt_h = 0, pad_h = 0;
			float acc = is_max ? -INFINITY : 0.0f;

			for (int64_t kx = 0; kx < w->k[2]; kx++) {
				int64_t ix = x0 + kx * w->d[2];
				if (ix >= -w->pb[2] && ix < w->in[2] + w->pe[2])
					pad_h++;
				if (ix < 0 || ix >= w->in[2])
					continue;
				cnt_h++;
				acc = is_max ? (row[ix] > acc ? row[ix] : acc) : acc + row[ix];
			}
			if (is_max)
				yr[ox] = acc;
			else
				yr[ox] = acc / (float)(incl_pad ? pad_v * pad_h : cnt_v * cnt_h);
		}
	}
}

typedef struct flat_job {
	const float *x;
	float *y;
	const ops_window *w3;
} flat_job;

static void flat_planes(void *arg, int64_t p0, int64_t p1)
{
	const flat_job *j = arg;

	for (int64_t p = p0; p < p1; p++)
		pool_flat_max(j->x + p * j->w3->in_size, j->w3, j->y + p * j->w3->out_size);
}

static void s1_planes(void *arg, int64_t p0, int64_t p1)
{
	const flat_job *j = arg;

	for (int64_t p = p0; p < p1; p++)
		pool_s1_max(j->x + p * j->w3->in_size, j->w3, j->y + p * j->w3->out_size);
}

static int run_pool(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	int is_max = !strcmp(n->op_type, "MaxPool"), nth = ops_threads(cx);
	int incl_pad = (int)inf_attr_int(n, "count_include_pad", 0);
	int64_t planes = x->dims[0] * x->dims[1];
	ops_window w, w3;
	char err[8];

	(void)ws;
	if (pool_window(n, &w, err, sizeof(err)) < 0)
		return VP_EMODEL;
	ops_window_to3(&w, &w3);
	if (is_max && (x->dtype == INF_DT_UINT8 || n->n_out > 1 || w3.in[2] > ROW_MAX || w3.pb[2] > ROW_MAX ||
	               (w3.out[2] - 1) * w3.s[2] + (w3.k[2] - 1) * w3.d[2] + 1 > 2 * ROW_MAX)) {
		if (x->dtype == INF_DT_UINT8)
			maxpool_direct_uint8_t(n, &w3, nth);
		else
			maxpool_direct_float(n, &w3, nth);
		return 0;
	}
	if (w3.in[2] > ROW_MAX)
		return VP_EUNSUP;
	if (is_max && pool_flat_usable(&w3)) {
		flat_job j = { x->data, n->out[0]->data, &w3 };

		ops_par_range(cx, planes, 1, flat_planes, &j);
		return 0;
	}
	/* planes too large to stage on the stack (deimv2's stem: Pad, then k=2 on 161 x 161) */
	if (is_max && pool_s1_usable(&w3)) {
		flat_job j = { x->data, n->out[0]->data, &w3 };

		ops_par_range(cx, planes, 1, s1_planes, &j);
		return 0;
	}
#pragma omp parallel for num_threads(nth)
	for (int64_t p = 0; p < planes; p++)
		pool_plane((const float *)x->data + p * w3.in_size, &w3, is_max, incl_pad,
		           (float *)n->out[0]->data + p * w3.out_size);
	return 0;
}

OPS_SHAPE(shape_global_pool, 1, 1)
{
	const inf_tensor *x = n->in[0];
	int64_t dims[INF_MAX_DIMS];
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0)
		return rc;
	if (x->ndim < 3)
		return ops_fail(err, errlen, VP_EMODEL, "input %s has rank %d, at least 3 expected", x->name, x->ndim);
	for (int i = 0; i < x->ndim; i++)
		dims[i] = i < 2 ? x->dims[i] : 1;
	ops_set_shape(n->out[0], INF_DT_FLOAT, x->ndim, dims);
	return 0;
}

static int run_global_pool(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const inf_tensor *x = n->in[0];
	int64_t planes = x->dims[0] * x->dims[1], size = inf_tensor_numel(x) / (planes ? planes : 1);
	int is_max = !strcmp(n->op_type, "GlobalMaxPool");
	const float *xp = x->data;
	float *yp = n->out[0]->data;

	(void)ws;
#pragma omp parallel for num_threads(ops_threads(cx))
	for (int64_t p = 0; p < planes; p++) {
		const float *v = xp + p * size;
		float acc = is_max ? -INFINITY : 0.0f;

		for (int64_t i = 0; i < size; i++)
			acc = is_max ? fmaxf(acc, v[i]) : acc + v[i];
		yp[p] = is_max ? acc : acc / (float)size;
	}
	return 0;
}

/* ---- MaxUnpool(X, I, output_shape?): X's values at I's flat output positions, 0 elsewhere ---- */

/* The inferred dims, per spatial axis (in - 1) * stride - pad_begin - pad_end + kernel: I
 * indexes a tensor of these dims even when output_shape asks for a larger one (the
 * reference then pads at the end of each axis). */
static int unpool_dims(const inf_node *n, int64_t *dims, char *err, size_t errlen)
{
	const inf_tensor *x = n->in[0];
	const int64_t *k, *s = NULL, *p = NULL;
	int nk = inf_attr_ints(n, "kernel_shape", &k), sp = x->ndim - 2;

	if (sp < 1 || nk != sp || (inf_attr_ints(n, "strides", &s) >= 0 && inf_attr_ints(n, "strides", &s) != sp) ||
	    (inf_attr_ints(n, "pads", &p) >= 0 && inf_attr_ints(n, "pads", &p) != 2 * sp))
		return ops_fail(err, errlen, VP_EMODEL, "kernel_shape, strides or pads do not fit the input");
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	for (int d = 0; d < sp; d++) {
		int64_t st = s ? s[d] : 1, v;
		if (k[d] < 1 || st < 1 || k[d] > 65536 || st > 65536 ||
		    __builtin_mul_overflow(x->dims[2 + d] - 1, st, &v))
			return ops_fail(err, errlen, VP_EMODEL, "kernel or stride out of range");
		dims[2 + d] = v + k[d] - (p ? p[d] + p[sp + d] : 0);
	}
	return 0;
}

OPS_SHAPE(shape_unpool, 2, 1)
{
	const inf_tensor *x = n->in[0], *ix = ops_in(n, 1);
	int64_t dims[INF_MAX_DIMS], inferred[INF_MAX_DIMS];
	int rc = ops_need_float(n, 0, err, errlen);

	if (rc < 0)
		return rc;
	if (!ix || ix->dtype != INF_DT_INT64 || inf_tensor_numel(ix) != inf_tensor_numel(x))
		return ops_fail(err, errlen, VP_EMODEL, "I must be int64 with X's shape");
	if ((rc = unpool_dims(n, inferred, err, errlen)) < 0)
		return rc;
	memcpy(dims, inferred, sizeof(dims));
	if (ops_in(n, 2) && (rc = ops_const_ints(n, 2, dims, INF_MAX_DIMS, err, errlen)) != x->ndim)
		return rc < 0 ? rc : ops_fail(err, errlen, VP_EMODEL, "output_shape has %d values", rc);
	for (int d = 0; d < x->ndim; d++)
		if (inferred[d] < 0 || dims[d] < inferred[d])
			return ops_fail(err, errlen, VP_EMODEL, "output dim %d smaller than the unpooled %lld", d,
			                (long long)inferred[d]);
	ops_set_shape(n->out[0], INF_DT_FLOAT, x->ndim, dims);
	return 0;
}

/* Flat index i of the inferred dims to the same coordinates in y's (padded at the ends). */
static int64_t unpool_remap(int64_t i, const int64_t *inferred, const inf_tensor *y)
{
	int64_t off = 0, scale = 1;

	for (int d = y->ndim - 1; d >= 0; d--) {
		off += (i % inferred[d]) * scale;
		i /= inferred[d];
		scale *= y->dims[d];
	}
	return off;
}

static int run_unpool(inf_node *n, void *ws, const inf_cpu_ctx *cx)
{
	const float *x = n->in[0]->data;
	const int64_t *ix = n->in[1]->data;
	float *y = n->out[0]->data;
	int64_t inferred[INF_MAX_DIMS], total = 1;
	char err[8];

	(void)ws; (void)cx;
	if (unpool_dims(n, inferred, err, sizeof(err)) < 0)
		return VP_EMODEL;
	for (int d = 0; d < n->out[0]->ndim; d++)
		total *= inferred[d];
	memset(y, 0, inf_tensor_bytes(n->out[0]));
	for (int64_t i = 0, cnt = inf_tensor_numel(n->in[0]); i < cnt; i++) {
		if (ix[i] < 0 || ix[i] >= total)
			return VP_EMODEL;        /* an index outside the output: bad data, not a write past it */
		y[unpool_remap(ix[i], inferred, n->out[0])] = x[i];
	}
	return 0;
}

const inf_op ops_pool[] = {
	{ .op_type = "MaxPool", .shape = shape_pool, .run_cpu = run_pool },
	{ .op_type = "AveragePool", .shape = shape_pool, .run_cpu = run_pool },
	{ .op_type = "GlobalAveragePool", .shape = shape_global_pool, .run_cpu = run_global_pool },
	{ .op_type = "GlobalMaxPool", .shape = shape_global_pool, .run_cpu = run_global_pool },
	{ .op_type = "MaxUnpool", .shape = shape_unpool, .run_cpu = run_unpool },
	{ .op_type = NULL },
};
