#pragma once
// mixgcn::backend::cuda: the execution-backend policy for NVIDIA GPUs. The same static
// surface as backend::reference (core/concepts.hpp), where every view and pointer refers
// to device memory and `matrix<V>` is a device_matrix; host data crosses over only
// through the explicit helpers gpu::to_device / to_host / upload / download.
// Work is queued on the current gpu::context's stream; functions that return a value to
// the host (loss, count) synchronise it.
#include <cstddef>
#include <cstdint>

#include "mixgcn/backend/cuda/aggregate.cuh"
#include "mixgcn/backend/cuda/dense.cuh"
#include "mixgcn/backend/cuda/device_matrix.cuh"
#include "mixgcn/backend/cuda/elementwise.cuh"
#include "mixgcn/backend/cuda/reduce.cuh"
#include "mixgcn/backend/cuda/rows.cuh"
#include "mixgcn/core/concepts.hpp"

namespace mixgcn::backend {

struct cuda {
    template <class V>
    using matrix = ::mixgcn::gpu::device_matrix<V>;
    template <class T>
    using array = ::mixgcn::gpu::device_array<T>;
    static constexpr const char* name() { return "cuda"; }
    // Device memory: nn and train move data across with upload / download (backend/memory.hpp).
    static constexpr bool host_accessible = false;

    // One-row views through gpu::upload / gpu::download, the backend's one copy path.
    template <class T>
    static void upload(const T* host, std::size_t n, T* device) {
        if (n == 0) return;  // nothing to copy, nothing to wait for
        ::mixgcn::gpu::upload<T>(const_matrix_view<T>(host, 1, n), matrix_view<T>(device, 1, n));
        // The host buffer may be a temporary: the copy must finish before it goes.
        ::mixgcn::gpu::current_context().synchronize();
    }
    template <class T>
    static void download(const T* device, std::size_t n, T* host) {
        ::mixgcn::gpu::download<T>(const_matrix_view<T>(device, 1, n), matrix_view<T>(host, 1, n));
    }

    template <class I, class V, class O>
    static void aggregate_rows(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y,
                               I first, I last) {
        ::mixgcn::gpu::aggregate_rows(a, x, y, first, last);
    }
    template <class I, class V, class O>
    static void aggregate(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y) {
        ::mixgcn::gpu::aggregate(a, x, y);
    }
    template <class V>
    static void gemm(transpose ta, transpose tb, V alpha, const_matrix_view<V> a, const_matrix_view<V> b, V beta,
                     matrix_view<V> c) {
        ::mixgcn::gpu::gemm(ta, tb, alpha, a, b, beta, c);
    }
    template <class V>
    static void bias_act(matrix_view<V> z, const V* bias, bool relu) {
        ::mixgcn::gpu::bias_act(z, bias, relu);
    }
    template <class V>
    static void bias_act_dropout(matrix_view<V> z, const V* bias, bool relu, matrix_view<V> out, std::uint8_t* mask,
                                 V p, std::uint64_t seed, dropout_index at) {
        ::mixgcn::gpu::bias_act_dropout(z, bias, relu, out, mask, p, seed, at);
    }
    template <class V>
    static void relu_backward(const_matrix_view<V> activated, matrix_view<V> grad) {
        ::mixgcn::gpu::relu_backward(activated, grad);
    }
    template <class V>
    static void column_sum(const_matrix_view<V> x, V* out) {
        ::mixgcn::gpu::column_sum(x, out);
    }
    template <class V>
    static void dropout(const_matrix_view<V> x, matrix_view<V> y, std::uint8_t* mask, V p, std::uint64_t seed,
                        dropout_index at) {
        ::mixgcn::gpu::dropout(x, y, mask, p, seed, at);
    }
    template <class V>
    static void dropout_backward(matrix_view<V> grad, const std::uint8_t* mask, V p) {
        ::mixgcn::gpu::dropout_backward(grad, mask, p);
    }
    template <class V>
    static void dropout_backward(matrix_view<V> grad, V p, std::uint64_t seed, dropout_index at) {
        ::mixgcn::gpu::dropout_backward(grad, p, seed, at);
    }
    template <class V>
    static double softmax_cross_entropy(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                                        std::size_t count, matrix_view<V> grad, V scale) {
        return ::mixgcn::gpu::softmax_cross_entropy(logits, labels, rows, count, grad, scale);
    }
    template <class V>
    static std::size_t count_correct(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                                     std::size_t count) {
        return ::mixgcn::gpu::count_correct(logits, labels, rows, count);
    }
    template <class V>
    static void scale_add(std::size_t n, V s, const V* x, V* y) {
        ::mixgcn::gpu::scale_add(n, s, x, y);
    }
    template <class V>
    static void adam(std::size_t n, V* param, const V* grad, V* m, V* v, std::uint64_t step,
                     ::mixgcn::gpu::adam_options o = {}) {
        ::mixgcn::gpu::adam(n, param, grad, m, v, step, o);
    }
    template <class V>
    static void adam_step(std::size_t n, V* param, const V* grad, V* m, V* v,
                          const ::mixgcn::backend::update_coefficients<V>& k) {
        ::mixgcn::gpu::adam_step(n, param, grad, m, v, k);
    }
    template <class V>
    static void sgd_step(std::size_t n, V* param, const V* grad, V* m,
                         const ::mixgcn::backend::update_coefficients<V>& k) {
        ::mixgcn::gpu::sgd_step(n, param, grad, m, k);
    }
    // The distributed strategies' row moves (backend/row_moves.hpp) and the L2 term's sum.
    template <class V>
    static void copy_rows(const_matrix_view<V> src, matrix_view<V> dst) {
        ::mixgcn::gpu::copy_rows(src, dst);
    }
    template <class V>
    static void gather_rows(const_matrix_view<V> x, const index_t* rows, matrix_view<V> out) {
        ::mixgcn::gpu::gather_rows(x, rows, out);
    }
    template <class V>
    static void add_row_lists(const_matrix_view<V> src, const offset_t* ptr, const index_t* pos, matrix_view<V> dst) {
        ::mixgcn::gpu::add_row_lists(src, ptr, pos, dst);
    }
    template <class V>
    static void fill_zero(matrix_view<V> dst) {
        ::mixgcn::gpu::fill_zero(dst);
    }
    template <class V>
    static double sum_of_squares(std::size_t n, const V* x) {
        return ::mixgcn::gpu::sum_of_squares(n, x);
    }
    static void synchronize() { ::mixgcn::gpu::current_context().synchronize(); }
};

static_assert(::mixgcn::execution_backend<cuda, float>, "backend::cuda must satisfy mixgcn::execution_backend for float.");
static_assert(::mixgcn::execution_backend<cuda, double>,
              "backend::cuda must satisfy mixgcn::execution_backend for double.");

}  // namespace mixgcn::backend
