/* Sinks: every configured output gets its own bounded queue and thread, so a slow or
 * dead peer never stalls inference or the other sinks. */
#ifndef SINK_SINK_H
#define SINK_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../pipeline/config.h"
#include "msg.h"

typedef struct sink_counters { int64_t sent, dropped, failed, accepted; } sink_counters;

/* One output type. Called only from the sink's own thread (open/close from the thread
 * that creates/frees the set). A write that fails is counted; the sink decides whether
 * to reconnect.
 *
 * Accounting: every message handed to write ends as exactly one of sent (the kernel, or
 * the MQTT library's acknowledgement, took all of its bytes), dropped (given up on purpose
 * because the peer is too slow: write returns -ENOBUFS) or failed (any other error). A
 * write that returns 0 has taken the message; without a settle op it counts as sent at
 * once, with one it is pending until settle reports its outcome. Messages are JSON Lines
 * (sink_msg ends every message with its only '\n'), so buffered outcomes are counted in
 * lines. */
typedef struct sink_ops {
	const char *type;                 /* "stdout", "file", "socket", "mqtt" */
	size_t priv_size;
	/* priv is zeroed, priv_size bytes; cfg and name (for log lines) outlive the sink. */
	int (*open)(void *priv, const pipe_sink_cfg *cfg, const char *name);
	int (*write)(void *priv, const sink_msg *msg);
	/* May be NULL. Called after each batch of writes that emptied the queue (and once
	 * more after the final drain): the moment to push buffered lines out. A sink with its
	 * own flush policy (file: flush_ms) may defer to tick. */
	int (*flush)(void *priv);
	/* Always called, also after a failed open; must write out whatever is still buffered. */
	void (*close)(void *priv);
	/* May be NULL. Called roughly every 100 ms on the sink thread, also while idle,
	 * for time-based flushing, reconnects and keepalives. */
	void (*tick)(void *priv);
	/* Queue policy when the config says auto (PIPE_QP_AUTO here means block). */
	enum pipe_queue_policy auto_policy;
	/* May be NULL (write returning 0 means sent). Adds to *ret the outcomes (sent,
	 * failed) of messages taken by write since the last call; returns the error behind
	 * the last failure it adds, or 0. Called after writes, flushes, ticks and close. */
	int (*settle)(void *priv, sink_counters *ret);
	/* May be NULL (always up). 1 while the sink has a working peer or open file whose
	 * last write succeeded, 0 while it is down; read after each batch and tick. */
	int (*connected)(void *priv);
	/* Never drops: the queue blocks whatever the config says (file). */
	bool lossless;
} sink_ops;

/* Registry lookup by type name; NULL when unknown. */
const sink_ops *sink_ops_find(const char *type);
/* The registry name of a config sink type ("stdout", "file", ...); NULL when out of range. */
const char *sink_type_name(enum pipe_sink_type type);

typedef struct sink_set sink_set;

/* Queue depth used when the config gives none (depth <= 0). */
#define SINK_DEFAULT_DEPTH 1024

/* Opens every sink of cfg and starts their threads. cfg is borrowed and must outlive the set.
 * Queue policy auto becomes the sink type's auto_policy; lossless types always block. An
 * unknown type is VP_EUNSUP; a sink that fails to open fails the whole set (all closed). */
int sink_set_open(const pipe_config *cfg, sink_set **ret);

/* Queues msg on every sink (each takes its own reference; the caller keeps its own).
 * Blocks only on a sink whose policy is block and whose queue is full. */
int sink_set_publish(sink_set *s, sink_msg *msg);
int sink_set_count(const sink_set *s);
/* Name ("file[1]": type and index in the config; valid while the set lives) and counters
 * of sink i: accepted = queued by sink_set_publish; sent = delivered (see sink_ops);
 * dropped = evicted by drop_oldest or given up on a slow peer; failed = lost to an error
 * (or still undelivered when the sink closed). accepted - sent - dropped - failed is what
 * is queued or in flight; sink_set_close settles it to 0 (its last log line). Either out-pointer may be NULL. */
void sink_set_counters(const sink_set *s, int i, const char **name, sink_counters *ret);
/* 1 while sink i has a working peer or open file (sink_ops.connected), else 0. */
int sink_set_connected(const sink_set *s, int i);
/* Drains every queue, flushes and closes the sinks, joins threads, logs the counters. */
void sink_set_close(sink_set **s);

#endif
