/* quota-model: the pure core of volumes: names, labels, requests, records, project ids, capacity,
 * catalog. */
#ifndef PMEMD_QUOTA_MODEL_H
#define PMEMD_QUOTA_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quota/quota.h"

/*
 * Everything here is pure: no I/O, no clock (time is a parameter), no
 * globals. quota_ids and quota_ledger lock internally and may be shared by
 * threads; every other object is owned by one caller (or read-only once
 * built, which any number of threads may read).
 */

/* ---- names and labels (quota-name.c) ---- */

#define QUOTA_LABELS_MAX       64
#define QUOTA_LABEL_PREFIX_MAX 253 /* a DNS subdomain */
#define QUOTA_LABEL_NAME_MAX   63
#define QUOTA_LABEL_KEY_MAX    (QUOTA_LABEL_PREFIX_MAX + 1 + QUOTA_LABEL_NAME_MAX)
#define QUOTA_LABEL_VALUE_MAX  63
/*
 * Labels are stored as one JSON object in one extended attribute; ext4
 * keeps all of an inode's xattrs in one block (4 KiB) unless ea_inode is
 * on, so the encoded labels must leave room for the other records.
 */
#define QUOTA_LABELS_TEXT_MAX 3072

/*
 * Is `s` a volume name: `[a-z0-9]([-a-z0-9.]*[a-z0-9])?`, 1..253 characters?
 * That also refuses ".", "..", anything with a '/', and pmemd's own entries
 * (".pmemd") and the filesystem's ("lost+found"). Returns 0 or -EINVAL with
 * the reason in `why` ("name has an uppercase letter at position 3";
 * positions count from 1).
 */
int quota_name_valid(const char *s, char *why, size_t len);

/*
 * Is key=value a Kubernetes label: key `[prefix/]name`, prefix a DNS
 * subdomain (lowercase, at most 253), name at most 63 of
 * `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`; value empty or like a name.
 * `value` NULL checks the key only. Returns 0 or -EINVAL with the reason.
 */
int quota_label_valid(const char *key, const char *value, char *why, size_t len);

struct quota_label {
	char *key;
	char *value;
};

/* A set of labels, sorted by key, keys unique. Owned by the struct it sits in. */
struct quota_labels {
	struct quota_label *v;
	size_t n;
};

/* The value of `key`, or NULL. */
const char *quota_labels_get(const struct quota_labels *l, const char *key);

/* {"key": "value", ...}; NULL on allocation failure. */
json_t *quota_labels_to_json(const struct quota_labels *l);

/* ---- requests (quota-request.c) ---- */

#define QUOTA_PATH_MAX		   4095 /* bytes of a path, without the NUL */
#define QUOTA_NUMA_NODE_MAX	   1023
#define QUOTA_PUBLISH_ROOT_DEFAULT "/var/lib/kubelet"

/* What requests are checked against; NULL or zero fields take the defaults. */
struct quota_req_limits {
	uint64_t max_size_bytes; /* 0: up to INT64_MAX (JSON integers are signed 64-bit) */
	/* Publish targets must lie strictly below one of these absolute, normalised
	 * paths; NULL-terminated; NULL = { QUOTA_PUBLISH_ROOT_DEFAULT }. */
	const char *const *publish_roots;
};

/* POST /v1/volumes */
struct quota_create_req {
	char name[QUOTA_NAME_MAX + 1];
	uint64_t size_bytes;
	char *pool;    /* as given (mount path or id; the service resolves it); NULL = not given */
	int numa_node; /* -1 = not given; never both pool and numa_node */
	uint64_t inodes; /* 0 = not given (no inode limit) */
	struct quota_labels labels;
	/* The pod the volume is for: consumes a matching reservation (quota-reservations.c). */
	char *pod_uid; /* NULL = not given */
	char *claim;   /* "namespace/name" of the PVC; NULL = not given */
};

/* POST /v1/volumes/{name}/resize */
struct quota_resize_req {
	uint64_t size_bytes; /* 0 = not given: the size stays */
	bool set_inodes;     /* "inodes" was given: the inode limit becomes `inodes` */
	uint64_t inodes;     /* 0 = no inode limit, as at create */
	/*
	 * Not from the body: only while the inode limit is still `if_inodes`
	 * (else -EAGAIN), so the auto resizer never undoes an inode change made
	 * meanwhile, as quota_volume_resize_if's size does for the size.
	 */
	bool if_inodes_set;
	uint64_t if_inodes;
};

/* POST /v1/volumes/{name}/publish and /unpublish (readonly is publish only). */
struct quota_publish_req {
	char target_path[QUOTA_PATH_MAX + 1];
	bool readonly;
};

