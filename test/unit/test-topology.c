/* test-topology: the pure half of topology/: NUMA cross-check, lookups, distances, JSON shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/topology.h"

/* ---- hand-made snapshots ---- */

static void add_numa(struct topology_snapshot *s, int id, unsigned n_cpus, unsigned first_cpu)
{
	struct topology_numa_node *n;

	s->numa = realloc(s->numa, (s->n_numa + 1) * sizeof(*s->numa));
	assert_non_null(s->numa);
	n = &s->numa[s->n_numa++];
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->n_cpus = n_cpus;
	n->cpus = n_cpus ? calloc(n_cpus, sizeof(*n->cpus)) : NULL;
	for (unsigned i = 0; i < n_cpus; i++)
		n->cpus[i] = first_cpu + i;
	n->mem_total = 1ULL << 30;
	n->mem_free = 512ULL << 20;
}

/* Distances: 10 local, `far` between distinct nodes. */
static void set_distances(struct topology_snapshot *s, unsigned far)
{
	free(s->distance);
	s->distance = calloc(s->n_numa * s->n_numa, sizeof(*s->distance));
	assert_non_null(s->distance);
	for (size_t i = 0; i < s->n_numa; i++)
		for (size_t j = 0; j < s->n_numa; j++)
			s->distance[i * s->n_numa + j] = i == j ? 10 : far;
}

static void add_dimm(struct topology_snapshot *s, const char *dev, int node)
{
	struct topology_dimm *d;

	s->dimms = realloc(s->dimms, (s->n_dimms + 1) * sizeof(*s->dimms));
	assert_non_null(s->dimms);
	d = &s->dimms[s->n_dimms++];
	memset(d, 0, sizeof(*d));
	snprintf(d->dev, sizeof(d->dev), "%s", dev);
	d->numa_node = node;
	d->handle = (unsigned)s->n_dimms;
}

static struct topology_region *add_region(struct topology_snapshot *s, const char *dev,
					  int numa_node, int target_node, const char *dimm)
{
	struct topology_region *r;

	s->regions = realloc(s->regions, (s->n_regions + 1) * sizeof(*s->regions));
	assert_non_null(s->regions);
	r = &s->regions[s->n_regions++];
	memset(r, 0, sizeof(*r));
	snprintf(r->dev, sizeof(r->dev), "%s", dev);
	snprintf(r->type, sizeof(r->type), "pmem");
	snprintf(r->persistence_domain, sizeof(r->persistence_domain), "unknown");
	r->size = 2ULL << 30;
	r->available_size = 2ULL << 30;
	r->max_available_extent = 2ULL << 30;
	r->align = 16ULL << 20;
	r->numa_node = numa_node;
	r->target_node = target_node;
	r->interleave_ways = 1;
	if (dimm) {
		r->mappings = calloc(1, sizeof(*r->mappings));
		assert_non_null(r->mappings);
		snprintf(r->mappings[0].dimm, sizeof(r->mappings[0].dimm), "%s", dimm);
		r->mappings[0].length = r->size;
		r->n_mappings = 1;
	}
	return r;
}

/* Two CPU nodes at distance 21, as the emulated node has them. */
static struct topology_snapshot *two_nodes(void)
{
	struct topology_snapshot *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	add_numa(s, 0, 1, 0);
	add_numa(s, 1, 1, 1);
	set_distances(s, 21);
	return s;
}

/* ---- check_numa ---- */

struct numa_case {
	const char *name;
	int numa_node, target_node, dimm_node;
	bool cpuless_node2; /* add node 2 without CPUs (memory mode) */
	bool node2_offline; /* target 2 not in the snapshot at all */
	const char *want;   /* "" = no warning */
};

