/* vapd fleet: edits and shows the fleet's desired state in etcd (cameras) and what the
 * nodes report (nodes, claims). Entries are checked as sources[] maps before they are stored. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_secret.h"
#include "fleet_priv.h"

enum { EXIT_USAGE = 2, HELP_SHOWN = 3 };   /* parse_args: --help printed, exit 0 */

static void usage(FILE *out)
{
	fputs("usage: vapd fleet [--etcd URL | --config FILE] [--prefix PREFIX] [TLS, AUTH] COMMAND\n"
	      "\n"
	      "  add ENTRY     add or replace a camera; ENTRY is a sources[] map in YAML or JSON,\n"
	      "                e.g. '{id: gate1, uri: rtsp://10.0.0.5/stream1}'\n"
	      "  remove ID...  remove cameras (their nodes stop them), file items' marks too\n"
	      "  list          the cameras' entries, as a file import reads (a file item has a\n"
	      "                '# ID done: ...' or '# ID progress: ...' comment before its entry)\n"
	      "  import FILE   add every entry of FILE's sources: list (a pipeline file or a list)\n"
	      "  status        nodes (capacity, cameras run) and every camera's owner and epoch,\n"
	      "                (a file item's checkpoint), or \"done\" with frames, node and epoch\n"
	      "\n"
	      "  --etcd URL    an etcd client URL, http:// or https:// (default $VAPD_ETCD or\n"
	      "                http://127.0.0.1:2379)\n"
	      "  --prefix P    the fleet's key prefix (default /vapd)\n"
	      "  --config FILE a node's pipeline file: its fleet: section gives all of the above and\n"
	      "                below (the first etcd URL); flags given too override it\n"
	      "  --cacert FILE CA certificates (PEM) to verify an https member\n"
	      "  --cert FILE --key FILE   client certificate and key (etcd --client-cert-auth)\n"
	      "  --user NAME --password-file FILE   etcd user (auth enabled); the password is the\n"
	      "                file's first line\n",
	      out);
}

/* Checks entry as one sources[] map; *ret_id: its id (malloc'ed). */
static int entry_id(const char *entry, char **ret_id)
{
	char *item = fl_list_item(entry), *text = NULL;
	pipe_config *cfg = NULL;
	int rc = -ENOMEM;
	if (item && asprintf(&text, "sources:\n%s", item) >= 0)
		rc = pipe_config_load_text("entry", text, stderr, &cfg);
	if (rc == 0 && cfg->n_sources != 1)
		rc = VP_ECONFIG;
	if (rc == 0 && !(*ret_id = strdup(cfg->sources[0].id)))
		rc = -ENOMEM;
	pipe_config_free(&cfg);
	free(item);
	free(text);
	return rc;
}

static int put_entry(etcd *e, const char *prefix, const char *entry)
{
	char *id = NULL, *key = NULL, *done = NULL, *ck = NULL;
	int rc = entry_id(entry, &id);
	if (rc < 0)
		return rc;
	if (!(key = fl_key(prefix, "cameras", id)) || !(done = fl_key(prefix, "done", id)) ||
	    !(ck = fl_key(prefix, "progress", id)))
		rc = -ENOMEM;
	/* Adding a file item again runs it again from its start: its done mark and checkpoint
	 * go first, else a node could see the new entry with the old mark and skip it. */
	else if ((rc = etcd_delete(e, done, 0)) >= 0 && (rc = etcd_delete(e, ck, 0)) >= 0 &&
	         (rc = etcd_put(e, key, entry, 0)) == 0)
		printf("added %s\n", id);
	free(id);
	free(key);
	free(done);
	free(ck);
	return rc;
}

