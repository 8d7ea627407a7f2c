/*
 * sched-quality: how well each placement policy packs a seeded synthetic cluster and keeps pods'
 * CPUs on the NUMA node of their PMEM (issue 6, "Benchmarks: Quality"). Prints figures; exits
 * non-zero only when it could not run.
 *
 * The cluster: NODES nodes, each 2 NUMA nodes with CPUS_PER_NUMA CPUs and one PMEM pool of
 * POOL_BYTES (minus a 1 GiB reserve). The trace: Redis-like pods (mostly small caches asking
 * 2 CPUs, fewer large and sharded ones with more volumes and CPUs), generated once from SEED and
 * fed to every policy in the same order, one by one (sched_pick + sched_apply), until the first
 * pod that fits nowhere. An offline first-fit-decreasing packer of the same sequence's volumes
 * (CPUs ignored) gives the PMEM bound: the longest prefix it places seeing it all at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

#define GiB	      ((uint64_t)1 << 30)
#define NODES	      100
#define NUMA_PER_NODE 2
#define MAX_PODS      20000

/*
 * A realistic PMEM node: two sockets of a Xeon with 48 cores (96 CPUs with hyper-threading)
 * and 8 x 256 GiB Optane PMem per socket, one fsdax pool per socket with a 1 GiB reserve.
 */
static unsigned cpus_per_numa = 96;
static uint64_t pool_bytes = 2048 * GiB;
static uint64_t reserve_bytes = 1 * GiB;
static uint64_t seed = 6;

struct pod {
	size_t n;
	struct sched_volume vols[3];
	unsigned cpus;
	uint64_t bytes;
};

/* splitmix64: small, fast, and the same sequence everywhere for a seed. */
static uint64_t rng_state;
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned uniform(unsigned lo, unsigned hi) /* inclusive */
{
	return lo + (unsigned)(rng() % (hi - lo + 1));
}

/*
 * The mix. Redis is single-threaded, so most pods ask 2 CPUs (main thread + persistence/IO);
 * big instances ask a few more, sharded ones (several shards per pod) 8-16. Sizes in whole GiB;
 * a pod of several volumes splits its total, each volume at least 8 GiB.
 */
static const char *const mix_text =
	"45% small cache   8-32 GiB in 1 volume, 2 CPUs\n"
	"30% medium       32-128 GiB in 1-2 volumes, 2 CPUs (70%) or 4\n"
	"18% large       128-256 GiB in 1-3 volumes, 4 CPUs (70%) or 8\n"
	" 7% sharded     192-256 GiB in 2-3 volumes, 8-16 CPUs (even)\n";

static void gen_pod(struct pod *p)
{
	unsigned r = uniform(0, 99), total, nv;

	if (r < 45) {
		total = uniform(8, 32);
		nv = 1;
		p->cpus = 2;
	} else if (r < 75) {
		total = uniform(32, 128);
		nv = uniform(0, 9) < 3 ? 2 : 1;
		p->cpus = uniform(0, 9) < 7 ? 2 : 4;
	} else if (r < 93) {
		total = uniform(128, 256);
		nv = uniform(1, 3);
		p->cpus = uniform(0, 9) < 7 ? 4 : 8;
	} else {
		total = uniform(192, 256);
		nv = uniform(2, 3);
		p->cpus = 2 * uniform(4, 8);
	}
	p->n = nv;
	p->bytes = (uint64_t)total * GiB;
	unsigned left = total;
	for (unsigned i = 0; i < nv; i++) {
		unsigned s = i + 1 == nv ? left : uniform(8, left - 8 * (nv - i - 1));
		if (i + 1 < nv && s > left / (nv - i) * 2)
			s = left / (nv - i); /* keep shards of a pod comparable */
		memset(&p->vols[i], 0, sizeof(p->vols[i]));
		p->vols[i].size = (uint64_t)s * GiB;
		p->vols[i].bound_numa = -1;
		left -= s;
	}
}

struct cluster {
	struct sched_node nodes[NODES];
	struct sched_numa numa[NODES][NUMA_PER_NODE];
	struct sched_pool pools[NODES][NUMA_PER_NODE];
	unsigned dist[NUMA_PER_NODE * NUMA_PER_NODE];
	char names[NODES][16];
};

