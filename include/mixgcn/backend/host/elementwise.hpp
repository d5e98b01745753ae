#pragma once
// Row-parallel elementwise kernels of the host backend: bias + activation, ReLU
// backward, column sums, dropout, softmax cross-entropy, accuracy and axpy. Results
// equal the reference backend's: the dropout mask is the shared counter-based hash,
// argmax uses the shared tie rule, and sums that the reference does in double are done
// in double here, reduced in thread order so a run is deterministic for a thread count.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/backend/host/threading.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/row_list.hpp"
#include "mixgcn/core/types.hpp"

namespace mixgcn::backend::host_detail {

template <class V>
void bias_act(matrix_view<V> z, const V* bias, bool relu) {
    const std::size_t d = z.cols();
    parallel_blocks(z.rows(), z.size(), [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
        for (std::size_t r = b; r < e; ++r) {
            V* row = z.row(r);
            if (bias && relu) {
#pragma omp simd
                for (std::size_t c = 0; c < d; ++c) row[c] = std::max(row[c] + bias[c], V(0));
            } else if (bias) {
#pragma omp simd
                for (std::size_t c = 0; c < d; ++c) row[c] += bias[c];
            } else if (relu) {
#pragma omp simd
                for (std::size_t c = 0; c < d; ++c) row[c] = std::max(row[c], V(0));
            }
        }
    });
}

template <class V>
void relu_backward(const_matrix_view<V> activated, matrix_view<V> grad) {
    require(activated.rows() == grad.rows() && activated.cols() == grad.cols(), "relu_backward: activations are ",
            activated.rows(), "x", activated.cols(), " but the gradient is ", grad.rows(), "x", grad.cols());
    const std::size_t d = grad.cols();
    parallel_blocks(grad.rows(), grad.size(), [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
        for (std::size_t r = b; r < e; ++r) {
            const V* a = activated.row(r);
            V* g = grad.row(r);
#pragma omp simd
            for (std::size_t c = 0; c < d; ++c) g[c] = a[c] > V(0) ? g[c] : V(0);
        }
    });
}

template <class V>
void column_sum(const_matrix_view<V> x, V* out) {
    const std::size_t d = x.cols();
    const std::size_t threads = static_cast<std::size_t>(max_threads());
    // One double partial per (thread, column), summed in thread order afterwards.
    std::vector<double> partial(threads * d, 0.0);
    parallel_blocks(threads, x.size(), [&](std::size_t t0, std::size_t t1, std::size_t, std::size_t) {
        for (std::size_t t = t0; t < t1; ++t) {
            double* acc = partial.data() + t * d;
            for (std::size_t r = x.rows() * t / threads; r < x.rows() * (t + 1) / threads; ++r) {
                const V* row = x.row(r);
#pragma omp simd
                for (std::size_t c = 0; c < d; ++c) acc[c] += double(row[c]);
            }
        }
    });
    for (std::size_t c = 0; c < d; ++c) {
        double s = 0;
        for (std::size_t t = 0; t < threads; ++t) s += partial[t * d + c];
        out[c] = static_cast<V>(s);
    }
}

template <class V>
void dropout(const_matrix_view<V> x, matrix_view<V> y, std::uint8_t* mask, V p, std::uint64_t seed,
             dropout_index at) {
    require(x.rows() == y.rows() && x.cols() == y.cols(), "dropout: input is ", x.rows(), "x", x.cols(),
            " but output is ", y.rows(), "x", y.cols());
    const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
    const std::size_t d = x.cols();
    const dropout_rule rule(seed, double(p));
    parallel_blocks(x.rows(), x.size() * 8, [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
        // Locals, not captures: stores through the uint8_t mask may alias anything, so
        // captured state would be reloaded from memory on every element.
        const dropout_rule r = rule;
        const V s = scale;
        const std::size_t width = d;
        const auto col0 = static_cast<std::uint32_t>(at.col_offset);
        for (std::size_t row = b; row < e; ++row) {
            const V* in = x.row(row);
            V* out = y.row(row);
            const std::uint32_t key = r.row_key(at.row(row));
            // Branch-free so the loop vectorises: a dropped element is in * 0 (a signed
            // zero; inputs are finite).
            if (mask) {
                std::uint8_t* m = mask + row * width;
#pragma omp simd
                for (std::size_t c = 0; c < width; ++c) {
                    const std::uint32_t keep = r.keep(key, col0 + static_cast<std::uint32_t>(c)) ? 1u : 0u;
                    m[c] = static_cast<std::uint8_t>(keep);
                    out[c] = in[c] * (s * static_cast<V>(keep));
                }
            } else {
#pragma omp simd
                for (std::size_t c = 0; c < width; ++c) {
                    const std::uint32_t keep = r.keep(key, col0 + static_cast<std::uint32_t>(c)) ? 1u : 0u;
                    out[c] = in[c] * (s * static_cast<V>(keep));
                }
            }
        }
    });
}

// dropout's backward without a stored mask: the rule is a pure function of (seed,
// global row, global column), so backward draws the forward's mask again; the
// arithmetic is the stored-mask version's, so the result is bitwise the same.
template <class V>
void dropout_backward(matrix_view<V> grad, V p, std::uint64_t seed, dropout_index at) {
    const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
    const std::size_t d = grad.cols();
    const dropout_rule rule(seed, double(p));
    parallel_blocks(grad.rows(), grad.size() * 8, [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
        const dropout_rule r = rule;  // locals: stores through g would otherwise force reloads
        const V s = scale;
        const std::size_t width = d;
        const auto col0 = static_cast<std::uint32_t>(at.col_offset);
        for (std::size_t row = b; row < e; ++row) {
            V* g = grad.row(row);
            const std::uint32_t key = r.row_key(at.row(row));
#pragma omp simd
            for (std::size_t c = 0; c < width; ++c) {
                const std::uint32_t keep = r.keep(key, col0 + static_cast<std::uint32_t>(c)) ? 1u : 0u;
                g[c] = g[c] * (s * static_cast<V>(keep));
            }
        }
    });
}

template <class V>
void dropout_backward(matrix_view<V> grad, const std::uint8_t* mask, V p) {
    const V scale = p < V(1) ? V(1) / (V(1) - p) : V(0);
    const std::size_t d = grad.cols();
    parallel_blocks(grad.rows(), grad.size(), [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
        const V s = scale;  // locals: stores through g would otherwise force reloads
        const std::size_t width = d;
        for (std::size_t r = b; r < e; ++r) {
            V* g = grad.row(r);
            const std::uint8_t* m = mask + r * width;
#pragma omp simd
            for (std::size_t c = 0; c < width; ++c) g[c] = g[c] * (s * static_cast<V>(m[c]));
        }
    });
}

// Loss of one row in double (max-shifted, so no overflow for large logits); writes the
// row's gradient scale · (softmax - onehot).
template <class V>
double softmax_row(const V* z, std::size_t d, std::size_t label, V* g, V scale) {
    double mx = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < d; ++c) mx = std::max(mx, double(z[c]));
    double sum = 0;
    for (std::size_t c = 0; c < d; ++c) sum += std::exp(double(z[c]) - mx);
    for (std::size_t c = 0; c < d; ++c) {
        const double p = std::exp(double(z[c]) - mx) / sum;
        g[c] = static_cast<V>(double(scale) * (p - (c == label ? 1.0 : 0.0)));
    }
    return std::log(sum) + mx - double(z[label]);
}

