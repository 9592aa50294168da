// SPDX-License-Identifier: GPL-2.0
/*
 * Readers for .fvecs, .ivecs, .bvecs and .npy vector files (see vecio.h).
 *
 * Headers are checked against the file size up front, so a truncated or
 * mislabelled file is refused at open with a message, not half-imported.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "vecio.h"

#define VECIO_STDIO_BUF		(1u << 20)
#define NPY_MAGIC		"\x93NUMPY"
#define NPY_MAGIC_LEN		6
#define NPY_MAX_HEADER		(1u << 16)	/* numpy itself writes < 4 KiB */

__attribute__((format(printf, 3, 4)))
static int vecio_fail(struct vecio *v, int err, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	n = (size_t)snprintf(v->err, sizeof(v->err), "%s: ", v->path);
	if (n >= sizeof(v->err))
		return err;
	va_start(ap, fmt);
	vsnprintf(v->err + n, sizeof(v->err) - n, fmt, ap);
	va_end(ap);
	return err;
}

static int vecio_fail_errno(struct vecio *v, int err)
{
	return vecio_fail(v, err, "%s", strerror(-err));
}

const char *vecio_format_name(enum vecio_format format)
{
	switch (format) {
	case VECIO_FVECS:	return "fvecs";
	case VECIO_IVECS:	return "ivecs";
	case VECIO_NPY:		return "npy";
	case VECIO_BVECS:	return "bvecs";
	}
	return "unknown";
}

/* The files are little-endian; so is every host this runs on, today. */
static void le32_to_host(void *buf, size_t n)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	uint32_t *w = buf;
	size_t i;

	for (i = 0; i < n; i++)
		w[i] = le32toh(w[i]);
#else
	(void)buf;
	(void)n;
#endif
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcasecmp(s + ls - lx, suffix);
}

/* Read exactly len bytes; -EIO on a short read (the file shrank?). */
static int read_exact(struct vecio *v, void *buf, size_t len)
{
	if (fread(buf, 1, len, v->f) == len)
		return 0;
	if (ferror(v->f))
		return -(errno ? errno : EIO);
	return -EIO;
}

static bool looks_like_npy(FILE *f)
{
	char magic[NPY_MAGIC_LEN];
	bool yes = fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
		   !memcmp(magic, NPY_MAGIC, NPY_MAGIC_LEN);

	rewind(f);
	return yes;
}

enum vecio_format vecio_format_parse(const char *name)
{
	static const enum vecio_format all[] = {
		VECIO_FVECS, VECIO_IVECS, VECIO_NPY, VECIO_BVECS,
	};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcasecmp(name, vecio_format_name(all[i])))
			return all[i];
	return 0;
}

static void set_format(struct vecio *v, enum vecio_format format)
{
	v->format = format;
	v->elem = format == VECIO_IVECS ? VECIO_INT32 : VECIO_FLOAT32;
}

static int detect_format(struct vecio *v, const char *path)
{
	if (v->format) {
		set_format(v, v->format);
	} else if (has_suffix(path, ".fvecs")) {
		v->format = VECIO_FVECS;
		v->elem = VECIO_FLOAT32;
	} else if (has_suffix(path, ".ivecs")) {
		v->format = VECIO_IVECS;
		v->elem = VECIO_INT32;
	} else if (has_suffix(path, ".bvecs")) {
		v->format = VECIO_BVECS;
		v->elem = VECIO_FLOAT32;	/* widened from bytes as read */
	} else if (has_suffix(path, ".npy") || looks_like_npy(v->f)) {
		v->format = VECIO_NPY;
		v->elem = VECIO_FLOAT32;
	} else {
		return vecio_fail(v, -EINVAL,
				  "unknown file format (want .fvecs, .ivecs, .bvecs or .npy)");
	}
	return 0;
}

/* --- .fvecs / .ivecs / .bvecs ------------------------------------------- */

