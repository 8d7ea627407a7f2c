/* test-kube: kube/ against a libmicrohttpd double that serves a real kube-apiserver's recorded
 * answers; what the client sends is compared with the recorded requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube.h"

#define DATA	    "test/unit/data/kube/"
#define NODE	    "acc-node-1"
#define CR_PATH	    "/apis/pmem.io/v1alpha1/pmemnodes"
#define OBJ_PATH    CR_PATH "/" NODE
#define STATUS_PATH OBJ_PATH "/status"
#define CRD_PATH    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define MAX_REQS    1024
#define MAX_SCRIPT  16
#define WAIT_MS	    30000 /* only bounds a wait for an outcome; no test asserts a time */
#define N_OF(a)	    (sizeof(a) / sizeof((a)[0]))

/*
 * Not recorded (see data/kube/README.md), so written here in the shape kube-apiserver gives
 * them; every other answer comes from the recordings, byte for byte.
 */
static const char unauthorized_401[] =
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	"\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}";
static const char already_exists_409[] =
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	"\"message\":\"pmemnodes.pmem.io \\\"acc-node-1\\\" already exists\","
	"\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"acc-node-1\",\"group\":\"pmem.io\","
	"\"kind\":\"pmemnodes\"},\"code\":409}";
static const char expired_event[] =
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	"\"status\":\"Failure\",\"message\":\"too old resource version: 1 (263)\","
	"\"reason\":\"Expired\",\"code\":410}}\n";
static const char proxy_error[] = "upstream connect error or disconnect/reset before headers\n";

static char tmpdir[64];
static char token_path[128];

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Polls for an outcome; the bound only keeps a broken build from hanging. */
#define WAIT_UNTIL(cond)                                       \
	do {                                                   \
		uint64_t t0_ = now_ms();                       \
		while (!(cond)) {                              \
			assert_true(now_ms() - t0_ < WAIT_MS); \
			usleep(1000);                          \
		}                                              \
	} while (0)

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	assert_non_null(f);
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Replaces a file in one step, as kubelet swaps a rotated token in. */
static void write_file(const char *path, const char *text)
{
	char tmp[256];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* A recorded answer: the body as recorded, its trailing "HTTP <status>" line stripped. */
struct fixture {
	char *body;
	size_t len;
	unsigned status;
};

static void fixture_load(const char *name, struct fixture *f)
{
	char path[256];
	size_t len, start;

	snprintf(path, sizeof(path), DATA "%s", name);
	f->body = read_all(path, &len);
	f->len = len;
	f->status = 200;
	if (len == 0)
		return;
	start = len - 1; /* the last line starts after the newline before its own */
	while (start > 0 && f->body[start - 1] != '\n')
		start--;
	if (strncmp(f->body + start, "HTTP ", 5) == 0) {
		f->status = (unsigned)strtoul(f->body + start + 5, NULL, 10);
		f->len = start;
		f->body[start] = '\0';
	}
}

static char *canon(const char *text, size_t len)
{
	json_error_t err;
	json_t *j = json_loadb(text, len, 0, &err);
	char *s;

	if (!j)
		fprintf(stderr, "not JSON (%s): %.*s\n", err.text, (int)len, text);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(j);
	assert_non_null(s);
	return s;
}

/* JSON compared canonically: key order and whitespace do not matter, values do. */
static void assert_json_text(const char *got, const char *want)
{
	char *a = canon(got, strlen(got)), *b = canon(want, strlen(want));

	assert_string_equal(a, b);
	free(a);
	free(b);
}

/*
 * A status patch without its `heartbeat` (the time of the write, so no recording can hold
 * it), after checking that it is there and looks like RFC 3339 UTC with milliseconds.
 */
static char *sans_heartbeat(const char *body)
{
	json_t *j = json_loads(body, 0, NULL), *status = json_object_get(j, "status");
	const char *hb = json_string_value(json_object_get(status, "heartbeat"));
	char *out;

	assert_non_null(hb);
	assert_int_equal(strlen(hb), 24); /* 2026-11-26T06:43:08.825Z */
	assert_true(hb[4] == '-' && hb[10] == 'T' && hb[19] == '.' && hb[23] == 'Z');
	json_object_del(status, "heartbeat");
	out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return out;
}

static void assert_json_file(const char *got, const char *file)
{
	struct fixture f;

	fixture_load(file, &f);
	assert_json_text(got, f.body);
	free(f.body);
}

static void assert_json_obj(const json_t *got, const char *want)
{
	char *s = json_dumps(got, JSON_COMPACT);

	assert_non_null(s);
	assert_json_text(s, want);
	free(s);
}

/* ---- the API server double ---------------------------------------------- */

/* What the client sent, and what it got. */
struct rec {
	char method[16];
	char path[512];
	char query[512];
	char ctype[128];
	char auth[256];
	char *body;
	unsigned status;
};

/* A scripted answer for the next request with `method` (NULL: the next request at all). */
struct canned {
	const char *method;
	unsigned status;
	const char *body;
	bool then_exists; /* the object exists from now on (someone else created it) */
};

struct dbl {
	struct MHD_Daemon *d;
	uint16_t port;
	pthread_mutex_t mu;
	struct rec reqs[MAX_REQS];
	size_t n;
	struct canned script[MAX_SCRIPT];
	size_t n_script;
	bool exists;  /* the PmemNode exists */
	bool patched; /* ...and has the recorded status */
	char require_auth[128];
	struct fixture cr_create, patch_resp, list, watch, stale, notfound, crd_create;
};

struct upload {
	char *body;
	size_t len;
};

struct answer {
	unsigned status;
	const char *body;
	size_t len;
};

static void dbl_script(struct dbl *d, const char *method, unsigned status, const char *body,
		       bool then_exists)
{
	struct canned c = {method, status, body, then_exists};

	pthread_mutex_lock(&d->mu);
	assert_true(d->n_script < MAX_SCRIPT);
	d->script[d->n_script++] = c;
	pthread_mutex_unlock(&d->mu);
}

/* Under mu. The recorded round trip, in the order the real server answered it. */
static struct answer route(struct dbl *d, const struct rec *r)
{
	const struct fixture *f = &d->notfound;

	for (size_t i = 0; i < d->n_script; i++) {
		struct canned c = d->script[i];

		if (c.method && strcmp(c.method, r->method) != 0)
			continue;
		memmove(&d->script[i], &d->script[i + 1],
			(d->n_script - i - 1) * sizeof(d->script[0]));
		d->n_script--;
		if (c.then_exists)
			d->exists = true;
		return (struct answer){c.status, c.body, strlen(c.body)};
	}
	if (d->require_auth[0] && strcmp(r->auth, d->require_auth) != 0)
		return (struct answer){401, unauthorized_401, strlen(unauthorized_401)};
	if (strcmp(r->method, "GET") == 0 && strcmp(r->path, OBJ_PATH) == 0) {
		/* A GET answers the object as the last write left it, with 200 (the recorded
		 * 201 was the POST's). */
		if (d->exists) {
			f = d->patched ? &d->patch_resp : &d->cr_create;
			return (struct answer){200, f->body, f->len};
		}
	} else if (strcmp(r->method, "POST") == 0 && strcmp(r->path, CR_PATH) == 0) {
		f = &d->cr_create;
		d->exists = true;
	} else if (strcmp(r->method, "PATCH") == 0 && strcmp(r->path, STATUS_PATH) == 0) {
		if (d->exists) {
			f = &d->patch_resp;
			d->patched = true;
		}
	} else if (strcmp(r->method, "PUT") == 0 && strcmp(r->path, STATUS_PATH) == 0) {
		f = &d->stale;
	} else if (strcmp(r->method, "GET") == 0 && strcmp(r->path, CR_PATH) == 0) {
		f = strstr(r->query, "watch=1") ? &d->watch : &d->list;
	} else if (strcmp(r->method, "POST") == 0 && strcmp(r->path, CRD_PATH) == 0) {
		f = &d->crd_create;
	}
	/* A watch fixture carries no "HTTP" line: it was a 200 stream. */
	return (struct answer){f == &d->notfound ? 404 : f->status, f->body, f->len};
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct rec *r = cls;
	size_t n = strlen(r->query);

	(void)kind;
	snprintf(r->query + n, sizeof(r->query) - n, "%s%s=%s", n ? "&" : "", key,
		 value ? value : "");
	return MHD_YES;
}

/* Serves a body a few bytes at a time, so the client's line splitting is exercised. */
struct drip {
	char *body;
	size_t len;
};

static ssize_t drip_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct drip *dr = cls;
	size_t n = dr->len - (size_t)pos;

	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > 7)
		n = 7;
	if (n > max)
		n = max;
	memcpy(buf, dr->body + pos, n);
	return (ssize_t)n;
}