/* The text of one node of buf, its continuation lines moved left by the node's column. */
static char *node_text(const char *buf, const yaml_node_t *node)
{
	size_t a = node->start_mark.index, b = node->end_mark.index, col = node->start_mark.column;
	char *out = malloc(b - a + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = a; i < b; i++) {
		*o++ = buf[i];
		if (buf[i] != '\n')
			continue;
		for (size_t k = 0; k < col && i + 1 < b && buf[i + 1] == ' '; k++)
			i++;
	}
	while (o > out && (o[-1] == '\n' || o[-1] == ' '))
		o--;
	*o = '\0';
	return out;
}

static yaml_node_t *sources_list(yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (root && root->type == YAML_SEQUENCE_NODE)
		return root;
	if (!root || root->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, "sources") == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static int import_file(etcd *e, const char *prefix, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "vapd fleet: cannot open %s\n", path);
		return -ENOENT;
	}
	FILE *m = open_memstream(&buf, &len);
	int c;
	while (m && (c = getc(f)) != EOF)
		putc(c, m);
	fclose(f);
	if (!m)
		return -ENOMEM;
	fclose(m);
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = VP_ECONFIG, added = 0;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		fprintf(stderr, "%s:%zu: %s\n", path, parser.problem_mark.line + 1, parser.problem);
		goto done_parser;
	}
	yaml_node_t *list = sources_list(&doc);
	if (!list || list->type != YAML_SEQUENCE_NODE) {
		fprintf(stderr, "%s: no sources: list\n", path);
		goto done;
	}
	rc = 0;
	for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
		char *entry = node_text(buf, yaml_document_get_node(&doc, *it));
		int r = entry ? put_entry(e, prefix, entry) : -ENOMEM;
		free(entry);
		if (r < 0)
			rc = r;
		else
			added++;
	}
	printf("imported %d camera(s) from %s\n", added, path);
done:
	yaml_document_delete(&doc);
done_parser:
	yaml_parser_delete(&parser);
	free(buf);
	return rc;
}

static const etcd_kv *find(const etcd_kvs *kvs, const char *prefix, const char *kind, const char *id)
{
	for (int i = 0; i < kvs->n; i++) {
		const char *k = fl_key_id(kvs->v[i].key, prefix, kind);
		if (k && strcmp(k, id) == 0)
			return &kvs->v[i];
	}
	return NULL;
}

static int list_cameras(etcd *e, const char *prefix)
{
	etcd_kvs kvs = { 0 };
	/* Everything: cameras, and the done marks and checkpoints sorted after them. */
	char *folder = fl_key(prefix, "", NULL);
	int rc = folder ? etcd_range_prefix(e, folder, &kvs) : -ENOMEM;
	/* As a file `vapd fleet import` reads back; a file item's mark is a comment. */
	if (rc == 0)
		printf("sources:\n");
	for (int i = 0; rc == 0 && i < kvs.n; i++) {
		const char *id = fl_key_id(kvs.v[i].key, prefix, "cameras");
		if (!id)
			continue;
		const etcd_kv *d = find(&kvs, prefix, "done", id), *ck = find(&kvs, prefix, "progress", id);
		char *item = fl_list_item(kvs.v[i].value);
		if (!item)
			rc = -ENOMEM;
		else if ((d && printf("# %s done: %s\n", id, d->value) < 0) ||
		         (!d && ck && printf("# %s progress: %s\n", id, ck->value) < 0) || fputs(item, stdout) < 0)
			rc = -EIO;
		free(item);
	}
	etcd_kvs_clear(&kvs);
	free(folder);
	return rc;
}

