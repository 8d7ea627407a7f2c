/* quota-volumes: the volume service: catalog in memory, crash-safe create, resize, delete, publish.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "quota/quota-volumes-private.h"
#include "sched/sched.h"
#include "util/log.h"
#include "util/errmsg.h"

#define META_PUBLISHED	   "published"
#define PUBLISHED_TEXT_MAX 2048 /* leaves room in ext4's one xattr block for the record */
#define VOLUME_MODE	   0777 /* a pod of any uid writes into its volume */
#define SUFFIX_LEN	   16	/* hex digits of a staging or trash name's random part */

/*
 * Fault injection, only in a test build (-DPMEMD_FAULT_INJECTION):
 * PMEMD_FAULT=volume_create:3 aborts right after step 3 of a create has
 * completed, so a system test can prove that a restart finishes or undoes
 * every step. The release build has no such code at all.
 */
#ifdef PMEMD_FAULT_INJECTION
static void fault(const char *op, int step)
{
	const char *f = getenv("PMEMD_FAULT");
	size_t n = strlen(op);

	if (f && strncmp(f, op, n) == 0 && f[n] == ':' && atoi(f + n + 1) == step) {
		log_error("fault_injected", "op=%s step=%d", op, step);
		abort();
	}
}
#else
#define fault(op, step) ((void)0)
#endif

static const char *const op_names[OP_COUNT] = {"create", "resize", "delete", "publish",
					       "unpublish"};
static const char *const result_names[RES_COUNT] = {"ok",	"invalid",  "not_found",
						    "conflict", "no_space", "error"};

/* Latency buckets in seconds: the same as the HTTP histogram's (api-metrics.c). */
static const double dur_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				     0.1,    0.25,  0.5,    1,	   2.5,	 5,	10};
#define N_DUR_BUCKETS (sizeof(dur_buckets) / sizeof(dur_buckets[0]))
_Static_assert(N_DUR_BUCKETS == QV_DUR_BUCKETS, "struct op_hist has QV_DUR_BUCKETS buckets");

/* ---- small helpers ---- */

static int64_t now(const struct quota_volumes *v)
{
	return v->o.now ? v->o.now() : (int64_t)time(NULL);
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An operation that started at `start` (mono_seconds) ended with `r`: its counter and latency. */
static void count(struct quota_volumes *v, enum op op, int r, double start)
{
	enum result res = RES_ERROR;
	double d = mono_seconds() - start;
	struct op_hist *h = &v->hist[op];

	switch (r < 0 ? -r : r) {
	case 0:
		res = RES_OK;
		break;
	case EINVAL:
		res = RES_INVALID;
		break;
	case ENOENT:
		res = RES_NOT_FOUND;
		break;
	case EEXIST:
	case EBUSY:
		res = RES_CONFLICT;
		break;
	case ENOSPC:
		res = RES_NO_SPACE;
		break;
	}
	if (d < 0)
		d = 0;
	pthread_mutex_lock(&v->lock);
	v->counters[op][res]++;
	for (size_t b = 0; b < N_DUR_BUCKETS; b++)
		if (d <= dur_buckets[b])
			h->le[b]++;
	h->count++;
	h->sum += d;
	pthread_mutex_unlock(&v->lock);
}

/* "<prefix>.<16 hex>": a staging or trash name, at most QUOTA_NAME_MAX. */
static void random_name(const char *dir, const char *name, char *rel, size_t len)
{
	unsigned char b[SUFFIX_LEN / 2];
	char hex[SUFFIX_LEN + 1];
	int keep = QUOTA_NAME_MAX - 1 - SUFFIX_LEN;

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		/* Unique enough: the NOREPLACE rename and mkdir refuse a clash anyway. */
		uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)rel;
		memcpy(b, &x, sizeof(b));
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	snprintf(rel, len, "%s/%.*s.%s", dir, keep, name, hex);
}

/*
 * A volume's quota: quota_limit_for_size (the directory's own blocks), plus
 * on ext4 the external extended-attribute block that holds the record
 * (trusted.pmemd.*: too big for the in-inode space of a 256-byte inode), which
 * is charged to the project like a data block. xfs keeps a small record in
 * the inode's attribute fork (nothing charged).
 */
static uint64_t volume_limit(uint64_t size, enum config_fstype fstype, uint64_t block_size)
{
	uint64_t l = quota_limit_for_size(size, fstype, block_size);

	if (fstype == CONFIG_FS_EXT4 && l <= UINT64_MAX - block_size)
		l += block_size;
	return l;
}

static uint64_t limit_for(const struct quota_volumes *v, const struct vpool *p, uint64_t size)
{
	return volume_limit(size, p->fstype, v->block_size);
}

uint64_t qv_limit_for(const struct quota_volumes *v, const struct vpool *p, uint64_t size)
{
	return limit_for(v, p, size);
}

uint64_t qv_limit_any(const struct quota_volumes *v, uint64_t size)
{
	uint64_t a = volume_limit(size, CONFIG_FS_EXT4, v->block_size);
	uint64_t b = volume_limit(size, CONFIG_FS_XFS, v->block_size);

	return a > b ? a : b;
}

/* ---- the catalog in memory (callers hold v->lock) ---- */

/* By name through the index: a start-up scan of 10,000 volumes asks this once per volume. */
static struct vol *find_vol(struct quota_volumes *v, const char *name)
{
	return strmap_get(&v->by_name, name);
}

int qv_loading(struct quota_volumes *v, char *err, size_t err_len)
{
	for (size_t i = 0; i < v->n_pools; i++) {
		const struct vpool *p = v->pools[i];

		if (p->pending || (p->ready && !p->scanned))
			return err_fail(-EAGAIN, err, err_len,
					"pool %s is not loaded yet (pmemd is starting); try again",
					p->name);
	}
	return 0;
}

/*
 * A name the catalog lacks: gone, or (while a pool is loading, right after a start) not known
 * yet. Saying 404 then would tell a client that deletes (the CSI shim reads 404 as done) or
 * checks a volume that it is gone while it exists (found by test 98, requests sent right after
 * a restart). Under v->lock.
 */
static int no_volume(struct quota_volumes *v, const char *name, char *err, size_t err_len)
{
	int r = qv_loading(v, err, err_len);

	if (r < 0)
		return r;
	/* The same for a pool in error: the volume may be on it, unreadable, not gone. */
	for (size_t i = 0; i < v->n_pools; i++)
		if (v->pools[i]->failed)
			return err_fail(
				-EAGAIN, err, err_len,
				"no volume %.253s in the ready pools, and pool %s is in error: "
				"the volume may be there; repair the pool (GET /v1/pools says "
				"why) and try again",
				name, v->pools[i]->name);
	return err_fail(-ENOENT, err, err_len, "no volume %.253s", name);
}

static struct vpool *find_pool(struct quota_volumes *v, const char *name_or_id)
{
	for (size_t i = 0; i < v->n_pools; i++)
		if (strcmp(v->pools[i]->name, name_or_id) == 0 ||
		    (v->pools[i]->id && *v->pools[i]->id &&
		     strcmp(v->pools[i]->id, name_or_id) == 0))
			return v->pools[i];
	return NULL;
}

struct vpool *qv_find_pool(struct quota_volumes *v, const char *name_or_id)
{
	return find_pool(v, name_or_id);
}

static void vol_free(struct vol *vol)
{
	if (!vol)
		return;
	json_decref(vol->labels);
	for (size_t i = 0; i < vol->n_targets; i++)
		free(vol->targets[i].path);
	free(vol->targets);
	free(vol);
}

/* vol->name must be set: it is the index's key. */
static int add_vol(struct quota_volumes *v, struct vol *vol)
{
	if (strmap_put(&v->by_name, vol->name, vol) < 0)
		return -ENOMEM;
	if (v->n_vols == v->cap_vols) {
		size_t cap = v->cap_vols ? v->cap_vols * 2 : 64;
		struct vol **nv = realloc(v->vols, cap * sizeof(*nv));

		if (!nv) {
			strmap_del(&v->by_name, vol->name);
			return -ENOMEM;
		}
		v->vols = nv;
		v->cap_vols = cap;
	}
	v->vols[v->n_vols++] = vol;
	v->catalog_gen++;
	return 0;
}

static void remove_vol(struct quota_volumes *v, struct vol *vol)
{
	if (strmap_get(&v->by_name, vol->name) == vol)
		strmap_del(&v->by_name, vol->name);
	for (size_t i = 0; i < v->n_vols; i++) {
		if (v->vols[i] == vol) {
			v->vols[i] = v->vols[--v->n_vols];
			break;
		}
	}
	v->catalog_gen++;
	vol_free(vol);
}

/*
 * Waits until no operation is in flight on `name`; returns the volume (not
 * pending) or NULL. Holds v->lock on return.
 */
static struct vol *settled_vol(struct quota_volumes *v, const char *name)
{
	struct vol *vol;

	while ((vol = find_vol(v, name)) && (vol->pending || vol->busy))
		pthread_cond_wait(&v->cond, &v->lock);
	return vol;
}

static json_t *targets_json(const struct vol *vol)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < vol->n_targets; i++)
		json_array_append_new(a,
				      json_pack("{s:s, s:b}", "target_path", vol->targets[i].path,
						"readonly", vol->targets[i].readonly));
	return a;
}

