/* log: leveled key=value lines on stderr. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

static _Atomic int current_level = LOG_LVL_INFO;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	atomic_store(&current_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&current_level);
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[level];
}

const char *log_quote(char *buf, size_t len, const char *s)
{
	size_t o = 0;
	int needs = (*s == '\0');

	if (len == 0)
		return buf;
	for (const char *p = s; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20 ||
		    *p == 0x7f)
			needs = 1;
	if (!needs) {
		snprintf(buf, len, "%s", s);
		return buf;
	}
	/* Reserve room for the closing quote and NUL. */
	buf[o++] = '"';
	for (const char *p = s; *p && o + 4 < len; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			buf[o++] = '?';
		} else {
			buf[o++] = (char)c;
		}
	}
	if (o + 1 < len)
		buf[o++] = '"';
	buf[o < len ? o : len - 1] = '\0';
	return buf;
}

void log_vmsg(enum log_level level, const char *event, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if ((int)level > atomic_load(&current_level))
		return;
	n = snprintf(line, sizeof(line), "level=%s event=%s ", log_level_name(level), event);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line)) {
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	/* Drop a trailing space left by an empty field list. */
	while (n > 0 && line[n - 1] == ' ')
		n--;
	line[n++] = '\n';
	/* One write per line keeps lines whole across threads. */
	while (write(STDERR_FILENO, line, (size_t)n) < 0 && errno == EINTR)
		;
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, event, fmt, ap);
	va_end(ap);
}
