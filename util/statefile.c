/* statefile: see statefile.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/statefile.h"

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_len, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EIO;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

int statefile_write(const char *dir, const char *name, const char *text, size_t len, char *err,
		    size_t err_len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t off = 0;
	int fd, r = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >= sizeof(tmp))
		return fail(err, err_len, "cannot write %s/%s: path too long", dir, name);
	r = mkdir_p(dir);
	if (r < 0)
		return fail(err, err_len, "cannot make %s: %s", dir, strerror(-r));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return fail(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = fail(err, err_len, "cannot write %s: %s", tmp,
				 w < 0 ? strerror(errno) : "short write");
			break;
		}
		off += (size_t)w;
	}
	if (r == 0 && fsync(fd) < 0)
		r = fail(err, err_len, "cannot fsync %s: %s", tmp, strerror(errno));
	if (close(fd) < 0 && r == 0)
		r = fail(err, err_len, "cannot close %s: %s", tmp, strerror(errno));
	if (r == 0 && rename(tmp, path) < 0)
		r = fail(err, err_len, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* The rename is durable only once the directory is. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = fail(err, err_len, "cannot fsync %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

void statefile_move_aside(const char *path, const char *event, const char *why, const char *lost)
{
	char aside[PATH_MAX], q[600], m[200], qm[256];

	snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path, (long long)time(NULL));
	if (rename(path, aside) < 0) {
		log_error(event, "file=%s reason=%s moved_aside=failed errno=%d", path,
			  log_quote(q, sizeof(q), why), errno);
		return;
	}
	snprintf(m, sizeof(m), "starting without %s", lost);
	log_error(event, "file=%s reason=%s moved_to=%s message=%s", path,
		  log_quote(q, sizeof(q), why), aside, log_quote(qm, sizeof(qm), m));
}

json_t *statefile_read(const char *dir, const char *name, size_t max_bytes, int version,
		       const char *array_key, const char *what, const char *lost, json_t **arr)
{
	char path[PATH_MAX], why[512], event[64];
	json_error_t je;
	struct stat st;
	json_t *doc;

	*arr = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(event, sizeof(event), "%s_corrupt", what);
	if (stat(path, &st) < 0) {
		if (errno != ENOENT) {
			snprintf(event, sizeof(event), "%s_unreadable", what);
			log_error(event, "file=%s errno=%d", path, errno);
		}
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)max_bytes) {
		statefile_move_aside(path, event,
				     S_ISREG(st.st_mode) ? "too big" : "not a regular file", lost);
		return NULL;
	}
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		snprintf(why, sizeof(why), "invalid JSON at line %d, column %d: %s", je.line,
			 je.column, je.text);
		statefile_move_aside(path, event, why, lost);
		return NULL;
	}
	if (!json_is_integer(json_object_get(doc, "version")) ||
	    json_integer_value(json_object_get(doc, "version")) != version ||
	    !json_is_array(json_object_get(doc, array_key))) {
		json_decref(doc);
		snprintf(why, sizeof(why), "no version %d or no %s array", version, array_key);
		statefile_move_aside(path, event, why, lost);
		return NULL;
	}
	*arr = json_object_get(doc, array_key);
	return doc;
}
