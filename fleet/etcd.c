/* etcd v3 requests over its JSON gateway (the transport: etcd_http.c). Keys and values travel base64-encoded; 64-bit numbers come
 * as JSON strings ("revision": "12") and fields equal to zero are left out. */
#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "b64.h"
#include "etcd_priv.h"

static int64_t jint(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* A base64 JSON string of s. */
static json_t *b64_json(const char *s, size_t n)
{
	char *enc = malloc(b64_encoded_size(n));
	if (!enc)
		return NULL;
	b64_encode(s, n, enc);
	json_t *j = json_string(enc);
	free(enc);
	return j;
}

/* The range end that covers every key starting with prefix: the prefix with its last byte
 * incremented (etcd's convention). */
static json_t *prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix);
	if (!end || !n) {
		free(end);
		return b64_json("\0", 1);
	}
	end[n - 1]++;
	json_t *j = b64_json(end, n);
	free(end);
	return j;
}

int etcd_lease_grant(etcd *e, int ttl_s, int64_t *ret_id)
{
	json_t *res = NULL;
	int rc = etcd_post(e, "/v3/lease/grant", json_pack("{sI}", "TTL", (json_int_t)ttl_s), &res);
	if (rc < 0)
		return rc;
	*ret_id = jint(res, "ID");
	rc = *ret_id ? 0 : -EIO;
	json_decref(res);
	return rc;
}

int etcd_lease_keepalive(etcd *e, int64_t id, int *ret_ttl)
{
	char sid[32];
	snprintf(sid, sizeof(sid), "%lld", (long long)id);
	json_t *res = NULL;
	int rc = etcd_post(e, "/v3/lease/keepalive", json_pack("{ss}", "ID", sid), &res);
	if (rc < 0)
		return rc;
	/* A lease that is gone answers with TTL 0 (left out of the JSON). */
	int64_t ttl = jint(json_object_get(res, "result"), "TTL");
	json_decref(res);
	if (ret_ttl)
		*ret_ttl = (int)ttl;
	return ttl > 0 ? 0 : -ENOENT;
}

int etcd_lease_revoke(etcd *e, int64_t id)
{
	char sid[32];
	snprintf(sid, sizeof(sid), "%lld", (long long)id);
	return etcd_post(e, "/v3/lease/revoke", json_pack("{ss}", "ID", sid), NULL);
}

static json_t *put_request(const char *key, const char *value, int64_t lease)
{
	json_t *r = json_pack("{s:o, s:o}", "key", b64_json(key, strlen(key)), "value",
	                      b64_json(value, strlen(value)));
	if (r && lease) {
		char sid[32];
		snprintf(sid, sizeof(sid), "%lld", (long long)lease);
		json_object_set_new(r, "lease", json_string(sid));
	}
	return r;
}

int etcd_put(etcd *e, const char *key, const char *value, int64_t lease)
{
	return etcd_post(e, "/v3/kv/put", put_request(key, value, lease), NULL);
}

static char *decode_field(const json_t *obj, const char *name)
{
	const char *s = json_string_value(json_object_get(obj, name));
	char *out = NULL;
	size_t n;
	if (b64_decode(s ? s : "", &out, &n) < 0)
		return NULL;
	return out;
}

static int read_kv(const json_t *j, etcd_kv *kv)
{
	*kv = (etcd_kv){ .key = decode_field(j, "key"), .value = decode_field(j, "value"),
	                 .create_rev = jint(j, "create_revision"), .mod_rev = jint(j, "mod_revision"),
	                 .lease = jint(j, "lease") };
	if (!kv->key || !kv->value) {
		etcd_kv_clear(kv);
		return -EIO;
	}
	return 0;
}

