// Central finite differences in float64 against the analytic backward of every op and
// of whole models (reference backend, so nothing fast can hide an error here).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/plan.hpp"
#include "mixgcn/parallel/single.hpp"

using namespace mixgcn;
using B = backend::reference;
using V = double;

namespace {

graph::gcn_operator<index_t, V> random_operator(index_t n, int edges, std::uint64_t seed) {
    rng g(seed);
    graph::edge_list<index_t> el{n, {}};
    for (int k = 0; k < edges; ++k) el.edges.emplace_back(index_t(g.below(std::uint64_t(n))), index_t(g.below(std::uint64_t(n))));
    for (index_t v = 1; v < n / 2; ++v) el.edges.emplace_back(0, v);  // a hub
    return graph::gcn_normalize(graph::build_adjacency<index_t, V>(el));
}

dense_matrix<V> random_matrix(std::size_t r, std::size_t c, std::uint64_t seed) {
    dense_matrix<V> m(r, c);
    rng g(seed);
    for (auto& v : m.values()) v = g.uniform(-1, 1);
    return m;
}

// Checks d(loss)/d(p) against central differences of `loss`, as the norm-wise
// relative error ||fd - analytic|| / (||fd|| + ||analytic||) over the whole tensor
// (entry-wise ratios of near-zero gradients measure round-off, not correctness).
void check_gradient(std::span<V> p, std::span<const V> analytic, const std::function<double()>& loss,
                    const std::string& what) {
    const double h = 1e-6;
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const V saved = p[i];
        p[i] = saved + h;
        const double up = loss();
        p[i] = saved - h;
        const double down = loss();
        p[i] = saved;
        const double fd = (up - down) / (2 * h);
        diff += (fd - analytic[i]) * (fd - analytic[i]);
        norm += fd * fd + analytic[i] * analytic[i];
    }
    const double err = std::sqrt(diff) / std::max(1e-12, std::sqrt(norm));
    INFO(what, ": relative error ", err);
    CHECK(norm > 0);
    CHECK(err < 1e-6);
}

}  // namespace

TEST_CASE("gcn_layer backward matches finite differences in both product orders") {
    const auto op = random_operator(23, 40, 3);
    parallel::single<B, V> strategy(op);
    for (auto order : {nn::product_order::transform_first, nn::product_order::aggregate_first})
        for (bool relu : {true, false})
            for (double drop : {0.0, 0.4}) {
                CAPTURE(int(order));
                CAPTURE(relu);
                CAPTURE(drop);
                nn::layer_options lo{6, 4, relu, drop, 0.0, false, order};
                nn::gcn_layer<B, V> layer(lo);
                rng g(11);
                layer.initialize(g);
                for (auto& b : layer.bias().value.values()) b = g.uniform(-0.3, 0.3);
                auto x = random_matrix(23, 6, 5);
                const auto coeff = random_matrix(23, 4, 9);  // loss = Σ coeff ⊙ output
                auto loss = [&] {
                    const auto out = layer.forward(strategy, x.cview(), true, 77);
                    double s = 0;
                    for (std::size_t r = 0; r < out.rows(); ++r)
                        for (std::size_t c = 0; c < out.cols(); ++c) s += coeff(r, c) * out(r, c);
                    return s;
                };
                loss();
                auto dz = coeff;
                dense_matrix<V> dx(23, 6);
                matrix_view<V> dxv = dx.view();
                layer.backward(strategy, dz.view(), dxv);
                const auto dw = layer.weight().grad;
                const auto db = layer.bias().grad;
                check_gradient(layer.weight().value.values(), dw.values(), loss, "dW");
                check_gradient(layer.bias().value.values(), db.values(), loss, "db");
                check_gradient(x.values(), dx.values(), loss, "dX");
            }
}

