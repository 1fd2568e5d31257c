/* What the live view's HTTP files (http_view.c: routes, auth, page, API; http_media.c:
 * pictures and snapshot files) share. Internal to view/. */
#ifndef VIEW_HTTP_VIEW_INT_H
#define VIEW_HTTP_VIEW_INT_H

#include <microhttpd.h>

#include "view.h"

enum { VH_SECRET_MAX = 512 };

typedef struct view_http {
	pipe_metrics_server *srv;
	const pipe_config *cfg;
	view_live *live;
	view_events *events;
	view_board *board;
	int (*api_fill)(void *api_ctx, const char *path, FILE *f);   /* view_http_args.api_fill */
	void *api_ctx;
	char token[VH_SECRET_MAX];     /* "" when http.token_file is not set */
	char password[VH_SECRET_MAX];  /* "" when http.password_file is not set */
} view_http;

/* A reply of a buffer (copied when copy, else static) with type; MHD_YES/MHD_NO. */
enum MHD_Result vh_reply(struct MHD_Connection *conn, unsigned status, const char *type,
                         const void *body, size_t len, int copy);
enum MHD_Result vh_text(struct MHD_Connection *conn, unsigned status, const char *text);

/* http_media.c: path is what follows "/streams/" or "/snapshots/". */
enum MHD_Result vh_serve_stream(view_http *h, struct MHD_Connection *conn, const char *path);
enum MHD_Result vh_serve_snapshot(view_http *h, struct MHD_Connection *conn, const char *path);

#endif
