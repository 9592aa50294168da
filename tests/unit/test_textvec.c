// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the CSV and JSON lines vector parsers
 * (daemon/vexfsctl/textvec.c) behind vexfsctl import: good rows of every
 * shape the format allows, and malformed input of every kind, which must
 * fail with -EINVAL and a message naming the problem (and, through the
 * reader, the line).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vexfsctl/textvec.h"

static char err[TEXTVEC_ERR_LEN];
static char tmpdir[] = "/tmp/test_textvec.XXXXXX";

#define assert_err(call, want) do {					\
	err[0] = '\0';							\
	assert_int_equal((call), -EINVAL);				\
	if (!strstr(err, (want)))					\
		fail_msg("message '%s' does not say '%s'", err, (want));	\
} while (0)

/* --- numbers and vectors ------------------------------------------------ */

static void test_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_u64_text("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64_text("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64_text("18446744073709551616", &v), -EINVAL);
	assert_int_equal(parse_u64_text("-1", &v), -EINVAL);
	assert_int_equal(parse_u64_text("+1", &v), -EINVAL);
	assert_int_equal(parse_u64_text("1x", &v), -EINVAL);
	assert_int_equal(parse_u64_text("", &v), -EINVAL);
	assert_int_equal(parse_u64_text(" 1", &v), -EINVAL);
}

static void test_vector_text_shapes(void **state)
{
	static const char *const good[] = {
		"1,2.5,-3", "[1, 2.5, -3]", "1 2.5 -3", "1;2.5;-3",
		"  [ 1 ,2.5; -3 ]  ", "1e0 25e-1 -3.0",
	};
	float v[3];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(v, 0, sizeof(v));
		assert_int_equal(parse_vector_text(good[i], v, 3, err, sizeof(err)), 0);
		assert_true(v[0] == 1.0f && v[1] == 2.5f && v[2] == -3.0f);
	}
}

static void test_vector_text_malformed(void **state)
{
	float v[3];

	(void)state;
	assert_err(parse_vector_text("1,2", v, 3, err, sizeof(err)), "2 values; the collection has dimension 3");
	assert_err(parse_vector_text("1,2,3,4", v, 3, err, sizeof(err)), "more than 3 values");
	assert_err(parse_vector_text("1,x,3", v, 3, err, sizeof(err)), "component 1: 'x,3' is not a number");
	assert_err(parse_vector_text("1,2,3abc", v, 3, err, sizeof(err)), "component 2");
	assert_err(parse_vector_text("1,nan,3", v, 3, err, sizeof(err)), "component 1 is not a finite float");
	assert_err(parse_vector_text("1,inf,3", v, 3, err, sizeof(err)), "not a finite float");
	assert_err(parse_vector_text("1,1e39,3", v, 3, err, sizeof(err)), "not a finite float");
	assert_err(parse_vector_text("[1,2,3", v, 3, err, sizeof(err)), "without a closing");
	assert_err(parse_vector_text("[1,2,3] 4", v, 3, err, sizeof(err)), "text after ']'");
	assert_err(parse_vector_text("", v, 3, err, sizeof(err)), "0 values");
}

/* --- CSV ---------------------------------------------------------------- */

static uint32_t split(char *rec, char **f)
{
	uint32_t n;

	assert_int_equal(csv_split(rec, f, 16, &n, err, sizeof(err)), 0);
	return n;
}

static void test_csv_split(void **state)
{
	char rec[] = "a,\"b,c\",\"say \"\"hi\"\"\",,\"multi\nline\",";
	char *f[16];

	(void)state;
	assert_int_equal(split(rec, f), 6);
	assert_string_equal(f[0], "a");
	assert_string_equal(f[1], "b,c");
	assert_string_equal(f[2], "say \"hi\"");
	assert_string_equal(f[3], "");
	assert_string_equal(f[4], "multi\nline");
	assert_string_equal(f[5], "");
}

static void test_csv_split_malformed(void **state)
{
	char open[] = "a,\"b,c", stray[] = "a,b\"c", after[] = "\"ab\"c,d";
	char many[] = "1,2,3,4,5";
	char *f[16];
	uint32_t n;

	(void)state;
	assert_err(csv_split(open, f, 16, &n, err, sizeof(err)), "field 2: a quote is never closed");
	assert_err(csv_split(stray, f, 16, &n, err, sizeof(err)), "field 2: a quote inside an unquoted field");
	assert_err(csv_split(after, f, 16, &n, err, sizeof(err)), "field 1: text after the closing quote");
	assert_err(csv_split(many, f, 4, &n, err, sizeof(err)), "more than 4 fields");
}

