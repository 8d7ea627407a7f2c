/* quota-sim: the volume table of a simulated node (simulate:): accounting-only, in memory. */
#ifndef PMEMD_QUOTA_SIM_H
#define PMEMD_QUOTA_SIM_H

#include "quota/quota.h"

/*
 * A quota_ops table for a simulated node: directories, project ids, limits and attributes are
 * records in this process's memory, so the volume service (catalog, ledger, reservations)
 * runs unchanged over pools that have no filesystem. A volume stores nothing (usage 0, df
 * shows its limit free); bind_mount and unmount fail with -ENOTSUP ("simulated node: ...
 * cannot be published"). One store per process; it starts empty.
 */
extern const struct quota_ops quota_sim_ops;

/* Forgets every record (at exit, and between unit tests). */
void quota_sim_clear(void);

#endif
