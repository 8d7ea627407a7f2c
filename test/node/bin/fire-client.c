/* fire-client: the client of test 98 (restarts under fire): changes volumes, reservations and
 * resize policies without pause while pmemd is killed, logs every request and its outcome, and
 * at the end checks what pmemd shows against what was acknowledged. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MiB	      ((uint64_t)1024 * 1024)
#define MAX_CANDS     8
#define NAMES_PER_T   6
#define NAMES_MAX     (N_RES + N_POL)
#define MAX_THREADS   16
#define MAX_POOLS     4
#define DATA_BYTES    (128 * 1024)
#define N_RES	      4	 /* long-lived reservations, by name */
#define N_POL	      4	 /* resize policies, by name */
#define MAX_SHORT     64 /* short-lived reservations (they expire) */
#define SHORT_TTL     2	 /* seconds */
#define LONG_TTL      3600
#define EXPIRY_MARGIN 5 /* seconds past a short reservation's ttl before it must be gone */

/*
 * One state an object may be in. An answered request moves a known state to the next one; a
 * request without an answer (pmemd killed mid-request) leaves both the state before and the
 * state after possible, until a GET tells which: the candidates.
 */
struct cand {
	bool exists;
	uint64_t size;
	int pool;
	bool data; /* the data file was written (volumes) */
	uint64_t sum;
};

struct obj {
	char name[64];
	struct cand c[MAX_CANDS];
	int n;
	unsigned gen; /* data generation, so each incarnation's bytes differ */
	int home;     /* reservations: the pool they reserve in */
};

enum kind { VOLUME, RESERVATION, POLICY };

struct worker {
	int id;
	uint64_t rng;
	CURL *curl;
	struct obj objs[NAMES_MAX];
	int n_objs;
	enum kind kind_of[NAMES_MAX];
	pthread_t thread;
};

struct short_res {
	char name[64];
	int pool;
	time_t acked; /* 0: unknown outcome */
	time_t sent;
};

static const char *sock_path;
static const char *stop_file;
static const char *pools[MAX_POOLS];
static int n_pools;
static uint64_t seed;
static FILE *journal;
static pthread_mutex_t jlock = PTHREAD_MUTEX_INITIALIZER;
static int violations;
static char first_violation[512];
static struct short_res shorts[MAX_SHORT];
static int n_shorts;
static unsigned long counts[4]; /* ack, refused, unknown, down */

enum outcome { ACK, REFUSED, UNKNOWN, DOWN };
static const char *const outcome_names[] = {"ack", "refused", "unknown", "down"};

static uint64_t rnd(struct worker *w)
{
	/* xorshift64*: reproducible choices for one seed. */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ull;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void jlog(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&jlock);
	fprintf(journal, "ms=%lld ", now_ms());
	va_start(ap, fmt);
	vfprintf(journal, fmt, ap);
	va_end(ap);
	fputc('\n', journal);
	fflush(journal);
	pthread_mutex_unlock(&jlock);
}

/* A broken promise: logged, counted; the test fails on any. */
static void violation(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&jlock);
	if (!violations++)
		snprintf(first_violation, sizeof(first_violation), "%s", msg);
	fprintf(journal, "ms=%lld VIOLATION %s\n", now_ms(), msg);
	fflush(journal);
	pthread_mutex_unlock(&jlock);
	fprintf(stderr, "# VIOLATION %s\n", msg);
}

static bool stopping(void)
{
	return access(stop_file, F_OK) == 0;
}

struct buf {
	char *p;
	size_t n;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t add = size * nmemb;
	char *p = realloc(b->p, b->n + add + 1);

	if (!p)
		return 0;
	memcpy(p + b->n, data, add);
	b->n += add;
	p[b->n] = 0;
	b->p = p;
	return add;
}

/*
 * One request on a fresh connection (a reused one that pmemd's death broke would make curl
 * send the request again, and a second delete is not the first). Returns DOWN when nothing
 * was sent (no listener), UNKNOWN when it was sent and no answer came, else the status in
 * *status and the body's JSON in *out (NULL when none). The journal gets one line.
 */
