#pragma once
// Internal: the undirected, loop-free, weighted view of an adjacency that graph
// partitioners work on (METIS requires it; the Laplacian of a spectral method needs a
// symmetric pattern). Node weight = row cost of the original row.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "mixgcn/partition/common.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::partition::detail {

template <class Index>
struct undirected {
    std::vector<std::int64_t> ptr{0};
    std::vector<Index> adj;
    std::vector<std::int64_t> weight;  // per node
    std::vector<Index> global;         // id of each node in the original graph

    Index size() const noexcept { return static_cast<Index>(weight.size()); }
    std::span<const Index> neighbours(Index v) const noexcept {
        const auto b = ptr[static_cast<std::size_t>(v)], e = ptr[static_cast<std::size_t>(v) + 1];
        return {adj.data() + b, static_cast<std::size_t>(e - b)};
    }
    std::int64_t degree(Index v) const noexcept {
        return ptr[static_cast<std::size_t>(v) + 1] - ptr[static_cast<std::size_t>(v)];
    }
    std::int64_t total_weight() const noexcept {
        std::int64_t s = 0;
        for (auto w : weight) s += w;
        return s;
    }
};

// Union of A and Aᵀ without self loops, columns sorted and unique.
template <class Index, class Value, class Offset>
undirected<Index> symmetrize(const storage::csr<Index, Value, Offset>& a) {
    const auto n = static_cast<std::size_t>(a.rows);
    undirected<Index> g;
    g.weight.resize(n);
    g.global.resize(n);
    std::vector<std::int64_t> count(n + 1, 0);
    for (Index r = 0; r < a.rows; ++r) {
        g.weight[static_cast<std::size_t>(r)] = row_cost(a, r);
        g.global[static_cast<std::size_t>(r)] = r;
        for (Index c : a.row_cols(r))
            if (c != r) {
                ++count[static_cast<std::size_t>(r) + 1];
                ++count[static_cast<std::size_t>(c) + 1];
            }
    }
    for (std::size_t i = 0; i < n; ++i) count[i + 1] += count[i];
    std::vector<Index> cols(static_cast<std::size_t>(count.back()));
    std::vector<std::int64_t> next(count.begin(), count.end() - 1);
    for (Index r = 0; r < a.rows; ++r)
        for (Index c : a.row_cols(r))
            if (c != r) {
                cols[static_cast<std::size_t>(next[static_cast<std::size_t>(r)]++)] = c;
                cols[static_cast<std::size_t>(next[static_cast<std::size_t>(c)]++)] = r;
            }
    g.ptr.assign(n + 1, 0);
    g.adj.reserve(cols.size());
    for (std::size_t r = 0; r < n; ++r) {
        auto b = cols.begin() + count[r], e = cols.begin() + count[r + 1];
        std::sort(b, e);
        g.adj.insert(g.adj.end(), b, std::unique(b, e));
        g.ptr[r + 1] = static_cast<std::int64_t>(g.adj.size());
    }
    return g;
}

// Subgraph induced by `nodes` (ids of g), renumbered in the order given. `map` is scratch
// of g.size() entries, all -1 on entry and on exit.
template <class Index>
undirected<Index> induced(const undirected<Index>& g, std::span<const Index> nodes, std::vector<Index>& map) {
    undirected<Index> s;
    s.weight.reserve(nodes.size());
    s.global.reserve(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) map[static_cast<std::size_t>(nodes[i])] = static_cast<Index>(i);
    s.ptr.reserve(nodes.size() + 1);
    for (Index v : nodes) {
        s.weight.push_back(g.weight[static_cast<std::size_t>(v)]);
        s.global.push_back(g.global[static_cast<std::size_t>(v)]);
        for (Index u : g.neighbours(v))
            if (map[static_cast<std::size_t>(u)] >= 0) s.adj.push_back(map[static_cast<std::size_t>(u)]);
        // Neighbour lists stay sorted only when `nodes` is increasing; nothing here needs it.
        s.ptr.push_back(static_cast<std::int64_t>(s.adj.size()));
    }
    for (Index v : nodes) map[static_cast<std::size_t>(v)] = -1;
    return s;
}

// Connected components numbered in order of their smallest node id.
template <class Index>
std::vector<Index> components(const undirected<Index>& g, Index& count) {
    const auto n = static_cast<std::size_t>(g.size());
    std::vector<Index> comp(n, -1);
    std::vector<Index> stack;
    count = 0;
    for (std::size_t s = 0; s < n; ++s) {
        if (comp[s] >= 0) continue;
        comp[s] = count;
        stack.assign(1, static_cast<Index>(s));
        while (!stack.empty()) {
            const Index v = stack.back();
            stack.pop_back();
            for (Index u : g.neighbours(v))
                if (comp[static_cast<std::size_t>(u)] < 0) {
                    comp[static_cast<std::size_t>(u)] = count;
                    stack.push_back(u);
                }
        }
        ++count;
    }
    return comp;
}

}  // namespace mixgcn::partition::detail