static void rfc3339(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

/* The volume's JSON without usage (added after the lock is dropped); caller holds v->lock. */
static json_t *vol_json_locked(const struct vol *vol)
{
	char created[32], path[4096 + QUOTA_NAME_MAX + 2];

	rfc3339(vol->created, created, sizeof(created));
	snprintf(path, sizeof(path), "%s/%s", vol->pool->name, vol->name);
	return json_pack("{s:s, s:s, s:o, s:I, s:s, s:I, s:I, s:I, s:s, s:O, s:o}", "name",
			 vol->name, "pool", vol->pool->name, "numa_node",
			 vol->pool->numa_node < 0 ? json_null()
						  : json_integer(vol->pool->numa_node),
			 "project_id", (json_int_t)vol->projid, "path", path, "size_bytes",
			 (json_int_t)vol->size_bytes, "limit_bytes", (json_int_t)vol->limit_bytes,
			 "inodes", (json_int_t)vol->inodes, "created", created, "labels",
			 vol->labels, "published", targets_json(vol));
}

/* Adds used_bytes and used_inodes, live from the quota; null when it cannot be read. */
static void add_usage(struct quota_volumes *v, json_t *j)
{
	struct quota_usage u = {0};
	char err[256];
	const char *pool = json_string_value(json_object_get(j, "pool"));
	uint32_t id = (uint32_t)json_integer_value(json_object_get(j, "project_id"));
	int r = pool ? v->o.ops->usage_get(pool, id, &u, err, sizeof(err)) : -EINVAL;

	if (r < 0) {
		log_debug("volume_usage_failed", "pool=%s projid=%" PRIu32 " reason=\"%s\"",
			  pool ? pool : "", id, err);
		json_object_set_new(j, "used_bytes", json_null());
		json_object_set_new(j, "used_inodes", json_null());
		return;
	}
	json_object_set_new(j, "used_bytes", json_integer((json_int_t)u.bytes_used));
	json_object_set_new(j, "used_inodes", json_integer((json_int_t)u.inodes_used));
}

/* The answer of an operation on one volume: its JSON with live usage, or ENOMEM. */
static int reply_volume(struct quota_volumes *v, json_t *j, json_t **out, char *err, size_t err_len)
{
	if (!j)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	add_usage(v, j);
	*out = j;
	return 0;
}

/*
 * Tells the pool manager the committed bytes (allocated) and the bytes of
 * unconsumed reservations (reserved) of every pool whose figure changed.
 * Without locks: the callbacks take the manager's.
 */
/*
 * Under v->lock: the CPUs held by live reservations, summed per NUMA node (their `cpus` at
 * their cpu_numa_node), sorted by node; true when that differs from what was last reported.
 */
static bool reserved_cpus_locked(struct quota_volumes *v, int *ids, unsigned *cpus, size_t *n)
{
	char text[sizeof(v->reported_cpus)];
	size_t o = 0;

	*n = 0;
	if (!v->o.reserved_cpus)
		return false;
	for (size_t i = 0; i < v->n_resv; i++) {
		const struct qr_resv *rv = v->resv[i];
		json_int_t c = json_integer_value(json_object_get(rv->request, "cpus"));
		size_t k = 0;

		if (rv->cpu_numa_node < 0 || c <= 0)
			continue;
		while (k < *n && ids[k] != rv->cpu_numa_node)
			k++;
		if (k == *n) {
			if (*n == SCHED_MAX_NUMA)
				continue;
			/* Insert sorted: the report is compared as text. */
			while (k > 0 && ids[k - 1] > rv->cpu_numa_node) {
				ids[k] = ids[k - 1];
				cpus[k] = cpus[k - 1];
				k--;
			}
			ids[k] = rv->cpu_numa_node;
			cpus[k] = 0;
			(*n)++;
		}
		cpus[k] += (unsigned)c;
	}
	text[0] = '\0';
	for (size_t k = 0; k < *n && o < sizeof(text); k++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%d:%u,", ids[k], cpus[k]);
	if (strcmp(text, v->reported_cpus) == 0)
		return false;
	snprintf(v->reported_cpus, sizeof(v->reported_cpus), "%s", text);
	return true;
}

void qv_report(struct quota_volumes *v)
{
	struct {
		char *name;
		uint64_t bytes;
		bool reserved;
	} * rep;
	size_t n = 0, n_cpus = 0;
	int ids[SCHED_MAX_NUMA];
	unsigned cpus[SCHED_MAX_NUMA];
	bool cpus_changed;

	if (!v->o.allocated && !v->o.reserved && !v->o.reserved_cpus)
		return;
	pthread_mutex_lock(&v->report_lock);
	pthread_mutex_lock(&v->lock);
	rep = calloc(2 * v->n_pools + 1, sizeof(*rep));
	for (size_t i = 0; rep && i < v->n_pools; i++) {
		struct quota_ledger_stat st;
		struct vpool *p = v->pools[i];
		uint64_t resv = qr_reserved_locked(v, p->name);

		if (!p->scanned || quota_ledger_stat(v->ledger, p->name, &st) < 0)
			continue;
		if (v->o.allocated && p->reported != st.committed + 1) {
			p->reported = st.committed + 1;
			rep[n].name = strdup(p->name);
			rep[n].bytes = st.committed;
			if (rep[n].name)
				n++;
		}
		if (v->o.reserved && p->reported_resv != resv + 1) {
			p->reported_resv = resv + 1;
			rep[n].name = strdup(p->name);
			rep[n].bytes = resv;
			rep[n].reserved = true;
			if (rep[n].name)
				n++;
		}
	}
	cpus_changed = reserved_cpus_locked(v, ids, cpus, &n_cpus);
	pthread_mutex_unlock(&v->lock);
	for (size_t i = 0; i < n; i++) {
		if (rep[i].reserved)
			v->o.reserved(v->o.ctx, rep[i].name, rep[i].bytes);
		else
			v->o.allocated(v->o.ctx, rep[i].name, rep[i].bytes);
		free(rep[i].name);
	}
	free(rep);
	if (cpus_changed)
		v->o.reserved_cpus(v->o.ctx, ids, cpus, n_cpus);
	pthread_mutex_unlock(&v->report_lock);
}

static void report_allocated(struct quota_volumes *v)
{
	qv_report(v);
}

/* ---- published targets: trusted.pmemd.published = [{"target_path","readonly"}] ---- */

static int targets_save(struct quota_volumes *v, const char *pool, const char *name,
			const struct target *t, size_t n, char *err, size_t err_len)
{
	json_t *a = json_array();
	char *text;
	int r;

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:b}", "target_path", t[i].path,
						   "readonly", t[i].readonly));
	text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (!text)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	if (strlen(text) > PUBLISHED_TEXT_MAX) {
		size_t len = strlen(text);

		free(text);
		return err_fail(
			-EBUSY, err, err_len,
			"volume %s is published on too many targets (%zu bytes of paths, at "
			"most %d)",
			name, len, PUBLISHED_TEXT_MAX);
	}
	r = v->o.ops->meta_set(pool, name, META_PUBLISHED, text, err, err_len);
	free(text);
	return r;
}

/* The published targets from the xattr's text. */
static void targets_parse(struct vol *vol, const char *text)
{
	json_t *a = json_loads(text, 0, NULL), *e;
	size_t i;

	if (!json_is_array(a)) {
		log_warn("volume_published_damaged", "volume=%s", vol->name);
		json_decref(a);
		return;
	}
	vol->targets = calloc(json_array_size(a) + 1, sizeof(*vol->targets));
	json_array_foreach (a, i, e) {
		const char *p = json_string_value(json_object_get(e, "target_path"));

		if (!vol->targets || !p || !(vol->targets[vol->n_targets].path = strdup(p)))
			continue;
		vol->targets[vol->n_targets++].readonly =
			json_is_true(json_object_get(e, "readonly"));
	}
	json_decref(a);
}

static void targets_load(struct quota_volumes *v, struct vol *vol)
{
	char *buf = malloc(PUBLISHED_TEXT_MAX + 1), err[256];

	if (!buf)
		return;
	if (v->o.ops->meta_get(vol->pool->name, vol->name, META_PUBLISHED, buf,
			       PUBLISHED_TEXT_MAX + 1, err, sizeof(err)) == 0)
		targets_parse(vol, buf);
	free(buf);
}

/* ---- scanning a pool and applying the catalog's repairs ---- */

struct meta_buf {
	char size[24], inodes[24], created[24];
	char *labels;
	char *published;     /* the published xattr when the batch read it and it names targets */
	bool published_read; /* the batch read it (present or not): no targets_load needed */
};

/* What a scan found published, by volume name, for adopt_pool to load without a read. */
struct scan_published {
	char **names;
	char **texts;
	size_t n;
};

static void scan_published_clear(struct scan_published *sp)
{
	for (size_t i = 0; i < sp->n; i++) {
		free(sp->names[i]);
		free(sp->texts[i]);
	}
	free(sp->names);
	free(sp->texts);
	memset(sp, 0, sizeof(*sp));
}

static const char *meta_read(struct quota_volumes *v, const char *pool, const char *rel,
			     const char *key, char *buf, size_t len)
{
	char err[256];
	int r = v->o.ops->meta_get(pool, rel, key, buf, len, err, sizeof(err));

	if (r == -ENODATA)
		return NULL;
	if (r < 0) {
		log_warn("volume_meta_unreadable", "pool=%s rel=%s key=%s reason=\"%s\"", pool, rel,
			 key, err);
		return NULL;
	}
	return buf;
}

/*
 * Several attributes of one directory in one open (quota_ops.meta_get_many), with the same
 * logging as meta_read: a missing attribute is silent, any other failure is a warning and
 * reads as missing. -errno only when the directory cannot be opened.
 */
static int meta_read_many(struct quota_volumes *v, const char *pool, const char *rel,
			  const char *const *keys, char *const *vals, const size_t *lens, int *rcs,
			  size_t n)
{
	char err[256];
	int r = v->o.ops->meta_get_many(pool, rel, keys, n, vals, lens, rcs, err, sizeof(err));

	if (r < 0) {
		log_warn("volume_meta_unreadable", "pool=%s rel=%s reason=\"%s\"", pool, rel, err);
		return r;
	}
	for (size_t k = 0; k < n; k++)
		if (rcs[k] < 0 && rcs[k] != -ENODATA)
			log_warn("volume_meta_unreadable", "pool=%s rel=%s key=%s errno=%d", pool,
				 rel, keys[k], -rcs[k]);
	return 0;
}

