/* Internal to etcd.c and etcd_http.c: the handle, and one POST with member failover. */
#ifndef FLEET_ETCD_PRIV_H
#define FLEET_ETCD_PRIV_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>

#include "etcd.h"

enum { ETCD_PROBLEMS = 8 };

struct etcd {
	CURL *curl;
	char **urls;
	int n_urls, cur;
	int timeout_ms;
	int64_t requests;
	char *ca_file, *cert_file, *key_file, *user, *password;
	char *token;              /* etcd auth token; NULL: none yet (or none needed) */
	struct curl_slist *headers, *auth_headers;   /* the second carries the token */
	char errbuf[CURL_ERROR_SIZE];
	unsigned problems[ETCD_PROBLEMS];  /* hashes of the reasons logged since the last success */
	unsigned n_problems;
	char *buf;                /* response body being received */
	size_t len, cap;
	/* watch stream */
	etcd_watch_fn on_event;
	void *ctx;
	const atomic_int *stop;
	int watch_err;
};

/* POSTs body (consumed) to path, moving on to the next members while the transport fails
 * and authenticating again once when the token was refused. *ret: the parsed response
 * (NULL allowed). -ENOENT: 404 (a lease or key that is gone). */
int etcd_post(etcd *e, const char *path, json_t *body, json_t **ret);
/* A token for the request about to be sent (when a user is set): 0 or < 0 (logged). */
int etcd_ensure_token(etcd *e);
/* The token was refused (HTTP 401): the next request asks for a new one. */
void etcd_drop_token(etcd *e);
/* Sets url, body, headers, timeouts and TLS on the handle; the body goes to e->buf. */
void etcd_set_request(etcd *e, const char *url, const char *body, long timeout_ms);
size_t etcd_on_body(char *data, size_t size, size_t n, void *arg);
/* Logs why a request to the current member failed, once until the next success. */
void etcd_problem(etcd *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void etcd_answered(etcd *e);

#endif
