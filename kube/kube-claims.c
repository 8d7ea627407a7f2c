/*
 * kube-claims: what the node does for a PVC when a volume is created for it (a CSI
 * CreateVolume names the claim, not the pod), read through the API server.
 *
 * Two sources, in this order:
 *   1. the scheduler role's decision, recorded on the PVC at bind (pmem.io/node,
 *      pmem.io/numa-node; docs/scheduler.md): the node follows the NUMA node;
 *   2. kube-scheduler's own choice of this node. With volumeBindingMode WaitForFirstConsumer
 *      the VolumeBinding plugin sets volume.kubernetes.io/selected-node on the PVC and waits,
 *      in PreBind, for the volume to be provisioned: that is BEFORE the extender's bind verb,
 *      so (1) is not there yet. The node then finds the pending pod that uses the claim and
 *      returns a reservation for that pod's whole PMEM request (every claim of it that has no
 *      volume yet, its exclusive CPUs, its policies), placed by this node's engine. The first
 *      of the pod's volumes to be created makes it; each create by claim consumes its entry,
 *      so a pod with two PVCs gets both on one NUMA node under single-numa, instead of each
 *      volume placed as if it were alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "util/names.h"

/* Splits "namespace/name" into ns (a DNS label) and *name; -EINVAL with st->message. */
static int claim_split(const char *claim, char *ns, size_t ns_len, const char **name,
		       struct kube_status *st)
{
	const char *slash = claim ? strchr(claim, '/') : NULL;

	if (!slash || (size_t)(slash - claim) >= ns_len) {
		snprintf(st->message, sizeof(st->message), "claim %s: expected namespace/name",
			 claim ? claim : "(null)");
		return -EINVAL;
	}
	snprintf(ns, ns_len, "%.*s", (int)(slash - claim), claim);
	if (!names_is_dns_subdomain(ns, strlen(ns)) ||
	    !names_is_dns_subdomain(slash + 1, strlen(slash + 1))) {
		snprintf(st->message, sizeof(st->message), "claim %s: not a valid namespace/name",
			 claim);
		return -EINVAL;
	}
	*name = slash + 1;
	return 0;
}

static const char *annotation(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "annotations"), key));
}

/* The scheduler role's NUMA node for this node on the PVC, or -1. */
static int recorded_numa(const json_t *pvc, const char *node_name)
{
	const char *node = annotation(pvc, "pmem.io/node");
	const char *numa = annotation(pvc, "pmem.io/numa-node");
	char *end;
	long id;

	/* A decision for another node (the pod moved, or a stale annotation) is not ours. */
	if (!node || !numa || !node_name || strcmp(node, node_name) != 0)
		return -1;
	errno = 0;
	id = strtol(numa, &end, 10);
	if (errno || end == numa || *end || id < 0 || id >= (1 << 20))
		return -1;
	return (int)id;
}

/* ---- the pod that waits for the claim ---- */

static bool pod_uses_claim(const json_t *pod, const char *claim_name)
{
	const json_t *vols = json_object_get(json_object_get(pod, "spec"), "volumes"), *v;
	size_t i;

	json_array_foreach (vols, i, v) {
		const char *c = json_string_value(
			json_object_get(json_object_get(v, "persistentVolumeClaim"), "claimName"));

		if (c && strcmp(c, claim_name) == 0)
			return true;
	}
	return false;
}

/*
 * Of the pods in the list, the one kube-scheduler is placing with this claim: not bound to a
 * node yet (or bound to this one), Pending, not being deleted. Several (a claim shared by pods
 * scheduled at once): the oldest, then by name, so every create of the pod's claims picks the
 * same one.
 */