static bool projid_ours(uint32_t id)
{
	return id >= QUOTA_PROJID_MIN && id <= QUOTA_PROJID_MAX;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends id to ids when it is one of ours (the caller sorts and de-duplicates). */
static void collect_id(uint32_t id, uint32_t *ids, size_t *n)
{
	if (projid_ours(id))
		ids[(*n)++] = id;
}

/* Reads the limits of one id; ids arrive sorted and unique, so no search for repeats (a
 * linear one made a 10,000-volume scan quadratic). */
static int add_limit(struct quota_volumes *v, const char *pool, uint32_t id,
		     struct quota_scan_limit *lims, size_t *n)
{
	struct quota_usage u;
	char err[256];
	int r;

	r = v->o.ops->usage_get(pool, id, &u, err, sizeof(err));
	if (r < 0) {
		log_warn("volume_scan_usage_failed", "pool=%s projid=%" PRIu32 " reason=\"%s\"",
			 pool, id, err);
		return r;
	}
	lims[*n].projid = id;
	lims[*n].bytes_limit = u.bytes_limit;
	lims[*n].inodes_limit = u.inodes_limit;
	(*n)++;
	return 0;
}

static void ensure_dir(struct quota_volumes *v, const char *pool, const char *rel)
{
	char err[256];
	int r = v->o.ops->make_dir(pool, rel, 0700, err, sizeof(err));

	if (r < 0 && r != -EEXIST)
		log_warn("volume_dir_failed", "pool=%s rel=%s reason=\"%s\"", pool, rel, err);
}

/* Reads the record of one root entry into meta/b (nothing when it is not one of ours). */
static void read_entry_meta(struct quota_volumes *v, const char *pool, const struct quota_dirent *d,
			    struct quota_meta *meta, struct meta_buf *b)
{
	char labels[QUOTA_LABELS_TEXT_MAX + 1];

	if (!d->is_dir || !projid_ours(d->projid) || quota_name_valid(d->name, NULL, 0))
		return;
	if (v->o.ops->meta_get_many) {
		static const char *const keys[] = {QUOTA_META_SIZE, QUOTA_META_INODES,
						   QUOTA_META_CREATED, QUOTA_META_LABELS,
						   META_PUBLISHED};
		char published[PUBLISHED_TEXT_MAX + 1];
		char *const vals[] = {b->size, b->inodes, b->created, labels, published};
		const size_t lens[] = {sizeof(b->size), sizeof(b->inodes), sizeof(b->created),
				       sizeof(labels), sizeof(published)};
		const char **outs[] = {&meta->size_bytes, &meta->inodes, &meta->created};
		int rcs[5];

		if (meta_read_many(v, pool, d->name, keys, vals, lens, rcs, 5) < 0)
			return;
		for (size_t k = 0; k < 3; k++)
			*outs[k] = rcs[k] == 0 ? vals[k] : NULL;
		if (!meta->size_bytes)
			return;
		if (rcs[3] == 0) {
			b->labels = strdup(labels);
			meta->labels = b->labels;
		}
		/* Most volumes were never published: no second read for them at adoption. */
		b->published_read = rcs[4] == 0 || rcs[4] == -ENODATA;
		if (rcs[4] == 0 && strcmp(published, "[]") != 0 &&
		    !(b->published = strdup(published)))
			b->published_read = false;
		return;
	}
	meta->size_bytes = meta_read(v, pool, d->name, QUOTA_META_SIZE, b->size, sizeof(b->size));
	if (!meta->size_bytes)
		return;
	meta->inodes = meta_read(v, pool, d->name, QUOTA_META_INODES, b->inodes, sizeof(b->inodes));
	meta->created =
		meta_read(v, pool, d->name, QUOTA_META_CREATED, b->created, sizeof(b->created));
	if (meta_read(v, pool, d->name, QUOTA_META_LABELS, labels, sizeof(labels))) {
		b->labels = strdup(labels);
		meta->labels = b->labels;
	}
}

struct meta_slice {
	struct quota_volumes *v;
	const char *pool;
	const struct quota_dirent *root;
	struct quota_meta *meta;
	struct meta_buf *bufs;
	size_t from, to;
};

static void *meta_slice_run(void *arg)
{
	struct meta_slice *s = arg;

	for (size_t i = s->from; i < s->to; i++)
		read_entry_meta(s->v, s->pool, &s->root[i], &s->meta[i], &s->bufs[i]);
	return NULL;
}

/*
 * Reads the records of every root entry. The reads are independent syscalls (one open and a
 * few getxattr per volume), so a large pool is cut into slices on the machine's cores: in
 * the emulated node each syscall is slow, and 10,000 volumes one after the other took
 * seconds. A slice whose thread cannot start runs in the caller's, so it cannot fail; an
 * unreadable entry is logged and reads as no record.
 */
#define SCAN_SLICE_MIN	256
#define SCAN_SLICES_MAX 4

static void read_metas(struct quota_volumes *v, const char *pool, const struct quota_dirent *root,
		       size_t n, struct quota_meta *meta, struct meta_buf *bufs)
{
	struct meta_slice s[SCAN_SLICES_MAX];
	pthread_t th[SCAN_SLICES_MAX];
	bool started[SCAN_SLICES_MAX] = {false};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t k = cores < 1 ? 1 : cores > SCAN_SLICES_MAX ? SCAN_SLICES_MAX : (size_t)cores, per;

	if (k > n / SCAN_SLICE_MIN)
		k = n / SCAN_SLICE_MIN;
	if (k < 1)
		k = 1;
	per = (n + k - 1) / k;
	for (size_t i = 0; i < k; i++) {
		size_t from = i * per < n ? i * per : n, to = from + per < n ? from + per : n;

		s[i] = (struct meta_slice){v, pool, root, meta, bufs, from, to};
	}
	for (size_t i = 1; i < k; i++)
		started[i] = pthread_create(&th[i], NULL, meta_slice_run, &s[i]) == 0;
	meta_slice_run(&s[0]);
	for (size_t i = 1; i < k; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			meta_slice_run(&s[i]);
	}
}

/* Lists and reads one pool and rebuilds its catalog; no service lock held. */
static int scan_pool(struct quota_volumes *v, const struct vpool *p, enum config_fstype fstype,
		     struct quota_catalog **cat, struct scan_published *pub, char *err,
		     size_t err_len)
{
	struct quota_dirent *root = NULL, *staging = NULL, *trash = NULL;
	size_t n_root = 0, n_staging = 0, n_trash = 0, n_lims = 0;
	struct quota_meta *meta = NULL;
	struct meta_buf *bufs = NULL;
	struct quota_scan_limit *lims = NULL;
	uint32_t *ids = NULL;
	size_t n_ids = 0;
	int r;

	ensure_dir(v, p->name, QUOTA_META_DIR);
	ensure_dir(v, p->name, QUOTA_STAGING_DIR);
	ensure_dir(v, p->name, QUOTA_TRASH_DIR);
	r = v->o.ops->list_dir(p->name, "", &root, &n_root, err, err_len);
	if (r == 0)
		r = v->o.ops->list_dir(p->name, QUOTA_STAGING_DIR, &staging, &n_staging, err,
				       err_len);
	if (r == 0)
		r = v->o.ops->list_dir(p->name, QUOTA_TRASH_DIR, &trash, &n_trash, err, err_len);
	if (r < 0)
		goto out;
	meta = calloc(n_root + 1, sizeof(*meta));
	bufs = calloc(n_root + 1, sizeof(*bufs));
	lims = calloc(n_root + n_staging + n_trash + 1, sizeof(*lims));
	ids = calloc(n_root + n_staging + n_trash + 1, sizeof(*ids));
	if (!meta || !bufs || !lims || !ids) {
		r = err_fail(-ENOMEM, err, err_len, "out of memory scanning %s", p->name);
		goto out;
	}
	read_metas(v, p->name, root, n_root, meta, bufs);
	/* Hand the published texts read by the batch to adopt_pool (NULL text: none). */
	pub->names = calloc(n_root + 1, sizeof(*pub->names));
	pub->texts = calloc(n_root + 1, sizeof(*pub->texts));
	if (!pub->names || !pub->texts) {
		r = err_fail(-ENOMEM, err, err_len, "out of memory scanning %s", p->name);
		goto out;
	}
	for (size_t i = 0; i < n_root; i++) {
		if (!bufs[i].published_read || !(pub->names[pub->n] = strdup(root[i].name)))
			continue;
		pub->texts[pub->n++] = bufs[i].published;
		bufs[i].published = NULL;
	}
	for (size_t i = 0; i < n_root; i++)
		collect_id(root[i].projid, ids, &n_ids);
	for (size_t i = 0; i < n_staging; i++)
		collect_id(staging[i].projid, ids, &n_ids);
	for (size_t i = 0; i < n_trash; i++)
		collect_id(trash[i].projid, ids, &n_ids);
	if (n_ids)
		qsort(ids, n_ids, sizeof(*ids), cmp_u32);
	for (size_t i = 0; r == 0 && i < n_ids; i++)
		if (i == 0 || ids[i] != ids[i - 1])
			r = add_limit(v, p->name, ids[i], lims, &n_lims);
	if (r < 0) {
		err_fail(r, err, err_len, "cannot read the quotas of pool %s", p->name);
		goto out;
	}
	{
		struct quota_scan_pool sp = {
			.name = p->name,
			.fstype = fstype,
			.block_size = v->block_size,
			.root = root,
			.meta = meta,
			.n_root = n_root,
			.staging = staging,
			.n_staging = n_staging,
			.trash = trash,
			.n_trash = n_trash,
			.limits = lims,
			.n_limits = n_lims,
		};
		struct quota_scan scan = {.pools = &sp, .n_pools = 1};
		struct quota_rebuild_opts ro = {.limit_for_size = volume_limit};

		r = quota_catalog_rebuild(&scan, &ro, cat, err, err_len);
	}
out:
	for (size_t i = 0; bufs && i < n_root; i++) {
		free(bufs[i].labels);
		free(bufs[i].published);
	}
	free(bufs);
	free(meta);
	free(lims);
	free(ids);
	free(root);
	free(staging);
	free(trash);
	return r;
}

/* Runs the catalog's repairs; a removal that cleared its id's limit frees the id. */
static void apply_repairs(struct quota_volumes *v, const struct quota_catalog *cat,
			  struct quota_ids *ids)
{
	for (size_t i = 0; i < cat->n_repairs; i++) {
		const struct quota_repair *rp = &cat->repairs[i];
		char err[512];
		int r = 0;

		switch (rp->kind) {
		case QUOTA_REPAIR_REMOVE_STAGING:
		case QUOTA_REPAIR_REMOVE_TRASH:
			r = v->o.ops->remove_tree(rp->pool, rp->rel, err, sizeof(err));
			if (r == -ENOENT)
				r = 0;
			if (r == 0 && rp->clear_limit) {
				r = v->o.ops->limit_set(rp->pool, rp->projid, 0, 0, err,
							sizeof(err));
				if (r == 0)
					quota_ids_release(ids, rp->projid);
			}
			break;
		case QUOTA_REPAIR_SET_PROJECT:
			r = v->o.ops->project_set(rp->pool, rp->rel, rp->projid, err, sizeof(err));
			break;
		case QUOTA_REPAIR_SET_LIMIT:
			r = v->o.ops->limit_set(rp->pool, rp->projid, rp->bytes_limit,
						rp->inodes_limit, err, sizeof(err));
			break;
		}
		if (r < 0)
			log_error("volume_repair_failed",
				  "pool=%s rel=%s projid=%" PRIu32 " why=\"%s\" reason=\"%s\"",
				  rp->pool, rp->rel, rp->projid, rp->reason, err);
		else
			log_info("volume_repaired", "pool=%s rel=%s projid=%" PRIu32 " why=\"%s\"",
				 rp->pool, rp->rel, rp->projid, rp->reason);
	}
	for (size_t i = 0; i < cat->n_issues; i++) {
		const struct quota_issue *is = &cat->issues[i];

		if (is->level == QUOTA_ISSUE_ERROR)
			log_error("volume_issue",
				  "pool=%s name=%s projid=%" PRIu32 " message=\"%s\"", is->pool,
				  is->name, is->projid, is->message);
		else
			log_info("volume_issue",
				 "pool=%s name=%s projid=%" PRIu32 " message=\"%s\"", is->pool,
				 is->name, is->projid, is->message);
	}
}

/* Scans a pool seen for the first time and adds its volumes; under sync_lock only. */
static int adopt_pool(struct quota_volumes *v, struct vpool *p)
{
	struct quota_catalog *cat = NULL;
	struct quota_ids *ids = NULL;
	const struct quota_pool_ids *pids;
	enum config_fstype fstype;
	char err[512];
	size_t n = 0;
	double start = mono_seconds();
	struct scan_published pub = {0};
	int r;

	pthread_mutex_lock(&v->lock);
	fstype = p->fstype;
	pthread_mutex_unlock(&v->lock);
	r = scan_pool(v, p, fstype, &cat, &pub, err, sizeof(err));
	if (r < 0) {
		log_error("volume_scan_failed", "pool=%s reason=\"%s\"", p->name, err);
		scan_published_clear(&pub);
		return r;
	}
	pids = quota_catalog_pool_ids(cat, p->name);
	r = quota_ids_new(QUOTA_PROJID_MIN, QUOTA_PROJID_MAX, pids ? pids->ids : NULL,
			  pids ? pids->n : 0, &ids);
	if (r < 0) {
		quota_catalog_free(cat);
		return r;
	}
	apply_repairs(v, cat, ids);

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < cat->n_volumes; i++) {
		const struct quota_volume *cv = &cat->volumes[i];
		struct vol *vol;

		if (find_vol(v, cv->name)) {
			/* Names are unique on the node; the pool scanned first keeps it. */
			log_error("volume_name_clash",
				  "pool=%s name=%s projid=%" PRIu32
				  " message=\"a volume of this name is in another pool; left alone "
				  "for a person to resolve\"",
				  p->name, cv->name, cv->projid);
			quota_ledger_charge(v->ledger, p->name, limit_for(v, p, cv->size_bytes),
					    NULL, 0);
			continue;
		}
		vol = calloc(1, sizeof(*vol));
		if (vol)
			snprintf(vol->name, sizeof(vol->name), "%s", cv->name);
		if (!vol || !(vol->labels = quota_labels_to_json(&cv->labels)) ||
		    add_vol(v, vol) < 0) {
			vol_free(vol);
			r = -ENOMEM;
			break;
		}
		vol->pool = p;
		vol->projid = cv->projid;
		vol->size_bytes = cv->size_bytes;
		vol->limit_bytes = limit_for(v, p, cv->size_bytes);
		vol->inodes = cv->inodes;
		vol->created = cv->created;
		quota_ledger_charge(v->ledger, p->name, vol->limit_bytes, NULL, 0);
		n++;
	}
	quota_ids_free(p->ids);
	p->ids = ids;
	p->scanned = true;
	pthread_mutex_unlock(&v->lock);
	/* Published targets: from what the scan read, else one xattr read per volume (the pool
	 * is only now visible). */
	{
		struct strmap read_by_scan;

		strmap_init(&read_by_scan);
		for (size_t i = 0; i < pub.n; i++)
			if (strmap_put(&read_by_scan, pub.names[i], &pub.texts[i]) < 0)
				break; /* out of memory: the rest are read one by one */
		pthread_mutex_lock(&v->lock);
		for (size_t i = 0; i < v->n_vols; i++) {
			struct vol *vol = v->vols[i];
			char **text;

			if (vol->pool != p || vol->targets)
				continue;
			text = strmap_get(&read_by_scan, vol->name);
			if (!text)
				targets_load(v, vol);
			else if (*text)
				targets_parse(vol, *text);
		}
		pthread_mutex_unlock(&v->lock);
		strmap_clear(&read_by_scan);
		scan_published_clear(&pub);
	}
	/* duration_ms: the whole catalog rebuild of this pool (scan, repairs, index), what
	 * bench/volumes reports as the rebuild time. */
	log_info("volume_pool_adopted",
		 "pool=%s volumes=%zu repairs=%zu issues=%zu ids_in_use=%zu duration_ms=%.1f",
		 p->name, n, cat->n_repairs, cat->n_issues, quota_ids_count(ids),
		 (mono_seconds() - start) * 1000);
	quota_catalog_free(cat);
	/* The scan's temporary arrays of a large pool are megabytes glibc would keep. */
	malloc_trim(0);
	return r;
}

