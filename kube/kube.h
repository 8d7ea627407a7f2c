/* kube: a small Kubernetes API client (libcurl + jansson) and the PmemNode status publisher. */
#ifndef PMEMD_KUBE_H
#define PMEMD_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sched/sched-pod.h"

/* The custom resource, fixed: deploy/kubernetes/crd-pmemnode.yaml defines exactly this. */
#define KUBE_GROUP	 "pmem.io"
#define KUBE_VERSION	 "v1alpha1"
#define KUBE_API_VERSION KUBE_GROUP "/" KUBE_VERSION
#define KUBE_KIND	 "PmemNode"
#define KUBE_PLURAL	 "pmemnodes"
#define KUBE_SA_DIR	 "/var/run/secrets/kubernetes.io/serviceaccount"

/*
 * The outcome of a call, beside its -errno: the HTTP status and what the API server said
 * (a `kind: Status` body's reason and message), or what went wrong on the way there.
 */
struct kube_status {
	long code;	   /* HTTP status; 0 when no response came */
	char reason[64];   /* Status.reason: "Conflict", "NotFound", ...; "" when none */
	char message[512]; /* Status.message, or a transport/config error; "" on success */
};

/* ---- where the API server is ------------------------------------------- */

struct kube_conn {
	char *api_url;	   /* "https://host:port[/prefix]", no trailing '/' */
	char *token_file;  /* bearer token, re-read on every request; NULL = none */
	char *ca_file;	   /* NULL = the system CAs */
	char *client_cert; /* with client_key, or both NULL */
	char *client_key;
	bool in_cluster; /* from the pod's service account, not from kube.api_url */
};

/*
 * Resolves `cfg` into connection settings: kube.api_url with its credentials when set, else
 * the pod's service account (token and ca.crt under `root` + KUBE_SA_DIR, and
 * KUBERNETES_SERVICE_HOST/_PORT). `root` is NULL or "" in production; tests pass a directory
 * holding a fake tree. Returns 0 and fills *out; -ENODEV when publishing is off (enabled:
 * false, or auto outside a pod), -EINVAL when enabled: true finds neither, -ENOMEM; the reason
 * in st->message.
 */
int kube_conn_resolve(const struct config_kube *cfg, const char *root, struct kube_conn *out,
		      struct kube_status *st);

/* Frees the strings; accepts a zeroed or already cleared struct. */
void kube_conn_clear(struct kube_conn *c);

/* ---- the client --------------------------------------------------------- */

/*
 * One connection (kept alive between calls) to one API server. Not thread-safe: one client
 * per thread; only kube_client_interrupt() may be called from another thread.
 */
struct kube_client;

/* Copies `conn`. 0, -EINVAL (an http:// URL that is not loopback, a bad URL), -ENOMEM. */
int kube_client_new(const struct kube_conn *conn, struct kube_client **out, struct kube_status *st);

/* Frees; accepts NULL, returns NULL. */
struct kube_client *kube_client_free(struct kube_client *c);

/*
 * From any thread: aborts the request in flight (within about a second) and makes every later
 * one fail at once with -ECANCELED. For shutdown; it is not undone.
 */
void kube_client_interrupt(struct kube_client *c);

/*
 * Requests. `path` starts with '/' ("/apis/pmem.io/v1alpha1/pmemnodes/n1/status") and may
 * carry a query. On success return 0 and, when `out` is not NULL, the response object in *out
 * (the caller's reference). On failure return -errno, leave *out untouched and fill `st` (may
 * be NULL) — HTTP errors map as:
 *   400, 422 -EINVAL · 401 -EACCES · 403 -EPERM · 404 -ENOENT · 409 AlreadyExists -EEXIST ·
 *   409 Conflict -ESTALE (re-read, then retry) · 410 Gone/Expired -ENODATA (list again) ·
 *   413 -E2BIG · 429, 503 -EAGAIN · 504 -ETIMEDOUT · other 5xx -EIO;
 * transport errors: -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -ECONNRESET, -EPROTO (TLS),
 * -ECANCELED (interrupted), -EFBIG (response over 16 MiB), -EBADMSG (not JSON).
 */
