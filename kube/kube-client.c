/* kube-client: the Kubernetes API over libcurl: in-cluster config, requests, Status errors,
 * list and watch. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/kube.h"
#include "util/names.h"
#include "util/secret.h"
#include "util/log.h"

#define MAX_RESPONSE	   (16u * 1024 * 1024) /* a list of a few thousand nodes fits */
#define MAX_TOKEN	   (64 * 1024)	       /* a projected service-account JWT is ~1 KiB */
#define MAX_PAGES	   10000	       /* bounds a server that keeps saying "continue" */
#define CONNECT_TIMEOUT_MS 5000
#define REQUEST_TIMEOUT_MS 30000

struct kube_client {
	CURL *h;
	struct kube_conn conn;
	atomic_bool interrupted;
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- small helpers ------------------------------------------------------ */

static __attribute__((format(printf, 2, 3))) void st_set(struct kube_status *st, const char *fmt,
							 ...)
{
	va_list ap;

	if (!st)
		return;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
}

static void st_reset(struct kube_status *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
}

static char *dup_or_null(const char *s, bool *ok)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

void kube_conn_clear(struct kube_conn *c)
{
	if (!c)
		return;
	free(c->api_url);
	free(c->token_file);
	free(c->ca_file);
	free(c->client_cert);
	free(c->client_key);
	memset(c, 0, sizeof(*c));
}

static int conn_copy(struct kube_conn *dst, const struct kube_conn *src)
{
	bool ok = true;

	memset(dst, 0, sizeof(*dst));
	dst->api_url = dup_or_null(src->api_url, &ok);
	dst->token_file = dup_or_null(src->token_file, &ok);
	dst->ca_file = dup_or_null(src->ca_file, &ok);
	dst->client_cert = dup_or_null(src->client_cert, &ok);
	dst->client_key = dup_or_null(src->client_key, &ok);
	dst->in_cluster = src->in_cluster;
	if (!ok) {
		kube_conn_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* ---- in-cluster detection ----------------------------------------------- */

/* KUBERNETES_SERVICE_HOST is an IP (IPv6 without brackets) or a name: nothing that could
 * smuggle a path, user info or another scheme into the URL. */
static bool host_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") == n;
}

static bool port_ok(const char *s)
{
	size_t n = strlen(s);
	long v;

	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return false;
	v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

static int in_cluster(const char *root, struct kube_conn *out, struct kube_status *st)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char token[PATH_MAX], ca[PATH_MAX];
	bool v6;
	int n;

	if (!root)
		root = "";
	if (!host || !*host || !port || !*port) {
		st_set(st, "not in a pod (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset) "
			   "and kube.api_url not set");
		return -ENODEV;
	}
	if (!host_ok(host) || !port_ok(port)) {
		st_set(st,
		       "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not a host and port");
		return -EINVAL;
	}
	n = snprintf(token, sizeof(token), "%s%s/token", root, KUBE_SA_DIR);
	if (n < 0 || (size_t)n >= sizeof(token) ||
	    snprintf(ca, sizeof(ca), "%s%s/ca.crt", root, KUBE_SA_DIR) >= (int)sizeof(ca)) {
		st_set(st, "service-account path too long");
		return -ENAMETOOLONG;
	}
	/* A pod with automountServiceAccountToken: false has the variables but no token. */
	if (access(token, R_OK) != 0) {
		int e = errno;

		st_set(st, "in a pod, but no service-account token at %s: %s", token, strerror(e));
		return -ENODEV;
	}
	memset(out, 0, sizeof(*out));
	out->in_cluster = true;
	v6 = strchr(host, ':') != NULL;
	if (asprintf(&out->api_url, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) <
	    0) {
		out->api_url = NULL;
		return -ENOMEM;
	}
	/* Without ca.crt the system CAs still verify the server; we never skip verification. */
	if (!(out->token_file = strdup(token)) ||
	    (access(ca, R_OK) == 0 && !(out->ca_file = strdup(ca)))) {
		kube_conn_clear(out);
		return -ENOMEM;
	}
	return 0;
}

int kube_conn_resolve(const struct config_kube *cfg, const char *root, struct kube_conn *out,
		      struct kube_status *st)
{
	struct kube_conn from_cfg;
	int r;

	st_reset(st);
	if (!cfg || !out)
		return -EINVAL;
	if (cfg->enabled == CONFIG_KUBE_OFF) {
		st_set(st, "kube.enabled is false");
		return -ENODEV;
	}
	if (cfg->api_url) {
		from_cfg = (struct kube_conn){
			.api_url = cfg->api_url,
			.token_file = cfg->token_file,
			.ca_file = cfg->ca_file,
			.client_cert = cfg->client_cert,
			.client_key = cfg->client_key,
		};
		r = conn_copy(out, &from_cfg);
		if (r == 0) {
			size_t n = strlen(out->api_url);

			/* One spelling, so paths append with a single '/'. */
			while (n > 0 && out->api_url[n - 1] == '/')
				out->api_url[--n] = '\0';
		}
		return r;
	}
	r = in_cluster(root, out, st);
	if (r == -ENODEV && cfg->enabled == CONFIG_KUBE_ON) {
		if (st)
			strncat(st->message, " (kube.enabled is true)",
				sizeof(st->message) - strlen(st->message) - 1);
		return -EINVAL;
	}
	return r;
}

/* ---- the client --------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

/* Once per process; never cleaned up, as other rooms (resize/) may use libcurl too. */
static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The host of an http:// URL must be loopback; https:// may go anywhere. */
static int check_url(const char *url, struct kube_status *st)
{
	char host[64];
	unsigned char a[16];
	const char *h;
	size_t n;

	if (strncmp(url, "https://", 8) == 0 && url[8])
		return 0;
	if (strncmp(url, "http://", 7) != 0) {
		st_set(st, "api_url must start with https://");
		return -EINVAL;
	}
	h = url + 7;
	if (*h == '[') {
		n = strcspn(++h, "]");
	} else {
		n = strcspn(h, ":/");
	}
	if (n == 0 || n >= sizeof(host))
		goto refuse;
	memcpy(host, h, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, a) == 1 && a[0] == 127)
		return 0;
	if (inet_pton(AF_INET6, host, a) == 1 && memcmp(a, in6addr_loopback.s6_addr, 16) == 0)
		return 0;
refuse:
	st_set(st, "http:// is only allowed to a loopback address: %s", url);
	return -EINVAL;
}

int kube_client_new(const struct kube_conn *conn, struct kube_client **out, struct kube_status *st)
{
	struct kube_client *c;
	int r;

	st_reset(st);
	if (!conn || !conn->api_url || !out)
		return -EINVAL;
	if ((r = check_url(conn->api_url, st)) < 0)
		return r;
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK) {
		st_set(st, "curl_global_init: %s", curl_easy_strerror(curl_init_result));
		return -ENOMEM;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (conn_copy(&c->conn, conn) < 0 || !(c->h = curl_easy_init())) {
		kube_client_free(c);
		return -ENOMEM;
	}
	atomic_init(&c->interrupted, false);
	*out = c;
	return 0;
}

struct kube_client *kube_client_free(struct kube_client *c)
{
	if (!c)
		return NULL;
	if (c->h)
		curl_easy_cleanup(c->h);
	kube_conn_clear(&c->conn);
	free(c);
	return NULL;
}

void kube_client_interrupt(struct kube_client *c)
{
	if (c)
		atomic_store(&c->interrupted, true);
}

/* ---- Status errors ------------------------------------------------------ */

static int errno_for(long code, const char *reason)
{
	if (code >= 200 && code < 300)
		return 0;
	switch (code) {
	case 400:
	case 422:
		return -EINVAL;
	case 401:
		return -EACCES;
	case 403:
		return -EPERM;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 409:
		return strcmp(reason, "AlreadyExists") == 0 ? -EEXIST : -ESTALE;
	case 410:
		return -ENODATA;
	case 413:
		return -E2BIG;
	case 429:
	case 503:
		return -EAGAIN;
	case 504:
		return -ETIMEDOUT;
	default:
		break;
	}
	if (code >= 500)
		return -EIO;
	return code >= 400 ? -EINVAL : -EPROTO; /* 1xx/3xx: we follow no redirects */
}

/* Fills st from a decoded `kind: Status` object; false when it is not one. */
static bool status_from_json(const json_t *o, struct kube_status *st)
{
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *reason = json_string_value(json_object_get(o, "reason"));
	const char *msg = json_string_value(json_object_get(o, "message"));
	json_t *code = json_object_get(o, "code");

	if (!json_is_object(o) || !kind || strcmp(kind, "Status") != 0)
		return false;
	if (json_is_integer(code) && json_integer_value(code) > 0)
		st->code = (long)json_integer_value(code);
	snprintf(st->reason, sizeof(st->reason), "%s", reason ? reason : "");
	snprintf(st->message, sizeof(st->message), "%s", msg ? msg : "");
	return true;
}

int kube_status_parse(long code, const char *body, size_t len, struct kube_status *st)
{
	struct kube_status tmp;
	json_t *o;
	int r;

	if (!st)
		st = &tmp;
	st_reset(st);
	st->code = code;
	if (code >= 200 && code < 300)
		return 0;
	o = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	if (!status_from_json(o, st) || !st->message[0])
		snprintf(st->message, sizeof(st->message), "HTTP %ld%s", code,
			 o ? "" : " (not a Kubernetes Status)");
	/* The HTTP status decides; Status.code repeats it, but a proxy may have answered. */
	st->code = code;
	r = errno_for(code, st->reason);
	json_decref(o);
	return r;
}

/* ---- requests ----------------------------------------------------------- */

struct buf {
	char *p;
	size_t len;
	size_t cap;
	bool overflow;
};

static bool buf_append(struct buf *b, const char *data, size_t n)
{
	if (n > MAX_RESPONSE - b->len) {
		b->overflow = true;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return false;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

/* What a transfer writes into: a whole body, or (watch) events cut at newlines. */
struct xfer {
	struct kube_client *c;
	struct buf body;
	/* watch only */
	kube_watch_fn *fn;
	void *userdata;
	int stop;  /* fn's non-zero result, or a -errno from the stream */
	long code; /* the response status, read once the first bytes arrive */
	struct kube_status *st;
};

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct kube_client *c = userdata;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return atomic_load(&c->interrupted) ? 1 : 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;

	return buf_append(&x->body, data, size * nmemb) ? size * nmemb : 0;
}

static int errno_for_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/*
 * Reads the bearer token now, not once at start: kubelet rotates projected service-account
 * tokens in place, and a token read at start would expire under us.
 */
static int read_token(const char *file, char **out, struct kube_status *st)
{
	int r = secret_read_token(file, MAX_TOKEN, out);

	if (r < 0)
		st_set(st, "token file %s: %s", file,
		       r == -EINVAL  ? "empty or holds spaces or control characters"
		       : r == -EFBIG ? "larger than 64 KiB"
				     : strerror(-r));
	return r;
}

static bool path_ok(const char *path)
{
	if (!path || path[0] != '/')
		return false;
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#')
			return false;
	return true;
}

/* curl_slist_append returns NULL on failure and leaves the list as it was. */
static bool add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (l)
		*list = l;
	return l != NULL;
}

/*
 * One HTTP exchange. Sets up the handle from scratch (curl_easy_reset keeps the connection
 * cache, so keep-alive survives), sends `body` with `content_type` if given, and leaves the
 * status in *code. Returns 0 when a response came (whatever its status) or -errno.
 */
static int perform(struct kube_client *c, const char *method, const char *path,
		   const char *content_type, const char *body, struct xfer *x,
		   curl_write_callback write_cb, long timeout_ms, long *code,
		   struct kube_status *st)
{
	struct curl_slist *hdrs = NULL;
	char *url = NULL, *token = NULL, *auth = NULL, ctype[96];
	CURLcode rc;
	int r = 0;

