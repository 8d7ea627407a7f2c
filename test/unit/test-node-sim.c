/* test-node-sim: the simulated node: the simulate: key, its record, its volumes (quota-sim). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config-simulate.h"
#include "config/config.h"
#include "quota/quota-sim.h"
#include "quota/quota-volumes.h"
#include "support.h"
#include "topology/topology.h"

#define GI (1LL << 30)

static const char cluster[] = "nodes:\n"
			      "  - name: big\n"
			      "    labels: {zone: a, kubernetes.io/hostname: ignored}\n"
			      "    numa_nodes:\n"
			      "      - id: 0\n"
			      "        cpus: 4\n"
			      "        cpus_exclusive: 2\n"
			      "        pools: [{name: /mnt/pmem0, size: 64Gi}]\n"
			      "      - id: 1\n"
			      "        cpus: 2\n"
			      "        distances: {0: 31}\n"
			      "        pools:\n"
			      "          - {name: /mnt/pmem1, size: 32Gi, fstype: xfs}\n"
			      "          - {name: /mnt/pmem2, size: 24Gi, allocated: 4Gi}\n"
			      "      - id: 2\n"
			      "        cpus: 0\n"
			      "  - name: small\n"
			      "    replicas: 3\n"
			      "    numa_nodes:\n"
			      "      - {id: 0, cpus: 2, pools: [{name: /mnt/pmem0, size: 8Gi}]}\n";

/* The errors of a config that must not parse, one "line:col: message" per line. */
static char *errors_of(const char *yaml)
{
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	int r = config_parse("t.yaml", yaml, strlen(yaml), NULL, &cfg, &errs);

	assert_int_equal(r, -EINVAL);
	assert_null(cfg);
	config_errors_print(errs, f);
	fclose(f);
	config_errors_free(errs);
	return out;
}

static void assert_has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("%s\nhas no \"%s\"", text, want);
}

/* ---- the simulate: key ---- */

static void key_parses_and_dumps(void **state)
{
	struct config *cfg = cfg_of("node_name: n1\n"
				    "simulate:\n"
				    "  file: /etc/pmemd/cluster.yaml\n"
				    "  node: big\n");
	json_t *j = config_to_json(cfg);
	char *s = json_dumps(json_object_get(j, "simulate"), JSON_COMPACT | JSON_SORT_KEYS);
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);
	struct config *back;

	(void)state;
	assert_string_equal(cfg->simulate.file, "/etc/pmemd/cluster.yaml");
	assert_string_equal(cfg->simulate.node, "big");
	assert_string_equal(s, "{\"file\":\"/etc/pmemd/cluster.yaml\",\"node\":\"big\"}");
	assert_int_equal(config_write_yaml(cfg, f), 0);
	fclose(f);
	assert_has(yaml, "simulate:\n  file: /etc/pmemd/cluster.yaml\n  node: big\n");
	back = cfg_of(yaml);
	assert_string_equal(back->simulate.file, "/etc/pmemd/cluster.yaml");
	assert_string_equal(back->simulate.node, "big");
	free(yaml);
	free(s);
	json_decref(j);
	config_free(back);
	config_free(cfg);
}

static void key_absent_is_a_real_node(void **state)
{
	struct config *cfg = cfg_of("node_name: n1\n");
	json_t *j = config_to_json(cfg);

	(void)state;
	assert_null(cfg->simulate.file);
	assert_null(cfg->simulate.node);
	assert_true(json_is_null(json_object_get(j, "simulate")));
	json_decref(j);
	config_free(cfg);
}

static void key_errors_are_positioned(void **state)
{
	char *e;

	(void)state;
	e = errors_of("simulate:\n  node: big\n");
	assert_has(e, "t.yaml:2:3: simulate: file is missing");
	free(e);
	e = errors_of("simulate: {file: cluster.yaml, node: Big_One, colour: red}\n");
	assert_has(e, "t.yaml:1:18: simulate.file: must be an absolute path");
	assert_has(e, "simulate.node: must be a DNS subdomain");
	assert_has(e, "simulate: unknown key \"colour\"");
	free(e);
	e = errors_of("simulate: /etc/pmemd/cluster.yaml\n");
	assert_has(e, "t.yaml:1:11: simulate:");
	free(e);
	e = errors_of("role: scheduler\nsimulate: {file: /c.yaml}\n");
	assert_has(e, "t.yaml:2:1: simulate: needs role: node");
	free(e);
	e = errors_of("pools:\n  - name: /mnt/pmem0\n    regions: [region0]\n"
		      "simulate: {file: /c.yaml}\n");
	assert_has(e, "t.yaml:1:1: pools: simulate and pools exclude each other");
	free(e);
}