static int open_xvecs(struct vecio *v, uint64_t size)
{
	uint32_t word;
	int32_t dim;
	int err;

	if (size == 0)
		return vecio_fail(v, -EINVAL, "empty file, no vectors");
	if (size < sizeof(word))
		return vecio_fail(v, -EINVAL, "truncated: %" PRIu64 " bytes", size);
	err = read_exact(v, &word, sizeof(word));
	if (err)
		return vecio_fail_errno(v, err);
	dim = (int32_t)le32toh(word);
	if (dim <= 0 || (uint32_t)dim > VECIO_MAX_DIM)
		return vecio_fail(v, -EINVAL,
				  "first row has dimension %" PRId32 ": not a .%s file?",
				  dim, vecio_format_name(v->format));
	v->dim = (uint32_t)dim;
	v->elem_bytes = v->format == VECIO_BVECS ? 1 : 4;
	v->row_bytes = sizeof(word) + (size_t)v->dim * v->elem_bytes;
	if (size % v->row_bytes)
		return vecio_fail(v, -EINVAL,
				  "%" PRIu64 " bytes is not a whole number of rows of dimension %u (%zu bytes each): truncated?",
				  size, v->dim, v->row_bytes);
	v->rows = size / v->row_bytes;
	v->data_start = 0;
	if (v->format == VECIO_BVECS) {
		v->bytes = malloc(v->dim);
		if (!v->bytes)
			return vecio_fail_errno(v, -ENOMEM);
	}
	rewind(v->f);
	return 0;
}

/* The payload of one row into out (dim elements of 4 bytes). */
static int read_payload(struct vecio *v, char *out)
{
	float *f = (float *)out;
	uint32_t i;
	int err;

	if (v->format != VECIO_BVECS)
		return read_exact(v, out, (size_t)v->dim * 4);
	err = read_exact(v, v->bytes, v->dim);
	for (i = 0; !err && i < v->dim; i++)
		f[i] = (float)v->bytes[i];
	return err;
}

static ssize_t read_xvecs(struct vecio *v, char *out, size_t max_rows)
{
	size_t payload = (size_t)v->dim * 4, n;
	uint32_t word;
	int err;

	for (n = 0; n < max_rows && v->row < v->rows; n++, v->row++) {
		err = read_exact(v, &word, sizeof(word));
		if (!err && le32toh(word) != v->dim)
			return vecio_fail(v, -EINVAL,
					  "row %" PRIu64 " has dimension %" PRId32 ", expected %u",
					  v->row, (int32_t)le32toh(word), v->dim);
		if (!err)
			err = read_payload(v, out + n * payload);
		if (err)
			return vecio_fail(v, err, "row %" PRIu64 ": %s", v->row,
					  strerror(-err));
	}
	if (v->format != VECIO_BVECS)
		le32_to_host(out, n * v->dim);
	return (ssize_t)n;
}

/* --- .npy --------------------------------------------------------------- */

/*
 * The header is the repr() of a Python dict, e.g.
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (4900, 128), }
 * The value of key, with leading blanks skipped, or NULL.
 */
static const char *npy_value(const char *hdr, const char *key)
{
	size_t klen = strlen(key);
	const char *p;

	for (p = hdr; (p = strpbrk(p, "'\"")); p++) {
		if (strncmp(p + 1, key, klen) || p[1 + klen] != p[0])
			continue;
		p += klen + 2;
		while (isspace((unsigned char)*p))
			p++;
		if (*p++ != ':')
			return NULL;
		while (isspace((unsigned char)*p))
			p++;
		return p;
	}
	return NULL;
}

static int npy_check_descr(struct vecio *v, const char *hdr)
{
	const char *p = npy_value(hdr, "descr");
	char descr[32];
	size_t len;
	const char *end;

	if (!p)
		return vecio_fail(v, -EINVAL, "npy header has no 'descr'");
	if (*p != '\'' && *p != '"')
		return vecio_fail(v, -EINVAL,
				  "structured dtype is not supported; need float32 ('<f4')");
	end = strchr(p + 1, *p);
	len = end ? (size_t)(end - p - 1) : 0;
	if (!end || len >= sizeof(descr))
		return vecio_fail(v, -EINVAL, "npy header: bad 'descr'");
	memcpy(descr, p + 1, len);
	descr[len] = '\0';
	if (!strcmp(descr, "<f4"))
		return 0;
	if (!strcmp(descr, ">f4"))
		return vecio_fail(v, -EINVAL,
				  "dtype '>f4' is big-endian; need little-endian float32 '<f4' (a.astype('<f4'))");
	return vecio_fail(v, -EINVAL,
			  "dtype '%s' is not supported; need float32 '<f4' (a.astype(numpy.float32))",
			  descr);
}

