/* cluster-kube: the scheduler role's Kubernetes calls: PVC lookups (from caches kept by watch),
 * pods, bindings, and the list+watch informers (PmemNodes for the view; PVCs, StorageClasses). */
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
#include "util/strmap.h"

#define IDLE_CLIENTS 8	 /* kept connections for the extender's threads */
#define PV_CACHE     512 /* PersistentVolume answers remembered (a ring) */
#define BACKOFF_MIN  500
#define BACKOFF_MAX  30000

/* A bound PVC's PV (where its volume lives), kept CLUSTER_PVC_TTL_MS. */
struct pv_entry {
	char name[SCHED_POD_NAME_MAX];
	json_t *pv; /* compact: metadata.annotations and spec.nodeAffinity only */
	uint64_t at;
};

/*
 * Objects of one resource as the scheduler needs them (only the fields it reads, so memory
 * stays bounded by what matters), by key ("namespace/name" or "name"). Written by its
 * informer and by lookups that missed; read by every filter. A PVC is kept as compact JSON
 * text and parsed when looked up: as a jansson tree the same PVC took ~3.2 KB (a hash table
 * per object level), as text ~0.4 KB, and a lookup is once per claim per filter call, not per
 * node (~13 us to parse and free one, measured on the busy 2-core machine). An object is
 * never changed once in: an update replaces it.
 */
struct obj_cache {
	pthread_rwlock_t lock;
	struct strmap map; /* key -> struct cobj * */
	size_t n;
	/* Objects as text (PVCs: many) or as trees (StorageClasses: a handful, and a lookup
	 * then costs no parse). */
	bool as_text;
};

struct cobj {
	json_t *obj; /* the compact object (as_text false) */
	char *text;  /* or its JSON, in the same allocation after the key (as_text true) */
	char key[];  /* the map borrows it */
};

struct informer;

/* What makes an informer a PmemNode, PVC or StorageClass informer. */
struct informer_ops {
	const char *what;	    /* for messages: "pmemnode", "pvc", "storageclass" */
	const char *ev_list_failed; /* log events */
	const char *ev_watch_failed;
	const char *ev_relist;
	/* After a full list (the items are borrowed). */
	void (*listed)(struct informer *in, json_t *items);
	/* ADDED, MODIFIED, DELETED, BOOKMARK (the object is borrowed). */
	void (*event)(struct informer *in, const char *type, json_t *obj);
	/* A watch is about to start from a fresh list or a watch that ended on time: the view
	 * is in step. NULL: nothing to do. */
	void (*in_step)(struct informer *in);
};

/*
 * list, then watch from the list's resourceVersion (with bookmarks); a watch that ends on
 * time is started again from the last resourceVersion seen; 410 Gone lists again at once;
 * any other failure (a line that is not an event too) backs off and lists again.
 */
struct informer {
	struct cluster_kube *k;
	const struct informer_ops *ops;
	struct obj_cache *cache; /* PVCs, StorageClasses; NULL for PmemNodes */
	char path[256];
	struct kube_client *wc;
	pthread_t thread;
	bool running;
	/* under k->wlock */
	char rv[128];
	char state[32];
	bool synced; /* a list succeeded once */
	unsigned lists, relists, bad_lines;
	char last_error[512];
};

struct cluster_kube {
	struct kube_conn conn;
	char *driver;
	pthread_mutex_t lock; /* idle, pvs */
	struct kube_client *idle[IDLE_CLIENTS];
	size_t n_idle;
	struct pv_entry pvs[PV_CACHE];
	size_t pvs_next;

	struct obj_cache pvcs, scs;
	atomic_uint_fast64_t fetches; /* lookups the caches could not answer (one GET each) */

	struct cluster *cluster;
	struct informer nodes, pvc_inf, sc_inf;
	atomic_bool stop;
	pthread_mutex_t wlock; /* cond, the informers' stats */
	pthread_cond_t cond;
	uint64_t max_age_ms;
};

