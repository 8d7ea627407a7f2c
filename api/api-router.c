/* api-router: matches method + path against the route table; pure, no HTTP. */
#include <string.h>

#include "api/api-internal.h"

int api_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes one segment [s, s+len) into out. A parameter may not decode
 * to '/' or NUL: "%2F" would otherwise smuggle a path separator past the
 * router into a name that later code joins onto a directory.
 */
static int decode_segment(const char *s, size_t len, char *out, size_t out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = api_hex_digit(s[i + 1]);
			lo = api_hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '/' || c == '\0')
			return -1;
		if (o + 1 >= out_len)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Matches one pattern; fills params on success. */
static bool pattern_match(const char *pattern, const char *path, struct api_params *params)
{
	const char *p = pattern, *s = path;
	size_t used = 0;

	params->count = 0;
	while (*p && *s) {
		if (*p != '/' || *s != '/')
			return false;
		p++;
		s++;
		const char *pe = strchrnul(p, '/');
		const char *se = strchrnul(s, '/');
		size_t plen = (size_t)(pe - p), slen = (size_t)(se - s);

		if (slen == 0)
			return false; /* empty segment: "//" or a trailing "/" */
		if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (params->count >= API_MAX_PARAMS)
				return false;
			char *dst = params->buf + used;
			if (decode_segment(s, slen, dst, sizeof(params->buf) - used) < 0)
				return false;
			params->names[params->count] = p + 1; /* up to '}'; see api_param */
			params->values[params->count] = dst;
			params->count++;
			used += strlen(dst) + 1;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return false;
		}
		p = pe;
		s = se;
	}
	return *p == '\0' && *s == '\0';
}

enum api_match api_router_match(const struct api_route *routes, size_t n, const char *method,
				const char *path, size_t *index, struct api_params *params,
				char *allow, size_t allow_len)
{
	bool path_seen = false;
	size_t alen = 0;

	if (allow_len > 0)
		allow[0] = '\0';
	if (!path || path[0] != '/' || strnlen(path, API_MAX_PATH) >= API_MAX_PATH)
		return API_MATCH_NOT_FOUND;
	for (size_t i = 0; i < n; i++) {
		if (!pattern_match(routes[i].pattern, path, params))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			*index = i;
			return API_MATCH_OK;
		}
		path_seen = true;
		size_t mlen = strlen(routes[i].method);
		if (allow_len > 0 && alen + mlen + 3 < allow_len &&
		    !strstr(allow, routes[i].method)) {
			if (alen > 0) {
				memcpy(allow + alen, ", ", 2);
				alen += 2;
			}
			memcpy(allow + alen, routes[i].method, mlen);
			alen += mlen;
			allow[alen] = '\0';
		}
	}
	params->count = 0;
	return path_seen ? API_MATCH_BAD_METHOD : API_MATCH_NOT_FOUND;
}

const char *api_param(const struct api_params *params, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < params->count; i++) {
		/* names point into the pattern, just past '{', ending at '}' */
		if (strncmp(params->names[i], name, nlen) == 0 && params->names[i][nlen] == '}')
			return params->values[i];
	}
	return NULL;
}
