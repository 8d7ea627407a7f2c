/* quota-catalog: volume records (encode/decode) and the catalog rebuilt from a scan of the pools.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota/quota-model-private.h"

/* ---- records ---- */

int quota_meta_encode(uint64_t size_bytes, uint64_t inodes, int64_t created,
		      const struct quota_labels *labels, struct quota_meta_text *out, char *err,
		      size_t err_len)
{
	json_t *obj;
	char *text;
	size_t n;

	if (size_bytes == 0 || size_bytes > INT64_MAX)
		return qm_fail(-EINVAL, err, err_len, "size_bytes %" PRIu64 " is out of range",
			       size_bytes);
	if (inodes > INT64_MAX)
		return qm_fail(-EINVAL, err, err_len, "inodes %" PRIu64 " is out of range", inodes);
	if (created < 0)
		return qm_fail(-EINVAL, err, err_len, "created %" PRId64 " is before 1970",
			       created);
	obj = quota_labels_to_json(labels);
	text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(obj);
	if (!text)
		return qm_fail(-ENOMEM, err, err_len, "out of memory");
	n = strlen(text);
	if (n > QUOTA_LABELS_TEXT_MAX) {
		free(text);
		return qm_fail(-E2BIG, err, err_len, "labels are %zu bytes as JSON, at most %d", n,
			       QUOTA_LABELS_TEXT_MAX);
	}
	snprintf(out->size_bytes, sizeof(out->size_bytes), "%" PRIu64, size_bytes);
	snprintf(out->inodes, sizeof(out->inodes), "%" PRIu64, inodes);
	snprintf(out->created, sizeof(out->created), "%" PRId64, created);
	memcpy(out->labels, text, n + 1);
	free(text);
	return 0;
}

/* A record's decimal: digits only, no sign, no leading zero, at most `max`. */
static int parse_dec(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min)
		return -ERANGE;
	*out = v;
	return 0;
}

struct record {
	uint64_t size_bytes, inodes;
	int64_t created;
	bool has_created;
	struct quota_labels labels;
};

