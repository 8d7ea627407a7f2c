/* topology-kernel: the real kernel boundary, topology_kernel_ops, wiring the library files. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/topology-kernel.h"
#include "topology/topology.h"
#include "util/log.h"

int topology_kernel_errf(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int topology_kernel_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	char *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	if (ncap > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	memset(p + *cap * size, 0, (ncap - *cap) * size);
	*arr = p;
	*cap = ncap;
	return 0;
}

/* libndctl + libdaxctl for PMEM, libnuma for NUMA, then the cross-check. */
static int kernel_discover(struct topology_snapshot **out, char *err, size_t err_len)
{
	struct topology_snapshot *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return topology_kernel_errf(err, err_len, -ENOMEM, "out of memory");
	rc = topology_ndctl_discover(s, err, err_len);
	if (!rc)
		rc = topology_numa_discover(s, err, err_len);
	if (rc) {
		topology_snapshot_free(s);
		return rc;
	}
	topology_check_numa(s);
	topology_snapshot_sort(s);
	log_debug("topology_discovered",
		  "buses=%zu dimms=%zu regions=%zu namespaces=%zu daxes=%zu "
		  "numa_nodes=%zu",
		  s->n_buses, s->n_dimms, s->n_regions, s->n_namespaces, s->n_daxes, s->n_numa);
	*out = s;
	return 0;
}

const struct topology_ops topology_kernel_ops = {
	.discover = kernel_discover,
	.create_namespace = topology_ndctl_create_namespace,
	.probe_fs = topology_fs_probe,
	.mkfs = topology_fs_mkfs,
	.make_dir = topology_fs_make_dir,
	.find_mount = topology_fs_find_mount,
	.mount = topology_fs_mount,
	.fs_stat = topology_fs_stat,
	.dax_to_ram = topology_daxctl_to_ram,
	.pool_has_volumes = topology_fs_pool_has_volumes,
};
