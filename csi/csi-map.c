/* csi-map: CSI requests to pmemd REST bodies, pmemd answers to CSI messages and gRPC codes. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csi/csi-map.h"
#include "util/errmsg.h"
#include "util/utf8.h"

#define NUMA_MAX 1023
/* pmemd's label values: 1..63 of [A-Za-z0-9._-], alphanumeric at both ends. */
#define LABEL_VALUE_MAX 63
/* The block size the shim assumes for a pool's quota overhead (both filesystems' default). */
#define POOL_BLOCK 4096ull

/* A printable, bounded copy of untrusted text for a message: never the whole of a 10 KB name. */
static const char *shown(char *buf, size_t len, const char *s)
{
	size_t o = 0, max = len > 48 ? 48 : len - 1;

	for (; s && *s && o < max; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f && *s != '"') ? *s : '?';
	if (s && *s && len > 52) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool csi_map_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > CSI_ID_MAX || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_lower_alnum(s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	}
	return true;
}

int csi_map_volume_id(const char *name, char *id, size_t id_len, char *err, size_t err_len)
{
	unsigned char digest[32];

	if (!name || !*name)
		return err_fail(-EINVAL, err, err_len, "name is required");
	if (csi_map_id_valid(name)) {
		if (strlen(name) >= id_len)
			return err_fail(-ENAMETOOLONG, err, err_len, "id buffer too small");
		strcpy(id, name);
		return 0;
	}
	if (id_len < 4 + 40 + 1)
		return err_fail(-ENAMETOOLONG, err, err_len, "id buffer too small");
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, name, strlen(name), digest) < 0)
		return err_fail(-EIO, err, err_len, "cannot hash the name");
	memcpy(id, "csi-", 4);
	for (size_t i = 0; i < 20; i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

int csi_map_capacity(const Csi__V1__CapacityRange *r, uint64_t *size, char *err, size_t err_len)
{
	int64_t req = r ? r->required_bytes : 0, lim = r ? r->limit_bytes : 0;

	if (req < 0)
		return err_fail(-EINVAL, err, err_len,
				"capacity_range.required_bytes must not be negative, got %" PRId64,
				req);
	if (lim < 0)
		return err_fail(-EINVAL, err, err_len,
				"capacity_range.limit_bytes must not be negative, got %" PRId64,
				lim);
	if (lim > 0 && req > lim)
		return err_fail(-ERANGE, err, err_len,
				"capacity_range.limit_bytes %" PRId64
				" is less than required_bytes %" PRId64,
				lim, req);
	if (req > 0)
		*size = (uint64_t)req;
	else if (lim > 0 && (uint64_t)lim < CSI_DEFAULT_SIZE)
		*size = (uint64_t)lim;
	else
		*size = CSI_DEFAULT_SIZE;
	return 0;
}

bool csi_map_size_fits(const Csi__V1__CapacityRange *r, uint64_t size)
{
	if (!r)
		return true;
	if (r->required_bytes > 0 && size < (uint64_t)r->required_bytes)
		return false;
	if (r->limit_bytes > 0 && size > (uint64_t)r->limit_bytes)
		return false;
	return true;
}

/* The external-provisioner's --extra-create-metadata keys. */
#define K8S_PREFIX "csi.storage.k8s.io/"

int csi_map_params(const struct csi_kv *kv, size_t n, bool create, struct csi_params *out,
		   char *err, size_t err_len)
{
	struct csi_params p = {.numa_node = -1};
	char b1[64], b2[64];

	for (size_t i = 0; i < n; i++) {
		const char *k = kv[i].key ? kv[i].key : "", *v = kv[i].value ? kv[i].value : "";

		if (strcmp(k, "pool") == 0) {
			if (!*v || strlen(v) > 4095)
				return err_fail(
					-EINVAL, err, err_len,
					"parameter pool: must be a pool's path or id, 1..4095 "
					"characters");
			p.pool = v;
		} else if (strcmp(k, "numaNode") == 0) {
			char *end;
			long x;

			errno = 0;
			x = strtol(v, &end, 10);
			if (!*v || *end || errno || x < 0 || x > NUMA_MAX || v[0] == '+' ||
			    v[0] == ' ')
				return err_fail(
					-EINVAL, err, err_len,
					"parameter numaNode: must be an integer 0..%d, got \"%s\"",
					NUMA_MAX, shown(b1, sizeof(b1), v));
			p.numa_node = (int)x;
		} else if (strcmp(k, "fstype") == 0 || strcmp(k, K8S_PREFIX "fstype") == 0) {
			const char *fs = strcmp(v, "ext4") == 0	 ? "ext4"
					 : strcmp(v, "xfs") == 0 ? "xfs"
								 : NULL;

			if (!fs)
				return err_fail(-EINVAL, err, err_len,
						"parameter %s: must be ext4 or xfs, got \"%s\"", k,
						shown(b1, sizeof(b1), v));
			if (p.fstype && strcmp(p.fstype, fs) != 0)
				return err_fail(-EINVAL, err, err_len,
						"parameters fstype and " K8S_PREFIX
						"fstype disagree (%s, %s)",
						p.fstype, fs);
			p.fstype = fs;
		} else if (strcmp(k, K8S_PREFIX "pvc/name") == 0) {
			p.pvc_name = v;
		} else if (strcmp(k, K8S_PREFIX "pvc/namespace") == 0) {
			p.pvc_namespace = v;
		} else if (strcmp(k, K8S_PREFIX "pv/name") == 0) {
			p.pv_name = v;
		} else if (!create && strncmp(k, K8S_PREFIX, strlen(K8S_PREFIX)) == 0) {
			continue; /* a StorageClass's own keys, as GetCapacity gets them */
		} else {
			return err_fail(
				-EINVAL, err, err_len,
				"unknown parameter \"%s\" (known: pool, numaNode, fstype%s)",
				shown(b2, sizeof(b2), k),
				create ? ", " K8S_PREFIX "pvc/name, " K8S_PREFIX
					 "pvc/namespace, " K8S_PREFIX "pv/name"
				       : "");
		}
	}
	if (p.pool && p.numa_node >= 0)
		return err_fail(-EINVAL, err, err_len,
				"parameters pool and numaNode exclude each other (a pool has one "
				"NUMA node)");
	*out = p;
	return 0;
}

int csi_map_capabilities(Csi__V1__VolumeCapability *const *caps, size_t n, unsigned flags,
			 const char **fstype, char *err, size_t err_len)
{
	const char *fs = NULL;
	char b[64];

	if (n == 0 && (flags & CSI_CAPS_REQUIRED))
		return err_fail(-EINVAL, err, err_len, "volume_capabilities are required");
	for (size_t i = 0; i < n; i++) {
		const Csi__V1__VolumeCapability *c = caps[i];
		const char *want;

		if (!c)
			return err_fail(-EINVAL, err, err_len, "volume_capabilities[%zu] is empty",
					i);
		if (!c->access_mode && !(flags & CSI_CAPS_ANY_MODE))
			return err_fail(-EINVAL, err, err_len,
					"volume_capabilities[%zu].access_mode is required", i);
		switch (c->access_mode ? c->access_mode->mode
				       : CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN) {
		case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER:
		case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY:
		case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_SINGLE_WRITER:
		case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER:
			break;
		case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN:
			if (flags & CSI_CAPS_ANY_MODE)
				break;
			return err_fail(-EINVAL, err, err_len,
					"volume_capabilities[%zu].access_mode.mode is required", i);
		default:
			return err_fail(
				-ENOTSUP, err, err_len,
				"volume_capabilities[%zu]: access mode %d is not supported: a "
				"volume lives in one node's PMEM (only SINGLE_NODE_* modes)",
				i, (int)c->access_mode->mode);
		}
		if (c->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK)
			return err_fail(
				-ENOTSUP, err, err_len,
				"volume_capabilities[%zu]: block access is not supported: a "
				"volume is a directory with a quota (mount access only)",
				i);
		if (c->access_type_case != CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT ||
		    !c->mount)
			return err_fail(
				-EINVAL, err, err_len,
				"volume_capabilities[%zu]: an access type (mount) is required", i);
		if (c->mount->n_mount_flags > 0)
			return err_fail(
				-ENOTSUP, err, err_len,
				"volume_capabilities[%zu]: mount_flags are not supported: a "
				"volume is a bind mount of a directory in the pool",
				i);
		if (c->mount->volume_mount_group && *c->mount->volume_mount_group)
			return err_fail(
				-ENOTSUP, err, err_len,
				"volume_capabilities[%zu]: volume_mount_group is not supported", i);
		want = c->mount->fs_type ? c->mount->fs_type : "";
		if (!*want)
			continue;
		if (strcmp(want, "ext4") != 0 && strcmp(want, "xfs") != 0)
			return err_fail(-ENOTSUP, err, err_len,
					"volume_capabilities[%zu]: fs_type \"%s\" is not supported "
					"(ext4, xfs or empty)",
					i, shown(b, sizeof(b), want));
		if (fs && strcmp(fs, want) != 0)
			return err_fail(
				-ENOTSUP, err, err_len,
				"volume_capabilities ask for both %s and %s: a volume has one "
				"filesystem",
				fs, want);
		fs = strcmp(want, "ext4") == 0 ? "ext4" : "xfs";
	}
	*fstype = fs;
	return 0;
}

bool csi_map_path_normalised(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	if (n < 2 || n >= 4096 || path[0] != '/' || path[n - 1] == '/')
		return false;
	for (const char *c = path; *c; c++) {
		const char *seg = c + 1;
		size_t len;

		if (*c != '/')
			continue;
		len = strcspn(seg, "/");
		if (len == 0 || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
	}
	return true;
}

bool csi_map_segment_is_node(const Csi__V1__Topology *t, const char *node_id)
{
	return t && t->n_segments == 1 && t->segments[0] && t->segments[0]->key &&
	       t->segments[0]->value && strcmp(t->segments[0]->key, CSI_TOPOLOGY_KEY) == 0 &&
	       strcmp(t->segments[0]->value, node_id) == 0;
}

int csi_map_topology(const Csi__V1__TopologyRequirement *t, const char *node_id, char *err,
		     size_t err_len)
{
	char b[64];

	if (!t || t->n_requisite == 0)
		return 0; /* preferred alone is advice: any node, this one included, may serve */
	for (size_t i = 0; i < t->n_requisite; i++) {
		if (!t->requisite[i] || t->requisite[i]->n_segments == 0)
			return err_fail(-EINVAL, err, err_len,
					"accessibility_requirements.requisite[%zu] is empty", i);
		if (csi_map_segment_is_node(t->requisite[i], node_id))
			return 0;
	}
	return err_fail(-ENOENT, err, err_len,
			"accessibility_requirements: no requisite topology is this node (%s=%s); "
			"this driver provisions only on its own node",
			CSI_TOPOLOGY_KEY, shown(b, sizeof(b), node_id));
}

/* A label value pmemd accepts: 1..63 of [A-Za-z0-9._-], alphanumeric at both ends. */
static bool label_value_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > LABEL_VALUE_MAX || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	}
	return true;
}

