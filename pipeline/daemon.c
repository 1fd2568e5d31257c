#include "daemon.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_view.h"
#include "../fleet/fleet.h"
#include "metrics.h"
#include "notify.h"
#include "pipeline.h"
#include "progress.h"
#include "vp_err.h"
#include "vp_log.h"
#include "vp_time.h"

/* Per-stream latency percentiles go to the log this often (and at exit). */
enum { STATS_LOG_INTERVAL_S = 60, TICK_MS = 250 };

/* timeout(1) and some supervisors send SIGTERM to the child and then to its process
 * group, milliseconds apart: a stop signal this soon after the first is the same request.
 * Long enough for a loaded machine to deliver both, short enough that an operator's
 * second Ctrl-C, a second or more later, still means "exit now without draining". */
#define STOP_REPEAT_NS 1000000000LL

typedef struct pipe_daemon {
	const pipe_daemon_opts *o;
	pipe_config **cfgs;       /* every config loaded; streams keep pointing into old ones */
	int n_cfgs;
	pipe_pipeline *p;
	pipe_metrics *metrics;
	pipe_metrics_server *server;
	pipe_daemon_view view;
	pipe_core_metrics core;
	pipe_progress *progress;
	pipe_progress_stream *snap;
	int snap_cap;
	int64_t last_stats_ns, last_frames, last_status_ns;
	fleet_node *fleet;        /* fleet mode (fleet/fleet.h); NULL: off */
} pipe_daemon;

static void log_latency(pipe_daemon *d)
{
	for (int i = 0; i < pipe_pipeline_n_streams(d->p); i++) {
		pipe_stream_stats s;
		pipe_pipeline_stream_stats(d->p, i, &s);
		vp_info("stats", s.id,
		        "frames %lld, processed %lld, dropped %lld, errors %lld, detections %lld, "
		        "latency p50 %.1f ms p90 %.1f ms p99 %.1f ms",
		        (long long)s.decoded, (long long)s.processed, (long long)s.dropped,
		        (long long)s.errors, (long long)s.detections, s.lat_p50_ms, s.lat_p90_ms,
		        s.lat_p99_ms);
	}
}

static int take_snapshot(pipe_daemon *d, pipe_progress_snapshot *snap)
{
	int n = pipe_pipeline_n_streams(d->p);
	if (n > d->snap_cap) {
		pipe_progress_stream *v = realloc(d->snap, (size_t)n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->snap = v;
		d->snap_cap = n;
	}
	int64_t frames = 0;
	for (int i = 0; i < n; i++) {
		pipe_stream_stats s;
		pipe_pipeline_stream_stats(d->p, i, &s);
		d->snap[i] = (pipe_progress_stream){
			.id = s.id,
			.frames = (uint64_t)s.decoded,
			.total_frames = (uint64_t)s.total_hint,
			.detections = (uint64_t)s.detections,
			.errors = (uint64_t)(s.errors + s.dropped),
		};
		frames += s.processed;
	}
	*snap = (pipe_progress_snapshot){ .mono_ns = (uint64_t)vp_mono_ns(), .streams = d->snap,
	                                  .n_streams = n };
	return (int)(frames > INT32_MAX ? INT32_MAX : frames);
}

static void tick(pipe_daemon *d)
{
	pipe_progress_snapshot snap;
	int64_t now = vp_mono_ns();
	int frames = take_snapshot(d, &snap);
	if (frames < 0)
		return;
	pipe_progress_update(d->progress, &snap);
	pipe_pipeline_sync_metrics(d->p);
	pipe_daemon_view_tick(&d->view, d->p);
	if (d->fleet)
		fleet_node_tick(d->fleet, d->p);
	/* Fed only while the engine makes progress: a batch stuck on a hung GPU starves it. */
	uint64_t wd = pipe_notify_watchdog_usec();
	if (wd && pipe_pipeline_engine_busy_ns(d->p) < (int64_t)wd * 500)
		pipe_notify_watchdog();
	if (now - d->last_status_ns >= 5000000000LL) {
		double fps = (frames - d->last_frames) / ((now - d->last_status_ns) / 1e9);
		if (d->last_status_ns)
			pipe_notify_status("%d stream%s, %.1f frames/s", snap.n_streams,
			                   snap.n_streams == 1 ? "" : "s", fps);
		d->last_status_ns = now;
		d->last_frames = frames;
	}
	if (now - d->last_stats_ns >= STATS_LOG_INTERVAL_S * 1000000000LL) {
		if (d->last_stats_ns)
			log_latency(d);
		d->last_stats_ns = now;
	}
}

/* pipe_config_load with its FILE:LINE:COL lines sent through the log: while running,
 * every line on stderr has a time and a level (or the journal's priority prefix). */
static int load_logged(const char *path, pipe_config **ret)
{
	char *text = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&text, &len);
	if (!err)
		return pipe_config_load(path, stderr, ret);
	int rc = pipe_config_load(path, err, ret);
	fclose(err);
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		if (*line)
			vp_err("config", NULL, "%s", line);
	}
	free(text);
	return rc;
}

