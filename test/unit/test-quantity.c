/* test-quantity: Kubernetes resource quantities (units_parse_quantity*) at their edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "util/units.h"

#define N_OF(a)	 (sizeof(a) / sizeof((a)[0]))
#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

struct qcase {
	const char *in;
	unsigned scale;
	int err;
	uint64_t want;
};

/* Values as resource.Quantity.Value() (scale 0) and MilliValue() (scale 3) give them. */
static const struct qcase cases[] = {
	{"0", 0, 0, 0},
	{"1", 0, 0, 1},
	{"1048576", 0, 0, 1048576},
	{"16Gi", 0, 0, 16ULL << 30},
	{"8Gi", 0, 0, 8ULL << 30},
	{"32Gi", 0, 0, 32ULL << 30},
	{"1Ki", 0, 0, 1024},
	{"1Mi", 0, 0, 1ULL << 20},
	{"2Ti", 0, 0, 2ULL << 40},
	{"1Pi", 0, 0, 1ULL << 50},
	{"7Ei", 0, 0, 7ULL << 60},
	{"1k", 0, 0, 1000},
	{"1M", 0, 0, 1000000},
	{"1G", 0, 0, 1000000000},
	{"1T", 0, 0, 1000000000000ULL},
	{"1P", 0, 0, 1000000000000000ULL},
	{"1E", 0, 0, 1000000000000000000ULL},
	{"1e9", 0, 0, 1000000000},
	{"1E9", 0, 0, 1000000000},
	{"1e+3", 0, 0, 1000},
	{"12e-1", 0, 0, 2}, /* 1.2 rounds up */
	{"1.5Gi", 0, 0, 3ULL << 29},
	{"0.5Ki", 0, 0, 512},
	{".5Ki", 0, 0, 512},
	{"1.", 0, 0, 1},
	{"+5", 0, 0, 5},
	{"100m", 0, 0, 1}, /* fractional bytes round up */
	{"1n", 0, 0, 1},
	{"0.0001", 0, 0, 1},
	{"000016Gi", 0, 0, 16ULL << 30},
	{"18446744073709551615", 0, 0, UINT64_MAX},
	/* CPUs in millis */
	{"2", 3, 0, 2000},
	{"500m", 3, 0, 500},
	{"1.5", 3, 0, 1500},
	{"0.1", 3, 0, 100},
	{"100u", 3, 0, 1},
	{"2k", 3, 0, 2000000},
	/* errors */
	{"", 0, -EINVAL, 0},
	{"-1", 0, -EINVAL, 0},
	{"-1Gi", 0, -EINVAL, 0},
	{"Gi", 0, -EINVAL, 0},
	{".", 0, -EINVAL, 0},
	{"1..5", 0, -EINVAL, 0},
	{"1 Gi", 0, -EINVAL, 0},
	{"1gi", 0, -EINVAL, 0},
	{"1K", 0, -EINVAL, 0}, /* Kubernetes has k, not K */
	{"1KiB", 0, -EINVAL, 0},
	{"1e", 0, -EINVAL, 0},
	{"1e1.5", 0, -EINVAL, 0},
	{"1e99999", 0, -EINVAL, 0},
	{"0x10", 0, -EINVAL, 0},
	{"16Ei", 0, -ERANGE, 0},
	{"18446744073709551616", 0, -ERANGE, 0},
	{"1e30", 0, -ERANGE, 0},
	{"1234567890123456789012345678901234567890", 0, -ERANGE, 0},
};

static void test_quantities(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		const struct qcase *c = &cases[i];
		uint64_t v = SENTINEL;
		const char *why = NULL;
		int r = units_parse_quantity_scaled(c->in, c->scale, &v, &why);
		if (r != c->err || (r == 0 && v != c->want) || (r != 0 && v != SENTINEL))
			fprintf(stderr, "\"%s\" scale %u: r=%d v=%llu why=%s\n", c->in, c->scale, r,
				(unsigned long long)v, why ? why : "-");
		assert_int_equal(r, c->err);
		if (r == 0)
			assert_true(v == c->want);
		else {
			assert_true(v == SENTINEL); /* untouched on failure */
			assert_non_null(why);
		}
	}
}

static void test_quantity_bytes_alias(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(units_parse_quantity("64Gi", &v, NULL), 0);
	assert_true(v == 64ULL << 30);
	assert_int_equal(units_parse_quantity(NULL, &v, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantities),
		cmocka_unit_test(test_quantity_bytes_alias),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
