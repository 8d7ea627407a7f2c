/* api-auth: bearer tokens (constant-time) and the secret files behind TLS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "util/secret.h"

#define TOKEN_MAX (4 * 1024)
#define PEM_MAX	  (1024 * 1024)

/* Reads at most `max` bytes of a regular file; O_NOFOLLOW is not used: a
 * mounted Kubernetes secret is a symlink chain by design. */
static int read_small_file(const char *path, size_t max, char **out, size_t *out_len, char *err,
			   size_t err_len)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, err_len, "%s is larger than %zu bytes", path, max);
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			snprintf(err, err_len, "cannot read %s: %s", path, strerror(-r));
			close(fd);
			explicit_bzero(buf, off);
			free(buf);
			return r;
		}
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*out = buf;
	*out_len = off;
	return 0;
}

int api_auth_read_token(const char *path, char **out, char *err, size_t err_len)
{
	int r = secret_read_token(path, TOKEN_MAX, out);

	if (r == -EINVAL)
		snprintf(err, err_len,
			 "token file %s is empty, not a regular file, or holds whitespace, NUL or "
			 "control characters",
			 path);
	else if (r == -EFBIG)
		snprintf(err, err_len, "token file %s is larger than %d bytes", path, TOKEN_MAX);
	else if (r < 0)
		snprintf(err, err_len, "cannot read token file %s: %s", path, strerror(-r));
	return r;
}

int api_auth_read_file(const char *path, char **out, char *err, size_t err_len)
{
	size_t len;

	return read_small_file(path, PEM_MAX, out, &len, err, err_len);
}

/*
 * Compares in time that depends only on the length of the presented token,
 * never on where the first difference is: every byte is looked at and the
 * differences are OR-ed together.
 */
bool api_auth_bearer_ok(const char *header, const char *token)
{
	size_t hlen, tlen;
	unsigned char diff = 0;

	if (!header || !token || strncasecmp(header, "Bearer ", 7) != 0)
		return false;
	header += 7;
	while (*header == ' ')
		header++;
	hlen = strlen(header);
	tlen = strlen(token);
	diff = (unsigned char)(hlen != tlen);
	for (size_t i = 0; i < hlen; i++)
		diff |= (unsigned char)header[i] ^ (unsigned char)token[i % (tlen ? tlen : 1)];
	return diff == 0 && tlen > 0;
}
