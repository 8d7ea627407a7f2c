/* resize-kubelet: volume usage from the kubelet's /stats/summary (per pod, per volume). */
#ifndef PMEMD_RESIZE_KUBELET_H
#define PMEMD_RESIZE_KUBELET_H

#include <stddef.h>

struct resize_sample;
struct resize_target;
struct resize_kubelet;

struct resize_kubelet_opts {
	/* The kubelet's base URL, e.g. https://127.0.0.1:10250 (/stats/summary is appended), or
	 * the API server's node proxy, https://<apiserver>/api/v1/nodes/<node>/proxy. */
	const char *url;
	/* Optional: a bearer token file (re-read when it changes; the kubelet wants a token
	 * allowed nodes/stats) and a CA bundle (the kubelet's serving certificate's). */
	const char *bearer_token_file, *ca_file;
	/* Whole-request timeout; 0 = 5000. */
	unsigned timeout_ms;
};

/* Checks and copies the options. 0 or -EINVAL/-ENOMEM with the reason in err. */
int resize_kubelet_new(const struct resize_kubelet_opts *o, struct resize_kubelet **out, char *err,
		       size_t err_len);

/*
 * One GET of /stats/summary; every pods[].volume[] entry with a pvcRef is matched to the
 * target with that pvc_namespace/pvc_name (targets without a claim get nothing: the summary
 * names volumes by the pod's volume name, not pmemd's). out[i] is filled for every target:
 * valid=false when the summary has no entry for it, or one without usedBytes/capacityBytes
 * or with a time that does not parse. When a claim is mounted in several pods the newest
 * entry wins. taken_ms is the entry's "time" (when the kubelet measured it; it refreshes
 * volume stats every --volume-stats-agg-period, 1 minute by default). Inodes when the entry
 * has inodesUsed and a non-zero inodes.
 *
 * Returns 0, or -errno with the reason in err (every out[i] invalid): the transport errors of
 * resize_http_fetch, -EBADMSG (HTTP status other than 200 — the kubelet's message quoted —,
 * non-JSON body, no pods array).
 */
int resize_kubelet_collect(struct resize_kubelet *k, const struct resize_target *t, size_t n,
			   struct resize_sample *out, char *err, size_t err_len);

/* Accepts NULL, returns NULL. */
struct resize_kubelet *resize_kubelet_free(struct resize_kubelet *k);

#endif