/*
 * Parse and validate a request body. Strict: unknown fields and wrong JSON
 * types are errors; every error names its field ("size_bytes: must be a
 * positive integer, got -5"). Returns 0 or -EINVAL (-ENOMEM) with the
 * message in `err`; outputs are untouched on failure.
 */
int quota_create_req_parse(const json_t *body, const struct quota_req_limits *lim,
			   struct quota_create_req **out, char *err, size_t err_len);
struct quota_create_req *quota_create_req_free(struct quota_create_req *r);
int quota_resize_req_parse(const json_t *body, const struct quota_req_limits *lim,
			   struct quota_resize_req *out, char *err, size_t err_len);
int quota_publish_req_parse(const json_t *body, const struct quota_req_limits *lim,
			    struct quota_publish_req *out, char *err, size_t err_len);
int quota_unpublish_req_parse(const json_t *body, const struct quota_req_limits *lim,
			      struct quota_publish_req *out, char *err, size_t err_len);

/*
 * Is `path` (n bytes, may hold NULs) an absolute, normalised path (no "//",
 * "." or ".." component, no trailing '/', no control character, components
 * at most 255 bytes, at most QUOTA_PATH_MAX bytes) strictly below one of
 * `roots` (NULL-terminated; NULL = the default)? 0 or -EINVAL with the reason.
 */
int quota_target_path_valid(const char *path, size_t n, const char *const *roots, char *why,
			    size_t len);

/*
 * Is s[0..n) "namespace/name" of a PVC: a DNS label (1..63) and a DNS
 * subdomain (1..253)? 0 or -EINVAL with the reason.
 */
int quota_claim_valid(const char *s, size_t n, char *why, size_t len);
#define QUOTA_POD_UID_MAX 128
/* Is s[0..n) a pod uid: 1..128 of [A-Za-z0-9-] (a UUID in practice)? 0 or -EINVAL, reason. */
int quota_pod_uid_valid(const char *s, size_t n, char *why, size_t len);
/* A Kubernetes namespace: a DNS label, 1..63 of [a-z0-9-], not starting or ending with '-'. */
int quota_namespace_valid(const char *s, size_t n, char *why, size_t len);

/* ---- records: a volume's trusted.pmemd.* attributes (quota-catalog.c) ---- */

#define QUOTA_META_SIZE	   "size_bytes"
#define QUOTA_META_INODES  "inodes"
#define QUOTA_META_CREATED "created"
#define QUOTA_META_LABELS  "labels"

/* A volume's record as read from its xattrs (values as text); NULL = absent. */
struct quota_meta {
	const char *size_bytes; /* decimal, > 0 */
	const char *inodes;	/* decimal, 0 = no inode limit; absent = 0 */
	const char *created;	/* decimal unix seconds */
	const char *labels;	/* a JSON object of string → string */
};

/* A record to write: one NUL-terminated value per xattr (written, all four, before the rename). */
struct quota_meta_text {
	char size_bytes[24];
	char inodes[24];
	char created[24];
	char labels[QUOTA_LABELS_TEXT_MAX + 1];
};

/*
 * Encodes a record; `created` is the caller's clock (unix seconds). -EINVAL
 * (size 0 or above INT64_MAX, created < 0) or -E2BIG (labels too long).
 */
int quota_meta_encode(uint64_t size_bytes, uint64_t inodes, int64_t created,
		      const struct quota_labels *labels, struct quota_meta_text *out, char *err,
		      size_t err_len);

/* ---- project ids (quota-ids.c) ---- */

/*
 * The project ids of one pool: hands out the lowest id in [min, max] not in
 * use, never one that is held, and takes back released ones. Memory: 4 bytes
 * per held id. Thread-safe.
 */
struct quota_ids;

/*
 * From the ids a scan found in use (volumes, staging, trash, foreign
 * directories; duplicates and ids outside [min, max] are fine and ignored).
 * -EINVAL (min 0 or min > max) or -ENOMEM.
 */
int quota_ids_new(uint32_t min, uint32_t max, const uint32_t *in_use, size_t n,
		  struct quota_ids **out);
struct quota_ids *quota_ids_free(struct quota_ids *ids);
/* The lowest free id, now held; -ENOSPC when every id is held, -ENOMEM. */
int quota_ids_alloc(struct quota_ids *ids, uint32_t *out);
/* Marks `id` held: -ERANGE outside [min, max], -EEXIST when already held. */
int quota_ids_hold(struct quota_ids *ids, uint32_t id);
/* Gives `id` back: -ENOENT when not held. */
int quota_ids_release(struct quota_ids *ids, uint32_t id);
bool quota_ids_held(struct quota_ids *ids, uint32_t id);
size_t quota_ids_count(struct quota_ids *ids);

