/*
 * fuzz-csi-map: the CSI shim's request mapping (csi/csi-map.h) on CSI requests as they come
 * off the wire, and on pmemd's answers.
 *
 * The first byte of an input picks what the rest is:
 * - a serialized CSI request message (CreateVolume, DeleteVolume, ValidateVolumeCapabilities,
 *   ListVolumes, GetCapacity, ControllerExpandVolume, NodePublishVolume, NodeUnpublishVolume,
 *   NodeGetVolumeStats, NodeExpandVolume): checked for NUL bytes in strings
 *   (csi_map_check_strings), unpacked with protobuf-c as csi-service.c does, then mapped
 *   field by field the way the RPC maps it (ids, capabilities, parameters, capacity ranges,
 *   topology, target paths, page tokens, the POST /v1/volumes body), against a fixed pool
 *   list and volume;
 * - pmemd's answers as JSON text: a volume, a pool list and an error body, through
 *   csi_map_volume, csi_map_stats, csi_map_pool_capacity/choice, csi_map_error_message.
 *
 * Checked beyond "no crash, no sanitizer report, no leak": a volume id is a valid pmemd name
 * and the same for the same name; a page stays inside the list; a create body names that id;
 * an error message is NUL-terminated within its buffer.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csi/csi-map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NODE	   "fuzz-node"
#define MAX_PARAMS 64

static void broken(const char *what)
{
	fprintf(stderr, "fuzz-csi-map: %s\n", what);
	abort();
}

/* GET /v1/pools and one volume as pmemd answers them (docs/api.md). */
static const char pools_json[] =
	"{\"pools\":[{\"name\":\"/mnt/pmem0\",\"id\":\"mnt-pmem0\",\"fstype\":\"ext4\","
	"\"state\":\"ready\",\"numa_node\":0,\"allocatable_bytes\":1073741824,"
	"\"allocated_bytes\":1048576,\"reserved_bytes\":0},"
	"{\"name\":\"/mnt/pmem1\",\"id\":\"mnt-pmem1\",\"fstype\":\"xfs\",\"state\":\"ready\","
	"\"numa_node\":1,\"allocatable_bytes\":2147483648,\"allocated_bytes\":0,"
	"\"reserved_bytes\":1048576}]}";
static const char volume_json[] =
	"{\"name\":\"pvc-1\",\"pool\":\"/mnt/pmem0\",\"numa_node\":0,\"size_bytes\":1048576,"
	"\"limit_bytes\":1052672,\"used_bytes\":4096,\"inodes\":100,\"inodes_used\":3,"
	"\"publications\":[{\"target_path\":\"/var/lib/kubelet/pods/p/volumes/v\","
	"\"readonly\":true}]}";
static const char *const ids[] = {"a", "b-1", "pvc-1", "pvc-2", "z"};

static json_t *pools_of(const json_t *doc)
{
	return json_object_get(doc, "pools");
}

static void map_params(struct csi_kv *kv, size_t n, bool create, struct csi_params *p)
{
	char err[400];

	memset(p, 0, sizeof(*p));
	if (csi_map_params(kv, n, create, p, err, sizeof(err)) < 0) {
		if (!memchr(err, '\0', sizeof(err)) || !err[0])
			broken("csi_map_params failed without a message");
		memset(p, 0, sizeof(*p));
		p->numa_node = -1;
	}
}

static const char *map_caps(Csi__V1__VolumeCapability *const *caps, size_t n, unsigned flags)
{
	const char *fs = NULL;
	char err[400];

	if (csi_map_capabilities(caps, n, flags, &fs, err, sizeof(err)) < 0)
		return NULL;
	return fs;
}

static void map_id(const char *name)
{
	char id[CSI_ID_MAX + 1], again[CSI_ID_MAX + 1], err[400];

	if (csi_map_volume_id(name, id, sizeof(id), err, sizeof(err)) < 0)
		return;
	if (!csi_map_id_valid(id))
		broken("csi_map_volume_id gave an invalid pmemd name");
	if (csi_map_volume_id(name, again, sizeof(again), err, sizeof(err)) < 0 ||
	    strcmp(id, again) != 0)
		broken("csi_map_volume_id is not deterministic");
}

