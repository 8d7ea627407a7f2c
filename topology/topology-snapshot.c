/* topology-snapshot: the discovered snapshot as plain data: free, lookups, JSON, NUMA cross-check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/topology-kernel.h"
#include "topology/topology.h"

/*
 * JSON shapes (GET /v1/topology and its parts). Sizes and offsets are
 * integers in bytes. A NUMA node the firmware did not report is null; an
 * optional string that is unknown or does not apply is left out (keys marked
 * "?"), so a key that is present always means something.
 *
 *   snapshot  {"buses": [bus], "dimms": [dimm], "regions": [region],
 *              "namespaces": [namespace], "daxes": [dax], "numa": numa,
 *              "warnings": ["..."]}
 *   bus       {"dev": "ndbus0", "provider": "ACPI.NFIT"}
 *   dimm      {"dev": "nmem0", "id"?: "8680-56341200", "handle": 1, "phys_id": 0,
 *              "numa_node": 0|null, "health"?: "ok|non-critical|critical|fatal"}
 *   region    {"dev": "region0", "type": "pmem", "size", "available_size",
 *              "max_available_extent", "align", "numa_node": 0|null,
 *              "target_node": 0|null, "persistence_domain": "unknown",
 *              "interleave_ways": 1, "readonly": false,
 *              "mappings": [{"dimm": "nmem0", "offset", "length", "position"}],
 *              "warning"?: "region0: numa_node 0 but target_node 1"}
 *   namespace {"dev": "namespace0.0", "region": "region0",
 *              "mode": "raw|sector|fsdax|devdax|unknown", "size", "uuid"?, "align",
 *              "blockdev"?: "pmem0", "chardev"?: "dax0.0", "numa_node": 0|null,
 *              "enabled": true}
 *   dax       {"dev": "dax1.0", "region"?: "region1", "size", "target_node": 1|null,
 *              "mode": "devdax|system-ram", "movable": false}
 *   numa      {"nodes": [{"id": 0, "cpus": [0, 1], "has_cpus": true,
 *                         "mem_total", "mem_free"}],
 *              "distances": [[10, 21], [21, 10]]}   (rows and columns in "nodes" order)
 */

