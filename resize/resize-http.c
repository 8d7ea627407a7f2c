/* resize-http: the HTTP client the remote usage sources share (libcurl, bearer token, CA). */
#include "resize/resize-http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "util/secret.h"

#define DEFAULT_TIMEOUT_MS 5000u
#define MAX_TOKEN	   (64u << 10)

struct resize_http {
	char *base;
	char *token_file, *ca_file;
	unsigned timeout_ms;
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
	/* The token as last read, and the file's identity then: re-read only when it changes
	 * (kubelet rotates projected tokens by swapping a symlink, which changes the inode). */
	char *token;
	struct stat token_st;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

/* Once per process and never cleaned up: kube/ uses libcurl too (curl counts the calls). */
static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int set_err(char *err, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Whether an http:// URL's host is a loopback address (literal, or "localhost"). */
static bool loopback_host(const char *url)
{
	const char *h = url + 7;
	unsigned char a[16];
	char host[64];
	size_t n;

	if (*h == '[')
		n = strcspn(++h, "]");
	else
		n = strcspn(h, ":/");
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, in6addr_loopback.s6_addr, 16) == 0;
}

static bool dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return true;
	return (*dst = strdup(src)) != NULL;
}

int resize_http_new(const char *base_url, const char *token_file, const char *ca_file,
		    unsigned timeout_ms, struct resize_http **out, char *err, size_t err_len)
{
	struct resize_http *h;
	size_t ulen;

	if (!out)
		return set_err(err, err_len, -EINVAL, "no output");
	if (!base_url ||
	    (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0))
		return set_err(err, err_len, -EINVAL, "url must start with http:// or https://: %s",
			       base_url ? base_url : "(none)");
	for (const char *c = base_url; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#')
			return set_err(
				err, err_len, -EINVAL,
				"url holds a space, control character, query or fragment: %s",
				base_url);
	if (token_file && token_file[0] != '/')
		return set_err(err, err_len, -EINVAL,
			       "bearer token file must be an absolute path: %s", token_file);
	/* A bearer token in clear text over a network is a token given away. */
	if (token_file && strncmp(base_url, "http://", 7) == 0 && !loopback_host(base_url))
		return set_err(
			err, err_len, -EINVAL,
			"a bearer token is only sent over https:// (or http:// to a loopback "
			"address): %s",
			base_url);
	if (ca_file && ca_file[0] != '/')
		return set_err(err, err_len, -EINVAL, "CA file must be an absolute path: %s",
			       ca_file);
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return set_err(err, err_len, -ENOMEM, "curl_global_init: %s",
			       curl_easy_strerror(curl_init_result));
	if (!(h = calloc(1, sizeof(*h))))
		return set_err(err, err_len, -ENOMEM, "out of memory");
	ulen = strlen(base_url);
	while (ulen > 0 && base_url[ulen - 1] == '/')
		ulen--;
	if (!(h->base = strndup(base_url, ulen)) || !dup_opt(&h->token_file, token_file) ||
	    !dup_opt(&h->ca_file, ca_file) || !(h->h = curl_easy_init())) {
		resize_http_free(h);
		return set_err(err, err_len, -ENOMEM, "out of memory");
	}
	h->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
	*out = h;
	return 0;
}

struct resize_http *resize_http_free(struct resize_http *h)
{
	if (!h)
		return NULL;
	if (h->h)
		curl_easy_cleanup(h->h);
	free(h->base);
	free(h->token_file);
	free(h->ca_file);
	secret_free(h->token);
	free(h);
	return NULL;
}

const char *resize_http_base(const struct resize_http *h)
{
	return h->base;
}

char *resize_http_form(struct resize_http *h, const char *name, const char *value)
{
	char *esc = curl_easy_escape(h->h, value, 0), *s = NULL;

	if (esc && asprintf(&s, "%s=%s", name, esc) < 0)
		s = NULL;
	curl_free(esc);
	return s;
}

struct body {
	char *data;
	size_t len, cap;
	bool overflow;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;

	if (n > RESIZE_HTTP_MAX_BODY - b->len) {
		b->overflow = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(d = realloc(b->data, cap)))
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
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

/* The token, re-read when the file's identity or times changed since the last read. */
static int token_get(struct resize_http *h, char *err, size_t err_len)
{
	struct stat st;
	char *t = NULL;
	int r;

	if (!h->token_file)
		return 0;
	if (stat(h->token_file, &st) < 0) {
		r = -errno;
		return set_err(err, err_len, -EACCES, "token file %s: %s", h->token_file,
			       strerror(-r));
	}
	if (h->token && st.st_dev == h->token_st.st_dev && st.st_ino == h->token_st.st_ino &&
	    st.st_size == h->token_st.st_size && st.st_mtim.tv_sec == h->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == h->token_st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == h->token_st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == h->token_st.st_ctim.tv_nsec)
		return 0;
	r = secret_read_token(h->token_file, MAX_TOKEN, &t);
	if (r < 0)
		return set_err(err, err_len, -EACCES, "token file %s: %s", h->token_file,
			       r == -EINVAL  ? "empty or holds spaces or control characters"
			       : r == -EFBIG ? "larger than 64 KiB"
					     : strerror(-r));
	secret_free(h->token);
	h->token = t;
	h->token_st = st;
	log_debug("resize_http_token", "file=%s result=reread", h->token_file);
	return 0;
}

void resize_http_describe(const char *body, size_t len, char *out, size_t out_len)
{
	json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *type = json_string_value(json_object_get(root, "errorType"));
	const char *msg = json_string_value(json_object_get(root, "error"));
	size_t n = 0;

	if (!out_len)
		goto out;
	if (!msg)
		msg = json_string_value(json_object_get(root, "message"));
	if (msg) {
		if (type)
			snprintf(out, out_len, "%s: %s", type, msg);
		else
			snprintf(out, out_len, "%s", msg);
		goto out;
	}
	/* At most 80 printable bytes; a body may be anything. */
	for (size_t i = 0; body && i < len && n + 1 < out_len && n < 80; i++) {
		unsigned char c = (unsigned char)body[i];

		out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, out_len, "empty body");
out:
	json_decref(root);
}

/* curl_slist_append returns NULL on failure and leaves the list as it was. */
static bool add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (l)
		*list = l;
	return l != NULL;
}

int resize_http_fetch(struct resize_http *h, const char *path, const char *form, long *code,
		      char **body, size_t *len, char *err, size_t err_len)
{
	struct curl_slist *hdrs = NULL;
	struct body b = {0};
	char *url = NULL, *auth = NULL;
	CURLcode rc;
	int r;

	*code = 0;
	*body = NULL;
	*len = 0;
	if ((r = token_get(h, err, err_len)) < 0)
		return r;
	if (asprintf(&url, "%s%s", h->base, path) < 0) {
		url = NULL;
		r = set_err(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
	if (h->token && asprintf(&auth, "Authorization: Bearer %s", h->token) < 0)
		auth = NULL;
	/* "Expect:" with no value: no 100-continue round trip before a form. */
	if ((h->token && !auth) || !add_header(&hdrs, "Accept: application/json") ||
	    !add_header(&hdrs, "Expect:") || (auth && !add_header(&hdrs, auth))) {
		r = set_err(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}

	curl_easy_reset(h->h); /* keeps the connection cache: keep-alive across requests */
	h->errbuf[0] = '\0';
	curl_easy_setopt(h->h, CURLOPT_URL, url);
	if (form) {
		curl_easy_setopt(h->h, CURLOPT_POST, 1L);
		curl_easy_setopt(h->h, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(h->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
	} else {
		curl_easy_setopt(h->h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->h, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(h->h, CURLOPT_USERAGENT, "pmemd");
	curl_easy_setopt(h->h, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
	curl_easy_setopt(h->h, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
	curl_easy_setopt(h->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h->h, CURLOPT_SSL_VERIFYHOST, 2L);
	/* A proxy from the environment may reach a remote server, never a loopback one. */
	curl_easy_setopt(h->h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	if (h->ca_file)
		curl_easy_setopt(h->h, CURLOPT_CAINFO, h->ca_file);

	rc = curl_easy_perform(h->h);
	curl_easy_getinfo(h->h, CURLINFO_RESPONSE_CODE, code);
	/* The handle must not keep pointers into memory freed below. */
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h->h, CURLOPT_ERRORBUFFER, NULL);
	if (rc == CURLE_WRITE_ERROR && b.overflow) {
		r = set_err(err, err_len, -EFBIG, "%s: response larger than %u bytes", url,
			    RESIZE_HTTP_MAX_BODY);
	} else if (rc != CURLE_OK) {
		r = set_err(err, err_len, errno_for_curl(rc), "%s: %s", url,
			    h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
	} else if (!b.data && !(b.data = calloc(1, 1))) {
		r = set_err(err, err_len, -ENOMEM, "out of memory");
	} else {
		*body = b.data;
		*len = b.len;
		b.data = NULL;
		r = 0;
	}
	log_debug("resize_http_fetch", "url=%s code=%ld bytes=%zu result=%d", url, *code, b.len, r);
out:
	for (struct curl_slist *l = hdrs; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(hdrs);
	secret_free(auth);
	free(url);
	free(b.data);
	return r;
}
