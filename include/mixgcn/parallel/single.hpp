#pragma once
// The `single` strategy: one process holds the whole graph. It is the reference every
// distributed strategy must reproduce, and the smallest strategy surface
// (core/strategy.hpp): every row, every column, rows numbered by their global id, the
// row-layout defaults for the dense update and the loss, nothing to reduce.
#include <concepts>
#include <cstdint>
#include <span>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/identity.hpp"
#include "mixgcn/core/strategy.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/parallel/report.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::parallel {

template <class B, class V, class Index = index_t>
class single {
public:
    using backend_type = B;
    using value_type = V;

    // `op` is a graph::gcn_operator, or its twin in the backend's memory (for
    // backend::cuda, gpu::device_gcn_operator); it must outlive the strategy.
    template <class Op>
        requires requires(const Op& o) {
            { o.forward() } -> std::convertible_to<storage::sparse_view<Index, V>>;
            { o.backward() } -> std::convertible_to<storage::sparse_view<Index, V>>;
        }
    explicit single(const Op& op) : forward_(op.forward()), backward_(op.backward()) {
        if constexpr (requires { op.identity.value(); }) identity_ = op.identity.value();
    }
    static constexpr const char* name() { return "single"; }

    Index rows() const noexcept { return forward_.rows; }
    column_slice columns(std::size_t width) const noexcept { return {0, width}; }
    dropout_index row_ids() const noexcept { return {}; }
    // Two single strategies over one operator compute the same products.
    std::uint64_t product_identity() const noexcept { return identity_; }
    void forward(const_matrix_view<V> x, matrix_view<V> y) { B::aggregate(forward_, x, y); }
    void backward(const_matrix_view<V> dy, matrix_view<V> dx) { B::aggregate(backward_, dy, dx); }
    template <class T>
    void sum(std::span<T>) {}
    // One rank: nothing to reduce, wherever the gradients live.
    template <class Param>
    void reduce_gradients(std::span<Param* const>) {}

    // The inputs are the dataset itself: a view of its features, its labels and split.
    template <class Dataset>
    auto local_inputs(const Dataset& ds) const {
        strategy_inputs<V> in;
        in.borrowed = ds.features.cview();
        in.labels = ds.labels;
        for (std::size_t v = 0; v < ds.split.size(); ++v) {
            if (ds.split[v] == split_role::train) in.train.push_back(index_t(v));
            if (ds.split[v] == split_role::val) in.val.push_back(index_t(v));
            if (ds.split[v] == split_role::test) in.test.push_back(index_t(v));
        }
        return in;
    }
    strategy_report report() const {
        strategy_report r;
        r.strategy = name();
        r.owned_nodes = static_cast<std::size_t>(forward_.rows);
        r.local_nonzeros = forward_.nnz();
        return r;
    }
    int rank() const noexcept { return 0; }
    int ranks() const noexcept { return 1; }

private:
    storage::sparse_view<Index, V> forward_, backward_;
    std::uint64_t identity_ = object_identity().value();  // the operator's, when it has one
};

}  // namespace mixgcn::parallel
