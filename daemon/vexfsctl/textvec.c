// SPDX-License-Identifier: GPL-2.0
/*
 * CSV and JSON lines vector files (see textvec.h). JSON goes through
 * json-c; CSV is small enough to split here, by RFC 4180.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "textvec.h"

__attribute__((format(printf, 3, 4)))
static int tv_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool textvec_blank(const char *line)
{
	while (isspace((unsigned char)*line))
		line++;
	return !*line;
}

int parse_u64_text(const char *s, uint64_t *v)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

/* A finite float at *p, advancing *p past it. */
static int parse_float(const char **p, float *out)
{
	char *end;

	errno = 0;
	*out = strtof(*p, &end);
	if (end == *p)
		return -EINVAL;
	if (!isfinite(*out))
		return -ERANGE;	/* nan, inf, or a number beyond float */
	*p = end;
	return 0;
}

static bool is_vector_sep(char c)
{
	return c == ',' || c == ';' || isspace((unsigned char)c);
}

int parse_vector_text(const char *s, float *vec, uint32_t dim, char *err,
		      size_t errlen)
{
	const char *p = s;
	bool bracket;
	uint32_t n = 0;
	int rc;

	while (isspace((unsigned char)*p))
		p++;
	bracket = *p == '[';
	if (bracket)
		p++;
	for (;;) {
		while (is_vector_sep(*p))
			p++;
		if (!*p || (bracket && *p == ']'))
			break;
		if (n == dim)
			return tv_fail(err, errlen, "more than %u values in the vector", dim);
		rc = parse_float(&p, &vec[n]);
		if (rc == -ERANGE)
			return tv_fail(err, errlen, "component %u is not a finite float", n);
		if (rc || (*p && !is_vector_sep(*p) && *p != ']'))
			return tv_fail(err, errlen, "component %u: '%.20s' is not a number", n, p);
		n++;
	}
	if (bracket && *p != ']')
		return tv_fail(err, errlen, "'[' without a closing ']'");
	if (bracket) {
		for (p++; isspace((unsigned char)*p); p++)
			;
		if (*p)
			return tv_fail(err, errlen, "text after ']': '%.20s'", p);
	}
	if (n != dim)
		return tv_fail(err, errlen, "%u values; the collection has dimension %u", n, dim);
	return 0;
}

/* --- CSV ---------------------------------------------------------------- */

bool csv_record_complete(const char *rec)
{
	bool quoted = false;

	for (; *rec; rec++)
		if (*rec == '"')
			quoted = !quoted;
	return !quoted;
}

/*
 * One field from *p: unquoted it runs to the next comma; quoted, the
 * quotes go and "" becomes ". Written back in place at out.
 */
static int csv_field(char **p, char *err, size_t errlen, uint32_t col)
{
	char *in = *p, *out = *p;

	if (*in != '"') {
		while (*in && *in != ',') {
			if (*in == '"')
				return tv_fail(err, errlen, "field %u: a quote inside an unquoted field", col + 1);
			in++;
		}
		*p = in;
		return 0;
	}
	for (in++;; in++) {
		if (!*in)
			return tv_fail(err, errlen, "field %u: a quote is never closed", col + 1);
		if (*in == '"') {
			if (in[1] != '"')
				break;
			in++;
		}
		*out++ = *in;
	}
	in++;	/* the closing quote */
	if (*in && *in != ',')
		return tv_fail(err, errlen, "field %u: text after the closing quote", col + 1);
	*out = '\0';
	*p = in;
	return 0;
}

int csv_split(char *rec, char **fields, uint32_t max, uint32_t *n, char *err,
	      size_t errlen)
{
	char *p = rec;
	int rc;

	*n = 0;
	for (;;) {
		char *start = p;

		if (*n == max)
			return tv_fail(err, errlen, "more than %u fields", max);
		rc = csv_field(&p, err, errlen, *n);
		if (rc)
			return rc;
		fields[(*n)++] = start;
		if (!*p)
			break;
		*p++ = '\0';	/* the comma */
	}
	return 0;
}

