/* secret: bearer-token files. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/secret.h"

int secret_read_token(const char *path, size_t max, char **out)
{
	char *tok = malloc(max + 1);
	struct stat st;
	size_t n = 0;
	int fd, r = 0;

	if (!tok)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		r = -EINVAL;
		goto fail;
	}
	/* Read one byte past max to tell "exactly max" from "too large". */
	while (n <= max) {
		ssize_t got = read(fd, tok + n, max + 1 - n);

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
	if (!r && n > max)
		r = -EFBIG;
	if (r)
		goto fail;
	while (n > 0 && strchr(" \t\r\n", tok[n - 1]))
		n--;
	tok[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tok[i] <= 0x20 || tok[i] == 0x7f)
			r = -EINVAL;
	if (n == 0)
		r = -EINVAL;
	if (r)
		goto fail;
	*out = tok;
	return 0;
fail:
	explicit_bzero(tok, max + 1);
	free(tok);
	return r;
}

char *secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
	return NULL;
}
