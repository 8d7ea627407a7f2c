/* topology-kernel: what the kernel-facing topology files share (private to topology/). */
#ifndef PMEMD_TOPOLOGY_KERNEL_H
#define PMEMD_TOPOLOGY_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "topology/topology.h"

/* Writes a message into err (always NUL-terminated when err_len > 0); returns rc. */
int topology_kernel_errf(char *err, size_t err_len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Makes room for one more element in a growable array of `size`-byte
 * elements: *cap doubles when n reaches it. New room is zeroed. 0 or -ENOMEM.
 */
int topology_kernel_grow(void **arr, size_t *cap, size_t n, size_t size);

/* Appends a formatted node-wide warning to s->warnings; 0 or -ENOMEM. */
int topology_snapshot_warn(struct topology_snapshot *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* libndctl + libdaxctl part of discovery: buses, DIMMs, regions, namespaces, dax devices. */
int topology_ndctl_discover(struct topology_snapshot *s, char *err, size_t err_len);
int topology_ndctl_create_namespace(const char *region, enum topology_ns_mode mode, uint64_t size,
				    uint64_t align, char *dev, size_t dev_len, char *err,
				    size_t err_len);
int topology_daxctl_to_ram(const char *daxdev, char *err, size_t err_len);

/* libnuma part of discovery: nodes, CPUs, memory, distances. */
int topology_numa_discover(struct topology_snapshot *s, char *err, size_t err_len);

/* Filesystems and mounts (topology-fs.c). */
int topology_fs_probe(const char *blockdev, char *fstype, size_t fstype_len, char *uuid,
		      size_t uuid_len, char *err, size_t err_len);
int topology_fs_mkfs(const char *blockdev, enum config_fstype fstype, char *err, size_t err_len);
int topology_fs_make_dir(const char *path, char *err, size_t err_len);
int topology_fs_find_mount(const char *path, struct topology_mount *out, char *err, size_t err_len);
int topology_fs_mount(const char *blockdev, const char *path, enum config_fstype fstype,
		      const char *options, char *err, size_t err_len);
int topology_fs_stat(const char *path, uint64_t *total, uint64_t *avail, uint64_t *inodes,
		     uint64_t *inodes_free, char *err, size_t err_len);
int topology_fs_pool_has_volumes(const char *path, bool *has, char *err, size_t err_len);

#endif