int csv_parse_header(char **fields, uint32_t n, struct csv_layout *l,
		     char *err, size_t errlen)
{
	uint32_t i, w;
	bool id = false, attr[TEXTVEC_ATTR_WORDS] = { false };

	memset(l, 0, sizeof(*l));
	l->roles = calloc(n, 1);
	if (!l->roles)
		return tv_fail(err, errlen, "no memory for %u columns", n);
	l->ncols = n;
	for (i = 0; i < n; i++) {
		const char *name = fields[i];

		while (isspace((unsigned char)*name))
			name++;
		if (!strcasecmp(name, "id")) {
			if (id)
				goto twice;
			id = true;
			l->roles[i] = CSV_ID;
		} else if (!strcasecmp(name, "vector")) {
			if (l->vector_column)
				goto twice;
			l->vector_column = true;
			l->roles[i] = CSV_VECTOR;
		} else if (!strncasecmp(name, "attr", 4) && name[4] >= '0' &&
			   name[4] < '0' + TEXTVEC_ATTR_WORDS && !name[5]) {
			w = (uint32_t)(name[4] - '0');
			if (attr[w])
				goto twice;
			attr[w] = true;
			l->roles[i] = (uint8_t)(CSV_ATTR0 + w);
		} else {
			l->roles[i] = CSV_COMPONENT;
			l->components++;
		}
	}
	if (l->vector_column && l->components)
		return tv_fail(err, errlen,
			       "header has a 'vector' column and %u other unknown columns; give the vector in one or the other (known columns: id, attr0..attr3)",
			       l->components);
	if (!l->vector_column && !l->components)
		return tv_fail(err, errlen, "header has no vector: want a 'vector' column or one column per component");
	return 0;
twice:
	return tv_fail(err, errlen, "header names column '%s' twice", fields[i]);
}

void csv_layout_free(struct csv_layout *l)
{
	free(l->roles);
	l->roles = NULL;
}

static int csv_attr(const char *s, uint64_t *v, uint32_t w, char *err,
		    size_t errlen)
{
	while (isspace((unsigned char)*s))
		s++;
	if (!*s) {
		*v = 0;
		return 0;
	}
	if (parse_u64_text(s, v))
		return tv_fail(err, errlen, "attr%u: '%.20s' is not an integer 0..2^64-1", w, s);
	return 0;
}

