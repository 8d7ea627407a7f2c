/*
 * strmap: a string-keyed hash map of borrowed pointers (open addressing, linear probing,
 * tombstones). For indexes over objects that own their keys: the map stores the key pointer
 * it is given and never copies or frees it, so a key must outlive its entry.
 */
#ifndef PMEMD_UTIL_STRMAP_H
#define PMEMD_UTIL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key; /* NULL: empty; STRMAP_TOMBSTONE: deleted */
	void *value;
	/* The key's hash: a probe compares it before following `key` to its string, so a slot
	 * of another key costs no cache miss, and growing rehashes without reading the keys. */
	uint64_t hash;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;  /* a power of two, or 0 */
	size_t used; /* live entries */
	size_t dead; /* tombstones */
};

/* Empty map: {0} or strmap_init(). */
void strmap_init(struct strmap *m);
/* Frees the slots (not the keys or values); the map is empty and usable again. */
void strmap_clear(struct strmap *m);
/* The value under key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Adds or replaces. 0 or -ENOMEM (the map is unchanged then). */
int strmap_put(struct strmap *m, const char *key, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *strmap_del(struct strmap *m, const char *key);
/* The hash strmap uses for `len` bytes of `s` (no NUL needed): for callers that fingerprint
 * strings the same way. Not stable across versions: never store it. */
uint64_t strmap_hash(const char *s, size_t len);

#endif
