/* api-server: libmicrohttpd daemons (one per listener), request lifecycle, auth and limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "util/log.h"
#include "util/secret.h"

struct listener {
	struct api_server *srv;
	struct MHD_Daemon *daemon;
	size_t index;
	int fd;
	bool tcp;
	bool mtls;
	uint16_t port;
	char *unix_path; /* to remove on stop, if still ours */
	dev_t unix_dev;
	ino_t unix_ino;
	char *token;			   /* bearer token, or NULL; guarded by srv->lock */
	time_t log_second;		   /* libmicrohttpd's lines: the current second, */
	unsigned log_lines;		   /* the lines logged in it, */
	unsigned long log_dropped;	   /* and those dropped since the last report; */
					   /* all three guarded by srv->log_lock */
	char *tls_key, *tls_cert, *tls_ca; /* kept until the daemon stops */
	char name[300];
};

/*
 * A connection from accept to close, for the request deadline. libmicrohttpd's own
 * connection timeout only closes a connection that is silent that long: a client that
 * dribbles a byte of headers or body every few seconds (slowloris) keeps its connection, and
 * a slot of limits.max_connections, forever. The sweeper closes those.
 */
struct conn_track {
	struct conn_track *prev, *next;
	int fd;		       /* libmicrohttpd's; valid until after NOTIFY_CLOSED */
	struct timespec since; /* when the request now arriving was due to start */
	bool receiving;	       /* a request is arriving (or may): the deadline runs */
	bool cut;	       /* shut down by the sweeper already */
};

struct api_server {
	pthread_rwlock_t lock;	    /* guards cfg, tokens */
	pthread_mutex_t conns_lock; /* guards conns, sweeper_stop */
	pthread_mutex_t log_lock;
	pthread_cond_t sweeper_wake;
	struct conn_track *conns;
	bool sweeper_stop;
	bool sweeper_started;
	uint64_t request_timeout_ms; /* as at start: a restart-only key, like MHD's idle timeout */
	pthread_t sweeper;
	const struct config *cfg;
	struct api_route *routes;
	size_t n_routes;
	struct listener *listeners;
	size_t n_listeners;
	struct api_metrics *metrics;
	struct api_services services;
	atomic_bool ready;
	atomic_bool stopping;
	atomic_long inflight;
	struct timespec started;
};

/* Per-request state, from the first call of the access handler to NOTIFY_COMPLETED. */
struct request {
	struct timespec started;
	size_t route; /* index into routes, or n_routes when unmatched */
	struct api_params params;
	char *body;
	size_t len, cap;
	uint64_t max_body;
	bool too_large;
	bool answered;
	size_t resp_len; /* bytes of the answer's body */
};

/* An answer at least this large gives its memory back to the system when it is done. */
#define TRIM_AFTER_BYTES (1024 * 1024)

static double elapsed_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/*
 * The connection's request is all in (receiving false: the deadline stops, a slow handler is
 * not cut), or its answer is done and the next request may start (true: the clock restarts).
 */
static void conn_set_receiving(struct api_server *srv, struct MHD_Connection *conn, bool receiving)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_track *t = ci ? ci->socket_context : NULL;

	if (!t)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	t->receiving = receiving;
	if (receiving)
		clock_gettime(CLOCK_MONOTONIC, &t->since);
	pthread_mutex_unlock(&srv->conns_lock);
}

/* NOTIFY_CONNECTION: tracks every connection so the sweeper can enforce the deadline. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct listener *l = cls;
	struct api_server *srv = l->srv;
	struct conn_track *t = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		/* Out of memory: the connection goes untracked, the idle timeout still holds. */
		if (!ci || !(t = calloc(1, sizeof(*t))))
			return;
		t->fd = ci->connect_fd;
		t->receiving = true;
		clock_gettime(CLOCK_MONOTONIC, &t->since);
		pthread_mutex_lock(&srv->conns_lock);
		t->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = t;
		srv->conns = t;
		pthread_mutex_unlock(&srv->conns_lock);
		*socket_context = t;
		return;
	}
	if (!t)
		return;
	/* libmicrohttpd closes the fd after this returns: unlinked first, never shut down late. */
	pthread_mutex_lock(&srv->conns_lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		srv->conns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&srv->conns_lock);
	free(t);
	*socket_context = NULL;
}