int csv_parse_row(const struct csv_layout *l, char **fields, uint32_t n,
		  float *vec, uint32_t dim, struct textvec_row *row,
		  char *err, size_t errlen)
{
	uint32_t i, c = 0;
	const char *p;
	int rc;

	memset(row, 0, sizeof(*row));
	if (n != l->ncols)
		return tv_fail(err, errlen, "%u fields; the header has %u", n, l->ncols);
	if (!l->vector_column && l->components != dim)
		return tv_fail(err, errlen, "%u vector columns; the collection has dimension %u",
			       l->components, dim);
	for (i = 0; i < n; i++) {
		switch (l->roles[i]) {
		case CSV_ID:
			if (parse_u64_text(fields[i], &row->id) || !row->id)
				return tv_fail(err, errlen, "id '%.30s' is not a positive integer", fields[i]);
			row->has_id = true;
			break;
		case CSV_VECTOR:
			rc = parse_vector_text(fields[i], vec, dim, err, errlen);
			if (rc)
				return rc;
			break;
		case CSV_COMPONENT:
			p = fields[i];
			while (isspace((unsigned char)*p))
				p++;
			rc = parse_float(&p, &vec[c]);
			while (!rc && isspace((unsigned char)*p))
				p++;
			if (rc == -ERANGE)
				return tv_fail(err, errlen, "column %u: not a finite float", i + 1);
			if (rc || *p)
				return tv_fail(err, errlen, "column %u: '%.20s' is not a number", i + 1, fields[i]);
			c++;
			break;
		default:
			rc = csv_attr(fields[i], &row->attrs[l->roles[i] - CSV_ATTR0],
				      l->roles[i] - CSV_ATTR0, err, errlen);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* --- JSON lines --------------------------------------------------------- */

static int json_u64(struct json_object *o, const char *what, uint64_t *v,
		    char *err, size_t errlen)
{
	if (!json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0)
		return tv_fail(err, errlen, "\"%s\": want an integer 0..2^64-1, not %s", what,
			       json_object_to_json_string(o));
	*v = json_object_get_uint64(o);
	return 0;
}

static int json_vector(struct json_object *arr, float *vec, uint32_t dim,
		       char *err, size_t errlen)
{
	size_t n, i;

	if (!json_object_is_type(arr, json_type_array))
		return tv_fail(err, errlen, "\"vector\": want an array of numbers");
	n = json_object_array_length(arr);
	if (n != dim)
		return tv_fail(err, errlen, "\"vector\" has %zu values; the collection has dimension %u",
			       n, dim);
	for (i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(arr, i);
		double d;

		if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int))
			return tv_fail(err, errlen, "\"vector\"[%zu] is not a number", i);
		d = json_object_get_double(x);
		vec[i] = (float)d;
		if (!isfinite(d) || !isfinite(vec[i]))
			return tv_fail(err, errlen, "\"vector\"[%zu] is not a finite float", i);
	}
	return 0;
}

static int json_attrs(struct json_object *obj, struct textvec_row *row,
		      char *err, size_t errlen)
{
	struct json_object *a, *x;
	char key[8];
	size_t i, n;
	int rc;

	if (json_object_object_get_ex(obj, "attrs", &a)) {
		if (!json_object_is_type(a, json_type_array))
			return tv_fail(err, errlen, "\"attrs\": want an array of up to %d integers",
				       TEXTVEC_ATTR_WORDS);
		n = json_object_array_length(a);
		if (n > TEXTVEC_ATTR_WORDS)
			return tv_fail(err, errlen, "\"attrs\" has %zu words; at most %d",
				       n, TEXTVEC_ATTR_WORDS);
		for (i = 0; i < n; i++) {
			rc = json_u64(json_object_array_get_idx(a, i), "attrs", &row->attrs[i],
				      err, errlen);
			if (rc)
				return rc;
		}
	}
	for (i = 0; i < TEXTVEC_ATTR_WORDS; i++) {
		snprintf(key, sizeof(key), "attr%zu", i);
		if (!json_object_object_get_ex(obj, key, &x))
			continue;
		rc = json_u64(x, key, &row->attrs[i], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int jsonl_object(struct json_object *obj, float *vec, uint32_t dim,
			struct textvec_row *row, char *err, size_t errlen)
{
	struct json_object *x;
	int rc;

	if (!json_object_is_type(obj, json_type_object))
		return tv_fail(err, errlen, "want a JSON object per line");
	if (!json_object_object_get_ex(obj, "vector", &x))
		return tv_fail(err, errlen, "no \"vector\" key");
	rc = json_vector(x, vec, dim, err, errlen);
	if (rc)
		return rc;
	if (json_object_object_get_ex(obj, "id", &x)) {
		rc = json_u64(x, "id", &row->id, err, errlen);
		if (rc)
			return rc;
		if (!row->id)
			return tv_fail(err, errlen, "\"id\": 0 is not a valid id");
		row->has_id = true;
	}
	return json_attrs(obj, row, err, errlen);
}

int jsonl_parse_line(const char *line, float *vec, uint32_t dim,
		     struct textvec_row *row, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;
	size_t len = strlen(line);
	enum json_tokener_error jerr;
	int rc;

	memset(row, 0, sizeof(*row));
	if (!tok)
		return tv_fail(err, errlen, "no memory for the JSON parser");
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!obj || jerr != json_tokener_success) {
		rc = tv_fail(err, errlen, "not valid JSON: %s",
			     jerr == json_tokener_continue ? "the object is cut short" :
			     json_tokener_error_desc(jerr));
	} else if (!textvec_blank(line + json_tokener_get_parse_end(tok))) {
		rc = tv_fail(err, errlen, "text after the JSON object");
	} else {
		rc = jsonl_object(obj, vec, dim, row, err, errlen);
	}
	json_object_put(obj);
	json_tokener_free(tok);
	return rc;
}

/* --- the reader --------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcasecmp(s + ls - lx, suffix);
}

bool textvec_is_stdin(const char *path)
{
	return !strcmp(path, "-");
}

enum textvec_format textvec_format_of(const char *path)
{
	if (has_suffix(path, ".csv"))
		return TEXTVEC_CSV;
	if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson"))
		return TEXTVEC_JSONL;
	return 0;
}

__attribute__((format(printf, 3, 4)))
static int reader_fail(struct textvec_reader *r, int err, const char *fmt, ...)
{
	size_t n = (size_t)snprintf(r->err, sizeof(r->err), "%s:%" PRIu64 ": ",
				    r->path, r->lineno);
	va_list ap;

	if (n < sizeof(r->err)) {
		va_start(ap, fmt);
		vsnprintf(r->err + n, sizeof(r->err) - n, fmt, ap);
		va_end(ap);
	}
	return err;
}

static void chomp(char *s, ssize_t *len)
{
	while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

/*
 * The next record into r->line: the next non-blank line, and for CSV the
 * lines after it while a quote is open. 1, 0 at the end, or -errno.
 */
static int read_record(struct textvec_reader *r)
{
	ssize_t len, more;

	do {
		errno = 0;
		len = getline(&r->line, &r->cap, r->f);
		if (len < 0)
			return errno ? reader_fail(r, -errno, "%s", strerror(errno)) : 0;
		r->lineno = ++r->next_line;
		chomp(r->line, &len);
	} while (textvec_blank(r->line));
	while (r->format == TEXTVEC_CSV && !csv_record_complete(r->line)) {
		more = getline(&r->more, &r->more_cap, r->f);
		if (more < 0)
			return reader_fail(r, -EINVAL, "a quote is never closed");
		r->next_line++;
		chomp(r->more, &more);
		if ((size_t)(len + more + 2) > r->cap) {
			char *bigger = realloc(r->line, (size_t)(len + more + 2));

			if (!bigger)
				return reader_fail(r, -ENOMEM, "no memory for the record");
			r->line = bigger;
			r->cap = (size_t)(len + more + 2);
		}
		r->line[len++] = '\n';
		memcpy(r->line + len, r->more, (size_t)more + 1);
		len += more;
	}
	return 1;
}

int textvec_open(struct textvec_reader *r, const char *path,
		 enum textvec_format format)
{
	uint32_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", textvec_is_stdin(path) ? "stdin" : path);
	r->format = format;
	r->f = textvec_is_stdin(path) ? fdopen(dup(STDIN_FILENO), "r") : fopen(path, "r");
	if (!r->f)
		return reader_fail(r, -errno, "%s", strerror(errno));
	if (format != TEXTVEC_CSV)
		return 0;
	r->fields = malloc(TEXTVEC_MAX_FIELDS * sizeof(*r->fields));
	if (!r->fields)
		return reader_fail(r, -ENOMEM, "no memory");
	rc = read_record(r);
	if (rc == 0)
		return reader_fail(r, -EINVAL, "empty file: want a header line naming the columns");
	if (rc < 0)
		return rc;
	rc = csv_split(r->line, r->fields, TEXTVEC_MAX_FIELDS, &n, r->err, sizeof(r->err));
	if (!rc)
		rc = csv_parse_header(r->fields, n, &r->layout, r->err, sizeof(r->err));
	if (rc)
		return reader_fail(r, rc, "header: %s", strdupa(r->err));
	return 0;
}

int textvec_next(struct textvec_reader *r, float *vec, uint32_t dim,
		 struct textvec_row *row)
{
	uint32_t n;
	int rc;

	rc = read_record(r);
	if (rc <= 0)
		return rc;
	if (r->format == TEXTVEC_CSV) {
		rc = csv_split(r->line, r->fields, TEXTVEC_MAX_FIELDS, &n, r->err, sizeof(r->err));
		if (!rc)
			rc = csv_parse_row(&r->layout, r->fields, n, vec, dim, row,
					   r->err, sizeof(r->err));
	} else {
		rc = jsonl_parse_line(r->line, vec, dim, row, r->err, sizeof(r->err));
	}
	if (rc)
		return reader_fail(r, rc, "%s", strdupa(r->err));
	r->rows++;
	return 1;
}

bool textvec_count_rows(const char *path, enum textvec_format format,
			uint64_t *rows)
{
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;

	*rows = 0;
	if (textvec_is_stdin(path))
		return false;
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return false;
	}
	while (getline(&line, &cap, f) >= 0)
		*rows += !textvec_blank(line);
	free(line);
	fclose(f);
	if (format == TEXTVEC_CSV && *rows)
		(*rows)--;	/* the header */
	return true;
}

void textvec_close(struct textvec_reader *r)
{
	if (r->f)
		fclose(r->f);
	free(r->line);
	free(r->more);
	free(r->fields);
	csv_layout_free(&r->layout);
	r->f = NULL;
	r->line = r->more = NULL;
	r->fields = NULL;
}
