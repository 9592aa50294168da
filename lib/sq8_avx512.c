// SPDX-License-Identifier: GPL-2.0
/*
 * SQ8 integer kernels (vexfs_sq8.h) on 512-bit AVX-512 vectors with VNNI,
 * written with GCC vector extensions and builtins because <immintrin.h>
 * is not available to kernel code. Compile with -mavx512f -mavx512bw
 * -mavx512vl -mavx512vnni. Only call through vexfs_sq8_avx512 when the
 * CPU and the OS support all four (VEXFS_CPU_AVX512 and
 * VEXFS_CPU_AVX512VNNI).
 *
 * Thirty-two dimensions a step: the codes widen from bytes to 16 bits
 * (vpmovzxbw), and vpdpwssd multiplies 16-bit lanes, adds neighbouring
 * products and accumulates into 32 bits in one instruction, where AVX2
 * needs a multiply-add and an add for half as many lanes. The query's
 * bounds (vexfs_sq8.h) keep every pair and every total inside 32 bits.
 * Four accumulators, 128 dimensions a round, hide the latency of the
 * accumulation; the last partial step loads under a mask, so no
 * dimension goes one by one and no load reads past a row. An L2 sum with
 * a limit checks it after each round while more than 64 dimensions
 * remain, and stops there.
 */
#include "sq8_impl.h"

typedef short sq8_v32hi __attribute__((vector_size(64)));
typedef short sq8_v32hi_u __attribute__((vector_size(64), aligned(1)));
typedef int sq8_v16si __attribute__((vector_size(64)));
typedef char sq8_v32qi __attribute__((vector_size(32)));
typedef char sq8_v32qi_u __attribute__((vector_size(32), aligned(1)));
typedef unsigned char sq8_v32qu __attribute__((vector_size(32)));

/*
 * GCC and Clang name two of the builtins differently (<immintrin.h>,
 * which hides that, is not available to kernel code); GCC turns the
 * plain conversion into two 256-bit widenings.
 */
#ifdef __clang__
#define sq8_widen(b)		__builtin_convertvector((sq8_v32qu)(b), sq8_v32hi)
#define sq8_dpwssd(acc, x, y)	__builtin_ia32_vpdpwssd512(acc, x, y)
#else
#define sq8_widen(b)	__builtin_ia32_pmovzxbw512_mask(b, (sq8_v32hi){ 0 }, ~0u)
#define sq8_dpwssd(acc, x, y)	__builtin_ia32_vpdpwssd_v16si(acc, x, y)
#endif

/* The lanes of a step of n < 32 dimensions. */
static inline unsigned int lanes(unsigned int n)
{
	return n >= 32 ? ~0u : (1u << n) - 1;
}

/* n (at most 32) bytes of a code, widened to 16 bits; lanes past n are 0. */
static __always_inline sq8_v32hi load_code(const uint8_t *c, unsigned int n)
{
	sq8_v32qi b;

	if (n >= 32)
		b = *(const sq8_v32qi_u *)c;
	else
		b = __builtin_ia32_loaddquqi256_mask((const void *)c,
						     (sq8_v32qi){ 0 }, lanes(n));
	return sq8_widen(b);
}

/* n (at most 32) numbers of a query; lanes past n are 0. */
static __always_inline sq8_v32hi load_query(const int16_t *q, unsigned int n)
{
	if (n >= 32)
		return *(const sq8_v32hi_u *)q;
	return __builtin_ia32_loaddquhi512_mask((const void *)q,
						(sq8_v32hi){ 0 }, lanes(n));
}

/* n values from a + i, widened to 16 bits if a is a code. */
static __always_inline sq8_v32hi load_a(const void *a, bool a_code,
					unsigned int i, unsigned int n)
{
	if (a_code)
		return load_code((const uint8_t *)a + i, n);
	return load_query((const int16_t *)a + i, n);
}

/* acc + the sums of neighbouring products x[j] * y[j]. */
static __always_inline sq8_v16si dot_acc(sq8_v16si acc, sq8_v32hi x,
					 sq8_v32hi y)
{
	return sq8_dpwssd(acc, (sq8_v16si)x, (sq8_v16si)y);
}

static __always_inline sq8_v16si l2_step(sq8_v16si acc, const void *a,
					 bool a_code, const uint8_t *c,
					 unsigned int i, unsigned int n)
{
	sq8_v32hi d = load_a(a, a_code, i, n) - load_code(c + i, n);

	return dot_acc(acc, d, d);
}

static __always_inline sq8_v16si dot_step(sq8_v16si acc, const void *a,
					  bool a_code, const uint8_t *c,
					  unsigned int i, unsigned int n)
{
	return dot_acc(acc, load_a(a, a_code, i, n), load_code(c + i, n));
}

static inline int32_t hsum(sq8_v16si v)
{
	int32_t sum = 0;
	int k;

	for (k = 0; k < 16; k++)
		sum += v[k];
	return sum;
}

static __always_inline uint32_t avx512_l2_upto(const void *a, bool a_code,
					       const uint8_t *c,
					       unsigned int dim, uint32_t limit)
{
	sq8_v16si s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	unsigned int i = 0;
	uint32_t sum;

	for (; dim - i >= 128; i += 128) {
		s0 = l2_step(s0, a, a_code, c, i, 32);
		s1 = l2_step(s1, a, a_code, c, i + 32, 32);
		s2 = l2_step(s2, a, a_code, c, i + 64, 32);
		s3 = l2_step(s3, a, a_code, c, i + 96, 32);
		if (dim - i > 192) {
			sum = (uint32_t)hsum((s0 + s1) + (s2 + s3));
			if (sum >= limit)
				return sum;
		}
	}
	for (; i < dim; i += 32)
		s0 = l2_step(s0, a, a_code, c, i, dim - i);
	return (uint32_t)hsum((s0 + s1) + (s2 + s3));
}

static __always_inline int32_t avx512_dot(const void *a, bool a_code,
					  const uint8_t *c, unsigned int dim)
{
	sq8_v16si s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	unsigned int i = 0;

	for (; dim - i >= 128; i += 128) {
		s0 = dot_step(s0, a, a_code, c, i, 32);
		s1 = dot_step(s1, a, a_code, c, i + 32, 32);
		s2 = dot_step(s2, a, a_code, c, i + 64, 32);
		s3 = dot_step(s3, a, a_code, c, i + 96, 32);
	}
	for (; i < dim; i += 32)
		s0 = dot_step(s0, a, a_code, c, i, dim - i);
	return hsum((s0 + s1) + (s2 + s3));
}

SQ8_OPS(vexfs_sq8_avx512, "avx512-vnni", avx512_l2_upto, avx512_dot);
