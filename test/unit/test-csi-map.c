/* test-csi-map: the CSI shim's pure mapping: ids, capacity, parameters, capabilities, codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csi/csi-map.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define NODE	"node-a"

static char *long_string(size_t n, char c)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void assert_json_eq(const json_t *got, const char *want)
{
	json_error_t e;
	json_t *w = json_loads(want, 0, &e);
	char *a, *b;

	assert_non_null(w);
	a = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
	b = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
	if (strcmp(a, b) != 0)
		fail_msg("json:\n got  %s\n want %s", a, b);
	free(a);
	free(b);
	json_decref(w);
}

/* ---- ids ---------------------------------------------------------------- */

static void test_id_valid(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"pvc-0b1c2d3e", true},
		{"a", true},
		{"a.b-c", true},
		{"0", true},
		{"", false},
		{"-a", false},
		{"a-", false},
		{"A", false},
		{"a_b", false},
		{"../x", false},
		{"a/b", false},
		{"a b", false},
		{".a", false},
	};
	char *max = long_string(CSI_ID_MAX, 'a'), *over = long_string(CSI_ID_MAX + 1, 'a');

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		if (csi_map_id_valid(cases[i].s) != cases[i].ok)
			fail_msg("id \"%s\": want %s", cases[i].s,
				 cases[i].ok ? "valid" : "invalid");
	}
	assert_true(csi_map_id_valid(max));
	assert_false(csi_map_id_valid(over));
	assert_false(csi_map_id_valid(NULL));
	free(max);
	free(over);
}

static void test_volume_id(void **state)
{
	static const struct {
		const char *name;
		const char *id;
	} cases[] = {
		/* A valid pmemd name is its own id: what the external-provisioner sends. */
		{"pvc-5f0c2a9e-8d1b-4c3e-9f7a-1b2c3d4e5f60",
		 "pvc-5f0c2a9e-8d1b-4c3e-9f7a-1b2c3d4e5f60"},
		/* Anything else is "csi-" + 40 hex digits of SHA-256 (docs/csi.md). */
		{"Sanity-Vol", "csi-3703aaca8e5266ffc5151970513bf3d986cc0b83"},
		{"../x", "csi-d6b96a97d147daaae49eb87a5ca7bfbc280e7955"},
	};
	char id[CSI_ID_MAX + 1], id2[CSI_ID_MAX + 1], err[200];
	char *huge = long_string(10 * 1024, 'x'), *huge2 = long_string(10 * 1024, 'x');

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		assert_int_equal(csi_map_volume_id(cases[i].name, id, sizeof(id), err, sizeof(err)),
				 0);
		assert_string_equal(id, cases[i].id);
		assert_true(csi_map_id_valid(id));
	}
	/* 10 KB: valid characters, too long: hashed, deterministic, and a valid id. */
	assert_int_equal(csi_map_volume_id(huge, id, sizeof(id), err, sizeof(err)), 0);
	assert_int_equal(strlen(id), 44);
	assert_true(csi_map_id_valid(id));
	huge2[10 * 1024 - 1] = 'y';
	assert_int_equal(csi_map_volume_id(huge2, id2, sizeof(id2), err, sizeof(err)), 0);
	assert_string_not_equal(id, id2);
	assert_int_equal(csi_map_volume_id(huge, id2, sizeof(id2), err, sizeof(err)), 0);
	assert_string_equal(id, id2);

	assert_int_equal(csi_map_volume_id("", id, sizeof(id), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "name is required");
	assert_int_equal(csi_map_volume_id(NULL, id, sizeof(id), err, sizeof(err)), -EINVAL);
	/* A buffer too small is refused, never overrun. */
	assert_int_equal(csi_map_volume_id("Upper", id, 10, err, sizeof(err)), -ENAMETOOLONG);
	free(huge);
	free(huge2);
}

/* ---- capacity ----------------------------------------------------------- */

static void test_capacity(void **state)
{
	static const struct {
		int64_t req, lim;
		int ret;
		uint64_t size;
	} cases[] = {
		{0, 0, 0, CSI_DEFAULT_SIZE},
		{1 << 20, 0, 0, 1 << 20},
		{1 << 20, 1 << 20, 0, 1 << 20},
		{1 << 20, 2 << 20, 0, 1 << 20},
		/* Only a limit: the default, but never above the limit. */
		{0, 1 << 20, 0, 1 << 20},
		{0, 4ll << 30, 0, CSI_DEFAULT_SIZE},
		{0, (int64_t)CSI_DEFAULT_SIZE, 0, CSI_DEFAULT_SIZE},
		{2 << 20, 1 << 20, -ERANGE, 0},
		{-1, 0, -EINVAL, 0},
		{0, -1, -EINVAL, 0},
		{INT64_MAX, 0, 0, INT64_MAX},
	};
	char err[200];

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		Csi__V1__CapacityRange r = CSI__V1__CAPACITY_RANGE__INIT;
		uint64_t size = 7;
		int ret;

		r.required_bytes = cases[i].req;
		r.limit_bytes = cases[i].lim;
		ret = csi_map_capacity(&r, &size, err, sizeof(err));
		if (ret != cases[i].ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret, cases[i].ret, err);
		if (ret == 0) {
			assert_int_equal(size, cases[i].size);
			assert_true(csi_map_size_fits(&r, size));
		} else {
			assert_int_equal(size, 7); /* untouched on failure */
		}
	}
	{
		uint64_t size;

		assert_int_equal(csi_map_capacity(NULL, &size, err, sizeof(err)), 0);
		assert_int_equal(size, CSI_DEFAULT_SIZE);
	}
	{
		Csi__V1__CapacityRange r = CSI__V1__CAPACITY_RANGE__INIT;
		uint64_t size;

		r.required_bytes = 10;
		r.limit_bytes = 5;
		csi_map_capacity(&r, &size, err, sizeof(err));
		assert_string_equal(err,
				    "capacity_range.limit_bytes 5 is less than required_bytes 10");
	}
}

