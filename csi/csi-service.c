/* csi-service: each CSI RPC: unpack, check, call pmemd's REST API, pack the answer. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "build/version.h"
#include "csi/csi-map.h"
#include "csi/csi-pmemd.h"
#include "csi/csi-service.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "util/log.h"

/* More parameters than any StorageClass has; the spec caps a map at 4 KiB anyway. */
#define MAX_PARAMS 64

static void reply_err(struct csi_reply *r, grpc_status_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_err(struct csi_reply *r, grpc_status_code code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
}

/* Serializes the answer into the reply; an allocation failure becomes INTERNAL. */
static void reply_msg(struct csi_reply *r, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	r->body = malloc(n ? n : 1);
	if (!r->body) {
		reply_err(r, GRPC_STATUS_INTERNAL, "out of memory");
		return;
	}
	r->len = protobuf_c_message_pack(m, r->body);
	r->code = GRPC_STATUS_OK;
}

/* Milliseconds to an absolute CLOCK_MONOTONIC deadline; 0 for none, -1 when it passed. */
static long ms_left(int64_t deadline_ms)
{
	struct timespec now;
	int64_t left;

	if (deadline_ms == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = deadline_ms - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	return left < 1 ? -1 : left > LONG_MAX ? LONG_MAX : (long)left;
}

/*
 * One call of pmemd. Returns the HTTP status with the body in *resp (NULL if
 * none), having set r to the mapped error when it is not 2xx; returns 0 with r
 * set to UNAVAILABLE when pmemd could not be reached.
 */
static long rest(struct csi_service *s, enum csi_op op, const char *method, const char *path,
		 const json_t *body, json_t **resp, struct csi_reply *r)
{
	char err[300];
	long status;
	json_t *j = NULL;
	long left;
	int ret;

	if (resp)
		*resp = NULL;

	left = ms_left(r->deadline_ms);
	/* A call that waited for a worker past its deadline changes nothing any more. */
	if (left < 0) {
		reply_err(r, GRPC_STATUS_DEADLINE_EXCEEDED,
			  "the deadline passed before pmemd was asked (%s %s)", method, path);
		return 0;
	}
	ret = csi_pmemd_call(s->pmemd, method, path, body, left, &status, &j, err, sizeof(err));
	if (ret < 0) {
		reply_err(r,
			  ret == -ETIMEDOUT ? GRPC_STATUS_DEADLINE_EXCEEDED
					    : GRPC_STATUS_UNAVAILABLE,
			  "%s", err);
		return 0;
	}
	if (status < 200 || status >= 300) {
		r->code = csi_map_status(op, status);
		csi_map_error_message(status, j, r->msg, sizeof(r->msg));
	}
	if (resp)
		*resp = j;
	else
		json_decref(j);
	return status;
}

/* Refuses a request whose strings hold NUL bytes before protobuf-c cuts them short. */
static bool strings_ok(const ProtobufCMessageDescriptor *d, const uint8_t *req, size_t len,
		       struct csi_reply *r)
{
	char err[200];

	if (csi_map_check_strings(d, req, len, err, sizeof(err)) == 0)
		return true;
	reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
	return false;
}

/*
 * Unpacks a request of `d`; NULL after answering INVALID_ARGUMENT when it is malformed or a
 * string in it holds a NUL byte (strings_ok). Free with the type's free_unpacked.
 */
static void *unpack(const ProtobufCMessageDescriptor *d, const uint8_t *req, size_t len,
		    struct csi_reply *r)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, req);

	if (!m) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "malformed %s", d->short_name);
		return NULL;
	}
	if (!strings_ok(d, req, len, r)) {
		protobuf_c_message_free_unpacked(m, NULL);
		return NULL;
	}
	return m;
}

static bool ok2xx(long status)
{
	return status >= 200 && status < 300;
}

/* GET /v1/volumes/{id}: 1 with *vol, 0 when there is no such volume, -1 on error (r set). */
static int get_volume(struct csi_service *s, const char *id, json_t **vol, struct csi_reply *r)
{
	char path[64 + CSI_ID_MAX];
	long st;

	*vol = NULL;
	if (!csi_map_id_valid(id))
		return 0; /* never a volume of this driver: no request needed */
	snprintf(path, sizeof(path), "/v1/volumes/%s", id);
	st = rest(s, CSI_OP_GET, "GET", path, NULL, vol, r);
	if (ok2xx(st) && json_is_object(*vol))
		return 1;
	json_decref(*vol);
	*vol = NULL;
	if (st == 404) {
		r->code = GRPC_STATUS_OK;
		r->msg[0] = '\0';
		return 0;
	}
	if (st && ok2xx(st))
		reply_err(r, GRPC_STATUS_INTERNAL,
			  "pmemd answered a volume that is no JSON object");
	return -1;
}

static int get_pools(struct csi_service *s, json_t **pools, struct csi_reply *r)
{
	long st = rest(s, CSI_OP_LIST, "GET", "/v1/pools", NULL, pools, r);

	if (ok2xx(st) && json_is_object(*pools))
		return 0;
	if (st && ok2xx(st))
		reply_err(r, GRPC_STATUS_INTERNAL, "pmemd answered pools that are no JSON object");
	json_decref(*pools);
	*pools = NULL;
	return -1;
}

/* The filesystem of the pool a volume lives in (a string inside pools), or NULL. */
static const char *volume_fstype(const json_t *vol, const json_t *pools)
{
	const json_t *pool =
		csi_map_find_pool(pools, json_string_value(json_object_get(vol, "pool")));

	return json_string_value(json_object_get(pool, "fstype"));
}

/* ---- Identity ----------------------------------------------------------- */

