// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the SQ8 integer kernels of lib/ (plain C, AVX2,
 * AVX-512 VNNI), each against 64-bit sums computed here, on the
 * dimensions, values and limits the input picks. Every row sits at the
 * very end of its own allocation, so a load past it (a tail step that
 * reads too far) is an AddressSanitizer report.
 *
 * Input: 2 bytes of dimension (1 to VEXFS_MAX_DIM), 1 byte of choices
 * (query bounds, the limit), then bytes for the query and two codes,
 * repeated as far as needed.
 *
 *   build/fuzz/fuzz_sq8 -max_total_time=60 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vexfs_sq8.h"

#define ROWS	2

struct input {
	const uint8_t *data;
	size_t size, pos;
};

static uint8_t next_byte(struct input *in)
{
	uint8_t b = in->size ? in->data[in->pos % in->size] : 0;

	in->pos++;
	return b;
}

/* A query number in [lo, hi], the extremes as likely as any. */
static int16_t next_query(struct input *in, int32_t lo, int32_t hi)
{
	uint16_t raw = next_byte(in) | (uint16_t)next_byte(in) << 8;

	if ((raw & 7) == 0)
		return (int16_t)lo;
	if ((raw & 7) == 1)
		return (int16_t)hi;
	return (int16_t)(lo + (int32_t)(raw % (uint32_t)(hi - lo + 1)));
}

static void check_one(const struct vexfs_sq8_ops *ops, const int16_t *q,
		      bool l2, const uint8_t *const *rows, uint32_t dim,
		      uint32_t limit)
{
	int64_t want_l2[ROWS] = { 0 }, want_dot[ROWS] = { 0 };
	int64_t codes_l2 = 0, codes_dot = 0;
	struct vexfs_sq8_query sq = {
		.ops = ops, .code = q, .dim = dim, .l2 = l2, .mul = 1.0f,
	};
	float out[ROWS], bound = (float)limit;
	uint32_t i, r, got;

	for (r = 0; r < ROWS; r++)
		for (i = 0; i < dim; i++) {
			int64_t d = (int64_t)q[i] - rows[r][i];

			want_l2[r] += d * d;
			want_dot[r] += (int64_t)q[i] * rows[r][i];
		}
	for (i = 0; i < dim; i++) {
		int64_t d = (int64_t)rows[0][i] - rows[1][i];

		codes_l2 += d * d;
		codes_dot += (int64_t)rows[0][i] * rows[1][i];
	}
	for (r = 0; r < ROWS; r++) {
		if (l2 && ops->l2(q, rows[r], dim) != want_l2[r])
			abort();
		if (!l2 && ops->dot(q, rows[r], dim) != want_dot[r])
			abort();
	}
	/* A list: exact below its bound, at least the bound otherwise. */
	ops->list(&sq, rows, ROWS, bound, out);
	for (r = 0; r < ROWS; r++) {
		float want = (float)(l2 ? want_l2[r] : want_dot[r]);

		if (want < bound ? out[r] != want : out[r] < bound)
			abort();
	}
	/* Between codes: a stop is at or past the limit, never past the sum. */
	got = ops->l2_codes(rows[0], rows[1], dim, limit);
	if (got != codes_l2 && (got < limit || got > codes_l2))
		abort();
	if (ops->dot_codes(rows[0], rows[1], dim) != codes_dot)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .data = data, .size = size };
	unsigned int flags = vexfs_cpu_flags_native();
	const struct vexfs_sq8_ops *ops[3] = { &vexfs_sq8_scalar };
	const uint8_t *rows[ROWS];
	uint8_t *mem[ROWS];
	uint32_t dim, limit, i, r, n = 1;
	uint8_t choice;
	int16_t *q;
	bool l2;

	if (size < 3)
		return 0;
	dim = 1 + (uint32_t)(next_byte(&in) | next_byte(&in) << 8) %
		  VEXFS_MAX_DIM;
	choice = next_byte(&in);
	l2 = choice & 1;
	/* No limit, none reachable, or one the sums may well pass. */
	limit = choice & 2 ? 0xffffffffu :
		(uint32_t)(choice >> 2) * dim * 64u;
	if (vexfs_sq8_select(flags & ~VEXFS_CPU_AVX512) == &vexfs_sq8_avx2)
		ops[n++] = &vexfs_sq8_avx2;
	if (vexfs_sq8_select(flags) == &vexfs_sq8_avx512)
		ops[n++] = &vexfs_sq8_avx512;

	q = malloc(dim * sizeof(*q));
	for (r = 0; r < ROWS; r++) {
		mem[r] = malloc(dim);	/* the row ends its allocation */
		rows[r] = mem[r];
	}
	if (!q || !mem[0] || !mem[1])
		abort();
	for (i = 0; i < dim; i++)
		q[i] = l2 ? next_query(&in, VEXFS_SQ8_L2_MIN, VEXFS_SQ8_L2_MAX) :
			    next_query(&in, -VEXFS_SQ8_IP_MAX, VEXFS_SQ8_IP_MAX);
	for (r = 0; r < ROWS; r++)
		for (i = 0; i < dim; i++)
			mem[r][i] = next_byte(&in);
	for (i = 0; i < n; i++)
		check_one(ops[i], q, l2, rows, dim, limit);
	free(q);
	free(mem[0]);
	free(mem[1]);
	return 0;
}
