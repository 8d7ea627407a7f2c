/* quota-reservations: capacity held for a scheduled pod until its volumes exist, persisted. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quota/quota-volumes-private.h"
#include "sched/sched.h"
#include "util/log.h"
#include "util/statefile.h"
#include "util/names.h"
#include "util/errmsg.h"

#define RESV_FILE	  "reservations.json"
#define RESV_FILE_MAX	  (16u << 20) /* a file bigger than any we write is not ours */
#define RESV_FILE_VERSION 1
#define DEFAULT_TTL_MS	  (5 * 60 * 1000)
#define REASON_LEN	  512

/* ---- small helpers ---- */

int64_t qr_now_ms(const struct quota_volumes *v)
{
	struct timespec ts;

	if (v->o.now_ms)
		return v->o.now_ms();
	if (v->o.now)
		return v->o.now() * 1000;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "2026-11-26T06:11:39.123Z" */
static json_t *time_json(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40], out[48];

	if (ms < 0 || !gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm))
		return json_null();
	snprintf(out, sizeof(out), "%s.%03dZ", buf, (int)(ms % 1000));
	return json_string(out);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void resv_free(struct qr_resv *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->e[i].pool);
		free(r->e[i].claim);
		free(r->e[i].volume);
	}
	free(r->e);
	free(r->pod_uid);
	json_decref(r->request);
	free(r);
}

static struct qr_resv *find_resv(struct quota_volumes *v, const char *uid)
{
	for (size_t i = 0; i < v->n_resv; i++)
		if (strcmp(v->resv[i]->pod_uid, uid) == 0)
			return v->resv[i];
	return NULL;
}

static bool consuming(const struct qr_resv *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].consuming)
			return true;
	return false;
}

/* Gives the held capacity of every unconsumed volume back to the ledger. */
static void release_tokens(struct quota_volumes *v, struct qr_resv *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->e[i].token)
			quota_ledger_cancel(v->ledger, r->e[i].token, NULL, 0);
		r->e[i].token = 0;
	}
}

/* Takes `r` out of the list (not freed). */
static void unlink_resv(struct quota_volumes *v, struct qr_resv *r)
{
	for (size_t i = 0; i < v->n_resv; i++) {
		if (v->resv[i] == r) {
			memmove(v->resv + i, v->resv + i + 1,
				(v->n_resv - i - 1) * sizeof(*v->resv));
			v->n_resv--;
			v->n_resv_entries -= r->n;
			return;
		}
	}
}

static int link_resv(struct quota_volumes *v, struct qr_resv *r)
{
	struct qr_resv **n = realloc(v->resv, (v->n_resv + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	v->resv = n;
	v->resv[v->n_resv++] = r;
	v->n_resv_entries += r->n;
	return 0;
}

/* ---- JSON: the API's view and the file's ---- */

static json_t *resv_json(const struct qr_resv *r)
{
	json_t *vols = json_array(), *o;
	const json_t *rq = r->request;
	json_t *ttl = json_object_get(rq, "ttl_seconds");

	for (size_t i = 0; vols && i < r->n; i++) {
		const struct qr_entry *e = &r->e[i];
		const json_t *fs = json_object_get(
			json_array_get(json_object_get(rq, "volumes"), i), "fstype");

		json_array_append_new(
			vols, json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:b, s:o}", "size_bytes",
					(json_int_t)e->size_bytes, "reserved_bytes",
					(json_int_t)e->bytes, "pool", e->pool, "numa_node",
					e->numa_node < 0 ? json_null() : json_integer(e->numa_node),
					"fstype", fs ? json_incref((json_t *)fs) : json_null(),
					"claim", str_or_null(e->claim), "consumed", e->consumed,
					"volume", str_or_null(e->volume)));
	}
	o = json_pack(
		"{s:s, s:O, s:O, s:o, s:I, s:o, s:O, s:o, s:o}", "pod_uid", r->pod_uid, "pod_name",
		json_object_get(rq, "pod_name") ? json_object_get(rq, "pod_name") : json_null(),
		"namespace",
		json_object_get(rq, "namespace") ? json_object_get(rq, "namespace") : json_null(),
		"volumes", vols ? vols : json_null(), "cpus",
		(json_int_t)json_integer_value(json_object_get(rq, "cpus")), "cpu_numa_node",
		r->cpu_numa_node < 0 ? json_null() : json_integer(r->cpu_numa_node), "ttl_seconds",
		ttl ? ttl : json_null(), "created_at", time_json(r->created_ms), "expires_at",
		time_json(r->expires_ms));
	return o;
}