static const struct numa_case numa_cases[] = {
	{"all agree", 0, 0, 0, false, false, ""},
	{"dimm node unknown: skipped", 1, 1, TOPO_NO_NODE, false, false, ""},
	{"target unknown, dimm agrees with numa_node", 0, TOPO_NO_NODE, 0, false, false, ""},
	{"everything unknown", TOPO_NO_NODE, TOPO_NO_NODE, TOPO_NO_NODE, false, false, ""},
	{"the issue's example", 0, 1, 1, false, false,
	 "region0: numa_node 0 but target_node 1 and dimms nmem0 on node 1"},
	{"target disagrees, dimm unknown", 0, 1, TOPO_NO_NODE, false, false,
	 "region0: numa_node 0 but target_node 1"},
	{"only the dimm disagrees", 0, 0, 1, false, false,
	 "region0: numa_node 0 but dimms nmem0 on node 1"},
	{"numa_node unknown but target known", TOPO_NO_NODE, 1, TOPO_NO_NODE, false, false,
	 "region0: numa_node unknown but target_node 1"},
	{"target unknown, dimm disagrees with numa_node", 0, TOPO_NO_NODE, 1, false, false,
	 "region0: numa_node 0 but dimms nmem0 on node 1"},
	/* Memory mode: the PMEM is its own CPU-less node; numa_node is its nearest CPU node. */
	{"cpu-less target, nearest cpu node", 0, 2, 2, true, false, ""},
	{"cpu-less target not yet online", 0, 2, TOPO_NO_NODE, false, true, ""},
	{"cpu-less target, dimm elsewhere", 0, 2, 1, true, false,
	 "region0: numa_node 0 but dimms nmem0 on node 1"},
};

static void test_check_numa_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(numa_cases) / sizeof(numa_cases[0]); i++) {
		const struct numa_case *c = &numa_cases[i];
		struct topology_snapshot *s = two_nodes();
		struct topology_region *r;

		if (c->cpuless_node2) {
			add_numa(s, 2, 0, 0);
			set_distances(s, 21);
			/* node 2 is nearer to node 0 than to node 1 */
			s->distance[2 * 3 + 1] = s->distance[1 * 3 + 2] = 31;
		}
		add_dimm(s, "nmem0", c->dimm_node);
		r = add_region(s, "region0", c->numa_node, c->target_node, "nmem0");
		snprintf(r->warning, sizeof(r->warning), "stale");
		topology_check_numa(s);
		if (strcmp(s->regions[0].warning, c->want) != 0)
			fprintf(stderr, "case '%s': got '%s', want '%s'\n", c->name,
				s->regions[0].warning, c->want);
		assert_string_equal(s->regions[0].warning, c->want);
		topology_snapshot_free(s);
	}
}

/* numa_node names a CPU-less target's far CPU node instead of its nearest one. */
static void test_check_numa_not_nearest(void **state)
{
	struct topology_snapshot *s = two_nodes();

	(void)state;
	add_numa(s, 2, 0, 0);
	set_distances(s, 21);
	s->distance[2 * 3 + 1] = s->distance[1 * 3 + 2] = 31;
	add_region(s, "region3", 1, 2, NULL);
	topology_check_numa(s);
	assert_string_equal(s->regions[0].warning,
			    "region3: numa_node 1 but target_node 2 whose nearest CPU node is 0");
	topology_snapshot_free(s);
}

/* Without any NUMA facts a differing target counts as a disagreement (strict, not silent). */
static void test_check_numa_no_numa_facts(void **state)
{
	struct topology_snapshot *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	add_region(s, "region0", 0, 1, NULL);
	add_region(s, "region1", 1, 1, NULL);
	topology_check_numa(s);
	assert_string_equal(s->regions[0].warning, "region0: numa_node 0 but target_node 1");
	assert_string_equal(s->regions[1].warning, "");
	topology_check_numa(NULL);
	topology_snapshot_free(s);
}

/* Several DIMMs: only those that disagree are named, in mapping order. */
static void test_check_numa_several_dimms(void **state)
{
	struct topology_snapshot *s = two_nodes();
	struct topology_region *r;

	(void)state;
	add_dimm(s, "nmem0", 0);
	add_dimm(s, "nmem1", 1);
	add_dimm(s, "nmem2", TOPO_NO_NODE);
	add_dimm(s, "nmem3", 1);
	r = add_region(s, "region0", 0, 0, NULL);
	r->mappings = calloc(4, sizeof(*r->mappings));
	assert_non_null(r->mappings);
	for (int i = 0; i < 4; i++) {
		snprintf(r->mappings[i].dimm, sizeof(r->mappings[i].dimm), "nmem%d", i);
		r->mappings[i].position = i;
	}
	r->n_mappings = 4;
	r->interleave_ways = 4;
	topology_check_numa(s);
	assert_string_equal(s->regions[0].warning,
			    "region0: numa_node 0 but dimms nmem1 on node 1, nmem3 on node 1");
	topology_snapshot_free(s);
}

