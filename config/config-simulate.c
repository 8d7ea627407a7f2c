/* config-simulate: the simulate cluster description (libyaml) into node records, strictly. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config-simulate.h"
#include "util/names.h"
#include "util/units.h"

#define MAX_ERRORS   50
#define MAX_DEPTH    64
#define MAX_NUMA     64
#define DIST_LOCAL   10
#define DIST_REMOTE  21
#define MAX_DISTANCE 255

/* A small YAML tree: enough for a strict walk with positions. */
enum snode_kind { SN_SCALAR, SN_MAP, SN_SEQ };

struct snode {
	enum snode_kind kind;
	struct config_pos pos;
	char *value;	      /* scalar */
	bool plain;	      /* an unquoted scalar (null/number candidates) */
	struct snode **items; /* seq items, or map keys and values interleaved */
	size_t n;	      /* items (seq) or 2 * pairs (map) */
	size_t cap;
};

struct sctx {
	const char *file;
	struct config_errors *errs;
	size_t cap;
	size_t dropped;
	bool oom;
};

static struct snode *snode_free(struct snode *n)
{
	if (!n)
		return NULL;
	for (size_t i = 0; i < n->n; i++)
		snode_free(n->items[i]);
	free(n->items);
	free(n->value);
	free(n);
	return NULL;
}

__attribute__((format(printf, 3, 4))) static void errorf(struct sctx *c, struct config_pos pos,
							 const char *fmt, ...)
{
	struct config_error *e;
	va_list ap;
	char *msg = NULL;

	if (c->errs->count >= MAX_ERRORS) {
		c->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg) {
		c->oom = true;
		return;
	}
	if (c->errs->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		e = realloc(c->errs->items, cap * sizeof(*e));
		if (!e) {
			free(msg);
			c->oom = true;
			return;
		}
		c->errs->items = e;
		c->cap = cap;
	}
	c->errs->items[c->errs->count++] = (struct config_error){.pos = pos, .message = msg};
}

static struct config_pos mark_pos(const yaml_mark_t *m)
{
	return (struct config_pos){.line = (unsigned)m->line + 1, .col = (unsigned)m->column + 1};
}

static int snode_add(struct snode *parent, struct snode *child)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct snode **items = realloc(parent->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		parent->items = items;
		parent->cap = cap;
	}
	parent->items[parent->n++] = child;
	return 0;
}

/* Builds the tree of the first document; NULL for an empty document. -EINVAL on a syntax
 * error (reported), -ENOMEM. */
static int tree_build(struct sctx *c, const char *buf, size_t len, struct snode **out)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct snode *stack[MAX_DEPTH];
	size_t depth = 0;
	struct snode *root = NULL;
	int r = 0;
	bool done = false;

	*out = NULL;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			struct config_pos pos = mark_pos(&p.problem_mark);
			errorf(c, pos, "invalid YAML: %s%s%s",
			       p.problem ? p.problem : "syntax error", p.context ? " " : "",
			       p.context ? p.context : "");
			r = -EINVAL;
			break;
		}
		struct snode *n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			done = ev.type == YAML_STREAM_END_EVENT || root != NULL;
			break;
		case YAML_ALIAS_EVENT:
			errorf(c, mark_pos(&ev.start_mark), "aliases are not supported here");
			r = -EINVAL;
			done = true;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			n = calloc(1, sizeof(*n));
			if (!n) {
				r = -ENOMEM;
				done = true;
				break;
			}
			n->pos = mark_pos(&ev.start_mark);
			if (ev.type == YAML_SCALAR_EVENT) {
				n->kind = SN_SCALAR;
				n->value = strndup((const char *)ev.data.scalar.value,
						   ev.data.scalar.length);
				n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
				if (!n->value) {
					snode_free(n);
					r = -ENOMEM;
					done = true;
					break;
				}
			} else {
				n->kind = ev.type == YAML_MAPPING_START_EVENT ? SN_MAP : SN_SEQ;
			}
			if (depth == 0) {
				root = n;
			} else if (snode_add(stack[depth - 1], n) < 0) {
				snode_free(n);
				r = -ENOMEM;
				done = true;
				break;
			}
			if (n->kind != SN_SCALAR) {
				if (depth == MAX_DEPTH) {
					errorf(c, n->pos, "nested more than %d levels", MAX_DEPTH);
					r = -EINVAL;
					done = true;
					break;
				}
				stack[depth++] = n;
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (r < 0) {
		snode_free(root);
		return r;
	}
	*out = root;
	return 0;
}

