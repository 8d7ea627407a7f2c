/* support: see support.h. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"

struct config *cfg_of(const char *yaml)
{
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;
	int r = config_parse("t.yaml", yaml, strlen(yaml), NULL, &cfg, &errs);

	if (r < 0)
		config_errors_print(errs, stderr);
	config_errors_free(errs);
	assert_int_equal(r, 0);
	return cfg;
}

uint16_t free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	close(fd);
	return ntohs(sin.sin_port);
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n;

	if (r->len + len >= sizeof(r->body))
		len = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;

	if (sz * n > 6 && strncasecmp(p, "ETag: ", 6) == 0)
		snprintf(r->etag, sizeof(r->etag), "%.*s", (int)(sz * n - 8), p + 6);
	return sz * n;
}

struct reply *http_inm(uint16_t port, const char *method, const char *path, const char *body,
		       const char *if_none_match)
{
	static struct reply r;
	char url[512], h[128];
	struct curl_slist *hd = NULL;
	CURL *c = curl_easy_init();

	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	if (body) {
		hd = curl_slist_append(hd, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (if_none_match) {
		snprintf(h, sizeof(h), "If-None-Match: %s", if_none_match);
		hd = curl_slist_append(hd, h);
	}
	if (hd)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hd);
	return &r;
}

struct reply *http(uint16_t port, const char *method, const char *path, const char *body)
{
	return http_inm(port, method, path, body, NULL);
}

bool test_quick(void)
{
	const char *q = getenv("PMEMD_TEST_QUICK");

	return q && *q && strcmp(q, "0") != 0;
}

int test_iterations(int full, int quick)
{
	return test_quick() ? quick : full;
}
