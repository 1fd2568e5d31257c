/* Waiting on an observed condition instead of sleeping a guessed time: on the loaded
 * 2-core machine the suite runs on, a thread can stay unscheduled for hundreds of ms, so
 * "sleep 30 ms, then it has surely blocked" is a race. These helpers poll a condition with
 * a generous deadline; the deadline only bounds a failing run, a passing one returns as
 * soon as the condition holds.
 *
 * Two conditions the code under test does not expose are read from /proc:
 * - a thread of this process is asleep in the kernel (blocked on a futex, a socket, a
 *   pipe): state S in /proc/self/task/TID/stat;
 * - a listening TCP socket's accept queue: rx_queue of its row in /proc/net/tcp(6). */
#ifndef TESTS_TEST_WAIT_H
#define TESTS_TEST_WAIT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* What a wait allows before the test fails: far above any spread measured here. */
enum { TW_DEADLINE_MS = 10000 };

static inline int64_t tw_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void tw_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Polls cond(arg) every millisecond until it holds (1) or timeout_ms pass (0). */
static inline int tw_wait(int (*cond)(void *), void *arg, int timeout_ms)
{
	for (int64_t end = tw_now_ms() + timeout_ms;; tw_sleep_ms(1)) {
		if (cond(arg))
			return 1;
		if (tw_now_ms() > end)
			return cond(arg);
	}
}

static inline pid_t tw_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* 1 when thread tid of this process is asleep (state S), 0 otherwise (running, runnable,
 * not started or gone). */
static inline int tw_thread_sleeping(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');   /* the name in (...) may hold spaces */
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Waits until thread *tid (0: not known yet, it publishes its own id) is asleep. A thread
 * that sleeps is where a test wants it: blocked in the call under test, since the test
 * threads do nothing else that waits. */
static inline int tw_wait_thread_sleeping(volatile pid_t *tid, int timeout_ms)
{
	for (int64_t end = tw_now_ms() + timeout_ms;; tw_sleep_ms(1)) {
		pid_t t = __atomic_load_n(tid, __ATOMIC_ACQUIRE);
		if (t && tw_thread_sleeping(t))
			return 1;
		if (tw_now_ms() > end)
			return 0;
	}
}

/* Connections waiting in the accept queue of the TCP socket listening on port, or -1 when
 * no socket listens there. */
static inline int tw_listen_queue(int port)
{
	static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(tables[i], "r");
		if (!f)
			continue;
		char line[512];
		unsigned local_port, state, rx, tx;
		while (fgets(line, sizeof(line), f)) {
			/* "  sl  local_address rem_address   st tx_queue:rx_queue ..." */
			if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %x:%x", &local_port,
			           &state, &tx, &rx) == 4 &&
			    local_port == (unsigned)port && state == 0x0A) {
				fclose(f);
				return (int)rx;
			}
		}
		fclose(f);
	}
	return -1;
}

#endif
