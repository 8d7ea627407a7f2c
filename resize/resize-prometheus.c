/* resize-prometheus: volume usage from Prometheus's HTTP API (instant queries, libcurl). */
#include "resize/resize-prometheus.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "resize/resize.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/strmap.h"

#define DEFAULT_TIMEOUT_MS 5000u
/* A vector of 10,000 series with their timestamps is ~3 MiB; a body beyond 16 MiB is not an
 * answer we can use, and reading it would let a broken proxy fill our memory. */
#define MAX_BODY  (16u << 20)
#define MAX_TOKEN (64u << 10)
#define NMETRICS  4
/* The label the query wrapper puts on the series that carry a value's sample timestamp. */
#define TS_LABEL "pmemd_sample_ts"

struct resize_prom {
	char *query_url; /* <url>/api/v1/query */
	char *query[NMETRICS];
	char *token_file, *ca_file;
	unsigned timeout_ms;
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
	/* The token as last read, and the file's identity then: re-read only when it changes
	 * (kubelet rotates projected tokens by swapping a symlink, which changes the inode). */
	char *token;
	struct stat token_st;
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

/* Once per process and never cleaned up: kube/ uses libcurl too (curl counts the calls). */
static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
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

static bool dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return true;
	return (*dst = strdup(src)) != NULL;
}

