/*
 * sched: PMEM capacity accounting and placement policy (the seed talk's "Scheduler Plugin").
 *
 * Pure: plain structs in, plain structs out. No I/O, no clock, no globals, no allocation in
 * sched_evaluate()/sched_pick(), so every policy is unit-tested exhaustively and the
 * scheduler role can evaluate thousands of nodes per request.
 *
 * The model: a node has NUMA nodes (CPUs, distances) and pools (one filesystem each, on one
 * NUMA node). A volume is a directory in ONE pool, so a volume fits only where a single pool
 * has room for it: two pools with 10 GiB free each do not hold a 15 GiB volume.
 */
#ifndef PMEMD_SCHED_H
#define PMEMD_SCHED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_MAX_NUMA	  64 /* NUMA nodes per node */
#define SCHED_MAX_POOLS	  64 /* pools per node */
#define SCHED_MAX_VOLUMES 32 /* PMEM volumes per pod */
#define SCHED_REASON_MAX  256
#define SCHED_SCORE_MAX	  100

/* PMEM capacity selection (the talk's policies). */
enum sched_pmem_policy {
	SCHED_PMEM_BINPACK,	/* the NUMA node (and pool) with the least remaining that fits */
	SCHED_PMEM_SPREAD,	/* the most remaining */
	SCHED_PMEM_SINGLE_NUMA, /* all of the pod's volumes on one NUMA node, binpacked there */
	SCHED_PMEM_FIRST_FIT,	/* lowest NUMA id, then lowest pool index that fits (baseline) */
};

/* Where the pod's exclusive CPUs go relative to its PMEM. */
enum sched_cpu_policy {
	SCHED_CPU_SHORTEST_DISTANCE, /* the CPU NUMA node with the smallest total distance to
					the PMEM (local when possible; never infeasible for it) */
	SCHED_CPU_SINGLE_NUMA,	     /* CPUs on the NUMA node of the PMEM; infeasible otherwise
					(implies all volumes on that one NUMA node) */
};

struct sched_numa {
	int id;		    /* the kernel's node id */
	unsigned cpus;	    /* CPUs on it (0: memory-only node) */
	unsigned cpus_free; /* not handed out exclusively (CPU manager + scheduler decisions) */
};

struct sched_pool {
	const char *name;     /* e.g. "/mnt/pmem/region0" */
	int numa;	      /* INDEX into sched_node.numa[]; -1: unknown (offers nothing) */
	const char *fstype;   /* "ext4", "xfs" */
	uint64_t allocatable; /* bytes volumes may hold in total */
	uint64_t allocated;   /* held by volumes */
	uint64_t reserved;    /* held by reservations not yet volumes */
};

/* Remaining bytes of a pool: allocatable - allocated - reserved, 0 when over. */
uint64_t sched_pool_free(const struct sched_pool *p);

struct sched_node {
	const char *name;
	size_t n_numa;
	struct sched_numa *numa;
	/* n_numa * n_numa distances by INDEX: distance[i * n_numa + j]; NULL: 10 on the
	 * diagonal, 20 elsewhere. */
	unsigned *distance;
	size_t n_pools;
	struct sched_pool *pools;
	/* Non-NULL: the node must not be used (a stale or missing record, ...) and this says
	 * why; sched_evaluate() fails it with this reason. */
	const char *unusable;
};

/* One PMEM volume the pod needs. */
struct sched_volume {
	uint64_t size;	    /* bytes; > 0 */
	const char *fstype; /* "ext4"/"xfs" from the StorageClass; NULL: any */
	/* Identity for de-duplication ("pvc:<namespace>/<claim>", "inline:<pod-uid>/<vol>"); a
	 * second volume of the request with the same id counts once. NULL: unique. */
	const char *id;
	/* Already exists (a bound PVC, or reserved for another pod): it lives on this node and
	 * NUMA node and consumes no new capacity. NULL: new. A node other than bound_node is
	 * infeasible ("volume X lives on node Y"). */
	const char *bound_node;
	int bound_numa; /* kernel NUMA id of the existing volume; -1 unknown */
};

struct sched_request {
	size_t n_volumes; /* <= SCHED_MAX_VOLUMES */
	const struct sched_volume *volumes;
	unsigned cpus; /* exclusive CPUs (a Guaranteed pod's integer CPU requests); 0 = none */
	enum sched_pmem_policy pmem_policy;
	enum sched_cpu_policy cpu_policy;
	/* Leave `reason` empty for feasible results: the extender sends no text for nodes that
	 * pass, and formatting it was half the cost of evaluating a 5,000-node cluster. */
	bool terse;
};

struct sched_choice {
	int pool;     /* INDEX into sched_node.pools[]; -1 for a bound or duplicate volume */
	int numa_id;  /* kernel NUMA id where the volume is (or will be) */
	bool counted; /* false for duplicates and bound volumes: no new capacity */
};

