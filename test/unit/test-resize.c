/* test-resize: resize policies (validation, CRUD, persistence), the monitor over the in-memory
 * fake kernel (ticks driven directly), and /v1/resize-policies and volume events over HTTP. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api.h"
#include "config/config.h"
#include "quota/quota-volumes.h"
#include "resize/resize.h"
#include "util/log.h"

#include "fake-http.h"
#include "fake-quota.h"
#include "resize/resize-prometheus.h"
#include "support.h"

static int64_t T_ms = 1700000000000; /* the injected clock: tests move it, nobody sleeps */

static int64_t test_now_ms(void)
{
	return __atomic_load_n(&T_ms, __ATOMIC_SEQ_CST);
}

static void tmpdir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/test-resize-XXXXXX");
	assert_non_null(mkdtemp(buf));
}

static size_t rmrf(const char *dir, const char *count_prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	size_t counted = 0;

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (count_prefix && !strncmp(e->d_name, count_prefix, strlen(count_prefix)))
			counted++;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return counted;
}

/* The base policy of these tests: label app=db, 80 %, +50 %, max 400 MiB. */
static const char *const BASE = "{\"name\":\"db\",\"selector\":{\"labels\":{\"app\":\"db\"}},"
				"\"trigger\":{\"used_percent\":80},\"step\":{\"percent\":50},"
				"\"max_size_bytes\":419430400}";

/* RFC 7386 merge patch: null deletes a key, objects merge, anything else replaces. */
static void merge(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach ((json_t *)patch, k, v) {
		json_t *t = json_object_get(target, k);

		if (json_is_null(v))
			json_object_del(target, k);
		else if (json_is_object(v) && json_is_object(t))
			merge(t, v);
		else
			json_object_set(target, k, v);
	}
}

/* BASE with `patch` (JSON text, NULs allowed) merged in; caller decrefs. */
static json_t *body_of(const char *patch)
{
	json_error_t je;
	json_t *b = json_loads(BASE, 0, NULL), *p = json_loads(patch, JSON_ALLOW_NUL, &je);

	if (!p)
		fail_msg("test patch is not JSON: %s: %s", je.text, patch);
	merge(b, p);
	json_decref(p);
	return b;
}

static int parse_patch(const char *patch, struct resize_policy **p, char *err, size_t len)
{
	json_t *b = body_of(patch);
	int r = resize_policy_parse(b, NULL, p, err, len);

	json_decref(b);
	return r;
}

/* ======================= validation ======================= */

static void test_policy_validation(void **state)
{
	static const struct {
		const char *patch;
		const char *err; /* a substring: the message names the field */
	} bad[] = {
		{"{\"extra\":1}", "\"extra\": unknown field"},
		{"{\"name\":null}", "name: is required"},
		{"{\"name\":\"DB\"}", "name: "},
		{"{\"name\":\"../x\"}", "name: "},
		{"{\"name\":\"a b\"}", "name: "},
		{"{\"name\":\"\"}", "name: must not be empty"},
		{"{\"name\":7}", "name: must be a string"},
		{"{\"name\":\"a\\u0000b\"}", "name: contains a NUL"},
		{"{\"selector\":null}", "selector: is required"},
		{"{\"selector\":{\"labels\":null}}", "selector: needs"},
		{"{\"selector\":{\"volumes\":[\"Bad\"]}}", "selector.volumes[0]"},
		{"{\"selector\":{\"volumes\":[]}}", "selector.volumes"},
		{"{\"selector\":{\"volumes\":[\"a\\u0000\"]}}",
		 "selector.volumes[0]: contains a NUL"},
		{"{\"selector\":{\"labels\":{\"app\":1}}}",
		 "selector.labels.app: must be a string"},
		{"{\"selector\":{\"labels\":{\"-x\":\"y\"}}}", "selector.labels"},
		{"{\"selector\":{\"pool\":\"relative\"}}", "selector.pool"},
		{"{\"selector\":{\"pool\":\"/a/../b\"}}", "selector.pool"},
		{"{\"selector\":{\"pool\":\"/a\\u0001\"}}", "selector.pool: contains a control"},
		{"{\"selector\":{\"pvc\":{\"namespace\":\"UP\"}}}", "selector.pvc.namespace"},
		{"{\"selector\":{\"pvc\":{\"zone\":\"x\"}}}",
		 "selector.pvc.\"zone\": unknown field"},
		{"{\"selector\":{\"pvc\":{}}}", "selector.pvc: needs"},
		{"{\"selector\":{\"zone\":\"x\"}}", "selector.\"zone\": unknown field"},
		{"{\"trigger\":{\"used_percent\":null}}", "trigger: needs"},
		{"{\"trigger\":null}", "trigger: is required"},
		{"{\"trigger\":{\"used_percent\":0}}",
		 "trigger.used_percent: must be 1..100, got 0"},
		{"{\"trigger\":{\"used_percent\":101}}", "trigger.used_percent: must be 1..100"},
		{"{\"trigger\":{\"used_percent\":-5}}",
		 "trigger.used_percent: must be 1..100, got -5"},
		{"{\"trigger\":{\"used_percent\":80.5}}",
		 "trigger.used_percent: must be an integer"},
		{"{\"trigger\":{\"used_percent\":\"80\"}}",
		 "trigger.used_percent: must be an integer"},
		{"{\"trigger\":{\"free_bytes\":0}}", "trigger.free_bytes"},
		{"{\"step\":{\"percent\":50,\"bytes\":1}}", "step: needs exactly one"},
		{"{\"step\":{\"percent\":null}}", "step: needs exactly one"},
		{"{\"step\":{\"percent\":0}}", "step.percent"},
		{"{\"step\":{\"percent\":1001}}", "step.percent"},
		{"{\"step\":{\"percent\":null,\"bytes\":-1}}", "step.bytes"},
		{"{\"step\":{\"min_bytes\":-1}}", "step.min_bytes"},
		{"{\"max_size_bytes\":null}", "max_size_bytes: is required"},
		{"{\"max_size_bytes\":0}", "max_size_bytes: must be 1.."},
		{"{\"max_size_bytes\":-1}", "max_size_bytes"},
		{"{\"cooldown_seconds\":-1}", "cooldown_seconds"},
		{"{\"cooldown_seconds\":99999999}", "cooldown_seconds"},
		{"{\"granularity_bytes\":0}", "granularity_bytes"},
		{"{\"granularity_bytes\":419430401}", "granularity_bytes: 419430401 is larger"},
		/* inodes */
		{"{\"trigger\":{\"used_percent\":null,\"inodes_used_percent\":0}}",
		 "trigger.inodes_used_percent: must be 1..100, got 0"},
		{"{\"trigger\":{\"inodes_used_percent\":101}}", "trigger.inodes_used_percent"},
		{"{\"trigger\":{\"inodes_used_percent\":\"80\"}}",
		 "trigger.inodes_used_percent: must be an integer"},
		{"{\"trigger\":{\"inodes_free\":0}}", "trigger.inodes_free: must be 1.."},
		{"{\"trigger\":{\"inodes_free\":-1}}", "trigger.inodes_free"},
		{"{\"trigger\":{\"inodes_free\":1e30}}", "trigger.inodes_free: must be an integer"},
		{"{\"trigger\":{\"inodes\":5}}", "trigger.\"inodes\": unknown field"},
		{"{\"trigger\":{\"inodes_used_percent\":80},\"max_inodes\":100}",
		 "step: an inode trigger needs inodes_percent, inodes or both"},
		{"{\"trigger\":{\"inodes_used_percent\":80},\"step\":{\"inodes\":10}}",
		 "max_inodes: is required with an inode trigger"},
		{"{\"trigger\":{\"inodes_free\":8},\"step\":{\"inodes_percent\":0},"
		 "\"max_inodes\":9}",
		 "step.inodes_percent: must be 1..1000, got 0"},
		{"{\"trigger\":{\"inodes_free\":8},\"step\":{\"inodes_percent\":1001},"
		 "\"max_inodes\":9}",
		 "step.inodes_percent"},
		{"{\"trigger\":{\"inodes_free\":8},\"step\":{\"inodes\":0},\"max_inodes\":9}",
		 "step.inodes: must be 1.."},
		{"{\"trigger\":{\"inodes_free\":8},\"step\":{\"inodes\":1,\"min_inodes\":-1},"
		 "\"max_inodes\":9}",
		 "step.min_inodes"},
		{"{\"trigger\":{\"inodes_free\":8},\"step\":{\"inodes\":1},\"max_inodes\":0}",
		 "max_inodes: must be 1.."},
		{"{\"trigger\":{\"inodes_free\":8},\"step\":{\"inodes\":1},"
		 "\"max_inodes\":1e19}",
		 "max_inodes: must be an integer"},
		{"{\"max_inodes\":100}", "max_inodes: needs an inode trigger"},
		{"{\"step\":{\"inodes\":100}}", "step.inodes: needs an inode trigger"},
	};
	struct resize_policy *p = NULL;
	char err[1024], big[12000], patch[12100];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_patch(bad[i].patch, &p, err, sizeof(err));

		if (r != -EINVAL || !strstr(err, bad[i].err))
			fail_msg("%s: got %d \"%s\", want -EINVAL naming \"%s\"", bad[i].patch, r,
				 r ? err : "", bad[i].err);
		assert_null(p);
	}
	/* 10 KB strings: refused with the field and the length, not truncated. */
	memset(big, 'a', 10240);
	big[10240] = '\0';
	snprintf(patch, sizeof(patch), "{\"name\":\"%s\"}", big);
	assert_int_equal(parse_patch(patch, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "name: longer than 253"));
	snprintf(patch, sizeof(patch), "{\"selector\":{\"pool\":\"/%s\"}}", big);
	assert_int_equal(parse_patch(patch, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "selector.pool: longer than"));
	snprintf(patch, sizeof(patch), "{\"selector\":{\"labels\":{\"%s\":\"x\"}}}", big);
	assert_int_equal(parse_patch(patch, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "selector.labels"));

	/* The good one, with every default shown. */
	assert_int_equal(parse_patch("{}", &p, err, sizeof(err)), 0);
	{
		json_t *j = resize_policy_to_json(p);
		char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

		assert_string_equal(
			s, "{\"cooldown_seconds\":0,\"granularity_bytes\":1048576,"
			   "\"max_size_bytes\":419430400,\"name\":\"db\",\"selector\":{\"labels\":{"
			   "\"app\":\"db\"}},\"step\":{\"min_bytes\":0,\"percent\":50},"
			   "\"trigger\":{\"used_percent\":80}}");
		free(s);
		/* What it writes it reads back the same. */
		struct resize_policy *q = NULL;

		assert_int_equal(resize_policy_parse(j, NULL, &q, err, sizeof(err)), 0);
		json_t *k = resize_policy_to_json(q);

		assert_true(json_equal(j, k));
		json_decref(j);
		json_decref(k);
		resize_policy_free(q);
	}
	p = resize_policy_free(p);

	/* With inodes: every field, shown and read back the same; an inode trigger alone is one. */
	assert_int_equal(parse_patch("{\"trigger\":{\"used_percent\":null,\"inodes_used_percent\":"
				     "90,\"inodes_free\":50},\"step\":{\"inodes_percent\":25,"
				     "\"inodes\":100,\"min_inodes\":10},\"max_inodes\":100000}",
				     &p, err, sizeof(err)),
			 0);
	assert_int_equal(p->used_percent, 0);
	assert_int_equal(p->inodes_used_percent, 90);
	assert_int_equal(p->inodes_free, 50);
	assert_int_equal(p->inodes_step_percent, 25);
	assert_int_equal(p->inodes_step, 100);
	assert_int_equal(p->min_step_inodes, 10);
	assert_int_equal(p->max_inodes, 100000);
	{
		json_t *j = resize_policy_to_json(p);
		char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		struct resize_policy *q = NULL;
		json_t *k;

		assert_string_equal(
			s,
			"{\"cooldown_seconds\":0,\"granularity_bytes\":1048576,"
			"\"max_inodes\":100000,\"max_size_bytes\":419430400,\"name\":\"db\","
			"\"selector\":{\"labels\":{\"app\":\"db\"}},\"step\":{\"inodes\":100,"
			"\"inodes_percent\":25,\"min_bytes\":0,\"min_inodes\":10,\"percent\":50},"
			"\"trigger\":{\"inodes_free\":50,\"inodes_used_percent\":90}}");
		free(s);
		assert_int_equal(resize_policy_parse(j, NULL, &q, err, sizeof(err)), 0);
		k = resize_policy_to_json(q);
		assert_true(json_equal(j, k));
		json_decref(j);
		json_decref(k);
		resize_policy_free(q);
	}
	p = resize_policy_free(p);
}

