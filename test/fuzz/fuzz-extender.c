/*
 * fuzz-extender: kube-scheduler's extender verbs in the scheduler role: ExtenderArgs bodies
 * (filter, prioritize) and ExtenderBindingArgs bodies (bind) through the real routes
 * (api/api-extender.c: simdjson's scan in sched-extender-parse.cc, the pod's PMEM request,
 * the placement engine, the answer writers) over a small fixed simulated cluster, in process
 * (api_server_dispatch).
 *
 * An input is a session of up to MAX_REQUESTS requests separated by a line "===", each a line
 * "METHOD TARGET" then the body, as in fuzz-api:
 *
 *   POST /scheduler/filter
 *   {"Pod": {...}, "NodeNames": ["acc-node-1"]}
 *   ===
 *   POST /scheduler/bind
 *   {"PodName": "p", "PodNamespace": "default", "PodUID": "u", "Node": "acc-node-1"}
 *
 * The pseudo-method RECORD puts its body into the view as a node's record (an agent's or a
 * PmemNode's), so the records' reader and the engine run on machine-made records too.
 *
 * Every input starts from the same view (the cluster below, no holds), so binds of one input
 * do not leak into the next. What is checked beyond "no crash, no sanitizer report, no leak":
 * the verbs always answer 200 with a body kube-scheduler can read (JSON: filter an object
 * with an "Error" string, prioritize an array of {Host, Score 0..10}, bind an object with an
 * "Error" string): the protocol has no other way to report a failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api/api-extender.h"
#include "api/api.h"
#include "cluster/cluster.h"
#include "config/config.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_REQUESTS 6
#define SEPARATOR    "\n===\n"

/* Four nodes like the fixtures' (acc-node-1..3 are the names kube-scheduler sent), and an
 * xfs node with exclusive CPUs. */
static const char sim_yaml[] = "nodes:\n"
			       "  - name: acc-node\n"
			       "    replicas: 4\n"
			       "    labels: {zone: a}\n"
			       "    numa_nodes:\n"
			       "      - {id: 0, cpus: 4, distances: {0: 10, 1: 21},\n"
			       "         pools: [{name: /mnt/pmem0, size: 64Gi, fstype: ext4}]}\n"
			       "      - {id: 1, cpus: 4, distances: {0: 21, 1: 10},\n"
			       "         pools: [{name: /mnt/pmem1, size: 16Gi, fstype: xfs}]}\n"
			       "  - name: xfs-node\n"
			       "    numa_nodes:\n"
			       "      - {id: 0, cpus: 8, cpus_exclusive: 6,\n"
			       "         pools: [{name: /mnt/pmem0, size: 32Gi, fstype: xfs, "
			       "allocated: 8Gi}]}\n";

static char sim_path[64];
static struct config *cfg;
static struct api_extender_routes *routes;

/* PMEMD_FUZZ_VERBOSE=1: each request's status and answer on stderr, to read a crash input. */
static bool verbose;

static void broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-extender: %s: %s\n", what, detail);
	abort();
}

static uint64_t fixed_clock(void *ud)
{
	(void)ud;
	return 1000000;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config_errors *errs = NULL;
	char yaml[512];
	int fd;
	(void)argc;
	(void)argv;

	log_set_level(LOG_LVL_ERROR);
	verbose = getenv("PMEMD_FUZZ_VERBOSE") != NULL;
	/*
	 * The view reads the description from a path at every cluster_new(): a memfd's, so the
	 * file goes with the process however it ends (a crash included), leaving nothing in /tmp.
	 */
	fd = memfd_create("fuzz-extender-sim", 0);
	if (fd < 0 || write(fd, sim_yaml, strlen(sim_yaml)) != (ssize_t)strlen(sim_yaml))
		broken("setup", "memfd_create");
	snprintf(sim_path, sizeof(sim_path), "/proc/self/fd/%d", fd);
	snprintf(yaml, sizeof(yaml),
		 "role: scheduler\nlog_level: error\nnode_name: fuzz\nkube: {enabled: false}\n"
		 "scheduler: {simulate: %s}\n",
		 sim_path);
	if (config_parse("fuzz.yaml", yaml, strlen(yaml), NULL, &cfg, &errs) != 0) {
		config_errors_print(errs, stderr);
		broken("setup", "the config does not parse");
	}
	config_errors_free(errs);
	if (api_extender_routes_new(cfg->scheduler.url_prefix, &routes) < 0)
		broken("setup", "api_extender_routes_new");
	return 0;
}

