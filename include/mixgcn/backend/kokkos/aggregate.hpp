#pragma once
// Y = Â · X for the Kokkos backend, with the feature width as a template parameter.
//
// One team thread per row, `lanes` vector lanes per row; lane l accumulates columns
// l, l + lanes, l + 2·lanes, ... in a register array of compile-time length, so the
// inner loop over a neighbour's feature vector is unrolled (host: one lane, SIMD over
// the whole row; GPU: 32 lanes read a row of X coalesced). Widths without an
// instance go through the same kernel in chunks of `generic_chunk` columns.
//
// The normalisation is fused: w = val[k] · row_scale[r] · col_scale[c], multiplied in
// that order as sparse_view::weight does, so the weights equal the reference's bit for bit.
#if defined(MIXGCN_HAS_KOKKOS)
#include <Kokkos_Core.hpp>

#include <array>
#include <cstddef>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/backend/kokkos/views.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::backend::kokkos_detail {

// Widths with their own instance; everything else uses the chunked generic kernel.
inline constexpr std::array<int, 5> instantiated_widths{16, 32, 64, 128, 256};
inline constexpr int generic_chunk = 32;

template <class ExecutionSpace>
inline constexpr bool is_host_space = host_accessible<typename ExecutionSpace::memory_space>;

template <class ExecutionSpace, int Width>
inline constexpr int lanes_for = is_host_space<ExecutionSpace> ? 1 : (Width < 32 ? Width : 32);

// Rows handled by one team: enough to amortise a team's start on the host, small
// enough to keep every GPU multiprocessor busy.
template <class ExecutionSpace>
inline constexpr int rows_per_team = is_host_space<ExecutionSpace> ? 64 : 8;
// Team threads: one on the host (a team walks its rows in order, cache-friendly), one
// per row on a GPU.
template <class ExecutionSpace>
inline constexpr int team_threads = is_host_space<ExecutionSpace> ? 1 : rows_per_team<ExecutionSpace>;

// Width: columns per pass. Exact: the matrix has exactly Width columns (no bounds
// checks, one pass); otherwise passes of Width columns cover any width.
template <class ExecutionSpace, int Width, bool Exact, class I, class V, class O>
struct aggregate_kernel {
    using memory_space = typename ExecutionSpace::memory_space;
    using member_type = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;
    static constexpr int lanes = lanes_for<ExecutionSpace, Width>;
    static constexpr int per_lane = (Width + lanes - 1) / lanes;
    static constexpr int team_rows = rows_per_team<ExecutionSpace>;
    // More accumulators than registers spill on the host; accumulate in Y's row instead.
    static constexpr bool accumulate_in_place = lanes == 1 && Width > 32;

    unmanaged_1d<const O, memory_space> row_ptr;
    unmanaged_1d<const I, memory_space> col_idx;
    unmanaged_1d<const V, memory_space> val;        // extent 0: all ones
    unmanaged_1d<const V, memory_space> row_scale;  // extent 0: no scaling
    unmanaged_1d<const V, memory_space> col_scale;
    unmanaged_2d<const V, memory_space> x;
    unmanaged_2d<V, memory_space> y;
    I first = 0;
    I count = 0;

    KOKKOS_INLINE_FUNCTION void operator()(const member_type& team) const {
        const I base = first + static_cast<I>(team.league_rank()) * team_rows;
        const I here = count - (base - first) < team_rows ? count - (base - first) : I(team_rows);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, here), [&](const I i) {
            const I r = base + i;
            const O begin = row_ptr(r), end = row_ptr(r + 1);
            Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, lanes), [&](const int lane) {
                const std::size_t width = Exact ? std::size_t(Width) : x.extent(1);
                // Rows are contiguous (unit column stride); plain pointers let the
                // compiler vectorise, which LayoutStride's run-time strides would not.
                V* const yr = &y(r, 0);
                if constexpr (accumulate_in_place) {
                    // Wide rows on one lane: Y's row stays in L1 and is the accumulator.
                    for (std::size_t col = 0; col < width; ++col) yr[col] = V(0);
                    for (O k = begin; k < end; ++k) {
                        const I c = col_idx(k);
                        V w = val.extent(0) ? val(k) : V(1);
                        if (row_scale.extent(0)) w *= row_scale(r);
                        if (col_scale.extent(0)) w *= col_scale(c);
                        const V* const xr = &x(c, 0);
                        for (std::size_t col = 0; col < width; ++col) yr[col] += w * xr[col];
                    }
                    return;
                }
                for (std::size_t c0 = 0; c0 < width; c0 += Width) {
                    V acc[per_lane] = {};
                    for (O k = begin; k < end; ++k) {
                        const I c = col_idx(k);
                        V w = val.extent(0) ? val(k) : V(1);
                        if (row_scale.extent(0)) w *= row_scale(r);
                        if (col_scale.extent(0)) w *= col_scale(c);
                        const V* const xr = &x(c, 0) + c0 + lane;
                        if (Exact || c0 + Width <= width) {
                            for (int j = 0; j < per_lane; ++j) acc[j] += w * xr[j * lanes];
                        } else {
                            for (int j = 0; j < per_lane; ++j)
                                if (c0 + std::size_t(lane + j * lanes) < width) acc[j] += w * xr[j * lanes];
                        }
                    }
                    for (int j = 0; j < per_lane; ++j) {
                        const std::size_t col = c0 + std::size_t(lane + j * lanes);
                        if (Exact || col < width) yr[col] = acc[j];
                    }
                }
            });
        });
    }
};

template <class ExecutionSpace, int Width, bool Exact, class I, class V, class O>
void run_aggregate(const storage::sparse_view<I, V, O>& a, const_matrix_view<V> x, matrix_view<V> y, I first,
                   I last) {
    using kernel = aggregate_kernel<ExecutionSpace, Width, Exact, I, V, O>;
    using space = typename kernel::memory_space;
    check_aggregate_shapes(a, x, y);
    require(0 <= first && first <= last && last <= a.rows, "aggregate_rows: row range [", first, ", ", last,
            ") is not inside [0, ", a.rows, ")");
    require(!Exact || x.cols() == std::size_t(Width), "aggregate: the width-", Width, " kernel got width ",
            x.cols());
    if (first == last || x.cols() == 0) return;
    const auto nnz = static_cast<std::size_t>(read_one<space>(a.row_ptr + a.rows));
    const std::size_t scale_rows = static_cast<std::size_t>(a.rows), scale_cols = static_cast<std::size_t>(a.cols);
    kernel k{wrap<space>(a.row_ptr, std::size_t(a.rows) + 1),
             wrap<space>(a.col_idx, nnz),
             wrap<space>(a.val, a.val ? nnz : 0),
             wrap<space>(a.row_scale, a.row_scale ? scale_rows : 0),
             wrap<space>(a.col_scale, a.col_scale ? scale_cols : 0),
             wrap<space>(x),
             wrap<space>(y),
             first,
             static_cast<I>(last - first)};
    const auto league = static_cast<int>((std::size_t(last - first) + kernel::team_rows - 1) / kernel::team_rows);
    Kokkos::parallel_for("mixgcn::kokkos::aggregate", Kokkos::TeamPolicy<ExecutionSpace>(league, team_threads<ExecutionSpace>, kernel::lanes), k);
    ExecutionSpace().fence();
}

}  // namespace mixgcn::backend::kokkos_detail
#endif  // MIXGCN_HAS_KOKKOS
