/* test-quota-model: the pure core of volumes: names, labels, requests, records, ids, ledger,
 * catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota-model.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define GiB	(1ULL << 30)
#define TiB	(1ULL << 40)

/* A string of n copies of c (static buffer per call site is not enough: heap). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static json_t *load(const char *text, size_t flags)
{
	json_error_t jerr;
	json_t *j = json_loads(text, flags, &jerr);

	if (!j)
		fprintf(stderr, "bad test JSON %s: %s\n", text, jerr.text);
	assert_non_null(j);
	return j;
}

static void assert_prefix(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		fprintf(stderr, "got:  %s\nwant: %s...\n", s, prefix);
	assert_true(strncmp(s, prefix, strlen(prefix)) == 0);
}

/* ---- names ---- */

static void test_name_valid(void **state)
{
	static const char *const good[] = {"a",	     "0",    "a-b",  "a.b",	"pvc-1234-abcd",
					   "9lives", "a--b", "a..b", "x.y.z-1", "00"};
	char why[200];
	char *max = repeat('a', QUOTA_NAME_MAX);

	(void)state;
	for (size_t i = 0; i < N_OF(good); i++) {
		strcpy(why, "untouched");
		if (quota_name_valid(good[i], why, sizeof(why)) != 0)
			fprintf(stderr, "%s: %s\n", good[i], why);
		assert_int_equal(quota_name_valid(good[i], why, sizeof(why)), 0);
		assert_string_equal(why, "untouched");
	}
	assert_int_equal(quota_name_valid(max, why, sizeof(why)), 0);
	free(max);
}

static void test_name_invalid(void **state)
{
	static const struct {
		const char *in;
		const char *why;
	} bad[] = {
		{"", "name must not be empty"},
		{".", "name must not be \".\" or \"..\""},
		{"..", "name must not be \".\" or \"..\""},
		{"a/b", "name has a '/' at position 2"},
		{"../etc", "name has a '/' at position 3"},
		{"/abs", "name has a '/' at position 1"},
		{"Abc", "name has an uppercase letter at position 1"},
		{"abC", "name has an uppercase letter at position 3"},
		{".pmemd", "name must start with a lowercase letter or digit"},
		{"lost+found",
		 "name has an invalid character '+' at position 5 (allowed: a-z 0-9 - .)"},
		{"-a", "name must start with a lowercase letter or digit"},
		{"a-", "name must end with a lowercase letter or digit"},
		{"a.", "name must end with a lowercase letter or digit"},
		{"a b",
		 "name has an invalid character byte 0x20 at position 2 (allowed: a-z 0-9 - .)"},
		{"a\nb",
		 "name has an invalid character byte 0x0a at position 2 (allowed: a-z 0-9 - .)"},
		{"a_b", "name has an invalid character '_' at position 2 (allowed: a-z 0-9 - .)"},
		{"\xc3\xa9t\xc3\xa9",
		 "name has an invalid character byte 0xc3 at position 1 (allowed: a-z 0-9 - .)"},
	};
	char why[200];
	char *long1 = repeat('a', QUOTA_NAME_MAX + 1), *huge = repeat('a', 10240);

	(void)state;
	for (size_t i = 0; i < N_OF(bad); i++) {
		why[0] = '\0';
		assert_int_equal(quota_name_valid(bad[i].in, why, sizeof(why)), -EINVAL);
		assert_string_equal(why, bad[i].why);
	}
	assert_int_equal(quota_name_valid(long1, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "name must be at most 253 characters, got 254");
	assert_int_equal(quota_name_valid(huge, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "name must be at most 253 characters, got 10240");
	assert_int_equal(quota_name_valid(NULL, why, sizeof(why)), -EINVAL);
	/* A tiny buffer is cut, never overrun (ASan watches). */
	assert_int_equal(quota_name_valid("A", why, 4), -EINVAL);
	assert_string_equal(why, "nam");
	assert_int_equal(quota_name_valid("A", NULL, 0), -EINVAL);
	free(long1);
	free(huge);
}

/* ---- labels ---- */

static void test_label_valid(void **state)
{
	char *name63 = repeat('n', 63), *prefix253 = repeat('p', 253), *key;
	static const struct {
		const char *k, *v;
	} good[] = {
		{"app", "web"},
		{"app.kubernetes.io/name", "pmem"},
		{"a", ""},
		{"A_b.c-D", "X_y.z-1"},
		{"example.com/x", "v"},
		{"a-b.c-d/e", "0"},
		{"1", "1"},
	};
	char why[300];

	(void)state;
	for (size_t i = 0; i < N_OF(good); i++) {
		if (quota_label_valid(good[i].k, good[i].v, why, sizeof(why)) != 0)
			fprintf(stderr, "%s=%s: %s\n", good[i].k, good[i].v, why);
		assert_int_equal(quota_label_valid(good[i].k, good[i].v, why, sizeof(why)), 0);
	}
	assert_int_equal(quota_label_valid(name63, name63, why, sizeof(why)), 0);
	assert_int_equal(asprintf(&key, "%s/%s", prefix253, name63), 253 + 1 + 63);
	assert_int_equal(quota_label_valid(key, "v", why, sizeof(why)), 0);
	/* NULL value: the key alone (selectors filter on keys). */
	assert_int_equal(quota_label_valid("app", NULL, why, sizeof(why)), 0);
	free(key);
	free(name63);
	free(prefix253);
}

static void test_label_invalid(void **state)
{
	static const struct {
		const char *k, *v, *why;
	} bad[] = {
		{"", "v", "key \"\": must not be empty"},
		{"/a", "v", "key \"/a\": prefix must not be empty"},
		{"a/", "v", "key \"a/\": name must not be empty"},
		{"a/b/c", "v", "key \"a/b/c\": has more than one '/'"},
		{"Example.com/x", "v",
		 "key \"Example.com/x\": prefix has an uppercase letter at position 1"},
		{"ex_ample.com/x", "v",
		 "key \"ex_ample.com/x\": prefix has an invalid character '_' at position 3 "
		 "(allowed: "
		 "a-z 0-9 - .)"},
		{"-x.com/a", "v",
		 "key \"-x.com/a\": prefix must be a DNS subdomain: '-' at position 1 starts a "
		 "part"},
		{"x..com/a", "v",
		 "key \"x..com/a\": prefix must be a DNS subdomain: '.' at position 3 starts a "
		 "part"},
		{"x-.com/a", "v",
		 "key \"x-.com/a\": prefix must be a DNS subdomain: '-' at position 2 ends a part"},
		{"x.com./a", "v",
		 "key \"x.com./a\": prefix must be a DNS subdomain: '.' at position 6 ends a part"},
		{"x.com/-a", "v",
		 "key \"x.com/-a\": name must start and end with a letter or digit"},
		{"a b", "v",
		 "key \"a b\": name has an invalid character byte 0x20 at position 2 (allowed: A-Z "
		 "a-z 0-9 - _ .)"},
		{"a", "-v",
		 "value \"-v\" of key \"a\": value must start and end with a letter or digit"},
		{"a", "x/y",
		 "value \"x/y\" of key \"a\": value has an invalid character '/' at position 2 "
		 "(allowed: A-Z a-z 0-9 - _ .)"},
		{"a", "q\"uote",
		 "value \"q\\\"uote\" of key \"a\": value has an invalid character '\"' at "
		 "position 2 (allowed: A-Z a-z 0-9 - _ .)"},
	};
	char why[400];
	char *n64 = repeat('n', 64), *p254 = repeat('p', 254), *key;

	(void)state;
	for (size_t i = 0; i < N_OF(bad); i++) {
		why[0] = '\0';
		assert_int_equal(quota_label_valid(bad[i].k, bad[i].v, why, sizeof(why)), -EINVAL);
		assert_string_equal(why, bad[i].why);
	}
	assert_int_equal(quota_label_valid(n64, "v", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "name must be at most 63 characters, got 64"));
	/* A long key is shown cut, not whole. */
	assert_true(strlen(why) < 200);
	assert_int_equal(quota_label_valid("a", n64, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "value must be at most 63 characters, got 64"));
	assert_int_equal(asprintf(&key, "%s/a", p254), 256);
	assert_int_equal(quota_label_valid(key, "v", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "prefix must be at most 253 characters, got 254"));
	free(key);
	assert_int_equal(quota_label_valid(NULL, "v", why, sizeof(why)), -EINVAL);
	free(n64);
	free(p254);
}

/* ---- create requests ---- */

static const struct quota_req_limits lim_1t = {.max_size_bytes = TiB};

static void test_create_good(void **state)
{
	struct quota_create_req *r = NULL;
	char err[300] = "";
	json_t *b;

	(void)state;
	b = load("{\"name\": \"vol-1\", \"size_bytes\": 1073741824}", 0);
	assert_int_equal(quota_create_req_parse(b, &lim_1t, &r, err, sizeof(err)), 0);
	assert_string_equal(r->name, "vol-1");
	assert_true(r->size_bytes == GiB);
	assert_null(r->pool);
	assert_int_equal(r->numa_node, -1);
	assert_true(r->inodes == 0);
	assert_int_equal(r->labels.n, 0);
	r = quota_create_req_free(r);
	assert_null(r);
	json_decref(b);

	b = load("{\"labels\": {\"zone\": \"b\", \"app.kubernetes.io/name\": \"db\", \"a\": \"\"},"
		 " \"inodes\": 1000, \"pool\": \"/mnt/pmem0\", \"size_bytes\": 1099511627776,"
		 " \"name\": \"db-0\"}",
		 0);
	assert_int_equal(quota_create_req_parse(b, &lim_1t, &r, err, sizeof(err)), 0);
	assert_string_equal(r->pool, "/mnt/pmem0");
	assert_true(r->size_bytes == TiB); /* the maximum itself is allowed */
	assert_true(r->inodes == 1000);
	/* Sorted by key, whatever the body's order. */
	assert_int_equal(r->labels.n, 3);
	assert_string_equal(r->labels.v[0].key, "a");
	assert_string_equal(r->labels.v[1].key, "app.kubernetes.io/name");
	assert_string_equal(r->labels.v[2].key, "zone");
	assert_string_equal(quota_labels_get(&r->labels, "zone"), "b");
	assert_string_equal(quota_labels_get(&r->labels, "a"), "");
	assert_null(quota_labels_get(&r->labels, "nope"));
	quota_create_req_free(r);
	json_decref(b);

	b = load("{\"name\": \"n\", \"size_bytes\": 1, \"numa_node\": 1023}", 0);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(r->numa_node, 1023);
	assert_null(r->pool);
	quota_create_req_free(r);
	json_decref(b);

	/* No configured maximum: the largest JSON integer jansson holds. */
	b = load("{\"name\": \"n\", \"size_bytes\": 9223372036854775807}", 0);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), 0);
	assert_true(r->size_bytes == INT64_MAX);
	quota_create_req_free(r);
	json_decref(b);
	assert_null(quota_create_req_free(NULL));
}

struct bad_body {
	const char *json;
	const char *err; /* exact, or a prefix when it ends in "..." */
};

static void check_err(const char *got, const char *want)
{
	size_t n = strlen(want);

	if (n > 3 && strcmp(want + n - 3, "...") == 0) {
		char *p = strndup(want, n - 3);

		assert_prefix(got, p);
		free(p);
		return;
	}
	if (strcmp(got, want) != 0)
		fprintf(stderr, "got:  %s\nwant: %s\n", got, want);
	assert_string_equal(got, want);
}

#define SENTINEL_REQ ((struct quota_create_req *)0x1)