static void key_needs_a_restart(void **state)
{
	struct config *a = cfg_of("simulate: {file: /a.yaml}\n");
	struct config *b = cfg_of("simulate: {file: /a.yaml, node: x}\n");
	struct config *c = cfg_of("log_level: debug\nsimulate: {file: /a.yaml}\n");
	struct config *d = cfg_of("node_name: x\nsimulate: {file: /a.yaml}\n");
	struct config *e = cfg_of("node_name: y\nsimulate: {file: /a.yaml, node: x}\n");
	struct config *r1 = cfg_of("node_name: x\n"), *r2 = cfg_of("node_name: y\n");
	char keys[256];

	(void)state;
	assert_int_equal(config_restart_keys(a, b, keys, sizeof(keys)), 1);
	assert_string_equal(keys, "simulate");
	assert_int_equal(config_restart_keys(a, c, keys, sizeof(keys)), 0);
	/* Without simulate.node, a new node_name is another node of the description. */
	assert_int_equal(config_restart_keys(b, d, keys, sizeof(keys)), 0);
	assert_int_equal(config_restart_keys(d, b, keys, sizeof(keys)), 0);
	assert_int_equal(config_restart_keys(d, e, keys, sizeof(keys)), 0);
	free(d->node_name);
	d->node_name = strdup("z");
	assert_int_equal(config_restart_keys(e, d, keys, sizeof(keys)), 1);
	assert_string_equal(keys, "simulate");
	/* A real node's name is live. */
	assert_int_equal(config_restart_keys(r1, r2, keys, sizeof(keys)), 0);
	config_free(a);
	config_free(b);
	config_free(c);
	config_free(d);
	config_free(e);
	config_free(r1);
	config_free(r2);
}

/* ---- picking a node out of the description ---- */

static json_t *records(void)
{
	struct config_errors *errs = NULL;
	json_t *recs = NULL;

	assert_int_equal(config_simulate_parse("c.yaml", cluster, strlen(cluster), &recs, &errs),
			 0);
	config_errors_free(errs);
	return recs;
}

static void pick_by_name(void **state)
{
	json_t *recs = records(), *rec = NULL;
	struct config_errors *errs = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(config_simulate_node_pick("c.yaml", recs, "small-2", &rec, &errs), 0);
	assert_string_equal(json_string_value(json_object_get(rec, "node")), "small-2");
	config_errors_free(errs);
	json_decref(rec);
	rec = NULL;
	assert_int_equal(config_simulate_node_pick("c.yaml", recs, "huge", &rec, &errs), -ENOENT);
	assert_null(rec);
	f = open_memstream(&out, &len);
	config_errors_print(errs, f);
	fclose(f);
	assert_string_equal(out, "c.yaml: node \"huge\" is not in the cluster description (its 4 "
				 "nodes: big, small-0, small-1, small-2); set simulate.node or "
				 "node_name\n");
	free(out);
	config_errors_free(errs);
	json_decref(recs);
}

static void load_reports_file_errors(void **state)
{
	struct config_errors *errs = NULL;
	json_t *rec = NULL;

	(void)state;
	assert_int_equal(config_simulate_node_load("/nonexistent/c.yaml", "big", &rec, &errs),
			 -ENOENT);
	assert_null(rec);
	assert_int_equal(errs->count, 1);
	assert_has(errs->items[0].message, "cannot read the cluster description");
	config_errors_free(errs);
}

/* ---- the record ---- */

static struct topology_sim *sim_of(const char *node)
{
	json_t *recs = records(), *rec = NULL;
	struct config_errors *errs = NULL;
	struct topology_sim *sim = NULL;
	char err[256];

	assert_int_equal(config_simulate_node_pick("c.yaml", recs, node, &rec, &errs), 0);
	assert_int_equal(topology_sim_from_record(rec, &sim, err, sizeof(err)), 0);
	config_errors_free(errs);
	json_decref(rec);
	json_decref(recs);
	return sim;
}

