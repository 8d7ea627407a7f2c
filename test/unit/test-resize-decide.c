/* test-resize-decide: the auto resizer's pure decision, rule by rule over a table, and a property
 * test over random samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "resize/resize.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define NOW 1700000000000LL
#define AGE 4000 /* 2 × a 2 s interval */

/* 80 % / +50 % / max 4 GiB, granularity 1 MiB, 60 s cooldown: the example. */
static struct resize_policy base_policy(void)
{
	struct resize_policy p;

	memset(&p, 0, sizeof(p));
	strcpy(p.name, "p");
	p.used_percent = 80;
	p.step_kind = RESIZE_STEP_PERCENT;
	p.step_percent = 50;
	p.granularity_bytes = MiB;
	p.max_size_bytes = 4 * GiB;
	p.cooldown_ms = 60000;
	return p;
}

struct row {
	const char *what;
	/* inputs that differ from the base */
	uint64_t size, pool_free, block;
	uint64_t used, cap;
	int64_t taken; /* relative to NOW */
	bool invalid;
	bool has_inodes;
	uint64_t used_inodes, cap_inodes;
	int64_t finished; /* relative to NOW; 0 = never resized */
	uint64_t prev_inodes;
	/* policy changes */
	unsigned pct;
	uint64_t free_trigger;
	int step_bytes; /* 1: step_bytes = step_b */
	uint64_t step_b, min_step, gran, max;
	int gran_set;
	/* expected */
	enum resize_action action;
	uint64_t new_size;
	bool capped, at_max, refused;
	const char *reason; /* a substring of the reason */
};

static void run_row(const struct row *r)
{
	struct resize_policy p = base_policy();
	struct resize_volume_state v = {.size_bytes = r->size ? r->size : GiB,
					.pool_free_bytes = r->pool_free ? r->pool_free : 100 * GiB,
					.block_size = r->block};
	struct resize_sample s = {.valid = !r->invalid,
				  .used_bytes = r->used,
				  .capacity_bytes = r->cap,
				  .has_inodes = r->has_inodes,
				  .used_inodes = r->used_inodes,
				  .capacity_inodes = r->cap_inodes,
				  .taken_ms = NOW + r->taken};
	struct resize_history h = {0};
	struct resize_decision d;

	if (r->finished) {
		h.finished_ms = NOW + r->finished;
		h.started_ms = h.finished_ms - 5;
	}
	if (r->prev_inodes) {
		h.has_prev = true;
		h.prev_used_inodes = r->prev_inodes;
	}
	if (r->pct)
		p.used_percent = r->pct == 999 ? 0 : r->pct;
	p.free_bytes = r->free_trigger;
	if (r->step_bytes) {
		p.step_kind = RESIZE_STEP_BYTES;
		p.step_bytes = r->step_b;
	}
	p.min_step_bytes = r->min_step;
	if (r->gran_set)
		p.granularity_bytes = r->gran;
	if (r->max)
		p.max_size_bytes = r->max;
	resize_decide(&v, &s, &p, NOW, AGE, &h, &d);
	print_message("%-40s -> action=%d new=%llu capped=%d at_max=%d refused=%d reason=%s\n",
		      r->what, d.action, (unsigned long long)d.new_size_bytes, d.capped, d.at_max,
		      d.refused, d.reason);
	assert_int_equal(d.action, r->action);
	assert_int_equal(d.new_size_bytes, r->action == RESIZE_GROW ? r->new_size : v.size_bytes);
	assert_int_equal(d.capped, r->capped);
	assert_int_equal(d.at_max, r->at_max);
	assert_int_equal(d.refused, r->refused);
	assert_non_null(strstr(d.reason, r->reason));
}

/* used = 80 % of a 1 GiB capacity, to the byte */
#define EDGE ((GiB * 80) / 100)

