/* quota-request: strict parsing of volume request bodies (create, resize, publish) into structs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota-model-private.h"

static const char *const default_roots[] = {QUOTA_PUBLISH_ROOT_DEFAULT, NULL};

/* What a JSON value is, for "got ..." in messages; never the whole of a long string. */
static const char *describe(const json_t *v, char *buf, size_t len)
{
	char q[80];

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: {
		/* Show 1.0 as "1.0", not "1", or "got 1" would read as a valid integer. */
		int n = snprintf(buf, len, "%.17g", json_real_value(v));

		if (n > 0 && (size_t)n + 3 < len && !strpbrk(buf, ".eEn"))
			strcat(buf, ".0");
		break;
	}
	case JSON_STRING:
		snprintf(buf, len, "a string %s",
			 qm_quote(q, sizeof(q), json_string_value(v), json_string_length(v)));
		break;
	case JSON_TRUE:
		snprintf(buf, len, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "false");
		break;
	case JSON_NULL:
		snprintf(buf, len, "null");
		break;
	case JSON_ARRAY:
		snprintf(buf, len, "an array");
		break;
	case JSON_OBJECT:
	default:
		snprintf(buf, len, "an object");
		break;
	}
	return buf;
}

/* Every key of `body` is one of `allowed` (NULL-terminated); names the first that is not. */
static int check_fields(const json_t *body, const char *const *allowed, char *err, size_t err_len)
{
	const char *key;
	size_t klen;
	json_t *v;
	char q[80], list[200] = "";

	for (size_t i = 0; allowed[i]; i++) {
		if (i)
			strcat(list, ", ");
		strcat(list, allowed[i]);
	}
	if (!json_is_object(body)) {
		char d[120];

		return qm_fail(-EINVAL, err, err_len, "body: must be a JSON object, got %s",
			       describe(body, d, sizeof(d)));
	}
	json_object_keylen_foreach((json_t *)body, key, klen, v)
	{
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strlen(allowed[i]) == klen && memcmp(allowed[i], key, klen) == 0)
				break;
		if (!allowed[i])
			return qm_fail(-EINVAL, err, err_len, "%s: unknown field (expected %s)",
				       qm_quote(q, sizeof(q), key, klen), list);
	}
	return 0;
}

/*
 * A JSON integer in [min, max]. Strings, reals (1e20, 1.0), booleans are
 * refused: jansson reads integers beyond int64 as errors or reals, so this
 * also rules out sizes that overflow.
 */
static int get_int(const json_t *v, const char *field, const char *what, json_int_t min,
		   uint64_t max, uint64_t *out, char *err, size_t err_len)
{
	char d[120];
	json_int_t x;

	if (!json_is_integer(v))
		return qm_fail(-EINVAL, err, err_len, "%s: must be %s, got %s", field, what,
			       describe(v, d, sizeof(d)));
	x = json_integer_value(v);
	if (x < min)
		return qm_fail(-EINVAL, err, err_len, "%s: must be %s, got %" JSON_INTEGER_FORMAT,
			       field, what, x);
	if ((uint64_t)x > max)
		return qm_fail(-EINVAL, err, err_len,
			       "%s: must be at most %" PRIu64 ", got %" JSON_INTEGER_FORMAT, field,
			       max, x);
	*out = (uint64_t)x;
	return 0;
}

/* A JSON string without NUL bytes or control characters, 1..max bytes. */
static int get_text(const json_t *v, const char *field, size_t max, const char **s, size_t *n,
		    char *err, size_t err_len)
{
	char d[120];
	const char *p;
	size_t len;

	if (!json_is_string(v))
		return qm_fail(-EINVAL, err, err_len, "%s: must be a string, got %s", field,
			       describe(v, d, sizeof(d)));
	p = json_string_value(v);
	len = json_string_length(v);
	if (len == 0)
		return qm_fail(-EINVAL, err, err_len, "%s: must not be empty", field);
	if (len > max)
		return qm_fail(-EINVAL, err, err_len, "%s: must be at most %zu bytes, got %zu",
			       field, max, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\0')
			return qm_fail(-EINVAL, err, err_len, "%s: has a NUL byte at position %zu",
				       field, i + 1);
		if (c < 0x20 || c == 0x7f)
			return qm_fail(-EINVAL, err, err_len,
				       "%s: has a control character at position %zu", field, i + 1);
	}
	*s = p;
	*n = len;
	return 0;
}

