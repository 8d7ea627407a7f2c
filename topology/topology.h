/* topology: what PMEM and NUMA this node has (discovery) and turning regions into ready pools. */
#ifndef PMEMD_TOPOLOGY_H
#define PMEMD_TOPOLOGY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define TOPO_NAME_MAX 64
#define TOPO_NO_NODE  (-1) /* a NUMA node the firmware did not report */

/* ---- the snapshot: plain structs, filled by discovery, read by everyone else ---- */

struct topology_bus {
	char dev[TOPO_NAME_MAX];      /* "ndbus0" */
	char provider[TOPO_NAME_MAX]; /* "ACPI.NFIT" */
};

struct topology_dimm {
	char dev[TOPO_NAME_MAX]; /* "nmem0" */
	char id[TOPO_NAME_MAX];	 /* unique id, "" when the firmware has none */
	unsigned handle;
	unsigned phys_id;
	int numa_node;		    /* TOPO_NO_NODE when unknown */
	char health[TOPO_NAME_MAX]; /* "ok", "non-critical", "critical", "fatal", "" = unknown */
};

struct topology_mapping {
	char dimm[TOPO_NAME_MAX];
	uint64_t offset;
	uint64_t length;
	int position;
};

struct topology_region {
	char dev[TOPO_NAME_MAX]; /* "region0" */
	char type[16];		 /* "pmem" or "blk" */
	uint64_t size;
	uint64_t available_size;
	uint64_t max_available_extent;
	uint64_t align;
	int numa_node;
	int target_node;
	char persistence_domain[24]; /* "cpu_cache", "memory_controller", "none", "unknown" */
	unsigned interleave_ways;
	bool readonly;
	struct topology_mapping *mappings;
	size_t n_mappings;
	/* A disagreement between numa_node, target_node and the DIMMs' nodes, or "". */
	char warning[256];
};

enum topology_ns_mode {
	TOPO_NS_RAW,
	TOPO_NS_SECTOR,
	TOPO_NS_FSDAX,
	TOPO_NS_DEVDAX,
	TOPO_NS_UNKNOWN,
};

struct topology_namespace {
	char dev[TOPO_NAME_MAX];    /* "namespace0.0" */
	char region[TOPO_NAME_MAX]; /* "region0" */
	enum topology_ns_mode mode;
	uint64_t size; /* usable size (after the pfn/dax info block) */
	char uuid[40];
	uint64_t align;
	char blockdev[TOPO_NAME_MAX]; /* "pmem0" (fsdax, sector, raw), or "" */
	char chardev[TOPO_NAME_MAX];  /* "dax0.0" (devdax), or "" */
	int numa_node;
	bool enabled;
};

struct topology_dax {
	char dev[TOPO_NAME_MAX];    /* "dax1.0" */
	char region[TOPO_NAME_MAX]; /* the ndctl region it lives in, "region1" */
	uint64_t size;
	int target_node;
	char mode[16]; /* "devdax" or "system-ram" */
	bool movable;  /* system-ram onlined as ZONE_MOVABLE */
};

struct topology_numa_node {
	int id;
	unsigned *cpus;
	size_t n_cpus;
	uint64_t mem_total;
	uint64_t mem_free;
};

struct topology_snapshot {
	struct topology_bus *buses;
	size_t n_buses;
	struct topology_dimm *dimms;
	size_t n_dimms;
	struct topology_region *regions;
	size_t n_regions;
	struct topology_namespace *namespaces;
	size_t n_namespaces;
	struct topology_dax *daxes;
	size_t n_daxes;
	struct topology_numa_node *numa;
	size_t n_numa;
	/* distance[i * n_numa + j]: from numa[i] to numa[j], as the firmware reports (10 = local)
	 */
	unsigned *distance;
	char **warnings; /* node-wide warnings, NULL-terminated array of n_warnings strings */
	size_t n_warnings;
};

/* Frees; accepts NULL, returns NULL. */
struct topology_snapshot *topology_snapshot_free(struct topology_snapshot *s);

/*
 * Puts regions, namespaces, DIMMs and dax devices in natural device order
 * (region2 before region10), whatever order the kernel enumerated them in,
 * so that every answer built from a snapshot is stable.
 */
void topology_snapshot_sort(struct topology_snapshot *s);

/* Lookups in a snapshot; NULL when absent. */
const struct topology_region *topology_find_region(const struct topology_snapshot *s,
						   const char *dev);
const struct topology_numa_node *topology_find_numa(const struct topology_snapshot *s, int id);
/* Distance between two NUMA node ids, or 0 when either is unknown. */
unsigned topology_distance(const struct topology_snapshot *s, int from, int to);

