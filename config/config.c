/* config: the lifetime of a config and its errors, label lookup, pool matching and reload diffs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define HOSTNAME_LABEL "kubernetes.io/hostname"

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void listen_clear(struct config_listen *l)
{
	free(l->host);
	free(l->auth.token_file);
	free(l->auth.tls_cert);
	free(l->auth.tls_key);
	free(l->auth.client_ca);
	free(l->path);
	free(l->owner);
	free(l->group);
}

static void pool_clear(struct config_pool *p)
{
	free(p->name);
	free(p->key);
	strv_free(p->values);
	free(p->options);
	strv_free(p->regions);
}

struct config *config_free(struct config *cfg)
{
	if (!cfg)
		return NULL;
	free(cfg->source);
	free(cfg->node_name);
	for (size_t i = 0; i < cfg->n_listen; i++)
		listen_clear(&cfg->listen[i]);
	free(cfg->listen);
	for (size_t i = 0; i < cfg->n_labels; i++) {
		free(cfg->labels[i].key);
		free(cfg->labels[i].value);
	}
	free(cfg->labels);
	for (size_t i = 0; i < cfg->n_pools; i++)
		pool_clear(&cfg->pools[i]);
	free(cfg->pools);
	free(cfg->kube.api_url);
	free(cfg->kube.token_file);
	free(cfg->kube.ca_file);
	free(cfg->kube.client_cert);
	free(cfg->kube.client_key);
	strv_free(cfg->volumes.publish_roots);
	free(cfg->state_dir);
	free(cfg->placement.cpu_manager_state);
	free(cfg->placement.driver);
	free(cfg->scheduler.url_prefix);
	free(cfg->scheduler.simulate);
	for (size_t i = 0; i < cfg->scheduler.n_agents; i++) {
		free(cfg->scheduler.agents[i].url);
		free(cfg->scheduler.agents[i].token_file);
		free(cfg->scheduler.agents[i].ca_file);
	}
	free(cfg->scheduler.agents);
	free(cfg->simulate.file);
	free(cfg->simulate.node);
	free(cfg->resize.prometheus.url);
	free(cfg->resize.prometheus.query_used);
	free(cfg->resize.prometheus.query_capacity);
	free(cfg->resize.prometheus.bearer_token_file);
	free(cfg->resize.prometheus.ca_file);
	free(cfg->resize.kubelet.url);
	free(cfg->resize.kubelet.bearer_token_file);
	free(cfg->resize.kubelet.ca_file);
	json_decref(cfg->resize.policies);
	free(cfg);
	return NULL;
}

struct config_errors *config_errors_free(struct config_errors *errs)
{
	if (!errs)
		return NULL;
	for (size_t i = 0; i < errs->count; i++) {
		free(errs->items[i].message);
		free(errs->items[i].file);
	}
	free(errs->items);
	free(errs->file);
	free(errs);
	return NULL;
}

void config_errors_print(const struct config_errors *errs, FILE *f)
{
	if (!errs || !f)
		return;
	for (size_t i = 0; i < errs->count; i++) {
		const struct config_error *e = &errs->items[i];
		const char *file = e->file ? e->file : errs->file ? errs->file : "<config>";

		if (e->pos.line)
			fprintf(f, "%s:%u:%u: %s\n", file, e->pos.line, e->pos.col, e->message);
		else
			fprintf(f, "%s: %s\n", file, e->message);
	}
}

const char *config_label_get(const struct config *cfg, const char *key)
{
	if (!cfg || !key)
		return NULL;
	for (size_t i = 0; i < cfg->n_labels; i++)
		if (strcmp(cfg->labels[i].key, key) == 0)
			return cfg->labels[i].value;
	/* Kubernetes sets this label on every node; we are that node unless labels say otherwise.
	 */
	if (strcmp(key, HOSTNAME_LABEL) == 0)
		return cfg->node_name;
	return NULL;
}

static bool has_value(const struct config_pool *p, const char *v)
{
	for (size_t i = 0; i < p->n_values; i++)
		if (strcmp(p->values[i], v) == 0)
			return true;
	return false;
}