static enum outcome request(struct worker *w, const char *op, const char *name, const char *method,
			    const char *path, const char *body, long *status, json_t **out)
{
	struct curl_slist *hdr = NULL;
	struct buf b = {0};
	char url[512], reason[256] = "";
	enum outcome o;
	CURLcode rc;

	*status = 0;
	*out = NULL;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_reset(w->curl);
	curl_easy_setopt(w->curl, CURLOPT_UNIX_SOCKET_PATH, sock_path);
	curl_easy_setopt(w->curl, CURLOPT_URL, url);
	curl_easy_setopt(w->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(w->curl, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(w->curl, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, &b);
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	}
	rc = curl_easy_perform(w->curl);
	curl_slist_free_all(hdr);
	if (rc == CURLE_COULDNT_CONNECT) {
		o = DOWN;
		snprintf(reason, sizeof(reason), "%s", curl_easy_strerror(rc));
	} else if (rc != CURLE_OK) {
		o = UNKNOWN;
		snprintf(reason, sizeof(reason), "%s", curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, status);
		o = *status >= 200 && *status < 300 ? ACK : REFUSED;
		if (b.p && b.n)
			*out = json_loads(b.p, 0, NULL);
		if (o == REFUSED) {
			const char *m = json_string_value(
				json_object_get(json_object_get(*out, "error"), "message"));

			snprintf(reason, sizeof(reason), "%s", m ? m : "(no message)");
		}
	}
	free(b.p);
	__atomic_add_fetch(&counts[o], 1, __ATOMIC_RELAXED);
	if (o != DOWN)
		jlog("t=%d op=%s name=%s %s %s status=%ld outcome=%s reason=\"%s\" body=%s", w->id,
		     op, name, method, path, *status, outcome_names[o], reason, body ? body : "-");
	return o;
}

/* ---- the data written into volumes ---- */

static void data_fill(unsigned char *p, size_t n, const char *name, unsigned gen)
{
	uint64_t x = seed ^ ((uint64_t)gen << 32) ^ 0x9e3779b97f4a7c15ull;

	for (const char *s = name; *s; s++)
		x = (x ^ (unsigned char)*s) * 0x100000001b3ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Writes the volume's data file through its directory (fsync'd); 0 or -errno. */
static int data_write(const char *pool, const char *name, unsigned gen, uint64_t *sum)
{
	static __thread unsigned char d[DATA_BYTES];
	char path[512];
	ssize_t n;
	int fd, r = 0;

	data_fill(d, sizeof(d), name, gen);
	snprintf(path, sizeof(path), "%s/%s/data", pool, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, d, sizeof(d));
	if (n != (ssize_t)sizeof(d) || fsync(fd) < 0)
		r = n < 0 || n == (ssize_t)sizeof(d) ? -errno : -EIO;
	close(fd);
	*sum = fnv(d, sizeof(d));
	return r;
}

/* The data file's checksum; -errno when it cannot be read whole. */
static int data_sum(const char *pool, const char *name, uint64_t *sum)
{
	static __thread unsigned char d[DATA_BYTES + 1];
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/data", pool, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, d, sizeof(d));
	close(fd);
	if (n != DATA_BYTES)
		return -EIO;
	*sum = fnv(d, DATA_BYTES);
	return 0;
}

/* ---- the model ---- */

static bool cand_eq(const struct cand *a, const struct cand *b)
{
	if (a->exists != b->exists)
		return false;
	return !a->exists ||
	       (a->size == b->size && a->pool == b->pool && a->data == b->data && a->sum == b->sum);
}

static void cand_add(struct obj *o, const struct cand *c)
{
	for (int i = 0; i < o->n; i++)
		if (cand_eq(&o->c[i], c))
			return;
	if (o->n < MAX_CANDS)
		o->c[o->n++] = *c;
}

static void cands_str(const struct obj *o, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; i < o->n && off < len; i++) {
		const struct cand *c = &o->c[i];

		if (c->exists)
			off += snprintf(buf + off, len - off, "%s%" PRIu64 "MiB@%s", i ? "|" : "",
					c->size / MiB, c->pool >= 0 ? pools[c->pool] : "-");
		else
			off += snprintf(buf + off, len - off, "%sabsent", i ? "|" : "");
	}
}