int resize_prom_new(const struct resize_prom_opts *o, struct resize_prom **out, char *err,
		    size_t err_len)
{
	struct resize_prom *p;
	size_t ulen;

	if (!o || !out)
		return set_err(err, err_len, -EINVAL, "no options");
	if (!o->url || (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0))
		return set_err(err, err_len, -EINVAL,
			       "prometheus url must start with http:// or https://: %s",
			       o->url ? o->url : "(none)");
	for (const char *c = o->url; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#')
			return set_err(err, err_len, -EINVAL,
				       "prometheus url holds a space, control character, query or "
				       "fragment: %s",
				       o->url);
	if (o->preset != RESIZE_PROM_KUBELET && o->preset != RESIZE_PROM_PMEMD)
		return set_err(err, err_len, -EINVAL, "unknown prometheus metrics preset %d",
			       (int)o->preset);
	{
		const char *q[NMETRICS] = {o->query_used, o->query_capacity, o->query_inodes_used,
					   o->query_inodes_capacity};

		for (int m = 0; m < 2; m++)
			if (q[m] && !q[m][0])
				return set_err(err, err_len, -EINVAL,
					       "prometheus %s query is empty", metric_name[m]);
	}
	if (o->bearer_token_file && o->bearer_token_file[0] != '/')
		return set_err(err, err_len, -EINVAL,
			       "bearer token file must be an absolute path: %s",
			       o->bearer_token_file);
	if (o->ca_file && o->ca_file[0] != '/')
		return set_err(err, err_len, -EINVAL, "CA file must be an absolute path: %s",
			       o->ca_file);
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return set_err(err, err_len, -ENOMEM, "curl_global_init: %s",
			       curl_easy_strerror(curl_init_result));

	if (!(p = calloc(1, sizeof(*p))))
		goto oom;
	ulen = strlen(o->url);
	while (ulen > 0 && o->url[ulen - 1] == '/')
		ulen--;
	if (asprintf(&p->query_url, "%.*s/api/v1/query", (int)ulen, o->url) < 0) {
		p->query_url = NULL;
		goto oom;
	}
	{
		const char *q[NMETRICS] = {o->query_used, o->query_capacity, o->query_inodes_used,
					   o->query_inodes_capacity};

		for (int m = 0; m < NMETRICS; m++) {
			const char *s = q[m] ? q[m] : resize_prom_default_query(o->preset, m);

			/* "" turns an inode query off: stored as NULL, never sent. */
			if (s[0] && !(p->query[m] = strdup(s)))
				goto oom;
		}
	}
	if (!dup_opt(&p->token_file, o->bearer_token_file) || !dup_opt(&p->ca_file, o->ca_file))
		goto oom;
	p->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (!(p->h = curl_easy_init()))
		goto oom;
	*out = p;
	return 0;
oom:
	resize_prom_free(p);
	return set_err(err, err_len, -ENOMEM, "out of memory");
}

struct resize_prom *resize_prom_free(struct resize_prom *p)
{
	if (!p)
		return NULL;
	if (p->h)
		curl_easy_cleanup(p->h);
	free(p->query_url);
	for (int m = 0; m < NMETRICS; m++)
		free(p->query[m]);
	free(p->token_file);
	free(p->ca_file);
	secret_free(p->token);
	free(p);
	return NULL;
}

/* ---- transport ---------------------------------------------------------- */

struct body {
	char *data;
	size_t len, cap;
	bool overflow;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;

	if (n > MAX_BODY - b->len) {
		b->overflow = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(d = realloc(b->data, cap)))
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int errno_for_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* The token, re-read when the file's identity or times changed since the last read. */
static int token_get(struct resize_prom *p, char *err, size_t err_len)
{
	struct stat st;
	char *t = NULL;
	int r;

	if (!p->token_file)
		return 0;
	if (stat(p->token_file, &st) < 0) {
		r = -errno;
		return set_err(err, err_len, -EACCES, "token file %s: %s", p->token_file,
			       strerror(-r));
	}
	if (p->token && st.st_dev == p->token_st.st_dev && st.st_ino == p->token_st.st_ino &&
	    st.st_size == p->token_st.st_size && st.st_mtim.tv_sec == p->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == p->token_st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == p->token_st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == p->token_st.st_ctim.tv_nsec)
		return 0;
	r = secret_read_token(p->token_file, MAX_TOKEN, &t);
	if (r < 0)
		return set_err(err, err_len, -EACCES, "token file %s: %s", p->token_file,
			       r == -EINVAL  ? "empty or holds spaces or control characters"
			       : r == -EFBIG ? "larger than 64 KiB"
					     : strerror(-r));
	secret_free(p->token);
	p->token = t;
	p->token_st = st;
	log_debug("resize_prom_token", "file=%s result=reread", p->token_file);
	return 0;
}

/* Prometheus's own error text from a JSON body, or the start of a non-JSON one. */
static void describe_body(const struct body *b, char *out, size_t len)
{
	json_t *root = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
	const char *type = json_string_value(json_object_get(root, "errorType"));
	const char *msg = json_string_value(json_object_get(root, "error"));
	size_t n = 0;

	if (msg) {
		snprintf(out, len, "%s: %s", type ? type : "error", msg);
	} else {
		/* At most 80 printable bytes; a body may be anything. */
		for (size_t i = 0; b->data && i < b->len && n + 1 < len && n < 80; i++) {
			unsigned char c = (unsigned char)b->data[i];

			out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
		}
		if (len)
			out[n] = '\0';
		if (n == 0)
			snprintf(out, len, "empty body");
	}
	json_decref(root);
}

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

/* curl_slist_append returns NULL on failure and leaves the list as it was. */
static bool add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (l)
		*list = l;
	return l != NULL;
}

/* One instant query; on success *root holds the parsed answer's data.result array's owner. */
static int query(struct resize_prom *p, const char *q, json_t **root, char *err, size_t err_len)
{
	struct curl_slist *hdrs = NULL, *l;
	struct body b = {0};
	char *wrapped = NULL, *esc = NULL, *form = NULL, *auth = NULL, why[256];
	const char *status, *rtype;
	json_error_t je;
	json_t *j = NULL, *data;
	CURLcode rc;
	long code = 0;
	int r;

	*root = NULL;
	if ((r = token_get(p, err, err_len)) < 0)
		return r;
	if (!(wrapped = wrap_query(q)) || !(esc = curl_easy_escape(p->h, wrapped, 0)) ||
	    asprintf(&form, "query=%s", esc) < 0) {
		form = NULL;
		r = set_err(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
	if (p->token && asprintf(&auth, "Authorization: Bearer %s", p->token) < 0)
		auth = NULL;
	/* "Expect:" with no value: no 100-continue round trip before the form. */
	if ((p->token && !auth) || !add_header(&hdrs, "Accept: application/json") ||
	    !add_header(&hdrs, "Expect:") || (auth && !add_header(&hdrs, auth))) {
		r = set_err(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}

	curl_easy_reset(p->h); /* keeps the connection cache: keep-alive across collects */
	p->errbuf[0] = '\0';
	curl_easy_setopt(p->h, CURLOPT_URL, p->query_url);
	curl_easy_setopt(p->h, CURLOPT_POST, 1L);
	curl_easy_setopt(p->h, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(p->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
	curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(p->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->h, CURLOPT_ERRORBUFFER, p->errbuf);
	curl_easy_setopt(p->h, CURLOPT_USERAGENT, "pmemd");
	curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(p->h, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(p->h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(p->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(p->h, CURLOPT_SSL_VERIFYHOST, 2L);
	/* A proxy from the environment may reach a remote Prometheus, never a loopback one. */
	curl_easy_setopt(p->h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	if (p->ca_file)
		curl_easy_setopt(p->h, CURLOPT_CAINFO, p->ca_file);

	rc = curl_easy_perform(p->h);
	curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &code);
	/* The handle must not keep pointers into memory freed below. */
	curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(p->h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(p->h, CURLOPT_ERRORBUFFER, NULL);
	if (rc == CURLE_WRITE_ERROR && b.overflow) {
		r = set_err(err, err_len, -EFBIG, "%s: response larger than %u bytes", p->query_url,
			    MAX_BODY);
		goto out;
	}
	if (rc != CURLE_OK) {
		r = set_err(err, err_len, errno_for_curl(rc), "%s: %s", p->query_url,
			    p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
		goto out;
	}
	if (code != 200) {
		describe_body(&b, why, sizeof(why));
		r = set_err(err, err_len, -EBADMSG, "%s: HTTP %ld: %s", p->query_url, code, why);
		goto out;
	}
	if (!(j = json_loadb(b.data ? b.data : "", b.len, 0, &je))) {
		r = set_err(err, err_len, -EBADMSG, "%s: not JSON (line %d column %d: %s)",
			    p->query_url, je.line, je.column, je.text);
		goto out;
	}
	status = json_string_value(json_object_get(j, "status"));
	if (!status || strcmp(status, "success") != 0) {
		describe_body(&b, why, sizeof(why));
		r = set_err(err, err_len, -EBADMSG, "%s: status %s: %s", p->query_url,
			    status ? status : "(missing)", why);
		goto out;
	}
	data = json_object_get(j, "data");
	rtype = json_string_value(json_object_get(data, "resultType"));
	if (!rtype || strcmp(rtype, "vector") != 0) {
		r = set_err(err, err_len, -EBADMSG,
			    "%s: resultType %s, want vector (the query must return an instant "
			    "vector)",
			    p->query_url, rtype ? rtype : "(missing)");
		goto out;
	}
	if (!json_is_array(json_object_get(data, "result"))) {
		r = set_err(err, err_len, -EBADMSG, "%s: data.result is not an array",
			    p->query_url);
		goto out;
	}
	*root = j;
	j = NULL;
	r = 0;
out:
	log_debug("resize_prom_query", "url=%s code=%ld bytes=%zu result=%d", p->query_url, code,
		  b.len, r);
	json_decref(j);
	for (l = hdrs; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(hdrs);
	secret_free(auth);
	curl_free(esc);
	free(wrapped);
	free(form);
	free(b.data);
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
				    p->query_url, metric_name[m], p->query[m]);
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
