#pragma once
// Device-resident dense matrices and arrays, and the explicit host <-> device copies.
// Views of device memory are ordinary matrix_view / sparse_view values whose pointers
// are device pointers: never dereference them on the host.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "mixgcn/backend/cuda/context.cuh"
#include "mixgcn/core/dense.hpp"

namespace mixgcn::gpu {

namespace detail {
template <class T>
__global__ void fill_kernel(T* p, std::size_t n, T v) {
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
        p[i] = v;
}
}  // namespace detail

// Row-major, contiguous, zero-initialised on construction (like dense_matrix), stream
// ordered on the current context's stream.
template <class T>
class device_matrix {
public:
    using value_type = T;

    device_matrix() = default;
    device_matrix(std::size_t rows, std::size_t cols)
        : buf_(rows * cols, current_context().stream()), rows_(rows), cols_(cols) {
        buf_.zero();
    }

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::size_t size() const noexcept { return rows_ * cols_; }
    std::size_t bytes() const noexcept { return buf_.bytes(); }
    T* data() noexcept { return buf_.data(); }
    const T* data() const noexcept { return buf_.data(); }

    matrix_view<T> view() noexcept { return {data(), rows_, cols_}; }
    const_matrix_view<T> view() const noexcept { return {data(), rows_, cols_}; }
    const_matrix_view<T> cview() const noexcept { return view(); }
    operator matrix_view<T>() noexcept { return view(); }
    operator const_matrix_view<T>() const noexcept { return view(); }

    void zero() { buf_.zero(); }
    // Every element set to v (dense_matrix::fill's twin; used by initialisers).
    void fill(T v) {
        if (size() == 0) return;
        const std::size_t blocks = std::min<std::size_t>((size() + 255) / 256, 65535);
        detail::fill_kernel<<<static_cast<unsigned>(blocks), 256, 0, current_context().stream()>>>(data(), size(), v);
        MIXGCN_CUDA_CHECK_LAUNCH();
    }
    // Keeps storage when the element count is unchanged (per-epoch temporaries).
    void resize(std::size_t rows, std::size_t cols) {
        if (rows * cols != buf_.size()) {
            buf_ = device_buffer<T>(rows * cols, current_context().stream());
            buf_.zero();
        }
        rows_ = rows;
        cols_ = cols;
    }

private:
    device_buffer<T> buf_;
    std::size_t rows_ = 0, cols_ = 0;
};

// A one-dimensional device array on the current context's stream: backend::cuda's
// array<T> (dropout masks, optimizer moments, labels, row lists). resize keeps the
// storage when the size is unchanged and never initialises.
template <class T>
class device_array {
public:
    using value_type = T;
    device_array() = default;
    explicit device_array(std::size_t n) : buf_(n, current_context().stream()) {}
    void resize(std::size_t n) {
        if (n != buf_.size()) buf_ = device_buffer<T>(n, current_context().stream());
    }
    T* data() noexcept { return buf_.data(); }
    const T* data() const noexcept { return buf_.data(); }
    std::size_t size() const noexcept { return buf_.size(); }
    std::size_t bytes() const noexcept { return buf_.bytes(); }
    bool empty() const noexcept { return buf_.empty(); }

private:
    device_buffer<T> buf_;
};

// Copies between views of equal shape; strides may differ. Ordered on the current
// stream; `download` synchronises so the host data is ready on return.
template <class T>
void upload(const_matrix_view<T> host, matrix_view<T> device) {
    require(host.rows() == device.rows() && host.cols() == device.cols(), "gpu::upload: host ", host.rows(), "x",
            host.cols(), " into device ", device.rows(), "x", device.cols());
    if (host.size() == 0) return;
    MIXGCN_CUDA_CHECK(cudaMemcpy2DAsync(device.data(), device.stride() * sizeof(T), host.data(),
                                        host.stride() * sizeof(T), host.cols() * sizeof(T), host.rows(),
                                        cudaMemcpyHostToDevice, current_context().stream()));
}
template <class T>
void download(const_matrix_view<T> device, matrix_view<T> host) {
    require(host.rows() == device.rows() && host.cols() == device.cols(), "gpu::download: device ", device.rows(),
            "x", device.cols(), " into host ", host.rows(), "x", host.cols());
    if (host.size() != 0)
        MIXGCN_CUDA_CHECK(cudaMemcpy2DAsync(host.data(), host.stride() * sizeof(T), device.data(),
                                            device.stride() * sizeof(T), host.cols() * sizeof(T), host.rows(),
                                            cudaMemcpyDeviceToHost, current_context().stream()));
    current_context().synchronize();
}

template <class T>
device_matrix<T> to_device(const dense_matrix<T>& host) {
    device_matrix<T> d(host.rows(), host.cols());
    upload<T>(host.view(), d.view());
    return d;
}
template <class T>
dense_matrix<T> to_host(const_matrix_view<T> device) {
    dense_matrix<T> h(device.rows(), device.cols());
    download<T>(device, h.view());
    return h;
}
template <class T>
dense_matrix<T> to_host(const device_matrix<T>& device) {
    return to_host<T>(device.view());
}

template <class T>
device_buffer<T> to_device(std::span<const T> host) {
    device_buffer<T> d(host.size(), current_context().stream());
    d.upload(host);
    return d;
}
template <class T>
device_buffer<T> to_device(const std::vector<T>& host) {
    return to_device(std::span<const T>(host));
}
template <class T>
std::vector<T> to_host(const device_buffer<T>& device) {
    std::vector<T> h(device.size());
    device.download(h);
    return h;
}

}  // namespace mixgcn::gpu
