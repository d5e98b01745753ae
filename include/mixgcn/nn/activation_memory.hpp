#pragma once
// Activation buffers that count themselves. A model frees what backward no longer reads
// as soon as it is done with it (the gradient of a layer's output once the layer below
// has taken it, the dT of a layer once its dW and dH exist), so the bytes held after a
// step say nothing about the worst moment inside it. Every activation buffer of a model's
// layers is a metered_matrix adding its bytes to one meter the model shares with its
// layers; the meter's peak is the figure the memory report needs.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <utility>

#include "mixgcn/core/dense.hpp"

namespace mixgcn::nn {

struct activation_meter {
    std::size_t held = 0;  // bytes the buffers hold now
    std::size_t peak = 0;  // the most they held at once
    void add(std::size_t bytes) noexcept {
        held += bytes;
        peak = std::max(peak, held);
    }
    void remove(std::size_t bytes) noexcept { held -= std::min(held, bytes); }
};

// A backend matrix whose storage is counted on a meter (its own until attach()).
// Copies count their storage too (on the same meter: both copies are held).
template <class B, class V>
class metered_matrix {
public:
    using matrix = typename B::template matrix<V>;

    metered_matrix() : meter_(std::make_shared<activation_meter>()) {}
    metered_matrix(const metered_matrix& other) : m_(other.m_), meter_(other.meter_) { count(); }
    metered_matrix(metered_matrix&& other) noexcept : m_(std::move(other.m_)), meter_(other.meter_) {
        other.m_ = matrix{};  // its bytes moved here with the storage
    }
    metered_matrix& operator=(const metered_matrix& other) {
        if (this != &other) {
            uncount();
            m_ = other.m_;
            count();
        }
        return *this;
    }
    metered_matrix& operator=(metered_matrix&& other) noexcept {
        if (this != &other) {
            uncount();
            other.uncount();
            m_ = std::move(other.m_);
            other.m_ = matrix{};
            count();
        }
        return *this;
    }
    ~metered_matrix() { uncount(); }

    // Counts this buffer on `meter` from now on (a model hands its layers one meter).
    void attach(std::shared_ptr<activation_meter> meter) {
        uncount();
        meter_ = std::move(meter);
        count();
    }
    // Keeps the storage when the element count is unchanged (the backend matrix's rule).
    void resize(std::size_t rows, std::size_t cols) {
        uncount();
        m_.resize(rows, cols);
        count();
    }
    // Gives the storage back now.
    void release() {
        uncount();
        m_ = matrix{};
    }

    std::size_t rows() const noexcept { return m_.rows(); }
    std::size_t cols() const noexcept { return m_.cols(); }
    std::size_t bytes() const noexcept { return m_.bytes(); }
    bool empty() const noexcept { return m_.bytes() == 0; }
    V* data() noexcept { return m_.data(); }
    const V* data() const noexcept { return m_.data(); }
    matrix_view<V> view() noexcept { return m_.view(); }
    const_matrix_view<V> cview() const noexcept { return m_.cview(); }

private:
    void count() noexcept { meter_->add(m_.bytes()); }
    void uncount() noexcept { meter_->remove(m_.bytes()); }

    matrix m_;
    std::shared_ptr<activation_meter> meter_;
};

}  // namespace mixgcn::nn
