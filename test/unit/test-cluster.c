/*
 * test-cluster: the scheduler role's cluster view: simulate files (good and every error with
 * its position), staleness, holds (counted, expired, dropped once a node's record shows them),
 * the extender verbs through the real server with kube-scheduler's recorded bodies and a fake
 * API server answering with the recorded kube-apiserver objects, and node agents polled from
 * small in-process servers (ETag/304, one of them going down).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api-extender.h"
#include "api/api.h"
#include "cluster/cluster-internal.h"
#include "cluster/cluster.h"
#include "config/config-simulate.h"
#include "config/config.h"
#include "util/log.h"

#define SCHED_FIX "test/fixtures/kube-scheduler-v1.20/"
#define API_FIX	  "test/fixtures/kube-apiserver-v1.20/"
#define GI	  (1024ull * 1024 * 1024)

/* ---- helpers ----------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct config *parse_cfg(const char *yaml)
{
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;
	int r = config_parse("test.yaml", yaml, strlen(yaml), NULL, &cfg, &errs);

	if (r < 0)
		config_errors_print(errs, stderr);
	config_errors_free(errs);
	assert_int_equal(r, 0);
	return cfg;
}

static uint16_t free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The test clock: the real one plus a jump the test decides (so threads still tick). */
static _Atomic uint64_t clock_offset;

static uint64_t test_clock(void *ud)
{
	(void)ud;
	return real_ms() + clock_offset;
}

struct sink {
	char *data;
	size_t len;
};

static size_t on_data(char *p, size_t s, size_t n, void *ud)
{
	struct sink *k = ud;
	char *d = realloc(k->data, k->len + s * n + 1);

	assert_non_null(d);
	memcpy(d + k->len, p, s * n);
	k->data = d;
	k->len += s * n;
	d[k->len] = '\0';
	return s * n;
}

/* One HTTP call to the scheduler; the body (JSON) and the status. */
static json_t *call(uint16_t port, const char *method, const char *path, const char *body,
		    size_t len, long *status)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct sink k = {0};
	char url[512];
	json_t *j;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	j = json_loadb(k.data ? k.data : "", k.len, 0, NULL);
	if (!j)
		fprintf(stderr, "not JSON: %s\n", k.data ? k.data : "(empty)");
	free(k.data);
	return j;
}

static json_t *post(uint16_t port, const char *path, const char *body)
{
	long st = 0;
	json_t *j = call(port, "POST", path, body, strlen(body), &st);

	assert_int_equal(st, 200);
	assert_non_null(j);
	return j;
}

static json_t *post_file(uint16_t port, const char *path, const char *file)
{
	size_t len;
	char *body = read_file(file, &len);
	long st = 0;
	json_t *j = call(port, "POST", path, body, len, &st);

	free(body);
	assert_int_equal(st, 200);
	assert_non_null(j);
	return j;
}

static const char *error_of(const json_t *j)
{
	return json_string_value(json_object_get(j, "Error"));
}

/* ---- simulate files ------------------------------------------------------------------- */

static const char good_sim[] =
	"nodes:\n"
	"  - name: big\n"
	"    labels: {zone: a}\n"
	"    numa_nodes:\n"
	"      - id: 0\n"
	"        cpus: 4\n"
	"        cpus_exclusive: 2\n"
	"        pools:\n"
	"          - {name: /mnt/pmem0, size: 1536Gi}\n"
	"      - id: 1\n"
	"        cpus: 2\n"
	"        distances: {0: 31}\n"
	"        pools:\n"
	"          - {name: /mnt/pmem1, size: 64Gi, fstype: xfs, allocated: 16Gi}\n"
	"      - id: 2\n"
	"        cpus: 0\n"
	"  - name: small\n"
	"    replicas: 3\n"
	"    numa_nodes: [{id: 0, cpus: 8, pools: [{name: /p, size: 10G}]}]\n";

static void test_simulate_good(void **state)
{
	struct config_errors *errs = NULL;
	json_t *recs = NULL, *big, *n0, *n1, *pool;
	struct sched_owned_node *sn = NULL;
	char err[256];
	size_t i;
	(void)state;

	assert_int_equal(
		config_simulate_parse("sim.yaml", good_sim, strlen(good_sim), &recs, &errs), 0);
	assert_int_equal(errs->count, 0);
	config_errors_free(errs);
	assert_int_equal(json_array_size(recs), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "node")),
			    "small-0");
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 3), "node")),
			    "small-2");
	big = json_array_get(recs, 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(big, "labels"), "zone")), "a");
	n0 = json_array_get(json_object_get(big, "numa_nodes"), 0);
	n1 = json_array_get(json_object_get(big, "numa_nodes"), 1);
	/* CPU ids run on across NUMA nodes; the exclusive ones are the first of the node. */
	assert_int_equal(json_array_size(json_object_get(n0, "cpus")), 4);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(n1, "cpus"), 0)), 4);
	assert_int_equal(json_array_size(json_object_get(n0, "cpus_exclusive")), 2);
	/* Distances: 10 to itself, 21 to the others unless given. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(n0, "distances"), "1")),
			 21);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(n1, "distances"), "0")),
			 31);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(n1, "distances"), "1")),
			 10);
	pool = json_array_get(json_object_get(big, "pools"), 1);
	assert_string_equal(json_string_value(json_object_get(pool, "id")), "mnt-pmem1");
	assert_string_equal(json_string_value(json_object_get(pool, "fstype")), "xfs");
	assert_int_equal(json_integer_value(json_object_get(pool, "numa_node")), 1);
	assert_int_equal(json_integer_value(json_object_get(pool, "allocatable_bytes")), 64 * GI);
	assert_int_equal(json_integer_value(json_object_get(pool, "allocated_bytes")), 16 * GI);
	/* The same code path as live records: the engine reads every one. */
	json_array_foreach (recs, i, big) {
		assert_int_equal(sched_node_from_record(big, &sn, err, sizeof(err)), 0);
		if (i == 0) {
			assert_int_equal(sn->node.n_numa, 3);
			assert_int_equal(sn->node.n_pools, 2);
			assert_int_equal(sn->node.numa[0].cpus_free, 2);
		}
		sn = sched_node_free(sn);
	}
	json_decref(recs);
}