struct topology_snapshot *topology_snapshot_free(struct topology_snapshot *s)
{
	if (!s)
		return NULL;
	free(s->buses);
	free(s->dimms);
	for (size_t i = 0; i < s->n_regions; i++)
		free(s->regions[i].mappings);
	free(s->regions);
	free(s->namespaces);
	free(s->daxes);
	for (size_t i = 0; i < s->n_numa; i++)
		free(s->numa[i].cpus);
	free(s->numa);
	free(s->distance);
	for (size_t i = 0; i < s->n_warnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	free(s);
	return NULL;
}

int topology_snapshot_warn(struct topology_snapshot *s, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	char **w;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	/* One more slot for the NULL that terminates the array. */
	w = realloc(s->warnings, (s->n_warnings + 2) * sizeof(*w));
	if (!w) {
		free(msg);
		return -ENOMEM;
	}
	w[s->n_warnings++] = msg;
	w[s->n_warnings] = NULL;
	s->warnings = w;
	return 0;
}

const struct topology_region *topology_find_region(const struct topology_snapshot *s,
						   const char *dev)
{
	if (!s || !dev)
		return NULL;
	for (size_t i = 0; i < s->n_regions; i++)
		if (strcmp(s->regions[i].dev, dev) == 0)
			return &s->regions[i];
	return NULL;
}

static ssize_t numa_index(const struct topology_snapshot *s, int id)
{
	if (!s || id < 0)
		return -1;
	for (size_t i = 0; i < s->n_numa; i++)
		if (s->numa[i].id == id)
			return (ssize_t)i;
	return -1;
}

const struct topology_numa_node *topology_find_numa(const struct topology_snapshot *s, int id)
{
	ssize_t i = numa_index(s, id);

	return i < 0 ? NULL : &s->numa[i];
}

unsigned topology_distance(const struct topology_snapshot *s, int from, int to)
{
	ssize_t i = numa_index(s, from), j = numa_index(s, to);

	if (i < 0 || j < 0 || !s->distance)
		return 0;
	return s->distance[(size_t)i * s->n_numa + (size_t)j];
}

const char *topology_ns_mode_name(enum topology_ns_mode m)
{
	switch (m) {
	case TOPO_NS_RAW:
		return "raw";
	case TOPO_NS_SECTOR:
		return "sector";
	case TOPO_NS_FSDAX:
		return "fsdax";
	case TOPO_NS_DEVDAX:
		return "devdax";
	case TOPO_NS_UNKNOWN:
		break;
	}
	return "unknown";
}

/* ---- NUMA cross-check ---- */

static const struct topology_dimm *find_dimm(const struct topology_snapshot *s, const char *dev)
{
	for (size_t i = 0; i < s->n_dimms; i++)
		if (strcmp(s->dimms[i].dev, dev) == 0)
			return &s->dimms[i];
	return NULL;
}

/*
 * Is `id` a node the kernel would attach a device to as it is, i.e. one with
 * CPUs? Without NUMA facts in the snapshot assume so, which makes the checks
 * below strict rather than silent.
 */
static bool is_cpu_node(const struct topology_snapshot *s, int id)
{
	const struct topology_numa_node *n = topology_find_numa(s, id);

	return s->n_numa == 0 || (n && n->n_cpus > 0);
}

/*
 * The CPU-bearing node nearest to `id` by the distance matrix, or
 * TOPO_NO_NODE when the snapshot cannot say (no distances, `id` unknown).
 * Ties go to the lowest id, as the kernel's numa_map_to_online_node() does.
 */
static int nearest_cpu_node(const struct topology_snapshot *s, int id)
{
	unsigned best = 0;
	int node = TOPO_NO_NODE;

	for (size_t i = 0; i < s->n_numa; i++) {
		unsigned d;

		if (s->numa[i].n_cpus == 0)
			continue;
		d = topology_distance(s, id, s->numa[i].id);
		if (d == 0)
			continue;
		if (node == TOPO_NO_NODE || d < best || (d == best && s->numa[i].id < node)) {
			best = d;
			node = s->numa[i].id;
		}
	}
	return node;
}

/* Appends to a fixed buffer, truncating; snprintf semantics without the bookkeeping. */
static void appendf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void check_region(const struct topology_snapshot *s, struct topology_region *r)
{
	char why[sizeof(r->warning)] = "";
	char dimms[sizeof(r->warning)] = "";
	bool target_off = false;
	int expect;

	r->warning[0] = '\0';

	/*
	 * target_node is the memory's own proximity domain; numa_node is where
	 * the kernel attaches the device, the nearest online node. They differ
	 * legitimately only when the target is a node without CPUs (or not
	 * online at all, as for PMEM not yet onlined as memory): then numa_node
	 * should be the CPU node nearest to it. When the target is a CPU node
	 * the kernel uses it as is, so any difference is a firmware error.
	 */
	if (r->target_node != TOPO_NO_NODE) {
		if (r->numa_node == TOPO_NO_NODE) {
			target_off = true;
		} else if (r->target_node != r->numa_node) {
			if (is_cpu_node(s, r->target_node)) {
				target_off = true;
			} else if (topology_find_numa(s, r->target_node)) {
				int near = nearest_cpu_node(s, r->target_node);

				if (near != TOPO_NO_NODE && near != r->numa_node)
					snprintf(why, sizeof(why),
						 "target_node %d whose nearest CPU node is %d",
						 r->target_node, near);
			}
		}
	}
	if (target_off)
		snprintf(why, sizeof(why), "target_node %d", r->target_node);

	/*
	 * A DIMM sits in the memory's proximity domain: it should be on
	 * target_node, or on numa_node when the target is unknown. DIMMs whose
	 * node the firmware does not report are not evidence either way.
	 */
	expect = r->target_node != TOPO_NO_NODE ? r->target_node : r->numa_node;
	for (size_t i = 0; i < r->n_mappings; i++) {
		const struct topology_dimm *d = find_dimm(s, r->mappings[i].dimm);

		if (!d || d->numa_node == TOPO_NO_NODE)
			continue;
		/* On a CPU node, a DIMM must also agree with numa_node. */
		if (d->numa_node == expect &&
		    (r->numa_node == TOPO_NO_NODE || d->numa_node == r->numa_node ||
		     !is_cpu_node(s, d->numa_node)))
			continue;
		appendf(dimms, sizeof(dimms), "%s%s on node %d", dimms[0] ? ", " : "", d->dev,
			d->numa_node);
	}
	if (dimms[0])
		appendf(why, sizeof(why), "%sdimms %s", why[0] ? " and " : "", dimms);

	if (!why[0])
		return;
	/* Truncation is fine here: a warning is for people, and starts with what matters. */
	if (r->numa_node == TOPO_NO_NODE)
		appendf(r->warning, sizeof(r->warning), "%s: numa_node unknown but %s", r->dev,
			why);
	else
		appendf(r->warning, sizeof(r->warning), "%s: numa_node %d but %s", r->dev,
			r->numa_node, why);
}

void topology_check_numa(struct topology_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_regions; i++)
		check_region(s, &s->regions[i]);
}

