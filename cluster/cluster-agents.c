/* cluster-agents: polls every node agent's GET /v1/node from one thread (libcurl multi,
 * If-None-Match), and POSTs reservations to them at bind. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/cluster-internal.h"
#include "util/log.h"
#include "util/secret.h"

#define MAX_RECORD (16u * 1024 * 1024)
#define MAX_TOKEN  (64 * 1024)
#define MAX_ERROR  4096 /* of an error body kept for the message */

struct agent {
	char *url; /* base, without a trailing '/' */
	char *node_url;
	const char *token_file, *ca_file; /* the config's strings (copied below) */
	char *token_file_own, *ca_file_own;
	CURL *h;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	char etag[64]; /* of the last 200 */
	char new_etag[64];
	char *buf;
	size_t len, cap;
	bool too_big;
	bool busy;
	uint64_t asked_at;
	/* for /v1/cluster, under agents->lock */
	char node[SCHED_EXT_MAX_NAME + 1];
	uint64_t last_ok;
	unsigned long requests, not_modified, failures;
	char error[256];
};

struct cluster_agents {
	struct cluster *c;
	struct agent *a;
	size_t n;
	uint64_t interval_ms;
	unsigned timeout_ms;
	CURLM *multi;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t lock; /* the agents' node, stats, etag (reserve reads the paths only) */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct agent *a = ud;
	size_t len = size * n;

