/* The etcd handle's transport: one libcurl handle (http or https, client certificates),
 * etcd's user authentication, and failover to the next member when a request cannot be
 * sent. The requests themselves are in etcd.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "etcd_priv.h"

static int copy_opt(const char *s, char **out)
{
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

int etcd_new(const char *const *urls, int n_urls, const etcd_opts *o, etcd **ret)
{
	etcd *e = calloc(1, sizeof(*e));
	if (!e || n_urls < 1 || !(e->urls = calloc((size_t)n_urls, sizeof(char *))))
		goto fail;
	for (e->n_urls = 0; e->n_urls < n_urls; e->n_urls++)
		if (!(e->urls[e->n_urls] = strdup(urls[e->n_urls])))
			goto fail;
	e->timeout_ms = o->timeout_ms;
	if (copy_opt(o->ca_file, &e->ca_file) < 0 || copy_opt(o->cert_file, &e->cert_file) < 0 ||
	    copy_opt(o->key_file, &e->key_file) < 0 || copy_opt(o->user, &e->user) < 0 ||
	    copy_opt(o->password, &e->password) < 0)
		goto fail;
	if (!(e->curl = curl_easy_init()) ||
	    !(e->headers = curl_slist_append(NULL, "Content-Type: application/json")))
		goto fail;
	curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->errbuf);
	*ret = e;
	return 0;
fail:
	etcd_free(&e);
	return -ENOMEM;
}

static void free_secret(char **s)
{
	if (*s)
		memset(*s, 0, strlen(*s));
	free(*s);
	*s = NULL;
}

void etcd_drop_token(etcd *e)
{
	free_secret(&e->token);
	curl_slist_free_all(e->auth_headers);
	e->auth_headers = NULL;
}

void etcd_free(etcd **pe)
{
	etcd *e = *pe;
	if (!e)
		return;
	if (e->curl)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->headers);
	etcd_drop_token(e);
	for (int i = 0; e->urls && i < e->n_urls; i++)
		free(e->urls[i]);
	free(e->urls);
	free(e->ca_file);
	free(e->cert_file);
	free(e->key_file);
	free(e->user);
	free_secret(&e->password);
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

size_t etcd_on_body(char *data, size_t size, size_t n, void *arg)
{
	etcd *e = arg;
	if (grow(e, size * n) < 0)
		return 0;
	memcpy(e->buf + e->len, data, size * n);
	e->len += size * n;
	e->buf[e->len] = '\0';
	return size * n;
}

void etcd_set_request(etcd *e, const char *url, const char *body, long timeout_ms)
{
	CURL *c = e->curl;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->token ? e->auth_headers : e->headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* NULL leaves libcurl's default (the system CAs; no client certificate). */
	curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
	curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert_file);
	curl_easy_setopt(c, CURLOPT_SSLKEY, e->key_file);
	e->errbuf[0] = '\0';
	e->len = 0;
}

void etcd_problem(etcd *e, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Digits left out: "after 3 ms" and "after 0 ms" are the same problem. */
	unsigned h = 2166136261u;
	for (const char *p = text; *p; p++)
		if (*p < '0' || *p > '9')
			h = (h ^ (unsigned char)*p) * 16777619u;
	h |= 1;                   /* 0 means "nothing logged" */
	/* Until the member answers again, each reason once: a refused TLS handshake cycles
	 * through three of libcurl's texts, and a slow first try (a timeout) must not hide the
	 * reason that follows it. */
	for (int i = 0; i < ETCD_PROBLEMS; i++)
		if (e->problems[i] == h)
			return;
	vp_warn("etcd", e->urls[e->cur], "%s", text);
	e->problems[e->n_problems++ % ETCD_PROBLEMS] = h;
}

void etcd_answered(etcd *e)
{
	if (e->n_problems)
		vp_info("etcd", e->urls[e->cur], "answering again");
	memset(e->problems, 0, sizeof(e->problems));
	e->n_problems = 0;
}

/* The gateway's error text: {"error": "...", "code": N}. */
static const char *reply_error(const json_t *doc)
{
	const char *s = json_string_value(json_object_get(doc, "error"));
	return s ? s : json_string_value(json_object_get(doc, "message"));
}

