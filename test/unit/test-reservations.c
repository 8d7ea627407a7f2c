/* test-reservations: pod reservations over the in-memory fake kernel, the CPU manager checkpoint,
 * and /v1/reservations and /v1/placement/evaluate over HTTP. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api.h"
#include "config/config.h"
#include "quota/quota-volumes.h"
#include "topology/topology.h"
#include "util/log.h"

#include "fake-http.h"
#include "fake-quota.h"
#include "support.h"

/* ======================= the service with reservations ======================= */

static int64_t T_ms = 1700000000000; /* the injected clock: tests move it, nobody sleeps */
static char reserved_rep[2][64];     /* last reserved_bytes reported per pool */
static char cpus_rep[128];	     /* last reserved CPUs reported: "numa:cpus," ... */
static int cpus_reports;

static void fake_reserved_cpus(void *ctx, const int *ids, const unsigned *cpus, size_t n)
{
	size_t o = 0;

	(void)ctx;
	pthread_mutex_lock(&F.lock);
	cpus_rep[0] = '\0';
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(cpus_rep + o, sizeof(cpus_rep) - o, "%d:%u,", ids[i],
				      cpus[i]);
	cpus_reports++;
	pthread_mutex_unlock(&F.lock);
}

static int64_t test_now_ms(void)
{
	return __atomic_load_n(&T_ms, __ATOMIC_SEQ_CST);
}

static void fake_reserved(void *ctx, const char *pool, uint64_t bytes)
{
	(void)ctx;
	pthread_mutex_lock(&F.lock);
	snprintf(reserved_rep[strcmp(pool, "/mnt/pmem0") == 0 ? 0 : 1], 64, "%llu",
		 (unsigned long long)bytes);
	pthread_mutex_unlock(&F.lock);
}

/* Two NUMA nodes with two CPUs each; CPU 3 is handed out exclusively. */
static json_t *fake_record(void *ctx)
{
	(void)ctx;
	return json_loads("{\"node\":\"t\",\"numa_nodes\":["
			  "{\"id\":0,\"cpus\":[0,1],\"cpus_exclusive\":[],"
			  "\"distances\":{\"0\":10,\"1\":21}},"
			  "{\"id\":1,\"cpus\":[2,3],\"cpus_exclusive\":[3],"
			  "\"distances\":{\"0\":21,\"1\":10}}],\"pools\":[]}",
			  0, NULL);
}

static struct quota_volumes *rservice(const char *state_dir)
{
	struct quota_volumes_opts o = {
		.ops = &fake_ops,
		.pools = fake_pools,
		.allocated = fake_allocated,
		.reserved = fake_reserved,
		.reserved_cpus = fake_reserved_cpus,
		.now = fixed_now,
		.now_ms = test_now_ms,
		.state_dir = state_dir,
		.reservation_ttl_ms = 60000,
		.node_record = fake_record,
	};
	struct quota_volumes *v = NULL;
	char err[256];

	assert_int_equal(quota_volumes_new(&o, &v, err, sizeof(err)), 0);
	assert_int_equal(quota_volumes_sync(v), 0);
	return v;
}

static void reset(void)
{
	fake_reset();
	memset(reserved_rep, 0, sizeof(reserved_rep));
	cpus_rep[0] = '\0';
	cpus_reports = 0;
	T_ms = 1700000000000;
}

static int reserve(struct quota_volumes *v, const char *body, json_t **out, bool *created,
		   char *err, size_t len)
{
	json_t *j = json_loads(body, JSON_ALLOW_NUL, NULL), *dummy = NULL;
	bool c = false;
	int r;

	assert_non_null(j);
	r = quota_reservation_create(v, j, out ? out : &dummy, created ? created : &c, err, len);
	json_decref(j);
	json_decref(dummy);
	return r;
}

static int create(struct quota_volumes *v, const char *body, json_t **out, char *err, size_t len)
{
	json_t *j = json_loads(body, JSON_ALLOW_NUL, NULL), *dummy = NULL;
	struct quota_create_req *req = NULL;
	bool c = false;
	int r;

	assert_non_null(j);
	r = quota_create_req_parse(j, quota_volumes_limits(v), &req, err, len);
	json_decref(j);
	if (r == 0)
		r = quota_volume_create(v, req, out ? out : &dummy, &c, err, len);
	quota_create_req_free(req);
	json_decref(dummy);
	return r;
}

static const json_t *vol0(const json_t *resv)
{
	return json_array_get(json_object_get(resv, "volumes"), 0);
}