static void drip_free(void *cls)
{
	struct drip *dr = cls;

	free(dr->body);
	free(dr);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct dbl *d = cls;
	struct upload *u = *con_cls;
	struct MHD_Response *resp;
	struct answer a;
	struct rec *r;
	const char *v;
	enum MHD_Result ret;

	(void)version;
	if (!u) {
		*con_cls = u = calloc(1, sizeof(*u));
		return u ? MHD_YES : MHD_NO;
	}
	/* cmocka's asserts belong to the test thread: here a failure aborts. */
	if (*upload_data_size) {
		u->body = realloc(u->body, u->len + *upload_data_size + 1);
		if (!u->body)
			abort();
		memcpy(u->body + u->len, upload_data, *upload_data_size);
		u->len += *upload_data_size;
		u->body[u->len] = '\0';
		*upload_data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&d->mu);
	if (d->n >= MAX_REQS)
		abort();
	r = &d->reqs[d->n];
	memset(r, 0, sizeof(*r));
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", url);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, r);
	if ((v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type")))
		snprintf(r->ctype, sizeof(r->ctype), "%s", v);
	if ((v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization")))
		snprintf(r->auth, sizeof(r->auth), "%s", v);
	r->body = u->body;
	u->body = NULL;
	a = route(d, r);
	r->status = a.status;
	d->n++; /* published last: readers take n under mu and then read reqs[< n] freely */
	pthread_mutex_unlock(&d->mu);

	if (strstr(url, "pmemnodes") && strcmp(method, "GET") == 0) {
		struct drip *dr = calloc(1, sizeof(*dr));

		if (!dr || !(dr->body = strndup(a.body, a.len)))
			abort();
		dr->len = a.len;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 7, drip_read, dr,
							 drip_free);
	} else {
		resp = MHD_create_response_from_buffer(a.len, (void *)a.body,
						       MHD_RESPMEM_MUST_COPY);
	}
	if (!resp)
		abort();
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, a.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode code)
{
	struct upload *u = *con_cls;

	(void)cls, (void)conn, (void)code;
	if (u) {
		free(u->body);
		free(u);
	}
	*con_cls = NULL;
}

/* Listens on 127.0.0.1: an ephemeral port the first time, the same port after a restart. */
static void dbl_listen(struct dbl *d)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(d->port)};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
				NULL, NULL, handle, d, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
				MHD_OPTION_NOTIFY_COMPLETED, completed, d, MHD_OPTION_END);
	assert_non_null(d->d);
	if (!d->port)
		d->port = MHD_get_daemon_info(d->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

/* Stopped, connects are refused: nothing listens on the port. */
static void dbl_down(struct dbl *d)
{
	MHD_stop_daemon(d->d);
	d->d = NULL;
}

static struct dbl *dbl_new(void)
{
	struct dbl *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	pthread_mutex_init(&d->mu, NULL);
	fixture_load("cr-create-response.json", &d->cr_create);
	fixture_load("status-merge-patch-response.json", &d->patch_resp);
	fixture_load("list-pmemnodes.json", &d->list);
	fixture_load("watch-pmemnodes.jsonl", &d->watch);
	fixture_load("status-put-stale-409.json", &d->stale);
	fixture_load("get-pvc-404.json", &d->notfound);
	fixture_load("crd-create-response.json", &d->crd_create);
	/* As README.md says the real server answered. */
	assert_int_equal(d->cr_create.status, 201);
	assert_int_equal(d->crd_create.status, 201);
	assert_int_equal(d->patch_resp.status, 200);
	assert_int_equal(d->list.status, 200);
	assert_int_equal(d->stale.status, 409);
	dbl_listen(d);
	return d;
}

static void dbl_free(struct dbl *d)
{
	if (d->d)
		MHD_stop_daemon(d->d);
	for (size_t i = 0; i < d->n; i++)
		free(d->reqs[i].body);
	free(d->cr_create.body);
	free(d->patch_resp.body);
	free(d->list.body);
	free(d->watch.body);
	free(d->stale.body);
	free(d->notfound.body);
	free(d->crd_create.body);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

static size_t dbl_count(struct dbl *d, const char *method)
{
	size_t n, k = 0;

	pthread_mutex_lock(&d->mu);
	n = d->n;
	pthread_mutex_unlock(&d->mu);
	for (size_t i = 0; i < n; i++)
		k += !method || strcmp(d->reqs[i].method, method) == 0;
	return k;
}

/* The i-th request (in arrival order), once it has arrived. */
static const struct rec *dbl_req(struct dbl *d, size_t i)
{
	size_t n;

	pthread_mutex_lock(&d->mu);
	n = d->n;
	pthread_mutex_unlock(&d->mu);
	assert_true(i < n);
	return &d->reqs[i];
}

static void expect_req(struct dbl *d, size_t i, const char *method, const char *path,
		       unsigned status)
{
	const struct rec *r = dbl_req(d, i);

	if (strcmp(r->method, method) != 0 || strcmp(r->path, path) != 0 || r->status != status)
		fprintf(stderr, "request %zu: %s %s -> %u; expected %s %s -> %u\n", i, r->method,
			r->path, r->status, method, path, status);
	assert_string_equal(r->method, method);
	assert_string_equal(r->path, path);
	assert_int_equal(r->status, status);
}

/* The last PATCH's status.generation, -1 when none. */
static long last_patch_generation(struct dbl *d)
{
	size_t n;
	long g = -1;

	pthread_mutex_lock(&d->mu);
	n = d->n;
	pthread_mutex_unlock(&d->mu);
	for (size_t i = 0; i < n; i++) {
		json_t *j;

		if (strcmp(d->reqs[i].method, "PATCH") != 0 || !d->reqs[i].body)
			continue;
		j = json_loads(d->reqs[i].body, 0, NULL);
		g = (long)json_integer_value(
			json_object_get(json_object_get(j, "status"), "generation"));
		json_decref(j);
	}
	return g;
}

/* ---- publisher helpers -------------------------------------------------- */

static const struct kube_publisher_opts fast = {.backoff_min_ms = 1, .backoff_max_ms = 4};

struct pub {
	struct kube_publisher *p;
	char url[64];
	struct config_kube cfg;
};

static void pub_start(struct pub *pb, struct dbl *d, uint64_t interval_ms,
		      const struct kube_publisher_opts *opts)
{
	struct kube_status st;

	snprintf(pb->url, sizeof(pb->url), "http://127.0.0.1:%u", d->port);
	pb->cfg = (struct config_kube){.enabled = CONFIG_KUBE_ON,
				       .api_url = pb->url,
				       .token_file = token_path,
				       .publish_interval_ms = interval_ms};
	assert_int_equal(kube_publisher_start(&pb->p, &pb->cfg, NODE, opts ? opts : &fast, &st), 0);
	assert_non_null(pb->p);
}

static struct kube_publisher_stats stats(struct kube_publisher *p)
{
	struct kube_publisher_stats s;

	kube_publisher_stats(p, &s);
	return s;
}

/* The node record of the recording: the status of status-merge-patch-request.json. */
static json_t *recorded_record(void)
{
	struct fixture f;
	json_t *req, *rec;

	fixture_load("status-merge-patch-request.json", &f);
	req = json_loadb(f.body, f.len, 0, NULL);
	free(f.body);
	assert_non_null(req);
	rec = json_incref(json_object_get(req, "status"));
	json_decref(req);
	assert_non_null(rec);
	return rec;
}

static json_t *record_gen(long g)
{
	json_t *rec = recorded_record();

	json_object_set_new(rec, "generation", json_integer(g));
	return rec;
}

static void update_gen(struct kube_publisher *p, long g)
{
	json_t *rec = record_gen(g);

	kube_publisher_update(p, rec);
	json_decref(rec);
}

/* ---- fixtures and pure parts -------------------------------------------- */

static void test_fixtures(void **state)
{
	struct fixture f;

	(void)state;
	fixture_load("cr-create-response.json", &f);
	assert_int_equal(f.status, 201);
	assert_int_equal(f.body[f.len - 1], '\n');
	assert_null(strstr(f.body, "HTTP 201"));
	free(f.body);
	fixture_load("watch-pmemnodes.jsonl", &f);
	assert_int_equal(f.status, 200);
	assert_non_null(strstr(f.body, "\"type\":\"MODIFIED\""));
	free(f.body);
}

static void test_status_parse(void **state)
{
	struct kube_status st;
	struct fixture f;

	(void)state;
	fixture_load("status-put-stale-409.json", &f);
	assert_int_equal(kube_status_parse(f.status, f.body, f.len, &st), -ESTALE);
	assert_int_equal(st.code, 409);
	assert_string_equal(st.reason, "Conflict");
	assert_string_equal(st.message,
			    "Operation cannot be fulfilled on pmemnodes.pmem.io \"acc-node-1\": "
			    "the object has been modified; please apply your changes to the latest "
			    "version and try again");
	free(f.body);

	fixture_load("get-pvc-404.json", &f);
	assert_int_equal(kube_status_parse(404, f.body, f.len, &st), -ENOENT);
	assert_string_equal(st.reason, "NotFound");
	assert_string_equal(st.message, "persistentvolumeclaims \"no-such-pvc\" not found");
	free(f.body);

	assert_int_equal(
		kube_status_parse(409, already_exists_409, strlen(already_exists_409), &st),
		-EEXIST);
	assert_string_equal(st.reason, "AlreadyExists");
	assert_int_equal(kube_status_parse(401, unauthorized_401, strlen(unauthorized_401), &st),
			 -EACCES);
	assert_string_equal(st.message, "Unauthorized");
	assert_int_equal(kube_status_parse(502, proxy_error, strlen(proxy_error), &st), -EIO);
	assert_string_equal(st.message, "HTTP 502 (not a Kubernetes Status)");
	assert_string_equal(st.reason, "");
	assert_int_equal(kube_status_parse(403, "", 0, &st), -EPERM);
	assert_int_equal(kube_status_parse(410, NULL, 0, &st), -ENODATA);
	assert_int_equal(kube_status_parse(422, "{}", 2, &st), -EINVAL);
	assert_string_equal(st.message, "HTTP 422");
	assert_int_equal(kube_status_parse(429, NULL, 0, NULL), -EAGAIN);
	assert_int_equal(kube_status_parse(503, NULL, 0, &st), -EAGAIN);
	assert_int_equal(kube_status_parse(504, NULL, 0, &st), -ETIMEDOUT);
	assert_int_equal(kube_status_parse(302, NULL, 0, &st), -EPROTO);
	assert_int_equal(kube_status_parse(201, "{}", 2, &st), 0);
	assert_int_equal(st.code, 201);
}

static void test_paths(void **state)
{
	char buf[128], tiny[16];

	(void)state;
	assert_int_equal(kube_pmemnode_path(buf, sizeof(buf), NULL, NULL), 0);
	assert_string_equal(buf, CR_PATH);
	assert_int_equal(kube_pmemnode_path(buf, sizeof(buf), NODE, NULL), 0);
	assert_string_equal(buf, OBJ_PATH);
	assert_int_equal(kube_pmemnode_path(buf, sizeof(buf), NODE, "status"), 0);
	assert_string_equal(buf, STATUS_PATH);
	assert_int_equal(kube_pmemnode_path(buf, sizeof(buf), "../etc", NULL), -EINVAL);
	assert_int_equal(kube_pmemnode_path(buf, sizeof(buf), "a/b", NULL), -EINVAL);
	assert_int_equal(kube_pmemnode_path(buf, sizeof(buf), "Node", NULL), -EINVAL);
	assert_int_equal(kube_pmemnode_path(buf, sizeof(buf), "n?x", NULL), -EINVAL);
	assert_int_equal(kube_pmemnode_path(buf, sizeof(buf), NULL, "status"), -EINVAL);
	assert_int_equal(kube_pmemnode_path(tiny, sizeof(tiny), NODE, NULL), -ENAMETOOLONG);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(kube_backoff_ms(0, 1000, 30000, 12345), 0);
	/* [d/2, d] with d = 1s, 2s, 4s, ... capped at 30s. */
	assert_int_equal(kube_backoff_ms(1, 1000, 30000, 0), 500);
	assert_int_equal(kube_backoff_ms(1, 1000, 30000, 500), 1000);
	assert_int_equal(kube_backoff_ms(1, 1000, 30000, 501), 500);
	assert_int_equal(kube_backoff_ms(2, 1000, 30000, 0), 1000);
	assert_int_equal(kube_backoff_ms(3, 1000, 30000, 2000), 4000);
	assert_int_equal(kube_backoff_ms(5, 1000, 30000, 0), 8000);
	assert_int_equal(kube_backoff_ms(6, 1000, 30000, 0), 15000);
	assert_int_equal(kube_backoff_ms(6, 1000, 30000, 15000), 30000);
	for (uint32_t rnd = 0; rnd < 100000; rnd += 997) {
		uint64_t b = kube_backoff_ms(4000000000u, 1000, 30000, rnd * 2654435761u);

		assert_true(b >= 15000 && b <= 30000);
	}
	assert_int_equal(kube_backoff_ms(3, 5, 1, 0), 2); /* max below min: min wins */
}

static void test_merge_patch_build(void **state)
{
	static const struct {
		const char *old, *next, *patch;
	} cases[] = {
		{NULL, "{\"a\":1}", "{\"a\":1}"},
		{"{}", "{\"a\":1}", "{\"a\":1}"},
		{"{\"a\":1,\"b\":2}", "{\"a\":1}", "{\"a\":1,\"b\":null}"},
		{"{\"l\":{\"x\":\"1\",\"y\":\"2\"}}", "{\"l\":{\"x\":\"1\"}}",
		 "{\"l\":{\"x\":\"1\",\"y\":null}}"},
		{"{\"p\":[{\"a\":1},{\"b\":2}]}", "{\"p\":[{\"a\":1}]}", "{\"p\":[{\"a\":1}]}"},
		{"{\"p\":{\"a\":1}}", "{\"p\":[1]}", "{\"p\":[1]}"},
		{"{\"p\":[1]}", "{\"p\":{\"a\":1}}", "{\"p\":{\"a\":1}}"},
	};

	(void)state;
	for (size_t i = 0; i < N_OF(cases); i++) {
		json_t *old = cases[i].old ? json_loads(cases[i].old, 0, NULL) : NULL;
		json_t *next = json_loads(cases[i].next, 0, NULL);
		json_t *patch = kube_merge_patch_build(old, next);

		assert_json_obj(patch, cases[i].patch);
		json_decref(old);
		json_decref(next);
		json_decref(patch);
	}
}

/* ---- configuration ------------------------------------------------------ */

static void mkdirs(const char *path)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0700);
		*p = '/';
	}
	mkdir(buf, 0700);
}

