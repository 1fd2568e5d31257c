#include "pipeline.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
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

typedef struct pipe_stream {
	pipe_pipeline *p;
	int idx;
	const pipe_source_cfg *cfg;
	dec_stream *dec;
	pthread_t thread;
	bool started;
	atomic_llong decoded, decode_ns;
	atomic_int failed;        /* the source hit a fatal error */
	/* written by the engine thread only */
	atomic_llong processed, detections;
	atomic_int ended;
	pipe_latency latency;
} pipe_stream;

struct pipe_pipeline {
	const pipe_config *cfg;
	pipe_stream *streams;
	int n;
	pipe_mq *mq;
	inf_detector *det;
	sink_set *sinks;
	pthread_t engine;
	bool engine_started;
	atomic_int finished;
	atomic_int stopping;
	atomic_llong sink_ns;
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
		atomic_fetch_add(&s->decode_ns, mono_ns() - t0);
		if (rc == VP_EOF)
			break;
		if (rc < 0) {
			vp_err("source", s->cfg->id, "stopped: %s", vp_strerror(rc));
			atomic_store(&s->failed, 1);
			break;
		}
		atomic_fetch_add(&s->decoded, 1);
		/* interval: the frame is counted, but only every Nth one is detected and published. */
		if (f->index % s->cfg->interval != 0) {
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
			publish(p, m);
			pipe_latency_add(&s->latency, mono_ns() - f->mono_ns);
			atomic_fetch_add(&s->processed, 1);
			atomic_fetch_add(&s->detections, p->counts[i]);
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
	atomic_store(&s->ended, 1);
	vp_info("source", s->cfg->id, "ended: %lld frames, %lld processed, %lld dropped, %lld errors",
	        (long long)atomic_load(&s->decoded), (long long)atomic_load(&s->processed),
	        (long long)pipe_mq_dropped(p->mq, i), (long long)errors);
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
		memset(p->counts, 0, (size_t)p->max_batch * sizeof(*p->counts));
		if (n > 0 && p->det) {
			int rc = inf_detector_run(p->det, p->batch, n, p->dets, p->counts);
			if (rc < 0) {
				/* The frames still get their messages: a failed batch loses detections, not frames. */
				vp_err("engine", NULL, "batch of %d failed: %s", n, vp_strerror(rc));
				memset(p->counts, 0, (size_t)n * sizeof(*p->counts));
			}
		}
		publish_frames(p, n);
		for (int k = 0; k < n_ended; k++)
			publish_eos(p, p->ended[k]);
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
	p->ended = calloc((size_t)p->n, sizeof(int));
	p->dets = calloc(b * (size_t)(p->max_dets > 0 ? p->max_dets : 1), sizeof(vp_det));
	return p->batch && p->batch_streams && p->counts && p->ended && p->dets ? 0 : -ENOMEM;
}

static int open_streams(pipe_pipeline *p)
{
	for (int i = 0; i < p->n; i++) {
		pipe_stream *s = &p->streams[i];
		s->p = p;
		s->idx = i;
		s->cfg = &p->cfg->sources[i];
		enum pipe_mq_policy pol = s->cfg->queue.policy == PIPE_QP_DROP_OLDEST ?
		                          PIPE_MQ_DROP_OLDEST : PIPE_MQ_BLOCK;
		int rc = pipe_mq_setup(p->mq, i, s->cfg->queue.depth, pol);
		if (rc < 0)
			return rc;
		/* Frames out at once: a full queue, a batch in the engine, one being decoded. */
		int pool = s->cfg->queue.depth + p->max_batch + 2;
		rc = dec_stream_open(s->cfg, i, pool, &s->dec);
		if (rc < 0) {
			/* One broken source must not take the others down: it ends at once, with an error. */
			vp_err("source", s->cfg->id, "cannot open %s: %s", s->cfg->uri, vp_strerror(rc));
			atomic_store(&s->failed, 1);
			pipe_mq_close(p->mq, i);
		}
	}
	return 0;
}

static int start_threads(pipe_pipeline *p)
{
	/* Workers never take SIGINT/SIGTERM/SIGHUP: the main thread waits for them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = 0;
	if (pthread_create(&p->engine, NULL, engine_main, p) != 0)
		rc = -EAGAIN;
	else
		p->engine_started = true;
	for (int i = 0; rc == 0 && i < p->n; i++) {
		pipe_stream *s = &p->streams[i];
		if (!s->dec)
			continue;
		if (pthread_create(&s->thread, NULL, source_main, s) != 0)
			rc = -EAGAIN;
		else
			s->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int pipe_pipeline_start(const pipe_config *cfg, pipe_pipeline **ret)
{
	pipe_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	p->n = cfg->n_sources;
	p->max_batch = cfg->model.present ? cfg->model.batch_max_size : 8;
	p->timeout_ms = cfg->model.present ? cfg->model.batch_timeout_ms : 10;
	int rc = -ENOMEM;
	if (!(p->streams = calloc((size_t)p->n, sizeof(*p->streams))))
		goto fail;
	if (cfg->model.present) {
		if ((rc = inf_detector_new(&cfg->model, cfg->file, &p->det)) < 0)
			goto fail;
		p->max_dets = inf_detector_max_dets(p->det);
	}
	if ((rc = alloc_scratch(p)) < 0)
		goto fail;
	if ((rc = pipe_mq_new(p->n, drop_frame, &p->mq)) < 0)
		goto fail;
	if ((rc = sink_set_open(cfg, &p->sinks)) < 0)
		goto fail;
	if ((rc = open_streams(p)) < 0)
		goto fail;
	if ((rc = start_threads(p)) < 0) {
		vp_err("pipeline", NULL, "cannot start threads");
		pipe_pipeline_stop(p);
		pipe_pipeline_free(&p);
		return rc;
	}
	*ret = p;
	return 0;
fail:
	pipe_pipeline_free(&p);
	return rc;
}

void pipe_pipeline_stop(pipe_pipeline *p)
{
	atomic_store(&p->stopping, 1);
	for (int i = 0; i < p->n; i++)
		if (p->streams[i].dec)
			dec_stream_interrupt(p->streams[i].dec);
}

int pipe_pipeline_finished(pipe_pipeline *p) { return atomic_load(&p->finished); }
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
	free(p->streams);
	free(p);
	return failed;
}
