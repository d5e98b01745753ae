#pragma once
// Cache-line aligned, owning, zero-initialised array. The allocation is RAII; moves are
// cheap; copies are explicit deep copies so a matrix can be cloned for checkpoints.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace mixgcn {

inline constexpr std::size_t buffer_alignment = 64;

template <class T>
class aligned_buffer {
    static_assert(std::is_trivially_copyable_v<T>,
                  "aligned_buffer holds plain numbers; use std::vector for other element types.");

public:
    aligned_buffer() = default;
    explicit aligned_buffer(std::size_t n) : size_(n) {
        if (n == 0) return;
        const std::size_t bytes = (n * sizeof(T) + buffer_alignment - 1) / buffer_alignment * buffer_alignment;
        data_ = static_cast<T*>(::operator new(bytes, std::align_val_t{buffer_alignment}));
        std::fill_n(data_, n, T{});
    }
    aligned_buffer(const aligned_buffer& other) : aligned_buffer(other.size_) {
        std::copy_n(other.data_, size_, data_);
    }
    aligned_buffer(aligned_buffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    aligned_buffer& operator=(aligned_buffer other) noexcept {
        swap(other);
        return *this;
    }
    ~aligned_buffer() { release(); }

    void swap(aligned_buffer& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
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
    void release() noexcept {
        if (data_) ::operator delete(data_, std::align_val_t{buffer_alignment});
        data_ = nullptr;
    }
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace mixgcn
