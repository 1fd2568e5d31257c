#include "pipeline.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../decode/source.h"
#include "../infer/detector.h"
#include "../sinks/sink.h"
#include "latency.h"
#include "mqueue.h"
#include "vp_err.h"
#include "vp_log.h"

enum { PIPE_EXTRA_SLOTS = 32 };

typedef struct pipe_stream {
	pipe_pipeline *p;
	int idx;
	const pipe_source_cfg *cfg;
	dec_stream *dec;
	pthread_t thread;
	bool started;
	bool in_use;              /* main thread: belongs to the current config */
	atomic_llong decoded, decode_ns;
	atomic_int failed;        /* the source hit a fatal error */
	/* written by the engine thread only */
	atomic_llong processed, detections;
	atomic_int ended;
	pipe_latency latency;
	pipe_stream_metrics m;
	/* main thread: values already copied into the metrics */
	int64_t synced_errors, synced_reconnects, synced_dropped;
} pipe_stream;

struct pipe_pipeline {
	const pipe_config *cfg;
	pipe_stream *streams;
	int n, cap;          /* slots ever used, slots allocated */
	pipe_mq *mq;
	inf_detector *det;
	sink_set *sinks;
	pthread_t engine;
	bool engine_started;
	atomic_int finished;
	atomic_llong busy_since;  /* mono ns when the current batch started, 0 when idle */
	atomic_int stopping;
	atomic_llong sink_ns;
	pipe_metrics *metrics;
	pipe_core_metrics core;
	pipe_sink_metrics *sink_m;
	sink_counters *sink_synced;
	int max_batch, max_dets, timeout_ms;
	/* engine thread scratch, sized at start */
	vp_frame **batch;
	int *batch_streams, *ended, *counts;
	vp_det *dets;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void drop_frame(void *item)
{
	vp_frame *f = item;
	vp_frame_unref(&f);
}

/* ---- source threads ---- */

static void *source_main(void *arg)
{
	pipe_stream *s = arg;
	pipe_pipeline *p = s->p;
	for (;;) {
		vp_frame *f = NULL;
		int64_t t0 = mono_ns();
		int rc = dec_stream_read(s->dec, &f);
		int64_t dt = mono_ns() - t0;
		atomic_fetch_add(&s->decode_ns, dt);
		if (rc == VP_EOF)
			break;
		if (rc < 0) {
			vp_err("source", s->cfg->id, "stopped: %s", vp_strerror(rc));
			atomic_store(&s->failed, 1);
			break;
		}
		atomic_fetch_add(&s->decoded, 1);
		pipe_counter_inc(s->m.frames_decoded);
		pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_DECODE], dt / 1e9);
		/* interval: the frame is counted, but only every Nth one is detected and published. */
		if (f->index % s->cfg->interval != 0) {
			pipe_counter_inc(s->m.frames_skipped);
			vp_frame_unref(&f);
			continue;
		}
		if (pipe_mq_push(p->mq, s->idx, f) < 0) {
			vp_frame_unref(&f);
			break;
		}
	}
	pipe_mq_close(p->mq, s->idx);
	return NULL;
}

/* ---- engine thread ---- */

static void publish(pipe_pipeline *p, sink_msg *m)
{
	int64_t t0 = mono_ns();
	sink_set_publish(p->sinks, m);
	atomic_fetch_add(&p->sink_ns, mono_ns() - t0);
	sink_msg_unref(&m);
}

static void publish_frames(pipe_pipeline *p, int n)
{
	int n_labels = 0;
	const char *const *labels = p->det ? inf_detector_labels(p->det, &n_labels) : NULL;
	for (int i = 0; i < n; i++) {
		vp_frame *f = p->batch[i];
		pipe_stream *s = &p->streams[p->batch_streams[i]];
		sink_msg *m = NULL;
		const vp_det *d = p->dets + (size_t)i * p->max_dets;
		if (sink_msg_frame(f, d, p->counts[i], labels, n_labels, &m) == 0) {
			int64_t t0 = mono_ns();
			publish(p, m);
			int64_t t1 = mono_ns();
			pipe_latency_add(&s->latency, t1 - f->mono_ns);
			atomic_fetch_add(&s->processed, 1);
			atomic_fetch_add(&s->detections, p->counts[i]);
			pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_PUBLISH], (t1 - t0) / 1e9);
			pipe_histogram_observe(s->m.latency, (t1 - f->mono_ns) / 1e9);
			pipe_counter_inc(s->m.frames_processed);
			pipe_counter_add(s->m.detections, (uint64_t)p->counts[i]);
		}
		vp_frame_unref(&p->batch[i]);
	}
}