static void sim_from_record(void **state)
{
	struct topology_sim *sim = sim_of("big");
	const struct topology_snapshot *s = sim->snap;

	(void)state;
	assert_int_equal(s->n_numa, 3);
	assert_int_equal(s->n_regions, 0);
	assert_int_equal(s->numa[0].n_cpus, 4);
	assert_int_equal(s->numa[1].n_cpus, 2);
	assert_int_equal(s->numa[1].cpus[0], 4); /* numbered on across the NUMA nodes */
	assert_int_equal(s->numa[2].n_cpus, 0);
	assert_int_equal(topology_distance(s, 1, 0), 31);
	assert_int_equal(topology_distance(s, 0, 1), 21);
	assert_int_equal(topology_distance(s, 2, 2), 10);
	assert_int_equal(sim->n_excl, 2);
	assert_int_equal(sim->excl[0], 0);
	assert_int_equal(sim->excl[1], 1);
	assert_int_equal(sim->n_pools, 3);
	assert_string_equal(sim->pools[1].name, "/mnt/pmem1");
	assert_string_equal(sim->pools[1].id, "mnt-pmem1");
	assert_int_equal(sim->pools[1].numa_node, 1);
	assert_int_equal(sim->pools[1].fstype, CONFIG_FS_XFS);
	assert_int_equal(sim->pools[1].state, POOL_READY);
	assert_true(sim->pools[1].simulated);
	/* allocated: in the description is held back from allocatable. */
	assert_int_equal(sim->pools[2].capacity_bytes, 24 * GI);
	assert_int_equal(sim->pools[2].allocatable_bytes, 20 * GI);
	assert_int_equal(sim->pools[2].allocated_bytes, 0);
	assert_string_equal(json_string_value(json_object_get(sim->labels, "zone")), "a");
	assert_null(json_object_get(sim->labels, "kubernetes.io/hostname"));
	topology_sim_free(sim);
}

static void sim_refuses_a_non_record(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"numa_nodes\": [], \"pools\": []}",
		"{\"numa_nodes\": [{\"id\": 0, \"cpus\": [\"x\"]}], \"pools\": []}",
		"{\"numa_nodes\": [{\"id\": 0, \"cpus\": []}], \"pools\": [{\"name\": \"/p\", "
		"\"fstype\": \"ext4\", \"numa_node\": 1, \"allocatable_bytes\": 5, "
		"\"allocated_bytes\": 0}]}",
		"{\"numa_nodes\": [{\"id\": 0, \"cpus\": []}], \"pools\": [{\"name\": \"p\", "
		"\"fstype\": \"ext4\", \"numa_node\": 0, \"allocatable_bytes\": 5, "
		"\"allocated_bytes\": 0}]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		struct topology_sim *sim = NULL;
		char err[256] = "";

		assert_non_null(j);
		assert_int_equal(topology_sim_from_record(j, &sim, err, sizeof(err)), -EINVAL);
		assert_null(sim);
		assert_has(err, "simulated node record: ");
		json_decref(j);
	}
}

/* A simulated node as pmemd.c wires it: the pool manager, and the volume service over it. */
struct simnode {
	struct config *cfg;
	struct topology_manager *m;
	struct quota_volumes *v;
	int passes;
};

static int sn_pools(void *ctx, struct quota_pool_info **out, size_t *n)
{
	struct simnode *sn = ctx;
	struct pool_status *st = NULL;
	struct quota_pool_info *v;
	size_t n_st = 0;

	assert_int_equal(topology_manager_pools(sn->m, &st, &n_st), 0);
	v = calloc(n_st + 1, sizeof(*v));
	for (size_t i = 0; i < n_st; i++) {
		snprintf(v[i].name, sizeof(v[i].name), "%s", st[i].name);
		snprintf(v[i].id, sizeof(v[i].id), "%s", st[i].id);
		v[i].numa_node = st[i].numa_node;
		v[i].fstype = st[i].fstype;
		v[i].allocatable_bytes = st[i].allocatable_bytes;
	}
	free(st);
	*out = v;
	*n = n_st;
	return 0;
}

static void sn_allocated(void *ctx, const char *pool, uint64_t bytes)
{
	topology_manager_set_allocated(((struct simnode *)ctx)->m, pool, bytes);
}

static void sn_reserved(void *ctx, const char *pool, uint64_t bytes)
{
	topology_manager_set_reserved(((struct simnode *)ctx)->m, pool, bytes);
}

static json_t *sn_record(void *ctx)
{
	return topology_manager_node_json(((struct simnode *)ctx)->m, NULL);
}

static void sn_pass(void *ctx, struct topology_manager *m)
{
	(void)m;
	((struct simnode *)ctx)->passes++;
}

static struct simnode *simnode_new(const char *node)
{
	struct simnode *sn = calloc(1, sizeof(*sn));
	char err[256];

