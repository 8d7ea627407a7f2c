/*
 * test-resize-kubelet: the kubelet /stats/summary usage source against a local HTTP server
 * with canned summaries: matching by claim, the newest entry of a claim in two pods, times,
 * bad entries, failures, the bearer token.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "resize/resize-kubelet.h"
#include "resize/resize.h"
#include "fake-http.h"
#include "support.h"

static struct fake_http fk;

static int fake_start(void **state)
{
	(void)state;
	return fake_http_start(&fk);
}

static int fake_stop(void **state)
{
	(void)state;
	fake_http_stop(&fk);
	return 0;
}

static struct resize_kubelet *kl_new(const char *token_file)
{
	struct resize_kubelet_opts o = {.bearer_token_file = token_file, .timeout_ms = 2000};
	struct resize_kubelet *k = NULL;
	char url[64], err[256] = "";

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)fk.port);
	o.url = url;
	if (resize_kubelet_new(&o, &k, err, sizeof(err)) != 0)
		fail_msg("resize_kubelet_new: %s", err);
	return k;
}

/* Trimmed from a real kubelet's /stats/summary (containers and network left out). claim-a is
 * mounted in two pods, measured at different times; claim-b has no inode figures; the
 * emptyDir has no pvcRef. */
static const char summary[] =
	"{\"node\":{\"nodeName\":\"n1\"},\"pods\":["
	"{\"podRef\":{\"name\":\"db-0\",\"namespace\":\"ns1\",\"uid\":\"u1\"},"
	" \"volume\":["
	"  {\"time\":\"2026-11-26T08:00:00Z\",\"availableBytes\":100,\"capacityBytes\":1000,"
	"   \"usedBytes\":900,\"inodesFree\":10,\"inodes\":100,\"inodesUsed\":90,\"name\":\"data\","
	"   \"pvcRef\":{\"name\":\"claim-a\",\"namespace\":\"ns1\"}},"
	"  {\"time\":\"2026-11-26T08:00:00Z\",\"usedBytes\":5,\"capacityBytes\":10,"
	"   \"name\":\"scratch\"}]},"
	"{\"podRef\":{\"name\":\"db-1\",\"namespace\":\"ns1\",\"uid\":\"u2\"},"
	" \"volume\":["
	"  {\"time\":\"2026-11-26T08:00:30.250+01:00\",\"capacityBytes\":1000,\"usedBytes\":950,"
	"   \"inodes\":100,\"inodesUsed\":91,\"name\":\"data\","
	"   \"pvcRef\":{\"name\":\"claim-a\",\"namespace\":\"ns1\"}},"
	"  {\"time\":\"2026-11-26T08:01:00.5Z\",\"capacityBytes\":4096,\"usedBytes\":1024,"
	"   \"name\":\"logs\",\"pvcRef\":{\"name\":\"claim-b\",\"namespace\":\"ns1\"}},"
	"  {\"time\":\"yesterday\",\"capacityBytes\":1,\"usedBytes\":1,"
	"   \"name\":\"x\",\"pvcRef\":{\"name\":\"claim-badtime\",\"namespace\":\"ns1\"}},"
	"  {\"time\":\"2026-11-26T08:01:00Z\",\"capacityBytes\":10,\"usedBytes\":-1,"
	"   \"name\":\"y\",\"pvcRef\":{\"name\":\"claim-neg\",\"namespace\":\"ns1\"}},"
	"  {\"time\":\"2026-11-26T08:01:00Z\",\"usedBytes\":1,"
	"   \"name\":\"z\",\"pvcRef\":{\"name\":\"claim-nocap\",\"namespace\":\"ns1\"}}]},"
	"{\"podRef\":{\"name\":\"empty\"}},"
	"\"garbage\"]}";

/* 2026-11-26T08:00:00Z */
#define T0_MS 1795680000000LL

