/*
 * kube-claims: what the scheduler decided for a PVC, read from the PVC's annotations when a
 * volume is created for it. With the kube source the scheduler role reaches no node directly;
 * at bind it annotates each PVC it placed (pmem.io/node, pmem.io/numa-node, pmem.io/pod-uid;
 * docs/scheduler.md), and the node that creates the volume follows the NUMA node.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "util/names.h"

int kube_claim_numa(const struct config_kube *cfg, const char *root, const char *node_name,
		    const char *claim, int *numa_node, struct kube_status *st)
{
	struct kube_conn conn = {0};
	struct kube_client *c = NULL;
	const char *slash = claim ? strchr(claim, '/') : NULL;
	const char *node, *numa;
	json_t *pvc = NULL, *ann;
	char ns[64], path[512], *end;
	long id;
	int r;

	*numa_node = -1;
	if (!slash || (size_t)(slash - claim) >= sizeof(ns)) {
		snprintf(st->message, sizeof(st->message), "claim %s: expected namespace/name",
			 claim ? claim : "(null)");
		return -EINVAL;
	}
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - claim), claim);
	if (!names_is_dns_subdomain(ns, strlen(ns)) ||
	    !names_is_dns_subdomain(slash + 1, strlen(slash + 1))) {
		snprintf(st->message, sizeof(st->message), "claim %s: not a valid namespace/name",
			 claim);
		return -EINVAL;
	}
	r = kube_conn_resolve(cfg, root, &conn, st);
	if (r < 0)
		return r;
	r = kube_client_new(&conn, &c, st);
	kube_conn_clear(&conn);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/persistentvolumeclaims/%s", ns,
		 slash + 1);
	r = kube_get(c, path, &pvc, st);
	kube_client_free(c);
	if (r < 0)
		return r;
	ann = json_object_get(json_object_get(pvc, "metadata"), "annotations");
	node = json_string_value(json_object_get(ann, "pmem.io/node"));
	numa = json_string_value(json_object_get(ann, "pmem.io/numa-node"));
	/* A decision for another node (the pod moved, or a stale annotation) is not ours. */
	if (node && numa && node_name && strcmp(node, node_name) == 0) {
		errno = 0;
		id = strtol(numa, &end, 10);
		if (!errno && end != numa && !*end && id >= 0 && id < (1 << 20))
			*numa_node = (int)id;
	}
	json_decref(pvc);
	return 0;
}