static void test_simulate_errors(void **state)
{
	static const struct {
		const char *yaml;
		const char *want; /* "line:col: message start" of the first error */
	} cases[] = {
		{"", "0:0: empty cluster description"},
		{"nodes: []\n", "1:8: nodes: needs at least one node"},
		{"colour: blue\nnodes: []\n", "1:1: (top level): unknown key \"colour\""},
		{"nodes:\n  - name: a\n    replicas: 0\n    numa_nodes: [{id: 0, cpus: 1}]\n",
		 "3:15: nodes[0].replicas: 0 is out of range"},
		{"nodes:\n  - name: A\n    numa_nodes: [{id: 0, cpus: 1}]\n",
		 "2:11: nodes[0].name: \"A\" is not a Kubernetes node name"},
		{"nodes:\n  - numa_nodes: [{id: 0, cpus: 1}]\n", "2:5: nodes[0]: needs a name"},
		{"nodes:\n  - name: a\n", "2:5: nodes[0]: needs numa_nodes"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 1}, {id: 0, cpus: 1}]\n",
		 "3:41: nodes[0].numa_nodes[1].id: NUMA node 0 repeated"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: many}]\n",
		 "3:32: nodes[0].numa_nodes[0].cpus: expected an integer, got \"many\""},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 2, cpus_exclusive: 3}]\n",
		 "3:51: nodes[0].numa_nodes[0].cpus_exclusive: 3 is more than cpus (2)"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 2, distances: {1: 20}}]\n",
		 "3:47: nodes[0].numa_nodes[0].distances: NUMA node 1 is not in numa_nodes"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 2, distances: {0: 300}}]\n",
		 "3:50: nodes[0].numa_nodes[0].distances.0: 300 is out of range 1..255"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 1, pools: [{name: p, size: "
		 "1Gi}]}]\n",
		 "3:50: nodes[0].numa_nodes[0].pools[0].name: \"p\" is not an absolute"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 1, pools: [{name: /p, size: "
		 "1Qi}]}]\n",
		 "3:60: nodes[0].numa_nodes[0].pools[0].size: \"1Qi\" is not a size"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 1, pools: [{name: /p}]}]\n",
		 "3:43: nodes[0].numa_nodes[0].pools[0]: needs a size"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 1, pools: [{name: /p, size: "
		 "1Gi, "
		 "fstype: zfs}]}]\n",
		 "3:73: nodes[0].numa_nodes[0].pools[0].fstype: expected ext4 or xfs, got \"zfs\""},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 1, pools: [{name: /p, size: "
		 "1Gi, "
		 "allocated: 2Gi}]}]\n",
		 "3:76: nodes[0].numa_nodes[0].pools[0].allocated: more than the pool's size"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 1, pools: [{name: /p, size: "
		 "1Gi}, "
		 "{name: /p, size: 1Gi}]}]\n",
		 "3:73: nodes[0].numa_nodes[0].pools[1].name: pool \"/p\" repeated on this node"},
		{"nodes:\n  - name: a-1\n    numa_nodes: [{id: 0, cpus: 1}]\n  - name: a\n    "
		 "replicas: "
		 "2\n    numa_nodes: [{id: 0, cpus: 1}]\n",
		 "4:11: nodes[1].name: node \"a-1\" is already defined"},
		{"nodes:\n  - name: a\n    numa_nodes: [{id: 0, cpus: 1}\n",
		 "4:1: invalid YAML: did not find expected ',' or ']'"},
		{"nodes:\n  - &x name: a\n    numa_nodes: [{id: 0, cpus: *x}]\n",
		 "3:32: aliases are not supported here"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_errors *errs = NULL;
		json_t *recs = (json_t *)0x1;
		char got[600];
		int r = config_simulate_parse("s.yaml", cases[i].yaml, strlen(cases[i].yaml), &recs,
					      &errs);

		assert_int_equal(r, -EINVAL);
		assert_ptr_equal(recs, (json_t *)0x1); /* untouched on failure */
		assert_true(errs->count >= 1);
		snprintf(got, sizeof(got), "%u:%u: %s", errs->items[0].pos.line,
			 errs->items[0].pos.col, errs->items[0].message);
		if (strncmp(got, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, got, cases[i].want);
		config_errors_free(errs);
	}
}

static void test_simulate_every_error_and_file(void **state)
{
	const char *yaml = "nodes:\n"
			   "  - name: B\n"
			   "    numa_nodes: [{id: 0, cpus: x}]\n"
			   "  - name: c\n"
			   "    numa_nodes: [{id: 0, cpus: 1, pools: [{name: /p, size: 0}]}]\n";
	struct config_errors *errs = NULL;
	json_t *recs = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;

	assert_int_equal(config_simulate_parse("s.yaml", yaml, strlen(yaml), &recs, &errs),
			 -EINVAL);
	f = open_memstream(&text, &len);
	config_errors_print(errs, f);
	fclose(f);
	assert_string_equal(text, "s.yaml:2:11: nodes[0].name: \"B\" is not a Kubernetes node name "
				  "(lowercase letters, digits, '-' and '.', at most 253)\n"
				  "s.yaml:3:32: nodes[0].numa_nodes[0].cpus: expected an integer, "
				  "got \"x\"\n"
				  "s.yaml:5:60: nodes[1].numa_nodes[0].pools[0].size: must be more "
				  "than 0\n");
	free(text);
	config_errors_free(errs);

	assert_int_equal(config_simulate_load("/nonexistent/sim.yaml", &recs, &errs), -ENOENT);
	assert_int_equal(errs->count, 1);
	assert_non_null(strstr(errs->items[0].message, "cannot read"));
	config_errors_free(errs);
}

/* ---- the view: staleness and holds ------------------------------------------------------ */

static const char one_node_record[] =
	"{\"node\": \"w1\", \"generation\": 4, \"numa_nodes\": ["
	"{\"id\": 0, \"cpus\": [0, 1], \"distances\": {\"0\": 10, \"1\": 21}},"
	"{\"id\": 1, \"cpus\": [2, 3], \"distances\": {\"0\": 21, \"1\": 10}}],"
	"\"pools\": ["
	"{\"name\": \"/mnt/pmem0\", \"type\": \"pmem\", \"state\": \"ready\", \"numa_node\": 0,"
	" \"fstype\": \"ext4\", \"allocatable_bytes\": 34359738368, \"allocated_bytes\": 0},"
	"{\"name\": \"/mnt/pmem1\", \"type\": \"pmem\", \"state\": \"ready\", \"numa_node\": 1,"
	" \"fstype\": \"ext4\", \"allocatable_bytes\": 17179869184, \"allocated_bytes\": 0}]}";

static json_t *pod_json(const char *name, const char *uid, const char *size, int cpus)
{
	char ann[128];
	json_t *p;

	snprintf(ann, sizeof(ann), "[{\"size\":\"%s\"}]", size);
	p = json_pack("{s:{s:s, s:s, s:s, s:{s:s}}, s:{s:[{s:s}]}}", "metadata", "name", name,
		      "namespace", "default", "uid", uid, "annotations", "pmem.io/requests", ann,
		      "spec", "containers", "name", "c");
	if (cpus) {
		/* Guaranteed with integer CPUs: exclusive CPUs for the kubelet's static policy. */
		char q[16];
		snprintf(q, sizeof(q), "%d", cpus);
		json_t *res = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "requests", "cpu", q,
					"memory", "1Gi", "limits", "cpu", q, "memory", "1Gi");
		json_object_set_new(
			json_array_get(json_object_get(json_object_get(p, "spec"), "containers"),
				       0),
			"resources", res);
	}
	return p;
}

static struct cluster *view_new(struct config **cfg, const char *yaml)
{
	struct cluster *c = NULL;
	char err[1024] = "";
	int r;

	*cfg = parse_cfg(yaml);
	r = cluster_new(&(struct cluster_opts){.cfg = *cfg, .clock_ms = test_clock}, &c, err,
			sizeof(err));
	if (r < 0)
		fprintf(stderr, "cluster_new: %s\n", err);
	assert_int_equal(r, 0);
	return c;
}

static void bind_ok(struct cluster *c, const char *name, const char *uid, const char *node)
{
	struct sched_ext_binding b = {(char *)name, (char *)"default", (char *)uid, (char *)node};
	char err[512] = "";
	int r = cluster_bind(c, &b, err, sizeof(err));

	if (r < 0)
		fail_msg("bind %s to %s: %s", name, node, err);
}

static int bind_err(struct cluster *c, const char *name, const char *uid, const char *node,
		    char *err, size_t len)
{
	struct sched_ext_binding b = {(char *)name, (char *)"default", (char *)uid, (char *)node};

	return cluster_bind(c, &b, err, len);
}

static void test_view_stale_and_holds(void **state)
{
	struct config *cfg;
	struct cluster *c;
	json_t *rec = json_loads(one_node_record, 0, NULL), *pod, *v;
	struct sched_pod_request *req = NULL;
	struct sched_result res[2];
	const char *names[] = {"w1", "nowhere"};
	char err[512];
	(void)state;

	clock_offset = 0;
	/* agents, never started: the records come from the test. */
	c = view_new(&cfg, "role: scheduler\n"
			   "kube: {enabled: false}\n"
			   "placement: {reservation_ttl: 30s}\n"
			   "scheduler:\n"
			   "  agents: [http://127.0.0.1:1]\n"
			   "  poll_interval: 1s\n"
			   "  max_record_age: 60s\n");
	assert_int_equal(cluster_get_source(c), CLUSTER_SOURCE_AGENTS);
	assert_int_equal(cluster_record_put(c, rec, CLUSTER_SOURCE_AGENTS, "http://127.0.0.1:1",
					    err, sizeof(err)),
			 0);

	/* Two 16Gi pods fill node 1's 32Gi pool... a third does not fit anywhere. */
	for (int i = 0; i < 3; i++) {
		char name[16], uid[16];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(uid, sizeof(uid), "u%d", i);
		pod = pod_json(name, uid, "16Gi", 0);
		cluster_pod_remember(c, pod);
		json_decref(pod);
	}
	/* Agents mode: without an agent to POST to (port 1), the reservation fails and the hold
	 * goes: the bind says so. */
	assert_true(bind_err(c, "p0", "u0", "w1", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "reservation refused by http://127.0.0.1:1"));
	v = cluster_to_json(c);
	assert_int_equal(json_array_size(json_object_get(v, "holds")), 0);
	json_decref(v);

	/* Staleness: 93s later with no new record the node fails with the age. */
	pod = pod_json("p9", "u9", "1Gi", 0);
	assert_int_equal(cluster_pod_request(c, pod, &req, err, sizeof(err)), 0);
	json_decref(pod);
	assert_int_equal(cluster_evaluate(c, req, names, 2, res), 0);
	assert_true(res[0].feasible);
	assert_false(res[1].feasible);
	assert_string_equal(res[1].reason, "no pmemd record for node nowhere");
	clock_offset = 93 * 1000;
	assert_int_equal(cluster_evaluate(c, req, names, 1, res), 0);
	assert_false(res[0].feasible);
	assert_string_equal(res[0].reason,
			    "record is 93s old (max 60s): the node's pmemd is not reporting");
	v = cluster_to_json(c);
	assert_true(json_is_true(
		json_object_get(json_array_get(json_object_get(v, "nodes"), 0), "stale")));
	json_decref(v);
	/* ... and bind refuses it too. */
	assert_int_equal(bind_err(c, "p1", "u1", "w1", err, sizeof(err)), -ESTALE);
	assert_non_null(strstr(err, "record is 93s old"));
	/* A 304 makes it fresh again. */
	cluster_record_touch(c, "w1", cluster_now(c));
	assert_int_equal(cluster_evaluate(c, req, names, 1, res), 0);
	assert_true(res[0].feasible);
	sched_pod_request_free(req);
	cluster_free(c);
	config_free(cfg);
	json_decref(rec);
}

/* ---- the NodeNames cache ------------------------------------------------------------- */

/* What a node's verdict says, for comparing two evaluations. */
static void same_result(const char *name, const struct sched_result *a,
			const struct sched_result *b)
{
	if (a->feasible != b->feasible || a->score != b->score ||
	    a->cpu_numa_id != b->cpu_numa_id || a->distance != b->distance ||
	    a->n_volumes != b->n_volumes || strcmp(a->reason, b->reason) != 0)
		fail_msg("node %s: %d/%d/cpu %d/%s vs %d/%d/cpu %d/%s", name, a->feasible, a->score,
			 a->cpu_numa_id, a->reason, b->feasible, b->score, b->cpu_numa_id,
			 b->reason);
	for (size_t v = 0; v < a->n_volumes; v++)
		if (a->volumes[v].pool != b->volumes[v].pool ||
		    a->volumes[v].numa_id != b->volumes[v].numa_id ||
		    a->volumes[v].counted != b->volumes[v].counted)
			fail_msg("node %s: volume %zu placed differently", name, v);
}

static void put_node(struct cluster *c, const char *name, long long allocated)
{
	json_t *rec = json_loads(one_node_record, 0, NULL);
	char err[512] = "";

	assert_non_null(rec);
	json_object_set_new(rec, "node", json_string(name));
	/* numa0's 32Gi pool holds `allocated`; numa1's 16Gi pool is full. */
	json_object_set_new(json_array_get(json_object_get(rec, "pools"), 0), "allocated_bytes",
			    json_integer(allocated));
	json_object_set_new(json_array_get(json_object_get(rec, "pools"), 1), "allocated_bytes",
			    json_integer(16LL << 30));
	if (cluster_record_put(c, rec, CLUSTER_SOURCE_AGENTS, "http://127.0.0.1:1", err,
			       sizeof(err)) < 0)
		fail_msg("record %s: %s", name, err);
	json_decref(rec);
}

/*
 * kube-scheduler sends the same NodeNames list call after call, so the view keeps the nodes the
 * last list named. Reusing them must give the answers a fresh look-up gives, and a node that
 * comes or goes must be seen at once.
 */
static void test_name_cache(void **state)
{
	enum { N = 2600 }; /* over the size a filter is shared with the worker threads */
	static char block[N * 16], block2[N * 16];
	static const char *names[N], *names2[N], *apart[N];
	static char apart_buf[N][16];
	static struct sched_result cached[N], fresh[N];
	struct sched_pod_request *req = NULL;
	struct config *cfg;
	struct cluster *c;
	uint64_t hits, misses, h0, m0;
	size_t len = 0;
	json_t *pod;
	char err[512];
	(void)state;

	clock_offset = 0;
	c = view_new(&cfg, "role: scheduler\n"
			   "kube: {enabled: false}\n"
			   "scheduler: {agents: [http://127.0.0.1:1], max_record_age: 600s}\n");
	/* w0..w(N-2) with seeded usage (some full); the last name has no record yet. */
	uint64_t seed = 7;
	for (int i = 0; i < N - 1; i++) {
		char name[16];
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		snprintf(name, sizeof(name), "w%d", i);
		put_node(c, name, (long long)((seed >> 33) % 33) << 30);
	}
	/* The names back to back in one block, as the extender's parser stores them (in an
	 * order unlike the records'), and the same names one by one elsewhere. */
	for (int i = 0; i < N; i++) {
		char name[16];
		if (i == N / 3)
			snprintf(name, sizeof(name), "later");
		else
			snprintf(name, sizeof(name), "w%d", (i * 7919) % (N - 1));
		names[i] = block + len;
		len += (size_t)sprintf(block + len, "%s", name) + 1;
		snprintf(apart_buf[N - 1 - i], sizeof(apart_buf[0]), "%s", name);
		apart[i] = apart_buf[N - 1 - i];
	}
	memcpy(block2, block, len);
	for (int i = 0; i < N; i++)
		names2[i] = block2 + (names[i] - block);

	pod = pod_json("p", "u", "12Gi", 1);
	assert_int_equal(cluster_pod_request(c, pod, &req, err, sizeof(err)), 0);
	json_decref(pod);

	/* First call: resolved and kept; the second (same bytes elsewhere) reuses it. Names
	 * not in one block never touch the cache. */
	cluster_name_cache_stats(c, &h0, &m0);
	assert_int_equal(cluster_evaluate(c, req, names, N, fresh), 0);
	cluster_name_cache_stats(c, &hits, &misses);
	assert_int_equal(hits - h0, 0);
	assert_int_equal(misses - m0, 1);
	assert_int_equal(cluster_evaluate(c, req, names2, N, cached), 0);
	assert_int_equal(cluster_evaluate(c, req, apart, N, fresh), 0);
	cluster_name_cache_stats(c, &hits, &misses);
	assert_int_equal(hits - h0, 1);
	assert_int_equal(misses - m0, 1);
	size_t feasible = 0;
	for (int i = 0; i < N; i++) {
		same_result(names[i], &cached[i], &fresh[i]);
		feasible += cached[i].feasible;
	}
	assert_true(feasible > N / 2 && feasible < N - 1); /* both kinds of answer */
	assert_string_equal(cached[N / 3].reason, "no pmemd record for node later");

	/* A node goes: the kept nodes are dropped, and it fails with no record. */
	cluster_record_remove(c, names[10]);
	assert_int_equal(cluster_evaluate(c, req, names, N, cached), 0);
	cluster_name_cache_stats(c, &hits, &misses);
	assert_int_equal(misses - m0, 2);
	assert_false(cached[10].feasible);
	assert_non_null(strstr(cached[10].reason, "no pmemd record for node"));

	/* A node comes: found at once. */
	put_node(c, "later", 0);
	put_node(c, names[10], 0);
	assert_int_equal(cluster_evaluate(c, req, names, N, cached), 0);
	cluster_name_cache_stats(c, &hits, &misses);
	assert_int_equal(misses - m0, 3);
	assert_true(cached[N / 3].feasible);
	assert_true(cached[10].feasible);

	/* A new record of a known node changes no membership: the kept nodes serve, with the
	 * new record (a full pool now). */
	put_node(c, names[20], 32LL << 30);
	assert_int_equal(cluster_evaluate(c, req, names, N, cached), 0);
	assert_int_equal(cluster_evaluate(c, req, apart, N, fresh), 0);
	cluster_name_cache_stats(c, &hits, &misses);
	assert_int_equal(hits - h0, 2);
	assert_int_equal(misses - m0, 3);
	for (int i = 0; i < N; i++)
		same_result(names[i], &cached[i], &fresh[i]);

	/* Another list (one name fewer, then one name changed) is resolved anew. */
	assert_int_equal(cluster_evaluate(c, req, names, N - 1, cached), 0);
	block2[0] = 'x'; /* names2[0] is no longer names[0] */
	assert_int_equal(cluster_evaluate(c, req, names2, N, cached), 0);
	cluster_name_cache_stats(c, &hits, &misses);
	assert_int_equal(misses - m0, 5);
	assert_false(cached[0].feasible);
	assert_non_null(strstr(cached[0].reason, "no pmemd record for node x"));
	sched_pod_request_free(req);
	cluster_free(c);
	config_free(cfg);
}

/* Kube source: a PmemNode status is dated by its heartbeat, not by when it arrived, and a
 * bookmark does not freshen it (a re-list would otherwise deliver a dead node as alive). */
static void test_view_heartbeat_age(void **state)
{
	struct config *cfg;
	struct cluster *c;
	json_t *rec = json_loads(one_node_record, 0, NULL), *pod;
	struct sched_pod_request *req = NULL;
	struct sched_result res[1];
	const char *names[] = {"w1"};
	char err[512], when[40];
	time_t t;
	struct tm tm;
	(void)state;

	clock_offset = 1000 * 1000; /* the fake monotonic clock well past 0 */
	c = view_new(&cfg, "role: scheduler\n"
			   "kube: {enabled: false}\n"
			   "scheduler:\n"
			   "  agents: [http://127.0.0.1:1]\n" /* never started: records from here */
			   "  max_record_age: 60s\n");
	pod = pod_json("p9", "u9", "1Gi", 0);
	assert_int_equal(cluster_pod_request(c, pod, &req, err, sizeof(err)), 0);
	json_decref(pod);

	/* Written 93 s ago by the node's clock: stale on arrival. */
	t = time(NULL) - 93;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.250Z", &tm);
	json_object_set_new(rec, "heartbeat", json_string(when));
	assert_int_equal(cluster_record_put(c, rec, CLUSTER_SOURCE_KUBE, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(cluster_evaluate(c, req, names, 1, res), 0);
	assert_false(res[0].feasible);
	assert_non_null(strstr(res[0].reason, "record is 9"));
	assert_non_null(strstr(res[0].reason, "s old (max 60s)"));
	/* A bookmark (the watch in step) does not make it fresh. */
	cluster_touch_source(c, CLUSTER_SOURCE_KUBE);
	assert_int_equal(cluster_evaluate(c, req, names, 1, res), 0);
	assert_false(res[0].feasible);

	/* A heartbeat of now: fresh. */
	t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	json_object_set_new(rec, "heartbeat", json_string(when));
	assert_int_equal(cluster_record_put(c, rec, CLUSTER_SOURCE_KUBE, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(cluster_evaluate(c, req, names, 1, res), 0);
	assert_true(res[0].feasible);

	/* No heartbeat (an older node): dated by arrival, and bookmarks keep it fresh. */
	json_object_del(rec, "heartbeat");
	assert_int_equal(cluster_record_put(c, rec, CLUSTER_SOURCE_KUBE, NULL, err, sizeof(err)),
			 0);
	clock_offset += 93 * 1000;
	assert_int_equal(cluster_evaluate(c, req, names, 1, res), 0);
	assert_false(res[0].feasible);
	cluster_touch_source(c, CLUSTER_SOURCE_KUBE);
	assert_int_equal(cluster_evaluate(c, req, names, 1, res), 0);
	assert_true(res[0].feasible);

	/* A heartbeat that is not a time is ignored, not trusted. */
	json_object_set_new(rec, "heartbeat", json_string("yesterday"));
	assert_int_equal(cluster_record_put(c, rec, CLUSTER_SOURCE_KUBE, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(cluster_evaluate(c, req, names, 1, res), 0);
	assert_true(res[0].feasible);

	sched_pod_request_free(req);
	cluster_free(c);
	config_free(cfg);
	json_decref(rec);
}

static void test_view_holds_expire(void **state)
{
	char dir[] = "/tmp/pmemd-cluster-XXXXXX", path[128], yaml[512], err[512];
	struct config *cfg;
	struct cluster *c;
	json_t *pod, *v, *n;
	(void)state;

	clock_offset = 0;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sim.yaml", dir);
	write_file(path, "nodes:\n"
			 "  - name: w1\n"
			 "    numa_nodes:\n"
			 "      - {id: 0, cpus: 4, pools: [{name: /mnt/pmem0, size: 32Gi}]}\n"
			 "      - {id: 1, cpus: 4, pools: [{name: /mnt/pmem1, size: 16Gi}]}\n");
	snprintf(yaml, sizeof(yaml),
		 "role: scheduler\nkube: {enabled: false}\nplacement: {reservation_ttl: 10s}\n"
		 "scheduler: {simulate: %s}\n",
		 path);
	c = view_new(&cfg, yaml);
	assert_int_equal(cluster_get_source(c), CLUSTER_SOURCE_SIMULATE);
	for (int i = 0; i < 5; i++) {
		char name[16], uid[16];
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(uid, sizeof(uid), "u%d", i);
		pod = pod_json(name, uid, "16Gi", i == 0 ? 2 : 0);
		cluster_pod_remember(c, pod);
		json_decref(pod);
	}
	bind_ok(c, "p0", "u0", "w1");
	bind_ok(c, "p1", "u1", "w1");
	bind_ok(c, "p2", "u2", "w1");
	/* The node is full: 48Gi held of 48Gi. */
	assert_int_equal(bind_err(c, "p3", "u3", "w1", err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "node w1: "));
	assert_non_null(strstr(err, "need 16Gi, free 0"));
	/* Binding the same pod again replaces its hold, never adds a second one. */
	bind_ok(c, "p2", "u2", "w1");
	v = cluster_to_json(c);
	assert_int_equal(json_array_size(json_object_get(v, "holds")), 3);
	n = json_object_get(json_array_get(json_object_get(v, "nodes"), 0), "capacity");
	assert_int_equal(json_integer_value(json_object_get(n, "held_bytes")), 48 * GI);
	assert_int_equal(json_integer_value(json_object_get(n, "free_bytes")), 0);
	assert_int_equal(json_integer_value(json_object_get(n, "cpus_free")), 6);
	json_decref(v);
	/* A pod the view never saw, and no Kubernetes API to read it. */
	assert_int_equal(bind_err(c, "ghost", "g", "w1", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "not seen by filter"));
	/* The TTL passes: the holds go, and so does what they counted. */
	clock_offset = 11 * 1000;
	v = cluster_to_json(c);
	assert_int_equal(json_array_size(json_object_get(v, "holds")), 0);
	n = json_object_get(json_array_get(json_object_get(v, "nodes"), 0), "capacity");
	assert_int_equal(json_integer_value(json_object_get(n, "free_bytes")), 48 * GI);
	assert_int_equal(json_integer_value(json_object_get(n, "cpus_free")), 8);
	json_decref(v);
	bind_ok(c, "p3", "u3", "w1");
	cluster_free(c);
	config_free(cfg);
	unlink(path);
	rmdir(dir);
}

/* ---- a fake API server and fake node agents --------------------------------------------- */

struct upload {
	char *body;
	size_t len;
};

struct fake {
	struct MHD_Daemon *d;
	uint16_t port;
	pthread_mutex_t mu;
	/* agent */
	json_t *record;
	long generation;
	unsigned gets, not_modified, posts;
	json_t *last_post;
	/* API server */
	unsigned bindings, patches, pvc_gets, pvc_patches;
	char last_binding[2048];
	char last_patch[1024];
	char last_pvc_patch[1024];
	unsigned binding_status; /* 201 or 409 */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
			     const char *etag)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	if (etag)
		MHD_add_response_header(r, "ETag", etag);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_file(struct MHD_Connection *conn, unsigned status, const char *file)
{
	char *b = read_file(file, NULL);
	enum MHD_Result r = reply(conn, status, b, NULL);

	free(b);
	return r;
}

static enum MHD_Result fake_handle(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload,
				   size_t *upload_size, void **con_cls)
{
	struct fake *f = cls;
	struct upload *u = *con_cls;
	char etag[32], *text;
	enum MHD_Result ret;
	(void)version;

	if (!u) {
		*con_cls = u = calloc(1, sizeof(*u));
		return u ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		u->body = realloc(u->body, u->len + *upload_size + 1);
		if (!u->body)
			abort();
		memcpy(u->body + u->len, upload, *upload_size);
		u->len += *upload_size;
		u->body[u->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&f->mu);
	if (strcmp(url, "/v1/node") == 0 && strcmp(method, "GET") == 0) {
		const char *inm =
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
		snprintf(etag, sizeof(etag), "\"%ld\"", f->generation);
		f->gets++;
		if (inm && strcmp(inm, etag) == 0) {
			f->not_modified++;
			pthread_mutex_unlock(&f->mu);
			return reply(conn, 304, "", etag);
		}
		json_object_set_new(f->record, "generation", json_integer(f->generation));
		text = json_dumps(f->record, JSON_COMPACT);
		pthread_mutex_unlock(&f->mu);
		ret = reply(conn, 200, text, etag);
		free(text);
		return ret;
	}
	if (strcmp(url, "/v1/reservations") == 0 && strcmp(method, "POST") == 0) {
		json_t *b = json_loads(u->body ? u->body : "", 0, NULL);
		json_t *vol = json_array_get(json_object_get(b, "volumes"), 0);
		json_int_t numa = json_integer_value(json_object_get(vol, "numa_node"));
		size_t i;
		json_t *p;
		f->posts++;
		json_decref(f->last_post);
		f->last_post = b;
		/* As the node does: the reservation is in its next record. */
		json_array_foreach (json_object_get(f->record, "pools"), i, p) {
			if (json_integer_value(json_object_get(p, "numa_node")) != numa)
				continue;
			json_object_set_new(
				p, "reserved_bytes",
				json_integer(
					json_integer_value(json_object_get(p, "reserved_bytes")) +
					json_integer_value(json_object_get(vol, "size_bytes"))));
			break;
		}
		f->generation++;
		pthread_mutex_unlock(&f->mu);
		return reply(conn, 201, "{}", NULL);
	}
	/* The API server. */
	if (strstr(url, "/persistentvolumeclaims/") && strcmp(method, "PATCH") == 0) {
		f->pvc_patches++;
		snprintf(f->last_pvc_patch, sizeof(f->last_pvc_patch), "%s %s", url,
			 u->body ? u->body : "");
		pthread_mutex_unlock(&f->mu);
		return reply_file(conn, 200, API_FIX "get-pvc-redis-data-1.json");
	}
	if (strstr(url, "/persistentvolumeclaims/redis-data-1")) {
		f->pvc_gets++;
		pthread_mutex_unlock(&f->mu);
		return reply_file(conn, 200, API_FIX "get-pvc-redis-data-1.json");
	}
	if (strstr(url, "/persistentvolumeclaims/")) {
		pthread_mutex_unlock(&f->mu);
		return reply_file(conn, 404, API_FIX "get-pvc-404.json");
	}
	if (strstr(url, "/storageclasses/pmem-ext4")) {
		pthread_mutex_unlock(&f->mu);
		return reply_file(conn, 200, API_FIX "get-storageclass.json");
	}
	if (strstr(url, "/binding") && strcmp(method, "POST") == 0) {
		unsigned st = f->binding_status ? f->binding_status : 201;
		f->bindings++;
		snprintf(f->last_binding, sizeof(f->last_binding), "%s", u->body ? u->body : "");
		pthread_mutex_unlock(&f->mu);
		return reply_file(conn, st,
				  st == 201 ? API_FIX "post-binding-201.json"
					    : API_FIX "post-binding-409.json");
	}
	if (strstr(url, "/pods/") && strcmp(method, "PATCH") == 0) {
		f->patches++;
		snprintf(f->last_patch, sizeof(f->last_patch), "%s", u->body ? u->body : "");
		pthread_mutex_unlock(&f->mu);
		return reply_file(conn, 200, API_FIX "get-pod-unscheduled.json");
	}
	pthread_mutex_unlock(&f->mu);
	return reply(conn, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}", NULL);
}

static void fake_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode code)
{
	struct upload *u = *con_cls;

	(void)cls, (void)conn, (void)code;
	if (u) {
		free(u->body);
		free(u);
	}
	*con_cls = NULL;
}

static struct fake *fake_new(const char *record)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = {.sin_family = AF_INET};

	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	f->generation = 1;
	if (record) {
		f->record = json_loads(record, 0, NULL);
		assert_non_null(f->record);
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
				NULL, NULL, fake_handle, f, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_NOTIFY_COMPLETED, fake_completed, f, MHD_OPTION_END);
	assert_non_null(f->d);
	f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return f;
}

static void fake_down(struct fake *f)
{
	if (f->d)
		MHD_stop_daemon(f->d);
	f->d = NULL;
}

static void fake_free(struct fake *f)
{
	fake_down(f);
	json_decref(f->record);
	json_decref(f->last_post);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* ---- the extender through the real server ------------------------------------------------ */

struct srv {
	struct config *cfg;
	struct cluster *c;
	struct api_extender_routes *routes;
	struct api_server *s;
	uint16_t port;
};

static void srv_start(struct srv *x, const char *extra, const char *sim)
{
	static char dir[64];
	char yaml[2048], path[128], err[1024] = "";
	struct api_hooks hooks = {0};

	snprintf(dir, sizeof(dir), "/tmp/pmemd-cluster-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sim.yaml", dir);
	write_file(path, sim);
	x->port = free_port();
	snprintf(yaml, sizeof(yaml),
		 "role: scheduler\nlog_level: error\nthreads: 2\n"
		 "listen: [{tcp: 127.0.0.1:%u}]\nscheduler: {simulate: %s}\n%s",
		 x->port, path, extra);
	x->c = view_new(&x->cfg, yaml);
	unlink(path);
	rmdir(dir);
	assert_int_equal(api_extender_routes_new(x->cfg->scheduler.url_prefix, &x->routes), 0);
	hooks.routes = api_extender_routes_list(x->routes, &hooks.n_routes);
	hooks.services.cluster = x->c;
	assert_int_equal(api_server_start(&x->s, x->cfg, &hooks, err, sizeof(err)), 0);
	api_server_set_ready(x->s, true);
}

static void srv_stop(struct srv *x)
{
	api_server_stop(x->s, 1000);
	cluster_free(x->c);
	api_extender_routes_free(x->routes);
	config_free(x->cfg);
}

static const char acc_sim[] = "nodes:\n"
			      "  - name: acc-node\n"
			      "    replicas: 4\n" /* acc-node-0..3: the fixtures' nodes are 1..3 */
			      "    numa_nodes:\n"
			      "      - {id: 0, cpus: 4, pools: [{name: /mnt/pmem0, size: 64Gi}]}\n"
			      "      - {id: 1, cpus: 4, pools: [{name: /mnt/pmem1, size: 16Gi}]}\n";

/* A filter over thousands of nodes is cut into slices on several threads: the answers are
 * the ones a node-by-node evaluation gives, in the request's order. */
static void test_evaluate_large(void **state)
{
	enum { N = 4096 };
	static const char sim[] = "nodes:\n"
				  "  - name: big\n"
				  "    replicas: 4095\n"
				  "    numa_nodes:\n"
				  "      - {id: 0, cpus: 8, pools: [{name: /mnt/p0, size: 64Gi}]}\n"
				  "      - {id: 1, cpus: 8, pools: [{name: /mnt/p1, size: 16Gi}]}\n"
				  "  - name: small\n"
				  "    numa_nodes:\n"
				  "      - {id: 0, cpus: 8, pools: [{name: /mnt/p0, size: 8Gi}]}\n";
	static const char *names[N];
	static char buf[N][24];
	static struct sched_result all[N], one[1];
	struct srv x = {0};
	struct sched_pod_request *req = NULL;
	json_t *pod;
	char err[512];
	(void)state;

	clock_offset = 0;
	srv_start(&x, "kube: {enabled: false}\n", sim);
	/* Reversed, with the small node and an unknown one in the middle. */
	for (int i = 0; i < N - 2; i++) {
		snprintf(buf[i], sizeof(buf[i]), "big-%d", N - 3 - i);
		names[i] = buf[i];
	}
	names[N / 2] = "small";
	names[N - 2] = "nowhere";
	names[N - 1] = "big-4094";
	pod = pod_json("p", "u", "32Gi", 2);
	assert_int_equal(cluster_pod_request(x.c, pod, &req, err, sizeof(err)), 0);
	json_decref(pod);
	assert_int_equal(cluster_evaluate(x.c, req, names, N, all), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(cluster_evaluate(x.c, req, &names[i], 1, one), 0);
		if (all[i].feasible != one[0].feasible || all[i].score != one[0].score ||
		    strcmp(all[i].reason, one[0].reason) != 0)
			fail_msg("node %s: %d/%d/%s vs %d/%d/%s", names[i], all[i].feasible,
				 all[i].score, all[i].reason, one[0].feasible, one[0].score,
				 one[0].reason);
	}
	assert_false(all[N / 2].feasible);
	assert_non_null(strstr(all[N / 2].reason, "need 32Gi"));
	assert_false(all[N - 2].feasible);
	assert_string_equal(all[N - 2].reason, "no pmemd record for node nowhere");
	assert_true(all[0].feasible);
	sched_pod_request_free(req);
	srv_stop(&x);
}

static void test_extender_fixtures_without_kube(void **state)
{
	struct srv x = {0};
	json_t *j;
	long st;
	(void)state;

	clock_offset = 0;
	srv_start(&x, "kube: {enabled: false}\n", acc_sim);

	/* A pod asking nothing: every node passes untouched, in the request's form. */
	j = post_file(x.port, "/scheduler/filter", SCHED_FIX "filter-args-no-pmem.json");
	assert_string_equal(error_of(j), "");
	assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 3);
	assert_int_equal(json_object_size(json_object_get(j, "FailedNodes")), 0);
	json_decref(j);
	j = post_file(x.port, "/scheduler/filter",
		      SCHED_FIX "filter-args-nodeCacheCapable-false.json");
	assert_true(json_is_null(json_object_get(j, "NodeNames")));
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "Nodes"), "items")), 3);
	json_decref(j);
	j = post_file(x.port, "/scheduler/prioritize", SCHED_FIX "prioritize-args-no-pmem.json");
	assert_int_equal(json_array_size(j), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(json_integer_value(json_object_get(json_array_get(j, i), "Score")),
				 0);
	json_decref(j);

	/* A PVC and no Kubernetes API: the pod fails everywhere, saying why. */
	j = post_file(x.port, "/scheduler/filter", SCHED_FIX "filter-args-pmem-pvc-inline.json");
	assert_string_equal(error_of(j), "");
	assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "FailedNodes"), "acc-node-1")),
		"persistentvolumeclaim default/redis-data-1: cannot be looked up: no "
		"Kubernetes API configured");
	json_decref(j);

	/* Malformed bodies: HTTP 200 and Error (what kube-scheduler reads), never a crash. */
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"Pod\": null, \"NodeNames\": []}",
		"{\"Pod\": {}}",
		"{\"Pod\": {}, \"NodeNames\": [\"a\"], \"Nodes\": {\"items\": []}}",
		"{\"Pod\": {}, \"NodeNames\": [1]}",
		"nul\x01l",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = call(x.port, "POST", "/scheduler/filter", bad[i], strlen(bad[i]), &st);
		assert_int_equal(st, 200);
		assert_non_null(j);
		if (strncmp(error_of(j), "ExtenderArgs: ", 14) != 0)
			fail_msg("body %zu: Error \"%s\"", i, error_of(j));
		json_decref(j);
		j = call(x.port, "POST", "/scheduler/prioritize", bad[i], strlen(bad[i]), &st);
		assert_int_equal(st, 200);
		assert_true(json_is_array(j) && json_array_size(j) == 0);
		json_decref(j);
		j = call(x.port, "POST", "/scheduler/bind", bad[i], strlen(bad[i]), &st);
		assert_int_equal(st, 200);
		assert_non_null(strstr(error_of(j), "ExtenderBindingArgs: "));
		json_decref(j);
	}
	j = call(x.port, "GET", "/scheduler/filter", NULL, 0, &st);
	assert_int_equal(st, 405);
	json_decref(j);
	j = call(x.port, "GET", "/v1/cluster", NULL, 0, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "source")), "simulate");
	assert_int_equal(json_array_size(json_object_get(j, "nodes")), 4);
	json_decref(j);
	srv_stop(&x);
}

