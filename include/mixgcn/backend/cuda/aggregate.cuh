#pragma once
// Y = diag(row_scale) · A · diag(col_scale) · X on the device, with storage::sparse_view
// semantics (A's values, or ones when `val` is null; a null scale means 1).
//
// Design
// - Work is split by merge path over (row ends, non-zeros) as in CUB's SpMV: each thread
//   group gets the same number of items (rows + non-zeros), so a hub row of a power-law
//   graph is shared by many groups instead of stalling one. A group writes every row it
//   finishes; the partial sum of the row it stops inside is a "carry". A second kernel
//   adds each run of carries (one row may span many groups) to its row: no atomics, so
//   results are deterministic run to run.
// - A group is a warp or a sub-warp that holds the row's whole feature vector in
//   registers (Width/Group values per lane), reads X with 16-byte vector loads, and
//   applies the scales on the fly (fused normalisation).
// - The grid is sized to what the device keeps resident (occupancy), so the carry
//   buffer is groups x Width and does not grow with the graph; it comes from the
//   stream-ordered pool, so repeated calls do not allocate.
// - Run-time width -> compile-time kernel: 16, 32, 64, 128, 256, 512; any other width,
//   or views whose pointers/strides are not vector aligned, take a masked scalar kernel
//   over column chunks (8 columns for narrow widths, 128 otherwise).
// - Widths above the context's column block (default 128) that are multiples of it run
//   as one pass per 128-column block: the X rows a pass gathers are 512 bytes instead of
//   2 KB, so four times as many stay in L2 for the next non-zero that needs them.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <utility>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/backend/cuda/context.cuh"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::gpu {

// The feature widths with their own kernels.
inline constexpr int aggregate_widths[] = {16, 32, 64, 128, 256, 512};

