/* units: strict parsing of sizes ("64Gi", "500M", "1048576") and durations ("5s", "250ms"). */
#ifndef PMEMD_UTIL_UNITS_H
#define PMEMD_UTIL_UNITS_H

#include <stdint.h>

/*
 * Parses a size in bytes: a non-negative decimal integer with an optional
 * suffix, k/K M G T P E (powers of 1000) or Ki Mi Gi Ti Pi Ei (powers of
 * 1024), Kubernetes quantity style. No sign, no spaces, no fractions.
 * Returns 0, -EINVAL (malformed, with a reason in *why) or -ERANGE (does not
 * fit in 64 bits). *out is untouched on failure.
 */
int units_size_parse(const char *s, uint64_t *out, const char **why);

/*
 * Parses a duration into milliseconds: an integer with a unit, ms s m h
 * (a bare integer means seconds). Same return convention as above.
 */
int units_duration_parse(const char *s, uint64_t *out_ms, const char **why);

/*
 * Parses a Kubernetes resource quantity (k8s.io/apimachinery resource.Quantity) as an integer
 * scaled by 10^`scale10`, rounded up as Quantity.Value()/MilliValue() do: scale10 0 gives
 * bytes ("16Gi", "1.5G", "1e9", "100m" -> 1), scale10 3 gives millis for CPUs ("2" -> 2000,
 * "500m" -> 500). The number may have a fraction and a '+'; suffixes Ki Mi Gi Ti Pi Ei,
 * n u m k M G T P E, or an exponent e<int>/E<int>. Negative values are -EINVAL. Same return
 * convention as above.
 */
int units_parse_quantity_scaled(const char *s, unsigned scale10, uint64_t *out, const char **why);
/* units_parse_quantity_scaled(s, 0, ...): a quantity of bytes. */
int units_parse_quantity(const char *s, uint64_t *out, const char **why);

/* Formats bytes in the largest binary unit that divides it exactly ("64Gi", "1000"). */
void units_size_format(uint64_t bytes, char *buf, unsigned long len);

#endif