static const char *jstr(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static int64_t jint(const json_t *j, const char *key)
{
	return json_integer_value(json_object_get(j, key));
}

static uint64_t rep_of(char (*rep)[64], int pool)
{
	uint64_t x;

	pthread_mutex_lock(&F.lock);
	x = strtoull(rep[pool], NULL, 10);
	pthread_mutex_unlock(&F.lock);
	return x;
}

static void test_create_get_list_delete(void **state)
{
	struct quota_volumes *v;
	json_t *out = NULL, *again = NULL, *list = NULL;
	bool created = false;
	char err[512];
	(void)state;
	(void)count_calls;

	reset();
	v = rservice(NULL);
	assert_int_equal(
		reserve(v,
			"{\"pod_uid\":\"3f1c-aa\",\"pod_name\":\"db-0\",\"namespace\":\"prod\","
			"\"volumes\":[{\"size_bytes\":104857600,\"claim\":\"prod/data\"}],"
			"\"cpus\":1}",
			&out, &created, err, sizeof(err)),
		0);
	assert_true(created);
	assert_string_equal(jstr(out, "pod_uid"), "3f1c-aa");
	assert_string_equal(jstr(out, "pod_name"), "db-0");
	assert_string_equal(jstr(out, "namespace"), "prod");
	/* binpack: the NUMA node with the least room that fits, pool0 (1 GiB) over pool1 (2). */
	assert_string_equal(jstr(vol0(out), "pool"), "/mnt/pmem0");
	assert_int_equal(jint(vol0(out), "numa_node"), 0);
	assert_string_equal(jstr(vol0(out), "claim"), "prod/data");
	assert_false(json_is_true(json_object_get(vol0(out), "consumed")));
	assert_int_equal(jint(vol0(out), "reserved_bytes"),
			 (int64_t)limit_of(100 * MiB, CONFIG_FS_EXT4));
	/* shortest-distance: the CPU goes to the PMEM's NUMA node. */
	assert_int_equal(jint(out, "cpu_numa_node"), 0);
	assert_string_equal(jstr(out, "expires_at"), "2023-11-14T22:14:20.000Z");
	assert_int_equal(rep_of(reserved_rep, 0), limit_of(100 * MiB, CONFIG_FS_EXT4));
	/* Its CPU is held on that NUMA node (the record's numa_nodes[].cpus_reserved). */
	assert_string_equal(cpus_rep, "0:1,");
	assert_int_equal(cpus_reports, 1);

	assert_int_equal(quota_reservation_get(v, "3f1c-aa", &again, err, sizeof(err)), 0);
	assert_true(json_equal(out, again));
	json_decref(again);
	assert_int_equal(quota_reservation_list(v, &list, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(json_object_get(list, "reservations")), 1);
	json_decref(list);

	assert_int_equal(quota_reservation_delete(v, "3f1c-aa", err, sizeof(err)), 0);
	assert_int_equal(rep_of(reserved_rep, 0), 0);
	assert_string_equal(cpus_rep, ""); /* released with it */
	assert_int_equal(cpus_reports, 2);
	assert_int_equal(quota_reservation_get(v, "3f1c-aa", &again, err, sizeof(err)), -ENOENT);
	assert_int_equal(quota_reservation_delete(v, "3f1c-aa", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no reservation for pod 3f1c-aa"));
	json_decref(out);
	quota_volumes_free(v);
	reset();
}

static void test_idempotent_and_conflict(void **state)
{
	struct quota_volumes *v;
	json_t *a = NULL, *b = NULL;
	bool created = true;
	char err[512];
	const char *body = "{\"pod_uid\":\"u1\",\"volumes\":[{\"size_bytes\":1048576}]}";
	(void)state;

	reset();
	v = rservice(NULL);
	assert_int_equal(reserve(v, body, &a, &created, err, sizeof(err)), 0);
	assert_true(created);
	T_ms += 1000; /* a retry later is still the same reservation, same expiry */
	assert_int_equal(reserve(v, body, &b, &created, err, sizeof(err)), 0);
	assert_false(created);
	assert_true(json_equal(a, b));
	/* Capacity is held once, not per retry. */
	assert_int_equal(rep_of(reserved_rep, 0), limit_of(MiB, CONFIG_FS_EXT4));
	assert_int_equal(reserve(v, "{\"pod_uid\":\"u1\",\"volumes\":[{\"size_bytes\":2097152}]}",
				 NULL, NULL, err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "pod_uid"));
	json_decref(a);
	json_decref(b);
	quota_volumes_free(v);
	reset();
}

static void test_no_space_and_counted_everywhere(void **state)
{
	struct quota_volumes *v;
	json_t *out = NULL;
	char err[512];
	(void)state;

	reset();
	v = rservice(NULL);
	/* Bigger than any pool: 507 naming the need and the free figure. */
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"big\",\"volumes\":[{\"size_bytes\":3221225472}]}",
				 NULL, NULL, err, sizeof(err)),
			 -ENOSPC);
	assert_non_null(strstr(err, "need"));
	assert_non_null(strstr(err, "free"));
	/* Two volumes that each fit one pool but not together with a third. */
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"p0\",\"volumes\":[{\"size_bytes\":943718400,"
				 "\"pool\":\"/mnt/pmem0\"}]}",
				 &out, NULL, err, sizeof(err)),
			 0);
	json_decref(out);
	/* A volume create may not eat reserved capacity... */
	assert_int_equal(create(v,
				"{\"name\":\"x\",\"size_bytes\":209715200,\"pool\":\"/mnt/pmem0\"}",
				NULL, err, sizeof(err)),
			 -ENOSPC);
	assert_int_equal(create(v, "{\"name\":\"x\",\"size_bytes\":209715200,\"numa_node\":0}",
				NULL, err, sizeof(err)),
			 -ENOSPC);
	/* ...nor another reservation; what fits elsewhere goes elsewhere. */
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"p1\",\"volumes\":[{\"size_bytes\":209715200,"
				 "\"numa_node\":0}]}",
				 NULL, NULL, err, sizeof(err)),
			 -ENOSPC);
	assert_non_null(strstr(err, "need"));
	assert_int_equal(reserve(v, "{\"pod_uid\":\"p1\",\"volumes\":[{\"size_bytes\":209715200}]}",
				 &out, NULL, err, sizeof(err)),
			 0);
	assert_string_equal(jstr(vol0(out), "pool"), "/mnt/pmem1");
	json_decref(out);
	/* All or nothing: one of two volumes does not fit, the other is not held either. */
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"p2\",\"volumes\":[{\"size_bytes\":1048576,"
				 "\"pool\":\"/mnt/pmem1\"},{\"size_bytes\":3221225472}]}",
				 NULL, NULL, err, sizeof(err)),
			 -ENOSPC);
	assert_int_equal(rep_of(reserved_rep, 1), limit_of(209715200, CONFIG_FS_XFS));
	/* A NUMA node without pools, a pool that does not exist, fstype mismatch: 400s. */
	assert_int_equal(
		reserve(v, "{\"pod_uid\":\"p3\",\"volumes\":[{\"size_bytes\":1,\"numa_node\":5}]}",
			NULL, NULL, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "volumes[0].numa_node"));
	assert_int_equal(
		reserve(v, "{\"pod_uid\":\"p3\",\"volumes\":[{\"size_bytes\":1,\"pool\":\"/x\"}]}",
			NULL, NULL, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "volumes[0].pool"));
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"p3\",\"volumes\":[{\"size_bytes\":1,\"pool\":"
				 "\"mnt-pmem0\",\"fstype\":\"xfs\"}]}",
				 NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "volumes[0].fstype"));
	/* fstype steers the engine: xfs lives on pool1 only. */
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"p4\",\"volumes\":[{\"size_bytes\":1,\"fstype\":"
				 "\"xfs\"}]}",
				 &out, NULL, err, sizeof(err)),
			 0);
	assert_string_equal(jstr(vol0(out), "pool"), "/mnt/pmem1");
	json_decref(out);
	/* CPUs: 4 exclusive CPUs are more than any NUMA node has free. */
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"p5\",\"volumes\":[{\"size_bytes\":1}],\"cpus\":4}",
				 NULL, NULL, err, sizeof(err)),
			 -ENOSPC);
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"p5\",\"volumes\":[],\"cpus\":1,"
				 "\"cpu_numa_node\":7}",
				 NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "cpu_numa_node"));
	quota_volumes_free(v);
	reset();
}