namespace detail {

template <class V>
struct vector_of;
template <>
struct vector_of<float> {
    using type = float4;
    static constexpr int size = 4;
};
template <>
struct vector_of<double> {
    using type = double2;
    static constexpr int size = 2;
};

// Compile-time shape of one aggregation kernel: a group of `Group` lanes covers `Width`
// columns, each lane `PerLane` vectors of `Vec` values. Masked kernels check columns
// against a run-time count (generic fallback).
template <class V, int Width, int Group, int Vec, bool Masked>
struct aggregate_shape {
    static_assert(Group == 1 || Group == 2 || Group == 4 || Group == 8 || Group == 16 || Group == 32,
                  "A thread group must be a power-of-two part of a warp.");
    static_assert(Width % (Group * Vec) == 0, "The width must be a multiple of group size times vector length.");
    static_assert(!Masked || Vec == 1, "Masked (generic) kernels load scalars.");
    static constexpr int width = Width, group = Group, vec = Vec, per_lane = Width / (Group * Vec);
    static constexpr bool masked = Masked;
    static constexpr int threads = 256;
};

template <class V, int Width>
using fixed_shape = aggregate_shape<V, Width, std::min(32, Width / vector_of<V>::size), vector_of<V>::size, false>;
template <class V>
using narrow_generic_shape = aggregate_shape<V, 8, 8, 1, true>;
template <class V>
using wide_generic_shape = aggregate_shape<V, 128, 32, 1, true>;

template <class V, int Vec>
struct lane_vector {
    V v[Vec];
};

template <class V, int Vec>
__device__ __forceinline__ lane_vector<V, Vec> load_vec(const V* p) {
    lane_vector<V, Vec> r;
    if constexpr (Vec == 1) {
        r.v[0] = __ldg(p);
    } else {
        using T = typename vector_of<V>::type;
        const T t = __ldg(reinterpret_cast<const T*>(p));
        if constexpr (Vec == 4) {
            r.v[0] = t.x, r.v[1] = t.y, r.v[2] = t.z, r.v[3] = t.w;
        } else {
            r.v[0] = t.x, r.v[1] = t.y;
        }
    }
    return r;
}

template <class V, int Vec>
__device__ __forceinline__ void store_vec(V* p, const V* v) {
    if constexpr (Vec == 1) {
        *p = v[0];
    } else if constexpr (Vec == 4) {
        *reinterpret_cast<typename vector_of<V>::type*>(p) = {v[0], v[1], v[2], v[3]};
    } else {
        *reinterpret_cast<typename vector_of<V>::type*>(p) = {v[0], v[1]};
    }
}

// Merge-path split of diagonal d between row ends (a: rows) and non-zeros (b: nnz):
// returns the number of rows consumed; d minus it is the non-zeros consumed.
template <class I, class O>
__device__ __forceinline__ O merge_path_rows(const O* row_end, O base, O d, O rows, O nnz) {
    O lo = d > nnz ? d - nnz : O(0), hi = d < rows ? d : rows;
    while (lo < hi) {
        const O mid = lo + (hi - lo) / 2;
        if (row_end[mid] - base <= d - mid - 1) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

template <class Shape, class I, class V, class O>
struct aggregate_args {
    storage::sparse_view<I, V, O> a;
    I first, last;
    const V* x;
    std::size_t ldx;
    V* y;
    std::size_t ldy;
    int col0, ncols;  // column chunk [col0, col0 + ncols)
    long long groups;
    V* carry;       // groups x Shape::width
    I* carry_row;   // groups; -1 when the group has no carry
};

template <class Shape, class I, class V, class O>
__global__ void __launch_bounds__(Shape::threads)
    aggregate_kernel(aggregate_args<Shape, I, V, O> p) {
    constexpr int G = Shape::group, Vec = Shape::vec, PL = Shape::per_lane;
    const long long tid = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
    const long long g = tid / G;
    const int lane = static_cast<int>(tid % G);
    if (g >= p.groups) return;
    const auto& a = p.a;

    const O base = a.row_ptr[p.first];
    const O nnz = a.row_ptr[p.last] - base;
    const O nrows = static_cast<O>(p.last - p.first);
    const O total = nrows + nnz;
    const O per_group = (total + p.groups - 1) / p.groups;
    const O d0 = g * per_group < total ? g * per_group : total;
    const O d1 = d0 + per_group < total ? d0 + per_group : total;
    const O* row_end = a.row_ptr + p.first + 1;
    const O i0 = merge_path_rows<I>(row_end, base, d0, nrows, nnz);
    const O i1 = merge_path_rows<I>(row_end, base, d1, nrows, nnz);
    O j = base + (d0 - i0);
    const O j1 = base + (d1 - i1);

    // Column of this lane's p-th vector, relative to the chunk.
    auto column = [&](int q) { return (q * G + lane) * Vec; };
    V acc[PL * Vec];

    auto accumulate = [&](O k, V w) {
        const std::size_t xr = static_cast<std::size_t>(a.col_idx[k]) * p.ldx + p.col0;
#pragma unroll
        for (int q = 0; q < PL; ++q) {
            const int c = column(q);
            if (Shape::masked && c >= p.ncols) continue;
            const auto xv = load_vec<V, Vec>(p.x + xr + c);
#pragma unroll
            for (int e = 0; e < Vec; ++e) acc[q * Vec + e] += w * xv.v[e];
        }
    };
    auto weight = [&](O k) {
        V w = a.val ? a.val[k] : V(1);
        if (a.col_scale) w *= a.col_scale[a.col_idx[k]];
        return w;
    };
    auto run = [&](O end) {
#pragma unroll
        for (int e = 0; e < PL * Vec; ++e) acc[e] = V(0);
        // Four non-zeros per step: their index and X loads are independent and overlap.
        for (; j + 4 <= end; j += 4) {
            const V w0 = weight(j), w1 = weight(j + 1), w2 = weight(j + 2), w3 = weight(j + 3);
            accumulate(j, w0);
            accumulate(j + 1, w1);
            accumulate(j + 2, w2);
            accumulate(j + 3, w3);
        }
        for (; j < end; ++j) accumulate(j, weight(j));
    };

    for (O i = i0; i < i1; ++i) {
        run(row_end[i]);
        const I r = static_cast<I>(p.first + i);
        const V s = a.row_scale ? a.row_scale[r] : V(1);
        V* yr = p.y + static_cast<std::size_t>(r) * p.ldy + p.col0;
#pragma unroll
        for (int q = 0; q < PL; ++q) {
            const int c = column(q);
            if (Shape::masked && c >= p.ncols) continue;
            V out[Vec];
#pragma unroll
            for (int e = 0; e < Vec; ++e) out[e] = s * acc[q * Vec + e];
            store_vec<V, Vec>(yr + c, out);
        }
    }
    // The row this group stops inside: its partial sum goes to the carry buffer.
    const bool has_carry = i1 < nrows && j < j1;
    if (has_carry) {
        run(j1);
        V* cr = p.carry + g * Shape::width;
#pragma unroll
        for (int q = 0; q < PL; ++q) store_vec<V, Vec>(cr + column(q), acc + q * Vec);
    }
    if (lane == 0) p.carry_row[g] = has_carry ? static_cast<I>(p.first + i1) : I(-1);
}

// Adds each run of carries with the same row to that row. The first group of a run does
// the whole run, in group order: deterministic and free of atomics.
template <class Shape, class I, class V, class O>
__global__ void __launch_bounds__(Shape::threads)
    aggregate_fixup_kernel(aggregate_args<Shape, I, V, O> p) {
    constexpr int G = Shape::group, Vec = Shape::vec, PL = Shape::per_lane;
    const long long tid = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
    const long long g = tid / G;
    const int lane = static_cast<int>(tid % G);
    if (g >= p.groups) return;
    const I r = p.carry_row[g];
    if (r < 0 || (g > 0 && p.carry_row[g - 1] == r)) return;
    V acc[PL * Vec];
#pragma unroll
    for (int e = 0; e < PL * Vec; ++e) acc[e] = V(0);
    for (long long h = g; h < p.groups && p.carry_row[h] == r; ++h) {
#pragma unroll
        for (int q = 0; q < PL; ++q) {
            const auto v = load_vec<V, Vec>(p.carry + h * Shape::width + (q * G + lane) * Vec);
#pragma unroll
            for (int e = 0; e < Vec; ++e) acc[q * Vec + e] += v.v[e];
        }
    }
    const V s = p.a.row_scale ? p.a.row_scale[r] : V(1);
    V* yr = p.y + static_cast<std::size_t>(r) * p.ldy + p.col0;
#pragma unroll
    for (int q = 0; q < PL; ++q) {
        const int c = (q * G + lane) * Vec;
        if (Shape::masked && c >= p.ncols) continue;
#pragma unroll
        for (int e = 0; e < Vec; ++e) yr[c + e] += s * acc[q * Vec + e];
    }
}

// Groups that fit on the device at once (cached per kernel instantiation).
template <class Shape, class I, class V, class O>
long long resident_groups(const context& ctx) {
    static const int blocks_per_sm = [] {
        int b = 0;
        MIXGCN_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, aggregate_kernel<Shape, I, V, O>,
                                                                        Shape::threads, 0));
        return std::max(b, 1);
    }();
    return static_cast<long long>(ctx.sm_count()) * blocks_per_sm * (Shape::threads / Shape::group);
}

template <class Shape, class I, class V, class O>
void launch_aggregate(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y, I first,
                      I last, int col0, int ncols) {
    auto& ctx = current_context();
    aggregate_args<Shape, I, V, O> p{a, first, last, x.data(), x.stride(), y.data(), y.stride(), col0, ncols,
                                     ctx.aggregate_groups() > 0 ? ctx.aggregate_groups()
                                                                : resident_groups<Shape, I, V, O>(ctx),
                                     nullptr, nullptr};
    device_buffer<V> carry(static_cast<std::size_t>(p.groups) * Shape::width, ctx.stream());
    device_buffer<I> carry_row(static_cast<std::size_t>(p.groups), ctx.stream());
    p.carry = carry.data();
    p.carry_row = carry_row.data();
    const auto blocks = static_cast<unsigned>((p.groups * Shape::group + Shape::threads - 1) / Shape::threads);
    aggregate_kernel<Shape><<<blocks, Shape::threads, 0, ctx.stream()>>>(p);
    MIXGCN_CUDA_CHECK_LAUNCH();
    aggregate_fixup_kernel<Shape><<<blocks, Shape::threads, 0, ctx.stream()>>>(p);
    MIXGCN_CUDA_CHECK_LAUNCH();
}

template <class V>
bool vector_aligned(const V* p, std::size_t stride) noexcept {
    constexpr int vec = vector_of<V>::size;
    return reinterpret_cast<std::uintptr_t>(p) % (vec * sizeof(V)) == 0 && stride % vec == 0;
}

template <int... Widths, class I, class V, class O>
bool dispatch_fixed(std::integer_sequence<int, Widths...>, const storage::sparse_view<I, V, O>& a,
                    const_matrix_view<V> x, matrix_view<V> y, I first, I last) {
    const auto w = static_cast<long long>(x.cols());
    // Wider than the column block and a multiple of it: one pass per block.
    const int block = current_context().aggregate_column_block();
    if (block > 0 && w > block && w % block == 0) {
        const bool known = ((block == Widths) || ...);
        if (known) {
            for (int c0 = 0; c0 < w; c0 += block)
                (void)((block == Widths ? (launch_aggregate<fixed_shape<V, Widths>>(a, x, y, first, last, c0, Widths), true)
                                        : false) ||
                       ...);
            return true;
        }
    }
    return ((w == Widths ? (launch_aggregate<fixed_shape<V, Widths>>(a, x, y, first, last, 0, Widths), true)
                         : false) ||
            ...);
}

}  // namespace detail

