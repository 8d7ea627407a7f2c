/*
 * sched-record: a node record (docs/node-record.md; GET /v1/node, PmemNode .status) as a
 * sched_node, and a placement result as JSON.
 *
 * The record comes from another process (a node agent, the API server), so every field the
 * engine reads is checked for type and range, and a bad one is refused with its path
 * ("numa_nodes[1].distances: ..."): the scheduler then fails that node with the reason
 * instead of guessing. Fields the engine does not read are not checked (keys may be added).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

#define DIST_MAX 255 /* the kernel's distances fit a byte (ACPI SLIT) */

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A JSON integer in [lo, hi], else false. */
static bool int_in(const json_t *v, json_int_t lo, json_int_t hi, json_int_t *out)
{
	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return *out >= lo && *out <= hi;
}

static bool size_field(const json_t *o, const char *key, bool required, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);
	json_int_t x;

	if (!v && !required) {
		*out = 0;
		return true;
	}
	if (!int_in(v, 0, INT64_MAX, &x))
		return false;
	*out = (uint64_t)x;
	return true;
}

static int parse_numa(const json_t *arr, struct sched_node *n, char *err, size_t len)
{
	size_t i;
	json_t *m;

	json_array_foreach (arr, i, m) {
		const json_t *cpus = json_object_get(m, "cpus");
		const json_t *excl = json_object_get(m, "cpus_exclusive");
		json_int_t id, cpu;
		size_t j, e;
		json_t *c, *x;
		unsigned taken = 0;

		if (!json_is_object(m))
			return bad(err, len, "numa_nodes[%zu]: not an object", i);
		if (!int_in(json_object_get(m, "id"), 0, 1 << 20, &id))
			return bad(err, len, "numa_nodes[%zu].id: not a node id", i);
		for (size_t k = 0; k < i; k++)
			if (n->numa[k].id == (int)id)
				return bad(err, len, "numa_nodes[%zu].id: %d repeated", i, (int)id);
		if (!json_is_array(cpus))
			return bad(err, len, "numa_nodes[%zu].cpus: not an array", i);
		json_array_foreach (cpus, j, c) {
			if (!int_in(c, 0, INT32_MAX, &cpu))
				return bad(err, len, "numa_nodes[%zu].cpus[%zu]: not a CPU id", i,
					   j);
		}
		if (excl && !json_is_null(excl)) {
			if (!json_is_array(excl))
				return bad(err, len, "numa_nodes[%zu].cpus_exclusive: not an array",
					   i);
			/*
			 * The CPU manager's set is node-wide, so ids of other NUMA nodes may
			 * appear; only those in this node's cpus count, each once.
			 */
			json_array_foreach (excl, e, x) {
				if (!int_in(x, 0, INT32_MAX, &cpu))
					return bad(
						err, len,
						"numa_nodes[%zu].cpus_exclusive[%zu]: not a CPU id",
						i, e);
				bool earlier = false;
				for (size_t f = 0; f < e && !earlier; f++)
					earlier =
						json_integer_value(json_array_get(excl, f)) == cpu;
				if (earlier)
					continue;
				json_array_foreach (cpus, j, c) {
					if (json_integer_value(c) == cpu) {
						taken++;
						break;
					}
				}
			}
		}
		/* CPUs held by the node's reservations for pods not running yet (a count). */
		const json_t *resv = json_object_get(m, "cpus_reserved");
		json_int_t held = 0;

		if (resv && !json_is_null(resv) && !int_in(resv, 0, INT32_MAX, &held))
			return bad(err, len, "numa_nodes[%zu].cpus_reserved: not a CPU count", i);
		n->numa[i].id = (int)id;
		n->numa[i].cpus = (unsigned)json_array_size(cpus);
		n->numa[i].cpus_free = n->numa[i].cpus - taken;
		n->numa[i].cpus_free = (json_int_t)n->numa[i].cpus_free > held
					       ? n->numa[i].cpus_free - (unsigned)held
					       : 0;
	}
	return 0;
}

/* Distances by index, into `room` (n_numa * n_numa, zeroed); a NULL matrix when no NUMA node
 * has them (the engine's default). */
