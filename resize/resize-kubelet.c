/* resize-kubelet: volume usage from the kubelet's /stats/summary (per pod, per volume). */
#include "resize/resize-kubelet.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resize/resize-http.h"
#include "resize/resize.h"
#include "util/strmap.h"

struct resize_kubelet {
	struct resize_http *http;
};

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

int resize_kubelet_new(const struct resize_kubelet_opts *o, struct resize_kubelet **out, char *err,
		       size_t err_len)
{
	struct resize_kubelet *k;
	int r;

	if (!o || !out)
		return set_err(err, err_len, -EINVAL, "no options");
	if (!(k = calloc(1, sizeof(*k))))
		return set_err(err, err_len, -ENOMEM, "out of memory");
	r = resize_http_new(o->url, o->bearer_token_file, o->ca_file, o->timeout_ms, &k->http, err,
			    err_len);
	if (r < 0) {
		if (r == -EINVAL && err && err_len) {
			char tmp[256];

			snprintf(tmp, sizeof(tmp), "%s", err);
			snprintf(err, err_len, "kubelet %s", tmp);
		}
		free(k);
		return r;
	}
	*out = k;
	return 0;
}

struct resize_kubelet *resize_kubelet_free(struct resize_kubelet *k)
{
	if (!k)
		return NULL;
	resize_http_free(k->http);
	free(k);
	return NULL;
}

static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* RFC 3339 as Go writes it ("2026-11-26T08:00:00Z", fractions and offsets allowed) → unix
 * ms; false when it is anything else. */
static bool parse_time(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, frac_ms = 0, scale = 100, off = 0;
	int64_t t;

	if (!s)
		return false;
	if ((y = digits(&s, 4)) < 0 || *s++ != '-' || (mo = digits(&s, 2)) < 1 || mo > 12 ||
	    *s++ != '-' || (d = digits(&s, 2)) < 1 || d > 31 || (*s != 'T' && *s != 't') ||
	    (s++, (h = digits(&s, 2)) < 0) || h > 23 || *s++ != ':' || (mi = digits(&s, 2)) < 0 ||
	    mi > 59 || *s++ != ':' || (sec = digits(&s, 2)) < 0 || sec > 60)
		return false;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac_ms += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1, oh, om;

		if ((oh = digits(&s, 2)) < 0 || oh > 23 || *s++ != ':' ||
		    (om = digits(&s, 2)) < 0 || om > 59)
			return false;
		off = sign * (oh * 60 + om) * 60;
	} else {
		return false;
	}
	if (*s)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	if (t < 0)
		return false;
	*ms = (t - off) * 1000 + frac_ms;
	return *ms >= 0;
}

/* A non-negative JSON integer; false when absent or anything else. */
static bool count_of(const json_t *o, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* One pods[].volume[] entry into a sample; false when it has no usable bytes or time. */
static bool entry_sample(const json_t *vol, struct resize_sample *s)
{
	uint64_t iu, ic;

	memset(s, 0, sizeof(*s));
	if (!count_of(vol, "usedBytes", &s->used_bytes) ||
	    !count_of(vol, "capacityBytes", &s->capacity_bytes) ||
	    !parse_time(json_string_value(json_object_get(vol, "time")), &s->taken_ms)) {
		memset(s, 0, sizeof(*s));
		return false;
	}
	if (count_of(vol, "inodesUsed", &iu) && count_of(vol, "inodes", &ic) && ic > 0) {
		s->has_inodes = true;
		s->used_inodes = iu;
		s->capacity_inodes = ic;
	}
	s->valid = true;
	return true;
}

static char *claim_key(const char *ns, const char *name)
{
	char *k;

	return asprintf(&k, "%s\x1f%s", ns, name) < 0 ? NULL : k;
}

int resize_kubelet_collect(struct resize_kubelet *k, const struct resize_target *t, size_t n,
			   struct resize_sample *out, char *err, size_t err_len)
{
	const char *base;
	struct strmap map = {0};
	char **keys = NULL, *body = NULL, why[256];
	json_error_t je;
	json_t *root = NULL, *pods, *pod, *vol;
	size_t len = 0, i, j;
	long code = 0;
	int r;

	if (!k || (n && (!t || !out)))
		return set_err(err, err_len, -EINVAL, "bad arguments");
	for (i = 0; i < n; i++)
		memset(&out[i], 0, sizeof(out[i]));
	if (n == 0)
		return 0;
	base = resize_http_base(k->http);
	/* Targets by claim; the map's values are out[] slots, the first target of a claim wins
	 * and the others copy it at the end. */
	if (!(keys = calloc(n, sizeof(*keys))))
		goto oom;
	for (i = 0; i < n; i++) {
		if (!t[i].pvc_namespace || !t[i].pvc_name)
			continue;
		if (!(keys[i] = claim_key(t[i].pvc_namespace, t[i].pvc_name)))
			goto oom;
		if (!strmap_get(&map, keys[i]) && strmap_put(&map, keys[i], &out[i]) < 0)
			goto oom;
	}
	r = resize_http_fetch(k->http, "/stats/summary", NULL, &code, &body, &len, err, err_len);
	if (r < 0)
		goto out;
	if (code != 200) {
		resize_http_describe(body, len, why, sizeof(why));
		r = set_err(err, err_len, -EBADMSG, "%s/stats/summary: HTTP %ld: %s", base, code,
			    why);
		goto out;
	}
	if (!(root = json_loadb(body, len, 0, &je))) {
		r = set_err(err, err_len, -EBADMSG,
			    "%s/stats/summary: not JSON (line %d column %d: %s)", base, je.line,
			    je.column, je.text);
		goto out;
	}
	pods = json_object_get(root, "pods");
	if (!json_is_array(pods)) {
		r = set_err(err, err_len, -EBADMSG,
			    "%s/stats/summary: no pods array (not a kubelet stats summary)", base);
		goto out;
	}
	json_array_foreach (pods, i, pod) {
		json_array_foreach (json_object_get(pod, "volume"), j, vol) {
			const json_t *ref = json_object_get(vol, "pvcRef");
			const char *ns = json_string_value(json_object_get(ref, "namespace"));
			const char *name = json_string_value(json_object_get(ref, "name"));
			struct resize_sample s, *dst;
			char *key;

			if (!ns || !name || !(key = claim_key(ns, name)))
				continue;
			dst = strmap_get(&map, key);
			free(key);
			/* The claim in several pods: the newest measurement of it. */
			if (dst && entry_sample(vol, &s) &&
			    (!dst->valid || s.taken_ms > dst->taken_ms))
				*dst = s;
		}
	}
	for (i = 0; i < n; i++) {
		struct resize_sample *first = keys[i] ? strmap_get(&map, keys[i]) : NULL;

		if (first && first != &out[i])
			out[i] = *first;
	}
	r = 0;
	goto out;
oom:
	r = set_err(err, err_len, -ENOMEM, "out of memory");
out:
	if (r < 0)
		for (i = 0; i < n; i++)
			memset(&out[i], 0, sizeof(out[i]));
	json_decref(root);
	free(body);
	strmap_clear(&map);
	for (i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	return r;
}