/*
 * The request deadline: a request must arrive whole (headers and body) within
 * limits.request_timeout of the connection's start or of its previous answer. A connection
 * past it is shut down (not closed: the fd stays libmicrohttpd's), which libmicrohttpd sees
 * as the client leaving and cleans up in its own thread.
 */
static void *sweeper_main(void *arg)
{
	struct api_server *srv = arg;

	for (;;) {
		struct timespec now, wake;
		uint64_t timeout_ms;
		long period_ms;
		size_t cut = 0;

		timeout_ms = srv->request_timeout_ms;
		/* A quarter of the timeout, at most 1 s: how late a connection may be cut. */
		period_ms = (long)(timeout_ms / 4);
		if (period_ms < 100)
			period_ms = 100;
		if (period_ms > 1000)
			period_ms = 1000;
		clock_gettime(CLOCK_MONOTONIC, &wake);
		wake.tv_sec += period_ms / 1000;
		wake.tv_nsec += (period_ms % 1000) * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&srv->conns_lock);
		while (!srv->sweeper_stop &&
		       pthread_cond_timedwait(&srv->sweeper_wake, &srv->conns_lock, &wake) == 0)
			;
		if (srv->sweeper_stop) {
			pthread_mutex_unlock(&srv->conns_lock);
			return NULL;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (struct conn_track *t = srv->conns; t; t = t->next) {
			if (!t->receiving || t->cut ||
			    ms_between(&t->since, &now) < (double)timeout_ms)
				continue;
			shutdown(t->fd, SHUT_RDWR);
			t->cut = true;
			cut++;
		}
		pthread_mutex_unlock(&srv->conns_lock);
		if (cut)
			log_warn("request_timeout", "connections=%zu timeout_ms=%llu", cut,
				 (unsigned long long)timeout_ms);
	}
}

static void response_clear(struct api_response *resp)
{
	json_decref(resp->json);
	free(resp->text);
	memset(resp, 0, sizeof(*resp));
}

