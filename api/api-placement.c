/* api-placement: /v1/placement/evaluate and /v1/reservations; translation only, the engine and the
 * volume service decide. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "quota/quota-volumes.h"
#include "sched/sched.h"
#include "topology/topology.h"
#include "util/log.h"

#define ID_MAX 512 /* a volume id of an evaluate request ("pvc:<namespace>/<claim>") */

static struct quota_volumes *volumes(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = req->services ? req->services->volumes : NULL;

	if (!v)
		api_reply_error(resp, 503, "unavailable", "the volume service is not running");
	return v;
}

/* ---- POST /v1/placement/evaluate ---- */

static const char *kind(const json_t *v)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* A string of 1..max bytes without NUL or control characters. */
static bool plain_text(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!s || n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool only(const json_t *o, const char *const *allowed, const char **bad)
{
	const char *key;
	json_t *x;

	json_object_foreach ((json_t *)o, key, x) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
			;
		if (!allowed[i]) {
			*bad = key;
			return false;
		}
	}
	return true;
}

/* The request of an evaluate body; strings point into `body`. 0 or 400 already answered. */
static int parse_evaluate(const json_t *body, const struct config *cfg, struct sched_request *sr,
			  struct sched_volume *sv, struct api_response *resp)
{
	static const char *const top[] = {"volumes", "cpus", "pmem_policy", "cpu_policy", NULL};
	static const char *const vf[] = {"size_bytes", "fstype", "id", NULL};
	const json_t *vols = json_object_get(body, "volumes"), *x, *e;
	const char *badkey;
	char q[80];
	size_t i;

	memset(sr, 0, sizeof(*sr));
	sr->pmem_policy =
		cfg ? (enum sched_pmem_policy)cfg->placement.pmem_policy : SCHED_PMEM_BINPACK;
	sr->cpu_policy = cfg ? (enum sched_cpu_policy)cfg->placement.cpu_policy
			     : SCHED_CPU_SHORTEST_DISTANCE;
	sr->volumes = sv;
	if (!json_is_object(body)) {
		api_reply_error(resp, 400, "bad_request", "body: must be a JSON object");
		return -EINVAL;
	}
	if (!only(body, top, &badkey)) {
		api_reply_error(resp, 400, "bad_request", "%s: unknown field",
				log_quote(q, sizeof(q), badkey));
		return -EINVAL;
	}
	if (!json_is_array(vols)) {
		api_reply_error(resp, 400, "bad_request", "volumes: must be an array, got %s",
				vols ? kind(vols) : "nothing");
		return -EINVAL;
	}
	if (json_array_size(vols) > SCHED_MAX_VOLUMES) {
		api_reply_error(resp, 400, "bad_request", "volumes: at most %d, got %zu",
				SCHED_MAX_VOLUMES, json_array_size(vols));
		return -EINVAL;
	}
	json_array_foreach (vols, i, e) {
		struct sched_volume *v = &sv[i];

		memset(v, 0, sizeof(*v));
		v->bound_numa = -1;
		if (!json_is_object(e)) {
			api_reply_error(resp, 400, "bad_request",
					"volumes[%zu]: must be an object, got %s", i, kind(e));
			return -EINVAL;
		}
		if (!only(e, vf, &badkey)) {
			api_reply_error(resp, 400, "bad_request", "volumes[%zu].%s: unknown field",
					i, log_quote(q, sizeof(q), badkey));
			return -EINVAL;
		}
		x = json_object_get(e, "size_bytes");
		if (!json_is_integer(x) || json_integer_value(x) < 1) {
			api_reply_error(
				resp, 400, "bad_request",
				"volumes[%zu].size_bytes: must be a positive integer, got %s", i,
				x ? kind(x) : "nothing");
			return -EINVAL;
		}
		v->size = (uint64_t)json_integer_value(x);
		x = json_object_get(e, "fstype");
		if (x && (!json_is_string(x) || (strcmp(json_string_value(x), "ext4") != 0 &&
						 strcmp(json_string_value(x), "xfs") != 0))) {
			api_reply_error(resp, 400, "bad_request",
					"volumes[%zu].fstype: must be ext4 or xfs", i);
			return -EINVAL;
		}
		v->fstype = json_string_value(x);
		x = json_object_get(e, "id");
		if (x && !plain_text(x, ID_MAX)) {
			api_reply_error(resp, 400, "bad_request",
					"volumes[%zu].id: must be a string of 1 to %d characters "
					"without control characters",
					i, ID_MAX);
			return -EINVAL;
		}
		v->id = json_string_value(x);
		sr->n_volumes++;
	}
	x = json_object_get(body, "cpus");
	if (x) {
		if (!json_is_integer(x) || json_integer_value(x) < 0 ||
		    json_integer_value(x) > QUOTA_CPUS_MAX) {
			api_reply_error(resp, 400, "bad_request",
					"cpus: must be an integer from 0 to %d", QUOTA_CPUS_MAX);
			return -EINVAL;
		}
		sr->cpus = (unsigned)json_integer_value(x);
	}
	x = json_object_get(body, "pmem_policy");
	if (x) {
		enum sched_pmem_policy p;

		if (!json_is_string(x) || sched_pmem_policy_parse(json_string_value(x), &p) < 0) {
			api_reply_error(resp, 400, "bad_request",
					"pmem_policy: must be binpack, spread, single-numa or "
					"first-fit");
			return -EINVAL;
		}
		sr->pmem_policy = p;
	}
	x = json_object_get(body, "cpu_policy");
	if (x) {
		enum sched_cpu_policy p;

		if (!json_is_string(x) || sched_cpu_policy_parse(json_string_value(x), &p) < 0) {
			api_reply_error(resp, 400, "bad_request",
					"cpu_policy: must be shortest-distance or single-numa-cpu");
			return -EINVAL;
		}
		sr->cpu_policy = p;
	}
	return 0;
}

