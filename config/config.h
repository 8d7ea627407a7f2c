/* config: the YAML file (libyaml) turned into validated structs, with defaults and positioned
 * errors. */
#ifndef PMEMD_CONFIG_H
#define PMEMD_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/log.h"

#define CONFIG_DEFAULT_PATH	  "/etc/pmemd/pmemd.yaml"
#define CONFIG_DEFAULT_SOCKET	  "/run/pmemd/pmemd.sock"
#define CONFIG_DEFAULT_TCP_HOST	  "127.0.0.1"
#define CONFIG_DEFAULT_TCP_PORT	  8080
#define CONFIG_DEFAULT_MAX_BODY	  (1024 * 1024)
#define CONFIG_DEFAULT_MAX_CONN	  1024
#define CONFIG_DEFAULT_PER_CLIENT 64
#define CONFIG_DEFAULT_TIMEOUT_MS 30000

#define CONFIG_DEFAULT_KUBE_INTERVAL_MS 1000
#define CONFIG_DEFAULT_HEARTBEAT_MS	10000

#define CONFIG_DEFAULT_OVERCOMMIT_RATIO 1.0
#define CONFIG_DEFAULT_PUBLISH_ROOT	"/var/lib/kubelet"
#define CONFIG_MAX_OVERCOMMIT_RATIO	100
#define CONFIG_MAX_PUBLISH_ROOTS	16

#define CONFIG_DEFAULT_STATE_DIR	  "/var/lib/pmemd"
#define CONFIG_DEFAULT_CPU_MANAGER_STATE  "/var/lib/kubelet/cpu_manager_state"
#define CONFIG_DEFAULT_DRIVER		  "pmem.csi.pmemd.io"
#define CONFIG_DEFAULT_RESERVATION_TTL_MS (5 * 60 * 1000)
#define CONFIG_DEFAULT_URL_PREFIX	  "/scheduler"
#define CONFIG_DEFAULT_POLL_INTERVAL_MS	  2000
#define CONFIG_DEFAULT_MAX_RECORD_AGE_MS  60000
#define CONFIG_MAX_AGENTS		  10000

/* A position in the config file, 1-based, for error messages. */
struct config_pos {
	unsigned line;
	unsigned col;
};

/* One error: "file:line:col: message". */
struct config_error {
	struct config_pos pos;
	char *message;
	char *file; /* when not errs->file: "<command line>" for --node-label; else NULL */
};

/* Every error found in one parse, in file order. */
struct config_errors {
	char *file;
	struct config_error *items;
	size_t count;
};

enum config_listen_kind {
	CONFIG_LISTEN_TCP,
	CONFIG_LISTEN_UNIX,
};

/* Per-TCP-endpoint authentication. All paths; the secrets stay in the files. */
struct config_auth {
	char *token_file; /* bearer token file, or NULL */
	char *tls_cert;	  /* PEM certificate chain, or NULL */
	char *tls_key;	  /* PEM private key, or NULL */
	char *client_ca;  /* PEM CA bundle for mTLS, or NULL */
};

struct config_listen {
	enum config_listen_kind kind;
	/* tcp */
	char *host; /* literal address: "127.0.0.1", "::1", "0.0.0.0", "::" */
	uint16_t port;
	struct config_auth auth;
	/* unix */
	char *path;
	mode_t mode;
	char *owner; /* user name or numeric id; NULL = the running user */
	char *group; /* group name or numeric id; NULL = the running group */
	struct config_pos pos;
};

struct config_limits {
	uint64_t max_body_bytes;
	unsigned max_connections;
	unsigned per_client_connections;
	uint64_t request_timeout_ms;
};

enum config_match_op {
	CONFIG_OP_IN,
	CONFIG_OP_NOT_IN,
	CONFIG_OP_EXISTS,
	CONFIG_OP_DOES_NOT_EXIST,
};

enum config_pool_type {
	CONFIG_POOL_PMEM, /* fsdax namespace + filesystem */
	CONFIG_POOL_KMEM, /* devdax namespace onlined as system RAM (memory mode) */
};

enum config_fstype {
	CONFIG_FS_EXT4,
	CONFIG_FS_XFS,
};

/* A pool, in the seed talk's "node resource topology" format. */
struct config_pool {
	char *name; /* the mount path, absolute and normalised */
	char *key;  /* node label key for matching; NULL = every node */
	enum config_match_op op;
	char **values; /* NULL-terminated; `value:` becomes a one-element list */
	size_t n_values;
	enum config_pool_type type;
	char *options; /* extra mount options, comma-separated, as written */
	enum config_fstype fstype;
	char **regions; /* NULL-terminated region device names ("region0") */
	size_t n_regions;
	uint64_t reserve_bytes; /* kept back from allocatable capacity (filesystem overhead,
				   headroom) */
	bool reformat; /* may replace a foreign filesystem or namespace mode; never with volumes */
	struct config_pos pos;
};

