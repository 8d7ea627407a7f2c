/* test-extender: kube-scheduler's recorded ExtenderArgs through the parser, the answer
 * writers and the pod -> PMEM request extraction; malformed bodies never crash. */
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

#include "sched/sched-extender.h"
#include "sched/sched-pod.h"

#define SCHED_FIX "test/fixtures/kube-scheduler-v1.20/"
#define API_FIX	  "test/fixtures/kube-apiserver-v1.20/"
#define N_OF(a)	  (sizeof(a) / sizeof((a)[0]))
#define GiB	  (1ULL << 30)

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static json_t *load_json(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j)
		fprintf(stderr, "%s: %s\n", path, je.text);
	assert_non_null(j);
	return j;
}

/* Go's encoding/json treats a null pointer field and an absent one alike: drop nulls. */
static void drop_nulls(json_t *j)
{
	const char *k;
	json_t *v;
	void *tmp;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach_safe(j, tmp, k, v)
		{
			if (json_is_null(v))
				json_object_del(j, k);
			else
				drop_nulls(v);
		}
	} else if (json_is_array(j)) {
		json_array_foreach (j, i, v)
			drop_nulls(v);
	}
}

static void assert_json_same(json_t *got, json_t *want)
{
	drop_nulls(got);
	drop_nulls(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(stderr, "got  %.2000s\nwant %.2000s\n", g, w);
		free(g);
		free(w);
		fail();
	}
}

static json_t *buf_json(const struct sched_ext_buf *b)
{
	json_error_t je;
	json_t *j = json_loadb(b->data, b->len, 0, &je);
	if (!j)
		fprintf(stderr, "written answer is not JSON: %s\n%.500s\n", je.text, b->data);
	assert_non_null(j);
	return j;
}

static struct sched_ext_args *parse_ok(const char *body, size_t len)
{
	struct sched_ext_args *a = NULL;
	char err[SCHED_EXT_ERR_MAX] = "";
	int r = sched_ext_args_parse(NULL, body, len, &a, err, sizeof(err));
	if (r)
		fprintf(stderr, "parse: %d %s\n", r, err);
	assert_int_equal(r, 0);
	assert_non_null(a);
	assert_non_null(a->pod);
	return a;
}

static void set_results(struct sched_result *res, size_t n, const bool *pass, const int *score)
{
	memset(res, 0, n * sizeof(*res));
	for (size_t i = 0; i < n; i++) {
		res[i].feasible = pass[i];
		res[i].score = pass[i] ? score[i] : 0;
		snprintf(res[i].reason, sizeof(res[i].reason),
			 pass[i] ? "numa0: fits" : "numa1: need 64Gi, free 10Gi");
	}
}

/* ---- the recorded requests ----------------------------------------------------------- */

static void test_fixture_node_names(void **state)
{
	(void)state;
	static const char *const files[] = {SCHED_FIX "filter-args-pmem-pvc-inline.json",
					    SCHED_FIX "prioritize-args-pmem-pvc-inline.json"};
	for (size_t f = 0; f < N_OF(files); f++) {
		size_t len;
		char *body = slurp(files[f], &len);
		struct sched_ext_args *a = parse_ok(body, len);
		assert_int_equal(a->form, SCHED_EXT_NODE_NAMES);
		assert_int_equal(a->n_nodes, 2);
		assert_null(a->items);
		assert_string_equal(a->names[0], "acc-node-3");
		assert_string_equal(a->names[1], "acc-node-1");
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(a->pod, "metadata"), "name")),
				    "redis-1");

		/* Both pass: the recorded answer, in content. */
		struct sched_result res[2];
		set_results(res, 2, (const bool[]){true, true}, (const int[]){100, 50});
		struct sched_ext_buf b = {0};
		assert_int_equal(sched_ext_write_filter(&b, a, body, res, NULL), 0);
		json_t *got = buf_json(&b);
		json_t *want = load_json(SCHED_FIX "filter-response-example.json");
		assert_json_same(got, want);
		json_decref(got);
		json_decref(want);

		sched_ext_buf_reset(&b);
		assert_int_equal(sched_ext_write_priorities(&b, a, res), 0);
		got = buf_json(&b);
		want = load_json(SCHED_FIX "prioritize-response-example.json");
		assert_json_same(got, want);
		json_decref(got);
		json_decref(want);

		/* One fails: it moves to FailedNodes with its reason. */
		set_results(res, 2, (const bool[]){false, true}, (const int[]){0, 70});
		sched_ext_buf_reset(&b);
		assert_int_equal(sched_ext_write_filter(&b, a, body, res, NULL), 0);
		got = buf_json(&b);
		want = json_pack("{s:[s],s:{s:s},s:s}", "NodeNames", "acc-node-1", "FailedNodes",
				 "acc-node-3", "numa1: need 64Gi, free 10Gi", "Error", "");
		assert_json_same(got, want);
		json_decref(got);
		json_decref(want);

		/* fail_all: a missing PVC fails the pod everywhere. */
		sched_ext_buf_reset(&b);
		assert_int_equal(
			sched_ext_write_filter(&b, a, body, NULL, "pvc default/x not found"), 0);
		got = buf_json(&b);
		want = json_pack("{s:[],s:{s:s,s:s},s:s}", "NodeNames", "FailedNodes", "acc-node-3",
				 "pvc default/x not found", "acc-node-1", "pvc default/x not found",
				 "Error", "");
		assert_json_same(got, want);
		json_decref(got);
		json_decref(want);

		/* No results for prioritize: neutral. */
		sched_ext_buf_reset(&b);
		assert_int_equal(sched_ext_write_priorities(&b, a, NULL), 0);
		assert_string_equal(b.data, "[{\"Host\":\"acc-node-3\",\"Score\":5},"
					    "{\"Host\":\"acc-node-1\",\"Score\":5}]");

		sched_ext_buf_free(&b);
		sched_ext_args_free(a);
		free(body);
	}
}