static void test_csv_record_complete(void **state)
{
	(void)state;
	assert_true(csv_record_complete("a,b"));
	assert_true(csv_record_complete("a,\"b\"\"c\""));
	assert_false(csv_record_complete("a,\"b"));
	assert_false(csv_record_complete("a,\"b\"\"c"));
}

static void test_csv_header_and_rows(void **state)
{
	char hdr[] = "id,x,y,attr2,z,ATTR0", row[] = "42, 1.5 ,2,7,-3,";
	char *f[16];
	struct csv_layout l;
	struct textvec_row r;
	float v[3];
	uint32_t n;

	(void)state;
	n = split(hdr, f);
	assert_int_equal(csv_parse_header(f, n, &l, err, sizeof(err)), 0);
	assert_int_equal(l.components, 3);
	assert_false(l.vector_column);
	n = split(row, f);
	assert_int_equal(csv_parse_row(&l, f, n, v, 3, &r, err, sizeof(err)), 0);
	assert_true(r.has_id && r.id == 42);
	assert_true(v[0] == 1.5f && v[1] == 2.0f && v[2] == -3.0f);
	assert_true(r.attrs[0] == 0 && r.attrs[2] == 7 && r.attrs[1] == 0);
	csv_layout_free(&l);
}

static void test_csv_vector_column(void **state)
{
	char hdr[] = "vector,attr1", row[] = "\"[0.5, 1, 2]\",18446744073709551615";
	char *f[16];
	struct csv_layout l;
	struct textvec_row r;
	float v[3];
	uint32_t n;

	(void)state;
	n = split(hdr, f);
	assert_int_equal(csv_parse_header(f, n, &l, err, sizeof(err)), 0);
	assert_true(l.vector_column);
	n = split(row, f);
	assert_int_equal(csv_parse_row(&l, f, n, v, 3, &r, err, sizeof(err)), 0);
	assert_false(r.has_id);
	assert_true(v[0] == 0.5f && v[2] == 2.0f);
	assert_true(r.attrs[1] == UINT64_MAX);
	csv_layout_free(&l);
}

static void expect_header_error(const char *text, const char *want)
{
	char buf[128];
	char *f[16];
	struct csv_layout l;
	uint32_t n;

	snprintf(buf, sizeof(buf), "%s", text);
	n = split(buf, f);
	assert_err(csv_parse_header(f, n, &l, err, sizeof(err)), want);
	csv_layout_free(&l);
}

static void test_csv_header_malformed(void **state)
{
	(void)state;
	expect_header_error("id,id,x", "names column 'id' twice");
	expect_header_error("x,attr1,attr1", "names column 'attr1' twice");
	expect_header_error("vector,x", "a 'vector' column and 1 other unknown columns");
	expect_header_error("id,attr0", "no vector");
	expect_header_error("vector,vector", "twice");
}

static void expect_row_error(const char *hdr_text, const char *row_text,
			     uint32_t dim, const char *want)
{
	char hdr[128], row[128];
	char *f[16];
	struct csv_layout l;
	struct textvec_row r;
	float v[8];
	uint32_t n;

	snprintf(hdr, sizeof(hdr), "%s", hdr_text);
	snprintf(row, sizeof(row), "%s", row_text);
	n = split(hdr, f);
	assert_int_equal(csv_parse_header(f, n, &l, err, sizeof(err)), 0);
	n = split(row, f);
	assert_err(csv_parse_row(&l, f, n, v, dim, &r, err, sizeof(err)), want);
	csv_layout_free(&l);
}

