/* resize-policies: resize policies: validation, the node's set, and its file in state_dir. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quota/quota-model.h"
#include "resize/resize.h"
#include "util/log.h"
#include "util/statefile.h"
#include "util/errmsg.h"

#define POLICIES_FILE	      "resize-policies.json"
#define POLICIES_FILE_MAX     (16u << 20) /* bigger than any we write: not ours */
#define POLICIES_FILE_VERSION 1
#define BYTES_MAX	      ((uint64_t)INT64_MAX) /* JSON integers are signed 64-bit */
#define INODES_MAX	      ((uint64_t)INT64_MAX) /* as the volume API takes them */
#define COOLDOWN_MAX_S	      (7 * 86400)
#define GRANULARITY_DEFAULT   (1ULL << 20)
#define GRANULARITY_MAX	      (1ULL << 40)
#define POOL_PATH_MAX	      4095

struct resize_policies {
	pthread_mutex_t lock;
	char *state_dir;	  /* NULL: in memory only */
	struct resize_policy **v; /* sorted by name */
	size_t n;
	uint64_t gen;
};

/* ---- one policy ---- */

struct resize_policy *resize_policy_free(struct resize_policy *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_volumes; i++)
		free(p->volumes[i]);
	free(p->volumes);
	for (size_t i = 0; i < p->n_labels; i++) {
		free(p->labels[i].key);
		free(p->labels[i].value);
	}
	free(p->labels);
	free(p->pool);
	free(p->pvc_namespace);
	free(p->pvc_name);
	free(p);
	return NULL;
}

/* A string field: present, a string, no NUL inside, at most max bytes. */
static int get_str(const json_t *v, const char *field, size_t max, const char **out, char *err,
		   size_t err_len)
{
	if (!json_is_string(v))
		return err_fail(-EINVAL, err, err_len, "%s: must be a string", field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return err_fail(-EINVAL, err, err_len, "%s: contains a NUL byte", field);
	if (json_string_length(v) == 0)
		return err_fail(-EINVAL, err, err_len, "%s: must not be empty", field);
	if (json_string_length(v) > max)
		return err_fail(-EINVAL, err, err_len, "%s: longer than %zu bytes (%zu)", field,
				max, json_string_length(v));
	*out = json_string_value(v);
	return 0;
}

/* An integer field in [min, max]; absent: *out untouched. */
static int get_uint(const json_t *obj, const char *key, const char *field, uint64_t min,
		    uint64_t max, uint64_t *out, char *err, size_t err_len)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t x;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return err_fail(-EINVAL, err, err_len, "%s: must be an integer", field);
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
		return err_fail(-EINVAL, err, err_len,
				"%s: must be %" PRIu64 "..%" PRIu64 ", got %" JSON_INTEGER_FORMAT,
				field, min, max, x);
	*out = (uint64_t)x;
	return 0;
}

/* Refuses keys of `obj` that are not in `known` (NULL-terminated). */
static int only_keys(const json_t *obj, const char *const *known, const char *where, char *err,
		     size_t err_len)
{
	const char *k;
	json_t *v;

	json_object_foreach ((json_t *)obj, k, v) {
		bool ok = false;
		char q[72];
		size_t n = 0;

		for (size_t i = 0; known[i] && !ok; i++)
			ok = strcmp(k, known[i]) == 0;
		if (ok)
			continue;
		/* The key as sent, cut and made printable: it is the client's text. */
		for (const char *c = k; *c && n + 1 < sizeof(q) - 8; c++)
			q[n++] = *c >= 0x20 && *c < 0x7f && *c != '"' ? *c : '?';
		q[n] = '\0';
		return err_fail(-EINVAL, err, err_len, "%s%s\"%s%s\": unknown field", where,
				*where ? "." : "", q, strlen(k) > n ? "..." : "");
	}
	return 0;
}

