#pragma once
// --strategy data and pipeline (Cluster-GCN batches): the flags' options, the identity a
// checkpoint must match, the banner and the run with its report, shared by the host
// strategies (train_host.hpp) and backend::cuda (train_cuda.cu). The clusters come from
// the caller: the partitioners stay in the host translation unit.
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/pipeline.hpp"
#include "train_run.hpp"

namespace mixgcn::train_tool {

// --clusters, --clusters-per-batch, --accumulate; for pipeline --stages and
// --micro-batches too. The cluster order's seed is the run's.
struct batch_options {
    parallel::data_options data;
    std::optional<parallel::pipeline_options> pipeline;  // --strategy pipeline
};

inline batch_options batch_options_from(const cli::args& a, const std::string& strategy, int ranks, int layers,
                                        std::uint64_t seed) {
    batch_options bo;
    auto& dopt = bo.data;
    dopt.clusters = a.number<int>("clusters", dopt.clusters);
    dopt.clusters_per_batch = a.number<int>("clusters-per-batch", dopt.clusters_per_batch);
    dopt.accumulate = a.number<int>("accumulate", 1);
    dopt.seed = seed;
    require(dopt.clusters >= 1, "--clusters must be >= 1, got ", dopt.clusters);
    if (dopt.accumulate < 1) throw cli::usage_error("flag --accumulate: must be >= 1, got " + a.get("accumulate", ""));
    if (strategy != "pipeline") return bo;
    parallel::pipeline_options po;
    po.stages = a.number<int>("stages", 2);
    po.micro_batches = a.number<int>("micro-batches", 4);
    if (po.stages > layers)
        throw cli::usage_error("flag --stages: " + std::to_string(po.stages) + " stages for " + std::to_string(layers) +
                               " layers (--layers at least --stages)");
    if (po.stages < 1 || ranks % po.stages != 0)
        throw cli::usage_error("flag --stages: " + std::to_string(po.stages) + " does not divide the " +
                               std::to_string(ranks) + " ranks (ranks = replicas x stages)");
    if (po.micro_batches < 1) throw cli::usage_error("flag --micro-batches: must be >= 1, got " + a.get("micro-batches", ""));
    po.data = dopt;
    bo.pipeline = po;
    return bo;
}

// What a checkpoint of a batch run must match to be resumed: the schedule depends on the
// rank count and the clusters (and the pipeline's layout).
inline std::map<std::string, std::string> batch_identity(const cli::args& a, int ranks, const batch_options& bo) {
    const auto& dopt = bo.data;
    std::map<std::string, std::string> id{
        {"strategy_family", "data"},
        {"ranks", std::to_string(ranks)},
        {"clusters", std::to_string(dopt.clusters)},
        {"clusters_per_batch", std::to_string(dopt.clusters_per_batch)},
        {"accumulate", std::to_string(dopt.accumulate)},
        {"partition", a.has("partition-file") ? "file:" + a.get("partition-file", "") : a.get("partition", "metis")}};
    if (bo.pipeline) {
        id["stages"] = std::to_string(bo.pipeline->stages);
        id["micro_batches"] = std::to_string(bo.pipeline->micro_batches);
    }
    return id;
}

// The run's first line.
template <class B, class V, class Comm>
void print_batch_banner(const run_context<B, V, Comm>& ctx, const batch_options& bo) {
    const auto& dopt = bo.data;
    std::printf("%s: %d nodes, %zu non-zeros, %zu features, %d classes; backend %s%s%s, %s, strategy %s "
                "(%d clusters, %d per batch",
                ctx.ds.name.c_str(), ctx.ds.num_nodes(), ctx.adjacency.nnz(), ctx.ds.features.cols(),
                ctx.ds.num_classes, B::name(), ctx.device.empty() ? "" : " on ", ctx.device.c_str(),
                sizeof(V) == 4 ? "float" : "double", ctx.strategy_name.c_str(), dopt.clusters, dopt.clusters_per_batch);
    if (bo.pipeline)
        std::printf(", %d stages x %d replicas, %d micro-batches per step", bo.pipeline->stages,
                    ctx.comm.size() / bo.pipeline->stages, bo.pipeline->micro_batches);
    else if (dopt.accumulate > 1)
        std::printf(", %d batches accumulated per step", dopt.accumulate);
    std::printf(") on %d rank(s)\n", ctx.comm.size());
}

// Every rank's stage figures on every rank (the JSON's `pipeline` object), and rank 0's
// table of them.
template <class B, class V, class Comm>
void record_pipeline(run_context<B, V, Comm>& ctx, const parallel::pipeline_report& r) {
    const int P = ctx.comm.size();
    constexpr std::size_t fields = 7;
    const std::vector<double> mine{double(r.stage),       double(r.first_layer), double(r.last_layer), r.bubble(),
                                   r.step_seconds,        r.p2p_seconds,         double(r.peak_activation_bytes)};
    std::vector<double> all(fields * std::size_t(P));
    ctx.comm.all_gather(std::span<const double>(mine), std::span<double>(all));
    pipeline_figures f;
    f.stages = r.stages;
    f.replicas = r.replicas;
    f.micro_batches = r.micro_batches;
    f.ideal_bubble = r.ideal_bubble();
    for (int q = 0; q < P; ++q) {
        const double* v = all.data() + fields * std::size_t(q);
        f.ranks.push_back({int(v[0]), int(v[1]), int(v[2]), v[3], v[4], v[5], v[6]});
    }
    if (!ctx.quiet) {
        std::printf("pipeline: %d stages x %d replicas, %d micro-batches per step; bubble (S-1)/(M+S-1) = %.3f\n",
                    f.stages, f.replicas, f.micro_batches, f.ideal_bubble);
        for (int q = 0; q < P; ++q) {
            const auto& s = f.ranks[std::size_t(q)];
            std::printf("  rank %d: stage %d, layers [%d, %d), measured bubble %.3f (%.3f of %.3f s waiting), "
                        "peak activations %.1f MiB\n",
                        q, s.stage, s.first_layer, s.last_layer, s.bubble, s.p2p_seconds, s.step_seconds,
                        s.activation_bytes / (1024.0 * 1024.0));
        }
    }
    ctx.pipeline = std::move(f);
}

// Cluster-GCN (data) or the pipeline on every rank of ctx.comm with the clusters given
// (the same on every rank), its figures into the context. data holds the graph, its
// normalised copy, the largest batch (one at a time) and the cluster lists, the whole
// features and the largest batch's rows of them (on a device backend those sit in its
// memory, which device_peak_bytes counts).
template <class B, class V, class Comm>
void train_batch_strategy(run_context<B, V, Comm>& ctx, const std::vector<int>& cluster_of, const batch_options& bo,
                          const train::trainer_options& to) {
    ctx.mine.owned = double(ctx.ds.num_nodes());
    train::return_free_memory();  // what set-up freed, before training's peak
    if (bo.pipeline) {
        ctx.mem.graph = 2 * ctx.adjacency.bytes();  // the graph and its normalised copy for evaluation
        ctx.mem.features = ctx.ds.features.bytes();
        parallel::pipeline_report r;
        ctx.res = parallel::train_pipeline<B, V>(ctx.comm, ctx.ds, ctx.adjacency, cluster_of, *bo.pipeline, ctx.model,
                                                 ctx.opt, to, &r);
        ctx.mine.bytes_sent = double(r.bytes_sent);
        ctx.mine.bytes_received = double(r.bytes_received);
        ctx.mine.comm_seconds = r.p2p_seconds + r.reduce_seconds;
        ctx.mine.compute_seconds = r.compute_seconds;
        record_pipeline(ctx, r);
        return;
    }
    parallel::data_report r;
    ctx.res = parallel::train_clusters<B, V>(ctx.comm, ctx.ds, ctx.adjacency, cluster_of, bo.data, ctx.model, ctx.opt,
                                             to, &r);
    ctx.mem.graph = ctx.adjacency.bytes() + r.eval_operator_bytes + r.max_batch_graph_bytes + r.index_bytes +
                    cluster_of.capacity() * sizeof(int);
    ctx.mem.features = ctx.ds.features.bytes() + r.max_batch_row_bytes;
    ctx.mine.bytes_sent = double(r.bytes_sent);
    ctx.mine.bytes_received = double(r.bytes_received);
    ctx.mine.comm_seconds = r.comm_seconds;
    ctx.mine.compute_seconds = r.compute_seconds;
}

}  // namespace mixgcn::train_tool
