// SPDX-License-Identifier: GPL-2.0
/*
 * Checking a serialized HNSW graph before anyone follows an index in it,
 * and preparing the memory of a search.
 *
 * The buffer may come from a user (the publish ioctl) or from a disk that
 * lies, so every number is checked before it is used, in an order where
 * each check only reads what an earlier one proved to be inside the
 * buffer: the header first, then the section geometry against the header
 * and the buffer length, then the node table, then each link record. All
 * sizes are computed in 64 bits from 32-bit inputs, so nothing overflows.
 * A graph that passes cannot send a search outside the buffer: every link
 * names an existing node that lives on the link's level.
 *
 * No floating point anywhere in this file: in the kernel it is an ordinary
 * unit, callable outside kernel_fpu_begin()/kernel_fpu_end().
 */
#include "hnsw.h"

/* ==== Errors ==== */

/* Record the first problem and return its error code. */
static int hnsw_bad(const char **why, int err, const char *what)
{
	if (why)
		*why = what;
	return err;
}

#define HNSW_INVALID(what)	hnsw_bad(why, -EINVAL, what)
#define HNSW_UNCLEAN(what)	hnsw_bad(why, -EUCLEAN, what)

/* ==== Geometry ==== */

static uint64_t hnsw_pages_bytes(uint64_t records, uint32_t per_page)
{
	return (records + per_page - 1) / per_page * VEXFS_HNSW_PAGE_SIZE;
}

static bool hnsw_all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * The header alone: identity, parameters and the fields that must be
 * zero. Reads only the first VEXFS_HNSW_HEADER_SIZE bytes.
 */
static int hnsw_check_header(const struct vexfs_hnsw_header *h,
			     const char **why)
{
	uint32_t m, m0;

	if (vexfs_hnsw_le32(h->h_magic) != VEXFS_HNSW_MAGIC)
		return HNSW_INVALID("bad magic");
	if (vexfs_hnsw_le32(h->h_version) != VEXFS_HNSW_VERSION)
		return HNSW_INVALID("unknown version");
	if (vexfs_hnsw_le32(h->h_header_size) != VEXFS_HNSW_HEADER_SIZE)
		return HNSW_INVALID("unknown header size");
	if (vexfs_hnsw_le32(h->h_incompat) & ~VEXFS_HNSW_INCOMPAT_SUPP)
		return HNSW_INVALID("unknown incompatible feature");
	if (h->h_reserved0 || !hnsw_all_zero(h->h_reserved,
					     sizeof(h->h_reserved)))
		return HNSW_UNCLEAN("reserved header bytes not zero");

	m = vexfs_hnsw_le16(h->h_m);
	m0 = vexfs_hnsw_le16(h->h_m0);
	if (vexfs_hnsw_le32(h->h_dim) == 0 ||
	    vexfs_hnsw_le32(h->h_dim) > VEXFS_HNSW_MAX_DIM)
		return HNSW_UNCLEAN("dimension out of range");
	if (!vexfs_metric_valid(vexfs_hnsw_le16(h->h_metric)))
		return HNSW_UNCLEAN("unknown metric");
	if (m < VEXFS_HNSW_MIN_M || m > VEXFS_HNSW_MAX_M || m0 != 2 * m)
		return HNSW_UNCLEAN("bad M or M0");
	if (vexfs_hnsw_le16(h->h_max_level) > VEXFS_HNSW_MAX_LEVEL)
		return HNSW_UNCLEAN("max level out of range");
	if (vexfs_hnsw_le32(h->h_node_count) == VEXFS_HNSW_NO_NODE)
		return HNSW_UNCLEAN("too many nodes");
	if (vexfs_hnsw_le32(h->h_level0_rec_size) != VEXFS_HNSW_REC_SIZE(m0) ||
	    vexfs_hnsw_le32(h->h_upper_rec_size) != VEXFS_HNSW_REC_SIZE(m) ||
	    vexfs_hnsw_le32(h->h_level0_per_page) !=
		    VEXFS_HNSW_PAGE_SIZE / VEXFS_HNSW_REC_SIZE(m0) ||
	    vexfs_hnsw_le32(h->h_upper_per_page) !=
		    VEXFS_HNSW_PAGE_SIZE / VEXFS_HNSW_REC_SIZE(m))
		return HNSW_UNCLEAN("bad record geometry");
	return 0;
}