static void test_fixture_nodes_form(void **state)
{
	(void)state;
	size_t len;
	char *body = slurp(SCHED_FIX "filter-args-nodeCacheCapable-false.json", &len);
	struct sched_ext_args *a = parse_ok(body, len);
	json_t *req = load_json(SCHED_FIX "filter-args-nodeCacheCapable-false.json");
	json_t *items = json_object_get(json_object_get(req, "Nodes"), "items");

	assert_int_equal(a->form, SCHED_EXT_NODES);
	assert_int_equal(a->n_nodes, 3);
	assert_non_null(a->items);
	for (size_t i = 0; i < 3; i++) {
		char want[16];
		snprintf(want, sizeof(want), "acc-node-%zu", i + 1);
		assert_string_equal(a->names[i], want);
		/* the span is exactly the item */
		json_t *item = json_loadb(body + a->items[i].off, a->items[i].len, 0, NULL);
		assert_non_null(item);
		assert_true(json_equal(item, json_array_get(items, i)));
		json_decref(item);
	}
	assert_true(a->list_metadata.len > 0);

	struct sched_result res[3];
	set_results(res, 3, (const bool[]){true, true, true}, (const int[]){10, 20, 30});
	struct sched_ext_buf b = {0};
	assert_int_equal(sched_ext_write_filter(&b, a, body, res, NULL), 0);
	json_t *got = buf_json(&b);
	json_t *want = load_json(SCHED_FIX "filter-response-nodeCacheCapable-false.json");
	assert_json_same(got, want);
	json_decref(got);
	json_decref(want);

	/* acc-node-2 fails: the other two items are echoed, byte for byte. */
	set_results(res, 3, (const bool[]){true, false, true}, (const int[]){10, 0, 30});
	sched_ext_buf_reset(&b);
	assert_int_equal(sched_ext_write_filter(&b, a, body, res, NULL), 0);
	got = buf_json(&b);
	json_t *gi = json_object_get(json_object_get(got, "Nodes"), "items");
	assert_int_equal(json_array_size(gi), 2);
	assert_true(json_equal(json_array_get(gi, 0), json_array_get(items, 0)));
	assert_true(json_equal(json_array_get(gi, 1), json_array_get(items, 2)));
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "FailedNodes"),
							      "acc-node-2")),
			    "numa1: need 64Gi, free 10Gi");
	assert_true(json_is_null(json_object_get(got, "NodeNames")));
	json_decref(got);

	sched_ext_buf_free(&b);
	json_decref(req);
	sched_ext_args_free(a);
	free(body);
}

static void test_fixture_no_pmem(void **state)
{
	(void)state;
	static const char *const files[] = {SCHED_FIX "filter-args-no-pmem.json",
					    SCHED_FIX "prioritize-args-no-pmem.json"};
	for (size_t f = 0; f < N_OF(files); f++) {
		size_t len;
		char *body = slurp(files[f], &len);
		struct sched_ext_args *a = parse_ok(body, len);
		struct sched_pod_request *pr = NULL;
		char err[256] = "";
		assert_int_equal(sched_pod_request_build(a->pod, NULL, &pr, err, sizeof(err)), 0);
		assert_true(sched_pod_request_empty(pr));
		assert_int_equal(pr->req.n_volumes, 0);
		assert_int_equal(pr->req.cpus, 0);
		sched_pod_request_free(pr);
		sched_ext_args_free(a);
		free(body);
	}
}

/* Go's encoding/json reads keys case-insensitively; so does the parser. */
static void test_key_case(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"{\"pod\":{\"metadata\":{\"name\":\"p\"}},\"nodenames\":[\"a\",\"b\"]}",
		"{\"POD\":{},\"nodeNames\":[\"a\",\"b\"],\"nodes\":null}",
		" \n{\"Pod\":{},\"Nodes\":null,\"NodeNames\":[\"a\",\"b\"],\"Extra\":{\"x\":[1,2.5,"
		"true,false,null,\"s\"]}}\n ",
	};
	for (size_t i = 0; i < N_OF(bodies); i++) {
		struct sched_ext_args *a = parse_ok(bodies[i], strlen(bodies[i]));
		assert_int_equal(a->form, SCHED_EXT_NODE_NAMES);
		assert_int_equal(a->n_nodes, 2);
		assert_string_equal(a->names[1], "b");
		sched_ext_args_free(a);
	}
	/* an empty NodeNames list is a valid request with nothing to answer */
	const char *empty = "{\"Pod\":{},\"NodeNames\":[]}";
	struct sched_ext_args *a = parse_ok(empty, strlen(empty));
	assert_int_equal(a->n_nodes, 0);
	struct sched_ext_buf b = {0};
	assert_int_equal(sched_ext_write_filter(&b, a, empty, NULL, NULL), 0);
	assert_string_equal(b.data,
			    "{\"Nodes\":null,\"NodeNames\":[],\"FailedNodes\":{},\"Error\":\"\"}");
	sched_ext_buf_free(&b);
	sched_ext_args_free(a);
}

/* ---- malformed bodies ---------------------------------------------------------------- */

struct bad {
	const char *body;
	const char *msg; /* a substring the message must hold */
};

static void expect_bad(struct sched_ext_parser *p, const char *body, size_t len, const char *msg)
{
	struct sched_ext_args *a = (struct sched_ext_args *)0x1;
	char err[SCHED_EXT_ERR_MAX] = "";
	int r = sched_ext_args_parse(p, body, len, &a, err, sizeof(err));
	if (r != -EBADMSG || (msg && !strstr(err, msg)))
		fprintf(stderr, "body %.80s: r=%d err=\"%s\" want \"%s\"\n", body, r, err,
			msg ? msg : "");
	assert_int_equal(r, -EBADMSG);
	assert_true(a == (struct sched_ext_args *)0x1); /* untouched */
	assert_true(err[0] != '\0');
	if (msg)
		assert_non_null(strstr(err, msg));
}

