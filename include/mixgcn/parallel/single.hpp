#pragma once
// The `single` strategy: one process holds the whole graph. It is the reference every
// distributed strategy must reproduce, and the shape of the strategy surface:
//   forward(x, y):  y = Â x  for the rows this rank owns
//   backward(dy, dx): dx = Âᵀ dy (gradient w.r.t. the owned rows of x)
//   sum(span): all-reduce (sum) of gradients and metrics across ranks
#include <concepts>
#include <span>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/graph/normalize.hpp"
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
    explicit single(const Op& op) : forward_(op.forward()), backward_(op.backward()) {}
    static constexpr const char* name() { return "single"; }

    Index rows() const noexcept { return forward_.rows; }
    void forward(const_matrix_view<V> x, matrix_view<V> y) { B::aggregate(forward_, x, y); }
    void backward(const_matrix_view<V> dy, matrix_view<V> dx) { B::aggregate(backward_, dy, dx); }
    template <class T>
    void sum(std::span<T>) {}
    int rank() const noexcept { return 0; }
    int ranks() const noexcept { return 1; }

private:
    storage::sparse_view<Index, V> forward_, backward_;
};

}  // namespace mixgcn::parallel