/* ---- lookups ---- */

static void test_find_and_distance(void **state)
{
	struct topology_snapshot *s = two_nodes();

	(void)state;
	add_numa(s, 3, 0, 0); /* ids need not be contiguous */
	set_distances(s, 21);
	s->distance[0 * 3 + 2] = 17;
	add_region(s, "region0", 0, 0, NULL);
	add_region(s, "region1", 1, 1, NULL);

	assert_ptr_equal(topology_find_region(s, "region1"), &s->regions[1]);
	assert_null(topology_find_region(s, "region2"));
	assert_null(topology_find_region(s, NULL));
	assert_null(topology_find_region(NULL, "region0"));
	assert_ptr_equal(topology_find_numa(s, 3), &s->numa[2]);
	assert_null(topology_find_numa(s, 2));
	assert_null(topology_find_numa(s, TOPO_NO_NODE));

	assert_int_equal(topology_distance(s, 0, 0), 10);
	assert_int_equal(topology_distance(s, 0, 1), 21);
	assert_int_equal(topology_distance(s, 0, 3), 17);
	assert_int_equal(topology_distance(s, 3, 0), 21);
	assert_int_equal(topology_distance(s, 0, 2), 0);
	assert_int_equal(topology_distance(s, TOPO_NO_NODE, 0), 0);
	assert_int_equal(topology_distance(NULL, 0, 0), 0);
	free(s->distance);
	s->distance = NULL;
	assert_int_equal(topology_distance(s, 0, 1), 0);
	topology_snapshot_free(s);
	assert_null(topology_snapshot_free(NULL));
}

static void test_mode_names(void **state)
{
	(void)state;
	assert_string_equal(topology_ns_mode_name(TOPO_NS_RAW), "raw");
	assert_string_equal(topology_ns_mode_name(TOPO_NS_SECTOR), "sector");
	assert_string_equal(topology_ns_mode_name(TOPO_NS_FSDAX), "fsdax");
	assert_string_equal(topology_ns_mode_name(TOPO_NS_DEVDAX), "devdax");
	assert_string_equal(topology_ns_mode_name(TOPO_NS_UNKNOWN), "unknown");
	assert_string_equal(topology_ns_mode_name((enum topology_ns_mode)42), "unknown");
}

/* ---- JSON ---- */

/* Canonical comparison: both sides parsed and dumped compact with sorted keys. */
static void assert_json(json_t *got, const char *want)
{
	json_error_t e;
	json_t *w = json_loads(want, 0, &e);
	char *g, *ws;

	if (!w)
		fprintf(stderr, "bad expected JSON at %d: %s\n", e.position, e.text);
	assert_non_null(w);
	assert_non_null(got);
	g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
	ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
	if (strcmp(g, ws) != 0)
		fprintf(stderr, "got:  %s\nwant: %s\n", g, ws);
	assert_string_equal(g, ws);
	free(g);
	free(ws);
	json_decref(w);
	json_decref(got);
}

static struct topology_snapshot *full_snapshot(void)
{
	struct topology_snapshot *s = two_nodes();
	struct topology_region *r;

	s->buses = calloc(1, sizeof(*s->buses));
	assert_non_null(s->buses);
	snprintf(s->buses[0].dev, sizeof(s->buses[0].dev), "ndbus0");
	snprintf(s->buses[0].provider, sizeof(s->buses[0].provider), "ACPI.NFIT");
	s->n_buses = 1;
	add_dimm(s, "nmem0", TOPO_NO_NODE);
	snprintf(s->dimms[0].id, sizeof(s->dimms[0].id), "8680-56341200");
	add_dimm(s, "nmem1", 1);
	snprintf(s->dimms[1].health, sizeof(s->dimms[1].health), "ok");
	r = add_region(s, "region0", 0, 0, "nmem0");
	r->available_size = 0;
	r->max_available_extent = 0;
	add_region(s, "region1", TOPO_NO_NODE, 1, "nmem1");

