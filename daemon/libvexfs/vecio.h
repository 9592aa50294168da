/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Streaming readers for the vector files ANN benchmarks ship:
 *
 *   .fvecs  rows of (int32 dim, float32[dim]), little-endian
 *   .ivecs  rows of (int32 dim, int32[dim]), little-endian (ground truth)
 *   .bvecs  rows of (int32 dim, uint8[dim]) (SIFT1B); read as float32
 *   .npy    NumPy array file: only float32 ('<f4'), C order, 2-D
 *
 * A reader holds one open file and a row cursor; vecio_read() copies the
 * next rows into the caller's buffer, so a file of millions of vectors is
 * never held in memory whole, let alone twice. Every row of a .fvecs or
 * .ivecs file must have the dimension of the first one.
 *
 * Functions return 0 (vecio_read: rows read) or a negative errno; on any
 * failure v->err holds a message naming the file and the problem, fit to
 * show a user as it is.
 */
#ifndef VECIO_H
#define VECIO_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Dimensions above this are taken as a sign of the wrong file format. */
#define VECIO_MAX_DIM	(1u << 20)

enum vecio_format {
	VECIO_FVECS = 1,
	VECIO_IVECS,
	VECIO_NPY,
	VECIO_BVECS,
};

/* Every element vecio hands out is 4 bytes, of one of these types. */
enum vecio_elem {
	VECIO_FLOAT32 = 1,
	VECIO_INT32,
};

struct vecio {
	FILE *f;
	char *buf;			/* stdio buffer, ours to free */
	enum vecio_format format;
	enum vecio_elem elem;
	uint32_t dim;
	uint64_t rows;
	uint64_t row;			/* the row vecio_read() returns next */
	off_t data_start;		/* file offset of row 0 */
	size_t row_bytes;		/* bytes of one row in the file */
	size_t elem_bytes;		/* bytes of one element in the file */
	uint8_t *bytes;			/* .bvecs: one row as read, before widening */
	char path[256];			/* for messages, maybe shortened */
	char err[512];
};

/*
 * Open path and read its header; the format comes from the extension
 * (.fvecs, .ivecs, .bvecs, .npy), or from the NumPy magic for other names.
 */
int vecio_open(struct vecio *v, const char *path);

/* The same, with the format given (0: from the name, as vecio_open()). */
int vecio_open_format(struct vecio *v, const char *path,
		      enum vecio_format format);

/* The format a name such as "fvecs" stands for, or 0. */
enum vecio_format vecio_format_parse(const char *name);

/*
 * Copy up to max_rows rows (dim elements of 4 bytes each) into out,
 * host-endian. Returns the rows copied, 0 at the end of the file.
 */
ssize_t vecio_read(struct vecio *v, void *out, size_t max_rows);

/* Move the cursor to row (0 <= row <= rows). */
int vecio_seek(struct vecio *v, uint64_t row);

void vecio_close(struct vecio *v);

/* "fvecs", "ivecs", "bvecs" or "npy". */
const char *vecio_format_name(enum vecio_format format);

#endif /* VECIO_H */