/* A string field checked by `valid`, copied into *out (malloc'd). */
static int get_checked(const json_t *v, const char *field, size_t max,
		       int (*valid)(const char *, size_t, char *, size_t), char **out, char *err,
		       size_t err_len)
{
	char why[160], d[120];
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return qm_fail(-EINVAL, err, err_len, "%s: must be a string, got %s", field,
			       describe(v, d, sizeof(d)));
	s = json_string_value(v);
	n = json_string_length(v);
	if (n > max)
		return qm_fail(-EINVAL, err, err_len, "%s: must be at most %zu bytes, got %zu",
			       field, max, n);
	if (valid(s, n, why, sizeof(why)) < 0)
		return qm_fail(-EINVAL, err, err_len, "%s: %s", field, why);
	*out = strndup(s, n);
	return *out ? 0 : qm_fail(-ENOMEM, err, err_len, "out of memory");
}

static bool dns_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* The reason s[0..n) is not an RFC 1123 label of at most `max`, or NULL. */
static const char *label_reason(const char *s, size_t n, size_t max, char *buf, size_t len)
{
	if (n == 0)
		return "must not be empty";
	if (n > max) {
		snprintf(buf, len, "must be at most %zu characters, got %zu", max, n);
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0') {
			snprintf(buf, len, "has a NUL byte at position %zu", i + 1);
			return buf;
		}
		if (!dns_label_char(c)) {
			snprintf(buf, len,
				 "has a character other than a-z, 0-9 and '-' at position %zu",
				 i + 1);
			return buf;
		}
	}
	if (s[0] == '-' || s[n - 1] == '-')
		return "must start and end with a letter or digit";
	return NULL;
}

int quota_pod_uid_valid(const char *s, size_t n, char *why, size_t len)
{
	if (n == 0)
		return qm_fail(-EINVAL, why, len, "must not be empty");
	if (n > QUOTA_POD_UID_MAX)
		return qm_fail(-EINVAL, why, len, "must be at most %d characters, got %zu",
			       QUOTA_POD_UID_MAX, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			return qm_fail(-EINVAL, why, len, "has a NUL byte at position %zu", i + 1);
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return qm_fail(-EINVAL, why, len,
				       "has a character other than A-Z, a-z, 0-9 and '-' at "
				       "position %zu",
				       i + 1);
	}
	return 0;
}

int quota_namespace_valid(const char *s, size_t n, char *why, size_t len)
{
	char buf[120];
	const char *r = label_reason(s, n, 63, buf, sizeof(buf));

	return r ? qm_fail(-EINVAL, why, len, "%s", r) : 0;
}

int quota_claim_valid(const char *s, size_t n, char *why, size_t len)
{
	const char *slash = memchr(s, '/', n);
	char buf[160];
	const char *r;
	size_t ns;

	if (!slash)
		return qm_fail(-EINVAL, why, len, "must be namespace/name");
	ns = (size_t)(slash - s);
	r = label_reason(s, ns, 63, buf, sizeof(buf));
	if (r)
		return qm_fail(-EINVAL, why, len, "namespace %s", r);
	r = qm_name_reason(slash + 1, n - ns - 1, buf, sizeof(buf));
	if (r)
		return qm_fail(-EINVAL, why, len, "name %s", r);
	return 0;
}

