/* config-dump: the effective config out again, as JSON (jansson) and as YAML (libyaml emitter). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config/config.h"
#include "sched/sched.h"
#include "util/units.h"

#define HOSTNAME_LABEL "kubernetes.io/hostname"

/* ---- shared ------------------------------------------------------------- */

static void format_endpoint(char *buf, size_t len, const struct config_listen *l)
{
	if (strchr(l->host, ':'))
		snprintf(buf, len, "[%s]:%u", l->host, l->port);
	else
		snprintf(buf, len, "%s:%u", l->host, l->port);
}

/* The largest unit that keeps the value exact, so "30s" comes back as 30s. */
static void format_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} units[] = {{3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].ms),
				 units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/*
 * A ratio as written: at most 6 decimals (all the parser accepts), trailing zeros dropped but one
 * kept, so 1 comes back as 1.0 and 1.25 as 1.25; strtod of it gives the same double back.
 */
static void format_ratio(double r, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%.6f", r);
	n = strlen(buf);
	while (n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
}

static bool volumes_default(const struct config_volumes *v)
{
	return v->overcommit_ratio == CONFIG_DEFAULT_OVERCOMMIT_RATIO &&
	       v->max_volume_size_bytes == 0 && v->n_publish_roots == 1 &&
	       strcmp(v->publish_roots[0], CONFIG_DEFAULT_PUBLISH_ROOT) == 0;
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Sets o[key] = v, stealing v; a failure (NULL o or v, no memory) poisons *ok. */
static void jset(json_t *o, const char *key, json_t *v, bool *ok)
{
	if (json_object_set_new(o, key, v) != 0)
		*ok = false;
}

static void jappend(json_t *a, json_t *v, bool *ok)
{
	if (json_array_append_new(a, v) != 0)
		*ok = false;
}

static json_t *jstrv(char *const *v, size_t n, bool *ok)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		jappend(a, json_string(v[i]), ok);
	return a;
}

/* Effective labels: kubernetes.io/hostname is the node name unless labels set it. */
static json_t *labels_json(const struct config *cfg, bool *ok)
{
	json_t *o = json_object();

	for (size_t i = 0; i < cfg->n_labels; i++)
		jset(o, cfg->labels[i].key, json_string(cfg->labels[i].value), ok);
	if (cfg->node_name && !json_object_get(o, HOSTNAME_LABEL))
		jset(o, HOSTNAME_LABEL, json_string(cfg->node_name), ok);
	return o;
}

static json_t *listen_json(const struct config_listen *l, bool *ok)
{
	json_t *o = json_object();
	char buf[128];

	if (l->kind == CONFIG_LISTEN_TCP) {
		json_t *auth = json_object();

		format_endpoint(buf, sizeof(buf), l);
		jset(o, "tcp", json_string(buf), ok);
		jset(o, "host", jstr(l->host), ok);
		jset(o, "port", json_integer(l->port), ok);
		jset(auth, "token_file", jstr(l->auth.token_file), ok);
		jset(auth, "tls_cert", jstr(l->auth.tls_cert), ok);
		jset(auth, "tls_key", jstr(l->auth.tls_key), ok);
		jset(auth, "client_ca", jstr(l->auth.client_ca), ok);
		jset(o, "auth", auth, ok);
	} else {
		snprintf(buf, sizeof(buf), "%04o", (unsigned)l->mode);
		jset(o, "unix", jstr(l->path), ok);
		jset(o, "mode", json_string(buf), ok);
		jset(o, "owner", jstr(l->owner), ok);
		jset(o, "group", jstr(l->group), ok);
	}
	return o;
}

static json_t *pool_json(const struct config_pool *p, bool *ok)
{
	json_t *o = json_object(), *topo = json_object();
	bool pmem = p->type == CONFIG_POOL_PMEM;

	jset(o, "name", jstr(p->name), ok);
	jset(o, "key", jstr(p->key), ok);
	jset(o, "operator", p->key ? json_string(config_match_op_name(p->op)) : json_null(), ok);
	jset(o, "values", jstrv(p->values, p->n_values, ok), ok);
	jset(topo, "type", json_string(config_pool_type_name(p->type)), ok);
	jset(topo, "options", jstr(p->options), ok);
	jset(topo, "fstype", pmem ? json_string(config_fstype_name(p->fstype)) : json_null(), ok);
	jset(o, "topology", topo, ok);
	jset(o, "regions", jstrv(p->regions, p->n_regions, ok), ok);
	jset(o, "reserve_bytes", json_integer((json_int_t)p->reserve_bytes), ok);
	jset(o, "reformat", json_boolean(p->reformat), ok);
	return o;
}

static json_t *kube_json(const struct config_kube *k, bool *ok)
{
	json_t *o = json_object();

	jset(o, "enabled", json_string(config_kube_enabled_name(k->enabled)), ok);
	jset(o, "api_url", jstr(k->api_url), ok);
	jset(o, "token_file", jstr(k->token_file), ok);
	jset(o, "ca_file", jstr(k->ca_file), ok);
	jset(o, "client_cert", jstr(k->client_cert), ok);
	jset(o, "client_key", jstr(k->client_key), ok);
	jset(o, "publish_interval_ms", json_integer((json_int_t)k->publish_interval_ms), ok);
	jset(o, "heartbeat_interval_ms", json_integer((json_int_t)k->heartbeat_interval_ms), ok);
	return o;
}

static json_t *volumes_json(const struct config_volumes *v, bool *ok)
{
	json_t *o = json_object();

	jset(o, "overcommit_ratio", json_real(v->overcommit_ratio), ok);
	jset(o, "publish_roots", jstrv(v->publish_roots, v->n_publish_roots, ok), ok);
	jset(o, "max_volume_size_bytes", json_integer((json_int_t)v->max_volume_size_bytes), ok);
	return o;
}

static json_t *placement_json(const struct config_placement *pl, bool *ok)
{
	json_t *o = json_object();

	jset(o, "pmem_policy", json_string(config_pmem_policy_name(pl->pmem_policy)), ok);
	jset(o, "cpu_policy", json_string(config_cpu_policy_name(pl->cpu_policy)), ok);
	jset(o, "reservation_ttl_ms", json_integer((json_int_t)pl->reservation_ttl_ms), ok);
	jset(o, "cpu_manager_state", jstr(pl->cpu_manager_state), ok);
	jset(o, "driver", jstr(pl->driver), ok);
	return o;
}

static json_t *scheduler_json(const struct config_scheduler *sc, bool *ok)
{
	json_t *o = json_object(), *agents = json_array();

	jset(o, "url_prefix", jstr(sc->url_prefix), ok);
	jset(o, "simulate", jstr(sc->simulate), ok);
	for (size_t i = 0; i < sc->n_agents; i++) {
		json_t *a = json_object();

		jset(a, "url", jstr(sc->agents[i].url), ok);
		jset(a, "token_file", jstr(sc->agents[i].token_file), ok);
		jset(a, "ca_file", jstr(sc->agents[i].ca_file), ok);
		jappend(agents, a, ok);
	}
	jset(o, "agents", agents, ok);
	jset(o, "poll_interval_ms", json_integer((json_int_t)sc->poll_interval_ms), ok);
	jset(o, "max_record_age_ms", json_integer((json_int_t)sc->max_record_age_ms), ok);
	return o;
}

static const char *const resize_sources[] = {"local", "prometheus", "kubelet"};
static const char *const prom_presets[] = {"kubelet", "pmemd"};

static json_t *resize_json(const struct config_resize *rs, bool *ok)
{
	const struct config_resize_prometheus *p = &rs->prometheus;
	json_t *o = json_object(), *pr = json_object();

	jset(o, "source", json_string(resize_sources[rs->source]), ok);
	jset(o, "interval_ms", json_integer((json_int_t)rs->interval_ms), ok);
	jset(pr, "url", jstr(p->url), ok);
	jset(pr, "preset", json_string(prom_presets[p->preset ? 1 : 0]), ok);
	jset(pr, "query_used", jstr(p->query_used), ok);
	jset(pr, "query_capacity", jstr(p->query_capacity), ok);
	jset(pr, "timeout_ms", json_integer((json_int_t)p->timeout_ms), ok);
	jset(pr, "bearer_token_file", jstr(p->bearer_token_file), ok);
	jset(pr, "ca_file", jstr(p->ca_file), ok);
	jset(o, "prometheus", pr, ok);
	{
		const struct config_resize_kubelet *k = &rs->kubelet;
		json_t *ku = json_object();

		jset(ku, "url", jstr(k->url), ok);
		jset(ku, "timeout_ms", json_integer((json_int_t)k->timeout_ms), ok);
		jset(ku, "bearer_token_file", jstr(k->bearer_token_file), ok);
		jset(ku, "ca_file", jstr(k->ca_file), ok);
		jset(o, "kubelet", ku, ok);
	}
	jset(o, "policies", rs->policies ? json_deep_copy(rs->policies) : json_array(), ok);
	return o;
}

json_t *config_to_json(const struct config *cfg)
{
	json_t *root, *listen, *limits, *pools;
	bool ok = true;

	if (!cfg)
		return NULL;
	root = json_object();
	jset(root, "source", jstr(cfg->source), &ok);
	jset(root, "node_name", jstr(cfg->node_name), &ok);
	jset(root, "log_level", json_string(log_level_name(cfg->log_level)), &ok);
	jset(root, "threads", json_integer(cfg->threads), &ok);
	jset(root, "labels", labels_json(cfg, &ok), &ok);

	listen = json_array();
	for (size_t i = 0; i < cfg->n_listen; i++)
		jappend(listen, listen_json(&cfg->listen[i], &ok), &ok);
	jset(root, "listen", listen, &ok);

	limits = json_object();
	jset(limits, "max_body_bytes", json_integer((json_int_t)cfg->limits.max_body_bytes), &ok);
	jset(limits, "max_connections", json_integer(cfg->limits.max_connections), &ok);
	jset(limits, "per_client_connections", json_integer(cfg->limits.per_client_connections),
	     &ok);
	jset(limits, "request_timeout_ms", json_integer((json_int_t)cfg->limits.request_timeout_ms),
	     &ok);
	jset(root, "limits", limits, &ok);

	pools = json_array();
	for (size_t i = 0; i < cfg->n_pools; i++)
		jappend(pools, pool_json(&cfg->pools[i], &ok), &ok);
	jset(root, "pools", pools, &ok);
	jset(root, "role", json_string(config_role_name(cfg->role)), &ok);
	jset(root, "state_dir", jstr(cfg->state_dir), &ok);
	jset(root, "placement", placement_json(&cfg->placement, &ok), &ok);
	jset(root, "scheduler", scheduler_json(&cfg->scheduler, &ok), &ok);
	if (cfg->simulate.file) {
		json_t *sim = json_object();

		jset(sim, "file", jstr(cfg->simulate.file), &ok);
		jset(sim, "node", jstr(cfg->simulate.node), &ok);
		jset(root, "simulate", sim, &ok);
	} else {
		jset(root, "simulate", json_null(), &ok);
	}
	jset(root, "resize", resize_json(&cfg->resize, &ok), &ok);
	jset(root, "kube", kube_json(&cfg->kube, &ok), &ok);
	jset(root, "volumes", volumes_json(&cfg->volumes, &ok), &ok);
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* ---- YAML --------------------------------------------------------------- */

/* The emitter and the first error; every helper is a no-op once an error is set. */
struct out {
	yaml_emitter_t em;
	int err;
};

static void put(struct out *o, yaml_event_t *ev, int made)
{
	if (o->err) {
		if (made)
			yaml_event_delete(ev);
		return;
	}
	if (!made) {
		o->err = -ENOMEM;
		return;
	}
	/* yaml_emitter_emit owns the event from here, on success and failure alike. */
	if (!yaml_emitter_emit(&o->em, ev))
		o->err = o->em.error == YAML_MEMORY_ERROR ? -ENOMEM : -EIO;
}

/*
 * Strings a YAML reader would take for null, a boolean or a number are
 * double-quoted; libyaml chooses plain or quoted for everything else itself.
 * Erring towards quotes is harmless: "127.0.0.1:8080" is quoted, 64Gi is not.
 */
static bool looks_typed(const char *s)
{
	static const char *const words[] = {"~",    "null",  "true",  "false", "yes",
					    "no",   "on",    "off",   "y",     "n",
					    ".inf", "-.inf", "+.inf", ".nan"};

	if (!*s)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	/* Anything a number parser could eat: 12, -1.5e3, 0x1f, 0o17, 1:30 (YAML 1.1). */
	return strchr("0123456789+-.", *s) &&
	       strspn(s, "0123456789+-.:_eExXoOabcdefABCDEF") == strlen(s);
}

static void put_scalar(struct out *o, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	put(o, &ev,
	    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
					 style));
}

static void put_str(struct out *o, const char *s)
{
	put_scalar(o, s, looks_typed(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static void put_kv(struct out *o, const char *key, const char *value)
{
	put_str(o, key);
	put_str(o, value);
}

static void put_kv_opt(struct out *o, const char *key, const char *value)
{
	if (value)
		put_kv(o, key, value);
}

static void put_kuint(struct out *o, const char *key, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", v);
	put_str(o, key);
	put_scalar(o, buf, YAML_PLAIN_SCALAR_STYLE);
}

static void map_start(struct out *o, bool flow)
{
	yaml_event_t ev;

	put(o, &ev,
	    yaml_mapping_start_event_initialize(
		    &ev, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

static void map_end(struct out *o)
{
	yaml_event_t ev;

	put(o, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void seq_start(struct out *o, bool flow)
{
	yaml_event_t ev;

	put(o, &ev,
	    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						 flow ? YAML_FLOW_SEQUENCE_STYLE
						      : YAML_BLOCK_SEQUENCE_STYLE));
}

static void seq_end(struct out *o)
{
	yaml_event_t ev;

	put(o, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void put_strv(struct out *o, const char *key, char *const *v, size_t n)
{
	put_str(o, key);
	seq_start(o, false);
	for (size_t i = 0; i < n; i++)
		put_str(o, v[i]);
	seq_end(o);
}

static void put_listen(struct out *o, const struct config_listen *l)
{
	const struct config_auth *a = &l->auth;
	char buf[128];

	map_start(o, false);
	if (l->kind == CONFIG_LISTEN_UNIX) {
		put_kv(o, "unix", l->path);
		snprintf(buf, sizeof(buf), "%04o", (unsigned)l->mode);
		put_str(o, "mode");
		put_scalar(o, buf, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
		put_kv_opt(o, "owner", l->owner);
		put_kv_opt(o, "group", l->group);
	} else {
		format_endpoint(buf, sizeof(buf), l);
		put_kv(o, "tcp", buf);
		if (a->token_file || a->tls_cert || a->tls_key || a->client_ca) {
			put_str(o, "auth");
			map_start(o, false);
			put_kv_opt(o, "token_file", a->token_file);
			put_kv_opt(o, "tls_cert", a->tls_cert);
			put_kv_opt(o, "tls_key", a->tls_key);
			put_kv_opt(o, "client_ca", a->client_ca);
			map_end(o);
		}
	}
	map_end(o);
}

/* Only what the parser accepts back: no fstype/options for kmem, no operator without key. */
static void put_pool(struct out *o, const struct config_pool *p)
{
	map_start(o, false);
	put_kv(o, "name", p->name);
	if (p->key) {
		put_kv(o, "key", p->key);
		put_kv(o, "operator", config_match_op_name(p->op));
		if (p->n_values)
			put_strv(o, "values", p->values, p->n_values);
	}
	put_str(o, "topology");
	map_start(o, false);
	put_kv(o, "type", config_pool_type_name(p->type));
	if (p->type == CONFIG_POOL_PMEM) {
		put_kv_opt(o, "options", p->options);
		put_kv(o, "fstype", config_fstype_name(p->fstype));
	}
	map_end(o);
	put_strv(o, "regions", p->regions, p->n_regions);
	if (p->reserve_bytes) {
		char buf[32];
		units_size_format(p->reserve_bytes, buf, sizeof(buf));
		put_kv(o, "reserve", buf);
	}
	if (p->reformat) {
		put_str(o, "reformat");
		put_scalar(o, "true", YAML_PLAIN_SCALAR_STYLE);
	}
	map_end(o);
}

/* Written only when it differs from the defaults, so a config without kube: dumps without it. */
static void put_kube(struct out *o, const struct config_kube *k)
{
	char buf[64];

	if (k->enabled == CONFIG_KUBE_AUTO && !k->api_url &&
	    k->publish_interval_ms == CONFIG_DEFAULT_KUBE_INTERVAL_MS &&
	    k->heartbeat_interval_ms == CONFIG_DEFAULT_HEARTBEAT_MS)
		return;
	put_str(o, "kube");
	map_start(o, false);
	put_str(o, "enabled");
	put_scalar(o, config_kube_enabled_name(k->enabled), YAML_PLAIN_SCALAR_STYLE);
	put_kv_opt(o, "api_url", k->api_url);
	put_kv_opt(o, "token_file", k->token_file);
	put_kv_opt(o, "ca_file", k->ca_file);
	put_kv_opt(o, "client_cert", k->client_cert);
	put_kv_opt(o, "client_key", k->client_key);
	format_duration(k->publish_interval_ms, buf, sizeof(buf));
	put_kv(o, "publish_interval", buf);
	format_duration(k->heartbeat_interval_ms, buf, sizeof(buf));
	put_kv(o, "heartbeat_interval", buf);
	map_end(o);
}

/* Written only when it differs from the defaults, like kube:. */
static void put_volumes(struct out *o, const struct config_volumes *v)
{
	char buf[64];

	if (volumes_default(v))
		return;
	put_str(o, "volumes");
	map_start(o, false);
	format_ratio(v->overcommit_ratio, buf, sizeof(buf));
	put_str(o, "overcommit_ratio");
	put_scalar(o, buf, YAML_PLAIN_SCALAR_STYLE);
	put_strv(o, "publish_roots", v->publish_roots, v->n_publish_roots);
	if (v->max_volume_size_bytes) {
		units_size_format(v->max_volume_size_bytes, buf, sizeof(buf));
		put_kv(o, "max_volume_size", buf);
	}
	map_end(o);
}

/* Written only when it differs from the defaults, like kube:. */
static void put_placement(struct out *o, const struct config_placement *pl)
{
	char buf[64];

	if (pl->pmem_policy == SCHED_PMEM_BINPACK &&
	    pl->cpu_policy == SCHED_CPU_SHORTEST_DISTANCE &&
	    pl->reservation_ttl_ms == CONFIG_DEFAULT_RESERVATION_TTL_MS &&
	    strcmp(pl->cpu_manager_state, CONFIG_DEFAULT_CPU_MANAGER_STATE) == 0 &&
	    strcmp(pl->driver, CONFIG_DEFAULT_DRIVER) == 0)
		return;
	put_str(o, "placement");
	map_start(o, false);
	put_kv(o, "pmem_policy", config_pmem_policy_name(pl->pmem_policy));
	put_kv(o, "cpu_policy", config_cpu_policy_name(pl->cpu_policy));
	format_duration(pl->reservation_ttl_ms, buf, sizeof(buf));
	put_kv(o, "reservation_ttl", buf);
	put_kv(o, "cpu_manager_state", pl->cpu_manager_state);
	put_kv(o, "driver", pl->driver);
	map_end(o);
}

/* Written for role: scheduler only (the parser refuses the section otherwise). */
static void put_scheduler(struct out *o, const struct config *cfg)
{
	const struct config_scheduler *sc = &cfg->scheduler;
	char buf[64];

	if (cfg->role != CONFIG_ROLE_SCHEDULER)
		return;
	put_str(o, "scheduler");
	map_start(o, false);
	put_kv(o, "url_prefix", sc->url_prefix);
	put_kv_opt(o, "simulate", sc->simulate);
	if (sc->n_agents) {
		put_str(o, "agents");
		seq_start(o, false);
		for (size_t i = 0; i < sc->n_agents; i++) {
			map_start(o, false);
			put_kv(o, "url", sc->agents[i].url);
			put_kv_opt(o, "token_file", sc->agents[i].token_file);
			put_kv_opt(o, "ca_file", sc->agents[i].ca_file);
			map_end(o);
		}
		seq_end(o);
	}
	format_duration(sc->poll_interval_ms, buf, sizeof(buf));
	put_kv(o, "poll_interval", buf);
	format_duration(sc->max_record_age_ms, buf, sizeof(buf));
	put_kv(o, "max_record_age", buf);
	map_end(o);
}

/* A policy's JSON (integers, strings, objects, arrays; validated) as YAML. */
static void put_json(struct out *o, const json_t *j)
{
	char buf[32];
	const char *k;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		map_start(o, false);
		json_object_foreach ((json_t *)j, k, v) {
			put_str(o, k);
			put_json(o, v);
		}
		map_end(o);
		break;
	case JSON_ARRAY:
		seq_start(o, json_array_size(j) == 0);
		json_array_foreach (j, i, v)
			put_json(o, v);
		seq_end(o);
		break;
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		put_scalar(o, buf, YAML_PLAIN_SCALAR_STYLE);
		break;
	case JSON_STRING:
		/* Quoted: a policy's strings are strings even when they look like numbers. */
		put_scalar(o, json_string_value(j), YAML_DOUBLE_QUOTED_SCALAR_STYLE);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		put_scalar(o, json_is_true(j) ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
		break;
	default:
		put_scalar(o, "null", YAML_PLAIN_SCALAR_STYLE);
	}
}

/* Written only when it differs from the defaults. */
static void put_resize(struct out *o, const struct config_resize *rs)
{
	const struct config_resize_prometheus *p = &rs->prometheus;
	const struct config_resize_kubelet *k = &rs->kubelet;
	char buf[64];

	if (rs->source == CONFIG_RESIZE_LOCAL &&
	    rs->interval_ms == CONFIG_DEFAULT_RESIZE_INTERVAL_MS && !p->url && !p->preset &&
	    !p->query_used && !p->query_capacity && !p->bearer_token_file && !p->ca_file &&
	    p->timeout_ms == CONFIG_DEFAULT_PROM_TIMEOUT_MS && !rs->policies && !k->url &&
	    !k->bearer_token_file && !k->ca_file && k->timeout_ms == CONFIG_DEFAULT_PROM_TIMEOUT_MS)
		return;
	put_str(o, "resize");
	map_start(o, false);
	put_kv(o, "source", resize_sources[rs->source]);
	format_duration(rs->interval_ms, buf, sizeof(buf));
	put_kv(o, "interval", buf);
	if (p->url || p->preset || p->query_used || p->query_capacity || p->bearer_token_file ||
	    p->ca_file || p->timeout_ms != CONFIG_DEFAULT_PROM_TIMEOUT_MS) {
		put_str(o, "prometheus");
		map_start(o, false);
		put_kv_opt(o, "url", p->url);
		put_kv(o, "preset", prom_presets[p->preset ? 1 : 0]);
		put_kv_opt(o, "query_used", p->query_used);
		put_kv_opt(o, "query_capacity", p->query_capacity);
		format_duration(p->timeout_ms, buf, sizeof(buf));
		put_kv(o, "timeout", buf);
		put_kv_opt(o, "bearer_token_file", p->bearer_token_file);
		put_kv_opt(o, "ca_file", p->ca_file);
		map_end(o);
	}
	if (k->url || k->bearer_token_file || k->ca_file ||
	    k->timeout_ms != CONFIG_DEFAULT_PROM_TIMEOUT_MS) {
		put_str(o, "kubelet");
		map_start(o, false);
		put_kv_opt(o, "url", k->url);
		format_duration(k->timeout_ms, buf, sizeof(buf));
		put_kv(o, "timeout", buf);
		put_kv_opt(o, "bearer_token_file", k->bearer_token_file);
		put_kv_opt(o, "ca_file", k->ca_file);
		map_end(o);
	}
	if (rs->policies) {
		put_str(o, "policies");
		put_json(o, rs->policies);
	}
	map_end(o);
}

static void put_config(struct out *o, const struct config *cfg)
{
	char buf[64];

	map_start(o, false);
	if (cfg->role != CONFIG_ROLE_NODE)
		put_kv(o, "role", config_role_name(cfg->role));
	put_kv_opt(o, "node_name", cfg->node_name);
	put_kv(o, "log_level", log_level_name(cfg->log_level));
	put_kuint(o, "threads", cfg->threads);

	put_str(o, "labels");
	map_start(o, cfg->n_labels == 0);
	for (size_t i = 0; i < cfg->n_labels; i++)
		put_kv(o, cfg->labels[i].key, cfg->labels[i].value);
	map_end(o);

	put_str(o, "listen");
	seq_start(o, false);
	for (size_t i = 0; i < cfg->n_listen; i++)
		put_listen(o, &cfg->listen[i]);
	seq_end(o);

	put_str(o, "limits");
	map_start(o, false);
	units_size_format(cfg->limits.max_body_bytes, buf, sizeof(buf));
	put_kv(o, "max_body", buf);
	put_kuint(o, "max_connections", cfg->limits.max_connections);
	put_kuint(o, "per_client_connections", cfg->limits.per_client_connections);
	format_duration(cfg->limits.request_timeout_ms, buf, sizeof(buf));
	put_kv(o, "request_timeout", buf);
	map_end(o);

	put_str(o, "pools");
	seq_start(o, cfg->n_pools == 0);
	for (size_t i = 0; i < cfg->n_pools; i++)
		put_pool(o, &cfg->pools[i]);
	seq_end(o);
	put_kube(o, &cfg->kube);
	put_volumes(o, &cfg->volumes);
	if (strcmp(cfg->state_dir, CONFIG_DEFAULT_STATE_DIR) != 0)
		put_kv(o, "state_dir", cfg->state_dir);
	put_placement(o, &cfg->placement);
	put_scheduler(o, cfg);
	if (cfg->simulate.file) {
		put_str(o, "simulate");
		map_start(o, false);
		put_kv(o, "file", cfg->simulate.file);
		put_kv_opt(o, "node", cfg->simulate.node);
		map_end(o);
	}
	put_resize(o, &cfg->resize);
	map_end(o);
}

int config_write_yaml(const struct config *cfg, FILE *f)
{
	struct out o = {.err = 0};
	yaml_event_t ev;

	if (!cfg || !f)
		return -EINVAL;
	if (!yaml_emitter_initialize(&o.em))
		return -ENOMEM;
	yaml_emitter_set_output_file(&o.em, f);
	yaml_emitter_set_unicode(&o.em, 1);
	yaml_emitter_set_width(&o.em, -1); /* never fold a long path onto two lines */
	put(&o, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	put(&o, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	put_config(&o, cfg);
	put(&o, &ev, yaml_document_end_event_initialize(&ev, 1));
	put(&o, &ev, yaml_stream_end_event_initialize(&ev));
	if (!o.err && !yaml_emitter_flush(&o.em))
		o.err = -EIO;
	yaml_emitter_delete(&o.em);
	if (!o.err && (fflush(f) != 0 || ferror(f)))
		o.err = -EIO;
	return o.err;
}
