/*
 * fuzz-size: the size, duration and Kubernetes quantity parsers (util/units.h) on any text.
 *
 * Beyond "no crash, no sanitizer report", it checks what the callers rely on: a failure
 * leaves *out untouched and says why; a size that parses formats back (units_size_format)
 * to text that parses to the same bytes; a quantity is the same at scale 0 and rounded up
 * from scale 3 (bytes and millis agree); an integer size without the 'K' spelling (not a
 * Kubernetes suffix) is the same read as a quantity.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 0xfeedfacecafebeefULL

/* Stops the run with the input's text, so the crash report says what broke the invariant. */
static void broken(const char *what, const char *s)
{
	fprintf(stderr, "fuzz-size: %s: input \"%s\"\n", what, s);
	abort();
}

/* A parse must return 0, -EINVAL or -ERANGE; on failure *out stays and why is set. */
static int checked(int r, uint64_t out, const char *why, const char *s)
{
	if (r != 0 && r != -EINVAL && r != -ERANGE)
		broken("unexpected return code", s);
	if (r < 0 && out != SENTINEL)
		broken("output written on failure", s);
	if (r < 0 && (!why || !*why))
		broken("failure without a reason", s);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	uint64_t sz = SENTINEL, ms = SENTINEL, q0 = SENTINEL, q3 = SENTINEL, again = SENTINEL;
	const char *why = NULL;
	char buf[64];
	int r;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	why = NULL;
	r = checked(units_size_parse(s, &sz, &why), sz, why, s);
	if (r == 0) {
		units_size_format(sz, buf, sizeof(buf));
		why = NULL;
		if (units_size_parse(buf, &again, &why) != 0 || again != sz)
			broken("size does not survive format and parse", s);
	}
	why = NULL;
	checked(units_duration_parse(s, &ms, &why), ms, why, s);

	why = NULL;
	if (checked(units_parse_quantity(s, &q0, &why), q0, why, s) == 0) {
		why = NULL;
		if (checked(units_parse_quantity_scaled(s, 3, &q3, &why), q3, why, s) == 0 &&
		    q3 / 1000 + (q3 % 1000 != 0) != q0)
			broken("quantity at scale 3 does not round up to scale 0", s);
		if (r == 0 && !strchr(s, 'K') && q0 != sz)
			broken("size and quantity disagree", s);
	}
	for (unsigned scale = 0; scale <= 9; scale += 9) {
		uint64_t v = SENTINEL;
		why = NULL;
		checked(units_parse_quantity_scaled(s, scale, &v, &why), v, why, s);
	}
	free(s);
	return 0;
}
