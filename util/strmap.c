/* strmap: see strmap.h. The table doubles at 70% load (live + tombstones). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

/* A key pointer no caller can hold: the address of a private object. */
static const char tombstone;
#define STRMAP_TOMBSTONE (&tombstone)

/*
 * Eight bytes at a time, each word multiplied in and folded, then a final avalanche (the
 * murmur3 finaliser) so the low bits that pick a slot depend on every byte. FNV-1a's byte
 * loop was most of a look-up for the 5,000 node names of an extender call.
 */
uint64_t strmap_hash(const char *s, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = len * k, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	if (len) {
		w = 0;
		memcpy(&w, s, len);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash(const char *s)
{
	return strmap_hash(s, strlen(s));
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_clear(struct strmap *m)
{
	free(m->slots);
	strmap_init(m);
}

/* The slot holding key (whose hash is h), or NULL. */
static struct strmap_slot *find(const struct strmap *m, const char *key, uint64_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t i = h & (m->cap - 1), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		struct strmap_slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (s->hash == h && s->key != STRMAP_TOMBSTONE && strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s;

	if (!m->cap)
		return NULL;
	s = find(m, key, hash(key));
	return s ? s->value : NULL;
}

/* Places an entry known to be absent into a table with room, in the first empty or deleted
 * slot of its probe sequence; true when that slot was a tombstone. */
static bool place(struct strmap_slot *slots, size_t cap, const char *key, void *value, uint64_t h)
{
	size_t i = h & (cap - 1);
	bool reused;

	while (slots[i].key && slots[i].key != STRMAP_TOMBSTONE)
		i = (i + 1) & (cap - 1);
	reused = slots[i].key == STRMAP_TOMBSTONE;
	slots[i].key = key;
	slots[i].value = value;
	slots[i].hash = h;
	return reused;
}

static int grow(struct strmap *m)
{
	/* Rehash into a table sized for the live entries; tombstones go away. */
	size_t cap = m->cap ? m->cap : 16;
	struct strmap_slot *slots;

	while ((m->used + 1) * 10 >= cap * 5)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != STRMAP_TOMBSTONE)
			place(slots, cap, m->slots[i].key, m->slots[i].value, m->slots[i].hash);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->dead = 0;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	uint64_t h = hash(key);
	struct strmap_slot *s = find(m, key, h);

	if (s) {
		s->key = key;
		s->value = value;
		return 0;
	}
	if ((m->used + m->dead + 1) * 10 >= m->cap * 7 && grow(m) < 0)
		return -ENOMEM;
	if (place(m->slots, m->cap, key, value, h))
		m->dead--;
	m->used++;
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct strmap_slot *s;
	void *value;

	if (!m->cap || !(s = find(m, key, hash(key))))
		return NULL;
	value = s->value;
	s->key = STRMAP_TOMBSTONE;
	s->value = NULL;
	m->used--;
	m->dead++;
	return value;
}