template <class V>
double softmax_cross_entropy(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                             std::size_t count, matrix_view<V> grad, V scale) {
    require(logits.rows() == grad.rows() && logits.cols() == grad.cols(), "softmax_cross_entropy: logits are ",
            logits.rows(), "x", logits.cols(), " but the gradient is ", grad.rows(), "x", grad.cols());
    const std::size_t d = logits.cols();
    require_row_list("softmax_cross_entropy", rows, count, logits.rows());
    for (std::size_t i = 0; i < count; ++i) {
        const auto r = rows[i];
        require(labels[r] >= 0 && static_cast<std::size_t>(labels[r]) < d, "softmax_cross_entropy: row ", r,
                " has label ", labels[r], " outside [0, ", d, ")");
    }
    parallel_blocks(grad.rows(), grad.size(), [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
        for (std::size_t r = b; r < e; ++r) std::fill_n(grad.row(r), d, V(0));
    });
    const std::size_t threads = static_cast<std::size_t>(max_threads());
    std::vector<double> partial(threads, 0.0);
    parallel_blocks(threads, count * d * 16, [&](std::size_t t0, std::size_t t1, std::size_t, std::size_t) {
        for (std::size_t t = t0; t < t1; ++t)
            for (std::size_t i = count * t / threads; i < count * (t + 1) / threads; ++i) {
                const auto r = static_cast<std::size_t>(rows[i]);
                partial[t] += softmax_row(logits.row(r), d, static_cast<std::size_t>(labels[r]), grad.row(r), scale);
            }
    });
    double loss = 0;
    for (double p : partial) loss += p;
    return loss;
}

template <class V>
std::size_t count_correct(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                          std::size_t count) {
    const std::size_t threads = static_cast<std::size_t>(max_threads());
    std::vector<std::size_t> partial(threads, 0);
    parallel_blocks(threads, count * logits.cols(), [&](std::size_t t0, std::size_t t1, std::size_t, std::size_t) {
        for (std::size_t t = t0; t < t1; ++t)
            for (std::size_t i = count * t / threads; i < count * (t + 1) / threads; ++i) {
                const auto r = static_cast<std::size_t>(rows[i]);
                partial[t] += argmax_row(logits, r) == static_cast<std::size_t>(labels[r]);
            }
    });
    std::size_t ok = 0;
    for (std::size_t p : partial) ok += p;
    return ok;
}

template <class V>
void scale_add(std::size_t n, V s, const V* x, V* y) {
    parallel_blocks(n, n, [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
#pragma omp simd
        for (std::size_t i = b; i < e; ++i) y[i] += s * x[i];
    });
}

}  // namespace mixgcn::backend::host_detail
