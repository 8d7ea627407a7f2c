/* utf8: UTF-8 validity (RFC 3629) of text that pmemd puts into JSON, which must be UTF-8. */
#ifndef PMEMD_UTIL_UTF8_H
#define PMEMD_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Is s[0..len) valid UTF-8: no overlong forms, no UTF-16 surrogates, nothing past U+10FFFF,
 * no cut sequence at the end? (A NUL byte is valid UTF-8; callers that refuse it check it.)
 */
bool utf8_valid(const char *s, size_t len);

/*
 * Makes the NUL-terminated s valid UTF-8 in place: each byte that starts no valid sequence
 * becomes '?'; valid characters stay. For messages that quote what a client sent.
 */
void utf8_scrub(char *s);

#endif
