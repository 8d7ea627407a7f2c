/* test-config: config/ parsing, every error class at its exact position, matching, reload diffs,
 * dumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "sched/sched.h"

#define NAME	"pmemd.yaml"
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
/* --node-label arguments are argv strings, hence not const. */
#define LABEL(s) ((char *)(s))

/* ---- helpers ------------------------------------------------------------ */

static struct config *parse_named(const char *name, const char *yaml, char *const *extra)
{
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;
	int r = config_parse(name, yaml, strlen(yaml), extra, &cfg, &errs);

	if (r != 0)
		config_errors_print(errs, stderr);
	assert_int_equal(r, 0);
	assert_non_null(errs);
	assert_int_equal(errs->count, 0);
	assert_non_null(cfg);
	config_errors_free(errs);
	return cfg;
}

static struct config *parse_extra(const char *yaml, char *const *extra)
{
	return parse_named(NAME, yaml, extra);
}

static struct config *parse_ok(const char *yaml)
{
	return parse_extra(yaml, NULL);
}

static struct config *load_ok(const char *path)
{
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;
	int r = config_load(path, NULL, &cfg, &errs);

	if (r != 0)
		config_errors_print(errs, stderr);
	assert_int_equal(r, 0);
	assert_int_equal(errs->count, 0);
	config_errors_free(errs);
	return cfg;
}

/* One expected error: its exact position and a substring of its message. */
struct want {
	unsigned line;
	unsigned col;
	const char *msg;
};

static void check_errors(const struct config_errors *errs, const struct want *w, size_t n)
{
	bool ok = errs && errs->count == n;

	for (size_t i = 0; ok && i < n; i++)
		ok = errs->items[i].pos.line == w[i].line && errs->items[i].pos.col == w[i].col &&
		     strstr(errs->items[i].message, w[i].msg) != NULL;
	if (!ok) {
		fprintf(stderr, "expected %zu error(s):\n", n);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  %u:%u: ...%s...\n", w[i].line, w[i].col, w[i].msg);
		fprintf(stderr, "got %zu:\n", errs ? errs->count : 0);
		config_errors_print(errs, stderr);
	}
	assert_true(ok);
}

static void expect_errors_n(const char *yaml, char *const *extra, const struct want *w, size_t n)
{
	struct config *cfg = (struct config *)1;
	struct config_errors *errs = NULL;
	int r = config_parse(NAME, yaml, strlen(yaml), extra, &cfg, &errs);

	assert_int_equal(r, -EINVAL);
	assert_null(cfg);
	check_errors(errs, w, n);
	config_errors_free(errs);
}

#define EXPECT_ERRORS(yaml, ...)                                             \
	do {                                                                 \
		const struct want w_[] = {__VA_ARGS__};                      \
		expect_errors_n(yaml, NULL, w_, sizeof(w_) / sizeof(w_[0])); \
	} while (0)

static char *dump_yaml(const struct config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(config_write_yaml(cfg, f), 0);
	fclose(f);
	return text;
}

static char *dump_json(const struct config *cfg)
{
	json_t *j = config_to_json(cfg);
	char *s;

	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	assert_non_null(s);
	return s;
}

static unsigned cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

/* ---- valid configs ------------------------------------------------------ */

static void test_empty_means_defaults(void **state)
{
	static const char *const empties[] = {"", "# nothing but a comment\n", "---\n", "~\n",
					      "--- {}\n"};
	char host[256] = "";

	(void)state;
	gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	for (size_t i = 0; i < N_OF(empties); i++) {
		struct config *cfg = parse_ok(empties[i]);

		assert_string_equal(cfg->source, NAME);
		assert_string_equal(cfg->node_name, host);
		assert_int_equal(cfg->log_level, LOG_LVL_INFO);
		assert_int_equal(cfg->threads, cores());
		assert_int_equal(cfg->n_labels, 0);
		assert_int_equal(cfg->n_pools, 0);
		assert_int_equal(cfg->n_listen, 2);
		assert_int_equal(cfg->listen[0].kind, CONFIG_LISTEN_UNIX);
		assert_string_equal(cfg->listen[0].path, CONFIG_DEFAULT_SOCKET);
		assert_int_equal(cfg->listen[0].mode, 0660);
		assert_null(cfg->listen[0].owner);
		assert_null(cfg->listen[0].group);
		assert_int_equal(cfg->listen[1].kind, CONFIG_LISTEN_TCP);
		assert_string_equal(cfg->listen[1].host, "127.0.0.1");
		assert_int_equal(cfg->listen[1].port, 8080);
		assert_null(cfg->listen[1].auth.token_file);
		assert_int_equal(cfg->limits.max_body_bytes, 1024 * 1024);
		assert_int_equal(cfg->limits.max_connections, 1024);
		assert_int_equal(cfg->limits.per_client_connections, 64);
		assert_int_equal(cfg->limits.request_timeout_ms, 30000);
		assert_true(cfg->volumes.overcommit_ratio == 1.0);
		assert_int_equal(cfg->volumes.n_publish_roots, 1);
		assert_string_equal(cfg->volumes.publish_roots[0], "/var/lib/kubelet");
		assert_null(cfg->volumes.publish_roots[1]);
		assert_int_equal(cfg->volumes.max_volume_size_bytes, 0);
		/* The host name doubles as kubernetes.io/hostname. */
		assert_string_equal(config_label_get(cfg, "kubernetes.io/hostname"), host);
		config_free(cfg);
	}
}

static const char full_yaml[] = "node_name: node-a\n"
				"log_level: debug\n"
				"threads: 8\n"
				"labels:\n"
				"  topology.kubernetes.io/zone: z1\n"
				"  rack: r7\n"
				"  empty: \"\"\n"
				"listen:\n"
				"  - unix: /run/pmemd/pmemd.sock\n"
				"    mode: \"0600\"\n"
				"    owner: root\n"
				"    group: \"1000\"\n"
				"  - tcp: 127.0.0.1:8080\n"
				"  - tcp: 10.0.0.5:8443\n"
				"    auth:\n"
				"      token_file: /etc/pmemd/token\n"
				"      tls_cert: /etc/pmemd/tls.crt\n"
				"      tls_key: /etc/pmemd/tls.key\n"
				"      client_ca: /etc/pmemd/ca.crt\n"
				"limits:\n"
				"  max_body: 500M\n"
				"  max_connections: 100\n"
				"  per_client_connections: 10\n"
				"  request_timeout: 1500ms\n"
				"pools:\n"
				"  - name: /mnt/pmem0\n"
				"    key: topology.kubernetes.io/zone\n"
				"    operator: NotIn\n"
				"    values: [z2, z3]\n"
				"    topology:\n"
				"      type: pmem\n"
				"      options: prjquota,shared\n"
				"      fstype: xfs\n"
				"    regions: [region0, region2]\n"
				"  - name: /mnt/kmem\n"
				"    key: rack\n"
				"    operator: Exists\n"
				"    topology: {type: kmem}\n"
				"    regions:\n"
				"      - region1\n"
				"placement: {}\n"
				"resize:\n";

static void test_every_key(void **state)
{
	struct config *cfg = parse_ok(full_yaml);
	const struct config_pool *p;

	(void)state;
	assert_string_equal(cfg->node_name, "node-a");
	assert_int_equal(cfg->log_level, LOG_LVL_DEBUG);
	assert_int_equal(cfg->threads, 8);
	assert_int_equal(cfg->n_labels, 3);
	assert_string_equal(config_label_get(cfg, "topology.kubernetes.io/zone"), "z1");
	assert_string_equal(config_label_get(cfg, "rack"), "r7");
	assert_string_equal(config_label_get(cfg, "empty"), "");
	assert_null(config_label_get(cfg, "missing"));

	assert_int_equal(cfg->n_listen, 3);
	assert_int_equal(cfg->listen[0].kind, CONFIG_LISTEN_UNIX);
	assert_int_equal(cfg->listen[0].mode, 0600);
	assert_string_equal(cfg->listen[0].owner, "root");
	assert_string_equal(cfg->listen[0].group, "1000");
	assert_int_equal(cfg->listen[0].pos.line, 9);
	assert_int_equal(cfg->listen[0].pos.col, 5);
	assert_int_equal(cfg->listen[2].kind, CONFIG_LISTEN_TCP);
	assert_string_equal(cfg->listen[2].host, "10.0.0.5");
	assert_int_equal(cfg->listen[2].port, 8443);
	assert_string_equal(cfg->listen[2].auth.token_file, "/etc/pmemd/token");
	assert_string_equal(cfg->listen[2].auth.tls_cert, "/etc/pmemd/tls.crt");
	assert_string_equal(cfg->listen[2].auth.tls_key, "/etc/pmemd/tls.key");
	assert_string_equal(cfg->listen[2].auth.client_ca, "/etc/pmemd/ca.crt");

	assert_int_equal(cfg->limits.max_body_bytes, 500000000);
	assert_int_equal(cfg->limits.max_connections, 100);
	assert_int_equal(cfg->limits.per_client_connections, 10);
	assert_int_equal(cfg->limits.request_timeout_ms, 1500);

	assert_int_equal(cfg->n_pools, 2);
	p = &cfg->pools[0];
	assert_string_equal(p->name, "/mnt/pmem0");
	assert_string_equal(p->key, "topology.kubernetes.io/zone");
	assert_int_equal(p->op, CONFIG_OP_NOT_IN);
	assert_int_equal(p->n_values, 2);
	assert_string_equal(p->values[0], "z2");
	assert_string_equal(p->values[1], "z3");
	assert_null(p->values[2]);
	assert_int_equal(p->type, CONFIG_POOL_PMEM);
	assert_string_equal(p->options, "prjquota,shared");
	assert_int_equal(p->fstype, CONFIG_FS_XFS);
	assert_int_equal(p->n_regions, 2);
	assert_string_equal(p->regions[1], "region2");
	assert_null(p->regions[2]);
	assert_int_equal(p->pos.line, 26);
	assert_int_equal(p->pos.col, 5);
	p = &cfg->pools[1];
	assert_int_equal(p->op, CONFIG_OP_EXISTS);
	assert_int_equal(p->n_values, 0);
	assert_int_equal(p->type, CONFIG_POOL_KMEM);
	assert_null(p->options);
	assert_string_equal(p->regions[0], "region1");
	config_free(cfg);
}

static void test_seed_fixture(void **state)
{
	struct config *cfg = load_ok("test/unit/data/seed-topology.yaml");
	const struct config_pool *p = &cfg->pools[0];

	(void)state;
	assert_string_equal(cfg->source, "test/unit/data/seed-topology.yaml");
	assert_int_equal(cfg->n_pools, 1);
	assert_string_equal(p->name, "/mnt/path1");
	assert_string_equal(p->key, "kubernetes.io/hostname");
	assert_int_equal(p->op, CONFIG_OP_IN);
	assert_int_equal(p->n_values, 1);
	assert_string_equal(p->values[0], "cn-beijing.192.168.3.36");
	assert_int_equal(p->type, CONFIG_POOL_PMEM);
	assert_string_equal(p->options, "prjquota,shared");
	assert_int_equal(p->fstype, CONFIG_FS_EXT4);
	assert_int_equal(p->n_regions, 1);
	assert_string_equal(p->regions[0], "region0");
	assert_int_equal(p->pos.line, 4);
	assert_int_equal(p->pos.col, 3);
	config_free(cfg);
}