/* ---- JSON ---- */

/* jansson integers are signed 64-bit; nothing real is larger, so clamp rather than wrap. */
static json_t *jsize(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *jnode(int node)
{
	return node < 0 ? json_null() : json_integer(node);
}

/* Sets key to a string, or leaves it out when the string is empty. */
static void set_opt_str(json_t *o, const char *key, const char *v)
{
	if (v && v[0])
		json_object_set_new(o, key, json_string(v));
}

static json_t *bus_to_json(const struct topology_bus *b)
{
	return json_pack("{s:s, s:s}", "dev", b->dev, "provider", b->provider);
}

static json_t *dimm_to_json(const struct topology_dimm *d)
{
	json_t *o =
		json_pack("{s:s, s:I, s:I, s:o}", "dev", d->dev, "handle", (json_int_t)d->handle,
			  "phys_id", (json_int_t)d->phys_id, "numa_node", jnode(d->numa_node));

	if (o) {
		set_opt_str(o, "id", d->id);
		set_opt_str(o, "health", d->health);
	}
	return o;
}

static json_t *region_to_json(const struct topology_region *r)
{
	json_t *maps = json_array();
	json_t *o;

	for (size_t i = 0; maps && i < r->n_mappings; i++) {
		const struct topology_mapping *m = &r->mappings[i];

		json_array_append_new(maps, json_pack("{s:s, s:o, s:o, s:i}", "dimm", m->dimm,
						      "offset", jsize(m->offset), "length",
						      jsize(m->length), "position", m->position));
	}
	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:I, s:b, s:o}", "dev", r->dev,
		      "type", r->type, "size", jsize(r->size), "available_size",
		      jsize(r->available_size), "max_available_extent",
		      jsize(r->max_available_extent), "align", jsize(r->align), "numa_node",
		      jnode(r->numa_node), "target_node", jnode(r->target_node),
		      "persistence_domain", r->persistence_domain, "interleave_ways",
		      (json_int_t)r->interleave_ways, "readonly", r->readonly, "mappings", maps);
	if (o)
		set_opt_str(o, "warning", r->warning);
	return o;
}

static json_t *namespace_to_json(const struct topology_namespace *n)
{
	json_t *o =
		json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "dev", n->dev, "region", n->region,
			  "mode", topology_ns_mode_name(n->mode), "size", jsize(n->size), "align",
			  jsize(n->align), "numa_node", jnode(n->numa_node), "enabled", n->enabled);

	if (o) {
		set_opt_str(o, "uuid", n->uuid);
		set_opt_str(o, "blockdev", n->blockdev);
		set_opt_str(o, "chardev", n->chardev);
	}
	return o;
}

static json_t *dax_to_json(const struct topology_dax *d)
{
	json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:b}", "dev", d->dev, "size", jsize(d->size),
			      "target_node", jnode(d->target_node), "mode", d->mode, "movable",
			      d->movable);

	if (o)
		set_opt_str(o, "region", d->region);
	return o;
}

