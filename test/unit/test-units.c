/* test-units: util/units size and duration parsing at its edges, and size formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/names.h"
#include "util/secret.h"
#include "util/units.h"

#define N_OF(a)	 (sizeof(a) / sizeof((a)[0]))
#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

struct good {
	const char *in;
	uint64_t want;
};

struct bad {
	const char *in;
	int err;
};

static void check_good(int (*parse)(const char *, uint64_t *, const char **), const struct good *g,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = SENTINEL;
		const char *why = NULL;
		int r = parse(g[i].in, &v, &why);

		if (r != 0 || v != g[i].want)
			fprintf(stderr, "\"%s\": r=%d v=%llu why=%s\n", g[i].in, r,
				(unsigned long long)v, why ? why : "-");
		assert_int_equal(r, 0);
		assert_true(v == g[i].want);
	}
}

/* Failures leave *out untouched and always say why. */
static void check_bad(int (*parse)(const char *, uint64_t *, const char **), const struct bad *b,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = SENTINEL;
		const char *why = NULL;
		int r = parse(b[i].in, &v, &why);

		if (r != b[i].err)
			fprintf(stderr, "\"%s\": r=%d, want %d\n", b[i].in ? b[i].in : "(null)", r,
				b[i].err);
		assert_int_equal(r, b[i].err);
		assert_true(v == SENTINEL);
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
}

static void test_size_valid(void **state)
{
	static const struct good g[] = {
		{"0", 0},
		{"1", 1},
		{"1048576", 1048576},
		{"500M", 500000000ULL},
		{"1k", 1000},
		{"1K", 1000},
		{"64Gi", 64ULL << 30},
		{"1Ki", 1024},
		{"3Mi", 3ULL << 20},
		{"2Ti", 2ULL << 40},
		{"5Pi", 5ULL << 50},
		{"7T", 7000000000000ULL},
		{"9P", 9000000000000000ULL},
		{"15Ei", 15ULL << 60},
		{"18E", 18000000000000000000ULL},
		{"0Ei", 0},
		{"18446744073709551615", UINT64_MAX},
		{"000012", 12}, /* leading zeros are plain decimal, not octal */
	};

	(void)state;
	check_good(units_size_parse, g, N_OF(g));
}

static void test_size_invalid(void **state)
{
	static const struct bad b[] = {
		{"18446744073709551616", -ERANGE},
		{"99999999999999999999999", -ERANGE},
		{"16Ei", -ERANGE},
		{"19E", -ERANGE},
		{"16384Pi", -ERANGE},
		{"", -EINVAL},
		{"-1", -EINVAL},
		{"+1", -EINVAL},
		{"1.5Gi", -EINVAL},
		{" 1", -EINVAL},
		{"1 ", -EINVAL},
		{"1 Gi", -EINVAL},
		{"1gi", -EINVAL},
		{"1GI", -EINVAL},
		{"1m", -EINVAL}, /* Kubernetes' milli has no place in a byte count */
		{"1B", -EINVAL},
		{"1GiB", -EINVAL},
		{"Gi", -EINVAL},
		{"0x10", -EINVAL},
		{"1e3", -EINVAL},
		{NULL, -EINVAL},
	};

	(void)state;
	check_bad(units_size_parse, b, N_OF(b));
}

static void test_size_why(void **state)
{
	const char *why = NULL;
	uint64_t v;

	(void)state;
	assert_int_equal(units_size_parse("1gi", &v, &why), -EINVAL);
	assert_non_null(strstr(why, "unknown size unit"));
	assert_int_equal(units_size_parse("16Ei", &v, &why), -ERANGE);
	assert_non_null(strstr(why, "too large"));
	assert_int_equal(units_size_parse("x", &v, &why), -EINVAL);
	assert_non_null(strstr(why, "non-negative integer"));
	/* `why` is optional. */
	assert_int_equal(units_size_parse("1gi", &v, NULL), -EINVAL);
	assert_int_equal(units_size_parse("2Ki", &v, NULL), 0);
	assert_int_equal(v, 2048);
}

static void test_duration(void **state)
{
	static const struct good g[] = {
		{"0", 0},
		{"30", 30000},
		{"30s", 30000},
		{"250ms", 250},
		{"2m", 120000},
		{"1h", 3600000},
		{"0ms", 0},
		{"1500ms", 1500},
		{"5124095576030h", 5124095576030ULL * 3600000},
		{"18446744073709551615ms", UINT64_MAX},
	};
	static const struct bad b[] = {
		{"", -EINVAL},
		{"1d", -EINVAL},
		{"1S", -EINVAL},
		{"1.5s", -EINVAL},
		{"-1s", -EINVAL},
		{"1 s", -EINVAL},
		{"s", -EINVAL},
		{"1us", -EINVAL},
		{"5124095576031h", -ERANGE},
		{"18446744073709551615s", -ERANGE},
		{"18446744073709551616ms", -ERANGE},
		{NULL, -EINVAL},
	};

	(void)state;
	check_good(units_duration_parse, g, N_OF(g));
	check_bad(units_duration_parse, b, N_OF(b));
}