static void test_size_fits(void **state)
{
	Csi__V1__CapacityRange r = CSI__V1__CAPACITY_RANGE__INIT;

	(void)state;
	assert_true(csi_map_size_fits(NULL, 1));
	assert_true(csi_map_size_fits(&r, 123));
	r.required_bytes = 100;
	assert_false(csi_map_size_fits(&r, 99));
	assert_true(csi_map_size_fits(&r, 100));
	assert_true(csi_map_size_fits(&r, 1000000));
	r.limit_bytes = 200;
	assert_true(csi_map_size_fits(&r, 200));
	assert_false(csi_map_size_fits(&r, 201));
	r.required_bytes = 0;
	assert_true(csi_map_size_fits(&r, 1));
}

/* ---- parameters --------------------------------------------------------- */

static void test_params_good(void **state)
{
	struct csi_kv kv[] = {
		{"numaNode", "1"},
		{"fstype", "xfs"},
		{"csi.storage.k8s.io/pvc/name", "data"},
		{"csi.storage.k8s.io/pvc/namespace", "prod"},
		{"csi.storage.k8s.io/pv/name", "pvc-1"},
	};
	struct csi_kv pool[] = {{"pool", "mnt-pmem0"}, {"fstype", "ext4"}};
	struct csi_params p;
	char err[300];

	(void)state;
	assert_int_equal(csi_map_params(kv, N_OF(kv), true, &p, err, sizeof(err)), 0);
	assert_int_equal(p.numa_node, 1);
	assert_string_equal(p.fstype, "xfs");
	assert_null(p.pool);
	assert_string_equal(p.pvc_name, "data");
	assert_string_equal(p.pvc_namespace, "prod");
	assert_string_equal(p.pv_name, "pvc-1");

	assert_int_equal(csi_map_params(pool, N_OF(pool), false, &p, err, sizeof(err)), 0);
	assert_string_equal(p.pool, "mnt-pmem0");
	assert_int_equal(p.numa_node, -1);

	/* A StorageClass's parameters as GetCapacity gets them: its own keys too. */
	{
		struct csi_kv sc[] = {
			{"csi.storage.k8s.io/fstype", "xfs"},
			{"csi.storage.k8s.io/provisioner-secret-name", "s"},
			{"fstype", "xfs"},
		};

		assert_int_equal(csi_map_params(sc, N_OF(sc), false, &p, err, sizeof(err)), 0);
		assert_string_equal(p.fstype, "xfs");
		assert_int_equal(csi_map_params(sc, 1, true, &p, err, sizeof(err)), 0);
		assert_string_equal(p.fstype, "xfs");
	}

	assert_int_equal(csi_map_params(NULL, 0, true, &p, err, sizeof(err)), 0);
	assert_null(p.pool);
	assert_null(p.fstype);
	assert_int_equal(p.numa_node, -1);
}

