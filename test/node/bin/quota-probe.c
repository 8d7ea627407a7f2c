/* quota-probe: drives quota_kernel_ops from the command line, for system tests in the emulated
 * node. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota-kernel.h"
#include "quota/quota.h"
#include "util/log.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: quota-probe [--legacy] COMMAND ARGS...\n"
		"       make-dir POOL REL [MODE]\n"
		"       rename POOL FROM TO\n"
		"       remove-tree POOL REL\n"
		"       list-dir POOL REL            (\"\" = the pool root)\n"
		"       project-get POOL REL\n"
		"       project-set POOL REL PROJID\n"
		"       limit-set POOL PROJID BYTES [INODES]\n"
		"       usage-get POOL PROJID\n"
		"       meta-set POOL REL KEY VALUE\n"
		"       meta-get POOL REL KEY\n"
		"       stat-dir POOL REL\n"
		"       bind-mount POOL REL TARGET [ro]\n"
		"       unmount TARGET\n"
		"       limit-for-size SIZE ext4|xfs BLOCK_SIZE\n"
		"Failures print 'quota-probe: CMD: MESSAGE (ERRNO_NAME)' and exit 1.\n"
		"--legacy uses the older syscalls (quotactl on the device, mount(2), no openat2).\n"
		"PMEMD_DEBUG=1 logs at debug level.\n");
	return 2;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end || s[0] == '-' ? -EINVAL : 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (parse_u64(s, &x) || x > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

static int fail(const char *what, int rc, const char *err)
{
	int e = rc < 0 ? -rc : rc;
	const char *name = strerrorname_np(e);

	fprintf(stderr, "quota-probe: %s: %s (%s)\n", what, err[0] ? err : strerror(e),
		name ? name : "?");
	return 1;
}

int main(int argc, char **argv)
{
	const struct quota_ops *ops = &quota_kernel_ops;
	char err[1024] = "";
	const char *cmd;
	int rc;

	if (getenv("PMEMD_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	if (argc > 1 && strcmp(argv[1], "--legacy") == 0) {
		quota_kernel_set_legacy(true);
		argv++;
		argc--;
	}
	if (argc < 2)
		return usage();
	cmd = argv[1];

	if (strcmp(cmd, "make-dir") == 0 && (argc == 4 || argc == 5)) {
		uint32_t mode = 0755;

		if (argc == 5) {
			char *end;

			mode = (uint32_t)strtoul(argv[4], &end, 8);
			if (*end || end == argv[4])
				return usage();
		}
		rc = ops->make_dir(argv[2], argv[3], mode, err, sizeof(err));
	} else if (strcmp(cmd, "rename") == 0 && argc == 5) {
		rc = ops->rename(argv[2], argv[3], argv[4], err, sizeof(err));
	} else if (strcmp(cmd, "remove-tree") == 0 && argc == 4) {
		rc = ops->remove_tree(argv[2], argv[3], err, sizeof(err));
	} else if (strcmp(cmd, "list-dir") == 0 && argc == 4) {
		struct quota_dirent *v = NULL;
		size_t n = 0;

		rc = ops->list_dir(argv[2], argv[3], &v, &n, err, sizeof(err));
		for (size_t i = 0; !rc && i < n; i++)
			printf("%s projid=%" PRIu32 " inherit=%d dir=%d\n", v[i].name, v[i].projid,
			       v[i].inherit, v[i].is_dir);
		free(v);
	} else if (strcmp(cmd, "project-get") == 0 && argc == 4) {
		uint32_t projid = 0;
		bool inherit = false;

		rc = ops->project_get(argv[2], argv[3], &projid, &inherit, err, sizeof(err));
		if (!rc)
			printf("projid=%" PRIu32 " inherit=%d\n", projid, inherit);
	} else if (strcmp(cmd, "project-set") == 0 && argc == 5) {
		uint32_t projid;

		if (parse_u32(argv[4], &projid))
			return usage();
		rc = ops->project_set(argv[2], argv[3], projid, err, sizeof(err));
	} else if (strcmp(cmd, "limit-set") == 0 && (argc == 5 || argc == 6)) {
		uint64_t bytes, inodes = 0;
		uint32_t projid;

		if (parse_u32(argv[3], &projid) || parse_u64(argv[4], &bytes) ||
		    (argc == 6 && parse_u64(argv[5], &inodes)))
			return usage();
		rc = ops->limit_set(argv[2], projid, bytes, inodes, err, sizeof(err));
	} else if (strcmp(cmd, "usage-get") == 0 && argc == 4) {
		struct quota_usage u = {0};
		uint32_t projid;

		if (parse_u32(argv[3], &projid))
			return usage();
		rc = ops->usage_get(argv[2], projid, &u, err, sizeof(err));
		if (!rc)
			printf("bytes_used=%" PRIu64 " bytes_limit=%" PRIu64 " inodes_used=%" PRIu64
			       " inodes_limit=%" PRIu64 "\n",
			       u.bytes_used, u.bytes_limit, u.inodes_used, u.inodes_limit);
	} else if (strcmp(cmd, "meta-set") == 0 && argc == 6) {
		rc = ops->meta_set(argv[2], argv[3], argv[4], argv[5], err, sizeof(err));
	} else if (strcmp(cmd, "meta-get") == 0 && argc == 5) {
		char value[4096];

		rc = ops->meta_get(argv[2], argv[3], argv[4], value, sizeof(value), err,
				   sizeof(err));
		if (!rc)
			printf("%s\n", value);
	} else if (strcmp(cmd, "stat-dir") == 0 && argc == 4) {
		uint64_t total = 0, avail = 0;

		rc = ops->stat_dir(argv[2], argv[3], &total, &avail, err, sizeof(err));
		if (!rc)
			printf("total=%" PRIu64 " avail=%" PRIu64 "\n", total, avail);
	} else if (strcmp(cmd, "bind-mount") == 0 && (argc == 5 || argc == 6)) {
		bool ro = false;

		if (argc == 6) {
			if (strcmp(argv[5], "ro") != 0)
				return usage();
			ro = true;
		}
		rc = ops->bind_mount(argv[2], argv[3], argv[4], ro, err, sizeof(err));
	} else if (strcmp(cmd, "unmount") == 0 && argc == 3) {
		rc = ops->unmount(argv[2], err, sizeof(err));
	} else if (strcmp(cmd, "limit-for-size") == 0 && argc == 5) {
		enum config_fstype t;
		uint64_t size, bs;

		if (strcmp(argv[3], "ext4") == 0)
			t = CONFIG_FS_EXT4;
		else if (strcmp(argv[3], "xfs") == 0)
			t = CONFIG_FS_XFS;
		else
			return usage();
		if (parse_u64(argv[2], &size) || parse_u64(argv[4], &bs))
			return usage();
		printf("%" PRIu64 "\n", quota_limit_for_size(size, t, bs));
		return 0;
	} else {
		return usage();
	}
	return rc ? fail(cmd, rc, err) : 0;
}