static void test_selection(void **state)
{
	struct resize_policy *v[3] = {NULL};
	char err[512];
	json_t *labels = json_loads("{\"app\":\"db\",\"pmem.io/pvc-namespace\":\"shop\","
				    "\"pmem.io/pvc-name\":\"data\"}",
				    0, NULL);
	struct resize_volume_view a = {.name = "vol-a", .pool = "/mnt/pmem0", .labels = labels};
	struct resize_volume_view b = {.name = "vol-b", .pool = "/mnt/pmem1", .labels = NULL};
	(void)state;

	assert_int_equal(parse_patch("{\"name\":\"a-first\",\"selector\":{\"labels\":null,"
				     "\"pvc\":{\"namespace\":\"shop\",\"name\":\"data\"}}}",
				     &v[0], err, sizeof(err)),
			 0);
	assert_int_equal(parse_patch("{\"name\":\"b-second\"}", &v[1], err, sizeof(err)), 0);
	assert_int_equal(parse_patch("{\"name\":\"c-pool\",\"selector\":{\"labels\":null,"
				     "\"pool\":\"/mnt/pmem1\",\"volumes\":[\"vol-b\",\"vol-c\"]}}",
				     &v[2], err, sizeof(err)),
			 0);
	assert_true(resize_policy_selects(v[0], &a));
	assert_true(resize_policy_selects(v[1], &a));
	assert_false(resize_policy_selects(v[2], &a)); /* neither its pool nor its names */
	assert_false(resize_policy_selects(v[0], &b));
	assert_false(resize_policy_selects(v[1], &b)); /* no labels */
	assert_true(resize_policy_selects(v[2], &b));
	/* Several match: the first by name. */
	assert_ptr_equal(resize_policy_pick(v, 3, &a), v[0]);
	assert_ptr_equal(resize_policy_pick(v + 1, 2, &a), v[1]);
	assert_ptr_equal(resize_policy_pick(v, 3, &b), v[2]);
	b.pool = "/mnt/pmem0";
	assert_null(resize_policy_pick(v, 3, &b));
	/* labels must all match */
	json_object_set_new(labels, "app", json_string("web"));
	assert_false(resize_policy_selects(v[1], &a));
	for (int i = 0; i < 3; i++)
		resize_policy_free(v[i]);
	json_decref(labels);
}

/* ======================= the set: CRUD and persistence ======================= */