/* The record of a root entry that has size_bytes; -EINVAL with why when it is damaged. */
static int decode_meta(const struct quota_meta *m, struct record *r, char *why, size_t len)
{
	uint64_t v;
	char q[80];

	memset(r, 0, sizeof(*r));
	if (parse_dec(m->size_bytes, 1, INT64_MAX, &r->size_bytes) < 0)
		return qm_fail(-EINVAL, why, len, "size_bytes %s is not a positive integer",
			       qm_quote(q, sizeof(q), m->size_bytes, strlen(m->size_bytes)));
	if (m->inodes && parse_dec(m->inodes, 0, INT64_MAX, &r->inodes) < 0)
		return qm_fail(-EINVAL, why, len, "inodes %s is not an integer",
			       qm_quote(q, sizeof(q), m->inodes, strlen(m->inodes)));
	if (m->created) {
		if (parse_dec(m->created, 0, INT64_MAX, &v) < 0)
			return qm_fail(-EINVAL, why, len, "created %s is not a time in seconds",
				       qm_quote(q, sizeof(q), m->created, strlen(m->created)));
		r->created = (int64_t)v;
		r->has_created = true;
	}
	if (m->labels) {
		json_error_t jerr;
		json_t *obj = json_loads(m->labels, JSON_REJECT_DUPLICATES, &jerr);
		int ret;

		if (!obj)
			return qm_fail(-EINVAL, why, len, "labels are not JSON: %s", jerr.text);
		ret = qm_labels_from_json(obj, "labels", &r->labels, why, len);
		json_decref(obj);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- rebuild ---- */

/* Repairs and issues carry their pool's scan index while building, for a stable order. */
struct repair_b {
	size_t pool;
	struct quota_repair r;
};

struct issue_b {
	size_t pool;
	struct quota_issue i;
};

/* A root entry that has a complete record, before the node-wide name check. */
struct cand {
	size_t pool;
	const struct quota_dirent *d;
	struct record rec;
	bool dup_name;
};

struct build {
	const struct quota_scan *scan;
	struct repair_b *rep;
	size_t n_rep, cap_rep;
	struct issue_b *iss;
	size_t n_iss, cap_iss;
	struct cand *cand;
	size_t n_cand, cap_cand;
};

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	void *nv;
	size_t c;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : 16;
	nv = realloc(v, c * size);
	if (nv)
		*cap = c;
	return nv;
}

static int add_issue(struct build *b, size_t pool, enum quota_issue_level level,
		     enum quota_issue_where where, const struct quota_dirent *d, const char *fmt,
		     ...) __attribute__((format(printf, 6, 7)));

static int add_issue(struct build *b, size_t pool, enum quota_issue_level level,
		     enum quota_issue_where where, const struct quota_dirent *d, const char *fmt,
		     ...)
{
	struct issue_b *v = grow(b->iss, &b->cap_iss, b->n_iss, sizeof(*b->iss));
	struct quota_issue *i;
	va_list ap;

	if (!v)
		return -ENOMEM;
	b->iss = v;
	i = &v[b->n_iss].i;
	memset(&v[b->n_iss], 0, sizeof(v[b->n_iss]));
	v[b->n_iss].pool = pool;
	i->level = level;
	i->where = where;
	i->projid = d->projid;
	snprintf(i->name, sizeof(i->name), "%s", d->name);
	va_start(ap, fmt);
	vsnprintf(i->message, sizeof(i->message), fmt, ap);
	va_end(ap);
	b->n_iss++;
	return 0;
}

static struct quota_repair *add_repair(struct build *b, size_t pool, enum quota_repair_kind kind,
				       uint32_t projid)
{
	struct repair_b *v = grow(b->rep, &b->cap_rep, b->n_rep, sizeof(*b->rep));

	if (!v)
		return NULL;
	b->rep = v;
	memset(&v[b->n_rep], 0, sizeof(v[b->n_rep]));
	v[b->n_rep].pool = pool;
	v[b->n_rep].r.kind = kind;
	v[b->n_rep].r.projid = projid;
	return &v[b->n_rep++].r;
}

static bool projid_ours(uint32_t id)
{
	return id >= QUOTA_PROJID_MIN && id <= QUOTA_PROJID_MAX;
}

/* The filesystem's and pmemd's own entries of a pool root: not volumes, not worth a word. */
static bool root_reserved(const char *name)
{
	return strcmp(name, QUOTA_META_DIR) == 0 || strcmp(name, "lost+found") == 0;
}

static int dirent_ptr_cmp(const void *a, const void *b)
{
	const struct quota_dirent *x = *(const struct quota_dirent *const *)a;
	const struct quota_dirent *y = *(const struct quota_dirent *const *)b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->projid < y->projid ? -1 : x->projid > y->projid;
}

static int limit_cmp(const void *a, const void *b)
{
	const struct quota_scan_limit *x = a, *y = b;

	return x->projid < y->projid ? -1 : x->projid > y->projid;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Root entries sorted by project id, to find ids that two entries share. */
static int dirent_projid_cmp(const void *a, const void *b)
{
	const struct quota_dirent *x = *(const struct quota_dirent *const *)a;
	const struct quota_dirent *y = *(const struct quota_dirent *const *)b;

	if (x->projid != y->projid)
		return x->projid < y->projid ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sorted copies of one pool's entries (pointers into the scan). */
struct pool_view {
	const struct quota_dirent **root; /* by name, without .pmemd and lost+found */
	size_t n_root;
	const struct quota_dirent **by_id; /* root entries with one of our ids, by projid */
	size_t n_by_id;
	struct quota_scan_limit *limits; /* by projid */
	uint32_t *ids;
	size_t n_ids;
};

static void view_free(struct pool_view *v)
{
	free(v->root);
	free(v->by_id);
	free(v->limits);
	free(v->ids);
}

/* The index of the first by_id entry whose id is at least `id` (n_by_id when none). */
static size_t lower_by_id(const struct pool_view *v, uint32_t id)
{
	size_t lo = 0, hi = v->n_by_id;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->by_id[mid]->projid < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The root entries that share d's (our) id, other than d; *first is one of them. */
static size_t id_sharers(const struct pool_view *v, const struct quota_dirent *d,
			 const struct quota_dirent **first)
{
	size_t n = 0;

	*first = NULL;
	if (!projid_ours(d->projid))
		return 0;
	/* by_id is sorted by id: start at the first entry with d's id (a scan over all of
	 * them, once per root entry, made 10,000 volumes cost 10^8 steps). */
	for (size_t i = lower_by_id(v, d->projid); i < v->n_by_id; i++) {
		if (v->by_id[i]->projid != d->projid)
			break;
		if (v->by_id[i] == d)
			continue;
		if (!*first)
			*first = v->by_id[i];
		n++;
	}
	return n;
}

static const struct quota_dirent *root_with_id(const struct pool_view *v, uint32_t id)
{
	size_t lo = lower_by_id(v, id);

	return lo < v->n_by_id && v->by_id[lo]->projid == id ? v->by_id[lo] : NULL;
}

static int view_build(const struct quota_scan_pool *sp, struct pool_view *v)
{
	size_t n_ids = 0;

	memset(v, 0, sizeof(*v));
	v->root = calloc(sp->n_root + 1, sizeof(*v->root));
	v->by_id = calloc(sp->n_root + 1, sizeof(*v->by_id));
	v->limits = calloc(sp->n_limits + 1, sizeof(*v->limits));
	v->ids = calloc(sp->n_root + sp->n_staging + sp->n_trash + 1, sizeof(*v->ids));
	if (!v->root || !v->by_id || !v->limits || !v->ids)
		return -ENOMEM;
	for (size_t i = 0; i < sp->n_root; i++) {
		const struct quota_dirent *d = &sp->root[i];

		/* Every id of ours counts as in use, foreign directories' too: sharing one
		 * would charge their files to a volume. */
		if (projid_ours(d->projid))
			v->ids[n_ids++] = d->projid;
		if (root_reserved(d->name))
			continue;
		v->root[v->n_root++] = d;
		if (projid_ours(d->projid))
			v->by_id[v->n_by_id++] = d;
	}
	for (size_t i = 0; i < sp->n_staging; i++)
		if (projid_ours(sp->staging[i].projid))
			v->ids[n_ids++] = sp->staging[i].projid;
	for (size_t i = 0; i < sp->n_trash; i++)
		if (projid_ours(sp->trash[i].projid))
			v->ids[n_ids++] = sp->trash[i].projid;
	qsort(v->root, v->n_root, sizeof(*v->root), dirent_ptr_cmp);
	qsort(v->by_id, v->n_by_id, sizeof(*v->by_id), dirent_projid_cmp);
	if (sp->n_limits)
		memcpy(v->limits, sp->limits, sp->n_limits * sizeof(*v->limits));
	qsort(v->limits, sp->n_limits, sizeof(*v->limits), limit_cmp);
	qsort(v->ids, n_ids, sizeof(*v->ids), u32_cmp);
	for (size_t i = 0; i < n_ids; i++)
		if (v->n_ids == 0 || v->ids[v->n_ids - 1] != v->ids[i])
			v->ids[v->n_ids++] = v->ids[i];
	return 0;
}

/* Classifies one root entry: a candidate volume, or an issue. */
static int root_entry(struct build *b, size_t p, const struct pool_view *v,
		      const struct quota_dirent *d, const struct quota_meta *m)
{
	const struct quota_dirent *other;
	size_t sharers = id_sharers(v, d, &other);
	char why[400];
	struct cand *c;

	if (sharers)
		return add_issue(b, p, QUOTA_ISSUE_ERROR, QUOTA_IN_ROOT, d,
				 "project id %" PRIu32 " is also used by %s%s; both left alone for "
				 "a person to resolve",
				 d->projid, other->name, sharers > 1 ? " and others" : "");
	if (!d->is_dir)
		return add_issue(b, p, QUOTA_ISSUE_WARNING, QUOTA_IN_ROOT, d,
				 "not a directory; not a volume, left alone");
	if (qm_name_reason(d->name, strnlen(d->name, sizeof(d->name)), why, sizeof(why)))
		return add_issue(b, p, QUOTA_ISSUE_WARNING, QUOTA_IN_ROOT, d,
				 "not a volume name (%s); left alone", why);
	if (d->projid == 0)
		return add_issue(b, p, QUOTA_ISSUE_WARNING, QUOTA_IN_ROOT, d,
				 "no project id; not a pmemd volume, left alone");
	if (!projid_ours(d->projid))
		return add_issue(b, p, QUOTA_ISSUE_WARNING, QUOTA_IN_ROOT, d,
				 "project id %" PRIu32 " is outside pmemd's range [%u, %u]; not a "
				 "pmemd volume, left alone",
				 d->projid, QUOTA_PROJID_MIN, QUOTA_PROJID_MAX);
	if (!m || !m->size_bytes)
		return add_issue(b, p, QUOTA_ISSUE_WARNING, QUOTA_IN_ROOT, d,
				 "no " QUOTA_XATTR_PREFIX QUOTA_META_SIZE
				 " record; not a pmemd volume, left alone");
	c = grow(b->cand, &b->cap_cand, b->n_cand, sizeof(*b->cand));
	if (!c)
		return -ENOMEM;
	b->cand = c;
	c = &b->cand[b->n_cand];
	memset(c, 0, sizeof(*c));
	if (decode_meta(m, &c->rec, why, sizeof(why)) < 0) {
		qm_labels_clear(&c->rec.labels);
		return add_issue(b, p, QUOTA_ISSUE_ERROR, QUOTA_IN_ROOT, d,
				 "damaged record (%s); left alone", why);
	}
	c->pool = p;
	c->d = d;
	b->n_cand++;
	if (!c->rec.has_created)
		return add_issue(b, p, QUOTA_ISSUE_WARNING, QUOTA_IN_ROOT, d,
				 "no " QUOTA_XATTR_PREFIX QUOTA_META_CREATED
				 " record; created is 0");
	return 0;
}

/*
 * Staging and trash leftovers: removed, and their ids' limits cleared and
 * ids freed after the last removal that holds the id, unless a root entry
 * uses the same id (clearing it would lift that entry's quota).
 */
static int leftovers(struct build *b, size_t p, const struct pool_view *v,
		     const struct quota_dirent **e, size_t n, bool trash)
{
	enum quota_issue_where where = trash ? QUOTA_IN_TRASH : QUOTA_IN_STAGING;
	const char *dir = trash ? QUOTA_TRASH_DIR : QUOTA_STAGING_DIR;
	const char *what = trash ? "trash" : "staging";

	for (size_t i = 0; i < n; i++) {
		const struct quota_dirent *d = e[i], *owner;
		size_t nlen = strnlen(d->name, sizeof(d->name));
		struct quota_repair *r;

		/* A name from the scan becomes a path for remove_tree: never "..". */
		if (nlen == 0 || nlen > QUOTA_NAME_MAX || strchr(d->name, '/') ||
		    strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0) {
			if (add_issue(b, p, QUOTA_ISSUE_ERROR, where, d,
				      "%s entry with an unsafe name; left alone", what) < 0)
				return -ENOMEM;
			continue;
		}
		r = add_repair(b, p,
			       trash ? QUOTA_REPAIR_REMOVE_TRASH : QUOTA_REPAIR_REMOVE_STAGING,
			       d->projid);
		if (!r)
			return -ENOMEM;
		snprintf(r->rel, sizeof(r->rel), "%s/%s", dir, d->name);
		owner = projid_ours(d->projid) ? root_with_id(v, d->projid) : NULL;
		r->clear_limit = projid_ours(d->projid) && !owner;
		snprintf(r->reason, sizeof(r->reason), "%s",
			 trash ? "a delete was interrupted: finish it"
			       : "a create was interrupted: undo it");
		if (owner && add_issue(b, p, QUOTA_ISSUE_WARNING, where, d,
				       "%s entry shares project id %" PRIu32
				       " with %s; removed, its limit kept",
				       what, d->projid, owner->name) < 0)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Only the last removal that holds an id clears it: the limit must stay
 * while another leftover with that id still has files charged to it.
 * Called once all leftovers of a pool are in b->rep[first..].
 */
static void last_holder_clears(struct build *b, size_t first)
{
	for (size_t i = first; i < b->n_rep; i++) {
		struct quota_repair *r = &b->rep[i].r;

		if (!r->clear_limit)
			continue;
		for (size_t j = i + 1; j < b->n_rep; j++)
			if (b->rep[j].r.projid == r->projid &&
			    (b->rep[j].r.kind == QUOTA_REPAIR_REMOVE_STAGING ||
			     b->rep[j].r.kind == QUOTA_REPAIR_REMOVE_TRASH)) {
				r->clear_limit = false;
				b->rep[j].r.clear_limit = true;
				break;
			}
	}
}

static int sorted_entries(const struct quota_dirent *e, size_t n, const struct quota_dirent ***out)
{
	const struct quota_dirent **v = calloc(n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = &e[i];
	qsort(v, n, sizeof(*v), dirent_ptr_cmp);
	*out = v;
	return 0;
}

static int scan_pool(struct build *b, size_t p, struct pool_view *v)
{
	const struct quota_scan_pool *sp = &b->scan->pools[p];
	const struct quota_dirent **st = NULL, **tr = NULL;
	size_t first = b->n_rep;
	int ret;

	for (size_t i = 0; i < v->n_root; i++) {
		const struct quota_dirent *d = v->root[i];
		const struct quota_meta *m = sp->meta ? &sp->meta[d - sp->root] : NULL;

		ret = root_entry(b, p, v, d, m);
		if (ret < 0)
			return ret;
	}
	ret = sorted_entries(sp->staging, sp->n_staging, &st);
	if (ret == 0)
		ret = sorted_entries(sp->trash, sp->n_trash, &tr);
	if (ret == 0)
		ret = leftovers(b, p, v, st, sp->n_staging, false);
	if (ret == 0)
		ret = leftovers(b, p, v, tr, sp->n_trash, true);
	if (ret == 0)
		last_holder_clears(b, first);
	free(st);
	free(tr);
	return ret;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = strcmp(x->d->name, y->d->name);

	if (c)
		return c;
	return x->pool < y->pool ? -1 : x->pool > y->pool;
}

static int repair_cmp(const void *a, const void *b)
{
	const struct repair_b *x = a, *y = b;

	if (x->r.kind != y->r.kind)
		return x->r.kind < y->r.kind ? -1 : 1;
	if (x->pool != y->pool)
		return x->pool < y->pool ? -1 : 1;
	return strcmp(x->r.rel, y->r.rel);
}

static int issue_cmp(const void *a, const void *b)
{
	const struct issue_b *x = a, *y = b;
	int c;

	if (x->pool != y->pool)
		return x->pool < y->pool ? -1 : 1;
	if (x->i.where != y->i.where)
		return x->i.where < y->i.where ? -1 : 1;
	c = strcmp(x->i.name, y->i.name);
	if (c)
		return c;
	if (x->i.projid != y->i.projid)
		return x->i.projid < y->i.projid ? -1 : 1;
	return strcmp(x->i.message, y->i.message);
}

static const struct quota_scan_limit *find_limit(const struct pool_view *v, size_t n,
						 uint32_t projid)
{
	struct quota_scan_limit k = {.projid = projid};

	return n ? bsearch(&k, v->limits, n, sizeof(k), limit_cmp) : NULL;
}

/* A complete volume: into the catalog, with repairs for its flag and limits. */
static int volume(struct build *b, struct quota_catalog *cat, const struct pool_view *views,
		  const struct quota_rebuild_opts *opts, struct cand *c)
{
	const struct quota_scan_pool *sp = &b->scan->pools[c->pool];
	struct quota_volume *vol = &cat->volumes[cat->n_volumes];
	const struct quota_scan_limit *lim;
	uint64_t want_bytes, have_bytes, have_inodes;
	struct quota_repair *r;

	vol->pool = strdup(sp->name);
	if (!vol->pool)
		return -ENOMEM;
	snprintf(vol->name, sizeof(vol->name), "%s", c->d->name);
	vol->projid = c->d->projid;
	vol->size_bytes = c->rec.size_bytes;
	vol->inodes = c->rec.inodes;
	vol->created = c->rec.created;
	vol->labels = c->rec.labels;
	c->rec.labels = (struct quota_labels){0};
	cat->n_volumes++;

	if (!c->d->inherit) {
		r = add_repair(b, c->pool, QUOTA_REPAIR_SET_PROJECT, c->d->projid);
		if (!r)
			return -ENOMEM;
		snprintf(r->rel, sizeof(r->rel), "%s", c->d->name);
		snprintf(r->reason, sizeof(r->reason),
			 "the project-inherit flag is off: new files would escape the quota");
	}
	want_bytes = opts && opts->limit_for_size
			     ? opts->limit_for_size(vol->size_bytes, sp->fstype, sp->block_size)
			     : vol->size_bytes;
	lim = find_limit(&views[c->pool], sp->n_limits, vol->projid);
	have_bytes = lim ? lim->bytes_limit : 0;
	have_inodes = lim ? lim->inodes_limit : 0;
	if (have_bytes == want_bytes && have_inodes == vol->inodes)
		return 0;
	r = add_repair(b, c->pool, QUOTA_REPAIR_SET_LIMIT, vol->projid);
	if (!r)
		return -ENOMEM;
	snprintf(r->rel, sizeof(r->rel), "%s", vol->name);
	r->bytes_limit = want_bytes;
	r->inodes_limit = vol->inodes;
	snprintf(r->reason, sizeof(r->reason),
		 "the quota is %" PRIu64 " bytes, %" PRIu64 " inodes; the record says %" PRIu64
		 " bytes (limit %" PRIu64 "), %" PRIu64 " inodes: the record wins",
		 have_bytes, have_inodes, vol->size_bytes, want_bytes, vol->inodes);
	return 0;
}

static int check_scan(const struct quota_scan *scan, char *err, size_t err_len)
{
	for (size_t i = 0; i < scan->n_pools; i++) {
		const struct quota_scan_pool *p = &scan->pools[i];

		if (!p->name || !*p->name)
			return qm_fail(-EINVAL, err, err_len, "scan: pool %zu has no name", i);
		if ((p->n_root && !p->root) || (p->n_staging && !p->staging) ||
		    (p->n_trash && !p->trash) || (p->n_limits && !p->limits))
			return qm_fail(-EINVAL, err, err_len, "scan: pool %s: entries missing",
				       p->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(scan->pools[j].name, p->name) == 0)
				return qm_fail(-EINVAL, err, err_len, "scan: pool %s appears twice",
					       p->name);
	}
	return 0;
}

static int build_catalog(struct build *b, const struct quota_rebuild_opts *opts,
			 struct pool_view *views, struct quota_catalog *cat)
{
	const struct quota_scan *scan = b->scan;
	int ret;

	for (size_t p = 0; p < scan->n_pools; p++) {
		ret = view_build(&scan->pools[p], &views[p]);
		if (ret < 0)
			return ret;
		ret = scan_pool(b, p, &views[p]);
		if (ret < 0)
			return ret;
	}
	/* Names are unique on the node (GET /v1/volumes/{name}): two pools with one name are a
	 * conflict for a person, like two entries with one id. */
	if (b->n_cand)
		qsort(b->cand, b->n_cand, sizeof(*b->cand), cand_cmp);
	for (size_t i = 0; i + 1 < b->n_cand; i++)
		if (strcmp(b->cand[i].d->name, b->cand[i + 1].d->name) == 0)
			b->cand[i].dup_name = b->cand[i + 1].dup_name = true;
	cat->volumes = calloc(b->n_cand + 1, sizeof(*cat->volumes));
	if (!cat->volumes)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_cand; i++) {
		struct cand *c = &b->cand[i];

		if (c->dup_name) {
			const struct cand *o =
				i > 0 && strcmp(b->cand[i - 1].d->name, c->d->name) == 0
					? &b->cand[i - 1]
					: &b->cand[i + 1];

			ret = add_issue(b, c->pool, QUOTA_ISSUE_ERROR, QUOTA_IN_ROOT, c->d,
					"a volume of the same name is in pool %s; both left alone "
					"for a person to resolve",
					scan->pools[o->pool].name);
		} else {
			ret = volume(b, cat, views, opts, c);
		}
		if (ret < 0)
			return ret;
	}
	if (b->n_rep)
		qsort(b->rep, b->n_rep, sizeof(*b->rep), repair_cmp);
	if (b->n_iss)
		qsort(b->iss, b->n_iss, sizeof(*b->iss), issue_cmp);
	cat->repairs = calloc(b->n_rep + 1, sizeof(*cat->repairs));
	cat->issues = calloc(b->n_iss + 1, sizeof(*cat->issues));
	cat->ids = calloc(scan->n_pools + 1, sizeof(*cat->ids));
	if (!cat->repairs || !cat->issues || !cat->ids)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_rep; i++) {
		cat->repairs[i] = b->rep[i].r;
		cat->repairs[i].pool = strdup(scan->pools[b->rep[i].pool].name);
		cat->n_repairs++;
		if (!cat->repairs[i].pool)
			return -ENOMEM;
	}
	for (size_t i = 0; i < b->n_iss; i++) {
		cat->issues[i] = b->iss[i].i;
		cat->issues[i].pool = strdup(scan->pools[b->iss[i].pool].name);
		cat->n_issues++;
		if (!cat->issues[i].pool)
			return -ENOMEM;
	}
	for (size_t p = 0; p < scan->n_pools; p++) {
		struct quota_pool_ids *ids = &cat->ids[cat->n_ids++];

		ids->pool = strdup(scan->pools[p].name);
		if (!ids->pool)
			return -ENOMEM;
		ids->ids = views[p].ids;
		ids->n = views[p].n_ids;
		views[p].ids = NULL;
	}
	return 0;
}

int quota_catalog_rebuild(const struct quota_scan *scan, const struct quota_rebuild_opts *opts,
			  struct quota_catalog **out, char *err, size_t err_len)
{
	struct build b = {.scan = scan};
	struct pool_view *views;
	struct quota_catalog *cat;
	int ret;

	ret = check_scan(scan, err, err_len);
	if (ret < 0)
		return ret;
	cat = calloc(1, sizeof(*cat));
	views = calloc(scan->n_pools + 1, sizeof(*views));
	if (!cat || !views) {
		ret = -ENOMEM;
	} else {
		ret = build_catalog(&b, opts, views, cat);
	}
	for (size_t i = 0; views && i < scan->n_pools; i++)
		view_free(&views[i]);
	free(views);
	for (size_t i = 0; i < b.n_cand; i++)
		qm_labels_clear(&b.cand[i].rec.labels);
	free(b.cand);
	free(b.rep);
	free(b.iss);
	if (ret < 0) {
		quota_catalog_free(cat);
		return qm_fail(ret, err, err_len, "catalog rebuild: out of memory");
	}
	*out = cat;
	return 0;
}

struct quota_catalog *quota_catalog_free(struct quota_catalog *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_volumes; i++) {
		free(c->volumes[i].pool);
		qm_labels_clear(&c->volumes[i].labels);
	}
	for (size_t i = 0; i < c->n_repairs; i++)
		free(c->repairs[i].pool);
	for (size_t i = 0; i < c->n_issues; i++)
		free(c->issues[i].pool);
	for (size_t i = 0; i < c->n_ids; i++) {
		free(c->ids[i].pool);
		free(c->ids[i].ids);
	}
	free(c->volumes);
	free(c->repairs);
	free(c->issues);
	free(c->ids);
	free(c);
	return NULL;
}

const struct quota_volume *quota_catalog_find(const struct quota_catalog *c, const char *name)
{
	size_t lo = 0, hi = c->n_volumes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(c->volumes[mid].name, name);

		if (cmp == 0)
			return &c->volumes[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct quota_issue *quota_catalog_conflict(const struct quota_catalog *c, const char *name)
{
	for (size_t i = 0; i < c->n_issues; i++)
		if (c->issues[i].level == QUOTA_ISSUE_ERROR &&
		    c->issues[i].where == QUOTA_IN_ROOT && strcmp(c->issues[i].name, name) == 0)
			return &c->issues[i];
	return NULL;
}

const struct quota_pool_ids *quota_catalog_pool_ids(const struct quota_catalog *c, const char *pool)
{
	for (size_t i = 0; i < c->n_ids; i++)
		if (strcmp(c->ids[i].pool, pool) == 0)
			return &c->ids[i];
	return NULL;
}
