/* quota-volumes: the volume service: catalog in memory, create, resize, delete, publish. */
#ifndef PMEMD_QUOTA_VOLUMES_H
#define PMEMD_QUOTA_VOLUMES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quota/quota-model.h"
#include "quota/quota.h"

/*
 * The service keeps the catalog of every volume of the node's ready pools
 * in memory, rebuilt from the pools at start (quota_catalog_rebuild) and
 * changed only through the crash-safe steps below; the filesystem stays the
 * only record. Thread-safe: operations on different volumes run in
 * parallel, operations on one volume (or one name) one after the other.
 * Every operation returns 0 or -errno with a message naming the failure.
 */
struct quota_volumes;

/* A pool that can hold volumes (ready, fsdax with a filesystem), as the pool manager sees it. */
struct quota_pool_info {
	char name[4096]; /* mount path */
	char id[4096];	 /* the name as one URL segment ("mnt-pmem0"); "" = none */
	int numa_node;	 /* -1 unknown */
	enum config_fstype fstype;
	uint64_t allocatable_bytes;
	/*
	 * Not decided yet (the pool manager's first pass has not made it ready or failed it):
	 * its volumes are not known, so until it is ready and scanned a name the catalog lacks
	 * or an unknown pool is answered -EAGAIN, not -ENOENT. Only name matters then.
	 */
	bool pending;
	/*
	 * Failed by the pool manager (its mount, filesystem or namespace is in error): whatever
	 * volumes it holds cannot be read. A name the catalog lacks is then answered -EAGAIN
	 * naming the pool, never -ENOENT (the CSI shim takes a 404 on delete for "deleted", and
	 * the volume's data would be forgotten). Creates go on in the other pools. Only name
	 * matters then.
	 */
	bool failed;
};

struct quota_volumes_opts {
	const struct quota_ops *ops;
	double overcommit_ratio;	  /* 0 = 1.0 */
	const char *const *publish_roots; /* NULL-terminated; NULL = QUOTA_PUBLISH_ROOT_DEFAULT */
	uint64_t max_size_bytes;	  /* largest size_bytes of a request; 0 = no cap */
	/*
	 * The ready pools now (malloc'd array, the service frees it); called
	 * without any service lock held. NULL = no pools.
	 */
	int (*pools)(void *ctx, struct quota_pool_info **out, size_t *n);
	/* A pool's committed bytes (sum of volume limits) changed; called without service locks. */
	void (*allocated)(void *ctx, const char *pool, uint64_t bytes);
	void *ctx;
	/* Unix seconds; NULL = time(2). */
	int64_t (*now)(void);
	/*
	 * Reservations (quota-reservations.c). now_ms: the wall clock in unix
	 * milliseconds that expiry reads (NULL = now() × 1000, else the real
	 * clock); injectable so tests expire without sleeping.
	 */
	int64_t (*now_ms)(void);
	/* Reservations are kept in <state_dir>/reservations.json; NULL = in memory only. */
	const char *state_dir;
	uint64_t reservation_ttl_ms; /* a reservation without ttl_seconds; 0 = 5 minutes */
	unsigned pmem_policy;	     /* enum sched_pmem_policy for reservations that name no pool */
	unsigned cpu_policy;	     /* enum sched_cpu_policy */
	/*
	 * The node record now (GET /v1/node: NUMA nodes, CPUs, distances), for
	 * placing reservations with the engine; called without service locks.
	 * NULL or a NULL answer: NUMA nodes are taken from the pools, without CPUs.
	 */
	json_t *(*node_record)(void *ctx);
	/* A pool's reserved bytes (unconsumed reservations) changed; called without service locks.
	 */
	void (*reserved)(void *ctx, const char *pool, uint64_t bytes);
	/*
	 * The CPUs the reservations hold changed: per NUMA node (kernel ids), the sum of the
	 * `cpus` of live reservations with that cpu_numa_node. Called without service locks.
	 */
	void (*reserved_cpus)(void *ctx, const int *numa_ids, const unsigned *cpus, size_t n);
};

