// SPDX-License-Identifier: GPL-2.0
/*
 * A published graph that carries its SQ8 codes, walked from the index
 * inode's page cache.
 *
 * Such a graph needs neither the collection's vectors nor a copy of
 * itself in memory: vexfs_hnsw_open() checks its header page, and every
 * other page is read and checked (vexfs_hnsw_check_page()) when a walk
 * first needs it, then held, its folio referenced, until the index goes.
 * Installing one at mount reads the header, the coding's lo[] and the
 * node table (for the slots it covers); not the links, not a single
 * vector. A publish, which streams the graph in, reads the links too, to
 * prove what no single page shows. A walk
 * that needs a page not held stops (lib/hnsw_search.c: -ENODATA), leaves
 * its FPU section, reads the page here and resumes.
 *
 * The pages of an installed index never change under it: a publish drops
 * the index in memory before it writes the inode (index.c), and nothing
 * else writes an index inode.
 *
 * Held pages are page cache the kernel cannot reclaim while they are
 * held, so a shrinker lets go of them under memory pressure, a share of
 * each index's from where the last pass stopped, and walks read them
 * again when they need them: a graph larger than memory costs reads, not
 * an allocation failure. It takes an index only with its collection's
 * rwsem for writing (tried, never waited for), so no walk is on it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/pagemap.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include "vexfs.h"
#include "collection.h"
#include "search_fpu.h"

/* Indexes walked from pages, for the shrinker; and their pages held. */
static LIST_HEAD(vexfs_paged_indexes);
static DEFINE_MUTEX(vexfs_paged_lock);
static atomic_long_t vexfs_pages_held = ATOMIC_LONG_INIT(0);
static struct shrinker *vexfs_index_shrinker;

/* The page cache index of the graph's page p. */
static pgoff_t vexfs_graph_pgoff(u64 p)
{
	return (VEXFS_VINDEX_GRAPH_START >> PAGE_SHIFT) + p;
}

/*
 * Read, check and hold page p of idx's graph, unless it is held already.
 * Sleeps: outside any FPU section. The caller holds c->rwsem.
 */
int vexfs_index_page_in(struct vexfs_index *idx, u64 p)
{
	const char *why = NULL;
	struct folio *folio;
	int err;

	if (p >= idx->graph.npages)
		return -EUCLEAN;
	if (READ_ONCE(idx->pages[p]))
		return 0;
	folio = read_mapping_folio(idx->inode->i_mapping, vexfs_graph_pgoff(p),
				   NULL);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	err = -EUCLEAN;
	if (folio_size(folio) != PAGE_SIZE)
		goto out;
	err = vexfs_hnsw_check_page(&idx->graph, p, folio_address(folio),
				    idx->nbits, &why);
	if (err) {
		pr_warn_ratelimited("index inode %lu: graph page %llu: %s\n",
				    idx->inode->i_ino, p, why);
		goto out;
	}
	spin_lock(&idx->page_lock);
	if (!idx->pages[p]) {
		idx->folios[p] = folio;
		idx->held++;
		atomic_long_inc(&vexfs_pages_held);
		smp_store_release(&idx->pages[p], folio_address(folio));
		folio = NULL;
	}
	spin_unlock(&idx->page_lock);
out:
	if (folio)
		folio_put(folio);
	return err;
}

/*
 * Let go of up to n held pages of idx, looking at no more than look
 * entries from where the last call stopped; returns how many. Nothing
 * walks idx meanwhile.
 */
static u64 vexfs_index_drop_pages(struct vexfs_index *idx, u64 n, u64 look)
{
	struct folio *folio;
	u64 dropped = 0, seen;

	for (seen = 1; seen < idx->graph.npages && seen <= look && dropped < n;
	     seen++) {
		u64 p = idx->drop_cursor;

		idx->drop_cursor = p + 1 < idx->graph.npages ? p + 1 : 1;
		spin_lock(&idx->page_lock);
		folio = idx->folios[p];
		if (folio) {
			idx->pages[p] = NULL;
			idx->folios[p] = NULL;
			idx->held--;
		}
		spin_unlock(&idx->page_lock);
		if (folio) {
			folio_put(folio);
			dropped++;
		}
	}
	atomic_long_sub(dropped, &vexfs_pages_held);
	return dropped;
}

