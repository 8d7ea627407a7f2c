/* quota-ids: per-pool project id allocator: lowest free id, never one held, thread-safe. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota-model.h"

/*
 * The held ids as a sorted array of unique values: 4 bytes per volume
 * (10,000 volumes = 40 KB) whatever ids they hold, where a bitmap would pay
 * for the span between the lowest and the highest. Since the values are
 * unique and >= min, v[i] >= min + i, and v[i] - i never decreases; the
 * lowest free id is min + (the first i where v[i] > min + i), found by
 * binary search. Insert and remove move at most the whole array (memmove of
 * 40 KB), cheap next to the quotactl that follows.
 */
struct quota_ids {
	pthread_mutex_t lock;
	uint32_t min, max;
	uint32_t *v;
	size_t n, cap;
};

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Index of the first element >= id. */
static size_t lower_bound(const struct quota_ids *ids, uint32_t id)
{
	size_t lo = 0, hi = ids->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ids->v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int insert_at(struct quota_ids *ids, size_t at, uint32_t id)
{
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 64;
		uint32_t *v = realloc(ids->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ids->v = v;
		ids->cap = cap;
	}
	memmove(ids->v + at + 1, ids->v + at, (ids->n - at) * sizeof(*ids->v));
	ids->v[at] = id;
	ids->n++;
	return 0;
}

int quota_ids_new(uint32_t min, uint32_t max, const uint32_t *in_use, size_t n,
		  struct quota_ids **out)
{
	struct quota_ids *ids;
	size_t k = 0;

	/* 0 is every file's default project: never a volume's. */
	if (min == 0 || min > max)
		return -EINVAL;
	ids = calloc(1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	ids->min = min;
	ids->max = max;
	if (n > 0) {
		ids->v = malloc(n * sizeof(*ids->v));
		if (!ids->v) {
			free(ids);
			return -ENOMEM;
		}
		ids->cap = n;
		for (size_t i = 0; i < n; i++)
			if (in_use[i] >= min && in_use[i] <= max)
				ids->v[k++] = in_use[i];
		qsort(ids->v, k, sizeof(*ids->v), u32_cmp);
		/* A scan may see an id twice (a staging entry and a volume): keep one. */
		ids->n = 0;
		for (size_t i = 0; i < k; i++)
			if (ids->n == 0 || ids->v[ids->n - 1] != ids->v[i])
				ids->v[ids->n++] = ids->v[i];
	}
	pthread_mutex_init(&ids->lock, NULL);
	*out = ids;
	return 0;
}

struct quota_ids *quota_ids_free(struct quota_ids *ids)
{
	if (!ids)
		return NULL;
	pthread_mutex_destroy(&ids->lock);
	free(ids->v);
	free(ids);
	return NULL;
}

int quota_ids_alloc(struct quota_ids *ids, uint32_t *out)
{
	size_t lo = 0, hi;
	uint64_t id;
	int ret;

	pthread_mutex_lock(&ids->lock);
	hi = ids->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uint64_t)ids->v[mid] == (uint64_t)ids->min + mid)
			lo = mid + 1;
		else
			hi = mid;
	}
	id = (uint64_t)ids->min + lo;
	if (id > ids->max) {
		ret = -ENOSPC;
	} else {
		ret = insert_at(ids, lo, (uint32_t)id);
		if (ret == 0)
			*out = (uint32_t)id;
	}
	pthread_mutex_unlock(&ids->lock);
	return ret;
}

int quota_ids_hold(struct quota_ids *ids, uint32_t id)
{
	size_t at;
	int ret;

	if (id < ids->min || id > ids->max)
		return -ERANGE;
	pthread_mutex_lock(&ids->lock);
	at = lower_bound(ids, id);
	if (at < ids->n && ids->v[at] == id)
		ret = -EEXIST;
	else
		ret = insert_at(ids, at, id);
	pthread_mutex_unlock(&ids->lock);
	return ret;
}

int quota_ids_release(struct quota_ids *ids, uint32_t id)
{
	size_t at;
	int ret = -ENOENT;

	pthread_mutex_lock(&ids->lock);
	at = lower_bound(ids, id);
	if (at < ids->n && ids->v[at] == id) {
		memmove(ids->v + at, ids->v + at + 1, (ids->n - at - 1) * sizeof(*ids->v));
		ids->n--;
		ret = 0;
	}
	pthread_mutex_unlock(&ids->lock);
	return ret;
}

bool quota_ids_held(struct quota_ids *ids, uint32_t id)
{
	bool held;
	size_t at;

	pthread_mutex_lock(&ids->lock);
	at = lower_bound(ids, id);
	held = at < ids->n && ids->v[at] == id;
	pthread_mutex_unlock(&ids->lock);
	return held;
}

size_t quota_ids_count(struct quota_ids *ids)
{
	size_t n;

	pthread_mutex_lock(&ids->lock);
	n = ids->n;
	pthread_mutex_unlock(&ids->lock);
	return n;
}