static void test_extender_fixtures_with_kube(void **state)
{
	struct fake *api = fake_new(NULL);
	struct srv x = {0};
	char extra[256];
	json_t *j, *b;
	(void)state;

	clock_offset = 0;
	snprintf(extra, sizeof(extra), "kube: {enabled: true, api_url: \"http://127.0.0.1:%u\"}\n",
		 api->port);
	srv_start(&x, extra, acc_sim);
	assert_true(cluster_has_kube(x.c));

	/*
	 * redis-1: PVC redis-data-1 (32Gi, Pending: new capacity) + 8Gi inline + 16Gi annotation
	 * = 56Gi, 2 exclusive CPUs. Each node has 64Gi + 16Gi: it fits only with the 16Gi
	 * volume on NUMA node 1.
	 */
	j = post_file(x.port, "/scheduler/filter", SCHED_FIX "filter-args-pmem-pvc-inline.json");
	assert_string_equal(error_of(j), "");
	assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 2);
	json_decref(j);
	j = post_file(x.port, "/scheduler/prioritize",
		      SCHED_FIX "prioritize-args-pmem-pvc-inline.json");
	assert_int_equal(json_array_size(j), 2);
	json_int_t s = json_integer_value(json_object_get(json_array_get(j, 0), "Score"));
	assert_true(s >= 0 && s <= 10);
	json_decref(j);
	/* The PVC was read once: the lookups are cached. */
	assert_int_equal(api->pvc_gets, 1);

	/* Bind: hold, annotate, POST the binding as the fixture shows. */
	j = post(x.port, "/scheduler/bind",
		 "{\"PodName\":\"redis-1\",\"PodNamespace\":\"default\","
		 "\"PodUID\":\"c65f5345-5ff5-4f05-af16-f2e359804e43\",\"Node\":\"acc-node-3\"}");
	assert_string_equal(error_of(j), "");
	json_decref(j);
	assert_int_equal(api->bindings, 1);
	assert_int_equal(api->patches, 1);
	assert_non_null(strstr(api->last_patch, "pmem.io/numa-node"));
	/* The PVC carries the decision for the node that creates the volume. */
	assert_int_equal(api->pvc_patches, 1);
	assert_non_null(strstr(api->last_pvc_patch,
			       "/api/v1/namespaces/default/persistentvolumeclaims/redis-data-1 "));
	b = json_loads(strchr(api->last_pvc_patch, ' ') + 1, 0, NULL);
	{
		json_t *an = json_object_get(json_object_get(b, "metadata"), "annotations");

		assert_string_equal(json_string_value(json_object_get(an, "pmem.io/node")),
				    "acc-node-3");
		assert_string_equal(json_string_value(json_object_get(an, "pmem.io/pod-uid")),
				    "c65f5345-5ff5-4f05-af16-f2e359804e43");
		assert_non_null(json_string_value(json_object_get(an, "pmem.io/numa-node")));
	}
	json_decref(b);
	b = json_loads(api->last_binding, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(b, "kind")), "Binding");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(b, "target"), "name")),
		"acc-node-3");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(b, "metadata"), "name")),
		"redis-1");
	json_decref(b);
	/* The node is now full on NUMA node 1: the pod's twin fails there in filter. */
	j = post_file(x.port, "/scheduler/filter", SCHED_FIX "filter-args-pmem-pvc-inline.json");
	assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 1);
	assert_non_null(strstr(
		json_string_value(json_object_get(json_object_get(j, "FailedNodes"), "acc-node-3")),
		"need"));
	json_decref(j);

	/* Another pod sharing the PVC: the claim is where redis-1's hold put it, so it passes
	 * only there and takes no new capacity; elsewhere it fails naming that node. */
	j = post(x.port, "/scheduler/filter",
		 "{\"Pod\":{\"metadata\":{\"name\":\"sharer\",\"namespace\":\"default\","
		 "\"uid\":\"u-sharer\"},\"spec\":{\"volumes\":[{\"name\":\"d\","
		 "\"persistentVolumeClaim\":{\"claimName\":\"redis-data-1\"}}]}},"
		 "\"NodeNames\":[\"acc-node-3\",\"acc-node-1\"]}");
	assert_string_equal(error_of(j), "");
	assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "NodeNames"), 0)),
			    "acc-node-3");
	assert_non_null(strstr(
		json_string_value(json_object_get(json_object_get(j, "FailedNodes"), "acc-node-1")),
		"lives on node acc-node-3"));
	json_decref(j);
	j = post(x.port, "/scheduler/bind",
		 "{\"PodName\":\"sharer\",\"PodNamespace\":\"default\","
		 "\"PodUID\":\"u-sharer\",\"Node\":\"acc-node-3\"}");
	assert_string_equal(error_of(j), "");
	json_decref(j);
	j = cluster_to_json(x.c);
	assert_int_equal(json_array_size(json_object_get(j, "holds")), 2);
	{
		size_t i;
		json_t *h;

		json_array_foreach (json_object_get(j, "holds"), i, h) {
			if (strcmp(json_string_value(json_object_get(h, "pod_uid")), "u-sharer") !=
			    0)
				continue;
			assert_int_equal(json_integer_value(json_object_get(h, "bytes")), 0);
			assert_false(json_is_true(json_object_get(
				json_array_get(json_object_get(h, "volumes"), 0), "counted")));
		}
	}
	json_decref(j);
	/* Nothing was counted twice: redis-1's twin still fails on acc-node-3 the same way. */
	j = post_file(x.port, "/scheduler/filter", SCHED_FIX "filter-args-pmem-pvc-inline.json");
	assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 1);
	json_decref(j);

	/* The API server says 409 (already bound): Error, and the hold is dropped. */
	api->binding_status = 409;
	j = post(x.port, "/scheduler/bind",
		 "{\"PodName\":\"redis-1\",\"PodNamespace\":\"default\","
		 "\"PodUID\":\"c65f5345-5ff5-4f05-af16-f2e359804e43\",\"Node\":\"acc-node-1\"}");
	assert_non_null(strstr(error_of(j), "already assigned"));
	json_decref(j);
	j = cluster_to_json(x.c);
	assert_int_equal(json_array_size(json_object_get(j, "holds")), 1); /* the sharer's */
	json_decref(j);

	/* A missing PVC: the pod fails everywhere with "not found". */
	j = post(x.port, "/scheduler/filter",
		 "{\"Pod\":{\"metadata\":{\"name\":\"q\",\"namespace\":\"default\",\"uid\":\"q\"},"
		 "\"spec\":{\"volumes\":[{\"name\":\"v\",\"persistentVolumeClaim\":{\"claimName\":"
		 "\"nope\"}}]}},\"NodeNames\":[\"acc-node-1\"]}");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "FailedNodes"), "acc-node-1")),
		"persistentvolumeclaim default/nope not found");
	json_decref(j);
	srv_stop(&x);
	fake_free(api);
}

