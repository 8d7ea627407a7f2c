/* quota-kernel: the real kernel boundary of volumes: directories, project ids, quotas, xattrs and
 * bind mounts, by syscall only (no quota tools are exec'd). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libmount/libmount.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "quota/quota-kernel.h"
#include "quota/quota.h"
#include "util/log.h"

/* The quota interface counts block limits in 1 KiB units (QIF_DQBLKSIZE). */
#define DQBLK_BYTES 1024u

static bool use_legacy;

void quota_kernel_set_legacy(bool legacy)
{
	use_legacy = legacy;
}

static int vrefuse(char *err, size_t err_len, int rc, int sys, const char *fmt, va_list ap)
{
	size_t n;

	if (!err || !err_len)
		return rc;
	vsnprintf(err, err_len, fmt, ap);
	n = strlen(err);
	if (sys && n < err_len)
		snprintf(err + n, err_len - n, ": %s", strerror(sys));
	return rc;
}

/* Sets the message and returns rc (a -errno), for refusals that are pmemd's own. */
__attribute__((format(printf, 4, 5))) static int refuse(char *err, size_t err_len, int rc,
							const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrefuse(err, err_len, rc, 0, fmt, ap);
	va_end(ap);
	return rc;
}

/* Sets the message followed by the kernel's words for rc, and returns rc. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t err_len, int rc,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrefuse(err, err_len, rc, -rc, fmt, ap);
	va_end(ap);
	return rc;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* A hostile path may be long or hold control characters: quote and cut it for messages. */
static const char *q(char *buf, size_t len, const char *s)
{
	return log_quote(buf, len, s ? s : "(null)");
}

int quota_rel_check(const char *rel, bool allow_root, char *err, size_t err_len)
{
	char qb[96];
	unsigned depth = 0;
	const char *p;

	if (!rel)
		return refuse(err, err_len, -EINVAL, "no path given");
	if (!*rel)
		return allow_root ? 0 : refuse(err, err_len, -EINVAL, "empty path");
	if (strnlen(rel, PATH_MAX) >= PATH_MAX)
		return refuse(err, err_len, -EINVAL, "path too long");
	if (rel[0] == '/')
		return refuse(err, err_len, -EINVAL, "path %s must be relative to the pool",
			      q(qb, sizeof(qb), rel));
	for (p = rel;; p++) {
		size_t n = strcspn(p, "/");

		if (n == 0)
			return refuse(err, err_len, -EINVAL, "path %s has an empty component",
				      q(qb, sizeof(qb), rel));
		if (n > NAME_MAX)
			return refuse(err, err_len, -EINVAL, "a component of %s is too long",
				      q(qb, sizeof(qb), rel));
		if (p[0] == '.' && (n == 1 || (n == 2 && p[1] == '.')))
			return refuse(err, err_len, -EINVAL, "path %s has a '.' or '..' component",
				      q(qb, sizeof(qb), rel));
		if (++depth > QUOTA_REL_DEPTH_MAX)
			return refuse(err, err_len, -EINVAL,
				      "path %s is more than %d components deep",
				      q(qb, sizeof(qb), rel), QUOTA_REL_DEPTH_MAX);
		p += n;
		if (!*p)
			return 0;
	}
}

int quota_target_check(const char *target, char *err, size_t err_len)
{
	char qb[96];
	const char *p;

	if (!target || target[0] != '/')
		return refuse(err, err_len, -EINVAL, "target %s must be an absolute path",
			      q(qb, sizeof(qb), target));
	if (strnlen(target, PATH_MAX) >= PATH_MAX)
		return refuse(err, err_len, -EINVAL, "target path too long");
	for (p = target + 1;; p++) {
		size_t n = strcspn(p, "/");

		if (n == 0)
			return refuse(err, err_len, -EINVAL, "target %s has an empty component",
				      q(qb, sizeof(qb), target));
		if (p[0] == '.' && (n == 1 || (n == 2 && p[1] == '.')))
			return refuse(err, err_len, -EINVAL,
				      "target %s has a '.' or '..' component",
				      q(qb, sizeof(qb), target));
		p += n;
		if (!*p)
			return 0;
	}
}

int quota_meta_key_check(const char *key, char *err, size_t err_len)
{
	char qb[96];
	size_t n = key ? strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_.-") : 0;

	if (!key || !*key || key[n] || n > QUOTA_META_KEY_MAX)
		return refuse(err, err_len, -EINVAL,
			      "metadata key %s must be 1 to %d of [a-z0-9_.-]",
			      q(qb, sizeof(qb), key), QUOTA_META_KEY_MAX);
	return 0;
}

static int check_projid(uint32_t projid, char *err, size_t err_len)
{
	if (projid < QUOTA_PROJID_MIN || projid > QUOTA_PROJID_MAX)
		return refuse(err, err_len, -EINVAL, "project id %" PRIu32 " is outside %u..%u",
			      projid, QUOTA_PROJID_MIN, QUOTA_PROJID_MAX);
	return 0;
}

/* Opens the pool's root directory; the pool path comes from configuration, not from a user. */
static int pool_open(const char *pool, char *err, size_t err_len)
{
	char qb[96];
	int fd;

	if (!pool || pool[0] != '/')
		return refuse(err, err_len, -EINVAL, "pool path %s must be absolute",
			      q(qb, sizeof(qb), pool));
	fd = open(pool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, err_len, -errno, "cannot open pool %s", pool);
	return fd;
}

