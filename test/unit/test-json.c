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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),       cmocka_unit_test(test_parse_says_where),
		cmocka_unit_test(test_parse_refusals), cmocka_unit_test(test_error_model),
		cmocka_unit_test(test_errno_table),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