TEST_CASE("a transform-first layer's weight gradient over several redrawn row blocks equals drop(X)ᵀ·dT") {
    // 700 rows of width 2048: the layer keeps no dropped input and sums dW over blocks of
    // 256 rows, each drawn again from X (gcn_layer::redrawn_weight_grad). The reference
    // is the textbook product with the mask stored once.
    const std::size_t n = 700, in = 2048, out = 3;
    const double p = 0.4;
    const std::uint64_t seed = 77;
    const auto op = random_operator(index_t(n), 3000, 6);
    parallel::single<B, V> strategy(op);
    nn::layer_options lo{in, out, true, p, 0.0, false, nn::product_order::transform_first};
    nn::gcn_layer<B, V> layer(lo);
    rng g(3);
    layer.initialize(g);
    const auto x = random_matrix(n, in, 8);
    layer.forward(strategy, x.cview(), true, seed);
    const std::size_t held = layer.meter().held();
    CHECK(held < n * in * sizeof(V));  // no n x in dropped copy is held until backward
    auto dz = random_matrix(n, out, 10);
    auto dz_ref = dz;
    dense_matrix<V> dx(n, in);
    matrix_view<V> dxv = dx.view();
    layer.backward(strategy, dz.view(), dxv);

    // Reference: ReLU mask from the forward output, dT = Âᵀ·dZ, dW = drop(X)ᵀ·dT,
    // dX = drop'(dT·Wᵀ), all with explicit loops and one stored mask.
    B::relu_backward(layer.output(), dz_ref.view());
    dense_matrix<V> dt(n, out);
    strategy.backward(dz_ref.view(), dt.view());
    dense_matrix<V> xd(n, in);
    std::vector<std::uint8_t> mask(n * in);
    B::dropout(x.cview(), xd.view(), mask.data(), V(p), seed, 0);
    double err = 0, norm = 0;
    for (std::size_t i = 0; i < in; ++i)
        for (std::size_t j = 0; j < out; ++j) {
            double want = 0;
            for (std::size_t r = 0; r < n; ++r) want += xd(r, i) * dt(r, j);
            const double got = layer.weight().grad(i, j);
            err = std::max(err, std::abs(got - want));
            norm = std::max(norm, std::abs(want));
        }
    CHECK(norm > 0);
    CHECK(err <= 1e-12 * norm);
    double dx_err = 0;
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t i = 0; i < in; ++i) {
            double want = 0;
            for (std::size_t j = 0; j < out; ++j) want += dt(r, j) * layer.weight().value(i, j);
            want = mask[r * in + i] ? want / (1 - p) : 0.0;
            dx_err = std::max(dx_err, std::abs(dx(r, i) - want));
        }
    CHECK(dx_err <= 1e-12);
}

TEST_CASE("whole models (1, 2 and 3 layers) match finite differences, loss included") {
    const auto op = random_operator(31, 70, 8);
    parallel::single<B, V> strategy(op);
    const auto x = random_matrix(31, 9, 2);
    std::vector<std::int32_t> labels(31);
    rng g(4);
    for (auto& l : labels) l = std::int32_t(g.below(3));
    std::vector<index_t> train;
    for (index_t i = 0; i < 31; i += 2) train.push_back(i);
    for (int layers : {1, 2, 3}) {
        CAPTURE(layers);
        nn::model_options mo;
        mo.in = 9;
        mo.hidden = 5;
        mo.classes = 3;
        mo.layers = layers;
        mo.dropout = 0.3;
        nn::gcn_model<B, V> model(mo);
        model.initialize(123);
        auto loss = [&] {
            const auto logits = model.forward(strategy, x.cview(), true, 99);
            dense_matrix<V> scratch(logits.rows(), logits.cols());
            return B::softmax_cross_entropy(logits, labels.data(), train.data(), train.size(), scratch.view(),
                                            1.0) / double(train.size());
        };
        model.forward(strategy, x.cview(), true, 99);
        model.backward(strategy, labels.data(), train, train.size());
        for (auto* p : model.parameters()) {
            const auto analytic = p->grad;
            check_gradient(p->value.values(), analytic.values(), loss, p->name);
        }
    }
}

TEST_CASE("a model's activation peak is the planner's replay of its buffers, and backward frees what it read") {
    // The meter's peak (every buffer counts itself) against plan::detail::activations, an
    // independent replay of when each layer allocates and frees, over three steps of
    // train forward, backward and evaluation: both orders, 1-3 layers, dropout on and off
    // (the redraw block, the dropped input), the evaluation cache on and off.
    const index_t n = 300;
    const auto op = random_operator(n, 900, 5);
    parallel::single<B, V> strategy(op);
    const auto x = random_matrix(std::size_t(n), 12, 6);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) labels[std::size_t(i)] = std::int32_t(i % 5);
    std::vector<index_t> train;
    for (index_t i = 0; i < n; i += 3) train.push_back(i);
    for (int layers : {1, 2, 3})
        for (double dropout : {0.0, 0.5})
            for (bool cache : {true, false})
                for (auto order : {nn::product_order::automatic, nn::product_order::transform_first}) {
                    CAPTURE(layers);
                    CAPTURE(dropout);
                    CAPTURE(cache);
                    CAPTURE(int(order));
                    nn::model_options mo;
                    mo.in = 12;
                    mo.hidden = 24;  // layer 0 aggregates first, a 24 -> 24 layer too, the last transforms first
                    mo.classes = 5;
                    mo.layers = layers;
                    mo.dropout = dropout;
                    mo.order = order;
                    mo.cache_input_aggregation = cache;
                    nn::gcn_model<B, V> model(mo);
                    model.initialize(7);
                    // Held after an evaluation: every output, ÂH, the cache, redraw blocks; after
                    // backward the same but the logits (freed once the loss gradient exists).
                    std::size_t kept = 0;
                    const std::size_t logits_bytes = std::size_t(n) * mo.classes * sizeof(V);
                    for (int step = 0; step < 3; ++step) {
                        model.forward(strategy, x.cview(), true, 11 + std::uint64_t(step));
                        model.backward(strategy, labels.data(), train, train.size());
                        if (step > 0) CHECK(model.activation_bytes() + logits_bytes == kept);
                        model.forward(strategy, x.cview(), false, 0);
                        kept = model.activation_bytes();
                        // What backward freed and the meter keeps never lifts the total above the peak.
                        CHECK(model.meter().held() + model.meter().pooled() <= model.meter().peak());
                    }
                    parallel::plan::problem pp;
                    pp.value_bytes = sizeof(V);
                    pp.dropout = dropout;
                    const double want = parallel::plan::detail::activations(
                        parallel::cost::model_shape::of(mo), double(n), double(n), [](std::size_t w) { return w; }, pp);
                    CHECK(double(model.peak_activation_bytes()) == want);
                }
}

