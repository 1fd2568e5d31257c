#include "notify.h"
#include "vp_time.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

/* The notification socket and the watchdog belong to the process (systemd hands them in
 * the environment), so their state is process-wide like the log sink. Atomics keep
 * pipe_notify_watchdog() lock-free when several threads ping. */
static atomic_int g_inited;
static _Atomic uint64_t g_wd_usec;
static _Atomic uint64_t g_last_ping_ns;

int pipe_notify_init(void)
{
	uint64_t usec = 0;
	const char *s = getenv("NOTIFY_SOCKET");
	int managed = s && *s;
	/* unset_environment=0: a reload may call init again, and no child inherits the
	 * variables because vapd never forks. */
	if (!managed || sd_watchdog_enabled(0, &usec) <= 0)
		usec = 0;
	atomic_store(&g_wd_usec, usec);
	atomic_store(&g_last_ping_ns, 0);
	atomic_store(&g_inited, 1);
	return managed;
}

static void init_once(void)
{
	if (!atomic_load(&g_inited))
		pipe_notify_init();
}

uint64_t pipe_notify_watchdog_usec(void)
{
	init_once();
	return atomic_load(&g_wd_usec);
}

/* sd_notify() returns >0 when sent, 0 outside systemd, <0 on error. */
static int send_state(const char *state)
{
	int r = sd_notify(0, state);
	return r < 0 ? r : 0;
}

int pipe_notify_ready(void) { return send_state("READY=1\nSTATUS=running"); }
int pipe_notify_stopping(void) { return send_state("STOPPING=1\nSTATUS=stopping"); }

int pipe_notify_reloading(void)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
	         (unsigned long long)((uint64_t)vp_mono_ns() / 1000));
	return send_state(msg);
}

int pipe_notify_status(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A newline would start a new assignment in the datagram. */
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	char msg[sizeof(line) + 8];
	snprintf(msg, sizeof(msg), "STATUS=%s", line);
	return send_state(msg);
}

int pipe_notify_watchdog(void)
{
	init_once();
	uint64_t usec = atomic_load(&g_wd_usec);
	if (usec == 0)
		return 0;
	/* Half the interval (systemd's own advice) leaves room for one late ping. */
	uint64_t now = (uint64_t)vp_mono_ns(), half_ns = usec * 500;
	uint64_t last = atomic_load(&g_last_ping_ns);
	/* last == 0: never pinged since init. */
	if (last != 0 && now - last < half_ns)
		return 0;
	/* Only the thread that moves the timestamp pings; the others lost the race. */
	if (!atomic_compare_exchange_strong(&g_last_ping_ns, &last, now))
		return 0;
	int r = send_state("WATCHDOG=1");
	return r < 0 ? r : 1;
}