/* kube.enabled: "auto" publishes only when running in a pod (service-account files and
 * KUBERNETES_SERVICE_HOST/_PORT present) or when kube.api_url is set. */
enum config_kube_enabled {
	CONFIG_KUBE_AUTO,
	CONFIG_KUBE_ON,
	CONFIG_KUBE_OFF,
};

/* kube: publishing this node's record to the Kubernetes API. Paths only; secrets stay in
 * their files (the token is re-read on every request, since service-account tokens rotate). */
struct config_kube {
	enum config_kube_enabled enabled;
	char *api_url; /* https://host[:port][/prefix]; http only to loopback; NULL: in-cluster */
	char *token_file;  /* bearer token file; only with api_url */
	char *ca_file;	   /* PEM CA bundle for the API server; only with api_url */
	char *client_cert; /* PEM client certificate; with client_key, only with api_url */
	char *client_key;
	uint64_t publish_interval_ms; /* at most one status write per interval; >= 1s */
	/* An unchanged record is written again (with a new `heartbeat`) this often, so a
	 * scheduler watching the objects can tell a live node from a dead one. */
	uint64_t heartbeat_interval_ms;
};

/* volumes: the volume service. Every key needs a restart (the service takes them at start). */
struct config_volumes {
	double overcommit_ratio; /* > 0, <= 100, at most 6 decimals; capacity = allocatable × it */
	char **publish_roots;	 /* NULL-terminated, 1..16 absolute normalised paths */
	size_t n_publish_roots;
	uint64_t max_volume_size_bytes; /* largest size_bytes a request may ask for; 0 = no cap */
};

struct config_label {
	char *key;
	char *value;
};

/* role: what this pmemd is. One binary; the role picks which services start. */
enum config_role {
	CONFIG_ROLE_NODE,      /* owns this node's PMEM: pools, volumes, reservations */
	CONFIG_ROLE_SCHEDULER, /* the cluster view and the kube-scheduler extender */
};

/* placement: the policy defaults of both roles (values are enum sched_*_policy). */
struct config_placement {
	unsigned pmem_policy;	     /* enum sched_pmem_policy; default binpack */
	unsigned cpu_policy;	     /* enum sched_cpu_policy; default shortest-distance */
	uint64_t reservation_ttl_ms; /* a reservation without ttl lives this long; 1s..24h */
	char *cpu_manager_state;     /* the kubelet's checkpoint; absent file = no exclusive CPUs */
	char *driver; /* the CSI driver name StorageClasses and inline volumes name */
};

/* scheduler.agents[]: a node agent the scheduler role polls (GET /v1/node). */
struct config_agent {
	char *url;	  /* http(s)://host:port of the node's pmemd; http only to loopback */
	char *token_file; /* bearer token for it, or NULL */
	char *ca_file;	  /* PEM CA for https, or NULL: the system CAs */
};

/*
 * scheduler: role scheduler only. The cluster view comes from exactly one source: a
 * `simulate` file (capacity planning, tests, benchmarks), else `agents` polled over REST,
 * else the PmemNode custom resources through the Kubernetes API (kube:).
 */
struct config_scheduler {
	char *url_prefix; /* extender verbs at <prefix>/filter, /prioritize, /bind */
	char *simulate;	  /* absolute path of a cluster description (docs/scheduler.md) */
	struct config_agent *agents;
	size_t n_agents;
	uint64_t poll_interval_ms;  /* agents: how often each is asked; 100ms..1h */
	uint64_t max_record_age_ms; /* a record older than this fails filter; 1s..24h */
};

/*
 * simulate: role node only. A simulated node takes its NUMA nodes, CPUs, distances and pools
 * from a cluster description (the format of scheduler.simulate, docs/scheduler.md) instead of
 * the hardware: no discovery, no namespaces, no mounts. For capacity planning and scheduler
 * set-ups without PMEM; its record says "simulated": true. Needs a restart to change.
 */
struct config_node_simulate {
	char *file; /* absolute path of the cluster description; NULL: a real node */
	char *node; /* which of its nodes this pmemd is; NULL: node_name */
};

/* resize.source: where the auto resizer reads a volume's usage. */
enum config_resize_source {
	CONFIG_RESIZE_LOCAL,	  /* the volume's own quota usage (default) */
	CONFIG_RESIZE_PROMETHEUS, /* an instant query to Prometheus */
	CONFIG_RESIZE_KUBELET,	  /* the kubelet's /stats/summary */
};

#define CONFIG_DEFAULT_RESIZE_INTERVAL_MS 2000
#define CONFIG_DEFAULT_PROM_TIMEOUT_MS	  5000

