/* pmemd: arguments, config, start and stop of the subsystems, signals, readiness. Wiring only. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "api/api.h"
#include "build/version.h"
#include "config/config.h"
#include "topology/topology.h"
#include "util/log.h"

#define SHUTDOWN_GRACE_MS   5000
#define TOPOLOGY_REFRESH_MS 30000
#define MAX_CLI_LABELS	    64

struct options {
	const char *config_path;
	bool check_config;
	bool json;
	char *labels[MAX_CLI_LABELS + 1];
	size_t n_labels;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pmemd [OPTIONS]\n"
		"Persistent memory as a schedulable, self-resizing node resource.\n\n"
		"  -c, --config PATH       config file (default %s)\n"
		"      --check-config      validate the config, print it and exit\n"
		"      --format yaml|json  output format of --check-config (default yaml)\n"
		"  -l, --node-label K=V    a label of this node (repeatable; overrides the file)\n"
		"  -V, --version           print the version and exit\n"
		"  -h, --help              print this help and exit\n",
		CONFIG_DEFAULT_PATH);
}

/* Returns -1 to continue, or an exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CHECK = 256, OPT_FORMAT };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, OPT_CHECK},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"node-label", required_argument, NULL, 'l'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->config_path = CONFIG_DEFAULT_PATH;
	while ((c = getopt_long(argc, argv, "c:l:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			break;
		case OPT_CHECK:
			o->check_config = true;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0) {
				o->json = true;
			} else if (strcmp(optarg, "yaml") != 0) {
				fprintf(stderr, "pmemd: --format takes yaml or json, not %s\n",
					optarg);
				return 2;
			}
			break;
		case 'l':
			if (o->n_labels >= MAX_CLI_LABELS) {
				fprintf(stderr, "pmemd: at most %d --node-label options\n",
					MAX_CLI_LABELS);
				return 2;
			}
			o->labels[o->n_labels++] = optarg;
			break;
		case 'V':
			printf("pmemd %s (%s)\n", PMEMD_VERSION, PMEMD_GIT_COMMIT);
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
		fprintf(stderr, "pmemd: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

static struct config *load_config(const struct options *o)
{
	struct config *cfg = NULL;
	struct config_errors *errs = NULL;

	if (config_load(o->config_path, o->labels, &cfg, &errs) < 0) {
		config_errors_print(errs, stderr);
		config_errors_free(errs);
		return NULL;
	}
	config_errors_free(errs);
	return cfg;
}

static int check_config(const struct options *o)
{
	struct config *cfg = load_config(o);
	int r = 0;

	if (!cfg)
		return 1;
	if (o->json) {
		json_t *j = config_to_json(cfg);
		r = j ? json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;
		putchar('\n');
		json_decref(j);
	} else {
		r = config_write_yaml(cfg, stdout);
	}
	config_free(cfg);
	return r < 0 ? 1 : 0;
}

/* After every pool pass: the node is ready once its pools have been reconciled once. */
static void on_topology_pass(void *ctx, struct topology_manager *m)
{
	struct api_server *srv = ctx;

	(void)m;
	api_server_set_ready(srv, true);
}

/* SIGHUP: load the file again; apply what applies live, say what needs a restart. */
static void reload(const struct options *o, struct api_server *srv, struct topology_manager *topo,
		   struct config **cfg)
{
	struct config *next = load_config(o);
	char keys[512], err[512];
	int n;

	if (!next) {
		log_error("reload_failed", "config=%s reason=invalid_config kept=previous",
			  o->config_path);
		return;
	}
	n = config_restart_keys(*cfg, next, keys, sizeof(keys));
	if (api_server_set_config(srv, next, err, sizeof(err)) < 0) {
		char q[600];
		log_error("reload_failed", "config=%s reason=%s kept=previous", o->config_path,
			  log_quote(q, sizeof(q), err));
		config_free(next);
		return;
	}
	log_set_level(next->log_level);
	topology_manager_set_config(topo, next);
	config_free(*cfg);
	*cfg = next;
	if (n > 0)
		log_warn("reload_needs_restart", "keys=%s", keys);
	log_info("reloaded", "config=%s", o->config_path);
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct api_server *srv = NULL;
	struct topology_manager *topo = NULL;
	struct config *cfg;
	sigset_t sigs;
	char err[512], q[600];
	int r, sig;

	r = parse_args(argc, argv, &o);
	if (r >= 0)
		return r;
	if (o.check_config)
		return check_config(&o);

	cfg = load_config(&o);
	if (!cfg)
		return 1;
	log_set_level(cfg->log_level);

	/*
	 * Block the signals before any thread starts, so every thread inherits
	 * the mask and only the sigwait loop below ever sees them.
	 */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/*
	 * The API comes up first (health, version, config answer at once); the
	 * pool manager's first pass then makes the node ready.
	 */
	struct api_hooks hooks = {0};
	r = api_server_start(&srv, cfg, &hooks, err, sizeof(err));
	if (r < 0) {
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		config_free(cfg);
		return 1;
	}
	struct topology_manager_opts topts = {
		.ops = &topology_kernel_ops,
		.refresh_ms = TOPOLOGY_REFRESH_MS,
		.on_pass = on_topology_pass,
		.ctx = srv,
	};
	r = topology_manager_new(&topo, cfg, &topts, true, err, sizeof(err));
	if (r < 0) {
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		api_server_stop(srv, 0);
		config_free(cfg);
		return 1;
	}
	api_server_set_services(srv, &(struct api_services){.topology = topo});
	log_info("started", "version=%s node=%s config=%s", PMEMD_VERSION, cfg->node_name,
		 o.config_path);
	sd_notify(0, "READY=1\nSTATUS=serving");

	for (;;) {
		sig = sigwaitinfo(&sigs, NULL);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			log_error("sigwait_failed", "errno=%d", errno);
			break;
		}
		if (sig == SIGHUP) {
			sd_notify(0, "RELOADING=1");
			reload(&o, srv, topo, &cfg);
			sd_notify(0, "READY=1\nSTATUS=serving");
			continue;
		}
		log_info("stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	sd_notify(0, "STOPPING=1");
	api_server_set_ready(srv, false);
	/* The manager's thread reports to the server: stop it before the server goes. */
	topology_manager_stop(topo);
	api_server_stop(srv, SHUTDOWN_GRACE_MS);
	/* After the API: no request can reach the manager any more. */
	topology_manager_free(topo);
	config_free(cfg);
	log_info("stopped", "grace_ms=%d", SHUTDOWN_GRACE_MS);
	return 0;
}