static int status(etcd *e, const char *prefix)
{
	etcd_kvs kvs = { 0 };
	char *folder = fl_key(prefix, "", NULL);
	int rc = folder ? etcd_range_prefix(e, folder, &kvs) : -ENOMEM;
	free(folder);
	if (rc < 0)
		return rc;
	int n_nodes = 0, n_cams = 0, n_claimed = 0, n_done = 0;
	for (int i = 0; i < kvs.n; i++) {
		n_nodes += fl_key_id(kvs.v[i].key, prefix, "nodes") != NULL;
		n_cams += fl_key_id(kvs.v[i].key, prefix, "cameras") != NULL;
		n_done += fl_key_id(kvs.v[i].key, prefix, "done") != NULL;
	}
	printf("nodes: %d\n", n_nodes);
	for (int i = 0; i < kvs.n; i++) {
		const char *id = fl_key_id(kvs.v[i].key, prefix, "nodes");
		if (!id)
			continue;
		int owns = 0;
		for (int k = 0; k < kvs.n; k++)
			owns += fl_key_id(kvs.v[k].key, prefix, "claims") && strcmp(kvs.v[k].value, id) == 0;
		printf("  %-20s owns %3d  %s\n", id, owns, kvs.v[i].value);
	}
	for (int i = 0; i < kvs.n; i++)
		n_claimed += fl_key_id(kvs.v[i].key, prefix, "claims") != NULL;
	/* The line as before file items when none is done: scripts read it. */
	if (n_done)
		printf("cameras: %d (%d claimed, %d file item(s) done)\n", n_cams, n_claimed, n_done);
	else
		printf("cameras: %d (%d claimed)\n", n_cams, n_claimed);
	for (int i = 0; i < kvs.n; i++) {
		const char *id = fl_key_id(kvs.v[i].key, prefix, "cameras");
		if (!id)
			continue;
		const etcd_kv *claim = find(&kvs, prefix, "claims", id);
		const etcd_kv *done = find(&kvs, prefix, "done", id);
		const etcd_kv *ck = find(&kvs, prefix, "progress", id);
		if (done)
			printf("  %-20s %-20s %s\n", id, "done", done->value);
		else if (claim)
			printf("  %-20s %-20s epoch %lld%s%s\n", id, claim->value, (long long)claim->create_rev,
			       ck ? "  progress " : "", ck ? ck->value : "");
		else if (ck)
			printf("  %-20s %-20s progress %s\n", id, "-", ck->value);
		else
			printf("  %-20s %-20s\n", id, "-");
	}
	etcd_kvs_clear(&kvs);
	return 0;
}

static int run(etcd *e, const char *prefix, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "add") == 0 && argc == 2)
		return put_entry(e, prefix, argv[1]);
	if (strcmp(cmd, "import") == 0 && argc == 2)
		return import_file(e, prefix, argv[1]);
	if (strcmp(cmd, "list") == 0 && argc == 1)
		return list_cameras(e, prefix);
	if (strcmp(cmd, "status") == 0 && argc == 1)
		return status(e, prefix);
	if (strcmp(cmd, "remove") == 0 && argc >= 2) {
		int rc = 0;
		for (int i = 1; i < argc && rc >= 0; i++) {
			char *key = fl_key(prefix, "cameras", argv[i]), *done = fl_key(prefix, "done", argv[i]);
			char *ck = fl_key(prefix, "progress", argv[i]);
			rc = key && done && ck ? etcd_delete(e, key, 0) : -ENOMEM;
			/* A file item's done mark and checkpoint go with it: added again, it runs again. */
			int rd = rc >= 0 ? etcd_delete(e, done, 0) : 0;
			if (rd >= 0 && rc >= 0)
				rd = etcd_delete(e, ck, 0);
			rc = rd < 0 ? rd : rc;
			free(key);
			free(done);
			free(ck);
			if (rc == 0)
				fprintf(stderr, "vapd fleet: no camera %s\n", argv[i]);
			else if (rc > 0)
				printf("removed %s\n", argv[i]);
		}
		return rc < 0 ? rc : 0;
	}
	return EXIT_USAGE;
}

/* Where and how the CLI reaches etcd: --config's fleet: section, then the flags over it. */
typedef struct cli_conn {
	const char *url, *prefix, *password_file;
	etcd_opts o;
	pipe_config *cfg;         /* --config, kept while its strings are used */
} cli_conn;