static void test_in_cluster(void **state)
{
	char root[128], sa[256], tok[300], ca[300];
	struct config_kube cfg = {.enabled = CONFIG_KUBE_AUTO, .publish_interval_ms = 1000};
	struct kube_status st;
	struct kube_conn c = {0};

	(void)state;
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(sa, sizeof(sa), "%s%s", root, KUBE_SA_DIR);
	snprintf(tok, sizeof(tok), "%s/token", sa);
	snprintf(ca, sizeof(ca), "%s/ca.crt", sa);
	mkdirs(sa);
	write_file(tok, "sa-token\n");
	write_file(ca, "-----BEGIN CERTIFICATE-----\n");

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), -ENODEV);
	assert_non_null(strstr(st.message, "not in a pod"));
	cfg.enabled = CONFIG_KUBE_ON;
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), -EINVAL);
	assert_non_null(strstr(st.message, "(kube.enabled is true)"));

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	cfg.enabled = CONFIG_KUBE_AUTO;
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), 0);
	assert_string_equal(c.api_url, "https://10.96.0.1:443");
	assert_string_equal(c.token_file, tok);
	assert_string_equal(c.ca_file, ca);
	assert_null(c.client_cert);
	assert_true(c.in_cluster);
	kube_conn_clear(&c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), 0);
	assert_string_equal(c.api_url, "https://[fd00::1]:443");
	kube_conn_clear(&c);

	cfg.enabled = CONFIG_KUBE_OFF;
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), -ENODEV);
	assert_string_equal(st.message, "kube.enabled is false");

	/* The env is there but the token is not (automountServiceAccountToken: false). */
	cfg.enabled = CONFIG_KUBE_AUTO;
	assert_int_equal(unlink(tok), 0);
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), -ENODEV);
	assert_non_null(strstr(st.message, "no service-account token"));
	cfg.enabled = CONFIG_KUBE_ON;
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), -EINVAL);

	/* No ca.crt: the system CAs verify; never no verification. */
	write_file(tok, "sa-token\n");
	assert_int_equal(unlink(ca), 0);
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), 0);
	assert_null(c.ca_file);
	kube_conn_clear(&c);

	setenv("KUBERNETES_SERVICE_HOST", "evil/x@y", 1);
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), -EINVAL);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "99999", 1);
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), -EINVAL);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	/* kube.api_url wins over the pod, with its own credentials only. */
	cfg.api_url = (char *)"https://k8s.example.com:6443/";
	cfg.client_cert = (char *)"/etc/pmemd/kube.crt";
	cfg.client_key = (char *)"/etc/pmemd/kube.key";
	assert_int_equal(kube_conn_resolve(&cfg, root, &c, &st), 0);
	assert_string_equal(c.api_url, "https://k8s.example.com:6443");
	assert_null(c.token_file);
	assert_null(c.ca_file);
	assert_string_equal(c.client_cert, "/etc/pmemd/kube.crt");
	assert_false(c.in_cluster);
	kube_conn_clear(&c);
	kube_conn_clear(&c); /* twice is harmless */

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_client_refuses_plain_http(void **state)
{
	static const char *const bad[] = {"http://10.0.0.1:8080", "http://example.com",
					  "ftp://127.0.0.1", "http://[fd00::1]:80", "https://"};
	static const char *const good[] = {"http://127.0.0.1:1", "http://[::1]:8001",
					   "https://10.0.0.1:6443"};
	struct kube_client *c = NULL;
	struct kube_status st;

	(void)state;
	for (size_t i = 0; i < N_OF(bad); i++) {
		struct kube_conn conn = {.api_url = (char *)bad[i]};

		assert_int_equal(kube_client_new(&conn, &c, &st), -EINVAL);
		assert_null(c);
	}
	for (size_t i = 0; i < N_OF(good); i++) {
		struct kube_conn conn = {.api_url = (char *)good[i]};

		assert_int_equal(kube_client_new(&conn, &c, &st), 0);
		c = kube_client_free(c);
	}
	assert_null(kube_client_free(NULL));
	kube_client_interrupt(NULL);
}