/*
 * Let go of every page idx holds, and of its inode; nothing for an index
 * read whole. Nothing walks it any more.
 */
void vexfs_index_put_pages(struct vexfs_index *idx)
{
	if (idx->c) {
		mutex_lock(&vexfs_paged_lock);
		list_del(&idx->paged);
		mutex_unlock(&vexfs_paged_lock);
	}
	if (idx->folios)
		vexfs_index_drop_pages(idx, idx->graph.npages, idx->graph.npages);
	kvfree(idx->folios);
	kvfree(idx->pages);
	kfree(idx->hdr_page);
	iput(idx->inode);
}

/* The coding the graph carries, ready to code queries. */
static int vexfs_index_coding(struct vexfs_index *idx)
{
	u64 missing;
	int err;

	idx->sq8_lo = kmalloc_array(idx->graph.dim, sizeof(float),
				    VEXFS_GFP_USER_SIZED);
	if (!idx->sq8_lo)
		return -ENOMEM;
	idx->sq8.dim = idx->graph.dim;
	idx->sq8.metric = idx->graph.metric;
	while ((err = vexfs_hnsw_sq8_params(&idx->graph, idx->sq8_lo,
					    &idx->sq8.step, &missing)) == -ENODATA) {
		err = vexfs_index_page_in(idx, missing);
		if (err)
			return err;
	}
	if (err)
		return err;
	vexfs_fpu_begin();
	vexfs_sq8_set_lo(&idx->sq8, idx->sq8_lo);
	vexfs_fpu_end();
	return 0;
}

/*
 * Held pages past which reading a whole graph through (proving it, or its
 * node table) lets a quarter of them go, so that a graph larger than
 * memory can be read through. A step needs three pages at most: they
 * always fit between two such drops.
 */
#define VEXFS_THROUGH_HELD	4096

/* Links a step of the reachability proof follows between reschedules. */
#define VEXFS_PROVE_LINKS	4096

/* Page in the page a step over the graph asked for, within the bound. */
static int vexfs_index_page_for_step(struct vexfs_index *idx, u64 p)
{
	if (idx->held >= VEXFS_THROUGH_HELD)
		vexfs_index_drop_pages(idx, VEXFS_THROUGH_HELD / 4,
				       idx->graph.npages);
	return vexfs_index_page_in(idx, p);
}

/*
 * Go on after a step of a long pass stopped at its budget. A publish's
 * proof gives up for a fatal signal (its caller retries); a mount's
 * reading of the node table does not, for the collection would then be
 * searched exactly by everyone until the next mount.
 */
static int vexfs_index_step_pause(bool prove)
{
	if (prove && fatal_signal_pending(current))
		return -EINTR;
	cond_resched();
	return 0;
}

/*
 * Prove which nodes a walk reaches from the entry point, for a publish:
 * *seenp gets a bit per node reached (kvfree() it), and reached_all says
 * whether that is every node. A mount does not prove it again: it trusts
 * the flag the publish wrote (VEXFS_VINDEX_REACHED), which fsck checks.
 */
static int vexfs_index_prove_reach(struct vexfs_index *idx, u64 **seenp)
{
	const struct vexfs_hnsw_graph *g = &idx->graph;
	struct vexfs_hnsw_reach r;
	u64 *seen = kvcalloc(DIV_ROUND_UP(g->node_count, 64) ?: 1,
			     sizeof(*seen), VEXFS_GFP_USER_SIZED);
	u32 *queue = kvmalloc_array(g->node_count ?: 1, sizeof(*queue),
				    VEXFS_GFP_USER_SIZED);
	int err = -ENOMEM;

	if (!seen || !queue)
		goto out;
	vexfs_hnsw_reach_init(&r, g, seen, queue);
	while ((err = vexfs_hnsw_reach_step(g, &r, VEXFS_PROVE_LINKS))) {
		if (err == -ENODATA)
			err = vexfs_index_page_for_step(idx, r.missing);
		else
			err = vexfs_index_step_pause(true);
		if (err)
			goto out;
	}
	idx->reached_all = r.tail == g->node_count;
out:
	kvfree(queue);
	if (err) {
		kvfree(seen);
		seen = NULL;
	}
	*seenp = seen;
	return err;
}

