#pragma once
// A stack of GCN layers with a masked softmax cross-entropy head. Any number of
// layers; weight decay per layer, so Kipf & Welling's "first layer only" is the
// default and "every layer" is one flag.
#include <cmath>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/nn/gcn_layer.hpp"

namespace mixgcn::nn {

struct model_options {
    std::size_t in = 0;
    std::size_t hidden = 16;
    std::size_t classes = 0;
    int layers = 2;
    double dropout = 0.5;
    double weight_decay = 5e-4;
    bool decay_all_layers = false;  // Kipf & Welling decay the first layer only
    product_order order = product_order::automatic;
    // First layer: reuse Â·X across evaluation passes (the features do not change);
    // costs one extra N x in matrix. See layer_options::cache_eval_aggregation.
    bool cache_input_aggregation = true;
};

// Σ w² of a parameter's values, where they are: a host loop, the backend's reduction
// on a device (no copy), or one copy to the host when the backend has none.
template <class B, class V>
double squared_norm(const parameter<B, V>& p) {
    double sq = 0;
    if constexpr (backend::host_accessible<B>()) {
        for (std::size_t i = 0; i < p.size(); ++i) sq += double(p.value.data()[i]) * double(p.value.data()[i]);
    } else if constexpr (requires { { B::sum_of_squares(p.size(), p.value.data()) } -> std::convertible_to<double>; }) {
        sq = B::sum_of_squares(p.size(), p.value.data());
    } else {  // parameters are small: one copy to the host
        for (const V w : backend::to_host_vector<B>(p.value.data(), p.size())) sq += double(w) * double(w);
    }
    return sq;
}

template <class B, class V>
class gcn_model {
public:
    using matrix = typename B::template matrix<V>;

    explicit gcn_model(const model_options& opt) : opt_(opt) {
        require(opt.layers >= 1, "gcn_model: need at least one layer, got ", opt.layers);
        require(opt.in > 0, "gcn_model: input width is 0");
        require(opt.classes >= 2, "gcn_model: need at least 2 classes, got ", opt.classes);
        require(opt.layers == 1 || opt.hidden > 0, "gcn_model: hidden width is 0");
        for (int l = 0; l < opt.layers; ++l) {
            layer_options lo;
            lo.in = l == 0 ? opt.in : opt.hidden;
            lo.out = l == opt.layers - 1 ? opt.classes : opt.hidden;
            lo.relu = l != opt.layers - 1;
            lo.dropout = opt.dropout;
            lo.weight_decay = (l == 0 || opt.decay_all_layers) ? opt.weight_decay : 0.0;
            lo.order = opt.order;
            lo.cache_eval_aggregation = l == 0 && opt.cache_input_aggregation;
            layers_.emplace_back(lo, static_cast<std::size_t>(l), meter_);
        }
    }

    const model_options& options() const noexcept { return opt_; }
    // Counts this model's activations on `meter` (several models that are alive at once,
    // a pipeline's micro-batch slots, share one to report their joint peak).
    void attach(std::shared_ptr<activation_meter<B, V>> meter) {
        for (auto& l : layers_) l.attach(meter);
        dlogits_.attach(meter);
        meter_ = std::move(meter);
    }
    std::size_t num_layers() const noexcept { return layers_.size(); }
    gcn_layer<B, V>& layer(std::size_t l) noexcept { return layers_[l]; }
    // Call when the input features were changed in place between evaluations.
    void invalidate_cache() noexcept {
        for (auto& l : layers_) l.invalidate_cache();
    }

    void initialize(std::uint64_t seed) {
        for (std::size_t l = 0; l < layers_.size(); ++l) {
            rng g = rng::derive(seed, 0x1000 + l);
            layers_[l].initialize(g);
        }
    }

    std::vector<parameter<B, V>*> parameters() {
        std::vector<parameter<B, V>*> out;
        for (auto& l : layers_) {
            out.push_back(&l.weight());
            out.push_back(&l.bias());
        }
        return out;
    }

    // Logits of this rank's rows in row layout (every class), whatever layout the
    // strategy trains in. Dropout masks come from global ids (the strategy's row_ids).
    template <parallel_strategy S>
    const_matrix_view<V> forward(S& strategy, const_matrix_view<V> x, bool training, std::uint64_t dropout_seed) {
        forward_layers(strategy, x, 0, layers_.size(), training, dropout_seed);
        return logits_;
    }

    // Layers [first, last) on `x`, this rank's block of layer `first`'s input (a pipeline
    // stage runs its range); each layer draws the masks forward() would. When the range
    // ends at the last layer its output, in row layout, are the logits backward reads.
    template <parallel_strategy S>
    const_matrix_view<V> forward_layers(S& strategy, const_matrix_view<V> x, std::size_t first, std::size_t last,
                                        bool training, std::uint64_t dropout_seed) {
        require(first < last && last <= layers_.size(), "gcn_model: layers [", first, ", ", last, ") of ", layers_.size());
        const_matrix_view<V> h = x;
        for (std::size_t l = first; l < last; ++l) {
            seam::begin_layer(strategy, l);
            trace::span sp("layer forward", trace::category::layer, int(l));
            h = layers_[l].forward(strategy, h, training, splitmix64(dropout_seed ^ (0xD50u + l)));
        }
        if (last == layers_.size()) logits_ = seam::to_rows(strategy, h);
        return h;
    }