static void test_publisher_off(void **state)
{
	struct config_kube cfg = {.enabled = CONFIG_KUBE_OFF, .publish_interval_ms = 1000};
	struct kube_publisher *p = (struct kube_publisher *)1;
	struct kube_status st;
	json_t *rec = recorded_record();

	(void)state;
	assert_int_equal(kube_publisher_start(&p, &cfg, NODE, NULL, &st), -ENODEV);
	assert_null(p);
	kube_publisher_update(NULL, rec);
	assert_int_equal(stats(NULL).state, KUBE_PUB_OFF);
	assert_string_equal(kube_publisher_state_name(KUBE_PUB_OFF), "off");
	assert_string_equal(kube_publisher_state_name(KUBE_PUB_DENIED), "denied");
	assert_null(kube_publisher_stop(NULL));

	cfg.enabled = CONFIG_KUBE_ON;
	cfg.api_url = (char *)"https://127.0.0.1:1";
	assert_int_equal(kube_publisher_start(&p, &cfg, "Not_A_Node", NULL, &st), -EINVAL);
	assert_null(p);
	json_decref(rec);
}

/* ---- the client against the double -------------------------------------- */

static struct kube_client *client_for(struct dbl *d)
{
	char url[64];
	struct kube_conn conn = {.api_url = url, .token_file = token_path};
	struct kube_client *c = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", d->port);
	assert_int_equal(kube_client_new(&conn, &c, NULL), 0);
	return c;
}

