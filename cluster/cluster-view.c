/* cluster-view: nodes by name, their records as engine nodes, holds, the extender's verbs. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster-internal.h"
#include "config/config-simulate.h"
#include "util/log.h"
#include "util/strmap.h"

struct cnode {
	char *name;
	json_t *record;		     /* the last record (owned) */
	struct sched_owned_node *sn; /* the record as an engine node, holds counted; NULL: bad */
	enum cluster_source source;
	char *url;	     /* agents: where it came from */
	uint64_t fetched_at; /* monotonic ms of the last record or 304; 0: never */
	bool has_heartbeat;  /* kube: the record has a heartbeat, which dates it (not arrival) */
	uint64_t generation; /* the record's generation */
	char error[256];     /* the last error (bad record, failed fetch); "" none */
};

/* A decision made at bind, counted until the node's record shows it or it expires. */
struct hold {
	uint64_t id;
	char *pod_uid, *ns, *name, *node;
	struct sched_pod_request *req;
	struct sched_result res;
	char *pools[SCHED_MAX_VOLUMES]; /* the chosen pool of each counted volume, by name */
	unsigned cpus_taken;		/* what counting took from cpus_free (for release) */
	bool applied;			/* counted in the node's sn */
	bool confirmed;			/* the node accepted the reservation */
	uint64_t confirmed_at;
	uint64_t expires_at;
	struct hold *next;
};

struct pod_slot {
	char *key; /* uid, or namespace/name */
	json_t *pod;
	uint64_t at;
};

/*
 * The last NodeNames list resolved to nodes. kube-scheduler sends the same list call after call
 * (the nodes that passed its own filters), and looking 5,000 names up in the index was ~8% of a
 * call's instructions and more of its time: a hash, and a cache miss or two per name for the
 * slot and the key it points to. A call whose names are the same bytes as the last one's, while
 * no node came or went (`members`), reuses the nodes found then. It is kept only for names laid
 * out back to back in one block, as the extender's parser stores them, so that comparing two
 * lists is one memcmp. A call that finds it in use by another resolves its names itself.
 */
struct name_cache {
	pthread_mutex_t mu; /* held by the call using it, for its whole evaluation */
	char *block;	    /* the names, each NUL-terminated, back to back */
	size_t block_len, block_cap;
	size_t n;	       /* names in it; 0: empty */
	uint64_t members;      /* the view's `members` when they were resolved */
	struct cnode **nodes;  /* nodes[i] for name i; NULL: no record by that name */
	size_t cap;	       /* of nodes */
	uint64_t hits, misses; /* for tests (cluster_name_cache_stats) */
};

struct cluster {
	pthread_rwlock_t lock; /* nodes, index, holds, members */
	struct cnode **nodes;
	size_t n_nodes, cap_nodes;
	struct strmap by_name; /* name -> struct cnode *, keyed by the node's own name */
	/* Bumped whenever a node is added or removed (the write lock is held): a resolution of
	 * names to nodes made at another value may name a freed node or miss a new one. */
	uint64_t members;
	struct name_cache names;
	struct hold *holds;
	size_t n_holds;
	uint64_t next_hold_id;
	atomic_uint_fast64_t next_expiry; /* earliest hold expiry; UINT64_MAX: none */

	pthread_mutex_t pods_lock;
	struct pod_slot pods[CLUSTER_POD_CACHE];
	size_t pods_next;

	enum cluster_source source;
	uint64_t max_age_ms;
	uint64_t ttl_ms;
	size_t eval_slices;	/* threads a large evaluation is cut into (the cores, at most 4) */
	struct eval_pool *pool; /* its workers, started at the first large evaluation */
	pthread_mutex_t pool_lock;
	bool pool_failed;
	enum sched_pmem_policy pmem_policy;
	enum sched_cpu_policy cpu_policy;
	char *driver;
	uint64_t (*clock_ms)(void *ud);
	void *clock_ud;
	struct cluster_agents *agents;
	struct cluster_kube *kube;
};

const char *cluster_source_name(enum cluster_source s)
{
	switch (s) {
	case CLUSTER_SOURCE_SIMULATE:
		return "simulate";
	case CLUSTER_SOURCE_AGENTS:
		return "agents";
	case CLUSTER_SOURCE_KUBE:
		return "kube";
	case CLUSTER_SOURCE_NONE:
		break;
	}
	return "none";
}

