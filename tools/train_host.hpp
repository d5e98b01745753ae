#pragma once
// mixgcn-train's host side, shared with the Python module (python/src/module.cpp): the
// owners from --partition, every host strategy (single, graph, feature, mixture, data,
// auto) and the communicator the flags ask for. train_run.hpp holds what the CUDA
// build shares too.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "memory_check.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/comm/launcher.hpp"
#include "mixgcn/parallel/balance.hpp"
#include "mixgcn/parallel/cost.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/full_graph.hpp"
#include "mixgcn/parallel/pipeline.hpp"
#include "mixgcn/parallel/plan.hpp"
#include "mixgcn/partition.hpp"
#include "mixgcn/partition/locality_order.hpp"
#include "train_balance.hpp"
#include "train_data.hpp"
#include "train_run.hpp"

namespace mixgcn::train_tool {

// --comm's default: local for single; for the distributed strategies MPI when an MPI
// launcher (mpirun, Hydra, srun --mpi) started the process or none did (one MPI rank),
// and Gloo when another launcher did (torchrun, srun without PMI, MIXGCN_RANK), which
// gives rank and size but no MPI to initialise.
inline std::string default_comm(const std::string& strategy) {
    if (strategy == "single") return "local";
#ifdef MIXGCN_HAS_GLOO
    if (!comm::detail::launched_by_mpi() && !comm::detect_launch().source.empty()) return "gloo";
#endif
    return "mpi";
}

#ifdef MIXGCN_HAS_MPI
// MPI for the whole process (the Python module): started on first use unless someone
// else has, finalised at exit by the static's destructor.
inline void process_mpi() {
    static comm::mpi::environment env;
    (void)env;
}
#endif

// What run_on_ranks adds to every epoch (the Gloo timeout derived from the first epoch).
struct tool_hooks {
    std::function<void(const train::epoch_metrics&)> on_epoch;
};

// The trainer options of the run plus this tool's additions: the identity a checkpoint
// must match to be resumed (the data strategy's schedule depends on the rank count and
// the clusters; full-graph checkpoints resume on any rank count) and the hooks.
inline train::trainer_options tool_options(const train::trainer_options& base, const tool_hooks& hooks,
                                           std::map<std::string, std::string> identity) {
    train::trainer_options to = base;
    to.checkpoint_identity = std::move(identity);
    if (hooks.on_epoch)
        to.on_epoch = [prev = base.on_epoch, h = hooks.on_epoch](const train::epoch_metrics& m) {
            if (prev) prev(m);
            h(m);
        };
    return to;
}

// The owners --partition (or --partition-file) asks for, computed by this process alone.
template <class V>
std::vector<int> partition_by_flags(const cli::args& a, const storage::csr<index_t, V>& adjacency, int parts) {
    if (a.has("partition-file")) return partition::read_partition_file(a.get("partition-file", ""), adjacency.rows, parts);
    const auto method = a.choice("partition", "metis", {"block", "random", "spectral", "metis", "fennel", "ptscotch"});
    const auto seed = a.number<std::uint64_t>("seed", 42);
    if (method == "block") return partition::block{}.partition(adjacency, parts);
    if (method == "random") return partition::random{seed}.partition(adjacency, parts);
    if (method == "spectral") return partition::spectral{}.partition(adjacency, parts);
    if (method == "metis") return partition::metis{}.partition(adjacency, parts);
    if (method == "fennel") return partition::fennel{.seed = seed}.partition(adjacency, parts);
    return partition::ptscotch{}.partition(adjacency, parts);  // the whole graph: one process
}

template <class V, class Comm>
std::vector<int> obtain_owners(const cli::args& a, Comm& comm, const storage::csr<index_t, V>& adjacency, int parts) {
    if (a.has("partition-file")) return partition_by_flags(a, adjacency, parts);
    return from_rank_0(comm, static_cast<std::size_t>(adjacency.rows),
                       [&] { return partition_by_flags(a, adjacency, parts); });
}

// --balance on: the re-cut, on rank 0, with the run's partitioner and target shares.
template <class V>
balance_recut_fn balance_recut(const cli::args& a, const storage::csr<index_t, V>& adjacency, int parts) {
    const auto method = a.get("partition", "metis");
    const auto seed = a.number<std::uint64_t>("seed", 42);
    return [method, seed, &adjacency, parts](std::span<const double> shares) {
        if (method == "block") return partition::block{}.partition(adjacency, parts, shares);
        if (method == "random") return partition::random{seed}.partition(adjacency, parts, shares);
        if (method == "fennel") return partition::fennel{.seed = seed}.partition(adjacency, parts, shares);
        if (method == "ptscotch") return partition::ptscotch{}.partition(adjacency, parts, shares);
        return partition::metis{}.partition(adjacency, parts, shares);
    };
}

// --order: the numbering the full-graph strategies train in. `auto` is METIS's community
// order where it pays (docs/kernels.md, "Node ordering"): when METIS is built and the
// graph has at least `auto_order_nodes` nodes (smaller X blocks stay in cache in any
// order, and there METIS's time would not come back).
inline constexpr std::size_t auto_order_nodes = 65536;

template <class V>
node_orderer<V> host_node_orderer() {
    return {[](const std::string& requested, std::size_t nodes) -> std::string {
                if (requested != "auto") return requested;
                return partition::metis::available() && nodes >= auto_order_nodes ? "metis" : "none";
            },
            [](const storage::csr<index_t, V>& adjacency, const std::string& chosen) {
                return partition::locality_order(adjacency, partition::parse_node_order(chosen));
            }};
}


// --load partitioned: the graph strategy from this rank's rows (parallel::graph's
// local-rows constructor normalises them with the ghosts' degrees from their owners).
// The owned feature rows move into the strategy's inputs, so none is held twice.
template <class B, class V, class Comm>
void train_partitioned(train_tool::run_context<B, V, Comm>& ctx, const tool_hooks& hooks) {
    dataset<V>& ds = ctx.ds;
    const auto& owned = *ctx.owned;
    // The planner's figure for this run (halo estimated: no rank holds the whole graph).
    train_tool::check_host_memory(ctx.a, ctx.comm,
                                  parallel::plan::problem_for(std::uint64_t(ds.num_nodes()), ctx.nonzeros,
                                                              ctx.model.options(), ctx.comm.size(), sizeof(V)),
                                  "graph");
    parallel::graph<B, V, Comm> strategy(ctx.comm, ds.num_nodes(), owned, ctx.adjacency, *ctx.owner, ctx.mode);
    ctx.adjacency = {};  // the strategy holds its normalised copy
    auto in = strategy.local_inputs(owned, ds.features.cview(), ds.labels, ds.split);
    ds.features = {};
    const auto to = tool_options(ctx.to, hooks, {{"strategy_family", "full-graph"}});
    auto inner = with_options(ctx, to);
    inner.train_with(strategy, in.data());
    ctx.res = std::move(inner.res);
    const auto r = strategy.report();
    if (inner.logits || inner.embeddings) inner.gather_outputs(strategy, in.data());
    ctx.mem.features = in.bytes();
    ctx.mem.graph = r.graph_bytes + ctx.owner->size() * sizeof(int) + owned.size() * sizeof(index_t);
    record_report(ctx, r);
}

// The mini-batch strategies: `data` (Cluster-GCN batches per rank, --accumulate K batches
// per step) and `pipeline` (the model's layers in --stages S stages, --micro-batches M
// cluster batches per step through them; ranks = replicas x stages).
template <class B, class V, class Comm>
void train_batches(train_tool::run_context<B, V, Comm>& ctx, const tool_hooks& hooks) {
    const cli::args& a = ctx.a;
    Comm& comm = ctx.comm;
    const auto bo = batch_options_from(a, ctx.strategy_name, comm.size(), ctx.model.options().layers, ctx.seed);
    const auto cluster_of = obtain_owners<V>(a, comm, ctx.adjacency, bo.data.clusters);
    {
        auto p = parallel::plan::problem_for(std::uint64_t(ctx.adjacency.rows), ctx.adjacency.nnz(),
                                             ctx.model.options(), comm.size(), sizeof(V));
        p.clusters = bo.data.clusters;
        p.clusters_per_batch = bo.data.clusters_per_batch;
        // The dataset's features are loaded already; the strategy's are counted on top. A
        // pipeline stage holds up to min(S, M) batches' activations of its layers: the
        // data figure (one batch, every layer) is the estimate for it.
        train_tool::check_host_memory(a, comm, p, "data", double(ctx.ds.features.bytes()));
    }
    if (!ctx.quiet) print_batch_banner(ctx, bo);
    train_batch_strategy(ctx, cluster_of, bo, tool_options(ctx.to, hooks, batch_identity(a, comm.size(), bo)));
}

// The host backends' strategies. Full-graph ones (single, graph, feature, mixture) come
// from one factory (parallel::with_strategy): the whole operator, an owner vector and the
// dataset in, the strategy and its inputs out. `data` trains Cluster-GCN batches per rank.
template <class B, class V, class Comm>
void train_on_host(train_tool::run_context<B, V, Comm>& ctx, const tool_hooks& hooks) {
    if (ctx.owned) return train_partitioned(ctx, hooks);
    const cli::args& a = ctx.a;
    Comm& comm = ctx.comm;
    // Before anything reads node ids (owners, the planner's layout): rank 0 orders and
    // every rank renumbers its copy the same way.
    const std::vector<index_t> original_ids = apply_node_order(ctx, host_node_orderer<V>());
    dataset<V>& ds = ctx.ds;
    const storage::csr<index_t, V>& adjacency = ctx.adjacency;
    // --strategy auto: the planner, fed this graph's statistics and the owners the flags
    // give (exact halo), picks the full-graph strategy that moves the fewest bytes.
    std::vector<int> owner;
    if (ctx.strategy_name == "auto") {
        if (comm.size() == 1) {
            ctx.strategy_name = "single";
        } else {
            owner = obtain_owners<V>(a, comm, adjacency, comm.size());
            const auto layout = parallel::cost::layout_of(adjacency, std::span<const int>(owner), comm.size());
            const auto plan = parallel::plan::make_plan(parallel::plan::problem_for(
                std::uint64_t(adjacency.rows), adjacency.nnz(), ctx.model.options(), comm.size(), sizeof(V),
                a.number<int>("chunks", 1), &layout));
            ctx.strategy_name = plan.recommended == "data" || plan.recommended == "none" ? "mixture" : plan.recommended;
            if (!ctx.quiet)
                std::printf("--strategy auto: %s (the planner: %s)\n", ctx.strategy_name.c_str(), plan.reason.c_str());
        }
    }
    if (ctx.strategy_name == "data" || ctx.strategy_name == "pipeline") return train_batches(ctx, hooks);
    parallel::strategy_options so;
    so.kind = parallel::parse_strategy_kind(ctx.strategy_name);
    so.chunks = a.number<int>("chunks", 1);
    so.original_ids = original_ids;
    if (so.chunks < 1) throw cli::usage_error("flag --chunks: must be >= 1, got " + std::to_string(so.chunks));
    if (owner.empty())
        owner = so.kind == parallel::strategy_kind::single ? std::vector<int>(static_cast<std::size_t>(adjacency.rows), 0)
                                                            : obtain_owners<V>(a, comm, adjacency, comm.size());
    const auto layout = parallel::cost::layout_of(adjacency, std::span<const int>(owner), comm.size());
    {
        const auto p = parallel::plan::problem_for(std::uint64_t(adjacency.rows), adjacency.nnz(), ctx.model.options(),
                                                   comm.size(), sizeof(V), so.chunks, &layout);
        // single trains on the loaded features and labels in place.
        const double borrowed = so.kind == parallel::strategy_kind::single
                                    ? double(ds.features.bytes() + ds.labels.size() * sizeof(std::int32_t))
                                    : 0.0;
        train_tool::check_host_memory(a, comm, p, ctx.strategy_name, borrowed);
    }
    auto op = graph::gcn_normalize<V>(adjacency, ctx.mode);
    parallel::strategy_report r;
    const bool balanced = a.get("balance", "off") == "on" || a.has("debug-slow-rank");
    if (!balanced) {  // the balancer re-cuts from A; otherwise nothing reads it again: not held through training
        ctx.nonzeros = adjacency.nnz();
        ctx.adjacency = {};
    }
    if (balanced) {
        if (so.kind == parallel::strategy_kind::mixture)
            r = train_balanced<parallel::mixture<B, V, Comm>>(
                ctx, tool_options(ctx.to, hooks, {{"strategy_family", "full-graph"}}), op, owner, original_ids,
                so.chunks, balance_recut(a, ctx.adjacency, comm.size()));
        else
            r = train_balanced<parallel::graph<B, V, Comm>>(
                ctx, tool_options(ctx.to, hooks, {{"strategy_family", "full-graph"}}), op, owner, original_ids, 1,
                balance_recut(a, ctx.adjacency, comm.size()));
    } else {
        const auto to = tool_options(ctx.to, hooks, {{"strategy_family", "full-graph"}});
        auto inner = with_options(ctx, to);
        parallel::with_strategy<B, V>(comm, op, owner, ds, so, [&](auto& strategy, const parallel::strategy_inputs<V>& in) {
            if (so.kind != parallel::strategy_kind::single && in.features.size() > 0) {
                // The strategy holds its own Â (its rows, or a replica) and copies of its
                // rows of the inputs; single trains on both in place. Not held twice.
                op = {};
                ds.features = {};
                ds.labels = {};
                ds.split = {};
            }
            inner.train_with(strategy, in.data());
            ctx.res = std::move(inner.res);
            r = strategy.report();
            ctx.mem.features = in.bytes();
            if (inner.logits || inner.embeddings) inner.gather_outputs(strategy, in.data());
        });
    }
    ctx.mem.graph = (so.kind == parallel::strategy_kind::single ? op.bytes() : r.graph_bytes) +
                    owner.size() * sizeof(int) + original_ids.size() * sizeof(index_t);  // the tool's own vectors
    record_report(ctx, r);
    // The cost model's bytes for this run, beside the measured ones. Not under the
    // balancer: its per-epoch all-reduce and any re-cut move bytes the model does not count.
    if (ctx.balance) return;
    const auto predicted = parallel::cost::predict(so, parallel::cost::model_shape::of(ctx.model.options()), layout,
                                                   comm.rank(), int(ctx.res.history.size()) - ctx.res.resumed_from_epoch,
                                                   sizeof(V));  // the epochs this run trained (not the resumed ones)
    ctx.mine.predicted_sent = double(predicted.total().sent);
    ctx.mine.predicted_received = double(predicted.total().received);
}

// Starts the communicator the flags ask for; a rank that fails takes every rank down
// with its message (comm::run_guarded) instead of leaving the others waiting.
//
// `argc`/`argv` go to MPI_Init for --comm mpi, and MPI is finalised when the run ends
// (main()); without them (the Python module) MPI starts once and lasts the process.
template <class B, class V>
int run_on_ranks(const cli::args& a, int* argc, char*** argv, const run_extras<V>& extras = {}) {
    const auto kind = a.choice("comm", default_comm(a.get("strategy", "single")), {"local", "mpi", "gloo"});
    if (a.has("comm-timeout") && kind != "gloo")
        throw cli::usage_error("flag --comm-timeout applies to --comm gloo, not " + kind +
                               (kind == "mpi" ? " (MPI has no operation timeout; mpirun ends the job when a rank dies)" : ""));
    if (kind == "mpi") {
#ifdef MIXGCN_HAS_MPI
        std::optional<comm::mpi::environment> env;
        if (argc) env.emplace(*argc, *argv);
        else process_mpi();
        comm::mpi c;
        return comm::run_guarded(c, [&] {
            return train_tool::run<B, V>(a, c, [](auto& ctx) { train_on_host<B, V, comm::mpi>(ctx, {}); }, extras);
        });
#else
        throw cli::usage_error("flag --comm: mpi was not found when mixgcn-train was built (MIXGCN_WITH_MPI)");
#endif
    }
    if (kind == "gloo") {
#ifdef MIXGCN_HAS_GLOO
        // The timeout bounds every operation: --comm-timeout, else MIXGCN_GLOO_TIMEOUT (read
        // by comm::gloo), else 60 s until the first epoch has been timed, then 10 x that
        // epoch (at least 60 s), so long epochs at scale do not fail on a fixed default.
        comm::gloo_options go;
        if (a.has("comm-timeout")) {
            const double seconds = a.number<double>("comm-timeout", 60);
            if (!(seconds >= 0.001 && seconds <= 1e7))
                throw cli::usage_error("flag --comm-timeout: must be between 0.001 and 1e7 seconds, got " + a.get("comm-timeout", ""));
            go.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
        }
        const bool derive = !a.has("comm-timeout") && !comm::detail::env_or_null("MIXGCN_GLOO_TIMEOUT");
        comm::gloo c(go);
        tool_hooks hooks;
        if (derive)
            hooks.on_epoch = [&c, &a, timed = false](const train::epoch_metrics& m) mutable {
                if (timed) return;
                timed = true;
                const double seconds = std::max(60.0, 10.0 * m.seconds);
                c.set_timeout(std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0)));
                if (c.rank() == 0 && !a.has("quiet"))
                    std::printf("comm timeout: %.1f s from now on (10 x epoch %d's %.3f s, at least 60 s; "
                                "--comm-timeout or MIXGCN_GLOO_TIMEOUT fix it)\n",
                                double(c.timeout().count()) / 1000.0, m.epoch, m.seconds);
            };
        else if (c.rank() == 0 && !a.has("quiet"))
            std::printf("comm timeout: %.1f s (%s)\n", double(c.timeout().count()) / 1000.0,
                        a.has("comm-timeout") ? "--comm-timeout" : "MIXGCN_GLOO_TIMEOUT");
        return comm::run_guarded(c, [&] {
            return train_tool::run<B, V>(a, c, [&](auto& ctx) { train_on_host<B, V, comm::gloo>(ctx, hooks); },
                                         extras);
        });
#else
        throw cli::usage_error("flag --comm: gloo was not found when mixgcn-train was built (MIXGCN_WITH_GLOO)");
#endif
    }
    comm::local c;
    return train_tool::run<B, V>(a, c, [](auto& ctx) { train_on_host<B, V, comm::local>(ctx, {}); }, extras);
}


}  // namespace mixgcn::train_tool
