/* topology-fs: filesystems on PMEM: probe (libblkid), mkfs (exec), directories, mounts (libmount,
 * mount(2)). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blkid/blkid.h>
#include <libmount/libmount.h>

#include "topology/topology-kernel.h"
#include "util/log.h"

extern char **environ;

/* Only names the kernel would create under /dev: no path tricks through the device name. */
static int dev_path(const char *blockdev, char *path, size_t len, char *err, size_t err_len)
{
	if (!blockdev || !blockdev[0] || strchr(blockdev, '/') || strcmp(blockdev, ".") == 0 ||
	    strcmp(blockdev, "..") == 0)
		return topology_kernel_errf(err, err_len, -EINVAL, "invalid block device name '%s'",
					    blockdev ? blockdev : "");
	if ((size_t)snprintf(path, len, "/dev/%s", blockdev) >= len)
		return topology_kernel_errf(err, err_len, -ENAMETOOLONG,
					    "block device name too long");
	return 0;
}

/* ---- probe ---- */

int topology_fs_probe(const char *blockdev, char *fstype, size_t fstype_len, char *uuid,
		      size_t uuid_len, char *err, size_t err_len)
{
	char path[PATH_MAX];
	const char *val = NULL;
	blkid_probe pr;
	int rc;

	rc = dev_path(blockdev, path, sizeof(path), err, err_len);
	if (rc)
		return rc;
	pr = blkid_new_probe_from_filename(path);
	if (!pr) {
		rc = errno ? -errno : -EIO;
		return topology_kernel_errf(err, err_len, rc, "cannot open %s for probing: %s",
					    path, strerror(-rc));
	}
	/*
	 * Filesystems and, so that a partitioned device never looks empty,
	 * partition tables: a device with either holds someone's data.
	 */
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	rc = blkid_do_safeprobe(pr);
	fstype[0] = '\0';
	uuid[0] = '\0';
	if (rc == 0) {
		if (blkid_probe_lookup_value(pr, "TYPE", &val, NULL) == 0 ||
		    blkid_probe_lookup_value(pr, "PTTYPE", &val, NULL) == 0)
			snprintf(fstype, fstype_len, "%s", val);
		else
			snprintf(fstype, fstype_len, "unknown");
		if (blkid_probe_lookup_value(pr, "UUID", &val, NULL) == 0)
			snprintf(uuid, uuid_len, "%s", val);
		rc = 0;
	} else if (rc == 1) {
		rc = 0; /* nothing recognised */
	} else if (rc == -2) {
		/* Several signatures that contradict each other: data, of an unclear kind. */
		snprintf(fstype, fstype_len, "ambivalent");
		rc = 0;
	} else {
		rc = topology_kernel_errf(err, err_len, -EIO, "probing %s failed", path);
	}
	blkid_free_probe(pr);
	return rc;
}

/* ---- mkfs ---- */