/* Remembers a delete to finish; without memory it is left to the next start. Under v->lock. */
static void trash_keep_locked(struct quota_volumes *v, const struct trash_left *t)
{
	struct trash_left *n = realloc(v->trash_left, (v->n_trash_left + 1) * sizeof(*n));

	if (!n)
		return;
	v->trash_left = n;
	v->trash_left[v->n_trash_left++] = *t;
}

/*
 * Finishes the deletes whose cleanup failed after the rename to trash: limit cleared, tree
 * removed, then the id and the capacity go back. Before, they stayed held until a restart,
 * so a transient failure (EIO, EBUSY) cost a pool capacity for as long as pmemd ran. Under
 * sync_lock (one retry at a time); the kernel calls are made without v->lock.
 */
static void trash_finish(struct quota_volumes *v)
{
	const struct quota_ops *ops = v->o.ops;
	struct trash_left *t;
	size_t n;

	pthread_mutex_lock(&v->lock);
	t = v->trash_left;
	n = v->n_trash_left;
	v->trash_left = NULL;
	v->n_trash_left = 0;
	pthread_mutex_unlock(&v->lock);
	for (size_t i = 0; i < n; i++) {
		const char *pool = t[i].pool->name;
		char err[512];
		int r = ops->limit_set(pool, t[i].projid, 0, 0, err, sizeof(err));

		if (r == 0) {
			r = ops->remove_tree(pool, t[i].rel, err, sizeof(err));
			if (r == -ENOENT)
				r = 0;
		}
		pthread_mutex_lock(&v->lock);
		if (r == 0) {
			quota_ids_release(t[i].pool->ids, t[i].projid);
			quota_ledger_adjust(v->ledger, pool, t[i].limit_bytes, 0, 0, NULL, 0);
			log_info("volume_delete_finished", "pool=%s trash=%s projid=%" PRIu32, pool,
				 t[i].rel, t[i].projid);
		} else {
			trash_keep_locked(v, &t[i]);
			log_debug("volume_delete_retry_failed",
				  "pool=%s trash=%s projid=%" PRIu32 " reason=\"%s\"", pool,
				  t[i].rel, t[i].projid, err);
		}
		pthread_mutex_unlock(&v->lock);
	}
	free(t);
}

int quota_volumes_sync(struct quota_volumes *v)
{
	struct quota_pool_info *infos = NULL;
	size_t n = 0;
	int r = 0, rr;

	pthread_mutex_lock(&v->sync_lock);
	if (v->o.pools && v->o.pools(v->o.ctx, &infos, &n) < 0) {
		infos = NULL;
		n = 0;
	}
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < v->n_pools; i++) {
		v->pools[i]->ready = false;
		v->pools[i]->pending = false;
		v->pools[i]->failed = false;
	}
	for (size_t i = 0; i < n; i++) {
		struct vpool *p = NULL;

		for (size_t j = 0; j < v->n_pools; j++)
			if (strcmp(v->pools[j]->name, infos[i].name) == 0)
				p = v->pools[j];
		if (!p) {
			struct vpool **np = realloc(v->pools, (v->n_pools + 1) * sizeof(*np));

			if (np)
				v->pools = np;
			p = np ? calloc(1, sizeof(*p)) : NULL;
			if (p && !(p->name = strdup(infos[i].name))) {
				free(p);
				p = NULL;
			}
			if (!p) {
				r = -ENOMEM;
				continue;
			}
			v->pools[v->n_pools++] = p;
		}
		if (!p->id || strcmp(p->id, infos[i].id) != 0) {
			char *id = strdup(infos[i].id);

			if (id) {
				free(p->id);
				p->id = id;
			}
		}
		p->numa_node = infos[i].numa_node;
		p->fstype = infos[i].fstype;
		if (infos[i].failed) {
			p->failed = true;
			continue;
		}
		if (infos[i].pending) {
			p->pending = true;
			continue;
		}
		p->allocatable = infos[i].allocatable_bytes;
		p->ready = true;
		quota_ledger_set_pool(v->ledger, p->name, p->allocatable);
	}
	pthread_mutex_unlock(&v->lock);
	free(infos);
	for (size_t i = 0;; i++) {
		struct vpool *p = NULL;

		pthread_mutex_lock(&v->lock);
		if (i < v->n_pools && v->pools[i]->ready && !v->pools[i]->scanned)
			p = v->pools[i];
		n = v->n_pools;
		pthread_mutex_unlock(&v->lock);
		if (i >= n)
			break;
		if (p && (rr = adopt_pool(v, p)) < 0 && r == 0)
			r = rr;
	}
	trash_finish(v);
	/* Reservations loaded at start take their capacity once their pool is scanned. */
	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	qr_hold_locked(v);
	qr_retry_save_locked(v);
	pthread_mutex_unlock(&v->lock);
	pthread_mutex_unlock(&v->sync_lock);
	report_allocated(v);
	return r;
}