static void post_evaluate(const struct api_request *req, struct api_response *resp)
{
	struct topology_manager *topo = req->services ? req->services->topology : NULL;
	struct sched_volume *sv = NULL;
	struct sched_owned_node *node = NULL;
	struct sched_result *res = NULL;
	struct sched_request sr;
	json_t *rec = NULL, *out;
	char err[300];
	int r;

	sv = calloc(SCHED_MAX_VOLUMES, sizeof(*sv));
	res = calloc(1, sizeof(*res));
	if (!sv || !res) {
		api_reply_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	if (parse_evaluate(req->body, req->cfg, &sr, sv, resp) < 0)
		goto out;
	if (!topo) {
		api_reply_error(resp, 503, "unavailable", "the pool manager is not running");
		goto out;
	}
	/* The record already holds allocated, reserved_bytes and cpus_exclusive. */
	rec = topology_manager_node_json(topo, NULL);
	r = rec ? sched_node_from_record(rec, &node, err, sizeof(err)) : -ENOMEM;
	if (r < 0) {
		api_reply_error(resp, 500, "internal", "this node's record: %s",
				r == -ENOMEM ? "out of memory" : err);
		goto out;
	}
	r = sched_evaluate(&node->node, &sr, res);
	if (r < 0) {
		api_reply_error(resp, 400, "bad_request", "%s", res->reason);
		goto out;
	}
	out = sched_result_to_json(&node->node, res);
	if (!out) {
		api_reply_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	api_reply_json(resp, 200, out);
out:
	sched_node_free(node);
	json_decref(rec);
	free(res);
	free(sv);
}

/* ---- /v1/reservations ---- */

static void post_reservations(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = volumes(req, resp);
	json_t *out = NULL;
	bool created = false;
	char err[1024];
	int r;

	if (!v)
		return;
	r = quota_reservation_create(v, req->body, &out, &created, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, created ? 201 : 200, out);
}

static void get_reservations(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = volumes(req, resp);
	json_t *out = NULL;
	char err[256];
	int r;

	if (!v)
		return;
	r = quota_reservation_list(v, &out, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}

static void get_reservation(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = volumes(req, resp);
	json_t *out = NULL;
	char err[512];
	int r;

	if (!v)
		return;
	r = quota_reservation_get(v, api_param(req->params, "pod_uid"), &out, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}

static void delete_reservation(const struct api_request *req, struct api_response *resp)
{
	struct quota_volumes *v = volumes(req, resp);
	char err[4096 + 256]; /* may name the state file */
	int r;

	if (!v)
		return;
	r = quota_reservation_delete(v, api_param(req->params, "pod_uid"), err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	resp->status = 204;
	resp->static_body = "";
	resp->static_len = 0;
}

const struct api_route api_placement_routes[] = {
	{"POST", "/v1/placement/evaluate", post_evaluate, API_ROUTE_BODY},
	{"POST", "/v1/reservations", post_reservations, API_ROUTE_BODY},
	{"GET", "/v1/reservations", get_reservations, 0},
	{"GET", "/v1/reservations/{pod_uid}", get_reservation, 0},
	{"DELETE", "/v1/reservations/{pod_uid}", delete_reservation, 0},
};

const size_t api_placement_routes_count =
	sizeof(api_placement_routes) / sizeof(api_placement_routes[0]);
