// SPDX-License-Identifier: GPL-2.0
/*
 * SQ8 (vexfs_sq8.h): training the coding, coding vectors and queries, the
 * plain C integer kernels, and choosing kernels. An FPU unit in the
 * kernel.
 */
#include "sq8_impl.h"

#define SQ8_CODES	255	/* steps between code 0 and code 255 */

static inline bool sq8_finite(float x)
{
	return x - x == 0.0f;
}

static inline bool sq8_integer(float x)
{
	return x == (float)(int64_t)x;
}

/* 1 / |v|, or 0 when v is zero (or not finite). */
static float sq8_inv_norm(const float *v, uint32_t dim)
{
	double sum = 0;
	uint32_t i;

	for (i = 0; i < dim; i++)
		sum += (double)v[i] * v[i];
	if (!(sum > 0) || !sq8_finite((float)sum))
		return 0;
	return (float)(1.0 / __builtin_sqrt(sum));
}

/* Round to nearest and clamp to [min, max]. */
static inline int32_t sq8_round_clamp(float x, int32_t min, int32_t max)
{
	if (!(x > (float)min))	/* NaN too */
		return min;
	if (x >= (float)max)
		return max;
	return (int32_t)(x + (x < 0 ? -0.5f : 0.5f));
}

void vexfs_sq8_train_begin(struct vexfs_sq8_trainer *t, uint32_t dim,
			   uint32_t metric, float *lo, float *hi)
{
	uint32_t i;

	*t = (struct vexfs_sq8_trainer) {
		.dim = dim, .metric = metric, .integral = true, .lo = lo,
		.hi = hi,
	};
	for (i = 0; i < dim; i++) {
		lo[i] = __builtin_inff();
		hi[i] = -__builtin_inff();
	}
}

static void sq8_train_value(struct vexfs_sq8_trainer *t, uint32_t i, float x)
{
	if (!sq8_finite(x))
		return;
	if (x < t->lo[i])
		t->lo[i] = x;
	if (x > t->hi[i])
		t->hi[i] = x;
	if (t->integral && !sq8_integer(x))
		t->integral = false;
}

void vexfs_sq8_train_add(struct vexfs_sq8_trainer *t, const float *v)
{
	float scale = 1.0f;
	uint32_t i;

	if (t->metric == VEXFS_METRIC_COSINE) {
		scale = sq8_inv_norm(v, t->dim);
		if (!scale)
			return;
	}
	t->seen++;
	for (i = 0; i < t->dim; i++)
		sq8_train_value(t, i, v[i] * scale);
}

void vexfs_sq8_train_end(struct vexfs_sq8_trainer *t, struct vexfs_sq8 *p)
{
	float widest = 0;
	uint32_t i;

	for (i = 0; i < t->dim; i++) {
		if (t->lo[i] > t->hi[i]) {	/* nothing finite seen */
			t->lo[i] = 0;
			t->hi[i] = 0;
		}
		if (t->hi[i] - t->lo[i] > widest)
			widest = t->hi[i] - t->lo[i];
	}
	*p = (struct vexfs_sq8) {
		.dim = t->dim, .metric = t->metric,
		.step = widest / SQ8_CODES,
	};
	vexfs_sq8_set_lo(p, t->lo);
	/* Integers whose ranges fit in 255 steps of 1: coded exactly. */
	if (!(p->step > 0) || (t->integral && widest <= SQ8_CODES))
		p->step = 1.0f;
}

static void sq8_swap(float *v, int32_t a, int32_t b)
{
	float x = v[a];

	v[a] = v[b];
	v[b] = x;
}

/*
 * The k-th smallest of v[0..n), v reordered: quickselect with a
 * three-way partition, so runs of equal values (integer data) cost one
 * pass, not one each.
 */
static float sq8_select(float *v, uint32_t n, uint32_t k)
{
	int32_t lo = 0, hi = (int32_t)n - 1, lt, gt, i;
	float pivot;

	while (lo < hi) {
		pivot = v[lo + (hi - lo) / 2];
		lt = lo;	/* v[lo, lt) < pivot <= v[lt, i) ... */
		i = lo;
		gt = hi;	/* ... v(gt, hi] > pivot */
		while (i <= gt) {
			if (v[i] < pivot)
				sq8_swap(v, lt++, i++);
			else if (v[i] > pivot)
				sq8_swap(v, i, gt--);
			else
				i++;
		}
		if ((int32_t)k < lt)
			hi = lt - 1;
		else if ((int32_t)k > gt)
			lo = gt + 1;
		else
			return v[k];
	}
	return v[k];
}

