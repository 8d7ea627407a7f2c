/* cluster-kube: the scheduler role's Kubernetes calls: PVC lookups (cached), pods, bindings,
 * and the PmemNode list+watch that feeds the view. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster-internal.h"
#include "kube/kube.h"
#include "util/log.h"
#include "util/names.h"

#define IDLE_CLIENTS 8	 /* kept connections for the extender's threads */
#define PVC_CACHE    512 /* PVC answers remembered (a ring) */
#define BACKOFF_MIN  500
#define BACKOFF_MAX  30000

struct pvc_entry {
	char key[SCHED_POD_NAME_MAX * 2];
	int rc;
	struct sched_pvc_info info;
	char err[SCHED_POD_NAME_MAX];
	uint64_t at;
};

struct cluster_kube {
	struct kube_conn conn;
	char *driver;
	pthread_mutex_t lock; /* idle, cache */
	struct kube_client *idle[IDLE_CLIENTS];
	size_t n_idle;
	struct pvc_entry cache[PVC_CACHE];
	size_t cache_next;

	/* the watch */
	struct cluster *cluster;
	struct kube_client *wc;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t wlock; /* cond, the stats below */
	pthread_cond_t cond;
	uint64_t max_age_ms;
	char rv[128];
	char state[32];
	unsigned lists, failures;
	char last_error[512];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int cluster_kube_new(const struct config *cfg, const char *root, struct cluster_kube **out,
		     char *msg, size_t msg_len)
{
	struct cluster_kube *k = calloc(1, sizeof(*k));
	struct kube_status st = {0};
	int r;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	r = kube_conn_resolve(&cfg->kube, root, &k->conn, &st);
	if (r < 0) {
		snprintf(msg, msg_len, "%s", st.message);
		free(k);
		return r;
	}
	k->driver =
		strdup(cfg->placement.driver ? cfg->placement.driver : SCHED_POD_DRIVER_DEFAULT);
	if (!k->driver) {
		kube_conn_clear(&k->conn);
		free(k);
		return -ENOMEM;
	}
	pthread_mutex_init(&k->lock, NULL);
	pthread_mutex_init(&k->wlock, NULL);
	pthread_cond_init(&k->cond, NULL);
	k->max_age_ms = cfg->scheduler.max_record_age_ms;
	snprintf(k->state, sizeof(k->state), "off");
	*out = k;
	return 0;
}

/* A client for this thread's call; back with client_put. */
static struct kube_client *client_take(struct cluster_kube *k, char *err, size_t err_len)
{
	struct kube_client *cl = NULL;
	struct kube_status st = {0};