    // Cross-entropy summed over the listed local rows of the row layout (before any
    // all-reduce), and the gradients of the mean loss over `global_count` rows in every
    // parameter, reduced across ranks by the strategy (one bucketed collective).
    template <parallel_strategy S>
    double backward(S& strategy, const std::int32_t* labels, std::span<const index_t> rows, std::size_t global_count) {
        const double loss = local_backward(strategy, labels, rows, global_count);
        const auto params = parameters();
        trace::span sp("gradient reduction", trace::category::step);
        seam::reduce_gradients(strategy, std::span<parameter<B, V>* const>(params));
        return loss;
    }

    // backward() without the reduction: this rank's gradients of this forward alone, for a
    // caller that sums several (gradient accumulation) before reducing once.
    template <parallel_strategy S>
    double local_backward(S& strategy, const std::int32_t* labels, std::span<const index_t> rows,
                          std::size_t global_count) {
        const auto g = loss_gradient(strategy, labels, rows, global_count);
        backward_layers(strategy, g.grad, 0, layers_.size(), false);
        return g.loss;
    }

    struct loss_and_gradient {
        double loss = 0;        // summed over the rows
        matrix_view<V> grad;    // of the mean over global_count rows, in the strategy's layout
    };
    // The loss of the last forward's logits and its gradient, for backward_layers.
    template <parallel_strategy S>
    loss_and_gradient loss_gradient(S& strategy, const std::int32_t* labels, std::span<const index_t> rows,
                                    std::size_t global_count) {
        const auto logits = logits_;  // row layout, from the forward pass before
        dlogits_.resize(logits.rows(), logits.cols());
        const double loss = B::softmax_cross_entropy(logits, labels, rows.data(), rows.size(), dlogits_.view(),
                                                     V(1.0 / double(global_count == 0 ? 1 : global_count)));
        // backward reads neither the logits of a layer without ReLU nor, once the strategy
        // has its own copy of the gradient, dlogits: both go now, before backward's buffers.
        logits_ = {};
        if (!layers_.back().options().relu) layers_.back().release_output();
        const auto grad = seam::from_rows(strategy, dlogits_.view());
        if (grad.data() != dlogits_.data()) dlogits_.release();
        return {loss, grad};
    }

    // Backward of layers [first, last) from dz, the gradient of layer last-1's output
    // (consumed). Fills their parameters' gradients (unreduced) and returns the gradient
    // of layer first's input when `input_gradient` (first > 0), else an empty view; it
    // stays valid until the next backward_layers. Each layer's input gradient is freed
    // once the layer below has read it, and dlogits once the top layer has.
    template <parallel_strategy S>
    matrix_view<V> backward_layers(S& strategy, matrix_view<V> dz, std::size_t first, std::size_t last,
                                   bool input_gradient) {
        require(first < last && last <= layers_.size(), "gcn_model: layers [", first, ", ", last, ") of ", layers_.size());
        require(!input_gradient || first > 0, "gcn_model: no gradient of the features is computed");
        for (auto& layer : layers_) layer.release_input_gradient();  // the view returned last time
        for (std::size_t l = last; l-- > first;) {
            seam::begin_layer(strategy, l);
            trace::span sp("layer backward", trace::category::layer, int(l));
            const auto consumed = [&] {  // frees what held dz
                if (l + 1 == last) dlogits_.release();
                else layers_[l + 1].release_input_gradient();
            };
            dz = layers_[l].backward_to_input(strategy, dz, l > first || input_gradient, consumed);
        }
        return input_gradient ? dz : matrix_view<V>{};
    }

    // Σ weight_decay/2 · ||W||², the L2 term Kipf & Welling add to the reported loss.
    double l2_penalty() {
        double s = 0;
        for (auto* p : parameters())
            if (p->weight_decay != V(0)) s += 0.5 * double(p->weight_decay) * squared_norm(*p);
        return s;
    }

    std::size_t parameter_count() {
        std::size_t n = 0;
        for (auto* p : parameters()) n += p->size();
        return n;
    }
    // Activation bytes held now, and the most held at once since construction: the
    // figure to budget for, since backward frees buffers as it goes.
    std::size_t activation_bytes() const noexcept { return meter_->held(); }
    std::size_t peak_activation_bytes() const noexcept { return meter_->peak(); }
    // The meter: what backward freed and keeps for reuse below the peak (pooled()).
    const activation_meter<B, V>& meter() const noexcept { return *meter_; }

private:
    model_options opt_;
    std::shared_ptr<activation_meter<B, V>> meter_ = std::make_shared<activation_meter<B, V>>();
    std::vector<gcn_layer<B, V>> layers_;
    metered_matrix<B, V> dlogits_{meter_};
    const_matrix_view<V> logits_;  // the last forward's logits in row layout
};

}  // namespace mixgcn::nn
