/* resize-monitor: the auto resizer's loop: sample, decide, resize, and remember what happened. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quota/quota-volumes.h"
#include "resize/resize-kubelet.h"
#include "resize/resize-prometheus.h"
#include "resize/resize.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/errmsg.h"

#define DEFAULT_INTERVAL_MS 2000
/* Volumes handled under one hold of m->lock in a pass: short enough not to hold up the API. */
#define LOCK_RUN 512

enum result {
	R_RESIZED, /* grown by the full step */
	R_CAPPED,  /* grown, but less than the step (max or pool free) */
	R_AT_MAX,  /* wanted to grow, already at max */
	R_REFUSED, /* wanted to grow, the pool had no room */
	R_ERROR,   /* the resize itself failed */
	N_RESULTS,
};
static const char *const result_names[N_RESULTS] = {"resized", "capped", "at_max", "refused",
						    "error"};

static const char *const source_names[] = {
	[RESIZE_SOURCE_LOCAL] = "local",
	[RESIZE_SOURCE_PROMETHEUS] = "prometheus",
	[RESIZE_SOURCE_KUBELET] = "kubelet",
};

/* Pass durations, seconds: a pass over 10,000 volumes should sit in the low buckets. */
static const double pass_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
#define N_PASS_BUCKETS (sizeof(pass_buckets) / sizeof(pass_buckets[0]))

struct event {
	int64_t at_ms;
	enum result result;
	uint64_t from, to;		 /* bytes */
	uint64_t from_inodes, to_inodes; /* the inode limit (0 = none) */
	char reason[RESIZE_REASON_MAX];
};

/*
 * What the monitor remembers of one volume. Small on purpose: a pass touches every volume's
 * state, and the event ring (9 KiB) is allocated only when the volume has an event, so that
 * 10,000 quiet volumes are 10,000 short records, not ~100 MiB of rings nobody reads.
 */
struct vstate {
	char *name;
	size_t at; /* its index in m->states: where the next pass looks first */
	struct resize_history h;
	struct event *ring;	/* RESIZE_EVENTS_MAX; NULL until the first event */
	size_t n_events, next;	/* ring: next slot to write */
	int64_t last_resize_ms; /* 0 = never (pmem_autoresize_last_seconds) */
	/*
	 * What was told already, so a state is told once, not at every pass: at max, once per
	 * size (0 = not told); a refusal or a failed resize, once until a resize works or usage
	 * falls below the trigger.
	 */
	uint64_t at_max_told;
	uint64_t at_max_told_inodes; /* the same for max_inodes, per inode limit */
	enum result told;
	bool has_told;
	bool seen; /* in this pass's volume list */
};

struct resize_monitor {
	struct resize_monitor_opts o;
	struct resize_prom *prom;
	struct resize_kubelet *kubelet;
	pthread_mutex_t tick_lock; /* one pass at a time */
	pthread_mutex_t lock;	   /* everything below */
	struct strmap by_name;	   /* name → struct vstate */
	struct vstate **states;
	size_t n_states;
	/* policies, copied when the set's generation moves */
	struct resize_policy **pol;
	size_t n_pol;
	uint64_t pol_gen;
	bool have_pol;
	/* metrics */
	uint64_t results[N_RESULTS];
	uint64_t source_errors;
	uint64_t passes;
	uint64_t pass_counts[N_PASS_BUCKETS];
	double pass_sum, last_pass_seconds;
	size_t watched; /* volumes a policy selected in the last pass */
	bool source_failing;
	/* The failure last logged, its figures masked: a new kind of failure is logged again. */
	char source_failure[256];
	uint64_t grown[2]; /* resizes that grew [0] bytes, [1] the inode limit */
	/*
	 * A pass's buffers (under tick_lock), kept between passes and only grown: a pass over
	 * 10,000 volumes allocates nothing, rather than megabytes of fresh pages every 2 s.
	 */
	struct item *items;
	uint32_t *ids;
	struct quota_usage *usage;
	int *rcs;
	size_t *at;
	bool *done;
	size_t buf_cap;
	/*
	 * The volume list of the last full pass and the items built from it (m->items[0..
	 * n_items)), used again while neither the catalog (quota_volumes_generation) nor the
	 * policies moved: a quiet pass over 10,000 volumes then copies no list and matches no
	 * policy, it reads the quotas and decides. Under tick_lock.
	 */
	struct quota_volume_brief *list;
	size_t n_list, n_items;
	uint64_t list_gen, list_pol_gen;
	bool have_list;
	/* the thread */
	pthread_t thread;
	bool running, stop;
	pthread_cond_t cond;
};