/*
 * Prove, for a publish, that every link above level 0 leads to a node that
 * lives on its level, as vexfs_hnsw_load() checks of a whole graph (a
 * walk would not follow one that does not, but fsck refuses the graph).
 */
static int vexfs_index_prove_levels(struct vexfs_index *idx, const char **why)
{
	struct vexfs_hnsw_levels v = { 0 };
	int err;

	while ((err = vexfs_hnsw_levels_step(&idx->graph, &v, VEXFS_PROVE_LINKS,
					     why))) {
		if (err == -ENODATA)
			err = vexfs_index_page_for_step(idx, v.missing);
		else if (err == -EAGAIN)
			err = vexfs_index_step_pause(true);
		if (err)
			return err;
	}
	return 0;
}

/* Cover the slots of nodes from..to - 1 (their node page is in memory). */
static void vexfs_index_cover_run(struct vexfs_index *idx, const u64 *seen,
				  u32 from, u32 to)
{
	for (; from < to; from++)
		if (!seen || vexfs_hnsw_seen(seen, from))
			__set_bit(vexfs_hnsw_slot(&idx->graph, from),
				  idx->in_graph);
}

/*
 * Read the node table through, checking its order across pages, and
 * cover the slots of the nodes in seen, or of every node (seen NULL: a
 * publish proved a walk reaches them all, and fsck checks it on disk).
 * A page per 256 nodes.
 */
static int vexfs_index_cover_nodes(struct vexfs_index *idx, const u64 *seen,
				   const char **why)
{
	struct vexfs_hnsw_order o = { 0 };
	u32 from = 0;
	u64 missing;
	int err;

	while ((err = vexfs_hnsw_order_step(&idx->graph, &o, &missing, why))) {
		if (err == -ENODATA) {
			err = vexfs_index_page_for_step(idx, missing);
		} else if (err == -EAGAIN) {
			vexfs_index_cover_run(idx, seen, from, o.next);
			from = o.next;
			err = vexfs_index_step_pause(false);
		}
		if (err)
			return err;
	}
	vexfs_index_cover_run(idx, seen, from, o.next);
	return 0;
}

/*
 * The slots the graph covers: every node's when a publish proved it
 * before (a mount), else, after proving what a whole-graph load checks
 * across pages, those of the nodes this proof reaches.
 */
static int vexfs_index_cover(struct vexfs_index *idx, bool prove,
			     const char **why)
{
	u64 *seen = NULL;
	int err = 0;

	idx->reached_all = true;
	if (prove)
		err = vexfs_index_prove_levels(idx, why) ?:
		      vexfs_index_prove_reach(idx, &seen);
	if (!err)
		err = vexfs_index_cover_nodes(idx, idx->reached_all ? NULL : seen,
					      why);
	kvfree(seen);
	return err;
}

/*
 * Open the graph of len bytes in inode (an index inode of c) as pages,
 * into idx. -EOPNOTSUPP when it carries no codes (index.c then reads it
 * whole), else an error with *why. prove: the graph was not checked whole
 * (a publish streamed it in): find which nodes a walk reaches, rather
 * than trust that all are. The caller holds c->rwsem, or has c to itself.
 */
