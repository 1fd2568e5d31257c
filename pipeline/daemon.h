/* The daemon around a pipeline: signals, SIGHUP reload, service-manager notifications,
 * the metrics endpoint, the offline progress line and the exit summary. */
#ifndef PIPE_DAEMON_H
#define PIPE_DAEMON_H

#include <signal.h>

#include "config.h"

typedef struct pipe_daemon_opts {
	const char *config_path;  /* re-read on SIGHUP */
	int quiet;                /* no progress line, no summary table */
} pipe_daemon_opts;

/* Runs cfg until every stream ended or SIGINT/SIGTERM drained it. Takes ownership of
 * cfg. Returns the process exit code: 0, 1 (a source or the start failed), 2 (config). */
int pipe_daemon_run(const pipe_daemon_opts *o, pipe_config *cfg);
/* The signals the daemon waits for (SIGINT, SIGTERM: stop; SIGHUP: reload), which every
 * thread keeps blocked. */
void pipe_daemon_signals(sigset_t *set);

#endif