static int create(struct resize_policies *ps, const char *patch, bool *created, char *err,
		  size_t len)
{
	json_t *b = body_of(patch), *out = NULL;
	bool c = false;
	int r = resize_policies_create(ps, b, &out, created ? created : &c, err, len);

	json_decref(b);
	json_decref(out);
	return r;
}

static void test_crud_and_persistence(void **state)
{
	struct resize_policies *ps = NULL;
	json_t *defaults =
		json_loads("[{\"name\":\"from-config\",\"selector\":{\"pool\":"
			   "\"/mnt/pmem1\"},\"trigger\":{\"free_bytes\":1048576},"
			   "\"step\":{\"bytes\":10485760},\"max_size_bytes\":1073741824}]",
			   0, NULL);
	char dir[64], err[1024], path[128];
	json_t *out = NULL, *b;
	bool created = false;
	char *s;
	FILE *f;
	(void)state;

	tmpdir(dir, sizeof(dir));
	assert_int_equal(resize_policies_new(dir, defaults, &ps, err, sizeof(err)), 0);
	assert_int_equal(create(ps, "{}", &created, err, sizeof(err)), 0);
	assert_true(created);
	/* The same body again: the same policy, 200. Another body: 409. */
	assert_int_equal(create(ps, "{}", &created, err, sizeof(err)), 0);
	assert_false(created);
	assert_int_equal(create(ps, "{\"cooldown_seconds\":5}", NULL, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "PUT replaces it"));
	/* A config policy's name cannot be taken, replaced or deleted over the API. */
	assert_int_equal(create(ps, "{\"name\":\"from-config\"}", NULL, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "config file"));
	b = body_of("{\"name\":null}");
	assert_int_equal(
		resize_policies_replace(ps, "from-config", b, &out, &created, err, sizeof(err)),
		-EPERM);
	assert_int_equal(resize_policies_delete(ps, "from-config", err, sizeof(err)), -EPERM);
	/* PUT: replaces, or creates; the path's name wins only when the body agrees. */
	assert_int_equal(resize_policies_replace(ps, "web", b, &out, &created, err, sizeof(err)),
			 0);
	assert_true(created);
	json_decref(out);
	json_decref(b);
	b = body_of("{\"name\":\"other\"}");
	assert_int_equal(resize_policies_replace(ps, "web", b, &out, &created, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "differs from the path"));
	json_decref(b);
	b = body_of("{\"name\":\"web\",\"cooldown_seconds\":30}");
	assert_int_equal(resize_policies_replace(ps, "web", b, &out, &created, err, sizeof(err)),
			 0);
	assert_false(created);
	json_decref(out);
	json_decref(b);
	assert_int_equal(resize_policies_get(ps, "web", &out, err, sizeof(err)), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "cooldown_seconds")), 30);
	assert_string_equal(json_string_value(json_object_get(out, "origin")), "api");
	json_decref(out);
	assert_int_equal(resize_policies_get(ps, "nope", &out, err, sizeof(err)), -ENOENT);
	assert_int_equal(resize_policies_get(ps, "../etc", &out, err, sizeof(err)), -ENOENT);
	assert_int_equal(resize_policies_list(ps, &out, err, sizeof(err)), 0);
	s = json_dumps(out, JSON_COMPACT);
	/* sorted by name, with their origin */
	assert_non_null(strstr(s, "\"name\":\"db\""));
	assert_true(strstr(s, "\"name\":\"db\"") < strstr(s, "\"name\":\"from-config\""));
	assert_true(strstr(s, "\"name\":\"from-config\"") < strstr(s, "\"name\":\"web\""));
	assert_non_null(strstr(s, "\"origin\":\"config\""));
	free(s);
	json_decref(out);

	/* A restart: the API's policies come back from the file; the config's from the config. */
	ps = resize_policies_free(ps);
	assert_int_equal(resize_policies_new(dir, defaults, &ps, err, sizeof(err)), 0);
	assert_int_equal(resize_policies_get(ps, "web", &out, err, sizeof(err)), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "cooldown_seconds")), 30);
	json_decref(out);
	assert_int_equal(resize_policies_get(ps, "db", &out, err, sizeof(err)), 0);
	json_decref(out);
	assert_int_equal(resize_policies_delete(ps, "web", err, sizeof(err)), 0);
	assert_int_equal(resize_policies_delete(ps, "web", err, sizeof(err)), -ENOENT);
	ps = resize_policies_free(ps);
	assert_int_equal(resize_policies_new(dir, NULL, &ps, err, sizeof(err)), 0);
	assert_int_equal(resize_policies_get(ps, "web", &out, err, sizeof(err)), -ENOENT);
	assert_int_equal(resize_policies_get(ps, "from-config", &out, err, sizeof(err)), -ENOENT);
	assert_int_equal(resize_policies_get(ps, "db", &out, err, sizeof(err)), 0);
	json_decref(out);
	ps = resize_policies_free(ps);

	/* A corrupt file is moved aside; the node starts without the API's policies. */
	snprintf(path, sizeof(path), "%s/resize-policies.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\":1,\"policies\":[{\"name\":\"x\"}]}", f);
	fclose(f);
	assert_int_equal(resize_policies_new(dir, NULL, &ps, err, sizeof(err)), 0);
	assert_int_equal(resize_policies_get(ps, "x", &out, err, sizeof(err)), -ENOENT);
	assert_int_equal(access(path, F_OK), -1);
	ps = resize_policies_free(ps);
	f = fopen(path, "w");
	fputs("{not json", f);
	fclose(f);
	assert_int_equal(resize_policies_new(dir, NULL, &ps, err, sizeof(err)), 0);
	ps = resize_policies_free(ps);
	/* (two moves in one second share a name: at least one is there) */
	assert_true(rmrf(dir, "resize-policies.json.corrupt-") >= 1);

	/* A file that cannot be written: the change is refused and memory is unchanged. */
	assert_int_equal(resize_policies_new("/proc/self/no-such-dir", NULL, &ps, err, sizeof(err)),
			 0);
	assert_int_equal(create(ps, "{}", NULL, err, sizeof(err)), -EIO);
	assert_int_equal(resize_policies_get(ps, "db", &out, err, sizeof(err)), -ENOENT);
	ps = resize_policies_free(ps);

	/* Bad defaults name the entry. */
	json_decref(defaults);
	defaults = json_loads("[{\"name\":\"x\"}]", 0, NULL);
	assert_int_equal(resize_policies_new(NULL, defaults, &ps, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "resize.policies[0]: selector: is required"));
	json_decref(defaults);
}

/* ======================= the config's resize: section ======================= */

/* Parses `yaml`; returns the errors as "line:col: message\n" lines ("" when valid). */
static char *config_errors_of(const char *yaml, struct config **out)
{
	struct config_errors *errs = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*out = NULL;
	if (config_parse("t.yaml", yaml, strlen(yaml), NULL, out, &errs) < 0)
		config_errors_print(errs, f);
	config_errors_free(errs);
	fclose(f);
	return buf;
}