static int pool_index(const char *p)
{
	for (int i = 0; p && i < n_pools; i++)
		if (strcmp(pools[i], p) == 0)
			return i;
	return -1;
}

/*
 * What was observed (exists with size and pool, or absent) narrows the candidates to those
 * it matches; none matching is a violation, and the observation becomes the state.
 */
static void observe(struct obj *o, enum kind k, bool exists, uint64_t size, int pool,
		    const char *when)
{
	struct cand keep[MAX_CANDS];
	int n = 0;
	char was[256];

	for (int i = 0; i < o->n; i++) {
		const struct cand *c = &o->c[i];

		if (c->exists != exists)
			continue;
		if (exists && k == VOLUME && (c->size != size || c->pool != pool))
			continue;
		keep[n++] = *c;
	}
	if (n == 0) {
		cands_str(o, was, sizeof(was));
		violation("%s: %s %s is %s (%" PRIu64 " MiB in %s), acknowledged state: %s", when,
			  k == VOLUME	     ? "volume"
			  : k == RESERVATION ? "reservation"
					     : "policy",
			  o->name, exists ? "present" : "absent", size / MiB,
			  pool >= 0 ? pools[pool] : "-", was);
		keep[0] = (struct cand){.exists = exists, .size = size, .pool = pool};
		n = 1;
	}
	if (n > 1) {
		/* Two candidates alike but for the data: keep the one with data (checked). */
		for (int i = 1; i < n; i++)
			if (keep[i].data && !keep[0].data)
				keep[0] = keep[i];
		n = 1;
	}
	memcpy(o->c, keep, sizeof(keep[0]) * n);
	o->n = n;
}

static const char *kind_path(enum kind k)
{
	return k == VOLUME	  ? "/v1/volumes"
	       : k == RESERVATION ? "/v1/reservations"
				  : "/v1/resize-policies";
}

/* The one body each reservation and policy is created with (so a repeat is idempotent). */
static void obj_body(const struct obj *o, enum kind k, char *buf, size_t len)
{
	if (k == RESERVATION)
		snprintf(buf, len,
			 "{\"pod_uid\":\"%s\",\"volumes\":[{\"size_bytes\":%" PRIu64
			 ",\"pool\":\"%s\"}],"
			 "\"ttl_seconds\":%d}",
			 o->name, MiB, pools[o->home], LONG_TTL);
	else
		snprintf(buf, len,
			 "{\"name\":\"%s\",\"selector\":{\"labels\":{\"fire-none\":\"%s\"}},"
			 "\"trigger\":{\"used_percent\":90},\"step\":{\"percent\":50},"
			 "\"max_size_bytes\":%" PRIu64 "}",
			 o->name, o->name, 64 * MiB);
}

/* GET until answered; false when stopping first. */
static bool resolve(struct worker *w, struct obj *o, enum kind k, const char *when)
{
	char path[256];
	long st;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s", kind_path(k), o->name);
	while (!stopping()) {
		enum outcome r = request(w, "get", o->name, "GET", path, NULL, &st, &j);

		if (r == ACK && st == 200) {
			uint64_t size = json_integer_value(json_object_get(j, "size_bytes"));
			int pool = pool_index(json_string_value(json_object_get(j, "pool")));

			if (k == VOLUME && pool < 0)
				violation("%s: volume %s is in pool %s, not one of the test's",
					  when, o->name,
					  json_string_value(json_object_get(j, "pool")));
			observe(o, k, true, size, pool, when);
			json_decref(j);
			return true;
		}
		json_decref(j);
		if (r == REFUSED && st == 404) {
			observe(o, k, false, 0, -1, when);
			return true;
		}
		if (r == REFUSED && st != 503)
			violation("%s: GET %s answered %ld", when, path, st);
		usleep(100 * 1000);
	}
	return false;
}

