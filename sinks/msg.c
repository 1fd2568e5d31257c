/* JSON Lines messages of ../shared/docs/output-schema.md. Each message is written in two
 * passes over the same code (count, then fill) so it costs exactly one allocation and no
 * format strings. */
#include "msg.h"
#include "../pipeline/vp_err.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Writer: with buf == NULL it only counts, so the caller can size the buffer exactly. */
typedef struct jw {
	char *buf;
	size_t len;
} jw;

static void jw_put(jw *w, const char *s, size_t n)
{
	if (w->buf)
		memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void jw_lit(jw *w, const char *s) { jw_put(w, s, strlen(s)); }
static void jw_ch(jw *w, char c) { jw_put(w, &c, 1); }

static void jw_uint(jw *w, uint64_t v, int min_digits)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v || n < min_digits);
	jw_put(w, tmp + sizeof(tmp) - n, (size_t)n);
}

static void jw_int(jw *w, int64_t v)
{
	if (v < 0) {
		jw_ch(w, '-');
		jw_uint(w, (uint64_t)0 - (uint64_t)v, 1);
	} else {
		jw_uint(w, (uint64_t)v, 1);
	}
}

/* Fixed-point with `decimals` digits, rounded half away from zero. JSON has no NaN or
 * infinity, and values beyond 2^53 are nonsense for pixels, seconds or scores: both
 * become null rather than an invalid line. */
static void jw_fixed(jw *w, double v, int decimals)
{
	static const double scale[] = { 1, 10, 100, 1000, 10000 };
	double r = round(v * scale[decimals]);
	if (!isfinite(r) || fabs(r) > 9007199254740992.0) {
		jw_lit(w, "null");
		return;
	}
	int64_t q = (int64_t)r;
	uint64_t a = q < 0 ? (uint64_t)0 - (uint64_t)q : (uint64_t)q;
	uint64_t div = (uint64_t)scale[decimals];
	if (q < 0)
		jw_ch(w, '-');
	jw_uint(w, a / div, 1);
	if (decimals) {
		jw_ch(w, '.');
		jw_uint(w, a % div, decimals);
	}
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), 0 when it is not one. */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	unsigned lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;  /* UTF-16 surrogates are not characters */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* JSON string: quotes, backslashes and control characters escaped, valid UTF-8 passed
 * through as is, each byte of invalid UTF-8 (a Latin-1 labels file, say) replaced by
 * U+FFFD so that every line stays parseable. */
static void jw_quoted(jw *w, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	jw_ch(w, '"');
	while (*s) {
		unsigned c = *s;
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default: break;
		}
		if (esc) {
			jw_lit(w, esc);
			s++;
		} else if (c < 0x20) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			jw_put(w, u, sizeof(u));
			s++;
		} else {
			int n = utf8_len(s);
			if (n == 0) {
				jw_lit(w, "\\ufffd");
				n = 1;
			} else {
				jw_put(w, (const char *)s, (size_t)n);
			}
			s += n;
		}
	}
	jw_ch(w, '"');
}

/* "2026-11-25T04:00:01.250Z" from CLOCK_REALTIME microseconds. */
static void jw_time(jw *w, int64_t wall_us)
{
	int64_t ms = wall_us >= 0 ? wall_us / 1000 : -((-wall_us + 999) / 1000);
	time_t sec = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	int frac = (int)(ms - (int64_t)sec * 1000);
	struct tm tm;
	if (!gmtime_r(&sec, &tm)) {
		jw_lit(w, "null");
		return;
	}
	jw_ch(w, '"');
	jw_uint(w, (uint64_t)(tm.tm_year + 1900), 4);
	jw_ch(w, '-');
	jw_uint(w, (uint64_t)tm.tm_mon + 1, 2);
	jw_ch(w, '-');
	jw_uint(w, (uint64_t)tm.tm_mday, 2);
	jw_ch(w, 'T');
	jw_uint(w, (uint64_t)tm.tm_hour, 2);
	jw_ch(w, ':');
	jw_uint(w, (uint64_t)tm.tm_min, 2);
	jw_ch(w, ':');
	jw_uint(w, (uint64_t)tm.tm_sec, 2);
	jw_ch(w, '.');
	jw_uint(w, (uint64_t)frac, 3);
	jw_lit(w, "Z\"");
}

typedef struct det_order {
	float score;
	int idx;
} det_order;

