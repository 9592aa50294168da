// SPDX-License-Identifier: GPL-2.0
/*
 * FAISS IndexHNSWFlat as a peer for hnswbench: the same data, M,
 * efConstruction, ef and thread count through the C interface hnswbench.c
 * declares. FAISS is Debian's libfaiss-dev (C++ API); it parallelizes
 * add() with OpenMP, so the build's thread count is OpenMP's, and a
 * search of one query runs on the calling thread.
 */
#include <cstdint>
#include <vector>

#include <faiss/IndexHNSW.h>
#include <omp.h>

struct faiss_peer {
	faiss::IndexHNSWFlat *index;
	std::vector<float> dist;		/* k distances, unused */
	std::vector<faiss::Index::idx_t> labels;
};

extern "C" struct faiss_peer *
faiss_peer_build(const float *base, uint32_t n, uint32_t dim, int inner,
		 uint32_t m, uint32_t ef_construction, uint32_t threads)
{
	struct faiss_peer *p = new faiss_peer;

	p->index = new faiss::IndexHNSWFlat(dim, m, inner ?
					    faiss::METRIC_INNER_PRODUCT :
					    faiss::METRIC_L2);
	p->index->hnsw.efConstruction = ef_construction;
	omp_set_num_threads(threads ? threads : 1);
	p->index->add(n, base);
	omp_set_num_threads(1);
	return p;
}

extern "C" void faiss_peer_set_ef(struct faiss_peer *p, uint32_t ef)
{
	p->index->hnsw.efSearch = ef;
}

extern "C" uint32_t faiss_peer_search(struct faiss_peer *p,
				      const float *query, uint32_t k,
				      uint32_t *ids)
{
	uint32_t i, n = 0;

	p->dist.resize(k);
	p->labels.resize(k);
	p->index->search(1, query, k, p->dist.data(), p->labels.data());
	for (i = 0; i < k; i++)
		if (p->labels[i] >= 0)
			ids[n++] = (uint32_t)p->labels[i];
	return n;
}

/*
 * Bytes of the index: the flat vectors, and the graph: neighbour ids
 * (int32 each), per-level offsets, levels, and the cumulative neighbour
 * counts per level. *graph_only leaves out the vectors.
 */
extern "C" size_t faiss_peer_bytes(const struct faiss_peer *p,
				   size_t *graph_only)
{
	const faiss::HNSW &h = p->index->hnsw;
	size_t vectors = (size_t)p->index->ntotal * p->index->d * sizeof(float);

	*graph_only = h.neighbors.size() * sizeof(h.neighbors[0]) +
		      h.offsets.size() * sizeof(h.offsets[0]) +
		      h.levels.size() * sizeof(h.levels[0]) +
		      h.cum_nneighbor_per_level.size() * sizeof(int);
	return *graph_only + vectors;
}

extern "C" void faiss_peer_free(struct faiss_peer *p)
{
	delete p->index;
	delete p;
}