static void test_malformed(void **state)
{
	(void)state;
	static const struct bad bad[] = {
		{"", "offset 0"},
		{"   ", "offset"},
		{"[]", "not a JSON object"},
		{"null", "not a JSON object"},
		{"\"Pod\"", "not a JSON object"},
		{"{}", "Pod: missing"},
		{"{\"Pod\":{}}", "neither Nodes nor NodeNames"},
		{"{\"Pod\":{},\"Nodes\":null,\"NodeNames\":null}", "neither"},
		{"{\"Pod\":{},\"NodeNames\":[],\"Nodes\":{\"items\":[]}}", "both"},
		{"{\"Pod\":[],\"NodeNames\":[]}", "Pod: not an object"},
		{"{\"Pod\":null,\"NodeNames\":[]}", "Pod: not an object"},
		{"{\"Pod\":{},\"Pod\":{},\"NodeNames\":[]}", "Pod: given twice"},
		{"{\"Pod\":{},\"NodeNames\":{}}", "NodeNames: not an array"},
		{"{\"Pod\":{},\"NodeNames\":\"a\"}", "NodeNames: not an array"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\",\"b\",\"c\",1]}", "NodeNames[3]: not a string"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\",null]}", "NodeNames[1]: not a string"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\",[\"b\"]]}", "NodeNames[1]: not a string"},
		{"{\"Pod\":{},\"NodeNames\":[\"\"]}", "NodeNames[0]: empty"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\\u0000b\"]}",
		 "NodeNames[0]: node name contains NUL"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\\x\"]}", "NodeNames[0]"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\" \"b\"]}", "offset"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\",]}", "offset"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\"]} x", "trailing"},
		{"{\"Pod\":{},\"NodeNames\":[\"a\"]}{}", "trailing"},
		{"{\"Pod\":{\"a\":tru},\"NodeNames\":[]}", NULL},
		{"{\"Pod\":{\"a\":\"\\u0000\"},\"NodeNames\":[]}", "Pod"},
		{"{\"Pod\":{},\"NodeNames\":[],\"x\":nul}", "offset"},
		{"{\"Pod\":{},\"NodeNames\":[],\"x\":[1,2,}", "offset"},
		{"{\"Pod\":{},\"NodeNames\":[],\"x\":01}", "offset"},
		{"{\"Pod\":{},\"NodeNames\":[],\"x\":\"\xff\xfe\"}", "offset"},
		{"{\"Pod\":{},\"Nodes\":[]}", "Nodes: not an object"},
		{"{\"Pod\":{},\"Nodes\":{\"items\":{}}}", "Nodes.items: not an array"},
		{"{\"Pod\":{},\"Nodes\":{\"items\":[1]}}", "Nodes.items[0]: not an object"},
		{"{\"Pod\":{},\"Nodes\":{\"items\":[{}]}}",
		 "Nodes.items[0].metadata.name: missing"},
		{"{\"Pod\":{},\"Nodes\":{\"items\":[{\"metadata\":{\"name\":7}}]}}",
		 "Nodes.items[0].metadata.name: not a string"},
		{"{\"Pod\":{},\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"a\"},\"spec\":{\"x\":"
		 "tru}}]}}",
		 "Nodes.items[0]"},
		{"{\"Pod\":{},\"Nodes\":{\"metadata\":{\"x\":nul},\"items\":[]}}", NULL},
		{"{\"Pod\":{},\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"a\"}}]}", "offset"},
	};
	struct sched_ext_parser *p = sched_ext_parser_new();
	assert_non_null(p);
	for (size_t i = 0; i < N_OF(bad); i++)
		expect_bad(i % 2 ? p : NULL, bad[i].body, strlen(bad[i].body), bad[i].msg);

	/* A NUL byte in the body itself. */
	static const char nul[] = "{\"Pod\":{},\"NodeNames\":[\"a\0b\"]}";
	expect_bad(p, nul, sizeof(nul) - 1, NULL);

	/* Every proper prefix of a recorded body (truncated uploads) is refused. */
	static const char *const files[] = {SCHED_FIX "filter-args-pmem-pvc-inline.json",
					    SCHED_FIX "filter-args-nodeCacheCapable-false.json"};
	for (size_t f = 0; f < N_OF(files); f++) {
		size_t len;
		char *body = slurp(files[f], &len);
		while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ' '))
			len--;
		size_t step = len > 4000 ? 7 : 1;
		for (size_t n = 0; n < len; n += step)
			expect_bad(p, body, n, NULL);
		free(body);
	}
	sched_ext_parser_free(p);
}

/* Huge strings, deep nesting, too many names: refused with a message, never a crash. */
static void test_malformed_big(void **state)
{
	(void)state;
	struct sched_ext_buf b = {0};

	/* a 300-byte node name */
	assert_int_equal(sched_ext_buf_put_json_string(&b, "", 0), 0);
	sched_ext_buf_reset(&b);
	char *name = malloc(301);
	memset(name, 'n', 300);
	name[300] = '\0';
	size_t sz = 400;
	char *body = malloc(sz);
	snprintf(body, sz, "{\"Pod\":{},\"NodeNames\":[\"%s\"]}", name);
	expect_bad(NULL, body, strlen(body), "NodeNames[0]: node name longer than 253");
	free(body);
	free(name);

	/* a 4 MB string in an unknown key is fine (the caller caps bodies), in the Pod too */
	size_t big = 4u << 20;
	body = malloc(big + 128);
	int n = snprintf(body, 128, "{\"Pod\":{\"x\":\"");
	memset(body + n, 'a', big);
	snprintf(body + n + big, 128, "\"},\"Huge\":\"x\",\"NodeNames\":[\"a\"]}");
	struct sched_ext_args *a = parse_ok(body, strlen(body));
	assert_int_equal(a->n_nodes, 1);
	sched_ext_args_free(a);
	free(body);

	/* deep nesting: in the Pod (jansson's limit), in an unknown key, in a Node item */
	static const char *const shapes[] = {"{\"Pod\":{\"x\":%s},\"NodeNames\":[]}",
					     "{\"Pod\":{},\"NodeNames\":[],\"X\":%s}",
					     "{\"Pod\":{},\"Nodes\":{\"items\":[{\"metadata\":{"
					     "\"name\":\"a\"},\"spec\":%s}]}}"};
	size_t depth = 100000;
	char *nest = malloc(2 * depth + 1);
	memset(nest, '[', depth);
	memset(nest + depth, ']', depth);
	nest[2 * depth] = '\0';
	for (size_t i = 0; i < N_OF(shapes); i++) {
		size_t l = strlen(shapes[i]) + 2 * depth + 1;
		body = malloc(l);
		snprintf(body, l, shapes[i], nest);
		expect_bad(NULL, body, strlen(body), NULL);
		free(body);
	}
	/* unbalanced deep nesting */
	nest[depth] = '\0';
	body = malloc(depth + 64);
	snprintf(body, depth + 64, "{\"Pod\":{},\"NodeNames\":[],\"X\":%s", nest);
	expect_bad(NULL, body, strlen(body), NULL);
	free(body);
	free(nest);

	/* more names than SCHED_EXT_MAX_NODES */
	size_t count = SCHED_EXT_MAX_NODES + 1;
	body = malloc(count * 4 + 64);
	size_t off = (size_t)sprintf(body, "{\"Pod\":{},\"NodeNames\":[");
	for (size_t i = 0; i < count; i++)
		off += (size_t)sprintf(body + off, "%s\"a\"", i ? "," : "");
	sprintf(body + off, "]}");
	expect_bad(NULL, body, strlen(body), "more than");
	free(body);
	sched_ext_buf_free(&b);
}

/* ---- a 5,000-node body --------------------------------------------------------------- */

