/* resize: the auto resizer: policies, the pure decision, the monitor loop and usage sources. */
#ifndef PMEMD_RESIZE_H
#define PMEMD_RESIZE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- usage samples: what every source produces (local, prometheus, kubelet) ---- */

/* A usage sample of one volume, from any source. */
struct resize_sample {
	bool valid; /* false: the source had nothing for this volume */
	uint64_t used_bytes, capacity_bytes;
	bool has_inodes;
	uint64_t used_inodes, capacity_inodes;
	int64_t taken_ms; /* unix ms when the value was measured (Prometheus: the sample's
			     timestamp) */
};

/* What a source is asked about: pmemd's volume name and, when the volume has them, the PVC it
 * backs. */
struct resize_target {
	const char *volume;
	const char *pvc_namespace; /* label pmem.io/pvc-namespace, or NULL */
	const char *pvc_name;	   /* label pmem.io/pvc-name, or NULL */
};

/* The labels the CSI shim records on a volume it made for a PVC. */
#define RESIZE_LABEL_PVC_NAMESPACE "pmem.io/pvc-namespace"
#define RESIZE_LABEL_PVC_NAME	   "pmem.io/pvc-name"
#define RESIZE_LABEL_PV_NAME	   "pmem.io/pv-name"

/* ---- policies (resize-policies.c) ---- */

#define RESIZE_POLICY_NAME_MAX	  253
#define RESIZE_POLICIES_MAX	  1024 /* policies on a node (config + REST) */
#define RESIZE_SELECT_VOLUMES_MAX 256  /* names in one selector */
#define RESIZE_SELECT_LABELS_MAX  16   /* key=value pairs in one selector */

enum resize_step_kind {
	RESIZE_STEP_PERCENT, /* grow by this percent of the current size */
	RESIZE_STEP_BYTES,   /* grow by this many bytes */
};

struct resize_label {
	char *key;
	char *value;
};

/*
 * A policy, validated. The selector's parts all apply (AND); an empty selector
 * is refused (a policy for every volume says so: `"volumes": ["*"]` is not a
 * thing, use a label). Trigger parts apply OR: any one that holds fires.
 */
struct resize_policy {
	char name[RESIZE_POLICY_NAME_MAX + 1];
	/* selector */
	char **volumes; /* NULL-terminated volume names; NULL = any name */
	size_t n_volumes;
	struct resize_label *labels; /* all must match */
	size_t n_labels;
	char *pool;	     /* mount path; NULL = any pool */
	char *pvc_namespace; /* = label pmem.io/pvc-namespace; NULL = any */
	char *pvc_name;	     /* = label pmem.io/pvc-name; NULL = any */
	/* trigger: 0 = that part is off; at least one is on */
	unsigned used_percent; /* 1..100: fires when used × 100 >= used_percent × capacity */
	uint64_t free_bytes;   /* fires when capacity - used <= free_bytes */
	/* step */
	enum resize_step_kind step_kind;
	unsigned step_percent; /* 1..1000 */
	uint64_t step_bytes;
	uint64_t min_step_bytes;    /* a step is at least this; 0 = none */
	uint64_t granularity_bytes; /* new sizes are multiples of this (and of the fs block) */
	uint64_t max_size_bytes;    /* never grow past this */
	uint64_t cooldown_ms;	    /* after a resize finished, none before this much time */
	/*
	 * Inodes (all optional; 0 = off). Triggers, OR with the bytes' ones:
	 * inodes_used_percent 1..100 fires when used × 100 >= it × the inode
	 * limit; inodes_free fires when limit - used <= it. Only a volume with
	 * an inode limit triggers on inodes. The step is the larger of
	 * inodes_step_percent of the limit now and inodes_step, at least
	 * min_step_inodes, never past max_inodes (required with a trigger).
	 */
	unsigned inodes_used_percent;
	uint64_t inodes_free;
	unsigned inodes_step_percent; /* 1..1000 */
	uint64_t inodes_step;
	uint64_t min_step_inodes;
	uint64_t max_inodes;
	bool from_config; /* declared in the config file: read-only over REST */
};

/* ---- the decision (resize-decide.c): pure, no I/O, no clock ---- */

