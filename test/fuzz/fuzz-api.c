/*
 * fuzz-api: HTTP requests through the real router and handlers of the node role, in process
 * (api_server_dispatch), over the unit tests' in-memory kernel fake (test/unit/fake-quota.h).
 *
 * An input is a short session: up to MAX_REQUESTS requests separated by a line "===". Each
 * request is a line "METHOD TARGET" (the target may carry a query) and, after it, the body:
 *
 *   POST /v1/volumes
 *   {"name":"db","size_bytes":1048576}
 *   ===
 *   POST /v1/volumes/db/resize
 *   {"size_bytes":2097152}
 *
 * The pseudo-method TICK runs one pass of the auto resizer over the policies made so far.
 * Every input starts from the same node: a simulated topology (2 NUMA nodes, an ext4 pool of
 * 1 GiB on node 0, an xfs pool of 2 GiB on node 1), the volume service over an empty fake,
 * no reservations, no resize policies; so a crash reproduces from its input alone.
 *
 * What is checked beyond "no crash, no sanitizer report, no leak": every answer has a status
 * of 200..599 other than 500 (bad input is the client's error, never the server's), and
 * every error answer is the API's error shape {"error": {"code": "...", "message": "..."}}
 * with a non-empty message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "config/config-simulate.h"
#include "config/config.h"
#include "quota/quota-volumes.h"
#include "resize/resize.h"
#include "topology/topology.h"
#include "util/log.h"

#include "fake-quota.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_REQUESTS 8
#define SEPARATOR    "\n===\n"

/* The node every input starts from; the simulated record is built once. */
static const char sim_yaml[] = "nodes:\n"
			       "  - name: fuzz-node\n"
			       "    numa_nodes:\n"
			       "      - id: 0\n"
			       "        cpus: 2\n"
			       "        cpus_exclusive: 1\n"
			       "        distances: {0: 10, 1: 21}\n"
			       "        pools: [{name: /mnt/pmem0, size: 1Gi, fstype: ext4}]\n"
			       "      - id: 1\n"
			       "        cpus: 2\n"
			       "        distances: {0: 21, 1: 10}\n"
			       "        pools: [{name: /mnt/pmem1, size: 2Gi, fstype: xfs}]\n";
static const char cfg_yaml[] = "node_name: fuzz-node\n"
			       "log_level: error\n"
			       "limits: {max_body: 16Ki}\n"
			       "simulate: {file: /fuzz/sim.yaml}\n";
static json_t *record;
static struct config *cfg;

/* One input's services. */
struct node {
	struct topology_manager *topo;
	struct quota_volumes *vols;
	struct resize_policies *pol;
	struct resize_monitor *mon;
	struct api_server *srv;
};

/* PMEMD_FUZZ_VERBOSE=1: each request's status and answer on stderr, to read a crash input. */
static bool verbose;

static void broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-api: %s: %s\n", what, detail);
	abort();
}

static int64_t fuzz_now_ms(void)
{
	return 1700000000000LL;
}

/* The callbacks pmemd.c gives the volume service, over the simulated pool manager. */
static int node_pools(void *ctx, struct quota_pool_info **out, size_t *n)
{
	struct node *nd = ctx;
	struct pool_status *st = NULL;
	struct quota_pool_info *v;
	size_t n_st = 0, k = 0;

	if (topology_manager_pools(nd->topo, &st, &n_st) < 0)
		return -ENOMEM;
	v = calloc(n_st + 1, sizeof(*v));
	if (!v) {
		free(st);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_st; i++) {
		if (st[i].state != POOL_READY || st[i].type != CONFIG_POOL_PMEM)
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", st[i].name);
		snprintf(v[k].id, sizeof(v[k].id), "%s", st[i].id);
		v[k].numa_node = st[i].numa_node;
		v[k].fstype = st[i].fstype;
		v[k].allocatable_bytes = st[i].allocatable_bytes;
		k++;
	}
	free(st);
	*out = v;
	*n = k;
	return 0;
}

static void node_allocated(void *ctx, const char *pool, uint64_t bytes)
{
	topology_manager_set_allocated(((struct node *)ctx)->topo, pool, bytes);
}

static void node_reserved(void *ctx, const char *pool, uint64_t bytes)
{
	topology_manager_set_reserved(((struct node *)ctx)->topo, pool, bytes);
}

static void node_reserved_cpus(void *ctx, const int *numa_ids, const unsigned *cpus, size_t n)
{
	topology_manager_set_reserved_cpus(((struct node *)ctx)->topo, numa_ids, cpus, n);
}