static uint64_t max_size(const struct quota_req_limits *lim)
{
	return lim && lim->max_size_bytes && lim->max_size_bytes < INT64_MAX ? lim->max_size_bytes
									     : INT64_MAX;
}

static int get_size(const json_t *body, const struct quota_req_limits *lim, uint64_t *out,
		    char *err, size_t err_len)
{
	const json_t *v = json_object_get(body, "size_bytes");

	if (!v)
		return qm_fail(-EINVAL, err, err_len, "size_bytes: is required");
	return get_int(v, "size_bytes", "a positive integer", 1, max_size(lim), out, err, err_len);
}

int quota_create_req_parse(const json_t *body, const struct quota_req_limits *lim,
			   struct quota_create_req **out, char *err, size_t err_len)
{
	static const char *const fields[] = {"name",   "size_bytes", "pool",  "numa_node", "inodes",
					     "labels", "pod_uid",    "claim", NULL};
	struct quota_create_req *r;
	const json_t *v;
	const char *s;
	size_t n;
	uint64_t x;
	char reason[160];
	int ret;

	ret = check_fields(body, fields, err, err_len);
	if (ret < 0)
		return ret;
	r = calloc(1, sizeof(*r));
	if (!r)
		return qm_fail(-ENOMEM, err, err_len, "out of memory");
	r->numa_node = -1;

	v = json_object_get(body, "name");
	if (!v) {
		ret = qm_fail(-EINVAL, err, err_len, "name: is required");
		goto fail;
	}
	if (!json_is_string(v)) {
		char d[120];

		ret = qm_fail(-EINVAL, err, err_len, "name: must be a string, got %s",
			      describe(v, d, sizeof(d)));
		goto fail;
	}
	/* The length, not strlen: "\u0000" (JSON_ALLOW_NUL) must not cut a name short. */
	s = json_string_value(v);
	n = json_string_length(v);
	if (qm_name_reason(s, n, reason, sizeof(reason))) {
		ret = qm_fail(-EINVAL, err, err_len, "name: %s", reason);
		goto fail;
	}
	memcpy(r->name, s, n);
	r->name[n] = '\0';

	ret = get_size(body, lim, &r->size_bytes, err, err_len);
	if (ret < 0)
		goto fail;

	if (json_object_get(body, "pool") && json_object_get(body, "numa_node")) {
		ret = qm_fail(-EINVAL, err, err_len,
			      "pool, numa_node: give at most one (a pool sits on one NUMA node)");
		goto fail;
	}
	v = json_object_get(body, "pool");
	if (v) {
		ret = get_text(v, "pool", QUOTA_PATH_MAX, &s, &n, err, err_len);
		if (ret < 0)
			goto fail;
		r->pool = strndup(s, n);
		if (!r->pool) {
			ret = qm_fail(-ENOMEM, err, err_len, "out of memory");
			goto fail;
		}
	}
	v = json_object_get(body, "numa_node");
	if (v) {
		ret = get_int(v, "numa_node", "an integer from 0 to 1023", 0, QUOTA_NUMA_NODE_MAX,
			      &x, err, err_len);
		if (ret < 0)
			goto fail;
		r->numa_node = (int)x;
	}
	v = json_object_get(body, "inodes");
	if (v) {
		ret = get_int(v, "inodes", "a positive integer", 1, INT64_MAX, &r->inodes, err,
			      err_len);
		if (ret < 0)
			goto fail;
	}
	v = json_object_get(body, "labels");
	if (v) {
		ret = qm_labels_from_json(v, "labels", &r->labels, err, err_len);
		if (ret < 0)
			goto fail;
	}
	v = json_object_get(body, "pod_uid");
	if (v) {
		ret = get_checked(v, "pod_uid", QUOTA_POD_UID_MAX, quota_pod_uid_valid, &r->pod_uid,
				  err, err_len);
		if (ret < 0)
			goto fail;
	}
	v = json_object_get(body, "claim");
	if (v) {
		ret = get_checked(v, "claim", 63 + 1 + QUOTA_NAME_MAX, quota_claim_valid, &r->claim,
				  err, err_len);
		if (ret < 0)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	quota_create_req_free(r);
	return ret;
}

struct quota_create_req *quota_create_req_free(struct quota_create_req *r)
{
	if (!r)
		return NULL;
	free(r->pool);
	free(r->pod_uid);
	free(r->claim);
	qm_labels_clear(&r->labels);
	free(r);
	return NULL;
}

int quota_resize_req_parse(const json_t *body, const struct quota_req_limits *lim,
			   struct quota_resize_req *out, char *err, size_t err_len)
{
	static const char *const fields[] = {"size_bytes", "inodes", NULL};
	struct quota_resize_req r = {0};
	const json_t *v;
	int ret;

