/* csi-pmemd: the shim's HTTP client to its own node's pmemd (unix socket or loopback URL). */
#ifndef PMEMD_CSI_PMEMD_H
#define PMEMD_CSI_PMEMD_H

#include <jansson.h>
#include <stddef.h>

struct csi_pmemd;

/*
 * A client for pmemd at a unix socket `socket_path` (with any URL host) or,
 * when socket_path is NULL, at `url` (http://host:port, no trailing slash).
 * Each request uses its own curl handle, so one client serves many threads.
 * Returns 0 or -errno with the reason in err.
 */
int csi_pmemd_new(const char *socket_path, const char *url, long timeout_ms, struct csi_pmemd **out,
		  char *err, size_t err_len);

/* Frees the client. Accepts NULL, returns NULL. */
struct csi_pmemd *csi_pmemd_free(struct csi_pmemd *c);

/*
 * One request: `method` on `path` (already escaped; starts with '/'), with
 * `body` (NULL: none) sent as JSON, given up after `timeout_ms` (0 or more
 * than the client's timeout: the client's). On an answer, whatever its status, returns
 * 0 with the status in *status and the parsed JSON body in *resp (NULL when
 * the body is empty or not JSON; the caller decrefs). Returns -errno when
 * pmemd could not be reached or did not answer (the curl reason in err).
 */
int csi_pmemd_call(struct csi_pmemd *c, const char *method, const char *path, const json_t *body,
		   long timeout_ms, long *status, json_t **resp, char *err, size_t err_len);

#endif
