#pragma once
// What the multi-process test programs share: one communicator per process for the whole
// run (a Gloo rendezvous cannot be repeated on the same store), picked by
// MIXGCN_TEST_COMM=mpi|gloo|local; a generated SBM problem; owners computed on rank 0
// and broadcast, as the CLI does; and the doctest main that sets it all up.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mixgcn/comm.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/normalize.hpp"

namespace test_session {

using namespace mixgcn;

#ifdef MIXGCN_HAS_MPI
inline std::unique_ptr<comm::mpi> mpi_comm;
#endif
#ifdef MIXGCN_HAS_GLOO
inline std::unique_ptr<comm::gloo> gloo_comm;
#endif
inline std::unique_ptr<comm::local> local_comm;

template <class F>
void with_comm(F&& f) {
#ifdef MIXGCN_HAS_MPI
    if (mpi_comm) return f(*mpi_comm);
#endif
#ifdef MIXGCN_HAS_GLOO
    if (gloo_comm) return f(*gloo_comm);
#endif
    f(*local_comm);
}

// A generated SBM, its adjacency and the global operator.
template <class V>
struct problem {
    dataset<V> ds;
    storage::csr<index_t, V> adjacency;
    graph::gcn_operator<index_t, V> op;
    explicit problem(const graph::sbm_options& o) {
        ds = graph::generate_sbm<V>(o);
        adjacency = graph::build_adjacency<index_t, V>(ds.edges);
        op = graph::gcn_normalize<V>(adjacency);
    }
};

inline graph::sbm_options sbm(std::int64_t nodes, double degree, std::int64_t features, std::int32_t classes,
                              std::uint64_t seed) {
    graph::sbm_options o;
    o.nodes = nodes;
    o.avg_degree = degree;
    o.classes = classes;
    o.features = features;
    o.model = graph::feature_model::gaussian;
    o.seed = seed;
    return o;
}

template <class Comm, class Part, class V>
std::vector<int> owners(Comm& comm, const Part& part, const storage::csr<index_t, V>& adjacency) {
    std::vector<std::int32_t> owner(static_cast<std::size_t>(adjacency.rows));
    if (comm.rank() == 0) {
        const auto o = part.partition(adjacency, comm.size());
        std::copy(o.begin(), o.end(), owner.begin());
    }
    comm.broadcast(std::span<std::int32_t>(owner), 0);
    return {owner.begin(), owner.end()};
}

// Rows [first, last) of `a` with global column ids: what a rank of a partitioned load holds.
template <class V>
storage::csr<index_t, V> row_range(const storage::csr<index_t, V>& a, std::uint64_t first, std::uint64_t last) {
    storage::csr<index_t, V> mine;
    mine.rows = index_t(last - first);
    mine.cols = a.cols;
    for (auto v = first; v < last; ++v) {
        for (const index_t c : a.row_cols(index_t(v))) mine.col_idx.push_back(c);
        mine.row_ptr.push_back(offset_t(mine.col_idx.size()));
    }
    return mine;
}

// Every row's part from each rank's parts of its rows; counts[q]: rank q's rows.
template <class Comm>
std::vector<int> gather_parts(Comm& comm, const std::vector<int>& local, const std::vector<std::size_t>& counts) {
    std::size_t n = 0;
    for (const auto c : counts) n += c;
    std::vector<std::int32_t> all(n), m(local.begin(), local.end());
    comm.all_gather_v(std::span<const std::int32_t>(m), std::span<std::int32_t>(all),
                      std::span<const std::size_t>(counts));
    return {all.begin(), all.end()};
}

inline int main(int argc, char** argv) {
    std::string kind = "mpi";
    if (const char* k = std::getenv("MIXGCN_TEST_COMM")) kind = k;
#ifdef MIXGCN_HAS_MPI
    std::unique_ptr<comm::mpi::environment> env;
    if (kind == "mpi") {
        env = std::make_unique<comm::mpi::environment>(argc, argv);
        mpi_comm = std::make_unique<comm::mpi>();
    }
#endif
#ifdef MIXGCN_HAS_GLOO
    if (kind == "gloo") gloo_comm = std::make_unique<comm::gloo>();
#endif
    local_comm = std::make_unique<comm::local>();
    doctest::Context ctx(argc, argv);
    const int rc = ctx.run();
#ifdef MIXGCN_HAS_MPI
    mpi_comm.reset();
#endif
#ifdef MIXGCN_HAS_GLOO
    gloo_comm.reset();
#endif
    return rc;
}

}  // namespace test_session
