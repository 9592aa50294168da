// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for daemon/libvexfs/vecio.c: the .fvecs, .ivecs and .npy readers, on
 * files each test writes, including truncated, mislabelled and otherwise
 * malformed ones, which must fail at open with a message that says why.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "libvexfs/vecio.h"

static char tmpdir[] = "/tmp/test_vecio.XXXXXX";
static char path_buf[4096];

/* --- writing test files ------------------------------------------------ */

static const char *path_of(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", tmpdir, name);
	return path_buf;
}

static const char *write_file(const char *name, const void *data, size_t len)
{
	const char *path = path_of(name);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static float value_at(size_t row, size_t col)
{
	return (float)row * 1000.0f + (float)col + 0.25f;
}

/* rows of (dim, values); dims[r] overrides the prefix of row r if non-NULL. */
static const char *write_xvecs(const char *name, size_t rows, uint32_t dim,
			       const int32_t *dims, bool ints)
{
	size_t row_words = 1 + dim, r, c;
	uint32_t *buf = calloc(rows * row_words + 1, sizeof(*buf));
	const char *path;

	assert_non_null(buf);
	for (r = 0; r < rows; r++) {
		buf[r * row_words] = dims ? (uint32_t)dims[r] : dim;
		for (c = 0; c < dim; c++) {
			float f = value_at(r, c);
			int32_t i = (int32_t)(r * 100 + c);

			memcpy(&buf[r * row_words + 1 + c], ints ? (void *)&i : (void *)&f, 4);
		}
	}
	path = write_file(name, buf, rows * row_words * 4);
	free(buf);
	return path;
}

/*
 * An .npy file as numpy writes it: magic, version, header length, the
 * dict padded with blanks and a newline so the data starts on a 64-byte
 * boundary, then the data (rows x dim float32 values from value_at()).
 */
static const char *write_npy(const char *name, int major, const char *dict,
			     size_t rows, size_t dim, long extra_bytes)
{
	size_t pre = major == 1 ? 10 : 12;
	size_t hlen = strlen(dict) + 1, total, data, r, c;
	unsigned char *buf;
	const char *path;

	while ((pre + hlen) % 64)
		hlen++;
	data = rows * dim * 4;
	total = pre + hlen + data + (extra_bytes > 0 ? (size_t)extra_bytes : 0);
	buf = calloc(1, total);
	assert_non_null(buf);
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[7] = 0;
	buf[8] = hlen & 0xff;
	buf[9] = (hlen >> 8) & 0xff;
	if (major != 1) {
		buf[10] = (hlen >> 16) & 0xff;
		buf[11] = (hlen >> 24) & 0xff;
	}
	memset(buf + pre, ' ', hlen);
	memcpy(buf + pre, dict, strlen(dict));
	buf[pre + hlen - 1] = '\n';
	for (r = 0; r < rows; r++) {
		for (c = 0; c < dim; c++) {
			float f = value_at(r, c);

			memcpy(buf + pre + hlen + (r * dim + c) * 4, &f, 4);
		}
	}
	if (extra_bytes < 0)
		total -= (size_t)-extra_bytes;
	path = write_file(name, buf, total);
	free(buf);
	return path;
}

static const char *npy_dict(const char *descr, const char *order, const char *shape)
{
	static char dict[256];

	snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
		 descr, order, shape);
	return dict;
}

/* Opening must fail with err and a message containing want. */
static void expect_open_error(const char *path, int err, const char *want)
{
	struct vecio v;

	assert_int_equal(vecio_open(&v, path), err);
	if (!strstr(v.err, want))
		fail_msg("message \"%s\" lacks \"%s\"", v.err, want);
	assert_null(v.f);
}

static void expect_rows(struct vecio *v, size_t first, size_t n)
{
	float *buf = malloc(n * v->dim * sizeof(float));
	size_t r, c;

	assert_non_null(buf);
	assert_int_equal(vecio_read(v, buf, n), n);
	for (r = 0; r < n; r++)
		for (c = 0; c < v->dim; c++)
			assert_true(buf[r * v->dim + c] == value_at(first + r, c));
	free(buf);
}

