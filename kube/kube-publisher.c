/* kube-publisher: this node's record as the status of its PmemNode object, from a thread of its
 * own, coalesced, with conflict retries and capped backoff. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube.h"
#include "util/log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/*
 * GET, create, patch, and again after a conflict or a vanished object: a few steps settle any
 * one race; more means someone else keeps writing, and backing off is kinder than spinning.
 */
#define MAX_STEPS 6

struct kube_publisher {
	/* Set at start, then read-only. */
	struct kube_client *client;
	char *node;
	char collection[128];
	char object[512];
	char status[512];
	json_t *labels; /* NULL or an object */
	uint64_t interval_ms;
	uint64_t backoff_min_ms;
	uint64_t backoff_max_ms;
	pthread_t thread;

	/* Thread-only: what we last saw of the object on the server. */
	bool exists;
	json_t *server_status; /* its .status, NULL when it has none */
	uint32_t rnd;

	/* Shared, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	json_t *pending;       /* the latest record not yet written */
	json_t *last;	       /* the last record written, for heartbeats; NULL before the first */
	uint64_t last_ok_ms;   /* monotonic time of the last successful write */
	uint64_t heartbeat_ms; /* rewrite an unchanged record this often; 0 = never */
	uint64_t next_ms;      /* monotonic time before which nothing is written */
	bool warned;	       /* the current failure state has been logged */
	struct kube_publisher_stats stats;
};

/* ---- pure parts --------------------------------------------------------- */

uint64_t kube_backoff_ms(unsigned failures, uint64_t min_ms, uint64_t max_ms, uint32_t rnd)
{
	uint64_t d = min_ms, half;

	if (failures == 0)
		return 0;
	if (max_ms < min_ms)
		max_ms = min_ms;
	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d = d > max_ms / 2 ? max_ms : d * 2;
	if (d > max_ms)
		d = max_ms;
	/* "Equal jitter": half fixed so a retry never comes at once, half random so a fleet of
	 * nodes that lost the API server together does not come back in one wave. */
	half = d / 2;
	return half + rnd % (d - half + 1);
}

json_t *kube_merge_patch_build(const json_t *old, const json_t *next)
{
	const char *key;
	json_t *patch, *ov;

	if (!json_is_object(next) || !json_is_object(old))
		return json_deep_copy(next);
	patch = json_object();
	if (!patch)
		return NULL;
	json_object_foreach ((json_t *)next, key, ov) {
		json_t *was = json_object_get(old, key);
		json_t *v = json_is_object(ov) && json_is_object(was)
				    ? kube_merge_patch_build(was, ov)
				    : json_deep_copy(ov);

		if (json_object_set_new(patch, key, v) < 0)
			goto oom;
	}
	json_object_foreach ((json_t *)old, key, ov)
		if (!json_object_get(next, key) && json_object_set_new(patch, key, json_null()) < 0)
			goto oom;
	return patch;
oom:
	json_decref(patch);
	return NULL;
}

const char *kube_publisher_state_name(enum kube_publisher_state s)
{
	switch (s) {
	case KUBE_PUB_OFF:
		return "off";
	case KUBE_PUB_PENDING:
		return "pending";
	case KUBE_PUB_OK:
		return "ok";
	case KUBE_PUB_RETRYING:
		return "retrying";
	case KUBE_PUB_DENIED:
		return "denied";
	}
	return "unknown";
}

/* ---- clocks ------------------------------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift32: enough to spread retries; no global state, nothing to seed from outside. */
static uint32_t next_rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* ---- one write ---------------------------------------------------------- */

static void remember(struct kube_publisher *p, json_t *obj)
{
	json_t *status = json_object_get(obj, "status");

	json_decref(p->server_status);
	p->server_status = json_is_object(status) ? json_incref(status) : NULL;
	p->exists = true;
}

