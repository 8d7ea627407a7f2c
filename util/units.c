/* units: size and duration parsing with overflow checks. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/units.h"

struct suffix {
	const char *name;
	uint64_t mult;
};

static const struct suffix size_suffixes[] = {
	{"", 1ULL},
	{"k", 1000ULL},
	{"K", 1000ULL},
	{"M", 1000ULL * 1000},
	{"G", 1000ULL * 1000 * 1000},
	{"T", 1000ULL * 1000 * 1000 * 1000},
	{"P", 1000ULL * 1000 * 1000 * 1000 * 1000},
	{"E", 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000},
	{"Ki", 1ULL << 10},
	{"Mi", 1ULL << 20},
	{"Gi", 1ULL << 30},
	{"Ti", 1ULL << 40},
	{"Pi", 1ULL << 50},
	{"Ei", 1ULL << 60},
};

static const struct suffix duration_suffixes[] = {
	{"", 1000ULL}, {"ms", 1ULL}, {"s", 1000ULL}, {"m", 60ULL * 1000}, {"h", 3600ULL * 1000},
};

/* Reads the digits of s into *val and the rest into *rest; 0, -EINVAL or -ERANGE. */
static int parse_digits(const char *s, uint64_t *val, const char **rest, const char **why)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9') {
		*why = "expected a non-negative integer";
		return -EINVAL;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10) {
			*why = "number too large";
			return -ERANGE;
		}
		v = v * 10 + d;
	}
	*val = v;
	*rest = p;
	return 0;
}

static int parse_with(const char *s, const struct suffix *tab, size_t n, uint64_t *out,
		      const char **why, const char *bad_suffix)
{
	const char *rest, *dummy;
	uint64_t v;
	int r;

	if (!why)
		why = &dummy;
	if (!s) {
		*why = "missing value";
		return -EINVAL;
	}
	r = parse_digits(s, &v, &rest, why);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rest, tab[i].name) != 0)
			continue;
		if (tab[i].mult != 0 && v > UINT64_MAX / tab[i].mult) {
			*why = "value too large";
			return -ERANGE;
		}
		*out = v * tab[i].mult;
		return 0;
	}
	*why = bad_suffix;
	return -EINVAL;
}

int units_size_parse(const char *s, uint64_t *out, const char **why)
{
	return parse_with(
		s, size_suffixes, sizeof(size_suffixes) / sizeof(size_suffixes[0]), out, why,
		"unknown size unit (use bytes, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei)");
}

int units_duration_parse(const char *s, uint64_t *out_ms, const char **why)
{
	return parse_with(s, duration_suffixes,
			  sizeof(duration_suffixes) / sizeof(duration_suffixes[0]), out_ms, why,
			  "unknown duration unit (use ms, s, m, h)");
}

void units_size_format(uint64_t bytes, char *buf, unsigned long len)
{
	static const char *const names[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	int best = -1;

	for (int i = 0; i < 6; i++) {
		uint64_t m = 1ULL << (10 * (i + 1));
		if (bytes != 0 && bytes % m == 0)
			best = i;
	}
	if (best < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%s", (unsigned long long)(bytes >> (10 * (best + 1))),
			 names[best]);
}

/* ---- Kubernetes quantities ------------------------------------------------------------ */

/*
 * The value is kept exact as mant * 10^e10 * 2^e2 (mant up to 36 digits in 128 bits), then
 * scaled and rounded up once, so "0.1Gi" and "1.5" land where Kubernetes puts them.
 */
#define QTY_MAX_DIGITS 36

struct qty_suffix {
	const char *name;
	int e10;
	int e2;
};

static const struct qty_suffix qty_suffixes[] = {
	{"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
	{"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
	{"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
};

/* An exponent suffix "e3", "E-2", "e+9"; 0 or -EINVAL. */
static int qty_exponent(const char *p, int *e10)
{
	int sign = 1, v = 0;

	if (*p != 'e' && *p != 'E')
		return -EINVAL;
	p++;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > 1000)
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*e10 = sign * v;
	return 0;
}

int units_parse_quantity_scaled(const char *s, unsigned scale10, uint64_t *out, const char **why)
{
	const char *dummy, *p = s;
	unsigned __int128 mant = 0;
	int digits = 0, frac = 0, e10 = 0, e2 = 0;
	bool any = false, dot = false;

	if (!why)
		why = &dummy;
	if (!s || !*s) {
		*why = "missing value";
		return -EINVAL;
	}
	if (*p == '-') {
		*why = "negative quantity";
		return -EINVAL;
	}
	if (*p == '+')
		p++;
	for (;; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		any = true;
		if (mant == 0 && *p == '0') {
			if (dot)
				frac++;
			continue;
		}
		if (++digits > QTY_MAX_DIGITS) {
			*why = "too many digits";
			return -ERANGE;
		}
		mant = mant * 10 + (unsigned)(*p - '0');
		if (dot)
			frac++;
	}
	if (!any) {
		*why = "expected a number";
		return -EINVAL;
	}
	size_t i;
	for (i = 0; i < sizeof(qty_suffixes) / sizeof(qty_suffixes[0]); i++) {
		if (strcmp(p, qty_suffixes[i].name) == 0) {
			e10 = qty_suffixes[i].e10;
			e2 = qty_suffixes[i].e2;
			break;
		}
	}
	if (i == sizeof(qty_suffixes) / sizeof(qty_suffixes[0]) && qty_exponent(p, &e10) < 0) {
		*why = "unknown suffix (expected Ki Mi Gi Ti Pi Ei, n u m k M G T P E or e<int>)";
		return -EINVAL;
	}
	e10 += (int)scale10 - frac;
	if (mant == 0) {
		*out = 0;
		return 0;
	}
	/* Multiply first (exact), dividing last rounds up exactly once. */
	const unsigned __int128 lim = (unsigned __int128)UINT64_MAX;
	for (; e2 > 0; e2--) {
		mant <<= 1;
		if (mant > lim << 4) /* keep headroom; a later /10 may bring it back */
			break;
	}
	for (; e10 > 0; e10--) {
		if (mant > lim * 16)
			break;
		mant *= 10;
	}
	if (e2 > 0 || e10 > 0) {
		*why = "value too large";
		return -ERANGE;
	}
	for (; e10 < 0; e10++) {
		mant = mant / 10 + (mant % 10 != 0);
		if (mant == 1 && e10 < -1) {
			e10 = 0; /* any positive value rounds up to at least 1 */
			break;
		}
	}
	if (mant > lim) {
		*why = "value too large";
		return -ERANGE;
	}
	*out = (uint64_t)mant;
	return 0;
}

int units_parse_quantity(const char *s, uint64_t *out, const char **why)
{
	return units_parse_quantity_scaled(s, 0, out, why);
}
