/*
 * sched-engine: the placement engine — which pool and NUMA node each PMEM volume of a pod goes
 * to, where its exclusive CPUs go, and a score that makes sched_pick() apply the same policy
 * across nodes.
 *
 * How a pod is judged on one node (all of it deterministic, no allocation):
 *
 * 1. The request is normalised: a volume whose `id` repeats an earlier one is a duplicate
 *    (counted once: the first occurrence's size and fstype count); a bound volume must live on
 *    this node (else infeasible: "volume X lives on node Y") and consumes nothing; the other
 *    volumes are "new" and are placed largest first, so a large volume is not squeezed out by
 *    a small one of the same pod. A pool takes a volume only if its fstype matches (when the
 *    volume names one) and its free bytes (sched_pool_free) are at least the size.
 *
 * 2. Local plans first. When the pod asks CPUs (or the policy is single-numa), each NUMA node
 *    k is tried as the home of the whole pod: every new volume in pools on k, every bound
 *    volume with a known NUMA node already on k, and cpus_free(k) >= cpus. Among the NUMA
 *    nodes where that works the policy picks:
 *      binpack, single-numa: the least PMEM remaining on k after placement (so a large
 *                request later still finds an emptier NUMA node), then the fewest CPUs
 *                remaining; a CPU-only pod: the fewest CPUs remaining;
 *      spread:   the most remaining (PMEM, then CPUs);
 *      first-fit: the lowest NUMA id.
 *    Within k each volume goes to one pool: binpack/single-numa the least free that fits,
 *    spread the most free, first-fit the lowest pool index. Locality comes first because a
 *    remote CPU costs the pod on every access, while a slightly worse pack costs little.
 *
 * 3. Otherwise (no NUMA node can hold the whole pod with its CPUs):
 *      single-numa-cpu: infeasible, with each NUMA node's reason;
 *      single-numa PMEM policy: all volumes on one NUMA node chosen as above, ignoring CPUs;
 *      binpack/spread/first-fit: volume by volume, largest first, the NUMA node with the least
 *                (binpack) / most (spread) remaining that fits, or the lowest id (first-fit),
 *                remaining counting the volumes of this pod placed before it.
 *    Then the CPUs (shortest-distance) go to the NUMA node with enough free CPUs whose summed
 *    distance to the pod's PMEM, weighted by bytes, is smallest (ties: the policy's choice of
 *    CPUs as above, then the lower id). A pod asking no CPUs skips step 2 (except single-numa)
 *    since locality means nothing to it.
 *
 * The score (0..100, 0 = infeasible) is lexicographic so that sched_pick(), which takes the
 * highest score, implements the policy cluster-wide:
 *    local (CPUs on the PMEM's NUMA node, or no CPUs): 50 + 50 * fit, i.e. 50..100;
 *    remote: 1 + 24 * fit + 24 * 10 / distance, at most 49: below any local placement, and
 *            nearer is better;
 * where `fit` in 0..1 is what the policy wants: binpack/single-numa the fullness of the
 * receiving NUMA node(s) after placement (remaining over the node's largest NUMA allocatable,
 * so it orders NUMA nodes of one node exactly as bytes do), spread 1 - that, first-fit 1 (the
 * node whose name sorts first wins: first fit). For a CPU-only pod the fullness is that of the
 * CPUs. A request with nothing new to place and no CPUs scores the neutral 50.
 *
 * sched_pick() checks the request first (a bad request is -EINVAL for every node); after that
 * a malformed node only fails itself, with the reason, so one bad record cannot stop the
 * scheduling of a cluster.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sched/sched.h"
#include "util/units.h"

#define DIST_LOCAL   10u
#define DIST_DEFAULT 20u

/* Everything evaluate needs for one node, on the stack: no allocation. What depends only on
 * the request is in the prepared request `p`, computed once per call, not once per node. */
struct ctx {
	const struct sched_node *node;
	const struct sched_request *req;
	const struct sched_prepared *p;
	int bound_numa[SCHED_MAX_VOLUMES]; /* NUMA index of a bound volume; -1 unknown / new */
	int pin; /* NUMA index every bound volume with a known NUMA is on; -1 none; -2 several */
	uint64_t pool_free[SCHED_MAX_POOLS];
	uint64_t numa_free[SCHED_MAX_NUMA]; /* sum of pool_free of the pools on it */
	uint64_t max_alloc;		    /* largest NUMA allocatable: the score's scale */
	/* No reasons: the first pass. Only a node that turns out infeasible needs them, and it
	 * is evaluated again with them; a feasible node whose other NUMA node did not fit
	 * formatted that refusal for nothing. */
	bool quiet;
};

/* A candidate answer. */
struct plan {
	int pool[SCHED_MAX_VOLUMES]; /* per request volume; -1: not counted */
	int numa[SCHED_MAX_VOLUMES]; /* NUMA index per request volume; -1 unknown */
	int cpu;		     /* NUMA index for the CPUs, -1 none */
	uint64_t numa_take[SCHED_MAX_NUMA];
};

/* ---- small helpers ------------------------------------------------------------------- */

