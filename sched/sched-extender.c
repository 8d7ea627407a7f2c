/* sched-extender: the extender protocol's answers written as text, ExtenderBindingArgs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched-extender.h"

struct sched_ext_args *sched_ext_args_free(struct sched_ext_args *a)
{
	if (!a)
		return NULL;
	json_decref(a->pod);
	free(a->names);
	free(a->name_info);
	free(a->items);
	free(a->arena);
	free(a);
	return NULL;
}

/* ---- the buffer ---------------------------------------------------------------------- */

void sched_ext_buf_reset(struct sched_ext_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void sched_ext_buf_free(struct sched_ext_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Room for `n` more bytes and the NUL. */
static int buf_reserve(struct sched_ext_buf *b, size_t n)
{
	if (n >= SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

static int buf_put(struct sched_ext_buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n))
		return -ENOMEM;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_puts(struct sched_ext_buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

/*
 * The end of the run of bytes from `i` that need no escaping. Eight bytes at a time, the last
 * few as the string's last eight (overlapping bytes already seen; a fixed-size copy, where a
 * variable one is a libc call), and byte by byte only in a word that needs escaping or a
 * string shorter than a word: the byte loop was 7% of a 5,000-node filter's time in a profile,
 * and after the word loop its tail of a ~14-byte node name was still most of writing the name.
 */
static size_t clean_run(const char *s, size_t i, size_t len)
{
	uint64_t w;

	while (i + 8 <= len) {
		memcpy(&w, s + i, 8);
		if (sched_ext_word_needs_escape(w))
			break;
		i += 8;
	}
	if (i < len && len - i < 8 && len >= 8) {
		memcpy(&w, s + len - 8, 8);
		if (!sched_ext_word_needs_escape(w))
			return len;
	}
	while (i < len && !sched_ext_needs_escape((unsigned char)s[i]))
		i++;
	return i;
}

/* Writes `s` as a JSON string literal at `o`, which has room for len * 6 + 2 bytes (every byte
 * as \u00XX, and the quotes); returns the end. No NUL. */
static char *json_string_at(char *o, const char *s, size_t len)
{
	*o++ = '"';
	size_t i = 0;
	while (i < len) {
		/* Copy the clean run in one go: node names almost never need escaping. */
		size_t j = clean_run(s, i, len);
		memcpy(o, s + i, j - i);
		o += j - i;
		if (j == len)
			break;
		unsigned char c = (unsigned char)s[j];
		*o++ = '\\';
		switch (c) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			o += sprintf(o, "u%04x", c);
			break;
		}
		i = j + 1;
	}
	*o++ = '"';
	return o;
}

int sched_ext_buf_put_json_string(struct sched_ext_buf *b, const char *s, size_t len)
{
	/* Worst case every byte becomes \u00XX; reserving it once keeps the loop simple. */
	if (len > SIZE_MAX / 8 || buf_reserve(b, len * 6 + 2))
		return -ENOMEM;
	char *o = json_string_at(b->data + b->len, s, len);
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return 0;
}

static int buf_put_cstr_json(struct sched_ext_buf *b, const char *s)
{
	return sched_ext_buf_put_json_string(b, s ? s : "", s ? strlen(s) : 0);
}

/* ---- answers ------------------------------------------------------------------------- */

static size_t name_len(const struct sched_ext_args *a, size_t i)
{
	return a->name_info ? a->name_info[i].len : strlen(a->names[i]);
}

/* names[i] (`len` bytes) as a JSON string at `o`, which has room for len * 6 + 2 bytes;
 * returns the end. A plain name is copied between quotes, the others escaped. */
static char *name_at(char *o, const struct sched_ext_args *a, size_t i, size_t len)
{
	if (!a->name_info || !a->name_info[i].plain)
		return json_string_at(o, a->names[i], len);
	*o++ = '"';
	memcpy(o, a->names[i], len);
	o += len;
	*o++ = '"';
	return o;
}

/* Appends `sep` (0: none) and names[i] as a JSON string. 0 or -ENOMEM. */
static int buf_put_name(struct sched_ext_buf *b, char sep, const struct sched_ext_args *a, size_t i)
{
	size_t len = name_len(a, i);
	char *o;

	if (len > SIZE_MAX / 8 || buf_reserve(b, 1 + len * 6 + 2))
		return -ENOMEM;
	o = b->data + b->len;
	if (sep)
		*o++ = sep;
	o = name_at(o, a, i, len);
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return 0;
}

static bool node_passes(const struct sched_result *results, const char *fail_all, size_t i)
{
	return !fail_all && results && results[i].feasible;
}

static const char *node_reason(const struct sched_result *results, const char *fail_all, size_t i)
{
	if (fail_all)
		return fail_all;
	if (!results || !results[i].reason[0])
		return "infeasible";
	return results[i].reason;
}

static int write_filter(struct sched_ext_buf *b, const struct sched_ext_args *args,
			const char *body, const struct sched_result *results, const char *fail_all)
{
	bool first;
	size_t i;

	if (args->form == SCHED_EXT_NODES) {
		if (buf_puts(b, "{\"Nodes\":{\"metadata\":"))
			return -ENOMEM;
		if (args->list_metadata.len) {
			if (buf_put(b, body + args->list_metadata.off, args->list_metadata.len))
				return -ENOMEM;
		} else if (buf_puts(b, "{}")) {
			return -ENOMEM;
		}
		if (buf_puts(b, ",\"items\":["))
			return -ENOMEM;
		for (first = true, i = 0; i < args->n_nodes; i++) {
			if (!node_passes(results, fail_all, i))
				continue;
			if ((!first && buf_put(b, ",", 1)) ||
			    buf_put(b, body + args->items[i].off, args->items[i].len))
				return -ENOMEM;
			first = false;
		}
		if (buf_puts(b, "]},\"NodeNames\":null,\"FailedNodes\":{"))
			return -ENOMEM;
	} else {
		if (buf_puts(b, "{\"Nodes\":null,\"NodeNames\":["))
			return -ENOMEM;
		for (first = true, i = 0; i < args->n_nodes; i++) {
			if (!node_passes(results, fail_all, i))
				continue;
			if (buf_put_name(b, first ? 0 : ',', args, i))
				return -ENOMEM;
			first = false;
		}
		if (buf_puts(b, "],\"FailedNodes\":{"))
			return -ENOMEM;
	}
	for (first = true, i = 0; i < args->n_nodes; i++) {
		if (node_passes(results, fail_all, i))
			continue;
		if (buf_put_name(b, first ? 0 : ',', args, i) || buf_put(b, ":", 1) ||
		    buf_put_cstr_json(b, node_reason(results, fail_all, i)))
			return -ENOMEM;
		first = false;
	}
	return buf_puts(b, "},\"Error\":\"\"}");
}

int sched_ext_write_filter(struct sched_ext_buf *b, const struct sched_ext_args *args,
			   const char *body, const struct sched_result *results,
			   const char *fail_all)
{
	size_t old = b->len;
	/* One reservation up front: a name and its quotes per node, so the loop rarely grows. */
	if (buf_reserve(b, args->n_nodes * 24 + 128))
		return -ENOMEM;
	int r = write_filter(b, args, body, results, fail_all);
	if (r) {
		b->len = old;
		if (b->data)
			b->data[old] = '\0';
	}
	return r;
}

int sched_ext_write_filter_error(struct sched_ext_buf *b, const char *error)
{
	size_t old = b->len;
	if (buf_puts(b, "{\"Nodes\":null,\"NodeNames\":null,\"FailedNodes\":{},\"Error\":") ||
	    buf_put_cstr_json(b, error) || buf_put(b, "}", 1)) {
		b->len = old;
		if (b->data)
			b->data[old] = '\0';
		return -ENOMEM;
	}
	return 0;
}

int sched_ext_score(const struct sched_result *r)
{
	if (!r->feasible || r->score <= 0)
		return 0;
	if (r->score >= SCHED_SCORE_MAX)
		return SCHED_EXT_MAX_PRIORITY;
	return (r->score * SCHED_EXT_MAX_PRIORITY + SCHED_SCORE_MAX / 2) / SCHED_SCORE_MAX;
}

int sched_ext_write_priorities(struct sched_ext_buf *b, const struct sched_ext_args *args,
			       const struct sched_result *results)
{
	size_t old = b->len;
	/* ~40 bytes of text per node plus the name: one reservation, no printf per node (it
	 * was a third of this writer's time for 5,000 nodes). */
	int r = buf_reserve(b, args->n_nodes * 40 + 4);
	if (!r)
		r = buf_put(b, "[", 1);
	for (size_t i = 0; !r && i < args->n_nodes; i++) {
		int score = results ? sched_ext_score(&results[i]) : SCHED_EXT_MAX_PRIORITY / 2;
		char num[16] = ",\"Score\":";
		size_t n = 9;
		if (score >= 10)
			num[n++] = (char)('0' + score / 10);
		num[n++] = (char)('0' + score % 10);
		num[n++] = '}';
		/* One reservation per node and the text written in place: four appends, each
		 * checking and terminating the buffer, were most of this loop. */
		size_t len = name_len(args, i);
		if (len > SIZE_MAX / 8 || buf_reserve(b, 1 + 8 + len * 6 + 2 + n)) {
			r = -ENOMEM;
			break;
		}
		char *o = b->data + b->len;
		if (i)
			*o++ = ',';
		memcpy(o, "{\"Host\":", 8);
		o = name_at(o + 8, args, i, len);
		memcpy(o, num, n);
		o += n;
		*o = '\0';
		b->len = (size_t)(o - b->data);
	}
	if (!r)
		r = buf_put(b, "]", 1);
	if (r) {
		b->len = old;
		if (b->data)
			b->data[old] = '\0';
	}
	return r;
}

int sched_ext_write_binding_result(struct sched_ext_buf *b, const char *error)
{
	size_t old = b->len;
	if (buf_puts(b, "{\"Error\":") || buf_put_cstr_json(b, error) || buf_put(b, "}", 1)) {
		b->len = old;
		if (b->data)
			b->data[old] = '\0';
		return -ENOMEM;
	}
	return 0;
}

/* ---- ExtenderBindingArgs ------------------------------------------------------------- */

/* The member `name` matched case-insensitively, as Go's encoding/json does. */
static json_t *member_ci(json_t *obj, const char *name)
{
	const char *k;
	json_t *v;
	json_t *exact = json_object_get(obj, name);
	if (exact)
		return exact;
	json_object_foreach (obj, k, v) {
		if (strcasecmp(k, name) == 0)
			return v;
	}
	return NULL;
}

static int binding_string(json_t *root, const char *key, bool required, char **out, char *err,
			  size_t err_len)
{
	json_t *v = member_ci(root, key);
	if (!v || json_is_null(v)) {
		if (required) {
			snprintf(err, err_len, "%s: missing", key);
			return -EBADMSG;
		}
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	if (!json_is_string(v)) {
		snprintf(err, err_len, "%s: not a string", key);
		return -EBADMSG;
	}
	if (required && json_string_length(v) == 0) {
		snprintf(err, err_len, "%s: empty", key);
		return -EBADMSG;
	}
	if (json_string_length(v) > SCHED_EXT_MAX_NAME) {
		snprintf(err, err_len, "%s: longer than %d bytes", key, SCHED_EXT_MAX_NAME);
		return -EBADMSG;
	}
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

void sched_ext_binding_clear(struct sched_ext_binding *b)
{
	free(b->pod_name);
	free(b->pod_namespace);
	free(b->pod_uid);
	free(b->node);
	memset(b, 0, sizeof(*b));
}

int sched_ext_binding_parse(const char *body, size_t len, struct sched_ext_binding *out, char *err,
			    size_t err_len)
{
	struct sched_ext_binding b = {0};
	json_error_t je;
	/* jansson rejects \u0000 in strings by default: names with NUL never get through. */
	json_t *root = json_loadb(body, len, 0, &je);
	int r;

	if (!root) {
		snprintf(err, err_len, "offset %d: %s", je.position, je.text);
		return -EBADMSG;
	}
	if (!json_is_object(root)) {
		snprintf(err, err_len, "offset 0: not a JSON object");
		r = -EBADMSG;
		goto out;
	}
	r = binding_string(root, "PodName", true, &b.pod_name, err, err_len);
	if (!r)
		r = binding_string(root, "PodNamespace", true, &b.pod_namespace, err, err_len);
	if (!r)
		r = binding_string(root, "PodUID", false, &b.pod_uid, err, err_len);
	if (!r)
		r = binding_string(root, "Node", true, &b.node, err, err_len);
	if (r == -ENOMEM)
		snprintf(err, err_len, "out of memory");
out:
	json_decref(root);
	if (r) {
		sched_ext_binding_clear(&b);
		return r;
	}
	*out = b;
	return 0;
}