static void test_generated_5000(void **state)
{
	(void)state;
	size_t plen;
	char *fix = slurp(SCHED_FIX "filter-args-pmem-pvc-inline.json", &plen);
	json_t *fj = load_json(SCHED_FIX "filter-args-pmem-pvc-inline.json");
	char *pod = json_dumps(json_object_get(fj, "Pod"), JSON_COMPACT);
	size_t cap = strlen(pod) + 5000 * 40 + 64;
	char *body = malloc(cap);
	size_t off = (size_t)snprintf(body, cap, "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[", pod);
	for (int i = 0; i < 5000; i++)
		off += (size_t)snprintf(body + off, cap - off, "%s\"node-%05d.zone-a.example\"",
					i ? "," : "", i);
	off += (size_t)snprintf(body + off, cap - off, "]}");

	struct sched_ext_parser *p = sched_ext_parser_new();
	struct sched_ext_args *a = NULL;
	char err[SCHED_EXT_ERR_MAX];
	for (int round = 0; round < 3; round++) { /* parser reuse */
		assert_int_equal(sched_ext_args_parse(p, body, off, &a, err, sizeof(err)), 0);
		assert_int_equal(a->n_nodes, 5000);
		assert_string_equal(a->names[4999], "node-04999.zone-a.example");
		if (round < 2)
			a = sched_ext_args_free(a);
	}
	struct sched_result *res = calloc(5000, sizeof(*res));
	for (int i = 0; i < 5000; i++) {
		res[i].feasible = i % 3 != 0;
		res[i].score = res[i].feasible ? i % 101 : 0;
		if (!res[i].feasible)
			snprintf(res[i].reason, sizeof(res[i].reason), "numa%d: need 32Gi", i % 2);
	}
	struct sched_ext_buf b = {0};
	assert_int_equal(sched_ext_write_filter(&b, a, body, res, NULL), 0);
	json_t *got = buf_json(&b);
	assert_int_equal(json_array_size(json_object_get(got, "NodeNames")), 3333);
	assert_int_equal(json_object_size(json_object_get(got, "FailedNodes")), 1667);
	json_decref(got);
	sched_ext_buf_reset(&b);
	assert_int_equal(sched_ext_write_priorities(&b, a, res), 0);
	got = buf_json(&b);
	assert_int_equal(json_array_size(got), 5000);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 100), "Score")),
			 sched_ext_score(&res[100]));
	json_decref(got);

	sched_ext_buf_free(&b);
	free(res);
	sched_ext_args_free(a);
	sched_ext_parser_free(p);
	free(body);
	free(pod);
	json_decref(fj);
	free(fix);
}

/*
 * The parser measures each name and says whether it needs escaping (name_info), so the writers
 * copy plain names instead of measuring and scanning them again. The answers must be the bytes
 * the writers give without that (name_info NULL: strlen and the escape scan, as before it
 * existed), for the recorded bodies and for names of every length around the word size with
 * each kind of byte that needs escaping (as JSON escapes and raw UTF-8) at every position.
 */
static void answers_both_ways(const char *body, size_t len, uint64_t seed)
{
	struct sched_ext_args *a = parse_ok(body, len);
	struct sched_ext_buf with = {0}, without = {0};
	struct sched_result *res = calloc(a->n_nodes ? a->n_nodes : 1, sizeof(*res));
	struct sched_ext_name *info = a->name_info;

	assert_non_null(res);
	for (size_t i = 0; i < a->n_nodes; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		res[i].feasible = (seed >> 40) % 3 != 0;
		res[i].score = res[i].feasible ? (int)((seed >> 20) % 101) : 0;
		if (!res[i].feasible && (seed >> 50) % 2)
			snprintf(res[i].reason, sizeof(res[i].reason), "numa%zu: need 32Gi", i % 2);
		if (info)
			assert_int_equal(info[i].len, strlen(a->names[i]));
	}
	for (int way = 0; way < 2; way++) {
		struct sched_ext_buf *b = way ? &without : &with;
		a->name_info = way ? NULL : info;
		assert_int_equal(sched_ext_write_filter(b, a, body, res, NULL), 0);
		assert_int_equal(sched_ext_write_priorities(b, a, res), 0);
		assert_int_equal(sched_ext_write_filter(b, a, body, NULL, "no PVC"), 0);
	}
	a->name_info = info;
	assert_int_equal(with.len, without.len);
	assert_memory_equal(with.data, without.data, with.len);
	sched_ext_buf_free(&with);
	sched_ext_buf_free(&without);
	free(res);
	sched_ext_args_free(a);
}

static void test_name_info_same_answers(void **state)
{
	static const char *const files[] = {
		SCHED_FIX "filter-args-pmem-pvc-inline.json",
		SCHED_FIX "prioritize-args-pmem-pvc-inline.json",
		SCHED_FIX "filter-args-nodeCacheCapable-false.json",
		SCHED_FIX "filter-args-no-pmem.json",
	};
	/* As they appear in the body: JSON escapes, and raw UTF-8 (é). */
	static const char *const odd[] = {"\\\"",     "\\\\",	 "\\n", "\\u0001", "\\u001f", "\\t",
					  "\xc3\xa9", "\\u00e9", "\\/", " ",	   "\x7f"};
	(void)state;
	for (size_t f = 0; f < N_OF(files); f++) {
		size_t len;
		char *body = slurp(files[f], &len);
		answers_both_ways(body, len, f);
		free(body);
	}
	size_t cap = 1 << 20, off = 0;
	char *body = malloc(cap);
	assert_non_null(body);
	off += (size_t)snprintf(body + off, cap - off, "{\"Pod\":{},\"NodeNames\":[\"plain\"");
	for (size_t n = 1; n <= 20; n++)
		for (size_t pos = 0; pos < n; pos++)
			for (size_t k = 0; k < N_OF(odd); k++) {
				off += (size_t)snprintf(body + off, cap - off, ",\"");
				for (size_t i = 0; i < n; i++)
					off += (size_t)snprintf(body + off, cap - off, "%s",
								i == pos ? odd[k] : "n");
				off += (size_t)snprintf(body + off, cap - off, "\"");
				assert_true(off < cap - 64);
			}
	off += (size_t)snprintf(body + off, cap - off, "]}");
	answers_both_ways(body, off, 99);
	free(body);
}

/* ---- writers ------------------------------------------------------------------------- */

