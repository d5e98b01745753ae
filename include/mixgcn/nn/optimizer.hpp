#pragma once
// SGD and Adam (Kingma & Ba) with L2 weight decay folded into the gradient, as
// PyTorch's `weight_decay` and Kipf & Welling's loss term do (not AdamW). The state is
// plain arrays so a checkpoint can hold it and a resumed run continues bit for bit.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/nn/parameter.hpp"

namespace mixgcn::nn {

enum class optimizer_kind { sgd, adam };

struct optimizer_options {
    optimizer_kind kind = optimizer_kind::adam;
    double lr = 0.01;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double momentum = 0.0;  // SGD only
};

template <class B, class V>
class optimizer {
public:
    explicit optimizer(optimizer_options opt) : opt_(opt) {
        require(opt.lr > 0 && std::isfinite(opt.lr), "optimizer: learning rate ", opt.lr, " must be positive");
        require(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1, "optimizer: betas (", opt.beta1,
                ", ", opt.beta2, ") outside [0, 1)");
    }

    const optimizer_options& options() const noexcept { return opt_; }
    std::uint64_t steps() const noexcept { return t_; }

    void step(const std::vector<parameter<B, V>*>& params) {
        if (m_.empty()) reset(params);
        require(m_.size() == params.size(), "optimizer: state holds ", m_.size(), " tensors but got ", params.size(),
                " parameters");
        ++t_;
        const double bc1 = 1.0 - std::pow(opt_.beta1, double(t_));
        const double bc2 = 1.0 - std::pow(opt_.beta2, double(t_));
        for (std::size_t p = 0; p < params.size(); ++p) {
            V* w = params[p]->value.data();
            const V* g = params[p]->grad.data();
            const V wd = params[p]->weight_decay;
            V* m = m_[p].data();
            V* v = v_[p].data();
            const std::size_t n = params[p]->size();
            if (opt_.kind == optimizer_kind::adam) {
                const V b1 = V(opt_.beta1), b2 = V(opt_.beta2), lr = V(opt_.lr), eps = V(opt_.eps);
                const V c1 = V(1.0 / bc1), c2 = V(1.0 / bc2);
                for (std::size_t i = 0; i < n; ++i) {
                    const V gi = g[i] + wd * w[i];
                    m[i] = b1 * m[i] + (V(1) - b1) * gi;
                    v[i] = b2 * v[i] + (V(1) - b2) * gi * gi;
                    w[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
                }
            } else {
                const V lr = V(opt_.lr), mu = V(opt_.momentum);
                for (std::size_t i = 0; i < n; ++i) {
                    const V gi = g[i] + wd * w[i];
                    m[i] = mu * m[i] + gi;
                    w[i] -= lr * (mu != V(0) ? m[i] : gi);
                }
            }
        }
    }

    // State for checkpoints: first moments, second moments, step count.
    std::vector<std::vector<V>>& first_moments() noexcept { return m_; }
    std::vector<std::vector<V>>& second_moments() noexcept { return v_; }
    void set_steps(std::uint64_t t) noexcept { t_ = t; }
    void reset(const std::vector<parameter<B, V>*>& params) {
        m_.assign(params.size(), {});
        v_.assign(params.size(), {});
        for (std::size_t p = 0; p < params.size(); ++p) {
            m_[p].assign(params[p]->size(), V(0));
            v_[p].assign(params[p]->size(), V(0));
        }
        t_ = 0;
    }

private:
    optimizer_options opt_;
    std::vector<std::vector<V>> m_, v_;
    std::uint64_t t_ = 0;
};

}  // namespace mixgcn::nn