/* ---- capacity ledger (quota-ledger.c) ---- */

/* overcommit_ratio as an exact fraction: capacity = floor(allocatable × num / den). */
struct quota_ratio {
	uint32_t num;
	uint32_t den;
};

#define QUOTA_RATIO_MAX 100 /* a ratio above this is a typo, not a policy */

/*
 * From a configured double, to the nearest millionth (1.0 → 1/1, 1.5 →
 * 3/2). -EINVAL unless 0 < r <= QUOTA_RATIO_MAX.
 */
int quota_ratio_from_double(double r, struct quota_ratio *out, char *why, size_t len);

/* Reservations in flight at once (creates and resizes waiting on the kernel). */
#define QUOTA_LEDGER_RESERVATIONS_MAX 4096

/*
 * Capacity per pool: allocatable bytes (refreshed from the pool), committed
 * (the sum of volume hard limits) and reserved (creates and resizes in
 * flight). A reservation succeeds only when committed + reserved + bytes <=
 * capacity, so concurrent creates can never overcommit. Thread-safe.
 */
struct quota_ledger;

struct quota_ledger_stat {
	uint64_t allocatable;
	uint64_t capacity; /* allocatable × ratio */
	uint64_t committed;
	uint64_t reserved;
	uint64_t free; /* capacity - committed - reserved, 0 when the pool shrank below that */
};

/* -EINVAL (num or den 0, ratio above QUOTA_RATIO_MAX) or -ENOMEM. */
int quota_ledger_new(struct quota_ratio ratio, struct quota_ledger **out);
struct quota_ledger *quota_ledger_free(struct quota_ledger *l);
/* Adds a pool or refreshes its allocatable bytes (committed volumes stay, even above it). */
int quota_ledger_set_pool(struct quota_ledger *l, const char *pool, uint64_t allocatable);
/* Counts an existing volume's limit as committed (start-up, from the catalog); no capacity check.
 */
int quota_ledger_charge(struct quota_ledger *l, const char *pool, uint64_t bytes, char *err,
			size_t err_len);
/*
 * Reserves `bytes` (> 0) for a create or a resize's growth: a token (never
 * 0) for commit or cancel. -ENOSPC with *free_out set when it does not fit;
 * -ENOENT unknown pool; -EBUSY too many reservations in flight.
 */
int quota_ledger_reserve(struct quota_ledger *l, const char *pool, uint64_t bytes,
			 uint64_t *token_out, uint64_t *free_out, char *err, size_t err_len);
/* The volume exists now: its reservation becomes committed. -ENOENT unknown token. */
int quota_ledger_commit(struct quota_ledger *l, uint64_t token, char *err, size_t err_len);
/* The create or resize failed: the reservation is dropped. -ENOENT unknown token. */
int quota_ledger_cancel(struct quota_ledger *l, uint64_t token, char *err, size_t err_len);
/*
 * A volume's limit changed from old_bytes to new_bytes. Growth consumes
 * `token`, a reservation of exactly new - old bytes on this pool made
 * before the kernel call; shrink (and delete: new_bytes 0) releases and
 * takes token 0. -EINVAL when the figures do not match the ledger.
 */
int quota_ledger_adjust(struct quota_ledger *l, const char *pool, uint64_t old_bytes,
			uint64_t new_bytes, uint64_t token, char *err, size_t err_len);
/* -ENOENT unknown pool. */
int quota_ledger_stat(struct quota_ledger *l, const char *pool, struct quota_ledger_stat *out);

/* ---- catalog rebuild from a scan (quota-catalog.c) ---- */

/* Limits of one project id, as quotactl reports them (0 = none). */
struct quota_scan_limit {
	uint32_t projid;
	uint64_t bytes_limit;
	uint64_t inodes_limit;
};

/* What a scan of one pool found; the service fills it through quota_ops. */
struct quota_scan_pool {
	const char *name; /* the pool's mount path */
	enum config_fstype fstype;
	uint64_t block_size;
	const struct quota_dirent *root; /* entries of the pool root */
	const struct quota_meta *meta;	 /* meta[i] is root[i]'s record; NULL = none read */
	size_t n_root;
	const struct quota_dirent *staging; /* entries of QUOTA_STAGING_DIR */
	size_t n_staging;
	const struct quota_dirent *trash; /* entries of QUOTA_TRASH_DIR */
	size_t n_trash;
	/* Limits of the project ids above; an id not listed has no limits. */
	const struct quota_scan_limit *limits;
	size_t n_limits;
};