static json_t *file_json(const struct quota_volumes *v, const struct qr_resv *skip)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < v->n_resv; i++) {
		const struct qr_resv *r = v->resv[i];
		json_t *vols;

		if (r == skip)
			continue;
		vols = json_array();
		for (size_t k = 0; vols && k < r->n; k++) {
			const struct qr_entry *e = &r->e[k];

			json_array_append_new(
				vols,
				json_pack("{s:I, s:I, s:s, s:i, s:o, s:b, s:o}", "size_bytes",
					  (json_int_t)e->size_bytes, "bytes", (json_int_t)e->bytes,
					  "pool", e->pool, "numa_node", e->numa_node, "claim",
					  str_or_null(e->claim), "consumed", e->consumed, "volume",
					  str_or_null(e->volume)));
		}
		if (json_array_append_new(
			    arr, json_pack("{s:s, s:O, s:i, s:I, s:I, s:o}", "pod_uid", r->pod_uid,
					   "request", r->request, "cpu_numa_node", r->cpu_numa_node,
					   "created_ms", (json_int_t)r->created_ms, "expires_ms",
					   (json_int_t)r->expires_ms, "volumes",
					   vols ? vols : json_null())) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr ? json_pack("{s:i, s:o}", "version", RESV_FILE_VERSION, "reservations", arr)
		   : NULL;
}

/* ---- the file: <state_dir>/reservations.json, written atomically ---- */

/*
 * Writes every reservation but `skip` (temp file, fsync, rename, fsync of
 * the directory), so a crash leaves the old file or the new one, never a
 * mix. 0 or -errno with the step that failed in `err`.
 */
static int save(struct quota_volumes *v, const struct qr_resv *skip, char *err, size_t err_len)
{
	json_t *doc;
	char *text;
	int r;

	if (!v->o.state_dir)
		return 0;
	doc = file_json(v, skip);
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	r = statefile_write(v->o.state_dir, RESV_FILE, text, strlen(text), err, err_len);
	free(text);
	return r;
}

void qr_retry_save_locked(struct quota_volumes *v)
{
	char err[PATH_MAX + 128], q[PATH_MAX + 200];

	if (!v->resv_dirty)
		return;
	if (save(v, NULL, err, sizeof(err)) == 0) {
		v->resv_dirty = false;
		log_info("reservations_saved", "reason=\"retry after an earlier failure\"");
	} else {
		log_error("reservations_save_failed", "reason=%s", log_quote(q, sizeof(q), err));
	}
}

/* After a change that is already true (a volume exists, a reservation expired): save or retry. */
static void save_or_mark(struct quota_volumes *v, const char *why)
{
	char err[PATH_MAX + 128], q[PATH_MAX + 200];

	if (save(v, NULL, err, sizeof(err)) == 0) {
		v->resv_dirty = false;
		return;
	}
	v->resv_dirty = true;
	log_error("reservations_save_failed", "after=%s reason=%s retry=next_operation", why,
		  log_quote(q, sizeof(q), err));
}

/* One reservation from the file; NULL when malformed (the whole file is then corrupt). */
static struct qr_resv *resv_from_file(const json_t *j, char *why, size_t len)
{
	struct qr_resv *r = calloc(1, sizeof(*r));
	const json_t *uid = json_object_get(j, "pod_uid"), *vols = json_object_get(j, "volumes");
	const json_t *rq = json_object_get(j, "request"), *e;
	size_t i;

	if (!r)
		return NULL;
	if (!json_is_string(uid) ||
	    quota_pod_uid_valid(json_string_value(uid), json_string_length(uid), NULL, 0) < 0 ||
	    !json_is_object(rq) || !json_is_array(vols) ||
	    json_array_size(vols) > QUOTA_RESV_VOLUMES_MAX ||
	    !json_is_integer(json_object_get(j, "cpu_numa_node")) ||
	    !json_is_integer(json_object_get(j, "created_ms")) ||
	    !json_is_integer(json_object_get(j, "expires_ms"))) {
		snprintf(why, len, "a reservation lacks pod_uid, request, volumes or times");
		goto bad;
	}
	r->pod_uid = strdup(json_string_value(uid));
	r->request = json_incref((json_t *)rq);
	r->cpu_numa_node = (int)json_integer_value(json_object_get(j, "cpu_numa_node"));
	r->created_ms = json_integer_value(json_object_get(j, "created_ms"));
	r->expires_ms = json_integer_value(json_object_get(j, "expires_ms"));
	r->e = calloc(json_array_size(vols) + 1, sizeof(*r->e));
	if (!r->pod_uid || !r->e) {
		snprintf(why, len, "out of memory");
		goto bad;
	}
	json_array_foreach (vols, i, e) {
		struct qr_entry *x = &r->e[r->n];
		const json_t *size = json_object_get(e, "size_bytes"),
			     *bytes = json_object_get(e, "bytes"),
			     *pool = json_object_get(e, "pool"),
			     *claim = json_object_get(e, "claim"),
			     *vol = json_object_get(e, "volume");

		if (!json_is_integer(size) || json_integer_value(size) <= 0 ||
		    !json_is_integer(bytes) || json_integer_value(bytes) <= 0 ||
		    !json_is_string(pool) || !json_is_integer(json_object_get(e, "numa_node")) ||
		    !json_is_boolean(json_object_get(e, "consumed")) ||
		    !(json_is_null(claim) || json_is_string(claim)) ||
		    !(json_is_null(vol) || json_is_string(vol))) {
			snprintf(why, len, "reservation %.128s: volume %zu is malformed",
				 r->pod_uid, i);
			goto bad;
		}
		r->n++;
		x->size_bytes = (uint64_t)json_integer_value(size);
		x->bytes = (uint64_t)json_integer_value(bytes);
		x->numa_node = (int)json_integer_value(json_object_get(e, "numa_node"));
		x->consumed = json_is_true(json_object_get(e, "consumed"));
		x->pool = strdup(json_string_value(pool));
		x->claim = json_is_string(claim) ? strdup(json_string_value(claim)) : NULL;
		x->volume = json_is_string(vol) ? strdup(json_string_value(vol)) : NULL;
		if (!x->pool || (json_is_string(claim) && !x->claim) ||
		    (json_is_string(vol) && !x->volume)) {
			snprintf(why, len, "out of memory");
			goto bad;
		}
	}
	return r;
bad:
	resv_free(r);
	return NULL;
}

static void move_aside(const char *path, const char *why)
{
	statefile_move_aside(path, "reservations_corrupt", why, "reservations");
}

void qr_load(struct quota_volumes *v)
{
	char path[PATH_MAX], why[256];
	json_t *doc, *arr, *j;
	int64_t now = qr_now_ms(v);
	size_t i, kept = 0, expired = 0;

	if (!v->o.state_dir)
		return;
	doc = statefile_read(v->o.state_dir, RESV_FILE, RESV_FILE_MAX, RESV_FILE_VERSION,
			     "reservations", "reservations", "reservations", &arr);
	if (!doc)
		return;
	snprintf(path, sizeof(path), "%s/%s", v->o.state_dir, RESV_FILE);
	json_array_foreach (arr, i, j) {
		struct qr_resv *r = resv_from_file(j, why, sizeof(why));

		if (!r || find_resv(v, r->pod_uid) || v->n_resv >= QUOTA_RESV_MAX ||
		    v->n_resv_entries + r->n > QUOTA_RESV_ENTRIES_MAX) {
			if (r)
				snprintf(why, sizeof(why), "reservation %.128s twice or too many",
					 r->pod_uid);
			resv_free(r);
			/* All or nothing: a half-read file would hold some pods' capacity only. */
			qr_free_all(v);
			json_decref(doc);
			move_aside(path, why);
			return;
		}
		if (r->expires_ms <= now) {
			log_info("reservation_expired", "pod_uid=%s when=load", r->pod_uid);
			resv_free(r);
			expired++;
			continue;
		}
		if (link_resv(v, r) < 0) {
			resv_free(r);
			continue;
		}
		kept++;
	}
	json_decref(doc);
	/* Capacity is held once the pools are scanned (qr_hold_locked from quota_volumes_sync). */
	log_info("reservations_loaded", "file=%s reservations=%zu expired=%zu", path, kept,
		 expired);
	if (expired)
		v->resv_dirty = true;
}

void qr_free_all(struct quota_volumes *v)
{
	for (size_t i = 0; i < v->n_resv; i++)
		resv_free(v->resv[i]);
	free(v->resv);
	v->resv = NULL;
	v->n_resv = 0;
	v->n_resv_entries = 0;
}

/* ---- expiry, holding, reporting ---- */

void qr_expire_locked(struct quota_volumes *v)
{
	int64_t now = qr_now_ms(v);
	bool changed = false;

	for (size_t i = 0; i < v->n_resv;) {
		struct qr_resv *r = v->resv[i];

		/* One whose volume is being made right now waits for it: the create holds its
		 * capacity, and the next operation looks again. */
		if (r->expires_ms > now || consuming(r)) {
			i++;
			continue;
		}
		release_tokens(v, r);
		unlink_resv(v, r);
		log_info("reservation_expired", "pod_uid=%s expires_ms=%" PRId64 " now_ms=%" PRId64,
			 r->pod_uid, r->expires_ms, now);
		resv_free(r);
		changed = true;
	}
	if (changed)
		save_or_mark(v, "expiry");
}

void qr_hold_locked(struct quota_volumes *v)
{
	for (size_t i = 0; i < v->n_resv;) {
		struct qr_resv *r = v->resv[i];
		bool lost = false;
		char err[256], q[300];

		for (size_t k = 0; k < r->n && !lost; k++) {
			struct qr_entry *e = &r->e[k];
			struct vpool *p;

			if (e->consumed || e->token)
				continue;
			p = qv_find_pool(v, e->pool);
			if (!p || !p->ready || !p->scanned)
				continue;
			if (quota_ledger_reserve(v->ledger, p->name, e->bytes, &e->token, NULL, err,
						 sizeof(err)) < 0) {
				/* The pool shrank or filled while pmemd was down: the pod's volumes
				 * take their chances like anyone's. */
				log_error("reservation_dropped", "pod_uid=%s pool=%s reason=%s",
					  r->pod_uid, p->name, log_quote(q, sizeof(q), err));
				lost = true;
			}
		}
		if (!lost) {
			i++;
			continue;
		}
		release_tokens(v, r);
		unlink_resv(v, r);
		resv_free(r);
		save_or_mark(v, "drop");
	}
}

uint64_t qr_reserved_locked(struct quota_volumes *v, const char *pool)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < v->n_resv; i++)
		for (size_t k = 0; k < v->resv[i]->n; k++) {
			const struct qr_entry *e = &v->resv[i]->e[k];

			if (!e->consumed && e->token && strcmp(e->pool, pool) == 0)
				sum += e->bytes;
		}
	return sum;
}

