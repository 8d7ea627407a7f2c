/* pmemd: arguments, config, start and stop of the subsystems, signals, readiness. Wiring only. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "api/api-extender.h"
#include "api/api.h"
#include "build/version.h"
#include "cluster/cluster.h"
#include "config/config-simulate.h"
#include "config/config.h"
#include "kube/kube.h"
#include "quota/quota-sim.h"
#include "quota/quota-volumes.h"
#include "resize/resize-kubelet.h"
#include "resize/resize-prometheus.h"
#include "resize/resize.h"
#include "topology/topology.h"
#include "util/log.h"
#include "util/names.h"

#define SHUTDOWN_GRACE_MS   5000
#define TOPOLOGY_REFRESH_MS 30000
#define MAX_CLI_LABELS	    64

struct options {
	const char *config_path;
	const char *node_name; /* --node-name or $PMEMD_NODE_NAME; overrides the file */
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
		"  -n, --node-name NAME    this node's name (default: $PMEMD_NODE_NAME, the\n"
		"                          file's node_name, the host name)\n"
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
		{"node-name", required_argument, NULL, 'n'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->config_path = CONFIG_DEFAULT_PATH;
	while ((c = getopt_long(argc, argv, "c:l:n:Vh", longopts, NULL)) != -1) {
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
		case 'n':
			o->node_name = optarg;
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
	if (!o->node_name)
		o->node_name = getenv("PMEMD_NODE_NAME");
	if (o->node_name && !names_is_dns_subdomain(o->node_name, strlen(o->node_name))) {
		fprintf(stderr,
			"pmemd: node name \"%.80s\" is not a Kubernetes node name (lowercase "
			"letters, digits, '-' and '.', at most 253)\n",
			o->node_name);
		return 2;
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
	if (o->node_name) {
		char *n = strdup(o->node_name);
		if (!n) {
			config_free(cfg);
			return NULL;
		}
		free(cfg->node_name);
		cfg->node_name = n;
	}
	return cfg;
}

/*
 * A simulated node (simulate:): its record in the cluster description, as the pool manager's
 * input. Every error goes to stderr with its position, as config errors do; NULL then.
 */
static struct topology_sim *load_simulated_node(const struct config *cfg)
{
	const char *node = cfg->simulate.node ? cfg->simulate.node : cfg->node_name;
	struct config_errors *errs = NULL;
	struct topology_sim *sim = NULL;
	json_t *rec = NULL;
	char err[512];

	if (config_simulate_node_load(cfg->simulate.file, node, &rec, &errs) < 0) {
		config_errors_print(errs, stderr);
		config_errors_free(errs);
		return NULL;
	}
	config_errors_free(errs);
	if (topology_sim_from_record(rec, &sim, err, sizeof(err)) < 0)
		fprintf(stderr, "%s: node %s: %s\n", cfg->simulate.file, node, err);
	json_decref(rec);
	return sim;
}

static int check_config(const struct options *o)
{
	struct config *cfg = load_config(o);
	int r = 0;

	if (!cfg)
		return 1;
	if (cfg->role == CONFIG_ROLE_SCHEDULER && cfg->scheduler.simulate) {
		/* The cluster description is part of what a scheduler needs to start. */
		struct config_errors *errs = NULL;
		json_t *nodes = NULL;
		if (config_simulate_load(cfg->scheduler.simulate, &nodes, &errs) < 0) {
			config_errors_print(errs, stderr);
			config_errors_free(errs);
			config_free(cfg);
			return 1;
		}
		config_errors_free(errs);
		json_decref(nodes);
	}
	if (cfg->role == CONFIG_ROLE_NODE && cfg->simulate.file) {
		/* So is a simulated node's description, and its node in it. */
		struct topology_sim *sim = load_simulated_node(cfg);
		if (!sim) {
			config_free(cfg);
			return 1;
		}
		topology_sim_free(sim);
	}
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

/* What the subsystems share at run time; owned by main. */
struct app {
	struct api_server *srv;
	struct topology_manager *topo;
	pthread_mutex_t pub_lock; /* the publisher is replaced on reload */
	struct kube_publisher *pub;
	/* Set (atomically) once it exists; the manager's passes may come before. */
	struct quota_volumes *vols;
	/* Set (atomically) at the end of the pool manager's first pass with the volume service. */
	bool pools_settled;
	/* Set (atomically) once the API has the node's services: before that, volume routes
	 * answer 503, so /readyz must not say 200. */
	bool serving;
};

/* The pools volumes can live in: ready fsdax pools with a filesystem, those pending, and those
 * in error (their volumes are unreadable, not gone). */
static int volume_pools(void *ctx, struct quota_pool_info **out, size_t *n)
{
	struct app *app = ctx;
	struct pool_status *st = NULL;
	struct quota_pool_info *v;
	size_t n_st = 0, k = 0;

	if (topology_manager_pools(app->topo, &st, &n_st) < 0)
		return -ENOMEM;
	v = calloc(n_st + 1, sizeof(*v));
	if (!v) {
		free(st);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_st; i++) {
		if (st[i].type != CONFIG_POOL_PMEM)
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", st[i].name);
		snprintf(v[k].id, sizeof(v[k].id), "%s", st[i].id);
		/* Not decided yet: its volumes are unknown, not absent (503, not 404). */
		v[k].pending = st[i].state == POOL_PENDING;
		v[k].failed = st[i].state == POOL_ERROR;
		v[k].numa_node = st[i].numa_node;
		v[k].fstype = st[i].fstype;
		v[k].allocatable_bytes = st[i].allocatable_bytes;
		k++;
	}
	free(st);
	*out = v;
	*n = k;
	return 0;
}

static void volume_allocated(void *ctx, const char *pool, uint64_t bytes)
{
	struct app *app = ctx;

	topology_manager_set_allocated(app->topo, pool, bytes);
}

static void volume_reserved(void *ctx, const char *pool, uint64_t bytes)
{
	struct app *app = ctx;

	topology_manager_set_reserved(app->topo, pool, bytes);
}

static void volume_reserved_cpus(void *ctx, const int *numa_ids, const unsigned *cpus, size_t n)
{
	struct app *app = ctx;

	topology_manager_set_reserved_cpus(app->topo, numa_ids, cpus, n);
}

/* NUMA nodes, CPUs and distances for placing reservations. */
static json_t *volume_node_record(void *ctx)
{
	struct app *app = ctx;

	return topology_manager_node_json(app->topo, NULL);
}

/* After every pool pass: the node is ready once its pools have been reconciled once,
 * and the node record goes to the API server (the publisher coalesces). */
static void on_topology_pass(void *ctx, struct topology_manager *m)
{
	struct app *app = ctx;
	struct quota_volumes *vols = __atomic_load_n(&app->vols, __ATOMIC_ACQUIRE);
	json_t *rec;

	/* Pools that became ready are scanned before the node says it is ready. */
	if (vols)
		quota_volumes_sync(vols);
	if (vols)
		__atomic_store_n(&app->pools_settled, true, __ATOMIC_RELEASE);
	/* Ready once the API serves the volumes too; main() does it if that comes later. */
	if (vols && __atomic_load_n(&app->serving, __ATOMIC_ACQUIRE))
		api_server_set_ready(app->srv, true);
	pthread_mutex_lock(&app->pub_lock);
	if (app->pub) {
		rec = topology_manager_node_json(m, NULL);
		if (rec)
			kube_publisher_update(app->pub, rec);
		json_decref(rec);
	}
	pthread_mutex_unlock(&app->pub_lock);
}

/* Starts publishing the node record as a PmemNode, when Kubernetes is configured or found. */
static void publisher_start(struct app *app, const struct config *cfg)
{
	struct kube_status st = {0};
	struct kube_publisher *p = NULL;
	json_t *labels = json_pack("{s:s}", "app.kubernetes.io/managed-by", "pmemd");
	struct kube_publisher_opts opts = {.labels = labels};
	char q[600];
	int r = kube_publisher_start(&p, &cfg->kube, cfg->node_name, &opts, &st);

	json_decref(labels);
	if (r == -ENODEV)
		log_info("kube_publishing_off", "reason=%s", log_quote(q, sizeof(q), st.message));
	else if (r < 0)
		log_error("kube_publishing_failed", "reason=%s",
			  log_quote(q, sizeof(q), st.message));
	else
		log_info("kube_publishing", "node=%s", cfg->node_name);
	pthread_mutex_lock(&app->pub_lock);
	app->pub = p;
	pthread_mutex_unlock(&app->pub_lock);
}

static void publisher_stop(struct app *app)
{
	struct kube_publisher *p;

	pthread_mutex_lock(&app->pub_lock);
	p = app->pub;
	app->pub = NULL;
	pthread_mutex_unlock(&app->pub_lock);
	kube_publisher_stop(p);
}

/*
 * Waits for the pool manager's first pass over the volume service (namespaces made, mkfs run,
 * pools mounted and scanned, or marked failed), so that READY=1 tells systemd, and the units
 * ordered after pmemd (the kubelet), that the pools are what they will be. A pool that
 * fails does not hold the start: the others serve, the failed one is retried every pass and
 * reported in /v1/pools and the log. Returns 0 when settled, or SIGTERM/SIGINT if one came
 * first; SIGHUP stays pending for the main loop.
 */
static int wait_pools(struct app *app)
{
	const struct timespec tick = {.tv_nsec = 100 * 1000000L};
	struct pool_status *st = NULL;
	size_t n = 0, ready = 0, failed = 0;
	sigset_t stop;
	int sig;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sd_notify(0, "STATUS=waiting for the first pass over the pools");
	while (!__atomic_load_n(&app->pools_settled, __ATOMIC_ACQUIRE)) {
		sig = sigtimedwait(&stop, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			return sig;
	}
	if (topology_manager_pools(app->topo, &st, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (st[i].state == POOL_READY)
				ready++;
			else
				failed++;
		}
	}
	free(st);
	log_info("pools_settled", "pools=%zu ready=%zu not_ready=%zu", n, ready, failed);
	return 0;
}

/* SIGHUP: load the file again; apply what applies live, say what needs a restart. */
static void reload(const struct options *o, struct app *app, struct config **cfg)
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
	if (api_server_set_config(app->srv, next, err, sizeof(err)) < 0) {
		char q[600];
		log_error("reload_failed", "config=%s reason=%s kept=previous", o->config_path,
			  log_quote(q, sizeof(q), err));
		config_free(next);
		return;
	}
	log_set_level(next->log_level);
	if (!config_kube_equal(&(*cfg)->kube, &next->kube) ||
	    strcmp((*cfg)->node_name, next->node_name) != 0) {
		publisher_stop(app);
		publisher_start(app, next);
	}
	topology_manager_set_config(app->topo, next);
	config_free(*cfg);
	*cfg = next;
	if (n > 0)
		log_warn("reload_needs_restart", "keys=%s", keys);
	log_info("reloaded", "config=%s", o->config_path);
}

/*
 * The auto resizer: its policies (the config's defaults and <state_dir>/resize-policies.json)
 * and the monitor thread over the volume service. Taken at start only (resize is a restart
 * key). 0, or -errno with the reason.
 */
static int resizer_start(const struct config *cfg, struct quota_volumes *vols,
			 struct resize_policies **pol, struct resize_monitor **mon, char *err,
			 size_t err_len)
{
	const struct config_resize_prometheus *cp = &cfg->resize.prometheus;
	struct resize_prom_opts prom = {
		.url = cp->url,
		.query_used = cp->query_used,
		.query_capacity = cp->query_capacity,
		.preset = cp->preset ? RESIZE_PROM_PMEMD : RESIZE_PROM_KUBELET,
		.bearer_token_file = cp->bearer_token_file,
		.ca_file = cp->ca_file,
		.timeout_ms = (unsigned)cp->timeout_ms,
	};
	const struct config_resize_kubelet *ck = &cfg->resize.kubelet;
	struct resize_kubelet_opts kubelet = {
		.url = ck->url,
		.bearer_token_file = ck->bearer_token_file,
		.ca_file = ck->ca_file,
		.timeout_ms = (unsigned)ck->timeout_ms,
	};
	struct resize_monitor_opts mo = {
		.volumes = vols,
		.source = (enum resize_source)cfg->resize.source,
		.interval_ms = cfg->resize.interval_ms,
		.prom = &prom,
		.kubelet = &kubelet,
	};
	int r;

	r = resize_policies_new(cfg->state_dir, cfg->resize.policies, pol, err, err_len);
	if (r < 0)
		return r;
	mo.policies = *pol;
	r = resize_monitor_new(&mo, mon, err, err_len);
	if (r == 0)
		r = resize_monitor_start(*mon, err, err_len);
	if (r < 0) {
		*mon = resize_monitor_free(*mon);
		*pol = resize_policies_free(*pol);
	}
	return r;
}

/* SIGHUP in role scheduler: the same rules, minus the node's services. */
static void scheduler_reload(const struct options *o, struct app *app, struct config **cfg,
			     struct cluster *cl)
{
	struct config *next = load_config(o);
	char keys[512], err[512], q[600];
	int n;

	if (!next) {
		log_error("reload_failed", "config=%s reason=invalid_config kept=previous",
			  o->config_path);
		return;
	}
	if (next->role != CONFIG_ROLE_SCHEDULER) {
		log_error("reload_failed", "config=%s reason=role_changed kept=previous",
			  o->config_path);
		config_free(next);
		return;
	}
	n = config_restart_keys(*cfg, next, keys, sizeof(keys));
	if (api_server_set_config(app->srv, next, err, sizeof(err)) < 0) {
		log_error("reload_failed", "config=%s reason=%s kept=previous", o->config_path,
			  log_quote(q, sizeof(q), err));
		config_free(next);
		return;
	}
	log_set_level(next->log_level);
	cluster_set_placement(cl, &next->placement);
	config_free(*cfg);
	*cfg = next;
	if (n > 0)
		log_warn("reload_needs_restart", "keys=%s", keys);
	log_info("reloaded", "config=%s", o->config_path);
}

/*
 * Role scheduler: no pools, volumes or publisher; the cluster view and the extender's
 * routes (under scheduler.url_prefix, so built here) instead.
 */
static int scheduler_main(const struct options *o, struct app *app, struct config *cfg,
			  sigset_t *sigs)
{
	struct api_extender_routes *routes = NULL;
	struct cluster *cl = NULL;
	struct api_hooks hooks = {0};
	char err[4096], q[4200];
	int r, sig;

	r = api_extender_routes_new(cfg->scheduler.url_prefix, &routes);
	if (r < 0) {
		log_error("start_failed", "reason=\"cannot build the extender routes\" errno=%d",
			  -r);
		config_free(cfg);
		return 1;
	}
	hooks.routes = api_extender_routes_list(routes, &hooks.n_routes);
	r = cluster_new(&(struct cluster_opts){.cfg = cfg}, &cl, err, sizeof(err));
	if (r < 0) {
		/* A broken simulate file: every error, one per line, as --check-config does. */
		fprintf(stderr, "%s\n", err);
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		api_extender_routes_free(routes);
		config_free(cfg);
		return 1;
	}
	r = api_server_start(&app->srv, cfg, &hooks, err, sizeof(err));
	if (r < 0) {
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		cluster_free(cl);
		api_extender_routes_free(routes);
		config_free(cfg);
		return 1;
	}
	api_server_set_services(app->srv, &(struct api_services){.cluster = cl});
	r = cluster_start(cl, err, sizeof(err));
	if (r < 0) {
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		api_server_stop(app->srv, 0);
		cluster_free(cl);
		api_extender_routes_free(routes);
		config_free(cfg);
		return 1;
	}
	api_server_set_ready(app->srv, true);
	log_info("started", "version=%s role=scheduler source=%s kube=%s prefix=%s config=%s",
		 PMEMD_VERSION, cluster_source_name(cluster_get_source(cl)),
		 cluster_has_kube(cl) ? "yes" : "no", cfg->scheduler.url_prefix, o->config_path);
	sd_notify(0, "READY=1\nSTATUS=serving");
	for (;;) {
		sig = sigwaitinfo(sigs, NULL);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			log_error("sigwait_failed", "errno=%d", errno);
			break;
		}
		if (sig == SIGHUP) {
			sd_notify(0, "RELOADING=1");
			scheduler_reload(o, app, &cfg, cl);
			sd_notify(0, "READY=1\nSTATUS=serving");
			continue;
		}
		log_info("stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	sd_notify(0, "STOPPING=1");
	api_server_set_ready(app->srv, false);
	api_server_stop(app->srv, SHUTDOWN_GRACE_MS);
	/* After the API: no request can reach the view any more. */
	cluster_free(cl);
	api_extender_routes_free(routes);
	config_free(cfg);
	log_info("stopped", "grace_ms=%d", SHUTDOWN_GRACE_MS);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct app app = {.pub_lock = PTHREAD_MUTEX_INITIALIZER};
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
	if (cfg->role == CONFIG_ROLE_SCHEDULER)
		return scheduler_main(&o, &app, cfg, &sigs);

	/*
	 * A simulated node takes its NUMA nodes and pools from the description and never touches
	 * the hardware: the pool manager makes no kernel call and volumes are records in memory.
	 */
	struct topology_sim *sim = NULL;
	if (cfg->simulate.file) {
		sim = load_simulated_node(cfg);
		if (!sim) {
			log_error("start_failed", "reason=\"invalid simulate file\" file=%s",
				  cfg->simulate.file);
			config_free(cfg);
			return 1;
		}
	}
	bool simulated = sim != NULL;

	/*
	 * The API comes up first (health, version, config answer at once); the
	 * pool manager's first pass then makes the node ready.
	 */
	struct api_hooks hooks = {0};
	r = api_server_start(&app.srv, cfg, &hooks, err, sizeof(err));
	if (r < 0) {
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		topology_sim_free(sim);
		config_free(cfg);
		return 1;
	}
	struct topology_manager_opts topts = {
		.ops = simulated ? NULL : &topology_kernel_ops,
		.refresh_ms = TOPOLOGY_REFRESH_MS,
		.on_pass = on_topology_pass,
		.ctx = &app,
		.sim = sim, /* the manager's from here on */
	};
	publisher_start(&app, cfg);
	r = topology_manager_new(&app.topo, cfg, &topts, true, err, sizeof(err));
	if (r < 0) {
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		publisher_stop(&app);
		api_server_stop(app.srv, 0);
		config_free(cfg);
		return 1;
	}
	/*
	 * The volume service after the pool manager: it learns ready pools from
	 * it (and scans each when it first appears) and reports allocated bytes
	 * back. volumes: is taken here only (the service copies the roots); a
	 * change to it on SIGHUP is reported by config_restart_keys.
	 */
	struct quota_volumes *vols = NULL;
	struct quota_volumes_opts vopts = {
		.ops = simulated ? &quota_sim_ops : &quota_kernel_ops,
		.overcommit_ratio = cfg->volumes.overcommit_ratio,
		.publish_roots = (const char *const *)cfg->volumes.publish_roots,
		.max_size_bytes = cfg->volumes.max_volume_size_bytes,
		.pools = volume_pools,
		.allocated = volume_allocated,
		.ctx = &app,
		.state_dir = cfg->state_dir,
		.reservation_ttl_ms = cfg->placement.reservation_ttl_ms,
		.pmem_policy = cfg->placement.pmem_policy,
		.cpu_policy = cfg->placement.cpu_policy,
		.node_record = volume_node_record,
		.reserved = volume_reserved,
		.reserved_cpus = volume_reserved_cpus,
	};
	r = quota_volumes_new(&vopts, &vols, err, sizeof(err));
	if (r < 0) {
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		topology_manager_stop(app.topo);
		publisher_stop(&app);
		api_server_stop(app.srv, 0);
		topology_manager_free(app.topo);
		config_free(cfg);
		return 1;
	}
	__atomic_store_n(&app.vols, vols, __ATOMIC_RELEASE);
	/*
	 * A first pass that ended before the service existed did not scan its pools: the sync
	 * below does, so it settles the start. A pass that ends after this check (both take the
	 * manager's lock) sees the service, scans and sets the flag itself.
	 */
	bool settled = topology_manager_settled(app.topo);
	quota_volumes_sync(vols);
	if (settled)
		__atomic_store_n(&app.pools_settled, true, __ATOMIC_RELEASE);
	struct resize_policies *rpol = NULL;
	struct resize_monitor *rmon = NULL;
	r = resizer_start(cfg, vols, &rpol, &rmon, err, sizeof(err));
	if (r < 0) {
		log_error("start_failed", "reason=%s", log_quote(q, sizeof(q), err));
		topology_manager_stop(app.topo);
		publisher_stop(&app);
		api_server_stop(app.srv, 0);
		quota_volumes_free(vols);
		topology_manager_free(app.topo);
		config_free(cfg);
		return 1;
	}
	api_server_set_services(app.srv, &(struct api_services){.topology = app.topo,
								.volumes = vols,
								.resize_policies = rpol,
								.resize = rmon});
	__atomic_store_n(&app.serving, true, __ATOMIC_RELEASE);
	if (__atomic_load_n(&app.pools_settled, __ATOMIC_ACQUIRE))
		api_server_set_ready(app.srv, true);
	if (simulated)
		log_info("started", "version=%s node=%s config=%s simulated=%s", PMEMD_VERSION,
			 cfg->node_name, o.config_path, cfg->simulate.file);
	else
		log_info("started", "version=%s node=%s config=%s", PMEMD_VERSION, cfg->node_name,
			 o.config_path);
	bool stop = false;
	sig = wait_pools(&app);
	if (sig == 0) {
		sd_notify(0, "READY=1\nSTATUS=serving");
	} else {
		log_info("stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		stop = true;
	}

	while (!stop) {
		sig = sigwaitinfo(&sigs, NULL);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			log_error("sigwait_failed", "errno=%d", errno);
			break;
		}
		if (sig == SIGHUP) {
			sd_notify(0, "RELOADING=1");
			reload(&o, &app, &cfg);
			sd_notify(0, "READY=1\nSTATUS=serving");
			continue;
		}
		log_info("stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	sd_notify(0, "STOPPING=1");
	api_server_set_ready(app.srv, false);
	/* The manager's thread reports to the server: stop it before the server goes. */
	topology_manager_stop(app.topo);
	api_server_stop(app.srv, SHUTDOWN_GRACE_MS);
	/* After the API: no request can reach the services any more. The resizer uses the
	 * volume service: it stops first. */
	resize_monitor_free(rmon);
	resize_policies_free(rpol);
	quota_volumes_free(vols);
	if (simulated)
		quota_sim_clear();
	topology_manager_free(app.topo);
	publisher_stop(&app);
	config_free(cfg);
	log_info("stopped", "grace_ms=%d", SHUTDOWN_GRACE_MS);
	return 0;
}