static json_t *create_body(const struct kube_publisher *p)
{
	json_t *meta = json_pack("{s:s}", "name", p->node);

	if (meta && p->labels && json_object_size(p->labels) &&
	    json_object_set_new(meta, "labels", json_deep_copy(p->labels)) < 0) {
		json_decref(meta);
		return NULL;
	}
	return meta ? json_pack("{s:s, s:s, s:o, s:{}}", "apiVersion", KUBE_API_VERSION, "kind",
				KUBE_KIND, "metadata", meta, "spec")
		    : NULL;
}

/* The object, fetched or created, so its current status is known. */
static int ensure_object(struct kube_publisher *p, struct kube_status *st)
{
	json_t *obj = NULL, *body;
	int r;

	r = kube_get(p->client, p->object, &obj, st);
	if (r == -ENOENT) {
		if (!(body = create_body(p)))
			return -ENOMEM;
		r = kube_create(p->client, p->collection, body, &obj, st);
		json_decref(body);
		if (r == 0)
			log_debug("kube_pmemnode_created", "node=%s", p->node);
		/* A 404 here is the collection itself: the CRD is not installed. */
		if (r == -ENOENT && st)
			strncat(st->message, " (is the PmemNode CRD installed?)",
				sizeof(st->message) - strlen(st->message) - 1);
	}
	if (r < 0)
		return r;
	remember(p, obj);
	json_decref(obj);
	return 0;
}

/*
 * The status patch: the record plus `heartbeat`, the wall-clock time of this write (RFC 3339,
 * milliseconds, UTC). Every write then changes the object, so even a record that did not
 * change reaches the watchers and proves the node's pmemd alive.
 */
static json_t *heartbeat_patch(const json_t *server_status, const json_t *record)
{
	json_t *stamped = json_copy((json_t *)record), *patch;
	int64_t ms = wall_ms();
	time_t secs = (time_t)(ms / 1000);
	char when[40], ymd[32];
	struct tm tm;

	if (!stamped)
		return NULL;
	gmtime_r(&secs, &tm);
	strftime(ymd, sizeof(ymd), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when, sizeof(when), "%s.%03dZ", ymd, (int)(ms % 1000));
	json_object_set_new(stamped, "heartbeat", json_string(when));
	patch = kube_merge_patch_build(server_status, stamped);
	json_decref(stamped);
	return patch;
}

static int write_status(struct kube_publisher *p, const json_t *record, struct kube_status *st)
{
	int r = -EIO;

	for (int step = 0; step < MAX_STEPS; step++) {
		json_t *patch, *body, *obj = NULL;

		if (!p->exists && (r = ensure_object(p, st)) < 0) {
			if (r == -EEXIST)
				continue; /* created by someone else since our GET: read it */
			return r;
		}
		patch = heartbeat_patch(p->server_status, record);
		body = patch ? json_pack("{s:o}", "status", patch) : NULL;
		if (!body)
			return -ENOMEM;
		r = kube_merge_patch(p->client, p->status, body, &obj, st);
		json_decref(body);
		if (r == 0) {
			remember(p, obj);
			json_decref(obj);
			return 0;
		}
		/* Deleted under us, or our idea of it is stale: read it again and retry now. */
		if (r != -ENOENT && r != -ESTALE)
			return r;
		log_debug("kube_status_retry", "node=%s code=%ld", p->node, st ? st->code : 0L);
		p->exists = false;
	}
	return r;
}

/* ---- the thread --------------------------------------------------------- */

static void log_failure(struct kube_publisher *p, int r, const struct kube_status *st, bool denied)
{
	char q[600];

	log_quote(q, sizeof(q), st->message);
	if (denied)
		log_error("kube_publish_denied",
			  "node=%s code=%ld reason=%s error=%s hint=\"check the token and the "
			  "RBAC in deploy/kubernetes/rbac.yaml\"",
			  p->node, st->code, st->reason[0] ? st->reason : "-", q);
	else
		log_warn("kube_publish_failing", "node=%s code=%ld errno=%d error=%s", p->node,
			 st->code, -r, q);
}