static void test_params_bad(void **state)
{
	static const struct {
		const char *key, *value, *want;
	} cases[] = {
		{"bogus", "x",
		 "unknown parameter \"bogus\" (known: pool, numaNode, fstype, "
		 "csi.storage.k8s.io/pvc/name, csi.storage.k8s.io/pvc/namespace, "
		 "csi.storage.k8s.io/pv/name)"},
		{"numaNode", "", "parameter numaNode: must be an integer 0..1023, got \"\""},
		{"numaNode", "-1", "parameter numaNode: must be an integer 0..1023, got \"-1\""},
		{"numaNode", "1024",
		 "parameter numaNode: must be an integer 0..1023, got \"1024\""},
		{"numaNode", "1x", "parameter numaNode: must be an integer 0..1023, got \"1x\""},
		{"numaNode", "+1", "parameter numaNode: must be an integer 0..1023, got \"+1\""},
		{"numaNode", " 1", "parameter numaNode: must be an integer 0..1023, got \" 1\""},
		{"numaNode", "99999999999999999999",
		 "parameter numaNode: must be an integer 0..1023, got \"99999999999999999999\""},
		{"fstype", "btrfs", "parameter fstype: must be ext4 or xfs, got \"btrfs\""},
		{"fstype", "EXT4", "parameter fstype: must be ext4 or xfs, got \"EXT4\""},
		{"fstype", "", "parameter fstype: must be ext4 or xfs, got \"\""},
		{"pool", "", "parameter pool: must be a pool's path or id, 1..4095 characters"},
		{"", "x",
		 "unknown parameter \"\" (known: pool, numaNode, fstype, "
		 "csi.storage.k8s.io/pvc/name, csi.storage.k8s.io/pvc/namespace, "
		 "csi.storage.k8s.io/pv/name)"},
		{"fstype", "x\n\"y", "parameter fstype: must be ext4 or xfs, got \"x??y\""},
	};
	struct csi_params p = {.numa_node = 42};
	char err[400];

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		struct csi_kv kv = {cases[i].key, cases[i].value};

		assert_int_equal(csi_map_params(&kv, 1, true, &p, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].want);
		assert_int_equal(p.numa_node, 42); /* untouched on failure */
	}
	{
		struct csi_kv kv[] = {{"pool", "mnt-pmem0"}, {"numaNode", "0"}};

		assert_int_equal(csi_map_params(kv, 2, true, &p, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "parameters pool and numaNode exclude each other (a pool "
					 "has one NUMA node)");
	}
	{
		/* GetCapacity names only the StorageClass keys. */
		struct csi_kv kv = {"x", "y"};

		assert_int_equal(csi_map_params(&kv, 1, false, &p, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "unknown parameter \"x\" (known: pool, numaNode, fstype)");
	}
	{
		/* A create never gets a secret's name: the provisioner strips those. */
		struct csi_kv kv = {"csi.storage.k8s.io/provisioner-secret-name", "s"};

		assert_int_equal(csi_map_params(&kv, 1, true, &p, err, sizeof(err)), -EINVAL);
	}
	{
		struct csi_kv kv[] = {{"fstype", "ext4"}, {"csi.storage.k8s.io/fstype", "xfs"}};

		assert_int_equal(csi_map_params(kv, 2, true, &p, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "parameters fstype and csi.storage.k8s.io/fstype disagree "
					 "(ext4, xfs)");
		kv[1].value = "btrfs";
		assert_int_equal(csi_map_params(kv, 2, false, &p, err, sizeof(err)), -EINVAL);
		assert_string_equal(err,
				    "parameter csi.storage.k8s.io/fstype: must be ext4 or xfs, "
				    "got \"btrfs\"");
	}
	{
		/* A 10 KB key is named, cut short, never echoed whole. */
		char *k = long_string(10 * 1024, 'k');
		struct csi_kv kv = {k, "v"};

		assert_int_equal(csi_map_params(&kv, 1, true, &p, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) < 300);
		assert_non_null(strstr(err, "kkkk...\""));
		free(k);
	}
}

/* ---- capabilities ------------------------------------------------------- */

struct cap {
	Csi__V1__VolumeCapability c;
	Csi__V1__VolumeCapability__AccessMode m;
	Csi__V1__VolumeCapability__MountVolume mount;
	Csi__V1__VolumeCapability__BlockVolume block;
	char *flags[1];
};

enum kind { MOUNT, BLOCK, NONE };

static Csi__V1__VolumeCapability *mkcap(struct cap *c, enum kind k, int mode, const char *fs)
{
	csi__v1__volume_capability__init(&c->c);
	csi__v1__volume_capability__access_mode__init(&c->m);
	csi__v1__volume_capability__mount_volume__init(&c->mount);
	csi__v1__volume_capability__block_volume__init(&c->block);
	c->m.mode = mode;
	c->c.access_mode = mode < 0 ? NULL : &c->m;
	if (k == MOUNT) {
		c->c.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT;
		c->c.mount = &c->mount;
		c->mount.fs_type = (char *)(fs ? fs : "");
	} else if (k == BLOCK) {
		c->c.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
		c->c.block = &c->block;
	}
	return &c->c;
}

#define SNW  CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER
#define SNRO CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY
#define SNSW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_SINGLE_WRITER
#define SNMW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER
#define MNRO CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY
#define MNMW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER
#define UNK  CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN

static void test_capabilities(void **state)
{
	static const struct {
		enum kind k;
		int mode;
		const char *fs;
		int ret;
		const char *fstype;
	} one[] = {
		{MOUNT, SNW, "", 0, NULL},
		{MOUNT, SNW, "ext4", 0, "ext4"},
		{MOUNT, SNRO, "xfs", 0, "xfs"},
		{MOUNT, SNSW, NULL, 0, NULL},
		{MOUNT, SNMW, NULL, 0, NULL},
		{MOUNT, MNRO, NULL, -ENOTSUP, NULL},
		{MOUNT, MNMW, NULL, -ENOTSUP, NULL},
		{BLOCK, SNW, NULL, -ENOTSUP, NULL},
		{NONE, SNW, NULL, -EINVAL, NULL},
		{MOUNT, -1, NULL, -EINVAL, NULL},
		{MOUNT, UNK, NULL, -EINVAL, NULL},
		{MOUNT, SNW, "btrfs", -ENOTSUP, NULL},
		{MOUNT, SNW, "EXT4", -ENOTSUP, NULL},
	};
	struct cap c[2];
	Csi__V1__VolumeCapability *caps[2];
	const char *fs = "sentinel";
	char err[300];

	(void)state;
	for (size_t i = 0; i < N_OF(one); i++) {
		int ret;

		caps[0] = mkcap(&c[0], one[i].k, one[i].mode, one[i].fs);
		fs = "sentinel";
		ret = csi_map_capabilities(caps, 1, CSI_CAPS_REQUIRED, &fs, err, sizeof(err));
		if (ret != one[i].ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret, one[i].ret, err);
		if (ret == 0) {
			if (one[i].fstype)
				assert_string_equal(fs, one[i].fstype);
			else
				assert_null(fs);
		}
	}
	/* The spec's messages name the capability and the reason. */
	caps[0] = mkcap(&c[0], BLOCK, SNW, NULL);
	csi_map_capabilities(caps, 1, CSI_CAPS_REQUIRED, &fs, err, sizeof(err));
	assert_string_equal(err, "volume_capabilities[0]: block access is not supported: a volume "
				 "is a directory with a quota (mount access only)");

	/* None: required for CreateVolume, fine for GetCapacity. */
	assert_int_equal(csi_map_capabilities(NULL, 0, CSI_CAPS_REQUIRED, &fs, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "volume_capabilities are required");
	assert_int_equal(csi_map_capabilities(NULL, 0, 0, &fs, err, sizeof(err)), 0);
	assert_null(fs);

	/* Two filesystems at once cannot be one volume; one and "any" can. */
	caps[0] = mkcap(&c[0], MOUNT, SNW, "ext4");
	caps[1] = mkcap(&c[1], MOUNT, SNW, "xfs");
	assert_int_equal(csi_map_capabilities(caps, 2, CSI_CAPS_REQUIRED, &fs, err, sizeof(err)),
			 -ENOTSUP);
	caps[1] = mkcap(&c[1], MOUNT, SNRO, "");
	assert_int_equal(csi_map_capabilities(caps, 2, CSI_CAPS_REQUIRED, &fs, err, sizeof(err)),
			 0);
	assert_string_equal(fs, "ext4");

	/* Mount flags: a bind mount of a directory takes none. */
	caps[0] = mkcap(&c[0], MOUNT, SNW, NULL);
	c[0].flags[0] = (char *)"noatime";
	c[0].mount.n_mount_flags = 1;
	c[0].mount.mount_flags = c[0].flags;
	assert_int_equal(csi_map_capabilities(caps, 1, CSI_CAPS_REQUIRED, &fs, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "mount_flags are not supported"));

	/* GetCapacity from an older provisioner: no access mode, only the filesystem. */
	caps[0] = mkcap(&c[0], MOUNT, -1, "xfs");
	assert_int_equal(csi_map_capabilities(caps, 1, CSI_CAPS_REQUIRED, &fs, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(csi_map_capabilities(caps, 1, CSI_CAPS_ANY_MODE, &fs, err, sizeof(err)),
			 0);
	assert_string_equal(fs, "xfs");
	caps[0] = mkcap(&c[0], MOUNT, UNK, "ext4");
	assert_int_equal(csi_map_capabilities(caps, 1, CSI_CAPS_ANY_MODE, &fs, err, sizeof(err)),
			 0);
	assert_string_equal(fs, "ext4");
	/* ... but still no block and no multi-node. */
	caps[0] = mkcap(&c[0], BLOCK, -1, NULL);
	assert_int_equal(csi_map_capabilities(caps, 1, CSI_CAPS_ANY_MODE, &fs, err, sizeof(err)),
			 -ENOTSUP);
	caps[0] = mkcap(&c[0], MOUNT, MNMW, NULL);
	assert_int_equal(csi_map_capabilities(caps, 1, CSI_CAPS_ANY_MODE, &fs, err, sizeof(err)),
			 -ENOTSUP);

	/* A NULL entry in the list is malformed, not a crash. */
	caps[0] = NULL;
	assert_int_equal(csi_map_capabilities(caps, 1, CSI_CAPS_REQUIRED, &fs, err, sizeof(err)),
			 -EINVAL);
}

/* ---- topology ----------------------------------------------------------- */

struct topo {
	Csi__V1__Topology t;
	Csi__V1__Topology__SegmentsEntry e[2], *ep[2];
};

static Csi__V1__Topology *mktopo(struct topo *t, const char *k1, const char *v1, const char *k2,
				 const char *v2)
{
	csi__v1__topology__init(&t->t);
	for (int i = 0; i < 2; i++) {
		csi__v1__topology__segments_entry__init(&t->e[i]);
		t->ep[i] = &t->e[i];
	}
	t->e[0].key = (char *)k1;
	t->e[0].value = (char *)v1;
	t->e[1].key = (char *)k2;
	t->e[1].value = (char *)v2;
	t->t.n_segments = k1 ? (k2 ? 2 : 1) : 0;
	t->t.segments = t->ep;
	return &t->t;
}

static void test_topology(void **state)
{
	Csi__V1__TopologyRequirement req = CSI__V1__TOPOLOGY_REQUIREMENT__INIT;
	struct topo a, b;
	Csi__V1__Topology *list[2];
	char err[300];

	(void)state;
	assert_int_equal(csi_map_topology(NULL, NODE, err, sizeof(err)), 0);
	assert_int_equal(csi_map_topology(&req, NODE, err, sizeof(err)), 0);

	/* Requisite: this node among them, in any position. */
	list[0] = mktopo(&a, CSI_TOPOLOGY_KEY, "node-b", NULL, NULL);
	list[1] = mktopo(&b, CSI_TOPOLOGY_KEY, NODE, NULL, NULL);
	req.n_requisite = 2;
	req.requisite = list;
	assert_int_equal(csi_map_topology(&req, NODE, err, sizeof(err)), 0);

	/* Requisite without this node: the spec's RESOURCE_EXHAUSTED. */
	req.n_requisite = 1;
	assert_int_equal(csi_map_topology(&req, NODE, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "accessibility_requirements: no requisite topology is this node "
				 "(pmem.csi.pmemd.io/node=node-a); this driver provisions only on "
				 "its own node");

	/* A segment with a key this driver does not serve is not this node. */
	list[0] = mktopo(&a, CSI_TOPOLOGY_KEY, NODE, "topology.kubernetes.io/zone", "z1");
	assert_int_equal(csi_map_topology(&req, NODE, err, sizeof(err)), -ENOENT);
	list[0] = mktopo(&a, "kubernetes.io/hostname", NODE, NULL, NULL);
	assert_int_equal(csi_map_topology(&req, NODE, err, sizeof(err)), -ENOENT);

	/* Preferred alone is advice. */
	req.n_requisite = 0;
	req.n_preferred = 1;
	list[0] = mktopo(&a, CSI_TOPOLOGY_KEY, "node-b", NULL, NULL);
	req.preferred = list;
	assert_int_equal(csi_map_topology(&req, NODE, err, sizeof(err)), 0);

	/* Malformed: an empty requisite segment. */
	req.n_requisite = 1;
	req.requisite = list;
	list[0] = mktopo(&a, NULL, NULL, NULL, NULL);
	assert_int_equal(csi_map_topology(&req, NODE, err, sizeof(err)), -EINVAL);

	assert_true(csi_map_segment_is_node(mktopo(&a, CSI_TOPOLOGY_KEY, NODE, NULL, NULL), NODE));
	assert_false(csi_map_segment_is_node(mktopo(&a, CSI_TOPOLOGY_KEY, "x", NULL, NULL), NODE));
	assert_false(csi_map_segment_is_node(NULL, NODE));
}

static void test_path_normalised(void **state)
{
	static const struct {
		const char *p;
		bool ok;
	} cases[] = {
		{"/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/pvc-1/mount", true},
		{"/a", true},
		{"/a/.b/..c/b..", true},
		{"", false},
		{"/", false},
		{"a/b", false},
		{"/a/", false},
		{"/a//b", false},
		{"/a/./b", false},
		{"/a/../b", false},
		{"/var/lib/kubelet/..", false},
		{"/.", false},
	};
	char *huge = long_string(10 * 1024, 'a');

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		if (csi_map_path_normalised(cases[i].p) != cases[i].ok)
			fail_msg("path \"%s\": want %s", cases[i].p,
				 cases[i].ok ? "ok" : "refused");
	}
	assert_false(csi_map_path_normalised(NULL));
	huge[0] = '/';
	assert_false(csi_map_path_normalised(huge));
	free(huge);
}

/* ---- the create body ---------------------------------------------------- */

static void test_create_body(void **state)
{
	struct csi_params p = {.numa_node = -1};
	char *long_name = long_string(64, 'n');
	json_t *b;

	(void)state;
	b = csi_map_create_body("pvc-1", 1048576, &p, NULL);
	assert_json_eq(b, "{\"name\":\"pvc-1\",\"size_bytes\":1048576}");
	json_decref(b);

	p.numa_node = 1;
	b = csi_map_create_body("pvc-1", 1048576, &p, NULL);
	assert_json_eq(b, "{\"name\":\"pvc-1\",\"size_bytes\":1048576,\"numa_node\":1}");
	json_decref(b);

	/* A pool the shim chose (for an fstype) wins over the NUMA node it lies on. */
	b = csi_map_create_body("pvc-1", 1048576, &p, "/mnt/pmem1");
	assert_json_eq(b, "{\"name\":\"pvc-1\",\"size_bytes\":1048576,\"pool\":\"/mnt/pmem1\"}");
	json_decref(b);

	p.numa_node = -1;
	p.pool = "mnt-pmem0";
	p.pvc_name = "data";
	p.pvc_namespace = "prod";
	p.pv_name = "pvc-1";
	b = csi_map_create_body("pvc-1", 1048576, &p, NULL);
	assert_json_eq(b, "{\"name\":\"pvc-1\",\"size_bytes\":1048576,\"pool\":\"mnt-pmem0\","
			  "\"labels\":{\"pmem.io/pvc-name\":\"data\",\"pmem.io/pvc-namespace\":"
			  "\"prod\",\"pmem.io/pv-name\":\"pvc-1\"},\"claim\":\"prod/data\"}");
	json_decref(b);

	/* A PVC name longer than a label value: no label, but still the claim. */
	p.pool = NULL;
	p.pvc_name = long_name;
	p.pv_name = NULL;
	b = csi_map_create_body("pvc-1", 1, &p, NULL);
	assert_null(json_object_get(json_object_get(b, "labels"), CSI_LABEL_PVC_NAME));
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "labels"),
							      CSI_LABEL_PVC_NAMESPACE)),
			    "prod");
	assert_int_equal(strlen(json_string_value(json_object_get(b, "claim"))), 5 + 64);
	json_decref(b);

	/* A value with a character labels do not allow: no label either. */
	p.pvc_name = "bad name";
	b = csi_map_create_body("pvc-1", 1, &p, NULL);
	assert_null(json_object_get(json_object_get(b, "labels"), CSI_LABEL_PVC_NAME));
	json_decref(b);

	/* Half a claim is no claim. */
	p.pvc_name = "data";
	p.pvc_namespace = NULL;
	b = csi_map_create_body("pvc-1", 1, &p, NULL);
	assert_null(json_object_get(b, "claim"));
	json_decref(b);
	free(long_name);
}

/* ---- REST status → gRPC code -------------------------------------------- */

static void test_status(void **state)
{
	static const struct {
		enum csi_op op;
		long http;
		grpc_status_code want;
	} cases[] = {
		{CSI_OP_CREATE, 200, GRPC_STATUS_OK},
		{CSI_OP_CREATE, 201, GRPC_STATUS_OK},
		{CSI_OP_DELETE, 204, GRPC_STATUS_OK},
		{CSI_OP_CREATE, 400, GRPC_STATUS_INVALID_ARGUMENT},
		{CSI_OP_PUBLISH, 400, GRPC_STATUS_INVALID_ARGUMENT},
		{CSI_OP_CREATE, 413, GRPC_STATUS_INVALID_ARGUMENT},
		{CSI_OP_CREATE, 415, GRPC_STATUS_INVALID_ARGUMENT},
		{CSI_OP_GET, 401, GRPC_STATUS_INTERNAL},
		{CSI_OP_GET, 403, GRPC_STATUS_PERMISSION_DENIED},
		{CSI_OP_GET, 404, GRPC_STATUS_NOT_FOUND},
		{CSI_OP_DELETE, 404, GRPC_STATUS_NOT_FOUND},
		{CSI_OP_PUBLISH, 404, GRPC_STATUS_NOT_FOUND},
		{CSI_OP_UNPUBLISH, 404, GRPC_STATUS_NOT_FOUND},
		{CSI_OP_EXPAND, 404, GRPC_STATUS_NOT_FOUND},
		{CSI_OP_CREATE, 404, GRPC_STATUS_INVALID_ARGUMENT},
		{CSI_OP_CREATE, 409, GRPC_STATUS_ALREADY_EXISTS},
		{CSI_OP_PUBLISH, 409, GRPC_STATUS_ALREADY_EXISTS},
		{CSI_OP_DELETE, 409, GRPC_STATUS_FAILED_PRECONDITION},
		{CSI_OP_UNPUBLISH, 409, GRPC_STATUS_FAILED_PRECONDITION},
		{CSI_OP_EXPAND, 409, GRPC_STATUS_OUT_OF_RANGE},
		{CSI_OP_GET, 405, GRPC_STATUS_INTERNAL},
		{CSI_OP_GET, 500, GRPC_STATUS_INTERNAL},
		{CSI_OP_GET, 501, GRPC_STATUS_UNIMPLEMENTED},
		{CSI_OP_CREATE, 503, GRPC_STATUS_UNAVAILABLE},
		{CSI_OP_LIST, 503, GRPC_STATUS_UNAVAILABLE},
		{CSI_OP_GET, 504, GRPC_STATUS_DEADLINE_EXCEEDED},
		{CSI_OP_CREATE, 507, GRPC_STATUS_RESOURCE_EXHAUSTED},
		{CSI_OP_EXPAND, 507, GRPC_STATUS_RESOURCE_EXHAUSTED},
		{CSI_OP_PLACE, 507, GRPC_STATUS_RESOURCE_EXHAUSTED},
		{CSI_OP_GET, 302, GRPC_STATUS_INTERNAL},
		{CSI_OP_GET, 0, GRPC_STATUS_INTERNAL},
		{CSI_OP_GET, 999, GRPC_STATUS_INTERNAL},
	};

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		grpc_status_code got = csi_map_status(cases[i].op, cases[i].http);

		if (got != cases[i].want)
			fail_msg("op %d http %ld: code %d, want %d", cases[i].op, cases[i].http,
				 got, cases[i].want);
	}
}