/*
 * Kernels before openat2 (5.6): walk the validated plain components one by
 * one with O_NOFOLLOW, refusing to step onto another device, which is what
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV give in one call.
 */
static int walk_open(int dirfd, const char *rel, int flags, bool same_dev)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	struct stat st0, st;
	int cur = dirfd, fd;

	if (fstat(dirfd, &st0) < 0)
		return -errno;
	for (;;) {
		size_t n = strcspn(p, "/");
		bool last = p[n] == '\0';

		memcpy(comp, p, n);
		comp[n] = '\0';
		fd = openat(cur, comp,
			    (last ? flags : O_PATH | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		/*
		 * O_NOFOLLOW | O_DIRECTORY on a symlink fails with ENOTDIR, not ELOOP: say
		 * ELOOP, as openat2's RESOLVE_NO_SYMLINKS does, so callers and messages agree.
		 */
		if (fd == -ENOTDIR && fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			fd = -ELOOP;
		if (cur != dirfd)
			close(cur);
		if (fd < 0)
			return fd;
		if (same_dev && (fstat(fd, &st) < 0 || st.st_dev != st0.st_dev)) {
			close(fd);
			return -EXDEV;
		}
		if (last)
			return fd;
		cur = fd;
		p += n + 1;
	}
}

/*
 * Opens <dirfd>/<rel> without following any symlink, without leaving dirfd
 * and without crossing a mount point (a volume is never a mount point, and a
 * mount planted in a pool must not redirect quota or removal elsewhere).
 * Returns an fd or -errno.
 */
static int open_beneath(int dirfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};

	if (!use_legacy) {
		long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

		if (fd >= 0)
			return (int)fd;
		if (errno != ENOSYS)
			return -errno;
	}
	return walk_open(dirfd, rel, flags, true);
}

/* A message for a failed open_beneath of <pool>/<rel>. */
static int fail_open(char *err, size_t err_len, int rc, const char *pool, const char *rel)
{
	if (rc == -ELOOP)
		return refuse(err, err_len, rc, "%s/%s: a symlink is in the path; refused", pool,
			      rel);
	if (rc == -EXDEV)
		return refuse(err, err_len, rc, "%s/%s: a mount point is in the path; refused",
			      pool, rel);
	return fail(err, err_len, rc, "cannot open %s/%s", pool, rel);
}

/*
 * Opens the directory that holds the last component of rel (the pool itself
 * when rel has one component); *leaf points at that component in rel.
 */
static int open_parent(int poolfd, const char *rel, const char **leaf)
{
	const char *slash = strrchr(rel, '/');
	char dir[PATH_MAX];
	int fd;

	if (!slash) {
		*leaf = rel;
		fd = fcntl(poolfd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	memcpy(dir, rel, (size_t)(slash - rel));
	dir[slash - rel] = '\0';
	*leaf = slash + 1;
	return open_beneath(poolfd, dir, O_PATH | O_DIRECTORY);
}

/* Opens the pool and <pool>/<rel> with flags; on success *poolfd and the returned fd are open. */
static int open_rel(const char *pool, const char *rel, int flags, int *poolfd, char *err,
		    size_t err_len)
{
	int rc, fd;

	rc = quota_rel_check(rel, false, err, err_len);
	if (rc)
		return rc;
	*poolfd = pool_open(pool, err, err_len);
	if (*poolfd < 0)
		return *poolfd;
	fd = open_beneath(*poolfd, rel, flags);
	if (fd < 0) {
		close(*poolfd);
		*poolfd = -1;
		return fail_open(err, err_len, fd, pool, rel);
	}
	return fd;
}

static int k_make_dir(const char *pool, const char *rel, unsigned mode, char *err, size_t err_len)
{
	int rc, pfd = -1, dfd = -1, fd = -1;
	const char *leaf;

	rc = quota_rel_check(rel, false, err, err_len);
	if (rc)
		return rc;
	if (mode & ~07777u)
		return refuse(err, err_len, -EINVAL, "mode %o is not a permission mode", mode);
	pfd = pool_open(pool, err, err_len);
	if (pfd < 0)
		return pfd;
	dfd = open_parent(pfd, rel, &leaf);
	if (dfd < 0) {
		rc = fail_open(err, err_len, dfd, pool, rel);
		goto out;
	}
	if (mkdirat(dfd, leaf, mode) < 0) {
		rc = fail(err, err_len, -errno, "cannot create %s/%s", pool, rel);
		goto out;
	}
	/* mkdir(2) applies the process umask; a volume gets exactly the mode asked for. */
	fd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, mode) < 0) {
		rc = fail(err, err_len, -errno, "cannot set mode %o on %s/%s", mode, pool, rel);
		goto out;
	}
	log_debug("quota_make_dir", "pool=%s rel=%s mode=%o", pool, rel, mode);
	rc = 0;
out:
	close_fd(fd);
	close_fd(dfd);
	close_fd(pfd);
	return rc;
}

static int k_rename(const char *pool, const char *from, const char *to, char *err, size_t err_len)
{
	int rc, pfd = -1, ffd = -1, tfd = -1;
	const char *fleaf, *tleaf;

	rc = quota_rel_check(from, false, err, err_len);
	if (!rc)
		rc = quota_rel_check(to, false, err, err_len);
	if (rc)
		return rc;
	pfd = pool_open(pool, err, err_len);
	if (pfd < 0)
		return pfd;
	ffd = open_parent(pfd, from, &fleaf);
	if (ffd < 0) {
		rc = fail_open(err, err_len, ffd, pool, from);
		goto out;
	}
	tfd = open_parent(pfd, to, &tleaf);
	if (tfd < 0) {
		rc = fail_open(err, err_len, tfd, pool, to);
		goto out;
	}
	if (renameat2(ffd, fleaf, tfd, tleaf, RENAME_NOREPLACE) < 0) {
		rc = -errno;
		if (rc == -EEXIST)
			refuse(err, err_len, rc, "cannot rename %s to %s in %s: %s exists", from,
			       to, pool, to);
		else if (rc == -EXDEV)
			/* ext4 and xfs refuse to move a tree into a directory of another project.
			 */
			refuse(err, err_len, rc,
			       "cannot rename %s to %s in %s: the target directory is in another "
			       "project (or filesystem)",
			       from, to, pool);
		else
			fail(err, err_len, rc, "cannot rename %s to %s in %s", from, to, pool);
		goto out;
	}
	log_debug("quota_rename", "pool=%s from=%s to=%s", pool, from, to);
	rc = 0;
out:
	close_fd(tfd);
	close_fd(ffd);
	close_fd(pfd);
	return rc;
}

/* Opens the subdirectory `name` of dirfd for removal: no symlink, no mount point. */
static int open_child_dir(int dirfd, const char *name, dev_t dev)
{
	struct stat st;
	int fd;

	fd = open_beneath(dirfd, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

/*
 * Removes what it can from directory fd: every non-directory entry (a
 * symlink is unlinked, never followed) and every empty subdirectory. 0 when
 * the directory is now empty; 1 with *child (malloc'd) naming a non-empty
 * subdirectory to descend into; -errno with *child naming the entry that
 * failed.
 */
static int empty_dir(int fd, dev_t dev, char **child)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int dfd, rc = 0;

	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			rc = -errno;
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(fd, e->d_name, 0) < 0 && errno != ENOENT) {
				rc = -errno;
				break;
			}
			continue;
		}
		if (st.st_dev != dev) {
			rc = -EXDEV;
			break;
		}
		if (unlinkat(fd, e->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			continue;
		rc = errno == ENOTEMPTY || errno == EEXIST ? 1 : -errno;
		break;
	}
	if (!e && errno)
		rc = -errno;
	if (e) {
		*child = strdup(e->d_name);
		if (!*child)
			rc = -ENOMEM;
	}
	closedir(d);
	return rc;
}

struct rm_frame {
	char *name; /* the directory to remove from the parent, once empty */
	ino_t parent_ino;
};

/*
 * Depth-first removal without recursion and with two fds at most, so a
 * user's tree of any depth is removed (recursion would run out of stack or
 * fds on a deliberately deep tree and leak the volume). Going back up
 * uses "..", checked against the inode we came from, so a tree moved under
 * us is detected (-ESTALE) instead of removing elsewhere.
 */
static int remove_contents(int top, dev_t dev, char *what, size_t what_len)
{
	struct rm_frame *stack = NULL;
	size_t depth = 0, cap = 0;
	int cur = top, rc;

	for (;;) {
		char *child = NULL;
		struct stat st;
		int next;

		rc = empty_dir(cur, dev, &child);
		if (rc < 0) {
			snprintf(what, what_len, "%s", child ? child : "");
			free(child);
			goto out;
		}
		if (rc == 1) {
			if (depth == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct rm_frame *ns = realloc(stack, ncap * sizeof(*ns));

				if (!ns) {
					free(child);
					rc = -ENOMEM;
					goto out;
				}
				stack = ns;
				cap = ncap;
			}
			if (fstat(cur, &st) < 0) {
				rc = -errno;
				free(child);
				goto out;
			}
			next = open_child_dir(cur, child, dev);
			if (next < 0) {
				rc = next;
				snprintf(what, what_len, "%s", child);
				free(child);
				goto out;
			}
			stack[depth].name = child;
			stack[depth].parent_ino = st.st_ino;
			depth++;
			if (cur != top)
				close(cur);
			cur = next;
			continue;
		}
		if (depth == 0)
			break;
		next = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			rc = -errno;
			goto out;
		}
		if (fstat(next, &st) < 0 || st.st_dev != dev ||
		    st.st_ino != stack[depth - 1].parent_ino) {
			close(next);
			snprintf(what, what_len, "%s", stack[depth - 1].name);
			rc = -ESTALE;
			goto out;
		}
		if (cur != top)
			close(cur);
		cur = next;
		depth--;
		if (unlinkat(cur, stack[depth].name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			rc = -errno;
			snprintf(what, what_len, "%s", stack[depth].name);
			free(stack[depth].name);
			goto out;
		}
		free(stack[depth].name);
	}
	rc = 0;
out:
	while (depth > 0)
		free(stack[--depth].name);
	free(stack);
	if (cur != top)
		close(cur);
	return rc;
}

static int k_remove_tree(const char *pool, const char *rel, char *err, size_t err_len)
{
	int rc, pfd = -1, dfd = -1, fd = -1;
	char what[NAME_MAX + 1] = "";
	const char *leaf;
	struct stat st;

	rc = quota_rel_check(rel, false, err, err_len);
	if (rc)
		return rc;
	pfd = pool_open(pool, err, err_len);
	if (pfd < 0)
		return pfd;
	dfd = open_parent(pfd, rel, &leaf);
	if (dfd < 0) {
		rc = fail_open(err, err_len, dfd, pool, rel);
		goto out;
	}
	fd = open_beneath(dfd, leaf, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		rc = fail_open(err, err_len, fd, pool, rel);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = fail(err, err_len, -errno, "cannot stat %s/%s", pool, rel);
		goto out;
	}
	rc = remove_contents(fd, st.st_dev, what, sizeof(what));
	if (rc == -EXDEV || rc == -EBUSY) {
		refuse(err, err_len, rc,
		       "cannot remove %s/%s: a mount point is inside it (at '%s'); refused", pool,
		       rel, what);
		goto out;
	}
	if (rc) {
		fail(err, err_len, rc, "cannot remove %s/%s (at '%s')", pool, rel, what);
		goto out;
	}
	if (unlinkat(dfd, leaf, AT_REMOVEDIR) < 0) {
		rc = fail(err, err_len, -errno, "cannot remove %s/%s", pool, rel);
		goto out;
	}
	log_debug("quota_remove_tree", "pool=%s rel=%s", pool, rel);
out:
	close_fd(fd);
	close_fd(dfd);
	close_fd(pfd);
	return rc;
}

/* FS_IOC_FSGETXATTR of an open directory. */
static int get_fsx(int fd, struct fsxattr *fsx)
{
	memset(fsx, 0, sizeof(*fsx));
	return ioctl(fd, FS_IOC_FSGETXATTR, fsx) < 0 ? -errno : 0;
}

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct quota_dirent *)a)->name,
		      ((const struct quota_dirent *)b)->name);
}

