/* file sink: JSON Lines to a file, never dropping (the dispatcher blocks for it).
 *
 * - mode append|truncate applies when the sink opens.
 * - rotate_mb > 0: before a line would take the file past rotate_mb MiB, the file is
 *   renamed path -> path.1 (path.1 -> path.2, ... up to path.5; the oldest beyond that
 *   is overwritten) and a new path is started. Rotation happens between lines only.
 * - flush_ms: lines are buffered and written out at most flush_ms after they arrived
 *   (checked on the ~100 ms tick, so the granularity is that tick); 0 writes every batch.
 * - close writes out the buffer and fsyncs the file.
 *
 * A line counts as sent once write(2) took all of it. A write that fails (disk full,
 * EFBIG, EIO) loses what was buffered: those lines count as failed, and a line the kernel
 * took only in part is cut off again, so the file always ends with a whole line and holds
 * exactly the lines counted sent.
 */
#include "outbuf_internal.h"
#include "sink.h"
#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "../pipeline/vp_time.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_BUF (256 * 1024)
#define ROTATE_KEEP 5    /* path.1 .. path.5 */

typedef struct file_priv {
	const char *name;
	const char *path;
	char *rot_from, *rot_to;  /* scratch for "path.N" names, sized at open */
	sink_outbuf out;
	int flags;                /* open(2) flags after the first open */
	int64_t rotate_bytes;     /* 0: never */
	int64_t size;             /* bytes in the current file, buffered ones included */
	int flush_ms;
	int64_t pending_since;    /* CLOCK_MONOTONIC ns when the buffer stopped being empty */
	bool reopen_logged;
} file_priv;