	pthread_mutex_lock(&k->lock);
	if (k->n_idle)
		cl = k->idle[--k->n_idle];
	pthread_mutex_unlock(&k->lock);
	if (!cl && kube_client_new(&k->conn, &cl, &st) < 0) {
		snprintf(err, err_len, "%.200s", st.message);
		return NULL;
	}
	return cl;
}

static void client_put(struct cluster_kube *k, struct kube_client *cl)
{
	pthread_mutex_lock(&k->lock);
	if (k->n_idle < IDLE_CLIENTS) {
		k->idle[k->n_idle++] = cl;
		cl = NULL;
	}
	pthread_mutex_unlock(&k->lock);
	kube_client_free(cl);
}

static int get(struct cluster_kube *k, const char *path, json_t **out, struct kube_status *st)
{
	char e[256];
	struct kube_client *cl = client_take(k, e, sizeof(e));
	int r;

	if (!cl) {
		snprintf(st->message, sizeof(st->message), "%s", e);
		return -EIO;
	}
	r = kube_get(cl, path, out, st);
	client_put(k, cl);
	return r;
}

/* ---- PVCs ------------------------------------------------------------------------------ */

static int pvc_resolve(struct cluster_kube *k, const char *ns, const char *claim,
		       struct sched_pvc_info *out, char *err, size_t err_len)
{
	struct kube_status st = {0};
	json_t *pvc = NULL, *sc = NULL, *pv = NULL;
	const char *scn, *pvn, *phase;
	char path[700];
	int r;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s", ns, claim);
	r = get(k, path, &pvc, &st);
	if (r == -ENOENT)
		return r;
	if (r < 0) {
		snprintf(err, err_len, "cannot read it: %.200s", st.message);
		return r;
	}
	scn = json_string_value(json_object_get(json_object_get(pvc, "spec"), "storageClassName"));
	if (scn && names_is_dns_subdomain(scn, strlen(scn))) {
		snprintf(path, sizeof(path), "/apis/storage.k8s.io/v1/storageclasses/%s", scn);
		r = get(k, path, &sc, &st);
		if (r < 0 && r != -ENOENT) {
			snprintf(err, err_len, "cannot read storageclass %.60s: %.160s", scn,
				 st.message);
			json_decref(pvc);
			return r;
		}
	}
	phase = json_string_value(json_object_get(json_object_get(pvc, "status"), "phase"));
	pvn = json_string_value(json_object_get(json_object_get(pvc, "spec"), "volumeName"));
	if (phase && strcmp(phase, "Bound") == 0 && pvn &&
	    names_is_dns_subdomain(pvn, strlen(pvn))) {
		/* Without the PV the selected-node annotation still says where it lives. */
		snprintf(path, sizeof(path), "/api/v1/persistentvolumes/%s", pvn);
		if (get(k, path, &pv, &st) < 0)
			pv = NULL;
	}
	r = sched_pvc_info_from_json(pvc, sc, pv, k->driver, out, err, err_len);
	json_decref(pvc);
	json_decref(sc);
	json_decref(pv);
	return r;
}

int cluster_kube_pvc_lookup(void *ud, const char *ns, const char *claim, struct sched_pvc_info *out,
			    char *err, size_t err_len)
{
	struct cluster_kube *k = ud;
	char key[sizeof(((struct pvc_entry *)0)->key)];
	uint64_t now = mono_ms();
	struct pvc_entry e = {0};

	/* Both become part of a URL path. */
	if (!names_is_dns_subdomain(ns, strlen(ns)) ||
	    !names_is_dns_subdomain(claim, strlen(claim))) {
		snprintf(err, err_len, "not a valid namespace/claim name");
		return -EINVAL;
	}
	snprintf(key, sizeof(key), "%s/%s", ns, claim);
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < PVC_CACHE; i++) {
		struct pvc_entry *c = &k->cache[i];
		if (c->key[0] && now - c->at < CLUSTER_PVC_TTL_MS && strcmp(c->key, key) == 0) {
			e = *c;
			break;
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (!e.key[0]) {
		snprintf(e.key, sizeof(e.key), "%s", key);
		e.info.bound_numa = -1;
		e.rc = pvc_resolve(k, ns, claim, &e.info, e.err, sizeof(e.err));
		e.at = now;
		/* Transient failures are not remembered: the next pod asks again. */
		if (e.rc == 0 || e.rc == -ENOENT || e.rc == -EINVAL) {
			pthread_mutex_lock(&k->lock);
			k->cache[k->cache_next] = e;
			k->cache_next = (k->cache_next + 1) % PVC_CACHE;
			pthread_mutex_unlock(&k->lock);
		}
	}
	if (e.rc < 0) {
		snprintf(err, err_len, "%s", e.err);
		return e.rc;
	}
	*out = e.info;
	return 0;
}

/* ---- pods and bindings ---------------------------------------------------------------- */

int cluster_kube_get_pod(struct cluster_kube *k, const char *ns, const char *name, json_t **out,
			 char *err, size_t err_len)
{
	struct kube_status st = {0};
	char path[700];
	int r;

	if (!names_is_dns_subdomain(ns, strlen(ns)) ||
	    !names_is_dns_subdomain(name, strlen(name))) {
		snprintf(err, err_len, "not a valid namespace/name");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	r = get(k, path, out, &st);
	if (r < 0)
		snprintf(err, err_len, "%s", st.message);
	return r;
}

int cluster_kube_annotate_claims(struct cluster_kube *k, const json_t *reservation,
				 const char *node, char *err, size_t err_len)
{
	const char *uid = json_string_value(json_object_get(reservation, "pod_uid"));
	struct kube_status st = {0};
	struct kube_client *cl = NULL;
	char path[700], e[256], numa[16];
	size_t i;
	json_t *v;
	int r = 0;

	json_array_foreach (json_object_get(reservation, "volumes"), i, v) {
		const char *claim = json_string_value(json_object_get(v, "claim")), *slash;
		char ns[64];
		json_t *body;

		if (!claim || !(slash = strchr(claim, '/')) ||
		    (size_t)(slash - claim) >= sizeof(ns))
			continue;
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - claim), claim);
		if (!names_is_dns_subdomain(ns, strlen(ns)) ||
		    !names_is_dns_subdomain(slash + 1, strlen(slash + 1))) {
			snprintf(err, err_len, "claim %s: not a valid namespace/name", claim);
			r = -EINVAL;
			break;
		}
		if (!cl && !(cl = client_take(k, e, sizeof(e)))) {
			snprintf(err, err_len, "claim %s: %s", claim, e);
			return -EIO;
		}
		snprintf(numa, sizeof(numa), "%d",
			 (int)json_integer_value(json_object_get(v, "numa_node")));
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s", ns,
			 slash + 1);
		body = json_pack("{s:{s:{s:s, s:s, s:s?}}}", "metadata", "annotations",
				 "pmem.io/node", node, "pmem.io/numa-node", numa, "pmem.io/pod-uid",
				 uid);
		r = body ? kube_merge_patch(cl, path, body, NULL, &st) : -ENOMEM;
		json_decref(body);
		if (r < 0) {
			snprintf(err, err_len, "claim %s: cannot annotate it: %s", claim,
				 st.message[0] ? st.message : strerror(-r));
			break;
		}
	}
	if (cl)
		client_put(k, cl);
	return r;
}