static void test_error_message(void **state)
{
	char msg[64];
	json_t *b;

	(void)state;
	b = json_loads("{\"error\":{\"code\":\"insufficient_storage\",\"message\":\"no room\"}}", 0,
		       NULL);
	csi_map_error_message(507, b, msg, sizeof(msg));
	assert_string_equal(msg, "pmemd: no room");
	json_decref(b);

	csi_map_error_message(502, NULL, msg, sizeof(msg));
	assert_string_equal(msg, "pmemd answered HTTP 502");

	/* Control characters never reach the status message; long ones are cut. */
	b = json_pack("{s:{s:s}}", "error", "message", "a\nb\tc\033d");
	csi_map_error_message(400, b, msg, sizeof(msg));
	assert_string_equal(msg, "pmemd: a b c d");
	json_decref(b);
	b = json_pack("{s:{s:s%}}", "error", "message", "x\0y", (size_t)3);
	csi_map_error_message(400, b, msg, sizeof(msg));
	assert_string_equal(msg, "pmemd: x");
	json_decref(b);
	{
		char *big = long_string(10 * 1024, 'm');

		b = json_pack("{s:{s:s}}", "error", "message", big);
		csi_map_error_message(400, b, msg, sizeof(msg));
		assert_int_equal(strlen(msg), sizeof(msg) - 1);
		json_decref(b);
		free(big);
	}
}