static json_t *node_record(void *ctx)
{
	return topology_manager_node_json(((struct node *)ctx)->topo, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config_errors *errs = NULL;
	json_t *records = NULL;
	(void)argc;
	(void)argv;

	log_set_level(LOG_LVL_ERROR);
	verbose = getenv("PMEMD_FUZZ_VERBOSE") != NULL;
	if (config_simulate_parse("sim.yaml", sim_yaml, strlen(sim_yaml), &records, &errs) != 0)
		broken("setup", "the simulated node does not parse");
	config_errors_free(errs);
	record = json_incref(json_array_get(records, 0));
	json_decref(records);
	errs = NULL;
	if (config_parse("fuzz.yaml", cfg_yaml, strlen(cfg_yaml), NULL, &cfg, &errs) != 0) {
		config_errors_print(errs, stderr);
		broken("setup", "the config does not parse");
	}
	config_errors_free(errs);
	return 0;
}

static void node_start(struct node *nd)
{
	static const char *const roots[] = {"/var/lib/kubelet", NULL};
	struct topology_sim *sim = NULL;
	struct resize_monitor_opts mo = {.source = RESIZE_SOURCE_LOCAL, .now_ms = fuzz_now_ms};
	struct quota_volumes_opts vo = {
		.ops = &fake_ops,
		.publish_roots = roots,
		.pools = node_pools,
		.allocated = node_allocated,
		.reserved = node_reserved,
		.reserved_cpus = node_reserved_cpus,
		.node_record = node_record,
		.ctx = nd,
		.now = fixed_now,
		.now_ms = fuzz_now_ms,
		.reservation_ttl_ms = 60000,
	};
	struct api_hooks hooks = {0};
	char err[256];

	memset(nd, 0, sizeof(*nd));
	fake_reset();
	if (topology_sim_from_record(record, &sim, err, sizeof(err)) < 0)
		broken("setup", err);
	if (topology_manager_new(&nd->topo, cfg, &(struct topology_manager_opts){.sim = sim}, false,
				 err, sizeof(err)) < 0 ||
	    topology_manager_reconcile(nd->topo, NULL) < 0)
		broken("setup: topology", err);
	if (quota_volumes_new(&vo, &nd->vols, err, sizeof(err)) < 0 ||
	    quota_volumes_sync(nd->vols) < 0)
		broken("setup: volumes", err);
	if (resize_policies_new(NULL, NULL, &nd->pol, err, sizeof(err)) < 0)
		broken("setup: policies", err);
	mo.volumes = nd->vols;
	mo.policies = nd->pol;
	if (resize_monitor_new(&mo, &nd->mon, err, sizeof(err)) < 0)
		broken("setup: monitor", err);
	hooks.services = (struct api_services){
		.topology = nd->topo,
		.volumes = nd->vols,
		.resize_policies = nd->pol,
		.resize = nd->mon,
	};
	if (api_server_new(&nd->srv, cfg, &hooks) < 0)
		broken("setup", "api_server_new");
	api_server_set_ready(nd->srv, true);
}

static void node_stop(struct node *nd)
{
	api_server_stop(nd->srv, 0);
	resize_monitor_free(nd->mon);
	resize_policies_free(nd->pol);
	quota_volumes_free(nd->vols);
	topology_manager_free(nd->topo);
	fake_reset();
}

/* The API's promise for every answer (see the top of this file). */
static void check_answer(unsigned status, const char *target, const char *body)
{
	json_t *j, *e;
	const char *msg;

	if (status < 200 || status > 599)
		broken("status out of range", target);
	if (status == 500) {
		fprintf(stderr, "answer: %s\n", body);
		broken("500 for a request", target);
	}
	if (status < 400)
		return;
	j = json_loads(body, 0, NULL);
	e = json_object_get(j, "error");
	msg = json_string_value(json_object_get(e, "message"));
	if (!json_is_string(json_object_get(e, "code")) || !msg || !*msg) {
		fprintf(stderr, "answer: %s\n", body);
		broken("an error answer without the error shape", target);
	}
	json_decref(j);
}

/* Serves one "METHOD TARGET\nbody" request. */
static void serve(struct node *nd, const char *req, size_t len)
{
	const char *nl = memchr(req, '\n', len);
	size_t line = nl ? (size_t)(nl - req) : len;
	char head[API_MAX_PATH + 64], *sp, *out = NULL;
	const char *body = nl ? nl + 1 : NULL;
	size_t body_len = nl ? len - line - 1 : 0, out_len = 0;
	unsigned status;

	if (line >= sizeof(head) || memchr(req, '\0', line))
		return;
	memcpy(head, req, line);
	head[line] = '\0';
	if (strcmp(head, "TICK") == 0) {
		resize_monitor_tick(nd->mon);
		return;
	}
	sp = strchr(head, ' ');
	if (!sp || sp == head)
		return;
	*sp = '\0';
	status = api_server_dispatch(nd->srv, head, sp + 1, body, body_len, &out, &out_len);
	if (status == 0)
		broken("api_server_dispatch: out of memory", sp + 1);
	if (verbose)
		fprintf(stderr, "%s %s -> %u %.*s\n", head, sp + 1, status, 300, out);
	if (strlen(out) != out_len && status >= 400)
		broken("an error answer with a NUL byte", sp + 1);
	check_answer(status, sp + 1, out);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct node nd;

	if (size > 64 * 1024)
		return 0;
	node_start(&nd);
	for (int i = 0; i < MAX_REQUESTS && p < end; i++) {
		const char *sep = memmem(p, (size_t)(end - p), SEPARATOR, strlen(SEPARATOR));
		size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);

		serve(&nd, p, n);
		p = sep ? sep + strlen(SEPARATOR) : end;
	}
	node_stop(&nd);
	return 0;
}
