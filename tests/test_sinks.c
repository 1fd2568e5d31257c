/* Messages (output-schema.md) checked by a real JSON parser, and the stdout and file sinks
 * run through the dispatcher on temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sinks/msg.h"
#include "sinks/sink.h"

/* Parses every line with Python's json module, validates the schema (key order and types,
 * decimals of pts/score/bbox as written, time format, descending scores, strict UTF-8) and
 * prints one token line per message for the C side to compare with what went in:
 *   F <stream hex> <frame> <pts> <time ms> <w> <h> <n> {<class> <label hex|-> <score> <bbox x4>}
 *   E <stream hex> <frames> <processed> <dropped> <errors>                                   */
static const char checker_py[] =
	"import sys, json, re, datetime\n"
	"def fail(n, m):\n"
	"    print('line %d: %s' % (n, m)); sys.exit(1)\n"
	"def isint(v): return type(v) is int\n"
	"def isnum(v): return type(v) in (int, float)\n"
	"def hx(s): return 'x' + s.encode('utf-8').hex()\n"
	"FK = ['stream', 'frame', 'pts', 'time', 'width', 'height', 'detections']\n"
	"EK = ['stream', 'eos', 'frames', 'processed', 'dropped', 'errors']\n"
	"epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)\n"
	"data = open(sys.argv[1], 'rb').read()\n"
	"if data and not data.endswith(b'\\n'): fail(0, 'last line not terminated')\n"
	"for n, raw in enumerate(data.split(b'\\n')[:-1], 1):\n"
	"    line = raw.decode('utf-8')\n"
	"    o = json.loads(line)\n"
	"    if 'eos' in o:\n"
	"        if list(o) != EK or o['eos'] is not True: fail(n, 'eos keys')\n"
	"        if not all(isint(o[k]) for k in EK[2:]): fail(n, 'eos counts')\n"
	"        print('E', hx(o['stream']), *[o[k] for k in EK[2:]])\n"
	"        continue\n"
	"    if list(o) != FK: fail(n, 'frame keys %s' % list(o))\n"
	"    if not (type(o['stream']) is str and isint(o['frame']) and isint(o['width'])\n"
	"            and isint(o['height']) and isnum(o['pts'])): fail(n, 'frame types')\n"
	"    if not re.search(r'\"pts\":-?\\d+\\.\\d{3}[,}]', line): fail(n, 'pts decimals')\n"
	"    if not re.fullmatch(r'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z', o['time']):\n"
	"        fail(n, 'time format')\n"
	"    t = datetime.datetime.strptime(o['time'], '%Y-%m-%dT%H:%M:%S.%fZ')\n"
	"    ms = round((t.replace(tzinfo=datetime.timezone.utc) - epoch).total_seconds() * 1000)\n"
	"    for s in re.findall(r'\"score\":([^,}]*)', line):\n"
	"        if not re.fullmatch(r'\\d\\.\\d{3}', s): fail(n, 'score decimals ' + s)\n"
	"    for b in re.findall(r'\"bbox\":\\[([^]]*)\\]', line):\n"
	"        if not all(re.fullmatch(r'-?\\d+\\.\\d', v) for v in b.split(',')): fail(n, 'bbox')\n"
	"    out = ['F', hx(o['stream']), o['frame'], repr(o['pts']), ms, o['width'], o['height'],\n"
	"           len(o['detections'])]\n"
	"    last = 2.0\n"
	"    for d in o['detections']:\n"
	"        if list(d) not in (['class_id', 'label', 'score', 'bbox'], ['class_id', 'score', 'bbox']):\n"
	"            fail(n, 'detection keys %s' % list(d))\n"
	"        if not (isint(d['class_id']) and isnum(d['score']) and 0 <= d['score'] <= 1):\n"
	"            fail(n, 'detection types')\n"
	"        if len(d['bbox']) != 4 or not all(isnum(v) for v in d['bbox']): fail(n, 'bbox')\n"
	"        if d['score'] > last: fail(n, 'detections not sorted by descending score')\n"
	"        last = d['score']\n"
	"        out += [d['class_id'], hx(d['label']) if 'label' in d else '-', repr(d['score'])]\n"
	"        out += [repr(v) for v in d['bbox']]\n"
	"    print(*out)\n";

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vapd-test-sinks-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* Runs the checker on file; returns its token lines (NULL-terminated, caller frees). */
static char **check_file(const char *file, int expect_ok)
{
	char script[128], cmd[512];
	path_in_tmp(script, sizeof(script), "checker.py");
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fputs(checker_py, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s' 2>&1", script, file);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t cap = 16, n = 0;
	char **lines = calloc(cap, sizeof(*lines));
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, p)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (n + 2 > cap)
			lines = realloc(lines, (cap *= 2) * sizeof(*lines));
		lines[n++] = strdup(line);
	}
	lines[n] = NULL;
	free(line);
	int rc = pclose(p);
	if (expect_ok && rc != 0)
		fail_msg("checker rejected %s: %s", file, n ? lines[n - 1] : "(no output)");
	return lines;
}

