/* config-parse: YAML (libyaml events) -> node tree -> validated struct config, errors positioned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/config.h"
#include "resize/resize.h"
#include "sched/sched.h"
#include "util/names.h"
#include "util/units.h"

#define CONFIG_MAX_BYTES (1024 * 1024) /* a config is a page of text; more is a mistake */
#define MAX_DEPTH	 64  /* the schema is 4 levels deep; this bounds the builder's stack */
#define MAX_ERRORS	 100 /* enough to fix a file in one go, bounded for hostile input */
#define MAX_FIELDS	 16  /* keys in the largest section */
#define PATH_LEN	 512 /* a key path in a message: label keys are <= 317 chars */
#define QUOTE_LEN	 80  /* user text quoted in a message is cut after this many bytes */
#define CMDLINE		 "<command line>"

/*
 * Caps on what one file may list. Far above any real node, they keep every
 * check linear or small-quadratic and bound the memory a hostile file can take.
 */
#define MAX_NODES    100000 /* YAML nodes in the tree */
#define MAX_LABELS   1024
#define MAX_LISTEN   64
#define MAX_POOLS    256
#define MAX_REGIONS  64	 /* per pool */
#define MAX_VALUES   256 /* per pool selector */
#define MAX_ROOTS    CONFIG_MAX_PUBLISH_ROOTS
#define MAX_DECIMALS 6 /* the capacity ledger counts the overcommit ratio in millionths */

/* ---- the node tree ------------------------------------------------------ */

/*
 * libyaml's own document API silently resolves aliases, so an alias cannot be
 * reported where it is and a crafted file can make a naive walk exponential.
 * We build our own small tree from events instead, refusing anchors, aliases
 * and tags as they come, with the position of every node kept for messages.
 */
enum node_kind {
	NODE_SCALAR,
	NODE_SEQ,
	NODE_MAP,
	NODE_BAD, /* already reported (alias, NUL byte): every check skips it silently */
};

struct node {
	enum node_kind kind;
	struct config_pos pos;
	bool plain; /* scalar written without quotes: only those can be null or an integer */
	bool dup;   /* a mapping key repeating an earlier one: reported once, then skipped */
	char *text; /* scalar text, NUL-terminated */
	size_t len;
	struct node **kids; /* sequence items, or mapping key, value, key, value, ... */
	size_t n;
	size_t cap;
};

/* ---- error collection --------------------------------------------------- */

struct ctx {
	struct config_errors *errs;
	size_t cap;	/* allocated errs->items */
	size_t dropped; /* errors past MAX_ERRORS, counted only */
	bool uncapped;	/* the closing "too many errors" line goes past the cap */
	bool oom;
};

static size_t nerrors(const struct ctx *c)
{
	return c->errs->count + c->dropped;
}

static char *xstrdup(struct ctx *c, const char *s)
{
	char *d = strdup(s);

	if (!d)
		c->oom = true;
	return d;
}

static void add_error(struct ctx *c, const char *file, struct config_pos pos, char *msg)
{
	struct config_error *e;

	if (!msg) {
		c->oom = true;
		return;
	}
	if (c->errs->count >= MAX_ERRORS && !c->uncapped) {
		c->dropped++;
		free(msg);
		return;
	}
	if (c->errs->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct config_error *items = realloc(c->errs->items, cap * sizeof(*items));

		if (!items) {
			c->oom = true;
			free(msg);
			return;
		}
		c->errs->items = items;
		c->cap = cap;
	}
	e = &c->errs->items[c->errs->count++];
	e->pos = pos;
	e->message = msg;
	e->file = file ? xstrdup(c, file) : NULL;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static __attribute__((format(printf, 4, 5))) void
error_in(struct ctx *c, const char *file, struct config_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_error(c, file, pos, vformat(fmt, ap));
	va_end(ap);
}

/* Records "path: message" at node `at` (a whole-file error when `at` is NULL). */
static __attribute__((format(printf, 4, 5))) void errorf(struct ctx *c, const struct node *at,
							 const char *path, const char *fmt, ...)
{
	struct config_pos pos = {0, 0};
	char *tail;
	va_list ap;

	va_start(ap, fmt);
	tail = vformat(fmt, ap);
	va_end(ap);
	if (!tail) {
		c->oom = true;
		return;
	}
	if (at)
		pos = at->pos;
	if (path && *path)
		error_in(c, NULL, pos, "%s: %s", path, tail);
	else
		error_in(c, NULL, pos, "%s", tail);
	free(tail);
}

static void errors_clear(struct ctx *c)
{
	for (size_t i = 0; i < c->errs->count; i++) {
		free(c->errs->items[i].message);
		free(c->errs->items[i].file);
	}
	c->errs->count = 0;
	c->dropped = 0;
}

/* Stable insertion sort into file order: there are at most MAX_ERRORS. */
static void errors_sort(struct config_errors *errs)
{
	for (size_t i = 1; i < errs->count; i++) {
		struct config_error e = errs->items[i];
		size_t j = i;

		while (j > 0 && (errs->items[j - 1].pos.line > e.pos.line ||
				 (errs->items[j - 1].pos.line == e.pos.line &&
				  errs->items[j - 1].pos.col > e.pos.col))) {
			errs->items[j] = errs->items[j - 1];
			j--;
		}
		errs->items[j] = e;
	}
}

/* ---- message helpers ---------------------------------------------------- */

struct qbuf {
	char s[QUOTE_LEN * 4 + 8];
};

/* User text for a message: double-quoted, escaped, cut at QUOTE_LEN bytes on a UTF-8 boundary. */
static const char *quote(struct qbuf *q, const char *s)
{
	size_t o = 0, i;

	q->s[o++] = '"';
	for (i = 0; s[i] && i < QUOTE_LEN; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			q->s[o++] = '\\';
			q->s[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(q->s + o, sizeof(q->s) - o, "\\x%02x", ch);
		} else {
			q->s[o++] = (char)ch;
		}
	}
	if (s[i]) {
		/* Do not leave half a UTF-8 character before the ellipsis. */
		while (o > 1 && ((unsigned char)q->s[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 1 && ((unsigned char)q->s[o - 1] & 0xc0) == 0xc0)
			o--;
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	q->s[o++] = '"';
	q->s[o] = '\0';
	return q->s;
}

/* Appends to a path; a path cut by PATH_LEN ends in "..." rather than silently. */
static const char *path_fmt(char *buf, int n)
{
	if (n >= PATH_LEN)
		memcpy(buf + PATH_LEN - 4, "...", 4);
	return buf;
}

static const char *path_key(char *buf, const char *parent, const char *key)
{
	return path_fmt(buf, snprintf(buf, PATH_LEN, "%s%s%s", parent, *parent ? "." : "", key));
}

static const char *path_index(char *buf, const char *parent, size_t i)
{
	return path_fmt(buf, snprintf(buf, PATH_LEN, "%s[%zu]", parent, i));
}

/* ---- tree building ------------------------------------------------------ */

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

struct builder {
	struct ctx *c;
	struct node *root;
	struct node *stack[MAX_DEPTH];
	int depth;
	int docs;
	size_t nodes;
};

static struct config_pos mark_pos(yaml_mark_t m)
{
	return (struct config_pos){(unsigned)m.line + 1, (unsigned)m.column + 1};
}

static int attach(struct builder *b, struct node *n)
{
	struct node *parent;

	if (b->depth == 0) {
		b->root = n;
		return 0;
	}
	parent = b->stack[b->depth - 1];
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct node **kids = realloc(parent->kids, cap * sizeof(*kids));

		if (!kids) {
			node_free(n);
			return -ENOMEM;
		}
		parent->kids = kids;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = n;
	return 0;
}

/*
 * Anchors only matter through aliases, but refusing both keeps the rule simple
 * to state and to document: a config file never shares or repeats nodes.
 */
static void check_props(struct builder *b, yaml_mark_t m, const yaml_char_t *anchor,
			const yaml_char_t *tag)
{
	struct qbuf q;

	if (anchor)
		error_in(b->c, NULL, mark_pos(m),
			 "anchors and aliases are not allowed (anchor &%.64s): write the value out",
			 (const char *)anchor);
	if (tag)
		error_in(b->c, NULL, mark_pos(m), "YAML tags are not allowed (%s)",
			 quote(&q, (const char *)tag));
}

static struct node *node_new(enum node_kind kind, yaml_mark_t m)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n) {
		n->kind = kind;
		n->pos = mark_pos(m);
	}
	return n;
}

static bool too_many_nodes(struct builder *b, yaml_mark_t m)
{
	if (++b->nodes <= MAX_NODES)
		return false;
	error_in(b->c, NULL, mark_pos(m), "more than %d YAML nodes: this is not a config file",
		 MAX_NODES);
	return true;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	size_t len = ev->data.scalar.length;
	struct node *n;

	if (too_many_nodes(b, ev->start_mark))
		return 1;
	n = node_new(NODE_SCALAR, ev->start_mark);
	if (!n)
		return -ENOMEM;
	check_props(b, ev->start_mark, ev->data.scalar.anchor, ev->data.scalar.tag);
	n->text = malloc(len + 1);
	if (!n->text) {
		free(n);
		return -ENOMEM;
	}
	memcpy(n->text, ev->data.scalar.value, len);
	n->text[len] = '\0';
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	/* A "\0" escape would silently cut every string we copy later. */
	if (memchr(n->text, '\0', len)) {
		error_in(b->c, NULL, n->pos, "a NUL character (\\0) is not allowed in a value");
		n->kind = NODE_BAD;
	}
	return attach(b, n);
}

static int on_start(struct builder *b, const yaml_event_t *ev, enum node_kind kind,
		    const yaml_char_t *anchor, const yaml_char_t *tag)
{
	struct node *n;
	int r;

	check_props(b, ev->start_mark, anchor, tag);
	if (too_many_nodes(b, ev->start_mark))
		return 1;
	if (b->depth == MAX_DEPTH) {
		error_in(b->c, NULL, mark_pos(ev->start_mark), "nesting deeper than %d levels",
			 MAX_DEPTH);
		return 1;
	}
	n = node_new(kind, ev->start_mark);
	if (!n)
		return -ENOMEM;
	r = attach(b, n);
	if (r < 0)
		return r;
	b->stack[b->depth++] = n;
	return 0;
}

/* Returns 0 to go on, 1 to stop (an error that ends the parse), or -ENOMEM. */
static int on_event(struct builder *b, const yaml_event_t *ev)
{
	struct node *n;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs == 1)
			return 0;
		error_in(b->c, NULL, mark_pos(ev->start_mark),
			 "a second YAML document: the config file must hold exactly one");
		return 1;
	case YAML_ALIAS_EVENT:
		error_in(b->c, NULL, mark_pos(ev->start_mark),
			 "anchors and aliases are not allowed (alias *%.64s): write the value out",
			 (const char *)ev->data.alias.anchor);
		n = node_new(NODE_BAD, ev->start_mark);
		return n ? attach(b, n) : -ENOMEM;
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(b, ev, NODE_SEQ, ev->data.sequence_start.anchor,
				ev->data.sequence_start.tag);
	case YAML_MAPPING_START_EVENT:
		return on_start(b, ev, NODE_MAP, ev->data.mapping_start.anchor,
				ev->data.mapping_start.tag);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return 0;
	default:
		return 0;
	}
}

/* Where a reader error's byte offset falls, since libyaml gives no mark for those. */
static struct config_pos offset_pos(const char *buf, size_t len, size_t off)
{
	struct config_pos pos = {1, 1};

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			pos.line++;
			pos.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			pos.col++;
		}
	}
	return pos;
}

