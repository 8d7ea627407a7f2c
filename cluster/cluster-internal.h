/* cluster-internal: what the files of cluster/ share (the sources and the view). */
#ifndef PMEMD_CLUSTER_INTERNAL_H
#define PMEMD_CLUSTER_INTERNAL_H

#include "cluster/cluster.h"

/* The view's monotonic clock (the test clock when one is set). */
uint64_t cluster_now(struct cluster *c);

/* cluster_record_put() for a record asked for at `asked_at` (monotonic ms): only a record
 * asked for after a node confirmed a reservation can show it. */
int cluster_record_put_at(struct cluster *c, const json_t *record, enum cluster_source source,
			  const char *url, uint64_t asked_at, char *err, size_t err_len);

/* How often cluster_evaluate() reused the last NodeNames list's nodes (hits) and resolved a
 * list anew (misses); calls that bypassed the cache count in neither. For tests. */
void cluster_name_cache_stats(struct cluster *c, uint64_t *hits, uint64_t *misses);

/* Every node of `source` is fresh as of now (the kube watch is alive and in step). */
void cluster_touch_source(struct cluster *c, enum cluster_source source);

/* After a full list: nodes of `source` whose name no item's status carries are removed. */
void cluster_keep_source(struct cluster *c, enum cluster_source source, const json_t *items);

/* ---- agents (cluster-agents.c): GET /v1/node of every agent, one thread, curl multi ---- */

struct cluster_agents;

int cluster_agents_new(struct cluster *c, const struct config_scheduler *s, unsigned timeout_ms,
		       struct cluster_agents **out);
int cluster_agents_start(struct cluster_agents *a, char *err, size_t err_len);
/* Stops the poller (bounded: curl_multi_wakeup) and frees; accepts NULL, returns NULL. */
struct cluster_agents *cluster_agents_free(struct cluster_agents *a);
/* [{url, node, ok, error, last_ok_age_ms, etag, requests, not_modified}] */
json_t *cluster_agents_json(struct cluster_agents *a);
/* POSTs `body` to <url>/v1/reservations with that agent's token and CA. 0, or -errno with
 * what went wrong (the agent's error message for a 4xx/5xx) in err. */
int cluster_agents_reserve(struct cluster_agents *a, const char *url, const json_t *body, char *err,
			   size_t err_len);

/* ---- Kubernetes (cluster-kube.c): PVC lookups, pods, bindings, PmemNode list+watch ---- */

struct cluster_kube;

/* -ENODEV with the reason in msg when no API server is configured or found. */
int cluster_kube_new(const struct config *cfg, const char *root, struct cluster_kube **out,
		     char *msg, size_t msg_len);
/* Starts the PmemNode informer (list + watch) that feeds `c`. */
int cluster_kube_watch_start(struct cluster_kube *k, struct cluster *c, char *err, size_t err_len);
/* Starts the PVC and StorageClass informers whose caches cluster_kube_pvc_lookup reads. */
int cluster_kube_caches_start(struct cluster_kube *k, char *err, size_t err_len);
/* What the PVC cache ("namespace/name") or the StorageClass cache ("name") holds under key, a
 * new reference to the compact object; NULL when absent. For tests and debugging. */
json_t *cluster_kube_cached(struct cluster_kube *k, bool pvc, const char *key);
struct cluster_kube *cluster_kube_free(struct cluster_kube *k);
/*
 * sched_pvc_lookup_fn with ud = the cluster_kube: the PVC and its StorageClass from the
 * informers' caches; a miss (an object created a moment ago, caches not yet synced) is one GET
 * that fills the cache. A bound PVC's PV is read by GET and kept CLUSTER_PVC_TTL_MS.
 */
int cluster_kube_pvc_lookup(void *ud, const char *ns, const char *claim, struct sched_pvc_info *out,
			    char *err, size_t err_len);
int cluster_kube_get_pod(struct cluster_kube *k, const char *ns, const char *name, json_t **out,
			 char *err, size_t err_len);
/* Annotates the pod with pmem.io/numa-node (when numa is not NULL), then POSTs its binding.
 * 0; -EEXIST for a 409 (already bound); -errno; err says. */
/*
 * The decision for each PVC of a reservation body (its volumes with a `claim`), as
 * annotations on the PVC the node reads when the volume is created (docs/scheduler.md):
 * pmem.io/node, pmem.io/numa-node, pmem.io/pod-uid. 0, or -errno with the claim in err.
 */
int cluster_kube_annotate_claims(struct cluster_kube *k, const json_t *reservation,
				 const char *node, char *err, size_t err_len);
int cluster_kube_bind(struct cluster_kube *k, const char *ns, const char *name, const char *uid,
		      const char *node, const char *numa, char *err, size_t err_len);
/* {api_url, watch, pvcs, storageclasses: {state, synced, resource_version, lists, relists,
 * bad_lines, last_error[, objects]}, lookups_fetched} */
json_t *cluster_kube_json(struct cluster_kube *k);

#endif