/* The data of a volume known to exist: checked when written before, else written now. */
static void volume_data(struct worker *w, struct obj *o)
{
	struct cand *c = &o->c[0];
	uint64_t sum;
	int r;

	if (o->n != 1 || !c->exists)
		return;
	if (c->data) {
		r = data_sum(pools[c->pool], o->name, &sum);
		if (r < 0)
			violation("volume %s: its data file cannot be read whole (%s)", o->name,
				  strerror(-r));
		else if (sum != c->sum)
			violation("volume %s: its data changed (checksum %016" PRIx64
				  ", written %016" PRIx64 ")",
				  o->name, sum, c->sum);
		return;
	}
	r = data_write(pools[c->pool], o->name, ++o->gen, &sum);
	if (r < 0) {
		violation("volume %s (acknowledged): writing its data fails: %s", o->name,
			  strerror(-r));
		return;
	}
	c->data = true;
	c->sum = sum;
	jlog("t=%d op=write name=%s pool=%s bytes=%d sum=%016" PRIx64, w->id, o->name,
	     pools[c->pool], DATA_BYTES, sum);
}

/* A size for a create or resize: 4..16 MiB, never `not` (so a resize changes it). */
static uint64_t pick_size(struct worker *w, uint64_t not )
{
	uint64_t s;

	do
		s = (4 + rnd(w) % 13) * MiB;
	while (s == not );
	return s;
}

/* Refusals any request may get while pmemd starts (503) or is full (507): nothing changed. */
static bool harmless(long st)
{
	return st == 503 || st == 507;
}

static void volume_step(struct worker *w, struct obj *o)
{
	struct cand cur = o->c[0], next = cur;
	char body[512], path[256];
	enum outcome r = ACK;
	json_t *j = NULL;
	long st;
	uint64_t x = rnd(w) % 10;

	snprintf(path, sizeof(path), "/v1/volumes/%s", o->name);
	if (!cur.exists || x == 9) {
		/* A create; on a volume that exists, the same request again (idempotent: 200). */
		if (!cur.exists) {
			next = (struct cand){.exists = true,
					     .size = pick_size(w, 0),
					     .pool = (int)(rnd(w) % n_pools)};
		}
		snprintf(body, sizeof(body),
			 "{\"name\":\"%s\",\"size_bytes\":%" PRIu64 ",\"pool\":\"%s\"}", o->name,
			 next.size, pools[next.pool]);
		r = request(w, cur.exists ? "create-again" : "create", o->name, "POST",
			    "/v1/volumes", body, &st, &j);
		if (r == ACK) {
			uint64_t size = json_integer_value(json_object_get(j, "size_bytes"));
			const char *pool = json_string_value(json_object_get(j, "pool"));

			if (st != (cur.exists ? 200 : 201))
				violation("create %s answered %ld, the volume %s", o->name, st,
					  cur.exists ? "existing" : "absent before");
			if (size != next.size || pool_index(pool) != next.pool)
				violation("create %s of %" PRIu64 " in %s answered %" PRIu64
					  " in %s",
					  o->name, next.size, pools[next.pool], size,
					  pool ? pool : "-");
			o->c[0] = next;
			volume_data(w, o);
		} else if (r == REFUSED && !harmless(st)) {
			violation("create %s (%s) refused with %ld", o->name,
				  cur.exists ? "existing" : "absent", st);
		} else if (r == UNKNOWN) {
			cand_add(o, &next);
		}
	} else if (x < 5) {
		next.size = pick_size(w, cur.size);
		snprintf(body, sizeof(body), "{\"size_bytes\":%" PRIu64 "}", next.size);
		snprintf(path, sizeof(path), "/v1/volumes/%s/resize", o->name);
		r = request(w, "resize", o->name, "POST", path, body, &st, &j);
		if (r == ACK) {
			if ((uint64_t)json_integer_value(json_object_get(j, "size_bytes")) !=
			    next.size)
				violation("resize %s to %" PRIu64 " answered size_bytes %" PRIu64,
					  o->name, next.size,
					  (uint64_t)json_integer_value(
						  json_object_get(j, "size_bytes")));
			o->c[0] = next;
		} else if (r == REFUSED && !harmless(st)) {
			violation("resize %s (acknowledged present) refused with %ld", o->name, st);
		} else if (r == UNKNOWN) {
			cand_add(o, &next);
		}
	} else if (x < 8) {
		next = (struct cand){.exists = false};
		r = request(w, "delete", o->name, "DELETE", path, NULL, &st, &j);
		if (r == ACK) {
			o->c[0] = next;
		} else if (r == REFUSED && !harmless(st)) {
			violation("delete %s (acknowledged present) refused with %ld", o->name, st);
		} else if (r == UNKNOWN) {
			cand_add(o, &next);
		}
	} else {
		resolve(w, o, VOLUME, "a GET");
		volume_data(w, o);
	}
	json_decref(j);
	if (r == DOWN)
		usleep(50 * 1000);
}

