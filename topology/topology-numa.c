/* topology-numa: the libnuma boundary: NUMA nodes, their CPUs and memory, and distances. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <numa.h>

#include "topology/topology-kernel.h"
#include "util/log.h"

/*
 * libnuma reports problems by calling numa_warn()/numa_error(), which an
 * application may define to replace the library's versions (they print to
 * stderr). pmemd's library code logs at debug level only and returns
 * errors, so route them to the logger.
 */
void numa_warn(int num, char *fmt, ...)
{
	char msg[256], q[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("libnuma", "level=warn num=%d msg=%s", num, log_quote(q, sizeof(q), msg));
}

void numa_error(char *where)
{
	char q[300];

	log_debug("libnuma", "level=error where=%s errno=%d", log_quote(q, sizeof(q), where),
		  errno);
}

static int node_cpus(int node, struct bitmask *mask, struct topology_numa_node *n)
{
	size_t cap = 0;

	numa_bitmask_clearall(mask);
	if (numa_node_to_cpus(node, mask) < 0)
		return errno ? -errno : -EIO;
	for (unsigned cpu = 0; cpu < mask->size; cpu++) {
		if (!numa_bitmask_isbitset(mask, cpu))
			continue;
		if (topology_kernel_grow((void **)&n->cpus, &cap, n->n_cpus, sizeof(*n->cpus)))
			return -ENOMEM;
		n->cpus[n->n_cpus++] = cpu;
	}
	return 0;
}

int topology_numa_discover(struct topology_snapshot *s, char *err, size_t err_len)
{
	struct bitmask *mask;
	size_t cap = 0;
	int max, rc = 0;

	/* A kernel without NUMA is one node; say so rather than fail discovery. */
	if (numa_available() < 0)
		return topology_snapshot_warn(s, "libnuma: NUMA is not available on this kernel")
			       ? topology_kernel_errf(err, err_len, -ENOMEM, "out of memory")
			       : 0;
	mask = numa_allocate_cpumask();
	if (!mask)
		return topology_kernel_errf(err, err_len, -ENOMEM, "out of memory");
	max = numa_max_node();
	for (int node = 0; node <= max; node++) {
		struct topology_numa_node *n;
		long long free_bytes = 0, total;

		/* numa_nodes_ptr: every node present, with or without CPUs or memory. */
		if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)node))
			continue;
		if (topology_kernel_grow((void **)&s->numa, &cap, s->n_numa, sizeof(*s->numa))) {
			rc = -ENOMEM;
			break;
		}
		n = &s->numa[s->n_numa++];
		n->id = node;
		rc = node_cpus(node, mask, n);
		if (rc) {
			topology_kernel_errf(err, err_len, rc, "libnuma: CPUs of node %d: %s", node,
					     strerror(-rc));
			goto out;
		}
		total = numa_node_size64(node, &free_bytes);
		n->mem_total = total > 0 ? (uint64_t)total : 0;
		n->mem_free = free_bytes > 0 ? (uint64_t)free_bytes : 0;
	}
	if (!rc && s->n_numa) {
		s->distance = calloc(s->n_numa * s->n_numa, sizeof(*s->distance));
		if (!s->distance)
			rc = -ENOMEM;
		for (size_t i = 0; !rc && i < s->n_numa; i++)
			for (size_t j = 0; j < s->n_numa; j++) {
				int d = numa_distance(s->numa[i].id, s->numa[j].id);

				s->distance[i * s->n_numa + j] = d > 0 ? (unsigned)d : 0;
			}
	}
	if (rc == -ENOMEM)
		topology_kernel_errf(err, err_len, rc, "out of memory listing NUMA nodes");
out:
	numa_free_cpumask(mask);
	return rc;
}