static void cluster_init(struct cluster *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < NUMA_PER_NODE; i++)
		for (int j = 0; j < NUMA_PER_NODE; j++)
			c->dist[i * NUMA_PER_NODE + j] = i == j ? 10 : 21;
	for (int n = 0; n < NODES; n++) {
		snprintf(c->names[n], sizeof(c->names[n]), "node-%03d", n);
		for (int k = 0; k < NUMA_PER_NODE; k++) {
			c->numa[n][k] = (struct sched_numa){k, cpus_per_numa, cpus_per_numa};
			c->pools[n][k] = (struct sched_pool){
				.name = k ? "/mnt/pmem/region1" : "/mnt/pmem/region0",
				.numa = k,
				.fstype = "ext4",
				.allocatable = pool_bytes - reserve_bytes,
			};
		}
		c->nodes[n] = (struct sched_node){
			.name = c->names[n],
			.n_numa = NUMA_PER_NODE,
			.numa = c->numa[n],
			.distance = c->dist,
			.n_pools = NUMA_PER_NODE,
			.pools = c->pools[n],
		};
	}
}

struct figures {
	size_t placed, local, with_cpus;
	double util, cpu_util;
};

static double cluster_util(const struct cluster *c, double *cpu_util)
{
	uint64_t used = 0, total = 0, cpus = 0, cfree = 0;

	for (int n = 0; n < NODES; n++)
		for (int k = 0; k < NUMA_PER_NODE; k++) {
			used += c->pools[n][k].reserved + c->pools[n][k].allocated;
			total += c->pools[n][k].allocatable;
			cpus += c->numa[n][k].cpus;
			cfree += c->numa[n][k].cpus_free;
		}
	*cpu_util = 100.0 * (double)(cpus - cfree) / (double)cpus;
	return 100.0 * (double)used / (double)total;
}

static int run(const struct pod *pods, size_t n_pods, enum sched_pmem_policy pp,
	       enum sched_cpu_policy cp, struct figures *f)
{
	static struct cluster c;
	static struct sched_result res[NODES];

	cluster_init(&c);
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n_pods; i++) {
		struct sched_request req = {
			.n_volumes = pods[i].n,
			.volumes = pods[i].vols,
			.cpus = pods[i].cpus,
			.pmem_policy = pp,
			.cpu_policy = cp,
		};
		long best;
		int r = sched_pick(c.nodes, NODES, &req, res, &best);

		if (r < 0) {
			fprintf(stderr, "sched_pick: %s\n", strerror(-r));
			return r;
		}
		if (best < 0)
			break;
		r = sched_apply(&c.nodes[best], &req, &res[best]);
		if (r < 0) {
			fprintf(stderr, "sched_apply: %s\n", strerror(-r));
			return r;
		}
		f->placed++;
		if (pods[i].cpus) {
			f->with_cpus++;
			if (res[best].distance <= 10)
				f->local++;
		}
	}
	f->util = cluster_util(&c, &f->cpu_util);
	return 0;
}

/* ---- the offline reference ----------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * First-fit decreasing of the volumes of the first k pods over the pools, CPUs ignored: what a
 * packer that sees the whole prefix at once, and need not keep a pod's volumes or CPUs
 * together, achieves on PMEM alone. Online placement must also find CPUs, so this bounds the
 * PMEM side from above (FFD is not optimal, but within 11/9 OPT + 6/9 bins).
 */
static bool ffd_fits(const struct pod *pods, size_t k, uint64_t *items, uint64_t *free_b)
{
	const size_t bins = NODES * NUMA_PER_NODE;
	size_t n = 0;

	for (size_t i = 0; i < k; i++)
		for (size_t v = 0; v < pods[i].n; v++)
			items[n++] = pods[i].vols[v].size;
	qsort(items, n, sizeof(*items), cmp_desc);
	for (size_t b = 0; b < bins; b++)
		free_b[b] = pool_bytes - reserve_bytes;
	for (size_t i = 0; i < n; i++) {
		size_t b;
		for (b = 0; b < bins && free_b[b] < items[i]; b++)
			;
		if (b == bins)
			return false;
		free_b[b] -= items[i];
	}
	return true;
}