/* Turns an api_response into an MHD response and queues it; records metrics. */
static enum MHD_Result send_response(struct listener *l, struct MHD_Connection *conn,
				     struct request *rq, const char *method,
				     struct api_response *resp, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *ctype = resp->content_type;

	if (resp->status == 304) {
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		ctype = NULL;
	} else if (resp->json) {
		char *s = json_dumps(resp->json, JSON_COMPACT);
		size_t n = s ? strlen(s) : 0;
		if (!s) {
			response_clear(resp);
			return MHD_NO;
		}
		/* A trailing newline keeps curl output tidy in a terminal. */
		char *t = realloc(s, n + 2);
		if (t) {
			s = t;
			s[n++] = '\n';
			s[n] = '\0';
		}
		rq->resp_len = n;
		r = MHD_create_response_from_buffer(n, s, MHD_RESPMEM_MUST_FREE);
		if (!ctype)
			ctype = "application/json";
	} else if (resp->text) {
		rq->resp_len = resp->text_len;
		r = MHD_create_response_from_buffer(resp->text_len, resp->text,
						    MHD_RESPMEM_MUST_FREE);
		resp->text = NULL; /* MHD owns it now */
		if (!ctype)
			ctype = "text/plain; charset=utf-8";
	} else {
		r = MHD_create_response_from_buffer(resp->static_len, (void *)resp->static_body,
						    MHD_RESPMEM_PERSISTENT);
		if (!ctype)
			ctype = "application/octet-stream";
	}
	if (!r) {
		response_clear(resp);
		return MHD_NO;
	}
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (resp->etag[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, resp->etag);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (resp->status == 405 && allow && *allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (resp->status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (atomic_load(&l->srv->stopping))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	conn_set_receiving(l->srv, conn, false);
	ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	api_metrics_observe(l->srv->metrics, rq->route, method, resp->status,
			    elapsed_since(&rq->started));
	rq->answered = true;
	response_clear(resp);
	return ret;
}

static enum MHD_Result send_error(struct listener *l, struct MHD_Connection *conn,
				  struct request *rq, const char *method, unsigned status,
				  const char *code, const char *msg, const char *allow)
{
	struct api_response resp = {0};

	api_reply_error(&resp, status, code, "%s", msg);
	return send_response(l, conn, rq, method, &resp, allow);
}

/* Is the client allowed in? Bearer token and/or a verified client certificate. */
static bool authorized(struct listener *l, struct MHD_Connection *conn)
{
	bool ok = true;

	if (l->mtls) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		unsigned int status = 0, n_peers = 0;
		gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;

		if (!s || !gnutls_certificate_get_peers(s, &n_peers) || n_peers == 0 ||
		    gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status != 0)
			ok = false;
	}
	pthread_rwlock_rdlock(&l->srv->lock);
	if (ok && l->token) {
		const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							    MHD_HTTP_HEADER_AUTHORIZATION);
		ok = api_auth_bearer_ok(h, l->token);
	}
	pthread_rwlock_unlock(&l->srv->lock);
	return ok;
}

static bool is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * Routes a request, for a listener and for api_server_dispatch alike: true with *idx set, or
 * false with the 404 or 405 answer in resp (and the allowed methods in `allow`).
 */
static bool route_find(struct api_server *srv, const char *method, const char *url, size_t *idx,
		       struct api_params *params, struct api_response *resp, char *allow,
		       size_t allow_len)
{
	allow[0] = '\0';
	switch (api_router_match(srv->routes, srv->n_routes, method, url, idx, params, allow,
				 allow_len)) {
	case API_MATCH_NOT_FOUND:
		api_reply_error(resp, 404, "not_found", "no such route");
		return false;
	case API_MATCH_BAD_METHOD:
		api_reply_error(resp, 405, "method_not_allowed",
				"method %.16s not allowed here; allowed: %s", method, allow);
		return false;
	case API_MATCH_OK:
		break;
	}
	return true;
}

/*
 * Calls a routed request's handler: the body read raw or parsed as a JSON object (a 400
 * otherwise), under the config's read lock. The tail of every request, over a listener or
 * in process; `conn` is NULL and `query` set in process.
 */
static void route_serve(struct api_server *srv, const struct api_route *route,
			const struct api_params *params, const char *method, const char *url,
			struct MHD_Connection *conn, const struct api_query *query,
			const char *body, size_t len, struct api_response *resp)
{
	struct api_request req = {
		.server = srv,
		.method = method,
		.path = url,
		.params = params,
		.conn = conn,
		.query = query,
		.services = &srv->services,
	};

	if (route->flags & API_ROUTE_RAW) {
		req.raw_body = body;
		req.raw_len = len;
	} else if (len > 0) {
		char msg[300];
		req.body = api_json_parse_body(body, len, msg, sizeof(msg));
		if (!req.body) {
			api_reply_error(resp, 400, "invalid_json", "%s", msg);
			return;
		}
	} else if (route->flags & API_ROUTE_BODY) {
		api_reply_error(resp, 400, "bad_request", "this route needs a JSON object body");
		return;
	}
	pthread_rwlock_rdlock(&srv->lock);
	req.cfg = srv->cfg;
	route->handler(&req, resp);
	pthread_rwlock_unlock(&srv->lock);
	json_decref(req.body);
}

/* First call of a request: route, authenticate, check the declared body. */
static enum MHD_Result on_first_call(struct listener *l, struct MHD_Connection *conn,
				     struct request *rq, const char *url, const char *method)
{
	struct api_server *srv = l->srv;
	struct api_response resp = {0};
	char allow[128];
	size_t idx = 0;
	const char *clen, *te;

	if (!route_find(srv, method, url, &idx, &rq->params, &resp, allow, sizeof(allow)))
		return send_response(l, conn, rq, method, &resp, allow);
	rq->route = idx;
	if (!(srv->routes[idx].flags & API_ROUTE_OPEN) && !authorized(l, conn))
		return send_error(l, conn, rq, method, 401, "unauthorized", "unauthorized", NULL);

	clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if ((clen && strcmp(clen, "0") != 0) || te) {
		const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_TYPE);
		if (clen) {
			char *end;
			unsigned long long n = strtoull(clen, &end, 10);
			/* Refuse before reading a byte of it. */
			if (*end == '\0' && n > rq->max_body) {
				char msg[128];
				snprintf(msg, sizeof(msg),
					 "request body of %llu bytes exceeds the limit of %llu", n,
					 (unsigned long long)rq->max_body);
				return send_error(l, conn, rq, method, 413, "payload_too_large",
						  msg, NULL);
			}
		}
		if (!is_json_type(ct))
			return send_error(l, conn, rq, method, 415, "unsupported_media_type",
					  "request bodies must be Content-Type: application/json",
					  NULL);
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct api_server *srv = l->srv;
	struct request *rq = *con_cls;
	(void)version;

	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &rq->started);
		rq->route = srv->n_routes;
		pthread_rwlock_rdlock(&srv->lock);
		rq->max_body = srv->cfg->limits.max_body_bytes;
		pthread_rwlock_unlock(&srv->lock);
		atomic_fetch_add(&srv->inflight, 1);
		*con_cls = rq;
		return on_first_call(l, conn, rq, url, method);
	}
	if (rq->answered) {
		/* An error was queued already; what else arrives is discarded. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (rq->too_large || rq->len + n > rq->max_body) {
			/* Chunked bodies have no length up front: stop keeping them at the limit.
			 */
			rq->too_large = true;
			free(rq->body);
			rq->body = NULL;
			rq->len = rq->cap = 0;
			return MHD_YES;
		}
		if (rq->len + n + 1 > rq->cap) {
			size_t cap = rq->cap ? rq->cap : 4096;
			while (cap < rq->len + n + 1)
				cap *= 2;
			char *b = realloc(rq->body, cap);
			if (!b)
				return MHD_NO;
			rq->body = b;
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, upload_data, n);
		rq->len += n;
		rq->body[rq->len] = '\0';
		return MHD_YES;
	}

	/* The whole request is in: parse, call the handler, answer. */
	conn_set_receiving(srv, conn, false);
	if (rq->too_large) {
		char msg[128];
		snprintf(msg, sizeof(msg), "request body exceeds the limit of %llu bytes",
			 (unsigned long long)rq->max_body);
		return send_error(l, conn, rq, method, 413, "payload_too_large", msg, NULL);
	}

	struct api_response resp = {.status = 200};

	route_serve(srv, &srv->routes[rq->route], &rq->params, method, url, conn, NULL, rq->body,
		    rq->len, &resp);
	return send_response(l, conn, rq, method, &resp, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct listener *l = cls;
	struct request *rq = *con_cls;
	(void)toe;

	/* Keep-alive: the next request on this connection has a deadline of its own. */
	conn_set_receiving(l->srv, conn, true);
	if (!rq)
		return;
	/*
	 * A large answer (GET /v1/volumes of 10,000 volumes is 2.4 MB of text from ~20 MB of
	 * JSON objects) leaves that much free memory in the worker thread's malloc arena, which
	 * glibc keeps; a node agent's RSS then stays at its largest answer ever. Give it back.
	 */
	if (rq->resp_len >= TRIM_AFTER_BYTES || rq->len >= TRIM_AFTER_BYTES)
		malloc_trim(0);
	free(rq->body);
	free(rq);
	*con_cls = NULL;
	atomic_fetch_sub(&l->srv->inflight, 1);
}

