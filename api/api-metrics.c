/* api-metrics: request counters and latency histograms, rendered as Prometheus text. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "build/version.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				 0.1,	 0.25,	0.5,	1,     2.5,  5,	    10};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/*
 * Methods are a closed set so that a client sending random verbs cannot grow
 * the series without bound; the same goes for paths, which are labelled by
 * route pattern and never by the raw path.
 */
static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OTHER"};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

struct counter {
	size_t route;
	size_t method;
	unsigned status;
	uint64_t count;
};

struct histogram {
	uint64_t counts[N_BUCKETS];
	uint64_t count;
	double sum;
};

struct api_metrics {
	pthread_mutex_t lock;
	const struct api_route *routes;
	size_t n_routes;
	struct counter *counters;
	size_t n_counters, cap_counters;
	struct histogram *hist; /* per route, plus one for unmatched */
	uint64_t total;
};

struct api_metrics *api_metrics_new(const struct api_route *routes, size_t n_routes)
{
	struct api_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->hist = calloc(n_routes + 1, sizeof(*m->hist));
	if (!m->hist) {
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->routes = routes;
	m->n_routes = n_routes;
	return m;
}

struct api_metrics *api_metrics_free(struct api_metrics *m)
{
	if (!m)
		return NULL;
	pthread_mutex_destroy(&m->lock);
	free(m->counters);
	free(m->hist);
	free(m);
	return NULL;
}

static size_t method_index(const char *method)
{
	for (size_t i = 0; i + 1 < N_METHODS; i++)
		if (strcmp(methods[i], method) == 0)
			return i;
	return N_METHODS - 1;
}

void api_metrics_observe(struct api_metrics *m, size_t route, const char *method, unsigned status,
			 double seconds)
{
	size_t mi = method_index(method);
	struct counter *c = NULL;

	if (route > m->n_routes)
		route = m->n_routes;
	pthread_mutex_lock(&m->lock);
	m->total++;
	for (size_t i = 0; i < m->n_counters; i++) {
		struct counter *k = &m->counters[i];
		if (k->route == route && k->method == mi && k->status == status) {
			c = k;
			break;
		}
	}
	if (!c && m->n_counters == m->cap_counters) {
		size_t cap = m->cap_counters ? m->cap_counters * 2 : 32;
		struct counter *n = realloc(m->counters, cap * sizeof(*n));
		if (n) {
			m->counters = n;
			m->cap_counters = cap;
		}
	}
	if (!c && m->n_counters < m->cap_counters) {
		c = &m->counters[m->n_counters++];
		*c = (struct counter){.route = route, .method = mi, .status = status};
	}
	if (c)
		c->count++;
	struct histogram *h = &m->hist[route];
	for (size_t b = 0; b < N_BUCKETS; b++)
		if (seconds <= buckets[b])
			h->counts[b]++;
	h->count++;
	h->sum += seconds;
	pthread_mutex_unlock(&m->lock);
}

uint64_t api_metrics_total(struct api_metrics *m)
{
	uint64_t t;

	pthread_mutex_lock(&m->lock);
	t = m->total;
	pthread_mutex_unlock(&m->lock);
	return t;
}

static const char *route_label(const struct api_metrics *m, size_t route)
{
	return route < m->n_routes ? m->routes[route].pattern : "unmatched";
}

char *api_metrics_render(struct api_metrics *m, double uptime_seconds, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fprintf(f,
		"# HELP pmemd_build_info Build information; the value is always 1.\n"
		"# TYPE pmemd_build_info gauge\n"
		"pmemd_build_info{version=\"%s\",git_commit=\"%s\"} 1\n",
		PMEMD_VERSION, PMEMD_GIT_COMMIT);
	fprintf(f,
		"# HELP pmemd_uptime_seconds Seconds since pmemd started.\n"
		"# TYPE pmemd_uptime_seconds gauge\n"
		"pmemd_uptime_seconds %.3f\n",
		uptime_seconds);

	pthread_mutex_lock(&m->lock);
	fprintf(f, "# HELP pmemd_http_requests_total HTTP requests by route, method and status.\n"
		   "# TYPE pmemd_http_requests_total counter\n");
	for (size_t i = 0; i < m->n_counters; i++) {
		const struct counter *c = &m->counters[i];
		fprintf(f,
			"pmemd_http_requests_total{route=\"%s\",method=\"%s\",status=\"%u\"} "
			"%llu\n",
			route_label(m, c->route), methods[c->method], c->status,
			(unsigned long long)c->count);
	}
	fprintf(f, "# HELP pmemd_http_request_duration_seconds HTTP request latency by route.\n"
		   "# TYPE pmemd_http_request_duration_seconds histogram\n");
	for (size_t r = 0; r <= m->n_routes; r++) {
		const struct histogram *h = &m->hist[r];
		const char *label = route_label(m, r);
		if (h->count == 0)
			continue;
		for (size_t b = 0; b < N_BUCKETS; b++)
			fprintf(f,
				"pmemd_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"}"
				" "
				"%llu\n",
				label, buckets[b], (unsigned long long)h->counts[b]);
		fprintf(f,
			"pmemd_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
			"%llu\n",
			label, (unsigned long long)h->count);
		fprintf(f, "pmemd_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", label,
			h->sum);
		fprintf(f, "pmemd_http_request_duration_seconds_count{route=\"%s\"} %llu\n", label,
			(unsigned long long)h->count);
	}
	pthread_mutex_unlock(&m->lock);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}
