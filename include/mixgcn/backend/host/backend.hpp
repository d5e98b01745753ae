#pragma once
// The host backend: OpenMP threads, per-width vectorised aggregation, register-tiled GEMM. Same
// static surface, argument order and semantics as backend::reference, which is what
// its tests compare against.
#include <cstddef>
#include <cstdint>

#include "mixgcn/backend/host/aggregate.hpp"
#include "mixgcn/backend/host/elementwise.hpp"
#include "mixgcn/backend/host/gemm.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/dense.hpp"

namespace mixgcn::backend {

struct host {
    template <class V>
    using matrix = dense_matrix<V>;
    static constexpr const char* name() { return "host"; }

    // Y[first, last) = rows [first, last) of the operator times X; other rows of Y are
    // left untouched (the graph strategy aggregates interior and boundary rows apart).
    template <class I, class V, class O>
    static void aggregate_rows(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y,
                               I first, I last) {
        host_detail::aggregate_parallel(a, x, y, first, last);
    }
    template <class I, class V, class O>
    static void aggregate(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y) {
        host_detail::aggregate_parallel(a, x, y, I{0}, a.rows);
    }

    // c = alpha * op(a) * op(b) + beta * c; beta == 0 never reads c.
    template <class V>
    static void gemm(transpose ta, transpose tb, V alpha, const_matrix_view<V> a, const_matrix_view<V> b, V beta,
                     matrix_view<V> c) {
        host_detail::gemm(ta, tb, alpha, a, b, beta, c);
    }

    template <class V>
    static void bias_act(matrix_view<V> z, const V* bias, bool relu) {
        host_detail::bias_act(z, bias, relu);
    }
    template <class V>
    static void relu_backward(const_matrix_view<V> activated, matrix_view<V> grad) {
        host_detail::relu_backward(activated, grad);
    }
    template <class V>
    static void column_sum(const_matrix_view<V> x, V* out) {
        host_detail::column_sum(x, out);
    }
    template <class V>
    static void dropout(const_matrix_view<V> x, matrix_view<V> y, std::uint8_t* mask, V p, std::uint64_t seed,
                        dropout_index at) {
        host_detail::dropout(x, y, mask, p, seed, at);
    }
    template <class V>
    static void dropout_backward(matrix_view<V> grad, const std::uint8_t* mask, V p) {
        host_detail::dropout_backward(grad, mask, p);
    }
    template <class V>
    static void dropout_backward(matrix_view<V> grad, V p, std::uint64_t seed, dropout_index at) {
        host_detail::dropout_backward(grad, p, seed, at);
    }
    // Sum over the listed rows of -log softmax(logits)[label]; grad gets
    // scale · (softmax - onehot) on those rows and 0 elsewhere.
    template <class V>
    static double softmax_cross_entropy(const_matrix_view<V> logits, const std::int32_t* labels,
                                        const index_t* rows, std::size_t count, matrix_view<V> grad, V scale) {
        return host_detail::softmax_cross_entropy(logits, labels, rows, count, grad, scale);
    }
    template <class V>
    static std::size_t count_correct(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                                     std::size_t count) {
        return host_detail::count_correct(logits, labels, rows, count);
    }
    template <class V>
    static void scale_add(std::size_t n, V s, const V* x, V* y) {
        host_detail::scale_add(n, s, x, y);
    }
};

static_assert(mixgcn::execution_backend<host, float>, "backend::host must satisfy mixgcn::execution_backend for float.");
static_assert(mixgcn::execution_backend<host, double>, "backend::host must satisfy mixgcn::execution_backend for double.");

}  // namespace mixgcn::backend
