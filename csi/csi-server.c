/* csi-server: gRPC core plumbing: the listener, one completion queue per worker, unary calls. */
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "csi/csi-server.h"
#include "util/log.h"
#include "util/errmsg.h"

#define MAX_WORKERS 64

/* Tags: each worker's queue only ever has one operation in flight, so constants suffice. */
#define TAG_NEW_CALL ((void *)1)
#define TAG_RECV     ((void *)2)
#define TAG_SEND     ((void *)3)
#define TAG_SHUTDOWN ((void *)4)

/* More than the CSI services have: every method could be reserved. */
#define MAX_RESERVED 32

struct worker {
	struct csi_server *srv;
	grpc_completion_queue *cq;
	pthread_t thread;
	bool started;
	/* A reserved worker: the one method it serves, and gRPC's handle of it. */
	const struct csi_method *method;
	void *registered;
};

struct csi_server {
	grpc_server *server;
	const struct csi_method *methods;
	size_t n_methods;
	void *ctx;
	unsigned n_workers; /* general and reserved */
	struct worker workers[MAX_WORKERS + MAX_RESERVED];
};

/*
 * gRPC binds a unix socket with bind(2), which fails on a file left by a
 * previous run; every CSI driver removes it first. Only a socket is removed:
 * a typo must never delete someone's regular file.
 */
static int prepare_unix_path(const char *endpoint, char *err, size_t err_len)
{
	const char *path;
	struct stat st;

	if (strncmp(endpoint, "unix://", 7) == 0)
		path = endpoint + 7;
	else if (strncmp(endpoint, "unix:", 5) == 0)
		path = endpoint + 5;
	else
		return err_fail(-EINVAL, err, err_len,
				"endpoint %.200s: must be unix:///path or unix:path", endpoint);
	if (!*path)
		return err_fail(-EINVAL, err, err_len, "endpoint %.200s: the socket path is empty",
				endpoint);
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return err_fail(-ENAMETOOLONG, err, err_len,
				"endpoint: the socket path is longer than %zu bytes",
				sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_fail(-EEXIST, err, err_len,
					"endpoint %.200s: exists and is no socket", path);
		if (unlink(path) < 0)
			return err_fail(-errno, err, err_len,
					"endpoint %.200s: removing the old socket: %s", path,
					strerror(errno));
	}
	return 0;
}

static const struct csi_method *find_method(const struct csi_server *s, grpc_slice m)
{
	size_t len = GRPC_SLICE_LENGTH(m);

	for (size_t i = 0; i < s->n_methods; i++) {
		if (strlen(s->methods[i].path) == len &&
		    memcmp(s->methods[i].path, GRPC_SLICE_START_PTR(m), len) == 0)
			return &s->methods[i];
	}
	return NULL;
}

/* Waits for the one operation in flight on this worker's queue. */
static bool wait_op(struct worker *w, void *tag)
{
	grpc_event ev;

	ev = grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.tag == tag && ev.success;
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * One unary call: receive the request, run the handler of `m` (NULL: an unknown method,
 * `name` for the log), send the answer and the status.
 */
/* A deadline as CLOCK_MONOTONIC milliseconds; 0 for none (gRPC's infinite future). */
static int64_t deadline_ms(gpr_timespec deadline)
{
	gpr_timespec d;

	if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0)
		return 0;
	d = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
	/* gpr's monotonic clock is CLOCK_MONOTONIC, which the handlers read. */
	{
		struct timespec now;
		gpr_timespec gnow = gpr_now(GPR_CLOCK_MONOTONIC);
		int64_t left = (int64_t)gpr_time_to_millis(gpr_time_sub(d, gnow));

		clock_gettime(CLOCK_MONOTONIC, &now);
		return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + (left < 1 ? 1 : left);
	}
}

