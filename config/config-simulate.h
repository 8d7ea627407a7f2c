/* config-simulate: a YAML cluster description (scheduler.simulate) turned into node records. */
#ifndef PMEMD_CONFIG_SIMULATE_H
#define PMEMD_CONFIG_SIMULATE_H

#include <jansson.h>
#include <stddef.h>

#include "config/config.h"

#define CONFIG_SIM_MAX_NODES	100000 /* nodes after replicas are expanded */
#define CONFIG_SIM_MAX_REPLICAS 100000
#define CONFIG_SIM_MAX_CPUS	4096 /* per NUMA node */
#define CONFIG_SIM_MAX_POOLS	64   /* per node, as the engine's SCHED_MAX_POOLS */

/*
 * Parses a cluster description (docs/scheduler.md, "Simulated clusters"):
 *
 *   nodes:
 *     - name: worker
 *       replicas: 3            # worker-0, worker-1, worker-2
 *       labels: {zone: a}
 *       numa_nodes:
 *         - id: 0
 *           cpus: 32
 *           cpus_exclusive: 4
 *           distances: {0: 10, 1: 21}
 *           pools: [{name: /mnt/pmem0, size: 1536Gi, fstype: ext4, allocated: 0}]
 *
 * and builds, per node, the record GET /v1/node would serve for it (docs/node-record.md), so
 * the scheduler reads simulated and live nodes through the same code. Returns 0 with *records
 * (a JSON array, the caller's reference); -EINVAL with every error found in *errs
 * ("file:line:col: message"); -errno when the file cannot be read; -ENOMEM. *errs is always
 * set and must be freed with config_errors_free(). *records is untouched on failure.
 */
int config_simulate_load(const char *path, json_t **records, struct config_errors **errs);

/* The same from a buffer; `name` is used in error positions. */
int config_simulate_parse(const char *name, const char *buf, size_t len, json_t **records,
			  struct config_errors **errs);

/*
 * A simulated node (the node role's simulate: key): the record of `node` in the cluster
 * description at `path`. 0 with *record (the caller's reference); the file's errors as
 * config_simulate_load; -ENOENT when the description has no such node (the error names the
 * nodes it has). *errs is always set and must be freed. *record is untouched on failure.
 */
int config_simulate_node_load(const char *path, const char *node, json_t **record,
			      struct config_errors **errs);

/* The same choice among already parsed records (`name` is the file, for the message). */
int config_simulate_node_pick(const char *name, const json_t *records, const char *node,
			      json_t **record, struct config_errors **errs);

#endif
