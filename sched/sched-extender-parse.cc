/*
 * sched-extender-parse: ExtenderArgs scanned with simdjson's On-Demand API, behind the C
 * interface of sched-extender.h. The only C++ in pmemd: no exception and no C++ type crosses
 * the interface; every failure becomes -EBADMSG or -ENOMEM with a message.
 *
 * On-Demand skips what it is not asked for, checking only that brackets balance. So every
 * value this file does not hand to jansson (the Pod) is walked in full by validate_value():
 * the Node items echoed back into the filter answer must be valid JSON, or the answer is not.
 */
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <simdjson.h>

#include "sched/sched-extender.h"

namespace od = simdjson::ondemand;

struct sched_ext_parser {
	od::parser parser;
	char *buf; /* the body, padded as simdjson asks */
	size_t cap;
};

namespace
{

/* Why a scan failed; turned into -EBADMSG or -ENOMEM and a message at the top. */
struct scan_error {
	int code;
	char msg[SCHED_EXT_ERR_MAX];
};

struct scan {
	const char *base; /* the padded copy: offsets are the same as in the caller's body */
	size_t len;
	scan_error err;
	/* names as offsets into a growing arena (pointers are fixed up once it stops moving) */
	char *arena;
	size_t arena_len, arena_cap;
	size_t *name_off;
	size_t n_names, names_cap;
	sched_ext_name *name_info; /* n_names entries */
	size_t info_cap;
	sched_ext_span *items;
	size_t items_cap;
};

__attribute__((format(printf, 2, 3))) int fail(scan &s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s.err.msg, sizeof(s.err.msg), fmt, ap);
	va_end(ap);
	s.err.code = -EBADMSG;
	return -EBADMSG;
}

int fail_oom(scan &s)
{
	snprintf(s.err.msg, sizeof(s.err.msg), "out of memory");
	s.err.code = -ENOMEM;
	return -ENOMEM;
}

/* Where the iterator stands, as a byte offset for messages; the length when at the end. */
template <typename T> size_t offset_of(scan &s, T &v)
{
	const char *loc = nullptr;
	if (v.current_location().get(loc) != simdjson::SUCCESS || loc < s.base)
		return s.len;
	return (size_t)(loc - s.base);
}

int fail_json(scan &s, od::document &doc, const char *what, simdjson::error_code e)
{
	return fail(s, "offset %zu: %s: %s", offset_of(s, doc), what, simdjson::error_message(e));
}

/* Go's encoding/json matches keys case-insensitively; kube-scheduler sends Go field names. */
bool key_is(std::string_view key, const char *name)
{
	size_t n = strlen(name);
	return key.size() == n && strncasecmp(key.data(), name, n) == 0;
}

template <typename T> bool grow(T *&p, size_t &cap, size_t need)
{
	if (need <= cap)
		return true;
	size_t ncap = cap ? cap : 64;
	while (ncap < need)
		ncap *= 2;
	void *np = realloc(p, ncap * sizeof(T));
	if (!np)
		return false;
	p = (T *)np;
	cap = ncap;
	return true;
}

int add_name(scan &s, std::string_view name, const char *where, size_t idx)
{
	if (name.empty())
		return fail(s, "%s[%zu]: empty node name", where, idx);
	if (name.size() > SCHED_EXT_MAX_NAME)
		return fail(s, "%s[%zu]: node name longer than %d bytes", where, idx,
			    SCHED_EXT_MAX_NAME);
	/* One pass for both questions, a word at a time: a NUL (refused), and whether the
	 * answer must escape a byte of the name (a NUL is such a byte, so the exact search for
	 * it runs only for names that are not plain). */
	bool plain = true;
	size_t i = 0, n = name.size();
	uint64_t w;
	for (; i + 8 <= n && plain; i += 8) {
		memcpy(&w, name.data() + i, 8);
		plain = !sched_ext_word_needs_escape(w);
	}
	if (plain && i < n && n >= 8) {
		/* The tail as the last 8 bytes, overlapping bytes already seen (a fixed-size
		 * copy: a variable one was a libc call per name). */
		memcpy(&w, name.data() + n - 8, 8);
		plain = !sched_ext_word_needs_escape(w);
	} else {
		for (; i < n && plain; i++)
			plain = !sched_ext_needs_escape((unsigned char)name[i]);
	}
	if (!plain && memchr(name.data(), '\0', name.size()))
		return fail(s, "%s[%zu]: node name contains NUL", where, idx);
	if (s.n_names >= SCHED_EXT_MAX_NODES)
		return fail(s, "%s: more than %d nodes", where, SCHED_EXT_MAX_NODES);
	if (!grow(s.name_off, s.names_cap, s.n_names + 1) ||
	    !grow(s.name_info, s.info_cap, s.n_names + 1) ||
	    !grow(s.arena, s.arena_cap, s.arena_len + name.size() + 1))
		return fail_oom(s);
	s.name_info[s.n_names] = sched_ext_name{(uint32_t)name.size(), plain};
	memcpy(s.arena + s.arena_len, name.data(), name.size());
	s.arena[s.arena_len + name.size()] = '\0';
	s.name_off[s.n_names++] = s.arena_len;
	s.arena_len += name.size() + 1;
	return 0;
}