static void test_csv_rows_malformed(void **state)
{
	(void)state;
	expect_row_error("id,x,y", "1,2", 2, "2 fields; the header has 3");
	expect_row_error("id,x,y", "1,2,3,4", 2, "4 fields; the header has 3");
	expect_row_error("id,x,y", "1,2,3", 3, "2 vector columns; the collection has dimension 3");
	expect_row_error("id,x,y", "0,2,3", 2, "id '0' is not a positive integer");
	expect_row_error("id,x,y", "-5,2,3", 2, "id '-5'");
	expect_row_error("id,x,y", "abc,2,3", 2, "id 'abc'");
	expect_row_error("id,x,y", "1,2,three", 2, "column 3: 'three' is not a number");
	expect_row_error("id,x,y", "1,2,", 2, "column 3");
	expect_row_error("id,x,y", "1,2,nan", 2, "column 3: not a finite float");
	expect_row_error("x,attr0", "1,-1", 1, "attr0: '-1' is not an integer");
	expect_row_error("x,attr3", "1,1.5", 1, "attr3");
	expect_row_error("vector", "\"1,2\"", 3, "2 values; the collection has dimension 3");
}

/* --- JSON lines --------------------------------------------------------- */

static void test_jsonl_good(void **state)
{
	struct textvec_row r;
	float v[3];

	(void)state;
	assert_int_equal(jsonl_parse_line("{\"id\": 7, \"vector\": [1, 2.5, -3e0], \"attrs\": [1, 2],"
					  " \"text\": \"ignored\", \"meta\": {\"x\": [1]}}",
					  v, 3, &r, err, sizeof(err)), 0);
	assert_true(r.has_id && r.id == 7);
	assert_true(v[0] == 1.0f && v[1] == 2.5f && v[2] == -3.0f);
	assert_true(r.attrs[0] == 1 && r.attrs[1] == 2 && r.attrs[2] == 0);
	assert_int_equal(jsonl_parse_line("  {\"vector\":[0,0,1],\"attr3\":18446744073709551615}  ",
					  v, 3, &r, err, sizeof(err)), 0);
	assert_false(r.has_id);
	assert_true(r.attrs[3] == UINT64_MAX);
}

static void test_jsonl_malformed(void **state)
{
	struct textvec_row r;
	float v[3];

	(void)state;
	assert_err(jsonl_parse_line("{\"vector\": [1, 2, 3]", v, 3, &r, err, sizeof(err)),
		   "not valid JSON");
	assert_err(jsonl_parse_line("{\"vector\": [1, 2, 3]} x", v, 3, &r, err, sizeof(err)),
		   "text after the JSON object");
	assert_err(jsonl_parse_line("{vector: [1, 2, 3]}", v, 3, &r, err, sizeof(err)),
		   "not valid JSON");
	assert_err(jsonl_parse_line("[1, 2, 3]", v, 3, &r, err, sizeof(err)),
		   "want a JSON object per line");
	assert_err(jsonl_parse_line("{\"id\": 1}", v, 3, &r, err, sizeof(err)),
		   "no \"vector\" key");
	assert_err(jsonl_parse_line("{\"vector\": \"1,2,3\"}", v, 3, &r, err, sizeof(err)),
		   "want an array of numbers");
	assert_err(jsonl_parse_line("{\"vector\": [1, 2]}", v, 3, &r, err, sizeof(err)),
		   "has 2 values; the collection has dimension 3");
	assert_err(jsonl_parse_line("{\"vector\": [1, \"2\", 3]}", v, 3, &r, err, sizeof(err)),
		   "\"vector\"[1] is not a number");
	assert_err(jsonl_parse_line("{\"vector\": [1, 1e300, 3]}", v, 3, &r, err, sizeof(err)),
		   "\"vector\"[1] is not a finite float");
	assert_err(jsonl_parse_line("{\"vector\": [1, 2, 3], \"id\": 0}", v, 3, &r, err, sizeof(err)),
		   "0 is not a valid id");
	assert_err(jsonl_parse_line("{\"vector\": [1, 2, 3], \"id\": -4}", v, 3, &r, err, sizeof(err)),
		   "\"id\": want an integer");
	assert_err(jsonl_parse_line("{\"vector\": [1, 2, 3], \"id\": 1.5}", v, 3, &r, err, sizeof(err)),
		   "\"id\": want an integer");
	assert_err(jsonl_parse_line("{\"vector\": [1, 2, 3], \"attrs\": [1, 2, 3, 4, 5]}", v, 3, &r,
				    err, sizeof(err)), "has 5 words; at most 4");
	assert_err(jsonl_parse_line("{\"vector\": [1, 2, 3], \"attrs\": 5}", v, 3, &r, err, sizeof(err)),
		   "\"attrs\": want an array");
	assert_err(jsonl_parse_line("{\"vector\": [1, 2, 3], \"attr1\": -1}", v, 3, &r, err, sizeof(err)),
		   "\"attr1\": want an integer");
	assert_err(jsonl_parse_line("", v, 3, &r, err, sizeof(err)), "not valid JSON");
}

