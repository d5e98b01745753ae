#pragma once
// The strategy seam: a parallel strategy owns how a layer is laid out across ranks.
//
// A layer step is dropout, the sparse product (Â·H, Âᵀ·dZ), the dense update (H·W and
// its backward), bias and activation, and the gradient reduction. The layer does the
// arithmetic on whatever block of each activation this rank holds; the strategy says
// which block that is and performs the steps that cross ranks:
//
//   rows()            rows of every activation block on this rank (all layers)
//   columns(w)        which columns of a width-w activation this rank holds
//   row_ids()         global ids of those rows (dropout masks, from them: masks are a
//                     pure function of (seed, global row, global column))
//   forward / backward   the sparse products Â·x and Âᵀ·dy in that layout
//   sum(span)         all-reduce of metrics (and, by default, gradients)
//
// and, optionally (seam:: below falls back to the row-layout default when absent):
//
//   dense_forward(h, w, z)             z = h·W     default B::gemm with the full W
//   dense_backward(h, dz, w, dw, dh)   dW = hᵀ·dz, dh = dz·Wᵀ
//   reduce_gradients(params)           default: one bucketed all-reduce per step
//   to_rows(logits) / from_rows(dlogits)   logits in row layout for the loss
//   begin_layer(l)                     which layer the next calls belong to (figures)
//   product_identity()                 what a cache of forward()'s results may key on
//
// Kernels know no ranks and layers know no communicators: only the strategy does.
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/types.hpp"

namespace mixgcn {

enum class transpose : bool;

// Columns [begin, begin + count) of an activation, the block one rank holds.
struct column_slice {
    std::size_t begin = 0, count = 0;
    friend bool operator==(const column_slice&, const column_slice&) = default;
};

// Parallel strategy: the layout of a layer across ranks and the steps that cross them.
template <class S>
concept parallel_strategy = requires(S s, const S& cs, const_matrix_view<typename S::value_type> x,
                                     matrix_view<typename S::value_type> y, std::span<double> d,
                                     std::span<typename S::value_type> v, std::size_t width) {
    typename S::backend_type;
    typename S::value_type;
    { S::name() } -> std::convertible_to<const char*>;
    { cs.rows() } -> std::convertible_to<std::size_t>;
    { cs.columns(width) } -> std::same_as<column_slice>;
    { cs.row_ids() } -> std::convertible_to<dropout_index>;
    s.forward(x, y);
    s.backward(x, y);
    s.sum(d);
    s.sum(v);
    { cs.rank() } -> std::convertible_to<int>;
    { cs.ranks() } -> std::convertible_to<int>;
};

// The customisation points, each with the row-layout default (the whole width on every
// rank, W replicated) used by single, graph and data.
namespace seam {

template <class S>
void begin_layer(S& s, std::size_t layer) {
    if constexpr (requires { s.begin_layer(layer); }) s.begin_layer(layer);
}

// z = h·W, h and z in the strategy's layout, W the whole (replicated) weight.
template <class S, class V>
void dense_forward(S& s, const_matrix_view<V> h, const_matrix_view<V> w, matrix_view<V> z) {
    if constexpr (requires { s.dense_forward(h, w, z); }) {
        s.dense_forward(h, w, z);
    } else {
        S::backend_type::gemm(transpose{false}, transpose{false}, V(1), h, w, V(0), z);
    }
}

// dW = hᵀ·dz (the rows of dW this rank computes; reduce_gradients completes it) and,
// when asked, dh = dz·Wᵀ in the strategy's layout.
template <class S, class V>
void dense_backward(S& s, const_matrix_view<V> h, const_matrix_view<V> dz, const_matrix_view<V> w,
                    matrix_view<V> dw, std::optional<matrix_view<V>> dh) {
    if constexpr (requires { s.dense_backward(h, dz, w, dw, dh); }) {
        s.dense_backward(h, dz, w, dw, dh);
    } else {
        using B = typename S::backend_type;
        B::gemm(transpose{true}, transpose{false}, V(1), h, dz, V(0), dw);
        if (dh) B::gemm(transpose{false}, transpose{true}, V(1), dz, w, V(0), *dh);
    }
}

// Gradients summed over ranks. Default: every parameter is replicated, and one
// all-reduce over a bucket holding all of them replaces one collective per tensor. The
// bucket is host memory: a strategy over device memory with several ranks overrides this.
template <class S, class Param>
void reduce_gradients(S& s, std::span<Param* const> params) {
    if constexpr (requires { s.reduce_gradients(params); }) {
        s.reduce_gradients(params);
    } else {
        if constexpr (requires { S::backend_type::host_accessible; })
            static_assert(bool(S::backend_type::host_accessible),
                          "a strategy over device memory reduces its gradients itself (reduce_gradients): the "
                          "default sums a host bucket");
        if (s.ranks() <= 1) return;
        using V = typename S::value_type;
        std::size_t n = 0;
        for (const auto* p : params) n += p->size();
        std::vector<V> bucket(n);
        std::size_t at = 0;
        for (const auto* p : params) {
            std::copy_n(p->grad.data(), p->size(), bucket.data() + at);
            at += p->size();
        }
        s.sum(std::span<V>(bucket));
        at = 0;
        for (auto* p : params) {
            std::copy_n(bucket.data() + at, p->size(), p->grad.data());
            at += p->size();
        }
    }
}

// The logits in row layout (this rank's rows, every class), for the loss and accuracy.
template <class S, class V>
const_matrix_view<V> to_rows(S& s, const_matrix_view<V> logits) {
    if constexpr (requires { s.to_rows(logits); }) return s.to_rows(logits);
    else return logits;
}
// The loss gradient, given in row layout, in the strategy's layout for backward.
template <class S, class V>
matrix_view<V> from_rows(S& s, matrix_view<V> dlogits) {
    if constexpr (requires { s.from_rows(dlogits); }) return s.from_rows(dlogits);
    else return dlogits;
}

// Equal for two strategies whose forward() gives the same result on the same input
// (the same operator in the same layout), and never reused for another; 0 when the
// strategy does not say, and then nothing keyed on it is cached.
template <class S>
std::uint64_t product_identity(const S& s) {
    if constexpr (requires { { s.product_identity() } -> std::convertible_to<std::uint64_t>; }) return s.product_identity();
    else return 0;
}

// Rows of the row layout the loss sees (== rows() unless the strategy redistributes).
template <class S>
std::size_t loss_rows(const S& s) {
    if constexpr (requires { s.loss_rows(); }) return s.loss_rows();
    else return s.rows();
}

}  // namespace seam
}  // namespace mixgcn