	quota_sim_clear();
	sn->cfg = cfg_of("node_name: sim-1\nlabels: {zone: b, rack: r1}\n"
			 "simulate: {file: /c.yaml}\n");
	/* No kernel table at all: a simulated pass must never reach for one. */
	assert_int_equal(topology_manager_new(&sn->m, sn->cfg,
					      &(struct topology_manager_opts){
						      .ops = NULL,
						      .on_pass = sn_pass,
						      .ctx = sn,
						      .sim = sim_of(node),
					      },
					      false, err, sizeof(err)),
			 0);
	assert_int_equal(topology_manager_reconcile(sn->m, NULL), 0);
	assert_int_equal(
		quota_volumes_new(
			&(struct quota_volumes_opts){
				.ops = &quota_sim_ops,
				.publish_roots = (const char *const[]){"/var/lib/kubelet", NULL},
				.pools = sn_pools,
				.allocated = sn_allocated,
				.reserved = sn_reserved,
				.node_record = sn_record,
				.ctx = sn,
			},
			&sn->v, err, sizeof(err)),
		0);
	assert_int_equal(quota_volumes_sync(sn->v), 0);
	return sn;
}

static void simnode_free(struct simnode *sn)
{
	quota_volumes_free(sn->v);
	topology_manager_free(sn->m);
	config_free(sn->cfg);
	quota_sim_clear();
	free(sn);
}

static json_t *pool_of(json_t *rec, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach (json_object_get(rec, "pools"), i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
			return p;
	fail_msg("no pool %s", name);
	return NULL;
}

static void record_of_a_simulated_node(void **state)
{
	struct simnode *sn = simnode_new("big");
	json_t *rec = topology_manager_node_json(sn->m, NULL), *n0, *nrt;
	char *labels;

	(void)state;
	assert_true(sn->passes >= 1);
	assert_true(topology_manager_settled(sn->m));
	assert_true(json_is_true(json_object_get(rec, "simulated")));
	assert_string_equal(json_string_value(json_object_get(rec, "node")), "sim-1");
	labels = json_dumps(json_object_get(rec, "labels"), JSON_COMPACT | JSON_SORT_KEYS);
	/* The description's labels under the config's; the hostname is pmemd's own name. */
	assert_string_equal(
		labels, "{\"kubernetes.io/hostname\":\"sim-1\",\"rack\":\"r1\",\"zone\":\"b\"}");
	free(labels);
	assert_int_equal(json_array_size(json_object_get(rec, "numa_nodes")), 3);
	n0 = json_array_get(json_object_get(rec, "numa_nodes"), 0);
	assert_int_equal(json_array_size(json_object_get(n0, "cpus_exclusive")), 2);
	assert_int_equal(json_integer_value(json_object_get(n0, "pmem_allocatable_bytes")),
			 64 * GI);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_array_get(json_object_get(rec, "numa_nodes"), 1),
					"distances"),
			"0")),
		31);
	assert_true(json_is_true(json_object_get(pool_of(rec, "/mnt/pmem1"), "simulated")));
	assert_string_equal(
		json_string_value(json_object_get(pool_of(rec, "/mnt/pmem1"), "region")),
		"simulated");
	assert_true(json_is_null(json_object_get(pool_of(rec, "/mnt/pmem1"), "device")));
	json_decref(rec);
	nrt = topology_manager_nrt_json(sn->m, NULL);
	assert_int_equal(json_array_size(json_object_get(nrt, "zones")), 3);
	json_decref(nrt);
	/* A pass of a simulated node changes nothing; asking for an unknown pool is -ENOENT. */
	assert_int_equal(topology_manager_reconcile(sn->m, "/mnt/pmem1"), 0);
	assert_int_equal(topology_manager_reconcile(sn->m, "/mnt/nope"), -ENOENT);
	simnode_free(sn);
}

static void reload_keeps_the_simulated_pools(void **state)
{
	struct simnode *sn = simnode_new("small-1");
	struct config *next = cfg_of("node_name: sim-2\nlabels: {zone: c}\n"
				     "pools:\n  - name: /mnt/real\n    regions: [region0]\n");
	uint64_t g0, g1;
	json_t *rec = topology_manager_node_json(sn->m, &g0);

	(void)state;
	json_decref(rec);
	assert_int_equal(topology_manager_set_config(sn->m, next), 0);
	rec = topology_manager_node_json(sn->m, &g1);
	assert_true(g1 > g0);
	assert_string_equal(json_string_value(json_object_get(rec, "node")), "sim-2");
	assert_int_equal(json_array_size(json_object_get(rec, "pools")), 1);
	assert_string_equal(json_string_value(json_object_get(pool_of(rec, "/mnt/pmem0"), "name")),
			    "/mnt/pmem0");
	assert_true(json_is_true(json_object_get(rec, "simulated")));
	json_decref(rec);
	config_free(next);
	simnode_free(sn);
}

