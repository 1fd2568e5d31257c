/* The live view's routes on the daemon's HTTP server: the page, /api/streams, /api/events, and
 * (http_media.c) the pictures and snapshot files; and the guard that asks for the token or the
 * password on every path but the health checks. Each request runs on its connection's thread. */
#include "http_view_int.h"
#include "events_ring.h"

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "../pipeline/vp_secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The page, embedded by page.S (.incbin of page.html). */
extern const char view_page_html[], view_page_html_end[];

enum { VH_MAX_ROWS = 256 };

#define JSON_TYPE "application/json; charset=utf-8"

enum MHD_Result vh_reply(struct MHD_Connection *conn, unsigned status, const char *type,
                         const void *body, size_t len, int copy)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
	                                                          copy ? MHD_RESPMEM_MUST_COPY
	                                                               : MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	enum MHD_Result ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (ret == MHD_YES)
		ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result vh_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return vh_reply(conn, status, "text/plain; charset=utf-8", text, strlen(text), 0);
}

/* ---- auth ---- */

/* Equal without an early exit: the time depends on the secret's length only. */
static int secret_equal(const char *given, const char *secret)
{
	size_t glen = strlen(given), slen = strlen(secret);
	unsigned char d = glen != slen;
	for (size_t i = 0; i < slen; i++)
		d |= (unsigned char)((i < glen ? given[i] : 0) ^ secret[i]);
	return d == 0;
}

static int token_ok(view_http *h, struct MHD_Connection *conn)
{
	if (!h->token[0])
		return 0;
	const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
	if (q && secret_equal(q, h->token))
		return 1;
	const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	return a && strncmp(a, "Bearer ", 7) == 0 && secret_equal(a + 7, h->token);
}

static int password_ok(view_http *h, struct MHD_Connection *conn)
{
	if (!h->password[0])
		return 0;
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);
	int ok = user && pass;
	if (ok) {      /* both compared whatever the first says: no early exit */
		int u = secret_equal(user, h->cfg->http.user ? h->cfg->http.user : "vapd");
		ok = secret_equal(pass, h->password) & u;
	}
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static int refuse(view_http *h, struct MHD_Connection *conn)
{
	static const char body[] = "unauthorized\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
	                                                          MHD_RESPMEM_PERSISTENT);
	if (!r)
		return -1;
	enum MHD_Result ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                                              "text/plain; charset=utf-8");
	if (ret == MHD_YES && h->password[0])
		ret = MHD_queue_basic_auth_fail_response(conn, "vapd", r);
	else if (ret == MHD_YES) {
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"vapd\"");
		if (ret == MHD_YES)
			ret = MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, r);
	}
	MHD_destroy_response(r);
	return ret == MHD_YES ? 0 : -1;
}

static int guard(void *ctx, struct MHD_Connection *conn)
{
	view_http *h = ctx;
	if (!h->token[0] && !h->password[0])
		return 1;
	if (token_ok(h, conn) || password_ok(h, conn))
		return 1;
	return refuse(h, conn);
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_counts(FILE *f, const view_counts *c)
{
	if (c->active_tracks >= 0)
		fprintf(f, ",\"active_tracks\":%d", c->active_tracks);
	else
		fputs(",\"active_tracks\":null", f);
	fputs(",\"zones\":{", f);
	for (int z = 0; z < c->n_zones && z < 64; z++) {
		fputs(z ? "," : "", f);
		json_str(f, c->zone_names[z] ? c->zone_names[z] : "");
		fprintf(f, ":%d", c->zone_counts[z]);
	}
	fputs("},\"lines\":{", f);
	for (int l = 0; l < c->n_lines && l < 64; l++) {
		fputs(l ? "," : "", f);
		json_str(f, c->line_names[l] ? c->line_names[l] : "");
		fprintf(f, ":{\"in\":%lld,\"out\":%lld}", (long long)c->line_in[l], (long long)c->line_out[l]);
	}
	fputc('}', f);
}

static void json_row(view_http *h, FILE *f, const view_stream_info *r)
{
	fputs("{\"id\":", f);
	json_str(f, r->id);
	fputs(",\"state\":", f);
	json_str(f, r->state);
	fprintf(f, ",\"fps\":%.2f,\"lat_p50_ms\":%.1f,\"lat_p99_ms\":%.1f,\"decoded\":%lld,"
	        "\"processed\":%lld,\"dropped\":%lld,\"errors\":%lld,\"detections\":%lld",
	        r->fps, r->lat_p50_ms, r->lat_p99_ms, (long long)r->decoded, (long long)r->processed,
	        (long long)r->dropped, (long long)r->errors, (long long)r->detections);
	view_counts c;
	int slot = h->live ? view_live_find(h->live, r->id) : -1;
	char id[64];
	if (slot >= 0 && view_live_counts(h->live, slot, id, sizeof(id), &c) == 0)
		json_counts(f, &c);
	fprintf(f, ",\"picture\":%s}", slot >= 0 ? "true" : "false");
}

/* Writes with fill into memory and replies 200, or 500. */
static enum MHD_Result reply_json(view_http *h, struct MHD_Connection *conn,
                                  int (*fill)(view_http *, struct MHD_Connection *, FILE *))
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	if (!f)
		return vh_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	int err = fill(h, conn, f);
	if (fclose(f) != 0 || err < 0) {
		free(body);
		return vh_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot write the reply\n");
	}
	enum MHD_Result ret = vh_reply(conn, MHD_HTTP_OK, JSON_TYPE, body, len, 1);
	free(body);
	return ret;
}