/* ---- consumption by a volume create ---- */

/*
 * The entry a create consumes: of the pod's reservation when it names the pod; by the claim
 * alone otherwise (the CSI shim knows the PVC, not the pod), across every reservation.
 */
struct qr_entry *qr_claim_locked(struct quota_volumes *v, const struct quota_create_req *req,
				 struct vpool **pool, uint64_t *token)
{
	struct qr_resv *only = req->pod_uid ? find_resv(v, req->pod_uid) : NULL;
	struct qr_entry *best = NULL;
	struct vpool *want = req->pool ? qv_find_pool(v, req->pool) : NULL, *bp = NULL;

	if ((req->pod_uid && !only) || (!req->pod_uid && !req->claim) || (req->pool && !want))
		return NULL;
	for (size_t ri = 0; ri < v->n_resv; ri++) {
		struct qr_resv *r = v->resv[ri];

		if (only && r != only)
			continue;
		for (size_t k = 0; k < r->n; k++) {
			struct qr_entry *e = &r->e[k];
			struct vpool *p;

			if (e->consumed || e->consuming || !e->token ||
			    e->size_bytes < req->size_bytes)
				continue;
			if (req->claim && (!e->claim || strcmp(e->claim, req->claim) != 0))
				continue;
			p = qv_find_pool(v, e->pool);
			if (!p || !p->ready || !p->scanned || (want && want != p) ||
			    (req->numa_node >= 0 && p->numa_node != req->numa_node))
				continue;
			/* Without a claim, an entry reserved for no claim first, then the tightest
			 * fit. */
			if (!best || (!req->claim && !e->claim && best->claim) ||
			    ((!e->claim) == (!best->claim) && e->size_bytes < best->size_bytes)) {
				best = e;
				bp = p;
			}
		}
	}
	if (!best)
		return NULL;
	best->consuming = true;
	*pool = bp;
	*token = best->token;
	return best;
}