int kube_get(struct kube_client *c, const char *path, json_t **out, struct kube_status *st);
/* POST, application/json. */
int kube_create(struct kube_client *c, const char *path, const json_t *body, json_t **out,
		struct kube_status *st);
/* PUT, application/json: a full replace, guarded by the body's metadata.resourceVersion. */
int kube_put(struct kube_client *c, const char *path, const json_t *body, json_t **out,
	     struct kube_status *st);
/* PATCH, application/merge-patch+json (RFC 7386). */
int kube_merge_patch(struct kube_client *c, const char *path, const json_t *patch, json_t **out,
		     struct kube_status *st);

/*
 * GET a collection, following `metadata.continue` across pages. *items gets the items (an
 * array, possibly empty), *resource_version the list's metadata.resourceVersion (malloc'd;
 * start a watch from it). Both untouched on failure.
 */
int kube_list(struct kube_client *c, const char *path, json_t **items, char **resource_version,
	      struct kube_status *st);

/*
 * A watch event: type "ADDED", "MODIFIED", "DELETED" or "BOOKMARK" and the object (borrowed:
 * json_incref it to keep it). Return 0 to go on; anything else ends the watch and
 * kube_watch returns it.
 */
typedef int kube_watch_fn(const char *type, json_t *object, void *userdata);

/*
 * Streams `path`?watch=1&resourceVersion=`rv`&allowWatchBookmarks=true (plus timeoutSeconds
 * when `timeout_s` is not 0) and calls `fn` for each line-delimited event, in order. Returns 0
 * when the server ends the stream (a timeout: watch again from the last resourceVersion seen),
 * fn's non-zero value, or -errno: an ERROR event is parsed like an error response (410 Expired
 * gives -ENODATA: list again), -EBADMSG for a line that is not an event.
 */
int kube_watch(struct kube_client *c, const char *path, const char *rv, unsigned timeout_s,
	       kube_watch_fn *fn, void *userdata, struct kube_status *st);

/*
 * Reads an error response: fills `st` (code; reason and message from a `kind: Status` body,
 * else "HTTP <code>") and returns the -errno above; 0 for 2xx.
 */
int kube_status_parse(long code, const char *body, size_t len, struct kube_status *st);

/*
 * Writes "/apis/pmem.io/v1alpha1/pmemnodes[/<name>[/<sub>]]" into buf. `name` (NULL for the
 * collection) must be a DNS subdomain, since it becomes part of a URL. 0, -EINVAL,
 * -ENAMETOOLONG.
 */
int kube_pmemnode_path(char *buf, size_t len, const char *name, const char *sub);

/* ---- what the scheduler decided for a PVC (kube-claims.c) ---------------- */

/*
 * What the node does for the PVC `claim` ("namespace/name") whose volume is being created,
 * read through the API server of `cfg` (resolved like the publisher; `root` as
 * kube_conn_resolve); kube-claims.c says why:
 *   - plan->numa_node >= 0: the scheduler role recorded that NUMA node on the PVC for
 *     `node_name` (pmem.io/node, pmem.io/numa-node);
 *   - plan->reservation: kube-scheduler chose this node for the PVC
 *     (volume.kubernetes.io/selected-node) and the pending pod that uses it asks for these
 *     claims: a POST /v1/reservations body {pod_uid, pod_name, namespace, volumes: [{size_bytes,
 *     claim, fstype?}], cpus?, pmem_policy, cpu_policy} (`defaults`: the driver name and the
 *     policies when neither the pod nor the StorageClass names one; NULL: step skipped);
 *     plan->pod names the pod;
 *   - neither: nothing to follow.
 * 0 (maybe with an empty plan), -ENODEV when there is no Kubernetes API, -EINVAL for a bad
 * claim, or another -errno (-ENOENT: no such PVC) with st->message. Free with
 * kube_claim_plan_clear().
 */
struct kube_claim_plan {
	int numa_node;
	json_t *reservation;
	char pod[320]; /* namespace/name of the pod the reservation is for */
};

