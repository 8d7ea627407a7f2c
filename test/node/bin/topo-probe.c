/* topo-probe: drives topology_kernel_ops from the command line, for system tests in the emulated
 * node. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/topology.h"
#include "util/log.h"

static int usage(void)
{
	fprintf(stderr, "usage: topo-probe discover\n"
			"       topo-probe create-namespace REGION fsdax|devdax SIZE ALIGN\n"
			"       topo-probe probe-fs BLOCKDEV\n"
			"       topo-probe mkfs BLOCKDEV ext4|xfs\n"
			"       topo-probe make-dir PATH\n"
			"       topo-probe mount BLOCKDEV PATH ext4|xfs OPTIONS\n"
			"       topo-probe find-mount PATH\n"
			"       topo-probe fs-stat PATH\n"
			"       topo-probe has-volumes PATH\n"
			"       topo-probe dax-to-ram DAXDEV\n"
			"SIZE and ALIGN are bytes. PMEMD_DEBUG=1 logs libndctl's messages.\n");
	return 2;
}

static int parse_fstype(const char *s, enum config_fstype *t)
{
	if (strcmp(s, "ext4") == 0)
		*t = CONFIG_FS_EXT4;
	else if (strcmp(s, "xfs") == 0)
		*t = CONFIG_FS_XFS;
	else
		return -EINVAL;
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end ? -EINVAL : 0;
}

static int fail(const char *what, int rc, const char *err)
{
	fprintf(stderr, "topo-probe: %s: %s (%s)\n", what, err[0] ? err : "failed",
		strerror(rc < 0 ? -rc : rc));
	return 1;
}

int main(int argc, char **argv)
{
	const struct topology_ops *ops = &topology_kernel_ops;
	char err[512] = "";
	const char *cmd;
	int rc;

	if (getenv("PMEMD_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	if (argc < 2)
		return usage();
	cmd = argv[1];

	if (strcmp(cmd, "discover") == 0 && argc == 2) {
		struct topology_snapshot *s = NULL;
		json_t *j;

		rc = ops->discover(&s, err, sizeof(err));
		if (rc)
			return fail(cmd, rc, err);
		j = topology_snapshot_to_json(s);
		if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
			json_decref(j);
			topology_snapshot_free(s);
			return fail(cmd, -ENOMEM, "cannot print JSON");
		}
		putchar('\n');
		json_decref(j);
		topology_snapshot_free(s);
		return 0;
	}
	if (strcmp(cmd, "create-namespace") == 0 && argc == 6) {
		enum topology_ns_mode mode;
		uint64_t size, align;
		char dev[64];

		if (strcmp(argv[3], "fsdax") == 0)
			mode = TOPO_NS_FSDAX;
		else if (strcmp(argv[3], "devdax") == 0)
			mode = TOPO_NS_DEVDAX;
		else
			return usage();
		if (parse_u64(argv[4], &size) || parse_u64(argv[5], &align))
			return usage();
		rc = ops->create_namespace(argv[2], mode, size, align, dev, sizeof(dev), err,
					   sizeof(err));
		if (rc)
			return fail(cmd, rc, err);
		printf("%s\n", dev);
		return 0;
	}
	if (strcmp(cmd, "probe-fs") == 0 && argc == 3) {
		char fstype[32], uuid[64];

		rc = ops->probe_fs(argv[2], fstype, sizeof(fstype), uuid, sizeof(uuid), err,
				   sizeof(err));
		if (rc)
			return fail(cmd, rc, err);
		printf("{\"fstype\": \"%s\", \"uuid\": \"%s\"}\n", fstype, uuid);
		return 0;
	}
	if (strcmp(cmd, "mkfs") == 0 && argc == 4) {
		enum config_fstype t;

		if (parse_fstype(argv[3], &t))
			return usage();
		rc = ops->mkfs(argv[2], t, err, sizeof(err));
		return rc ? fail(cmd, rc, err) : 0;
	}
	if (strcmp(cmd, "make-dir") == 0 && argc == 3) {
		rc = ops->make_dir(argv[2], err, sizeof(err));
		return rc ? fail(cmd, rc, err) : 0;
	}
	if (strcmp(cmd, "mount") == 0 && argc == 6) {
		enum config_fstype t;

		if (parse_fstype(argv[4], &t))
			return usage();
		rc = ops->mount(argv[2], argv[3], t, argv[5], err, sizeof(err));
		return rc ? fail(cmd, rc, err) : 0;
	}
	if (strcmp(cmd, "find-mount") == 0 && argc == 3) {
		struct topology_mount m;
		json_t *j;

		rc = ops->find_mount(argv[2], &m, err, sizeof(err));
		if (rc)
			return fail(cmd, rc, err);
		j = json_pack("{s:s, s:s, s:s, s:b, s:b}", "source", m.source, "fstype", m.fstype,
			      "options", m.options, "dax", m.dax, "prjquota", m.prjquota);
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
		return 0;
	}
	if (strcmp(cmd, "fs-stat") == 0 && argc == 3) {
		uint64_t total, avail, inodes, ifree;

		rc = ops->fs_stat(argv[2], &total, &avail, &inodes, &ifree, err, sizeof(err));
		if (rc)
			return fail(cmd, rc, err);
		printf("{\"total\": %" PRIu64 ", \"avail\": %" PRIu64 ", \"inodes\": %" PRIu64
		       ", \"inodes_free\": %" PRIu64 "}\n",
		       total, avail, inodes, ifree);
		return 0;
	}
	if (strcmp(cmd, "has-volumes") == 0 && argc == 3) {
		bool has;

		rc = ops->pool_has_volumes(argv[2], &has, err, sizeof(err));
		if (rc)
			return fail(cmd, rc, err);
		printf("%s\n", has ? "true" : "false");
		return 0;
	}
	if (strcmp(cmd, "dax-to-ram") == 0 && argc == 3) {
		rc = ops->dax_to_ram(argv[2], err, sizeof(err));
		return rc ? fail(cmd, rc, err) : 0;
	}
	return usage();
}
