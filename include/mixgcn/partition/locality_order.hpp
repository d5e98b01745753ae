#pragma once
// Node orders that give the aggregation locality, chosen by name (mixgcn-train --order):
// the numbering a graph is trained in, applied once at load (graph::permute,
// graph::permute_nodes) and undone for every output (parallel::renumbered).
//
//   metis    METIS parts of about `part_nodes` nodes, numbered part by part: community
//            order, the one that recovers nearly all locality (docs/kernels.md, "Node
//            ordering": 1.3-1.8x on the kernel over a shuffled community graph)
//   rcm      reverse Cuthill-McKee (O(nnz), no METIS needed; recovers part of it)
//   degree   decreasing degree
//   none     the ids as loaded
#include <algorithm>
#include <cstddef>
#include <numeric>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/graph/ordering.hpp"
#include "mixgcn/partition/metis.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::partition {

enum class node_order { none, metis, rcm, degree };

inline const char* to_string(node_order o) {
    switch (o) {
        case node_order::none: return "none";
        case node_order::metis: return "metis";
        case node_order::rcm: return "rcm";
        case node_order::degree: return "degree";
    }
    return "?";
}

inline node_order parse_node_order(std::string_view s) {
    for (auto o : {node_order::none, node_order::metis, node_order::rcm, node_order::degree})
        if (s == to_string(o)) return o;
    throw invalid_argument(::mixgcn::detail::concat("unknown node order '", s, "' (none, metis, rcm or degree)"));
}

// order[new] = old id. `part_nodes`: the metis order's part size; 4096 nodes keep one
// part's X rows (2 MiB at width 128, float) in a core's L2.
template <class I, class V, class O>
std::vector<I> locality_order(const storage::csr<I, V, O>& a, node_order method, std::size_t part_nodes = 4096,
                              std::uint64_t seed = 0) {
    require(a.rows == a.cols, "locality_order: the graph must be square, got ", a.rows, "x", a.cols);
    require(part_nodes >= 1, "locality_order: part_nodes must be >= 1, got ", part_nodes);
    const auto n = static_cast<std::size_t>(a.rows);
    switch (method) {
        case node_order::none: {
            std::vector<I> order(n);
            std::iota(order.begin(), order.end(), I(0));
            return order;
        }
        case node_order::rcm: return graph::reverse_cuthill_mckee(a);
        case node_order::degree: return graph::degree_order(a);
        case node_order::metis: {
            const int parts = static_cast<int>(std::max<std::size_t>(1, n / part_nodes));
            const auto owner = metis{.seed = seed}.partition(a, parts);
            return graph::part_order<I>(std::span<const int>(owner));
        }
    }
    throw invalid_argument("locality_order: unknown order");
}

}  // namespace mixgcn::partition