int vexfs_index_open_pages(struct vexfs_collection *c, struct vexfs_index *idx,
			   struct inode *inode, u64 len, bool prove,
			   const char **why)
{
	struct folio *folio;
	int err;

	*why = "out of memory";
	idx->hdr_page = kmalloc(PAGE_SIZE, VEXFS_GFP_USER_SIZED);
	if (!idx->hdr_page)
		return -ENOMEM;
	folio = read_mapping_folio(inode->i_mapping, vexfs_graph_pgoff(0), NULL);
	*why = "cannot read its header";
	if (IS_ERR(folio)) {
		kfree(idx->hdr_page);
		idx->hdr_page = NULL;
		return PTR_ERR(folio);
	}
	memcpy_from_folio(idx->hdr_page, folio, 0, PAGE_SIZE);
	folio_put(folio);
	err = vexfs_hnsw_open(idx->hdr_page, len, c->nslots, NULL, &idx->graph,
			      why);
	if (!err && !idx->graph.codes_per_page)
		err = -EOPNOTSUPP;
	if (err) {
		kfree(idx->hdr_page);
		idx->hdr_page = NULL;
		return err;
	}
	/* From here vexfs_index_put_pages() undoes all of it. */
	idx->inode = igrab(inode);
	spin_lock_init(&idx->page_lock);
	idx->folios = kvcalloc(idx->graph.npages, sizeof(*idx->folios),
			       VEXFS_GFP_USER_SIZED);
	idx->pages = kvcalloc(idx->graph.npages, sizeof(*idx->pages),
			      VEXFS_GFP_USER_SIZED);
	*why = "out of memory";
	if (!idx->inode || !idx->folios || !idx->pages)
		return -ENOMEM;
	idx->graph.pages = idx->pages;
	idx->pages[0] = idx->hdr_page;
	idx->drop_cursor = 1;
	*why = "dimension or metric differs from the collection's";
	if (idx->graph.dim != c->dim || idx->graph.metric != c->metric)
		return -EINVAL;
	*why = "out of memory";
	idx->nbits = c->nslots;
	idx->in_graph = kvcalloc(BITS_TO_LONGS(idx->nbits) ?: 1, sizeof(long),
				 VEXFS_GFP_USER_SIZED);
	if (!idx->in_graph)
		return -ENOMEM;
	*why = "a damaged page";
	err = vexfs_index_coding(idx);
	if (!err)
		err = vexfs_index_cover(idx, prove, why);
	if (err)
		return err;
	/*
	 * Only now may the shrinker take pages back: a mount opens the
	 * index without c->rwsem, which the shrinker's only guard is.
	 */
	idx->c = c;
	mutex_lock(&vexfs_paged_lock);
	list_add_tail(&idx->paged, &vexfs_paged_indexes);
	mutex_unlock(&vexfs_paged_lock);
	return 0;
}

static unsigned long vexfs_index_shrink_count(struct shrinker *shrink,
					      struct shrink_control *sc)
{
	return atomic_long_read(&vexfs_pages_held) ?: SHRINK_EMPTY;
}

/*
 * Reclaim may run inside this module's own allocations, with a
 * collection's rwsem or the list's lock held: both are only tried.
 */
static unsigned long vexfs_index_shrink_scan(struct shrinker *shrink,
					     struct shrink_control *sc)
{
	struct vexfs_index *idx, *next;
	unsigned long freed = 0;
	LIST_HEAD(done);

	if (!mutex_trylock(&vexfs_paged_lock))
		return SHRINK_STOP;
	list_for_each_entry_safe(idx, next, &vexfs_paged_indexes, paged) {
		if (freed >= sc->nr_to_scan)
			break;
		if (!down_write_trylock(&idx->c->rwsem))
			continue;
		/* A bounded look, so the write lock is held briefly. */
		freed += vexfs_index_drop_pages(idx, sc->nr_to_scan - freed,
						16 * sc->nr_to_scan);
		up_write(&idx->c->rwsem);
		list_move_tail(&idx->paged, &done);
	}
	/* Those just shrunk go last, so that the next pass starts elsewhere. */
	list_splice_tail(&done, &vexfs_paged_indexes);
	mutex_unlock(&vexfs_paged_lock);
	return freed;
}

int vexfs_index_shrinker_init(void)
{
	vexfs_index_shrinker = shrinker_alloc(0, "vexfs-index");
	if (!vexfs_index_shrinker)
		return -ENOMEM;
	vexfs_index_shrinker->count_objects = vexfs_index_shrink_count;
	vexfs_index_shrinker->scan_objects = vexfs_index_shrink_scan;
	shrinker_register(vexfs_index_shrinker);
	return 0;
}

void vexfs_index_shrinker_exit(void)
{
	shrinker_free(vexfs_index_shrinker);
}