/* --- .fvecs ------------------------------------------------------------- */

static void test_fvecs_reads_every_row(void **state)
{
	const char *path = write_xvecs("a.fvecs", 3, 4, NULL, false);
	float buf[8];
	struct vecio v;

	(void)state;
	assert_int_equal(vecio_open(&v, path), 0);
	assert_int_equal(v.format, VECIO_FVECS);
	assert_int_equal(v.elem, VECIO_FLOAT32);
	assert_int_equal(v.dim, 4);
	assert_int_equal(v.rows, 3);
	expect_rows(&v, 0, 2);
	expect_rows(&v, 2, 1);
	assert_int_equal(vecio_read(&v, buf, 2), 0);
	vecio_close(&v);
}

static void test_fvecs_streams_in_odd_chunks(void **state)
{
	const char *path = write_xvecs("big.fvecs", 1000, 16, NULL, false);
	struct vecio v;
	size_t done = 0;

	(void)state;
	assert_int_equal(vecio_open(&v, path), 0);
	while (done < 1000) {
		size_t n = 1000 - done < 7 ? 1000 - done : 7;

		expect_rows(&v, done, n);
		done += n;
	}
	assert_int_equal(v.row, 1000);
	vecio_close(&v);
}

static void test_fvecs_seek(void **state)
{
	const char *path = write_xvecs("s.fvecs", 5, 3, NULL, false);
	float buf[3];
	struct vecio v;

	(void)state;
	assert_int_equal(vecio_open(&v, path), 0);
	assert_int_equal(vecio_seek(&v, 3), 0);
	expect_rows(&v, 3, 1);
	assert_int_equal(vecio_seek(&v, 0), 0);
	expect_rows(&v, 0, 1);
	assert_int_equal(vecio_seek(&v, 5), 0);		/* the end is a place */
	assert_int_equal(vecio_read(&v, buf, 1), 0);
	assert_int_equal(vecio_seek(&v, 6), -ERANGE);
	assert_non_null(strstr(v.err, "has 5 rows"));
	vecio_close(&v);
}

static void test_fvecs_truncated(void **state)
{
	const char *path = write_xvecs("t.fvecs", 2, 4, NULL, false);

	(void)state;
	assert_int_equal(truncate(path, 2 * 20 - 3), 0);
	expect_open_error(path, -EINVAL, "not a whole number of rows");
}

static void test_fvecs_empty(void **state)
{
	const char *path = write_file("e.fvecs", "", 0);

	(void)state;
	expect_open_error(path, -EINVAL, "empty");
}

static void test_fvecs_bad_first_dim(void **state)
{
	int32_t zero[] = { 0, 0 }, neg[] = { -4, -4 };

	(void)state;
	expect_open_error(write_xvecs("z.fvecs", 2, 4, zero, false), -EINVAL,
			  "dimension 0");
	expect_open_error(write_xvecs("n.fvecs", 2, 4, neg, false), -EINVAL,
			  "dimension -4");
}

/* Same size as a good file, but one row claims another dimension. */
static void test_fvecs_row_dimension_changes(void **state)
{
	int32_t dims[] = { 4, 4, 5, 4 };
	const char *path = write_xvecs("d.fvecs", 4, 4, dims, false);
	float buf[4 * 4];
	struct vecio v;

	(void)state;
	assert_int_equal(vecio_open(&v, path), 0);
	assert_int_equal(vecio_read(&v, buf, 4), -EINVAL);
	assert_non_null(strstr(v.err, "row 2 has dimension 5, expected 4"));
	vecio_close(&v);
}

/* --- .ivecs ------------------------------------------------------------- */

static void test_ivecs_reads_ints(void **state)
{
	const char *path = write_xvecs("g.ivecs", 3, 10, NULL, true);
	int32_t buf[30];
	struct vecio v;
	int r, c;

	(void)state;
	assert_int_equal(vecio_open(&v, path), 0);
	assert_int_equal(v.format, VECIO_IVECS);
	assert_int_equal(v.elem, VECIO_INT32);
	assert_int_equal(v.dim, 10);
	assert_int_equal(vecio_read(&v, buf, 3), 3);
	for (r = 0; r < 3; r++)
		for (c = 0; c < 10; c++)
			assert_int_equal(buf[r * 10 + c], r * 100 + c);
	vecio_close(&v);
}

