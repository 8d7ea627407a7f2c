/* quota-name: volume names and Kubernetes labels: validation with reasons, the label set. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota-model-private.h"

int qm_fail(int ret, char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Keeps hostile input (10 KB, control bytes, NULs) from flooding or forging a message. */
const char *qm_quote(char *buf, size_t len, const char *s, size_t n)
{
	enum { SHOWN = 48 };
	size_t o = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (len < 8)
		return buf;
	buf[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char one[8];
		size_t k;

		if (i == SHOWN) {
			if (o + 5 < len)
				o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (c == '"' || c == '\\')
			k = (size_t)snprintf(one, sizeof(one), "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			k = (size_t)snprintf(one, sizeof(one), "\\x%02x", c);
		else
			k = (size_t)snprintf(one, sizeof(one), "%c", c);
		/* Room for this piece, "..." and the closing quote. */
		if (o + k + 5 >= len) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		memcpy(buf + o, one, k);
		o += k;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* "'x'" for a printable byte, "byte 0x0a" otherwise: a message must stay one readable line. */
static const char *show_char(char *buf, size_t len, unsigned char c)
{
	if (c > 0x20 && c < 0x7f && c != '\'')
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", c);
	return buf;
}

static bool is_lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(unsigned char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

const char *qm_name_reason(const char *s, size_t n, char *buf, size_t len)
{
	char ch[16];

	if (n == 0) {
		snprintf(buf, len, "must not be empty");
		return buf;
	}
	if (n > QUOTA_NAME_MAX) {
		snprintf(buf, len, "must be at most %d characters, got %zu", QUOTA_NAME_MAX, n);
		return buf;
	}
	/* Excluded by the charset rules below too; said plainly because they are path tricks. */
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
		snprintf(buf, len, "must not be \".\" or \"..\"");
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0') {
			snprintf(buf, len, "has a NUL byte at position %zu", i + 1);
			return buf;
		}
		if (c == '/') {
			snprintf(buf, len, "has a '/' at position %zu", i + 1);
			return buf;
		}
		if (c >= 'A' && c <= 'Z') {
			snprintf(buf, len, "has an uppercase letter at position %zu", i + 1);
			return buf;
		}
		if (!is_lower_alnum(c) && c != '-' && c != '.') {
			snprintf(buf, len,
				 "has an invalid character %s at position %zu (allowed: a-z 0-9 - "
				 ".)",
				 show_char(ch, sizeof(ch), c), i + 1);
			return buf;
		}
	}
	if (!is_lower_alnum((unsigned char)s[0])) {
		snprintf(buf, len, "must start with a lowercase letter or digit");
		return buf;
	}
	if (!is_lower_alnum((unsigned char)s[n - 1])) {
		snprintf(buf, len, "must end with a lowercase letter or digit");
		return buf;
	}
	return NULL;
}

int quota_name_valid(const char *s, char *why, size_t len)
{
	char reason[160];

	if (!s)
		return qm_fail(-EINVAL, why, len, "name is missing");
	if (qm_name_reason(s, strlen(s), reason, sizeof(reason)))
		return qm_fail(-EINVAL, why, len, "name %s", reason);
	return 0;
}

/*
 * A label name or value: `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most
 * 63. `off` is where s starts in the key, so positions are the key's.
 */
static const char *label_word_reason(const char *s, size_t n, size_t off, const char *what,
				     char *buf, size_t len)
{
	char ch[16];

	if (n == 0) {
		snprintf(buf, len, "%s must not be empty", what);
		return buf;
	}
	if (n > QUOTA_LABEL_NAME_MAX) {
		snprintf(buf, len, "%s must be at most %d characters, got %zu", what,
			 QUOTA_LABEL_NAME_MAX, n);
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_alnum(c) && c != '-' && c != '_' && c != '.') {
			snprintf(buf, len,
				 "%s has an invalid character %s at position %zu (allowed: A-Z a-z "
				 "0-9 - _ .)",
				 what, show_char(ch, sizeof(ch), c), off + i + 1);
			return buf;
		}
	}
	if (!is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[n - 1])) {
		snprintf(buf, len, "%s must start and end with a letter or digit", what);
		return buf;
	}
	return NULL;
}

/* A DNS-1123 subdomain: dot-separated `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 253. */
static const char *label_prefix_reason(const char *s, size_t n, char *buf, size_t len)
{
	char ch[16];

	if (n == 0) {
		snprintf(buf, len, "prefix must not be empty");
		return buf;
	}
	if (n > QUOTA_LABEL_PREFIX_MAX) {
		snprintf(buf, len, "prefix must be at most %d characters, got %zu",
			 QUOTA_LABEL_PREFIX_MAX, n);
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z') {
			snprintf(buf, len, "prefix has an uppercase letter at position %zu", i + 1);
			return buf;
		}
		if (!is_lower_alnum(c) && c != '-' && c != '.') {
			snprintf(buf, len,
				 "prefix has an invalid character %s at position %zu (allowed: a-z "
				 "0-9 - .)",
				 show_char(ch, sizeof(ch), c), i + 1);
			return buf;
		}
		/* Every dot-separated part starts and ends with a letter or digit. */
		if ((c == '.' || c == '-') && (i == 0 || s[i - 1] == '.')) {
			snprintf(buf, len,
				 "prefix must be a DNS subdomain: %s at position %zu starts a part",
				 show_char(ch, sizeof(ch), c), i + 1);
			return buf;
		}
		if ((c == '.' || c == '-') && (i + 1 == n || (c == '-' && s[i + 1] == '.'))) {
			snprintf(buf, len,
				 "prefix must be a DNS subdomain: %s at position %zu ends a part",
				 show_char(ch, sizeof(ch), c), i + 1);
			return buf;
		}
	}
	return NULL;
}

