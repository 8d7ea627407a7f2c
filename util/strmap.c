/* strmap: see strmap.h. FNV-1a hashing; the table doubles at 70% load (live + tombstones). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

/* A key pointer no caller can hold: the address of a private object. */
static const char tombstone;
#define STRMAP_TOMBSTONE (&tombstone)

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
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

/* The slot holding key, or NULL. */
static struct strmap_slot *find(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = hash(key) & (m->cap - 1), n = 0; n < m->cap;
	     i = (i + 1) & (m->cap - 1), n++) {
		struct strmap_slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (s->key != STRMAP_TOMBSTONE && strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = find(m, key);

	return s ? s->value : NULL;
}

/* Places an entry known to be absent into a table with room, in the first empty or deleted
 * slot of its probe sequence; true when that slot was a tombstone. */
static bool place(struct strmap_slot *slots, size_t cap, const char *key, void *value)
{
	size_t i = hash(key) & (cap - 1);
	bool reused;

	while (slots[i].key && slots[i].key != STRMAP_TOMBSTONE)
		i = (i + 1) & (cap - 1);
	reused = slots[i].key == STRMAP_TOMBSTONE;
	slots[i].key = key;
	slots[i].value = value;
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
			place(slots, cap, m->slots[i].key, m->slots[i].value);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->dead = 0;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_slot *s = find(m, key);

	if (s) {
		s->key = key;
		s->value = value;
		return 0;
	}
	if ((m->used + m->dead + 1) * 10 >= m->cap * 7 && grow(m) < 0)
		return -ENOMEM;
	if (place(m->slots, m->cap, key, value))
		m->dead--;
	m->used++;
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct strmap_slot *s = find(m, key);
	void *value;

	if (!s)
		return NULL;
	value = s->value;
	s->key = STRMAP_TOMBSTONE;
	s->value = NULL;
	m->used--;
	m->dead++;
	return value;
}
