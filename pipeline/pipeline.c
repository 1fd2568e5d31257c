#include "pipeline.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vp_err.h"
#include "vp_fpu.h"
#include "vp_log.h"


#include "pipeline_priv.h"
#include "vp_time.h"

#ifdef VP_HAVE_CUDA
#include "../kernels/cuda_util.h"
#endif

enum { PIPE_EXTRA_SLOTS = 32 };


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
		int64_t t0 = vp_mono_ns();
		int rc = dec_stream_read(s->dec, &f);
		int64_t dt = vp_mono_ns() - t0;
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

int64_t pipe_publish(pipe_pipeline *p, sink_msg *m)
{
	int64_t t0 = vp_mono_ns();
	sink_set_publish(p->sinks, m);
	int64_t t1 = vp_mono_ns();
	atomic_fetch_add(&p->sink_ns, t1 - t0);
	pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_PUBLISH], (t1 - t0) / 1e9);
	sink_msg_unref(&m);
	return t1;
}

static void publish_frames(pipe_pipeline *p, pipe_batch *b)
{
	int n_labels = 0;
	const char *const *labels = p->det ? inf_detector_labels(p->det, &n_labels) : NULL;
	for (int i = 0; i < b->n; i++) {
		vp_frame *f = b->frames[i];
		pipe_stream *s = &p->streams[b->streams[i]];
		sink_msg *m = NULL;
		const vp_det *d = p->dets + (size_t)i * p->max_dets;
		int n = p->counts[i], rc;
		int64_t t1 = 0;
		if (s->an) {
			rc = pipe_analytics_publish(p, s, f, d, n, &n, &t1);
		} else if ((rc = sink_msg_frame_ex(f, d, n, labels, n_labels,
		                                   &(sink_frame_extra){ .epoch = s->cfg->epoch }, &m)) == 0) {
			t1 = pipe_publish(p, m);
			view_scene sc;
			pipe_view_scene(p, s, f, d, n, NULL, &sc);
			pipe_view_frame(p, s, f, &sc);
		}
		if (rc == 0) {
			pipe_latency_add(&s->latency, t1 - f->mono_ns);
			atomic_fetch_add(&s->processed, 1);
			atomic_fetch_add(&s->detections, n);
			pipe_histogram_observe(s->m.latency, (t1 - f->mono_ns) / 1e9);
			pipe_counter_inc(s->m.frames_processed);
			pipe_counter_add(s->m.detections, (uint64_t)n);
		}
		vp_frame_unref(&b->frames[i]);
	}
	b->n = 0;
}

static void publish_eos(pipe_pipeline *p, int i)
{
	pipe_stream *s = &p->streams[i];
	dec_stats ds = { 0 };
	if (s->dec)
		dec_stream_get_stats(s->dec, &ds);
	sink_msg *m = NULL;
	int64_t errors = ds.errors + atomic_load(&s->failed);
	/* A source that gave nothing (a file whose header lists no samples, a camera never
	 * reached) must not look like an empty scene. */
	const char *error = atomic_load(&s->decoded) == 0 ? "no frames decoded" : NULL;
	if (error)
		vp_warn("source", s->cfg->id, "no frame decoded from %s before its end (%lld errors)",
		        s->cfg->uri, (long long)errors);
	/* Tracks end (and leave their zones) before the stream's end is told. */
	pipe_analytics_end(p, s);
	pipe_view_stream_end(s);
	if (sink_msg_eos_ex(s->cfg->id, s->cfg->epoch, atomic_load(&s->decoded), atomic_load(&s->processed),
	                    pipe_mq_dropped(p->mq, i), errors, error, &m) == 0)
		pipe_publish(p, m);
	vp_info("source", s->cfg->id, "ended: %lld frames, %lld processed, %lld dropped, %lld errors",
	        (long long)atomic_load(&s->decoded), (long long)atomic_load(&s->processed),
	        (long long)pipe_mq_dropped(p->mq, i), (long long)errors);
	/* Last: once ended is seen, a reload may reuse the slot. */
	atomic_store(&s->ended, 1);
}

static void observe_batch(pipe_pipeline *p, const pipe_batch *b)
{
	int64_t now = vp_mono_ns();
	pipe_histogram_observe(p->core.batch_size, b->n);
	for (int i = 0; i < b->n; i++)
		pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_QUEUE],
		                       (now - b->frames[i]->mono_ns) / 1e9);
}

