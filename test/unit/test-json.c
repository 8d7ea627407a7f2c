/* test-json: body parsing with positions, the error model, the errno → status table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/api.h"

static void test_parse_ok(void **state)
{
	char msg[256] = "";
	const char *b = "{\"name\": \"v1\", \"size_bytes\": 1073741824}";
	json_t *v = api_json_parse_body(b, strlen(b), msg, sizeof(msg));
	char *c;
	(void)state;

	assert_non_null(v);
	c = api_json_canonical(v);
	assert_string_equal(c, "{\"name\":\"v1\",\"size_bytes\":1073741824}");
	free(c);
	json_decref(v);
}

static void test_parse_says_where(void **state)
{
	char msg[256];
	const char *b = "{\n  \"name\": \"v1\",\n  \"size\": ,\n}";
	(void)state;

	assert_null(api_json_parse_body(b, strlen(b), msg, sizeof(msg)));
	assert_non_null(strstr(msg, "line 3"));
	assert_non_null(strstr(msg, "column 11"));
}

static void test_parse_refusals(void **state)
{
	char msg[256];
	(void)state;

	assert_null(api_json_parse_body("", 0, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "empty"));
	assert_null(api_json_parse_body("[1,2]", 5, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "JSON object"));
	assert_null(api_json_parse_body("{\"a\":1,\"a\":2}", 13, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "duplicate"));
	/* A NUL inside a string would cut a name short in C: refused. */
	assert_null(api_json_parse_body("{\"a\":\"x\\u0000y\"}", 16, msg, sizeof(msg)));
	/* Trailing garbage after the object. */
	assert_null(api_json_parse_body("{} {}", 5, msg, sizeof(msg)));
	/* A raw NUL byte in the body. */
	assert_null(api_json_parse_body("{\"a\":\0}", 7, msg, sizeof(msg)));
}

static void test_error_model(void **state)
{
	struct api_response r = {0};
	char *c;
	(void)state;

	api_reply_error(&r, 409, "conflict", "volume %s exists with size %d", "v1", 5);
	assert_int_equal(r.status, 409);
	c = api_json_canonical(r.json);
	assert_string_equal(
		c,
		"{\"error\":{\"code\":\"conflict\",\"message\":\"volume v1 exists with size 5\"}}");
	free(c);
	json_decref(r.json);
}

static void test_errno_table(void **state)
{
	const char *code;
	struct api_response r = {0};
	char *c;
	(void)state;

	assert_int_equal(api_errno_status(-ENOENT, &code), 404);
	assert_string_equal(code, "not_found");
	assert_int_equal(api_errno_status(EEXIST, &code), 409);
	assert_int_equal(api_errno_status(-ENOSPC, &code), 507);
	assert_string_equal(code, "insufficient_storage");
	assert_int_equal(api_errno_status(-EINVAL, &code), 400);
	assert_int_equal(api_errno_status(-EIO, &code), 500);
	assert_string_equal(code, "internal");

	api_reply_errno(&r, -ENOENT, NULL);
	c = api_json_canonical(r.json);
	assert_string_equal(
		c,
		"{\"error\":{\"code\":\"not_found\",\"message\":\"No such file or directory\"}}");
	free(c);
	api_reply_errno(&r, -ENOSPC, "pool /mnt/p0: need 10, free 3");
	assert_int_equal(r.status, 507);
	c = api_json_canonical(r.json);
	assert_string_equal(c, "{\"error\":{\"code\":\"insufficient_storage\",\"message\":\"pool "
			       "/mnt/p0: need 10, free 3\"}}");
	free(c);
	json_decref(r.json);
}

/* The message of an error as its JSON body holds it (the body must exist). */
static const char *error_message(const struct api_response *r)
{
	const char *m =
		json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));

	assert_non_null(m);
	return m;
}

/*
 * fuzz-api found it (test/fuzz/regressions/fuzz-api/non-utf8-method): a message quoting what
 * the client sent that is not UTF-8 ("GE\xff", a path segment "%FF") made jansson refuse the
 * string, and the 405 or 404 went out with an empty body. Bytes that start no valid UTF-8
 * sequence are now '?', valid characters stay.
 */
static void test_error_not_utf8(void **state)
{
	struct api_response r = {0};
	char long_msg[1100];
	const char *m;
	(void)state;

	api_reply_error(&r, 405, "method_not_allowed", "method %s not allowed here", "GE\xff");
	assert_int_equal(r.status, 405);
	assert_string_equal(error_message(&r), "method GE? not allowed here");
	/* Overlong '/', a UTF-16 surrogate, past U+10FFFF, a lone continuation byte, a cut
	 * sequence; then valid 2-, 3- and 4-byte characters, which stay. */
	api_reply_error(&r, 404, "not_found", "no pool %s",
			"\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\x80|\xe2\x82");
	assert_string_equal(error_message(&r), "no pool ??|???|????|?|??");
	api_reply_error(&r, 404, "not_found", "%s", "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(error_message(&r), "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* The message is cut at 1023 bytes; a cut through a character leaves no half of it. */
	memset(long_msg, 'a', sizeof(long_msg));
	for (size_t i = 1020; i + 2 < sizeof(long_msg); i += 3)
		memcpy(long_msg + i, "\xe2\x82\xac", 3);
	long_msg[sizeof(long_msg) - 1] = '\0';
	api_reply_error(&r, 400, "bad_request", "%s", long_msg + 1);
	m = error_message(&r);
	assert_int_equal(strlen(m), 1023);
	assert_memory_equal(m + 1019, "\xe2\x82\xac?", 4);
	json_decref(r.json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),       cmocka_unit_test(test_parse_says_where),
		cmocka_unit_test(test_parse_refusals), cmocka_unit_test(test_error_model),
		cmocka_unit_test(test_errno_table),    cmocka_unit_test(test_error_not_utf8),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