/*
 * libmicrohttpd's lines per second and listener. It logs one line per connection it closes
 * or turns away, so 1,000 hostile connections would write 1,000 lines; past this burst the
 * lines are counted, and the count is logged with the next second's first line.
 */
#define MHD_LOG_BURST 20

/* libmicrohttpd's own messages go through pmemd's logger. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct listener *l = cls;
	char msg[512], q[600];
	size_t n;
	struct timespec now;
	unsigned long dropped = 0;
	bool drop;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	pthread_mutex_lock(&l->srv->log_lock);
	if (now.tv_sec != l->log_second) {
		dropped = l->log_dropped;
		l->log_dropped = 0;
		l->log_second = now.tv_sec;
		l->log_lines = 0;
	}
	drop = ++l->log_lines > MHD_LOG_BURST;
	if (drop)
		l->log_dropped++;
	pthread_mutex_unlock(&l->srv->log_lock);
	if (dropped)
		log_warn("http_library_dropped", "listener=%s lines=%lu burst_per_second=%d",
			 l->name, dropped, MHD_LOG_BURST);
	if (drop)
		return;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_warn("http_library", "listener=%s message=%s", l->name, log_quote(q, sizeof(q), msg));
}

static void listener_close(struct listener *l)
{
	struct stat st;

	if (l->daemon) {
		MHD_stop_daemon(l->daemon);
		l->daemon = NULL;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* Remove the socket file only if it is still the one we made. */
	if (l->unix_path && lstat(l->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_ino == l->unix_ino && st.st_dev == l->unix_dev)
		unlink(l->unix_path);
	free(l->unix_path);
	l->unix_path = NULL;
	l->token = secret_free(l->token);
	l->tls_key = secret_free(l->tls_key);
	free(l->tls_cert);
	free(l->tls_ca);
	l->tls_cert = l->tls_ca = NULL;
}