struct sched_result {
	bool feasible;
	int score; /* 0..SCHED_SCORE_MAX, higher is better; 0 when not feasible */
	/* Not feasible: why, for a person ("numa1: need 64Gi, free 10Gi"). Feasible: a short
	 * summary ("numa0: pool /mnt/pmem/region0 48Gi after, cpus numa0"). */
	char reason[SCHED_REASON_MAX];
	int cpu_numa_id;   /* kernel NUMA id for the CPUs; -1 when no CPUs were asked */
	unsigned distance; /* largest CPU-to-PMEM distance of the choice; 10 = local; 0 if n/a */
	uint64_t pmem_new; /* bytes of new capacity the choice takes (counted volumes) */
	/* PMEM left on the receiving NUMA node(s) after the choice (their mean when several);
	 * sched_pick breaks score ties with it, so binpack stays binpack below the score's
	 * resolution (one point is 1/50 of a NUMA node). */
	uint64_t pmem_remaining;
	size_t n_volumes;
	struct sched_choice volumes[SCHED_MAX_VOLUMES];
};

/*
 * Evaluates `req` against `node`. Returns 0 with *out filled (feasible or not, with the
 * reason); -EINVAL when the request or node is malformed (too many volumes, a size of 0, a
 * pool whose numa index is out of range, ...), with out->reason saying what. A request with
 * no volumes and no CPUs is feasible with score SCHED_SCORE_MAX / 2 (neutral).
 * Deterministic: ties break on the lower NUMA id, then the lower pool index.
 */
int sched_evaluate(const struct sched_node *node, const struct sched_request *req,
		   struct sched_result *out);

/*
 * A request prepared once for many nodes: validated, duplicates resolved, the new volumes in
 * largest-first order, the bound ones listed. sched_evaluate() on each of 5,000 nodes redid
 * this per node; with it, the per-node work is only what depends on the node. It points into
 * the request, which must stay alive and unchanged while the prepared request is used.
 */
struct sched_prepared {
	const struct sched_request *req;
	bool valid;			 /* false: the request is malformed, `reason` says why */
	char reason[SCHED_REASON_MAX];	 /* why it is malformed; "" when valid */
	int dup_of[SCHED_MAX_VOLUMES];	 /* -1 or the first volume with the same id */
	size_t order[SCHED_MAX_VOLUMES]; /* new volumes (not duplicate, not bound), largest first */
	size_t n_new;
	uint64_t new_bytes;		 /* their sum (saturating) */
	size_t bound[SCHED_MAX_VOLUMES]; /* bound volumes (not duplicates), in request order */
	size_t n_bound;
};

/*
 * Prepares `req` for sched_evaluate_prepared(). 0; -EINVAL when the request is malformed (too
 * many volumes, a size of 0, an unknown policy), with out->reason saying what (out->valid is
 * false then, and evaluating it fails every node with that reason).
 */
int sched_request_prepare(const struct sched_request *req, struct sched_prepared *out);

/* sched_evaluate() with the request prepared once: the same result for the same input. */
int sched_evaluate_prepared(const struct sched_node *node, const struct sched_prepared *p,
			    struct sched_result *out);

/*
 * Evaluates every node (results[i] for nodes[i]; `results` has n entries) and sets *best to
 * the index of the feasible node with the highest score (ties: the name that sorts first),
 * or -1 when none is feasible. -EINVAL when the request is malformed (reason in results[0]);
 * a malformed node only fails itself (results[i] not feasible, with the reason), so one bad
 * record does not stop a cluster's scheduling.
 */
int sched_pick(const struct sched_node *nodes, size_t n, const struct sched_request *req,
	       struct sched_result *results, long *best);

/*
 * Counts a decision: adds the counted volumes' sizes to their pools' `reserved` and takes
 * the CPUs from cpus_free of the CPU NUMA node. sched_release() undoes exactly that.
 * -EINVAL if `res` is not feasible or does not fit `node` any more (nothing changed then).
 */
int sched_apply(struct sched_node *node, const struct sched_request *req,
		const struct sched_result *res);
int sched_release(struct sched_node *node, const struct sched_request *req,
		  const struct sched_result *res);

/* "binpack", "spread", "single-numa", "first-fit"; parse: 0 or -EINVAL. */
const char *sched_pmem_policy_name(enum sched_pmem_policy p);
int sched_pmem_policy_parse(const char *s, enum sched_pmem_policy *out);
/* "shortest-distance", "single-numa-cpu". */
const char *sched_cpu_policy_name(enum sched_cpu_policy p);
int sched_cpu_policy_parse(const char *s, enum sched_cpu_policy *out);

/* ---- a node built from its record (sched-record.c) ----------------------------------- */

/*
 * A sched_node that owns its strings and arrays: built from a node record (the JSON of
 * GET /v1/node and of PmemNode .status; docs/node-record.md), freed with sched_node_free().
 * Only `ready` pools of type `pmem` with a known numa_node become pools; cpus_free is the
 * NUMA node's CPU count minus `cpus_exclusive` (the kubelet CPU manager's exclusive CPUs,
 * when the record has them); reserved is the pool's `reserved_bytes` when present.
 */
struct sched_owned_node {
	struct sched_node node;
	json_t *record; /* the record it was built from (a reference), for strings */
};

/* 0 with *out; -EINVAL with `err` naming the bad field ("numa_nodes[1].distances: ..."). */
int sched_node_from_record(const json_t *record, struct sched_owned_node **out, char *err,
			   size_t err_len);
/* Accepts NULL, returns NULL. */
struct sched_owned_node *sched_node_free(struct sched_owned_node *n);

/* The result as JSON (docs/api.md, "Placement"): {feasible, score, reason, cpu_numa_node,
 * distance, volumes: [{pool, numa_node, counted}]}. NULL on ENOMEM. */
json_t *sched_result_to_json(const struct sched_node *node, const struct sched_result *res);

#endif
