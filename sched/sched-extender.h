/*
 * sched-extender: kube-scheduler's HTTP extender protocol (k8s.io/kube-scheduler/extender/v1),
 * the hot path: ExtenderArgs in, ExtenderFilterResult / HostPriorityList out, without a DOM.
 *
 * Why not jansson here: a filter call for a 5,000-node cluster carries ~170 KB of NodeNames,
 * which jansson parses in ~5 ms, five times the whole call's latency budget (p99 < 1 ms).
 * ExtenderArgs are scanned with simdjson's On-Demand API (sched-extender-parse.cc, the only
 * C++ file; no exception ever leaves it); only the small Pod object becomes a jansson DOM.
 * The answers are written as text straight into a growable buffer: the passing Node objects
 * of the `Nodes` form are echoed byte for byte from the request body, never rebuilt.
 *
 * Keys are Go field names (`Pod`, `Nodes`, `NodeNames`) as kube-scheduler sends them; like
 * Go's encoding/json they are matched case-insensitively, so `pod`/`nodeNames` work too.
 */
#ifndef PMEMD_SCHED_EXTENDER_H
#define PMEMD_SCHED_EXTENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/sched.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SCHED_EXT_MAX_NODES    100000 /* node names or Node items per ExtenderArgs */
#define SCHED_EXT_MAX_NAME     253    /* a node name is a DNS subdomain */
#define SCHED_EXT_MAX_PRIORITY 10     /* MaxExtenderPriority: HostPriority.Score range 0..10 */
#define SCHED_EXT_MAX_DEPTH    256    /* nesting outside the Pod (the Pod: jansson's 2048) */
#define SCHED_EXT_ERR_MAX      256    /* a good size for the `err` buffers below */

/* Which node form the request used; the filter answer uses the same. */
enum sched_ext_form {
	SCHED_EXT_NODE_NAMES, /* nodeCacheCapable: true  -> "NodeNames": [names] */
	SCHED_EXT_NODES,      /* nodeCacheCapable: false -> "Nodes": {NodeList} */
};

/* A byte range of the caller's request body. */
struct sched_ext_span {
	size_t off;
	size_t len;
};

/* What the answer writers need of a node name, measured once while parsing it. */
struct sched_ext_name {
	uint32_t len; /* strlen() */
	bool plain;   /* no byte needs escaping: a JSON string is the name between quotes */
};

/* A parsed ExtenderArgs. Built by sched_ext_args_parse(), freed by sched_ext_args_free(). */
struct sched_ext_args {
	json_t *pod; /* the Pod object (owned reference); never NULL */
	enum sched_ext_form form;
	size_t n_nodes;
	/* n_nodes node names, NUL-terminated, unescaped, in one arena: NodeNames[i], or
	 * Nodes.items[i].metadata.name. May repeat if the request repeats them. */
	const char **names;
	/* n_nodes entries for names[i]; NULL in args not made by the parser (the writers then
	 * measure and scan each name): the writers spent most of their time on strlen() and the
	 * escape scan of 5,000 names, which parsing them had to read anyway. */
	struct sched_ext_name *name_info;
	/* SCHED_EXT_NODES only (NULL otherwise): the raw JSON of Nodes.items[i] in the body,
	 * and of Nodes.metadata ({.len = 0} when absent), echoed back by the filter answer. */
	struct sched_ext_span *items;
	struct sched_ext_span list_metadata;
	char *arena; /* private: storage of names */
};

/*
 * A reusable parser (simdjson's buffers and a padded copy of the body); one per thread, not
 * thread-safe. Reusing one across calls avoids reallocating ~body-size buffers every call.
 * new: NULL on ENOMEM. free: accepts NULL, returns NULL.
 */
struct sched_ext_parser;
struct sched_ext_parser *sched_ext_parser_new(void);
struct sched_ext_parser *sched_ext_parser_free(struct sched_ext_parser *p);

/*
 * Parses an ExtenderArgs body (`body`, `len` bytes, need not be NUL-terminated; the spans in
 * the result refer to it, so keep it alive while using them). `p` may be NULL (a temporary
 * parser). Exactly one of `Nodes` / `NodeNames` must be non-null; `Pod` must be an object.
 * Returns 0 with *out set; -EBADMSG with `err` saying where ("NodeNames[3]: not a string",
 * "offset 1234: ..."), -ENOMEM. *out is untouched on failure.
 */
int sched_ext_args_parse(struct sched_ext_parser *p, const char *body, size_t len,
			 struct sched_ext_args **out, char *err, size_t err_len);
