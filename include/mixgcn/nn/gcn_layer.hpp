#pragma once
// One GCN layer  H' = act(Â · drop(H) · W + b)  with forward and backward.
//
// The product is evaluated in the cheaper order: transform first (T = H·W, then Â·T)
// when the output is narrower than the input, aggregate first (Â·H, then ·W)
// otherwise, so the sparse pass always runs over the narrower matrix. Backward:
//   transform first:  dT = Âᵀ·dZ,  dW = Hᵀ·dT,  dH = dT·Wᵀ
//   aggregate first:  dW = (ÂH)ᵀ·dZ,  dH = Âᵀ·(dZ·Wᵀ)
//
// What a layer keeps from forward to backward, and what it does not (dropout masks
// are a pure function of (seed, global row, global column), backend/common.hpp):
//   - no mask: backward draws it again;
//   - aggregate first: not the dropped input either, only ÂH (dW needs nothing else);
//   - transform first: not T = drop(H)·W (backward needs Âᵀ·dZ only), and the
//     dropped input only when the strategy computes the dense update itself
//     (seam::dense_forward/dense_backward overridden: feature). Otherwise the whole
//     drop(H) never exists: T = drop(H)·W and dW = drop(H)ᵀ·dT run over row blocks,
//     each block of drop(H) drawn from H, which the layer's caller keeps anyway (the
//     previous layer's output, or the features).
// Backward frees what it is done with before it allocates the next buffer: dT (or dZ·Wᵀ)
// goes when backward returns, and the caller may free dZ once the layer has read it
// (backward_to_input's callback), before the input gradient dH is allocated. Every
// buffer counts itself on the layer's activation meter (nn/activation_memory.hpp).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/strategy.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/nn/activation_memory.hpp"
#include "mixgcn/nn/init.hpp"
#include "mixgcn/nn/parameter.hpp"

namespace mixgcn::nn {

enum class product_order { automatic, transform_first, aggregate_first };

struct layer_options {
    std::size_t in = 0, out = 0;
    bool relu = true;
    double dropout = 0.0;       // applied to the layer's input while training
    double weight_decay = 0.0;  // L2 on the weight matrix
    bool decay_bias = false;    // L2 on the bias too
    product_order order = product_order::automatic;
    // Evaluation passes reuse Â·X when the input is the same constant matrix as before
    // (the features, for the first layer) and the strategy the same operator in the same
    // layout: one sparse pass per epoch instead of two. A trainer forgets the cache when
    // it starts; a caller that changes the input in place calls invalidate_cache().
    bool cache_eval_aggregation = false;
};

template <class B, class V>
class gcn_layer {
public:
    using matrix = typename B::template matrix<V>;

    // Counts its buffers on `meter` (a model passes the one its layers share).
    explicit gcn_layer(layer_options opt, std::size_t index = 0,
                       std::shared_ptr<activation_meter<B, V>> meter = std::make_shared<activation_meter<B, V>>())
        : opt_(opt),
          weight_("layer" + std::to_string(index) + ".weight", opt.in, opt.out, V(opt.weight_decay)),
          bias_("layer" + std::to_string(index) + ".bias", 1, opt.out, V(opt.decay_bias ? opt.weight_decay : 0.0),
                parameter_role::bias) {
        require(opt.in > 0 && opt.out > 0, "gcn_layer ", index, ": widths must be positive (in=", opt.in,
                ", out=", opt.out, ")");
        require(opt.dropout >= 0.0 && opt.dropout < 1.0, "gcn_layer ", index, ": dropout ", opt.dropout,
                " outside [0, 1)");
        transform_first_ = opt.order == product_order::transform_first ||
                           (opt.order == product_order::automatic && opt.out < opt.in);
        attach(std::move(meter));
    }

    // Counts this layer's buffers on `meter` from now on.
    void attach(std::shared_ptr<activation_meter<B, V>> meter) {
        for (auto* m : {&input_, &mid_, &out_, &grad_mid_, &grad_input_, &redraw_block_, &eval_mid_}) m->attach(meter);
        meter_ = std::move(meter);
    }
    // The meter its buffers are counted on: held() is what it caches between forward and
    // backward when the layer has a meter of its own.
    const activation_meter<B, V>& meter() const noexcept { return *meter_; }