/* Reads one entry of a listed directory; 1 when it vanished or cannot be a volume (skip). */
static int read_entry(int dirfd, const char *name, dev_t dev, struct quota_dirent *out)
{
	struct fsxattr fsx;
	struct stat st;
	int fd, rc;

	if (strlen(name) > QUOTA_NAME_MAX) {
		log_debug("quota_list_skip", "reason=name_too_long len=%zu", strlen(name));
		return 1;
	}
	memset(out, 0, sizeof(*out));
	strcpy(out->name, name);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1 : -errno;
	out->is_dir = S_ISDIR(st.st_mode);
	/* Only directories on the pool's own filesystem carry a volume's project id. */
	if (!out->is_dir || st.st_dev != dev)
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : -errno;
	rc = get_fsx(fd, &fsx);
	close(fd);
	if (rc == -ENOTTY || rc == -EOPNOTSUPP)
		return 0;
	if (rc)
		return rc;
	out->projid = fsx.fsx_projid;
	out->inherit = fsx.fsx_xflags & FS_XFLAG_PROJINHERIT;
	return 0;
}

static int k_list_dir(const char *pool, const char *rel, struct quota_dirent **out, size_t *n,
		      char *err, size_t err_len)
{
	struct quota_dirent *v = NULL;
	size_t len = 0, cap = 0;
	int rc, pfd, fd;
	struct dirent *e;
	struct stat st;
	DIR *d;

	rc = quota_rel_check(rel, true, err, err_len);
	if (rc)
		return rc;
	pfd = pool_open(pool, err, err_len);
	if (pfd < 0)
		return pfd;
	fd = *rel ? open_beneath(pfd, rel, O_RDONLY | O_DIRECTORY) : pfd;
	if (*rel)
		close(pfd);
	if (fd < 0)
		return fail_open(err, err_len, fd, pool, rel);
	if (fstat(fd, &st) < 0 || !(d = fdopendir(fd))) {
		rc = fail(err, err_len, -errno, "cannot list %s/%s", pool, rel);
		close(fd);
		return rc;
	}
	while ((errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct quota_dirent *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = refuse(err, err_len, -ENOMEM, "out of memory listing %s/%s",
					    pool, rel);
				goto fail;
			}
			v = nv;
			cap = ncap;
		}
		rc = read_entry(dirfd(d), e->d_name, st.st_dev, &v[len]);
		if (rc < 0) {
			fail(err, err_len, rc, "cannot read %s/%s/%s", pool, rel, e->d_name);
			goto fail;
		}
		if (rc == 0)
			len++;
	}
	if (errno) {
		rc = fail(err, err_len, -errno, "cannot list %s/%s", pool, rel);
		goto fail;
	}
	closedir(d);
	/* Sorted, so scans and their tests are deterministic. */
	if (len)
		qsort(v, len, sizeof(*v), cmp_dirent);
	else {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = len;
	return 0;
fail:
	closedir(d);
	free(v);
	return rc;
}