static void test_config(void **state)
{
	const char *yaml = "resize:\n"
			   "  source: prometheus\n"
			   "  interval: 500ms\n"
			   "  prometheus:\n"
			   "    url: http://prometheus.monitoring:9090\n"
			   "    preset: pmemd\n"
			   "    timeout: 2s\n"
			   "  policies:\n"
			   "    - name: grow-db\n"
			   "      selector: {labels: {app: db}, pool: /mnt/pmem0}\n"
			   "      trigger: {used_percent: 80}\n"
			   "      step: {percent: 50, min_bytes: 1048576}\n"
			   "      max_size_bytes: 4294967296\n"
			   "    - name: grow-files\n"
			   "      selector: {labels: {app: files}}\n"
			   "      trigger: {inodes_used_percent: 90, inodes_free: 1000}\n"
			   "      step: {percent: 10, inodes_percent: 50, min_inodes: 100}\n"
			   "      max_size_bytes: 4294967296\n"
			   "      max_inodes: 1000000\n";
	struct config *cfg = NULL, *back = NULL;
	char *errs, *text = NULL;
	size_t len = 0;
	FILE *f;
	json_t *a, *b;
	(void)state;

	errs = config_errors_of(yaml, &cfg);
	assert_string_equal(errs, "");
	free(errs);
	assert_int_equal(cfg->resize.source, CONFIG_RESIZE_PROMETHEUS);
	assert_int_equal(cfg->resize.interval_ms, 500);
	assert_int_equal(cfg->resize.prometheus.timeout_ms, 2000);
	assert_int_equal(cfg->resize.prometheus.preset, 1);
	assert_int_equal(json_array_size(cfg->resize.policies), 2);
	/* The inode fields through the same parser as the API's. */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(cfg->resize.policies, 1),
							    "max_inodes")),
			 1000000);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_array_get(cfg->resize.policies, 1), "trigger"),
			"inodes_free")),
		1000);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(cfg->resize.policies, 0), "step"),
				 "min_bytes")),
			 1048576);
	/* The effective config written as YAML reads back the same. */
	f = open_memstream(&text, &len);
	assert_int_equal(config_write_yaml(cfg, f), 0);
	fclose(f);
	errs = config_errors_of(text, &back);
	if (*errs)
		fail_msg("%s\n%s", text, errs);
	free(errs);
	a = config_to_json(cfg);
	b = config_to_json(back);
	json_object_del(a, "source");
	json_object_del(b, "source");
	assert_true(json_equal(json_object_get(a, "resize"), json_object_get(b, "resize")));
	json_decref(a);
	json_decref(b);
	free(text);
	config_free(back);
	/* Any change to resize: needs a restart, and a SIGHUP says so. */
	{
		struct config *other = NULL;
		char keys[256];

		errs = config_errors_of("resize: {interval: 3s}\n", &other);
		free(errs);
		assert_int_equal(config_restart_keys(cfg, other, keys, sizeof(keys)), 1);
		assert_string_equal(keys, "resize");
		assert_int_equal(config_restart_keys(cfg, cfg, keys, sizeof(keys)), 0);
		config_free(other);
	}
	/* The defaults: local, 2 s, no policies. */
	config_free(cfg);
	errs = config_errors_of("", &cfg);
	free(errs);
	assert_int_equal(cfg->resize.source, CONFIG_RESIZE_LOCAL);
	assert_int_equal(cfg->resize.interval_ms, 2000);
	assert_null(cfg->resize.policies);
	config_free(cfg);

	/* Errors say where, with the policy's field. */
	errs = config_errors_of("resize:\n  policies:\n    - name: a\n      selector: {pool: x}\n",
				&cfg);
	assert_non_null(strstr(errs, "t.yaml:3:7: resize.policies[0]: selector.pool: must be a "
				     "pool's absolute"));
	free(errs);
	errs = config_errors_of(
		"resize:\n  policies:\n"
		"    - {name: a, selector: {pool: /p}, trigger: {used_percent: 80}, "
		"step: {percent: 5}, max_size_bytes: 10}\n"
		"    - {name: a, selector: {pool: /p}, trigger: {used_percent: 80}, "
		"step: {percent: 5}, max_size_bytes: 10}\n",
		&cfg);
	assert_non_null(strstr(errs, "resize.policies[1]: name: a is declared twice"));
	free(errs);
	errs = config_errors_of("resize:\n  policies:\n    - {name: a, selector: {pool: /p}, "
				"trigger: {used_percent: \"80\"}, step: {percent: 5}, "
				"max_size_bytes: 10}\n",
				&cfg);
	assert_non_null(strstr(errs, "trigger.used_percent: must be an integer"));
	free(errs);
	errs = config_errors_of("resize: {source: prometheus}\n", &cfg);
	assert_non_null(strstr(errs, "resize.source: prometheus needs resize.prometheus.url"));
	free(errs);
	errs = config_errors_of("resize: {source: kubelet}\n", &cfg);
	assert_non_null(strstr(errs, "resize.source: kubelet needs resize.kubelet.url"));
	free(errs);
	errs = config_errors_of("resize: {source: kubelet, kubelet: {url: https://127.0.0.1:10250, "
				"timeout: 3s, ca_file: /etc/kubelet-ca.pem}}\n",
				&cfg);
	assert_string_equal(errs, "");
	free(errs);
	assert_int_equal(cfg->resize.kubelet.timeout_ms, 3000);
	config_free(cfg);
	errs = config_errors_of("resize: {interval: 10ms}\n", &cfg);
	assert_non_null(strstr(errs, "resize.interval: out of range"));
	free(errs);
	errs = config_errors_of("resize: {prometheus: {url: ftp://x}}\n", &cfg);
	assert_non_null(strstr(errs, "resize.prometheus.url: must start with http"));
	free(errs);
	errs = config_errors_of("resize: {policies: {a: 1}}\n", &cfg);
	assert_non_null(strstr(errs, "resize.policies: expected a sequence of policies"));
	free(errs);
}

/* ======================= the monitor ======================= */

static struct quota_volumes *vservice(void)
{
	struct quota_volumes_opts o = {
		.ops = &fake_ops,
		.pools = fake_pools,
		.allocated = fake_allocated,
		.now = fixed_now,
		.now_ms = test_now_ms,
	};
	struct quota_volumes *v = NULL;
	char err[256];

	assert_int_equal(quota_volumes_new(&o, &v, err, sizeof(err)), 0);
	assert_int_equal(quota_volumes_sync(v), 0);
	return v;
}

/* Creates a volume; returns its project id. */
static uint32_t mkvol(struct quota_volumes *v, const char *body)
{
	json_t *j = json_loads(body, 0, NULL), *out = NULL;
	struct quota_create_req *req = NULL;
	bool c = false;
	char err[512];
	uint32_t id;

	assert_non_null(j);
	assert_int_equal(quota_create_req_parse(j, quota_volumes_limits(v), &req, err, sizeof(err)),
			 0);
	json_decref(j);
	if (quota_volume_create(v, req, &out, &c, err, sizeof(err)) < 0)
		fail_msg("create: %s", err);
	quota_create_req_free(req);
	id = (uint32_t)json_integer_value(json_object_get(out, "project_id"));
	json_decref(out);
	return id;
}

static uint64_t size_of(struct quota_volumes *v, const char *name, uint64_t *limit)
{
	json_t *out = NULL;
	char err[256];
	uint64_t s;

	assert_int_equal(quota_volume_get(v, name, &out, err, sizeof(err)), 0);
	s = (uint64_t)json_integer_value(json_object_get(out, "size_bytes"));
	if (limit)
		*limit = (uint64_t)json_integer_value(json_object_get(out, "limit_bytes"));
	json_decref(out);
	return s;
}

/* Sets the fake quota's usage of a volume to `pct` percent of its limit. */
static void use(const char *pool, uint32_t id, uint64_t limit, unsigned pct)
{
	pthread_mutex_lock(&F.lock);
	proj_of(pool, id, false)->bytes_used = limit * pct / 100;
	proj_of(pool, id, false)->inodes_used = 3;
	pthread_mutex_unlock(&F.lock);
}

