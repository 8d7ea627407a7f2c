/* resize-prometheus: volume usage from Prometheus's HTTP API (instant queries, libcurl). */
#include "resize/resize-prometheus.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resize/resize-http.h"
#include "resize/resize.h"
#include "util/log.h"
#include "util/strmap.h"

#define NMETRICS 4
/* The label the query wrapper puts on the series that carry a value's sample timestamp. */
#define TS_LABEL "pmemd_sample_ts"

struct resize_prom {
	struct resize_http *http;
	char *query[NMETRICS];
};

static const char *const kubelet_q[NMETRICS] = {
	"kubelet_volume_stats_used_bytes",
	"kubelet_volume_stats_capacity_bytes",
	"kubelet_volume_stats_inodes_used",
	"kubelet_volume_stats_inodes",
};
static const char *const pmemd_q[NMETRICS] = {
	"pmem_volume_used_bytes",
	"pmem_volume_capacity_bytes",
	"pmem_volume_inodes_used",
	"pmem_volume_inodes",
};
static const char *const metric_name[NMETRICS] = {"used", "capacity", "inodes_used",
						  "inodes_capacity"};

const char *resize_prom_default_query(enum resize_prom_preset preset, int metric)
{
	if (metric < 0 || metric >= NMETRICS)
		return NULL;
	return preset == RESIZE_PROM_PMEMD ? pmemd_q[metric] : kubelet_q[metric];
}

