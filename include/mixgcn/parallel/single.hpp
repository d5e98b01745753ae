#pragma once
// The `single` strategy: one process holds the whole graph. It is the reference every
// distributed strategy must reproduce, and the shape of the strategy surface:
//   forward(x, y):  y = Â x  for the rows this rank owns
//   backward(dy, dx): dx = Âᵀ dy (gradient w.r.t. the owned rows of x)
//   sum(span): all-reduce (sum) of gradients and metrics across ranks
#include <span>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/graph/normalize.hpp"

namespace mixgcn::parallel {

template <class B, class V, class Index = index_t>
class single {
public:
    using backend_type = B;
    using value_type = V;

    explicit single(const ::mixgcn::graph::gcn_operator<Index, V>& op) : op_(&op) {}
    static constexpr const char* name() { return "single"; }

    Index rows() const noexcept { return op_->a.rows; }
    void forward(const_matrix_view<V> x, matrix_view<V> y) { B::aggregate(op_->forward(), x, y); }
    void backward(const_matrix_view<V> dy, matrix_view<V> dx) { B::aggregate(op_->backward(), dy, dx); }
    template <class T>
    void sum(std::span<T>) {}
    int rank() const noexcept { return 0; }
    int ranks() const noexcept { return 1; }

private:
    const ::mixgcn::graph::gcn_operator<Index, V>* op_;
};

}  // namespace mixgcn::parallel