static char *events_of(struct resize_monitor *m, const char *name)
{
	json_t *out = NULL;
	char err[256], *s;

	assert_int_equal(resize_monitor_events(m, name, &out, err, sizeof(err)), 0);
	s = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return s;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static char *metrics_of(struct resize_monitor *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	resize_monitor_metrics(m, f);
	fclose(f);
	return buf;
}

static void test_monitor_ticks(void **state)
{
	struct quota_volumes *v;
	struct resize_policies *ps = NULL;
	struct resize_monitor *m = NULL;
	struct resize_monitor_opts o = {
		.source = RESIZE_SOURCE_LOCAL, .interval_ms = 2000, .now_ms = test_now_ms};
	char err[512], *ev, *met;
	uint64_t limit, sizes[8];
	size_t n_sizes = 0;
	uint32_t id, other;
	json_t *out = NULL;
	(void)state;

	fake_reset();
	T_ms = 1700000000000;
	v = vservice();
	id = mkvol(v, "{\"name\":\"db\",\"size_bytes\":104857600,\"pool\":\"/mnt/pmem0\","
		      "\"labels\":{\"app\":\"db\"}}");
	other = mkvol(v, "{\"name\":\"web\",\"size_bytes\":104857600,\"pool\":\"/mnt/pmem0\"}");
	assert_int_equal(resize_policies_new(NULL, NULL, &ps, err, sizeof(err)), 0);
	assert_int_equal(create(ps, "{}", NULL, err, sizeof(err)), 0);
	o.volumes = v;
	o.policies = ps;
	assert_int_equal(resize_monitor_new(&o, &m, err, sizeof(err)), 0);

	/* Below the trigger: nothing. */
	sizes[n_sizes++] = size_of(v, "db", &limit);
	use("/mnt/pmem0", id, limit, 79);
	use("/mnt/pmem0", other, limit, 100); /* no policy selects it */
	assert_int_equal(resize_monitor_tick(m), 0);
	assert_int_equal(size_of(v, "db", NULL), 104857600);
	assert_int_equal(size_of(v, "web", NULL), 104857600);
	/* Crossing 80 %: one step of 50 % from the size now, through the resize path. */
	for (int round = 0; round < 6; round++) {
		T_ms += 2000;
		use("/mnt/pmem0", id, limit, 85);
		int r = resize_monitor_tick(m);
		uint64_t now = size_of(v, "db", &limit);

		if (now != sizes[n_sizes - 1])
			sizes[n_sizes++] = now;
		assert_true(r == 0 || r == 1);
		/* The same figures seen again after the resize: below the new trigger. */
		T_ms += 2000;
		assert_int_equal(resize_monitor_tick(m), 0);
	}
	/* 100 MiB → 150 → 225 → 338 (rounded up to the MiB) → 400 (capped at max), then no more. */
	assert_int_equal(n_sizes, 5);
	assert_int_equal(sizes[1], 150 * MiB);
	assert_int_equal(sizes[2], 225 * MiB);
	assert_int_equal(sizes[3], 338 * MiB);
	assert_int_equal(sizes[4], 400 * MiB);
	assert_int_equal(count(F.calls, "limit_set"), 2 + 4); /* two creates, four resizes */
	ev = events_of(m, "db");
	assert_int_equal(count(ev, "\"result\":\"resized\""), 3);
	assert_int_equal(count(ev, "\"result\":\"capped\""), 1);
	/* At max: told once, not at every pass. */
	assert_int_equal(count(ev, "\"result\":\"at_max\""), 1);
	assert_non_null(strstr(ev, "\"from_bytes\":104857600,\"to_bytes\":157286400"));
	free(ev);
	met = metrics_of(m);
	assert_non_null(strstr(met, "pmem_autoresize_total{result=\"resized\"} 3\n"));
	assert_non_null(strstr(met, "pmem_autoresize_total{result=\"capped\"} 1\n"));
	assert_non_null(strstr(met, "pmem_autoresize_total{result=\"at_max\"} 1\n"));
	assert_non_null(strstr(met, "pmem_autoresize_last_seconds{volume=\"db\"} 17000000"));
	assert_null(strstr(met, "volume=\"web\""));
	assert_non_null(strstr(met, "pmem_autoresize_volumes 1\n"));
	assert_non_null(strstr(met, "pmem_autoresize_pass_seconds_count 13\n"));
	free(met);
	ev = events_of(m, "web");
	assert_string_equal(ev, "{\"volume\":\"web\",\"events\":[]}");
	free(ev);
	assert_int_equal(resize_monitor_events(m, "gone", &out, err, sizeof(err)), -ENOENT);

	/* The resize path refuses a size decided on a size that changed meanwhile. */
	{
		struct quota_resize_req rq = {.size_bytes = 500 * MiB};

		assert_int_equal(
			quota_volume_resize_if(v, "db", &rq, 399 * MiB, &out, err, sizeof(err)),
			-EAGAIN);
		assert_non_null(strstr(err, "resized meanwhile"));
		assert_int_equal(size_of(v, "db", NULL), 400 * MiB);
	}

	/* A sample the local source cannot read: no action, counted as a source error. */
	pthread_mutex_lock(&F.lock);
	snprintf(F.fail_op, sizeof(F.fail_op), "usage_get");
	F.fail_err = -EIO;
	pthread_mutex_unlock(&F.lock);
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);
	pthread_mutex_lock(&F.lock);
	F.fail_op[0] = '\0';
	pthread_mutex_unlock(&F.lock);
	met = metrics_of(m);
	assert_non_null(strstr(met, "pmem_autoresize_source_errors_total{source=\"local\"} 1\n"));
	assert_non_null(strstr(met, "pmem_autoresize_source_up{source=\"local\"} 0\n"));
	free(met);

	/* A pool with no room: refused, said once; the resize path is not even asked. */
	{
		uint32_t big;
		uint64_t l2;
		size_t calls;

		assert_int_equal(create(ps,
					"{\"name\":\"all\",\"selector\":{\"labels\":null,"
					"\"volumes\":[\"big\"]},\"max_size_bytes\":"
					"10737418240}",
					NULL, err, sizeof(err)),
				 0);
		/* pmem1 holds 2 GiB: a volume of all of it (its quota is the size + 4 xfs blocks)
		 */
		big = mkvol(v, "{\"name\":\"big\",\"size_bytes\":2147467264,\"pool\":"
			       "\"/mnt/pmem1\"}");
		size_of(v, "big", &l2);
		use("/mnt/pmem1", big, l2, 95);
		calls = (size_t)count(F.calls, "limit_set");
		T_ms += 2000;
		assert_int_equal(resize_monitor_tick(m), 0);
		T_ms += 2000;
		assert_int_equal(resize_monitor_tick(m), 0);
		assert_int_equal(count(F.calls, "limit_set"), calls);
		ev = events_of(m, "big");
		assert_int_equal(count(ev, "\"result\":\"refused\""), 1);
		assert_non_null(strstr(ev, "bytes free"));
		free(ev);
	}

	/* A deleted volume's events go with it. */
	assert_int_equal(quota_volume_delete(v, "db", false, err, sizeof(err)), 0);
	T_ms += 2000;
	resize_monitor_tick(m);
	assert_int_equal(resize_monitor_events(m, "db", &out, err, sizeof(err)), -ENOENT);

	m = resize_monitor_free(m);
	ps = resize_policies_free(ps);
	v = quota_volumes_free(v);
}

/*
 * Many volumes, more than one run of the pass's lock (512): only those over their trigger
 * grow, each once, their events stay theirs when a deletion reorders the service's list (the
 * pass finds states by position first, by name when that misses), a volume made again under
 * a deleted name starts without history, and volumes added after a pass are watched by the
 * next (the pass's buffers grow).
 */