/* Kubernetes node-selector semantics: NotIn also matches a node without the label. */
bool config_pool_matches(const struct config_pool *p, const struct config *cfg)
{
	const char *v;

	if (!p)
		return false;
	if (!p->key)
		return true;
	v = config_label_get(cfg, p->key);
	switch (p->op) {
	case CONFIG_OP_IN:
		return v && has_value(p, v);
	case CONFIG_OP_NOT_IN:
		return !v || !has_value(p, v);
	case CONFIG_OP_EXISTS:
		return v != NULL;
	case CONFIG_OP_DOES_NOT_EXIST:
		return v == NULL;
	}
	return false;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool config_kube_equal(const struct config_kube *a, const struct config_kube *b)
{
	return a->enabled == b->enabled && str_eq(a->api_url, b->api_url) &&
	       str_eq(a->token_file, b->token_file) && str_eq(a->ca_file, b->ca_file) &&
	       str_eq(a->client_cert, b->client_cert) && str_eq(a->client_key, b->client_key) &&
	       a->publish_interval_ms == b->publish_interval_ms &&
	       a->heartbeat_interval_ms == b->heartbeat_interval_ms;
}

/* Everything a bound socket depends on; auth is compared separately. */
static bool endpoint_eq(const struct config_listen *a, const struct config_listen *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == CONFIG_LISTEN_TCP)
		return a->port == b->port && str_eq(a->host, b->host);
	return a->mode == b->mode && str_eq(a->path, b->path) && str_eq(a->owner, b->owner) &&
	       str_eq(a->group, b->group);
}

/* The same set of strings (each list is free of duplicates), in any order. */
static bool strv_same_set(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		size_t j = 0;

		while (j < nb && strcmp(a[i], b[j]) != 0)
			j++;
		if (j == nb)
			return false;
	}
	return true;
}

struct keylist {
	char *buf;
	size_t len;
	size_t used;
	int count;
};

/* Appends "key" comma-separated; the list is cut to fit but every key is still counted. */
static void keylist_add(struct keylist *k, const char *key)
{
	int n;

	k->count++;
	if (!k->buf || k->len == 0 || k->used >= k->len - 1)
		return;
	n = snprintf(k->buf + k->used, k->len - k->used, "%s%s", k->count > 1 ? "," : "", key);
	if (n > 0)
		k->used += (size_t)n < k->len - k->used ? (size_t)n : k->len - k->used - 1;
}

static bool resize_eq(const struct config_resize *a, const struct config_resize *b)
{
	const struct config_resize_prometheus *x = &a->prometheus, *y = &b->prometheus;

	return a->source == b->source && a->interval_ms == b->interval_ms &&
	       str_eq(x->url, y->url) && x->preset == y->preset &&
	       str_eq(x->query_used, y->query_used) &&
	       str_eq(x->query_capacity, y->query_capacity) &&
	       str_eq(x->bearer_token_file, y->bearer_token_file) &&
	       str_eq(x->ca_file, y->ca_file) && x->timeout_ms == y->timeout_ms &&
	       str_eq(a->kubelet.url, b->kubelet.url) &&
	       str_eq(a->kubelet.bearer_token_file, b->kubelet.bearer_token_file) &&
	       str_eq(a->kubelet.ca_file, b->kubelet.ca_file) &&
	       a->kubelet.timeout_ms == b->kubelet.timeout_ms &&
	       (a->policies == b->policies ||
		(a->policies && b->policies && json_equal(a->policies, b->policies)));
}

static bool scheduler_eq(const struct config_scheduler *a, const struct config_scheduler *b)
{
	if (!str_eq(a->url_prefix, b->url_prefix) || !str_eq(a->simulate, b->simulate) ||
	    a->poll_interval_ms != b->poll_interval_ms ||
	    a->max_record_age_ms != b->max_record_age_ms || a->n_agents != b->n_agents)
		return false;
	for (size_t i = 0; i < a->n_agents; i++)
		if (!str_eq(a->agents[i].url, b->agents[i].url) ||
		    !str_eq(a->agents[i].token_file, b->agents[i].token_file) ||
		    !str_eq(a->agents[i].ca_file, b->agents[i].ca_file))
			return false;
	return true;
}