	s->namespaces = calloc(2, sizeof(*s->namespaces));
	assert_non_null(s->namespaces);
	s->n_namespaces = 2;
	snprintf(s->namespaces[0].dev, TOPO_NAME_MAX, "namespace0.0");
	snprintf(s->namespaces[0].region, TOPO_NAME_MAX, "region0");
	s->namespaces[0].mode = TOPO_NS_FSDAX;
	s->namespaces[0].size = 2111832064;
	s->namespaces[0].align = 2 << 20;
	snprintf(s->namespaces[0].uuid, sizeof(s->namespaces[0].uuid),
		 "11890747-295e-4c77-b1b8-1dd6636fb3f0");
	snprintf(s->namespaces[0].blockdev, TOPO_NAME_MAX, "pmem0");
	s->namespaces[0].numa_node = 0;
	s->namespaces[0].enabled = true;
	snprintf(s->namespaces[1].dev, TOPO_NAME_MAX, "namespace1.0");
	snprintf(s->namespaces[1].region, TOPO_NAME_MAX, "region1");
	s->namespaces[1].mode = TOPO_NS_DEVDAX;
	s->namespaces[1].size = 2111832064;
	s->namespaces[1].align = 2 << 20;
	snprintf(s->namespaces[1].chardev, TOPO_NAME_MAX, "dax1.0");
	s->namespaces[1].numa_node = TOPO_NO_NODE;

	s->daxes = calloc(1, sizeof(*s->daxes));
	assert_non_null(s->daxes);
	s->n_daxes = 1;
	snprintf(s->daxes[0].dev, TOPO_NAME_MAX, "dax1.0");
	snprintf(s->daxes[0].region, TOPO_NAME_MAX, "region1");
	s->daxes[0].size = 2111832064;
	s->daxes[0].target_node = 1;
	snprintf(s->daxes[0].mode, sizeof(s->daxes[0].mode), "system-ram");
	s->daxes[0].movable = true;
	topology_check_numa(s);
	return s;
}

static void test_json_regions(void **state)
{
	struct topology_snapshot *s = full_snapshot();

	(void)state;
	assert_json(
		topology_regions_to_json(s),
		"[{\"dev\":\"region0\",\"type\":\"pmem\",\"size\":2147483648,"
		"\"available_size\":0,\"max_available_extent\":0,\"align\":16777216,"
		"\"numa_node\":0,\"target_node\":0,\"persistence_domain\":\"unknown\","
		"\"interleave_ways\":1,\"readonly\":false,\"mappings\":[{\"dimm\":\"nmem0\","
		"\"offset\":0,\"length\":2147483648,\"position\":0}]},"
		"{\"dev\":\"region1\",\"type\":\"pmem\",\"size\":2147483648,"
		"\"available_size\":2147483648,\"max_available_extent\":2147483648,"
		"\"align\":16777216,\"numa_node\":null,\"target_node\":1,"
		"\"persistence_domain\":\"unknown\",\"interleave_ways\":1,\"readonly\":false,"
		"\"mappings\":[{\"dimm\":\"nmem1\",\"offset\":0,\"length\":2147483648,"
		"\"position\":0}],\"warning\":\"region1: numa_node unknown but target_node 1\"}]");
	assert_json(topology_regions_to_json(NULL), "[]");
	topology_snapshot_free(s);
}

static void test_json_namespaces(void **state)
{
	struct topology_snapshot *s = full_snapshot();

	(void)state;
	assert_json(topology_namespaces_to_json(s),
		    "[{\"dev\":\"namespace0.0\",\"region\":\"region0\",\"mode\":\"fsdax\","
		    "\"size\":2111832064,\"uuid\":\"11890747-295e-4c77-b1b8-1dd6636fb3f0\","
		    "\"align\":2097152,\"blockdev\":\"pmem0\",\"numa_node\":0,\"enabled\":true},"
		    "{\"dev\":\"namespace1.0\",\"region\":\"region1\",\"mode\":\"devdax\","
		    "\"size\":2111832064,\"align\":2097152,\"chardev\":\"dax1.0\","
		    "\"numa_node\":null,\"enabled\":false}]");
	topology_snapshot_free(s);
}