/* ---- volumes, pages, pools, stats --------------------------------------- */

static void test_volume(void **state)
{
	json_t *v = json_loads("{\"name\":\"pvc-1\",\"pool\":\"/mnt/pmem0\",\"numa_node\":1,"
			       "\"size_bytes\":1048576,\"limit_bytes\":1056768}",
			       0, NULL);
	struct csi_volume out;

	(void)state;
	assert_int_equal(csi_map_volume(v, NODE, &out), 0);
	assert_string_equal(out.vol.volume_id, "pvc-1");
	assert_int_equal(out.vol.capacity_bytes, 1048576);
	assert_int_equal(out.vol.n_volume_context, 2);
	assert_string_equal(out.vol.volume_context[0]->key, "pool");
	assert_string_equal(out.vol.volume_context[0]->value, "/mnt/pmem0");
	assert_string_equal(out.vol.volume_context[1]->key, "numaNode");
	assert_string_equal(out.vol.volume_context[1]->value, "1");
	assert_int_equal(out.vol.n_accessible_topology, 1);
	assert_int_equal(out.vol.accessible_topology[0]->n_segments, 1);
	assert_string_equal(out.vol.accessible_topology[0]->segments[0]->key, CSI_TOPOLOGY_KEY);
	assert_string_equal(out.vol.accessible_topology[0]->segments[0]->value, NODE);
	/* It packs: the response is built from it as it is. */
	assert_true(protobuf_c_message_get_packed_size(&out.vol.base) > 0);
	json_decref(v);

	v = json_loads("{\"pool\":\"/mnt/pmem0\",\"size_bytes\":1}", 0, NULL);
	assert_int_equal(csi_map_volume(v, NODE, &out), -EINVAL);
	json_decref(v);
	v = json_loads("{\"name\":\"a\",\"size_bytes\":\"1\"}", 0, NULL);
	assert_int_equal(csi_map_volume(v, NODE, &out), -EINVAL);
	json_decref(v);
	assert_int_equal(csi_map_volume(NULL, NODE, &out), -EINVAL);
}

