/*
 * resize-loop: the auto resizer's monitoring pass alone, without the rest of pmemd, so its CPU
 * cost can be measured where pmemd cannot run (this machine's kernel has no quota support: the
 * host side runs it over the in-memory quota table, quota_sim_ops) and split exactly into the
 * pass's user and system time (getrusage around back-to-back passes, one thread).
 *
 * usage: resize-loop OPS POOL VOLUMES PASSES
 *   OPS      kernel: the real quotactl path on POOL (an ext4/xfs mount with prjquota; its
 *            pmemd volumes are adopted, more are created up to VOLUMES)
 *            sim:    quota_sim_ops, with the usage reads answered at once (all zero): no
 *                    syscall per volume, what is left is the monitor's own user-space part
 *   POOL     the pool's mount path
 *   VOLUMES  volumes to watch (created as l<N>, 64 KiB, when the pool has fewer)
 *   PASSES   timed passes (after one warm-up pass)
 *
 * It prints one line of figures: per pass user/system CPU ms and wall ms, what that is as a
 * % of one core at the default 2 s interval, and the process's peak RSS (the service's
 * catalog and the monitor's state for every volume); then the same for the quota reads alone
 * (`reads_alone`: quota_volumes_usage_get_many over the same volumes, the call the pass makes,
 * without the monitor: the floor any design that reads every volume's quota every interval
 * pays, one quotactl_fd per volume with the kernel ops); then a calibration figure, the CPU time of
 * a fixed compute loop and the wall time of the cheapest syscall (the same binary in the
 * emulated node and on the host gives the emulation's slowdown for plain computation and for
 * a syscall's round trip). Exit 1 when it could not run.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "quota/quota-sim.h"
#include "quota/quota-volumes.h"
#include "resize/resize.h"
#include "util/log.h"

#define INTERVAL_MS 2000

static const char *pool_path;
static enum config_fstype pool_fs = CONFIG_FS_EXT4;

static int pools(void *ctx, struct quota_pool_info **out, size_t *n)
{
	struct quota_pool_info *p = calloc(1, sizeof(*p));

	(void)ctx;
	if (!p)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", pool_path);
	snprintf(p->id, sizeof(p->id), "bench-pool");
	p->numa_node = 0;
	p->fstype = pool_fs;
	p->allocatable_bytes = 1ULL << 40;
	*out = p;
	*n = 1;
	return 0;
}

/* The sim's usage read searches its table linearly; the bench wants none of that cost. */
static int zero_usage_many(const char *pool, const uint32_t *projids, size_t n,
			   struct quota_usage *out, int *rcs, char *err, size_t err_len)
{
	(void)pool, (void)projids, (void)err, (void)err_len;
	memset(out, 0, n * sizeof(*out));
	memset(rcs, 0, n * sizeof(*rcs));
	return 0;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double tv_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

/* CPU ns per round trip of the cheapest syscall (getppid): what the emulation adds to each. */
static double syscall_ns(void)
{
	enum { CALLS = 1000000 };
	struct rusage a, b;

	getrusage(RUSAGE_SELF, &a);
	for (int i = 0; i < CALLS; i++)
		syscall(SYS_getppid);
	getrusage(RUSAGE_SELF, &b);
	return (tv_ms(b.ru_utime) - tv_ms(a.ru_utime) + tv_ms(b.ru_stime) - tv_ms(a.ru_stime)) *
	       1e6 / CALLS;
}

/* CPU ms of a fixed integer loop: the calibration (no memory traffic, no syscalls). */
static double compute_ms(void)
{
	struct rusage a, b;
	volatile uint64_t sink;
	uint64_t x = 88172645463325252ULL;

	getrusage(RUSAGE_SELF, &a);
	for (long i = 0; i < 200000000L; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	sink = x;
	(void)sink;
	getrusage(RUSAGE_SELF, &b);
	return tv_ms(b.ru_utime) - tv_ms(a.ru_utime) + tv_ms(b.ru_stime) - tv_ms(a.ru_stime);
}

int main(int argc, char **argv)
{
	struct quota_volumes *vols = NULL;
	struct resize_policies *pol = NULL;
	struct resize_monitor *mon = NULL;
	struct quota_volume_brief *list = NULL;
	size_t have = 0;
	long want, passes, made = 0;
	struct rusage a, b;
	double w0, w1, um, sm;
	char err[512], body[1024];
	json_t *defaults;
	bool sim;
	int r;

	if (argc != 5 || (strcmp(argv[1], "kernel") != 0 && strcmp(argv[1], "sim") != 0)) {
		fprintf(stderr, "usage: %s kernel|sim POOL VOLUMES PASSES\n", argv[0]);
		return 2;
	}
	sim = strcmp(argv[1], "sim") == 0;
	pool_path = argv[2];
	{
		struct statfs sf;

		/* The pool's filesystem decides the quota a size needs (xfs has no overhead). */
		if (!sim && statfs(pool_path, &sf) == 0 && sf.f_type == 0x58465342 /* XFS */)
			pool_fs = CONFIG_FS_XFS;
	}
	want = atol(argv[3]);
	passes = atol(argv[4]);
	if (want < 1 || passes < 1) {
		fprintf(stderr, "resize-loop: VOLUMES and PASSES must be positive\n");
		return 2;
	}
	log_set_level(LOG_LVL_WARN);
	{
		static struct quota_ops sim_ops;
		struct quota_volumes_opts o = {.ops = sim ? &sim_ops : &quota_kernel_ops,
					       .pools = pools};

		sim_ops = quota_sim_ops;
		sim_ops.usage_get_many = zero_usage_many;

		r = quota_volumes_new(&o, &vols, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "resize-loop: volume service: %s\n", err);
			return 1;
		}
	}
	quota_volumes_sync(vols);
	if (quota_volume_brief_list(vols, &list, &have, NULL) < 0)
		return 1;
	quota_volume_brief_free(list, have);
	for (long i = 0; (long)have + made < want; i++) {
		struct quota_create_req rq = {.size_bytes = 65536, .numa_node = -1};
		json_t *out = NULL;
		bool created;

		snprintf(rq.name, sizeof(rq.name), "l%ld", i);
		rq.pool = (char *)pool_path;
		r = quota_volume_create(vols, &rq, &out, &created, err, sizeof(err));
		json_decref(out);
		if (r < 0 && r != -EEXIST) {
			fprintf(stderr, "resize-loop: create %s: %s\n", rq.name, err);
			return 1;
		}
		made += r == 0 && created;
	}
	/* The bench's policy: every volume of the pool, all far below the trigger. */
	snprintf(body, sizeof(body),
		 "[{\"name\":\"all\",\"selector\":{\"pool\":\"%s\"},\"trigger\":{\"used_percent\":"
		 "80},\"step\":{\"percent\":50},\"max_size_bytes\":1048576,"
		 "\"cooldown_seconds\":0}]",
		 pool_path);
	defaults = json_loads(body, 0, NULL);
	r = resize_policies_new(NULL, defaults, &pol, err, sizeof(err));
	json_decref(defaults);
	if (r < 0) {
		fprintf(stderr, "resize-loop: policy: %s\n", err);
		return 1;
	}
	{
		struct resize_monitor_opts mo = {.volumes = vols,
						 .policies = pol,
						 .source = RESIZE_SOURCE_LOCAL,
						 .interval_ms = INTERVAL_MS};

		r = resize_monitor_new(&mo, &mon, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "resize-loop: monitor: %s\n", err);
			return 1;
		}
	}
	r = resize_monitor_tick(mon); /* warm-up: the first pass builds the per-volume state */
	if (r != 0)
		fprintf(stderr, "resize-loop: WARNING: the warm-up pass returned %d\n", r);
	getrusage(RUSAGE_SELF, &a);
	w0 = mono_ms();
	for (long i = 0; i < passes; i++)
		if ((r = resize_monitor_tick(mon)) != 0)
			fprintf(stderr, "resize-loop: WARNING: pass %ld returned %d\n", i, r);
	w1 = mono_ms();
	getrusage(RUSAGE_SELF, &b);
	um = (tv_ms(b.ru_utime) - tv_ms(a.ru_utime)) / (double)passes;
	sm = (tv_ms(b.ru_stime) - tv_ms(a.ru_stime)) / (double)passes;
	if (quota_volume_brief_list(vols, &list, &have, NULL) < 0)
		return 1;
	printf("ops=%s volumes=%zu passes=%ld per_pass_ms user=%.3f system=%.3f wall=%.3f "
	       "core_percent_at_2s total=%.3f user=%.3f system=%.3f max_rss_mib=%.1f\n",
	       argv[1], have, passes, um, sm, (w1 - w0) / (double)passes,
	       (um + sm) / INTERVAL_MS * 100, um / INTERVAL_MS * 100, sm / INTERVAL_MS * 100,
	       (double)b.ru_maxrss / 1024);
	{
		/* The reads alone, over the same volumes, through the same call as the pass. */
		uint32_t *ids = calloc(have + 1, sizeof(*ids));
		struct quota_usage *u = calloc(have + 1, sizeof(*u));
		int *rcs = calloc(have + 1, sizeof(*rcs));
		long failed = 0;

		if (!ids || !u || !rcs)
			return 1;
		for (size_t i = 0; i < have; i++)
			ids[i] = list[i].projid;
		quota_volumes_usage_get_many(vols, pool_path, ids, have, u, rcs, err, sizeof(err));
		getrusage(RUSAGE_SELF, &a);
		w0 = mono_ms();
		for (long p = 0; p < passes; p++) {
			if (quota_volumes_usage_get_many(vols, pool_path, ids, have, u, rcs, err,
							 sizeof(err)) < 0) {
				fprintf(stderr, "resize-loop: reads: %s\n", err);
				return 1;
			}
			for (size_t i = 0; i < have; i++)
				failed += rcs[i] < 0;
		}
		w1 = mono_ms();
		getrusage(RUSAGE_SELF, &b);
		um = (tv_ms(b.ru_utime) - tv_ms(a.ru_utime)) / (double)passes;
		sm = (tv_ms(b.ru_stime) - tv_ms(a.ru_stime)) / (double)passes;
		printf("reads_alone ops=%s volumes=%zu passes=%ld per_pass_ms user=%.3f "
		       "system=%.3f "
		       "wall=%.3f core_percent_at_2s total=%.3f user=%.3f system=%.3f failed=%ld\n",
		       argv[1], have, passes, um, sm, (w1 - w0) / (double)passes,
		       (um + sm) / INTERVAL_MS * 100, um / INTERVAL_MS * 100,
		       sm / INTERVAL_MS * 100, failed);
		free(ids);
		free(u);
		free(rcs);
	}
	quota_volume_brief_free(list, have);
	printf("calibration compute_loop_cpu_ms=%.1f syscall_ns=%.0f\n", compute_ms(),
	       syscall_ns());
	resize_monitor_free(mon);
	resize_policies_free(pol);
	quota_volumes_free(vols);
	return 0;
}