static int listener_open(struct api_server *srv, struct listener *l, const struct config_listen *c,
			 char *err, size_t err_len)
{
	const struct config *cfg = srv->cfg;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[16];
	size_t n = 0;
	unsigned timeout_s = (unsigned)(cfg->limits.request_timeout_ms / 1000);
	char e[256];
	int r;

	l->srv = srv;
	l->fd = -1;
	/* First, so that libmicrohttpd's own start-up messages come through it too. */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, l};
	if (c->kind == CONFIG_LISTEN_TCP) {
		snprintf(l->name, sizeof(l->name), strchr(c->host, ':') ? "[%s]:%u" : "%s:%u",
			 c->host, c->port);
		l->tcp = true;
		r = api_listen_tcp(c->host, c->port, e, sizeof(e));
	} else {
		snprintf(l->name, sizeof(l->name), "unix:%s", c->path);
		r = api_listen_unix(c->path, c->mode, c->owner, c->group, e, sizeof(e));
	}
	if (r < 0) {
		snprintf(err, err_len, "listener %s: %s", l->name, e);
		return r;
	}
	l->fd = r;
	if (l->tcp) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0)
			l->port = ntohs(ss.ss_family == AF_INET6
						? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	} else {
		struct stat st;
		l->unix_path = strdup(c->path);
		if (!l->unix_path)
			return -ENOMEM;
		if (lstat(c->path, &st) == 0) {
			l->unix_dev = st.st_dev;
			l->unix_ino = st.st_ino;
		}
	}

	if (l->tcp && !api_listen_is_loopback(c->host) && !c->auth.token_file &&
	    !c->auth.tls_cert) {
		/* config/ refuses this too; checked again here because it guards the door. */
		snprintf(err, err_len, "listener %s: not loopback and no token or TLS configured",
			 l->name);
		return -EPERM;
	}
	if (c->auth.token_file) {
		r = api_auth_read_token(c->auth.token_file, &l->token, e, sizeof(e));
		if (r < 0) {
			snprintf(err, err_len, "listener %s: %s", l->name, e);
			return r;
		}
	}
	if (c->auth.tls_cert) {
		if ((r = api_auth_read_file(c->auth.tls_cert, &l->tls_cert, e, sizeof(e))) < 0 ||
		    (r = api_auth_read_file(c->auth.tls_key, &l->tls_key, e, sizeof(e))) < 0 ||
		    (c->auth.client_ca &&
		     (r = api_auth_read_file(c->auth.client_ca, &l->tls_ca, e, sizeof(e))) < 0)) {
			snprintf(err, err_len, "listener %s: %s", l->name, e);
			return r;
		}
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, l->tls_cert};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, l->tls_key};
		if (l->tls_ca) {
			opts[n++] =
				(struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, l->tls_ca};
			l->mtls = true;
		}
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, l->fd, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
					    cfg->limits.max_connections, NULL};
	if (l->tcp)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						    cfg->limits.per_client_connections, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
					    timeout_s ? timeout_s : 1, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, l};
	opts[n++] =
		(struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, l};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	l->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, opts,
				     MHD_OPTION_END);
	if (!l->daemon) {
		snprintf(err, err_len, "listener %s: libmicrohttpd failed to start (see log)",
			 l->name);
		return -EIO;
	}
	/* MHD took the socket; it closes it in MHD_stop_daemon unless quiesced first. */
	log_info("listening", "listener=%s tls=%s mtls=%s token=%s threads=%u", l->name,
		 c->auth.tls_cert ? "yes" : "no", l->mtls ? "yes" : "no", l->token ? "yes" : "no",
		 cfg->threads);
	return 0;
}