static void test_client_crd_and_stale_put(void **state)
{
	struct dbl *d = dbl_new();
	struct kube_client *c = client_for(d);
	struct kube_status st;
	struct fixture req;
	json_t *body, *out = NULL;

	(void)state;
	write_file(token_path, "t1\n");
	fixture_load("crd-request.json", &req);
	body = json_loadb(req.body, req.len, 0, NULL);
	assert_int_equal(kube_create(c, CRD_PATH, body, &out, &st), 0);
	assert_int_equal(st.code, 201);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(out, "metadata"), "name")),
		"pmemnodes.pmem.io");
	expect_req(d, 0, "POST", CRD_PATH, 201);
	assert_string_equal(dbl_req(d, 0)->ctype, "application/json");
	assert_string_equal(dbl_req(d, 0)->auth, "Bearer t1");
	assert_json_text(dbl_req(d, 0)->body, req.body);
	json_decref(body);
	json_decref(out);
	free(req.body);

	/* A PUT with a stale resourceVersion: the recorded 409, parsed. */
	out = NULL;
	fixture_load("status-put-stale-request.json", &req);
	body = json_loadb(req.body, req.len, 0, NULL);
	assert_int_equal(kube_put(c, STATUS_PATH, body, &out, &st), -ESTALE);
	assert_null(out);
	assert_int_equal(st.code, 409);
	assert_string_equal(st.reason, "Conflict");
	assert_non_null(strstr(st.message, "the object has been modified"));
	expect_req(d, 1, "PUT", STATUS_PATH, 409);
	assert_string_equal(dbl_req(d, 1)->ctype, "application/json");
	assert_json_text(dbl_req(d, 1)->body, req.body);
	json_decref(body);
	free(req.body);

	/* A GET of a missing object; a body that is not JSON. */
	assert_int_equal(kube_get(c, OBJ_PATH, &out, &st), -ENOENT);
	assert_string_equal(st.reason, "NotFound");
	dbl_script(d, "GET", 200, "not json", false);
	assert_int_equal(kube_get(c, OBJ_PATH, &out, &st), -EBADMSG);
	assert_null(out);
	dbl_script(d, "GET", 200, "", false);
	assert_int_equal(kube_get(c, OBJ_PATH, &out, &st), -EBADMSG);
	assert_non_null(strstr(st.message, "empty body"));
	assert_null(out);
	assert_int_equal(kube_get(c, "no-slash", &out, &st), -EINVAL);
	assert_int_equal(kube_get(c, "/a b", &out, &st), -EINVAL);
	assert_int_equal(dbl_count(d, NULL), 5);

	/* A broken token file fails before anything is sent. */
	write_file(token_path, "t1\r\nX-Evil: 1\n");
	assert_int_equal(kube_get(c, OBJ_PATH, NULL, &st), -EINVAL);
	assert_non_null(strstr(st.message, "control characters"));
	assert_int_equal(dbl_count(d, NULL), 5);
	write_file(token_path, "t1\n");

	kube_client_free(c);
	dbl_free(d);
}

struct events {
	size_t n;
	char type[4][16];
	char rv[4][16];
	int stop_with;
};

static int on_event(const char *type, json_t *object, void *userdata)
{
	struct events *e = userdata;
	const char *rv = json_string_value(
		json_object_get(json_object_get(object, "metadata"), "resourceVersion"));

	if (e->n < 4) {
		snprintf(e->type[e->n], sizeof(e->type[0]), "%s", type);
		snprintf(e->rv[e->n], sizeof(e->rv[0]), "%s", rv ? rv : "");
	}
	e->n++;
	return e->stop_with;
}

static void test_list_and_watch(void **state)
{
	struct dbl *d = dbl_new();
	struct kube_client *c = client_for(d);
	struct kube_status st;
	struct events ev = {0};
	json_t *items = NULL, *page1;
	char *rv = NULL, *text;

	(void)state;
	write_file(token_path, "t1\n");
	assert_int_equal(kube_list(c, CR_PATH, &items, &rv, &st), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(items, 0), "metadata"), "name")),
			    NODE);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_array_get(items, 0), "status"), "generation")),
		7);
	assert_string_equal(rv, "263");
	expect_req(d, 0, "GET", CR_PATH, 200);
	assert_string_equal(dbl_req(d, 0)->query, "");

	/* Watch from the list's resourceVersion: the recorded event, cut into 7-byte pieces. */
	assert_int_equal(kube_watch(c, CR_PATH, rv, 0, on_event, &ev, &st), 0);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.type[0], "MODIFIED");
	assert_string_equal(ev.rv[0], "263");
	expect_req(d, 1, "GET", CR_PATH, 200);
	assert_string_equal(dbl_req(d, 1)->query,
			    "watch=1&resourceVersion=263&allowWatchBookmarks=true");
	json_decref(items);
	free(rv);

	/* Two pages: the first one scripted from the recorded list with a continue token. */
	page1 = json_loadb(d->list.body, d->list.len, 0, NULL);
	json_object_set_new(json_object_get(page1, "metadata"), "continue", json_string("tok/1+="));
	text = json_dumps(page1, JSON_COMPACT);
	dbl_script(d, "GET", 200, text, false);
	assert_int_equal(kube_list(c, CR_PATH "?limit=1", &items, &rv, &st), 0);
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(rv, "263");
	assert_string_equal(dbl_req(d, 3)->query, "limit=1&continue=tok/1+=");
	json_decref(items);
	json_decref(page1);
	free(rv);

	/* The callback stops the watch and its value comes back. */
	memset(&ev, 0, sizeof(ev));
	ev.stop_with = 7;
	assert_int_equal(kube_watch(c, CR_PATH, "263", 30, on_event, &ev, &st), 7);
	assert_int_equal(ev.n, 1);
	assert_string_equal(
		dbl_req(d, 4)->query,
		"watch=1&resourceVersion=263&allowWatchBookmarks=true&timeoutSeconds=30");

	/* An ERROR event (410 Expired: list again) and a line that is no event. */
	memset(&ev, 0, sizeof(ev));
	dbl_script(d, "GET", 200, expired_event, false);
	assert_int_equal(kube_watch(c, CR_PATH, "1", 0, on_event, &ev, &st), -ENODATA);
	assert_int_equal(st.code, 410);
	assert_string_equal(st.reason, "Expired");
	assert_int_equal(ev.n, 0);
	dbl_script(d, "GET", 200, "{\"type\":\"ADDED\"}\n", false);
	assert_int_equal(kube_watch(c, CR_PATH, "1", 0, on_event, &ev, &st), -EBADMSG);
	/* A watch refused up front is an error response like any other. */
	dbl_script(d, "GET", 403,
		   "{\"kind\":\"Status\",\"reason\":\"Forbidden\","
		   "\"message\":\"no\",\"code\":403}",
		   false);
	assert_int_equal(kube_watch(c, CR_PATH, NULL, 0, on_event, &ev, &st), -EPERM);
	assert_string_equal(st.reason, "Forbidden");
	assert_string_equal(dbl_req(d, 7)->query, "watch=1&allowWatchBookmarks=true");

	free(text);
	kube_client_free(c);
	dbl_free(d);
}

