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

/* A float32, by its bits: finite (no floating point here). */
static bool hnsw_finite_bits(uint32_t bits)
{
	return (bits & 0x7f800000u) != 0x7f800000u;
}

/*
 * The SQ8 fields: a positive finite step and one page's worth of codes
 * per page with the feature, all zero without it. The section offsets are
 * checked with the others.
 */
static int hnsw_check_sq8_header(const struct vexfs_hnsw_header *h,
				 const char **why)
{
	uint32_t step = vexfs_hnsw_le32(h->h_sq8_step);
	uint32_t dim = vexfs_hnsw_le32(h->h_dim);

	if (!(vexfs_hnsw_le32(h->h_incompat) & VEXFS_HNSW_INCOMPAT_SQ8)) {
		if (step || h->h_codes_per_page || h->h_sq8_off ||
		    h->h_sq8_bytes || h->h_codes_off || h->h_codes_bytes)
			return HNSW_UNCLEAN("SQ8 fields without the feature");
		return 0;
	}
	if (!step || (step & 0x80000000u) || !hnsw_finite_bits(step))
		return HNSW_UNCLEAN("SQ8 step not a positive number");
	if (vexfs_hnsw_le32(h->h_codes_per_page) != VEXFS_HNSW_PAGE_SIZE / dim)
		return HNSW_UNCLEAN("bad code geometry");
	return 0;
}

/*
 * The header alone: identity, parameters and the fields that must be
 * zero. Reads only the first VEXFS_HNSW_HEADER_SIZE bytes.
 */
static int hnsw_check_header(const struct vexfs_hnsw_header *h,
			     const char **why)
{
	uint32_t m, m0;
	int err;

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
	err = hnsw_check_sq8_header(h, why);
	if (err)
		return err;
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
	g->codes_per_page = vexfs_hnsw_le32(h->h_codes_per_page);
	g->sq8_step_bits = vexfs_hnsw_le32(h->h_sq8_step);
	g->size = vexfs_hnsw_le64(h->h_total_size);
}

/*
 * Sections in their one valid place: node table from page 1, the level-0
 * records after it, the upper records after those, then lo[] and the
 * codes when the graph carries codes, the sizes the counts imply, and all
 * of it exactly len bytes. Sets the first page of each.
 */
static int hnsw_check_sections(const struct vexfs_hnsw_header *h,
			       struct vexfs_hnsw_graph *g, uint64_t len,
			       const char **why)
{
	bool sq8 = g->codes_per_page;
	uint64_t node_bytes = hnsw_pages_bytes(g->node_count,
					       VEXFS_HNSW_NODES_PER_PAGE);
	uint64_t level0_bytes = hnsw_pages_bytes(g->node_count,
						 g->level0_per_page);
	uint64_t upper_bytes = hnsw_pages_bytes(g->upper_count,
						g->upper_per_page);
	uint64_t sq8_bytes = sq8 ? hnsw_pages_bytes(g->dim, VEXFS_HNSW_PAGE_SIZE / 4) : 0;
	uint64_t codes_bytes = sq8 ? hnsw_pages_bytes(g->node_count,
						      g->codes_per_page) : 0;
	uint64_t node_off = VEXFS_HNSW_PAGE_SIZE;
	uint64_t level0_off = node_off + node_bytes;
	uint64_t upper_off = level0_off + level0_bytes;
	uint64_t sq8_off = upper_off + upper_bytes;
	uint64_t codes_off = sq8_off + sq8_bytes;
	uint64_t total = codes_off + codes_bytes;

	if (vexfs_hnsw_le64(h->h_node_off) != node_off ||
	    vexfs_hnsw_le64(h->h_node_bytes) != node_bytes ||
	    vexfs_hnsw_le64(h->h_level0_off) != level0_off ||
	    vexfs_hnsw_le64(h->h_level0_bytes) != level0_bytes ||
	    vexfs_hnsw_le64(h->h_upper_off) != upper_off ||
	    vexfs_hnsw_le64(h->h_upper_bytes) != upper_bytes ||
	    (sq8 && (vexfs_hnsw_le64(h->h_sq8_off) != sq8_off ||
		     vexfs_hnsw_le64(h->h_sq8_bytes) != sq8_bytes ||
		     vexfs_hnsw_le64(h->h_codes_off) != codes_off ||
		     vexfs_hnsw_le64(h->h_codes_bytes) != codes_bytes)) ||
	    g->size != total)
		return HNSW_UNCLEAN("sections out of place");
	if (total > len)
		return HNSW_INVALID("graph longer than the buffer");
	/* Bytes past the graph would be memory kept for nothing. */
	if (total < len)
		return HNSW_INVALID("bytes after the graph");
	g->npages = total / VEXFS_HNSW_PAGE_SIZE;
	g->node_page = node_off / VEXFS_HNSW_PAGE_SIZE;
	g->level0_page = level0_off / VEXFS_HNSW_PAGE_SIZE;
	g->upper_page = upper_off / VEXFS_HNSW_PAGE_SIZE;
	g->sq8_page = sq8 ? sq8_off / VEXFS_HNSW_PAGE_SIZE : 0;
	g->codes_page = sq8 ? codes_off / VEXFS_HNSW_PAGE_SIZE : 0;
	return 0;
}

