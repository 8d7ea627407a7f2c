/*
 * test-resize-prometheus: the Prometheus usage source against a local HTTP server with canned
 * answers: both matching modes, sample timestamps, bad values, every kind of failure, the
 * bearer token.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "resize/resize-prometheus.h"
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

static void can(int i, const char *needle, unsigned status, const char *body)
{
	fake_http_can(&fk, i, needle, status, body);
}

static struct resize_prom *prom_new(const struct resize_prom_opts *base)
{
	struct resize_prom_opts o = *base;
	struct resize_prom *p = NULL;
	char url[64], err[256] = "";

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)fk.port);
	if (!o.url)
		o.url = url;
	if (resize_prom_new(&o, &p, err, sizeof(err)) != 0)
		fail_msg("resize_prom_new: %s", err);
	return p;
}

/* Fills out[] with garbage so a test sees what collect wrote. */
static void poison(struct resize_sample *s, size_t n)
{
	memset(s, 0xa5, n * sizeof(*s));
	for (size_t i = 0; i < n; i++)
		s[i].valid = true;
}

/* ---- canned answers ------------------------------------------------------------------------ */

/* kubelet metrics for two claims (one the targets do not ask about) plus a series without the
 * labels, and the timestamp series the query wrapper asks for (claim-a scraped at .250/.500). */