static void test_writer_escaping(void **state)
{
	(void)state;
	static const char *const strs[] = {"plain",
					   "q\"uote",
					   "back\\slash",
					   "nl\nand\ttab",
					   "\x01\x1f ctl",
					   "utf8 \xc3\xa9\xe2\x82\xac",
					   ""};
	for (size_t i = 0; i < N_OF(strs); i++) {
		struct sched_ext_buf b = {0};
		assert_int_equal(sched_ext_buf_put_json_string(&b, strs[i], strlen(strs[i])), 0);
		assert_int_equal(strlen(b.data), b.len);
		json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(j), strs[i]);
		json_decref(j);
		sched_ext_buf_free(&b);
	}
	/*
	 * The writer scans eight bytes at a time: a byte that needs escaping must be found at
	 * every position of strings of every length around the word size, and its neighbours
	 * in the ASCII table (' ', '!', '#', '[', ']', DEL) must not be escaped.
	 */
	static const struct {
		char c;
		bool escaped;
	} probes[] = {{'"', true},  {'\\', true}, {'\x01', true}, {'\x1f', true},
		      {'\n', true}, {' ', false}, {'!', false},	  {'#', false},
		      {'[', false}, {']', false}, {'\x7f', false}};
	for (size_t len = 1; len <= 40; len++) {
		for (size_t pos = 0; pos < len; pos++) {
			for (size_t k = 0; k < N_OF(probes); k++) {
				char str[41];
				memset(str, 'a', len);
				str[len] = '\0';
				str[pos] = probes[k].c;
				struct sched_ext_buf w = {0};
				assert_int_equal(sched_ext_buf_put_json_string(&w, str, len), 0);
				if (probes[k].escaped)
					assert_true(w.len > len + 2);
				else
					assert_int_equal(w.len, len + 2);
				json_t *j = json_loadb(w.data, w.len, JSON_DECODE_ANY, NULL);
				assert_non_null(j);
				assert_string_equal(json_string_value(j), str);
				json_decref(j);
				sched_ext_buf_free(&w);
			}
		}
	}
	/*
	 * The priorities writer fills its buffer in place, one reservation per node: names of
	 * every length up to 253 bytes (far past its first estimate of 40 bytes a node, so the
	 * buffer grows mid-answer), some needing escapes, give the same list a DOM would.
	 */
	{
		size_t n = 300, cap = n * 300 + 64, len = 0;
		char *body = malloc(cap);
		assert_non_null(body);
		len += (size_t)snprintf(body + len, cap - len, "{\"Pod\":{},\"NodeNames\":[");
		for (size_t i = 0; i < n; i++) {
			size_t nl = 1 + i * 7 % 253;
			body[len++] = i ? ',' : ' ';
			body[len++] = '"';
			for (size_t c = 0; c < nl; c++)
				body[len++] = (char)('a' + (i + c) % 26);
			if (i % 5 == 0 && nl > 2)
				memcpy(body + len - 2, "\\\"", 2); /* a name with a quote */
			body[len++] = '"';
		}
		len += (size_t)snprintf(body + len, cap - len, "]}");
		struct sched_ext_args *pa = parse_ok(body, len);
		struct sched_result *pres = calloc(n, sizeof(*pres));
		assert_non_null(pres);
		json_t *want = json_array();
		for (size_t i = 0; i < n; i++) {
			pres[i].feasible = i % 3 != 0;
			pres[i].score = (int)(i % 101);
			json_array_append_new(want, json_pack("{s:s,s:i}", "Host", pa->names[i],
							      "Score", sched_ext_score(&pres[i])));
		}
		struct sched_ext_buf pb = {0};
		assert_int_equal(sched_ext_write_priorities(&pb, pa, pres), 0);
		assert_int_equal(strlen(pb.data), pb.len);
		json_t *pgot = buf_json(&pb);
		assert_json_same(pgot, want);
		json_decref(pgot);
		json_decref(want);
		sched_ext_buf_free(&pb);
		free(pres);
		sched_ext_args_free(pa);
		free(body);
	}
	/* a name needing escapes and a reason with a newline, through the filter writer */
	const char *body = "{\"Pod\":{},\"NodeNames\":[\"we\\\"ird\\\\\",\"ok\"]}";
	struct sched_ext_args *a = parse_ok(body, strlen(body));
	assert_string_equal(a->names[0], "we\"ird\\");
	struct sched_result res[2] = {0};
	snprintf(res[0].reason, sizeof(res[0].reason), "line1\nline2 \"q\"");
	res[1].feasible = true;
	struct sched_ext_buf b = {0};
	assert_int_equal(sched_ext_write_filter(&b, a, body, res, NULL), 0);
	json_t *got = buf_json(&b);
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "FailedNodes"),
							      "we\"ird\\")),
			    "line1\nline2 \"q\"");
	json_decref(got);

	sched_ext_buf_reset(&b);
	assert_int_equal(sched_ext_write_filter_error(&b, "cache \"not\" synced"), 0);
	got = buf_json(&b);
	json_t *want = json_pack("{s:n,s:n,s:{},s:s}", "Nodes", "NodeNames", "FailedNodes", "Error",
				 "cache \"not\" synced");
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);

	sched_ext_buf_reset(&b);
	assert_int_equal(sched_ext_write_binding_result(&b, NULL), 0);
	assert_string_equal(b.data, "{\"Error\":\"\"}");
	sched_ext_buf_reset(&b);
	assert_int_equal(sched_ext_write_binding_result(&b, "pods \"x\" already bound"), 0);
	assert_string_equal(b.data, "{\"Error\":\"pods \\\"x\\\" already bound\"}");
	sched_ext_buf_free(&b);
	sched_ext_args_free(a);
}

static void test_score_scale(void **state)
{
	(void)state;
	struct sched_result r = {.feasible = true};
	static const int in[] = {-5, 0, 4, 5, 14, 15, 50, 94, 95, 100, 150};
	static const int want[] = {0, 0, 0, 1, 1, 2, 5, 9, 10, 10, 10};
	for (size_t i = 0; i < N_OF(in); i++) {
		r.score = in[i];
		assert_int_equal(sched_ext_score(&r), want[i]);
	}
	r.feasible = false;
	r.score = 100;
	assert_int_equal(sched_ext_score(&r), 0);
}

static void test_binding(void **state)
{
	(void)state;
	struct sched_ext_binding b = {0};
	char err[SCHED_EXT_ERR_MAX];
	const char *ok = "{\"PodName\":\"redis-0\",\"PodNamespace\":\"default\",\"PodUID\":"
			 "\"c65f5345\",\"Node\":\"acc-node-1\"}";
	assert_int_equal(sched_ext_binding_parse(ok, strlen(ok), &b, err, sizeof(err)), 0);
	assert_string_equal(b.pod_name, "redis-0");
	assert_string_equal(b.pod_namespace, "default");
	assert_string_equal(b.pod_uid, "c65f5345");
	assert_string_equal(b.node, "acc-node-1");
	sched_ext_binding_clear(&b);
	sched_ext_binding_clear(&b); /* a zeroed struct is fine */

	const char *lower = "{\"podName\":\"a\",\"podnamespace\":\"ns\",\"node\":\"n\"}";
	assert_int_equal(sched_ext_binding_parse(lower, strlen(lower), &b, err, sizeof(err)), 0);
	assert_string_equal(b.pod_uid, "");
	sched_ext_binding_clear(&b);

	static const struct bad bad[] = {
		{"", "offset"},
		{"[]", "not a JSON object"},
		{"{\"PodName\":\"a\",\"PodNamespace\":\"ns\"}", "Node: missing"},
		{"{\"PodName\":1,\"PodNamespace\":\"ns\",\"Node\":\"n\"}", "PodName: not a string"},
		{"{\"PodName\":\"\",\"PodNamespace\":\"ns\",\"Node\":\"n\"}", "PodName: empty"},
		{"{\"PodName\":\"a\\u0000\",\"PodNamespace\":\"ns\",\"Node\":\"n\"}", "offset"},
		{"{\"PodName\":\"a\",\"PodNamespace\":\"ns\",\"Node\":\"n\"", "offset"},
	};
	for (size_t i = 0; i < N_OF(bad); i++) {
		err[0] = '\0';
		int r = sched_ext_binding_parse(bad[i].body, strlen(bad[i].body), &b, err,
						sizeof(err));
		if (r != -EBADMSG || !strstr(err, bad[i].msg))
			fprintf(stderr, "%s: %d %s\n", bad[i].body, r, err);
		assert_int_equal(r, -EBADMSG);
		assert_non_null(strstr(err, bad[i].msg));
		assert_null(b.pod_name);
	}
}

/* ---- the pod's request --------------------------------------------------------------- */

