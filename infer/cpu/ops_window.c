/* Window geometry following the ONNX Conv/Pool/ConvTranspose specifications. */
#include <string.h>

#include "ops_common.h"
#include "ops_window.h"

/* strides, dilations (default 1) and explicit pads (default 0) from the attributes. */
static int read_common(const inf_node *n, ops_window *w, char *err, size_t errlen)
{
	const int64_t *v;
	int cnt;

	for (int i = 0; i < w->nsp; i++) {
		w->s[i] = w->d[i] = 1;
		w->pb[i] = w->pe[i] = 0;
	}
	if ((cnt = inf_attr_ints(n, "strides", &v)) >= 0) {
		if (cnt != w->nsp)
			return ops_fail(err, errlen, VP_EMODEL, "strides has %d values, %d expected", cnt, w->nsp);
		memcpy(w->s, v, sizeof(int64_t) * (size_t)cnt);
	}
	if ((cnt = inf_attr_ints(n, "dilations", &v)) >= 0) {
		if (cnt != w->nsp)
			return ops_fail(err, errlen, VP_EMODEL, "dilations has %d values, %d expected", cnt, w->nsp);
		memcpy(w->d, v, sizeof(int64_t) * (size_t)cnt);
	}
	if ((cnt = inf_attr_ints(n, "pads", &v)) >= 0) {
		if (cnt != 2 * w->nsp)
			return ops_fail(err, errlen, VP_EMODEL, "pads has %d values, %d expected", cnt, 2 * w->nsp);
		memcpy(w->pb, v, sizeof(int64_t) * (size_t)w->nsp);
		memcpy(w->pe, v + w->nsp, sizeof(int64_t) * (size_t)w->nsp);
	}
	/* The bound keeps malformed models from overflowing sizes or looping for ever (a
	 * 2^40 kernel with SAME padding would otherwise pass every other check). */
	for (int i = 0; i < w->nsp; i++)
		if (w->s[i] < 1 || w->d[i] < 1 || w->pb[i] < 0 || w->pe[i] < 0 || w->k[i] < 1 ||
		    w->k[i] > OPS_MAX_EXTENT || w->s[i] > OPS_MAX_EXTENT || w->d[i] > OPS_MAX_EXTENT ||
		    w->pb[i] > OPS_MAX_EXTENT || w->pe[i] > OPS_MAX_EXTENT)
			return ops_fail(err, errlen, VP_EMODEL, "invalid kernel, strides, dilations or pads on axis %d", i);
	return 0;
}

static int set_spatial(const inf_tensor *x, const int64_t *kernel, ops_window *w, char *err, size_t errlen)
{
	if (x->ndim < 3 || x->ndim > 2 + OPS_MAX_SP)
		return ops_fail(err, errlen, VP_EUNSUP, "input %s has rank %d, 3 to %d supported",
		                x->name, x->ndim, 2 + OPS_MAX_SP);
	w->nsp = x->ndim - 2;
	for (int i = 0; i < w->nsp; i++) {
		w->in[i] = x->dims[2 + i];
		w->k[i] = kernel[i];
	}
	return 0;
}

static void products(ops_window *w)
{
	w->in_size = w->out_size = w->k_size = 1;
	for (int i = 0; i < w->nsp; i++) {
		w->in_size *= w->in[i];
		w->out_size *= w->out[i];
		w->k_size *= w->k[i];
	}
}

