/* resize-prometheus: volume usage from Prometheus's HTTP API (instant queries, libcurl). */
#ifndef PMEMD_RESIZE_PROMETHEUS_H
#define PMEMD_RESIZE_PROMETHEUS_H

#include <stddef.h>

struct resize_sample;
struct resize_target;
struct resize_prom;

/* Which metrics the queries left NULL default to. */
enum resize_prom_preset {
	/* kubelet_volume_stats_{used_bytes,capacity_bytes,inodes_used,inodes}, matched to a
	 * target by the series' namespace + persistentvolumeclaim labels. */
	RESIZE_PROM_KUBELET = 0,
	/* pmemd's own pmem_volume_{used_bytes,capacity_bytes,inodes_used,inodes}, matched by
	 * the series' volume label. */
	RESIZE_PROM_PMEMD,
};

struct resize_prom_opts {
	/* Prometheus's base URL, e.g. http://prometheus:9090 (the /api/v1/query is appended). */
	const char *url;
	/* PromQL instant queries; NULL = the preset's metric. An empty inode query ("") asks for
	 * no inode figures. Each series of a result is matched to a target by its labels: one
	 * with a persistentvolumeclaim label by namespace + persistentvolumeclaim (the target's
	 * pvc_namespace/pvc_name), otherwise one with a volume label by volume name; other
	 * series are ignored. So a query that aggregates must keep those labels. */
	const char *query_used, *query_capacity;
	const char *query_inodes_used, *query_inodes_capacity;
	enum resize_prom_preset preset;
	/* Optional: a bearer token file (re-read when it changes) and a CA bundle for https. */
	const char *bearer_token_file, *ca_file;
	/* Whole-request timeout per query; 0 = 5000. */
	unsigned timeout_ms;
};

/* The default query of each metric for a preset (static strings). */
const char *resize_prom_default_query(enum resize_prom_preset preset, int metric);
#define RESIZE_PROM_USED	    0
#define RESIZE_PROM_CAPACITY	    1
#define RESIZE_PROM_INODES_USED	    2
#define RESIZE_PROM_INODES_CAPACITY 3

/*
 * Checks and copies the options (url must be http:// or https://; the token and CA files are
 * read at each collect, so they may appear later). Returns 0 or -EINVAL/-ENOMEM with the
 * reason in err.
 */
int resize_prom_new(const struct resize_prom_opts *o, struct resize_prom **out, char *err,
		    size_t err_len);

/*
 * One instant query per metric (used, capacity, then the inode ones if any), each answer
 * matched to the n targets. out[i] is filled for every target whatever the result:
 * valid=false when the source had nothing usable for it (no series, a value that is NaN,
 * infinite, negative or not an integer number of bytes). taken_ms is when Prometheus
 * measured the value: the series' own sample timestamp (the query asks for it alongside the
 * value), the evaluation time only when that is missing; the older of used's and capacity's.
 *
 * Returns 0, or -errno with the reason in err (and every out[i] invalid):
 * -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH/-ECONNRESET/-EPROTO/-EIO (transport),
 * -EBADMSG (HTTP status other than 200, non-JSON body, status "error" — Prometheus's
 * errorType and error are quoted — or a resultType other than vector), -EFBIG (body over
 * 16 MiB), -ENODATA (the used or capacity query returned no series at all: a wrong query or
 * an unscraped target, which is a misconfiguration to report, not "no volume has data"),
 * -EACCES (the token file cannot be read). An empty inode result is not an error.
 */
int resize_prom_collect(struct resize_prom *p, const struct resize_target *t, size_t n,
			struct resize_sample *out, char *err, size_t err_len);

/* Accepts NULL, returns NULL. */
struct resize_prom *resize_prom_free(struct resize_prom *p);

#endif
