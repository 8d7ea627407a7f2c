/*
 * fake-quota: the in-memory fake of the volume service's kernel table (quota_ops), shared by
 * test-volumes.c and test-reservations.c (one copy: a kernel-table change is made once).
 * Every test binary links it; only the tests that include this header use it.
 */
#ifndef PMEMD_TEST_FAKE_QUOTA_H
#define PMEMD_TEST_FAKE_QUOTA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "quota/quota-volumes.h"
#include "quota/quota.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

/* The service's limit: the kernel's, plus ext4's external xattr block for the record. */
static inline uint64_t limit_of(uint64_t size, enum config_fstype t)
{
	return quota_limit_for_size(size, t, 4096) + (t == CONFIG_FS_EXT4 ? 4096 : 0);
}

#define MAX_DIRS   1024
#define MAX_META   6
#define MAX_PROJ   1024
#define MAX_MOUNTS 16

struct fdir {
	bool used;
	char pool[32];
	char rel[300];
	uint32_t projid;
	bool inherit;
	char key[MAX_META][32];
	char *val[MAX_META];
};

struct fproj {
	char pool[32];
	uint32_t projid;
	uint64_t bytes_limit, inodes_limit, bytes_used, inodes_used;
};

struct fmount {
	char target[256];
	char pool[32];
	char rel[300];
	bool readonly;
};

struct fake {
	pthread_mutex_t lock;
	struct fdir dirs[MAX_DIRS];
	struct fproj proj[MAX_PROJ];
	struct fmount mounts[MAX_MOUNTS];
	size_t n_mounts;
	char calls[16384];
	char fail_op[32]; /* this op fails with fail_err */
	int fail_err;
	char slow_op[32]; /* this op first sleeps slow_us (latency metrics) */
	unsigned slow_us;
	struct quota_pool_info pools[2];
	size_t n_pools;
	char allocated[2][64]; /* last "pool=bytes" reported */
};

/* The fake's state: tests read it and set fail_op/fail_err/slow_op/slow_us under `lock`. */
extern struct fake F;
extern const struct quota_ops fake_ops;

/* Appends "fmt;" to F.calls (under F.lock); count_calls counts entries starting with prefix. */
void called(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int count_calls(const char *prefix);
/* Empties the fake: two pools, /mnt/pmem0 (ext4, NUMA 0, 1 GiB) and /mnt/pmem1 (xfs, 1, 2 GiB). */
void fake_reset(void);
/* F.fail_err when `op` is F.fail_op (after sleeping F.slow_us when it is F.slow_op). */
int should_fail(const char *op);
struct fdir *dir_of(const char *pool, const char *rel);
struct fdir *dir_new(const char *pool, const char *rel);
struct fproj *proj_of(const char *pool, uint32_t id, bool create);
/* quota_volumes_opts callbacks over F.pools and F.allocated, and a fixed clock. */
int fake_pools(void *ctx, struct quota_pool_info **out, size_t *n);
void fake_allocated(void *ctx, const char *pool, uint64_t bytes);
int64_t fixed_now(void);

#endif
