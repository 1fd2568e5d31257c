/* The agent thread: holds the lease (renewing it every TTL/6), registers the node, reads
 * PREFIX when the watch says it changed, and claims, releases or drops cameras as the
 * plan (plan.c) says. It never touches the pipeline: it edits the set of cameras to run
 * and the main thread applies it (node.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"
#include "../pipeline/vp_time.h"
#include "fleet_priv.h"
#include "plan.h"
#include "rendezvous.h"

/* Failed renewals are retried this often: after a blip the lease is renewed within this of
 * etcd answering again, which keeps a blip shorter than TTL/2 under the fencing limit. */
enum { RENEW_RETRY_MS = 100, JOIN_RETRY_MS = 500 };
/* After joining, claims wait this long: nodes started together see each other first
 * instead of the first one taking all it can and handing most of it over again. */
enum { JOIN_GRACE_MS = 500 };
/* Releases (moves) start at most this often and this many at once, so a join or a
 * capacity change does not stop many streams in one go. */
enum { RELEASE_GAP_MS = 250, MAX_RELEASING = 4 };
#define MS 1000000LL

static int64_t renew_every_ns(const fleet_node *n) { return (int64_t)n->ttl_s * 1000 * MS / 6; }
/* With renewals every TTL/6 and retries every 100 ms, a blip of up to TTL/2 leaves at most
 * TTL/2 + 100 ms + a round trip without a renewal, below 0.6 TTL; and 0.4 TTL is left for
 * the streams to stop before the lease can expire in etcd (it expires TTL after the
 * last renewal etcd received, which was sent after last_ok). */
static int64_t fence_after_ns(const fleet_node *n) { return (int64_t)n->ttl_s * 600 * MS; }

void fl_bump(fleet_node *n)
{
	n->version++;
	pthread_cond_broadcast(&n->wake);
}

static void set_connected(fleet_node *n, bool on)
{
	pthread_mutex_lock(&n->lock);
	n->connected = on;
	pthread_mutex_unlock(&n->lock);
	pipe_gauge_set(n->m.connected, on);
}

static int join(fleet_node *n)
{
	int64_t lease = 0;
	char *key = fl_key(n->prefix, "nodes", n->node_id);
	json_t *v = json_pack("{s:i, s:s}", "capacity", n->capacity, "address", n->address ? n->address : "");
	char *value = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	int rc = -ENOMEM;
	if (!key || !value)
		goto done;
	if ((rc = etcd_lease_grant(n->api, n->ttl_s, &lease)) < 0)
		goto done;
	if ((rc = etcd_put(n->api, key, value, lease)) < 0) {
		etcd_lease_revoke(n->api, lease);
		goto done;
	}
	vp_info("fleet", n->node_id, "joined: lease %llx (%d s), capacity %d", (long long)lease, n->ttl_s,
	        n->capacity);
	pthread_mutex_lock(&n->lock);
	n->lease = lease;
	n->fenced = false;
	n->dirty = true;
	pthread_mutex_unlock(&n->lock);
done:
	free(key);
	free(value);
	return rc;
}

/* Stops every camera at once, keeping the claims (they are etcd's to expire): past this
 * point another node may own them any moment. */
static void fence(fleet_node *n, const char *why)
{
	int stopped = 0;
	pthread_mutex_lock(&n->lock);
	for (int i = 0; i < n->n_cams; i++) {
		fl_cam *c = &n->cams[i];
		if (!c->run)
			continue;
		c->run = false;
		c->release = false;
		c->off_version = n->version + 1;
		stopped++;
	}
	n->fenced = true;
	if (stopped)
		fl_bump(n);
	pthread_mutex_unlock(&n->lock);
	if (stopped)
		pipe_counter_inc(n->m.fencing);
	vp_warn("fleet", n->node_id, "%s: stopped %d camera(s) before the lease can expire", why, stopped);
}

static fl_cam *find_cam(fleet_node *n, const char *id, bool running)
{
	for (int i = 0; i < n->n_cams; i++)
		if (strcmp(n->cams[i].id, id) == 0 && n->cams[i].run == running)
			return &n->cams[i];
	return NULL;
}

