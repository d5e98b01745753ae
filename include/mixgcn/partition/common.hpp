#pragma once
// Checks and quantities shared by every partitioner: argument validation and the row
// cost (degree + 1) that the balancing methods equalise. The +1 accounts for the dense
// per-node work (the node's own feature row and the H·W update), so isolated nodes are
// not free.
#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::partition {

// Throws invalid_argument unless `adjacency` is square and 1 <= parts <= nodes.
template <class Index, class Value, class Offset>
void check_parts(const storage::csr<Index, Value, Offset>& adjacency, int parts, std::string_view who) {
    require(adjacency.rows == adjacency.cols, who, ": adjacency must be square, got ", adjacency.rows, "x",
            adjacency.cols);
    require(parts >= 1, who, ": number of parts must be at least 1, got ", parts);
    require(static_cast<std::int64_t>(parts) <= static_cast<std::int64_t>(adjacency.rows), who, ": ", parts,
            " parts requested for a graph of ", adjacency.rows, " nodes (parts must not exceed nodes)");
}

// Work attributed to row r: its non-zeros plus one for the node itself.
template <class Index, class Value, class Offset>
std::int64_t row_cost(const storage::csr<Index, Value, Offset>& adjacency, Index r) noexcept {
    return static_cast<std::int64_t>(adjacency.row_end(r) - adjacency.row_begin(r)) + 1;
}

// Target shares of the total row cost, one per part, for the partitioners that take
// them (block, random, metis, fennel; the load balancer's re-cut): `targets` empty means
// equal shares, else `parts` finite positive numbers, returned scaled to sum to 1.
inline std::vector<double> target_shares(std::span<const double> targets, int parts, std::string_view who) {
    const auto np = static_cast<std::size_t>(parts);
    if (targets.empty()) return std::vector<double>(np, 1.0 / double(parts));
    require(targets.size() == np, who, ": ", targets.size(), " target shares for ", parts, " parts");
    double total = 0;
    for (std::size_t p = 0; p < np; ++p) {
        require(std::isfinite(targets[p]) && targets[p] > 0, who, ": target share of part ", p, " is ", targets[p],
                ", expected a finite number > 0");
        total += targets[p];
    }
    std::vector<double> out(targets.begin(), targets.end());
    for (auto& t : out) t /= total;
    return out;
}

// Makes every part of `owner` non-empty: each empty part takes the cheapest node (lowest
// id among equals) of the part with most nodes, which holds at least two because
// parts <= nodes. Moving a node out only lowers the donor's cost. For the partitioners
// that do not guarantee non-empty parts (METIS with target shares, a streaming pass).
template <class Index, class Value, class Offset>
void fill_empty_parts(const storage::csr<Index, Value, Offset>& adjacency, std::vector<int>& owner, int parts) {
    std::vector<std::int64_t> nodes(static_cast<std::size_t>(parts), 0);
    for (const int o : owner) ++nodes[static_cast<std::size_t>(o)];
    for (std::size_t e = 0; e < nodes.size(); ++e) {
        if (nodes[e] > 0) continue;
        std::size_t donor = 0;
        for (std::size_t p = 1; p < nodes.size(); ++p)
            if (nodes[p] > nodes[donor]) donor = p;
        Index pick = 0;
        std::int64_t pick_cost = -1;
        for (Index r = 0; r < adjacency.rows; ++r)
            if (owner[static_cast<std::size_t>(r)] == static_cast<int>(donor)) {
                const std::int64_t rc = row_cost(adjacency, r);
                if (pick_cost < 0 || rc < pick_cost) {
                    pick = r;
                    pick_cost = rc;
                }
            }
        owner[static_cast<std::size_t>(pick)] = static_cast<int>(e);
        --nodes[donor];
        ++nodes[e];
    }
}

}  // namespace mixgcn::partition