void qr_claim_done_locked(struct quota_volumes *v, struct qr_entry *e, bool ok, uint64_t limit,
			  const char *volume)
{
	struct qr_resv *r = NULL;
	bool all = true;

	e->consuming = false;
	pthread_cond_broadcast(&v->cond);
	if (!ok)
		return;
	/* Held bytes become allocated in one step under the service lock: never counted twice. */
	quota_ledger_commit(v->ledger, e->token, NULL, 0);
	if (e->bytes > limit)
		quota_ledger_adjust(v->ledger, e->pool, e->bytes, limit, 0, NULL, 0);
	else if (limit > e->bytes)
		quota_ledger_charge(v->ledger, e->pool, limit - e->bytes, NULL, 0);
	e->token = 0;
	e->consumed = true;
	free(e->volume);
	e->volume = volume ? strdup(volume) : NULL;
	for (size_t i = 0; i < v->n_resv && !r; i++)
		if (v->resv[i]->e <= e && e < v->resv[i]->e + v->resv[i]->n)
			r = v->resv[i];
	if (!r)
		return;
	for (size_t k = 0; k < r->n; k++)
		all = all && r->e[k].consumed;
	log_info("reservation_consumed", "pod_uid=%s volume=%s pool=%s bytes=%" PRIu64 " done=%d",
		 r->pod_uid, volume ? volume : "", e->pool, limit, all);
	if (all) {
		unlink_resv(v, r);
		resv_free(r);
	}
	/* The volume exists whatever the file says; a failed save is retried, not undone. */
	save_or_mark(v, "consume");
}

/* ---- the request ---- */

struct rq_volume {
	uint64_t size;
	const char *pool;
	int numa_node;
	const char *fstype;
	const char *claim;
};

struct rq {
	const char *uid;
	struct rq_volume vol[QUOTA_RESV_VOLUMES_MAX];
	size_t n;
	unsigned cpus;
	int cpu_numa_node;
	int64_t ttl_ms;
	enum sched_pmem_policy pmem_policy; /* the body's, else the configured default */
	enum sched_cpu_policy cpu_policy;
};

static const char *type_name(const json_t *v)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int only_fields(const json_t *o, const char *where, const char *const *allowed, char *err,
		       size_t err_len)
{
	const char *key;
	json_t *x;

	json_object_foreach ((json_t *)o, key, x) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (!allowed[i]) {
			char q[80];

			return err_fail(-EINVAL, err, err_len, "%s%s: unknown field", where,
					log_quote(q, sizeof(q), key));
		}
	}
	return 0;
}

static int int_field(const json_t *o, const char *key, const char *where, json_int_t lo,
		     json_int_t hi, json_int_t *out, char *err, size_t err_len)
{
	const json_t *x = json_object_get(o, key);

	if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
		return err_fail(-EINVAL, err, err_len,
				"%s%s: must be an integer from %" JSON_INTEGER_FORMAT
				" to %" JSON_INTEGER_FORMAT ", got %s",
				where, key, lo, hi, x ? type_name(x) : "nothing");
	*out = json_integer_value(x);
	return 0;
}

static int str_field(const json_t *o, const char *key, const char *where,
		     int (*valid)(const char *, size_t, char *, size_t), const char **out,
		     char *err, size_t err_len)
{
	const json_t *x = json_object_get(o, key);
	char why[200];

	if (!json_is_string(x))
		return err_fail(-EINVAL, err, err_len, "%s%s: must be a string, got %s", where, key,
				type_name(x));
	if (valid(json_string_value(x), json_string_length(x), why, sizeof(why)) < 0)
		return err_fail(-EINVAL, err, err_len, "%s%s: %s", where, key, why);
	*out = json_string_value(x);
	return 0;
}

static int pod_name_valid(const char *s, size_t n, char *why, size_t len)
{
	if (!names_is_dns_subdomain(s, n))
		return err_fail(-EINVAL, why, len,
				"must be a DNS subdomain: 1 to 253 of a-z, 0-9, '-' and '.'");
	return 0;
}

static int fstype_valid(const char *s, size_t n, char *why, size_t len)
{
	if ((n == 4 && memcmp(s, "ext4", 4) == 0) || (n == 3 && memcmp(s, "xfs", 3) == 0))
		return 0;
	return err_fail(-EINVAL, why, len, "must be ext4 or xfs");
}

