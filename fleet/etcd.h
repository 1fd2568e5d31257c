/* A small etcd v3 client over the JSON gateway (etcd 3.4: POST /v3/...), on libcurl, over
 * http or https (client certificates too) and with etcd's user authentication. One handle
 * per thread: it keeps one connection and moves to the next member URL when a request
 * fails. Why a request failed (transport, TLS, authentication, permission) is logged once
 * per reason and handle until one succeeds. Internal to fleet/. */
#ifndef FLEET_ETCD_H
#define FLEET_ETCD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct etcd etcd;

typedef struct etcd_kv {
	char *key;                /* decoded, NUL-terminated */
	char *value;
	int64_t create_rev, mod_rev, lease;
} etcd_kv;

typedef struct etcd_kvs {
	etcd_kv *v;
	int n;
	int64_t rev;              /* the store's revision the range was read at */
} etcd_kvs;

/* How to reach the members; every string is copied (NULL: not used). */
typedef struct etcd_opts {
	int timeout_ms;           /* bounds every request but a watch */
	const char *ca_file;      /* https: CAs to verify the members (NULL: the system's) */
	const char *cert_file;    /* https: client certificate and key (--client-cert-auth) */
	const char *key_file;
	const char *user;         /* etcd authentication: a token is asked for with these */
	const char *password;
} etcd_opts;

/* urls: http(s)://host:port of the members (copied). */
int etcd_new(const char *const *urls, int n_urls, const etcd_opts *o, etcd **ret);
void etcd_free(etcd **e);
/* Requests since the handle was made (for the "coordinator load" figure). */
int64_t etcd_requests(const etcd *e);

int etcd_lease_grant(etcd *e, int ttl_s, int64_t *ret_id);
/* -ENOENT: the lease expired or was revoked. *ret_ttl: seconds left (may be NULL). */
int etcd_lease_keepalive(etcd *e, int64_t id, int *ret_ttl);
int etcd_lease_revoke(etcd *e, int64_t id);
/* lease 0: none. */
int etcd_put(etcd *e, const char *key, const char *value, int64_t lease);
/* Every key starting with prefix, in key order. */
int etcd_range_prefix(etcd *e, const char *prefix, etcd_kvs *ret);
/* One key; -ENOENT when absent. */
int etcd_get(etcd *e, const char *key, etcd_kv *ret);
/* Deletes key (prefix: every key starting with it). Returns the number deleted. */
int etcd_delete(etcd *e, const char *key, int prefix);
/* Puts key only when absent (create revision 0), in one transaction: returns 1 and the
 * key's create revision in *ret_rev when created, 0 when the key existed. */
int etcd_create(etcd *e, const char *key, const char *value, int64_t lease, int64_t *ret_rev);
/* Deletes key only while its create revision is rev (our claim, not a newer one's): 1 when
 * deleted, 0 when the key is absent or someone else's. */
int etcd_delete_if(etcd *e, const char *key, int64_t rev);
void etcd_kv_clear(etcd_kv *kv);
void etcd_kvs_clear(etcd_kvs *kvs);

/* Watches every key under prefix from revision start_rev: on_event is called (on this
 * thread) once per response that carries events. Returns when *stop becomes nonzero
 * (0), or when the stream breaks or is canceled (< 0): the caller re-reads and watches again. */
typedef void (*etcd_watch_fn)(void *ctx, int n_events, int64_t rev);
int etcd_watch_prefix(etcd *e, const char *prefix, int64_t start_rev, const atomic_int *stop,
                      etcd_watch_fn on_event, void *ctx);

#endif