static int parse_selector(const json_t *sel, struct resize_policy *p, char *err, size_t err_len)
{
	static const char *const keys[] = {"volumes", "labels", "pool", "pvc", NULL};
	static const char *const pvc_keys[] = {"namespace", "name", NULL};
	const json_t *vols, *labels, *pool, *pvc, *x;
	const char *s, *k;
	char why[256], field[64];
	size_t i;
	int r;

	if (!json_is_object(sel))
		return err_fail(-EINVAL, err, err_len, "selector: must be an object");
	if ((r = only_keys(sel, keys, "selector", err, err_len)) < 0)
		return r;
	vols = json_object_get(sel, "volumes");
	labels = json_object_get(sel, "labels");
	pool = json_object_get(sel, "pool");
	pvc = json_object_get(sel, "pvc");
	if (!vols && !labels && !pool && !pvc)
		return err_fail(-EINVAL, err, err_len,
				"selector: needs at least one of volumes, labels, pool, pvc");
	if (vols) {
		if (!json_is_array(vols) || json_array_size(vols) == 0 ||
		    json_array_size(vols) > RESIZE_SELECT_VOLUMES_MAX)
			return err_fail(-EINVAL, err, err_len,
					"selector.volumes: must be an array of 1..%d volume names",
					RESIZE_SELECT_VOLUMES_MAX);
		p->volumes = calloc(json_array_size(vols) + 1, sizeof(*p->volumes));
		if (!p->volumes)
			return err_fail(-ENOMEM, err, err_len, "out of memory");
		json_array_foreach (vols, i, x) {
			snprintf(field, sizeof(field), "selector.volumes[%zu]", i);
			if ((r = get_str(x, field, QUOTA_NAME_MAX, &s, err, err_len)) < 0)
				return r;
			if (quota_name_valid(s, why, sizeof(why)) < 0)
				return err_fail(-EINVAL, err, err_len, "%s: %s", field, why);
			if (!(p->volumes[p->n_volumes++] = strdup(s)))
				return err_fail(-ENOMEM, err, err_len, "out of memory");
		}
	}
	if (labels) {
		if (!json_is_object(labels) || json_object_size(labels) == 0 ||
		    json_object_size(labels) > RESIZE_SELECT_LABELS_MAX)
			return err_fail(-EINVAL, err, err_len,
					"selector.labels: must be an object of 1..%d key: value",
					RESIZE_SELECT_LABELS_MAX);
		p->labels = calloc(json_object_size(labels), sizeof(*p->labels));
		if (!p->labels)
			return err_fail(-ENOMEM, err, err_len, "out of memory");
		json_object_foreach ((json_t *)labels, k, x) {
			char q[96];

			if (strlen(k) > QUOTA_LABEL_KEY_MAX ||
			    quota_label_valid(k, "", why, sizeof(why)) < 0)
				return err_fail(-EINVAL, err, err_len, "selector.labels.%s: %s",
						log_quote(q, sizeof(q), k),
						strlen(k) > QUOTA_LABEL_KEY_MAX ? "key too long"
										: why);
			if (!json_is_string(x) ||
			    strlen(json_string_value(x)) != json_string_length(x) ||
			    json_string_length(x) > QUOTA_LABEL_VALUE_MAX ||
			    quota_label_valid(k, json_string_value(x), why, sizeof(why)) < 0)
				return err_fail(-EINVAL, err, err_len, "selector.labels.%s: %s",
						log_quote(q, sizeof(q), k),
						json_is_string(x) ? "not a label value"
								  : "must be a string");
			p->labels[p->n_labels].key = strdup(k);
			p->labels[p->n_labels].value = strdup(json_string_value(x));
			if (!p->labels[p->n_labels].key || !p->labels[p->n_labels].value) {
				p->n_labels++;
				return err_fail(-ENOMEM, err, err_len, "out of memory");
			}
			p->n_labels++;
		}
	}
	if (pool) {
		if ((r = get_str(pool, "selector.pool", POOL_PATH_MAX, &s, err, err_len)) < 0)
			return r;
		if (s[0] != '/' || strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../") ||
		    (strlen(s) > 1 && s[strlen(s) - 1] == '/'))
			return err_fail(
				-EINVAL, err, err_len,
				"selector.pool: must be a pool's absolute, normalised mount "
				"path");
		for (const char *c = s; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return err_fail(-EINVAL, err, err_len,
						"selector.pool: contains a control character");
		if (!(p->pool = strdup(s)))
			return err_fail(-ENOMEM, err, err_len, "out of memory");
	}
	if (pvc) {
		const json_t *ns = json_object_get(pvc, "namespace"),
			     *nm = json_object_get(pvc, "name");

		if (!json_is_object(pvc))
			return err_fail(-EINVAL, err, err_len, "selector.pvc: must be an object");
		if ((r = only_keys(pvc, pvc_keys, "selector.pvc", err, err_len)) < 0)
			return r;
		if (!ns && !nm)
			return err_fail(-EINVAL, err, err_len,
					"selector.pvc: needs namespace, name or both");
		if (ns) {
			if ((r = get_str(ns, "selector.pvc.namespace", 63, &s, err, err_len)) < 0)
				return r;
			if (quota_namespace_valid(s, strlen(s), why, sizeof(why)) < 0)
				return err_fail(-EINVAL, err, err_len, "selector.pvc.namespace: %s",
						why);
			if (!(p->pvc_namespace = strdup(s)))
				return err_fail(-ENOMEM, err, err_len, "out of memory");
		}
		if (nm) {
			/* The label holds the name, so it is a label value (at most 63). */
			if ((r = get_str(nm, "selector.pvc.name", QUOTA_LABEL_VALUE_MAX, &s, err,
					 err_len)) < 0)
				return r;
			if (quota_name_valid(s, why, sizeof(why)) < 0)
				return err_fail(-EINVAL, err, err_len, "selector.pvc.name: %s",
						why);
			if (!(p->pvc_name = strdup(s)))
				return err_fail(-ENOMEM, err, err_len, "out of memory");
		}
	}
	return 0;
}

/*
 * The inode step and max: both needed with an inode trigger (the volume API
 * takes inodes up to INT64_MAX), refused without one (they would never act,
 * and a person who wrote them expects them to).
 */
static int parse_inodes(const json_t *body, const json_t *step, struct resize_policy *p, char *err,
			size_t err_len)
{
	bool trig = p->inodes_used_percent || p->inodes_free;
	uint64_t x = 0;
	int r;

	if ((r = get_uint(step, "inodes_percent", "step.inodes_percent", 1, 1000, &x, err,
			  err_len)) < 0)
		return r;
	p->inodes_step_percent = (unsigned)x;
	if ((r = get_uint(step, "inodes", "step.inodes", 1, INODES_MAX, &p->inodes_step, err,
			  err_len)) < 0 ||
	    (r = get_uint(step, "min_inodes", "step.min_inodes", 0, INODES_MAX, &p->min_step_inodes,
			  err, err_len)) < 0 ||
	    (r = get_uint(body, "max_inodes", "max_inodes", 1, INODES_MAX, &p->max_inodes, err,
			  err_len)) < 0)
		return r;
	if (!trig) {
		static const char *const fields[] = {"step.inodes_percent", "step.inodes",
						     "step.min_inodes", "max_inodes"};
		const json_t *const v[] = {
			json_object_get(step, "inodes_percent"), json_object_get(step, "inodes"),
			json_object_get(step, "min_inodes"), json_object_get(body, "max_inodes")};

		for (size_t i = 0; i < 4; i++)
			if (v[i])
				return err_fail(
					-EINVAL, err, err_len,
					"%s: needs an inode trigger (trigger.inodes_used_percent "
					"or trigger.inodes_free)",
					fields[i]);
		return 0;
	}
	if (!p->inodes_step_percent && !p->inodes_step)
		return err_fail(-EINVAL, err, err_len,
				"step: an inode trigger needs inodes_percent, inodes or both");
	if (!p->max_inodes)
		return err_fail(-EINVAL, err, err_len,
				"max_inodes: is required with an inode trigger");
	return 0;
}

int resize_policy_parse(const json_t *body, const char *name, struct resize_policy **out, char *err,
			size_t err_len)
{
	static const char *const keys[] = {"name",
					   "selector",
					   "trigger",
					   "step",
					   "max_size_bytes",
					   "cooldown_seconds",
					   "granularity_bytes",
					   "max_inodes",
					   NULL};
	static const char *const trigger_keys[] = {"used_percent", "free_bytes",
						   "inodes_used_percent", "inodes_free", NULL};
	static const char *const step_keys[] = {
		"percent", "bytes", "min_bytes", "inodes_percent", "inodes", "min_inodes", NULL};
	const json_t *jname, *trig, *step;
	struct resize_policy *p;
	const char *s;
	char why[256];
	uint64_t x;
	int r;

	if (!json_is_object(body))
		return err_fail(-EINVAL, err, err_len, "body: must be a JSON object");
	p = calloc(1, sizeof(*p));
	if (!p)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	p->step_kind = RESIZE_STEP_PERCENT;
	p->granularity_bytes = GRANULARITY_DEFAULT;
	if ((r = only_keys(body, keys, "", err, err_len)) < 0)
		goto bad;
	jname = json_object_get(body, "name");
	if (jname) {
		if ((r = get_str(jname, "name", RESIZE_POLICY_NAME_MAX, &s, err, err_len)) < 0)
			goto bad;
		if (name && strcmp(s, name) != 0) {
			r = err_fail(-EINVAL, err, err_len, "name: %s differs from the path's %s",
				     s, name);
			goto bad;
		}
	} else if (!name) {
		r = err_fail(-EINVAL, err, err_len, "name: is required");
		goto bad;
	} else {
		s = name;
	}
	if (quota_name_valid(s, why, sizeof(why)) < 0) {
		r = err_fail(-EINVAL, err, err_len, "name: %s", why);
		goto bad;
	}
	snprintf(p->name, sizeof(p->name), "%s", s);

	if (!json_object_get(body, "selector")) {
		r = err_fail(-EINVAL, err, err_len, "selector: is required");
		goto bad;
	}
	if ((r = parse_selector(json_object_get(body, "selector"), p, err, err_len)) < 0)
		goto bad;

	trig = json_object_get(body, "trigger");
	if (!json_is_object(trig)) {
		r = err_fail(-EINVAL, err, err_len, "trigger: %s",
			     trig ? "must be an object" : "is required");
		goto bad;
	}
	if ((r = only_keys(trig, trigger_keys, "trigger", err, err_len)) < 0)
		goto bad;
	x = 0;
	if ((r = get_uint(trig, "used_percent", "trigger.used_percent", 1, 100, &x, err, err_len)) <
	    0)
		goto bad;
	p->used_percent = (unsigned)x;
	if ((r = get_uint(trig, "free_bytes", "trigger.free_bytes", 1, BYTES_MAX, &p->free_bytes,
			  err, err_len)) < 0)
		goto bad;
	x = 0;
	if ((r = get_uint(trig, "inodes_used_percent", "trigger.inodes_used_percent", 1, 100, &x,
			  err, err_len)) < 0)
		goto bad;
	p->inodes_used_percent = (unsigned)x;
	if ((r = get_uint(trig, "inodes_free", "trigger.inodes_free", 1, INODES_MAX,
			  &p->inodes_free, err, err_len)) < 0)
		goto bad;
	if (!p->used_percent && !p->free_bytes && !p->inodes_used_percent && !p->inodes_free) {
		r = err_fail(-EINVAL, err, err_len,
			     "trigger: needs used_percent, free_bytes, inodes_used_percent or "
			     "inodes_free (any of them)");
		goto bad;
	}

	step = json_object_get(body, "step");
	if (!json_is_object(step)) {
		r = err_fail(-EINVAL, err, err_len, "step: %s",
			     step ? "must be an object" : "is required");
		goto bad;
	}
	if ((r = only_keys(step, step_keys, "step", err, err_len)) < 0)
		goto bad;
	if (!json_object_get(step, "percent") == !json_object_get(step, "bytes")) {
		r = err_fail(-EINVAL, err, err_len, "step: needs exactly one of percent and bytes");
		goto bad;
	}
	x = 0;
	if ((r = get_uint(step, "percent", "step.percent", 1, 1000, &x, err, err_len)) < 0)
		goto bad;
	p->step_percent = (unsigned)x;
	if ((r = get_uint(step, "bytes", "step.bytes", 1, BYTES_MAX, &p->step_bytes, err,
			  err_len)) < 0)
		goto bad;
	p->step_kind = p->step_bytes ? RESIZE_STEP_BYTES : RESIZE_STEP_PERCENT;
	if ((r = get_uint(step, "min_bytes", "step.min_bytes", 0, BYTES_MAX, &p->min_step_bytes,
			  err, err_len)) < 0)
		goto bad;
	if ((r = parse_inodes(body, step, p, err, err_len)) < 0)
		goto bad;

	if (!json_object_get(body, "max_size_bytes")) {
		r = err_fail(-EINVAL, err, err_len, "max_size_bytes: is required");
		goto bad;
	}
	if ((r = get_uint(body, "max_size_bytes", "max_size_bytes", 1, BYTES_MAX,
			  &p->max_size_bytes, err, err_len)) < 0)
		goto bad;
	x = 0;
	if ((r = get_uint(body, "cooldown_seconds", "cooldown_seconds", 0, COOLDOWN_MAX_S, &x, err,
			  err_len)) < 0)
		goto bad;
	p->cooldown_ms = x * 1000;
	if ((r = get_uint(body, "granularity_bytes", "granularity_bytes", 1, GRANULARITY_MAX,
			  &p->granularity_bytes, err, err_len)) < 0)
		goto bad;
	/* Only a granularity asked for: the default is rounded past and capped at max. */
	if (json_object_get(body, "granularity_bytes") &&
	    p->granularity_bytes > p->max_size_bytes) {
		r = err_fail(-EINVAL, err, err_len,
			     "granularity_bytes: %" PRIu64
			     " is larger than max_size_bytes %" PRIu64,
			     p->granularity_bytes, p->max_size_bytes);
		goto bad;
	}
	*out = p;
	return 0;
bad:
	resize_policy_free(p);
	return r;
}

json_t *resize_policy_to_json(const struct resize_policy *p)
{
	json_t *sel = json_object(), *trig = json_object(), *step = json_object(), *o;

	if (!sel || !trig || !step)
		goto oom;
	if (p->n_volumes) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < p->n_volumes; i++)
			json_array_append_new(a, json_string(p->volumes[i]));
		json_object_set_new(sel, "volumes", a ? a : json_null());
	}
	if (p->n_labels) {
		json_t *l = json_object();

		for (size_t i = 0; l && i < p->n_labels; i++)
			json_object_set_new(l, p->labels[i].key, json_string(p->labels[i].value));
		json_object_set_new(sel, "labels", l ? l : json_null());
	}
	if (p->pool)
		json_object_set_new(sel, "pool", json_string(p->pool));
	if (p->pvc_namespace || p->pvc_name) {
		json_t *c = json_object();

		if (c && p->pvc_namespace)
			json_object_set_new(c, "namespace", json_string(p->pvc_namespace));
		if (c && p->pvc_name)
			json_object_set_new(c, "name", json_string(p->pvc_name));
		json_object_set_new(sel, "pvc", c ? c : json_null());
	}
	if (p->used_percent)
		json_object_set_new(trig, "used_percent", json_integer(p->used_percent));
	if (p->free_bytes)
		json_object_set_new(trig, "free_bytes", json_integer((json_int_t)p->free_bytes));
	if (p->step_kind == RESIZE_STEP_PERCENT)
		json_object_set_new(step, "percent", json_integer(p->step_percent));
	else
		json_object_set_new(step, "bytes", json_integer((json_int_t)p->step_bytes));
	json_object_set_new(step, "min_bytes", json_integer((json_int_t)p->min_step_bytes));
	/* The inode fields only when on: a policy without them reads as before. */
	if (p->inodes_used_percent)
		json_object_set_new(trig, "inodes_used_percent",
				    json_integer(p->inodes_used_percent));
	if (p->inodes_free)
		json_object_set_new(trig, "inodes_free", json_integer((json_int_t)p->inodes_free));
	if (p->inodes_step_percent)
		json_object_set_new(step, "inodes_percent", json_integer(p->inodes_step_percent));
	if (p->inodes_step)
		json_object_set_new(step, "inodes", json_integer((json_int_t)p->inodes_step));
	if (p->inodes_used_percent || p->inodes_free)
		json_object_set_new(step, "min_inodes",
				    json_integer((json_int_t)p->min_step_inodes));
	o = json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:I}", "name", p->name, "selector", sel,
		      "trigger", trig, "step", step, "max_size_bytes",
		      (json_int_t)p->max_size_bytes, "cooldown_seconds",
		      (json_int_t)(p->cooldown_ms / 1000), "granularity_bytes",
		      (json_int_t)p->granularity_bytes);
	if (o && p->max_inodes)
		json_object_set_new(o, "max_inodes", json_integer((json_int_t)p->max_inodes));
	return o;
