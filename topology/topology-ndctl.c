/* topology-ndctl: the libndctl/libdaxctl boundary: discovery, namespace creation, devdax → RAM. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <daxctl/libdaxctl.h>
#include <ndctl/libndctl.h>
#include <linux/ndctl.h> /* command and device-type numbers; ndctl/ndctl.h needs ccan */

#include "topology/topology-kernel.h"
#include "util/log.h"

/*
 * A context per call rather than one cached for the process: discovery is
 * cached above this layer (the pool manager keeps the last snapshot), so a
 * fresh context costs one sysfs walk per real refresh, and in exchange there
 * is no shared libndctl state to lock across threads or to invalidate when
 * something else (an operator's ndctl, a reboot of a region) changes the
 * tree under us.
 */

#define SZ_16M (16ULL << 20)

/* libndctl's and libdaxctl's messages go through our logger, at debug level. */
static void lib_vlog(const char *lib, int priority, const char *fn, const char *format,
		     va_list args)
{
	char msg[512], q[600];
	size_t n;

	vsnprintf(msg, sizeof(msg), format, args);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_debug(lib, "priority=%d fn=%s msg=%s", priority, fn, log_quote(q, sizeof(q), msg));
}

static void ndctl_log(struct ndctl_ctx *ctx, int priority, const char *file, int line,
		      const char *fn, const char *format, va_list args)
{
	(void)ctx;
	(void)file;
	(void)line;
	lib_vlog("libndctl", priority, fn, format, args);
}

static void daxctl_log(struct daxctl_ctx *ctx, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	(void)ctx;
	(void)file;
	(void)line;
	lib_vlog("libdaxctl", priority, fn, format, args);
}

static int open_ndctl(struct ndctl_ctx **ctx, char *err, size_t err_len)
{
	int rc = ndctl_new(ctx);

	if (rc < 0)
		return topology_kernel_errf(err, err_len, rc, "libndctl: cannot start: %s",
					    strerror(-rc));
	ndctl_set_log_fn(*ctx, ndctl_log);
	return 0;
}

static int open_daxctl(struct daxctl_ctx **ctx, char *err, size_t err_len)
{
	int rc = daxctl_new(ctx);

	if (rc < 0)
		return topology_kernel_errf(err, err_len, rc, "libdaxctl: cannot start: %s",
					    strerror(-rc));
	daxctl_set_log_fn(*ctx, daxctl_log);
	return 0;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static bool uuid_null(const uuid_t uu)
{
	for (size_t i = 0; i < sizeof(uuid_t); i++)
		if (uu[i])
			return false;
	return true;
}

/* RFC 4122 text form; libuuid's uuid_unparse without linking libuuid. */
static void uuid_text(const uuid_t uu, char *out, size_t len)
{
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 uu[0], uu[1], uu[2], uu[3], uu[4], uu[5], uu[6], uu[7], uu[8], uu[9], uu[10],
		 uu[11], uu[12], uu[13], uu[14], uu[15]);
}

