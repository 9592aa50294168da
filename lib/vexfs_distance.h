/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Distance kernels of the vector core: squared L2, inner product and cosine
 * over float32 vectors, in a plain C reference, an SSE2 and an AVX2+FMA
 * implementation, and the batch loop of an exact scan.
 *
 * Every metric is a distance: smaller is closer.
 *   L2      sum (a[i] - b[i])^2 (squared: the order is the same, no sqrt)
 *   IP      -dot(a, b)
 *   COSINE  1 - dot(a, b) / (|a| |b|), in [0, 2]; 1 when either is zero
 *
 * The functions are pure and never touch FPU state management: in the
 * kernel the caller wraps them in kernel_fpu_begin()/kernel_fpu_end(). The
 * entry points that take and return floats may only be called from code
 * compiled as an FPU unit; vexfs_distance_select() and
 * vexfs_distance_batch() pass only pointers and integers, so a normal
 * kernel unit may call them (the batch inside the FPU bracket).
 */
#ifndef VEXFS_DISTANCE_H
#define VEXFS_DISTANCE_H

#include "vexfs_types.h"

/* The metric numbers are ABI: VEXFS_METRIC_* of include/uapi/vexfs.h. */
#include <uapi/vexfs.h>

/* CPU features, as the caller found them (boot_cpu_has, cpuid). */
#define VEXFS_CPU_SSE2	(1u << 0)
#define VEXFS_CPU_AVX	(1u << 1)	/* including OS support for YMM state */
#define VEXFS_CPU_AVX2	(1u << 2)
#define VEXFS_CPU_FMA	(1u << 3)
/* AVX-512 F, BW and VL, including OS support for opmask and ZMM state */
#define VEXFS_CPU_AVX512	(1u << 4)
#define VEXFS_CPU_AVX512VNNI	(1u << 5)

typedef float (*vexfs_distance_fn)(const float *a, const float *b,
				   unsigned int dim);

/*
 * A distance that may stop early: the exact distance when it is below
 * bound, else any value >= bound. A search that only wants nodes nearer
 * than its worst result then skips the rest of a far vector, which at
 * hundreds of dimensions is most of its memory traffic.
 */
typedef float (*vexfs_distance_within_fn)(const float *a, const float *b,
					  unsigned int dim, float bound);

struct vexfs_distance_ops {
	const char *name;
	vexfs_distance_fn l2;		/* squared Euclidean distance */
	vexfs_distance_fn dot;		/* plain dot product */
	vexfs_distance_fn ip;		/* -dot */
	vexfs_distance_fn cosine;	/* 1 - cosine similarity */
	vexfs_distance_within_fn l2_within;	/* l2, early exit; or NULL */
	/* out[i] = distance(query, base + i * dim); metric already checked */
	void (*batch)(unsigned int metric, const float *query,
		      const float *base, unsigned int n, unsigned int dim,
		      float *out);
	/*
	 * out[i] = distance(query, rows[i]), where only values below bound
	 * matter (as for vexfs_distance_within_fn); metric already checked.
	 * One call scores a whole neighbour list of a graph search: no call
	 * per vector, which in the kernel would be an indirect call each.
	 */
	void (*list)(unsigned int metric, const float *query,
		     const float *const *rows, unsigned int n, unsigned int dim,
		     float bound, float *out);
};

extern const struct vexfs_distance_ops vexfs_distance_scalar;
extern const struct vexfs_distance_ops vexfs_distance_sse2;
extern const struct vexfs_distance_ops vexfs_distance_avx2;	/* + FMA */

static inline bool vexfs_metric_valid(unsigned int metric)
{
	return metric >= VEXFS_METRIC_L2 && metric <= VEXFS_METRIC_COSINE;
}

/* The fastest implementation the given VEXFS_CPU_* flags allow. */
const struct vexfs_distance_ops *vexfs_distance_select(unsigned int cpu_flags);

/* The function for one metric, or NULL for an unknown metric. */
vexfs_distance_fn vexfs_distance_fn_of(const struct vexfs_distance_ops *ops,
				       unsigned int metric);

/*
 * The early-exit form of a metric's distance, or NULL when it has none:
 * only L2's partial sums never shrink.
 */
vexfs_distance_within_fn
vexfs_distance_within_of(const struct vexfs_distance_ops *ops,
			 unsigned int metric);

/*
 * Distances from query to n vectors stored row after row (stride dim) at
 * base, into out[0..n). Returns 0, or -EINVAL for an unknown metric.
 */
int vexfs_distance_batch(const struct vexfs_distance_ops *ops,
			 unsigned int metric, const float *query,
			 const float *base, unsigned int n, unsigned int dim,
			 float *out);

#if !defined(__KERNEL__) && (defined(__x86_64__) || defined(__i386__))
/* Userspace: the VEXFS_CPU_* flags of the running CPU and OS. */
static inline unsigned int vexfs_cpu_flags_native(void)
{
	unsigned int flags = 0;

	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse2"))
		flags |= VEXFS_CPU_SSE2;
	if (__builtin_cpu_supports("avx"))
		flags |= VEXFS_CPU_AVX;
	if (__builtin_cpu_supports("avx2"))
		flags |= VEXFS_CPU_AVX2;
	if (__builtin_cpu_supports("fma"))
		flags |= VEXFS_CPU_FMA;
	if (__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl"))
		flags |= VEXFS_CPU_AVX512;
	if (__builtin_cpu_supports("avx512vnni"))
		flags |= VEXFS_CPU_AVX512VNNI;
	return flags;
}
#endif

#endif /* VEXFS_DISTANCE_H */