static void test_summary(void **state)
{
	static const struct resize_target t[] = {
		{"pv-a", "ns1", "claim-a"},	   {"pv-b", "ns1", "claim-b"},
		{"pv-none", NULL, NULL},	   {"pv-other", "ns2", "claim-a"},
		{"pv-bt", "ns1", "claim-badtime"}, {"pv-neg", "ns1", "claim-neg"},
		{"pv-nc", "ns1", "claim-nocap"},   {"pv-a2", "ns1", "claim-a"},
	};
	struct resize_sample s[8];
	struct resize_kubelet *k;
	char err[256] = "";
	(void)state;

	fake_http_can(&fk, 0, "/stats/summary", 200, summary);
	k = kl_new(NULL);
	memset(s, 0xa5, sizeof(s));
	assert_int_equal(resize_kubelet_collect(k, t, 8, s, err, sizeof(err)), 0);
	assert_string_equal(fk.last_method, "GET");
	assert_string_equal(fk.last_path, "/stats/summary");
	/* db-0 measured claim-a at 08:00:00Z, db-1 at 07:00:30.25Z (08:00:30.25+01:00): the
	 * newer is db-0's. */
	assert_true(s[0].valid);
	assert_int_equal(s[0].used_bytes, 900);
	assert_int_equal(s[0].capacity_bytes, 1000);
	assert_int_equal(s[0].taken_ms, T0_MS);
	assert_true(s[0].has_inodes);
	assert_int_equal(s[0].used_inodes, 90);
	assert_int_equal(s[0].capacity_inodes, 100);
	assert_true(s[1].valid);
	assert_int_equal(s[1].used_bytes, 1024);
	assert_int_equal(s[1].capacity_bytes, 4096);
	assert_int_equal(s[1].taken_ms, T0_MS + 60500);
	assert_false(s[1].has_inodes);
	assert_false(s[2].valid); /* no claim */
	assert_false(s[3].valid); /* same claim name, other namespace */
	assert_false(s[4].valid); /* a time that does not parse */
	assert_false(s[5].valid); /* negative bytes */
	assert_false(s[6].valid); /* no capacityBytes */
	/* A second target for claim-a gets the same sample. */
	assert_true(s[7].valid);
	assert_int_equal(s[7].used_bytes, 900);
	resize_kubelet_free(k);
}

static void expect_fail(struct resize_kubelet *k, int want, const char *const *substrs)
{
	static const struct resize_target t[] = {{"pv-a", "ns1", "claim-a"}};
	struct resize_sample s[1];
	char err[512] = "";

	memset(s, 0xa5, sizeof(s));
	s[0].valid = true;
	assert_int_equal(resize_kubelet_collect(k, t, 1, s, err, sizeof(err)), want);
	assert_false(s[0].valid);
	for (; substrs && *substrs; substrs++)
		if (!strstr(err, *substrs))
			fail_msg("error \"%s\" lacks \"%s\"", err, *substrs);
}

static void test_failures(void **state)
{
	struct resize_kubelet *k;
	(void)state;

	k = kl_new(NULL);
	fake_http_can(&fk, 0, NULL, 403, "Forbidden (user=system:serviceaccount:x:y, verb=get)");
	expect_fail(k, -EBADMSG, (const char *const[]){"HTTP 403", "Forbidden (user=", NULL});
	fake_http_can(&fk, 0, NULL, 500,
		      "{\"kind\":\"Status\",\"message\":\"summary unavailable\",\"code\":500}");
	expect_fail(k, -EBADMSG, (const char *const[]){"HTTP 500: summary unavailable", NULL});
	fake_http_can(&fk, 0, NULL, 200, "<html>");
	expect_fail(k, -EBADMSG, (const char *const[]){"/stats/summary: not JSON", NULL});
	fake_http_can(&fk, 0, NULL, 200, "{\"node\":{}}");
	expect_fail(k, -EBADMSG, (const char *const[]){"no pods array", NULL});
	/* No entry for the claim: not an error, the sample is invalid. */
	fake_http_can(&fk, 0, NULL, 200, "{\"node\":{},\"pods\":[]}");
	expect_fail(k, 0, NULL);
	fake_http_huge(&fk, 17u << 20);
	expect_fail(k, -EFBIG, (const char *const[]){"larger than", NULL});
	fake_http_huge(&fk, 0);
	fake_http_delay(&fk, 3000);
	expect_fail(k, -ETIMEDOUT, NULL);
	fake_http_delay(&fk, 0);
	resize_kubelet_free(k);
	{
		char url[64], err[256] = "";
		struct resize_kubelet_opts o = {.url = url};

		snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)free_port());
		assert_int_equal(resize_kubelet_new(&o, &k, err, sizeof(err)), 0);
		expect_fail(k, -ECONNREFUSED, (const char *const[]){url, NULL});
		resize_kubelet_free(k);
		o.url = "kubelet:10250";
		assert_int_equal(resize_kubelet_new(&o, &k, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "kubelet url must start with http"));
	}
	assert_null(resize_kubelet_free(NULL));
}

static void test_token(void **state)
{
	char dir[] = "/tmp/test-resize-kubelet.XXXXXX", path[128];
	struct resize_kubelet *k;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("kubelet-reader\n", f);
	assert_int_equal(fclose(f), 0);
	fake_http_can(&fk, 0, NULL, 200, summary);
	k = kl_new(path);
	{
		static const struct resize_target t[] = {{"pv-a", "ns1", "claim-a"}};
		struct resize_sample s[1];
		char err[256] = "";

		assert_int_equal(resize_kubelet_collect(k, t, 1, s, err, sizeof(err)), 0);
		assert_true(s[0].valid);
	}
	assert_string_equal(fk.last_auth, "Bearer kubelet-reader");
	resize_kubelet_free(k);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
