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

/*
 * libnuma reads the node masks (numa_nodes_ptr, numa_max_node) and the
 * distance table once, when it is loaded. Memory that the kmem driver onlines
 * later brings up NUMA nodes (CPU-less ones, memory mode) that libnuma never
 * sees and refuses (numa_node_to_cpus says ERANGE). So the live node list,
 * and the CPUs and distances of nodes beyond libnuma's view, come from the
 * same sysfs files libnuma itself reads, read at the time of discovery.
 */
#define NODE_SYSFS "/sys/devices/system/node"

static int read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* Parses a kernel list ("0-2,4\n") into ids[], at most cap; returns the count or -EINVAL. */
static int parse_list(const char *s, unsigned *ids, size_t cap)
{
	size_t n = 0;

	while (*s && *s != '\n') {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (end == s)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return -EINVAL;
		}
		for (unsigned long i = a; i <= b; i++) {
			if (n >= cap)
				return -E2BIG;
			ids[n++] = (unsigned)i;
		}
		s = end;
		if (*s == ',')
			s++;
	}
	return (int)n;
}

static int node_cpus_sysfs(int node, struct topology_numa_node *n)
{
	char path[64], buf[4096];
	unsigned ids[1024];
	int r;

	snprintf(path, sizeof(path), NODE_SYSFS "/node%d/cpulist", node);
	if ((r = read_text(path, buf, sizeof(buf))) < 0)
		return r;
	if ((r = parse_list(buf, ids, sizeof(ids) / sizeof(ids[0]))) < 0)
		return r;
	if (r == 0)
		return 0;
	n->cpus = calloc((size_t)r, sizeof(*n->cpus));
	if (!n->cpus)
		return -ENOMEM;
	memcpy(n->cpus, ids, (size_t)r * sizeof(*ids));
	n->n_cpus = (size_t)r;
	return 0;
}

/* Row `i` of the distance matrix from nodeN/distance (one figure per online node). */
static void distances_sysfs(struct topology_snapshot *s, size_t i)
{
	char path[64], buf[4096], *p = buf, *end;

	snprintf(path, sizeof(path), NODE_SYSFS "/node%d/distance", s->numa[i].id);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return;
	for (size_t j = 0; j < s->n_numa; j++) {
		unsigned long d = strtoul(p, &end, 10);
		if (end == p)
			return;
		s->distance[i * s->n_numa + j] = (unsigned)d;
		p = end;
	}
}

int topology_numa_discover(struct topology_snapshot *s, char *err, size_t err_len)
{
	struct bitmask *mask;
	char online[4096];
	unsigned ids[1024];
	size_t cap = 0;
	int max, count, rc = 0;

	/* A kernel without NUMA is one node; say so rather than fail discovery. */
	if (numa_available() < 0)
		return topology_snapshot_warn(s, "libnuma: NUMA is not available on this kernel")
			       ? topology_kernel_errf(err, err_len, -ENOMEM, "out of memory")
			       : 0;
	mask = numa_allocate_cpumask();
	if (!mask)
		return topology_kernel_errf(err, err_len, -ENOMEM, "out of memory");
	max = numa_max_node();
	rc = read_text(NODE_SYSFS "/online", online, sizeof(online));
	count = rc < 0 ? rc : parse_list(online, ids, sizeof(ids) / sizeof(ids[0]));
	if (count < 0) {
		topology_kernel_errf(err, err_len, count, "cannot read %s/online: %s", NODE_SYSFS,
				     strerror(-count));
		rc = count;
		goto out;
	}
	rc = 0;
	for (int k = 0; k < count; k++) {
		int node = (int)ids[k];
		struct topology_numa_node *n;
		long long free_bytes = 0, total;

		if (topology_kernel_grow((void **)&s->numa, &cap, s->n_numa, sizeof(*s->numa))) {
			rc = -ENOMEM;
			break;
		}
		n = &s->numa[s->n_numa++];
		n->id = node;
		rc = node <= max ? node_cpus(node, mask, n) : node_cpus_sysfs(node, n);
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
		for (size_t i = 0; !rc && i < s->n_numa; i++) {
			if (s->numa[i].id > max) {
				distances_sysfs(s, i);
				continue;
			}
			for (size_t j = 0; j < s->n_numa; j++) {
				int d = s->numa[j].id <= max
						? numa_distance(s->numa[i].id, s->numa[j].id)
						: 0;
				s->distance[i * s->n_numa + j] = d > 0 ? (unsigned)d : 0;
			}
		}
		/* Columns towards nodes libnuma does not know: the symmetric figure. */
		for (size_t i = 0; !rc && i < s->n_numa; i++)
			for (size_t j = 0; j < s->n_numa; j++)
				if (s->distance[i * s->n_numa + j] == 0)
					s->distance[i * s->n_numa + j] =
						s->distance[j * s->n_numa + i];
	}
	if (rc == -ENOMEM)
		topology_kernel_errf(err, err_len, rc, "out of memory listing NUMA nodes");
out:
	numa_free_cpumask(mask);
	return rc;
}