static void test_ttl_expiry(void **state)
{
	struct quota_volumes *v;
	json_t *out = NULL;
	char err[512];
	(void)state;

	reset();
	v = rservice(NULL);
	assert_int_equal(
		reserve(v,
			"{\"pod_uid\":\"t1\",\"ttl_seconds\":10,\"volumes\":[{\"size_bytes\":"
			"943718400,\"pool\":\"/mnt/pmem0\"}]}",
			&out, NULL, err, sizeof(err)),
		0);
	assert_int_equal(jint(out, "ttl_seconds"), 10);
	json_decref(out);
	/* The default TTL (opts: 60 s) for one without ttl_seconds. */
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"t2\",\"volumes\":[{\"size_bytes\":1048576,"
				 "\"pool\":\"/mnt/pmem1\"}]}",
				 NULL, NULL, err, sizeof(err)),
			 0);
	T_ms += 9999;
	assert_int_equal(quota_reservation_get(v, "t1", &out, err, sizeof(err)), 0);
	json_decref(out);
	assert_int_equal(create(v,
				"{\"name\":\"a\",\"size_bytes\":209715200,\"pool\":\"/mnt/pmem0\"}",
				NULL, err, sizeof(err)),
			 -ENOSPC);
	T_ms += 1; /* exactly at expires_at: gone */
	/* Expiry is checked by every ledger operation: this create finds the room again. */
	assert_int_equal(create(v,
				"{\"name\":\"a\",\"size_bytes\":209715200,\"pool\":\"/mnt/pmem0\"}",
				NULL, err, sizeof(err)),
			 0);
	assert_int_equal(quota_reservation_get(v, "t1", &out, err, sizeof(err)), -ENOENT);
	assert_int_equal(quota_reservation_get(v, "t2", &out, err, sizeof(err)), 0);
	json_decref(out);
	/* ...and by each pool pass (sync), which reports reserved bytes to the record. */
	assert_int_equal(rep_of(reserved_rep, 1), limit_of(MiB, CONFIG_FS_XFS));
	T_ms += 60000;
	assert_int_equal(quota_volumes_sync(v), 0);
	assert_int_equal(rep_of(reserved_rep, 1), 0);
	assert_int_equal(quota_reservation_get(v, "t2", &out, err, sizeof(err)), -ENOENT);
	quota_volumes_free(v);
	reset();
}

