/*
 * sched-latency: the extender's hot path on a 5,000-node simulated cluster (issue 6,
 * "Benchmarks: Latency"). One pod (the recorded redis-1: a 32Gi PVC, an 8Gi inline volume, a
 * 16Gi annotation volume, 2 CPUs) is filtered and prioritized against every node, with a
 * NodeNames body as kube-scheduler sends it when nodeCacheCapable is true. Per call, timed:
 * parse the body, read the pod's request, find each named node, sched_evaluate() it, write the
 * answer. Also, in the same run, the time just to parse that body with jansson (the baseline)
 * and with the extender's parser. Prints figures; exits non-zero only when it could not run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_ZERO_STATS /* no valgrind headers: the --count mode still runs, uncounted */
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s)
#endif

#include "cluster/cluster.h"
#include "config/config.h"
#include "sched/sched-extender.h"
#include "sched/sched-pod.h"
#include "sched/sched.h"

#define GiB	 ((uint64_t)1 << 30)
#define NODES	 5000
#define POD_FILE "test/fixtures/kube-scheduler-v1.20/filter-args-pmem-pvc-inline.json"
#define PVC_FILE "test/fixtures/kube-apiserver-v1.20/get-pvc-redis-data-1.json"
#define SC_FILE	 "test/fixtures/kube-apiserver-v1.20/get-storageclass.json"

static int iterations = 2000;
static int parse_iterations = 300;
static bool view_only; /* --view-only: just the scheduler role's path (for a profile) */
/* --count=N: only N filter + N prioritize calls on the scheduler role's path, untimed, between
 * CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS: instruction counts under callgrind, which do
 * not move with the machine's load as wall-clock percentiles do. */