    const layer_options& options() const noexcept { return opt_; }
    bool transform_first() const noexcept { return transform_first_; }
    parameter<B, V>& weight() noexcept { return weight_; }
    parameter<B, V>& bias() noexcept { return bias_; }
    const parameter<B, V>& weight() const noexcept { return weight_; }
    const parameter<B, V>& bias() const noexcept { return bias_; }

    // Glorot weights, zero bias. The draw happens on the host either way, so every
    // backend starts from the same weights.
    void initialize(rng& g) {
        if constexpr (backend::host_accessible<B>()) {
            glorot_uniform(weight_.value.view(), g);
        } else {
            dense_matrix<V> w(opt_.in, opt_.out);
            glorot_uniform(w.view(), g);
            backend::copy_from_host<B>(w.data(), w.size(), weight_.value.data());
        }
        bias_.value.fill(V(0));
    }

    // Computes this rank's block of the layer's output, in the strategy's layout (its
    // rows, the columns it holds). `h` must stay valid until backward (it is the
    // previous layer's output or the features). Dropout masks are drawn from the global
    // (row, column) ids the strategy names, so every layout draws the masks of `single`.
    template <parallel_strategy S>
    const_matrix_view<V> forward(S& strategy, const_matrix_view<V> h, bool training, std::uint64_t dropout_seed) {
        const std::size_t n = strategy.rows();
        const column_slice in = strategy.columns(opt_.in), out = strategy.columns(opt_.out);
        require(h.rows() == n && h.cols() == in.count, weight_.name, " (", S::name(), " rank ", strategy.rank(),
                "): input block is ", h.rows(), "x", h.cols(), ", expected ", n, "x", in.count, " (columns ", in.begin,
                "..", in.begin + in.count, " of ", opt_.in, ")");
        dropped_ = training && opt_.dropout > 0.0;
        h_ = h;
        kept_input_ = false;
        const_matrix_view<V> hd = h;  // what the layer multiplies: drop(h) or h
        // Transform first with the default dense update: T = drop(H)·W row block by row
        // block through the redraw buffer, so the whole dropped input never exists.
        const bool blocked = dropped_ && transform_first_ && !has_own_dense<S>;
        if (dropped_) {
            drop_at_ = strategy.row_ids();
            drop_at_.col_offset = in.begin;
            drop_seed_ = dropout_seed;
        }
        if (dropped_ && !blocked) {
            input_.resize(n, in.count);
            B::dropout(h, input_.view(), static_cast<std::uint8_t*>(nullptr), V(opt_.dropout), dropout_seed, drop_at_);
            hd = input_.cview();
        }
        const auto w = weight_.value.cview();
        out_.resize(n, out.count);
        if (transform_first_) {
            mid_.resize(n, out.count);
            {
                trace::span sp("dense update", trace::category::dense);
                if (blocked) {
                    auto t = mid_.view();
                    for_each_dropped_block([&](std::size_t b, const_matrix_view<V> db) {
                        const matrix_view<V> tb(t.data() + b * t.stride(), db.rows(), t.cols(), t.stride());
                        B::gemm(transpose{false}, transpose{false}, V(1), db, w, V(0), tb);
                    });
                } else {
                    seam::dense_forward(strategy, hd, w, mid_.view());
                }
            }
            aggregate(strategy, mid_.cview(), out_.view(), false);
            mid_.release();  // backward needs Âᵀ·dZ, never T itself
            kept_input_ = dropped_ && has_own_dense<S>;
        } else if (!training && opt_.cache_eval_aggregation && seam::product_identity(strategy) != 0) {
            const eval_key key{seam::product_identity(strategy), h.data(), n, in.count, h.stride()};
            if (!(cached_ == key)) {
                eval_mid_.resize(n, in.count);
                aggregate(strategy, h_, eval_mid_.view(), false);
                cached_ = key;
            }
            trace::span sp("dense update", trace::category::dense);
            seam::dense_forward(strategy, eval_mid_.cview(), w, out_.view());
        } else {
            mid_.resize(n, in.count);
            aggregate(strategy, hd, mid_.view(), false);
            trace::span sp("dense update", trace::category::dense);
            seam::dense_forward(strategy, mid_.cview(), w, out_.view());
        }
        if (dropped_ && !kept_input_) input_.release();  // freed now, not held until backward
        B::bias_act(out_.view(), bias_.value.data() + out.begin, opt_.relu);
        return out_.cview();
    }