/*
 * Walks a value in full so that On-Demand checks every token of it (strings are unescaped,
 * numbers parsed, literals checked). `path` names it for messages.
 */
int validate_value(scan &s, od::document &doc, od::value v, const char *path, unsigned depth)
{
	if (depth > SCHED_EXT_MAX_DEPTH)
		return fail(s, "%s: nested deeper than %d", path, SCHED_EXT_MAX_DEPTH);
	od::json_type t;
	simdjson::error_code e = v.type().get(t);
	if (e)
		return fail_json(s, doc, path, e);
	switch (t) {
	case od::json_type::object: {
		od::object o;
		if ((e = v.get_object().get(o)))
			return fail_json(s, doc, path, e);
		for (auto f : o) {
			std::string_view k;
			if ((e = f.unescaped_key().get(k)))
				return fail_json(s, doc, path, e);
			od::value fv;
			if ((e = f.value().get(fv)))
				return fail_json(s, doc, path, e);
			int r = validate_value(s, doc, fv, path, depth + 1);
			if (r)
				return r;
		}
		return 0;
	}
	case od::json_type::array: {
		od::array a;
		if ((e = v.get_array().get(a)))
			return fail_json(s, doc, path, e);
		for (auto el : a) {
			od::value ev;
			if ((e = el.get(ev)))
				return fail_json(s, doc, path, e);
			int r = validate_value(s, doc, ev, path, depth + 1);
			if (r)
				return r;
		}
		return 0;
	}
	case od::json_type::string: {
		std::string_view sv;
		e = v.get_string().get(sv);
		break;
	}
	case od::json_type::number: {
		od::number n;
		e = v.get_number().get(n);
		break;
	}
	case od::json_type::boolean: {
		bool b;
		e = v.get_bool().get(b);
		break;
	}
	case od::json_type::null: {
		bool isnull = false;
		e = v.is_null().get(isnull);
		if (!e && !isnull)
			return fail(s, "offset %zu: %s: bad literal", offset_of(s, doc), path);
		break;
	}
	}
	if (e)
		return fail_json(s, doc, path, e);
	return 0;
}

/* "NodeNames": [string, ...] */
int scan_node_names(scan &s, od::document &doc, od::value v)
{
	od::array a;
	simdjson::error_code e = v.get_array().get(a);
	if (e)
		return e == simdjson::INCORRECT_TYPE ? fail(s, "NodeNames: not an array")
						     : fail_json(s, doc, "NodeNames", e);
	/* Unescaped names and their NULs never outgrow the body ("a", -> a\0): size the arena
	 * once so that 5,000 names cost no reallocation. */
	if (!grow(s.arena, s.arena_cap, s.arena_len + s.len + 1))
		return fail_oom(s);
	size_t i = 0;
	for (auto el : a) {
		od::value ev;
		std::string_view name;
		if ((e = el.get(ev)))
			return fail_json(s, doc, "NodeNames", e);
		const char *loc = nullptr;
		if (ev.current_location().get(loc))
			loc = nullptr;
		if ((e = ev.get_string().get(name))) {
			/* "[\"a\",]": On-Demand sees the ']' as a value of the wrong type */
			if (loc && strchr("]},:", *loc))
				return fail(s, "offset %zu: NodeNames[%zu]: expected a value",
					    (size_t)(loc - s.base), i);
			if (e == simdjson::INCORRECT_TYPE)
				return fail(s, "NodeNames[%zu]: not a string", i);
			char where[48];
			snprintf(where, sizeof(where), "NodeNames[%zu]", i);
			return fail_json(s, doc, where, e);
		}
		int r = add_name(s, name, "NodeNames", i);
		if (r)
			return r;
		i++;
	}
	return 0;
}

