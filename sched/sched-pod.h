/*
 * sched-pod: what a pod asks of pmemd (PMEM volumes, exclusive CPUs, policies), read from the
 * Pod object kube-scheduler sends, as a struct sched_request for the engine (sched.h).
 *
 * Sources of PMEM volumes, in the pod's spec.volumes order, then the annotation:
 *   - PVCs whose StorageClass names pmemd's CSI driver. The pod names only the claim, so the
 *     caller resolves it (a watch cache of PVCs and StorageClasses) through a callback;
 *   - CSI ephemeral inline volumes of that driver (volumeAttributes.size, fsType);
 *   - the annotation pmem.io/requests: a JSON array [{"size":"16Gi","fstype":"xfs"}].
 * Exclusive CPUs: those of a Guaranteed pod with integer CPU requests, as the kubelet's static
 * CPU manager would pin them. Policies: the pod's annotations pmem.io/policy and
 * pmem.io/cpu-policy, else the StorageClass parameters, else the configured defaults.
 */
#ifndef PMEMD_SCHED_POD_H
#define PMEMD_SCHED_POD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/sched.h"

#define SCHED_POD_DRIVER_DEFAULT "pmem.csi.pmemd.io"
#define SCHED_POD_ANN_REQUESTS	 "pmem.io/requests"
#define SCHED_POD_ANN_POLICY	 "pmem.io/policy"
#define SCHED_POD_ANN_CPU_POLICY "pmem.io/cpu-policy"
#define SCHED_POD_ANN_SELECTED	 "volume.kubernetes.io/selected-node"
#define SCHED_POD_PARAM_POLICY	 "placement"	 /* StorageClass parameter; or pmem.io/policy */
#define SCHED_POD_PARAM_CPU	 "cpu-placement" /* StorageClass parameter; or pmem.io/cpu-policy */
#define SCHED_POD_NAME_MAX	 254		 /* a DNS subdomain and its NUL */
#define SCHED_POD_FSTYPE_MAX	 16
#define SCHED_POD_POLICY_MAX	 32

/* What the caller knows about one PVC (and its StorageClass, and its PV when bound). */
struct sched_pvc_info {
	bool ours;     /* the StorageClass's provisioner is pmemd's driver; false: ignored */
	uint64_t size; /* spec.resources.requests.storage, bytes */
	char fstype[SCHED_POD_FSTYPE_MAX]; /* StorageClass csi.storage.k8s.io/fstype or fstype;
					      "": any */
	/* Where the volume already lives; "": nowhere yet (new capacity). See
	 * sched_pvc_info_from_json() for exactly when a PVC counts as bound. */
	char bound_node[SCHED_POD_NAME_MAX];
	int bound_numa; /* kernel NUMA id of the existing volume; -1 unknown */
	/* StorageClass policy parameters, "" when absent (validated by sched_pod_request_build) */
	char pmem_policy[SCHED_POD_POLICY_MAX];
	char cpu_policy[SCHED_POD_POLICY_MAX];
};

/*
 * Resolves the claim `claim` in namespace `ns`: 0 with *out filled; -ENOENT when there is no
 * such PVC (the pod then fails filter everywhere with that reason); any other -errno (the
 * cache is not synced yet: -EAGAIN, ...) with a message in `err`.
 */
typedef int (*sched_pvc_lookup_fn)(void *ud, const char *ns, const char *claim,
				   struct sched_pvc_info *out, char *err, size_t err_len);

/*
 * Fills *out from the API objects, the rule a resolver should use:
 *   - ours: sc is non-NULL and sc.provisioner == driver (NULL: SCHED_POD_DRIVER_DEFAULT);
 *     when not ours nothing else is read;
 *   - size: pvc.spec.resources.requests.storage (a Kubernetes quantity, > 0);
 *   - fstype: sc.parameters["csi.storage.k8s.io/fstype"], else sc.parameters.fstype;
 *   - policies: sc.parameters.placement (or "pmem.io/policy") and
 *     sc.parameters["cpu-placement"] (or "pmem.io/cpu-policy");
 *   - bound_node, only when pvc.status.phase == "Bound" (a Pending PVC with a
 *     selected-node annotation has no volume yet, so it still needs new capacity): the value
 *     of the PV's spec.nodeAffinity.required.nodeSelectorTerms[].matchExpressions[] entry
 *     with key kubernetes.io/hostname, operator In and exactly one value (pv may be NULL),
 *     else the PVC's volume.kubernetes.io/selected-node annotation, else "" (a bound
 *     volume whose node is unknown is counted as new capacity: never overcommits);
 *   - bound_numa: the PV's annotation pmem.io/numa-node when an integer, else -1.
 * 0, or -EINVAL with `err` naming the field ("spec.resources.requests.storage: ...").
 */
int sched_pvc_info_from_json(const json_t *pvc, const json_t *sc, const json_t *pv,
			     const char *driver, struct sched_pvc_info *out, char *err,
			     size_t err_len);

struct sched_pod_opts {
	const char *driver;		    /* CSI driver name; NULL: SCHED_POD_DRIVER_DEFAULT */
	enum sched_pmem_policy pmem_policy; /* defaults, when neither the pod nor a */
	enum sched_cpu_policy cpu_policy;   /* StorageClass says */
	sched_pvc_lookup_fn lookup_pvc;	    /* NULL: a pod with a PVC is an error (-ENOENT) */
	void *lookup_ud;
};

/* A sched_request that owns its storage. */
struct sched_pod_request {
	struct sched_request req; /* req.volumes points at volumes[] */
	struct sched_volume volumes[SCHED_MAX_VOLUMES];
	char *namespace_; /* metadata.namespace ("default" when absent) */
	char *name;	  /* metadata.name */
	char *uid;	  /* metadata.uid ("" when absent) */
	/* private: strings the volumes point at */
	char *strings[SCHED_MAX_VOLUMES * 3];
	size_t n_strings;
};

/*
 * Reads the pod's request. A pod asking no PMEM and no CPUs gets an empty request
 * (req.n_volumes == 0 && req.cpus == 0: pass it untouched with a neutral score).
 * Volume ids: "pvc:<ns>/<claim>", "inline:<pod-uid>/<volume>", "annotation:<pod-uid>/<i>".
 * Returns 0 with *out; -EINVAL with `err` naming the bad field ("annotation
 * pmem.io/requests: [1].size: ..."); -ENOENT when a PVC does not exist ("persistentvolumeclaim
 * default/x not found"); another -errno from the resolver with its message; -ENOMEM.
 * *out untouched on failure.
 */
int sched_pod_request_build(const json_t *pod, const struct sched_pod_opts *opts,
			    struct sched_pod_request **out, char *err, size_t err_len);
/* Accepts NULL, returns NULL. */
struct sched_pod_request *sched_pod_request_free(struct sched_pod_request *r);

/* Whether the request asks nothing of pmemd. */
bool sched_pod_request_empty(const struct sched_pod_request *r);

#endif