static int npy_check_order(struct vecio *v, const char *hdr)
{
	const char *p = npy_value(hdr, "fortran_order");

	if (!p)
		return vecio_fail(v, -EINVAL, "npy header has no 'fortran_order'");
	if (!strncmp(p, "False", 5))
		return 0;
	return vecio_fail(v, -EINVAL,
			  "array is in Fortran order; need C order (numpy.ascontiguousarray)");
}

/* Parse "(a, b, ...)" into at most max numbers; returns how many, or -1. */
static int npy_parse_shape(const char *p, uint64_t *dims, int max)
{
	int n = 0;
	char *end;

	if (*p++ != '(')
		return -1;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ')')
			return n;
		if (!isdigit((unsigned char)*p) || n == max)
			return -1;
		errno = 0;
		dims[n++] = strtoull(p, &end, 10);
		if (errno)
			return -1;
		p = end;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ',')
			p++;
		else if (*p != ')')
			return -1;
	}
}

static int npy_check_shape(struct vecio *v, const char *hdr)
{
	const char *p = npy_value(hdr, "shape");
	uint64_t dims[8];
	int ndim;

	if (!p)
		return vecio_fail(v, -EINVAL, "npy header has no 'shape'");
	ndim = npy_parse_shape(p, dims, 8);
	if (ndim < 0)
		return vecio_fail(v, -EINVAL, "npy header: bad 'shape'");
	if (ndim != 2)
		return vecio_fail(v, -EINVAL,
				  "array has %d dimension%s; need a 2-D array (rows, dim)",
				  ndim, ndim == 1 ? "" : "s");
	if (!dims[1] || dims[1] > VECIO_MAX_DIM)
		return vecio_fail(v, -EINVAL, "vector dimension %" PRIu64 " is out of range (1..%u)",
				  dims[1], VECIO_MAX_DIM);
	v->rows = dims[0];
	v->dim = (uint32_t)dims[1];
	return 0;
}

/* Magic, version and header length; leaves the file at the header text. */
static int npy_read_preamble(struct vecio *v, uint32_t *hlen)
{
	unsigned char pre[NPY_MAGIC_LEN + 2];
	unsigned char len[4] = { 0 };
	int err;

	err = read_exact(v, pre, sizeof(pre));
	if (err || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN))
		return vecio_fail(v, -EINVAL, "not a NumPy .npy file (bad magic)");
	if (pre[6] < 1 || pre[6] > 3)
		return vecio_fail(v, -EINVAL, "npy format version %u.%u is not supported",
				  pre[6], pre[7]);
	/* Version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one. */
	err = read_exact(v, len, pre[6] == 1 ? 2 : 4);
	if (err)
		return vecio_fail(v, -EINVAL, "truncated npy header");
	*hlen = len[0] | len[1] << 8 | (uint32_t)len[2] << 16 | (uint32_t)len[3] << 24;
	if (*hlen > NPY_MAX_HEADER)
		return vecio_fail(v, -EINVAL, "npy header of %u bytes is implausible", *hlen);
	v->data_start = (off_t)sizeof(pre) + (pre[6] == 1 ? 2 : 4) + *hlen;
	return 0;
}

static int npy_check_size(struct vecio *v, uint64_t size)
{
	uint64_t want;

	v->row_bytes = (size_t)v->dim * 4;
	if (v->rows > (UINT64_MAX - (uint64_t)v->data_start) / v->row_bytes)
		return vecio_fail(v, -EINVAL, "shape (%" PRIu64 ", %u) is too large",
				  v->rows, v->dim);
	want = (uint64_t)v->data_start + v->rows * v->row_bytes;
	if (size < want)
		return vecio_fail(v, -EINVAL,
				  "truncated: shape (%" PRIu64 ", %u) needs %" PRIu64 " bytes, file has %" PRIu64,
				  v->rows, v->dim, want, size);
	if (size > want)
		return vecio_fail(v, -EINVAL,
				  "%" PRIu64 " bytes after the array data: not a plain .npy array",
				  size - want);
	return 0;
}

