/* test-quota-kernel: the real kernel boundary of volumes, as far as this host's filesystems go
 * (path checks, directories, removal, listing, xattrs, statfs, mount refusals); quotas and bind
 * mounts themselves are proven in the emulated node (test/node/tests/8*-quota-*.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quota/quota-kernel.h"
#include "quota/quota.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define KiB	1024ull
#define MiB	(1024ull * KiB)

static const struct quota_ops *ops = &quota_kernel_ops;

/* Formats into buf; a scratch path never gets near PATH_MAX, say so to the compiler too. */
__attribute__((format(printf, 3, 4))) static void fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

/* Each test gets a fresh pool directory and a sibling "outside" directory. */
struct fx {
	char base[PATH_MAX];
	char pool[PATH_MAX];
	char outside[PATH_MAX];
	char err[512];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->base, sizeof(f->base), "%s/test-quota-kernel.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->base)) {
		free(f);
		return -1;
	}
	fmt(f->pool, sizeof(f->pool), "%s/pool", f->base);
	fmt(f->outside, sizeof(f->outside), "%s/outside", f->base);
	if (mkdir(f->pool, 0755) < 0 || mkdir(f->outside, 0755) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 32];
	int rc;

	/* The test's own scratch tree, a fixed path under mkdtemp: no user input. */
	fmt(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
	rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void path(char *buf, size_t len, const char *a, const char *b)
{
	fmt(buf, len, "%s/%s", a, b);
}

static bool exists(const char *a, const char *b)
{
	char p[PATH_MAX];
	struct stat st;

	path(p, sizeof(p), a, b);
	return lstat(p, &st) == 0;
}

static void write_file(const char *a, const char *b, const char *text)
{
	char p[PATH_MAX];
	FILE *fp;

	path(p, sizeof(p), a, b);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void mkdir_in(const char *a, const char *b)
{
	char p[PATH_MAX];

	path(p, sizeof(p), a, b);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void symlink_in(const char *to, const char *a, const char *b)
{
	char p[PATH_MAX];

	path(p, sizeof(p), a, b);
	assert_int_equal(symlink(to, p), 0);
}

/* ---- pure checks ---- */

static void test_rel_check(void **state)
{
	static const char *good[] = {"a",  "vol-1", "a/b", ".pmemd/staging/v", "a..b", "...",
				     ".x", "x.",    "a b", "pvc-0123.abc-def"};
	static const char *bad[] = {"",	      "/",     "/etc", "..", "../x",	".",	"./a",
				    "a/../b", "a/./b", "a//b", "a/", "a/b/c/d", "a/..", "//"};
	char err[256], longc[NAME_MAX + 2], longp[PATH_MAX + 8];
	(void)state;

	for (size_t i = 0; i < N_OF(good); i++) {
		int rc = quota_rel_check(good[i], false, err, sizeof(err));

		if (rc)
			fprintf(stderr, "good \"%s\": %s\n", good[i], err);
		assert_int_equal(rc, 0);
	}
	for (size_t i = 0; i < N_OF(bad); i++) {
		err[0] = '\0';
		if (quota_rel_check(bad[i], false, err, sizeof(err)) != -EINVAL)
			fprintf(stderr, "bad \"%s\" accepted\n", bad[i]);
		assert_int_equal(quota_rel_check(bad[i], false, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(quota_rel_check(NULL, true, err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_rel_check("", true, err, sizeof(err)), 0);
	memset(longc, 'a', sizeof(longc) - 1);
	longc[sizeof(longc) - 1] = '\0';
	assert_int_equal(quota_rel_check(longc, false, err, sizeof(err)), -EINVAL);
	longc[NAME_MAX] = '\0';
	assert_int_equal(quota_rel_check(longc, false, err, sizeof(err)), 0);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(quota_rel_check(longp, false, err, sizeof(err)), -EINVAL);
	/* A NULL or zero-length message buffer is fine. */
	assert_int_equal(quota_rel_check("..", false, NULL, 0), -EINVAL);
}

static void test_target_check(void **state)
{
	static const char *good[] = {
		"/tmp/x", "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount", "/a"};
	static const char *bad[] = {"",	   "rel/x", "/",   "/a/../b", "/a/./b",
				    "/..", "/a//b", "/a/", "//a",     "/a/.."};
	char err[256];
	(void)state;

	for (size_t i = 0; i < N_OF(good); i++)
		assert_int_equal(quota_target_check(good[i], err, sizeof(err)), 0);
	for (size_t i = 0; i < N_OF(bad); i++) {
		if (quota_target_check(bad[i], err, sizeof(err)) != -EINVAL)
			fprintf(stderr, "bad target \"%s\" accepted\n", bad[i]);
		assert_int_equal(quota_target_check(bad[i], err, sizeof(err)), -EINVAL);
	}
	assert_int_equal(quota_target_check(NULL, err, sizeof(err)), -EINVAL);
}

static void test_meta_key_check(void **state)
{
	char err[256], key[QUOTA_META_KEY_MAX + 2];
	(void)state;

	assert_int_equal(quota_meta_key_check("size", err, sizeof(err)), 0);
	assert_int_equal(quota_meta_key_check("labels.v1_x-y", err, sizeof(err)), 0);
	assert_int_equal(quota_meta_key_check("", err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_meta_key_check(NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_meta_key_check("Size", err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_meta_key_check("a/b", err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_meta_key_check("a b", err, sizeof(err)), -EINVAL);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(quota_meta_key_check(key, err, sizeof(err)), -EINVAL);
	key[QUOTA_META_KEY_MAX] = '\0';
	assert_int_equal(quota_meta_key_check(key, err, sizeof(err)), 0);
}

static void test_limit_for_size(void **state)
{
	struct {
		uint64_t size;
		enum config_fstype t;
		uint64_t bs;
		uint64_t want;
	} cases[] = {
		/* ext4: the volume directory's own block on top, sizes rounded up to blocks. */
		{8 * MiB, CONFIG_FS_EXT4, 4096, 8 * MiB + 4096},
		{1, CONFIG_FS_EXT4, 4096, 2 * 4096},
		{4096, CONFIG_FS_EXT4, 4096, 2 * 4096},
		{4097, CONFIG_FS_EXT4, 4096, 3 * 4096},
		{8 * MiB, CONFIG_FS_EXT4, 1024, 8 * MiB + 1024},
		{0, CONFIG_FS_EXT4, 4096, 4096}, /* never 0: "no limit" */
		/* xfs: room for the bmap btree reservation of one write (4 blocks). */
		{8 * MiB, CONFIG_FS_XFS, 4096, 8 * MiB + 4 * 4096},
		{1, CONFIG_FS_XFS, 4096, 5 * 4096},
		{8 * MiB + 1, CONFIG_FS_XFS, 4096, 8 * MiB + 5 * 4096},
		{0, CONFIG_FS_XFS, 4096, 4 * 4096},
		{1024 * MiB, CONFIG_FS_XFS, 65536, 1024 * MiB + 4 * 65536},
		/* block size 0 (unknown): 4096, the default of both. */
		{8 * MiB, CONFIG_FS_EXT4, 0, 8 * MiB + 4096},
		/* Saturates instead of wrapping to a small number. */
		{UINT64_MAX, CONFIG_FS_EXT4, 4096, UINT64_MAX - 4095},
		{UINT64_MAX - 4 * 4096, CONFIG_FS_XFS, 4096, UINT64_MAX - 4095},
		{UINT64_MAX - 8 * 4096 + 1, CONFIG_FS_XFS, 4096,
		 UINT64_MAX - 4 * 4096 + 1}, /* just fits */
	};
	(void)state;

	for (size_t i = 0; i < N_OF(cases); i++) {
		uint64_t got = quota_limit_for_size(cases[i].size, cases[i].t, cases[i].bs);

		if (got != cases[i].want)
			fprintf(stderr, "case %zu: got %llu want %llu\n", i,
				(unsigned long long)got, (unsigned long long)cases[i].want);
		assert_true(got == cases[i].want);
	}
}

/* ---- on this host's filesystem ---- */

static void test_hostile_rel(void **state)
{
	static const char *hostile[] = {"..", "a/../b", "/etc", "", "a//b", "../outside"};
	struct fx *f = *state;
	struct quota_dirent *v = (void *)0x1;
	struct quota_usage u;
	char buf[64];
	uint64_t a = 7, b = 7;
	uint32_t id = 7;
	bool inh = true;
	size_t n = 7;

	for (size_t i = 0; i < N_OF(hostile); i++) {
		const char *r = hostile[i];

		assert_int_equal(ops->make_dir(f->pool, r, 0755, f->err, sizeof(f->err)), -EINVAL);
		assert_int_equal(ops->rename(f->pool, r, "x", f->err, sizeof(f->err)), -EINVAL);
		assert_int_equal(ops->rename(f->pool, "x", r, f->err, sizeof(f->err)), -EINVAL);
		assert_int_equal(ops->remove_tree(f->pool, r, f->err, sizeof(f->err)), -EINVAL);
		if (*r)
			assert_int_equal(ops->list_dir(f->pool, r, &v, &n, f->err, sizeof(f->err)),
					 -EINVAL);
		assert_int_equal(ops->project_get(f->pool, r, &id, &inh, f->err, sizeof(f->err)),
				 -EINVAL);
		assert_int_equal(ops->project_set(f->pool, r, 1000, f->err, sizeof(f->err)),
				 -EINVAL);
		assert_int_equal(ops->meta_set(f->pool, r, "k", "v", f->err, sizeof(f->err)),
				 -EINVAL);
		assert_int_equal(
			ops->meta_get(f->pool, r, "k", buf, sizeof(buf), f->err, sizeof(f->err)),
			-EINVAL);
		assert_int_equal(ops->stat_dir(f->pool, r, &a, &b, f->err, sizeof(f->err)),
				 -EINVAL);
		assert_int_equal(
			ops->bind_mount(f->pool, r, f->outside, false, f->err, sizeof(f->err)),
			-EINVAL);
	}
	/* Output parameters are untouched on failure. */
	assert_ptr_equal(v, (void *)0x1);
	assert_int_equal(n, 7);
	assert_int_equal(id, 7);
	assert_true(inh);
	assert_true(a == 7 && b == 7);
	assert_false(exists(f->base, "x"));
	/* A relative pool is refused too. */
	assert_int_equal(ops->make_dir("rel/pool", "v", 0755, f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(ops->usage_get("rel/pool", 1000, &u, f->err, sizeof(f->err)), -EINVAL);
}

static void test_make_dir(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];
	struct stat st;
	mode_t old = umask(077);

	assert_int_equal(ops->make_dir(f->pool, "v", 0775, f->err, sizeof(f->err)), 0);
	umask(old);
	path(p, sizeof(p), f->pool, "v");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Exactly the mode asked for, whatever the umask. */
	assert_int_equal(st.st_mode & 07777, 0775);
	assert_int_equal(ops->make_dir(f->pool, "v", 0775, f->err, sizeof(f->err)), -EEXIST);
	assert_non_null(strstr(f->err, "v"));
	assert_int_equal(ops->make_dir(f->pool, "missing/v", 0755, f->err, sizeof(f->err)),
			 -ENOENT);
	assert_int_equal(ops->make_dir(f->pool, "v/w", 0700, f->err, sizeof(f->err)), 0);
	assert_int_equal(ops->make_dir(f->pool, "v/w/x", 0700, f->err, sizeof(f->err)), 0);
	assert_int_equal(ops->make_dir(f->pool, "v", 010000, f->err, sizeof(f->err)), -EINVAL);
}

static void test_symlinks_refused(void **state)
{
	struct fx *f = *state;
	char buf[64];
	uint64_t a, b;
	uint32_t id;
	bool inh;

	symlink_in(f->outside, f->pool, "link");
	assert_int_equal(ops->make_dir(f->pool, "link/v", 0755, f->err, sizeof(f->err)), -ELOOP);
	assert_non_null(strstr(f->err, "symlink"));
	assert_false(exists(f->outside, "v"));
	assert_int_equal(ops->project_get(f->pool, "link", &id, &inh, f->err, sizeof(f->err)),
			 -ELOOP);
	assert_int_equal(ops->stat_dir(f->pool, "link", &a, &b, f->err, sizeof(f->err)), -ELOOP);
	assert_int_equal(ops->meta_set(f->pool, "link", "k", "v", f->err, sizeof(f->err)), -ELOOP);
	assert_int_equal(
		ops->meta_get(f->pool, "link", "k", buf, sizeof(buf), f->err, sizeof(f->err)),
		-ELOOP);
	assert_int_equal(ops->remove_tree(f->pool, "link", f->err, sizeof(f->err)), -ELOOP);
	assert_true(exists(f->pool, "link"));
	/*
	 * The legacy walk (no openat2: kernels before 5.6, valgrind) refuses the same, with the
	 * same code and message: O_NOFOLLOW | O_DIRECTORY alone would say ENOTDIR.
	 */
	quota_kernel_set_legacy(true);
	assert_int_equal(ops->make_dir(f->pool, "link/v", 0755, f->err, sizeof(f->err)), -ELOOP);
	assert_non_null(strstr(f->err, "symlink"));
	assert_int_equal(ops->project_get(f->pool, "link", &id, &inh, f->err, sizeof(f->err)),
			 -ELOOP);
	assert_non_null(strstr(f->err, "symlink"));
	assert_int_equal(ops->stat_dir(f->pool, "link", &a, &b, f->err, sizeof(f->err)), -ELOOP);
	assert_int_equal(ops->remove_tree(f->pool, "link", f->err, sizeof(f->err)), -ELOOP);
	assert_true(exists(f->pool, "link"));
	quota_kernel_set_legacy(false);
	assert_false(exists(f->outside, "v"));
}

static void test_rename(void **state)
{
	struct fx *f = *state;

	assert_int_equal(ops->make_dir(f->pool, ".pmemd", 0700, f->err, sizeof(f->err)), 0);
	assert_int_equal(ops->make_dir(f->pool, QUOTA_STAGING_DIR, 0700, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(
		ops->make_dir(f->pool, QUOTA_STAGING_DIR "/v1", 0755, f->err, sizeof(f->err)), 0);
	write_file(f->pool, QUOTA_STAGING_DIR "/v1/data", "hello");
	assert_int_equal(
		ops->rename(f->pool, QUOTA_STAGING_DIR "/v1", "v1", f->err, sizeof(f->err)), 0);
	assert_true(exists(f->pool, "v1/data"));
	assert_int_equal(ops->make_dir(f->pool, "v2", 0755, f->err, sizeof(f->err)), 0);
	assert_int_equal(ops->rename(f->pool, "v1", "v2", f->err, sizeof(f->err)), -EEXIST);
	assert_true(exists(f->pool, "v1/data"));
	assert_int_equal(ops->rename(f->pool, "nope", "v3", f->err, sizeof(f->err)), -ENOENT);
	assert_int_equal(ops->rename(f->pool, "v2", "missing/v2", f->err, sizeof(f->err)), -ENOENT);
}

static void test_remove_tree(void **state)
{
	struct fx *f = *state;
	char name[32];
	int fd, next;

	write_file(f->outside, "keep", "precious");
	mkdir_in(f->outside, "keepdir");
	write_file(f->outside, "keepdir/file", "precious too");
	assert_int_equal(ops->make_dir(f->pool, "v", 0755, f->err, sizeof(f->err)), 0);
	/*
	 * A tree deeper than PATH_MAX allows to name (1000 levels of 12-byte
	 * names), with files at every level: removal must not need paths,
	 * recursion or an fd per level.
	 */
	{
		char p[PATH_MAX];

		path(p, sizeof(p), f->pool, "v");
		fd = open(p, O_RDONLY | O_DIRECTORY);
		assert_true(fd >= 0);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "level-%06d", i);
		assert_int_equal(mkdirat(fd, name, 0755), 0);
		next = openat(fd, "f", O_WRONLY | O_CREAT, 0644);
		assert_true(next >= 0);
		close(next);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	/* Symlinks to outside, deep down and at the top: unlinked, never followed. */
	assert_int_equal(symlinkat(f->outside, fd, "escape"), 0);
	close(fd);
	symlink_in(f->outside, f->pool, "v/escape");
	{
		char t[PATH_MAX];

		path(t, sizeof(t), f->outside, "keep");
		symlink_in(t, f->pool, "v/keep-link");
	}
	mkdir_in(f->pool, "v/empty");
	assert_int_equal(ops->remove_tree(f->pool, "v", f->err, sizeof(f->err)), 0);
	assert_false(exists(f->pool, "v"));
	assert_true(exists(f->outside, "keep"));
	assert_true(exists(f->outside, "keepdir/file"));
	assert_int_equal(ops->remove_tree(f->pool, "v", f->err, sizeof(f->err)), -ENOENT);
	write_file(f->pool, "file", "x");
	assert_int_equal(ops->remove_tree(f->pool, "file", f->err, sizeof(f->err)), -ENOTDIR);
	/* Two components (a volume in trash) work too; the legacy walk as well. */
	mkdir_in(f->pool, ".pmemd");
	mkdir_in(f->pool, ".pmemd/trash");
	mkdir_in(f->pool, ".pmemd/trash/v");
	mkdir_in(f->pool, ".pmemd/trash/v/a");
	write_file(f->pool, ".pmemd/trash/v/a/b", "x");
	quota_kernel_set_legacy(true);
	assert_int_equal(ops->remove_tree(f->pool, QUOTA_TRASH_DIR "/v", f->err, sizeof(f->err)),
			 0);
	quota_kernel_set_legacy(false);
	assert_false(exists(f->pool, ".pmemd/trash/v"));
	assert_true(exists(f->pool, ".pmemd/trash"));
}

static void test_list_dir(void **state)
{
	struct fx *f = *state;
	struct quota_dirent *v = NULL;
	char longname[QUOTA_NAME_MAX + 3];
	size_t n = 0;

	assert_int_equal(ops->list_dir(f->pool, "", &v, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	mkdir_in(f->pool, "b");
	mkdir_in(f->pool, "a");
	write_file(f->pool, "c", "x");
	symlink_in(f->outside, f->pool, "d");
	/* Longer than any volume name: skipped, not truncated. */
	memset(longname, 'z', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	mkdir_in(f->pool, longname);
	assert_int_equal(ops->list_dir(f->pool, "", &v, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].name, "a");
	assert_true(v[0].is_dir);
	assert_string_equal(v[1].name, "b");
	assert_true(v[1].is_dir);
	assert_string_equal(v[2].name, "c");
	assert_false(v[2].is_dir);
	assert_string_equal(v[3].name, "d");
	assert_false(v[3].is_dir); /* a symlink to a directory is not one */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].projid, 0); /* this host's filesystems: no project ids set */
		assert_false(v[i].inherit);
	}
	free(v);
	v = NULL;
	mkdir_in(f->pool, "a/x");
	assert_int_equal(ops->list_dir(f->pool, "a", &v, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "x");
	free(v);
	v = (void *)0x1;
	assert_int_equal(ops->list_dir(f->pool, "d", &v, &n, f->err, sizeof(f->err)), -ELOOP);
	assert_int_equal(ops->list_dir(f->pool, "nope", &v, &n, f->err, sizeof(f->err)), -ENOENT);
	/* The legacy walk names the symlink the same way. */
	quota_kernel_set_legacy(true);
	assert_int_equal(ops->list_dir(f->pool, "d", &v, &n, f->err, sizeof(f->err)), -ELOOP);
	assert_non_null(strstr(f->err, "symlink"));
	quota_kernel_set_legacy(false);
	assert_ptr_equal(v, (void *)0x1);
}

static void test_project(void **state)
{
	struct fx *f = *state;
	uint32_t id = 1;
	bool inh = true;
	int rc;

	mkdir_in(f->pool, "v");
	rc = ops->project_get(f->pool, "v", &id, &inh, f->err, sizeof(f->err));
	if (rc == -ENOTTY || rc == -EOPNOTSUPP)
		skip(); /* this host's filesystem has no FS_IOC_FSGETXATTR */
	assert_int_equal(rc, 0);
	assert_int_equal(id, 0);
	assert_false(inh);
	/* Ids outside pmemd's range are refused before any syscall. */
	assert_int_equal(ops->project_set(f->pool, "v", 0, f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(
		ops->project_set(f->pool, "v", QUOTA_PROJID_MIN - 1, f->err, sizeof(f->err)),
		-EINVAL);
	assert_int_equal(
		ops->project_set(f->pool, "v", QUOTA_PROJID_MAX + 1u, f->err, sizeof(f->err)),
		-EINVAL);
	/* Without the ext4 project feature: refused with a reason (proven for real in the node). */
	rc = ops->project_set(f->pool, "v", 1000, f->err, sizeof(f->err));
	if (rc == 0) {
		assert_int_equal(ops->project_get(f->pool, "v", &id, &inh, f->err, sizeof(f->err)),
				 0);
		assert_int_equal(id, 1000);
		assert_true(inh);
	} else {
		assert_true(f->err[0] != '\0');
	}
}

static void test_limits_need_quota(void **state)
{
	struct fx *f = *state;
	struct quota_usage u = {1, 2, 3, 4};
	int rc;

	assert_int_equal(ops->limit_set(f->pool, 0, MiB, 0, f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(ops->usage_get(f->pool, 999, &u, f->err, sizeof(f->err)), -EINVAL);
	assert_true(u.bytes_used == 1 && u.inodes_limit == 4);
	/* This host has no project quota: both paths fail with a reason, nothing crashes. */
	for (int legacy = 0; legacy < 2; legacy++) {
		quota_kernel_set_legacy(legacy);
		f->err[0] = '\0';
		rc = ops->limit_set(f->pool, 1000, MiB, 0, f->err, sizeof(f->err));
		if (rc)
			assert_true(f->err[0] != '\0' && strstr(f->err, "1000"));
		f->err[0] = '\0';
		rc = ops->usage_get(f->pool, 1000, &u, f->err, sizeof(f->err));
		if (rc)
			assert_true(f->err[0] != '\0');
	}
	quota_kernel_set_legacy(false);
}

static void test_meta(void **state)
{
	struct fx *f = *state;
	char buf[64], small[4];
	int rc;

	mkdir_in(f->pool, "v");
	assert_int_equal(ops->meta_set(f->pool, "v", "Bad", "x", f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(ops->meta_set(f->pool, "v", "size", NULL, f->err, sizeof(f->err)),
			 -EINVAL);
	rc = ops->meta_set(f->pool, "v", "size", "8388608", f->err, sizeof(f->err));
	if (rc == -EPERM || rc == -EOPNOTSUPP)
		skip(); /* no trusted.* xattrs here (not root, or the filesystem lacks them) */
	assert_int_equal(rc, 0);
	assert_int_equal(
		ops->meta_get(f->pool, "v", "size", buf, sizeof(buf), f->err, sizeof(f->err)), 0);
	assert_string_equal(buf, "8388608");
	assert_int_equal(ops->meta_set(f->pool, "v", "size", "1", f->err, sizeof(f->err)), 0);
	assert_int_equal(
		ops->meta_get(f->pool, "v", "size", buf, sizeof(buf), f->err, sizeof(f->err)), 0);
	assert_string_equal(buf, "1");
	assert_int_equal(ops->meta_set(f->pool, "v", "labels", "", f->err, sizeof(f->err)), 0);
	assert_int_equal(
		ops->meta_get(f->pool, "v", "labels", buf, sizeof(buf), f->err, sizeof(f->err)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(
		ops->meta_get(f->pool, "v", "created", buf, sizeof(buf), f->err, sizeof(f->err)),
		-ENODATA);
	assert_int_equal(ops->meta_set(f->pool, "v", "created", "2024-01-01T00:00:00Z", f->err,
				       sizeof(f->err)),
			 0);
	assert_int_equal(ops->meta_get(f->pool, "v", "created", small, sizeof(small), f->err,
				       sizeof(f->err)),
			 -ERANGE);
	assert_int_equal(ops->meta_get(f->pool, "v", "size", buf, 0, f->err, sizeof(f->err)),
			 -EINVAL);
}

/* meta_get_many: the same answers as meta_get key by key, from one open. */
static void test_meta_many(void **state)
{
	struct fx *f = *state;
	char a[64], b[64], c[4], d[64];
	char *const vals[] = {a, b, c, d};
	const size_t lens[] = {sizeof(a), sizeof(b), sizeof(c), sizeof(d)};
	const char *const keys[] = {"size", "inodes", "created", "labels"};
	const char *const bad[] = {"size", "Bad"};
	int rcs[4] = {1, 1, 1, 1}, rc;

	mkdir_in(f->pool, "v");
	rc = ops->meta_set(f->pool, "v", "size", "8388608", f->err, sizeof(f->err));
	if (rc == -EPERM || rc == -EOPNOTSUPP)
		skip(); /* no trusted.* xattrs here */
	assert_int_equal(rc, 0);
	assert_int_equal(
		ops->meta_set(f->pool, "v", "created", "1700000000", f->err, sizeof(f->err)), 0);
	assert_int_equal(ops->meta_set(f->pool, "v", "labels", "", f->err, sizeof(f->err)), 0);
	memset(a, 'x', sizeof(a));
	assert_int_equal(
		ops->meta_get_many(f->pool, "v", keys, 4, vals, lens, rcs, f->err, sizeof(f->err)),
		0);
	assert_int_equal(rcs[0], 0);
	assert_string_equal(a, "8388608");
	assert_int_equal(rcs[1], -ENODATA); /* absent */
	assert_string_equal(b, "");
	assert_int_equal(rcs[2], -ERANGE); /* "1700000000" does not fit in 4 bytes */
	assert_int_equal(rcs[3], 0);
	assert_string_equal(d, "");
	/* A bad key or a missing buffer is refused before anything is opened. */
	assert_int_equal(
		ops->meta_get_many(f->pool, "v", bad, 2, vals, lens, rcs, f->err, sizeof(f->err)),
		-EINVAL);
	/* A directory that is not there: the call fails, rcs untouched. */
	rcs[0] = 7;
	assert_int_equal(ops->meta_get_many(f->pool, "missing", keys, 1, vals, lens, rcs, f->err,
					    sizeof(f->err)),
			 -ENOENT);
	assert_int_equal(rcs[0], 7);
	/* The hostile-path rules of every op hold here too. */
	assert_int_equal(ops->meta_get_many(f->pool, "../v", keys, 1, vals, lens, rcs, f->err,
					    sizeof(f->err)),
			 -EINVAL);
}

static void test_stat_dir(void **state)
{
	struct fx *f = *state;
	uint64_t total = 0, avail = 0;

	mkdir_in(f->pool, "v");
	assert_int_equal(ops->stat_dir(f->pool, "v", &total, &avail, f->err, sizeof(f->err)), 0);
	assert_true(total > 0);
	assert_true(avail <= total);
	assert_int_equal(ops->stat_dir(f->pool, "nope", &total, &avail, f->err, sizeof(f->err)),
			 -ENOENT);
}

static void test_bind_refusals(void **state)
{
	struct fx *f = *state;
	char target[PATH_MAX], via[PATH_MAX];

	mkdir_in(f->pool, "v");
	mkdir_in(f->outside, "target");
	write_file(f->outside, "file", "x");
	symlink_in(f->outside, f->base, "alias");
	path(target, sizeof(target), f->outside, "target");
	/* Relative, dotted, missing, a file, a symlink, a symlink in the parent path. */
	assert_int_equal(ops->bind_mount(f->pool, "v", "rel/target", false, f->err, sizeof(f->err)),
			 -EINVAL);
	fmt(via, sizeof(via), "%s/../outside/target", f->pool);
	assert_int_equal(ops->bind_mount(f->pool, "v", via, false, f->err, sizeof(f->err)),
			 -EINVAL);
	path(via, sizeof(via), f->outside, "missing");
	assert_int_equal(ops->bind_mount(f->pool, "v", via, false, f->err, sizeof(f->err)),
			 -ENOENT);
	path(via, sizeof(via), f->outside, "file");
	assert_int_equal(ops->bind_mount(f->pool, "v", via, false, f->err, sizeof(f->err)),
			 -EINVAL);
	symlink_in(target, f->outside, "link");
	path(via, sizeof(via), f->outside, "link");
	assert_int_equal(ops->bind_mount(f->pool, "v", via, false, f->err, sizeof(f->err)),
			 -EINVAL);
	assert_non_null(strstr(f->err, "symlink"));
	fmt(via, sizeof(via), "%s/alias/target", f->base);
	assert_int_equal(ops->bind_mount(f->pool, "v", via, true, f->err, sizeof(f->err)), -EINVAL);
	quota_kernel_set_legacy(true);
	assert_int_equal(ops->bind_mount(f->pool, "v", via, true, f->err, sizeof(f->err)), -EINVAL);
	quota_kernel_set_legacy(false);
	/* A missing volume, or one behind a symlink. */
	assert_int_equal(ops->bind_mount(f->pool, "nope", target, false, f->err, sizeof(f->err)),
			 -ENOENT);
	/* Unmount: not a mount point, or through a symlink. */
	assert_int_equal(ops->unmount(target, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "not a mount point"));
	assert_int_equal(ops->unmount(via, f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(ops->unmount("relative", f->err, sizeof(f->err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rel_check),
		cmocka_unit_test(test_target_check),
		cmocka_unit_test(test_meta_key_check),
		cmocka_unit_test(test_limit_for_size),
		cmocka_unit_test_setup_teardown(test_hostile_rel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_make_dir, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rename, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_tree, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_dir, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_project, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_limits_need_quota, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_meta, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_meta_many, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stat_dir, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bind_refusals, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