json_t *csi_map_create_body(const char *id, uint64_t size, const struct csi_params *p,
			    const char *pool)
{
	json_t *b = json_object(), *labels = json_object();
	bool ok = b && labels;

	pool = pool ? pool : p->pool;
	ok = ok && json_object_set_new(b, "name", json_string(id)) == 0 &&
	     json_object_set_new(b, "size_bytes", json_integer((json_int_t)size)) == 0;
	if (ok && pool)
		ok = json_object_set_new(b, "pool", json_string(pool)) == 0;
	else if (ok && p->numa_node >= 0)
		ok = json_object_set_new(b, "numa_node", json_integer(p->numa_node)) == 0;
	if (ok && label_value_ok(p->pvc_name))
		ok = json_object_set_new(labels, CSI_LABEL_PVC_NAME, json_string(p->pvc_name)) == 0;
	if (ok && label_value_ok(p->pvc_namespace))
		ok = json_object_set_new(labels, CSI_LABEL_PVC_NAMESPACE,
					 json_string(p->pvc_namespace)) == 0;
	if (ok && label_value_ok(p->pv_name))
		ok = json_object_set_new(labels, CSI_LABEL_PV_NAME, json_string(p->pv_name)) == 0;
	if (ok && json_object_size(labels) > 0)
		ok = json_object_set(b, "labels", labels) == 0;
	/*
	 * The claim lets pmemd consume a reservation the scheduler made for this PVC; pmemd
	 * validates it (a DNS label / a volume name) and refuses what it cannot take.
	 */
	if (ok && p->pvc_name && *p->pvc_name && p->pvc_namespace && *p->pvc_namespace) {
		char *claim = NULL;

		ok = asprintf(&claim, "%s/%s", p->pvc_namespace, p->pvc_name) >= 0;
		if (ok) {
			ok = json_object_set_new(b, "claim", json_string(claim)) == 0;
			free(claim);
		}
	}
	json_decref(labels);
	if (!ok) {
		json_decref(b);
		return NULL;
	}
	return b;
}

