/* log: one line per event on stderr, "level=... event=... key=value ...", journald-friendly. */
#ifndef PMEMD_UTIL_LOG_H
#define PMEMD_UTIL_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Sets the threshold; messages above it are dropped. Thread-safe. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error|warn|info|debug" into *out; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/*
 * Writes one line: `level=info event=<event> <fields>`. `fmt` formats the
 * key=value fields; values that may hold spaces must be quoted by the caller
 * with log_quote(). The whole line is written with one write(2) so lines from
 * several threads never interleave.
 */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *event, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * Quotes `s` for a log value into `buf` (always NUL-terminated, truncated to
 * fit): wraps it in double quotes when it has spaces, quotes or control
 * characters, escaping those. Returns buf.
 */
const char *log_quote(char *buf, size_t len, const char *s);

#define log_error(ev, ...) log_msg(LOG_LVL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_msg(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...)  log_msg(LOG_LVL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_msg(LOG_LVL_DEBUG, ev, __VA_ARGS__)

#endif
