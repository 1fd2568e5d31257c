/* fleet: in the pipeline file: defaults, the etcd list, the checks, an empty sources list
 * allowed only with fleet:, and the fleet's cameras appended by pipe_config_load_extra. */
#include "test_config_util.h"

static void test_config_fleet_defaults_and_one_etcd_url_as_a_scalar(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, "fleet: { node_id: a1, etcd: http://10.0.0.1:2379 }\n");
	assert_true(c->fleet.present);
	assert_int_equal(c->n_sources, 0);
	assert_int_equal(c->fleet.etcd.n, 1);
	assert_string_equal(c->fleet.etcd.v[0], "http://10.0.0.1:2379");
	assert_string_equal(c->fleet.node_id, "a1");
	assert_int_equal(c->fleet.capacity, 16);
	assert_int_equal(c->fleet.lease_ttl_s, 10);
	assert_string_equal(c->fleet.prefix, "/vapd");
	assert_int_equal(c->fleet.on_coordinator_loss, PIPE_COORD_STOP);
	unload(&l);
}

static void test_config_fleet_reads_every_key(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, LIVE_SOURCE
	                         "fleet:\n  etcd: [http://a:2379, http://b:2379]\n  node_id: gpu-7\n"
	                         "  capacity: 40\n  lease_ttl_s: 4\n  prefix: /site/north\n"
	                         "  on_coordinator_loss: keep\n");
	assert_int_equal(c->n_sources, 1);
	assert_int_equal(c->fleet.etcd.n, 2);
	assert_string_equal(c->fleet.etcd.v[1], "http://b:2379");
	assert_string_equal(c->fleet.node_id, "gpu-7");
	assert_int_equal(c->fleet.capacity, 40);
	assert_int_equal(c->fleet.lease_ttl_s, 4);
	assert_string_equal(c->fleet.prefix, "/site/north");
	assert_int_equal(c->fleet.on_coordinator_loss, PIPE_COORD_KEEP);
	unload(&l);
}

static void test_config_fleet_node_id_defaults_to_the_host_name(void **state)
{
	(void)state;
	loaded l;
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	pipe_config *c = load_ok(&l, "fleet: {}\n");
	assert_string_equal(c->fleet.node_id, host);
	unload(&l);
}

static void test_config_fleet_rejects_bad_values_with_positions(void **state)
{
	(void)state;
	expect_error("fleet: { etcd: [ftp://a:2379] }\n", "1:17: fleet.etcd[0]: 'ftp://a:2379' must be http://host:port "
	             "or https://host:port");
	expect_error("fleet: { etcd: [https://] }\n", "1:17: fleet.etcd[0]: 'https://' must be");
	expect_error("fleet: { etcd: [http://a:2379/v3] }\n", "1:17: fleet.etcd[0]: 'http://a:2379/v3' must be");
	expect_error("fleet: { etcd: [] }\n", "1:16: fleet.etcd: must have at least one entry");
	expect_error("fleet: { prefix: vapd }\n", "1:18: fleet.prefix: 'vapd' must start with '/'");
	expect_error("fleet: { prefix: /vapd/ }\n", "1:18: fleet.prefix: '/vapd/' must start with '/', not end with one");
	expect_error("fleet: { capacity: 0 }\n", "1:20: fleet.capacity: 0 is out of range 1..1024");
	expect_error("fleet: { lease_ttl_s: 1 }\n", "1:23: fleet.lease_ttl_s: 1 is out of range 2..600");
	expect_error("fleet: { node_id: 'a b' }\n", "1:19: fleet.node_id: 'a b' must be 1 to 64 letters");
	expect_error("fleet: { on_coordinator_loss: pause }\n", "1:31: fleet.on_coordinator_loss: 'pause' is not one of: stop, keep");
	expect_error("fleet: { nodes: 3 }\n", "1:10: fleet.nodes: unknown key; valid keys: etcd, node_id, capacity, "
	             "lease_ttl_s, prefix, on_coordinator_loss, tls, username, password_file");
}

/* TLS and etcd users: https members with a CA, a client certificate and a user. tls over
 * http:// would send nothing encrypted while the file says otherwise, so it is refused, as
 * is one half of a pair (cert/key, username/password_file). */