int api_server_new(struct api_server **out, const struct config *cfg, const struct api_hooks *hooks)
{
	struct api_server *srv = calloc(1, sizeof(*srv));
	size_t extra = hooks ? hooks->n_routes : 0;

	if (!srv)
		return -ENOMEM;
	pthread_rwlock_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->conns_lock, NULL);
	pthread_mutex_init(&srv->log_lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&srv->sweeper_wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	clock_gettime(CLOCK_MONOTONIC, &srv->started);
	srv->cfg = cfg;
	srv->n_routes = api_core_routes_count + api_topology_routes_count +
			api_volumes_routes_count + api_placement_routes_count + extra;
	srv->routes = calloc(srv->n_routes, sizeof(*srv->routes));
	srv->listeners = calloc(cfg->n_listen ? cfg->n_listen : 1, sizeof(*srv->listeners));
	if (!srv->routes || !srv->listeners) {
		api_server_stop(srv, 0);
		return -ENOMEM;
	}
	if (hooks)
		srv->services = hooks->services;
	memcpy(srv->routes, api_core_routes, api_core_routes_count * sizeof(*srv->routes));
	memcpy(srv->routes + api_core_routes_count, api_topology_routes,
	       api_topology_routes_count * sizeof(*srv->routes));
	memcpy(srv->routes + api_core_routes_count + api_topology_routes_count, api_volumes_routes,
	       api_volumes_routes_count * sizeof(*srv->routes));
	memcpy(srv->routes + api_core_routes_count + api_topology_routes_count +
		       api_volumes_routes_count,
	       api_placement_routes, api_placement_routes_count * sizeof(*srv->routes));
	if (extra)
		memcpy(srv->routes + api_core_routes_count + api_topology_routes_count +
			       api_volumes_routes_count + api_placement_routes_count,
		       hooks->routes, extra * sizeof(*srv->routes));
	srv->metrics = api_metrics_new(srv->routes, srv->n_routes);
	if (!srv->metrics) {
		api_server_stop(srv, 0);
		return -ENOMEM;
	}
	*out = srv;
	return 0;
}

int api_server_start(struct api_server **out, const struct config *cfg,
		     const struct api_hooks *hooks, char *err, size_t err_len)
{
	struct api_server *srv = NULL;
	int r = api_server_new(&srv, cfg, hooks);

	if (r < 0) {
		snprintf(err, err_len, "out of memory");
		return r;
	}
	srv->request_timeout_ms = cfg->limits.request_timeout_ms;
	r = pthread_create(&srv->sweeper, NULL, sweeper_main, srv);
	if (r != 0) {
		snprintf(err, err_len, "cannot start the request deadline thread: %s", strerror(r));
		api_server_stop(srv, 0);
		return -r;
	}
	srv->sweeper_started = true;
	for (size_t i = 0; i < cfg->n_listen; i++) {
		srv->listeners[i].index = i;
		srv->n_listeners = i + 1;
		r = listener_open(srv, &srv->listeners[i], &cfg->listen[i], err, err_len);
		if (r < 0) {
			api_server_stop(srv, 0);
			return r;
		}
	}
	*out = srv;
	return 0;
}

void api_server_set_services(struct api_server *srv, const struct api_services *services)
{
	pthread_rwlock_wrlock(&srv->lock);
	srv->services = *services;
	pthread_rwlock_unlock(&srv->lock);
}

void api_server_set_ready(struct api_server *srv, bool ready)
{
	atomic_store(&srv->ready, ready);
}

bool api_server_is_ready(const struct api_server *srv)
{
	return atomic_load(&srv->ready) && !atomic_load(&srv->stopping);
}

double api_server_uptime(const struct api_server *srv)
{
	return elapsed_since(&srv->started);
}

struct api_metrics *api_server_metrics(const struct api_server *srv)
{
	return srv->metrics;
}

uint64_t api_server_requests_total(const struct api_server *srv)
{
	return api_metrics_total(srv->metrics);
}

uint16_t api_server_port(const struct api_server *srv, size_t n)
{
	return n < srv->n_listeners ? srv->listeners[n].port : 0;
}

/* The query arguments of an in-process request, decoded in place in buf. */
struct api_query {
	size_t count;
	const char *keys[API_MAX_QUERY];
	const char *values[API_MAX_QUERY]; /* NULL for an argument without '=' */
	char buf[API_MAX_PATH + 1];
};

/* Decodes in place as libmicrohttpd does an argument: '+' is a space, %XX a byte, a '%' that
 * starts no escape stays. A %00 ends the string, as it does for MHD's C strings. */