static int open_npy(struct vecio *v, uint64_t size)
{
	uint32_t hlen = 0;
	char *hdr;
	int err;

	err = npy_read_preamble(v, &hlen);
	if (err)
		return err;
	hdr = malloc(hlen + 1);
	if (!hdr)
		return vecio_fail_errno(v, -ENOMEM);
	err = read_exact(v, hdr, hlen);
	if (err) {
		free(hdr);
		return vecio_fail(v, -EINVAL, "truncated npy header");
	}
	hdr[hlen] = '\0';
	err = npy_check_descr(v, hdr);
	if (!err)
		err = npy_check_order(v, hdr);
	if (!err)
		err = npy_check_shape(v, hdr);
	free(hdr);
	return err ? err : npy_check_size(v, size);
}

static ssize_t read_npy(struct vecio *v, void *out, size_t max_rows)
{
	uint64_t left = v->rows - v->row;
	size_t n = max_rows < left ? max_rows : (size_t)left;
	int err;

	if (!n)
		return 0;
	err = read_exact(v, out, n * v->row_bytes);
	if (err)
		return vecio_fail(v, err, "row %" PRIu64 ": %s", v->row, strerror(-err));
	le32_to_host(out, n * v->dim);
	v->row += n;
	return (ssize_t)n;
}

/* --- common ------------------------------------------------------------- */

static int vecio_open_file(struct vecio *v, const char *path, uint64_t *size)
{
	struct stat st;

	v->f = fopen(path, "rb");
	if (!v->f)
		return vecio_fail_errno(v, -errno);
	if (fstat(fileno(v->f), &st))
		return vecio_fail_errno(v, -errno);
	if (!S_ISREG(st.st_mode))
		return vecio_fail(v, -EINVAL, "not a regular file");
	*size = (uint64_t)st.st_size;
	/* Rows are read a few hundred bytes at a time: read ahead in big steps. */
	v->buf = malloc(VECIO_STDIO_BUF);
	if (v->buf)
		setvbuf(v->f, v->buf, _IOFBF, VECIO_STDIO_BUF);
	return 0;
}

int vecio_open(struct vecio *v, const char *path)
{
	return vecio_open_format(v, path, 0);
}

int vecio_open_format(struct vecio *v, const char *path,
		      enum vecio_format format)
{
	uint64_t size = 0;
	int err;

	memset(v, 0, sizeof(*v));
	v->format = format;
	snprintf(v->path, sizeof(v->path), "%s", path);
	err = vecio_open_file(v, path, &size);
	if (!err)
		err = detect_format(v, path);
	if (!err)
		err = v->format == VECIO_NPY ? open_npy(v, size) : open_xvecs(v, size);
	if (!err)
		err = vecio_seek(v, 0);
	if (err) {
		/* Keep the message: closing clears nothing but the file. */
		if (v->f)
			fclose(v->f);
		free(v->buf);
		free(v->bytes);
		v->f = NULL;
		v->buf = NULL;
		v->bytes = NULL;
	}
	return err;
}

ssize_t vecio_read(struct vecio *v, void *out, size_t max_rows)
{
	if (v->format == VECIO_NPY)
		return read_npy(v, out, max_rows);
	return read_xvecs(v, out, max_rows);
}

int vecio_seek(struct vecio *v, uint64_t row)
{
	if (row > v->rows)
		return vecio_fail(v, -ERANGE, "row %" PRIu64 " is out of range: the file has %" PRIu64 " rows",
				  row, v->rows);
	if (fseeko(v->f, v->data_start + (off_t)(row * v->row_bytes), SEEK_SET))
		return vecio_fail_errno(v, -errno);
	v->row = row;
	return 0;
}

void vecio_close(struct vecio *v)
{
	if (v->f)
		fclose(v->f);
	free(v->buf);
	free(v->bytes);
	v->f = NULL;
	v->buf = NULL;
	v->bytes = NULL;
}