static int fill_streams(view_http *h, struct MHD_Connection *conn, FILE *f)
{
	(void)conn;
	view_stream_info *rows = malloc(VH_MAX_ROWS * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	int n = view_board_get(h->board, rows, VH_MAX_ROWS);
	fprintf(f, "{\"view_fps\":%d,\"view_width\":%d,\"streams\":[", h->cfg->view.fps, h->cfg->view.width);
	for (int i = 0; i < n; i++) {
		fputs(i ? "," : "", f);
		json_row(h, f, &rows[i]);
	}
	fputs("]}", f);
	free(rows);
	return ferror(f) ? -EIO : 0;
}

static int fill_events(view_http *h, struct MHD_Connection *conn, FILE *f)
{
	const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	char *end = NULL;
	unsigned long long since = q ? strtoull(q, &end, 10) : 0;
	if (q && (end == q || *end || q[0] == '-'))
		since = 0;
	/* The list is written first (it names the next number); the head goes around it. */
	char *list = NULL;
	size_t len = 0;
	uint64_t next = 0;
	FILE *lf = open_memstream(&list, &len);
	if (!lf)
		return -ENOMEM;
	int n = view_events_read(h->events, since, lf, &next);
	if (fclose(lf) != 0 && n >= 0)
		n = -EIO;
	if (n >= 0)
		fprintf(f, "{\"next\":%llu,\"events\":[%.*s]}", (unsigned long long)next, (int)len, list);
	free(list);
	return n < 0 ? n : ferror(f) ? -EIO : 0;
}

/* A path of view_http_args.api_fill (e.g. /api/fleet). */
static enum MHD_Result reply_api(view_http *h, struct MHD_Connection *conn, const char *path)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	if (!f)
		return vh_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	int err = h->api_fill(h->api_ctx, path, f);
	if (fclose(f) != 0 && err == 0)
		err = -EIO;
	enum MHD_Result ret = err == 0 ? vh_reply(conn, MHD_HTTP_OK, JSON_TYPE, body, len, 1) :
	                      err == -ENOENT ? vh_text(conn, MHD_HTTP_NOT_FOUND, "not found\n") :
	                      vh_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot write the reply\n");
	free(body);
	return ret;
}

static enum MHD_Result serve_page(struct MHD_Connection *conn)
{
	return vh_reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", view_page_html,
	                (size_t)(view_page_html_end - view_page_html), 0);
}

static int serve(void *ctx, struct MHD_Connection *conn, const char *url)
{
	view_http *h = ctx;
	enum MHD_Result r;
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		r = serve_page(conn);
	else if (strcmp(url, "/api/streams") == 0)
		r = reply_json(h, conn, fill_streams);
	else if (strcmp(url, "/api/events") == 0)
		r = h->events ? reply_json(h, conn, fill_events) : vh_text(conn, MHD_HTTP_NOT_FOUND, "no events\n");
	else if (strncmp(url, "/api/", 5) == 0 && h->api_fill)
		r = reply_api(h, conn, url + 5);
	else if (strncmp(url, "/streams/", 9) == 0)
		r = vh_serve_stream(h, conn, url + 9);
	else if (strncmp(url, "/snapshots/", 11) == 0)
		r = vh_serve_snapshot(h, conn, url + 11);
	else
		r = vh_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	return r == MHD_YES;
}

/* ---- attaching ---- */

/* The file's first line (without its end) into buf; an empty secret is refused. */
static int read_secret(const char *key, const char *path, char *buf, size_t size)
{
	int err = vp_read_secret(path, buf, size);
	if (err == VP_ECONFIG)
		vp_err("http", NULL, "%s %s: the first line is empty (or longer than %zu bytes)", key, path,
		       size - 2);
	else if (err < 0)
		vp_err("http", NULL, "%s %s: %s", key, path, vp_strerror(err));
	return err;
}

static void release(void *ctx)
{
	view_http *h = ctx;
	/* The secrets do not linger in freed memory. */
	memset(h->token, 0, sizeof(h->token));
	memset(h->password, 0, sizeof(h->password));
	free(h);
}

int view_http_attach(pipe_metrics_server *srv, const view_http_args *a)
{
	view_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	*h = (view_http){ .srv = srv, .cfg = a->cfg, .live = a->live, .events = a->events,
	                  .board = a->board, .api_fill = a->api_fill, .api_ctx = a->api_ctx };
	const pipe_http_cfg *c = &a->cfg->http;
	int err = 0;
	if (c->token_file && (err = read_secret("http.token_file", c->token_file, h->token,
	                                        sizeof(h->token))) < 0)
		goto fail;
	if (c->password_file && (err = read_secret("http.password_file", c->password_file,
	                                           h->password, sizeof(h->password))) < 0)
		goto fail;
	pipe_http_plugin p = { .name = "the live view (/, /streams/, /api/, /snapshots/)", .ctx = h,
	                       .guard = guard, .serve = serve, .release = release };
	pipe_metrics_server_set_max_streams(srv, c->max_viewers);
	if ((err = pipe_metrics_server_plug(srv, &p)) < 0)
		goto fail;
	return 0;
fail:
	release(h);
	return err;
}