static void get_plugin_info(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__GetPluginInfoRequest *in =
		unpack(&csi__v1__get_plugin_info_request__descriptor, req, len, r);
	Csi__V1__GetPluginInfoResponse out = CSI__V1__GET_PLUGIN_INFO_RESPONSE__INIT;

	if (!in)
		return;
	out.name = (char *)s->driver_name;
	out.vendor_version = (char *)PMEMD_VERSION;
	reply_msg(r, &out.base);
	csi__v1__get_plugin_info_request__free_unpacked(in, NULL);
}

static void get_plugin_capabilities(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	Csi__V1__GetPluginCapabilitiesRequest *in =
		unpack(&csi__v1__get_plugin_capabilities_request__descriptor, req, len, r);
	Csi__V1__GetPluginCapabilitiesResponse out =
		CSI__V1__GET_PLUGIN_CAPABILITIES_RESPONSE__INIT;
	Csi__V1__PluginCapability caps[3], *capp[3];
	Csi__V1__PluginCapability__Service svc[2];
	Csi__V1__PluginCapability__VolumeExpansion exp =
		CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__INIT;

	(void)ctx;
	if (!in)
		return;
	for (int i = 0; i < 3; i++) {
		csi__v1__plugin_capability__init(&caps[i]);
		capp[i] = &caps[i];
	}
	for (int i = 0; i < 2; i++) {
		csi__v1__plugin_capability__service__init(&svc[i]);
		caps[i].type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_SERVICE;
		caps[i].service = &svc[i];
	}
	svc[0].type = CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE;
	svc[1].type = CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__VOLUME_ACCESSIBILITY_CONSTRAINTS;
	/* Online: a resize is a new quota limit, writers keep writing. */
	exp.type = CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__TYPE__ONLINE;
	caps[2].type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_VOLUME_EXPANSION;
	caps[2].volume_expansion = &exp;
	out.n_capabilities = 3;
	out.capabilities = capp;
	reply_msg(r, &out.base);
	csi__v1__get_plugin_capabilities_request__free_unpacked(in, NULL);
}

static void probe(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__ProbeRequest *in = unpack(&csi__v1__probe_request__descriptor, req, len, r);
	Csi__V1__ProbeResponse out = CSI__V1__PROBE_RESPONSE__INIT;
	Google__Protobuf__BoolValue ready = GOOGLE__PROTOBUF__BOOL_VALUE__INIT;
	long st;

	if (!in)
		return;
	csi__v1__probe_request__free_unpacked(in, NULL);
	st = rest(s, CSI_OP_GET, "GET", "/readyz", NULL, NULL, r);
	if (st == 0) {
		/* The spec's "missing required dependency": pmemd is not there at all. */
		r->code = GRPC_STATUS_FAILED_PRECONDITION;
		return;
	}
	/* Reachable but starting (503): healthy, not ready yet. */
	ready.value = st == 200;
	out.ready = &ready;
	reply_msg(r, &out.base);
}

/* ---- Controller --------------------------------------------------------- */

/* Does an existing volume satisfy a CreateVolume that names it? The reason in msg if not. */
static bool volume_compatible(const json_t *vol, const json_t *pools,
			      const Csi__V1__CapacityRange *range, const struct csi_params *p,
			      const char *fstype, char *msg, size_t len)
{
	json_int_t size = json_integer_value(json_object_get(vol, "size_bytes"));
	const char *pool = json_string_value(json_object_get(vol, "pool"));
	const json_t *pj = csi_map_find_pool(pools, pool);
	const char *fs = json_string_value(json_object_get(pj, "fstype"));
	const json_t *numa = json_object_get(vol, "numa_node");

	if (!csi_map_size_fits(range, (uint64_t)size)) {
		snprintf(msg, len,
			 "volume %s exists with %" JSON_INTEGER_FORMAT
			 " bytes, outside the capacity_range",
			 json_string_value(json_object_get(vol, "name")), size);
		return false;
	}
	if (fstype && (!fs || strcmp(fs, fstype) != 0)) {
		snprintf(msg, len, "volume exists on a %s pool, not %s", fs ? fs : "unknown",
			 fstype);
		return false;
	}
	if (p->pool && !(pool && strcmp(pool, p->pool) == 0) &&
	    !(pj && json_string_value(json_object_get(pj, "id")) &&
	      strcmp(json_string_value(json_object_get(pj, "id")), p->pool) == 0)) {
		snprintf(msg, len, "volume exists in pool %s, not the one asked for",
			 pool ? pool : "unknown");
		return false;
	}
	if (p->numa_node >= 0 &&
	    (!json_is_integer(numa) || json_integer_value(numa) != p->numa_node)) {
		snprintf(msg, len, "volume exists on another NUMA node than %d", p->numa_node);
		return false;
	}
	return true;
}

/*
 * pmemd's create has no filesystem filter, so for an fstype the shim names the pool: none
 * when every candidate pool has that filesystem (pmemd places, reservations included); the
 * only one when there is one; else pmemd's placement engine picks with its configured
 * policy, or, with a NUMA node (which the engine does not take), the tightest fit, which is
 * pmemd's own volume placement. Returns 0 with *pool (NULL: pmemd chooses; a string inside
 * pools or *eval), -1 with r set.
 */
static int choose_pool(struct csi_service *s, const json_t *pools, const struct csi_params *p,
		       const char *fstype, uint64_t size, const char **pool, json_t **eval,
		       struct csi_reply *r)
{
	size_t n_match, n_other;
	const char *first, *tightest;
	json_t *body;
	long st;

