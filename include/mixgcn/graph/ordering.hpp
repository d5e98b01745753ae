#pragma once
// Node orderings for locality: a permutation `order` with order[new] = old id. Numbering
// neighbours close together makes the aggregation's random X-row gathers hit rows a
// recent non-zero already brought into cache (docs/kernels.md, "Node ordering").
//
//   reverse_cuthill_mckee(a)   breadth-first from a low-degree peripheral node of each
//                              component, neighbours by increasing degree, reversed
//   degree_order(a)            decreasing degree (hubs' rows together), ties by id
//   random_order(n, g)         a uniformly random order (Fisher-Yates): ids as a crawl
//                              would give them, the baseline the others are measured on
//   part_order(owner)          nodes part by part (a partitioner's owners: community
//                              order when the parts are communities), ids within a part
//   inverse_permutation(order) new id of every old id; throws unless `order` is one
//   relabel(list, order)       the edge list in the new ids
//   permute(a, order)          the square csr in the new ids: P·A·Pᵀ, columns sorted
//   permute_nodes(ds, order)   a dataset in the new ids, in place (edges, feature rows,
//                              labels, split)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::graph {

// inverse[old] = new. Throws invalid_argument naming the first id that is out of range
// or repeated.
template <class Index>
std::vector<Index> inverse_permutation(std::span<const Index> order) {
    std::vector<Index> inverse(order.size(), Index(-1));
    for (std::size_t i = 0; i < order.size(); ++i) {
        const Index old = order[i];
        require(old >= 0 && static_cast<std::size_t>(old) < order.size(), "node order: entry ", i, " is ", old,
                ", outside [0, ", order.size(), ")");
        require(inverse[static_cast<std::size_t>(old)] == Index(-1), "node order: node ", old, " appears twice (at ",
                inverse[static_cast<std::size_t>(old)], " and ", i, ")");
        inverse[static_cast<std::size_t>(old)] = static_cast<Index>(i);
    }
    return inverse;
}

// Reverse Cuthill-McKee over the symmetric pattern of `a` (square). Each component
// starts from a pseudo-peripheral node: its lowest-degree unvisited node, moved once to
// the lowest-degree node of the last breadth-first level from there (George and Liu's
// heuristic, one step), which keeps the level sets, hence the bandwidth, narrow.
template <class I, class V, class O>
std::vector<I> reverse_cuthill_mckee(const storage::csr<I, V, O>& a) {
    require(a.rows == a.cols, "reverse_cuthill_mckee: the graph must be square, got ", a.rows, "x", a.cols);
    const auto n = static_cast<std::size_t>(a.rows);
    std::vector<I> order;
    order.reserve(n);
    std::vector<char> seen(n, 0);
    std::vector<I> by_degree(n), scratch;
    std::iota(by_degree.begin(), by_degree.end(), I(0));
    std::stable_sort(by_degree.begin(), by_degree.end(), [&](I x, I y) { return a.degree(x) < a.degree(y); });
    std::vector<int> level(n, -1);
    // Breadth-first from `root` into `out` (appended), neighbours by increasing degree;
    // `mark` is set on every node reached.
    auto bfs = [&](I root, std::vector<I>& out, std::vector<char>& mark) {
        const std::size_t first = out.size();
        out.push_back(root);
        mark[static_cast<std::size_t>(root)] = 1;
        for (std::size_t head = first; head < out.size(); ++head) {
            const I u = out[head];
            scratch.clear();
            for (I v : a.row_cols(u))
                if (!mark[static_cast<std::size_t>(v)]) {
                    mark[static_cast<std::size_t>(v)] = 1;
                    scratch.push_back(v);
                }
            std::stable_sort(scratch.begin(), scratch.end(), [&](I x, I y) { return a.degree(x) < a.degree(y); });
            out.insert(out.end(), scratch.begin(), scratch.end());
        }
    };
    std::vector<I> probe;
    std::vector<char> probe_mark(n, 0);
    for (I start : by_degree) {
        if (seen[static_cast<std::size_t>(start)]) continue;
        // One George-Liu step: the lowest-degree node of the farthest level from `start`.
        probe.clear();
        bfs(start, probe, probe_mark);
        level[static_cast<std::size_t>(start)] = 0;
        for (I u : probe)
            for (I v : a.row_cols(u))
                if (level[static_cast<std::size_t>(v)] < 0)
                    level[static_cast<std::size_t>(v)] = level[static_cast<std::size_t>(u)] + 1;
        // BFS order lists levels in turn: the last level is the tail of `probe`.
        const int far = level[static_cast<std::size_t>(probe.back())];
        I root = probe.back();
        for (I u : probe)
            if (level[static_cast<std::size_t>(u)] == far && a.degree(u) < a.degree(root)) root = u;
        bfs(root, order, seen);
    }
    std::reverse(order.begin(), order.end());
    return order;
}