/* ==== One page at a time ==== */

/* The records of a section that live on its page p (of pages from first). */
static uint32_t hnsw_records_on(uint64_t p, uint64_t first, uint64_t records,
				uint32_t per_page, uint32_t *start)
{
	uint64_t from = (p - first) * per_page;

	*start = (uint32_t)from;
	return records - from < per_page ? (uint32_t)(records - from) : per_page;
}

/* The bytes after the n records of rec_size at the start of page are zero. */
static int hnsw_check_padding(const uint8_t *page, uint32_t n,
			      uint32_t rec_size, const char **why)
{
	size_t used = (size_t)n * rec_size;

	if (!hnsw_all_zero(page + used, VEXFS_HNSW_PAGE_SIZE - used))
		return HNSW_UNCLEAN("page padding not zero");
	return 0;
}

/*
 * The nodes on one page of the node table: slots below max_slots and
 * increasing within the page, level in range, upper records inside their
 * section, flags zero; the entry point, if here, on the max level.
 */
static int hnsw_check_node_page(const struct vexfs_hnsw_graph *g, uint64_t p,
				const uint8_t *page, uint32_t max_slots,
				const char **why)
{
	const struct vexfs_hnsw_node *n = (const struct vexfs_hnsw_node *)page;
	uint32_t first, count = hnsw_records_on(p, g->node_page, g->node_count,
						VEXFS_HNSW_NODES_PER_PAGE, &first);
	uint32_t i;

	for (i = 0; i < count; i++) {
		uint32_t slot = vexfs_hnsw_le32(n[i].n_slot);
		uint32_t level = vexfs_hnsw_le16(n[i].n_level);

		if (slot >= max_slots || slot == VEXFS_HNSW_NO_NODE)
			return HNSW_UNCLEAN("slot out of range");
		if (i && slot <= vexfs_hnsw_le32(n[i - 1].n_slot))
			return HNSW_UNCLEAN("slots not increasing");
		if (level > g->max_level)
			return HNSW_UNCLEAN("node above the max level");
		if (n[i].n_flags || n[i].n_reserved)
			return HNSW_UNCLEAN("node flags not zero");
		if ((uint64_t)vexfs_hnsw_le32(n[i].n_upper) + level > g->upper_count)
			return HNSW_UNCLEAN("upper records out of range");
		if (first + i == g->entry && level != g->max_level)
			return HNSW_UNCLEAN("entry point below the max level");
	}
	return hnsw_check_padding(page, count, sizeof(*n), why);
}

/*
 * The link records on one page: counts within capacity, every link to a
 * node that exists, the unused tails zero. Whether a linked node lives on
 * the record's level takes its node's page: vexfs_hnsw_load() checks it
 * over the whole graph, a search over pages checks it when it follows
 * the link.
 */
static int hnsw_check_links_page(const struct vexfs_hnsw_graph *g,
				 const uint8_t *page, uint32_t count,
				 uint32_t rec_size, uint32_t cap,
				 const char **why)
{
	uint32_t r, i;

	for (r = 0; r < count; r++) {
		const struct vexfs_hnsw_links *l = (const struct vexfs_hnsw_links *)
			(page + (size_t)r * rec_size);
		uint32_t n = vexfs_hnsw_le32(l->l_count);

		if (n > cap)
			return HNSW_UNCLEAN("link count above capacity");
		for (i = 0; i < n; i++)
			if (vexfs_hnsw_le32(l->l_ids[i]) >= g->node_count)
				return HNSW_UNCLEAN("link to a node out of range");
		for (; i < cap; i++)
			if (l->l_ids[i])
				return HNSW_UNCLEAN("unused link not zero");
	}
	return hnsw_check_padding(page, count, rec_size, why);
}

