#pragma once
// Row-major dense matrices: an owning `dense_matrix` and non-owning `matrix_view`
// (mutable or const element type) with a row stride, so column blocks and row ranges
// of a bigger matrix can be passed to kernels without copies.
#include <cstddef>
#include <span>
#include <type_traits>

#include "mixgcn/core/buffer.hpp"
#include "mixgcn/core/error.hpp"

namespace mixgcn {

template <class T>
class matrix_view {
public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;

    matrix_view() = default;
    matrix_view(T* data, std::size_t rows, std::size_t cols)
        : matrix_view(data, rows, cols, cols) {}
    matrix_view(T* data, std::size_t rows, std::size_t cols, std::size_t stride)
        : data_(data), rows_(rows), cols_(cols), stride_(stride) {}
    // A mutable view converts to a const one.
    template <class U>
        requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
    matrix_view(matrix_view<U> other)
        : data_(other.data()), rows_(other.rows()), cols_(other.cols()), stride_(other.stride()) {}

    T* data() const noexcept { return data_; }
    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::size_t stride() const noexcept { return stride_; }
    std::size_t size() const noexcept { return rows_ * cols_; }
    bool contiguous() const noexcept { return stride_ == cols_ || rows_ <= 1; }

    T& operator()(std::size_t r, std::size_t c) const noexcept { return data_[r * stride_ + c]; }
    T* row(std::size_t r) const noexcept { return data_ + r * stride_; }
    std::span<T> row_span(std::size_t r) const noexcept { return {row(r), cols_}; }

    // Rows [first, first + count).
    matrix_view row_block(std::size_t first, std::size_t count) const {
        require(first + count <= rows_, "row_block [", first, ", ", first + count, ") exceeds ", rows_, " rows");
        return {data_ + first * stride_, count, cols_, stride_};
    }
    // Columns [first, first + count).
    matrix_view col_block(std::size_t first, std::size_t count) const {
        require(first + count <= cols_, "col_block [", first, ", ", first + count, ") exceeds ", cols_, " columns");
        return {data_ + first, rows_, count, stride_};
    }

private:
    T* data_ = nullptr;
    std::size_t rows_ = 0, cols_ = 0, stride_ = 0;
};

template <class T>
using const_matrix_view = matrix_view<const T>;

template <class T>
class dense_matrix {
public:
    using value_type = T;

    dense_matrix() = default;
    dense_matrix(std::size_t rows, std::size_t cols) : buf_(rows * cols), rows_(rows), cols_(cols) {}

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::size_t size() const noexcept { return rows_ * cols_; }
    std::size_t bytes() const noexcept { return buf_.bytes(); }
    T* data() noexcept { return buf_.data(); }
    const T* data() const noexcept { return buf_.data(); }
    T& operator()(std::size_t r, std::size_t c) noexcept { return buf_[r * cols_ + c]; }
    const T& operator()(std::size_t r, std::size_t c) const noexcept { return buf_[r * cols_ + c]; }
    T* row(std::size_t r) noexcept { return buf_.data() + r * cols_; }
    const T* row(std::size_t r) const noexcept { return buf_.data() + r * cols_; }
    std::span<T> values() noexcept { return buf_.span(); }
    std::span<const T> values() const noexcept { return buf_.span(); }

    matrix_view<T> view() noexcept { return {data(), rows_, cols_}; }
    const_matrix_view<T> view() const noexcept { return {data(), rows_, cols_}; }
    const_matrix_view<T> cview() const noexcept { return view(); }
    operator matrix_view<T>() noexcept { return view(); }
    operator const_matrix_view<T>() const noexcept { return view(); }

    void fill(T v) noexcept { std::fill(buf_.begin(), buf_.end(), v); }
    // Keeps storage when the shape fits, so per-epoch temporaries are allocated once.
    void resize(std::size_t rows, std::size_t cols) {
        if (rows * cols != buf_.size()) buf_ = aligned_buffer<T>(rows * cols);
        rows_ = rows;
        cols_ = cols;
    }

private:
    aligned_buffer<T> buf_;
    std::size_t rows_ = 0, cols_ = 0;
};

// Element-wise conversion (e.g. double features to float).
template <class To, class From>
dense_matrix<To> convert(const dense_matrix<From>& m) {
    dense_matrix<To> out(m.rows(), m.cols());
    for (std::size_t i = 0; i < m.size(); ++i) out.data()[i] = static_cast<To>(m.data()[i]);
    return out;
}

template <class T>
void copy(const_matrix_view<T> src, matrix_view<T> dst) {
    require(src.rows() == dst.rows() && src.cols() == dst.cols(), "copy: shape ", src.rows(), "x", src.cols(),
            " into ", dst.rows(), "x", dst.cols());
    for (std::size_t r = 0; r < src.rows(); ++r) std::copy_n(src.row(r), src.cols(), dst.row(r));
}

}  // namespace mixgcn