static void create_volume(const Csi__V1__CreateVolumeRequest *in, const json_t *pools)
{
	struct csi_kv kv[MAX_PARAMS];
	struct csi_params p;
	char id[CSI_ID_MAX + 1], err[400];
	const char *fstype, *first = NULL, *tightest = NULL;
	size_t n, n_match = 0, n_other = 0;
	uint64_t size = 0;
	json_t *body;

	map_id(in->name);
	if (csi_map_volume_id(in->name, id, sizeof(id), err, sizeof(err)) < 0)
		return;
	fstype = map_caps(in->volume_capabilities, in->n_volume_capabilities, CSI_CAPS_REQUIRED);
	n = CSI_KV_COPY(kv, MAX_PARAMS, in->parameters, in->n_parameters);
	map_params(kv, n, true, &p);
	if (p.fstype)
		fstype = p.fstype;
	if (csi_map_capacity(in->capacity_range, &size, err, sizeof(err)) < 0)
		return;
	if (in->capacity_range && !csi_map_size_fits(in->capacity_range, size))
		broken("the size csi_map_capacity chose does not fit its range");
	csi_map_topology(in->accessibility_requirements, NODE, err, sizeof(err));
	if (fstype)
		csi_map_pool_choice(pools, &p, fstype, size, &n_match, &n_other, &first, &tightest);
	if (p.pool)
		csi_map_find_pool(pools, p.pool);
	body = csi_map_create_body(id, size, &p, tightest);
	if (!body)
		broken("csi_map_create_body: out of memory");
	if (!json_is_string(json_object_get(body, "name")) ||
	    strcmp(json_string_value(json_object_get(body, "name")), id) != 0)
		broken("the create body does not name the volume id");
	json_decref(body);
}

static void list_volumes(const Csi__V1__ListVolumesRequest *in)
{
	size_t n = sizeof(ids) / sizeof(ids[0]), start = 0, count = 0;
	const char *next = NULL;
	char err[400];

	if (csi_map_page(ids, n, in->starting_token, in->max_entries, &start, &count, &next, err,
			 sizeof(err)) < 0)
		return;
	if (start > n || count > n - start)
		broken("a page outside the list");
	if (in->max_entries > 0 && count > (size_t)in->max_entries)
		broken("a page longer than max_entries");
	if (next && (start + count >= n || strcmp(next, ids[start + count]) != 0))
		broken("next_token is not the id after the page");
}

static void get_capacity(const Csi__V1__GetCapacityRequest *in, const json_t *pools)
{
	struct csi_kv kv[MAX_PARAMS];
	struct csi_params p;
	const char *fs;
	uint64_t avail = 0, max = 0;
	size_t n = CSI_KV_COPY(kv, MAX_PARAMS, in->parameters, in->n_parameters);

	map_params(kv, n, false, &p);
	fs = map_caps(in->volume_capabilities, in->n_volume_capabilities, CSI_CAPS_ANY_MODE);
	if (in->accessible_topology)
		csi_map_segment_is_node(in->accessible_topology, NODE);
	csi_map_pool_capacity(pools, &p, p.fstype ? p.fstype : fs, &avail, &max);
	if (max > avail)
		broken("the largest free pool is larger than the sum");
}