/* One NodeList item: walked in full (it is echoed back), its metadata.name taken. */
int scan_node_item(scan &s, od::document &doc, od::value v, size_t idx)
{
	char path[64];
	snprintf(path, sizeof(path), "Nodes.items[%zu]", idx);
	const char *start = nullptr;
	simdjson::error_code e = v.current_location().get(start);
	if (e)
		return fail_json(s, doc, path, e);
	od::object o;
	if ((e = v.get_object().get(o)))
		return e == simdjson::INCORRECT_TYPE ? fail(s, "%s: not an object", path)
						     : fail_json(s, doc, path, e);
	bool have_name = false;
	for (auto f : o) {
		std::string_view k;
		if ((e = f.unescaped_key().get(k)))
			return fail_json(s, doc, path, e);
		od::value fv;
		if ((e = f.value().get(fv)))
			return fail_json(s, doc, path, e);
		if (k != "metadata") {
			int r = validate_value(s, doc, fv, path, 2);
			if (r)
				return r;
			continue;
		}
		od::object md;
		if ((e = fv.get_object().get(md)))
			return e == simdjson::INCORRECT_TYPE
				       ? fail(s, "%s.metadata: not an object", path)
				       : fail_json(s, doc, path, e);
		for (auto mf : md) {
			std::string_view mk;
			if ((e = mf.unescaped_key().get(mk)))
				return fail_json(s, doc, path, e);
			od::value mv;
			if ((e = mf.value().get(mv)))
				return fail_json(s, doc, path, e);
			if (mk != "name") {
				int r = validate_value(s, doc, mv, path, 3);
				if (r)
					return r;
				continue;
			}
			std::string_view name;
			if ((e = mv.get_string().get(name)))
				return e == simdjson::INCORRECT_TYPE
					       ? fail(s, "%s.metadata.name: not a string", path)
					       : fail_json(s, doc, path, e);
			if (have_name)
				return fail(s, "%s.metadata.name: given twice", path);
			int r = add_name(s, name, "Nodes.items", idx);
			if (r)
				return r;
			have_name = true;
		}
	}
	if (!have_name)
		return fail(s, "%s.metadata.name: missing", path);
	/* The item ends where the next token (',' or ']') starts, less whitespace. */
	const char *end = nullptr;
	if ((e = doc.current_location().get(end)))
		return fail_json(s, doc, path, e);
	while (end > start &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (!grow(s.items, s.items_cap, idx + 1))
		return fail_oom(s);
	s.items[idx].off = (size_t)(start - s.base);
	s.items[idx].len = (size_t)(end - start);
	return 0;
}

/* "Nodes": {"metadata": {...}, "items": [Node, ...], ...} */
int scan_nodes(scan &s, od::document &doc, od::value v, sched_ext_span *list_md)
{
	od::object o;
	simdjson::error_code e = v.get_object().get(o);
	if (e)
		return e == simdjson::INCORRECT_TYPE ? fail(s, "Nodes: not an object")
						     : fail_json(s, doc, "Nodes", e);
	bool have_items = false;
	for (auto f : o) {
		std::string_view k;
		if ((e = f.unescaped_key().get(k)))
			return fail_json(s, doc, "Nodes", e);
		od::value fv;
		if ((e = f.value().get(fv)))
			return fail_json(s, doc, "Nodes", e);
		if (k == "metadata") {
			od::object md;
			std::string_view raw;
			if ((e = fv.get_object().get(md)))
				return e == simdjson::INCORRECT_TYPE
					       ? fail(s, "Nodes.metadata: not an object")
					       : fail_json(s, doc, "Nodes.metadata", e);
			/* Echoed back as it is: raw_json() only balances brackets, so the span
			 * is checked with jansson after the scan (it is a few bytes). */
			if ((e = md.raw_json().get(raw)))
				return fail_json(s, doc, "Nodes.metadata", e);
			list_md->off = (size_t)(raw.data() - s.base);
			list_md->len = raw.size();
			continue;
		}
		if (k != "items") {
			int r = validate_value(s, doc, fv, "Nodes", 2);
			if (r)
				return r;
			continue;
		}
		if (have_items)
			return fail(s, "Nodes.items: given twice");
		have_items = true;
		bool isnull = false;
		if (!fv.is_null().get(isnull) && isnull)
			continue;
		od::array a;
		if ((e = fv.get_array().get(a)))
			return e == simdjson::INCORRECT_TYPE ? fail(s, "Nodes.items: not an array")
							     : fail_json(s, doc, "Nodes.items", e);
		size_t i = 0;
		for (auto el : a) {
			od::value ev;
			if ((e = el.get(ev)))
				return fail_json(s, doc, "Nodes.items", e);
			int r = scan_node_item(s, doc, ev, i);
			if (r)
				return r;
			i++;
		}
	}
	return 0;
}

/* Checks a span that On-Demand skipped (brackets only) as full JSON. */
int check_span_json(scan &s, const sched_ext_span &sp, const char *what)
{
	json_error_t je;
	json_t *j = json_loadb(s.base + sp.off, sp.len, 0, &je);
	if (!j)
		return fail(s, "offset %zu: %s: %s",
			    sp.off + (size_t)(je.position > 0 ? je.position : 0), what, je.text);
	json_decref(j);
	return 0;
}

int scan_args(scan &s, od::parser &parser, size_t cap, sched_ext_args *a)
{
	/* On-Demand reports a bad first or last byte as "ended early" at offset 0; say it
	 * plainly: an object starts with '{' and ends with '}'. */
	size_t first = 0, last = s.len;
	while (first < s.len && strchr(" \t\r\n", s.base[first]) && s.base[first])
		first++;
	while (last > first && strchr(" \t\r\n", s.base[last - 1]) && s.base[last - 1])
		last--;
	if (first == s.len)
		return fail(s, "offset 0: empty body");
	if (s.base[first] != '{')
		return fail(s, "offset %zu: not a JSON object", first);
	if (s.base[last - 1] != '}')
		return fail(s, "offset %zu: truncated, or trailing content after the object",
			    last - 1);
	od::document doc;
	simdjson::error_code e = parser.iterate(s.base, s.len, cap).get(doc);
	if (e)
		return fail(s, "offset 0: %s", simdjson::error_message(e));
	od::object top;
	if ((e = doc.get_object().get(top)))
		return e == simdjson::INCORRECT_TYPE ? fail(s, "offset 0: not a JSON object")
						     : fail_json(s, doc, "ExtenderArgs", e);
	bool seen_pod = false, seen_nodes = false, seen_names = false;
	bool have_nodes = false, have_names = false;
	sched_ext_span pod = {0, 0};
	for (auto f : top) {
		std::string_view k;
		if ((e = f.unescaped_key().get(k)))
			return fail_json(s, doc, "ExtenderArgs", e);
		od::value v;
		if ((e = f.value().get(v)))
			return fail_json(s, doc, "ExtenderArgs", e);
		if (key_is(k, "Pod")) {
			if (seen_pod)
				return fail(s, "Pod: given twice");
			seen_pod = true;
			od::object po;
			std::string_view raw;
			if ((e = v.get_object().get(po)))
				return e == simdjson::INCORRECT_TYPE ? fail(s, "Pod: not an object")
								     : fail_json(s, doc, "Pod", e);
			if ((e = po.raw_json().get(raw)))
				return fail_json(s, doc, "Pod", e);
			pod.off = (size_t)(raw.data() - s.base);
			pod.len = raw.size();
		} else if (key_is(k, "NodeNames")) {
			if (seen_names)
				return fail(s, "NodeNames: given twice");
			seen_names = true;
			bool isnull = false;
			if (!v.is_null().get(isnull) && isnull)
				continue;
			have_names = true;
			int r = scan_node_names(s, doc, v);
			if (r)
				return r;
		} else if (key_is(k, "Nodes")) {
			if (seen_nodes)
				return fail(s, "Nodes: given twice");
			seen_nodes = true;
			bool isnull = false;
			if (!v.is_null().get(isnull) && isnull)
				continue;
			have_nodes = true;
			int r = scan_nodes(s, doc, v, &a->list_metadata);
			if (r)
				return r;
		} else {
			int r = validate_value(s, doc, v, "ExtenderArgs", 1);
			if (r)
				return r;
		}
	}
	/* At the end of the document there is no location left; anything else trails. */
	const char *trail = nullptr;
	if (doc.current_location().get(trail) == simdjson::SUCCESS)
		return fail(s, "offset %zu: trailing content after the object",
			    (size_t)(trail - s.base));
	if (!seen_pod)
		return fail(s, "Pod: missing");
	if (have_names && have_nodes)
		return fail(s, "both Nodes and NodeNames are set; exactly one is expected");
	if (!have_names && !have_nodes)
		return fail(s, "neither Nodes nor NodeNames is set");
	if (have_nodes && a->list_metadata.len) {
		int r = check_span_json(s, a->list_metadata, "Nodes.metadata");
		if (r)
			return r;
	}
	json_error_t je;
	a->pod = json_loadb(s.base + pod.off, pod.len, 0, &je);
	if (!a->pod)
		return fail(s, "offset %zu: Pod: %s",
			    pod.off + (size_t)(je.position > 0 ? je.position : 0), je.text);
	a->form = have_nodes ? SCHED_EXT_NODES : SCHED_EXT_NODE_NAMES;
	return 0;
}

} // namespace

