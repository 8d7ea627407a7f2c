/* resize-decide: the auto resizer's decision for one volume: pure, no I/O, no clock. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resize/resize.h"

typedef unsigned __int128 u128;

static void say(struct resize_decision *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct resize_decision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

/*
 * A fixed reason, copied: "below the trigger" is the decision for nearly every volume at
 * every pass, and a format per volume was a visible share of a pass over 10,000.
 */
static void tell(struct resize_decision *d, const char *reason)
{
	size_t n = strnlen(reason, sizeof(d->reason) - 1);

	memcpy(d->reason, reason, n);
	d->reason[n] = '\0';
}

/* x rounded up to a multiple of m (m > 0); UINT64_MAX rounded down when it would overflow. */
static uint64_t round_up(uint64_t x, uint64_t m)
{
	u128 r = ((u128)x + m - 1) / m * m;

	return r > UINT64_MAX ? UINT64_MAX / m * m : (uint64_t)r;
}

static uint64_t lcm_or_max(uint64_t a, uint64_t b)
{
	uint64_t x = a, y = b;
	u128 l;

	while (y) {
		uint64_t t = x % y;

		x = y;
		y = t;
	}
	l = (u128)a / x * b;
	/* Absurd granularities (no common multiple below 2^64): the block alone. */
	return l > UINT64_MAX / 2 ? a : (uint64_t)l;
}

/* Which byte trigger holds, written into `why`; false when none. */
static bool triggered(const struct resize_policy *p, const struct resize_sample *s, char *why,
		      size_t len)
{
	uint64_t free_b = s->capacity_bytes - s->used_bytes;

	/* Integer arithmetic so that exactly X% fires and X% minus one byte does not. */
	if (p->used_percent &&
	    (u128)s->used_bytes * 100 >= (u128)p->used_percent * s->capacity_bytes) {
		snprintf(why, len, "used %" PRIu64 " of %" PRIu64 " bytes >= %u%%", s->used_bytes,
			 s->capacity_bytes, p->used_percent);
		return true;
	}
	if (p->free_bytes && free_b <= p->free_bytes) {
		snprintf(why, len, "free %" PRIu64 " bytes <= %" PRIu64, free_b, p->free_bytes);
		return true;
	}
	return false;
}

/*
 * Which inode trigger holds. Only a volume with an inode limit (and a sample
 * that has the limit) can run out of inodes: without one nothing fires.
 */
static bool inodes_triggered(const struct resize_volume_state *vol, const struct resize_policy *p,
			     const struct resize_sample *s, char *why, size_t len)
{
	uint64_t free_i;

	if (!vol->inodes || !s->has_inodes || !s->capacity_inodes)
		return false;
	free_i = s->capacity_inodes - s->used_inodes;
	if (p->inodes_used_percent &&
	    (u128)s->used_inodes * 100 >= (u128)p->inodes_used_percent * s->capacity_inodes) {
		snprintf(why, len, "used %" PRIu64 " of %" PRIu64 " inodes >= %u%%", s->used_inodes,
			 s->capacity_inodes, p->inodes_used_percent);
		return true;
	}
	if (p->inodes_free && free_i <= p->inodes_free) {
		snprintf(why, len, "free %" PRIu64 " inodes <= %" PRIu64, free_i, p->inodes_free);
		return true;
	}
	return false;
}