/* JSON of the whole snapshot (GET /v1/topology) and of its parts. */
json_t *topology_snapshot_to_json(const struct topology_snapshot *s);
json_t *topology_regions_to_json(const struct topology_snapshot *s);
json_t *topology_namespaces_to_json(const struct topology_snapshot *s);
json_t *topology_numa_to_json(const struct topology_snapshot *s);
const char *topology_ns_mode_name(enum topology_ns_mode m);

/*
 * Cross-checks each region's numa_node against its target_node and the
 * DIMMs' nodes and fills region->warning (pure; discovery calls it, tests
 * call it on hand-made snapshots).
 */
void topology_check_numa(struct topology_snapshot *s);

/* ---- the kernel boundary: one table, so unit tests can install a fake ---- */

/* What is mounted at a path, from /proc/self/mountinfo. */
struct topology_mount {
	char source[256]; /* "/dev/pmem0" */
	char fstype[16];
	char options[512]; /* VFS and superblock options, comma-separated */
	bool dax;	   /* "dax" or "dax=always" in effect */
	bool prjquota;	   /* project quota accounting/enforcement on */
};

struct topology_ops {
	/* Full discovery: libndctl, libdaxctl, libnuma. */
	int (*discover)(struct topology_snapshot **out, char *err, size_t err_len);
	/*
	 * Creates a namespace of `size` bytes in `region` in `mode` (fsdax or
	 * devdax) with `align`, using the region's seed namespace; writes the new
	 * namespace's dev name ("namespace0.0") into `dev`.
	 */
	int (*create_namespace)(const char *region, enum topology_ns_mode mode, uint64_t size,
				uint64_t align, char *dev, size_t dev_len, char *err,
				size_t err_len);
	/*
	 * What filesystem (if any) is on /dev/<blockdev> (libblkid): fstype "" when
	 * the device holds no recognised signature at all; uuid "" when none.
	 */
	int (*probe_fs)(const char *blockdev, char *fstype, size_t fstype_len, char *uuid,
			size_t uuid_len, char *err, size_t err_len);
	/* mkfs.ext4 -O project,quota / mkfs.xfs, exec'd with an argv array. */
	int (*mkfs)(const char *blockdev, enum config_fstype fstype, char *err, size_t err_len);
	/* mkdir -p with mode 0755; an existing directory is fine, anything else is -ENOTDIR. */
	int (*make_dir)(const char *path, char *err, size_t err_len);
	/* What is mounted exactly at `path`: 0 and *out, or -ENOENT when nothing is. */
	int (*find_mount)(const char *path, struct topology_mount *out, char *err, size_t err_len);
	/* mount(2) /dev/<blockdev> on path with fstype and options ("dax,prjquota,..."). */
	int (*mount)(const char *blockdev, const char *path, enum config_fstype fstype,
		     const char *options, char *err, size_t err_len);
	/* statfs: total and free bytes, total and free inodes. */
	int (*fs_stat)(const char *path, uint64_t *total, uint64_t *avail, uint64_t *inodes,
		       uint64_t *inodes_free, char *err, size_t err_len);
	/* devdax → system-ram (kmem), onlined movable (libdaxctl). */
	int (*dax_to_ram)(const char *daxdev, char *err, size_t err_len);
	/* Does the pool directory hold volumes (non-empty apart from lost+found and pmemd's own
	 * dirs)? */
	int (*pool_has_volumes)(const char *path, bool *has, char *err, size_t err_len);
};

/* ---- the kubelet CPU manager's checkpoint (topology-cpumanager.c) ---- */

#define TOPO_CPU_MAX 65535 /* the largest CPU id accepted in a cpuset */

/*
 * A cpuset in the kernel's list format ("0-3,8,10-11"; "" is empty; one
 * trailing newline allowed) into a sorted, de-duplicated array (malloc'd;
 * NULL when empty). Pure. -EINVAL with the position in `err`, -ENOMEM.
 */
int topology_cpuset_parse(const char *s, size_t n, unsigned **cpus, size_t *n_cpus, char *err,
			  size_t err_len);
/*
 * The CPUs the checkpoint hands out exclusively (kubelet's
 * cpu_manager_state: {"policyName", "defaultCpuSet", "entries": {pod uid:
 * {container: cpuset}}, "checksum"}): the union of the entries when the
 * policy is "static", none for any other policy. Pure. -EINVAL (malformed,
 * the reason in `err`), -ENOMEM.
 */
int topology_cpu_manager_parse(const char *text, size_t len, unsigned **cpus, size_t *n_cpus,
			       char *err, size_t err_len);
/* Reads and parses the file; a missing file (or path NULL) is no exclusive CPUs (0). */
int topology_cpu_manager_read(const char *path, unsigned **cpus, size_t *n_cpus, char *err,
			      size_t err_len);

/* The real kernel (topology-kernel.c and friends). */
extern const struct topology_ops topology_kernel_ops;

