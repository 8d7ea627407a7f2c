/* pmem-csi: arguments, the pmemd client, the gRPC server, signals. Wiring only. */
#include <errno.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/version.h"
#include "csi/csi-pmemd.h"
#include "csi/csi-server.h"
#include "csi/csi-service.h"
#include "util/log.h"

#define DEFAULT_ENDPOINT     "unix:///run/pmem-csi/csi.sock"
#define DEFAULT_PMEMD_SOCKET "/run/pmemd/pmemd.sock"
#define DEFAULT_WORKERS	     8
/* A publish or a create waits for pmemd's volume work; a minute is far above what either takes. */
#define PMEMD_TIMEOUT_MS 60000

struct options {
	const char *endpoint;
	const char *pmemd_socket;
	const char *pmemd_url;
	const char *driver_name;
	const char *node_id;
	long long max_volumes;
	unsigned workers;
	char hostname[HOST_NAME_MAX + 1];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pmem-csi [OPTIONS]\n"
		"The CSI driver of pmemd: CSI gRPC (Identity, Controller, Node) on a unix socket,\n"
		"each call translated into calls of this node's pmemd REST API.\n\n"
		"      --endpoint unix:///PATH  the CSI socket (default %s)\n"
		"      --pmemd-socket PATH      pmemd's unix socket (default %s)\n"
		"      --pmemd-url URL          pmemd over TCP instead (http://127.0.0.1:8080)\n"
		"      --driver-name NAME       the CSI driver name (default %s)\n"
		"      --node-id ID             this node's id (default: the host name)\n"
		"      --max-volumes N          NodeGetInfo's max_volumes_per_node (default 0: no "
		"limit)\n"
		"      --workers N              calls served at once (default %d, 1..64)\n"
		"      --log-level LEVEL        error|warn|info|debug (default info)\n"
		"  -V, --version                print the version and exit\n"
		"  -h, --help                   print this help and exit\n",
		DEFAULT_ENDPOINT, DEFAULT_PMEMD_SOCKET, CSI_DEFAULT_DRIVER_NAME, DEFAULT_WORKERS);
}

static bool parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Returns -1 to continue, or an exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_ENDPOINT = 256,
		OPT_SOCKET,
		OPT_URL,
		OPT_DRIVER,
		OPT_NODE,
		OPT_MAX,
		OPT_WORKERS,
		OPT_LOG,
	};
	static const struct option longopts[] = {
		{"endpoint", required_argument, NULL, OPT_ENDPOINT},
		{"pmemd-socket", required_argument, NULL, OPT_SOCKET},
		{"pmemd-url", required_argument, NULL, OPT_URL},
		{"driver-name", required_argument, NULL, OPT_DRIVER},
		{"node-id", required_argument, NULL, OPT_NODE},
		{"max-volumes", required_argument, NULL, OPT_MAX},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"log-level", required_argument, NULL, OPT_LOG},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	enum log_level level;
	long long n;
	int c;

	o->endpoint = DEFAULT_ENDPOINT;
	o->driver_name = CSI_DEFAULT_DRIVER_NAME;
	o->workers = DEFAULT_WORKERS;
	while ((c = getopt_long(argc, argv, "Vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ENDPOINT:
			o->endpoint = optarg;
			break;
		case OPT_SOCKET:
			o->pmemd_socket = optarg;
			break;
		case OPT_URL:
			o->pmemd_url = optarg;
			break;
		case OPT_DRIVER:
			o->driver_name = optarg;
			break;
		case OPT_NODE:
			o->node_id = optarg;
			break;
		case OPT_MAX:
			if (!parse_num(optarg, 0, INT64_MAX, &n)) {
				fprintf(stderr, "pmem-csi: --max-volumes: not a count: %.64s\n",
					optarg);
				return 2;
			}
			o->max_volumes = n;
			break;
		case OPT_WORKERS:
			if (!parse_num(optarg, 1, 64, &n)) {
				fprintf(stderr, "pmem-csi: --workers: must be 1..64, got %.64s\n",
					optarg);
				return 2;
			}
			o->workers = (unsigned)n;
			break;
		case OPT_LOG:
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr,
					"pmem-csi: --log-level: must be error, warn, info or "
					"debug, "
					"got %.64s\n",
					optarg);
				return 2;
			}
			log_set_level(level);
			break;
		case 'V':
			printf("pmem-csi %s (%s)\n", PMEMD_VERSION, PMEMD_GIT_COMMIT);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pmem-csi: unexpected argument: %.64s\n", argv[optind]);
		return 2;
	}
	if (o->pmemd_socket && o->pmemd_url) {
		fprintf(stderr, "pmem-csi: --pmemd-socket and --pmemd-url exclude each other\n");
		return 2;
	}
	if (!o->pmemd_socket && !o->pmemd_url)
		o->pmemd_socket = DEFAULT_PMEMD_SOCKET;
	if (!o->node_id) {
		if (gethostname(o->hostname, sizeof(o->hostname) - 1) < 0 || !o->hostname[0]) {
			fprintf(stderr, "pmem-csi: no --node-id and no host name: %s\n",
				strerror(errno));
			return 2;
		}
		o->node_id = o->hostname;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct csi_service svc = {0};
	struct csi_server *srv = NULL;
	const struct csi_method *methods;
	size_t n_methods;
	sigset_t sigs;
	char err[512];
	int ret, sig;

	ret = parse_args(argc, argv, &o);
	if (ret >= 0)
		return ret;
	ret = csi_service_init(&svc, o.driver_name, o.node_id, o.max_volumes, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "pmem-csi: %s\n", err);
		return 2;
	}
	ret = csi_pmemd_new(o.pmemd_socket, o.pmemd_url, PMEMD_TIMEOUT_MS, &svc.pmemd, err,
			    sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "pmem-csi: %s\n", err);
		return 2;
	}

	/* Signals go to sigwait below, never to a gRPC or worker thread. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	grpc_init();
	methods = csi_service_methods(&n_methods);
	ret = csi_server_start(o.endpoint, methods, n_methods, &svc, o.workers, &srv, err,
			       sizeof(err));
	if (ret < 0) {
		log_error("csi_start_failed", "reason=\"%s\"", err);
		grpc_shutdown();
		csi_pmemd_free(svc.pmemd);
		return 1;
	}
	{
		char q1[300], q2[300], q3[300], q4[300];

		log_info("csi_started",
			 "version=%s endpoint=%s driver=%s node=%s pmemd=%s workers=%u",
			 PMEMD_VERSION, log_quote(q1, sizeof(q1), o.endpoint),
			 log_quote(q2, sizeof(q2), o.driver_name),
			 log_quote(q3, sizeof(q3), o.node_id),
			 log_quote(q4, sizeof(q4), o.pmemd_socket ? o.pmemd_socket : o.pmemd_url),
			 o.workers);
	}
	sigwait(&sigs, &sig);
	log_info("csi_stopping", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
	csi_server_stop(srv);
	grpc_shutdown();
	csi_pmemd_free(svc.pmemd);
	log_info("csi_stopped", "%s", "");
	return 0;
}