static void test_consume_by_volume_create(void **state)
{
	struct quota_volumes *v;
	json_t *out = NULL;
	char err[512];
	uint64_t l100 = limit_of(100 * MiB, CONFIG_FS_EXT4),
		 l50 = limit_of(50 * MiB, CONFIG_FS_EXT4);
	(void)state;

	reset();
	v = rservice(NULL);
	assert_int_equal(
		reserve(v,
			"{\"pod_uid\":\"c1\",\"volumes\":[{\"size_bytes\":104857600,\"claim\":"
			"\"ns/a\",\"numa_node\":0},{\"size_bytes\":104857600,\"claim\":"
			"\"ns/b\",\"numa_node\":0}]}",
			NULL, NULL, err, sizeof(err)),
		0);
	assert_int_equal(rep_of(reserved_rep, 0), 2 * l100);
	/* Larger than reserved: no match, a normal create (binpack: pool0 still fits). */
	assert_int_equal(create(v, "{\"name\":\"n1\",\"size_bytes\":209715200,\"pod_uid\":\"c1\"}",
				&out, err, sizeof(err)),
			 0);
	json_decref(out);
	assert_int_equal(rep_of(reserved_rep, 0), 2 * l100);
	assert_int_equal(quota_volume_delete(v, "n1", false, err, sizeof(err)), 0);
	/* An unknown claim: no match either. */
	assert_int_equal(create(v,
				"{\"name\":\"n2\",\"size_bytes\":1048576,\"pod_uid\":\"c1\","
				"\"claim\":\"ns/zzz\",\"pool\":\"/mnt/pmem1\"}",
				&out, err, sizeof(err)),
			 0);
	json_decref(out);
	assert_int_equal(rep_of(reserved_rep, 0), 2 * l100);
	/* The claim's entry, found by the claim alone (what a CSI create knows): its pool,
	 * capacity moves from reserved to allocated. */
	assert_int_equal(create(v,
				"{\"name\":\"va\",\"size_bytes\":52428800,"
				"\"claim\":\"ns/a\"}",
				&out, err, sizeof(err)),
			 0);
	assert_string_equal(jstr(out, "pool"), "/mnt/pmem0");
	json_decref(out);
	assert_int_equal(rep_of(reserved_rep, 0), l100);
	assert_int_equal(rep_of(F.allocated, 0), l50);
	assert_int_equal(quota_reservation_get(v, "c1", &out, err, sizeof(err)), 0);
	assert_true(json_is_true(json_object_get(vol0(out), "consumed")));
	assert_string_equal(jstr(vol0(out), "volume"), "va");
	json_decref(out);
	/* Not counted twice: the rest of pool0 is exactly capacity - l50 - l100. */
	{
		uint64_t cap = 1 * GiB, rest = cap - l50 - l100;
		/* The largest size whose limit fits `rest`: limit_of adds a few blocks. */
		uint64_t size = rest - (limit_of(rest, CONFIG_FS_EXT4) - rest);
		char body[200];

		snprintf(body, sizeof(body),
			 "{\"name\":\"fill\",\"size_bytes\":%llu,\"pool\":\"/mnt/pmem0\"}",
			 (unsigned long long)size);
		assert_true(limit_of(size, CONFIG_FS_EXT4) <= rest);
		assert_int_equal(create(v, body, NULL, err, sizeof(err)), 0);
		assert_int_equal(quota_volume_delete(v, "fill", false, err, sizeof(err)), 0);
		snprintf(body, sizeof(body),
			 "{\"name\":\"fill\",\"size_bytes\":%llu,\"pool\":\"/mnt/pmem0\"}",
			 (unsigned long long)(rest + 4096));
		assert_int_equal(create(v, body, NULL, err, sizeof(err)), -ENOSPC);
	}
	/* A failed create keeps the entry reserved (never released in between). */
	snprintf(F.fail_op, sizeof(F.fail_op), "limit_set");
	F.fail_err = -EIO;
	assert_int_equal(create(v, "{\"name\":\"vb\",\"size_bytes\":104857600,\"pod_uid\":\"c1\"}",
				NULL, err, sizeof(err)),
			 -EIO);
	F.fail_op[0] = '\0';
	assert_int_equal(rep_of(reserved_rep, 0), l100);
	assert_int_equal(quota_reservation_get(v, "c1", &out, err, sizeof(err)), 0);
	json_decref(out);
	/* Without a claim, the remaining entry; all consumed: the reservation is gone. */
	assert_int_equal(create(v, "{\"name\":\"vb\",\"size_bytes\":104857600,\"pod_uid\":\"c1\"}",
				NULL, err, sizeof(err)),
			 0);
	assert_int_equal(rep_of(reserved_rep, 0), 0);
	assert_int_equal(rep_of(F.allocated, 0), l50 + l100);
	assert_int_equal(quota_reservation_get(v, "c1", &out, err, sizeof(err)), -ENOENT);
	/* An idempotent retry of the create consumes nothing. */
	assert_int_equal(create(v, "{\"name\":\"vb\",\"size_bytes\":104857600,\"pod_uid\":\"c1\"}",
				NULL, err, sizeof(err)),
			 0);
	assert_int_equal(rep_of(F.allocated, 0), l50 + l100);
	quota_volumes_free(v);
	reset();
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/pmemd-resv-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			rmtree(p);
		else
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* The name of the one file in `dir` that starts with `prefix`, or "". */
static void find_file(const char *dir, const char *prefix, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	out[0] = '\0';
	while (d && (e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			snprintf(out, len, "%s", e->d_name);
	if (d)
		closedir(d);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/*
 * Right after a start a pool not decided yet (pending) has unknown capacity: a reservation
 * naming it, or placed by the engine, is -EAGAIN (503), not 400 "no pool" or a placement that
 * ignores it (test 98 found the 400). Reservations already held answer as they are.
 */
static void test_pending_pool(void **state)
{
	const char *body = "{\"pod_uid\":\"p1\",\"volumes\":[{\"size_bytes\":1048576,"
			   "\"pool\":\"/mnt/pmem1\"}]}";
	struct quota_volumes *v;
	json_t *j = NULL;
	bool created = false;
	char err[512];
	(void)state;

	reset();
	v = rservice(NULL);
	assert_int_equal(reserve(v, body, NULL, NULL, err, sizeof(err)), 0);
	quota_volumes_free(v);

	/* A new service (no state_dir: nothing kept) whose /mnt/pmem1 is pending. */
	F.pools[1].pending = true;
	v = rservice(NULL);
	assert_int_equal(reserve(v, body, NULL, NULL, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "pool /mnt/pmem1 is not loaded yet"));
	assert_int_equal(reserve(v, "{\"pod_uid\":\"p2\",\"volumes\":[{\"size_bytes\":1048576}]}",
				 NULL, NULL, err, sizeof(err)),
			 -EAGAIN);
	assert_int_equal(quota_reservation_get(v, "p2", &j, err, sizeof(err)), -ENOENT);
	F.pools[1].pending = false;
	assert_int_equal(reserve(v, body, &j, &created, err, sizeof(err)), 0);
	assert_true(created);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "volumes"), 0), "pool")),
			    "/mnt/pmem1");
	json_decref(j);
	quota_volumes_free(v);
}

static void test_persistence(void **state)
{
	char *dir = tmpdir(), sub[256], path[300], err[512];
	struct quota_volumes *v;
	json_t *a = NULL, *b = NULL;
	struct stat st;
	(void)state;

	reset();
	/* A state_dir that does not exist yet is made. */
	snprintf(sub, sizeof(sub), "%s/state", dir);
	v = rservice(sub);
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"r1\",\"volumes\":[{\"size_bytes\":104857600},"
				 "{\"size_bytes\":1048576,\"pool\":\"/mnt/pmem1\"}]}",
				 &a, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(
		reserve(v,
			"{\"pod_uid\":\"r2\",\"ttl_seconds\":5,\"volumes\":[{\"size_bytes\":"
			"1048576}]}",
			NULL, NULL, err, sizeof(err)),
		0);
	assert_int_equal(create(v,
				"{\"name\":\"v1\",\"size_bytes\":1048576,\"pod_uid\":\"r1\","
				"\"pool\":\"/mnt/pmem1\"}",
				NULL, err, sizeof(err)),
			 0);
	snprintf(path, sizeof(path), "%s/reservations.json", sub);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	find_file(sub, "reservations.json.tmp", err, sizeof(err));
	assert_string_equal(err, "");
	quota_volumes_free(v);

	/* A restart: the volume is found by the scan, the reservation by the file. r2 has
	 * expired meanwhile and is dropped at load. */
	memset(reserved_rep, 0, sizeof(reserved_rep));
	T_ms += 6000;
	v = rservice(sub);
	assert_int_equal(quota_reservation_get(v, "r1", &b, err, sizeof(err)), 0);
	assert_true(json_is_true(
		json_object_get(json_array_get(json_object_get(b, "volumes"), 1), "consumed")));
	assert_false(json_is_true(json_object_get(vol0(b), "consumed")));
	assert_string_equal(jstr(b, "expires_at"), jstr(a, "expires_at"));
	assert_int_equal(quota_reservation_get(v, "r2", &b, err, sizeof(err)), -ENOENT);
	json_decref(b);
	/* Its capacity is held again once the pools are scanned, and reported. */
	assert_int_equal(rep_of(reserved_rep, 0), limit_of(100 * MiB, CONFIG_FS_EXT4));
	assert_int_equal(rep_of(reserved_rep, 1), 0);
	assert_int_equal(rep_of(F.allocated, 1), limit_of(MiB, CONFIG_FS_XFS));
	/* The same body after the restart is still the same reservation. */
	assert_int_equal(reserve(v,
				 "{\"pod_uid\":\"r1\",\"volumes\":[{\"size_bytes\":104857600},"
				 "{\"size_bytes\":1048576,\"pool\":\"/mnt/pmem1\"}]}",
				 &b, NULL, err, sizeof(err)),
			 0);
	json_decref(b);
	quota_volumes_free(v);
	json_decref(a);
	rmtree(dir);
	free(dir);
	reset();
}