/* The longest prefix FFD packs, by bisection (FFD is not monotone in k; near enough here). */
static size_t ffd_bound(const struct pod *pods, size_t n_pods)
{
	static uint64_t items[MAX_PODS * 3];
	static uint64_t free_b[NODES * NUMA_PER_NODE];
	size_t lo = 0, hi = n_pods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (ffd_fits(pods, mid, items, free_b))
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

int main(int argc, char **argv)
{
	static struct pod pods[MAX_PODS];
	static const struct {
		enum sched_pmem_policy pp;
		enum sched_cpu_policy cp;
	} rows[] = {
		{SCHED_PMEM_BINPACK, SCHED_CPU_SHORTEST_DISTANCE},
		{SCHED_PMEM_SPREAD, SCHED_CPU_SHORTEST_DISTANCE},
		{SCHED_PMEM_FIRST_FIT, SCHED_CPU_SHORTEST_DISTANCE},
		{SCHED_PMEM_SINGLE_NUMA, SCHED_CPU_SHORTEST_DISTANCE},
		{SCHED_PMEM_BINPACK, SCHED_CPU_SINGLE_NUMA},
	};
	uint64_t demand_b = 0, demand_c = 0, total_b;
	struct figures bin = {0};

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--seed=", 7))
			seed = strtoull(argv[i] + 7, NULL, 10);
		else if (!strncmp(argv[i], "--cpus=", 7))
			cpus_per_numa = (unsigned)strtoul(argv[i] + 7, NULL, 10);
		else if (!strncmp(argv[i], "--pool-gib=", 11))
			pool_bytes = strtoull(argv[i] + 11, NULL, 10) * GiB;
		else {
			fprintf(stderr, "usage: %s [--seed=N] [--cpus=N] [--pool-gib=N]\n",
				argv[0]);
			return 2;
		}
	}
	if (!cpus_per_numa || pool_bytes <= reserve_bytes) {
		fprintf(stderr, "sched-quality: --cpus and --pool-gib must be positive\n");
		return 2;
	}

	rng_state = seed;
	for (size_t i = 0; i < MAX_PODS; i++) {
		gen_pod(&pods[i]);
		demand_b += pods[i].bytes;
		demand_c += pods[i].cpus;
	}
	total_b = (uint64_t)NODES * NUMA_PER_NODE * (pool_bytes - reserve_bytes);
	if (demand_b < total_b) {
		fprintf(stderr, "sched-quality: the trace is too short for the cluster\n");
		return 1;
	}

	printf("cluster: %d nodes x %d NUMA nodes (distance 10 local, 21 remote); per NUMA node "
	       "%u CPUs and one PMEM pool of %" PRIu64 " GiB (%" PRIu64 " GiB allocatable)\n",
	       NODES, NUMA_PER_NODE, cpus_per_numa, pool_bytes / GiB,
	       (pool_bytes - reserve_bytes) / GiB);
	printf("trace: seed %" PRIu64 ", Redis-like mix, mean %.1f GiB and %.2f CPUs per pod "
	       "(%.1f GiB per CPU; at 100%% PMEM it would hold %.0f%% of the CPUs):\n%s",
	       seed, (double)demand_b / GiB / MAX_PODS, (double)demand_c / MAX_PODS,
	       (double)demand_b / GiB / (double)demand_c,
	       100.0 * (double)total_b / (double)demand_b * (double)demand_c /
		       (double)(NODES * NUMA_PER_NODE * cpus_per_numa),
	       mix_text);
	printf("placed one by one (sched_pick + sched_apply) until the first pod that fits "
	       "nowhere\n\n");
	printf("%-12s %-17s %8s %10s %10s %10s\n", "pmem", "cpu", "pods", "pmem util", "cpu util",
	       "numa-local");
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct figures f;

		if (run(pods, MAX_PODS, rows[r].pp, rows[r].cp, &f) < 0)
			return 1;
		if (r == 0)
			bin = f;
		printf("%-12s %-17s %8zu %9.2f%% %9.2f%% %9.2f%%\n",
		       sched_pmem_policy_name(rows[r].pp), sched_cpu_policy_name(rows[r].cp),
		       f.placed, f.util, f.cpu_util,
		       f.with_cpus ? 100.0 * (double)f.local / (double)f.with_cpus : 100.0);
	}

	size_t k = ffd_bound(pods, MAX_PODS);
	uint64_t kb = 0;
	for (size_t i = 0; i < k; i++)
		kb += pods[i].bytes;
	printf("%-30s %8zu %9.2f%%\n", "offline FFD bound", k,
	       100.0 * (double)kb / (double)total_b);
	printf("  (the longest prefix of the trace whose volumes first-fit-decreasing packs into "
	       "the pools, CPUs ignored)\n\n");

	double loc = bin.with_cpus ? 100.0 * (double)bin.local / (double)bin.with_cpus : 100.0;
	printf("target binpack >= 95%% PMEM utilisation at first failure: %.2f%% %s\n", bin.util,
	       bin.util >= 95.0 ? "MET" : "MISSED");
	printf("target binpack >= 98%% NUMA locality: %.2f%% %s\n", loc,
	       loc >= 98.0 ? "MET" : "MISSED");
	return 0;
}