const char *resize_source_name(enum resize_source s)
{
	return (unsigned)s < sizeof(source_names) / sizeof(source_names[0]) ? source_names[s]
									    : "unknown";
}

static int64_t now_ms(const struct resize_monitor *m)
{
	struct timespec ts;

	if (m->o.now_ms)
		return m->o.now_ms();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int resize_monitor_new(const struct resize_monitor_opts *o, struct resize_monitor **out, char *err,
		       size_t err_len)
{
	struct resize_monitor *m;
	int r;

	if (!o->volumes || !o->policies)
		return err_fail(-EINVAL, err, err_len,
				"the auto resizer needs volumes and policies");
	if (o->source == RESIZE_SOURCE_KUBELET && !o->kubelet)
		return err_fail(-EINVAL, err, err_len,
				"resize.kubelet: is required with source kubelet");
	if (o->source == RESIZE_SOURCE_PROMETHEUS && !o->prom)
		return err_fail(-EINVAL, err, err_len,
				"resize.prometheus: is required with source "
				"prometheus");
	m = calloc(1, sizeof(*m));
	if (!m)
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	m->o = *o;
	if (!m->o.interval_ms)
		m->o.interval_ms = DEFAULT_INTERVAL_MS;
	if (o->source == RESIZE_SOURCE_PROMETHEUS) {
		r = resize_prom_new(o->prom, &m->prom, err, err_len);
		if (r < 0) {
			free(m);
			return r;
		}
		m->o.prom = NULL; /* the source holds its own copy */
	}
	if (o->source == RESIZE_SOURCE_KUBELET) {
		r = resize_kubelet_new(o->kubelet, &m->kubelet, err, err_len);
		if (r < 0) {
			free(m);
			return r;
		}
	}
	m->o.kubelet = NULL;
	pthread_mutex_init(&m->tick_lock, NULL);
	pthread_mutex_init(&m->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&m->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	strmap_init(&m->by_name);
	*out = m;
	return 0;
}

static void vstate_free(struct vstate *s)
{
	if (s) {
		free(s->name);
		free(s->ring);
		free(s);
	}
}

static void *loop(void *arg)
{
	struct resize_monitor *m = arg;
	struct timespec next;

	/* Its own name in top -H, perf and /proc/<pid>/task: the monitor's cost apart. */
	pthread_setname_np(pthread_self(), "pmemd-resize");
	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		pthread_mutex_unlock(&m->lock);
		resize_monitor_tick(m);
		pthread_mutex_lock(&m->lock);
		/* A fixed cadence: a slow pass shortens the wait, it does not shift every pass. */
		next.tv_sec += (time_t)(m->o.interval_ms / 1000);
		next.tv_nsec += (long)(m->o.interval_ms % 1000) * 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		{
			struct timespec t;

			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec > next.tv_sec ||
			    (t.tv_sec == next.tv_sec && t.tv_nsec > next.tv_nsec))
				next = t; /* fell behind: start again from now */
		}
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &next) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int resize_monitor_start(struct resize_monitor *m, char *err, size_t err_len)
{
	int r;

	pthread_mutex_lock(&m->lock);
	if (m->running) {
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	r = pthread_create(&m->thread, NULL, loop, m);
	m->running = r == 0;
	pthread_mutex_unlock(&m->lock);
	if (r)
		return err_fail(-r, err, err_len, "cannot start the resize monitor: %s",
				strerror(r));
	log_info("resize_monitor_started", "source=%s interval_ms=%" PRIu64,
		 resize_source_name(m->o.source), m->o.interval_ms);
	return 0;
}

struct resize_monitor *resize_monitor_free(struct resize_monitor *m)
{
	if (!m)
		return NULL;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (m->running)
		pthread_join(m->thread, NULL);
	for (size_t i = 0; i < m->n_states; i++)
		vstate_free(m->states[i]);
	free(m->states);
	free(m->items);
	free(m->ids);
	free(m->usage);
	free(m->rcs);
	free(m->at);
	free(m->done);
	quota_volume_brief_free(m->list, m->n_list);
	strmap_clear(&m->by_name);
	resize_policies_snapshot_free(m->pol, m->n_pol);
	resize_prom_free(m->prom);
	resize_kubelet_free(m->kubelet);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->tick_lock);
	free(m);
	return NULL;
}

/* ---- per-volume state (under m->lock) ---- */

static struct vstate *state_of(struct resize_monitor *m, const char *name)
{
	struct vstate *s = strmap_get(&m->by_name, name), **n;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	n = s ? realloc(m->states, (m->n_states + 1) * sizeof(*n)) : NULL;
	if (!s || !n || !(s->name = strdup(name))) {
		if (n)
			m->states = n;
		vstate_free(s);
		return NULL;
	}
	m->states = n;
	if (strmap_put(&m->by_name, s->name, s) < 0) {
		vstate_free(s);
		return NULL;
	}
	s->at = m->n_states;
	m->states[m->n_states++] = s;
	return s;
}

/* Forgets volumes that are gone (deleted), so a new volume of the same name starts afresh. */
static void prune(struct resize_monitor *m)
{
	size_t k = 0;

	for (size_t i = 0; i < m->n_states; i++) {
		struct vstate *s = m->states[i];

		if (s->seen) {
			s->seen = false;
			s->at = k;
			m->states[k++] = s;
		} else {
			strmap_del(&m->by_name, s->name);
			vstate_free(s);
		}
	}
	m->n_states = k;
}

static void record(struct resize_monitor *m, struct vstate *s, int64_t at, enum result res,
		   uint64_t from, uint64_t to, uint64_t from_i, uint64_t to_i, const char *reason)
{
	char q[RESIZE_REASON_MAX + 64];

	if (!s->ring)
		s->ring = calloc(RESIZE_EVENTS_MAX, sizeof(*s->ring));
	/* Without memory for the ring the event is still counted and logged, only not kept. */
	if (s->ring) {
		struct event *e = &s->ring[s->next];

		e->at_ms = at;
		e->result = res;
		e->from = from;
		e->to = to;
		e->from_inodes = from_i;
		e->to_inodes = to_i;
		snprintf(e->reason, sizeof(e->reason), "%s", reason);
		s->next = (s->next + 1) % RESIZE_EVENTS_MAX;
		if (s->n_events < RESIZE_EVENTS_MAX)
			s->n_events++;
	}
	m->results[res]++;
	log_quote(q, sizeof(q), reason);
	if (res == R_RESIZED || res == R_CAPPED)
		log_info("resize_applied",
			 "volume=%s from=%" PRIu64 " to=%" PRIu64 " inodes_from=%" PRIu64
			 " inodes_to=%" PRIu64 " capped=%s reason=%s",
			 s->name, from, to, from_i, to_i, res == R_CAPPED ? "true" : "false", q);
	else if (res == R_ERROR)
		log_error("resize_failed",
			  "volume=%s from=%" PRIu64 " to=%" PRIu64 " inodes_from=%" PRIu64
			  " inodes_to=%" PRIu64 " reason=%s",
			  s->name, from, to, from_i, to_i, q);
	else
		log_warn(res == R_AT_MAX ? "resize_at_max" : "resize_refused",
			 "volume=%s size=%" PRIu64 " inodes=%" PRIu64 " reason=%s", s->name, from,
			 from_i, q);
}

/* ---- one pass ---- */

/* What the pass needs of one volume, read from the service's list. */
struct item {
	const struct quota_volume_brief *brief;
	struct vstate *state; /* found while listing (NULL: none yet); freed only by prune */
	const char *name, *pool;
	const json_t *labels;
	uint64_t size, inodes;
	struct resize_target target;
	const struct resize_policy *policy;
	struct resize_sample sample;
};

/* The local source: a volume's quota usage, against its quota limit. */
static void local_fill(const struct quota_volume_brief *b, const struct quota_usage *u,
		       int64_t taken, struct resize_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->valid = true;
	s->used_bytes = u->bytes_used;
	s->capacity_bytes = b->limit_bytes;
	s->taken_ms = taken;
	if (b->inodes) {
		s->has_inodes = true;
		s->used_inodes = u->inodes_used;
		s->capacity_inodes = b->inodes;
	}
}

/* Grows the pass's buffers to hold n items; 0 or -ENOMEM (what was there stays valid). */
static int buffers_reserve(struct resize_monitor *m, size_t n)
{
	size_t cap = m->buf_cap;

	if (n <= cap)
		return 0;
	while (cap < n)
		cap = cap ? cap * 2 : 256;
#define GROW(field)                                                    \
	do {                                                           \
		void *p_ = realloc(m->field, cap * sizeof(*m->field)); \
		if (!p_)                                               \
			return -ENOMEM;                                \
		m->field = p_;                                         \
	} while (0)
	GROW(items);
	GROW(ids);
	GROW(usage);
	GROW(rcs);
	GROW(at);
	GROW(done);
#undef GROW
	m->buf_cap = cap;
	return 0;
}

/*
 * The local source for every item: their quotas read pool by pool, each pool opened once
 * (quota_volumes_usage_get_many). Returns how many could not be read (their samples stay
 * invalid). The buffers were reserved for n items.
 */
static long local_sample_all(struct resize_monitor *m, struct item *items, size_t n, int64_t taken)
{
	uint32_t *ids = m->ids;
	struct quota_usage *u = m->usage;
	int *rcs = m->rcs;
	size_t *at = m->at;
	bool *done = m->done;
	long errors = 0;
	char err[256];

	memset(done, 0, n * sizeof(*done));
	for (size_t i = 0; i < n; i++) {
		const char *pool = items[i].pool;
		size_t k = 0;

		if (done[i])
			continue;
		/*
		 * This pool's items (pools are few: one scan per pool). The names point at the
		 * service's own copy, so the same pool is mostly the same pointer.
		 */
		for (size_t j = i; j < n; j++)
			if (!done[j] &&
			    (items[j].pool == pool || strcmp(items[j].pool, pool) == 0)) {
				done[j] = true;
				at[k] = j;
				ids[k++] = items[j].brief->projid;
			}
		if (quota_volumes_usage_get_many(m->o.volumes, pool, ids, k, u, rcs, err,
						 sizeof(err)) < 0) {
			log_debug("resize_usage_unread", "pool=%s volumes=%zu reason=\"%s\"", pool,
				  k, err);
			errors += (long)k;
			continue;
		}
		for (size_t x = 0; x < k; x++) {
			struct item *it = &items[at[x]];

			if (rcs[x] < 0) {
				log_debug("resize_usage_unread", "volume=%s errno=%d", it->name,
					  -rcs[x]);
				memset(&it->sample, 0, sizeof(it->sample));
				errors++;
				continue;
			}
			local_fill(it->brief, &u[x], taken, &it->sample);
		}
	}
	return errors;
}

/* Refreshes the policy copy when the set changed; 0 or -ENOMEM (the old copy stays). */
static int refresh_policies(struct resize_monitor *m)
{
	struct resize_policy **v;
	size_t n;
	uint64_t gen;

	if (m->have_pol && resize_policies_generation(m->o.policies) == m->pol_gen)
		return 0;
	if (resize_policies_snapshot(m->o.policies, &v, &n, &gen) < 0)
		return -ENOMEM;
	resize_policies_snapshot_free(m->pol, m->n_pol);
	m->pol = v;
	m->n_pol = n;
	m->pol_gen = gen;
	m->have_pol = true;
	return 0;
}

/*
 * `why` with every run of digits as one '#', after the errno: what kind of
 * failure it is. Figures that move at every pass (a timeout's milliseconds,
 * a count, the query's timestamp in a URL) must not make it news; words do
 * ("connection refused" then "HTTP 500"). A change only in a figure (HTTP
 * 500 then 502) is not told again.
 */
static void failure_kind(int r, const char *why, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "%d:", r);

	for (const char *p = why; *p && n + 1 < len; p++) {
		if (*p >= '0' && *p <= '9') {
			if (out[n - 1] == '#')
				continue;
			out[n++] = '#';
		} else {
			out[n++] = *p;
		}
	}
	out[n < len ? n : len - 1] = '\0';
}

