/* vapd: command line, signals and the main loop. Everything else lives in modules. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "pipeline.h"
#include "vp_err.h"
#include "vp_log.h"

enum { EXIT_USAGE = 2 };

typedef struct options {
	const char *config;
	int check, quiet;
} options;

static void usage(FILE *out)
{
	fputs("usage: vapd -c FILE [--check] [--quiet]\n"
	      "\n"
	      "Real-time video analytics pipeline daemon: decodes video sources, runs an ONNX\n"
	      "object detector and publishes per-frame detections (JSON Lines) to sinks.\n"
	      "\n"
	      "  -c, --config FILE  pipeline file (YAML) to run\n"
	      "      --check        validate the pipeline file and exit (0 valid, 2 invalid)\n"
	      "  -q, --quiet        no progress line\n"
	      "      --help-config  print every config key with its type, default and meaning\n"
	      "  -h, --help         this text\n"
	      "  -V, --version      print the version\n"
	      "\n"
	      "Signals: SIGINT/SIGTERM stop reading, drain queues, flush sinks and exit 0.\n",
	      out);
}

static int parse_args(int argc, char **argv, options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'k' },
		{ "quiet", no_argument, NULL, 'q' },        { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },      { "help-config", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'k': o->check = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("vapd %s\n", VP_VERSION); exit(0);
		case 'H': pipe_config_print_reference(stdout, 0); exit(0);
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vapd: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!o->config) {
		fprintf(stderr, "vapd: no pipeline file given (-c FILE)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

static void log_summary(pipe_pipeline *p)
{
	for (int i = 0; i < pipe_pipeline_n_streams(p); i++) {
		pipe_stream_stats s;
		pipe_pipeline_stream_stats(p, i, &s);
		vp_info("stats", s.id,
		        "frames %lld, processed %lld, dropped %lld, errors %lld, detections %lld, "
		        "latency p50 %.1f ms p90 %.1f ms p99 %.1f ms",
		        (long long)s.decoded, (long long)s.processed, (long long)s.dropped,
		        (long long)s.errors, (long long)s.detections, s.lat_p50_ms, s.lat_p90_ms,
		        s.lat_p99_ms);
	}
}

/* Configs stay alive until exit: streams untouched by a reload keep pointing into theirs. */
typedef struct config_list {
	pipe_config **v;
	int n;
} config_list;

static void reload(pipe_pipeline *p, const char *path, config_list *cl)
{
	pipe_config *next = NULL;
	vp_info("main", NULL, "SIGHUP: reloading %s", path);
	if (pipe_config_load(path, stderr, &next) < 0) {
		vp_err("main", NULL, "reload rejected: %s is invalid; the running pipeline continues", path);
		return;
	}
	pipe_config **v = realloc(cl->v, (size_t)(cl->n + 1) * sizeof(*v));
	if (!v) {
		pipe_config_free(&next);
		return;
	}
	cl->v = v;
	cl->v[cl->n++] = next;
	vp_log_set_level(next->log_level);
	int changes = pipe_pipeline_reload(p, next);
	vp_info("main", NULL, "reload applied: %d source(s) started or stopped", changes);
}

/* Waits for signals and the end of the run; the workers block every signal. */
static void main_loop(pipe_pipeline *p, const sigset_t *sigs, const char *path, config_list *cl)
{
	struct timespec tick = { 0, 250 * 1000000L };
	int stops = 0;
	while (!pipe_pipeline_finished(p)) {
		int sig = sigtimedwait(sigs, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM) {
			if (++stops > 1) {
				vp_warn("main", NULL, "second signal: exiting without draining");
				_exit(1);
			}
			vp_info("main", NULL, "signal %d: stopping, draining queues", sig);
			pipe_pipeline_stop(p);
		} else if (sig == SIGHUP && !stops) {
			reload(p, path, cl);
		}
	}
}

int main(int argc, char **argv)
{
	options o = { 0 };
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	pipe_config *cfg = NULL;
	if (pipe_config_load(o.config, stderr, &cfg) < 0)
		return EXIT_USAGE;
	if (o.check) {
		printf("%s: ok\n", o.config);
		pipe_config_free(&cfg);
		return 0;
	}
	vp_log_set_level(cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	pipe_pipeline *p = NULL;
	if ((rc = pipe_pipeline_start(cfg, &p)) < 0) {
		vp_err("main", NULL, "pipeline did not start: %s", vp_strerror(rc));
		pipe_config_free(&cfg);
		return rc == VP_ECONFIG ? EXIT_USAGE : 1;
	}
	config_list cl = { NULL, 0 };
	main_loop(p, &sigs, o.config, &cl);
	log_summary(p);
	rc = pipe_pipeline_free(&p);
	for (int i = 0; i < cl.n; i++)
		pipe_config_free(&cl.v[i]);
	free(cl.v);
	pipe_config_free(&cfg);
	return rc ? 1 : 0;
}
