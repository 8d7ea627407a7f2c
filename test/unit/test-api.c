/* test-api: the real server on loopback and a unix socket, driven with libcurl. */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api-internal.h"
#include "api/api.h"
#include "config/config.h"

/* ---- test routes, registered through the hooks like later services will ---- */

static void post_echo(const struct api_request *req, struct api_response *resp)
{
	api_reply_json(resp, 200, json_pack("{s:O}", "got", req->body));
}

static void get_slow(const struct api_request *req, struct api_response *resp)
{
	(void)req;
	usleep(600 * 1000);
	api_reply_json(resp, 200, json_pack("{s:s}", "slow", "done"));
}

static void get_param(const struct api_request *req, struct api_response *resp)
{
	const char *q = api_request_query(req, "q");
	api_reply_json(resp, 200,
		       json_pack("{s:s, s:s?}", "name", api_param(req->params, "name"), "q", q));
}

static const struct api_route test_routes[] = {
	{"POST", "/v1/echo", post_echo, API_ROUTE_BODY},
	{"GET", "/v1/slow", get_slow, 0},
	{"GET", "/v1/things/{name}", get_param, 0},
};
static const struct api_hooks hooks = {.routes = test_routes, .n_routes = 3};

/* ---- fixtures ---- */

struct fx {
	char dir[64];
	char sock[128];
	uint16_t port;
	struct config *cfg;
	struct api_server *srv;
};

static uint16_t free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static struct config *parse_cfg(const char *yaml)
{
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;
	int r = config_parse("test.yaml", yaml, strlen(yaml), NULL, &cfg, &errs);

	if (r < 0)
		config_errors_print(errs, stderr);
	config_errors_free(errs);
	assert_int_equal(r, 0);
	return cfg;
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

/* Starts a server from YAML with %1$s = socket path and %2$u = port substituted. */
static void fx_start(struct fx *fx, const char *yaml_fmt, const char *extra)
{
	char yaml[4096], err[512] = "";
	int r;

	snprintf(yaml, sizeof(yaml), yaml_fmt, fx->sock, fx->port, fx->dir, extra ? extra : "");
	fx->cfg = parse_cfg(yaml);
	r = api_server_start(&fx->srv, fx->cfg, &hooks, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "start: %s\n", err);
	assert_int_equal(r, 0);
	api_server_set_ready(fx->srv, true);
}

static const char *base_yaml = "# test dir %3$s\n"
			       "log_level: error\n"
			       "threads: 2\n"
			       "limits:\n"
			       "  max_body: 4Ki\n"
			       "  per_client_connections: 256\n"
			       "listen:\n"
			       "  - unix: %1$s\n"
			       "    mode: \"0660\"\n"
			       "  - tcp: 127.0.0.1:%2$u\n"
			       "%4$s";

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	strcpy(fx->dir, "/tmp/pmemd-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->sock, sizeof(fx->sock), "%s/pmemd.sock", fx->dir);
	fx->port = free_port();
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	api_server_stop(fx->srv, 1000);
	config_free(fx->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx->dir);
	free(fx);
	return 0;
}

/* ---- a small libcurl client ---- */

struct reply {
	long status;
	char *body; /* grows as needed; freed by reply_clear */
	size_t len, cap;
	char allow[128];
	char ctype[128];
	CURLcode rc;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n;

	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + len + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b)
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static void reply_clear(struct reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->body = NULL;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n;
	if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 9), p + 7);
	if (len > 14 && strncasecmp(p, "Content-Type: ", 14) == 0)
		snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)(len - 16), p + 14);
	return len;
}

struct req_opts {
	const char *unix_path;
	const char *method;
	const char *body;
	long body_len; /* -1: strlen */
	const char *ctype;
	const char *token;
	bool chunked;
	const char *cacert, *cert, *key;
	bool https;
};

static CURL *make_easy(struct fx *fx, const char *path, const struct req_opts *o, struct reply *r,
		       struct curl_slist **hdrs)
{
	CURL *c = curl_easy_init();
	char url[512];