/* The test resolver: the recorded PVC redis-data-1 and StorageClass pmem-ext4. */
struct fake_api {
	json_t *pvc; /* for claim redis-data-1 */
	json_t *sc;
	json_t *pv; /* may be NULL */
	int calls;
};

static int fake_lookup(void *ud, const char *ns, const char *claim, struct sched_pvc_info *out,
		       char *err, size_t err_len)
{
	struct fake_api *api = ud;
	const json_t *md = json_object_get(api->pvc, "metadata");
	api->calls++;
	if (strcmp(ns, json_string_value(json_object_get(md, "namespace"))) != 0 ||
	    strcmp(claim, json_string_value(json_object_get(md, "name"))) != 0)
		return -ENOENT;
	return sched_pvc_info_from_json(api->pvc, api->sc, api->pv, NULL, out, err, err_len);
}

static void fake_api_init(struct fake_api *api)
{
	api->pvc = load_json(API_FIX "get-pvc-redis-data-1.json");
	api->sc = load_json(API_FIX "get-storageclass.json");
	api->pv = NULL;
	api->calls = 0;
}

static void fake_api_fini(struct fake_api *api)
{
	json_decref(api->pvc);
	json_decref(api->sc);
	json_decref(api->pv);
}

static void test_pod_redis(void **state)
{
	(void)state;
	size_t len;
	char *body = slurp(SCHED_FIX "filter-args-pmem-pvc-inline.json", &len);
	struct sched_ext_args *a = parse_ok(body, len);
	struct fake_api api;
	fake_api_init(&api);
	struct sched_pod_opts o = {.pmem_policy = SCHED_PMEM_SPREAD,
				   .cpu_policy = SCHED_CPU_SHORTEST_DISTANCE,
				   .lookup_pvc = fake_lookup,
				   .lookup_ud = &api};
	struct sched_pod_request *pr = NULL;
	char err[256] = "";
	int r = sched_pod_request_build(a->pod, &o, &pr, err, sizeof(err));
	if (r)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(r, 0);
	assert_int_equal(api.calls, 1);
	assert_false(sched_pod_request_empty(pr));
	const struct sched_request *q = &pr->req;
	assert_ptr_equal(q->volumes, pr->volumes);
	assert_int_equal(q->n_volumes, 3);
	assert_true(q->volumes[0].size == 32 * GiB);
	assert_string_equal(q->volumes[0].id, "pvc:default/redis-data-1");
	assert_string_equal(q->volumes[0].fstype, "ext4");
	assert_null(q->volumes[0].bound_node); /* Pending: the selected node has no volume yet */
	assert_int_equal(q->volumes[0].bound_numa, -1);
	assert_true(q->volumes[1].size == 8 * GiB);
	assert_string_equal(q->volumes[1].id,
			    "inline:c65f5345-5ff5-4f05-af16-f2e359804e43/scratch");
	assert_null(q->volumes[1].fstype);
	assert_true(q->volumes[2].size == 16 * GiB);
	assert_string_equal(q->volumes[2].id, "annotation:c65f5345-5ff5-4f05-af16-f2e359804e43/0");
	assert_int_equal(q->cpus, 2);
	/* the StorageClass says placement: binpack, over the configured default spread */
	assert_int_equal(q->pmem_policy, SCHED_PMEM_BINPACK);
	assert_int_equal(q->cpu_policy, SCHED_CPU_SHORTEST_DISTANCE);
	assert_string_equal(pr->namespace_, "default");
	assert_string_equal(pr->name, "redis-1");
	sched_pod_request_free(pr);

	/* The pod's annotation overrides the StorageClass. */
	json_t *ann = json_object_get(json_object_get(a->pod, "metadata"), "annotations");
	json_object_set_new(ann, "pmem.io/policy", json_string("single-numa"));
	json_object_set_new(ann, "pmem.io/cpu-policy", json_string("single-numa-cpu"));
	assert_int_equal(sched_pod_request_build(a->pod, &o, &pr, err, sizeof(err)), 0);
	assert_int_equal(pr->req.pmem_policy, SCHED_PMEM_SINGLE_NUMA);
	assert_int_equal(pr->req.cpu_policy, SCHED_CPU_SINGLE_NUMA);
	sched_pod_request_free(pr);

	/* Bound: the PVC's selected node, then the PV's node affinity which wins over it. */
	json_object_set_new(json_object_get(api.pvc, "status"), "phase", json_string("Bound"));
	assert_int_equal(sched_pod_request_build(a->pod, &o, &pr, err, sizeof(err)), 0);
	assert_string_equal(pr->req.volumes[0].bound_node, "acc-node-3");
	sched_pod_request_free(pr);
	api.pv = json_loads("{\"metadata\":{\"annotations\":{\"pmem.io/numa-node\":\"1\"}},"
			    "\"spec\":{\"nodeAffinity\":{\"required\":{\"nodeSelectorTerms\":[{"
			    "\"matchExpressions\":[{\"key\":\"kubernetes.io/hostname\","
			    "\"operator\":\"In\",\"values\":[\"acc-node-2\"]}]}]}}}}",
			    0, NULL);
	assert_non_null(api.pv);
	assert_int_equal(sched_pod_request_build(a->pod, &o, &pr, err, sizeof(err)), 0);
	assert_string_equal(pr->req.volumes[0].bound_node, "acc-node-2");
	assert_int_equal(pr->req.volumes[0].bound_numa, 1);
	sched_pod_request_free(pr);

	/* A StorageClass of another driver: the PVC is not ours and asks nothing. */
	json_object_set_new(api.sc, "provisioner", json_string("ebs.csi.aws.com"));
	assert_int_equal(sched_pod_request_build(a->pod, &o, &pr, err, sizeof(err)), 0);
	assert_int_equal(pr->req.n_volumes, 2);
	assert_true(pr->req.volumes[0].size == 8 * GiB);
	sched_pod_request_free(pr);

	fake_api_fini(&api);
	sched_ext_args_free(a);
	free(body);
}

static void test_pod_missing_pvc(void **state)
{
	(void)state;
	json_t *pod = load_json(API_FIX "get-pod-unscheduled.json"); /* claim redis-data */
	struct fake_api api;
	fake_api_init(&api);
	struct sched_pod_opts o = {.lookup_pvc = fake_lookup, .lookup_ud = &api};
	struct sched_pod_request *pr = (struct sched_pod_request *)0x1;
	char err[256] = "";
	assert_int_equal(sched_pod_request_build(pod, &o, &pr, err, sizeof(err)), -ENOENT);
	assert_true(pr == (struct sched_pod_request *)0x1);
	assert_non_null(strstr(err, "persistentvolumeclaim default/redis-data not found"));
	/* without a resolver a PVC cannot be judged either */
	o.lookup_pvc = NULL;
	assert_int_equal(sched_pod_request_build(pod, &o, &pr, err, sizeof(err)), -ENOENT);
	fake_api_fini(&api);
	json_decref(pod);
}

