/* Offline progress: one self-overwriting status line on a terminal while files are
 * processed, and a per-stream summary table at exit. Pure formatting over a snapshot the
 * pipeline fills in; the clock is part of the snapshot so rate limiting is testable. */
#ifndef PIPE_PROGRESS_H
#define PIPE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pipe_progress pipe_progress;

typedef struct pipe_progress_stream {
	const char *id;
	uint64_t frames;              /* decoded so far */
	uint64_t total_frames;        /* container estimate (pipe_progress_estimate_frames); 0: unknown */
	uint64_t detections;
	uint64_t errors;              /* decode errors, dropped frames, sink failures */
} pipe_progress_stream;

typedef struct pipe_progress_snapshot {
	uint64_t mono_ns;             /* CLOCK_MONOTONIC when the counters were read */
	const pipe_progress_stream *streams;
	int n_streams;
} pipe_progress_snapshot;

typedef struct pipe_progress_opts {
	FILE *out;                    /* normally stderr */
	int tty;                      /* 1/0 forces; -1 asks isatty(fileno(out)) */
	bool quiet;                   /* --quiet: no line, no summary */
	bool all_files;               /* a live source makes a progress bar meaningless */
	uint64_t start_ns;            /* CLOCK_MONOTONIC when processing started */
} pipe_progress_opts;

int pipe_progress_new(const pipe_progress_opts *opts, pipe_progress **ret);
void pipe_progress_free(pipe_progress **p);
/* Whether update() draws anything: a terminal, every source a file, not quiet. */
bool pipe_progress_enabled(const pipe_progress *p);

/* Redraws the line when enabled and at least 250 ms passed since the last draw.
 * Returns 1 when drawn, 0 otherwise. */
int pipe_progress_update(pipe_progress *p, const pipe_progress_snapshot *snap);
/* Clears the line and prints the table (per stream and total: frames, detections, fps,
 * errors) to out, unless quiet. */
void pipe_progress_summary(pipe_progress *p, const pipe_progress_snapshot *snap, FILE *out);

/* Frame count of a file from its container: nb_frames when the container states it,
 * else duration x frame rate rounded; 0 when neither is known. */
uint64_t pipe_progress_estimate_frames(int64_t nb_frames, double duration_s, double fps);

#endif
