#pragma once
// One factory for the full-graph strategies (single, graph, feature, mixture): a program
// names the strategy at run time, this builds it from the whole operator and an owner
// vector, builds its inputs from the dataset, and hands both to the caller, so a tool
// holds no per-strategy branch. train_full_graph adds the model, the optimizer and the
// trainer, and fills the rank's report.
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/feature.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/mixture.hpp"
#include "mixgcn/parallel/renumbered.hpp"
#include "mixgcn/parallel/report.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::parallel {

enum class strategy_kind { single, graph, feature, mixture };

inline const char* to_string(strategy_kind k) {
    switch (k) {
        case strategy_kind::single: return "single";
        case strategy_kind::graph: return "graph";
        case strategy_kind::feature: return "feature";
        case strategy_kind::mixture: return "mixture";
    }
    return "?";
}
inline strategy_kind parse_strategy_kind(std::string_view s) {
    for (auto k : {strategy_kind::single, strategy_kind::graph, strategy_kind::feature, strategy_kind::mixture})
        if (s == to_string(k)) return k;
    throw invalid_argument(::mixgcn::detail::concat("unknown full-graph strategy '", s,
                                                    "' (single, graph, feature or mixture)"));
}

struct strategy_options {
    strategy_kind kind = strategy_kind::single;
    int chunks = 1;  // mixture: column chunks pipelined per switch
    // When the graph was renumbered at load (partition::locality_order): the user's id of
    // every node, so dropout masks and outputs follow the user's ids (renumbered.hpp).
    std::span<const index_t> original_ids{};
};

// Builds the strategy `o.kind` on this rank and its inputs from `ds` (every node's rows),
// then returns f(strategy, inputs); the strategy is a renumbered<S> naming its rows by
// o.original_ids when those are given, S itself otherwise. Collective for the
// distributed strategies: every rank passes the same operator and owners. `single`
// needs one rank.
template <class B, class V, comm::communicator Comm, class F>
decltype(auto) with_strategy(Comm& comm, const ::mixgcn::graph::gcn_operator<index_t, V>& op,
                             std::span<const int> owner, const dataset<V>& ds, const strategy_options& o, F&& f) {
    require(ds.features.rows() == static_cast<std::size_t>(op.a.rows), "strategy ", to_string(o.kind), ": dataset '",
            ds.name, "' has ", ds.features.rows(), " feature rows for an operator of ", op.a.rows, " nodes");
    require(o.original_ids.empty() || o.original_ids.size() == ds.features.rows(), "strategy ", to_string(o.kind),
            ": ", o.original_ids.size(), " original ids for ", ds.features.rows(), " nodes");
    switch (o.kind) {
        case strategy_kind::single: {
            require(comm.size() == 1, "strategy single runs on one rank, but ", comm.size(), " were started");
            renumbered<single<B, V>> s(o.original_ids, op);
            auto in = s.local_inputs(ds);
            return f(s, in);
        }
        case strategy_kind::graph: {
            renumbered<graph<B, V, Comm>> s(o.original_ids, comm, op, owner);
            auto in = s.local_inputs(ds);
            return f(s, in);
        }
        case strategy_kind::feature: {
            renumbered<feature<B, V, Comm>> s(o.original_ids, comm, op, owner);
            auto in = s.local_inputs(ds);
            return f(s, in);
        }
        case strategy_kind::mixture: {
            renumbered<mixture<B, V, Comm>> s(o.original_ids, comm, op, owner, o.chunks);
            auto in = s.local_inputs(ds);
            return f(s, in);
        }
    }
    throw invalid_argument("with_strategy: unknown strategy");
}

// Trains `model` with the strategy `o.kind`: every rank passes the same arguments.
// Returns the trainer's result (identical on every rank); `out` receives this rank's
// figures: traffic since setup by operation, time, memory by purpose.
template <class B, class V, comm::communicator Comm>
train::train_result train_full_graph(Comm& comm, const dataset<V>& ds,
                                     const ::mixgcn::graph::gcn_operator<index_t, V>& op, std::span<const int> owner,
                                     const strategy_options& o, nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt,
                                     const train::trainer_options& to, strategy_report* out = nullptr) {
    return with_strategy<B, V>(comm, op, owner, ds, o, [&](auto& s, const strategy_inputs<V>& in) {
        using S = std::remove_reference_t<decltype(s)>;
        static_assert(parallel_strategy<S>, "every full-graph strategy must satisfy parallel_strategy");
        const auto data = in.data();
        auto res = train::trainer<B, V, S>(s, model, opt, data, to).run();
        detail::finish_report(out, s, in, model);
        return res;
    });
}

}  // namespace mixgcn::parallel
