/*
 * cluster: the scheduler role's view of the cluster: every node's record (from a simulate
 * file, from polled node agents, or from PmemNode objects through the Kubernetes API), the
 * decisions made at bind that the records do not show yet ("holds"), and the extender's
 * verbs over them.
 *
 * Concurrency: one rwlock. filter and prioritize evaluate under the read lock; bind takes
 * the write lock only to re-evaluate and count its decision (a hold), then calls out (node
 * agent, API server) without it, so a slow node never stalls filter. Two binds that race for
 * the last room: the second one's re-evaluation sees the first one's hold and fails.
 */
#ifndef PMEMD_CLUSTER_H
#define PMEMD_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sched/sched-extender.h"
#include "sched/sched-pod.h"
#include "sched/sched.h"

#define CLUSTER_POD_CACHE    4096	      /* pods remembered from filter/prioritize for bind */
#define CLUSTER_POD_TTL_MS   (10 * 60 * 1000) /* ... and for this long */
#define CLUSTER_PVC_TTL_MS   5000 /* PV answers are reused this long (PVCs, classes: watched) */
#define CLUSTER_CALL_TIMEOUT 5000 /* ms: a reservation POST, a pod binding */
#define CLUSTER_ERR_MAX	     512

/* Where the records come from (exactly one source per scheduler). */
enum cluster_source {
	CLUSTER_SOURCE_NONE,	 /* nothing configured or reachable: every node fails filter */
	CLUSTER_SOURCE_SIMULATE, /* scheduler.simulate */
	CLUSTER_SOURCE_AGENTS,	 /* scheduler.agents, polled */
	CLUSTER_SOURCE_KUBE,	 /* PmemNode objects, listed and watched */
};

const char *cluster_source_name(enum cluster_source s);

struct cluster;

struct cluster_opts {
	/* Read at cluster_new() (scheduler:, placement:, kube:); the cluster copies what it
	 * needs. */
	const struct config *cfg;
	/* Prefix for the service-account files (kube_conn_resolve); NULL in production. */
	const char *kube_root;
	/* Monotonic clock in ms; NULL: CLOCK_MONOTONIC. Tests drive time with it. */
	uint64_t (*clock_ms)(void *ud);
	void *clock_ud;
	/* Agents: the first request's timeout and the first retry; 0 = defaults. */
	unsigned agent_timeout_ms;
};

/*
 * Builds the view: loads the simulate file (its errors, "file:line:col: message", one per
 * line, in `err`), or prepares the agents, or the Kubernetes source (kube_conn_resolve
 * finds an API server). Kubernetes, when reachable, is also used for PVC lookups, pods and
 * bindings whatever the source. 0, -EINVAL, -ENOMEM, -errno.
 */
int cluster_new(const struct cluster_opts *opts, struct cluster **out, char *err, size_t err_len);

/* Starts the source's thread (agents: the poller; kube: list+watch). Simulate: nothing. */
int cluster_start(struct cluster *c, char *err, size_t err_len);

/* Stops the threads (bounded) and frees; accepts NULL, returns NULL. */
struct cluster *cluster_free(struct cluster *c);

/* SIGHUP: the placement defaults and the reservation TTL of new holds apply live (the
 * driver name needs a restart). */
void cluster_set_placement(struct cluster *c, const struct config_placement *p);

enum cluster_source cluster_get_source(const struct cluster *c);
bool cluster_has_kube(const struct cluster *c);

/* ---- records (the sources call these; tests too) ---------------------------------- */

/*
 * Stores a node's record (GET /v1/node's JSON; deep-copied) as fetched now. A record the
 * engine cannot read is kept with its error (the node then fails filter with it). Holds of
 * the node that the node has confirmed (agents: POST /v1/reservations answered 2xx) are
 * dropped once a record of another generation arrives, since that record carries them;
 * the others are counted again on the new record. `url`: the agent it came from, or NULL.
 * 0, -EINVAL (no node name; `err` says), -ENOMEM.
 */
int cluster_record_put(struct cluster *c, const json_t *record, enum cluster_source source,
		       const char *url, char *err, size_t err_len);

/*
 * The node's record is unchanged (a 304 to a request sent at asked_at, cluster_now's clock):
 * it is fresh as of now, and holds the node confirmed before asked_at are in it (they go).
 */
void cluster_record_touch(struct cluster *c, const char *node, uint64_t asked_at);

/* A fetch of the node failed: remembered as its last error; its record ages. */
void cluster_record_error(struct cluster *c, const char *node, const char *error);

/* The node is gone (a PmemNode deleted); its holds go too. */
void cluster_record_remove(struct cluster *c, const char *node);

/* ---- the extender -------------------------------------------------------------------- */

/*
 * The pod's request (sched-pod.h) with the configured defaults and this cluster's PVC
 * lookup (caches of PVCs and StorageClasses kept by watch, a GET on a miss; without a
 * Kubernetes API, a PVC cannot be looked up).
 */
int cluster_pod_request(struct cluster *c, const json_t *pod, struct sched_pod_request **out,
			char *err, size_t err_len);

/* Remembers the Pod object (a reference) for bind, by UID (else namespace/name). */
void cluster_pod_remember(struct cluster *c, json_t *pod);

/*
 * Evaluates the pod's request on each named node with the current records and holds:
 * results[i] for names[i]. A node without a record, with an unreadable one, or whose record is
 * older than scheduler.max_record_age is infeasible with that reason. A PVC another pod's
 * hold already counts is where that hold put it (shared, not counted again). The request is
 * only borrowed (marked and restored under the lock). 0 or -EINVAL (malformed request).
 */
int cluster_evaluate(struct cluster *c, struct sched_pod_request *pr, const char *const *names,
		     size_t n, struct sched_result *results);

/*
 * The bind verb: re-evaluates the pod on b->node under the write lock, counts the decision
 * (a hold that lives placement.reservation_ttl), then reserves it on the node's agent (agents
 * source) and, with Kubernetes, annotates the pod (pmem.io/numa-node) and POSTs its binding.
 * Any failure drops the hold. 0, or -errno with the reason for the extender's Error in `err`.
 */
int cluster_bind(struct cluster *c, const struct sched_ext_binding *b, char *err, size_t err_len);

/* Drops holds whose time is up (also done lazily by every call above). */
void cluster_expire(struct cluster *c);

/*
 * GET /v1/cluster: {source, max_record_age_ms, nodes: [{name, source, url, age_ms, stale,
 * generation, error, unusable, capacity: {...}}], holds: [...], agents: [...]}. NULL on ENOMEM.
 */
json_t *cluster_to_json(struct cluster *c);

#endif