static void observe_stages(pipe_pipeline *p, const inf_detector_times *t)
{
	pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_PREPROCESS], t->preprocess_ns / 1e9);
	pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_INFER], t->inference_ns / 1e9);
	pipe_histogram_observe(p->core.stage_latency[PIPE_STAGE_POSTPROCESS], t->postprocess_ns / 1e9);
}

/* Hands b to the detector. Returns whether it is still running on the GPU (device frames):
 * then the engine thread goes on with the next batch and collects b afterwards. */
static bool submit_batch(pipe_pipeline *p, pipe_batch *b)
{
	b->submitted = false;
	if (!p->det || b->n == 0)
		return false;
	int rc = inf_detector_submit(p->det, b->frames, b->n);
	if (rc < 0) {
		vp_err("engine", NULL, "batch of %d not started: %s", b->n, vp_strerror(rc));
		return false;
	}
	b->submitted = true;
	return rc > 0;
}

/* Collects b's detections (the oldest batch in the detector) and publishes its frames. */
static void finish_batch(pipe_pipeline *p, pipe_batch *b)
{
	memset(p->counts, 0, (size_t)p->max_batch * sizeof(*p->counts));
	if (b->submitted) {
		inf_detector_times t = { 0 };
		int rc = inf_detector_collect(p->det, p->dets, p->counts, &t);
		observe_stages(p, &t);
		if (rc < 0) {
			/* The frames still get their messages: a failed batch loses detections, not frames. */
			vp_err("engine", NULL, "batch of %d failed: %s", b->n, vp_strerror(rc));
			memset(p->counts, 0, (size_t)p->max_batch * sizeof(*p->counts));
		}
		b->submitted = false;
	}
	publish_frames(p, b);
}

/* One batch stays in flight while the next is popped and submitted, so the GPU works on
 * batch k+1 while batch k's detections are copied out and published. A pending batch is
 * finished first when no input is waiting (idle: its frames must not wait for the next
 * one) and before any stream's end is published (the end follows its last frame). Host
 * batches are finished at once, as before. */
static void *engine_main(void *arg)
{
	pipe_pipeline *p = arg;
	pipe_batch *pending = NULL;
	vp_fpu_flush_denormals();  /* the CPU kernels, the heads and NMS run here */
	for (int cur = 0;; cur ^= 1) {
		if (pending && !pipe_mq_has_work(p->mq)) {
			finish_batch(p, pending);
			pending = NULL;
		}
		if (!pending)
			atomic_store(&p->busy_since, 0);
		pipe_batch *b = &p->batches[cur];
		int n_ended = 0;
		b->n = pipe_mq_pop_batch(p->mq, p->max_batch, p->timeout_ms, (void **)b->frames,
		                         b->streams, p->ended, &n_ended);
		if (b->n == 0 && n_ended == 0)
			break;
		atomic_store(&p->busy_since, vp_mono_ns());
		if (b->n > 0)
			observe_batch(p, b);
		bool running = submit_batch(p, b);
		if (pending)
			finish_batch(p, pending);
		pending = NULL;
		if (running && n_ended == 0)
			pending = b;
		else
			finish_batch(p, b);
		for (int k = 0; k < n_ended; k++)
			publish_eos(p, p->ended[k]);
	}
	if (pending)
		finish_batch(p, pending);
	atomic_store(&p->busy_since, 0);
	atomic_store(&p->finished, 1);
	return NULL;
}

/* ---- lifecycle ---- */