	*pool = NULL;
	*eval = NULL;
	if (!fstype || p->pool)
		return 0;
	csi_map_pool_choice(pools, p, fstype, size, &n_match, &n_other, &first, &tightest);
	if (n_match == 0) {
		reply_err(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
			  "no ready %s pool on this node matches the parameters", fstype);
		return -1;
	}
	if (n_other == 0)
		return 0;
	if (n_match == 1) {
		*pool = first;
		return 0;
	}
	if (p->numa_node >= 0) {
		if (!tightest) {
			reply_err(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
				  "no %s pool on NUMA node %d has room for %" PRIu64 " bytes",
				  fstype, p->numa_node, size);
			return -1;
		}
		*pool = tightest;
		return 0;
	}
	body = json_pack("{s:[{s:I,s:s}]}", "volumes", "size_bytes", (json_int_t)size, "fstype",
			 fstype);
	if (!body) {
		reply_err(r, GRPC_STATUS_INTERNAL, "out of memory");
		return -1;
	}
	st = rest(s, CSI_OP_PLACE, "POST", "/v1/placement/evaluate", body, eval, r);
	json_decref(body);
	if (!ok2xx(st))
		return -1;
	if (!json_is_true(json_object_get(*eval, "feasible"))) {
		const char *why = json_string_value(json_object_get(*eval, "reason"));

		reply_err(r, GRPC_STATUS_RESOURCE_EXHAUSTED, "no %s pool has room: %s", fstype,
			  why ? why : "placement found none");
		return -1;
	}
	*pool = json_string_value(
		json_object_get(json_array_get(json_object_get(*eval, "volumes"), 0), "pool"));
	if (!*pool) {
		reply_err(r, GRPC_STATUS_INTERNAL, "pmemd's placement answer names no pool");
		return -1;
	}
	return 0;
}

static void reply_volume(struct csi_service *s, const json_t *vol, struct csi_reply *r)
{
	Csi__V1__CreateVolumeResponse out = CSI__V1__CREATE_VOLUME_RESPONSE__INIT;
	struct csi_volume v;

	if (csi_map_volume(vol, s->node_id, &v) < 0) {
		reply_err(r, GRPC_STATUS_INTERNAL, "pmemd answered a volume without name or size");
		return;
	}
	out.volume = &v.vol;
	reply_msg(r, &out.base);
}

static void create_volume(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__CreateVolumeRequest *in =
		unpack(&csi__v1__create_volume_request__descriptor, req, len, r);
	struct csi_kv kv[MAX_PARAMS];
	struct csi_params p;
	const char *capfs, *fstype, *pool;
	json_t *vol = NULL, *pools = NULL, *eval = NULL, *body = NULL;
	char id[CSI_ID_MAX + 1], err[400];
	uint64_t size;
	size_t n;
	long st;
	int ret;

	if (!in)
		return;
	if (csi_map_volume_id(in->name, id, sizeof(id), err, sizeof(err)) < 0) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	if (csi_map_capabilities(in->volume_capabilities, in->n_volume_capabilities,
				 CSI_CAPS_REQUIRED, &capfs, err, sizeof(err)) < 0) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	if (in->volume_content_source) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT,
			  "volume_content_source is not supported: no snapshots or clones");
		goto out;
	}
	if (in->n_mutable_parameters > 0) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT,
			  "mutable_parameters are not supported (no MODIFY_VOLUME)");
		goto out;
	}
	if (in->n_parameters > MAX_PARAMS) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "at most %d parameters, got %zu",
			  MAX_PARAMS, in->n_parameters);
		goto out;
	}
	n = CSI_KV_COPY(kv, MAX_PARAMS, in->parameters, in->n_parameters);
	if (csi_map_params(kv, n, true, &p, err, sizeof(err)) < 0) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	if (p.fstype && capfs && strcmp(p.fstype, capfs) != 0) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT,
			  "parameter fstype %s and the capability's fs_type %s disagree", p.fstype,
			  capfs);
		goto out;
	}
	fstype = p.fstype ? p.fstype : capfs;
	ret = csi_map_capacity(in->capacity_range, &size, err, sizeof(err));
	if (ret < 0) {
		reply_err(r,
			  ret == -ERANGE ? GRPC_STATUS_OUT_OF_RANGE : GRPC_STATUS_INVALID_ARGUMENT,
			  "%s", err);
		goto out;
	}
	ret = csi_map_topology(in->accessibility_requirements, s->node_id, err, sizeof(err));
	if (ret < 0) {
		reply_err(r,
			  ret == -ENOENT ? GRPC_STATUS_RESOURCE_EXHAUSTED
					 : GRPC_STATUS_INVALID_ARGUMENT,
			  "%s", err);
		goto out;
	}
	if (get_pools(s, &pools, r) < 0)
		goto out;

	/* Idempotency: the name made a volume before; it must fit this request. */
	ret = get_volume(s, id, &vol, r);
	if (ret < 0)
		goto out;
	if (ret == 1) {
		if (!volume_compatible(vol, pools, in->capacity_range, &p, fstype, err,
				       sizeof(err)))
			reply_err(r, GRPC_STATUS_ALREADY_EXISTS, "%s", err);
		else
			reply_volume(s, vol, r);
		goto out;
	}

	if (choose_pool(s, pools, &p, fstype, size, &pool, &eval, r) < 0)
		goto out;
	if (!pool && p.pool && fstype) {
		const json_t *pj = csi_map_find_pool(pools, p.pool);
		const char *fs = json_string_value(json_object_get(pj, "fstype"));

		if (pj && fs && strcmp(fs, fstype) != 0) {
			reply_err(r, GRPC_STATUS_INVALID_ARGUMENT,
				  "pool %s is %s, not the fstype %s asked for", p.pool, fs, fstype);
			goto out;
		}
	}
	body = csi_map_create_body(id, size, &p, pool);
	if (!body) {
		reply_err(r, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	st = rest(s, CSI_OP_CREATE, "POST", "/v1/volumes", body, &vol, r);
	if (ok2xx(st)) {
		char q[300];

		log_info("csi_volume_created", "volume=%s size_bytes=%" PRIu64 " pool=%s", id, size,
			 log_quote(q, sizeof(q),
				   json_string_value(json_object_get(vol, "pool"))
					   ? json_string_value(json_object_get(vol, "pool"))
					   : "?"));
		reply_volume(s, vol, r);
	} else if (st == 409) {
		/*
		 * A concurrent create of the name won (pmemd compares the whole request, pool
		 * included): what counts for CSI is whether its volume fits this request.
		 */
		json_decref(vol);
		ret = get_volume(s, id, &vol, r);
		if (ret == 1 &&
		    volume_compatible(vol, pools, in->capacity_range, &p, fstype, err, sizeof(err)))
			reply_volume(s, vol, r);
		else if (ret == 1)
			reply_err(r, GRPC_STATUS_ALREADY_EXISTS, "%s", err);
		else if (ret == 0)
			reply_err(r, GRPC_STATUS_ABORTED,
				  "volume %s was being created and deleted concurrently", id);
	}
out:
	json_decref(vol);
	json_decref(pools);
	json_decref(eval);
	json_decref(body);
	csi__v1__create_volume_request__free_unpacked(in, NULL);
}

static void delete_volume(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__DeleteVolumeRequest *in =
		unpack(&csi__v1__delete_volume_request__descriptor, req, len, r);
	Csi__V1__DeleteVolumeResponse out = CSI__V1__DELETE_VOLUME_RESPONSE__INIT;
	char path[64 + CSI_ID_MAX];
	long st;

	if (!in)
		return;
	if (!in->volume_id || !*in->volume_id) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
		goto out;
	}
	/* An id this driver never gave names no volume: deleting nothing is done. */
	if (csi_map_id_valid(in->volume_id)) {
		snprintf(path, sizeof(path), "/v1/volumes/%s", in->volume_id);
		st = rest(s, CSI_OP_DELETE, "DELETE", path, NULL, NULL, r);
		if (!ok2xx(st) && st != 404)
			goto out;
		if (ok2xx(st))
			log_info("csi_volume_deleted", "volume=%s", in->volume_id);
	}
	reply_msg(r, &out.base);
out:
	csi__v1__delete_volume_request__free_unpacked(in, NULL);
}