/* resize.prometheus: the Prometheus source. Paths only; the token stays in its file. */
struct config_resize_prometheus {
	char *url;	      /* http(s)://host:port[/prefix] of Prometheus */
	unsigned preset;      /* 0 kubelet_volume_stats_*, 1 pmemd's pmem_volume_* */
	char *query_used;     /* NULL: the preset's */
	char *query_capacity; /* NULL: the preset's */
	char *bearer_token_file;
	char *ca_file;
	uint64_t timeout_ms;
};

/* resize.kubelet: the kubelet source (its /stats/summary). */
struct config_resize_kubelet {
	char *url; /* https://host:10250, or the API server's node proxy */
	char *bearer_token_file;
	char *ca_file;
	uint64_t timeout_ms;
};

/* resize: the auto resizer (docs/resize.md). Every key needs a restart. */
struct config_resize {
	enum config_resize_source source;
	uint64_t interval_ms; /* between two passes; 100ms..1h */
	struct config_resize_prometheus prometheus;
	struct config_resize_kubelet kubelet;
	/* Default policies: a JSON array of policy objects as POST /v1/resize-policies takes
	 * them, each already validated; NULL when none. Read-only over REST. */
	json_t *policies;
};

struct config {
	char *source; /* the file it came from */
	char *node_name;
	enum log_level log_level;
	unsigned threads; /* HTTP worker threads; 0 in the file means "number of cores" */
	struct config_listen *listen;
	size_t n_listen;
	struct config_limits limits;
	struct config_label *labels;
	size_t n_labels;
	struct config_pool *pools;
	size_t n_pools;
	struct config_kube kube;
	struct config_volumes volumes;
	enum config_role role;
	char *state_dir; /* what is not in the filesystem of the pools: reservations, policies */
	struct config_placement placement;
	struct config_scheduler scheduler;
	struct config_node_simulate simulate;
	struct config_resize resize;
};

/*
 * Parses and validates the YAML file at `path`. On success returns 0 and a new
 * config in *out (defaults filled in: node_name from the host name, threads
 * from the core count). On failure returns -EINVAL (invalid content: every
 * error found, not just the first, in *errs) or -errno (the file cannot be
 * read: one error in *errs). *errs is always set and must be freed.
 * `extra_labels` are "k=v" strings from the command line (may be NULL); they
 * override the file's `labels:`.
 */
int config_load(const char *path, char *const *extra_labels, struct config **out,
		struct config_errors **errs);

/* Same as config_load, from a buffer; `name` is used in error positions. */
int config_parse(const char *name, const char *buf, size_t len, char *const *extra_labels,
		 struct config **out, struct config_errors **errs);

/* Frees; accepts NULL, returns NULL. */
struct config *config_free(struct config *cfg);
struct config_errors *config_errors_free(struct config_errors *errs);

/*
 * Prints every error as "file:line:col: message\n" to `f`; an error with no
 * position (line 0: the file as a whole, or the command line) as "file: message\n".
 */
void config_errors_print(const struct config_errors *errs, FILE *f);

/* The effective config as JSON (secrets are paths only, never file contents). */
json_t *config_to_json(const struct config *cfg);

/* Writes the effective config as YAML (libyaml emitter) to `f`; 0 or -errno. */
int config_write_yaml(const struct config *cfg, FILE *f);

/* Does pool `p` select a node with these labels? (node_name is matched as kubernetes.io/hostname
 * too.) */
bool config_pool_matches(const struct config_pool *p, const struct config *cfg);

/* Looks up a label value of this node; NULL when absent. */
const char *config_label_get(const struct config *cfg, const char *key);

/*
 * Compares two configs for a SIGHUP reload. Writes into `buf` a comma-separated
 * list of the keys that differ and can only take effect after a restart
 * (listen, threads, limits.max_connections, limits.per_client_connections,
 * limits.request_timeout, listen[].auth TLS files, volumes.overcommit_ratio,
 * volumes.publish_roots, volumes.max_volume_size, role, state_dir, scheduler, simulate, and in
 * role node placement.pmem_policy/cpu_policy/reservation_ttl) and returns how many there
 * are. Keys that apply live (log_level, labels, node_name, limits.max_body,
 * token files which are re-read, pools, kube) are not listed.
 */
int config_restart_keys(const struct config *old_cfg, const struct config *new_cfg, char *buf,
			size_t len);

/*
 * Are two kube: sections the same? kube is not a restart key: pmemd.c applies a change live by
 * stopping the publisher and starting a new one (both bounded).
 */
bool config_kube_equal(const struct config_kube *a, const struct config_kube *b);

const char *config_kube_enabled_name(enum config_kube_enabled e);
const char *config_role_name(enum config_role r);
/* placement policy names, the same as sched_pmem_policy_name()/sched_cpu_policy_name(). */
const char *config_pmem_policy_name(unsigned p);
const char *config_cpu_policy_name(unsigned p);
const char *config_pool_type_name(enum config_pool_type t);
const char *config_fstype_name(enum config_fstype t);
const char *config_match_op_name(enum config_match_op op);

#endif