	*code = 0;
	if (atomic_load(&c->interrupted)) {
		st_set(st, "interrupted");
		return -ECANCELED;
	}
	if (!path_ok(path)) {
		st_set(st, "bad request path");
		return -EINVAL;
	}
	if (c->conn.token_file && (r = read_token(c->conn.token_file, &token, st)) < 0)
		return r;
	if (asprintf(&url, "%s%s", c->conn.api_url, path) < 0) {
		url = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (content_type)
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
	if (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0)
		auth = NULL;
	/* "Expect:" with no value: no 100-continue round trip before a body. */
	if ((token && !auth) || !add_header(&hdrs, "Accept: application/json") ||
	    !add_header(&hdrs, "Expect:") || (content_type && !add_header(&hdrs, ctype)) ||
	    (auth && !add_header(&hdrs, auth))) {
		r = -ENOMEM;
		goto out;
	}

	curl_easy_reset(c->h);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, "pmemd");
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* A watch may sit idle for minutes; keepalive notices a peer that vanished behind NAT. */
	curl_easy_setopt(c->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->conn.ca_file)
		curl_easy_setopt(c->h, CURLOPT_CAINFO, c->conn.ca_file);
	if (c->conn.client_cert) {
		curl_easy_setopt(c->h, CURLOPT_SSLCERT, c->conn.client_cert);
		curl_easy_setopt(c->h, CURLOPT_SSLKEY, c->conn.client_key);
	}
	/* A proxy from the environment may serve the cluster, never a loopback address. */
	if (strncmp(c->conn.api_url, "http://", 7) == 0)
		curl_easy_setopt(c->h, CURLOPT_PROXY, "");
	if (body) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	}