static const json_t *waiting_pod(const json_t *items, const char *claim_name, const char *node)
{
	const json_t *best = NULL, *pod;
	size_t i;

	json_array_foreach (items, i, pod) {
		const json_t *md = json_object_get(pod, "metadata");
		const char *bound = json_string_value(
			json_object_get(json_object_get(pod, "spec"), "nodeName"));
		const char *phase =
			json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
		const char *uid = json_string_value(json_object_get(md, "uid"));

		if (!uid || !*uid || json_object_get(md, "deletionTimestamp"))
			continue;
		if (bound && *bound && (!node || strcmp(bound, node) != 0))
			continue;
		if (phase && strcmp(phase, "Pending") != 0)
			continue;
		if (!pod_uses_claim(pod, claim_name))
			continue;
		if (best) {
			const json_t *bmd = json_object_get(best, "metadata");
			const char *t = json_string_value(json_object_get(md, "creationTimestamp"));
			const char *bt =
				json_string_value(json_object_get(bmd, "creationTimestamp"));
			const char *n = json_string_value(json_object_get(md, "name"));
			const char *bn = json_string_value(json_object_get(bmd, "name"));
			/* RFC 3339 in UTC ("2026-11-26T12:00:00Z") orders as text. */
			int c = strcmp(t ? t : "", bt ? bt : "");

			if (c > 0 || (c == 0 && strcmp(n ? n : "", bn ? bn : "") >= 0))
				continue;
		}
		best = pod;
	}
	return best;
}

/* The PVC resolver sched_pod_request_build() asks for each claim of the pod: direct GETs. */
struct lookup {
	struct kube_client *c;
	const char *driver;
	const char *ns; /* the claim's namespace, and its PVC, already read */
	const char *name;
	const json_t *pvc;
};

static int lookup_pvc(void *ud, const char *ns, const char *claim, struct sched_pvc_info *out,
		      char *err, size_t err_len)
{
	struct lookup *l = ud;
	struct kube_status st = {0};
	json_t *pvc = NULL, *sc = NULL, *pv = NULL;
	const char *scn, *vol, *phase;
	char path[600];
	int r = 0;

	if (strcmp(ns, l->ns) == 0 && strcmp(claim, l->name) == 0) {
		pvc = json_incref((json_t *)l->pvc);
	} else {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s", ns,
			 claim);
		r = kube_get(l->c, path, &pvc, &st);
	}
	if (r < 0) {
		if (r == -ENOENT)
			snprintf(err, err_len, "persistentvolumeclaim %s/%s not found", ns, claim);
		else
			snprintf(err, err_len, "persistentvolumeclaim %s/%s: %s", ns, claim,
				 st.message);
		return r;
	}
	scn = json_string_value(json_object_get(json_object_get(pvc, "spec"), "storageClassName"));
	if (scn && *scn) {
		snprintf(path, sizeof(path), "/apis/storage.k8s.io/v1/storageclasses/%s", scn);
		r = kube_get(l->c, path, &sc, &st);
		if (r == -ENOENT) {
			r = 0; /* a class that is gone provisions nothing of ours */
		} else if (r < 0) {
			snprintf(err, err_len, "storageclass %s: %s", scn, st.message);
			goto out;
		}
	}
	phase = json_string_value(json_object_get(json_object_get(pvc, "status"), "phase"));
	vol = json_string_value(json_object_get(json_object_get(pvc, "spec"), "volumeName"));
	if (phase && strcmp(phase, "Bound") == 0 && vol && *vol) {
		snprintf(path, sizeof(path), "/api/v1/persistentvolumes/%s", vol);
		/* Without its PV a bound claim still counts where the PVC says (or as new). */
		if (kube_get(l->c, path, &pv, &st) < 0)
			pv = NULL;
	}
	r = sched_pvc_info_from_json(pvc, sc, pv, l->driver, out, err, err_len);
out:
	json_decref(pvc);
	json_decref(sc);
	json_decref(pv);
	return r;
}