static const struct row rows[] = {
	/* thresholds at the edge */
	{"used exactly 80%", .used = EDGE + 1, .cap = GiB, .action = RESIZE_GROW,
	 .new_size = GiB + GiB / 2, .reason = ">= 80%"},
	{"used 80% to the byte (divisible)", .used = 800, .cap = 1000, .action = RESIZE_GROW,
	 .new_size = GiB + GiB / 2, .reason = ">= 80%"},
	{"used 80% minus one byte", .used = 799, .cap = 1000, .action = RESIZE_NONE,
	 .reason = "below the trigger"},
	{"free exactly the trigger", .pct = 999, .free_trigger = 100 * MiB, .used = GiB - 100 * MiB,
	 .cap = GiB, .action = RESIZE_GROW, .new_size = GiB + GiB / 2, .reason = "<= 104857600"},
	{"free one byte more than the trigger", .pct = 999, .free_trigger = 100 * MiB,
	 .used = GiB - 100 * MiB - 1, .cap = GiB, .action = RESIZE_NONE,
	 .reason = "below the trigger"},
	{"100% used", .used = GiB, .cap = GiB, .action = RESIZE_GROW, .new_size = GiB + GiB / 2,
	 .reason = ">= 80%"},
	/* step and rounding */
	{"step percent from the current size", .size = 3 * GiB, .used = 900, .cap = 1000,
	 .max = 100 * GiB, .action = RESIZE_GROW, .new_size = 4 * GiB + GiB / 2, .reason = ""},
	{"step rounded up to the granularity", .size = 1000 * MiB + 1, .used = 900, .cap = 1000,
	 .action = RESIZE_GROW, .new_size = 1501 * MiB, .reason = ""},
	{"step rounded up to the fs block without granularity", .size = 10000, .gran_set = 1,
	 .gran = 0, .used = 900, .cap = 1000, .action = RESIZE_GROW, .new_size = 16384,
	 .reason = ""},
	{"granularity and block: their common multiple", .size = 10 * MiB, .block = 64 * KiB,
	 .gran_set = 1, .gran = 48 * KiB, .used = 900, .cap = 1000, .action = RESIZE_GROW,
	 .new_size = 15 * MiB, .reason = ""},
	{"step bytes", .step_bytes = 1, .step_b = 300 * MiB, .used = 900, .cap = 1000,
	 .action = RESIZE_GROW, .new_size = GiB + 300 * MiB, .reason = ""},
	{"minimum step wins over a small percent", .size = 10 * MiB, .min_step = 256 * MiB,
	 .used = 900, .cap = 1000, .action = RESIZE_GROW, .new_size = 266 * MiB, .reason = ""},
	/* caps */
	{"capped at max", .size = 3 * GiB, .used = 900, .cap = 1000, .action = RESIZE_GROW,
	 .new_size = 4 * GiB, .capped = true, .at_max = true, .reason = "capped at max_size_bytes"},
	{"step lands exactly on max", .size = 2863311530, .max = 4 * GiB, .used = 900, .cap = 1000,
	 .action = RESIZE_GROW, .new_size = 4 * GiB, .at_max = true, .reason = ""},
	{"already at max", .size = 4 * GiB, .used = 900, .cap = 1000, .action = RESIZE_NONE,
	 .at_max = true, .reason = "at max"},
	{"above max (max lowered)", .size = 5 * GiB, .used = 900, .cap = 1000,
	 .action = RESIZE_NONE, .at_max = true, .reason = "at max"},
	{"capped at the pool's free bytes", .pool_free = 100 * MiB + 123, .used = 900, .cap = 1000,
	 .action = RESIZE_GROW, .new_size = GiB + 100 * MiB, .capped = true,
	 .reason = "pool's free capacity"},
	{"pool full: refused", .pool_free = 4095, .used = 900, .cap = 1000, .action = RESIZE_NONE,
	 .refused = true, .reason = "refused"},
	/* time */
	{"cooldown", .finished = -59999, .taken = -1, .used = 900, .cap = 1000,
	 .action = RESIZE_NONE, .reason = "cooldown"},
	{"cooldown over", .finished = -60000, .taken = -1, .used = 900, .cap = 1000,
	 .action = RESIZE_GROW, .new_size = GiB + GiB / 2, .reason = ""},
	{"sample before the last resize finished (overshoot)", .finished = -100, .taken = -101,
	 .used = 900, .cap = 1000, .action = RESIZE_NONE, .reason = "before the last resize"},
	{"sample taken the millisecond the last resize finished", .finished = -100, .taken = -100,
	 .used = 900, .cap = 1000, .action = RESIZE_NONE, .reason = "before the last resize"},
	{"sample taken 1 ms after the last resize finished", .finished = -100, .taken = -99,
	 .used = 900, .cap = 1000, .action = RESIZE_NONE, .reason = "cooldown"},
	{"stale sample", .taken = -AGE - 1, .used = 900, .cap = 1000, .action = RESIZE_NONE,
	 .reason = "stale"},
	{"sample exactly max age", .taken = -AGE, .used = 900, .cap = 1000, .action = RESIZE_GROW,
	 .new_size = GiB + GiB / 2, .reason = ""},
	{"sample from the future", .taken = AGE + 1, .used = 900, .cap = 1000,
	 .action = RESIZE_NONE, .reason = "future"},
	/* impossible samples */
	{"no sample", .invalid = true, .used = 900, .cap = 1000, .action = RESIZE_NONE,
	 .reason = "no usage sample"},
	{"used > capacity", .used = 1001, .cap = 1000, .action = RESIZE_NONE,
	 .reason = "impossible sample: used"},
	{"capacity 0", .used = 0, .cap = 0, .action = RESIZE_NONE, .reason = "capacity 0"},
	{"inodes jump to zero", .has_inodes = true, .used_inodes = 0, .cap_inodes = 100,
	 .prev_inodes = 7, .used = 900, .cap = 1000, .action = RESIZE_NONE,
	 .reason = "dropped from 7 to 0"},
	{"used inodes > inode capacity", .has_inodes = true, .used_inodes = 101, .cap_inodes = 100,
	 .used = 900, .cap = 1000, .action = RESIZE_NONE, .reason = "used inodes"},
	{"inodes zero without an earlier figure is fine", .has_inodes = true, .used_inodes = 0,
	 .cap_inodes = 100, .used = 900, .cap = 1000, .action = RESIZE_GROW,
	 .new_size = GiB + GiB / 2, .reason = ""},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
}