/* A syntax error ends the parse: it is the only error reported. */
static int syntax_error(struct ctx *c, const yaml_parser_t *p, const char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown error";

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	errors_clear(c);
	if (p->error == YAML_READER_ERROR) {
		error_in(c, NULL, offset_pos(buf, len, p->problem_offset),
			 "YAML syntax error: %s (byte 0x%02x)", problem,
			 (unsigned)p->problem_value);
	} else if (p->context) {
		error_in(c, NULL, mark_pos(p->problem_mark),
			 "YAML syntax error: %s (%s at line %zu, column %zu)", problem, p->context,
			 p->context_mark.line + 1, p->context_mark.column + 1);
	} else {
		error_in(c, NULL, mark_pos(p->problem_mark), "YAML syntax error: %s", problem);
	}
	return 1;
}

/* Builds the tree of the (only) document; *root is NULL for an empty file. 0, 1 (stop) or -ENOMEM.
 */
static int tree_build(struct ctx *c, const char *buf, size_t len, struct node **root)
{
	struct builder b = {.c = c};
	yaml_parser_t p;
	yaml_event_t ev;
	int r = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		bool end;

		if (!yaml_parser_parse(&p, &ev)) {
			r = syntax_error(c, &p, buf, len);
			break;
		}
		end = ev.type == YAML_STREAM_END_EVENT;
		r = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (r || end)
			break;
	}
	yaml_parser_delete(&p);
	*root = b.root;
	return r;
}

/* ---- node checks -------------------------------------------------------- */

static bool is_null(const struct node *n)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL"};

	if (n->kind != NODE_SCALAR || !n->plain)
		return false;
	if (n->len == 0)
		return true;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(n->text, nulls[i]) == 0)
			return true;
	return false;
}

static const char *describe(const struct node *n, struct qbuf *q)
{
	switch (n->kind) {
	case NODE_MAP:
		return "a mapping";
	case NODE_SEQ:
		return "a sequence";
	default:
		return is_null(n) ? "null" : quote(q, n->text);
	}
}

/* Is `n` a node of `kind` (a non-null one for scalars)? If not, says so at n. */
static bool expect(struct ctx *c, const struct node *n, enum node_kind kind, const char *path,
		   const char *what)
{
	struct qbuf q;

	if (n->kind == NODE_BAD)
		return false;
	if (n->kind == kind && !is_null(n))
		return true;
	errorf(c, n, path, "expected %s, got %s", what, describe(n, &q));
	return false;
}

/* Of two nodes, the one written later: a conflict is reported where it is completed. */
static struct node *later(struct node *a, struct node *b)
{
	if (a->pos.line != b->pos.line)
		return a->pos.line > b->pos.line ? a : b;
	return a->pos.col > b->pos.col ? a : b;
}

/* Refuses a sequence or mapping with more than `max` entries, at the first one too many. */
static bool within(struct ctx *c, const struct node *v, const char *path, size_t max,
		   const char *what)
{
	size_t n = v->kind == NODE_MAP ? v->n / 2 : v->n;

	if (n <= max)
		return true;
	errorf(c, v->kids[v->kind == NODE_MAP ? 2 * max : max], path, "more than %zu %s", max,
	       what);
	return false;
}

static bool key_ok(struct ctx *c, const struct node *k, const char *path)
{
	return expect(c, k, NODE_SCALAR, path, "a string key");
}

static int cmp_keys(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a;
	const struct node *y = *(const struct node *const *)b;
	int r = strcmp(x->text, y->text);

	if (r)
		return r;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	return x->pos.col < y->pos.col ? -1 : (x->pos.col > y->pos.col);
}

/* Marks and reports every repeated key of `map`; sorting keeps huge mappings O(n log n). */
static void check_dups(struct ctx *c, struct node *map, const char *path)
{
	struct node **keys = malloc((map->n / 2 + 1) * sizeof(*keys));
	size_t n = 0;

	if (!keys) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (map->kids[i]->kind == NODE_SCALAR)
			keys[n++] = map->kids[i];
	qsort(keys, n, sizeof(*keys), cmp_keys);
	for (size_t i = 1, first = 0; i < n; i++) {
		char p[PATH_LEN];

		if (strcmp(keys[i]->text, keys[first]->text) != 0) {
			first = i;
			continue;
		}
		keys[i]->dup = true;
		errorf(c, keys[i], path_key(p, path, keys[i]->text),
		       "duplicate key (first at line %u, column %u)", keys[first]->pos.line,
		       keys[first]->pos.col);
	}
	free(keys);
}

/* ---- value syntax: each returns NULL when fine, else why not ------------- */

static bool is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static const char *check_node_name(const char *s)
{
	if (!names_is_dns_subdomain(s, strlen(s)))
		return "must be a DNS subdomain (lowercase letters, digits, '-' and '.', "
		       "at most 253 characters)";
	return NULL;
}

/* The name part of a label key, and a non-empty label value, share one rule. */
static const char *check_label_word(const char *s, size_t len)
{
	if (len > 63)
		return "longer than 63 characters";
	if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return "must begin and end with a letter or digit";
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return "may hold only letters, digits, '-', '_' and '.'";
	return NULL;
}

static const char *check_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	const char *name = slash ? slash + 1 : s;

	if (slash && !names_is_dns_subdomain(s, (size_t)(slash - s)))
		return "the prefix before '/' must be a DNS subdomain (lowercase, at most 253 "
		       "characters)";
	if (!*name)
		return "the name must not be empty";
	return check_label_word(name, strlen(name));
}

static const char *check_label_value(const char *s)
{
	return *s ? check_label_word(s, strlen(s)) : NULL;
}

static const char *check_abs_path(const char *s)
{
	if (s[0] != '/')
		return "must be an absolute path";
	if (strlen(s) > PATH_MAX - 1)
		return "longer than 4095 characters";
	if (has_control(s))
		return "must not contain control characters";
	return NULL;
}

static const char *check_socket_path(const char *s)
{
	const char *why = check_abs_path(s);

	/* sizeof(sockaddr_un.sun_path) is 108 with the NUL; say so now, not at bind time. */
	if (!why && strlen(s) > 107)
		why = "longer than 107 bytes, the limit of a unix socket address";
	return why;
}

/* A pool's name is its mount path, so it must be one canonical spelling of it. */
static const char *check_pool_path(const char *s)
{
	const char *why = check_abs_path(s);
	const char *comp;

	if (why)
		return why;
	if (strcmp(s, "/") == 0)
		return "must not be /";
	for (comp = s + 1;;) {
		size_t n = strcspn(comp, "/");

		if (n == 0)
			return comp[0] ? "must be normalised (no \"//\")"
				       : "must be normalised (no trailing \"/\")";
		if ((n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
			return "must be normalised (no \".\" or \"..\" components)";
		if (n > NAME_MAX)
			return "has a component longer than 255 characters";
		if (!comp[n])
			return NULL;
		comp += n + 1;
	}
}

static const char *check_mount_options(const char *s)
{
	size_t tok = 0;

	if (strlen(s) > 1024)
		return "longer than 1024 characters";
	for (const char *p = s;; p++) {
		if (*p == ',' || !*p) {
			if (tok == 0)
				return "must be comma-separated options, none empty";
			if (!*p)
				return NULL;
			tok = 0;
			continue;
		}
		if (!is_alnum(*p) && !strchr("_=.-", *p))
			return "each option may hold only letters, digits, '_', '=', '.' and '-'";
		tok++;
	}
}

/* Syntax only: the api resolves names when it binds, so a config stays checkable anywhere. */
static const char *check_user(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return "must be a user or group name of 1..32 characters, or a numeric id";
	if (strspn(s, "0123456789") == n)
		return n <= 10 && strtoull(s, NULL, 10) < UINT32_MAX ? NULL : "id out of range";
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return "a name must begin with a letter or '_'";
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("_.-", s[i]))
			return "a name may hold only letters, digits, '_', '.' and '-'";
	return NULL;
}

/* "region<N>" exactly as the kernel names it (no leading zeros, so one spelling per region). */
static const char *check_region(const char *s)
{
	size_t n;

	if (strncmp(s, "region", 6) != 0)
		return "expected a region device name like \"region0\"";
	s += 6;
	n = strlen(s);
	if (n == 0 || n > 6 || strspn(s, "0123456789") != n || (s[0] == '0' && n > 1))
		return "expected a region device name like \"region0\"";
	return NULL;
}

/* Plain decimal: no sign, no leading zeros (YAML 1.1 would read 010 as octal 8). */
static const char *parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9' || strspn(s, "0123456789") != strlen(s))
		return "expected a non-negative integer";
	if (s[0] == '0' && s[1])
		return "leading zeros are ambiguous (YAML 1.1 reads them as octal)";
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return "too large";
		v = v * 10 + d;
	}
	*out = v;
	return NULL;
}

/*
 * A plain decimal like 1, 1.0 or 1.5: digits, then optionally '.' and 1..MAX_DECIMALS digits. No
 * sign, exponent, ".5", "1.", inf or nan, and no leading zeros (YAML 1.1 octal again).
 */
static const char *parse_decimal(const char *s, double *out)
{
	static const char digits[] = "0123456789";
	size_t ip = strspn(s, digits), fp = 0;

	if (ip == 0 || (s[ip] && s[ip] != '.'))
		return "expected a number like 1.0 or 1.5";
	if (s[0] == '0' && ip > 1)
		return "leading zeros are ambiguous (YAML 1.1 reads them as octal)";
	if (s[ip] == '.') {
		fp = strspn(s + ip + 1, digits);
		if (fp == 0 || s[ip + 1 + fp])
			return "expected a number like 1.0 or 1.5";
		if (fp > MAX_DECIMALS)
			return "more than 6 decimal places (capacity is computed in millionths)";
	}
	/* The syntax above is C-locale strtod's decimal form; a huge value becomes HUGE_VAL. */
	*out = strtod(s, NULL);
	return NULL;
}

/* "host:port", IPv6 as "[::1]:8080"; the host must be a literal address. */
static const char *parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	uint64_t p;
	unsigned char addr[16];
	int af = AF_INET;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return "expected [IPv6]:port";
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
		af = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return "missing :port";
		hl = (size_t)(colon - s);
		if (memchr(s, ':', hl))
			return "IPv6 addresses go in brackets, like [::1]:8080";
	}
	if (hl == 0 || hl >= hostlen)
		return "host must be a literal IP address";
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(af, host, addr) != 1)
		return af == AF_INET6 ? "not an IPv6 address"
				      : "host must be a literal IP address (no host names)";
	if (parse_uint(colon + 1, &p) || p < 1 || p > 65535)
		return "port must be 1..65535";
	*port = (uint16_t)p;
	return NULL;
}

/* 127.0.0.0/8, ::1, and IPv4-mapped ::ffff:127.0.0.0/104, which is the same loopback. */
static bool is_loopback(const char *host)
{
	static const unsigned char v6_loop[16] = {[15] = 1};
	static const unsigned char v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
	unsigned char a[16];

	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) != 1)
		return false;
	return memcmp(a, v6_loop, 16) == 0 || (memcmp(a, v4_mapped, 12) == 0 && a[12] == 127);
}

/*
 * kube.api_url: "https://host[:port][/path]". Plain http only to a loopback address (a local
 * test double or a kubectl proxy): a bearer token must never cross a network in clear text.
 */
