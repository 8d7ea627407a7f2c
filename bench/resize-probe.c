/*
 * resize-probe: bench/resize's timer for the auto resizer's reaction. For each crossing it
 * waits a random part of a period (so crossings land at every phase of pmemd's monitor
 * interval), appends to a file in the volume until the volume's free space is under the
 * policy's free_bytes trigger, notes the time the last write returned, and polls the
 * project's hard limit with quotactl every millisecond until it changes: the new limit is in
 * the kernel, in effect. Prints one line per crossing: "crossing N reaction_ms X limit A->B".
 *
 * usage: resize-probe POOL PROJID FILE CROSSINGS TRIGGER_FREE_BYTES PHASE_MS TIMEOUT_MS
 * Runs as root in the emulated node (root's writes are not held to the limit; the probe
 * stops well below it anyway). Exits 0 when every crossing reacted, 1 when one timed out.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/quota.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif

static int pool_fd;
static int projid;

static int get_quota(struct if_dqblk *dq)
{
	int qcmd = (int)(((unsigned)Q_GETQUOTA << SUBCMDSHIFT) | (PRJQUOTA & SUBCMDMASK));

	return syscall(SYS_quotactl_fd, pool_fd, qcmd, projid, dq) == 0 ? 0 : -errno;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	struct if_dqblk dq;
	int fd, crossings, rc = 0;
	uint64_t trigger;
	double phase_ms, timeout_ms;

	if (argc != 8) {
		fprintf(stderr,
			"usage: %s POOL PROJID FILE CROSSINGS TRIGGER_FREE_BYTES PHASE_MS "
			"TIMEOUT_MS\n",
			argv[0]);
		return 2;
	}
	projid = atoi(argv[2]);
	crossings = atoi(argv[4]);
	trigger = strtoull(argv[5], NULL, 10);
	phase_ms = atof(argv[6]);
	timeout_ms = atof(argv[7]);
	if ((pool_fd = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0) {
		perror(argv[1]);
		return 2;
	}
	if ((fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644)) < 0) {
		perror(argv[3]);
		return 2;
	}
	memset(buf, 0x5a, sizeof(buf));
	srand((unsigned)getpid());
	for (int i = 0; i < crossings; i++) {
		uint64_t limit, used, target;
		double t0, t1;

		sleep_ms(phase_ms * rand() / RAND_MAX);
		if (get_quota(&dq) < 0) {
			perror("quotactl_fd(Q_GETQUOTA)");
			return 2;
		}
		limit = dq.dqb_bhardlimit * QIF_DQBLKSIZE;
		used = dq.dqb_curspace;
		/* Free under the limit at half the trigger: under it by the size too, whatever the
		 * limit adds to the size for the filesystem's own blocks (< trigger / 2). */
		target = limit - trigger / 2;
		if (limit == 0 || used >= target) {
			fprintf(stderr, "crossing %d: limit %llu used %llu: nothing to cross\n", i,
				(unsigned long long)limit, (unsigned long long)used);
			return 2;
		}
		while (used < target) {
			size_t n =
				target - used < sizeof(buf) ? (size_t)(target - used) : sizeof(buf);
			ssize_t w = write(fd, buf, n);

			if (w <= 0) {
				perror("write");
				return 2;
			}
			used += (uint64_t)w;
		}
		t0 = now_ms();
		for (;;) {
			if (get_quota(&dq) < 0) {
				perror("quotactl_fd(Q_GETQUOTA)");
				return 2;
			}
			t1 = now_ms();
			if (dq.dqb_bhardlimit * QIF_DQBLKSIZE != limit)
				break;
			if (t1 - t0 > timeout_ms) {
				printf("crossing %d timeout after %.0f ms\n", i, t1 - t0);
				fflush(stdout);
				rc = 1;
				break;
			}
			sleep_ms(1);
		}
		if (t1 - t0 <= timeout_ms)
			printf("crossing %d reaction_ms %.3f limit %llu->%llu\n", i, t1 - t0,
			       (unsigned long long)limit,
			       (unsigned long long)(dq.dqb_bhardlimit * QIF_DQBLKSIZE));
		fflush(stdout);
		if (rc)
			break;
	}
	return rc;
}
