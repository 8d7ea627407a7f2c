/*
 * fake-http: a loopback HTTP server with canned answers for the remote usage sources' tests
 * (test-resize-prometheus.c, test-resize-kubelet.c): it records what came (method, path,
 * Authorization, the decoded query= of a form) and answers the first canned entry whose needle
 * the request's query or path holds, after an optional delay, or with a huge body.
 */
#ifndef PMEMD_TEST_FAKE_HTTP_H
#define PMEMD_TEST_FAKE_HTTP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_HTTP_CANNED 8

struct fake_http_canned {
	const char *needle; /* answers a request whose query (or path) holds this; NULL = any */
	unsigned status;
	const char *body;
};

struct fake_http {
	struct MHD_Daemon *d;
	uint16_t port;
	pthread_mutex_t mu; /* held while reading or changing the fields below */
	struct fake_http_canned canned[FAKE_HTTP_CANNED];
	unsigned delay_ms; /* before answering */
	size_t huge;	   /* > 0: answer 200 with this many bytes */
	/* what came last */
	unsigned requests;
	char last_auth[256];
	char last_query[2048];
	char last_method[16];
	char last_path[128];
};

/* 0, or -1 when the server could not start. */
int fake_http_start(struct fake_http *f);
void fake_http_stop(struct fake_http *f);
/* Sets canned answer i (and ends the list after it). */
void fake_http_can(struct fake_http *f, int i, const char *needle, unsigned status,
		   const char *body);
void fake_http_delay(struct fake_http *f, unsigned ms);
void fake_http_huge(struct fake_http *f, size_t bytes);

#endif