static void test_corrupt_file_moved_aside(void **state)
{
	static const char *const bad[] = {
		"{not json",
		"{\"version\":1}",
		"{\"version\":2,\"reservations\":[]}",
		"{\"version\":1,\"reservations\":[{\"pod_uid\":\"../x\",\"request\":{},"
		"\"volumes\":[],\"cpu_numa_node\":-1,\"created_ms\":0,\"expires_ms\":0}]}",
		"{\"version\":1,\"reservations\":[{\"pod_uid\":\"a\",\"request\":{},"
		"\"volumes\":[{\"size_bytes\":-1}],\"cpu_numa_node\":-1,\"created_ms\":0,"
		"\"expires_ms\":99999999999999}]}",
	};
	char *dir = tmpdir(), path[300], name[256], err[512];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct quota_volumes *v;
		json_t *list = NULL;

		reset();
		snprintf(path, sizeof(path), "%s/reservations.json", dir);
		write_file(path, bad[i]);
		v = rservice(dir);
		assert_int_equal(quota_reservation_list(v, &list, err, sizeof(err)), 0);
		assert_int_equal(json_array_size(json_object_get(list, "reservations")), 0);
		json_decref(list);
		find_file(dir, "reservations.json.corrupt-", name, sizeof(name));
		assert_string_not_equal(name, "");
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		assert_int_equal(unlink(path), 0);
		/* The service works on: a new reservation writes a good file. */
		assert_int_equal(reserve(v, "{\"pod_uid\":\"n\",\"volumes\":[{\"size_bytes\":1}]}",
					 NULL, NULL, err, sizeof(err)),
				 0);
		quota_volumes_free(v);
		v = rservice(dir);
		assert_int_equal(quota_reservation_delete(v, "n", err, sizeof(err)), 0);
		quota_volumes_free(v);
	}
	rmtree(dir);
	free(dir);
	reset();
}

static void test_persist_failure_rolls_back(void **state)
{
	char *dir = tmpdir(), path[300], err[1024];
	struct quota_volumes *v;
	json_t *list = NULL;
	(void)state;

	reset();
	v = rservice(dir);
	assert_int_equal(reserve(v, "{\"pod_uid\":\"k\",\"volumes\":[{\"size_bytes\":1048576}]}",
				 NULL, NULL, err, sizeof(err)),
			 0);
	/* A directory where the temp file goes: every save fails. */
	snprintf(path, sizeof(path), "%s/reservations.json.tmp", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(
		reserve(v,
			"{\"pod_uid\":\"f\",\"volumes\":[{\"size_bytes\":943718400,\"pool\":"
			"\"/mnt/pmem0\"}]}",
			NULL, NULL, err, sizeof(err)),
		-EIO);
	assert_non_null(strstr(err, "reservations.json.tmp"));
	/* Nothing of it stays: not listed, its capacity not held. */
	assert_int_equal(quota_reservation_list(v, &list, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(json_object_get(list, "reservations")), 1);
	json_decref(list);
	assert_int_equal(rep_of(reserved_rep, 0), limit_of(MiB, CONFIG_FS_EXT4));
	/* A delete that cannot be written leaves the reservation whole. */
	assert_int_equal(quota_reservation_delete(v, "k", err, sizeof(err)), -EIO);
	assert_int_equal(quota_reservation_get(v, "k", &list, err, sizeof(err)), 0);
	json_decref(list);
	assert_int_equal(rep_of(reserved_rep, 0), limit_of(MiB, CONFIG_FS_EXT4));
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(quota_reservation_delete(v, "k", err, sizeof(err)), 0);
	quota_volumes_free(v);
	rmtree(dir);
	free(dir);
	reset();
}

static void test_hostile_input(void **state)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{"{\"pod_uid\":\"../x\",\"volumes\":[{\"size_bytes\":1}]}", "pod_uid"},
		{"{\"pod_uid\":\"a\\u0000b\",\"volumes\":[{\"size_bytes\":1}]}", "pod_uid"},
		{"{\"pod_uid\":\"\",\"volumes\":[{\"size_bytes\":1}]}", "pod_uid"},
		{"{\"pod_uid\":7,\"volumes\":[{\"size_bytes\":1}]}", "pod_uid"},
		{"{\"volumes\":[{\"size_bytes\":1}]}", "pod_uid"},
		{"{\"pod_uid\":\"a\",\"pod_name\":\"../x\",\"volumes\":[{\"size_bytes\":1}]}",
		 "pod_name"},
		{"{\"pod_uid\":\"a\",\"namespace\":\"a.b\",\"volumes\":[{\"size_bytes\":1}]}",
		 "namespace"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1,\"claim\":\"../x\"}]}",
		 "volumes[0].claim"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1}],\"pmem_policy\":\"best\"}",
		 "pmem_policy: must be binpack"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1}],\"pmem_policy\":7}",
		 "pmem_policy: must be"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1}],\"cpu_policy\":\"\"}",
		 "cpu_policy: must be"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1,\"claim\":\"ns/a/b\"}]}",
		 "volumes[0].claim"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1,\"pool\":\"a\\u0000b\"}]}",
		 "volumes[0].pool"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":0}]}", "volumes[0].size_bytes"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1.5}]}", "volumes[0].size_bytes"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1,\"pool\":\"/mnt/pmem0\","
		 "\"numa_node\":0}]}",
		 "numa_node"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1,\"fstype\":\"btrfs\"}]}",
		 "volumes[0].fstype"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1,\"x\":1}]}", "unknown field"},
		{"{\"pod_uid\":\"a\",\"volumes\":[],\"color\":1}", "unknown field"},
		{"{\"pod_uid\":\"a\",\"volumes\":[]}", "volumes"},
		{"{\"pod_uid\":\"a\",\"volumes\":{}}", "volumes"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1}],\"ttl_seconds\":0}",
		 "ttl_seconds"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1}],\"ttl_seconds\":86401}",
		 "ttl_seconds"},
		{"{\"pod_uid\":\"a\",\"volumes\":[{\"size_bytes\":1}],\"cpus\":-1}", "cpus"},
	};
	struct quota_volumes *v;
	char *big = malloc(10300), err[512];
	json_t *j;
	(void)state;

	reset();
	v = rservice(NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(reserve(v, cases[i].body, NULL, NULL, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].field)) {
			fprintf(stderr, "case %zu: \"%s\" does not name %s\n", i, err,
				cases[i].field);
			fail();
		}
	}
	/* 10 KB strings: refused with a short message, never echoed whole. */
	assert_non_null(big);
	memset(big, 'a', 10240);
	big[10240] = '\0';
	j = json_pack("{s:s, s:[{s:i}]}", "pod_uid", big, "volumes", "size_bytes", 1);
	assert_int_equal(quota_reservation_create(v, j, &j, &(bool){false}, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "pod_uid"));
	assert_true(strlen(err) < 200);
	json_decref(j);
	j = json_pack("{s:s, s:[{s:i, s:s}]}", "pod_uid", "a", "volumes", "size_bytes", 1, "claim",
		      big);
	assert_int_equal(quota_reservation_create(v, j, &j, &(bool){false}, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "volumes[0].claim"));
	json_decref(j);
	/* The path parameter and a volume create's pod_uid are checked the same way. */
	assert_int_equal(quota_reservation_get(v, "../x", &j, err, sizeof(err)), -EINVAL);
	assert_int_equal(quota_reservation_delete(v, big, err, sizeof(err)), -EINVAL);
	assert_int_equal(create(v, "{\"name\":\"a\",\"size_bytes\":1,\"pod_uid\":\"../x\"}", NULL,
				err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "pod_uid"));
	assert_int_equal(create(v, "{\"name\":\"a\",\"size_bytes\":1,\"claim\":\"../a\"}", NULL,
				err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "claim"));
	free(big);
	quota_volumes_free(v);
	reset();
}

