/* fake-quota: see fake-quota.h. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake-quota.h"

struct fake F = {.lock = PTHREAD_MUTEX_INITIALIZER};

void called(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(F.calls);

	if (n + 200 > sizeof(F.calls))
		return;
	va_start(ap, fmt);
	vsnprintf(F.calls + n, sizeof(F.calls) - n, fmt, ap);
	va_end(ap);
	strcat(F.calls, ";");
}

int count_calls(const char *prefix)
{
	int n = 0;

	for (const char *p = F.calls; (p = strstr(p, prefix)); p++)
		n++;
	return n;
}

void fake_reset(void)
{
	for (size_t i = 0; i < MAX_DIRS; i++)
		for (size_t k = 0; k < MAX_META; k++)
			free(F.dirs[i].val[k]);
	memset(F.dirs, 0, sizeof(F.dirs));
	memset(F.proj, 0, sizeof(F.proj));
	memset(F.mounts, 0, sizeof(F.mounts));
	F.n_mounts = 0;
	F.calls[0] = '\0';
	F.fail_op[0] = '\0';
	F.slow_op[0] = '\0';
	F.slow_us = 0;
	memset(F.allocated, 0, sizeof(F.allocated));
	memset(F.pools, 0, sizeof(F.pools));
	snprintf(F.pools[0].name, sizeof(F.pools[0].name), "/mnt/pmem0");
	snprintf(F.pools[0].id, sizeof(F.pools[0].id), "mnt-pmem0");
	F.pools[0].numa_node = 0;
	F.pools[0].fstype = CONFIG_FS_EXT4;
	F.pools[0].allocatable_bytes = 1 * GiB;
	snprintf(F.pools[1].name, sizeof(F.pools[1].name), "/mnt/pmem1");
	snprintf(F.pools[1].id, sizeof(F.pools[1].id), "mnt-pmem1");
	F.pools[1].numa_node = 1;
	F.pools[1].fstype = CONFIG_FS_XFS;
	F.pools[1].allocatable_bytes = 2 * GiB;
	F.n_pools = 2;
}

int should_fail(const char *op)
{
	if (F.slow_us && strcmp(F.slow_op, op) == 0)
		usleep(F.slow_us);
	return strcmp(F.fail_op, op) == 0 ? F.fail_err : 0;
}

struct fdir *dir_of(const char *pool, const char *rel)
{
	for (size_t i = 0; i < MAX_DIRS; i++)
		if (F.dirs[i].used && strcmp(F.dirs[i].pool, pool) == 0 &&
		    strcmp(F.dirs[i].rel, rel) == 0)
			return &F.dirs[i];
	return NULL;
}

struct fdir *dir_new(const char *pool, const char *rel)
{
	for (size_t i = 0; i < MAX_DIRS; i++) {
		if (F.dirs[i].used)
			continue;
		memset(&F.dirs[i], 0, sizeof(F.dirs[i]));
		F.dirs[i].used = true;
		snprintf(F.dirs[i].pool, sizeof(F.dirs[i].pool), "%s", pool);
		snprintf(F.dirs[i].rel, sizeof(F.dirs[i].rel), "%s", rel);
		return &F.dirs[i];
	}
	fail_msg("fake: out of directories");
	return NULL;
}

static void dir_free(struct fdir *d)
{
	for (size_t k = 0; k < MAX_META; k++)
		free(d->val[k]);
	memset(d, 0, sizeof(*d));
}

/* The directory part of rel ("" for the root). */
static void parent_of(const char *rel, char *out, size_t len)
{
	const char *s = strrchr(rel, '/');

	snprintf(out, len, "%.*s", s ? (int)(s - rel) : 0, rel);
}