static int k_project_get(const char *pool, const char *rel, uint32_t *projid, bool *inherit,
			 char *err, size_t err_len)
{
	struct fsxattr fsx;
	int rc, pfd, fd;

	fd = open_rel(pool, rel, O_RDONLY | O_DIRECTORY, &pfd, err, err_len);
	if (fd < 0)
		return fd;
	rc = get_fsx(fd, &fsx);
	close(fd);
	close(pfd);
	if (rc)
		return fail(err, err_len, rc, "cannot read the project id of %s/%s", pool, rel);
	*projid = fsx.fsx_projid;
	*inherit = fsx.fsx_xflags & FS_XFLAG_PROJINHERIT;
	return 0;
}

static int k_project_set(const char *pool, const char *rel, uint32_t projid, char *err,
			 size_t err_len)
{
	struct fsxattr fsx;
	int rc, pfd, fd;

	rc = check_projid(projid, err, err_len);
	if (rc)
		return rc;
	fd = open_rel(pool, rel, O_RDONLY | O_DIRECTORY, &pfd, err, err_len);
	if (fd < 0)
		return fd;
	rc = get_fsx(fd, &fsx);
	if (rc) {
		fail(err, err_len, rc, "cannot read the project id of %s/%s", pool, rel);
		goto out;
	}
	/* PROJINHERIT: everything created below gets the id, and statfs reports the limit. */
	fsx.fsx_projid = projid;
	fsx.fsx_xflags |= FS_XFLAG_PROJINHERIT;
	if (ioctl(fd, FS_IOC_FSSETXATTR, &fsx) < 0) {
		rc = -errno;
		if (rc == -EOPNOTSUPP)
			refuse(err, err_len, rc,
			       "%s has no project ids (ext4 needs mkfs -O project,quota)", pool);
		else
			fail(err, err_len, rc, "cannot set project id %" PRIu32 " on %s/%s", projid,
			     pool, rel);
		goto out;
	}
	log_debug("quota_project_set", "pool=%s rel=%s projid=%" PRIu32, pool, rel, projid);
out:
	close(fd);
	close(pfd);
	return rc;
}

