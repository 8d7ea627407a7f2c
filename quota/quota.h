/* quota: volumes carved from pools by project quota: ids, limits, usage, records, bind mounts. */
#ifndef PMEMD_QUOTA_H
#define PMEMD_QUOTA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/*
 * Layout of a pool (the filesystem is the database, DESIGN.md):
 *   <pool>/<volume>            a volume: a directory with its own project id
 *   <pool>/.pmemd/staging/     volumes being created (renamed into place last)
 *   <pool>/.pmemd/trash/       volumes being deleted
 * A volume's record is its directory: project id and PROJINHERIT flag
 * (FS_IOC_FSSETXATTR), quota limits (quotactl PRJQUOTA) and trusted.pmemd.*
 * extended attributes (size, labels, creation time).
 */
#define QUOTA_META_DIR	   ".pmemd"
#define QUOTA_STAGING_DIR  ".pmemd/staging"
#define QUOTA_TRASH_DIR	   ".pmemd/trash"
#define QUOTA_XATTR_PREFIX "trusted.pmemd."
#define QUOTA_NAME_MAX	   253
/* Project ids pmemd hands out; 0 is the filesystem default and never used for a volume. */
#define QUOTA_PROJID_MIN 1000u
#define QUOTA_PROJID_MAX 0x7fffffffu

/* Usage and limits of one project, in bytes and inodes (0 limit = none). */
struct quota_usage {
	uint64_t bytes_used;
	uint64_t bytes_limit;
	uint64_t inodes_used;
	uint64_t inodes_limit;
};

/* One directory entry of a pool or of its staging/trash folders, as a scan sees it. */
struct quota_dirent {
	char name[QUOTA_NAME_MAX + 1];
	uint32_t projid;
	bool inherit; /* FS_XFLAG_PROJINHERIT set */
	bool is_dir;
};

/*
 * The kernel boundary of volumes: one table, so unit tests install a fake
 * and the emulated node proves the real one (quota-kernel.c). Every path
 * argument is relative to the pool's root directory `pool` (an absolute
 * mount path), is one to three plain components below it (".pmemd/staging/<name>"
 * is three), and never follows a symlink in any component (openat2
 * RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH).
 */
struct quota_ops {
	/* mkdir <pool>/<rel> with mode; -EEXIST when present. */
	int (*make_dir)(const char *pool, const char *rel, unsigned mode, char *err,
			size_t err_len);
	/* rename within the pool; RENAME_NOREPLACE: -EEXIST when `to` exists. */
	int (*rename)(const char *pool, const char *from, const char *to, char *err,
		      size_t err_len);
	/* Removes <pool>/<rel> and everything below it, never crossing into another mount. */
	int (*remove_tree)(const char *pool, const char *rel, char *err, size_t err_len);
	/* Lists the entries of <pool>/<rel> ("" = the pool root) with their project ids. */
	int (*list_dir)(const char *pool, const char *rel, struct quota_dirent **out, size_t *n,
			char *err, size_t err_len);
	/* FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR (project id + PROJINHERIT). */
	int (*project_get)(const char *pool, const char *rel, uint32_t *projid, bool *inherit,
			   char *err, size_t err_len);
	int (*project_set)(const char *pool, const char *rel, uint32_t projid, char *err,
			   size_t err_len);
	/* quotactl(Q_SETQUOTA / Q_GETQUOTA, PRJQUOTA) on the pool's filesystem. */
	int (*limit_set)(const char *pool, uint32_t projid, uint64_t bytes, uint64_t inodes,
			 char *err, size_t err_len);
	int (*usage_get)(const char *pool, uint32_t projid, struct quota_usage *out, char *err,
			 size_t err_len);
	/*
	 * Optional (NULL: the caller reads project by project with usage_get). The usage of n
	 * projects of one pool with one open of the pool: for each i, out[i] and rcs[i] (0 or
	 * -errno). Returns 0, or -errno when the pool cannot be opened (rcs untouched). The auto
	 * resizer reads every watched volume every interval; opening the pool per volume was
	 * most of that cost.
	 */
	int (*usage_get_many)(const char *pool, const uint32_t *projids, size_t n,
			      struct quota_usage *out, int *rcs, char *err, size_t err_len);
	/* trusted.pmemd.<key> extended attributes of <pool>/<rel>; get: -ENODATA when absent. */
	int (*meta_set)(const char *pool, const char *rel, const char *key, const char *value,
			char *err, size_t err_len);
	int (*meta_get)(const char *pool, const char *rel, const char *key, char *value,
			size_t value_len, char *err, size_t err_len);
	/*
	 * Optional (NULL: the caller reads key by key with meta_get). Several attributes of one
	 * directory with one open: for each i, keys[i] into values[i] (lens[i] bytes with the
	 * NUL) and rcs[i] = 0, -ENODATA when absent, -ERANGE when longer, -EBADMSG when not a
	 * string, or another -errno. Returns 0, or -errno when <pool>/<rel> cannot be opened
	 * (rcs untouched). The start-up scan reads four attributes of every volume; one open
	 * per volume instead of one per attribute is most of what makes it fast.
	 */
	int (*meta_get_many)(const char *pool, const char *rel, const char *const *keys, size_t n,
			     char *const *values, const size_t *lens, int *rcs, char *err,
			     size_t err_len);
	/* statfs of <pool>/<rel>: what df shows inside a volume. */
	int (*stat_dir)(const char *pool, const char *rel, uint64_t *total, uint64_t *avail,
			char *err, size_t err_len);
	/*
	 * Bind-mounts <pool>/<rel> onto `target` (an absolute path that must
	 * already exist as a directory and resolve without symlinks), read-only
	 * when asked; unmounting `target`. -EBUSY/-EINVAL with the reason.
	 */
	int (*bind_mount)(const char *pool, const char *rel, const char *target, bool readonly,
			  char *err, size_t err_len);
	int (*unmount)(const char *target, char *err, size_t err_len);
};

/* The real kernel. */
extern const struct quota_ops quota_kernel_ops;

/*
 * Bytes of the filesystem's own per-directory metadata charged to a project
 * that a volume's limit includes on top of the asked size, so the user can
 * store the size they asked for (block size granularity).
 */
uint64_t quota_limit_for_size(uint64_t size_bytes, enum config_fstype fstype, uint64_t block_size);

#endif