int kube_claim_plan(const struct config_kube *cfg, const char *root, const char *node_name,
		    const struct sched_pod_opts *defaults, const char *claim,
		    struct kube_claim_plan *plan, struct kube_status *st);
void kube_claim_plan_clear(struct kube_claim_plan *plan);

/* ---- the publisher ------------------------------------------------------ */

/*
 * Keeps the PmemNode named after this node in step with the node record, from a thread of its
 * own: creates the object when missing, then merge-patches its status subresource, at most
 * once per kube.publish_interval (the latest record wins), retrying conflicts at once and API
 * outages with capped exponential backoff. Callers never wait for the API server.
 */
struct kube_publisher;

struct kube_publisher_opts {
	const char *root;	 /* prefix for the service-account files; NULL in production */
	const json_t *labels;	 /* metadata.labels for a new object (copied); NULL for none */
	uint64_t backoff_min_ms; /* first retry delay; 0 = 1000 */
	uint64_t backoff_max_ms; /* the cap; 0 = 30000 */
};

/*
 * Resolves the connection (kube_conn_resolve) and starts the thread. Returns 0 with *out set;
 * -ENODEV with *out = NULL when publishing is off (st->message says why: log it, carry on);
 * -EINVAL, -ENOMEM or a pthread error otherwise. `opts` may be NULL.
 */
int kube_publisher_start(struct kube_publisher **out, const struct config_kube *cfg,
			 const char *node_name, const struct kube_publisher_opts *opts,
			 struct kube_status *st);

/*
 * Hands over the latest node record (a JSON object, deep-copied: the caller keeps and may
 * change its own). Never blocks on the network. Accepts a NULL publisher (publishing off).
 */
void kube_publisher_update(struct kube_publisher *p, const json_t *record);

/* Stops and joins the thread (bounded: the request in flight is aborted); accepts NULL,
 * returns NULL. A record not yet written is dropped. */
struct kube_publisher *kube_publisher_stop(struct kube_publisher *p);

enum kube_publisher_state {
	KUBE_PUB_OFF,	   /* no publisher */
	KUBE_PUB_PENDING,  /* started; nothing written yet */
	KUBE_PUB_OK,	   /* the last write succeeded */
	KUBE_PUB_RETRYING, /* the API server is unreachable or failing: backing off */
	KUBE_PUB_DENIED,   /* 401/403: credentials or RBAC are wrong; backing off */
};

/* For /metrics and /v1/status. */
struct kube_publisher_stats {
	enum kube_publisher_state state;
	uint64_t writes;	       /* status writes that succeeded */
	uint64_t failures;	       /* attempts that failed, in total */
	unsigned consecutive_failures; /* since the last success */
	int64_t last_success_ms;       /* wall clock (ms since the epoch); 0 = never */
	int last_errno;		       /* of the last failure; 0 = none yet */
	long last_code;		       /* its HTTP status; 0 = no response */
	char last_error[512];	       /* its message; "" = none yet */
};

/* Copies the counters out; a NULL publisher reads as KUBE_PUB_OFF and zeros. */
void kube_publisher_stats(struct kube_publisher *p, struct kube_publisher_stats *out);

const char *kube_publisher_state_name(enum kube_publisher_state s);

/*
 * The delay before retry number `failures` (1, 2, ...): min doubled per failure, capped at
 * max, then drawn uniformly from [d/2, d] with `rnd` so nodes restarted together spread out.
 * 0 for failures == 0. Pure.
 */
uint64_t kube_backoff_ms(unsigned failures, uint64_t min_ms, uint64_t max_ms, uint32_t rnd);

/*
 * The merge patch (RFC 7386) that makes an object holding `old` hold `next`: `next` itself,
 * plus a null for every key of `old` that `next` no longer has, recursively through nested
 * objects (arrays are replaced whole). `old` may be NULL. A new reference, or NULL on ENOMEM.
 * A null inside `next` would delete that key: records never need to say "null".
 */
json_t *kube_merge_patch_build(const json_t *old, const json_t *next);

#endif