struct racer {
	struct quota_volumes *v;
	int id;
	int r;
};

static void *race(void *arg)
{
	struct racer *x = arg;
	char body[200], err[512];

	snprintf(body, sizeof(body),
		 "{\"pod_uid\":\"race-%d\",\"volumes\":[{\"size_bytes\":209715200,\"numa_node\":0}]"
		 "}",
		 x->id);
	x->r = reserve(x->v, body, NULL, NULL, err, sizeof(err));
	return NULL;
}

/* 16 pods race for pool0 (1 GiB): exactly as many as fit get in, never more. */
static void test_concurrent_reservations(void **state)
{
	enum { N = 16 };
	struct racer x[N];
	pthread_t t[N];
	struct quota_volumes *v;
	int ok = 0;
	uint64_t l = limit_of(200 * MiB, CONFIG_FS_EXT4);
	(void)state;

	reset();
	v = rservice(NULL);
	for (int i = 0; i < N; i++) {
		x[i] = (struct racer){.v = v, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, race, &x[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		if (x[i].r == 0)
			ok++;
		else
			assert_int_equal(x[i].r, -ENOSPC);
	}
	assert_int_equal(ok, (int)(GiB / l));
	assert_true(rep_of(reserved_rep, 0) <= GiB);
	assert_int_equal(rep_of(reserved_rep, 0), ok * l);
	quota_volumes_free(v);
	reset();
}

/* ======================= the CPU manager's checkpoint ======================= */

static void expect_cpuset(const char *s, const char *want)
{
	unsigned *c = NULL;
	size_t n = 0;
	char err[200], got[256] = "";
	int r = topology_cpuset_parse(s, strlen(s), &c, &n, err, sizeof(err));

	if (!want) {
		if (r != -EINVAL) {
			fprintf(stderr, "cpuset \"%s\" parsed\n", s);
			fail();
		}
		return;
	}
	assert_int_equal(r, 0);
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u", i ? "," : "", c[i]);
	free(c);
	assert_string_equal(got, want);
}

static void test_cpuset_syntax(void **state)
{
	(void)state;
	expect_cpuset("", "");
	expect_cpuset("0", "0");
	expect_cpuset("0-3,6", "0,1,2,3,6");
	expect_cpuset("6,0-1\n", "0,1,6");
	expect_cpuset("2-2", "2");
	expect_cpuset("1,1-2,2", "1,2");
	expect_cpuset("65535", "65535");
	expect_cpuset("3-1", NULL);
	expect_cpuset("1-", NULL);
	expect_cpuset("-1", NULL);
	expect_cpuset(",1", NULL);
	expect_cpuset("1,", NULL);
	expect_cpuset("1,,2", NULL);
	expect_cpuset("a", NULL);
	expect_cpuset("1 2", NULL);
	expect_cpuset("0-3:2", NULL);
	expect_cpuset("65536", NULL);
	expect_cpuset("99999999999999999999", NULL);
	expect_cpuset("0-4294967295", NULL);
}

static void expect_state(const char *text, int want_r, const char *want)
{
	unsigned *c = NULL;
	size_t n = 0;
	char err[300], got[256] = "";
	int r = topology_cpu_manager_parse(text, strlen(text), &c, &n, err, sizeof(err));

	assert_int_equal(r, want_r);
	if (r < 0) {
		assert_non_null(strstr(err, want));
		return;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u", i ? "," : "", c[i]);
	free(c);
	assert_string_equal(got, want);
}

static void test_cpu_manager_state(void **state)
{
	char *dir = tmpdir(), path[300], err[300];
	unsigned *c = (unsigned *)1;
	size_t n = 9;
	(void)state;

	expect_state("{\"policyName\":\"static\",\"defaultCpuSet\":\"0-1\",\"entries\":{"
		     "\"pod-a\":{\"app\":\"2-3,6\",\"side\":\"7\"},\"pod-b\":{\"db\":\"4\"}},"
		     "\"checksum\":1234}",
		     0, "2,3,4,6,7");
	expect_state("{\"policyName\":\"static\",\"defaultCpuSet\":\"0-7\",\"checksum\":1}", 0, "");
	expect_state("{\"policyName\":\"static\",\"defaultCpuSet\":\"0-7\",\"entries\":{}}", 0, "");
	expect_state("{\"policyName\":\"none\",\"defaultCpuSet\":\"\",\"entries\":{\"p\":{\"c\":"
		     "\"1\"}}}",
		     0, "");
	/* The v1 checkpoint: container id → cpuset. */
	expect_state("{\"policyName\":\"static\",\"entries\":{\"cid\":\"5\"}}", 0, "5");
	expect_state("{\"policyName\":\"static\",\"entries\":{\"p\":{\"c\":\"5-\"}}}", -EINVAL,
		     "entries.p.c");
	expect_state("{\"policyName\":\"static\",\"entries\":{\"p\":{\"c\":5}}}", -EINVAL,
		     "entries.p.c");
	expect_state("{\"policyName\":\"static\",\"entries\":[]}", -EINVAL, "entries");
	expect_state("{\"entries\":{}}", -EINVAL, "policyName");
	expect_state("[1]", -EINVAL, "object");
	expect_state("{\"policyName\":\"static\"", -EINVAL, "invalid JSON");

	/* A missing file: no exclusive CPUs, no error. */
	snprintf(path, sizeof(path), "%s/cpu_manager_state", dir);
	assert_int_equal(topology_cpu_manager_read(path, &c, &n, err, sizeof(err)), 0);
	assert_null(c);
	assert_int_equal(n, 0);
	write_file(path, "{\"policyName\":\"static\",\"entries\":{\"p\":{\"c\":\"1-2\"}}}");
	assert_int_equal(topology_cpu_manager_read(path, &c, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	free(c);
	write_file(path, "garbage");
	assert_int_equal(topology_cpu_manager_read(path, &c, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_int_equal(n, 0);
	rmtree(dir);
	free(dir);
}

/* ======================= over HTTP ======================= */

static void test_http_routes(void **state)
{
	struct quota_volumes *v;
	struct api_server *srv;
	struct config *cfg;
	char yaml[256], err[256];
	struct reply *r;
	uint16_t port = free_port();
	(void)state;

	reset();
	v = rservice(NULL);
	snprintf(yaml, sizeof(yaml), "log_level: error\nlisten:\n  - tcp: 127.0.0.1:%u\n", port);
	cfg = cfg_of(yaml);
	struct api_hooks hooks = {.services = {.volumes = v}};
	assert_int_equal(api_server_start(&srv, cfg, &hooks, err, sizeof(err)), 0);

	const char *body = "{\"pod_uid\":\"h-1\",\"volumes\":[{\"size_bytes\":1048576}]}";
	r = http(port, "POST", "/v1/reservations", body);
	assert_int_equal(r->status, 201);
	assert_non_null(strstr(r->body, "\"pod_uid\":\"h-1\""));
	assert_non_null(strstr(r->body, "\"consumed\":false"));
	r = http(port, "POST", "/v1/reservations", body);
	assert_int_equal(r->status, 200);
	r = http(port, "POST", "/v1/reservations",
		 "{\"pod_uid\":\"h-1\",\"volumes\":[{\"size_bytes\":2}]}");
	assert_int_equal(r->status, 409);
	assert_non_null(strstr(r->body, "\"code\":\"conflict\""));
	r = http(port, "POST", "/v1/reservations",
		 "{\"pod_uid\":\"h-2\",\"volumes\":[{\"size_bytes\":99999999999}]}");
	assert_int_equal(r->status, 507);
	assert_non_null(strstr(r->body, "insufficient_storage"));
	r = http(port, "POST", "/v1/reservations", "{\"pod_uid\":\"../x\",\"volumes\":[]}");
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "pod_uid"));
	r = http(port, "POST", "/v1/reservations", NULL);
	assert_int_equal(r->status, 400);
	r = http(port, "GET", "/v1/reservations", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"reservations\":[{"));
	r = http(port, "GET", "/v1/reservations/h-1", NULL);
	assert_int_equal(r->status, 200);
	r = http(port, "GET", "/v1/reservations/..%2Fx", NULL);
	assert_int_equal(r->status, 404); /* the router refuses a '/' in a parameter */
	r = http(port, "GET", "/v1/reservations/a%2Eb", NULL);
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "pod_uid"));
	/* A volume for the reserved pod consumes it; the reservation is then gone. */
	r = http(port, "POST", "/v1/volumes",
		 "{\"name\":\"hv\",\"size_bytes\":1048576,\"pod_uid\":\"h-1\"}");
	assert_int_equal(r->status, 201);
	r = http(port, "GET", "/v1/reservations/h-1", NULL);
	assert_int_equal(r->status, 404);
	r = http(port, "POST", "/v1/reservations",
		 "{\"pod_uid\":\"h-3\",\"volumes\":[{\"size_bytes\":1}]}");
	assert_int_equal(r->status, 201);
	r = http(port, "DELETE", "/v1/reservations/h-3", NULL);
	assert_int_equal(r->status, 204);
	r = http(port, "DELETE", "/v1/reservations/h-3", NULL);
	assert_int_equal(r->status, 404);
	assert_non_null(strstr(r->body, "not_found"));

	/* evaluate: bad bodies are 400s naming the field; without a pool manager, 503. */
	r = http(port, "POST", "/v1/placement/evaluate", "{\"volumes\":[{\"size_bytes\":0}]}");
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "volumes[0].size_bytes"));
	r = http(port, "POST", "/v1/placement/evaluate", "{\"volumes\":[],\"pmem_policy\":\"x\"}");
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "pmem_policy"));
	r = http(port, "POST", "/v1/placement/evaluate", "{\"volumes\":[],\"nope\":1}");
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "nope"));
	r = http(port, "POST", "/v1/placement/evaluate", "{\"volumes\":[{\"size_bytes\":1}]}");
	assert_int_equal(r->status, 503);
	api_server_stop(srv, 1000);
	quota_volumes_free(v);
	config_free(cfg);
	reset();
}

