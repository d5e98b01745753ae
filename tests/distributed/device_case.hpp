#pragma once
// The model, the graph and the comparison that the device-strategy tests share: the host
// stand-in (test_device_layout.cpp) and the GPU program (tests/cuda/nccl_strategies.cu)
// train the same 3-layer model with dropout and weight decay on the same SBM, and
// compare losses and weights with `single` on the host alike.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "mixgcn/graph/generators.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/train/trainer.hpp"

namespace device_case {

inline constexpr std::uint64_t model_seed = 9;
inline constexpr int epochs = 12;

inline mixgcn::nn::model_options model() {
    mixgcn::nn::model_options mo;
    mo.in = 16;
    mo.classes = 4;
    mo.layers = 3;
    mo.hidden = 24;
    mo.dropout = 0.5;
    mo.weight_decay = 5e-4;
    return mo;
}
inline mixgcn::train::trainer_options trainer_opts() {
    mixgcn::train::trainer_options to;
    to.epochs = epochs;
    to.seed = model_seed;
    return to;
}
// 2000 nodes, mean degree 8, 16 features, 4 classes.
inline mixgcn::graph::sbm_options graph() {
    mixgcn::graph::sbm_options o;
    o.nodes = 2000;
    o.avg_degree = 8;
    o.features = 16;
    o.classes = 4;
    o.model = mixgcn::graph::feature_model::gaussian;
    o.seed = 21;
    return o;
}

// A run's losses and final weights (host copies).
template <class V>
struct run_result {
    mixgcn::train::train_result res;
    std::vector<std::vector<V>> weights;
};

// The largest relative difference of the per-epoch losses, and of the weights (relative
// to max(1e-3, |reference|)); infinity when the runs' lengths differ.
struct differences {
    double loss = 0, weights = 0;
};
template <class V>
differences compare(const run_result<V>& got, const run_result<V>& ref) {
    differences d;
    if (got.res.history.size() != ref.res.history.size() || got.weights.size() != ref.weights.size())
        return {INFINITY, INFINITY};
    for (std::size_t e = 0; e < ref.res.history.size(); ++e)
        d.loss = std::max(d.loss, std::abs(got.res.history[e].loss - ref.res.history[e].loss) /
                                      std::abs(ref.res.history[e].loss));
    for (std::size_t i = 0; i < ref.weights.size(); ++i) {
        if (got.weights[i].size() != ref.weights[i].size()) return {INFINITY, INFINITY};
        for (std::size_t k = 0; k < ref.weights[i].size(); ++k)
            d.weights = std::max(d.weights, std::abs(double(got.weights[i][k]) - double(ref.weights[i][k])) /
                                                std::max(1e-3, std::abs(double(ref.weights[i][k]))));
    }
    return d;
}

}  // namespace device_case