/* ---- life cycle ---- */

int quota_volumes_new(const struct quota_volumes_opts *opts, struct quota_volumes **out, char *err,
		      size_t err_len)
{
	static const char *const def_roots[] = {QUOTA_PUBLISH_ROOT_DEFAULT, NULL};
	const char *const *roots = opts->publish_roots ? opts->publish_roots : def_roots;
	struct quota_ratio ratio;
	struct quota_volumes *v;
	size_t n = 0;
	long ps = sysconf(_SC_PAGESIZE);
	int r;

	if (!opts->ops)
		return err_fail(-EINVAL, err, err_len, "volumes: no kernel operations");
	r = quota_ratio_from_double(opts->overcommit_ratio > 0 ? opts->overcommit_ratio : 1.0,
				    &ratio, err, err_len);
	if (r < 0)
		return r;
	v = calloc(1, sizeof(*v));
	if (!v)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	pthread_mutex_init(&v->report_lock, NULL);
	pthread_mutex_init(&v->lock, NULL);
	pthread_mutex_init(&v->sync_lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	v->o = *opts;
	v->o.publish_roots = NULL;
	v->o.state_dir = NULL; /* our copy is made below */
	/* DAX requires the filesystem block size to be the page size (both ext4 and xfs). */
	v->block_size = ps > 0 ? (uint64_t)ps : 4096;
	while (roots[n])
		n++;
	v->roots = calloc(n + 1, sizeof(*v->roots));
	for (size_t i = 0; v->roots && i < n; i++)
		if (!(v->roots[i] = strdup(roots[i]))) {
			quota_volumes_free(v);
			return err_fail(-ENOMEM, err, err_len, "out of memory");
		}
	v->lim.publish_roots = (const char *const *)v->roots;
	v->lim.max_size_bytes = opts->max_size_bytes;
	if (!v->roots || quota_ledger_new(ratio, &v->ledger) < 0) {
		quota_volumes_free(v);
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	}
	if (opts->state_dir && !(v->o.state_dir = strdup(opts->state_dir))) {
		quota_volumes_free(v);
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	}
	/* Never refuses to start: a bad file is moved aside and logged (qr_load). */
	qr_load(v);
	*out = v;
	return 0;
}

struct quota_volumes *quota_volumes_free(struct quota_volumes *v)
{
	if (!v)
		return NULL;
	for (size_t i = 0; i < v->n_vols; i++)
		vol_free(v->vols[i]);
	free(v->vols);
	strmap_clear(&v->by_name);
	for (size_t i = 0; i < v->n_pools; i++) {
		free(v->pools[i]->name);
		free(v->pools[i]->id);
		quota_ids_free(v->pools[i]->ids);
		free(v->pools[i]);
	}
	free(v->pools);
	for (size_t i = 0; v->roots && v->roots[i]; i++)
		free(v->roots[i]);
	free(v->roots);
	qr_free_all(v);
	free(v->trash_left);
	free((char *)v->o.state_dir);
	quota_ledger_free(v->ledger);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->sync_lock);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->report_lock);
	free(v);
	return NULL;
}

const struct quota_req_limits *quota_volumes_limits(const struct quota_volumes *v)
{
	return &v->lim;
}

/* ---- create ---- */

/* Binpack: the ready, scanned pool with the least free capacity that fits `size`. */
static struct vpool *place(struct quota_volumes *v, const struct quota_create_req *req,
			   uint64_t *limit_out, int *rc, char *err, size_t err_len)
{
	struct vpool *best = NULL, *roomiest = NULL;
	uint64_t best_free = 0, most_free = 0, most_limit = 0;
	size_t candidates = 0;

	if (req->pool) {
		struct vpool *p = find_pool(v, req->pool);

		if (!p) {
			*rc = err_fail(-ENOENT, err, err_len, "no pool %.200s on this node",
				       req->pool);
			return NULL;
		}
		if (!p->ready || !p->scanned) {
			*rc = err_fail(-EAGAIN, err, err_len, "pool %s is not ready", p->name);
			return NULL;
		}
	}
	for (size_t i = 0; i < v->n_pools; i++) {
		struct vpool *p = v->pools[i];
		struct quota_ledger_stat st;
		uint64_t limit;

		if (!p->ready || !p->scanned)
			continue;
		if (req->pool && p != find_pool(v, req->pool))
			continue;
		if (req->numa_node >= 0 && p->numa_node != req->numa_node)
			continue;
		if (quota_ledger_stat(v->ledger, p->name, &st) < 0)
			continue;
		candidates++;
		limit = limit_for(v, p, req->size_bytes);
		if (!roomiest || st.free > most_free) {
			roomiest = p;
			most_free = st.free;
			most_limit = limit;
		}
		if (limit <= st.free && (!best || st.free < best_free)) {
			best = p;
			best_free = st.free;
			*limit_out = limit;
		}
	}
	if (best)
		return best;
	if (!candidates) {
		if (req->numa_node >= 0)
			*rc = err_fail(-EINVAL, err, err_len,
				       "numa_node: no ready pool on NUMA node %d", req->numa_node);
		else
			*rc = err_fail(-EAGAIN, err, err_len, "no pool is ready on this node");
		return NULL;
	}
	*rc = err_fail(-ENOSPC, err, err_len,
		       "no room for %" PRIu64 " bytes (a quota of %" PRIu64
		       " bytes): the most free is %" PRIu64 " bytes in pool %s",
		       req->size_bytes, most_limit, most_free, roomiest->name);
	return NULL;
}

/* Undoes a create that failed after the staging directory was made; best effort, logged. */
static void undo_staging(struct quota_volumes *v, const char *pool, const char *rel,
			 uint32_t projid, bool limit_set)
{
	char err[512];

	if (v->o.ops->remove_tree(pool, rel, err, sizeof(err)) < 0)
		log_error("volume_undo_failed", "pool=%s rel=%s step=remove reason=\"%s\"", pool,
			  rel, err);
	if (limit_set && v->o.ops->limit_set(pool, projid, 0, 0, err, sizeof(err)) < 0)
		log_error("volume_undo_failed",
			  "pool=%s projid=%" PRIu32 " step=clear_limit reason=\"%s\"", pool, projid,
			  err);
}

static int create_steps(struct quota_volumes *v, struct vol *vol, const char *staging,
			const struct quota_meta_text *mt, char *err, size_t err_len)
{
	const struct quota_ops *ops = v->o.ops;
	const char *pool = vol->pool->name;
	bool limited = false;
	int r;

	r = ops->make_dir(pool, staging, VOLUME_MODE, err, err_len);
	if (r < 0)
		return r;
	fault("volume_create", 3);
	r = ops->project_set(pool, staging, vol->projid, err, err_len);
	if (r < 0)
		goto undo;
	fault("volume_create", 4);
	r = ops->limit_set(pool, vol->projid, vol->limit_bytes, vol->inodes, err, err_len);
	if (r < 0)
		goto undo;
	limited = true;
	fault("volume_create", 5);
	if ((r = ops->meta_set(pool, staging, QUOTA_META_SIZE, mt->size_bytes, err, err_len)) ||
	    (r = ops->meta_set(pool, staging, QUOTA_META_INODES, mt->inodes, err, err_len)) ||
	    (r = ops->meta_set(pool, staging, QUOTA_META_CREATED, mt->created, err, err_len)) ||
	    (r = ops->meta_set(pool, staging, QUOTA_META_LABELS, mt->labels, err, err_len)))
		goto undo;
	fault("volume_create", 6);
	r = ops->rename(pool, staging, vol->name, err, err_len);
	if (r == -EEXIST)
		err_fail(r, err, err_len,
			 "%s/%s already exists and is not a pmemd volume (or is being made)", pool,
			 vol->name);
	if (r < 0)
		goto undo;
	fault("volume_create", 7);
	return 0;
undo:
	undo_staging(v, pool, staging, vol->projid, limited);
	return r;
}

/* A create failed: its own reservation is dropped; a pod reservation's entry stays held. */
static void unreserve(struct quota_volumes *v, struct qr_entry *claimed, uint64_t token)
{
	if (claimed)
		qr_claim_done_locked(v, claimed, false, 0, NULL);
	else
		quota_ledger_cancel(v->ledger, token, NULL, 0);
}

