/* Shared by the sinks test files: a temporary directory per test group, and a checker that
 * parses JSON Lines with Python's json module and validates output-schema.md. Functions are
 * static inline so each test file takes only what it uses. */
#ifndef TEST_SINKS_CHECK_H
#define TEST_SINKS_CHECK_H

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
 *   E <stream hex> <frames> <processed> <dropped> <errors> [<error hex>]                     */
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
	"        if list(o) not in (EK, EK + ['error']) or o['eos'] is not True: fail(n, 'eos keys')\n"
	"        if not all(isint(o[k]) for k in EK[2:]): fail(n, 'eos counts')\n"
	"        if type(o.get('error', '')) is not str: fail(n, 'eos error')\n"
	"        print('E', hx(o['stream']), *[o[k] for k in EK[2:]], *([hx(o['error'])] if 'error' in o else []))\n"
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

static inline int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vapd-test-sinks-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int teardown_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static inline void path_in_tmp(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* Runs the checker on file; returns its token lines (NULL-terminated, caller frees). */
static inline char **check_file(const char *file, int expect_ok)
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

static inline int count_lines(char **lines)
{
	int n = 0;
	while (lines[n])
		n++;
	return n;
}

static inline void free_lines(char **lines)
{
	for (int i = 0; lines[i]; i++)
		free(lines[i]);
	free(lines);
}

static inline void hex_of(const char *s, char *out)
{
	*out++ = 'x';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		out += sprintf(out, "%02x", *p);
	*out = '\0';
}

static inline void write_msgs(const char *file, sink_msg **msgs, int n)
{
	FILE *f = fopen(file, "wb");
	assert_non_null(f);
	for (int i = 0; i < n; i++)
		assert_int_equal(fwrite(msgs[i]->text, 1, msgs[i]->len, f), msgs[i]->len);
	fclose(f);
}

static inline char **check_msgs(sink_msg **msgs, int n)
{
	char file[128];
	path_in_tmp(file, sizeof(file), "msgs.jsonl");
	write_msgs(file, msgs, n);
	char **lines = check_file(file, 1);
	assert_int_equal(count_lines(lines), n);
	return lines;
}

static inline vp_frame test_frame(const char *stream, int64_t index)
{
	return (vp_frame){ .stream_id = stream, .index = index, .pts = index / 25.0,
	                   .wall_us = 1764043201250000LL + index * 40000, .width = 1920,
	                   .height = 1080 };
}

/* Expected order by an independent selection: highest score first, ties in input order. */
static inline void expected_order(const vp_det *d, int n, int *order)
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

#endif
