/* stdout sink: whole lines to fd 1, pushed out after every batch (and on tick), so a
 * pipe into jq sees messages promptly without one write(2) per message. A line counts
 * as sent once write(2) took it; a failed write (closed pipe, /dev/full) fails what was
 * buffered. stdout is never truncated: it may be shared with other writers. */
#include "outbuf_internal.h"
#include "sink.h"

#include <unistd.h>

#define STDOUT_BUF (64 * 1024)

typedef struct stdout_priv {
	sink_outbuf out;
} stdout_priv;

static int stdout_open(void *priv, const pipe_sink_cfg *cfg, const char *name)
{
	(void)cfg;
	(void)name;
	stdout_priv *p = priv;
	return sink_outbuf_init(&p->out, STDOUT_FILENO, STDOUT_BUF);
}

static int stdout_write(void *priv, const sink_msg *msg)
{
	stdout_priv *p = priv;
	return sink_outbuf_put(&p->out, msg->text, msg->len);
}

static int stdout_flush(void *priv)
{
	stdout_priv *p = priv;
	return sink_outbuf_flush(&p->out);
}

static void stdout_tick(void *priv) { stdout_flush(priv); }

static int stdout_settle(void *priv, sink_counters *ret)
{
	stdout_priv *p = priv;
	return sink_outbuf_settle(&p->out, ret);
}

static int stdout_connected(void *priv)
{
	stdout_priv *p = priv;
	return p->out.last_err == 0;
}

static void stdout_close(void *priv)
{
	stdout_priv *p = priv;
	if (p->out.buf)
		sink_outbuf_flush(&p->out);
	sink_outbuf_free(&p->out);
}

const sink_ops sink_stdout_ops = {
	.type = "stdout",
	.priv_size = sizeof(stdout_priv),
	.open = stdout_open,
	.write = stdout_write,
	.flush = stdout_flush,
	.close = stdout_close,
	.tick = stdout_tick,
	.settle = stdout_settle,
	.connected = stdout_connected,
	.auto_policy = PIPE_QP_BLOCK,
};
