/* csi-map: pure translation between CSI messages and pmemd's REST API (no I/O, no clock). */
#ifndef PMEMD_CSI_MAP_H
#define PMEMD_CSI_MAP_H

#include <grpc/status.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csi.pb-c.h"

/* The one topology key: a volume lives in one node's PMEM and is reachable from that node. */
#define CSI_TOPOLOGY_KEY "pmem.csi.pmemd.io/node"
/* The size of a volume whose capacity_range asks for none (documented in docs/csi.md). */
#define CSI_DEFAULT_SIZE (1ull << 30)
/* pmemd's volume names: [a-z0-9]([-a-z0-9.]*[a-z0-9])?, at most 253. */
#define CSI_ID_MAX 253
/* The CSI spec's limit on a string field (spec.md "Size Limits"). */
#define CSI_STRING_MAX 128
/* Volume labels recorded from the external-provisioner's parameters (docs/csi.md). */
#define CSI_LABEL_PVC_NAME	"pmem.io/pvc-name"
#define CSI_LABEL_PVC_NAMESPACE "pmem.io/pvc-namespace"
#define CSI_LABEL_PV_NAME	"pmem.io/pv-name"

/* The REST call a status comes from: the same HTTP status means different things per call. */
enum csi_op {
	CSI_OP_CREATE,	  /* POST /v1/volumes */
	CSI_OP_GET,	  /* GET /v1/volumes/{id}, for any RPC naming a volume */
	CSI_OP_DELETE,	  /* DELETE /v1/volumes/{id} */
	CSI_OP_LIST,	  /* GET /v1/volumes, GET /v1/pools */
	CSI_OP_PUBLISH,	  /* POST /v1/volumes/{id}/publish */
	CSI_OP_UNPUBLISH, /* POST /v1/volumes/{id}/unpublish */
	CSI_OP_EXPAND,	  /* POST /v1/volumes/{id}/resize */
	CSI_OP_PLACE,	  /* POST /v1/placement/evaluate */
};

/* One entry of a CSI map field (parameters, segments, secrets): borrowed strings. */
struct csi_kv {
	const char *key;
	const char *value;
};

/* The StorageClass parameters the shim understands; strings borrowed from the request. */
struct csi_params {
	const char *pool;   /* "pool": a pool's mount path or id; NULL when absent */
	int numa_node;	    /* "numaNode": 0..1023, -1 when absent */
	const char *fstype; /* "fstype": "ext4" or "xfs"; NULL when absent */
	const char *pvc_name;
	const char *pvc_namespace;
	const char *pv_name;
};

/* A pmemd volume as a CSI Volume, built in place; strings point into the JSON it came from. */
struct csi_volume {
	Csi__V1__Volume vol;
	Csi__V1__Volume__VolumeContextEntry ctx[2];
	Csi__V1__Volume__VolumeContextEntry *ctx_p[2];
	Csi__V1__Topology topo;
	Csi__V1__Topology *topo_p[1];
	Csi__V1__Topology__SegmentsEntry seg;
	Csi__V1__Topology__SegmentsEntry *seg_p[1];
	char numa[24];
};

/* A volume's usage as NodeGetVolumeStats reports it. */
struct csi_stats {
	int64_t bytes_total, bytes_used, bytes_available;
	int64_t inodes_total, inodes_used, inodes_available;
	bool abnormal; /* pmemd could not read the quota */
	char message[200];
};

/* Does s follow pmemd's volume name rules? */
bool csi_map_id_valid(const char *s);

/*
 * The volume id (= pmemd volume name) of a CreateVolume `name`. A name that is
 * already a valid pmemd name is its own id; any other (upper case, '_', longer
 * than 253, ...) becomes "csi-" and the first 40 hex digits of its SHA-256, so
 * the mapping is deterministic and a retry finds the same volume. Returns 0,
 * or -EINVAL for an empty name.
 */
int csi_map_volume_id(const char *name, char *id, size_t id_len, char *err, size_t err_len);

/*
 * The size to create for a capacity range: required_bytes when set, else
 * CSI_DEFAULT_SIZE capped at limit_bytes. -EINVAL for a negative figure,
 * -ERANGE when limit_bytes < required_bytes; the reason in err.
 */
int csi_map_capacity(const Csi__V1__CapacityRange *r, uint64_t *size, char *err, size_t err_len);

/* Is `size` within the range (no range: any size)? */
bool csi_map_size_fits(const Csi__V1__CapacityRange *r, uint64_t size);

/*
 * Parses the parameters of CreateVolume (create) or GetCapacity (!create).
 * `csi.storage.k8s.io/fstype` (a StorageClass's standard key) counts as
 * `fstype` in both. GetCapacity gets the StorageClass's parameters as they are,
 * so its other csi.storage.k8s.io/ keys (secrets' names) are ignored; a
 * create never sees them (the provisioner strips them). An unknown key or a bad
 * value is -EINVAL naming it.
 */
int csi_map_params(const struct csi_kv *kv, size_t n, bool create, struct csi_params *out,
		   char *err, size_t err_len);

/* How csi_map_capabilities reads a list. */
enum {
	CSI_CAPS_REQUIRED = 1, /* an empty list is malformed */
	/*
	 * A missing or UNKNOWN access mode is accepted: older external-provisioners ask
	 * GetCapacity with a mount capability that names only the filesystem.
	 */
	CSI_CAPS_ANY_MODE = 2,
};

