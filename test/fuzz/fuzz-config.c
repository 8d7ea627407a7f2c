/*
 * fuzz-config: YAML text through the config parser and its validation (config/config.h), and
 * through the simulate-file parser (config/config-simulate.h).
 *
 * The input is one YAML document; both parsers read it (a config and a cluster description
 * are different shapes, so each mostly refuses what the other accepts, and that is the point:
 * every refusal path runs too). What is checked beyond "no crash, no sanitizer report":
 * - a refusal always comes with at least one error, and the errors print;
 * - an accepted config renders (config_to_json, config_write_yaml), and the YAML it writes
 *   parses again to the same config (what `pmemd --print-config` and GET /v1/config show
 *   must be a config pmemd takes);
 * - an accepted config compares with the example config (config_restart_keys, the SIGHUP
 *   path) and answers its lookups;
 * - an accepted cluster description gives records, and each node can be picked by name.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-simulate.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A valid config to compare each accepted one with, as a reload does. */
static struct config *base;

static void broken(const char *what)
{
	fprintf(stderr, "fuzz-config: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char yaml[] = "log_level: error\n"
				   "listen:\n"
				   "  - unix: /run/pmemd/pmemd.sock\n"
				   "  - tcp: 127.0.0.1:8080\n"
				   "labels: {zone: a}\n"
				   "pools:\n"
				   "  - name: /mnt/pmem0\n"
				   "    topology: {type: pmem, fstype: ext4}\n"
				   "    regions: [region0]\n";
	struct config_errors *errs = NULL;
	(void)argc;
	(void)argv;

	if (config_parse("base.yaml", yaml, strlen(yaml), NULL, &base, &errs) != 0) {
		config_errors_print(errs, stderr);
		broken("the base config does not parse");
	}
	config_errors_free(errs);
	return 0;
}

/* The config as YAML text (malloc'd), as config_write_yaml writes it. */
static char *yaml_of(const struct config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	if (config_write_yaml(cfg, f) != 0)
		broken("config_write_yaml failed on an accepted config");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static void check_config(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL, *again = NULL;
	struct config_errors *errs = NULL;
	FILE *null = fopen("/dev/null", "w");
	char keys[1024];
	char *y1, *y2;
	size_t l1 = 0, l2 = 0;
	json_t *j;
	int r;

	r = config_parse("fuzz.yaml", (const char *)data, size, NULL, &cfg, &errs);
	if (!errs)
		broken("config_parse left *errs unset");
	if (null)
		config_errors_print(errs, null);
	config_errors_free(errs);
	if (r != 0) {
		if (cfg)
			broken("a refused config was returned");
		goto out;
	}
	j = config_to_json(cfg);
	if (!j)
		broken("config_to_json failed on an accepted config");
	json_decref(j);
	config_restart_keys(base, cfg, keys, sizeof(keys));
	config_restart_keys(cfg, base, keys, sizeof(keys));
	config_kube_equal(&base->kube, &cfg->kube);
	config_label_get(cfg, "zone");
	for (size_t i = 0; i < cfg->n_pools; i++)
		config_pool_matches(&cfg->pools[i], cfg);

	/* What it writes, it reads back, to the same text. */
	y1 = yaml_of(cfg, &l1);
	if (y1) {
		errs = NULL;
		if (config_parse("written.yaml", y1, l1, NULL, &again, &errs) != 0) {
			fprintf(stderr, "--- written:\n%s--- errors:\n", y1);
			config_errors_print(errs, stderr);
			broken("the config it writes does not parse");
		}
		config_errors_free(errs);
		y2 = yaml_of(again, &l2);
		if (y2 && (l1 != l2 || memcmp(y1, y2, l1) != 0)) {
			fprintf(stderr, "--- first:\n%s--- second:\n%s", y1, y2);
			broken("writing the config read back gives other text");
		}
		free(y2);
		config_free(again);
		free(y1);
	}
out:
	config_free(cfg);
	if (null)
		fclose(null);
}

static void check_simulate(const uint8_t *data, size_t size)
{
	struct config_errors *errs = NULL;
	json_t *records = NULL, *rec;
	size_t i;
	int r;

	r = config_simulate_parse("sim.yaml", (const char *)data, size, &records, &errs);
	if (!errs)
		broken("config_simulate_parse left *errs unset");
	config_errors_free(errs);
	if (r != 0) {
		if (records)
			broken("a refused cluster description gave records");
		return;
	}
	if (!json_is_array(records))
		broken("records are not an array");
	/* Picking is by name; the first few are enough (replicas make many alike). */
	json_array_foreach (records, i, rec) {
		const char *name = json_string_value(json_object_get(rec, "node"));
		json_t *one = NULL;

		if (i >= 8)
			break;
		errs = NULL;
		if (name && config_simulate_node_pick("sim.yaml", records, name, &one, &errs) != 0)
			broken("a node of the records cannot be picked");
		config_errors_free(errs);
		json_decref(one);
	}
	errs = NULL;
	if (config_simulate_node_pick("sim.yaml", records, "no-such-node-here", &rec, &errs) !=
	    -ENOENT)
		broken("picking an absent node is not -ENOENT");
	config_errors_free(errs);
	json_decref(records);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Configs are small files; the parsers' own limits are tested by unit tests. */
	if (size > 64 * 1024)
		return 0;
	check_config(data, size);
	check_simulate(data, size);
	return 0;
}