/* Under mu: books one attempt's outcome and says when the next write may go. */
static void account(struct kube_publisher *p, int r, const struct kube_status *st, uint64_t now)
{
	struct kube_publisher_stats *s = &p->stats;
	enum kube_publisher_state was = s->state;

	if (r == 0) {
		if (was == KUBE_PUB_RETRYING || was == KUBE_PUB_DENIED)
			log_info("kube_publish_recovered", "node=%s failures=%u", p->node,
				 s->consecutive_failures);
		s->state = KUBE_PUB_OK;
		s->writes++;
		s->consecutive_failures = 0;
		s->last_success_ms = wall_ms();
		p->warned = false;
		p->next_ms = now + p->interval_ms;
		return;
	}
	s->state = r == -EACCES || r == -EPERM ? KUBE_PUB_DENIED : KUBE_PUB_RETRYING;
	s->failures++;
	s->consecutive_failures++;
	s->last_errno = -r;
	s->last_code = st->code;
	snprintf(s->last_error, sizeof(s->last_error), "%s", st->message);
	/* Once per state change, not per retry: an outage of an hour is one line, not 120. */
	if (!p->warned || s->state != was) {
		log_failure(p, r, st, s->state == KUBE_PUB_DENIED);
		p->warned = true;
	}
	p->next_ms = now + kube_backoff_ms(s->consecutive_failures, p->backoff_min_ms,
					   p->backoff_max_ms, next_rnd(&p->rnd));
}

static void wait_until(struct kube_publisher *p, uint64_t deadline_ms)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
			      .tv_nsec = (long)(deadline_ms % 1000) * 1000000};

	pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

static void *run(void *arg)
{
	struct kube_publisher *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		struct kube_status st;
		json_t *record;
		uint64_t now = mono_ms();
		int r;

		if (!p->pending && p->last && p->heartbeat_ms) {
			/* Nothing changed: write the same record again when the heartbeat is due,
			 * so watchers see the node alive (a write that changes nothing would not
			 * reach them: write_status stamps `heartbeat`). */
			if (now < p->last_ok_ms + p->heartbeat_ms) {
				wait_until(p, p->last_ok_ms + p->heartbeat_ms);
				continue;
			}
			p->pending = json_incref(p->last);
		}
		if (!p->pending) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		if (now < p->next_ms) {
			wait_until(p, p->next_ms);
			continue;
		}
		record = p->pending;
		p->pending = NULL;
		pthread_mutex_unlock(&p->mu);

		memset(&st, 0, sizeof(st));
		r = write_status(p, record, &st);

		pthread_mutex_lock(&p->mu);
		if (r == -ECANCELED && p->stopping) {
			json_decref(record);
			break;
		}
		/* A failed record is retried unless a newer one came meanwhile: the latest wins. */
		if (r < 0 && !p->pending)
			p->pending = json_incref(record);
		if (r == 0) {
			json_decref(p->last);
			p->last = json_incref(record);
			p->last_ok_ms = mono_ms();
		}
		json_decref(record);
		account(p, r, &st, mono_ms());
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- lifetime ----------------------------------------------------------- */

static struct kube_publisher *publisher_free(struct kube_publisher *p)
{
	if (!p)
		return NULL;
	kube_client_free(p->client);
	json_decref(p->labels);
	json_decref(p->server_status);
	json_decref(p->pending);
	json_decref(p->last);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->node);
	free(p);
	return NULL;
}

static int init_sync(struct kube_publisher *p)
{
	pthread_condattr_t ca;
	int r;

	if ((r = pthread_mutex_init(&p->mu, NULL)) != 0)
		return -r;
	if ((r = pthread_condattr_init(&ca)) != 0) {
		pthread_mutex_destroy(&p->mu);
		return -r;
	}
	/* Deadlines are monotonic: a clock step must not stall or hurry publishing. */
	r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (r != 0) {
		pthread_mutex_destroy(&p->mu);
		return -r;
	}
	return 0;
}