static const char kubelet_used[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	"{\"metric\":{\"__name__\":\"kubelet_volume_stats_used_bytes\",\"namespace\":\"ns1\","
	"\"persistentvolumeclaim\":\"claim-a\",\"node\":\"n1\"},\"value\":[1700000010.5,"
	"\"858993459\"]},"
	"{\"metric\":{\"namespace\":\"ns1\",\"persistentvolumeclaim\":\"claim-a\",\"node\":\"n1\","
	"\"pmemd_sample_ts\":\"1\"},\"value\":[1700000010.5,\"1700000009.25\"]},"
	"{\"metric\":{\"__name__\":\"kubelet_volume_stats_used_bytes\",\"namespace\":\"ns2\","
	"\"persistentvolumeclaim\":\"other\"},\"value\":[1700000010.5,\"1\"]},"
	"{\"metric\":{\"__name__\":\"kubelet_volume_stats_used_bytes\"},\"value\":[1700000010.5,"
	"\"7\"]}]}}";
static const char kubelet_capacity[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	"{\"metric\":{\"__name__\":\"kubelet_volume_stats_capacity_bytes\",\"namespace\":\"ns1\","
	"\"persistentvolumeclaim\":\"claim-a\"},\"value\":[1700000010.5,\"1073741824\"]},"
	"{\"metric\":{\"namespace\":\"ns1\",\"persistentvolumeclaim\":\"claim-a\","
	"\"pmemd_sample_ts\":\"1\"},\"value\":[1700000010.5,\"1700000009.5\"]}]}}";
static const char kubelet_inodes_used[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	"{\"metric\":{\"namespace\":\"ns1\",\"persistentvolumeclaim\":\"claim-a\"},"
	"\"value\":[1700000010.5,\"120\"]}]}}";
static const char kubelet_inodes[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	"{\"metric\":{\"namespace\":\"ns1\",\"persistentvolumeclaim\":\"claim-a\"},"
	"\"value\":[1700000010.5,\"65536\"]}]}}";
static const char empty_vector[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";

static void can_kubelet(void)
{
	/* The longer names first: "..._inodes" is a prefix of "..._inodes_used". */
	can(0, "kubelet_volume_stats_inodes_used", 200, kubelet_inodes_used);
	can(1, "kubelet_volume_stats_inodes", 200, kubelet_inodes);
	can(2, "kubelet_volume_stats_used_bytes", 200, kubelet_used);
	can(3, "kubelet_volume_stats_capacity_bytes", 200, kubelet_capacity);
}

static const struct resize_target targets[] = {
	{"pv-a", "ns1", "claim-a"}, /* answered by claim */
	{"pv-b", "ns1", "claim-b"}, /* no series */
	{"pv-c", NULL, NULL},	    /* no claim, no volume series */
};
#define NT (sizeof(targets) / sizeof(targets[0]))

/* ---- tests -------------------------------------------------------------------------------- */

static void test_kubelet_by_claim(void **state)
{
	struct resize_prom_opts o = {0};
	struct resize_prom *p;
	struct resize_sample s[NT];
	char err[256] = "";
	(void)state;

	can_kubelet();
	p = prom_new(&o);
	poison(s, NT);
	assert_int_equal(resize_prom_collect(p, targets, NT, s, err, sizeof(err)), 0);
	assert_true(s[0].valid);
	assert_int_equal(s[0].used_bytes, 858993459);
	assert_int_equal(s[0].capacity_bytes, 1073741824);
	assert_true(s[0].has_inodes);
	assert_int_equal(s[0].used_inodes, 120);
	assert_int_equal(s[0].capacity_inodes, 65536);
	/* The older scrape of the bytes (used's at .25): the inode figures carry no timestamp
	 * series, so theirs is the evaluation time, which is later. */
	assert_int_equal(s[0].taken_ms, 1700000009250);
	assert_false(s[1].valid);
	assert_int_equal(s[1].used_bytes, 0);
	assert_false(s[2].valid);
	/* POST to /api/v1/query (the trailing slash of the URL is not doubled), with the user's
	 * query and the timestamp companion. */
	assert_string_equal(fk.last_method, "POST");
	assert_string_equal(fk.last_path, "/api/v1/query");
	assert_non_null(strstr(fk.last_query, "(kubelet_volume_stats_inodes) or label_replace("
					      "timestamp(kubelet_volume_stats_inodes)"));
	assert_string_equal(fk.last_auth, "");
	resize_prom_free(p);
}

static void test_pmemd_by_volume(void **state)
{
	static const char used[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"__name__\":\"pmem_volume_used_bytes\",\"volume\":\"pv-c\","
		"\"pool\":\"/mnt/p0\",\"numa_node\":\"0\"},\"value\":[1700000020,\"4096\"]},"
		"{\"metric\":{\"__name__\":\"pmem_volume_used_bytes\",\"volume\":\"pv-a\","
		"\"pool\":\"/mnt/p0\",\"numa_node\":\"0\"},\"value\":[1700000020,\"100\"]}]}}";
	static const char cap[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"volume\":\"pv-c\"},\"value\":[1700000020,\"8192\"]},"
		"{\"metric\":{\"volume\":\"pv-a\"},\"value\":[1700000020,\"200\"]}]}}";
	/* pmemd reports 0 inodes for a volume without an inode limit. */
	static const char inodes[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"volume\":\"pv-c\"},\"value\":[1700000020,\"0\"]}]}}";
	struct resize_prom_opts o = {.preset = RESIZE_PROM_PMEMD};
	struct resize_prom *p;
	struct resize_sample s[NT];
	char err[256] = "";
	(void)state;

	can(0, "pmem_volume_used_bytes", 200, used);
	can(1, "pmem_volume_capacity_bytes", 200, cap);
	can(2, "pmem_volume_inodes", 200, inodes);
	p = prom_new(&o);
	poison(s, NT);
	assert_int_equal(resize_prom_collect(p, targets, NT, s, err, sizeof(err)), 0);
	/* pv-a has a claim, but the series name it by volume: matched by volume. */
	assert_true(s[0].valid);
	assert_int_equal(s[0].used_bytes, 100);
	assert_int_equal(s[0].capacity_bytes, 200);
	assert_false(s[0].has_inodes);
	assert_false(s[1].valid);
	assert_true(s[2].valid);
	assert_int_equal(s[2].used_bytes, 4096);
	assert_int_equal(s[2].capacity_bytes, 8192);
	assert_false(s[2].has_inodes); /* an inode limit of 0 is none */
	/* No timestamp series in these answers: the evaluation time. */
	assert_int_equal(s[2].taken_ms, 1700000020000);
	resize_prom_free(p);
	assert_string_equal(resize_prom_default_query(RESIZE_PROM_PMEMD, RESIZE_PROM_CAPACITY),
			    "pmem_volume_capacity_bytes");
	assert_null(resize_prom_default_query(RESIZE_PROM_PMEMD, 4));
}

/* Custom queries; inode queries turned off with "". */
static void test_custom_queries(void **state)
{
	struct resize_prom_opts o = {.query_used = "sum by (volume) (my_used)",
				     .query_capacity = "my_cap{job=\"x y\"}",
				     .query_inodes_used = "",
				     .query_inodes_capacity = ""};
	static const char used[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"volume\":\"pv-b\"},\"value\":[1700000030,\"5\"]}]}}";
	static const char cap[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"volume\":\"pv-b\"},\"value\":[1700000030,\"50\"]}]}}";
	struct resize_prom *p;
	struct resize_sample s[NT];
	char err[256] = "";
	unsigned before;
	(void)state;

	can(0, "my_used", 200, used);
	can(1, "my_cap", 200, cap);
	p = prom_new(&o);
	before = fk.requests;
	assert_int_equal(resize_prom_collect(p, targets, NT, s, err, sizeof(err)), 0);
	assert_int_equal(fk.requests - before, 2);
	assert_non_null(strstr(fk.last_query, "(my_cap{job=\"x y\"}) or label_replace("));
	assert_true(s[1].valid);
	assert_int_equal(s[1].used_bytes, 5);
	assert_int_equal(s[1].capacity_bytes, 50);
	assert_false(s[0].valid);
	resize_prom_free(p);
}

/* NaN, infinities, negatives, garbage, two series that disagree: that volume's sample is
 * invalid, the others are not harmed. */
static void test_bad_values(void **state)
{
	static const char used[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"volume\":\"a\"},\"value\":[1700000040,\"NaN\"]},"
		"{\"metric\":{\"volume\":\"b\"},\"value\":[1700000040,\"+Inf\"]},"
		"{\"metric\":{\"volume\":\"c\"},\"value\":[1700000040,\"-5\"]},"
		"{\"metric\":{\"volume\":\"d\"},\"value\":[1700000040,\"12abc\"]},"
		"{\"metric\":{\"volume\":\"e\"},\"value\":[1700000040,\"10\"]},"
		"{\"metric\":{\"volume\":\"e\"},\"value\":[1700000040,\"11\"]},"
		"{\"metric\":{\"volume\":\"f\"},\"value\":[1700000040,\"1e30\"]},"
		"{\"metric\":{\"volume\":\"g\"},\"value\":\"oops\"},"
		"{\"metric\":{\"volume\":\"h\"},\"value\":[1700000040,\"10.75\"]},"
		"{\"metric\":{\"volume\":\"i\"},\"value\":[1700000040,\"10\"]},"
		"{\"metric\":{\"volume\":\"i\"},\"value\":[1700000040,\"10\"]},"
		"{\"metric\":\"not an object\",\"value\":[1700000040,\"1\"]},"
		"{\"value\":[1700000040,\"1\"]},"
		"17]}}";
	static const char cap[] =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"volume\":\"a\"},\"value\":[1700000040,\"100\"]},"
		"{\"metric\":{\"volume\":\"b\"},\"value\":[1700000040,\"100\"]},"
		"{\"metric\":{\"volume\":\"c\"},\"value\":[1700000040,\"100\"]},"
		"{\"metric\":{\"volume\":\"d\"},\"value\":[1700000040,\"100\"]},"
		"{\"metric\":{\"volume\":\"e\"},\"value\":[1700000040,\"100\"]},"
		"{\"metric\":{\"volume\":\"f\"},\"value\":[1700000040,\"100\"]},"
		"{\"metric\":{\"volume\":\"g\"},\"value\":[1700000040,\"100\"]},"
		"{\"metric\":{\"volume\":\"h\"},\"value\":[1700000040,\"100\"]},"
		"{\"metric\":{\"volume\":\"i\"},\"value\":[1700000040,\"-Inf\"]}]}}";
	static const struct resize_target t[] = {
		{"a", NULL, NULL}, {"b", NULL, NULL}, {"c", NULL, NULL},
		{"d", NULL, NULL}, {"e", NULL, NULL}, {"f", NULL, NULL},
		{"g", NULL, NULL}, {"h", NULL, NULL}, {"i", NULL, NULL}};
	struct resize_prom_opts o = {
		.preset = RESIZE_PROM_PMEMD, .query_inodes_used = "", .query_inodes_capacity = ""};
	struct resize_prom *p;
	struct resize_sample s[9];
	char err[256] = "";
	(void)state;

	can(0, "pmem_volume_used_bytes", 200, used);
	can(1, "pmem_volume_capacity_bytes", 200, cap);
	p = prom_new(&o);
	poison(s, 9);
	assert_int_equal(resize_prom_collect(p, t, 9, s, err, sizeof(err)), 0);
	for (int i = 0; i < 9; i++)
		if (i != 7)
			assert_false(s[i].valid);
	/* A fraction (an average, say) is cut to whole bytes. */
	assert_true(s[7].valid);
	assert_int_equal(s[7].used_bytes, 10);
	resize_prom_free(p);
}

static void expect_fail(struct resize_prom *p, int want, const char *const *substrs)
{
	struct resize_sample s[NT];
	char err[512] = "";

	poison(s, NT);
	assert_int_equal(resize_prom_collect(p, targets, NT, s, err, sizeof(err)), want);
	for (size_t i = 0; i < NT; i++)
		assert_false(s[i].valid);
	for (; substrs && *substrs; substrs++)
		if (!strstr(err, *substrs))
			fail_msg("error \"%s\" lacks \"%s\"", err, *substrs);
}

static void test_http_errors(void **state)
{
	struct resize_prom_opts o = {0};
	struct resize_prom *p;
	(void)state;

	p = prom_new(&o);
	/* Prometheus's own error answers (what it sends for a bad query or a timeout). */
	can(0, NULL, 400,
	    "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error: "
	    "unexpected\"}");
	expect_fail(p, -EBADMSG,
		    (const char *const[]){"HTTP 400", "bad_data", "parse error", NULL});
	can(0, NULL, 500,
	    "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"storage broke\"}");
	expect_fail(p, -EBADMSG,
		    (const char *const[]){"HTTP 500", "internal: storage broke", NULL});
	/* A proxy's HTML page. */
	can(0, NULL, 502, "<html><body>Bad\tGateway</body></html>");
	expect_fail(p, -EBADMSG,
		    (const char *const[]){"HTTP 502", "<html><body>Bad.Gateway", NULL});
	can(0, NULL, 503, "");
	expect_fail(p, -EBADMSG, (const char *const[]){"HTTP 503: empty body", NULL});
	/* 200 but not JSON, truncated JSON, not an answer. */
	can(0, NULL, 200, "hello, I am not Prometheus");
	expect_fail(p, -EBADMSG, (const char *const[]){"not JSON", "line 1", NULL});
	can(0, NULL, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vec");
	expect_fail(p, -EBADMSG, (const char *const[]){"not JSON", NULL});
	can(0, NULL, 200, "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"slow\"}");
	expect_fail(p, -EBADMSG, (const char *const[]){"status error", "timeout: slow", NULL});
	can(0, NULL, 200, "[1,2,3]");
	expect_fail(p, -EBADMSG, (const char *const[]){"status (missing)", NULL});
	can(0, NULL, 200,
	    "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}");
	expect_fail(p, -EBADMSG, (const char *const[]){"resultType matrix, want vector", NULL});
	can(0, NULL, 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\"}}");
	expect_fail(p, -EBADMSG, (const char *const[]){"resultType scalar", NULL});
	can(0, NULL, 200,
	    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}");
	expect_fail(p, -EBADMSG, (const char *const[]){"not an array", NULL});
	resize_prom_free(p);
}

/* No series at all for used or capacity is a misconfiguration, reported; none for inodes is
 * not (a source may have no inode figures). */
static void test_empty_result(void **state)
{
	struct resize_prom_opts o = {0};
	struct resize_prom *p;
	struct resize_sample s[NT];
	char err[256] = "";
	(void)state;

	p = prom_new(&o);
	can(0, NULL, 200, empty_vector);
	expect_fail(p, -ENODATA,
		    (const char *const[]){"used query kubelet_volume_stats_used_bytes",
					  "returned no series", NULL});
	can(0, "kubelet_volume_stats_used_bytes", 200, kubelet_used);
	can(1, NULL, 200, empty_vector);
	expect_fail(p, -ENODATA, (const char *const[]){"capacity query", NULL});
	/* Only the timestamp companions: still no series of the metric itself. */
	can(0, NULL, 200,
	    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	    "{\"metric\":{\"volume\":\"x\",\"pmemd_sample_ts\":\"1\"},\"value\":[1,\"1\"]}]}}");
	expect_fail(p, -ENODATA, (const char *const[]){"used query", NULL});
	can(0, "kubelet_volume_stats_used_bytes", 200, kubelet_used);
	can(1, "kubelet_volume_stats_capacity_bytes", 200, kubelet_capacity);
	can(2, NULL, 200, empty_vector);
	assert_int_equal(resize_prom_collect(p, targets, NT, s, err, sizeof(err)), 0);
	assert_true(s[0].valid);
	assert_false(s[0].has_inodes);
	resize_prom_free(p);
}

static void test_huge_body(void **state)
{
	struct resize_prom_opts o = {0};
	struct resize_prom *p;
	(void)state;

	p = prom_new(&o);
	fake_http_huge(&fk, 17u << 20);
	expect_fail(p, -EFBIG, (const char *const[]){"response larger than 16777216", NULL});
	fake_http_huge(&fk, 0);
	/* The same handle still works afterwards. */
	can_kubelet();
	{
		struct resize_sample s[NT];
		char err[256];

		assert_int_equal(resize_prom_collect(p, targets, NT, s, err, sizeof(err)), 0);
		assert_true(s[0].valid);
	}
	resize_prom_free(p);
}

static void test_unreachable(void **state)
{
	char url[64];
	struct resize_prom_opts o = {.url = url};
	struct resize_prom *p;
	(void)state;

	/* A port nobody listens on. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)free_port());
	p = prom_new(&o);
	expect_fail(p, -ECONNREFUSED, (const char *const[]){url, NULL});
	resize_prom_free(p);
}

static void test_slow_server(void **state)
{
	struct resize_prom_opts o = {.timeout_ms = 300};
	struct resize_prom *p;
	(void)state;

	can_kubelet();
	p = prom_new(&o);
	fake_http_delay(&fk, 1500);
	expect_fail(p, -ETIMEDOUT, (const char *const[]){"/api/v1/query", NULL});
	fake_http_delay(&fk, 0);
	resize_prom_free(p);
}

static void write_file(const char *path, const char *text)
{
	char tmp[256];
	FILE *f;

	/* Replaced by rename, as kubelet swaps a projected token. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_bearer_token(void **state)
{
	char dir[] = "/tmp/test-resize-prom.XXXXXX", path[128];
	struct resize_prom_opts o = {.bearer_token_file = path};
	struct resize_prom *p;
	struct resize_sample s[NT];
	char err[256] = "";
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	can_kubelet();
	/* The file may appear after start; until then collect fails and says why. */
	p = prom_new(&o);
	expect_fail(p, -EACCES, (const char *const[]){"token file", "No such file", NULL});
	write_file(path, "tok-1\n");
	assert_int_equal(resize_prom_collect(p, targets, NT, s, err, sizeof(err)), 0);
	assert_string_equal(fk.last_auth, "Bearer tok-1");
	write_file(path, "tok-2");
	assert_int_equal(resize_prom_collect(p, targets, NT, s, err, sizeof(err)), 0);
	assert_string_equal(fk.last_auth, "Bearer tok-2");
	/* A token that would forge a header line is refused. */
	write_file(path, "tok\r\nX-Evil: 1");
	expect_fail(p, -EACCES, (const char *const[]){"spaces or control characters", NULL});
	resize_prom_free(p);
	unlink(path);
	rmdir(dir);
}

static void test_new_refuses(void **state)
{
	struct {
		struct resize_prom_opts o;
		const char *why;
	} bad[] = {
		{{.url = NULL}, "must start with http"},
		{{.url = "ftp://x"}, "must start with http"},
		{{.url = "http://x/?a=b"}, "query or fragment"},
		{{.url = "http://x y"}, "space"},
		{{.url = "http://x", .query_used = ""}, "used query is empty"},
		{{.url = "http://x", .query_capacity = ""}, "capacity query is empty"},
		{{.url = "http://x", .preset = 7}, "unknown prometheus metrics preset"},
		{{.url = "http://x", .bearer_token_file = "token"}, "absolute path"},
		{{.url = "https://x", .ca_file = "ca.pem"}, "absolute path"},
		{{.url = "http://prometheus:9090", .bearer_token_file = "/t"},
		 "only sent over https"},
		{{.url = "http://10.0.0.1", .bearer_token_file = "/t"}, "only sent over https"},
		{{.url = "http://[::2]:9090", .bearer_token_file = "/t"}, "only sent over https"},
	};
	struct resize_prom *p = (struct resize_prom *)1;
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(resize_prom_new(&bad[i].o, &p, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].why);
		assert_ptr_equal(p, (struct resize_prom *)1);
	}
	assert_null(resize_prom_free(NULL));
	/* A token over http:// to loopback, or over https:// anywhere, is fine. */
	{
		const char *ok[] = {"http://127.0.0.1:9090", "http://localhost/",
				    "http://[::1]:9090", "https://prometheus.monitoring:9090"};

		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			struct resize_prom_opts o = {.url = ok[i], .bearer_token_file = "/t"};

			assert_int_equal(resize_prom_new(&o, &p, err, sizeof(err)), 0);
			p = resize_prom_free(p);
		}
	}
	/* Nothing to ask about: no request. */
	{
		struct resize_prom_opts o = {0};
		unsigned before = fk.requests;

		p = prom_new(&o);
		assert_int_equal(resize_prom_collect(p, NULL, 0, NULL, err, sizeof(err)), 0);
		assert_int_equal(fk.requests, before);
		resize_prom_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubelet_by_claim), cmocka_unit_test(test_pmemd_by_volume),
		cmocka_unit_test(test_custom_queries),	 cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_http_errors),	 cmocka_unit_test(test_empty_result),
		cmocka_unit_test(test_huge_body),	 cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_slow_server),	 cmocka_unit_test(test_bearer_token),
		cmocka_unit_test(test_new_refuses),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