	snprintf(url, sizeof(url), "%s://%s:%u%s", o && o->https ? "https" : "http",
		 o && o->https ? "localhost" : "127.0.0.1", fx->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	*hdrs = NULL;
	if (!o)
		return c;
	if (o->unix_path) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o->unix_path);
		snprintf(url, sizeof(url), "http://localhost%s", path);
		curl_easy_setopt(c, CURLOPT_URL, url);
	}
	if (o->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o->method);
	if (o->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
				 o->body_len >= 0 ? o->body_len : (long)strlen(o->body));
	}
	if (o->ctype) {
		char h[256];
		snprintf(h, sizeof(h), "Content-Type: %s", o->ctype);
		*hdrs = curl_slist_append(*hdrs, h);
	}
	if (o->token) {
		char h[512];
		snprintf(h, sizeof(h), "Authorization: Bearer %s", o->token);
		*hdrs = curl_slist_append(*hdrs, h);
	}
	if (o->chunked)
		*hdrs = curl_slist_append(*hdrs, "Transfer-Encoding: chunked");
	/* No "Expect: 100-continue" games: send the body straight away. */
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	if (o->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	if (o->cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
	if (o->key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->key);
	return c;
}

static struct reply *request(struct fx *fx, const char *path, const struct req_opts *o)
{
	static __thread struct reply r;
	struct curl_slist *hdrs;
	CURL *c;

	reply_clear(&r);
	c = make_easy(fx, path, o, &r, &hdrs);
	r.rc = curl_easy_perform(c);
	if (!r.body) {
		r.body = calloc(1, 1); /* no body: an empty string, never NULL */
		r.cap = 1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return &r;
}

static json_t *body_json(const struct reply *r)
{
	json_error_t e;
	json_t *v = json_loads(r->body, 0, &e);
	if (!v)
		fprintf(stderr, "not JSON (%s): %s\n", e.text, r->body);
	assert_non_null(v);
	return v;
}

static const char *error_code(const struct reply *r)
{
	static __thread char code[64];
	json_t *v = body_json(r);
	const char *c = json_string_value(json_object_get(json_object_get(v, "error"), "code"));
	assert_non_null(c);
	snprintf(code, sizeof(code), "%s", c);
	json_decref(v);
	return code;
}

/* ---- tests ---- */

static void test_core_endpoints_tcp_and_unix(void **state)
{
	struct fx *fx = *state;
	struct req_opts ux = {.unix_path = fx->sock};
	struct reply *r;
	json_t *v;
	struct stat st;

	fx_start(fx, base_yaml, NULL);
	assert_int_equal(stat(fx->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);

	r = request(fx, "/healthz", NULL);
	assert_int_equal(r->rc, CURLE_OK);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->ctype, "application/json");
	r = request(fx, "/healthz", &ux);
	assert_int_equal(r->status, 200);

	r = request(fx, "/v1/version", &ux);
	assert_int_equal(r->status, 200);
	v = body_json(r);
	assert_non_null(json_string_value(json_object_get(v, "version")));
	assert_non_null(json_string_value(json_object_get(v, "git_commit")));
	assert_non_null(json_string_value(json_object_get(v, "build_flags")));
	json_t *libs = json_object_get(v, "libraries");
	assert_true(json_string_length(json_object_get(libs, "libmicrohttpd")) > 0);
	assert_true(json_string_length(json_object_get(libs, "jansson")) > 0);
	assert_true(json_string_length(json_object_get(libs, "libndctl")) > 0);
	json_decref(v);

	r = request(fx, "/v1/config", NULL);
	assert_int_equal(r->status, 200);
	v = body_json(r);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(v, "limits"), "max_body_bytes")),
		4096);
	assert_int_equal(json_array_size(json_object_get(v, "listen")), 2);
	json_decref(v);

	r = request(fx, "/openapi.json", NULL);
	assert_int_equal(r->status, 200);
	v = body_json(r);
	assert_non_null(strstr(json_string_value(json_object_get(v, "openapi")), "3."));
	assert_non_null(json_object_get(json_object_get(v, "paths"), "/v1/version"));
	json_decref(v);

	r = request(fx, "/metrics", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->ctype, "text/plain"));
	assert_non_null(strstr(r->body, "pmemd_build_info{"));
	assert_non_null(strstr(r->body, "pmemd_uptime_seconds "));
	assert_non_null(strstr(r->body, "pmemd_http_requests_total{route=\"/v1/"
					"version\",method=\"GET\",status=\"200\"} 1\n"));
	assert_non_null(strstr(r->body,
			       "pmemd_http_requests_total{route=\"/healthz\",method=\"GET\","
			       "status=\"200\"} 2\n"));
	assert_non_null(strstr(r->body, "pmemd_http_request_duration_seconds_bucket{route=\"/"
					"v1/config\",le=\"+Inf\"} 1\n"));
}