static void test_pvc_info(void **state)
{
	(void)state;
	json_t *pvc = load_json(API_FIX "get-pvc.json");
	json_t *sc = load_json(API_FIX "get-storageclass.json");
	struct sched_pvc_info info;
	char err[256];
	assert_int_equal(sched_pvc_info_from_json(pvc, sc, NULL, NULL, &info, err, sizeof(err)), 0);
	assert_true(info.ours);
	assert_true(info.size == 64 * GiB);
	assert_string_equal(info.fstype, "ext4");
	assert_string_equal(info.bound_node, "");
	assert_string_equal(info.pmem_policy, "binpack");
	assert_int_equal(info.bound_numa, -1);
	/* a different driver name configured */
	assert_int_equal(
		sched_pvc_info_from_json(pvc, sc, NULL, "other.csi", &info, err, sizeof(err)), 0);
	assert_false(info.ours);
	/* csi.storage.k8s.io/fstype wins over fstype */
	json_object_set_new(json_object_get(sc, "parameters"), "csi.storage.k8s.io/fstype",
			    json_string("xfs"));
	assert_int_equal(sched_pvc_info_from_json(pvc, sc, NULL, NULL, &info, err, sizeof(err)), 0);
	assert_string_equal(info.fstype, "xfs");
	/* a bad size names the field */
	json_object_set_new(json_object_get(json_object_get(pvc, "spec"), "resources"), "requests",
			    json_pack("{s:s}", "storage", "64 Gi"));
	assert_int_equal(sched_pvc_info_from_json(pvc, sc, NULL, NULL, &info, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "spec.resources.requests.storage"));
	json_decref(pvc);
	json_decref(sc);
}

/* A pod built from pieces, for the tables below. */
static json_t *make_pod(const char *annotations_json, const char *containers_json,
			const char *init_json, const char *volumes_json)
{
	char buf[4096];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\","
		 "\"annotations\":%s},\"spec\":{\"containers\":%s,\"initContainers\":%s,"
		 "\"volumes\":%s}}",
		 annotations_json, containers_json, init_json, volumes_json);
	json_error_t je;
	json_t *j = json_loads(buf, 0, &je);
	if (!j)
		fprintf(stderr, "%s: %s\n", buf, je.text);
	assert_non_null(j);
	return j;
}

#define RES(cpu_req, cpu_lim, mem_req, mem_lim)                                                    \
	"{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"" cpu_req                          \
	"\",\"memory\":\"" mem_req "\"},\"limits\":{\"cpu\":\"" cpu_lim "\",\"memory\":\"" mem_lim \
	"\"}}}"

static void test_pod_cpus(void **state)
{
	(void)state;
	static const struct {
		const char *containers, *init;
		unsigned want;
	} cases[] = {
		{"[" RES("2", "2", "4Gi", "4Gi") "]", "[]", 2},
		{"[" RES("2", "2", "4Gi", "4Gi") "," RES("3", "3", "1Gi", "1Gi") "]", "[]", 5},
		{"[" RES("2000m", "2", "4Gi", "4Gi") "]", "[]", 2},
		/* a fractional container is shared, the integer one still pinned */
		{"[" RES("2", "2", "4Gi", "4Gi") "," RES("500m", "500m", "1Gi", "1Gi") "]", "[]",
		 2},
		{"[" RES("1.5", "1.5", "4Gi", "4Gi") "]", "[]", 0},
		/* Burstable: requests below limits */
		{"[" RES("1", "2", "4Gi", "4Gi") "]", "[]", 0},
		{"[" RES("2", "2", "2Gi", "4Gi") "]", "[]", 0},
		{"[{\"name\":\"c\",\"resources\":{\"limits\":{\"cpu\":\"2\"}}}]", "[]", 0},
		{"[{\"name\":\"c\"}]", "[]", 0},
		/* requests default to limits */
		{"[{\"name\":\"c\",\"resources\":{\"limits\":{\"cpu\":\"4\",\"memory\":\"1Gi\"}}}]",
		 "[]", 4},
		/* init containers: max(sum of app containers, largest init container) */
		{"[" RES("2", "2", "4Gi", "4Gi") "]", "[" RES("6", "6", "1Gi", "1Gi") "]", 6},
		{"[" RES("2", "2", "4Gi", "4Gi") "," RES("2", "2", "4Gi", "4Gi") "]",
		 "[" RES("3", "3", "1Gi", "1Gi") "]", 4},
		/* an init container that is not Guaranteed makes the pod Burstable */
		{"[" RES("2", "2", "4Gi", "4Gi") "]", "[" RES("1", "2", "1Gi", "1Gi") "]", 0},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		json_t *pod = make_pod("{}", cases[i].containers, cases[i].init, "[]");
		struct sched_pod_request *pr = NULL;
		char err[256] = "";
		int r = sched_pod_request_build(pod, NULL, &pr, err, sizeof(err));
		if (r || pr->req.cpus != cases[i].want)
			fprintf(stderr, "case %zu: r=%d cpus=%u err=%s\n", i, r,
				r ? 0 : pr->req.cpus, err);
		assert_int_equal(r, 0);
		assert_int_equal(pr->req.cpus, cases[i].want);
		assert_int_equal(sched_pod_request_empty(pr), cases[i].want == 0);
		sched_pod_request_free(pr);
		json_decref(pod);
	}
}

static void test_pod_annotation_and_inline(void **state)
{
	(void)state;
	json_t *pod = make_pod(
		"{\"pmem.io/requests\":\"[{\\\"size\\\":\\\"16Gi\\\",\\\"fstype\\\":\\\"xfs\\\"},"
		"{\\\"size\\\":1048576}]\"}",
		"[]", "[]",
		"[{\"name\":\"a\",\"csi\":{\"driver\":\"pmem.csi.pmemd.io\",\"fsType\":\"xfs\","
		"\"volumeAttributes\":{\"size\":\"1.5Gi\"}}},"
		"{\"name\":\"b\",\"csi\":{\"driver\":\"other.csi\",\"volumeAttributes\":{}}},"
		"{\"name\":\"c\",\"emptyDir\":{}}]");
	struct sched_pod_request *pr = NULL;
	char err[256] = "";
	assert_int_equal(sched_pod_request_build(pod, NULL, &pr, err, sizeof(err)), 0);
	assert_int_equal(pr->req.n_volumes, 3);
	assert_true(pr->req.volumes[0].size == 3 * GiB / 2);
	assert_string_equal(pr->req.volumes[0].fstype, "xfs");
	assert_string_equal(pr->req.volumes[0].id, "inline:u1/a");
	assert_true(pr->req.volumes[1].size == 16 * GiB);
	assert_string_equal(pr->req.volumes[1].fstype, "xfs");
	assert_string_equal(pr->req.volumes[1].id, "annotation:u1/0");
	assert_true(pr->req.volumes[2].size == 1048576);
	assert_string_equal(pr->req.volumes[2].id, "annotation:u1/1");
	assert_int_equal(pr->req.cpus, 0);
	sched_pod_request_free(pr);
	json_decref(pod);

	/* a configured driver name other than the default */
	pod = make_pod("{}", "[]", "[]",
		       "[{\"name\":\"a\",\"csi\":{\"driver\":\"pmem.example.com\","
		       "\"volumeAttributes\":{\"size\":\"1Gi\"}}}]");
	struct sched_pod_opts o = {.driver = "pmem.example.com"};
	assert_int_equal(sched_pod_request_build(pod, &o, &pr, err, sizeof(err)), 0);
	assert_int_equal(pr->req.n_volumes, 1);
	sched_pod_request_free(pr);
	assert_int_equal(sched_pod_request_build(pod, NULL, &pr, err, sizeof(err)), 0);
	assert_int_equal(pr->req.n_volumes, 0);
	sched_pod_request_free(pr);
	json_decref(pod);
}