/*
 * Inodes: a 1 GiB volume with an inode limit of 1000, its bytes below their trigger; the policy
 * adds inodes >= 80 % / +50 % / max 10000 to the base.
 */
struct irow {
	const char *what;
	uint64_t inodes;	       /* the volume's inode limit; 0 here = 1000 */
	bool no_limit;		       /* the volume has no inode limit */
	uint64_t used_i, cap_i;	       /* the sample's inodes (cap 0 = the limit) */
	bool no_inodes;		       /* the sample has no inode figures */
	uint64_t used;		       /* bytes used of 1000 (0 = 100: below) */
	uint64_t pool_free;	       /* 0 = plenty */
	uint64_t size;		       /* 0 = 1 GiB */
	int64_t taken, finished;       /* relative to NOW */
	unsigned ipct;		       /* 0 = 80; 999 = off */
	uint64_t ifree, istep, imin;   /* policy */
	unsigned istep_pct;	       /* 0 = 50; 999 = off */
	uint64_t imax;		       /* 0 = 10000 */
	enum resize_action action;     /* expected */
	uint64_t new_inodes, new_size; /* 0 = unchanged */
	bool icapped, iat_max, at_max, refused, itrig;
	const char *reason;
};

static void run_irow(const struct irow *r)
{
	struct resize_policy p = base_policy();
	uint64_t lim = r->no_limit ? 0 : r->inodes ? r->inodes : 1000;
	struct resize_volume_state v = {.size_bytes = r->size ? r->size : GiB,
					.inodes = lim,
					.pool_free_bytes = r->pool_free ? r->pool_free : 100 * GiB};
	struct resize_sample s = {.valid = true,
				  .used_bytes = r->used ? r->used : 100,
				  .capacity_bytes = 1000,
				  .has_inodes = !r->no_inodes,
				  .used_inodes = r->used_i,
				  .capacity_inodes = r->cap_i ? r->cap_i : lim,
				  .taken_ms = NOW + r->taken};
	struct resize_history h = {0};
	struct resize_decision d;

	if (r->finished) {
		h.finished_ms = NOW + r->finished;
		h.started_ms = h.finished_ms - 5;
	}
	p.inodes_used_percent = r->ipct == 999 ? 0 : r->ipct ? r->ipct : 80;
	p.inodes_free = r->ifree;
	p.inodes_step_percent = r->istep_pct == 999 ? 0 : r->istep_pct ? r->istep_pct : 50;
	p.inodes_step = r->istep;
	p.min_step_inodes = r->imin;
	p.max_inodes = r->imax ? r->imax : 10000;
	resize_decide(&v, &s, &p, NOW, AGE, &h, &d);
	print_message("%-45s -> action=%d size=%llu inodes=%llu icapped=%d iat_max=%d at_max=%d "
		      "refused=%d reason=%s\n",
		      r->what, d.action, (unsigned long long)d.new_size_bytes,
		      (unsigned long long)d.new_inodes, d.inodes_capped, d.inodes_at_max, d.at_max,
		      d.refused, d.reason);
	assert_int_equal(d.action, r->action);
	assert_int_equal(d.new_inodes, r->new_inodes ? r->new_inodes : lim);
	assert_int_equal(d.new_size_bytes, r->new_size ? r->new_size : v.size_bytes);
	assert_int_equal(d.inodes_capped, r->icapped);
	assert_int_equal(d.inodes_at_max, r->iat_max);
	assert_int_equal(d.at_max, r->at_max);
	assert_int_equal(d.refused, r->refused);
	assert_int_equal(d.inodes_triggered, r->itrig);
	assert_non_null(strstr(d.reason, r->reason));
}

