#pragma once
// The state the static backend functions run on: one device, one stream, one cuBLAS
// handle bound to that stream, and the numeric switches (TF32). A process-wide default
// context is created on first use on the current device; code that wants its own stream
// builds a context and installs it with `scoped_context`.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <utility>

#include "mixgcn/backend/cuda/error.cuh"
#include "mixgcn/backend/cuda/memory.cuh"

namespace mixgcn::gpu {

class context {
public:
    // The device is selected before the stream member is created on it.
    explicit context(int device = -1) : device_(select(device)) {
        retain_pool_memory(device_);
        MIXGCN_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_));
        MIXGCN_CUDA_CHECK(cublasCreate(&blas_));
        MIXGCN_CUDA_CHECK(cublasSetStream(blas_, stream_.get()));
        set_tf32(false);
    }
    context(const context&) = delete;
    context& operator=(const context&) = delete;
    ~context() {
        if (blas_) (void)cublasDestroy(blas_);
    }

    int device() const noexcept { return device_; }
    int sm_count() const noexcept { return sm_count_; }
    cudaStream_t stream() const noexcept { return stream_.get(); }
    cublasHandle_t blas() const noexcept { return blas_; }
    void synchronize() const { stream_.synchronize(); }

    // TF32 tensor-core GEMMs for float: about 10 mantissa bits per product; off by default
    // so results match the host backend to float tolerance.
    void set_tf32(bool on) {
        MIXGCN_CUDA_CHECK(cublasSetMathMode(blas_, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
        tf32_ = on;
    }
    bool tf32() const noexcept { return tf32_; }

    // Thread groups the aggregation splits its work over; 0 (default) sizes them to what
    // the device keeps resident. Tests set small counts to force long per-group runs.
    long long aggregate_groups() const noexcept { return aggregate_groups_; }
    void set_aggregate_groups(long long groups) {
        require(groups >= 0, "gpu::context: aggregate group count ", groups, " is negative");
        aggregate_groups_ = groups;
    }

    // Wide aggregations run as consecutive column blocks of this width (one launch per
    // block, each over all rows), so the rows gathered for one block stay in L2 longer;
    // 0 runs whole rows with the 256/512 kernels. Default 128: on an H100 it beat whole
    // rows at widths 256 and 512 (docs/cuda.md).
    int aggregate_column_block() const noexcept { return aggregate_column_block_; }
    void set_aggregate_column_block(int width) {
        require(width == 0 || width == 32 || width == 64 || width == 128 || width == 256,
                "gpu::context: aggregate column block ", width, " is not 0, 32, 64, 128 or 256");
        aggregate_column_block_ = width;
    }

    template <class T>
    device_buffer<T> allocate(std::size_t n) const {
        return device_buffer<T>(n, stream());
    }

private:
    static int select(int device) {
        const int n = device_count();
        if (n == 0) throw cuda_error("cudaGetDeviceCount", __FILE__, __LINE__, 100, "no CUDA device is visible");
        if (device < 0) MIXGCN_CUDA_CHECK(cudaGetDevice(&device));
        require(device < n, "gpu::context: device ", device, " requested but ", n, " visible");
        MIXGCN_CUDA_CHECK(cudaSetDevice(device));
        return device;
    }
    int device_ = 0;
    int sm_count_ = 0;
    gpu::stream stream_{};
    cublasHandle_t blas_ = nullptr;
    bool tf32_ = false;
    long long aggregate_groups_ = 0;
    int aggregate_column_block_ = 128;
};

namespace detail {
inline context*& installed_context() noexcept {
    thread_local context* c = nullptr;
    return c;
}
}  // namespace detail

// The context the backend uses on this thread: an installed one, else the default.
inline context& current_context() {
    if (auto* c = detail::installed_context()) return *c;
    static context default_ctx;
    return default_ctx;
}

// Routes the backend's work on this thread to `c` for the lifetime of the guard.
class scoped_context {
public:
    explicit scoped_context(context& c) noexcept : previous_(std::exchange(detail::installed_context(), &c)) {}
    scoped_context(const scoped_context&) = delete;
    scoped_context& operator=(const scoped_context&) = delete;
    ~scoped_context() { detail::installed_context() = previous_; }

private:
    context* previous_;
};

}  // namespace mixgcn::gpu