static void informer_init(struct cluster_kube *k, struct informer *in,
			  const struct informer_ops *ops, struct obj_cache *cache);
static const struct informer_ops pmemnode_ops, pvc_ops, sc_ops;

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
	pthread_rwlock_init(&k->pvcs.lock, NULL);
	k->pvcs.as_text = true;
	pthread_rwlock_init(&k->scs.lock, NULL);
	k->max_age_ms = cfg->scheduler.max_record_age_ms;
	informer_init(k, &k->nodes, &pmemnode_ops, NULL);
	informer_init(k, &k->pvc_inf, &pvc_ops, &k->pvcs);
	informer_init(k, &k->sc_inf, &sc_ops, &k->scs);
	kube_pmemnode_path(k->nodes.path, sizeof(k->nodes.path), NULL, NULL);
	snprintf(k->pvc_inf.path, sizeof(k->pvc_inf.path), "/api/v1/persistentvolumeclaims");
	snprintf(k->sc_inf.path, sizeof(k->sc_inf.path), "/apis/storage.k8s.io/v1/storageclasses");
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

/* ---- the object caches ------------------------------------------------------------------ */

static struct cobj *cobj_free(struct cobj *o)
{
	if (o) {
		json_decref(o->obj);
		free(o);
	}
	return NULL;
}

/* The entry for `obj` (the reference is taken); NULL on ENOMEM. */
static struct cobj *cobj_new(const struct obj_cache *c, const char *key, json_t *obj)
{
	size_t len = strlen(key), tlen = 0;
	char *text = NULL;
	struct cobj *o = NULL;

	if (c->as_text) {
		text = json_dumps(obj, JSON_COMPACT);
		json_decref(obj);
		obj = NULL;
		if (!text)
			return NULL;
		tlen = strlen(text) + 1;
	}
	o = malloc(sizeof(*o) + len + 1 + tlen);
	if (o) {
		memcpy(o->key, key, len + 1);
		o->obj = obj;
		o->text = NULL;
		if (text) {
			o->text = o->key + len + 1;
			memcpy(o->text, text, tlen);
		}
	} else {
		json_decref(obj);
	}
	free(text);
	return o;
}

static void map_free_all(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].value)
			cobj_free(m->slots[i].value);
	strmap_clear(m);
}

static void cache_clear(struct obj_cache *c)
{
	map_free_all(&c->map);
	c->n = 0;
	pthread_rwlock_destroy(&c->lock);
}

/* The object under key (the caller's reference); NULL when absent (or ENOMEM). */
static json_t *cache_get(struct obj_cache *c, const char *key)
{
	struct cobj *o;
	json_t *j = NULL;

	pthread_rwlock_rdlock(&c->lock);
	o = strmap_get(&c->map, key);
	if (o)
		j = o->obj ? json_incref(o->obj) : json_loads(o->text, 0, NULL);
	pthread_rwlock_unlock(&c->lock);
	return j;
}

/* Puts `obj` (the reference is taken) under key; `only_new`: unless one is there already (a
 * lookup's GET must not overwrite what the watch has since delivered). */
static void cache_put(struct obj_cache *c, const char *key, json_t *obj, bool only_new)
{
	struct cobj *o, *old;

	if (!obj)
		return;
	o = cobj_new(c, key, obj);
	if (!o)
		return;
	pthread_rwlock_wrlock(&c->lock);
	old = strmap_get(&c->map, key);
	if ((old && only_new) || strmap_put(&c->map, o->key, o) < 0) {
		/* kept: what is there (only_new), or the old object when the map cannot grow */
		pthread_rwlock_unlock(&c->lock);
		cobj_free(o);
		return;
	}
	/* put replaced the entry of the same key, with o's key pointer */
	if (!old)
		c->n++;
	pthread_rwlock_unlock(&c->lock);
	cobj_free(old);
}

