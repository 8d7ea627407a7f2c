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
	int numa_node;			 /* TOPO_NO_NODE when unknown */
	char health[TOPO_NAME_MAX];	 /* "ok", "non-critical", "critical", "fatal", "" = unknown */
};

struct topology_mapping {
	char dimm[TOPO_NAME_MAX];
	uint64_t offset;
	uint64_t length;
	int position;
};

struct topology_region {
	char dev[TOPO_NAME_MAX];  /* "region0" */
	char type[16];		  /* "pmem" or "blk" */
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
	/* distance[i * n_numa + j]: from numa[i] to numa[j], as the firmware reports (10 = local) */
	unsigned *distance;
	char **warnings; /* node-wide warnings, NULL-terminated array of n_warnings strings */
	size_t n_warnings;
};

/* Frees; accepts NULL, returns NULL. */
struct topology_snapshot *topology_snapshot_free(struct topology_snapshot *s);

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
				uint64_t align, char *dev, size_t dev_len, char *err, size_t err_len);
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
	/* Does the pool directory hold volumes (non-empty apart from lost+found and pmemd's own dirs)? */
	int (*pool_has_volumes)(const char *path, bool *has, char *err, size_t err_len);
};

/* The real kernel (topology-kernel.c and friends). */
extern const struct topology_ops topology_kernel_ops;

#endif