/* The reservation body for the pod's request: its claims without a volume, CPUs, policies. */
static json_t *reservation_body(const struct sched_pod_request *pr)
{
	json_t *body, *vols = json_array();
	size_t n = 0;

	if (!vols)
		return NULL;
	for (size_t i = 0; i < pr->req.n_volumes; i++) {
		const struct sched_volume *sv = &pr->req.volumes[i];
		bool dup = false;
		json_t *v;

		/* Only claims: inline and annotation volumes are not created through a PVC. A
		 * bound claim already has its volume; a claim named twice counts once. */
		if (!sv->id || strncmp(sv->id, "pvc:", 4) != 0 ||
		    (sv->bound_node && *sv->bound_node))
			continue;
		for (size_t k = 0; k < i && !dup; k++)
			dup = pr->req.volumes[k].id && strcmp(pr->req.volumes[k].id, sv->id) == 0;
		if (dup)
			continue;
		v = json_pack("{s:I, s:s}", "size_bytes", (json_int_t)sv->size, "claim",
			      sv->id + 4);
		if (v && sv->fstype && *sv->fstype)
			json_object_set_new(v, "fstype", json_string(sv->fstype));
		if (!v || json_array_append_new(vols, v) < 0) {
			json_decref(vols);
			return NULL;
		}
		n++;
	}
	if (n == 0) {
		json_decref(vols);
		return NULL;
	}
	body = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "pod_uid", pr->uid, "pod_name", pr->name,
			 "namespace", pr->namespace_, "volumes", vols, "pmem_policy",
			 sched_pmem_policy_name(pr->req.pmem_policy), "cpu_policy",
			 sched_cpu_policy_name(pr->req.cpu_policy));
	if (body && pr->req.cpus)
		json_object_set_new(body, "cpus", json_integer(pr->req.cpus));
	return body;
}

/* Step 2: the pending pod that uses the claim, and the reservation for all of it. */
static int plan_pod(struct kube_client *c, const char *ns, const char *name, const json_t *pvc,
		    const char *node_name, const struct sched_pod_opts *defaults,
		    struct kube_claim_plan *plan, struct kube_status *st)
{
	struct lookup l = {.c = c, .driver = defaults->driver, .ns = ns, .name = name, .pvc = pvc};
	struct sched_pod_opts o = *defaults;
	struct sched_pod_request *pr = NULL;
	const json_t *pod;
	json_t *list = NULL;
	char path[600], err[512];
	int r;

	/* Pods not bound to a node yet: the field selector keeps the list short; the filter
	 * below does not rely on it. */
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?fieldSelector=spec.nodeName%%3D",
		 ns);
	r = kube_get(c, path, &list, st);
	if (r < 0)
		return r;
	pod = waiting_pod(json_object_get(list, "items"), name, node_name);
	if (!pod) {
		json_decref(list);
		return 0;
	}
	snprintf(plan->pod, sizeof(plan->pod), "%s/%s", ns,
		 json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")));
	o.lookup_pvc = lookup_pvc;
	o.lookup_ud = &l;
	r = sched_pod_request_build(pod, &o, &pr, err, sizeof(err));
	json_decref(list);
	if (r < 0) {
		/* The message is bounded: the pod's name and the first part of the reason. */
		snprintf(st->message, sizeof(st->message), "pod %.200s: %.200s", plan->pod, err);
		return r;
	}
	plan->reservation = reservation_body(pr);
	sched_pod_request_free(pr);
	return 0;
}

int kube_claim_plan(const struct config_kube *cfg, const char *root, const char *node_name,
		    const struct sched_pod_opts *defaults, const char *claim,
		    struct kube_claim_plan *plan, struct kube_status *st)
{
	struct kube_conn conn = {0};
	struct kube_client *c = NULL;
	const char *name, *selected;
	json_t *pvc = NULL;
	char ns[64], path[512];
	int r;

	memset(plan, 0, sizeof(*plan));
	plan->numa_node = -1;
	if ((r = claim_split(claim, ns, sizeof(ns), &name, st)) < 0)
		return r;
	r = kube_conn_resolve(cfg, root, &conn, st);
	if (r < 0)
		return r;
	r = kube_client_new(&conn, &c, st);
	kube_conn_clear(&conn);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s", ns, name);
	r = kube_get(c, path, &pvc, st);
	if (r < 0)
		goto out;
	plan->numa_node = recorded_numa(pvc, node_name);
	selected = annotation(pvc, SCHED_POD_ANN_SELECTED);
	if (plan->numa_node < 0 && defaults && node_name && selected &&
	    strcmp(selected, node_name) == 0)
		r = plan_pod(c, ns, name, pvc, node_name, defaults, plan, st);
out:
	json_decref(pvc);
	kube_client_free(c);
	return r;
}

void kube_claim_plan_clear(struct kube_claim_plan *plan)
{
	json_decref(plan->reservation);
	plan->reservation = NULL;
}