/* One CSI request: wire bytes → strings check → unpack → the mapping its RPC does. */
static void request(unsigned kind, const uint8_t *buf, size_t len, const json_t *pools,
		    const json_t *vol)
{
	static const ProtobufCMessageDescriptor *const descs[] = {
		&csi__v1__create_volume_request__descriptor,
		&csi__v1__delete_volume_request__descriptor,
		&csi__v1__validate_volume_capabilities_request__descriptor,
		&csi__v1__list_volumes_request__descriptor,
		&csi__v1__get_capacity_request__descriptor,
		&csi__v1__controller_expand_volume_request__descriptor,
		&csi__v1__node_publish_volume_request__descriptor,
		&csi__v1__node_unpublish_volume_request__descriptor,
		&csi__v1__node_get_volume_stats_request__descriptor,
		&csi__v1__node_expand_volume_request__descriptor,
	};
	const ProtobufCMessageDescriptor *d = descs[kind % (sizeof(descs) / sizeof(descs[0]))];
	ProtobufCMessage *m;
	char err[400];
	uint64_t size;
	bool ro;

	if (csi_map_check_strings(d, buf, len, err, sizeof(err)) < 0)
		return;
	m = protobuf_c_message_unpack(d, NULL, len, buf);
	if (!m)
		return;
	if (d == &csi__v1__create_volume_request__descriptor) {
		create_volume((Csi__V1__CreateVolumeRequest *)m, pools);
	} else if (d == &csi__v1__delete_volume_request__descriptor) {
		csi_map_id_valid(((Csi__V1__DeleteVolumeRequest *)m)->volume_id);
	} else if (d == &csi__v1__validate_volume_capabilities_request__descriptor) {
		Csi__V1__ValidateVolumeCapabilitiesRequest *in = (void *)m;
		struct csi_kv kv[MAX_PARAMS];
		struct csi_params p;
		size_t n = CSI_KV_COPY(kv, MAX_PARAMS, in->parameters, in->n_parameters);

		csi_map_id_valid(in->volume_id);
		map_caps(in->volume_capabilities, in->n_volume_capabilities, CSI_CAPS_REQUIRED);
		map_params(kv, n, true, &p);
	} else if (d == &csi__v1__list_volumes_request__descriptor) {
		list_volumes((Csi__V1__ListVolumesRequest *)m);
	} else if (d == &csi__v1__get_capacity_request__descriptor) {
		get_capacity((Csi__V1__GetCapacityRequest *)m, pools);
	} else if (d == &csi__v1__controller_expand_volume_request__descriptor) {
		Csi__V1__ControllerExpandVolumeRequest *in = (void *)m;

		csi_map_id_valid(in->volume_id);
		if (csi_map_capacity(in->capacity_range, &size, err, sizeof(err)) == 0)
			csi_map_size_fits(in->capacity_range, size);
		if (in->volume_capability)
			map_caps(&in->volume_capability, 1, 0);
	} else if (d == &csi__v1__node_publish_volume_request__descriptor) {
		Csi__V1__NodePublishVolumeRequest *in = (void *)m;

		csi_map_id_valid(in->volume_id);
		if (csi_map_path_normalised(in->target_path)) {
			map_caps(&in->volume_capability, 1, CSI_CAPS_REQUIRED);
			csi_map_published_at(vol, in->target_path, &ro);
		}
	} else if (d == &csi__v1__node_unpublish_volume_request__descriptor) {
		Csi__V1__NodeUnpublishVolumeRequest *in = (void *)m;

		csi_map_id_valid(in->volume_id);
		if (csi_map_path_normalised(in->target_path))
			csi_map_published_at(vol, in->target_path, &ro);
	} else if (d == &csi__v1__node_get_volume_stats_request__descriptor) {
		Csi__V1__NodeGetVolumeStatsRequest *in = (void *)m;

		csi_map_id_valid(in->volume_id);
		csi_map_path_normalised(in->volume_path);
	} else {
		Csi__V1__NodeExpandVolumeRequest *in = (void *)m;

		csi_map_id_valid(in->volume_id);
		csi_map_path_normalised(in->volume_path);
		if (csi_map_capacity(in->capacity_range, &size, err, sizeof(err)) == 0)
			csi_map_size_fits(in->capacity_range, size);
		if (in->volume_capability)
			map_caps(&in->volume_capability, 1, 0);
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

/* pmemd's answers from the input: {"volume": ..., "pools": [...], "error": ..., "status": N}. */
static void answers(const uint8_t *buf, size_t len)
{
	json_t *doc = json_loadb((const char *)buf, len, 0, NULL), *vol, *pools, *pool;
	struct csi_volume cv;
	struct csi_stats st;
	struct csi_params p = {.numa_node = -1};
	struct csi_fs_inodes live = {.total = 1000, .free = 10};
	const char *first = NULL, *tightest = NULL, *pname;
	uint64_t avail = 0, max = 0;
	size_t n_match = 0, n_other = 0;
	char msg[256];
	long status;
	bool ro;

	if (!doc)
		return;
	vol = json_object_get(doc, "volume");
	pools = json_object_get(doc, "pools");
	status = (long)json_integer_value(json_object_get(doc, "status"));
	pname = json_string_value(json_object_get(vol, "pool"));
	pool = pname ? (json_t *)csi_map_find_pool(pools, pname) : NULL;
	csi_map_volume(vol, NODE, &cv);
	csi_map_stats(vol, pool, NULL, &st);
	csi_map_stats(vol, pool, &live, &st);
	if (!memchr(st.message, '\0', sizeof(st.message)))
		broken("a stats message without its NUL");
	csi_map_published_at(vol, "/var/lib/kubelet/pods/p/volumes/v", &ro);
	csi_map_pool_capacity(pools, &p, NULL, &avail, &max);
	csi_map_pool_capacity(pools, &p, "xfs", &avail, &max);
	csi_map_pool_choice(pools, &p, "ext4", 1048576, &n_match, &n_other, &first, &tightest);
	csi_map_error_message(status, doc, msg, sizeof(msg));
	if (!memchr(msg, '\0', sizeof(msg)))
		broken("an error message without its NUL");
	for (int op = CSI_OP_CREATE; op <= CSI_OP_PLACE; op++)
		csi_map_status((enum csi_op)op, status);
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *pools_doc, *vol;

	if (!pools_doc) {
		pools_doc = json_loads(pools_json, 0, NULL);
		vol = json_loads(volume_json, 0, NULL);
		if (!pools_doc || !vol)
			broken("the fixed answers do not parse");
	}
	if (size < 1 || size > 64 * 1024)
		return 0;
	if (data[0] == 0xff)
		answers(data + 1, size - 1);
	else
		request(data[0], data + 1, size - 1, pools_of(pools_doc), vol);
	return 0;
}
