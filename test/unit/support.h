/*
 * support: what several unit tests need to drive pmemd's HTTP server for real: a config from
 * YAML text, a free loopback port, and one libcurl request. Linked into every unit test.
 */
#ifndef PMEMD_TEST_SUPPORT_H
#define PMEMD_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct reply {
	long status;
	char body[65536]; /* NUL-terminated, cut at the size */
	size_t len;
	char etag[64]; /* the ETag header's value, "" when none */
};

/* Parses `yaml` (a test failure when it is invalid, with the errors printed). */
struct config *cfg_of(const char *yaml);

/* A loopback TCP port that was free a moment ago. */
uint16_t free_port(void);

/*
 * METHOD http://127.0.0.1:<port><path> with a JSON `body` (or NULL) and If-None-Match (or
 * NULL). Returns a static reply, overwritten by the next call; a transport failure fails the
 * test.
 */
struct reply *http_inm(uint16_t port, const char *method, const char *path, const char *body,
		       const char *if_none_match);

/* The same without If-None-Match. */
struct reply *http(uint16_t port, const char *method, const char *path, const char *body);

/*
 * True when PMEMD_TEST_QUICK is set to anything but "" or "0": test/check valgrind sets it,
 * because memcheck runs code 20-50 times slower. Seeded property loops then run a shorter,
 * still seeded, prefix of their cases; every test still runs.
 */
bool test_quick(void);

/* `full`, or `quick` under PMEMD_TEST_QUICK. */
int test_iterations(int full, int quick);

#endif
