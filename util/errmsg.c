/* errmsg: see errmsg.h. */
#include <stdarg.h>
#include <stdio.h>

#include "util/errmsg.h"

int err_fail(int ret, char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}