static int create(struct quota_volumes *v, const struct quota_create_req *req, json_t **out,
		  bool *created, char *err, size_t err_len)
{
	struct quota_meta_text *mt = NULL;
	char staging[sizeof(QUOTA_STAGING_DIR) + QUOTA_NAME_MAX + 2];
	uint64_t token = 0, free_bytes = 0, limit = 0;
	struct qr_entry *claimed = NULL;
	struct vpool *p;
	struct vol *vol;
	json_t *j = NULL;
	int r = 0;

	quota_volumes_sync(v);
	mt = calloc(1, sizeof(*mt));
	if (!mt)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	r = quota_meta_encode(req->size_bytes, req->inodes, now(v), &req->labels, mt, err, err_len);
	if (r < 0) {
		free(mt);
		return r == -E2BIG ? -EINVAL : r;
	}
	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	vol = settled_vol(v, req->name);
	if (vol) {
		struct quota_volume qv = {.pool = vol->pool->name,
					  .size_bytes = vol->size_bytes,
					  .inodes = vol->inodes};
		struct quota_create_req rq = *req;
		struct vpool *rp = req->pool ? find_pool(v, req->pool) : NULL;

		snprintf(qv.name, sizeof(qv.name), "%s", vol->name);
		if (rp)
			rq.pool = rp->name;
		r = quota_create_req_match(&rq, &qv, vol->pool->numa_node, err, err_len);
		if (r == 0) {
			j = vol_json_locked(vol);
			*created = false;
		}
		pthread_mutex_unlock(&v->lock);
		goto done;
	}
	/*
	 * A name missing from a partial catalog (right after a start) may be a volume of the
	 * pool still loading: making it now would give two volumes one name (test 98).
	 */
	r = qv_loading(v, err, err_len);
	if (r < 0) {
		pthread_mutex_unlock(&v->lock);
		goto done;
	}
	/*
	 * A volume for a reserved pod takes the reservation's pool and its held
	 * capacity (the token), which stays reserved until the volume exists:
	 * never released in between, never counted twice.
	 */
	if (req->pod_uid || req->claim)
		claimed = qr_claim_locked(v, req, &p, &token);
	if (claimed) {
		limit = limit_for(v, p, req->size_bytes);
		goto reserved;
	}
	p = place(v, req, &limit, &r, err, err_len);
	if (!p) {
		pthread_mutex_unlock(&v->lock);
		goto done;
	}
	r = quota_ledger_reserve(v->ledger, p->name, limit, &token, &free_bytes, err, err_len);
	if (r < 0) {
		if (r == -ENOSPC)
			err_fail(r, err, err_len,
				 "no room for %" PRIu64 " bytes in pool %s: %" PRIu64 " bytes free",
				 req->size_bytes, p->name, free_bytes);
		pthread_mutex_unlock(&v->lock);
		goto done;
	}
reserved:
	vol = calloc(1, sizeof(*vol));
	if (vol)
		snprintf(vol->name, sizeof(vol->name), "%s", req->name);
	if (!vol || !(vol->labels = quota_labels_to_json(&req->labels)) || add_vol(v, vol) < 0) {
		vol_free(vol);
		unreserve(v, claimed, token);
		pthread_mutex_unlock(&v->lock);
		r = err_fail(-ENOMEM, err, err_len, "out of memory");
		goto done;
	}
	vol->pool = p;
	vol->size_bytes = req->size_bytes;
	vol->limit_bytes = limit;
	vol->inodes = req->inodes;
	vol->created = strtoll(mt->created, NULL, 10);
	vol->pending = true;
	fault("volume_create", 1);
	r = quota_ids_alloc(p->ids, &vol->projid);
	if (r < 0) {
		err_fail(r, err, err_len, "pool %s has no free project id", p->name);
		unreserve(v, claimed, token);
		remove_vol(v, vol);
		pthread_mutex_unlock(&v->lock);
		goto done;
	}
	pthread_mutex_unlock(&v->lock);
	fault("volume_create", 2);

	random_name(QUOTA_STAGING_DIR, req->name, staging, sizeof(staging));
	r = create_steps(v, vol, staging, mt, err, err_len);

	pthread_mutex_lock(&v->lock);
	if (r < 0) {
		quota_ids_release(p->ids, vol->projid);
		unreserve(v, claimed, token);
		remove_vol(v, vol);
	} else {
		if (claimed)
			qr_claim_done_locked(v, claimed, true, limit, req->name);
		else
			quota_ledger_commit(v->ledger, token, NULL, 0);
		vol->pending = false;
		v->catalog_gen++; /* listed from now on */
		j = vol_json_locked(vol);
		*created = true;
	}
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	if (r == 0)
		log_info("volume_created",
			 "volume=%s pool=%s projid=%" PRIu32 " size_bytes=%" PRIu64
			 " limit_bytes=%" PRIu64 " pod_uid=%s reservation=%s",
			 req->name, p->name, vol->projid, req->size_bytes, limit,
			 req->pod_uid ? req->pod_uid : "", claimed ? "consumed" : "none");
	else
		log_warn("volume_create_failed", "volume=%s pool=%s reason=\"%s\"", req->name,
			 p->name, err);
	report_allocated(v);
done:
	free(mt);
	if (r == 0 && !j)
		r = err_fail(-ENOMEM, err, err_len, "out of memory");
	if (r == 0) {
		add_usage(v, j);
		*out = j;
	}
	return r;
}

int quota_volume_create(struct quota_volumes *v, const struct quota_create_req *req, json_t **out,
			bool *created, char *err, size_t err_len)
{
	double t0 = mono_seconds();
	int r = create(v, req, out, created, err, err_len);

	count(v, OP_CREATE, r, t0);
	return r;
}

/* ---- read ---- */