extern "C" struct sched_ext_parser *sched_ext_parser_new(void)
{
	try {
		return new sched_ext_parser{od::parser(), nullptr, 0};
	} catch (...) {
		return nullptr;
	}
}

extern "C" struct sched_ext_parser *sched_ext_parser_free(struct sched_ext_parser *p)
{
	if (p) {
		free(p->buf);
		delete p;
	}
	return nullptr;
}

extern "C" int sched_ext_args_parse(struct sched_ext_parser *p, const char *body, size_t len,
				    struct sched_ext_args **out, char *err, size_t err_len)
{
	sched_ext_parser *tmp = nullptr;
	sched_ext_args *a = nullptr;
	scan s;
	memset(&s, 0, sizeof(s));
	int r = 0;

	try {
		if (!p) {
			p = tmp = sched_ext_parser_new();
			if (!p) {
				r = fail_oom(s);
				goto done;
			}
		}
		/* simdjson indexes 32-bit offsets; the HTTP layer caps bodies far below. */
		if (len > 0xFFFFFFFFu - simdjson::SIMDJSON_PADDING || (!body && len)) {
			r = fail(s, "offset 0: body of %zu bytes refused", len);
			goto done;
		}
		if (p->cap < len + simdjson::SIMDJSON_PADDING) {
			char *nb = (char *)malloc(len + simdjson::SIMDJSON_PADDING);
			if (!nb) {
				r = fail_oom(s);
				goto done;
			}
			free(p->buf);
			p->buf = nb;
			p->cap = len + simdjson::SIMDJSON_PADDING;
		}
		if (len)
			memcpy(p->buf, body, len);
		memset(p->buf + len, 0, simdjson::SIMDJSON_PADDING);
		s.base = p->buf;
		s.len = len;

		a = (sched_ext_args *)calloc(1, sizeof(*a));
		if (!a) {
			r = fail_oom(s);
			goto done;
		}
		r = scan_args(s, p->parser, p->cap, a);
		if (r)
			goto done;
		a->n_nodes = s.n_names;
		a->names = (const char **)malloc((s.n_names ? s.n_names : 1) * sizeof(char *));
		if (!a->names) {
			r = fail_oom(s);
			goto done;
		}
		for (size_t i = 0; i < s.n_names; i++)
			a->names[i] = s.arena + s.name_off[i];
		a->arena = s.arena;
		s.arena = nullptr;
		a->name_info = s.name_info; /* NULL when there are no names */
		s.name_info = nullptr;
		if (a->form == SCHED_EXT_NODES) {
			if (!s.items) /* an empty item list: keep `items` non-NULL for the form */
				s.items = (sched_ext_span *)malloc(sizeof(sched_ext_span));
			if (!s.items) {
				r = fail_oom(s);
				goto done;
			}
			a->items = s.items;
			s.items = nullptr;
		}
	} catch (const std::bad_alloc &) {
		r = fail_oom(s);
	} catch (...) {
		r = fail(s, "internal parser error");
	}
done:
	free(s.arena);
	free(s.name_off);
	free(s.name_info);
	free(s.items);
	sched_ext_parser_free(tmp);
	if (r) {
		if (a) {
			json_decref(a->pod);
			free(a->names);
			free(a->name_info);
			free(a->arena);
			free(a->items);
			free(a);
		}
		if (err && err_len)
			snprintf(err, err_len, "%s", s.err.msg);
		return r;
	}
	*out = a;
	return 0;
}