static int pool_text_valid(const char *s, size_t n, char *why, size_t len)
{
	if (n == 0 || n > QUOTA_PATH_MAX)
		return err_fail(-EINVAL, why, len, "must be 1 to %d bytes", QUOTA_PATH_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return err_fail(-EINVAL, why, len,
					"has a NUL or control character at position %zu", i + 1);
	return 0;
}

/* pmem_policy and cpu_policy: the engine's names (what a pod or its StorageClass asked for). */
static int policy_fields(const json_t *body, struct rq *rq, char *err, size_t err_len)
{
	const json_t *p = json_object_get(body, "pmem_policy");
	const json_t *c = json_object_get(body, "cpu_policy");
	char q[80];

	if (p && (!json_is_string(p) ||
		  sched_pmem_policy_parse(json_string_value(p), &rq->pmem_policy) < 0))
		return err_fail(-EINVAL, err, err_len,
				"pmem_policy: must be binpack, spread, single-numa or first-fit, "
				"got %s",
				json_is_string(p) ? log_quote(q, sizeof(q), json_string_value(p))
						  : type_name(p));
	if (c && (!json_is_string(c) ||
		  sched_cpu_policy_parse(json_string_value(c), &rq->cpu_policy) < 0))
		return err_fail(-EINVAL, err, err_len,
				"cpu_policy: must be shortest-distance or single-numa-cpu, got %s",
				json_is_string(c) ? log_quote(q, sizeof(q), json_string_value(c))
						  : type_name(c));
	return 0;
}

static int parse(const json_t *body, const struct quota_volumes *v, struct rq *rq, char *err,
		 size_t err_len)
{
	static const char *const top[] = {
		"pod_uid",	 "pod_name",	"namespace",   "volumes",    "cpus",
		"cpu_numa_node", "ttl_seconds", "pmem_policy", "cpu_policy", NULL};
	static const char *const vf[] = {"size_bytes", "pool",	"numa_node",
					 "fstype",     "claim", NULL};
	const json_t *vols, *e;
	const char *s;
	json_int_t x;
	size_t i;
	int r;

	memset(rq, 0, sizeof(*rq));
	rq->cpu_numa_node = -1;
	if (!json_is_object(body))
		return err_fail(-EINVAL, err, err_len, "body: must be a JSON object");
	if ((r = only_fields(body, "", top, err, err_len)) < 0)
		return r;
	if ((r = str_field(body, "pod_uid", "", quota_pod_uid_valid, &rq->uid, err, err_len)) < 0)
		return r;
	if (json_object_get(body, "pod_name") &&
	    (r = str_field(body, "pod_name", "", pod_name_valid, &s, err, err_len)) < 0)
		return r;
	if (json_object_get(body, "namespace") &&
	    (r = str_field(body, "namespace", "", quota_namespace_valid, &s, err, err_len)) < 0)
		return r;
	if (json_object_get(body, "cpus")) {
		if ((r = int_field(body, "cpus", "", 0, QUOTA_CPUS_MAX, &x, err, err_len)) < 0)
			return r;
		rq->cpus = (unsigned)x;
	}
	if (json_object_get(body, "cpu_numa_node")) {
		if ((r = int_field(body, "cpu_numa_node", "", 0, QUOTA_NUMA_NODE_MAX, &x, err,
				   err_len)) < 0)
			return r;
		rq->cpu_numa_node = (int)x;
	}
	rq->pmem_policy = (enum sched_pmem_policy)v->o.pmem_policy;
	rq->cpu_policy = (enum sched_cpu_policy)v->o.cpu_policy;
	if ((r = policy_fields(body, rq, err, err_len)) < 0)
		return r;
	rq->ttl_ms = v->o.reservation_ttl_ms ? (int64_t)v->o.reservation_ttl_ms : DEFAULT_TTL_MS;
	if (json_object_get(body, "ttl_seconds")) {
		if ((r = int_field(body, "ttl_seconds", "", 1, QUOTA_TTL_SECONDS_MAX, &x, err,
				   err_len)) < 0)
			return r;
		rq->ttl_ms = x * 1000;
	}
	vols = json_object_get(body, "volumes");
	if (!json_is_array(vols))
		return err_fail(-EINVAL, err, err_len, "volumes: must be an array, got %s",
				vols ? type_name(vols) : "nothing");
	if (json_array_size(vols) > QUOTA_RESV_VOLUMES_MAX)
		return err_fail(-EINVAL, err, err_len, "volumes: at most %d, got %zu",
				QUOTA_RESV_VOLUMES_MAX, json_array_size(vols));
	if (json_array_size(vols) == 0 && rq->cpus == 0)
		return err_fail(-EINVAL, err, err_len,
				"volumes: must not be empty (or ask for cpus)");
	json_array_foreach (vols, i, e) {
		struct rq_volume *q = &rq->vol[i];
		char where[32];

		snprintf(where, sizeof(where), "volumes[%zu].", i);
		q->numa_node = -1;
		if (!json_is_object(e))
			return err_fail(-EINVAL, err, err_len,
					"volumes[%zu]: must be an object, got %s", i, type_name(e));
		if ((r = only_fields(e, where, vf, err, err_len)) < 0)
			return r;
		if ((r = int_field(e, "size_bytes", where, 1,
				   v->lim.max_size_bytes && v->lim.max_size_bytes < INT64_MAX
					   ? (json_int_t)v->lim.max_size_bytes
					   : INT64_MAX,
				   &x, err, err_len)) < 0)
			return r;
		q->size = (uint64_t)x;
		if (json_object_get(e, "pool") && json_object_get(e, "numa_node"))
			return err_fail(-EINVAL, err, err_len,
					"%spool, %snuma_node: give at most one (a pool sits on one "
					"NUMA node)",
					where, where);
		if (json_object_get(e, "pool") &&
		    (r = str_field(e, "pool", where, pool_text_valid, &q->pool, err, err_len)) < 0)
			return r;
		if (json_object_get(e, "numa_node")) {
			if ((r = int_field(e, "numa_node", where, 0, QUOTA_NUMA_NODE_MAX, &x, err,
					   err_len)) < 0)
				return r;
			q->numa_node = (int)x;
		}
		if (json_object_get(e, "fstype") &&
		    (r = str_field(e, "fstype", where, fstype_valid, &q->fstype, err, err_len)) < 0)
			return r;
		if (json_object_get(e, "claim") &&
		    (r = str_field(e, "claim", where, quota_claim_valid, &q->claim, err, err_len)) <
			    0)
			return r;
		rq->n++;
	}
	return 0;
}

/* ---- placement: the engine over this node's model with the ledger's figures ---- */

/*
 * The node as the engine sees it, under v->lock: NUMA nodes, CPUs and
 * distances from the node record (or, without one, the pools' NUMA nodes
 * and no CPUs), pools from the service with the ledger's capacity,
 * committed and reserved bytes (fresher than the record). only_numa >= 0:
 * only that NUMA node's pools.
 */
static json_t *model_record(struct quota_volumes *v, const json_t *rec, int only_numa)
{
	json_t *numa = json_object_get(rec, "numa_nodes"), *pools = json_array(), *o;
	json_t *own = NULL;

	if (!json_is_array(numa)) {
		own = json_array();
		for (size_t i = 0; own && i < v->n_pools; i++) {
			int id = v->pools[i]->numa_node;
			bool seen = false;
			size_t k;
			json_t *x;

			if (id < 0)
				continue;
			json_array_foreach (own, k, x)
				seen = seen || json_integer_value(json_object_get(x, "id")) == id;
			if (!seen)
				json_array_append_new(own,
						      json_pack("{s:i, s:[]}", "id", id, "cpus"));
		}
		numa = own;
	}
	for (size_t i = 0; pools && i < v->n_pools; i++) {
		struct vpool *p = v->pools[i];
		struct quota_ledger_stat st;
		bool known = false;
		size_t k;
		json_t *x;

		if (!p->ready || !p->scanned || p->numa_node < 0 ||
		    quota_ledger_stat(v->ledger, p->name, &st) < 0)
			continue;
		if (only_numa >= 0 && p->numa_node != only_numa)
			continue;
		json_array_foreach (numa, k, x)
			known = known ||
				json_integer_value(json_object_get(x, "id")) == p->numa_node;
		if (!known)
			continue;
		json_array_append_new(pools, json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I}",
						       "name", p->name, "type", "pmem", "state",
						       "ready", "numa_node", p->numa_node, "fstype",
						       config_fstype_name(p->fstype),
						       "allocatable_bytes", (json_int_t)st.capacity,
						       "allocated_bytes", (json_int_t)st.committed,
						       "reserved_bytes", (json_int_t)st.reserved));
	}
	o = json_pack("{s:s, s:O, s:o}", "node",
		      json_is_string(json_object_get(rec, "node"))
			      ? json_string_value(json_object_get(rec, "node"))
			      : "local",
		      "numa_nodes", numa ? numa : json_null(), "pools",
		      pools ? pools : json_null());
	json_decref(own);
	return o;
}

