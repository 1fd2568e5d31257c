/* Messages (output-schema.md) checked by a real JSON parser: fields, escaping, order, EOS. */
#include "test_sinks_check.h"

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
		assert_int_equal(sink_msg_eos(odd[i], i, i, 0, 0, NULL, &msgs[N + i]), 0);
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
	assert_int_equal(sink_msg_eos(bad, 1, 1, 0, 0, NULL, &m), 0);
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
	assert_int_equal(sink_msg_eos("cam1", 9000, 8990, 10, 1LL << 40, NULL, &m), 0);
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

static void test_msg_eos_says_why_a_stream_gave_nothing(void **state)
{
	(void)state;
	sink_msg *m;
	assert_int_equal(sink_msg_eos("cam1", 0, 0, 0, 3, "no frames decoded", &m), 0);
	assert_string_equal(m->text, "{\"stream\":\"cam1\",\"eos\":true,\"frames\":0,\"processed\":0,"
	                    "\"dropped\":0,\"errors\":3,\"error\":\"no frames decoded\"}\n");
	char **lines = check_msgs(&m, 1);
	char hex[16], err[64], want[128];
	hex_of("cam1", hex);
	hex_of("no frames decoded", err);
	snprintf(want, sizeof(want), "E %s 0 0 0 3 %s", hex, err);
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
		cmocka_unit_test(test_msg_eos_says_why_a_stream_gave_nothing),
		cmocka_unit_test(test_msg_rounds_to_the_schema_decimals),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
