/* errmsg: the one way pmemd's modules answer "-errno, and why" through an err buffer. */
#ifndef PMEMD_UTIL_ERRMSG_H
#define PMEMD_UTIL_ERRMSG_H

#include <stddef.h>

/* Formats the reason into err (when err and err_len are set) and returns ret. */
int err_fail(int ret, char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