static const char *check_api_url(const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	bool https = strncmp(s, "https://", 8) == 0;
	const char *p, *end, *rest;
	unsigned char addr[16];
	size_t hl;

	if (!https && strncmp(s, "http://", 7) != 0)
		return "must start with https:// (or http:// to a loopback address)";
	if (strlen(s) > 2048 || has_control(s) || strpbrk(s, "?#@ \\"))
		return "must be a plain URL of at most 2048 characters: no query, fragment, user "
		       "info, spaces or control characters";
	p = s + (https ? 8 : 7);
	end = p + strcspn(p, "/");
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		hl = close ? (size_t)(close - p - 1) : 0;
		if (hl == 0 || hl >= sizeof(host))
			return "an IPv6 address goes in brackets, like https://[fd00::1]:6443";
		memcpy(host, p + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return "not an IPv6 address";
		rest = close + 1;
	} else {
		hl = strcspn(p, ":/");
		if (!names_is_dns_subdomain(p, hl))
			return "the host must be a lowercase DNS name or an IP address";
		snprintf(host, sizeof(host), "%.*s", (int)(hl < sizeof(host) ? hl : 0), p);
		rest = p + hl;
	}
	if (rest < end) {
		char digits[8];
		size_t n = (size_t)(end - rest - 1);
		uint64_t port = 0;

		if (*rest != ':' || n == 0 || n >= sizeof(digits))
			return "expected host:port with a port of 1..65535";
		memcpy(digits, rest + 1, n);
		digits[n] = '\0';
		if (parse_uint(digits, &port) || port < 1 || port > 65535)
			return "expected host:port with a port of 1..65535";
	}
	if (!https && !is_loopback(host))
		return "http:// is only allowed to a loopback address (127.0.0.1, [::1]); use "
		       "https://";
	return NULL;
}

/* ---- the schema tables -------------------------------------------------- */

/*
 * One line per key, in the spirit of redis's standardConfig: the generic walker
 * finds the field, the field's parser checks the node and stores the value at
 * `off` in the struct being filled. Cross-field rules run after the walk, from
 * the key and value nodes it recorded in a `struct seen`.
 */
struct ctx;
struct field;
typedef void field_fn(struct ctx *c, struct node *v, const char *path, void *base,
		      const struct field *f);

struct field {
	const char *name;
	field_fn *parse;
	size_t off;
	uint64_t min;
	uint64_t max;
	const char *range;		     /* sizes and durations: bounds as written */
	const char *const *names;	     /* enums: NULL-terminated, indexed by value */
	const char *(*check)(const char *s); /* strings: NULL when valid, else why not */
};

struct section {
	const struct field *fields;
	size_t n;
	const char *note; /* replaces the list of keys in "unknown key" errors */
};

/* The key and value node of each field of a section, NULL when absent. */
struct seen {
	struct node *key[MAX_FIELDS];
	struct node *val[MAX_FIELDS];
};

static void *at(void *base, size_t off)
{
	return (char *)base + off;
}

static void set_str(struct ctx *c, char **dst, const char *s)
{
	free(*dst);
	*dst = xstrdup(c, s);
}

static void unknown_key(struct ctx *c, const struct node *k, const char *path,
			const struct section *sec)
{
	char list[512] = "";
	size_t o = 0;
	struct qbuf q;

	for (size_t i = 0; i < sec->n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
				      sec->fields[i].name);
	if (sec->note)
		errorf(c, k, path, "unknown key %s (%s)", quote(&q, k->text), sec->note);
	else
		errorf(c, k, path, "unknown key %s (expected one of %s)", quote(&q, k->text), list);
}

/* Walks mapping `map` against `sec`, filling `base`; records what it saw in *seen. */
static bool walk_map(struct ctx *c, struct node *map, const char *path, void *base,
		     const struct section *sec, struct seen *seen)
{
	memset(seen, 0, sizeof(*seen));
	if (!expect(c, map, NODE_MAP, path, "a mapping"))
		return false;
	check_dups(c, map, path);
	for (size_t i = 0; i + 1 < map->n; i += 2) {
		struct node *k = map->kids[i], *v = map->kids[i + 1];
		const struct field *f = NULL;
		char p[PATH_LEN];

		if (!key_ok(c, k, path) || k->dup)
			continue;
		for (size_t j = 0; j < sec->n && !f; j++)
			if (strcmp(sec->fields[j].name, k->text) == 0)
				f = &sec->fields[j];
		if (!f) {
			unknown_key(c, k, path, sec);
			continue;
		}
		seen->key[f - sec->fields] = k;
		seen->val[f - sec->fields] = v;
		f->parse(c, v, path_key(p, path, f->name), base, f);
	}
	return true;
}

static void f_string(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f)
{
	const char *why;
	struct qbuf q;

	if (!expect(c, v, NODE_SCALAR, path, "a string"))
		return;
	if (f->check && (why = f->check(v->text))) {
		errorf(c, v, path, "%s, got %s", why, quote(&q, v->text));
		return;
	}
	set_str(c, at(base, f->off), v->text);
}

static void f_enum(struct ctx *c, struct node *v, const char *path, void *base,
		   const struct field *f)
{
	char what[128] = "one of ";
	struct qbuf q;

	for (size_t i = 0; f->names[i]; i++) {
		if (v->kind == NODE_SCALAR && strcmp(v->text, f->names[i]) == 0) {
			*(unsigned *)at(base, f->off) = (unsigned)i;
			return;
		}
		snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%s", i ? ", " : "",
			 f->names[i]);
	}
	if (expect(c, v, NODE_SCALAR, path, what))
		errorf(c, v, path, "expected %s, got %s", what, quote(&q, v->text));
}

static void f_uint(struct ctx *c, struct node *v, const char *path, void *base,
		   const struct field *f)
{
	const char *why;
	uint64_t n = 0;
	struct qbuf q;

	if (!expect(c, v, NODE_SCALAR, path, "an integer"))
		return;
	if (!v->plain) {
		errorf(c, v, path, "expected an integer, got a quoted string %s",
		       quote(&q, v->text));
		return;
	}
	why = parse_uint(v->text, &n);
	if (why && strcmp(why, "too large") != 0) {
		errorf(c, v, path, "%s, got %s", why, quote(&q, v->text));
		return;
	}
	if (why || n < f->min || n > f->max) {
		errorf(c, v, path, "out of range: %s (must be %llu..%llu)", v->text,
		       (unsigned long long)f->min, (unsigned long long)f->max);
		return;
	}
	*(unsigned *)at(base, f->off) = (unsigned)n;
}

/* A double above 0 and at most f->max, written as a plain decimal (parse_decimal). */
static void f_ratio(struct ctx *c, struct node *v, const char *path, void *base,
		    const struct field *f)
{
	const char *why;
	double d = 0;
	struct qbuf q;

	if (!expect(c, v, NODE_SCALAR, path, "a number like 1.0 or 1.5"))
		return;
	if (!v->plain) {
		errorf(c, v, path, "expected a number, got a quoted string %s", quote(&q, v->text));
		return;
	}
	if ((why = parse_decimal(v->text, &d))) {
		errorf(c, v, path, "%s, got %s", why, quote(&q, v->text));
		return;
	}
	if (!(d > 0) || d > (double)f->max) {
		errorf(c, v, path, "out of range: %s (must be %s)", v->text, f->range);
		return;
	}
	*(double *)at(base, f->off) = d;
}

/* YAML 1.2 core booleans only: "yes"/"on" are strings, not a way to reformat a device. */
static void f_bool(struct ctx *c, struct node *v, const char *path, void *base,
		   const struct field *f)
{
	struct qbuf q;

	if (!expect(c, v, NODE_SCALAR, path, "true or false"))
		return;
	if (v->plain && strcmp(v->text, "true") == 0)
		*(bool *)at(base, f->off) = true;
	else if (v->plain && strcmp(v->text, "false") == 0)
		*(bool *)at(base, f->off) = false;
	else
		errorf(c, v, path, "expected true or false, got %s", quote(&q, v->text));
}

typedef int units_fn(const char *s, uint64_t *out, const char **why);

static void units_field(struct ctx *c, struct node *v, const char *path, void *base,
			const struct field *f, units_fn *parse, const char *what)
{
	const char *why = NULL;
	uint64_t n = 0;
	struct qbuf q;
	int r;

	if (!expect(c, v, NODE_SCALAR, path, what))
		return;
	r = parse(v->text, &n, &why);
	if (r == -EINVAL) {
		errorf(c, v, path, "expected %s, got %s: %s", what, quote(&q, v->text), why);
		return;
	}
	if (r == -ERANGE) {
		errorf(c, v, path, "out of range: %s does not fit in 64 bits (must be %s)",
		       quote(&q, v->text), f->range);
		return;
	}
	if (r < 0 || n < f->min || n > f->max) {
		errorf(c, v, path, "out of range: %s (must be %s)", quote(&q, v->text), f->range);
		return;
	}
	*(uint64_t *)at(base, f->off) = n;
}

static void f_size(struct ctx *c, struct node *v, const char *path, void *base,
		   const struct field *f)
{
	units_field(c, v, path, base, f, units_size_parse, "a size like 64Gi, 500M or 1048576");
}

static void f_duration(struct ctx *c, struct node *v, const char *path, void *base,
		       const struct field *f)
{
	units_field(c, v, path, base, f, units_duration_parse, "a duration like 30s, 500ms or 2m");
}

/* Fields whose owner parses them after the walk, because their rules span several keys. */
static void f_later(struct ctx *c, struct node *v, const char *path, void *base,
		    const struct field *f)
{
	(void)c, (void)v, (void)path, (void)base, (void)f;
}

static const char *const log_level_names[] = {
	[LOG_LVL_ERROR] = "error", [LOG_LVL_WARN] = "warn",    [LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug", [LOG_LVL_DEBUG + 1] = NULL,
};

static const char *const pool_type_names[] = {
	[CONFIG_POOL_PMEM] = "pmem",
	[CONFIG_POOL_KMEM] = "kmem",
	[CONFIG_POOL_KMEM + 1] = NULL,
};

static const char *const fstype_names[] = {
	[CONFIG_FS_EXT4] = "ext4",
	[CONFIG_FS_XFS] = "xfs",
	[CONFIG_FS_XFS + 1] = NULL,
};

static const char *const match_op_names[] = {
	[CONFIG_OP_IN] = "In",
	[CONFIG_OP_NOT_IN] = "NotIn",
	[CONFIG_OP_EXISTS] = "Exists",
	[CONFIG_OP_DOES_NOT_EXIST] = "DoesNotExist",
	[CONFIG_OP_DOES_NOT_EXIST + 1] = NULL,
};

static const char *name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n - 1 ? names[v] : "unknown";
}

#define NAME_OF(tab, v) name_of(tab, sizeof(tab) / sizeof(tab[0]), (unsigned)(v))

const char *config_pool_type_name(enum config_pool_type t)
{
	return NAME_OF(pool_type_names, t);
}

const char *config_fstype_name(enum config_fstype t)
{
	return NAME_OF(fstype_names, t);
}

const char *config_match_op_name(enum config_match_op op)
{
	return NAME_OF(match_op_names, op);
}

#define N_OF(tab) (sizeof(tab) / sizeof((tab)[0]))