json_t *topology_regions_to_json(const struct topology_snapshot *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && s && i < s->n_regions; i++)
		json_array_append_new(a, region_to_json(&s->regions[i]));
	return a;
}

json_t *topology_namespaces_to_json(const struct topology_snapshot *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && s && i < s->n_namespaces; i++)
		json_array_append_new(a, namespace_to_json(&s->namespaces[i]));
	return a;
}

json_t *topology_numa_to_json(const struct topology_snapshot *s)
{
	json_t *nodes = json_array(), *dist = json_array();

	for (size_t i = 0; nodes && s && i < s->n_numa; i++) {
		const struct topology_numa_node *n = &s->numa[i];
		json_t *cpus = json_array();

		for (size_t c = 0; cpus && c < n->n_cpus; c++)
			json_array_append_new(cpus, json_integer(n->cpus[c]));
		json_array_append_new(nodes, json_pack("{s:i, s:o, s:b, s:o, s:o}", "id", n->id,
						       "cpus", cpus, "has_cpus", n->n_cpus > 0,
						       "mem_total", jsize(n->mem_total), "mem_free",
						       jsize(n->mem_free)));
	}
	for (size_t i = 0; dist && s && s->distance && i < s->n_numa; i++) {
		json_t *row = json_array();

		for (size_t j = 0; row && j < s->n_numa; j++)
			json_array_append_new(row, json_integer(s->distance[i * s->n_numa + j]));
		json_array_append_new(dist, row);
	}
	return json_pack("{s:o, s:o}", "nodes", nodes, "distances", dist);
}

json_t *topology_snapshot_to_json(const struct topology_snapshot *s)
{
	json_t *buses = json_array(), *dimms = json_array(), *daxes = json_array();
	json_t *warnings = json_array();

	for (size_t i = 0; buses && s && i < s->n_buses; i++)
		json_array_append_new(buses, bus_to_json(&s->buses[i]));
	for (size_t i = 0; dimms && s && i < s->n_dimms; i++)
		json_array_append_new(dimms, dimm_to_json(&s->dimms[i]));
	for (size_t i = 0; daxes && s && i < s->n_daxes; i++)
		json_array_append_new(daxes, dax_to_json(&s->daxes[i]));
	for (size_t i = 0; warnings && s && i < s->n_warnings; i++)
		json_array_append_new(warnings, json_string(s->warnings[i]));
	/* "o" steals each reference, also the ones json_pack fails on. */
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "buses", buses, "dimms", dimms,
			 "regions", topology_regions_to_json(s), "namespaces",
			 topology_namespaces_to_json(s), "daxes", daxes, "numa",
			 topology_numa_to_json(s), "warnings", warnings);
}

/* strverscmp orders embedded numbers by value: "namespace1.2" < "namespace1.10". */
static int cmp_region(const void *a, const void *b)
{
	return strverscmp(((const struct topology_region *)a)->dev,
			  ((const struct topology_region *)b)->dev);
}

static int cmp_namespace(const void *a, const void *b)
{
	return strverscmp(((const struct topology_namespace *)a)->dev,
			  ((const struct topology_namespace *)b)->dev);
}

static int cmp_dimm(const void *a, const void *b)
{
	return strverscmp(((const struct topology_dimm *)a)->dev,
			  ((const struct topology_dimm *)b)->dev);
}

static int cmp_dax(const void *a, const void *b)
{
	return strverscmp(((const struct topology_dax *)a)->dev,
			  ((const struct topology_dax *)b)->dev);
}

void topology_snapshot_sort(struct topology_snapshot *s)
{
	if (s->n_regions > 1)
		qsort(s->regions, s->n_regions, sizeof(*s->regions), cmp_region);
	if (s->n_namespaces > 1)
		qsort(s->namespaces, s->n_namespaces, sizeof(*s->namespaces), cmp_namespace);
	if (s->n_dimms > 1)
		qsort(s->dimms, s->n_dimms, sizeof(*s->dimms), cmp_dimm);
	if (s->n_daxes > 1)
		qsort(s->daxes, s->n_daxes, sizeof(*s->daxes), cmp_dax);
}