/* What the decision knows about the volume now. */
struct resize_volume_state {
	uint64_t size_bytes;	  /* the volume's size now (what the resize API takes) */
	uint64_t inodes;	  /* its inode limit, 0 = none */
	uint64_t pool_free_bytes; /* what its pool's ledger has free */
	uint64_t block_size;	  /* the filesystem's block size; 0 = 4096 */
};

/* The volume's history as the monitor remembers it; zeros = never resized, no earlier sample. */
struct resize_history {
	int64_t started_ms;  /* last resize: when it was asked for */
	int64_t finished_ms; /* last resize: when the new limit was in effect */
	uint64_t from_bytes, to_bytes;
	bool has_prev;		   /* an earlier valid sample was seen */
	uint64_t prev_used_inodes; /* its used inodes */
};

enum resize_action {
	RESIZE_NONE,
	RESIZE_GROW,
};

#define RESIZE_REASON_MAX 256

struct resize_decision {
	enum resize_action action;
	uint64_t new_size_bytes; /* RESIZE_GROW: the size to ask for; else the size now */
	uint64_t new_inodes;	 /* RESIZE_GROW: the inode limit to ask for; else the limit now */
	bool inodes_triggered;	 /* an inode trigger fired */
	bool inodes_capped;	 /* the inode step was cut at max_inodes */
	bool inodes_at_max; /* the inode limit is (or, after this step, will be) at max_inodes */
	bool capped;	/* the byte step was cut (at max_size_bytes or at the pool's free bytes) */
	bool at_max;	/* the volume is (or, after this step, will be) at max_size_bytes */
	bool refused;	/* a byte trigger fired but no byte could be added (pool full) */
	bool triggered; /* a trigger fired (bytes or inodes) */
	bool usable;	/* the sample passed every check (valid, possible, fresh) */
	char reason[RESIZE_REASON_MAX];
};

/*
 * Decides for one volume. `max_age_ms`: a sample older than this at `now_ms`
 * is stale (the monitor passes 2 × its interval). Rules, in order: an
 * invalid, impossible, stale or pre-resize sample → none; no trigger → none;
 * at max → none (at_max); cooldown → none; else grow from the current size by
 * the step (at least min_step), rounded up to the block and granularity,
 * capped at max and at what the pool has free (capped; refused when nothing
 * fits). Inodes the same, on their own triggers, step and max (no pool
 * cap): one decision may grow bytes, inodes or both. Never shrinks.
 * docs/resize.md lists every rule.
 */
void resize_decide(const struct resize_volume_state *vol, const struct resize_sample *s,
		   const struct resize_policy *p, int64_t now_ms, int64_t max_age_ms,
		   const struct resize_history *h, struct resize_decision *out);

/* ---- policies: validation, the set, persistence (resize-policies.c) ---- */

/*
 * Parses a policy body (POST/PUT). Strict: unknown fields, wrong types,
 * impossible numbers and bad names are errors naming the field. `name`: the
 * name from the path (PUT), or NULL (the body's "name"). 0 or -EINVAL/-ENOMEM.
 */
int resize_policy_parse(const json_t *body, const char *name, struct resize_policy **out, char *err,
			size_t err_len);
struct resize_policy *resize_policy_free(struct resize_policy *p);
/* The policy as the API shows it (and as the file stores it). */
json_t *resize_policy_to_json(const struct resize_policy *p);

/* A volume as policies see it. */
struct resize_volume_view {
	const char *name;
	const char *pool;
	const json_t *labels; /* {"key": "value"}; NULL = none */
};
bool resize_policy_selects(const struct resize_policy *p, const struct resize_volume_view *v);

struct resize_policies;

/*
 * The node's policies: `defaults` (a JSON array of policies from the config,
 * read-only over REST; may be NULL) and those kept in
 * <state_dir>/resize-policies.json (state_dir NULL: in memory only). A
 * corrupt file is moved aside and logged; the node starts without its
 * policies. 0 or -errno (a bad default: -EINVAL naming it).
 */
int resize_policies_new(const char *state_dir, const json_t *defaults, struct resize_policies **out,
			char *err, size_t err_len);