static int file_reopen(file_priv *p, int flags)
{
	int fd = open(p->path, flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	struct stat st;
	p->size = fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
	p->out.fd = fd;
	p->out.untear = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	p->out.last_err = 0;
	return 0;
}

static int file_open(void *priv, const pipe_sink_cfg *cfg, const char *name)
{
	file_priv *p = priv;
	p->name = name;
	p->out.fd = -1;
	if (!cfg->path || !*cfg->path) {
		vp_err("sink", name, "file sink without a path");
		return VP_ECONFIG;
	}
	p->path = cfg->path;
	p->rotate_bytes = cfg->rotate_mb > 0 ? (int64_t)cfg->rotate_mb << 20 : 0;
	p->flush_ms = cfg->flush_ms > 0 ? cfg->flush_ms : 0;
	size_t n = strlen(cfg->path) + 16;
	p->rot_from = malloc(n);
	p->rot_to = malloc(n);
	int err = p->rot_from && p->rot_to ? sink_outbuf_init(&p->out, -1, FILE_BUF) : -ENOMEM;
	if (err < 0)
		return err;
	/* Append after the first open in either mode: a reopen must not wipe what we wrote. */
	p->flags = O_APPEND;
	err = file_reopen(p, cfg->mode == PIPE_FILE_TRUNCATE ? O_TRUNC : O_APPEND);
	if (err < 0)
		vp_err("sink", name, "cannot open %s: %s", p->path, vp_strerror(err));
	return err;
}

/* After a failed write the lost lines were counted in size: take the file's own. */
static void file_resync_size(file_priv *p)
{
	struct stat st;
	if (fstat(p->out.fd, &st) == 0)
		p->size = (int64_t)st.st_size;
}

static int file_flush_now(file_priv *p)
{
	int err = sink_outbuf_flush(&p->out);
	p->pending_since = 0;
	if (err < 0)
		file_resync_size(p);
	return err;
}

/* Shifts path.N up by one and renames path to path.1 (a missing older file is fine). */
static int rotate_names(file_priv *p)
{
	size_t n = strlen(p->path) + 16;
	for (int i = ROTATE_KEEP - 1; i >= 0; i--) {
		if (i == 0)
			snprintf(p->rot_from, n, "%s", p->path);
		else
			snprintf(p->rot_from, n, "%s.%d", p->path, i);
		snprintf(p->rot_to, n, "%s.%d", p->path, i + 1);
		if (rename(p->rot_from, p->rot_to) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

static int file_rotate(file_priv *p)
{
	int err = file_flush_now(p);
	if (err < 0)
		return err;
	if (fsync(p->out.fd) < 0)
		vp_warn("sink", p->name, "fsync %s before rotation: %s", p->path, strerror(errno));
	if ((err = rotate_names(p)) < 0) {
		/* Keep writing to the full file rather than lose lines; retry after another
		 * rotate_mb so a stuck rename is not retried on every line. */
		vp_err("sink", p->name, "cannot rotate %s: %s", p->path, vp_strerror(err));
		p->size = 0;
		return 0;
	}
	close(p->out.fd);
	p->out.fd = -1;
	if ((err = file_reopen(p, O_TRUNC)) < 0)
		vp_err("sink", p->name, "cannot open %s after rotation: %s", p->path, vp_strerror(err));
	return err;
}

/* After a failed reopen the file is retried on each write, logged once per outage. */
static int file_ensure_open(file_priv *p)
{
	if (p->out.fd >= 0)
		return 0;
	int err = file_reopen(p, p->flags);
	if (err < 0 && !p->reopen_logged)
		vp_err("sink", p->name, "cannot open %s: %s", p->path, vp_strerror(err));
	p->reopen_logged = err < 0;
	return err;
}

static int file_write(void *priv, const sink_msg *msg)
{
	file_priv *p = priv;
	int err = file_ensure_open(p);
	if (err < 0)
		return err;
	if (p->rotate_bytes && p->size > 0 && p->size + (int64_t)msg->len > p->rotate_bytes) {
		if ((err = file_rotate(p)) < 0)
			return err;
	}
	if ((err = sink_outbuf_put(&p->out, msg->text, msg->len)) < 0) {
		file_resync_size(p);
		return err;
	}
	p->size += (int64_t)msg->len;
	if (p->out.len > 0 && p->pending_since == 0)
		p->pending_since = vp_mono_ns();
	return 0;
}

static int file_flush_due(file_priv *p)
{
	if (p->out.len == 0 || p->out.fd < 0)
		return 0;
	if (p->flush_ms && vp_mono_ns() - p->pending_since < (int64_t)p->flush_ms * 1000000)
		return 0;
	return file_flush_now(p);
}

static int file_flush(void *priv) { return file_flush_due(priv); }

/* A failure is reported by the dispatcher from the failed lines (rate-limited). */
static void file_tick(void *priv) { file_flush_due(priv); }

static int file_settle(void *priv, sink_counters *ret)
{
	file_priv *p = priv;
	return sink_outbuf_settle(&p->out, ret);
}

static int file_connected(void *priv)
{
	file_priv *p = priv;
	return p->out.fd >= 0 && p->out.last_err == 0;
}

static void file_close(void *priv)
{
	file_priv *p = priv;
	if (p->out.fd >= 0) {
		int err = file_flush_now(p);
		if (err < 0)
			vp_err("sink", p->name, "write to %s at close: %s", p->path, vp_strerror(err));
		/* EINVAL/EROFS: a pipe or device such as /dev/null has nothing to make durable. */
		if (fsync(p->out.fd) < 0 && errno != EINVAL && errno != EROFS)
			vp_err("sink", p->name, "fsync %s: %s", p->path, strerror(errno));
		close(p->out.fd);
		p->out.fd = -1;
	}
	sink_outbuf_free(&p->out);
	free(p->rot_from);
	free(p->rot_to);
}

const sink_ops sink_file_ops = {
	.type = "file",
	.priv_size = sizeof(file_priv),
	.open = file_open,
	.write = file_write,
	.flush = file_flush,
	.close = file_close,
	.tick = file_tick,
	.settle = file_settle,
	.connected = file_connected,
	.lossless = true,
};