static void source_state(struct resize_monitor *m, int r, const char *why)
{
	char q[600], kind[sizeof(m->source_failure)];

	if (r < 0) {
		m->source_errors++;
		failure_kind(r, why, kind, sizeof(kind));
		/* Told when it starts failing, and again when it fails differently. */
		if (!m->source_failing || strcmp(kind, m->source_failure) != 0)
			log_error("resize_source_failed",
				  "source=%s errno=%d reason=%s "
				  "message=\"no volume is resized until it "
				  "answers\"",
				  resize_source_name(m->o.source), -r,
				  log_quote(q, sizeof(q), why));
		m->source_failing = true;
		memcpy(m->source_failure, kind, sizeof(kind));
	} else if (m->source_failing) {
		log_info("resize_source_recovered", "source=%s", resize_source_name(m->o.source));
		m->source_failing = false;
		m->source_failure[0] = '\0';
	}
}

/*
 * The turn of a volume below its trigger, under m->lock: the decision alone, which is all
 * almost every volume needs at almost every pass. Returns false when the volume needs more
 * (its trigger holds: the pool's room, a resize or an event), for act() to do without the
 * lock. The same outcome as act() for such a volume, without a lock round trip per volume.
 */
static bool quiet_locked(struct resize_monitor *m, struct item *it, int64_t max_age, int64_t now)
{
	struct resize_volume_state vs = {
		.size_bytes = it->size, .inodes = it->inodes, .pool_free_bytes = UINT64_MAX};
	struct resize_decision d;
	struct vstate *s = it->state ? it->state : state_of(m, it->name);

	if (!s)
		return true; /* no memory for its state: act() would do nothing either */
	it->state = s;
	s->seen = true;
	resize_decide(&vs, &it->sample, it->policy, now, max_age, &s->h, &d);
	if (d.triggered && d.usable)
		return false;
	/* Neither grown, nor at max, nor refused: those need a trigger that holds. */
	if (it->sample.valid && it->sample.has_inodes) {
		s->h.has_prev = true;
		s->h.prev_used_inodes = it->sample.used_inodes;
	}
	/* Below the trigger again: a later at-max or refusal is news. */
	if (d.usable)
		s->has_told = false;
	return true;
}

