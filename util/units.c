/* units: size and duration parsing with overflow checks. */
#include <errno.h>
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