int kube_publisher_start(struct kube_publisher **out, const struct config_kube *cfg,
			 const char *node_name, const struct kube_publisher_opts *opts,
			 struct kube_status *st)
{
	static const struct kube_publisher_opts none;
	struct kube_status tmp;
	struct kube_conn conn;
	struct kube_publisher *p;
	int r;

	if (!st)
		st = &tmp;
	memset(st, 0, sizeof(*st));
	if (!out || !cfg || !node_name)
		return -EINVAL;
	*out = NULL;
	if (!opts)
		opts = &none;
	if (opts->labels && !json_is_object(opts->labels)) {
		snprintf(st->message, sizeof(st->message), "labels must be a JSON object");
		return -EINVAL;
	}
	r = kube_conn_resolve(cfg, opts->root, &conn, st);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p) {
		kube_conn_clear(&conn);
		return -ENOMEM;
	}
	if ((r = init_sync(p)) < 0) {
		free(p);
		kube_conn_clear(&conn);
		return r;
	}
	r = kube_client_new(&conn, &p->client, st);
	kube_conn_clear(&conn);
	if (r < 0)
		goto fail;
	if (kube_pmemnode_path(p->collection, sizeof(p->collection), NULL, NULL) < 0 ||
	    kube_pmemnode_path(p->object, sizeof(p->object), node_name, NULL) < 0 ||
	    kube_pmemnode_path(p->status, sizeof(p->status), node_name, "status") < 0) {
		snprintf(st->message, sizeof(st->message), "node name is not a DNS subdomain");
		r = -EINVAL;
		goto fail;
	}
	r = -ENOMEM;
	if (!(p->node = strdup(node_name)) ||
	    (opts->labels && !(p->labels = json_deep_copy(opts->labels))))
		goto fail;
	p->interval_ms = cfg->publish_interval_ms;
	/* Never more often than the publish interval allows anyway. */
	p->heartbeat_ms = !cfg->heartbeat_interval_ms ? 0
			  : cfg->heartbeat_interval_ms > cfg->publish_interval_ms
				  ? cfg->heartbeat_interval_ms
				  : cfg->publish_interval_ms;
	p->backoff_min_ms = opts->backoff_min_ms ? opts->backoff_min_ms : BACKOFF_MIN_MS;
	p->backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : BACKOFF_MAX_MS;
	p->rnd = (uint32_t)(mono_ms() ^ ((uint64_t)getpid() << 16) ^ (uintptr_t)p) | 1u;
	p->stats.state = KUBE_PUB_PENDING;
	r = pthread_create(&p->thread, NULL, run, p);
	if (r != 0) {
		snprintf(st->message, sizeof(st->message), "pthread_create: %s", strerror(r));
		r = -r;
		goto fail;
	}
	log_debug("kube_publisher_started", "node=%s interval_ms=%llu", p->node,
		  (unsigned long long)p->interval_ms);
	*out = p;
	return 0;
fail:
	publisher_free(p);
	return r;
}

void kube_publisher_update(struct kube_publisher *p, const json_t *record)
{
	json_t *copy;

	if (!p || !json_is_object(record))
		return;
	/* Copied here, in the caller's thread: the caller may change its record right after. */
	copy = json_deep_copy(record);
	if (!copy)
		return;
	pthread_mutex_lock(&p->mu);
	json_decref(p->pending);
	p->pending = copy;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

struct kube_publisher *kube_publisher_stop(struct kube_publisher *p)
{
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/* A request in flight is aborted within about a second (curl's progress callback). */
	kube_client_interrupt(p->client);
	pthread_join(p->thread, NULL);
	log_debug("kube_publisher_stopped", "node=%s", p->node);
	return publisher_free(p);
}

void kube_publisher_stats(struct kube_publisher *p, struct kube_publisher_stats *out)
{
	if (!out)
		return;
	if (!p) {
		memset(out, 0, sizeof(*out));
		out->state = KUBE_PUB_OFF;
		return;
	}
	pthread_mutex_lock(&p->mu);
	*out = p->stats;
	pthread_mutex_unlock(&p->mu);
}
