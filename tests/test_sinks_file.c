/* The file and stdout sinks run through the dispatcher on temporary files: modes,
 * rotation, flush interval, close, open errors, dead readers. */
#include "test_sinks_check.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>

/* fsync as the sink calls it: this definition in the test program wins over libc's for the
 * statically linked sink code; it records the path and size of the last file synced and
 * calls the real fsync. */
static pthread_mutex_t synced_lock = PTHREAD_MUTEX_INITIALIZER;
static char synced_path[PATH_MAX];
static off_t synced_size = -1;

int fsync(int fd)
{
	static int (*real_fsync)(int);
	if (!real_fsync)
		real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	struct stat st;
	if (n > 0 && fstat(fd, &st) == 0) {
		target[n] = 0;
		pthread_mutex_lock(&synced_lock);
		snprintf(synced_path, sizeof(synced_path), "%s", target);
		synced_size = st.st_size;
		pthread_mutex_unlock(&synced_lock);
	}
	return real_fsync(fd);
}

static sink_set *open_one(const pipe_sink_cfg *sc, pipe_config *cfg)
{
	*cfg = (pipe_config){ .sinks = (pipe_sink_cfg *)sc, .n_sinks = 1 };
	sink_set *s = NULL;
	assert_int_equal(sink_set_open(cfg, &s), 0);
	return s;
}

/* Frame messages ~1 KB each: 10 labelled detections. */
static void publish_frames(sink_set *s, int64_t first, int n)
{
	vp_det d[10];
	for (int i = 0; i < 10; i++)
		d[i] = (vp_det){ i % 3, 0.9f - i * 0.05f, { 100.5f + i, 200.25f, 300.75f, 400.0f + i } };
	for (int i = 0; i < n; i++) {
		vp_frame f = test_frame("cam-file", first + i);
		sink_msg *m;
		assert_int_equal(sink_msg_frame(&f, d, 10, coco3, 3, &m), 0);
		assert_int_equal(sink_set_publish(s, m), 0);
		sink_msg_unref(&m);
	}
}

/* Frame numbers of a checked JSONL file, appended to frames[*n]. */
static void collect_frames(const char *file, int64_t *frames, int *n)
{
	char **lines = check_file(file, 1);
	for (int i = 0; lines[i]; i++) {
		char *save, *tok = strtok_r(lines[i], " ", &save);
		assert_string_equal(tok, "F");
		strtok_r(NULL, " ", &save);
		frames[(*n)++] = atoll(strtok_r(NULL, " ", &save));
	}
	free_lines(lines);
}

static void assert_frames_run(const int64_t *frames, int n, int64_t first)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(frames[i], first + i);
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void test_file_sink_truncate_replaces_and_append_keeps(void **state)
{
	(void)state;
	char path[128];
	path_in_tmp(path, sizeof(path), "modes.jsonl");
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = path, .mode = PIPE_FILE_TRUNCATE };
	pipe_config cfg;
	for (int round = 0; round < 3; round++) {
		if (round == 2)
			sc.mode = PIPE_FILE_APPEND;
		sink_set *s = open_one(&sc, &cfg);
		publish_frames(s, round * 10, 10);
		sink_set_close(&s);
	}
	int64_t frames[64];
	int n = 0;
	collect_frames(path, frames, &n);
	/* round 1 truncated round 0; round 2 appended */
	assert_int_equal(n, 20);
	assert_frames_run(frames, n, 10);
	unlink(path);
}

static void test_file_sink_rotates_between_lines_without_loss(void **state)
{
	(void)state;
	char path[128], name[160];
	path_in_tmp(path, sizeof(path), "rot.jsonl");
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = path, .mode = PIPE_FILE_TRUNCATE,
	                     .rotate_mb = 1, .flush_ms = 1000 };
	pipe_config cfg;
	enum { N = 3500 };  /* ~3.4 MiB: path.3, path.2, path.1 and path */
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, 0, N);
	sink_set_close(&s);

	static int64_t frames[N];
	int n = 0;
	for (int i = 3; i >= 0; i--) {
		if (i)
			snprintf(name, sizeof(name), "%s.%d", path, i);
		else
			snprintf(name, sizeof(name), "%s", path);
		off_t sz = file_size(name);
		assert_true(sz > 0);
		assert_true(sz <= 1 << 20);
		if (i)
			assert_true(sz > (1 << 20) - 2048);  /* rotated only when the next line did not fit */
		collect_frames(name, frames, &n);
		unlink(name);
	}
	snprintf(name, sizeof(name), "%s.4", path);
	assert_int_equal(file_size(name), -1);
	assert_int_equal(n, N);
	assert_frames_run(frames, n, 0);
}