static void serve_call(struct worker *w, grpc_call *call, const struct csi_method *m,
		       const char *name, gpr_timespec deadline)
{
	struct csi_reply reply = {.code = GRPC_STATUS_OK, .deadline_ms = deadline_ms(deadline)};
	grpc_byte_buffer *in = NULL, *out = NULL;
	grpc_slice req = grpc_empty_slice(), body, status_msg;
	grpc_op ops[4];
	int cancelled = 0;
	struct timespec t0;
	char method[128];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(method, sizeof(method), "%s", name);

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_MESSAGE;
	ops[0].data.recv_message.recv_message = &in;
	if (grpc_call_start_batch(call, ops, 1, TAG_RECV, NULL) != GRPC_CALL_OK ||
	    !wait_op(w, TAG_RECV)) {
		log_debug("csi_call_lost", "method=%s", method);
		goto out;
	}

	if (!m) {
		reply.code = GRPC_STATUS_UNIMPLEMENTED;
		snprintf(reply.msg, sizeof(reply.msg), "method %s is not implemented", method);
	} else if (!in) {
		reply.code = GRPC_STATUS_INVALID_ARGUMENT;
		snprintf(reply.msg, sizeof(reply.msg), "no request message");
	} else {
		grpc_byte_buffer_reader r;

		if (!grpc_byte_buffer_reader_init(&r, in)) {
			reply.code = GRPC_STATUS_INTERNAL;
			snprintf(reply.msg, sizeof(reply.msg), "cannot read the request message");
		} else {
			req = grpc_byte_buffer_reader_readall(&r);
			grpc_byte_buffer_reader_destroy(&r);
			m->fn(w->srv->ctx, GRPC_SLICE_START_PTR(req), GRPC_SLICE_LENGTH(req),
			      &reply);
		}
	}

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[1].data.send_status_from_server.status = reply.code;
	status_msg = grpc_slice_from_copied_string(reply.code == GRPC_STATUS_OK ? "" : reply.msg);
	ops[1].data.send_status_from_server.status_details = &status_msg;
	ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[2].data.recv_close_on_server.cancelled = &cancelled;
	if (reply.code == GRPC_STATUS_OK) {
		body = grpc_slice_from_copied_buffer((const char *)reply.body, reply.len);
		out = grpc_raw_byte_buffer_create(&body, 1);
		grpc_slice_unref(body);
		ops[3].op = GRPC_OP_SEND_MESSAGE;
		ops[3].data.send_message.send_message = out;
	}
	if (grpc_call_start_batch(call, ops, reply.code == GRPC_STATUS_OK ? 4 : 3, TAG_SEND,
				  NULL) != GRPC_CALL_OK ||
	    !wait_op(w, TAG_SEND))
		log_debug("csi_send_failed", "method=%s", method);
	grpc_slice_unref(status_msg);

	if (reply.code == GRPC_STATUS_OK)
		log_debug("csi_call", "method=%s code=0 ms=%.1f", method, elapsed_ms(&t0));
	else {
		char q[600];

		log_info("csi_call", "method=%s code=%d ms=%.1f message=%s", method, reply.code,
			 elapsed_ms(&t0), log_quote(q, sizeof(q), reply.msg));
	}
out:
	free(reply.body);
	grpc_slice_unref(req);
	if (in)
		grpc_byte_buffer_destroy(in);
	if (out)
		grpc_byte_buffer_destroy(out);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		grpc_call *call = NULL;
		grpc_call_details details;
		grpc_metadata_array md;
		bool ok;

		grpc_call_details_init(&details);
		grpc_metadata_array_init(&md);
		gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_REALTIME);

		if (w->method) {
			ok = grpc_server_request_registered_call(
				     w->srv->server, w->registered, &call, &deadline, &md, NULL,
				     w->cq, w->cq, TAG_NEW_CALL) == GRPC_CALL_OK &&
			     wait_op(w, TAG_NEW_CALL);
		} else {
			ok = grpc_server_request_call(w->srv->server, &call, &details, &md, w->cq,
						      w->cq, TAG_NEW_CALL) == GRPC_CALL_OK &&
			     wait_op(w, TAG_NEW_CALL);
		}
		/* A failed request is the server shutting down. */
		if (ok && w->method) {
			serve_call(w, call, w->method, w->method->path, deadline);
		} else if (ok) {
			char name[128];

			snprintf(name, sizeof(name), "%.*s", (int)GRPC_SLICE_LENGTH(details.method),
				 (const char *)GRPC_SLICE_START_PTR(details.method));
			serve_call(w, call, find_method(w->srv, details.method), name,
				   details.deadline);
		}
		if (call)
			grpc_call_unref(call);
		grpc_call_details_destroy(&details);
		grpc_metadata_array_destroy(&md);
		if (!ok)
			break;
	}
	return NULL;
}

