/* test-pool: the pool reconciler's decisions (pure) and the manager over an in-memory fake kernel.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api.h"
#include "config/config.h"
#include "topology/topology.h"

#include "support.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

/* ======================= the pure decision ======================= */

static struct topology_region region(const char *dev, uint64_t avail)
{
	struct topology_region r = {0};

	snprintf(r.dev, sizeof(r.dev), "%s", dev);
	snprintf(r.type, sizeof(r.type), "pmem");
	r.size = 2 * GiB;
	r.available_size = avail;
	r.max_available_extent = avail;
	r.align = 16 * MiB;
	r.interleave_ways = 1;
	return r;
}

static struct topology_namespace ns_fsdax(const char *dev, const char *blk)
{
	struct topology_namespace n = {0};

	snprintf(n.dev, sizeof(n.dev), "%s", dev);
	snprintf(n.region, sizeof(n.region), "region0");
	snprintf(n.blockdev, sizeof(n.blockdev), "%s", blk);
	n.mode = TOPO_NS_FSDAX;
	n.size = 2 * GiB - 32 * MiB;
	n.enabled = true;
	return n;
}

static const struct pool_want want_ext4 = {.path = "/mnt/pmem0",
					   .region = "region0",
					   .type = CONFIG_POOL_PMEM,
					   .fstype = CONFIG_FS_EXT4,
					   .options = "shared",
					   .reformat = false};

static struct pool_action next(const struct pool_want *w, const struct pool_observed *o)
{
	struct pool_action a;

	topology_pool_next(w, o, &a);
	return a;
}

static void test_namespace_size(void **state)
{
	struct topology_region r = region("region0", 2 * GiB + 128 * 1024);
	uint64_t align;
	(void)state;

	/* The emulated node's case: 2 GiB + label space, 16 MiB region align. */
	assert_int_equal(topology_namespace_size(&r, false, &align), 2 * GiB);
	assert_int_equal(align, 16 * MiB);
	/* Interleaved over 4 DIMMs: 2 MiB per DIMM → 8 MiB, lcm with 16 MiB. */
	r.interleave_ways = 4;
	r.available_size = r.max_available_extent = 100 * MiB;
	assert_int_equal(topology_namespace_size(&r, false, &align), 96 * MiB);
	assert_int_equal(align, 16 * MiB);
	/* Interleave of 3 with a 16 MiB region: lcm(6 MiB, 16 MiB) = 48 MiB. */
	r.interleave_ways = 3;
	assert_int_equal(topology_namespace_size(&r, false, &align), 96 * MiB);
	assert_int_equal(align, 48 * MiB);
	/* No region align reported: the namespace align alone. */
	r.interleave_ways = 1;
	r.align = 0;
	r.available_size = r.max_available_extent = 5 * MiB;
	assert_int_equal(topology_namespace_size(&r, false, &align), 4 * MiB);
	assert_int_equal(align, 2 * MiB);
	/* The largest extent, not the sum of the free space, bounds the namespace. */
	r.available_size = 100 * MiB;
	r.max_available_extent = 10 * MiB;
	assert_int_equal(topology_namespace_size(&r, false, &align), 10 * MiB);
	/* Less than one alignment unit free: nothing fits. */
	r.align = 16 * MiB;
	r.max_available_extent = 15 * MiB;
	assert_int_equal(topology_namespace_size(&r, false, &align), 0);
	/* Label-less: nothing free, the whole region is the extent. */
	r.available_size = r.max_available_extent = 0;
	r.size = 2 * GiB + 8 * MiB;
	assert_int_equal(topology_namespace_size(&r, true, &align), 2 * GiB);
}