static int alloc_scratch(pipe_pipeline *p)
{
	size_t b = (size_t)p->max_batch;
	for (int i = 0; i < 2; i++) {
		p->batches[i].frames = calloc(b, sizeof(*p->batches[i].frames));
		p->batches[i].streams = calloc(b, sizeof(int));
		if (!p->batches[i].frames || !p->batches[i].streams)
			return -ENOMEM;
	}
	p->counts = calloc(b, sizeof(int));
	p->ended = calloc((size_t)p->cap, sizeof(int));
	size_t per = (size_t)(p->max_dets > 0 ? p->max_dets : 1);
	p->dets = calloc(b * per, sizeof(vp_det));
	p->pub_dets = calloc(per, sizeof(vp_det));
	p->pub_ids = calloc(per, sizeof(int64_t));
	return p->counts && p->ended && p->dets && p->pub_dets && p->pub_ids ? 0 : -ENOMEM;
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

/* Starts the thread of a slot whose source is open (a failed one has no dec and no thread). */
static int stream_run(pipe_stream *s)
{
	if (!s->dec)
		return 0;
	if (spawn(&s->thread, source_main, s) < 0) {
		vp_err("source", s->cfg->id, "cannot start its thread");
		atomic_store(&s->failed, 1);
		pipe_mq_close(s->p->mq, s->idx);
		return -EAGAIN;
	}
	s->started = true;
	return 0;
}

/* Sets up slot i for source cfg and opens it; run: start its thread too. A source that
 * cannot be opened ends at once with an error: one broken source must not take the
 * others down. */
int pipe_stream_start(pipe_pipeline *p, int i, const pipe_source_cfg *cfg, bool run)
{
	pipe_stream *s = &p->streams[i];
	if (s->started)
		pthread_join(s->thread, NULL);
	dec_stream_free(&s->dec);
	pipe_analytics_free(s);
	pipe_view_stream_end(s);
	memset(s, 0, sizeof(*s));
	s->p = p;
	s->idx = i;
	/* Strings stay borrowed from the config, which outlives the stream. */
	s->cfg_copy = *cfg;
	s->cfg_copy.device_frames_ok = p->device_frames_ok;
	/* The engine's device, also for sources a reload adds (a changed pipeline.device
	 * takes effect at the next start). */
	s->cfg_copy.gpu = p->gpu;
	s->cfg = &s->cfg_copy;
	cfg = s->cfg;
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
	if ((rc = pipe_analytics_setup(p, s)) < 0) {
		vp_err("source", cfg->id, "cannot set up tracking: %s", vp_strerror(rc));
		pipe_analytics_free(s);
		atomic_store(&s->failed, 1);
		pipe_mq_close(p->mq, i);
		return rc == VP_ECONFIG ? rc : 0;
	}
	if ((rc = pipe_view_stream_setup(p, s)) < 0)
		return rc;
	/* Frames out at once: a full queue, the batches in the engine (with device frames one
	 * in flight on the GPU and the next one being popped), one being decoded. */
	int in_engine = p->det && p->device_frames_ok ? INF_DETECTOR_DEPTH : 1;
	int pool = cfg->queue.depth + in_engine * p->max_batch + 2 + pipe_view_frames_held(p, cfg);
	rc = dec_stream_open(cfg, i, pool, &s->dec);
	if (rc < 0) {
		vp_err("source", cfg->id, "cannot open %s: %s", cfg->uri, vp_strerror(rc));
		atomic_store(&s->failed, 1);
		pipe_mq_close(p->mq, i);
		return 0;
	}
	return run ? stream_run(s) : 0;
}

/* decoder: nvdec hands out GPU frames, which only a GPU engine (or no model) can take. */
static int check_decoders(const pipe_pipeline *p, const pipe_config *cfg)
{
	for (int i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].decoder == PIPE_DEC_NVDEC && !p->device_frames_ok) {
			vp_err("source", cfg->sources[i].id, "decoder: nvdec needs the cuda backend "
			       "(the model runs on %s); use decoder: auto or software",
			       inf_detector_backend(p->det));
			return VP_ECONFIG;
		}
	return 0;
}

/* pipeline.device: cuda:N must name a visible GPU; reported like the config's own errors. */
static int check_device(const pipe_config *cfg)
{
	if (!cfg->device || strncmp(cfg->device, "cuda:", 5) != 0)
		return 0;
	const char *why = "this build has no CUDA";
	int n = 0;
#ifdef VP_HAVE_CUDA
	n = krn_cuda_devices(&why);
#endif
	if (n > cfg->gpu)
		return 0;
	fprintf(stderr, "%s:%d:%d: pipeline.device: %s, but ", cfg->file ? cfg->file : "(config)",
	        cfg->device_pos.line, cfg->device_pos.col, cfg->device);
	if (n > 0)
		fprintf(stderr, "this machine has %d GPU%s (cuda:0..cuda:%d)\n", n, n == 1 ? "" : "s", n - 1);
	else
		fprintf(stderr, "this machine has no usable GPU: %s\n", why);
	return VP_ECONFIG;
}