static void test_deploy_examples(void **state)
{
	struct config *cfg = load_ok("deploy/pmemd.example.yaml");

	(void)state;
	assert_int_equal(cfg->n_pools, 2);
	assert_string_equal(cfg->pools[0].name, "/mnt/pmem0");
	assert_string_equal(cfg->pools[0].regions[0], "region0");
	assert_int_equal(cfg->pools[0].fstype, CONFIG_FS_EXT4);
	assert_string_equal(cfg->pools[1].name, "/mnt/pmem1");
	assert_string_equal(cfg->pools[1].regions[0], "region1");
	assert_int_equal(cfg->pools[1].fstype, CONFIG_FS_XFS);
	assert_int_equal(cfg->n_listen, 2);
	assert_string_equal(cfg->listen[0].path, CONFIG_DEFAULT_SOCKET);
	assert_string_equal(cfg->listen[1].host, "127.0.0.1");
	assert_int_equal(cfg->listen[1].port, 8080);
	config_free(cfg);

	cfg = load_ok("deploy/pmemd.demo.yaml");
	assert_int_equal(cfg->n_pools, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_null(cfg->pools[i].key);
		assert_true(config_pool_matches(&cfg->pools[i], cfg));
	}
	assert_int_equal(cfg->pools[0].fstype, CONFIG_FS_EXT4);
	assert_int_equal(cfg->pools[1].fstype, CONFIG_FS_XFS);
	assert_int_equal(cfg->n_listen, 2);
	assert_int_equal(cfg->listen[0].kind, CONFIG_LISTEN_TCP);
	assert_string_equal(cfg->listen[0].host, "127.0.0.1");
	assert_int_equal(cfg->listen[0].port, 8080);
	assert_int_equal(cfg->listen[1].kind, CONFIG_LISTEN_UNIX);
	assert_string_equal(cfg->listen[1].path, "/run/pmemd/pmemd.sock");
	config_free(cfg);
}

static void test_selector_forms(void **state)
{
	struct config *cfg = parse_ok("pools:\n"
				      "  - name: /mnt/a\n" /* no selector: every node */
				      "    regions: [region0]\n"
				      "  - name: /mnt/b\n" /* value, operator defaults to In */
				      "    key: zone\n"
				      "    value: z1\n"
				      "    regions: [region1]\n"
				      "  - name: /mnt/c\n"
				      "    key: zone\n"
				      "    operator: In\n"
				      "    values: [z1, z2]\n"
				      "    regions: [region2]\n"
				      "  - name: /mnt/d\n"
				      "    key: zone\n"
				      "    operator: DoesNotExist\n"
				      "    regions: [region3]\n");

	(void)state;
	assert_null(cfg->pools[0].key);
	assert_int_equal(cfg->pools[0].n_values, 0);
	assert_null(cfg->pools[0].values);
	assert_int_equal(cfg->pools[1].op, CONFIG_OP_IN);
	assert_int_equal(cfg->pools[1].n_values, 1);
	assert_string_equal(cfg->pools[1].values[0], "z1");
	assert_null(cfg->pools[1].values[1]);
	assert_int_equal(cfg->pools[2].n_values, 2);
	assert_int_equal(cfg->pools[3].op, CONFIG_OP_DOES_NOT_EXIST);
	config_free(cfg);
}

static void test_listen_forms(void **state)
{
	struct config *cfg = parse_ok("listen:\n"
				      "  - tcp: \"[::1]:8080\"\n"
				      "  - tcp: '[::ffff:127.0.0.2]:1'\n"
				      "  - tcp: 127.1.2.3:65535\n"
				      "  - tcp: \"[2001:db8::1]:443\"\n"
				      "    auth: {token_file: /etc/pmemd/token}\n"
				      "  - tcp: 0.0.0.0:8443\n"
				      "    auth: {tls_cert: /c.pem, tls_key: /k.pem}\n"
				      "  - unix: /run/a.sock\n"
				      "    mode: 0660\n"
				      "  - unix: /run/b.sock\n"
				      "    mode: \"0640\"\n"
				      "  - unix: /run/c.sock\n"
				      "    mode: 600\n"
				      "  - unix: /run/d.sock\n"
				      "    mode: 0o777\n"
				      "  - unix: /run/e.sock\n"
				      "    mode: '0'\n"
				      "    owner: _pmemd-svc.1\n"
				      "    group: \"4294967294\"\n");

	(void)state;
	assert_int_equal(cfg->n_listen, 10);
	assert_string_equal(cfg->listen[0].host, "::1");
	assert_int_equal(cfg->listen[0].port, 8080);
	assert_string_equal(cfg->listen[1].host, "::ffff:127.0.0.2");
	assert_int_equal(cfg->listen[2].port, 65535);
	assert_string_equal(cfg->listen[3].host, "2001:db8::1");
	assert_int_equal(cfg->listen[5].mode, 0660);
	assert_int_equal(cfg->listen[6].mode, 0640);
	assert_int_equal(cfg->listen[7].mode, 0600);
	assert_int_equal(cfg->listen[8].mode, 0777);
	assert_int_equal(cfg->listen[9].mode, 0);
	assert_string_equal(cfg->listen[9].owner, "_pmemd-svc.1");
	config_free(cfg);
}

static void test_units_and_limits(void **state)
{
	struct config *cfg = parse_ok("threads: 256\n"
				      "limits:\n"
				      "  max_body: 1Gi\n"
				      "  max_connections: 10\n" /* per_client follows it down */
				      "  request_timeout: 1h\n");

	(void)state;
	assert_int_equal(cfg->threads, 256);
	assert_int_equal(cfg->limits.max_body_bytes, 1ULL << 30);
	assert_int_equal(cfg->limits.max_connections, 10);
	assert_int_equal(cfg->limits.per_client_connections, 10);
	assert_int_equal(cfg->limits.request_timeout_ms, 3600000);
	config_free(cfg);

	cfg = parse_ok("threads: 0\nlimits:\n  max_body: 1\n  request_timeout: 1\n"
		       "  max_connections: 1000000\n  per_client_connections: 1000000\n");
	assert_int_equal(cfg->threads, cores());
	assert_int_equal(cfg->limits.max_body_bytes, 1);
	assert_int_equal(cfg->limits.request_timeout_ms, 1000);
	assert_int_equal(cfg->limits.per_client_connections, 1000000);
	config_free(cfg);
}

static void test_extra_labels(void **state)
{
	char *const extra[] = {LABEL("rack=r9"), LABEL("new.example.com/role=storage"),
			       LABEL("blank="), NULL};
	struct config *cfg =
		parse_extra("node_name: node-a\nlabels:\n  rack: r1\n  zone: z1\n", extra);

	(void)state;
	assert_int_equal(cfg->n_labels, 4);
	assert_string_equal(config_label_get(cfg, "rack"), "r9"); /* the command line wins */
	assert_string_equal(config_label_get(cfg, "zone"), "z1");
	assert_string_equal(config_label_get(cfg, "new.example.com/role"), "storage");
	assert_string_equal(config_label_get(cfg, "blank"), "");
	config_free(cfg);
}

static void test_reserved_sections(void **state)
{
	struct config *cfg = parse_ok("placement:\nresize: {}\n");

	(void)state;
	config_free(cfg);
	EXPECT_ERRORS("placement:\n  spread: true\nresize: {x: 1}\n",
		      {2, 3,
		       "placement: unknown key \"spread\" (expected one of pmem_policy, "
		       "cpu_policy, reservation_ttl, cpu_manager_state, driver)"},
		      {3, 10,
		       "resize: unknown key \"x\" (expected one of source, interval, prometheus, "
		       "kubelet, policies)"});
	EXPECT_ERRORS("resize: []\n", {1, 9, "resize: expected a mapping, got a sequence"});
}

