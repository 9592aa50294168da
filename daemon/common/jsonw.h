/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small streaming JSON writer: objects and arrays nest, commas are
 * placed for the caller, strings are escaped, and numbers that JSON
 * cannot spell (NaN, infinities) come out as null.
 *
 * Inside an object every value takes a key; inside an array or at the
 * top, pass NULL as the key.
 */
#ifndef JSONW_H
#define JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSONW_MAX_DEPTH	16

struct jsonw {
	FILE *f;
	int depth;
	bool need_comma[JSONW_MAX_DEPTH];
};

void jw_init(struct jsonw *w, FILE *f);

void jw_object_begin(struct jsonw *w, const char *key);
void jw_object_end(struct jsonw *w);	/* the outermost one ends the line */
void jw_array_begin(struct jsonw *w, const char *key);
void jw_array_end(struct jsonw *w);

void jw_string(struct jsonw *w, const char *key, const char *s);
void jw_u64(struct jsonw *w, const char *key, uint64_t v);
void jw_i64(struct jsonw *w, const char *key, int64_t v);
void jw_double(struct jsonw *w, const char *key, double v);
/* Shortest text that reads back as the same float. */
void jw_float(struct jsonw *w, const char *key, float v);
void jw_bool(struct jsonw *w, const char *key, bool v);
void jw_null(struct jsonw *w, const char *key);

/* Shortest decimal text of v that reads back as v (also for plain text). */
void jw_format_float(char *buf, size_t size, float v);

/* Write s as a JSON string, quotes included. */
void jw_quote(FILE *f, const char *s);

#endif /* JSONW_H */
