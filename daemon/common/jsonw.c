// SPDX-License-Identifier: GPL-2.0
/*
 * Streaming JSON writer (see jsonw.h). Output is compact, one document
 * per line, which is what line-oriented consumers and json.tool expect.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "jsonw.h"

void jw_init(struct jsonw *w, FILE *f)
{
	w->f = f;
	w->depth = 0;
	w->need_comma[0] = false;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past Unicode are invalid. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * File names are bytes, JSON strings are Unicode: a byte that is not
 * part of valid UTF-8 becomes U+FFFD rather than invalid output.
 */
void jw_quote(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len;

	fputc('"', f);
	while (*s) {
		if (*s == '"' || *s == '\\') {
			fputc('\\', f);
			fputc(*s++, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
			s++;
		} else if (*s == '\t') {
			fputs("\\t", f);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s++);
		} else if ((len = utf8_len(s)) == 0) {
			fputs("\\ufffd", f);
			s++;
		} else {
			fwrite(s, 1, len, f);
			s += len;
		}
	}
	fputc('"', f);
}

static void jw_key(struct jsonw *w, const char *key)
{
	if (w->need_comma[w->depth])
		fputc(',', w->f);
	w->need_comma[w->depth] = true;
	if (key) {
		jw_quote(w->f, key);
		fputc(':', w->f);
	}
}

static void jw_open(struct jsonw *w, const char *key, char c)
{
	jw_key(w, key);
	fputc(c, w->f);
	if (w->depth < JSONW_MAX_DEPTH - 1)
		w->depth++;
	else
		abort();	/* a programming error: nothing nests this deep */
	w->need_comma[w->depth] = false;
}

static void jw_close(struct jsonw *w, char c)
{
	fputc(c, w->f);
	if (w->depth > 0)
		w->depth--;
	if (w->depth == 0) {
		fputc('\n', w->f);
		w->need_comma[0] = false;
	}
}

void jw_object_begin(struct jsonw *w, const char *key)
{
	jw_open(w, key, '{');
}

void jw_object_end(struct jsonw *w)
{
	jw_close(w, '}');
}

void jw_array_begin(struct jsonw *w, const char *key)
{
	jw_open(w, key, '[');
}

void jw_array_end(struct jsonw *w)
{
	jw_close(w, ']');
}

void jw_string(struct jsonw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_quote(w->f, s);
}

void jw_u64(struct jsonw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_i64(struct jsonw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	fprintf(w->f, "%" PRId64, v);
}

/*
 * The fewest digits that read back as the same value: "0.1", not the
 * "0.100000001" that a fixed %.9g prints for the float nearest 0.1.
 */
void jw_format_float(char *buf, size_t size, float v)
{
	int prec;

	for (prec = 6; prec < 9; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtof(buf, NULL) == v)
			return;
	}
	snprintf(buf, size, "%.9g", v);
}

static void jw_format_double(char *buf, size_t size, double v)
{
	int prec;

	for (prec = 6; prec < 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, size, "%.17g", v);
}

void jw_double(struct jsonw *w, const char *key, double v)
{
	char buf[32];

	jw_key(w, key);
	if (!isfinite(v)) {
		fputs("null", w->f);
		return;
	}
	jw_format_double(buf, sizeof(buf), v);
	fputs(buf, w->f);
}

void jw_float(struct jsonw *w, const char *key, float v)
{
	char buf[32];

	jw_key(w, key);
	if (!isfinite(v)) {
		fputs("null", w->f);
		return;
	}
	jw_format_float(buf, sizeof(buf), v);
	fputs(buf, w->f);
}

void jw_bool(struct jsonw *w, const char *key, bool v)
{
	jw_key(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jsonw *w, const char *key)
{
	jw_key(w, key);
	fputs("null", w->f);
}