/* --- .npy --------------------------------------------------------------- */

static void test_npy_v1(void **state)
{
	const char *path = write_npy("a.npy", 1, npy_dict("<f4", "False", "(6, 5)"), 6, 5, 0);
	struct vecio v;

	(void)state;
	assert_int_equal(vecio_open(&v, path), 0);
	assert_int_equal(v.format, VECIO_NPY);
	assert_int_equal(v.elem, VECIO_FLOAT32);
	assert_int_equal(v.rows, 6);
	assert_int_equal(v.dim, 5);
	assert_int_equal(v.data_start % 64, 0);
	expect_rows(&v, 0, 4);
	expect_rows(&v, 4, 2);
	assert_int_equal(vecio_seek(&v, 3), 0);
	expect_rows(&v, 3, 1);
	vecio_close(&v);
}

static void test_npy_v2_and_v3(void **state)
{
	struct vecio v;

	(void)state;
	assert_int_equal(vecio_open(&v, write_npy("b.npy", 2, npy_dict("<f4", "False", "(3,2)"),
						  3, 2, 0)), 0);
	expect_rows(&v, 0, 3);
	vecio_close(&v);
	assert_int_equal(vecio_open(&v, write_npy("c.npy", 3, npy_dict("<f4", "False", "(2, 7)"),
						  2, 7, 0)), 0);
	expect_rows(&v, 0, 2);
	vecio_close(&v);
}

/* Found by its magic when the name says nothing. */
static void test_npy_without_extension(void **state)
{
	struct vecio v;

	(void)state;
	assert_int_equal(vecio_open(&v, write_npy("data.bin", 1, npy_dict("<f4", "False", "(2, 3)"),
						  2, 3, 0)), 0);
	assert_int_equal(v.format, VECIO_NPY);
	vecio_close(&v);
}

static void test_npy_zero_rows(void **state)
{
	float buf[3];
	struct vecio v;

	(void)state;
	assert_int_equal(vecio_open(&v, write_npy("z.npy", 1, npy_dict("<f4", "False", "(0, 3)"),
						  0, 3, 0)), 0);
	assert_int_equal(v.rows, 0);
	assert_int_equal(vecio_read(&v, buf, 1), 0);
	vecio_close(&v);
}

static void test_npy_wrong_dtype(void **state)
{
	(void)state;
	expect_open_error(write_npy("f8.npy", 1, npy_dict("<f8", "False", "(2, 3)"), 2, 6, 0),
			  -EINVAL, "dtype '<f8' is not supported; need float32");
	expect_open_error(write_npy("i4.npy", 1, npy_dict("<i4", "False", "(2, 3)"), 2, 3, 0),
			  -EINVAL, "dtype '<i4'");
	expect_open_error(write_npy("be.npy", 1, npy_dict(">f4", "False", "(2, 3)"), 2, 3, 0),
			  -EINVAL, "big-endian");
	expect_open_error(write_npy("rec.npy", 1,
				    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
				    2, 1, 0),
			  -EINVAL, "structured dtype");
}

static void test_npy_fortran_order(void **state)
{
	(void)state;
	expect_open_error(write_npy("fo.npy", 1, npy_dict("<f4", "True", "(2, 3)"), 2, 3, 0),
			  -EINVAL, "Fortran order");
}

static void test_npy_not_two_dimensional(void **state)
{
	(void)state;
	expect_open_error(write_npy("1d.npy", 1, npy_dict("<f4", "False", "(5,)"), 5, 1, 0),
			  -EINVAL, "1 dimension; need a 2-D array");
	expect_open_error(write_npy("3d.npy", 1, npy_dict("<f4", "False", "(2, 3, 4)"), 2, 12, 0),
			  -EINVAL, "3 dimensions");
	expect_open_error(write_npy("0d.npy", 1, npy_dict("<f4", "False", "()"), 1, 1, 0),
			  -EINVAL, "0 dimensions");
	expect_open_error(write_npy("w0.npy", 1, npy_dict("<f4", "False", "(3, 0)"), 0, 0, 0),
			  -EINVAL, "dimension 0 is out of range");
}

