/* names: Kubernetes name rules shared by config, the Kubernetes client and the command line. */
#ifndef PMEMD_UTIL_NAMES_H
#define PMEMD_UTIL_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Is s[0..len) an RFC 1123 subdomain as Kubernetes checks object and node
 * names: 1..253 characters, dot-separated labels of 1..63 of [a-z0-9-] that
 * neither start nor end with '-'?
 */
bool names_is_dns_subdomain(const char *s, size_t len);

#endif