/*
 * WaitForFirstConsumer, end to end over HTTP: two CSI creates name only their claims, before
 * any scheduler decision is on the PVCs. The first reserves the whole pod (single-numa, from its
 * annotation), the second consumes the rest: both volumes on one NUMA node. Each created alone
 * by the node's binpack would be split: 700 MiB fits the 1 GiB pool, the second no longer does.
 */
static void test_claim_reserves_whole_pod(void **state)
{
	static const char pvc_fmt[] =
		"{\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"%s\",\"namespace\":"
		"\"prod\",\"annotations\":{\"volume.kubernetes.io/selected-node\":\"n1\"}},"
		"\"spec\":{\"storageClassName\":\"pmem\",\"resources\":{\"requests\":{\"storage\":"
		"\"700Mi\"}}},\"status\":{\"phase\":\"Pending\"}}";
	static const char sc[] = "{\"kind\":\"StorageClass\",\"metadata\":{\"name\":\"pmem\"},"
				 "\"provisioner\":\"pmem.csi.pmemd.io\"}";
	static const char pods[] =
		"{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":\"app\",\"namespace\":"
		"\"prod\",\"uid\":\"u-app\",\"annotations\":{\"pmem.io/policy\":\"single-numa\"}},"
		"\"spec\":{\"volumes\":["
		"{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"data\"}},"
		"{\"name\":\"l\",\"persistentVolumeClaim\":{\"claimName\":\"logs\"}}]},"
		"\"status\":{\"phase\":\"Pending\"}}]}";
	struct fake_http api = {0};
	struct quota_volumes *v;
	struct api_server *srv;
	struct config *cfg;
	char yaml[512], err[256], data[600], logs[600], token[] = "/tmp/pmemd-wffc-token-XXXXXX";
	struct reply *r;
	uint16_t port = free_port();
	int fd;
	(void)state;

	reset();
	fd = mkstemp(token);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "t\n", 2), 2);
	close(fd);
	assert_int_equal(fake_http_start(&api), 0);
	snprintf(data, sizeof(data), pvc_fmt, "data");
	snprintf(logs, sizeof(logs), pvc_fmt, "logs");
	fake_http_can(&api, 0, "persistentvolumeclaims/data", 200, data);
	fake_http_can(&api, 1, "persistentvolumeclaims/logs", 200, logs);
	fake_http_can(&api, 2, "storageclasses/pmem", 200, sc);
	fake_http_can(&api, 3, "/pods", 200, pods);
	v = rservice(NULL);
	snprintf(yaml, sizeof(yaml),
		 "log_level: error\nnode_name: n1\nlisten:\n  - tcp: 127.0.0.1:%u\n"
		 "kube:\n  enabled: true\n  api_url: http://127.0.0.1:%u\n  token_file: %s\n",
		 port, api.port, token);
	cfg = cfg_of(yaml);
	struct api_hooks hooks = {.services = {.volumes = v}};
	assert_int_equal(api_server_start(&srv, cfg, &hooks, err, sizeof(err)), 0);

	r = http(port, "POST", "/v1/volumes",
		 "{\"name\":\"pvc-data\",\"size_bytes\":734003200,\"claim\":\"prod/data\"}");
	assert_int_equal(r->status, 201);
	assert_non_null(strstr(r->body, "\"pool\":\"/mnt/pmem1\""));
	/* The rest of the pod is held: the logs claim, on the same pool, not consumed. */
	r = http(port, "GET", "/v1/reservations/u-app", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"claim\":\"prod/logs\""));
	assert_null(strstr(r->body, "/mnt/pmem0"));
	r = http(port, "POST", "/v1/volumes",
		 "{\"name\":\"pvc-logs\",\"size_bytes\":734003200,\"claim\":\"prod/logs\"}");
	assert_int_equal(r->status, 201);
	assert_non_null(strstr(r->body, "\"pool\":\"/mnt/pmem1\""));
	/* Every entry consumed: the reservation is gone. */
	r = http(port, "GET", "/v1/reservations/u-app", NULL);
	assert_int_equal(r->status, 404);

	/* The API server down: the create still succeeds, placed by the node alone. */
	fake_http_stop(&api);
	r = http(port, "POST", "/v1/volumes",
		 "{\"name\":\"pvc-other\",\"size_bytes\":1048576,\"claim\":\"prod/other\"}");
	assert_int_equal(r->status, 201);

	api_server_stop(srv, 1000);
	quota_volumes_free(v);
	config_free(cfg);
	unlink(token);
	reset();
}