/* Accepts NULL, returns NULL. */
struct sched_ext_args *sched_ext_args_free(struct sched_ext_args *a);

/* ExtenderBindingArgs {PodName, PodNamespace, PodUID, Node}; strings owned by the struct. */
struct sched_ext_binding {
	char *pod_name;
	char *pod_namespace;
	char *pod_uid;
	char *node;
};

/*
 * Parses an ExtenderBindingArgs body (jansson: it is small). PodName, PodNamespace and Node
 * are required non-empty strings; PodUID may be empty or absent (""). 0, -EBADMSG with `err`,
 * -ENOMEM; *out untouched on failure. sched_ext_binding_clear() frees the strings (accepts a
 * zeroed struct) and zeroes it.
 */
int sched_ext_binding_parse(const char *body, size_t len, struct sched_ext_binding *out, char *err,
			    size_t err_len);
void sched_ext_binding_clear(struct sched_ext_binding *b);

/* ---- writers ------------------------------------------------------------------------- */

/* A growable text buffer; zero-initialise it. Writers append; `data` is NUL-terminated. */
struct sched_ext_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Empties `b` (keeps its memory, for reuse across calls). */
void sched_ext_buf_reset(struct sched_ext_buf *b);
/* Frees the memory and zeroes `b`. */
void sched_ext_buf_free(struct sched_ext_buf *b);
/* Whether the 8 bytes of `w` hold one that a JSON string must escape: below 0x20 (NUL too), '"'
 * or '\\' (the "has a byte less than n" arithmetic, exact for n <= 128: a zero byte in x is
 * (x - ones) & ~x & highs; a byte < 0x20, (w - 0x20s) & ~w & highs). For the parser and the
 * writers; which byte it is, a caller finds byte by byte. */
static inline bool sched_ext_word_needs_escape(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');

	return ((w - ones * 0x20) & ~w & highs) | ((q - ones) & ~q & highs) |
	       ((bs - ones) & ~bs & highs);
}

/* The same for one byte. */
static inline bool sched_ext_needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/* Appends `s` (`len` bytes) as a JSON string literal, quotes included, escaping as RFC 8259
 * asks (", \, control characters; bytes >= 0x80 are copied as they are). 0 or -ENOMEM. */
int sched_ext_buf_put_json_string(struct sched_ext_buf *b, const char *s, size_t len);

/*
 * Appends the ExtenderFilterResult for `args` in the request's form:
 *   {"Nodes":{"metadata":...,"items":[passing items]} | null,
 *    "NodeNames":[passing names] | null, "FailedNodes":{name: reason}, "Error":""}
 * results[i] is the verdict for args->names[i]: feasible passes; otherwise its reason (an
 * empty reason becomes "infeasible") goes to FailedNodes. `fail_all` non-NULL: every node
 * fails with that reason (a missing PVC, ...) and `results` may be NULL. `body` is the
 * request body args was parsed from (for echoing Node items; unused in NodeNames form).
 * 0 or -ENOMEM (b keeps what it had before the call).
 */
int sched_ext_write_filter(struct sched_ext_buf *b, const struct sched_ext_args *args,
			   const char *body, const struct sched_result *results,
			   const char *fail_all);

/* Appends {"Nodes":null,"NodeNames":null,"FailedNodes":{},"Error":"<error>"}: the whole
 * filter call failed (kube-scheduler then fails the pod's scheduling cycle). 0 or -ENOMEM. */
int sched_ext_write_filter_error(struct sched_ext_buf *b, const char *error);

/*
 * Appends the HostPriorityList [{"Host":name,"Score":s}, ...] for args->names[i] in order:
 * s = sched_ext_score(&results[i]). results NULL: every node gets the neutral score
 * SCHED_EXT_MAX_PRIORITY / 2 (a pod asking nothing of pmemd). 0 or -ENOMEM.
 */
int sched_ext_write_priorities(struct sched_ext_buf *b, const struct sched_ext_args *args,
			       const struct sched_result *results);

/* The engine's 0..SCHED_SCORE_MAX scaled (rounded) to 0..SCHED_EXT_MAX_PRIORITY; 0 when
 * not feasible. */
int sched_ext_score(const struct sched_result *r);

/* Appends {"Error":"<error>"} (NULL: ""). 0 or -ENOMEM. */
int sched_ext_write_binding_result(struct sched_ext_buf *b, const char *error);

#ifdef __cplusplus
}
#endif

#endif
