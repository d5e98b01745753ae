#pragma once
// Element-wise device kernels: the fused GEMM epilogue (bias + ReLU, optionally + dropout),
// ReLU and dropout backward, y += s x, and Adam. The dropout mask uses the counter-based
// rule of backend::dropout_keep (a pure function of seed, global row, column and width),
// so the device draws the host's mask bit for bit.
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mixgcn/backend/cuda/context.cuh"
#include "mixgcn/backend/optimizer_update.hpp"
#include "mixgcn/core/dense.hpp"

namespace mixgcn::gpu {

namespace detail {

// Same constants and steps as mixgcn::splitmix64 / backend::dropout_keep; tests check
// equality against the host functions.
__host__ __device__ constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
// The shared counter-based rule (backend/common.hpp is host/device under nvcc).
using mixgcn::backend::dropout_keep;

// matrix_view's accessors are host functions; kernels take this plain twin.
template <class T>
struct dview {
    T* data;
    std::size_t rows, cols, stride;
    __device__ T& operator()(std::size_t r, std::size_t c) const { return data[r * stride + c]; }
};
template <class T>
dview<T> dev(matrix_view<T> v) noexcept {
    return {v.data(), v.rows(), v.cols(), v.stride()};
}

inline unsigned grid_for(std::size_t n, unsigned threads = 256) {
    // Grid-stride loops below cover anything beyond this cap.
    const std::size_t blocks = (n + threads - 1) / threads;
    return static_cast<unsigned>(blocks < 65535u * 8u ? (blocks ? blocks : 1) : 65535u * 8u);
}

struct dropout_args {
    std::uint8_t* mask;  // rows x cols, contiguous; null: no dropout
    double p;
    std::uint64_t seed;
    dropout_index at;  // global row (device ids or offset) and column offset
};

// z = act(z + bias); with dropout, out = mask ? z * scale : 0 and z keeps the activation
// (backward needs it for ReLU).
template <class V>
__global__ void bias_act_kernel(dview<V> z, const V* bias, bool relu, dview<V> out, dropout_args d,
                                V scale) {
    const std::size_t cols = z.cols, n = z.rows * cols;
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const std::size_t r = i / cols, c = i % cols;
        V v = z(r, c) + (bias ? bias[c] : V(0));
        v = relu ? (v > V(0) ? v : V(0)) : v;
        z(r, c) = v;
        if (d.mask) {
            const bool keep = dropout_keep(d.seed, d.at.row(r), d.at.col_offset + c, d.p);
            d.mask[i] = keep;
            out(r, c) = keep ? v * scale : V(0);
        }
    }
}

template <class V>
__global__ void dropout_kernel(dview<const V> x, dview<V> y, dropout_args d, V scale) {
    const std::size_t cols = x.cols, n = x.rows * cols;
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const std::size_t r = i / cols, c = i % cols;
        const bool keep = dropout_keep(d.seed, d.at.row(r), d.at.col_offset + c, d.p);
        if (d.mask) d.mask[i] = keep;
        y(r, c) = keep ? x(r, c) * scale : V(0);
    }
}

template <class V>
__global__ void dropout_backward_kernel(dview<V> g, const std::uint8_t* mask, V scale) {
    const std::size_t cols = g.cols, n = g.rows * cols;
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const std::size_t r = i / cols, c = i % cols;
        g(r, c) = mask[i] ? g(r, c) * scale : V(0);
    }
}

// Backward of dropout with the mask drawn again (no stored mask).
template <class V>
__global__ void dropout_backward_rule_kernel(dview<V> g, dropout_args d, V scale) {
    const std::size_t cols = g.cols, n = g.rows * cols;
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const std::size_t r = i / cols, c = i % cols;
        g(r, c) = dropout_keep(d.seed, d.at.row(r), d.at.col_offset + c, d.p) ? g(r, c) * scale : V(0);
    }
}

template <class V>
__global__ void relu_backward_kernel(dview<const V> act, dview<V> g) {
    const std::size_t cols = g.cols, n = g.rows * cols;
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const std::size_t r = i / cols, c = i % cols;
        if (!(act(r, c) > V(0))) g(r, c) = V(0);
    }
}

// A product nvcc may not contract into an FMA: y += s·x then rounds twice, as the host
// loop does, so scale_add agrees with the host backends bit for bit.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

template <class V>
__global__ void scale_add_kernel(std::size_t n, V s, const V* x, V* y) {
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x)
        y[i] += mul_rn(s, x[i]);
}

template <class V>
__global__ void adam_kernel(std::size_t n, V* param, const V* grad, V* m, V* v, V lr, V beta1, V beta2, V eps,
                            V weight_decay, V c1, V c2) {
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const V g = grad[i] + weight_decay * param[i];
        m[i] = beta1 * m[i] + (V(1) - beta1) * g;
        v[i] = beta2 * v[i] + (V(1) - beta2) * g * g;
        param[i] -= lr * (m[i] * c1) / (sqrt(v[i] * c2) + eps);
    }
}

template <class V>
__global__ void sgd_kernel(std::size_t n, V* param, const V* grad, V* m, V lr, V momentum, V weight_decay) {
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
        const V g = grad[i] + weight_decay * param[i];
        m[i] = momentum * m[i] + g;
        param[i] -= lr * (momentum != V(0) ? m[i] : g);
    }
}

}  // namespace detail

template <class V>
V dropout_scale(V p) noexcept {
    return p < V(1) ? V(1) / (V(1) - p) : V(0);
}

