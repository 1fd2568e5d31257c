/* The fleet's pure parts: base64 as etcd's gateway uses it, weighted rendezvous with caps
 * (balance, stability on join and leave, order independence), the claim/release plan, and
 * the key and camera-text helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/b64.h"
#include "fleet/fleet_priv.h"
#include "fleet/plan.h"
#include "fleet/rendezvous.h"

static void test_b64_matches_rfc4648_vectors(void **state)
{
	(void)state;
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (int i = 0; i < 7; i++) {
		char out[16], *dec = NULL;
		size_t n;
		assert_int_equal(b64_encoded_size(strlen(plain[i])), strlen(enc[i]) + 1);
		b64_encode(plain[i], strlen(plain[i]), out);
		assert_string_equal(out, enc[i]);
		assert_int_equal(b64_decode(enc[i], &dec, &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_string_equal(dec, plain[i]);
		free(dec);
	}
}

static void test_b64_round_trips_every_byte(void **state)
{
	(void)state;
	unsigned char bytes[256];
	for (int i = 0; i < 256; i++)
		bytes[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= 256; len += 37) {
		char *enc = malloc(b64_encoded_size(len)), *dec = NULL;
		size_t n;
		b64_encode(bytes, len, enc);
		assert_int_equal(b64_decode(enc, &dec, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, bytes, len);
		free(enc);
		free(dec);
	}
}

static void test_b64_refuses_what_etcd_never_sends(void **state)
{
	(void)state;
	static const char *const bad[] = { "Zg=", "Zg", "Z===", "Zm9v!", "Zm=v", "=Zm9", "Zg==Zg==", "Zm9\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *dec = NULL;
		size_t n;
		assert_int_equal(b64_decode(bad[i], &dec, &n), -EINVAL);
		assert_null(dec);
	}
}

/* ---- rendezvous ---- */

#define CAMS 600
static char cam_names[CAMS][16];
static const char *cams[CAMS];

static int setup_cams(void **state)
{
	(void)state;
	for (int i = 0; i < CAMS; i++) {
		snprintf(cam_names[i], sizeof(cam_names[i]), "cam%d", i);
		cams[i] = cam_names[i];
	}
	return 0;
}

static void count_by_node(const int *owner, int n, int *counts, int n_nodes)
{
	memset(counts, 0, (size_t)n_nodes * sizeof(int));
	for (int i = 0; i < n; i++)
		if (owner[i] >= 0)
			counts[owner[i]]++;
}

static void test_rendezvous_shares_follow_the_weights(void **state)
{
	(void)state;
	fl_node nodes[] = { { "a", 1000 }, { "b", 1000 }, { "c", 2000 } };
	int owner[CAMS], counts[3];
	assert_int_equal(fl_assign(cams, CAMS, nodes, 3, NULL, owner), 0);
	count_by_node(owner, CAMS, counts, 3);
	/* Expected 150, 150, 300; a few standard deviations of slack. */
	assert_in_range(counts[0], 110, 190);
	assert_in_range(counts[1], 110, 190);
	assert_in_range(counts[2], 250, 350);
}

static void test_rendezvous_ignores_list_order(void **state)
{
	(void)state;
	fl_node a[] = { { "n1", 500 }, { "n2", 500 }, { "n3", 500 } };
	fl_node b[] = { { "n3", 500 }, { "n1", 500 }, { "n2", 500 } };
	int oa[CAMS], ob[CAMS];
	assert_int_equal(fl_assign(cams, CAMS, a, 3, NULL, oa), 0);
	assert_int_equal(fl_assign(cams, CAMS, b, 3, NULL, ob), 0);
	for (int i = 0; i < CAMS; i++)
		assert_string_equal(a[oa[i]].id, b[ob[i]].id);
}

static void test_rendezvous_join_moves_only_to_the_new_node(void **state)
{
	(void)state;
	fl_node before[] = { { "n1", 1000 }, { "n2", 1000 }, { "n3", 1000 } };
	fl_node after[] = { { "n1", 1000 }, { "n2", 1000 }, { "n3", 1000 }, { "n4", 1000 } };
	int o1[CAMS], o2[CAMS], moved = 0;
	assert_int_equal(fl_assign(cams, CAMS, before, 3, NULL, o1), 0);
	assert_int_equal(fl_assign(cams, CAMS, after, 4, o1, o2), 0);
	for (int i = 0; i < CAMS; i++) {
		if (o1[i] == o2[i])
			continue;
		assert_string_equal(after[o2[i]].id, "n4");
		moved++;
	}
	assert_in_range(moved, CAMS / 4 - 40, CAMS / 4 + 40);
}