/*
 * Dimension d's interquartile range over the sample, in steps; a cosine
 * collection's values are those of the unit vectors (scale[i] each).
 */
static float sq8_iqr_levels(const struct vexfs_sq8 *p,
			    const float *const *sample, const float *scale,
			    uint32_t n, float *values, uint32_t d)
{
	float q1, q3;
	uint32_t i;

	for (i = 0; i < n; i++)
		values[i] = sample[i][d] * scale[i];
	q1 = sq8_select(values, n, n / 4);
	q3 = sq8_select(values, n, n - 1 - n / 4);
	return (q3 - q1) / p->step;
}

bool vexfs_sq8_fine(const struct vexfs_sq8_trainer *t,
		    const struct vexfs_sq8 *p, const float *const *sample,
		    uint32_t n, float *scratch)
{
	float *scale = scratch + n;
	uint32_t varying = 0, coarse = 0, i, d;

	if (t->integral && p->step == 1.0f)
		return true;
	for (i = 0; i < n; i++)
		scale[i] = t->metric == VEXFS_METRIC_COSINE ?
			   sq8_inv_norm(sample[i], t->dim) : 1.0f;
	for (d = 0; d < t->dim; d++) {
		if (!(t->hi[d] > t->lo[d]))
			continue;	/* one value: coded exactly */
		varying++;
		if (!n || !(sq8_iqr_levels(p, sample, scale, n, scratch, d) >=
			    VEXFS_SQ8_FINE_LEVELS))
			coarse++;
	}
	return 2 * coarse <= varying;
}

void vexfs_sq8_set_lo(struct vexfs_sq8 *p, const float *lo)
{
	double sum = 0;
	uint32_t i;

	for (i = 0; i < p->dim; i++)
		sum += (double)lo[i] * lo[i];
	p->lo = lo;
	p->lo_sq = (float)sum;
}

void vexfs_sq8_encode(const struct vexfs_sq8 *p, const float *v,
		      uint8_t *code)
{
	float inv = 1.0f / p->step, scale = 1.0f;
	uint32_t i;

	if (p->metric == VEXFS_METRIC_COSINE)
		scale = sq8_inv_norm(v, p->dim);
	for (i = 0; i < p->dim; i++)
		code[i] = (uint8_t)sq8_round_clamp((v[i] * scale - p->lo[i]) * inv,
						   0, SQ8_CODES);
}

/* ==== Queries ==== */

static void sq8_query_l2(struct vexfs_sq8_query *q, const struct vexfs_sq8 *p,
			 const float *query, int16_t *code)
{
	float inv = 1.0f / p->step;
	uint32_t i;

	for (i = 0; i < p->dim; i++)
		code[i] = (int16_t)sq8_round_clamp((query[i] - p->lo[i]) * inv,
						   VEXFS_SQ8_L2_MIN,
						   VEXFS_SQ8_L2_MAX);
	q->l2 = true;
	q->mul = p->step * p->step;
	q->add = 0;
}

/* dot ~= bias + step * qstep * sum code[i] * c[i]; returns bias. */
static float sq8_query_dot(struct vexfs_sq8_query *q,
			   const struct vexfs_sq8 *p, const float *query,
			   int16_t *code)
{
	float biggest = 0, qstep, inv;
	double bias = 0;
	uint32_t i;

	for (i = 0; i < p->dim; i++) {
		float m = query[i] < 0 ? -query[i] : query[i];

		if (m > biggest)
			biggest = m;
		bias += (double)query[i] * p->lo[i];
	}
	qstep = biggest > 0 && sq8_finite(biggest) ?
		biggest / VEXFS_SQ8_IP_MAX : 1.0f;
	inv = 1.0f / qstep;
	for (i = 0; i < p->dim; i++)
		code[i] = (int16_t)sq8_round_clamp(query[i] * inv,
						   -VEXFS_SQ8_IP_MAX,
						   VEXFS_SQ8_IP_MAX);
	q->l2 = false;
	q->mul = -p->step * qstep;
	return (float)bias;
}

void vexfs_sq8_query_init(struct vexfs_sq8_query *q, const struct vexfs_sq8 *p,
			  const struct vexfs_sq8_ops *ops, const float *query,
			  int16_t *code)
{
	float bias, inv;

	*q = (struct vexfs_sq8_query) { .ops = ops, .code = code,
					.dim = p->dim };
	if (p->metric == VEXFS_METRIC_L2) {
		sq8_query_l2(q, p, query, code);
		return;
	}
	bias = sq8_query_dot(q, p, query, code);
	if (p->metric != VEXFS_METRIC_COSINE) {
		q->add = -bias;		/* IP: distance = -dot */
		return;
	}
	/*
	 * The codes do not depend on the query's length; the unit query's
	 * dot is the raw one over |query|. A zero query scores 1 everywhere.
	 */
	inv = sq8_inv_norm(query, p->dim);
	q->add = 1.0f - inv * bias;
	q->mul *= inv;
}