/* lo[]: finite floats, then zeros. */
static int hnsw_check_sq8_page(const struct vexfs_hnsw_graph *g, uint64_t p,
			       const uint8_t *page, const char **why)
{
	const uint32_t *lo = (const uint32_t *)page;
	uint32_t first, count = hnsw_records_on(p, g->sq8_page, g->dim,
						VEXFS_HNSW_PAGE_SIZE / 4, &first);
	uint32_t i;

	for (i = 0; i < count; i++)
		if (!hnsw_finite_bits(vexfs_hnsw_le32(lo[i])))
			return HNSW_UNCLEAN("SQ8 offset not finite");
	return hnsw_check_padding(page, count, 4, why);
}

int vexfs_hnsw_check_page(const struct vexfs_hnsw_graph *g, uint64_t p,
			  const void *page, uint32_t max_slots, const char **why)
{
	uint32_t first, count;

	if (p >= g->npages || p == 0)
		return HNSW_INVALID("no such page");
	if (p < g->level0_page)
		return hnsw_check_node_page(g, p, page, max_slots, why);
	if (p < g->upper_page) {
		count = hnsw_records_on(p, g->level0_page, g->node_count,
					g->level0_per_page, &first);
		return hnsw_check_links_page(g, page, count, g->level0_rec,
					     g->m0, why);
	}
	if (!g->codes_per_page || p < g->sq8_page) {
		count = hnsw_records_on(p, g->upper_page, g->upper_count,
					g->upper_per_page, &first);
		return hnsw_check_links_page(g, page, count, g->upper_rec,
					     g->m, why);
	}
	if (p < g->codes_page)
		return hnsw_check_sq8_page(g, p, page, why);
	count = hnsw_records_on(p, g->codes_page, g->node_count,
				g->codes_per_page, &first);
	return hnsw_check_padding(page, count, g->dim, why);
}

/* ==== The whole graph ==== */

int vexfs_hnsw_order_step(const struct vexfs_hnsw_graph *g,
			  struct vexfs_hnsw_order *o, uint64_t *missing,
			  const char **why)
{
	uint64_t end;

	if (o->next >= g->node_count)
		return o->upper == g->upper_count ? 0 :
		       HNSW_UNCLEAN("upper record count");
	*missing = vexfs_hnsw_node_page(g, o->next);
	if (!vexfs_hnsw_page(g, *missing))
		return -ENODATA;
	end = ((uint64_t)o->next / VEXFS_HNSW_NODES_PER_PAGE + 1) *
	      VEXFS_HNSW_NODES_PER_PAGE;
	if (end > g->node_count)
		end = g->node_count;
	for (; o->next < end; o->next++) {
		const struct vexfs_hnsw_node *n = vexfs_hnsw_node(g, o->next);
		uint32_t slot = vexfs_hnsw_le32(n->n_slot);

		if (o->next && slot <= o->last_slot)
			return HNSW_UNCLEAN("slots not increasing");
		if (vexfs_hnsw_le32(n->n_upper) != o->upper)
			return HNSW_UNCLEAN("upper records out of order");
		o->last_slot = slot;
		o->upper += vexfs_hnsw_le16(n->n_level);
	}
	if (o->next < g->node_count)
		return -EAGAIN;
	return o->upper == g->upper_count ? 0 : HNSW_UNCLEAN("upper record count");
}

/* Is page p in memory? If not, say so in *missing. */
static bool hnsw_levels_has(const struct vexfs_hnsw_graph *g,
			    uint64_t *missing, uint64_t p)
{
	if (vexfs_hnsw_page(g, p))
		return true;
	*missing = p;
	return false;
}