static void reload(pipe_daemon *d)
{
	pipe_config *next = NULL;
	if (!d->o->config_path) {
		vp_warn("main", NULL, "SIGHUP ignored: the pipeline came from the command line, not a file");
		return;
	}
	if (d->fleet) {
		/* The fleet re-reads the file with the cameras it owns, on the next tick. */
		vp_info("main", NULL, "SIGHUP: reloading %s with the fleet's cameras", d->o->config_path);
		fleet_node_reload(d->fleet);
		return;
	}
	pipe_notify_reloading();
	vp_info("main", NULL, "SIGHUP: reloading %s", d->o->config_path);
	if (load_logged(d->o->config_path, &next) < 0) {
		vp_err("main", NULL, "reload rejected: %s is invalid; the running pipeline continues",
		       d->o->config_path);
		pipe_counter_inc(d->core.reload_failures);
		pipe_notify_ready();
		return;
	}
	pipe_config **v = realloc(d->cfgs, (size_t)(d->n_cfgs + 1) * sizeof(*v));
	if (!v) {
		pipe_config_free(&next);
		pipe_notify_ready();
		return;
	}
	d->cfgs = v;
	d->cfgs[d->n_cfgs++] = next;
	vp_log_set_level(next->log_level);
	int not_applied = 0;
	int changes = pipe_pipeline_reload(d->p, next, &not_applied);
	pipe_counter_inc(d->core.reloads);
	if (not_applied) {
		static const char *const names[] = { "model", "tracker", "sinks" };  /* by bit */
		char parts[40] = "";
		for (int i = 0; i < 3; i++)
			if (not_applied & 1 << i)
				snprintf(parts + strlen(parts), sizeof(parts) - strlen(parts), "%s%s",
				         parts[0] ? ", " : "", names[i]);
		vp_warn("main", NULL, "reload partly applied: %d source(s) started or stopped; "
		        "not applied (they need a restart): %s", changes, parts);
	} else
		vp_info("main", NULL, "reload applied: %d source(s) started or stopped", changes);
	pipe_notify_ready();
}

/* Waits for signals and the end of the run; the workers block every signal. */
static void main_loop(pipe_daemon *d, const sigset_t *sigs)
{
	struct timespec ts = { 0, TICK_MS * 1000000L };
	int64_t stop_ns = 0;              /* when the first stop signal came; 0: none yet */
	while (!pipe_pipeline_finished(d->p)) {
		int sig = sigtimedwait(sigs, NULL, &ts);
		if ((sig == SIGINT || sig == SIGTERM) && stop_ns) {
			if (vp_mono_ns() - stop_ns < STOP_REPEAT_NS) {
				vp_info("main", NULL, "signal %d again within %lld ms: same stop, still draining",
				        sig, STOP_REPEAT_NS / 1000000);
			} else {
				vp_warn("main", NULL, "second signal: exiting without draining");
				_exit(1);
			}
		} else if (sig == SIGINT || sig == SIGTERM) {
			stop_ns = vp_mono_ns();
			vp_info("main", NULL, "signal %d: stopping, draining queues", sig);
			pipe_notify_stopping();
			if (d->fleet)
				fleet_node_leave(d->fleet);
			pipe_pipeline_stop(d->p);
		} else if (sig == SIGHUP && !stop_ns) {
			reload(d);
		}
		tick(d);
	}
	pipe_notify_stopping();
}

