#pragma once
// A node-classification dataset as loaded from disk or generated: the raw edge list
// (cleaned later by graph::build_adjacency), dense features, labels and the split.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/graph/builder.hpp"

namespace mixgcn {

enum class split_role : std::uint8_t { none = 0, train = 1, val = 2, test = 3 };

template <class Value = float>
struct dataset {
    std::string name;
    graph::edge_list<index_t> edges;   // as given: may hold duplicates and self-loops
    dense_matrix<Value> features;      // num_nodes x feature width
    std::vector<std::int32_t> labels;  // one per node; -1 = unlabelled
    std::vector<split_role> split;     // one per node
    std::int32_t num_classes = 0;

    index_t num_nodes() const noexcept { return edges.num_nodes; }

    std::vector<index_t> nodes_with(split_role role) const {
        std::vector<index_t> out;
        for (std::size_t i = 0; i < split.size(); ++i)
            if (split[i] == role) out.push_back(static_cast<index_t>(i));
        return out;
    }

    // The rows `rank` owns under `owner` (one rank per node), ascending by global id,
    // with the whole edge list: what a loader that reads only this rank's rows yields,
    // and the form parallel::train_graph_parallel accepts for a partitioned start.
    dataset owned_rows(std::span<const int> owner, int rank) const {
        require(owner.size() == static_cast<std::size_t>(num_nodes()), name, ": owner vector has ", owner.size(),
                " entries for ", num_nodes(), " nodes");
        dataset out;
        out.name = name;
        out.edges = edges;
        out.num_classes = num_classes;
        std::vector<std::size_t> ids;
        for (std::size_t v = 0; v < owner.size(); ++v)
            if (owner[v] == rank) ids.push_back(v);
        out.features = dense_matrix<Value>(ids.size(), features.cols());
        for (std::size_t k = 0; k < ids.size(); ++k) {
            std::copy_n(features.row(ids[k]), features.cols(), out.features.row(k));
            out.labels.push_back(labels[ids[k]]);
            out.split.push_back(split[ids[k]]);
        }
        return out;
    }

    // Sizes agree, every node in train/val/test has a label in [0, num_classes).
    void validate() const {
        const auto n = static_cast<std::size_t>(num_nodes());
        require(features.rows() == n, name, ": ", features.rows(), " feature rows for ", n, " nodes");
        require(labels.size() == n, name, ": ", labels.size(), " labels for ", n, " nodes");
        require(split.size() == n, name, ": ", split.size(), " split entries for ", n, " nodes");
        require(num_classes >= 1, name, ": no classes");
        for (std::size_t i = 0; i < n; ++i) {
            require(labels[i] >= -1 && labels[i] < num_classes, name, ": node ", i, " has label ", labels[i],
                    " outside [-1, ", num_classes, ")");
            require(split[i] == split_role::none || labels[i] >= 0, name, ": node ", i,
                    " is in a split but has no label");
        }
    }
};

}  // namespace mixgcn