	ret = check_fields(body, fields, err, err_len);
	if (ret < 0)
		return ret;
	v = json_object_get(body, "inodes");
	/* Either may come alone: a resize of the inode limit leaves the size as it is. */
	if (!v && !json_object_get(body, "size_bytes"))
		return qm_fail(-EINVAL, err, err_len,
			       "size_bytes, inodes: at least one of them is required");
	if (json_object_get(body, "size_bytes")) {
		ret = get_size(body, lim, &r.size_bytes, err, err_len);
		if (ret < 0)
			return ret;
	}
	if (v) {
		/* 0 takes the inode limit away, as leaving "inodes" out does at create. */
		ret = get_int(v, "inodes", "a non-negative integer (0 = no inode limit)", 0,
			      INT64_MAX, &r.inodes, err, err_len);
		if (ret < 0)
			return ret;
		r.set_inodes = true;
	}
	*out = r;
	return 0;
}

int quota_target_path_valid(const char *path, size_t n, const char *const *roots, char *why,
			    size_t len)
{
	size_t comp = 0; /* where the current component starts */
	char q[80];

	if (!path || n == 0)
		return qm_fail(-EINVAL, why, len, "must not be empty");
	if (n > QUOTA_PATH_MAX)
		return qm_fail(-EINVAL, why, len, "must be at most %d bytes, got %zu",
			       QUOTA_PATH_MAX, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '\0')
			return qm_fail(-EINVAL, why, len, "has a NUL byte at position %zu", i + 1);
		/* A newline in a mount target would forge lines in mountinfo and logs. */
		if (c < 0x20 || c == 0x7f)
			return qm_fail(-EINVAL, why, len, "has a control character at position %zu",
				       i + 1);
	}
	if (path[0] != '/')
		return qm_fail(-EINVAL, why, len, "must be an absolute path");
	/* Walk the components: each between two '/' (or the end). */
	for (size_t i = 1; i <= n; i++) {
		size_t clen;

		if (i < n && path[i] != '/')
			continue;
		clen = i - comp - 1;
		if (clen == 0 && n > 1 && i == n)
			return qm_fail(-EINVAL, why, len, "must be normalised: ends with '/'");
		if (clen == 0 && n > 1)
			return qm_fail(-EINVAL, why, len,
				       "must be normalised: has '//' at position %zu", i);
		if (clen == 1 && path[comp + 1] == '.')
			return qm_fail(-EINVAL, why, len,
				       "must be normalised: has a '.' component at position %zu",
				       comp + 2);
		if (clen == 2 && path[comp + 1] == '.' && path[comp + 2] == '.')
			return qm_fail(-EINVAL, why, len, "must not have a '..' component");
		if (clen > 255)
			return qm_fail(-EINVAL, why, len,
				       "has a component of %zu bytes, at most 255 (NAME_MAX)",
				       clen);
		comp = i;
	}
	if (!roots)
		roots = default_roots;
	for (size_t i = 0; roots[i]; i++) {
		size_t rlen = strlen(roots[i]);

		/* "/var/lib/kubelet/" is the same root; "/" is a root of length 0. */
		while (rlen > 0 && roots[i][rlen - 1] == '/')
			rlen--;
		if (rlen == 0 && roots[i][0] != '/')
			continue;
		if (n > rlen + 1 && memcmp(path, roots[i], rlen) == 0 && path[rlen] == '/')
			return 0;
		if (n == rlen && memcmp(path, roots[i], rlen) == 0)
			return qm_fail(-EINVAL, why, len,
				       "must be below %s, not the directory itself",
				       qm_quote(q, sizeof(q), roots[i], rlen));
	}
	{
		char list[400] = "";
		size_t o = 0;

		for (size_t i = 0; roots[i] && o + 2 < sizeof(list); i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
					      roots[i]);
		return qm_fail(-EINVAL, why, len, "must be under %s%s",
			       roots[0] && roots[1] ? "one of " : "", roots[0] ? list : "(none)");
	}
}