    // Consumes dZ (gradient w.r.t. this layer's output block, overwritten in place),
    // fills this rank's part of the parameter gradients (the strategy's reduction
    // completes them) and, when `dh` is given, the gradient w.r.t. the layer's input.
    template <parallel_strategy S>
    void backward(S& strategy, matrix_view<V> dz, std::optional<matrix_view<V>> dh) {
        backward_impl(strategy, dz, bool(dh), [&] { return *dh; }, [] {});
    }

    // backward() into the layer's own input-gradient buffer, allocated only after
    // `dz_consumed()` has been called: the point from which dZ is no longer read, so the
    // caller can free dZ's storage before dH's is taken. Returns dH (valid until
    // release_input_gradient() or the next backward), or an empty view when
    // !input_gradient.
    template <parallel_strategy S, class Consumed>
    matrix_view<V> backward_to_input(S& strategy, matrix_view<V> dz, bool input_gradient, Consumed&& dz_consumed) {
        const std::size_t n = dz.rows(), width = strategy.columns(opt_.in).count;
        backward_impl(strategy, dz, input_gradient, [&] {
            grad_input_.resize(n, width);
            return grad_input_.view();
        }, dz_consumed);
        return input_gradient ? grad_input_.view() : matrix_view<V>{};
    }
    void release_input_gradient() { grad_input_.release(); }

    const_matrix_view<V> output() const noexcept { return out_.cview(); }
    // Frees the output, for a caller done with it before the next forward (the logits of
    // a layer without ReLU once the loss gradient exists: backward does not read them).
    void release_output() {
        require(!opt_.relu, weight_.name, ": a ReLU layer's output is read by its backward");
        out_.release();
    }

    // Forgets the cached Â·X (call when the input matrix or the operator changed in place).
    void invalidate_cache() noexcept { cached_ = {}; }

    std::size_t parameter_bytes() const noexcept {
        return (weight_.value.bytes() + weight_.grad.bytes() + bias_.value.bytes() + bias_.grad.bytes());
    }

private:
    // The backward pass. dh() gives the input gradient's view when input_gradient; it is
    // asked for only after dz_consumed() (see backward_to_input).
    template <class S, class Dh, class Consumed>
    void backward_impl(S& strategy, matrix_view<V> dz, bool input_gradient, Dh&& dh_view, Consumed&& dz_consumed) {
        const std::size_t n = dz.rows();
        const column_slice in = strategy.columns(opt_.in), out = strategy.columns(opt_.out);
        if (opt_.relu) B::relu_backward(out_.cview(), dz);
        B::column_sum(const_matrix_view<V>(dz), bias_.grad.data() + out.begin);
        const auto w = weight_.value.cview();
        std::optional<matrix_view<V>> dh;
        if (transform_first_) {
            grad_mid_.resize(n, out.count);
            aggregate(strategy, const_matrix_view<V>(dz), grad_mid_.view(), true);
            dz_consumed();
            if (input_gradient) dh = dh_view();
            trace::span sp("dense update", trace::category::dense);
            if (dropped_ && !kept_input_) {
                redrawn_weight_grad(grad_mid_.cview());
                if (dh) B::gemm(transpose{false}, transpose{true}, V(1), grad_mid_.cview(), w, V(0), *dh);
            } else {
                seam::dense_backward(strategy, dropped_ ? input_.cview() : h_, grad_mid_.cview(), w,
                                     weight_.grad.view(), dh);
            }
        } else {
            std::optional<matrix_view<V>> dmid;
            if (input_gradient) {
                grad_mid_.resize(n, in.count);
                dmid = grad_mid_.view();
            }
            {
                trace::span sp("dense update", trace::category::dense);
                seam::dense_backward(strategy, mid_.cview(), const_matrix_view<V>(dz), w, weight_.grad.view(), dmid);
            }
            dz_consumed();
            if (input_gradient) {
                dh = dh_view();
                aggregate(strategy, grad_mid_.cview(), *dh, true);
            }
        }
        grad_mid_.release();  // dT or dZ·Wᵀ: read by nothing after this
        if (kept_input_) input_.release();
        if (dh && dropped_) B::dropout_backward(*dh, V(opt_.dropout), drop_seed_, drop_at_);
    }