/* Descending score, ties in input order; NaN sorts last so the order stays total. */
static int det_order_cmp(const void *pa, const void *pb)
{
	const det_order *a = pa, *b = pb;
	bool na = isnan(a->score), nb = isnan(b->score);
	if (na != nb)
		return na ? 1 : -1;
	if (!na && a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

static void jw_class(jw *w, int class_id, const char *const *labels, int n_labels)
{
	jw_lit(w, "\"class_id\":");
	jw_int(w, class_id);
	if (labels && class_id >= 0 && class_id < n_labels && labels[class_id]) {
		jw_lit(w, ",\"label\":");
		jw_quoted(w, labels[class_id]);
	}
}

static void jw_bbox(jw *w, const float b[4])
{
	jw_ch(w, '[');
	for (int k = 0; k < 4; k++) {
		if (k)
			jw_ch(w, ',');
		jw_fixed(w, b[k], 1);
	}
	jw_ch(w, ']');
}

static void jw_det(jw *w, const vp_det *d, int64_t track_id, const char *const *labels, int n_labels)
{
	jw_ch(w, '{');
	jw_class(w, d->class_id, labels, n_labels);
	jw_lit(w, ",\"score\":");
	jw_fixed(w, d->score, 3);
	jw_lit(w, ",\"bbox\":");
	jw_bbox(w, d->bbox);
	if (track_id >= 0) {
		jw_lit(w, ",\"track_id\":");
		jw_int(w, track_id);
	}
	jw_ch(w, '}');
}

/* "zones":{"lot":3},"lines":{"gate":{"in":4,"out":1}} */
static void jw_counts(jw *w, const sink_frame_extra *x)
{
	if (x->n_zones > 0) {
		jw_lit(w, ",\"zones\":{");
		for (int i = 0; i < x->n_zones; i++) {
			if (i)
				jw_ch(w, ',');
			jw_quoted(w, x->zone_names[i]);
			jw_ch(w, ':');
			jw_int(w, x->zone_counts[i]);
		}
		jw_ch(w, '}');
	}
	if (x->n_lines > 0) {
		jw_lit(w, ",\"lines\":{");
		for (int i = 0; i < x->n_lines; i++) {
			if (i)
				jw_ch(w, ',');
			jw_quoted(w, x->line_names[i]);
			jw_lit(w, ":{\"in\":");
			jw_int(w, x->line_in[i]);
			jw_lit(w, ",\"out\":");
			jw_int(w, x->line_out[i]);
			jw_ch(w, '}');
		}
		jw_ch(w, '}');
	}
}

/* Every message opens with its stream and, in fleet mode, the stream's fencing epoch: a
 * consumer drops what an owner with a lower epoch still sends for the same stream. */
static void jw_head(jw *w, const char *stream, long long epoch)
{
	jw_lit(w, "{\"stream\":");
	jw_quoted(w, stream);
	if (epoch > 0) {
		jw_lit(w, ",\"epoch\":");
		jw_int(w, epoch);
	}
}

static void jw_frame(jw *w, const vp_frame *f, const vp_det *dets, const det_order *order,
                     int n, const char *const *labels, int n_labels, const sink_frame_extra *x)
{
	jw_head(w, f->stream_id ? f->stream_id : "", x->epoch);
	jw_lit(w, ",\"frame\":");
	jw_int(w, f->index);
	jw_lit(w, ",\"pts\":");
	jw_fixed(w, f->pts, 3);
	jw_lit(w, ",\"time\":");
	jw_time(w, f->wall_us);
	jw_lit(w, ",\"width\":");
	jw_int(w, f->width);
	jw_lit(w, ",\"height\":");
	jw_int(w, f->height);
	jw_lit(w, ",\"detections\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			jw_ch(w, ',');
		int k = order[i].idx;
		jw_det(w, &dets[k], x->track_ids ? x->track_ids[k] : -1, labels, n_labels);
	}
	jw_ch(w, ']');
	jw_counts(w, x);
	jw_lit(w, "}\n");
}

/* Struct and text in one block; text follows the struct. */
static int msg_alloc(size_t len, const char *stream, enum pipe_msg_kind kind, sink_msg **ret)
{
	sink_msg *m = malloc(sizeof(*m) + len + 1);
	if (!m)
		return -ENOMEM;
	m->refcount = 1;
	m->stream = stream;
	m->kind = kind;
	m->eos = kind == PIPE_MSG_EOS;
	m->len = len;
	m->text = (char *)(m + 1);
	m->text[len] = '\0';
	*ret = m;
	return 0;
}

/* Enough for max_detections' usual range without touching the heap. */
#define ORDER_STACK 256

int sink_msg_frame(const vp_frame *f, const vp_det *dets, int n, const char *const *labels,
                   int n_labels, sink_msg **ret_msg)
{
	return sink_msg_frame_ex(f, dets, n, labels, n_labels, NULL, ret_msg);
}

int sink_msg_frame_ex(const vp_frame *f, const vp_det *dets, int n, const char *const *labels,
                      int n_labels, const sink_frame_extra *x, sink_msg **ret_msg)
{
	static const sink_frame_extra none;
	if (!x)
		x = &none;
	if (!f || n < 0 || (n > 0 && !dets))
		return -EINVAL;
	det_order stack[ORDER_STACK];
	det_order *order = n <= ORDER_STACK ? stack : malloc((size_t)n * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		order[i] = (det_order){ dets[i].score, i };
	qsort(order, (size_t)n, sizeof(*order), det_order_cmp);

	jw w = { 0 };
	jw_frame(&w, f, dets, order, n, labels, n_labels, x);
	sink_msg *m;
	int ret = msg_alloc(w.len, f->stream_id, PIPE_MSG_FRAMES, &m);
	if (ret == 0) {
		w = (jw){ .buf = m->text };
		jw_frame(&w, f, dets, order, n, labels, n_labels, x);
		*ret_msg = m;
	}
	if (order != stack)
		free(order);
	return ret;
}

static void jw_eos(jw *w, const char *stream, long long epoch, const int64_t counts[4], const char *error)
{
	static const char *const keys[] = { ",\"frames\":", ",\"processed\":", ",\"dropped\":",
	                                    ",\"errors\":" };
	jw_head(w, stream, epoch);
	jw_lit(w, ",\"eos\":true");
	for (int i = 0; i < 4; i++) {
		jw_lit(w, keys[i]);
		jw_int(w, counts[i]);
	}
	if (error) {
		jw_lit(w, ",\"error\":");
		jw_quoted(w, error);
	}
	jw_lit(w, "}\n");
}

/* A message written by fill(w, ctx) in two passes: count, then fill one exact block. */
typedef void (*jw_fill)(jw *w, const void *ctx);

static int msg_build(jw_fill fill, const void *ctx, const char *stream, enum pipe_msg_kind kind,
                     sink_msg **ret_msg)
{
	jw w = { 0 };
	fill(&w, ctx);
	sink_msg *m;
	int ret = msg_alloc(w.len, stream, kind, &m);
	if (ret < 0)
		return ret;
	w = (jw){ .buf = m->text };
	fill(&w, ctx);
	*ret_msg = m;
	return 0;
}

typedef struct eos_ctx {
	const char *stream;
	long long epoch;
	int64_t counts[4];
	const char *error;
} eos_ctx;

static void fill_eos(jw *w, const void *ctx)
{
	const eos_ctx *c = ctx;
	jw_eos(w, c->stream, c->epoch, c->counts, c->error);
}

int sink_msg_eos(const char *stream, int64_t frames, int64_t processed, int64_t dropped,
                 int64_t errors, const char *error, sink_msg **ret_msg)
{
	return sink_msg_eos_ex(stream, 0, frames, processed, dropped, errors, error, ret_msg);
}

int sink_msg_eos_ex(const char *stream, long long epoch, int64_t frames, int64_t processed,
                    int64_t dropped, int64_t errors, const char *error, sink_msg **ret_msg)
{
	if (!stream)
		return -EINVAL;
	eos_ctx c = { stream, epoch, { frames, processed, dropped, errors }, error };
	return msg_build(fill_eos, &c, stream, PIPE_MSG_EOS, ret_msg);
}

static void jw_event_fields(jw *w, const an_event *e, const char *const *labels, int n_labels)
{
	switch (e->kind) {
	case AN_EV_TRACK_START:
		jw_ch(w, ',');
		jw_class(w, e->class_id, labels, n_labels);
		jw_lit(w, ",\"score\":");
		jw_fixed(w, e->score, 3);
		jw_lit(w, ",\"bbox\":");
		jw_bbox(w, e->bbox);
		break;
	case AN_EV_TRACK_END:
		jw_lit(w, ",\"first_frame\":");
		jw_int(w, e->first_frame);
		jw_lit(w, ",\"first_pts\":");
		jw_fixed(w, e->first_pts, 3);
		jw_lit(w, ",\"duration_s\":");
		jw_fixed(w, e->duration_s, 3);
		jw_ch(w, ',');
		jw_class(w, e->class_id, labels, n_labels);
		jw_lit(w, ",\"best_score\":");
		jw_fixed(w, e->score, 3);
		jw_lit(w, ",\"best_bbox\":");
		jw_bbox(w, e->bbox);
		jw_lit(w, ",\"best_frame\":");
		jw_int(w, e->best_frame);
		break;
	case AN_EV_ZONE_ENTER:
	case AN_EV_ZONE_EXIT:
		jw_lit(w, ",\"zone\":");
		jw_quoted(w, e->name ? e->name : "");
		jw_ch(w, ',');
		jw_class(w, e->class_id, labels, n_labels);
		if (e->kind == AN_EV_ZONE_EXIT) {
			jw_lit(w, ",\"dwell_s\":");
			jw_fixed(w, e->dwell_s, 3);
		}
		break;
	case AN_EV_LINE_CROSS:
		jw_lit(w, ",\"line\":");
		jw_quoted(w, e->name ? e->name : "");
		jw_lit(w, e->direction > 0 ? ",\"direction\":\"in\"," : ",\"direction\":\"out\",");
		jw_class(w, e->class_id, labels, n_labels);
		jw_lit(w, ",\"in\":");
		jw_int(w, e->in);
		jw_lit(w, ",\"out\":");
		jw_int(w, e->out);
		break;
	}
}

static void jw_event(jw *w, const char *stream, long long epoch, const an_event *e,
                     const char *const *labels, int n_labels, const char *snapshot)
{
	jw_head(w, stream, epoch);
	jw_lit(w, ",\"event\":");
	jw_quoted(w, an_event_name(e->kind));
	jw_lit(w, ",\"track_id\":");
	jw_int(w, e->track_id);
	jw_lit(w, ",\"frame\":");
	jw_int(w, e->frame);
	jw_lit(w, ",\"pts\":");
	jw_fixed(w, e->pts, 3);
	jw_lit(w, ",\"time\":");
	jw_time(w, e->wall_us);
	jw_event_fields(w, e, labels, n_labels);
	if (snapshot && *snapshot) {
		jw_lit(w, ",\"snapshot\":");
		jw_quoted(w, snapshot);
	}
	jw_lit(w, "}\n");
}

typedef struct event_ctx {
	const char *stream;
	long long epoch;
	const an_event *ev;
	const char *const *labels;
	int n_labels;
	const char *snapshot;
} event_ctx;

static void fill_event(jw *w, const void *ctx)
{
	const event_ctx *c = ctx;
	jw_event(w, c->stream, c->epoch, c->ev, c->labels, c->n_labels, c->snapshot);
}

int sink_msg_event(const char *stream, const an_event *ev, const char *const *labels, int n_labels,
                   const char *snapshot, sink_msg **ret_msg)
{
	return sink_msg_event_ex(stream, 0, ev, labels, n_labels, snapshot, ret_msg);
}

int sink_msg_event_ex(const char *stream, long long epoch, const an_event *ev,
                      const char *const *labels, int n_labels, const char *snapshot,
                      sink_msg **ret_msg)
{
	if (!stream || !ev)
		return -EINVAL;
	event_ctx c = { stream, epoch, ev, labels, n_labels, snapshot };
	return msg_build(fill_event, &c, stream, PIPE_MSG_EVENTS, ret_msg);
}

const char *sink_msg_kind_name(enum pipe_msg_kind kind)
{
	static const char *const names[] = { "frames", "events", "eos" };
	return (unsigned)kind < 3 ? names[kind] : "frames";
}

sink_msg *sink_msg_ref(sink_msg *m)
{
	__atomic_fetch_add(&m->refcount, 1, __ATOMIC_RELAXED);
	return m;
}

void sink_msg_unref(sink_msg **m)
{
	if (!*m)
		return;
	if (__atomic_sub_fetch(&(*m)->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		free(*m);
	*m = NULL;
}