static void cache_del(struct obj_cache *c, const char *key)
{
	struct cobj *old;

	pthread_rwlock_wrlock(&c->lock);
	old = strmap_del(&c->map, key);
	if (old)
		c->n--;
	pthread_rwlock_unlock(&c->lock);
	cobj_free(old);
}

static size_t cache_size(struct obj_cache *c)
{
	size_t n;

	pthread_rwlock_rdlock(&c->lock);
	n = c->n;
	pthread_rwlock_unlock(&c->lock);
	return n;
}

/* Copies obj[key] into dst when present (a new reference inside dst). */
static void keep(json_t *dst, const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v)
		json_object_set(dst, key, v);
}

static const char *name_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

static const char *namespace_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
}

/*
 * A PVC as the scheduler reads it (sched_pvc_info_from_json): metadata namespace, name and the
 * annotations pmem.io/... and volume.kubernetes.io/selected-node (where a bound volume without
 * a readable PV lives); spec storageClassName, volumeName, resources.requests.storage;
 * status.phase. NULL when it has no namespace or name, or on ENOMEM.
 */
static json_t *pvc_compact(const json_t *pvc, char *key, size_t key_len)
{
	const char *ns = namespace_of(pvc), *name = name_of(pvc), *k;
	const json_t *spec = json_object_get(pvc, "spec"), *v;
	json_t *o, *md, *ann, *sp, *req;

	if (!ns || !name || (size_t)snprintf(key, key_len, "%s/%s", ns, name) >= key_len)
		return NULL;
	o = json_object();
	md = json_pack("{s:s, s:s}", "namespace", ns, "name", name);
	ann = json_object();
	sp = json_object();
	req = json_object();
	if (!o || !md || !ann || !sp || !req) {
		json_decref(o), json_decref(md), json_decref(ann), json_decref(sp),
			json_decref(req);
		return NULL;
	}
	json_object_foreach (
		(json_t *)json_object_get(json_object_get(pvc, "metadata"), "annotations"), k, v) {
		if (strncmp(k, "pmem.io/", 8) == 0 || strcmp(k, SCHED_POD_ANN_SELECTED) == 0)
			json_object_set(ann, k, (json_t *)v);
	}
	json_object_set_new(md, "annotations", ann);
	json_object_set_new(o, "metadata", md);
	keep(sp, spec, "storageClassName");
	keep(sp, spec, "volumeName");
	keep(req, json_object_get(json_object_get(spec, "resources"), "requests"), "storage");
	json_object_set_new(sp, "resources", json_pack("{s:o}", "requests", req));
	json_object_set_new(o, "spec", sp);
	v = json_object_get(json_object_get(pvc, "status"), "phase");
	if (v)
		json_object_set_new(o, "status", json_pack("{s:O}", "phase", (json_t *)v));
	return o;
}

/* A StorageClass as the scheduler reads it: metadata.name, provisioner, parameters. */
static json_t *sc_compact(const json_t *sc, char *key, size_t key_len)
{
	const char *name = name_of(sc);
	json_t *o;

	if (!name || (size_t)snprintf(key, key_len, "%s", name) >= key_len)
		return NULL;
	o = json_pack("{s:{s:s}}", "metadata", "name", name);
	if (!o)
		return NULL;
	keep(o, sc, "provisioner");
	keep(o, sc, "parameters");
	return o;
}

/* A PV as the scheduler reads it: the annotations and spec.nodeAffinity. */
static json_t *pv_compact(const json_t *pv)
{
	json_t *o = json_object(), *md = json_object(), *sp = json_object();

	if (!o || !md || !sp) {
		json_decref(o), json_decref(md), json_decref(sp);
		return NULL;
	}
	keep(md, json_object_get(pv, "metadata"), "annotations");
	keep(sp, json_object_get(pv, "spec"), "nodeAffinity");
	json_object_set_new(o, "metadata", md);
	json_object_set_new(o, "spec", sp);
	return o;
}

#define KEY_MAX (SCHED_POD_NAME_MAX * 2)