static void test_monitor_many(void **state)
{
	enum { N = 600 };
	static uint32_t ids[N + 8];
	struct quota_volumes *v;
	struct resize_policies *ps = NULL;
	struct resize_monitor *m = NULL;
	struct resize_monitor_opts o = {
		.source = RESIZE_SOURCE_LOCAL, .interval_ms = 2000, .now_ms = test_now_ms};
	char err[512], body[256], name[32], *ev, *met;
	uint64_t limit;
	json_t *out = NULL;
	(void)state;

	fake_reset();
	T_ms = 1700000000000;
	v = vservice();
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof(body),
			 "{\"name\":\"v%d\",\"size_bytes\":1048576,\"pool\":\"/mnt/pmem0\","
			 "\"labels\":{\"app\":\"db\"}}",
			 i);
		ids[i] = mkvol(v, body);
	}
	size_of(v, "v0", &limit);
	for (int i = 0; i < N; i++)
		use("/mnt/pmem0", ids[i], limit, 10);
	assert_int_equal(resize_policies_new(NULL, NULL, &ps, err, sizeof(err)), 0);
	assert_int_equal(create(ps, "{}", NULL, err, sizeof(err)), 0);
	o.volumes = v;
	o.policies = ps;
	assert_int_equal(resize_monitor_new(&o, &m, err, sizeof(err)), 0);

	/* All quiet. */
	assert_int_equal(resize_monitor_tick(m), 0);
	met = metrics_of(m);
	assert_non_null(strstr(met, "pmem_autoresize_volumes 600\n"));
	free(met);
	/* The first, one past the first lock run and the last cross: three resizes, no more. */
	use("/mnt/pmem0", ids[0], limit, 90);
	use("/mnt/pmem0", ids[520], limit, 90);
	use("/mnt/pmem0", ids[N - 1], limit, 90);
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 3);
	assert_int_equal(size_of(v, "v0", NULL), 2 * MiB);
	assert_int_equal(size_of(v, "v520", NULL), 2 * MiB);
	assert_int_equal(size_of(v, "v599", NULL), 2 * MiB);
	assert_int_equal(size_of(v, "v1", NULL), MiB);
	assert_int_equal(size_of(v, "v519", NULL), MiB);
	/* Usage as it was: below the new trigger. */
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);

	/* A deletion moves the last volume into the deleted one's place in the service's list. */
	assert_int_equal(quota_volume_delete(v, "v1", false, err, sizeof(err)), 0);
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "v%d", i == 0 ? 0 : i == 1 ? 520 : N - 1);
		ev = events_of(m, name);
		assert_int_equal(count(ev, "\"result\":\"resized\""), 1);
		assert_non_null(strstr(ev, "\"from_bytes\":1048576,\"to_bytes\":2097152"));
		free(ev);
	}
	ev = events_of(m, "v2");
	assert_string_equal(ev, "{\"volume\":\"v2\",\"events\":[]}");
	free(ev);
	assert_int_equal(resize_monitor_events(m, "v1", &out, err, sizeof(err)), -ENOENT);

	/* Made again, and more volumes: watched by the next pass, without the old history. */
	for (int i = 0; i < 8; i++) {
		snprintf(body, sizeof(body),
			 "{\"name\":\"%s%d\",\"size_bytes\":1048576,\"pool\":\"/mnt/pmem0\","
			 "\"labels\":{\"app\":\"db\"}}",
			 i ? "w" : "v", i ? i : 1);
		ids[N + i] = mkvol(v, body);
		use("/mnt/pmem0", ids[N + i], limit, i == 7 ? 95 : 10);
	}
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 1);
	assert_int_equal(size_of(v, "w7", NULL), 2 * MiB);
	ev = events_of(m, "v1");
	assert_string_equal(ev, "{\"volume\":\"v1\",\"events\":[]}");
	free(ev);
	met = metrics_of(m);
	assert_non_null(strstr(met, "pmem_autoresize_volumes 607\n"));
	assert_non_null(strstr(met, "pmem_autoresize_total{result=\"resized\"} 4\n"));
	free(met);

	/*
	 * A quiet pass uses the last pass's list again; whatever changes the list must not be
	 * missed. A quiet pass first (the one before resized w7, which moves the catalog).
	 */
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);
	{
		/* Resized by the API: decided from the new size (the old limit would make 85% of
		 * the new one an impossible sample, and no resize). */
		struct quota_resize_req rq = {.size_bytes = 4 * MiB};
		uint64_t limit4;

		assert_int_equal(quota_volume_resize(v, "v2", &rq, &out, err, sizeof(err)), 0);
		json_decref(out);
		out = NULL;
		size_of(v, "v2", &limit4);
		use("/mnt/pmem0", ids[2], limit4, 85);
		T_ms += 2000;
		assert_int_equal(resize_monitor_tick(m), 1);
		assert_int_equal(size_of(v, "v2", NULL), 6 * MiB);
		use("/mnt/pmem0", ids[2], limit4, 10);
	}
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);
	/* A policy that sorts first and triggers earlier, for v3: at 60% it now grows. */
	use("/mnt/pmem0", ids[3], limit, 60);
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);
	assert_int_equal(create(ps,
				"{\"name\":\"00-early\",\"selector\":{\"labels\":null,"
				"\"volumes\":[\"v3\"]},\"trigger\":{\"used_percent\":50}}",
				NULL, err, sizeof(err)),
			 0);
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 1);
	assert_int_equal(size_of(v, "v3", NULL), 2 * MiB);
	/* Deleted after a quiet pass: no longer watched, its history gone. */
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);
	assert_int_equal(quota_volume_delete(v, "v4", false, err, sizeof(err)), 0);
	T_ms += 2000;
	assert_int_equal(resize_monitor_tick(m), 0);
	assert_int_equal(resize_monitor_events(m, "v4", &out, err, sizeof(err)), -ENOENT);
	met = metrics_of(m);
	assert_non_null(strstr(met, "pmem_autoresize_volumes 606\n"));
	free(met);

	m = resize_monitor_free(m);
	ps = resize_policies_free(ps);
	v = quota_volumes_free(v);
}

/* Sets the fake quota's inode usage of a volume (bytes stay below any trigger). */
static void use_inodes(const char *pool, uint32_t id, uint64_t inodes)
{
	pthread_mutex_lock(&F.lock);
	proj_of(pool, id, false)->bytes_used = 4096;
	proj_of(pool, id, false)->inodes_used = inodes;
	pthread_mutex_unlock(&F.lock);
}

static uint64_t inodes_of(struct quota_volumes *v, const char *name)
{
	json_t *out = NULL;
	char err[256];
	uint64_t n;

	assert_int_equal(quota_volume_get(v, name, &out, err, sizeof(err)), 0);
	n = (uint64_t)json_integer_value(json_object_get(out, "inodes"));
	json_decref(out);
	return n;
}

/*
 * Inodes: a volume with an inode limit of 100 and a policy >= 80 % / +50 % / max 400 inodes
 * grows its inode limit, not its size, through the resize path (the kernel's limit with it),
 * one step per crossing, and says at max once. A volume without an inode limit never does.
 */