static void test_pod_bad_fields(void **state)
{
	(void)state;
	static const struct {
		const char *ann, *containers, *volumes, *msg;
	} cases[] = {
		{"{\"pmem.io/"
		 "requests\":\"[{\\\"size\\\":\\\"16Gi\\\"},{\\\"size\\\":\\\"lots\\\"}]\"}",
		 "[]", "[]", "annotation pmem.io/requests: [1].size: \"lots\""},
		{"{\"pmem.io/requests\":\"[{\\\"size\\\":\\\"0\\\"}]\"}", "[]", "[]",
		 "annotation pmem.io/requests: [0].size"},
		{"{\"pmem.io/requests\":\"[{\\\"size\\\":\\\"-1Gi\\\"}]\"}", "[]", "[]",
		 "[0].size"},
		{"{\"pmem.io/requests\":\"[{\\\"szie\\\":\\\"1Gi\\\"}]\"}", "[]", "[]",
		 "[0].szie: unknown key"},
		{"{\"pmem.io/requests\":\"[{}]\"}", "[]", "[]", "[0].size: missing"},
		{"{\"pmem.io/requests\":\"[{\\\"size\\\":true}]\"}", "[]", "[]", "[0].size"},
		{"{\"pmem.io/requests\":\"[{\\\"size\\\":\\\"1Gi\\\",\\\"fstype\\\":\\\"EXT "
		 "4\\\"}]\"}",
		 "[]", "[]", "[0].fstype"},
		{"{\"pmem.io/requests\":\"[{\\\"size\\\":\\\"1Gi\\\",\\\"fstype\\\":3}]\"}", "[]",
		 "[]", "[0].fstype: not a string"},
		{"{\"pmem.io/requests\":\"{\\\"size\\\":\\\"1Gi\\\"}\"}", "[]", "[]",
		 "not a JSON array"},
		{"{\"pmem.io/requests\":\"[1]\"}", "[]", "[]", "[0]: not an object"},
		{"{\"pmem.io/requests\":\"[{\"}", "[]", "[]",
		 "annotation pmem.io/requests: offset"},
		{"{\"pmem.io/requests\":7}", "[]", "[]",
		 "annotation pmem.io/requests: not a string"},
		{"{\"pmem.io/policy\":\"tightly\"}", "[]", "[]", "annotation pmem.io/policy"},
		{"{\"pmem.io/cpu-policy\":\"near\"}", "[]", "[]", "annotation pmem.io/cpu-policy"},
		{"{}", "[" RES("2", "two", "1Gi", "1Gi") "]", "[]",
		 "spec.containers[0].resources.limits.cpu"},
		{"{}", "[{\"name\":\"c\",\"resources\":{\"requests\":{\"memory\":5}}}]", "[]",
		 "spec.containers[0].resources.requests.memory: not a quantity string"},
		{"{}", "{}", "[]", "spec.containers: not an array"},
		{"{}", "[]", "[{\"name\":\"a\",\"csi\":{\"driver\":\"pmem.csi.pmemd.io\"}}]",
		 "spec.volumes[0].csi.volumeAttributes.size: missing"},
		{"{}", "[]",
		 "[{\"name\":\"a\",\"csi\":{\"driver\":\"pmem.csi.pmemd.io\",\"volumeAttributes\":"
		 "{\"size\":\"8Gb\"}}}]",
		 "spec.volumes[0].csi.volumeAttributes.size: \"8Gb\""},
		{"{}", "[]", "[{\"csi\":{}}]", "spec.volumes[0].name: missing"},
		{"{}", "[]", "[{\"name\":\"d\",\"persistentVolumeClaim\":{}}]",
		 "spec.volumes[0].persistentVolumeClaim.claimName: missing"},
	};
	for (size_t i = 0; i < N_OF(cases); i++) {
		json_t *pod = make_pod(cases[i].ann, cases[i].containers, "[]", cases[i].volumes);
		struct sched_pod_request *pr = NULL;
		char err[256] = "";
		int r = sched_pod_request_build(pod, NULL, &pr, err, sizeof(err));
		if (r != -EINVAL || !strstr(err, cases[i].msg))
			fprintf(stderr, "case %zu: r=%d err=\"%s\" want \"%s\"\n", i, r, err,
				cases[i].msg);
		assert_int_equal(r, -EINVAL);
		assert_null(pr);
		assert_non_null(strstr(err, cases[i].msg));
		json_decref(pod);
	}
	/* more than SCHED_MAX_VOLUMES */
	char ann[4096];
	size_t off = (size_t)snprintf(ann, sizeof(ann), "{\"pmem.io/requests\":\"[");
	for (int i = 0; i <= SCHED_MAX_VOLUMES; i++)
		off += (size_t)snprintf(ann + off, sizeof(ann) - off,
					"%s{\\\"size\\\":\\\"1Gi\\\"}", i ? "," : "");
	snprintf(ann + off, sizeof(ann) - off, "]\"}");
	json_t *pod = make_pod(ann, "[]", "[]", "[]");
	struct sched_pod_request *pr = NULL;
	char err[256] = "";
	assert_int_equal(sched_pod_request_build(pod, NULL, &pr, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	json_decref(pod);
	/* not a pod at all */
	json_t *arr = json_array();
	assert_int_equal(sched_pod_request_build(arr, NULL, &pr, err, sizeof(err)), -EINVAL);
	json_decref(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_node_names),
		cmocka_unit_test(test_fixture_nodes_form),
		cmocka_unit_test(test_fixture_no_pmem),
		cmocka_unit_test(test_key_case),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_big),
		cmocka_unit_test(test_generated_5000),
		cmocka_unit_test(test_name_info_same_answers),
		cmocka_unit_test(test_writer_escaping),
		cmocka_unit_test(test_score_scale),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_pod_redis),
		cmocka_unit_test(test_pod_missing_pvc),
		cmocka_unit_test(test_pvc_info),
		cmocka_unit_test(test_pod_cpus),
		cmocka_unit_test(test_pod_annotation_and_inline),
		cmocka_unit_test(test_pod_bad_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