static int count_calls = -1;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 42;
static uint64_t rng(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- the cluster, and a name -> node index as the scheduler role would keep one ------- */

struct bench_cluster {
	struct sched_node nodes[NODES];
	struct sched_numa numa[NODES][2];
	struct sched_pool pools[NODES][2];
	char names[NODES][40];
	int32_t slots[1 << 14]; /* open addressing, node index + 1 */
};

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void bench_build(struct bench_cluster *c)
{
	memset(c->slots, 0, sizeof(c->slots));
	for (int i = 0; i < NODES; i++) {
		snprintf(c->names[i], sizeof(c->names[i]), "pmem-node-%05d.rack-%02d.zone-a", i,
			 i % 50);
		for (int k = 0; k < 2; k++) {
			c->numa[i][k] = (struct sched_numa){
				.id = k, .cpus = 48, .cpus_free = (unsigned)(rng() % 49)};
			/* 1.5 TiB per socket, 0-100% used: some nodes fit, some do not */
			uint64_t alloc = 1536 * GiB;
			c->pools[i][k] = (struct sched_pool){
				.name = k ? "/mnt/pmem1" : "/mnt/pmem0",
				.numa = k,
				.fstype = "ext4",
				.allocatable = alloc,
				.allocated = (rng() % 1537) * GiB,
				.reserved = (rng() % 8) * GiB,
			};
		}
		c->nodes[i] = (struct sched_node){.name = c->names[i],
						  .n_numa = 2,
						  .numa = c->numa[i],
						  .n_pools = 2,
						  .pools = c->pools[i]};
		uint32_t h = fnv1a(c->names[i]) & ((1 << 14) - 1);
		while (c->slots[h])
			h = (h + 1) & ((1 << 14) - 1);
		c->slots[h] = i + 1;
	}
}

static const struct sched_node *bench_find(const struct bench_cluster *c, const char *name)
{
	uint32_t h = fnv1a(name) & ((1 << 14) - 1);
	for (; c->slots[h]; h = (h + 1) & ((1 << 14) - 1)) {
		const struct sched_node *n = &c->nodes[c->slots[h] - 1];
		if (strcmp(n->name, name) == 0)
			return n;
	}
	return NULL;
}

/* ---- the PVC resolver: a cache hit, as the scheduler role's watch cache gives ---------- */

static struct sched_pvc_info pvc_cached;

static int lookup(void *ud, const char *ns, const char *claim, struct sched_pvc_info *out,
		  char *err, size_t err_len)
{
	(void)ud;
	(void)err;
	(void)err_len;
	if (strcmp(ns, "default") != 0 || strcmp(claim, "redis-data-1") != 0)
		return -ENOENT;
	*out = pvc_cached;
	return 0;
}

/* ---- one extender call ----------------------------------------------------------------- */

struct stage_ns {
	uint64_t parse, request, lookup, evaluate, write;
};

static int one_call(bool filter, struct sched_ext_parser *p, const char *body, size_t len,
		    const struct bench_cluster *c, const struct sched_node **found,
		    struct sched_result *res, struct sched_ext_buf *out, struct stage_ns *st,
		    size_t *feasible)
{
	struct sched_pod_opts o = {.lookup_pvc = lookup};
	struct sched_ext_args *a = NULL;
	struct sched_pod_request *pr = NULL;
	static struct sched_prepared prep_storage;
	struct sched_prepared *prep = &prep_storage;
	char err[256];
	uint64_t t0 = now_ns(), t1, t2, t25, t3, t4;
	int r;

	if ((r = sched_ext_args_parse(p, body, len, &a, err, sizeof(err)))) {
		fprintf(stderr, "parse: %s\n", err);
		return r;
	}
	t1 = now_ns();
	if ((r = sched_pod_request_build(a->pod, &o, &pr, err, sizeof(err)))) {
		fprintf(stderr, "request: %s\n", err);
		sched_ext_args_free(a);
		return r;
	}
	pr->req.terse = true; /* as the extender asks: no summary text for nodes that pass */
	t2 = now_ns();
	for (size_t i = 0; i < a->n_nodes; i++)
		found[i] = bench_find(c, a->names[i]);
	t25 = now_ns();
	*feasible = 0;
	/* Once per call, as the scheduler role does: what depends only on the pod. */
	if ((r = sched_request_prepare(&pr->req, prep))) {
		fprintf(stderr, "prepare: %s\n", prep->reason);
		sched_pod_request_free(pr);
		sched_ext_args_free(a);
		return r;
	}
	for (size_t i = 0; i < a->n_nodes; i++) {
		const struct sched_node *n = found[i];
		if (!n) {
			res[i] = (struct sched_result){.feasible = false};
			snprintf(res[i].reason, sizeof(res[i].reason), "no record of this node");
			continue;
		}
		if ((r = sched_evaluate_prepared(n, prep, &res[i]))) {
			fprintf(stderr, "evaluate %s: %s\n", n->name, res[i].reason);
			break;
		}
		*feasible += res[i].feasible;
	}
	t3 = now_ns();
	sched_ext_buf_reset(out);
	if (!r)
		r = filter ? sched_ext_write_filter(out, a, body, res, NULL)
			   : sched_ext_write_priorities(out, a, res);
	t4 = now_ns();
	st->parse = t1 - t0;
	st->request = t2 - t1;
	st->lookup = t25 - t2;
	st->evaluate = t3 - t25;
	st->write = t4 - t3;
	sched_pod_request_free(pr);
	sched_ext_args_free(a);
	return r;
}

/* One call of the scheduler role's path: parse, the pod's request, evaluate, the answer. */
static int view_call(struct sched_ext_parser *p, struct cluster *view, const char *body, size_t len,
		     struct sched_result *res, struct sched_ext_buf *out, bool filter)
{
	struct sched_ext_args *a = NULL;
	struct sched_pod_request *pr = NULL;
	char err[1024];
	int r;

	if ((r = sched_ext_args_parse(p, body, len, &a, err, sizeof(err))) < 0 ||
	    (r = cluster_pod_request(view, a->pod, &pr, err, sizeof(err))) < 0) {
		fprintf(stderr, "view path: %s\n", err);
		sched_ext_args_free(a);
		return r;
	}
	pr->req.terse = true;
	sched_ext_buf_reset(out);
	if ((r = cluster_evaluate(view, pr, a->names, a->n_nodes, res)) == 0)
		r = filter ? sched_ext_write_filter(out, a, body, res, NULL)
			   : sched_ext_write_priorities(out, a, res);
	sched_pod_request_free(pr);
	sched_ext_args_free(a);
	return r;
}

/* --count=N: 5 warm-up calls of each verb, then N filter + N prioritize calls counted. */
static int view_counted(struct sched_ext_parser *p, struct cluster *view, const char *body,
			size_t len, struct sched_result *res, struct sched_ext_buf *out, int n)
{
	size_t feasible = 0;

	for (int i = -5; i < n; i++) {
		if (i == 0)
			CALLGRIND_ZERO_STATS;
		if (view_call(p, view, body, len, res, out, true) < 0 ||
		    view_call(p, view, body, len, res, out, false) < 0)
			return 1;
	}
	CALLGRIND_DUMP_STATS_AT("sched-latency --count");
	for (size_t i = 0; i < NODES; i++)
		feasible += res[i].feasible;
	printf("count      %d filter + %d prioritize calls on the scheduler role's path "
	       "(%zu/%d feasible, last answer %zu bytes)\n",
	       n, n, feasible, NODES, out->len);
	return 0;
}

/*
 * The production path without HTTP: the scheduler role's view (cluster_new over a simulate
 * file of NODES nodes, the same shape as above but uniform), cluster_pod_request, and
 * cluster_evaluate, which cuts a large filter into slices on the machine's cores. The pod is
 * redis-1 without its PVC: without a Kubernetes API the view cannot look one up.
 */
static int view_path(const char *body_pod, int n_iter, uint64_t *lat, uint64_t *lat_p, int counted)
{
	char dir[] = "/tmp/sched-latency-XXXXXX", path[64], cfgtext[256], err[1024];
	struct config_errors *errs = NULL;
	struct config *cfg = NULL;
	struct cluster *view = NULL;
	struct sched_ext_parser *p = sched_ext_parser_new();
	struct sched_ext_buf out = {0};
	struct sched_result *res = calloc(NODES, sizeof(*res));
	size_t cap = strlen(body_pod) + NODES * 48 + 64, len;
	char *body = malloc(cap);
	FILE *f;
	int r = 1;

	if (!mkdtemp(dir) || !p || !res || !body)
		goto out;
	snprintf(path, sizeof(path), "%s/sim.yaml", dir);
	if (!(f = fopen(path, "w")))
		goto out;
	fprintf(f, "nodes:\n  - name: pmem-node\n    replicas: %d\n    numa_nodes:\n", NODES);
	for (int k = 0; k < 2; k++)
		fprintf(f,
			"      - {id: %d, cpus: 48, cpus_exclusive: 24, pools: [{name: "
			"/mnt/pmem%d, "
			"size: 1536Gi, allocated: 768Gi}]}\n",
			k, k);
	fclose(f);
	snprintf(cfgtext, sizeof(cfgtext),
		 "role: scheduler\nkube: {enabled: false}\nscheduler: {simulate: %s}\n", path);
	if (config_parse("bench", cfgtext, strlen(cfgtext), NULL, &cfg, &errs) < 0) {
		config_errors_print(errs, stderr);
		goto out;
	}
	if (cluster_new(&(struct cluster_opts){.cfg = cfg}, &view, err, sizeof(err)) < 0) {
		fprintf(stderr, "cluster_new: %s\n", err);
		goto out;
	}
	len = (size_t)snprintf(body, cap, "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[", body_pod);
	for (int i = 0; i < NODES; i++)
		len += (size_t)snprintf(body + len, cap - len, "%s\"pmem-node-%d\"", i ? "," : "",
					i);
	len += (size_t)snprintf(body + len, cap - len, "]}");
	if (counted >= 0) {
		r = view_counted(p, view, body, len, res, &out, counted);
		goto out;
	}
	/* Each round times one filter, then one prioritize (view_call: the same work as the
	 * extender's handlers minus HTTP). */
	for (int i = -50; i < n_iter; i++) {
		uint64_t t0 = now_ns();

		if (view_call(p, view, body, len, res, &out, true) < 0)
			goto out;
		if (i >= 0)
			lat[i] = now_ns() - t0;
		t0 = now_ns();
		if (view_call(p, view, body, len, res, &out, false) < 0)
			goto out;
		if (i >= 0)
			lat_p[i] = now_ns() - t0;
	}
	r = 0;
out:
	if (r)
		fprintf(stderr, "sched-latency: the view path could not run\n");
	unlink(path);
	rmdir(dir);
	cluster_free(view);
	config_free(cfg);
	config_errors_free(errs);
	sched_ext_buf_free(&out);
	sched_ext_parser_free(p);
	free(res);
	free(body);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *v, int n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	int i = (int)(q * (n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

static double mean_ms(const uint64_t *v, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += (double)v[i];
	return s / n / 1e6;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--iterations=", 13) == 0)
			iterations = atoi(argv[i] + 13);
		else if (strncmp(argv[i], "--parse-iterations=", 19) == 0)
			parse_iterations = atoi(argv[i] + 19);
		else if (strcmp(argv[i], "--view-only") == 0)
			view_only = true;
		else if (strncmp(argv[i], "--count=", 8) == 0)
			count_calls = atoi(argv[i] + 8);
		else {
			fprintf(stderr,
				"usage: %s [--iterations=N] [--parse-iterations=N] [--view-only] "
				"[--count=N]\n",
				argv[0]);
			return 2;
		}
	}
	if (iterations < 10 || parse_iterations < 10) {
		fprintf(stderr, "iterations must be >= 10\n");
		return 2;
	}

	/* The pod as kube-scheduler sent it, and its PVC as the API server answers. */
	json_t *fix = json_load_file(POD_FILE, 0, NULL);
	json_t *pvc = json_load_file(PVC_FILE, 0, NULL);
	json_t *sc = json_load_file(SC_FILE, 0, NULL);
	char err[256];
	if (!fix || !pvc || !sc) {
		fprintf(stderr, "sched-latency: cannot read the fixtures (run from the repo)\n");
		return 1;
	}
	if (sched_pvc_info_from_json(pvc, sc, NULL, NULL, &pvc_cached, err, sizeof(err))) {
		fprintf(stderr, "pvc: %s\n", err);
		return 1;
	}
	char *pod = json_dumps(json_object_get(fix, "Pod"), JSON_COMPACT);

	static struct bench_cluster c;
	bench_build(&c);

	/* The body: {"Pod":...,"Nodes":null,"NodeNames":[5,000 names]} */
	size_t cap = strlen(pod) + NODES * 48 + 64, len;
	char *body = malloc(cap);
	len = (size_t)snprintf(body, cap, "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[", pod);
	for (int i = 0; i < NODES; i++)
		len += (size_t)snprintf(body + len, cap - len, "%s\"%s\"", i ? "," : "",
					c.names[i]);
	len += (size_t)snprintf(body + len, cap - len, "]}");

	struct sched_ext_parser *p = sched_ext_parser_new();
	struct sched_result *res = calloc(NODES, sizeof(*res));
	uint64_t *lat = calloc((size_t)iterations, sizeof(*lat));
	uint64_t *st_parse = calloc((size_t)iterations, sizeof(uint64_t));
	uint64_t *st_req = calloc((size_t)iterations, sizeof(uint64_t));
	uint64_t *st_eval = calloc((size_t)iterations, sizeof(uint64_t));
	uint64_t *st_look = calloc((size_t)iterations, sizeof(uint64_t));
	const struct sched_node **found = calloc(NODES, sizeof(*found));
	uint64_t *st_write = calloc((size_t)iterations, sizeof(uint64_t));
	uint64_t *pj = calloc((size_t)parse_iterations, sizeof(uint64_t));
	uint64_t *ps = calloc((size_t)parse_iterations, sizeof(uint64_t));
	struct sched_ext_buf out = {0};
	if (!p || !res || !lat || !st_parse || !st_req || !st_eval || !st_look || !found ||
	    !st_write || !pj || !ps) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}

	printf("# sched-latency: %d nodes x 2 NUMA nodes, body %zu bytes (%d NodeNames), pod "
	       "redis-1 (32Gi PVC + 8Gi inline + 16Gi annotation, 2 CPUs)\n",
	       NODES, len, NODES);
	if (count_calls < 0)
		printf("# %d timed calls per verb after 50 warm-up calls; one thread\n",
		       iterations);

	if (count_calls >= 0)
		view_only = true;
	double mean_total = 0;
	for (int verb = 0; verb < 2 && !view_only; verb++) {
		bool filter = verb == 0;
		size_t feasible = 0;
		struct stage_ns st;
		for (int i = -50; i < iterations; i++) {
			uint64_t t0 = now_ns();
			if (one_call(filter, p, body, len, &c, found, res, &out, &st, &feasible))
				return 1;
			if (i < 0)
				continue;
			lat[i] = now_ns() - t0;
			st_parse[i] = st.parse;
			st_req[i] = st.request;
			st_eval[i] = st.evaluate;
			st_look[i] = st.lookup;
			st_write[i] = st.write;
		}
		double mean = mean_ms(lat, iterations);
		mean_total += mean;
		printf("%-10s p50 %.3f ms  p99 %.3f ms  max %.3f ms  mean %.3f ms  (%zu/%d "
		       "feasible, answer %zu bytes)\n",
		       filter ? "filter" : "prioritize", pct_ms(lat, iterations, 0.5),
		       pct_ms(lat, iterations, 0.99), pct_ms(lat, iterations, 1.0), mean, feasible,
		       NODES, out.len);
		printf("%-10s   p50 by stage: parse %.3f  pod request %.3f  name lookup %.3f  "
		       "sched_evaluate %.3f  write %.3f ms\n",
		       "", pct_ms(st_parse, iterations, 0.5), pct_ms(st_req, iterations, 0.5),
		       pct_ms(st_look, iterations, 0.5), pct_ms(st_eval, iterations, 0.5),
		       pct_ms(st_write, iterations, 0.5));
	}
	if (!view_only)
		printf("pods/s     %.0f (one filter + one prioritize per pod, one core)\n",
		       1000.0 / mean_total);

	/* Parsing alone, the same body: jansson's DOM vs the extender's parser. */
	for (int i = -5; i < parse_iterations && !view_only; i++) {
		json_error_t je;
		uint64_t t0 = now_ns();
		json_t *j = json_loadb(body, len, 0, &je);
		uint64_t t1 = now_ns();
		if (!j) {
			fprintf(stderr, "jansson: %s\n", je.text);
			return 1;
		}
		json_decref(j);
		struct sched_ext_args *a = NULL;
		uint64_t t2 = now_ns();
		if (sched_ext_args_parse(p, body, len, &a, err, sizeof(err)))
			return 1;
		uint64_t t3 = now_ns();
		sched_ext_args_free(a);
		if (i >= 0) {
			pj[i] = t1 - t0;
			ps[i] = t3 - t2;
		}
	}
	double jm = pct_ms(pj, parse_iterations, 0.5), sm = pct_ms(ps, parse_iterations, 0.5);
	if (!view_only) {
		printf("parse only (%zu bytes, %d runs):\n", len, parse_iterations);
		printf("  jansson json_loadb      p50 %.3f ms  p99 %.3f ms  (%.0f MB/s)\n", jm,
		       pct_ms(pj, parse_iterations, 0.99), (double)len / jm / 1e3);
		printf("  sched_ext_args_parse    p50 %.3f ms  p99 %.3f ms  (%.0f MB/s, %.1fx; "
		       "simdjson "
		       "On-Demand + the Pod via jansson)\n",
		       sm, pct_ms(ps, parse_iterations, 0.99), (double)len / sm / 1e3, jm / sm);
	}

	/* The same call through the scheduler role's view (its slices on every core). */
	{
		json_t *vpod = json_deep_copy(json_object_get(fix, "Pod"));
		json_t *vols = json_object_get(json_object_get(vpod, "spec"), "volumes");
		size_t k;
		json_t *vv;
		char *vtext;

		json_array_foreach (vols, k, vv) {
			if (json_object_get(vv, "persistentVolumeClaim")) {
				json_array_remove(vols, k);
				break;
			}
		}
		vtext = json_dumps(vpod, JSON_COMPACT);
		json_decref(vpod);
		uint64_t *lat_p = calloc((size_t)iterations, sizeof(*lat_p));

		if (!vtext || !lat_p || view_path(vtext, iterations, lat, lat_p, count_calls)) {
			free(lat_p);
			free(vtext);
			return 1;
		}
		free(vtext);
		long threads =
			sysconf(_SC_NPROCESSORS_ONLN) < 4 ? sysconf(_SC_NPROCESSORS_ONLN) : 4L;
		if (count_calls < 0)
			printf("view-filter p50 %.3f ms  p99 %.3f ms  mean %.3f ms  (the "
			       "scheduler role's path: parse, cluster_pod_request, "
			       "cluster_evaluate on %ld threads, write; redis-1 without its PVC; "
			       "%d nodes)\n",
			       pct_ms(lat, iterations, 0.5), pct_ms(lat, iterations, 0.99),
			       mean_ms(lat, iterations), threads, NODES);
		if (count_calls < 0)
			printf("view-prioritize p50 %.3f ms  p99 %.3f ms  mean %.3f ms  (the same "
			       "path, the HostPriorityList answer)\n",
			       pct_ms(lat_p, iterations, 0.5), pct_ms(lat_p, iterations, 0.99),
			       mean_ms(lat_p, iterations));
		free(lat_p);
	}

	sched_ext_buf_free(&out);
	free(pj);
	free(ps);
	free(lat);
	free(st_parse);
	free(st_req);
	free(st_eval);
	free(st_look);
	free(found);
	free(st_write);
	free(res);
	sched_ext_parser_free(p);
	free(body);
	free(pod);
	json_decref(fix);
	json_decref(pvc);
	json_decref(sc);
	return 0;
}