static void test_decisions_region(void **state)
{
	struct topology_region r = region("region0", 2 * GiB + 128 * 1024);
	struct pool_observed o = {.regions_here = "region1, region2"};
	struct pool_action a;
	(void)state;

	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_string_equal(a.reason,
			    "region0 not found on this node; regions here: region1, region2");
	o.regions_here = "";
	a = next(&want_ext4, &o);
	assert_non_null(strstr(a.reason, "regions here: none"));

	o.region = &r;
	snprintf(r.type, sizeof(r.type), "blk");
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "blk region"));
	snprintf(r.type, sizeof(r.type), "pmem");

	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_CREATE_NAMESPACE);
	assert_int_equal(a.mode, TOPO_NS_FSDAX);
	assert_int_equal(a.size, 2 * GiB);
	assert_int_equal(a.align, 2 * MiB); /* the mapping alignment; the size unit is 16 MiB */

	r.readonly = true;
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "read-only"));
	r.readonly = false;

	r.available_size = r.max_available_extent = 1 * MiB;
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "no free extent"));

	/* Fresh NVDIMMs: a raw namespace without uuid spans the label-less region. */
	struct topology_namespace raw = {.dev = "namespace0.0",
					 .region = "region0",
					 .mode = TOPO_NS_RAW,
					 .size = 2 * GiB,
					 .enabled = true};
	const struct topology_namespace *rawp[] = {&raw};
	struct pool_observed fresh = {.region = &r, .ns = rawp, .n_ns = 1};
	r.available_size = r.max_available_extent = 0;
	a = next(&want_ext4, &fresh);
	assert_int_equal(a.kind, POOL_ACT_CREATE_NAMESPACE);
	assert_int_equal(a.size, 2 * GiB);
	/* ... but a raw namespace someone labelled is theirs. */
	snprintf(raw.uuid, sizeof(raw.uuid), "6e5e1a4c-0000-4000-8000-000000000000");
	a = next(&want_ext4, &fresh);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "raw mode"));

	/* kmem wants devdax. */
	r.available_size = r.max_available_extent = 2 * GiB;
	struct pool_want k = {.path = "/k", .region = "region0", .type = CONFIG_POOL_KMEM};
	a = next(&k, &o);
	assert_int_equal(a.kind, POOL_ACT_CREATE_NAMESPACE);
	assert_int_equal(a.mode, TOPO_NS_DEVDAX);
}

static void test_decisions_namespace(void **state)
{
	struct topology_region r = region("region0", 0);
	struct topology_namespace n1 = ns_fsdax("namespace0.0", "pmem0"),
				  n2 = ns_fsdax("namespace0.1", "pmem0.1");
	const struct topology_namespace *two[] = {&n1, &n2}, *one[] = {&n1};
	struct pool_observed o = {.region = &r, .ns = two, .n_ns = 2};
	struct pool_action a;
	(void)state;

	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "2 namespaces"));

	o.ns = one;
	o.n_ns = 1;
	n1.enabled = false;
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "disabled"));
	n1.enabled = true;

	/* Another mode is never converted, reformat or not. */
	n1.mode = TOPO_NS_SECTOR;
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "sector mode"));
	struct pool_want rf = want_ext4;
	rf.reformat = true;
	a = next(&rf, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	n1.mode = TOPO_NS_FSDAX;

	n1.blockdev[0] = '\0';
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "no block device"));
	snprintf(n1.blockdev, sizeof(n1.blockdev), "pmem0");

	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_PROBE_FS);
	assert_string_equal(a.blockdev, "pmem0");
}

static void test_decisions_filesystem(void **state)
{
	struct topology_region r = region("region0", 0);
	struct topology_namespace n1 = ns_fsdax("namespace0.0", "pmem0");
	const struct topology_namespace *one[] = {&n1};
	struct pool_observed o = {.region = &r, .ns = one, .n_ns = 1, .fs_probed = true};
	struct pool_want rf = want_ext4;
	struct pool_action a;
	(void)state;

	/* Blank device: make the filesystem. */
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_MKFS);
	assert_string_equal(a.blockdev, "pmem0");

	/* Someone else's filesystem: an error, not a reformat. */
	snprintf(o.fstype, sizeof(o.fstype), "xfs");
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "/dev/pmem0 holds xfs, the pool wants ext4"));
	assert_non_null(strstr(a.reason, "reformat: true"));
	/* ... and ext4/xfs may hold volumes of an earlier pool: not even with reformat. */
	rf.reformat = true;
	a = next(&rf, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "may hold volumes"));
	/* Something that cannot hold volumes is replaced when the pool allows it. */
	snprintf(o.fstype, sizeof(o.fstype), "vfat");
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	a = next(&rf, &o);
	assert_int_equal(a.kind, POOL_ACT_MKFS);

	/* The right filesystem: directory, then mount with dax,prjquota and the pool's options. */
	snprintf(o.fstype, sizeof(o.fstype), "ext4");
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_MKDIR);
	o.dir_ready = true;
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_MOUNT);
	assert_string_equal(a.options, "dax,prjquota,shared");
	struct pool_want plain = want_ext4;
	plain.options = NULL;
	a = next(&plain, &o);
	assert_string_equal(a.options, "dax,prjquota");
}

