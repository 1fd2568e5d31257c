/* The daemon's share of the view stage (view/view.h): the live pictures, recent events,
 * the stream board and snapshots, made at start from the first config and attached to the
 * HTTP server; the board refreshed each tick. */
#ifndef PIPE_DAEMON_VIEW_H
#define PIPE_DAEMON_VIEW_H

#include <stdint.h>

#include "../view/view.h"
#include "config.h"
#include "metrics.h"
#include "pipeline.h"

typedef struct pipe_daemon_view {
	view_live *live;
	view_events *events;
	view_board *board;
	view_snaps *snaps;
	pipe_snapshot_metrics snap_m;
	view_snaps_stats snap_synced;     /* already copied into snap_m */
	view_stream_info *rows;
	int64_t *last_processed;
	double *fps;
	int cap;
	int64_t last_ns;
	/* Set before pipe_daemon_view_start: more JSON under /api/ (view_http_args.api_fill). */
	int (*api_fill)(void *api_ctx, const char *path, FILE *f);
	void *api_ctx;
} pipe_daemon_view;

/* srv NULL: no HTTP server, so no live view (snapshots still). Fills hooks for the pipeline. */
int pipe_daemon_view_start(pipe_daemon_view *v, const pipe_config *cfg, pipe_metrics *metrics,
                           pipe_metrics_server *srv, pipe_view_hooks *hooks);
/* Main thread, each tick: the board's rows from the pipeline's streams, the snapshot metrics. */
void pipe_daemon_view_tick(pipe_daemon_view *v, pipe_pipeline *p);
/* After the pipeline is freed (it fed these) and the server is stopped (it reads them). */
void pipe_daemon_view_free(pipe_daemon_view *v);

#endif