/* limits: */
enum { LIM_MAX_BODY, LIM_MAX_CONN, LIM_PER_CLIENT, LIM_TIMEOUT };
static const struct field limits_fields[] = {
	[LIM_MAX_BODY] = {"max_body", f_size, offsetof(struct config_limits, max_body_bytes), 1,
			  1ULL << 30, .range = "1..1Gi"},
	[LIM_MAX_CONN] = {"max_connections", f_uint,
			  offsetof(struct config_limits, max_connections), 1, 1000000},
	[LIM_PER_CLIENT] = {"per_client_connections", f_uint,
			    offsetof(struct config_limits, per_client_connections), 1, 1000000},
	[LIM_TIMEOUT] = {"request_timeout", f_duration,
			 offsetof(struct config_limits, request_timeout_ms), 1000, 3600 * 1000,
			 .range = "1s..1h"},
};
static const struct section limits_section = {limits_fields, N_OF(limits_fields), NULL};

static const char *const kube_enabled_names[] = {
	[CONFIG_KUBE_AUTO] = "auto",
	[CONFIG_KUBE_ON] = "true",
	[CONFIG_KUBE_OFF] = "false",
	[CONFIG_KUBE_OFF + 1] = NULL,
};

const char *config_kube_enabled_name(enum config_kube_enabled e)
{
	return NAME_OF(kube_enabled_names, e);
}

/* kube: */
enum { K_ENABLED, K_API_URL, K_TOKEN, K_CA, K_CERT, K_KEY, K_INTERVAL, K_HEARTBEAT };
static const struct field kube_fields[] = {
	[K_ENABLED] = {"enabled", f_enum, offsetof(struct config_kube, enabled),
		       .names = kube_enabled_names},
	[K_API_URL] = {"api_url", f_string, offsetof(struct config_kube, api_url),
		       .check = check_api_url},
	[K_TOKEN] = {"token_file", f_string, offsetof(struct config_kube, token_file),
		     .check = check_abs_path},
	[K_CA] = {"ca_file", f_string, offsetof(struct config_kube, ca_file),
		  .check = check_abs_path},
	[K_CERT] = {"client_cert", f_string, offsetof(struct config_kube, client_cert),
		    .check = check_abs_path},
	[K_KEY] = {"client_key", f_string, offsetof(struct config_kube, client_key),
		   .check = check_abs_path},
	[K_INTERVAL] = {"publish_interval", f_duration,
			offsetof(struct config_kube, publish_interval_ms), 1000, 3600 * 1000,
			.range = "1s..1h"},
	[K_HEARTBEAT] = {"heartbeat_interval", f_duration,
			 offsetof(struct config_kube, heartbeat_interval_ms), 1000, 3600 * 1000,
			 .range = "1s..1h"},
};
static const struct section kube_section = {kube_fields, N_OF(kube_fields), NULL};

static void f_roots(struct ctx *c, struct node *v, const char *path, void *base,
		    const struct field *f);

static const char *const role_names[] = {
	[CONFIG_ROLE_NODE] = "node",
	[CONFIG_ROLE_SCHEDULER] = "scheduler",
	[CONFIG_ROLE_SCHEDULER + 1] = NULL,
};

const char *config_role_name(enum config_role r)
{
	return NAME_OF(role_names, r);
}

/* The engine's own names, indexed by its enums, so the two cannot drift apart. */
static const char *const pmem_policy_names[] = {
	[SCHED_PMEM_BINPACK] = "binpack",	  [SCHED_PMEM_SPREAD] = "spread",
	[SCHED_PMEM_SINGLE_NUMA] = "single-numa", [SCHED_PMEM_FIRST_FIT] = "first-fit",
	[SCHED_PMEM_FIRST_FIT + 1] = NULL,
};
static const char *const cpu_policy_names[] = {
	[SCHED_CPU_SHORTEST_DISTANCE] = "shortest-distance",
	[SCHED_CPU_SINGLE_NUMA] = "single-numa-cpu",
	[SCHED_CPU_SINGLE_NUMA + 1] = NULL,
};

const char *config_pmem_policy_name(unsigned p)
{
	return NAME_OF(pmem_policy_names, p);
}

const char *config_cpu_policy_name(unsigned p)
{
	return NAME_OF(cpu_policy_names, p);
}

/* A CSI driver name is a DNS subdomain (the CSI spec: at most 63 characters). */
static const char *check_driver(const char *s)
{
	if (strlen(s) > 63 || !names_is_dns_subdomain(s, strlen(s)))
		return "expected a CSI driver name (a DNS subdomain of at most 63 characters)";
	return NULL;
}

/* The extender's URL prefix: an absolute path with no trailing '/', not under /v1. */
static const char *check_url_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || s[0] != '/' || s[n - 1] == '/' || n > 128)
		return "expected an absolute URL path without a trailing '/', like /scheduler";
	for (const char *p = s; *p; p++)
		if (!(is_alnum(*p) || *p == '/' || *p == '-' || *p == '_' || *p == '.'))
			return "expected letters, digits, '/', '-', '_' and '.' only";
	if (strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../") ||
	    strcmp(s + n - 2, "/.") == 0 || (n >= 3 && strcmp(s + n - 3, "/..") == 0))
		return "expected a normalised path";
	if (strcmp(s, "/v1") == 0 || strncmp(s, "/v1/", 4) == 0)
		return "must not be under /v1, which is pmemd's own API";
	return NULL;
}

/* placement: */
enum { PL_PMEM, PL_CPU, PL_TTL, PL_CPU_STATE, PL_DRIVER };
static const struct field placement_fields[] = {
	[PL_PMEM] = {"pmem_policy", f_enum, offsetof(struct config_placement, pmem_policy),
		     .names = pmem_policy_names},
	[PL_CPU] = {"cpu_policy", f_enum, offsetof(struct config_placement, cpu_policy),
		    .names = cpu_policy_names},
	[PL_TTL] = {"reservation_ttl", f_duration,
		    offsetof(struct config_placement, reservation_ttl_ms), 1000,
		    24ULL * 3600 * 1000, .range = "1s..24h"},
	[PL_CPU_STATE] = {"cpu_manager_state", f_string,
			  offsetof(struct config_placement, cpu_manager_state),
			  .check = check_abs_path},
	[PL_DRIVER] = {"driver", f_string, offsetof(struct config_placement, driver),
		       .check = check_driver},
};
static const struct section placement_section = {placement_fields, N_OF(placement_fields), NULL};

/* scheduler.agents[]: */
enum { AG_URL, AG_TOKEN, AG_CA };
static const struct field agent_fields[] = {
	[AG_URL] = {"url", f_string, offsetof(struct config_agent, url), .check = check_api_url},
	[AG_TOKEN] = {"token_file", f_string, offsetof(struct config_agent, token_file),
		      .check = check_abs_path},
	[AG_CA] = {"ca_file", f_string, offsetof(struct config_agent, ca_file),
		   .check = check_abs_path},
};
static const struct section agent_section = {agent_fields, N_OF(agent_fields), NULL};

static void f_agents(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f);

/* scheduler: */
enum { S_PREFIX, S_SIMULATE, S_AGENTS, S_POLL, S_MAX_AGE };
static const struct field scheduler_fields[] = {
	[S_PREFIX] = {"url_prefix", f_string, offsetof(struct config_scheduler, url_prefix),
		      .check = check_url_prefix},
	[S_SIMULATE] = {"simulate", f_string, offsetof(struct config_scheduler, simulate),
			.check = check_abs_path},
	[S_AGENTS] = {"agents", f_agents},
	[S_POLL] = {"poll_interval", f_duration,
		    offsetof(struct config_scheduler, poll_interval_ms), 100, 3600 * 1000,
		    .range = "100ms..1h"},
	[S_MAX_AGE] = {"max_record_age", f_duration,
		       offsetof(struct config_scheduler, max_record_age_ms), 1000,
		       24ULL * 3600 * 1000, .range = "1s..24h"},
};
static const struct section scheduler_section = {scheduler_fields, N_OF(scheduler_fields), NULL};

/* simulate: (role node) */
enum { SIM_FILE, SIM_NODE };
static const struct field simulate_fields[] = {
	[SIM_FILE] = {"file", f_string, offsetof(struct config_node_simulate, file),
		      .check = check_abs_path},
	[SIM_NODE] = {"node", f_string, offsetof(struct config_node_simulate, node),
		      .check = check_node_name},
};
static const struct section simulate_section = {simulate_fields, N_OF(simulate_fields), NULL};
/* An http(s) URL of a service pmemd reads from (Prometheus): any host, no control characters. */
static const char *check_http_url(const char *s)
{
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return "must start with http:// or https://";
	if (strlen(s) > 2048)
		return "longer than 2048 bytes";
	if (has_control(s) || strchr(s, ' '))
		return "contains a space or a control character";
	return NULL;
}

/* A PromQL query: one line of at most 4 KiB. */
static const char *check_query(const char *s)
{
	if (!*s)
		return "must not be empty";
	if (strlen(s) > 4096)
		return "longer than 4096 bytes";
	if (has_control(s))
		return "contains a control character";
	return NULL;
}

static const char *const resize_source_names[] = {
	[CONFIG_RESIZE_LOCAL] = "local",
	[CONFIG_RESIZE_PROMETHEUS] = "prometheus",
	[CONFIG_RESIZE_KUBELET] = "kubelet",
	[CONFIG_RESIZE_KUBELET + 1] = NULL,
};

static const char *const prom_preset_names[] = {"kubelet", "pmemd", NULL};

/* resize.prometheus: */
enum { RP_URL, RP_PRESET, RP_USED, RP_CAPACITY, RP_TIMEOUT, RP_TOKEN, RP_CA };
static const struct field resize_prom_fields[] = {
	[RP_URL] = {"url", f_string, offsetof(struct config_resize_prometheus, url),
		    .check = check_http_url},
	[RP_PRESET] = {"preset", f_enum, offsetof(struct config_resize_prometheus, preset),
		       .names = prom_preset_names},
	[RP_USED] = {"query_used", f_string, offsetof(struct config_resize_prometheus, query_used),
		     .check = check_query},
	[RP_CAPACITY] = {"query_capacity", f_string,
			 offsetof(struct config_resize_prometheus, query_capacity),
			 .check = check_query},
	[RP_TIMEOUT] = {"timeout", f_duration,
			offsetof(struct config_resize_prometheus, timeout_ms), 100, 300 * 1000,
			.range = "100ms..5m"},
	[RP_TOKEN] = {"bearer_token_file", f_string,
		      offsetof(struct config_resize_prometheus, bearer_token_file),
		      .check = check_abs_path},
	[RP_CA] = {"ca_file", f_string, offsetof(struct config_resize_prometheus, ca_file),
		   .check = check_abs_path},
};
static const struct section resize_prom_section = {resize_prom_fields, N_OF(resize_prom_fields),
						   NULL};

/* resize.kubelet: */
enum { RK_URL, RK_TIMEOUT, RK_TOKEN, RK_CA };
static const struct field resize_kubelet_fields[] = {
	[RK_URL] = {"url", f_string, offsetof(struct config_resize_kubelet, url),
		    .check = check_http_url},
	[RK_TIMEOUT] = {"timeout", f_duration, offsetof(struct config_resize_kubelet, timeout_ms),
			100, 300 * 1000, .range = "100ms..5m"},
	[RK_TOKEN] = {"bearer_token_file", f_string,
		      offsetof(struct config_resize_kubelet, bearer_token_file),
		      .check = check_abs_path},
	[RK_CA] = {"ca_file", f_string, offsetof(struct config_resize_kubelet, ca_file),
		   .check = check_abs_path},
};
static const struct section resize_kubelet_section = {resize_kubelet_fields,
						      N_OF(resize_kubelet_fields), NULL};

static void f_resize_kubelet(struct ctx *c, struct node *v, const char *path, void *base,
			     const struct field *f)
{
	struct seen s;

	if (!is_null(v))
		walk_map(c, v, path, at(base, f->off), &resize_kubelet_section, &s);
}