struct quota_scan {
	const struct quota_scan_pool *pools;
	size_t n_pools;
};

struct quota_rebuild_opts {
	/* The quota limit a volume of a size must have (quota_limit_for_size); NULL = the size. */
	uint64_t (*limit_for_size)(uint64_t size_bytes, enum config_fstype fstype,
				   uint64_t block_size);
};

/* A complete volume. */
struct quota_volume {
	char name[QUOTA_NAME_MAX + 1];
	char *pool;
	uint32_t projid;
	uint64_t size_bytes;
	uint64_t inodes; /* 0 = no inode limit */
	int64_t created; /* unix seconds; 0 when the record had none */
	struct quota_labels labels;
};

enum quota_repair_kind {
	/* remove_tree(rel); then, when clear_limit, limit_set(projid, 0, 0) and release the id. */
	QUOTA_REPAIR_REMOVE_STAGING,
	QUOTA_REPAIR_REMOVE_TRASH,
	/* project_set(rel, projid): a volume lost its PROJINHERIT flag. */
	QUOTA_REPAIR_SET_PROJECT,
	/* limit_set(projid, bytes_limit, inodes_limit): the record wins over the quota. */
	QUOTA_REPAIR_SET_LIMIT,
};

struct quota_repair {
	enum quota_repair_kind kind;
	char *pool;
	char rel[sizeof(QUOTA_STAGING_DIR) + 1 + QUOTA_NAME_MAX + 1]; /* relative to the pool */
	uint32_t projid;
	/* remove: no other entry uses projid, so its limits are cleared and the id freed after. */
	bool clear_limit;
	uint64_t bytes_limit;
	uint64_t inodes_limit;
	char reason[200];
};

enum quota_issue_level {
	QUOTA_ISSUE_WARNING, /* not pmemd's: left alone */
	QUOTA_ISSUE_ERROR,   /* pmemd's but inconsistent: left alone for a person, never "fixed" */
};

enum quota_issue_where {
	QUOTA_IN_ROOT,
	QUOTA_IN_STAGING,
	QUOTA_IN_TRASH,
};

struct quota_issue {
	enum quota_issue_level level;
	enum quota_issue_where where;
	char *pool;
	char name[QUOTA_NAME_MAX + 1]; /* the entry's name in the folder `where` */
	uint32_t projid;
	char message[300];
};

/* Ids in use in one pool (sorted, unique, within [QUOTA_PROJID_MIN, QUOTA_PROJID_MAX]). */
struct quota_pool_ids {
	char *pool;
	uint32_t *ids;
	size_t n;
};

struct quota_catalog {
	struct quota_volume *volumes; /* sorted by name; names unique on the node */
	size_t n_volumes;
	/* In the order to run them: by kind (removals first), pool (scan order), path. */
	struct quota_repair *repairs;
	size_t n_repairs;
	struct quota_issue *issues; /* by pool (scan order), folder, name */
	size_t n_issues;
	struct quota_pool_ids *ids; /* one per scanned pool, in scan order */
	size_t n_ids;
};

/*
 * Rebuilds the catalog from a scan: complete volumes, the repairs that
 * finish or undo interrupted operations, issues for a person, and the ids in
 * use per pool (staging and trash ids count until their repair ran). Same
 * scan, same catalog (input order does not matter). -EINVAL (a malformed
 * scan: no pool name, a pool twice) or -ENOMEM, with the reason in `err`.
 */
int quota_catalog_rebuild(const struct quota_scan *scan, const struct quota_rebuild_opts *opts,
			  struct quota_catalog **out, char *err, size_t err_len);
struct quota_catalog *quota_catalog_free(struct quota_catalog *c);
const struct quota_volume *quota_catalog_find(const struct quota_catalog *c, const char *name);
/* An error issue on a root entry of that name: the name is taken but not usable. */
const struct quota_issue *quota_catalog_conflict(const struct quota_catalog *c, const char *name);
const struct quota_pool_ids *quota_catalog_pool_ids(const struct quota_catalog *c,
						    const char *pool);

/*
 * Create by name is idempotent: does `req` ask for the existing volume `v`
 * (same size; same pool, NUMA node and inodes when the request names them;
 * labels are not compared)? 0, or -EEXIST (a 409) saying what differs.
 * req->pool is compared as a mount path, so the caller resolves a pool id
 * first; `v_numa_node` is the NUMA node of v's pool, -1 unknown.
 */
int quota_create_req_match(const struct quota_create_req *req, const struct quota_volume *v,
			   int v_numa_node, char *err, size_t err_len);

#endif