	if (a->len + len > MAX_RECORD) {
		a->too_big = true;
		return 0;
	}
	if (a->len + len + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 16384;
		while (cap < a->len + len + 1)
			cap *= 2;
		char *b = realloc(a->buf, cap);
		if (!b)
			return 0;
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, p, len);
	a->len += len;
	a->buf[a->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct agent *a = ud;
	size_t len = size * n;

	if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
		size_t s = 5, e = len;
		while (s < e && (p[s] == ' ' || p[s] == '\t'))
			s++;
		while (e > s && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
			e--;
		if (e - s < sizeof(a->new_etag)) {
			memcpy(a->new_etag, p + s, e - s);
			a->new_etag[e - s] = '\0';
		}
	}
	return len;
}

/* Authorization for the agent, the token re-read (they rotate). NULL slist on failure. */
static struct curl_slist *auth_headers(const char *token_file, struct curl_slist *h, char *err,
				       size_t err_len)
{
	char *tok = NULL, *line = NULL;
	int r;

	if (!token_file)
		return h;
	r = secret_read_token(token_file, MAX_TOKEN, &tok);
	if (r < 0) {
		snprintf(err, err_len, "cannot read token file %s: %s", token_file, strerror(-r));
		curl_slist_free_all(h);
		return NULL;
	}
	if (asprintf(&line, "Authorization: Bearer %s", tok) < 0)
		line = NULL;
	secret_free(tok);
	if (line) {
		struct curl_slist *n = curl_slist_append(h, line);
		explicit_bzero(line, strlen(line));
		free(line);
		if (n)
			return n;
	}
	curl_slist_free_all(h);
	snprintf(err, err_len, "out of memory");
	return NULL;
}

static void common_opts(CURL *h, const char *ca_file, unsigned timeout_ms, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms < 3000 ? timeout_ms : 3000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
}

/* ---- polling ---------------------------------------------------------------------------- */

static void agent_fail(struct cluster_agents *as, struct agent *a, const char *msg)
{
	char node[sizeof(a->node)];

	char q[600];
	bool was_ok;

	pthread_mutex_lock(&as->lock);
	was_ok = !a->error[0];
	snprintf(a->error, sizeof(a->error), "%s", msg);
	a->failures++;
	snprintf(node, sizeof(node), "%s", a->node);
	pthread_mutex_unlock(&as->lock);
	if (node[0])
		cluster_record_error(as->c, node, msg);
	/* Once per outage, not once per round: the details are in GET /v1/cluster. */
	if (was_ok)
		log_warn("agent_failing", "url=%s node=%s reason=%s", a->url, node[0] ? node : "-",
			 log_quote(q, sizeof(q), msg));
}

static void agent_start(struct cluster_agents *as, struct agent *a)
{
	char err[256];

	curl_easy_reset(a->h);
	curl_slist_free_all(a->hdrs);
	a->hdrs = NULL;
	a->len = 0;
	a->too_big = false;
	a->new_etag[0] = '\0';
	a->errbuf[0] = '\0';
	common_opts(a->h, a->ca_file, as->timeout_ms, a->errbuf);
	curl_easy_setopt(a->h, CURLOPT_URL, a->node_url);
	curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(a->h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(a->h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(a->h, CURLOPT_PRIVATE, a);
	a->hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (a->hdrs && a->etag[0]) {
		char inm[100];
		snprintf(inm, sizeof(inm), "If-None-Match: %s", a->etag);
		a->hdrs = curl_slist_append(a->hdrs, inm);
	}
	if (a->hdrs)
		a->hdrs = auth_headers(a->token_file, a->hdrs, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "out of memory");
	if (!a->hdrs) {
		agent_fail(as, a, err);
		return;
	}
	curl_easy_setopt(a->h, CURLOPT_HTTPHEADER, a->hdrs);
	a->asked_at = cluster_now(as->c);
	if (curl_multi_add_handle(as->multi, a->h) != CURLM_OK) {
		agent_fail(as, a, "cannot start the request");
		return;
	}
	a->busy = true;
	pthread_mutex_lock(&as->lock);
	a->requests++;
	pthread_mutex_unlock(&as->lock);
}

static void agent_done(struct cluster_agents *as, struct agent *a, CURLcode cc)
{
	long code = 0;
	uint64_t asked_at;
	char msg[300], e[256];
	json_error_t je;
	json_t *rec;
	const char *node;

	curl_multi_remove_handle(as->multi, a->h);
	a->busy = false;
	if (cc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "GET %s: %s", a->node_url,
			 a->too_big	? "record larger than 16 MiB"
			 : a->errbuf[0] ? a->errbuf
					: curl_easy_strerror(cc));
		agent_fail(as, a, msg);
		return;
	}
	curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &code);
	if (code == 304) {
		pthread_mutex_lock(&as->lock);
		a->not_modified++;
		a->last_ok = cluster_now(as->c);
		a->error[0] = '\0';
		snprintf(msg, sizeof(msg), "%s", a->node);
		asked_at = a->asked_at;
		pthread_mutex_unlock(&as->lock);
		if (msg[0])
			cluster_record_touch(as->c, msg, asked_at);
		return;
	}
	if (code != 200) {
		snprintf(msg, sizeof(msg), "GET %s: HTTP %ld", a->node_url, code);
		agent_fail(as, a, msg);
		return;
	}
	rec = json_loadb(a->buf ? a->buf : "", a->len, 0, &je);
	node = json_string_value(json_object_get(rec, "node"));
	if (!json_is_object(rec) || !node) {
		snprintf(msg, sizeof(msg), "GET %s: not a node record (%s)", a->node_url,
			 rec ? "no node name" : je.text);
		json_decref(rec);
		agent_fail(as, a, msg);
		return;
	}
	if (cluster_record_put_at(as->c, rec, CLUSTER_SOURCE_AGENTS, a->url, a->asked_at, e,
				  sizeof(e)) < 0) {
		snprintf(msg, sizeof(msg), "GET %s: %s", a->node_url, e);
		json_decref(rec);
		agent_fail(as, a, msg);
		return;
	}
	pthread_mutex_lock(&as->lock);
	bool recovered = a->error[0] != '\0';
	snprintf(a->node, sizeof(a->node), "%s", node);
	snprintf(a->etag, sizeof(a->etag), "%s", a->new_etag);
	a->last_ok = cluster_now(as->c);
	a->error[0] = '\0';
	pthread_mutex_unlock(&as->lock);
	if (recovered)
		log_info("agent_recovered", "url=%s node=%s", a->url, node);
	json_decref(rec);
}

static void *poll_main(void *arg)
{
	struct cluster_agents *as = arg;
	uint64_t next = 0;

	while (!atomic_load(&as->stop)) {
		uint64_t now = cluster_now(as->c);
		int running = 0, left = 0;
		CURLMsg *m;

		if (now >= next) {
			/* An agent still busy from the last round (a slow node) is not asked twice.
			 */
			for (size_t i = 0; i < as->n; i++)
				if (!as->a[i].busy)
					agent_start(as, &as->a[i]);
			next = now + as->interval_ms;
		}
		curl_multi_perform(as->multi, &running);
		while ((m = curl_multi_info_read(as->multi, &left))) {
			struct agent *a = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
			if (a)
				agent_done(as, a, m->data.result);
		}
		now = cluster_now(as->c);
		uint64_t wait = next > now ? next - now : 0;
		if (wait > 1000)
			wait = 1000;
		curl_multi_poll(as->multi, NULL, 0, (int)wait, NULL);
	}
	return NULL;
}

int cluster_agents_new(struct cluster *c, const struct config_scheduler *s, unsigned timeout_ms,
		       struct cluster_agents **out)
{
	struct cluster_agents *as = calloc(1, sizeof(*as));

