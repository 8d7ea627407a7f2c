/* api-volumes: volumes over REST (/v1/volumes); translation only, the service decides. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "kube/kube.h"
#include "quota/quota-volumes.h"
#include "util/log.h"

static struct quota_volumes *service(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = req->services ? req->services->volumes : NULL;

	if (!v)
		api_reply_error(resp, 503, "unavailable", "the volume service is not running");
	return v;
}

/* The {name} of the path, checked before it is used for anything. */
static const char *volume_name(const struct api_request *req, struct api_response *resp)
{
	const char *name = api_param(req->params, "name");
	char why[256];

	if (!name || quota_name_valid(name, why, sizeof(why)) < 0) {
		api_reply_error(resp, 404, "not_found", "no volume of that name: %s",
				name ? why : "no name");
		return NULL;
	}
	return name;
}

/*
 * A create that names only its PVC (a CSI create knows the claim, not the pod), when the node
 * reads the Kubernetes API (kube/kube-claims.c says what it reads): follows the NUMA node the
 * scheduler role recorded on the PVC, or else reserves the whole request of the pod that
 * kube-scheduler is placing here with the claim, so that this create and the creates of the
 * pod's other claims consume that one placement. A reservation for the claim, if any, still
 * wins in the service. The API server being away, or the pod not fitting as a whole, never
 * fails a create: the node's own policy places this volume then.
 */
static void claim_hint(const struct api_request *req, struct quota_volumes *v,
		       struct quota_create_req *cr)
{
	const struct sched_pod_opts defaults = {
		.driver = req->cfg ? req->cfg->placement.driver : NULL,
		.pmem_policy =
			req->cfg ? (enum sched_pmem_policy)req->cfg->placement.pmem_policy : 0,
		.cpu_policy = req->cfg ? (enum sched_cpu_policy)req->cfg->placement.cpu_policy : 0,
	};
	struct kube_claim_plan plan;
	struct kube_status st = {0};
	char q[600];
	int r;

	if (!cr->claim || cr->pod_uid || cr->pool || cr->numa_node >= 0 || !req->cfg)
		return;
	r = kube_claim_plan(&req->cfg->kube, NULL, req->cfg->node_name, &defaults, cr->claim, &plan,
			    &st);
	if (r < 0) {
		if (r != -ENODEV)
			log_warn("volume_claim_unread", "claim=%s errno=%d error=%s", cr->claim, -r,
				 log_quote(q, sizeof(q), st.message));
		return;
	}
	if (plan.numa_node >= 0) {
		cr->numa_node = plan.numa_node;
		log_info("volume_claim_placed", "claim=%s numa_node=%d source=pvc_annotation",
			 cr->claim, plan.numa_node);
	} else if (plan.reservation) {
		json_t *out = NULL;
		bool created = false;
		char err[1024];

		/* The pod's other claims may be created at this moment too: the same pod gives the
		 * same body, and the same body is the same reservation (200), made once. */
		r = quota_reservation_create(v, plan.reservation, &out, &created, err, sizeof(err));
		if (r == 0)
			log_info("volume_claim_pod_reserved",
				 "claim=%s pod=%s pod_uid=%s created=%s", cr->claim, plan.pod,
				 json_string_value(json_object_get(plan.reservation, "pod_uid")),
				 created ? "true" : "false");
		else
			log_warn("volume_claim_pod_unreserved", "claim=%s pod=%s errno=%d error=%s",
				 cr->claim, plan.pod, -r, log_quote(q, sizeof(q), err));
		json_decref(out);
	}
	kube_claim_plan_clear(&plan);
}

static void post_volumes(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = service(req, resp);
	struct quota_create_req *cr = NULL;
	json_t *out = NULL;
	bool created = false;
	char err[1024];
	int r;

	if (!v)
		return;
	r = quota_create_req_parse(req->body, quota_volumes_limits(v), &cr, err, sizeof(err));
	if (r == 0)
		claim_hint(req, v, cr);
	if (r == 0)
		r = quota_volume_create(v, cr, &out, &created, err, sizeof(err));
	quota_create_req_free(cr);
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, created ? 201 : 200, out);
}

