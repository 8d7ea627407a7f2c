/* csi-server: a gRPC server on gRPC core that hands each unary call to a worker thread. */
#ifndef PMEMD_CSI_SERVER_H
#define PMEMD_CSI_SERVER_H

#include <grpc/status.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What a handler answers: a status, a message for the client (the gRPC status
 * details) and, with GRPC_STATUS_OK, the serialized response in a malloc'd
 * `body` of `len` bytes (NULL/0 for an empty message), which the server frees.
 * The server also tells the handler how long the client still waits.
 */
struct csi_reply {
	grpc_status_code code;
	char msg[512];
	uint8_t *body;
	size_t len;
	/* In: the client's deadline in CLOCK_MONOTONIC milliseconds, 0 when it set none. */
	int64_t deadline_ms;
};

/* Handles one request (the serialized message of `len` bytes); fills `out`. */
typedef void (*csi_handler_fn)(void *ctx, const uint8_t *req, size_t len, struct csi_reply *out);

/*
 * A method by its full path, as gRPC names it: "/csi.v1.Identity/Probe". A
 * `reserved` method has a worker of its own that nothing else uses, so it is
 * answered even while every general worker waits on a slow call: for the
 * cheap calls the kubelet and the sidecars use to judge the driver's health
 * (Probe, GetPluginInfo, the capabilities, NodeGetInfo).
 */
struct csi_method {
	const char *path;
	csi_handler_fn fn;
	bool reserved;
};

struct csi_server;

/*
 * Listens on `endpoint` ("unix:///path", "unix:path"; a stale socket file at
 * that path is removed first) and serves `methods` with `workers` threads, so
 * up to that many calls are handled at once and a slow call never blocks
 * another; each reserved method has one more worker of its own. Unknown
 * methods are answered UNIMPLEMENTED. `methods` and `ctx`
 * must outlive the server. Returns 0 or -errno with the reason in err.
 */
int csi_server_start(const char *endpoint, const struct csi_method *methods, size_t n_methods,
		     void *ctx, unsigned workers, struct csi_server **out, char *err,
		     size_t err_len);

/*
 * Stops accepting calls, cancels the ones in flight, joins the workers and
 * frees the server. Accepts NULL, returns NULL.
 */
struct csi_server *csi_server_stop(struct csi_server *s);

#endif