static void test_monitor_inodes(void **state)
{
	struct quota_volumes *v;
	struct resize_policies *ps = NULL;
	struct resize_monitor *m = NULL;
	struct resize_monitor_opts o = {
		.source = RESIZE_SOURCE_LOCAL, .interval_ms = 2000, .now_ms = test_now_ms};
	char err[512], *ev, *met;
	uint64_t seen[8];
	size_t n_seen = 0;
	uint32_t id, none;
	(void)state;

	fake_reset();
	T_ms = 1700000000000;
	v = vservice();
	id = mkvol(v, "{\"name\":\"files\",\"size_bytes\":104857600,\"pool\":\"/mnt/pmem0\","
		      "\"inodes\":100,\"labels\":{\"app\":\"db\"}}");
	none = mkvol(v, "{\"name\":\"nolimit\",\"size_bytes\":104857600,\"pool\":\"/mnt/pmem0\","
			"\"labels\":{\"app\":\"db\"}}");
	assert_int_equal(resize_policies_new(NULL, NULL, &ps, err, sizeof(err)), 0);
	assert_int_equal(create(ps,
				"{\"trigger\":{\"inodes_used_percent\":80},\"step\":{"
				"\"inodes_percent\":50},\"max_inodes\":400}",
				NULL, err, sizeof(err)),
			 0);
	o.volumes = v;
	o.policies = ps;
	assert_int_equal(resize_monitor_new(&o, &m, err, sizeof(err)), 0);

	seen[n_seen++] = inodes_of(v, "files");
	use_inodes("/mnt/pmem0", id, 79);
	use_inodes("/mnt/pmem0", none, 1000000);
	assert_int_equal(resize_monitor_tick(m), 0);
	assert_int_equal(inodes_of(v, "files"), 100);
	for (int round = 0; round < 6; round++) {
		uint64_t lim = inodes_of(v, "files"), now;

		T_ms += 2000;
		use_inodes("/mnt/pmem0", id, lim * 85 / 100);
		assert_true(resize_monitor_tick(m) <= 1);
		now = inodes_of(v, "files");
		if (now != seen[n_seen - 1])
			seen[n_seen++] = now;
		/* The kernel's limit is the volume's, the size untouched. */
		pthread_mutex_lock(&F.lock);
		assert_int_equal(proj_of("/mnt/pmem0", id, false)->inodes_limit, now);
		pthread_mutex_unlock(&F.lock);
		assert_int_equal(size_of(v, "files", NULL), 104857600);
		T_ms += 2000;
		assert_int_equal(resize_monitor_tick(m), 0);
	}
	/* 100 → 150 → 225 → 338 → 400 (capped at max_inodes), then no more. */
	assert_int_equal(n_seen, 5);
	assert_int_equal(seen[1], 150);
	assert_int_equal(seen[2], 225);
	assert_int_equal(seen[3], 338);
	assert_int_equal(seen[4], 400);
	assert_int_equal(inodes_of(v, "nolimit"), 0);
	ev = events_of(m, "files");
	assert_int_equal(count(ev, "\"result\":\"resized\""), 3);
	assert_int_equal(count(ev, "\"result\":\"capped\""), 1);
	assert_int_equal(count(ev, "\"result\":\"at_max\""), 1);
	assert_non_null(strstr(ev, "\"from_bytes\":104857600,\"to_bytes\":104857600,"
				   "\"from_inodes\":100,\"to_inodes\":150"));
	assert_non_null(strstr(ev, "at max_inodes after this resize"));
	free(ev);
	ev = events_of(m, "nolimit");
	assert_string_equal(ev, "{\"volume\":\"nolimit\",\"events\":[]}");
	free(ev);
	met = metrics_of(m);
	assert_non_null(strstr(met, "pmem_autoresize_grown_total{part=\"bytes\"} 0\n"));
	assert_non_null(strstr(met, "pmem_autoresize_grown_total{part=\"inodes\"} 4\n"));
	free(met);

	m = resize_monitor_free(m);
	ps = resize_policies_free(ps);
	v = quota_volumes_free(v);
}

/*
 * The monitor with the Prometheus source (pmemd's own metrics, matched by volume label) against
 * a fake Prometheus: a 500 and a body that is not JSON resize nothing and count as source
 * errors; a good answer over the trigger resizes.
 */
