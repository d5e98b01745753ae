#pragma once
// --strategy data (and pipeline's batches): the flags' options, the identity a checkpoint
// must match, the banner and the Cluster-GCN run with its report, shared by the host
// strategies (train_host.hpp) and backend::cuda (train_cuda.cu). The clusters come from
// the caller: the partitioners stay in the host translation unit.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mixgcn/parallel/data.hpp"
#include "train_run.hpp"

namespace mixgcn::train_tool {

// --clusters, --clusters-per-batch, --accumulate; the cluster order's seed is the run's.
inline parallel::data_options data_options_from(const cli::args& a, std::uint64_t seed) {
    parallel::data_options dopt;
    dopt.clusters = a.number<int>("clusters", dopt.clusters);
    dopt.clusters_per_batch = a.number<int>("clusters-per-batch", dopt.clusters_per_batch);
    dopt.accumulate = a.number<int>("accumulate", 1);
    dopt.seed = seed;
    require(dopt.clusters >= 1, "--clusters must be >= 1, got ", dopt.clusters);
    if (dopt.accumulate < 1) throw cli::usage_error("flag --accumulate: must be >= 1, got " + a.get("accumulate", ""));
    return dopt;
}

// What a checkpoint of a batch run must match to be resumed: the schedule depends on the
// rank count and the clusters.
inline std::map<std::string, std::string> data_identity(const cli::args& a, int ranks,
                                                        const parallel::data_options& dopt) {
    return {{"strategy_family", "data"},
            {"ranks", std::to_string(ranks)},
            {"clusters", std::to_string(dopt.clusters)},
            {"clusters_per_batch", std::to_string(dopt.clusters_per_batch)},
            {"accumulate", std::to_string(dopt.accumulate)},
            {"partition", a.has("partition-file") ? "file:" + a.get("partition-file", "") : a.get("partition", "metis")}};
}

// The run's first line, up to the open parenthesis's contents; the caller closes it.
template <class B, class V, class Comm>
void print_data_banner(const run_context<B, V, Comm>& ctx, const parallel::data_options& dopt) {
    std::printf("%s: %d nodes, %zu non-zeros, %zu features, %d classes; backend %s%s%s, %s, strategy %s "
                "(%d clusters, %d per batch",
                ctx.ds.name.c_str(), ctx.ds.num_nodes(), ctx.adjacency.nnz(), ctx.ds.features.cols(),
                ctx.ds.num_classes, B::name(), ctx.device.empty() ? "" : " on ", ctx.device.c_str(),
                sizeof(V) == 4 ? "float" : "double", ctx.strategy_name.c_str(), dopt.clusters, dopt.clusters_per_batch);
}

// Cluster-GCN on every rank of ctx.comm with the clusters given (the same on every rank),
// its figures into the context: the graph, its normalised copy, the largest batch (one is
// held at a time) and the cluster lists; the whole features and the largest batch's rows
// of them (on a device backend those sit in its memory, which device_peak_bytes counts).
template <class B, class V, class Comm>
void train_cluster_batches(run_context<B, V, Comm>& ctx, const std::vector<int>& cluster_of,
                           const parallel::data_options& dopt, const train::trainer_options& to) {
    ctx.mine.owned = double(ctx.ds.num_nodes());
    train::return_free_memory();  // what set-up freed, before training's peak
    parallel::data_report r;
    ctx.res = parallel::train_clusters<B, V>(ctx.comm, ctx.ds, ctx.adjacency, cluster_of, dopt, ctx.model, ctx.opt,
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