/* Appending counts what the file already holds towards rotate_mb. */
static void test_file_sink_append_rotates_a_nearly_full_file(void **state)
{
	(void)state;
	char path[128], old[160];
	path_in_tmp(path, sizeof(path), "full.jsonl");
	snprintf(old, sizeof(old), "%s.1", path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	static char filler[(1 << 20) - 200];
	memset(filler, ' ', sizeof(filler));
	filler[sizeof(filler) - 1] = '\n';
	assert_int_equal(fwrite(filler, 1, sizeof(filler), f), sizeof(filler));
	fclose(f);
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = path, .mode = PIPE_FILE_APPEND,
	                     .rotate_mb = 1 };
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, 0, 2);
	sink_set_close(&s);
	assert_int_equal(file_size(old), (off_t)sizeof(filler));
	int64_t frames[4];
	int n = 0;
	collect_frames(path, frames, &n);
	assert_int_equal(n, 2);
	assert_frames_run(frames, n, 0);
	unlink(path);
	unlink(old);
}

static void test_file_sink_keeps_five_rotated_files(void **state)
{
	(void)state;
	char path[128], name[160];
	path_in_tmp(path, sizeof(path), "keep.jsonl");
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = path, .mode = PIPE_FILE_TRUNCATE,
	                     .rotate_mb = 1, .flush_ms = 1000 };
	pipe_config cfg;
	enum { N = 7600 };  /* ~7.4 MiB: 7 rotations, the two oldest files are gone */
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, 0, N);
	sink_set_close(&s);

	static int64_t frames[N];
	int n = 0;
	for (int i = 5; i >= 0; i--) {
		if (i)
			snprintf(name, sizeof(name), "%s.%d", path, i);
		else
			snprintf(name, sizeof(name), "%s", path);
		collect_frames(name, frames, &n);
		unlink(name);
	}
	snprintf(name, sizeof(name), "%s.6", path);
	assert_int_equal(file_size(name), -1);
	/* what is kept is the newest, contiguous tail */
	assert_true(n > 5 * 1000 && n < N);
	assert_frames_run(frames, n, N - n);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wait_for_data(const char *path, double timeout_s)
{
	double t0 = now_s();
	while (file_size(path) <= 0 && now_s() - t0 < timeout_s)
		usleep(10000);
	return now_s() - t0;
}

static void test_file_sink_flushes_after_flush_ms(void **state)
{
	(void)state;
	char path[128];
	path_in_tmp(path, sizeof(path), "flush.jsonl");
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = path, .mode = PIPE_FILE_TRUNCATE,
	                     .flush_ms = 1500 };
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	double t0 = now_s();
	publish_frames(s, 0, 3);
	usleep(500000);
	assert_int_equal(file_size(path), 0);   /* held back: flush_ms not reached */
	double waited = wait_for_data(path, 5.0);
	double at = now_s() - t0;
	assert_true(file_size(path) > 0);
	assert_true(at >= 1.45);
	assert_true(waited < 4.0);
	int64_t frames[8];
	int n = 0;
	collect_frames(path, frames, &n);
	assert_int_equal(n, 3);   /* the whole batch went out together */
	sink_set_close(&s);

	/* flush_ms 0: every batch is written out at once */
	sc.flush_ms = 0;
	s = open_one(&sc, &cfg);
	publish_frames(s, 0, 1);
	assert_true(wait_for_data(path, 5.0) < 1.0);
	sink_set_close(&s);
	unlink(path);
}

static void test_file_sink_close_writes_and_syncs_everything(void **state)
{
	(void)state;
	char path[128];
	path_in_tmp(path, sizeof(path), "close.jsonl");
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = path, .mode = PIPE_FILE_TRUNCATE,
	                     .flush_ms = 600000 };
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, 0, 1000);
	pthread_mutex_lock(&synced_lock);
	synced_path[0] = 0;
	synced_size = -1;
	pthread_mutex_unlock(&synced_lock);
	sink_set_close(&s);
	/* Synced after the last byte went out: the file as closed is the file as synced. */
	char real[PATH_MAX];
	assert_non_null(realpath(path, real));
	assert_string_equal(synced_path, real);
	assert_int_equal(synced_size, file_size(path));
	int64_t frames[1000];
	int n = 0;
	collect_frames(path, frames, &n);
	assert_int_equal(n, 1000);
	assert_frames_run(frames, n, 0);
	unlink(path);
}