static void test_readyz_follows_state(void **state)
{
	struct fx *fx = *state;

	fx_start(fx, base_yaml, NULL);
	assert_int_equal(request(fx, "/readyz", NULL)->status, 200);
	api_server_set_ready(fx->srv, false);
	struct reply *r = request(fx, "/readyz", NULL);
	assert_int_equal(r->status, 503);
	assert_string_equal(error_code(r), "not_ready");
}

static void test_bad_requests(void **state)
{
	struct fx *fx = *state;
	struct reply *r;
	char big[8192];

	fx_start(fx, base_yaml, NULL);

	r = request(fx, "/nope", NULL);
	assert_int_equal(r->status, 404);
	assert_string_equal(error_code(r), "not_found");

	r = request(fx, "/v1/version", &(struct req_opts){.method = "DELETE"});
	assert_int_equal(r->status, 405);
	assert_string_equal(r->allow, "GET");
	assert_string_equal(error_code(r), "method_not_allowed");

	r = request(fx, "/v1/echo",
		    &(struct req_opts){
			    .body = "{\"a\": 1}", .body_len = -1, .ctype = "application/json"});
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "{\"got\":{\"a\":1}}"));

	r = request(fx, "/v1/echo",
		    &(struct req_opts){.body = "{\"a\": 1}",
				       .body_len = -1,
				       .ctype = "application/json; charset=utf-8"});
	assert_int_equal(r->status, 200);

	r = request(
		fx, "/v1/echo",
		&(struct req_opts){.body = "{\"a\": 1}", .body_len = -1, .ctype = "text/plain"});
	assert_int_equal(r->status, 415);
	assert_string_equal(error_code(r), "unsupported_media_type");

	r = request(fx, "/v1/echo",
		    &(struct req_opts){
			    .body = "{\n\"a\": tru}", .body_len = -1, .ctype = "application/json"});
	assert_int_equal(r->status, 400);
	assert_string_equal(error_code(r), "invalid_json");
	assert_non_null(strstr(r->body, "line 2"));
	assert_non_null(strstr(r->body, "column"));

	r = request(fx, "/v1/echo", &(struct req_opts){.method = "POST"});
	assert_int_equal(r->status, 400);

	/* Over the 4 KiB limit, announced by Content-Length: refused up front. */
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	r = request(fx, "/v1/echo",
		    &(struct req_opts){.body = big, .body_len = -1, .ctype = "application/json"});
	assert_int_equal(r->status, 413);
	assert_string_equal(error_code(r), "payload_too_large");

	/* Chunked, no length up front: refused when the limit is crossed. */
	r = request(
		fx, "/v1/echo",
		&(struct req_opts){
			.body = big, .body_len = -1, .ctype = "application/json", .chunked = true});
	assert_int_equal(r->status, 413);

	/* A body of exactly the limit is fine. */
	big[4096 - 2] = '}';
	big[4096 - 1] = '\0';
	r = request(fx, "/v1/echo",
		    &(struct req_opts){.body = big, .body_len = -1, .ctype = "application/json"});
	assert_int_equal(r->status, 200);

	/* Hostile path parameters. */
	r = request(fx, "/v1/things/..%2Fetc", NULL);
	assert_int_equal(r->status, 404);
	r = request(fx, "/v1/things/x?q=1", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"q\":\"1\""));
	/* The server is still healthy after all that. */
	assert_int_equal(request(fx, "/healthz", NULL)->status, 200);
}

/* ---- 200 parallel requests over both listeners ---- */

