/* vapd: the command line. The daemon loop lives in daemon.c, the rest in modules. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "../fleet/fleet.h"
#include "quick.h"
#include "vp_log.h"
#include "vp_fpu.h"
#include "vp_omp.h"
#include "vp_stdio.h"

enum { EXIT_USAGE = 2 };

/* Runs before any library constructor. OpenBLAS starts its worker threads in one, and
 * threads inherit the signal mask and the FPU mode of their creator:
 * - the signals the daemon waits for (daemon.c) are blocked: a thread that does not block
 *   SIGTERM takes it with the default action (exit 143) whenever the main thread is not
 *   in sigtimedwait, e.g. while the model loads. execve keeps the mask and any signal that
 *   arrived meanwhile (vp_omp_tune's re-exec), so a stop is never lost;
 * - denormals flush to zero (vp_fpu.h), in OpenBLAS's threads too, which no later call
 *   of ours reaches. */
static void process_start(int argc, char **argv, char **envp)
{
	(void)argc, (void)argv, (void)envp;
	vp_fpu_flush_denormals();
	sigset_t sigs;
	pipe_daemon_signals(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
}

/* .preinit_array: run by the dynamic loader before the shared libraries' constructors. */
__attribute__((section(".preinit_array"), used))
static void (*const preinit_process_start)(int, char **, char **) = process_start;

static void usage(FILE *out)
{
	fputs("usage: vapd -c FILE [--check] [--quiet]\n"
	      "       vapd --source URI --model PATH [--labels FILE] [--http HOST:PORT]\n"
	      "       vapd fleet [--etcd URL] [--prefix P] add|remove|list|import|status ...\n"
	      "\n"
	      "Real-time video analytics pipeline daemon: decodes video sources, runs an ONNX\n"
	      "object detector and publishes per-frame detections (JSON Lines) to sinks.\n"
	      "\n"
	      "  -c, --config FILE  pipeline file (YAML) to run\n"
	      "      --source URI   without a file: look at one file or camera (files play at\n"
	      "                     their own speed), tracked, JSON on stdout, live view on\n"
	      "                     http://127.0.0.1:9464/\n"
	      "      --model PATH   its ONNX detector (family chosen from the outputs)\n"
	      "      --labels FILE  class names (default: coco.names beside the model)\n"
	      "      --http ADDR    where the live view listens (default 127.0.0.1:9464)\n"
	      "      --check        validate the pipeline file and exit (0 valid, 2 invalid)\n"
	      "  -q, --quiet        no progress line and no summary table\n"
	      "      --help-config  print every config key with its type, default and meaning\n"
	      "  -h, --help         this text\n"
	      "  -V, --version      print the version\n"
	      "\n"
	      "Signals: SIGINT/SIGTERM stop reading, drain queues, flush sinks and exit 0 (a\n"
	      "repeat within 1 s is the same stop; a later one exits at once without draining);\n"
	      "SIGHUP re-reads FILE (sources added/removed; an invalid file is rejected).\n"
	      "Exit codes: 0 done, 1 a source or the pipeline failed, 2 usage or config error.\n",
	      out);
}

static int parse_args(int argc, char **argv, pipe_daemon_opts *o, pipe_quick_opts *q, int *check)
{
	static const struct option longopts[] = {
		{ "source", required_argument, NULL, 's' }, { "model", required_argument, NULL, 'm' },
		{ "labels", required_argument, NULL, 'l' }, { "http", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'k' },
		{ "quiet", no_argument, NULL, 'q' },        { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },      { "help-config", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config_path = optarg; break;
		case 's': q->source = optarg; break;
		case 'm': q->model = optarg; break;
		case 'l': q->labels = optarg; break;
		case 't': q->http = optarg; break;
		case 'k': *check = 1; break;
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
	bool quick = q->source || q->model || q->labels || q->http;
	if (quick && o->config_path) {
		fprintf(stderr, "vapd: give either -c FILE or --source/--model, not both\n");
		return EXIT_USAGE;
	}
	if (quick && (!q->source || !q->model)) {
		fprintf(stderr, "vapd: --source and --model go together\n");
		return EXIT_USAGE;
	}
	if (!o->config_path && !quick) {
		fprintf(stderr, "vapd: no pipeline file given (-c FILE, or --source URI --model PATH)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* Before anything opens a file: supervisors may start us with stdout or stderr closed. */
	if (vp_stdio_reserve() < 0)
		return 1;
	if (argc > 1 && strcmp(argv[1], "fleet") == 0)
		return fleet_cli(argc - 1, argv + 1);
	vp_omp_tune(argv);
	pipe_daemon_opts o = { 0 };
	pipe_quick_opts q = { 0 };
	int check = 0;
	int rc = parse_args(argc, argv, &o, &q, &check);
	if (rc)
		return rc;
	pipe_config *cfg = NULL;
	rc = o.config_path ? pipe_config_load(o.config_path, stderr, &cfg) : pipe_quick_config(&q, stderr, &cfg);
	if (rc < 0)
		return EXIT_USAGE;
	if (check) {
		printf("%s: ok\n", o.config_path ? o.config_path : "command line");
		pipe_config_free(&cfg);
		return 0;
	}
	vp_log_auto_journal();
	vp_log_set_level(cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	return pipe_daemon_run(&o, cfg);
}