static void validate_capabilities(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__ValidateVolumeCapabilitiesRequest *in =
		unpack(&csi__v1__validate_volume_capabilities_request__descriptor, req, len, r);
	Csi__V1__ValidateVolumeCapabilitiesResponse out =
		CSI__V1__VALIDATE_VOLUME_CAPABILITIES_RESPONSE__INIT;
	Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed conf =
		CSI__V1__VALIDATE_VOLUME_CAPABILITIES_RESPONSE__CONFIRMED__INIT;
	Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__ParametersEntry pe[MAX_PARAMS],
		*pep[MAX_PARAMS];
	struct csi_kv kv[MAX_PARAMS];
	struct csi_params p;
	json_t *vol = NULL, *pools = NULL;
	const char *capfs;
	char err[400];
	size_t n;
	int ret, found;

	if (in &&
	    !strings_ok(&csi__v1__validate_volume_capabilities_request__descriptor, req, len, r)) {
		csi__v1__validate_volume_capabilities_request__free_unpacked(in, NULL);
		return;
	}
	if (!in)
		return;
	if (!in->volume_id || !*in->volume_id) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
		goto out;
	}
	ret = csi_map_capabilities(in->volume_capabilities, in->n_volume_capabilities,
				   CSI_CAPS_REQUIRED, &capfs, err, sizeof(err));
	if (ret == -EINVAL) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	found = get_volume(s, in->volume_id, &vol, r);
	if (found < 0)
		goto out;
	if (found == 0) {
		reply_err(r, GRPC_STATUS_NOT_FOUND, "no volume %.200s", in->volume_id);
		goto out;
	}
	if (ret < 0) {
		out.message = err; /* unsupported: not confirmed, and why */
		reply_msg(r, &out.base);
		goto out;
	}
	if (in->n_parameters > MAX_PARAMS) {
		out.message = (char *)"too many parameters";
		reply_msg(r, &out.base);
		goto out;
	}
	n = CSI_KV_COPY(kv, MAX_PARAMS, in->parameters, in->n_parameters);
	if (csi_map_params(kv, n, true, &p, err, sizeof(err)) < 0) {
		out.message = err;
		reply_msg(r, &out.base);
		goto out;
	}
	if (p.fstype && capfs && strcmp(p.fstype, capfs) != 0) {
		snprintf(err, sizeof(err),
			 "parameter fstype %s and the capability's fs_type %s disagree", p.fstype,
			 capfs);
		out.message = err;
		reply_msg(r, &out.base);
		goto out;
	}
	if (get_pools(s, &pools, r) < 0)
		goto out;
	if (!volume_compatible(vol, pools, NULL, &p, p.fstype ? p.fstype : capfs, err,
			       sizeof(err))) {
		out.message = err;
		reply_msg(r, &out.base);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		csi__v1__validate_volume_capabilities_response__confirmed__parameters_entry__init(
			&pe[i]);
		pe[i].key = (char *)kv[i].key;
		pe[i].value = (char *)kv[i].value;
		pep[i] = &pe[i];
	}
	conf.n_volume_capabilities = in->n_volume_capabilities;
	conf.volume_capabilities = in->volume_capabilities;
	conf.n_parameters = n;
	conf.parameters = n ? pep : NULL;
	out.confirmed = &conf;
	reply_msg(r, &out.base);
out:
	json_decref(vol);
	json_decref(pools);
	csi__v1__validate_volume_capabilities_request__free_unpacked(in, NULL);
}

/* A listed volume by its id, for sorting. */
struct named {
	const char *id;
	const json_t *vol;
};

static int cmp_named(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->id, ((const struct named *)b)->id);
}

