/* topology-pool: the pool manager: discovery cache, reconcile passes, capacity and the node record.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "topology/topology.h"
#include "util/log.h"

#define MAX_STEPS 12 /* more steps than any pool needs from a blank region to mounted */

struct pool_entry {
	struct pool_status st;
	char *region;
	char *options;
	bool reformat;
	uint64_t reserve;
	bool id_clash; /* never reconciled: see entries_from_config */
};

struct topology_manager {
	pthread_mutex_t lock;	 /* guards everything below that readers see */
	pthread_mutex_t op_lock; /* one pass at a time: passes touch the kernel */
	pthread_cond_t cond;
	bool kick, stop, has_thread;
	pthread_t thread;

	const struct topology_ops *ops;
	unsigned refresh_ms;
	void (*on_pass)(void *ctx, struct topology_manager *m);
	void *ctx;

	char *node_name;
	json_t *labels;
	struct topology_snapshot *snap;
	struct pool_entry *pools;
	size_t n_pools;
	uint64_t generation;
	char *record; /* canonical node record without its generation: what "changed" means */
	bool settled;
	/* The kubelet CPU manager's checkpoint, read on every pass (a small local file). */
	char *cpu_state;
	unsigned *excl; /* CPU ids handed out exclusively, sorted */
	size_t n_excl;
	char excl_warning[600]; /* why the checkpoint could not be read, or "" */
	/* CPUs held by the volume service's reservations, per NUMA node (kernel id). */
	int *resv_cpu_ids;
	unsigned *resv_cpus;
	size_t n_resv_cpus;
	/* A simulated node (topology_sim): pools and NUMA nodes fixed at start, no kernel. */
	bool simulated;
	json_t *sim_labels; /* the description's labels, under the config's */
};

const char *topology_pool_state_name(enum pool_state s)
{
	switch (s) {
	case POOL_PENDING:
		return "pending";
	case POOL_READY:
		return "ready";
	case POOL_ERROR:
		return "error";
	}
	return "unknown";
}

void topology_pool_id(const char *path, char *id, size_t len)
{
	snprintf(id, len, "%s", path[0] == '/' ? path + 1 : path);
	for (char *c = id; *c; c++)
		if (*c == '/')
			*c = '-';
}

static void entries_free(struct pool_entry *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].region);
		free(p[i].options);
	}
	free(p);
}

/*
 * One config pool becomes one (sub-)pool per region: a single region keeps
 * the pool's path; several regions become <path>/<region>, one filesystem
 * each, so every sub-pool sits on exactly one NUMA node.
 */
static int entries_from_config(const struct config *cfg, struct pool_entry **out, size_t *n_out)
{
	size_t n = 0, k = 0;
	struct pool_entry *e;

	for (size_t i = 0; i < cfg->n_pools; i++)
		if (config_pool_matches(&cfg->pools[i], cfg))
			n += cfg->pools[i].n_regions;
	e = calloc(n ? n : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_pools; i++) {
		const struct config_pool *p = &cfg->pools[i];
		if (!config_pool_matches(p, cfg))
			continue;
		for (size_t r = 0; r < p->n_regions; r++, k++) {
			struct pool_entry *x = &e[k];
			if (p->n_regions == 1)
				snprintf(x->st.name, sizeof(x->st.name), "%s", p->name);
			else
				snprintf(x->st.name, sizeof(x->st.name), "%s/%s", p->name,
					 p->regions[r]);
			snprintf(x->st.region, sizeof(x->st.region), "%s", p->regions[r]);
			topology_pool_id(x->st.name, x->st.id, sizeof(x->st.id));
			x->st.type = p->type;
			x->st.fstype = p->fstype;
			x->st.state = POOL_PENDING;
			x->st.numa_node = TOPO_NO_NODE;
			x->region = strdup(p->regions[r]);
			x->options = p->options ? strdup(p->options) : NULL;
			x->reformat = p->reformat;
			x->reserve = p->reserve_bytes;
			if (!x->region || (p->options && !x->options)) {
				entries_free(e, k + 1);
				return -ENOMEM;
			}
		}
	}
	/* "/mnt/a-b" and "/mnt/a/b" share an id: the later one cannot be addressed, say so. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(e[i].st.id, e[j].st.id) == 0) {
				e[i].st.state = POOL_ERROR;
				snprintf(e[i].st.reason, sizeof(e[i].st.reason),
					 "pool id %.200s is also the id of %.200s; rename one of "
					 "the paths",
					 e[i].st.id, e[j].st.name);
				e[i].id_clash = true;
			}
	*out = e;
	*n_out = n;
	return 0;
}

/*
 * A simulated node's pools, NUMA nodes and pinned CPUs become the manager's; `sim` is
 * consumed (freed) either way.
 */
static int entries_from_sim(struct topology_manager *m, struct topology_sim *sim)
{
	struct pool_entry *e = calloc(sim->n_pools ? sim->n_pools : 1, sizeof(*e));
	int r = 0;

	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sim->n_pools; i++) {
		e[i].st = sim->pools[i];
		e[i].region = strdup("simulated");
		if (!e[i].region) {
			entries_free(e, i + 1);
			r = -ENOMEM;
			goto out;
		}
	}
	m->pools = e;
	m->n_pools = sim->n_pools;
	m->snap = sim->snap;
	sim->snap = NULL;
	m->excl = sim->excl;
	m->n_excl = sim->n_excl;
	sim->excl = NULL;
	m->sim_labels = sim->labels;
	sim->labels = NULL;
	m->simulated = true;
out:
	topology_sim_free(sim);
	return r;
}