static bool below(const char *rel, const char *top)
{
	size_t n = strlen(top);

	return strncmp(rel, top, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

struct fproj *proj_of(const char *pool, uint32_t id, bool create)
{
	for (size_t i = 0; i < MAX_PROJ; i++)
		if (F.proj[i].projid == id && strcmp(F.proj[i].pool, pool) == 0)
			return &F.proj[i];
	if (!create)
		return NULL;
	for (size_t i = 0; i < MAX_PROJ; i++) {
		if (F.proj[i].projid)
			continue;
		snprintf(F.proj[i].pool, sizeof(F.proj[i].pool), "%s", pool);
		F.proj[i].projid = id;
		return &F.proj[i];
	}
	fail_msg("fake: out of projects");
	return NULL;
}

static int f_make_dir(const char *pool, const char *rel, unsigned mode, char *err, size_t len)
{
	char parent[300];
	int r;

	pthread_mutex_lock(&F.lock);
	called("make_dir %s %s %o", pool, rel, mode);
	parent_of(rel, parent, sizeof(parent));
	if ((r = should_fail("make_dir")))
		snprintf(err, len, "fake make_dir fails");
	else if (dir_of(pool, rel))
		r = -EEXIST;
	else if (*parent && !dir_of(pool, parent))
		r = -ENOENT;
	else
		dir_new(pool, rel);
	pthread_mutex_unlock(&F.lock);
	return r;
}

static int f_rename(const char *pool, const char *from, const char *to, char *err, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&F.lock);
	called("rename %s %s %s", pool, from, to);
	if ((r = should_fail("rename")))
		snprintf(err, len, "fake rename fails");
	else if (dir_of(pool, to))
		r = -EEXIST;
	else if (!dir_of(pool, from))
		r = -ENOENT;
	if (r == 0) {
		for (size_t i = 0; i < MAX_DIRS; i++) {
			char rel[300];

			if (!F.dirs[i].used || strcmp(F.dirs[i].pool, pool) != 0 ||
			    !below(F.dirs[i].rel, from))
				continue;
			snprintf(rel, sizeof(rel), "%s%s", to, F.dirs[i].rel + strlen(from));
			snprintf(F.dirs[i].rel, sizeof(F.dirs[i].rel), "%s", rel);
		}
	}
	pthread_mutex_unlock(&F.lock);
	return r;
}

static int f_remove_tree(const char *pool, const char *rel, char *err, size_t len)
{
	int r;

	pthread_mutex_lock(&F.lock);
	called("remove_tree %s %s", pool, rel);
	if ((r = should_fail("remove_tree")))
		snprintf(err, len, "fake remove_tree fails");
	else if (!dir_of(pool, rel))
		r = -ENOENT;
	else
		for (size_t i = 0; i < MAX_DIRS; i++)
			if (F.dirs[i].used && strcmp(F.dirs[i].pool, pool) == 0 &&
			    below(F.dirs[i].rel, rel)) {
				/* Its files go, and their usage with them. */
				struct fproj *p = proj_of(pool, F.dirs[i].projid, false);

				if (p)
					p->bytes_used = p->inodes_used = 0;
				dir_free(&F.dirs[i]);
			}
	pthread_mutex_unlock(&F.lock);
	return r;
}

static int f_list_dir(const char *pool, const char *rel, struct quota_dirent **out, size_t *n,
		      char *err, size_t len)
{
	struct quota_dirent *v = calloc(MAX_DIRS, sizeof(*v));
	size_t k = 0;
	(void)err, (void)len;

	pthread_mutex_lock(&F.lock);
	called("list_dir %s %s", pool, rel);
	for (size_t i = 0; i < MAX_DIRS; i++) {
		char parent[300];

		if (!F.dirs[i].used || strcmp(F.dirs[i].pool, pool) != 0)
			continue;
		parent_of(F.dirs[i].rel, parent, sizeof(parent));
		if (strcmp(parent, rel) != 0)
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", F.dirs[i].rel + strlen(rel) + !!*rel);
		v[k].projid = F.dirs[i].projid;
		v[k].inherit = F.dirs[i].inherit;
		v[k].is_dir = true;
		k++;
	}
	pthread_mutex_unlock(&F.lock);
	*out = v;
	*n = k;
	return 0;
}

static int f_project_get(const char *pool, const char *rel, uint32_t *projid, bool *inherit,
			 char *err, size_t len)
{
	struct fdir *d;
	int r = 0;
	(void)err, (void)len;

	pthread_mutex_lock(&F.lock);
	d = dir_of(pool, rel);
	if (!d)
		r = -ENOENT;
	else
		*projid = d->projid, *inherit = d->inherit;
	pthread_mutex_unlock(&F.lock);
	return r;
}

static int f_project_set(const char *pool, const char *rel, uint32_t projid, char *err, size_t len)
{
	struct fdir *d;
	int r;

	pthread_mutex_lock(&F.lock);
	called("project_set %s %s %u", pool, rel, projid);
	d = dir_of(pool, rel);
	if ((r = should_fail("project_set")))
		snprintf(err, len, "fake project_set fails");
	else if (!d)
		r = -ENOENT;
	else
		d->projid = projid, d->inherit = true;
	pthread_mutex_unlock(&F.lock);
	return r;
}

static int f_limit_set(const char *pool, uint32_t projid, uint64_t bytes, uint64_t inodes,
		       char *err, size_t len)
{
	int r;

	pthread_mutex_lock(&F.lock);
	called("limit_set %s %u %llu %llu", pool, projid, (unsigned long long)bytes,
	       (unsigned long long)inodes);
	if ((r = should_fail("limit_set"))) {
		snprintf(err, len, "fake limit_set fails");
	} else {
		struct fproj *p = proj_of(pool, projid, true);

		p->bytes_limit = bytes;
		p->inodes_limit = inodes;
	}
	pthread_mutex_unlock(&F.lock);
	return r;
}

static int f_usage_get(const char *pool, uint32_t projid, struct quota_usage *out, char *err,
		       size_t len)
{
	struct fproj *p;
	int r;
	(void)err, (void)len;

	if ((r = should_fail("usage_get")))
		return r;
	pthread_mutex_lock(&F.lock);
	p = proj_of(pool, projid, false);
	memset(out, 0, sizeof(*out));
	if (p) {
		out->bytes_limit = p->bytes_limit;
		out->inodes_limit = p->inodes_limit;
		out->bytes_used = p->bytes_used;
		out->inodes_used = p->inodes_used;
	}
	pthread_mutex_unlock(&F.lock);
	return 0;
}

static int f_meta_set(const char *pool, const char *rel, const char *key, const char *value,
		      char *err, size_t len)
{
	struct fdir *d;
	char op[sizeof(F.fail_op)];
	int r = 0;

	pthread_mutex_lock(&F.lock);
	called("meta_set %s %s %s", pool, rel, key);
	d = dir_of(pool, rel);
	/* "meta_set" fails every write; "meta_set <key>" only that attribute's. */
	snprintf(op, sizeof(op), "meta_set %s", key);
	if ((r = should_fail("meta_set")) || (r = should_fail(op))) {
		snprintf(err, len, "fake meta_set fails");
	} else if (!d) {
		r = -ENOENT;
	} else {
		size_t k;

		for (k = 0; k < MAX_META; k++)
			if (!d->key[k][0] || strcmp(d->key[k], key) == 0)
				break;
		assert_true(k < MAX_META);
		snprintf(d->key[k], sizeof(d->key[k]), "%s", key);
		free(d->val[k]);
		d->val[k] = strdup(value);
	}
	pthread_mutex_unlock(&F.lock);
	return r;
}

static int f_meta_get(const char *pool, const char *rel, const char *key, char *value,
		      size_t value_len, char *err, size_t len)
{
	struct fdir *d;
	int r = -ENODATA;
	(void)err, (void)len;

	pthread_mutex_lock(&F.lock);
	d = dir_of(pool, rel);
	if (!d)
		r = -ENOENT;
	for (size_t k = 0; d && k < MAX_META; k++) {
		if (strcmp(d->key[k], key) == 0) {
			if (strlen(d->val[k]) >= value_len) {
				r = -ERANGE;
			} else {
				strcpy(value, d->val[k]);
				r = 0;
			}
			break;
		}
	}
	pthread_mutex_unlock(&F.lock);
	return r;
}

/* The batch read, as the kernel's: each key as f_meta_get would answer it, one "open". */
static int f_meta_get_many(const char *pool, const char *rel, const char *const *keys, size_t n,
			   char *const *values, const size_t *lens, int *rcs, char *err, size_t len)
{
	pthread_mutex_lock(&F.lock);
	called("meta_get_many %s %s", pool, rel);
	if (!dir_of(pool, rel)) {
		pthread_mutex_unlock(&F.lock);
		return -ENOENT;
	}
	pthread_mutex_unlock(&F.lock);
	for (size_t i = 0; i < n; i++) {
		rcs[i] = f_meta_get(pool, rel, keys[i], values[i], lens[i], err, len);
		if (rcs[i] < 0)
			values[i][0] = '\0';
	}
	return 0;
}

static int f_stat_dir(const char *pool, const char *rel, uint64_t *total, uint64_t *avail,
		      char *err, size_t len)
{
	(void)pool, (void)rel, (void)err, (void)len;
	*total = *avail = 0;
	return -ENOTSUP;
}

static bool fake_mounted(const char *target)
{
	for (size_t i = 0; i < F.n_mounts; i++)
		if (strcmp(F.mounts[i].target, target) == 0)
			return true;
	return false;
}

static int f_bind_mount(const char *pool, const char *rel, const char *target, bool readonly,
			char *err, size_t len)
{
	int r;

	pthread_mutex_lock(&F.lock);
	called("bind_mount %s %s %s %d", pool, rel, target, readonly);
	if ((r = should_fail("bind_mount"))) {
		snprintf(err, len, "fake bind_mount fails");
	} else if (fake_mounted(target)) {
		/* As the kernel layer: a target that is a mount point already is refused. */
		snprintf(err, len, "target %s is already a mount point", target);
		r = -EBUSY;
	} else {
		struct fmount *m = &F.mounts[F.n_mounts++];

		snprintf(m->target, sizeof(m->target), "%s", target);
		snprintf(m->pool, sizeof(m->pool), "%s", pool);
		snprintf(m->rel, sizeof(m->rel), "%s", rel);
		m->readonly = readonly;
	}
	pthread_mutex_unlock(&F.lock);
	return r;
}

static int f_unmount(const char *target, char *err, size_t len)
{
	int r = -EINVAL;

	pthread_mutex_lock(&F.lock);
	called("unmount %s", target);
	for (size_t i = 0; i < F.n_mounts; i++) {
		if (strcmp(F.mounts[i].target, target) != 0)
			continue;
		F.mounts[i] = F.mounts[--F.n_mounts];
		r = 0;
		break;
	}
	if (r)
		snprintf(err, len, "target %s is not a mount point", target);
	pthread_mutex_unlock(&F.lock);
	return r;
}

const struct quota_ops fake_ops = {
	.make_dir = f_make_dir,
	.rename = f_rename,
	.remove_tree = f_remove_tree,
	.list_dir = f_list_dir,
	.project_get = f_project_get,
	.project_set = f_project_set,
	.limit_set = f_limit_set,
	.usage_get = f_usage_get,
	.meta_set = f_meta_set,
	.meta_get = f_meta_get,
	.meta_get_many = f_meta_get_many,
	.stat_dir = f_stat_dir,
	.bind_mount = f_bind_mount,
	.unmount = f_unmount,
};

int fake_pools(void *ctx, struct quota_pool_info **out, size_t *n)
{
	(void)ctx;
	*out = calloc(2, sizeof(**out));
	pthread_mutex_lock(&F.lock);
	memcpy(*out, F.pools, F.n_pools * sizeof(**out));
	*n = F.n_pools;
	pthread_mutex_unlock(&F.lock);
	return 0;
}

void fake_allocated(void *ctx, const char *pool, uint64_t bytes)
{
	(void)ctx;
	pthread_mutex_lock(&F.lock);
	snprintf(F.allocated[strcmp(pool, "/mnt/pmem0") == 0 ? 0 : 1], 64, "%llu",
		 (unsigned long long)bytes);
	pthread_mutex_unlock(&F.lock);
}

int64_t fixed_now(void)
{
	return 1700000000; /* 2023-11-14T22:13:20Z */
}