/* Largest figure of "need N, free F" for a 507 when the engine's own reason is empty. */
static uint64_t most_free(struct quota_volumes *v)
{
	uint64_t best = 0;

	for (size_t i = 0; i < v->n_pools; i++) {
		struct quota_ledger_stat st;

		if (v->pools[i]->ready && v->pools[i]->scanned &&
		    quota_ledger_stat(v->ledger, v->pools[i]->name, &st) == 0 && st.free > best)
			best = st.free;
	}
	return best;
}

/*
 * Places the volumes idx[0..n) (all on NUMA node only_numa when >= 0), with
 * `cpus` CPUs, and holds their capacity in the ledger (entries e[idx[k]]).
 * *cpu_numa: the engine's NUMA node for the CPUs (when cpus > 0).
 */
static int place_group(struct quota_volumes *v, const json_t *rec, const struct rq *rq,
		       const size_t *idx, size_t n, int only_numa, unsigned cpus,
		       struct qr_entry *e, int *cpu_numa, char *err, size_t err_len)
{
	struct sched_volume sv[QUOTA_RESV_VOLUMES_MAX];
	struct sched_request sreq = {.n_volumes = n,
				     .volumes = sv,
				     .cpus = cpus,
				     .pmem_policy = rq->pmem_policy,
				     .cpu_policy = rq->cpu_policy};
	struct sched_owned_node *node = NULL;
	struct sched_result *res = NULL;
	json_t *model = model_record(v, rec, only_numa);
	char why[256];
	int r;

	memset(sv, 0, sizeof(sv));
	for (size_t k = 0; k < n; k++) {
		/* The quota a volume needs, not its size: the same figures as the ledger. */
		sv[k].size = qv_limit_any(v, rq->vol[idx[k]].size);
		sv[k].fstype = rq->vol[idx[k]].fstype;
		sv[k].bound_numa = -1;
	}
	r = model ? sched_node_from_record(model, &node, why, sizeof(why)) : -ENOMEM;
	json_decref(model);
	if (r < 0) {
		r = err_fail(r == -ENOMEM ? r : -EIO, err, err_len, "this node's model: %s",
			     r == -ENOMEM ? "out of memory" : why);
		goto out;
	}
	if (only_numa >= 0 && node->node.n_pools == 0) {
		r = err_fail(-EINVAL, err, err_len,
			     "volumes[%zu].numa_node: no ready pool on NUMA node %d", idx[0],
			     only_numa);
		goto out;
	}
	res = calloc(1, sizeof(*res));
	if (!res) {
		r = err_fail(-ENOMEM, err, err_len, "out of memory");
		goto out;
	}
	r = sched_evaluate(&node->node, &sreq, res);
	if (r < 0) {
		r = err_fail(-EINVAL, err, err_len, "placement: %s", res->reason);
		goto out;
	}
	if (!res->feasible) {
		r = err_fail(-ENOSPC, err, err_len,
			     "does not fit on this node: %s (most free in one pool: %" PRIu64
			     " bytes)",
			     res->reason, most_free(v));
		goto out;
	}
	*cpu_numa = res->cpu_numa_id;
	for (size_t k = 0; k < n; k++) {
		const struct sched_choice *c = &res->volumes[k];
		struct qr_entry *x = &e[idx[k]];
		struct vpool *p;
		uint64_t free_b = 0;

		p = c->pool >= 0 && (size_t)c->pool < node->node.n_pools
			    ? qv_find_pool(v, node->node.pools[c->pool].name)
			    : NULL;
		if (!p) {
			r = err_fail(-EIO, err, err_len, "placement chose no pool for volumes[%zu]",
				     idx[k]);
			goto out;
		}
		x->bytes = qv_limit_for(v, p, rq->vol[idx[k]].size);
		x->numa_node = p->numa_node;
		x->pool = strdup(p->name);
		if (!x->pool) {
			r = err_fail(-ENOMEM, err, err_len, "out of memory");
			goto out;
		}
		r = quota_ledger_reserve(v->ledger, p->name, x->bytes, &x->token, &free_b, why,
					 sizeof(why));
		if (r < 0) {
			r = err_fail(r == -ENOSPC ? -ENOSPC : r, err, err_len,
				     "volumes[%zu]: need %" PRIu64 " bytes (a quota of %" PRIu64
				     "), pool %s has %" PRIu64 " bytes free",
				     idx[k], rq->vol[idx[k]].size, x->bytes, p->name, free_b);
			goto out;
		}
	}
out:
	free(res);
	sched_node_free(node);
	return r;
}