static void obj_step(struct worker *w, struct obj *o, enum kind k)
{
	struct cand cur = o->c[0], next = cur;
	char body[768], path[256];
	enum outcome r = ACK;
	json_t *j = NULL;
	long st;
	uint64_t x = rnd(w) % 4;

	snprintf(path, sizeof(path), "%s/%s", kind_path(k), o->name);
	if (!cur.exists || x == 0) {
		next.exists = true;
		obj_body(o, k, body, sizeof(body));
		r = request(w, cur.exists ? "create-again" : "create", o->name, "POST",
			    kind_path(k), body, &st, &j);
		if (r == ACK) {
			if (st != (cur.exists ? 200 : 201))
				violation("create %s answered %ld, it being %s", o->name, st,
					  cur.exists ? "present" : "absent before");
			o->c[0] = next;
		} else if (r == REFUSED && !harmless(st)) {
			violation("create %s (%s) refused with %ld", o->name,
				  cur.exists ? "present" : "absent", st);
		} else if (r == UNKNOWN) {
			cand_add(o, &next);
		}
	} else if (x == 1) {
		next.exists = false;
		r = request(w, "delete", o->name, "DELETE", path, NULL, &st, &j);
		if (r == ACK) {
			o->c[0] = next;
		} else if (r == REFUSED && !harmless(st)) {
			violation("delete %s (acknowledged present) refused with %ld", o->name, st);
		} else if (r == UNKNOWN) {
			cand_add(o, &next);
		}
	} else {
		resolve(w, o, k, "a GET");
	}
	json_decref(j);
	if (r == DOWN)
		usleep(50 * 1000);
}

/* A reservation that expires by itself (never deleted by the client). */
static void short_step(struct worker *w)
{
	struct short_res *s;
	char body[512];
	enum outcome r;
	json_t *j;
	long st;

	if (n_shorts >= MAX_SHORT)
		return;
	s = &shorts[n_shorts];
	snprintf(s->name, sizeof(s->name), "fire-s%d", n_shorts);
	s->pool = (int)(rnd(w) % n_pools);
	snprintf(body, sizeof(body),
		 "{\"pod_uid\":\"%s\",\"volumes\":[{\"size_bytes\":%" PRIu64 ",\"pool\":\"%s\"}],"
		 "\"ttl_seconds\":%d}",
		 s->name, MiB, pools[s->pool], SHORT_TTL);
	s->sent = time(NULL);
	r = request(w, "create-short", s->name, "POST", "/v1/reservations", body, &st, &j);
	json_decref(j);
	if (r == DOWN || (r == REFUSED && harmless(st))) {
		usleep(50 * 1000);
		return;
	}
	if (r == REFUSED)
		violation("create %s refused with %ld", s->name, st);
	s->acked = r == ACK ? time(NULL) : 0;
	n_shorts++;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	while (!stopping()) {
		int i = (int)(rnd(w) % w->n_objs);
		struct obj *o = &w->objs[i];

		/* An earlier request without answer: find out first what it did. */
		if (o->n > 1) {
			resolve(w, o, w->kind_of[i], "after an unknown outcome");
			if (w->kind_of[i] == VOLUME)
				volume_data(w, o);
			continue;
		}
		if (w->kind_of[i] == VOLUME)
			volume_step(w, o);
		else if (rnd(w) % 8 == 0)
			short_step(w);
		else
			obj_step(w, o, w->kind_of[i]);
	}
	return NULL;
}

/* ---- the checks at the end ---- */

