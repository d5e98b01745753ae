#pragma once
// Checks and quantities shared by every partitioner: argument validation and the row
// cost (degree + 1) that the balancing methods equalise. The +1 accounts for the dense
// per-node work (the node's own feature row and the H·W update), so isolated nodes are
// not free.
#include <cstdint>
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

}  // namespace mixgcn::partition