/* The byte part of a growth: 0 and out->new_size_bytes set, or -1 with `msg` saying why not. */
static int grow_bytes(const struct resize_volume_state *vol, const struct resize_policy *p,
		      const char *why, struct resize_decision *out, char *msg, size_t len)
{
	uint64_t bs = vol->block_size ? vol->block_size : 4096;
	uint64_t cur = vol->size_bytes, step, want, unit, room;

	/* The step is from the size now, never from the size first asked for. */
	if (p->step_kind == RESIZE_STEP_PERCENT) {
		u128 x = ((u128)cur * p->step_percent + 99) / 100;

		step = x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
	} else {
		step = p->step_bytes;
	}
	if (step < p->min_step_bytes)
		step = p->min_step_bytes;
	if (step == 0)
		step = 1;
	want = step > UINT64_MAX - cur ? UINT64_MAX : cur + step;
	unit = p->granularity_bytes ? lcm_or_max(bs, p->granularity_bytes) : bs;
	want = round_up(want, unit);
	if (want <= cur) {
		/* Only near 2^64, where rounding up must round down instead. */
		snprintf(msg, len, "no larger size is representable (%s)", why);
		return -1;
	}

	if (want >= p->max_size_bytes) {
		want = p->max_size_bytes;
		out->at_max = true;
		out->capped = want < cur + step;
	}
	/*
	 * The pool: a block-aligned size grows the quota by at most new - old
	 * (the limit is the size rounded up to the block plus a constant), so
	 * the largest block-aligned size within cur + free always fits.
	 */
	room = vol->pool_free_bytes > UINT64_MAX - cur ? UINT64_MAX : cur + vol->pool_free_bytes;
	room = room / bs * bs;
	if (want > room) {
		if (room <= cur) {
			out->refused = true;
			out->at_max = false;
			out->capped = false;
			snprintf(msg, len,
				 "refused: pool has %" PRIu64
				 " bytes free, not enough for a step (%s)",
				 vol->pool_free_bytes, why);
			return -1;
		}
		want = room;
		out->capped = true;
		out->at_max = want >= p->max_size_bytes;
		out->new_size_bytes = want;
		snprintf(msg, len,
			 "capped at the pool's free capacity (%" PRIu64 " bytes free): %s",
			 vol->pool_free_bytes, why);
		return 0;
	}
	out->new_size_bytes = want;
	if (out->capped)
		snprintf(msg, len, "capped at max_size_bytes %" PRIu64 ": %s", p->max_size_bytes,
			 why);
	else
		snprintf(msg, len, "%s", why);
	return 0;
}

/* The inode part: from the limit now, the larger step, at least the minimum, up to max. */
static void grow_inodes(const struct resize_volume_state *vol, const struct resize_policy *p,
			const char *why, struct resize_decision *out, char *msg, size_t len)
{
	uint64_t cur = vol->inodes, step = p->inodes_step, want;
	u128 x = ((u128)cur * p->inodes_step_percent + 99) / 100;

	if (x > step)
		step = x > UINT64_MAX ? UINT64_MAX : (uint64_t)x;
	if (step < p->min_step_inodes)
		step = p->min_step_inodes;
	if (step == 0)
		step = 1;
	want = step > UINT64_MAX - cur ? UINT64_MAX : cur + step;
	if (want >= p->max_inodes) {
		want = p->max_inodes;
		out->inodes_at_max = true;
		out->inodes_capped = want < cur + step;
	}
	out->new_inodes = want;
	if (out->inodes_capped)
		snprintf(msg, len, "capped at max_inodes %" PRIu64 ": %s", p->max_inodes, why);
	else
		snprintf(msg, len, "%s", why);
}