	rc = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, code);
	/* The handle must not keep pointers into memory freed below. */
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, NULL);
	if (rc == CURLE_WRITE_ERROR && x->stop) {
		r = 0; /* the watch callback asked to stop, or the stream was bad */
	} else if (rc == CURLE_WRITE_ERROR && x->body.overflow) {
		st_set(st, "response larger than %u bytes", MAX_RESPONSE);
		r = -EFBIG;
	} else if (rc != CURLE_OK) {
		r = errno_for_curl(rc);
		st_set(st, "%s %s: %s", method, c->conn.api_url,
		       c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
	}
	log_debug("kube_request", "method=%s path=%s code=%ld result=%d", method, path, *code, r);
out:
	/* The token is in the header list too: wipe every copy we made. */
	for (struct curl_slist *l = hdrs; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(hdrs);
	secret_free(auth);
	secret_free(token);
	free(url);
	return r;
}

static int request(struct kube_client *c, const char *method, const char *path,
		   const char *content_type, const json_t *body, json_t **out,
		   struct kube_status *st)
{
	struct xfer x = {.c = c};
	char *text = NULL;
	json_t *o;
	long code;
	int r;

	st_reset(st);
	if (!c)
		return -EINVAL;
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return -ENOMEM;
	r = perform(c, method, path, content_type, text, &x, on_body, REQUEST_TIMEOUT_MS, &code,
		    st);
	free(text);
	if (r == 0 && !(code >= 200 && code < 300))
		r = kube_status_parse(code, x.body.p, x.body.len, st);
	if (r == 0 && out) {
		json_error_t jerr = {.text = "empty body"};

		o = x.body.len ? json_loadb(x.body.p, x.body.len, 0, &jerr) : NULL;
		if (!json_is_object(o)) {
			st_set(st, "response to %s %s is not a JSON object: %s", method, path,
			       o ? "another JSON value" : jerr.text);
			json_decref(o);
			r = -EBADMSG;
		} else {
			*out = o;
		}
	}
	if (st && r == 0)
		st->code = code;
	free(x.body.p);
	return r;
}

int kube_get(struct kube_client *c, const char *path, json_t **out, struct kube_status *st)
{
	return request(c, "GET", path, NULL, NULL, out, st);
}

int kube_create(struct kube_client *c, const char *path, const json_t *body, json_t **out,
		struct kube_status *st)
{
	return request(c, "POST", path, "application/json", body, out, st);
}

int kube_put(struct kube_client *c, const char *path, const json_t *body, json_t **out,
	     struct kube_status *st)
{
	return request(c, "PUT", path, "application/json", body, out, st);
}

int kube_merge_patch(struct kube_client *c, const char *path, const json_t *patch, json_t **out,
		     struct kube_status *st)
{
	return request(c, "PATCH", path, "application/merge-patch+json", patch, out, st);
}

/* ---- list --------------------------------------------------------------- */

/* path + (?|&) + key=escaped(value) */
static char *with_param(CURL *h, const char *path, const char *key, const char *value)
{
	char *esc = curl_easy_escape(h, value, 0), *s = NULL;

	if (!esc)
		return NULL;
	if (asprintf(&s, "%s%c%s=%s", path, strchr(path, '?') ? '&' : '?', key, esc) < 0)
		s = NULL;
	curl_free(esc);
	return s;
}

int kube_list(struct kube_client *c, const char *path, json_t **items, char **resource_version,
	      struct kube_status *st)
{
	json_t *all = json_array(), *page = NULL;
	char *rv = NULL, *next = NULL;
	int r = 0;

	if (!c || !items || !resource_version) {
		json_decref(all);
		return -EINVAL;
	}
	if (!all)
		return -ENOMEM;
	for (unsigned n = 0;; n++) {
		const char *cont, *prv;
		json_t *list;

		if (n == MAX_PAGES) {
			st_set(st, "more than %u pages", MAX_PAGES);
			r = -EFBIG;
			break;
		}
		r = kube_get(c, next ? next : path, &page, st);
		if (r < 0)
			break;
		/* An empty list may come as "items": null. */
		list = json_object_get(page, "items");
		if (list && !json_is_array(list) && !json_is_null(list)) {
			st_set(st, "%s: items is not a list", path);
			r = -EBADMSG;
			break;
		}
		if (json_is_array(list) && json_array_extend(all, list) < 0) {
			r = -ENOMEM;
			break;
		}
		/* Every page of one list is the same snapshot; the first page names it. */
		prv = json_string_value(
			json_object_get(json_object_get(page, "metadata"), "resourceVersion"));
		if (!rv && !(rv = strdup(prv ? prv : ""))) {
			r = -ENOMEM;
			break;
		}
		cont = json_string_value(
			json_object_get(json_object_get(page, "metadata"), "continue"));
		if (!cont || !*cont)
			break;
		free(next);
		if (!(next = with_param(c->h, path, "continue", cont))) {
			r = -ENOMEM;
			break;
		}
		json_decref(page);
		page = NULL;
	}
	json_decref(page);
	free(next);
	if (r < 0) {
		json_decref(all);
		free(rv);
		return r;
	}
	*items = all;
	*resource_version = rv;
	return 0;
}

/* ---- watch -------------------------------------------------------------- */

/* One line of the stream: {"type": "...", "object": {...}}. Returns 0 or a stop value. */
static int watch_line(struct xfer *x, const char *line, size_t n)
{
	json_error_t jerr;
	json_t *ev, *obj;
	const char *type;
	int r;

	while (n > 0 && strchr(" \t\r", line[n - 1]))
		n--;
	if (n == 0)
		return 0;
	ev = json_loadb(line, n, 0, &jerr);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		st_set(x->st, "watch: not an event: %s", ev ? "no type or object" : jerr.text);
		json_decref(ev);
		return -EBADMSG;
	}
	if (strcmp(type, "ERROR") == 0) {
		struct kube_status tmp, *st = x->st ? x->st : &tmp;

		st_reset(st);
		if (!status_from_json(obj, st))
			snprintf(st->message, sizeof(st->message), "watch: ERROR event");
		r = errno_for(st->code, st->reason);
		json_decref(ev);
		return r ? r : -EIO;
	}
	r = x->fn(type, obj, x->userdata);
	json_decref(ev);
	return r;
}