/* ---- agents ---------------------------------------------------------------------------- */

static const char agent_record_fmt[] =
	"{\"node\": \"%s\", \"numa_nodes\": ["
	"{\"id\": 0, \"cpus\": [0, 1], \"distances\": {\"0\": 10}}],"
	"\"pools\": [{\"name\": \"/mnt/pmem0\", \"type\": \"pmem\", \"state\": \"ready\","
	" \"numa_node\": 0, \"fstype\": \"ext4\", \"allocatable_bytes\": 34359738368,"
	" \"allocated_bytes\": 0, \"reserved_bytes\": 0}]}";

static json_t *wait_view(struct cluster *c, bool (*ok)(json_t *v))
{
	for (int i = 0; i < 500; i++) {
		json_t *v = cluster_to_json(c);
		if (ok(v))
			return v;
		if (i == 499) {
			char *t = json_dumps(v, JSON_COMPACT);
			fprintf(stderr, "the view: %s\n", t);
			free(t);
		}
		json_decref(v);
		usleep(10 * 1000);
	}
	fail_msg("the view never got there");
	return NULL;
}

static json_t *node_in(json_t *v, const char *name)
{
	size_t i;
	json_t *n;

	json_array_foreach (json_object_get(v, "nodes"), i, n) {
		if (strcmp(json_string_value(json_object_get(n, "name")), name) == 0)
			return n;
	}
	return NULL;
}

