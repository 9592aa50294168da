// SPDX-License-Identifier: GPL-2.0
/*
 * What a published graph's walk scores, made when the index is installed.
 *
 * The vectors live in the table's blocks, which the kernel may reclaim; a
 * walk scores hundreds of nodes per query, too many to read each from the
 * table. So the index keeps SQ8 codes of the slots it covers (lib/sq8.c:
 * a byte per dimension, a quarter of the floats), trained here on those
 * vectors; the walk runs on the codes, and search re-ranks the ef best it
 * finds with their exact distances, read from the table (search.c).
 *
 * Codes serve only where they resolve the data (vexfs_sq8_fine(), the rule
 * the indexer builds by): a few far outliers can leave the bulk of the
 * vectors a level or two, and a walk on such codes finds a fraction of the
 * true neighbours. There the index keeps a float copy of the covered
 * vectors instead, as before codes: more memory, the same answers.
 *
 * Both are read from the table in chunks of records; the training and the
 * coding run in FPU sections, one per chunk, the reads between them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include "vexfs.h"
#include "collection.h"
#include "search_fpu.h"

/* At most this much of the sample vexfs_sq8_fine() judges, in bytes. */
#define VEXFS_WALK_SAMPLE_BYTES	(4 << 20)
/* Bytes of records read per FPU section. */
#define VEXFS_WALK_CHUNK	(64 * 1024)

struct vexfs_walk_prep {
	struct vexfs_collection *c;
	struct vexfs_index *idx;
	void *recs;			/* a chunk of records */
	u32 per_chunk;
	struct vexfs_sq8_trainer t;
	float *hi;
	/* The sample: n vectors, at covered slots spread evenly. */
	u32 *sample;
	const float **sample_ptr;
	float *scratch;
	u32 nsample, taken;
	u64 covered, seen;
};

static const float *vexfs_rec_vector(const struct vexfs_walk_prep *w, u32 i)
{
	return w->recs + (size_t)i * w->c->rec_size + sizeof(struct vexfs_vrec);
}

/*
 * Call fn on every slot the graph covers (live: every live slot below
 * nbits), a chunk of records at a time, each chunk in one FPU section.
 */
static int vexfs_walk_each(struct vexfs_walk_prep *w, bool live,
			   void (*fn)(struct vexfs_walk_prep *w, u64 slot,
				      const float *v))
{
	struct vexfs_index *idx = w->idx;
	u64 first, slot;
	int err;

	for (first = 0; first < idx->nbits; first += w->per_chunk) {
		u32 n = min_t(u64, w->per_chunk, idx->nbits - first);

		err = vexfs_read_records(w->c, first, n, w->recs);
		if (err)
			return err;
		vexfs_fpu_begin();
		for (slot = first; slot < first + n; slot++)
			if (live ? w->c->slots[slot].ino != 0 :
				   test_bit(slot, idx->in_graph))
				fn(w, slot, vexfs_rec_vector(w, slot - first));
		vexfs_fpu_end();
		cond_resched();
	}
	return 0;
}

/* Pass one: the ranges, and the sample vexfs_sq8_fine() judges. */
static void vexfs_walk_train(struct vexfs_walk_prep *w, u64 slot,
			     const float *v)
{
	u32 dim = w->c->dim;

	vexfs_sq8_train_add(&w->t, v);
	if (w->taken < w->nsample &&
	    w->seen == div64_u64((u64)w->taken * w->covered, w->nsample)) {
		memcpy(w->sample + (size_t)w->taken * dim, v, dim * sizeof(u32));
		w->taken++;
	}
	w->seen++;
}

/*
 * Pass two: each live slot's code. The walk passes through the nodes of
 * slots changed since the build, and is steered better by their present
 * vectors than by none.
 */
static void vexfs_walk_encode(struct vexfs_walk_prep *w, u64 slot,
			      const float *v)
{
	vexfs_sq8_encode(&w->idx->sq8, v,
			 w->idx->codes + (size_t)slot * w->c->dim);
}