static void get_volumes(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = service(req, resp);
	struct quota_volume_filter f = {.numa_node = -1};
	const char *numa = api_request_query(req, "numa_node");
	const char *label = api_request_query(req, "label");
	char key[QUOTA_LABEL_KEY_MAX + 1], why[256], err[256];
	json_t *out = NULL;
	int r;

	if (!v)
		return;
	f.pool = api_request_query(req, "pool");
	if (f.pool && !*f.pool)
		f.pool = NULL;
	if (numa && *numa) {
		char *end;
		long n = strtol(numa, &end, 10);

		if (*end || n < 0 || n > QUOTA_NUMA_NODE_MAX) {
			api_reply_error(resp, 400, "bad_request",
					"numa_node: must be an integer 0..%d, got %.32s",
					QUOTA_NUMA_NODE_MAX, numa);
			return;
		}
		f.numa_node = (int)n;
	}
	if (label && *label) {
		const char *eq = strchr(label, '=');
		size_t klen = eq ? (size_t)(eq - label) : strlen(label);

		if (klen == 0 || klen > QUOTA_LABEL_KEY_MAX) {
			api_reply_error(resp, 400, "bad_request",
					"label: expected key or key=value, got %.80s", label);
			return;
		}
		memcpy(key, label, klen);
		key[klen] = '\0';
		if (quota_label_valid(key, eq ? eq + 1 : NULL, why, sizeof(why)) < 0) {
			api_reply_error(resp, 400, "bad_request", "label: %s", why);
			return;
		}
		f.label_key = key;
		f.label_value = eq ? eq + 1 : NULL;
	}
	r = quota_volume_list(v, &f, &out, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}

static void get_volume(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = service(req, resp);
	const char *name = v ? volume_name(req, resp) : NULL;
	json_t *out = NULL;
	char err[512];
	int r;

	if (!name)
		return;
	r = quota_volume_get(v, name, &out, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}

static void post_resize(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = service(req, resp);
	const char *name = v ? volume_name(req, resp) : NULL;
	struct quota_resize_req rr;
	json_t *out = NULL;
	char err[1024];
	int r;

	if (!name)
		return;
	r = quota_resize_req_parse(req->body, quota_volumes_limits(v), &rr, err, sizeof(err));
	if (r == 0)
		r = quota_volume_resize(v, name, &rr, &out, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}

static void delete_volume(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = service(req, resp);
	const char *name = v ? volume_name(req, resp) : NULL;
	const char *force = api_request_query(req, "force");
	char err[1024];
	int r;

	if (!name)
		return;
	if (force && strcmp(force, "true") != 0 && strcmp(force, "false") != 0) {
		api_reply_error(resp, 400, "bad_request", "force: must be true or false, got %.32s",
				force);
		return;
	}
	r = quota_volume_delete(v, name, force && strcmp(force, "true") == 0, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	resp->status = 204;
	resp->static_body = "";
	resp->static_len = 0;
}

static void publishing(const struct api_request *req, struct api_response *resp, bool publish)
{
	struct quota_volumes *v = service(req, resp);
	const char *name = v ? volume_name(req, resp) : NULL;
	struct quota_publish_req *pr;
	json_t *out = NULL;
	char err[1024];
	int r;

	if (!name)
		return;
	pr = calloc(1, sizeof(*pr)); /* 4 KiB of path: not on a worker's stack */
	if (!pr) {
		api_reply_error(resp, 500, "internal", "out of memory");
		return;
	}
	r = publish ? quota_publish_req_parse(req->body, quota_volumes_limits(v), pr, err,
					      sizeof(err))
		    : quota_unpublish_req_parse(req->body, quota_volumes_limits(v), pr, err,
						sizeof(err));
	if (r == 0)
		r = publish ? quota_volume_publish(v, name, pr, &out, err, sizeof(err))
			    : quota_volume_unpublish(v, name, pr, &out, err, sizeof(err));
	free(pr);
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}

static void post_publish(const struct api_request *req, struct api_response *resp)
{
	publishing(req, resp, true);
}

static void post_unpublish(const struct api_request *req, struct api_response *resp)
{
	publishing(req, resp, false);
}

const struct api_route api_volumes_routes[] = {
	{"POST", "/v1/volumes", post_volumes, API_ROUTE_BODY},
	{"GET", "/v1/volumes", get_volumes, 0},
	{"GET", "/v1/volumes/{name}", get_volume, 0},
	{"DELETE", "/v1/volumes/{name}", delete_volume, 0},
	{"POST", "/v1/volumes/{name}/resize", post_resize, API_ROUTE_BODY},
	{"POST", "/v1/volumes/{name}/publish", post_publish, API_ROUTE_BODY},
	{"POST", "/v1/volumes/{name}/unpublish", post_unpublish, API_ROUTE_BODY},
};

const size_t api_volumes_routes_count = sizeof(api_volumes_routes) / sizeof(api_volumes_routes[0]);