/* Copy the header's numbers into the view. */
static void hnsw_decode_header(const struct vexfs_hnsw_header *h,
			       struct vexfs_hnsw_graph *g)
{
	g->hdr = h;
	g->dim = vexfs_hnsw_le32(h->h_dim);
	g->metric = vexfs_hnsw_le16(h->h_metric);
	g->m = vexfs_hnsw_le16(h->h_m);
	g->m0 = vexfs_hnsw_le16(h->h_m0);
	g->max_level = vexfs_hnsw_le16(h->h_max_level);
	g->entry = vexfs_hnsw_le32(h->h_entry);
	g->node_count = vexfs_hnsw_le32(h->h_node_count);
	g->upper_count = vexfs_hnsw_le32(h->h_upper_count);
	g->level0_rec = vexfs_hnsw_le32(h->h_level0_rec_size);
	g->level0_per_page = vexfs_hnsw_le32(h->h_level0_per_page);
	g->upper_rec = vexfs_hnsw_le32(h->h_upper_rec_size);
	g->upper_per_page = vexfs_hnsw_le32(h->h_upper_per_page);
	g->size = vexfs_hnsw_le64(h->h_total_size);
}

/*
 * Sections in their one valid place: node table from page 1, the level-0
 * records after it, the upper records after those, the sizes the counts
 * imply, and all of it within len.
 */
static int hnsw_check_sections(const struct vexfs_hnsw_header *h,
			       const struct vexfs_hnsw_graph *g, size_t len,
			       const char **why)
{
	uint64_t node_bytes = hnsw_pages_bytes(g->node_count,
					       VEXFS_HNSW_NODES_PER_PAGE);
	uint64_t level0_bytes = hnsw_pages_bytes(g->node_count,
						 g->level0_per_page);
	uint64_t upper_bytes = hnsw_pages_bytes(g->upper_count,
						g->upper_per_page);
	uint64_t node_off = VEXFS_HNSW_PAGE_SIZE;
	uint64_t level0_off = node_off + node_bytes;
	uint64_t upper_off = level0_off + level0_bytes;
	uint64_t total = upper_off + upper_bytes;

	if (vexfs_hnsw_le64(h->h_node_off) != node_off ||
	    vexfs_hnsw_le64(h->h_node_bytes) != node_bytes ||
	    vexfs_hnsw_le64(h->h_level0_off) != level0_off ||
	    vexfs_hnsw_le64(h->h_level0_bytes) != level0_bytes ||
	    vexfs_hnsw_le64(h->h_upper_off) != upper_off ||
	    vexfs_hnsw_le64(h->h_upper_bytes) != upper_bytes ||
	    g->size != total)
		return HNSW_UNCLEAN("sections out of place");
	if (total > (uint64_t)len)
		return HNSW_INVALID("graph longer than the buffer");
	/* Bytes past the graph would be memory kept for nothing. */
	if (total < (uint64_t)len)
		return HNSW_INVALID("bytes after the graph");
	return 0;
}

/* ==== Nodes ==== */

/*
 * Each node: slots strictly increasing and below max_slots, level in
 * range, upper records allotted in node order; then the entry point.
 */
static int hnsw_check_nodes(const struct vexfs_hnsw_graph *g,
			    uint32_t max_slots, const char **why)
{
	uint64_t upper = 0;
	uint32_t i;

	for (i = 0; i < g->node_count; i++) {
		const struct vexfs_hnsw_node *n = &g->nodes[i];
		uint32_t slot = vexfs_hnsw_le32(n->n_slot);

		if (slot >= max_slots || slot == VEXFS_HNSW_NO_NODE)
			return HNSW_UNCLEAN("slot out of range");
		if (i && slot <= vexfs_hnsw_le32(n[-1].n_slot))
			return HNSW_UNCLEAN("slots not increasing");
		if (vexfs_hnsw_le16(n->n_level) > g->max_level)
			return HNSW_UNCLEAN("node above the max level");
		if (n->n_flags || n->n_reserved)
			return HNSW_UNCLEAN("node flags not zero");
		if (vexfs_hnsw_le32(n->n_upper) != upper)
			return HNSW_UNCLEAN("upper records out of order");
		upper += vexfs_hnsw_le16(n->n_level);
	}
	if (upper != g->upper_count)
		return HNSW_UNCLEAN("upper record count");

	if (g->node_count == 0)
		return g->entry == VEXFS_HNSW_NO_NODE && g->max_level == 0 ?
			0 : HNSW_UNCLEAN("entry point in an empty graph");
	if (g->entry >= g->node_count)
		return HNSW_UNCLEAN("entry point out of range");
	if (vexfs_hnsw_level(g, g->entry) != g->max_level)
		return HNSW_UNCLEAN("entry point below the max level");
	return 0;
}

