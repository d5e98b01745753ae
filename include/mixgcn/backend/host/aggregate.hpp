#pragma once
// Host aggregation Y = diag(row_scale) · A · diag(col_scale) · X over CSR, one row per
// iteration, the row's output kept in registers.
//
// The feature width is a template parameter: a row's output is walked in chunks of
// `chunk<V>` values (16 vector registers of accumulators, see chunk_bytes), each chunk a
// fixed-trip loop the compiler fully unrolls and vectorises; for each chunk the row's
// non-zeros are streamed once (their column ids stay in L1 between chunks). Widths
// outside the instantiated list run the same chunk kernel over their full chunks, then
// the tail in one pass: whole vector registers (one instance per register count) and
// pieces of 8, 4, 2, 1 columns, all in registers. Normalisation is fused: the per-edge
// factor val[k]·col_scale[c] scales the gathered X row, row_scale scales the finished
// row.
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/backend/host/balance.hpp"
#include "mixgcn/backend/host/threading.hpp"
#include "mixgcn/backend/host/width_dispatch.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::backend::host_detail {

// Bytes of one vector register: a fixed-trip loop over a multiple of this vectorises
// with no scalar remainder.
#if defined(__AVX512F__)
inline constexpr int lane_bytes = 64;
#elif defined(__AVX__)
inline constexpr int lane_bytes = 32;
#else
inline constexpr int lane_bytes = 16;
#endif

// Values per vector register.
template <class V>
inline constexpr int lanes = static_cast<int>(lane_bytes / sizeof(V));

// Bytes of an output row kept in registers at once: 16 vector registers' worth, so
// each pass over a row's non-zeros covers as many columns as the register file holds
// (fewer passes over col_idx and fewer, longer gathers per X row). Measured on AVX2
// (docs/kernels.md): 512 bytes ran 1.5-2x faster than 128 at widths 64-256.
inline constexpr int chunk_bytes = 16 * lane_bytes;

// Values per register-resident chunk of an output row.
template <class V>
inline constexpr int chunk = static_cast<int>(chunk_bytes / sizeof(V));

// How many non-zeros ahead the X row is prefetched: the gather is random, so the
// hardware prefetcher cannot guess it. The look-ahead runs on into the following rows
// (col_idx is contiguous), up to `stop`, the end of the thread's range: with GCN's
// average degrees of 5-30, stopping at the row's end would leave a third or more of
// the gathers unprefetched. Measured (docs/kernels.md): 2-3x at width >= 64.
inline constexpr int prefetch_distance = 8;

template <class I, class V, class O>
inline V edge_factor(const storage::sparse_view<I, V, O>& a, O k, I c) noexcept {
    V w = a.val ? a.val[k] : V(1);
    if (a.col_scale) w *= a.col_scale[c];
    return w;
}

// y_row[c0, c0 + C) = rs · Σ_k w_k · x[col_k][c0, c0 + C), C a compile-time constant.
template <int C, class I, class V, class O>
inline void row_chunk(const storage::sparse_view<I, V, O>& a, const V* x, std::size_t xs, V* y_row, I r,
                      std::size_t c0, O stop) noexcept {
    V acc[C] = {};
    const O b = a.row_ptr[r], e = a.row_ptr[r + 1];
    for (O k = b; k < e; ++k) {
        const I c = a.col_idx[k];
        if (k + prefetch_distance < stop)
            __builtin_prefetch(x + static_cast<std::size_t>(a.col_idx[k + prefetch_distance]) * xs + c0);
        const V w = edge_factor(a, k, c);
        const V* xr = x + static_cast<std::size_t>(c) * xs + c0;
#pragma omp simd
        for (int j = 0; j < C; ++j) acc[j] += w * xr[j];
    }
    const V rs = a.row_scale ? a.row_scale[r] : V(1);
#pragma omp simd
    for (int j = 0; j < C; ++j) y_row[c0 + static_cast<std::size_t>(j)] = rs * acc[j];
}

// P accumulators of a tail's remainder, used when `on` (bit P of the remainder's length).
template <int P, class V>
struct tail_piece {
    V acc[P] = {};
    void add(bool on, V w, const V* xr) noexcept {
        if (!on) return;
#pragma omp simd
        for (int j = 0; j < P; ++j) acc[j] += w * xr[j];
    }
    void store(bool on, V rs, V* y) const noexcept {
        if (!on) return;
        for (int j = 0; j < P; ++j) y[j] = rs * acc[j];
    }
};