static const struct irow irows[] = {
	/* triggers at the edge */
	{"inodes used exactly 80%", .used_i = 800, .action = RESIZE_GROW, .new_inodes = 1500,
	 .itrig = true, .reason = "inodes: used 800 of 1000 inodes >= 80%"},
	{"inodes used 80% minus one", .used_i = 799, .action = RESIZE_NONE,
	 .reason = "below the trigger"},
	{"inodes free exactly the trigger", .ipct = 999, .ifree = 100, .used_i = 900,
	 .action = RESIZE_GROW, .new_inodes = 1500, .itrig = true,
	 .reason = "free 100 inodes <= 100"},
	{"inodes free one more than the trigger", .ipct = 999, .ifree = 100, .used_i = 899,
	 .action = RESIZE_NONE, .reason = "below the trigger"},
	{"all inodes used", .used_i = 1000, .action = RESIZE_GROW, .new_inodes = 1500,
	 .itrig = true, .reason = "inodes"},
	/* a volume without an inode limit never triggers on inodes */
	{"no inode limit", .no_limit = true, .used_i = 5000, .cap_i = 0, .action = RESIZE_NONE,
	 .reason = "below the trigger"},
	{"no inode limit, a sample that claims one", .no_limit = true, .used_i = 900, .cap_i = 1000,
	 .action = RESIZE_NONE, .new_inodes = 0, .reason = "below the trigger"},
	{"a sample without inode figures", .no_inodes = true, .used_i = 900, .action = RESIZE_NONE,
	 .reason = "below the trigger"},
	/* step */
	{"step from the limit now", .inodes = 3000, .used_i = 2400, .action = RESIZE_GROW,
	 .new_inodes = 4500, .itrig = true, .reason = ""},
	{"step percent rounds up", .inodes = 3, .imax = 100, .used_i = 3, .action = RESIZE_GROW,
	 .new_inodes = 5, .itrig = true, .reason = ""},
	{"count step larger than the percent wins", .istep = 2000, .used_i = 900,
	 .action = RESIZE_GROW, .new_inodes = 3000, .itrig = true, .reason = ""},
	{"percent larger than the count step wins", .istep = 100, .used_i = 900,
	 .action = RESIZE_GROW, .new_inodes = 1500, .itrig = true, .reason = ""},
	{"count step alone", .istep_pct = 999, .istep = 64, .used_i = 900, .action = RESIZE_GROW,
	 .new_inodes = 1064, .itrig = true, .reason = ""},
	{"minimum step wins", .istep_pct = 1, .imin = 500, .used_i = 900, .action = RESIZE_GROW,
	 .new_inodes = 1500, .itrig = true, .reason = ""},
	/* max */
	{"capped at max_inodes", .inodes = 9000, .used_i = 8000, .action = RESIZE_GROW,
	 .new_inodes = 10000, .icapped = true, .iat_max = true, .itrig = true,
	 .reason = "capped at max_inodes 10000"},
	{"step lands exactly on max_inodes", .imax = 1500, .used_i = 900, .action = RESIZE_GROW,
	 .new_inodes = 1500, .iat_max = true, .itrig = true, .reason = ""},
	{"inodes already at max", .inodes = 10000, .used_i = 9000, .action = RESIZE_NONE,
	 .iat_max = true, .itrig = true, .reason = "at max: inodes 10000 >= max_inodes 10000"},
	{"inodes above max (max lowered)", .inodes = 20000, .used_i = 19000, .action = RESIZE_NONE,
	 .iat_max = true, .itrig = true, .reason = "at max: inodes"},
	/* time */
	{"inodes in cooldown", .finished = -59999, .taken = -1, .used_i = 900,
	 .action = RESIZE_NONE, .itrig = true, .reason = "cooldown"},
	{"inodes cooldown over", .finished = -60000, .taken = -1, .used_i = 900,
	 .action = RESIZE_GROW, .new_inodes = 1500, .itrig = true, .reason = ""},
	{"stale sample", .taken = -AGE - 1, .used_i = 900, .action = RESIZE_NONE,
	 .reason = "stale"},
	{"inode sample before the last resize", .finished = -100, .taken = -101, .used_i = 900,
	 .action = RESIZE_NONE, .reason = "before the last resize"},
	/* bytes and inodes together */
	{"both fire: one resize grows both", .used = 900, .used_i = 900, .action = RESIZE_GROW,
	 .new_size = GiB + GiB / 2, .new_inodes = 1500, .itrig = true,
	 .reason = "used 900 of 1000 bytes >= 80%; inodes: used 900 of 1000 inodes"},
	{"bytes at max, inodes grow", .size = 4 * GiB, .used = 900, .used_i = 900,
	 .action = RESIZE_GROW, .new_inodes = 1500, .at_max = true, .itrig = true,
	 .reason = "at max: size"},
	{"inodes at max, bytes grow", .inodes = 10000, .used = 900, .used_i = 9000,
	 .action = RESIZE_GROW, .new_size = GiB + GiB / 2, .iat_max = true, .itrig = true,
	 .reason = "inodes: at max"},
	{"both at max", .size = 4 * GiB, .inodes = 10000, .used = 900, .used_i = 9000,
	 .action = RESIZE_NONE, .at_max = true, .iat_max = true, .itrig = true,
	 .reason = "at max: size"},
	{"pool full: bytes refused, inodes still grow", .pool_free = 4095, .used = 900,
	 .used_i = 900, .action = RESIZE_GROW, .new_inodes = 1500, .refused = true, .itrig = true,
	 .reason = "refused"},
	{"pool full, only bytes fire: refused", .pool_free = 4095, .used = 900, .used_i = 10,
	 .action = RESIZE_NONE, .refused = true, .reason = "refused"},
	{"impossible inode sample stops the bytes too", .used = 900, .used_i = 1001,
	 .action = RESIZE_NONE, .reason = "impossible sample: used inodes 1001 > 1000"},
};