static void test_page(void **state)
{
	static const char *const ids[] = {"a", "b", "c", "d", "e"};
	static const struct {
		const char *token;
		int32_t max;
		size_t start, count;
		const char *next;
	} cases[] = {
		{"", 0, 0, 5, NULL},  {NULL, 2, 0, 2, "c"}, {"c", 2, 2, 2, "e"},
		{"e", 2, 4, 1, NULL}, {"bb", 1, 2, 1, "d"}, {"zz", 3, 5, 0, NULL},
		{"a", 5, 0, 5, NULL}, {"a", 6, 0, 5, NULL}, {"0", 1, 0, 1, "b"},
	};
	const char *next;
	size_t start, count;
	char err[200];
	char *huge = long_string(10 * 1024, 'a');

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		assert_int_equal(csi_map_page(ids, N_OF(ids), cases[i].token, cases[i].max, &start,
					      &count, &next, err, sizeof(err)),
				 0);
		assert_int_equal(start, cases[i].start);
		assert_int_equal(count, cases[i].count);
		if (cases[i].next)
			assert_string_equal(next, cases[i].next);
		else
			assert_null(next);
	}
	/* Walking the pages with the tokens visits every id once. */
	{
		const char *tok = NULL;
		size_t seen = 0;

		do {
			assert_int_equal(csi_map_page(ids, N_OF(ids), tok, 2, &start, &count, &tok,
						      err, sizeof(err)),
					 0);
			assert_int_equal(start, seen);
			seen += count;
		} while (tok);
		assert_int_equal(seen, N_OF(ids));
	}
	assert_int_equal(
		csi_map_page(ids, N_OF(ids), NULL, -1, &start, &count, &next, err, sizeof(err)),
		-EINVAL);
	assert_int_equal(csi_map_page(ids, N_OF(ids), "Bad Token", 1, &start, &count, &next, err,
				      sizeof(err)),
			 -ESTALE);
	assert_string_equal(err, "starting_token \"Bad Token\" is not one this driver gave");
	assert_int_equal(
		csi_map_page(ids, N_OF(ids), huge, 1, &start, &count, &next, err, sizeof(err)),
		-ESTALE);
	assert_int_equal(
		csi_map_page(ids, N_OF(ids), "../x", 1, &start, &count, &next, err, sizeof(err)),
		-ESTALE);
	assert_int_equal(csi_map_page(NULL, 0, NULL, 0, &start, &count, &next, err, sizeof(err)),
			 0);
	assert_int_equal(count, 0);
	assert_null(next);
	free(huge);
}

/* Four pools: ext4 and xfs ready, an ext4 one in error, a kmem one (no filesystem). */
static const char POOLS[] =
	"{\"pools\":["
	"{\"name\":\"/mnt/pmem0\",\"id\":\"mnt-pmem0\",\"type\":\"pmem\",\"fstype\":\"ext4\","
	"\"state\":\"ready\",\"numa_node\":0,\"allocatable_bytes\":1073741824,"
	"\"allocated_bytes\":104857600,\"reserved_bytes\":4194304,\"inodes\":65536,"
	"\"inodes_free\":65000},"
	"{\"name\":\"/mnt/pmem1\",\"id\":\"mnt-pmem1\",\"type\":\"pmem\",\"fstype\":\"xfs\","
	"\"state\":\"ready\",\"numa_node\":1,\"allocatable_bytes\":2147483648,"
	"\"allocated_bytes\":0,\"reserved_bytes\":0,\"inodes\":100,\"inodes_free\":90},"
	"{\"name\":\"/mnt/pmem2\",\"id\":\"mnt-pmem2\",\"type\":\"pmem\",\"fstype\":\"ext4\","
	"\"state\":\"error\",\"numa_node\":null,\"allocatable_bytes\":0,"
	"\"allocated_bytes\":0,\"reserved_bytes\":0},"
	"{\"name\":\"/mnt/kmem\",\"id\":\"mnt-kmem\",\"type\":\"kmem\",\"fstype\":null,"
	"\"state\":\"ready\",\"numa_node\":2,\"allocatable_bytes\":68719476736,"
	"\"allocated_bytes\":0,\"reserved_bytes\":0}]}";

/* Free minus the quota's overhead (ext4 2 blocks, xfs 4), in whole 4 KiB blocks. */
#define EXT4_MAX (1073741824ull - 104857600 - 4194304 - 8192)
#define XFS_MAX	 (2147483648ull - 16384)