/* The block device of the filesystem fd is on, from /proc/self/mountinfo (quotactl(2) wants it). */
static int pool_device(int fd, char *dev, size_t dev_len)
{
	struct libmnt_table *tb;
	struct libmnt_iter *it;
	struct libmnt_fs *fs;
	struct stat st;
	int rc = -ENODEV;

	if (fstat(fd, &st) < 0)
		return -errno;
	tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return -errno ? -errno : -ENOMEM;
	it = mnt_new_iter(MNT_ITER_BACKWARD);
	if (!it) {
		mnt_unref_table(tb);
		return -ENOMEM;
	}
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *src = mnt_fs_get_srcpath(fs);

		if (mnt_fs_get_devno(fs) != st.st_dev || !src || src[0] != '/')
			continue;
		rc = (size_t)snprintf(dev, dev_len, "%s", src) < dev_len ? 0 : -ENAMETOOLONG;
		break;
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return rc;
}

/*
 * quotactl on the project quota of the pool's filesystem. quotactl_fd(2)
 * (5.14) needs no device path; older kernels get the device of the pool's
 * mount. On xfs the generic Q_GETQUOTA/Q_SETQUOTA go through the same VFS
 * interface (xfs_fs_get_dqblk/xfs_fs_set_dqblk), so one code path serves both.
 */
static int do_quotactl(int pfd, unsigned cmd, uint32_t projid, struct dqblk *dq)
{
	/* QCMD() shifts a signed int past its top bit; the same value, computed unsigned. */
	int qcmd = (int)((cmd << SUBCMDSHIFT) | (PRJQUOTA & SUBCMDMASK));
	char dev[PATH_MAX];
	int rc;

#ifdef SYS_quotactl_fd
	if (!use_legacy) {
		if (syscall(SYS_quotactl_fd, pfd, qcmd, (int)projid, dq) == 0)
			return 0;
		if (errno != ENOSYS)
			return -errno;
	}
#endif
	rc = pool_device(pfd, dev, sizeof(dev));
	if (rc)
		return rc;
	return quotactl(qcmd, dev, (int)projid, (caddr_t)dq) < 0 ? -errno : 0;
}

static int fail_quota(char *err, size_t err_len, int rc, const char *what, const char *pool,
		      uint32_t projid)
{
	if (rc == -ESRCH)
		return refuse(err, err_len, rc,
			      "cannot %s project %" PRIu32 " on %s: project quota is off "
			      "(mount with prjquota)",
			      what, projid, pool);
	if (rc == -ENOSYS)
		return refuse(err, err_len, rc,
			      "cannot %s project %" PRIu32
			      " on %s: the kernel has no quota support",
			      what, projid, pool);
	return fail(err, err_len, rc, "cannot %s project %" PRIu32 " on %s", what, projid, pool);
}

static int k_limit_set(const char *pool, uint32_t projid, uint64_t bytes, uint64_t inodes,
		       char *err, size_t err_len)
{
	struct dqblk dq = {0};
	int rc, pfd;

	rc = check_projid(projid, err, err_len);
	if (rc)
		return rc;
	pfd = pool_open(pool, err, err_len);
	if (pfd < 0)
		return pfd;
	/*
	 * Hard limits only; soft limits are cleared (0) because a soft limit
	 * starts a grace timer that would later refuse writes below the size
	 * the user was given. Bytes round up to the interface's 1 KiB unit.
	 */
	dq.dqb_bhardlimit = bytes / DQBLK_BYTES + (bytes % DQBLK_BYTES != 0);
	dq.dqb_ihardlimit = inodes;
	dq.dqb_valid = QIF_LIMITS;
	rc = do_quotactl(pfd, Q_SETQUOTA, projid, &dq);
	close(pfd);
	if (rc)
		return fail_quota(err, err_len, rc, "set the limits of", pool, projid);
	log_debug("quota_limit_set", "pool=%s projid=%" PRIu32 " bytes=%" PRIu64 " inodes=%" PRIu64,
		  pool, projid, bytes, inodes);
	return 0;
}