static void test_decisions_mount(void **state)
{
	struct topology_region r = region("region0", 0);
	struct topology_namespace n1 = ns_fsdax("namespace0.0", "pmem0");
	const struct topology_namespace *one[] = {&n1};
	struct pool_observed o = {.region = &r, .ns = one, .n_ns = 1, .mounted = true};
	struct pool_action a;
	(void)state;

	snprintf(o.mount.source, sizeof(o.mount.source), "/dev/sda1");
	snprintf(o.mount.fstype, sizeof(o.mount.fstype), "ext4");
	o.mount.dax = o.mount.prjquota = true;
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "already a mount point of /dev/sda1, not of /dev/pmem0"));

	snprintf(o.mount.source, sizeof(o.mount.source), "/dev/pmem0");
	snprintf(o.mount.fstype, sizeof(o.mount.fstype), "xfs");
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "mounted as xfs, the pool wants ext4"));

	snprintf(o.mount.fstype, sizeof(o.mount.fstype), "ext4");
	o.mount.dax = false;
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "without dax"));
	o.mount.dax = true;
	o.mount.prjquota = false;
	a = next(&want_ext4, &o);
	assert_non_null(strstr(a.reason, "without prjquota"));
	o.mount.prjquota = true;

	/* Already right (a restart adopts it): nothing to do, and no probe needed. */
	a = next(&want_ext4, &o);
	assert_int_equal(a.kind, POOL_ACT_NONE);
}

static void test_decisions_kmem(void **state)
{
	struct topology_region r = region("region0", 0);
	struct topology_namespace n1 = ns_fsdax("namespace0.0", "pmem0");
	const struct topology_namespace *one[] = {&n1};
	struct topology_dax d = {.dev = "dax0.0", .mode = "devdax", .target_node = 2};
	struct pool_observed o = {.region = &r, .ns = one, .n_ns = 1};
	struct pool_want k = {.path = "/k", .region = "region0", .type = CONFIG_POOL_KMEM};
	struct pool_action a;
	(void)state;

	a = next(&k, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "fsdax mode; a kmem pool needs devdax"));
	n1.mode = TOPO_NS_DEVDAX;
	a = next(&k, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "no dax device"));
	o.dax = &d;
	a = next(&k, &o);
	assert_int_equal(a.kind, POOL_ACT_DAX_TO_RAM);
	assert_string_equal(a.daxdev, "dax0.0");
	snprintf(d.mode, sizeof(d.mode), "system-ram");
	a = next(&k, &o);
	assert_int_equal(a.kind, POOL_ACT_ERROR);
	assert_non_null(strstr(a.reason, "not movable"));
	d.movable = true;
	a = next(&k, &o);
	assert_int_equal(a.kind, POOL_ACT_NONE);
}

/* ======================= the fake kernel ======================= */

struct fake_fs {
	char blockdev[TOPO_NAME_MAX];
	char fstype[16];
	char uuid[40];
};

struct fake_mount {
	char path[256];
	char blockdev[TOPO_NAME_MAX];
	char fstype[16];
	bool dax, prjquota;
};

static struct fake {
	struct topology_region regions[4];
	size_t n_regions;
	struct topology_namespace ns[8];
	size_t n_ns;
	struct fake_fs fs[8];
	size_t n_fs;
	struct fake_mount mounts[8];
	size_t n_mounts;
	char calls[4096];
	int fail_mkfs; /* -errno to return from mkfs, 0 = succeed */
	int n_uuid;
} F;

static void fake_reset(void)
{
	memset(&F, 0, sizeof(F));
	F.regions[0] = region("region0", 2 * GiB + 128 * 1024);
	F.regions[0].numa_node = 0;
	F.regions[0].target_node = 0;
	F.regions[1] = region("region1", 2 * GiB + 128 * 1024);
	F.regions[1].numa_node = 1;
	F.regions[1].target_node = 1;
	F.n_regions = 2;
}

static void called(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(F.calls);

	va_start(ap, fmt);
	vsnprintf(F.calls + n, sizeof(F.calls) - n, fmt, ap);
	va_end(ap);
	n = strlen(F.calls);
	snprintf(F.calls + n, sizeof(F.calls) - n, ";");
}

static int count_calls(const char *prefix)
{
	int n = 0;
	for (const char *p = F.calls; (p = strstr(p, prefix)); p++)
		n++;
	return n;
}

static int fake_discover(struct topology_snapshot **out, char *err, size_t len)
{
	struct topology_snapshot *s = calloc(1, sizeof(*s));
	(void)err, (void)len;

	s->regions = calloc(F.n_regions, sizeof(*s->regions));
	memcpy(s->regions, F.regions, F.n_regions * sizeof(*s->regions));
	s->n_regions = F.n_regions;
	s->namespaces = calloc(F.n_ns + 1, sizeof(*s->namespaces));
	memcpy(s->namespaces, F.ns, F.n_ns * sizeof(*s->namespaces));
	s->n_namespaces = F.n_ns;
	s->n_numa = 2;
	s->numa = calloc(2, sizeof(*s->numa));
	for (int i = 0; i < 2; i++) {
		s->numa[i].id = i;
		s->numa[i].cpus = calloc(1, sizeof(unsigned));
		s->numa[i].cpus[0] = (unsigned)i;
		s->numa[i].n_cpus = 1;
		s->numa[i].mem_total = GiB;
		s->numa[i].mem_free = GiB / 2;
	}
	s->distance = calloc(4, sizeof(unsigned));
	s->distance[0] = s->distance[3] = 10;
	s->distance[1] = s->distance[2] = 21;
	called("discover");
	*out = s;
	return 0;
}