int pipe_pipeline_start(const pipe_config *cfg, pipe_metrics *metrics, pipe_pipeline **ret)
{
	return pipe_pipeline_start_view(cfg, metrics, NULL, ret);
}

int pipe_pipeline_start_view(const pipe_config *cfg, pipe_metrics *metrics, const pipe_view_hooks *view,
                             pipe_pipeline **ret)
{
	pipe_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (view)
		p->view = *view;
	pthread_mutex_init(&p->view_lock, NULL);
	p->cfg = p->start_cfg = cfg;
	p->metrics = metrics;
	/* Room for sources that reloads add while others still drain. */
	p->cap = cfg->n_sources + PIPE_EXTRA_SLOTS;
	/* A fleet node runs up to its capacity of cameras besides its own sources. */
	if (cfg->fleet.present)
		p->cap += cfg->fleet.capacity;
	p->max_batch = cfg->model.present ? cfg->model.batch_max_size : 8;
	p->timeout_ms = cfg->model.present ? cfg->model.batch_timeout_ms : 10;
	p->gpu = cfg->gpu;
	p->tracker = cfg->tracker;
	int rc = check_device(cfg);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	if (!(p->streams = calloc((size_t)p->cap, sizeof(*p->streams))))
		goto fail;
	if (cfg->model.present) {
		if ((rc = inf_detector_new(&cfg->model, cfg->file, &p->det)) < 0)
			goto fail;
		p->max_dets = inf_detector_max_dets(p->det);
	}
	p->device_frames_ok = p->gpu >= 0 && (!p->det || inf_detector_takes_device_frames(p->det));
	if ((rc = check_decoders(p, cfg)) < 0)
		goto fail;
	if ((rc = alloc_scratch(p)) < 0)
		goto fail;
	if ((rc = pipe_mq_new(p->cap, drop_frame, &p->mq)) < 0)
		goto fail;
	/* A fleet node with no camera yet (or none left) waits for the fleet, not for its end. */
	if (cfg->fleet.present)
		pipe_mq_hold(p->mq, 1);
	if ((rc = sink_set_open(cfg, &p->sinks)) < 0)
		goto fail;
	if ((rc = pipe_pipeline_setup_metrics(p)) < 0)
		goto fail;
	/* Every file is opened before any source thread runs: opening the last of many
	 * sources while the first ones already decode took 30+ s for 64 720p files on 2 cores. */
	for (int i = 0; i < cfg->n_sources; i++)
		if ((rc = pipe_stream_start(p, i, &cfg->sources[i], false)) < 0)
			goto fail_running;
	for (int i = 0; i < cfg->n_sources; i++)
		if ((rc = stream_run(&p->streams[i])) < 0)
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

void pipe_pipeline_stop(pipe_pipeline *p)
{
	atomic_store(&p->stopping, 1);
	if (p->mq)
		pipe_mq_hold(p->mq, 0);
	for (int i = 0; i < p->n; i++)
		if (p->streams[i].dec)
			dec_stream_interrupt(p->streams[i].dec);
}

int pipe_pipeline_finished(pipe_pipeline *p) { return atomic_load(&p->finished); }

int64_t pipe_pipeline_engine_busy_ns(pipe_pipeline *p)
{
	int64_t since = atomic_load(&p->busy_since);
	return since ? vp_mono_ns() - since : 0;
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
		.total_hint = ds.total_hint,
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
		pipe_analytics_free(&p->streams[i]);
		pipe_view_stream_end(&p->streams[i]);
	}
	free(p->snap_names);
	pthread_mutex_destroy(&p->view_lock);
	pipe_mq_free(&p->mq);
	inf_detector_free(&p->det);
	for (int i = 0; i < 2; i++) {
		free(p->batches[i].frames);
		free(p->batches[i].streams);
	}
	free(p->counts);
	free(p->ended);
	free(p->dets);
	free(p->pub_dets);
	free(p->pub_ids);
	free(p->sink_m);
	free(p->sink_synced);
	free(p->streams);
	free(p);
	return failed;
}
