/* quota-model-private: helpers the quota-model files share; not part of the public header. */
#ifndef PMEMD_QUOTA_MODEL_PRIVATE_H
#define PMEMD_QUOTA_MODEL_PRIVATE_H

#include <jansson.h>
#include <stddef.h>

#include "quota/quota-model.h"

/*
 * Quotes n bytes of `s` for an error message: "..." with non-printable bytes
 * as \xNN, cut to about 48 characters with "..." so a 10 KB hostile string
 * never floods a message. Returns buf.
 */
const char *qm_quote(char *buf, size_t len, const char *s, size_t n);

/* The reason (without a subject) why n bytes of `s` are not a volume name; NULL if they are. */
const char *qm_name_reason(const char *s, size_t n, char *buf, size_t len);

/*
 * Labels from a JSON object, validated (count, keys, values, encoded size);
 * errors start with `field` ("labels: key \"A\": ..."). *out untouched on failure.
 */
int qm_labels_from_json(const json_t *obj, const char *field, struct quota_labels *out, char *err,
			size_t err_len);
/* Frees the labels and empties the set. */
void qm_labels_clear(struct quota_labels *l);

/* printf into err (when err_len > 0), returning `ret`. */
int qm_fail(int ret, char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
