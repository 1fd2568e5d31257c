/* vp_log_auto_journal(): journal mode only when stderr is the stream JOURNAL_STREAM names,
 * checked with stderr on a real socket, as systemd hands it to a service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pipeline/vp_log.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
	int saved_stderr;
	int peer;                     /* other end of the socket now on fd 2 */
	char journal_stream[64];
} fixture;

/* Puts one end of a socket pair on fd 2, like systemd's StandardError=journal. */
static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	int sv[2];
	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fflush(stderr);
	f->saved_stderr = dup(2);
	assert_true(dup2(sv[0], 2) == 2);
	close(sv[0]);
	f->peer = sv[1];
	struct stat st;
	assert_int_equal(fstat(2, &st), 0);
	snprintf(f->journal_stream, sizeof(f->journal_stream), "%llu:%llu",
	         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	vp_log_set_journal(0);
	vp_log_set_level(VP_LOG_INFO);
	unsetenv("JOURNAL_STREAM");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	close(f->peer);
	unsetenv("JOURNAL_STREAM");
	vp_log_set_journal(0);
	free(f);
	return 0;
}

static void read_logged(fixture *f, char *buf, size_t size)
{
	fflush(stderr);
	struct pollfd p = { .fd = f->peer, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 1000), 1);
	ssize_t n = read(f->peer, buf, size - 1);
	assert_true(n > 0);
	buf[n] = '\0';
}

static void test_journal_on_when_stream_matches_stderr(void **state)
{
	fixture *f = *state;
	char buf[256];
	setenv("JOURNAL_STREAM", f->journal_stream, 1);
	assert_int_equal(vp_log_auto_journal(), 1);
	vp_warn("decode", "cam1", "lost %d packets", 3);
	read_logged(f, buf, sizeof(buf));
	/* Priority prefix for journald, no timestamp: the journal adds its own. */
	assert_string_equal(buf, "<4>[decode cam1] lost 3 packets\n");
}

static void test_journal_off_when_stream_is_another_file(void **state)
{
	fixture *f = *state;
	char buf[256], other[64];
	unsigned long long dev, ino;
	assert_int_equal(sscanf(f->journal_stream, "%llu:%llu", &dev, &ino), 2);
	/* Started by systemd, then stderr redirected elsewhere: keep plain lines. */
	snprintf(other, sizeof(other), "%llu:%llu", dev, ino + 1);
	setenv("JOURNAL_STREAM", other, 1);
	assert_int_equal(vp_log_auto_journal(), 0);
	vp_info("sink", NULL, "opened");
	read_logged(f, buf, sizeof(buf));
	assert_non_null(strstr(buf, " info  [sink] opened\n"));
	assert_int_not_equal(buf[0], '<');
}

static void test_journal_off_without_or_with_malformed_variable(void **state)
{
	fixture *f = *state;
	char bad[96];
	assert_int_equal(vp_log_auto_journal(), 0);
	const char *fixed[] = { "", "abc", "12", "12:", ":34" };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		setenv("JOURNAL_STREAM", fixed[i], 1);
		assert_int_equal(vp_log_auto_journal(), 0);
	}
	snprintf(bad, sizeof(bad), "%s:7", f->journal_stream);   /* trailing garbage */
	setenv("JOURNAL_STREAM", bad, 1);
	assert_int_equal(vp_log_auto_journal(), 0);
	snprintf(bad, sizeof(bad), "%sx", f->journal_stream);
	setenv("JOURNAL_STREAM", bad, 1);
	assert_int_equal(vp_log_auto_journal(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_journal_on_when_stream_matches_stderr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_off_when_stream_is_another_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_off_without_or_with_malformed_variable, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