int cluster_kube_bind(struct cluster_kube *k, const char *ns, const char *name, const char *uid,
		      const char *node, const char *numa, char *err, size_t err_len)
{
	struct kube_status st = {0};
	struct kube_client *cl;
	char path[700], e[256];
	json_t *body;
	int r;

	if (!names_is_dns_subdomain(ns, strlen(ns)) ||
	    !names_is_dns_subdomain(name, strlen(name))) {
		snprintf(err, err_len, "pod %s/%s: not a valid namespace/name", ns, name);
		return -EINVAL;
	}
	cl = client_take(k, e, sizeof(e));
	if (!cl) {
		snprintf(err, err_len, "pod %s/%s: %s", ns, name, e);
		return -EIO;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	if (numa) {
		/* The NUMA decision goes on the pod first, so node-level pinning can follow it
		 * the moment the pod lands. */
		body = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "pmem.io/numa-node",
				 numa);
		r = body ? kube_merge_patch(cl, path, body, NULL, &st) : -ENOMEM;
		json_decref(body);
		if (r < 0) {
			snprintf(err, err_len, "pod %s/%s: cannot annotate it: %s", ns, name,
				 st.message);
			client_put(k, cl);
			return r;
		}
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/binding", ns, name);
	body = json_pack("{s:s, s:s, s:{s:s, s:s, s:s?}, s:{s:s, s:s, s:s}}", "apiVersion", "v1",
			 "kind", "Binding", "metadata", "name", name, "namespace", ns, "uid",
			 uid && *uid ? uid : NULL, "target", "apiVersion", "v1", "kind", "Node",
			 "name", node);
	r = body ? kube_create(cl, path, body, NULL, &st) : -ENOMEM;
	json_decref(body);
	client_put(k, cl);
	if (r < 0)
		snprintf(err, err_len, "pod %s/%s: binding to %s refused: %s", ns, name, node,
			 st.message[0] ? st.message : strerror(-r));
	return r == -ESTALE ? -EEXIST : r;
}

/* ---- the PmemNode watch ---------------------------------------------------------------- */

static void set_state(struct cluster_kube *k, const char *state, const char *error)
{
	pthread_mutex_lock(&k->wlock);
	snprintf(k->state, sizeof(k->state), "%s", state);
	if (error)
		snprintf(k->last_error, sizeof(k->last_error), "%s", error);
	pthread_mutex_unlock(&k->wlock);
}

static void put_object(struct cluster_kube *k, json_t *obj)
{
	json_t *status = json_object_get(obj, "status");
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	char e[256];

	if (!json_is_object(status) || !name)
		return;
	if (cluster_record_put(k->cluster, status, CLUSTER_SOURCE_KUBE, NULL, e, sizeof(e)) < 0) {
		char q[300];
		log_debug("pmemnode_ignored", "name=%s reason=%s", name,
			  log_quote(q, sizeof(q), e));
	}
}

static int on_event(const char *type, json_t *obj, void *ud)
{
	struct cluster_kube *k = ud;
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	if (atomic_load(&k->stop))
		return 1;
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		put_object(k, obj);
	} else if (strcmp(type, "DELETED") == 0) {
		const char *name =
			json_string_value(json_object_get(json_object_get(obj, "status"), "node"));
		if (!name)
			name = json_string_value(
				json_object_get(json_object_get(obj, "metadata"), "name"));
		if (name)
			cluster_record_remove(k->cluster, name);
	} else if (strcmp(type, "BOOKMARK") == 0) {
		/* The watch is alive and in step: every record is current as of now. */
		cluster_touch_source(k->cluster, CLUSTER_SOURCE_KUBE);
	}
	if (rv) {
		pthread_mutex_lock(&k->wlock);
		snprintf(k->rv, sizeof(k->rv), "%s", rv);
		pthread_mutex_unlock(&k->wlock);
	}
	return 0;
}

/* Sleeps up to ms unless stopping; false when stopping. */
static bool nap(struct cluster_kube *k, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&k->wlock);
	while (!atomic_load(&k->stop))
		if (pthread_cond_timedwait(&k->cond, &k->wlock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&k->wlock);
	return !atomic_load(&k->stop);
}

