/* sched-pod: a Pod object's PMEM volumes, exclusive CPUs and policies as a sched_request. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched-pod.h"
#include "util/units.h"

/* The annotation is user input: bound it before parsing it. */
#define ANN_REQUESTS_MAX 16384

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_len, const char *fmt,
						      ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && err_len)
		vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int oom(char *err, size_t err_len)
{
	if (err && err_len)
		snprintf(err, err_len, "out of memory");
	return -ENOMEM;
}

/* obj[key] as a string; NULL when absent or not a string. */
static const char *str_at(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Copies a string field of at most `cap - 1` bytes; "" when absent. */
static int copy_str(const json_t *obj, const char *key, char *dst, size_t cap, const char *path,
		    char *err, size_t err_len)
{
	const json_t *v = json_object_get(obj, key);
	dst[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, err_len, "%s: not a string", path);
	if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, err_len, "%s: longer than %zu bytes or contains NUL", path,
			    cap - 1);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* ---- PVC resolution from API objects ------------------------------------------------- */

/* The single node of a PV's required node affinity on kubernetes.io/hostname, or NULL. */
static const char *pv_hostname(const json_t *pv)
{
	const json_t *terms = json_object_get(
		json_object_get(json_object_get(json_object_get(pv, "spec"), "nodeAffinity"),
				"required"),
		"nodeSelectorTerms");
	size_t i, j;
	const json_t *term, *expr;

	json_array_foreach (terms, i, term) {
		json_array_foreach (json_object_get(term, "matchExpressions"), j, expr) {
			const json_t *vals = json_object_get(expr, "values");
			const char *key = str_at(expr, "key");
			const char *op = str_at(expr, "operator");
			if (key && op && strcmp(key, "kubernetes.io/hostname") == 0 &&
			    strcmp(op, "In") == 0 && json_array_size(vals) == 1 &&
			    json_is_string(json_array_get(vals, 0)))
				return json_string_value(json_array_get(vals, 0));
		}
	}
	return NULL;
}

int sched_pvc_info_from_json(const json_t *pvc, const json_t *sc, const json_t *pv,
			     const char *driver, struct sched_pvc_info *out, char *err,
			     size_t err_len)
{
	struct sched_pvc_info info = {.bound_numa = -1};
	const json_t *params = json_object_get(sc, "parameters");
	const char *prov = str_at(sc, "provisioner");
	const char *why = NULL;
	int r;

	if (!driver)
		driver = SCHED_POD_DRIVER_DEFAULT;
	if (!json_is_object(pvc))
		return fail(err, err_len, "persistentvolumeclaim: not an object");
	info.ours = prov && strcmp(prov, driver) == 0;
	if (!info.ours) {
		*out = info;
		return 0;
	}
	const char *size =
		str_at(json_object_get(json_object_get(json_object_get(pvc, "spec"), "resources"),
				       "requests"),
		       "storage");
	if (!size)
		return fail(err, err_len, "spec.resources.requests.storage: missing");
	r = units_parse_quantity(size, &info.size, &why);
	if (r < 0 || info.size == 0)
		return fail(err, err_len, "spec.resources.requests.storage: \"%s\": %s", size,
			    r < 0 ? why : "zero");

	const char *fs_key = json_object_get(params, "csi.storage.k8s.io/fstype")
				     ? "csi.storage.k8s.io/fstype"
				     : "fstype";
	if ((r = copy_str(params, fs_key, info.fstype, sizeof(info.fstype), fs_key, err, err_len)))
		return r;
	const char *pk = json_object_get(params, SCHED_POD_PARAM_POLICY) ? SCHED_POD_PARAM_POLICY
									 : SCHED_POD_ANN_POLICY;
	if ((r = copy_str(params, pk, info.pmem_policy, sizeof(info.pmem_policy), pk, err,
			  err_len)))
		return r;
	const char *ck = json_object_get(params, SCHED_POD_PARAM_CPU) ? SCHED_POD_PARAM_CPU
								      : SCHED_POD_ANN_CPU_POLICY;
	if ((r = copy_str(params, ck, info.cpu_policy, sizeof(info.cpu_policy), ck, err, err_len)))
		return r;

	const char *phase = str_at(json_object_get(pvc, "status"), "phase");
	if (phase && strcmp(phase, "Bound") == 0) {
		const char *node = pv ? pv_hostname(pv) : NULL;
		if (!node)
			node = str_at(
				json_object_get(json_object_get(pvc, "metadata"), "annotations"),
				SCHED_POD_ANN_SELECTED);
		if (node) {
			if (strlen(node) >= sizeof(info.bound_node))
				return fail(err, err_len, "bound node name too long");
			strcpy(info.bound_node, node);
		}
		const char *numa =
			str_at(json_object_get(json_object_get(pv, "metadata"), "annotations"),
			       "pmem.io/numa-node");
		if (numa) {
			char *end;
			long v = strtol(numa, &end, 10);
			if (*numa && !*end && v >= 0 && v < 1024)
				info.bound_numa = (int)v;
		}
	}
	*out = info;
	return 0;
}

/* ---- the pod ------------------------------------------------------------------------- */

struct build {
	struct sched_pod_request *r;
	const struct sched_pod_opts *o;
	const char *driver;
	char *err;
	size_t err_len;
	/* the first StorageClass policies seen, and where from, for conflicts */
	char pmem_policy[SCHED_POD_POLICY_MAX];
	char cpu_policy[SCHED_POD_POLICY_MAX];
	char policy_from[SCHED_POD_NAME_MAX * 2 + 8];
};

static const char *keep(struct build *b, const char *s)
{
	if (b->r->n_strings >= sizeof(b->r->strings) / sizeof(b->r->strings[0]))
		return NULL;
	char *d = strdup(s);
	if (d)
		b->r->strings[b->r->n_strings++] = d;
	return d;
}

/* Appends a volume; its strings are copied. */
static int add_volume(struct build *b, const char *what, uint64_t size, const char *fstype,
		      const char *id, const char *bound_node, int bound_numa)
{
	struct sched_request *req = &b->r->req;
	if (req->n_volumes >= SCHED_MAX_VOLUMES)
		return fail(b->err, b->err_len, "%s: the pod asks for more than %d PMEM volumes",
			    what, SCHED_MAX_VOLUMES);
	struct sched_volume *v = &b->r->volumes[req->n_volumes];
	memset(v, 0, sizeof(*v));
	v->size = size;
	v->bound_numa = bound_numa;
	if (!(v->id = keep(b, id)))
		return oom(b->err, b->err_len);
	if (fstype && *fstype && !(v->fstype = keep(b, fstype)))
		return oom(b->err, b->err_len);
	if (bound_node && *bound_node && !(v->bound_node = keep(b, bound_node)))
		return oom(b->err, b->err_len);
	req->n_volumes++;
	return 0;
}

static int check_fstype(struct build *b, const char *fs, const char *path)
{
	if (!fs)
		return 0;
	size_t n = strlen(fs);
	if (n == 0 || n >= SCHED_POD_FSTYPE_MAX ||
	    strspn(fs, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
		return fail(b->err, b->err_len, "%s: \"%.32s\" is not a filesystem type", path, fs);
	return 0;
}

static int note_sc_policy(struct build *b, const struct sched_pvc_info *info, const char *claim)
{
	if (info->pmem_policy[0]) {
		if (b->pmem_policy[0] && strcmp(b->pmem_policy, info->pmem_policy) != 0)
			return fail(b->err, b->err_len,
				    "persistentvolumeclaim %s: StorageClass placement \"%s\" "
				    "conflicts with \"%s\" of %s",
				    claim, info->pmem_policy, b->pmem_policy, b->policy_from);
		if (!b->pmem_policy[0]) {
			strcpy(b->pmem_policy, info->pmem_policy);
			snprintf(b->policy_from, sizeof(b->policy_from), "%s", claim);
		}
	}
	if (info->cpu_policy[0]) {
		if (b->cpu_policy[0] && strcmp(b->cpu_policy, info->cpu_policy) != 0)
			return fail(b->err, b->err_len,
				    "persistentvolumeclaim %s: StorageClass cpu-placement \"%s\" "
				    "conflicts with \"%s\"",
				    claim, info->cpu_policy, b->cpu_policy);
		strcpy(b->cpu_policy, info->cpu_policy);
	}
	return 0;
}

static int pvc_volume(struct build *b, const json_t *src, const char *path)
{
	const char *claim = str_at(src, "claimName");
	char cerr[SCHED_POD_NAME_MAX] = "";
	char label[SCHED_POD_NAME_MAX * 2];
	struct sched_pvc_info info;

	if (!claim || !*claim)
		return fail(b->err, b->err_len, "%s.persistentVolumeClaim.claimName: missing",
			    path);
	snprintf(label, sizeof(label), "%s/%s", b->r->namespace_, claim);
	if (!b->o->lookup_pvc) {
		snprintf(b->err, b->err_len, "persistentvolumeclaim %s: no resolver", label);
		return -ENOENT;
	}
	memset(&info, 0, sizeof(info));
	info.bound_numa = -1;
	int r = b->o->lookup_pvc(b->o->lookup_ud, b->r->namespace_, claim, &info, cerr,
				 sizeof(cerr));
	if (r == -ENOENT) {
		snprintf(b->err, b->err_len, "persistentvolumeclaim %s not found", label);
		return r;
	}
	if (r < 0) {
		snprintf(b->err, b->err_len, "persistentvolumeclaim %s: %s", label,
			 cerr[0] ? cerr : strerror(-r));
		return r;
	}
	if (!info.ours)
		return 0;
	if (info.size == 0)
		return fail(b->err, b->err_len, "persistentvolumeclaim %s: size 0", label);
	info.fstype[sizeof(info.fstype) - 1] = '\0';
	info.bound_node[sizeof(info.bound_node) - 1] = '\0';
	info.pmem_policy[sizeof(info.pmem_policy) - 1] = '\0';
	info.cpu_policy[sizeof(info.cpu_policy) - 1] = '\0';
	if ((r = check_fstype(b, info.fstype[0] ? info.fstype : NULL, label)))
		return r;
	if ((r = note_sc_policy(b, &info, label)))
		return r;
	char id[SCHED_POD_NAME_MAX * 2 + 8];
	snprintf(id, sizeof(id), "pvc:%s", label);
	return add_volume(b, path, info.size, info.fstype, id,
			  info.bound_node[0] ? info.bound_node : NULL, info.bound_numa);
}

static int inline_volume(struct build *b, const json_t *csi, const char *vname, const char *path)
{
	const char *drv = str_at(csi, "driver");
	if (!drv || strcmp(drv, b->driver) != 0)
		return 0;
	const json_t *attrs = json_object_get(csi, "volumeAttributes");
	const json_t *sz = json_object_get(attrs, "size");
	const char *why = NULL;
	uint64_t size;

	if (!sz)
		return fail(b->err, b->err_len, "%s.csi.volumeAttributes.size: missing", path);
	if (!json_is_string(sz))
		return fail(b->err, b->err_len, "%s.csi.volumeAttributes.size: not a string", path);
	int r = units_parse_quantity(json_string_value(sz), &size, &why);
	if (r < 0 || size == 0)
		return fail(b->err, b->err_len, "%s.csi.volumeAttributes.size: \"%.64s\": %s", path,
			    json_string_value(sz), r < 0 ? why : "zero");
	const json_t *fsv = json_object_get(csi, "fsType");
	if (fsv && !json_is_string(fsv))
		return fail(b->err, b->err_len, "%s.csi.fsType: not a string", path);
	const char *fs = json_string_value(fsv);
	if (fs && !*fs)
		fs = NULL;
	if ((r = check_fstype(b, fs, path)))
		return r;
	char id[SCHED_POD_NAME_MAX * 2 + 16];
	snprintf(id, sizeof(id), "inline:%s/%s", b->r->uid, vname);
	return add_volume(b, path, size, fs, id, NULL, -1);
}

static int spec_volumes(struct build *b, const json_t *spec)
{
	const json_t *vols = json_object_get(spec, "volumes");
	const json_t *v;
	size_t i;
	char path[48];

	if (vols && !json_is_array(vols) && !json_is_null(vols))
		return fail(b->err, b->err_len, "spec.volumes: not an array");
	json_array_foreach (vols, i, v) {
		snprintf(path, sizeof(path), "spec.volumes[%zu]", i);
		if (!json_is_object(v))
			return fail(b->err, b->err_len, "%s: not an object", path);
		const char *name = str_at(v, "name");
		if (!name || !*name)
			return fail(b->err, b->err_len, "%s.name: missing", path);
		const json_t *pvc = json_object_get(v, "persistentVolumeClaim");
		const json_t *csi = json_object_get(v, "csi");
		int r = 0;
		if (json_is_object(pvc))
			r = pvc_volume(b, pvc, path);
		else if (json_is_object(csi))
			r = inline_volume(b, csi, name, path);
		if (r)
			return r;
	}
	return 0;
}

/* pmem.io/requests: [{"size": "16Gi" | bytes, "fstype": "xfs"}] */
static int annotation_volumes(struct build *b, const char *text)
{
	const char *A = "annotation " SCHED_POD_ANN_REQUESTS;
	json_error_t je;
	json_t *arr, *item;
	size_t i;
	int r = 0;

	if (strlen(text) > ANN_REQUESTS_MAX)
		return fail(b->err, b->err_len, "%s: longer than %d bytes", A, ANN_REQUESTS_MAX);
	arr = json_loads(text, 0, &je);
	if (!arr)
		return fail(b->err, b->err_len, "%s: offset %d: %s", A, je.position, je.text);
	if (!json_is_array(arr)) {
		r = fail(b->err, b->err_len, "%s: not a JSON array", A);
		goto out;
	}
	json_array_foreach (arr, i, item) {
		const char *k;
		json_t *val;
		uint64_t size = 0;
		const char *fs = NULL, *why = NULL;
		bool have_size = false;

		if (!json_is_object(item)) {
			r = fail(b->err, b->err_len, "%s: [%zu]: not an object", A, i);
			goto out;
		}
		json_object_foreach (item, k, val) {
			if (strcmp(k, "size") == 0) {
				have_size = true;
				if (json_is_integer(val) && json_integer_value(val) > 0) {
					size = (uint64_t)json_integer_value(val);
					continue;
				}
				if (!json_is_string(val)) {
					r = fail(b->err, b->err_len,
						 "%s: [%zu].size: not a quantity string", A, i);
					goto out;
				}
				int q = units_parse_quantity(json_string_value(val), &size, &why);
				if (q < 0 || size == 0) {
					r = fail(b->err, b->err_len,
						 "%s: [%zu].size: \"%.64s\": %s", A, i,
						 json_string_value(val), q < 0 ? why : "zero");
					goto out;
				}
			} else if (strcmp(k, "fstype") == 0 || strcmp(k, "fsType") == 0) {
				char p[96];
				snprintf(p, sizeof(p), "%s: [%zu].%s", A, i, k);
				if (!json_is_string(val)) {
					r = fail(b->err, b->err_len, "%s: not a string", p);
					goto out;
				}
				fs = json_string_value(val);
				if ((r = check_fstype(b, fs, p)))
					goto out;
			} else {
				/* strict: a misspelt "szie" must not silently ask for nothing */
				r = fail(b->err, b->err_len, "%s: [%zu].%.64s: unknown key", A, i,
					 k);
				goto out;
			}
		}
		if (!have_size) {
			r = fail(b->err, b->err_len, "%s: [%zu].size: missing", A, i);
			goto out;
		}
		char id[SCHED_POD_NAME_MAX + 32];
		char what[64];
		snprintf(id, sizeof(id), "annotation:%s/%zu", b->r->uid, i);
		snprintf(what, sizeof(what), "%s: [%zu]", A, i);
		if ((r = add_volume(b, what, size, fs, id, NULL, -1)))
			goto out;
	}
out:
	json_decref(arr);
	return r;
}

/* ---- exclusive CPUs ------------------------------------------------------------------ */

/* resources.<which>.<res> in millis (cpu) or bytes (memory); 0 absent, 1 present. */
static int resource(struct build *b, const json_t *res, const char *which, const char *name,
		    const char *path, uint64_t *out)
{
	const json_t *v = json_object_get(json_object_get(res, which), name);
	const char *why = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(b->err, b->err_len, "%s.resources.%s.%s: not a quantity string", path,
			    which, name);
	int r = units_parse_quantity_scaled(json_string_value(v), strcmp(name, "cpu") == 0 ? 3 : 0,
					    out, &why);
	if (r < 0)
		return fail(b->err, b->err_len, "%s.resources.%s.%s: \"%.64s\": %s", path, which,
			    name, json_string_value(v), why);
	return 1;
}

/*
 * One container: *guaranteed stays true only when cpu and memory requests equal limits
 * (a missing request defaults to the limit, as the API server does); *cpus is its integer
 * CPU count, 0 when fractional (shared pool, not pinned).
 */
static int container_cpus(struct build *b, const json_t *c, const char *path, bool *guaranteed,
			  unsigned *cpus)
{
	const json_t *res = json_object_get(c, "resources");
	static const char *const names[] = {"cpu", "memory"};
	uint64_t lim[2] = {0}, req[2] = {0};

	*cpus = 0;
	for (int i = 0; i < 2; i++) {
		int hl = resource(b, res, "limits", names[i], path, &lim[i]);
		if (hl < 0)
			return hl;
		int hr = resource(b, res, "requests", names[i], path, &req[i]);
		if (hr < 0)
			return hr;
		if (!hl || lim[i] == 0 || (hr && req[i] != lim[i]))
			*guaranteed = false;
	}
	if (lim[0] % 1000 == 0 && lim[0] / 1000 <= 65536)
		*cpus = (unsigned)(lim[0] / 1000);
	return 0;
}

/* The kubelet's rule: max(sum over app containers, max over init containers). */
static int pod_cpus(struct build *b, const json_t *spec, unsigned *out)
{
	static const char *const lists[] = {"containers", "initContainers"};
	bool guaranteed = true;
	unsigned sum = 0, init_max = 0;

	for (int l = 0; l < 2; l++) {
		const json_t *arr = json_object_get(spec, lists[l]);
		const json_t *c;
		size_t i;
		char path[48];
		if (arr && !json_is_array(arr) && !json_is_null(arr))
			return fail(b->err, b->err_len, "spec.%s: not an array", lists[l]);
		json_array_foreach (arr, i, c) {
			unsigned n;
			snprintf(path, sizeof(path), "spec.%s[%zu]", lists[l], i);
			if (!json_is_object(c))
				return fail(b->err, b->err_len, "%s: not an object", path);
			int r = container_cpus(b, c, path, &guaranteed, &n);
			if (r)
				return r;
			if (l == 0)
				sum += n;
			else if (n > init_max)
				init_max = n;
		}
	}
	*out = guaranteed ? (sum > init_max ? sum : init_max) : 0;
	return 0;
}

/* ---- policies ------------------------------------------------------------------------ */

static int policies(struct build *b, const json_t *ann)
{
	struct sched_request *req = &b->r->req;
	const char *p = str_at(ann, SCHED_POD_ANN_POLICY);
	const char *c = str_at(ann, SCHED_POD_ANN_CPU_POLICY);

	req->pmem_policy = b->o->pmem_policy;
	req->cpu_policy = b->o->cpu_policy;
	if (p) {
		if (sched_pmem_policy_parse(p, &req->pmem_policy) < 0)
			return fail(b->err, b->err_len,
				    "annotation %s: \"%.32s\": expected binpack, spread, "
				    "single-numa or first-fit",
				    SCHED_POD_ANN_POLICY, p);
	} else if (b->pmem_policy[0] &&
		   sched_pmem_policy_parse(b->pmem_policy, &req->pmem_policy) < 0) {
		return fail(b->err, b->err_len, "StorageClass of %s: placement \"%s\": unknown",
			    b->policy_from, b->pmem_policy);
	}
	if (c) {
		if (sched_cpu_policy_parse(c, &req->cpu_policy) < 0)
			return fail(b->err, b->err_len,
				    "annotation %s: \"%.32s\": expected shortest-distance or "
				    "single-numa-cpu",
				    SCHED_POD_ANN_CPU_POLICY, c);
	} else if (b->cpu_policy[0] &&
		   sched_cpu_policy_parse(b->cpu_policy, &req->cpu_policy) < 0) {
		return fail(b->err, b->err_len, "StorageClass cpu-placement \"%s\": unknown",
			    b->cpu_policy);
	}
	return 0;
}

/* ---- entry points -------------------------------------------------------------------- */

struct sched_pod_request *sched_pod_request_free(struct sched_pod_request *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_strings; i++)
		free(r->strings[i]);
	free(r->namespace_);
	free(r->name);
	free(r->uid);
	free(r);
	return NULL;
}

bool sched_pod_request_empty(const struct sched_pod_request *r)
{
	return r->req.n_volumes == 0 && r->req.cpus == 0;
}

int sched_pod_request_build(const json_t *pod, const struct sched_pod_opts *opts,
			    struct sched_pod_request **out, char *err, size_t err_len)
{
	static const struct sched_pod_opts defaults = {.pmem_policy = SCHED_PMEM_BINPACK,
						       .cpu_policy = SCHED_CPU_SHORTEST_DISTANCE};
	struct build b = {.o = opts ? opts : &defaults, .err = err, .err_len = err_len};
	const json_t *md = json_object_get(pod, "metadata");
	const json_t *spec = json_object_get(pod, "spec");
	const json_t *ann = json_object_get(md, "annotations");
	int r;

	b.driver = b.o->driver ? b.o->driver : SCHED_POD_DRIVER_DEFAULT;
	if (!json_is_object(pod))
		return fail(err, err_len, "Pod: not an object");
	if (md && !json_is_object(md))
		return fail(err, err_len, "metadata: not an object");
	if (spec && !json_is_object(spec))
		return fail(err, err_len, "spec: not an object");
	if (ann && !json_is_object(ann) && !json_is_null(ann))
		return fail(err, err_len, "metadata.annotations: not an object");

	b.r = calloc(1, sizeof(*b.r));
	if (!b.r)
		return oom(err, err_len);
	b.r->req.volumes = b.r->volumes;
	const char *ns = str_at(md, "namespace");
	const char *name = str_at(md, "name");
	const char *uid = str_at(md, "uid");
	b.r->namespace_ = strdup(ns && *ns ? ns : "default");
	b.r->name = strdup(name ? name : "");
	b.r->uid = strdup(uid ? uid : "");
	if (!b.r->namespace_ || !b.r->name || !b.r->uid) {
		r = oom(err, err_len);
		goto fail;
	}
	if (strlen(b.r->namespace_) >= SCHED_POD_NAME_MAX ||
	    strlen(b.r->uid) >= SCHED_POD_NAME_MAX) {
		r = fail(err, err_len, "metadata: namespace or uid too long");
		goto fail;
	}
	if ((r = spec_volumes(&b, spec)))
		goto fail;
	const json_t *reqs = json_object_get(ann, SCHED_POD_ANN_REQUESTS);
	if (reqs) {
		if (!json_is_string(reqs)) {
			r = fail(err, err_len, "annotation %s: not a string",
				 SCHED_POD_ANN_REQUESTS);
			goto fail;
		}
		if ((r = annotation_volumes(&b, json_string_value(reqs))))
			goto fail;
	}
	if ((r = pod_cpus(&b, spec, &b.r->req.cpus)))
		goto fail;
	if ((r = policies(&b, ann)))
		goto fail;
	*out = b.r;
	return 0;
fail:
	sched_pod_request_free(b.r);
	return r;
}