// The tail of a fallback width, y_row[c0, c0 + Q + n), in one pass over the row's
// non-zeros: Q (a compile-time multiple of lanes<V>, below chunk<V>) columns like
// row_chunk, and the last n < lanes<V> columns as fixed pieces. Before, the whole tail
// was one run-time-length loop with its accumulators in memory: width 100 ran at
// 0.8-1.2x the naive kernel, now 1.6-1.9x (docs/kernels.md).
template <int Q, class I, class V, class O>
inline void row_tail(const storage::sparse_view<I, V, O>& a, const V* x, std::size_t xs, V* y_row, I r,
                     std::size_t c0, std::size_t n, O stop) noexcept {
    static_assert(lanes<V> <= 16, "the remainder pieces cover fewer than 16 columns");
    constexpr int QA = Q > 0 ? Q : 1;
    V acc[QA] = {};
    // n < lanes<V> columns as pieces of 8, 4, 2 and 1 (n's bits), each in registers;
    // which pieces run is fixed for the call, so the branches predict perfectly.
    tail_piece<8, V> p8;
    tail_piece<4, V> p4;
    tail_piece<2, V> p2;
    tail_piece<1, V> p1;
    const bool b8 = n & 8, b4 = n & 4, b2 = n & 2, b1 = n & 1;
    const std::size_t o4 = Q + (n & 8), o2 = o4 + (n & 4), o1 = o2 + (n & 2);
    const O b = a.row_ptr[r], e = a.row_ptr[r + 1];
    for (O k = b; k < e; ++k) {
        const I c = a.col_idx[k];
        if (k + prefetch_distance < stop)
            __builtin_prefetch(x + static_cast<std::size_t>(a.col_idx[k + prefetch_distance]) * xs + c0);
        const V w = edge_factor(a, k, c);
        const V* xr = x + static_cast<std::size_t>(c) * xs + c0;
        if constexpr (Q > 0) {
#pragma omp simd
            for (int j = 0; j < Q; ++j) acc[j] += w * xr[j];
        }
        p8.add(b8, w, xr + Q);
        p4.add(b4, w, xr + o4);
        p2.add(b2, w, xr + o2);
        p1.add(b1, w, xr + o1);
    }
    const V rs = a.row_scale ? a.row_scale[r] : V(1);
    V* yr = y_row + c0;
    if constexpr (Q > 0) {
#pragma omp simd
        for (int j = 0; j < Q; ++j) yr[j] = rs * acc[j];
    }
    p8.store(b8, rs, yr + Q);
    p4.store(b4, rs, yr + o4);
    p2.store(b2, rs, yr + o2);
    p1.store(b1, rs, yr + o1);
}

// Calls f(std::integral_constant<int, q * lanes<V>>{}) for the q in [0, chunk/lanes)
// equal to `blocks`: one tail kernel per register count.
template <class V, class F, std::size_t... Q>
inline void dispatch_tail(std::size_t blocks, F&& f, std::index_sequence<Q...>) {
    (void)((blocks == Q ? (f(std::integral_constant<int, static_cast<int>(Q) * lanes<V>>{}), true) : false) || ...);
}

// Rows [first, last) at compile-time width W.
template <int W, class I, class V, class O>
void rows_fixed(const storage::sparse_view<I, V, O>& a, const V* x, std::size_t xs, V* y, std::size_t ys, I first,
                I last) noexcept {
    constexpr int C = W < chunk<V> ? W : chunk<V>;
    const O stop = a.row_ptr[last];
    static_assert(W % C == 0, "An instantiated aggregation width must be a multiple of the register chunk "
                              "(chunk_bytes of values) or smaller than it; add other widths to the fallback.");
    for (I r = first; r < last; ++r) {
        V* y_row = y + static_cast<std::size_t>(r) * ys;
        for (int c0 = 0; c0 < W; c0 += C) row_chunk<C>(a, x, xs, y_row, r, static_cast<std::size_t>(c0), stop);
    }
}

// Rows [first, last) at any width d: full chunks, then the tail in one pass (whole
// vector registers, then fewer than a register's worth of columns).
template <class I, class V, class O>
void rows_generic(const storage::sparse_view<I, V, O>& a, const V* x, std::size_t xs, V* y, std::size_t ys,
                  std::size_t d, I first, I last) noexcept {
    constexpr auto C = static_cast<std::size_t>(chunk<V>);
    constexpr auto L = static_cast<std::size_t>(lanes<V>);
    const std::size_t full = d / C * C;
    const std::size_t tail = d - full;
    const O stop = a.row_ptr[last];
    dispatch_tail<V>(
        tail / L,
        [&](auto q) {
            for (I r = first; r < last; ++r) {
                V* y_row = y + static_cast<std::size_t>(r) * ys;
                for (std::size_t c0 = 0; c0 < full; c0 += C) row_chunk<chunk<V>>(a, x, xs, y_row, r, c0, stop);
                if (tail > 0) row_tail<decltype(q)::value>(a, x, xs, y_row, r, full, tail % L, stop);
            }
        },
        std::make_index_sequence<C / L>{});
}

// Serial kernel for rows [first, last), dispatched on the width.
template <class I, class V, class O>
void aggregate_serial(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y, I first,
                      I last) noexcept {
    const std::size_t d = x.cols();
    dispatch_width(
        aggregate_widths{}, d,
        [&](auto w) { rows_fixed<decltype(w)::value>(a, x.data(), x.stride(), y.data(), y.stride(), first, last); },
        [&] { rows_generic(a, x.data(), x.stride(), y.data(), y.stride(), d, first, last); });
}

// Rows [first, last) split over the threads by non-zeros (see balance.hpp).
template <class I, class V, class O>
void aggregate_parallel(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y, I first,
                        I last) {
    check_aggregate_shapes(a, x, y);
    require(first >= 0 && first <= last && last <= a.rows, "aggregate_rows: row range [", first, ", ", last,
            ") is not inside [0, ", a.rows, ")");
    if (first == last || x.cols() == 0) return;
    const auto nnz = static_cast<std::size_t>(a.row_ptr[last] - a.row_ptr[first]);
    const std::size_t work = (nnz + static_cast<std::size_t>(last - first)) * x.cols();
    const std::size_t threads = static_cast<std::size_t>(max_threads());
    parallel_blocks(threads, work, [&](std::size_t t0, std::size_t t1, std::size_t, std::size_t) {
        for (std::size_t t = t0; t < t1; ++t) {
            const I b = balanced_row_begin(a.row_ptr, first, last, t, threads);
            const I e = balanced_row_begin(a.row_ptr, first, last, t + 1, threads);
            if (b < e) aggregate_serial(a, x, y, b, e);
        }
    });
}

}  // namespace mixgcn::backend::host_detail
