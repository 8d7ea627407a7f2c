/* api-resize: the auto resizer over REST (/v1/resize-policies, volume events); translation only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "quota/quota-model.h"
#include "resize/resize.h"

static struct resize_policies *policies(const struct api_request *req, struct api_response *resp)
{
	struct resize_policies *p = req->services ? req->services->resize_policies : NULL;

	if (!p)
		api_reply_error(resp, 503, "unavailable", "the auto resizer is not running");
	return p;
}

void api_resize_create(const struct api_request *req, struct api_response *resp)
{
	struct resize_policies *p = policies(req, resp);
	json_t *out = NULL;
	bool created = false;
	char err[1024];
	int r;

	if (!p)
		return;
	r = resize_policies_create(p, req->body, &out, &created, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, created ? 201 : 200, out);
}

void api_resize_list(const struct api_request *req, struct api_response *resp)
{
	struct resize_policies *p = policies(req, resp);
	json_t *out = NULL;
	char err[256];
	int r;

	if (!p)
		return;
	r = resize_policies_list(p, &out, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}

void api_resize_get(const struct api_request *req, struct api_response *resp)
{
	struct resize_policies *p = policies(req, resp);
	json_t *out = NULL;
	char err[512];
	int r;

	if (!p)
		return;
	r = resize_policies_get(p, api_param(req->params, "name"), &out, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}

void api_resize_put(const struct api_request *req, struct api_response *resp)
{
	struct resize_policies *p = policies(req, resp);
	json_t *out = NULL;
	bool created = false;
	char err[1024];
	int r;

	if (!p)
		return;
	r = resize_policies_replace(p, api_param(req->params, "name"), req->body, &out, &created,
				    err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, created ? 201 : 200, out);
}

void api_resize_delete(const struct api_request *req, struct api_response *resp)
{
	struct resize_policies *p = policies(req, resp);
	char err[512];
	int r;

	if (!p)
		return;
	r = resize_policies_delete(p, api_param(req->params, "name"), err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	resp->status = 204;
	resp->static_body = "";
	resp->static_len = 0;
}

void api_resize_events(const struct api_request *req, struct api_response *resp)
{
	struct resize_monitor *m = req->services ? req->services->resize : NULL;
	const char *name = api_param(req->params, "name");
	json_t *out = NULL;
	char err[512], why[256];
	int r;

	if (!m) {
		api_reply_error(resp, 503, "unavailable", "the auto resizer is not running");
		return;
	}
	if (!name || quota_name_valid(name, why, sizeof(why)) < 0) {
		api_reply_error(resp, 404, "not_found", "no volume of that name: %s",
				name ? why : "no name");
		return;
	}
	r = resize_monitor_events(m, name, &out, err, sizeof(err));
	if (r < 0) {
		api_reply_errno(resp, r, err);
		return;
	}
	api_reply_json(resp, 200, out);
}
