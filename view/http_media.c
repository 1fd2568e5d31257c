/* The live view's pictures and files: /streams/{id}/live.mjpeg (multipart MJPEG, one stream
 * slot each), /streams/{id}/latest.jpg, and /snapshots/<path> under snapshots.dir only.
 *
 * Pictures are shared references (view_jpeg): a viewer copies bytes out of the newest one when
 * libmicrohttpd wants more for its socket, so a slow reader gets fewer pictures and the pipeline
 * never waits for anyone. */
#include "http_view_int.h"

#include "../pipeline/vp_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	WAIT_SLICE_MS = 250,     /* a reader's longest wait: the server's stop waits no longer */
	RESEND_MS = 2000,        /* a stream with no new picture repeats its last one this often,
	                          * so the connection is not idle (the server's timeout is 5 s) */
	LATEST_WAIT_MS = 1000,   /* latest.jpg before the first picture of a stream */
	PART_HEAD_MAX = 128,
	SNAP_PATH_MAX = 1024,
};

#define BOUNDARY "vapdframe"

typedef struct mjpeg_viewer {
	view_http *h;
	int slot;
	uint64_t gen;            /* of the last picture sent */
	int64_t sent_ns;         /* when a picture was last begun */
	view_jpeg *cur;          /* being sent: head, data, "\r\n" */
	size_t off;
	char head[PART_HEAD_MAX];
	size_t head_len;
} mjpeg_viewer;

/* Makes cur the next picture to send: a newer one, or after RESEND_MS the same one again.
 * 1: one is ready; 0: none yet (the reader returns 0 and is called again); -1: stop. */
static int next_picture(mjpeg_viewer *v)
{
	if (pipe_metrics_server_stopping(v->h->srv))
		return -1;
	view_jpeg *j = view_live_wait(v->h->live, v->slot, v->gen, WAIT_SLICE_MS);
	int64_t now = vp_mono_ns();
	if (!j && v->gen > 0 && now - v->sent_ns >= RESEND_MS * 1000000LL)
		j = view_live_wait(v->h->live, v->slot, v->gen - 1, 0);
	if (!j)
		return pipe_metrics_server_stopping(v->h->srv) ? -1 : 0;
	int n = snprintf(v->head, sizeof(v->head), "--" BOUNDARY "\r\nContent-Type: image/jpeg\r\n"
	                 "Content-Length: %zu\r\n\r\n", j->len);
	if (n < 0 || (size_t)n >= sizeof(v->head)) {
		view_jpeg_unref(&j);
		return -1;
	}
	v->head_len = (size_t)n;
	v->cur = j;
	v->off = 0;
	v->gen = j->gen;
	v->sent_ns = now;
	return 1;
}

/* Copies from the part [head | data | "\r\n"] at off. */
static size_t copy_part(mjpeg_viewer *v, char *buf, size_t max)
{
	size_t done = 0, total = v->head_len + v->cur->len + 2;
	while (done < max && v->off < total) {
		const char *src;
		size_t avail;
		if (v->off < v->head_len) {
			src = v->head + v->off;
			avail = v->head_len - v->off;
		} else if (v->off < v->head_len + v->cur->len) {
			src = (const char *)v->cur->data + (v->off - v->head_len);
			avail = v->head_len + v->cur->len - v->off;
		} else {
			src = &"\r\n"[v->off - v->head_len - v->cur->len];
			avail = total - v->off;
		}
		size_t n = avail < max - done ? avail : max - done;
		memcpy(buf + done, src, n);
		done += n;
		v->off += n;
	}
	if (v->off == total)
		view_jpeg_unref(&v->cur);
	return done;
}

static ssize_t mjpeg_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	mjpeg_viewer *v = cls;
	if (!v->cur) {
		int r = next_picture(v);
		if (r <= 0)
			return r < 0 ? MHD_CONTENT_READER_END_OF_STREAM : 0;
	}
	return (ssize_t)copy_part(v, buf, max);
}

static void mjpeg_free(void *cls)
{
	mjpeg_viewer *v = cls;
	view_jpeg_unref(&v->cur);
	free(v);
}

static enum MHD_Result serve_mjpeg(view_http *h, struct MHD_Connection *conn, int slot)
{
	if (pipe_metrics_server_stream_begin(h->srv, conn) < 0)
		return vh_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many viewers\n");
	mjpeg_viewer *v = calloc(1, sizeof(*v));
	if (!v)
		return vh_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	v->h = h;
	v->slot = slot;
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
	                                                           mjpeg_read, v, mjpeg_free);
	if (!r) {
		free(v);
		return MHD_NO;
	}
	enum MHD_Result ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                                              "multipart/x-mixed-replace; boundary=" BOUNDARY);
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (ret == MHD_YES)
		ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void unref_picture(void *cls)
{
	view_jpeg *j = cls;
	view_jpeg_unref(&j);
}

