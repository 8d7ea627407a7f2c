/* api-extender: the scheduler role's routes: kube-scheduler's extender verbs and /v1/cluster. */
#ifndef PMEMD_API_EXTENDER_H
#define PMEMD_API_EXTENDER_H

#include <stddef.h>

#include "api/api.h"

/* GET /v1/cluster: the scheduler role's view (static, documented in openapi.json). */
extern const struct api_route api_cluster_routes[];
extern const size_t api_cluster_routes_count;

/* Routes built at start, because their prefix is configured (scheduler.url_prefix). */
struct api_extender_routes;

/*
 * POST <prefix>/filter, <prefix>/prioritize, <prefix>/bind, plus api_cluster_routes, for
 * struct api_hooks. They read the view from api_services.cluster (503-like Error without).
 * 0, -EINVAL (a prefix that is not an absolute path), -ENOMEM.
 */
int api_extender_routes_new(const char *prefix, struct api_extender_routes **out);
const struct api_route *api_extender_routes_list(const struct api_extender_routes *r, size_t *n);
/* After the server that used them stopped. Accepts NULL, returns NULL. */
struct api_extender_routes *api_extender_routes_free(struct api_extender_routes *r);

#endif
