#pragma once
// Turns a raw edge list (as loaded or generated) into a clean adjacency: ids validated,
// duplicates dropped, optionally symmetrised, self-loops removed or added.
#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"
#include "mixgcn/storage/convert.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::graph {

enum class self_loops { keep, remove, add };

struct build_options {
    bool symmetrize = true;
    self_loops loops = self_loops::remove;
};

// A list of directed or undirected edges between `num_nodes` nodes.
template <index_type Index = index_t>
struct edge_list {
    Index num_nodes = 0;
    std::vector<std::pair<Index, Index>> edges;
};

struct build_report {
    std::size_t input_edges = 0;
    std::size_t duplicates_dropped = 0;
    std::size_t self_loops_dropped = 0;
    std::size_t self_loops_added = 0;
};

// Builds a pattern csr (no values). Throws invalid_argument naming the first edge whose
// id lies outside [0, num_nodes).
template <index_type Index = index_t, class Value = float>
storage::csr<Index, Value> build_adjacency(const edge_list<Index>& list, build_options opt = {},
                                           build_report* report = nullptr) {
    const Index n = list.num_nodes;
    require(n >= 0, "build_adjacency: negative node count ", n);
    build_report rep;
    rep.input_edges = list.edges.size();
    std::vector<offset_t> count(static_cast<std::size_t>(n) + 1, 0);
    auto keep = [&](Index u, Index v) { return !(u == v && opt.loops != self_loops::keep); };
    for (std::size_t k = 0; k < list.edges.size(); ++k) {
        const auto [u, v] = list.edges[k];
        require(u >= 0 && u < n && v >= 0 && v < n, "build_adjacency: edge ", k, " (", u, ", ", v,
                ") has a node id outside [0, ", n, ")");
        if (!keep(u, v)) continue;
        ++count[static_cast<std::size_t>(u) + 1];
        if (opt.symmetrize && u != v) ++count[static_cast<std::size_t>(v) + 1];
    }
    if (opt.loops == self_loops::add)
        for (Index i = 0; i < n; ++i) ++count[static_cast<std::size_t>(i) + 1];
    std::partial_sum(count.begin(), count.end(), count.begin());
    std::vector<Index> cols(static_cast<std::size_t>(count.back()));
    std::vector<offset_t> next(count.begin(), count.end() - 1);
    std::size_t loops_seen = 0;
    for (const auto& [u, v] : list.edges) {
        if (u == v) ++loops_seen;
        if (!keep(u, v)) continue;
        cols[static_cast<std::size_t>(next[static_cast<std::size_t>(u)]++)] = v;
        if (opt.symmetrize && u != v) cols[static_cast<std::size_t>(next[static_cast<std::size_t>(v)]++)] = u;
    }
    if (opt.loops == self_loops::add)
        for (Index i = 0; i < n; ++i) cols[static_cast<std::size_t>(next[static_cast<std::size_t>(i)]++)] = i;

    storage::csr<Index, Value> a;
    a.rows = a.cols = n;
    a.row_ptr.assign(static_cast<std::size_t>(n) + 1, 0);
    a.col_idx.reserve(cols.size());
    for (Index r = 0; r < n; ++r) {
        auto b = cols.begin() + count[static_cast<std::size_t>(r)];
        auto e = cols.begin() + count[static_cast<std::size_t>(r) + 1];
        std::sort(b, e);
        auto last = std::unique(b, e);
        a.col_idx.insert(a.col_idx.end(), b, last);
        a.row_ptr[static_cast<std::size_t>(r) + 1] = static_cast<offset_t>(a.col_idx.size());
    }
    if (opt.loops == self_loops::remove) rep.self_loops_dropped = loops_seen;
    if (opt.loops == self_loops::add) rep.self_loops_added = static_cast<std::size_t>(n);
    // Whatever the entry count lost beyond removed loops are duplicates (incl. both
    // directions of an undirected edge listed twice).
    const std::size_t produced = static_cast<std::size_t>(count.back());
    rep.duplicates_dropped = produced - a.col_idx.size();
    if (report) *report = rep;
    return a;
}

}  // namespace mixgcn::graph