/* One project's usage through an open pool directory. */
static int usage_at(int pfd, const char *pool, uint32_t projid, struct quota_usage *out, char *err,
		    size_t err_len)
{
	struct dqblk dq = {0};
	int rc;

	rc = check_projid(projid, err, err_len);
	if (rc)
		return rc;
	rc = do_quotactl(pfd, Q_GETQUOTA, projid, &dq);
	/* xfs has no dquot for a project that holds nothing and has no limits: all zero. */
	if (rc == -ENOENT) {
		memset(&dq, 0, sizeof(dq));
		rc = 0;
	}
	if (rc)
		return fail_quota(err, err_len, rc, "read the usage of", pool, projid);
	out->bytes_used = dq.dqb_curspace;
	out->bytes_limit = dq.dqb_bhardlimit > UINT64_MAX / DQBLK_BYTES
				   ? UINT64_MAX
				   : dq.dqb_bhardlimit * DQBLK_BYTES;
	out->inodes_used = dq.dqb_curinodes;
	out->inodes_limit = dq.dqb_ihardlimit;
	return 0;
}

static int k_usage_get(const char *pool, uint32_t projid, struct quota_usage *out, char *err,
		       size_t err_len)
{
	int rc, pfd;

	rc = check_projid(projid, err, err_len);
	if (rc)
		return rc;
	pfd = pool_open(pool, err, err_len);
	if (pfd < 0)
		return pfd;
	rc = usage_at(pfd, pool, projid, out, err, err_len);
	close(pfd);
	return rc;
}

static int k_usage_get_many(const char *pool, const uint32_t *projids, size_t n,
			    struct quota_usage *out, int *rcs, char *err, size_t err_len)
{
	char e[256];
	int pfd = pool_open(pool, err, err_len);

	if (pfd < 0)
		return pfd;
	for (size_t i = 0; i < n; i++)
		rcs[i] = usage_at(pfd, pool, projids[i], &out[i], e, sizeof(e));
	close(pfd);
	return 0;
}

static int meta_name(const char *key, char *name, size_t len, char *err, size_t err_len)
{
	int rc = quota_meta_key_check(key, err, err_len);

	if (rc)
		return rc;
	snprintf(name, len, "%s%s", QUOTA_XATTR_PREFIX, key);
	return 0;
}

static int k_meta_set(const char *pool, const char *rel, const char *key, const char *value,
		      char *err, size_t err_len)
{
	char name[sizeof(QUOTA_XATTR_PREFIX) + QUOTA_META_KEY_MAX];
	int rc, pfd, fd;
	size_t len;

	rc = meta_name(key, name, sizeof(name), err, err_len);
	if (rc)
		return rc;
	if (!value || (len = strlen(value)) > XATTR_SIZE_MAX)
		return refuse(err, err_len, -EINVAL, "metadata value of %s is missing or too long",
			      key);
	fd = open_rel(pool, rel, O_RDONLY | O_DIRECTORY, &pfd, err, err_len);
	if (fd < 0)
		return fd;
	rc = fsetxattr(fd, name, value, len, 0) < 0 ? -errno : 0;
	close(fd);
	close(pfd);
	if (rc)
		return fail(err, err_len, rc, "cannot set %s on %s/%s", name, pool, rel);
	return 0;
}

