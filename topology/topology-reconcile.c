/* topology-reconcile: the pool reconciler's decision, a pure function of what was observed. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "topology/topology.h"

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static uint64_t lcm_u64(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a / gcd_u64(a, b) * b;
}

/*
 * A namespace must be a multiple of the namespace alignment on every DIMM of
 * the interleave set and of the region's own alignment; peers that use only
 * one of them fail with "failed to set alignment" or try to fit a 4G
 * namespace into a 4G region that has label space taken out of it.
 */
uint64_t topology_namespace_size(const struct topology_region *r, bool labelless,
				 uint64_t *align_out)
{
	unsigned ways = r->interleave_ways ? r->interleave_ways : 1;
	uint64_t align = lcm_u64(TOPO_NS_ALIGN * ways, r->align);
	uint64_t avail = r->max_available_extent ? r->max_available_extent : r->available_size;

	if (avail > r->available_size)
		avail = r->available_size;
	/* A label-less region reports nothing free: its one raw namespace spans all of it. */
	if (labelless)
		avail = r->size;
	if (align_out)
		*align_out = align;
	return avail - avail % align;
}

static const char *const action_names[] = {
	[POOL_ACT_NONE] = "none",
	[POOL_ACT_ERROR] = "error",
	[POOL_ACT_CREATE_NAMESPACE] = "create-namespace",
	[POOL_ACT_PROBE_FS] = "probe-fs",
	[POOL_ACT_MKFS] = "mkfs",
	[POOL_ACT_MKDIR] = "mkdir",
	[POOL_ACT_MOUNT] = "mount",
	[POOL_ACT_DAX_TO_RAM] = "dax-to-ram",
};

const char *topology_pool_action_name(enum pool_action_kind k)
{
	return (unsigned)k < sizeof(action_names) / sizeof(action_names[0]) ? action_names[k]
									    : "unknown";
}

__attribute__((format(printf, 2, 3))) static void fail(struct pool_action *a, const char *fmt, ...)
{
	va_list ap;

	a->kind = POOL_ACT_ERROR;
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
}

/*
 * A region whose DIMMs carry no labels yet (fresh NVDIMMs) shows one raw
 * namespace without a uuid spanning the region and no free space. It is not
 * a namespace anyone made: the kernel's default view of blank media. Creating
 * the pool's namespace writes the labels (create_namespace refuses if the raw
 * device holds any filesystem or partition signature).
 */
static bool is_labelless(const struct pool_observed *o)
{
	return o->n_ns == 1 && o->ns[0]->mode == TOPO_NS_RAW && !o->ns[0]->uuid[0];
}

/* The namespace this pool uses: the only one in the region that holds capacity. */
static const struct topology_namespace *
pick_namespace(const struct pool_want *w, const struct pool_observed *o, struct pool_action *a)
{
	if (is_labelless(o))
		return NULL;
	if (o->n_ns > 1) {
		fail(a,
		     "%s has %zu namespaces; a pool takes a region with one namespace (pmemd "
		     "will not guess which one holds data)",
		     w->region, o->n_ns);
		return NULL;
	}
	return o->n_ns == 1 ? o->ns[0] : NULL;
}

static void next_kmem(const struct pool_want *w, const struct pool_observed *o,
		      const struct topology_namespace *ns, struct pool_action *a)
{
	if (ns->mode != TOPO_NS_DEVDAX) {
		fail(a,
		     "%s is in %s mode; a kmem pool needs devdax (reconfigure it with ndctl "
		     "create-namespace -f -e %s -m devdax if its data is not needed)",
		     ns->dev, topology_ns_mode_name(ns->mode), ns->dev);
		return;
	}
	if (!o->dax) {
		fail(a, "%s has no dax device yet (is the device_dax driver loaded?)", ns->dev);
		return;
	}
	if (strcmp(o->dax->mode, "system-ram") == 0) {
		/*
		 * Memory onlined into a normal zone can hold kernel allocations and
		 * may never be offlined again; a pool promises capacity that can be
		 * given back, so that is an error, not a quiet "ready".
		 */
		if (!o->dax->movable) {
			fail(a,
			     "%s is system RAM but not movable (onlined outside pmemd, e.g. by "
			     "auto_online_blocks); offline it and let pmemd online it movable",
			     o->dax->dev);
			return;
		}
		a->kind = POOL_ACT_NONE;
		return;
	}
	a->kind = POOL_ACT_DAX_TO_RAM;
	snprintf(a->daxdev, sizeof(a->daxdev), "%s", o->dax->dev);
	(void)w;
}

static void mount_options(const struct pool_want *w, struct pool_action *a)
{
	snprintf(a->options, sizeof(a->options), "dax,prjquota%s%s", w->options ? "," : "",
		 w->options ? w->options : "");
}

