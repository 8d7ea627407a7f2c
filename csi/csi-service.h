/* csi-service: the CSI Identity, Controller and Node RPCs, each as calls of pmemd's REST API. */
#ifndef PMEMD_CSI_SERVICE_H
#define PMEMD_CSI_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "csi/csi-server.h"

#define CSI_DEFAULT_DRIVER_NAME "pmem.csi.pmemd.io"

struct csi_pmemd;

/* What every handler reads; set up once in main, read-only while serving. */
struct csi_service {
	const char *driver_name;
	const char *node_id;
	int64_t max_volumes;
	struct csi_pmemd *pmemd; /* owned by main */
};

/*
 * Checks and stores the names: the driver name as the CSI spec requires (1..63
 * of [A-Za-z0-9.-], alphanumeric at both ends), the node id non-empty and at
 * most 128 bytes (the spec's limit on strings) and usable as a topology label
 * value. Returns 0 or -EINVAL with the reason in err.
 */
int csi_service_init(struct csi_service *svc, const char *driver_name, const char *node_id,
		     int64_t max_volumes, char *err, size_t err_len);

/* Every method the shim serves, for csi_server_start. */
const struct csi_method *csi_service_methods(size_t *n);

#endif
