/* api: the REST server (libmicrohttpd + jansson): listeners, routing, JSON, errors, auth, metrics.
 */
#ifndef PMEMD_API_H
#define PMEMD_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct api_server;
struct topology_manager;
struct quota_volumes;
struct cluster;
struct resize_policies;
struct resize_monitor;

/* The services handlers translate to; a NULL member answers 503. */
struct api_services {
	struct topology_manager *topology;
	struct quota_volumes *volumes;
	struct cluster *cluster; /* role scheduler: the cluster view (cluster/cluster.h) */
	struct resize_policies *resize_policies; /* the auto resizer's policies (resize/resize.h) */
	struct resize_monitor *resize;		 /* its monitor: events and metrics */
};

/* ---- routing (pure; api-router.c) ---- */

#define API_MAX_PARAMS 4
#define API_MAX_PATH   2048

struct api_params {
	size_t count;
	const char *names[API_MAX_PARAMS];
	char *values[API_MAX_PARAMS];
	char buf[API_MAX_PATH]; /* holds the values */
};

/* The query arguments of an in-process request (api_server_dispatch); private to api/. */
struct api_query;

/* The request as handlers see it: already routed, authenticated, body parsed. */
struct api_request {
	struct api_server *server;
	const char *method;
	const char *path;
	const struct api_params *params;
	json_t *body;	      /* parsed JSON body, or NULL when the request had none */
	const char *raw_body; /* API_ROUTE_RAW: the body as received (NUL-terminated), or NULL */
	size_t raw_len;
	void *conn; /* the MHD connection, for query arguments (api_request_query) */
	const struct api_query *query; /* api_server_dispatch: its query arguments (conn NULL) */
	const struct config *cfg;      /* the config in force for this request */
	const struct api_services *services;
};

/* What a handler fills in. Exactly one of json or text is set. */
struct api_response {
	unsigned status;
	json_t *json; /* owned by the response */
	char *text;   /* malloc'd, owned by the response */
	size_t text_len;
	const char *content_type; /* static string; defaults per body kind */
	const void *static_body;  /* a body that outlives the server (not freed) */
	size_t static_len;
	char etag[48]; /* sent as ETag when set; status 304 sends no body */
};

typedef void (*api_handler_fn)(const struct api_request *req, struct api_response *resp);

enum api_route_flags {
	API_ROUTE_OPEN = 1 << 0, /* no authentication required (/healthz, /readyz) */
	API_ROUTE_BODY = 1 << 1, /* takes a JSON body */
	/* The handler reads the body itself (raw_body): no jansson parse and no 400 for bad JSON,
	 * for protocols that answer errors in their own shape and parse faster (the extender). */
	API_ROUTE_RAW = 1 << 2,
};

struct api_route {
	const char *method;
	const char *pattern; /* "/v1/volumes/{name}"; a parameter is one whole segment */
	api_handler_fn handler;
	unsigned flags;
};

enum api_match {
	API_MATCH_OK = 0,
	API_MATCH_NOT_FOUND,
	API_MATCH_BAD_METHOD,
};

/*
 * Finds the route for method + path. On API_MATCH_OK sets *index and fills
 * params (parameter values are percent-decoded and must not contain '/' or
 * NUL). On API_MATCH_BAD_METHOD writes the allowed methods, comma-separated,
 * into `allow`. Paths longer than API_MAX_PATH or with empty segments do not
 * match.
 */
enum api_match api_router_match(const struct api_route *routes, size_t n, const char *method,
				const char *path, size_t *index, struct api_params *params,
				char *allow, size_t allow_len);

/* The value of path parameter `name` ("name" for "{name}"), or NULL. */
const char *api_param(const struct api_params *params, const char *name);

/* ---- JSON and errors (api-json.c) ---- */

/*
 * Parses a request body. Returns the value, or NULL with `msg` holding a
 * message that says where ("invalid JSON at line 1, column 7: ..."). Bodies
 * must be a JSON object.
 */
json_t *api_json_parse_body(const char *buf, size_t len, char *msg, size_t msg_len);