static void test_rendezvous_leave_moves_only_the_leavers_cameras(void **state)
{
	(void)state;
	fl_node before[] = { { "n1", 1000 }, { "n2", 1000 }, { "n3", 1000 } };
	fl_node after[] = { { "n1", 1000 }, { "n3", 1000 } };
	int o1[CAMS], o2[CAMS], cur[CAMS];
	assert_int_equal(fl_assign(cams, CAMS, before, 3, NULL, o1), 0);
	for (int i = 0; i < CAMS; i++)
		cur[i] = o1[i] == 0 ? 0 : o1[i] == 2 ? 1 : -1;    /* n2's cameras have no live owner */
	assert_int_equal(fl_assign(cams, CAMS, after, 2, cur, o2), 0);
	for (int i = 0; i < CAMS; i++)
		if (o1[i] != 1)
			assert_string_equal(after[o2[i]].id, before[o1[i]].id);
}

static void test_rendezvous_never_exceeds_a_cap(void **state)
{
	(void)state;
	fl_node nodes[] = { { "small", 10 }, { "big", 500 }, { "mid", 100 } };
	int owner[CAMS], counts[3];
	assert_int_equal(fl_assign(cams, CAMS, nodes, 3, NULL, owner), 0);
	count_by_node(owner, CAMS, counts, 3);
	assert_true(counts[0] <= 10 && counts[1] <= 500 && counts[2] <= 100);
	assert_int_equal(counts[0] + counts[1] + counts[2], CAMS);   /* 610 places for 600 */
	/* More cameras than room: the rest stay unassigned, and the nodes are full. */
	fl_node tiny[] = { { "x", 3 }, { "y", 2 } };
	assert_int_equal(fl_assign(cams, 10, tiny, 2, NULL, owner), 0);
	count_by_node(owner, 10, counts, 2);
	assert_int_equal(counts[0], 3);
	assert_int_equal(counts[1], 2);
	int unassigned = 0;
	for (int i = 0; i < 10; i++)
		unassigned += owner[i] < 0;
	assert_int_equal(unassigned, 5);
}

static void test_rendezvous_keeps_cameras_on_their_top_node_when_caps_bind(void **state)
{
	(void)state;
	/* Two nodes, exactly full: a third node's cameras arrive, and the cameras already on
	 * their best node stay where they are. */
	fl_node three[] = { { "n1", 200 }, { "n2", 200 }, { "n3", 200 } };
	fl_node two[] = { { "n1", 300 }, { "n2", 300 } };
	int o1[CAMS], o2[CAMS], cur[CAMS];
	assert_int_equal(fl_assign(cams, CAMS, three, 3, NULL, o1), 0);
	for (int i = 0; i < CAMS; i++)
		cur[i] = o1[i] < 2 ? o1[i] : -1;
	assert_int_equal(fl_assign(cams, CAMS, two, 2, cur, o2), 0);
	for (int i = 0; i < CAMS; i++) {
		assert_true(o2[i] >= 0);
		if (o1[i] < 2 && fl_score(cams[i], two[o1[i]].id, 300) >= fl_score(cams[i], two[!o1[i]].id, 300))
			assert_int_equal(o2[i], o1[i]);
	}
}

/* ---- plan ---- */

static void test_plan_claims_free_cameras_up_to_capacity(void **state)
{
	(void)state;
	fl_cam_view v[4] = {
		{ .target_is_me = 1 }, { .target_is_me = 1 }, { .target_is_me = 1 }, { .target_is_me = 0 },
	};
	enum fl_action a[4];
	assert_int_equal(fl_plan(v, 4, 2, 1, a), 2);
	assert_int_equal(a[0], FL_CLAIM);
	assert_int_equal(a[1], FL_CLAIM);
	assert_int_equal(a[2], FL_KEEP);
	assert_int_equal(a[3], FL_KEEP);
}

static void test_plan_waits_for_the_owner_to_release(void **state)
{
	(void)state;
	fl_cam_view v[1] = { { .target_is_me = 1, .claim = FL_CLAIM_OTHER } };
	enum fl_action a[1];
	assert_int_equal(fl_plan(v, 1, 10, 1, a), 0);
	assert_int_equal(a[0], FL_KEEP);
}

static void test_plan_releases_at_the_rate_limit(void **state)
{
	(void)state;
	fl_cam_view v[3];
	for (int i = 0; i < 3; i++)
		v[i] = (fl_cam_view){ .target_is_me = 0, .running = 1, .claim = FL_CLAIM_MINE };
	enum fl_action a[3];
	assert_int_equal(fl_plan(v, 3, 10, 1, a), 1);
	assert_int_equal(a[0], FL_RELEASE);
	assert_int_equal(a[1], FL_KEEP);
	assert_int_equal(fl_plan(v, 3, 10, 0, a), 0);
}