static void f_resize_prom(struct ctx *c, struct node *v, const char *path, void *base,
			  const struct field *f)
{
	struct seen s;

	if (!is_null(v))
		walk_map(c, v, path, at(base, f->off), &resize_prom_section, &s);
}

/* resize: */
enum { RS_SOURCE, RS_INTERVAL, RS_PROMETHEUS, RS_KUBELET, RS_POLICIES };
static const struct field resize_fields[] = {
	[RS_SOURCE] = {"source", f_enum, offsetof(struct config_resize, source),
		       .names = resize_source_names},
	[RS_INTERVAL] = {"interval", f_duration, offsetof(struct config_resize, interval_ms), 100,
			 3600 * 1000, .range = "100ms..1h"},
	[RS_PROMETHEUS] = {"prometheus", f_resize_prom, offsetof(struct config_resize, prometheus)},
	[RS_KUBELET] = {"kubelet", f_resize_kubelet, offsetof(struct config_resize, kubelet)},
	[RS_POLICIES] = {"policies", f_later},
};
static const struct section resize_section = {resize_fields, N_OF(resize_fields), NULL};

/* volumes: */
enum { V_RATIO, V_ROOTS, V_MAX_SIZE };
static const struct field volumes_fields[] = {
	[V_RATIO] = {"overcommit_ratio", f_ratio, offsetof(struct config_volumes, overcommit_ratio),
		     0, CONFIG_MAX_OVERCOMMIT_RATIO, .range = "above 0 and at most 100"},
	[V_ROOTS] = {"publish_roots", f_roots, offsetof(struct config_volumes, publish_roots)},
	[V_MAX_SIZE] = {"max_volume_size", f_size,
			offsetof(struct config_volumes, max_volume_size_bytes), 0, 1ULL << 60,
			.range = "0..1Ei"},
};
static const struct section volumes_section = {volumes_fields, N_OF(volumes_fields), NULL};

/* listen[].auth: */
enum { AUTH_TOKEN, AUTH_CERT, AUTH_KEY, AUTH_CA };
static const struct field auth_fields[] = {
	[AUTH_TOKEN] = {"token_file", f_string, offsetof(struct config_auth, token_file),
			.check = check_abs_path},
	[AUTH_CERT] = {"tls_cert", f_string, offsetof(struct config_auth, tls_cert),
		       .check = check_abs_path},
	[AUTH_KEY] = {"tls_key", f_string, offsetof(struct config_auth, tls_key),
		      .check = check_abs_path},
	[AUTH_CA] = {"client_ca", f_string, offsetof(struct config_auth, client_ca),
		     .check = check_abs_path},
};
static const struct section auth_section = {auth_fields, N_OF(auth_fields), NULL};

static void f_tcp(struct ctx *c, struct node *v, const char *path, void *base,
		  const struct field *f);
static void f_mode(struct ctx *c, struct node *v, const char *path, void *base,
		   const struct field *f);

/* listen[]: */
enum { L_TCP, L_UNIX, L_MODE, L_OWNER, L_GROUP, L_AUTH };
static const struct field listen_fields[] = {
	[L_TCP] = {"tcp", f_tcp},
	[L_UNIX] = {"unix", f_string, offsetof(struct config_listen, path),
		    .check = check_socket_path},
	[L_MODE] = {"mode", f_mode, offsetof(struct config_listen, mode)},
	[L_OWNER] = {"owner", f_string, offsetof(struct config_listen, owner), .check = check_user},
	[L_GROUP] = {"group", f_string, offsetof(struct config_listen, group), .check = check_user},
	[L_AUTH] = {"auth", f_later},
};
static const struct section listen_section = {listen_fields, N_OF(listen_fields), NULL};

/* pools[].topology: */
enum { T_TYPE, T_OPTIONS, T_FSTYPE };
static const struct field topology_fields[] = {
	[T_TYPE] = {"type", f_enum, offsetof(struct config_pool, type), .names = pool_type_names},
	[T_OPTIONS] = {"options", f_string, offsetof(struct config_pool, options),
		       .check = check_mount_options},
	[T_FSTYPE] = {"fstype", f_enum, offsetof(struct config_pool, fstype),
		      .names = fstype_names},
};
static const struct section topology_section = {topology_fields, N_OF(topology_fields), NULL};

static void f_value(struct ctx *c, struct node *v, const char *path, void *base,
		    const struct field *f);
static void f_values(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f);

/* pools[]: */
enum { P_NAME, P_KEY, P_OPERATOR, P_VALUE, P_VALUES, P_TOPOLOGY, P_REGIONS, P_RESERVE, P_REFORMAT };
static const struct field pool_fields[] = {
	[P_NAME] = {"name", f_string, offsetof(struct config_pool, name), .check = check_pool_path},
	[P_KEY] = {"key", f_string, offsetof(struct config_pool, key), .check = check_label_key},
	[P_OPERATOR] = {"operator", f_enum, offsetof(struct config_pool, op),
			.names = match_op_names},
	[P_VALUE] = {"value", f_value},
	[P_VALUES] = {"values", f_values},
	[P_TOPOLOGY] = {"topology", f_later},
	[P_REGIONS] = {"regions", f_later},
	[P_RESERVE] = {"reserve", f_size, offsetof(struct config_pool, reserve_bytes), 0,
		       1ULL << 60, .range = "0..1Ei"},
	[P_REFORMAT] = {"reformat", f_bool, offsetof(struct config_pool, reformat)},
};
static const struct section pool_section = {pool_fields, N_OF(pool_fields), NULL};

static void f_labels(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f);
static void f_listen(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f);
static void f_limits(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f);
static void f_pools(struct ctx *c, struct node *v, const char *path, void *base,
		    const struct field *f);
static void f_kube(struct ctx *c, struct node *v, const char *path, void *base,
		   const struct field *f);
static void f_volumes(struct ctx *c, struct node *v, const char *path, void *base,
		      const struct field *f);
static void f_placement(struct ctx *c, struct node *v, const char *path, void *base,
			const struct field *f);
static void f_scheduler(struct ctx *c, struct node *v, const char *path, void *base,
			const struct field *f);
static void f_simulate(struct ctx *c, struct node *v, const char *path, void *base,
		       const struct field *f);
static void f_resize(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f);

/* The top level. */
enum {
	TOP_NODE_NAME,
	TOP_LOG_LEVEL,
	TOP_THREADS,
	TOP_LABELS,
	TOP_LISTEN,
	TOP_LIMITS,
	TOP_POOLS,
	TOP_PLACEMENT,
	TOP_RESIZE,
	TOP_KUBE,
	TOP_VOLUMES,
	TOP_ROLE,
	TOP_STATE_DIR,
	TOP_SCHEDULER,
	TOP_SIMULATE,
};

/* The state directory holds files pmemd writes as root: never "/" and never a pool. */
static const char *check_state_dir(const char *s)
{
	return check_pool_path(s);
}
static const struct field top_fields[] = {
	[TOP_NODE_NAME] = {"node_name", f_string, offsetof(struct config, node_name),
			   .check = check_node_name},
	[TOP_LOG_LEVEL] = {"log_level", f_enum, offsetof(struct config, log_level),
			   .names = log_level_names},
	[TOP_THREADS] = {"threads", f_uint, offsetof(struct config, threads), 0, 256},
	[TOP_LABELS] = {"labels", f_labels},
	[TOP_LISTEN] = {"listen", f_listen},
	[TOP_LIMITS] = {"limits", f_limits, offsetof(struct config, limits)},
	[TOP_POOLS] = {"pools", f_pools},
	[TOP_PLACEMENT] = {"placement", f_placement, offsetof(struct config, placement)},
	[TOP_RESIZE] = {"resize", f_resize, offsetof(struct config, resize)},
	[TOP_KUBE] = {"kube", f_kube, offsetof(struct config, kube)},
	[TOP_VOLUMES] = {"volumes", f_volumes, offsetof(struct config, volumes)},
	[TOP_ROLE] = {"role", f_enum, offsetof(struct config, role), .names = role_names},
	[TOP_STATE_DIR] = {"state_dir", f_string, offsetof(struct config, state_dir),
			   .check = check_state_dir},
	[TOP_SCHEDULER] = {"scheduler", f_scheduler, offsetof(struct config, scheduler)},
	[TOP_SIMULATE] = {"simulate", f_simulate, offsetof(struct config, simulate)},
};
static const struct section top_section = {top_fields, N_OF(top_fields), NULL};

_Static_assert(N_OF(top_fields) <= MAX_FIELDS && N_OF(pool_fields) <= MAX_FIELDS &&
		       N_OF(volumes_fields) <= MAX_FIELDS && N_OF(listen_fields) <= MAX_FIELDS,
	       "struct seen needs a larger MAX_FIELDS");

/* ---- section parsers ---------------------------------------------------- */

static void f_limits(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f)
{
	struct config_limits *lim = at(base, f->off);
	char p[PATH_LEN];
	struct seen s;

	if (is_null(v) || !walk_map(c, v, path, lim, &limits_section, &s))
		return;
	/* An unset per-client cap follows a lowered total rather than contradicting it. */
	if (!s.val[LIM_PER_CLIENT] && lim->per_client_connections > lim->max_connections)
		lim->per_client_connections = lim->max_connections;
	if (lim->per_client_connections > lim->max_connections)
		errorf(c, s.val[LIM_PER_CLIENT], path_key(p, path, "per_client_connections"),
		       "out of range: %u is more than limits.max_connections (%u)",
		       lim->per_client_connections, lim->max_connections);
}

static void f_kube(struct ctx *c, struct node *v, const char *path, void *base,
		   const struct field *f)
{
	static const int needs_url[] = {K_TOKEN, K_CA, K_CERT, K_KEY};
	struct config_kube *k = at(base, f->off);
	char p[PATH_LEN];
	struct seen s;

	if (is_null(v) || !walk_map(c, v, path, k, &kube_section, &s))
		return;
	/* In a pod the service-account token and CA are used; mixing the two sources hides which
	 * credentials pmemd really sends. */
	for (size_t i = 0; i < N_OF(needs_url); i++)
		if (s.val[needs_url[i]] && !s.val[K_API_URL])
			errorf(c, s.val[needs_url[i]],
			       path_key(p, path, kube_fields[needs_url[i]].name),
			       "needs kube.api_url (in a pod the service-account token and CA are "
			       "used)");
	if (s.val[K_CERT] && !s.val[K_KEY])
		errorf(c, s.val[K_CERT], path_key(p, path, "client_cert"),
		       "client_key is missing (client_cert and client_key go together)");
	if (s.val[K_KEY] && !s.val[K_CERT])
		errorf(c, s.val[K_KEY], path_key(p, path, "client_key"),
		       "client_cert is missing (client_cert and client_key go together)");
	if (s.val[K_HEARTBEAT] && k->heartbeat_interval_ms < k->publish_interval_ms)
		errorf(c, s.val[K_HEARTBEAT], path_key(p, path, "heartbeat_interval"),
		       "out of range: must be at least kube.publish_interval");
}

static void f_volumes(struct ctx *c, struct node *v, const char *path, void *base,
		      const struct field *f)
{
	struct seen s;

	if (!is_null(v))
		walk_map(c, v, path, at(base, f->off), &volumes_section, &s);
}

static void f_placement(struct ctx *c, struct node *v, const char *path, void *base,
			const struct field *f)
{
	struct seen s;

	if (!is_null(v))
		walk_map(c, v, path, at(base, f->off), &placement_section, &s);
}

