/* secret: bearer-token files, read and wiped the same way by the API server and the Kubernetes
 * client. */
#ifndef PMEMD_UTIL_SECRET_H
#define PMEMD_UTIL_SECRET_H

#include <stddef.h>

/*
 * Reads the bearer token in `path` (at most `max` bytes; a symlink chain, as
 * Kubernetes mounts secrets, is followed), trims trailing whitespace, and
 * refuses an empty token or one holding whitespace, NUL or control
 * characters: it goes into an HTTP header line, where CR/LF would forge
 * headers. Returns 0 with a malloc'd *out, -EINVAL (bad content), -EFBIG (too
 * large) or -errno from open/read; *out is untouched on failure. Never logs.
 */
int secret_read_token(const char *path, size_t max, char **out);

/* Overwrites a secret string and frees it. Accepts NULL, returns NULL. */
char *secret_free(char *s);

#endif
