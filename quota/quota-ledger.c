/* quota-ledger: capacity per pool (allocatable, committed, reserved) so creates never overcommit.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota-model-private.h"

typedef unsigned __int128 u128;

struct ledger_pool {
	char *name;
	uint64_t allocatable;
	uint64_t committed;
	uint64_t reserved;
};

struct ledger_resv {
	uint64_t token;
	size_t pool; /* index into pools: pools are never removed, so it stays valid */
	uint64_t bytes;
};

struct quota_ledger {
	pthread_mutex_t lock;
	struct quota_ratio ratio;
	struct ledger_pool *pools;
	size_t n_pools;
	/* Sorted by token, since tokens only grow and are appended. */
	struct ledger_resv *resv;
	size_t n_resv;
	uint64_t next_token;
};

int quota_ratio_from_double(double r, struct quota_ratio *out, char *why, size_t len)
{
	double ppm;

	if (!isfinite(r) || r <= 0 || r > QUOTA_RATIO_MAX)
		return qm_fail(-EINVAL, why, len,
			       "overcommit_ratio must be above 0 and at most %d, got %g",
			       QUOTA_RATIO_MAX, r);
	/*
	 * A double like 1.1 is not exact; to the nearest millionth it is
	 * 1100000/1000000, so capacity math stays in integers and 1.0 is exactly 1.
	 */
	ppm = nearbyint(r * 1e6);
	if (ppm < 1)
		return qm_fail(-EINVAL, why, len,
			       "overcommit_ratio %g is below the resolution of 0.000001", r);
	{
		uint32_t num = (uint32_t)ppm, den = 1000000, a = num, b = den;

		while (b) {
			uint32_t t = a % b;

			a = b;
			b = t;
		}
		out->num = num / a;
		out->den = den / a;
	}
	return 0;
}

int quota_ledger_new(struct quota_ratio ratio, struct quota_ledger **out)
{
	struct quota_ledger *l;

	if (ratio.num == 0 || ratio.den == 0 || ratio.num / ratio.den > QUOTA_RATIO_MAX ||
	    (ratio.num / ratio.den == QUOTA_RATIO_MAX && ratio.num % ratio.den))
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->resv = calloc(QUOTA_LEDGER_RESERVATIONS_MAX, sizeof(*l->resv));
	if (!l->resv) {
		free(l);
		return -ENOMEM;
	}
	l->ratio = ratio;
	l->next_token = 1;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

struct quota_ledger *quota_ledger_free(struct quota_ledger *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n_pools; i++)
		free(l->pools[i].name);
	free(l->pools);
	free(l->resv);
	pthread_mutex_destroy(&l->lock);
	free(l);
	return NULL;
}

/* Called with the lock held. */
static struct ledger_pool *find_pool(struct quota_ledger *l, const char *name)
{
	for (size_t i = 0; i < l->n_pools; i++)
		if (strcmp(l->pools[i].name, name) == 0)
			return &l->pools[i];
	return NULL;
}

/* floor(allocatable × num / den) in 128 bits: 2^64 × 100 cannot overflow it. */
static uint64_t capacity(const struct quota_ledger *l, const struct ledger_pool *p)
{
	u128 c = (u128)p->allocatable * l->ratio.num / l->ratio.den;

	return c > UINT64_MAX ? UINT64_MAX : (uint64_t)c;
}

static uint64_t free_bytes(const struct quota_ledger *l, const struct ledger_pool *p)
{
	u128 used = (u128)p->committed + p->reserved;
	uint64_t cap = capacity(l, p);

	return used >= cap ? 0 : (uint64_t)(cap - used);
}

/* Called with the lock held; the index of `token` or n_resv. */
static size_t find_resv(const struct quota_ledger *l, uint64_t token)
{
	size_t lo = 0, hi = l->n_resv;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->resv[mid].token < token)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n_resv && l->resv[lo].token == token ? lo : l->n_resv;
}

static void drop_resv(struct quota_ledger *l, size_t i)
{
	memmove(l->resv + i, l->resv + i + 1, (l->n_resv - i - 1) * sizeof(*l->resv));
	l->n_resv--;
}

