#pragma once
// What one rank of a full-graph strategy held, sent and spent, and the inputs it trains
// on. Every strategy (single, graph, feature, mixture) fills the same report, so the CLI
// writes one per rank into its JSON without knowing which strategy ran.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::parallel {

// One layer's layout switches (mixture's all-to-alls, feature's reduce-scatter and
// all-gather) over the run: how long the exchanges were in flight, and how much of that
// this rank spent blocked in them. The rest was hidden behind compute.
struct exchange_figures {
    std::uint64_t exchanges = 0;
    double in_flight_seconds = 0;  // from each start until it was seen complete, summed
    double blocked_seconds = 0;    // inside start/wait, summed
    double hidden_fraction() const noexcept {
        return in_flight_seconds > 0 ? std::max(0.0, 1.0 - blocked_seconds / in_flight_seconds) : 0.0;
    }
};

struct strategy_report {
    std::string strategy;
    int rank = 0;
    std::size_t owned_nodes = 0, halo_nodes = 0, interior_rows = 0, boundary_rows = 0;
    std::size_t local_nonzeros = 0;
    comm::traffic traffic;                             // every collective since setup, by operation
    std::uint64_t bytes_sent = 0, bytes_received = 0;  // traffic.total(), both directions
    double comm_seconds = 0, compute_seconds = 0;     // inside the strategy's calls
    std::vector<exchange_figures> layers;              // per layer (mixture, feature)
    // Memory of this rank, in bytes, at its peak (buffers keep their largest width).
    std::size_t graph_bytes = 0;       // local (or replicated) operator, its transpose, scales, id maps
    std::size_t buffer_bytes = 0;      // exchange buffers
    std::size_t feature_bytes = 0;     // local feature block and labels
    std::size_t activation_bytes = 0;  // layer activations and gradients held by the model
    std::size_t parameter_bytes = 0;   // weights, gradients and two optimizer moments
    std::size_t total_bytes() const noexcept {
        return graph_bytes + buffer_bytes + feature_bytes + activation_bytes + parameter_bytes;
    }
};
using graph_report = strategy_report;

// This rank's inputs: features in the strategy's layout, labels and train/val/test rows
// in its row layout. What train::local_data views.
template <class V>
struct strategy_inputs {
    dense_matrix<V> features;               // this rank's block, when it is a copy
    const_matrix_view<V> borrowed;          // or a view of the caller's matrix (single)
    std::vector<std::int32_t> labels;       // one per row of the row layout
    std::vector<index_t> train, val, test;  // rows of the row layout
    const_matrix_view<V> feature_block() const { return features.size() ? features.cview() : borrowed; }
    train::local_data<V> data() const { return {feature_block(), labels.data(), train, val, test}; }
    std::size_t bytes() const noexcept {
        return feature_block().size() * sizeof(V) + labels.size() * sizeof(std::int32_t);
    }
};
template <class V>
using graph_inputs = strategy_inputs<V>;

namespace detail {

// Counters accumulated since `before` (a copy of stats() taken earlier).
inline comm::traffic traffic_since(const comm::traffic& now, const comm::traffic& before) {
    comm::traffic out;
    for (const auto& [name, c] : now.ops) {
        const auto b = before[name];
        if (c.calls == b.calls) continue;
        out.record(name, c.bytes_sent - b.bytes_sent, c.bytes_received - b.bytes_received, c.seconds - b.seconds,
                   c.calls - b.calls);
    }
    return out;
}

// The report of a finished run: the strategy's figures plus the memory of the inputs and
// of the model it drove (parameters: value, gradient and two optimizer moments).
template <class S, class Inputs, class Model>
void finish_report(strategy_report* out, const S& strategy, const Inputs& in, Model& model) {
    if (!out) return;
    *out = strategy.report();
    out->feature_bytes = in.bytes();
    out->activation_bytes = model.peak_activation_bytes();  // the most held at once
    out->parameter_bytes = model.parameter_count() * sizeof(typename S::value_type) * 4;
}

}  // namespace detail
}  // namespace mixgcn::parallel
