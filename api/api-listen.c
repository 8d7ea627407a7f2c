/* api-listen: the listening sockets, created by pmemd and handed to libmicrohttpd. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api-internal.h"

#define LISTEN_BACKLOG 1024

bool api_listen_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

int api_listen_tcp(const char *host, uint16_t port, char *err, size_t err_len)
{
	struct sockaddr_storage ss = {0};
	socklen_t slen;
	int fd, one = 1, r;

	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		slen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		slen = sizeof(*sin6);
	} else {
		snprintf(err, err_len, "%s is not a literal IP address", host);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, slen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot listen on %s:%u: %s", host, port, strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

static int resolve_ids(const char *owner, const char *group, uid_t *uid, gid_t *gid, char *err,
		       size_t err_len)
{
	char *end;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (owner) {
		unsigned long v = strtoul(owner, &end, 10);
		if (*owner && *end == '\0') {
			*uid = (uid_t)v;
		} else {
			struct passwd *pw = getpwnam(owner);
			if (!pw) {
				snprintf(err, err_len, "unknown user %s", owner);
				return -EINVAL;
			}
			*uid = pw->pw_uid;
		}
	}
	if (group) {
		unsigned long v = strtoul(group, &end, 10);
		if (*group && *end == '\0') {
			*gid = (gid_t)v;
		} else {
			struct group *gr = getgrnam(group);
			if (!gr) {
				snprintf(err, err_len, "unknown group %s", group);
				return -EINVAL;
			}
			*gid = gr->gr_gid;
		}
	}
	return 0;
}

/* Is someone accepting on this socket path right now? */
static bool socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

int api_listen_unix(const char *path, mode_t mode, const char *owner, const char *group, char *err,
		    size_t err_len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	uid_t uid;
	gid_t gid;
	mode_t old_mask;
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, err_len, "socket path %s is longer than %zu bytes", path,
			 sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	r = resolve_ids(owner, group, &uid, &gid, err, err_len);
	if (r < 0)
		return r;

	/* lstat, not stat: a symlink planted at the path must never be followed. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, err_len,
				 "%s exists and is not a socket; refusing to replace it", path);
			return -EEXIST;
		}
		if (socket_alive(&sun)) {
			snprintf(err, err_len, "%s is in use by another process", path);
			return -EADDRINUSE;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			snprintf(err, err_len, "cannot remove stale socket %s: %s", path,
				 strerror(errno));
			return r;
		}
	} else if (errno != ENOENT) {
		r = -errno;
		snprintf(err, err_len, "cannot inspect %s: %s", path, strerror(errno));
		return r;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return r;
	}
	/*
	 * Bind under a umask that leaves the socket owner-only, so there is no
	 * window in which it exists with wider permissions than configured.
	 */
	old_mask = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (r < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	if (fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || chmod(path, mode) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		snprintf(err, err_len, "cannot set up %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return r;
	}
	return fd;
}
