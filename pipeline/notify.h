/* Service-manager notifications (sd_notify). Every call is a no-op returning 0 when the
 * process was not started by systemd (no NOTIFY_SOCKET), so the pipeline calls them
 * unconditionally. Errors are negative errno codes; the caller logs them. */
#ifndef PIPE_NOTIFY_H
#define PIPE_NOTIFY_H

#include <stdint.h>

/* (Re)reads NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID and resets the watchdog rate
 * limit. Call once at start-up; the other calls do it lazily when it was not called.
 * Returns 1 under a service manager, 0 otherwise. */
int pipe_notify_init(void);
/* Watchdog interval systemd asked for, in microseconds; 0 when the watchdog is off. */
uint64_t pipe_notify_watchdog_usec(void);

/* READY=1: after the model is loaded and every source opened, and again after a reload. */
int pipe_notify_ready(void);
/* STATUS=...: one line shown by `systemctl status`. */
int pipe_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* WATCHDOG=1, sent at most once per half watchdog interval however often it is called,
 * so the engine loop may call it every batch. Returns 1 when a ping was sent. */
int pipe_notify_watchdog(void);
/* STOPPING=1: at the start of a graceful shutdown. */
int pipe_notify_stopping(void);
/* RELOADING=1 with MONOTONIC_USEC (required by Type=notify-reload): at the start of a
 * SIGHUP reload; pipe_notify_ready() ends it. */
int pipe_notify_reloading(void);

#endif