/* Decides and acts for one volume; returns 1 when it was resized. */
static int act(struct resize_monitor *m, struct item *it, int64_t max_age, int64_t now)
{
	struct resize_volume_state vs = {
		.size_bytes = it->size, .inodes = it->inodes, .pool_free_bytes = UINT64_MAX};
	struct resize_decision d;
	struct resize_history h;
	struct vstate *s;
	enum result res;

	pthread_mutex_lock(&m->lock);
	s = it->state ? it->state : state_of(m, it->name);
	if (!s) {
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	s->seen = true;
	h = s->h;
	pthread_mutex_unlock(&m->lock);

	/*
	 * First without the pool's figures (the ledger's lock is not taken for
	 * the thousands of volumes below their trigger), then again with them
	 * when it would grow or is at max.
	 */
	resize_decide(&vs, &it->sample, it->policy, now, max_age, &h, &d);
	if (d.triggered && d.usable) {
		if (quota_volumes_pool_room(m->o.volumes, it->pool, &vs.pool_free_bytes,
					    &vs.block_size) < 0)
			return 0; /* the pool is not known now: the next pass sees */
		resize_decide(&vs, &it->sample, it->policy, now, max_age, &h, &d);
	}
	if (it->sample.valid && it->sample.has_inodes) {
		pthread_mutex_lock(&m->lock);
		s->h.has_prev = true;
		s->h.prev_used_inodes = it->sample.used_inodes;
		pthread_mutex_unlock(&m->lock);
	}
	if (d.action == RESIZE_NONE) {
		if (!d.at_max && !d.inodes_at_max && !d.refused) {
			/* Below the trigger again: a later at-max or refusal is news. */
			if (d.triggered || !d.usable)
				return 0;
			pthread_mutex_lock(&m->lock);
			s->has_told = false;
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		res = d.at_max || d.inodes_at_max ? R_AT_MAX : R_REFUSED;
		pthread_mutex_lock(&m->lock);
		/* Told once: the same refusal every 2 s would bury everything else. */
		if (res == R_AT_MAX &&
		    (s->at_max_told != it->size || s->at_max_told_inodes != it->inodes)) {
			record(m, s, now, res, it->size, it->size, it->inodes, it->inodes,
			       d.reason);
			s->at_max_told = it->size;
			s->at_max_told_inodes = it->inodes;
		} else if (res == R_REFUSED && (!s->has_told || s->told != res)) {
			record(m, s, now, res, it->size, it->size, it->inodes, it->inodes,
			       d.reason);
			s->has_told = true;
			s->told = res;
		}
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	{
		/*
		 * Only from the size decided on: a resize made meanwhile is never
		 * undone. The inode limit is asked for only when it grows.
		 */
		bool grow_i = d.new_inodes != it->inodes, grow_b = d.new_size_bytes != it->size;
		struct quota_resize_req rq = {.size_bytes = d.new_size_bytes,
					      .set_inodes = grow_i,
					      .inodes = d.new_inodes};
		int64_t started = now_ms(m), finished;
		json_t *out = NULL;
		char err[512], why[RESIZE_REASON_MAX + 600];
		int r = quota_volume_resize_if(m->o.volumes, it->name, &rq, it->size, &out, err,
					       sizeof(err));

		finished = now_ms(m);
		json_decref(out);
		pthread_mutex_lock(&m->lock);
		if (r == -EAGAIN) {
			/* Resized meanwhile (or the volume is busy): the next pass decides anew. */
			pthread_mutex_unlock(&m->lock);
			log_debug("resize_skipped", "volume=%s reason=\"%s\"", it->name, err);
			return 0;
		}
		if (r < 0 && (!s->has_told || s->told != R_ERROR)) {
			snprintf(why, sizeof(why), "%s; resize failed: %s", d.reason, err);
			record(m, s, finished, R_ERROR, it->size, d.new_size_bytes, it->inodes,
			       d.new_inodes, why);
			s->has_told = true;
			s->told = R_ERROR;
		} else if (r < 0) {
			m->results[R_ERROR]++; /* counted every time, told once */
		} else {
			s->h.started_ms = started;
			s->h.finished_ms = finished;
			s->h.from_bytes = it->size;
			s->h.to_bytes = d.new_size_bytes;
			s->last_resize_ms = finished;
			m->grown[0] += grow_b;
			m->grown[1] += grow_i;
			record(m, s, finished,
			       (grow_b && d.capped) || (grow_i && d.inodes_capped) ? R_CAPPED
										   : R_RESIZED,
			       it->size, d.new_size_bytes, it->inodes, d.new_inodes, d.reason);
			s->has_told = false;
			if (d.refused) {
				/* The inodes grew; the bytes could not: say that too, once. */
				record(m, s, finished, R_REFUSED, d.new_size_bytes,
				       d.new_size_bytes, d.new_inodes, d.new_inodes, d.reason);
				s->has_told = true;
				s->told = R_REFUSED;
			}
			if ((d.at_max && grow_b) || (d.inodes_at_max && grow_i)) {
				/* The step reached max: say so now, once. */
				record(m, s, finished, R_AT_MAX, d.new_size_bytes, d.new_size_bytes,
				       d.new_inodes, d.new_inodes,
				       d.at_max && grow_b && d.inodes_at_max && grow_i
					       ? "at max_size_bytes and max_inodes after this "
						 "resize"
				       : d.at_max && grow_b ? "at max_size_bytes after this resize"
							    : "at max_inodes after this resize");
				s->at_max_told = d.new_size_bytes;
				s->at_max_told_inodes = d.new_inodes;
			}
		}
		pthread_mutex_unlock(&m->lock);
		return r < 0 ? 0 : 1;
	}
}

/*
 * Lists the volumes and builds the pass's items (a policy each) into m->items, keeping the
 * list in m->list; n = how many items. 0 or -ENOMEM (the old list and items are dropped).
 */
static int list_items(struct resize_monitor *m, size_t *n_out)
{
	struct quota_volume_brief *list = NULL;
	size_t n_list = 0, n = 0, i, hint;
	struct item *items;
	uint64_t gen;
	int r;

	m->have_list = false;
	r = quota_volume_brief_list(m->o.volumes, &list, &n_list, &gen);
	if (r < 0)
		return r;
	if (buffers_reserve(m, n_list + 1) < 0) {
		quota_volume_brief_free(list, n_list);
		return -ENOMEM;
	}
	quota_volume_brief_free(m->list, m->n_list);
	m->list = list;
	m->n_list = n_list;
	items = m->items;
	/*
	 * The states are found under one lock for a run of volumes, at the index the last pass
	 * left them (the list comes in the same order pass after pass), by name only when that
	 * misses; the lock is let go now and then so that the API is not kept waiting a pass.
	 * `seen` is this list's alone: passes that used an older list again marked only theirs.
	 */
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_states; i++)
		m->states[i]->seen = false;
	for (i = 0, hint = 0; i < n_list; i++) {
		const struct quota_volume_brief *v = &list[i];
		struct item *it = &items[n];
		struct resize_volume_view view;
		struct vstate *s;

		if (i % LOCK_RUN == LOCK_RUN - 1) {
			pthread_mutex_unlock(&m->lock);
			pthread_mutex_lock(&m->lock);
		}
		*it = (struct item){
			.brief = v, .name = v->name, .pool = v->pool, .labels = v->labels};
		/* Its events stay while the volume exists, with or without a policy. */
		if (hint < m->n_states && strcmp(m->states[hint]->name, it->name) == 0)
			s = m->states[hint];
		else
			s = strmap_get(&m->by_name, it->name);
		if (s) {
			s->seen = true;
			hint = s->at + 1;
		}
		it->state = s;
		view.name = it->name;
		view.pool = it->pool;
		view.labels = it->labels;
		it->policy = resize_policy_pick(m->pol, m->n_pol, &view);
		if (!it->policy)
			continue;
		it->size = v->size_bytes;
		it->inodes = v->inodes;
		it->target.volume = it->name;
		/* Only the other sources look volumes up by PVC. */
		if (m->o.source != RESIZE_SOURCE_LOCAL) {
			it->target.pvc_namespace = json_string_value(
				json_object_get(it->labels, RESIZE_LABEL_PVC_NAMESPACE));
			it->target.pvc_name = json_string_value(
				json_object_get(it->labels, RESIZE_LABEL_PVC_NAME));
		}
		n++;
	}
	pthread_mutex_unlock(&m->lock);
	m->n_items = n;
	m->list_gen = gen;
	m->list_pol_gen = m->pol_gen;
	m->have_list = true;
	*n_out = n;
	return 0;
}

int resize_monitor_tick(struct resize_monitor *m)
{
	struct item *items = NULL;
	struct resize_target *targets = NULL;
	struct resize_sample *samples = NULL;
	size_t n = 0, i, local_errors = 0;
	int64_t taken, max_age = (int64_t)m->o.interval_ms * 2;
	double t0 = mono(), dt;
	bool full = false;
	char err[512];
	int r, resized = 0;

	pthread_mutex_lock(&m->tick_lock);
	if (refresh_policies(m) < 0) {
		r = -ENOMEM;
		goto out;
	}
	/*
	 * The time the usage is read from: every quota is read after this
	 * instant, so a sample is never dated before the resize it follows.
	 */
	taken = now_ms(m);
	/*
	 * A new list only when a volume came, went, became ready or was resized (by the API or
	 * by the last pass), or the policies changed: the generation is read before the usage,
	 * so a resize made while the quotas are read is seen by the next pass.
	 */
	full = !m->have_list || m->list_pol_gen != m->pol_gen ||
	       quota_volumes_generation(m->o.volumes) != m->list_gen;
	if (full) {
		r = list_items(m, &n);
		if (r < 0)
			goto out;
	} else {
		n = m->n_items;
	}
	items = m->items;
	if (m->o.source == RESIZE_SOURCE_LOCAL) {
		long e = local_sample_all(m, items, n, taken);

		if (e < 0) {
			r = (int)e;
			goto out;
		}
		local_errors = (size_t)e;
		/* A quota that cannot be read is that volume's source failing. */
		snprintf(err, sizeof(err), "the quota usage of %zu volumes could not be read",
			 local_errors);
		pthread_mutex_lock(&m->lock);
		source_state(m, local_errors ? -EIO : 0, err);
		m->source_errors += local_errors ? local_errors - 1 : 0;
		pthread_mutex_unlock(&m->lock);
	}
	if (m->o.source != RESIZE_SOURCE_LOCAL && n) {
		targets = calloc(n, sizeof(*targets));
		samples = calloc(n, sizeof(*samples));
		if (!targets || !samples) {
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < n; i++)
			targets[i] = items[i].target;
		r = m->prom ? resize_prom_collect(m->prom, targets, n, samples, err, sizeof(err))
			    : resize_kubelet_collect(m->kubelet, targets, n, samples, err,
						     sizeof(err));
		pthread_mutex_lock(&m->lock);
		source_state(m, r, err);
		pthread_mutex_unlock(&m->lock);
		if (r < 0) {
			/* Keep the volumes' state: a source outage is not a deletion. */
			pthread_mutex_lock(&m->lock);
			for (size_t k = 0; k < m->n_states; k++)
				m->states[k]->seen = true;
			pthread_mutex_unlock(&m->lock);
			goto prune;
		}
		for (i = 0; i < n; i++)
			items[i].sample = samples[i];
	}
	/*
	 * One clock read for the volumes below their trigger (a read per volume was 16% of a
	 * pass over 10,000 in the emulated node); read again after each resize, which takes time.
	 */
	{
		int64_t now = now_ms(m);

		pthread_mutex_lock(&m->lock);
		for (i = 0; i < n; i++) {
			if (i % LOCK_RUN == LOCK_RUN - 1) {
				pthread_mutex_unlock(&m->lock);
				pthread_mutex_lock(&m->lock);
			}
			if (quiet_locked(m, &items[i], max_age, now))
				continue;
			pthread_mutex_unlock(&m->lock);
			if (act(m, &items[i], max_age, now)) {
				resized++;
				now = now_ms(m);
			}
			pthread_mutex_lock(&m->lock);
		}
		pthread_mutex_unlock(&m->lock);
	}
	r = resized;
prune:
	pthread_mutex_lock(&m->lock);
	/* A pass over an older list saw no volume go, and marked only its items. */
	if (full)
		prune(m);
	m->watched = n;
	pthread_mutex_unlock(&m->lock);
out:
	dt = mono() - t0;
	pthread_mutex_lock(&m->lock);
	m->passes++;
	m->pass_sum += dt;
	m->last_pass_seconds = dt;
	for (i = 0; i < N_PASS_BUCKETS; i++)
		if (dt <= pass_buckets[i])
			m->pass_counts[i]++;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_unlock(&m->tick_lock);
	free(targets);
	free(samples);
	return r;
}

/* ---- what the API shows ---- */

/* "2026-11-26T06:11:39.123Z" */
static json_t *time_json(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40], out[48];

	if (ms < 0 || !gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm))
		return json_null();
	snprintf(out, sizeof(out), "%s.%03dZ", buf, (int)(ms % 1000));
	return json_string(out);
}