grpc_status_code csi_map_status(enum csi_op op, long http)
{
	if (http >= 200 && http < 300)
		return GRPC_STATUS_OK;
	switch (http) {
	case 400:
	case 413:
	case 415:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case 401:
		/* The shim's own credentials: nothing the CO can fix. */
		return GRPC_STATUS_INTERNAL;
	case 403:
		return GRPC_STATUS_PERMISSION_DENIED;
	case 404:
		/* A create names no volume: its 404 is an unknown `pool` parameter. */
		return op == CSI_OP_CREATE ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_NOT_FOUND;
	case 409:
		switch (op) {
		case CSI_OP_CREATE:
			return GRPC_STATUS_ALREADY_EXISTS; /* the name, with another size */
		case CSI_OP_PUBLISH:
			return GRPC_STATUS_ALREADY_EXISTS; /* published there, other mode */
		case CSI_OP_EXPAND:
			return GRPC_STATUS_OUT_OF_RANGE; /* below what the volume uses */
		default:
			return GRPC_STATUS_FAILED_PRECONDITION; /* in use: published */
		}
	case 501:
		return GRPC_STATUS_UNIMPLEMENTED;
	case 503:
		return GRPC_STATUS_UNAVAILABLE;
	case 504:
		return GRPC_STATUS_DEADLINE_EXCEEDED;
	case 507:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

void csi_map_error_message(long http, const json_t *body, char *msg, size_t len)
{
	const char *m =
		json_string_value(json_object_get(json_object_get(body, "error"), "message"));
	size_t o;

	if (!len)
		return;
	if (m)
		snprintf(msg, len, "pmemd: %s", m);
	else
		snprintf(msg, len, "pmemd answered HTTP %ld", http);
	for (o = 0; msg[o]; o++) {
		if ((unsigned char)msg[o] < 0x20 || msg[o] == 0x7f)
			msg[o] = ' ';
	}
}

int csi_map_volume(const json_t *vol, const char *node_id, struct csi_volume *out)
{
	const char *name = json_string_value(json_object_get(vol, "name"));
	const char *pool = json_string_value(json_object_get(vol, "pool"));
	const json_t *size = json_object_get(vol, "size_bytes");
	const json_t *numa = json_object_get(vol, "numa_node");
	size_t n = 0;

	if (!name || !json_is_integer(size) || json_integer_value(size) < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	csi__v1__volume__init(&out->vol);
	out->vol.volume_id = (char *)name;
	out->vol.capacity_bytes = (int64_t)json_integer_value(size);
	if (pool) {
		csi__v1__volume__volume_context_entry__init(&out->ctx[n]);
		out->ctx[n].key = (char *)"pool";
		out->ctx[n].value = (char *)pool;
		out->ctx_p[n] = &out->ctx[n];
		n++;
	}
	if (json_is_integer(numa)) {
		snprintf(out->numa, sizeof(out->numa), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(numa));
		csi__v1__volume__volume_context_entry__init(&out->ctx[n]);
		out->ctx[n].key = (char *)"numaNode";
		out->ctx[n].value = out->numa;
		out->ctx_p[n] = &out->ctx[n];
		n++;
	}
	out->vol.n_volume_context = n;
	out->vol.volume_context = n ? out->ctx_p : NULL;
	csi__v1__topology__init(&out->topo);
	csi__v1__topology__segments_entry__init(&out->seg);
	out->seg.key = (char *)CSI_TOPOLOGY_KEY;
	out->seg.value = (char *)node_id;
	out->seg_p[0] = &out->seg;
	out->topo.n_segments = 1;
	out->topo.segments = out->seg_p;
	out->topo_p[0] = &out->topo;
	out->vol.n_accessible_topology = 1;
	out->vol.accessible_topology = out->topo_p;
	return 0;
}

int csi_map_page(const char *const *ids, size_t n, const char *token, int32_t max, size_t *start,
		 size_t *count, const char **next, char *err, size_t err_len)
{
	char b[64];
	size_t s = 0, c;

	if (max < 0)
		return err_fail(-EINVAL, err, err_len, "max_entries must not be negative, got %d",
				(int)max);
	if (token && *token) {
		/* The token is the id the page starts at: still right after deletes. */
		if (!csi_map_id_valid(token))
			return err_fail(-ESTALE, err, err_len,
					"starting_token \"%s\" is not one this driver gave",
					shown(b, sizeof(b), token));
		while (s < n && strcmp(ids[s], token) < 0)
			s++;
	}
	c = n - s;
	if (max > 0 && c > (size_t)max)
		c = (size_t)max;
	*start = s;
	*count = c;
	*next = s + c < n ? ids[s + c] : NULL;
	return 0;
}

static uint64_t json_u64(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* Is a pool of GET /v1/pools one a volume can be made in, under these parameters? */
static bool pool_matches(const json_t *pool, const struct csi_params *p, const char *fstype)
{
	const char *state = json_string_value(json_object_get(pool, "state"));
	const char *fs = json_string_value(json_object_get(pool, "fstype"));
	const char *name = json_string_value(json_object_get(pool, "name"));
	const char *id = json_string_value(json_object_get(pool, "id"));
	const json_t *numa = json_object_get(pool, "numa_node");

	/* Volumes live in fsdax pools: a kmem pool has no filesystem. */
	if (!state || strcmp(state, "ready") != 0 || !fs)
		return false;
	if (fstype && strcmp(fs, fstype) != 0)
		return false;
	if (p && p->fstype && strcmp(fs, p->fstype) != 0)
		return false;
	if (p && p->pool &&
	    !((name && strcmp(name, p->pool) == 0) || (id && strcmp(id, p->pool) == 0)))
		return false;
	if (p && p->numa_node >= 0 &&
	    (!json_is_integer(numa) || json_integer_value(numa) != p->numa_node))
		return false;
	return true;
}

/* What a volume can still take from a pool: free capacity minus the quota's fixed overhead. */
static uint64_t pool_max_size(const json_t *pool)
{
	uint64_t alloc = json_u64(pool, "allocatable_bytes");
	uint64_t used = json_u64(pool, "allocated_bytes") + json_u64(pool, "reserved_bytes");
	const char *fs = json_string_value(json_object_get(pool, "fstype"));
	/* quota_limit_for_size: ext4 one slack block plus the record's block, xfs four. */
	uint64_t overhead = (fs && strcmp(fs, "ext4") == 0 ? 2 : 4) * POOL_BLOCK;
	uint64_t free = alloc > used ? alloc - used : 0;

	if (free <= overhead)
		return 0;
	return (free - overhead) / POOL_BLOCK * POOL_BLOCK;
}

void csi_map_pool_capacity(const json_t *pools, const struct csi_params *p, const char *fstype,
			   uint64_t *available, uint64_t *max_size)
{
	const json_t *arr = json_object_get(pools, "pools");
	const json_t *pool;
	size_t i;

	*available = 0;
	*max_size = 0;
	json_array_foreach (arr, i, pool) {
		uint64_t m;

		if (!pool_matches(pool, p, fstype))
			continue;
		m = pool_max_size(pool);
		*available += m;
		if (m > *max_size)
			*max_size = m;
	}
}

void csi_map_pool_choice(const json_t *pools, const struct csi_params *p, const char *fstype,
			 uint64_t size, size_t *n_match, size_t *n_other, const char **first,
			 const char **tightest)
{
	const json_t *arr = json_object_get(pools, "pools");
	struct csi_params any = *p;
	const json_t *pool;
	uint64_t best = UINT64_MAX;
	size_t i;

	any.fstype = NULL;
	*n_match = *n_other = 0;
	*first = *tightest = NULL;
	json_array_foreach (arr, i, pool) {
		const char *name = json_string_value(json_object_get(pool, "name"));
		uint64_t m;

		if (!name || !pool_matches(pool, &any, NULL))
			continue;
		if (!pool_matches(pool, &any, fstype)) {
			(*n_other)++;
			continue;
		}
		(*n_match)++;
		if (!*first)
			*first = name;
		m = pool_max_size(pool);
		if (m >= size && m < best) {
			best = m;
			*tightest = name;
		}
	}
}

const json_t *csi_map_find_pool(const json_t *pools, const char *name)
{
	const json_t *arr = json_object_get(pools, "pools");
	const json_t *pool;
	size_t i;

	if (!name)
		return NULL;
	json_array_foreach (arr, i, pool) {
		const char *n = json_string_value(json_object_get(pool, "name"));
		const char *id = json_string_value(json_object_get(pool, "id"));

		/* A mount path starts with '/', an id never does: they cannot clash. */
		if ((n && strcmp(n, name) == 0) || (id && strcmp(id, name) == 0))
			return pool;
	}
	return NULL;
}

bool csi_map_published_at(const json_t *vol, const char *target, bool *readonly)
{
	const json_t *arr = json_object_get(vol, "published");
	const json_t *e;
	size_t i;

	json_array_foreach (arr, i, e) {
		const char *t = json_string_value(json_object_get(e, "target_path"));

		if (t && target && strcmp(t, target) == 0) {
			if (readonly)
				*readonly = json_is_true(json_object_get(e, "readonly"));
			return true;
		}
	}
	return false;
}

void csi_map_stats(const json_t *vol, const json_t *pool, const struct csi_fs_inodes *live,
		   struct csi_stats *out)
{
	const json_t *ub = json_object_get(vol, "used_bytes");
	const json_t *ui = json_object_get(vol, "used_inodes");
	int64_t limit = (int64_t)json_u64(vol, "limit_bytes");
	int64_t inodes = (int64_t)json_u64(vol, "inodes");

	memset(out, 0, sizeof(*out));
	if (limit == 0)
		limit = (int64_t)json_u64(vol, "size_bytes");
	/* df inside the volume shows the quota: Size is the limit, Avail what is left of it. */
	out->bytes_total = limit;
	if (!json_is_integer(ub) || !json_is_integer(ui)) {
		out->abnormal = true;
		snprintf(out->message, sizeof(out->message),
			 "pmemd cannot read the volume's quota usage");
		return;
	}
	out->bytes_used = json_integer_value(ub);
	out->bytes_available = limit > out->bytes_used ? limit - out->bytes_used : 0;
	out->inodes_used = json_integer_value(ui);
	if (inodes > 0) {
		out->inodes_total = inodes;
		out->inodes_available = inodes > out->inodes_used ? inodes - out->inodes_used : 0;
	} else {
		/*
		 * No inode limit: df shows the filesystem's inodes, and so does this; live
		 * from the target when the node read them (pmemd's pool figures are up to a
		 * pass old).
		 */
		out->inodes_total = live ? live->total : (int64_t)json_u64(pool, "inodes");
		out->inodes_available = live ? live->free : (int64_t)json_u64(pool, "inodes_free");
	}
	snprintf(out->message, sizeof(out->message), "volume is healthy");
}

static bool read_varint(const uint8_t *b, size_t len, size_t *off, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && *off < len; shift += 7) {
		uint8_t c = b[(*off)++];

		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Nesting deeper than any CSI message is left to the unpacker (and its own limit). */
#define MAX_DEPTH 16

static int check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t len,
			 unsigned depth, char *err, size_t err_len)
{
	size_t off = 0;

	if (depth > MAX_DEPTH)
		return 0;
	while (off < len) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, n;
		int ret;

		if (!read_varint(b, len, &off, &key))
			return 0;
		switch (key & 7) {
		case 0: /* varint */
			if (!read_varint(b, len, &off, &n))
				return 0;
			break;
		case 1: /* 64-bit */
			if (len - off < 8)
				return 0;
			off += 8;
			break;
		case 5: /* 32-bit */
			if (len - off < 4)
				return 0;
			off += 4;
			break;
		case 2: /* length-delimited: a string, bytes or a message */
			if (!read_varint(b, len, &off, &n) || n > len - off)
				return 0;
			f = key >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(
							     d, (unsigned)(key >> 3))
						   : NULL;
			if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(b + off, 0, n))
				return err_fail(-EINVAL, err, err_len,
						"string field %s.%s has a NUL byte", d->short_name,
						f->name);
			/* proto3 strings are UTF-8, but protobuf-c does not check; jansson does,
			 * and a parameter that is not UTF-8 would fail the POST body as ENOMEM. */
			if (f && f->type == PROTOBUF_C_TYPE_STRING &&
			    !utf8_valid((const char *)b + off, n))
				return err_fail(-EINVAL, err, err_len,
						"string field %s.%s is not valid UTF-8",
						d->short_name, f->name);
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor) {
				ret = check_strings(f->descriptor, b + off, n, depth + 1, err,
						    err_len);
				if (ret < 0)
					return ret;
			}
			off += n;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

int csi_map_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
			  char *err, size_t err_len)
{
	return check_strings(d, buf, len, 0, err, err_len);
}