/* --- the reader, on files ------------------------------------------------- */

static const char *write_tmp(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_reader_csv(void **state)
{
	const char *path = write_tmp("a.csv", "id,vector\r\n1,\"1 2\"\n\n2,\"[3,\n4]\"\n3,\"5 6\"\n");
	struct textvec_reader r;
	struct textvec_row row;
	uint64_t rows;
	float v[2];

	(void)state;
	assert_int_equal(textvec_format_of(path), TEXTVEC_CSV);
	assert_true(textvec_count_rows(path, TEXTVEC_CSV, &rows));
	assert_int_equal(rows, 4);	/* by lines */
	assert_int_equal(textvec_open(&r, path, TEXTVEC_CSV), 0);
	assert_int_equal(textvec_next(&r, v, 2, &row), 1);
	assert_true(row.id == 1 && v[0] == 1.0f && v[1] == 2.0f);
	assert_int_equal(textvec_next(&r, v, 2, &row), 1);
	assert_true(row.id == 2 && v[0] == 3.0f && v[1] == 4.0f);
	assert_int_equal(r.lineno, 4);
	assert_int_equal(textvec_next(&r, v, 2, &row), 1);
	assert_true(row.id == 3 && r.lineno == 6);
	assert_int_equal(textvec_next(&r, v, 2, &row), 0);
	assert_int_equal(r.rows, 3);
	textvec_close(&r);
}

static void test_reader_errors_name_the_line(void **state)
{
	struct textvec_reader r;
	struct textvec_row row;
	float v[2];
	const char *path;

	(void)state;
	path = write_tmp("b.jsonl", "{\"vector\": [1, 2]}\n\n{\"vector\": [1, 2, 3]}\n");
	assert_int_equal(textvec_format_of(path), TEXTVEC_JSONL);
	assert_int_equal(textvec_open(&r, path, TEXTVEC_JSONL), 0);
	assert_int_equal(textvec_next(&r, v, 2, &row), 1);
	assert_int_equal(textvec_next(&r, v, 2, &row), -EINVAL);
	assert_non_null(strstr(r.err, "b.jsonl:3: \"vector\" has 3 values"));
	textvec_close(&r);

	path = write_tmp("c.csv", "");
	assert_int_equal(textvec_open(&r, path, TEXTVEC_CSV), -EINVAL);
	assert_non_null(strstr(r.err, "empty file"));
	textvec_close(&r);

	path = write_tmp("d.csv", "id,x\n1,\"2\n");
	assert_int_equal(textvec_open(&r, path, TEXTVEC_CSV), 0);
	assert_int_equal(textvec_next(&r, v, 1, &row), -EINVAL);
	assert_non_null(strstr(r.err, "d.csv:2: a quote is never closed"));
	textvec_close(&r);

	path = write_tmp("e.csv", "id,id\n");
	assert_int_equal(textvec_open(&r, path, TEXTVEC_CSV), -EINVAL);
	assert_non_null(strstr(r.err, "e.csv:1: header: "));
	textvec_close(&r);

	assert_int_equal(textvec_open(&r, "/nonexistent/x.csv", TEXTVEC_CSV), -ENOENT);
	textvec_close(&r);
	assert_int_equal(textvec_format_of("x.ndjson"), TEXTVEC_JSONL);
	assert_int_equal(textvec_format_of("x.fvecs"), 0);
}

static int make_tmpdir(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[sizeof(tmpdir) + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_vector_text_shapes),
		cmocka_unit_test(test_vector_text_malformed),
		cmocka_unit_test(test_csv_split),
		cmocka_unit_test(test_csv_split_malformed),
		cmocka_unit_test(test_csv_record_complete),
		cmocka_unit_test(test_csv_header_and_rows),
		cmocka_unit_test(test_csv_vector_column),
		cmocka_unit_test(test_csv_header_malformed),
		cmocka_unit_test(test_csv_rows_malformed),
		cmocka_unit_test(test_jsonl_good),
		cmocka_unit_test(test_jsonl_malformed),
		cmocka_unit_test(test_reader_csv),
		cmocka_unit_test(test_reader_errors_name_the_line),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