oom:
	json_decref(sel);
	json_decref(trig);
	json_decref(step);
	return NULL;
}

/* The API's view: the policy and where it comes from. */
static json_t *api_json(const struct resize_policy *p)
{
	json_t *o = resize_policy_to_json(p);

	if (o)
		json_object_set_new(o, "origin", json_string(p->from_config ? "config" : "api"));
	return o;
}

static char *xdup(const char *s, bool *ok)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

static struct resize_policy *policy_dup(const struct resize_policy *p)
{
	struct resize_policy *d = calloc(1, sizeof(*d));
	bool ok = true;

	if (!d)
		return NULL;
	*d = *p;
	d->volumes = NULL;
	d->labels = NULL;
	d->n_volumes = d->n_labels = 0;
	d->pool = xdup(p->pool, &ok);
	d->pvc_namespace = xdup(p->pvc_namespace, &ok);
	d->pvc_name = xdup(p->pvc_name, &ok);
	if (p->n_volumes) {
		d->volumes = calloc(p->n_volumes + 1, sizeof(*d->volumes));
		for (size_t i = 0; d->volumes && i < p->n_volumes; i++) {
			d->volumes[i] = xdup(p->volumes[i], &ok);
			d->n_volumes++;
		}
		ok = ok && d->volumes;
	}
	if (p->n_labels) {
		d->labels = calloc(p->n_labels, sizeof(*d->labels));
		for (size_t i = 0; d->labels && i < p->n_labels; i++) {
			d->labels[i].key = xdup(p->labels[i].key, &ok);
			d->labels[i].value = xdup(p->labels[i].value, &ok);
			d->n_labels++;
		}
		ok = ok && d->labels;
	}
	if (!ok)
		return resize_policy_free(d);
	return d;
}