// Decreasing degree, ties by increasing id.
template <class I, class V, class O>
std::vector<I> degree_order(const storage::csr<I, V, O>& a) {
    std::vector<I> order(static_cast<std::size_t>(a.rows));
    std::iota(order.begin(), order.end(), I(0));
    std::stable_sort(order.begin(), order.end(), [&](I x, I y) { return a.degree(x) > a.degree(y); });
    return order;
}

// A uniformly random order of n nodes drawn from g (Fisher-Yates, the same draws as the
// generators' own scrambles).
template <class Index = index_t>
std::vector<Index> random_order(std::size_t n, rng& g) {
    std::vector<Index> order(n);
    std::iota(order.begin(), order.end(), Index(0));
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[g.below(i)]);
    return order;
}

// Nodes part by part, in increasing part id, by increasing id within a part. Throws
// invalid_argument naming the first negative part.
template <class Index = index_t>
std::vector<Index> part_order(std::span<const int> owner) {
    std::vector<Index> order(owner.size());
    std::iota(order.begin(), order.end(), Index(0));
    for (std::size_t v = 0; v < owner.size(); ++v)
        require(owner[v] >= 0, "part_order: node ", v, " has part ", owner[v]);
    const auto part = [&](Index v) { return owner[static_cast<std::size_t>(v)]; };
    std::stable_sort(order.begin(), order.end(), [&](Index x, Index y) { return part(x) < part(y); });
    return order;
}

// The same edges with every endpoint u renamed to its new id (inverse[u]).
template <class Index>
edge_list<Index> relabel(const edge_list<Index>& list, std::span<const Index> order) {
    require(order.size() == static_cast<std::size_t>(list.num_nodes), "relabel: an order of ", order.size(),
            " nodes for a graph of ", list.num_nodes);
    const auto inverse = inverse_permutation(order);
    edge_list<Index> out;
    out.num_nodes = list.num_nodes;
    out.edges.reserve(list.edges.size());
    for (const auto& [u, v] : list.edges) {
        require(u >= 0 && u < list.num_nodes && v >= 0 && v < list.num_nodes, "relabel: edge (", u, ", ", v,
                ") outside [0, ", list.num_nodes, ")");
        out.edges.emplace_back(inverse[static_cast<std::size_t>(u)], inverse[static_cast<std::size_t>(v)]);
    }
    return out;
}