static int publish_parse(const json_t *body, const struct quota_req_limits *lim,
			 const char *const *fields, struct quota_publish_req *out, char *err,
			 size_t err_len)
{
	struct quota_publish_req r = {0};
	const json_t *v;
	char why[600], d[120];
	int ret;

	ret = check_fields(body, fields, err, err_len);
	if (ret < 0)
		return ret;
	v = json_object_get(body, "target_path");
	if (!v)
		return qm_fail(-EINVAL, err, err_len, "target_path: is required");
	if (!json_is_string(v))
		return qm_fail(-EINVAL, err, err_len, "target_path: must be a string, got %s",
			       describe(v, d, sizeof(d)));
	if (quota_target_path_valid(json_string_value(v), json_string_length(v),
				    lim ? lim->publish_roots : NULL, why, sizeof(why)) < 0)
		return qm_fail(-EINVAL, err, err_len, "target_path: %s", why);
	memcpy(r.target_path, json_string_value(v), json_string_length(v));
	v = json_object_get(body, "readonly");
	if (v) {
		if (!json_is_boolean(v))
			return qm_fail(-EINVAL, err, err_len,
				       "readonly: must be true or false, got %s",
				       describe(v, d, sizeof(d)));
		r.readonly = json_is_true(v);
	}
	*out = r;
	return 0;
}

int quota_publish_req_parse(const json_t *body, const struct quota_req_limits *lim,
			    struct quota_publish_req *out, char *err, size_t err_len)
{
	static const char *const fields[] = {"target_path", "readonly", NULL};

	return publish_parse(body, lim, fields, out, err, err_len);
}

int quota_unpublish_req_parse(const json_t *body, const struct quota_req_limits *lim,
			      struct quota_publish_req *out, char *err, size_t err_len)
{
	static const char *const fields[] = {"target_path", NULL};

	return publish_parse(body, lim, fields, out, err, err_len);
}

int quota_create_req_match(const struct quota_create_req *req, const struct quota_volume *v,
			   int v_numa_node, char *err, size_t err_len)
{
	if (req->size_bytes != v->size_bytes)
		return qm_fail(-EEXIST, err, err_len,
			       "volume %s exists with size_bytes %" PRIu64 ", not %" PRIu64,
			       v->name, v->size_bytes, req->size_bytes);
	if (req->pool && strcmp(req->pool, v->pool) != 0)
		return qm_fail(-EEXIST, err, err_len, "volume %s exists in pool %s", v->name,
			       v->pool);
	if (req->numa_node >= 0 && v_numa_node >= 0 && req->numa_node != v_numa_node)
		return qm_fail(-EEXIST, err, err_len, "volume %s exists on NUMA node %d, not %d",
			       v->name, v_numa_node, req->numa_node);
	if (req->inodes && req->inodes != v->inodes)
		return qm_fail(-EEXIST, err, err_len,
			       "volume %s exists with inodes %" PRIu64 ", not %" PRIu64, v->name,
			       v->inodes, req->inodes);
	return 0;
}