static void test_inode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(irows) / sizeof(irows[0]); i++)
		run_irow(&irows[i]);
}

/* No flapping on inodes: one crossing grows the limit once, the next sample is below. */
static void test_inodes_no_flapping(void **state)
{
	struct resize_policy p = base_policy();
	struct resize_volume_state v = {.size_bytes = GiB, .inodes = 1000, .pool_free_bytes = GiB};
	struct resize_sample s = {.valid = true,
				  .used_bytes = 1,
				  .capacity_bytes = GiB,
				  .has_inodes = true,
				  .used_inodes = 800,
				  .capacity_inodes = 1000,
				  .taken_ms = NOW};
	struct resize_history h = {0};
	struct resize_decision d;

	(void)state;
	p.cooldown_ms = 0;
	p.inodes_used_percent = 80;
	p.inodes_step_percent = 50;
	p.max_inodes = 100000;
	resize_decide(&v, &s, &p, NOW, AGE, &h, &d);
	assert_int_equal(d.action, RESIZE_GROW);
	assert_int_equal(d.new_inodes, 1500);
	h.finished_ms = NOW + 10;
	v.inodes = d.new_inodes;
	resize_decide(&v, &s, &p, NOW + 20, AGE, &h, &d);
	assert_int_equal(d.action, RESIZE_NONE);
	s.capacity_inodes = v.inodes;
	s.taken_ms = NOW + 30;
	resize_decide(&v, &s, &p, NOW + 40, AGE, &h, &d);
	assert_int_equal(d.action, RESIZE_NONE);
	assert_non_null(strstr(d.reason, "below"));
}

