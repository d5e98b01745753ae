#pragma once
// One mini-batch of the `data` strategy: the subgraph induced by a node set, normalised on
// its own, with the rows of features/labels it needs and the local rows of its training
// nodes. Private to parallel/data.hpp and train/cluster_trainer.hpp.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::parallel::detail {

template <class V>
struct data_batch {
    std::vector<index_t> nodes;  // global ids of the batch's rows, ascending
    ::mixgcn::graph::gcn_operator<index_t, V> op;
    dense_matrix<V> features;
    std::vector<std::int32_t> labels;
    std::vector<index_t> train;  // local rows of training nodes

    bool empty() const noexcept { return nodes.empty(); }
    // What the batch holds while it trains: its operator and ids, its feature and label rows.
    std::size_t graph_bytes() const noexcept {
        return op.bytes() + (nodes.capacity() + train.capacity()) * sizeof(index_t);
    }
    std::size_t row_bytes() const noexcept { return features.bytes() + labels.capacity() * sizeof(std::int32_t); }
};

// The subgraph of `adjacency` induced by `nodes` (global ids, any order, no repeats):
// every edge with both ends in the set is kept, then Â_b = D_b^-1/2 (A_b + I) D_b^-1/2 is
// built from the batch's own degrees (Cluster-GCN's choice; see docs/data-parallel.md).
// `local` is scratch of adjacency.rows entries, all -1 on entry and on return. Without
// `with_features` the batch's feature rows are left empty (a pipeline stage past the first
// reads its input from the stage before).
template <class V>
data_batch<V> induced_batch(const dataset<V>& ds, const storage::csr<index_t, V>& adjacency,
                            std::vector<index_t> nodes, std::vector<index_t>& local, bool with_features = true) {
    data_batch<V> b;
    std::sort(nodes.begin(), nodes.end());
    require(std::adjacent_find(nodes.begin(), nodes.end()) == nodes.end(), "data strategy: a batch lists a node twice");
    local.resize(static_cast<std::size_t>(adjacency.rows), -1);
    b.nodes = std::move(nodes);
    for (std::size_t i = 0; i < b.nodes.size(); ++i) local[static_cast<std::size_t>(b.nodes[i])] = index_t(i);
    storage::csr<index_t, V> sub;
    sub.rows = sub.cols = static_cast<index_t>(b.nodes.size());
    sub.row_ptr.assign(b.nodes.size() + 1, 0);
    const bool weighted = adjacency.has_values();
    for (std::size_t i = 0; i < b.nodes.size(); ++i) {
        const auto r = b.nodes[i];
        for (auto k = adjacency.row_ptr[static_cast<std::size_t>(r)]; k < adjacency.row_ptr[static_cast<std::size_t>(r) + 1]; ++k) {
            const auto c = local[static_cast<std::size_t>(adjacency.col_idx[static_cast<std::size_t>(k)])];
            if (c < 0) continue;
            sub.col_idx.push_back(c);
            if (weighted) sub.val.push_back(adjacency.val[static_cast<std::size_t>(k)]);
        }
        sub.row_ptr[i + 1] = static_cast<offset_t>(sub.col_idx.size());
    }
    for (auto v : b.nodes) local[static_cast<std::size_t>(v)] = -1;
    b.op = ::mixgcn::graph::gcn_normalize<V>(sub);
    sub = {};  // before the feature rows: the batch's peak is its operator and its rows
    const std::size_t d = with_features ? ds.features.cols() : 0;
    b.features.resize(with_features ? b.nodes.size() : 0, d);
    b.labels.resize(b.nodes.size());
    for (std::size_t i = 0; i < b.nodes.size(); ++i) {
        const auto v = static_cast<std::size_t>(b.nodes[i]);
        if (with_features) std::copy_n(ds.features.row(v), d, b.features.row(i));
        b.labels[i] = ds.labels[v];
        if (ds.split[v] == split_role::train) b.train.push_back(index_t(i));
    }
    return b;
}

}  // namespace mixgcn::parallel::detail