static void test_config_fleet_tls_and_user(void **state)
{
	(void)state;
	loaded l;
	pipe_config *c = load_ok(&l, "fleet:\n  etcd: [https://a:2379, https://b:2379]\n"
	                         "  tls: { ca_file: /etc/hostname, cert_file: /etc/hostname, key_file: /etc/hostname }\n"
	                         "  username: vapd\n  password_file: /etc/hostname\n");
	assert_string_equal(c->fleet.etcd.v[0], "https://a:2379");
	assert_string_equal(c->fleet.tls.ca_file, "/etc/hostname");
	assert_string_equal(c->fleet.tls.key_file, "/etc/hostname");
	assert_string_equal(c->fleet.username, "vapd");
	assert_string_equal(c->fleet.password_file, "/etc/hostname");
	unload(&l);
	/* A user over plain http is the operator's choice (etcd's own default); tls is not. */
	c = load_ok(&l, "fleet: { etcd: [http://a:2379], username: u, password_file: /etc/hostname }\n");
	assert_string_equal(c->fleet.username, "u");
	unload(&l);
	expect_error("fleet:\n  etcd: [https://a:2379, http://b:2379]\n  tls: { ca_file: /etc/hostname }\n",
	             "3:19: fleet.tls.ca_file: given, but the etcd member 'http://b:2379' is not https://");
	expect_error("fleet:\n  etcd: [https://a:2379]\n  tls: { cert_file: /etc/hostname }\n",
	             "3:21: fleet.tls.cert_file: needs fleet.tls.key_file too");
	expect_error("fleet:\n  etcd: [https://a:2379]\n  password_file: /etc/hostname\n",
	             "3:18: fleet.password_file: needs fleet.username too");
	expect_error("fleet:\n  tls: { ca_file: /no/such/ca.pem }\n", "2:19: fleet.tls.ca_file: ");
}

static void test_config_sources_stay_required_without_fleet(void **state)
{
	(void)state;
	expect_error("pipeline: { name: x }\n", "1:1: sources: missing required key\n");
	expect_error("sources: []\n", "1:10: sources: must have 1 to 256 entries, got 0\n");
	loaded l;
	load_ok(&l, "sources: []\nfleet: { node_id: a }\n");
	unload(&l);
}

static void test_config_load_extra_appends_the_fleet_cameras(void **state)
{
	(void)state;
	char path[] = "/tmp/vapd-fleet-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	const char *file = LIVE_SOURCE "fleet: { node_id: a }\n";
	assert_int_equal(write(fd, file, strlen(file)), (ssize_t)strlen(file));
	close(fd);
	pipe_config *c = NULL;
	assert_int_equal(pipe_config_load_extra(path, "fleet cameras",
	                                        "- id: cam2\n  uri: rtsp://h/2\n  interval: 5\n"
	                                        "- {id: cam3, uri: 'rtsp://h/3'}\n", stderr, &c), 0);
	assert_int_equal(c->n_sources, 3);
	assert_string_equal(c->sources[0].id, "cam1");
	assert_string_equal(c->sources[1].id, "cam2");
	assert_int_equal(c->sources[1].interval, 5);
	assert_string_equal(c->sources[2].uri, "rtsp://h/3");
	assert_int_equal(c->sources[2].queue.depth, 8);
	pipe_config_free(&c);
	/* A node may run more cameras (fleet.capacity, up to 1024) than a file may list (256). */
	char *many = NULL;
	size_t mlen = 0;
	FILE *m = open_memstream(&many, &mlen);
	for (int i = 0; i < 300; i++)
		fprintf(m, "- {id: r%d, uri: 'rtsp://h/%d'}\n", i, i);
	fclose(m);
	assert_int_equal(pipe_config_load_extra(path, "fleet cameras", many, stderr, &c), 0);
	assert_int_equal(c->n_sources, 301);
	assert_string_equal(c->sources[300].id, "r299");
	pipe_config_free(&c);
	free(many);
	/* The same id as the file's own source, and a bad value: reported under the extra's name. */
	char *errs = NULL;
	size_t len;
	FILE *err = open_memstream(&errs, &len);
	assert_int_equal(pipe_config_load_extra(path, "fleet cameras", "- {id: cam1, uri: rtsp://h/1}\n"
	                                        "- {id: cam4, uri: rtsp://h/4, interval: 0}\n", err, &c),
	                 VP_ECONFIG);
	fclose(err);
	assert_null(c);
	assert_non_null(strstr(errs, "sources[1].id: duplicate id 'cam1'"));
	assert_non_null(strstr(errs, "fleet cameras:2:"));
	assert_non_null(strstr(errs, "sources[2].interval: 0 is out of range"));
	free(errs);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_fleet_defaults_and_one_etcd_url_as_a_scalar),
		cmocka_unit_test(test_config_fleet_reads_every_key),
		cmocka_unit_test(test_config_fleet_node_id_defaults_to_the_host_name),
		cmocka_unit_test(test_config_fleet_rejects_bad_values_with_positions),
		cmocka_unit_test(test_config_fleet_tls_and_user),
		cmocka_unit_test(test_config_sources_stay_required_without_fleet),
		cmocka_unit_test(test_config_load_extra_appends_the_fleet_cameras),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
