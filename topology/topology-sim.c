/* topology-sim: a simulated node's NUMA nodes, CPUs, distances and pools, from its record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/topology.h"

static int fail(int r, char *err, size_t err_len, const char *what)
{
	snprintf(err, err_len, "simulated node record: %s", what);
	return r;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* A JSON integer in [lo, hi], or -1 (every field read here is an id or a count). */
static long long int_in(const json_t *j, long long lo, long long hi)
{
	long long v;

	if (!json_is_integer(j))
		return -1;
	v = json_integer_value(j);
	return v < lo || v > hi ? -1 : v;
}

static int numa_from_record(const json_t *numa, struct topology_snapshot *s, unsigned **excl,
			    size_t *n_excl, char *err, size_t err_len)
{
	size_t n = json_array_size(numa), i, e = 0, total_excl = 0;
	json_t *nj;

	s->numa = calloc(n ? n : 1, sizeof(*s->numa));
	s->distance = calloc(n ? n * n : 1, sizeof(*s->distance));
	if (!s->numa || !s->distance)
		return fail(-ENOMEM, err, err_len, "out of memory");
	json_array_foreach (numa, i, nj) {
		const json_t *cpus = json_object_get(nj, "cpus");
		long long id = int_in(json_object_get(nj, "id"), 0, 1023);
		struct topology_numa_node *tn = &s->numa[i];
		size_t c;
		json_t *cj;

		if (id < 0 || !json_is_array(cpus))
			return fail(-EINVAL, err, err_len, "numa_nodes[]: id or cpus missing");
		tn->id = (int)id;
		tn->cpus = calloc(json_array_size(cpus) + 1, sizeof(*tn->cpus));
		if (!tn->cpus)
			return fail(-ENOMEM, err, err_len, "out of memory");
		s->n_numa++; /* counted at once, so topology_snapshot_free frees its CPUs */
		json_array_foreach (cpus, c, cj) {
			long long cpu = int_in(cj, 0, TOPO_CPU_MAX);
			if (cpu < 0)
				return fail(-EINVAL, err, err_len,
					    "numa_nodes[].cpus: not a CPU id");
			tn->cpus[tn->n_cpus++] = (unsigned)cpu;
		}
		total_excl += json_array_size(json_object_get(nj, "cpus_exclusive"));
	}
	/* Default 10 to itself and 21 to the others, then what the record says. */
	for (i = 0; i < n; i++) {
		const json_t *dist = json_object_get(json_array_get(numa, i), "distances");
		for (size_t j = 0; j < n; j++) {
			char key[16];
			long long d;

			snprintf(key, sizeof(key), "%d", s->numa[j].id);
			d = int_in(json_object_get(dist, key), 1, 255);
			s->distance[i * n + j] = d > 0 ? (unsigned)d : i == j ? 10 : 21;
		}
	}
	*excl = calloc(total_excl + 1, sizeof(**excl));
	if (!*excl)
		return fail(-ENOMEM, err, err_len, "out of memory");
	json_array_foreach (numa, i, nj) {
		size_t c;
		json_t *cj;

		json_array_foreach (json_object_get(nj, "cpus_exclusive"), c, cj) {
			long long cpu = int_in(cj, 0, TOPO_CPU_MAX);
			if (cpu < 0)
				return fail(-EINVAL, err, err_len,
					    "numa_nodes[].cpus_exclusive: not a CPU id");
			(*excl)[e++] = (unsigned)cpu;
		}
	}
	qsort(*excl, e, sizeof(**excl), cmp_uint);
	*n_excl = e;
	return 0;
}

static int pools_from_record(const json_t *pools, struct topology_sim *sim, char *err,
			     size_t err_len)
{
	size_t i;
	json_t *pj;

	sim->pools = calloc(json_array_size(pools) + 1, sizeof(*sim->pools));
	if (!sim->pools)
		return fail(-ENOMEM, err, err_len, "out of memory");
	json_array_foreach (pools, i, pj) {
		struct pool_status *p = &sim->pools[sim->n_pools];
		const char *name = json_string_value(json_object_get(pj, "name"));
		const char *fstype = json_string_value(json_object_get(pj, "fstype"));
		long long numa = int_in(json_object_get(pj, "numa_node"), 0, 1023);
		long long size = int_in(json_object_get(pj, "allocatable_bytes"), 1, INT64_MAX);
		long long alloc = int_in(json_object_get(pj, "allocated_bytes"), 0, INT64_MAX);

		if (!name || name[0] != '/' || strlen(name) >= sizeof(p->name) || numa < 0 ||
		    size < 0 || alloc < 0 || alloc > size || !fstype)
			return fail(-EINVAL, err, err_len, "pools[]: a field is missing or wrong");
		snprintf(p->name, sizeof(p->name), "%s", name);
		topology_pool_id(p->name, p->id, sizeof(p->id));
		snprintf(p->region, sizeof(p->region), "simulated");
		p->type = CONFIG_POOL_PMEM;
		p->fstype = strcmp(fstype, "xfs") == 0 ? CONFIG_FS_XFS : CONFIG_FS_EXT4;
		p->state = POOL_READY;
		p->numa_node = (int)numa;
		p->capacity_bytes = (uint64_t)size;
		/*
		 * What the description calls allocated is held back like a pool's reserve: the
		 * node's own volume service counts only the volumes it makes, so this is the one
		 * place where those bytes can stay out of reach.
		 */
		p->allocatable_bytes = (uint64_t)(size - alloc);
		p->simulated = true;
		sim->n_pools++;
	}
	return 0;
}

int topology_sim_from_record(const json_t *rec, struct topology_sim **out, char *err,
			     size_t err_len)
{
	struct topology_sim *sim = calloc(1, sizeof(*sim));
	const json_t *numa = json_object_get(rec, "numa_nodes"),
		     *pools = json_object_get(rec, "pools"),
		     *labels = json_object_get(rec, "labels");
	int r;

	if (!sim)
		return fail(-ENOMEM, err, err_len, "out of memory");
	if (!json_is_array(numa) || !json_array_size(numa) || !json_is_array(pools)) {
		topology_sim_free(sim);
		return fail(-EINVAL, err, err_len, "numa_nodes or pools missing");
	}
	sim->snap = calloc(1, sizeof(*sim->snap));
	sim->labels = json_is_object(labels) ? json_deep_copy(labels) : json_object();
	if (!sim->snap || !sim->labels) {
		topology_sim_free(sim);
		return fail(-ENOMEM, err, err_len, "out of memory");
	}
	/* The node's name is pmemd's own (node_name), not the description's. */
	json_object_del(sim->labels, "kubernetes.io/hostname");
	r = numa_from_record(numa, sim->snap, &sim->excl, &sim->n_excl, err, err_len);
	if (r == 0)
		r = pools_from_record(pools, sim, err, err_len);
	for (size_t i = 0; r == 0 && i < sim->n_pools; i++)
		if (!topology_find_numa(sim->snap, sim->pools[i].numa_node))
			r = fail(-EINVAL, err, err_len, "pools[]: on a NUMA node the record lacks");
	if (r < 0) {
		topology_sim_free(sim);
		return r;
	}
	*out = sim;
	return 0;
}

struct topology_sim *topology_sim_free(struct topology_sim *sim)
{
	if (!sim)
		return NULL;
	topology_snapshot_free(sim->snap);
	free(sim->pools);
	free(sim->excl);
	json_decref(sim->labels);
	free(sim);
	return NULL;
}