static json_t *labels_json(const struct config *cfg, const json_t *base)
{
	json_t *o = base ? json_deep_copy(base) : json_object();

	if (!o)
		return NULL;

	for (size_t i = 0; i < cfg->n_labels; i++)
		json_object_set_new(o, cfg->labels[i].key, json_string(cfg->labels[i].value));
	if (!json_object_get(o, "kubernetes.io/hostname"))
		json_object_set_new(o, "kubernetes.io/hostname", json_string(cfg->node_name));
	return o;
}

/* ---- one pass ---- */

/* What a pass learns about a pool beyond the snapshot. */
struct pass_state {
	bool fs_probed;
	char fstype[16];
	char fsuuid[40];
	bool dir_ready;
};

static void regions_here(const struct topology_snapshot *s, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_regions && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", s->regions[i].dev);
}

static int observe(struct topology_manager *m, const struct pool_entry *p,
		   const struct topology_snapshot *s, const struct pass_state *ps,
		   struct pool_observed *o, const struct topology_namespace **ns_buf, size_t ns_cap,
		   char *here, size_t here_len, char *err, size_t err_len)
{
	int r;

	memset(o, 0, sizeof(*o));
	regions_here(s, here, here_len);
	o->regions_here = here;
	o->region = topology_find_region(s, p->region);
	o->ns = ns_buf;
	for (size_t i = 0; o->region && i < s->n_namespaces && o->n_ns < ns_cap; i++) {
		const struct topology_namespace *ns = &s->namespaces[i];
		if (strcmp(ns->region, p->region) == 0 && ns->size > 0)
			ns_buf[o->n_ns++] = ns;
	}
	if (o->n_ns == 1 && o->ns[0]->chardev[0]) {
		for (size_t i = 0; i < s->n_daxes; i++)
			if (strcmp(s->daxes[i].dev, o->ns[0]->chardev) == 0)
				o->dax = &s->daxes[i];
	}
	o->fs_probed = ps->fs_probed;
	memcpy(o->fstype, ps->fstype, sizeof(o->fstype));
	memcpy(o->fsuuid, ps->fsuuid, sizeof(o->fsuuid));
	o->dir_ready = ps->dir_ready;
	if (p->st.type == CONFIG_POOL_KMEM)
		return 0;
	r = m->ops->find_mount(p->st.name, &o->mount, err, err_len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	o->mounted = true;
	return m->ops->pool_has_volumes(p->st.name, &o->has_volumes, err, err_len);
}

static int rediscover(struct topology_manager *m, struct topology_snapshot **snap, char *err,
		      size_t err_len)
{
	struct topology_snapshot *n = NULL;
	int r = m->ops->discover(&n, err, err_len);

	if (r < 0)
		return r;
	topology_snapshot_free(*snap);
	*snap = n;
	return 0;
}

/* Fills device, namespace, NUMA node and capacity of a ready pool. */
static void fill_ready(struct topology_manager *m, struct pool_entry *p,
		       const struct topology_snapshot *snap, const struct pool_observed *o,
		       const struct pass_state *ps)
{
	const struct topology_namespace *ns = o->ns[0];
	char err[256];

	p->st.state = POOL_READY;
	p->st.reason[0] = '\0';
	snprintf(p->st.namespace_dev, sizeof(p->st.namespace_dev), "%s", ns->dev);
	p->st.numa_node = o->region->numa_node != TOPO_NO_NODE ? o->region->numa_node
							       : o->region->target_node;
	if (p->st.type == CONFIG_POOL_KMEM) {
		snprintf(p->st.device, sizeof(p->st.device), "%s", o->dax->dev);
		/* The memory now lives on the dax device's own (CPU-less) node. */
		if (o->dax->target_node != TOPO_NO_NODE)
			p->st.numa_node = o->dax->target_node;
		/*
		 * Memory goes online in whole memory blocks, so a CPU-less node of its
		 * own (memory mode proper) reports what really became RAM; merged into
		 * a node that has CPUs, the device's size is the best figure there is.
		 */
		const struct topology_numa_node *nn = topology_find_numa(snap, p->st.numa_node);
		uint64_t cap =
			nn && nn->n_cpus == 0 && nn->mem_total ? nn->mem_total : o->dax->size;
		p->st.capacity_bytes = cap;
		p->st.allocatable_bytes = cap > p->reserve ? cap - p->reserve : 0;
		return;
	}
	snprintf(p->st.device, sizeof(p->st.device), "/dev/%s", ns->blockdev);
	if (ps->fsuuid[0]) {
		snprintf(p->st.fsuuid, sizeof(p->st.fsuuid), "%s", ps->fsuuid);
	} else if (!p->st.fsuuid[0]) {
		/* Adopted as already mounted: read the UUID once, for the record. */
		char fstype[16];
		if (m->ops->probe_fs(ns->blockdev, fstype, sizeof(fstype), p->st.fsuuid,
				     sizeof(p->st.fsuuid), err, sizeof(err)) < 0)
			p->st.fsuuid[0] = '\0';
	}
	uint64_t total = 0, avail = 0, inodes = 0, ifree = 0;
	if (m->ops->fs_stat(p->st.name, &total, &avail, &inodes, &ifree, err, sizeof(err)) == 0) {
		p->st.capacity_bytes = total;
		p->st.allocatable_bytes = total > p->reserve ? total - p->reserve : 0;
		p->st.used_bytes = total > avail ? total - avail : 0;
		p->st.inodes = inodes;
		p->st.inodes_free = ifree;
	} else {
		log_warn("pool_stat_failed", "pool=%s reason=\"%s\"", p->st.name, err);
	}
}

static void set_error(struct pool_entry *p, const char *fmt, const char *a, const char *b)
{
	p->st.state = POOL_ERROR;
	snprintf(p->st.reason, sizeof(p->st.reason), fmt, a, b);
}

/* Drives one pool as far as it goes in this pass. */
static void reconcile_pool(struct topology_manager *m, struct pool_entry *p,
			   struct topology_snapshot **snap)
{
	struct pass_state ps = {0};
	enum pool_action_kind last = POOL_ACT_NONE;
	char err[512], here[512], q[600];
	const struct topology_namespace *ns_buf[16];
	struct pool_observed o;
	struct pool_action a;
	int r = 0;

	for (int step = 0; step < MAX_STEPS; step++) {
		r = observe(m, p, *snap, &ps, &o, ns_buf, 16, here, sizeof(here), err, sizeof(err));
		if (r < 0) {
			set_error(p, "cannot inspect %.200s: %.280s", p->st.name, err);
			return;
		}
		topology_pool_next(&(struct pool_want){.path = p->st.name,
						       .region = p->region,
						       .type = p->st.type,
						       .fstype = p->st.fstype,
						       .options = p->options,
						       .reformat = p->reformat},
				   &o, &a);
		if (a.kind == POOL_ACT_NONE) {
			if (p->st.state != POOL_READY)
				log_info("pool_ready", "pool=%s region=%s", p->st.name, p->region);
			fill_ready(m, p, *snap, &o, &ps);
			return;
		}
		if (a.kind == POOL_ACT_ERROR) {
			if (p->st.state != POOL_ERROR || strcmp(p->st.reason, a.reason) != 0)
				log_warn("pool_error", "pool=%s reason=%s", p->st.name,
					 log_quote(q, sizeof(q), a.reason));
			p->st.state = POOL_ERROR;
			snprintf(p->st.reason, sizeof(p->st.reason), "%s", a.reason);
			return;
		}
		/* An action that did not change what it was meant to change would loop. */
		if (a.kind == last && a.kind != POOL_ACT_PROBE_FS) {
			set_error(p, "%.60s made no progress on %.400s",
				  topology_pool_action_name(a.kind), p->st.name);
			return;
		}
		last = a.kind;
		log_info("pool_step", "pool=%s action=%s", p->st.name,
			 topology_pool_action_name(a.kind));
		switch (a.kind) {
		case POOL_ACT_CREATE_NAMESPACE: {
			char dev[TOPO_NAME_MAX];
			r = m->ops->create_namespace(p->region, a.mode, a.size, a.align, dev,
						     sizeof(dev), err, sizeof(err));
			if (r == 0)
				r = rediscover(m, snap, err, sizeof(err));
			break;
		}
		case POOL_ACT_PROBE_FS:
			r = m->ops->probe_fs(a.blockdev, ps.fstype, sizeof(ps.fstype), ps.fsuuid,
					     sizeof(ps.fsuuid), err, sizeof(err));
			ps.fs_probed = r == 0;
			break;
		case POOL_ACT_MKFS:
			r = m->ops->mkfs(a.blockdev, p->st.fstype, err, sizeof(err));
			ps.fs_probed = false;
			break;
		case POOL_ACT_MKDIR:
			r = m->ops->make_dir(p->st.name, err, sizeof(err));
			ps.dir_ready = r == 0;
			break;
		case POOL_ACT_MOUNT:
			r = m->ops->mount(a.blockdev, p->st.name, p->st.fstype, a.options, err,
					  sizeof(err));
			break;
		case POOL_ACT_DAX_TO_RAM:
			r = m->ops->dax_to_ram(a.daxdev, err, sizeof(err));
			if (r == 0)
				r = rediscover(m, snap, err, sizeof(err));
			break;
		case POOL_ACT_NONE:
		case POOL_ACT_ERROR:
			break;
		}
		if (r < 0) {
			char what[64];
			snprintf(what, sizeof(what), "%s", topology_pool_action_name(a.kind));
			set_error(p, "%.60s failed: %.400s", what, err);
			log_warn("pool_error", "pool=%s action=%s reason=%s", p->st.name, what,
				 log_quote(q, sizeof(q), err));
			return;
		}
	}
	set_error(p, "%.400s: still not ready after %s steps", p->st.name, "12");
}

/* Builds the node record; caller holds m->lock. */
static json_t *node_record(struct topology_manager *m);
static void update_record(struct topology_manager *m);

static void finish_pass(struct topology_manager *m, struct topology_snapshot *snap,
			struct pool_entry *pools, size_t n)
{
	pthread_mutex_lock(&m->lock);
	if (snap) {
		topology_snapshot_free(m->snap);
		m->snap = snap;
	}
	for (size_t i = 0; i < n && i < m->n_pools; i++) {
		/* allocated_bytes and reserved_bytes are the volume service's, not the pass's. */
		uint64_t allocated = m->pools[i].st.allocated_bytes;
		uint64_t reserved = m->pools[i].st.reserved_bytes;

		m->pools[i].st = pools[i].st;
		m->pools[i].st.allocated_bytes = allocated;
		m->pools[i].st.reserved_bytes = reserved;
	}
	update_record(m);
	m->settled = true;
	pthread_mutex_unlock(&m->lock);
}

/* Recomputes the node record and moves the generation when it changed; caller holds m->lock. */
static void update_record(struct topology_manager *m)
{
	json_t *rec;
	char *canon;

	/*
	 * The generation versions the discovery views too (they share its ETag),
	 * so a change only they show (a DIMM's health) must move it as well.
	 */
	rec = node_record(m);
	if (rec && m->snap)
		json_object_set_new(rec, "topology", topology_snapshot_to_json(m->snap));
	canon = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(rec);
	if (canon && (!m->record || strcmp(canon, m->record) != 0)) {
		free(m->record);
		m->record = canon;
		m->generation++;
	} else {
		free(canon);
	}
}

int topology_manager_set_allocated(struct topology_manager *m, const char *pool, uint64_t bytes)
{
	int r = -ENOENT;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_pools; i++) {
		if (strcmp(m->pools[i].st.name, pool) != 0)
			continue;
		r = 0;
		if (m->pools[i].st.allocated_bytes != bytes) {
			m->pools[i].st.allocated_bytes = bytes;
			update_record(m);
		}
		break;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int topology_manager_set_reserved(struct topology_manager *m, const char *pool, uint64_t bytes)
{
	int r = -ENOENT;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_pools; i++) {
		if (strcmp(m->pools[i].st.name, pool) != 0)
			continue;
		r = 0;
		if (m->pools[i].st.reserved_bytes != bytes) {
			m->pools[i].st.reserved_bytes = bytes;
			update_record(m);
		}
		break;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int topology_manager_set_reserved_cpus(struct topology_manager *m, const int *numa_ids,
				       const unsigned *cpus, size_t n)
{
	int *ids = n ? malloc(n * sizeof(*ids)) : NULL;
	unsigned *cnt = n ? malloc(n * sizeof(*cnt)) : NULL;
	bool same;

	if (n && (!ids || !cnt)) {
		free(ids);
		free(cnt);
		return -ENOMEM;
	}
	if (n) {
		memcpy(ids, numa_ids, n * sizeof(*ids));
		memcpy(cnt, cpus, n * sizeof(*cnt));
	}
	pthread_mutex_lock(&m->lock);
	same = m->n_resv_cpus == n && (!n || (memcmp(m->resv_cpu_ids, ids, n * sizeof(*ids)) == 0 &&
					      memcmp(m->resv_cpus, cnt, n * sizeof(*cnt)) == 0));
	free(m->resv_cpu_ids);
	free(m->resv_cpus);
	m->resv_cpu_ids = ids;
	m->resv_cpus = cnt;
	m->n_resv_cpus = n;
	if (!same)
		update_record(m);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static unsigned reserved_cpus_of(const struct topology_manager *m, int numa_id)
{
	unsigned sum = 0;

	for (size_t i = 0; i < m->n_resv_cpus; i++)
		if (m->resv_cpu_ids[i] == numa_id)
			sum += m->resv_cpus[i];
	return sum;
}

/*
 * Reads the CPU manager's checkpoint into the manager (the record shows it
 * at the end of the pass). A file that cannot be parsed means no exclusive
 * CPUs and a warning in the record, never a failed pass.
 */
static void read_cpu_state(struct topology_manager *m)
{
	unsigned *excl = NULL;
	size_t n = 0;
	char err[sizeof(m->excl_warning)] = "", q[700];
	char *path;

	pthread_mutex_lock(&m->lock);
	path = m->cpu_state ? strdup(m->cpu_state) : NULL;
	pthread_mutex_unlock(&m->lock);
	if (path && topology_cpu_manager_read(path, &excl, &n, err, sizeof(err)) < 0) {
		excl = NULL;
		n = 0;
		if (!err[0])
			snprintf(err, sizeof(err), "CPU manager state %s: cannot read it", path);
	} else {
		err[0] = '\0';
	}
	free(path);
	pthread_mutex_lock(&m->lock);
	if (err[0] && strcmp(err, m->excl_warning) != 0)
		log_warn("cpu_manager_state_unreadable", "reason=%s", log_quote(q, sizeof(q), err));
	free(m->excl);
	m->excl = excl;
	m->n_excl = n;
	snprintf(m->excl_warning, sizeof(m->excl_warning), "%s", err);
	pthread_mutex_unlock(&m->lock);
}

/*
 * A simulated node's pass: nothing to discover or reconcile, but the record is recomputed
 * (labels, node name) and on_pass runs, as after a real pass; caller holds op_lock.
 */
static int simulated_pass(struct topology_manager *m, const char *only)
{
	int found = only ? 0 : 1;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; only && i < m->n_pools; i++)
		if (strcmp(m->pools[i].st.name, only) == 0)
			found = 1;
	update_record(m);
	m->settled = true;
	pthread_mutex_unlock(&m->lock);
	if (m->on_pass)
		m->on_pass(m->ctx, m);
	return found ? 0 : -ENOENT;
}

/* One pass over every pool (or one); caller holds op_lock. */
static int run_pass(struct topology_manager *m, const char *only, bool reconcile)
{
	struct topology_snapshot *snap = NULL;
	struct pool_entry *work;
	size_t n;
	char err[512], q[600];
	int r, found = only ? 0 : 1;

	if (m->simulated)
		return simulated_pass(m, only);
	r = m->ops->discover(&snap, err, sizeof(err));
	if (r < 0) {
		log_error("discovery_failed", "reason=%s", log_quote(q, sizeof(q), err));
		snap = NULL;
	}
	/* Work on a copy of the statuses so readers never see a half-made pass. */
	pthread_mutex_lock(&m->lock);
	n = m->n_pools;
	work = calloc(n ? n : 1, sizeof(*work));
	if (work)
		memcpy(work, m->pools, n * sizeof(*work));
	pthread_mutex_unlock(&m->lock);
	if (!work) {
		topology_snapshot_free(snap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (only && strcmp(work[i].st.name, only) != 0)
			continue;
		found = 1;
		if (!snap) {
			set_error(&work[i], "discovery failed: %.400s%s", err, "");
			continue;
		}
		if (!work[i].id_clash && (reconcile || work[i].st.state == POOL_READY))
			reconcile_pool(m, &work[i], &snap);
	}
	read_cpu_state(m);
	finish_pass(m, snap, work, n);
	free(work); /* the strings inside belong to m->pools */
	if (m->on_pass)
		m->on_pass(m->ctx, m);
	return found ? 0 : -ENOENT;
}

static void *manager_thread(void *arg)
{
	struct topology_manager *m = arg;

	for (;;) {
		pthread_mutex_lock(&m->op_lock);
		run_pass(m, NULL, true);
		pthread_mutex_unlock(&m->op_lock);

		pthread_mutex_lock(&m->lock);
		if (!m->kick && !m->stop) {
			if (m->refresh_ms) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += m->refresh_ms / 1000;
				ts.tv_nsec += (long)(m->refresh_ms % 1000) * 1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&m->cond, &m->lock, &ts);
			} else {
				pthread_cond_wait(&m->cond, &m->lock);
			}
		}
		m->kick = false;
		bool stop = m->stop;
		pthread_mutex_unlock(&m->lock);
		if (stop)
			return NULL;
	}
}

int topology_manager_new(struct topology_manager **out, const struct config *cfg,
			 const struct topology_manager_opts *opts, bool start_thread, char *err,
			 size_t err_len)
{
	struct topology_manager *m = calloc(1, sizeof(*m));
	int r;

	if (!m) {
		topology_sim_free(opts->sim);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->op_lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->ops = opts->ops;
	m->refresh_ms = opts->refresh_ms;
	m->on_pass = opts->on_pass;
	m->ctx = opts->ctx;
	m->node_name = strdup(cfg->node_name);
	if (opts->sim) {
		r = entries_from_sim(m, opts->sim);
		if (r < 0) {
			snprintf(err, err_len, "out of memory");
			topology_manager_free(m);
			return r;
		}
	} else {
		m->cpu_state = cfg->placement.cpu_manager_state
				       ? strdup(cfg->placement.cpu_manager_state)
				       : NULL;
		r = entries_from_config(cfg, &m->pools, &m->n_pools);
	}
	m->labels = labels_json(cfg, m->sim_labels);
	if (r < 0 || !m->node_name || !m->labels ||
	    (!m->simulated && cfg->placement.cpu_manager_state && !m->cpu_state)) {
		snprintf(err, err_len, "out of memory");
		topology_manager_free(m);
		return r < 0 ? r : -ENOMEM;
	}
	if (start_thread) {
		r = -pthread_create(&m->thread, NULL, manager_thread, m);
		if (r < 0) {
			snprintf(err, err_len, "cannot start the pool manager thread: %s",
				 strerror(-r));
			topology_manager_free(m);
			return r;
		}
		m->has_thread = true;
	}
	*out = m;
	return 0;
}

void topology_manager_stop(struct topology_manager *m)
{
	if (!m || !m->has_thread)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	m->has_thread = false;
}

struct topology_manager *topology_manager_free(struct topology_manager *m)
{
	if (!m)
		return NULL;
	topology_manager_stop(m);
	entries_free(m->pools, m->n_pools);
	topology_snapshot_free(m->snap);
	json_decref(m->labels);
	free(m->node_name);
	free(m->record);
	free(m->cpu_state);
	free(m->excl);
	free(m->resv_cpu_ids);
	free(m->resv_cpus);
	json_decref(m->sim_labels);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->op_lock);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

int topology_manager_set_config(struct topology_manager *m, const struct config *cfg)
{
	struct pool_entry *e = NULL;
	size_t n = 0;
	char *name = strdup(cfg->node_name);
	json_t *labels = labels_json(cfg, m->sim_labels);
	char *cpu_state = NULL;
	int r = 0;

	/* A simulated node keeps the pools of its description (simulate: needs a restart). */
	if (m->simulated) {
		if (!name || !labels) {
			free(name);
			json_decref(labels);
			return -ENOMEM;
		}
		pthread_mutex_lock(&m->op_lock);
		pthread_mutex_lock(&m->lock);
		free(m->node_name);
		m->node_name = name;
		json_decref(m->labels);
		m->labels = labels;
		pthread_mutex_unlock(&m->lock);
		r = run_pass(m, NULL, true);
		pthread_mutex_unlock(&m->op_lock);
		return r;
	}
	cpu_state =
		cfg->placement.cpu_manager_state ? strdup(cfg->placement.cpu_manager_state) : NULL;
	r = entries_from_config(cfg, &e, &n);
	if (r < 0 || !name || !labels || (cfg->placement.cpu_manager_state && !cpu_state)) {
		free(name);
		free(cpu_state);
		json_decref(labels);
		if (r == 0)
			entries_free(e, n);
		return r < 0 ? r : -ENOMEM;
	}
	/* Wait for a running pass: it works on a copy of the old pool list. */
	pthread_mutex_lock(&m->op_lock);
	pthread_mutex_lock(&m->lock);
	entries_free(m->pools, m->n_pools);
	m->pools = e;
	m->n_pools = n;
	free(m->node_name);
	m->node_name = name;
	json_decref(m->labels);
	m->labels = labels;
	free(m->cpu_state);
	m->cpu_state = cpu_state;
	pthread_mutex_unlock(&m->lock);
	r = run_pass(m, NULL, true);
	pthread_mutex_unlock(&m->op_lock);
	return r;
}

int topology_manager_reconcile(struct topology_manager *m, const char *pool)
{
	int r;

	pthread_mutex_lock(&m->op_lock);
	r = run_pass(m, pool, true);
	pthread_mutex_unlock(&m->op_lock);
	return r;
}

int topology_manager_refresh(struct topology_manager *m)
{
	int r;

	pthread_mutex_lock(&m->op_lock);
	r = run_pass(m, NULL, false);
	pthread_mutex_unlock(&m->op_lock);
	return r;
}

bool topology_manager_settled(struct topology_manager *m)
{
	bool s;

	pthread_mutex_lock(&m->lock);
	s = m->settled;
	pthread_mutex_unlock(&m->lock);
	return s;
}

uint64_t topology_manager_generation(struct topology_manager *m)
{
	uint64_t g;

	pthread_mutex_lock(&m->lock);
	g = m->generation;
	pthread_mutex_unlock(&m->lock);
	return g;
}

int topology_manager_pools(struct topology_manager *m, struct pool_status **out, size_t *n)
{
	struct pool_status *s;

	pthread_mutex_lock(&m->lock);
	s = calloc(m->n_pools ? m->n_pools : 1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&m->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->n_pools; i++)
		s[i] = m->pools[i].st;
	*n = m->n_pools;
	pthread_mutex_unlock(&m->lock);
	*out = s;
	return 0;
}

int topology_manager_pool(struct topology_manager *m, const char *name, struct pool_status *out)
{
	int r = -ENOENT;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_pools; i++) {
		if (strcmp(m->pools[i].st.name, name) == 0) {
			*out = m->pools[i].st;
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

/* ---- JSON views ---- */

static json_t *nullable(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

int topology_manager_pool_by_id(struct topology_manager *m, const char *id, struct pool_status *out)
{
	int r = -ENOENT;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_pools; i++) {
		if (strcmp(m->pools[i].st.id, id) == 0) {
			*out = m->pools[i].st;
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

json_t *topology_pool_status_json(const struct pool_status *p)
{
	bool kmem = p->type == CONFIG_POOL_KMEM;
	json_t *j = json_pack(
		"{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, "
		"s:I, s:I}",
		"name", p->name, "id", p->id, "region", p->region, "type",
		config_pool_type_name(p->type), "fstype",
		kmem ? json_null() : json_string(config_fstype_name(p->fstype)), "state",
		topology_pool_state_name(p->state), "reason", nullable(p->reason), "numa_node",
		p->numa_node == TOPO_NO_NODE ? json_null() : json_integer(p->numa_node), "device",
		nullable(p->device), "namespace", nullable(p->namespace_dev), "fs_uuid",
		nullable(p->fsuuid), "capacity_bytes", (json_int_t)p->capacity_bytes,
		"allocatable_bytes", (json_int_t)p->allocatable_bytes, "allocated_bytes",
		(json_int_t)p->allocated_bytes, "reserved_bytes", (json_int_t)p->reserved_bytes,
		"used_bytes", (json_int_t)p->used_bytes, "inodes", (json_int_t)p->inodes,
		"inodes_free", (json_int_t)p->inodes_free);

	if (j && p->simulated)
		json_object_set_new(j, "simulated", json_true());
	return j;
}

json_t *topology_manager_snapshot_json(struct topology_manager *m, int which)
{
	json_t *j = NULL;

	pthread_mutex_lock(&m->lock);
	if (!m->snap) {
		pthread_mutex_unlock(&m->lock);
		return NULL;
	}
	switch (which) {
	case TOPO_JSON_REGIONS:
		j = topology_regions_to_json(m->snap);
		break;
	case TOPO_JSON_NAMESPACES:
		j = topology_namespaces_to_json(m->snap);
		break;
	case TOPO_JSON_NUMA:
		j = topology_numa_to_json(m->snap);
		break;
	default:
		j = topology_snapshot_to_json(m->snap);
		break;
	}
	pthread_mutex_unlock(&m->lock);
	return j;
}

/* Per NUMA node sums of the pools that are ready on it. */
struct numa_sums {
	uint64_t capacity, allocatable, allocated, reserved, used, kmem;
};

static struct numa_sums sums_for(const struct topology_manager *m, int node, json_t *names)
{
	struct numa_sums s = {0};

	for (size_t i = 0; i < m->n_pools; i++) {
		const struct pool_status *p = &m->pools[i].st;
		if (p->numa_node != node)
			continue;
		json_array_append_new(names, json_string(p->name));
		if (p->state != POOL_READY)
			continue;
		if (p->type == CONFIG_POOL_KMEM) {
			s.kmem += p->capacity_bytes;
			continue;
		}
		s.capacity += p->capacity_bytes;
		s.allocatable += p->allocatable_bytes;
		s.allocated += p->allocated_bytes;
		s.reserved += p->reserved_bytes;
		s.used += p->used_bytes;
	}
	return s;
}

static int cmp_cpu(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* The node record (DESIGN: "Node Resource", one per node); docs/api.md documents its shape. */
static json_t *node_record(struct topology_manager *m)
{
	json_t *rec = json_object(), *numa = json_array(), *pools = json_array(),
	       *warnings = json_array();
	const struct topology_snapshot *s = m->snap;

	for (size_t i = 0; s && i < s->n_numa; i++) {
		const struct topology_numa_node *n = &s->numa[i];
		json_t *cpus = json_array(), *dist = json_object(), *names = json_array(),
		       *excl = json_array();
		char key[16];

		for (size_t c = 0; c < n->n_cpus; c++) {
			json_array_append_new(cpus, json_integer(n->cpus[c]));
			if (m->n_excl &&
			    bsearch(&n->cpus[c], m->excl, m->n_excl, sizeof(*m->excl), cmp_cpu))
				json_array_append_new(excl, json_integer(n->cpus[c]));
		}
		for (size_t j = 0; j < s->n_numa; j++) {
			snprintf(key, sizeof(key), "%d", s->numa[j].id);
			json_object_set_new(dist, key,
					    json_integer(s->distance[i * s->n_numa + j]));
		}
		struct numa_sums sum = sums_for(m, n->id, names);
		json_array_append_new(
			numa,
			json_pack("{s:i, s:o, s:o, s:i, s:b, s:I, s:I, s:o, s:o, s:I, s:I, s:I, "
				  "s:I, s:I}",
				  "id", n->id, "cpus", cpus, "cpus_exclusive", excl,
				  "cpus_reserved", (int)reserved_cpus_of(m, n->id), "has_cpus",
				  n->n_cpus > 0, "memory_bytes", (json_int_t)n->mem_total,
				  "memory_free_bytes", (json_int_t)n->mem_free, "distances", dist,
				  "pools", names, "pmem_capacity_bytes", (json_int_t)sum.capacity,
				  "pmem_allocatable_bytes", (json_int_t)sum.allocatable,
				  "pmem_allocated_bytes", (json_int_t)sum.allocated,
				  "pmem_used_bytes", (json_int_t)sum.used, "kmem_bytes",
				  (json_int_t)sum.kmem));
	}
	for (size_t i = 0; i < m->n_pools; i++)
		json_array_append_new(pools, topology_pool_status_json(&m->pools[i].st));
	for (size_t i = 0; s && i < s->n_regions; i++)
		if (s->regions[i].warning[0])
			json_array_append_new(warnings, json_string(s->regions[i].warning));
	for (size_t i = 0; s && i < s->n_warnings; i++)
		json_array_append_new(warnings, json_string(s->warnings[i]));
	if (m->excl_warning[0])
		json_array_append_new(warnings, json_string(m->excl_warning));
	json_object_set_new(rec, "node", json_string(m->node_name));
	json_object_set(rec, "labels", m->labels);
	json_object_set_new(rec, "numa_nodes", numa);
	json_object_set_new(rec, "pools", pools);
	json_object_set_new(rec, "warnings", warnings);
	/* So that nobody takes it for a real node: no PMEM stands behind it. */
	if (m->simulated)
		json_object_set_new(rec, "simulated", json_true());
	return rec;
}

json_t *topology_manager_node_json(struct topology_manager *m, uint64_t *generation)
{
	json_t *rec;

	pthread_mutex_lock(&m->lock);
	rec = node_record(m);
	json_object_set_new(rec, "generation", json_integer((json_int_t)m->generation));
	if (generation)
		*generation = m->generation;
	pthread_mutex_unlock(&m->lock);
	return rec;
}

static json_t *quantity(uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

static json_t *resource(const char *name, uint64_t cap, uint64_t alloc, uint64_t avail)
{
	return json_pack("{s:s, s:o, s:o, s:o}", "name", name, "capacity", quantity(cap),
			 "allocatable", quantity(alloc), "available", quantity(avail));
}

/*
 * NodeResourceTopology (topology.node.k8s.io/v1alpha2): one zone of type
 * Node per NUMA node, costs from the distance matrix, and PMEM per zone as
 * the extended resource pmem.io/<pool type>.
 */
json_t *topology_manager_nrt_json(struct topology_manager *m, uint64_t *generation)
{
	json_t *zones = json_array(), *obj;
	const struct topology_snapshot *s;

	pthread_mutex_lock(&m->lock);
	s = m->snap;
	for (size_t i = 0; s && i < s->n_numa; i++) {
		const struct topology_numa_node *n = &s->numa[i];
		json_t *costs = json_array(), *res = json_array(), *names = json_array();
		char zname[32], other[32];

		snprintf(zname, sizeof(zname), "node-%d", n->id);
		for (size_t j = 0; j < s->n_numa; j++) {
			snprintf(other, sizeof(other), "node-%d", s->numa[j].id);
			json_array_append_new(
				costs, json_pack("{s:s, s:I}", "name", other, "value",
						 (json_int_t)s->distance[i * s->n_numa + j]));
		}
		struct numa_sums sum = sums_for(m, n->id, names);
		json_decref(names);
		json_array_append_new(res, resource("cpu", n->n_cpus, n->n_cpus, n->n_cpus));
		json_array_append_new(res,
				      resource("memory", n->mem_total, n->mem_total, n->mem_free));
		if (sum.capacity)
			json_array_append_new(
				res,
				resource("pmem.io/pmem", sum.capacity, sum.allocatable,
					 sum.allocatable > sum.allocated + sum.reserved
						 ? sum.allocatable - sum.allocated - sum.reserved
						 : 0));
		if (sum.kmem)
			json_array_append_new(
				res, resource("pmem.io/kmem", sum.kmem, sum.kmem, sum.kmem));
		json_array_append_new(zones,
				      json_pack("{s:s, s:s, s:o, s:o}", "name", zname, "type",
						"Node", "costs", costs, "resources", res));
	}
	obj = json_pack("{s:s, s:s, s:{s:s}, s:[], s:o}", "apiVersion",
			"topology.node.k8s.io/v1alpha2", "kind", "NodeResourceTopology", "metadata",
			"name", m->node_name, "topologyPolicies", "zones", zones);
	if (generation)
		*generation = m->generation;
	pthread_mutex_unlock(&m->lock);
	return obj;
}

void topology_manager_metrics(struct topology_manager *m, FILE *f)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} gauges[] = {
		{"pmem_pool_capacity_bytes", "Size of the pool's filesystem.",
		 offsetof(struct pool_status, capacity_bytes)},
		{"pmem_pool_allocatable_bytes", "Capacity minus the pool's reserve.",
		 offsetof(struct pool_status, allocatable_bytes)},
		{"pmem_pool_allocated_bytes", "Sum of the volume quotas in the pool.",
		 offsetof(struct pool_status, allocated_bytes)},
		{"pmem_pool_used_bytes", "Bytes used on the pool's filesystem.",
		 offsetof(struct pool_status, used_bytes)},
	};

	pthread_mutex_lock(&m->lock);
	for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].name, gauges[g].help,
			gauges[g].name);
		for (size_t i = 0; i < m->n_pools; i++) {
			const struct pool_status *p = &m->pools[i].st;
			uint64_t v = *(const uint64_t *)((const char *)p + gauges[g].off);
			fprintf(f, "%s{pool=\"%s\",numa_node=\"%d\",fstype=\"%s\"} %llu\n",
				gauges[g].name, p->name, p->numa_node,
				p->type == CONFIG_POOL_KMEM ? "" : config_fstype_name(p->fstype),
				(unsigned long long)v);
		}
	}
	fprintf(f, "# HELP pmem_pool_ready 1 when the pool is ready, 0 otherwise.\n"
		   "# TYPE pmem_pool_ready gauge\n");
	for (size_t i = 0; i < m->n_pools; i++) {
		const struct pool_status *p = &m->pools[i].st;
		fprintf(f, "pmem_pool_ready{pool=\"%s\",numa_node=\"%d\",fstype=\"%s\"} %d\n",
			p->name, p->numa_node,
			p->type == CONFIG_POOL_KMEM ? "" : config_fstype_name(p->fstype),
			p->state == POOL_READY);
	}
	fprintf(f, "# HELP pmem_region_size_bytes Size of each PMEM region.\n"
		   "# TYPE pmem_region_size_bytes gauge\n");
	for (size_t i = 0; m->snap && i < m->snap->n_regions; i++)
		fprintf(f, "pmem_region_size_bytes{region=\"%s\",numa_node=\"%d\"} %llu\n",
			m->snap->regions[i].dev, m->snap->regions[i].numa_node,
			(unsigned long long)m->snap->regions[i].size);
	fprintf(f, "# HELP pmem_region_available_bytes Unallocated bytes of each PMEM region.\n"
		   "# TYPE pmem_region_available_bytes gauge\n");
	for (size_t i = 0; m->snap && i < m->snap->n_regions; i++)
		fprintf(f, "pmem_region_available_bytes{region=\"%s\",numa_node=\"%d\"} %llu\n",
			m->snap->regions[i].dev, m->snap->regions[i].numa_node,
			(unsigned long long)m->snap->regions[i].available_size);
	pthread_mutex_unlock(&m->lock);
}