static int fake_create_namespace(const char *region_dev, enum topology_ns_mode mode, uint64_t size,
				 uint64_t align, char *dev, size_t dev_len, char *err, size_t len)
{
	struct topology_region *r = NULL;
	(void)err, (void)len;

	for (size_t i = 0; i < F.n_regions; i++)
		if (strcmp(F.regions[i].dev, region_dev) == 0)
			r = &F.regions[i];
	assert_non_null(r);
	assert_true(size <= r->available_size);
	assert_int_equal(size % align, 0);
	struct topology_namespace *n = &F.ns[F.n_ns++];
	memset(n, 0, sizeof(*n));
	snprintf(n->dev, sizeof(n->dev), "namespace%c.0", region_dev[6]);
	snprintf(n->region, sizeof(n->region), "%s", region_dev);
	snprintf(n->blockdev, sizeof(n->blockdev), "pmem%c", region_dev[6]);
	n->mode = mode;
	n->size = size - 32 * MiB;
	n->enabled = true;
	n->numa_node = r->numa_node;
	r->available_size -= size;
	r->max_available_extent -= size;
	snprintf(dev, dev_len, "%s", n->dev);
	called("create_namespace %s %llu", region_dev, (unsigned long long)size);
	return 0;
}

static struct fake_fs *fs_of(const char *blockdev)
{
	for (size_t i = 0; i < F.n_fs; i++)
		if (strcmp(F.fs[i].blockdev, blockdev) == 0)
			return &F.fs[i];
	return NULL;
}

static int fake_probe_fs(const char *blockdev, char *fstype, size_t fl, char *uuid, size_t ul,
			 char *err, size_t len)
{
	struct fake_fs *f = fs_of(blockdev);
	(void)err, (void)len;

	snprintf(fstype, fl, "%s", f ? f->fstype : "");
	snprintf(uuid, ul, "%s", f ? f->uuid : "");
	called("probe_fs %s", blockdev);
	return 0;
}

static int fake_mkfs(const char *blockdev, enum config_fstype t, char *err, size_t len)
{
	struct fake_fs *f = fs_of(blockdev);

	called("mkfs %s %s", blockdev, config_fstype_name(t));
	if (F.fail_mkfs) {
		snprintf(err, len, "mkfs.%s exited with status 1: no space", config_fstype_name(t));
		return F.fail_mkfs;
	}
	if (!f)
		f = &F.fs[F.n_fs++];
	snprintf(f->blockdev, sizeof(f->blockdev), "%s", blockdev);
	snprintf(f->fstype, sizeof(f->fstype), "%s", config_fstype_name(t));
	snprintf(f->uuid, sizeof(f->uuid), "uuid-%d", ++F.n_uuid);
	return 0;
}

static int fake_make_dir(const char *path, char *err, size_t len)
{
	(void)err, (void)len;
	called("make_dir %s", path);
	return 0;
}