static void test_placement_and_role(void **state)
{
	struct config *cfg;
	char *yaml;
	json_t *j;

	(void)state;
	cfg = parse_ok("");
	assert_int_equal(cfg->role, CONFIG_ROLE_NODE);
	assert_string_equal(cfg->state_dir, "/var/lib/pmemd");
	assert_int_equal(cfg->placement.pmem_policy, SCHED_PMEM_BINPACK);
	assert_int_equal(cfg->placement.cpu_policy, SCHED_CPU_SHORTEST_DISTANCE);
	assert_int_equal(cfg->placement.reservation_ttl_ms, 300000);
	assert_string_equal(cfg->placement.cpu_manager_state, "/var/lib/kubelet/cpu_manager_state");
	assert_string_equal(cfg->placement.driver, "pmem.csi.pmemd.io");
	assert_string_equal(cfg->scheduler.url_prefix, "/scheduler");
	assert_int_equal(cfg->scheduler.poll_interval_ms, 2000);
	assert_int_equal(cfg->scheduler.max_record_age_ms, 60000);
	yaml = dump_yaml(cfg);
	/* Defaults are not written back. */
	assert_null(strstr(yaml, "placement"));
	assert_null(strstr(yaml, "scheduler"));
	assert_null(strstr(yaml, "role"));
	free(yaml);
	config_free(cfg);

	cfg = parse_ok("state_dir: /srv/pmemd\n"
		       "placement:\n"
		       "  pmem_policy: single-numa\n"
		       "  cpu_policy: single-numa-cpu\n"
		       "  reservation_ttl: 90s\n"
		       "  cpu_manager_state: /k/cpu_manager_state\n"
		       "  driver: pmem.example.com\n");
	assert_string_equal(cfg->state_dir, "/srv/pmemd");
	assert_int_equal(cfg->placement.pmem_policy, SCHED_PMEM_SINGLE_NUMA);
	assert_int_equal(cfg->placement.cpu_policy, SCHED_CPU_SINGLE_NUMA);
	assert_int_equal(cfg->placement.reservation_ttl_ms, 90000);
	assert_string_equal(cfg->placement.driver, "pmem.example.com");
	yaml = dump_yaml(cfg);
	assert_non_null(strstr(yaml, "state_dir: /srv/pmemd\n"
				     "placement:\n"
				     "  pmem_policy: single-numa\n"
				     "  cpu_policy: single-numa-cpu\n"
				     "  reservation_ttl: 90s\n"
				     "  cpu_manager_state: /k/cpu_manager_state\n"
				     "  driver: pmem.example.com\n"));
	free(yaml);
	j = config_to_json(cfg);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "placement"), "pmem_policy")),
		"single-numa");
	assert_string_equal(json_string_value(json_object_get(j, "role")), "node");
	json_decref(j);
	config_free(cfg);

	cfg = parse_ok("role: scheduler\n"
		       "scheduler:\n"
		       "  url_prefix: /pmem/extender\n"
		       "  agents:\n"
		       "    - http://127.0.0.1:8081\n"
		       "    - url: https://10.0.0.2:8080\n"
		       "      token_file: /t\n"
		       "      ca_file: /ca.pem\n"
		       "  poll_interval: 500ms\n"
		       "  max_record_age: 10s\n");
	assert_int_equal(cfg->role, CONFIG_ROLE_SCHEDULER);
	assert_string_equal(cfg->scheduler.url_prefix, "/pmem/extender");
	assert_int_equal(cfg->scheduler.n_agents, 2);
	assert_string_equal(cfg->scheduler.agents[0].url, "http://127.0.0.1:8081");
	assert_null(cfg->scheduler.agents[0].token_file);
	assert_string_equal(cfg->scheduler.agents[1].url, "https://10.0.0.2:8080");
	assert_string_equal(cfg->scheduler.agents[1].token_file, "/t");
	assert_string_equal(cfg->scheduler.agents[1].ca_file, "/ca.pem");
	assert_int_equal(cfg->scheduler.poll_interval_ms, 500);
	assert_int_equal(cfg->scheduler.max_record_age_ms, 10000);
	yaml = dump_yaml(cfg);
	assert_non_null(strstr(yaml, "role: scheduler\n"));
	assert_non_null(strstr(yaml, "scheduler:\n  url_prefix: /pmem/extender\n  agents:\n"
				     "  - url: http://127.0.0.1:8081\n"));
	free(yaml);
	config_free(cfg);

	cfg = parse_ok("role: scheduler\nscheduler: {simulate: /etc/pmemd/cluster.yaml}\n");
	assert_string_equal(cfg->scheduler.simulate, "/etc/pmemd/cluster.yaml");
	config_free(cfg);

	/* Reload: what a node's volume service took at start needs a restart; the scheduler
	 * role applies placement: live. */
	{
		static const struct {
			const char *from, *to;
			int n;
			const char *keys;
		} cases[] = {
			{"", "placement: {pmem_policy: spread}\n", 1, "placement.pmem_policy"},
			{"", "placement: {cpu_policy: single-numa-cpu, reservation_ttl: 1m}\n", 2,
			 "placement.cpu_policy,placement.reservation_ttl"},
			{"", "placement: {cpu_manager_state: /k/state, driver: x.example.com}\n", 0,
			 ""},
			{"", "state_dir: /srv/p\n", 1, "state_dir"},
			{"", "role: scheduler\n", 1, "role"},
			{"role: scheduler\n", "role: scheduler\nplacement: {pmem_policy: spread}\n",
			 0, ""},
			{"role: scheduler\n", "role: scheduler\nscheduler: {poll_interval: 5s}\n",
			 1, "scheduler"},
		};
		char keys[256];

		for (size_t i = 0; i < N_OF(cases); i++) {
			struct config *a = parse_ok(cases[i].from), *b = parse_ok(cases[i].to);
			int n = config_restart_keys(a, b, keys, sizeof(keys));

			if (n != cases[i].n || strcmp(keys, cases[i].keys) != 0)
				fail_msg("case %zu: %d \"%s\"", i, n, keys);
			config_free(a);
			config_free(b);
		}
	}
	EXPECT_ERRORS("role: master\n",
		      {1, 7, "role: expected one of node, scheduler, got \"master\""});
	EXPECT_ERRORS("placement: {pmem_policy: tight}\n",
		      {1, 26,
		       "placement.pmem_policy: expected one of binpack, spread, single-numa, "
		       "first-fit, got \"tight\""});
	EXPECT_ERRORS("placement: {cpu_policy: near}\n",
		      {1, 25, "placement.cpu_policy: expected one of shortest-distance, "});
	EXPECT_ERRORS("placement: {reservation_ttl: 0s}\n",
		      {1, 30, "placement.reservation_ttl: out of range: \"0s\" (must be 1s..24h)"});
	EXPECT_ERRORS("placement: {driver: Pmem_Driver}\n",
		      {1, 21, "placement.driver: expected a CSI driver name"});
	EXPECT_ERRORS("placement: {cpu_manager_state: relative/path}\n",
		      {1, 32, "placement.cpu_manager_state: "});
	EXPECT_ERRORS("state_dir: /\n", {1, 12, "state_dir: "});
	EXPECT_ERRORS("scheduler: {poll_interval: 1s}\n",
		      {1, 1, "scheduler: needs role: scheduler"});
	EXPECT_ERRORS("role: scheduler\npools:\n  - name: /mnt/a\n    regions: [region0]\n",
		      {2, 1, "pools: a scheduler-role pmemd owns no pools"});
	EXPECT_ERRORS("role: scheduler\nscheduler: {url_prefix: /v1/x}\n",
		      {2, 25, "scheduler.url_prefix: must not be under /v1"});
	EXPECT_ERRORS("role: scheduler\nscheduler: {url_prefix: /a/}\n",
		      {2, 25, "scheduler.url_prefix: expected an absolute URL path"});
	EXPECT_ERRORS("role: scheduler\nscheduler: {url_prefix: /a/../b}\n",
		      {2, 25, "scheduler.url_prefix: expected a normalised path"});
	EXPECT_ERRORS("role: scheduler\nscheduler:\n  agents: [http://10.1.1.1:80]\n",
		      {3, 12, "scheduler.agents[0]: http:// is only allowed to a loopback"});
	EXPECT_ERRORS("role: scheduler\nscheduler:\n  agents: [{token_file: /t}]\n",
		      {3, 12, "scheduler.agents[0]: url is missing"});
	EXPECT_ERRORS("role: scheduler\nscheduler:\n"
		      "  agents: [http://127.0.0.1:1, http://127.0.0.1:1]\n",
		      {3, 32, "scheduler.agents[1]: http://127.0.0.1:1 is listed twice"});
	EXPECT_ERRORS("role: scheduler\nscheduler:\n  simulate: /c.yaml\n"
		      "  agents: [http://127.0.0.1:1]\n",
		      {4, 11, "scheduler.agents: simulate and agents exclude each other"});
	EXPECT_ERRORS("role: scheduler\nscheduler:\n  poll_interval: 10s\n"
		      "  max_record_age: 15s\n",
		      {4, 19, "scheduler.max_record_age: out of range: must be at least twice"});
}

/* ---- errors, each at its exact position --------------------------------- */

static void test_unknown_keys(void **state)
{
	(void)state;
	EXPECT_ERRORS(
		"node_name: a\nfoo: 1\n",
		{2, 1,
		 "unknown key \"foo\" (expected one of node_name, log_level, threads, labels, "
		 "listen, limits, pools, placement, resize, kube, volumes, role, state_dir, "
		 "scheduler, simulate)"});
	EXPECT_ERRORS("limits:\n  max_bodyy: 1Mi\n",
		      {2, 3, "limits: unknown key \"max_bodyy\" (expected one of max_body, "});
	EXPECT_ERRORS("pools:\n"
		      "  - name: /mnt/a\n"
		      "    regions: [region0]\n"
		      "    topology:\n"
		      "      fs: xfs\n",
		      {5, 7,
		       "pools[0].topology: unknown key \"fs\" (expected one of type, options, "
		       "fstype)"});
	EXPECT_ERRORS("listen:\n  - unix: /run/a.sock\n    perms: 0600\n",
		      {3, 5, "listen[0]: unknown key \"perms\""});
}

static void test_wrong_types(void **state)
{
	(void)state;
	EXPECT_ERRORS("labels: zone-a\n",
		      {1, 9, "labels: expected a mapping of label keys to values, got \"zone-a\""});
	EXPECT_ERRORS("node_name: {a: b}\n",
		      {1, 12, "node_name: expected a string, got a mapping"});
	EXPECT_ERRORS("node_name: [a]\n", {1, 12, "node_name: expected a string, got a sequence"});
	EXPECT_ERRORS("node_name:\n", {1, 11, "node_name: expected a string, got null"});
	EXPECT_ERRORS("limits: [1, 2]\n", {1, 9, "limits: expected a mapping, got a sequence"});
	EXPECT_ERRORS("pools:\n  name: /mnt/a\n",
		      {2, 3, "pools: expected a sequence of pools, got a mapping"});
	EXPECT_ERRORS("pools: [/mnt/a]\n", {1, 9, "pools[0]: expected a mapping, got \"/mnt/a\""});
	EXPECT_ERRORS("threads: [4]\n", {1, 10, "threads: expected an integer, got a sequence"});
	EXPECT_ERRORS("threads: \"4\"\n",
		      {1, 10, "threads: expected an integer, got a quoted string \"4\""});
	EXPECT_ERRORS("threads: -1\n", {1, 10, "threads: expected a non-negative integer"});
	EXPECT_ERRORS("threads: 010\n", {1, 10, "threads: leading zeros are ambiguous"});
	EXPECT_ERRORS(
		"log_level: {x: 1}\n",
		{1, 12, "log_level: expected one of error, warn, info, debug, got a mapping"});
	EXPECT_ERRORS(
		"log_level: verbose\n",
		{1, 12, "log_level: expected one of error, warn, info, debug, got \"verbose\""});
	EXPECT_ERRORS("[a, b]\n", {1, 1, "expected a mapping, got a sequence"});
	EXPECT_ERRORS("just text\n", {1, 1, "expected a mapping, got \"just text\""});
	EXPECT_ERRORS("{[a]: 1}\n", {1, 2, "expected a string key, got a sequence"});
}

static void test_sizes_and_ranges(void **state)
{
	(void)state;
	EXPECT_ERRORS("limits:\n  max_body: 1MB\n",
		      {2, 13,
		       "limits.max_body: expected a size like 64Gi, 500M or 1048576, got \"1MB\": "
		       "unknown size unit (use bytes, k, M"});
	EXPECT_ERRORS("limits:\n  max_body: 1.5Gi\n", {2, 13, "got \"1.5Gi\""});
	EXPECT_ERRORS("limits:\n  max_body: 16Ei\n",
		      {2, 13, "limits.max_body: out of range: \"16Ei\" does not fit in 64 bits"});
	EXPECT_ERRORS("limits:\n  max_body: 18446744073709551616\n",
		      {2, 13, "does not fit in 64 bits (must be 1..1Gi)"});
	EXPECT_ERRORS("limits:\n  max_body: 1073741825\n",
		      {2, 13, "limits.max_body: out of range: \"1073741825\" (must be 1..1Gi)"});
	EXPECT_ERRORS("limits:\n  max_body: 0\n", {2, 13, "out of range: \"0\" (must be 1..1Gi)"});
	EXPECT_ERRORS("limits:\n  request_timeout: 999ms\n",
		      {2, 20, "limits.request_timeout: out of range: \"999ms\" (must be 1s..1h)"});
	EXPECT_ERRORS("limits:\n  request_timeout: 61m\n", {2, 20, "(must be 1s..1h)"});
	EXPECT_ERRORS("limits:\n  request_timeout: 5d\n",
		      {2, 20, "limits.request_timeout: expected a duration like 30s"});
	EXPECT_ERRORS("threads: 257\n", {1, 10, "threads: out of range: 257 (must be 0..256)"});
	EXPECT_ERRORS("threads: 99999999999999999999\n", {1, 10, "threads: out of range"});
	EXPECT_ERRORS("limits:\n  max_connections: 0\n",
		      {2, 20, "limits.max_connections: out of range: 0 (must be 1..1000000)"});
	EXPECT_ERRORS("limits:\n  max_connections: 1000001\n", {2, 20, "out of range"});
	EXPECT_ERRORS("limits:\n  max_connections: 10\n  per_client_connections: 11\n",
		      {3, 27,
		       "limits.per_client_connections: out of range: 11 is more than "
		       "limits.max_connections (10)"});
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	EXPECT_ERRORS("log_level: info\nthreads: 2\nlog_level: debug\n",
		      {3, 1, "log_level: duplicate key (first at line 1, column 1)"});
	EXPECT_ERRORS("labels:\n  zone: a\n  rack: b\n  zone: c\n  zone: d\n",
		      {4, 3, "labels.zone: duplicate key (first at line 2, column 3)"},
		      {5, 3, "labels.zone: duplicate key (first at line 2, column 3)"});
	EXPECT_ERRORS("pools:\n  - name: /a\n    name: /b\n    regions: [region0]\n",
		      {3, 5, "pools[0].name: duplicate key (first at line 2, column 5)"});
	/* The repeat is reported, not parsed: its bad value adds no second error. */
	EXPECT_ERRORS("threads: 1\nthreads: 999\n",
		      {2, 1, "threads: duplicate key (first at line 1, column 1)"});
}