/* ==== Links ==== */

/*
 * One record: count within capacity, every link to a node that lives on
 * this level, the unused tail zero.
 */
static int hnsw_check_record(const struct vexfs_hnsw_graph *g,
			     const struct vexfs_hnsw_links *r, uint32_t cap,
			     uint32_t level, const char **why)
{
	uint32_t count = vexfs_hnsw_le32(r->l_count);
	uint32_t i;

	if (count > cap)
		return HNSW_UNCLEAN("link count above capacity");
	for (i = 0; i < count; i++) {
		uint32_t id = vexfs_hnsw_le32(r->l_ids[i]);

		if (id >= g->node_count)
			return HNSW_UNCLEAN("link to a node out of range");
		if (level && vexfs_hnsw_level(g, id) < level)
			return HNSW_UNCLEAN("link to a node below its level");
	}
	for (; i < cap; i++)
		if (r->l_ids[i])
			return HNSW_UNCLEAN("unused link not zero");
	return 0;
}

/* The bytes after the last record of each page of a section are zero. */
static int hnsw_check_padding(const uint8_t *section, uint64_t records,
			      uint32_t rec_size, uint32_t per_page,
			      const char **why)
{
	uint64_t pages = (records + per_page - 1) / per_page;
	uint64_t p;

	for (p = 0; p < pages; p++) {
		uint64_t in_page = records - p * per_page;
		size_t used;

		if (in_page > per_page)
			in_page = per_page;
		used = (size_t)in_page * rec_size;
		if (!hnsw_all_zero(section + p * VEXFS_HNSW_PAGE_SIZE + used,
				   VEXFS_HNSW_PAGE_SIZE - used))
			return HNSW_UNCLEAN("page padding not zero");
	}
	return 0;
}

static int hnsw_check_links(const struct vexfs_hnsw_graph *g,
			    const char **why)
{
	uint32_t i, l;
	int err;

	for (i = 0; i < g->node_count; i++) {
		uint32_t level = vexfs_hnsw_level(g, i);

		err = hnsw_check_record(g, vexfs_hnsw_links0(g, i), g->m0, 0,
					why);
		for (l = 1; !err && l <= level; l++)
			err = hnsw_check_record(g, vexfs_hnsw_links_upper(g, i, l),
						g->m, l, why);
		if (err)
			return err;
	}
	err = hnsw_check_padding((const uint8_t *)g->nodes, g->node_count,
				 sizeof(struct vexfs_hnsw_node),
				 VEXFS_HNSW_NODES_PER_PAGE, why);
	if (!err)
		err = hnsw_check_padding(g->level0, g->node_count,
					 g->level0_rec, g->level0_per_page, why);
	if (!err)
		err = hnsw_check_padding(g->upper, g->upper_count,
					 g->upper_rec, g->upper_per_page, why);
	return err;
}

/* ==== Loading ==== */

int vexfs_hnsw_load(const void *buf, size_t len, uint32_t max_slots,
		    struct vexfs_hnsw_graph *g, const char **why)
{
	const struct vexfs_hnsw_header *h = buf;
	const uint8_t *base = buf;
	int err;

	vexfs_hnsw_check_layout();
	memset(g, 0, sizeof(*g));
	if (!buf || ((uintptr_t)buf & 7))
		return HNSW_INVALID("buffer not 8-byte aligned");
	if (len < VEXFS_HNSW_PAGE_SIZE)
		return HNSW_INVALID("buffer shorter than the header page");
	err = hnsw_check_header(h, why);
	if (err)
		return err;
	if (!hnsw_all_zero(base + VEXFS_HNSW_HEADER_SIZE,
			   VEXFS_HNSW_PAGE_SIZE - VEXFS_HNSW_HEADER_SIZE))
		return HNSW_UNCLEAN("header page padding not zero");

	hnsw_decode_header(h, g);
	err = hnsw_check_sections(h, g, len, why);
	if (err)
		goto fail;
	g->nodes = (const struct vexfs_hnsw_node *)
		(base + vexfs_hnsw_le64(h->h_node_off));
	g->level0 = base + vexfs_hnsw_le64(h->h_level0_off);
	g->upper = base + vexfs_hnsw_le64(h->h_upper_off);

