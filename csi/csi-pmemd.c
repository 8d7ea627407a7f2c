/* csi-pmemd: libcurl requests to pmemd's REST API, one handle per request, JSON in and out. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csi/csi-pmemd.h"
#include "util/errmsg.h"

/* pmemd's own bodies are capped at 1 MiB in; a list of many volumes out can be larger. */
#define MAX_RESPONSE (16u << 20)

struct csi_pmemd {
	char *socket_path;
	char *base_url;
	long timeout_ms;
};

struct buf {
	char *p;
	size_t n;
	bool too_large;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int csi_pmemd_new(const char *socket_path, const char *url, long timeout_ms, struct csi_pmemd **out,
		  char *err, size_t err_len)
{
	struct csi_pmemd *c;
	size_t n;

	if (!socket_path && !url)
		return err_fail(-EINVAL, err, err_len, "a pmemd socket or URL is required");
	if (!socket_path && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return err_fail(-EINVAL, err, err_len, "pmemd URL %.200s: must start with http://",
				url);
	if (timeout_ms <= 0)
		return err_fail(-EINVAL, err, err_len, "timeout: must be positive");
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return err_fail(-ENOMEM, err, err_len, "curl_global_init: %s",
				curl_easy_strerror(curl_init_result));
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	c->socket_path = socket_path ? strdup(socket_path) : NULL;
	c->base_url = strdup(socket_path ? "http://localhost" : url);
	if ((socket_path && !c->socket_path) || !c->base_url) {
		csi_pmemd_free(c);
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	}
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	c->timeout_ms = timeout_ms;
	*out = c;
	return 0;
}

struct csi_pmemd *csi_pmemd_free(struct csi_pmemd *c)
{
	if (!c)
		return NULL;
	free(c->socket_path);
	free(c->base_url);
	free(c);
	return NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t len = size * nmemb;
	char *p;

	if (b->n + len > MAX_RESPONSE) {
		b->too_large = true;
		return 0;
	}
	p = realloc(b->p, b->n + len + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, data, len);
	b->p = p;
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

int csi_pmemd_call(struct csi_pmemd *c, const char *method, const char *path, const json_t *body,
		   long timeout_ms, long *status, json_t **resp, char *err, size_t err_len)
{
	struct curl_slist *hdrs = NULL, *l;
	struct buf b = {0};
	char *url = NULL, *req = NULL, errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	CURL *h = NULL;
	int ret = 0;

	*status = 0;
	*resp = NULL;
	if (!path || path[0] != '/')
		return err_fail(-EINVAL, err, err_len, "bad request path");
	if (asprintf(&url, "%s%s", c->base_url, path) < 0)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	if (body && !(req = json_dumps(body, JSON_COMPACT))) {
		ret = err_fail(-ENOMEM, err, err_len, "out of memory");
		goto out;
	}
	h = curl_easy_init();
	if (!h) {
		ret = err_fail(-ENOMEM, err, err_len, "out of memory");
		goto out;
	}
	/* "Expect:" with no value: no 100-continue round trip before a body. */
	l = curl_slist_append(hdrs, "Expect:");
	if (l)
		hdrs = l;
	if (l && req) {
		l = curl_slist_append(hdrs, "Content-Type: application/json");
		if (l)
			hdrs = l;
	}
	if (!l) {
		ret = err_fail(-ENOMEM, err, err_len, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (c->socket_path)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pmem-csi");
	/* No point waiting for pmemd after the CSI client has given up. */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 timeout_ms > 0 && timeout_ms < c->timeout_ms ? timeout_ms : c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (req) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(req));
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		/* curl's own text names "localhost port 80" for a unix socket: name the socket. */
		if (b.too_large)
			ret = err_fail(-EFBIG, err, err_len, "pmemd answered more than 16 MiB");
		else if (rc == CURLE_OPERATION_TIMEDOUT)
			ret = err_fail(-ETIMEDOUT, err, err_len,
				       "pmemd did not answer %s %s in time", method, path);
		else if (c->socket_path)
			ret = err_fail(-ECONNREFUSED, err, err_len,
				       "pmemd is unreachable on %s: %s", c->socket_path,
				       curl_easy_strerror(rc));
		else
			ret = err_fail(-ECONNREFUSED, err, err_len,
				       "pmemd is unreachable at %s: %s", c->base_url,
				       errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (b.n > 0)
		*resp = json_loadb(b.p, b.n, 0, NULL);
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(url);
	free(req);
	free(b.p);
	return ret;
}
