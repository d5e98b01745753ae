#pragma once
// Activation buffers that count themselves. A model frees what backward no longer reads
// as soon as it is done with it (the gradient of a layer's output once the layer below
// has taken it, the dT of a layer once its dW and dH exist), so the bytes held after a
// step say nothing about the worst moment inside it. Every activation buffer of a model's
// layers is a metered_matrix counted on one meter the model shares with its layers; the
// meter's peak is the figure the memory report needs.
//
// Freed storage is not handed straight back to the kernel: a fresh buffer costs a page
// fault and a zero-fill per 4 KiB page (on the products shape, 2.6 GB of them per epoch
// were 2.5 s of a 17 s epoch, docs/benchmarks.md). The meter keeps freed matrices and
// serves a later request of the same element count from them, as long as what is held
// plus what is kept stays within the peak already reached: the pool never raises the
// resident set above the figure reported, it only fills the space below it.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "mixgcn/core/dense.hpp"

namespace mixgcn::nn {

template <class B, class V>
class activation_meter {
public:
    using matrix = typename B::template matrix<V>;

    std::size_t held() const noexcept { return held_; }      // bytes the buffers hold now
    std::size_t peak() const noexcept { return peak_; }      // the most they held at once
    std::size_t pooled() const noexcept { return pooled_; }  // freed, kept for reuse (<= peak - held)
    std::size_t allocated() const noexcept { return allocated_; }  // bytes ever taken fresh

    // A rows x cols matrix: kept storage of that element count when there is some, else
    // new storage (first dropping kept storage that would lift held + kept above the peak).
    matrix take(std::size_t rows, std::size_t cols) {
        const std::size_t n = rows * cols;
        for (std::size_t i = 0; i < free_.size(); ++i) {
            if (free_[i].rows() * free_[i].cols() != n) continue;
            matrix m = std::move(free_[i]);
            free_.erase(free_.begin() + std::ptrdiff_t(i));
            pooled_ -= m.bytes();
            m.resize(rows, cols);  // same element count: the storage stays
            add(m.bytes());
            return m;
        }
        matrix m;
        m.resize(rows, cols);
        const std::size_t bytes = m.bytes();
        const std::size_t peak_after = std::max(peak_, held_ + bytes);
        while (!free_.empty() && held_ + bytes + pooled_ > peak_after) {
            const auto largest = std::max_element(free_.begin(), free_.end(),
                                                  [](const matrix& a, const matrix& b) { return a.bytes() < b.bytes(); });
            pooled_ -= largest->bytes();
            free_.erase(largest);
        }
        allocated_ += bytes;
        add(bytes);
        return m;
    }
    // Takes back storage no longer needed: kept (held + kept does not change).
    void give(matrix&& m) {
        const std::size_t bytes = m.bytes();
        if (bytes == 0) return;
        remove(bytes);
        pooled_ += bytes;
        free_.push_back(std::move(m));
    }
    // Frees what is kept.
    void trim() {
        free_.clear();
        pooled_ = 0;
    }

    // Storage that came from elsewhere (a copy, a buffer attached with its contents).
    void add(std::size_t bytes) noexcept {
        held_ += bytes;
        peak_ = std::max(peak_, held_);
    }
    void remove(std::size_t bytes) noexcept { held_ -= std::min(held_, bytes); }

private:
    std::size_t held_ = 0, peak_ = 0, pooled_ = 0, allocated_ = 0;
    std::vector<matrix> free_;
};

// A backend matrix whose storage comes from, is counted on, and goes back to a meter.
// One made without a meter counts nothing until attach() gives it one. Copies count their
// storage too (both copies are held).
template <class B, class V>
class metered_matrix {
public:
    using matrix = typename B::template matrix<V>;
    using meter_type = activation_meter<B, V>;

    metered_matrix() = default;
    explicit metered_matrix(std::shared_ptr<meter_type> meter) : meter_(std::move(meter)) {}
    metered_matrix(const metered_matrix& other) : m_(other.m_), meter_(other.meter_) { add(m_.bytes()); }
    metered_matrix(metered_matrix&& other) noexcept : m_(std::move(other.m_)), meter_(other.meter_) {
        other.m_ = matrix{};  // its bytes moved here with the storage
    }
    metered_matrix& operator=(const metered_matrix& other) {
        if (this != &other) {
            remove(m_.bytes());
            m_ = other.m_;
            add(m_.bytes());
        }
        return *this;
    }
    metered_matrix& operator=(metered_matrix&& other) noexcept {
        if (this != &other) {
            remove(m_.bytes());
            other.remove(other.m_.bytes());
            m_ = std::move(other.m_);
            other.m_ = matrix{};
            add(m_.bytes());
        }
        return *this;
    }
    ~metered_matrix() { remove(m_.bytes()); }

    // Counts this buffer on `meter` from now on (a model hands its layers one meter).
    void attach(std::shared_ptr<meter_type> meter) {
        remove(m_.bytes());
        meter_ = std::move(meter);
        add(m_.bytes());
    }
    // Keeps the storage when the element count is unchanged (the backend matrix's rule),
    // else trades it with the meter.
    void resize(std::size_t rows, std::size_t cols) {
        if (rows * cols == m_.rows() * m_.cols() && m_.bytes() > 0) {
            m_.resize(rows, cols);
            return;
        }
        if (!meter_) {
            m_ = matrix{};
            m_.resize(rows, cols);
            return;
        }
        meter_->give(std::move(m_));
        m_ = meter_->take(rows, cols);
    }
    // Gives the storage back to the meter now.
    void release() {
        if (meter_) meter_->give(std::move(m_));
        m_ = matrix{};
    }

    std::size_t rows() const noexcept { return m_.rows(); }
    std::size_t cols() const noexcept { return m_.cols(); }
    std::size_t bytes() const noexcept { return m_.bytes(); }
    V* data() noexcept { return m_.data(); }
    const V* data() const noexcept { return m_.data(); }
    matrix_view<V> view() noexcept { return m_.view(); }
    const_matrix_view<V> cview() const noexcept { return m_.cview(); }

private:
    void add(std::size_t bytes) noexcept {
        if (meter_) meter_->add(bytes);
    }
    void remove(std::size_t bytes) noexcept {
        if (meter_) meter_->remove(bytes);
    }

    matrix m_;
    std::shared_ptr<meter_type> meter_;
};

}  // namespace mixgcn::nn