static void report_error(etcd *e, const char *path, long status, const json_t *doc)
{
	const char *why = reply_error(doc);
	bool auth = strcmp(path, "/v3/auth/authenticate") == 0;
	/* etcd with authentication on answers a request without a token this way. */
	const char *hint = !e->user && why && strstr(why, "user name is empty") ?
	                   " (etcd has authentication on: give fleet.username and fleet.password_file)" : "";
	etcd_problem(e, "%s%s%s: HTTP %ld: %.200s%s", path, auth ? " as " : "", auth ? e->user : "", status,
	             why ? why : e->buf ? e->buf : "", hint);
}

/* One POST of text to path on the current member. -ECONNREFUSED/-ETIMEDOUT: the next member
 * may do; -EKEYEXPIRED: the token was refused (not logged: the caller gets a new one). */
static int post_member(etcd *e, const char *path, const char *text, long timeout_ms, json_t **ret)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", e->urls[e->cur], path);
	e->requests++;
	etcd_set_request(e, url, text, timeout_ms);
	CURLcode cc = curl_easy_perform(e->curl);
	long status = 0;
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		etcd_problem(e, "%s", e->errbuf[0] ? e->errbuf : curl_easy_strerror(cc));
		return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	}
	json_t *doc = json_loadb(e->buf ? e->buf : "", e->len, 0, NULL);
	/* The gateway answers gRPC errors with their HTTP mapping (NotFound: 404). */
	int rc = status == 200 ? (doc ? 0 : -EIO) : status == 404 ? -ENOENT : status == 401 ? -EKEYEXPIRED :
	         status == 403 ? -EACCES : -EIO;
	if (rc == -EACCES)
		etcd_problem(e, "%s: permission denied%s%s: %s", path, e->user ? " to user " : "",
		             e->user ? e->user : "", reply_error(doc) ? reply_error(doc) : "");
	else if (rc == -EIO)
		report_error(e, path, status, doc);
	else if (rc == 0 || rc == -ENOENT)
		etcd_answered(e);
	if (rc == 0 && ret)
		*ret = doc;
	else
		json_decref(doc);
	return rc;
}

int etcd_ensure_token(etcd *e)
{
	if (!e->user || e->token)
		return 0;
	json_t *req = json_pack("{s:s, s:s}", "name", e->user, "password", e->password);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return -ENOMEM;
	json_t *res = NULL;
	/* etcd checks the password with bcrypt, slow on a loaded member: twice the time. */
	int rc = post_member(e, "/v3/auth/authenticate", text, 2L * e->timeout_ms, &res);
	memset(text, 0, strlen(text));
	free(text);
	/* A wrong name or password is InvalidArgument (HTTP 400), logged by post_member. */
	if (rc == -EIO)
		rc = -EACCES;
	const char *token = json_string_value(json_object_get(res, "token"));
	if (rc == 0 && (!token || !*token))
		rc = -EIO;
	char *hdr = NULL;
	if (rc == 0 && (asprintf(&hdr, "Authorization: %s", token) < 0 || !(e->token = strdup(token)) ||
	                !(e->auth_headers = curl_slist_append(NULL, "Content-Type: application/json")) ||
	                !curl_slist_append(e->auth_headers, hdr))) {
		etcd_drop_token(e);
		rc = -ENOMEM;
	}
	if (hdr)
		memset(hdr, 0, strlen(hdr));
	free(hdr);
	json_decref(res);
	if (rc == 0)
		vp_debug("etcd", e->urls[e->cur], "authenticated as %s", e->user);
	return rc;
}

int etcd_post(etcd *e, const char *path, json_t *body, json_t **ret)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return -ENOMEM;
	int rc = -ECONNREFUSED;
	for (int tries = 0; tries < e->n_urls; tries++) {
		rc = etcd_ensure_token(e);
		if (rc == 0)
			rc = post_member(e, path, text, e->timeout_ms, ret);
		/* Tokens expire (simple ones --auth-token-ttl after their last use) and none
		 * outlives an etcd restart: ask for a new one, once. */
		if (rc == -EKEYEXPIRED) {
			etcd_drop_token(e);
			if ((rc = etcd_ensure_token(e)) == 0)
				rc = post_member(e, path, text, e->timeout_ms, ret);
			if (rc == -EKEYEXPIRED)
				etcd_problem(e, "%s: the token given by /v3/auth/authenticate was refused", path);
		}
		if (rc != -ECONNREFUSED && rc != -ETIMEDOUT)
			break;
		e->cur = (e->cur + 1) % e->n_urls;
	}
	free(text);
	return rc;
}