static void check_mount(const struct pool_want *w, const struct pool_observed *o,
			const struct topology_namespace *ns, struct pool_action *a)
{
	char dev[TOPO_NAME_MAX + 8];
	const char *want_fs = config_fstype_name(w->fstype);

	snprintf(dev, sizeof(dev), "/dev/%s", ns->blockdev);
	if (strcmp(o->mount.source, dev) != 0) {
		fail(a,
		     "%s is already a mount point of %s, not of %s; unmount it or change the "
		     "pool's path",
		     w->path, o->mount.source, dev);
		return;
	}
	if (strcmp(o->mount.fstype, want_fs) != 0) {
		fail(a, "%s is mounted as %s, the pool wants %s", w->path, o->mount.fstype,
		     want_fs);
		return;
	}
	if (!o->mount.dax || !o->mount.prjquota) {
		fail(a,
		     "%s is mounted without %s%s%s; unmount it and pmemd will mount it with "
		     "dax,prjquota",
		     w->path, o->mount.dax ? "" : "dax",
		     !o->mount.dax && !o->mount.prjquota ? " and " : "",
		     o->mount.prjquota ? "" : "prjquota");
		return;
	}
	a->kind = POOL_ACT_NONE;
}

void topology_pool_next(const struct pool_want *w, const struct pool_observed *o,
			struct pool_action *a)
{
	const struct topology_namespace *ns;
	enum topology_ns_mode mode = w->type == CONFIG_POOL_KMEM ? TOPO_NS_DEVDAX : TOPO_NS_FSDAX;

	memset(a, 0, sizeof(*a));
	if (!o->region) {
		fail(a, "%s not found on this node; regions here: %s", w->region,
		     o->regions_here && *o->regions_here ? o->regions_here : "none");
		return;
	}
	if (strcmp(o->region->type, "pmem") != 0) {
		fail(a, "%s is a %s region; pools need a pmem region", w->region, o->region->type);
		return;
	}
	ns = pick_namespace(w, o, a);
	if (a->kind == POOL_ACT_ERROR)
		return;
	if (!ns) {
		if (o->region->readonly) {
			fail(a, "%s is read-only; cannot create a namespace", w->region);
			return;
		}
		uint64_t unit;
		a->size = topology_namespace_size(o->region, is_labelless(o), &unit);
		/* The mapping alignment the kernel supports (4K, 2M, 1G), not the size unit. */
		a->align = TOPO_NS_ALIGN;
		if (a->size == 0) {
			fail(a,
			     "%s has no free extent of at least %llu bytes (available %llu, "
			     "largest "
			     "extent %llu)",
			     w->region, (unsigned long long)unit,
			     (unsigned long long)o->region->available_size,
			     (unsigned long long)o->region->max_available_extent);
			return;
		}
		a->kind = POOL_ACT_CREATE_NAMESPACE;
		a->mode = mode;
		return;
	}
	if (!ns->enabled) {
		fail(a, "%s is disabled; enable it (ndctl enable-namespace %s) or destroy it",
		     ns->dev, ns->dev);
		return;
	}
	if (w->type == CONFIG_POOL_KMEM) {
		next_kmem(w, o, ns, a);
		return;
	}
	if (ns->mode != TOPO_NS_FSDAX) {
		/*
		 * Changing a namespace's mode destroys what is on it. Even with
		 * reformat pmemd leaves that to a person: the namespace may belong to
		 * something else entirely.
		 */
		fail(a,
		     "%s is in %s mode, the pool needs fsdax; pmemd does not convert namespaces "
		     "(ndctl create-namespace -f -e %s -m fsdax, if its data is not needed)",
		     ns->dev, topology_ns_mode_name(ns->mode), ns->dev);
		return;
	}
	if (!ns->blockdev[0]) {
		fail(a, "%s has no block device (is the nd_pmem driver loaded?)", ns->dev);
		return;
	}
	if (o->mounted) {
		check_mount(w, o, ns, a);
		return;
	}
	if (!o->fs_probed) {
		a->kind = POOL_ACT_PROBE_FS;
		snprintf(a->blockdev, sizeof(a->blockdev), "%s", ns->blockdev);
		return;
	}
	if (o->fstype[0] && strcmp(o->fstype, config_fstype_name(w->fstype)) != 0) {
		if (!w->reformat) {
			fail(a,
			     "/dev/%s holds %s, the pool wants %s; pmemd does not reformat it "
			     "unless "
			     "the pool says reformat: true",
			     ns->blockdev, o->fstype, config_fstype_name(w->fstype));
			return;
		}
		/*
		 * An ext4 or xfs filesystem may be a pool of an earlier config that
		 * still holds volumes, and that cannot be known without mounting it:
		 * reformat only ever replaces what cannot hold pmemd volumes.
		 */
		if (strcmp(o->fstype, "ext4") == 0 || strcmp(o->fstype, "xfs") == 0) {
			fail(a,
			     "/dev/%s holds %s, the pool wants %s; it may hold volumes of an "
			     "earlier "
			     "pool, so pmemd does not reformat it even with reformat: true (wipe "
			     "it "
			     "with wipefs -a /dev/%s if its data is not needed)",
			     ns->blockdev, o->fstype, config_fstype_name(w->fstype), ns->blockdev);
			return;
		}
		a->kind = POOL_ACT_MKFS;
		snprintf(a->blockdev, sizeof(a->blockdev), "%s", ns->blockdev);
		return;
	}
	if (!o->fstype[0]) {
		a->kind = POOL_ACT_MKFS;
		snprintf(a->blockdev, sizeof(a->blockdev), "%s", ns->blockdev);
		return;
	}
	if (!o->dir_ready) {
		a->kind = POOL_ACT_MKDIR;
		return;
	}
	a->kind = POOL_ACT_MOUNT;
	snprintf(a->blockdev, sizeof(a->blockdev), "%s", ns->blockdev);
	mount_options(w, a);
}