static void check_create_bad(const struct bad_body *t, size_t n, const struct quota_req_limits *lim)
{
	for (size_t i = 0; i < n; i++) {
		struct quota_create_req *r = SENTINEL_REQ;
		char err[400] = "";
		json_t *b = load(t[i].json, JSON_DECODE_ANY);

		assert_int_equal(quota_create_req_parse(b, lim, &r, err, sizeof(err)), -EINVAL);
		assert_true(r == SENTINEL_REQ); /* untouched on failure */
		check_err(err, t[i].err);
		json_decref(b);
	}
}

static void test_create_bad_fields(void **state)
{
	static const struct bad_body t[] = {
		{"[]", "body: must be a JSON object, got an array"},
		{"\"x\"", "body: must be a JSON object, got a string \"x\""},
		{"{\"size_bytes\": 1}", "name: is required"},
		{"{\"name\": \"a\"}", "size_bytes: is required"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"sizeBytes\": 1}",
		 "\"sizeBytes\": unknown field (expected name, size_bytes, pool, numa_node, "
		 "inodes, "
		 "labels, pod_uid, claim)"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"readonly\": true}",
		 "\"readonly\": unknown field..."},
		{"{\"name\": 5, \"size_bytes\": 1}", "name: must be a string, got 5"},
		{"{\"name\": null, \"size_bytes\": 1}", "name: must be a string, got null"},
		{"{\"name\": \"..\", \"size_bytes\": 1}", "name: must not be \".\" or \"..\""},
		{"{\"name\": \".\", \"size_bytes\": 1}", "name: must not be \".\" or \"..\""},
		{"{\"name\": \"a/b\", \"size_bytes\": 1}", "name: has a '/' at position 2"},
		{"{\"name\": \"../../etc\", \"size_bytes\": 1}", "name: has a '/' at position 3"},
		{"{\"name\": \"Vol\", \"size_bytes\": 1}",
		 "name: has an uppercase letter at position 1"},
		{"{\"name\": \"\", \"size_bytes\": 1}", "name: must not be empty"},
		{"{\"name\": \".pmemd\", \"size_bytes\": 1}",
		 "name: must start with a lowercase letter or digit"},
		{"{\"name\": \"lost+found\", \"size_bytes\": 1}",
		 "name: has an invalid character '+' at position 5..."},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"pool\": \"/mnt/p\", \"numa_node\": 0}",
		 "pool, numa_node: give at most one (a pool sits on one NUMA node)"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"pool\": \"\"}", "pool: must not be empty"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"pool\": 0}",
		 "pool: must be a string, got 0"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"pool\": \"/mnt/\\np\"}",
		 "pool: has a control character at position 6"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"numa_node\": 1024}",
		 "numa_node: must be at most 1023, got 1024"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"numa_node\": -1}",
		 "numa_node: must be an integer from 0 to 1023, got -1"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"numa_node\": \"0\"}",
		 "numa_node: must be an integer from 0 to 1023, got a string \"0\""},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"numa_node\": 0.0}",
		 "numa_node: must be an integer from 0 to 1023, got 0.0"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"inodes\": 0}",
		 "inodes: must be a positive integer, got 0"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"inodes\": -3}",
		 "inodes: must be a positive integer, got -3"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"inodes\": 1.5}",
		 "inodes: must be a positive integer, got 1.5"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"labels\": []}",
		 "labels: must be an object of strings"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"labels\": \"a=b\"}",
		 "labels: must be an object of strings"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"labels\": {\"a\": 1}}",
		 "labels: value of key \"a\" must be a string"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"labels\": {\"a\": null}}",
		 "labels: value of key \"a\" must be a string"},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"labels\": {\"Bad Key\": \"x\"}}",
		 "labels: key \"Bad Key\": name has an invalid character byte 0x20 at position "
		 "4..."},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"labels\": {\"k\": \"v v\"}}",
		 "labels: value \"v v\" of key \"k\": value has an invalid character byte 0x20..."},
		{"{\"name\": \"a\", \"size_bytes\": 1, \"labels\": {\"../x\": \"v\"}}",
		 "labels: key \"../x\": prefix must be a DNS subdomain..."},
	};

	(void)state;
	check_create_bad(t, N_OF(t), &lim_1t);
}

/* size_bytes: a positive JSON integer, at most the configured maximum; nothing else. */
static void test_create_bad_sizes(void **state)
{
	static const struct bad_body t[] = {
		{"{\"name\": \"a\", \"size_bytes\": 0}",
		 "size_bytes: must be a positive integer, got 0"},
		{"{\"name\": \"a\", \"size_bytes\": -5}",
		 "size_bytes: must be a positive integer, got -5"},
		{"{\"name\": \"a\", \"size_bytes\": -9223372036854775808}",
		 "size_bytes: must be a positive integer, got -9223372036854775808"},
		{"{\"name\": \"a\", \"size_bytes\": \"5\"}",
		 "size_bytes: must be a positive integer, got a string \"5\""},
		{"{\"name\": \"a\", \"size_bytes\": \"64Gi\"}",
		 "size_bytes: must be a positive integer, got a string \"64Gi\""},
		{"{\"name\": \"a\", \"size_bytes\": 1.5}",
		 "size_bytes: must be a positive integer, got 1.5"},
		{"{\"name\": \"a\", \"size_bytes\": 1.0}",
		 "size_bytes: must be a positive integer, got 1.0"},
		{"{\"name\": \"a\", \"size_bytes\": 1e20}",
		 "size_bytes: must be a positive integer, got 1e+20"},
		{"{\"name\": \"a\", \"size_bytes\": -1e300}",
		 "size_bytes: must be a positive integer, got -1.0000000000000001e+300"},
		{"{\"name\": \"a\", \"size_bytes\": true}",
		 "size_bytes: must be a positive integer, got true"},
		{"{\"name\": \"a\", \"size_bytes\": null}",
		 "size_bytes: must be a positive integer, got null"},
		{"{\"name\": \"a\", \"size_bytes\": [1]}",
		 "size_bytes: must be a positive integer, got an array"},
		{"{\"name\": \"a\", \"size_bytes\": {}}",
		 "size_bytes: must be a positive integer, got an object"},
		{"{\"name\": \"a\", \"size_bytes\": 1099511627777}",
		 "size_bytes: must be at most 1099511627776, got 1099511627777"},
		{"{\"name\": \"a\", \"size_bytes\": 9223372036854775807}",
		 "size_bytes: must be at most 1099511627776, got 9223372036854775807"},
	};
	json_error_t jerr;
	json_t *b;
	struct quota_create_req *r = NULL;
	char err[300];

	(void)state;
	check_create_bad(t, N_OF(t), &lim_1t);
	/* Beyond int64, jansson refuses the document: nothing reaches the parser. */
	assert_null(json_loads("{\"name\": \"a\", \"size_bytes\": 9223372036854775808}", 0, &jerr));
	assert_null(
		json_loads("{\"name\": \"a\", \"size_bytes\": 18446744073709551616}", 0, &jerr));
	/* ... unless read as reals, which are refused. */
	b = load("{\"name\": \"a\", \"size_bytes\": 18446744073709551616}",
		 JSON_DECODE_INT_AS_REAL);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "size_bytes: must be a positive integer, got 1.8446744073709552e+19");
	assert_null(r);
	json_decref(b);
}

/* Hostile strings: NUL bytes (only with JSON_ALLOW_NUL), 10 KB, keys with NUL. */
static void test_create_hostile(void **state)
{
	struct quota_create_req *r = NULL;
	json_error_t jerr;
	char err[400];
	char *big = repeat('a', 10240), *body;
	json_t *b;

	(void)state;
	/* The API's decoder never lets \u0000 through ... */
	assert_null(json_loads("{\"name\": \"a\\u0000b\", \"size_bytes\": 1}",
			       JSON_REJECT_DUPLICATES, &jerr));
	/* ... but if one ever did, the length is checked, not strlen. */
	b = load("{\"name\": \"a\\u0000b\", \"size_bytes\": 1}", JSON_ALLOW_NUL);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "name: has a NUL byte at position 2");
	json_decref(b);
	b = load("{\"name\": \"a\", \"size_bytes\": 1, \"pool\": \"/mnt\\u0000/x\"}",
		 JSON_ALLOW_NUL);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "pool: has a NUL byte at position 5");
	json_decref(b);
	b = load("{\"name\": \"a\", \"size_bytes\": 1, \"labels\": {\"k\": \"v\\u0000w\"}}",
		 JSON_ALLOW_NUL);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "labels: value \"v\\x00w\" of key \"k\": has a NUL byte");
	json_decref(b);
	/* Keys with NUL cannot be decoded, but can be built: still refused. */
	b = json_pack("{s:s, s:i}", "name", "a", "size_bytes", 1);
	assert_int_equal(json_object_setn_new(b, "name\0x", 6, json_string("b")), 0);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "\"name\\x00x\": unknown field (expected name, size_bytes, pool, "
				 "numa_node, inodes, labels, pod_uid, claim)");
	json_decref(b);
	b = json_pack("{s:s, s:i, s:{}}", "name", "a", "size_bytes", 1, "labels");
	assert_int_equal(
		json_object_setn_new(json_object_get(b, "labels"), "k\0j", 3, json_string("v")), 0);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "labels: key \"k\\x00j\": has a NUL byte");
	json_decref(b);

	/* 10 KB name, pool, key, value, unknown field: refused, and the message stays short. */
	assert_true(asprintf(&body, "{\"name\": \"%s\", \"size_bytes\": 1}", big) > 0);
	b = load(body, 0);
	free(body);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "name: must be at most 253 characters, got 10240");
	json_decref(b);
	assert_true(asprintf(&body, "{\"name\": \"a\", \"size_bytes\": 1, \"pool\": \"/%s\"}",
			     big) > 0);
	b = load(body, 0);
	free(body);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "pool: must be at most 4095 bytes, got 10241");
	json_decref(b);
	assert_true(asprintf(&body, "{\"name\": \"a\", \"size_bytes\": 1, \"%s\": 1}", big) > 0);
	b = load(body, 0);
	free(body);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_prefix(err,
		      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": unknown field");
	json_decref(b);
	assert_true(asprintf(&body,
			     "{\"name\": \"a\", \"size_bytes\": 1, \"labels\": {\"%s\": \"v\"}}",
			     big) > 0);
	b = load(body, 0);
	free(body);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "labels: key \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": "
			    "must be at most 317 characters, got 10240");
	json_decref(b);
	assert_true(asprintf(&body,
			     "{\"name\": \"a\", \"size_bytes\": 1, \"labels\": {\"k\": \"%s\"}}",
			     big) > 0);
	b = load(body, 0);
	free(body);
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "value must be at most 63 characters, got 10240"));
	assert_true(strlen(err) < 200);
	json_decref(b);
	assert_null(r);
	free(big);
}

static void test_create_labels_limits(void **state)
{
	struct quota_create_req *r = NULL;
	char err[300], key[80];
	json_t *b = json_pack("{s:s, s:i, s:{}}", "name", "a", "size_bytes", 1, "labels");
	json_t *labels = json_object_get(b, "labels");
	char *v63 = repeat('v', 63);

	(void)state;
	/* 64 short labels fit. */
	for (int i = 0; i < QUOTA_LABELS_MAX; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		json_object_set_new(labels, key, json_string("v"));
	}
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(r->labels.n, 64);
	assert_string_equal(r->labels.v[0].key, "k00");
	assert_string_equal(r->labels.v[63].key, "k63");
	r = quota_create_req_free(r);
	/* A 65th is one too many. */
	json_object_set_new(labels, "k64", json_string("v"));
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "labels: at most 64 labels, got 65");
	/* 64 labels each valid, but too long to store in one xattr together. */
	json_object_clear(labels);
	for (int i = 0; i < QUOTA_LABELS_MAX; i++) {
		snprintf(key, sizeof(key), "example.com/key-%02d", i);
		json_object_set_new(labels, key, json_string(v63));
	}
	assert_int_equal(quota_create_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_prefix(err, "labels: 5569 bytes as JSON, at most 3072");
	assert_null(r);
	json_decref(b);
	free(v63);
}