static int count_lines(char **lines)
{
	int n = 0;
	while (lines[n])
		n++;
	return n;
}

static void free_lines(char **lines)
{
	for (int i = 0; lines[i]; i++)
		free(lines[i]);
	free(lines);
}

static void hex_of(const char *s, char *out)
{
	*out++ = 'x';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		out += sprintf(out, "%02x", *p);
	*out = '\0';
}

static void write_msgs(const char *file, sink_msg **msgs, int n)
{
	FILE *f = fopen(file, "wb");
	assert_non_null(f);
	for (int i = 0; i < n; i++)
		assert_int_equal(fwrite(msgs[i]->text, 1, msgs[i]->len, f), msgs[i]->len);
	fclose(f);
}

static char **check_msgs(sink_msg **msgs, int n)
{
	char file[128];
	path_in_tmp(file, sizeof(file), "msgs.jsonl");
	write_msgs(file, msgs, n);
	char **lines = check_file(file, 1);
	assert_int_equal(count_lines(lines), n);
	return lines;
}

static vp_frame test_frame(const char *stream, int64_t index)
{
	return (vp_frame){ .stream_id = stream, .index = index, .pts = index / 25.0,
	                   .wall_us = 1764043201250000LL + index * 40000, .width = 1920,
	                   .height = 1080 };
}

/* Expected order by an independent selection: highest score first, ties in input order. */
static void expected_order(const vp_det *d, int n, int *order)
{
	int used[64] = { 0 };
	for (int k = 0; k < n; k++) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (!used[i] && (best < 0 || d[i].score > d[best].score))
				best = i;
		used[best] = 1;
		order[k] = best;
	}
}

static const char *const coco3[] = { "person", "bicycle", "car" };

static void test_msg_frame_parses_and_matches_inputs(void **state)
{
	(void)state;
	vp_det d[5] = {
		{ 2, 0.41f, { 10.04f, 20.06f, 30.25f, 40.5f } },
		{ 0, 0.912f, { 412.5f, 220.0f, 530.1f, 601.7f } },
		{ 1, 0.3005f, { 0, 0, 1919.96f, 1080 } },
		{ 0, 0.77f, { 1.0f, 2.0f, 3.0f, 4.0f } },
		{ 7, 0.55f, { 5, 6, 7, 8 } },   /* beyond the labels: no "label" key */
	};
	vp_frame f = test_frame("cam1", 1234);
	f.pts = 41.1334;
	sink_msg *m;
	assert_int_equal(sink_msg_frame(&f, d, 5, coco3, 3, &m), 0);
	assert_int_equal(m->eos, 0);
	assert_string_equal(m->stream, "cam1");
	assert_int_equal(strlen(m->text), m->len);
	assert_int_equal(m->text[m->len - 1], '\n');
	assert_null(memchr(m->text, '\n', m->len - 1));

	char **lines = check_msgs(&m, 1);
	char *save, *tok = strtok_r(lines[0], " ", &save);
	assert_string_equal(tok, "F");
	char hex[64];
	hex_of("cam1", hex);
	assert_string_equal(strtok_r(NULL, " ", &save), hex);
	assert_int_equal(atoll(strtok_r(NULL, " ", &save)), 1234);
	assert_true(fabs(strtod(strtok_r(NULL, " ", &save), NULL) - 41.133) < 1e-9);
	assert_int_equal(atoll(strtok_r(NULL, " ", &save)), f.wall_us / 1000);
	assert_int_equal(atoi(strtok_r(NULL, " ", &save)), 1920);
	assert_int_equal(atoi(strtok_r(NULL, " ", &save)), 1080);
	assert_int_equal(atoi(strtok_r(NULL, " ", &save)), 5);
	int order[5];
	expected_order(d, 5, order);
	for (int k = 0; k < 5; k++) {
		const vp_det *e = &d[order[k]];
		assert_int_equal(atoi(strtok_r(NULL, " ", &save)), e->class_id);
		const char *label = strtok_r(NULL, " ", &save);
		if (e->class_id < 3) {
			hex_of(coco3[e->class_id], hex);
			assert_string_equal(label, hex);
		} else {
			assert_string_equal(label, "-");
		}
		assert_true(fabs(strtod(strtok_r(NULL, " ", &save), NULL) - e->score) <= 0.0005 + 1e-6);
		for (int j = 0; j < 4; j++)
			assert_true(fabs(strtod(strtok_r(NULL, " ", &save), NULL) - e->bbox[j]) <= 0.05 + 1e-4);
	}
	assert_null(strtok_r(NULL, " ", &save));
	free_lines(lines);
	sink_msg_unref(&m);
	assert_null(m);
}