static void test_parallel(void **state)
{
	struct fx *fx = *state;
	enum { N = 200 };
	static struct reply replies[N];
	CURL *easy[N];
	struct curl_slist *hdrs[N];
	CURLM *m = curl_multi_init();
	int running = 0, ok = 0;

	fx_start(fx, base_yaml, NULL);
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
	for (int i = 0; i < N; i++) {
		struct req_opts o = {.unix_path = (i % 2) ? fx->sock : NULL};
		replies[i] = (struct reply){0};
		easy[i] = make_easy(fx, i % 3 ? "/v1/version" : "/healthz", &o, &replies[i],
				    &hdrs[i]);
		curl_easy_setopt(easy[i], CURLOPT_FORBID_REUSE, 1L);
		curl_multi_add_handle(m, easy[i]);
	}
	do {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (running > 0);
	for (int i = 0; i < N; i++) {
		long st = 0;
		curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &st);
		if (st == 200 && replies[i].len > 0)
			ok++;
		reply_clear(&replies[i]);
		curl_multi_remove_handle(m, easy[i]);
		curl_easy_cleanup(easy[i]);
		curl_slist_free_all(hdrs[i]);
	}
	curl_multi_cleanup(m);
	assert_int_equal(ok, N);
	/* Every one of them was counted (plus nothing else). */
	assert_int_equal(api_server_requests_total(fx->srv), N);
}

/* ---- graceful shutdown ---- */

struct slow_arg {
	struct fx *fx;
	long status;
	char body[256];
};

static void *slow_client(void *p)
{
	struct slow_arg *a = p;
	struct reply *r = request(a->fx, "/v1/slow", NULL);
	a->status = r->status;
	snprintf(a->body, sizeof(a->body), "%.200s", r->body);
	reply_clear(r); /* this thread's reply dies with it */
	return NULL;
}

static void test_graceful_shutdown(void **state)
{
	struct fx *fx = *state;
	struct slow_arg a = {.fx = fx};
	pthread_t t;
	struct stat st;

	fx_start(fx, base_yaml, NULL);
	assert_int_equal(pthread_create(&t, NULL, slow_client, &a), 0);
	/* Wait until the slow request is really in flight. */
	for (int i = 0; i < 200 && api_server_requests_total(fx->srv) == 0; i++) {
		struct reply *r = request(fx, "/metrics", NULL);
		if (strstr(r->body, "route=\"/v1/slow\""))
			break;
		usleep(5000);
	}
	usleep(100 * 1000);
	api_server_stop(fx->srv, 5000);
	fx->srv = NULL;
	pthread_join(t, NULL);
	assert_int_equal(a.status, 200);
	assert_non_null(strstr(a.body, "done"));
	/* Nothing listens any more, and the socket file is gone. */
	struct reply *r = request(fx, "/healthz", NULL);
	assert_int_equal(r->rc, CURLE_COULDNT_CONNECT);
	assert_int_not_equal(stat(fx->sock, &st), 0);
}

/* ---- the unix socket file: stale, live, symlink ---- */