/*
 * Checks volume capabilities. -EINVAL: malformed (none with CSI_CAPS_REQUIRED,
 * no access mode, no access type); -ENOTSUP: well-formed but not offered
 * (block access, a multi-node mode, mount flags, a filesystem other than
 * ext4/xfs, two filesystems at once); the reason in err. On 0, *fstype is the
 * one filesystem asked for (a static string) or NULL when none is.
 */
int csi_map_capabilities(Csi__V1__VolumeCapability *const *caps, size_t n, unsigned flags,
			 const char **fstype, char *err, size_t err_len);

/*
 * Checks accessibility requirements against this node: 0 when there are none,
 * or no requisite topology, or one requisite segment is exactly
 * {CSI_TOPOLOGY_KEY: node_id}; -ENOENT (the spec's RESOURCE_EXHAUSTED) when
 * the requisite topologies exclude this node; -EINVAL when malformed.
 */
int csi_map_topology(const Csi__V1__TopologyRequirement *t, const char *node_id, char *err,
		     size_t err_len);

/*
 * Is `path` absolute and normalised (no empty, "." or ".." component, no
 * trailing '/', at most PATH_MAX)? pmemd refuses any other target; the shim
 * checks before it makes the target directory, so it never makes one elsewhere.
 */
bool csi_map_path_normalised(const char *path);

/* Does a topology segment (GetCapacity's accessible_topology) name this node? */
bool csi_map_segment_is_node(const Csi__V1__Topology *t, const char *node_id);

/*
 * The body of POST /v1/volumes. `pool` overrides p->pool (a pool the shim
 * chose for an fstype). PVC parameters become labels where they are valid
 * label values (a name longer than 63 is left out: pmemd's label limit), and
 * namespace/name becomes `claim`. NULL on allocation failure.
 */
json_t *csi_map_create_body(const char *id, uint64_t size, const struct csi_params *p,
			    const char *pool);

/* The gRPC code for a pmemd answer to `op` (2xx: OK). */
grpc_status_code csi_map_status(enum csi_op op, long http);

/*
 * The message for a failed pmemd answer: "pmemd: <error.message>" from the
 * body, or the HTTP status when the body has none. Control characters are
 * replaced, the length capped.
 */
void csi_map_error_message(long http, const json_t *body, char *msg, size_t len);

/*
 * Fills `out` from a pmemd volume object. -EINVAL when the object lacks the
 * name or size_bytes. The JSON must outlive `out`.
 */
int csi_map_volume(const json_t *vol, const char *node_id, struct csi_volume *out);

/*
 * One page of `n` ids sorted ascending: the page starts at the first id >=
 * `token` (empty: at 0) and has at most `max` entries (0: all). *next is the
 * id after the page or NULL. -EINVAL for max < 0; -ESTALE for a token that is
 * no volume name (the spec's ABORTED).
 */
int csi_map_page(const char *const *ids, size_t n, const char *token, int32_t max, size_t *start,
		 size_t *count, const char **next, char *err, size_t err_len);

/*
 * GetCapacity over the pools of GET /v1/pools: the free capacity (allocatable
 * minus allocated minus reserved) of the ready pools that match the
 * parameters and the fstype, summed in *available, the largest in *max_size.
 */
void csi_map_pool_capacity(const json_t *pools, const struct csi_params *p, const char *fstype,
			   uint64_t *available, uint64_t *max_size);

/*
 * For a create with a filesystem type, which pools could take it: *n_match
 * ready pools of that fstype under the other parameters, *n_other of another
 * fstype; *first the first match, *tightest the match with the least room
 * that still fits `size` (pmemd's binpack), both names inside pools or NULL.
 */
void csi_map_pool_choice(const json_t *pools, const struct csi_params *p, const char *fstype,
			 uint64_t size, size_t *n_match, size_t *n_other, const char **first,
			 const char **tightest);

/* The pool object (of GET /v1/pools) of that mount path or id, or NULL. */
const json_t *csi_map_find_pool(const json_t *pools, const char *name);

/*
 * Is the volume published on `target`? Sets *readonly when it is.
 */
bool csi_map_published_at(const json_t *vol, const char *target, bool *readonly);

/* The inode figures of statvfs(2) on a published target: what df -i shows there. */
struct csi_fs_inodes {
	int64_t total;
	int64_t free;
};

/*
 * NodeGetVolumeStats from a volume, its pool object (may be NULL) and, when the
 * node could read them, the target's own inode figures (may be NULL). Without
 * an inode limit the inodes are the filesystem's (as df shows them): the
 * target's when given, else the pool's as pmemd last saw them.
 */
void csi_map_stats(const json_t *vol, const json_t *pool, const struct csi_fs_inodes *live,
		   struct csi_stats *out);

/*
 * protobuf-c hands strings over as C strings, so "pvc-1\0x" would arrive as
 * "pvc-1" and name another volume, and it does not check that they are UTF-8
 * as proto3 requires (pmemd's JSON cannot carry them). Walks the wire format of
 * a serialized message of descriptor `d` (nested messages and map entries
 * included) and returns -EINVAL naming the first string field that holds a NUL
 * byte or is not valid UTF-8; 0 otherwise (malformed input is left for the
 * unpacker to refuse).
 */
int csi_map_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
			  char *err, size_t err_len);

/* Copies the map entries of a request into kv (at most max); returns the count. */
#define CSI_KV_COPY(kv, max, entries, n)                       \
	({                                                     \
		size_t _n = (n) < (max) ? (n) : (max);         \
		for (size_t _i = 0; _i < _n; _i++) {           \
			(kv)[_i].key = (entries)[_i]->key;     \
			(kv)[_i].value = (entries)[_i]->value; \
		}                                              \
		_n;                                            \
	})

#endif