/* ==== Between two codes ==== */

float vexfs_sq8_code_offset(const struct vexfs_sq8 *p, const uint8_t *code)
{
	double sum = 0;
	uint32_t i;

	for (i = 0; i < p->dim; i++)
		sum += (double)p->lo[i] * code[i];
	return (float)(sum * p->step);
}

/* The metric's distance from the dot product's sum of code products. */
static float sq8_pair_dot(const struct vexfs_sq8 *p, float a_off, float b_off,
			  uint32_t products)
{
	float dot = p->lo_sq + a_off + b_off +
		    p->step * p->step * (float)products;

	return p->metric == VEXFS_METRIC_COSINE ? 1.0f - dot : -dot;
}

float vexfs_sq8_pair_distance(const struct vexfs_sq8 *p,
			      const struct vexfs_sq8_ops *ops,
			      const uint8_t *a, float a_off,
			      const uint8_t *b, float b_off, float bound)
{
	struct vexfs_sq8_query l2 = { .mul = p->step * p->step };
	uint32_t limit;

	if (p->metric != VEXFS_METRIC_L2)
		return sq8_pair_dot(p, a_off, b_off,
				    ops->dot_codes(a, b, p->dim));
	/* No sum of 128 dimensions or fewer stops before its end. */
	limit = p->dim > 128 ? sq8_l2_limit(&l2, bound) : 0xffffffffu;
	return sq8_l2_estimate(&l2, ops->l2_codes(a, b, p->dim, limit),
			       limit, bound);
}

void vexfs_sq8_widen(const uint8_t *code, uint32_t dim, int16_t *a16)
{
	uint32_t i;

	for (i = 0; i < dim; i++)
		a16[i] = code[i];
}

void vexfs_sq8_wide_list(const struct vexfs_sq8 *p,
			 const struct vexfs_sq8_ops *ops, const int16_t *a16,
			 float a_off, const uint8_t *const *rows,
			 const float *offs, unsigned int n, float bound,
			 float *out)
{
	/* A widened code is within the L2 query bounds: the list scores it. */
	struct vexfs_sq8_query l2 = {
		.ops = ops, .code = a16, .dim = p->dim, .l2 = true,
		.mul = p->step * p->step,
	};
	unsigned int i;

	if (p->metric == VEXFS_METRIC_L2) {
		ops->list(&l2, rows, n, bound, out);
		return;
	}
	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			sq8_prefetch_row(rows[i + 1], p->dim);
		out[i] = sq8_pair_dot(p, a_off, offs[i],
				      (uint32_t)ops->dot(a16, rows[i], p->dim));
	}
}

/* ==== Plain C kernels ==== */

/* With a limit, the sum may stop at a multiple of 128 dimensions. */
static __always_inline uint32_t scalar_l2_upto(const void *a, bool a_code,
					       const uint8_t *c,
					       unsigned int dim, uint32_t limit)
{
	uint32_t sum = 0;
	unsigned int i;

	for (i = 0; i < dim; i++) {
		int32_t d = sq8_value(a, a_code, i) - c[i];

		sum += (uint32_t)(d * d);
		if ((i & 127) == 127 && sum >= limit)
			break;
	}
	return sum;
}

static __always_inline int32_t scalar_dot(const void *a, bool a_code,
					  const uint8_t *c, unsigned int dim)
{
	int32_t sum = 0;
	unsigned int i;

	for (i = 0; i < dim; i++)
		sum += sq8_value(a, a_code, i) * c[i];
	return sum;
}

SQ8_OPS(vexfs_sq8_scalar, "scalar", scalar_l2_upto, scalar_dot);

#define SQ8_CPU_AVX2	(VEXFS_CPU_AVX | VEXFS_CPU_AVX2)
#define SQ8_CPU_AVX512	(VEXFS_CPU_AVX512 | VEXFS_CPU_AVX512VNNI)

const struct vexfs_sq8_ops *vexfs_sq8_select(unsigned int cpu_flags)
{
	if ((cpu_flags & SQ8_CPU_AVX512) == SQ8_CPU_AVX512)
		return &vexfs_sq8_avx512;
	if ((cpu_flags & SQ8_CPU_AVX2) == SQ8_CPU_AVX2)
		return &vexfs_sq8_avx2;
	return &vexfs_sq8_scalar;
}
