#pragma once
// The element-wise optimizer updates, written once for host memory. nn::optimizer calls
// these for host-memory backends; a device backend provides adam_step / sgd_step with
// the same arguments and the same formulas (backend::cuda: gpu::adam, gpu::sgd).
// Weight decay is L2 folded into the gradient, as torch.optim's `weight_decay` (not AdamW).
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace mixgcn::backend {

// Per-step constants; c1, c2 are Adam's bias corrections 1/(1-β1^t), 1/(1-β2^t).
template <class V>
struct update_coefficients {
    V lr{}, beta1{}, beta2{}, eps{}, c1{1}, c2{1};
    V momentum{};  // SGD only
    V weight_decay{};
};

// Adam's constants for step `step` (counting from 1); weight decay and momentum are
// left for the caller (per parameter, SGD only).
template <class V>
update_coefficients<V> adam_coefficients(double lr, double beta1, double beta2, double eps, std::uint64_t step) {
    update_coefficients<V> k;
    k.lr = V(lr);
    k.beta1 = V(beta1);
    k.beta2 = V(beta2);
    k.eps = V(eps);
    k.c1 = V(1.0 / (1.0 - std::pow(beta1, double(step))));
    k.c2 = V(1.0 / (1.0 - std::pow(beta2, double(step))));
    return k;
}

template <class V>
void adam_update(std::size_t n, V* w, const V* g, V* m, V* v, const update_coefficients<V>& k) {
    for (std::size_t i = 0; i < n; ++i) {
        const V gi = g[i] + k.weight_decay * w[i];
        m[i] = k.beta1 * m[i] + (V(1) - k.beta1) * gi;
        v[i] = k.beta2 * v[i] + (V(1) - k.beta2) * gi * gi;
        w[i] -= k.lr * (m[i] * k.c1) / (std::sqrt(v[i] * k.c2) + k.eps);
    }
}

// Momentum SGD (PyTorch's form: m = μm + g; w -= lr·m), plain SGD when μ = 0.
template <class V>
void sgd_update(std::size_t n, V* w, const V* g, V* m, const update_coefficients<V>& k) {
    for (std::size_t i = 0; i < n; ++i) {
        const V gi = g[i] + k.weight_decay * w[i];
        m[i] = k.momentum * m[i] + gi;
        w[i] -= k.lr * (k.momentum != V(0) ? m[i] : gi);
    }
}

}  // namespace mixgcn::backend