    // A strategy that computes the dense update itself (seam::dense_forward and
    // dense_backward overridden: feature) is handed the whole dropped input.
    template <class S>
    static constexpr bool has_own_dense =
        requires(S& s, const_matrix_view<V> c, matrix_view<V> m, std::optional<matrix_view<V>> o) {
            s.dense_backward(c, c, c, m, o);
        } || requires(S& s, const_matrix_view<V> c, matrix_view<V> m) { s.dense_forward(c, c, m); };

    // Calls fn(first_row, drop(H) rows) for consecutive row blocks of the layer's input,
    // each block drawn from H (h_) into a small buffer kept across steps (no page faults
    // each step): the whole dropped input is never held.
    template <class Fn>
    void for_each_dropped_block(Fn&& fn) {
        const std::size_t n = h_.rows(), d = h_.cols();
        // About 4 MB of dropped rows per block, at least 256 rows: GEMMs with a long
        // inner dimension, a buffer that stays in cache.
        const std::size_t rows = std::max<std::size_t>(256, (std::size_t{4} << 20) / (sizeof(V) * std::max<std::size_t>(d, 1)));
        redraw_block_.resize(std::min(rows, n), d);
        for (std::size_t b = 0; b < n; b += rows) {
            const std::size_t m = std::min(rows, n - b);
            const const_matrix_view<V> hb(h_.data() + b * h_.stride(), m, d, h_.stride());
            const matrix_view<V> db(redraw_block_.data(), m, d, redraw_block_.view().stride());
            dropout_index at = drop_at_;
            if (at.row_ids) at.row_ids += b;
            else at.row_offset += b;
            B::dropout(hb, db, static_cast<std::uint8_t*>(nullptr), V(opt_.dropout), drop_seed_, at);
            fn(b, const_matrix_view<V>(db));
        }
    }

    // The strategy's sparse product (Â·x, or Âᵀ·x in backward), one span in a trace.
    template <class S>
    static void aggregate(S& strategy, const_matrix_view<V> x, matrix_view<V> y, bool transposed) {
        trace::span sp("aggregation", trace::category::layer);
        if (transposed) strategy.backward(x, y);
        else strategy.forward(x, y);
    }

    // dW = drop(H)ᵀ·dT summed over row blocks of drop(H) drawn again.
    void redrawn_weight_grad(const_matrix_view<V> dt) {
        auto dw = weight_.grad.view();
        if (h_.rows() == 0) {  // dW = 0
            redraw_block_.resize(0, h_.cols());
            B::gemm(transpose{true}, transpose{false}, V(1), redraw_block_.cview(), dt, V(0), dw);
        }
        for_each_dropped_block([&](std::size_t b, const_matrix_view<V> db) {
            const const_matrix_view<V> dtb(dt.data() + b * dt.stride(), db.rows(), dt.cols(), dt.stride());
            B::gemm(transpose{true}, transpose{false}, V(1), db, dtb, b == 0 ? V(0) : V(1), dw);
        });
    }

    layer_options opt_;
    parameter<B, V> weight_, bias_;
    bool transform_first_ = false;
    bool dropped_ = false;
    bool kept_input_ = false;  // input_ holds drop(h) until backward
    const_matrix_view<V> h_;   // the layer's input (undropped), valid until backward
    std::shared_ptr<activation_meter<B, V>> meter_;
    using buffer = metered_matrix<B, V>;
    buffer input_;             // drop(h): during forward, and until backward only when kept
    dropout_index drop_at_;    // where this rank's block sits, for drawing the mask again
    std::uint64_t drop_seed_ = 0;
    buffer mid_;       // ÂH (aggregate first); T = H·W only during forward
    buffer out_;       // activated output
    buffer grad_mid_;  // dT  or  dZ·Wᵀ, during backward only
    buffer grad_input_;    // dH when backward_to_input makes it, until the caller frees it
    buffer redraw_block_;  // a few MB of drop(H) rows drawn again in backward
    // What eval_mid_, the cached Â·X of a constant input (evaluation only), was computed
    // from: the strategy's operator and layout (seam::product_identity, never reused,
    // unlike an address) and the input block.
    struct eval_key {
        std::uint64_t product = 0;  // 0: nothing cached
        const V* data = nullptr;
        std::size_t rows = 0, cols = 0, stride = 0;
        bool operator==(const eval_key&) const = default;
    };
    buffer eval_mid_;
    eval_key cached_;
};

}  // namespace mixgcn::nn