static void test_json_numa(void **state)
{
	struct topology_snapshot *s = full_snapshot();

	(void)state;
	add_numa(s, 2, 0, 0);
	set_distances(s, 21);
	assert_json(topology_numa_to_json(s),
		    "{\"nodes\":[{\"id\":0,\"cpus\":[0],\"has_cpus\":true,\"mem_total\":1073741824,"
		    "\"mem_free\":536870912},{\"id\":1,\"cpus\":[1],\"has_cpus\":true,"
		    "\"mem_total\":1073741824,\"mem_free\":536870912},{\"id\":2,\"cpus\":[],"
		    "\"has_cpus\":false,\"mem_total\":1073741824,\"mem_free\":536870912}],"
		    "\"distances\":[[10,21,21],[21,10,21],[21,21,10]]}");
	assert_json(topology_numa_to_json(NULL), "{\"nodes\":[],\"distances\":[]}");
	topology_snapshot_free(s);
}

static void test_json_snapshot(void **state)
{
	struct topology_snapshot *s = full_snapshot();
	json_t *j;

	(void)state;
	assert_int_equal(s->n_warnings, 0);
	s->warnings = calloc(2, sizeof(*s->warnings));
	assert_non_null(s->warnings);
	s->warnings[0] = strdup("libnuma: NUMA is not available on this kernel");
	s->n_warnings = 1;
	j = topology_snapshot_to_json(s);
	assert_non_null(j);
	/* The parts are tested above; here the envelope and the small objects. */
	assert_json(json_incref(json_object_get(j, "buses")),
		    "[{\"dev\":\"ndbus0\",\"provider\":\"ACPI.NFIT\"}]");
	assert_json(json_incref(json_object_get(j, "dimms")),
		    "[{\"dev\":\"nmem0\",\"id\":\"8680-56341200\",\"handle\":1,\"phys_id\":0,"
		    "\"numa_node\":null},{\"dev\":\"nmem1\",\"handle\":2,\"phys_id\":0,"
		    "\"numa_node\":1,\"health\":\"ok\"}]");
	assert_json(json_incref(json_object_get(j, "daxes")),
		    "[{\"dev\":\"dax1.0\",\"region\":\"region1\",\"size\":2111832064,"
		    "\"target_node\":1,\"mode\":\"system-ram\",\"movable\":true}]");
	assert_json(json_incref(json_object_get(j, "warnings")),
		    "[\"libnuma: NUMA is not available on this kernel\"]");
	assert_int_equal(json_object_size(j), 7);
	assert_true(json_is_array(json_object_get(j, "regions")));
	assert_true(json_is_array(json_object_get(j, "namespaces")));
	assert_true(json_is_object(json_object_get(j, "numa")));
	json_decref(j);
	topology_snapshot_free(s);

	/* An empty snapshot still has every key. */
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_json(topology_snapshot_to_json(s),
		    "{\"buses\":[],\"dimms\":[],\"regions\":[],\"namespaces\":[],\"daxes\":[],"
		    "\"numa\":{\"nodes\":[],\"distances\":[]},\"warnings\":[]}");
	topology_snapshot_free(s);
}

/* Sizes beyond what JSON integers hold are clamped, never wrapped negative. */
static void test_json_huge_size(void **state)
{
	struct topology_snapshot *s = calloc(1, sizeof(*s));
	json_t *j;

	(void)state;
	assert_non_null(s);
	add_region(s, "region0", 0, 0, NULL)->size = UINT64_MAX;
	j = topology_regions_to_json(s);
	assert_true(json_integer_value(json_object_get(json_array_get(j, 0), "size")) == INT64_MAX);
	json_decref(j);
	topology_snapshot_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_numa_table),
		cmocka_unit_test(test_check_numa_not_nearest),
		cmocka_unit_test(test_check_numa_no_numa_facts),
		cmocka_unit_test(test_check_numa_several_dimms),
		cmocka_unit_test(test_find_and_distance),
		cmocka_unit_test(test_mode_names),
		cmocka_unit_test(test_json_regions),
		cmocka_unit_test(test_json_namespaces),
		cmocka_unit_test(test_json_numa),
		cmocka_unit_test(test_json_snapshot),
		cmocka_unit_test(test_json_huge_size),
	};

	return cmocka_run_group_tests_name("topology", tests, NULL, NULL);
}