uint64_t sched_pool_free(const struct sched_pool *p)
{
	uint64_t held = p->allocated + p->reserved;

	if (held < p->allocated || held >= p->allocatable) /* overflow or over */
		return 0;
	return p->allocatable - held;
}

/*
 * Sizes as a person reads them: an exact multiple as units_size_format() gives it ("64Gi"),
 * anything else rounded to one decimal in the largest binary unit below it ("10.5Gi").
 */
static void fmt_size(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	int u = -1;

	for (int i = 0; i < 6 && b >= (1ULL << (10 * (i + 1))); i++)
		u = i;
	if (u < 0 || b % (1ULL << (10 * (u + 1))) == 0) {
		units_size_format(b, buf, len);
		return;
	}
	snprintf(buf, len, "%.1f%s", (double)b / (double)(1ULL << (10 * (u + 1))), unit[u]);
}

/*
 * Zeroing and copying the few entries of one node's arrays (2 NUMA nodes, 2 pools, 3 volumes
 * typically) in plain loops: as memset/memcpy calls of a variable size they were ~10 library
 * calls per node, a good part of evaluating one. The empty asm makes the index opaque to gcc,
 * so it cannot turn a loop back into such a call; unlike a per-function optimize attribute
 * (which did the same before), it lets the loops be inlined: as calls they were ~7% of the
 * engine's instructions.
 */
#define SMALL_LOOP_STEP(i) __asm__("" : "+r"(i))

static inline void zero_u64(uint64_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		d[i] = 0;
		SMALL_LOOP_STEP(i);
	}
}

static inline void copy_u64(uint64_t *d, const uint64_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		d[i] = s[i];
		SMALL_LOOP_STEP(i);
	}
}

static inline void copy_int(int *d, const int *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		d[i] = s[i];
		SMALL_LOOP_STEP(i);
	}
}

/* Appends to a reason, truncating with "..." rather than failing. */
__attribute__((format(printf, 2, 3))) static void reason_add(char *r, const char *fmt, ...)
{
	size_t len = strlen(r);
	va_list ap;
	int n;

	if (len >= SCHED_REASON_MAX - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r + len, SCHED_REASON_MAX - len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= SCHED_REASON_MAX - len)
		memcpy(r + SCHED_REASON_MAX - 4, "...", 4);
}

/* Sums that saturate: sizes come from records and requests, and a wrapped sum would make a
 * full node look empty. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static unsigned dist(const struct sched_node *n, int i, int j)
{
	if (n->distance)
		return n->distance[(size_t)i * n->n_numa + (size_t)j];
	return i == j ? DIST_LOCAL : DIST_DEFAULT;
}

static int numa_index(const struct sched_node *n, int id)
{
	for (size_t i = 0; i < n->n_numa; i++)
		if (n->numa[i].id == id)
			return (int)i;
	return -1;
}

/*
 * String equality for the per-node hot path (fstypes, volume ids): short strings that mostly
 * differ early, compared for every node of a 5,000-node filter, where the libc call itself
 * cost more than the comparison (11% of a filter in a profile).
 */