int quota_ledger_set_pool(struct quota_ledger *l, const char *pool, uint64_t allocatable)
{
	struct ledger_pool *p, *v;
	int ret = 0;

	if (!pool || !*pool)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	p = find_pool(l, pool);
	if (p) {
		p->allocatable = allocatable;
		goto out;
	}
	v = realloc(l->pools, (l->n_pools + 1) * sizeof(*v));
	if (!v) {
		ret = -ENOMEM;
		goto out;
	}
	l->pools = v;
	v[l->n_pools] = (struct ledger_pool){.name = strdup(pool), .allocatable = allocatable};
	if (!v[l->n_pools].name) {
		ret = -ENOMEM;
		goto out;
	}
	l->n_pools++;
out:
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int quota_ledger_charge(struct quota_ledger *l, const char *pool, uint64_t bytes, char *err,
			size_t err_len)
{
	struct ledger_pool *p;
	int ret = 0;

	pthread_mutex_lock(&l->lock);
	p = find_pool(l, pool);
	if (!p)
		ret = qm_fail(-ENOENT, err, err_len, "pool %s is not in the ledger", pool);
	else if ((u128)p->committed + p->reserved + bytes > UINT64_MAX)
		ret = qm_fail(-EOVERFLOW, err, err_len, "pool %s: committed bytes overflow", pool);
	else
		p->committed += bytes;
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int quota_ledger_reserve(struct quota_ledger *l, const char *pool, uint64_t bytes,
			 uint64_t *token_out, uint64_t *free_out, char *err, size_t err_len)
{
	struct ledger_pool *p;
	uint64_t avail;
	int ret = 0;

	if (bytes == 0)
		return qm_fail(-EINVAL, err, err_len, "a reservation needs at least 1 byte");
	pthread_mutex_lock(&l->lock);
	p = find_pool(l, pool);
	if (!p) {
		ret = qm_fail(-ENOENT, err, err_len, "pool %s is not in the ledger", pool);
		goto out;
	}
	avail = free_bytes(l, p);
	if (bytes > avail) {
		if (free_out)
			*free_out = avail;
		ret = qm_fail(-ENOSPC, err, err_len,
			      "pool %s has %" PRIu64 " bytes free, %" PRIu64 " asked", pool, avail,
			      bytes);
		goto out;
	}
	if (l->n_resv == QUOTA_LEDGER_RESERVATIONS_MAX) {
		ret = qm_fail(-EBUSY, err, err_len,
			      "%d creates and resizes are already in flight; retry",
			      QUOTA_LEDGER_RESERVATIONS_MAX);
		goto out;
	}
	l->resv[l->n_resv++] = (struct ledger_resv){
		.token = l->next_token, .pool = (size_t)(p - l->pools), .bytes = bytes};
	p->reserved += bytes;
	*token_out = l->next_token++;
	if (free_out)
		*free_out = avail - bytes;
out:
	pthread_mutex_unlock(&l->lock);
	return ret;
}

/* Commit or cancel: the reservation leaves `reserved`, and goes to `committed` on commit. */
static int settle(struct quota_ledger *l, uint64_t token, bool commit, char *err, size_t err_len)
{
	struct ledger_pool *p;
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&l->lock);
	i = find_resv(l, token);
	if (i == l->n_resv) {
		ret = qm_fail(-ENOENT, err, err_len, "no reservation %" PRIu64, token);
		goto out;
	}
	p = &l->pools[l->resv[i].pool];
	p->reserved -= l->resv[i].bytes;
	/* No overflow: committed + reserved stayed <= UINT64_MAX since the reservation. */
	if (commit)
		p->committed += l->resv[i].bytes;
	drop_resv(l, i);
out:
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int quota_ledger_commit(struct quota_ledger *l, uint64_t token, char *err, size_t err_len)
{
	return settle(l, token, true, err, err_len);
}

int quota_ledger_cancel(struct quota_ledger *l, uint64_t token, char *err, size_t err_len)
{
	return settle(l, token, false, err, err_len);
}

int quota_ledger_adjust(struct quota_ledger *l, const char *pool, uint64_t old_bytes,
			uint64_t new_bytes, uint64_t token, char *err, size_t err_len)
{
	struct ledger_pool *p;
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&l->lock);
	p = find_pool(l, pool);
	if (!p) {
		ret = qm_fail(-ENOENT, err, err_len, "pool %s is not in the ledger", pool);
		goto out;
	}
	/* The volume's old limit is part of committed, or the caller's figures are wrong. */
	if (old_bytes > p->committed) {
		ret = qm_fail(-EINVAL, err, err_len,
			      "pool %s: old size %" PRIu64 " is more than committed %" PRIu64, pool,
			      old_bytes, p->committed);
		goto out;
	}
	if (new_bytes <= old_bytes) {
		if (token) {
			ret = qm_fail(-EINVAL, err, err_len,
				      "a shrink takes no reservation (token %" PRIu64 ")", token);
			goto out;
		}
		p->committed -= old_bytes - new_bytes;
		goto out;
	}
	i = find_resv(l, token);
	if (i == l->n_resv) {
		ret = qm_fail(-EINVAL, err, err_len,
			      "growth by %" PRIu64 " bytes needs a reservation first",
			      new_bytes - old_bytes);
		goto out;
	}
	if (&l->pools[l->resv[i].pool] != p || l->resv[i].bytes != new_bytes - old_bytes) {
		ret = qm_fail(-EINVAL, err, err_len,
			      "reservation %" PRIu64 " is %" PRIu64
			      " bytes on pool %s, not %" PRIu64 " on %s",
			      token, l->resv[i].bytes, l->pools[l->resv[i].pool].name,
			      new_bytes - old_bytes, pool);
		goto out;
	}
	p->reserved -= l->resv[i].bytes;
	p->committed += l->resv[i].bytes;
	drop_resv(l, i);
out:
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int quota_ledger_stat(struct quota_ledger *l, const char *pool, struct quota_ledger_stat *out)
{
	struct ledger_pool *p;
	int ret = 0;

	pthread_mutex_lock(&l->lock);
	p = find_pool(l, pool);
	if (!p) {
		ret = -ENOENT;
	} else {
		out->allocatable = p->allocatable;
		out->capacity = capacity(l, p);
		out->committed = p->committed;
		out->reserved = p->reserved;
		out->free = free_bytes(l, p);
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}