static void test_pool_reserve_reformat(void **state)
{
	struct config *cfg;
	char *y;
	(void)state;

	cfg = parse_ok("pools:\n  - name: /mnt/a\n    regions: [region0]\n");
	assert_int_equal(cfg->pools[0].reserve_bytes, 0);
	assert_false(cfg->pools[0].reformat);
	config_free(cfg);
	cfg = parse_ok("pools:\n  - name: /mnt/a\n    regions: [region0]\n    reserve: 1Gi\n"
		       "    reformat: true\n");
	assert_int_equal(cfg->pools[0].reserve_bytes, 1ULL << 30);
	assert_true(cfg->pools[0].reformat);
	y = dump_yaml(cfg);
	assert_non_null(strstr(y, "reserve: 1Gi"));
	assert_non_null(strstr(y, "reformat: true"));
	free(y);
	config_free(cfg);
	EXPECT_ERRORS("pools:\n  - name: /mnt/a\n    regions: [region0]\n    reformat: yes\n",
		      {4, 15, "pools[0].reformat: expected true or false, got \"yes\""});
	EXPECT_ERRORS("pools:\n  - name: /mnt/a\n    regions: [region0]\n    reformat: \"true\"\n",
		      {4, 15, "expected true or false"});
	EXPECT_ERRORS("pools:\n  - name: /mnt/a\n    regions: [region0]\n    reserve: 2Ei\n",
		      {4, 14, "pools[0].reserve: out of range"});
}

static void test_pool_errors(void **state)
{
	(void)state;
	EXPECT_ERRORS("pools:\n"
		      "  - name: /mnt/a\n"
		      "    regions: [region0]\n"
		      "  - name: /mnt/a\n"
		      "    regions: [region1]\n",
		      {4, 11, "pools[1].name: duplicate pool /mnt/a (also pools[0])"});
	EXPECT_ERRORS("pools:\n"
		      "  - name: /mnt/a\n"
		      "    regions: [region0, region1]\n"
		      "  - name: /mnt/b\n"
		      "    regions:\n"
		      "      - region2\n"
		      "      - region1\n",
		      {7, 9, "pools[1].regions[1]: region1 already belongs to pools[0] (/mnt/a)"});
	EXPECT_ERRORS("pools:\n  - name: mnt/a\n    regions: [region0]\n",
		      {2, 11, "pools[0].name: must be an absolute path, got \"mnt/a\""});
	EXPECT_ERRORS("pools:\n  - name: /mnt/../etc\n    regions: [region0]\n",
		      {2, 11,
		       "pools[0].name: must be normalised (no \".\" or \"..\" components), got "
		       "\"/mnt/../etc\""});
	EXPECT_ERRORS("pools:\n  - name: /mnt/./a\n    regions: [region0]\n",
		      {2, 11, "no \".\" or \"..\" components"});
	EXPECT_ERRORS("pools:\n  - name: /mnt//a\n    regions: [region0]\n",
		      {2, 11, "must be normalised (no \"//\")"});
	EXPECT_ERRORS("pools:\n  - name: /mnt/a/\n    regions: [region0]\n",
		      {2, 11, "must be normalised (no trailing \"/\")"});
	EXPECT_ERRORS("pools:\n  - name: /\n    regions: [region0]\n", {2, 11, "must not be /"});
	{
		char yaml[700], comp[300];

		memset(comp, 'c', 256);
		comp[256] = '\0';
		snprintf(yaml, sizeof(yaml), "pools:\n  - name: /mnt/%s\n    regions: [region0]\n",
			 comp);
		EXPECT_ERRORS(yaml, {2, 11, "has a component longer than 255 characters"});
		comp[255] = '\0';
		snprintf(yaml, sizeof(yaml), "pools:\n  - name: /mnt/%s\n    regions: [region0]\n",
			 comp);
		config_free(parse_ok(yaml));
	}
	EXPECT_ERRORS("pools:\n  - name: \"/mnt/a\\tb\"\n    regions: [region0]\n",
		      {2, 11, "must not contain control characters, got \"/mnt/a\\x09b\""});
	EXPECT_ERRORS(
		"pools:\n"
		"  - name: /mnt/a\n"
		"    topology:\n"
		"      fstype: btrfs\n"
		"    regions: [region0]\n",
		{4, 15, "pools[0].topology.fstype: expected one of ext4, xfs, got \"btrfs\""});
	EXPECT_ERRORS("pools:\n"
		      "  - name: /mnt/a\n"
		      "    topology:\n"
		      "      type: kmem\n"
		      "      fstype: ext4\n"
		      "      options: dax\n"
		      "    regions: [region0]\n",
		      {5, 7, "pools[0].topology.fstype: not used by kmem pools"},
		      {6, 7, "pools[0].topology.options: not used by kmem pools"});
	EXPECT_ERRORS(
		"pools:\n"
		"  - name: /mnt/a\n"
		"    topology: {type: dram, options: \"a,,b\"}\n"
		"    regions: [region0]\n",
		{3, 22, "pools[0].topology.type: expected one of pmem, kmem, got \"dram\""},
		{3, 37, "pools[0].topology.options: must be comma-separated options, none empty"});
	EXPECT_ERRORS("pools:\n  - name: /mnt/a\n    topology: {options: \"a b\"}\n"
		      "    regions: [region0]\n",
		      {3, 25, "each option may hold only letters, digits"});
	EXPECT_ERRORS("pools:\n  - topology: {type: pmem}\n", {2, 5, "pools[0]: name is required"},
		      {2, 5, "pools[0]: regions is required"});
	EXPECT_ERRORS("pools:\n  - name: /mnt/a\n    regions: []\n",
		      {3, 14, "pools[0].regions: must list at least one region"});
	EXPECT_ERRORS(
		"pools:\n  - name: /mnt/a\n    regions: [region01, reg1, region0, region0, x]\n",
		{3, 15,
		 "pools[0].regions[0]: expected a region device name like \"region0\", "
		 "got \"region01\""},
		{3, 25, "pools[0].regions[1]: expected a region device name"},
		{3, 40, "pools[0].regions[3]: region0 is listed twice"},
		{3, 49, "pools[0].regions[4]: expected a region device name"});
	EXPECT_ERRORS(
		"pools:\n  - name: /mnt/a\n    regions: region0\n",
		{3, 14, "pools[0].regions: expected a sequence of region names, got \"region0\""});
}

static void test_selector_errors(void **state)
{
	(void)state;
	EXPECT_ERRORS("pools:\n  - name: /a\n    operator: Exists\n    regions: [region0]\n",
		      {3, 5, "pools[0].operator: needs key"});
	EXPECT_ERRORS("pools:\n  - name: /a\n    values: [x]\n    regions: [region0]\n",
		      {3, 5, "pools[0].values: needs key"});
	EXPECT_ERRORS("pools:\n  - name: /a\n    key: zone\n    regions: [region0]\n",
		      {3, 10, "pools[0].key: operator In needs value or values"});
	EXPECT_ERRORS("pools:\n  - name: /a\n    key: zone\n    operator: NotIn\n"
		      "    regions: [region0]\n",
		      {4, 15, "pools[0].operator: operator NotIn needs value or values"});
	EXPECT_ERRORS("pools:\n  - name: /a\n    key: zone\n    operator: Exists\n"
		      "    value: z1\n    regions: [region0]\n",
		      {5, 12, "pools[0].value: operator Exists takes no value"});
	EXPECT_ERRORS("pools:\n  - name: /a\n    key: zone\n    value: z1\n    values: [z2]\n"
		      "    regions: [region0]\n",
		      {5, 5, "pools[0]: value and values are exclusive"});
	EXPECT_ERRORS(
		"pools:\n  - name: /a\n    key: zone\n    values: []\n    regions: [region0]\n",
		{4, 13, "pools[0].values: must not be empty"});
	EXPECT_ERRORS("pools:\n  - name: /a\n    key: zone\n    operator: in\n    value: z\n"
		      "    regions: [region0]\n",
		      {4, 15, "expected one of In, NotIn, Exists, DoesNotExist, got \"in\""});
	EXPECT_ERRORS("pools:\n  - name: /a\n    key: Zone/x\n    values: [\"a b\", ok, \"\"]\n"
		      "    regions: [region0]\n",
		      {3, 10, "pools[0].key: the prefix before '/' must be a DNS subdomain"},
		      {4, 14, "pools[0].values[0]: invalid label value \"a b\": may hold only"});
}

static void test_label_errors(void **state)
{
	(void)state;
	EXPECT_ERRORS(
		"labels:\n"
		"  -bad: x\n"
		"  zone: \"has space\"\n"
		"  empty: \"\"\n"
		"  example.com/ok: v\n"
		"  Example.com/x: y\n"
		"  nul:\n"
		"  long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
		"  list: [a]\n",
		{2, 3, "labels.-bad: invalid label key \"-bad\": must begin and end"},
		{3, 9, "labels.zone: invalid label value \"has space\": may hold only"},
		{6, 3, "invalid label key \"Example.com/x\": the prefix before '/'"},
		{7, 7, "labels.nul: expected a string, got null (write \"\" for an empty value)"},
		{8, 9, "labels.long: invalid label value \"aaaa"},
		{9, 9, "labels.list: expected a string, got a sequence"});
}

