// SPDX-License-Identifier: GPL-2.0
/*
 * hnswlib as a peer for hnswbench: the same data, M, efConstruction, ef and
 * thread count through a small C interface, so one run measures both.
 * hnswlib is Debian's libhnswlib-dev (header only); its headers define
 * functions outside classes, so this is the only file that includes them.
 * hnswbench.c declares the same functions.
 */
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <hnswlib/hnswlib.h>

struct hnswlib_peer {
	hnswlib::SpaceInterface<float> *space;		/* L2 or inner product */
	hnswlib::HierarchicalNSW<float> *index;		/* the graph */
};

/* Insert rows [0, n): the first alone, then `threads` take turns. */
static void peer_insert(hnswlib::HierarchicalNSW<float> *index,
			const float *base, uint32_t n, uint32_t dim,
			uint32_t threads)
{
	std::atomic<uint32_t> next(1);
	std::vector<std::thread> pool;

	if (n)
		index->addPoint(base, 0);
	auto work = [&]() {
		for (uint32_t i; (i = next++) < n;)
			index->addPoint(base + (size_t)i * dim, i);
	};
	for (uint32_t t = 1; t < threads; t++)
		pool.emplace_back(work);
	work();
	for (auto &t : pool)
		t.join();
}

extern "C" struct hnswlib_peer *
hnswlib_peer_build(const float *base, uint32_t n, uint32_t dim, int inner,
		   uint32_t m, uint32_t ef_construction, uint32_t threads,
		   uint64_t seed)
{
	struct hnswlib_peer *p = new hnswlib_peer;

	if (inner)
		p->space = new hnswlib::InnerProductSpace(dim);
	else
		p->space = new hnswlib::L2Space(dim);
	p->index = new hnswlib::HierarchicalNSW<float>(p->space, n, m,
						       ef_construction, seed);
	peer_insert(p->index, base, n, dim, threads ? threads : 1);
	return p;
}

extern "C" void hnswlib_peer_set_ef(struct hnswlib_peer *p, uint32_t ef)
{
	p->index->setEf(ef);
}

extern "C" uint32_t hnswlib_peer_search(struct hnswlib_peer *p,
					const float *query, uint32_t k,
					uint32_t *ids)
{
	auto top = p->index->searchKnn(query, k);
	uint32_t n = top.size();

	for (uint32_t i = n; i > 0; i--) {
		ids[i - 1] = (uint32_t)top.top().second;
		top.pop();
	}
	return n;
}

/*
 * Bytes of the index: level-0 blocks (links, vector, label), upper link
 * lists, one mutex and one level per element. *graph_only leaves out the
 * vectors, to compare with the VexFS graph, which holds none.
 */
extern "C" size_t hnswlib_peer_bytes(const struct hnswlib_peer *p,
				     size_t *graph_only)
{
	const hnswlib::HierarchicalNSW<float> *h = p->index;
	size_t n = h->cur_element_count, upper = 0, per_node;

	for (size_t i = 0; i < n; i++)
		upper += (size_t)h->element_levels_[i] * h->size_links_per_element_;
	per_node = sizeof(std::mutex) + sizeof(int) + sizeof(void *);
	*graph_only = n * (h->size_data_per_element_ - h->data_size_ + per_node) +
		      upper;
	return n * (h->size_data_per_element_ + per_node) + upper;
}

extern "C" void hnswlib_peer_free(struct hnswlib_peer *p)
{
	delete p->index;
	delete p->space;
	delete p;
}