int quota_volume_get(struct quota_volumes *v, const char *name, json_t **out, char *err,
		     size_t err_len)
{
	struct vol *vol;
	json_t *j;
	int r;

	pthread_mutex_lock(&v->lock);
	vol = find_vol(v, name);
	if (!vol || vol->pending) {
		r = no_volume(v, name, err, err_len);
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	j = vol_json_locked(vol);
	pthread_mutex_unlock(&v->lock);
	if (!j)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	add_usage(v, j);
	*out = j;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

int quota_volume_list(struct quota_volumes *v, const struct quota_volume_filter *f, json_t **out,
		      char *err, size_t err_len)
{
	json_t **items, *arr;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&v->lock);
	/* A partial list would show volumes as gone (right after a start). */
	r = qv_loading(v, err, err_len);
	if (r < 0) {
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	items = calloc(v->n_vols + 1, sizeof(*items));
	if (!items) {
		pthread_mutex_unlock(&v->lock);
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	}
	for (size_t i = 0; i < v->n_vols; i++) {
		struct vol *vol = v->vols[i];

		if (vol->pending)
			continue;
		if (f && f->pool && find_pool(v, f->pool) != vol->pool)
			continue;
		if (f && f->numa_node >= 0 && vol->pool->numa_node != f->numa_node)
			continue;
		if (f && f->label_key) {
			const char *lv =
				json_string_value(json_object_get(vol->labels, f->label_key));

			if (!lv || (f->label_value && strcmp(lv, f->label_value) != 0))
				continue;
		}
		if ((items[n] = vol_json_locked(vol)))
			n++;
	}
	pthread_mutex_unlock(&v->lock);
	qsort(items, n, sizeof(*items), name_cmp);
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		add_usage(v, items[i]);
		json_array_append_new(arr, items[i]);
	}
	free(items);
	*out = json_pack("{s:o}", "volumes", arr);
	return *out ? 0 : err_fail(-ENOMEM, err, err_len, "out of memory");
}

/* ---- resize ---- */

static int resize(struct quota_volumes *v, const char *name, const struct quota_resize_req *req,
		  uint64_t if_size, json_t **out, char *err, size_t err_len)
{
	const struct quota_ops *ops = v->o.ops;
	uint64_t token = 0, free_bytes = 0, old_limit, new_limit, old_size, new_size;
	uint64_t old_inodes, new_inodes;
	bool size_changes, inodes_change;
	char text[24];
	struct vol *vol;
	json_t *j;
	int r;

	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	vol = settled_vol(v, name);
	if (!vol) {
		r = no_volume(v, name, err, err_len);
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	if (if_size && vol->size_bytes != if_size) {
		r = err_fail(-EAGAIN, err, err_len,
			     "volume %s is %" PRIu64 " bytes now, not %" PRIu64
			     ": resized meanwhile",
			     name, vol->size_bytes, if_size);
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	if (req->if_inodes_set && vol->inodes != req->if_inodes) {
		r = err_fail(-EAGAIN, err, err_len,
			     "volume %s has an inode limit of %" PRIu64 " now, not %" PRIu64
			     ": changed meanwhile",
			     name, vol->inodes, req->if_inodes);
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	old_size = vol->size_bytes;
	old_limit = vol->limit_bytes;
	old_inodes = vol->inodes;
	/* A part not asked for stays as it is. */
	new_size = req->size_bytes ? req->size_bytes : old_size;
	new_inodes = req->set_inodes ? req->inodes : old_inodes;
	new_limit = limit_for(v, vol->pool, new_size);
	size_changes = new_size != old_size;
	inodes_change = new_inodes != old_inodes;
	if (!size_changes && !inodes_change) {
		j = vol_json_locked(vol);
		pthread_mutex_unlock(&v->lock);
		goto reply;
	}
	if (new_limit > old_limit) {
		r = quota_ledger_reserve(v->ledger, vol->pool->name, new_limit - old_limit, &token,
					 &free_bytes, err, err_len);
		if (r < 0) {
			if (r == -ENOSPC)
				err_fail(r, err, err_len,
					 "no room to grow volume %s by %" PRIu64
					 " bytes in pool %s: %" PRIu64 " bytes free",
					 name, new_size - old_size, vol->pool->name, free_bytes);
			pthread_mutex_unlock(&v->lock);
			return r;
		}
	}
	vol->busy = true;
	pthread_mutex_unlock(&v->lock);
	fault("volume_resize", 1);

	/* A limit below what is used would leave the volume over quota: refused, naming both. */
	if (new_limit < old_limit || (new_inodes && (!old_inodes || new_inodes < old_inodes))) {
		struct quota_usage u;

		r = ops->usage_get(vol->pool->name, vol->projid, &u, err, err_len);
		if (r == 0 && new_limit < old_limit && u.bytes_used > new_limit)
			r = err_fail(-EBUSY, err, err_len,
				     "volume %s uses %" PRIu64
				     " bytes; cannot shrink it to %" PRIu64
				     " bytes (a quota of %" PRIu64 ")",
				     name, u.bytes_used, new_size, new_limit);
		else if (r == 0 && new_inodes && u.inodes_used > new_inodes)
			r = err_fail(-EBUSY, err, err_len,
				     "volume %s uses %" PRIu64
				     " inodes; cannot limit it to %" PRIu64 " inodes",
				     name, u.inodes_used, new_inodes);
		if (r < 0)
			goto finish;
	}
	/* Bytes and inodes in one limit_set: the kernel never holds one new and one old. */
	r = ops->limit_set(vol->pool->name, vol->projid, new_limit, new_inodes, err, err_len);
	if (r < 0)
		goto finish;
	fault("volume_resize", 2);
	/*
	 * The record is what a restart believes (the start-up scan sets the quota
	 * to it). Size first, then inodes: a crash between the two leaves the
	 * new size with the old inode limit, quota and record agreeing, and the
	 * client's retry finishes the inodes (fault point 4).
	 */
	if (size_changes) {
		snprintf(text, sizeof(text), "%" PRIu64, new_size);
		r = ops->meta_set(vol->pool->name, vol->name, QUOTA_META_SIZE, text, err, err_len);
	}
	if (r == 0)
		fault("volume_resize", 3);
	if (r == 0 && inodes_change) {
		snprintf(text, sizeof(text), "%" PRIu64, new_inodes);
		r = ops->meta_set(vol->pool->name, vol->name, QUOTA_META_INODES, text, err,
				  err_len);
		if (r < 0 && size_changes) {
			char e2[256];

			/* The size record was written: back to the old one, as the quota. */
			snprintf(text, sizeof(text), "%" PRIu64, old_size);
			if (ops->meta_set(vol->pool->name, vol->name, QUOTA_META_SIZE, text, e2,
					  sizeof(e2)) < 0)
				log_error("volume_undo_failed",
					  "volume=%s step=size_record reason=\"%s\"", name, e2);
		}
	}
	if (r < 0) {
		char e2[256];

		/* Put the quota back to match the record. */
		if (ops->limit_set(vol->pool->name, vol->projid, old_limit, old_inodes, e2,
				   sizeof(e2)) < 0)
			log_error("volume_undo_failed", "volume=%s step=limit reason=\"%s\"", name,
				  e2);
		goto finish;
	}
	fault("volume_resize", 4);
finish:
	pthread_mutex_lock(&v->lock);
	if (r < 0) {
		if (token)
			quota_ledger_cancel(v->ledger, token, NULL, 0);
	} else {
		quota_ledger_adjust(v->ledger, vol->pool->name, old_limit, new_limit, token, NULL,
				    0);
		vol->size_bytes = new_size;
		vol->limit_bytes = new_limit;
		vol->inodes = new_inodes;
		v->catalog_gen++;
	}
	vol->busy = false;
	j = r == 0 ? vol_json_locked(vol) : NULL;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	report_allocated(v);
	if (r < 0)
		return r;
	log_info("volume_resized",
		 "volume=%s from=%" PRIu64 " to=%" PRIu64 " limit_bytes=%" PRIu64
		 " inodes_from=%" PRIu64 " inodes_to=%" PRIu64,
		 name, old_size, new_size, new_limit, old_inodes, new_inodes);
reply:
	return reply_volume(v, j, out, err, err_len);
}

int quota_volume_resize(struct quota_volumes *v, const char *name,
			const struct quota_resize_req *req, json_t **out, char *err, size_t err_len)
{
	double t0 = mono_seconds();
	int r = resize(v, name, req, 0, out, err, err_len);

	count(v, OP_RESIZE, r, t0);
	return r;
}

int quota_volume_resize_if(struct quota_volumes *v, const char *name,
			   const struct quota_resize_req *req, uint64_t if_size, json_t **out,
			   char *err, size_t err_len)
{
	double t0 = mono_seconds();
	int r = resize(v, name, req, if_size, out, err, err_len);

	count(v, OP_RESIZE, r, t0);
	return r;
}

int quota_volume_brief_list(struct quota_volumes *v, struct quota_volume_brief **out, size_t *n,
			    uint64_t *gen)
{
	struct quota_volume_brief *b;
	size_t k = 0;

	pthread_mutex_lock(&v->lock);
	if (gen)
		*gen = v->catalog_gen;
	/*
	 * Not calloc, and only each name's own bytes: every field is set below, and zeroing and
	 * copying 3 MB for 10,000 volumes was a visible part of the auto resizer's every pass.
	 */
	b = malloc((v->n_vols + 1) * sizeof(*b));
	for (size_t i = 0; b && i < v->n_vols; i++) {
		const struct vol *vol = v->vols[i];

		if (vol->pending)
			continue;
		memcpy(b[k].name, vol->name, strnlen(vol->name, QUOTA_NAME_MAX) + 1);
		b[k].pool = vol->pool->name;
		b[k].projid = vol->projid;
		b[k].size_bytes = vol->size_bytes;
		b[k].limit_bytes = vol->limit_bytes;
		b[k].inodes = vol->inodes;
		b[k].labels = json_incref(vol->labels);
		k++;
	}
	pthread_mutex_unlock(&v->lock);
	if (!b)
		return -ENOMEM;
	*out = b;
	*n = k;
	return 0;
}

uint64_t quota_volumes_generation(struct quota_volumes *v)
{
	uint64_t g;

	pthread_mutex_lock(&v->lock);
	g = v->catalog_gen;
	pthread_mutex_unlock(&v->lock);
	return g;
}

void quota_volume_brief_free(struct quota_volume_brief *b, size_t n)
{
	for (size_t i = 0; b && i < n; i++)
		json_decref(b[i].labels);
	free(b);
}

int quota_volumes_usage_get(struct quota_volumes *v, const char *pool, uint32_t projid,
			    struct quota_usage *out, char *err, size_t err_len)
{
	return v->o.ops->usage_get(pool, projid, out, err, err_len);
}

int quota_volumes_usage_get_many(struct quota_volumes *v, const char *pool, const uint32_t *projids,
				 size_t n, struct quota_usage *out, int *rcs, char *err,
				 size_t err_len)
{
	char e[256];

	if (v->o.ops->usage_get_many)
		return v->o.ops->usage_get_many(pool, projids, n, out, rcs, err, err_len);
	for (size_t i = 0; i < n; i++)
		rcs[i] = v->o.ops->usage_get(pool, projids[i], &out[i], e, sizeof(e));
	return 0;
}

int quota_volumes_pool_room(struct quota_volumes *v, const char *pool, uint64_t *free_bytes,
			    uint64_t *block_size)
{
	struct quota_ledger_stat st;
	struct vpool *p;
	int r = -ENOENT;

	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	p = find_pool(v, pool);
	if (p && quota_ledger_stat(v->ledger, p->name, &st) == 0) {
		*free_bytes = st.free;
		*block_size = v->block_size;
		r = 0;
	}
	pthread_mutex_unlock(&v->lock);
	return r;
}

/* ---- delete ---- */

/* Unmounts every target of a busy volume (delete ?force=true); the list shrinks under the lock. */
static int unmount_all(struct quota_volumes *v, struct vol *vol, char *err, size_t err_len)
{
	for (;;) {
		char *path = NULL, e[512];
		int r;

		pthread_mutex_lock(&v->lock);
		if (vol->n_targets)
			path = strdup(vol->targets[vol->n_targets - 1].path);
		pthread_mutex_unlock(&v->lock);
		if (!path)
			return 0;
		r = v->o.ops->unmount(path, e, sizeof(e));
		/* Not a mount point any more (a reboot): nothing to undo. */
		if (r < 0 && r != -EINVAL && r != -ENOENT) {
			err_fail(r, err, err_len, "cannot unpublish volume %s from %s: %s",
				 vol->name, path, e);
			free(path);
			return r;
		}
		free(path);
		pthread_mutex_lock(&v->lock);
		free(vol->targets[--vol->n_targets].path);
		pthread_mutex_unlock(&v->lock);
	}
}

static int delete (struct quota_volumes *v, const char *name, bool force, char *err, size_t err_len)
{
	const struct quota_ops *ops = v->o.ops;
	char trash[sizeof(QUOTA_TRASH_DIR) + QUOTA_NAME_MAX + 2];
	const char *pool;
	bool had_targets;
	struct vol *vol;
	int r;

	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	vol = settled_vol(v, name);
	if (!vol) {
		r = no_volume(v, name, err, err_len);
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	if (vol->n_targets && !force) {
		r = err_fail(-EBUSY, err, err_len,
			     "volume %s is published on %s%s; unpublish it first or delete with "
			     "?force=true",
			     name, vol->targets[0].path, vol->n_targets > 1 ? " and more" : "");
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	vol->busy = true;
	pool = vol->pool->name;
	had_targets = vol->n_targets > 0;
	pthread_mutex_unlock(&v->lock);

	r = unmount_all(v, vol, err, err_len);
	if (r == 0 && had_targets)
		r = ops->meta_set(pool, vol->name, META_PUBLISHED, "[]", err, err_len);
	if (r < 0)
		goto undo;
	random_name(QUOTA_TRASH_DIR, name, trash, sizeof(trash));
	r = ops->rename(pool, vol->name, trash, err, err_len);
	if (r < 0)
		goto undo;
	/*
	 * From here on the volume is gone; a failure leaves trash that a restart
	 * removes. The limit goes before the data: the trash directory still
	 * carries the project id, so a crash in between leaves something the
	 * start-up scan finds and finishes. The other order left a limit that no
	 * directory owned, invisible to the scan (found by the crash matrix).
	 */
	fault("volume_delete", 1);
	r = ops->limit_set(pool, vol->projid, 0, 0, err, err_len);
	fault("volume_delete", 2);
	if (r == 0)
		r = ops->remove_tree(pool, trash, err, err_len);
	fault("volume_delete", 3);

	pthread_mutex_lock(&v->lock);
	if (r == 0) {
		quota_ids_release(vol->pool->ids, vol->projid);
		quota_ledger_adjust(v->ledger, pool, vol->limit_bytes, 0, 0, NULL, 0);
	} else {
		struct trash_left t = {
			.pool = vol->pool, .projid = vol->projid, .limit_bytes = vol->limit_bytes};

		snprintf(t.rel, sizeof(t.rel), "%s", trash);
		trash_keep_locked(v, &t);
		log_error("volume_delete_incomplete",
			  "volume=%s pool=%s trash=%s projid=%" PRIu32
			  " reason=\"%s\" message=\"the id and capacity stay held until the "
			  "cleanup is retried (every pool pass) or a restart finishes it\"",
			  name, pool, trash, vol->projid, err);
	}
	log_info("volume_deleted", "volume=%s pool=%s projid=%" PRIu32, name, pool, vol->projid);
	remove_vol(v, vol);
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	report_allocated(v);
	/* The volume is gone either way: a retry gets 404, which callers read as success. */
	return 0;
undo:
	pthread_mutex_lock(&v->lock);
	vol->busy = false;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return r;
}

int quota_volume_delete(struct quota_volumes *v, const char *name, bool force, char *err,
			size_t err_len)
{
	double t0 = mono_seconds();
	int r = delete (v, name, force, err, err_len);

	count(v, OP_DELETE, r, t0);
	return r;
}

/* ---- publish ---- */

static int publish(struct quota_volumes *v, const char *name, const struct quota_publish_req *req,
		   json_t **out, char *err, size_t err_len)
{
	struct target *nt;
	struct vol *vol;
	json_t *j;
	int r;

	pthread_mutex_lock(&v->lock);
	vol = settled_vol(v, name);
	if (!vol) {
		r = no_volume(v, name, err, err_len);
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	for (size_t i = 0; i < v->n_vols; i++) {
		struct vol *o = v->vols[i];

		for (size_t k = 0; k < o->n_targets; k++) {
			if (strcmp(o->targets[k].path, req->target_path) != 0)
				continue;
			if (o != vol)
				r = err_fail(-EEXIST, err, err_len,
					     "%s is already published by volume %s",
					     req->target_path, o->name);
			else if (o->targets[k].readonly != req->readonly)
				r = err_fail(-EEXIST, err, err_len,
					     "volume %s is already published on %s %s", name,
					     req->target_path,
					     o->targets[k].readonly ? "read-only" : "read-write");
			else
				r = 0;
			if (r == 0)
				goto remount;
			pthread_mutex_unlock(&v->lock);
			return r;
		}
	}
	nt = realloc(vol->targets, (vol->n_targets + 1) * sizeof(*nt));
	if (nt)
		vol->targets = nt;
	if (!nt || !(nt[vol->n_targets].path = strdup(req->target_path))) {
		pthread_mutex_unlock(&v->lock);
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	}
	nt[vol->n_targets].readonly = req->readonly;
	vol->busy = true;
	pthread_mutex_unlock(&v->lock);

	/* Remember first, mount second: a crash in between leaves a target unpublish clears. */
	r = targets_save(v, vol->pool->name, vol->name, vol->targets, vol->n_targets + 1, err,
			 err_len);
	if (r == 0) {
		r = v->o.ops->bind_mount(vol->pool->name, vol->name, req->target_path,
					 req->readonly, err, err_len);
		if (r < 0) {
			char e2[256];

			targets_save(v, vol->pool->name, vol->name, vol->targets, vol->n_targets,
				     e2, sizeof(e2));
		}
	}
	pthread_mutex_lock(&v->lock);
	if (r == 0)
		vol->n_targets++;
	else
		free(vol->targets[vol->n_targets].path);
	vol->busy = false;
	j = r == 0 ? vol_json_locked(vol) : NULL;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	if (r < 0)
		return r;
	log_info("volume_published", "volume=%s target=%s readonly=%d", name, req->target_path,
		 req->readonly);
reply:
	return reply_volume(v, j, out, err, err_len);

remount:
	/*
	 * Recorded on this target: mounted, unless the node rebooted or pmemd died between
	 * recording and mounting. Answering 200 then would have the pod write into the bare
	 * target directory. Mounting again tells: the kernel refuses a target that is a mount
	 * point already (-EBUSY), else it is mounted now.
	 */
	vol->busy = true;
	pthread_mutex_unlock(&v->lock);
	r = v->o.ops->bind_mount(vol->pool->name, vol->name, req->target_path, req->readonly, err,
				 err_len);
	if (r == 0)
		log_info("volume_republished",
			 "volume=%s target=%s readonly=%d reason=\"recorded but not mounted (a "
			 "reboot, or a crash between recording and mounting)\"",
			 name, req->target_path, req->readonly);
	else if (r == -EBUSY)
		r = 0;
	pthread_mutex_lock(&v->lock);
	vol->busy = false;
	j = r == 0 ? vol_json_locked(vol) : NULL;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	if (r < 0)
		return r;
	goto reply;
}

int quota_volume_publish(struct quota_volumes *v, const char *name,
			 const struct quota_publish_req *req, json_t **out, char *err,
			 size_t err_len)
{
	double t0 = mono_seconds();
	int r = publish(v, name, req, out, err, err_len);

	count(v, OP_PUBLISH, r, t0);
	return r;
}

static int unpublish(struct quota_volumes *v, const char *name, const struct quota_publish_req *req,
		     json_t **out, char *err, size_t err_len)
{
	struct vol *vol;
	size_t k;
	json_t *j;
	int r;

	pthread_mutex_lock(&v->lock);
	vol = settled_vol(v, name);
	if (!vol) {
		r = no_volume(v, name, err, err_len);
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	for (k = 0; k < vol->n_targets; k++)
		if (strcmp(vol->targets[k].path, req->target_path) == 0)
			break;
	if (k == vol->n_targets) {
		/* Not published there: already done (CSI NodeUnpublish is idempotent). */
		j = vol_json_locked(vol);
		pthread_mutex_unlock(&v->lock);
		goto reply;
	}
	{
		/* The target to drop goes last, so the list saved below is the others. */
		struct target t = vol->targets[k];

		vol->targets[k] = vol->targets[vol->n_targets - 1];
		vol->targets[vol->n_targets - 1] = t;
	}
	vol->busy = true;
	pthread_mutex_unlock(&v->lock);

	r = v->o.ops->unmount(req->target_path, err, err_len);
	/* Not a mount point any more (a reboot, or unmounted by hand): forget it. */
	if (r == -EINVAL || r == -ENOENT)
		r = 0;
	if (r == 0) {
		r = targets_save(v, vol->pool->name, vol->name, vol->targets, vol->n_targets - 1,
				 err, err_len);
		if (r < 0)
			log_error("volume_unpublish_unsaved", "volume=%s target=%s reason=\"%s\"",
				  name, req->target_path, err);
		r = 0; /* unmounted: the target is free whatever the record says */
	}
	pthread_mutex_lock(&v->lock);
	if (r == 0)
		free(vol->targets[--vol->n_targets].path);
	vol->busy = false;
	j = r == 0 ? vol_json_locked(vol) : NULL;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	if (r < 0)
		return r;
	log_info("volume_unpublished", "volume=%s target=%s", name, req->target_path);
reply:
	return reply_volume(v, j, out, err, err_len);
}

int quota_volume_unpublish(struct quota_volumes *v, const char *name,
			   const struct quota_publish_req *req, json_t **out, char *err,
			   size_t err_len)
{
	double t0 = mono_seconds();
	int r = unpublish(v, name, req, out, err, err_len);

	count(v, OP_UNPUBLISH, r, t0);
	return r;
}

/* ---- metrics ---- */

static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void quota_volumes_metrics(struct quota_volumes *v, FILE *f)
{
	json_t *list = NULL;
	const char *const names[] = {"capacity_bytes", "used_bytes", "inodes", "inodes_used"};
	const char *const fields[] = {"size_bytes", "used_bytes", "inodes", "used_inodes"};
	const char *const help[] = {"Size of the volume (what was asked for).",
				    "Bytes the volume's project uses (quota).",
				    "Inode limit of the volume (0 = none).",
				    "Inodes the volume's project uses (quota)."};
	uint64_t c[OP_COUNT][RES_COUNT];
	struct op_hist h[OP_COUNT];
	char err[64];

	if (quota_volume_list(v, NULL, &list, err, sizeof(err)) == 0) {
		json_t *arr = json_object_get(list, "volumes"), *e;
		size_t i;

		for (size_t m = 0; m < 4; m++) {
			fprintf(f, "# HELP pmem_volume_%s %s\n# TYPE pmem_volume_%s gauge\n",
				names[m], help[m], names[m]);
			json_array_foreach (arr, i, e) {
				json_t *val = json_object_get(e, fields[m]);
				json_t *numa = json_object_get(e, "numa_node");

				if (!json_is_integer(val))
					continue;
				fprintf(f, "pmem_volume_%s{volume=\"", names[m]);
				label_value(f, json_string_value(json_object_get(e, "name")));
				fputs("\",pool=\"", f);
				label_value(f, json_string_value(json_object_get(e, "pool")));
				if (json_is_integer(numa))
					fprintf(f, "\",numa_node=\"%lld\"} %lld\n",
						(long long)json_integer_value(numa),
						(long long)json_integer_value(val));
				else
					fprintf(f, "\",numa_node=\"\"} %lld\n",
						(long long)json_integer_value(val));
			}
		}
		json_decref(list);
	}
	pthread_mutex_lock(&v->lock);
	memcpy(c, v->counters, sizeof(c));
	memcpy(h, v->hist, sizeof(h));
	pthread_mutex_unlock(&v->lock);
	fputs("# HELP pmem_volume_operations_total Volume operations by operation and result.\n"
	      "# TYPE pmem_volume_operations_total counter\n",
	      f);
	for (size_t o = 0; o < OP_COUNT; o++)
		for (size_t r = 0; r < RES_COUNT; r++)
			fprintf(f,
				"pmem_volume_operations_total{operation=\"%s\",result=\"%s\"} "
				"%" PRIu64 "\n",
				op_names[o], result_names[r], c[o][r]);
	/* Every operation always, even at 0: the set is closed, and a rate needs both samples. */
	fputs("# HELP pmem_volume_operation_duration_seconds Volume operation latency by "
	      "operation (in the service: after request parsing, waits for the volume included).\n"
	      "# TYPE pmem_volume_operation_duration_seconds histogram\n",
	      f);
	for (size_t o = 0; o < OP_COUNT; o++) {
		for (size_t b = 0; b < N_DUR_BUCKETS; b++)
			fprintf(f,
				"pmem_volume_operation_duration_seconds_bucket{operation=\"%s\","
				"le=\"%g\"} %" PRIu64 "\n",
				op_names[o], dur_buckets[b], h[o].le[b]);
		fprintf(f,
			"pmem_volume_operation_duration_seconds_bucket{operation=\"%s\",le=\"+"
			"Inf\"} "
			"%" PRIu64 "\n",
			op_names[o], h[o].count);
		fprintf(f, "pmem_volume_operation_duration_seconds_sum{operation=\"%s\"} %.6f\n",
			op_names[o], h[o].sum);
		fprintf(f,
			"pmem_volume_operation_duration_seconds_count{operation=\"%s\"} %" PRIu64
			"\n",
			op_names[o], h[o].count);
	}
}