static bool two_nodes_and_304s(json_t *v)
{
	json_t *a = json_array_get(json_object_get(v, "agents"), 0);
	return json_array_size(json_object_get(v, "nodes")) == 2 &&
	       json_integer_value(json_object_get(a, "not_modified")) >= 2;
}

static bool held_dropped(json_t *v)
{
	json_t *n = node_in(v, "agent-a");
	return json_array_size(json_object_get(v, "holds")) == 0 && n &&
	       json_integer_value(json_object_get(json_object_get(n, "capacity"),
						  "reserved_bytes")) == (json_int_t)(16 * GI);
}

static bool b_failing(json_t *v)
{
	json_t *n = node_in(v, "agent-b");
	return n && json_is_string(json_object_get(n, "error"));
}

static void test_agents(void **state)
{
	char rec[1024], yaml[512], err[512];
	struct fake *a, *b;
	struct config *cfg;
	struct cluster *c;
	json_t *v, *n, *pod;
	(void)state;

	clock_offset = 0;
	snprintf(rec, sizeof(rec), agent_record_fmt, "agent-a");
	a = fake_new(rec);
	snprintf(rec, sizeof(rec), agent_record_fmt, "agent-b");
	b = fake_new(rec);
	snprintf(yaml, sizeof(yaml),
		 "role: scheduler\nkube: {enabled: false}\n"
		 "scheduler:\n  agents: [http://127.0.0.1:%u, http://127.0.0.1:%u]\n"
		 "  poll_interval: 100ms\n  max_record_age: 60s\n",
		 a->port, b->port);
	c = view_new(&cfg, yaml);
	assert_int_equal(cluster_start(c, err, sizeof(err)), 0);

	/* Both records arrive; then the unchanged ones cost a 304 each. */
	v = wait_view(c, two_nodes_and_304s);
	n = node_in(v, "agent-a");
	assert_string_equal(json_string_value(json_object_get(n, "source")), "agents");
	assert_false(json_is_true(json_object_get(n, "stale")));
	json_decref(v);
	pthread_mutex_lock(&a->mu);
	assert_true(a->not_modified >= 2);
	pthread_mutex_unlock(&a->mu);

	/* Bind on agent-a: the reservation reaches it, and once its record shows it the
	 * scheduler's own hold goes (no double count). */
	pod = pod_json("p1", "uid-p1", "16Gi", 0);
	cluster_pod_remember(c, pod);
	json_decref(pod);
	bind_ok(c, "p1", "uid-p1", "agent-a");
	pthread_mutex_lock(&a->mu);
	assert_int_equal(a->posts, 1);
	assert_string_equal(json_string_value(json_object_get(a->last_post, "pod_uid")), "uid-p1");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_array_get(json_object_get(a->last_post, "volumes"), 0), "size_bytes")),
		16 * GI);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_array_get(json_object_get(a->last_post, "volumes"), 0), "numa_node")),
		0);
	pthread_mutex_unlock(&a->mu);
	v = wait_view(c, held_dropped);
	json_decref(v);

	/* agent-b goes down: its node keeps its last record, with the error... */
	fake_down(b);
	v = wait_view(c, b_failing);
	n = node_in(v, "agent-b");
	assert_non_null(strstr(json_string_value(json_object_get(n, "error")), "GET http://"));
	json_decref(v);
	/* ... and fails filter once that record is too old, never counted as empty. */
	clock_offset = 93 * 1000;
	{
		struct sched_pod_request *req = NULL;
		struct sched_result res[2];
		const char *names[] = {"agent-a", "agent-b"};
		pod = pod_json("p2", "uid-p2", "1Gi", 0);
		assert_int_equal(cluster_pod_request(c, pod, &req, err, sizeof(err)), 0);
		json_decref(pod);
		/* agent-a answers within the next round and is fresh again. */
		for (int i = 0; i < 500; i++) {
			assert_int_equal(cluster_evaluate(c, req, names, 2, res), 0);
			if (res[0].feasible)
				break;
			usleep(10 * 1000);
		}
		assert_true(res[0].feasible);
		assert_false(res[1].feasible);
		assert_non_null(strstr(res[1].reason, "record is 93s old (max 60s): the node's "
						      "pmemd is not reporting (GET http://"));
		sched_pod_request_free(req);
	}
	cluster_free(c);
	config_free(cfg);
	fake_free(a);
	fake_free(b);
}