static int set_err(char *err, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

int resize_prom_new(const struct resize_prom_opts *o, struct resize_prom **out, char *err,
		    size_t err_len)
{
	const char *q[NMETRICS];
	struct resize_prom *p;
	int r;

	if (!o || !out)
		return set_err(err, err_len, -EINVAL, "no options");
	if (o->preset != RESIZE_PROM_KUBELET && o->preset != RESIZE_PROM_PMEMD)
		return set_err(err, err_len, -EINVAL, "unknown prometheus metrics preset %d",
			       (int)o->preset);
	q[RESIZE_PROM_USED] = o->query_used;
	q[RESIZE_PROM_CAPACITY] = o->query_capacity;
	q[RESIZE_PROM_INODES_USED] = o->query_inodes_used;
	q[RESIZE_PROM_INODES_CAPACITY] = o->query_inodes_capacity;
	for (int m = 0; m < 2; m++)
		if (q[m] && !q[m][0])
			return set_err(err, err_len, -EINVAL, "prometheus %s query is empty",
				       metric_name[m]);
	if (!(p = calloc(1, sizeof(*p))))
		return set_err(err, err_len, -ENOMEM, "out of memory");
	r = resize_http_new(o->url, o->bearer_token_file, o->ca_file, o->timeout_ms, &p->http, err,
			    err_len);
	if (r < 0) {
		/* Its messages name the url, token or CA file; say whose they are. */
		if (r == -EINVAL && err && err_len) {
			char tmp[256];

			snprintf(tmp, sizeof(tmp), "%s", err);
			snprintf(err, err_len, "prometheus %s", tmp);
		}
		resize_prom_free(p);
		return r;
	}
	for (int m = 0; m < NMETRICS; m++) {
		const char *s = q[m] ? q[m] : resize_prom_default_query(o->preset, m);

		/* "" turns an inode query off: stored as NULL, never sent. */
		if (s[0] && !(p->query[m] = strdup(s))) {
			resize_prom_free(p);
			return set_err(err, err_len, -ENOMEM, "out of memory");
		}
	}
	*out = p;
	return 0;
}

struct resize_prom *resize_prom_free(struct resize_prom *p)
{
	if (!p)
		return NULL;
	resize_http_free(p->http);
	for (int m = 0; m < NMETRICS; m++)
		free(p->query[m]);
	free(p);
	return NULL;
}

/* ---- the query ------------------------------------------------------------ */

/*
 * The query sent: the user's expression, plus the same series' own sample timestamps under
 * a label. Prometheus stamps every value of an instant query with the evaluation time, so a
 * sample scraped before a resize but evaluated after it would look new (the overshoot the
 * Prometheus-based resizers have); timestamp() of a series gives when it was scraped. Both
 * travel in one vector, so it stays one request per metric.
 */
static char *wrap_query(const char *q)
{
	char *s;

	if (asprintf(&s,
		     "(%s) or label_replace(timestamp(%s), \"" TS_LABEL "\", \"1\", \"\", \"\")", q,
		     q) < 0)
		return NULL;
	return s;
}

/* One instant query; on success *root is the answer, data.result an array. */
static int query(struct resize_prom *p, const char *q, json_t **root, char *err, size_t err_len)
{
	const char *base = resize_http_base(p->http), *status, *rtype;
	char *wrapped = NULL, *form = NULL, *body = NULL, why[256];
	json_error_t je;
	json_t *j = NULL, *data;
	size_t len = 0;
	long code = 0;
	int r;

	*root = NULL;
	if (!(wrapped = wrap_query(q)) || !(form = resize_http_form(p->http, "query", wrapped))) {
		r = set_err(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
	r = resize_http_fetch(p->http, "/api/v1/query", form, &code, &body, &len, err, err_len);
	if (r < 0)
		goto out;
	if (code != 200) {
		resize_http_describe(body, len, why, sizeof(why));
		r = set_err(err, err_len, -EBADMSG, "%s/api/v1/query: HTTP %ld: %s", base, code,
			    why);
		goto out;
	}
	if (!(j = json_loadb(body, len, 0, &je))) {
		r = set_err(err, err_len, -EBADMSG,
			    "%s/api/v1/query: not JSON (line %d column %d: %s)", base, je.line,
			    je.column, je.text);
		goto out;
	}
	status = json_string_value(json_object_get(j, "status"));
	if (!status || strcmp(status, "success") != 0) {
		resize_http_describe(body, len, why, sizeof(why));
		r = set_err(err, err_len, -EBADMSG, "%s/api/v1/query: status %s: %s", base,
			    status ? status : "(missing)", why);
		goto out;
	}
	data = json_object_get(j, "data");
	rtype = json_string_value(json_object_get(data, "resultType"));
	if (!rtype || strcmp(rtype, "vector") != 0) {
		r = set_err(err, err_len, -EBADMSG,
			    "%s/api/v1/query: resultType %s, want vector (the query must return "
			    "an instant vector)",
			    base, rtype ? rtype : "(missing)");
		goto out;
	}
	if (!json_is_array(json_object_get(data, "result"))) {
		r = set_err(err, err_len, -EBADMSG, "%s/api/v1/query: data.result is not an array",
			    base);
		goto out;
	}
	*root = j;
	j = NULL;
out:
	json_decref(j);
	free(body);
	free(form);
	free(wrapped);
	return r;
}

/* ---- matching ----------------------------------------------------------- */

struct val {
	double v, eval_ts, ts;
	unsigned n_v, n_ts;
	bool conflict;
};

struct slot {
	struct val m[NMETRICS];
};

/* "v<US>volume" or "p<US>namespace<US>claim": the unit separator is in no Kubernetes name. */
static char *key_of(char kind, const char *a, const char *b)
{
	char *k;
	int n = b ? asprintf(&k, "%c\x1f%s\x1f%s", kind, a, b) : asprintf(&k, "%c\x1f%s", kind, a);

	return n < 0 ? NULL : k;
}

/* A Prometheus sample value: a JSON string holding a float, "NaN" or "+Inf" included. */
static bool parse_value(const json_t *pair, double *ts, double *v)
{
	const char *s = json_string_value(json_array_get(pair, 1));
	char *end;

	if (!json_is_array(pair) || json_array_size(pair) != 2 ||
	    !json_is_number(json_array_get(pair, 0)) || !s || !s[0])
		return false;
	*ts = json_number_value(json_array_get(pair, 0));
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*ts);
}

/* The series' key: by claim when it names one, else by volume; NULL when it names neither. */
static char *series_key(const json_t *metric)
{
	const char *ns = json_string_value(json_object_get(metric, "namespace"));
	const char *pvc = json_string_value(json_object_get(metric, "persistentvolumeclaim"));
	const char *vol = json_string_value(json_object_get(metric, "volume"));

	if (pvc && ns)
		return key_of('p', ns, pvc);
	if (vol)
		return key_of('v', vol, NULL);
	return NULL;
}

/* Feeds one answer's series into the slots their labels name. Returns the series count. */
static size_t absorb(const json_t *result, int m, struct strmap *map)
{
	const json_t *e;
	size_t i, series = 0;

	json_array_foreach (result, i, e) {
		const json_t *metric = json_object_get(e, "metric");
		const char *tsl = json_string_value(json_object_get(metric, TS_LABEL));
		double ts, v;
		char *key;
		struct slot *s;
		struct val *x;

		if (!json_is_object(metric) || !parse_value(json_object_get(e, "value"), &ts, &v))
			continue;
		if (!tsl)
			series++;
		if (!(key = series_key(metric)))
			continue;
		s = strmap_get(map, key);
		free(key);
		if (!s)
			continue;
		x = &s->m[m];
		if (tsl) {
			/* Several series for one key: trust the oldest scrape. */
			if (x->n_ts == 0 || v < x->ts)
				x->ts = v;
			x->n_ts++;
		} else {
			/* Two series for one volume with different values (two scrape jobs, a
			 * claim seen on two nodes): which is right is unknowable, so neither. */
			if (x->n_v > 0 && x->v != v && !(isnan(x->v) && isnan(v)))
				x->conflict = true;
			x->v = v;
			x->eval_ts = ts;
			x->n_v++;
		}
	}
	return series;
}

/* A byte or inode count: finite, not negative, fits in 64 bits (fractions are cut). */
static bool as_count(const struct val *x, uint64_t *out, double *ts)
{
	if (x->n_v == 0 || x->conflict || !isfinite(x->v) || x->v < 0 || x->v >= 0x1p64)
		return false;
	*out = (uint64_t)x->v;
	*ts = x->n_ts ? x->ts : x->eval_ts;
	return isfinite(*ts) && *ts >= 0;
}

static void fill(const struct slot *s, struct resize_sample *o)
{
	double tu, tc, ti, tic, t;

	memset(o, 0, sizeof(*o));
	if (!as_count(&s->m[RESIZE_PROM_USED], &o->used_bytes, &tu) ||
	    !as_count(&s->m[RESIZE_PROM_CAPACITY], &o->capacity_bytes, &tc)) {
		o->used_bytes = o->capacity_bytes = 0;
		return;
	}
	o->valid = true;
	t = fmin(tu, tc);
	if (as_count(&s->m[RESIZE_PROM_INODES_USED], &o->used_inodes, &ti) &&
	    as_count(&s->m[RESIZE_PROM_INODES_CAPACITY], &o->capacity_inodes, &tic) &&
	    o->capacity_inodes > 0) {
		o->has_inodes = true;
		t = fmin(t, fmin(ti, tic));
	} else {
		/* No inode limit (0), or no inode figures: the volume is judged by bytes. */
		o->used_inodes = o->capacity_inodes = 0;
	}
	o->taken_ms = (int64_t)llround(t * 1000.0);
}

int resize_prom_collect(struct resize_prom *p, const struct resize_target *t, size_t n,
			struct resize_sample *out, char *err, size_t err_len)
{
	struct strmap map = {0};
	struct slot *slots = NULL, **res = NULL;
	char **keys = NULL;
	size_t nkeys = 0;
	int r = 0;

	if (!p || (n && (!t || !out)))
		return set_err(err, err_len, -EINVAL, "bad arguments");
	for (size_t i = 0; i < n; i++)
		memset(&out[i], 0, sizeof(out[i]));
	if (n == 0)
		return 0;
	if (!(slots = calloc(n, sizeof(*slots))) || !(res = calloc(n, sizeof(*res))) ||
	    !(keys = calloc(2 * n, sizeof(*keys))))
		goto oom;
	/* Each target answers to its volume name and, when it has one, its claim: both keys
	 * lead to one slot. A target whose key an earlier one holds shares that one's slot. */
	for (size_t i = 0; i < n; i++) {
		char *k[2] = {NULL, NULL};

		if (t[i].volume && !(k[0] = key_of('v', t[i].volume, NULL)))
			goto oom;
		if (t[i].pvc_namespace && t[i].pvc_name &&
		    !(k[1] = key_of('p', t[i].pvc_namespace, t[i].pvc_name))) {
			free(k[0]);
			goto oom;
		}
		for (int j = 0; j < 2; j++)
			if (k[j])
				keys[nkeys++] = k[j];
		res[i] = &slots[i];
		for (int j = 0; j < 2; j++) {
			struct slot *had = k[j] ? strmap_get(&map, k[j]) : NULL;

			if (had)
				res[i] = had;
		}
		for (int j = 0; j < 2; j++)
			if (k[j] && !strmap_get(&map, k[j]) && strmap_put(&map, k[j], res[i]) < 0)
				goto oom;
	}
	for (int m = 0; m < NMETRICS; m++) {
		json_t *root;
		size_t series;

		if (!p->query[m])
			continue;
		if ((r = query(p, p->query[m], &root, err, err_len)) < 0)
			goto out;
		series = absorb(json_object_get(json_object_get(root, "data"), "result"), m, &map);
		json_decref(root);
		if (series == 0 && m < 2) {
			r = set_err(err, err_len, -ENODATA,
				    "%s: the %s query %s returned no series (a wrong query, or "
				    "Prometheus does not scrape the target)",
				    resize_http_base(p->http), metric_name[m], p->query[m]);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		fill(res[i], &out[i]);
	goto out;
oom:
	r = set_err(err, err_len, -ENOMEM, "out of memory");
out:
	if (r < 0)
		for (size_t i = 0; i < n; i++)
			memset(&out[i], 0, sizeof(out[i]));
	strmap_clear(&map);
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	free(res);
	free(slots);
	return r;
}
