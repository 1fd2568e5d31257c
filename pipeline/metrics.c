/* Metrics registry and Prometheus text rendering. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum family_type { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM };
static const char *const type_names[] = { "counter", "gauge", "histogram" };

struct pipe_counter { _Atomic uint64_t v; };
/* Doubles live in their bit pattern so that set and add stay lock-free. */
struct pipe_gauge { _Atomic uint64_t bits; };
struct pipe_histogram {
	const double *bounds;         /* the family's */
	int n_bounds;
	_Atomic uint64_t sum_bits;
	_Atomic uint64_t counts[];    /* per bucket, not cumulative; [n_bounds] is +Inf */
};

typedef struct series {
	struct series *next;
	char **values;
	pipe_counter counter;
	pipe_gauge gauge;
	pipe_histogram *hist;
} series;

typedef struct family {
	struct family *next;
	char *name, *help;
	enum family_type type;
	char **label_names;
	int n_labels;
	double *bounds;
	int n_bounds;
	series *first, *last;
} family;

struct pipe_metrics {
	pthread_mutex_t lock;         /* registration and rendering only */
	family *first, *last;
};

static uint64_t dbl_bits(double v) { uint64_t b; memcpy(&b, &v, sizeof(b)); return b; }
static double bits_dbl(uint64_t b) { double v; memcpy(&v, &b, sizeof(v)); return v; }

int pipe_metrics_new(pipe_metrics **ret)
{
	pipe_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*ret = m;
	return 0;
}

static void free_strv(char **v, int n)
{
	for (int i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void free_family(family *f)
{
	for (series *s = f->first, *next; s; s = next) {
		next = s->next;
		free_strv(s->values, f->n_labels);
		free(s->hist);
		free(s);
	}
	free_strv(f->label_names, f->n_labels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void pipe_metrics_free(pipe_metrics **pm)
{
	pipe_metrics *m = *pm;
	if (!m)
		return;
	for (family *f = m->first, *next; f; f = next) {
		next = f->next;
		free_family(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
	*pm = NULL;
}

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (colon && c == ':')))
			return false;
	}
	return true;
}

static int check_labels(const pipe_label *labels, int n)
{
	if (n < 0 || (n > 0 && !labels))
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		/* "__" names are reserved for Prometheus; "le" is the histogram's own. */
		if (!valid_name(labels[i].name, false) || strncmp(labels[i].name, "__", 2) == 0 ||
		    strcmp(labels[i].name, "le") == 0 || !labels[i].value)
			return -EINVAL;
		for (int j = 0; j < i; j++)
			if (strcmp(labels[i].name, labels[j].name) == 0)
				return -EINVAL;
	}
	return 0;
}

static int check_bounds(const double *b, int n)
{
	if (n < 0 || (n > 0 && !b))
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (!isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1]))
			return -EINVAL;
	return 0;
}