static int vexfs_walk_alloc(struct vexfs_walk_prep *w)
{
	u32 dim = w->c->dim, i;

	w->covered = bitmap_weight(w->idx->in_graph, w->idx->nbits);
	w->nsample = min3((u64)VEXFS_SQ8_FINE_SAMPLE, w->covered,
			  (u64)VEXFS_WALK_SAMPLE_BYTES / (dim * sizeof(u32)));
	w->per_chunk = max_t(u32, 1, VEXFS_WALK_CHUNK / w->c->rec_size);
	w->recs = kvmalloc_array(w->per_chunk, w->c->rec_size,
				 VEXFS_GFP_USER_SIZED);
	w->idx->sq8_lo = kmalloc_array(dim, sizeof(float), VEXFS_GFP_USER_SIZED);
	w->hi = kmalloc_array(dim, sizeof(float), VEXFS_GFP_USER_SIZED);
	w->sample = kvmalloc_array((size_t)w->nsample * dim ?: 1, sizeof(u32),
				   VEXFS_GFP_USER_SIZED);
	w->sample_ptr = kvmalloc_array(w->nsample ?: 1, sizeof(*w->sample_ptr),
				       VEXFS_GFP_USER_SIZED);
	w->scratch = kvmalloc_array(2 * w->nsample ?: 1, sizeof(float),
				    VEXFS_GFP_USER_SIZED);
	if (!w->recs || !w->idx->sq8_lo || !w->hi || !w->sample ||
	    !w->sample_ptr || !w->scratch)
		return -ENOMEM;
	for (i = 0; i < w->nsample; i++)
		w->sample_ptr[i] = (const float *)(w->sample + (size_t)i * dim);
	return 0;
}

static void vexfs_walk_free(struct vexfs_walk_prep *w)
{
	kvfree(w->recs);
	kfree(w->hi);
	kvfree(w->sample);
	kvfree(w->sample_ptr);
	kvfree(w->scratch);
}

/*
 * Train a coding on the covered vectors; if it resolves them, code them.
 * -EDOM when it does not: the caller keeps floats instead.
 */
static int vexfs_index_code(struct vexfs_collection *c,
			    struct vexfs_index *idx)
{
	struct vexfs_walk_prep w = { .c = c, .idx = idx };
	bool fine;
	int err;

	err = vexfs_walk_alloc(&w);
	if (err)
		goto out;
	vexfs_fpu_begin();
	vexfs_sq8_train_begin(&w.t, c->dim, c->metric, idx->sq8_lo, w.hi);
	vexfs_fpu_end();
	err = vexfs_walk_each(&w, false, vexfs_walk_train);
	if (err)
		goto out;
	vexfs_fpu_begin();
	vexfs_sq8_train_end(&w.t, &idx->sq8);
	fine = !w.covered || vexfs_sq8_fine(&w.t, &idx->sq8, w.sample_ptr,
					    w.taken, w.scratch);
	vexfs_fpu_end();
	err = -EDOM;
	if (!fine)
		goto out;
	err = -ENOMEM;
	idx->codes = kvzalloc(idx->nbits * c->dim ?: 1, VEXFS_GFP_USER_SIZED);
	if (!idx->codes)
		goto out;
	err = vexfs_walk_each(&w, true, vexfs_walk_encode);
out:
	vexfs_walk_free(&w);
	if (err) {
		kvfree(idx->codes);
		idx->codes = NULL;
		kfree(idx->sq8_lo);
		idx->sq8_lo = NULL;
	}
	return err;
}

/* The float copy, where codes do not serve. */
static int vexfs_index_copy_vectors(struct vexfs_collection *c,
				    struct vexfs_index *idx)
{
	idx->vectors = kvmalloc_array(idx->nbits * c->dim ?: 1, sizeof(u32),
				      VEXFS_GFP_USER_SIZED);
	if (!idx->vectors)
		return -ENOMEM;
	return idx->nbits ? vexfs_read_vectors(c, 0, idx->nbits, idx->vectors) : 0;
}

/*
 * Give idx what its walk scores: codes, or floats where codes cannot
 * resolve the vectors. The caller holds c->rwsem, or has c to itself.
 */
int vexfs_index_prepare_walk(struct vexfs_collection *c,
			     struct vexfs_index *idx)
{
	int err = vexfs_index_code(c, idx);

	if (err != -EDOM)
		return err;
	pr_info_ratelimited("collection %lu: its vectors are too spread for codes; the index keeps floats\n",
			    c->dir->i_ino);
	return vexfs_index_copy_vectors(c, idx);
}
