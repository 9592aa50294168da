/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Vectors in text files, for vexfsctl import: CSV and JSON lines, each row
 * a vector with an optional id and optional metadata words.
 *
 * CSV (RFC 4180: fields separated by commas, double-quoted when they hold
 * a comma, a quote or a line break, "" for a quote inside quotes). The
 * first record is a header naming the columns:
 *   id             the row's id: a positive decimal integer (optional column)
 *   attr0..attr3   metadata words: non-negative decimal integers, empty
 *                  for 0 (optional columns)
 *   vector         the whole vector: numbers separated by spaces, commas or
 *                  semicolons, optionally in [ ] (then no other component
 *                  columns)
 *   anything else  one vector component per column, in order
 * Every record has the header's number of fields.
 *
 * JSON lines: one object per line, keys
 *   "vector": [numbers]          required
 *   "id": positive integer       optional
 *   "attrs": [up to 4 integers]  optional, or "attr0".."attr3": integer
 * Other keys are ignored (a document's text or path can ride along);
 * blank lines are skipped.
 *
 * Numbers must be finite. Errors come back as -EINVAL with a message in
 * err that names the line and the problem, fit to show a user as it is.
 */
#ifndef TEXTVEC_H
#define TEXTVEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TEXTVEC_ATTR_WORDS	4
#define TEXTVEC_MAX_FIELDS	65536
#define TEXTVEC_ERR_LEN		512

enum textvec_format {
	TEXTVEC_CSV = 1,
	TEXTVEC_JSONL,
};

/* What one row said besides its vector. */
struct textvec_row {
	bool has_id;
	uint64_t id;
	uint64_t attrs[TEXTVEC_ATTR_WORDS];
};

/* What each CSV column holds. */
enum csv_role {
	CSV_COMPONENT = 0,
	CSV_ID,
	CSV_VECTOR,
	CSV_ATTR0,		/* CSV_ATTR0 + w for attrW */
};

struct csv_layout {
	uint32_t ncols;
	uint8_t *roles;		/* enum csv_role per column */
	uint32_t components;	/* columns that are vector components */
	bool vector_column;	/* one "vector" column holds it all */
};

/*
 * Split one CSV record (line breaks inside quotes included, the record's
 * own line break removed) into fields, in place: quotes are removed and
 * "" becomes ". At most max fields; *n gets the count.
 */
int csv_split(char *rec, char **fields, uint32_t max, uint32_t *n,
	      char *err, size_t errlen);

/* Whether rec ends outside quotes: false means the record goes on. */
bool csv_record_complete(const char *rec);

/* The columns of a header record. l->roles is malloc'ed: csv_layout_free(). */
int csv_parse_header(char **fields, uint32_t n, struct csv_layout *l,
		     char *err, size_t errlen);
void csv_layout_free(struct csv_layout *l);

/*
 * One data record: exactly dim vector values into vec, the id and words
 * into row.
 */
int csv_parse_row(const struct csv_layout *l, char **fields, uint32_t n,
		  float *vec, uint32_t dim, struct textvec_row *row,
		  char *err, size_t errlen);

/*
 * A vector written as text, "[1, 2.5, -3]" or "1 2.5 -3" or "1;2.5;-3":
 * exactly dim finite numbers into vec.
 */
int parse_vector_text(const char *s, float *vec, uint32_t dim,
		      char *err, size_t errlen);

/* A decimal number 0..2^64-1, nothing else around it. */
int parse_u64_text(const char *s, uint64_t *v);

/* One JSON line (without its line break): dim values into vec. */
int jsonl_parse_line(const char *line, float *vec, uint32_t dim,
		     struct textvec_row *row, char *err, size_t errlen);

/* Whether a line holds only blanks (skipped in JSON lines). */
bool textvec_blank(const char *line);

/*
 * A streaming reader: one record at a time from a CSV or JSON lines file,
 * the CSV header read at open.
 */
struct textvec_reader {
	FILE *f;
	enum textvec_format format;
	struct csv_layout layout;
	char *line;		/* the current record */
	size_t cap;
	char *more;		/* a further line of a multi-line CSV record */
	size_t more_cap;
	char **fields;
	uint64_t lineno;	/* line of the file the record starts on, from 1 */
	uint64_t next_line;
	uint64_t rows;		/* data records read */
	char path[256];
	char err[TEXTVEC_ERR_LEN];
};

/* "-": the rows come from standard input. */
bool textvec_is_stdin(const char *path);

/* The format of a file name: .csv, .jsonl, .ndjson; 0 for neither. */
enum textvec_format textvec_format_of(const char *path);

/* Open path for reading rows; "-" reads standard input. */
int textvec_open(struct textvec_reader *r, const char *path,
		 enum textvec_format format);

/*
 * The next row: 1 and the row read, 0 at the end of the file, or a
 * negative errno with r->err set.
 */
int textvec_next(struct textvec_reader *r, float *vec, uint32_t dim,
		 struct textvec_row *row);

/*
 * Data rows in the file, counted by lines (for progress: a CSV record
 * holding line breaks counts more than once) into *rows. False for a
 * stream (standard input, a pipe), whose rows counting would consume.
 */
bool textvec_count_rows(const char *path, enum textvec_format format,
			uint64_t *rows);

void textvec_close(struct textvec_reader *r);

#endif /* TEXTVEC_H */