	err = hnsw_check_nodes(g, max_slots, why);
	if (!err)
		err = hnsw_check_links(g, why);
	if (!err)
		return 0;
fail:
	memset(g, 0, sizeof(*g));
	return err;
}

/* ==== Reachability ==== */

static bool hnsw_test_and_set(uint64_t *bits, uint32_t n)
{
	uint64_t mask = (uint64_t)1 << (n % 64);
	bool was = bits[n / 64] & mask;

	bits[n / 64] |= mask;
	return was;
}

uint32_t vexfs_hnsw_reachable(const struct vexfs_hnsw_graph *g,
			      uint64_t *seen, uint32_t *queue)
{
	uint32_t head = 0, tail = 0, n, l, i;

	if (g->node_count == 0)
		return 0;
	hnsw_test_and_set(seen, g->entry);
	queue[tail++] = g->entry;
	while (head < tail) {
		n = queue[head++];
		for (l = 0; l <= vexfs_hnsw_level(g, n); l++) {
			const struct vexfs_hnsw_links *r = vexfs_hnsw_links(g, n, l);
			uint32_t count = vexfs_hnsw_le32(r->l_count);

			for (i = 0; i < count; i++) {
				uint32_t id = vexfs_hnsw_le32(r->l_ids[i]);

				if (!hnsw_test_and_set(seen, id))
					queue[tail++] = id;
			}
		}
	}
	return tail;
}

/* ==== Search scratch ==== */

/*
 * Candidates a search may hold before the farthest are dropped: room for
 * several full neighbour lists beyond the beam.
 */
static uint64_t hnsw_cand_cap(uint32_t ef_max, uint32_t m0)
{
	return 2 * (uint64_t)ef_max + 4 * (uint64_t)m0;
}

static uint64_t hnsw_align8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

/* Bytes of each array, in the order they are carved. */
static void hnsw_scratch_parts(uint32_t nodes, uint32_t ef_max, uint32_t m0,
			       uint64_t part[6])
{
	part[0] = hnsw_align8((uint64_t)nodes * sizeof(uint32_t));
	part[1] = hnsw_cand_cap(ef_max, m0) * sizeof(struct vexfs_hnsw_cand);
	part[2] = (uint64_t)ef_max * sizeof(struct vexfs_hnsw_cand);
	part[3] = hnsw_align8((uint64_t)m0 * sizeof(uint32_t));
	part[4] = (uint64_t)m0 * sizeof(const float *);
	part[5] = hnsw_align8((uint64_t)m0 * sizeof(float));
}

size_t vexfs_hnsw_scratch_size(const struct vexfs_hnsw_graph *g,
			       uint32_t ef_max)
{
	uint64_t part[6], total = 0;
	int i;

	if (ef_max == 0)
		ef_max = 1;
	if (hnsw_cand_cap(ef_max, g->m0) > 0xffffffffu)
		return 0;
	hnsw_scratch_parts(g->node_count, ef_max, g->m0, part);
	for (i = 0; i < 6; i++)
		total += part[i];
	if (total != (size_t)total)
		return 0;
	return (size_t)total;
}

int vexfs_hnsw_scratch_init(struct vexfs_hnsw_scratch *s, void *mem,
			    size_t size, const struct vexfs_hnsw_graph *g,
			    uint32_t ef_max)
{
	uint64_t part[6];
	uint8_t *p = mem;
	size_t need;

	if (ef_max == 0)
		ef_max = 1;
	need = vexfs_hnsw_scratch_size(g, ef_max);
	if (!mem || ((uintptr_t)mem & 7) || need == 0 || size < need)
		return -EINVAL;
	hnsw_scratch_parts(g->node_count, ef_max, g->m0, part);

	memset(s, 0, sizeof(*s));
	s->visited = (uint32_t *)p;
	s->cand = (struct vexfs_hnsw_cand *)(p += part[0]);
	s->res = (struct vexfs_hnsw_cand *)(p += part[1]);
	s->batch_node = (uint32_t *)(p += part[2]);
	s->batch_vec = (const float **)(p += part[3]);
	s->batch_dist = (float *)(p += part[4]);
	s->node_cap = g->node_count;
	s->cand_cap = (uint32_t)hnsw_cand_cap(ef_max, g->m0);
	s->ef_max = ef_max;
	s->batch_cap = g->m0;
	memset(s->visited, 0, part[0]);
	return 0;
}