// Which kernel serves a width: "fixed<W>" or "generic".
template <class V>
bool has_fixed_width_kernel(std::size_t width) noexcept {
    return std::find(std::begin(aggregate_widths), std::end(aggregate_widths), static_cast<int>(width)) !=
           std::end(aggregate_widths);
}

// Rows [first, last) of Y = Â X; other rows of Y are left untouched. Views point at
// device memory; X and Y must not overlap.
template <class I, class V, class O>
void aggregate_rows(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y, I first,
                    I last) {
    backend::check_aggregate_shapes(a, x, y);
    require(first >= 0 && first <= last && last <= a.rows, "gpu::aggregate_rows: row range [", first, ", ", last,
            ") outside [0, ", a.rows, "]");
    if (first == last || x.cols() == 0) return;
    const bool aligned = detail::vector_aligned(x.data(), x.stride()) && detail::vector_aligned(y.data(), y.stride());
    if (aligned && detail::dispatch_fixed(std::integer_sequence<int, 16, 32, 64, 128, 256, 512>{}, a, x, y, first,
                                          last))
        return;
    const auto width = static_cast<int>(x.cols());
    if (width <= 8) {
        detail::launch_aggregate<detail::narrow_generic_shape<V>>(a, x, y, first, last, 0, width);
        return;
    }
    for (int c0 = 0; c0 < width; c0 += 128)
        detail::launch_aggregate<detail::wide_generic_shape<V>>(a, x, y, first, last, c0, std::min(128, width - c0));
}

template <class I, class V, class O>
void aggregate(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y) {
    aggregate_rows(a, x, y, I{0}, a.rows);
}

}  // namespace mixgcn::gpu
