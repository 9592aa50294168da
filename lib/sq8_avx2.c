// SPDX-License-Identifier: GPL-2.0
/*
 * SQ8 integer kernels (vexfs_sq8.h) on 256-bit AVX2 vectors, written with
 * GCC vector extensions and builtins because <immintrin.h> is not
 * available to kernel code. Compile with -mavx2 (in the kernel, plus
 * $(CC_FLAGS_FPU)). Only call through vexfs_sq8_avx2 when the CPU has AVX
 * and AVX2.
 *
 * Sixteen dimensions a step: the codes widen from bytes to 16 bits
 * (vpmovzxbw), and vpmaddwd multiplies 16-bit lanes and adds neighbouring
 * products into 32 bits. The query's bounds (vexfs_sq8.h) keep every
 * pair and every total inside 32 bits. Two accumulators hide the latency
 * of the add; leftovers go one by one. An L2 sum with a limit checks it
 * every 128 dimensions while more than 64 remain, and stops there.
 */
#include "sq8_impl.h"

typedef short sq8_v16hi __attribute__((vector_size(32)));
typedef short sq8_v16hi_u __attribute__((vector_size(32), aligned(1)));
typedef int sq8_v8si __attribute__((vector_size(32)));
typedef unsigned char sq8_v16qu_u __attribute__((vector_size(16), aligned(1)));

static inline sq8_v16hi load_query(const int16_t *q)
{
	return *(const sq8_v16hi_u *)q;
}

static inline sq8_v16hi load_code(const uint8_t *c)
{
	return __builtin_convertvector(*(const sq8_v16qu_u *)c, sq8_v16hi);
}

static inline int32_t hsum(sq8_v8si v)
{
	return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* Sixteen values from a + i, widened to 16 bits if a is a code. */
static __always_inline sq8_v16hi load_a(const void *a, bool a_code,
					unsigned int i)
{
	if (a_code)
		return load_code((const uint8_t *)a + i);
	return load_query((const int16_t *)a + i);
}

static __always_inline uint32_t avx2_l2_upto(const void *a, bool a_code,
					     const uint8_t *c,
					     unsigned int dim, uint32_t limit)
{
	sq8_v8si s0 = { 0 }, s1 = { 0 };
	unsigned int i = 0;
	int32_t sum, d;

	for (; dim - i >= 32; i += 32) {
		sq8_v16hi d0 = load_a(a, a_code, i) - load_code(c + i);
		sq8_v16hi d1 = load_a(a, a_code, i + 16) - load_code(c + i + 16);

		s0 += __builtin_ia32_pmaddwd256(d0, d0);
		s1 += __builtin_ia32_pmaddwd256(d1, d1);
		if ((i & 127) == 96 && dim - i > 64) {
			sum = hsum(s0 + s1);
			if ((uint32_t)sum >= limit)
				return (uint32_t)sum;
		}
	}
	for (; dim - i >= 16; i += 16) {
		sq8_v16hi d16 = load_a(a, a_code, i) - load_code(c + i);

		s0 += __builtin_ia32_pmaddwd256(d16, d16);
	}
	sum = hsum(s0 + s1);
	for (; i < dim; i++) {
		d = sq8_value(a, a_code, i) - c[i];
		sum += d * d;
	}
	return (uint32_t)sum;
}

static __always_inline int32_t avx2_dot(const void *a, bool a_code,
					const uint8_t *c, unsigned int dim)
{
	sq8_v8si s0 = { 0 }, s1 = { 0 };
	unsigned int i = 0;
	int32_t sum;

	for (; dim - i >= 32; i += 32) {
		s0 += __builtin_ia32_pmaddwd256(load_a(a, a_code, i),
						load_code(c + i));
		s1 += __builtin_ia32_pmaddwd256(load_a(a, a_code, i + 16),
						load_code(c + i + 16));
	}
	for (; dim - i >= 16; i += 16)
		s0 += __builtin_ia32_pmaddwd256(load_a(a, a_code, i),
						load_code(c + i));
	sum = hsum(s0 + s1);
	for (; i < dim; i++)
		sum += sq8_value(a, a_code, i) * c[i];
	return sum;
}

SQ8_OPS(vexfs_sq8_avx2, "avx2", avx2_l2_upto, avx2_dot);
