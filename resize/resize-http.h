/* resize-http: the HTTP client the remote usage sources share (libcurl, bearer token, CA). */
#ifndef PMEMD_RESIZE_HTTP_H
#define PMEMD_RESIZE_HTTP_H

#include <stddef.h>

/* A body beyond this is refused (-EFBIG): no answer we use is near it, and reading on would
 * let a broken peer or proxy fill our memory. */
#define RESIZE_HTTP_MAX_BODY (16u << 20)

struct resize_http;

/*
 * A client for `base_url` (http:// or https://, no query or fragment; trailing slashes are
 * dropped). token_file: a bearer token file, re-read when it changes (kubelet rotates
 * projected tokens in place), or NULL. ca_file: a CA bundle for https, or NULL for the
 * system's. timeout_ms: per request, connect included; 0 = 5000. 0 or -EINVAL/-ENOMEM.
 */
int resize_http_new(const char *base_url, const char *token_file, const char *ca_file,
		    unsigned timeout_ms, struct resize_http **out, char *err, size_t err_len);

/* Accepts NULL, returns NULL. */
struct resize_http *resize_http_free(struct resize_http *h);

/* The base URL as kept (for messages). */
const char *resize_http_base(const struct resize_http *h);

/*
 * GET <base><path>, or POST it with `form` (application/x-www-form-urlencoded) when form is
 * not NULL. Returns 0 when an answer came, whatever its status (*code), with its body in
 * *body (malloc'd, NUL-terminated, *len bytes; free it). Else -errno with the reason in err:
 * -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -ECONNRESET, -EPROTO (TLS), -EIO, -EFBIG (over
 * RESIZE_HTTP_MAX_BODY), -EACCES (the token file cannot be read), -ENOMEM. One caller at a
 * time.
 */
int resize_http_fetch(struct resize_http *h, const char *path, const char *form, long *code,
		      char **body, size_t *len, char *err, size_t err_len);

/* "query=<value, percent-encoded>" style: malloc'd `name=<escaped value>`, or NULL. */
char *resize_http_form(struct resize_http *h, const char *name, const char *value);

/*
 * A short description of an error body: "errorType: error" / "message" when it is JSON
 * with those fields (Prometheus, the kubelet), else its first 80 bytes with control and
 * non-ASCII bytes as '.', or "empty body".
 */
void resize_http_describe(const char *body, size_t len, char *out, size_t out_len);

#endif