static int parse_distances(const json_t *arr, struct sched_node *n, unsigned *room, char *err,
			   size_t len)
{
	size_t i, with = 0;
	json_t *m;

	json_array_foreach (arr, i, m) {
		if (json_object_get(m, "distances"))
			with++;
	}
	if (with == 0)
		return 0;
	n->distance = room;
	json_array_foreach (arr, i, m) {
		const json_t *d = json_object_get(m, "distances");
		const char *key;
		json_t *v;

		if (!json_is_object(d))
			return bad(err, len, "numa_nodes[%zu].distances: not an object", i);
		json_object_foreach ((json_t *)d, key, v) {
			char *end;
			long id;
			json_int_t x;
			size_t j;

			errno = 0;
			id = strtol(key, &end, 10);
			if (!*key || *end || errno || id < 0 || id > INT32_MAX)
				return bad(err, len,
					   "numa_nodes[%zu].distances: key \"%s\" is not a node id",
					   i, key);
			for (j = 0; j < n->n_numa && n->numa[j].id != (int)id; j++)
				;
			if (j == n->n_numa)
				return bad(
					err, len,
					"numa_nodes[%zu].distances: node %ld is not in numa_nodes",
					i, id);
			if (!int_in(v, 1, DIST_MAX, &x))
				return bad(err, len,
					   "numa_nodes[%zu].distances.%s: not a distance 1..%d", i,
					   key, DIST_MAX);
			n->distance[i * n->n_numa + j] = (unsigned)x;
		}
		for (size_t j = 0; j < n->n_numa; j++)
			if (!n->distance[i * n->n_numa + j])
				return bad(err, len,
					   "numa_nodes[%zu].distances: no entry for node %d", i,
					   n->numa[j].id);
	}
	return 0;
}

/* The pools; their fstype strings are copied to `strings` (room for every pool's). */
static int parse_pools(const json_t *arr, struct sched_node *n, char *strings, char *err,
		       size_t len)
{
	size_t i, np = 0;
	json_t *p;

	json_array_foreach (arr, i, p) {
		const json_t *name = json_object_get(p, "name");
		const json_t *type = json_object_get(p, "type");
		const json_t *state = json_object_get(p, "state");
		const json_t *numa = json_object_get(p, "numa_node");
		const json_t *fstype = json_object_get(p, "fstype");
		struct sched_pool *sp;
		json_int_t id;
		size_t k;

		if (!json_is_object(p))
			return bad(err, len, "pools[%zu]: not an object", i);
		if (!json_is_string(name))
			return bad(err, len, "pools[%zu].name: not a string", i);
		if (!json_is_string(type))
			return bad(err, len, "pools[%zu].type: not a string", i);
		if (!json_is_string(state))
			return bad(err, len, "pools[%zu].state: not a string", i);
		if (strcmp(json_string_value(type), "pmem") != 0 ||
		    strcmp(json_string_value(state), "ready") != 0 || json_is_null(numa))
			continue;
		if (!int_in(numa, 0, INT32_MAX, &id))
			return bad(err, len, "pools[%zu].numa_node: not a node id or null", i);
		for (k = 0; k < n->n_numa && n->numa[k].id != (int)id; k++)
			;
		if (k == n->n_numa)
			return bad(err, len, "pools[%zu].numa_node: %d is not in numa_nodes", i,
				   (int)id);
		if (fstype && !json_is_null(fstype) && !json_is_string(fstype))
			return bad(err, len, "pools[%zu].fstype: not a string or null", i);
		if (np == SCHED_MAX_POOLS)
			return bad(err, len, "pools: more than %d ready pmem pools",
				   SCHED_MAX_POOLS);
		sp = &n->pools[np];
		sp->name = json_string_value(name);
		sp->numa = (int)k;
		if (json_is_string(fstype)) {
			size_t l = strlen(json_string_value(fstype));

			memcpy(strings, json_string_value(fstype), l + 1);
			sp->fstype = strings;
			strings += l + 1;
		} else {
			sp->fstype = NULL;
		}
		if (!size_field(p, "allocatable_bytes", true, &sp->allocatable))
			return bad(err, len, "pools[%zu].allocatable_bytes: not a size", i);
		if (!size_field(p, "allocated_bytes", true, &sp->allocated))
			return bad(err, len, "pools[%zu].allocated_bytes: not a size", i);
		if (!size_field(p, "reserved_bytes", false, &sp->reserved))
			return bad(err, len, "pools[%zu].reserved_bytes: not a size", i);
		np++;
	}
	n->n_pools = np;
	return 0;
}

