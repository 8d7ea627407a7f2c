/* quota-kernel: private helpers of the real kernel boundary, exposed for tests and node drivers. */
#ifndef PMEMD_QUOTA_KERNEL_H
#define PMEMD_QUOTA_KERNEL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Deepest path below a pool that quota_kernel_ops accepts: a volume
 * (<name>) and a volume in staging or trash (.pmemd/staging/<name>).
 */
#define QUOTA_REL_DEPTH_MAX 3
/* Longest key of a trusted.pmemd.<key> extended attribute. */
#define QUOTA_META_KEY_MAX 64

/*
 * Checks a path relative to a pool: 1..QUOTA_REL_DEPTH_MAX plain components
 * (no "", ".", "..", no leading or trailing '/', no "//"), each at most
 * NAME_MAX bytes; "" only when allow_root. 0 or -EINVAL with the reason.
 */
int quota_rel_check(const char *rel, bool allow_root, char *err, size_t err_len);

/*
 * Checks a bind-mount target: absolute, no "." or ".." components, no "//",
 * shorter than PATH_MAX. 0 or -EINVAL with the reason. (Symlinks are refused
 * when the target is opened, not here.)
 */
int quota_target_check(const char *target, char *err, size_t err_len);

/* Checks a metadata key: 1..QUOTA_META_KEY_MAX of [a-z0-9_.-]. 0 or -EINVAL. */
int quota_meta_key_check(const char *key, char *err, size_t err_len);

/*
 * Tests only: use the calls older kernels have instead of the newer ones
 * (quotactl(2) on the block device from /proc/self/mountinfo instead of
 * quotactl_fd(2); mount(MS_BIND) on /proc/self/fd paths and a remount
 * instead of open_tree/mount_setattr/move_mount; a walk with
 * openat(O_NOFOLLOW) instead of openat2), so the node proves the
 * fallbacks too. Not thread-safe; set it before any call.
 */
void quota_kernel_set_legacy(bool legacy);

#endif