/* Sets an error response: {"error": {"code": code, "message": ...}}. */
void api_reply_error(struct api_response *resp, unsigned status, const char *code, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));

/* Sets an error response from a -errno with the detail message. */
void api_reply_errno(struct api_response *resp, int err, const char *detail);

/* Sets a JSON response; steals `body`. */
void api_reply_json(struct api_response *resp, unsigned status, json_t *body);

/* Maps a -errno to an HTTP status and an error code (one table for the whole API). */
unsigned api_errno_status(int err, const char **code);

/* Serialises canonically (sorted keys, compact) for comparison in tests. */
char *api_json_canonical(const json_t *v);

/* ---- the server (api-server.c) ---- */

/* What the server serves beyond its own routes; all optional. */
struct api_hooks {
	/* Extra routes (tests register theirs here). */
	const struct api_route *routes;
	size_t n_routes;
	/* The services behind the API's routes. */
	struct api_services services;
};

/*
 * Binds every listener of `cfg` and starts serving. The server copies what
 * it needs; `cfg` stays owned by the caller until api_server_set_config()
 * replaces it (the server then holds the new one; the caller keeps ownership
 * and may free the old one after set_config returns). Returns 0 or -errno
 * with a message in `err`.
 */
int api_server_start(struct api_server **out, const struct config *cfg,
		     const struct api_hooks *hooks, char *err, size_t err_len);

/*
 * A server without listeners: the same routes and services, reached only through
 * api_server_dispatch() (fuzzers, tests). `cfg` as for api_server_start(); its listen: list
 * is ignored. Freed by api_server_stop(). 0 or -ENOMEM.
 */
int api_server_new(struct api_server **out, const struct config *cfg,
		   const struct api_hooks *hooks);

/*
 * Serves one request in process: the routing, body rules (the size limit, a JSON object, a
 * body where a route needs one), handlers and metrics of a request over a listener, without
 * authentication or headers. `target` is the path with an optional query
 * ("/v1/volumes?pool=%2Fmnt%2Fpmem0"), decoded as libmicrohttpd decodes it; at most
 * API_MAX_QUERY arguments are kept. `body` (`len` bytes, NULL when 0) need not be
 * NUL-terminated. Returns the HTTP status with *out the answer's body (malloc'd,
 * NUL-terminated, *out_len bytes; the caller frees it), or 0 on ENOMEM with *out NULL.
 */
#define API_MAX_QUERY 16
unsigned api_server_dispatch(struct api_server *srv, const char *method, const char *target,
			     const char *body, size_t len, char **out, size_t *out_len);

/*
 * Sets the services behind the routes once they exist (they may need the
 * server first, e.g. to report readiness). Call before they get traffic that
 * matters; until then their routes answer 503.
 */
void api_server_set_services(struct api_server *srv, const struct api_services *services);

/* Marks the node ready or not (/readyz). */
void api_server_set_ready(struct api_server *srv, bool ready);

/*
 * Applies a reloaded config live: log level, body limit, labels, token files
 * (re-read). Returns 0, or -errno when a token file cannot be read (the old
 * tokens stay in force then).
 */
int api_server_set_config(struct api_server *srv, const struct config *cfg, char *err,
			  size_t err_len);

/*
 * Stops accepting new connections, waits up to `grace_ms` for in-flight
 * requests to finish, then stops and frees. Accepts NULL.
 */
void api_server_stop(struct api_server *srv, unsigned grace_ms);

/* The TCP port the n-th listener is bound to (for port 0 in tests); 0 if not TCP. */
uint16_t api_server_port(const struct api_server *srv, size_t n);

/* Request counters for /metrics; exposed for tests. */
uint64_t api_server_requests_total(const struct api_server *srv);

/* Reads a query argument of the request, or NULL. */
const char *api_request_query(const struct api_request *req, const char *key);

/* Reads a request header, or NULL. */
const char *api_request_header(const struct api_request *req, const char *name);

/*
 * Answers a GET of a versioned document: 304 without a body when the
 * request's If-None-Match names `generation`, else 200 with `body` (stolen).
 */
void api_reply_versioned(const struct api_request *req, struct api_response *resp,
			 uint64_t generation, json_t *body);

#endif