static void publish_eos(pipe_pipeline *p, int i)
{
	pipe_stream *s = &p->streams[i];
	dec_stats ds = { 0 };
	if (s->dec)
		dec_stream_get_stats(s->dec, &ds);
	sink_msg *m = NULL;
	int64_t errors = ds.errors + atomic_load(&s->failed);
	if (sink_msg_eos(s->cfg->id, atomic_load(&s->decoded), atomic_load(&s->processed),
	                 pipe_mq_dropped(p->mq, i), errors, &m) == 0)
		publish(p, m);
	vp_info("source", s->cfg->id, "ended: %lld frames, %lld processed, %lld dropped, %lld errors",
	        (long long)atomic_load(&s->decoded), (long long)atomic_load(&s->processed),
	        (long long)pipe_mq_dropped(p->mq, i), (long long)errors);
	/* Last: once ended is seen, a reload may reuse the slot. */
	atomic_store(&s->ended, 1);
}

static void observe_batch(pipe_pipeline *p, int n)
{
	int64_t now = mono_ns();
	pipe_histogram_observe(p->core.batch_size, n);
	for (int i = 0; i < n; i++)
		pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_QUEUE],
		                       (now - p->batch[i]->mono_ns) / 1e9);
}

static void observe_stages(pipe_pipeline *p, const inf_detector_times *a,
                           const inf_detector_times *b)
{
	pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_PREPROCESS],
	                       (b->preprocess_ns - a->preprocess_ns) / 1e9);
	pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_INFER],
	                       (b->inference_ns - a->inference_ns) / 1e9);
	pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_POSTPROCESS],
	                       (b->postprocess_ns - a->postprocess_ns) / 1e9);
}

static void *engine_main(void *arg)
{
	pipe_pipeline *p = arg;
	for (;;) {
		int n_ended = 0;
		int n = pipe_mq_pop_batch(p->mq, p->max_batch, p->timeout_ms, (void **)p->batch,
		                          p->batch_streams, p->ended, &n_ended);
		if (n == 0 && n_ended == 0)
			break;
		atomic_store(&p->busy_since, mono_ns());
		memset(p->counts, 0, (size_t)p->max_batch * sizeof(*p->counts));
		if (n > 0)
			observe_batch(p, n);
		if (n > 0 && p->det) {
			inf_detector_times before, after;
			inf_detector_get_times(p->det, &before);
			int rc = inf_detector_run(p->det, p->batch, n, p->dets, p->counts);
			inf_detector_get_times(p->det, &after);
			observe_stages(p, &before, &after);
			if (rc < 0) {
				/* The frames still get their messages: a failed batch loses detections, not frames. */
				vp_err("engine", NULL, "batch of %d failed: %s", n, vp_strerror(rc));
				memset(p->counts, 0, (size_t)n * sizeof(*p->counts));
			}
		}
		publish_frames(p, n);
		for (int k = 0; k < n_ended; k++)
			publish_eos(p, p->ended[k]);
		atomic_store(&p->busy_since, 0);
	}
	atomic_store(&p->finished, 1);
	return NULL;
}

/* ---- lifecycle ---- */

static int alloc_scratch(pipe_pipeline *p)
{
	size_t b = (size_t)p->max_batch;
	p->batch = calloc(b, sizeof(*p->batch));
	p->batch_streams = calloc(b, sizeof(int));
	p->counts = calloc(b, sizeof(int));
	p->ended = calloc((size_t)p->cap, sizeof(int));
	p->dets = calloc(b * (size_t)(p->max_dets > 0 ? p->max_dets : 1), sizeof(vp_det));
	return p->batch && p->batch_streams && p->counts && p->ended && p->dets ? 0 : -ENOMEM;
}