/* ---- the walk ---------------------------------------------------------------------------- */

static bool is_null(const struct snode *n)
{
	return !n || (n->kind == SN_SCALAR && n->plain &&
		      (!*n->value || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0));
}

static const char *kind_name(const struct snode *n)
{
	if (is_null(n))
		return "null";
	return n->kind == SN_MAP ? "a mapping" : n->kind == SN_SEQ ? "a sequence" : "a scalar";
}

static bool expect(struct sctx *c, const struct snode *n, enum snode_kind k, const char *path,
		   const char *what)
{
	if (n && !is_null(n) && n->kind == k)
		return true;
	errorf(c, n->pos, "%s: expected %s, got %s", path, what, kind_name(n));
	return false;
}

/* A non-negative integer scalar in [lo, hi]. */
static bool get_uint(struct sctx *c, const struct snode *n, const char *path, unsigned long lo,
		     unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!expect(c, n, SN_SCALAR, path, "an integer"))
		return false;
	errno = 0;
	v = strtoul(n->value, &end, 10);
	if (!*n->value || *end || errno || n->value[0] == '-' || n->value[0] == '+' ||
	    n->value[0] == ' ') {
		errorf(c, n->pos, "%s: expected an integer, got \"%s\"", path, n->value);
		return false;
	}
	if (v < lo || v > hi) {
		errorf(c, n->pos, "%s: %lu is out of range %lu..%lu", path, v, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

static bool get_size(struct sctx *c, const struct snode *n, const char *path, uint64_t *out)
{
	const char *why = NULL;
	int r;

	if (!expect(c, n, SN_SCALAR, path, "a size like 1536Gi"))
		return false;
	r = units_size_parse(n->value, out, &why);
	if (r < 0) {
		errorf(c, n->pos, "%s: \"%s\" is not a size (%s)", path, n->value,
		       r == -ERANGE ? "too large"
		       : why	    ? why
				    : "malformed");
		return false;
	}
	return true;
}

/* Checks a mapping's keys against `allowed` (NULL-terminated); reports unknown and repeated
 * keys. Returns false when the node is not a mapping. */
static bool check_keys(struct sctx *c, const struct snode *m, const char *path,
		       const char *const *allowed)
{
	if (!expect(c, m, SN_MAP, path, "a mapping"))
		return false;
	for (size_t i = 0; i < m->n; i += 2) {
		const struct snode *k = m->items[i];
		bool known = false;
		if (k->kind != SN_SCALAR) {
			errorf(c, k->pos, "%s: keys must be scalars", path);
			continue;
		}
		for (size_t a = 0; allowed[a] && !known; a++)
			known = strcmp(allowed[a], k->value) == 0;
		if (!known) {
			char list[256] = "";
			size_t off = 0;
			for (size_t a = 0; allowed[a] && off < sizeof(list); a++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							a ? ", " : "", allowed[a]);
			errorf(c, k->pos, "%s: unknown key \"%s\" (known: %s)", path, k->value,
			       list);
			continue;
		}
		for (size_t j = 0; j < i; j += 2)
			if (m->items[j]->kind == SN_SCALAR &&
			    strcmp(m->items[j]->value, k->value) == 0) {
				errorf(c, k->pos, "%s: key \"%s\" repeated", path, k->value);
				break;
			}
	}
	return true;
}

static const struct snode *get(const struct snode *m, const char *key)
{
	if (!m || m->kind != SN_MAP)
		return NULL;
	for (size_t i = 0; i < m->n; i += 2)
		if (m->items[i]->kind == SN_SCALAR && strcmp(m->items[i]->value, key) == 0)
			return m->items[i + 1];
	return NULL;
}

/* One node of the file (before replicas): a record template with name "" and the errors. */
static json_t *pool_json(struct sctx *c, const struct snode *p, const char *path, int numa_id,
			 json_t *names_seen)
{
	static const char *const keys[] = {"name", "size", "fstype", "allocated", NULL};
	const struct snode *name = get(p, "name"), *size = get(p, "size"),
			   *fstype = get(p, "fstype"), *alloc = get(p, "allocated");
	char sub[560], id[300];
	uint64_t sz = 0, al = 0;
	const char *fs = "ext4";
	bool ok = true;

	if (!check_keys(c, p, path, keys))
		return NULL;
	snprintf(sub, sizeof(sub), "%s.name", path);
	if (!name) {
		errorf(c, p->pos, "%s: needs a name (the pool's mount path)", path);
		ok = false;
	} else if (expect(c, name, SN_SCALAR, sub, "an absolute path")) {
		const char *v = name->value;
		if (v[0] != '/' || strlen(v) < 2 || strlen(v) > 255 || strstr(v, "//") ||
		    v[strlen(v) - 1] == '/') {
			errorf(c, name->pos, "%s: \"%s\" is not an absolute, normalised path", sub,
			       v);
			ok = false;
		} else if (json_object_get(names_seen, v)) {
			errorf(c, name->pos, "%s: pool \"%s\" repeated on this node", sub, v);
			ok = false;
		} else {
			json_object_set_new(names_seen, v, json_true());
		}
	} else {
		ok = false;
	}
	snprintf(sub, sizeof(sub), "%s.size", path);
	if (!size) {
		errorf(c, p->pos, "%s: needs a size (like 1536Gi)", path);
		ok = false;
	} else if (!get_size(c, size, sub, &sz)) {
		ok = false;
	} else if (sz == 0) {
		errorf(c, size->pos, "%s: must be more than 0", sub);
		ok = false;
	}
	snprintf(sub, sizeof(sub), "%s.fstype", path);
	if (fstype && expect(c, fstype, SN_SCALAR, sub, "ext4 or xfs")) {
		if (strcmp(fstype->value, "ext4") != 0 && strcmp(fstype->value, "xfs") != 0) {
			errorf(c, fstype->pos, "%s: expected ext4 or xfs, got \"%s\"", sub,
			       fstype->value);
			ok = false;
		}
		fs = fstype->value;
	} else if (fstype) {
		ok = false;
	}
	snprintf(sub, sizeof(sub), "%s.allocated", path);
	if (alloc && !get_size(c, alloc, sub, &al))
		ok = false;
	else if (alloc && ok && al > sz) {
		errorf(c, alloc->pos, "%s: more than the pool's size", sub);
		ok = false;
	}
	if (!ok)
		return NULL;
	/* The id rule of the node record: no leading '/', the others as '-'. */
	snprintf(id, sizeof(id), "%s", name->value + 1);
	for (char *s = id; *s; s++)
		if (*s == '/')
			*s = '-';
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:i, s:n, s:n, s:n, s:I, s:I, s:I, "
			 "s:i, s:i, s:i}",
			 "name", name->value, "id", id, "region", "simulated", "type", "pmem",
			 "fstype", fs, "state", "ready", "reason", "numa_node", numa_id, "device",
			 "namespace", "fs_uuid", "capacity_bytes", (json_int_t)sz,
			 "allocatable_bytes", (json_int_t)sz, "allocated_bytes", (json_int_t)al,
			 "used_bytes", 0, "inodes", 0, "inodes_free", 0);
}

static json_t *node_template(struct sctx *c, const struct snode *nd, const char *path)
{
	static const char *const nkeys[] = {"id",	 "cpus",  "cpus_exclusive",
					    "distances", "pools", NULL};
	const struct snode *numa = get(nd, "numa_nodes"), *labels = get(nd, "labels");
	json_t *rec = json_pack("{s:s, s:{}, s:[], s:[], s:[], s:i, s:b}", "node", "", "labels",
				"numa_nodes", "pools", "warnings", "generation", 1, "simulated", 1);
	json_t *names_seen = json_object();
	unsigned long ids[MAX_NUMA];
	size_t n_numa = 0;
	unsigned long next_cpu = 0;
	char sub[256];
	bool ok = true;

	if (!rec || !names_seen) {
		c->oom = true;
		goto fail;
	}
	if (labels && !is_null(labels)) {
		snprintf(sub, sizeof(sub), "%s.labels", path);
		if (expect(c, labels, SN_MAP, sub, "a mapping of label keys to values")) {
			for (size_t i = 0; i < labels->n; i += 2) {
				const struct snode *k = labels->items[i], *v = labels->items[i + 1];
				if (k->kind != SN_SCALAR || v->kind != SN_SCALAR) {
					errorf(c, k->pos, "%s: keys and values must be strings",
					       sub);
					ok = false;
					continue;
				}
				json_object_set_new(json_object_get(rec, "labels"), k->value,
						    json_string(v->value));
			}
		} else {
			ok = false;
		}
	}
	snprintf(sub, sizeof(sub), "%s.numa_nodes", path);
	if (!numa) {
		errorf(c, nd->pos, "%s: needs numa_nodes (at least one)", path);
		goto fail;
	}
	if (!expect(c, numa, SN_SEQ, sub, "a sequence of NUMA nodes"))
		goto fail;
	if (numa->n == 0 || numa->n > MAX_NUMA) {
		errorf(c, numa->pos, "%s: 1..%d NUMA nodes, got %zu", sub, MAX_NUMA, numa->n);
		goto fail;
	}
	/* Ids first: distances may name any NUMA node of the node. */
	for (size_t i = 0; i < numa->n; i++) {
		const struct snode *m = numa->items[i], *id;
		char p2[384];
		snprintf(p2, sizeof(p2), "%s[%zu]", sub, i);
		ids[i] = ULONG_MAX;
		if (!check_keys(c, m, p2, nkeys)) {
			ok = false;
			continue;
		}
		id = get(m, "id");
		snprintf(p2, sizeof(p2), "%s[%zu].id", sub, i);
		if (!id) {
			errorf(c, m->pos, "%s[%zu]: needs an id", sub, i);
			ok = false;
		} else if (get_uint(c, id, p2, 0, 1023, &ids[i])) {
			for (size_t j = 0; j < i; j++)
				if (ids[j] == ids[i]) {
					errorf(c, id->pos, "%s: NUMA node %lu repeated", p2,
					       ids[i]);
					ok = false;
				}
		} else {
			ok = false;
		}
	}
	n_numa = numa->n;
	if (!ok)
		goto fail;
	for (size_t i = 0; i < n_numa; i++) {
		const struct snode *m = numa->items[i];
		const struct snode *cpus = get(m, "cpus"), *excl = get(m, "cpus_exclusive"),
				   *dist = get(m, "distances"), *pools = get(m, "pools");
		unsigned long n_cpus = 0, n_excl = 0;
		json_t *jn, *jcpus = json_array(), *jexcl = json_array(), *jdist = json_object(),
			    *jpools = json_array();
		uint64_t cap = 0, alloc = 0;
		char p2[384];

		if (!jcpus || !jexcl || !jdist || !jpools) {
			json_decref(jcpus);
			json_decref(jexcl);
			json_decref(jdist);
			json_decref(jpools);
			c->oom = true;
			goto fail;
		}
		snprintf(p2, sizeof(p2), "%s[%zu].cpus", sub, i);
		if (!cpus) {
			errorf(c, m->pos, "%s[%zu]: needs cpus (a count; 0 for a memory-only node)",
			       sub, i);
			ok = false;
		} else if (!get_uint(c, cpus, p2, 0, CONFIG_SIM_MAX_CPUS, &n_cpus)) {
			ok = false;
		}
		snprintf(p2, sizeof(p2), "%s[%zu].cpus_exclusive", sub, i);
		if (excl && get_uint(c, excl, p2, 0, CONFIG_SIM_MAX_CPUS, &n_excl)) {
			if (n_excl > n_cpus) {
				errorf(c, excl->pos, "%s: %lu is more than cpus (%lu)", p2, n_excl,
				       n_cpus);
				ok = false;
			}
		} else if (excl) {
			ok = false;
		}
		/* CPU ids run on across the NUMA nodes, as the kernel numbers them. */
		for (unsigned long k = 0; k < n_cpus; k++) {
			json_array_append_new(jcpus, json_integer((json_int_t)(next_cpu + k)));
			if (k < n_excl)
				json_array_append_new(jexcl,
						      json_integer((json_int_t)(next_cpu + k)));
		}
		next_cpu += n_cpus;
		for (size_t j = 0; j < n_numa; j++) {
			char key[16];
			snprintf(key, sizeof(key), "%lu", ids[j]);
			json_object_set_new(jdist, key,
					    json_integer(i == j ? DIST_LOCAL : DIST_REMOTE));
		}
		snprintf(p2, sizeof(p2), "%s[%zu].distances", sub, i);
		if (dist && expect(c, dist, SN_MAP, p2, "a mapping of NUMA ids to distances")) {
			for (size_t k = 0; k < dist->n; k += 2) {
				const struct snode *dk = dist->items[k], *dv = dist->items[k + 1];
				unsigned long to, d;
				bool known = false;
				char p3[480];
				if (!get_uint(c, dk, p2, 0, 1023, &to)) {
					ok = false;
					continue;
				}
				for (size_t j = 0; j < n_numa; j++)
					known |= ids[j] == to;
				if (!known) {
					errorf(c, dk->pos, "%s: NUMA node %lu is not in numa_nodes",
					       p2, to);
					ok = false;
					continue;
				}
				snprintf(p3, sizeof(p3), "%s.%lu", p2, to);
				if (!get_uint(c, dv, p3, 1, MAX_DISTANCE, &d)) {
					ok = false;
					continue;
				}
				char key[16];
				snprintf(key, sizeof(key), "%lu", to);
				json_object_set_new(jdist, key, json_integer((json_int_t)d));
			}
		} else if (dist && !is_null(dist)) {
			ok = false;
		}
		snprintf(p2, sizeof(p2), "%s[%zu].pools", sub, i);
		if (pools && !is_null(pools) &&
		    expect(c, pools, SN_SEQ, p2, "a sequence of pools")) {
			for (size_t k = 0; k < pools->n; k++) {
				char p3[480];
				json_t *pj;
				snprintf(p3, sizeof(p3), "%s[%zu]", p2, k);
				if (json_array_size(json_object_get(rec, "pools")) >=
				    CONFIG_SIM_MAX_POOLS) {
					errorf(c, pools->items[k]->pos,
					       "%s: more than %d pools on a node", p3,
					       CONFIG_SIM_MAX_POOLS);
					ok = false;
					break;
				}
				pj = pool_json(c, pools->items[k], p3, (int)ids[i], names_seen);
				if (!pj) {
					ok = false;
					continue;
				}
				cap += (uint64_t)json_integer_value(
					json_object_get(pj, "allocatable_bytes"));
				alloc += (uint64_t)json_integer_value(
					json_object_get(pj, "allocated_bytes"));
				json_array_append(jpools, json_object_get(pj, "name"));
				json_array_append_new(json_object_get(rec, "pools"), pj);
			}
		} else if (pools && !is_null(pools)) {
			ok = false;
		}
		jn = json_pack("{s:i, s:o, s:b, s:o, s:i, s:i, s:o, s:o, s:I, s:I, s:I, s:i, s:i}",
			       "id", (int)ids[i], "cpus", jcpus, "has_cpus", n_cpus > 0,
			       "cpus_exclusive", jexcl, "memory_bytes", 0, "memory_free_bytes", 0,
			       "distances", jdist, "pools", jpools, "pmem_capacity_bytes",
			       (json_int_t)cap, "pmem_allocatable_bytes", (json_int_t)cap,
			       "pmem_allocated_bytes", (json_int_t)alloc, "pmem_used_bytes", 0,
			       "kmem_bytes", 0);
		if (!jn) {
			c->oom = true;
			goto fail;
		}
		json_array_append_new(json_object_get(rec, "numa_nodes"), jn);
	}
	if (!ok)
		goto fail;
	json_decref(names_seen);
	return rec;
fail:
	json_decref(names_seen);
	json_decref(rec);
	return NULL;
}

static json_t *record_named(const json_t *tmpl, const char *name)
{
	json_t *r = json_deep_copy(tmpl);

	if (!r)
		return NULL;
	json_object_set_new(r, "node", json_string(name));
	json_object_set_new(json_object_get(r, "labels"), "kubernetes.io/hostname",
			    json_string(name));
	return r;
}

static void walk(struct sctx *c, const struct snode *root, json_t *out)
{
	static const char *const top_keys[] = {"nodes", NULL};
	static const char *const node_keys[] = {"name", "replicas", "labels", "numa_nodes", NULL};
	const struct snode *nodes;
	json_t *seen = json_object();

	if (!seen) {
		c->oom = true;
		return;
	}
	if (!root || is_null(root)) {
		errorf(c, (struct config_pos){0, 0}, "empty cluster description: needs nodes:");
		goto out;
	}
	if (!check_keys(c, root, "(top level)", top_keys))
		goto out;
	nodes = get(root, "nodes");
	if (!nodes) {
		errorf(c, root->pos, "needs nodes: (a sequence of nodes)");
		goto out;
	}
	if (!expect(c, nodes, SN_SEQ, "nodes", "a sequence of nodes"))
		goto out;
	if (nodes->n == 0) {
		errorf(c, nodes->pos, "nodes: needs at least one node");
		goto out;
	}
	for (size_t i = 0; i < nodes->n; i++) {
		const struct snode *nd = nodes->items[i], *name, *reps;
		unsigned long replicas = 0;
		char path[64], sub[96];
		json_t *tmpl;
		bool ok = true;

		snprintf(path, sizeof(path), "nodes[%zu]", i);
		if (!check_keys(c, nd, path, node_keys))
			continue;
		name = get(nd, "name");
		reps = get(nd, "replicas");
		snprintf(sub, sizeof(sub), "%s.replicas", path);
		if (reps && !get_uint(c, reps, sub, 1, CONFIG_SIM_MAX_REPLICAS, &replicas))
			ok = false;
		snprintf(sub, sizeof(sub), "%s.name", path);
		if (!name) {
			errorf(c, nd->pos, "%s: needs a name", path);
			ok = false;
		} else if (expect(c, name, SN_SCALAR, sub, "a node name")) {
			/* With replicas the longest name gets "-<replicas-1>" appended. */
			size_t extra =
				replicas ? (size_t)snprintf(NULL, 0, "-%lu", replicas - 1) : 0;
			if (!names_is_dns_subdomain(name->value, strlen(name->value)) ||
			    strlen(name->value) + extra > 253) {
				errorf(c, name->pos,
				       "%s: \"%s\" is not a Kubernetes node name (lowercase "
				       "letters, "
				       "digits, '-' and '.', at most 253%s)",
				       sub, name->value,
				       replicas ? " with the replica suffix" : "");
				ok = false;
			}
		} else {
			ok = false;
		}
		tmpl = node_template(c, nd, path);
		if (!tmpl || !ok) {
			json_decref(tmpl);
			continue;
		}
		for (unsigned long k = 0; k < (replicas ? replicas : 1); k++) {
			char nm[300];
			json_t *rec;
			if (replicas)
				snprintf(nm, sizeof(nm), "%s-%lu", name->value, k);
			else
				snprintf(nm, sizeof(nm), "%s", name->value);
			if (json_object_get(seen, nm)) {
				errorf(c, name->pos, "%s: node \"%s\" is already defined", sub, nm);
				break;
			}
			if (json_array_size(out) >= CONFIG_SIM_MAX_NODES) {
				errorf(c, name->pos, "more than %d nodes", CONFIG_SIM_MAX_NODES);
				break;
			}
			rec = record_named(tmpl, nm);
			if (!rec || json_array_append_new(out, rec) < 0 ||
			    json_object_set_new(seen, nm, json_true()) < 0) {
				c->oom = true;
				break;
			}
		}
		json_decref(tmpl);
	}
out:
	json_decref(seen);
}

int config_simulate_parse(const char *name, const char *buf, size_t len, json_t **records,
			  struct config_errors **errs)
{
	struct sctx c = {.file = name};
	struct snode *root = NULL;
	json_t *out = NULL;
	int r;

	*errs = calloc(1, sizeof(**errs));
	if (!*errs)
		return -ENOMEM;
	(*errs)->file = strdup(name ? name : "<simulate>");
	if (!(*errs)->file)
		return -ENOMEM;
	c.errs = *errs;
	r = tree_build(&c, buf, len, &root);
	if (r == 0) {
		out = json_array();
		if (!out)
			r = -ENOMEM;
		else
			walk(&c, root, out);
	}
	snode_free(root);
	if (r == 0 && c.oom)
		r = -ENOMEM;
	if (r == 0 && c.errs->count > 0)
		r = -EINVAL;
	if (c.dropped)
		errorf(&c, (struct config_pos){0, 0}, "%zu more errors not shown", c.dropped);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*records = out;
	return 0;
}

int config_simulate_load(const char *path, json_t **records, struct config_errors **errs)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	if (!f) {
		r = -errno;
		*errs = calloc(1, sizeof(**errs));
		if (!*errs)
			return -ENOMEM;
		(*errs)->file = strdup(path);
		struct sctx c = {.errs = *errs};
		errorf(&c, (struct config_pos){0, 0}, "cannot read the cluster description: %s",
		       strerror(-r));
		return r;
	}
	for (;;) {
		if (len == cap) {
			/* A description of 100,000 nodes stays far below this. */
			if (cap >= 64u << 20) {
				fclose(f);
				free(buf);
				*errs = calloc(1, sizeof(**errs));
				if (!*errs)
					return -ENOMEM;
				(*errs)->file = strdup(path);
				struct sctx c = {.errs = *errs};
				errorf(&c, (struct config_pos){0, 0}, "larger than 64 MiB");
				return -EFBIG;
			}
			cap = cap ? cap * 2 : 65536;
			char *b = realloc(buf, cap);
			if (!b) {
				fclose(f);
				free(buf);
				return -ENOMEM;
			}
			buf = b;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	r = config_simulate_parse(path, buf, len, records, errs);
	free(buf);
	return r;
}

int config_simulate_node_pick(const char *name, const json_t *records, const char *node,
			      json_t **record, struct config_errors **errs)
{
	struct sctx c = {.file = name};
	size_t i, shown = 0;
	char list[512] = "";
	json_t *r;

	*errs = calloc(1, sizeof(**errs));
	if (!*errs || !((*errs)->file = strdup(name ? name : "<simulate>")))
		return -ENOMEM;
	c.errs = *errs;
	json_array_foreach (records, i, r) {
		const char *n = json_string_value(json_object_get(r, "node"));

		if (n && strcmp(n, node) == 0) {
			*record = json_incref(r);
			return 0;
		}
		/* The first few names, so a typo is seen at once. */
		if (n && shown < 5) {
			size_t o = strlen(list);
			snprintf(list + o, sizeof(list) - o, "%s%s", shown ? ", " : "", n);
			shown++;
		}
	}
	errorf(&c, (struct config_pos){0, 0},
	       "node \"%s\" is not in the cluster description (its %zu nodes: %s%s); set "
	       "simulate.node or node_name",
	       node, json_array_size(records), list,
	       json_array_size(records) > shown ? ", ..." : "");
	return c.oom ? -ENOMEM : -ENOENT;
}

int config_simulate_node_load(const char *path, const char *node, json_t **record,
			      struct config_errors **errs)
{
	json_t *records = NULL;
	int r = config_simulate_load(path, &records, errs);

	if (r < 0)
		return r;
	config_errors_free(*errs);
	*errs = NULL;
	r = config_simulate_node_pick(path, records, node, record, errs);
	json_decref(records);
	return r;
}