/* After a list: the cache holds exactly the listed objects (the ones gone leave it). */
static void cache_replace(struct obj_cache *c, json_t *items,
			  json_t *(*compact)(const json_t *, char *, size_t))
{
	struct strmap fresh = {0}, old;
	size_t i, n = 0;
	json_t *it;

	json_array_foreach (items, i, it) {
		char key[KEY_MAX];
		json_t *o = compact(it, key, sizeof(key));
		struct cobj *co, *dup;

		if (!o || !(co = cobj_new(c, key, o)))
			continue;
		dup = strmap_get(&fresh, co->key);
		if (dup) { /* the same key twice in a list: the later one */
			strmap_del(&fresh, dup->key);
			cobj_free(dup);
			n--;
		}
		if (strmap_put(&fresh, co->key, co) < 0) {
			cobj_free(co);
			continue;
		}
		n++;
	}
	pthread_rwlock_wrlock(&c->lock);
	old = c->map;
	c->map = fresh;
	c->n = n;
	pthread_rwlock_unlock(&c->lock);
	map_free_all(&old);
}

static void cache_event(struct obj_cache *c, const char *type, json_t *obj,
			json_t *(*compact)(const json_t *, char *, size_t))
{
	char key[KEY_MAX];
	json_t *o;

	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		o = compact(obj, key, sizeof(key));
		if (o)
			cache_put(c, key, o, false);
	} else if (strcmp(type, "DELETED") == 0) {
		o = compact(obj, key, sizeof(key));
		json_decref(o);
		if (o)
			cache_del(c, key);
	}
}

static void pvc_listed(struct informer *in, json_t *items)
{
	cache_replace(in->cache, items, pvc_compact);
}

static void pvc_event(struct informer *in, const char *type, json_t *obj)
{
	cache_event(in->cache, type, obj, pvc_compact);
}

static void sc_listed(struct informer *in, json_t *items)
{
	cache_replace(in->cache, items, sc_compact);
}

static void sc_event(struct informer *in, const char *type, json_t *obj)
{
	cache_event(in->cache, type, obj, sc_compact);
}

static const struct informer_ops pvc_ops = {
	.what = "pvc",
	.ev_list_failed = "pvc_list_failed",
	.ev_watch_failed = "pvc_watch_failed",
	.ev_relist = "pvc_relist",
	.listed = pvc_listed,
	.event = pvc_event,
};

static const struct informer_ops sc_ops = {
	.what = "storageclass",
	.ev_list_failed = "storageclass_list_failed",
	.ev_watch_failed = "storageclass_watch_failed",
	.ev_relist = "storageclass_relist",
	.listed = sc_listed,
	.event = sc_event,
};

/* ---- PVC lookups ------------------------------------------------------------------------ */

/* The PV `name` (compact), from the ring or one GET; NULL when it cannot be read. */
static json_t *pv_get(struct cluster_kube *k, const char *name)
{
	uint64_t now = mono_ms();
	struct kube_status st = {0};
	json_t *pv = NULL, *full = NULL;
	char path[700];

	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < PV_CACHE && !pv; i++) {
		struct pv_entry *e = &k->pvs[i];
		if (e->pv && now - e->at < CLUSTER_PVC_TTL_MS && strcmp(e->name, name) == 0)
			pv = json_incref(e->pv);
	}
	pthread_mutex_unlock(&k->lock);
	if (pv)
		return pv;
	snprintf(path, sizeof(path), "/api/v1/persistentvolumes/%s", name);
	if (get(k, path, &full, &st) < 0)
		return NULL; /* the selected-node annotation still says where it lives */
	pv = pv_compact(full);
	json_decref(full);
	if (!pv)
		return NULL;
	pthread_mutex_lock(&k->lock);
	struct pv_entry *e = &k->pvs[k->pvs_next];
	json_decref(e->pv);
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->pv = json_incref(pv);
	e->at = now;
	k->pvs_next = (k->pvs_next + 1) % PV_CACHE;
	pthread_mutex_unlock(&k->lock);
	return pv;
}

