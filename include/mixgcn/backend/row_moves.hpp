#pragma once
// The row moves a distributed strategy makes between its buffers, in the backend's
// memory: a block copied, rows gathered by an index list (a halo's send buffer), and
// rows added to by lists of other rows in a fixed order (ghost gradients from every
// peer, in rank order). Host-memory backends get the loops here; a backend over device
// memory (host_accessible = false) supplies
//     B::copy_rows(src, dst)                  dst = src (same shape, strides may differ)
//     B::gather_rows(x, rows, out)            out[k] = x[rows[k]], k < out.rows()
//     B::add_row_lists(src, ptr, pos, dst)    dst[i] += src[pos[j]] for j in [ptr[i], ptr[i+1]), j ascending
//     B::fill_zero(dst)                       dst = 0
// with `rows`, `ptr` and `pos` in its memory. The order of the additions is fixed, so the
// result is the same bits on every backend that rounds alike, and on every run.
#include <algorithm>
#include <cstddef>

#include "mixgcn/backend/host/threading.hpp"
#include "mixgcn/backend/memory.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"

namespace mixgcn::backend {

template <class B, class V>
void copy_rows(const_matrix_view<V> src, matrix_view<V> dst) {
    require(src.rows() == dst.rows() && src.cols() == dst.cols(), "copy_rows: ", src.rows(), "x", src.cols(),
            " into ", dst.rows(), "x", dst.cols());
    if constexpr (host_accessible<B>()) {
        const std::size_t d = src.cols();
        host_detail::parallel_blocks(src.rows(), src.rows() * d, [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
            for (std::size_t i = b; i < e; ++i) std::copy_n(src.row(i), d, dst.row(i));
        });
    } else {
        B::copy_rows(src, dst);
    }
}

template <class B, class V>
void gather_rows(const_matrix_view<V> x, const index_t* rows, matrix_view<V> out) {
    require(x.cols() == out.cols(), "gather_rows: widths ", x.cols(), " and ", out.cols(), " differ");
    if constexpr (host_accessible<B>()) {
        const std::size_t d = x.cols();
        host_detail::parallel_blocks(out.rows(), out.rows() * d, [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
            for (std::size_t k = b; k < e; ++k) std::copy_n(x.row(static_cast<std::size_t>(rows[k])), d, out.row(k));
        });
    } else {
        B::gather_rows(x, rows, out);
    }
}

template <class B, class V>
void add_row_lists(const_matrix_view<V> src, const offset_t* ptr, const index_t* pos, matrix_view<V> dst) {
    require(src.cols() == dst.cols(), "add_row_lists: widths ", src.cols(), " and ", dst.cols(), " differ");
    if constexpr (host_accessible<B>()) {
        const std::size_t d = src.cols();
        host_detail::parallel_blocks(dst.rows(), dst.rows() * d, [&](std::size_t b, std::size_t e, std::size_t, std::size_t) {
            for (std::size_t i = b; i < e; ++i) {
                V* row = dst.row(i);
                for (auto j = ptr[i]; j < ptr[i + 1]; ++j) {
                    const V* add = src.row(static_cast<std::size_t>(pos[j]));
                    for (std::size_t c = 0; c < d; ++c) row[c] += add[c];
                }
            }
        });
    } else {
        B::add_row_lists(src, ptr, pos, dst);
    }
}

template <class B, class V>
void fill_zero(matrix_view<V> dst) {
    if constexpr (host_accessible<B>()) {
        for (std::size_t i = 0; i < dst.rows(); ++i) std::fill_n(dst.row(i), dst.cols(), V(0));
    } else {
        B::fill_zero(dst);
    }
}

}  // namespace mixgcn::backend