/* A volume that names its pool: no engine, just that pool's room. */
static int place_fixed(struct quota_volumes *v, const struct rq *rq, size_t i, struct qr_entry *x,
		       char *err, size_t err_len)
{
	const struct rq_volume *q = &rq->vol[i];
	struct vpool *p = qv_find_pool(v, q->pool);
	uint64_t free_b = 0;
	char why[256];
	int r;

	if (!p)
		return err_fail(-EINVAL, err, err_len,
				"volumes[%zu].pool: no pool %.200s on this node", i, q->pool);
	if (!p->ready || !p->scanned)
		return err_fail(-EAGAIN, err, err_len, "volumes[%zu].pool: pool %s is not ready", i,
				p->name);
	if (q->fstype && strcmp(q->fstype, config_fstype_name(p->fstype)) != 0)
		return err_fail(-EINVAL, err, err_len, "volumes[%zu].fstype: pool %s is %s, not %s",
				i, p->name, config_fstype_name(p->fstype), q->fstype);
	x->bytes = qv_limit_for(v, p, q->size);
	x->numa_node = p->numa_node;
	if (!(x->pool = strdup(p->name)))
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	r = quota_ledger_reserve(v->ledger, p->name, x->bytes, &x->token, &free_b, why,
				 sizeof(why));
	if (r == -ENOSPC)
		return err_fail(r, err, err_len,
				"volumes[%zu]: need %" PRIu64 " bytes (a quota of %" PRIu64
				"), pool %s has %" PRIu64 " bytes free",
				i, q->size, x->bytes, p->name, free_b);
	if (r < 0)
		return err_fail(r, err, err_len, "volumes[%zu]: %s", i, why);
	return 0;
}

/* Every volume of `rq` placed and held, or nothing held (r->e's tokens released). */
static int place_all(struct quota_volumes *v, const json_t *rec, const struct rq *rq,
		     struct qr_resv *r, char *err, size_t err_len)
{
	size_t idx[QUOTA_RESV_VOLUMES_MAX], n;
	int numas[QUOTA_RESV_VOLUMES_MAX], cpu_numa = -1, ret = 0;
	size_t n_numas = 0, n_free = 0;
	/* CPUs go with the volumes the engine places freely, else with the last NUMA group. */
	unsigned cpus_left = rq->cpu_numa_node >= 0 ? 0 : rq->cpus;

	for (size_t i = 0; i < rq->n; i++) {
		if (rq->vol[i].claim && !(r->e[i].claim = strdup(rq->vol[i].claim)))
			return err_fail(-ENOMEM, err, err_len, "out of memory");
		r->e[i].size_bytes = rq->vol[i].size;
		r->e[i].numa_node = -1;
	}
	for (size_t i = 0; i < rq->n && ret == 0; i++)
		if (rq->vol[i].pool)
			ret = place_fixed(v, rq, i, &r->e[i], err, err_len);
	for (size_t i = 0; i < rq->n; i++) {
		bool seen = false;

		if (rq->vol[i].pool)
			continue;
		if (rq->vol[i].numa_node < 0) {
			n_free++;
			continue;
		}
		for (size_t k = 0; k < n_numas; k++)
			seen = seen || numas[k] == rq->vol[i].numa_node;
		if (!seen)
			numas[n_numas++] = rq->vol[i].numa_node;
	}
	for (size_t g = 0; g < n_numas && ret == 0; g++) {
		bool last = g + 1 == n_numas && n_free == 0;
		int cn = -1;

		n = 0;
		for (size_t i = 0; i < rq->n; i++)
			if (!rq->vol[i].pool && rq->vol[i].numa_node == numas[g])
				idx[n++] = i;
		ret = place_group(v, rec, rq, idx, n, numas[g], last ? cpus_left : 0, r->e, &cn,
				  err, err_len);
		if (ret == 0 && last && cpus_left)
			cpu_numa = cn;
	}
	if (ret == 0 && (n_free || (cpus_left && n_numas == 0))) {
		n = 0;
		for (size_t i = 0; i < rq->n; i++)
			if (!rq->vol[i].pool && rq->vol[i].numa_node < 0)
				idx[n++] = i;
		ret = place_group(v, rec, rq, idx, n, -1, cpus_left, r->e, &cpu_numa, err, err_len);
	}
	if (ret < 0) {
		release_tokens(v, r);
		return ret;
	}
	r->cpu_numa_node = rq->cpu_numa_node >= 0 ? rq->cpu_numa_node : (rq->cpus ? cpu_numa : -1);
	return 0;
}

/* ---- the service's entry points ---- */