/*
 * The cached object under key, or one GET of `path` that fills the cache (a PVC created a
 * moment ago, or a cache not yet synced). 0 with *out; -ENOENT; -errno with st.
 */
static int cached_or_get(struct cluster_kube *k, struct obj_cache *c, const char *key,
			 const char *path, json_t *(*compact)(const json_t *, char *, size_t),
			 json_t **out, struct kube_status *st)
{
	char ck[KEY_MAX];
	json_t *full = NULL, *o;
	int r;

	*out = cache_get(c, key);
	if (*out)
		return 0;
	atomic_fetch_add(&k->fetches, 1);
	r = get(k, path, &full, st);
	if (r < 0)
		return r;
	o = compact(full, ck, sizeof(ck));
	json_decref(full);
	if (!o) {
		snprintf(st->message, sizeof(st->message), "the answer has no metadata.name");
		return -EBADMSG;
	}
	cache_put(c, ck, json_incref(o), true);
	*out = o;
	return 0;
}

int cluster_kube_pvc_lookup(void *ud, const char *ns, const char *claim, struct sched_pvc_info *out,
			    char *err, size_t err_len)
{
	struct cluster_kube *k = ud;
	struct kube_status st = {0};
	json_t *pvc = NULL, *sc = NULL, *pv = NULL;
	const char *scn, *pvn, *phase;
	char key[KEY_MAX], path[700];
	int r;

	/* Both become part of a URL path. */
	if (!names_is_dns_subdomain(ns, strlen(ns)) ||
	    !names_is_dns_subdomain(claim, strlen(claim))) {
		snprintf(err, err_len, "not a valid namespace/claim name");
		return -EINVAL;
	}
	snprintf(key, sizeof(key), "%s/%s", ns, claim);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s", ns, claim);
	r = cached_or_get(k, &k->pvcs, key, path, pvc_compact, &pvc, &st);
	if (r == -ENOENT)
		return r;
	if (r < 0) {
		snprintf(err, err_len, "cannot read it: %.200s", st.message);
		return r;
	}
	scn = json_string_value(json_object_get(json_object_get(pvc, "spec"), "storageClassName"));
	if (scn && names_is_dns_subdomain(scn, strlen(scn))) {
		snprintf(path, sizeof(path), "/apis/storage.k8s.io/v1/storageclasses/%s", scn);
		r = cached_or_get(k, &k->scs, scn, path, sc_compact, &sc, &st);
		if (r < 0 && r != -ENOENT) {
			snprintf(err, err_len, "cannot read storageclass %.60s: %.160s", scn,
				 st.message);
			json_decref(pvc);
			return r;
		}
	}
	phase = json_string_value(json_object_get(json_object_get(pvc, "status"), "phase"));
	pvn = json_string_value(json_object_get(json_object_get(pvc, "spec"), "volumeName"));
	if (phase && strcmp(phase, "Bound") == 0 && pvn && names_is_dns_subdomain(pvn, strlen(pvn)))
		pv = pv_get(k, pvn);
	out->bound_numa = -1;
	r = sched_pvc_info_from_json(pvc, sc, pv, k->driver, out, err, err_len);
	json_decref(pvc);
	json_decref(sc);
	json_decref(pv);
	return r;
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

/* ---- informers ------------------------------------------------------------------------- */

static void informer_init(struct cluster_kube *k, struct informer *in,
			  const struct informer_ops *ops, struct obj_cache *cache)
{
	in->k = k;
	in->ops = ops;
	in->cache = cache;
	snprintf(in->state, sizeof(in->state), "off");
}

static void set_state(struct informer *in, const char *state, const char *error)
{
	pthread_mutex_lock(&in->k->wlock);
	snprintf(in->state, sizeof(in->state), "%s", state);
	if (error)
		snprintf(in->last_error, sizeof(in->last_error), "%s", error);
	pthread_mutex_unlock(&in->k->wlock);
}

static int on_event(const char *type, json_t *obj, void *ud)
{
	struct informer *in = ud;
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	if (atomic_load(&in->k->stop))
		return 1;
	in->ops->event(in, type, obj);
	if (rv) {
		pthread_mutex_lock(&in->k->wlock);
		snprintf(in->rv, sizeof(in->rv), "%s", rv);
		pthread_mutex_unlock(&in->k->wlock);
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

static void *informer_main(void *arg)
{
	struct informer *in = arg;
	struct cluster_kube *k = in->k;
	unsigned failures = 0;
	char q[600];
	/* A watch that ends on time proves the view is in step; shorter than max_record_age so
	 * quiet records do not go stale while the API server is there. */
	unsigned timeout_s = (unsigned)(k->max_age_ms / 3000);

	if (timeout_s == 0)
		timeout_s = 1;
	while (!atomic_load(&k->stop)) {
		struct kube_status st = {0};
		json_t *items = NULL;
		char *rv = NULL;
		int r;

		set_state(in, "listing", NULL);
		r = kube_list(in->wc, in->path, &items, &rv, &st);
		if (r < 0) {
			failures++;
			set_state(in, "retrying", st.message);
			log_warn(in->ops->ev_list_failed, "errno=%d reason=%s", -r,
				 log_quote(q, sizeof(q), st.message));
			if (!nap(k, kube_backoff_ms(failures, BACKOFF_MIN, BACKOFF_MAX,
						    (uint32_t)rand())))
				break;
			continue;
		}
		failures = 0;
		in->ops->listed(in, items);
		json_decref(items);
		pthread_mutex_lock(&k->wlock);
		snprintf(in->rv, sizeof(in->rv), "%s", rv ? rv : "");
		in->lists++;
		in->synced = true;
		pthread_mutex_unlock(&k->wlock);
		free(rv);
		for (;;) {
			char from[128];
			pthread_mutex_lock(&k->wlock);
			snprintf(from, sizeof(from), "%s", in->rv);
			pthread_mutex_unlock(&k->wlock);
			set_state(in, "watching", NULL);
			if (in->ops->in_step)
				in->ops->in_step(in);
			r = kube_watch(in->wc, in->path, from, timeout_s, on_event, in, &st);
			if (r == 0)
				continue; /* ended on time: watch again from where it was */
			break;
		}
		if (atomic_load(&k->stop) || r == 1)
			break;
		if (r == -ENODATA) {
			/* 410 Gone: the resourceVersion is too old; list again at once. */
			pthread_mutex_lock(&k->wlock);
			in->relists++;
			pthread_mutex_unlock(&k->wlock);
			log_info(in->ops->ev_relist, "reason=%s",
				 log_quote(q, sizeof(q), st.message));
			continue;
		}
		if (r == -EBADMSG) {
			/* A line that is not an event: what it said is lost, so list again
			 * (after the backoff: a server that keeps sending garbage is not
			 * hammered). */
			pthread_mutex_lock(&k->wlock);
			in->bad_lines++;
			pthread_mutex_unlock(&k->wlock);
		}
		failures++;
		set_state(in, "retrying", st.message);
		log_warn(in->ops->ev_watch_failed, "errno=%d reason=%s", -r,
			 log_quote(q, sizeof(q), st.message));
		if (!nap(k, kube_backoff_ms(failures, BACKOFF_MIN, BACKOFF_MAX, (uint32_t)rand())))
			break;
	}
	set_state(in, "stopped", NULL);
	return NULL;
}

static int informer_start(struct informer *in, char *err, size_t err_len)
{
	struct kube_status st = {0};
	int r;

	r = kube_client_new(&in->k->conn, &in->wc, &st);
	if (r < 0) {
		snprintf(err, err_len, "kubernetes: %s", st.message);
		return r;
	}
	r = pthread_create(&in->thread, NULL, informer_main, in);
	if (r) {
		snprintf(err, err_len, "kubernetes: cannot start the %s watch: %s", in->ops->what,
			 strerror(r));
		return -r;
	}
	in->running = true;
	return 0;
}

/* Interrupts its request in flight; the caller has set k->stop and woken naps. */
static void informer_stop(struct informer *in)
{
	if (in->running) {
		kube_client_interrupt(in->wc);
		pthread_join(in->thread, NULL);
		in->running = false;
	}
	in->wc = kube_client_free(in->wc);
}

/* {state, synced, resource_version, lists, relists, bad_lines, last_error[, objects]} */
static json_t *informer_json(struct informer *in)
{
	json_t *o;

	pthread_mutex_lock(&in->k->wlock);
	o = json_pack("{s:s, s:b, s:s, s:i, s:i, s:i, s:s?}", "state", in->state, "synced",
		      in->synced, "resource_version", in->rv, "lists", in->lists, "relists",
		      in->relists, "bad_lines", in->bad_lines, "last_error",
		      in->last_error[0] ? in->last_error : NULL);
	pthread_mutex_unlock(&in->k->wlock);
	if (o && in->cache)
		json_object_set_new(o, "objects", json_integer((json_int_t)cache_size(in->cache)));
	return o;
}

/* ---- the PmemNode watch ---------------------------------------------------------------- */

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

static void pmemnode_listed(struct informer *in, json_t *items)
{
	size_t i;
	json_t *it;

	json_array_foreach (items, i, it)
		put_object(in->k, it);
	cluster_keep_source(in->k->cluster, CLUSTER_SOURCE_KUBE, items);
}

static void pmemnode_event(struct informer *in, const char *type, json_t *obj)
{
	struct cluster_kube *k = in->k;

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
}

static void pmemnode_in_step(struct informer *in)
{
	cluster_touch_source(in->k->cluster, CLUSTER_SOURCE_KUBE);
}

static const struct informer_ops pmemnode_ops = {
	.what = "pmemnode",
	.ev_list_failed = "pmemnode_list_failed",
	.ev_watch_failed = "pmemnode_watch_failed",
	.ev_relist = "pmemnode_relist",
	.listed = pmemnode_listed,
	.event = pmemnode_event,
	.in_step = pmemnode_in_step,
};

int cluster_kube_watch_start(struct cluster_kube *k, struct cluster *c, char *err, size_t err_len)
{
	k->cluster = c;
	return informer_start(&k->nodes, err, err_len);
}

json_t *cluster_kube_cached(struct cluster_kube *k, bool pvc, const char *key)
{
	return cache_get(pvc ? &k->pvcs : &k->scs, key);
}

int cluster_kube_caches_start(struct cluster_kube *k, char *err, size_t err_len)
{
	int r = informer_start(&k->pvc_inf, err, err_len);

	return r < 0 ? r : informer_start(&k->sc_inf, err, err_len);
}

json_t *cluster_kube_json(struct cluster_kube *k)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:I}", "api_url", k->conn.api_url, "watch",
			 informer_json(&k->nodes), "pvcs", informer_json(&k->pvc_inf),
			 "storageclasses", informer_json(&k->sc_inf), "lookups_fetched",
			 (json_int_t)atomic_load(&k->fetches));
}

struct cluster_kube *cluster_kube_free(struct cluster_kube *k)
{
	if (!k)
		return NULL;
	atomic_store(&k->stop, true);
	pthread_mutex_lock(&k->wlock);
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->wlock);
	informer_stop(&k->nodes);
	informer_stop(&k->pvc_inf);
	informer_stop(&k->sc_inf);
	for (size_t i = 0; i < k->n_idle; i++)
		kube_client_free(k->idle[i]);
	for (size_t i = 0; i < PV_CACHE; i++)
		json_decref(k->pvs[i].pv);
	cache_clear(&k->pvcs);
	cache_clear(&k->scs);
	kube_conn_clear(&k->conn);
	pthread_mutex_destroy(&k->lock);
	pthread_mutex_destroy(&k->wlock);
	pthread_cond_destroy(&k->cond);
	free(k->driver);
	free(k);
	return NULL;
}
