#pragma once
// RAII device resources: streams, events and stream-ordered device buffers.
//
// Buffers come from the device's default memory pool (cudaMallocAsync) whose release
// threshold is raised to "never release", so after the first epoch every allocation of
// the same sizes is served from the pool without touching the driver.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>

#include "mixgcn/backend/cuda/error.cuh"

namespace mixgcn::gpu {

// Number of visible devices; 0 (not an exception) when there is no driver or device, so
// tests and benches can skip cleanly.
inline int device_count() noexcept {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

// Keeps freed pool memory cached in the process instead of returning it to the OS at
// every synchronisation. Idempotent; called once per device by the context.
inline void retain_pool_memory(int device) {
    cudaMemPool_t pool{};
    MIXGCN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
    MIXGCN_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
}

class stream {
public:
    stream() { MIXGCN_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    stream(stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    stream& operator=(stream&& o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~stream() {
        if (s_) (void)cudaStreamDestroy(s_);
    }
    cudaStream_t get() const noexcept { return s_; }
    void synchronize() const { MIXGCN_CUDA_CHECK(cudaStreamSynchronize(s_)); }

private:
    cudaStream_t s_ = nullptr;
};

class event {
public:
    event() { MIXGCN_CUDA_CHECK(cudaEventCreate(&e_)); }
    event(const event&) = delete;
    event& operator=(const event&) = delete;
    event(event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
    ~event() {
        if (e_) (void)cudaEventDestroy(e_);
    }
    cudaEvent_t get() const noexcept { return e_; }
    void record(cudaStream_t s) { MIXGCN_CUDA_CHECK(cudaEventRecord(e_, s)); }
    void synchronize() const { MIXGCN_CUDA_CHECK(cudaEventSynchronize(e_)); }
    // Milliseconds from `start` to this event (both recorded and completed).
    float elapsed_since(const event& start) const {
        float ms = 0;
        MIXGCN_CUDA_CHECK(cudaEventElapsedTime(&ms, start.e_, e_));
        return ms;
    }

private:
    cudaEvent_t e_ = nullptr;
};

// Owning, stream-ordered device array. Allocation and release are ordered on the stream
// given at construction, so a temporary freed in one kernel sequence is reused by the
// next without a device-wide synchronisation. Not zero-initialised unless asked.
template <class T>
class device_buffer {
    static_assert(std::is_trivially_copyable_v<T>, "device_buffer holds plain data that can be copied with memcpy.");

public:
    device_buffer() = default;
    device_buffer(std::size_t n, cudaStream_t s) : size_(n), stream_(s) {
        if (n == 0) return;
        void* p = nullptr;
        MIXGCN_CUDA_CHECK(cudaMallocAsync(&p, n * sizeof(T), s));
        data_ = static_cast<T*>(p);
    }
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;
    device_buffer(device_buffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), stream_(o.stream_) {}
    device_buffer& operator=(device_buffer&& o) noexcept {
        swap(o);
        return *this;
    }
    ~device_buffer() { release(); }

    void swap(device_buffer& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(stream_, o.stream_);
    }
    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t bytes() const noexcept { return size_ * sizeof(T); }
    bool empty() const noexcept { return size_ == 0; }
    cudaStream_t stream() const noexcept { return stream_; }
    std::span<T> span() noexcept { return {data_, size_}; }
    std::span<const T> span() const noexcept { return {data_, size_}; }

    void zero() {
        if (size_) MIXGCN_CUDA_CHECK(cudaMemsetAsync(data_, 0, bytes(), stream_));
    }
    // Host -> device of exactly size() elements, ordered on the buffer's stream.
    void upload(std::span<const T> host) {
        require(host.size() == size_, "device_buffer::upload: ", host.size(), " elements into a buffer of ", size_);
        if (size_) MIXGCN_CUDA_CHECK(cudaMemcpyAsync(data_, host.data(), bytes(), cudaMemcpyHostToDevice, stream_));
    }
    // Device -> host; synchronises the stream so the data is ready on return.
    void download(std::span<T> host) const {
        require(host.size() == size_, "device_buffer::download: ", size_, " elements into ", host.size());
        if (size_) MIXGCN_CUDA_CHECK(cudaMemcpyAsync(host.data(), data_, bytes(), cudaMemcpyDeviceToHost, stream_));
        MIXGCN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

private:
    void release() noexcept {
        if (data_) (void)cudaFreeAsync(data_, stream_);
        data_ = nullptr;
        size_ = 0;
    }
    T* data_ = nullptr;
    std::size_t size_ = 0;
    cudaStream_t stream_ = nullptr;
};

}  // namespace mixgcn::gpu
