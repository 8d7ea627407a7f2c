/* topology-cpumanager: the kubelet CPU manager's checkpoint: which CPUs are handed out exclusively.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topology/topology.h"

#define CHECKPOINT_MAX (4u << 20) /* far above any real checkpoint (a few KiB per 100 pods) */

static int bad(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* A decimal CPU id at s[*i] (no sign, no leading '+'), at most TOPO_CPU_MAX. */
static int cpu_id(const char *s, size_t n, size_t *i, unsigned *out)
{
	unsigned long v = 0;
	size_t start = *i;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (unsigned long)(s[*i] - '0');
		if (v > TOPO_CPU_MAX)
			return -ERANGE;
		(*i)++;
	}
	if (*i == start)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int topology_cpuset_parse(const char *s, size_t n, unsigned **cpus, size_t *n_cpus, char *err,
			  size_t err_len)
{
	unsigned *set = NULL;
	size_t count = 0, cap = 0, i = 0;

	/* The kernel's cpulist format ends with a newline when read from sysfs. */
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	while (i < n) {
		unsigned lo, hi;
		size_t at = i + 1;
		int r = cpu_id(s, n, &i, &lo);

		if (r < 0) {
			free(set);
			return r == -ERANGE
				       ? bad(err, err_len, "CPU id above %d at position %zu",
					     TOPO_CPU_MAX, at)
				       : bad(err, err_len, "expected a CPU id at position %zu", at);
		}
		hi = lo;
		if (i < n && s[i] == '-') {
			i++;
			at = i + 1;
			r = cpu_id(s, n, &i, &hi);
			if (r < 0 || hi < lo) {
				free(set);
				return r == -ERANGE ? bad(err, err_len,
							  "CPU id above %d at position %zu",
							  TOPO_CPU_MAX, at)
						    : bad(err, err_len,
							  "expected a CPU id not below %u at "
							  "position %zu",
							  lo, at);
			}
		}
		if (i < n) {
			if (s[i] != ',' || i + 1 == n) {
				free(set);
				return bad(err, err_len,
					   "expected ',' between CPU ids at position %zu", i + 1);
			}
			i++;
		}
		for (unsigned c = lo;; c++) {
			if (count == cap) {
				size_t nc = cap ? cap * 2 : 16;
				unsigned *ns = realloc(set, nc * sizeof(*ns));

				if (!ns) {
					free(set);
					return -ENOMEM;
				}
				set = ns;
				cap = nc;
			}
			set[count++] = c;
			if (c == hi)
				break;
		}
	}
	if (count) {
		size_t k = 0;

		qsort(set, count, sizeof(*set), cmp_unsigned);
		for (size_t j = 0; j < count; j++)
			if (k == 0 || set[k - 1] != set[j])
				set[k++] = set[j];
		count = k;
	}
	*cpus = set;
	*n_cpus = count;
	return 0;
}

/* Adds the CPUs of one cpuset string to the set; the message names where it came from. */
static int add_cpuset(const json_t *v, const char *where, unsigned **set, size_t *n, char *err,
		      size_t err_len)
{
	unsigned *c = NULL, *ns;
	size_t k = 0;
	char why[128];
	int r;

	if (!json_is_string(v))
		return bad(err, err_len, "%s: not a cpuset string", where);
	r = topology_cpuset_parse(json_string_value(v), json_string_length(v), &c, &k, why,
				  sizeof(why));
	if (r < 0)
		return r == -ENOMEM ? r : bad(err, err_len, "%s: %s", where, why);
	ns = k ? realloc(*set, (*n + k) * sizeof(*ns)) : *set;
	if (k && !ns) {
		free(c);
		return -ENOMEM;
	}
	if (k) {
		memcpy(ns + *n, c, k * sizeof(*c));
		*set = ns;
		*n += k;
	}
	free(c);
	return 0;
}

int topology_cpu_manager_parse(const char *text, size_t len, unsigned **cpus, size_t *n_cpus,
			       char *err, size_t err_len)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, 0, &je), *entries, *pod, *ctr;
	const char *policy, *uid, *name;
	unsigned *set = NULL;
	size_t n = 0;
	int r = 0;

	if (!doc)
		return bad(err, err_len, "invalid JSON at line %d, column %d: %s", je.line,
			   je.column, je.text);
	if (!json_is_object(doc)) {
		r = bad(err, err_len, "not a JSON object");
		goto out;
	}
	if (!json_is_string(json_object_get(doc, "policyName"))) {
		r = bad(err, err_len, "policyName: missing or not a string");
		goto out;
	}
	policy = json_string_value(json_object_get(doc, "policyName"));
	/* Only the static policy hands CPUs out; "none" shares them all. */
	if (strcmp(policy, "static") != 0)
		goto out;
	entries = json_object_get(doc, "entries");
	if (entries && !json_is_null(entries) && !json_is_object(entries)) {
		r = bad(err, err_len, "entries: not an object");
		goto out;
	}
	json_object_foreach (entries, uid, pod) {
		char where[400];

		/* Checkpoint v2: {pod uid: {container: cpuset}}; v1: {container id: cpuset}. */
		if (json_is_string(pod)) {
			snprintf(where, sizeof(where), "entries.%.128s", uid);
			r = add_cpuset(pod, where, &set, &n, err, err_len);
			if (r < 0)
				goto out;
			continue;
		}
		if (!json_is_object(pod)) {
			r = bad(err, err_len, "entries.%.128s: not an object", uid);
			goto out;
		}
		json_object_foreach (pod, name, ctr) {
			snprintf(where, sizeof(where), "entries.%.128s.%.128s", uid, name);
			r = add_cpuset(ctr, where, &set, &n, err, err_len);
			if (r < 0)
				goto out;
		}
	}
	if (n) {
		size_t k = 0;

		qsort(set, n, sizeof(*set), cmp_unsigned);
		for (size_t j = 0; j < n; j++)
			if (k == 0 || set[k - 1] != set[j])
				set[k++] = set[j];
		n = k;
	}
out:
	json_decref(doc);
	if (r < 0) {
		free(set);
		return r;
	}
	*cpus = set;
	*n_cpus = n;
	return 0;
}

int topology_cpu_manager_read(const char *path, unsigned **cpus, size_t *n_cpus, char *err,
			      size_t err_len)
{
	struct stat st;
	char *buf = NULL, why[300];
	size_t off = 0;
	int fd, r;

	*cpus = NULL;
	*n_cpus = 0;
	if (!path || !*path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* no kubelet, or no CPU manager: nothing is exclusive */
		r = -errno;
		snprintf(err, err_len, "CPU manager state %s: cannot open: %s", path,
			 strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)CHECKPOINT_MAX) {
		close(fd);
		snprintf(err, err_len,
			 "CPU manager state %s: not a regular file of at most %u bytes", path,
			 CHECKPOINT_MAX);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	r = topology_cpu_manager_parse(buf, off, cpus, n_cpus, why, sizeof(why));
	free(buf);
	if (r < 0)
		snprintf(err, err_len, "CPU manager state %s: %s", path,
			 r == -ENOMEM ? "out of memory" : why);
	return r;
}
