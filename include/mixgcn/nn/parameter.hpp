#pragma once
// A trainable tensor: value, gradient and its L2 weight-decay coefficient. Parameters
// live in the backend's memory; the optimizer walks a list of them.
#include <string>

#include "mixgcn/core/dense.hpp"

namespace mixgcn::nn {

// How a strategy that shards a layer by columns (feature) splits the tensor: a weight
// (in x out) by its rows, the input columns; a bias (1 x out) by its columns.
enum class parameter_role { weight, bias };

template <class B, class V>
struct parameter {
    using matrix = typename B::template matrix<V>;
    std::string name;
    matrix value;
    matrix grad;
    V weight_decay = V(0);  // L2 coefficient: adds weight_decay * value to the gradient
    parameter_role role = parameter_role::weight;

    parameter() = default;
    parameter(std::string n, std::size_t rows, std::size_t cols, V decay, parameter_role r = parameter_role::weight)
        : name(std::move(n)), value(rows, cols), grad(rows, cols), weight_decay(decay), role(r) {}
    std::size_t size() const noexcept { return value.size(); }
};

}  // namespace mixgcn::nn