/* A listener that never accepts: connects succeed, answers never come. */
static int blackhole(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

struct hung {
	struct kube_client *c;
	int r;
	struct kube_status st;
};

static void *hung_get(void *arg)
{
	struct hung *h = arg;

	h->r = kube_get(h->c, OBJ_PATH, NULL, &h->st);
	return NULL;
}

static void test_interrupt(void **state)
{
	struct hung h = {0};
	struct kube_conn conn = {0};
	char url[64];
	uint16_t port;
	int fd = blackhole(&port);
	pthread_t t;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	conn.api_url = url;
	assert_int_equal(kube_client_new(&conn, &h.c, NULL), 0);
	assert_int_equal(pthread_create(&t, NULL, hung_get, &h), 0);
	usleep(50 * 1000); /* let it send; interrupting earlier is fine too */
	kube_client_interrupt(h.c);
	pthread_join(t, NULL);
	/* Aborted, not timed out: the 30 s request timeout was not what ended it. */
	assert_int_equal(h.r, -ECANCELED);
	/* ...and every later call fails at once. */
	assert_int_equal(kube_get(h.c, OBJ_PATH, NULL, &h.st), -ECANCELED);
	kube_client_free(h.c);

	/* The publisher's stop aborts its request in flight the same way. */
	{
		struct config_kube cfg = {
			.enabled = CONFIG_KUBE_ON, .api_url = url, .publish_interval_ms = 10};
		struct kube_publisher *p = NULL;
		json_t *rec = recorded_record();

		assert_int_equal(kube_publisher_start(&p, &cfg, NODE, &fast, NULL), 0);
		kube_publisher_update(p, rec);
		usleep(50 * 1000);
		assert_int_equal(stats(p).writes, 0);
		assert_int_equal(stats(p).state, KUBE_PUB_PENDING);
		assert_null(kube_publisher_stop(p));
		json_decref(rec);
	}
	close(fd);
}

/* ---- the publisher against the double ----------------------------------- */

/* The recorded round trip: GET (missing), POST, status merge-patch. */
static void test_publish_creates_if_missing(void **state)
{
	struct dbl *d = dbl_new();
	struct pub pb;
	json_t *rec = recorded_record();
	struct kube_publisher_stats s;

	(void)state;
	write_file(token_path, "t1\n");
	pub_start(&pb, d, 10, NULL);
	assert_int_equal(stats(pb.p).state, KUBE_PUB_PENDING);
	kube_publisher_update(pb.p, rec);
	WAIT_UNTIL(stats(pb.p).writes == 1);
	s = stats(pb.p);
	assert_int_equal(s.state, KUBE_PUB_OK);
	assert_int_equal(s.failures, 0);
	assert_true(s.last_success_ms > 0);
	assert_int_equal(dbl_count(d, NULL), 3);
	expect_req(d, 0, "GET", OBJ_PATH, 404);
	expect_req(d, 1, "POST", CR_PATH, 201);
	assert_string_equal(dbl_req(d, 1)->ctype, "application/json");
	assert_json_file(dbl_req(d, 1)->body, "cr-create-request.json");
	expect_req(d, 2, "PATCH", STATUS_PATH, 200);
	assert_string_equal(dbl_req(d, 2)->ctype, "application/merge-patch+json");
	{
		char *b = sans_heartbeat(dbl_req(d, 2)->body);

		assert_json_file(b, "status-merge-patch-request.json");
		free(b);
	}
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(dbl_req(d, i)->auth, "Bearer t1");

	/* The object is known now: the next change is one PATCH, nothing else. */
	update_gen(pb.p, 8);
	WAIT_UNTIL(stats(pb.p).writes == 2);
	assert_int_equal(dbl_count(d, NULL), 4);
	expect_req(d, 3, "PATCH", STATUS_PATH, 200);
	assert_int_equal(last_patch_generation(d), 8);
	pb.p = kube_publisher_stop(pb.p);
	json_decref(rec);
	dbl_free(d);
}

static void test_publish_labels_and_removed_keys(void **state)
{
	struct dbl *d = dbl_new();
	json_t *labels = json_pack("{s:s}", "kubernetes.io/hostname", NODE);
	struct kube_publisher_opts opts = fast;
	struct pub pb;
	json_t *rec;

	(void)state;
	write_file(token_path, "t1\n");
	opts.labels = labels;
	pub_start(&pb, d, 10, &opts);
	json_decref(labels); /* copied at start */
	update_gen(pb.p, 7);
	WAIT_UNTIL(stats(pb.p).writes == 1);
	assert_json_text(dbl_req(d, 1)->body,
			 "{\"apiVersion\":\"pmem.io/v1alpha1\",\"kind\":\"PmemNode\","
			 "\"metadata\":{\"name\":\"acc-node-1\",\"labels\":"
			 "{\"kubernetes.io/hostname\":\"acc-node-1\"}},\"spec\":{}}");

	/* A key the server has and the record dropped is deleted with a null. */
	rec = json_pack("{s:i}", "generation", 9);
	kube_publisher_update(pb.p, rec);
	WAIT_UNTIL(stats(pb.p).writes == 2);
	assert_int_equal(dbl_count(d, NULL), 4);
	{
		char *b = sans_heartbeat(dbl_req(d, 3)->body);

		assert_json_text(b, "{\"status\":{\"generation\":9,\"numaNodes\":null}}");
		free(b);
	}
	json_decref(rec);
	pb.p = kube_publisher_stop(pb.p);
	dbl_free(d);
}

/* An unchanged record is written again every heartbeat interval, each time with a new
 * `heartbeat`, so a watching scheduler sees the node alive; without one, never. */
static void test_publish_heartbeat(void **state)
{
	struct dbl *d = dbl_new();
	struct pub pb;
	json_t *rec = recorded_record();
	char *a, *b;

	(void)state;
	write_file(token_path, "t1\n");
	pub_start(&pb, d, 10, NULL);
	kube_publisher_stop(pb.p);
	pb.cfg.heartbeat_interval_ms = 50;
	assert_int_equal(kube_publisher_start(&pb.p, &pb.cfg, NODE, &fast, NULL), 0);
	kube_publisher_update(pb.p, rec);
	WAIT_UNTIL(stats(pb.p).writes >= 3);
	pb.p = kube_publisher_stop(pb.p);
	/* GET, POST, then PATCHes of the same record: equal but for the heartbeat. */
	expect_req(d, 0, "GET", OBJ_PATH, 404);
	expect_req(d, 1, "POST", CR_PATH, 201);
	expect_req(d, 2, "PATCH", STATUS_PATH, 200);
	expect_req(d, 3, "PATCH", STATUS_PATH, 200);
	a = sans_heartbeat(dbl_req(d, 2)->body);
	b = sans_heartbeat(dbl_req(d, 3)->body);
	/* The same record both times (the double answers with a fixed object, so the second
	 * patch is not reduced to the heartbeat as it is against a real API server). */
	assert_json_file(a, "status-merge-patch-request.json");
	assert_json_text(b, a);
	assert_string_not_equal(dbl_req(d, 2)->body, dbl_req(d, 3)->body);
	free(a);
	free(b);
	json_decref(rec);
	dbl_free(d);

	/* heartbeat_interval 0: one write, then nothing. */
	d = dbl_new();
	rec = recorded_record();
	pub_start(&pb, d, 10, NULL);
	kube_publisher_update(pb.p, rec);
	WAIT_UNTIL(stats(pb.p).writes == 1);
	usleep(200 * 1000);
	assert_int_equal(stats(pb.p).writes, 1);
	pb.p = kube_publisher_stop(pb.p);
	json_decref(rec);
	dbl_free(d);
}

/* The scheduler's decision for a PVC, as the node reads it when a volume is created. */
static void test_claim_numa(void **state)
{
	static const char pvc_fmt[] =
		"{\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"data\","
		"\"namespace\":\"prod\",\"annotations\":{\"pmem.io/node\":\"%s\","
		"\"pmem.io/numa-node\":\"%s\",\"pmem.io/pod-uid\":\"u1\"}}}";
	const struct sched_pod_opts defaults = {0};
	struct dbl *d = dbl_new();
	char url[64], ours[512], other[512], badnuma[512];
	struct config_kube cfg;
	struct kube_claim_plan plan;
	struct kube_status st;

	(void)state;
	write_file(token_path, "t1\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", d->port);
	cfg = (struct config_kube){
		.enabled = CONFIG_KUBE_ON, .api_url = url, .token_file = token_path};
	snprintf(ours, sizeof(ours), pvc_fmt, NODE, "1");
	snprintf(other, sizeof(other), pvc_fmt, "elsewhere", "1");
	snprintf(badnuma, sizeof(badnuma), pvc_fmt, NODE, "1x");

	dbl_script(d, "GET", 200, ours, false);
	memset(&st, 0, sizeof(st));
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/data", &plan, &st), 0);
	assert_int_equal(plan.numa_node, 1);
	assert_null(plan.reservation);
	expect_req(d, 0, "GET", "/api/v1/namespaces/prod/persistentvolumeclaims/data", 200);
	assert_string_equal(dbl_req(d, 0)->auth, "Bearer t1");
	/* Placed on another node, or not a number, and no selected-node: nothing to follow. */
	dbl_script(d, "GET", 200, other, false);
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/data", &plan, &st), 0);
	assert_int_equal(plan.numa_node, -1);
	assert_null(plan.reservation);
	dbl_script(d, "GET", 200, badnuma, false);
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/data", &plan, &st), 0);
	assert_int_equal(plan.numa_node, -1);
	/* No such PVC. */
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/nope", &plan, &st),
			 -ENOENT);
	/* A hostile claim never becomes a path. */
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "../x", &plan, &st), -EINVAL);
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/a/b", &plan, &st),
			 -EINVAL);
	assert_int_equal(dbl_count(d, NULL), 4);
	/* Without a Kubernetes API: -ENODEV, and the create goes on by the node's policy. */
	cfg = (struct config_kube){.enabled = CONFIG_KUBE_OFF};
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/data", &plan, &st),
			 -ENODEV);
	dbl_free(d);
}