/* ---- pools: the reconciler's decision (pure, topology-reconcile.c) ---- */

/*
 * The namespace alignment pmemd asks for: 2 MiB, the huge page size that
 * lets fsdax map PMEM with PMD entries.
 */
#define TOPO_NS_ALIGN (2ULL << 20)

/* Everything the reconciler looks at for one pool, gathered by the manager. */
struct pool_observed {
	const struct topology_region *region; /* NULL: not on this node */
	const char *regions_here;	      /* "region0, region1": for the error message */
	/* Namespaces of the region that hold capacity (size > 0), in discovery order. */
	const struct topology_namespace *const *ns;
	size_t n_ns;
	/* fsdax: what is on the namespace's block device (valid when fs_probed). */
	bool fs_probed;
	char fstype[16]; /* "" = no signature at all */
	char fsuuid[40];
	/* kmem: the dax device of the namespace, or NULL */
	const struct topology_dax *dax;
	bool dir_ready; /* the mount point directory was made in this pass */
	bool mounted;	/* something is mounted exactly at the pool's path */
	struct topology_mount mount;
	bool has_volumes; /* valid when mounted */
};

enum pool_action_kind {
	POOL_ACT_NONE,		   /* ready: nothing to do */
	POOL_ACT_ERROR,		   /* cannot proceed; reason says why and what to do */
	POOL_ACT_CREATE_NAMESPACE, /* mode, size, align */
	POOL_ACT_PROBE_FS,	   /* look at the block device first */
	POOL_ACT_MKFS,		   /* blockdev, fstype */
	POOL_ACT_MKDIR,		   /* the pool's path */
	POOL_ACT_MOUNT,		   /* blockdev on path with options */
	POOL_ACT_DAX_TO_RAM,	   /* kmem: dax device to system-ram */
};

struct pool_action {
	enum pool_action_kind kind;
	enum topology_ns_mode mode;
	uint64_t size;
	uint64_t align;
	char blockdev[TOPO_NAME_MAX];
	char daxdev[TOPO_NAME_MAX];
	char options[600]; /* mount options: "dax,prjquota[,<pool options>]" */
	char reason[512];
};

/* What one pool wants: the config pool and the one region this (sub-)pool is built on. */
struct pool_want {
	const char *path; /* the mount path of this (sub-)pool */
	const char *region;
	enum config_pool_type type;
	enum config_fstype fstype;
	const char *options; /* extra mount options from the config, or NULL */
	bool reformat;
};

/* The next step towards `want` from `obs`. Pure: no I/O, same input → same answer. */
void topology_pool_next(const struct pool_want *want, const struct pool_observed *obs,
			struct pool_action *out);

/*
 * The size of a new namespace: the region's largest free extent (the whole
 * region when it has no labels yet) aligned down to lcm(TOPO_NS_ALIGN *
 * interleave_ways, region align). 0 when nothing fits.
 */
uint64_t topology_namespace_size(const struct topology_region *r, bool labelless,
				 uint64_t *align_out);

const char *topology_pool_action_name(enum pool_action_kind k);

/* ---- pools: the manager (topology-pool.c) ---- */

enum pool_state {
	POOL_PENDING,
	POOL_READY,
	POOL_ERROR,
};

/* One (sub-)pool's status and capacity, a copy handed out to readers. */
struct pool_status {
	char name[4096]; /* mount path */
	char id[4096];	 /* the name as one URL segment: "/mnt/pmem0" → "mnt-pmem0" */
	char region[TOPO_NAME_MAX];
	enum config_pool_type type;
	enum config_fstype fstype;
	enum pool_state state;
	char reason[512];
	int numa_node;
	char device[TOPO_NAME_MAX + 8]; /* "/dev/pmem0" or "dax1.0" */
	char namespace_dev[TOPO_NAME_MAX];
	char fsuuid[40];
	uint64_t capacity_bytes;    /* filesystem size (statfs), or onlined memory for kmem */
	uint64_t allocatable_bytes; /* capacity minus the pool's reserve */
	uint64_t allocated_bytes;   /* sum of volume quotas (0 until volumes exist) */
	uint64_t reserved_bytes;    /* held by pod reservations not yet volumes */
	uint64_t used_bytes;	    /* used on the filesystem */
	uint64_t inodes, inodes_free;
	bool simulated; /* from a cluster description (simulate:), not from hardware */
};

/* ---- a simulated node (topology-sim.c) ---- */

/*
 * What a simulated node is made of, taken from its record in a cluster description
 * (config_simulate_node_load): NUMA nodes with CPUs and distances (a snapshot with no PMEM
 * devices), ready pools, and the CPUs the description says are pinned already.
 */