	if (!as)
		return -ENOMEM;
	pthread_mutex_init(&as->lock, NULL);
	as->c = c;
	as->interval_ms = s->poll_interval_ms;
	/* A request never outlives its round by much, and never waits forever. */
	as->timeout_ms =
		timeout_ms ? timeout_ms
			   : (unsigned)(s->poll_interval_ms < 10000 ? 10000 : s->poll_interval_ms);
	as->a = calloc(s->n_agents ? s->n_agents : 1, sizeof(*as->a));
	as->multi = curl_multi_init();
	if (!as->a || !as->multi)
		goto oom;
	as->n = s->n_agents;
	for (size_t i = 0; i < s->n_agents; i++) {
		struct agent *a = &as->a[i];
		size_t n = strlen(s->agents[i].url);
		while (n > 0 && s->agents[i].url[n - 1] == '/')
			n--;
		a->url = strndup(s->agents[i].url, n);
		if (!a->url || asprintf(&a->node_url, "%s/v1/node", a->url) < 0) {
			a->node_url = NULL;
			goto oom;
		}
		if (s->agents[i].token_file &&
		    !(a->token_file = a->token_file_own = strdup(s->agents[i].token_file)))
			goto oom;
		if (s->agents[i].ca_file &&
		    !(a->ca_file = a->ca_file_own = strdup(s->agents[i].ca_file)))
			goto oom;
		if (!(a->h = curl_easy_init()))
			goto oom;
	}
	/* Keep a connection per agent across rounds. */
	curl_multi_setopt(as->multi, CURLMOPT_MAXCONNECTS, (long)(as->n + 4));
	*out = as;
	return 0;
oom:
	cluster_agents_free(as);
	return -ENOMEM;
}

int cluster_agents_start(struct cluster_agents *as, char *err, size_t err_len)
{
	int r = pthread_create(&as->thread, NULL, poll_main, as);

	if (r) {
		snprintf(err, err_len, "cannot start the agent poller: %s", strerror(r));
		return -r;
	}
	as->running = true;
	return 0;
}

struct cluster_agents *cluster_agents_free(struct cluster_agents *as)
{
	if (!as)
		return NULL;
	if (as->running) {
		atomic_store(&as->stop, true);
		curl_multi_wakeup(as->multi);
		pthread_join(as->thread, NULL);
	}
	for (size_t i = 0; i < as->n; i++) {
		struct agent *a = &as->a[i];
		if (a->h) {
			if (a->busy)
				curl_multi_remove_handle(as->multi, a->h);
			curl_easy_cleanup(a->h);
		}
		curl_slist_free_all(a->hdrs);
		free(a->buf);
		free(a->url);
		free(a->node_url);
		free(a->token_file_own);
		free(a->ca_file_own);
	}
	if (as->multi)
		curl_multi_cleanup(as->multi);
	free(as->a);
	pthread_mutex_destroy(&as->lock);
	free(as);
	return NULL;
}

json_t *cluster_agents_json(struct cluster_agents *as)
{
	json_t *arr = json_array();
	uint64_t now = cluster_now(as->c);

	if (!arr)
		return NULL;
	pthread_mutex_lock(&as->lock);
	for (size_t i = 0; i < as->n; i++) {
		const struct agent *a = &as->a[i];
		json_array_append_new(
			arr,
			json_pack("{s:s, s:s?, s:b, s:s?, s:o?, s:s?, s:I, s:I, s:I}", "url",
				  a->url, "node", a->node[0] ? a->node : NULL, "ok",
				  a->last_ok && !a->error[0], "error",
				  a->error[0] ? a->error : NULL, "last_ok_age_ms",
				  a->last_ok ? json_integer((json_int_t)(now - a->last_ok)) : NULL,
				  "etag", a->etag[0] ? a->etag : NULL, "requests",
				  (json_int_t)a->requests, "not_modified",
				  (json_int_t)a->not_modified, "failures",
				  (json_int_t)a->failures));
	}
	pthread_mutex_unlock(&as->lock);
	return arr;
}

/* ---- reservations ------------------------------------------------------------------------ */

struct sink {
	char buf[MAX_ERROR];
	size_t len;
};

static size_t on_sink(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n, room = sizeof(s->buf) - 1 - s->len;

	memcpy(s->buf + s->len, p, len < room ? len : room);
	s->len += len < room ? len : room;
	s->buf[s->len] = '\0';
	return len;
}

int cluster_agents_reserve(struct cluster_agents *as, const char *url, const json_t *body,
			   char *err, size_t err_len)
{
	const struct agent *a = NULL;
	struct curl_slist *h = NULL;
	struct sink sink = {0};
	char errbuf[CURL_ERROR_SIZE] = "", *text, *target = NULL;
	CURL *c;
	CURLcode cc;
	long code = 0;
	int r = 0;

	for (size_t i = 0; i < as->n && !a; i++)
		if (strcmp(as->a[i].url, url) == 0)
			a = &as->a[i];
	if (!a) {
		snprintf(err, err_len, "%s is not a configured agent", url);
		return -ENOENT;
	}
	text = json_dumps(body, JSON_COMPACT);
	c = curl_easy_init();
	h = curl_slist_append(NULL, "Content-Type: application/json");
	if (h)
		h = auth_headers(a->token_file, h, err, err_len);
	if (!text || !c || !h || asprintf(&target, "%s/v1/reservations", a->url) < 0) {
		if (h)
			snprintf(err, err_len, "out of memory");
		target = NULL;
		r = -ENOMEM;
		goto out;
	}
	common_opts(c, a->ca_file, CLUSTER_CALL_TIMEOUT, errbuf);
	curl_easy_setopt(c, CURLOPT_URL, target);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, err_len, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		r = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		goto out;
	/* pmemd's errors: {"error": {"code", "message"}}. */
	json_t *j = json_loadb(sink.buf, sink.len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
	snprintf(err, err_len, "HTTP %ld: %s", code, m ? m : "no error message");
	json_decref(j);
	r = code == 409 ? -EEXIST : code == 507 ? -ENOSPC : code == 404 ? -ENOENT : -EIO;
out:
	free(target);
	free(text);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	return r;
}