/*
 * WaitForFirstConsumer: kube-scheduler chose this node (selected-node) and provisions before
 * any extender bind. The node finds the pending pod that waits for the claim and returns a
 * reservation for all of its claims, with the pod's policy.
 */
static void test_claim_plan_pod(void **state)
{
	static const char pvc_fmt[] =
		"{\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"%s\",\"namespace\":"
		"\"prod\",\"annotations\":{\"volume.kubernetes.io/selected-node\":\"%s\"}},"
		"\"spec\":{\"storageClassName\":\"pmem\",\"resources\":{\"requests\":{\"storage\":"
		"\"%s\"}}},\"status\":{\"phase\":\"Pending\"}}";
	static const char sc[] = "{\"kind\":\"StorageClass\",\"metadata\":{\"name\":\"pmem\"},"
				 "\"provisioner\":\"pmem.csi.pmemd.io\",\"parameters\":{"
				 "\"csi.storage.k8s.io/fstype\":\"xfs\"}}";
	/* Three pods use the claim: one bound elsewhere, one younger, and the one to place. */
	static const char pods[] =
		"{\"kind\":\"PodList\",\"items\":["
		"{\"metadata\":{\"name\":\"old\",\"uid\":\"u-old\",\"creationTimestamp\":"
		"\"2026-11-26T10:00:00Z\"},\"spec\":{\"nodeName\":\"elsewhere\",\"volumes\":["
		"{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"data\"}}]},"
		"\"status\":{\"phase\":\"Running\"}},"
		"{\"metadata\":{\"name\":\"young\",\"uid\":\"u-young\",\"creationTimestamp\":"
		"\"2026-11-26T12:00:00Z\"},\"spec\":{\"volumes\":["
		"{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"data\"}}]},"
		"\"status\":{\"phase\":\"Pending\"}},"
		"{\"metadata\":{\"name\":\"app\",\"namespace\":\"prod\",\"uid\":\"u-app\","
		"\"creationTimestamp\":\"2026-11-26T11:00:00Z\",\"annotations\":{"
		"\"pmem.io/policy\":\"single-numa\"}},\"spec\":{\"volumes\":["
		"{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"data\"}},"
		"{\"name\":\"cfg\",\"configMap\":{\"name\":\"x\"}},"
		"{\"name\":\"l\",\"persistentVolumeClaim\":{\"claimName\":\"logs\"}}]},"
		"\"status\":{\"phase\":\"Pending\"}}]}";
	const struct sched_pod_opts defaults = {.pmem_policy = SCHED_PMEM_BINPACK};
	struct dbl *d = dbl_new();
	char url[64], data[600], logs[600], elsewhere[600];
	struct config_kube cfg;
	struct kube_claim_plan plan;
	struct kube_status st = {0};

	(void)state;
	write_file(token_path, "t1\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", d->port);
	cfg = (struct config_kube){
		.enabled = CONFIG_KUBE_ON, .api_url = url, .token_file = token_path};
	snprintf(data, sizeof(data), pvc_fmt, "data", NODE, "1Gi");
	snprintf(logs, sizeof(logs), pvc_fmt, "logs", NODE, "512Mi");
	snprintf(elsewhere, sizeof(elsewhere), pvc_fmt, "data", "elsewhere", "1Gi");

	/* In the order the node asks: the PVC, the pods, then each claim of the pod in its
	 * spec order (the claim itself is not fetched again). */
	dbl_script(d, "GET", 200, data, false);
	dbl_script(d, "GET", 200, pods, false);
	dbl_script(d, "GET", 200, sc, false);
	dbl_script(d, "GET", 200, logs, false);
	dbl_script(d, "GET", 200, sc, false);
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/data", &plan, &st), 0);
	assert_int_equal(plan.numa_node, -1);
	assert_non_null(plan.reservation);
	assert_string_equal(plan.pod, "prod/app");
	expect_req(d, 1, "GET", "/api/v1/namespaces/prod/pods", 200);
	assert_string_equal(dbl_req(d, 1)->query, "fieldSelector=spec.nodeName=");
	expect_req(d, 2, "GET", "/apis/storage.k8s.io/v1/storageclasses/pmem", 200);
	expect_req(d, 3, "GET", "/api/v1/namespaces/prod/persistentvolumeclaims/logs", 200);
	assert_int_equal(dbl_count(d, NULL), 5);
	assert_json_obj(plan.reservation,
			"{\"pod_uid\":\"u-app\",\"pod_name\":\"app\",\"namespace\":\"prod\","
			"\"pmem_policy\":\"single-numa\",\"cpu_policy\":\"shortest-distance\","
			"\"volumes\":[{\"size_bytes\":1073741824,\"claim\":\"prod/data\","
			"\"fstype\":\"xfs\"},{\"size_bytes\":536870912,\"claim\":\"prod/logs\","
			"\"fstype\":\"xfs\"}]}");
	kube_claim_plan_clear(&plan);

	/* kube-scheduler chose another node: not ours to plan, the pods are not even read. */
	dbl_script(d, "GET", 200, elsewhere, false);
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/data", &plan, &st), 0);
	assert_int_equal(plan.numa_node, -1);
	assert_null(plan.reservation);
	assert_int_equal(dbl_count(d, NULL), 6);

	/* No pending pod uses the claim: nothing to reserve. */
	dbl_script(d, "GET", 200, data, false);
	dbl_script(d, "GET", 200, "{\"kind\":\"PodList\",\"items\":[]}", false);
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/data", &plan, &st), 0);
	assert_null(plan.reservation);

	/* The pod names a claim that does not exist: an error naming it, no plan. */
	dbl_script(d, "GET", 200, data, false);
	dbl_script(d, "GET", 200, pods, false);
	dbl_script(d, "GET", 200, sc, false);
	dbl_script(d, "GET", 404,
		   "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\","
		   "\"code\":404,\"message\":\"persistentvolumeclaims \\\"logs\\\" not found\"}",
		   false);
	assert_int_equal(kube_claim_plan(&cfg, NULL, NODE, &defaults, "prod/data", &plan, &st),
			 -ENOENT);
	assert_null(plan.reservation);
	assert_non_null(strstr(st.message, "prod/app"));
	assert_non_null(strstr(st.message, "prod/logs not found"));
	dbl_free(d);
}