static void test_msg_without_labels_has_no_label_key(void **state)
{
	(void)state;
	vp_det d[2] = { { 0, 0.5f, { 1, 2, 3, 4 } }, { 2, 0.6f, { 5, 6, 7, 8 } } };
	vp_frame f = test_frame("cam2", 0);
	sink_msg *m;
	assert_int_equal(sink_msg_frame(&f, d, 2, NULL, 0, &m), 0);
	assert_null(strstr(m->text, "\"label\""));
	char **lines = check_msgs(&m, 1);
	/* F hex frame pts ms w h n | class label score x1 y1 x2 y2 | ... */
	char *tok[32];
	int nt = 0;
	char *save;
	for (char *t = strtok_r(lines[0], " ", &save); t && nt < 32; t = strtok_r(NULL, " ", &save))
		tok[nt++] = t;
	assert_int_equal(nt, 8 + 2 * 7);
	assert_string_equal(tok[8], "2");
	assert_string_equal(tok[9], "-");
	assert_string_equal(tok[15], "0");
	assert_string_equal(tok[16], "-");
	free_lines(lines);
	sink_msg_unref(&m);
}

static void test_msg_empty_detections_is_still_a_frame_message(void **state)
{
	(void)state;
	vp_frame f = test_frame("cam3", 7);
	f.wall_us = 0;
	f.pts = 0;
	sink_msg *m;
	assert_int_equal(sink_msg_frame(&f, NULL, 0, coco3, 3, &m), 0);
	char **lines = check_msgs(&m, 1);
	char hex[64], want[160];
	hex_of("cam3", hex);
	snprintf(want, sizeof(want), "F %s 7 0.0 0 1920 1080 0", hex);
	assert_string_equal(lines[0], want);
	free_lines(lines);
	sink_msg_unref(&m);
}

/* Each odd string must come back byte for byte after a JSON round trip. */
static void test_msg_escapes_odd_stream_ids_and_labels(void **state)
{
	(void)state;
	static const char *const odd[] = {
		"cam \"1\"", "back\\slash\\", "tab\tnl\nret\rbs\bff\f", "ctl\x01\x1f\x7f",
		"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xa5", "/slash/", "",
	};
	enum { N = sizeof(odd) / sizeof(odd[0]) };
	sink_msg *msgs[2 * N];
	vp_det d = { 0, 0.9f, { 1, 2, 3, 4 } };
	for (int i = 0; i < N; i++) {
		vp_frame f = test_frame(odd[i], i);
		const char *labels[1] = { odd[N - 1 - i] };
		assert_int_equal(sink_msg_frame(&f, &d, 1, labels, 1, &msgs[i]), 0);
		assert_int_equal(sink_msg_eos(odd[i], i, i, 0, 0, &msgs[N + i]), 0);
	}
	char **lines = check_msgs(msgs, 2 * N);
	for (int i = 0; i < N; i++) {
		char hs[128], hl[128], want[512];
		hex_of(odd[i], hs);
		hex_of(odd[N - 1 - i], hl);
		assert_non_null(strstr(lines[i], hs));
		snprintf(want, sizeof(want), " 1 0 %s 0.9 1.0 2.0 3.0 4.0", hl);
		assert_non_null(strstr(lines[i], want));
		snprintf(want, sizeof(want), "E %s %d %d 0 0", hs, i, i);
		assert_string_equal(lines[N + i], want);
		sink_msg_unref(&msgs[i]);
		sink_msg_unref(&msgs[N + i]);
	}
	free_lines(lines);
}

static void test_msg_invalid_utf8_becomes_replacement_character(void **state)
{
	(void)state;
	/* stray continuation, overlong '/', surrogate, truncated 3-byte sequence at the end */
	const char *bad = "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe6\x97";
	const char *want = "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
	                   "\xef\xbf\xbd" "d\xef\xbf\xbd\xef\xbf\xbd";
	sink_msg *m;
	assert_int_equal(sink_msg_eos(bad, 1, 1, 0, 0, &m), 0);
	char **lines = check_msgs(&m, 1);
	char hex[256], line[300];
	hex_of(want, hex);
	snprintf(line, sizeof(line), "E %s 1 1 0 0", hex);
	assert_string_equal(lines[0], line);
	free_lines(lines);
	sink_msg_unref(&m);
}