static const char *label_of(const json_t *labels, const char *key)
{
	return labels ? json_string_value(json_object_get(labels, key)) : NULL;
}

bool resize_policy_selects(const struct resize_policy *p, const struct resize_volume_view *v)
{
	const char *x;

	if (p->n_volumes) {
		bool found = false;

		for (size_t i = 0; i < p->n_volumes && !found; i++)
			found = strcmp(p->volumes[i], v->name) == 0;
		if (!found)
			return false;
	}
	for (size_t i = 0; i < p->n_labels; i++)
		if (!(x = label_of(v->labels, p->labels[i].key)) ||
		    strcmp(x, p->labels[i].value) != 0)
			return false;
	if (p->pool && (!v->pool || strcmp(p->pool, v->pool) != 0))
		return false;
	if (p->pvc_namespace && (!(x = label_of(v->labels, RESIZE_LABEL_PVC_NAMESPACE)) ||
				 strcmp(x, p->pvc_namespace) != 0))
		return false;
	if (p->pvc_name &&
	    (!(x = label_of(v->labels, RESIZE_LABEL_PVC_NAME)) || strcmp(x, p->pvc_name) != 0))
		return false;
	return true;
}

const struct resize_policy *resize_policy_pick(struct resize_policy *const *sorted, size_t n,
					       const struct resize_volume_view *v)
{
	for (size_t i = 0; i < n; i++)
		if (resize_policy_selects(sorted[i], v))
			return sorted[i];
	return NULL;
}