/* ---- resize and publish ---- */

static void test_resize(void **state)
{
	static const struct bad_body t[] = {
		{"{}", "size_bytes, inodes: at least one of them is required"},
		{"{\"inodes\": -1}",
		 "inodes: must be a non-negative integer (0 = no inode limit), got -1"},
		{"{\"inodes\": 9.5}",
		 "inodes: must be a non-negative integer (0 = no inode limit), got 9.5"},
		{"{\"inodes\": 5, \"size_bytes\": 0}",
		 "size_bytes: must be a positive integer, got 0"},
		{"{\"size_bytes\": 0}", "size_bytes: must be a positive integer, got 0"},
		{"{\"size_bytes\": -1}", "size_bytes: must be a positive integer, got -1"},
		{"{\"size_bytes\": \"1Gi\"}",
		 "size_bytes: must be a positive integer, got a string \"1Gi\""},
		{"{\"size_bytes\": 2.5e9}",
		 "size_bytes: must be a positive integer, got 2500000000.0"},
		{"{\"size_bytes\": 1099511627777}",
		 "size_bytes: must be at most 1099511627776, got 1099511627777"},
		{"{\"size_bytes\": 1, \"name\": \"a\"}",
		 "\"name\": unknown field (expected size_bytes, inodes)"},
		{"null", "body: must be a JSON object, got null"},
	};
	struct quota_resize_req r = {.size_bytes = 7};
	char err[300];
	json_t *b;

	(void)state;
	b = load("{\"size_bytes\": 2147483648}", 0);
	assert_int_equal(quota_resize_req_parse(b, &lim_1t, &r, err, sizeof(err)), 0);
	assert_true(r.size_bytes == 2 * GiB);
	json_decref(b);
	for (size_t i = 0; i < N_OF(t); i++) {
		b = load(t[i].json, JSON_DECODE_ANY);
		r.size_bytes = 7;
		assert_int_equal(quota_resize_req_parse(b, &lim_1t, &r, err, sizeof(err)), -EINVAL);
		check_err(err, t[i].err);
		assert_true(r.size_bytes == 7);
		json_decref(b);
	}
}