static void test_listen_errors(void **state)
{
	(void)state;
	EXPECT_ERRORS("listen: []\n",
		      {1, 9,
		       "listen: must list at least one endpoint (leave listen: out for the "
		       "defaults)"});
	EXPECT_ERRORS("listen:\nthreads: 1\n", {1, 8, "listen: must list at least one endpoint"});
	EXPECT_ERRORS("listen:\n"
		      "  - unix: /run/pmemd/pmemd.sock\n"
		      "  - tcp: 0.0.0.0:8443\n",
		      {3, 5,
		       "listen[1]: tcp endpoint 0.0.0.0:8443 is not loopback: configure "
		       "auth.token_file or auth.tls_cert/tls_key"});
	EXPECT_ERRORS("listen:\n  - tcp: '[::]:8443'\n",
		      {2, 5, "listen[0]: tcp endpoint [::]:8443 is not loopback"});
	EXPECT_ERRORS("listen:\n"
		      "  - tcp: 127.0.0.1:8443\n"
		      "    auth:\n"
		      "      tls_cert: /etc/pmemd/tls.crt\n",
		      {4, 17,
		       "listen[0].auth.tls_cert: tls_key is missing (tls_cert and tls_key go "
		       "together)"});
	EXPECT_ERRORS("listen:\n"
		      "  - tcp: 192.168.1.1:8443\n"
		      "    auth:\n"
		      "      tls_key: /etc/pmemd/tls.key\n",
		      {4, 16, "listen[0].auth.tls_key: tls_cert is missing"});
	EXPECT_ERRORS("listen:\n"
		      "  - tcp: 127.0.0.1:8443\n"
		      "    auth:\n"
		      "      token_file: /etc/pmemd/token\n"
		      "      client_ca: /etc/pmemd/ca.crt\n",
		      {5, 18, "listen[0].auth.client_ca: needs tls_cert and tls_key"});
	EXPECT_ERRORS("listen:\n"
		      "  - tcp: 127.0.0.1:8443\n"
		      "    auth:\n"
		      "      token_file: etc/pmemd/token\n",
		      {4, 19, "listen[0].auth.token_file: must be an absolute path"});
	EXPECT_ERRORS("listen:\n"
		      "  - unix: /run/pmemd/pmemd.sock\n"
		      "    auth:\n"
		      "      token_file: /etc/pmemd/token\n",
		      {3, 5,
		       "listen[0].auth: auth is only for tcp endpoints: a unix socket is protected "
		       "by its mode, owner and group"});
	EXPECT_ERRORS("listen:\n"
		      "  - tcp: localhost:8080\n"
		      "  - tcp: ::1:8080\n"
		      "  - tcp: 127.0.0.1\n"
		      "  - tcp: 127.0.0.1:0\n"
		      "  - tcp: 127.0.0.1:65536\n"
		      "  - tcp: '[::1]8080'\n"
		      "  - tcp: '[fe80::1%eth0]:80'\n",
		      {2, 10,
		       "listen[0].tcp: expected host:port with a literal IP address: host "
		       "must be a literal IP address (no host names), got \"localhost:8080\""},
		      {3, 10, "IPv6 addresses go in brackets, like [::1]:8080"},
		      {4, 10, "missing :port"}, {5, 10, "port must be 1..65535"},
		      {6, 10, "port must be 1..65535"}, {7, 10, "expected [IPv6]:port"},
		      {8, 10, "not an IPv6 address"});
	EXPECT_ERRORS("listen:\n"
		      "  - unix: /run/a.sock\n"
		      "    mode: 0888\n"
		      "  - unix: /run/b.sock\n"
		      "    mode: \"01777\"\n"
		      "  - unix: run/c.sock\n"
		      "    owner: \"bad name\"\n",
		      {3, 11,
		       "listen[0].mode: expected an octal mode like \"0660\" (at most 0777), "
		       "got \"0888\""},
		      {5, 11, "got \"01777\""}, {6, 11, "listen[2].unix: must be an absolute path"},
		      {7, 12, "listen[2].owner: a name may hold only"});
	EXPECT_ERRORS("listen:\n"
		      "  - tcp: 127.0.0.1:1\n"
		      "    mode: \"0600\"\n"
		      "    owner: root\n"
		      "  - tcp: 127.0.0.1:2\n"
		      "    unix: /run/x.sock\n"
		      "  - mode: \"0600\"\n",
		      {3, 5, "listen[0].mode: only for unix endpoints"},
		      {4, 5, "listen[0].owner: only for unix endpoints"},
		      {6, 5, "listen[1]: an endpoint is either tcp: or unix:, not both"},
		      {7, 5, "listen[2]: needs tcp: host:port or unix: /path"});
	EXPECT_ERRORS("listen:\n"
		      "  - tcp: 127.0.0.1:80\n"
		      "  - unix: /run/x.sock\n"
		      "  - tcp: 127.0.0.1:80\n"
		      "  - unix: /run/x.sock\n",
		      {4, 5, "listen[2]: the same endpoint as listen[0]"},
		      {5, 5, "listen[3]: the same endpoint as listen[1]"});
	/* sun_path holds 107 bytes and a NUL. */
	char yaml[256], path[120];

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[108] = '\0';
	snprintf(yaml, sizeof(yaml), "listen:\n  - unix: %s\n", path);
	EXPECT_ERRORS(yaml, {2, 11, "longer than 107 bytes"});
	path[107] = '\0';
	snprintf(yaml, sizeof(yaml), "listen:\n  - unix: %s\n", path);
	config_free(parse_ok(yaml));
}

static void test_yaml_level_errors(void **state)
{
	(void)state;
	/* A syntax error is the only error, even after other mistakes. */
	EXPECT_ERRORS("node_name: a: b\n", {1, 13,
					    "YAML syntax error: mapping values are not "
					    "allowed in this context"});
	EXPECT_ERRORS("foo: 1\nlabels: &x {}\nthreads: [1, 2\n",
		      {4, 1,
		       "YAML syntax error: did not find expected ',' or ']' (while parsing a "
		       "flow sequence at line 3, column 10)"});
	EXPECT_ERRORS("labels:\n  zone: &z a\n  rack: *z\n",
		      {2, 9, "anchors and aliases are not allowed (anchor &z)"},
		      {3, 9, "anchors and aliases are not allowed (alias *z)"});
	/* The seed of a billion laughs is refused before anything expands. */
	EXPECT_ERRORS("labels: &l {a: b}\nplacement: *l\nresize: [*l, *l]\n", {1, 9, "anchor &l"},
		      {2, 12, "alias *l"}, {3, 9, "resize: expected a mapping"},
		      {3, 10, "alias *l"}, {3, 14, "alias *l"});
	EXPECT_ERRORS("threads: !!int 4\n", {1, 10, "YAML tags are not allowed"});
	EXPECT_ERRORS("threads: 1\n---\nthreads: 2\n",
		      {2, 1, "a second YAML document: the config file must hold exactly one"});
	EXPECT_ERRORS("node_name: \"a\\0b\"\n",
		      {1, 12, "a NUL character (\\0) is not allowed in a value"});
	EXPECT_ERRORS("node_name: \"\xff\"\n", {1, 13, "YAML syntax error: invalid leading UTF-8"});
}

static void test_nesting_limit(void **state)
{
	char yaml[256] = "placement: ";
	size_t o = strlen(yaml);

	(void)state;
	for (int i = 0; i < 70; i++)
		yaml[o++] = '[';
	for (int i = 0; i < 70; i++)
		yaml[o++] = ']';
	yaml[o] = '\0';
	/* The top-level mapping is level 1, so the 64th '[' (column 12 + 63) is one too many. */
	EXPECT_ERRORS(yaml, {1, 75, "nesting deeper than 64 levels"});
}

/* Caps on list sizes: reported at the first entry too many. */
static void test_list_caps(void **state)
{
	size_t cap = 1024 * 1024, o;
	char *yaml = malloc(cap);

	(void)state;
	o = (size_t)sprintf(yaml, "listen:\n");
	for (int i = 0; i < 65; i++)
		o += (size_t)sprintf(yaml + o, "  - tcp: 127.0.0.1:%d\n", i + 1);
	EXPECT_ERRORS(yaml, {66, 5, "listen: more than 64 endpoints"});
	yaml[o - strlen("  - tcp: 127.0.0.1:65\n")] = '\0';
	config_free(parse_ok(yaml));

	o = (size_t)sprintf(yaml, "labels:\n");
	for (int i = 0; i < 1025; i++)
		o += (size_t)sprintf(yaml + o, "  k%d: v\n", i);
	EXPECT_ERRORS(yaml, {1026, 3, "labels: more than 1024 labels"});

	o = (size_t)sprintf(yaml, "pools:\n");
	for (int i = 0; i < 257; i++)
		o += (size_t)sprintf(yaml + o, "- {name: /p%d, regions: [region%d]}\n", i, i);
	EXPECT_ERRORS(yaml, {258, 3, "pools: more than 256 pools"});

	o = (size_t)sprintf(yaml, "pools:\n- name: /p\n  key: k\n  values: [v0");
	for (int i = 1; i < 257; i++)
		o += (size_t)sprintf(yaml + o, ", v%d", i);
	o += (size_t)sprintf(yaml + o, "]\n  regions: [region0");
	for (int i = 1; i < 65; i++)
		o += (size_t)sprintf(yaml + o, ", region%d", i);
	sprintf(yaml + o, "]\n");
	/* values[256] and regions[64] are each the first one too many. */
	EXPECT_ERRORS(yaml, {4, 1438, "pools[0].values: more than 256 values"},
		      {5, 643, "pools[0].regions: more than 64 regions"});

	/* 100001 nodes: the top mapping, its key, the sequence and 99998 items. */
	o = (size_t)sprintf(yaml, "placement: [");
	for (int i = 0; i < 99998; i++)
		o += (size_t)sprintf(yaml + o, "1,");
	sprintf(yaml + o, "]\n");
	EXPECT_ERRORS(yaml, {1, 12 + 2 * 99997 + 1, "more than 100000 YAML nodes"});
	free(yaml);
}

static void test_several_errors_in_order(void **state)
{
	struct config *cfg = (struct config *)1;
	struct config_errors *errs = NULL;
	const struct want w[] = {
		{2, 12, "log_level: expected one of error, warn, info, debug, got \"verbose\""},
		{3, 10, "threads: out of range: 300 (must be 0..256)"},
		{5, 13, "limits.max_body: out of range: \"2Gi\" (must be 1..1Gi)"},
		{6, 20,
		 "limits.request_timeout: expected a duration like 30s, 500ms or 2m, got \"5d\": "
		 "unknown duration unit (use ms, s, m, h)"},
		{8, 5, "listen[0]: tcp endpoint 0.0.0.0:8443 is not loopback"},
		{10, 11, "pools[0].name: must be an absolute path, got \"mnt/pmem0\""},
		{12, 15, "pools[0].topology.fstype: expected one of ext4, xfs, got \"btrfs\""},
		{15, 15, "pools[1].regions[0]: region0 already belongs to pools[0]"},
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(config_load("test/unit/data/several-errors.yaml", NULL, &cfg, &errs),
			 -EINVAL);
	assert_null(cfg);
	check_errors(errs, w, N_OF(w));

	/* The printed form is what an operator sees: "file:line:col: message". */
	f = open_memstream(&text, &len);
	config_errors_print(errs, f);
	fclose(f);
	assert_non_null(strstr(text, "test/unit/data/several-errors.yaml:2:12: log_level: "));
	assert_non_null(strstr(text, "\ntest/unit/data/several-errors.yaml:15:15: pools[1]."));
	free(text);
	config_errors_free(errs);
}

static void test_too_many_errors(void **state)
{
	char *yaml = malloc(150 * 16 + 1);
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;
	size_t o = 0;

	(void)state;
	for (int i = 0; i < 150; i++)
		o += (size_t)sprintf(yaml + o, "bad%03d: 1\n", i);
	assert_int_equal(config_parse(NAME, yaml, o, NULL, &cfg, &errs), -EINVAL);
	assert_int_equal(errs->count, 101);
	assert_int_equal(errs->items[99].pos.line, 100);
	assert_string_equal(errs->items[100].message, "too many errors: 50 more not shown");
	config_errors_free(errs);
	free(yaml);
}

static void test_file_level_errors(void **state)
{
	size_t big = 1024 * 1024;
	char *buf = malloc(big + 2);
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	/* Exactly 1 MiB is accepted (a comment and its newline), one byte more is not. */
	memset(buf, '#', big);
	buf[big - 1] = '\n';
	assert_int_equal(config_parse(NAME, buf, big, NULL, &cfg, &errs), 0);
	cfg = config_free(cfg);
	errs = config_errors_free(errs);
	buf[big] = '\n';
	assert_int_equal(config_parse(NAME, buf, big + 1, NULL, &cfg, &errs), -EFBIG);
	assert_null(cfg);
	assert_int_equal(errs->count, 1);
	assert_int_equal(errs->items[0].pos.line, 0);
	assert_non_null(strstr(errs->items[0].message, "larger than 1 MiB"));
	errs = config_errors_free(errs);
	free(buf);

	assert_int_equal(config_load("test/unit/data/no-such-file.yaml", NULL, &cfg, &errs),
			 -ENOENT);
	assert_null(cfg);
	assert_int_equal(errs->count, 1);
	f = open_memstream(&text, &len);
	config_errors_print(errs, f);
	fclose(f);
	assert_string_equal(text, "test/unit/data/no-such-file.yaml: cannot read: No such file "
				  "or directory\n");
	free(text);
	errs = config_errors_free(errs);
	assert_int_equal(config_load("test/unit/data", NULL, &cfg, &errs), -EISDIR);
	config_errors_free(errs);
}

static void test_command_line_labels(void **state)
{
	char *const extra[] = {LABEL("rack=r1"), LABEL("novalue"), LABEL("-bad=x"),
			       LABEL("zone=has space"), NULL};
	struct config *cfg = (struct config *)1;
	struct config_errors *errs = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(config_parse(NAME, "threads: 999\n", 13, extra, &cfg, &errs), -EINVAL);
	assert_null(cfg);
	assert_int_equal(errs->count, 4);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(errs->items[i].file, "<command line>");
		assert_int_equal(errs->items[i].pos.line, 0);
		assert_int_equal(errs->items[i].pos.col, 0);
	}
	assert_null(errs->items[3].file);
	f = open_memstream(&text, &len);
	config_errors_print(errs, f);
	fclose(f);
	assert_string_equal(
		text, "<command line>: --node-label \"novalue\": expected key=value\n"
		      "<command line>: --node-label \"-bad=x\": invalid label key: must begin "
		      "and end with a letter or digit\n"
		      "<command line>: --node-label \"zone=has space\": invalid label value: "
		      "may hold only letters, digits, '-', '_' and '.'\n"
		      "pmemd.yaml:1:10: threads: out of range: 999 (must be 0..256)\n");
	free(text);
	config_errors_free(errs);
}

