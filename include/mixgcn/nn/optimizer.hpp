#pragma once
// SGD and Adam (Kingma & Ba) with L2 weight decay folded into the gradient, as
// PyTorch's `weight_decay` and Kipf & Welling's loss term do (not AdamW). The moments
// live in the backend's memory next to the parameters; a checkpoint reads and writes
// them through moment_to_host / moment_from_host, so a resumed run continues bit for bit.
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/optimizer_update.hpp"
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

enum class moment { first, second };

template <class B, class V>
class optimizer {
public:
    using array = backend::array<B, V>;

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
        auto k = backend::adam_coefficients<V>(opt_.lr, opt_.beta1, opt_.beta2, opt_.eps, t_);
        k.momentum = V(opt_.momentum);
        for (std::size_t p = 0; p < params.size(); ++p) {
            V* w = params[p]->value.data();
            const V* g = params[p]->grad.data();
            const std::size_t n = params[p]->size();
            k.weight_decay = params[p]->weight_decay;
            if (opt_.kind == optimizer_kind::adam) {
                if constexpr (backend::host_accessible<B>()) backend::adam_update(n, w, g, m_[p].data(), v_[p].data(), k);
                else B::adam_step(n, w, g, m_[p].data(), v_[p].data(), k);
            } else {
                if constexpr (backend::host_accessible<B>()) backend::sgd_update(n, w, g, m_[p].data(), k);
                else B::sgd_step(n, w, g, m_[p].data(), k);
            }
        }
    }

    // Optimizer state for checkpoints: the moments of parameter i, and the step count.
    bool has_state() const noexcept { return !m_.empty(); }
    std::vector<V> moment_to_host(moment which, std::size_t i) const {
        const array& a = (which == moment::first ? m_ : v_).at(i);
        return backend::to_host_vector<B>(a.data(), a.size());
    }
    void moment_from_host(moment which, std::size_t i, std::span<const V> values) {
        array& a = (which == moment::first ? m_ : v_).at(i);
        require(values.size() == a.size(), "optimizer: moment ", i, " holds ", a.size(), " values, got ", values.size());
        backend::copy_from_host<B>(values.data(), values.size(), a.data());
    }
    void set_steps(std::uint64_t t) noexcept { t_ = t; }
    void reset(const std::vector<parameter<B, V>*>& params) {
        m_.clear();
        v_.clear();
        for (const auto* p : params) {
            const std::vector<V> zeros(p->size(), V(0));
            m_.push_back(backend::make_array<B>(zeros));
            v_.push_back(backend::make_array<B>(zeros));
        }
        t_ = 0;
    }

private:
    optimizer_options opt_;
    std::vector<array> m_, v_;
    std::uint64_t t_ = 0;
};

}  // namespace mixgcn::nn
