/* api-routes: the core endpoints: health, readiness, version, config, metrics, OpenAPI. */
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "api/api-internal.h"
#include "build/version.h"
#include "quota/quota-volumes.h"
#include "resize/resize.h"
#include "topology/topology.h"

extern const char pmemd_openapi_json[];
extern const char pmemd_openapi_json_end[];

static void get_healthz(const struct api_request *req, struct api_response *resp)
{
	(void)req;
	api_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void get_readyz(const struct api_request *req, struct api_response *resp)
{
	if (api_server_is_ready(req->server))
		api_reply_json(resp, 200, json_pack("{s:s}", "status", "ready"));
	else
		api_reply_error(resp, 503, "not_ready", "pmemd is starting or stopping");
}

static void get_version(const struct api_request *req, struct api_response *resp)
{
	(void)req;
	api_reply_json(
		resp, 200,
		json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}", "version",
			  PMEMD_VERSION, "git_commit", PMEMD_GIT_COMMIT, "build_flags",
			  PMEMD_BUILD_FLAGS, "libraries", "libmicrohttpd", MHD_get_version(),
			  "jansson", jansson_version_str(), "libyaml", yaml_get_version_string(),
			  "libcurl", curl_version_info(CURLVERSION_NOW)->version, "gnutls",
			  gnutls_check_version(NULL), "libndctl", PMEMD_LIBNDCTL_VERSION,
			  "libdaxctl", PMEMD_LIBDAXCTL_VERSION, "libnuma", PMEMD_LIBNUMA_VERSION));
}

static void get_config(const struct api_request *req, struct api_response *resp)
{
	json_t *c = config_to_json(req->cfg);

	if (!c) {
		api_reply_error(resp, 500, "internal", "cannot render the config");
		return;
	}
	api_reply_json(resp, 200, c);
}

static void get_metrics(const struct api_request *req, struct api_response *resp)
{
	size_t len = 0, all_len = 0;
	char *text = api_metrics_render(api_server_metrics(req->server),
					api_server_uptime(req->server), &len);
	char *all = NULL;
	FILE *f;

	if (!text) {
		api_reply_error(resp, 500, "internal", "cannot render metrics");
		return;
	}
	/* The services' own series follow the server's. */
	f = open_memstream(&all, &all_len);
	if (!f) {
		free(text);
		api_reply_error(resp, 500, "internal", "cannot render metrics");
		return;
	}
	fwrite(text, 1, len, f);
	free(text);
	if (req->services && req->services->topology)
		topology_manager_metrics(req->services->topology, f);
	if (req->services && req->services->volumes)
		quota_volumes_metrics(req->services->volumes, f);
	if (req->services && req->services->resize)
		resize_monitor_metrics(req->services->resize, f);
	if (fclose(f) != 0) {
		free(all);
		api_reply_error(resp, 500, "internal", "cannot render metrics");
		return;
	}
	resp->status = 200;
	resp->text = all;
	resp->text_len = all_len;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void get_openapi(const struct api_request *req, struct api_response *resp)
{
	(void)req;
	resp->status = 200;
	resp->static_body = pmemd_openapi_json;
	resp->static_len = (size_t)(pmemd_openapi_json_end - pmemd_openapi_json);
	resp->content_type = "application/json";
}

const struct api_route api_core_routes[] = {
	{"GET", "/healthz", get_healthz, API_ROUTE_OPEN},
	{"GET", "/readyz", get_readyz, API_ROUTE_OPEN},
	{"GET", "/v1/version", get_version, 0},
	{"GET", "/v1/config", get_config, 0},
	{"GET", "/metrics", get_metrics, 0},
	{"GET", "/openapi.json", get_openapi, 0},
	/* The auto resizer (api-resize.c). */
	{"POST", "/v1/resize-policies", api_resize_create, API_ROUTE_BODY},
	{"GET", "/v1/resize-policies", api_resize_list, 0},
	{"GET", "/v1/resize-policies/{name}", api_resize_get, 0},
	{"PUT", "/v1/resize-policies/{name}", api_resize_put, API_ROUTE_BODY},
	{"DELETE", "/v1/resize-policies/{name}", api_resize_delete, 0},
	{"GET", "/v1/volumes/{name}/events", api_resize_events, 0},
};

const size_t api_core_routes_count = sizeof(api_core_routes) / sizeof(api_core_routes[0]);