/* ---- matching, lookups, reload ------------------------------------------ */

static void test_pool_matches(void **state)
{
	static const struct {
		const char *key;
		enum config_match_op op;
		const char *values[3];
		bool node_a;	/* node-a, zone=z1, kubernetes.io/hostname implicit */
		bool overrides; /* same, but labels set kubernetes.io/hostname: other */
	} cases[] = {
		{NULL, CONFIG_OP_IN, {NULL}, true, true},
		{"zone", CONFIG_OP_IN, {"z1"}, true, true},
		{"zone", CONFIG_OP_IN, {"z2"}, false, false},
		{"zone", CONFIG_OP_IN, {"z2", "z1"}, true, true},
		{"missing", CONFIG_OP_IN, {"z1"}, false, false},
		{"zone", CONFIG_OP_NOT_IN, {"z1"}, false, false},
		{"zone", CONFIG_OP_NOT_IN, {"z2", "z3"}, true, true},
		{"missing", CONFIG_OP_NOT_IN, {"z1"}, true, true},
		{"zone", CONFIG_OP_EXISTS, {NULL}, true, true},
		{"missing", CONFIG_OP_EXISTS, {NULL}, false, false},
		{"zone", CONFIG_OP_DOES_NOT_EXIST, {NULL}, false, false},
		{"missing", CONFIG_OP_DOES_NOT_EXIST, {NULL}, true, true},
		{"kubernetes.io/hostname", CONFIG_OP_IN, {"node-a"}, true, false},
		{"kubernetes.io/hostname", CONFIG_OP_IN, {"other"}, false, true},
		{"kubernetes.io/hostname", CONFIG_OP_EXISTS, {NULL}, true, true},
		{"kubernetes.io/hostname", CONFIG_OP_NOT_IN, {"node-a"}, false, true},
	};
	struct config *a = parse_ok("node_name: node-a\nlabels: {zone: z1}\n");
	struct config *b = parse_ok("node_name: node-a\nlabels:\n  zone: z1\n"
				    "  kubernetes.io/hostname: other\n");

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		struct config_pool p = {.key = (char *)cases[i].key, .op = cases[i].op};
		char *vals[3] = {NULL};

		for (size_t j = 0; j < 2 && cases[i].values[j]; j++)
			vals[p.n_values++] = (char *)cases[i].values[j];
		p.values = vals;
		if (config_pool_matches(&p, a) != cases[i].node_a ||
		    config_pool_matches(&p, b) != cases[i].overrides)
			fprintf(stderr, "case %zu\n", i);
		assert_int_equal(config_pool_matches(&p, a), cases[i].node_a);
		assert_int_equal(config_pool_matches(&p, b), cases[i].overrides);
	}
	assert_false(config_pool_matches(NULL, a));
	config_free(a);
	config_free(b);

	/* The seed talk's pool selects exactly the node it names. */
	a = load_ok("test/unit/data/seed-topology.yaml");
	assert_false(config_pool_matches(&a->pools[0], a));
	free(a->node_name);
	a->node_name = strdup("cn-beijing.192.168.3.36");
	assert_true(config_pool_matches(&a->pools[0], a));
	config_free(a);
}

static void test_restart_keys(void **state)
{
	static const char base[] = "node_name: n1\n"
				   "log_level: info\n"
				   "threads: 4\n"
				   "labels: {zone: z1}\n"
				   "listen:\n"
				   "  - unix: /run/p.sock\n"
				   "  - tcp: 10.0.0.1:8443\n"
				   "    auth: {token_file: /t, tls_cert: /c, tls_key: /k}\n"
				   "limits: {max_body: 1Mi, max_connections: 100, "
				   "per_client_connections: 10, request_timeout: 30s}\n"
				   "pools: [{name: /mnt/a, regions: [region0]}]\n"
				   "volumes: {overcommit_ratio: 1.0, publish_roots: [/a, /b]}\n";
	static const struct {
		const char *from, *to; /* one textual edit of base */
		int n;
		const char *keys;
	} cases[] = {
		{"log_level: info", "log_level: debug", 0, ""},
		{"zone: z1", "zone: z2", 0, ""},
		{"node_name: n1", "node_name: n2", 0, ""},
		{"max_body: 1Mi", "max_body: 2Mi", 0, ""},
		{"token_file: /t", "token_file: /t2", 0, ""},
		{"/mnt/a", "/mnt/b", 0, ""},
		{"threads: 4", "threads: 5", 1, "threads"},
		{"10.0.0.1:8443", "10.0.0.1:8444", 1, "listen"},
		{"unix: /run/p.sock", "unix: /run/p.sock\n    mode: \"0600\"", 1, "listen"},
		{"  - unix: /run/p.sock\n", "", 1, "listen"},
		/* The volume service takes volumes: at start only. */
		{"overcommit_ratio: 1.0", "overcommit_ratio: 1", 0, ""},
		{"[/a, /b]", "[/b, /a]", 0, ""},
		{"overcommit_ratio: 1.0", "overcommit_ratio: 1.5", 1, "volumes.overcommit_ratio"},
		{"[/a, /b]", "[/a, /c]", 1, "volumes.publish_roots"},
		{"[/a, /b]", "[/a]", 1, "volumes.publish_roots"},
		{"[/a, /b]}", "[/a, /b], max_volume_size: 0}", 0, ""},
		{"[/a, /b]}", "[/a, /b], max_volume_size: 1Ti}", 1, "volumes.max_volume_size"},
		{"volumes: {overcommit_ratio: 1.0, publish_roots: [/a, /b]}\n", "", 1,
		 "volumes.publish_roots"},
		{"{overcommit_ratio: 1.0, publish_roots: [/a, /b]}",
		 "{overcommit_ratio: 2.5, publish_roots: [/a], max_volume_size: 1Gi}", 3,
		 "volumes.overcommit_ratio,volumes.publish_roots,volumes.max_volume_size"},
		{"max_connections: 100, per_client_connections: 10, request_timeout: 30s",
		 "max_connections: 99, per_client_connections: 9, request_timeout: 31s", 3,
		 "limits.max_connections,limits.per_client_connections,limits.request_timeout"},
		{"tls_cert: /c, tls_key: /k}", "tls_cert: /c2, tls_key: /k2, client_ca: /ca}", 3,
		 "listen[1].auth.tls_cert,listen[1].auth.tls_key,listen[1].auth.client_ca"},
	};
	struct config *old = parse_ok(base);
	char buf[256], small[12];

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		char text[1024];
		const char *at = strstr(base, cases[i].from);
		struct config *next;

		assert_non_null(at);
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - base), base, cases[i].to,
			 at + strlen(cases[i].from));
		next = parse_ok(text);
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(config_restart_keys(old, next, buf, sizeof(buf)), cases[i].n);
		assert_string_equal(buf, cases[i].keys);
		if (i == N_OF(cases) - 2) {
			/* A short buffer is cut, still terminated, and the count stays exact. */
			assert_int_equal(config_restart_keys(old, next, small, sizeof(small)), 3);
			assert_string_equal(small, "limits.max_");
			assert_int_equal(config_restart_keys(old, next, NULL, 0), 3);
		}
		config_free(next);
	}
	assert_int_equal(config_restart_keys(old, old, buf, sizeof(buf)), 0);
	assert_int_equal(config_restart_keys(NULL, old, buf, sizeof(buf)), -EINVAL);
	assert_string_equal(buf, "");
	config_free(old);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(config_pool_type_name(CONFIG_POOL_PMEM), "pmem");
	assert_string_equal(config_pool_type_name(CONFIG_POOL_KMEM), "kmem");
	assert_string_equal(config_pool_type_name((enum config_pool_type)7), "unknown");
	assert_string_equal(config_fstype_name(CONFIG_FS_EXT4), "ext4");
	assert_string_equal(config_fstype_name(CONFIG_FS_XFS), "xfs");
	assert_string_equal(config_fstype_name((enum config_fstype)2), "unknown");
	assert_string_equal(config_match_op_name(CONFIG_OP_IN), "In");
	assert_string_equal(config_match_op_name(CONFIG_OP_NOT_IN), "NotIn");
	assert_string_equal(config_match_op_name(CONFIG_OP_EXISTS), "Exists");
	assert_string_equal(config_match_op_name(CONFIG_OP_DOES_NOT_EXIST), "DoesNotExist");
	assert_string_equal(config_match_op_name((enum config_match_op)4), "unknown");
	assert_null(config_free(NULL));
	assert_null(config_errors_free(NULL));
	config_errors_print(NULL, stderr);
	assert_null(config_to_json(NULL));
	assert_null(config_label_get(NULL, "x"));
	assert_int_equal(config_write_yaml(NULL, stderr), -EINVAL);
}

