/* api-json: request bodies in, JSON and errors out; the one errno → HTTP status table. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/utf8.h"

json_t *api_json_parse_body(const char *buf, size_t len, char *msg, size_t msg_len)
{
	json_error_t jerr;
	json_t *v;

	if (len == 0) {
		snprintf(msg, msg_len, "request body is empty; expected a JSON object");
		return NULL;
	}
	/*
	 * JSON_REJECT_DUPLICATES: {"size": 1, "size": 2} is ambiguous, so it is an
	 * error rather than "last one wins". JSON_ALLOW_NUL is not set: a NUL in a
	 * string would truncate names in C.
	 */
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		snprintf(msg, msg_len, "invalid JSON at line %d, column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		snprintf(msg, msg_len, "request body must be a JSON object");
		json_decref(v);
		return NULL;
	}
	return v;
}

void api_reply_json(struct api_response *resp, unsigned status, json_t *body)
{
	json_decref(resp->json);
	free(resp->text);
	resp->text = NULL;
	resp->static_body = NULL;
	resp->status = status;
	resp->json = body;
	resp->content_type = "application/json";
}

/*
 * Messages quote what the client sent (a path segment, a method, a name), which need not be
 * UTF-8, and the cut at the buffer's end can split a character; jansson refuses a string that
 * is not valid UTF-8, which would leave the error without a body. utf8_scrub makes it valid.
 */
static void reply_error_v(struct api_response *resp, unsigned status, const char *code,
			  const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	utf8_scrub(msg);
	api_reply_json(resp, status,
		       json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

void api_reply_error(struct api_response *resp, unsigned status, const char *code, const char *fmt,
		     ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_error_v(resp, status, code, fmt, ap);
	va_end(ap);
}

/* The whole API's mapping from -errno to HTTP: one place to look, one place to change. */
static const struct {
	int err;
	unsigned status;
	const char *code;
} errno_map[] = {
	{EINVAL, 400, "bad_request"},
	{ENAMETOOLONG, 400, "bad_request"},
	{EACCES, 403, "forbidden"},
	{EPERM, 403, "forbidden"},
	{ENOENT, 404, "not_found"},
	{EEXIST, 409, "conflict"},
	{EBUSY, 409, "conflict"},
	{ENOTEMPTY, 409, "conflict"},
	{EMSGSIZE, 413, "payload_too_large"},
	{EFBIG, 413, "payload_too_large"},
	{ENOSPC, 507, "insufficient_storage"},
	{EDQUOT, 507, "insufficient_storage"},
	{EAGAIN, 503, "unavailable"},
	{ETIMEDOUT, 504, "timeout"},
	{ENOTSUP, 501, "not_supported"},
	{ENOSYS, 501, "not_supported"},
};

unsigned api_errno_status(int err, const char **code)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(errno_map) / sizeof(errno_map[0]); i++) {
		if (errno_map[i].err == err) {
			*code = errno_map[i].code;
			return errno_map[i].status;
		}
	}
	*code = "internal";
	return 500;
}

void api_reply_errno(struct api_response *resp, int err, const char *detail)
{
	const char *code;
	unsigned status = api_errno_status(err, &code);

	if (detail && *detail)
		api_reply_error(resp, status, code, "%s", detail);
	else
		api_reply_error(resp, status, code, "%s", strerror(err < 0 ? -err : err));
}

char *api_json_canonical(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
