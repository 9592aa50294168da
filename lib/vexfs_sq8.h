/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Scalar quantization to 8 bits (SQ8): a byte per dimension standing in
 * for a float, so a graph walk reads a quarter of the memory and scores
 * in integers; the few best candidates are then re-ranked with the exact
 * float distances (hnsw.h: vexfs_hnsw_query.sq8).
 *
 * ==== The code ====
 *
 * Dimension i of a vector is coded as the byte c[i] with
 *
 *     value ~= lo[i] + c[i] * step
 *
 * lo[] per dimension (each dimension's minimum over the training vectors)
 * and one step for all of them (the widest range over 255). One step
 * makes every distance an integer sum times a constant; per-dimension
 * offsets keep dimensions whose values sit far from 0 at full precision.
 * When every training value is an integer and every range fits in 255
 * steps of 1 (SIFT descriptors, image pixels), step is 1 and the code is
 * lossless. Cosine collections are coded on unit vectors, where cosine is
 * the inner product.
 *
 * ==== Distances to a query ====
 *
 * The query is coded too, in 16-bit integers (struct vexfs_sq8_query):
 *
 *   L2      q[i] = round((query[i] - lo[i]) / step), kept in [-255, 510]
 *           so a difference squared and summed in pairs fits 32 bits;
 *           distance ~= step^2 * sum (q[i] - c[i])^2
 *   IP      q[i] = round(query[i] / qstep), |q[i]| <= 1023, qstep the
 *           query's largest magnitude over 1023;
 *           dot ~= sum query[i] * lo[i] + step * qstep * sum q[i] * c[i]
 *   COSINE  the same on the unit query; distance = 1 - dot
 *
 * Either way an estimate is add + mul * (one integer sum), the sum from
 * an integer kernel (plain C, AVX2, AVX-512 VNNI). The bounds keep every
 * sum within 32 bits up to VEXFS_MAX_DIM dimensions.
 *
 * Freestanding, like the rest of lib/: training, coding and estimates use
 * floats (FPU units in the kernel); the integer kernels do not.
 */
#ifndef VEXFS_SQ8_H
#define VEXFS_SQ8_H

#include "vexfs_types.h"
#include "vexfs_distance.h"

#define VEXFS_SQ8_L2_MIN	(-255)	/* query code bounds, L2 */
#define VEXFS_SQ8_L2_MAX	510
#define VEXFS_SQ8_IP_MAX	1023	/* |query code|, IP and cosine */

/* The coding of one collection: lo[dim] and step (see above). */
struct vexfs_sq8 {
	uint32_t dim;
	uint32_t metric;		/* VEXFS_METRIC_* of the vectors */
	float step;
	float lo_sq;			/* sum lo[i]^2: vexfs_sq8_set_lo() */
	const float *lo;		/* dim floats, the caller's */
};

/* Training state: per-dimension ranges over the vectors seen so far. */
struct vexfs_sq8_trainer {
	uint32_t dim;
	uint32_t metric;
	uint64_t seen;
	bool integral;			/* every value seen is an integer */
	float *lo;			/* dim floats, the caller's */
	float *hi;			/* dim floats, the caller's */
};

void vexfs_sq8_train_begin(struct vexfs_sq8_trainer *t, uint32_t dim,
			   uint32_t metric, float *lo, float *hi);
/* Take one vector into the ranges (a cosine one as its unit vector). */
void vexfs_sq8_train_add(struct vexfs_sq8_trainer *t, const float *v);
/*
 * The coding the ranges give, into *p (p->lo is the trainer's lo). With
 * no vector seen, or only non-finite ones, every range is 0 and step 1.
 */
void vexfs_sq8_train_end(struct vexfs_sq8_trainer *t, struct vexfs_sq8 *p);

/*
 * Do the codes t trained into p resolve the data finely enough to build a
 * graph on them? One step serves every dimension and spans the whole
 * range, so a few outlying vectors widen it for all and can leave the
 * bulk of the data a level or two: a graph built on such codes finds a
 * tenth of the true neighbours. Fine means exact (integers whose ranges
 * fit 255 steps of 1), or, over the n sample vectors, the median
 * dimension that varies has an interquartile range of at least
 * VEXFS_SQ8_FINE_LEVELS steps. scratch holds 2 * n floats.
 */
#define VEXFS_SQ8_FINE_LEVELS	16
/* Vectors, evenly spread over the data, its callers judge fineness on. */
#define VEXFS_SQ8_FINE_SAMPLE	1024
bool vexfs_sq8_fine(const struct vexfs_sq8_trainer *t,
		    const struct vexfs_sq8 *p, const float *const *sample,
		    uint32_t n, float *scratch);

/* Point p at lo (dim floats) and derive what depends on it. */
void vexfs_sq8_set_lo(struct vexfs_sq8 *p, const float *lo);

/* Code one vector into code[dim]; values outside the ranges clamp. */
void vexfs_sq8_encode(const struct vexfs_sq8 *p, const float *v,
		      uint8_t *code);

struct vexfs_sq8_query;

/* The integer sums the estimates come from. */
struct vexfs_sq8_ops {
	const char *name;
	/* sum (q[i] - c[i])^2 */
	uint32_t (*l2)(const int16_t *q, const uint8_t *c, unsigned int dim);
	/* sum q[i] * c[i] */
	int32_t (*dot)(const int16_t *q, const uint8_t *c, unsigned int dim);
	/*
	 * out[i] = the estimate for the code rows[i], where only estimates
	 * below bound matter: at or above it any value at least bound may
	 * come back (an L2 sum stops once it gets there, as the float
	 * kernels' list does). One call scores a whole neighbour list.
	 */
	void (*list)(const struct vexfs_sq8_query *q,
		     const uint8_t *const *rows, unsigned int n, float bound,
		     float *out);
	/*
	 * Between two codes (a graph build): sum (a[i] - b[i])^2, which may
	 * stop at a multiple of 128 dimensions once it reaches limit; and
	 * sum a[i] * b[i].
	 */
	uint32_t (*l2_codes)(const uint8_t *a, const uint8_t *b,
			     unsigned int dim, uint32_t limit);
	uint32_t (*dot_codes)(const uint8_t *a, const uint8_t *b,
			      unsigned int dim);
};

extern const struct vexfs_sq8_ops vexfs_sq8_scalar;
extern const struct vexfs_sq8_ops vexfs_sq8_avx2;
extern const struct vexfs_sq8_ops vexfs_sq8_avx512;	/* with VNNI */

/* The fastest kernels the VEXFS_CPU_* flags allow. */
const struct vexfs_sq8_ops *vexfs_sq8_select(unsigned int cpu_flags);

/* A query coded for one collection's codes. */
struct vexfs_sq8_query {
	const struct vexfs_sq8_ops *ops;
	const int16_t *code;		/* dim, the caller's buffer */
	uint32_t dim;
	bool l2;			/* the sum is l2(), else dot() */
	float mul, add;			/* estimate = add + mul * sum */
};

/*
 * Code query into code[dim] and describe it in *q. For cosine, query is
 * made a unit vector first (a zero query scores 1 against everything).
 */
void vexfs_sq8_query_init(struct vexfs_sq8_query *q, const struct vexfs_sq8 *p,
			  const struct vexfs_sq8_ops *ops, const float *query,
			  int16_t *code);

/* The estimated distance from the query to a coded vector. */
static inline float vexfs_sq8_estimate(const struct vexfs_sq8_query *q,
				       const uint8_t *code)
{
	if (q->l2)
		return q->add + q->mul * (float)q->ops->l2(q->code, code, q->dim);
	return q->add + q->mul * (float)q->ops->dot(q->code, code, q->dim);
}

/*
 * ==== Between two coded vectors ====
 *
 * For a graph build on codes. With a = lo + step * ca and b likewise,
 *
 *   a . b = sum lo[i]^2 + off(ca) + off(cb) + step^2 * sum ca[i] * cb[i]
 *
 * where off(c) = step * sum lo[i] * c[i] belongs to one code and is
 * computed once (vexfs_sq8_code_offset()).
 */
float vexfs_sq8_code_offset(const struct vexfs_sq8 *p, const uint8_t *code);

/*
 * The metric's distance between the coded vectors a and b (offsets as
 * above; L2 ignores them). Only values below bound matter, as for a list.
 */
float vexfs_sq8_pair_distance(const struct vexfs_sq8 *p,
			      const struct vexfs_sq8_ops *ops,
			      const uint8_t *a, float a_off,
			      const uint8_t *b, float b_off, float bound);

/*
 * The same from one coded vector a to many: out[i] for rows[i] (offset
 * offs[i]), each exactly what vexfs_sq8_pair_distance() gives, with a
 * given as its code widened to 16 bits (a16, values 0 to 255,
 * vexfs_sq8_widen()). A builder that scores one node against a
 * neighbour list widens it once and scores the list with the query
 * kernels in one call, instead of widening both codes of every pair.
 */
void vexfs_sq8_widen(const uint8_t *code, uint32_t dim, int16_t *a16);
void vexfs_sq8_wide_list(const struct vexfs_sq8 *p,
			 const struct vexfs_sq8_ops *ops, const int16_t *a16,
			 float a_off, const uint8_t *const *rows,
			 const float *offs, unsigned int n, float bound,
			 float *out);

#endif /* VEXFS_SQ8_H */