static int checks, failed;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	failed += !ok;
	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static json_t *get_json(struct worker *w, const char *path)
{
	json_t *j = NULL;
	long st;

	for (int i = 0; i < 600; i++) {
		enum outcome r = request(w, "final", "-", "GET", path, NULL, &st, &j);

		if (r == ACK && st == 200)
			return j;
		json_decref(j);
		j = NULL;
		usleep(100 * 1000);
	}
	return NULL;
}

static json_t *find_by(json_t *arr, const char *key, const char *val)
{
	size_t i;
	json_t *e;

	json_array_foreach (arr, i, e) {
		const char *s = json_string_value(json_object_get(e, key));

		if (s && strcmp(s, val) == 0)
			return e;
	}
	return NULL;
}

static int verify(struct worker *ws, int nw)
{
	struct worker *w = &ws[nw]; /* the checker's own handle */
	json_t *vols, *pl, *res, *pols, *e;
	int v0 = violations, unresolved = 0, present = 0, absent = 0, sums = 0, bad_limit = 0;
	int data_bad = 0, ours, res_present = 0, res_absent = 0, expired = 0, pol_present = 0,
	    pol_absent = 0;
	uint64_t alloc[MAX_POOLS] = {0}, reserved[MAX_POOLS] = {0}, overhead[MAX_POOLS] = {0};
	char was[256];
	time_t now;
	size_t i, k;

	if (!(vols = get_json(w, "/readyz"))) {
		check(false, "pmemd is ready for the final checks");
		return 1;
	}
	json_decref(vols);
	vols = get_json(w, "/v1/volumes");
	pl = get_json(w, "/v1/pools");
	res = get_json(w, "/v1/reservations");
	pols = get_json(w, "/v1/resize-policies");
	now = time(NULL);
	if (!vols || !pl || !res || !pols) {
		check(false, "the final GETs answer");
		return 1;
	}
	check(v0 == 0,
	      "during the run every answer agreed with what was acknowledged before "
	      "(%d violations%s%s)",
	      v0, v0 ? "; first: " : "", first_violation);
	check(counts[UNKNOWN] > 0,
	      "requests: %lu acknowledged, %lu refused, %lu unknown (pmemd killed mid-request), "
	      "%lu not sent (pmemd down)",
	      counts[ACK], counts[REFUSED], counts[UNKNOWN], counts[DOWN]);

	/* Volumes: each name in one of its possible states, whole. */
	for (int t = 0; t < nw; t++)
		for (int n = 0; n < ws[t].n_objs; n++) {
			struct obj *o = &ws[t].objs[n];
			int before = violations;

			if (ws[t].kind_of[n] != VOLUME)
				continue;
			unresolved += o->n > 1;
			cands_str(o, was, sizeof(was));
			e = find_by(json_object_get(vols, "volumes"), "name", o->name);
			if (e) {
				const char *p = json_string_value(json_object_get(e, "pool"));
				struct stat sb;
				char dir[512];

				observe(o, VOLUME, true,
					json_integer_value(json_object_get(e, "size_bytes")),
					pool_index(p), "at the end");
				snprintf(dir, sizeof(dir), "%s/%s", p ? p : "-", o->name);
				if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
					violation("at the end: volume %s is listed but %s is no "
						  "directory",
						  o->name, dir);
				if (o->c[0].data) {
					int vb = violations;

					sums++;
					volume_data(w, o);
					data_bad += violations != vb;
				}
			} else {
				observe(o, VOLUME, false, 0, -1, "at the end");
				for (int p = 0; p < n_pools; p++) {
					char dir[512];

					snprintf(dir, sizeof(dir), "%s/%s", pools[p], o->name);
					if (access(dir, F_OK) == 0)
						violation(
							"at the end: %s exists, the volume is not "
							"listed",
							dir);
				}
			}
			if (violations != before)
				printf("# %s: acknowledged %s\n", o->name, was);
			present += !!e;
			absent += !e;
		}
	check(violations - data_bad == v0,
	      "volumes: %d present with their last acknowledged size and pool (a resize without "
	      "answer: old or new), %d absent as acknowledged (%d without answer at the end, each "
	      "in exactly one of its states), directories as listed",
	      present, absent, unresolved);
	check(data_bad == 0, "volumes: the data of %d volumes is intact (checksums; %d differ)",
	      sums, data_bad);
	v0 = violations;
	ours = 0;
	json_array_foreach (json_object_get(vols, "volumes"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		int p = pool_index(json_string_value(json_object_get(e, "pool")));

		if (name && strncmp(name, "fire-t", 6) == 0)
			ours++;
		else
			violation("at the end: volume %s is listed; no client made it", name);
		if (p >= 0)
			alloc[p] += json_integer_value(json_object_get(e, "limit_bytes"));
	}
	check(violations == v0, "the catalog holds only the clients' volumes (%d)", ours);

	/* Capacity: allocated_bytes is the sum of the quotas; each quota is the size plus the
	 * filesystem's own blocks (docs/api.md, Sizes: ext4 2 blocks, xfs 4). */
	for (int p = 0; p < n_pools; p++) {
		json_t *po = find_by(json_object_get(pl, "pools"), "name", pools[p]);
		const char *fs = json_string_value(json_object_get(po, "fstype"));

		overhead[p] = fs && strcmp(fs, "xfs") == 0 ? 4 * 4096 : 2 * 4096;
	}
	json_array_foreach (json_object_get(vols, "volumes"), i, e) {
		int p = pool_index(json_string_value(json_object_get(e, "pool")));
		uint64_t size = json_integer_value(json_object_get(e, "size_bytes"));
		uint64_t lim = json_integer_value(json_object_get(e, "limit_bytes"));

		if (p >= 0 && lim != size + overhead[p]) {
			bad_limit++;
			printf("# %s: limit_bytes %" PRIu64 ", size_bytes %" PRIu64 "\n",
			       json_string_value(json_object_get(e, "name")), lim, size);
		}
	}
	check(bad_limit == 0,
	      "every volume's limit_bytes is its size_bytes + the filesystem's "
	      "overhead (%d differ)",
	      bad_limit);
	json_array_foreach (json_object_get(res, "reservations"), i, e) {
		json_t *rv;

		json_array_foreach (json_object_get(e, "volumes"), k, rv) {
			int p = pool_index(json_string_value(json_object_get(rv, "pool")));

			if (p >= 0 && !json_is_true(json_object_get(rv, "consumed")))
				reserved[p] +=
					json_integer_value(json_object_get(rv, "reserved_bytes"));
		}
	}
	for (int p = 0; p < n_pools; p++) {
		json_t *po = find_by(json_object_get(pl, "pools"), "name", pools[p]);
		uint64_t a = json_integer_value(json_object_get(po, "allocated_bytes"));
		uint64_t r = json_integer_value(json_object_get(po, "reserved_bytes"));

		check(a == alloc[p],
		      "%s: allocated_bytes %" PRIu64
		      " is the sum of its volumes' limit_bytes %" PRIu64,
		      pools[p], a, alloc[p]);
		check(r == reserved[p],
		      "%s: reserved_bytes %" PRIu64 " is the sum of its reservations' %" PRIu64,
		      pools[p], r, reserved[p]);
	}

	/* Reservations and policies: as acknowledged. */
	v0 = violations;
	for (int n = 0; n < ws[nw - 1].n_objs; n++) {
		struct obj *o = &ws[nw - 1].objs[n];
		enum kind kd = ws[nw - 1].kind_of[n];
		json_t *arr = json_object_get(kd == RESERVATION ? res : pols,
					      kd == RESERVATION ? "reservations" : "policies");

		e = find_by(arr, kd == RESERVATION ? "pod_uid" : "name", o->name);
		observe(o, kd, !!e, 0, -1, "at the end");
		if (kd == RESERVATION) {
			res_present += !!e;
			res_absent += !e;
		} else {
			pol_present += !!e;
			pol_absent += !e;
		}
	}
	for (int s = 0; s < n_shorts; s++) {
		bool listed = find_by(json_object_get(res, "reservations"), "pod_uid",
				      shorts[s].name) != NULL;

		/* Gone once its ttl is well past (counted from the answer: the server's clock
		 * started before it); still there or gone otherwise. */
		if (shorts[s].acked && now > shorts[s].acked + SHORT_TTL + EXPIRY_MARGIN) {
			expired++;
			if (listed)
				violation(
					"at the end: reservation %s (ttl %d s, acknowledged %ld s "
					"ago) is still listed",
					shorts[s].name, SHORT_TTL, (long)(now - shorts[s].acked));
		}
	}
	json_array_foreach (json_object_get(res, "reservations"), i, e) {
		const char *u = json_string_value(json_object_get(e, "pod_uid"));

		if (!u || strncmp(u, "fire-", 5) != 0)
			violation("at the end: reservation %s is listed; no client made it", u);
	}
	json_array_foreach (json_object_get(pols, "policies"), i, e) {
		const char *u = json_string_value(json_object_get(e, "name"));

		if (!u || strncmp(u, "fire-p", 6) != 0)
			violation("at the end: policy %s is listed; no client made it", u);
	}
	check(violations == v0,
	      "reservations: %d present and %d absent as acknowledged, %d short-lived ones "
	      "expired and gone (%d made); policies: %d present and %d absent as acknowledged",
	      res_present, res_absent, expired, n_shorts, pol_present, pol_absent);
	json_decref(vols);
	json_decref(pl);
	json_decref(res);
	json_decref(pols);
	return failed ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: fire-client SOCKET SEED JOURNAL STOP_FILE THREADS POOL...\n"
			"  THREADS volume clients (names fire-t<i>-<k>) and one client of "
			"reservations and resize policies run until STOP_FILE exists; then the "
			"checks print TAP lines. Exit 0 when all passed.\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct worker *ws;
	int nt, rc;

	if (argc < 7)
		return usage();
	sock_path = argv[1];
	seed = strtoull(argv[2], NULL, 0);
	stop_file = argv[4];
	nt = atoi(argv[5]);
	if (nt < 1 || nt > MAX_THREADS || argc - 6 > MAX_POOLS)
		return usage();
	for (int i = 6; i < argc; i++)
		pools[n_pools++] = argv[i];
	journal = fopen(argv[3], "a");
	if (!journal) {
		perror(argv[3]);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* nt volume workers, one of reservations and policies, one handle for the checks. */
	ws = calloc(nt + 2, sizeof(*ws));
	if (!ws)
		return 2;
	for (int t = 0; t < nt + 2; t++) {
		struct worker *w = &ws[t];

		w->id = t;
		w->rng = seed * 0x9e3779b97f4a7c15ull + (uint64_t)t * 0x632be59bd9b4e019ull + 1;
		w->curl = curl_easy_init();
		if (!w->curl)
			return 2;
		if (t < nt) {
			w->n_objs = NAMES_PER_T;
			for (int k = 0; k < NAMES_PER_T; k++) {
				snprintf(w->objs[k].name, sizeof(w->objs[k].name), "fire-t%d-%d", t,
					 k);
				w->objs[k].n = 1;
				w->kind_of[k] = VOLUME;
			}
		} else if (t == nt) {
			w->n_objs = N_RES + N_POL;
			for (int k = 0; k < N_RES + N_POL; k++) {
				bool r = k < N_RES;

				snprintf(w->objs[k].name, sizeof(w->objs[k].name), "fire-%c%d",
					 r ? 'r' : 'p', r ? k : k - N_RES);
				w->objs[k].n = 1;
				w->objs[k].home = k % n_pools;
				w->kind_of[k] = r ? RESERVATION : POLICY;
			}
		}
	}
	jlog("event=start seed=%" PRIu64 " threads=%d", seed, nt);
	for (int t = 0; t <= nt; t++)
		if (pthread_create(&ws[t].thread, NULL, worker_run, &ws[t]) != 0)
			return 2;
	for (int t = 0; t <= nt; t++)
		pthread_join(ws[t].thread, NULL);
	jlog("event=stopped");
	rc = verify(ws, nt + 1);
	for (int t = 0; t < nt + 2; t++)
		curl_easy_cleanup(ws[t].curl);
	free(ws);
	curl_global_cleanup();
	fclose(journal);
	return rc;
}