/* ---- the kube source: PmemNode list + watch ---------------------------------------------- */

struct kapi {
	struct MHD_Daemon *d;
	uint16_t port;
	pthread_mutex_t mu;
	unsigned lists, watches;
	char first_watch_query[256];
};

static char *pmemnode(const char *name, long gen, long allocated)
{
	char *s = NULL;

	assert_true(
		asprintf(&s,
			 "{\"apiVersion\":\"pmem.io/v1alpha1\",\"kind\":\"PmemNode\","
			 "\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"%ld\"},\"status\":"
			 "{\"node\":\"%s\",\"generation\":%ld,\"numa_nodes\":[{\"id\":0,\"cpus\":"
			 "[0,1]}],\"pools\":[{\"name\":\"/mnt/pmem0\",\"type\":\"pmem\",\"state\":"
			 "\"ready\",\"numa_node\":0,\"allocatable_bytes\":17179869184,"
			 "\"allocated_bytes\":%ld}]}}",
			 name, 10 + gen, name, gen, allocated) > 0);
	return s;
}

static enum MHD_Result kapi_handle(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload,
				   size_t *upload_size, void **con_cls)
{
	struct kapi *k = cls;
	const char *watch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");
	char *a = NULL, *b = NULL, *body = NULL;
	unsigned n;
	enum MHD_Result r;
	(void)version, (void)upload, (void)upload_size, (void)con_cls, (void)method;

	if (strcmp(url, "/apis/pmem.io/v1alpha1/pmemnodes") != 0)
		return reply(conn, 404, "{\"kind\":\"Status\",\"code\":404}", NULL);
	pthread_mutex_lock(&k->mu);
	if (!watch) {
		n = ++k->lists;
		pthread_mutex_unlock(&k->mu);
		/* The first list: n1, n2. After the 410: n1 and a new n3. */
		a = pmemnode("n1", n == 1 ? 1 : 2, n == 1 ? 0 : 1 << 30);
		b = pmemnode(n == 1 ? "n2" : "n3", 1, 0);
		assert_true(asprintf(&body,
				     "{\"kind\":\"PmemNodeList\",\"metadata\":{\"resourceVersion\":"
				     "\"%u\"},\"items\":[%s,%s]}",
				     n == 1 ? 10 : 30, a, b) > 0);
	} else {
		n = ++k->watches;
		if (n == 1)
			snprintf(k->first_watch_query, sizeof(k->first_watch_query), "%s",
				 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
							     "resourceVersion"));
		pthread_mutex_unlock(&k->mu);
		if (n == 1) {
			/* n1 changes, n2 goes, a bookmark; then the stream ends on time. */
			a = pmemnode("n1", 2, 1 << 30);
			b = pmemnode("n2", 1, 0);
			assert_true(
				asprintf(&body,
					 "{\"type\":\"MODIFIED\",\"object\":%s}\n"
					 "{\"type\":\"DELETED\",\"object\":%s}\n"
					 "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"PmemNode\","
					 "\"metadata\":{\"resourceVersion\":\"20\"}}}\n",
					 a, b) > 0);
		} else if (n == 2) {
			body = strdup(
				"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
				"\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
				"\"too old resource version: 20 (25)\",\"reason\":\"Expired\","
				"\"code\":410}}\n");
		} else {
			usleep(100 * 1000); /* a quiet watch that ends on time */
			body = strdup("");
		}
	}
	r = reply(conn, 200, body, NULL);
	free(a);
	free(b);
	free(body);
	return r;
}