int config_restart_keys(const struct config *old_cfg, const struct config *new_cfg, char *buf,
			size_t len)
{
	struct keylist k = {buf, len, 0, 0};
	bool listen_same;

	if (buf && len)
		buf[0] = '\0';
	if (!old_cfg || !new_cfg)
		return -EINVAL;
	listen_same = old_cfg->n_listen == new_cfg->n_listen;
	for (size_t i = 0; listen_same && i < old_cfg->n_listen; i++)
		listen_same = endpoint_eq(&old_cfg->listen[i], &new_cfg->listen[i]);
	if (!listen_same)
		keylist_add(&k, "listen");
	if (old_cfg->threads != new_cfg->threads)
		keylist_add(&k, "threads");
	if (old_cfg->limits.max_connections != new_cfg->limits.max_connections)
		keylist_add(&k, "limits.max_connections");
	if (old_cfg->limits.per_client_connections != new_cfg->limits.per_client_connections)
		keylist_add(&k, "limits.per_client_connections");
	if (old_cfg->limits.request_timeout_ms != new_cfg->limits.request_timeout_ms)
		keylist_add(&k, "limits.request_timeout");
	/*
	 * The volume service takes these at start: its capacity ledger is built with the ratio, and
	 * request validation reads the roots and the size cap without a lock.
	 */
	if (old_cfg->volumes.overcommit_ratio != new_cfg->volumes.overcommit_ratio)
		keylist_add(&k, "volumes.overcommit_ratio");
	if (!strv_same_set(old_cfg->volumes.publish_roots, old_cfg->volumes.n_publish_roots,
			   new_cfg->volumes.publish_roots, new_cfg->volumes.n_publish_roots))
		keylist_add(&k, "volumes.publish_roots");
	if (old_cfg->volumes.max_volume_size_bytes != new_cfg->volumes.max_volume_size_bytes)
		keylist_add(&k, "volumes.max_volume_size");
	/* The role decides which services exist; the state directory holds their files; the
	 * scheduler's cluster view is built once from its source. */
	if (old_cfg->role != new_cfg->role)
		keylist_add(&k, "role");
	if (!str_eq(old_cfg->state_dir, new_cfg->state_dir))
		keylist_add(&k, "state_dir");
	if (!scheduler_eq(&old_cfg->scheduler, &new_cfg->scheduler))
		keylist_add(&k, "scheduler");
	/*
	 * A simulated node's pools are built once from the file; real and simulated never mix.
	 * Without simulate.node the node taken is node_name's, so renaming the node changes it too.
	 */
	if (!str_eq(old_cfg->simulate.file, new_cfg->simulate.file) ||
	    (new_cfg->simulate.file &&
	     !str_eq(old_cfg->simulate.node ? old_cfg->simulate.node : old_cfg->node_name,
		     new_cfg->simulate.node ? new_cfg->simulate.node : new_cfg->node_name)))
		keylist_add(&k, "simulate");
	/* The auto resizer takes its source, interval and default policies at start. */
	if (!resize_eq(&old_cfg->resize, &new_cfg->resize))
		keylist_add(&k, "resize");
	/* A node's volume service takes its reservation policy at start; the scheduler role
	 * applies placement: live (cluster_set_placement). */
	if (new_cfg->role == CONFIG_ROLE_NODE) {
		if (old_cfg->placement.pmem_policy != new_cfg->placement.pmem_policy)
			keylist_add(&k, "placement.pmem_policy");
		if (old_cfg->placement.cpu_policy != new_cfg->placement.cpu_policy)
			keylist_add(&k, "placement.cpu_policy");
		if (old_cfg->placement.reservation_ttl_ms != new_cfg->placement.reservation_ttl_ms)
			keylist_add(&k, "placement.reservation_ttl");
	}
	/* TLS material is loaded into the server at start; token files are re-read per reload. */
	for (size_t i = 0; listen_same && i < old_cfg->n_listen; i++) {
		const struct config_auth *a = &old_cfg->listen[i].auth,
					 *b = &new_cfg->listen[i].auth;
		char key[64];

		if (!str_eq(a->tls_cert, b->tls_cert)) {
			snprintf(key, sizeof(key), "listen[%zu].auth.tls_cert", i);
			keylist_add(&k, key);
		}
		if (!str_eq(a->tls_key, b->tls_key)) {
			snprintf(key, sizeof(key), "listen[%zu].auth.tls_key", i);
			keylist_add(&k, key);
		}
		if (!str_eq(a->client_ca, b->client_ca)) {
			snprintf(key, sizeof(key), "listen[%zu].auth.client_ca", i);
			keylist_add(&k, key);
		}
	}
	return k.count;
}