int ops_window_forward(const inf_node *n, const inf_tensor *x, const int64_t *kernel, int ceil_mode,
                       ops_window *w, char *err, size_t errlen)
{
	const char *ap = inf_attr_str(n, "auto_pad", "NOTSET");
	int rc;

	if ((rc = set_spatial(x, kernel, w, err, errlen)) < 0 || (rc = read_common(n, w, err, errlen)) < 0)
		return rc;
	for (int i = 0; i < w->nsp; i++) {
		int64_t ek = (w->k[i] - 1) * w->d[i] + 1, span;

		if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
			int64_t out = (w->in[i] + w->s[i] - 1) / w->s[i];
			int64_t total = (out - 1) * w->s[i] + ek - w->in[i];

			if (total < 0)
				total = 0;
			w->pb[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
			w->pe[i] = total - w->pb[i];
		} else if (!strcmp(ap, "VALID")) {
			w->pb[i] = w->pe[i] = 0;
		} else if (strcmp(ap, "NOTSET") != 0) {
			return ops_fail(err, errlen, VP_EMODEL, "auto_pad \"%s\" is not valid", ap);
		}
		span = w->in[i] + w->pb[i] + w->pe[i] - ek;
		if (span < 0)
			return ops_fail(err, errlen, VP_EMODEL, "kernel larger than the padded input on axis %d", i);
		if (ceil_mode) {
			w->out[i] = (span + w->s[i] - 1) / w->s[i] + 1;
			/* the last window must start inside the input or its start padding */
			if ((w->out[i] - 1) * w->s[i] >= w->in[i] + w->pb[i])
				w->out[i]--;
		} else {
			w->out[i] = span / w->s[i] + 1;
		}
	}
	products(w);
	return 0;
}

int ops_window_transpose(const inf_node *n, const inf_tensor *x, const int64_t *kernel,
                         ops_window *w, char *err, size_t errlen)
{
	const char *ap = inf_attr_str(n, "auto_pad", "NOTSET");
	const int64_t *op = NULL, *os = NULL;
	int n_op, n_os, rc, same;

	if ((rc = set_spatial(x, kernel, w, err, errlen)) < 0 || (rc = read_common(n, w, err, errlen)) < 0)
		return rc;
	n_op = inf_attr_ints(n, "output_padding", &op);
	n_os = inf_attr_ints(n, "output_shape", &os);
	if ((n_op >= 0 && n_op != w->nsp) || (n_os >= 0 && n_os != w->nsp && n_os != w->nsp + 2))
		return ops_fail(err, errlen, VP_EMODEL, "output_padding or output_shape has the wrong length");
	if (n_os == w->nsp + 2)
		os += 2;
	same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
	for (int i = 0; i < w->nsp; i++) {
		int64_t ek = (w->k[i] - 1) * w->d[i] + 1, opad = n_op >= 0 ? op[i] : 0;
		int64_t full = w->s[i] * (w->in[i] - 1) + opad + ek;

		if (n_os >= 0 || same) {
			int64_t target = n_os >= 0 ? os[i] : w->in[i] * w->s[i];
			int64_t total = full - target;

			if (total < 0)
				total = 0;
			if (!strcmp(ap, "SAME_UPPER")) {
				w->pb[i] = total / 2;
				w->pe[i] = total - total / 2;
			} else {
				w->pb[i] = total - total / 2;
				w->pe[i] = total / 2;
			}
			w->out[i] = target;
		} else if (!strcmp(ap, "VALID")) {
			w->pb[i] = w->pe[i] = 0;
			w->out[i] = full;
		} else {
			w->out[i] = full - w->pb[i] - w->pe[i];
		}
		if (w->out[i] < 1)
			return ops_fail(err, errlen, VP_EMODEL, "output size on axis %d is not positive", i);
	}
	products(w);
	return 0;
}

void ops_window_to3(const ops_window *w, ops_window *r)
{
	int off = OPS_MAX_SP - w->nsp;

	*r = *w;
	r->nsp = OPS_MAX_SP;
	for (int i = OPS_MAX_SP - 1; i >= 0; i--) {
		int j = i - off;
		r->in[i] = j >= 0 ? w->in[j] : 1;
		r->out[i] = j >= 0 ? w->out[j] : 1;
		r->k[i] = j >= 0 ? w->k[j] : 1;
		r->s[i] = j >= 0 ? w->s[j] : 1;
		r->d[i] = j >= 0 ? w->d[j] : 1;
		r->pb[i] = j >= 0 ? w->pb[j] : 0;
		r->pe[i] = j >= 0 ? w->pe[j] : 0;
	}
}