TEST_CASE("the activation meter reuses freed storage of the same size and stays within its peak") {
    nn::activation_meter<B, V> meter;
    auto a = meter.take(10, 4);
    auto b = meter.take(6, 5);
    CHECK(meter.held() == 70 * sizeof(V));
    CHECK(meter.peak() == 70 * sizeof(V));
    CHECK(meter.allocated() == 70 * sizeof(V));
    const V* storage = a.data();
    meter.give(std::move(a));
    CHECK(meter.held() == 30 * sizeof(V));
    CHECK(meter.pooled() == 40 * sizeof(V));
    auto c = meter.take(8, 5);  // 40 elements again: the same storage, no fresh bytes
    CHECK(c.data() == storage);
    CHECK((c.rows() == 8 && c.cols() == 5));
    CHECK(meter.allocated() == 70 * sizeof(V));
    meter.give(std::move(c));
    meter.give(std::move(b));
    CHECK(meter.held() == 0);
    CHECK(meter.pooled() == 70 * sizeof(V));
    // 5 elements, none kept of that size: held 5 + kept 70 would pass the peak of 70, so
    // kept storage goes, the largest first, until it fits: the 40 goes, the 30 stays.
    auto d = meter.take(1, 5);
    CHECK(meter.held() == 5 * sizeof(V));
    CHECK(meter.pooled() == 30 * sizeof(V));
    CHECK(meter.peak() == 70 * sizeof(V));
    CHECK(meter.allocated() == 75 * sizeof(V));
    auto e = meter.take(3, 10);  // the kept 30
    CHECK(meter.pooled() == 0);
    CHECK(meter.allocated() == 75 * sizeof(V));
    CHECK(meter.held() == 35 * sizeof(V));
    meter.give(std::move(d));
    meter.give(std::move(e));
    meter.trim();
    CHECK(meter.pooled() == 0);
}

TEST_CASE("softmax cross-entropy gradient matches finite differences and ignores unlisted rows") {
    auto logits = random_matrix(6, 4, 21);
    const std::vector<std::int32_t> labels{0, 3, 1, 2, 2, 0};
    const std::vector<index_t> rows{1, 2, 4};
    dense_matrix<V> grad(6, 4);
    B::softmax_cross_entropy(logits.cview(), labels.data(), rows.data(), rows.size(), grad.view(), 0.5);
    auto loss = [&] {
        dense_matrix<V> scratch(6, 4);
        return 0.5 * B::softmax_cross_entropy(logits.cview(), labels.data(), rows.data(), rows.size(), scratch.view(), 1.0);
    };
    check_gradient(logits.values(), grad.values(), loss, "dlogits");
    for (std::size_t c = 0; c < 4; ++c) CHECK(grad(0, c) == 0.0);
}

TEST_CASE("layer configuration errors are reported with the values") {
    CHECK_THROWS_AS((nn::gcn_layer<B, V>(nn::layer_options{0, 4})), invalid_argument);
    CHECK_THROWS_AS((nn::gcn_layer<B, V>(nn::layer_options{3, 4, true, 1.0})), invalid_argument);
    nn::model_options mo;
    mo.in = 3;
    mo.classes = 1;
    CHECK_THROWS_WITH_AS((nn::gcn_model<B, V>(mo)), doctest::Contains("got 1"), invalid_argument);
}