static family *find_family(pipe_metrics *m, const char *name)
{
	for (family *f = m->first; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* The family must have been registered with the same type, label names and buckets. */
static bool family_matches(const family *f, enum family_type type, const pipe_label *labels,
                           int n, const double *bounds, int n_bounds)
{
	if (f->type != type || f->n_labels != n)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(f->label_names[i], labels[i].name) != 0)
			return false;
	if (type != FAM_HISTOGRAM)
		return true;
	return f->n_bounds == n_bounds &&
	       (n_bounds == 0 || memcmp(f->bounds, bounds, sizeof(double) * (size_t)n_bounds) == 0);
}

static family *new_family(const char *name, const char *help, enum family_type type,
                          const pipe_label *labels, int n, const double *bounds, int n_bounds)
{
	family *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->label_names = calloc((size_t)n + 1, sizeof(char *));
	if (!f->name || !f->help || !f->label_names)
		goto fail;
	for (f->n_labels = 0; f->n_labels < n; f->n_labels++)
		if (!(f->label_names[f->n_labels] = strdup(labels[f->n_labels].name)))
			goto fail;
	if (type == FAM_HISTOGRAM && n_bounds > 0) {
		if (!(f->bounds = malloc(sizeof(double) * (size_t)n_bounds)))
			goto fail;
		memcpy(f->bounds, bounds, sizeof(double) * (size_t)n_bounds);
	}
	f->n_bounds = n_bounds;
	return f;
fail:
	free_family(f);
	return NULL;
}

static series *find_series(const family *f, const pipe_label *labels)
{
	for (series *s = f->first; s; s = s->next) {
		int i = 0;
		while (i < f->n_labels && strcmp(s->values[i], labels[i].value) == 0)
			i++;
		if (i == f->n_labels)
			return s;
	}
	return NULL;
}

static series *new_series(const family *f, const pipe_label *labels)
{
	series *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->values = calloc((size_t)f->n_labels + 1, sizeof(char *));
	if (!s->values)
		goto fail;
	for (int i = 0; i < f->n_labels; i++)
		if (!(s->values[i] = strdup(labels[i].value)))
			goto fail;
	if (f->type == FAM_HISTOGRAM) {
		size_t n = (size_t)f->n_bounds + 1;
		s->hist = calloc(1, sizeof(*s->hist) + n * sizeof(s->hist->counts[0]));
		if (!s->hist)
			goto fail;
		s->hist->bounds = f->bounds;
		s->hist->n_bounds = f->n_bounds;
	}
	return s;
fail:
	free_strv(s->values, f->n_labels);
	free(s);
	return NULL;
}

static int register_series(pipe_metrics *m, const char *name, const char *help,
                           enum family_type type, const pipe_label *labels, int n,
                           const double *bounds, int n_bounds, series **ret)
{
	if (!m || !valid_name(name, true) || check_labels(labels, n) < 0 ||
	    (type == FAM_HISTOGRAM && check_bounds(bounds, n_bounds) < 0))
		return -EINVAL;
	int err = 0;
	pthread_mutex_lock(&m->lock);
	family *f = find_family(m, name);
	bool fresh = !f;
	if (f && !family_matches(f, type, labels, n, bounds, n_bounds)) {
		err = -EINVAL;
		goto out;
	}
	if (fresh && !(f = new_family(name, help, type, labels, n, bounds, n_bounds))) {
		err = -ENOMEM;
		goto out;
	}
	series *s = find_series(f, labels);
	if (!s) {
		if (!(s = new_series(f, labels))) {
			if (fresh)
				free_family(f);
			err = -ENOMEM;
			goto out;
		}
		if (f->last)
			f->last->next = s;
		else
			f->first = s;
		f->last = s;
	}
	if (fresh) {
		if (m->last)
			m->last->next = f;
		else
			m->first = f;
		m->last = f;
	}
	*ret = s;
out:
	pthread_mutex_unlock(&m->lock);
	return err;
}

int pipe_metrics_counter(pipe_metrics *m, const char *name, const char *help,
                         const pipe_label *labels, int n_labels, pipe_counter **ret)
{
	series *s;
	int err = register_series(m, name, help, FAM_COUNTER, labels, n_labels, NULL, 0, &s);
	if (err < 0)
		return err;
	*ret = &s->counter;
	return 0;
}

int pipe_metrics_gauge(pipe_metrics *m, const char *name, const char *help,
                       const pipe_label *labels, int n_labels, pipe_gauge **ret)
{
	series *s;
	int err = register_series(m, name, help, FAM_GAUGE, labels, n_labels, NULL, 0, &s);
	if (err < 0)
		return err;
	*ret = &s->gauge;
	return 0;
}

int pipe_metrics_histogram(pipe_metrics *m, const char *name, const char *help,
                           const pipe_label *labels, int n_labels,
                           const double *bounds, int n_bounds, pipe_histogram **ret)
{
	series *s;
	int err = register_series(m, name, help, FAM_HISTOGRAM, labels, n_labels, bounds,
	                          n_bounds, &s);
	if (err < 0)
		return err;
	*ret = s->hist;
	return 0;
}

void pipe_counter_sync(pipe_counter *c, int64_t now, int64_t *synced)
{
	if (now > *synced)
		pipe_counter_add(c, (uint64_t)(now - *synced));
	*synced = now;
}

void pipe_counter_add(pipe_counter *c, uint64_t n)
{
	if (c)
		atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t pipe_counter_get(const pipe_counter *c)
{
	return c ? atomic_load_explicit(&((pipe_counter *)c)->v, memory_order_relaxed) : 0;
}

void pipe_gauge_set(pipe_gauge *g, double v)
{
	if (g)
		atomic_store_explicit(&g->bits, dbl_bits(v), memory_order_relaxed);
}

static void add_double(_Atomic uint64_t *bits, double delta)
{
	uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(bits, &old, dbl_bits(bits_dbl(old) + delta),
	                                              memory_order_relaxed, memory_order_relaxed))
		;
}

void pipe_gauge_add(pipe_gauge *g, double delta)
{
	if (g)
		add_double(&g->bits, delta);
}

double pipe_gauge_get(const pipe_gauge *g)
{
	return g ? bits_dbl(atomic_load_explicit(&((pipe_gauge *)g)->bits, memory_order_relaxed)) : 0;
}

void pipe_histogram_observe(pipe_histogram *h, double v)
{
	if (!h || isnan(v))
		return;
	int i = 0;
	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	add_double(&h->sum_bits, v);
}

/* ---- rendering ---- */

/* Shortest text that reads back to the same double, in Prometheus' spelling of infinities. */
static void fmt_double(char *buf, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(buf, size, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* HELP text escapes \ and newline; label values also escape ". */
static void put_escaped(FILE *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (quote && *s == '"')
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

/* Writes "{a="x",b="y"}" with an optional extra le label; nothing when there are none. */
static void put_labels(FILE *out, const family *f, const series *s, const char *le)
{
	if (f->n_labels == 0 && !le)
		return;
	fputc('{', out);
	for (int i = 0; i < f->n_labels; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
		put_escaped(out, s->values[i], true);
		fputc('"', out);
	}
	if (le)
		fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
	fputc('}', out);
}

static void render_histogram(FILE *out, const family *f, const series *s)
{
	const pipe_histogram *h = s->hist;
	uint64_t cum = 0;
	char num[40];
	/* _count is the +Inf bucket of this same snapshot, so the two always agree. */
	for (int i = 0; i <= h->n_bounds; i++) {
		cum += atomic_load_explicit(&((pipe_histogram *)h)->counts[i], memory_order_relaxed);
		fmt_double(num, sizeof(num), i < h->n_bounds ? h->bounds[i] : INFINITY);
		fprintf(out, "%s_bucket", f->name);
		put_labels(out, f, s, num);
		fprintf(out, " %llu\n", (unsigned long long)cum);
	}
	fmt_double(num, sizeof(num),
	           bits_dbl(atomic_load_explicit(&((pipe_histogram *)h)->sum_bits, memory_order_relaxed)));
	fprintf(out, "%s_sum", f->name);
	put_labels(out, f, s, NULL);
	fprintf(out, " %s\n%s_count", num, f->name);
	put_labels(out, f, s, NULL);
	fprintf(out, " %llu\n", (unsigned long long)cum);
}

static void render_family(FILE *out, const family *f)
{
	char num[40];
	fprintf(out, "# HELP %s ", f->name);
	put_escaped(out, f->help, false);
	fprintf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
	for (const series *s = f->first; s; s = s->next) {
		if (f->type == FAM_HISTOGRAM) {
			render_histogram(out, f, s);
			continue;
		}
		fputs(f->name, out);
		put_labels(out, f, s, NULL);
		if (f->type == FAM_COUNTER)
			fprintf(out, " %llu\n", (unsigned long long)pipe_counter_get(&s->counter));
		else {
			fmt_double(num, sizeof(num), pipe_gauge_get(&s->gauge));
			fprintf(out, " %s\n", num);
		}
	}
}

int pipe_metrics_render(pipe_metrics *m, FILE *out)
{
	pthread_mutex_lock(&m->lock);
	for (const family *f = m->first; f; f = f->next)
		render_family(out, f);
	pthread_mutex_unlock(&m->lock);
	return ferror(out) ? -EIO : 0;
}