static int use_config(cli_conn *k, const char *path)
{
	if (pipe_config_load(path, stderr, &k->cfg) < 0)
		return VP_ECONFIG;
	const pipe_fleet_cfg *f = &k->cfg->fleet;
	if (!f->present) {
		fprintf(stderr, "vapd fleet: %s has no fleet: section\n", path);
		return VP_ECONFIG;
	}
	k->url = f->etcd.v[0];
	k->prefix = f->prefix;
	k->o.ca_file = f->tls.ca_file;
	k->o.cert_file = f->tls.cert_file;
	k->o.key_file = f->tls.key_file;
	k->o.user = f->username;
	k->password_file = f->password_file;
	return 0;
}

static int parse_args(int argc, char **argv, cli_conn *k)
{
	static const struct option longopts[] = {
		{ "etcd", required_argument, NULL, 'e' },   { "prefix", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' }, { "cacert", required_argument, NULL, 'A' },
		{ "cert", required_argument, NULL, 'C' },   { "key", required_argument, NULL, 'K' },
		{ "user", required_argument, NULL, 'u' },   { "password-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	int c, rc;
	/* --config first, whatever its place: the other flags override it. */
	optind = 1;
	while ((c = getopt_long(argc, argv, "+hc:", longopts, NULL)) != -1)
		if (c == 'c' && (rc = use_config(k, optarg)) < 0)
			return rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+hc:", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': k->url = optarg; break;
		case 'p': k->prefix = optarg; break;
		case 'c': break;
		case 'A': k->o.ca_file = optarg; break;
		case 'C': k->o.cert_file = optarg; break;
		case 'K': k->o.key_file = optarg; break;
		case 'u': k->o.user = optarg; break;
		case 'P': k->password_file = optarg; break;
		case 'h': usage(stdout); return HELP_SHOWN;
		default: return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return EXIT_USAGE;
	size_t plen = strlen(k->prefix);
	/* As fleet.prefix: keys are prefix + "/nodes/" + id. */
	if (k->prefix[0] != '/' || plen < 2 || k->prefix[plen - 1] == '/') {
		fprintf(stderr, "vapd fleet: --prefix must start with '/' and not end with one\n");
		return VP_ECONFIG;
	}
	if (!k->o.user != !k->password_file || !k->o.cert_file != !k->o.key_file) {
		fprintf(stderr, "vapd fleet: --user needs --password-file, --cert needs --key (and each the other)\n");
		return VP_ECONFIG;
	}
	return 0;
}

int fleet_cli(int argc, char **argv)
{
	cli_conn k = { .url = getenv("VAPD_ETCD"), .prefix = "/vapd", .o.timeout_ms = 5000 };
	char password[256] = "";
	etcd *e = NULL;
	if (!k.url || !*k.url)
		k.url = "http://127.0.0.1:2379";
	int rc = parse_args(argc, argv, &k);
	if (rc == 0 && k.password_file && (rc = vp_read_secret(k.password_file, password, sizeof(password))) < 0) {
		fprintf(stderr, "vapd fleet: %s: %s\n", k.password_file,
		        rc == VP_ECONFIG ? "the first line is empty (or too long)" : vp_strerror(rc));
		rc = VP_ECONFIG;
	}
	k.o.password = k.o.user ? password : NULL;
	if (rc == 0 && (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || etcd_new(&k.url, 1, &k.o, &e) < 0))
		rc = -ENOMEM;
	memset(password, 0, sizeof(password));
	if (rc == 0)
		rc = run(e, k.prefix, argc - optind, argv + optind);
	etcd_free(&e);
	pipe_config_free(&k.cfg);
	if (rc == HELP_SHOWN)
		return 0;
	if (rc == EXIT_USAGE) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (rc < 0 && rc != VP_ECONFIG)
		fprintf(stderr, "vapd fleet: %s: %s\n", k.url, vp_strerror(rc));
	return rc == VP_ECONFIG ? EXIT_USAGE : rc < 0 ? 1 : 0;
}