static void drain_queue(grpc_completion_queue *cq)
{
	grpc_event ev;

	grpc_completion_queue_shutdown(cq);
	do {
		ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	} while (ev.type != GRPC_QUEUE_SHUTDOWN);
	grpc_completion_queue_destroy(cq);
}

int csi_server_start(const char *endpoint, const struct csi_method *methods, size_t n_methods,
		     void *ctx, unsigned workers, struct csi_server **out, char *err,
		     size_t err_len)
{
	struct csi_server *s;
	grpc_server_credentials *creds;
	int ret, port;

	if (workers < 1 || workers > MAX_WORKERS)
		return err_fail(-EINVAL, err, err_len, "workers: must be 1..%d, got %u",
				MAX_WORKERS, workers);
	ret = prepare_unix_path(endpoint, err, err_len);
	if (ret < 0)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	s->methods = methods;
	s->n_methods = n_methods;
	s->ctx = ctx;
	s->n_workers = workers;
	s->server = grpc_server_create(NULL, NULL);
	/*
	 * A registered method's calls reach only grpc_server_request_registered_call, never
	 * the general workers' grpc_server_request_call: its worker is its own.
	 */
	for (size_t i = 0; i < n_methods && s->n_workers < MAX_WORKERS + MAX_RESERVED; i++) {
		struct worker *w = &s->workers[s->n_workers];

		if (!methods[i].reserved)
			continue;
		w->method = &methods[i];
		w->registered = grpc_server_register_method(s->server, methods[i].path, NULL,
							    GRPC_SRM_PAYLOAD_NONE, 0);
		if (!w->registered) {
			grpc_server_destroy(s->server);
			free(s);
			return err_fail(-EINVAL, err, err_len, "gRPC refuses to register %s",
					methods[i].path);
		}
		s->n_workers++;
	}
	for (unsigned i = 0; i < s->n_workers; i++) {
		s->workers[i].srv = s;
		s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
		grpc_server_register_completion_queue(s->server, s->workers[i].cq, NULL);
	}
	creds = grpc_insecure_server_credentials_create();
	port = grpc_server_add_http2_port(s->server, endpoint, creds);
	grpc_server_credentials_release(creds);
	if (port == 0) {
		err_fail(-EADDRNOTAVAIL, err, err_len, "endpoint %.200s: gRPC cannot listen there",
			 endpoint);
		grpc_server_destroy(s->server);
		for (unsigned i = 0; i < s->n_workers; i++)
			drain_queue(s->workers[i].cq);
		free(s);
		return -EADDRNOTAVAIL;
	}
	grpc_server_start(s->server);
	for (unsigned i = 0; i < s->n_workers; i++) {
		ret = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
		if (ret != 0) {
			err_fail(-ret, err, err_len, "starting worker %u: %s", i, strerror(ret));
			csi_server_stop(s);
			return -ret;
		}
		s->workers[i].started = true;
	}
	*out = s;
	return 0;
}

struct csi_server *csi_server_stop(struct csi_server *s)
{
	grpc_completion_queue *cq;
	grpc_event ev;

	if (!s)
		return NULL;
	/* A "next" queue: drain_queue below must not run next() on a pluck queue. */
	cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_shutdown_and_notify(s->server, cq, TAG_SHUTDOWN);
	grpc_server_cancel_all_calls(s->server);
	do {
		ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	} while (ev.type != GRPC_OP_COMPLETE || ev.tag != TAG_SHUTDOWN);
	drain_queue(cq);
	for (unsigned i = 0; i < s->n_workers; i++) {
		if (s->workers[i].started)
			pthread_join(s->workers[i].thread, NULL);
	}
	grpc_server_destroy(s->server);
	for (unsigned i = 0; i < s->n_workers; i++)
		drain_queue(s->workers[i].cq);
	free(s);
	return NULL;
}