int quota_volumes_new(const struct quota_volumes_opts *opts, struct quota_volumes **out, char *err,
		      size_t err_len);
/* Accepts NULL, returns NULL. */
struct quota_volumes *quota_volumes_free(struct quota_volumes *v);

/*
 * Learns the ready pools: refreshes their capacity, and scans each pool
 * seen for the first time (catalog rebuild, then the repairs that finish or
 * undo interrupted operations). Called at start, after every pool pass, and
 * before every create. Returns 0, or the first scan error (the other pools
 * are still scanned; a pool that failed is scanned again next time).
 */
int quota_volumes_sync(struct quota_volumes *v);

/* What requests are validated against (publish roots). */
const struct quota_req_limits *quota_volumes_limits(const struct quota_volumes *v);

/*
 * Creates a volume, or finds the one the same request made before
 * (*created false). -EEXIST when the name is taken otherwise, -ENOSPC with
 * the free figure when no pool has room, -ENOENT/-EINVAL for an unknown pool
 * or NUMA node, -EAGAIN when no pool is ready. *out: the volume's JSON.
 * With req->pod_uid, a matching entry of that pod's reservation is consumed:
 * the volume goes to its pool and its held capacity becomes allocated; no
 * matching entry is a normal create.
 */
int quota_volume_create(struct quota_volumes *v, const struct quota_create_req *req, json_t **out,
			bool *created, char *err, size_t err_len);

/* One volume's JSON with live usage; -ENOENT. */
int quota_volume_get(struct quota_volumes *v, const char *name, json_t **out, char *err,
		     size_t err_len);

/* Filters of a list; NULL / -1 = any. */
struct quota_volume_filter {
	const char *pool; /* mount path or id */
	int numa_node;
	const char *label_key;
	const char *label_value;
};

/* {"volumes": [...]} sorted by name. */
int quota_volume_list(struct quota_volumes *v, const struct quota_volume_filter *f, json_t **out,
		      char *err, size_t err_len);

/*
 * New size: growth reserves the difference first, shrink only when the
 * usage fits the new limit (-EBUSY saying how much is used).
 */
int quota_volume_resize(struct quota_volumes *v, const char *name,
			const struct quota_resize_req *req, json_t **out, char *err,
			size_t err_len);

/*
 * Every volume as plain figures, for the auto resizer's pass over thousands of volumes (the
 * JSON of quota_volume_list costs most of such a pass). `pool` points at the service's own
 * pool name, valid while the service lives; `labels` is a reference (a volume's labels never
 * change once set). Usage is not read here: quota_volumes_usage_get does, for the volumes that
 * need it. Free with quota_volume_brief_free. 0 or -ENOMEM.
 */
struct quota_volume_brief {
	char name[QUOTA_NAME_MAX + 1];
	const char *pool;
	uint32_t projid;
	uint64_t size_bytes, limit_bytes, inodes;
	json_t *labels;
};
int quota_volume_brief_list(struct quota_volumes *v, struct quota_volume_brief **out, size_t *n,
			    uint64_t *gen);
/*
 * The catalog's generation: it moves whenever quota_volume_brief_list would answer
 * differently (a volume added, removed, made ready or resized; usage is not part of it).
 * brief_list gives the generation it was taken at (`gen`, may be NULL), so a caller that keeps
 * its list may use it again while this stays equal (the auto resizer's pass, every 2 s).
 */
uint64_t quota_volumes_generation(struct quota_volumes *v);
void quota_volume_brief_free(struct quota_volume_brief *b, size_t n);
/* The live quota usage of a project of a pool (one quotactl); 0 or -errno with the reason. */
int quota_volumes_usage_get(struct quota_volumes *v, const char *pool, uint32_t projid,
			    struct quota_usage *out, char *err, size_t err_len);
/*
 * The same for n projects of one pool, with one open of the pool when the kernel layer can:
 * out[i] and rcs[i] (0 or -errno) for each. 0, or -errno when the pool cannot be opened (err
 * says; rcs untouched).
 */