static size_t on_watch(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	char *nl;

	if (!x->code)
		curl_easy_getinfo(x->c->h, CURLINFO_RESPONSE_CODE, &x->code);
	if (!buf_append(&x->body, data, n))
		return 0;
	if (x->code < 200 || x->code >= 300)
		return n; /* an error body: read whole, parsed as a Status afterwards */
	while ((nl = memchr(x->body.p, '\n', x->body.len))) {
		size_t len = (size_t)(nl - x->body.p);

		x->stop = watch_line(x, x->body.p, len);
		memmove(x->body.p, nl + 1, x->body.len - len - 1);
		x->body.len -= len + 1;
		x->body.p[x->body.len] = '\0';
		if (x->stop)
			return 0;
	}
	return n;
}

int kube_watch(struct kube_client *c, const char *path, const char *rv, unsigned timeout_s,
	       kube_watch_fn *fn, void *userdata, struct kube_status *st)
{
	struct xfer x = {.c = c, .fn = fn, .userdata = userdata, .st = st};
	char *p1 = NULL, *p2 = NULL, *url = NULL, secs[16];
	long code;
	int r;

	st_reset(st);
	if (!c || !path || !fn)
		return -EINVAL;
	if (!(p1 = with_param(c->h, path, "watch", "1")) ||
	    (rv && *rv && !(p2 = with_param(c->h, p1, "resourceVersion", rv)))) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(secs, sizeof(secs), "%u", timeout_s);
	url = with_param(c->h, p2 ? p2 : p1, "allowWatchBookmarks", "true");
	if (url && timeout_s) {
		char *t = with_param(c->h, url, "timeoutSeconds", secs);

		free(url);
		url = t;
	}
	if (!url) {
		r = -ENOMEM;
		goto out;
	}
	/* The server ends the stream after timeoutSeconds; our own limit only backs it up. */
	r = perform(c, "GET", url, NULL, NULL, &x, on_watch,
		    timeout_s ? (long)(timeout_s + 30) * 1000 : 0L, &code, st);
	if (r == 0 && x.stop)
		r = x.stop;
	else if (r == 0 && !(code >= 200 && code < 300))
		r = kube_status_parse(code, x.body.p, x.body.len, st);
	else if (r == 0 && x.body.len) /* a last event without its newline */
		r = watch_line(&x, x.body.p, x.body.len);
	if (st && r == 0)
		st->code = code;
out:
	free(x.body.p);
	free(p1);
	free(p2);
	free(url);
	return r;
}

/* ---- paths -------------------------------------------------------------- */

int kube_pmemnode_path(char *buf, size_t len, const char *name, const char *sub)
{
	int n;

	if (!buf || (name && !names_is_dns_subdomain(name, strlen(name))) ||
	    (sub && (!name || !names_is_dns_subdomain(sub, strlen(sub)))))
		return -EINVAL;
	n = snprintf(buf, len, "/apis/%s/%s/%s%s%s%s%s", KUBE_GROUP, KUBE_VERSION, KUBE_PLURAL,
		     name ? "/" : "", name ? name : "", sub ? "/" : "", sub ? sub : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
