#pragma once
// Quality of a partition, independent of how it was made. Definitions (see
// docs/partitioning.md):
//   edge_cut      undirected edges {u, v}, u != v, present in either direction, whose
//                 endpoints have different owners (self loops never count);
//   owned_nodes   nodes per rank; owned_nonzeros: non-zeros in the rank's rows;
//   owned_cost    row cost (non-zeros + 1) per rank: what block/spectral/metis balance;
//   halo          per rank, distinct column ids of its rows owned by another rank: the
//                 ghost rows it receives each layer in the graph strategy;
//   total_halo / max_halo: communication volume in rows (multiply by width × bytes);
//   *_balance     max over ranks divided by the average (1 = perfect).
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::partition {

struct quality {
    int parts = 0;
    std::int64_t edge_cut = 0;
    std::vector<std::int64_t> owned_nodes, owned_nonzeros, owned_cost, halo;
    std::int64_t total_halo = 0, max_halo = 0;
    double node_balance = 0, nonzero_balance = 0, cost_balance = 0;
};

// Throws invalid_argument unless `owner` has one entry per node, each in [0, parts).
inline void check_owners(std::span<const int> owner, std::int64_t nodes, int parts) {
    require(parts >= 1, "partition: number of parts must be at least 1, got ", parts);
    require(static_cast<std::int64_t>(owner.size()) == nodes, "partition: ", owner.size(), " owners for ", nodes,
            " nodes");
    for (std::size_t i = 0; i < owner.size(); ++i)
        require(owner[i] >= 0 && owner[i] < parts, "partition: node ", i, " has owner ", owner[i], " outside [0, ",
                parts, ")");
}

namespace detail {
inline double max_over_mean(const std::vector<std::int64_t>& v) {
    if (v.empty()) return 0;
    std::int64_t sum = 0, mx = 0;
    for (auto x : v) {
        sum += x;
        mx = std::max(mx, x);
    }
    return sum == 0 ? 1.0 : static_cast<double>(mx) * static_cast<double>(v.size()) / static_cast<double>(sum);
}
}  // namespace detail

template <class Index, class Value, class Offset>
quality evaluate(const storage::csr<Index, Value, Offset>& adjacency, std::span<const int> owner, int parts) {
    require(adjacency.rows == adjacency.cols, "partition::evaluate: adjacency must be square, got ", adjacency.rows,
            "x", adjacency.cols);
    check_owners(owner, adjacency.rows, parts);
    quality q;
    q.parts = parts;
    const auto np = static_cast<std::size_t>(parts);
    q.owned_nodes.assign(np, 0);
    q.owned_nonzeros.assign(np, 0);
    q.owned_cost.assign(np, 0);
    q.halo.assign(np, 0);
    // last_seen[c] == p marks ghost c as already counted for rank p; rows are visited rank
    // by rank, so one marker array serves all ranks.
    std::vector<std::vector<Index>> rows_of(np);
    for (Index r = 0; r < adjacency.rows; ++r) rows_of[static_cast<std::size_t>(owner[static_cast<std::size_t>(r)])].push_back(r);
    std::vector<int> last_seen(static_cast<std::size_t>(adjacency.rows), -1);
    auto has_edge = [&](Index u, Index v) {
        const auto cols = adjacency.row_cols(u);
        return std::binary_search(cols.begin(), cols.end(), v);
    };
    for (int p = 0; p < parts; ++p) {
        const auto pp = static_cast<std::size_t>(p);
        for (Index r : rows_of[pp]) {
            const auto deg = static_cast<std::int64_t>(adjacency.row_end(r) - adjacency.row_begin(r));
            ++q.owned_nodes[pp];
            q.owned_nonzeros[pp] += deg;
            q.owned_cost[pp] += deg + 1;
            for (Index c : adjacency.row_cols(r)) {
                const int oc = owner[static_cast<std::size_t>(c)];
                if (oc == p) continue;
                if (last_seen[static_cast<std::size_t>(c)] != p) {
                    last_seen[static_cast<std::size_t>(c)] = p;
                    ++q.halo[pp];
                }
                // Count each undirected pair once: from its smaller end, or from the larger
                // end when the reverse entry is missing (directed input).
                if (r < c || !has_edge(c, r)) ++q.edge_cut;
            }
        }
    }
    for (auto h : q.halo) {
        q.total_halo += h;
        q.max_halo = std::max(q.max_halo, h);
    }
    q.node_balance = detail::max_over_mean(q.owned_nodes);
    q.nonzero_balance = detail::max_over_mean(q.owned_nonzeros);
    q.cost_balance = detail::max_over_mean(q.owned_cost);
    return q;
}

}  // namespace mixgcn::partition
