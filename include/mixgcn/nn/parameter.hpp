#pragma once
// A trainable tensor: value, gradient and its L2 weight-decay coefficient. Parameters
// live in the backend's memory; the optimizer walks a list of them.
#include <string>

#include "mixgcn/core/dense.hpp"

namespace mixgcn::nn {

template <class B, class V>
struct parameter {
    using matrix = typename B::template matrix<V>;
    std::string name;
    matrix value;
    matrix grad;
    V weight_decay = V(0);  // L2 coefficient: adds weight_decay * value to the gradient

    parameter() = default;
    parameter(std::string n, std::size_t rows, std::size_t cols, V decay)
        : name(std::move(n)), value(rows, cols), grad(rows, cols), weight_decay(decay) {}
    std::size_t size() const noexcept { return value.size(); }
};

}  // namespace mixgcn::nn