static void test_unix_socket_safety(void **state)
{
	struct fx *fx = *state;
	struct api_server *second = NULL;
	char yaml[1024], err[512], target[160];
	struct config *cfg2;
	int r;

	fx_start(fx, base_yaml, NULL);
	/* A live socket is not stolen by a second instance. */
	snprintf(yaml, sizeof(yaml), "listen:\n  - unix: %s\n", fx->sock);
	cfg2 = parse_cfg(yaml);
	r = api_server_start(&second, cfg2, NULL, err, sizeof(err));
	assert_int_equal(r, -EADDRINUSE);
	assert_non_null(strstr(err, "in use"));
	assert_int_equal(request(fx, "/healthz", &(struct req_opts){.unix_path = fx->sock})->status,
			 200);

	/* A stale one (nobody listening) is replaced. */
	api_server_stop(fx->srv, 1000);
	fx->srv = NULL;
	{
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(sun.sun_path, fx->sock);
		assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		close(fd); /* leaves the file behind, not listening */
	}
	r = api_server_start(&second, cfg2, NULL, err, sizeof(err));
	assert_int_equal(r, 0);
	api_server_stop(second, 1000);

	/* A symlink at the path is never followed or replaced. */
	snprintf(target, sizeof(target), "%s/target", fx->dir);
	write_file(target, "precious\n");
	assert_int_equal(symlink(target, fx->sock), 0);
	r = api_server_start(&second, cfg2, NULL, err, sizeof(err));
	assert_int_equal(r, -EEXIST);
	assert_non_null(strstr(err, "not a socket"));
	struct stat st;
	assert_int_equal(lstat(fx->sock, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 9);
	config_free(cfg2);
}

/* ---- bearer tokens ---- */

static void test_token(void **state)
{
	struct fx *fx = *state;
	char tokpath[160], extra[512], err[256];
	struct reply *r;

	snprintf(tokpath, sizeof(tokpath), "%s/token", fx->dir);
	write_file(tokpath, "s3cret-token-value\n");
	snprintf(extra, sizeof(extra), "    auth:\n      token_file: %s\n", tokpath);
	fx_start(fx, base_yaml, extra);

	r = request(fx, "/v1/version", NULL);
	assert_int_equal(r->status, 401);
	assert_string_equal(error_code(r), "unauthorized");
	assert_null(strstr(r->body, "s3cret"));
	r = request(fx, "/v1/version", &(struct req_opts){.token = "s3cret-token-valuX"});
	assert_int_equal(r->status, 401);
	r = request(fx, "/v1/version", &(struct req_opts){.token = "s3cret-token-value-longer"});
	assert_int_equal(r->status, 401);
	r = request(fx, "/v1/version", &(struct req_opts){.token = "s3cret"});
	assert_int_equal(r->status, 401);
	r = request(fx, "/metrics", NULL);
	assert_int_equal(r->status, 401);
	r = request(fx, "/v1/version", &(struct req_opts){.token = "s3cret-token-value"});
	assert_int_equal(r->status, 200);
	/* Health stays open; the unix socket is guarded by its mode, not a token. */
	assert_int_equal(request(fx, "/healthz", NULL)->status, 200);
	assert_int_equal(request(fx, "/readyz", NULL)->status, 200);
	assert_int_equal(
		request(fx, "/v1/version", &(struct req_opts){.unix_path = fx->sock})->status, 200);
	/* /v1/config names the file but never shows the secret. */
	r = request(fx, "/v1/config", &(struct req_opts){.token = "s3cret-token-value"});
	assert_int_equal(r->status, 200);
	assert_null(strstr(r->body, "s3cret"));
	assert_non_null(strstr(r->body, "token"));

	/* Reload with a rotated token: the old one stops working at once. */
	write_file(tokpath, "rotated-token\n");
	assert_int_equal(api_server_set_config(fx->srv, fx->cfg, err, sizeof(err)), 0);
	assert_int_equal(
		request(fx, "/v1/version", &(struct req_opts){.token = "s3cret-token-value"})
			->status,
		401);
	assert_int_equal(
		request(fx, "/v1/version", &(struct req_opts){.token = "rotated-token"})->status,
		200);
	/* A token file that became empty is refused and the old token stays. */
	write_file(tokpath, "");
	assert_int_not_equal(api_server_set_config(fx->srv, fx->cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(
		request(fx, "/v1/version", &(struct req_opts){.token = "rotated-token"})->status,
		200);
}

static void test_reload_body_limit(void **state)
{
	struct fx *fx = *state;
	char yaml[1024], err[256];
	struct config *bigger;
	char body[6000];

	fx_start(fx, base_yaml, NULL);
	memset(body, ' ', sizeof(body));
	body[0] = '{';
	body[sizeof(body) - 2] = '}';
	body[sizeof(body) - 1] = '\0';
	struct req_opts o = {.body = body, .body_len = -1, .ctype = "application/json"};
	assert_int_equal(request(fx, "/v1/echo", &o)->status, 413);

	snprintf(yaml, sizeof(yaml), base_yaml, fx->sock, fx->port, fx->dir, "");
	char *p = strstr(yaml, "4Ki");
	memcpy(p, "8Ki", 3);
	bigger = parse_cfg(yaml);
	assert_int_equal(api_server_set_config(fx->srv, bigger, err, sizeof(err)), 0);
	config_free(fx->cfg);
	fx->cfg = bigger;
	assert_int_equal(request(fx, "/v1/echo", &o)->status, 200);
}

/* ---- TLS and mutual TLS, with throwaway certificates made by openssl ---- */

static void sh(const char *fmt, const char *dir)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), fmt, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
}

static void make_certs(const char *d)
{
	/* A CA, a server cert for localhost, a client cert from the CA, and a stranger's cert. */
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca 2>/dev/null && "
	   "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key "
	   "-out srv.csr -subj /CN=localhost 2>/dev/null && "
	   "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext && "
	   "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt "
	   "-days 2 -extfile srv.ext 2>/dev/null && "
	   "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cli.key "
	   "-out cli.csr -subj /CN=client 2>/dev/null && "
	   "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt "
	   "-days 2 2>/dev/null && "
	   "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout bad.key "
	   "-out bad.crt -days 2 -subj /CN=stranger 2>/dev/null",
	   d);
}