static void test_publish_good(void **state)
{
	static const char *const roots[] = {"/mnt/a", "/srv/b/", NULL};
	static const char *const slash[] = {"/", NULL};
	struct quota_req_limits lim = {.publish_roots = roots};
	struct quota_req_limits lim_slash = {.publish_roots = slash};
	struct quota_publish_req r;
	char err[300], *p, *body;
	json_t *b;

	(void)state;
	b = load(
		"{\"target_path\": \"/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/pv/mount\","
		" \"readonly\": true}",
		0);
	assert_int_equal(quota_publish_req_parse(b, NULL, &r, err, sizeof(err)), 0);
	assert_string_equal(r.target_path,
			    "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/pv/mount");
	assert_true(r.readonly);
	json_decref(b);
	b = load("{\"target_path\": \"/var/lib/kubelet/x\"}", 0);
	r.readonly = true;
	assert_int_equal(quota_publish_req_parse(b, NULL, &r, err, sizeof(err)), 0);
	assert_false(r.readonly); /* absent = read-write */
	assert_int_equal(quota_unpublish_req_parse(b, NULL, &r, err, sizeof(err)), 0);
	json_decref(b);
	b = load("{\"target_path\": \"/srv/b/x\", \"readonly\": false}", 0);
	assert_int_equal(quota_publish_req_parse(b, &lim, &r, err, sizeof(err)), 0);
	assert_false(r.readonly);
	json_decref(b);
	b = load("{\"target_path\": \"/mnt/a/..x/.y/z..\"}", 0); /* dots inside names are fine */
	assert_int_equal(quota_publish_req_parse(b, &lim, &r, err, sizeof(err)), 0);
	json_decref(b);
	b = load("{\"target_path\": \"/anything\"}", 0);
	assert_int_equal(quota_publish_req_parse(b, &lim_slash, &r, err, sizeof(err)), 0);
	json_decref(b);

	/* Exactly QUOTA_PATH_MAX bytes is allowed; one more is not. */
	p = repeat('x', QUOTA_PATH_MAX);
	memcpy(p, "/var/lib/kubelet", 16);
	for (size_t i = 16; i < QUOTA_PATH_MAX; i += 200)
		p[i] = '/';
	assert_true(asprintf(&body, "{\"target_path\": \"%s\"}", p) > 0);
	b = load(body, 0);
	assert_int_equal(quota_publish_req_parse(b, NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(strlen(r.target_path), QUOTA_PATH_MAX);
	json_decref(b);
	free(body);
	free(p);
}

static void test_publish_bad(void **state)
{
	static const struct bad_body t[] = {
		{"{}", "target_path: is required"},
		{"{\"target_path\": 1}", "target_path: must be a string, got 1"},
		{"{\"target_path\": \"\"}", "target_path: must not be empty"},
		{"{\"target_path\": \"var/lib/kubelet/x\"}",
		 "target_path: must be an absolute path"},
		{"{\"target_path\": \"/var/lib/kubelet/../../etc\"}",
		 "target_path: must not have a '..' component"},
		{"{\"target_path\": \"/var/lib/kubelet/x/..\"}",
		 "target_path: must not have a '..' component"},
		{"{\"target_path\": \"/var/lib/kubelet/./x\"}",
		 "target_path: must be normalised: has a '.' component at position 18"},
		{"{\"target_path\": \"/var/lib/kubelet//x\"}",
		 "target_path: must be normalised: has '//' at position 17"},
		{"{\"target_path\": \"/var/lib/kubelet/x/\"}",
		 "target_path: must be normalised: ends with '/'"},
		{"{\"target_path\": \"/var/lib/kubelet\"}",
		 "target_path: must be below \"/var/lib/kubelet\", not the directory itself"},
		{"{\"target_path\": \"/var/lib/kubeletx/y\"}",
		 "target_path: must be under /var/lib/kubelet"},
		{"{\"target_path\": \"/etc/passwd\"}",
		 "target_path: must be under /var/lib/kubelet"},
		{"{\"target_path\": \"/\"}", "target_path: must be under /var/lib/kubelet"},
		{"{\"target_path\": \"/var/lib/kubelet/a\\nb\"}",
		 "target_path: has a control character at position 19"},
		{"{\"target_path\": \"/var/lib/kubelet/x\", \"readonly\": \"true\"}",
		 "readonly: must be true or false, got a string \"true\""},
		{"{\"target_path\": \"/var/lib/kubelet/x\", \"readonly\": 1}",
		 "readonly: must be true or false, got 1"},
		{"{\"target_path\": \"/var/lib/kubelet/x\", \"fs_type\": \"ext4\"}",
		 "\"fs_type\": unknown field (expected target_path, readonly)"},
	};
	static const char *const roots[] = {"/mnt/a", "/srv/b/", NULL};
	struct quota_req_limits lim = {.publish_roots = roots};
	struct quota_publish_req r = {.target_path = "untouched"};
	char err[400], *body, *comp = repeat('c', 256), *big = repeat('x', 5000);
	json_t *b;

	(void)state;
	for (size_t i = 0; i < N_OF(t); i++) {
		b = load(t[i].json, 0);
		assert_int_equal(quota_publish_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
		check_err(err, t[i].err);
		assert_string_equal(r.target_path, "untouched");
		json_decref(b);
	}
	b = load("{\"target_path\": \"/var/lib/kubelet/x\"}", 0);
	assert_int_equal(quota_publish_req_parse(b, &lim, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "target_path: must be under one of /mnt/a, /srv/b/");
	json_decref(b);
	b = load("{\"target_path\": \"/var/lib/kubelet/x\", \"readonly\": true}", 0);
	assert_int_equal(quota_unpublish_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "\"readonly\": unknown field (expected target_path)");
	json_decref(b);
	b = load("{\"target_path\": \"/var/lib/kubelet/a\\u0000/../../etc\"}", JSON_ALLOW_NUL);
	assert_int_equal(quota_publish_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "target_path: has a NUL byte at position 19");
	json_decref(b);
	assert_true(asprintf(&body, "{\"target_path\": \"/var/lib/kubelet/%s\"}", comp) > 0);
	b = load(body, 0);
	free(body);
	assert_int_equal(quota_publish_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "target_path: has a component of 256 bytes, at most 255 (NAME_MAX)");
	json_decref(b);
	assert_true(asprintf(&body, "{\"target_path\": \"/var/lib/kubelet/%s\"}", big) > 0);
	b = load(body, 0);
	free(body);
	assert_int_equal(quota_publish_req_parse(b, NULL, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "target_path: must be at most 4095 bytes, got 5017");
	json_decref(b);
	assert_string_equal(r.target_path, "untouched");
	free(comp);
	free(big);
}

/* ---- idempotency ---- */

static void test_create_match(void **state)
{
	struct quota_volume v = {.name = "db",
				 .pool = (char *)"/mnt/pmem0",
				 .projid = 1000,
				 .size_bytes = GiB,
				 .inodes = 0};
	struct quota_create_req r = {.name = "db", .size_bytes = GiB, .numa_node = -1};
	char err[300];

	(void)state;
	assert_int_equal(quota_create_req_match(&r, &v, 0, err, sizeof(err)), 0);
	r.size_bytes = 2 * GiB;
	assert_int_equal(quota_create_req_match(&r, &v, 0, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "volume db exists with size_bytes 1073741824, not 2147483648");
	r.size_bytes = GiB;
	r.pool = (char *)"/mnt/pmem0";
	assert_int_equal(quota_create_req_match(&r, &v, 0, err, sizeof(err)), 0);
	r.pool = (char *)"/mnt/pmem1";
	assert_int_equal(quota_create_req_match(&r, &v, 0, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "volume db exists in pool /mnt/pmem0");
	r.pool = NULL;
	r.numa_node = 1;
	assert_int_equal(quota_create_req_match(&r, &v, 0, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "volume db exists on NUMA node 0, not 1");
	assert_int_equal(quota_create_req_match(&r, &v, 1, err, sizeof(err)), 0);
	assert_int_equal(quota_create_req_match(&r, &v, -1, err, sizeof(err)), 0);
	r.numa_node = -1;
	r.inodes = 100;
	assert_int_equal(quota_create_req_match(&r, &v, 0, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "volume db exists with inodes 0, not 100");
}

/* ---- records ---- */

static void test_meta_encode(void **state)
{
	struct quota_label lv[] = {{(char *)"app", (char *)"db"}, {(char *)"tier", (char *)"1"}};
	struct quota_labels labels = {lv, 2}, none = {0};
	struct quota_meta_text t;
	char err[200];
	char *big = repeat('v', 4000);
	struct quota_label bl[] = {{(char *)"k", big}};
	struct quota_labels bigl = {bl, 1};

	(void)state;
	assert_int_equal(quota_meta_encode(GiB, 0, 1700000000, &labels, &t, err, sizeof(err)), 0);
	assert_string_equal(t.size_bytes, "1073741824");
	assert_string_equal(t.inodes, "0");
	assert_string_equal(t.created, "1700000000");
	assert_string_equal(t.labels, "{\"app\":\"db\",\"tier\":\"1\"}");
	assert_int_equal(
		quota_meta_encode(INT64_MAX, INT64_MAX, INT64_MAX, &none, &t, err, sizeof(err)), 0);
	assert_string_equal(t.size_bytes, "9223372036854775807");
	assert_string_equal(t.labels, "{}");
	assert_int_equal(quota_meta_encode(1, 0, 0, NULL, &t, err, sizeof(err)), 0);
	assert_string_equal(t.labels, "{}");
	assert_int_equal(quota_meta_encode(0, 0, 0, NULL, &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "size_bytes 0 is out of range");
	assert_int_equal(
		quota_meta_encode((uint64_t)INT64_MAX + 1, 0, 0, NULL, &t, err, sizeof(err)),
		-EINVAL);
	assert_int_equal(quota_meta_encode(1, 0, -1, NULL, &t, err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_meta_encode(1, UINT64_MAX, 0, NULL, &t, err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_meta_encode(1, 0, 0, &bigl, &t, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "labels are 4008 bytes as JSON, at most 3072");
	free(big);
}

/* ---- project ids ---- */

static void test_ids_basic(void **state)
{
	static const uint32_t scan[] = {1003, 1000, 5, 0, 1001, 1000, 0x80000000u, 999};
	struct quota_ids *ids = NULL;
	uint32_t id = 0;

	(void)state;
	assert_int_equal(quota_ids_new(QUOTA_PROJID_MIN, QUOTA_PROJID_MAX, scan, N_OF(scan), &ids),
			 0);
	/* Out-of-range ids and duplicates are not held. */
	assert_int_equal(quota_ids_count(ids), 3);
	assert_true(quota_ids_held(ids, 1000) && quota_ids_held(ids, 1001) &&
		    quota_ids_held(ids, 1003));
	assert_false(quota_ids_held(ids, 5) || quota_ids_held(ids, 1002));
	/* Lowest free: fills the hole at 1002 before going past 1003. */
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, 1002);
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, 1004);
	/* Released ids come back, lowest first. */
	assert_int_equal(quota_ids_release(ids, 1001), 0);
	assert_int_equal(quota_ids_release(ids, 1001), -ENOENT);
	assert_int_equal(quota_ids_release(ids, 1000), 0);
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, 1000);
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, 1001);
	/* hold: what a late discovery marks in use. */
	assert_int_equal(quota_ids_hold(ids, 1005), 0);
	assert_int_equal(quota_ids_hold(ids, 1005), -EEXIST);
	assert_int_equal(quota_ids_hold(ids, 999), -ERANGE);
	assert_int_equal(quota_ids_hold(ids, 0), -ERANGE);
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, 1006);
	assert_int_equal(quota_ids_release(ids, 4242), -ENOENT);
	assert_int_equal(quota_ids_count(ids), 7);
	ids = quota_ids_free(ids);
	assert_null(ids);

	/* Never "highest + 1": one high id in use, the first allocation is still the minimum. */
	{
		uint32_t high = 50000;

		assert_int_equal(quota_ids_new(QUOTA_PROJID_MIN, QUOTA_PROJID_MAX, &high, 1, &ids),
				 0);
		assert_int_equal(quota_ids_alloc(ids, &id), 0);
		assert_int_equal(id, QUOTA_PROJID_MIN);
		ids = quota_ids_free(ids);
	}
	assert_int_equal(quota_ids_new(0, 10, NULL, 0, &ids), -EINVAL);
	assert_int_equal(quota_ids_new(10, 9, NULL, 0, &ids), -EINVAL);
	assert_null(ids);
	assert_null(quota_ids_free(NULL));
}

static void test_ids_exhaustion(void **state)
{
	struct quota_ids *ids = NULL;
	uint32_t id, top = UINT32_MAX;

	(void)state;
	assert_int_equal(quota_ids_new(1000, 1009, NULL, 0, &ids), 0);
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(quota_ids_alloc(ids, &id), 0);
		assert_int_equal(id, 1000 + i);
	}
	id = 77;
	assert_int_equal(quota_ids_alloc(ids, &id), -ENOSPC);
	assert_int_equal(id, 77); /* untouched */
	assert_int_equal(quota_ids_release(ids, 1004), 0);
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, 1004);
	assert_int_equal(quota_ids_alloc(ids, &id), -ENOSPC);
	quota_ids_free(ids);
	/* The top of the 32-bit range: no wrap to 0. */
	assert_int_equal(quota_ids_new(UINT32_MAX - 1, UINT32_MAX, &top, 1, &ids), 0);
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, UINT32_MAX - 1);
	assert_int_equal(quota_ids_alloc(ids, &id), -ENOSPC);
	quota_ids_free(ids);
}

/* Random operations against a plain bitmap: same answers, every step. */
static void test_ids_model(void **state)
{
	enum { MIN = 1000, SPAN = 200 };
	bool ref[SPAN] = {false};
	uint32_t seed[64], n_seed = 0;
	struct quota_ids *ids;
	unsigned rnd = 12345;

	(void)state;
	for (uint32_t i = 0; i < SPAN; i += 3)
		if (n_seed < N_OF(seed)) {
			seed[n_seed++] = MIN + i;
			ref[i] = true;
		}
	assert_int_equal(quota_ids_new(MIN, MIN + SPAN - 1, seed, n_seed, &ids), 0);
	for (int step = 0; step < 20000; step++) {
		uint32_t id, want = 0;
		bool full = true;

		rnd = rnd * 1103515245u + 12345u;
		if ((rnd >> 16) % 3 != 0) {
			for (uint32_t i = 0; i < SPAN; i++)
				if (!ref[i]) {
					want = MIN + i;
					full = false;
					break;
				}
			if (full) {
				assert_int_equal(quota_ids_alloc(ids, &id), -ENOSPC);
				continue;
			}
			assert_int_equal(quota_ids_alloc(ids, &id), 0);
			assert_int_equal(id, want);
			ref[id - MIN] = true;
		} else {
			uint32_t i = (rnd >> 8) % SPAN;

			assert_int_equal(quota_ids_release(ids, MIN + i), ref[i] ? 0 : -ENOENT);
			ref[i] = false;
		}
	}
	for (uint32_t i = 0; i < SPAN; i++)
		assert_int_equal(quota_ids_held(ids, MIN + i), ref[i]);
	quota_ids_free(ids);
}

/* 10,000 volumes with holes: built, filled, and each allocation is the next hole. */
static void test_ids_large(void **state)
{
	enum { N = 10000 };
	uint32_t *scan = malloc(N * sizeof(*scan)), id;
	struct quota_ids *ids;
	size_t n = 0;

	(void)state;
	assert_non_null(scan);
	/* Every id of 1000..10999 except multiples of 100, in reverse order. */
	for (uint32_t i = N; i-- > 0;)
		if ((1000 + i) % 100 != 0)
			scan[n++] = 1000 + i;
	assert_int_equal(quota_ids_new(QUOTA_PROJID_MIN, QUOTA_PROJID_MAX, scan, n, &ids), 0);
	assert_int_equal(quota_ids_count(ids), n);
	for (uint32_t hole = 1000; hole < 11000; hole += 100) {
		assert_int_equal(quota_ids_alloc(ids, &id), 0);
		assert_int_equal(id, hole);
	}
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, 11000);
	quota_ids_free(ids);
	free(scan);
}

struct ids_race {
	struct quota_ids *ids;
	pthread_barrier_t *go;
	uint32_t got[500];
};

static void *ids_racer(void *arg)
{
	struct ids_race *r = arg;

	pthread_barrier_wait(r->go);
	for (size_t i = 0; i < N_OF(r->got); i++) {
		if (quota_ids_alloc(r->ids, &r->got[i]) != 0)
			r->got[i] = 0;
		/* Give some back and take again, so frees race with allocations. */
		if (i % 7 == 6) {
			if (quota_ids_release(r->ids, r->got[i]) != 0 ||
			    quota_ids_alloc(r->ids, &r->got[i]) != 0)
				r->got[i] = 0;
		}
	}
	return NULL;
}

static void test_ids_concurrent(void **state)
{
	enum { T = 16 };
	static struct ids_race race[T];
	pthread_t th[T];
	pthread_barrier_t go;
	struct quota_ids *ids;
	static bool seen[T * 500];

	(void)state;
	memset(seen, 0, sizeof(seen));
	assert_int_equal(quota_ids_new(QUOTA_PROJID_MIN, QUOTA_PROJID_MAX, NULL, 0, &ids), 0);
	pthread_barrier_init(&go, NULL, T);
	for (int i = 0; i < T; i++) {
		race[i].ids = ids;
		race[i].go = &go;
		assert_int_equal(pthread_create(&th[i], NULL, ids_racer, &race[i]), 0);
	}
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	/* Never the same id twice, and lowest-free packs them into exactly [min, min + 8000). */
	for (int i = 0; i < T; i++)
		for (size_t k = 0; k < N_OF(race[i].got); k++) {
			uint32_t id = race[i].got[k];

			assert_true(id >= QUOTA_PROJID_MIN && id < QUOTA_PROJID_MIN + T * 500);
			assert_false(seen[id - QUOTA_PROJID_MIN]);
			seen[id - QUOTA_PROJID_MIN] = true;
		}
	assert_int_equal(quota_ids_count(ids), T * 500);
	quota_ids_free(ids);
}

/* ---- ledger ---- */

static void test_ratio(void **state)
{
	static const struct {
		double in;
		uint32_t num, den;
	} good[] = {
		{1.0, 1, 1},
		{1.5, 3, 2},
		{1.1, 11, 10},
		{0.5, 1, 2},
		{2.0, 2, 1},
		{100.0, 100, 1},
		{1.000001, 1000001, 1000000},
		{0.1 + 0.2, 3, 10},
	};
	static const double bad[] = {0.0, -1.0, 100.5, 1e-7, 1e300};
	struct quota_ratio r;
	char why[200];

	(void)state;
	for (size_t i = 0; i < N_OF(good); i++) {
		assert_int_equal(quota_ratio_from_double(good[i].in, &r, why, sizeof(why)), 0);
		assert_int_equal(r.num, good[i].num);
		assert_int_equal(r.den, good[i].den);
	}
	for (size_t i = 0; i < N_OF(bad); i++)
		assert_int_equal(quota_ratio_from_double(bad[i], &r, why, sizeof(why)), -EINVAL);
	assert_int_equal(quota_ratio_from_double(NAN, &r, why, sizeof(why)), -EINVAL);
	assert_int_equal(quota_ratio_from_double(INFINITY, &r, why, sizeof(why)), -EINVAL);
	assert_int_equal(quota_ratio_from_double(-0.0, &r, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "overcommit_ratio must be above 0 and at most 100, got -0");
}

static struct quota_ledger *ledger(uint32_t num, uint32_t den)
{
	struct quota_ledger *l = NULL;

	assert_int_equal(quota_ledger_new((struct quota_ratio){num, den}, &l), 0);
	return l;
}

static void assert_stat(struct quota_ledger *l, const char *pool, uint64_t cap, uint64_t committed,
			uint64_t reserved, uint64_t free_b)
{
	struct quota_ledger_stat s;

	assert_int_equal(quota_ledger_stat(l, pool, &s), 0);
	if (s.capacity != cap || s.committed != committed || s.reserved != reserved ||
	    s.free != free_b)
		fprintf(stderr,
			"stat %s: cap %" PRIu64 " committed %" PRIu64 " reserved %" PRIu64
			" free %" PRIu64 "\n",
			pool, s.capacity, s.committed, s.reserved, s.free);
	assert_true(s.capacity == cap);
	assert_true(s.committed == committed);
	assert_true(s.reserved == reserved);
	assert_true(s.free == free_b);
}

static void test_ledger_basic(void **state)
{
	struct quota_ledger *l = ledger(1, 1), *bad = NULL;
	uint64_t t1 = 0, t2 = 0, t3 = 99, free_b = 0;
	char err[200];

	(void)state;
	assert_int_equal(quota_ledger_set_pool(l, "/mnt/p0", 100), 0);
	assert_int_equal(quota_ledger_set_pool(l, "/mnt/p1", 10), 0);
	assert_int_equal(quota_ledger_reserve(l, "/mnt/p0", 60, &t1, &free_b, err, sizeof(err)), 0);
	assert_true(t1 != 0);
	assert_true(free_b == 40);
	assert_int_equal(quota_ledger_reserve(l, "/mnt/p0", 50, &t3, &free_b, err, sizeof(err)),
			 -ENOSPC);
	assert_true(free_b == 40);
	assert_true(t3 == 99); /* untouched */
	assert_string_equal(err, "pool /mnt/p0 has 40 bytes free, 50 asked");
	assert_int_equal(quota_ledger_reserve(l, "/mnt/p0", 40, &t2, &free_b, err, sizeof(err)), 0);
	assert_true(free_b == 0 && t2 != t1);
	assert_stat(l, "/mnt/p0", 100, 0, 100, 0);
	/* Pools are separate. */
	assert_stat(l, "/mnt/p1", 10, 0, 0, 10);
	assert_int_equal(quota_ledger_cancel(l, t1, err, sizeof(err)), 0);
	assert_stat(l, "/mnt/p0", 100, 0, 40, 60);
	assert_int_equal(quota_ledger_commit(l, t2, err, sizeof(err)), 0);
	assert_stat(l, "/mnt/p0", 100, 40, 0, 60);
	/* A token settles once. */
	assert_int_equal(quota_ledger_commit(l, t2, err, sizeof(err)), -ENOENT);
	assert_int_equal(quota_ledger_cancel(l, t1, err, sizeof(err)), -ENOENT);
	assert_int_equal(quota_ledger_commit(l, 0, err, sizeof(err)), -ENOENT);
	assert_stat(l, "/mnt/p0", 100, 40, 0, 60);
	assert_int_equal(quota_ledger_reserve(l, "/mnt/p9", 1, &t3, NULL, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "pool /mnt/p9 is not in the ledger");
	assert_int_equal(quota_ledger_reserve(l, "/mnt/p0", 0, &t3, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(quota_ledger_stat(l, "/mnt/p9", &(struct quota_ledger_stat){0}), -ENOENT);
	assert_int_equal(quota_ledger_set_pool(l, "", 1), -EINVAL);
	quota_ledger_free(l);

	assert_int_equal(quota_ledger_new((struct quota_ratio){0, 1}, &bad), -EINVAL);
	assert_int_equal(quota_ledger_new((struct quota_ratio){1, 0}, &bad), -EINVAL);
	assert_int_equal(quota_ledger_new((struct quota_ratio){101, 1}, &bad), -EINVAL);
	assert_int_equal(quota_ledger_new((struct quota_ratio){201, 2}, &bad), -EINVAL);
	assert_null(bad);
	assert_int_equal(quota_ledger_new((struct quota_ratio){200, 2}, &bad), 0);
	quota_ledger_free(bad);
	assert_null(quota_ledger_free(NULL));
}

static void test_ledger_ratio_and_overflow(void **state)
{
	struct quota_ledger *l;
	uint64_t t, free_b = 0;
	char err[200];

	(void)state;
	/* 1.5 × 100 = 150. */
	l = ledger(3, 2);
	assert_int_equal(quota_ledger_set_pool(l, "p", 100), 0);
	assert_stat(l, "p", 150, 0, 0, 150);
	assert_int_equal(quota_ledger_reserve(l, "p", 151, &t, &free_b, err, sizeof(err)), -ENOSPC);
	assert_int_equal(quota_ledger_reserve(l, "p", 150, &t, &free_b, err, sizeof(err)), 0);
	quota_ledger_free(l);
	/* 2/3 × 100 = 66.67: rounds down, never up into overcommit. */
	l = ledger(2, 3);
	assert_int_equal(quota_ledger_set_pool(l, "p", 100), 0);
	assert_stat(l, "p", 66, 0, 0, 66);
	assert_int_equal(quota_ledger_reserve(l, "p", 67, &t, &free_b, err, sizeof(err)), -ENOSPC);
	assert_true(free_b == 66);
	quota_ledger_free(l);
	/* UINT64_MAX × 100 does not wrap: capacity saturates. */
	l = ledger(100, 1);
	assert_int_equal(quota_ledger_set_pool(l, "p", UINT64_MAX), 0);
	assert_stat(l, "p", UINT64_MAX, 0, 0, UINT64_MAX);
	assert_int_equal(
		quota_ledger_reserve(l, "p", UINT64_MAX - 1, &t, &free_b, err, sizeof(err)), 0);
	assert_int_equal(quota_ledger_reserve(l, "p", 2, &t, &free_b, err, sizeof(err)), -ENOSPC);
	assert_true(free_b == 1);
	assert_int_equal(quota_ledger_charge(l, "p", 2, err, sizeof(err)), -EOVERFLOW);
	assert_int_equal(quota_ledger_charge(l, "p", 1, err, sizeof(err)), 0);
	assert_int_equal(quota_ledger_reserve(l, "p", 1, &t, &free_b, err, sizeof(err)), -ENOSPC);
	assert_true(free_b == 0);
	assert_int_equal(quota_ledger_charge(l, "q", 1, err, sizeof(err)), -ENOENT);
	quota_ledger_free(l);
	/* Large figures with a fraction: exact in 128 bits (2^63 × 3 / 2 fits, 2^64 - 1 does not).
	 */
	l = ledger(3, 2);
	assert_int_equal(quota_ledger_set_pool(l, "p", 1ULL << 63), 0);
	assert_stat(l, "p", 3ULL << 62, 0, 0, 3ULL << 62);
	assert_int_equal(quota_ledger_set_pool(l, "p", UINT64_MAX), 0);
	assert_stat(l, "p", UINT64_MAX, 0, 0, UINT64_MAX);
	assert_int_equal(quota_ledger_set_pool(l, "p", (1ULL << 62) + 1), 0);
	assert_stat(l, "p", (3ULL << 61) + 1, 0, 0, (3ULL << 61) + 1);
	quota_ledger_free(l);
}

static void test_ledger_refresh_and_charge(void **state)
{
	struct quota_ledger *l = ledger(1, 1);
	uint64_t t, free_b = 0;
	char err[200];

	(void)state;
	assert_int_equal(quota_ledger_set_pool(l, "p", 100), 0);
	assert_int_equal(quota_ledger_charge(l, "p", 80, err, sizeof(err)), 0);
	assert_stat(l, "p", 100, 80, 0, 20);
	/* The pool shrank (a bigger reserve in config): volumes stay, nothing new fits. */
	assert_int_equal(quota_ledger_set_pool(l, "p", 50), 0);
	assert_stat(l, "p", 50, 80, 0, 0);
	assert_int_equal(quota_ledger_reserve(l, "p", 1, &t, &free_b, err, sizeof(err)), -ENOSPC);
	assert_true(free_b == 0);
	assert_int_equal(quota_ledger_set_pool(l, "p", 100), 0);
	assert_stat(l, "p", 100, 80, 0, 20);
	/* Start-up charges are not checked: the filesystem is the truth. */
	assert_int_equal(quota_ledger_charge(l, "p", 1000, err, sizeof(err)), 0);
	assert_stat(l, "p", 100, 1080, 0, 0);
	quota_ledger_free(l);
}

static void test_ledger_adjust(void **state)
{
	struct quota_ledger *l = ledger(1, 1);
	uint64_t grow = 0, other = 0, elsewhere = 0;
	char err[300];

	(void)state;
	assert_int_equal(quota_ledger_set_pool(l, "p", 100), 0);
	assert_int_equal(quota_ledger_set_pool(l, "q", 100), 0);
	assert_int_equal(quota_ledger_charge(l, "p", 50, err, sizeof(err)), 0);
	/* Growth without a reservation is refused. */
	assert_int_equal(quota_ledger_adjust(l, "p", 50, 70, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "growth by 20 bytes needs a reservation first");
	assert_int_equal(quota_ledger_reserve(l, "p", 20, &grow, NULL, err, sizeof(err)), 0);
	assert_int_equal(quota_ledger_reserve(l, "p", 10, &other, NULL, err, sizeof(err)), 0);
	assert_int_equal(quota_ledger_reserve(l, "q", 20, &elsewhere, NULL, err, sizeof(err)), 0);
	assert_stat(l, "p", 100, 50, 30, 20);
	/* A reservation of another size or pool does not pay for it. */
	assert_int_equal(quota_ledger_adjust(l, "p", 50, 70, other, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "reservation 2 is 10 bytes on pool p, not 20 on p");
	assert_int_equal(quota_ledger_adjust(l, "p", 50, 70, elsewhere, err, sizeof(err)), -EINVAL);
	assert_stat(l, "p", 100, 50, 30, 20);
	assert_int_equal(quota_ledger_adjust(l, "p", 50, 70, grow, err, sizeof(err)), 0);
	assert_stat(l, "p", 100, 70, 10, 20);
	/* The token is spent. */
	assert_int_equal(quota_ledger_commit(l, grow, err, sizeof(err)), -ENOENT);
	assert_int_equal(quota_ledger_cancel(l, other, err, sizeof(err)), 0);
	/* Shrink releases, takes no token. */
	assert_int_equal(quota_ledger_adjust(l, "p", 70, 30, elsewhere, err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_ledger_adjust(l, "p", 70, 30, 0, err, sizeof(err)), 0);
	assert_stat(l, "p", 100, 30, 0, 70);
	/* An old size the ledger never had is a caller bug, not a silent wrap. */
	assert_int_equal(quota_ledger_adjust(l, "p", 31, 0, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "pool p: old size 31 is more than committed 30");
	assert_stat(l, "p", 100, 30, 0, 70);
	/* Delete: to 0. */
	assert_int_equal(quota_ledger_adjust(l, "p", 30, 0, 0, err, sizeof(err)), 0);
	assert_stat(l, "p", 100, 0, 0, 100);
	assert_int_equal(quota_ledger_adjust(l, "x", 0, 0, 0, err, sizeof(err)), -ENOENT);
	assert_stat(l, "q", 100, 0, 20, 80);
	quota_ledger_free(l);
}

static void test_ledger_reservation_cap(void **state)
{
	struct quota_ledger *l = ledger(1, 1);
	uint64_t t = 0, first = 0;
	char err[200];

	(void)state;
	assert_int_equal(quota_ledger_set_pool(l, "p", UINT64_MAX), 0);
	for (int i = 0; i < QUOTA_LEDGER_RESERVATIONS_MAX; i++) {
		assert_int_equal(quota_ledger_reserve(l, "p", 1, &t, NULL, err, sizeof(err)), 0);
		if (i == 0)
			first = t;
	}
	assert_int_equal(quota_ledger_reserve(l, "p", 1, &t, NULL, err, sizeof(err)), -EBUSY);
	assert_int_equal(quota_ledger_commit(l, first, err, sizeof(err)), 0);
	assert_int_equal(quota_ledger_reserve(l, "p", 1, &t, NULL, err, sizeof(err)), 0);
	assert_stat(l, "p", UINT64_MAX, 1, QUOTA_LEDGER_RESERVATIONS_MAX,
		    UINT64_MAX - 1 - QUOTA_LEDGER_RESERVATIONS_MAX);
	quota_ledger_free(l);
}

enum { RACERS = 16, RACE_CAP = 1000003 };

struct ledger_race {
	struct quota_ledger *l;
	pthread_barrier_t *go;
	unsigned seed;
	uint64_t granted; /* committed by this thread */
	int refused;
};

static void *ledger_racer(void *arg)
{
	struct ledger_race *r = arg;
	char err[200];

	pthread_barrier_wait(r->go);
	while (r->refused < 50) {
		uint64_t t, free_b, bytes;

		r->seed = r->seed * 1103515245u + 12345u;
		bytes = 1 + (r->seed >> 8) % 5000;
		if (quota_ledger_reserve(r->l, "p", bytes, &t, &free_b, err, sizeof(err)) != 0) {
			/* Refusals are honest: what is free really was less than asked. */
			if (free_b >= bytes)
				r->refused = 1000;
			r->refused++;
			continue;
		}
		/* One in four creates fails and gives the space back. */
		if ((r->seed >> 4) % 4 == 0) {
			if (quota_ledger_cancel(r->l, t, err, sizeof(err)) != 0)
				r->refused = 2000;
		} else if (quota_ledger_commit(r->l, t, err, sizeof(err)) == 0) {
			r->granted += bytes;
		}
	}
	return NULL;
}

static void test_ledger_concurrent(void **state)
{
	struct quota_ledger *l = ledger(1, 1);
	struct ledger_race race[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t go;
	struct quota_ledger_stat s;
	uint64_t sum = 0;

	(void)state;
	assert_int_equal(quota_ledger_set_pool(l, "p", RACE_CAP), 0);
	pthread_barrier_init(&go, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		race[i] = (struct ledger_race){.l = l, .go = &go, .seed = 7u + (unsigned)i};
		assert_int_equal(pthread_create(&th[i], NULL, ledger_racer, &race[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
		assert_true(race[i].refused < 1000);
		sum += race[i].granted;
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(quota_ledger_stat(l, "p", &s), 0);
	/* What the threads were granted is what the ledger committed, and never above capacity. */
	assert_true(sum == s.committed);
	assert_true(sum <= RACE_CAP);
	assert_true(s.reserved == 0);
	/*
	 * Everyone kept trying until refused, so the pool ended nearly full: at a
	 * thread's last refusal less than 5000 was free, and at most one
	 * reservation per other thread (< 5000 each) was in flight to be cancelled.
	 */
	assert_true(s.free < 5000 * RACERS);
	assert_true(s.committed > RACE_CAP / 2);
	quota_ledger_free(l);
}

/* ---- catalog ---- */

static struct quota_dirent de(const char *name, uint32_t projid, bool inherit, bool is_dir)
{
	struct quota_dirent d = {.projid = projid, .inherit = inherit, .is_dir = is_dir};

	snprintf(d.name, sizeof(d.name), "%s", name);
	return d;
}

static struct quota_dirent vdir(const char *name, uint32_t projid)
{
	return de(name, projid, true, true);
}

static const struct quota_meta meta_1g = {"1073741824", "0", "1700000000", "{\"app\":\"db\"}"};
static const struct quota_meta meta_none = {NULL, NULL, NULL, NULL};

static struct quota_catalog *rebuild(const struct quota_scan_pool *pools, size_t n,
				     const struct quota_rebuild_opts *opts)
{
	struct quota_scan scan = {pools, n};
	struct quota_catalog *c = NULL;
	char err[200];

	if (quota_catalog_rebuild(&scan, opts, &c, err, sizeof(err)) != 0)
		fprintf(stderr, "rebuild: %s\n", err);
	assert_non_null(c);
	return c;
}

static const struct quota_issue *issue_of(const struct quota_catalog *c, const char *name)
{
	for (size_t i = 0; i < c->n_issues; i++)
		if (strcmp(c->issues[i].name, name) == 0)
			return &c->issues[i];
	return NULL;
}

static void test_catalog_volume(void **state)
{
	struct quota_dirent root[] = {vdir("vol-a", 1000), de(".pmemd", 0, false, true),
				      de("lost+found", 0, false, true)};
	struct quota_meta meta[] = {meta_1g, meta_none, meta_none};
	struct quota_scan_limit lim[] = {{1000, GiB, 0}};
	struct quota_scan_pool p = {.name = "/mnt/pmem0",
				    .root = root,
				    .meta = meta,
				    .n_root = 3,
				    .limits = lim,
				    .n_limits = 1};
	struct quota_catalog *c = rebuild(&p, 1, NULL);
	const struct quota_volume *v;
	const struct quota_pool_ids *ids;

	(void)state;
	assert_int_equal(c->n_volumes, 1);
	v = quota_catalog_find(c, "vol-a");
	assert_non_null(v);
	assert_string_equal(v->pool, "/mnt/pmem0");
	assert_int_equal(v->projid, 1000);
	assert_true(v->size_bytes == GiB);
	assert_true(v->inodes == 0);
	assert_true(v->created == 1700000000);
	assert_int_equal(v->labels.n, 1);
	assert_string_equal(quota_labels_get(&v->labels, "app"), "db");
	/* Consistent: nothing to repair, nothing to say (.pmemd and lost+found are silent). */
	assert_int_equal(c->n_repairs, 0);
	assert_int_equal(c->n_issues, 0);
	ids = quota_catalog_pool_ids(c, "/mnt/pmem0");
	assert_non_null(ids);
	assert_int_equal(ids->n, 1);
	assert_int_equal(ids->ids[0], 1000);
	assert_null(quota_catalog_pool_ids(c, "/mnt/pmem9"));
	assert_null(quota_catalog_find(c, "vol-b"));
	assert_null(quota_catalog_conflict(c, "vol-a"));
	quota_catalog_free(c);
	assert_null(quota_catalog_free(NULL));
}

static uint64_t plus_a_block(uint64_t size, enum config_fstype fstype, uint64_t block_size)
{
	return size + (fstype == CONFIG_FS_XFS ? 2 : 1) * block_size;
}

static void test_catalog_limits(void **state)
{
	struct quota_dirent root[] = {vdir("ok", 1000), vdir("no-limit", 1001), vdir("small", 1002),
				      vdir("inodes", 1003), de("no-inherit", 1004, false, true)};
	struct quota_meta m_inodes = {"1073741824", "500", "1", "{}"};
	struct quota_meta meta[] = {meta_1g, meta_1g, meta_1g, m_inodes, meta_1g};
	struct quota_scan_limit lim[] = {{1004, GiB + 8192, 0},
					 {1000, GiB + 4096, 0},
					 {1002, 4096, 0},
					 {1003, GiB + 4096, 0}};
	struct quota_scan_pool p = {.name = "/p",
				    .fstype = CONFIG_FS_EXT4,
				    .block_size = 4096,
				    .root = root,
				    .meta = meta,
				    .n_root = N_OF(root),
				    .limits = lim,
				    .n_limits = N_OF(lim)};
	struct quota_rebuild_opts opts = {.limit_for_size = plus_a_block};
	struct quota_catalog *c = rebuild(&p, 1, &opts);
	const struct quota_repair *r;

	(void)state;
	assert_int_equal(c->n_volumes, 5);
	/* Order: set_project before set_limit; by path within a kind. */
	assert_int_equal(c->n_repairs, 5);
	r = &c->repairs[0];
	assert_int_equal(r->kind, QUOTA_REPAIR_SET_PROJECT);
	assert_string_equal(r->rel, "no-inherit");
	assert_int_equal(r->projid, 1004);
	r = &c->repairs[1];
	assert_int_equal(r->kind, QUOTA_REPAIR_SET_LIMIT);
	assert_string_equal(r->rel, "inodes");
	assert_true(r->bytes_limit == GiB + 4096 && r->inodes_limit == 500);
	r = &c->repairs[2];
	assert_string_equal(r->rel, "no-inherit");
	assert_true(r->bytes_limit == GiB + 4096);
	r = &c->repairs[3];
	assert_string_equal(r->rel, "no-limit");
	assert_int_equal(r->projid, 1001);
	assert_true(r->bytes_limit == GiB + 4096 && r->inodes_limit == 0);
	assert_string_equal(r->reason, "the quota is 0 bytes, 0 inodes; the record says 1073741824 "
				       "bytes (limit 1073745920), 0 inodes: the record wins");
	assert_string_equal(r->pool, "/p");
	r = &c->repairs[4];
	assert_string_equal(r->rel, "small");
	assert_int_equal(r->kind, QUOTA_REPAIR_SET_LIMIT);
	assert_true(r->bytes_limit == GiB + 4096);
	quota_catalog_free(c);

	/* Without limit_for_size the limit is the size: "ok" (GiB + 4096) is now off too. */
	c = rebuild(&p, 1, NULL);
	assert_int_equal(c->n_repairs, 6);
	assert_string_equal(c->repairs[5].rel, "small");
	assert_true(c->repairs[5].bytes_limit == GiB);
	assert_string_equal(c->repairs[4].rel, "ok");
	quota_catalog_free(c);
}

static void test_catalog_foreign(void **state)
{
	struct quota_dirent root[] = {
		vdir("plain", 0),		  /* someone's mkdir */
		vdir("theirs", 500),		  /* another project-quota user */
		vdir("no-record", 1500),	  /* one of our ids, no size record */
		vdir("Data", 1600),		  /* not a volume name */
		de("README", 1700, false, false), /* a file */
		vdir("old", 1800),
	};
	struct quota_meta m_no_created = {"4096", NULL, NULL, NULL};
	struct quota_meta meta[] = {meta_1g, meta_1g, meta_none, meta_1g, meta_1g, m_no_created};
	struct quota_scan_limit lim[] = {{1800, 4096, 0}};
	struct quota_scan_pool p = {.name = "/p",
				    .root = root,
				    .meta = meta,
				    .n_root = N_OF(root),
				    .limits = lim,
				    .n_limits = 1};
	struct quota_catalog *c = rebuild(&p, 1, NULL);
	const struct quota_pool_ids *ids;
	static const struct {
		const char *name, *msg;
	} want[] = {
		{"Data", "not a volume name (has an uppercase letter at position 1); left alone"},
		{"README", "not a directory; not a volume, left alone"},
		{"no-record", "no trusted.pmemd.size_bytes record; not a pmemd volume, left alone"},
		{"old", "no trusted.pmemd.created record; created is 0"},
		{"plain", "no project id; not a pmemd volume, left alone"},
		{"theirs",
		 "project id 500 is outside pmemd's range [1000, 2147483647]; not a pmemd "
		 "volume, left alone"},
	};

	(void)state;
	/* Only the old volume without a created record is a volume. */
	assert_int_equal(c->n_volumes, 1);
	assert_string_equal(c->volumes[0].name, "old");
	assert_true(c->volumes[0].created == 0);
	assert_int_equal(c->volumes[0].labels.n, 0);
	assert_int_equal(c->n_repairs, 0); /* foreign entries are never touched */
	assert_int_equal(c->n_issues, N_OF(want));
	for (size_t i = 0; i < N_OF(want); i++) {
		assert_string_equal(c->issues[i].name, want[i].name);
		assert_string_equal(c->issues[i].message, want[i].msg);
		assert_int_equal(c->issues[i].level, QUOTA_ISSUE_WARNING);
		assert_int_equal(c->issues[i].where, QUOTA_IN_ROOT);
	}
	/* Their ids in our range stay in use: sharing one would charge their files to a volume. */
	ids = quota_catalog_pool_ids(c, "/p");
	assert_int_equal(ids->n, 4);
	assert_int_equal(ids->ids[0], 1500);
	assert_int_equal(ids->ids[1], 1600);
	assert_int_equal(ids->ids[2], 1700);
	assert_int_equal(ids->ids[3], 1800);
	/* A warning does not block a name; only errors do. */
	assert_null(quota_catalog_conflict(c, "plain"));
	quota_catalog_free(c);
}

static void test_catalog_duplicate_ids(void **state)
{
	struct quota_dirent root[] = {vdir("b", 1000),	    vdir("a", 1000), vdir("c", 1001),
				      vdir("x", 2000),	    vdir("y", 2000), vdir("z", 2000),
				      vdir("foreign", 1001)};
	struct quota_meta meta[] = {meta_1g, meta_1g, meta_1g,	meta_1g,
				    meta_1g, meta_1g, meta_none};
	struct quota_scan_pool p = {.name = "/p", .root = root, .meta = meta, .n_root = N_OF(root)};
	struct quota_catalog *c = rebuild(&p, 1, NULL);
	const struct quota_issue *i;

	(void)state;
	/* Never silently fixed: no volume, no repair (not even a limit) for any of them. */
	assert_int_equal(c->n_volumes, 0);
	assert_int_equal(c->n_repairs, 0);
	assert_int_equal(c->n_issues, 7);
	i = issue_of(c, "a");
	assert_int_equal(i->level, QUOTA_ISSUE_ERROR);
	assert_string_equal(i->message, "project id 1000 is also used by b; both left alone for a "
					"person to resolve");
	assert_string_equal(issue_of(c, "b")->message,
			    "project id 1000 is also used by a; both left "
			    "alone for a person to resolve");
	/* A volume sharing with a foreign directory is just as wrong. */
	assert_string_equal(issue_of(c, "c")->message, "project id 1001 is also used by foreign; "
						       "both left alone for a person to resolve");
	assert_int_equal(issue_of(c, "foreign")->level, QUOTA_ISSUE_ERROR);
	assert_string_equal(issue_of(c, "y")->message, "project id 2000 is also used by x and "
						       "others; both left alone for a person to "
						       "resolve");
	/* The names are taken but not usable. */
	assert_non_null(quota_catalog_conflict(c, "a"));
	assert_non_null(quota_catalog_conflict(c, "z"));
	assert_null(quota_catalog_find(c, "a"));
	assert_int_equal(quota_catalog_pool_ids(c, "/p")->n, 3);
	quota_catalog_free(c);
}

static void test_catalog_damaged(void **state)
{
	static const struct {
		struct quota_meta m;
		const char *msg;
	} t[] = {
		{{"abc", NULL, NULL, NULL},
		 "damaged record (size_bytes \"abc\" is not a positive integer); left alone"},
		{{"0", NULL, NULL, NULL},
		 "damaged record (size_bytes \"0\" is not a positive integer); left alone"},
		{{"-5", NULL, NULL, NULL},
		 "damaged record (size_bytes \"-5\" is not a positive integer); left alone"},
		{{"01", NULL, NULL, NULL},
		 "damaged record (size_bytes \"01\" is not a positive integer); left alone"},
		{{" 1", NULL, NULL, NULL},
		 "damaged record (size_bytes \" 1\" is not a positive integer); left alone"},
		{{"", NULL, NULL, NULL},
		 "damaged record (size_bytes \"\" is not a positive integer); left alone"},
		{{"9223372036854775808", NULL, NULL, NULL},
		 "damaged record (size_bytes \"9223372036854775808\" is not a positive integer); "
		 "left alone"},
		{{"99999999999999999999999", NULL, NULL, NULL},
		 "damaged record (size_bytes \"99999999999999999999999\" is not a positive "
		 "integer); left alone"},
		{{"1", "-1", NULL, NULL},
		 "damaged record (inodes \"-1\" is not an integer); left alone"},
		{{"1", NULL, "yesterday", NULL},
		 "damaged record (created \"yesterday\" is not a time in seconds); left alone"},
		{{"1", NULL, "1", "not json"},
		 "damaged record (labels are not JSON: ...); left alone"},
		{{"1", NULL, "1", "[]"},
		 "damaged record (labels: must be an object of strings); left alone"},
		{{"1", NULL, "1", "{\"a\":\"x\",\"a\":\"y\"}"},
		 "damaged record (labels are not JSON: duplicate object key...); left alone"},
		{{"1", NULL, "1", "{\"Bad Key\":\"v\"}"},
		 "damaged record (labels: key \"Bad Key\": name has an invalid character byte 0x20 "
		 "at position 4 (allowed: A-Z a-z 0-9 - _ .)); left alone"},
	};

	(void)state;
	for (size_t k = 0; k < N_OF(t); k++) {
		struct quota_dirent root[] = {vdir("v", 1000)};
		struct quota_scan_pool p = {
			.name = "/p", .root = root, .meta = &t[k].m, .n_root = 1};
		struct quota_catalog *c = rebuild(&p, 1, NULL);
		const char *msg = t[k].msg, *dots = strstr(msg, "...");

		assert_int_equal(c->n_volumes, 0);
		assert_int_equal(c->n_repairs, 0);
		assert_int_equal(c->n_issues, 1);
		assert_int_equal(c->issues[0].level, QUOTA_ISSUE_ERROR);
		if (dots) {
			/* jansson's own wording in the middle: compare both ends. */
			assert_true(strncmp(c->issues[0].message, msg, (size_t)(dots - msg)) == 0);
			assert_non_null(strstr(c->issues[0].message, dots + 3));
		} else {
			check_err(c->issues[0].message, msg);
		}
		assert_int_equal(c->ids[0].n, 1);
		assert_non_null(quota_catalog_conflict(c, "v"));
		quota_catalog_free(c);
	}
}

static void test_catalog_leftovers(void **state)
{
	struct quota_dirent root[] = {vdir("live", 1000)};
	struct quota_meta meta[] = {meta_1g};
	struct quota_scan_limit lim[] = {{1000, GiB, 0}, {1001, GiB, 0}, {1002, 5, 0}};
	struct quota_dirent staging[] = {
		vdir("new-1.tmp", 1001), /* crash after the id was set */
		vdir("new-2.tmp", 0),	 /* crash before it */
		vdir("odd.tmp", 1000),	 /* shares the live volume's id */
		vdir("twice.tmp", 1003), /* also in trash */
		vdir("..", 1004),	 /* never a path to remove */
		vdir(".", 1005),	 vdir("", 1006), vdir("a/b", 1007),
	};
	struct quota_dirent trash[] = {vdir("gone", 1002), vdir("twice", 1003),
				       de("file", 9, false, false)};
	struct quota_scan_pool p = {.name = "/p",
				    .root = root,
				    .meta = meta,
				    .n_root = 1,
				    .staging = staging,
				    .n_staging = N_OF(staging),
				    .trash = trash,
				    .n_trash = N_OF(trash),
				    .limits = lim,
				    .n_limits = N_OF(lim)};
	struct quota_catalog *c = rebuild(&p, 1, NULL);
	static const struct {
		enum quota_repair_kind kind;
		const char *rel;
		uint32_t projid;
		bool clear;
	} want[] = {
		{QUOTA_REPAIR_REMOVE_STAGING, ".pmemd/staging/new-1.tmp", 1001, true},
		{QUOTA_REPAIR_REMOVE_STAGING, ".pmemd/staging/new-2.tmp", 0, false},
		{QUOTA_REPAIR_REMOVE_STAGING, ".pmemd/staging/odd.tmp", 1000, false},
		{QUOTA_REPAIR_REMOVE_STAGING, ".pmemd/staging/twice.tmp", 1003, false},
		{QUOTA_REPAIR_REMOVE_TRASH, ".pmemd/trash/file", 9, false},
		{QUOTA_REPAIR_REMOVE_TRASH, ".pmemd/trash/gone", 1002, true},
		{QUOTA_REPAIR_REMOVE_TRASH, ".pmemd/trash/twice", 1003, true},
	};
	const struct quota_pool_ids *ids;
	static const uint32_t want_ids[] = {1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007};

	(void)state;
	assert_int_equal(c->n_volumes, 1);
	assert_int_equal(c->n_repairs, N_OF(want));
	for (size_t i = 0; i < N_OF(want); i++) {
		assert_int_equal(c->repairs[i].kind, want[i].kind);
		assert_string_equal(c->repairs[i].rel, want[i].rel);
		assert_int_equal(c->repairs[i].projid, want[i].projid);
		assert_int_equal(c->repairs[i].clear_limit, want[i].clear);
		assert_string_equal(c->repairs[i].pool, "/p");
	}
	assert_string_equal(c->repairs[0].reason, "a create was interrupted: undo it");
	assert_string_equal(c->repairs[5].reason, "a delete was interrupted: finish it");
	/* Unsafe names: errors, no repair; the shared id: a warning. */
	assert_int_equal(c->n_issues, 5);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(c->issues[i].where, QUOTA_IN_STAGING);
		assert_int_equal(c->issues[i].level, QUOTA_ISSUE_ERROR);
		assert_string_equal(c->issues[i].message,
				    "staging entry with an unsafe name; left alone");
	}
	assert_string_equal(c->issues[4].name, "odd.tmp");
	assert_int_equal(c->issues[4].level, QUOTA_ISSUE_WARNING);
	assert_string_equal(
		c->issues[4].message,
		"staging entry shares project id 1000 with live; removed, its limit kept");
	/* Staging and trash ids count as in use until repaired. */
	ids = quota_catalog_pool_ids(c, "/p");
	assert_int_equal(ids->n, N_OF(want_ids));
	assert_memory_equal(ids->ids, want_ids, sizeof(want_ids));
	/* An unsafe name is not a conflict for a volume name. */
	assert_null(quota_catalog_conflict(c, ".."));
	quota_catalog_free(c);
}

static void test_catalog_pools(void **state)
{
	struct quota_dirent r0[] = {vdir("same", 1000), vdir("b", 1001)};
	struct quota_dirent r1[] = {vdir("a", 1000), vdir("same", 1005)};
	struct quota_meta meta[] = {meta_1g, meta_1g};
	struct quota_dirent st[] = {vdir("s", 1009)};
	struct quota_scan_pool p[] = {
		{.name = "/p1",
		 .root = r0,
		 .meta = meta,
		 .n_root = 2,
		 .staging = st,
		 .n_staging = 1},
		{.name = "/p0",
		 .root = r1,
		 .meta = meta,
		 .n_root = 2,
		 .staging = st,
		 .n_staging = 1},
	};
	struct quota_catalog *c = rebuild(p, 2, NULL);

	(void)state;
	/* One name in two pools: both errors; the same id in two pools is fine. */
	assert_int_equal(c->n_volumes, 2);
	assert_string_equal(c->volumes[0].name, "a");
	assert_string_equal(c->volumes[0].pool, "/p0");
	assert_string_equal(c->volumes[1].name, "b");
	assert_string_equal(c->volumes[1].pool, "/p1");
	assert_int_equal(c->n_issues, 2);
	assert_string_equal(c->issues[0].pool, "/p1"); /* scan order */
	assert_string_equal(c->issues[0].message, "a volume of the same name is in pool /p0; both "
						  "left alone for a person to resolve");
	assert_string_equal(c->issues[1].pool, "/p0");
	assert_string_equal(c->issues[1].message, "a volume of the same name is in pool /p1; both "
						  "left alone for a person to resolve");
	assert_non_null(quota_catalog_conflict(c, "same"));
	/* Repairs: by kind, then pool in scan order; only volumes get limit repairs. */
	assert_int_equal(c->n_repairs, 4);
	assert_int_equal(c->repairs[0].kind, QUOTA_REPAIR_REMOVE_STAGING);
	assert_string_equal(c->repairs[0].pool, "/p1");
	assert_string_equal(c->repairs[1].pool, "/p0");
	assert_int_equal(c->repairs[2].kind, QUOTA_REPAIR_SET_LIMIT);
	assert_string_equal(c->repairs[2].pool, "/p1");
	assert_string_equal(c->repairs[2].rel, "b");
	assert_string_equal(c->repairs[3].pool, "/p0");
	assert_string_equal(c->repairs[3].rel, "a");
	assert_int_equal(c->n_ids, 2);
	assert_string_equal(c->ids[0].pool, "/p1");
	assert_int_equal(c->ids[0].n, 3);
	assert_int_equal(c->ids[1].n, 3);
	quota_catalog_free(c);
}

/* Everything in a catalog as text, to compare two. */
static char *dump(const struct quota_catalog *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	for (size_t i = 0; i < c->n_volumes; i++) {
		const struct quota_volume *v = &c->volumes[i];

		fprintf(f, "V %s %s %u %" PRIu64 " %" PRIu64 " %" PRId64, v->name, v->pool,
			v->projid, v->size_bytes, v->inodes, v->created);
		for (size_t k = 0; k < v->labels.n; k++)
			fprintf(f, " %s=%s", v->labels.v[k].key, v->labels.v[k].value);
		fprintf(f, "\n");
	}
	for (size_t i = 0; i < c->n_repairs; i++) {
		const struct quota_repair *r = &c->repairs[i];

		fprintf(f, "R %d %s %s %u %d %" PRIu64 " %" PRIu64 " %s\n", r->kind, r->pool,
			r->rel, r->projid, r->clear_limit, r->bytes_limit, r->inodes_limit,
			r->reason);
	}
	for (size_t i = 0; i < c->n_issues; i++) {
		const struct quota_issue *s = &c->issues[i];

		fprintf(f, "I %d %d %s %s %u %s\n", s->level, s->where, s->pool, s->name, s->projid,
			s->message);
	}
	for (size_t i = 0; i < c->n_ids; i++) {
		fprintf(f, "D %s", c->ids[i].pool);
		for (size_t k = 0; k < c->ids[i].n; k++)
			fprintf(f, " %u", c->ids[i].ids[k]);
		fprintf(f, "\n");
	}
	fclose(f);
	return buf;
}

#define REVERSE(a, n)                                     \
	do {                                              \
		for (size_t i_ = 0; i_ < (n) / 2; i_++) { \
			__typeof__((a)[0]) t_ = (a)[i_];  \
			(a)[i_] = (a)[(n)-1 - i_];        \
			(a)[(n)-1 - i_] = t_;             \
		}                                         \
	} while (0)

/* Same scan in another order, same catalog, byte for byte. */
static void test_catalog_deterministic(void **state)
{
	struct quota_dirent root[] = {vdir("m", 1000),
				      vdir("d1", 1001),
				      vdir("d2", 1001),
				      vdir("k", 1002),
				      de("f", 0, false, false),
				      vdir("z", 1003),
				      de("ni", 1004, false, true)};
	struct quota_meta meta[] = {
		meta_1g,   meta_1g, meta_1g, {"1", "7", "2", "{\"b\":\"2\",\"a\":\"1\"}"},
		meta_none, meta_1g, meta_1g};
	struct quota_dirent st[] = {vdir("x", 1010), vdir("y", 1010), vdir("w", 0)};
	struct quota_dirent tr[] = {vdir("q", 1010), vdir("p", 1011)};
	struct quota_scan_limit lim[] = {{1000, GiB, 0}, {1002, 1, 0}, {1003, 2, 0}};
	struct quota_scan_pool p = {.name = "/p",
				    .root = root,
				    .meta = meta,
				    .n_root = N_OF(root),
				    .staging = st,
				    .n_staging = N_OF(st),
				    .trash = tr,
				    .n_trash = N_OF(tr),
				    .limits = lim,
				    .n_limits = N_OF(lim)};
	struct quota_catalog *c1, *c2;
	char *d1, *d2;

	(void)state;
	c1 = rebuild(&p, 1, NULL);
	d1 = dump(c1);
	REVERSE(root, N_OF(root));
	REVERSE(meta, N_OF(meta));
	REVERSE(st, N_OF(st));
	REVERSE(tr, N_OF(tr));
	REVERSE(lim, N_OF(lim));
	c2 = rebuild(&p, 1, NULL);
	d2 = dump(c2);
	assert_string_equal(d1, d2);
	/* The id shared by three leftovers is cleared once, by the last removal. */
	assert_non_null(strstr(d1, "R 0 /p .pmemd/staging/x 1010 0"));
	assert_non_null(strstr(d1, "R 0 /p .pmemd/staging/y 1010 0"));
	assert_non_null(strstr(d1, "R 1 /p .pmemd/trash/q 1010 1"));
	assert_non_null(strstr(d1, "V k /p 1002 1 7 2 a=1 b=2\n"));
	free(d1);
	free(d2);
	quota_catalog_free(c1);
	quota_catalog_free(c2);
}

/* What quota_meta_encode writes, the rebuild reads back as the same volume. */
static void test_catalog_round_trip(void **state)
{
	struct quota_label lv[] = {{(char *)"app.kubernetes.io/name", (char *)"db"},
				   {(char *)"tier", (char *)""}};
	struct quota_labels labels = {lv, 2};
	struct quota_meta_text t;
	struct quota_dirent root[] = {vdir("pvc-0123", 4242)};
	struct quota_meta meta;
	struct quota_scan_limit lim = {4242, 5 * GiB, 10000};
	struct quota_scan_pool p = {.name = "/p",
				    .root = root,
				    .meta = &meta,
				    .n_root = 1,
				    .limits = &lim,
				    .n_limits = 1};
	struct quota_catalog *c;
	const struct quota_volume *v;
	char err[200];

	(void)state;
	assert_int_equal(
		quota_meta_encode(5 * GiB, 10000, 1712345678, &labels, &t, err, sizeof(err)), 0);
	meta = (struct quota_meta){t.size_bytes, t.inodes, t.created, t.labels};
	c = rebuild(&p, 1, NULL);
	assert_int_equal(c->n_issues, 0);
	assert_int_equal(c->n_repairs, 0);
	v = quota_catalog_find(c, "pvc-0123");
	assert_non_null(v);
	assert_true(v->size_bytes == 5 * GiB && v->inodes == 10000 && v->created == 1712345678);
	assert_int_equal(v->labels.n, 2);
	assert_string_equal(quota_labels_get(&v->labels, "app.kubernetes.io/name"), "db");
	assert_string_equal(quota_labels_get(&v->labels, "tier"), "");
	quota_catalog_free(c);
}

static void test_catalog_bad_scan(void **state)
{
	struct quota_scan_pool p[2] = {{.name = "/p"}, {.name = "/p"}};
	struct quota_scan scan = {p, 2};
	struct quota_catalog *c = NULL;
	char err[200];

	(void)state;
	assert_int_equal(quota_catalog_rebuild(&scan, NULL, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "scan: pool /p appears twice");
	p[1].name = NULL;
	assert_int_equal(quota_catalog_rebuild(&scan, NULL, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "scan: pool 1 has no name");
	p[1].name = "/q";
	p[1].n_root = 3;
	assert_int_equal(quota_catalog_rebuild(&scan, NULL, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "scan: pool /q: entries missing");
	assert_null(c);
	scan.n_pools = 0;
	assert_int_equal(quota_catalog_rebuild(&scan, NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c->n_volumes + c->n_repairs + c->n_issues + c->n_ids, 0);
	quota_catalog_free(c);
}

/* 10,000 volumes: rebuilt, looked up, and the allocator built from the ids continues after them. */
static void test_catalog_large(void **state)
{
	enum { N = 10000 };
	struct quota_dirent *root = calloc(N, sizeof(*root));
	struct quota_meta *meta = calloc(N, sizeof(*meta));
	struct quota_scan_limit *lim = calloc(N, sizeof(*lim));
	struct quota_scan_pool p = {.name = "/p",
				    .root = root,
				    .meta = meta,
				    .n_root = N,
				    .limits = lim,
				    .n_limits = N};
	const struct quota_pool_ids *pids;
	struct quota_catalog *c;
	struct quota_ids *ids;
	uint32_t id;

	(void)state;
	assert_true(root && meta && lim);
	for (size_t i = 0; i < N; i++) {
		/* Scan order is the filesystem's: not sorted. */
		uint32_t k = (uint32_t)((i * 7919) % N);

		snprintf(root[i].name, sizeof(root[i].name), "vol-%05u", k);
		root[i].projid = QUOTA_PROJID_MIN + k;
		root[i].inherit = root[i].is_dir = true;
		meta[i] = (struct quota_meta){"4096", "0", "1", "{}"};
		lim[i] = (struct quota_scan_limit){QUOTA_PROJID_MIN + k, 4096, 0};
	}
	c = rebuild(&p, 1, NULL);
	assert_int_equal(c->n_volumes, N);
	assert_int_equal(c->n_repairs, 0);
	assert_int_equal(c->n_issues, 0);
	assert_string_equal(c->volumes[0].name, "vol-00000");
	assert_string_equal(c->volumes[N - 1].name, "vol-09999");
	assert_int_equal(quota_catalog_find(c, "vol-04321")->projid, QUOTA_PROJID_MIN + 4321);
	pids = quota_catalog_pool_ids(c, "/p");
	assert_int_equal(pids->n, N);
	assert_int_equal(
		quota_ids_new(QUOTA_PROJID_MIN, QUOTA_PROJID_MAX, pids->ids, pids->n, &ids), 0);
	assert_int_equal(quota_ids_alloc(ids, &id), 0);
	assert_int_equal(id, QUOTA_PROJID_MIN + N);
	quota_ids_free(ids);
	quota_catalog_free(c);
	free(root);
	free(meta);
	free(lim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_invalid),
		cmocka_unit_test(test_label_valid),
		cmocka_unit_test(test_label_invalid),
		cmocka_unit_test(test_create_good),
		cmocka_unit_test(test_create_bad_fields),
		cmocka_unit_test(test_create_bad_sizes),
		cmocka_unit_test(test_create_hostile),
		cmocka_unit_test(test_create_labels_limits),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_publish_good),
		cmocka_unit_test(test_publish_bad),
		cmocka_unit_test(test_create_match),
		cmocka_unit_test(test_meta_encode),
		cmocka_unit_test(test_ids_basic),
		cmocka_unit_test(test_ids_exhaustion),
		cmocka_unit_test(test_ids_model),
		cmocka_unit_test(test_ids_large),
		cmocka_unit_test(test_ids_concurrent),
		cmocka_unit_test(test_ratio),
		cmocka_unit_test(test_ledger_basic),
		cmocka_unit_test(test_ledger_ratio_and_overflow),
		cmocka_unit_test(test_ledger_refresh_and_charge),
		cmocka_unit_test(test_ledger_adjust),
		cmocka_unit_test(test_ledger_reservation_cap),
		cmocka_unit_test(test_ledger_concurrent),
		cmocka_unit_test(test_catalog_volume),
		cmocka_unit_test(test_catalog_limits),
		cmocka_unit_test(test_catalog_foreign),
		cmocka_unit_test(test_catalog_duplicate_ids),
		cmocka_unit_test(test_catalog_damaged),
		cmocka_unit_test(test_catalog_leftovers),
		cmocka_unit_test(test_catalog_pools),
		cmocka_unit_test(test_catalog_deterministic),
		cmocka_unit_test(test_catalog_round_trip),
		cmocka_unit_test(test_catalog_bad_scan),
		cmocka_unit_test(test_catalog_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