int quota_reservation_create(struct quota_volumes *v, const json_t *body, json_t **out,
			     bool *created, char *err, size_t err_len)
{
	struct rq *rq = calloc(1, sizeof(*rq));
	struct qr_resv *r = NULL, *old;
	json_t *rec = NULL, *j = NULL;
	int ret;

	if (!rq)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	ret = parse(body, v, rq, err, err_len);
	if (ret < 0)
		goto out;
	quota_volumes_sync(v);
	/* The record's NUMA facts, fetched before the lock: the callback takes the manager's. */
	if (v->o.node_record)
		rec = v->o.node_record(v->o.ctx);

	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	old = find_resv(v, rq->uid);
	if (old) {
		if (json_equal(old->request, (json_t *)body)) {
			j = resv_json(old);
			*created = false;
			ret = j ? 0 : err_fail(-ENOMEM, err, err_len, "out of memory");
		} else {
			ret = err_fail(
				-EEXIST, err, err_len,
				"pod_uid: pod %s already has a reservation with another body; "
				"delete it first",
				rq->uid);
		}
		pthread_mutex_unlock(&v->lock);
		goto out;
	}
	/*
	 * Right after a start a pool may not be loaded yet: its capacity is unknown and its name
	 * not known to be a pool; 503 (try again), not 400 "no pool" or a placement that missed
	 * it (found by test 98).
	 */
	ret = qv_loading(v, err, err_len);
	if (ret < 0) {
		pthread_mutex_unlock(&v->lock);
		goto out;
	}
	if (v->n_resv >= QUOTA_RESV_MAX || v->n_resv_entries + rq->n > QUOTA_RESV_ENTRIES_MAX) {
		pthread_mutex_unlock(&v->lock);
		ret = err_fail(
			-EBUSY, err, err_len,
			"this node holds %zu reservations of %zu volumes already (at most %d "
			"and %d)",
			v->n_resv, v->n_resv_entries, QUOTA_RESV_MAX, QUOTA_RESV_ENTRIES_MAX);
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (r) {
		r->e = calloc(rq->n + 1, sizeof(*r->e));
		r->n = rq->n;
		r->pod_uid = strdup(rq->uid);
		r->request = json_deep_copy(body);
	}
	if (!r || !r->e || !r->pod_uid || !r->request) {
		pthread_mutex_unlock(&v->lock);
		ret = err_fail(-ENOMEM, err, err_len, "out of memory");
		goto out;
	}
	ret = place_all(v, rec, rq, r, err, err_len);
	if (ret == 0 && r->cpu_numa_node >= 0 && rec &&
	    json_is_array(json_object_get(rec, "numa_nodes"))) {
		size_t k;
		json_t *x;
		bool known = false;

		json_array_foreach (json_object_get(rec, "numa_nodes"), k, x)
			known = known ||
				json_integer_value(json_object_get(x, "id")) == r->cpu_numa_node;
		if (!known) {
			release_tokens(v, r);
			ret = err_fail(-EINVAL, err, err_len,
				       "cpu_numa_node: this node has no NUMA node %d",
				       r->cpu_numa_node);
		}
	}
	if (ret < 0) {
		pthread_mutex_unlock(&v->lock);
		goto out;
	}
	r->created_ms = qr_now_ms(v);
	r->expires_ms = r->created_ms + rq->ttl_ms;
	if (link_resv(v, r) < 0) {
		release_tokens(v, r);
		pthread_mutex_unlock(&v->lock);
		ret = err_fail(-ENOMEM, err, err_len, "out of memory");
		goto out;
	}
	/*
	 * Written before the answer, under the lock, so the file and memory move
	 * together (reservations are rare; the write is one small fsync'd file).
	 */
	ret = save(v, NULL, err, err_len);
	if (ret < 0) {
		char q[PATH_MAX + 200];

		unlink_resv(v, r);
		release_tokens(v, r);
		pthread_mutex_unlock(&v->lock);
		log_error("reservation_not_saved", "pod_uid=%s reason=%s", rq->uid,
			  log_quote(q, sizeof(q), err));
		goto out;
	}
	v->resv_dirty = false;
	j = resv_json(r);
	*created = true;
	log_info("reservation_created",
		 "pod_uid=%s volumes=%zu cpus=%u cpu_numa_node=%d expires_ms=%" PRId64, r->pod_uid,
		 r->n, rq->cpus, r->cpu_numa_node, r->expires_ms);
	r = NULL; /* linked */
	pthread_mutex_unlock(&v->lock);
	if (!j)
		ret = err_fail(-ENOMEM, err, err_len, "out of memory");
out:
	qv_report(v);
	resv_free(r);
	json_decref(rec);
	free(rq);
	if (ret == 0)
		*out = j;
	else
		json_decref(j);
	return ret;
}

static int uid_arg(const char *uid, char *err, size_t err_len)
{
	char why[160];

	if (!uid || quota_pod_uid_valid(uid, strlen(uid), why, sizeof(why)) < 0)
		return err_fail(-EINVAL, err, err_len, "pod_uid: %s", uid ? why : "is required");
	return 0;
}

int quota_reservation_get(struct quota_volumes *v, const char *pod_uid, json_t **out, char *err,
			  size_t err_len)
{
	struct qr_resv *r;
	json_t *j = NULL;
	int ret = uid_arg(pod_uid, err, err_len);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	r = find_resv(v, pod_uid);
	if (r)
		j = resv_json(r);
	pthread_mutex_unlock(&v->lock);
	qv_report(v);
	if (!r)
		return err_fail(-ENOENT, err, err_len, "no reservation for pod %s", pod_uid);
	if (!j)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	*out = j;
	return 0;
}

static int uid_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "pod_uid")),
		      json_string_value(json_object_get(*(json_t *const *)b, "pod_uid")));
}

int quota_reservation_list(struct quota_volumes *v, json_t **out, char *err, size_t err_len)
{
	json_t **items, *arr;
	size_t n = 0;

	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	items = calloc(v->n_resv + 1, sizeof(*items));
	for (size_t i = 0; items && i < v->n_resv; i++)
		if ((items[n] = resv_json(v->resv[i])))
			n++;
	pthread_mutex_unlock(&v->lock);
	qv_report(v);
	if (!items)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	qsort(items, n, sizeof(*items), uid_cmp);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	free(items);
	*out = arr ? json_pack("{s:o}", "reservations", arr) : NULL;
	return *out ? 0 : err_fail(-ENOMEM, err, err_len, "out of memory");
}

int quota_reservation_delete(struct quota_volumes *v, const char *pod_uid, char *err,
			     size_t err_len)
{
	struct qr_resv *r;
	int ret = uid_arg(pod_uid, err, err_len);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&v->lock);
	qr_expire_locked(v);
	/* A volume being made from it finishes first (it holds one of its entries). */
	while ((r = find_resv(v, pod_uid)) && consuming(r))
		pthread_cond_wait(&v->cond, &v->lock);
	if (!r) {
		pthread_mutex_unlock(&v->lock);
		return err_fail(-ENOENT, err, err_len, "no reservation for pod %s", pod_uid);
	}
	/* The file first: if it cannot be written, the reservation stays whole. */
	ret = save(v, r, err, err_len);
	if (ret < 0) {
		char q[PATH_MAX + 200];

		pthread_mutex_unlock(&v->lock);
		log_error("reservation_delete_not_saved", "pod_uid=%s reason=%s", pod_uid,
			  log_quote(q, sizeof(q), err));
		return ret;
	}
	v->resv_dirty = false;
	release_tokens(v, r);
	unlink_resv(v, r);
	log_info("reservation_deleted", "pod_uid=%s", pod_uid);
	resv_free(r);
	pthread_mutex_unlock(&v->lock);
	qv_report(v);
	return 0;
}