/* ---- the set ---- */

static ssize_t find(const struct resize_policies *ps, const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i]->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Inserts in name order; takes ownership on success. */
static int insert(struct resize_policies *ps, struct resize_policy *p)
{
	struct resize_policy **n;
	size_t at = 0;

	if (ps->n >= RESIZE_POLICIES_MAX)
		return -ENOSPC;
	n = realloc(ps->v, (ps->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ps->v = n;
	while (at < ps->n && strcmp(ps->v[at]->name, p->name) < 0)
		at++;
	memmove(ps->v + at + 1, ps->v + at, (ps->n - at) * sizeof(*ps->v));
	ps->v[at] = p;
	ps->n++;
	ps->gen++;
	return 0;
}

static struct resize_policy *take(struct resize_policies *ps, size_t i)
{
	struct resize_policy *p = ps->v[i];

	memmove(ps->v + i, ps->v + i + 1, (ps->n - i - 1) * sizeof(*ps->v));
	ps->n--;
	ps->gen++;
	return p;
}

/* ---- the file: <state_dir>/resize-policies.json, written atomically ---- */

/*
 * Writes the API's policies (temp file, fsync, rename, fsync of the
 * directory), so a crash leaves the old file or the new one. Config
 * policies are not written: the config file is their record.
 */
static int save(struct resize_policies *ps, char *err, size_t err_len)
{
	json_t *arr, *doc;
	char *text;
	int r;

	if (!ps->state_dir)
		return 0;
	arr = json_array();
	for (size_t i = 0; arr && i < ps->n; i++)
		if (!ps->v[i]->from_config &&
		    json_array_append_new(arr, resize_policy_to_json(ps->v[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	doc = arr ? json_pack("{s:i, s:o}", "version", POLICIES_FILE_VERSION, "policies", arr)
		  : NULL;
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	r = statefile_write(ps->state_dir, POLICIES_FILE, text, strlen(text), err, err_len);
	free(text);
	return r;
}

static void move_aside(const char *path, const char *why)
{
	statefile_move_aside(path, "resize_policies_corrupt", why, "the API's resize policies");
}

static void load(struct resize_policies *ps)
{
	char path[PATH_MAX], why[512], e[400];
	struct resize_policy **got = NULL;
	size_t n = 0, i;
	json_t *doc, *arr, *j;

	doc = statefile_read(ps->state_dir, POLICIES_FILE, POLICIES_FILE_MAX, POLICIES_FILE_VERSION,
			     "policies", "resize_policies", "the API's resize policies", &arr);
	if (!doc)
		return;
	snprintf(path, sizeof(path), "%s/%s", ps->state_dir, POLICIES_FILE);
	got = calloc(json_array_size(arr) + 1, sizeof(*got));
	json_array_foreach (arr, i, j) {
		struct resize_policy *p = NULL;

		if (!got || resize_policy_parse(j, NULL, &p, e, sizeof(e)) < 0) {
			snprintf(why, sizeof(why), "policy %zu: %s", i, got ? e : "out of memory");
			goto bad;
		}
		got[n++] = p;
	}
	/* All or nothing: half a file would resize some volumes and silently not others. */
	for (i = 0; i < n; i++) {
		ssize_t at = find(ps, got[i]->name);

		if (at >= 0 && ps->v[at]->from_config) {
			/* The config now declares a policy of this name: the config wins. */
			log_warn("resize_policy_shadowed",
				 "policy=%s message=\"the config declares "
				 "it now; the API's copy is dropped\"",
				 got[i]->name);
			got[i] = resize_policy_free(got[i]);
			continue;
		}
		if (at >= 0 || insert(ps, got[i]) < 0) {
			snprintf(why, sizeof(why), "policy %s twice or too many", got[i]->name);
			for (size_t k = 0; k < ps->n;)
				if (!ps->v[k]->from_config)
					resize_policy_free(take(ps, k));
				else
					k++;
			goto bad;
		}
		got[i] = NULL;
	}
	free(got);
	json_decref(doc);
	log_info("resize_policies_loaded", "file=%s policies=%zu", path, n);
	return;
bad:
	for (i = 0; i < n; i++)
		resize_policy_free(got[i]);
	free(got);
	json_decref(doc);
	move_aside(path, why);
}

int resize_policies_new(const char *state_dir, const json_t *defaults, struct resize_policies **out,
			char *err, size_t err_len)
{
	struct resize_policies *ps = calloc(1, sizeof(*ps));
	const json_t *j;
	char e[400];
	size_t i;
	int r;

	if (!ps)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	pthread_mutex_init(&ps->lock, NULL);
	if (state_dir && !(ps->state_dir = strdup(state_dir))) {
		resize_policies_free(ps);
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	}
	if (defaults && !json_is_array(defaults)) {
		resize_policies_free(ps);
		return err_fail(-EINVAL, err, err_len, "resize.policies: must be a list");
	}
	json_array_foreach (defaults, i, j) {
		struct resize_policy *p = NULL;

		r = resize_policy_parse(j, NULL, &p, e, sizeof(e));
		if (r == 0 && find(ps, p->name) >= 0)
			r = err_fail(-EINVAL, e, sizeof(e), "name: %s is declared twice", p->name);
		if (r == 0) {
			p->from_config = true;
			r = insert(ps, p);
			if (r < 0)
				snprintf(e, sizeof(e), "too many policies (at most %d)",
					 RESIZE_POLICIES_MAX);
		}
		if (r < 0) {
			resize_policy_free(p);
			resize_policies_free(ps);
			return err_fail(r, err, err_len, "resize.policies[%zu]: %s", i, e);
		}
	}
	if (ps->state_dir)
		load(ps);
	*out = ps;
	return 0;
}

struct resize_policies *resize_policies_free(struct resize_policies *ps)
{
	if (!ps)
		return NULL;
	for (size_t i = 0; i < ps->n; i++)
		resize_policy_free(ps->v[i]);
	free(ps->v);
	free(ps->state_dir);
	pthread_mutex_destroy(&ps->lock);
	free(ps);
	return NULL;
}

static bool same(const struct resize_policy *a, const struct resize_policy *b)
{
	json_t *x = resize_policy_to_json(a), *y = resize_policy_to_json(b);
	bool eq = x && y && json_equal(x, y);

	json_decref(x);
	json_decref(y);
	return eq;
}

/* Stores `p` (owned) as `name`, replacing `old` (index, or -1); the file first, then memory. */
static int put_locked(struct resize_policies *ps, struct resize_policy *p, ssize_t old, char *err,
		      size_t err_len)
{
	struct resize_policy *prev = old >= 0 ? take(ps, (size_t)old) : NULL;
	char q[600];
	int r = insert(ps, p);

	if (r < 0) {
		if (prev)
			insert(ps, prev);
		resize_policy_free(p);
		return r == -ENOSPC
			       ? err_fail(-ENOSPC, err, err_len,
					  "this node has %d resize policies already (the most)",
					  RESIZE_POLICIES_MAX)
			       : err_fail(r, err, err_len, "out of memory");
	}
	r = save(ps, err, err_len);
	if (r < 0) {
		ssize_t at = find(ps, p->name);

		log_error("resize_policy_not_saved", "policy=%s reason=%s", p->name,
			  log_quote(q, sizeof(q), err));
		resize_policy_free(take(ps, (size_t)at));
		if (prev)
			insert(ps, prev);
		return r;
	}
	resize_policy_free(prev);
	return 0;
}

int resize_policies_create(struct resize_policies *ps, const json_t *body, json_t **out,
			   bool *created, char *err, size_t err_len)
{
	struct resize_policy *p = NULL;
	json_t *j = NULL;
	ssize_t at;
	int r = resize_policy_parse(body, NULL, &p, err, err_len);

	if (r < 0)
		return r;
	pthread_mutex_lock(&ps->lock);
	at = find(ps, p->name);
	if (at >= 0) {
		if (!ps->v[at]->from_config && same(ps->v[at], p)) {
			j = api_json(ps->v[at]);
			*created = false;
			r = j ? 0 : err_fail(-ENOMEM, err, err_len, "out of memory");
		} else {
			r = err_fail(
				-EEXIST, err, err_len,
				ps->v[at]->from_config
					? "name: policy %s is declared in the config file; "
					  "change it there"
					: "name: policy %s exists with another body; PUT replaces "
					  "it",
				p->name);
		}
		pthread_mutex_unlock(&ps->lock);
		resize_policy_free(p);
		goto out;
	}
	r = put_locked(ps, p, -1, err, err_len);
	if (r == 0) {
		j = api_json(p);
		*created = true;
		log_info("resize_policy_created", "policy=%s", p->name);
	}
	pthread_mutex_unlock(&ps->lock);
	if (r == 0 && !j)
		r = err_fail(-ENOMEM, err, err_len, "out of memory");
out:
	if (r == 0)
		*out = j;
	else
		json_decref(j);
	return r;
}

/* The {name} of a path: checked before it is used for anything. */
static int name_arg(const char *name, char *err, size_t err_len)
{
	char why[200];

	if (!name || quota_name_valid(name, why, sizeof(why)) < 0)
		return err_fail(-ENOENT, err, err_len, "no resize policy of that name: %s",
				name ? why : "no name");
	return 0;
}

int resize_policies_replace(struct resize_policies *ps, const char *name, const json_t *body,
			    json_t **out, bool *created, char *err, size_t err_len)
{
	struct resize_policy *p = NULL;
	json_t *j = NULL;
	ssize_t at;
	int r = name_arg(name, err, err_len);

	if (r < 0)
		return r;
	r = resize_policy_parse(body, name, &p, err, err_len);
	if (r < 0)
		return r;
	pthread_mutex_lock(&ps->lock);
	at = find(ps, name);
	if (at >= 0 && ps->v[at]->from_config) {
		pthread_mutex_unlock(&ps->lock);
		resize_policy_free(p);
		return err_fail(-EPERM, err, err_len,
				"policy %s is declared in the config file; change it there", name);
	}
	*created = at < 0;
	r = put_locked(ps, p, at, err, err_len);
	if (r == 0) {
		j = api_json(p);
		log_info("resize_policy_replaced", "policy=%s created=%s", name,
			 *created ? "true" : "false");
	}
	pthread_mutex_unlock(&ps->lock);
	if (r == 0 && !j)
		r = err_fail(-ENOMEM, err, err_len, "out of memory");
	if (r == 0)
		*out = j;
	return r;
}

int resize_policies_get(struct resize_policies *ps, const char *name, json_t **out, char *err,
			size_t err_len)
{
	json_t *j = NULL;
	ssize_t at;
	int r = name_arg(name, err, err_len);

	if (r < 0)
		return r;
	pthread_mutex_lock(&ps->lock);
	at = find(ps, name);
	if (at >= 0)
		j = api_json(ps->v[at]);
	pthread_mutex_unlock(&ps->lock);
	if (at < 0)
		return err_fail(-ENOENT, err, err_len, "no resize policy %s", name);
	if (!j)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	*out = j;
	return 0;
}

int resize_policies_list(struct resize_policies *ps, json_t **out, char *err, size_t err_len)
{
	json_t *arr = json_array();
	bool ok = arr != NULL;

	pthread_mutex_lock(&ps->lock);
	for (size_t i = 0; ok && i < ps->n; i++)
		ok = json_array_append_new(arr, api_json(ps->v[i])) == 0;
	pthread_mutex_unlock(&ps->lock);
	*out = ok ? json_pack("{s:o}", "policies", arr) : NULL;
	if (!ok)
		json_decref(arr);
	return *out ? 0 : err_fail(-ENOMEM, err, err_len, "out of memory");
}

int resize_policies_delete(struct resize_policies *ps, const char *name, char *err, size_t err_len)
{
	struct resize_policy *p;
	ssize_t at;
	char q[600];
	int r = name_arg(name, err, err_len);

	if (r < 0)
		return r;
	pthread_mutex_lock(&ps->lock);
	at = find(ps, name);
	if (at < 0 || ps->v[at]->from_config) {
		pthread_mutex_unlock(&ps->lock);
		return at < 0 ? err_fail(-ENOENT, err, err_len, "no resize policy %s", name)
			      : err_fail(
					-EPERM, err, err_len,
					"policy %s is declared in the config file; remove it there",
					name);
	}
	p = take(ps, (size_t)at);
	/* The file first: if it cannot be written, the policy stays. */
	r = save(ps, err, err_len);
	if (r < 0) {
		insert(ps, p);
		pthread_mutex_unlock(&ps->lock);
		log_error("resize_policy_delete_not_saved", "policy=%s reason=%s", name,
			  log_quote(q, sizeof(q), err));
		return r;
	}
	pthread_mutex_unlock(&ps->lock);
	log_info("resize_policy_deleted", "policy=%s", name);
	resize_policy_free(p);
	return 0;
}

int resize_policies_snapshot(struct resize_policies *ps, struct resize_policy ***out, size_t *n,
			     uint64_t *gen)
{
	struct resize_policy **v;
	size_t k = 0, total;

	pthread_mutex_lock(&ps->lock);
	total = ps->n;
	v = calloc(total + 1, sizeof(*v));
	for (; v && k < total; k++)
		if (!(v[k] = policy_dup(ps->v[k])))
			break;
	if (gen)
		*gen = ps->gen;
	pthread_mutex_unlock(&ps->lock);
	if (!v || k < total) {
		resize_policies_snapshot_free(v, k);
		return -ENOMEM;
	}
	*out = v;
	*n = k;
	return 0;
}

void resize_policies_snapshot_free(struct resize_policy **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		resize_policy_free(v[i]);
	free(v);
}

uint64_t resize_policies_generation(struct resize_policies *ps)
{
	uint64_t g;

	pthread_mutex_lock(&ps->lock);
	g = ps->gen;
	pthread_mutex_unlock(&ps->lock);
	return g;
}