/* Creates a thread that never takes SIGINT/SIGTERM/SIGHUP: the main thread waits for them. */
static int spawn(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(th, NULL, fn, arg) == 0 ? 0 : -EAGAIN;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Sets up slot i for source cfg and starts its thread. A source that cannot be opened
 * ends at once with an error: one broken source must not take the others down. */
static int stream_start(pipe_pipeline *p, int i, const pipe_source_cfg *cfg)
{
	pipe_stream *s = &p->streams[i];
	if (s->started)
		pthread_join(s->thread, NULL);
	dec_stream_free(&s->dec);
	memset(s, 0, sizeof(*s));
	s->p = p;
	s->idx = i;
	s->cfg = cfg;
	s->in_use = true;
	/* The same labels return the same series, so a re-added stream keeps counting. */
	pipe_metrics_add_stream(p->metrics, cfg->id, &s->m);
	pipe_gauge_set(s->m.state, PIPE_STREAM_CONNECTING);
	if (i >= p->n)
		p->n = i + 1;
	enum pipe_mq_policy pol = cfg->queue.policy == PIPE_QP_DROP_OLDEST ?
	                          PIPE_MQ_DROP_OLDEST : PIPE_MQ_BLOCK;
	int rc = pipe_mq_setup(p->mq, i, cfg->queue.depth, pol);
	if (rc < 0)
		return rc;
	/* Frames out at once: a full queue, a batch in the engine, one being decoded. */
	int pool = cfg->queue.depth + p->max_batch + 2;
	rc = dec_stream_open(cfg, i, pool, &s->dec);
	if (rc < 0) {
		vp_err("source", cfg->id, "cannot open %s: %s", cfg->uri, vp_strerror(rc));
		atomic_store(&s->failed, 1);
		pipe_mq_close(p->mq, i);
		return 0;
	}
	if ((rc = spawn(&s->thread, source_main, s)) < 0) {
		vp_err("source", cfg->id, "cannot start its thread");
		atomic_store(&s->failed, 1);
		pipe_mq_close(p->mq, i);
		return rc;
	}
	s->started = true;
	return 0;
}

static int setup_metrics(pipe_pipeline *p)
{
	int rc = pipe_metrics_add_core(p->metrics, p->cfg->name ? p->cfg->name : "vapd", &p->core);
	if (rc < 0)
		return rc;
	int n = sink_set_count(p->sinks);
	p->sink_m = calloc((size_t)n, sizeof(*p->sink_m));
	p->sink_synced = calloc((size_t)n, sizeof(*p->sink_synced));
	if (!p->sink_m || !p->sink_synced)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		/* Sinks have no id in the config: they are named by type and position (file1). */
		char name[32];
		snprintf(name, sizeof(name), "%s%d", sink_type_name(p->cfg->sinks[i].type), i);
		if ((rc = pipe_metrics_add_sink(p->metrics, name, &p->sink_m[i])) < 0)
			return rc;
		pipe_gauge_set(p->sink_m[i].connected, 1);
	}
	return 0;
}

static void sync_counter(pipe_counter *c, int64_t now, int64_t *synced)
{
	if (now > *synced)
		pipe_counter_add(c, (uint64_t)(now - *synced));
	*synced = now;
}

static int state_metric(const pipe_stream *s, const dec_stats *ds)
{
	if (atomic_load(&s->ended))
		return atomic_load(&s->failed) ? PIPE_STREAM_FAILED : PIPE_STREAM_FINISHED;
	switch (ds->state) {
	case DEC_RUNNING: return PIPE_STREAM_RUNNING;
	case DEC_BACKOFF: return PIPE_STREAM_RECONNECTING;
	case DEC_ENDED: return PIPE_STREAM_FINISHED;
	default: return PIPE_STREAM_CONNECTING;
	}
}

void pipe_pipeline_sync_metrics(pipe_pipeline *p)
{
	if (!p->metrics)
		return;
	for (int i = 0; i < p->n; i++) {
		pipe_stream *s = &p->streams[i];
		dec_stats ds = { 0 };
		if (s->dec)
			dec_stream_get_stats(s->dec, &ds);
		sync_counter(s->m.decode_errors, ds.errors + atomic_load(&s->failed), &s->synced_errors);
		sync_counter(s->m.reconnects, ds.reconnects, &s->synced_reconnects);
		sync_counter(s->m.frames_dropped, pipe_mq_dropped(p->mq, i), &s->synced_dropped);
		pipe_gauge_set(s->m.state, state_metric(s, &ds));
	}
	for (int i = 0; i < sink_set_count(p->sinks); i++) {
		sink_counters c;
		const char *name;
		sink_set_counters(p->sinks, i, &name, &c);
		sync_counter(p->sink_m[i].sent, c.sent, &p->sink_synced[i].sent);
		sync_counter(p->sink_m[i].dropped, c.dropped, &p->sink_synced[i].dropped);
		sync_counter(p->sink_m[i].failed, c.failed, &p->sink_synced[i].failed);
	}
}

