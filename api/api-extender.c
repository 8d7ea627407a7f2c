/*
 * api-extender: kube-scheduler's HTTP extender verbs (filter, prioritize, bind) and GET
 * /v1/cluster over the cluster view; translation only.
 *
 * Errors are answered the way kube-scheduler reads them: HTTP 200 with the `Error` field of
 * the result (a non-200 would only say "extender failed" in its log). The bodies are read
 * raw (API_ROUTE_RAW) and scanned by sched-extender's parser, not jansson: the hot path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-extender.h"
#include "api/api-internal.h"
#include "cluster/cluster.h"
#include "sched/sched-extender.h"
#include "sched/sched-pod.h"
#include "util/log.h"

#define ERR_MAX 512

/*
 * Per worker thread, reused across calls: the parser's buffers and the results array (a
 * 5,000-node call would otherwise allocate and clear ~3 MB of results each time). Freed by
 * the key's destructor when the server's threads end.
 */
struct scratch {
	struct sched_ext_parser *parser;
	struct sched_result *results;
	size_t cap;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
	struct scratch *s = p;

	if (!s)
		return;
	sched_ext_parser_free(s->parser);
	free(s->results);
	free(s);
}

static void scratch_key_make(void)
{
	pthread_key_create(&scratch_key, scratch_free);
}

static struct scratch *scratch_get(void)
{
	struct scratch *s;

	pthread_once(&scratch_once, scratch_key_make);
	s = pthread_getspecific(scratch_key);
	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->parser = sched_ext_parser_new();
	if (!s->parser || pthread_setspecific(scratch_key, s) != 0) {
		scratch_free(s);
		return NULL;
	}
	return s;
}

static struct sched_result *scratch_results(struct scratch *s, size_t n)
{
	if (n > s->cap) {
		struct sched_result *r = realloc(s->results, n * sizeof(*r));
		if (!r)
			return NULL;
		s->results = r;
		s->cap = n;
	}
	return s->results;
}

/* Hands the written text to the response (the buffer is empty again after). */
static void reply_buf(struct api_response *resp, struct sched_ext_buf *b)
{
	resp->status = 200;
	resp->text = b->data;
	resp->text_len = b->len;
	resp->content_type = "application/json";
	b->data = NULL;
	b->len = b->cap = 0;
}

static void reply_oom(struct api_response *resp, struct sched_ext_buf *b)
{
	sched_ext_buf_free(b);
	api_reply_error(resp, 500, "internal", "out of memory");
}

static struct cluster *view(const struct api_request *req)
{
	return req->services ? req->services->cluster : NULL;
}

/* Filter and prioritize start alike: parse, remember the pod, read its request. */
struct verb {
	struct scratch *s;
	struct sched_ext_args *args;
	struct sched_pod_request *pod;
	char err[ERR_MAX];
	bool parsed; /* args is set */
	bool failed; /* err says why, for every node */
};

static void verb_begin(const struct api_request *req, struct verb *v, const char *what)
{
	struct cluster *c = view(req);
	char e[SCHED_EXT_ERR_MAX] = "";
	int r;

	memset(v, 0, sizeof(*v));
	v->s = scratch_get();
	if (!v->s) {
		snprintf(v->err, sizeof(v->err), "out of memory");
		return;
	}
	r = sched_ext_args_parse(v->s->parser, req->raw_body ? req->raw_body : "", req->raw_len,
				 &v->args, e, sizeof(e));
	if (r < 0) {
		snprintf(v->err, sizeof(v->err), "ExtenderArgs: %s",
			 r == -ENOMEM ? "out of memory" : e);
		log_warn("extender_bad_request", "verb=%s reason=\"%s\"", what, v->err);
		return;
	}
	v->parsed = true;
	if (!c) {
		snprintf(v->err, sizeof(v->err), "the cluster view is not running");
		v->failed = true;
		return;
	}
	cluster_pod_remember(c, v->args->pod);
	r = cluster_pod_request(c, v->args->pod, &v->pod, v->err, sizeof(v->err));
	if (r < 0)
		v->failed = true;
	else
		v->pod->req.terse = true; /* nodes that pass get no text in either answer */
}

static void verb_end(struct verb *v)
{
	sched_ext_args_free(v->args);
	sched_pod_request_free(v->pod);
}

static void post_filter(const struct api_request *req, struct api_response *resp)
{
	struct sched_ext_buf b = {0};
	struct sched_result *res = NULL;
	struct verb v;
	int r;

	verb_begin(req, &v, "filter");
	if (!v.parsed) {
		r = sched_ext_write_filter_error(&b, v.err);
	} else if (v.failed) {
		/* The pod cannot be judged (a missing PVC, a bad annotation): every node fails
		 * with the reason, which kube-scheduler shows in the pod's events. */
		r = sched_ext_write_filter(&b, v.args, req->raw_body, NULL, v.err);
	} else if (!(res = scratch_results(v.s, v.args->n_nodes))) {
		r = -ENOMEM;
	} else if (sched_pod_request_empty(v.pod)) {
		/* Nothing asked of pmemd: every node passes, untouched. */
		for (size_t i = 0; i < v.args->n_nodes; i++)
			res[i].feasible = true;
		r = sched_ext_write_filter(&b, v.args, req->raw_body, res, NULL);
	} else {
		char e[SCHED_REASON_MAX];
		r = cluster_evaluate(view(req), v.pod, v.args->names, v.args->n_nodes, res);
		if (r == -EINVAL) {
			snprintf(e, sizeof(e), "%s", res[0].reason);
			r = sched_ext_write_filter(&b, v.args, req->raw_body, NULL, e);
		} else {
			r = sched_ext_write_filter(&b, v.args, req->raw_body, res, NULL);
		}
	}
	verb_end(&v);
	if (r < 0)
		reply_oom(resp, &b);
	else
		reply_buf(resp, &b);
}