/* Every route of api-placement.c is in the OpenAPI document. */
static void test_openapi(void **state)
{
	extern const char pmemd_openapi_json[];
	extern const char pmemd_openapi_json_end[];
	static const char *const want[][2] = {
		{"/v1/placement/evaluate", "post"},
		{"/v1/reservations", "post"},
		{"/v1/reservations", "get"},
		{"/v1/reservations/{pod_uid}", "get"},
		{"/v1/reservations/{pod_uid}", "delete"},
	};
	json_t *doc = json_loadb(pmemd_openapi_json,
				 (size_t)(pmemd_openapi_json_end - pmemd_openapi_json), 0, NULL);
	(void)state;

	assert_non_null(doc);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!json_object_get(json_object_get(json_object_get(doc, "paths"), want[i][0]),
				     want[i][1])) {
			fprintf(stderr, "not in docs/openapi.json: %s %s\n", want[i][1],
				want[i][0]);
			fail();
		}
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_get_list_delete),
		cmocka_unit_test(test_idempotent_and_conflict),
		cmocka_unit_test(test_no_space_and_counted_everywhere),
		cmocka_unit_test(test_ttl_expiry),
		cmocka_unit_test(test_consume_by_volume_create),
		cmocka_unit_test(test_pending_pool),
		cmocka_unit_test(test_persistence),
		cmocka_unit_test(test_corrupt_file_moved_aside),
		cmocka_unit_test(test_persist_failure_rolls_back),
		cmocka_unit_test(test_hostile_input),
		cmocka_unit_test(test_concurrent_reservations),
		cmocka_unit_test(test_cpuset_syntax),
		cmocka_unit_test(test_cpu_manager_state),
		cmocka_unit_test(test_http_routes),
		cmocka_unit_test(test_claim_reserves_whole_pod),
		cmocka_unit_test(test_openapi),
	};

	log_set_level(LOG_LVL_ERROR);
	curl_global_init(CURL_GLOBAL_ALL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