static void test_kube(void **state)
{
	struct config *cfg = parse_ok("");
	struct config *b;

	(void)state;
	assert_int_equal(cfg->kube.enabled, CONFIG_KUBE_AUTO);
	assert_null(cfg->kube.api_url);
	assert_int_equal(cfg->kube.publish_interval_ms, 1000);
	assert_int_equal(cfg->kube.heartbeat_interval_ms, 10000);
	config_free(cfg);
	cfg = parse_ok("kube: {heartbeat_interval: 30s}\n");
	assert_int_equal(cfg->kube.heartbeat_interval_ms, 30000);
	config_free(cfg);
	EXPECT_ERRORS("kube: {publish_interval: 5s, heartbeat_interval: 2s}\n",
		      {1, 50,
		       "kube.heartbeat_interval: out of range: must be at least "
		       "kube.publish_interval"});
	EXPECT_ERRORS("kube: {heartbeat_interval: 0s}\n",
		      {1, 28, "kube.heartbeat_interval: out of range"});

	cfg = parse_ok("kube:\n"
		       "  enabled: true\n"
		       "  api_url: https://[fd00::1]:6443/k8s/clusters/c-1\n"
		       "  token_file: /etc/pmemd/kube-token\n"
		       "  ca_file: /etc/pmemd/kube-ca.crt\n"
		       "  client_cert: /etc/pmemd/kube.crt\n"
		       "  client_key: /etc/pmemd/kube.key\n"
		       "  publish_interval: 5s\n");
	assert_int_equal(cfg->kube.enabled, CONFIG_KUBE_ON);
	assert_string_equal(cfg->kube.api_url, "https://[fd00::1]:6443/k8s/clusters/c-1");
	assert_string_equal(cfg->kube.token_file, "/etc/pmemd/kube-token");
	assert_string_equal(cfg->kube.ca_file, "/etc/pmemd/kube-ca.crt");
	assert_string_equal(cfg->kube.client_cert, "/etc/pmemd/kube.crt");
	assert_string_equal(cfg->kube.client_key, "/etc/pmemd/kube.key");
	assert_int_equal(cfg->kube.publish_interval_ms, 5000);
	assert_string_equal(config_kube_enabled_name(CONFIG_KUBE_OFF), "false");
	assert_string_equal(config_kube_enabled_name((enum config_kube_enabled)3), "unknown");

	/* kube changes apply live: pmemd.c restarts the publisher, not the daemon. */
	b = parse_ok("kube: {enabled: false, publish_interval: 2s}\n");
	assert_false(config_kube_equal(&cfg->kube, &b->kube));
	assert_true(config_kube_equal(&cfg->kube, &cfg->kube));
	assert_int_equal(config_restart_keys(cfg, b, NULL, 0), 0);
	config_free(b);
	config_free(cfg);

	b = parse_ok("kube: {api_url: http://127.0.0.1:8001}\n");
	config_free(b);
	b = parse_ok("kube: {api_url: \"http://[::1]:8001/\", enabled: auto}\n");
	config_free(b);
	b = parse_ok("kube: {api_url: https://kubernetes.default.svc}\n");
	config_free(b);

	EXPECT_ERRORS("kube:\n  enabled: yes\n",
		      {2, 12, "kube.enabled: expected one of auto, true, false, got \"yes\""});
	EXPECT_ERRORS("kube: {publish_interval: 500ms}\n",
		      {1, 26, "kube.publish_interval: out of range: \"500ms\" (must be 1s..1h)"});
	EXPECT_ERRORS("kube: {api_url: http://10.0.0.1:6443}\n",
		      {1, 17, "kube.api_url: http:// is only allowed to a loopback address"});
	EXPECT_ERRORS("kube: {api_url: ftp://k}\n",
		      {1, 17, "kube.api_url: must start with https://"});
	EXPECT_ERRORS("kube: {api_url: \"https://user@k:443\"}\n",
		      {1, 17, "kube.api_url: must be a plain URL"});
	EXPECT_ERRORS("kube: {api_url: \"https://k:0\"}\n",
		      {1, 17, "kube.api_url: expected host:port with a port of 1..65535"});
	EXPECT_ERRORS("kube: {api_url: \"https://[fd00::1\"}\n",
		      {1, 17, "kube.api_url: an IPv6 address goes in brackets"});
	EXPECT_ERRORS("kube: {api_url: \"https://Bad_Host\"}\n",
		      {1, 17, "kube.api_url: the host must be a lowercase DNS name"});
	EXPECT_ERRORS("kube:\n  token_file: /t\n  client_key: /k\n",
		      {2, 15, "kube.token_file: needs kube.api_url"},
		      {3, 15, "kube.client_key: needs kube.api_url"},
		      {3, 15, "kube.client_key: client_cert is missing"});
	EXPECT_ERRORS("kube: {api_url: https://k, ca_file: rel}\n",
		      {1, 37, "kube.ca_file: must be an absolute path"});
	EXPECT_ERRORS("kube: {watch: true}\n",
		      {1, 8, "kube: unknown key \"watch\" (expected one of enabled, api_url, "});
}

static void test_volumes(void **state)
{
	static const struct {
		const char *text;
		double want;
	} ratios[] = {
		{"1", 1.0},
		{"1.0", 1.0},
		{"1.5", 1.5},
		{"0.5", 0.5},
		{"2.25", 2.25},
		{"100", 100.0},
		{"100.000000", 100.0},
		{"0.000001", 0.000001},
		{"0.1", 0.1},
		{"10.123456", 10.123456},
	};
	struct config *cfg;
	char text[1024];
	size_t o;
	char *yaml;

	(void)state;
	/* Null and empty mean the defaults. */
	cfg = parse_ok("volumes:\n");
	assert_true(cfg->volumes.overcommit_ratio == 1.0);
	assert_int_equal(cfg->volumes.n_publish_roots, 1);
	assert_string_equal(cfg->volumes.publish_roots[0], "/var/lib/kubelet");
	assert_int_equal(cfg->volumes.max_volume_size_bytes, 0);
	config_free(cfg);
	cfg = parse_ok("volumes: {}\n");
	assert_true(cfg->volumes.overcommit_ratio == 1.0);
	assert_string_equal(cfg->volumes.publish_roots[0], "/var/lib/kubelet");
	config_free(cfg);

	cfg = parse_ok("volumes:\n"
		       "  overcommit_ratio: 1.5\n"
		       "  publish_roots:\n"
		       "    - /var/lib/kubelet\n"
		       "    - /mnt/targets\n"
		       "  max_volume_size: 64Gi\n");
	assert_true(cfg->volumes.overcommit_ratio == 1.5);
	assert_int_equal(cfg->volumes.n_publish_roots, 2);
	assert_string_equal(cfg->volumes.publish_roots[0], "/var/lib/kubelet");
	assert_string_equal(cfg->volumes.publish_roots[1], "/mnt/targets");
	assert_null(cfg->volumes.publish_roots[2]);
	assert_int_equal(cfg->volumes.max_volume_size_bytes, 64ULL << 30);
	yaml = dump_yaml(cfg);
	assert_non_null(strstr(yaml, "volumes:\n"
				     "  overcommit_ratio: 1.5\n"
				     "  publish_roots:\n"
				     "  - /var/lib/kubelet\n"
				     "  - /mnt/targets\n"
				     "  max_volume_size: 64Gi\n"));
	free(yaml);
	config_free(cfg);

	/* Roots replace the default, they do not add to it; 0 is "no cap". */
	cfg = parse_ok("volumes: {publish_roots: [/srv/pods], max_volume_size: 0}\n");
	assert_int_equal(cfg->volumes.n_publish_roots, 1);
	assert_string_equal(cfg->volumes.publish_roots[0], "/srv/pods");
	assert_int_equal(cfg->volumes.max_volume_size_bytes, 0);
	config_free(cfg);

	for (size_t i = 0; i < N_OF(ratios); i++) {
		snprintf(text, sizeof(text), "volumes:\n  overcommit_ratio: %s\n", ratios[i].text);
		cfg = parse_ok(text);
		assert_true(cfg->volumes.overcommit_ratio == ratios[i].want);
		config_free(cfg);
	}

	/* 16 roots are fine, the 17th is reported where it is. */
	o = (size_t)snprintf(text, sizeof(text), "volumes:\n  publish_roots:\n");
	for (int i = 0; i < 16; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "    - /r%d\n", i);
	cfg = parse_ok(text);
	assert_int_equal(cfg->volumes.n_publish_roots, 16);
	assert_string_equal(cfg->volumes.publish_roots[15], "/r15");
	config_free(cfg);
	snprintf(text + o, sizeof(text) - o, "    - /r16\n");
	EXPECT_ERRORS(text, {19, 7, "volumes.publish_roots: more than 16 publish roots"});

	/* The section. */
	EXPECT_ERRORS("volumes: [a]\n", {1, 10, "volumes: expected a mapping, got a sequence"});
	EXPECT_ERRORS("volumes: on\n", {1, 10, "volumes: expected a mapping, got \"on\""});
	EXPECT_ERRORS("volumes: {ratio: 2}\n",
		      {1, 11,
		       "volumes: unknown key \"ratio\" (expected one of overcommit_ratio, "
		       "publish_roots, max_volume_size)"});
	EXPECT_ERRORS(
		"volumes:\n  overcommit_ratio: 1.0\n  overcommit_ratio: 2.0\n",
		{3, 3, "volumes.overcommit_ratio: duplicate key (first at line 2, column 3)"});

	/* overcommit_ratio: kind, syntax, range. */
	EXPECT_ERRORS(
		"volumes:\n  overcommit_ratio:\n",
		{2, 20, "volumes.overcommit_ratio: expected a number like 1.0 or 1.5, got null"});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: [1]\n",
		      {2, 21,
		       "volumes.overcommit_ratio: expected a number like 1.0 or 1.5, got a "
		       "sequence"});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: \"1.5\"\n",
		      {2, 21,
		       "volumes.overcommit_ratio: expected a number, got a quoted string \"1.5\""});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: 0\n",
		      {2, 21,
		       "volumes.overcommit_ratio: out of range: 0 (must be above 0 and at most "
		       "100)"});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: 0.000000\n",
		      {2, 21, "out of range: 0.000000 (must be above 0 and at most 100)"});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: 100.000001\n",
		      {2, 21, "volumes.overcommit_ratio: out of range: 100.000001"});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: 101\n", {2, 21, "out of range: 101"});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: 99999999999999999999999999999999\n",
		      {2, 21, "volumes.overcommit_ratio: out of range: 9999"});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: 1.0000001\n",
		      {2, 21,
		       "volumes.overcommit_ratio: more than 6 decimal places (capacity is "
		       "computed in millionths), got \"1.0000001\""});
	EXPECT_ERRORS("volumes:\n  overcommit_ratio: 01.5\n",
		      {2, 21,
		       "volumes.overcommit_ratio: leading zeros are ambiguous (YAML 1.1 reads "
		       "them as octal), got \"01.5\""});
	{
		static const char *const bad[] = {"-1",	 "+1",	 "1e3",	 ".5",	 "1.",	"1.5x",
						  "inf", ".inf", "nan",	 "1,5",	 "1_0", "0x10",
						  "one", "1..5", "1.5.", "true", "1:30"};

		for (size_t i = 0; i < N_OF(bad); i++) {
			char want[128];
			struct want w = {2, 21, want};

			snprintf(text, sizeof(text), "volumes:\n  overcommit_ratio: %s\n", bad[i]);
			snprintf(want, sizeof(want),
				 "volumes.overcommit_ratio: expected a number like 1.0 or 1.5, got "
				 "\"%s\"",
				 bad[i]);
			expect_errors_n(text, NULL, &w, 1);
		}
	}

	/* publish_roots: kind, emptiness, each path, repeats. */
	EXPECT_ERRORS("volumes:\n  publish_roots:\n",
		      {2, 17,
		       "volumes.publish_roots: must list at least one root (leave "
		       "publish_roots: out for the default)"});
	EXPECT_ERRORS("volumes:\n  publish_roots: []\n",
		      {2, 18, "volumes.publish_roots: must list at least one root"});
	EXPECT_ERRORS("volumes:\n  publish_roots: /var/lib/kubelet\n",
		      {2, 18,
		       "volumes.publish_roots: expected a sequence of paths, got "
		       "\"/var/lib/kubelet\""});
	EXPECT_ERRORS(
		"volumes:\n  publish_roots: {a: b}\n",
		{2, 18, "volumes.publish_roots: expected a sequence of paths, got a mapping"});
	EXPECT_ERRORS("volumes:\n  publish_roots: [var/lib/kubelet]\n",
		      {2, 19,
		       "volumes.publish_roots[0]: must be an absolute path, got "
		       "\"var/lib/kubelet\""});
	EXPECT_ERRORS("volumes:\n  publish_roots: [/ok, /]\n",
		      {2, 24, "volumes.publish_roots[1]: must not be /, got \"/\""});
	EXPECT_ERRORS("volumes:\n  publish_roots: [/a/]\n",
		      {2, 19, "volumes.publish_roots[0]: must be normalised (no trailing \"/\")"});
	EXPECT_ERRORS("volumes:\n  publish_roots: [/a//b]\n",
		      {2, 19, "volumes.publish_roots[0]: must be normalised (no \"//\")"});
	EXPECT_ERRORS(
		"volumes:\n  publish_roots: [/a/../b, /a/./b]\n",
		{2, 19, "publish_roots[0]: must be normalised (no \".\" or \"..\" components)"},
		{2, 28, "publish_roots[1]: must be normalised (no \".\" or \"..\" components)"});
	EXPECT_ERRORS("volumes:\n  publish_roots: [\"/a\\tb\"]\n",
		      {2, 19, "volumes.publish_roots[0]: must not contain control characters"});
	EXPECT_ERRORS("volumes:\n  publish_roots: [~, {a: b}]\n",
		      {2, 19, "volumes.publish_roots[0]: expected a path, got null"},
		      {2, 22, "volumes.publish_roots[1]: expected a path, got a mapping"});
	EXPECT_ERRORS("volumes:\n  publish_roots:\n    - /a\n    - /b\n    - /a\n",
		      {5, 7, "volumes.publish_roots[2]: /a is listed twice"});

	/* max_volume_size: a size, 0..1Ei. */
	EXPECT_ERRORS("volumes:\n  max_volume_size: 1.5Gi\n",
		      {2, 20,
		       "volumes.max_volume_size: expected a size like 64Gi, 500M or 1048576, got "
		       "\"1.5Gi\""});
	EXPECT_ERRORS("volumes:\n  max_volume_size: -1\n",
		      {2, 20, "volumes.max_volume_size: expected a size"});
	EXPECT_ERRORS("volumes:\n  max_volume_size: [1Gi]\n",
		      {2, 20,
		       "volumes.max_volume_size: expected a size like 64Gi, 500M or 1048576, "
		       "got a sequence"});
	EXPECT_ERRORS("volumes:\n  max_volume_size: 2Ei\n",
		      {2, 20, "volumes.max_volume_size: out of range: \"2Ei\" (must be 0..1Ei)"});
	EXPECT_ERRORS("volumes:\n  max_volume_size: 16Ei\n",
		      {2, 20,
		       "volumes.max_volume_size: out of range: \"16Ei\" does not fit in 64 bits "
		       "(must be 0..1Ei)"});

	/* Every mistake of the section in one go, in file order. */
	EXPECT_ERRORS("volumes:\n"
		      "  max_volume_size: 1GB\n"
		      "  overcommit_ratio: 0\n"
		      "  publish_roots: [/a, a]\n"
		      "  extra: 1\n",
		      {2, 20, "volumes.max_volume_size: expected a size"},
		      {3, 21, "volumes.overcommit_ratio: out of range: 0"},
		      {4, 23, "volumes.publish_roots[1]: must be an absolute path, got \"a\""},
		      {5, 3, "volumes: unknown key \"extra\""});
}

