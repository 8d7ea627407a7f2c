/* test-router: route matching, path parameters, 404 vs 405 and the Allow list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/api.h"

static void h(const struct api_request *req, struct api_response *resp)
{
	(void)req;
	(void)resp;
}

static const struct api_route routes[] = {
	{"GET", "/v1/volumes", h, 0},
	{"POST", "/v1/volumes", h, API_ROUTE_BODY},
	{"GET", "/v1/volumes/{name}", h, 0},
	{"DELETE", "/v1/volumes/{name}", h, 0},
	{"POST", "/v1/volumes/{name}/resize", h, API_ROUTE_BODY},
	{"GET", "/v1/pools/{pool}/volumes/{name}", h, 0},
	{"GET", "/healthz", h, API_ROUTE_OPEN},
};
#define N (sizeof(routes) / sizeof(routes[0]))

static enum api_match match(const char *method, const char *path, size_t *idx, struct api_params *p,
			    char *allow)
{
	return api_router_match(routes, N, method, path, idx, p, allow, 128);
}

static void test_exact_and_params(void **state)
{
	struct api_params p;
	char allow[128];
	size_t idx = 99;
	(void)state;

	assert_int_equal(match("GET", "/v1/volumes", &idx, &p, allow), API_MATCH_OK);
	assert_int_equal(idx, 0);
	assert_int_equal(p.count, 0);
	assert_int_equal(match("POST", "/v1/volumes", &idx, &p, allow), API_MATCH_OK);
	assert_int_equal(idx, 1);
	assert_int_equal(match("GET", "/v1/volumes/db-1", &idx, &p, allow), API_MATCH_OK);
	assert_int_equal(idx, 2);
	assert_string_equal(api_param(&p, "name"), "db-1");
	assert_null(api_param(&p, "nam"));
	assert_null(api_param(&p, "names"));
	assert_int_equal(match("POST", "/v1/volumes/db-1/resize", &idx, &p, allow), API_MATCH_OK);
	assert_int_equal(idx, 4);
	assert_int_equal(match("GET", "/v1/pools/p0/volumes/v9", &idx, &p, allow), API_MATCH_OK);
	assert_string_equal(api_param(&p, "pool"), "p0");
	assert_string_equal(api_param(&p, "name"), "v9");
}

static void test_not_found(void **state)
{
	struct api_params p;
	char allow[128];
	size_t idx;
	(void)state;

	assert_int_equal(match("GET", "/v1/nothing", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/v1/volumes/", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/v1//volumes", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/v1/volumes/a/b", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "v1/volumes", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/healthz/", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/HEALTHZ", &idx, &p, allow), API_MATCH_NOT_FOUND);
}

static void test_method_not_allowed_lists_allow(void **state)
{
	struct api_params p;
	char allow[128];
	size_t idx;
	(void)state;

	assert_int_equal(match("PUT", "/v1/volumes", &idx, &p, allow), API_MATCH_BAD_METHOD);
	assert_string_equal(allow, "GET, POST");
	assert_int_equal(match("POST", "/v1/volumes/x", &idx, &p, allow), API_MATCH_BAD_METHOD);
	assert_string_equal(allow, "GET, DELETE");
	assert_int_equal(match("DELETE", "/healthz", &idx, &p, allow), API_MATCH_BAD_METHOD);
	assert_string_equal(allow, "GET");
}

/* Percent-encoding must not smuggle a '/' or NUL into a parameter. */
static void test_hostile_params(void **state)
{
	struct api_params p;
	char allow[128];
	size_t idx;
	(void)state;

	assert_int_equal(match("GET", "/v1/volumes/a%2Fb", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/v1/volumes/a%2fb", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/v1/volumes/a%00b", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/v1/volumes/a%zz", &idx, &p, allow), API_MATCH_NOT_FOUND);
	assert_int_equal(match("GET", "/v1/volumes/a%2", &idx, &p, allow), API_MATCH_NOT_FOUND);
	/* Decoded, but still one segment: validation of names happens in the service. */
	assert_int_equal(match("GET", "/v1/volumes/%2E%2E", &idx, &p, allow), API_MATCH_OK);
	assert_string_equal(api_param(&p, "name"), "..");
	assert_int_equal(match("GET", "/v1/volumes/a%20b", &idx, &p, allow), API_MATCH_OK);
	assert_string_equal(api_param(&p, "name"), "a b");
}

static void test_long_paths(void **state)
{
	static char path[API_MAX_PATH + 64];
	struct api_params p;
	char allow[128];
	size_t idx;
	(void)state;

	/* 10 KB name: refused, never overflowing the parameter buffer. */
	strcpy(path, "/v1/volumes/");
	memset(path + strlen(path), 'a', sizeof(path) - strlen(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(match("GET", path, &idx, &p, allow), API_MATCH_NOT_FOUND);
	/* The longest one that fits still matches. */
	memset(path, 0, sizeof(path));
	strcpy(path, "/v1/volumes/");
	memset(path + strlen(path), 'b', API_MAX_PATH - 1 - strlen(path));
	assert_int_equal(match("GET", path, &idx, &p, allow), API_MATCH_OK);
	assert_int_equal(strlen(api_param(&p, "name")), API_MAX_PATH - 1 - strlen("/v1/volumes/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_and_params),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed_lists_allow),
		cmocka_unit_test(test_hostile_params),
		cmocka_unit_test(test_long_paths),
	};
	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