/* A random (version 4) UUID from the kernel's CSPRNG, as uuid_generate() makes. */
static int uuid_random(uuid_t uu)
{
	ssize_t n = getrandom(uu, sizeof(uuid_t), 0);

	if (n != (ssize_t)sizeof(uuid_t))
		return n < 0 ? -errno : -EIO;
	uu[6] = (uu[6] & 0x0f) | 0x40; /* version 4 */
	uu[8] = (uu[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	return 0;
}

static int node_or_none(int n)
{
	return n < 0 ? TOPO_NO_NODE : n;
}

/* ---- discovery ---- */

static const char *persistence_name(enum ndctl_persistence_domain d)
{
	switch (d) {
	case PERSISTENCE_NONE:
		return "none";
	case PERSISTENCE_MEM_CTRL:
		return "memory_controller";
	case PERSISTENCE_CPU_CACHE:
		return "cpu_cache";
	case PERSISTENCE_UNKNOWN:
		break;
	}
	return "unknown";
}

/* Health through the DIMM's SMART command, when the platform implements it; else "". */
static void dimm_health(struct ndctl_dimm *dimm, char *out, size_t len)
{
	struct ndctl_cmd *cmd;
	unsigned h;

	out[0] = '\0';
	if (!ndctl_dimm_is_cmd_supported(dimm, ND_CMD_SMART))
		return;
	cmd = ndctl_dimm_cmd_new_smart(dimm);
	if (!cmd)
		return;
	if (ndctl_cmd_submit(cmd) >= 0 &&
	    (ndctl_cmd_smart_get_flags(cmd) & ND_SMART_HEALTH_VALID)) {
		h = ndctl_cmd_smart_get_health(cmd);
		if (h & ND_SMART_FATAL_HEALTH)
			copy_str(out, len, "fatal");
		else if (h & ND_SMART_CRITICAL_HEALTH)
			copy_str(out, len, "critical");
		else if (h & ND_SMART_NON_CRITICAL_HEALTH)
			copy_str(out, len, "non-critical");
		else
			copy_str(out, len, "ok");
	}
	ndctl_cmd_unref(cmd);
}

static int add_dimm(struct topology_snapshot *s, size_t *cap, struct ndctl_dimm *dimm)
{
	struct topology_dimm *d;

	if (topology_kernel_grow((void **)&s->dimms, cap, s->n_dimms, sizeof(*s->dimms)))
		return -ENOMEM;
	d = &s->dimms[s->n_dimms++];
	copy_str(d->dev, sizeof(d->dev), ndctl_dimm_get_devname(dimm));
	copy_str(d->id, sizeof(d->id), ndctl_dimm_get_unique_id(dimm));
	d->handle = ndctl_dimm_get_handle(dimm);
	d->phys_id = ndctl_dimm_get_phys_id(dimm);
	/*
	 * libndctl has no per-DIMM node and the kernel exports none for nmem
	 * devices (NFIT gives proximity per SPA range, i.e. per region), so a
	 * DIMM's node is unknown and the cross-check skips it.
	 */
	d->numa_node = TOPO_NO_NODE;
	dimm_health(dimm, d->health, sizeof(d->health));
	return 0;
}

static int add_region(struct topology_snapshot *s, size_t *cap, struct ndctl_region *region)
{
	struct topology_region *r;
	struct ndctl_mapping *m;
	unsigned long long extent;
	unsigned long align;
	size_t mcap = 0;

	if (topology_kernel_grow((void **)&s->regions, cap, s->n_regions, sizeof(*s->regions)))
		return -ENOMEM;
	r = &s->regions[s->n_regions++];
	copy_str(r->dev, sizeof(r->dev), ndctl_region_get_devname(region));
	copy_str(r->type, sizeof(r->type), ndctl_region_get_type_name(region));
	r->size = ndctl_region_get_size(region);
	r->available_size = ndctl_region_get_available_size(region);
	/* Older kernels do not say; then the whole available size is one extent. */
	extent = ndctl_region_get_max_available_extent(region);
	r->max_available_extent = extent == ULLONG_MAX ? r->available_size : extent;
	align = ndctl_region_get_align(region);
	r->align = align == ULONG_MAX ? 0 : align; /* 0: the kernel does not say */
	r->numa_node = ndctl_region_has_numa(region)
			       ? node_or_none(ndctl_region_get_numa_node(region))
			       : TOPO_NO_NODE;
	r->target_node = node_or_none(ndctl_region_get_target_node(region));
	copy_str(r->persistence_domain, sizeof(r->persistence_domain),
		 persistence_name(ndctl_region_get_persistence_domain(region)));
	r->interleave_ways = ndctl_region_get_interleave_ways(region);
	r->readonly = ndctl_region_get_ro(region) == 1;
	ndctl_mapping_foreach(region, m)
	{
		struct topology_mapping *tm;
		struct ndctl_dimm *dimm = ndctl_mapping_get_dimm(m);

		if (topology_kernel_grow((void **)&r->mappings, &mcap, r->n_mappings,
					 sizeof(*r->mappings)))
			return -ENOMEM;
		tm = &r->mappings[r->n_mappings++];
		copy_str(tm->dimm, sizeof(tm->dimm), dimm ? ndctl_dimm_get_devname(dimm) : "");
		tm->offset = ndctl_mapping_get_offset(m);
		tm->length = ndctl_mapping_get_length(m);
		tm->position = ndctl_mapping_get_position(m);
	}
	return 0;
}

static enum topology_ns_mode ns_mode(enum ndctl_namespace_mode m)
{
	switch (m) {
	case NDCTL_NS_MODE_FSDAX:
		return TOPO_NS_FSDAX;
	case NDCTL_NS_MODE_SECTOR:
		return TOPO_NS_SECTOR;
	case NDCTL_NS_MODE_RAW:
		return TOPO_NS_RAW;
	case NDCTL_NS_MODE_DEVDAX:
		return TOPO_NS_DEVDAX;
	case NDCTL_NS_MODE_UNKNOWN:
		break;
	}
	return TOPO_NS_UNKNOWN;
}

/* The first device of a devdax namespace's dax region ("dax0.0"). */
static void dax_chardev(struct ndctl_dax *dax, char *out, size_t len)
{
	struct daxctl_region *dr = ndctl_dax_get_daxctl_region(dax);
	struct daxctl_dev *dev;

	out[0] = '\0';
	if (!dr)
		return;
	daxctl_dev_foreach (dr, dev) {
		if (daxctl_dev_get_size(dev) > 0) {
			copy_str(out, len, daxctl_dev_get_devname(dev));
			return;
		}
	}
}

static int add_namespace(struct topology_snapshot *s, size_t *cap, struct ndctl_namespace *ndns)
{
	struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ndns);
	struct ndctl_dax *dax = ndctl_namespace_get_dax(ndns);
	struct ndctl_btt *btt = ndctl_namespace_get_btt(ndns);
	unsigned long long raw = ndctl_namespace_get_size(ndns), usable = ULLONG_MAX;
	struct topology_namespace *n;
	const char *blk = NULL;
	uuid_t uu = {0};

	/* The region's idle seed (size 0, disabled) is a slot, not a namespace. */
	if (raw == 0 && !ndctl_namespace_is_enabled(ndns))
		return 0;
	if (topology_kernel_grow((void **)&s->namespaces, cap, s->n_namespaces,
				 sizeof(*s->namespaces)))
		return -ENOMEM;
	n = &s->namespaces[s->n_namespaces++];
	copy_str(n->dev, sizeof(n->dev), ndctl_namespace_get_devname(ndns));
	copy_str(n->region, sizeof(n->region),
		 ndctl_region_get_devname(ndctl_namespace_get_region(ndns)));
	n->mode = ns_mode(ndctl_namespace_get_mode(ndns));
	n->numa_node = node_or_none(ndctl_namespace_get_numa_node(ndns));
	/*
	 * A namespace claimed by a pfn, dax or btt device is itself disabled
	 * while its claim is enabled; "active" covers both, as ndctl list does.
	 */
	n->enabled = ndctl_namespace_is_active(ndns);

	/*
	 * As `ndctl list` shows them: the usable size and the block device
	 * come from the claiming personality (pfn, dax, btt) when there is
	 * one, and so does the uuid ("uuid" in ndctl's JSON; the namespace's
	 * own, "raw_uuid", only for a namespace without a claim).
	 */
	if (pfn) {
		usable = ndctl_pfn_get_size(pfn);
		n->align = ndctl_pfn_get_align(pfn);
		blk = ndctl_pfn_get_block_device(pfn);
		ndctl_pfn_get_uuid(pfn, uu);
	} else if (dax) {
		usable = ndctl_dax_get_size(dax);
		n->align = ndctl_dax_get_align(dax);
		dax_chardev(dax, n->chardev, sizeof(n->chardev));
		ndctl_dax_get_uuid(dax, uu);
	} else if (btt) {
		usable = ndctl_btt_get_size(btt);
		blk = ndctl_btt_get_block_device(btt);
		ndctl_btt_get_uuid(btt, uu);
	} else {
		blk = ndctl_namespace_get_block_device(ndns);
		ndctl_namespace_get_uuid(ndns, uu);
	}
	n->size = usable == ULLONG_MAX || usable == 0 ? raw : usable;
	if (n->align == ULONG_MAX)
		n->align = 0;
	copy_str(n->blockdev, sizeof(n->blockdev), blk);
	if (!uuid_null(uu))
		uuid_text(uu, n->uuid, sizeof(n->uuid));
	return 0;
}

/* "region1" from a dax region's sysfs path ".../ndbus0/region1/dax1.0"; "" when not PMEM. */
static void dax_region_name(struct daxctl_region *dr, char *out, size_t len)
{
	const char *path = daxctl_region_get_path(dr), *p = path;

	out[0] = '\0';
	while (p && (p = strstr(p, "/region")) != NULL) {
		const char *end = p + strlen("/region");
		size_t digits = strspn(end, "0123456789");

		if (digits > 0 && (end[digits] == '/' || end[digits] == '\0')) {
			snprintf(out, len, "%.*s", (int)(strlen("region") + digits), p + 1);
			return;
		}
		p = end;
	}
}

static int add_daxes(struct topology_snapshot *s, char *err, size_t err_len)
{
	struct daxctl_ctx *ctx;
	struct daxctl_region *dr;
	size_t cap = 0;
	int rc = open_daxctl(&ctx, err, err_len);

	if (rc)
		return rc;
	daxctl_region_foreach (ctx, dr) {
		struct daxctl_dev *dev;
		char region[TOPO_NAME_MAX];

		dax_region_name(dr, region, sizeof(region));
		daxctl_dev_foreach (dr, dev) {
			struct daxctl_memory *mem;
			struct topology_dax *d;

			/* A dax region's seed device has no capacity yet. */
			if (daxctl_dev_get_size(dev) == 0)
				continue;
			if (topology_kernel_grow((void **)&s->daxes, &cap, s->n_daxes,
						 sizeof(*s->daxes))) {
				rc = -ENOMEM;
				goto out;
			}
			d = &s->daxes[s->n_daxes++];
			copy_str(d->dev, sizeof(d->dev), daxctl_dev_get_devname(dev));
			copy_str(d->region, sizeof(d->region), region);
			d->size = daxctl_dev_get_size(dev);
			d->target_node = node_or_none(daxctl_dev_get_target_node(dev));
			/* Bound to kmem: the device is system RAM (online or not). */
			mem = daxctl_dev_get_memory(dev);
			copy_str(d->mode, sizeof(d->mode), mem ? "system-ram" : "devdax");
			d->movable = mem && daxctl_memory_is_online(mem) > 0 &&
				     daxctl_memory_is_movable(mem) == 1;
		}
	}
out:
	daxctl_unref(ctx);
	if (rc == -ENOMEM)
		topology_kernel_errf(err, err_len, rc, "out of memory listing dax devices");
	return rc;
}

int topology_ndctl_discover(struct topology_snapshot *s, char *err, size_t err_len)
{
	struct ndctl_ctx *ctx;
	struct ndctl_bus *bus;
	size_t bcap = 0, dcap = 0, rcap = 0, ncap = 0;
	int rc = open_ndctl(&ctx, err, err_len);

	if (rc)
		return rc;
	ndctl_bus_foreach (ctx, bus) {
		struct ndctl_dimm *dimm;
		struct ndctl_region *region;
		struct topology_bus *b;

		if (topology_kernel_grow((void **)&s->buses, &bcap, s->n_buses, sizeof(*s->buses)))
			goto nomem;
		b = &s->buses[s->n_buses++];
		copy_str(b->dev, sizeof(b->dev), ndctl_bus_get_devname(bus));
		copy_str(b->provider, sizeof(b->provider), ndctl_bus_get_provider(bus));
		ndctl_dimm_foreach (bus, dimm) {
			if (add_dimm(s, &dcap, dimm))
				goto nomem;
		}
		ndctl_region_foreach (bus, region) {
			struct ndctl_namespace *ndns;

			if (add_region(s, &rcap, region))
				goto nomem;
			ndctl_namespace_foreach (region, ndns) {
				if (add_namespace(s, &ncap, ndns))
					goto nomem;
			}
		}
	}
	ndctl_unref(ctx);
	return add_daxes(s, err, err_len);
nomem:
	ndctl_unref(ctx);
	return topology_kernel_errf(err, err_len, -ENOMEM, "out of memory during discovery");
}

/* ---- creating a namespace, as `ndctl create-namespace -r R -m M -s S -a A` ---- */

static struct ndctl_region *find_region(struct ndctl_ctx *ctx, const char *name)
{
	struct ndctl_bus *bus;
	struct ndctl_region *region;

	ndctl_bus_foreach (ctx, bus) {
		ndctl_region_foreach (bus, region) {
			if (strcmp(ndctl_region_get_devname(region), name) == 0)
				return region;
		}
	}
	return NULL;
}

/* ndctl's choice: the region's namespace 0 when it is idle, else the seed. */
static struct ndctl_namespace *idle_namespace(struct ndctl_region *region)
{
	struct ndctl_namespace *ndns;

	ndctl_namespace_foreach (region, ndns) {
		if (ndctl_namespace_get_id(ndns) == 0 &&
		    ndctl_namespace_is_configuration_idle(ndns))
			return ndns;
	}
	ndns = ndctl_region_get_namespace_seed(region);
	return ndns && ndctl_namespace_is_configuration_idle(ndns) ? ndns : NULL;
}

/*
 * A label-less region (nstype "io": the firmware's DIMMs carry no
 * namespace labels yet, as on a fresh emulated node) has no free capacity
 * and one raw namespace spanning it. Like ndctl's autolabel, write an empty
 * label index on its DIMMs so the region becomes a labelled one whose whole
 * size is available. Only called once the raw namespace is known to hold
 * nothing (see reclaim_io_namespace). -ENODEV when the DIMMs cannot store
 * labels, which leaves the region as it was.
 */
static int enable_labels(struct ndctl_region *region, char *err, size_t err_len)
{
	const char *name = ndctl_region_get_devname(region);
	unsigned mappings = ndctl_region_get_mappings(region), count = 0;
	enum ndctl_namespace_version v = NDCTL_NS_VERSION_1_2;
	struct ndctl_dimm *dimm;

	ndctl_dimm_foreach_in_region(region, dimm)
	{
		if (ndctl_dimm_is_cmd_supported(dimm, ND_CMD_GET_CONFIG_SIZE) &&
		    ndctl_dimm_is_cmd_supported(dimm, ND_CMD_GET_CONFIG_DATA) &&
		    ndctl_dimm_is_cmd_supported(dimm, ND_CMD_SET_CONFIG_DATA))
			count++;
	}
	if (mappings == 0 || count != mappings)
		return -ENODEV;

	ndctl_region_disable_invalidate(region);
	count = 0;
	ndctl_dimm_foreach_in_region(region, dimm)
	{
		if (ndctl_dimm_is_active(dimm))
			count++;
	}
	if (count) {
		ndctl_region_enable(region);
		return topology_kernel_errf(err, err_len, -EBUSY,
					    "%s: its DIMMs are in use by another region; "
					    "cannot initialise namespace labels",
					    name);
	}
retry:
	ndctl_dimm_foreach_in_region(region, dimm)
	{
		struct ndctl_cmd *cmd = ndctl_dimm_read_label_index(dimm);
		int labels;

		if (!cmd)
			continue;
		labels = ndctl_dimm_init_labels(dimm, v);
		ndctl_cmd_unref(cmd);
		if (labels < 0)
			continue;
		ndctl_dimm_disable(dimm);
		ndctl_dimm_enable(dimm);
		/* A kernel that does not understand v1.2 labels sees fewer free slots. */
		if (v == NDCTL_NS_VERSION_1_2 &&
		    (unsigned long)labels != ndctl_dimm_get_available_labels(dimm) + 1) {
			v = NDCTL_NS_VERSION_1_1;
			goto retry;
		}
	}
	ndctl_region_enable(region);
	if (ndctl_region_get_nstype(region) != ND_DEVICE_NAMESPACE_PMEM)
		return topology_kernel_errf(err, err_len, -EIO,
					    "%s: failed to initialise namespace labels", name);
	log_debug("topology_labels_initialised", "region=%s", name);
	return 0;
}

/*
 * On a label-less region the only namespace is the raw one that spans it.
 * It may be reconfigured only when it is unused and holds no recognisable
 * data: this is where a careless create would format over a filesystem.
 */
static int check_io_namespace(struct ndctl_namespace *ndns, char *err, size_t err_len)
{
	const char *name = ndctl_namespace_get_devname(ndns);
	const char *blk = ndctl_namespace_get_block_device(ndns);
	char fstype[32], uuid[64], why[256];
	int rc;

	if (ndctl_namespace_get_mode(ndns) != NDCTL_NS_MODE_RAW || ndctl_namespace_get_pfn(ndns) ||
	    ndctl_namespace_get_dax(ndns) || ndctl_namespace_get_btt(ndns))
		return topology_kernel_errf(
			err, err_len, -EEXIST,
			"%s: the region's namespace %s is already configured "
			"(mode %s)",
			ndctl_region_get_devname(ndctl_namespace_get_region(ndns)), name,
			topology_ns_mode_name(ns_mode(ndctl_namespace_get_mode(ndns))));
	if (blk && blk[0] && ndctl_namespace_is_enabled(ndns)) {
		rc = topology_fs_probe(blk, fstype, sizeof(fstype), uuid, sizeof(uuid), why,
				       sizeof(why));
		if (rc)
			return topology_kernel_errf(err, err_len, rc,
						    "%s: cannot check /dev/%s for data: %s", name,
						    blk, why);
		if (fstype[0])
			return topology_kernel_errf(
				err, err_len, -EEXIST,
				"%s: /dev/%s holds %s data; not reconfiguring it", name, blk,
				fstype);
	}
	return 0;
}

struct ns_params {
	enum topology_ns_mode mode;
	uint64_t size;
	unsigned long align;
	bool labelled; /* a labelled namespace: uuid and size are ours to set */
};

static bool align_supported(struct ndctl_region *region, const struct ns_params *p)
{
	struct ndctl_pfn *pfn = ndctl_region_get_pfn_seed(region);
	struct ndctl_dax *dax = ndctl_region_get_dax_seed(region);
	int n;

	if (p->mode == TOPO_NS_FSDAX) {
		if (!pfn)
			return false;
		if (!ndctl_pfn_has_align(pfn))
			return p->align == (2UL << 20); /* what such old kernels assume */
		n = ndctl_pfn_get_num_alignments(pfn);
		for (int i = 0; i < n; i++)
			if (ndctl_pfn_get_supported_alignment(pfn, i) == p->align)
				return true;
		return false;
	}
	if (!dax)
		return false;
	n = ndctl_dax_get_num_alignments(dax);
	for (int i = 0; i < n; i++)
		if (ndctl_dax_get_supported_alignment(dax, i) == p->align)
			return true;
	return false;
}

/*
 * ndctl's validate_namespace_options(), for the two modes pmemd creates.
 * `avail` is the capacity the namespace may take: the largest free extent
 * of a labelled region, the whole of a label-less one.
 */
static int validate(struct ndctl_region *region, const struct ns_params *p,
		    unsigned long long avail, char *err, size_t err_len)
{
	const char *name = ndctl_region_get_devname(region);
	unsigned long region_align = ndctl_region_get_align(region);
	unsigned ways = ndctl_region_get_interleave_ways(region);

	if (!ndctl_region_is_enabled(region))
		return topology_kernel_errf(err, err_len, -ENXIO, "%s is disabled", name);
	if (ndctl_region_get_ro(region) == 1)
		return topology_kernel_errf(err, err_len, -EROFS, "%s is read-only", name);
	if (ndctl_region_get_type(region) != ND_DEVICE_REGION_PMEM)
		return topology_kernel_errf(err, err_len, -EINVAL,
					    "%s is a %s region; fsdax and devdax need pmem", name,
					    ndctl_region_get_type_name(region));
	if (p->mode == TOPO_NS_FSDAX && !ndctl_region_get_pfn_seed(region))
		return topology_kernel_errf(err, err_len, -ENODEV,
					    "%s: the kernel offers no fsdax (pfn) device", name);
	if (p->mode == TOPO_NS_DEVDAX && !ndctl_region_get_dax_seed(region))
		return topology_kernel_errf(err, err_len, -ENODEV,
					    "%s: the kernel offers no devdax device", name);
	if (!align_supported(region, p))
		return topology_kernel_errf(
			err, err_len, -EINVAL,
			"%s: failed to set alignment: %lu is not one the kernel "
			"supports for %s",
			name, p->align, topology_ns_mode_name(p->mode));
	if (p->size > avail)
		return topology_kernel_errf(err, err_len, -ENOSPC,
					    "%s: %" PRIu64 " bytes do not fit; the largest free "
					    "extent is %llu bytes",
					    name, p->size, avail);
	if (p->size < SZ_16M)
		return topology_kernel_errf(err, err_len, -EINVAL,
					    "%s: %" PRIu64 " bytes is below the kernel's 16 MiB "
					    "minimum for %s",
					    name, p->size, topology_ns_mode_name(p->mode));
	if (region_align != ULONG_MAX && region_align && p->size % region_align)
		return topology_kernel_errf(err, err_len, -EINVAL,
					    "%s: size %" PRIu64 " is not a multiple of the region "
					    "alignment %lu",
					    name, p->size, region_align);
	if (ways && p->size % ((uint64_t)p->align * ways))
		return topology_kernel_errf(err, err_len, -EINVAL,
					    "%s: size %" PRIu64 " is not a multiple of alignment "
					    "%lu times %u interleave ways",
					    name, p->size, p->align, ways);
	return 0;
}

/* Puts a namespace we configured back to an idle, empty seed (ndctl's autorecover). */
static void rollback(struct ndctl_namespace *ndns, bool labelled, bool was_enabled)
{
	struct ndctl_pfn *pfn;
	struct ndctl_dax *dax;

	ndctl_namespace_disable(ndns);
	pfn = ndctl_namespace_get_pfn(ndns);
	dax = ndctl_namespace_get_dax(ndns);
	if (pfn)
		ndctl_pfn_set_namespace(pfn, NULL);
	if (dax)
		ndctl_dax_set_namespace(dax, NULL);
	ndctl_namespace_set_enforce_mode(ndns, NDCTL_NS_MODE_RAW);
	if (labelled)
		ndctl_namespace_delete(ndns); /* frees the capacity: size 0, no uuid */
	else if (was_enabled)
		ndctl_namespace_enable(ndns); /* the raw namespace as it was */
}

/* Claims `ndns` with the region's pfn (fsdax) or dax (devdax) seed and enables it. */
static int claim(struct ndctl_region *region, struct ndctl_namespace *ndns,
		 const struct ns_params *p, char *err, size_t err_len)
{
	const char *name = ndctl_namespace_get_devname(ndns);
	unsigned long long res = ndctl_namespace_get_resource(ndns);
	uuid_t uu;
	int rc;

	/* The kernel maps DAX in 16M sections; ndctl refuses misaligned starts too. */
	if (res != ULLONG_MAX && res % SZ_16M)
		return topology_kernel_errf(err, err_len, -EINVAL,
					    "%s starts at %#llx, not 16M-aligned; fix the region "
					    "alignment",
					    name, res);
	rc = uuid_random(uu);
	if (rc)
		return topology_kernel_errf(err, err_len, rc, "cannot generate a uuid: %s",
					    strerror(-rc));
	if (p->mode == TOPO_NS_FSDAX) {
		struct ndctl_pfn *pfn = ndctl_region_get_pfn_seed(region);

		if (!pfn)
			return topology_kernel_errf(err, err_len, -ENXIO, "%s: no pfn seed", name);
		if ((rc = ndctl_pfn_set_uuid(pfn, uu)) ||
		    (rc = ndctl_pfn_set_location(pfn, NDCTL_PFN_LOC_PMEM)))
			return topology_kernel_errf(err, err_len, rc, "%s: setting up %s: %s", name,
						    ndctl_pfn_get_devname(pfn), strerror(-rc));
		if (ndctl_pfn_has_align(pfn) && (rc = ndctl_pfn_set_align(pfn, p->align)))
			return topology_kernel_errf(err, err_len, rc,
						    "%s: failed to set alignment %lu: %s", name,
						    p->align, strerror(-rc));
		if ((rc = ndctl_pfn_set_namespace(pfn, ndns)))
			return topology_kernel_errf(err, err_len, rc, "%s: attaching %s: %s", name,
						    ndctl_pfn_get_devname(pfn), strerror(-rc));
		if ((rc = ndctl_pfn_enable(pfn)))
			return topology_kernel_errf(err, err_len, rc,
						    "%s: enabling fsdax (%s) failed: %s", name,
						    ndctl_pfn_get_devname(pfn), strerror(-rc));
	} else {
		struct ndctl_dax *dax = ndctl_region_get_dax_seed(region);

		if (!dax)
			return topology_kernel_errf(err, err_len, -ENXIO, "%s: no dax seed", name);
		if ((rc = ndctl_dax_set_uuid(dax, uu)) ||
		    (rc = ndctl_dax_set_location(dax, NDCTL_PFN_LOC_PMEM)))
			return topology_kernel_errf(err, err_len, rc, "%s: setting up %s: %s", name,
						    ndctl_dax_get_devname(dax), strerror(-rc));
		if ((rc = ndctl_dax_set_align(dax, p->align)))
			return topology_kernel_errf(err, err_len, rc,
						    "%s: failed to set alignment %lu: %s", name,
						    p->align, strerror(-rc));
		if ((rc = ndctl_dax_set_namespace(dax, ndns)))
			return topology_kernel_errf(err, err_len, rc, "%s: attaching %s: %s", name,
						    ndctl_dax_get_devname(dax), strerror(-rc));
		if ((rc = ndctl_dax_enable(dax)))
			return topology_kernel_errf(err, err_len, rc,
						    "%s: enabling devdax (%s) failed: %s", name,
						    ndctl_dax_get_devname(dax), strerror(-rc));
	}
	return 0;
}

/* The labelled namespace's own attributes: uuid, size, sector size, mode. */
static int setup_labelled(struct ndctl_namespace *ndns, const struct ns_params *p, char *err,
			  size_t err_len)
{
	const char *name = ndctl_namespace_get_devname(ndns);
	uuid_t uu;
	int rc, n;

	rc = uuid_random(uu);
	if (rc)
		return topology_kernel_errf(err, err_len, rc, "cannot generate a uuid: %s",
					    strerror(-rc));
	if ((rc = ndctl_namespace_set_uuid(ndns, uu)))
		return topology_kernel_errf(err, err_len, rc, "%s: set uuid: %s", name,
					    strerror(-rc));
	if ((rc = ndctl_namespace_set_size(ndns, p->size)))
		return topology_kernel_errf(err, err_len, rc, "%s: set size %" PRIu64 ": %s", name,
					    p->size, strerror(-rc));
	/* 512-byte sectors, ndctl's default, when the namespace lets us choose. */
	n = ndctl_namespace_get_num_sector_sizes(ndns);
	for (int i = 0; i < n; i++) {
		if (ndctl_namespace_get_supported_sector_size(ndns, i) != 512)
			continue;
		if ((rc = ndctl_namespace_set_sector_size(ndns, 512)))
			return topology_kernel_errf(err, err_len, rc, "%s: set sector size: %s",
						    name, strerror(-rc));
		break;
	}
	return 0;
}

int topology_ndctl_create_namespace(const char *region_name, enum topology_ns_mode mode,
				    uint64_t size, uint64_t align, char *dev, size_t dev_len,
				    char *err, size_t err_len)
{
	struct ndctl_ctx *ctx;
	struct ndctl_region *region;
	struct ndctl_namespace *ndns = NULL;
	struct ns_params p = {.mode = mode, .size = size, .align = (unsigned long)align};
	unsigned long long avail;
	bool was_enabled = false, touched = false;
	int rc;

	if (mode != TOPO_NS_FSDAX && mode != TOPO_NS_DEVDAX)
		return topology_kernel_errf(err, err_len, -EINVAL,
					    "pmemd creates fsdax or devdax namespaces, not %s",
					    topology_ns_mode_name(mode));
	if (align == 0 || align > ULONG_MAX)
		return topology_kernel_errf(err, err_len, -EINVAL,
					    "alignment %" PRIu64 " is not valid", align);
	rc = open_ndctl(&ctx, err, err_len);
	if (rc)
		return rc;
	region = find_region(ctx, region_name);
	if (!region) {
		rc = topology_kernel_errf(err, err_len, -ENOENT, "%s not found on this node",
					  region_name);
		goto out;
	}

	if (ndctl_region_get_nstype(region) == ND_DEVICE_NAMESPACE_IO) {
		/*
		 * Label-less: everything is checked before the first change, as
		 * if the whole region were free, which it is once its unused raw
		 * namespace is reclaimed.
		 */
		ndns = ndctl_namespace_get_first(region);
		if (!ndns) {
			rc = topology_kernel_errf(err, err_len, -ENXIO,
						  "%s is label-less and has no namespace",
						  region_name);
			goto out;
		}
		rc = validate(region, &p, ndctl_region_get_size(region), err, err_len);
		if (!rc)
			rc = check_io_namespace(ndns, err, err_len);
		if (rc)
			goto out;
		was_enabled = ndctl_namespace_is_enabled(ndns) == 1;
		rc = ndctl_namespace_disable_safe(ndns);
		if (rc < 0) {
			rc = topology_kernel_errf(err, err_len, rc,
						  "%s: cannot disable it (mounted or open?): %s",
						  ndctl_namespace_get_devname(ndns), strerror(-rc));
			goto out;
		}
		touched = true;
		rc = enable_labels(region, err, err_len);
		if (rc == 0) {
			/* Now a labelled region; the old namespace object is gone. */
			touched = false;
			ndns = NULL;
		} else if (rc != -ENODEV) {
			goto fail;
		} else if (size != ndctl_region_get_size(region)) {
			/* DIMMs without label storage: the namespace is the region. */
			rc = topology_kernel_errf(err, err_len, -EINVAL,
						  "%s is label-less and its DIMMs cannot store "
						  "labels: a namespace must span the whole region "
						  "(%llu bytes), not %" PRIu64,
						  region_name, ndctl_region_get_size(region), size);
			goto fail;
		}
	}
	if (!ndns) {
		p.labelled = true;
		avail = ndctl_region_get_max_available_extent(region);
		if (avail == ULLONG_MAX)
			avail = ndctl_region_get_available_size(region);
		rc = validate(region, &p, avail, err, err_len);
		if (rc)
			goto out;
		ndns = idle_namespace(region);
		if (!ndns) {
			rc = topology_kernel_errf(err, err_len, -EAGAIN,
						  "%s has no idle namespace seed", region_name);
			goto out;
		}
		touched = true;
		rc = setup_labelled(ndns, &p, err, err_len);
		if (rc)
			goto fail;
	}
	ndctl_namespace_set_enforce_mode(ndns, mode == TOPO_NS_FSDAX ? NDCTL_NS_MODE_FSDAX
								     : NDCTL_NS_MODE_DEVDAX);
	rc = claim(region, ndns, &p, err, err_len);
	if (rc)
		goto fail;
	copy_str(dev, dev_len, ndctl_namespace_get_devname(ndns));
	log_debug("topology_namespace_created",
		  "region=%s namespace=%s mode=%s size=%" PRIu64 " align=%" PRIu64, region_name,
		  dev, topology_ns_mode_name(mode), size, align);
	goto out;
fail:
	if (touched)
		rollback(ndns, p.labelled, was_enabled);
out:
	ndctl_unref(ctx);
	return rc;
}

/* ---- devdax → system RAM, as `daxctl reconfigure-device --mode=system-ram` ---- */

static struct daxctl_dev *find_dax(struct daxctl_ctx *ctx, const char *name)
{
	struct daxctl_region *dr;
	struct daxctl_dev *dev;

	daxctl_region_foreach (ctx, dr) {
		daxctl_dev_foreach (dr, dev) {
			if (strcmp(daxctl_dev_get_devname(dev), name) == 0)
				return dev;
		}
	}
	return NULL;
}

/* Onlines every block of the device's memory as ZONE_MOVABLE, so it can be taken back. */
static int online_movable(struct daxctl_dev *dev, struct daxctl_memory *mem, char *err,
			  size_t err_len)
{
	const char *name = daxctl_dev_get_devname(dev);
	int rc = daxctl_memory_online(mem);

	if (rc < 0)
		return topology_kernel_errf(err, err_len, rc, "%s: onlining its memory failed: %s",
					    name, strerror(-rc));
	if (daxctl_memory_is_online(mem) <= 0)
		return topology_kernel_errf(err, err_len, -EIO, "%s: its memory is not online",
					    name);
	if (daxctl_memory_is_movable(mem) != 1)
		/*
		 * The kernel onlined it itself before we could (auto_online_blocks
		 * is "online" or memhp_default_state=online), as normal memory.
		 */
		return topology_kernel_errf(err, err_len, -EINVAL,
					    "%s: the kernel onlined its memory as non-movable "
					    "(auto_online_blocks); it cannot be taken back",
					    name);
	return 0;
}

int topology_daxctl_to_ram(const char *daxdev, char *err, size_t err_len)
{
	struct daxctl_ctx *ctx;
	struct daxctl_dev *dev;
	struct daxctl_memory *mem;
	int rc = open_daxctl(&ctx, err, err_len);

	if (rc)
		return rc;
	dev = find_dax(ctx, daxdev);
	if (!dev) {
		rc = topology_kernel_errf(err, err_len, -ENOENT, "%s not found", daxdev);
		goto out;
	}
	/* Already system RAM: only make sure it is all online (idempotent). */
	mem = daxctl_dev_get_memory(dev);
	if (mem) {
		rc = online_movable(dev, mem, err, err_len);
		goto out;
	}
	if (daxctl_dev_is_enabled(dev)) {
		rc = daxctl_dev_disable(dev);
		if (rc) {
			rc = topology_kernel_errf(err, err_len, rc,
						  "%s: cannot disable (is it mapped?): %s", daxdev,
						  strerror(-rc));
			goto out;
		}
	}
	rc = daxctl_dev_enable_ram(dev);
	if (rc) {
		topology_kernel_errf(err, err_len, rc,
				     "%s: binding to the kmem driver failed: %s (is kmem built "
				     "or loadable, and memory hotplug enabled?)",
				     daxdev, strerror(-rc));
		daxctl_dev_enable_devdax(dev); /* back to what it was */
		goto out;
	}
	mem = daxctl_dev_get_memory(dev);
	if (!mem) {
		rc = topology_kernel_errf(err, err_len, -ENXIO,
					  "%s: bound to kmem but exposes no memory blocks", daxdev);
		goto out;
	}
	rc = online_movable(dev, mem, err, err_len);
	if (rc == 0)
		log_debug("topology_dax_to_ram", "dev=%s size=%llu target_node=%d", daxdev,
			  daxctl_dev_get_size(dev), daxctl_dev_get_target_node(dev));
out:
	daxctl_unref(ctx);
	return rc;
}