/* The reason, as `key "k": ...` or `value "v" of key "k": ...`; NULL when valid. */
static const char *label_reason(const char *key, size_t klen, const char *value, size_t vlen,
				char *buf, size_t len)
{
	char r[200], qk[80], qv[80];
	const char *slash = memchr(key, '/', klen);
	const char *name = key;
	size_t nlen = klen, off = 0;

	qm_quote(qk, sizeof(qk), key, klen);
	if (klen == 0) {
		snprintf(buf, len, "key %s: must not be empty", qk);
		return buf;
	}
	if (memchr(key, '\0', klen)) {
		snprintf(buf, len, "key %s: has a NUL byte", qk);
		return buf;
	}
	if (klen > QUOTA_LABEL_KEY_MAX) {
		snprintf(buf, len, "key %s: must be at most %d characters, got %zu", qk,
			 QUOTA_LABEL_KEY_MAX, klen);
		return buf;
	}
	if (slash) {
		size_t plen = (size_t)(slash - key);

		if (memchr(slash + 1, '/', klen - plen - 1)) {
			snprintf(buf, len, "key %s: has more than one '/'", qk);
			return buf;
		}
		if (label_prefix_reason(key, plen, r, sizeof(r))) {
			snprintf(buf, len, "key %s: %s", qk, r);
			return buf;
		}
		name = slash + 1;
		nlen = klen - plen - 1;
		off = plen + 1;
	}
	if (label_word_reason(name, nlen, off, "name", r, sizeof(r))) {
		snprintf(buf, len, "key %s: %s", qk, r);
		return buf;
	}
	if (!value)
		return NULL;
	qm_quote(qv, sizeof(qv), value, vlen);
	if (vlen > 0 && memchr(value, '\0', vlen)) {
		snprintf(buf, len, "value %s of key %s: has a NUL byte", qv, qk);
		return buf;
	}
	if (vlen > 0 && label_word_reason(value, vlen, 0, "value", r, sizeof(r))) {
		snprintf(buf, len, "value %s of key %s: %s", qv, qk, r);
		return buf;
	}
	return NULL;
}

