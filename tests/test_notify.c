/* sd_notify datagrams, read back from a real AF_UNIX socket standing in for systemd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pipeline/notify.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct fixture {
	int fd;
	char dir[32];
	char path[96];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vapd-notify-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%.31s/notify.sock", f->dir);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", f->path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	free(f);
	return 0;
}

/* One datagram as a string, or NULL-terminated empty when nothing arrives in timeout_ms. */
static int recv_msg(fixture *f, char *buf, size_t size, int timeout_ms)
{
	struct pollfd p = { .fd = f->fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0) {
		buf[0] = '\0';
		return 0;
	}
	ssize_t n = recv(f->fd, buf, size - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	return 1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void test_notify_ready_sends_ready_datagram(void **state)
{
	fixture *f = *state;
	char buf[512];
	assert_int_equal(pipe_notify_init(), 1);
	assert_int_equal(pipe_notify_ready(), 0);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 1000), 1);
	assert_non_null(strstr(buf, "READY=1"));
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 50), 0);
}

static void test_notify_status_formats_one_line(void **state)
{
	fixture *f = *state;
	char buf[512];
	pipe_notify_init();
	assert_int_equal(pipe_notify_status("%d streams, %.1f fps\nsecond", 3, 29.5), 0);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 1000), 1);
	/* The embedded newline must not start a second assignment. */
	assert_string_equal(buf, "STATUS=3 streams, 29.5 fps second");
}

static void test_notify_stopping_and_reloading(void **state)
{
	fixture *f = *state;
	char buf[512];
	pipe_notify_init();
	assert_int_equal(pipe_notify_stopping(), 0);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 1000), 1);
	assert_non_null(strstr(buf, "STOPPING=1"));

	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long before = (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
	assert_int_equal(pipe_notify_reloading(), 0);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 1000), 1);
	assert_non_null(strstr(buf, "RELOADING=1"));
	const char *m = strstr(buf, "MONOTONIC_USEC=");
	assert_non_null(m);
	unsigned long long usec = strtoull(m + strlen("MONOTONIC_USEC="), NULL, 10);
	assert_true(usec >= before && usec < before + 5000000ull);
}

static void test_notify_watchdog_rate_limited_to_half_interval(void **state)
{
	fixture *f = *state;
	char buf[512], pid[32];
	setenv("WATCHDOG_USEC", "1000000", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(pipe_notify_init(), 1);
	assert_int_equal(pipe_notify_watchdog_usec(), 1000000);

	assert_int_equal(pipe_notify_watchdog(), 1);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 1000), 1);
	assert_string_equal(buf, "WATCHDOG=1");
	/* Within 500 ms (half of 1 s) further calls stay silent; the margin absorbs a
	 * busy machine. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(pipe_notify_watchdog(), 0);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 50), 0);

	sleep_ms(520);
	assert_int_equal(pipe_notify_watchdog(), 1);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 1000), 1);
	assert_string_equal(buf, "WATCHDOG=1");
}

static void test_notify_watchdog_ignored_for_other_pid(void **state)
{
	fixture *f = *state;
	char buf[512];
	/* WATCHDOG_PID names another process: the watchdog is not ours to feed. */
	setenv("WATCHDOG_USEC", "400000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	pipe_notify_init();
	assert_int_equal(pipe_notify_watchdog_usec(), 0);
	assert_int_equal(pipe_notify_watchdog(), 0);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 50), 0);
}

static void test_notify_outside_systemd_is_silent_noop(void **state)
{
	fixture *f = *state;
	char buf[512];
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "400000", 1);
	assert_int_equal(pipe_notify_init(), 0);
	assert_int_equal(pipe_notify_ready(), 0);
	assert_int_equal(pipe_notify_status("x"), 0);
	assert_int_equal(pipe_notify_stopping(), 0);
	assert_int_equal(pipe_notify_reloading(), 0);
	assert_int_equal(pipe_notify_watchdog_usec(), 0);
	assert_int_equal(pipe_notify_watchdog(), 0);
	assert_int_equal(recv_msg(f, buf, sizeof(buf), 50), 0);
}

static void test_notify_reports_dead_socket_as_error(void **state)
{
	fixture *f = *state;
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/absent.sock", f->dir);
	setenv("NOTIFY_SOCKET", missing, 1);
	pipe_notify_init();
	int r = pipe_notify_ready();
	assert_true(r < 0);
	assert_true(r == -ENOENT || r == -ECONNREFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notify_ready_sends_ready_datagram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_status_formats_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_stopping_and_reloading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_watchdog_rate_limited_to_half_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_watchdog_ignored_for_other_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_outside_systemd_is_silent_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_reports_dead_socket_as_error, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