/* Points fd at file until restore_fd(); the log and stdout sink write to raw fds. */
static void redirect_fd(int fd, const char *file, int *saved)
{
	fflush(fd == 1 ? stdout : stderr);
	*saved = dup(fd);
	int t = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(*saved >= 0 && t >= 0);
	dup2(t, fd);
	close(t);
}

static void restore_fd(int fd, int saved)
{
	dup2(saved, fd);
	close(saved);
}

static void test_file_sink_open_error_names_the_path(void **state)
{
	(void)state;
	char log[128], path[160];
	path_in_tmp(log, sizeof(log), "stderr.txt");
	path_in_tmp(path, sizeof(path), "no-such-dir/out.jsonl");
	pipe_sink_cfg sc = { .type = PIPE_SINK_FILE, .path = path };
	pipe_config cfg = { .sinks = &sc, .n_sinks = 1 };
	sink_set *s = NULL;
	int saved;
	redirect_fd(2, log, &saved);
	int ret = sink_set_open(&cfg, &s);
	restore_fd(2, saved);
	assert_int_equal(ret, -ENOENT);
	assert_null(s);
	char text[1024] = "";
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	assert_non_null(strstr(text, path));
	unlink(log);
}

static void test_stdout_sink_writes_complete_lines(void **state)
{
	(void)state;
	char out[128];
	path_in_tmp(out, sizeof(out), "stdout.jsonl");
	pipe_sink_cfg sc = { .type = PIPE_SINK_STDOUT };
	pipe_config cfg;
	int saved;
	redirect_fd(1, out, &saved);
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, 0, 500);
	sink_msg *m;
	assert_int_equal(sink_msg_eos("cam-file", 500, 500, 0, 0, NULL, &m), 0);
	sink_set_publish(s, m);
	sink_msg_unref(&m);
	const char *name;
	sink_counters c;
	sink_set_counters(s, 0, &name, &c);
	int name_ok = strcmp(name, "stdout[0]") == 0;   /* name lives as long as the set */
	sink_set_close(&s);
	restore_fd(1, saved);
	assert_true(name_ok);
	char **lines = check_file(out, 1);
	assert_int_equal(count_lines(lines), 501);
	assert_int_equal(strncmp(lines[500], "E ", 2), 0);
	free_lines(lines);
	unlink(out);
}

/* A reader that went away must fail the writes (counted), not kill the process. */
static void test_stdout_sink_survives_a_closed_pipe(void **state)
{
	(void)state;
	enum { N = 300 };
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	fflush(stdout);
	int saved = dup(1);
	dup2(fds[1], 1);
	close(fds[1]);
	pipe_sink_cfg sc = { .type = PIPE_SINK_STDOUT };
	pipe_config cfg;
	sink_set *s = open_one(&sc, &cfg);
	publish_frames(s, 0, N);
	sink_counters c = { 0 };
	double t0 = now_s();
	while (c.sent + c.failed < N && now_s() - t0 < 5) {
		usleep(1000);
		sink_set_counters(s, 0, NULL, &c);
	}
	sink_set_close(&s);
	restore_fd(1, saved);
	assert_int_equal(c.sent + c.failed, N);
	assert_true(c.failed > 0);
	assert_int_equal(c.dropped, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_sink_truncate_replaces_and_append_keeps),
		cmocka_unit_test(test_file_sink_rotates_between_lines_without_loss),
		cmocka_unit_test(test_file_sink_append_rotates_a_nearly_full_file),
		cmocka_unit_test(test_file_sink_keeps_five_rotated_files),
		cmocka_unit_test(test_file_sink_flushes_after_flush_ms),
		cmocka_unit_test(test_file_sink_close_writes_and_syncs_everything),
		cmocka_unit_test(test_file_sink_open_error_names_the_path),
		cmocka_unit_test(test_stdout_sink_writes_complete_lines),
		cmocka_unit_test(test_stdout_sink_survives_a_closed_pipe),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
