// A graph-parallel job in which the ranks disagree during setup, for the fault tests
// (tests/comm/expect_fault.sh): every rank must exit non-zero, stderr naming the rank
// that found the fault.
//   --comm=mpi|gloo
//   --mode=bad-owner  rank 1's owner vector names a rank that does not exist; rank 1
//                     throws while the others wait for it in the setup exchange.
//   --mode=mismatch   rank 1 believes one of its nodes belongs to rank 0 and asks rank 0
//                     for it; rank 0 refuses, naming rank 1 and the node.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/partition/block.hpp"
#include "../comm/run_on_comm.hpp"

using namespace mixgcn;

namespace {
template <class C>
int job(C& c, const std::string& mode) {
    comm::run_guarded(c, [&] {
        graph::sbm_options o;
        o.nodes = 400;
        o.avg_degree = 6;
        o.features = 4;
        o.seed = 3;
        const auto ds = graph::generate_sbm<float>(o);
        const auto adjacency = graph::build_adjacency<index_t, float>(ds.edges);
        const auto part = partition::block{}.partition(adjacency, c.size());
        std::vector<int> owner(part.begin(), part.end());
        if (c.rank() == 1) {
            if (mode == "bad-owner") {
                owner[7] = c.size();
            } else {
                // A node of rank 1 with a neighbour that stays on rank 1: rank 1 now asks
                // rank 0 for it.
                for (index_t v = 0; v < adjacency.rows; ++v) {
                    if (owner[std::size_t(v)] != 1) continue;
                    bool stays = false;
                    for (index_t w : adjacency.row_cols(v)) stays = stays || (w != v && owner[std::size_t(w)] == 1);
                    if (!stays) continue;
                    owner[std::size_t(v)] = 0;
                    break;
                }
            }
        }
        parallel::graph<backend::host, float, C> g(c, adjacency, owner);
        dense_matrix<float> x(std::size_t(g.rows()), 4), y(std::size_t(g.rows()), 4);
        g.forward(x.cview(), y.view());
        std::vector<double> one{1.0};
        g.sum(std::span<double>(one));
    });
    return 0;
}
}  // namespace

int main(int argc, char** argv) {
    std::string kind, mode = "bad-owner";
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--comm=", 7) == 0) kind = argv[i] + 7;
        if (std::strncmp(argv[i], "--mode=", 7) == 0) mode = argv[i] + 7;
    }
    if (mode != "bad-owner" && mode != "mismatch") {
        std::fprintf(stderr, "graph_fault_driver: unknown --mode=%s (bad-owner|mismatch)\n", mode.c_str());
        return 2;
    }
    return test_support::run_on_comm(kind, argc, argv, "graph_fault_driver",
                                     [&](auto& c) { return job(c, mode); });
}
