// SPDX-License-Identifier: GPL-2.0
/*
 * Argument parsers of vexfsctl (see parse.h).
 */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

static const char *skip_blanks(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

/*
 * Plain decimal unless "0x": a leading zero does not make an id octal.
 * *end is where the number stopped.
 */
static int scan_u64(const char *s, uint64_t *out, const char **end)
{
	int base = 10;
	char *e;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		if (!isxdigit((unsigned char)s[2]))
			return -EINVAL;
	}
	errno = 0;
	*out = strtoull(s, &e, base);
	if (errno)
		return -EINVAL;
	*end = e;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	const char *end;

	if (scan_u64(s, out, &end) || *end)
		return -EINVAL;
	return 0;
}

int parse_u32_range(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int parse_yes_no(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

static bool is_separator(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

/* How many numbers a literal holds at most: one per separated field. */
static size_t count_fields(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += is_separator(*s);
	return n;
}

/*
 * One number and what follows it: blanks, then at most one comma, which
 * promises another number (so "1,,2" and "1,2," are refused as typos).
 */
static int scan_element(const char **s, float *out, bool *comma)
{
	char *end;

	*out = strtof(*s, &end);
	if (end == *s || (*end && !is_separator(*end) && *end != ']'))
		return -EINVAL;
	*s = skip_blanks(end);
	*comma = **s == ',';
	if (*comma)
		*s = skip_blanks(*s + 1);
	return 0;
}

int parse_vector(const char *s, float **vec, uint32_t *dim)
{
	size_t cap = count_fields(s), n = 0;
	bool bracket, comma = false;
	float *v;

	s = skip_blanks(s);
	bracket = *s == '[';
	s = skip_blanks(s + bracket);
	v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (*s && *s != ']') {
		if (n == cap || n == UINT32_MAX || scan_element(&s, &v[n++], &comma))
			goto bad;
	}
	if (comma || !n || bracket != (*s == ']') || *skip_blanks(s + bracket))
		goto bad;
	*vec = v;
	*dim = (uint32_t)n;
	return 0;
bad:
	free(v);
	return -EINVAL;
}

/* "attrW" or "W": the word number, leaving *s after it. */
static int parse_word(const char **s, unsigned int *word)
{
	const char *p = skip_blanks(*s);
	uint64_t w;

	if (!strncmp(p, "attr", 4))
		p += 4;
	if (scan_u64(p, &w, &p) || w >= VEXFS_ATTR_WORDS)
		return -EINVAL;
	*word = (unsigned int)w;
	*s = skip_blanks(p);
	return 0;
}

/* A number with nothing but blanks after it. */
static int parse_value(const char *s, uint64_t *v)
{
	const char *end;

	if (scan_u64(skip_blanks(s), v, &end) || *skip_blanks(end))
		return -EINVAL;
	return 0;
}

int parse_attr_assign(const char *s, uint64_t *attrs)
{
	unsigned int word;

	if (parse_word(&s, &word) || *s != '=')
		return -EINVAL;
	return parse_value(s + 1, &attrs[word]);
}

/* Two-character operators first, so "<=" is not read as "<". */
static const struct {
	const char *text;
	unsigned int op;
} where_ops[] = {
	{ "==", VEXFS_PRED_EQ },
	{ "!=", VEXFS_PRED_NE },
	{ "<=", VEXFS_PRED_LE },
	{ ">=", VEXFS_PRED_GE },
	{ "=", VEXFS_PRED_EQ },
	{ "<", VEXFS_PRED_LT },
	{ ">", VEXFS_PRED_GT },
	{ "&", VEXFS_PRED_ALL_BITS },
	{ "|", VEXFS_PRED_ANY_BITS },
};

#define N_WHERE_OPS (sizeof(where_ops) / sizeof(where_ops[0]))

int parse_where(const char *s, struct vexfs_predicate *where)
{
	unsigned int word;
	uint64_t value;
	size_t i, len;

	if (parse_word(&s, &word))
		return -EINVAL;
	for (i = 0; i < N_WHERE_OPS; i++) {
		len = strlen(where_ops[i].text);
		if (!strncmp(s, where_ops[i].text, len))
			break;
	}
	if (i == N_WHERE_OPS)
		return -EINVAL;
	if (parse_value(s + len, &value))
		return -EINVAL;
	memset(where, 0, sizeof(*where));
	where->op = where_ops[i].op;
	where->word = word;
	where->value = value;
	return 0;
}

int parse_where_list(const char *s, struct vexfs_predicate *where,
		     unsigned int max, unsigned int *n)
{
	char *copy = strdup(s), *p, *and;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (p = copy; !err; p = and + 5) {
		and = strcasestr(p, " and ");
		if (and)
			*and = '\0';
		if (*n == max)
			err = -E2BIG;
		else if (parse_where(p, &where[*n]))
			err = -EINVAL;
		else
			(*n)++;
		if (!and)
			break;
	}
	free(copy);
	return err;
}

const char *where_op_text(unsigned int op)
{
	size_t i;

	/* "=" for equality, as a person would write it. */
	if (op == VEXFS_PRED_EQ)
		return "=";
	for (i = 0; i < N_WHERE_OPS; i++)
		if (where_ops[i].op == op)
			return where_ops[i].text;
	return "?";
}
