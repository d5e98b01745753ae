#pragma once
// Cache-line aligned, owning, zero-initialised array. The allocation is RAII; moves are
// cheap; copies are explicit deep copies so a matrix can be cloned for checkpoints.
//
// Large buffers (>= mapped_buffer_bytes) are mapped straight from the kernel on Linux:
// its pages are already zero, so nothing is written here, and each page is first
// touched (faulted in) by the thread that first writes it, which is the thread that
// uses it (first-touch placement). Before, every buffer was zero-filled on the
// allocating thread: the dropped input of a 100k x 128 layer, allocated every step,
// cost a serial 51 MB fill (docs/kernels.md, "Allocation"). MADV_HUGEPAGE was tried
// and dropped: fewer faults, but the kernel's synchronous compaction made epochs
// slower and noisier.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace mixgcn {

inline constexpr std::size_t buffer_alignment = 64;
// Buffers from this size up come from mmap (on Linux): see above.
inline constexpr std::size_t mapped_buffer_bytes = std::size_t(4) << 20;

namespace detail {

// Zeroed memory of at least `bytes` (a multiple of buffer_alignment); `mapped` says which
// release the block needs.
inline void* allocate_buffer(std::size_t bytes, bool& mapped) {
#if defined(__linux__)
    if (bytes >= mapped_buffer_bytes) {
        void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        mapped = true;
        return p;
    }
#endif
    mapped = false;
    void* p = ::operator new(bytes, std::align_val_t{buffer_alignment});
    std::memset(p, 0, bytes);
    return p;
}

inline void release_buffer(void* p, std::size_t bytes, bool mapped) noexcept {
#if defined(__linux__)
    if (mapped) {
        ::munmap(p, bytes);
        return;
    }
#endif
    (void)bytes;
    (void)mapped;
    ::operator delete(p, std::align_val_t{buffer_alignment});
}

}  // namespace detail

template <class T>
class aligned_buffer {
    static_assert(std::is_trivially_copyable_v<T>,
                  "aligned_buffer holds plain numbers; use std::vector for other element types.");

public:
    aligned_buffer() = default;
    explicit aligned_buffer(std::size_t n) : size_(n) {
        if (n == 0) return;
        data_ = static_cast<T*>(detail::allocate_buffer(allocated_bytes(), mapped_));
    }
    aligned_buffer(const aligned_buffer& other) : aligned_buffer(other.size_) {
        std::copy_n(other.data_, size_, data_);
    }
    aligned_buffer(aligned_buffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          mapped_(std::exchange(other.mapped_, false)) {}
    aligned_buffer& operator=(aligned_buffer other) noexcept {
        swap(other);
        return *this;
    }
    ~aligned_buffer() { release(); }

    void swap(aligned_buffer& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(mapped_, other.mapped_);
    }

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    T* begin() noexcept { return data_; }
    T* end() noexcept { return data_ + size_; }
    const T* begin() const noexcept { return data_; }
    const T* end() const noexcept { return data_ + size_; }
    std::span<T> span() noexcept { return {data_, size_}; }
    std::span<const T> span() const noexcept { return {data_, size_}; }
    std::size_t bytes() const noexcept { return size_ * sizeof(T); }

private:
    std::size_t allocated_bytes() const noexcept {
        return (size_ * sizeof(T) + buffer_alignment - 1) / buffer_alignment * buffer_alignment;
    }
    void release() noexcept {
        if (data_) detail::release_buffer(data_, allocated_bytes(), mapped_);
        data_ = nullptr;
    }
    T* data_ = nullptr;
    std::size_t size_ = 0;
    bool mapped_ = false;  // from mmap (large buffers on Linux), not operator new
};

}  // namespace mixgcn