static int read_kvs(json_t *res, etcd_kvs *out)
{
	json_t *kvs = json_object_get(res, "kvs");
	size_t n = json_array_size(kvs);
	*out = (etcd_kvs){ .rev = jint(json_object_get(res, "header"), "revision") };
	if (n && !(out->v = calloc(n, sizeof(*out->v))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rc = read_kv(json_array_get(kvs, i), &out->v[out->n]);
		if (rc < 0) {
			etcd_kvs_clear(out);
			return rc;
		}
		out->n++;
	}
	return 0;
}

int etcd_range_prefix(etcd *e, const char *prefix, etcd_kvs *ret)
{
	json_t *res = NULL;
	int rc = etcd_post(e, "/v3/kv/range", json_pack("{s:o, s:o}", "key", b64_json(prefix, strlen(prefix)),
	                                            "range_end", prefix_end(prefix)), &res);
	if (rc < 0)
		return rc;
	rc = read_kvs(res, ret);
	json_decref(res);
	return rc;
}

int etcd_get(etcd *e, const char *key, etcd_kv *ret)
{
	json_t *res = NULL;
	int rc = etcd_post(e, "/v3/kv/range", json_pack("{s:o}", "key", b64_json(key, strlen(key))), &res);
	if (rc < 0)
		return rc;
	json_t *kvs = json_object_get(res, "kvs");
	rc = json_array_size(kvs) ? read_kv(json_array_get(kvs, 0), ret) : -ENOENT;
	json_decref(res);
	return rc;
}

int etcd_delete(etcd *e, const char *key, int prefix)
{
	json_t *req = json_pack("{s:o}", "key", b64_json(key, strlen(key)));
	if (req && prefix)
		json_object_set_new(req, "range_end", prefix_end(key));
	json_t *res = NULL;
	int rc = etcd_post(e, "/v3/kv/deleterange", req, &res);
	if (rc < 0)
		return rc;
	rc = (int)jint(res, "deleted");
	json_decref(res);
	return rc;
}

/* One compare on the key's create revision, one request on success; 1 when it succeeded. */
static int txn(etcd *e, const char *key, int64_t create_rev, json_t *success, int64_t *ret_rev)
{
	char srev[32];
	snprintf(srev, sizeof(srev), "%lld", (long long)create_rev);
	json_t *req = json_pack("{s:[{s:o, s:s, s:s, s:s}], s:[o]}", "compare", "key",
	                        b64_json(key, strlen(key)), "target", "CREATE", "result", "EQUAL",
	                        "create_revision", srev, "success", success);
	json_t *res = NULL;
	int rc = etcd_post(e, "/v3/kv/txn", req, &res);
	if (rc < 0)
		return rc;
	rc = json_is_true(json_object_get(res, "succeeded"));
	if (ret_rev)
		*ret_rev = jint(json_object_get(res, "header"), "revision");
	json_decref(res);
	return rc;
}

int etcd_create(etcd *e, const char *key, const char *value, int64_t lease, int64_t *ret_rev)
{
	/* The transaction's revision is the one its single put created the key at. */
	return txn(e, key, 0, json_pack("{s:o}", "request_put", put_request(key, value, lease)), ret_rev);
}

int etcd_delete_if(etcd *e, const char *key, int64_t rev)
{
	return txn(e, key, rev, json_pack("{s:{s:o}}", "request_delete_range", "key",
	                                  b64_json(key, strlen(key))), NULL);
}

void etcd_kv_clear(etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	*kv = (etcd_kv){ 0 };
}

void etcd_kvs_clear(etcd_kvs *kvs)
{
	for (int i = 0; i < kvs->n; i++)
		etcd_kv_clear(&kvs->v[i]);
	free(kvs->v);
	*kvs = (etcd_kvs){ 0 };
}

/* ---- watch: one JSON object per line, as long as the stream lasts ---- */

static int watch_line(etcd *e, const char *line, size_t n)
{
	json_t *doc = json_loadb(line, n, 0, NULL);
	if (!doc)
		return -EIO;
	json_t *r = json_object_get(doc, "result");
	int rc = 0;
	if (!r || json_is_true(json_object_get(r, "canceled")) || jint(r, "compact_revision")) {
		rc = -ESTALE;       /* compacted past our revision, or closed by the server */
	} else {
		size_t n_ev = json_array_size(json_object_get(r, "events"));
		if (n_ev)
			e->on_event(e->ctx, (int)n_ev, jint(json_object_get(r, "header"), "revision"));
	}
	json_decref(doc);
	return rc;
}

static size_t on_watch_body(char *data, size_t size, size_t n, void *arg)
{
	etcd *e = arg;
	if (etcd_on_body(data, size, n, e) != size * n)
		return 0;
	char *nl;
	while ((nl = memchr(e->buf, '\n', e->len))) {
		size_t line = (size_t)(nl - e->buf);
		int rc = line ? watch_line(e, e->buf, line) : 0;
		memmove(e->buf, nl + 1, e->len - line - 1);
		e->len -= line + 1;
		if (rc < 0) {
			e->watch_err = rc;
			return 0;
		}
	}
	return size * n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	const etcd *e = arg;
	return atomic_load(e->stop) ? 1 : 0;
}

int etcd_watch_prefix(etcd *e, const char *prefix, int64_t start_rev, const atomic_int *stop,
                      etcd_watch_fn on_event, void *ctx)
{
	int rc = etcd_ensure_token(e);
	if (rc < 0)
		return rc;
	json_t *req = json_pack("{s:{s:o, s:o, s:I}}", "create_request", "key", b64_json(prefix, strlen(prefix)),
	                        "range_end", prefix_end(prefix), "start_revision", (json_int_t)start_rev);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return -ENOMEM;
	char url[512];
	snprintf(url, sizeof(url), "%s/v3/watch", e->urls[e->cur]);
	e->on_event = on_event;
	e->ctx = ctx;
	e->stop = stop;
	e->watch_err = 0;
	e->requests++;
	etcd_set_request(e, url, body, 0);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_watch_body);
	curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, e);
	CURLcode cc = curl_easy_perform(e->curl);
	curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 1L);
	free(body);
	long status = 0;
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	if (atomic_load(stop))
		return 0;
	/* A refused token: the next watch asks for a new one, on the same member. */
	if (status == 401) {
		etcd_drop_token(e);
		return -ECONNRESET;
	}
	if (status == 403)
		etcd_problem(e, "/v3/watch: permission denied%s%s", e->user ? " to user " : "", e->user ? e->user : "");
	if (e->watch_err)
		return e->watch_err;
	if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR)
		etcd_problem(e, "watch: %s", e->errbuf[0] ? e->errbuf : curl_easy_strerror(cc));
	/* The stream ended or failed: the next try goes to the next member. */
	vp_debug("etcd", e->urls[e->cur], "watch ended: %s", curl_easy_strerror(cc));
	e->cur = (e->cur + 1) % e->n_urls;
	return -ECONNRESET;
}
