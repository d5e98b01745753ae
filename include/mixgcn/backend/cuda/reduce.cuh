#pragma once
// Reductions on the device: column sums (bias gradients), softmax cross-entropy with its
// gradient, and the count of correct predictions. Sums run in double and in a fixed
// order, so results are deterministic run to run and close to the float64 reference.
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mixgcn/backend/cuda/elementwise.cuh"

namespace mixgcn::gpu {

namespace detail {

inline constexpr unsigned full_mask = 0xffffffffu;

// Column partial sums: block (32 columns x 8 row lanes), blockIdx.y strides the rows.
template <class V>
__global__ void column_partial_kernel(dview<const V> x, double* partial) {
    __shared__ double tile[8][33];
    const std::size_t c = blockIdx.x * 32 + threadIdx.x;
    double acc = 0;
    if (c < x.cols)
        for (std::size_t r = blockIdx.y * 8 + threadIdx.y; r < x.rows; r += std::size_t(gridDim.y) * 8)
            acc += double(x(r, c));
    tile[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < x.cols) {
        for (int k = 1; k < 8; ++k) acc += tile[k][threadIdx.x];
        partial[blockIdx.y * x.cols + c] = acc;
    }
}

template <class V>
__global__ void column_finish_kernel(const double* partial, std::size_t parts, std::size_t cols, V* out) {
    const std::size_t c = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    if (c >= cols) return;
    double acc = 0;
    for (std::size_t k = 0; k < parts; ++k) acc += partial[k * cols + c];
    out[c] = static_cast<V>(acc);
}

__device__ inline double warp_sum(double v) {
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(full_mask, v, o);
    return v;
}
__device__ inline double warp_max(double v) {
    for (int o = 16; o > 0; o /= 2) v = fmax(v, __shfl_xor_sync(full_mask, v, o));
    return v;
}

// One warp per listed row: loss of the row into row_loss[i], gradient into grad.
template <class V>
__global__ void softmax_xent_kernel(dview<const V> logits, const std::int32_t* labels, const index_t* rows,
                                    std::size_t count, dview<V> grad, V scale, double* row_loss) {
    const std::size_t i = (blockIdx.x * std::size_t(blockDim.x) + threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x % 32);
    if (i >= count) return;
    const auto r = static_cast<std::size_t>(rows[i]);
    const auto y = static_cast<std::size_t>(labels[r]);
    double mx = -INFINITY;
    for (std::size_t c = lane; c < logits.cols; c += 32) mx = fmax(mx, double(logits(r, c)));
    mx = warp_max(mx);
    double sum = 0;
    for (std::size_t c = lane; c < logits.cols; c += 32) sum += exp(double(logits(r, c)) - mx);
    sum = warp_sum(sum);
    for (std::size_t c = lane; c < logits.cols; c += 32) {
        const double p = exp(double(logits(r, c)) - mx) / sum;
        grad(r, c) = static_cast<V>(double(scale) * (p - (c == y ? 1.0 : 0.0)));
    }
    if (lane == 0) row_loss[i] = log(sum) + mx - double(logits(r, y));
}

// First maximum wins, as backend::argmax_row.
template <class V>
__global__ void correct_kernel(dview<const V> logits, const std::int32_t* labels, const index_t* rows,
                               std::size_t count, double* hit) {
    const std::size_t i = (blockIdx.x * std::size_t(blockDim.x) + threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x % 32);
    if (i >= count) return;
    const auto r = static_cast<std::size_t>(rows[i]);
    std::size_t best = logits.cols;
    V best_v{};
    for (std::size_t c = lane; c < logits.cols; c += 32)
        if (best == logits.cols || logits(r, c) > best_v) best = c, best_v = logits(r, c);
    for (int o = 16; o > 0; o /= 2) {
        const std::size_t ob = __shfl_xor_sync(full_mask, best, o);
        const V ov = __shfl_xor_sync(full_mask, best_v, o);
        if (ob != logits.cols && (best == logits.cols || ov > best_v || (ov == best_v && ob < best)))
            best = ob, best_v = ov;
    }
    if (lane == 0) hit[i] = best == static_cast<std::size_t>(labels[r]) ? 1.0 : 0.0;
}

// Sum of n doubles by one block in a fixed order.
template <class T>  // a template so the kernel may live in a header
__global__ void sum_kernel(const T* v, std::size_t n, T* out) {
    __shared__ T part[1024];
    T acc = 0;
    for (std::size_t i = threadIdx.x; i < n; i += blockDim.x) acc += v[i];
    part[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) *out = part[0];
}

inline double sum_to_host(const device_buffer<double>& v, std::size_t n) {
    auto& ctx = current_context();
    device_buffer<double> total(1, ctx.stream());
    sum_kernel<<<1, 1024, 0, ctx.stream()>>>(v.data(), n, total.data());
    MIXGCN_CUDA_CHECK_LAUNCH();
    double h = 0;
    MIXGCN_CUDA_CHECK(cudaMemcpyAsync(&h, total.data(), sizeof h, cudaMemcpyDeviceToHost, ctx.stream()));
    ctx.synchronize();
    return h;
}

inline unsigned warps_grid(std::size_t warps) { return static_cast<unsigned>((warps * 32 + 255) / 256); }

}  // namespace detail

// out[c] = sum_r x(r, c); `out` is a device pointer.
template <class V>
void column_sum(const_matrix_view<V> x, V* out) {
    if (x.cols() == 0) return;
    auto& ctx = current_context();
    const std::size_t parts = std::min<std::size_t>((x.rows() + 63) / 64 + 1, 256);
    device_buffer<double> partial(parts * x.cols(), ctx.stream());
    const dim3 grid(static_cast<unsigned>((x.cols() + 31) / 32), static_cast<unsigned>(parts));
    detail::column_partial_kernel<<<grid, dim3(32, 8), 0, ctx.stream()>>>(detail::dev(x), partial.data());
    MIXGCN_CUDA_CHECK_LAUNCH();
    detail::column_finish_kernel<<<static_cast<unsigned>((x.cols() + 255) / 256), 256, 0, ctx.stream()>>>(
        partial.data(), parts, x.cols(), out);
    MIXGCN_CUDA_CHECK_LAUNCH();
}

// Sum over the listed rows of -log softmax(logits)[label]; grad gets
// scale * (softmax - onehot) on those rows and 0 elsewhere. labels (indexed by row) and
// rows are device pointers; the loss comes back to the host (one synchronisation).
template <class V>
double softmax_cross_entropy(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                             std::size_t count, matrix_view<V> grad, V scale) {
    require(grad.rows() == logits.rows() && grad.cols() == logits.cols(), "gpu::softmax_cross_entropy: gradient ",
            grad.rows(), "x", grad.cols(), " for logits ", logits.rows(), "x", logits.cols());
    auto& ctx = current_context();
    if (grad.size())
        MIXGCN_CUDA_CHECK(cudaMemset2DAsync(grad.data(), grad.stride() * sizeof(V), 0, grad.cols() * sizeof(V),
                                            grad.rows(), ctx.stream()));
    if (count == 0 || logits.cols() == 0) return 0.0;
    device_buffer<double> row_loss(count, ctx.stream());
    detail::softmax_xent_kernel<<<detail::warps_grid(count), 256, 0, ctx.stream()>>>(
        detail::dev(logits), labels, rows, count, detail::dev(grad), scale, row_loss.data());
    MIXGCN_CUDA_CHECK_LAUNCH();
    return detail::sum_to_host(row_loss, count);
}

template <class V>
std::size_t count_correct(const_matrix_view<V> logits, const std::int32_t* labels, const index_t* rows,
                          std::size_t count) {
    if (count == 0 || logits.cols() == 0) return 0;
    auto& ctx = current_context();
    device_buffer<double> hit(count, ctx.stream());
    detail::correct_kernel<<<detail::warps_grid(count), 256, 0, ctx.stream()>>>(detail::dev(logits), labels, rows,
                                                                               count, hit.data());
    MIXGCN_CUDA_CHECK_LAUNCH();
    return static_cast<std::size_t>(std::llround(detail::sum_to_host(hit, count)));
}

}  // namespace mixgcn::gpu
