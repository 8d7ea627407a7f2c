/* api-topology: the node record, discovery views and pools over REST; translation only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "topology/topology.h"

static struct topology_manager *manager(const struct api_request *req, struct api_response *resp)
{
	struct topology_manager *m = req->services ? req->services->topology : NULL;

	if (!m)
		api_reply_error(resp, 503, "unavailable", "the topology service is not running");
	return m;
}

/* ?refresh=true asks for a rediscovery first; a plain GET reads the cache. */
static void maybe_refresh(const struct api_request *req, struct topology_manager *m)
{
	const char *r = api_request_query(req, "refresh");

	if (r && strcmp(r, "true") == 0)
		topology_manager_refresh(m);
}

static void get_node(const struct api_request *req, struct api_response *resp)
{
	struct topology_manager *m = manager(req, resp);
	const char *format = api_request_query(req, "format");
	uint64_t gen = 0;
	json_t *body;

	if (!m)
		return;
	if (format && strcmp(format, "nrt") != 0 && strcmp(format, "pmemd") != 0) {
		api_reply_error(resp, 400, "bad_request", "format must be pmemd or nrt, got %.64s",
				format);
		return;
	}
	maybe_refresh(req, m);
	if (format && strcmp(format, "nrt") == 0)
		body = topology_manager_nrt_json(m, &gen);
	else
		body = topology_manager_node_json(m, &gen);
	if (!body) {
		api_reply_error(resp, 500, "internal", "cannot build the node record");
		return;
	}
	api_reply_versioned(req, resp, gen, body);
}

static void snapshot_view(const struct api_request *req, struct api_response *resp, int which)
{
	struct topology_manager *m = manager(req, resp);
	json_t *j;

	if (!m)
		return;
	maybe_refresh(req, m);
	j = topology_manager_snapshot_json(m, which);
	if (!j) {
		api_reply_error(resp, 503, "not_ready", "discovery has not completed yet");
		return;
	}
	api_reply_versioned(req, resp, topology_manager_generation(m), j);
}

static void get_topology(const struct api_request *req, struct api_response *resp)
{
	snapshot_view(req, resp, TOPO_JSON_ALL);
}

static void get_regions(const struct api_request *req, struct api_response *resp)
{
	snapshot_view(req, resp, TOPO_JSON_REGIONS);
}

static void get_namespaces(const struct api_request *req, struct api_response *resp)
{
	snapshot_view(req, resp, TOPO_JSON_NAMESPACES);
}

static void get_numa(const struct api_request *req, struct api_response *resp)
{
	snapshot_view(req, resp, TOPO_JSON_NUMA);
}

static void get_pools(const struct api_request *req, struct api_response *resp)
{
	struct topology_manager *m = manager(req, resp);
	struct pool_status *p = NULL;
	size_t n = 0;
	json_t *arr;

	if (!m)
		return;
	if (topology_manager_pools(m, &p, &n) < 0) {
		api_reply_error(resp, 500, "internal", "out of memory");
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, topology_pool_status_json(&p[i]));
	free(p);
	api_reply_json(resp, 200, json_pack("{s:o}", "pools", arr));
}

/*
 * A pool's name is its mount path, which is not one URL segment; the URL
 * carries the pool's id instead ("/mnt/pmem0" → "mnt-pmem0", see
 * topology_pool_id), or ?name=<path> for callers that only know the path.
 */
static int pool_lookup(const struct api_request *req, struct topology_manager *m,
		       struct pool_status *st, char *name, size_t len)
{
	const char *q = api_request_query(req, "name");
	const char *id = api_param(req->params, "id");

	if (q && *q) {
		snprintf(name, len, "%s", q);
		return topology_manager_pool(m, name, st);
	}
	snprintf(name, len, "%s", id ? id : "");
	return topology_manager_pool_by_id(m, name, st);
}

static void get_pool(const struct api_request *req, struct api_response *resp)
{
	struct topology_manager *m = manager(req, resp);
	struct pool_status st;
	char name[4096];

	if (!m)
		return;
	if (pool_lookup(req, m, &st, name, sizeof(name)) < 0) {
		api_reply_error(resp, 404, "not_found", "no pool %.200s on this node", name);
		return;
	}
	api_reply_json(resp, 200, topology_pool_status_json(&st));
}

static void post_pool_reconcile(const struct api_request *req, struct api_response *resp)
{
	struct topology_manager *m = manager(req, resp);
	struct pool_status st;
	char name[4096];

	if (!m)
		return;
	if (pool_lookup(req, m, &st, name, sizeof(name)) < 0 ||
	    topology_manager_reconcile(m, st.name) == -ENOENT ||
	    topology_manager_pool(m, st.name, &st) < 0) {
		api_reply_error(resp, 404, "not_found", "no pool %.200s on this node", name);
		return;
	}
	api_reply_json(resp, 200, topology_pool_status_json(&st));
}

const struct api_route api_topology_routes[] = {
	{"GET", "/v1/node", get_node, 0},
	{"GET", "/v1/topology", get_topology, 0},
	{"GET", "/v1/regions", get_regions, 0},
	{"GET", "/v1/namespaces", get_namespaces, 0},
	{"GET", "/v1/numa", get_numa, 0},
	{"GET", "/v1/pools", get_pools, 0},
	{"GET", "/v1/pools/{id}", get_pool, 0},
	{"POST", "/v1/pools/{id}/reconcile", post_pool_reconcile, 0},
};

const size_t api_topology_routes_count =
	sizeof(api_topology_routes) / sizeof(api_topology_routes[0]);
