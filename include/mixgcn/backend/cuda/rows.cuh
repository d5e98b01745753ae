#pragma once
// The row moves of backend/row_moves.hpp on the device, for the distributed strategies'
// halo buffers: a block copy, rows gathered by an index list, and rows added to by lists
// of other rows in list order (ghost gradients in rank order: the host's order, so the
// result is the host's bits). All pointers are device pointers; work is queued on the
// current context's stream.
#include <cuda_runtime.h>

#include <cstddef>

#include "mixgcn/backend/cuda/reduce.cuh"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"

namespace mixgcn::gpu {

namespace detail {

// One warp per output row (grid-stride over rows), lanes over the columns.
template <class V>
__global__ void gather_rows_kernel(dview<const V> x, const index_t* rows, dview<V> out) {
    const std::size_t warps = std::size_t(gridDim.x) * blockDim.x / 32;
    const unsigned lane = threadIdx.x % 32;
    for (std::size_t k = (blockIdx.x * std::size_t(blockDim.x) + threadIdx.x) / 32; k < out.rows; k += warps) {
        const auto r = static_cast<std::size_t>(rows[k]);
        for (std::size_t c = lane; c < out.cols; c += 32) out(k, c) = x(r, c);
    }
}

// dst[i] += src[pos[j]] for j in [ptr[i], ptr[i+1]), j ascending: each column's sum is
// one thread's, in list order.
template <class V>
__global__ void add_row_lists_kernel(dview<const V> src, const offset_t* ptr, const index_t* pos, dview<V> dst) {
    const std::size_t warps = std::size_t(gridDim.x) * blockDim.x / 32;
    const unsigned lane = threadIdx.x % 32;
    for (std::size_t i = (blockIdx.x * std::size_t(blockDim.x) + threadIdx.x) / 32; i < dst.rows; i += warps) {
        const offset_t b = ptr[i], e = ptr[i + 1];
        if (b == e) continue;
        for (std::size_t c = lane; c < dst.cols; c += 32) {
            V acc = dst(i, c);
            for (offset_t j = b; j < e; ++j) acc += src(static_cast<std::size_t>(pos[j]), c);
            dst(i, c) = acc;
        }
    }
}

template <class V>
__global__ void squares_kernel(const V* x, std::size_t n, double* out) {
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x)
        out[i] = double(x[i]) * double(x[i]);
}

inline unsigned warp_rows_grid(std::size_t rows) {
    const std::size_t blocks = (rows * 32 + 255) / 256;
    return static_cast<unsigned>(blocks == 0 ? 1 : (blocks < 65535u * 8u ? blocks : 65535u * 8u));
}

}  // namespace detail

// dst = src (equal shapes; strides may differ).
template <class V>
void copy_rows(const_matrix_view<V> src, matrix_view<V> dst) {
    require(src.rows() == dst.rows() && src.cols() == dst.cols(), "gpu::copy_rows: ", src.rows(), "x", src.cols(),
            " into ", dst.rows(), "x", dst.cols());
    if (src.size() == 0) return;
    MIXGCN_CUDA_CHECK(cudaMemcpy2DAsync(dst.data(), dst.stride() * sizeof(V), src.data(), src.stride() * sizeof(V),
                                        src.cols() * sizeof(V), src.rows(), cudaMemcpyDeviceToDevice,
                                        current_context().stream()));
}

// dst = 0.
template <class V>
void fill_zero(matrix_view<V> dst) {
    if (dst.size() == 0) return;
    MIXGCN_CUDA_CHECK(cudaMemset2DAsync(dst.data(), dst.stride() * sizeof(V), 0, dst.cols() * sizeof(V), dst.rows(),
                                        current_context().stream()));
}

// out[k] = x[rows[k]] for k < out.rows().
template <class V>
void gather_rows(const_matrix_view<V> x, const index_t* rows, matrix_view<V> out) {
    require(x.cols() == out.cols(), "gpu::gather_rows: widths ", x.cols(), " and ", out.cols(), " differ");
    if (out.size() == 0) return;
    detail::gather_rows_kernel<<<detail::warp_rows_grid(out.rows()), 256, 0, current_context().stream()>>>(
        detail::dev(x), rows, detail::dev(out));
    MIXGCN_CUDA_CHECK_LAUNCH();
}

// dst[i] += src[pos[j]] for j in [ptr[i], ptr[i+1]) in ascending j, i < dst.rows().
template <class V>
void add_row_lists(const_matrix_view<V> src, const offset_t* ptr, const index_t* pos, matrix_view<V> dst) {
    require(src.cols() == dst.cols(), "gpu::add_row_lists: widths ", src.cols(), " and ", dst.cols(), " differ");
    if (dst.size() == 0) return;
    detail::add_row_lists_kernel<<<detail::warp_rows_grid(dst.rows()), 256, 0, current_context().stream()>>>(
        detail::dev(src), ptr, pos, detail::dev(dst));
    MIXGCN_CUDA_CHECK_LAUNCH();
}

// Σ x[i]² over n device values, in double, returned to the host (one synchronisation).
template <class V>
double sum_of_squares(std::size_t n, const V* x) {
    if (n == 0) return 0.0;
    auto& ctx = current_context();
    device_buffer<double> sq(n, ctx.stream());
    detail::squares_kernel<<<detail::grid_for(n), 256, 0, ctx.stream()>>>(x, n, sq.data());
    MIXGCN_CUDA_CHECK_LAUNCH();
    return detail::sum_to_host(sq, n);
}

}  // namespace mixgcn::gpu