// z = act(z + bias) in place (bias: device pointer or null).
template <class V>
void bias_act(matrix_view<V> z, const V* bias, bool relu) {
    auto& ctx = current_context();
    if (z.size() == 0) return;
    detail::bias_act_kernel<<<detail::grid_for(z.size()), 256, 0, ctx.stream()>>>(detail::dev(z), bias, relu, detail::dev(z),
                                                                                 detail::dropout_args{}, V(1));
    MIXGCN_CUDA_CHECK_LAUNCH();
}

// The fused epilogue after a GEMM: z = act(z + bias), out = dropout(z) with the mask
// written to `mask` (contiguous rows x cols). One pass over z instead of two.
template <class V>
void bias_act_dropout(matrix_view<V> z, const V* bias, bool relu, matrix_view<V> out, std::uint8_t* mask, V p,
                      std::uint64_t seed, dropout_index at) {
    require(out.rows() == z.rows() && out.cols() == z.cols(), "gpu::bias_act_dropout: output ", out.rows(), "x",
            out.cols(), " for input ", z.rows(), "x", z.cols());
    require(mask != nullptr, "gpu::bias_act_dropout: null mask");
    if (z.size() == 0) return;
    auto& ctx = current_context();
    detail::bias_act_kernel<<<detail::grid_for(z.size()), 256, 0, ctx.stream()>>>(
        detail::dev(z), bias, relu, detail::dev(out), detail::dropout_args{mask, double(p), seed, at}, dropout_scale(p));
    MIXGCN_CUDA_CHECK_LAUNCH();
}

template <class V>
void relu_backward(const_matrix_view<V> activated, matrix_view<V> grad) {
    require(activated.rows() == grad.rows() && activated.cols() == grad.cols(), "gpu::relu_backward: activation ",
            activated.rows(), "x", activated.cols(), " for gradient ", grad.rows(), "x", grad.cols());
    if (grad.size() == 0) return;
    detail::relu_backward_kernel<<<detail::grid_for(grad.size()), 256, 0, current_context().stream()>>>(
        detail::dev(activated), detail::dev(grad));
    MIXGCN_CUDA_CHECK_LAUNCH();
}

template <class V>
void dropout(const_matrix_view<V> x, matrix_view<V> y, std::uint8_t* mask, V p, std::uint64_t seed,
             dropout_index at) {
    require(x.rows() == y.rows() && x.cols() == y.cols(), "gpu::dropout: output ", y.rows(), "x", y.cols(),
            " for input ", x.rows(), "x", x.cols());
    if (x.size() == 0) return;
    detail::dropout_kernel<<<detail::grid_for(x.size()), 256, 0, current_context().stream()>>>(
        detail::dev(x), detail::dev(y), detail::dropout_args{mask, double(p), seed, at}, dropout_scale(p));
    MIXGCN_CUDA_CHECK_LAUNCH();
}

template <class V>
void dropout_backward(matrix_view<V> grad, const std::uint8_t* mask, V p) {
    if (grad.size() == 0) return;
    detail::dropout_backward_kernel<<<detail::grid_for(grad.size()), 256, 0, current_context().stream()>>>(
        detail::dev(grad), mask, dropout_scale(p));
    MIXGCN_CUDA_CHECK_LAUNCH();
}

template <class V>
void dropout_backward(matrix_view<V> grad, V p, std::uint64_t seed, dropout_index at) {
    if (grad.size() == 0) return;
    detail::dropout_backward_rule_kernel<<<detail::grid_for(grad.size()), 256, 0, current_context().stream()>>>(
        detail::dev(grad), detail::dropout_args{nullptr, double(p), seed, at}, dropout_scale(p));
    MIXGCN_CUDA_CHECK_LAUNCH();
}

// y += s * x over n device values.
template <class V>
void scale_add(std::size_t n, V s, const V* x, V* y) {
    if (n == 0) return;
    detail::scale_add_kernel<<<detail::grid_for(n), 256, 0, current_context().stream()>>>(n, s, x, y);
    MIXGCN_CUDA_CHECK_LAUNCH();
}

struct adam_options {
    double lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
};

// nn::optimizer's hooks: one Adam / momentum-SGD step with the coefficients the host
// optimizer computed (backend/optimizer_update.hpp holds the same formulas for the host).
template <class V>
void adam_step(std::size_t n, V* param, const V* grad, V* m, V* v, const backend::update_coefficients<V>& k) {
    if (n == 0) return;
    detail::adam_kernel<<<detail::grid_for(n), 256, 0, current_context().stream()>>>(
        n, param, grad, m, v, k.lr, k.beta1, k.beta2, k.eps, k.weight_decay, k.c1, k.c2);
    MIXGCN_CUDA_CHECK_LAUNCH();
}
template <class V>
void sgd_step(std::size_t n, V* param, const V* grad, V* m, const backend::update_coefficients<V>& k) {
    if (n == 0) return;
    detail::sgd_kernel<<<detail::grid_for(n), 256, 0, current_context().stream()>>>(n, param, grad, m, k.lr,
                                                                                    k.momentum, k.weight_decay);
    MIXGCN_CUDA_CHECK_LAUNCH();
}

// One Adam step (Kingma & Ba, with bias correction; weight decay added to the gradient as
// L2, like torch.optim.Adam), written as nn::optimizer's host loop. `step` counts from 1.
// All pointers are device pointers.
// The coefficients of backend::adam_coefficients, as nn::optimizer uses; the update is adam_step's.
template <class V>
void adam(std::size_t n, V* param, const V* grad, V* m, V* v, std::uint64_t step, adam_options o = {}) {
    require(step >= 1, "gpu::adam: step counts from 1, got ", step);
    auto k = backend::adam_coefficients<V>(o.lr, o.beta1, o.beta2, o.eps, step);
    k.weight_decay = V(o.weight_decay);
    adam_step(n, param, grad, m, v, k);
}

}  // namespace mixgcn::gpu