static void *watch_main(void *arg)
{
	struct cluster_kube *k = arg;
	char path[256];
	unsigned failures = 0;
	char q[600];
	/* A watch that ends on time proves the view is in step; shorter than max_record_age so
	 * quiet records do not go stale while the API server is there. */
	unsigned timeout_s = (unsigned)(k->max_age_ms / 3000);

	if (timeout_s == 0)
		timeout_s = 1;
	kube_pmemnode_path(path, sizeof(path), NULL, NULL);
	while (!atomic_load(&k->stop)) {
		struct kube_status st = {0};
		json_t *items = NULL, *it;
		char *rv = NULL;
		size_t i;
		int r;

		set_state(k, "listing", NULL);
		r = kube_list(k->wc, path, &items, &rv, &st);
		if (r < 0) {
			failures++;
			set_state(k, "retrying", st.message);
			log_warn("pmemnode_list_failed", "errno=%d reason=%s", -r,
				 log_quote(q, sizeof(q), st.message));
			if (!nap(k, kube_backoff_ms(failures, BACKOFF_MIN, BACKOFF_MAX,
						    (uint32_t)rand())))
				break;
			continue;
		}
		failures = 0;
		json_array_foreach (items, i, it)
			put_object(k, it);
		cluster_keep_source(k->cluster, CLUSTER_SOURCE_KUBE, items);
		json_decref(items);
		pthread_mutex_lock(&k->wlock);
		snprintf(k->rv, sizeof(k->rv), "%s", rv ? rv : "");
		k->lists++;
		pthread_mutex_unlock(&k->wlock);
		free(rv);
		for (;;) {
			char from[128];
			pthread_mutex_lock(&k->wlock);
			snprintf(from, sizeof(from), "%s", k->rv);
			pthread_mutex_unlock(&k->wlock);
			set_state(k, "watching", NULL);
			cluster_touch_source(k->cluster, CLUSTER_SOURCE_KUBE);
			r = kube_watch(k->wc, path, from, timeout_s, on_event, k, &st);
			if (r == 0)
				continue; /* ended on time: watch again from where it was */
			break;
		}
		if (atomic_load(&k->stop) || r == 1)
			break;
		if (r == -ENODATA) {
			/* 410 Gone: the resourceVersion is too old; list again at once. */
			log_info("pmemnode_relist", "reason=%s",
				 log_quote(q, sizeof(q), st.message));
			continue;
		}
		failures++;
		set_state(k, "retrying", st.message);
		log_warn("pmemnode_watch_failed", "errno=%d reason=%s", -r,
			 log_quote(q, sizeof(q), st.message));
		if (!nap(k, kube_backoff_ms(failures, BACKOFF_MIN, BACKOFF_MAX, (uint32_t)rand())))
			break;
	}
	set_state(k, "stopped", NULL);
	return NULL;
}

int cluster_kube_watch_start(struct cluster_kube *k, struct cluster *c, char *err, size_t err_len)
{
	struct kube_status st = {0};
	int r;

	k->cluster = c;
	r = kube_client_new(&k->conn, &k->wc, &st);
	if (r < 0) {
		snprintf(err, err_len, "kubernetes: %s", st.message);
		return r;
	}
	r = pthread_create(&k->thread, NULL, watch_main, k);
	if (r) {
		snprintf(err, err_len, "kubernetes: cannot start the watch: %s", strerror(r));
		return -r;
	}
	k->running = true;
	return 0;
}

json_t *cluster_kube_json(struct cluster_kube *k)
{
	json_t *o;

	pthread_mutex_lock(&k->wlock);
	o = json_pack("{s:s, s:{s:s, s:s, s:i, s:s?}}", "api_url", k->conn.api_url, "watch",
		      "state", k->state, "resource_version", k->rv, "lists", k->lists, "last_error",
		      k->last_error[0] ? k->last_error : NULL);
	pthread_mutex_unlock(&k->wlock);
	return o;
}

struct cluster_kube *cluster_kube_free(struct cluster_kube *k)
{
	if (!k)
		return NULL;
	if (k->running) {
		atomic_store(&k->stop, true);
		kube_client_interrupt(k->wc);
		pthread_mutex_lock(&k->wlock);
		pthread_cond_broadcast(&k->cond);
		pthread_mutex_unlock(&k->wlock);
		pthread_join(k->thread, NULL);
	}
	kube_client_free(k->wc);
	for (size_t i = 0; i < k->n_idle; i++)
		kube_client_free(k->idle[i]);
	kube_conn_clear(&k->conn);
	pthread_mutex_destroy(&k->lock);
	pthread_mutex_destroy(&k->wlock);
	pthread_cond_destroy(&k->cond);
	free(k->driver);
	free(k);
	return NULL;
}
