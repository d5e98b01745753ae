#pragma once
// The reference backend: simple loops, nothing clever, accumulation in double. It is
// the oracle every fast backend is tested against; instantiate it with double for
// gradient checks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"

namespace mixgcn::backend {

struct reference {
    template <class V>
    using matrix = dense_matrix<V>;
    static constexpr const char* name() { return "reference"; }

    template <class I, class V, class O>
    static void aggregate_rows(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x,
                               matrix_view<V> y, I first, I last) {
        check_aggregate_shapes(a, x, y);
        for (I r = first; r < last; ++r)
            for (std::size_t c = 0; c < x.cols(); ++c) {
                double acc = 0;
                for (O k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k)
                    acc += double(a.weight(r, k)) * double(x(static_cast<std::size_t>(a.col_idx[k]), c));
                y(static_cast<std::size_t>(r), c) = static_cast<V>(acc);
            }
    }
    template <class I, class V, class O>
    static void aggregate(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y) {
        aggregate_rows(a, x, y, I{0}, a.rows);
    }

    // c = alpha * op(a) * op(b) + beta * c
    template <class V>
    static void gemm(transpose ta, transpose tb, V alpha, const_matrix_view<V> a, const_matrix_view<V> b, V beta,
                     matrix_view<V> c) {
        const bool at = ta == transpose::yes, bt = tb == transpose::yes;
        const std::size_t m = at ? a.cols() : a.rows(), k = at ? a.rows() : a.cols();
        const std::size_t kb = bt ? b.cols() : b.rows(), n = bt ? b.rows() : b.cols();
        check_gemm_shapes(m, k, kb, n, c);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                double acc = 0;
                for (std::size_t l = 0; l < k; ++l)
                    acc += double(at ? a(l, i) : a(i, l)) * double(bt ? b(j, l) : b(l, j));
                c(i, j) = static_cast<V>(double(alpha) * acc + (beta == V(0) ? 0.0 : double(beta) * double(c(i, j))));
            }
    }

    template <class V>
    static void bias_act(matrix_view<V> z, const V* bias, bool relu) {
        for (std::size_t r = 0; r < z.rows(); ++r)
            for (std::size_t c = 0; c < z.cols(); ++c) {
                V v = z(r, c) + (bias ? bias[c] : V(0));
                z(r, c) = relu ? std::max(v, V(0)) : v;
            }
    }
    template <class V>
    static void relu_backward(const_matrix_view<V> activated, matrix_view<V> grad) {
        for (std::size_t r = 0; r < grad.rows(); ++r)
            for (std::size_t c = 0; c < grad.cols(); ++c)
                if (!(activated(r, c) > V(0))) grad(r, c) = V(0);
    }
    template <class V>
    static void column_sum(const_matrix_view<V> x, V* out) {
        for (std::size_t c = 0; c < x.cols(); ++c) {
            double acc = 0;
            for (std::size_t r = 0; r < x.rows(); ++r) acc += double(x(r, c));
            out[c] = static_cast<V>(acc);
        }
    }
    template <class V>
    static void dropout(const_matrix_view<V> x, matrix_view<V> y, std::uint8_t* mask, V p, std::uint64_t seed,
                        dropout_index at) {
        const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
        for (std::size_t r = 0; r < x.rows(); ++r)
            for (std::size_t c = 0; c < x.cols(); ++c) {
                const bool keep = dropout_keep(seed, at.row(r), at.col_offset + c, double(p));
                if (mask) mask[r * x.cols() + c] = keep;
                y(r, c) = keep ? x(r, c) * scale : V(0);
            }
    }
    template <class V>
    static void dropout_backward(matrix_view<V> grad, const std::uint8_t* mask, V p) {
        const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
        for (std::size_t r = 0; r < grad.rows(); ++r)
            for (std::size_t c = 0; c < grad.cols(); ++c)
                grad(r, c) = mask[r * grad.cols() + c] ? grad(r, c) * scale : V(0);
    }
    // The same without a stored mask: drawn again from (seed, global row, column).
    template <class V>
    static void dropout_backward(matrix_view<V> grad, V p, std::uint64_t seed, dropout_index at) {
        const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
        for (std::size_t r = 0; r < grad.rows(); ++r)
            for (std::size_t c = 0; c < grad.cols(); ++c)
                grad(r, c) = dropout_keep(seed, at.row(r), at.col_offset + c, double(p)) ? grad(r, c) * scale : V(0);
    }

    // Sum over the listed rows of -log softmax(logits)[label]; grad (same shape as
    // logits) gets scale * (softmax - onehot) on those rows and 0 elsewhere.
    template <class V>
    static double softmax_cross_entropy(const_matrix_view<V> logits, const std::int32_t* labels,
                                        const index_t* rows, std::size_t count, matrix_view<V> grad, V scale) {
        for (std::size_t r = 0; r < grad.rows(); ++r)
            for (std::size_t c = 0; c < grad.cols(); ++c) grad(r, c) = V(0);
        double loss = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const auto r = static_cast<std::size_t>(rows[i]);
            const auto y = labels[r];
            double mx = -std::numeric_limits<double>::infinity();
            for (std::size_t c = 0; c < logits.cols(); ++c) mx = std::max(mx, double(logits(r, c)));
            double sum = 0;
            for (std::size_t c = 0; c < logits.cols(); ++c) sum += std::exp(double(logits(r, c)) - mx);
            loss += std::log(sum) + mx - double(logits(r, static_cast<std::size_t>(y)));
            for (std::size_t c = 0; c < logits.cols(); ++c) {
                const double p = std::exp(double(logits(r, c)) - mx) / sum;
                grad(r, c) = static_cast<V>(double(scale) * (p - (c == static_cast<std::size_t>(y) ? 1.0 : 0.0)));
            }
        }
        return loss;
    }
    template <class V>
    static std::size_t count_correct(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                                     std::size_t count) {
        std::size_t ok = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const auto r = static_cast<std::size_t>(rows[i]);
            ok += argmax_row(logits, r) == static_cast<std::size_t>(labels[r]);
        }
        return ok;
    }
    template <class V>
    static void scale_add(std::size_t n, V s, const V* x, V* y) {
        for (std::size_t i = 0; i < n; ++i) y[i] += s * x[i];
    }
};

}  // namespace mixgcn::backend
