/* fake-http: a loopback HTTP server with canned answers (see fake-http.h). */
#include "fake-http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct upload {
	char *body;
	size_t len;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *body)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct fake_http *f = cls;
	struct upload *u = *con_cls;
	struct fake_http_canned c = {NULL, 404, "{}"};
	const char *auth;
	unsigned delay;
	size_t huge;
	(void)version;

	if (!u) {
		*con_cls = u = calloc(1, sizeof(*u));
		return u ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		u->body = realloc(u->body, u->len + *upload_size + 1);
		if (!u->body)
			abort();
		memcpy(u->body + u->len, upload, *upload_size);
		u->len += *upload_size;
		u->body[u->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&f->mu);
	f->requests++;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	snprintf(f->last_auth, sizeof(f->last_auth), "%s", auth ? auth : "");
	snprintf(f->last_method, sizeof(f->last_method), "%s", method);
	snprintf(f->last_path, sizeof(f->last_path), "%s", url);
	f->last_query[0] = '\0';
	if (u->body && strncmp(u->body, "query=", 6) == 0) {
		int n = 0;
		char *q = curl_easy_unescape(NULL, u->body + 6, 0, &n);

		snprintf(f->last_query, sizeof(f->last_query), "%s", q ? q : "");
		curl_free(q);
	}
	for (int i = 0; i < FAKE_HTTP_CANNED && f->canned[i].body; i++)
		if (!f->canned[i].needle || strstr(f->last_query, f->canned[i].needle) ||
		    strstr(url, f->canned[i].needle)) {
			c = f->canned[i];
			break;
		}
	delay = f->delay_ms;
	huge = f->huge;
	pthread_mutex_unlock(&f->mu);
	if (delay)
		usleep(delay * 1000u);
	if (huge) {
		char *b = malloc(huge);
		struct MHD_Response *r;
		enum MHD_Result ret;

		if (!b)
			abort();
		memset(b, ' ', huge);
		b[0] = '{';
		r = MHD_create_response_from_buffer(huge, b, MHD_RESPMEM_MUST_FREE);
		ret = MHD_queue_response(conn, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	return answer(conn, c.status, c.body);
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

int fake_http_start(struct fake_http *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
				NULL, NULL, handle, f, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (!f->d)
		return -1;
	f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return 0;
}

void fake_http_stop(struct fake_http *f)
{
	if (f->d)
		MHD_stop_daemon(f->d);
	f->d = NULL;
	pthread_mutex_destroy(&f->mu);
}

void fake_http_can(struct fake_http *f, int i, const char *needle, unsigned status,
		   const char *body)
{
	pthread_mutex_lock(&f->mu);
	f->canned[i] = (struct fake_http_canned){needle, status, body};
	if (i + 1 < FAKE_HTTP_CANNED)
		f->canned[i + 1] = (struct fake_http_canned){0};
	pthread_mutex_unlock(&f->mu);
}

void fake_http_delay(struct fake_http *f, unsigned ms)
{
	pthread_mutex_lock(&f->mu);
	f->delay_ms = ms;
	pthread_mutex_unlock(&f->mu);
}

void fake_http_huge(struct fake_http *f, size_t bytes)
{
	pthread_mutex_lock(&f->mu);
	f->huge = bytes;
	pthread_mutex_unlock(&f->mu);
}