static void test_npy_size_mismatch(void **state)
{
	(void)state;
	expect_open_error(write_npy("short.npy", 1, npy_dict("<f4", "False", "(4, 3)"), 4, 3, -5),
			  -EINVAL, "truncated");
	expect_open_error(write_npy("long.npy", 1, npy_dict("<f4", "False", "(4, 3)"), 4, 3, 8),
			  -EINVAL, "8 bytes after the array data");
	expect_open_error(write_npy("huge.npy", 1,
				    npy_dict("<f4", "False", "(18446744073709551615, 4)"), 0, 0, 0),
			  -EINVAL, "too large");
}

static void test_npy_bad_header(void **state)
{
	(void)state;
	expect_open_error(write_file("magic.npy", "\x93NUMPX\x01\x00\x10\x00", 10),
			  -EINVAL, "bad magic");
}

static void test_npy_unknown_version(void **state)
{
	const char *path = write_npy("v4.npy", 2, npy_dict("<f4", "False", "(1, 1)"), 1, 1, 0);
	FILE *f = fopen(path, "r+b");

	(void)state;
	assert_non_null(f);
	fseek(f, 6, SEEK_SET);
	fputc(4, f);
	fclose(f);
	expect_open_error(path, -EINVAL, "version 4.0 is not supported");
}

static void test_npy_header_missing_keys(void **state)
{
	(void)state;
	expect_open_error(write_npy("nodescr.npy", 1, "{'fortran_order': False, 'shape': (1, 1), }",
				    1, 1, 0), -EINVAL, "no 'descr'");
	expect_open_error(write_npy("noshape.npy", 1, "{'descr': '<f4', 'fortran_order': False, }",
				    1, 1, 0), -EINVAL, "no 'shape'");
	expect_open_error(write_npy("badshape.npy", 1, npy_dict("<f4", "False", "(1, x)"), 1, 1, 0),
			  -EINVAL, "bad 'shape'");
	expect_open_error(write_file("cut.npy", "\x93NUMPY\x01\x00\x40\x00{'descr'", 18),
			  -EINVAL, "truncated npy header");
}

/* --- any format --------------------------------------------------------- */

static void test_missing_file(void **state)
{
	(void)state;
	expect_open_error(path_of("nothing.fvecs"), -ENOENT, "nothing.fvecs: No such file");
}

static void test_unknown_format(void **state)
{
	(void)state;
	expect_open_error(write_file("data.txt", "1,2,3\n", 6), -EINVAL,
			  "unknown file format");
}

static void test_directory_is_refused(void **state)
{
	(void)state;
	expect_open_error(tmpdir, -EINVAL, "not a regular file");
}

/* --- .bvecs ------------------------------------------------------------- */

static const char *write_bvecs(const char *name, size_t rows, uint32_t dim,
			       uint32_t bad_row_dim, size_t cut)
{
	size_t row_bytes = 4 + dim, r, c;
	unsigned char *buf = calloc(rows, row_bytes);
	const char *path;

	assert_non_null(buf);
	for (r = 0; r < rows; r++) {
		uint32_t d = r == 1 && bad_row_dim ? bad_row_dim : dim;

		memcpy(buf + r * row_bytes, &d, 4);
		for (c = 0; c < dim; c++)
			buf[r * row_bytes + 4 + c] = (unsigned char)(r * 50 + c * 3);
	}
	path = write_file(name, buf, rows * row_bytes - cut);
	free(buf);
	return path;
}