static void f_scheduler(struct ctx *c, struct node *v, const char *path, void *base,
			const struct field *f)
{
	struct config_scheduler *sc = at(base, f->off);
	char p[PATH_LEN];
	struct seen s;

	if (is_null(v) || !walk_map(c, v, path, sc, &scheduler_section, &s))
		return;
	/* One source of truth for the cluster view: mixing a simulation with live agents would
	 * make every answer a guess about which one was meant. */
	if (s.val[S_SIMULATE] && s.val[S_AGENTS] && sc->n_agents)
		errorf(c, s.val[S_AGENTS], path_key(p, path, "agents"),
		       "simulate and agents exclude each other (the cluster view has one source)");
	if (sc->max_record_age_ms && sc->poll_interval_ms &&
	    sc->max_record_age_ms < 2 * sc->poll_interval_ms && s.val[S_MAX_AGE])
		errorf(c, s.val[S_MAX_AGE], path_key(p, path, "max_record_age"),
		       "out of range: must be at least twice scheduler.poll_interval, or every "
		       "node goes stale between two polls");
}

/* simulate: {file, node}; the file itself is read by config_simulate_node_load at start. */
static void f_simulate(struct ctx *c, struct node *v, const char *path, void *base,
		       const struct field *f)
{
	struct seen s;

	if (is_null(v) || !walk_map(c, v, path, at(base, f->off), &simulate_section, &s))
		return;
	if (!s.val[SIM_FILE])
		errorf(c, v, path,
		       "file is missing (the cluster description to take this node from)");
}

/*
 * A YAML node as the JSON the REST API takes, so a policy in the config file is validated by
 * the same code as one POSTed: plain scalars that are integers, true/false or null become
 * those; everything else is a string. The tree is depth-bounded (MAX_DEPTH).
 */