/* 409 on the patch: read the object again and retry at once, no backoff. */
static void test_publish_conflict(void **state)
{
	struct dbl *d = dbl_new();
	struct pub pb;
	struct kube_publisher_stats s;

	(void)state;
	write_file(token_path, "t1\n");
	d->exists = true;
	dbl_script(d, "PATCH", 409, d->stale.body, false);
	pub_start(&pb, d, 10, NULL);
	update_gen(pb.p, 7);
	WAIT_UNTIL(stats(pb.p).writes == 1);
	s = stats(pb.p);
	assert_int_equal(s.failures, 0);
	assert_int_equal(dbl_count(d, NULL), 4);
	expect_req(d, 0, "GET", OBJ_PATH, 200);
	expect_req(d, 1, "PATCH", STATUS_PATH, 409);
	expect_req(d, 2, "GET", OBJ_PATH, 200);
	expect_req(d, 3, "PATCH", STATUS_PATH, 200);
	{
		char *a = sans_heartbeat(dbl_req(d, 1)->body),
		     *b = sans_heartbeat(dbl_req(d, 3)->body);

		assert_json_text(a, b);
		free(a);
		free(b);
	}
	pb.p = kube_publisher_stop(pb.p);
	dbl_free(d);

	/* Created by someone else between our GET and POST: read it and go on. */
	d = dbl_new();
	dbl_script(d, "POST", 409, already_exists_409, true);
	pub_start(&pb, d, 10, NULL);
	update_gen(pb.p, 7);
	WAIT_UNTIL(stats(pb.p).writes == 1);
	assert_int_equal(stats(pb.p).failures, 0);
	assert_int_equal(dbl_count(d, NULL), 4);
	expect_req(d, 0, "GET", OBJ_PATH, 404);
	expect_req(d, 1, "POST", CR_PATH, 409);
	expect_req(d, 2, "GET", OBJ_PATH, 200);
	expect_req(d, 3, "PATCH", STATUS_PATH, 200);
	pb.p = kube_publisher_stop(pb.p);
	dbl_free(d);
}

/* Connection refused, then a 500, then success; the latest record is the one written. */
static void test_publish_outage(void **state)
{
	struct dbl *d = dbl_new();
	struct pub pb;
	struct kube_publisher_stats s;

	(void)state;
	write_file(token_path, "t1\n");
	d->exists = true;
	dbl_down(d);
	pub_start(&pb, d, 10, NULL);
	update_gen(pb.p, 7);
	WAIT_UNTIL(stats(pb.p).consecutive_failures >= 3);
	s = stats(pb.p);
	assert_int_equal(s.state, KUBE_PUB_RETRYING);
	assert_int_equal(s.last_errno, ECONNREFUSED);
	assert_int_equal(s.last_code, 0);
	assert_int_equal(s.writes, 0);
	assert_int_equal(s.last_success_ms, 0);
	update_gen(pb.p, 8); /* the node changed during the outage */

	dbl_script(d, "PATCH", 500, proxy_error, false);
	dbl_listen(d);
	WAIT_UNTIL(stats(pb.p).writes == 1);
	s = stats(pb.p);
	assert_int_equal(s.state, KUBE_PUB_OK);
	assert_int_equal(s.consecutive_failures, 0);
	assert_true(s.failures >= 4);
	assert_int_equal(s.last_errno, EIO); /* the last failure is kept for /metrics */
	assert_int_equal(s.last_code, 500);
	assert_string_equal(s.last_error, "HTTP 500 (not a Kubernetes Status)");
	assert_int_equal(dbl_count(d, NULL), 3);
	expect_req(d, 0, "GET", OBJ_PATH, 200);
	expect_req(d, 1, "PATCH", STATUS_PATH, 500);
	expect_req(d, 2, "PATCH", STATUS_PATH, 200);
	assert_int_equal(last_patch_generation(d), 8);
	pb.p = kube_publisher_stop(pb.p);
	dbl_free(d);
}

/* Ten changes in a burst: far fewer writes, and the last change is the one on the server. */
static void test_publish_coalesces(void **state)
{
	struct dbl *d = dbl_new();
	struct pub pb;
	size_t patches;

	(void)state;
	write_file(token_path, "t1\n");
	d->exists = true;
	pub_start(&pb, d, 300, NULL);
	for (long g = 0; g < 10; g++)
		update_gen(pb.p, g);
	WAIT_UNTIL(last_patch_generation(d) == 9);
	/* The double sees a PATCH before the publisher has read the answer. */
	WAIT_UNTIL(stats(pb.p).writes == dbl_count(d, "PATCH"));
	patches = dbl_count(d, "PATCH");
	assert_true(patches >= 1 && patches <= 3);
	assert_int_equal(dbl_count(d, "GET"), 1);
	pb.p = kube_publisher_stop(pb.p);
	dbl_free(d);
}

/* 401 while the token is wrong (an error, backing off), then the rotated token is picked up. */
static void test_publish_token_rotation(void **state)
{
	struct dbl *d = dbl_new();
	struct pub pb;
	struct kube_publisher_stats s;
	size_t n;

	(void)state;
	write_file(token_path, "t1\n");
	snprintf(d->require_auth, sizeof(d->require_auth), "Bearer t2");
	pub_start(&pb, d, 10, NULL);
	update_gen(pb.p, 7);
	WAIT_UNTIL(stats(pb.p).consecutive_failures >= 2);
	s = stats(pb.p);
	assert_int_equal(s.state, KUBE_PUB_DENIED);
	assert_int_equal(s.last_errno, EACCES);
	assert_int_equal(s.last_code, 401);
	assert_string_equal(s.last_error, "Unauthorized");
	assert_string_equal(dbl_req(d, 0)->auth, "Bearer t1");

	write_file(token_path, "t2\n"); /* kubelet rotated it */
	WAIT_UNTIL(stats(pb.p).writes == 1);
	assert_int_equal(stats(pb.p).state, KUBE_PUB_OK);
	n = dbl_count(d, NULL);
	assert_string_equal(dbl_req(d, n - 1)->auth, "Bearer t2");
	expect_req(d, n - 1, "PATCH", STATUS_PATH, 200);
	for (size_t i = 0; i < n; i++)
		assert_true(dbl_req(d, i)->status == 401 ||
			    strcmp(dbl_req(d, i)->auth, "Bearer t2") == 0);
	pb.p = kube_publisher_stop(pb.p);
	dbl_free(d);
}

/* ---- main --------------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-kube.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(token_path, sizeof(token_path), "%s/token", tmpdir);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_merge_patch_build),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_client_refuses_plain_http),
		cmocka_unit_test(test_publisher_off),
		cmocka_unit_test(test_client_crd_and_stale_put),
		cmocka_unit_test(test_list_and_watch),
		cmocka_unit_test(test_interrupt),
		cmocka_unit_test(test_publish_creates_if_missing),
		cmocka_unit_test(test_publish_labels_and_removed_keys),
		cmocka_unit_test(test_publish_heartbeat),
		cmocka_unit_test(test_claim_numa),
		cmocka_unit_test(test_claim_plan_pod),
		cmocka_unit_test(test_publish_conflict),
		cmocka_unit_test(test_publish_outage),
		cmocka_unit_test(test_publish_coalesces),
		cmocka_unit_test(test_publish_token_rotation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
