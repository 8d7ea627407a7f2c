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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