static void test_pool_capacity(void **state)
{
	static const struct {
		const char *pool;
		int numa;
		const char *pfs, *capfs;
		uint64_t avail, max;
	} cases[] = {
		{NULL, -1, NULL, NULL, EXT4_MAX + XFS_MAX, XFS_MAX},
		{NULL, -1, "ext4", NULL, EXT4_MAX, EXT4_MAX},
		{NULL, -1, NULL, "xfs", XFS_MAX, XFS_MAX},
		{NULL, -1, "ext4", "xfs", 0, 0},
		{NULL, 0, NULL, NULL, EXT4_MAX, EXT4_MAX},
		{NULL, 1, NULL, NULL, XFS_MAX, XFS_MAX},
		{NULL, 2, NULL, NULL, 0, 0}, /* kmem: no volumes there */
		{NULL, 7, NULL, NULL, 0, 0},
		{"mnt-pmem1", -1, NULL, NULL, XFS_MAX, XFS_MAX},
		{"/mnt/pmem0", -1, NULL, NULL, EXT4_MAX, EXT4_MAX},
		{"mnt-pmem2", -1, NULL, NULL, 0, 0}, /* in error */
		{"nope", -1, NULL, NULL, 0, 0},
	};
	json_t *pools = json_loads(POOLS, 0, NULL);
	uint64_t avail, max;

	(void)state;
	assert_non_null(pools);
	for (size_t i = 0; i < N_OF(cases); i++) {
		struct csi_params p = {
			.pool = cases[i].pool, .numa_node = cases[i].numa, .fstype = cases[i].pfs};

		csi_map_pool_capacity(pools, &p, cases[i].capfs, &avail, &max);
		if (avail != cases[i].avail || max != cases[i].max)
			fail_msg("case %zu: available %llu max %llu, want %llu %llu", i,
				 (unsigned long long)avail, (unsigned long long)max,
				 (unsigned long long)cases[i].avail,
				 (unsigned long long)cases[i].max);
	}
	/* Over-allocated (a config change shrank the pool): 0, never a wrapped figure. */
	{
		json_t *o =
			json_loads("{\"pools\":[{\"name\":\"/p\",\"fstype\":\"ext4\",\"state\":"
				   "\"ready\",\"allocatable_bytes\":100,\"allocated_bytes\":200}]}",
				   0, NULL);
		struct csi_params p = {.numa_node = -1};

		csi_map_pool_capacity(o, &p, NULL, &avail, &max);
		assert_int_equal(avail, 0);
		assert_int_equal(max, 0);
		json_decref(o);
	}
	json_decref(pools);
}

static void test_pool_choice(void **state)
{
	json_t *pools = json_loads(POOLS, 0, NULL);
	struct csi_params p = {.numa_node = -1};
	size_t n_match, n_other;
	const char *first, *tightest;

	(void)state;
	csi_map_pool_choice(pools, &p, "xfs", 1 << 20, &n_match, &n_other, &first, &tightest);
	assert_int_equal(n_match, 1);
	assert_int_equal(n_other, 1);
	assert_string_equal(first, "/mnt/pmem1");
	assert_string_equal(tightest, "/mnt/pmem1");

	/* Too big for any: still counted, no tightest fit. */
	csi_map_pool_choice(pools, &p, "ext4", 4ull << 30, &n_match, &n_other, &first, &tightest);
	assert_int_equal(n_match, 1);
	assert_string_equal(first, "/mnt/pmem0");
	assert_null(tightest);

	/* On NUMA node 1 there is no ext4 pool. */
	p.numa_node = 1;
	csi_map_pool_choice(pools, &p, "ext4", 1, &n_match, &n_other, &first, &tightest);
	assert_int_equal(n_match, 0);
	assert_int_equal(n_other, 1);
	assert_null(first);
	json_decref(pools);
}

static void test_published_and_stats(void **state)
{
	json_t *pools = json_loads(POOLS, 0, NULL);
	json_t *v = json_loads(
		"{\"name\":\"pvc-1\",\"pool\":\"/mnt/pmem0\",\"size_bytes\":8388608,"
		"\"limit_bytes\":8396800,\"inodes\":0,\"used_bytes\":1056768,\"used_inodes\":3,"
		"\"published\":[{\"target_path\":\"/var/lib/kubelet/a\",\"readonly\":false},"
		"{\"target_path\":\"/var/lib/kubelet/b\",\"readonly\":true}]}",
		0, NULL);
	struct csi_stats st;
	bool ro = true;

	(void)state;
	assert_true(csi_map_published_at(v, "/var/lib/kubelet/a", &ro));
	assert_false(ro);
	assert_true(csi_map_published_at(v, "/var/lib/kubelet/b", &ro));
	assert_true(ro);
	assert_false(csi_map_published_at(v, "/var/lib/kubelet", NULL));
	assert_false(csi_map_published_at(v, NULL, NULL));
	assert_ptr_equal(csi_map_find_pool(pools, "mnt-pmem1"),
			 csi_map_find_pool(pools, "/mnt/pmem1"));
	assert_non_null(csi_map_find_pool(pools, "mnt-pmem1"));
	assert_null(csi_map_find_pool(pools, "pmem1"));
	assert_null(csi_map_find_pool(pools, NULL));

	/* df inside the volume: Size the quota, Avail what is left; inodes: the pool's. */
	csi_map_stats(v, csi_map_find_pool(pools, "/mnt/pmem0"), NULL, &st);
	assert_false(st.abnormal);
	assert_int_equal(st.bytes_total, 8396800);
	assert_int_equal(st.bytes_used, 1056768);
	assert_int_equal(st.bytes_available, 8396800 - 1056768);
	assert_int_equal(st.inodes_total, 65536);
	assert_int_equal(st.inodes_used, 3);
	assert_int_equal(st.inodes_available, 65000);

	/* The target's own figures, when the node read them, win over pmemd's last pass. */
	{
		struct csi_fs_inodes live = {.total = 70000, .free = 64990};

		csi_map_stats(v, csi_map_find_pool(pools, "/mnt/pmem0"), &live, &st);
		assert_int_equal(st.inodes_total, 70000);
		assert_int_equal(st.inodes_available, 64990);
		assert_int_equal(st.inodes_used, 3);
	}

	/* With an inode limit, the limit (whatever the filesystem has). */
	{
		struct csi_fs_inodes live = {.total = 70000, .free = 64990};

		json_object_set_new(v, "inodes", json_integer(10));
		csi_map_stats(v, NULL, &live, &st);
		assert_int_equal(st.inodes_total, 10);
	}
	json_object_set_new(v, "inodes", json_integer(10));
	csi_map_stats(v, NULL, NULL, &st);
	assert_int_equal(st.inodes_total, 10);
	assert_int_equal(st.inodes_available, 7);

	/* Usage above the quota (a shrink in flight): available 0, not negative. */
	json_object_set_new(v, "used_bytes", json_integer(9000000));
	csi_map_stats(v, NULL, NULL, &st);
	assert_int_equal(st.bytes_available, 0);

	/* pmemd could not read the quota: abnormal, with the reason. */
	json_object_set_new(v, "used_bytes", json_null());
	csi_map_stats(v, NULL, NULL, &st);
	assert_true(st.abnormal);
	assert_string_equal(st.message, "pmemd cannot read the volume's quota usage");
	json_decref(v);
	json_decref(pools);
}