static int fake_find_mount(const char *path, struct topology_mount *out, char *err, size_t len)
{
	(void)err, (void)len;
	for (size_t i = 0; i < F.n_mounts; i++) {
		if (strcmp(F.mounts[i].path, path) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		snprintf(out->source, sizeof(out->source), "/dev/%s", F.mounts[i].blockdev);
		snprintf(out->fstype, sizeof(out->fstype), "%s", F.mounts[i].fstype);
		out->dax = F.mounts[i].dax;
		out->prjquota = F.mounts[i].prjquota;
		return 0;
	}
	return -ENOENT;
}

static int fake_mount(const char *blockdev, const char *path, enum config_fstype t,
		      const char *options, char *err, size_t len)
{
	struct fake_mount *m = &F.mounts[F.n_mounts++];
	(void)err, (void)len;

	snprintf(m->path, sizeof(m->path), "%s", path);
	snprintf(m->blockdev, sizeof(m->blockdev), "%s", blockdev);
	snprintf(m->fstype, sizeof(m->fstype), "%s", config_fstype_name(t));
	m->dax = strstr(options, "dax") != NULL;
	m->prjquota = strstr(options, "prjquota") != NULL;
	called("mount %s %s %s", blockdev, path, options);
	return 0;
}

static int fake_fs_stat(const char *path, uint64_t *total, uint64_t *avail, uint64_t *inodes,
			uint64_t *ifree, char *err, size_t len)
{
	(void)path, (void)err, (void)len;
	*total = 1900 * MiB;
	*avail = 1800 * MiB;
	*inodes = 1000;
	*ifree = 990;
	return 0;
}

static int fake_dax_to_ram(const char *dax, char *err, size_t len)
{
	(void)err, (void)len;
	called("dax_to_ram %s", dax);
	return -ENOTSUP;
}

static int fake_has_volumes(const char *path, bool *has, char *err, size_t len)
{
	(void)path, (void)err, (void)len;
	*has = false;
	return 0;
}

static const struct topology_ops fake_ops = {
	.discover = fake_discover,
	.create_namespace = fake_create_namespace,
	.probe_fs = fake_probe_fs,
	.mkfs = fake_mkfs,
	.make_dir = fake_make_dir,
	.find_mount = fake_find_mount,
	.mount = fake_mount,
	.fs_stat = fake_fs_stat,
	.dax_to_ram = fake_dax_to_ram,
	.pool_has_volumes = fake_has_volumes,
};

static const char *two_pools = "node_name: n1\n"
			       "pools:\n"
			       "  - name: /mnt/pmem0\n"
			       "    regions: [region0]\n"
			       "    reserve: 100Mi\n"
			       "  - name: /mnt/pmem1\n"
			       "    regions: [region1]\n"
			       "    topology:\n"
			       "      fstype: xfs\n";

static struct topology_manager *manager_of(const char *yaml)
{
	struct topology_manager *m = NULL;
	struct config *cfg = cfg_of(yaml);
	struct topology_manager_opts o = {.ops = &fake_ops};
	char err[256];

	assert_int_equal(topology_manager_new(&m, cfg, &o, false, err, sizeof(err)), 0);
	config_free(cfg);
	return m;
}

static void test_fresh_node_becomes_ready(void **state)
{
	struct topology_manager *m;
	struct pool_status st;
	uint64_t gen;
	(void)state;

	fake_reset();
	m = manager_of(two_pools);
	assert_false(topology_manager_settled(m));
	assert_int_equal(topology_manager_reconcile(m, NULL), 0);
	assert_true(topology_manager_settled(m));
	assert_int_equal(count_calls("create_namespace"), 2);
	assert_int_equal(count_calls("mkfs pmem0 ext4"), 1);
	assert_int_equal(count_calls("mkfs pmem1 xfs"), 1);
	assert_int_equal(count_calls("make_dir"), 2);
	assert_int_equal(count_calls("mount pmem0 /mnt/pmem0 dax,prjquota"), 1);
	assert_int_equal(count_calls("mount pmem1 /mnt/pmem1 dax,prjquota"), 1);

	assert_int_equal(topology_manager_pool(m, "/mnt/pmem0", &st), 0);
	assert_int_equal(st.state, POOL_READY);
	assert_int_equal(st.numa_node, 0);
	assert_string_equal(st.device, "/dev/pmem0");
	assert_string_equal(st.fsuuid, "uuid-1");
	assert_int_equal(st.capacity_bytes, 1900 * MiB);
	assert_int_equal(st.allocatable_bytes, 1800 * MiB); /* minus the 100Mi reserve */
	assert_int_equal(st.used_bytes, 100 * MiB);
	assert_int_equal(topology_manager_pool_by_id(m, "mnt-pmem1", &st), 0);
	assert_int_equal(st.numa_node, 1);
	assert_int_equal(st.fstype, CONFIG_FS_XFS);
	gen = topology_manager_generation(m);
	assert_true(gen >= 1);

	/* A second pass (or a restart: the fake keeps its state) changes nothing. */
	F.calls[0] = '\0';
	assert_int_equal(topology_manager_reconcile(m, NULL), 0);
	assert_int_equal(count_calls("create_namespace"), 0);
	assert_int_equal(count_calls("mkfs"), 0);
	assert_int_equal(count_calls("mount"), 0);
	assert_int_equal(topology_manager_generation(m), gen);
	topology_manager_free(m);

	F.calls[0] = '\0';
	m = manager_of(two_pools);
	assert_int_equal(topology_manager_reconcile(m, NULL), 0);
	assert_int_equal(count_calls("create_namespace"), 0);
	assert_int_equal(count_calls("mkfs"), 0);
	assert_int_equal(count_calls("mount"), 0);
	assert_int_equal(topology_manager_pool(m, "/mnt/pmem0", &st), 0);
	assert_int_equal(st.state, POOL_READY);
	assert_string_equal(st.fsuuid, "uuid-1"); /* adopted, read back */
	topology_manager_free(m);
}

static void test_one_pool_failing_does_not_block_the_other(void **state)
{
	struct topology_manager *m;
	struct pool_status st;
	(void)state;

	fake_reset();
	m = manager_of("node_name: n1\npools:\n  - name: /mnt/a\n    regions: [region7]\n"
		       "  - name: /mnt/b\n    regions: [region1]\n");
	topology_manager_reconcile(m, NULL);
	assert_int_equal(topology_manager_pool(m, "/mnt/a", &st), 0);
	assert_int_equal(st.state, POOL_ERROR);
	assert_string_equal(st.reason,
			    "region7 not found on this node; regions here: region0, region1");
	assert_int_equal(topology_manager_pool(m, "/mnt/b", &st), 0);
	assert_int_equal(st.state, POOL_READY);
	topology_manager_free(m);
}

static void test_foreign_filesystem_is_left_alone(void **state)
{
	struct topology_manager *m;
	struct pool_status st;
	(void)state;

	fake_reset();
	/* region0 already has a namespace holding someone's xfs. */
	F.ns[0] = ns_fsdax("namespace0.0", "pmem0");
	F.n_ns = 1;
	F.regions[0].available_size = F.regions[0].max_available_extent = 0;
	snprintf(F.fs[0].blockdev, sizeof(F.fs[0].blockdev), "pmem0");
	snprintf(F.fs[0].fstype, sizeof(F.fs[0].fstype), "xfs");
	snprintf(F.fs[0].uuid, sizeof(F.fs[0].uuid), "theirs");
	F.n_fs = 1;
	m = manager_of(two_pools);
	topology_manager_reconcile(m, NULL);
	assert_int_equal(count_calls("mkfs pmem0"), 0);
	assert_int_equal(count_calls("mount pmem0"), 0);
	assert_string_equal(F.fs[0].uuid, "theirs");
	assert_int_equal(topology_manager_pool(m, "/mnt/pmem0", &st), 0);
	assert_int_equal(st.state, POOL_ERROR);
	assert_non_null(strstr(st.reason, "holds xfs, the pool wants ext4"));
	assert_int_equal(topology_manager_pool(m, "/mnt/pmem1", &st), 0);
	assert_int_equal(st.state, POOL_READY);
	topology_manager_free(m);
}

static void test_failed_step_then_recovery(void **state)
{
	struct topology_manager *m;
	struct pool_status st;
	(void)state;

	fake_reset();
	F.fail_mkfs = -EIO;
	m = manager_of(two_pools);
	topology_manager_reconcile(m, NULL);
	assert_int_equal(topology_manager_pool(m, "/mnt/pmem0", &st), 0);
	assert_int_equal(st.state, POOL_ERROR);
	assert_string_equal(st.reason, "mkfs failed: mkfs.ext4 exited with status 1: no space");
	F.fail_mkfs = 0;
	F.calls[0] = '\0';
	/* Only the named pool is reconciled on demand. */
	assert_int_equal(topology_manager_reconcile(m, "/mnt/pmem0"), 0);
	assert_int_equal(count_calls("mkfs pmem1"), 0);
	assert_int_equal(count_calls("mkfs pmem0"), 1);
	assert_int_equal(topology_manager_pool(m, "/mnt/pmem0", &st), 0);
	assert_int_equal(st.state, POOL_READY);
	assert_int_equal(topology_manager_reconcile(m, "/mnt/nope"), -ENOENT);
	topology_manager_free(m);
}

static void test_several_regions_become_sub_pools(void **state)
{
	struct topology_manager *m;
	struct pool_status *p;
	size_t n;
	(void)state;

	fake_reset();
	m = manager_of("node_name: n1\npools:\n  - name: /mnt/pmem\n    regions: [region0, "
		       "region1]\n");
	topology_manager_reconcile(m, NULL);
	assert_int_equal(topology_manager_pools(m, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(p[0].name, "/mnt/pmem/region0");
	assert_string_equal(p[0].id, "mnt-pmem-region0");
	assert_int_equal(p[0].numa_node, 0);
	assert_string_equal(p[1].name, "/mnt/pmem/region1");
	assert_int_equal(p[1].numa_node, 1);
	assert_int_equal(p[0].state, POOL_READY);
	assert_int_equal(p[1].state, POOL_READY);
	free(p);
	topology_manager_free(m);
}

static void test_selector_and_reload(void **state)
{
	struct topology_manager *m;
	struct config *cfg;
	struct pool_status *p;
	size_t n;
	(void)state;

	fake_reset();
	m = manager_of("node_name: n1\nlabels: {zone: a}\npools:\n"
		       "  - name: /mnt/a\n    key: zone\n    operator: In\n    value: a\n"
		       "    regions: [region0]\n"
		       "  - name: /mnt/b\n    key: zone\n    operator: In\n    value: b\n"
		       "    regions: [region1]\n");
	topology_manager_reconcile(m, NULL);
	assert_int_equal(topology_manager_pools(m, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].name, "/mnt/a");
	free(p);
	/* SIGHUP with the node now in zone b. */
	cfg = cfg_of("node_name: n1\nlabels: {zone: b}\npools:\n"
		     "  - name: /mnt/a\n    key: zone\n    operator: In\n    value: a\n"
		     "    regions: [region0]\n"
		     "  - name: /mnt/b\n    key: zone\n    operator: In\n    value: b\n"
		     "    regions: [region1]\n");
	assert_int_equal(topology_manager_set_config(m, cfg), 0);
	config_free(cfg);
	assert_int_equal(topology_manager_pools(m, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].name, "/mnt/b");
	assert_int_equal(p[0].state, POOL_READY);
	free(p);
	topology_manager_free(m);
}

static void test_id_clash(void **state)
{
	struct topology_manager *m;
	struct pool_status st;
	(void)state;

	fake_reset();
	m = manager_of("node_name: n1\npools:\n  - name: /mnt/a-b\n    regions: [region0]\n"
		       "  - name: /mnt/a/b\n    regions: [region1]\n");
	topology_manager_reconcile(m, NULL);
	assert_int_equal(topology_manager_pool(m, "/mnt/a/b", &st), 0);
	assert_int_equal(st.state, POOL_ERROR);
	assert_non_null(strstr(st.reason, "is also the id of /mnt/a-b"));
	assert_int_equal(count_calls("create_namespace region1"), 0);
	topology_manager_free(m);
}

static char *canon(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static void test_node_record_and_nrt(void **state)
{
	struct topology_manager *m;
	uint64_t gen = 0;
	json_t *rec;
	char *s;
	(void)state;

	fake_reset();
	m = manager_of(two_pools);
	topology_manager_reconcile(m, NULL);
	rec = topology_manager_node_json(m, &gen);
	assert_int_equal(json_integer_value(json_object_get(rec, "generation")), (json_int_t)gen);
	json_t *n0 = json_array_get(json_object_get(rec, "numa_nodes"), 0);
	s = canon(json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(n0, "id"),
			    "cpus", json_object_get(n0, "cpus"), "distances",
			    json_object_get(n0, "distances"), "pools", json_object_get(n0, "pools"),
			    "cap", json_object_get(n0, "pmem_capacity_bytes"), "alloc",
			    json_object_get(n0, "pmem_allocatable_bytes")));
	assert_string_equal(
		s, "{\"alloc\":1887436800,\"cap\":1992294400,\"cpus\":[0],"
		   "\"distances\":{\"0\":10,\"1\":21},\"id\":0,\"pools\":[\"/mnt/pmem0\"]}");
	free(s);
	assert_string_equal(json_string_value(json_object_get(rec, "node")), "n1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "labels"),
							      "kubernetes.io/hostname")),
			    "n1");
	json_t *p1 = json_array_get(json_object_get(rec, "pools"), 1);
	assert_string_equal(json_string_value(json_object_get(p1, "state")), "ready");
	assert_string_equal(json_string_value(json_object_get(p1, "fstype")), "xfs");
	json_decref(rec);

	rec = topology_manager_nrt_json(m, NULL);
	json_t *z1 = json_array_get(json_object_get(rec, "zones"), 1);
	s = canon(json_pack("{s:O, s:O, s:O}", "name", json_object_get(z1, "name"), "costs",
			    json_object_get(z1, "costs"), "pmem",
			    json_array_get(json_object_get(z1, "resources"), 2)));
	assert_string_equal(s,
			    "{\"costs\":[{\"name\":\"node-0\",\"value\":21},{\"name\":\"node-1\","
			    "\"value\":10}],\"name\":\"node-1\",\"pmem\":{\"allocatable\":"
			    "\"1992294400\",\"available\":\"1992294400\",\"capacity\":"
			    "\"1992294400\",\"name\":\"pmem.io/pmem\"}}");
	free(s);
	assert_string_equal(json_string_value(json_object_get(rec, "apiVersion")),
			    "topology.node.k8s.io/v1alpha2");
	json_decref(rec);

	/* CPUs held by reservations: per NUMA node in the record; a change is a new generation,
	 * the same set again is not. */
	{
		const int ids[] = {1};
		const unsigned cpus[] = {2};
		uint64_t g0 = 0, g1 = 0, g2 = 0;

		json_decref(topology_manager_node_json(m, &g0));
		assert_int_equal(topology_manager_set_reserved_cpus(m, ids, cpus, 1), 0);
		rec = topology_manager_node_json(m, &g1);
		assert_int_equal(json_integer_value(json_object_get(
					 json_array_get(json_object_get(rec, "numa_nodes"), 1),
					 "cpus_reserved")),
				 2);
		assert_int_equal(json_integer_value(json_object_get(
					 json_array_get(json_object_get(rec, "numa_nodes"), 0),
					 "cpus_reserved")),
				 0);
		json_decref(rec);
		assert_true(g1 == g0 + 1);
		assert_int_equal(topology_manager_set_reserved_cpus(m, ids, cpus, 1), 0);
		json_decref(topology_manager_node_json(m, &g2));
		assert_true(g2 == g1);
		assert_int_equal(topology_manager_set_reserved_cpus(m, NULL, NULL, 0), 0);
		rec = topology_manager_node_json(m, &g2);
		assert_int_equal(json_integer_value(json_object_get(
					 json_array_get(json_object_get(rec, "numa_nodes"), 1),
					 "cpus_reserved")),
				 0);
		json_decref(rec);
	}
	topology_manager_free(m);
}

/* ======================= over HTTP ======================= */

static void test_http_routes(void **state)
{
	struct topology_manager *m;
	struct api_server *srv;
	struct config *cfg;
	char yaml[1024], err[256], etag[64];
	struct reply *r;
	uint16_t port;
	(void)state;

	fake_reset();
	m = manager_of(two_pools);
	/* Port 0 is refused by config: pick a free port like test-api does. */
	{
		struct sockaddr_in sin = {.sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(sin);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		getsockname(fd, (struct sockaddr *)&sin, &len);
		close(fd);
		port = ntohs(sin.sin_port);
	}
	snprintf(yaml, sizeof(yaml), "log_level: error\nlisten:\n  - tcp: 127.0.0.1:%u\n", port);
	cfg = cfg_of(yaml);
	struct api_hooks hooks = {.services = {.topology = m}};
	assert_int_equal(api_server_start(&srv, cfg, &hooks, err, sizeof(err)), 0);

	/* Before the first pass: pools pending, no discovery yet. */
	r = http_inm(port, "GET", "/v1/regions", NULL, NULL);
	assert_int_equal(r->status, 503);
	r = http_inm(port, "GET", "/v1/pools", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"state\":\"pending\""));

	topology_manager_reconcile(m, NULL);
	r = http_inm(port, "GET", "/v1/node", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_true(r->etag[0] == '"');
	snprintf(etag, sizeof(etag), "%s", r->etag);
	assert_non_null(strstr(r->body, "\"numa_nodes\""));
	/* Nothing changed: 304, no body. */
	r = http_inm(port, "GET", "/v1/node", NULL, etag);
	assert_int_equal(r->status, 304);
	assert_int_equal(r->len, 0);
	r = http_inm(port, "GET", "/v1/node", NULL, "\"999\", W/\"0\"");
	assert_int_equal(r->status, 200);
	r = http_inm(port, "GET", "/v1/node?format=nrt", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"NodeResourceTopology\""));
	r = http_inm(port, "GET", "/v1/node?format=xml", NULL, NULL);
	assert_int_equal(r->status, 400);

	r = http_inm(port, "GET", "/v1/pools/mnt-pmem1", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"name\":\"/mnt/pmem1\""));
	r = http_inm(port, "GET", "/v1/pools/x?name=/mnt/pmem0", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"name\":\"/mnt/pmem0\""));
	r = http_inm(port, "GET", "/v1/pools/..%2Fetc", NULL, NULL);
	assert_int_equal(r->status, 404);
	r = http_inm(port, "GET", "/v1/pools/nope", NULL, NULL);
	assert_int_equal(r->status, 404);
	r = http_inm(port, "POST", "/v1/pools/mnt-pmem0/reconcile", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"state\":\"ready\""));
	r = http_inm(port, "GET", "/v1/regions", NULL, NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "region1"));
	r = http_inm(port, "GET", "/metrics", NULL, NULL);
	assert_non_null(strstr(r->body, "pmem_pool_ready{pool=\"/mnt/pmem0\",numa_node=\"0\","
					"fstype=\"ext4\"} 1"));
	assert_non_null(strstr(r->body, "pmem_pool_capacity_bytes{pool=\"/mnt/pmem1\","
					"numa_node=\"1\",fstype=\"xfs\"} 1992294400"));

	api_server_stop(srv, 1000);
	config_free(cfg);
	topology_manager_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_namespace_size),
		cmocka_unit_test(test_decisions_region),
		cmocka_unit_test(test_decisions_namespace),
		cmocka_unit_test(test_decisions_filesystem),
		cmocka_unit_test(test_decisions_mount),
		cmocka_unit_test(test_decisions_kmem),
		cmocka_unit_test(test_fresh_node_becomes_ready),
		cmocka_unit_test(test_one_pool_failing_does_not_block_the_other),
		cmocka_unit_test(test_foreign_filesystem_is_left_alone),
		cmocka_unit_test(test_failed_step_then_recovery),
		cmocka_unit_test(test_several_regions_become_sub_pools),
		cmocka_unit_test(test_selector_and_reload),
		cmocka_unit_test(test_id_clash),
		cmocka_unit_test(test_node_record_and_nrt),
		cmocka_unit_test(test_http_routes),
	};
	int r;

	log_set_level(LOG_LVL_ERROR);
	curl_global_init(CURL_GLOBAL_ALL);
	r = cmocka_run_group_tests_name("pool", tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