static enum MHD_Result serve_latest(view_http *h, struct MHD_Connection *conn, int slot)
{
	view_jpeg *j = view_live_wait(h->live, slot, 0, LATEST_WAIT_MS);
	if (!j)
		return vh_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no picture yet\n");
	char gen[24];
	snprintf(gen, sizeof(gen), "%llu", (unsigned long long)j->gen);
	/* The reference goes with the response: no copy of the picture. */
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
		j->len, j->data, unref_picture, j);
	if (!r) {
		view_jpeg_unref(&j);
		return MHD_NO;
	}
	enum MHD_Result ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "image/jpeg");
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, "X-Picture-Gen", gen);
	if (ret == MHD_YES)
		ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* path: "{id}/live.mjpeg" or "{id}/latest.jpg" (ids hold no '/': config.md). */
enum MHD_Result vh_serve_stream(view_http *h, struct MHD_Connection *conn, const char *path)
{
	const char *slash = strchr(path, '/');
	char id[64];
	size_t n = slash ? (size_t)(slash - path) : 0;
	if (!h->live || n == 0 || n >= sizeof(id))
		return vh_text(conn, MHD_HTTP_NOT_FOUND, "no such stream\n");
	memcpy(id, path, n);
	id[n] = '\0';
	int slot = view_live_find(h->live, id);
	int mjpeg = strcmp(slash, "/live.mjpeg") == 0, latest = strcmp(slash, "/latest.jpg") == 0;
	if (slot < 0 || !(mjpeg || latest))
		return vh_text(conn, MHD_HTTP_NOT_FOUND, "no such stream\n");
	return mjpeg ? serve_mjpeg(h, conn, slot) : serve_latest(h, conn, slot);
}

/* ---- snapshot files ---- */

/* 0 when path is a plain relative path: no empty, "." or ".." component (so not absolute),
 * no control byte, no '\\', and no '%' (the server leaves an encoded '/', '.', '\\' or NUL
 * encoded, so a '%' here is one of those or a name no snapshot has). */
static int check_path(const char *path)
{
	size_t len = strlen(path);
	if (len == 0 || len >= SNAP_PATH_MAX)
		return -1;
	for (const unsigned char *c = (const unsigned char *)path; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '\\' || *c == '%')
			return -1;
	for (const char *c = path;;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -1;
		c += n;
		if (*c == '\0')
			return 0;
		c++;
	}
}

/* Opens path under the folder dir one component at a time, none followed if it is a symlink
 * (O_NOFOLLOW: ELOOP), so a link inside the snapshot folder cannot lead out of it. */
static int open_beneath(const char *dir, char *path)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (char *c = path; fd >= 0;) {
		char *slash = strchr(c, '/');
		if (slash)
			*slash = '\0';
		int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (slash ? O_DIRECTORY : O_NONBLOCK);
		int next = openat(fd, c, flags);
		int err = errno;
		close(fd);
		if (next < 0)
			return -err;
		fd = next;
		if (!slash)
			return fd;
		c = slash + 1;
	}
	return -errno;
}

enum MHD_Result vh_serve_snapshot(view_http *h, struct MHD_Connection *conn, const char *path)
{
	const pipe_snapshot_cfg *sc = &h->cfg->snapshots;
	char rel[SNAP_PATH_MAX];
	if (!sc->present || !sc->dir)
		return vh_text(conn, MHD_HTTP_NOT_FOUND, "no snapshots\n");
	if (check_path(path) < 0)
		return vh_text(conn, MHD_HTTP_BAD_REQUEST, "bad snapshot path\n");
	snprintf(rel, sizeof(rel), "%s", path);
	int fd = open_beneath(sc->dir, rel);
	if (fd < 0)
		return fd == -ENOENT ? vh_text(conn, MHD_HTTP_NOT_FOUND, "no such snapshot\n")
		                     : vh_text(conn, MHD_HTTP_FORBIDDEN, "forbidden\n");
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vh_text(conn, MHD_HTTP_FORBIDDEN, "forbidden\n");
	}
	/* MHD owns fd once the response exists. */
	struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	size_t n = strlen(path);
	const char *type = n > 4 && strcmp(path + n - 4, ".jpg") == 0 ? "image/jpeg" : "application/octet-stream";
	enum MHD_Result ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (ret == MHD_YES)
		ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