static void list_volumes(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__ListVolumesRequest *in =
		unpack(&csi__v1__list_volumes_request__descriptor, req, len, r);
	Csi__V1__ListVolumesResponse out = CSI__V1__LIST_VOLUMES_RESPONSE__INIT;
	Csi__V1__ListVolumesResponse__Entry *entries = NULL, **entp = NULL;
	struct csi_volume *vols = NULL;
	struct named *named = NULL;
	const char **ids = NULL, *next;
	const json_t *arr, *e;
	json_t *list = NULL;
	size_t n, start, count, i, k = 0;
	char err[300];

	if (!in)
		return;
	if (!ok2xx(rest(s, CSI_OP_LIST, "GET", "/v1/volumes", NULL, &list, r)))
		goto out;
	arr = json_object_get(list, "volumes");
	n = json_array_size(arr);
	named = calloc(n + 1, sizeof(*named));
	ids = calloc(n + 1, sizeof(*ids));
	if (!named || !ids) {
		reply_err(r, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	json_array_foreach (arr, i, e) {
		const char *id = json_string_value(json_object_get(e, "name"));

		if (id)
			named[k++] = (struct named){id, e};
	}
	n = k;
	/* pmemd lists by name already; the pages' order must not depend on that. */
	qsort(named, n, sizeof(*named), cmp_named);
	for (i = 0; i < n; i++)
		ids[i] = named[i].id;
	if (csi_map_page(ids, n, in->starting_token, in->max_entries, &start, &count, &next, err,
			 sizeof(err)) < 0) {
		reply_err(r,
			  in->max_entries < 0 ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_ABORTED,
			  "%s", err);
		goto out;
	}
	vols = calloc(count + 1, sizeof(*vols));
	entries = calloc(count + 1, sizeof(*entries));
	entp = calloc(count + 1, sizeof(*entp));
	if (!vols || !entries || !entp) {
		reply_err(r, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (csi_map_volume(named[start + i].vol, s->node_id, &vols[i]) < 0) {
			reply_err(r, GRPC_STATUS_INTERNAL, "pmemd listed a volume without a size");
			goto out;
		}
		csi__v1__list_volumes_response__entry__init(&entries[i]);
		entries[i].volume = &vols[i].vol;
		entp[i] = &entries[i];
	}
	out.n_entries = count;
	out.entries = count ? entp : NULL;
	out.next_token = (char *)(next ? next : "");
	reply_msg(r, &out.base);
out:
	free(vols);
	free(entries);
	free(entp);
	free(ids);
	free(named);
	json_decref(list);
	csi__v1__list_volumes_request__free_unpacked(in, NULL);
}

static void get_capacity(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__GetCapacityRequest *in =
		unpack(&csi__v1__get_capacity_request__descriptor, req, len, r);
	Csi__V1__GetCapacityResponse out = CSI__V1__GET_CAPACITY_RESPONSE__INIT;
	Google__Protobuf__Int64Value maxv = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
	struct csi_kv kv[MAX_PARAMS];
	struct csi_params p;
	const char *capfs = NULL;
	json_t *pools = NULL;
	uint64_t avail = 0, max = 0;
	char err[400];
	size_t n;
	int ret;

	if (!in)
		return;
	if (in->n_parameters > MAX_PARAMS) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "at most %d parameters, got %zu",
			  MAX_PARAMS, in->n_parameters);
		goto out;
	}
	n = CSI_KV_COPY(kv, MAX_PARAMS, in->parameters, in->n_parameters);
	if (csi_map_params(kv, n, false, &p, err, sizeof(err)) < 0) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	ret = csi_map_capabilities(in->volume_capabilities, in->n_volume_capabilities,
				   CSI_CAPS_ANY_MODE, &capfs, err, sizeof(err));
	if (ret == -EINVAL) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	if (p.fstype && capfs && strcmp(p.fstype, capfs) != 0)
		ret = -ENOTSUP;
	/*
	 * Capabilities this driver cannot serve, or a segment that is not this node, have no
	 * capacity here: 0, not an error, is what the provisioner's capacity tracking wants.
	 */
	if (ret == 0 && (!in->accessible_topology ||
			 csi_map_segment_is_node(in->accessible_topology, s->node_id))) {
		if (get_pools(s, &pools, r) < 0)
			goto out;
		csi_map_pool_capacity(pools, &p, capfs, &avail, &max);
	}
	out.available_capacity = (int64_t)avail;
	maxv.value = (int64_t)max;
	out.maximum_volume_size = &maxv;
	reply_msg(r, &out.base);
out:
	json_decref(pools);
	csi__v1__get_capacity_request__free_unpacked(in, NULL);
}

static void controller_capabilities(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	static const Csi__V1__ControllerServiceCapability__RPC__Type types[] = {
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__GET_CAPACITY,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__LIST_VOLUMES,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__SINGLE_NODE_MULTI_WRITER,
	};
	enum { N = sizeof(types) / sizeof(types[0]) };
	Csi__V1__ControllerGetCapabilitiesRequest *in =
		unpack(&csi__v1__controller_get_capabilities_request__descriptor, req, len, r);
	Csi__V1__ControllerGetCapabilitiesResponse out =
		CSI__V1__CONTROLLER_GET_CAPABILITIES_RESPONSE__INIT;
	Csi__V1__ControllerServiceCapability caps[N], *capp[N];
	Csi__V1__ControllerServiceCapability__RPC rpc[N];

	(void)ctx;
	if (!in)
		return;
	for (size_t i = 0; i < N; i++) {
		csi__v1__controller_service_capability__init(&caps[i]);
		csi__v1__controller_service_capability__rpc__init(&rpc[i]);
		rpc[i].type = types[i];
		caps[i].type_case = CSI__V1__CONTROLLER_SERVICE_CAPABILITY__TYPE_RPC;
		caps[i].rpc = &rpc[i];
		capp[i] = &caps[i];
	}
	out.n_capabilities = N;
	out.capabilities = capp;
	reply_msg(r, &out.base);
	csi__v1__controller_get_capabilities_request__free_unpacked(in, NULL);
}

/* ---- Node --------------------------------------------------------------- */

static void node_get_info(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__NodeGetInfoRequest *in =
		unpack(&csi__v1__node_get_info_request__descriptor, req, len, r);
	Csi__V1__NodeGetInfoResponse out = CSI__V1__NODE_GET_INFO_RESPONSE__INIT;
	Csi__V1__Topology topo = CSI__V1__TOPOLOGY__INIT;
	Csi__V1__Topology__SegmentsEntry seg = CSI__V1__TOPOLOGY__SEGMENTS_ENTRY__INIT,
					 *segp = &seg;

	if (!in)
		return;
	seg.key = (char *)CSI_TOPOLOGY_KEY;
	seg.value = (char *)s->node_id;
	topo.n_segments = 1;
	topo.segments = &segp;
	out.node_id = (char *)s->node_id;
	out.max_volumes_per_node = s->max_volumes;
	out.accessible_topology = &topo;
	reply_msg(r, &out.base);
	csi__v1__node_get_info_request__free_unpacked(in, NULL);
}

static void node_capabilities(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	static const Csi__V1__NodeServiceCapability__RPC__Type types[] = {
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__GET_VOLUME_STATS,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__VOLUME_CONDITION,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__SINGLE_NODE_MULTI_WRITER,
	};
	enum { N = sizeof(types) / sizeof(types[0]) };
	Csi__V1__NodeGetCapabilitiesRequest *in =
		unpack(&csi__v1__node_get_capabilities_request__descriptor, req, len, r);
	Csi__V1__NodeGetCapabilitiesResponse out = CSI__V1__NODE_GET_CAPABILITIES_RESPONSE__INIT;
	Csi__V1__NodeServiceCapability caps[N], *capp[N];
	Csi__V1__NodeServiceCapability__RPC rpc[N];

	(void)ctx;
	if (!in)
		return;
	for (size_t i = 0; i < N; i++) {
		csi__v1__node_service_capability__init(&caps[i]);
		csi__v1__node_service_capability__rpc__init(&rpc[i]);
		rpc[i].type = types[i];
		caps[i].type_case = CSI__V1__NODE_SERVICE_CAPABILITY__TYPE_RPC;
		caps[i].rpc = &rpc[i];
		capp[i] = &caps[i];
	}
	out.n_capabilities = N;
	out.capabilities = capp;
	reply_msg(r, &out.base);
	csi__v1__node_get_capabilities_request__free_unpacked(in, NULL);
}

/* Is another target than `target` published? (SINGLE_NODE_SINGLE_WRITER allows one.) */
static bool published_elsewhere(const json_t *vol, const char *target)
{
	const json_t *arr = json_object_get(vol, "published"), *e;
	size_t i;

	json_array_foreach (arr, i, e) {
		const char *t = json_string_value(json_object_get(e, "target_path"));

		if (t && strcmp(t, target) != 0)
			return true;
	}
	return false;
}

static void node_publish(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__NodePublishVolumeRequest *in =
		unpack(&csi__v1__node_publish_volume_request__descriptor, req, len, r);
	Csi__V1__NodePublishVolumeResponse out = CSI__V1__NODE_PUBLISH_VOLUME_RESPONSE__INIT;
	json_t *vol = NULL, *pools = NULL, *body = NULL;
	const char *capfs, *volfs;
	char err[400], path[64 + CSI_ID_MAX];
	bool readonly, was_ro, made_dir = false;
	long st;
	int ret;

	if (!in)
		return;
	if (!in->volume_id || !*in->volume_id) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
		goto out;
	}
	if (!in->target_path || !*in->target_path) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "target_path is required");
		goto out;
	}
	if (!csi_map_path_normalised(in->target_path)) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT,
			  "target_path must be absolute and normalised (no '.', '..' or empty "
			  "components, no trailing '/')");
		goto out;
	}
	if (!in->volume_capability) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_capability is required");
		goto out;
	}
	if (csi_map_capabilities(&in->volume_capability, 1, CSI_CAPS_REQUIRED, &capfs, err,
				 sizeof(err)) < 0) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	readonly = in->readonly ||
		   in->volume_capability->access_mode->mode ==
			   CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY;
	ret = get_volume(s, in->volume_id, &vol, r);
	if (ret < 0)
		goto out;
	if (ret == 0) {
		reply_err(r, GRPC_STATUS_NOT_FOUND, "no volume %.200s", in->volume_id);
		goto out;
	}
	if (capfs) {
		if (get_pools(s, &pools, r) < 0)
			goto out;
		volfs = volume_fstype(vol, pools);
		if (!volfs || strcmp(volfs, capfs) != 0) {
			reply_err(r, GRPC_STATUS_FAILED_PRECONDITION,
				  "volume %s is on a %s pool, not %s", in->volume_id,
				  volfs ? volfs : "unknown", capfs);
			goto out;
		}
	}
	if (csi_map_published_at(vol, in->target_path, &was_ro)) {
		if (was_ro != readonly)
			reply_err(r, GRPC_STATUS_ALREADY_EXISTS,
				  "volume %s is published on that target %s", in->volume_id,
				  was_ro ? "read-only" : "read-write");
		else
			reply_msg(r, &out.base);
		goto out;
	}
	if (in->volume_capability->access_mode->mode ==
		    CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_SINGLE_WRITER &&
	    published_elsewhere(vol, in->target_path)) {
		reply_err(r, GRPC_STATUS_FAILED_PRECONDITION,
			  "volume %s is SINGLE_NODE_SINGLE_WRITER and already published on "
			  "another target",
			  in->volume_id);
		goto out;
	}
	/*
	 * The SP creates the target (spec: the CO only guarantees its parent); pmemd mounts on
	 * an existing directory. One mkdir, no -p: a missing parent is the CO's error.
	 */
	if (mkdir(in->target_path, 0750) == 0) {
		made_dir = true;
	} else if (errno != EEXIST) {
		reply_err(r, errno == ENOENT ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_INTERNAL,
			  "creating target_path: %s", strerror(errno));
		goto out;
	}
	body = json_pack("{s:s,s:b}", "target_path", in->target_path, "readonly", readonly);
	if (!body) {
		reply_err(r, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/volumes/%s/publish", in->volume_id);
	st = rest(s, CSI_OP_PUBLISH, "POST", path, body, NULL, r);
	if (ok2xx(st)) {
		char q[300];

		log_info("csi_volume_published", "volume=%s target=%s readonly=%s", in->volume_id,
			 log_quote(q, sizeof(q), in->target_path), readonly ? "true" : "false");
		reply_msg(r, &out.base);
	} else if (made_dir) {
		rmdir(in->target_path); /* never leave half a publish behind */
	}
out:
	json_decref(vol);
	json_decref(pools);
	json_decref(body);
	csi__v1__node_publish_volume_request__free_unpacked(in, NULL);
}

static void node_unpublish(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__NodeUnpublishVolumeRequest *in =
		unpack(&csi__v1__node_unpublish_volume_request__descriptor, req, len, r);
	Csi__V1__NodeUnpublishVolumeResponse out = CSI__V1__NODE_UNPUBLISH_VOLUME_RESPONSE__INIT;
	json_t *body = NULL, *vol = NULL;
	char path[64 + CSI_ID_MAX], q[300];
	long st;
	int ret;

	if (!in)
		return;
	if (!in->volume_id || !*in->volume_id) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
		goto out;
	}
	if (!in->target_path || !*in->target_path) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "target_path is required");
		goto out;
	}
	/* NOT_FOUND for a missing volume before pmemd judges the target. */
	ret = get_volume(s, in->volume_id, &vol, r);
	if (ret < 0)
		goto out;
	if (ret == 0) {
		reply_err(r, GRPC_STATUS_NOT_FOUND, "no volume %.200s", in->volume_id);
		goto out;
	}
	body = json_pack("{s:s}", "target_path", in->target_path);
	if (!body) {
		reply_err(r, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/volumes/%s/unpublish", in->volume_id);
	st = rest(s, CSI_OP_UNPUBLISH, "POST", path, body, NULL, r);
	if (!ok2xx(st))
		goto out;
	/* The SP removes the target it made; one that holds files is not ours to empty. */
	if (rmdir(in->target_path) < 0 && errno != ENOENT) {
		if (errno == EBUSY) {
			reply_err(r, GRPC_STATUS_INTERNAL,
				  "target_path is still a mount point after unpublish");
			goto out;
		}
		log_warn("csi_target_kept", "target=%s reason=\"%s\"",
			 log_quote(q, sizeof(q), in->target_path), strerror(errno));
	}
	log_info("csi_volume_unpublished", "volume=%s target=%s", in->volume_id,
		 log_quote(q, sizeof(q), in->target_path));
	reply_msg(r, &out.base);
out:
	json_decref(vol);
	json_decref(body);
	csi__v1__node_unpublish_volume_request__free_unpacked(in, NULL);
}

static void node_stats(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__NodeGetVolumeStatsRequest *in =
		unpack(&csi__v1__node_get_volume_stats_request__descriptor, req, len, r);
	Csi__V1__NodeGetVolumeStatsResponse out = CSI__V1__NODE_GET_VOLUME_STATS_RESPONSE__INIT;
	Csi__V1__VolumeUsage use[2], *usep[2];
	Csi__V1__VolumeCondition cond = CSI__V1__VOLUME_CONDITION__INIT;
	struct csi_stats st;
	struct csi_fs_inodes live = {0};
	struct statvfs sv;
	json_t *vol = NULL, *pools = NULL;
	int ret;

	if (!in)
		return;
	if (!in->volume_id || !*in->volume_id) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
		goto out;
	}
	if (!in->volume_path || !*in->volume_path) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_path is required");
		goto out;
	}
	ret = get_volume(s, in->volume_id, &vol, r);
	if (ret < 0)
		goto out;
	if (ret == 0) {
		reply_err(r, GRPC_STATUS_NOT_FOUND, "no volume %.200s", in->volume_id);
		goto out;
	}
	if (!csi_map_published_at(vol, in->volume_path, NULL)) {
		reply_err(r, GRPC_STATUS_NOT_FOUND, "volume %s is not published on volume_path",
			  in->volume_id);
		goto out;
	}
	if (get_pools(s, &pools, r) < 0)
		goto out;
	/* The target is where the volume is published (checked above): df's own figures. */
	if (statvfs(in->volume_path, &sv) == 0) {
		live.total = (int64_t)sv.f_files;
		live.free = (int64_t)sv.f_ffree;
	}
	csi_map_stats(vol,
		      csi_map_find_pool(pools, json_string_value(json_object_get(vol, "pool"))),
		      live.total > 0 ? &live : NULL, &st);
	for (int i = 0; i < 2; i++) {
		csi__v1__volume_usage__init(&use[i]);
		usep[i] = &use[i];
	}
	use[0].unit = CSI__V1__VOLUME_USAGE__UNIT__BYTES;
	use[0].total = st.bytes_total;
	use[0].used = st.bytes_used;
	use[0].available = st.bytes_available;
	use[1].unit = CSI__V1__VOLUME_USAGE__UNIT__INODES;
	use[1].total = st.inodes_total;
	use[1].used = st.inodes_used;
	use[1].available = st.inodes_available;
	/* Without usage there are no figures to give, only the condition. */
	out.n_usage = st.abnormal ? 0 : 2;
	out.usage = st.abnormal ? NULL : usep;
	cond.abnormal = st.abnormal;
	cond.message = st.message;
	out.volume_condition = &cond;
	reply_msg(r, &out.base);