static bool kube_synced(json_t *v)
{
	json_t *n1 = node_in(v, "n1");
	return json_array_size(json_object_get(v, "nodes")) == 2 && n1 && node_in(v, "n3") &&
	       json_integer_value(json_object_get(n1, "generation")) == 2;
}

static void test_kube_source(void **state)
{
	struct kapi k = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char yaml[512], err[512];
	struct config *cfg;
	struct cluster *c;
	json_t *v, *n1;
	(void)state;

	clock_offset = 0;
	pthread_mutex_init(&k.mu, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	k.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			       NULL, NULL, kapi_handle, &k, MHD_OPTION_SOCK_ADDR, &sa,
			       MHD_OPTION_END);
	assert_non_null(k.d);
	k.port = MHD_get_daemon_info(k.d, MHD_DAEMON_INFO_BIND_PORT)->port;
	snprintf(yaml, sizeof(yaml),
		 "role: scheduler\nkube: {enabled: true, api_url: \"http://127.0.0.1:%u\"}\n",
		 k.port);
	c = view_new(&cfg, yaml);
	assert_int_equal(cluster_get_source(c), CLUSTER_SOURCE_KUBE);
	assert_int_equal(cluster_start(c, err, sizeof(err)), 0);
	/* list (n1, n2) -> watch from 10 (n1 modified, n2 deleted) -> 410 -> list (n1, n3). */
	v = wait_view(c, kube_synced);
	n1 = node_in(v, "n1");
	assert_string_equal(json_string_value(json_object_get(n1, "source")), "kube");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(n1, "capacity"),
							    "allocated_bytes")),
			 1 << 30);
	assert_null(node_in(v, "n2"));
	json_decref(v);
	pthread_mutex_lock(&k.mu);
	assert_int_equal(k.lists, 2);
	assert_string_equal(k.first_watch_query, "10");
	pthread_mutex_unlock(&k.mu);
	cluster_free(c);
	config_free(cfg);
	MHD_stop_daemon(k.d);
	pthread_mutex_destroy(&k.mu);
}