struct resize_policies *resize_policies_free(struct resize_policies *ps);

/* POST: 201 (*created) or 200 for the same body again; -EEXIST otherwise. */
int resize_policies_create(struct resize_policies *ps, const json_t *body, json_t **out,
			   bool *created, char *err, size_t err_len);
/* PUT: replaces (or creates: *created) the policy `name`; -EPERM for a config policy. */
int resize_policies_replace(struct resize_policies *ps, const char *name, const json_t *body,
			    json_t **out, bool *created, char *err, size_t err_len);
int resize_policies_get(struct resize_policies *ps, const char *name, json_t **out, char *err,
			size_t err_len);
/* {"policies": [...]} sorted by name. */
int resize_policies_list(struct resize_policies *ps, json_t **out, char *err, size_t err_len);
/* -ENOENT; -EPERM for a config policy; -EIO when the file cannot be written. */
int resize_policies_delete(struct resize_policies *ps, const char *name, char *err, size_t err_len);
/*
 * A copy of every policy, sorted by name, for the monitor to match volumes
 * against without the set's lock; *gen: the set's generation it reflects.
 * Free with resize_policies_snapshot_free.
 */
int resize_policies_snapshot(struct resize_policies *ps, struct resize_policy ***out, size_t *n,
			     uint64_t *gen);
void resize_policies_snapshot_free(struct resize_policy **v, size_t n);
/*
 * The policy that governs volume `v` among `sorted` (sorted by name): the
 * first by name (strcmp order) that selects it, or NULL. Pure.
 */
const struct resize_policy *resize_policy_pick(struct resize_policy *const *sorted, size_t n,
					       const struct resize_volume_view *v);
/* A counter that changes whenever the set changes (the monitor re-matches then). */
uint64_t resize_policies_generation(struct resize_policies *ps);

/* ---- the monitor (resize-monitor.c) ---- */

enum resize_source {
	RESIZE_SOURCE_LOCAL,
	RESIZE_SOURCE_PROMETHEUS,
	RESIZE_SOURCE_KUBELET,
};
const char *resize_source_name(enum resize_source s);

struct quota_volumes;
struct resize_prom_opts;
struct resize_kubelet_opts;
struct resize_monitor;

#define RESIZE_EVENTS_MAX 32 /* events kept per volume (a ring: the oldest goes first) */

struct resize_monitor_opts {
	struct quota_volumes *volumes;	  /* the volume service: sizes, labels, local usage */
	struct resize_policies *policies; /* which volumes, and how */
	enum resize_source source;
	uint64_t interval_ms;			   /* between two passes; 0 = 2000 */
	const struct resize_prom_opts *prom;	   /* source prometheus */
	const struct resize_kubelet_opts *kubelet; /* source kubelet */
	int64_t (*now_ms)(void); /* unix ms; NULL = the real clock (tests inject) */
};

/* 0 or -errno (-EINVAL, -ENOTSUP for a source this build lacks) with the reason. */
int resize_monitor_new(const struct resize_monitor_opts *o, struct resize_monitor **out, char *err,
		       size_t err_len);
/* Starts the thread that runs a pass every interval. */
int resize_monitor_start(struct resize_monitor *m, char *err, size_t err_len);
/* Stops the thread (a pass in progress finishes first) and frees; accepts NULL, returns NULL. */
struct resize_monitor *resize_monitor_free(struct resize_monitor *m);

/*
 * One pass, now: sample every volume a policy selects, decide, and resize
 * through quota_volume_resize (the path of POST /v1/volumes/{name}/resize).
 * Returns how many volumes were resized, or -errno when the source failed as
 * a whole. Passes never overlap. Tests drive it directly.
 */
int resize_monitor_tick(struct resize_monitor *m);

/* {"volume": name, "events": [...]} oldest first; -ENOENT when the volume does not exist. */
int resize_monitor_events(struct resize_monitor *m, const char *volume, json_t **out, char *err,
			  size_t err_len);

/* Prometheus lines: pmem_autoresize_* (results, last resize per volume, source errors, passes). */
void resize_monitor_metrics(struct resize_monitor *m, FILE *f);

#endif