int vexfs_hnsw_levels_step(const struct vexfs_hnsw_graph *g,
			   struct vexfs_hnsw_levels *v, uint32_t budget,
			   const char **why)
{
	const struct vexfs_hnsw_links *r;
	uint32_t id;

	for (; v->node < g->node_count; v->node++, v->level = 0, v->link = 0) {
		if (!budget--)
			return -EAGAIN;
		if (!hnsw_levels_has(g, &v->missing, vexfs_hnsw_node_page(g, v->node)))
			return -ENODATA;
		if (!v->level)
			v->level = 1;
		for (; v->level <= vexfs_hnsw_level(g, v->node); v->level++, v->link = 0) {
			if (!hnsw_levels_has(g, &v->missing,
					     vexfs_hnsw_links_page(g, v->node, v->level)))
				return -ENODATA;
			r = vexfs_hnsw_links_upper(g, v->node, v->level);
			for (; v->link < vexfs_hnsw_le32(r->l_count); v->link++) {
				id = vexfs_hnsw_le32(r->l_ids[v->link]);
				if (!hnsw_levels_has(g, &v->missing,
						     vexfs_hnsw_node_page(g, id)))
					return -ENODATA;
				if (vexfs_hnsw_level(g, id) < v->level)
					return HNSW_UNCLEAN("link to a node below its level");
			}
		}
	}
	return 0;
}

/*
 * What single pages cannot show: the node table in order, every link on
 * a level to a node that lives there (both above), the entry point in an
 * empty graph.
 */
static int hnsw_check_across_pages(const struct vexfs_hnsw_graph *g,
				   const char **why)
{
	struct vexfs_hnsw_levels v = { 0 };
	struct vexfs_hnsw_order o = { 0 };
	uint64_t missing;
	int err;

	while ((err = vexfs_hnsw_order_step(g, &o, &missing, why)) == -EAGAIN)
		;
	while (!err && (err = vexfs_hnsw_levels_step(g, &v, ~0u, why)) == -EAGAIN)
		;
	if (err)
		return err;
	if (g->node_count == 0)
		return g->entry == VEXFS_HNSW_NO_NODE && g->max_level == 0 ?
			0 : HNSW_UNCLEAN("entry point in an empty graph");
	if (g->entry >= g->node_count)
		return HNSW_UNCLEAN("entry point out of range");
	return 0;
}

/* The header page: the header, its padding, the sections it describes. */
static int hnsw_open_header(const void *hdr_page, uint64_t len,
			    struct vexfs_hnsw_graph *g, const char **why)
{
	const struct vexfs_hnsw_header *h = hdr_page;
	int err;

	vexfs_hnsw_check_layout();
	memset(g, 0, sizeof(*g));
	if (!hdr_page || ((uintptr_t)hdr_page & 7))
		return HNSW_INVALID("buffer not 8-byte aligned");
	if (len < VEXFS_HNSW_PAGE_SIZE)
		return HNSW_INVALID("buffer shorter than the header page");
	err = hnsw_check_header(h, why);
	if (err)
		return err;
	if (!hnsw_all_zero((const uint8_t *)hdr_page + VEXFS_HNSW_HEADER_SIZE,
			   VEXFS_HNSW_PAGE_SIZE - VEXFS_HNSW_HEADER_SIZE))
		return HNSW_UNCLEAN("header page padding not zero");
	hnsw_decode_header(h, g);
	err = hnsw_check_sections(h, g, len, why);
	if (!err && g->node_count && g->entry >= g->node_count)
		err = HNSW_UNCLEAN("entry point out of range");
	if (!err && !g->node_count && (g->entry != VEXFS_HNSW_NO_NODE || g->max_level))
		err = HNSW_UNCLEAN("entry point in an empty graph");
	if (err)
		memset(g, 0, sizeof(*g));
	return err;
}

int vexfs_hnsw_open(const void *hdr_page, uint64_t len, uint32_t max_slots,
		    const uint8_t *const *pages, struct vexfs_hnsw_graph *g,
		    const char **why)
{
	int err = hnsw_open_header(hdr_page, len, g, why);

	if (err)
		return err;
	if (g->node_count && g->node_count > max_slots) {
		memset(g, 0, sizeof(*g));
		return HNSW_UNCLEAN("more nodes than slots");
	}
	g->pages = pages;
	return 0;
}

int vexfs_hnsw_load(const void *buf, size_t len, uint32_t max_slots,
		    struct vexfs_hnsw_graph *g, const char **why)
{
	uint64_t p;
	int err = hnsw_open_header(buf, len, g, why);

	if (err)
		return err;
	g->base = buf;
	for (p = 1; !err && p < g->npages; p++)
		err = vexfs_hnsw_check_page(g, p, vexfs_hnsw_page(g, p),
					    max_slots, why);
	if (!err)
		err = hnsw_check_across_pages(g, why);
	if (err)
		memset(g, 0, sizeof(*g));
	return err;
}