static void post_prioritize(const struct api_request *req, struct api_response *resp)
{
	struct sched_ext_buf b = {0};
	struct sched_result *res = NULL;
	struct verb v;
	int r = 0;

	verb_begin(req, &v, "prioritize");
	if (!v.parsed) {
		/* A HostPriorityList has no Error field: no scores at all is what is left (the
		 * reason is in the log, and filter got the same body and said it). */
		resp->status = 200;
		resp->static_body = "[]\n";
		resp->static_len = 3;
		resp->content_type = "application/json";
		verb_end(&v);
		return;
	}
	if (!(res = scratch_results(v.s, v.args->n_nodes))) {
		r = -ENOMEM;
	} else if (v.failed || sched_pod_request_empty(v.pod)) {
		/*
		 * The same score everywhere: pmemd has no opinion on this pod. 0 rather than
		 * the middle of the range, so the extender's weight adds nothing either
		 * (docs/scheduler.md). A pod that cannot be judged failed filter already.
		 */
		memset(res, 0, v.args->n_nodes * sizeof(*res));
		r = sched_ext_write_priorities(&b, v.args, res);
	} else {
		r = cluster_evaluate(view(req), v.pod, v.args->names, v.args->n_nodes, res);
		if (r == -EINVAL)
			memset(res, 0, v.args->n_nodes * sizeof(*res));
		r = sched_ext_write_priorities(&b, v.args, res);
	}
	verb_end(&v);
	if (r < 0)
		reply_oom(resp, &b);
	else
		reply_buf(resp, &b);
}

static void post_bind(const struct api_request *req, struct api_response *resp)
{
	struct cluster *c = view(req);
	struct sched_ext_binding bind = {0};
	struct sched_ext_buf b = {0};
	char e[ERR_MAX] = "", pe[SCHED_EXT_ERR_MAX] = "";
	int r;

	r = sched_ext_binding_parse(req->raw_body ? req->raw_body : "", req->raw_len, &bind, pe,
				    sizeof(pe));
	if (r < 0) {
		snprintf(e, sizeof(e), "ExtenderBindingArgs: %s",
			 r == -ENOMEM ? "out of memory" : pe);
		log_warn("extender_bad_request", "verb=bind reason=\"%s\"", e);
	} else if (!c) {
		snprintf(e, sizeof(e), "the cluster view is not running");
	} else if (cluster_bind(c, &bind, e, sizeof(e)) < 0) {
		char q[ERR_MAX + 64];
		log_info("bind_refused", "pod=%s/%s node=%s reason=%s", bind.pod_namespace,
			 bind.pod_name, bind.node, log_quote(q, sizeof(q), e));
	} else {
		e[0] = '\0';
	}
	sched_ext_binding_clear(&bind);
	if (sched_ext_write_binding_result(&b, e[0] ? e : NULL) < 0)
		reply_oom(resp, &b);
	else
		reply_buf(resp, &b);
}

static void get_cluster(const struct api_request *req, struct api_response *resp)
{
	struct cluster *c = view(req);
	json_t *j;

	if (!c) {
		api_reply_error(resp, 503, "unavailable",
				"the cluster view runs only in role scheduler");
		return;
	}
	j = cluster_to_json(c);
	if (!j) {
		api_reply_error(resp, 500, "internal", "cannot render the cluster view");
		return;
	}
	api_reply_json(resp, 200, j);
}

const struct api_route api_cluster_routes[] = {
	{"GET", "/v1/cluster", get_cluster, 0},
};
const size_t api_cluster_routes_count = sizeof(api_cluster_routes) / sizeof(api_cluster_routes[0]);

struct api_extender_routes {
	struct api_route routes[4];
	char paths[3][256];
};

int api_extender_routes_new(const char *prefix, struct api_extender_routes **out)
{
	static const char *const verbs[] = {"filter", "prioritize", "bind"};
	static const api_handler_fn fns[] = {post_filter, post_prioritize, post_bind};
	struct api_extender_routes *r;

	if (!prefix || prefix[0] != '/' || strlen(prefix) > 200)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < 3; i++) {
		/* "/" alone as the prefix must not give "//filter" (an empty segment). */
		snprintf(r->paths[i], sizeof(r->paths[i]), "%s/%s",
			 strcmp(prefix, "/") == 0 ? "" : prefix, verbs[i]);
		r->routes[i] = (struct api_route){"POST", r->paths[i], fns[i], API_ROUTE_RAW};
	}
	r->routes[3] = api_cluster_routes[0];
	*out = r;
	return 0;
}

const struct api_route *api_extender_routes_list(const struct api_extender_routes *r, size_t *n)
{
	*n = r ? 4 : 0;
	return r ? r->routes : NULL;
}

struct api_extender_routes *api_extender_routes_free(struct api_extender_routes *r)
{
	free(r);
	return NULL;
}