/* ---- dumps -------------------------------------------------------------- */

static void test_json(void **state)
{
	struct config *cfg = parse_ok("node_name: node-a\n"
				      "threads: 2\n"
				      "labels: {zone: z1}\n"
				      "listen:\n"
				      "  - unix: /run/p.sock\n"
				      "    owner: root\n"
				      "  - tcp: '[::1]:9000'\n"
				      "    auth: {token_file: /etc/pmemd/token}\n"
				      "pools:\n"
				      "  - name: /mnt/a\n"
				      "    key: zone\n"
				      "    value: z1\n"
				      "    regions: [region0]\n"
				      "  - name: /mnt/k\n"
				      "    topology: {type: kmem}\n"
				      "    regions: [region1]\n");
	char *s = dump_json(cfg);

	(void)state;
	assert_string_equal(
		s, "{\"kube\":{\"api_url\":null,\"ca_file\":null,\"client_cert\":null,"
		   "\"client_key\":null,\"enabled\":\"auto\",\"heartbeat_interval_ms\":10000,"
		   "\"publish_interval_ms\":1000,"
		   "\"token_file\":null},"
		   "\"labels\":{\"kubernetes.io/hostname\":\"node-a\",\"zone\":\"z1\"},"
		   "\"limits\":{\"max_body_bytes\":1048576,\"max_connections\":1024,"
		   "\"per_client_connections\":64,\"request_timeout_ms\":30000},"
		   "\"listen\":[{\"group\":null,\"mode\":\"0660\",\"owner\":\"root\","
		   "\"unix\":\"/run/p.sock\"},"
		   "{\"auth\":{\"client_ca\":null,\"tls_cert\":null,\"tls_key\":null,"
		   "\"token_file\":\"/etc/pmemd/token\"},\"host\":\"::1\",\"port\":9000,"
		   "\"tcp\":\"[::1]:9000\"}],"
		   "\"log_level\":\"info\",\"node_name\":\"node-a\",\"placement\":{\"cpu_manager_"
		   "state\":\"/var/lib/kubelet/"
		   "cpu_manager_state\",\"cpu_policy\":\"shortest-distance\",\"driver\":\"pmem.csi."
		   "pmemd.io\",\"pmem_policy\":\"binpack\",\"reservation_ttl_ms\":300000},"
		   "\"pools\":[{\"key\":\"zone\",\"name\":\"/mnt/a\",\"operator\":\"In\","
		   "\"reformat\":false,\"regions\":[\"region0\"],\"reserve_bytes\":0,\"topology\":{"
		   "\"fstype\":\"ext4\",\"options\":null,"
		   "\"type\":\"pmem\"},\"values\":[\"z1\"]},"
		   "{\"key\":null,\"name\":\"/mnt/k\",\"operator\":null,\"reformat\":false,"
		   "\"regions\":[\"region1\"],\"reserve_bytes\":0,"
		   "\"topology\":{\"fstype\":null,\"options\":null,\"type\":\"kmem\"},"
		   "\"values\":[]}],"
		   "\"resize\":{\"interval_ms\":2000,\"kubelet\":{\"bearer_token_file\":null,"
		   "\"ca_file\":null,\"timeout_ms\":5000,\"url\":null},\"policies\":[],"
		   "\"prometheus\":{"
		   "\"bearer_token_file\":null,\"ca_file\":null,\"preset\":\"kubelet\","
		   "\"query_capacity\":null,\"query_used\":null,\"timeout_ms\":5000,\"url\":null},"
		   "\"source\":\"local\"},\"role\":\"node\","
		   "\"scheduler\":{\"agents\":[],\"max_record_age_ms\":60000,"
		   "\"poll_interval_ms\":2000,\"simulate\":null,\"url_prefix\":\"/scheduler\"},"
		   "\"simulate\":null,\"source\":\"pmemd.yaml\",\"state_dir\":\"/var/lib/"
		   "pmemd\",\"threads\":2,"
		   "\"volumes\":{\"max_volume_size_bytes\":0,\"overcommit_ratio\":1.0,"
		   "\"publish_roots\":[\"/var/lib/kubelet\"]}}");
	free(s);
	config_free(cfg);
}

/* Dump, parse back, compare: the YAML must carry every setting, and be stable. */
static void round_trip(struct config *cfg)
{
	char *yaml1 = dump_yaml(cfg), *yaml2, *json1, *json2;
	struct config *back = parse_named(cfg->source, yaml1, NULL);

	json1 = dump_json(cfg);
	json2 = dump_json(back);
	if (strcmp(json1, json2) != 0)
		fprintf(stderr, "YAML:\n%s\n", yaml1);
	assert_string_equal(json1, json2);
	yaml2 = dump_yaml(back);
	assert_string_equal(yaml1, yaml2);
	assert_null(strchr(yaml1, '&'));
	assert_null(strchr(yaml1, '*'));
	free(yaml1);
	free(yaml2);
	free(json1);
	free(json2);
	config_free(back);
	config_free(cfg);
}

static void test_yaml_round_trip(void **state)
{
	(void)state;
	round_trip(parse_ok(""));
	round_trip(parse_ok(full_yaml));
	round_trip(load_ok("test/unit/data/seed-topology.yaml"));
	round_trip(load_ok("deploy/pmemd.example.yaml"));
	round_trip(load_ok("deploy/pmemd.demo.yaml"));
	/* Strings a YAML reader would retype must come back as the same strings. */
	round_trip(
		parse_ok("node_name: \"1.2\"\n"
			 "labels:\n"
			 "  empty: \"\"\n"
			 "  yes: \"true\"\n"
			 "  num: \"123\"\n"
			 "  nul: \"null\"\n"
			 "  \"y\": \"on\"\n"
			 "  \"1key\": \"1.0\"\n"
			 "listen:\n"
			 "  - tcp: '[2001:db8::7]:65535'\n"
			 "    auth: {tls_cert: /a b/c.pem, tls_key: '/k:#.pem', client_ca: /ca}\n"
			 "  - unix: /run/s.sock\n"
			 "    mode: 0\n"
			 "    group: \"0\"\n"
			 "limits: {max_body: 1000, request_timeout: 90s}\n"
			 "pools:\n"
			 "  - name: /mnt/with space/and:colon\n"
			 "    key: example.com/k\n"
			 "    operator: NotIn\n"
			 "    values: [\"\", \"0\"]\n"
			 "    regions: [region5]\n"));
	round_trip(parse_ok("kube: {enabled: false}\n"));
	round_trip(parse_ok("kube:\n"
			    "  enabled: true\n"
			    "  api_url: https://10.0.0.1:6443\n"
			    "  token_file: /t\n"
			    "  ca_file: /ca\n"
			    "  client_cert: /c\n"
			    "  client_key: /k\n"
			    "  publish_interval: 1500ms\n"));
	round_trip(parse_ok("volumes: {overcommit_ratio: 1.5}\n"));
	round_trip(parse_ok("volumes: {overcommit_ratio: 1.1, max_volume_size: 1000}\n"));
	round_trip(
		parse_ok("volumes:\n"
			 "  overcommit_ratio: 0.333333\n"
			 "  publish_roots: [/var/lib/kubelet, \"/mnt/with space/and:colon\", /0]\n"
			 "  max_volume_size: 64Gi\n"));
	round_trip(parse_ok("volumes: {overcommit_ratio: 100, publish_roots: [/t]}\n"));
	round_trip(parse_ok("volumes: {overcommit_ratio: 0.000001}\n"));
}

static void test_yaml_text(void **state)
{
	struct config *cfg = parse_ok("node_name: node-a\nthreads: 3\n"
				      "pools: [{name: /mnt/a, regions: [region0]}]\n");
	char *yaml = dump_yaml(cfg);

	(void)state;
	assert_string_equal(yaml, "node_name: node-a\n"
				  "log_level: info\n"
				  "threads: 3\n"
				  "labels: {}\n"
				  "listen:\n"
				  "- unix: /run/pmemd/pmemd.sock\n"
				  "  mode: \"0660\"\n"
				  "- tcp: \"127.0.0.1:8080\"\n"
				  "limits:\n"
				  "  max_body: 1Mi\n"
				  "  max_connections: 1024\n"
				  "  per_client_connections: 64\n"
				  "  request_timeout: 30s\n"
				  "pools:\n"
				  "- name: /mnt/a\n"
				  "  topology:\n"
				  "    type: pmem\n"
				  "    fstype: ext4\n"
				  "  regions:\n"
				  "  - region0\n");
	free(yaml);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_means_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_seed_fixture),
		cmocka_unit_test(test_deploy_examples),
		cmocka_unit_test(test_selector_forms),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_units_and_limits),
		cmocka_unit_test(test_extra_labels),
		cmocka_unit_test(test_reserved_sections),
		cmocka_unit_test(test_placement_and_role),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_sizes_and_ranges),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_pool_errors),
		cmocka_unit_test(test_pool_reserve_reformat),
		cmocka_unit_test(test_selector_errors),
		cmocka_unit_test(test_label_errors),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_yaml_level_errors),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_list_caps),
		cmocka_unit_test(test_several_errors_in_order),
		cmocka_unit_test(test_too_many_errors),
		cmocka_unit_test(test_file_level_errors),
		cmocka_unit_test(test_command_line_labels),
		cmocka_unit_test(test_pool_matches),
		cmocka_unit_test(test_restart_keys),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_kube),
		cmocka_unit_test(test_volumes),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_yaml_round_trip),
		cmocka_unit_test(test_yaml_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
