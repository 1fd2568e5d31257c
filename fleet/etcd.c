/* etcd v3 over its JSON gateway. Keys and values travel base64-encoded; 64-bit numbers come
 * as JSON strings ("revision": "12") and fields equal to zero are left out. */
#include "etcd.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "b64.h"

struct etcd {
	CURL *curl;
	char **urls;
	int n_urls, cur;
	int timeout_ms;
	int64_t requests;
	struct curl_slist *headers;
	char *buf;                /* response body being received */
	size_t len, cap;
	/* watch stream */
	etcd_watch_fn on_event;
	void *ctx;
	const atomic_int *stop;
	int watch_err;
};

int etcd_new(const char *const *urls, int n_urls, int timeout_ms, etcd **ret)
{
	etcd *e = calloc(1, sizeof(*e));
	if (!e || n_urls < 1 || !(e->urls = calloc((size_t)n_urls, sizeof(char *))))
		goto fail;
	for (e->n_urls = 0; e->n_urls < n_urls; e->n_urls++)
		if (!(e->urls[e->n_urls] = strdup(urls[e->n_urls])))
			goto fail;
	e->timeout_ms = timeout_ms;
	if (!(e->curl = curl_easy_init()) ||
	    !(e->headers = curl_slist_append(NULL, "Content-Type: application/json")))
		goto fail;
	*ret = e;
	return 0;
fail:
	etcd_free(&e);
	return -ENOMEM;
}

void etcd_free(etcd **pe)
{
	etcd *e = *pe;
	if (!e)
		return;
	if (e->curl)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->headers);
	for (int i = 0; e->urls && i < e->n_urls; i++)
		free(e->urls[i]);
	free(e->urls);
	free(e->buf);
	free(e);
	*pe = NULL;
}

int64_t etcd_requests(const etcd *e) { return e->requests; }

static int grow(etcd *e, size_t more)
{
	if (e->len + more + 1 <= e->cap)
		return 0;
	size_t cap = e->cap ? e->cap : 4096;
	while (cap < e->len + more + 1)
		cap *= 2;
	char *b = realloc(e->buf, cap);
	if (!b)
		return -ENOMEM;
	e->buf = b;
	e->cap = cap;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	etcd *e = arg;
	if (grow(e, size * n) < 0)
		return 0;
	memcpy(e->buf + e->len, data, size * n);
	e->len += size * n;
	e->buf[e->len] = '\0';
	return size * n;
}

static int64_t jint(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void set_request(etcd *e, const char *url, const char *body, long timeout_ms)
{
	CURL *c = e->curl;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

/* POSTs body (consumed) to path on the current member, moving on to the next members while
 * the transport fails. *ret: the parsed response (NULL allowed). */
static int post(etcd *e, const char *path, json_t *body, json_t **ret)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return -ENOMEM;
	int rc = -ECONNREFUSED;
	for (int tries = 0; tries < e->n_urls; tries++) {
		char url[512];
		snprintf(url, sizeof(url), "%s%s", e->urls[e->cur], path);
		e->len = 0;
		e->requests++;
		set_request(e, url, text, e->timeout_ms);
		CURLcode cc = curl_easy_perform(e->curl);
		long status = 0;
		curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK) {
			rc = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
			vp_debug("etcd", e->urls[e->cur], "%s: %s", path, curl_easy_strerror(cc));
			e->cur = (e->cur + 1) % e->n_urls;
			continue;
		}
		/* The gateway answers gRPC errors with their HTTP mapping (NotFound: 404). */
		if (status != 200) {
			rc = status == 404 ? -ENOENT : -EIO;
			vp_debug("etcd", e->urls[e->cur], "%s: HTTP %ld: %.200s", path, status, e->buf ? e->buf : "");
			break;
		}
		json_t *doc = json_loadb(e->buf ? e->buf : "", e->len, 0, NULL);
		if (!doc) {
			rc = -EIO;
			break;
		}
		if (ret)
			*ret = doc;
		else
			json_decref(doc);
		rc = 0;
		break;
	}
	free(text);
	return rc;
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
	int rc = post(e, "/v3/lease/grant", json_pack("{sI}", "TTL", (json_int_t)ttl_s), &res);
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
	int rc = post(e, "/v3/lease/keepalive", json_pack("{ss}", "ID", sid), &res);
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
	return post(e, "/v3/lease/revoke", json_pack("{ss}", "ID", sid), NULL);
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
	return post(e, "/v3/kv/put", put_request(key, value, lease), NULL);
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
	int rc = post(e, "/v3/kv/range", json_pack("{s:o, s:o}", "key", b64_json(prefix, strlen(prefix)),
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
	int rc = post(e, "/v3/kv/range", json_pack("{s:o}", "key", b64_json(key, strlen(key))), &res);
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
	int rc = post(e, "/v3/kv/deleterange", req, &res);
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
	int rc = post(e, "/v3/kv/txn", req, &res);
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
	if (on_body(data, size, n, e) != size * n)
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
	json_t *req = json_pack("{s:{s:o, s:o, s:I}}", "create_request", "key", b64_json(prefix, strlen(prefix)),
	                        "range_end", prefix_end(prefix), "start_revision", (json_int_t)start_rev);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return -ENOMEM;
	char url[512];
	snprintf(url, sizeof(url), "%s/v3/watch", e->urls[e->cur]);
	e->len = 0;
	e->on_event = on_event;
	e->ctx = ctx;
	e->stop = stop;
	e->watch_err = 0;
	e->requests++;
	set_request(e, url, body, 0);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_watch_body);
	curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, e);
	CURLcode cc = curl_easy_perform(e->curl);
	curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 1L);
	free(body);
	if (atomic_load(stop))
		return 0;
	if (e->watch_err)
		return e->watch_err;
	/* The stream ended or failed: the next try goes to the next member. */
	vp_debug("etcd", e->urls[e->cur], "watch ended: %s", curl_easy_strerror(cc));
	e->cur = (e->cur + 1) % e->n_urls;
	return -ECONNRESET;
}