static int start_metrics(pipe_daemon *d, const pipe_config *cfg)
{
	if (!cfg->metrics_listen)
		return 0;
	int rc = pipe_metrics_new(&d->metrics);
	if (rc < 0)
		return rc;
	if ((rc = pipe_metrics_server_new(d->metrics, cfg->metrics_listen, &d->server)) < 0) {
		vp_err("metrics", NULL, "cannot serve on %s: %s", cfg->metrics_listen, vp_strerror(rc));
		return rc;
	}
	vp_info("http", NULL, "serving the live view on http://%s/ (and /metrics, /healthz, /readyz, /api)",
	        cfg->metrics_listen);
	return pipe_metrics_add_core(d->metrics, cfg->name ? cfg->name : "vapd", &d->core);
}

static int start_progress(pipe_daemon *d, const pipe_config *cfg)
{
	bool files = true;
	for (int i = 0; i < cfg->n_sources; i++)
		files = files && cfg->sources[i].is_file && !cfg->sources[i].loop;
	pipe_progress_opts po = { .out = stderr, .tty = -1, .quiet = d->o->quiet,
	                          .all_files = files, .start_ns = (uint64_t)vp_mono_ns() };
	return pipe_progress_new(&po, &d->progress);
}

/* Summary first (it reads the pipeline), then the pipeline, then what it borrowed. */
static int finish(pipe_daemon *d)
{
	if (d->p) {
		pipe_progress_snapshot snap;
		pipe_pipeline_sync_metrics(d->p);
		if (take_snapshot(d, &snap) >= 0)
			pipe_progress_summary(d->progress, &snap, stderr);
		log_latency(d);
	}
	int failed = pipe_pipeline_free(&d->p);
	pipe_progress_free(&d->progress);
	pipe_metrics_server_free(&d->server);
	/* After the streams ended and the sinks flushed, and the server (/api/fleet) stopped. */
	fleet_node_free(&d->fleet);
	pipe_daemon_view_free(&d->view);
	pipe_metrics_free(&d->metrics);
	for (int i = 0; i < d->n_cfgs; i++)
		pipe_config_free(&d->cfgs[i]);
	free(d->cfgs);
	free(d->snap);
	return failed;
}

/* A stop that came before the pipeline started (the signals were blocked from the
 * first instruction on, see main.c): nothing was read, so exit cleanly with no output.
 * One that comes while the pipeline starts (the model loads) drains it in main_loop. */
void pipe_daemon_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

static bool stop_pending(const sigset_t *sigs)
{
	sigset_t pending;
	if (sigpending(&pending) < 0 || !(sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)))
		return false;
	struct timespec now = { 0, 0 };
	int sig = sigtimedwait(sigs, NULL, &now);
	vp_info("main", NULL, "signal %d before the start: exiting, nothing was read", sig);
	pipe_notify_stopping();
	return true;
}

int pipe_daemon_run(const pipe_daemon_opts *o, pipe_config *cfg)
{
	pipe_daemon d = { .o = o };
	if (!(d.cfgs = malloc(sizeof(*d.cfgs)))) {
		pipe_config_free(&cfg);
		return 1;
	}
	d.cfgs[d.n_cfgs++] = cfg;
	pipe_notify_init();
	sigset_t sigs;
	pipe_daemon_signals(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (stop_pending(&sigs)) {
		finish(&d);
		return 0;
	}
	pipe_view_hooks hooks;
	int rc = start_metrics(&d, cfg);
	if (rc == 0)
		rc = start_progress(&d, cfg);
	if (rc == 0 && cfg->fleet.present && (rc = fleet_node_new(cfg, o->config_path, d.metrics, &d.fleet)) == 0) {
		d.view.api_fill = fleet_node_api;
		d.view.api_ctx = d.fleet;
	}
	if (rc == 0)
		rc = pipe_daemon_view_start(&d.view, cfg, d.metrics, d.server, &hooks);
	if (rc == 0 && (rc = pipe_pipeline_start_view(cfg, d.metrics, &hooks, &d.p)) < 0)
		vp_err("main", NULL, "pipeline did not start: %s", vp_strerror(rc));
	/* Cameras are claimed once the pipeline can run them (the model is loaded). */
	if (rc == 0 && d.fleet)
		rc = fleet_node_run(d.fleet);
	if (rc < 0) {
		finish(&d);
		return rc == VP_ECONFIG ? 2 : 1;
	}
	pipe_metrics_server_set_ready(d.server, 1);
	pipe_notify_ready();
	main_loop(&d, &sigs);
	return finish(&d) ? 1 : 0;
}
