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

// Marks the few functions that kernels on every backend share (CUDA, Kokkos spaces).
#if defined(__CUDACC__) || defined(__HIPCC__)
#define MIXGCN_HOST_DEVICE __host__ __device__
#else
#define MIXGCN_HOST_DEVICE
#endif

// The MurmurHash3 32-bit finaliser: a bijection with full avalanche.
MIXGCN_HOST_DEVICE constexpr std::uint32_t mix32(std::uint32_t x) noexcept {
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    return x;
}

// Counter-based dropout: element (row, col) is kept when a hash of (seed, row, col) is at
// least ceil(p · 2^32), i.e. with probability 1 - p. The mask is a pure function of the
// seed and the global position, so every backend and every rank count draw the same
// mask, and the hot loop is 32-bit integer arithmetic that vectorises.
struct dropout_rule {
    std::uint32_t key = 0;
    std::uint32_t threshold = 0;

    MIXGCN_HOST_DEVICE dropout_rule(std::uint64_t seed, double p) noexcept
        : key(mix32(std::uint32_t(seed) ^ mix32(std::uint32_t(seed >> 32) ^ 0x9E3779B9u))) {
        const double t = p * 4294967296.0;
        if (t <= 0) {
            threshold = 0;
        } else if (t >= 4294967295.0) {
            threshold = 0xFFFFFFFFu;
        } else {
            const auto floor_t = std::uint32_t(t);
            threshold = floor_t + (double(floor_t) < t ? 1u : 0u);
        }
    }
    // Per-row part of the hash, computed once per row.
    MIXGCN_HOST_DEVICE std::uint32_t row_key(std::uint64_t row) const noexcept {
        return mix32(std::uint32_t(row) ^ key ^ mix32(std::uint32_t(row >> 32) ^ 0x632BE5ABu));
    }
    MIXGCN_HOST_DEVICE bool keep(std::uint32_t row_key_value, std::uint64_t col) const noexcept {
        return mix32(row_key_value ^ (std::uint32_t(col) * 0x9E3779B1u)) >= threshold;
    }
};

// One element of the rule, for reference loops and tests.
MIXGCN_HOST_DEVICE inline bool dropout_keep(std::uint64_t seed, std::uint64_t row, std::uint64_t col,
                                            double p) noexcept {
    const dropout_rule r(seed, p);
    return r.keep(r.row_key(row), col);
}

// First maximum wins (ties go to the lower class id in every backend).
template <class V>
std::size_t argmax_row(const_matrix_view<V> m, std::size_t r) noexcept {
    std::size_t best = 0;
    for (std::size_t c = 1; c < m.cols(); ++c)
        if (m(r, c) > m(r, best)) best = c;
    return best;
}

}  // namespace mixgcn::backend