static void test_monitor_prometheus(void **state)
{
	static char used[512], cap[512];
	struct fake_http fk;
	struct quota_volumes *v;
	struct resize_policies *ps = NULL;
	struct resize_monitor *m = NULL;
	char url[64], err[512], *met;
	struct resize_prom_opts po = {.preset = RESIZE_PROM_PMEMD, .timeout_ms = 2000};
	struct resize_monitor_opts o = {.source = RESIZE_SOURCE_PROMETHEUS,
					.interval_ms = 2000,
					.now_ms = test_now_ms,
					.prom = &po};
	(void)state;

	fake_reset();
	T_ms = 1700000000000;
	memset(&fk, 0, sizeof(fk));
	assert_int_equal(fake_http_start(&fk), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", fk.port);
	po.url = url;
	v = vservice();
	mkvol(v, "{\"name\":\"db\",\"size_bytes\":104857600,\"pool\":\"/mnt/pmem0\","
		 "\"labels\":{\"app\":\"db\"}}");
	assert_int_equal(resize_policies_new(NULL, NULL, &ps, err, sizeof(err)), 0);
	assert_int_equal(create(ps, "{}", NULL, err, sizeof(err)), 0);
	o.volumes = v;
	o.policies = ps;
	assert_int_equal(resize_monitor_new(&o, &m, err, sizeof(err)), 0);

	/*
	 * The log (stderr, captured): a failure is told when it starts and when its
	 * reason changes (a 500, then a body that is not JSON), not at every pass.
	 */
	{
		char path[] = "/tmp/test-resize-log-XXXXXX", *text = NULL;
		int fd = mkstemp(path), saved = dup(2);
		size_t len = 0;
		FILE *f;

		assert_true(fd >= 0 && saved >= 0);
		fflush(stderr);
		dup2(fd, 2);
		fake_http_can(&fk, 0, NULL, 500, "{\"status\":\"error\",\"error\":\"boom\"}");
		assert_true(resize_monitor_tick(m) < 0);
		T_ms += 2000;
		assert_true(resize_monitor_tick(m) < 0);
		fake_http_can(&fk, 0, NULL, 200, "<html>not json</html>");
		T_ms += 2000;
		assert_true(resize_monitor_tick(m) < 0);
		T_ms += 2000;
		assert_true(resize_monitor_tick(m) < 0);
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		f = fopen(path, "r");
		assert_non_null(f);
		text = calloc(1, 65536);
		len = fread(text, 1, 65535, f);
		fclose(f);
		close(fd);
		unlink(path);
		fputs(text, stderr);
		assert_true(len > 0);
		assert_int_equal(count(text, "event=resize_source_failed"), 2);
		assert_int_equal(count(text, "HTTP 500"), 1);
		assert_int_equal(count(text, "not JSON"), 1);
		free(text);
	}
	assert_int_equal(size_of(v, "db", NULL), 104857600);
	met = metrics_of(m);
	assert_non_null(
		strstr(met, "pmem_autoresize_source_errors_total{source=\"prometheus\"} 4\n"));
	assert_non_null(strstr(met, "pmem_autoresize_source_up{source=\"prometheus\"} 0\n"));
	assert_non_null(strstr(met, "pmem_autoresize_total{result=\"resized\"} 0\n"));
	free(met);

	/* 90 % used, measured now: one step. */
	snprintf(used, sizeof(used),
		 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		 "{\"metric\":{\"volume\":\"db\"},\"value\":[%lld,\"94371840\"]}]}}",
		 (long long)(T_ms / 1000));
	snprintf(cap, sizeof(cap),
		 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		 "{\"metric\":{\"volume\":\"db\"},\"value\":[%lld,\"104857600\"]}]}}",
		 (long long)(T_ms / 1000));
	fake_http_can(&fk, 0, "pmem_volume_used_bytes", 200, used);
	fake_http_can(&fk, 1, "pmem_volume_capacity_bytes", 200, cap);
	fake_http_can(
		&fk, 2, NULL, 200,
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
	assert_int_equal(resize_monitor_tick(m), 1);
	assert_int_equal(size_of(v, "db", NULL), 150 * MiB);
	/* The same scraped figures again: taken before the resize finished, ignored. */
	T_ms += 1000;
	assert_int_equal(resize_monitor_tick(m), 0);
	assert_int_equal(size_of(v, "db", NULL), 150 * MiB);
	met = metrics_of(m);
	assert_non_null(strstr(met, "pmem_autoresize_source_up{source=\"prometheus\"} 1\n"));
	assert_non_null(strstr(met, "pmem_autoresize_total{result=\"resized\"} 1\n"));
	free(met);

	m = resize_monitor_free(m);
	ps = resize_policies_free(ps);
	v = quota_volumes_free(v);
	fake_http_stop(&fk);
}

/* The thread: started, and stopped by free (no sleep-and-hope assertion on what it did). */
static void test_monitor_thread(void **state)
{
	struct quota_volumes *v;
	struct resize_policies *ps = NULL;
	struct resize_monitor *m = NULL;
	struct resize_monitor_opts o = {.source = RESIZE_SOURCE_LOCAL, .interval_ms = 10};
	char err[256];
	(void)state;

	fake_reset();
	v = vservice();
	assert_int_equal(resize_policies_new(NULL, NULL, &ps, err, sizeof(err)), 0);
	o.volumes = v;
	o.policies = ps;
	assert_int_equal(resize_monitor_new(&o, &m, err, sizeof(err)), 0);
	assert_int_equal(resize_monitor_start(m, err, sizeof(err)), 0);
	m = resize_monitor_free(m);
	o.source = RESIZE_SOURCE_KUBELET;
	assert_int_equal(resize_monitor_new(&o, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "resize.kubelet"));
	o.source = RESIZE_SOURCE_PROMETHEUS;
	assert_int_equal(resize_monitor_new(&o, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "resize.prometheus"));
	ps = resize_policies_free(ps);
	v = quota_volumes_free(v);
}

/* ======================= HTTP ======================= */

static void test_http(void **state)
{
	struct quota_volumes *v;
	struct resize_policies *ps = NULL;
	struct resize_monitor *m = NULL;
	struct resize_monitor_opts o = {.source = RESIZE_SOURCE_LOCAL, .now_ms = test_now_ms};
	struct api_server *srv;
	struct config *cfg;
	char yaml[256], err[256], body[1024];
	struct reply *r;
	uint16_t port = free_port();
	uint64_t limit;
	uint32_t id;
	(void)state;

	fake_reset();
	T_ms = 1700000000000;
	v = vservice();
	id = mkvol(v, "{\"name\":\"db\",\"size_bytes\":104857600,\"pool\":\"/mnt/pmem0\","
		      "\"labels\":{\"app\":\"db\"}}");
	assert_int_equal(resize_policies_new(NULL, NULL, &ps, err, sizeof(err)), 0);
	o.volumes = v;
	o.policies = ps;
	assert_int_equal(resize_monitor_new(&o, &m, err, sizeof(err)), 0);
	snprintf(yaml, sizeof(yaml), "log_level: error\nlisten:\n  - tcp: 127.0.0.1:%u\n", port);
	cfg = cfg_of(yaml);
	struct api_hooks hooks = {.services = {.volumes = v, .resize_policies = ps, .resize = m}};
	assert_int_equal(api_server_start(&srv, cfg, &hooks, err, sizeof(err)), 0);

	r = http(port, "POST", "/v1/resize-policies", BASE);
	assert_int_equal(r->status, 201);
	assert_non_null(strstr(r->body, "\"origin\":\"api\""));
	r = http(port, "POST", "/v1/resize-policies", BASE);
	assert_int_equal(r->status, 200);
	snprintf(body, sizeof(body), "%.*s,\"cooldown_seconds\":9}", (int)strlen(BASE) - 1, BASE);
	r = http(port, "POST", "/v1/resize-policies", body);
	assert_int_equal(r->status, 409);
	assert_non_null(strstr(r->body, "\"code\":\"conflict\""));
	r = http(port, "POST", "/v1/resize-policies", "{\"name\":\"x\",\"bogus\":1}");
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "\\\"bogus\\\": unknown field"));
	r = http(port, "POST", "/v1/resize-policies", "{\"name\":");
	assert_int_equal(r->status, 400);
	r = http(port, "PUT", "/v1/resize-policies/db", body);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"cooldown_seconds\":9"));
	r = http(port, "PUT", "/v1/resize-policies/db2", body);
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "differs from the path"));
	r = http(port, "GET", "/v1/resize-policies", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "{\"policies\":[{"));
	r = http(port, "GET", "/v1/resize-policies/db", NULL);
	assert_int_equal(r->status, 200);
	r = http(port, "GET", "/v1/resize-policies/nope", NULL);
	assert_int_equal(r->status, 404);
	r = http(port, "GET", "/v1/resize-policies/a%2Eb%20c", NULL);
	assert_int_equal(r->status, 404);
	r = http(port, "PATCH", "/v1/resize-policies/db", body);
	assert_int_equal(r->status, 405);

	/* A tick with usage over the trigger: resized, and the event is served. */
	size_of(v, "db", &limit);
	use("/mnt/pmem0", id, limit, 90);
	assert_int_equal(resize_monitor_tick(m), 1);
	r = http(port, "GET", "/v1/volumes/db/events", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"result\":\"resized\""));
	assert_non_null(strstr(r->body, "\"to_bytes\":157286400"));
	r = http(port, "GET", "/v1/volumes/db", NULL);
	assert_non_null(strstr(r->body, "\"size_bytes\":157286400"));
	r = http(port, "GET", "/v1/volumes/nope/events", NULL);
	assert_int_equal(r->status, 404);
	r = http(port, "GET", "/v1/volumes/BAD/events", NULL);
	assert_int_equal(r->status, 404);
	r = http(port, "GET", "/metrics", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "pmem_autoresize_total{result=\"resized\"} 1\n"));

	r = http(port, "DELETE", "/v1/resize-policies/db", NULL);
	assert_int_equal(r->status, 204);
	r = http(port, "DELETE", "/v1/resize-policies/db", NULL);
	assert_int_equal(r->status, 404);

	api_server_stop(srv, 1000);
	config_free(cfg);
	m = resize_monitor_free(m);
	ps = resize_policies_free(ps);
	v = quota_volumes_free(v);
}

static void test_openapi(void **state)
{
	extern const char pmemd_openapi_json[];
	extern const char pmemd_openapi_json_end[];
	static const char *const want[][2] = {
		{"/v1/resize-policies", "post"},	  {"/v1/resize-policies", "get"},
		{"/v1/resize-policies/{name}", "get"},	  {"/v1/resize-policies/{name}", "put"},
		{"/v1/resize-policies/{name}", "delete"}, {"/v1/volumes/{name}/events", "get"},
	};
	json_t *doc = json_loadb(pmemd_openapi_json,
				 (size_t)(pmemd_openapi_json_end - pmemd_openapi_json), 0, NULL);
	(void)state;

	assert_non_null(doc);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!json_object_get(json_object_get(json_object_get(doc, "paths"), want[i][0]),
				     want[i][1]))
			fail_msg("not in docs/openapi.json: %s %s", want[i][1], want[i][0]);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_validation),
		cmocka_unit_test(test_selection),
		cmocka_unit_test(test_crud_and_persistence),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_monitor_ticks),
		cmocka_unit_test(test_monitor_many),
		cmocka_unit_test(test_monitor_inodes),
		cmocka_unit_test(test_monitor_prometheus),
		cmocka_unit_test(test_monitor_thread),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_openapi),
	};

	log_set_level(LOG_LVL_ERROR);
	curl_global_init(CURL_GLOBAL_ALL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