void resize_decide(const struct resize_volume_state *vol, const struct resize_sample *s,
		   const struct resize_policy *p, int64_t now_ms, int64_t max_age_ms,
		   const struct resize_history *h, struct resize_decision *out)
{
	uint64_t cur = vol->size_bytes;
	char why[160], iwhy[160], bmsg[RESIZE_REASON_MAX], imsg[RESIZE_REASON_MAX];
	bool fire_b, fire_i, had_b, had_i;

	memset(out, 0, sizeof(*out));
	out->new_size_bytes = cur;
	out->new_inodes = vol->inodes;

	/* The sample first: nothing is decided on figures that cannot be true. */
	if (!s->valid) {
		tell(out, "no usage sample");
		return;
	}
	if (s->capacity_bytes == 0) {
		tell(out, "impossible sample: capacity 0");
		return;
	}
	if (s->used_bytes > s->capacity_bytes) {
		say(out, "impossible sample: used %" PRIu64 " > capacity %" PRIu64 " bytes",
		    s->used_bytes, s->capacity_bytes);
		return;
	}
	if (s->has_inodes && s->capacity_inodes && s->used_inodes > s->capacity_inodes) {
		say(out, "impossible sample: used inodes %" PRIu64 " > %" PRIu64, s->used_inodes,
		    s->capacity_inodes);
		return;
	}
	/* A volume always holds its own directory: zero inodes after some is a broken reading. */
	if (s->has_inodes && s->used_inodes == 0 && h && h->has_prev && h->prev_used_inodes > 0) {
		say(out, "impossible sample: used inodes dropped from %" PRIu64 " to 0",
		    h->prev_used_inodes);
		return;
	}
	if (s->taken_ms > now_ms + max_age_ms) {
		say(out, "impossible sample: taken %" PRId64 " ms in the future",
		    s->taken_ms - now_ms);
		return;
	}
	if (now_ms - s->taken_ms > max_age_ms) {
		say(out, "stale sample: %" PRId64 " ms old, more than %" PRId64,
		    now_ms - s->taken_ms, max_age_ms);
		return;
	}
	/*
	 * A sample measured before the last resize took effect describes the old
	 * size: acting on it would grow twice for one crossing (the overshoot of
	 * a resizer that reads a scraped metric right after resizing). The same
	 * millisecond counts as before: which came first cannot be told.
	 */
	if (h && h->finished_ms && s->taken_ms <= h->finished_ms) {
		say(out, "sample taken before the last resize finished (%" PRId64 " ms earlier)",
		    h->finished_ms - s->taken_ms);
		return;
	}
	out->usable = true;
	fire_b = triggered(p, s, why, sizeof(why));
	fire_i = inodes_triggered(vol, p, s, iwhy, sizeof(iwhy));
	if (!fire_b && !fire_i) {
		tell(out, "below the trigger");
		return;
	}
	out->triggered = true;
	out->inodes_triggered = fire_i;
	had_b = fire_b;
	had_i = fire_i;
	/* At max: that part is done; the other may still grow. */
	if (fire_b && cur >= p->max_size_bytes) {
		out->at_max = true;
		snprintf(bmsg, sizeof(bmsg),
			 "at max: size %" PRIu64 " >= max_size_bytes %" PRIu64 " (%s)", cur,
			 p->max_size_bytes, why);
		fire_b = false;
	}
	if (fire_i && vol->inodes >= p->max_inodes) {
		out->inodes_at_max = true;
		snprintf(imsg, sizeof(imsg),
			 "at max: inodes %" PRIu64 " >= max_inodes %" PRIu64 " (%s)", vol->inodes,
			 p->max_inodes, iwhy);
		fire_i = false;
	}
	if ((fire_b || fire_i) && h && h->finished_ms &&
	    now_ms - h->finished_ms < (int64_t)p->cooldown_ms) {
		say(out, "cooldown: last resize %" PRId64 " ms ago, cooldown %" PRIu64 " ms (%s)",
		    now_ms - h->finished_ms, p->cooldown_ms, fire_b ? why : iwhy);
		return;
	}
	if (fire_b && grow_bytes(vol, p, why, out, bmsg, sizeof(bmsg)) == 0)
		out->action = RESIZE_GROW;
	/* A refused byte step does not stop the inodes: they take no room in the pool. */
	if (fire_i) {
		grow_inodes(vol, p, iwhy, out, imsg, sizeof(imsg));
		out->action = RESIZE_GROW;
	}
	if (had_b && had_i)
		say(out, "%.120s; inodes: %.120s", bmsg, imsg);
	else if (had_b)
		say(out, "%s", bmsg);
	else
		say(out, "inodes: %s", imsg);
}