struct topology_sim {
	struct topology_snapshot *snap;
	struct pool_status *pools;
	size_t n_pools;
	unsigned *excl; /* sorted CPU ids */
	size_t n_excl;
	json_t *labels; /* the description's labels, without kubernetes.io/hostname */
};

/*
 * Builds a simulated node from one record of config_simulate_parse(). Pure. A pool's
 * `allocated` bytes are taken off its allocatable bytes (the node's volume service counts
 * only its own volumes). 0, or -EINVAL (a record that is not one, the field in `err`), -ENOMEM.
 */
int topology_sim_from_record(const json_t *rec, struct topology_sim **out, char *err,
			     size_t err_len);
/* Accepts NULL, returns NULL. */
struct topology_sim *topology_sim_free(struct topology_sim *sim);

struct topology_manager;

struct topology_manager_opts {
	const struct topology_ops *ops;
	unsigned refresh_ms; /* rediscovery and reconcile interval; 0 = only on demand */
	/* Called (from the manager's thread) after every pass; e.g. readiness, publishing. */
	void (*on_pass)(void *ctx, struct topology_manager *m);
	void *ctx;
	/*
	 * A simulated node: the manager takes it over (and frees it, also when
	 * topology_manager_new fails). Its pools replace the config's, and a pass
	 * never calls `ops`: no discovery, no reconcile, no CPU manager checkpoint.
	 * The record and every pool say "simulated": true.
	 */
	struct topology_sim *sim;
};

/*
 * Creates the manager for the pools of `cfg` that select this node (the
 * manager copies what it needs). With start_thread, a background thread runs
 * a pass at once and then every refresh_ms; without, passes run only when
 * topology_manager_reconcile() is called (unit tests).
 */
int topology_manager_new(struct topology_manager **out, const struct config *cfg,
			 const struct topology_manager_opts *opts, bool start_thread, char *err,
			 size_t err_len);
struct topology_manager *topology_manager_free(struct topology_manager *m);

/* Stops the background thread (joins it); on-demand passes and reads keep working. */
void topology_manager_stop(struct topology_manager *m);

/* Replaces the desired pools (SIGHUP) and runs a pass. */
int topology_manager_set_config(struct topology_manager *m, const struct config *cfg);

/*
 * Rediscovers and reconciles now, in the caller's thread: every pool, or the
 * one named `pool` (-ENOENT when no such pool). Serialised with the
 * background thread.
 */
int topology_manager_reconcile(struct topology_manager *m, const char *pool);

/* Rediscovers without reconciling (GET ...?refresh=true). */
int topology_manager_refresh(struct topology_manager *m);

/* True once the first pass has completed. */
bool topology_manager_settled(struct topology_manager *m);

/* Increases whenever the node record changes. */
uint64_t topology_manager_generation(struct topology_manager *m);

/* Copies of the current state; the caller frees. */
int topology_manager_pools(struct topology_manager *m, struct pool_status **out, size_t *n);
int topology_manager_pool(struct topology_manager *m, const char *name, struct pool_status *out);
int topology_manager_pool_by_id(struct topology_manager *m, const char *id,
				struct pool_status *out);

/*
 * The volume service reports a pool's allocated bytes (the sum of its
 * volumes' quota limits): pool status, node record and metrics show it.
 * -ENOENT when no such pool.
 */
int topology_manager_set_allocated(struct topology_manager *m, const char *pool, uint64_t bytes);
/* The same for the bytes of unconsumed pod reservations in the pool (reserved_bytes). */
int topology_manager_set_reserved(struct topology_manager *m, const char *pool, uint64_t bytes);
/*
 * CPUs held by reservations, per NUMA node (kernel ids): the record's numa_nodes[].cpus_reserved.
 * Replaces the previous set; n = 0 clears it. 0 or -ENOMEM (the old set stays).
 */
int topology_manager_set_reserved_cpus(struct topology_manager *m, const int *numa_ids,
				       const unsigned *cpus, size_t n);

/* A pool's id: its path without the leading '/', every other '/' as '-'. */
void topology_pool_id(const char *path, char *id, size_t len);
json_t *topology_manager_snapshot_json(struct topology_manager *m, int which);
enum { TOPO_JSON_ALL, TOPO_JSON_REGIONS, TOPO_JSON_NAMESPACES, TOPO_JSON_NUMA };

/* The node record (GET /v1/node) and the same as a NodeResourceTopology object. */
json_t *topology_manager_node_json(struct topology_manager *m, uint64_t *generation);
json_t *topology_manager_nrt_json(struct topology_manager *m, uint64_t *generation);

json_t *topology_pool_status_json(const struct pool_status *p);
const char *topology_pool_state_name(enum pool_state s);

/* Prometheus lines for the pools (pmem_pool_*). */
void topology_manager_metrics(struct topology_manager *m, FILE *f);

#endif
