/* quota-volumes-private: the volume service's state, shared by quota-volumes.c and
 * quota-reservations.c; not part of the public header. */
#ifndef PMEMD_QUOTA_VOLUMES_PRIVATE_H
#define PMEMD_QUOTA_VOLUMES_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "quota/quota-volumes.h"
#include "util/strmap.h"

#define QV_DUR_BUCKETS 14 /* latency histogram buckets (quota-volumes.c dur_buckets[]) */

/*
 * One volume of a pod reservation. While neither consumed nor expired it
 * holds `bytes` (the quota a volume of size_bytes needs in its pool) as a
 * ledger reservation `token`; 0 = not held yet (loaded at start before its
 * pool was ready).
 */
struct qr_entry {
	uint64_t size_bytes;
	uint64_t bytes;
	char *pool; /* mount path */
	int numa_node;
	char *claim; /* "namespace/name" or NULL */
	uint64_t token;
	bool consumed;
	bool consuming; /* a volume create is using it; DELETE and expiry wait */
	char *volume;	/* the volume that consumed it */
};

struct qr_resv {
	char *pod_uid;
	json_t *request;   /* the body as given, for idempotency (same body = same reservation) */
	int cpu_numa_node; /* -1 none */
	int64_t created_ms, expires_ms;
	struct qr_entry *e;
	size_t n;
};

enum op { OP_CREATE, OP_RESIZE, OP_DELETE, OP_PUBLISH, OP_UNPUBLISH, OP_COUNT };
enum result {
	RES_OK,
	RES_INVALID,
	RES_NOT_FOUND,
	RES_CONFLICT,
	RES_NO_SPACE,
	RES_ERROR,
	RES_COUNT
};

/* One operation's latency histogram; buckets are cumulative, as Prometheus renders them. */
struct op_hist {
	uint64_t le[QV_DUR_BUCKETS];
	uint64_t count;
	double sum;
};

struct vpool {
	char *name;
	char *id;
	int numa_node;
	enum config_fstype fstype;
	uint64_t allocatable;
	bool ready;
	bool scanned;
	bool pending;	   /* reported, not decided yet (quota_pool_info.pending) */
	bool failed;	   /* reported in error (quota_pool_info.failed) */
	uint64_t reported; /* the committed bytes last told to opts.allocated (+1; 0 = never) */
	uint64_t reported_resv; /* the same for opts.reserved */
	struct quota_ids *ids;
};

struct target {
	char *path;
	bool readonly;
};

struct vol {
	char name[QUOTA_NAME_MAX + 1];
	struct vpool *pool;
	uint32_t projid;
	uint64_t size_bytes;
	uint64_t limit_bytes; /* the quota: quota_limit_for_size(size_bytes) */
	uint64_t inodes;
	int64_t created;
	json_t *labels; /* an object; never changed once set */
	struct target *targets;
	size_t n_targets;
	bool pending; /* a create in flight: not a volume yet */
	bool busy;    /* an operation in flight on it; others wait on cond */
};

/*
 * A delete whose cleanup failed after the rename to trash (the volume is gone for clients):
 * its project id and capacity stay held until a later sync finishes the cleanup.
 */
struct trash_left {
	struct vpool *pool;
	char rel[sizeof(QUOTA_TRASH_DIR) + QUOTA_NAME_MAX + 2];
	uint32_t projid;
	uint64_t limit_bytes;
};

struct quota_volumes {
	/*
	 * Held by qv_report from reading the figures to delivering them: two reports delivered
	 * out of order would leave the node record with the older figures, while the request
	 * that made the newer ones has already answered (the scheduler reads that record).
	 */
	pthread_mutex_t report_lock;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;  /* a volume stopped being busy or pending */
	pthread_mutex_t sync_lock;
	struct quota_volumes_opts o;
	char **roots;
	struct quota_req_limits lim;
	struct quota_ledger *ledger;
	uint64_t block_size;
	struct vpool **pools;
	size_t n_pools;
	struct vol **vols;
	size_t n_vols, cap_vols;
	struct strmap by_name; /* name -> struct vol *, keyed by vol->name */
	/*
	 * Moves whenever what quota_volume_brief_list shows would differ: a volume added,
	 * removed, made ready or resized. Bumped by add_vol, remove_vol, and where a create
	 * makes its volume ready and a resize commits its new figures.
	 */
	uint64_t catalog_gen;
	uint64_t counters[OP_COUNT][RES_COUNT];
	struct op_hist hist[OP_COUNT];
	/* Pod reservations (quota-reservations.c), under `lock` too. */
	struct qr_resv **resv;
	size_t n_resv;
	size_t n_resv_entries; /* volumes of all reservations (each may hold a ledger token) */
	bool resv_dirty;       /* the file is behind memory (a save failed after a commit point) */
	char reported_cpus[512];       /* the reserved-CPU set last given to opts.reserved_cpus */
	struct trash_left *trash_left; /* deletes to finish (quota_volumes_sync retries them) */
	size_t n_trash_left;
};

/* ---- what quota-volumes.c offers quota-reservations.c (callers hold v->lock) ---- */

struct vpool *qv_find_pool(struct quota_volumes *v, const char *name_or_id);
/*
 * -EAGAIN (with the reason) while the catalog is partial: a pool is pending, or ready and not
 * scanned yet. Else 0. A lookup that misses then must not say "no such volume/pool".
 */
int qv_loading(struct quota_volumes *v, char *err, size_t err_len);
uint64_t qv_limit_for(const struct quota_volumes *v, const struct vpool *p, uint64_t size);
/* The largest quota a volume of `size` needs in any pool (whatever its filesystem). */
uint64_t qv_limit_any(const struct quota_volumes *v, uint64_t size);
/* Tells the pool manager the allocated and reserved bytes that changed; WITHOUT v->lock. */
void qv_report(struct quota_volumes *v);

/* ---- what quota-reservations.c offers quota-volumes.c ---- */

/* Wall clock in milliseconds: opts.now_ms, else opts.now × 1000, else CLOCK_REALTIME. */
int64_t qr_now_ms(const struct quota_volumes *v);
/* Loads <state_dir>/reservations.json at start (no lock needed: nobody else sees v yet). */
void qr_load(struct quota_volumes *v);
void qr_free_all(struct quota_volumes *v);
/* Drops expired reservations (their capacity back to the pool). */
void qr_expire_locked(struct quota_volumes *v);
/* Holds ledger capacity for loaded entries whose pool is ready and scanned now. */
void qr_hold_locked(struct quota_volumes *v);
/* Bytes of unconsumed reservations in `pool` (the node record's reserved_bytes). */
uint64_t qr_reserved_locked(struct quota_volumes *v, const char *pool);
/* Writes the file again if a save failed earlier. */
void qr_retry_save_locked(struct quota_volumes *v);

/*
 * A create with pod_uid: the entry it consumes, if one matches (size_bytes
 * <= the entry's, same claim when given, the request's pool / NUMA node the
 * entry's). Marks it consuming; *pool and *token are what the create uses.
 */
struct qr_entry *qr_claim_locked(struct quota_volumes *v, const struct quota_create_req *req,
				 struct vpool **pool, uint64_t *token);
/*
 * The create that claimed `e` ended: on success the capacity moves from
 * reserved to allocated (`limit` committed, the rest of the entry freed)
 * and the entry is consumed; on failure the entry stays reserved, its
 * capacity held throughout.
 */
void qr_claim_done_locked(struct quota_volumes *v, struct qr_entry *e, bool ok, uint64_t limit,
			  const char *volume);

#endif
