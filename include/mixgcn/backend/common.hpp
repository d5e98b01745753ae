#pragma once
// Pieces every backend shares so that they agree bit for bit where they must: shape
// checks with the same messages, the counter-based dropout mask (a pure function of
// seed, global row and column, so backends and rank counts draw the same mask), and
// the tie-breaking rule of argmax.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::backend {

template <class I, class V, class O, class X, class Y>
void check_aggregate_shapes(const storage::sparse_view<I, V, O>& a, const X& x, const Y& y) {
    require(x.rows() == static_cast<std::size_t>(a.cols), "aggregate: X has ", x.rows(), " rows but the operator has ",
            a.cols, " columns");
    require(y.rows() == static_cast<std::size_t>(a.rows), "aggregate: Y has ", y.rows(), " rows but the operator has ",
            a.rows, " rows");
    require(x.cols() == y.cols(), "aggregate: X has width ", x.cols(), " but Y has width ", y.cols());
}

template <class C>
void check_gemm_shapes(std::size_t m, std::size_t k, std::size_t kb, std::size_t n, const C& c) {
    require(k == kb, "gemm: inner dimensions differ (", k, " vs ", kb, ")");
    require(c.rows() == m && c.cols() == n, "gemm: C is ", c.rows(), "x", c.cols(), ", expected ", m, "x", n);
}

// Keep element (row, col) with probability 1 - p: a hash of (seed, row * width + col)
// compared with p, so every backend and every rank count draws the same mask.
inline bool dropout_keep(std::uint64_t seed, std::uint64_t row, std::uint64_t col, std::uint64_t width,
                         double p) noexcept {
    const std::uint64_t h = splitmix64(seed ^ splitmix64(row * width + col));
    return double(h >> 11) * 0x1.0p-53 >= p;
}

// The same rule in integer form for hot loops: (h >> 11) * 2^-53 >= p holds exactly
// when (h >> 11) >= ceil(p * 2^53) (both sides are exact in double).
struct dropout_rule {
    std::uint64_t seed;
    std::uint64_t threshold;
    dropout_rule(std::uint64_t s, double p) noexcept
        : seed(s), threshold(static_cast<std::uint64_t>(std::ceil(p * 0x1.0p53))) {}
    bool keep(std::uint64_t index) const noexcept { return (splitmix64(seed ^ splitmix64(index)) >> 11) >= threshold; }
};

// First maximum wins (ties go to the lower class id in every backend).
template <class V>
std::size_t argmax_row(const_matrix_view<V> m, std::size_t r) noexcept {
    std::size_t best = 0;
    for (std::size_t c = 1; c < m.cols(); ++c)
        if (m(r, c) > m(r, best)) best = c;
    return best;
}

}  // namespace mixgcn::backend