/* What kube-scheduler needs to read each verb's answer. */
static void check_answer(const char *target, unsigned status, const char *body)
{
	json_error_t je;
	json_t *j, *v;
	size_t i;

	if (!strstr(target, "/filter") && !strstr(target, "/prioritize") &&
	    !strstr(target, "/bind"))
		return;
	if (status != 200) {
		/* Routing and body-size errors come before the verb: the API's own shape. */
		if (status == 404 || status == 405 || status == 413)
			return;
		broken("a verb answered other than 200", target);
	}
	/*
	 * A Node item is echoed byte for byte, and "\u0000" in one of its strings is valid JSON
	 * that Go reads; jansson takes it in values with JSON_ALLOW_NUL but never in object keys
	 * (regressions/fuzz-extender/nodes-item-escaped-nul), so that one refusal is not the
	 * answer's fault.
	 */
	j = json_loadb(body, strlen(body), JSON_ALLOW_NUL, &je);
	if (!j && strstr(je.text, "NUL byte in object key"))
		return;
	if (!j) {
		fprintf(stderr, "answer: %s\n", body);
		broken("a verb's answer is not JSON", target);
	}
	if (strstr(target, "/prioritize")) {
		if (!json_is_array(j))
			broken("prioritize did not answer a HostPriorityList", target);
		json_array_foreach (j, i, v) {
			json_int_t s = json_integer_value(json_object_get(v, "Score"));
			if (!json_is_string(json_object_get(v, "Host")) || s < 0 || s > 10)
				broken("a HostPriority without a host or a score in 0..10", target);
		}
	} else if (!json_is_string(json_object_get(j, "Error"))) {
		fprintf(stderr, "answer: %s\n", body);
		broken("an answer without its Error string", target);
	}
	json_decref(j);
}

/*
 * RECORD: a node's record as the view receives it (an agent's GET /v1/node, a PmemNode's
 * status from the API server, dated by its heartbeat), put into the view as it would be.
 */
static void put_record(struct cluster *c, const char *body, size_t len)
{
	json_t *rec = json_loadb(body, len, 0, NULL);
	char err[256];

	if (json_is_object(rec))
		cluster_record_put(c, rec, CLUSTER_SOURCE_KUBE, NULL, err, sizeof(err));
	json_decref(rec);
}

static void serve(struct api_server *srv, struct cluster *c, const char *req, size_t len)
{
	const char *nl = memchr(req, '\n', len);
	size_t line = nl ? (size_t)(nl - req) : len;
	char head[API_MAX_PATH + 64], *sp, *out = NULL;
	size_t out_len = 0;
	unsigned status;

	if (line >= sizeof(head) || memchr(req, '\0', line))
		return;
	memcpy(head, req, line);
	head[line] = '\0';
	if (strcmp(head, "RECORD") == 0) {
		if (nl)
			put_record(c, nl + 1, len - line - 1);
		return;
	}
	sp = strchr(head, ' ');
	if (!sp || sp == head)
		return;
	*sp = '\0';
	status = api_server_dispatch(srv, head, sp + 1, nl ? nl + 1 : NULL, nl ? len - line - 1 : 0,
				     &out, &out_len);
	if (status == 0)
		broken("api_server_dispatch: out of memory", sp + 1);
	if (verbose)
		fprintf(stderr, "%s %s -> %u %.*s\n", head, sp + 1, status, 300, out);
	check_answer(sp + 1, status, out);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct api_hooks hooks = {0};
	struct api_server *srv = NULL;
	struct cluster *c = NULL;
	char err[1024];

	if (size > 256 * 1024)
		return 0;
	if (cluster_new(&(struct cluster_opts){.cfg = cfg, .clock_ms = fixed_clock}, &c, err,
			sizeof(err)) < 0)
		broken("setup: cluster_new", err);
	hooks.routes = api_extender_routes_list(routes, &hooks.n_routes);
	hooks.services.cluster = c;
	if (api_server_new(&srv, cfg, &hooks) < 0)
		broken("setup", "api_server_new");
	api_server_set_ready(srv, true);
	for (int i = 0; i < MAX_REQUESTS && p < end; i++) {
		const char *sep = memmem(p, (size_t)(end - p), SEPARATOR, strlen(SEPARATOR));
		size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);

		serve(srv, c, p, n);
		p = sep ? sep + strlen(SEPARATOR) : end;
	}
	api_server_stop(srv, 0);
	cluster_free(c);
	return 0;
}