/*
 * No flapping: a crossing resizes once. The resize makes the next sample (taken after it
 * finished, on the bigger volume) fall below the trigger, and a sample from before it is
 * ignored, so the size only ever moves up, one step per crossing.
 */
static void test_no_flapping(void **state)
{
	struct resize_policy p = base_policy();
	struct resize_volume_state v = {.size_bytes = GiB, .pool_free_bytes = 100 * GiB};
	struct resize_sample s = {
		.valid = true, .used_bytes = EDGE + 1, .capacity_bytes = GiB, .taken_ms = NOW};
	struct resize_history h = {0};
	struct resize_decision d;

	(void)state;
	p.cooldown_ms = 0;
	resize_decide(&v, &s, &p, NOW, AGE, &h, &d);
	assert_int_equal(d.action, RESIZE_GROW);
	h.started_ms = NOW + 1;
	h.finished_ms = NOW + 10;
	v.size_bytes = d.new_size_bytes;
	/* the same (old) sample again: ignored */
	resize_decide(&v, &s, &p, NOW + 20, AGE, &h, &d);
	assert_int_equal(d.action, RESIZE_NONE);
	/* a fresh sample on the new size: below the trigger */
	s.capacity_bytes = v.size_bytes;
	s.taken_ms = NOW + 30;
	resize_decide(&v, &s, &p, NOW + 40, AGE, &h, &d);
	assert_int_equal(d.action, RESIZE_NONE);
	assert_non_null(strstr(d.reason, "below"));
}

static uint64_t rnd64(void)
{
	return ((uint64_t)random() << 33) ^ ((uint64_t)random() << 2) ^ (uint64_t)random();
}

