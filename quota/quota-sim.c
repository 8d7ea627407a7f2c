/* quota-sim: a simulated node's volumes: accounting-only records in memory, no data, no mounts. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota-sim.h"

/*
 * A simulated node has no filesystem behind its pools, so this table keeps what the kernel
 * would: directories with their project ids and trusted.pmemd.* attributes, and project quota
 * limits. The volume service above runs unchanged (catalog, ledger, reservations, crash-safe
 * steps), so creating a volume for a reserved pod consumes the reservation and moves the
 * pool's allocated bytes exactly as on a real node. Nothing is stored in a volume (its usage
 * is always 0) and nothing can be mounted: publish is refused. The records live as long as the
 * process; a restarted simulated node starts empty, as its description does.
 *
 * The table has no context argument (the kernel has none either), hence one store per process.
 */

#define SIM_META_MAX 8 /* trusted.pmemd.* keys of one directory; the service writes 5 */

struct sdir {
	char *pool;
	char *rel; /* "" is never stored: the pool root always exists */
	uint32_t projid;
	bool inherit;
	char *key[SIM_META_MAX];
	char *val[SIM_META_MAX];
};

struct sproj {
	char *pool;
	uint32_t projid;
	uint64_t bytes, inodes;
};

static struct {
	pthread_mutex_t lock;
	struct sdir *dirs;
	size_t n_dirs, cap_dirs;
	struct sproj *proj;
	size_t n_proj, cap_proj;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int oom(char *err, size_t err_len)
{
	snprintf(err, err_len, "simulated node: out of memory");
	return -ENOMEM;
}

static void dir_clear(struct sdir *d)
{
	free(d->pool);
	free(d->rel);
	for (size_t k = 0; k < SIM_META_MAX; k++) {
		free(d->key[k]);
		free(d->val[k]);
	}
}

/* Is `rel` `top` or below it? */
static bool below(const char *rel, const char *top)
{
	size_t n = strlen(top);

	return strncmp(rel, top, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

static struct sdir *dir_of(const char *pool, const char *rel)
{
	for (size_t i = 0; i < S.n_dirs; i++)
		if (strcmp(S.dirs[i].rel, rel) == 0 && strcmp(S.dirs[i].pool, pool) == 0)
			return &S.dirs[i];
	return NULL;
}

static bool exists(const char *pool, const char *rel)
{
	return rel[0] == '\0' || dir_of(pool, rel);
}

static struct sproj *proj_of(const char *pool, uint32_t id)
{
	for (size_t i = 0; i < S.n_proj; i++)
		if (S.proj[i].projid == id && strcmp(S.proj[i].pool, pool) == 0)
			return &S.proj[i];
	return NULL;
}

/* The directory part of rel ("" for a child of the root). */
static size_t parent_len(const char *rel)
{
	const char *s = strrchr(rel, '/');

	return s ? (size_t)(s - rel) : 0;
}

static int missing(const char *pool, const char *rel, char *err, size_t err_len)
{
	snprintf(err, err_len, "%s/%s: no such directory (simulated node)", pool, rel);
	return -ENOENT;
}

static int s_make_dir(const char *pool, const char *rel, unsigned mode, char *err, size_t err_len)
{
	size_t pl = parent_len(rel);
	char *parent = strndup(rel, pl);
	int r = 0;

	(void)mode;
	if (!parent)
		return oom(err, err_len);
	pthread_mutex_lock(&S.lock);
	if (exists(pool, rel)) {
		snprintf(err, err_len, "%s/%s exists", pool, rel);
		r = -EEXIST;
	} else if (!exists(pool, parent)) {
		r = missing(pool, parent, err, err_len);
	} else {
		if (S.n_dirs == S.cap_dirs) {
			size_t cap = S.cap_dirs ? 2 * S.cap_dirs : 64;
			struct sdir *d = realloc(S.dirs, cap * sizeof(*d));
			if (!d)
				r = oom(err, err_len);
			else
				S.dirs = d, S.cap_dirs = cap;
		}
		if (r == 0) {
			struct sdir *d = &S.dirs[S.n_dirs];
			memset(d, 0, sizeof(*d));
			d->pool = strdup(pool);
			d->rel = strdup(rel);
			if (!d->pool || !d->rel) {
				dir_clear(d);
				r = oom(err, err_len);
			} else {
				S.n_dirs++;
			}
		}
	}
	pthread_mutex_unlock(&S.lock);
	free(parent);
	return r;
}

static int s_rename(const char *pool, const char *from, const char *to, char *err, size_t err_len)
{
	size_t fl = strlen(from);
	char **renamed;
	int r = 0;

	pthread_mutex_lock(&S.lock);
	if (exists(pool, to)) {
		snprintf(err, err_len, "%s/%s exists", pool, to);
		r = -EEXIST;
	} else if (!dir_of(pool, from)) {
		r = missing(pool, from, err, err_len);
	}
	if (r < 0) {
		pthread_mutex_unlock(&S.lock);
		return r;
	}
	/* Every new name first, so a failure changes nothing. */
	renamed = calloc(S.n_dirs + 1, sizeof(*renamed));
	for (size_t i = 0; renamed && i < S.n_dirs; i++) {
		if (strcmp(S.dirs[i].pool, pool) != 0 || !below(S.dirs[i].rel, from))
			continue;
		if (asprintf(&renamed[i], "%s%s", to, S.dirs[i].rel + fl) < 0) {
			renamed[i] = NULL;
			r = -ENOMEM;
			break;
		}
	}
	if (!renamed)
		r = -ENOMEM;
	for (size_t i = 0; renamed && i < S.n_dirs; i++) {
		if (renamed[i] && r == 0) {
			free(S.dirs[i].rel);
			S.dirs[i].rel = renamed[i];
		} else {
			free(renamed[i]);
		}
	}
	free(renamed);
	pthread_mutex_unlock(&S.lock);
	return r < 0 ? oom(err, err_len) : 0;
}

static int s_remove_tree(const char *pool, const char *rel, char *err, size_t err_len)
{
	size_t k = 0;
	int r = 0;

	pthread_mutex_lock(&S.lock);
	if (!dir_of(pool, rel)) {
		r = missing(pool, rel, err, err_len);
	} else {
		for (size_t i = 0; i < S.n_dirs; i++) {
			if (strcmp(S.dirs[i].pool, pool) == 0 && below(S.dirs[i].rel, rel))
				dir_clear(&S.dirs[i]);
			else
				S.dirs[k++] = S.dirs[i];
		}
		S.n_dirs = k;
	}
	pthread_mutex_unlock(&S.lock);
	return r;
}

static int s_list_dir(const char *pool, const char *rel, struct quota_dirent **out, size_t *n,
		      char *err, size_t err_len)
{
	struct quota_dirent *v;
	size_t k = 0, rl = strlen(rel);
	int r = 0;

	pthread_mutex_lock(&S.lock);
	v = calloc(S.n_dirs + 1, sizeof(*v));
	if (!v)
		r = oom(err, err_len);
	else if (!exists(pool, rel))
		r = missing(pool, rel, err, err_len);
	for (size_t i = 0; r == 0 && i < S.n_dirs; i++) {
		const struct sdir *d = &S.dirs[i];

		if (strcmp(d->pool, pool) != 0 || parent_len(d->rel) != rl ||
		    strncmp(d->rel, rel, rl) != 0 || strcmp(d->rel, rel) == 0)
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", d->rel + rl + (rl ? 1 : 0));
		v[k].projid = d->projid;
		v[k].inherit = d->inherit;
		v[k].is_dir = true;
		k++;
	}
	pthread_mutex_unlock(&S.lock);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

static int s_project_get(const char *pool, const char *rel, uint32_t *projid, bool *inherit,
			 char *err, size_t err_len)
{
	struct sdir *d;
	int r = 0;

	pthread_mutex_lock(&S.lock);
	d = dir_of(pool, rel);
	if (!d)
		r = missing(pool, rel, err, err_len);
	else
		*projid = d->projid, *inherit = d->inherit;
	pthread_mutex_unlock(&S.lock);
	return r;
}

static int s_project_set(const char *pool, const char *rel, uint32_t projid, char *err,
			 size_t err_len)
{
	struct sdir *d;
	int r = 0;

	pthread_mutex_lock(&S.lock);
	d = dir_of(pool, rel);
	if (!d)
		r = missing(pool, rel, err, err_len);
	else
		d->projid = projid, d->inherit = true;
	pthread_mutex_unlock(&S.lock);
	return r;
}

static int s_limit_set(const char *pool, uint32_t projid, uint64_t bytes, uint64_t inodes,
		       char *err, size_t err_len)
{
	struct sproj *p;
	int r = 0;

	pthread_mutex_lock(&S.lock);
	p = proj_of(pool, projid);
	if (!p && (bytes || inodes)) {
		if (S.n_proj == S.cap_proj) {
			size_t cap = S.cap_proj ? 2 * S.cap_proj : 64;
			struct sproj *np = realloc(S.proj, cap * sizeof(*np));
			if (!np)
				r = oom(err, err_len);
			else
				S.proj = np, S.cap_proj = cap;
		}
		if (r == 0) {
			p = &S.proj[S.n_proj];
			*p = (struct sproj){.pool = strdup(pool), .projid = projid};
			if (!p->pool)
				r = oom(err, err_len), p = NULL;
			else
				S.n_proj++;
		}
	}
	if (p && !bytes && !inodes) {
		/* No limit left: the project is gone, as quotactl forgets an empty one. */
		free(p->pool);
		*p = S.proj[--S.n_proj];
	} else if (p) {
		p->bytes = bytes;
		p->inodes = inodes;
	}
	pthread_mutex_unlock(&S.lock);
	return r;
}

static int s_usage_get(const char *pool, uint32_t projid, struct quota_usage *out, char *err,
		       size_t err_len)
{
	struct sproj *p;

	(void)err, (void)err_len;
	pthread_mutex_lock(&S.lock);
	p = proj_of(pool, projid);
	/* Nothing is ever written into a simulated volume. */
	*out = (struct quota_usage){.bytes_limit = p ? p->bytes : 0,
				    .inodes_limit = p ? p->inodes : 0};
	pthread_mutex_unlock(&S.lock);
	return 0;
}

static int s_meta_set(const char *pool, const char *rel, const char *key, const char *value,
		      char *err, size_t err_len)
{
	char *v = strdup(value), *k = strdup(key);
	struct sdir *d;
	int r = 0;

	if (!v || !k) {
		free(v);
		free(k);
		return oom(err, err_len);
	}
	pthread_mutex_lock(&S.lock);
	d = dir_of(pool, rel);
	if (!d) {
		r = missing(pool, rel, err, err_len);
	} else {
		size_t slot = SIM_META_MAX;
		for (size_t i = 0; i < SIM_META_MAX && slot == SIM_META_MAX; i++)
			if (d->key[i] && strcmp(d->key[i], key) == 0)
				slot = i;
		for (size_t i = 0; i < SIM_META_MAX && slot == SIM_META_MAX; i++)
			if (!d->key[i])
				slot = i;
		if (slot == SIM_META_MAX) {
			snprintf(err, err_len, "%s/%s: more than %d attributes (simulated node)",
				 pool, rel, SIM_META_MAX);
			r = -ENOSPC;
		} else {
			free(d->key[slot]);
			free(d->val[slot]);
			d->key[slot] = k;
			d->val[slot] = v;
			k = v = NULL;
		}
	}
	pthread_mutex_unlock(&S.lock);
	free(k);
	free(v);
	return r;
}

static int s_meta_get(const char *pool, const char *rel, const char *key, char *value,
		      size_t value_len, char *err, size_t err_len)
{
	struct sdir *d;
	int r = -ENODATA;

	pthread_mutex_lock(&S.lock);
	d = dir_of(pool, rel);
	if (!d)
		r = missing(pool, rel, err, err_len);
	for (size_t i = 0; d && i < SIM_META_MAX; i++) {
		if (!d->key[i] || strcmp(d->key[i], key) != 0)
			continue;
		if (strlen(d->val[i]) >= value_len) {
			r = -ERANGE;
		} else {
			memcpy(value, d->val[i], strlen(d->val[i]) + 1);
			r = 0;
		}
	}
	pthread_mutex_unlock(&S.lock);
	if (r == -ENODATA)
		snprintf(err, err_len, "%s/%s: no attribute %s", pool, rel, key);
	else if (r == -ERANGE)
		snprintf(err, err_len, "%s/%s: attribute %s is too long", pool, rel, key);
	return r;
}

/* What df shows inside a volume: its limit, all of it free. */
static int s_stat_dir(const char *pool, const char *rel, uint64_t *total, uint64_t *avail,
		      char *err, size_t err_len)
{
	struct sdir *d;
	struct sproj *p;
	int r = 0;

	pthread_mutex_lock(&S.lock);
	d = dir_of(pool, rel);
	if (!d) {
		r = missing(pool, rel, err, err_len);
	} else {
		p = proj_of(pool, d->projid);
		*total = *avail = p ? p->bytes : 0;
	}
	pthread_mutex_unlock(&S.lock);
	return r;
}

static int s_bind_mount(const char *pool, const char *rel, const char *target, bool readonly,
			char *err, size_t err_len)
{
	(void)readonly;
	snprintf(err, err_len,
		 "simulated node: volume %s/%s holds no data and cannot be published on %s", pool,
		 rel, target);
	return -ENOTSUP;
}

static int s_unmount(const char *target, char *err, size_t err_len)
{
	snprintf(err, err_len, "simulated node: nothing is mounted on %s", target);
	return -ENOTSUP;
}

const struct quota_ops quota_sim_ops = {
	.make_dir = s_make_dir,
	.rename = s_rename,
	.remove_tree = s_remove_tree,
	.list_dir = s_list_dir,
	.project_get = s_project_get,
	.project_set = s_project_set,
	.limit_set = s_limit_set,
	.usage_get = s_usage_get,
	.meta_set = s_meta_set,
	.meta_get = s_meta_get,
	.meta_get_many = NULL,
	.stat_dir = s_stat_dir,
	.bind_mount = s_bind_mount,
	.unmount = s_unmount,
};

void quota_sim_clear(void)
{
	pthread_mutex_lock(&S.lock);
	for (size_t i = 0; i < S.n_dirs; i++)
		dir_clear(&S.dirs[i]);
	free(S.dirs);
	for (size_t i = 0; i < S.n_proj; i++)
		free(S.proj[i].pool);
	free(S.proj);
	S.dirs = NULL;
	S.proj = NULL;
	S.n_dirs = S.cap_dirs = S.n_proj = S.cap_proj = 0;
	pthread_mutex_unlock(&S.lock);
}