int quota_volumes_usage_get_many(struct quota_volumes *v, const char *pool, const uint32_t *projids,
				 size_t n, struct quota_usage *out, int *rcs, char *err,
				 size_t err_len);

/*
 * What a growth of a volume in `pool` (mount path or id) may take: the pool's free bytes in
 * the capacity ledger, and the filesystem block size limits are counted in (for the auto
 * resizer, which must never ask for more than the pool has). 0 or -ENOENT.
 */
int quota_volumes_pool_room(struct quota_volumes *v, const char *pool, uint64_t *free_bytes,
			    uint64_t *block_size);

/*
 * The same, done only while the volume's size is still `if_size` (else -EAGAIN, nothing
 * changed): the auto resizer decides on a size it read earlier, and must never undo (shrink)
 * a resize made meanwhile over the API.
 */
int quota_volume_resize_if(struct quota_volumes *v, const char *name,
			   const struct quota_resize_req *req, uint64_t if_size, json_t **out,
			   char *err, size_t err_len);

/* Deletes data, quota and id; -EBUSY while published unless force (then unmounts first). */
int quota_volume_delete(struct quota_volumes *v, const char *name, bool force, char *err,
			size_t err_len);

/*
 * Bind-mounts the volume on req->target_path (idempotent; -EEXIST when
 * another volume or another mode holds the target). Published targets are
 * remembered in the volume's trusted.pmemd.published attribute.
 */
int quota_volume_publish(struct quota_volumes *v, const char *name,
			 const struct quota_publish_req *req, json_t **out, char *err,
			 size_t err_len);
/* Unmounts; a target the volume does not hold is already unpublished (0). */
int quota_volume_unpublish(struct quota_volumes *v, const char *name,
			   const struct quota_publish_req *req, json_t **out, char *err,
			   size_t err_len);

/* ---- reservations: capacity held for a scheduled pod until its volumes exist ---- */

#define QUOTA_RESV_MAX 1024 /* reservations on a node */
#define QUOTA_RESV_ENTRIES_MAX \
	2048			  /* volumes of all reservations (ledger slots stay for creates) */
#define QUOTA_RESV_VOLUMES_MAX 32 /* volumes of one reservation (SCHED_MAX_VOLUMES) */
#define QUOTA_TTL_SECONDS_MAX  86400
#define QUOTA_CPUS_MAX	       4096

/*
 * POST /v1/reservations: {pod_uid, pod_name?, namespace?, volumes: [{size_bytes,
 * pool? | numa_node?, fstype?, claim?}], cpus?, cpu_numa_node?, ttl_seconds?}.
 * Validates (every error names its field), then reserves: volumes that name
 * no pool are placed by the engine (sched_evaluate, the configured
 * policies) over this node's model with the ledger's figures; numa_node
 * restricts a volume to that NUMA node's pools. All or nothing. The same
 * body again: the same reservation (*created false); another body for the
 * pod_uid: -EEXIST. -ENOSPC naming the need and the free figure. The file
 * is written before the answer; a failed write undoes the reservation (-EIO).
 */
int quota_reservation_create(struct quota_volumes *v, const json_t *body, json_t **out,
			     bool *created, char *err, size_t err_len);
/* One reservation's JSON; -ENOENT (an expired one is gone). -EINVAL: not a pod uid. */
int quota_reservation_get(struct quota_volumes *v, const char *pod_uid, json_t **out, char *err,
			  size_t err_len);
/* {"reservations": [...]} sorted by pod_uid. */
int quota_reservation_list(struct quota_volumes *v, json_t **out, char *err, size_t err_len);
/* Frees the capacity of its unconsumed volumes; -ENOENT; -EIO when the file cannot be written
 * (then the reservation stays). */
int quota_reservation_delete(struct quota_volumes *v, const char *pod_uid, char *err,
			     size_t err_len);

/* Prometheus lines: pmem_volume_* per volume (usage read live), operation counters by operation
 * and result, and latency histograms by operation. */
void quota_volumes_metrics(struct quota_volumes *v, FILE *f);

#endif