int pipe_pipeline_start(const pipe_config *cfg, pipe_metrics *metrics, pipe_pipeline **ret)
{
	pipe_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	p->metrics = metrics;
	/* Room for sources that reloads add while others still drain. */
	p->cap = cfg->n_sources + PIPE_EXTRA_SLOTS;
	p->max_batch = cfg->model.present ? cfg->model.batch_max_size : 8;
	p->timeout_ms = cfg->model.present ? cfg->model.batch_timeout_ms : 10;
	int rc = -ENOMEM;
	if (!(p->streams = calloc((size_t)p->cap, sizeof(*p->streams))))
		goto fail;
	if (cfg->model.present) {
		if ((rc = inf_detector_new(&cfg->model, cfg->file, &p->det)) < 0)
			goto fail;
		p->max_dets = inf_detector_max_dets(p->det);
	}
	if ((rc = alloc_scratch(p)) < 0)
		goto fail;
	if ((rc = pipe_mq_new(p->cap, drop_frame, &p->mq)) < 0)
		goto fail;
	if ((rc = sink_set_open(cfg, &p->sinks)) < 0)
		goto fail;
	if ((rc = setup_metrics(p)) < 0)
		goto fail;
	for (int i = 0; i < cfg->n_sources; i++)
		if ((rc = stream_start(p, i, &cfg->sources[i])) < 0)
			goto fail_running;
	if ((rc = spawn(&p->engine, engine_main, p)) < 0)
		goto fail_running;
	p->engine_started = true;
	*ret = p;
	return 0;
fail_running:
	vp_err("pipeline", NULL, "cannot start threads");
	pipe_pipeline_stop(p);
	pipe_mq_shutdown(p->mq);
	pipe_pipeline_free(&p);
	return rc;
fail:
	pipe_pipeline_free(&p);
	return rc;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool source_same(const pipe_source_cfg *a, const pipe_source_cfg *b)
{
	return str_eq(a->uri, b->uri) && a->decoder == b->decoder && a->realtime == b->realtime &&
	       a->loop == b->loop && a->interval == b->interval &&
	       a->queue.depth == b->queue.depth && a->queue.policy == b->queue.policy &&
	       a->reconnect_initial_ms == b->reconnect_initial_ms &&
	       a->reconnect_max_ms == b->reconnect_max_ms &&
	       a->rtsp_transport == b->rtsp_transport && a->rtsp_timeout_ms == b->rtsp_timeout_ms;
}

static const pipe_source_cfg *find_source(const pipe_config *cfg, const char *id)
{
	for (int i = 0; i < cfg->n_sources; i++)
		if (strcmp(cfg->sources[i].id, id) == 0)
			return &cfg->sources[i];
	return NULL;
}

static void warn_restart_only(const pipe_config *old, const pipe_config *new)
{
	const pipe_model_cfg *a = &old->model, *b = &new->model;
	if (a->present != b->present || (a->present && (!str_eq(a->path, b->path) ||
	    a->family != b->family || a->threshold != b->threshold || a->batch_max_size != b->batch_max_size)))
		vp_warn("reload", NULL, "model changes take effect at the next restart");
	bool sinks_same = old->n_sinks == new->n_sinks;
	for (int i = 0; sinks_same && i < old->n_sinks; i++)
		sinks_same = old->sinks[i].type == new->sinks[i].type &&
		             str_eq(old->sinks[i].path, new->sinks[i].path) &&
		             str_eq(old->sinks[i].address, new->sinks[i].address) &&
		             str_eq(old->sinks[i].broker, new->sinks[i].broker);
	if (!sinks_same)
		vp_warn("reload", NULL, "sink changes take effect at the next restart");
}

static int free_slot(pipe_pipeline *p)
{
	for (int i = 0; i < p->cap; i++) {
		pipe_stream *s = &p->streams[i];
		if (i >= p->n || (!s->in_use && atomic_load(&s->ended)))
			return i;
	}
	return -1;
}

int pipe_pipeline_reload(pipe_pipeline *p, const pipe_config *newcfg)
{
	int changes = 0;
	warn_restart_only(p->cfg, newcfg);
	for (int i = 0; i < p->n; i++) {
		pipe_stream *s = &p->streams[i];
		if (!s->in_use)
			continue;
		const pipe_source_cfg *n = find_source(newcfg, s->cfg->id);
		/* Untouched streams keep reading their old config: the main thread keeps every
		 * config alive until the pipeline is freed. */
		if (n && source_same(s->cfg, n))
			continue;
		vp_info("reload", s->cfg->id, n ? "settings changed: restarting" : "removed: stopping");
		s->in_use = false;
		if (s->dec)
			dec_stream_interrupt(s->dec);
		changes++;
	}
	for (int k = 0; k < newcfg->n_sources; k++) {
		const pipe_source_cfg *c = &newcfg->sources[k];
		bool running = false;
		for (int i = 0; i < p->n && !running; i++)
			running = p->streams[i].in_use && strcmp(p->streams[i].cfg->id, c->id) == 0;
		if (running)
			continue;
		int slot = free_slot(p);
		if (slot < 0) {
			vp_err("reload", c->id, "no free stream slot (%d in use or draining)", p->cap);
			continue;
		}
		vp_info("reload", c->id, "added: starting %s", c->uri);
		if (stream_start(p, slot, c) < 0)
			continue;
		changes++;
	}
	p->cfg = newcfg;
	return changes;
}

void pipe_pipeline_stop(pipe_pipeline *p)
{
	atomic_store(&p->stopping, 1);
	for (int i = 0; i < p->n; i++)
		if (p->streams[i].dec)
			dec_stream_interrupt(p->streams[i].dec);
}

int pipe_pipeline_finished(pipe_pipeline *p) { return atomic_load(&p->finished); }

int64_t pipe_pipeline_engine_busy_ns(pipe_pipeline *p)
{
	int64_t since = atomic_load(&p->busy_since);
	return since ? mono_ns() - since : 0;
}
int pipe_pipeline_n_streams(const pipe_pipeline *p) { return p->n; }

void pipe_pipeline_stream_stats(pipe_pipeline *p, int i, pipe_stream_stats *ret)
{
	pipe_stream *s = &p->streams[i];
	dec_stats ds = { 0 };
	if (s->dec)
		dec_stream_get_stats(s->dec, &ds);
	*ret = (pipe_stream_stats){
		.id = s->cfg->id,
		.decoded = atomic_load(&s->decoded),
		.processed = atomic_load(&s->processed),
		.dropped = p->mq ? pipe_mq_dropped(p->mq, i) : 0,
		.errors = ds.errors + atomic_load(&s->failed),
		.detections = atomic_load(&s->detections),
		.state = ds.state,
		.ended = atomic_load(&s->ended),
		.lat_p50_ms = pipe_latency_quantile(&s->latency, 0.50),
		.lat_p90_ms = pipe_latency_quantile(&s->latency, 0.90),
		.lat_p99_ms = pipe_latency_quantile(&s->latency, 0.99),
	};
}

void pipe_pipeline_stage_times(pipe_pipeline *p, pipe_stage_times *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (int i = 0; i < p->n; i++)
		ret->decode_ns += atomic_load(&p->streams[i].decode_ns);
	if (p->det) {
		inf_detector_times t;
		inf_detector_get_times(p->det, &t);
		ret->preprocess_ns = t.preprocess_ns;
		ret->inference_ns = t.inference_ns;
		ret->postprocess_ns = t.postprocess_ns;
	}
	ret->sink_ns = atomic_load(&p->sink_ns);
	for (int i = 0; i < p->n; i++)
		ret->frames += atomic_load(&p->streams[i].processed);
}

int pipe_pipeline_free(pipe_pipeline **pp)
{
	pipe_pipeline *p = *pp;
	if (!p)
		return 0;
	*pp = NULL;
	int failed = 0;
	for (int i = 0; p->streams && i < p->n; i++)
		if (p->streams[i].started)
			pthread_join(p->streams[i].thread, NULL);
	if (p->engine_started)
		pthread_join(p->engine, NULL);
	sink_set_close(&p->sinks);
	for (int i = 0; p->streams && i < p->n; i++) {
		failed |= atomic_load(&p->streams[i].failed);
		dec_stream_free(&p->streams[i].dec);
	}
	pipe_mq_free(&p->mq);
	inf_detector_free(&p->det);
	free(p->batch);
	free(p->batch_streams);
	free(p->counts);
	free(p->ended);
	free(p->dets);
	free(p->sink_m);
	free(p->sink_synced);
	free(p->streams);
	free(p);
	return failed;
}