/* ---- hostile wire input ------------------------------------------------- */

static void test_check_strings(void **state)
{
	Csi__V1__CreateVolumeRequest req = CSI__V1__CREATE_VOLUME_REQUEST__INIT;
	Csi__V1__CreateVolumeRequest__ParametersEntry
		e = CSI__V1__CREATE_VOLUME_REQUEST__PARAMETERS_ENTRY__INIT,
		*ep = &e;
	uint8_t buf[512];
	size_t n;
	char err[200];
	char *p;

	(void)state;
	req.name = (char *)"pvc-1XYZ";
	e.key = (char *)"fstype";
	e.value = (char *)"ext4";
	req.n_parameters = 1;
	req.parameters = &ep;
	n = csi__v1__create_volume_request__pack(&req, buf);
	assert_int_equal(csi_map_check_strings(&csi__v1__create_volume_request__descriptor, buf, n,
					       err, sizeof(err)),
			 0);

	/* The name "pvc-1\0YZ": protobuf-c would hand over "pvc-1". */
	p = memmem(buf, n, "XYZ", 3);
	assert_non_null(p);
	*p = '\0';
	assert_int_equal(csi_map_check_strings(&csi__v1__create_volume_request__descriptor, buf, n,
					       err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "string field CreateVolumeRequest.name has a NUL byte");
	*p = 'X';

	/* A NUL inside a map entry (a nested message) is found too. */
	p = memmem(buf, n, "ext4", 4);
	p[3] = '\0';
	assert_int_equal(csi_map_check_strings(&csi__v1__create_volume_request__descriptor, buf, n,
					       err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "string field ParametersEntry.value has a NUL byte");

	/* Truncated or garbage input is the unpacker's to refuse: no crash, no overread. */
	for (size_t cut = 0; cut < n; cut++)
		csi_map_check_strings(&csi__v1__create_volume_request__descriptor, buf, cut, err,
				      sizeof(err));
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(csi_map_check_strings(&csi__v1__create_volume_request__descriptor, buf,
					       sizeof(buf), err, sizeof(err)),
			 0);
	assert_int_equal(csi_map_check_strings(&csi__v1__create_volume_request__descriptor, buf, 0,
					       err, sizeof(err)),
			 0);
}

/*
 * fuzz-csi-map found it (test/fuzz/regressions/fuzz-csi-map/pool-not-utf8): protobuf-c does
 * not check that proto3 strings are UTF-8, so a StorageClass parameter "pool": "/mnt\xc0pmem0"
 * reached csi_map_create_body, jansson refused the string and the create failed as "out of
 * memory" (INTERNAL). The wire check now refuses it (INVALID_ARGUMENT), naming the field.
 */
static void test_check_strings_utf8(void **state)
{
	Csi__V1__CreateVolumeRequest req = CSI__V1__CREATE_VOLUME_REQUEST__INIT;
	Csi__V1__CreateVolumeRequest__ParametersEntry
		e = CSI__V1__CREATE_VOLUME_REQUEST__PARAMETERS_ENTRY__INIT,
		*ep = &e;
	static const char *const bad[] = {
		"/mnt\xc0pmem0",    /* the fuzzer's: 0xc0 starts no valid sequence */
		"\xc0\xaf",	    /* overlong '/' */
		"\xed\xa0\x80",	    /* a UTF-16 surrogate */
		"\xf4\x90\x80\x80", /* past U+10FFFF */
		"ab\xe2\x82",	    /* cut at the end */
		"\x80",		    /* a lone continuation byte */
	};
	uint8_t buf[512];
	size_t n;
	char err[200];

	(void)state;
	req.name = (char *)"pvc-1";
	e.key = (char *)"pool";
	req.n_parameters = 1;
	req.parameters = &ep;
	for (size_t i = 0; i < N_OF(bad); i++) {
		e.value = (char *)bad[i];
		n = csi__v1__create_volume_request__pack(&req, buf);
		assert_int_equal(csi_map_check_strings(&csi__v1__create_volume_request__descriptor,
						       buf, n, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "string field ParametersEntry.value is not valid UTF-8");
	}
	/* Valid 2-, 3- and 4-byte characters pass, in the name too. */
	req.name = (char *)"caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80";
	e.value = (char *)"/mnt/pmem0";
	n = csi__v1__create_volume_request__pack(&req, buf);
	assert_int_equal(csi_map_check_strings(&csi__v1__create_volume_request__descriptor, buf, n,
					       err, sizeof(err)),
			 0);
	req.name = (char *)"pvc\xff";
	n = csi__v1__create_volume_request__pack(&req, buf);
	assert_int_equal(csi_map_check_strings(&csi__v1__create_volume_request__descriptor, buf, n,
					       err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "string field CreateVolumeRequest.name is not valid UTF-8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_volume_id),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_size_fits),
		cmocka_unit_test(test_params_good),
		cmocka_unit_test(test_params_bad),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_path_normalised),
		cmocka_unit_test(test_create_body),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_volume),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_pool_capacity),
		cmocka_unit_test(test_pool_choice),
		cmocka_unit_test(test_published_and_stats),
		cmocka_unit_test(test_check_strings),
		cmocka_unit_test(test_check_strings_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
