/* test-strmap: the string map against a brute-force model, through growth and deletion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

#define N 3000

static char keys[N][16];

static void test_basic(void **state)
{
	struct strmap m;
	int a = 1, b = 2;

	(void)state;
	strmap_init(&m);
	assert_null(strmap_get(&m, "x"));
	assert_null(strmap_del(&m, "x"));
	assert_int_equal(strmap_put(&m, "x", &a), 0);
	assert_ptr_equal(strmap_get(&m, "x"), &a);
	assert_int_equal(strmap_put(&m, "x", &b), 0); /* replace */
	assert_ptr_equal(strmap_get(&m, "x"), &b);
	assert_int_equal(m.used, 1);
	assert_ptr_equal(strmap_del(&m, "x"), &b);
	assert_null(strmap_get(&m, "x"));
	assert_int_equal(m.used, 0);
	/* A key equal by content, not by pointer, finds the entry. */
	char copy[2] = "y";
	assert_int_equal(strmap_put(&m, "y", &a), 0);
	assert_ptr_equal(strmap_get(&m, copy), &a);
	strmap_clear(&m);
	assert_null(strmap_get(&m, "y"));
	strmap_clear(&m);
}

/* Random puts and deletes against an array model; every key checked after each round. */
static void test_against_model(void **state)
{
	static void *model[N];
	struct strmap m;
	unsigned seed = 12345;

	(void)state;
	strmap_init(&m);
	memset(model, 0, sizeof(model));
	for (int i = 0; i < N; i++)
		snprintf(keys[i], sizeof(keys[i]), "vol-%d", i);
	for (int round = 0; round < 40; round++) {
		for (int op = 0; op < 2000; op++) {
			seed = seed * 1103515245u + 12345u;
			int k = (int)((seed >> 8) % N);
			bool del = ((seed >> 3) & 3) == 0;

			if (del) {
				void *got = strmap_del(&m, keys[k]);
				assert_ptr_equal(got, model[k]);
				model[k] = NULL;
			} else {
				assert_int_equal(strmap_put(&m, keys[k], &model[k]), 0);
				model[k] = &model[k];
			}
		}
		size_t live = 0;
		for (int k = 0; k < N; k++) {
			assert_ptr_equal(strmap_get(&m, keys[k]), model[k]);
			live += model[k] != NULL;
		}
		assert_int_equal(m.used, live);
		/* Load stays bounded: there is always an empty slot to end a probe. */
		assert_true((m.used + m.dead) * 10 < m.cap * 7);
	}
	strmap_clear(&m);
}

/*
 * The hash reads eight bytes at a time: keys of every length around the word size, keys that
 * differ only in their last byte or only in length, and bytes >= 0x80 must all stay apart,
 * and every slot must carry its key's hash (a probe compares it before the key).
 */
static void test_lengths_and_hashes(void **state)
{
	static char k[3][40][48];
	struct strmap m;
	size_t live = 0;

	(void)state;
	strmap_init(&m);
	for (int len = 0; len < 40; len++) {
		memset(k[0][len], 'a',
		       (size_t)len); /* "", "a", "aa", ...: only the length differs */
		memset(k[1][len], 'a', (size_t)len);
		memset(k[2][len], 'a', (size_t)len);
		if (len) {
			k[1][len][len - 1] = 'b';	 /* the last byte differs */
			k[2][len][len - 1] = (char)0xe9; /* ... with a byte >= 0x80 */
		}
		for (int v = 0; v < 3; v++)
			if (v == 0 || len)
				assert_int_equal(strmap_put(&m, k[v][len], k[v][len]), 0);
	}
	for (int len = 0; len < 40; len++)
		for (int v = 0; v < 3; v++) {
			if (v && !len)
				continue;
			char copy[48];
			memcpy(copy, k[v][len], sizeof(copy));
			assert_ptr_equal(strmap_get(&m, copy), k[v][len]);
			assert_int_equal(strmap_hash(copy, strlen(copy)),
					 strmap_hash(k[v][len], strlen(k[v][len])));
		}
	for (size_t i = 0; i < m.cap; i++) {
		const char *key = m.slots[i].key;
		if (!key)
			continue;
		assert_int_equal(m.slots[i].hash, strmap_hash(key, strlen(key)));
		live++;
	}
	assert_int_equal(live, m.used);
	/* Only `len` bytes count: what follows them does not change the hash. */
	assert_int_equal(strmap_hash("abcdefghij", 9), strmap_hash("abcdefghiX", 9));
	assert_true(strmap_hash("abcdefghij", 9) != strmap_hash("abcdefghij", 10));
	strmap_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_lengths_and_hashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