static void test_bvecs_reads_bytes_as_floats(void **state)
{
	const char *path = write_bvecs("b.bvecs", 5, 7, 0, 0);
	float buf[5 * 7];
	struct vecio v;
	size_t r, c;

	(void)state;
	assert_int_equal(vecio_open(&v, path), 0);
	assert_int_equal(v.format, VECIO_BVECS);
	assert_int_equal(v.elem, VECIO_FLOAT32);
	assert_int_equal(v.dim, 7);
	assert_int_equal(v.rows, 5);
	assert_string_equal(vecio_format_name(v.format), "bvecs");
	/* in two reads of odd size, then seek back */
	assert_int_equal(vecio_read(&v, buf, 3), 3);
	assert_int_equal(vecio_read(&v, buf + 3 * 7, 10), 2);
	assert_int_equal(vecio_read(&v, buf, 1), 0);
	for (r = 0; r < 5; r++)
		for (c = 0; c < 7; c++)
			assert_true(buf[r * 7 + c] == (float)(unsigned char)(r * 50 + c * 3));
	assert_int_equal(vecio_seek(&v, 4), 0);
	assert_int_equal(vecio_read(&v, buf, 1), 1);
	assert_true(buf[6] == (float)(unsigned char)(4 * 50 + 18));
	vecio_close(&v);
}

static void test_bvecs_malformed(void **state)
{
	const char *path;
	float buf[4 * 7];
	struct vecio v;

	(void)state;
	expect_open_error(write_bvecs("t.bvecs", 3, 7, 0, 2), -EINVAL, "not a whole number of rows");
	expect_open_error(write_file("e.bvecs", "", 0), -EINVAL, "empty");
	/* an .fvecs file named .bvecs: its first row's dimension is a float's bits */
	expect_open_error(write_file("f.bvecs", "\0\0\x80\x3f\0\0\0\0", 8), -EINVAL,
			  "not a .bvecs file?");
	path = write_bvecs("d.bvecs", 4, 7, 9, 0);
	assert_int_equal(vecio_open(&v, path), 0);
	assert_int_equal(vecio_read(&v, buf, 4), -EINVAL);
	assert_non_null(strstr(v.err, "row 1 has dimension 9, expected 7"));
	vecio_close(&v);
}

static void test_open_with_format(void **state)
{
	const char *path = write_bvecs("noext.dat", 2, 3, 0, 0);
	struct vecio v;

	(void)state;
	assert_int_equal(vecio_format_parse("bvecs"), VECIO_BVECS);
	assert_int_equal(vecio_format_parse("NPY"), VECIO_NPY);
	assert_int_equal(vecio_format_parse("csv"), 0);
	expect_open_error(path, -EINVAL, "unknown file format");
	assert_int_equal(vecio_open_format(&v, path, VECIO_BVECS), 0);
	assert_int_equal(v.rows, 2);
	vecio_close(&v);
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
		cmocka_unit_test(test_fvecs_reads_every_row),
		cmocka_unit_test(test_fvecs_streams_in_odd_chunks),
		cmocka_unit_test(test_fvecs_seek),
		cmocka_unit_test(test_fvecs_truncated),
		cmocka_unit_test(test_fvecs_empty),
		cmocka_unit_test(test_fvecs_bad_first_dim),
		cmocka_unit_test(test_fvecs_row_dimension_changes),
		cmocka_unit_test(test_ivecs_reads_ints),
		cmocka_unit_test(test_npy_v1),
		cmocka_unit_test(test_npy_v2_and_v3),
		cmocka_unit_test(test_npy_without_extension),
		cmocka_unit_test(test_npy_zero_rows),
		cmocka_unit_test(test_npy_wrong_dtype),
		cmocka_unit_test(test_npy_fortran_order),
		cmocka_unit_test(test_npy_not_two_dimensional),
		cmocka_unit_test(test_npy_size_mismatch),
		cmocka_unit_test(test_npy_bad_header),
		cmocka_unit_test(test_npy_unknown_version),
		cmocka_unit_test(test_npy_header_missing_keys),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unknown_format),
		cmocka_unit_test(test_directory_is_refused),
		cmocka_unit_test(test_bvecs_reads_bytes_as_floats),
		cmocka_unit_test(test_bvecs_malformed),
		cmocka_unit_test(test_open_with_format),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
