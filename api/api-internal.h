/* api-internal: what the files of api/ share and nobody else sees. */
#ifndef PMEMD_API_INTERNAL_H
#define PMEMD_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

/* ---- routing (api-router.c) ---- */

/* The value of a hex digit, or -1: for %XX escapes in paths and query strings. */
int api_hex_digit(char c);

/* ---- metrics (api-metrics.c) ---- */

struct api_metrics;

/* `routes` must outlive the metrics; index n_routes stands for "unmatched". */
struct api_metrics *api_metrics_new(const struct api_route *routes, size_t n_routes);
struct api_metrics *api_metrics_free(struct api_metrics *m);
void api_metrics_observe(struct api_metrics *m, size_t route, const char *method, unsigned status,
			 double seconds);
uint64_t api_metrics_total(struct api_metrics *m);
/* Renders the Prometheus text exposition; malloc'd, *len set. */
char *api_metrics_render(struct api_metrics *m, double uptime_seconds, size_t *len);

/* ---- auth (api-auth.c) ---- */

/* Reads a token file (util/secret.h) with a message for `err`; at most 4 KiB. */
int api_auth_read_token(const char *path, char **out, char *err, size_t err_len);

/* Checks an Authorization header against a token, in constant time. */
bool api_auth_bearer_ok(const char *header, const char *token);

/* Reads a whole (PEM) file into memory, at most 1 MiB. */
int api_auth_read_file(const char *path, char **out, char *err, size_t err_len);

/* ---- listeners (api-listen.c) ---- */

/* Creates, binds and listens on a TCP socket for host:port; returns the fd or -errno. */
int api_listen_tcp(const char *host, uint16_t port, char *err, size_t err_len);

/*
 * Creates the unix socket at `path` with `mode` and owner/group (names or
 * numbers, NULL = unchanged). A stale socket file (nobody listening) is
 * replaced; a live one, a symlink or any other file type is refused.
 */
int api_listen_unix(const char *path, mode_t mode, const char *owner, const char *group, char *err,
		    size_t err_len);

/* Is this literal address loopback (127.0.0.0/8, ::1)? */
bool api_listen_is_loopback(const char *host);

/* ---- core routes (api-routes.c) ---- */

extern const struct api_route api_core_routes[];
extern const size_t api_core_routes_count;
extern const struct api_route api_topology_routes[];
extern const size_t api_topology_routes_count;
extern const struct api_route api_volumes_routes[];
extern const size_t api_volumes_routes_count;
extern const struct api_route api_placement_routes[];
extern const size_t api_placement_routes_count;

/* The auto resizer's handlers (api-resize.c); their routes are in api_core_routes. */
void api_resize_create(const struct api_request *req, struct api_response *resp);
void api_resize_list(const struct api_request *req, struct api_response *resp);
void api_resize_get(const struct api_request *req, struct api_response *resp);
void api_resize_put(const struct api_request *req, struct api_response *resp);
void api_resize_delete(const struct api_request *req, struct api_response *resp);
void api_resize_events(const struct api_request *req, struct api_response *resp);

/* Server facts the core handlers read. */
bool api_server_is_ready(const struct api_server *srv);
double api_server_uptime(const struct api_server *srv);
struct api_metrics *api_server_metrics(const struct api_server *srv);

#endif