/* Caller holds the lock. */
static int add_cam(fleet_node *n, const char *id, const char *value, int64_t epoch, int64_t start)
{
	if (n->n_cams == n->cap_cams) {
		int cap = n->cap_cams ? n->cap_cams * 2 : 16;
		fl_cam *v = realloc(n->cams, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		n->cams = v;
		n->cap_cams = cap;
	}
	fl_cam c = { .id = strdup(id), .value = strdup(value), .epoch = epoch, .run = true, .start = start,
	             .ck_written = start };
	if (!c.id || !c.value) {
		free(c.id);
		free(c.value);
		return -ENOMEM;
	}
	n->cams[n->n_cams++] = c;
	fl_bump(n);
	return 0;
}

/* Cameras whose streams ended after they were stopped: released ones lose their claim
 * (only ours: the compare on the create revision keeps a newer owner's claim). */
int fl_next_cam(fleet_node *n, bool (*want)(const fl_cam *c), fl_cam *out)
{
	pthread_mutex_lock(&n->lock);
	int i = 0;
	while (i < n->n_cams && !want(&n->cams[i]))
		i++;
	if (i < n->n_cams)
		*out = n->cams[i];
	pthread_mutex_unlock(&n->lock);
	return i < n->n_cams ? i : -1;
}

static bool stopped_not_running(const fl_cam *c) { return !c->run && c->stopped; }

static void finish_stopped(fleet_node *n)
{
	for (;;) {
		fl_cam c = { 0 };
		int i = fl_next_cam(n, stopped_not_running, &c);
		if (i < 0)
			return;
		if (c.release) {
			char *key = fl_key(n->prefix, "claims", c.id);
			int rc = key ? etcd_delete_if(n->api, key, c.epoch) : -ENOMEM;
			free(key);
			if (rc < 0)
				return;          /* retried after the next renewal */
			vp_info("fleet", c.id, "released (epoch %lld)", (long long)c.epoch);
		}
		pthread_mutex_lock(&n->lock);
		/* The array may have grown meanwhile, never shrunk: only this thread removes. */
		free(n->cams[i].id);
		free(n->cams[i].value);
		n->cams[i] = n->cams[--n->n_cams];
		pipe_gauge_set(n->m.owned, n->n_cams);
		pthread_mutex_unlock(&n->lock);
	}
}

/* ---- one reading of PREFIX and what follows from it ---- */

typedef struct fl_state {
	etcd_kvs kvs;
	fl_node *nodes;
	int n_nodes;
	const char **cams;        /* ids of the valid cameras */
	const char **values;
	int n_cams;
	const etcd_kv **claims;   /* per camera: its claim, or NULL */
	bool *work;               /* per camera: a file item */
} fl_state;

static void state_clear(fl_state *s)
{
	etcd_kvs_clear(&s->kvs);
	free(s->nodes);
	free(s->cams);
	free(s->values);
	free(s->claims);
	free(s->work);
}

static bool camera_ok(fleet_node *n, const etcd_kv *kv, const char *id, bool *work)
{
	for (int i = 0; i < n->n_valid; i++)
		if (strcmp(n->valid[i].id, id) == 0 && n->valid[i].mod_rev == kv->mod_rev)
			return *work = n->valid[i].work, n->valid[i].ok;
	*work = false;
	bool ok = fl_camera_valid(n->path, id, kv->value, work);
	fl_valid *v = realloc(n->valid, (size_t)(n->n_valid + 1) * sizeof(*v));
	char *dup = strdup(id);
	if (!v || !dup) {
		free(dup);
		if (v)
			n->valid = v;
		return ok;
	}
	n->valid = v;
	v[n->n_valid++] = (fl_valid){ dup, kv->mod_rev, ok, *work };
	return ok;
}

static int node_capacity(const char *value)
{
	json_t *j = json_loads(value, 0, NULL);
	int cap = (int)json_integer_value(json_object_get(j, "capacity"));
	json_decref(j);
	return cap;
}

/* Keys come sorted: a binary search finds PREFIX/kind/<id> (NULL: absent, or no memory). */
static const etcd_kv *find_key(const fl_state *s, const char *prefix, const char *kind, const char *id)
{
	char *key = fl_key(prefix, kind, id);
	int lo = 0, hi = s->kvs.n;
	const etcd_kv *found = NULL;
	while (key && lo < hi && !found) {
		int mid = lo + (hi - lo) / 2, c = strcmp(s->kvs.v[mid].key, key);
		if (c == 0)
			found = &s->kvs.v[mid];
		else if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	free(key);
	return found;
}

static bool is_done(const fl_state *s, const char *prefix, const char *id)
{
	return find_key(s, prefix, "done", id) != NULL;
}

/* Where a file item starts: the last checkpoint of a previous owner, else frame 0. */
static int64_t start_of(const fleet_node *n, const fl_state *s, int i)
{
	const etcd_kv *kv = s->work[i] ? find_key(s, n->prefix, "progress", s->cams[i]) : NULL;
	return kv ? fl_progress_frame(kv->value) : 0;
}

static int read_state(fleet_node *n, fl_state *s)
{
	char *folder = fl_key(n->prefix, "", NULL);
	int rc = folder ? etcd_range_prefix(n->api, folder, &s->kvs) : -ENOMEM;
	free(folder);
	if (rc < 0)
		return rc;
	int k = s->kvs.n;
	s->nodes = calloc((size_t)k + 1, sizeof(*s->nodes));
	s->cams = calloc((size_t)k + 1, sizeof(*s->cams));
	s->values = calloc((size_t)k + 1, sizeof(*s->values));
	s->claims = calloc((size_t)k + 1, sizeof(*s->claims));
	s->work = calloc((size_t)k + 1, sizeof(*s->work));
	if (!s->nodes || !s->cams || !s->values || !s->claims || !s->work)
		return -ENOMEM;
	for (int i = 0; i < k; i++) {
		const etcd_kv *kv = &s->kvs.v[i];
		const char *id;
		bool work;
		if ((id = fl_key_id(kv->key, n->prefix, "nodes")))
			s->nodes[s->n_nodes++] = (fl_node){ id, node_capacity(kv->value) };
		/* A done file item is out of the plan: nobody claims it again. */
		else if ((id = fl_key_id(kv->key, n->prefix, "cameras")) && !is_done(s, n->prefix, id) &&
		         camera_ok(n, kv, id, &work))
			s->work[s->n_cams] = work, s->cams[s->n_cams] = id, s->values[s->n_cams++] = kv->value;
	}
	/* Keys come sorted: claims/ after cameras/, so every camera is known by now. */
	for (int i = 0; i < k; i++) {
		const char *id = fl_key_id(s->kvs.v[i].key, n->prefix, "claims");
		for (int c = 0; id && c < s->n_cams; c++)
			if (strcmp(s->cams[c], id) == 0)
				s->claims[c] = &s->kvs.v[i];
	}
	return 0;
}

static int do_claim(fleet_node *n, const char *id, const char *value, int64_t lease, int64_t start)
{
	char *key = fl_key(n->prefix, "claims", id);
	int64_t rev = 0;
	int rc = key ? etcd_create(n->api, key, n->node_id, lease, &rev) : -ENOMEM;
	free(key);
	if (rc <= 0)
		return rc;
	pthread_mutex_lock(&n->lock);
	fl_cam *c = find_cam(n, id, true);
	if (c) {
		c->epoch = rev;          /* claimed again after the lease was lost: new epoch */
		fl_bump(n);
	} else {
		rc = add_cam(n, id, value, rev, start);
	}
	pipe_gauge_set(n->m.owned, n->n_cams);
	pthread_mutex_unlock(&n->lock);
	pipe_counter_inc(n->m.claims);
	if (start)
		vp_info("fleet", id, "claimed (epoch %lld): resuming at frame %lld", (long long)rev, (long long)start);
	else
		vp_info("fleet", id, "claimed (epoch %lld)", (long long)rev);
	return rc;
}

void fl_stop_cam(fleet_node *n, fl_cam *c, bool release)
{
	c->run = false;
	c->release = release;
	c->off_version = n->version + 1;
	fl_bump(n);
}

static int act(fleet_node *n, const fl_state *s, int i, enum fl_action a, int64_t lease)
{
	const char *id = s->cams[i];
	const etcd_kv *claim = s->claims[i];
	int rc = 0;
	switch (a) {
	case FL_KEEP:
		break;
	case FL_CLAIM:
		rc = do_claim(n, id, s->values[i], lease, start_of(n, s, i));
		break;
	case FL_RELEASE:
	case FL_DROP:
		pthread_mutex_lock(&n->lock);
		fl_cam *c = find_cam(n, id, true);
		if (c)
			fl_stop_cam(n, c, a == FL_RELEASE);
		pthread_mutex_unlock(&n->lock);
		pipe_counter_inc(a == FL_RELEASE ? n->m.releases : n->m.drops);
		vp_info("fleet", id, a == FL_RELEASE ? "moving to another node: stopping" :
		        "claim lost or taken: stopping");
		break;
	case FL_ADOPT:
		pthread_mutex_lock(&n->lock);
		rc = add_cam(n, id, s->values[i], claim->create_rev, start_of(n, s, i));
		pthread_mutex_unlock(&n->lock);
		vp_info("fleet", id, "running again under its claim (epoch %lld)", (long long)claim->create_rev);
		break;
	case FL_FORGET: {
		char *key = fl_key(n->prefix, "claims", id);
		rc = key ? etcd_delete_if(n->api, key, claim->create_rev) : -ENOMEM;
		free(key);
		break;
	}
	}
	return rc < 0 ? rc : 0;
}

/* Our running cameras whose value changed are restarted with it; those no longer wanted
 * are released at once (no rate limit: nobody else will run them). Caller holds the lock. */
static void follow_cameras(fleet_node *n, const fl_state *s)
{
	for (int i = 0; i < n->n_cams; i++) {
		fl_cam *c = &n->cams[i];
		if (!c->run)
			continue;
		int k = 0;
		while (k < s->n_cams && strcmp(s->cams[k], c->id) != 0)
			k++;
		if (k == s->n_cams) {
			vp_info("fleet", c->id, "removed from the fleet: stopping");
			fl_stop_cam(n, c, true);
		} else if (strcmp(s->values[k], c->value) != 0) {
			char *v = strdup(s->values[k]);
			if (v) {
				free(c->value);
				c->value = v;
				fl_bump(n);
			}
		}
	}
}

/* Returns 1 when a rate-limited release is still due (read again soon), 0, or < 0. */
static int reconcile(fleet_node *n, int64_t lease)
{
	fl_state s = { 0 };
	int rc = read_state(n, &s), pending = 0;
	int *owner = NULL, *current = NULL, stopping = 0;
	bool *busy = NULL;
	fl_cam_view *views = NULL;
	enum fl_action *acts = NULL;
	if (rc < 0)
		goto done;
	rc = -ENOMEM;
	owner = calloc((size_t)s.n_cams + 1, sizeof(*owner));
	views = calloc((size_t)s.n_cams + 1, sizeof(*views));
	acts = calloc((size_t)s.n_cams + 1, sizeof(*acts));
	busy = calloc((size_t)s.n_cams + 1, sizeof(*busy));
	current = calloc((size_t)s.n_cams + 1, sizeof(*current));
	if (!owner || !views || !acts || !busy || !current)
		goto done;
	for (int i = 0; i < s.n_cams; i++) {
		current[i] = -1;
		for (int k = 0; s.claims[i] && k < s.n_nodes; k++)
			if (strcmp(s.claims[i]->value, s.nodes[k].id) == 0)
				current[i] = k;
	}
	bool listed = false;
	for (int k = 0; k < s.n_nodes; k++)
		listed |= strcmp(s.nodes[k].id, n->node_id) == 0;
	/* Our node key is gone: the lease expired and the renewal will say so in a moment. A plan
	 * made now would hand everything away (and stop cameras on_coordinator_loss: keep keeps). */
	if (!listed) {
		rc = 0;
		pending = 1;
		goto done;
	}
	if ((rc = fl_assign(s.cams, s.n_cams, s.nodes, s.n_nodes, current, owner)) < 0)
		goto done;
	int64_t now = vp_mono_ns();
	int releasing = 0;
	pthread_mutex_lock(&n->lock);
	n->read_rev = s.kvs.rev;
	n->n_nodes = s.n_nodes;
	n->n_cameras = s.n_cams;
	follow_cameras(n, &s);
	for (int i = 0; i < n->n_cams; i++) {
		releasing += !n->cams[i].run && n->cams[i].release;
		stopping += !n->cams[i].run;
	}
	for (int i = 0; i < s.n_cams; i++) {
		const etcd_kv *cl = s.claims[i];
		views[i] = (fl_cam_view){
			.target_is_me = owner[i] >= 0 && strcmp(s.nodes[owner[i]].id, n->node_id) == 0,
			.running = find_cam(n, s.cams[i], true) != NULL,
			.claim = !cl ? FL_CLAIM_NONE : strcmp(cl->value, n->node_id) == 0 ? FL_CLAIM_MINE : FL_CLAIM_OTHER,
			.work_item = s.work[i],
		};
		/* A camera still stopping here is left alone until its stream ended. */
		busy[i] = find_cam(n, s.cams[i], false) != NULL;
	}
	pthread_mutex_unlock(&n->lock);
	pipe_gauge_set(n->m.nodes, s.n_nodes);
	pipe_gauge_set(n->m.cameras, s.n_cams);
	int releases = now >= n->next_release_ns && releasing < MAX_RELEASING ? 1 : 0;
	/* Claims of cameras still stopping count against the capacity until deleted. */
	fl_plan(views, s.n_cams, n->capacity - stopping, releases, acts);
	rc = 0;
	/* New claims last: a forgotten claim is deleted before one is created in its place. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < s.n_cams && rc == 0; i++) {
			bool fresh = acts[i] == FL_CLAIM && !views[i].running;
			if (acts[i] == FL_KEEP || fresh != (pass == 1))
				continue;
			if (busy[i]) {
				pending = 1;
				continue;
			}
			if (acts[i] == FL_RELEASE)
				n->next_release_ns = now + RELEASE_GAP_MS * MS;
			rc = act(n, &s, i, acts[i], lease);
		}
	}
	/* A move the rate limit held back shows as a camera ours that should not be. */
	for (int i = 0; i < s.n_cams; i++)
		pending |= views[i].running && views[i].claim == FL_CLAIM_MINE && !views[i].target_is_me &&
		           !views[i].work_item && acts[i] == FL_KEEP;
done:
	free(owner);
	free(current);
	free(busy);
	free(views);
	free(acts);
	state_clear(&s);
	return rc < 0 ? rc : pending;
}

/* ---- the loop ---- */

typedef struct fl_loop {
	int64_t last_ok, next_renew, retry_at;
	int64_t joined;           /* when the current lease was granted */
} fl_loop;

static void renew(fleet_node *n, fl_loop *l, int64_t lease, int64_t now)
{
	int ttl = 0;
	int rc = etcd_lease_keepalive(n->api, lease, &ttl);
	pipe_histogram_observe(n->m.renew, (vp_mono_ns() - now) / 1e9);
	if (rc == 0) {
		l->last_ok = now;
		l->next_renew = now + renew_every_ns(n);
		bool was_fenced;
		pthread_mutex_lock(&n->lock);
		was_fenced = n->fenced;
		n->fenced = false;
		n->dirty |= was_fenced;     /* the claims may still be ours: run them again */
		pthread_mutex_unlock(&n->lock);
		set_connected(n, true);
		return;
	}
	l->next_renew = now + RENEW_RETRY_MS * MS;
	if (rc != -ENOENT) {
		set_connected(n, false);
		return;
	}
	/* Expired (etcd was out of reach longer than the TTL) or revoked: our claims are gone. */
	vp_warn("fleet", n->node_id, "lease lost; joining again");
	pipe_counter_inc(n->m.lease_lost);
	if (!n->keep_on_loss)
		fence(n, "lease lost");
	pthread_mutex_lock(&n->lock);
	n->lease = 0;
	pthread_mutex_unlock(&n->lock);
}

static void wait_for_work(fleet_node *n, const fl_loop *l, int64_t lease, bool can_read)
{
	int64_t until = vp_mono_ns() + 1000 * MS;
	if (lease && l->next_renew < until)
		until = l->next_renew;
	if (!lease)
		until = vp_mono_ns() + JOIN_RETRY_MS * MS;
	if (l->retry_at && l->retry_at < until)
		until = l->retry_at;
	/* Stopped cameras are reported by the main thread without a wake-up: look every 100 ms. */
	if (until > vp_mono_ns() + 100 * MS)
		until = vp_mono_ns() + 100 * MS;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t wait = until - vp_mono_ns();
	if (wait <= 0)
		return;
	int64_t t = (int64_t)ts.tv_nsec + wait;
	ts.tv_sec += t / 1000000000LL;
	ts.tv_nsec = t % 1000000000LL;
	pthread_mutex_lock(&n->lock);
	if (!(n->dirty && can_read) && !atomic_load(&n->stop))
		pthread_cond_timedwait(&n->wake, &n->lock, &ts);
	pthread_mutex_unlock(&n->lock);
}

void *fl_agent_main(void *arg)
{
	fleet_node *n = arg;
	fl_loop l = { 0 };
	int64_t counted = 0;
	while (!atomic_load(&n->stop)) {
		int64_t now = vp_mono_ns();
		pthread_mutex_lock(&n->lock);
		int64_t lease = n->lease;
		bool leaving = n->leaving;
		pthread_mutex_unlock(&n->lock);
		if (!lease && leaving) {
			wait_for_work(n, &l, lease, false);
			continue;
		}
		if (!lease) {
			if (join(n) == 0) {
				l.joined = now;
				l.retry_at = now + JOIN_GRACE_MS * MS;
				l.last_ok = now;
				l.next_renew = now + renew_every_ns(n);
				set_connected(n, true);
			}
		} else if (now >= l.next_renew) {
			renew(n, &l, lease, now);
		}
		pthread_mutex_lock(&n->lock);
		lease = n->lease;
		bool fenced = n->fenced || n->leaving, dirty = n->dirty;
		pthread_mutex_unlock(&n->lock);
		if (lease && !fenced && !n->keep_on_loss && vp_mono_ns() - l.last_ok > fence_after_ns(n))
			fence(n, "etcd out of reach");
		fl_items_finish_done(n);
		finish_stopped(n);
		if (lease && !fenced)
			fl_items_checkpoint(n);
		pipe_counter_add(n->m.requests, (uint64_t)(etcd_requests(n->api) - counted));
		counted = etcd_requests(n->api);
		bool grace = vp_mono_ns() < l.joined + JOIN_GRACE_MS * MS;
		if (lease && !fenced && !grace && (dirty || (l.retry_at && vp_mono_ns() >= l.retry_at))) {
			pthread_mutex_lock(&n->lock);
			n->dirty = false;
			pthread_mutex_unlock(&n->lock);
			l.retry_at = 0;
			int rc = reconcile(n, lease);
			if (rc < 0) {
				pthread_mutex_lock(&n->lock);
				n->dirty = true;
				pthread_mutex_unlock(&n->lock);
				l.retry_at = vp_mono_ns() + RENEW_RETRY_MS * MS;
			} else if (rc > 0) {
				l.retry_at = n->next_release_ns > vp_mono_ns() ? n->next_release_ns : vp_mono_ns() + 100 * MS;
			}
		}
		wait_for_work(n, &l, lease, lease && !fenced && !grace);
	}
	return NULL;
}