static int k_meta_get(const char *pool, const char *rel, const char *key, char *value,
		      size_t value_len, char *err, size_t err_len)
{
	char name[sizeof(QUOTA_XATTR_PREFIX) + QUOTA_META_KEY_MAX];
	int rc, pfd, fd;
	ssize_t n;

	rc = meta_name(key, name, sizeof(name), err, err_len);
	if (rc)
		return rc;
	if (!value || !value_len)
		return refuse(err, err_len, -EINVAL, "no buffer for %s", name);
	fd = open_rel(pool, rel, O_RDONLY | O_DIRECTORY, &pfd, err, err_len);
	if (fd < 0)
		return fd;
	n = fgetxattr(fd, name, value, value_len - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	close(pfd);
	if (rc == -ENODATA)
		return refuse(err, err_len, rc, "%s/%s has no %s", pool, rel, name);
	if (rc == -ERANGE)
		return refuse(err, err_len, rc, "%s of %s/%s is longer than %zu bytes", name, pool,
			      rel, value_len - 1);
	if (rc)
		return fail(err, err_len, rc, "cannot read %s of %s/%s", name, pool, rel);
	/* pmemd writes strings; a NUL inside means someone else wrote it. */
	if (memchr(value, '\0', (size_t)n)) {
		value[0] = '\0';
		return refuse(err, err_len, -EBADMSG, "%s of %s/%s is not a string", name, pool,
			      rel);
	}
	value[n] = '\0';
	return 0;
}

static int k_meta_get_many(const char *pool, const char *rel, const char *const *keys, size_t n,
			   char *const *values, const size_t *lens, int *rcs, char *err,
			   size_t err_len)
{
	char name[sizeof(QUOTA_XATTR_PREFIX) + QUOTA_META_KEY_MAX];
	int rc, pfd, fd;

	for (size_t i = 0; i < n; i++) {
		rc = meta_name(keys[i], name, sizeof(name), err, err_len);
		if (rc)
			return rc;
		if (!values[i] || !lens[i])
			return refuse(err, err_len, -EINVAL, "no buffer for %s", name);
	}
	fd = open_rel(pool, rel, O_RDONLY | O_DIRECTORY, &pfd, err, err_len);
	if (fd < 0)
		return fd;
	for (size_t i = 0; i < n; i++) {
		ssize_t got;

		meta_name(keys[i], name, sizeof(name), err, err_len);
		got = fgetxattr(fd, name, values[i], lens[i] - 1);
		rcs[i] = got < 0 ? -errno : 0;
		if (got < 0) {
			values[i][0] = '\0';
			continue;
		}
		/* pmemd writes strings; a NUL inside means someone else wrote it. */
		if (memchr(values[i], '\0', (size_t)got)) {
			values[i][0] = '\0';
			rcs[i] = -EBADMSG;
			continue;
		}
		values[i][got] = '\0';
	}
	close(fd);
	close(pfd);
	return 0;
}

static int k_stat_dir(const char *pool, const char *rel, uint64_t *total, uint64_t *avail,
		      char *err, size_t err_len)
{
	struct statfs sf;
	int rc, pfd, fd;
	uint64_t unit;

	fd = open_rel(pool, rel, O_PATH | O_DIRECTORY, &pfd, err, err_len);
	if (fd < 0)
		return fd;
	/*
	 * On a directory with PROJINHERIT, ext4 and xfs answer statfs with the
	 * project's limit and usage instead of the filesystem's: this is df.
	 */
	rc = fstatfs(fd, &sf) < 0 ? -errno : 0;
	close(fd);
	close(pfd);
	if (rc)
		return fail(err, err_len, rc, "cannot statfs %s/%s", pool, rel);
	unit = sf.f_frsize ? (uint64_t)sf.f_frsize : (uint64_t)sf.f_bsize;
	*total = (uint64_t)sf.f_blocks * unit;
	*avail = (uint64_t)sf.f_bavail * unit;
	return 0;
}

/* Opens an absolute target directory without following any symlink on the way. */
static int open_target(const char *target, char *err, size_t err_len)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int rc, fd;

	rc = quota_target_check(target, err, err_len);
	if (rc)
		return rc;
	rc = -ENOSYS;
	if (!use_legacy) {
		fd = (int)syscall(SYS_openat2, AT_FDCWD, target, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		rc = -errno;
	}
	if (rc == -ENOSYS) {
		/* Without openat2: the same walk from "/"; a target may sit on any mount. */
		int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (root < 0)
			return fail(err, err_len, -errno, "cannot open /");
		rc = walk_open(root, target + 1, O_PATH | O_DIRECTORY, false);
		close(root);
		if (rc >= 0)
			return rc;
	}
	if (rc == -ELOOP || rc == -ENOTDIR)
		/* ENOTDIR: the walk met a symlink (O_NOFOLLOW), or a file. */
		return refuse(err, err_len, -EINVAL,
			      "target %s is not a directory reached without symlinks", target);
	return fail(err, err_len, rc, "cannot open target %s", target);
}

/* 1 when fd is the root of a mount, 0 when not, -errno. */
static int is_mount_root(int fd)
{
	struct statx stx;
	struct stat st, up;
	int pfd, rc;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return !!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	/* Before 5.8: another device than the parent's, or "/" itself. */
	pfd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	rc = fstat(fd, &st) < 0 || fstat(pfd, &up) < 0 ? -errno : 0;
	close(pfd);
	if (rc)
		return rc;
	return st.st_dev != up.st_dev || st.st_ino == up.st_ino;
}

/* mount(2) on /proc/self/fd paths, for kernels before the new mount API (5.2). */
static int bind_legacy(int src, int tgt, const char *target, bool readonly)
{
	char s[64], t[64];
	int fd, rc = 0;

	snprintf(s, sizeof(s), "/proc/self/fd/%d", src);
	snprintf(t, sizeof(t), "/proc/self/fd/%d", tgt);
	if (mount(s, t, NULL, MS_BIND, NULL) < 0)
		return -errno;
	if (!readonly)
		return 0;
	/* tgt still names the covered directory: reopen the target to reach the new mount. */
	fd = open(target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		rc = -errno;
	if (!rc) {
		snprintf(t, sizeof(t), "/proc/self/fd/%d", fd);
		if (mount(NULL, t, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			rc = -errno;
		close(fd);
	}
	/* Never leave writable what was asked read-only. */
	if (rc)
		umount2(target, UMOUNT_NOFOLLOW | MNT_DETACH);
	return rc;
}

/*
 * open_tree(OPEN_TREE_CLONE) makes a detached copy of the volume's
 * directory, mount_setattr makes it read-only before anyone can see it, and
 * move_mount attaches it on the target's fd: no path is resolved twice.
 */
static int bind_new(int src, int tgt, bool readonly)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	int tree, rc = 0;

	tree = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		return -errno;
	if (readonly && mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		rc = -errno;
	if (!rc &&
	    move_mount(tree, "", tgt, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		rc = -errno;
	close(tree);
	return rc;
}

static int k_bind_mount(const char *pool, const char *rel, const char *target, bool readonly,
			char *err, size_t err_len)
{
	int rc, pfd, src, tgt = -1;

	rc = quota_target_check(target, err, err_len);
	if (rc)
		return rc;
	src = open_rel(pool, rel, O_PATH | O_DIRECTORY, &pfd, err, err_len);
	if (src < 0)
		return src;
	tgt = open_target(target, err, err_len);
	if (tgt < 0) {
		rc = tgt;
		goto out;
	}
	rc = is_mount_root(tgt);
	if (rc) {
		if (rc > 0)
			rc = refuse(err, err_len, -EBUSY, "target %s is already a mount point",
				    target);
		else
			fail(err, err_len, rc, "cannot stat target %s", target);
		goto out;
	}
	rc = use_legacy ? -ENOSYS : bind_new(src, tgt, readonly);
	if (rc == -ENOSYS)
		rc = bind_legacy(src, tgt, target, readonly);
	if (rc) {
		fail(err, err_len, rc, "cannot bind-mount %s/%s on %s", pool, rel, target);
		goto out;
	}
	log_debug("quota_bind_mount", "pool=%s rel=%s target=%s readonly=%d", pool, rel, target,
		  readonly);
out:
	close_fd(tgt);
	close(src);
	close(pfd);
	return rc;
}

static int k_unmount(const char *target, char *err, size_t err_len)
{
	int rc, fd;

	fd = open_target(target, err, err_len);
	if (fd < 0)
		return fd;
	rc = is_mount_root(fd);
	close(fd);
	if (rc < 0)
		return fail(err, err_len, rc, "cannot stat target %s", target);
	if (rc == 0)
		return refuse(err, err_len, -EINVAL, "target %s is not a mount point", target);
	if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
		rc = -errno;
		if (rc == -EBUSY)
			return refuse(err, err_len, rc, "target %s is busy (open files?)", target);
		return fail(err, err_len, rc, "cannot unmount %s", target);
	}
	log_debug("quota_unmount", "target=%s", target);
	return 0;
}

const struct quota_ops quota_kernel_ops = {
	.make_dir = k_make_dir,
	.rename = k_rename,
	.remove_tree = k_remove_tree,
	.list_dir = k_list_dir,
	.project_get = k_project_get,
	.project_set = k_project_set,
	.limit_set = k_limit_set,
	.usage_get = k_usage_get,
	.usage_get_many = k_usage_get_many,
	.meta_set = k_meta_set,
	.meta_get = k_meta_get,
	.meta_get_many = k_meta_get_many,
	.stat_dir = k_stat_dir,
	.bind_mount = k_bind_mount,
	.unmount = k_unmount,
};

/*
 * A volume of N bytes must let its user store N bytes, in writes of any
 * size. What the project is charged or must keep free besides the user's
 * data, measured on the emulated node (Debian 6.1 kernel, mkfs defaults of
 * Debian 12, 4 KiB blocks, DAX; a writer without CAP_SYS_RESOURCE, single
 * writes of 8 MiB, writes of 1 MiB and of 4 KiB; limit = 8 MiB + k blocks):
 *  - ext4: the volume directory's own data block moves into the project with
 *    FS_IOC_FSSETXATTR. k = 0 stores 8 MiB - 4 KiB; k = 1 stores exactly
 *    8 MiB with every write size, and not one block more.
 *  - xfs: an empty directory lives inside its inode (nothing charged), but
 *    every allocating write reserves its blocks plus a worst-case bmap btree
 *    split (XFS_EXTENTADD_SPACE_RES: XFS_BM_MAXLEVELS - 1 = 4 blocks here)
 *    and fails whole when that does not fit: k = 0 stores 4 MiB with one
 *    8 MiB write, 7 MiB with 1 MiB writes, 8 MiB - 16 KiB with 4 KiB writes;
 *    k = 4 stores exactly 8 MiB with every write size, and not one block
 *    more. (An xfs made with -i nrext64=1 has taller bmap btrees and would
 *    need 2-3 blocks more; pools are made with the defaults.)
 * The trade-off: statfs (df) inside a volume reports the limit as its size.
 * With the slack added, an empty ext4 volume shows Size N + 4 KiB, Used
 * 4 KiB, Avail N; an xfs one Size = Avail = N + 16 KiB, of which 16 KiB stay
 * shown as free once N bytes are stored. Without it, df's Size would be N
 * but the user could store up to 4 MiB less than asked. We keep the promise
 * on what can be stored. Further metadata (directory blocks of many files,
 * extent blocks of large fragmented files) is the user's own usage, as on
 * any filesystem. Sizes round up to whole blocks (quota charges blocks).
 * Never returns 0, which the quota interface reads as "no limit".
 */
#define EXT4_SLACK_BLOCKS 1
#define XFS_SLACK_BLOCKS  4

uint64_t quota_limit_for_size(uint64_t size_bytes, enum config_fstype fstype, uint64_t block_size)
{
	uint64_t bs = block_size ? block_size : 4096; /* both filesystems' default */
	uint64_t slack = bs * (fstype == CONFIG_FS_EXT4 ? EXT4_SLACK_BLOCKS : XFS_SLACK_BLOCKS);
	uint64_t blocks = size_bytes / bs + (size_bytes % bs != 0);

	if (blocks > (UINT64_MAX - slack) / bs)
		return UINT64_MAX / bs * bs;
	return blocks * bs + slack;
}