static uint64_t pick(uint64_t lim)
{
	/* a mix of small, edge and huge figures */
	switch (random() % 5) {
	case 0:
		return 0;
	case 1:
		return lim ? rnd64() % lim : 0;
	case 2:
		return UINT64_MAX - (uint64_t)(random() % 3);
	case 3:
		return (uint64_t)(random() % 5000) * MiB;
	default:
		return rnd64();
	}
}

/* Random samples, sizes and policies never give a size above max, below the size now, or more
 * than the pool has free. */
static void test_property(void **state)
{
	(void)state;
	srandom(7);
	for (int i = 0; i < 200000; i++) {
		struct resize_policy p = base_policy();
		struct resize_volume_state v;
		struct resize_sample s;
		struct resize_history h = {0};
		struct resize_decision d;

		v.size_bytes = pick(0) | 1;
		v.pool_free_bytes = pick(0);
		v.block_size = random() % 2 ? 4096 : 65536;
		v.inodes = random() % 3 ? pick(0) : 0;
		s.valid = random() % 8 != 0;
		s.capacity_bytes = pick(0);
		s.used_bytes = pick(s.capacity_bytes + 1);
		s.has_inodes = random() % 2;
		s.used_inodes = pick(1000);
		s.capacity_inodes = pick(1000);
		s.taken_ms = NOW - random() % 10000;
		p.used_percent = 1 + random() % 100;
		p.free_bytes = random() % 2 ? pick(0) : 0;
		p.step_kind = random() % 2 ? RESIZE_STEP_PERCENT : RESIZE_STEP_BYTES;
		p.step_percent = 1 + random() % 1000;
		p.step_bytes = pick(0) | 1;
		p.min_step_bytes = random() % 2 ? pick(0) : 0;
		p.granularity_bytes = random() % 3 ? (uint64_t)(1 + random() % 4096) * 4096 : 0;
		p.max_size_bytes = pick(0) | 1;
		p.cooldown_ms = random() % 10000;
		p.inodes_used_percent = random() % 2 ? 1 + random() % 100 : 0;
		p.inodes_free = random() % 2 ? pick(0) : 0;
		p.inodes_step_percent = random() % 2 ? 1 + random() % 1000 : 0;
		p.inodes_step = random() % 2 ? pick(0) : 0;
		p.min_step_inodes = random() % 2 ? pick(0) : 0;
		p.max_inodes = pick(0) | 1;
		if (random() % 2) {
			h.finished_ms = NOW - random() % 20000;
			h.started_ms = h.finished_ms - 10;
		}
		resize_decide(&v, &s, &p, NOW, AGE, &h, &d);
		if (d.action == RESIZE_NONE) {
			assert_int_equal(d.new_size_bytes, v.size_bytes);
			assert_int_equal(d.new_inodes, v.inodes);
			continue;
		}
		/* Something grows; nothing shrinks; each part stays within its max. */
		assert_true(d.new_size_bytes > v.size_bytes || d.new_inodes > v.inodes);
		assert_true(d.new_size_bytes >= v.size_bytes);
		assert_true(d.new_inodes >= v.inodes);
		if (d.new_size_bytes != v.size_bytes) {
			assert_true(d.new_size_bytes <= p.max_size_bytes);
			assert_true(d.new_size_bytes - v.size_bytes <= v.pool_free_bytes);
		}
		if (d.new_inodes != v.inodes) {
			/* Only a volume with an inode limit, and never past max_inodes. */
			assert_true(v.inodes > 0 && s.has_inodes && s.capacity_inodes > 0);
			assert_true(d.new_inodes <= p.max_inodes);
			assert_true(d.inodes_triggered);
		}
		assert_true(s.valid && s.used_bytes <= s.capacity_bytes);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),	    cmocka_unit_test(test_no_flapping),
		cmocka_unit_test(test_inode_table), cmocka_unit_test(test_inodes_no_flapping),
		cmocka_unit_test(test_property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