static json_t *node_json(struct node *n)
{
	json_t *j;

	switch (n->kind) {
	case NODE_SCALAR:
		if (is_null(n))
			return json_null();
		if (n->plain && strcmp(n->text, "true") == 0)
			return json_true();
		if (n->plain && strcmp(n->text, "false") == 0)
			return json_false();
		if (n->plain && n->len && n->len < 20 &&
		    strspn(n->text + (n->text[0] == '-'), "0123456789") ==
			    n->len - (n->text[0] == '-') &&
		    n->len > (size_t)(n->text[0] == '-'))
			return json_integer(strtoll(n->text, NULL, 10));
		return json_stringn(n->text, n->len);
	case NODE_SEQ:
		j = json_array();
		for (size_t i = 0; j && i < n->n; i++) {
			json_t *x = node_json(n->kids[i]);

			if (!x || json_array_append_new(j, x) < 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case NODE_MAP:
		j = json_object();
		for (size_t i = 0; j && i + 1 < n->n; i += 2) {
			json_t *x;

			if (n->kids[i]->kind != NODE_SCALAR || n->kids[i]->dup)
				continue;
			x = node_json(n->kids[i + 1]);
			if (!x || json_object_set_new(j, n->kids[i]->text, x) < 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	default:
		return NULL;
	}
}

static void f_resize(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f)
{
	struct config_resize *rs = at(base, f->off);
	struct node *pol;
	char p[PATH_LEN];
	struct seen s;

	if (is_null(v) || !walk_map(c, v, path, rs, &resize_section, &s))
		return;
	if (rs->source == CONFIG_RESIZE_PROMETHEUS && !rs->prometheus.url)
		errorf(c, s.val[RS_SOURCE], path_key(p, path, "source"),
		       "prometheus needs resize.prometheus.url");
	if (rs->source == CONFIG_RESIZE_KUBELET && !rs->kubelet.url)
		errorf(c, s.val[RS_SOURCE], path_key(p, path, "source"),
		       "kubelet needs resize.kubelet.url");
	pol = s.val[RS_POLICIES];
	if (!pol || is_null(pol))
		return;
	path_key(p, path, "policies");
	if (!expect(c, pol, NODE_SEQ, p, "a sequence of policies") ||
	    !within(c, pol, p, RESIZE_POLICIES_MAX, "policies"))
		return;
	rs->policies = json_array();
	if (!rs->policies) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < pol->n; i++) {
		struct resize_policy *rp = NULL;
		json_t *j = node_json(pol->kids[i]);
		char e[1024], ip[PATH_LEN];
		size_t k;
		json_t *x;

		path_index(ip, p, i);
		if (!j) {
			if (pol->kids[i]->kind != NODE_BAD)
				c->oom = true;
			continue;
		}
		if (resize_policy_parse(j, NULL, &rp, e, sizeof(e)) < 0) {
			errorf(c, pol->kids[i], ip, "%s", e);
			json_decref(j);
			continue;
		}
		json_array_foreach (rs->policies, k, x)
			if (strcmp(json_string_value(json_object_get(x, "name")), rp->name) == 0)
				errorf(c, pol->kids[i], ip, "name: %s is declared twice", rp->name);
		/* Kept in the canonical form (every default filled in), as the API shows it. */
		json_array_append_new(rs->policies, resize_policy_to_json(rp));
		resize_policy_free(rp);
		json_decref(j);
	}
}

/* scheduler.agents: a list of URLs, or of {url, token_file, ca_file}. */
static void f_agents(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f)
{
	struct config_scheduler *sc = base;

	(void)f;
	if (is_null(v) || !expect(c, v, NODE_SEQ, path, "a sequence of agents") ||
	    !within(c, v, path, CONFIG_MAX_AGENTS, "agents"))
		return;
	sc->agents = calloc(v->n ? v->n : 1, sizeof(*sc->agents));
	if (!sc->agents) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		struct config_agent *a = &sc->agents[sc->n_agents];
		struct node *it = v->kids[i];
		const char *why;
		char p[PATH_LEN];
		struct qbuf q;
		struct seen s;

		path_index(p, path, i);
		if (it->kind == NODE_SCALAR) {
			if ((why = check_api_url(it->text))) {
				errorf(c, it, p, "%s, got %s", why, quote(&q, it->text));
				continue;
			}
			a->url = xstrdup(c, it->text);
		} else if (walk_map(c, it, p, a, &agent_section, &s) && !s.val[AG_URL]) {
			errorf(c, it, p, "url is missing");
		}
		if (!a->url) {
			free(a->token_file);
			free(a->ca_file);
			memset(a, 0, sizeof(*a));
			continue;
		}
		for (size_t j = 0; j < sc->n_agents; j++)
			if (strcmp(sc->agents[j].url, a->url) == 0)
				errorf(c, it, p, "%s is listed twice", a->url);
		sc->n_agents++;
	}
}

static int label_set(struct ctx *c, struct config *cfg, const char *key, const char *value)
{
	struct config_label *l;

	for (size_t i = 0; i < cfg->n_labels; i++) {
		if (strcmp(cfg->labels[i].key, key) == 0) {
			set_str(c, &cfg->labels[i].value, value);
			return 0;
		}
	}
	l = realloc(cfg->labels, (cfg->n_labels + 1) * sizeof(*l));
	if (!l) {
		c->oom = true;
		return -ENOMEM;
	}
	cfg->labels = l;
	l = &cfg->labels[cfg->n_labels];
	l->key = xstrdup(c, key);
	l->value = xstrdup(c, value);
	if (!l->key || !l->value) {
		free(l->key);
		free(l->value);
		return -ENOMEM;
	}
	cfg->n_labels++;
	return 0;
}

static void f_labels(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f)
{
	struct config *cfg = base;
	struct qbuf q;

	(void)f;
	if (is_null(v) || !expect(c, v, NODE_MAP, path, "a mapping of label keys to values") ||
	    !within(c, v, path, MAX_LABELS, "labels"))
		return;
	check_dups(c, v, path);
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		struct node *k = v->kids[i], *val = v->kids[i + 1];
		const char *why;
		char p[PATH_LEN];

		if (!key_ok(c, k, path) || k->dup)
			continue;
		path_key(p, path, k->text);
		if ((why = check_label_key(k->text))) {
			errorf(c, k, p, "invalid label key %s: %s", quote(&q, k->text), why);
			continue;
		}
		if (is_null(val)) {
			errorf(c, val, p,
			       "expected a string, got null (write \"\" for an empty value)");
			continue;
		}
		if (!expect(c, val, NODE_SCALAR, p, "a string"))
			continue;
		if ((why = check_label_value(val->text))) {
			errorf(c, val, p, "invalid label value %s: %s", quote(&q, val->text), why);
			continue;
		}
		label_set(c, cfg, k->text, val->text);
	}
}

static void f_tcp(struct ctx *c, struct node *v, const char *path, void *base,
		  const struct field *f)
{
	struct config_listen *l = base;
	char host[INET6_ADDRSTRLEN + 1];
	const char *why;
	struct qbuf q;

	(void)f;
	if (!expect(c, v, NODE_SCALAR, path, "host:port"))
		return;
	why = parse_hostport(v->text, host, sizeof(host), &l->port);
	if (why) {
		errorf(c, v, path, "expected host:port with a literal IP address: %s, got %s", why,
		       quote(&q, v->text));
		return;
	}
	set_str(c, &l->host, host);
}

/* Octal whether written 0660 or "0660": the digits are read as a mode, never as decimal. */
static void f_mode(struct ctx *c, struct node *v, const char *path, void *base,
		   const struct field *f)
{
	const char *s = v->text;
	unsigned long m;
	struct qbuf q;

	if (!expect(c, v, NODE_SCALAR, path, "an octal mode like \"0660\""))
		return;
	if (strncmp(s, "0o", 2) == 0)
		s += 2;
	m = strtoul(s, NULL, 8);
	if (!*s || strlen(s) > 4 || strspn(s, "01234567") != strlen(s) || m > 0777) {
		errorf(c, v, path, "expected an octal mode like \"0660\" (at most 0777), got %s",
		       quote(&q, v->text));
		return;
	}
	*(mode_t *)at(base, f->off) = (mode_t)m;
}

static void parse_auth(struct ctx *c, struct node *v, const char *path, struct config_auth *a)
{
	char p[PATH_LEN];
	struct seen s;

	if (is_null(v) || !walk_map(c, v, path, a, &auth_section, &s))
		return;
	if (s.val[AUTH_CERT] && !s.val[AUTH_KEY])
		errorf(c, s.val[AUTH_CERT], path_key(p, path, "tls_cert"),
		       "tls_key is missing (tls_cert and tls_key go together)");
	if (s.val[AUTH_KEY] && !s.val[AUTH_CERT])
		errorf(c, s.val[AUTH_KEY], path_key(p, path, "tls_key"),
		       "tls_cert is missing (tls_cert and tls_key go together)");
	if (s.val[AUTH_CA] && !s.val[AUTH_CERT] && !s.val[AUTH_KEY])
		errorf(c, s.val[AUTH_CA], path_key(p, path, "client_ca"),
		       "needs tls_cert and tls_key (client_ca is for mutual TLS)");
}

static void format_endpoint(char *buf, size_t len, const struct config_listen *l)
{
	if (l->kind == CONFIG_LISTEN_UNIX)
		snprintf(buf, len, "%s", l->path);
	else if (strchr(l->host, ':'))
		snprintf(buf, len, "[%s]:%u", l->host, l->port);
	else
		snprintf(buf, len, "%s:%u", l->host, l->port);
}

/* One listen entry; true when it is valid (so it can take part in cross-entry checks). */
static bool parse_listen(struct ctx *c, struct node *item, const char *path,
			 struct config_listen *l)
{
	static const int unix_only[] = {L_MODE, L_OWNER, L_GROUP};
	size_t before = nerrors(c);
	char p[PATH_LEN], ep[PATH_LEN];
	struct seen s;

	if (!walk_map(c, item, path, l, &listen_section, &s))
		return false;
	if (s.val[L_TCP] && s.val[L_UNIX]) {
		errorf(c, later(s.key[L_TCP], s.key[L_UNIX]), path,
		       "an endpoint is either tcp: or unix:, not both");
		return false;
	}
	if (!s.val[L_TCP] && !s.val[L_UNIX]) {
		errorf(c, item, path, "needs tcp: host:port or unix: /path");
		return false;
	}
	l->kind = s.val[L_TCP] ? CONFIG_LISTEN_TCP : CONFIG_LISTEN_UNIX;
	if (l->kind == CONFIG_LISTEN_UNIX) {
		if (s.key[L_AUTH])
			errorf(c, s.key[L_AUTH], path_key(p, path, "auth"),
			       "auth is only for tcp endpoints: a unix socket is protected by its "
			       "mode, owner and group");
		return nerrors(c) == before && l->path;
	}
	for (size_t i = 0; i < sizeof(unix_only) / sizeof(unix_only[0]); i++)
		if (s.key[unix_only[i]])
			errorf(c, s.key[unix_only[i]],
			       path_key(p, path, listen_fields[unix_only[i]].name),
			       "only for unix endpoints");
	if (s.val[L_AUTH])
		parse_auth(c, s.val[L_AUTH], path_key(p, path, "auth"), &l->auth);
	if (!l->host)
		return false;
	/* Off-loopback, anyone who can route to the node could provision its memory. */
	if (!is_loopback(l->host) && !l->auth.token_file && !l->auth.tls_cert && !l->auth.tls_key) {
		format_endpoint(ep, sizeof(ep), l);
		errorf(c, item, path,
		       "tcp endpoint %s is not loopback: configure auth.token_file or "
		       "auth.tls_cert/tls_key",
		       ep);
	}
	return nerrors(c) == before;
}

static bool same_endpoint(const struct config_listen *a, const struct config_listen *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == CONFIG_LISTEN_UNIX)
		return strcmp(a->path, b->path) == 0;
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static void f_listen(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f)
{
	struct config *cfg = base;
	bool *ok;

	(void)f;
	if (is_null(v) || (v->kind == NODE_SEQ && v->n == 0)) {
		errorf(c, v, path,
		       "must list at least one endpoint (leave listen: out for the defaults)");
		return;
	}
	if (!expect(c, v, NODE_SEQ, path, "a sequence of endpoints") ||
	    !within(c, v, path, MAX_LISTEN, "endpoints"))
		return;
	cfg->listen = calloc(v->n, sizeof(*cfg->listen));
	ok = calloc(v->n, sizeof(*ok));
	if (!cfg->listen || !ok) {
		c->oom = true;
		free(ok);
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		struct config_listen *l = &cfg->listen[cfg->n_listen++];
		char p[PATH_LEN];

		l->mode = 0660;
		l->pos = v->kids[i]->pos;
		ok[i] = parse_listen(c, v->kids[i], path_index(p, path, i), l);
		for (size_t j = 0; ok[i] && j < i; j++) {
			if (ok[j] && same_endpoint(&cfg->listen[j], l)) {
				errorf(c, v->kids[i], p, "the same endpoint as %s[%zu]", path, j);
				break;
			}
		}
	}
	free(ok);
}

static char **strv_new(struct ctx *c, size_t n)
{
	char **v = calloc(n + 1, sizeof(*v));

	if (!v)
		c->oom = true;
	return v;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static bool label_value_ok(struct ctx *c, struct node *v, const char *path)
{
	const char *why;
	struct qbuf q;

	if (is_null(v)) {
		errorf(c, v, path,
		       "expected a label value, got null (write \"\" for an empty one)");
		return false;
	}
	if (!expect(c, v, NODE_SCALAR, path, "a label value"))
		return false;
	if ((why = check_label_value(v->text))) {
		errorf(c, v, path, "invalid label value %s: %s", quote(&q, v->text), why);
		return false;
	}
	return true;
}

static void f_value(struct ctx *c, struct node *v, const char *path, void *base,
		    const struct field *f)
{
	struct config_pool *pl = base;

	(void)f;
	if (!label_value_ok(c, v, path))
		return;
	strv_free(pl->values);
	pl->n_values = 0;
	pl->values = strv_new(c, 1);
	if (pl->values && (pl->values[0] = xstrdup(c, v->text)))
		pl->n_values = 1;
}

static void f_values(struct ctx *c, struct node *v, const char *path, void *base,
		     const struct field *f)
{
	struct config_pool *pl = base;

	(void)f;
	if (!expect(c, v, NODE_SEQ, path, "a sequence of label values"))
		return;
	if (v->n == 0) {
		errorf(c, v, path, "must not be empty");
		return;
	}
	if (!within(c, v, path, MAX_VALUES, "values"))
		return;
	strv_free(pl->values);
	pl->n_values = 0;
	pl->values = strv_new(c, v->n);
	for (size_t i = 0; pl->values && i < v->n; i++) {
		char p[PATH_LEN];

		if (label_value_ok(c, v->kids[i], path_index(p, path, i)) &&
		    (pl->values[pl->n_values] = xstrdup(c, v->kids[i]->text)))
			pl->n_values++;
	}
}

static void parse_topology(struct ctx *c, struct node *v, const char *path, struct config_pool *pl)
{
	static const int fs_only[] = {T_OPTIONS, T_FSTYPE};
	struct seen s;

	if (!v || is_null(v) || !walk_map(c, v, path, pl, &topology_section, &s))
		return;
	if (pl->type != CONFIG_POOL_KMEM)
		return;
	for (size_t i = 0; i < sizeof(fs_only) / sizeof(fs_only[0]); i++) {
		char p[PATH_LEN];

		if (s.key[fs_only[i]])
			errorf(c, s.key[fs_only[i]],
			       path_key(p, path, topology_fields[fs_only[i]].name),
			       "not used by kmem pools (their memory is onlined as RAM, not "
			       "mounted)");
	}
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Regions of pools[idx]: each is a device of exactly one pool, so also checked against earlier
 * pools. */
static void parse_regions(struct ctx *c, struct node *v, const char *path, struct config *cfg,
			  size_t idx)
{
	struct config_pool *pl = &cfg->pools[idx];

	if (!expect(c, v, NODE_SEQ, path, "a sequence of region names"))
		return;
	if (v->n == 0) {
		errorf(c, v, path, "must list at least one region");
		return;
	}
	if (!within(c, v, path, MAX_REGIONS, "regions"))
		return;
	pl->regions = strv_new(c, v->n);
	for (size_t i = 0; pl->regions && i < v->n; i++) {
		struct node *r = v->kids[i];
		const char *why = NULL;
		char p[PATH_LEN];
		struct qbuf q;
		bool taken = false;

		path_index(p, path, i);
		if (!expect(c, r, NODE_SCALAR, p, "a region name"))
			continue;
		if ((why = check_region(r->text))) {
			errorf(c, r, p, "%s, got %s", why, quote(&q, r->text));
			continue;
		}
		if (strv_has(pl->regions, pl->n_regions, r->text)) {
			errorf(c, r, p, "%s is listed twice", r->text);
			continue;
		}
		for (size_t j = 0; j < idx && !taken; j++) {
			if (!strv_has(cfg->pools[j].regions, cfg->pools[j].n_regions, r->text))
				continue;
			if (cfg->pools[j].name)
				errorf(c, r, p, "%s already belongs to pools[%zu] (%s)", r->text, j,
				       cfg->pools[j].name);
			else
				errorf(c, r, p, "%s already belongs to pools[%zu]", r->text, j);
			taken = true;
		}
		if (!taken && (pl->regions[pl->n_regions] = xstrdup(c, r->text)))
			pl->n_regions++;
	}
}

/*
 * volumes.publish_roots: where volumes may be bind-mounted. Each is one canonical spelling of a
 * directory (the pool-name rule: absolute, normalised, not "/", which would allow any target).
 */
static void f_roots(struct ctx *c, struct node *v, const char *path, void *base,
		    const struct field *f)
{
	struct config_volumes *vol = base;

	(void)f;
	if (is_null(v) || (v->kind == NODE_SEQ && v->n == 0)) {
		errorf(c, v, path,
		       "must list at least one root (leave publish_roots: out for the default)");
		return;
	}
	if (!expect(c, v, NODE_SEQ, path, "a sequence of paths") ||
	    !within(c, v, path, MAX_ROOTS, "publish roots"))
		return;
	strv_free(vol->publish_roots);
	vol->n_publish_roots = 0;
	vol->publish_roots = strv_new(c, v->n);
	for (size_t i = 0; vol->publish_roots && i < v->n; i++) {
		struct node *r = v->kids[i];
		const char *why;
		char p[PATH_LEN];
		struct qbuf q;

		path_index(p, path, i);
		if (!expect(c, r, NODE_SCALAR, p, "a path"))
			continue;
		if ((why = check_pool_path(r->text))) {
			errorf(c, r, p, "%s, got %s", why, quote(&q, r->text));
			continue;
		}
		if (strv_has(vol->publish_roots, vol->n_publish_roots, r->text)) {
			errorf(c, r, p, "%s is listed twice", r->text);
			continue;
		}
		if ((vol->publish_roots[vol->n_publish_roots] = xstrdup(c, r->text)))
			vol->n_publish_roots++;
	}
}

/* Node selection: a key alone says nothing, so it needs an operator or values. */
static void check_selector(struct ctx *c, const char *path, const struct config_pool *pl,
			   const struct seen *s)
{
	struct node *vals = s->val[P_VALUE] ? s->val[P_VALUE] : s->val[P_VALUES];
	bool need_values = pl->op == CONFIG_OP_IN || pl->op == CONFIG_OP_NOT_IN;
	char p[PATH_LEN];

	if (s->val[P_VALUE] && s->val[P_VALUES]) {
		errorf(c, later(s->key[P_VALUE], s->key[P_VALUES]), path,
		       "value and values are exclusive: use one");
		return;
	}
	if (!s->val[P_KEY]) {
		if (s->val[P_OPERATOR])
			errorf(c, s->key[P_OPERATOR], path_key(p, path, "operator"),
			       "needs key (the label to match)");
		else if (vals)
			errorf(c, s->key[s->val[P_VALUE] ? P_VALUE : P_VALUES],
			       path_key(p, path, s->val[P_VALUE] ? "value" : "values"),
			       "needs key (the label to match)");
		return;
	}
	if (!pl->key)
		return; /* the key was invalid, already reported */
	if (need_values && !vals)
		errorf(c, s->val[P_OPERATOR] ? s->val[P_OPERATOR] : s->val[P_KEY],
		       path_key(p, path, s->val[P_OPERATOR] ? "operator" : "key"),
		       "operator %s needs value or values", config_match_op_name(pl->op));
	else if (!need_values && vals)
		errorf(c, vals, path_key(p, path, s->val[P_VALUE] ? "value" : "values"),
		       "operator %s takes no value", config_match_op_name(pl->op));
}

static void parse_pool(struct ctx *c, struct node *item, const char *path, struct config *cfg,
		       size_t idx)
{
	struct config_pool *pl = &cfg->pools[idx];
	char p[PATH_LEN];
	struct seen s;

	if (!walk_map(c, item, path, pl, &pool_section, &s))
		return;
	if (!s.val[P_NAME])
		errorf(c, item, path, "name is required (the pool's mount path)");
	if (!s.val[P_REGIONS])
		errorf(c, item, path, "regions is required (the regions this pool is built on)");
	check_selector(c, path, pl, &s);
	parse_topology(c, s.val[P_TOPOLOGY], path_key(p, path, "topology"), pl);
	if (s.val[P_REGIONS])
		parse_regions(c, s.val[P_REGIONS], path_key(p, path, "regions"), cfg, idx);
	for (size_t j = 0; pl->name && j < idx; j++) {
		if (cfg->pools[j].name && strcmp(cfg->pools[j].name, pl->name) == 0) {
			errorf(c, s.val[P_NAME], path_key(p, path, "name"),
			       "duplicate pool %s (also pools[%zu])", pl->name, j);
			break;
		}
	}
}

static void f_pools(struct ctx *c, struct node *v, const char *path, void *base,
		    const struct field *f)
{
	struct config *cfg = base;

	(void)f;
	if (is_null(v) || !expect(c, v, NODE_SEQ, path, "a sequence of pools") || v->n == 0 ||
	    !within(c, v, path, MAX_POOLS, "pools"))
		return;
	cfg->pools = calloc(v->n, sizeof(*cfg->pools));
	if (!cfg->pools) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		struct config_pool *pl = &cfg->pools[cfg->n_pools++];
		char p[PATH_LEN];

		pl->op = CONFIG_OP_IN;
		pl->type = CONFIG_POOL_PMEM;
		pl->fstype = CONFIG_FS_EXT4;
		pl->pos = v->kids[i]->pos;
		parse_pool(c, v->kids[i], path_index(p, path, i), cfg, i);
	}
}

/* ---- defaults and the command line -------------------------------------- */

static int add_listen(struct ctx *c, struct config *cfg, enum config_listen_kind kind,
		      const char *where, uint16_t port)
{
	struct config_listen *l = realloc(cfg->listen, (cfg->n_listen + 1) * sizeof(*l));

	if (!l) {
		c->oom = true;
		return -ENOMEM;
	}
	cfg->listen = l;
	l = &cfg->listen[cfg->n_listen++];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	if (kind == CONFIG_LISTEN_UNIX) {
		l->path = xstrdup(c, where);
		l->mode = 0660;
	} else {
		l->host = xstrdup(c, where);
		l->port = port;
	}
	return 0;
}

/* kubelet lowercases the host name into the node name; do the same so they agree. */
static void default_node_name(struct ctx *c, struct config *cfg)
{
	char host[HOST_NAME_MAX + 1] = "";
	struct qbuf q;

	if (gethostname(host, sizeof(host) - 1) < 0) {
		errorf(c, NULL, "node_name", "not set, and the host name is unknown (%s)",
		       strerror(errno));
		return;
	}
	for (char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (check_node_name(host)) {
		errorf(c, NULL, "node_name",
		       "not set, and the host name %s is not a valid node name: set node_name",
		       quote(&q, host));
		return;
	}
	cfg->node_name = xstrdup(c, host);
}

static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

static void apply_extra_labels(struct ctx *c, struct config *cfg, char *const *extra)
{
	for (; extra && *extra; extra++) {
		const char *eq = strchr(*extra, '=');
		struct config_pos none = {0, 0};
		const char *why;
		struct qbuf q;
		char *key;

		if (!eq) {
			error_in(c, CMDLINE, none, "--node-label %s: expected key=value",
				 quote(&q, *extra));
			continue;
		}
		key = strndup(*extra, (size_t)(eq - *extra));
		if (!key) {
			c->oom = true;
			return;
		}
		if ((why = check_label_key(key)))
			error_in(c, CMDLINE, none, "--node-label %s: invalid label key: %s",
				 quote(&q, *extra), why);
		else if ((why = check_label_value(eq + 1)))
			error_in(c, CMDLINE, none, "--node-label %s: invalid label value: %s",
				 quote(&q, *extra), why);
		else
			label_set(c, cfg, key, eq + 1);
		free(key);
	}
}

/* ---- entry points ------------------------------------------------------- */

static struct config_errors *errors_new(const char *name)
{
	struct config_errors *errs = calloc(1, sizeof(*errs));

	if (errs && !(errs->file = strdup(name))) {
		free(errs);
		errs = NULL;
	}
	return errs;
}

static void finish_errors(struct ctx *c)
{
	errors_sort(c->errs);
	if (c->dropped) {
		struct config_pos last = c->errs->items[c->errs->count - 1].pos;
		size_t n = c->dropped;

		c->dropped = 0;
		c->uncapped = true;
		error_in(c, NULL, last, "too many errors: %zu more not shown", n);
	}
}

static void validate(struct ctx *c, struct node *root, struct config *cfg, char *const *extra)
{
	struct seen s;

	memset(&s, 0, sizeof(s));
	if (root && !is_null(root))
		walk_map(c, root, "", cfg, &top_section, &s);
	if (!s.val[TOP_LISTEN]) {
		add_listen(c, cfg, CONFIG_LISTEN_UNIX, CONFIG_DEFAULT_SOCKET, 0);
		add_listen(c, cfg, CONFIG_LISTEN_TCP, CONFIG_DEFAULT_TCP_HOST,
			   CONFIG_DEFAULT_TCP_PORT);
	}
	apply_extra_labels(c, cfg, extra);
	if (!cfg->node_name && !s.val[TOP_NODE_NAME])
		default_node_name(c, cfg);
	if (cfg->threads == 0)
		cfg->threads = default_threads();
	if (!cfg->state_dir)
		cfg->state_dir = xstrdup(c, CONFIG_DEFAULT_STATE_DIR);
	if (!cfg->placement.cpu_manager_state)
		cfg->placement.cpu_manager_state = xstrdup(c, CONFIG_DEFAULT_CPU_MANAGER_STATE);
	if (!cfg->placement.driver)
		cfg->placement.driver = xstrdup(c, CONFIG_DEFAULT_DRIVER);
	if (!cfg->scheduler.url_prefix)
		cfg->scheduler.url_prefix = xstrdup(c, CONFIG_DEFAULT_URL_PREFIX);
	if (s.val[TOP_SCHEDULER] && !is_null(s.val[TOP_SCHEDULER]) &&
	    cfg->role != CONFIG_ROLE_SCHEDULER)
		errorf(c, s.key[TOP_SCHEDULER], "scheduler",
		       "needs role: scheduler (this pmemd is a node agent)");
	if (cfg->role == CONFIG_ROLE_SCHEDULER && s.val[TOP_POOLS] && cfg->n_pools)
		errorf(c, s.key[TOP_POOLS], "pools",
		       "a scheduler-role pmemd owns no pools (role: scheduler)");
	if (cfg->simulate.file && cfg->role != CONFIG_ROLE_NODE)
		errorf(c, s.key[TOP_SIMULATE], "simulate",
		       "needs role: node (a scheduler simulates a cluster with "
		       "scheduler.simulate)");
	/* Real and simulated pools never mix: the record would be half a guess. */
	if (cfg->simulate.file && cfg->role == CONFIG_ROLE_NODE && s.val[TOP_POOLS] && cfg->n_pools)
		errorf(c, s.key[TOP_POOLS], "pools",
		       "simulate and pools exclude each other (a simulated node's pools come from "
		       "simulate.file)");
	if (!cfg->volumes.publish_roots) {
		cfg->volumes.publish_roots = strv_new(c, 1);
		if (cfg->volumes.publish_roots &&
		    (cfg->volumes.publish_roots[0] = xstrdup(c, CONFIG_DEFAULT_PUBLISH_ROOT)))
			cfg->volumes.n_publish_roots = 1;
	}
}

int config_parse(const char *name, const char *buf, size_t len, char *const *extra_labels,
		 struct config **out, struct config_errors **errs)
{
	struct ctx c = {0};
	struct node *root = NULL;
	struct config *cfg = NULL;
	int r;

	*out = NULL;
	*errs = c.errs = errors_new(name ? name : "<config>");
	if (!c.errs)
		return -ENOMEM;
	if (len > CONFIG_MAX_BYTES) {
		errorf(&c, NULL, NULL, "file is larger than 1 MiB (%zu bytes)", len);
		return c.oom ? -ENOMEM : -EFBIG;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->source = strdup(name ? name : "<config>")))
		goto oom;
	cfg->log_level = LOG_LVL_INFO;
	cfg->limits = (struct config_limits){CONFIG_DEFAULT_MAX_BODY, CONFIG_DEFAULT_MAX_CONN,
					     CONFIG_DEFAULT_PER_CLIENT, CONFIG_DEFAULT_TIMEOUT_MS};
	cfg->kube.publish_interval_ms = CONFIG_DEFAULT_KUBE_INTERVAL_MS;
	cfg->kube.heartbeat_interval_ms = CONFIG_DEFAULT_HEARTBEAT_MS;
	cfg->volumes.overcommit_ratio = CONFIG_DEFAULT_OVERCOMMIT_RATIO;
	cfg->placement.pmem_policy = SCHED_PMEM_BINPACK;
	cfg->placement.cpu_policy = SCHED_CPU_SHORTEST_DISTANCE;
	cfg->placement.reservation_ttl_ms = CONFIG_DEFAULT_RESERVATION_TTL_MS;
	cfg->scheduler.poll_interval_ms = CONFIG_DEFAULT_POLL_INTERVAL_MS;
	cfg->scheduler.max_record_age_ms = CONFIG_DEFAULT_MAX_RECORD_AGE_MS;
	cfg->resize.interval_ms = CONFIG_DEFAULT_RESIZE_INTERVAL_MS;
	cfg->resize.prometheus.timeout_ms = CONFIG_DEFAULT_PROM_TIMEOUT_MS;
	cfg->resize.kubelet.timeout_ms = CONFIG_DEFAULT_PROM_TIMEOUT_MS;

	r = tree_build(&c, buf ? buf : "", buf ? len : 0, &root);
	if (r < 0)
		goto oom;
	if (r == 0)
		validate(&c, root, cfg, extra_labels);
	node_free(root);
	root = NULL;
	if (c.oom)
		goto oom;
	finish_errors(&c);
	if (c.errs->count) {
		config_free(cfg);
		return c.oom ? -ENOMEM : -EINVAL;
	}
	*out = cfg;
	return 0;
oom:
	node_free(root);
	config_free(cfg);
	errors_clear(&c);
	errorf(&c, NULL, NULL, "out of memory");
	return -ENOMEM;
}

/* Reads at most CONFIG_MAX_BYTES + 1 so an oversized file is seen without reading it all. */
static int read_file(const char *path, char **out, size_t *len)
{
	size_t cap = CONFIG_MAX_BYTES + 1, n = 0;
	char *buf;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n < cap) {
		ssize_t got = read(fd, buf + n, cap - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (!r && n > CONFIG_MAX_BYTES)
		r = -EFBIG;
	if (r) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = n;
	return 0;
}

int config_load(const char *path, char *const *extra_labels, struct config **out,
		struct config_errors **errs)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, &buf, &len);
	if (r < 0) {
		struct ctx c = {0};

		*out = NULL;
		*errs = c.errs = errors_new(path);
		if (!c.errs)
			return -ENOMEM;
		if (r == -EFBIG)
			errorf(&c, NULL, NULL, "file is larger than 1 MiB");
		else
			errorf(&c, NULL, NULL, "cannot read: %s", strerror(-r));
		return r;
	}
	r = config_parse(path, buf, len, extra_labels, out, errs);
	free(buf);
	return r;
}