int sched_node_from_record(const json_t *record, struct sched_owned_node **out, char *err,
			   size_t err_len)
{
	struct sched_owned_node *o;
	const json_t *numa, *pools;
	int r;

	if (err && err_len)
		err[0] = '\0';
	if (!out)
		return -EINVAL;
	if (!json_is_object(record))
		return bad(err, err_len, "record: not an object");
	if (!json_is_string(json_object_get(record, "node")) ||
	    !*json_string_value(json_object_get(record, "node")))
		return bad(err, err_len, "node: not a name");
	numa = json_object_get(record, "numa_nodes");
	if (!json_is_array(numa))
		return bad(err, err_len, "numa_nodes: not an array");
	if (json_array_size(numa) > SCHED_MAX_NUMA)
		return bad(err, err_len, "numa_nodes: %zu entries, at most %d",
			   json_array_size(numa), SCHED_MAX_NUMA);
	pools = json_object_get(record, "pools");
	if (!json_is_array(pools))
		return bad(err, err_len, "pools: not an array");

	/*
	 * One block: the node, its NUMA nodes, distances and pools, and the pools' fstype
	 * strings. A filter of 5,000 nodes reads all of it for every node; as four allocations
	 * and strings inside the record's JSON it was twice the cache lines, scattered over the
	 * heap. Pools that are not ready pmem are dropped, so their count is an upper bound.
	 */
	size_t nn = json_array_size(numa), np = json_array_size(pools), fs = 0, k;
	const json_t *p;

	if (np > SCHED_MAX_POOLS + 1)
		np = SCHED_MAX_POOLS + 1; /* one more is refused by parse_pools */
	json_array_foreach (pools, k, p) {
		const json_t *f = json_object_get(p, "fstype");

		if (json_is_string(f)) /* any pool may be one that is kept */
			fs += strlen(json_string_value(f)) + 1;
	}
	size_t at_numa = sizeof(*o), at_dist = at_numa + nn * sizeof(struct sched_numa);
	size_t at_pools = at_dist + nn * nn * sizeof(unsigned);
	at_pools =
		(at_pools + _Alignof(struct sched_pool) - 1) & ~(_Alignof(struct sched_pool) - 1);
	size_t at_strings = at_pools + np * sizeof(struct sched_pool);

	o = calloc(1, at_strings + fs);
	if (!o)
		return -ENOMEM;
	o->record = json_incref((json_t *)record);
	o->node.name = json_string_value(json_object_get(record, "node"));
	o->node.n_numa = nn;
	o->node.numa = (struct sched_numa *)((char *)o + at_numa);
	o->node.pools = (struct sched_pool *)((char *)o + at_pools);
	r = parse_numa(numa, &o->node, err, err_len);
	if (r == 0)
		r = parse_distances(numa, &o->node, (unsigned *)((char *)o + at_dist), err,
				    err_len);
	if (r == 0)
		r = parse_pools(pools, &o->node, (char *)o + at_strings, err, err_len);
	if (r < 0) {
		if (r == -ENOMEM && err && err_len)
			snprintf(err, err_len, "out of memory");
		sched_node_free(o);
		return r;
	}
	*out = o;
	return 0;
}

struct sched_owned_node *sched_node_free(struct sched_owned_node *n)
{
	if (!n)
		return NULL;
	/* The arrays are in the same block (sched_node_from_record). */
	json_decref(n->record);
	free(n);
	return NULL;
}

/*
 * A reason as a JSON string. Reasons are cut at SCHED_REASON_MAX bytes, which can split a
 * multi-byte character of a pool or node name; drop the partial character rather than fail.
 */
static json_t *reason_string(const char *s)
{
	size_t len = strnlen(s, SCHED_REASON_MAX);
	json_t *j = NULL;

	for (size_t cut = 0; !j && cut < 4 && cut <= len; cut++)
		j = json_stringn(s, len - cut);
	return j;
}

json_t *sched_result_to_json(const struct sched_node *node, const struct sched_result *res)
{
	json_t *o, *vols;

	if (!res)
		return NULL;
	vols = json_array();
	o = json_pack("{s:b, s:i, s:o, s:o, s:i, s:o}", "feasible", res->feasible, "score",
		      res->score, "reason", reason_string(res->reason), "cpu_numa_node",
		      res->cpu_numa_id >= 0 ? json_integer(res->cpu_numa_id) : json_null(),
		      "distance", (int)res->distance, "volumes", vols ? vols : json_null());
	if (!o || !vols) {
		json_decref(o);
		return NULL;
	}
	for (size_t i = 0; i < res->n_volumes && i < SCHED_MAX_VOLUMES; i++) {
		const struct sched_choice *c = &res->volumes[i];
		const char *pool = NULL;

		if (node && c->pool >= 0 && (size_t)c->pool < node->n_pools)
			pool = node->pools[c->pool].name;
		json_t *v = json_pack("{s:o, s:o, s:b}", "pool",
				      pool ? json_string(pool) : json_null(), "numa_node",
				      c->numa_id >= 0 ? json_integer(c->numa_id) : json_null(),
				      "counted", c->counted);
		if (!v || json_array_append_new(vols, v) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}