uint64_t cluster_now(struct cluster *c)
{
	struct timespec ts;

	if (c->clock_ms)
		return c->clock_ms(c->clock_ud);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cluster_set_placement(struct cluster *c, const struct config_placement *p)
{
	pthread_rwlock_wrlock(&c->lock);
	c->pmem_policy = (enum sched_pmem_policy)p->pmem_policy;
	c->cpu_policy = (enum sched_cpu_policy)p->cpu_policy;
	c->ttl_ms = p->reservation_ttl_ms;
	pthread_rwlock_unlock(&c->lock);
}

enum cluster_source cluster_get_source(const struct cluster *c)
{
	return c->source;
}

bool cluster_has_kube(const struct cluster *c)
{
	return c->kube != NULL;
}

/* ---- the node index ------------------------------------------------------------------ */

static struct cnode *node_find(const struct cluster *c, const char *name)
{
	return strmap_get(&c->by_name, name);
}

static struct cnode *node_add(struct cluster *c, const char *name)
{
	struct cnode *n;

	if (c->n_nodes == c->cap_nodes) {
		size_t cap = c->cap_nodes ? c->cap_nodes * 2 : 64;
		struct cnode **v = realloc(c->nodes, cap * sizeof(*v));
		if (!v)
			return NULL;
		c->nodes = v;
		c->cap_nodes = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		return NULL;
	}
	if (strmap_put(&c->by_name, n->name, n) < 0) {
		free(n->name);
		free(n);
		return NULL;
	}
	c->nodes[c->n_nodes++] = n;
	c->members++;
	return n;
}

static void cnode_free(struct cnode *n)
{
	if (!n)
		return;
	sched_node_free(n->sn);
	json_decref(n->record);
	free(n->url);
	free(n->name);
	free(n);
}

/* ---- holds ---------------------------------------------------------------------------- */

static int pool_index(const struct sched_node *n, const char *name)
{
	for (size_t i = 0; i < n->n_pools; i++)
		if (strcmp(n->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int numa_index(const struct sched_node *n, int id)
{
	for (size_t i = 0; i < n->n_numa; i++)
		if (n->numa[i].id == id)
			return (int)i;
	return -1;
}

/*
 * Counts a hold on the node as it is now. Pools are matched by name, because a new record may
 * list them in another order; a pool that is gone counts nowhere (the node lost it: nothing
 * left to protect). Done by hand rather than with sched_apply() because a hold must stay
 * counted even when a new record shows less room than the decision assumed: refusing it would
 * make the node look emptier than it is.
 */
static void hold_count(struct cnode *cn, struct hold *h)
{
	struct sched_node *n;
	int k;

	if (!cn || !cn->sn || h->applied)
		return;
	n = &cn->sn->node;
	for (size_t v = 0; v < h->res.n_volumes; v++) {
		if (!h->res.volumes[v].counted || !h->pools[v])
			continue;
		k = pool_index(n, h->pools[v]);
		if (k >= 0)
			n->pools[k].reserved += h->req->req.volumes[v].size;
	}
	h->cpus_taken = 0;
	if (h->req->req.cpus && (k = numa_index(n, h->res.cpu_numa_id)) >= 0) {
		unsigned take = h->req->req.cpus;
		if (take > n->numa[k].cpus_free)
			take = n->numa[k].cpus_free;
		n->numa[k].cpus_free -= take;
		h->cpus_taken = take;
	}
	h->applied = true;
}

static void hold_uncount(struct cnode *cn, struct hold *h)
{
	struct sched_node *n;
	int k;

	if (!cn || !cn->sn || !h->applied)
		return;
	n = &cn->sn->node;
	for (size_t v = 0; v < h->res.n_volumes; v++) {
		if (!h->res.volumes[v].counted || !h->pools[v])
			continue;
		k = pool_index(n, h->pools[v]);
		if (k < 0)
			continue;
		uint64_t sz = h->req->req.volumes[v].size;
		n->pools[k].reserved = n->pools[k].reserved > sz ? n->pools[k].reserved - sz : 0;
	}
	if (h->cpus_taken && (k = numa_index(n, h->res.cpu_numa_id)) >= 0)
		n->numa[k].cpus_free += h->cpus_taken;
	h->applied = false;
}

static void hold_free(struct hold *h)
{
	if (!h)
		return;
	for (size_t v = 0; v < SCHED_MAX_VOLUMES; v++)
		free(h->pools[v]);
	sched_pod_request_free(h->req);
	free(h->pod_uid);
	free(h->ns);
	free(h->name);
	free(h->node);
	free(h);
}

static void update_next_expiry(struct cluster *c)
{
	uint64_t next = UINT64_MAX;

	for (struct hold *h = c->holds; h; h = h->next)
		if (h->expires_at < next)
			next = h->expires_at;
	atomic_store(&c->next_expiry, next);
}

/* Unlinks and frees the holds `drop` says so of; the write lock is held. */
static void holds_drop_if(struct cluster *c, bool (*drop)(struct hold *h, void *ud), void *ud)
{
	for (struct hold **pp = &c->holds; *pp;) {
		struct hold *h = *pp;
		if (drop(h, ud)) {
			hold_uncount(node_find(c, h->node), h);
			*pp = h->next;
			c->n_holds--;
			hold_free(h);
		} else {
			pp = &h->next;
		}
	}
	update_next_expiry(c);
}

static bool expired(struct hold *h, void *ud)
{
	const uint64_t *now = ud;

	if (h->expires_at > *now)
		return false;
	log_debug("hold_expired", "pod=%s/%s node=%s", h->ns, h->name, h->node);
	return true;
}

/* Lazily, from every verb: drops what expired. Cheap when nothing did. */
static void sweep(struct cluster *c)
{
	uint64_t now = cluster_now(c);

	if (atomic_load(&c->next_expiry) > now)
		return;
	pthread_rwlock_wrlock(&c->lock);
	holds_drop_if(c, expired, &now);
	pthread_rwlock_unlock(&c->lock);
}

void cluster_expire(struct cluster *c)
{
	sweep(c);
}

/* ---- records -------------------------------------------------------------------------- */

struct confirmed_on {
	const char *node;
	uint64_t asked_at;
};

/*
 * A node applies a reservation to its record before it answers the POST (qv_report runs
 * before the reply), so any record asked for after that answer arrived carries it: the
 * hold goes, whatever the generation. That includes a 304: the record the view already has
 * is then the node's current one. Comparing generations instead kept a hold counted twice
 * for its whole TTL when a poll fetched the new generation before the POST's answer came
 * back (every later poll was a 304 of that same generation).
 */
static bool confirmed_and_shown(struct hold *h, void *ud)
{
	const struct confirmed_on *co = ud;

	/* A record asked for before the node confirmed may predate the reservation. */
	return h->confirmed && strcmp(h->node, co->node) == 0 && co->asked_at > h->confirmed_at;
}

int cluster_record_put(struct cluster *c, const json_t *record, enum cluster_source source,
		       const char *url, char *err, size_t err_len)
{
	return cluster_record_put_at(c, record, source, url, cluster_now(c), err, err_len);
}

/*
 * How old a PmemNode status is by its `heartbeat` (RFC 3339 UTC, the node's wall clock when it
 * wrote it; kube-publisher.c): true with *age_ms when it has a readable one. Through the API
 * server an event's arrival says nothing about the node's liveness (a re-list or a bookmark
 * delivers a dead node's last record as fresh), the heartbeat does.
 */
static bool heartbeat_age(const json_t *record, uint64_t *age_ms)
{
	const char *hb = json_string_value(json_object_get(record, "heartbeat"));
	struct timespec now;
	struct tm tm = {0};
	const char *rest;
	int64_t at_ms, now_ms;
	unsigned frac = 0;

	if (!hb || !(rest = strptime(hb, "%Y-%m-%dT%H:%M:%S", &tm)))
		return false;
	if (*rest == '.') {
		unsigned digits = 0;

		for (rest++; *rest >= '0' && *rest <= '9'; rest++)
			if (digits < 3) {
				frac = frac * 10 + (unsigned)(*rest - '0');
				digits++;
			}
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (strcmp(rest, "Z") != 0)
		return false;
	at_ms = (int64_t)timegm(&tm) * 1000 + frac;
	clock_gettime(CLOCK_REALTIME, &now);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	/* A node clock ahead of ours reads as fresh, not as negative age. */
	*age_ms = now_ms > at_ms ? (uint64_t)(now_ms - at_ms) : 0;
	return true;
}

int cluster_record_put_at(struct cluster *c, const json_t *record, enum cluster_source source,
			  const char *url, uint64_t asked_at, char *err, size_t err_len)
{
	const char *name = json_string_value(json_object_get(record, "node"));
	json_t *copy;
	struct sched_owned_node *sn = NULL;
	struct cnode *cn;
	char e[256] = "";
	json_int_t gen = json_integer_value(json_object_get(record, "generation"));

	if (!name || !*name || strlen(name) > SCHED_EXT_MAX_NAME) {
		snprintf(err, err_len, "the record has no node name");
		return -EINVAL;
	}
	copy = json_deep_copy(record);
	if (!copy)
		return -ENOMEM;
	if (sched_node_from_record(copy, &sn, e, sizeof(e)) == -ENOMEM) {
		json_decref(copy);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&c->lock);
	cn = node_find(c, name);
	if (!cn && !(cn = node_add(c, name))) {
		pthread_rwlock_unlock(&c->lock);
		sched_node_free(sn);
		json_decref(copy);
		return -ENOMEM;
	}
	/* The old node goes with what was counted on it; the holds are counted again below. */
	for (struct hold *h = c->holds; h; h = h->next)
		if (strcmp(h->node, name) == 0)
			h->applied = false;
	sched_node_free(cn->sn);
	json_decref(cn->record);
	cn->sn = sn;
	cn->record = copy;
	cn->source = source;
	cn->fetched_at = cluster_now(c);
	{
		uint64_t age;

		cn->has_heartbeat = source == CLUSTER_SOURCE_KUBE && heartbeat_age(copy, &age);
		if (cn->has_heartbeat)
			cn->fetched_at = cn->fetched_at > age ? cn->fetched_at - age : 0;
	}
	cn->generation = (uint64_t)gen;
	snprintf(cn->error, sizeof(cn->error), "%s%.200s",
		 sn ? "" : "invalid record: ", sn ? "" : e);
	if (url && (!cn->url || strcmp(cn->url, url) != 0)) {
		free(cn->url);
		cn->url = strdup(url);
	}
	/* A record asked for after the node confirmed a reservation carries it: the hold goes. */
	holds_drop_if(c, confirmed_and_shown, &(struct confirmed_on){name, asked_at});
	for (struct hold *h = c->holds; h; h = h->next)
		if (strcmp(h->node, name) == 0)
			hold_count(cn, h);
	pthread_rwlock_unlock(&c->lock);
	return 0;
}

void cluster_record_touch(struct cluster *c, const char *node, uint64_t asked_at)
{
	struct cnode *cn;

	pthread_rwlock_wrlock(&c->lock);
	cn = node_find(c, node);
	if (cn) {
		cn->fetched_at = cluster_now(c);
		if (cn->sn)
			cn->error[0] = '\0';
		/* Unchanged since a reservation was confirmed: the record in hand shows it. */
		holds_drop_if(c, confirmed_and_shown, &(struct confirmed_on){node, asked_at});
	}
	pthread_rwlock_unlock(&c->lock);
}

void cluster_record_error(struct cluster *c, const char *node, const char *error)
{
	struct cnode *cn;

	pthread_rwlock_wrlock(&c->lock);
	cn = node_find(c, node);
	if (cn)
		snprintf(cn->error, sizeof(cn->error), "%s", error);
	pthread_rwlock_unlock(&c->lock);
}

static bool on_node(struct hold *h, void *ud)
{
	return strcmp(h->node, (const char *)ud) == 0;
}

void cluster_record_remove(struct cluster *c, const char *node)
{
	pthread_rwlock_wrlock(&c->lock);
	holds_drop_if(c, on_node, (void *)node);
	for (size_t i = 0; i < c->n_nodes; i++) {
		if (strcmp(c->nodes[i]->name, node) != 0)
			continue;
		strmap_del(&c->by_name, c->nodes[i]->name);
		c->members++;
		cnode_free(c->nodes[i]);
		c->nodes[i] = c->nodes[--c->n_nodes];
		break;
	}
	pthread_rwlock_unlock(&c->lock);
}

void cluster_touch_source(struct cluster *c, enum cluster_source source)
{
	uint64_t now = cluster_now(c);

	pthread_rwlock_wrlock(&c->lock);
	/* Not the nodes whose records carry a heartbeat: their age is the heartbeat's, or a
	 * bookmark would keep a dead node looking alive. */
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i]->source == source && !c->nodes[i]->has_heartbeat)
			c->nodes[i]->fetched_at = now;
	pthread_rwlock_unlock(&c->lock);
}

void cluster_keep_source(struct cluster *c, enum cluster_source source, const json_t *items)
{
	json_t *listed = json_object();
	char **gone = NULL;
	size_t n_gone = 0, k;
	json_t *it;

	if (!listed)
		return;
	json_array_foreach (items, k, it) {
		const char *n =
			json_string_value(json_object_get(json_object_get(it, "status"), "node"));
		if (n)
			json_object_set_new(listed, n, json_true());
	}
	pthread_rwlock_rdlock(&c->lock);
	gone = calloc(c->n_nodes + 1, sizeof(*gone));
	for (size_t i = 0; gone && i < c->n_nodes; i++)
		if (c->nodes[i]->source == source && !json_object_get(listed, c->nodes[i]->name))
			gone[n_gone++] = strdup(c->nodes[i]->name);
	pthread_rwlock_unlock(&c->lock);
	/* Outside the read lock: removing takes the write lock. */
	for (size_t i = 0; i < n_gone; i++) {
		if (gone[i])
			cluster_record_remove(c, gone[i]);
		free(gone[i]);
	}
	free(gone);
	json_decref(listed);
}

/* Why a node cannot be used now, or NULL. The lock is held. */
static const char *unusable(struct cluster *c, const struct cnode *cn, uint64_t now, char *buf,
			    size_t len)
{
	if (!cn->sn)
		return cn->error;
	if (cn->source != CLUSTER_SOURCE_SIMULATE && now - cn->fetched_at > c->max_age_ms) {
		snprintf(buf, len,
			 "record is %llus old (max %llus): the node's pmemd is not "
			 "reporting%s%.120s",
			 (unsigned long long)((now - cn->fetched_at) / 1000),
			 (unsigned long long)(c->max_age_ms / 1000), cn->error[0] ? " (" : "",
			 cn->error);
		if (cn->error[0])
			snprintf(buf + strlen(buf), len - strlen(buf), ")");
		return buf;
	}
	return NULL;
}

static void infeasible(struct sched_result *r, const char *fmt, const char *a, const char *b)
{
	memset(r, 0, sizeof(*r));
	r->cpu_numa_id = -1;
	snprintf(r->reason, sizeof(r->reason), fmt, a, b);
}

/*
 * A PVC shared by pods is one volume: when another pod's hold already counts a claim of this
 * request, the claim is where that hold put it (bound_node/bound_numa), not new capacity.
 * Marks volumes of `req` (the lock is held, and the marks point into the holds, so they are
 * undone with unmark_held_claims before the lock goes). Returns how many were marked.
 */
static size_t mark_held_claims(struct cluster *c, struct sched_pod_request *pr, const char *pod_uid)
{
	size_t marked = 0;

	for (size_t i = 0; i < pr->req.n_volumes; i++) {
		struct sched_volume *v = &pr->volumes[i];

		if (!v->id || v->bound_node || strncmp(v->id, "pvc:", 4) != 0)
			continue;
		for (struct hold *h = c->holds; h && !v->bound_node; h = h->next) {
			if (pod_uid && strcmp(h->pod_uid, pod_uid) == 0)
				continue; /* its own earlier decision is replaced, not shared */
			for (size_t k = 0; k < h->res.n_volumes; k++) {
				const struct sched_volume *hv = &h->req->req.volumes[k];

				if (h->res.volumes[k].counted && hv->id &&
				    strcmp(hv->id, v->id) == 0) {
					v->bound_node = h->node;
					v->bound_numa = h->res.volumes[k].numa_id;
					marked++;
					break;
				}
			}
		}
	}
	return marked;
}

static void unmark_held_claims(struct sched_pod_request *pr, size_t marked, const bool *was)
{
	for (size_t i = 0; marked && i < pr->req.n_volumes; i++)
		if (!was[i] && pr->volumes[i].bound_node) {
			pr->volumes[i].bound_node = NULL;
			pr->volumes[i].bound_numa = -1;
			marked--;
		}
}

/* One node's verdict; the lock is held. `cn`: the node named `name`, or NULL when it has no
 * record. */
static int evaluate_node(struct cluster *c, const struct sched_prepared *req, const char *name,
			 struct cnode *cn, uint64_t now, struct sched_result *out)
{
	char why[SCHED_REASON_MAX];
	const char *u;

	if (!cn) {
		infeasible(out, "no pmemd record for node %s%s", name,
			   c->source == CLUSTER_SOURCE_NONE ? " (no source of node records)" : "");
		return 0;
	}
	u = unusable(c, cn, now, why, sizeof(why));
	if (u) {
		infeasible(out, "%s%s", u, "");
		return 0;
	}
	return sched_evaluate_prepared(&cn->sn->node, req, out);
}

/* One large evaluation, shared by the caller and the pool's workers under the caller's read
 * lock. */
struct eval_job {
	struct cluster *c;
	const struct sched_prepared *req;
	const char *const *names;
	struct cnode *const *nodes; /* names[i]'s node, resolved before; NULL: look each up */
	struct sched_result *results;
	size_t n;
	uint64_t now;
	atomic_size_t next; /* the first node no thread has taken yet */
	atomic_int r;	    /* the first failure; 0 */
};

/* Nodes taken at a time: small enough that the caller waits little for a worker's last
 * chunk, large enough that taking one costs nothing next to evaluating it. */
#define EVAL_CHUNK 256

/* Takes chunks of the job until none is left (or one failed). */
static void eval_job_run(struct eval_job *j)
{
	for (;;) {
		size_t from = atomic_fetch_add(&j->next, EVAL_CHUNK), to;

		if (from >= j->n || atomic_load(&j->r))
			return;
		to = from + EVAL_CHUNK < j->n ? from + EVAL_CHUNK : j->n;
		for (size_t i = from; i < to; i++) {
			struct cnode *cn = j->nodes ? j->nodes[i] : node_find(j->c, j->names[i]);
			int r = evaluate_node(j->c, j->req, j->names[i], cn, j->now,
					      &j->results[i]);

			if (r) {
				int zero = 0;
				atomic_compare_exchange_strong(&j->r, &zero, r);
				return;
			}
		}
	}
}

/*
 * Nodes are independent and the view is read-only under the read lock, so a large filter is
 * shared with worker threads: kube-scheduler waits for the answer, and 5,000 nodes on one
 * core took most of a millisecond (bench/sched-latency). The work is taken in chunks, not cut
 * into one slice per thread, because on a shared machine a worker may get no core for a
 * while: the caller then evaluates what the worker has not taken, instead of waiting for it.
 */
#define EVAL_SLICE_MIN	1024 /* per thread: below this, a thread costs more than it saves */
#define EVAL_SLICES_MAX 4

/*
 * Workers that stay up for the view's life: a thread made per call cost tens of
 * microseconds and added its scheduling to every filter's tail latency. One evaluation uses
 * the pool at a time; a concurrent one (the HTTP server has a thread per core) runs on its
 * own thread instead of waiting.
 */
struct eval_pool {
	pthread_mutex_t busy; /* held by the evaluation using the workers */
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	pthread_t th[EVAL_SLICES_MAX];
	size_t n_workers;
	uint64_t seq;  /* job number; a worker joins each one at most once */
	bool open;     /* the job still takes workers (the caller has not finished) */
	size_t active; /* workers in the current job */
	bool stop;
	struct eval_job job;
};

static void *eval_worker_run(void *arg)
{
	struct eval_pool *p = arg;
	uint64_t seen = 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->seq == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->stop)
			break;
		seen = p->seq;
		/* A worker that wakes after the caller finished has nothing to do, and the
		 * caller does not wait for it. */
		if (!p->open)
			continue;
		p->active++;
		pthread_mutex_unlock(&p->mu);
		eval_job_run(&p->job);
		pthread_mutex_lock(&p->mu);
		if (--p->active == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void eval_pool_free(struct eval_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->n_workers; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->busy);
	free(p);
}

/* `workers` threads (the caller is one more); NULL when not even one starts. */
static struct eval_pool *eval_pool_new(size_t workers)
{
	struct eval_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->busy, NULL);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	for (size_t i = 0; i < workers && i + 1 < EVAL_SLICES_MAX; i++) {
		if (pthread_create(&p->th[p->n_workers], NULL, eval_worker_run, p) != 0)
			break;
		p->n_workers++;
	}
	if (!p->n_workers) {
		eval_pool_free(p);
		return NULL;
	}
	return p;
}

/* The view's pool, started on first use; NULL (evaluate on one thread) when it cannot be. */
static struct eval_pool *eval_pool_get(struct cluster *c)
{
	struct eval_pool *p;

	pthread_mutex_lock(&c->pool_lock);
	if (!c->pool && !c->pool_failed) {
		c->pool = eval_pool_new(c->eval_slices - 1);
		c->pool_failed = !c->pool;
	}
	p = c->pool;
	pthread_mutex_unlock(&c->pool_lock);
	return p;
}

static int evaluate_all(struct cluster *c, const struct sched_request *sreq,
			const char *const *names, struct cnode *const *nodes, size_t n,
			uint64_t now, struct sched_result *results)
{
	struct sched_prepared prep;
	struct eval_job one = {.c = c,
			       .req = &prep,
			       .names = names,
			       .nodes = nodes,
			       .results = results,
			       .n = n,
			       .now = now};
	struct eval_pool *p;
	int r;

	/* Once per call, after the held claims are marked (they make volumes bound). */
	if (sched_request_prepare(sreq, &prep) < 0) {
		if (n)
			infeasible(&results[0], "%s%s", prep.reason, "");
		return -EINVAL;
	}
	atomic_init(&one.next, 0);
	atomic_init(&one.r, 0);
	if (c->eval_slices < 2 || n < 2 * EVAL_SLICE_MIN) {
		eval_job_run(&one);
		return atomic_load(&one.r);
	}
	p = eval_pool_get(c);
	if (!p || pthread_mutex_trylock(&p->busy) != 0) {
		eval_job_run(&one);
		return atomic_load(&one.r);
	}
	pthread_mutex_lock(&p->mu);
	p->job = one;
	atomic_init(&p->job.next, 0);
	atomic_init(&p->job.r, 0);
	p->open = true;
	p->seq++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	eval_job_run(&p->job);
	/* Nothing is left to take: close the job and wait for the chunks in progress. */
	pthread_mutex_lock(&p->mu);
	p->open = false;
	while (p->active)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	r = atomic_load(&p->job.r);
	pthread_mutex_unlock(&p->busy);
	return r;
}

/* The length of names[0..n) when they lie back to back in one block (each right after the
 * previous one's NUL), else 0. */
static size_t names_block_len(const char *const *names, size_t n)
{
	const char *end = n ? names[0] : NULL;

	for (size_t i = 0; i < n; i++) {
		if (names[i] != end)
			return 0;
		end += strlen(end) + 1;
	}
	return n ? (size_t)(end - names[0]) : 0;
}

/*
 * The nodes names[0..n) name, from the view's name cache: NULL when the cache is busy (another
 * call is using it), when the names are not one block, or when it cannot grow (the caller then
 * looks each name up). Otherwise the cache's mutex is held until name_cache_release(). The read
 * lock is held, so `members` and the index are stable.
 */
static struct cnode *const *name_cache_resolve(struct cluster *c, const char *const *names,
					       size_t n)
{
	struct name_cache *nc = &c->names;
	size_t len = names_block_len(names, n);

	if (!len || pthread_mutex_trylock(&nc->mu) != 0)
		return NULL;
	if (nc->n == n && nc->block_len == len && nc->members == c->members &&
	    memcmp(nc->block, names[0], len) == 0) {
		nc->hits++;
		return nc->nodes;
	}
	nc->misses++;
	if (n > nc->cap) {
		struct cnode **v = realloc(nc->nodes, n * sizeof(*v));

		if (!v)
			goto fail;
		nc->nodes = v;
		nc->cap = n;
	}
	if (len > nc->block_cap) {
		char *b = realloc(nc->block, len);

		if (!b)
			goto fail;
		nc->block = b;
		nc->block_cap = len;
	}
	for (size_t i = 0; i < n; i++)
		nc->nodes[i] = node_find(c, names[i]);
	memcpy(nc->block, names[0], len);
	nc->block_len = len;
	nc->n = n;
	nc->members = c->members;
	return nc->nodes;
fail:
	nc->n = 0;
	pthread_mutex_unlock(&nc->mu);
	return NULL;
}

static void name_cache_release(struct cluster *c, struct cnode *const *nodes)
{
	if (nodes)
		pthread_mutex_unlock(&c->names.mu);
}

void cluster_name_cache_stats(struct cluster *c, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&c->names.mu);
	*hits = c->names.hits;
	*misses = c->names.misses;
	pthread_mutex_unlock(&c->names.mu);
}

int cluster_evaluate(struct cluster *c, struct sched_pod_request *pr, const char *const *names,
		     size_t n, struct sched_result *results)
{
	struct cnode *const *nodes;
	struct sched_request *req = &pr->req;
	uint64_t now;
	int r = 0;

	bool was[SCHED_MAX_VOLUMES] = {false};
	size_t marked;

	sweep(c);
	now = cluster_now(c);
	for (size_t i = 0; i < req->n_volumes && i < SCHED_MAX_VOLUMES; i++)
		was[i] = req->volumes[i].bound_node != NULL;
	pthread_rwlock_rdlock(&c->lock);
	marked = mark_held_claims(c, pr, pr->uid);
	nodes = name_cache_resolve(c, names, n);
	r = evaluate_all(c, req, names, nodes, n, now, results);
	name_cache_release(c, nodes);
	unmark_held_claims(pr, marked, was);
	pthread_rwlock_unlock(&c->lock);
	return r;
}

/* ---- pods ----------------------------------------------------------------------------- */

static int no_kube_lookup(void *ud, const char *ns, const char *claim, struct sched_pvc_info *out,
			  char *err, size_t err_len)
{
	(void)ud;
	(void)ns;
	(void)claim;
	(void)out;
	/* sched-pod prefixes "persistentvolumeclaim <ns>/<claim>: ". */
	snprintf(err, err_len, "cannot be looked up: no Kubernetes API configured");
	return -ENOTCONN;
}

int cluster_pod_request(struct cluster *c, const json_t *pod, struct sched_pod_request **out,
			char *err, size_t err_len)
{
	struct sched_pod_opts o = {
		.driver = c->driver,
		.lookup_pvc = c->kube ? cluster_kube_pvc_lookup : no_kube_lookup,
		.lookup_ud = c->kube ? (void *)c->kube : (void *)c,
	};

	pthread_rwlock_rdlock(&c->lock);
	o.pmem_policy = c->pmem_policy;
	o.cpu_policy = c->cpu_policy;
	pthread_rwlock_unlock(&c->lock);

	return sched_pod_request_build(pod, &o, out, err, err_len);
}

static char *pod_key(const json_t *pod)
{
	const json_t *md = json_object_get(pod, "metadata");
	const char *uid = json_string_value(json_object_get(md, "uid"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	char *k = NULL;

	if (uid && *uid)
		return strdup(uid);
	if (!name)
		return NULL;
	if (asprintf(&k, "%s/%s", ns && *ns ? ns : "default", name) < 0)
		return NULL;
	return k;
}

void cluster_pod_remember(struct cluster *c, json_t *pod)
{
	char *key = pod_key(pod);
	uint64_t now = cluster_now(c);
	struct pod_slot *s = NULL;

	if (!key)
		return;
	pthread_mutex_lock(&c->pods_lock);
	for (size_t i = 0; i < CLUSTER_POD_CACHE && !s; i++)
		if (c->pods[i].key && strcmp(c->pods[i].key, key) == 0)
			s = &c->pods[i];
	if (!s) {
		/* A ring: the oldest entry makes room. */
		s = &c->pods[c->pods_next];
		c->pods_next = (c->pods_next + 1) % CLUSTER_POD_CACHE;
		free(s->key);
		s->key = key;
		key = NULL;
	}
	json_decref(s->pod);
	s->pod = json_incref(pod);
	s->at = now;
	pthread_mutex_unlock(&c->pods_lock);
	free(key);
}

static json_t *pod_recall(struct cluster *c, const char *uid, const char *ns, const char *name)
{
	char nk[600];
	json_t *pod = NULL;
	uint64_t now = cluster_now(c);

	snprintf(nk, sizeof(nk), "%s/%s", ns, name);
	pthread_mutex_lock(&c->pods_lock);
	for (size_t i = 0; i < CLUSTER_POD_CACHE && !pod; i++) {
		struct pod_slot *s = &c->pods[i];
		if (!s->key || now - s->at > CLUSTER_POD_TTL_MS)
			continue;
		if ((uid && *uid && strcmp(s->key, uid) == 0) || strcmp(s->key, nk) == 0)
			pod = json_incref(s->pod);
	}
	pthread_mutex_unlock(&c->pods_lock);
	return pod;
}

/* ---- bind ----------------------------------------------------------------------------- */

static bool hold_of_pod(struct hold *h, void *ud)
{
	return strcmp(h->pod_uid, (const char *)ud) == 0;
}

static bool hold_with_id(struct hold *h, void *ud)
{
	return h->id == *(const uint64_t *)ud;
}

/* The reservation the node agent gets (api-placement: POST /v1/reservations). */
static json_t *reservation_body(const struct hold *h, uint64_t ttl_ms)
{
	json_t *vols = json_array();
	json_t *b;

	if (!vols)
		return NULL;
	for (size_t v = 0; v < h->res.n_volumes; v++) {
		const struct sched_volume *sv = &h->req->req.volumes[v];
		json_t *o;
		if (!h->res.volumes[v].counted)
			continue;
		o = json_pack("{s:I, s:i}", "size_bytes", (json_int_t)sv->size, "numa_node",
			      h->res.volumes[v].numa_id);
		if (!o) {
			json_decref(vols);
			return NULL;
		}
		if (sv->fstype)
			json_object_set_new(o, "fstype", json_string(sv->fstype));
		/* The node matches the volume's create by claim ("namespace/name"). */
		if (sv->id && strncmp(sv->id, "pvc:", 4) == 0)
			json_object_set_new(o, "claim", json_string(sv->id + 4));
		json_array_append_new(vols, o);
	}
	b = json_pack("{s:s, s:s, s:s, s:o, s:I}", "pod_uid", h->pod_uid, "pod_name", h->name,
		      "namespace", h->ns, "volumes", vols, "ttl_seconds",
		      (json_int_t)((ttl_ms + 999) / 1000));
	if (b && h->req->req.cpus) {
		json_object_set_new(b, "cpus", json_integer(h->req->req.cpus));
		json_object_set_new(b, "cpu_numa_node", json_integer(h->res.cpu_numa_id));
	}
	return b;
}

static void hold_remove(struct cluster *c, uint64_t id)
{
	pthread_rwlock_wrlock(&c->lock);
	holds_drop_if(c, hold_with_id, &id);
	pthread_rwlock_unlock(&c->lock);
}

/*
 * Under the write lock: the pod's verdict on the node with every hold counted, and its hold
 * when feasible. 0 with *out (and the agent URL in *url), or -errno with err.
 */
static int hold_take(struct cluster *c, const struct sched_ext_binding *b,
		     struct sched_pod_request **req, uint64_t *id, char **url, json_t **body,
		     char *numa, size_t numa_len, char *err, size_t err_len)
{
	struct hold *h = NULL;
	struct cnode *cn;
	struct sched_result res;
	char why[SCHED_REASON_MAX];
	const char *u;
	const char *uid = b->pod_uid && *b->pod_uid ? b->pod_uid : (*req)->uid;
	char nk[600];
	uint64_t now = cluster_now(c);
	int r;

	if (!uid || !*uid) {
		/* Without a UID the pod is named by namespace/name. */
		snprintf(nk, sizeof(nk), "%s/%s", b->pod_namespace, b->pod_name);
		uid = nk;
	}
	pthread_rwlock_wrlock(&c->lock);
	holds_drop_if(c, expired, &now);
	/* A bind repeated for the same pod replaces its earlier decision, never adds to it. */
	holds_drop_if(c, hold_of_pod, (void *)uid);
	cn = node_find(c, b->node);
	if (!cn) {
		snprintf(err, err_len, "node %s: no pmemd record for it", b->node);
		r = -ENOENT;
		goto out;
	}
	if ((u = unusable(c, cn, now, why, sizeof(why)))) {
		snprintf(err, err_len, "node %s: %s", b->node, u);
		r = -ESTALE;
		goto out;
	}
	{
		bool was[SCHED_MAX_VOLUMES] = {false};
		size_t marked;

		for (size_t i = 0; i < (*req)->req.n_volumes && i < SCHED_MAX_VOLUMES; i++)
			was[i] = (*req)->req.volumes[i].bound_node != NULL;
		marked = mark_held_claims(c, *req, uid);
		r = sched_evaluate(&cn->sn->node, &(*req)->req, &res);
		/* The hold keeps the request, but not pointers into other holds: the result says
		 * which volumes were counted, which is all the hold needs later. */
		unmark_held_claims(*req, marked, was);
	}
	if (r < 0) {
		snprintf(err, err_len, "node %s: %s", b->node, res.reason);
		goto out;
	}
	if (!res.feasible) {
		snprintf(err, err_len, "node %s: %s", b->node, res.reason);
		r = -ENOSPC;
		goto out;
	}
	h = calloc(1, sizeof(*h));
	if (!h || !(h->pod_uid = strdup(uid)) || !(h->ns = strdup(b->pod_namespace)) ||
	    !(h->name = strdup(b->pod_name)) || !(h->node = strdup(b->node)))
		goto oom;
	for (size_t v = 0; v < res.n_volumes; v++)
		if (res.volumes[v].counted && res.volumes[v].pool >= 0 &&
		    !(h->pools[v] = strdup(cn->sn->node.pools[res.volumes[v].pool].name)))
			goto oom;
	/* The fresh decision must fit the node as counted now: sched_apply checks that. */
	r = sched_apply(&cn->sn->node, &(*req)->req, &res);
	if (r < 0) {
		snprintf(err, err_len, "node %s: the decision no longer fits (%s)", b->node,
			 res.reason);
		goto out;
	}
	h->applied = true;
	h->cpus_taken = (*req)->req.cpus;
	h->res = res;
	h->req = *req;
	*req = NULL;
	h->id = ++c->next_hold_id;
	h->expires_at = now + c->ttl_ms;
	h->next = c->holds;
	c->holds = h;
	c->n_holds++;
	update_next_expiry(c);
	/* What the calls out need, copied while the hold cannot go away under us. */
	*id = h->id;
	*url = cn->url ? strdup(cn->url) : NULL;
	/* Volumes that all exist already and no CPUs: nothing for the node to hold. */
	bool counted = h->req->req.cpus > 0;
	for (size_t v = 0; v < res.n_volumes; v++)
		counted |= res.volumes[v].counted;
	/* agents: POSTed to the node; kube: its claims become PVC annotations the node reads. */
	if ((c->agents || c->kube) && counted && !(*body = reservation_body(h, c->ttl_ms)))
		goto oom_taken;
	int nid = res.cpu_numa_id >= 0 ? res.cpu_numa_id
		  : res.n_volumes      ? res.volumes[0].numa_id
				       : -1;
	if (nid >= 0)
		snprintf(numa, numa_len, "%d", nid);
	else
		numa[0] = '\0';
	h = NULL;
	r = 0;
	goto out;
oom_taken:
	/* The hold was counted: take it back. */
	h = NULL;
	holds_drop_if(c, hold_with_id, id);
	free(*url);
	*url = NULL;
oom:
	snprintf(err, err_len, "out of memory");
	r = -ENOMEM;
out:
	pthread_rwlock_unlock(&c->lock);
	hold_free(h);
	return r;
}

int cluster_bind(struct cluster *c, const struct sched_ext_binding *b, char *err, size_t err_len)
{
	struct sched_pod_request *req = NULL;
	json_t *pod, *body = NULL;
	char e[CLUSTER_ERR_MAX], numa[16] = "";
	char *url = NULL;
	uint64_t id = 0;
	int r;

	pod = pod_recall(c, b->pod_uid, b->pod_namespace, b->pod_name);
	if (!pod && c->kube) {
		r = cluster_kube_get_pod(c->kube, b->pod_namespace, b->pod_name, &pod, e,
					 sizeof(e));
		if (r < 0) {
			snprintf(err, err_len, "cannot read pod %s/%s: %s", b->pod_namespace,
				 b->pod_name, e);
			return r;
		}
	}
	if (!pod) {
		snprintf(err, err_len,
			 "pod %s/%s not seen by filter (and no Kubernetes API to read it)",
			 b->pod_namespace, b->pod_name);
		return -ENOENT;
	}
	r = cluster_pod_request(c, pod, &req, e, sizeof(e));
	json_decref(pod);
	if (r < 0) {
		snprintf(err, err_len, "pod %s/%s: %s", b->pod_namespace, b->pod_name, e);
		return r;
	}
	if (sched_pod_request_empty(req)) {
		/* Nothing of pmemd's to count: only the binding itself. */
		sched_pod_request_free(req);
		if (!c->kube)
			return 0;
		r = cluster_kube_bind(c->kube, b->pod_namespace, b->pod_name, b->pod_uid, b->node,
				      NULL, e, sizeof(e));
		if (r < 0)
			snprintf(err, err_len, "%s", e);
		return r;
	}
	r = hold_take(c, b, &req, &id, &url, &body, numa, sizeof(numa), err, err_len);
	sched_pod_request_free(req);
	if (r < 0)
		return r;
	/* From here on the hold is the view's: it is named by its id only. */
	if (c->agents && url && body) {
		r = cluster_agents_reserve(c->agents, url, body, e, sizeof(e));
		if (r < 0) {
			snprintf(err, err_len, "node %s: reservation refused by %s: %s", b->node,
				 url, e);
			hold_remove(c, id);
			json_decref(body);
			free(url);
			return r;
		}
		/* The node counts it now: any record asked for from now on shows it. */
		pthread_rwlock_wrlock(&c->lock);
		for (struct hold *x = c->holds; x; x = x->next) {
			if (x->id != id)
				continue;
			x->confirmed = true;
			x->confirmed_at = cluster_now(c);
		}
		pthread_rwlock_unlock(&c->lock);
	}
	if (c->kube && !c->agents && body) {
		/* Before the binding: once the pod is bound its volumes may be created at once. */
		r = cluster_kube_annotate_claims(c->kube, body, b->node, e, sizeof(e));
		if (r < 0) {
			snprintf(err, err_len, "%s", e);
			hold_remove(c, id);
			json_decref(body);
			free(url);
			return r;
		}
	}
	json_decref(body);
	free(url);
	if (c->kube) {
		r = cluster_kube_bind(c->kube, b->pod_namespace, b->pod_name, b->pod_uid, b->node,
				      numa[0] ? numa : NULL, e, sizeof(e));
		if (r < 0) {
			snprintf(err, err_len, "%s", e);
			hold_remove(c, id);
			return r;
		}
	}
	log_info("bound", "pod=%s/%s node=%s numa=%s", b->pod_namespace, b->pod_name, b->node,
		 numa[0] ? numa : "none");
	return 0;
}

/* ---- JSON ----------------------------------------------------------------------------- */

static json_t *node_json(struct cluster *c, const struct cnode *cn, uint64_t now)
{
	char why[SCHED_REASON_MAX];
	const char *u = unusable(c, cn, now, why, sizeof(why));
	uint64_t alloc = 0, used = 0, res = 0, held = 0;
	unsigned cpus = 0, cpus_free = 0;
	json_t *pools = json_array(), *o;

	if (!pools)
		return NULL;
	for (struct hold *h = c->holds; h; h = h->next)
		if (h->applied && strcmp(h->node, cn->name) == 0)
			for (size_t v = 0; v < h->res.n_volumes; v++)
				if (h->res.volumes[v].counted)
					held += h->req->req.volumes[v].size;
	if (cn->sn) {
		const struct sched_node *n = &cn->sn->node;
		for (size_t i = 0; i < n->n_pools; i++) {
			const struct sched_pool *p = &n->pools[i];
			alloc += p->allocatable;
			used += p->allocated;
			res += p->reserved;
			json_array_append_new(
				pools, json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "name", p->name,
						 "numa_node", n->numa[p->numa].id,
						 "allocatable_bytes", (json_int_t)p->allocatable,
						 "allocated_bytes", (json_int_t)p->allocated,
						 "reserved_bytes", (json_int_t)p->reserved,
						 "free_bytes", (json_int_t)sched_pool_free(p)));
		}
		for (size_t i = 0; i < n->n_numa; i++) {
			cpus += n->numa[i].cpus;
			cpus_free += n->numa[i].cpus_free;
		}
	}
	o = json_pack(
		"{s:s, s:s, s:s?, s:I, s:b, s:I, s:s?, s:s?, s:{s:I, s:I, s:I, s:I, s:I, s:i, "
		"s:i, s:o}}",
		"name", cn->name, "source", cluster_source_name(cn->source), "url", cn->url,
		"age_ms", (json_int_t)(now - cn->fetched_at), "stale", u != NULL && cn->sn != NULL,
		"generation", (json_int_t)cn->generation, "error", cn->error[0] ? cn->error : NULL,
		"unusable", u, "capacity", "allocatable_bytes", (json_int_t)alloc,
		"allocated_bytes", (json_int_t)used, "reserved_bytes", (json_int_t)res,
		"held_bytes", (json_int_t)held, "free_bytes",
		(json_int_t)(alloc > used + res ? alloc - used - res : 0), "cpus", cpus,
		"cpus_free", cpus_free, "pools", pools);
	/* The record's own flag: a simulated node (a file, or a node pmemd with simulate:). */
	if (o)
		json_object_set_new(
			o, "simulated",
			json_boolean(json_is_true(json_object_get(cn->record, "simulated"))));
	return o;
}

static json_t *hold_json(const struct hold *h, uint64_t now)
{
	json_t *vols = json_array();
	uint64_t bytes = 0;

	if (!vols)
		return NULL;
	for (size_t v = 0; v < h->res.n_volumes; v++) {
		uint64_t sz = h->req->req.volumes[v].size;
		if (h->res.volumes[v].counted)
			bytes += sz;
		json_array_append_new(vols, json_pack("{s:s?, s:i, s:I, s:b}", "pool", h->pools[v],
						      "numa_node", h->res.volumes[v].numa_id,
						      "size_bytes", (json_int_t)sz, "counted",
						      h->res.volumes[v].counted));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:o, s:b, s:I}", "pod_uid",
			 h->pod_uid, "namespace", h->ns, "pod", h->name, "node", h->node, "bytes",
			 (json_int_t)bytes, "cpus", h->req->req.cpus, "cpu_numa_node",
			 h->res.cpu_numa_id, "volumes", vols, "confirmed", h->confirmed,
			 "expires_in_ms",
			 (json_int_t)(h->expires_at > now ? h->expires_at - now : 0));
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp((*(struct cnode *const *)a)->name, (*(struct cnode *const *)b)->name);
}

json_t *cluster_to_json(struct cluster *c)
{
	json_t *nodes = json_array(), *holds = json_array(), *o;
	struct cnode **sorted;
	uint64_t now;

	sweep(c);
	now = cluster_now(c);
	if (!nodes || !holds) {
		json_decref(nodes);
		json_decref(holds);
		return NULL;
	}
	pthread_rwlock_rdlock(&c->lock);
	sorted = malloc((c->n_nodes ? c->n_nodes : 1) * sizeof(*sorted));
	if (sorted && c->n_nodes) {
		memcpy(sorted, c->nodes, c->n_nodes * sizeof(*sorted));
		qsort(sorted, c->n_nodes, sizeof(*sorted), cmp_node);
		for (size_t i = 0; i < c->n_nodes; i++)
			json_array_append_new(nodes, node_json(c, sorted[i], now));
	}
	free(sorted);
	for (struct hold *h = c->holds; h; h = h->next)
		json_array_append_new(holds, hold_json(h, now));
	pthread_rwlock_unlock(&c->lock);
	o = json_pack("{s:s, s:I, s:I, s:b, s:o, s:o}", "source", cluster_source_name(c->source),
		      "max_record_age_ms", (json_int_t)c->max_age_ms, "reservation_ttl_ms",
		      (json_int_t)c->ttl_ms, "kube", c->kube != NULL, "nodes", nodes, "holds",
		      holds);
	if (o && c->agents)
		json_object_set_new(o, "agents", cluster_agents_json(c->agents));
	if (o && c->kube)
		json_object_set_new(o, "kubernetes", cluster_kube_json(c->kube));
	return o;
}

/* ---- life ----------------------------------------------------------------------------- */

static int load_simulation(struct cluster *c, const char *path, char *err, size_t err_len)
{
	struct config_errors *errs = NULL;
	json_t *records = NULL, *rec;
	char *text = NULL;
	size_t len = 0, i;
	int r = config_simulate_load(path, &records, &errs);

	if (r < 0) {
		FILE *f = open_memstream(&text, &len);
		if (f) {
			config_errors_print(errs, f);
			fclose(f);
		}
		snprintf(err, err_len, "%s", text ? text : "cannot load the simulation");
		/* One message: the last newline would end the log line early. */
		if (*err && err[strlen(err) - 1] == '\n')
			err[strlen(err) - 1] = '\0';
		free(text);
		config_errors_free(errs);
		return r;
	}
	config_errors_free(errs);
	json_array_foreach (records, i, rec) {
		r = cluster_record_put(c, rec, CLUSTER_SOURCE_SIMULATE, NULL, err, err_len);
		if (r < 0)
			break;
	}
	json_decref(records);
	return r;
}

int cluster_new(const struct cluster_opts *opts, struct cluster **out, char *err, size_t err_len)
{
	const struct config *cfg = opts->cfg;
	struct cluster *c = calloc(1, sizeof(*c));
	char msg[512] = "";
	int r;

	if (!c)
		return -ENOMEM;
	pthread_rwlock_init(&c->lock, NULL);
	pthread_mutex_init(&c->pods_lock, NULL);
	pthread_mutex_init(&c->pool_lock, NULL);
	pthread_mutex_init(&c->names.mu, NULL);
	atomic_store(&c->next_expiry, UINT64_MAX);
	c->clock_ms = opts->clock_ms;
	c->clock_ud = opts->clock_ud;
	c->max_age_ms = cfg->scheduler.max_record_age_ms;
	c->ttl_ms = cfg->placement.reservation_ttl_ms;
	{
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		c->eval_slices = cores < 1		   ? 1
				 : cores > EVAL_SLICES_MAX ? EVAL_SLICES_MAX
							   : (size_t)cores;
	}
	c->pmem_policy = (enum sched_pmem_policy)cfg->placement.pmem_policy;
	c->cpu_policy = (enum sched_cpu_policy)cfg->placement.cpu_policy;
	c->driver =
		strdup(cfg->placement.driver ? cfg->placement.driver : SCHED_POD_DRIVER_DEFAULT);
	if (!c->driver) {
		cluster_free(c);
		return -ENOMEM;
	}
	r = cluster_kube_new(cfg, opts->kube_root, &c->kube, msg, sizeof(msg));
	if (r == -ENODEV) {
		/* No API server: PVCs cannot be looked up, pods are not bound by us. */
		log_debug("cluster_kube_off", "reason=\"%s\"", msg);
	} else if (r < 0) {
		snprintf(err, err_len, "kubernetes: %s", msg);
		cluster_free(c);
		return r;
	}
	if (cfg->scheduler.simulate) {
		c->source = CLUSTER_SOURCE_SIMULATE;
		r = load_simulation(c, cfg->scheduler.simulate, err, err_len);
	} else if (cfg->scheduler.n_agents) {
		c->source = CLUSTER_SOURCE_AGENTS;
		r = cluster_agents_new(c, &cfg->scheduler, opts->agent_timeout_ms, &c->agents);
		if (r < 0)
			snprintf(err, err_len, "agents: %s", strerror(-r));
	} else if (c->kube) {
		c->source = CLUSTER_SOURCE_KUBE;
	}
	if (r < 0) {
		cluster_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int cluster_start(struct cluster *c, char *err, size_t err_len)
{
	/* PVC lookups serve every source, so their caches start whatever the source. */
	if (c->kube) {
		int r = cluster_kube_caches_start(c->kube, err, err_len);

		if (r < 0)
			return r;
	}
	switch (c->source) {
	case CLUSTER_SOURCE_AGENTS:
		return cluster_agents_start(c->agents, err, err_len);
	case CLUSTER_SOURCE_KUBE:
		return cluster_kube_watch_start(c->kube, c, err, err_len);
	case CLUSTER_SOURCE_SIMULATE:
	case CLUSTER_SOURCE_NONE:
		break;
	}
	return 0;
}

struct cluster *cluster_free(struct cluster *c)
{
	if (!c)
		return NULL;
	/* The sources write into the view: they stop first. */
	c->agents = cluster_agents_free(c->agents);
	c->kube = cluster_kube_free(c->kube);
	while (c->holds) {
		struct hold *h = c->holds;
		c->holds = h->next;
		hold_free(h);
	}
	for (size_t i = 0; i < c->n_nodes; i++)
		cnode_free(c->nodes[i]);
	for (size_t i = 0; i < CLUSTER_POD_CACHE; i++) {
		free(c->pods[i].key);
		json_decref(c->pods[i].pod);
	}
	free(c->nodes);
	strmap_clear(&c->by_name);
	free(c->driver);
	eval_pool_free(c->pool);
	free(c->names.block);
	free(c->names.nodes);
	pthread_mutex_destroy(&c->names.mu);
	pthread_mutex_destroy(&c->pool_lock);
	pthread_rwlock_destroy(&c->lock);
	pthread_mutex_destroy(&c->pods_lock);
	free(c);
	return NULL;
}