static void test_tls_and_mtls(void **state)
{
	struct fx *fx = *state;
	char extra[1024], p[6][192];
	struct reply *r;

	make_certs(fx->dir);
	snprintf(p[0], sizeof(p[0]), "%s/ca.crt", fx->dir);
	snprintf(p[1], sizeof(p[1]), "%s/srv.crt", fx->dir);
	snprintf(p[2], sizeof(p[2]), "%s/srv.key", fx->dir);
	snprintf(p[3], sizeof(p[3]), "%s/cli.crt", fx->dir);
	snprintf(p[4], sizeof(p[4]), "%s/cli.key", fx->dir);
	snprintf(extra, sizeof(extra),
		 "    auth:\n      tls_cert: %s\n      tls_key: %s\n      client_ca: %s\n", p[1],
		 p[2], p[0]);
	fx_start(fx, base_yaml, extra);

	/* A client with a certificate from the CA gets in. */
	r = request(fx, "/v1/version",
		    &(struct req_opts){.https = true, .cacert = p[0], .cert = p[3], .key = p[4]});
	assert_int_equal(r->rc, CURLE_OK);
	assert_int_equal(r->status, 200);

	/* Plain HTTP on a TLS port gets nothing. */
	r = request(fx, "/v1/version", NULL);
	assert_int_not_equal(r->status, 200);

	/* No client certificate: refused. */
	r = request(fx, "/v1/version", &(struct req_opts){.https = true, .cacert = p[0]});
	assert_int_not_equal(r->status, 200);

	/* A certificate the CA did not sign: refused. */
	snprintf(p[3], sizeof(p[3]), "%s/bad.crt", fx->dir);
	snprintf(p[4], sizeof(p[4]), "%s/bad.key", fx->dir);
	r = request(fx, "/v1/version",
		    &(struct req_opts){.https = true, .cacert = p[0], .cert = p[3], .key = p[4]});
	assert_int_not_equal(r->status, 200);

	/* Health stays reachable over TLS without a client certificate. */
	r = request(fx, "/healthz", &(struct req_opts){.https = true, .cacert = p[0]});
	assert_int_equal(r->status, 200);
}

/* Every route the server answers is documented in the OpenAPI document it serves. */
static void test_openapi_covers_routes(void **state)
{
	extern const char pmemd_openapi_json[];
	extern const char pmemd_openapi_json_end[];
	const struct {
		const struct api_route *r;
		size_t n;
	} tables[] = {{api_core_routes, api_core_routes_count},
		      {api_topology_routes, api_topology_routes_count}};
	json_error_t e;
	json_t *doc = json_loadb(pmemd_openapi_json,
				 (size_t)(pmemd_openapi_json_end - pmemd_openapi_json), 0, &e);
	json_t *paths;
	int missing = 0;
	(void)state;

	assert_non_null(doc);
	paths = json_object_get(doc, "paths");
	assert_non_null(paths);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (size_t i = 0; i < tables[t].n; i++) {
			char method[16];
			const struct api_route *r = &tables[t].r[i];
			size_t k;
			for (k = 0; r->method[k] && k + 1 < sizeof(method); k++)
				method[k] = (char)tolower((unsigned char)r->method[k]);
			method[k] = '\0';
			if (!json_object_get(json_object_get(paths, r->pattern), method)) {
				fprintf(stderr, "not in docs/openapi.json: %s %s\n", r->method,
					r->pattern);
				missing++;
			}
		}
	}
	json_decref(doc);
	assert_int_equal(missing, 0);
}