static void test_size_format(void **state)
{
	static const struct {
		uint64_t in;
		const char *want;
	} cases[] = {
		{0, "0"},
		{1, "1"},
		{1000, "1000"},
		{1023, "1023"},
		{1024, "1Ki"},
		{1536, "1536"},
		{3ULL << 20, "3Mi"},
		{1ULL << 30, "1Gi"},
		{64ULL << 30, "64Gi"},
		{(64ULL << 30) + 1024, "67108865Ki"},
		{1ULL << 40, "1Ti"},
		{1ULL << 50, "1Pi"},
		{15ULL << 60, "15Ei"},
		{UINT64_MAX, "18446744073709551615"},
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		uint64_t back = 0;

		units_size_format(cases[i].in, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
		/* What is printed parses back to the same number. */
		assert_int_equal(units_size_parse(buf, &back, NULL), 0);
		assert_true(back == cases[i].in);
	}
	/* A short buffer is truncated, never overrun. */
	memset(buf, 'x', sizeof(buf));
	units_size_format(64ULL << 30, buf, 3);
	assert_string_equal(buf, "64");
	assert_int_equal(buf[3], 'x');
}

static void test_dns_subdomain(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"node-a", true},  {"a", true},	    {"cn-beijing.192.168.3.36", true},
		{"a.b-c.d", true}, {"", false},	    {"-a", false},
		{"a-", false},	   {"a.", false},   {".a", false},
		{"a..b", false},   {"a.-b", false}, {"a-.b", false},
		{"Node", false},   {"a_b", false},  {"a b", false},
		{"a/b", false},	   {"..", false},
	};
	char big[300];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (names_is_dns_subdomain(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
			fail_msg("names_is_dns_subdomain(\"%s\") should be %d", cases[i].s,
				 cases[i].ok);
	}
	/* A label of 63 is fine, 64 is not; 253 in all is fine, 254 is not. */
	memset(big, 'a', 64);
	assert_true(names_is_dns_subdomain(big, 63));
	assert_false(names_is_dns_subdomain(big, 64));
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (i % 50 == 49) ? '.' : 'b';
	assert_true(names_is_dns_subdomain(big, 253));
	assert_false(names_is_dns_subdomain(big, 254));
	/* Only len bytes count: a longer buffer is not read past it. */
	assert_true(names_is_dns_subdomain("ab-", 2));
}

static void put(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_secret_token(void **state)
{
	char dir[] = "/tmp/pmemd-secret-XXXXXX", path[64], link[64];
	char *tok = NULL, *keep = (char *)"untouched";
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	snprintf(link, sizeof(link), "%s/link", dir);

	put(path, "abc.DEF-123\n\r\t \n", 16);
	assert_int_equal(secret_read_token(path, 64, &tok), 0);
	assert_string_equal(tok, "abc.DEF-123");
	tok = secret_free(tok);
	assert_null(tok);
	/* A symlink chain, as Kubernetes mounts secrets. */
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(secret_read_token(link, 64, &tok), 0);
	assert_string_equal(tok, "abc.DEF-123");
	tok = secret_free(tok);

	/* Exactly max is fine; one byte more is too large. */
	put(path, "0123456789", 10);
	assert_int_equal(secret_read_token(path, 10, &tok), 0);
	tok = secret_free(tok);
	assert_int_equal(secret_read_token(path, 9, &keep), -EFBIG);
	assert_string_equal(keep, "untouched");

	/* What would forge a header, or is no token at all. */
	put(path, "a\r\nX-Evil: 1", 13);
	assert_int_equal(secret_read_token(path, 64, &keep), -EINVAL);
	put(path, "a b", 3);
	assert_int_equal(secret_read_token(path, 64, &keep), -EINVAL);
	put(path, "a\0b", 3);
	assert_int_equal(secret_read_token(path, 64, &keep), -EINVAL);
	put(path, " \n", 2);
	assert_int_equal(secret_read_token(path, 64, &keep), -EINVAL);
	put(path, "", 0);
	assert_int_equal(secret_read_token(path, 64, &keep), -EINVAL);
	/* A directory is not a token file; a missing file says ENOENT. */
	assert_int_equal(secret_read_token(dir, 64, &keep), -EINVAL);
	unlink(link);
	unlink(path);
	assert_int_equal(secret_read_token(path, 64, &keep), -ENOENT);
	assert_string_equal(keep, "untouched");
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_valid),   cmocka_unit_test(test_size_invalid),
		cmocka_unit_test(test_size_why),     cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size_format),  cmocka_unit_test(test_dns_subdomain),
		cmocka_unit_test(test_secret_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