static inline bool same(const char *a, const char *b)
{
	if (a == b)
		return true;
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static inline __attribute__((always_inline)) bool fstype_ok(const struct sched_volume *v,
							    const struct sched_pool *p)
{
	return !v->fstype || (p->fstype && same(v->fstype, p->fstype));
}

/* ---- validation ---------------------------------------------------------------------- */

static int invalid(struct sched_result *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int invalid(struct sched_result *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	out->feasible = false;
	out->score = 0;
	return -EINVAL;
}

static int validate_request(const struct sched_request *req, struct sched_result *out)
{
	if (req->n_volumes > SCHED_MAX_VOLUMES)
		return invalid(out, "request: %zu volumes, at most %d", req->n_volumes,
			       SCHED_MAX_VOLUMES);
	if (req->n_volumes && !req->volumes)
		return invalid(out, "request: volumes missing");
	if ((unsigned)req->pmem_policy > SCHED_PMEM_FIRST_FIT)
		return invalid(out, "request: unknown pmem policy %d", (int)req->pmem_policy);
	if ((unsigned)req->cpu_policy > SCHED_CPU_SINGLE_NUMA)
		return invalid(out, "request: unknown cpu policy %d", (int)req->cpu_policy);
	for (size_t i = 0; i < req->n_volumes; i++)
		if (req->volumes[i].size == 0)
			return invalid(out, "request: volumes[%zu]: size 0", i);
	return 0;
}

static const char *nm(const struct sched_node *n)
{
	return n->name ? n->name : "?";
}

static int validate_node(const struct sched_node *n, struct sched_result *out)
{
	if (n->n_numa > SCHED_MAX_NUMA)
		return invalid(out, "node %s: %zu NUMA nodes, at most %d", nm(n), n->n_numa,
			       SCHED_MAX_NUMA);
	if (n->n_pools > SCHED_MAX_POOLS)
		return invalid(out, "node %s: %zu pools, at most %d", nm(n), n->n_pools,
			       SCHED_MAX_POOLS);
	if ((n->n_numa && !n->numa) || (n->n_pools && !n->pools))
		return invalid(out, "node %s: arrays missing", nm(n));
	for (size_t i = 0; i < n->n_numa; i++)
		if (n->numa[i].cpus_free > n->numa[i].cpus)
			return invalid(out, "node %s: numa%d: cpus_free %u > cpus %u", nm(n),
				       n->numa[i].id, n->numa[i].cpus_free, n->numa[i].cpus);
	for (size_t i = 0; i < n->n_pools; i++)
		if (n->pools[i].numa < -1 || n->pools[i].numa >= (int)n->n_numa)
			return invalid(out, "node %s: pools[%zu]: numa index %d out of range",
				       nm(n), i, n->pools[i].numa);
	return 0;
}

/* ---- normalising the request --------------------------------------------------------- */

static const char *vol_label(const struct sched_request *req, size_t i, char *buf, size_t len)
{
	if (req->volumes[i].id)
		return req->volumes[i].id;
	snprintf(buf, len, "#%zu", i);
	return buf;
}

int sched_request_prepare(const struct sched_request *req, struct sched_prepared *out)
{
	struct sched_result tmp;
	int r;

	if (!req || !out)
		return -EINVAL;
	out->req = req;
	out->n_new = 0;
	out->new_bytes = 0;
	out->n_bound = 0;
	out->reason[0] = '\0';
	tmp.reason[0] = '\0';
	r = validate_request(req, &tmp);
	if (r < 0) {
		memcpy(out->reason, tmp.reason, sizeof(out->reason));
		out->valid = false;
		return r;
	}
	for (size_t i = 0; i < req->n_volumes; i++) {
		const struct sched_volume *v = &req->volumes[i];

		out->dup_of[i] = -1;
		for (size_t j = 0; v->id && j < i; j++)
			if (req->volumes[j].id && same(req->volumes[j].id, v->id)) {
				out->dup_of[i] = out->dup_of[j] >= 0 ? out->dup_of[j] : (int)j;
				break;
			}
		if (out->dup_of[i] >= 0)
			continue;
		if (v->bound_node) {
			out->bound[out->n_bound++] = i;
			continue;
		}
		/* Insertion sort, largest first, stable (lower index first on equal sizes). */
		size_t at = out->n_new;
		while (at > 0 && req->volumes[out->order[at - 1]].size < v->size) {
			out->order[at] = out->order[at - 1];
			at--;
		}
		out->order[at] = i;
		out->n_new++;
		out->new_bytes = add_sat(out->new_bytes, v->size);
	}
	out->valid = true;
	return 0;
}

/* Fills the node's part of ctx; returns false (with out->reason) when a bound volume rules the
 * node out. */
static bool prepare(struct ctx *c, struct sched_result *out)
{
	const struct sched_node *n = c->node;
	const struct sched_request *req = c->req;
	char lb[32];

	c->pin = -1;
	for (size_t i = 0; i < req->n_volumes; i++) {
		c->bound_numa[i] = -1;
		SMALL_LOOP_STEP(i);
	}
	/* Bound volumes in request order, so the first one that rules the node out names it. */
	for (size_t b = 0; b < c->p->n_bound; b++) {
		size_t i = c->p->bound[b];
		const struct sched_volume *v = &req->volumes[i];
		int k;

		if (!n->name || strcmp(v->bound_node, n->name) != 0) {
			snprintf(out->reason, sizeof(out->reason), "volume %s lives on node %s",
				 vol_label(req, i, lb, sizeof(lb)), v->bound_node);
			return false;
		}
		if (v->bound_numa < 0)
			continue;
		k = numa_index(n, v->bound_numa);
		if (k < 0) {
			snprintf(out->reason, sizeof(out->reason),
				 "volume %s lives on numa%d, which node %s does not have",
				 vol_label(req, i, lb, sizeof(lb)), v->bound_numa, nm(n));
			return false;
		}
		c->bound_numa[i] = k;
		c->pin = c->pin == -1 || c->pin == k ? k : -2;
	}

	/* Only the node's own NUMA entries: zeroing all SCHED_MAX_NUMA cost more than the rest of
	 * a small node's evaluation. */
	zero_u64(c->numa_free, n->n_numa);
	c->max_alloc = 0;
	uint64_t alloc[SCHED_MAX_NUMA];
	zero_u64(alloc, n->n_numa);
	for (size_t p = 0; p < n->n_pools; p++) {
		c->pool_free[p] = n->pools[p].numa < 0 ? 0 : sched_pool_free(&n->pools[p]);
		if (n->pools[p].numa >= 0) {
			int k = n->pools[p].numa;
			c->numa_free[k] = add_sat(c->numa_free[k], c->pool_free[p]);
			alloc[k] = add_sat(alloc[k], n->pools[p].allocatable);
		}
	}
	for (size_t k = 0; k < n->n_numa; k++)
		if (alloc[k] > c->max_alloc)
			c->max_alloc = alloc[k];
	return true;
}

/* ---- choosing pools and NUMA nodes --------------------------------------------------- */

/* The pool on NUMA index k that takes volume v under the policy, or -1. */
static inline __attribute__((always_inline)) int pick_pool(const struct ctx *c,
							   const uint64_t *pfree, int k, size_t v)
{
	const struct sched_volume *vol = &c->req->volumes[v];
	int best = -1;

	for (size_t p = 0; p < c->node->n_pools; p++) {
		const struct sched_pool *pool = &c->node->pools[p];

		if (pool->numa != k || pfree[p] < vol->size || !fstype_ok(vol, pool))
			continue;
		if (best < 0) {
			best = (int)p;
			if (c->req->pmem_policy == SCHED_PMEM_FIRST_FIT)
				break;
			continue;
		}
		if (c->req->pmem_policy == SCHED_PMEM_SPREAD ? pfree[p] > pfree[best]
							     : pfree[p] < pfree[best])
			best = (int)p;
	}
	return best;
}

/* The largest free bytes of a pool on k that volume v could use. */
static uint64_t largest_free(const struct ctx *c, const uint64_t *pfree, int k, size_t v)
{
	uint64_t m = 0;

	for (size_t p = 0; p < c->node->n_pools; p++)
		if (c->node->pools[p].numa == k &&
		    fstype_ok(&c->req->volumes[v], &c->node->pools[p]) && pfree[p] > m)
			m = pfree[p];
	return m;
}

/*
 * Places every new volume on NUMA index k (largest first): pool[o] is the pool of the o-th new
 * volume (c->p->order[o]), *take their bytes. On failure writes why into `why` (may be NULL) and
 * returns false.
 */
static bool pack_on(const struct ctx *c, int k, int *pool, uint64_t *take, char *why,
		    size_t why_len)
{
	uint64_t pfree[SCHED_MAX_POOLS];
	char a[32], b[32];

	copy_u64(pfree, c->pool_free, c->node->n_pools);
	for (size_t o = 0; o < c->p->n_new; o++) {
		size_t v = c->p->order[o];
		int p = pick_pool(c, pfree, k, v);

		if (p < 0) {
			if (!why)
				return false;
			uint64_t lf = largest_free(c, pfree, k, v);
			if (c->p->n_new > 1 && lf == 0 && c->req->volumes[v].fstype &&
			    largest_free(c, c->pool_free, k, v) == 0) {
				snprintf(why, why_len, "numa%d: no %s pool with room",
					 c->node->numa[k].id, c->req->volumes[v].fstype);
			} else if (c->p->n_new > 1) {
				fmt_size(c->p->new_bytes, a, sizeof(a));
				fmt_size(c->numa_free[k], b, sizeof(b));
				snprintf(why, why_len, "numa%d: need %s in %zu volumes, free %s",
					 c->node->numa[k].id, a, c->p->n_new, b);
				if (c->numa_free[k] >= c->p->new_bytes) {
					size_t l = strlen(why);
					fmt_size(largest_free(c, c->pool_free, k, v), b, sizeof(b));
					snprintf(why + l, why_len - l, " (largest pool %s)", b);
				}
			} else {
				fmt_size(c->req->volumes[v].size, a, sizeof(a));
				fmt_size(lf, b, sizeof(b));
				if (c->req->volumes[v].fstype && lf == 0 && c->numa_free[k] > 0)
					snprintf(why, why_len,
						 "numa%d: need %s %s, no %s pool with room",
						 c->node->numa[k].id, a, c->req->volumes[v].fstype,
						 c->req->volumes[v].fstype);
				else
					snprintf(why, why_len, "numa%d: need %s, free %s",
						 c->node->numa[k].id, a, b);
			}
			return false;
		}
		pfree[p] -= c->req->volumes[v].size;
		pool[o] = p;
		*take += c->req->volumes[v].size;
	}
	return true;
}

static void plan_init(const struct ctx *c, struct plan *pl)
{
	for (size_t i = 0; i < c->req->n_volumes; i++) {
		pl->pool[i] = -1;
		pl->numa[i] = c->bound_numa[i];
		SMALL_LOOP_STEP(i);
	}
	pl->cpu = -1;
	zero_u64(pl->numa_take, c->node->n_numa);
}

/*
 * Is candidate (rem_a, cpus_a, index a) better than (rem_b, cpus_b, b) under the policy?
 * `rem` is PMEM remaining after placement, `cpus` CPUs remaining after.
 */
static bool better(const struct ctx *c, uint64_t rem_a, unsigned cpus_a, int a, uint64_t rem_b,
		   unsigned cpus_b, int b)
{
	const struct sched_node *n = c->node;

	switch (c->req->pmem_policy) {
	case SCHED_PMEM_SPREAD:
		if (c->p->n_new && rem_a != rem_b)
			return rem_a > rem_b;
		if (cpus_a != cpus_b)
			return cpus_a > cpus_b;
		break;
	case SCHED_PMEM_BINPACK:
	case SCHED_PMEM_SINGLE_NUMA:
		if (c->p->n_new && rem_a != rem_b)
			return rem_a < rem_b;
		if (cpus_a != cpus_b)
			return cpus_a < cpus_b;
		break;
	case SCHED_PMEM_FIRST_FIT:
		break;
	}
	return n->numa[a].id < n->numa[b].id;
}

/*
 * The best NUMA index to hold all new volumes (and, with `with_cpus`, the CPUs) by the policy;
 * -1 if none. `why` collects each NUMA node's refusal. `best` comes plan_init()ed (both callers
 * have just done it); only the new volumes' entries are filled in, when a home is found.
 */
static int best_home(const struct ctx *c, bool with_cpus, struct plan *best, char *why)
{
	const struct sched_node *n = c->node;
	unsigned cpus = c->req->cpus;
	uint64_t best_rem = 0;
	unsigned best_cpus = 0;
	int home = -1;
	/* Only the pools each NUMA node would give the new volumes: a whole plan per NUMA node,
	 * initialised and copied, was most of this function's time. */
	int pool[SCHED_MAX_VOLUMES], best_pool[SCHED_MAX_VOLUMES];

	for (size_t k = 0; k < n->n_numa; k++) {
		char one[SCHED_REASON_MAX];
		uint64_t take = 0;
		unsigned cpus_after = n->numa[k].cpus_free;

		if (c->pin == -2) {
			if (!c->quiet)
				reason_add(why, "%sbound volumes live on different NUMA nodes",
					   *why ? "; " : "");
			return -1;
		}
		if (c->pin >= 0 && c->pin != (int)k) {
			if (!c->quiet)
				reason_add(why, "%snuma%d: bound volumes live on numa%d",
					   *why ? "; " : "", n->numa[k].id, n->numa[c->pin].id);
			continue;
		}
		if (with_cpus && cpus) {
			if (n->numa[k].cpus_free < cpus) {
				if (!c->quiet)
					reason_add(why, "%snuma%d: need %u cpus, free %u",
						   *why ? "; " : "", n->numa[k].id, cpus,
						   n->numa[k].cpus_free);
				continue;
			}
			cpus_after -= cpus;
		}
		if (!pack_on(c, (int)k, pool, &take, c->quiet ? NULL : one, sizeof(one))) {
			if (!c->quiet)
				reason_add(why, "%s%s", *why ? "; " : "", one);
			continue;
		}
		uint64_t rem = c->numa_free[k] - take;
		if (home < 0 || better(c, rem, cpus_after, (int)k, best_rem, best_cpus, home)) {
			home = (int)k;
			best_rem = rem;
			best_cpus = cpus_after;
			copy_int(best_pool, pool, c->p->n_new);
		}
	}
	if (home < 0)
		return -1;
	for (size_t o = 0; o < c->p->n_new; o++) {
		size_t v = c->p->order[o];

		best->pool[v] = best_pool[o];
		best->numa[v] = home;
		best->numa_take[home] += c->req->volumes[v].size;
	}
	return home;
}

/* Volume by volume (binpack, spread, first-fit without a home). */
static bool place_each(const struct ctx *c, struct plan *pl, char *why)
{
	const struct sched_node *n = c->node;
	uint64_t pfree[SCHED_MAX_POOLS];
	uint64_t nfree[SCHED_MAX_NUMA];
	char a[32], b[32];

	copy_u64(pfree, c->pool_free, n->n_pools);
	copy_u64(nfree, c->numa_free, n->n_numa);
	for (size_t o = 0; o < c->p->n_new; o++) {
		size_t v = c->p->order[o];
		uint64_t size = c->req->volumes[v].size;
		int bk = -1, bp = -1;

		for (size_t k = 0; k < n->n_numa; k++) {
			int p = pick_pool(c, pfree, (int)k, v);

			if (p < 0)
				continue;
			if (bk < 0 || better(c, nfree[k], 0, (int)k, nfree[bk], 0, bk)) {
				bk = (int)k;
				bp = p;
			}
		}
		if (bk < 0) {
			if (c->quiet)
				return false;
			if (c->p->n_new > 1) {
				fmt_size(c->p->new_bytes, a, sizeof(a));
				reason_add(why, "need %s in %zu volumes together; ", a,
					   c->p->n_new);
			}
			for (size_t k = 0; k < n->n_numa; k++) {
				fmt_size(size, a, sizeof(a));
				fmt_size(largest_free(c, pfree, (int)k, v), b, sizeof(b));
				reason_add(why, "%snuma%d: need %s, free %s", k ? "; " : "",
					   n->numa[k].id, a, b);
			}
			if (!n->n_numa)
				reason_add(why, "no NUMA nodes");
			return false;
		}
		pfree[bp] -= size;
		nfree[bk] -= size;
		pl->pool[v] = bp;
		pl->numa[v] = bk;
		pl->numa_take[bk] += size;
	}
	return true;
}

/* CPUs by shortest distance to the plan's PMEM; false when no NUMA node has enough. */
static bool place_cpus(const struct ctx *c, struct plan *pl, char *why)
{
	const struct sched_node *n = c->node;
	unsigned cpus = c->req->cpus;
	uint64_t best_cost = 0;
	int best = -1;

	for (size_t k = 0; k < n->n_numa; k++) {
		uint64_t cost = 0;

		if (n->numa[k].cpus_free < cpus)
			continue;
		for (size_t i = 0; i < c->req->n_volumes; i++)
			if (c->p->dup_of[i] < 0 && pl->numa[i] >= 0)
				cost += (c->req->volumes[i].size >> 20 | 1) *
					dist(n, (int)k, pl->numa[i]);
		if (best < 0 || cost < best_cost ||
		    (cost == best_cost && better(c, 0, n->numa[k].cpus_free - cpus, (int)k, 0,
						 n->numa[best].cpus_free - cpus, best))) {
			best = (int)k;
			best_cost = cost;
		}
	}
	if (best < 0) {
		if (c->quiet)
			return false;
		reason_add(why, "%sneed %u cpus, free", *why ? "; " : "", cpus);
		for (size_t k = 0; k < n->n_numa; k++)
			reason_add(why, "%s numa%d %u", k ? "," : "", n->numa[k].id,
				   n->numa[k].cpus_free);
		return false;
	}
	pl->cpu = best;
	return true;
}

/* ---- the result ---------------------------------------------------------------------- */

static double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

static void finish(const struct ctx *c, const struct plan *pl, struct sched_result *out)
{
	const struct sched_node *n = c->node;
	const struct sched_request *req = c->req;
	unsigned maxd = 0;
	bool any_pmem = false;
	char a[32];

	out->feasible = true;
	out->pmem_new = c->p->new_bytes;
	out->cpu_numa_id = pl->cpu >= 0 ? n->numa[pl->cpu].id : -1;
	for (size_t i = 0; i < req->n_volumes; i++) {
		int src = c->p->dup_of[i] >= 0 ? c->p->dup_of[i] : (int)i;
		int k = pl->numa[src];

		out->volumes[i].pool = c->p->dup_of[i] >= 0 ? -1 : pl->pool[i];
		out->volumes[i].numa_id = k >= 0 ? n->numa[k].id : -1;
		out->volumes[i].counted = c->p->dup_of[i] < 0 && pl->pool[i] >= 0;
		if (k >= 0 && c->p->dup_of[i] < 0) {
			any_pmem = true;
			if (pl->cpu >= 0 && dist(n, pl->cpu, k) > maxd)
				maxd = dist(n, pl->cpu, k);
		}
	}
	out->distance = pl->cpu >= 0 && any_pmem ? maxd : 0;

	/* fit: what the policy wants, 0..1. */
	double full;
	if (c->p->n_new) {
		double rem = 0, used = 0;
		for (size_t k = 0; k < n->n_numa; k++)
			if (pl->numa_take[k]) {
				rem += (double)(c->numa_free[k] - pl->numa_take[k]);
				used += 1;
			}
		full = c->max_alloc ? 1 - rem / used / (double)c->max_alloc : 1;
		out->pmem_remaining = (uint64_t)(rem / used);
	} else if (pl->cpu >= 0 && n->numa[pl->cpu].cpus) {
		const struct sched_numa *m = &n->numa[pl->cpu];
		full = 1 - (double)(m->cpus_free - req->cpus) / (double)m->cpus;
	} else {
		full = 0.5;
	}
	full = clamp01(full);
	double fit = req->pmem_policy == SCHED_PMEM_SPREAD	? 1 - full
		     : req->pmem_policy == SCHED_PMEM_FIRST_FIT ? 1
								: full;
	if (!c->p->n_new && req->cpus == 0) {
		out->score = SCHED_SCORE_MAX / 2;
	} else if (out->distance <= DIST_LOCAL) {
		out->score = 50 + (int)(fit * 50 + 0.5);
	} else {
		double near = (double)DIST_LOCAL / out->distance;
		out->score = 1 + (int)(fit * 24 + near * 24 + 0.5);
		if (out->score > 49)
			out->score = 49;
	}

	/* The summary: each pool used with what it keeps, then the CPUs. */
	out->reason[0] = '\0';
	if (req->terse)
		return;
	for (size_t p = 0; p < n->n_pools; p++) {
		uint64_t take = 0;
		for (size_t i = 0; i < req->n_volumes; i++)
			if (out->volumes[i].counted && out->volumes[i].pool == (int)p)
				take += req->volumes[i].size;
		if (!take)
			continue;
		fmt_size(c->pool_free[p] - take, a, sizeof(a));
		reason_add(out->reason, "%snuma%d: pool %s %s after", *out->reason ? ", " : "",
			   n->numa[n->pools[p].numa].id, n->pools[p].name ? n->pools[p].name : "?",
			   a);
	}
	if (!*out->reason)
		reason_add(out->reason, "no new capacity");
	if (pl->cpu >= 0)
		reason_add(out->reason, ", cpus numa%d", n->numa[pl->cpu].id);
	if (out->distance > DIST_LOCAL)
		reason_add(out->reason, " (distance %u)", out->distance);
}

/*
 * Where the pod goes on the prepared node: true with `pl` filled, or false (not feasible) with
 * out->reason saying why unless c->quiet.
 */
static bool decide(const struct ctx *c, struct plan *pl, struct sched_result *out)
{
	const struct sched_request *req = c->req;
	char why[SCHED_REASON_MAX];

	why[0] = '\0';
	plan_init(c, pl);
	bool single = req->pmem_policy == SCHED_PMEM_SINGLE_NUMA;
	bool strict_cpu = req->cpus && req->cpu_policy == SCHED_CPU_SINGLE_NUMA;
	bool placed = false;

	if ((req->cpus || single) && (c->p->n_new || req->cpus)) {
		int home = best_home(c, req->cpus > 0, pl, why);
		if (home >= 0) {
			pl->cpu = req->cpus ? home : -1;
			placed = true;
		}
	}
	if (!placed && c->p->n_new == 0 && req->cpus == 0) {
		placed = true; /* nothing new: bound volumes and duplicates only */
	} else if (!placed && strict_cpu) {
		reason_add(out->reason, "single-numa-cpu: %s", *why ? why : "no NUMA node");
		return false;
	} else if (!placed) {
		char w2[SCHED_REASON_MAX];

		w2[0] = '\0';
		bool ok;

		plan_init(c, pl);
		if (c->p->n_new == 0)
			ok = true; /* CPUs only, none local to the bound volumes: by distance */
		else if (single)
			ok = req->cpus ? best_home(c, false, pl, w2) >= 0 : false;
		else
			ok = place_each(c, pl, w2);
		if (ok && req->cpus)
			ok = place_cpus(c, pl, w2);
		if (!ok) {
			const char *w = *w2 ? w2 : why;
			reason_add(out->reason, "%s%s", single && !req->cpus ? "single-numa: " : "",
				   *w ? w : "no room");
			return false;
		}
	}
	return true;
}

/* The result's fields before anything is known: field by field, not the whole struct, since
 * the 256-byte reason needs only its first byte and the per-volume entries past n_volumes are
 * never read. */
static void result_reset(struct sched_result *out)
{
	out->feasible = false;
	out->score = 0;
	out->reason[0] = '\0';
	out->distance = 0;
	out->pmem_new = 0;
	out->pmem_remaining = 0;
	out->n_volumes = 0;
	out->cpu_numa_id = -1;
}

int sched_evaluate(const struct sched_node *node, const struct sched_request *req,
		   struct sched_result *out)
{
	struct sched_prepared p;
	int r;

	if (!out)
		return -EINVAL;
	result_reset(out);
	if (!node || !req)
		return invalid(out, "no node or request");
	r = sched_request_prepare(req, &p);
	if (r < 0)
		return invalid(out, "%s", p.reason);
	return sched_evaluate_prepared(node, &p, out);
}

int sched_evaluate_prepared(const struct sched_node *node, const struct sched_prepared *p,
			    struct sched_result *out)
{
	const struct sched_request *req;
	struct ctx c;
	struct plan pl;
	int r;

	if (!out)
		return -EINVAL;
	result_reset(out);
	if (!node || !p || !p->req)
		return invalid(out, "no node or request");
	if (!p->valid)
		return invalid(out, "%s", p->reason);
	req = p->req;
	r = validate_node(node, out);
	if (r < 0)
		return r;
	out->n_volumes = req->n_volumes;
	for (size_t i = 0; i < req->n_volumes; i++) {
		out->volumes[i] = (struct sched_choice){.pool = -1, .numa_id = -1};
		SMALL_LOOP_STEP(i);
	}
	if (node->unusable) {
		snprintf(out->reason, sizeof(out->reason), "%s", node->unusable);
		return 0;
	}

	c.node = node;
	c.req = req;
	c.p = p;
	if (!prepare(&c, out))
		return 0;

	c.quiet = true;
	if (!decide(&c, &pl, out)) {
		/* Not feasible: again, with the reasons (the same decisions, so the same end). */
		c.quiet = false;
		out->reason[0] = '\0';
		decide(&c, &pl, out);
		return 0;
	}
	finish(&c, &pl, out);
	return 0;
}

int sched_pick(const struct sched_node *nodes, size_t n, const struct sched_request *req,
	       struct sched_result *results, long *best)
{
	struct sched_result tmp;
	struct sched_prepared prep;
	int r;

	if (!best || (n && (!nodes || !results)) || !req)
		return -EINVAL;
	*best = -1;
	r = sched_request_prepare(req, &prep);
	if (r < 0) {
		memset(&tmp, 0, sizeof(tmp));
		invalid(&tmp, "%s", prep.reason);
		if (n)
			results[0] = tmp;
		return r;
	}
	/*
	 * The request is valid, so an -EINVAL now is one malformed node: it is failed with its
	 * reason and the others still count, since one bad record must not stop scheduling.
	 */
	for (size_t i = 0; i < n; i++) {
		struct sched_result *res = &results[i];

		if (sched_evaluate_prepared(&nodes[i], &prep, res) < 0 || !res->feasible)
			continue;
		if (*best < 0 || res->score > results[*best].score) {
			*best = (long)i;
		} else if (res->score == results[*best].score) {
			/* Equal scores: the policy on exact bytes, then the name. */
			uint64_t ra = res->pmem_remaining, rb = results[*best].pmem_remaining;
			const char *a = nodes[i].name ? nodes[i].name : "";
			const char *b = nodes[*best].name ? nodes[*best].name : "";
			bool by_bytes = ra != rb && (req->pmem_policy == SCHED_PMEM_BINPACK ||
						     req->pmem_policy == SCHED_PMEM_SINGLE_NUMA ||
						     req->pmem_policy == SCHED_PMEM_SPREAD);

			if (by_bytes ? (req->pmem_policy == SCHED_PMEM_SPREAD ? ra > rb : ra < rb)
				     : strcmp(a, b) < 0)
				*best = (long)i;
		}
	}
	return 0;
}

/* ---- counting decisions -------------------------------------------------------------- */

/* Checks that `res` fits `node` now; sums per pool into take[]. */
static int check_apply(const struct sched_node *node, const struct sched_request *req,
		       const struct sched_result *res, uint64_t *take, int *cpu)
{
	struct sched_result tmp;

	if (!node || !req || !res || !res->feasible || res->n_volumes != req->n_volumes ||
	    validate_request(req, &tmp) < 0 || validate_node(node, &tmp) < 0)
		return -EINVAL;
	memset(take, 0, sizeof(take[0]) * node->n_pools);
	for (size_t i = 0; i < req->n_volumes; i++) {
		int p = res->volumes[i].pool;

		if (!res->volumes[i].counted)
			continue;
		if (p < 0 || (size_t)p >= node->n_pools)
			return -EINVAL;
		if (take[p] + req->volumes[i].size < take[p])
			return -EINVAL;
		take[p] += req->volumes[i].size;
	}
	*cpu = -1;
	if (req->cpus) {
		*cpu = numa_index(node, res->cpu_numa_id);
		if (*cpu < 0)
			return -EINVAL;
	}
	return 0;
}

int sched_apply(struct sched_node *node, const struct sched_request *req,
		const struct sched_result *res)
{
	uint64_t take[SCHED_MAX_POOLS];
	int cpu, r;

	r = check_apply(node, req, res, take, &cpu);
	if (r < 0)
		return r;
	for (size_t p = 0; p < node->n_pools; p++)
		if (take[p] > sched_pool_free(&node->pools[p]))
			return -EINVAL;
	if (cpu >= 0 && node->numa[cpu].cpus_free < req->cpus)
		return -EINVAL;
	for (size_t p = 0; p < node->n_pools; p++)
		node->pools[p].reserved += take[p];
	if (cpu >= 0)
		node->numa[cpu].cpus_free -= req->cpus;
	return 0;
}

int sched_release(struct sched_node *node, const struct sched_request *req,
		  const struct sched_result *res)
{
	uint64_t take[SCHED_MAX_POOLS];
	int cpu, r;

	r = check_apply(node, req, res, take, &cpu);
	if (r < 0)
		return r;
	for (size_t p = 0; p < node->n_pools; p++)
		if (take[p] > node->pools[p].reserved)
			return -EINVAL;
	if (cpu >= 0 && node->numa[cpu].cpus - node->numa[cpu].cpus_free < req->cpus)
		return -EINVAL;
	for (size_t p = 0; p < node->n_pools; p++)
		node->pools[p].reserved -= take[p];
	if (cpu >= 0)
		node->numa[cpu].cpus_free += req->cpus;
	return 0;
}

/* ---- names --------------------------------------------------------------------------- */

static const char *const pmem_names[] = {
	[SCHED_PMEM_BINPACK] = "binpack",
	[SCHED_PMEM_SPREAD] = "spread",
	[SCHED_PMEM_SINGLE_NUMA] = "single-numa",
	[SCHED_PMEM_FIRST_FIT] = "first-fit",
};

static const char *const cpu_names[] = {
	[SCHED_CPU_SHORTEST_DISTANCE] = "shortest-distance",
	[SCHED_CPU_SINGLE_NUMA] = "single-numa-cpu",
};

const char *sched_pmem_policy_name(enum sched_pmem_policy p)
{
	return (unsigned)p < sizeof(pmem_names) / sizeof(pmem_names[0]) ? pmem_names[p] : NULL;
}

int sched_pmem_policy_parse(const char *s, enum sched_pmem_policy *out)
{
	for (size_t i = 0; s && i < sizeof(pmem_names) / sizeof(pmem_names[0]); i++)
		if (strcmp(s, pmem_names[i]) == 0) {
			*out = (enum sched_pmem_policy)i;
			return 0;
		}
	return -EINVAL;
}

const char *sched_cpu_policy_name(enum sched_cpu_policy p)
{
	return (unsigned)p < sizeof(cpu_names) / sizeof(cpu_names[0]) ? cpu_names[p] : NULL;
}

int sched_cpu_policy_parse(const char *s, enum sched_cpu_policy *out)
{
	for (size_t i = 0; s && i < sizeof(cpu_names) / sizeof(cpu_names[0]); i++)
		if (strcmp(s, cpu_names[i]) == 0) {
			*out = (enum sched_cpu_policy)i;
			return 0;
		}
	return -EINVAL;
}