/* One in-process request; the answer's status, and its body in *body (freed by the caller). */
static unsigned dispatch(struct api_server *srv, const char *method, const char *target,
			 const char *body, char **out)
{
	size_t len = 0;
	unsigned st =
		api_server_dispatch(srv, method, target, body, body ? strlen(body) : 0, out, &len);

	assert_non_null(*out);
	assert_int_equal(strlen(*out), len);
	return st;
}

/*
 * api_server_dispatch (what the fuzzers drive): the routing, body rules, handlers and metrics
 * of a request over a listener, without a socket; the query decoded as libmicrohttpd does.
 */
static void test_dispatch_in_process(void **state)
{
	struct config *cfg = parse_cfg("log_level: error\nlimits: {max_body: 64}\n");
	struct api_server *srv = NULL;
	char *out = NULL, big[200];
	(void)state;

	assert_int_equal(api_server_new(&srv, cfg, &hooks), 0);
	assert_int_equal(dispatch(srv, "GET", "/healthz", NULL, &out), 200);
	assert_string_equal(out, "{\"status\":\"ok\"}\n");
	free(out);
	assert_int_equal(dispatch(srv, "GET", "/readyz", NULL, &out), 503);
	free(out);
	api_server_set_ready(srv, true);
	assert_int_equal(dispatch(srv, "GET", "/readyz", NULL, &out), 200);
	free(out);
	/* Path parameters and query arguments are percent-decoded; '+' is a space. */
	assert_int_equal(
		dispatch(srv, "GET", "/v1/things/a%20b?x=1&q=x+y%26z%3D&q=second", NULL, &out),
		200);
	assert_string_equal(out, "{\"name\":\"a b\",\"q\":\"x y&z=\"}\n");
	free(out);
	/* An argument without '=' has no value, as with libmicrohttpd. */
	assert_int_equal(dispatch(srv, "GET", "/v1/things/t?q", NULL, &out), 200);
	assert_string_equal(out, "{\"name\":\"t\",\"q\":null}\n");
	free(out);
	assert_int_equal(dispatch(srv, "POST", "/v1/echo", "{\"a\":[1,2]}", &out), 200);
	assert_string_equal(out, "{\"got\":{\"a\":[1,2]}}\n");
	free(out);
	assert_int_equal(dispatch(srv, "POST", "/v1/echo", NULL, &out), 400);
	assert_non_null(strstr(out, "needs a JSON object body"));
	free(out);
	assert_int_equal(dispatch(srv, "POST", "/v1/echo", "[1]", &out), 400);
	assert_non_null(strstr(out, "\"code\":\"invalid_json\""));
	free(out);
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	assert_int_equal(dispatch(srv, "POST", "/v1/echo", big, &out), 413);
	assert_non_null(strstr(out, "exceeds the limit of 64"));
	free(out);
	assert_int_equal(dispatch(srv, "PATCH", "/v1/echo", NULL, &out), 405);
	assert_non_null(strstr(out, "method PATCH not allowed here; allowed: POST"));
	free(out);
	assert_int_equal(dispatch(srv, "GET", "/v1/nope", NULL, &out), 404);
	assert_non_null(strstr(out, "\"code\":\"not_found\""));
	free(out);
	/* A static body and a text body come back whole. */
	assert_int_equal(dispatch(srv, "GET", "/openapi.json", NULL, &out), 200);
	assert_true(strlen(out) > 1000 && out[0] == '{');
	free(out);
	assert_int_equal(dispatch(srv, "GET", "/metrics", NULL, &out), 200);
	assert_non_null(strstr(out, "status=\"413\""));
	free(out);
	assert_int_equal(api_server_requests_total(srv), 13);
	api_server_stop(srv, 0);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_core_endpoints_tcp_and_unix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readyz_follows_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graceful_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_socket_safety, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_body_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_and_mtls, setup, teardown),
		cmocka_unit_test(test_openapi_covers_routes),
		cmocka_unit_test(test_dispatch_in_process),
	};
	int r;

	log_set_level(LOG_LVL_WARN);
	curl_global_init(CURL_GLOBAL_ALL);
	r = cmocka_run_group_tests_name("api", tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