static void test_plan_counts_a_release_until_its_claim_is_gone(void **state)
{
	(void)state;
	/* Full, one camera moving away, one free camera ranked here: the free one waits, as the
	 * moving one's claim is held until its stream stopped. */
	fl_cam_view v[3] = {
		{ .target_is_me = 1, .running = 1, .claim = FL_CLAIM_MINE },
		{ .target_is_me = 0, .running = 1, .claim = FL_CLAIM_MINE },
		{ .target_is_me = 1, .claim = FL_CLAIM_NONE },
	};
	enum fl_action a[3];
	assert_int_equal(fl_plan(v, 3, 2, 1, a), 1);
	assert_int_equal(a[1], FL_RELEASE);
	assert_int_equal(a[2], FL_KEEP);
}

static void test_plan_drops_a_camera_whose_claim_is_lost_or_taken(void **state)
{
	(void)state;
	fl_cam_view v[3] = {
		{ .target_is_me = 1, .running = 1, .claim = FL_CLAIM_OTHER },
		{ .target_is_me = 0, .running = 1, .claim = FL_CLAIM_NONE },
		{ .target_is_me = 1, .running = 1, .claim = FL_CLAIM_NONE },  /* lease lost, keep mode */
	};
	enum fl_action a[3];
	assert_int_equal(fl_plan(v, 3, 10, 0, a), 3);
	assert_int_equal(a[0], FL_DROP);
	assert_int_equal(a[1], FL_DROP);
	assert_int_equal(a[2], FL_CLAIM);
}

static void test_plan_adopts_or_forgets_its_own_idle_claims(void **state)
{
	(void)state;
	fl_cam_view v[3] = {
		{ .target_is_me = 1, .claim = FL_CLAIM_MINE },
		{ .target_is_me = 0, .claim = FL_CLAIM_MINE },
		{ .target_is_me = 1, .claim = FL_CLAIM_MINE },
	};
	enum fl_action a[3];
	assert_int_equal(fl_plan(v, 3, 1, 0, a), 3);
	assert_int_equal(a[0], FL_ADOPT);
	assert_int_equal(a[1], FL_FORGET);
	assert_int_equal(a[2], FL_FORGET);    /* no room left: it goes to the next node */
}

static void test_plan_gives_capacity_to_its_own_claims_before_new_ones(void **state)
{
	(void)state;
	/* A claim created by a request that timed out is ours: it is run, not traded for a new one. */
	fl_cam_view v[2] = {
		{ .target_is_me = 1, .claim = FL_CLAIM_NONE },
		{ .target_is_me = 1, .claim = FL_CLAIM_MINE },
	};
	enum fl_action a[2];
	assert_int_equal(fl_plan(v, 2, 1, 0, a), 1);
	assert_int_equal(a[0], FL_KEEP);
	assert_int_equal(a[1], FL_ADOPT);
}

static void test_plan_keeps_what_it_should_run(void **state)
{
	(void)state;
	fl_cam_view v[2] = {
		{ .target_is_me = 1, .running = 1, .claim = FL_CLAIM_MINE },
		{ .target_is_me = 1, .running = 1, .claim = FL_CLAIM_MINE },
	};
	enum fl_action a[2];
	/* Over capacity after fleet.capacity was lowered: running cameras are not dropped for it. */
	assert_int_equal(fl_plan(v, 2, 1, 5, a), 0);
}

/* ---- keys and camera texts ---- */

static void test_keys_are_built_and_parsed_back(void **state)
{
	(void)state;
	char *k = fl_key("/vapd", "claims", "cam1");
	assert_string_equal(k, "/vapd/claims/cam1");
	assert_string_equal(fl_key_id(k, "/vapd", "claims"), "cam1");
	assert_null(fl_key_id(k, "/vapd", "cameras"));
	assert_null(fl_key_id(k, "/vap", "claims"));
	assert_null(fl_key_id("/vapd/claims/", "/vapd", "claims"));
	assert_null(fl_key_id("/vapd/claims/a/b", "/vapd", "claims"));
	free(k);
	k = fl_key("/site/a", "", NULL);
	assert_string_equal(k, "/site/a/");
	free(k);
	k = fl_key("/vapd", "nodes", NULL);
	assert_string_equal(k, "/vapd/nodes/");
	free(k);
}

/* A file item running here stays here when the assignment moves it, and nothing is
 * pending for it; a live camera beside it moves. */
static void test_plan_never_moves_a_running_file_item(void **state)
{
	(void)state;
	fl_cam_view v[3] = {
		{ .target_is_me = 0, .running = 1, .claim = FL_CLAIM_MINE, .work_item = 1 },
		{ .target_is_me = 0, .running = 1, .claim = FL_CLAIM_MINE },
		{ .target_is_me = 1, .running = 0, .claim = FL_CLAIM_OTHER, .work_item = 1 },
	};
	enum fl_action a[3];
	assert_int_equal(fl_plan(v, 3, 4, 5, a), 1);
	assert_int_equal(a[0], FL_KEEP);
	assert_int_equal(a[1], FL_RELEASE);
	assert_int_equal(a[2], FL_KEEP);
	/* Its claim taken or gone while not ours to run: stopped as any camera. */
	v[0].claim = FL_CLAIM_OTHER;
	assert_int_equal(fl_plan(v, 1, 4, 5, a), 1);
	assert_int_equal(a[0], FL_DROP);
}