static void query_unescape(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		int hi, lo;
		if (*p == '+') {
			*o++ = ' ';
		} else if (*p == '%' && (hi = api_hex_digit(p[1])) >= 0 &&
			   (lo = api_hex_digit(p[2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* Splits "a=1&b&c=%2F" into q; arguments past API_MAX_QUERY, or past the buffer, are dropped. */
static void query_parse(struct api_query *q, const char *s)
{
	char *p, *amp;

	q->count = 0;
	snprintf(q->buf, sizeof(q->buf), "%s", s ? s : "");
	for (p = q->buf; *p && q->count < API_MAX_QUERY; p = amp ? amp + 1 : p + strlen(p)) {
		char *eq;
		amp = strchr(p, '&');
		if (amp)
			*amp = '\0';
		if (!*p)
			continue;
		eq = strchr(p, '=');
		if (eq)
			*eq = '\0';
		query_unescape(p);
		if (eq)
			query_unescape(eq + 1);
		q->keys[q->count] = p;
		q->values[q->count] = eq ? eq + 1 : NULL;
		q->count++;
	}
}

const char *api_request_query(const struct api_request *req, const char *key)
{
	if (!req->conn) {
		for (size_t i = 0; req->query && i < req->query->count; i++)
			if (strcmp(req->query->keys[i], key) == 0)
				return req->query->values[i];
		return NULL;
	}
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *api_request_header(const struct api_request *req, const char *name)
{
	/* In process (api_server_dispatch) a request has no headers. */
	if (!req->conn)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* The body of a handler's answer as one malloc'd NUL-terminated string, as send_response
 * would send it (JSON compact with a newline); frees the response. NULL on ENOMEM. */
static char *response_text(struct api_response *resp, size_t *len)
{
	char *out = NULL;

	*len = 0;
	if (resp->status == 304) {
		out = strdup("");
	} else if (resp->json) {
		char *s = json_dumps(resp->json, JSON_COMPACT);
		if (s) {
			*len = strlen(s);
			out = realloc(s, *len + 2);
			if (!out) {
				free(s);
			} else {
				out[(*len)++] = '\n';
				out[*len] = '\0';
			}
		}
	} else if (resp->text) {
		out = malloc(resp->text_len + 1);
		if (out) {
			memcpy(out, resp->text, resp->text_len);
			out[resp->text_len] = '\0';
			*len = resp->text_len;
		}
	} else {
		out = malloc(resp->static_len + 1);
		if (out) {
			if (resp->static_len)
				memcpy(out, resp->static_body, resp->static_len);
			out[resp->static_len] = '\0';
			*len = resp->static_len;
		}
	}
	response_clear(resp);
	if (!out)
		*len = 0;
	return out;
}

unsigned api_server_dispatch(struct api_server *srv, const char *method, const char *target,
			     const char *body, size_t len, char **out, size_t *out_len)
{
	struct api_response resp = {.status = 200};
	struct api_params params;
	struct api_query *query = NULL;
	struct timespec started;
	const char *qmark = strchr(target, '?');
	char *path = NULL, *copy = NULL, allow[128];
	size_t idx = srv->n_routes;
	uint64_t max_body;
	unsigned status;

	*out = NULL;
	*out_len = 0;
	clock_gettime(CLOCK_MONOTONIC, &started);
	atomic_fetch_add(&srv->inflight, 1);
	path = qmark ? strndup(target, (size_t)(qmark - target)) : strdup(target);
	query = calloc(1, sizeof(*query));
	/* Handlers of raw bodies read a NUL-terminated string, as a listener hands them. */
	copy = malloc(len + 1);
	if (!path || !query || !copy) {
		status = 0;
		goto out;
	}
	if (len)
		memcpy(copy, body, len);
	copy[len] = '\0';
	query_parse(query, qmark ? qmark + 1 : NULL);
	pthread_rwlock_rdlock(&srv->lock);
	max_body = srv->cfg->limits.max_body_bytes;
	pthread_rwlock_unlock(&srv->lock);
	if (route_find(srv, method, path, &idx, &params, &resp, allow, sizeof(allow))) {
		if (len > max_body)
			api_reply_error(&resp, 413, "payload_too_large",
					"request body of %zu bytes exceeds the limit of %llu", len,
					(unsigned long long)max_body);
		else
			route_serve(srv, &srv->routes[idx], &params, method, path, NULL, query,
				    len ? copy : NULL, len, &resp);
	}
	status = resp.status;
	api_metrics_observe(srv->metrics, idx, method, status, elapsed_since(&started));
	*out = response_text(&resp, out_len);
	if (!*out)
		status = 0;
out:
	response_clear(&resp);
	free(copy);
	free(query);
	free(path);
	atomic_fetch_sub(&srv->inflight, 1);
	return status;
}

/* Does an If-None-Match header list this entity tag (or "*")? */
static bool etag_listed(const char *header, const char *etag)
{
	size_t n = strlen(etag);

	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p == '*' ||
		    (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

void api_reply_versioned(const struct api_request *req, struct api_response *resp,
			 uint64_t generation, json_t *body)
{
	char etag[48];

	snprintf(etag, sizeof(etag), "\"%llu\"", (unsigned long long)generation);
	if (etag_listed(api_request_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH), etag)) {
		json_decref(body);
		api_reply_json(resp, 304, NULL);
	} else {
		api_reply_json(resp, 200, body);
	}
	snprintf(resp->etag, sizeof(resp->etag), "%s", etag);
}

int api_server_set_config(struct api_server *srv, const struct config *cfg, char *err,
			  size_t err_len)
{
	char **tokens = calloc(srv->n_listeners + 1, sizeof(*tokens));
	int r = 0;

	if (!tokens)
		return -ENOMEM;
	/* Read every new token first, so a bad file changes nothing. */
	for (size_t i = 0; i < srv->n_listeners && i < cfg->n_listen; i++) {
		const char *tf = cfg->listen[i].auth.token_file;
		if (!tf || !srv->listeners[i].tcp)
			continue;
		char e[256];
		r = api_auth_read_token(tf, &tokens[i], e, sizeof(e));
		if (r < 0) {
			snprintf(err, err_len, "listener %s: %s", srv->listeners[i].name, e);
			goto out;
		}
	}
	pthread_rwlock_wrlock(&srv->lock);
	srv->cfg = cfg;
	for (size_t i = 0; i < srv->n_listeners; i++) {
		/* A listener keeps requiring a token unless the new config names one. */
		if (tokens[i]) {
			secret_free(srv->listeners[i].token);
			srv->listeners[i].token = tokens[i];
			tokens[i] = NULL;
		}
	}
	pthread_rwlock_unlock(&srv->lock);
out:
	for (size_t i = 0; i < srv->n_listeners; i++)
		secret_free(tokens[i]);
	free(tokens);
	return r;
}

void api_server_stop(struct api_server *srv, unsigned grace_ms)
{
	struct timespec t0;

	if (!srv)
		return;
	atomic_store(&srv->stopping, true);
	/* Stop accepting: hand the listening sockets back and close them. */
	for (size_t i = 0; i < srv->n_listeners; i++) {
		struct listener *l = &srv->listeners[i];
		if (l->daemon) {
			MHD_socket fd = MHD_quiesce_daemon(l->daemon);
			if (fd != MHD_INVALID_SOCKET) {
				close(fd);
				l->fd = -1;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&srv->inflight) > 0 && elapsed_since(&t0) * 1000 < grace_ms)
		usleep(10 * 1000);
	if (atomic_load(&srv->inflight) > 0)
		log_warn("shutdown_timeout", "inflight=%ld grace_ms=%u",
			 (long)atomic_load(&srv->inflight), grace_ms);
	if (srv->sweeper_started) {
		pthread_mutex_lock(&srv->conns_lock);
		srv->sweeper_stop = true;
		pthread_cond_signal(&srv->sweeper_wake);
		pthread_mutex_unlock(&srv->conns_lock);
		pthread_join(srv->sweeper, NULL);
	}
	for (size_t i = 0; i < srv->n_listeners; i++) {
		/* A started daemon owns its socket: quiesced and closed above, or MHD closes it. */
		if (srv->listeners[i].daemon)
			srv->listeners[i].fd = -1;
		listener_close(&srv->listeners[i]);
	}
	api_metrics_free(srv->metrics);
	pthread_cond_destroy(&srv->sweeper_wake);
	pthread_mutex_destroy(&srv->conns_lock);
	pthread_mutex_destroy(&srv->log_lock);
	pthread_rwlock_destroy(&srv->lock);
	free(srv->listeners);
	free(srv->routes);
	free(srv);
}