static json_t *body(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static int create(struct quota_volumes *v, const char *text, json_t **out, char *err, size_t len)
{
	struct quota_create_req *req = NULL;
	json_t *j = body(text);
	bool created;
	int r = quota_create_req_parse(j, quota_volumes_limits(v), &req, err, len);

	json_decref(j);
	if (r == 0)
		r = quota_volume_create(v, req, out, &created, err, len);
	quota_create_req_free(req);
	return r;
}

/* Reservations and volumes go through the volume service as on a real node. */
static void volumes_are_accounting_only(void **state)
{
	struct simnode *sn = simnode_new("big");
	json_t *out = NULL, *rec, *b;
	char err[512];
	bool created;
	struct quota_publish_req pub = {.readonly = false};

	(void)state;
	b = body("{\"pod_uid\": \"u1\", \"volumes\": [{\"size_bytes\": 17179869184, \"numa_node\": "
		 "1, \"claim\": \"ns/data\"}]}");
	assert_int_equal(quota_reservation_create(sn->v, b, &out, &created, err, sizeof(err)), 0);
	json_decref(b);
	json_decref(out);
	rec = topology_manager_node_json(sn->m, NULL);
	/* binpack: the fuller of NUMA node 1's pools that fits, pmem2 (20Gi allocatable). */
	assert_true(json_integer_value(json_object_get(pool_of(rec, "/mnt/pmem2"),
						       "reserved_bytes")) >= 16 * GI);
	json_decref(rec);

	assert_int_equal(create(sn->v,
				"{\"name\": \"data\", \"size_bytes\": 17179869184, "
				"\"claim\": \"ns/data\"}",
				&out, err, sizeof(err)),
			 0);
	assert_string_equal(json_string_value(json_object_get(out, "pool")), "/mnt/pmem2");
	assert_int_equal(json_integer_value(json_object_get(out, "used_bytes")), 0);
	json_decref(out);
	rec = topology_manager_node_json(sn->m, NULL);
	assert_int_equal(
		json_integer_value(json_object_get(pool_of(rec, "/mnt/pmem2"), "reserved_bytes")),
		0);
	assert_true(json_integer_value(json_object_get(pool_of(rec, "/mnt/pmem2"),
						       "allocated_bytes")) >= 16 * GI);
	json_decref(rec);
	assert_int_equal(quota_reservation_get(sn->v, "u1", &out, err, sizeof(err)), -ENOENT);

	/* The pool is full now: a volume that does not fit is refused by the ledger. */
	assert_int_equal(create(sn->v,
				"{\"name\": \"more\", \"size_bytes\": 8589934592, \"pool\": "
				"\"/mnt/pmem2\"}",
				&out, err, sizeof(err)),
			 -ENOSPC);

	/* No data, no mounts: publishing is refused, and says why. */
	snprintf(pub.target_path, sizeof(pub.target_path), "/var/lib/kubelet/pods/x/v");
	assert_int_equal(quota_volume_publish(sn->v, "data", &pub, &out, err, sizeof(err)),
			 -ENOTSUP);
	assert_has(err, "simulated node");

	/* A restart of the service over the same records finds the volume again. */
	quota_volumes_free(sn->v);
	sn->v = NULL;
	assert_int_equal(quota_volumes_new(&(struct quota_volumes_opts){.ops = &quota_sim_ops,
									.pools = sn_pools,
									.allocated = sn_allocated,
									.ctx = sn},
					   &sn->v, err, sizeof(err)),
			 0);
	assert_int_equal(quota_volumes_sync(sn->v), 0);
	assert_int_equal(quota_volume_get(sn->v, "data", &out, err, sizeof(err)), 0);
	json_decref(out);
	assert_int_equal(quota_volume_delete(sn->v, "data", false, err, sizeof(err)), 0);
	rec = topology_manager_node_json(sn->m, NULL);
	assert_int_equal(
		json_integer_value(json_object_get(pool_of(rec, "/mnt/pmem2"), "allocated_bytes")),
		0);
	json_decref(rec);
	simnode_free(sn);
}

/* The table itself: the semantics the volume service relies on. */
static void sim_ops_semantics(void **state)
{
	const struct quota_ops *o = &quota_sim_ops;
	struct quota_dirent *d = NULL;
	struct quota_usage u;
	uint64_t total, avail;
	uint32_t id;
	bool inh;
	size_t n;
	char err[256], val[8];

	(void)state;
	quota_sim_clear();
	assert_int_equal(o->make_dir("/p", "a/b", 0700, err, sizeof(err)), -ENOENT);
	assert_int_equal(o->make_dir("/p", "a", 0700, err, sizeof(err)), 0);
	assert_int_equal(o->make_dir("/p", "a", 0700, err, sizeof(err)), -EEXIST);
	assert_int_equal(o->make_dir("/p", "a/b", 0700, err, sizeof(err)), 0);
	assert_int_equal(o->make_dir("/q", "a", 0700, err, sizeof(err)), 0);
	assert_int_equal(o->project_set("/p", "a", 1001, err, sizeof(err)), 0);
	assert_int_equal(o->project_get("/p", "a", &id, &inh, err, sizeof(err)), 0);
	assert_int_equal(id, 1001);
	assert_true(inh);
	assert_int_equal(o->meta_set("/p", "a", "size", "1234567", err, sizeof(err)), 0);
	assert_int_equal(o->meta_get("/p", "a", "size", val, sizeof(val), err, sizeof(err)), 0);
	assert_string_equal(val, "1234567");
	assert_int_equal(o->meta_set("/p", "a", "size", "12345678", err, sizeof(err)), 0);
	assert_int_equal(o->meta_get("/p", "a", "size", val, sizeof(val), err, sizeof(err)),
			 -ERANGE);
	assert_int_equal(o->meta_get("/p", "a", "nope", val, sizeof(val), err, sizeof(err)),
			 -ENODATA);
	assert_int_equal(o->limit_set("/p", 1001, 4096, 10, err, sizeof(err)), 0);
	assert_int_equal(o->usage_get("/p", 1001, &u, err, sizeof(err)), 0);
	assert_int_equal(u.bytes_limit, 4096);
	assert_int_equal(u.bytes_used, 0);
	assert_int_equal(o->stat_dir("/p", "a", &total, &avail, err, sizeof(err)), 0);
	assert_int_equal(total, 4096);
	assert_int_equal(avail, 4096);
	assert_int_equal(o->rename("/p", "a", "c", err, sizeof(err)), 0);
	assert_int_equal(o->rename("/p", "a", "d", err, sizeof(err)), -ENOENT);
	assert_int_equal(o->make_dir("/p", "e", 0700, err, sizeof(err)), 0);
	assert_int_equal(o->rename("/p", "e", "c", err, sizeof(err)), -EEXIST);
	assert_int_equal(o->list_dir("/p", "", &d, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].name, "c");
	assert_int_equal(d[0].projid, 1001);
	free(d);
	assert_int_equal(o->list_dir("/p", "c", &d, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].name, "b");
	free(d);
	assert_int_equal(o->remove_tree("/p", "c", err, sizeof(err)), 0);
	assert_int_equal(o->project_get("/p", "c/b", &id, &inh, err, sizeof(err)), -ENOENT);
	assert_int_equal(o->list_dir("/q", "", &d, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1); /* another pool is untouched */
	free(d);
	assert_int_equal(o->limit_set("/p", 1001, 0, 0, err, sizeof(err)), 0);
	assert_int_equal(o->usage_get("/p", 1001, &u, err, sizeof(err)), 0);
	assert_int_equal(u.bytes_limit, 0);
	assert_int_equal(o->bind_mount("/p", "e", "/t", false, err, sizeof(err)), -ENOTSUP);
	assert_has(err, "simulated node");
	assert_int_equal(o->unmount("/t", err, sizeof(err)), -ENOTSUP);
	quota_sim_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_parses_and_dumps),
		cmocka_unit_test(key_absent_is_a_real_node),
		cmocka_unit_test(key_errors_are_positioned),
		cmocka_unit_test(key_needs_a_restart),
		cmocka_unit_test(pick_by_name),
		cmocka_unit_test(load_reports_file_errors),
		cmocka_unit_test(sim_from_record),
		cmocka_unit_test(sim_refuses_a_non_record),
		cmocka_unit_test(record_of_a_simulated_node),
		cmocka_unit_test(reload_keeps_the_simulated_pools),
		cmocka_unit_test(volumes_are_accounting_only),
		cmocka_unit_test(sim_ops_semantics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