/* A file item's done mark and checkpoint: the done key sorts after the cameras (the agent's binary search and
 * read order rely on it) and its value says who did it under which epoch. */
static void test_done_mark_key_and_value(void **state)
{
	(void)state;
	char *k = fl_key("/vapd", "done", "clip1");
	char *cam = fl_key("/vapd", "cameras", "zz"), *claim = fl_key("/vapd", "claims", "zz");
	assert_string_equal(k, "/vapd/done/clip1");
	assert_string_equal(fl_key_id(k, "/vapd", "done"), "clip1");
	assert_true(strcmp(cam, k) < 0 && strcmp(claim, k) < 0);
	char *v = fl_done_value("node-a", 42, 120, 0, 50);
	assert_string_equal(v, "{\"node\":\"node-a\",\"epoch\":42,\"frames\":120,\"errors\":0,\"resumed_at\":50}");
	free(v);
	/* The checkpoint reads back; anything unreadable starts the item over. */
	v = fl_progress_value("node-b", 7, 75);
	assert_string_equal(v, "{\"frame\":75,\"node\":\"node-b\",\"epoch\":7}");
	assert_int_equal(fl_progress_frame(v), 75);
	assert_int_equal(fl_progress_frame("{\"frame\":-3}"), 0);
	assert_int_equal(fl_progress_frame("not json"), 0);
	free(v);
	free(k);
	free(cam);
	free(claim);
}

static void test_list_item_indents_block_and_flow_maps(void **state)
{
	(void)state;
	char *a = fl_list_item("id: cam1\nuri: rtsp://h/1\nqueue:\n  depth: 4\n");
	assert_string_equal(a, "- id: cam1\n  uri: rtsp://h/1\n  queue:\n    depth: 4\n");
	char *b = fl_list_item("{\"id\": \"cam2\", \"uri\": \"rtsp://h/2\"}");
	assert_string_equal(b, "- {\"id\": \"cam2\", \"uri\": \"rtsp://h/2\"}\n");
	char *text = NULL;
	assert_true(asprintf(&text, "sources:\n%s%s", a, b) > 0);
	pipe_config *cfg = NULL;
	assert_int_equal(pipe_config_load_text("t", text, stderr, &cfg), 0);
	assert_int_equal(cfg->n_sources, 2);
	assert_string_equal(cfg->sources[0].id, "cam1");
	assert_int_equal(cfg->sources[0].queue.depth, 4);
	assert_string_equal(cfg->sources[1].uri, "rtsp://h/2");
	pipe_config_free(&cfg);
	free(text);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_matches_rfc4648_vectors),
		cmocka_unit_test(test_b64_round_trips_every_byte),
		cmocka_unit_test(test_b64_refuses_what_etcd_never_sends),
		cmocka_unit_test(test_rendezvous_shares_follow_the_weights),
		cmocka_unit_test(test_rendezvous_ignores_list_order),
		cmocka_unit_test(test_rendezvous_join_moves_only_to_the_new_node),
		cmocka_unit_test(test_rendezvous_leave_moves_only_the_leavers_cameras),
		cmocka_unit_test(test_rendezvous_never_exceeds_a_cap),
		cmocka_unit_test(test_rendezvous_keeps_cameras_on_their_top_node_when_caps_bind),
		cmocka_unit_test(test_plan_claims_free_cameras_up_to_capacity),
		cmocka_unit_test(test_plan_waits_for_the_owner_to_release),
		cmocka_unit_test(test_plan_releases_at_the_rate_limit),
		cmocka_unit_test(test_plan_counts_a_release_until_its_claim_is_gone),
		cmocka_unit_test(test_plan_drops_a_camera_whose_claim_is_lost_or_taken),
		cmocka_unit_test(test_plan_adopts_or_forgets_its_own_idle_claims),
		cmocka_unit_test(test_plan_gives_capacity_to_its_own_claims_before_new_ones),
		cmocka_unit_test(test_plan_keeps_what_it_should_run),
		cmocka_unit_test(test_keys_are_built_and_parsed_back),
		cmocka_unit_test(test_plan_never_moves_a_running_file_item),
		cmocka_unit_test(test_done_mark_key_and_value),
		cmocka_unit_test(test_list_item_indents_block_and_flow_maps),
	};
	return cmocka_run_group_tests(tests, setup_cams, NULL);
}