// P·A·Pᵀ of a square csr: new row i is old row order[i] with every column renamed
// (inverse) and re-sorted; values travel with their columns. Rows are independent, so
// they are filled in parallel once the new row pointers are known.
template <class I, class V, class O>
storage::csr<I, V, O> permute(const storage::csr<I, V, O>& a, std::span<const I> order) {
    require(a.rows == a.cols, "permute: the graph must be square, got ", a.rows, "x", a.cols);
    require(order.size() == static_cast<std::size_t>(a.rows), "permute: an order of ", order.size(),
            " nodes for a graph of ", a.rows);
    const auto inverse = inverse_permutation(order);
    const auto n = static_cast<std::int64_t>(a.rows);
    storage::csr<I, V, O> out;
    out.rows = out.cols = a.rows;
    out.row_ptr.assign(static_cast<std::size_t>(n) + 1, O(0));
    for (std::int64_t i = 0; i < n; ++i)
        out.row_ptr[static_cast<std::size_t>(i) + 1] = out.row_ptr[static_cast<std::size_t>(i)] + O(a.degree(order[i]));
    out.col_idx.resize(a.nnz());
    if (a.has_values()) out.val.resize(a.nnz());
#pragma omp parallel
    {
        std::vector<std::pair<I, V>> row;  // (new column, value) of one row, for the sort
#pragma omp for schedule(dynamic, 1024)
        for (std::int64_t i = 0; i < n; ++i) {
            const I old = order[static_cast<std::size_t>(i)];
            const auto b = static_cast<std::size_t>(a.row_begin(old)), d = static_cast<std::size_t>(a.degree(old));
            const auto to = static_cast<std::size_t>(out.row_ptr[static_cast<std::size_t>(i)]);
            row.resize(d);
            for (std::size_t k = 0; k < d; ++k)
                row[k] = {inverse[static_cast<std::size_t>(a.col_idx[b + k])], a.has_values() ? a.val[b + k] : V(0)};
            std::sort(row.begin(), row.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
            for (std::size_t k = 0; k < d; ++k) {
                out.col_idx[to + k] = row[k].first;
                if (a.has_values()) out.val[to + k] = row[k].second;
            }
        }
    }
    return out;
}

// The dataset in the new ids, in place: node `order[i]` becomes node i in the edge
// list, the feature rows, the labels and the split. The feature rows move along the
// permutation's cycles through one row of scratch, so no second N x F matrix exists.
template <class V>
void permute_nodes(dataset<V>& ds, std::span<const index_t> order) {
    const auto n = static_cast<std::size_t>(ds.num_nodes());
    require(order.size() == n, ds.name, ": an order of ", order.size(), " nodes for ", n, " nodes");
    require(ds.features.rows() == n && ds.labels.size() == n && ds.split.size() == n, ds.name,
            ": features, labels or split do not have one entry per node (validate() it first)");
    const auto inverse = inverse_permutation(order);  // also checks that `order` is a permutation
    for (auto& [u, v] : ds.edges.edges) {
        require(u >= 0 && static_cast<std::size_t>(u) < n && v >= 0 && static_cast<std::size_t>(v) < n, ds.name,
                ": edge (", u, ", ", v, ") outside [0, ", n, ")");
        u = inverse[static_cast<std::size_t>(u)];
        v = inverse[static_cast<std::size_t>(v)];
    }
    const std::size_t f = ds.features.cols();
    std::vector<V> held(f);
    std::vector<char> placed(n, 0);
    for (std::size_t start = 0; start < n; ++start) {
        if (placed[start]) continue;
        // Cycle start -> order[start] -> ...: row i takes row order[i]'s values.
        std::copy_n(ds.features.row(start), f, held.data());
        std::size_t i = start;
        for (;;) {
            placed[i] = 1;
            const auto from = static_cast<std::size_t>(order[i]);
            if (from == start) {
                std::copy_n(held.data(), f, ds.features.row(i));
                break;
            }
            std::copy_n(ds.features.row(from), f, ds.features.row(i));
            i = from;
        }
    }
    std::vector<std::int32_t> labels(n);
    std::vector<split_role> split(n);
    for (std::size_t i = 0; i < n; ++i) {
        labels[i] = ds.labels[static_cast<std::size_t>(order[i])];
        split[i] = ds.split[static_cast<std::size_t>(order[i])];
    }
    ds.labels = std::move(labels);
    ds.split = std::move(split);
}

}  // namespace mixgcn::graph