/* The scheduler role's routes, at the default prefix, are in the OpenAPI document. */
static void test_openapi_covers_scheduler_routes(void **state)
{
	extern const char pmemd_openapi_json[];
	extern const char pmemd_openapi_json_end[];
	struct api_extender_routes *r = NULL;
	const struct api_route *routes;
	json_t *doc, *paths;
	size_t n;
	(void)state;

	doc = json_loadb(pmemd_openapi_json, (size_t)(pmemd_openapi_json_end - pmemd_openapi_json),
			 0, NULL);
	assert_non_null(doc);
	paths = json_object_get(doc, "paths");
	assert_int_equal(api_extender_routes_new(CONFIG_DEFAULT_URL_PREFIX, &r), 0);
	routes = api_extender_routes_list(r, &n);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		const char *m = strcmp(routes[i].method, "GET") == 0 ? "get" : "post";
		if (!json_object_get(json_object_get(paths, routes[i].pattern), m))
			fail_msg("not in docs/openapi.json: %s %s", routes[i].method,
				 routes[i].pattern);
	}
	assert_int_equal(api_extender_routes_new("relative", &r), -EINVAL);
	api_extender_routes_free(r);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simulate_good),
		cmocka_unit_test(test_simulate_errors),
		cmocka_unit_test(test_simulate_every_error_and_file),
		cmocka_unit_test(test_view_stale_and_holds),
		cmocka_unit_test(test_view_heartbeat_age),
		cmocka_unit_test(test_view_holds_expire),
		cmocka_unit_test(test_evaluate_large),
		cmocka_unit_test(test_name_cache),
		cmocka_unit_test(test_extender_fixtures_without_kube),
		cmocka_unit_test(test_extender_fixtures_with_kube),
		cmocka_unit_test(test_agents),
		cmocka_unit_test(test_kube_source),
		cmocka_unit_test(test_openapi_covers_scheduler_routes),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* The malformed bodies are logged as warnings by design; keep the output readable. */
	log_set_level(LOG_LVL_ERROR);
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