int resize_monitor_events(struct resize_monitor *m, const char *volume, json_t **out, char *err,
			  size_t err_len)
{
	json_t *arr = json_array(), *probe = NULL;
	struct vstate *s;
	bool ok = arr != NULL;
	int r;

	pthread_mutex_lock(&m->lock);
	s = strmap_get(&m->by_name, volume);
	for (size_t k = 0; ok && s && k < s->n_events; k++) {
		size_t at = (s->next + RESIZE_EVENTS_MAX - s->n_events + k) % RESIZE_EVENTS_MAX;
		const struct event *e = &s->ring[at];

		ok = json_array_append_new(
			     arr, json_pack("{s:o, s:s, s:I, s:I, s:I, s:I, s:s}", "time",
					    time_json(e->at_ms), "result", result_names[e->result],
					    "from_bytes", (json_int_t)e->from, "to_bytes",
					    (json_int_t)e->to, "from_inodes",
					    (json_int_t)e->from_inodes, "to_inodes",
					    (json_int_t)e->to_inodes, "reason", e->reason)) == 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (!ok) {
		json_decref(arr);
		return err_fail(-ENOMEM, err, err_len, "out of memory");
	}
	/* No history: the volume must still exist for an empty answer to mean "nothing yet". */
	if (!s) {
		r = quota_volume_get(m->o.volumes, volume, &probe, err, err_len);
		json_decref(probe);
		if (r < 0) {
			json_decref(arr);
			return r;
		}
	}
	*out = json_pack("{s:s, s:o}", "volume", volume, "events", arr);
	return *out ? 0 : err_fail(-ENOMEM, err, err_len, "out of memory");
}

/* Label values are volume names ([a-z0-9.-]): nothing to escape. */
void resize_monitor_metrics(struct resize_monitor *m, FILE *f)
{
	pthread_mutex_lock(&m->lock);
	fprintf(f, "# HELP pmem_autoresize_total Auto resizer decisions that acted or were "
		   "refused, by result.\n# TYPE pmem_autoresize_total counter\n");
	for (int i = 0; i < N_RESULTS; i++)
		fprintf(f, "pmem_autoresize_total{result=\"%s\"} %" PRIu64 "\n", result_names[i],
			m->results[i]);
	fprintf(f, "# HELP pmem_autoresize_grown_total Automatic resizes that grew a volume's "
		   "bytes or its inode limit (one resize may grow both).\n"
		   "# TYPE pmem_autoresize_grown_total counter\n");
	fprintf(f, "pmem_autoresize_grown_total{part=\"bytes\"} %" PRIu64 "\n", m->grown[0]);
	fprintf(f, "pmem_autoresize_grown_total{part=\"inodes\"} %" PRIu64 "\n", m->grown[1]);
	fprintf(f, "# HELP pmem_autoresize_last_seconds Unix time of the last automatic resize of "
		   "a volume.\n# TYPE pmem_autoresize_last_seconds gauge\n");
	for (size_t i = 0; i < m->n_states; i++)
		if (m->states[i]->last_resize_ms)
			fprintf(f, "pmem_autoresize_last_seconds{volume=\"%s\"} %.3f\n",
				m->states[i]->name, (double)m->states[i]->last_resize_ms / 1000.0);
	fprintf(f, "# HELP pmem_autoresize_source_errors_total Usage reads that failed, by "
		   "source.\n# TYPE pmem_autoresize_source_errors_total counter\n");
	fprintf(f, "pmem_autoresize_source_errors_total{source=\"%s\"} %" PRIu64 "\n",
		resize_source_name(m->o.source), m->source_errors);
	fprintf(f, "# HELP pmem_autoresize_source_up Whether the last read of the usage source "
		   "worked.\n# TYPE pmem_autoresize_source_up gauge\n");
	fprintf(f, "pmem_autoresize_source_up{source=\"%s\"} %d\n", resize_source_name(m->o.source),
		m->source_failing ? 0 : 1);
	fprintf(f, "# HELP pmem_autoresize_volumes Volumes a resize policy selected in the last "
		   "pass.\n# TYPE pmem_autoresize_volumes gauge\n");
	fprintf(f, "pmem_autoresize_volumes %zu\n", m->watched);
	fprintf(f, "# HELP pmem_autoresize_pass_seconds Duration of the monitor's passes.\n"
		   "# TYPE pmem_autoresize_pass_seconds histogram\n");
	for (size_t i = 0; i < N_PASS_BUCKETS; i++)
		fprintf(f, "pmem_autoresize_pass_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			pass_buckets[i], m->pass_counts[i]);
	fprintf(f, "pmem_autoresize_pass_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", m->passes);
	fprintf(f, "pmem_autoresize_pass_seconds_sum %.6f\n", m->pass_sum);
	fprintf(f, "pmem_autoresize_pass_seconds_count %" PRIu64 "\n", m->passes);
	pthread_mutex_unlock(&m->lock);
}
