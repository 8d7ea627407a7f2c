/*
 * statefile: pmemd's own small state files in state_dir (reservations, resize policies):
 * replaced atomically, and moved aside when they cannot be read.
 */
#ifndef PMEMD_UTIL_STATEFILE_H
#define PMEMD_UTIL_STATEFILE_H

#include <jansson.h>
#include <stddef.h>

/*
 * Replaces <dir>/<name> with text (a temporary file, fsync, rename, fsync of the directory),
 * making dir (mode 0700) when missing, so a crash leaves the old file or the new one, never
 * a mix. 0, or -EIO whatever the step that failed (the step and errno are in err: callers
 * answer 500, the server's fault, not the client's).
 */
int statefile_write(const char *dir, const char *name, const char *text, size_t len, char *err,
		    size_t err_len);

/*
 * Moves a file that cannot be read to <path>.corrupt-<unix time>, so a person can look at it,
 * and logs `event` with the reason and what pmemd starts without (`lost`).
 */
void statefile_move_aside(const char *path, const char *event, const char *why, const char *lost);

/*
 * Reads <dir>/<name>, which must be a JSON object {"version": version, "<array_key>": [...]}
 * of at most max_bytes. Returns the document with *arr its array (json_decref it), or NULL:
 * when the file is absent (nothing logged), cannot be stat'ed (logged as <what>_unreadable),
 * or is not such a document (moved aside and logged as <what>_corrupt, starting without
 * `lost`).
 */
json_t *statefile_read(const char *dir, const char *name, size_t max_bytes, int version,
		       const char *array_key, const char *what, const char *lost, json_t **arr);

#endif