/* mkfs tools live in sbin; look there only, never in a caller-controlled PATH. */
static int find_tool(const char *name, char *path, size_t len)
{
	static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, len, "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/*
 * Runs argv[0] (found by find_tool) with stdin and stdout on /dev/null and
 * its stderr captured; on failure, the tail of that stderr goes into err.
 */
static int run_tool(const char *const argv[], char *err, size_t err_len)
{
	char path[PATH_MAX], out[4096];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	size_t used = 0;
	int pipefd[2], rc, status;
	pid_t pid;

	if (find_tool(argv[0], path, sizeof(path)))
		return topology_kernel_errf(err, err_len, -ENOENT, "%s is not installed", argv[0]);
	if (pipe2(pipefd, O_CLOEXEC))
		return topology_kernel_errf(err, err_len, -errno, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	/* A clean signal state: the daemon may block or ignore signals the tool needs. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	/* posix_spawn's argv is not const for historical reasons; it does not write it. */
	rc = posix_spawn(&pid, path, &fa, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (rc) {
		close(pipefd[0]);
		return topology_kernel_errf(err, err_len, -rc, "cannot run %s: %s", path,
					    strerror(rc));
	}
	for (;;) {
		char buf[1024];
		ssize_t n = read(pipefd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Keep the tail: the last lines say what went wrong. */
		if (used + (size_t)n >= sizeof(out)) {
			size_t drop = used + (size_t)n - (sizeof(out) - 1);

			memmove(out, out + drop, used - drop);
			used -= drop;
		}
		memcpy(out + used, buf, (size_t)n);
		used += (size_t)n;
	}
	close(pipefd[0]);
	out[used] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return topology_kernel_errf(err, err_len, -errno, "waitpid: %s",
						    strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	while (used > 0 && out[used - 1] == ' ')
		out[--used] = '\0';
	if (WIFEXITED(status))
		return topology_kernel_errf(err, err_len, -EIO, "%s failed (exit %d): %s", argv[0],
					    WEXITSTATUS(status), out[0] ? out : "no message");
	return topology_kernel_errf(err, err_len, -EIO, "%s killed by signal %d: %s", argv[0],
				    WTERMSIG(status), out);
}

int topology_fs_mkfs(const char *blockdev, enum config_fstype fstype, char *err, size_t err_len)
{
	char path[PATH_MAX];
	int rc = dev_path(blockdev, path, sizeof(path), err, err_len);

	if (rc)
		return rc;
	switch (fstype) {
	case CONFIG_FS_EXT4: {
		/*
		 * -O quota,project: project quotas (one project per volume) are
		 * a filesystem feature on ext4 and cannot be added while
		 * mounted. -b 4096: DAX needs the block size to be the page
		 * size. -m 0: no root-reserved blocks; the pool keeps its own
		 * reserve in config. nodiscard: discarding PMEM is just slow.
		 */
		const char *const argv[] = {
			"mkfs.ext4",	 "-F", "-q",	    "-b", "4096", "-m", "0", "-O",
			"quota,project", "-E", "nodiscard", path, NULL};

		rc = run_tool(argv, err, err_len);
		break;
	}
	case CONFIG_FS_XFS: {
		/*
		 * reflink=0: XFS refuses DAX on reflink-capable filesystems.
		 * Project quotas on XFS need no mkfs feature, only the mount
		 * option.
		 */
		const char *const argv[] = {"mkfs.xfs", "-f", "-q", "-m", "reflink=0", path, NULL};

		rc = run_tool(argv, err, err_len);
		break;
	}
	default:
		return topology_kernel_errf(err, err_len, -EINVAL, "unknown filesystem type %d",
					    (int)fstype);
	}
	if (rc == 0)
		log_debug("topology_mkfs", "dev=%s fstype=%s", path, config_fstype_name(fstype));
	return rc;
}

/* ---- directories ---- */

/*
 * mkdir -p, one component at a time relative to an open parent, never
 * following a symlink (O_NOFOLLOW): a symlink or a file anywhere on the way
 * is -ENOTDIR, and nothing can be swapped in between check and use.
 */
int topology_fs_make_dir(const char *path, char *err, size_t err_len)
{
	char buf[PATH_MAX], *save = NULL, *comp;
	int fd, rc = 0;

	if (!path || path[0] != '/')
		return topology_kernel_errf(err, err_len, -EINVAL, "'%s' is not an absolute path",
					    path ? path : "");
	if (strlen(path) >= sizeof(buf))
		return topology_kernel_errf(err, err_len, -ENAMETOOLONG, "path too long");
	snprintf(buf, sizeof(buf), "%s", path);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return topology_kernel_errf(err, err_len, -errno, "open /: %s", strerror(errno));
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		bool created = false;
		int next;

		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			rc = topology_kernel_errf(err, err_len, -EINVAL,
						  "'%s': '.' and '..' are not allowed", path);
			break;
		}
		if (mkdirat(fd, comp, 0755) == 0)
			created = true;
		else if (errno != EEXIST) {
			rc = topology_kernel_errf(err, err_len, -errno, "mkdir %s in %s: %s", comp,
						  path, strerror(errno));
			break;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			rc = errno == ELOOP || errno == ENOTDIR ? -ENOTDIR : -errno;
			topology_kernel_errf(
				err, err_len, rc, "%s: component '%s' is %s", path, comp,
				rc == -ENOTDIR ? "not a directory (or a symlink)" : strerror(-rc));
			break;
		}
		/* mkdir's mode is filtered by the umask; the contract is 0755. */
		if (created)
			fchmod(next, 0755);
		close(fd);
		fd = next;
	}
	close(fd);
	return rc;
}

/* ---- mounts ---- */

static bool opt_present(const char *optstr, const char *name, const char *const *values)
{
	char *val = NULL;
	size_t valsz = 0;

	if (!optstr || mnt_optstr_get_option(optstr, name, &val, &valsz) != 0)
		return false;
	if (!values)
		return true;
	if (!val)
		return values[0] == NULL || strcmp(values[0], "") == 0;
	for (size_t i = 0; values[i]; i++)
		if (strlen(values[i]) == valsz && strncmp(val, values[i], valsz) == 0)
			return true;
	return false;
}

/* "dax" (ext4, older xfs) or "dax=always" (ext4 and xfs since 5.8); not dax=never/inode. */
static bool dax_on(const char *opts)
{
	static const char *const plain_or_always[] = {"", "always", NULL};

	return opt_present(opts, "dax", plain_or_always);
}

/*
 * Project quota accounting or enforcement: ext4 says "prjquota" (or the
 * journalled "prjjquota=..."), xfs says "prjquota" for pquota and
 * "pqnoenforce" for accounting only.
 */
static bool prjquota_on(const char *opts)
{
	return opt_present(opts, "prjquota", NULL) || opt_present(opts, "prjjquota", NULL) ||
	       opt_present(opts, "pquota", NULL) || opt_present(opts, "pqnoenforce", NULL);
}

/* "/mnt/x/" → "/mnt/x", as mountinfo spells targets. */
static int canonical_target(const char *path, char *out, size_t len, char *err, size_t err_len)
{
	size_t n;

	if (!path || path[0] != '/')
		return topology_kernel_errf(err, err_len, -EINVAL, "'%s' is not an absolute path",
					    path ? path : "");
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= len)
		return topology_kernel_errf(err, err_len, -ENAMETOOLONG, "path too long");
	memcpy(out, path, n);
	out[n] = '\0';
	return 0;
}

int topology_fs_find_mount(const char *path, struct topology_mount *out, char *err, size_t err_len)
{
	char target[PATH_MAX];
	struct libmnt_table *tb;
	struct libmnt_iter *it;
	struct libmnt_fs *fs, *found = NULL;
	int rc = canonical_target(path, target, sizeof(target), err, err_len);

	if (rc)
		return rc;
	tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return topology_kernel_errf(err, err_len, -EIO, "cannot read /proc/self/mountinfo");
	it = mnt_new_iter(MNT_ITER_BACKWARD);
	if (!it) {
		mnt_unref_table(tb);
		return topology_kernel_errf(err, err_len, -ENOMEM, "out of memory");
	}
	/*
	 * Exact string match on the target, newest first (the top of a stack
	 * of mounts is what a path resolves to). mnt_table_find_target would
	 * also canonicalise through symlinks, which is not what "mounted
	 * exactly here" means.
	 */
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);

		if (t && strcmp(t, target) == 0) {
			found = fs;
			break;
		}
	}
	if (!found) {
		rc = topology_kernel_errf(err, err_len, -ENOENT, "nothing is mounted at %s",
					  target);
	} else {
		const char *src = mnt_fs_get_source(found), *type = mnt_fs_get_fstype(found);
		const char *opts = mnt_fs_get_options(found);
		const char *fsopts = mnt_fs_get_fs_options(found);

		memset(out, 0, sizeof(*out));
		snprintf(out->source, sizeof(out->source), "%s", src ? src : "");
		snprintf(out->fstype, sizeof(out->fstype), "%s", type ? type : "");
		snprintf(out->options, sizeof(out->options), "%s", opts ? opts : "");
		out->dax = dax_on(fsopts) || dax_on(opts);
		out->prjquota = prjquota_on(fsopts);
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return rc;
}

#define PROPAGATION_FLAGS (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE | MS_REC)

int topology_fs_mount(const char *blockdev, const char *path, enum config_fstype fstype,
		      const char *options, char *err, size_t err_len)
{
	char dev[PATH_MAX], target[PATH_MAX];
	char *opts = NULL, *vfs = NULL, *fsopts = NULL;
	const char *type = fstype == CONFIG_FS_XFS ? "xfs" : "ext4";
	unsigned long flags = 0, prop;
	struct topology_mount m;
	char why[64];
	int rc;

	if ((rc = dev_path(blockdev, dev, sizeof(dev), err, err_len)) ||
	    (rc = canonical_target(path, target, sizeof(target), err, err_len)))
		return rc;
	if (fstype != CONFIG_FS_EXT4 && fstype != CONFIG_FS_XFS)
		return topology_kernel_errf(err, err_len, -EINVAL, "unknown filesystem type %d",
					    (int)fstype);
	/* Never stack a second mount on a pool: the caller adopts what is there. */
	if (topology_fs_find_mount(target, &m, why, sizeof(why)) == 0)
		return topology_kernel_errf(err, err_len, -EBUSY, "%s is already mounted (%s, %s)",
					    target, m.source, m.fstype);

	/* A pool is always DAX with project quotas; the pool's own options come on top. */
	if (options && options[0]) {
		opts = strdup(options);
		if (!opts)
			return topology_kernel_errf(err, err_len, -ENOMEM, "out of memory");
	}
	if ((!dax_on(opts) && mnt_optstr_prepend_option(&opts, "dax", NULL)) ||
	    (!prjquota_on(opts) && mnt_optstr_append_option(&opts, "prjquota", NULL))) {
		rc = topology_kernel_errf(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
	/*
	 * VFS flags (ro, noatime, nosuid, shared, ...) become mount(2) flags;
	 * the rest is the filesystem's data string; userspace-only options
	 * (nofail, x-*) mean nothing to the kernel and are dropped.
	 */
	if (mnt_split_optstr(opts, NULL, &vfs, &fsopts, 1, 0) ||
	    (vfs && mnt_optstr_get_flags(vfs, &flags, mnt_get_builtin_optmap(MNT_LINUX_MAP)))) {
		rc = topology_kernel_errf(err, err_len, -EINVAL, "cannot parse mount options '%s'",
					  opts ? opts : "");
		goto out;
	}
	/*
	 * Propagation ("shared", "private", ...) is not a property of a new
	 * mount: mount(2) ignores everything else when those flags are set,
	 * so they take a second call on the mounted target.
	 */
	prop = flags & PROPAGATION_FLAGS;
	flags &= ~PROPAGATION_FLAGS;
	if (mount(dev, target, type, flags, fsopts) != 0) {
		rc = topology_kernel_errf(
			err, err_len, -errno,
			"mount %s on %s (%s, %s): %s (the kernel log may say more)", dev, target,
			type, fsopts ? fsopts : "", strerror(errno));
		goto out;
	}
	if (prop && mount(NULL, target, NULL, prop, NULL) != 0) {
		rc = topology_kernel_errf(err, err_len, -errno, "making %s %s: %s", target,
					  "shared/private", strerror(errno));
		umount2(target, 0);
		goto out;
	}
	/* Some kernels fall back to non-DAX silently; a pool without DAX is not a pool. */
	if (topology_fs_find_mount(target, &m, why, sizeof(why)) == 0 && !m.dax) {
		umount2(target, 0);
		rc = topology_kernel_errf(
			err, err_len, -EOPNOTSUPP,
			"%s mounted on %s without DAX (options now: %s); unmounted", dev, target,
			m.options);
		goto out;
	}
	log_debug("topology_mount", "dev=%s target=%s fstype=%s flags=%#lx propagation=%#lx", dev,
		  target, type, flags, prop);
out:
	free(opts);
	free(vfs);
	free(fsopts);
	return rc;
}

/* ---- capacity ---- */

int topology_fs_stat(const char *path, uint64_t *total, uint64_t *avail, uint64_t *inodes,
		     uint64_t *inodes_free, char *err, size_t err_len)
{
	struct statvfs st;

	if (statvfs(path, &st) != 0)
		return topology_kernel_errf(err, err_len, -errno, "statfs %s: %s", path,
					    strerror(errno));
	*total = (uint64_t)st.f_blocks * st.f_frsize;
	*avail = (uint64_t)st.f_bavail * st.f_frsize; /* what an unprivileged writer gets */
	*inodes = st.f_files;
	*inodes_free = st.f_ffree;
	return 0;
}

/*
 * Anything but lost+found (mkfs.ext4's) and pmemd's own dot-directories
 * (".pmemd*": staging, catalog) is a volume or someone's data. A missing
 * directory holds nothing.
 */
int topology_fs_pool_has_volumes(const char *path, bool *has, char *err, size_t err_len)
{
	struct dirent *de;
	DIR *d;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT) {
			*has = false;
			return 0;
		}
		return topology_kernel_errf(err, err_len, -errno, "open %s: %s", path,
					    strerror(errno));
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return topology_kernel_errf(err, err_len, -errno, "opendir %s: %s", path,
					    strerror(errno));
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "lost+found") == 0 || strncmp(de->d_name, ".pmemd", 6) == 0)
			continue;
		break;
	}
	if (!de && errno) {
		int rc = -errno;

		closedir(d);
		return topology_kernel_errf(err, err_len, rc, "readdir %s: %s", path,
					    strerror(-rc));
	}
	*has = de != NULL;
	closedir(d);
	return 0;
}