out:
	json_decref(vol);
	json_decref(pools);
	csi__v1__node_get_volume_stats_request__free_unpacked(in, NULL);
}

static void node_expand(void *ctx, const uint8_t *req, size_t len, struct csi_reply *r)
{
	struct csi_service *s = ctx;
	Csi__V1__NodeExpandVolumeRequest *in =
		unpack(&csi__v1__node_expand_volume_request__descriptor, req, len, r);
	Csi__V1__NodeExpandVolumeResponse out = CSI__V1__NODE_EXPAND_VOLUME_RESPONSE__INIT;
	json_t *vol = NULL, *body = NULL, *res = NULL;
	const char *capfs;
	char err[400], path[64 + CSI_ID_MAX];
	uint64_t size, cur;
	long st;
	int ret;

	if (!in)
		return;
	if (!in->volume_id || !*in->volume_id) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
		goto out;
	}
	if (!in->volume_path || !*in->volume_path) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_path is required");
		goto out;
	}
	if (!in->capacity_range ||
	    (in->capacity_range->required_bytes == 0 && in->capacity_range->limit_bytes == 0)) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT,
			  "capacity_range is required: the size to expand to");
		goto out;
	}
	if (in->volume_capability &&
	    csi_map_capabilities(&in->volume_capability, 1, CSI_CAPS_REQUIRED, &capfs, err,
				 sizeof(err)) < 0) {
		reply_err(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	ret = csi_map_capacity(in->capacity_range, &size, err, sizeof(err));
	if (ret < 0) {
		reply_err(r,
			  ret == -ERANGE ? GRPC_STATUS_OUT_OF_RANGE : GRPC_STATUS_INVALID_ARGUMENT,
			  "%s", err);
		goto out;
	}
	ret = get_volume(s, in->volume_id, &vol, r);
	if (ret < 0)
		goto out;
	if (ret == 0) {
		reply_err(r, GRPC_STATUS_NOT_FOUND, "no volume %.200s", in->volume_id);
		goto out;
	}
	cur = (uint64_t)json_integer_value(json_object_get(vol, "size_bytes"));
	/* Already in range (a retry, or the kubelet after a restart): done, nothing shrinks. */
	if (csi_map_size_fits(in->capacity_range, cur)) {
		out.capacity_bytes = (int64_t)cur;
		reply_msg(r, &out.base);
		goto out;
	}
	if (cur > size) {
		reply_err(r, GRPC_STATUS_OUT_OF_RANGE,
			  "volume %s has %" PRIu64 " bytes, more than limit_bytes; volumes do not "
			  "shrink through CSI",
			  in->volume_id, cur);
		goto out;
	}
	body = json_pack("{s:I}", "size_bytes", (json_int_t)size);
	if (!body) {
		reply_err(r, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/volumes/%s/resize", in->volume_id);
	st = rest(s, CSI_OP_EXPAND, "POST", path, body, &res, r);
	if (!ok2xx(st))
		goto out;
	log_info("csi_volume_expanded", "volume=%s from_bytes=%" PRIu64 " size_bytes=%" PRIu64,
		 in->volume_id, cur, size);
	out.capacity_bytes = (int64_t)size;
	reply_msg(r, &out.base);
out:
	json_decref(vol);
	json_decref(body);
	json_decref(res);
	csi__v1__node_expand_volume_request__free_unpacked(in, NULL);
}

/* ---- the table ---------------------------------------------------------- */

static const struct csi_method methods[] = {
	{"/csi.v1.Identity/GetPluginInfo", get_plugin_info, true},
	{"/csi.v1.Identity/GetPluginCapabilities", get_plugin_capabilities, true},
	{"/csi.v1.Identity/Probe", probe, true},
	{"/csi.v1.Controller/CreateVolume", create_volume, false},
	{"/csi.v1.Controller/DeleteVolume", delete_volume, false},
	{"/csi.v1.Controller/ValidateVolumeCapabilities", validate_capabilities, false},
	{"/csi.v1.Controller/ListVolumes", list_volumes, false},
	{"/csi.v1.Controller/GetCapacity", get_capacity, false},
	{"/csi.v1.Controller/ControllerGetCapabilities", controller_capabilities, true},
	{"/csi.v1.Node/NodeGetInfo", node_get_info, true},
	{"/csi.v1.Node/NodeGetCapabilities", node_capabilities, true},
	{"/csi.v1.Node/NodePublishVolume", node_publish, false},
	{"/csi.v1.Node/NodeUnpublishVolume", node_unpublish, false},
	{"/csi.v1.Node/NodeGetVolumeStats", node_stats, false},
	{"/csi.v1.Node/NodeExpandVolume", node_expand, false},
};

const struct csi_method *csi_service_methods(size_t *n)
{
	*n = sizeof(methods) / sizeof(methods[0]);
	return methods;
}

static bool driver_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && !((c == '-' || c == '.') && i > 0 && i + 1 < n))
			return false;
	}
	return true;
}

int csi_service_init(struct csi_service *svc, const char *driver_name, const char *node_id,
		     int64_t max_volumes, char *err, size_t err_len)
{
	if (!driver_name_ok(driver_name)) {
		snprintf(err, err_len,
			 "--driver-name: 1..63 of A-Z a-z 0-9 - ., a letter or digit at both "
			 "ends");
		return -EINVAL;
	}
	if (!node_id || !*node_id || strlen(node_id) > CSI_STRING_MAX) {
		snprintf(err, err_len, "--node-id: 1..%d bytes", CSI_STRING_MAX);
		return -EINVAL;
	}
	/* It is a topology value, which Kubernetes keeps as a node label value. */
	for (const char *p = node_id; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(err, err_len, "--node-id: no spaces or control characters");
			return -EINVAL;
		}
	}
	if (max_volumes < 0) {
		snprintf(err, err_len, "--max-volumes: must not be negative");
		return -EINVAL;
	}
	svc->driver_name = driver_name;
	svc->node_id = node_id;
	svc->max_volumes = max_volumes;
	return 0;
}