int quota_label_valid(const char *key, const char *value, char *why, size_t len)
{
	char r[400];

	if (!key)
		return qm_fail(-EINVAL, why, len, "label key is missing");
	if (label_reason(key, strlen(key), value, value ? strlen(value) : 0, r, sizeof(r)))
		return qm_fail(-EINVAL, why, len, "%s", r);
	return 0;
}

void qm_labels_clear(struct quota_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct quota_label *)a)->key, ((const struct quota_label *)b)->key);
}

const char *quota_labels_get(const struct quota_labels *l, const char *key)
{
	struct quota_label k = {.key = (char *)key};
	const struct quota_label *hit;

	if (!l || l->n == 0)
		return NULL;
	hit = bsearch(&k, l->v, l->n, sizeof(*l->v), label_cmp);
	return hit ? hit->value : NULL;
}

json_t *quota_labels_to_json(const struct quota_labels *l)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (size_t i = 0; l && i < l->n; i++) {
		if (json_object_set_new(o, l->v[i].key, json_string(l->v[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int qm_labels_from_json(const json_t *obj, const char *field, struct quota_labels *out, char *err,
			size_t err_len)
{
	struct quota_labels l = {0};
	const char *key;
	size_t klen;
	json_t *val;
	char r[400], *text;
	size_t tlen;
	json_t *enc;

	if (!json_is_object(obj))
		return qm_fail(-EINVAL, err, err_len, "%s: must be an object of strings", field);
	if (json_object_size(obj) > QUOTA_LABELS_MAX)
		return qm_fail(-EINVAL, err, err_len, "%s: at most %d labels, got %zu", field,
			       QUOTA_LABELS_MAX, json_object_size(obj));
	if (json_object_size(obj) == 0) {
		*out = l;
		return 0;
	}
	l.v = calloc(json_object_size(obj), sizeof(*l.v));
	if (!l.v)
		return qm_fail(-ENOMEM, err, err_len, "%s: out of memory", field);
	json_object_keylen_foreach((json_t *)obj, key, klen, val)
	{
		char qk[80];

		if (!json_is_string(val)) {
			qm_labels_clear(&l);
			return qm_fail(-EINVAL, err, err_len,
				       "%s: value of key %s must be a string", field,
				       qm_quote(qk, sizeof(qk), key, klen));
		}
		if (label_reason(key, klen, json_string_value(val), json_string_length(val), r,
				 sizeof(r))) {
			qm_labels_clear(&l);
			return qm_fail(-EINVAL, err, err_len, "%s: %s", field, r);
		}
		l.v[l.n].key = strndup(key, klen);
		l.v[l.n].value = strdup(json_string_value(val));
		l.n++;
		if (!l.v[l.n - 1].key || !l.v[l.n - 1].value) {
			qm_labels_clear(&l);
			return qm_fail(-ENOMEM, err, err_len, "%s: out of memory", field);
		}
	}
	qsort(l.v, l.n, sizeof(*l.v), label_cmp);
	/* The record holds them as one xattr; refuse what could not be written at create. */
	enc = quota_labels_to_json(&l);
	text = enc ? json_dumps(enc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(enc);
	if (!text) {
		qm_labels_clear(&l);
		return qm_fail(-ENOMEM, err, err_len, "%s: out of memory", field);
	}
	tlen = strlen(text);
	free(text);
	if (tlen > QUOTA_LABELS_TEXT_MAX) {
		qm_labels_clear(&l);
		return qm_fail(-EINVAL, err, err_len,
			       "%s: %zu bytes as JSON, at most %d (they are stored in an extended "
			       "attribute)",
			       field, tlen, QUOTA_LABELS_TEXT_MAX);
	}
	*out = l;
	return 0;
}