/* ==== The SQ8 coding ==== */

int vexfs_hnsw_sq8_params(const struct vexfs_hnsw_graph *g, float *lo,
			  float *step, uint64_t *missing)
{
	uint32_t per_page = VEXFS_HNSW_PAGE_SIZE / 4, i;
	uint64_t p;

	if (!g->codes_per_page)
		return -EINVAL;
	for (p = g->sq8_page; p < g->codes_page; p++) {
		if (!vexfs_hnsw_page(g, p)) {
			*missing = p;
			return -ENODATA;
		}
	}
	for (i = 0; i < g->dim; i++) {
		const uint8_t *page = vexfs_hnsw_page(g, g->sq8_page + i / per_page);
		uint32_t bits = vexfs_hnsw_le32(((const uint32_t *)page)[i % per_page]);

		memcpy(&lo[i], &bits, sizeof(bits));
	}
	memcpy(step, &g->sq8_step_bits, sizeof(*step));
	return 0;
}

/* ==== Reachability ==== */

static bool hnsw_test_and_set(uint64_t *bits, uint32_t n)
{
	uint64_t mask = (uint64_t)1 << (n % 64);
	bool was = bits[n / 64] & mask;

	bits[n / 64] |= mask;
	return was;
}

void vexfs_hnsw_reach_init(struct vexfs_hnsw_reach *r,
			   const struct vexfs_hnsw_graph *g, uint64_t *seen,
			   uint32_t *queue)
{
	memset(r, 0, sizeof(*r));
	r->seen = seen;
	r->queue = queue;
	if (g->node_count) {
		hnsw_test_and_set(seen, g->entry);
		queue[r->tail++] = g->entry;
	}
}

/* Is page p in memory? If not, say so in r->missing. */
static bool hnsw_reach_has(const struct vexfs_hnsw_graph *g,
			   struct vexfs_hnsw_reach *r, uint64_t p)
{
	if (vexfs_hnsw_page(g, p))
		return true;
	r->missing = p;
	return false;
}

/*
 * Follow link r->link of node n on level r->level. A link above level 0
 * leads only to a node that lives on that level, as a search follows it:
 * the target's node page tells. False with r->missing when a page is
 * not in memory.
 */
static bool hnsw_reach_link(const struct vexfs_hnsw_graph *g,
			    struct vexfs_hnsw_reach *r, uint32_t n)
{
	const struct vexfs_hnsw_links *rec = vexfs_hnsw_links(g, n, r->level);
	uint32_t id = vexfs_hnsw_le32(rec->l_ids[r->link]);

	if (r->level) {
		if (!hnsw_reach_has(g, r, vexfs_hnsw_node_page(g, id)))
			return false;
		if (vexfs_hnsw_level(g, id) < r->level)
			return true;
	}
	if (!hnsw_test_and_set(r->seen, id))
		r->queue[r->tail++] = id;
	return true;
}

int vexfs_hnsw_reach_step(const struct vexfs_hnsw_graph *g,
			  struct vexfs_hnsw_reach *r, uint32_t budget)
{
	while (r->head < r->tail) {
		uint32_t n = r->queue[r->head];

		if (!hnsw_reach_has(g, r, vexfs_hnsw_node_page(g, n)))
			return -ENODATA;
		while (r->level <= vexfs_hnsw_level(g, n)) {
			if (!hnsw_reach_has(g, r, vexfs_hnsw_links_page(g, n, r->level)))
				return -ENODATA;
			while (r->link < vexfs_hnsw_le32(vexfs_hnsw_links(g, n, r->level)->l_count)) {
				if (!budget--)
					return -EAGAIN;
				if (!hnsw_reach_link(g, r, n))
					return -ENODATA;
				r->link++;
			}
			r->link = 0;
			r->level++;
		}
		r->level = 0;
		r->head++;
	}
	return 0;
}

uint32_t vexfs_hnsw_reachable(const struct vexfs_hnsw_graph *g,
			      uint64_t *seen, uint32_t *queue)
{
	struct vexfs_hnsw_reach r;

	/* A whole graph has every page: no step stops but for the budget. */
	vexfs_hnsw_reach_init(&r, g, seen, queue);
	while (vexfs_hnsw_reach_step(g, &r, ~0u) == -EAGAIN)
		;
	return r.tail;
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