static void test_msg_sorts_by_descending_score_keeping_ties_in_order(void **state)
{
	(void)state;
	enum { N = 40 };
	vp_det d[N];
	srand(7);
	for (int i = 0; i < N; i++)
		d[i] = (vp_det){ i, (float)(rand() % 10) / 10.0f, { (float)i, 0, (float)i + 1, 1 } };
	vp_frame f = test_frame("sort", 1);
	sink_msg *m;
	assert_int_equal(sink_msg_frame(&f, d, N, NULL, 0, &m), 0);
	char **lines = check_msgs(&m, 1);
	int order[N];
	expected_order(d, N, order);
	char *save, *tok = strtok_r(lines[0], " ", &save);
	for (int i = 1; i < 8; i++)
		tok = strtok_r(NULL, " ", &save);
	assert_int_equal(atoi(tok), N);
	for (int k = 0; k < N; k++) {
		assert_int_equal(atoi(strtok_r(NULL, " ", &save)), order[k]);
		for (int j = 0; j < 6; j++)
			strtok_r(NULL, " ", &save);
	}
	free_lines(lines);
	sink_msg_unref(&m);
}

static void test_msg_eos_carries_all_counters(void **state)
{
	(void)state;
	sink_msg *m;
	assert_int_equal(sink_msg_eos("cam1", 9000, 8990, 10, 1LL << 40, &m), 0);
	assert_int_equal(m->eos, 1);
	assert_string_equal(m->stream, "cam1");
	sink_msg *r = sink_msg_ref(m);
	assert_ptr_equal(r, m);
	sink_msg_unref(&r);
	char **lines = check_msgs(&m, 1);
	char hex[16], want[96];
	hex_of("cam1", hex);
	snprintf(want, sizeof(want), "E %s 9000 8990 10 %lld", hex, 1LL << 40);
	assert_string_equal(lines[0], want);
	free_lines(lines);
	sink_msg_unref(&m);
}

static void test_msg_rounds_to_the_schema_decimals(void **state)
{
	(void)state;
	vp_det d = { 0, 0.99951f, { 0.04f, 0.05001f, 99.94f, 1079.99f } };
	vp_frame f = test_frame("r", 3);
	f.pts = 12.34567;
	f.wall_us = 1764043201999999LL;   /* truncated, not rounded, to milliseconds */
	sink_msg *m;
	assert_int_equal(sink_msg_frame(&f, &d, 1, NULL, 0, &m), 0);
	assert_non_null(strstr(m->text, "\"pts\":12.346,"));
	assert_non_null(strstr(m->text, "\"time\":\"2025-11-25T04:00:01.999Z\""));
	assert_non_null(strstr(m->text, "\"score\":1.000,"));
	assert_non_null(strstr(m->text, "\"bbox\":[0.0,0.1,99.9,1080.0]"));
	free_lines(check_msgs(&m, 1));
	sink_msg_unref(&m);
}

/* ---- sinks through the dispatcher ---- */

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
	sink_set_close(&s);
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
	assert_int_equal(sink_msg_eos("cam-file", 500, 500, 0, 0, &m), 0);
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
		cmocka_unit_test(test_msg_frame_parses_and_matches_inputs),
		cmocka_unit_test(test_msg_without_labels_has_no_label_key),
		cmocka_unit_test(test_msg_empty_detections_is_still_a_frame_message),
		cmocka_unit_test(test_msg_escapes_odd_stream_ids_and_labels),
		cmocka_unit_test(test_msg_invalid_utf8_becomes_replacement_character),
		cmocka_unit_test(test_msg_sorts_by_descending_score_keeping_ties_in_order),
		cmocka_unit_test(test_msg_eos_carries_all_counters),
		cmocka_unit_test(test_msg_rounds_to_the_schema_decimals),
		cmocka_unit_test(test_file_sink_truncate_replaces_and_append_keeps),
		cmocka_unit_test(test_file_sink_rotates_between_lines_without_loss),
		cmocka_unit_test(test_file_sink_keeps_five_rotated_files),
		cmocka_unit_test(test_file_sink_flushes_after_flush_ms),
		cmocka_unit_test(test_file_sink_close_writes_and_syncs_everything),
		cmocka_unit_test(test_file_sink_open_error_names_the_path),
		cmocka_unit_test(test_stdout_sink_writes_complete_lines),
		cmocka_unit_test(test_stdout_sink_survives_a_closed_pipe),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
