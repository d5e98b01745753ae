// mixgcn-train: trains a GCN on a dataset folder or a generated graph and reports
// per-epoch metrics, the test accuracy at the best validation epoch, time and memory.
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/parallel/cost.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/full_graph.hpp"
#include "mixgcn/parallel/plan.hpp"
#include "mixgcn/partition.hpp"
#include "memory_check.hpp"
#include "train_run.hpp"
#ifdef MIXGCN_TRAIN_WITH_CUDA
#include "train_cuda.hpp"
#endif
#ifdef MIXGCN_HAS_KOKKOS
#include "mixgcn/backend/kokkos/backend.hpp"
#endif

namespace {

using namespace mixgcn;

constexpr const char* usage = R"(usage: mixgcn-train [flags]

Trains a graph convolutional network (Kipf & Welling) and reports the test accuracy at
the epoch of best validation accuracy. Without --data it trains on a generated graph.

data:
  --data DIR              dataset folder (edges, features, labels, split; see docs/data-formats.md)
  --generate sbm|rmat     generated graph when --data is absent (default sbm)
  --nodes N               sbm: nodes (default 10000)
  --avg-degree D          sbm: mean degree (default 10)
  --classes C             classes (default sbm 8, rmat 16)
  --homophily H           sbm: fraction of intra-class edges (default 0.75)
  --features F            feature width (default 128)
  --scale S               rmat: log2 of the node count, 10..24 (default 14)
  --edge-factor E         rmat: edges per node (default 16)
  --graph-seed S          generator seed (default 1)
  --export-dataset DIR    write the dataset (npy files) to DIR before training
  --feature-norm auto|row|none   row-normalise features (auto: when all are >= 0)
  --normalization fused|edge-weights   how D^-1/2 (A+I) D^-1/2 is applied (default fused)
model and training:
  --layers L              GCN layers (default 2)
  --hidden H              hidden width (default 16)
  --epochs E              epochs (default 200)
  --lr X                  learning rate (default 0.01)
  --weight-decay X        L2 on the first layer (default 5e-4)
  --decay-all-layers      apply the weight decay to every layer
  --no-eval-cache         recompute the first layer's Â·X in every evaluation instead of
                          keeping it: one N x F matrix less, one more sparse pass per epoch
  --dropout P             dropout probability (default 0.5)
  --optimizer adam|sgd    (default adam)
  --patience K            stop after K epochs without better validation accuracy (default off)
  --seed S                seed of initialisation and dropout (default 42)
  --precision float|double
  --backend host|reference|kokkos|cuda   execution backend (default host); cuda trains
                          on one GPU (--strategy single) with --normalization edge-weights
                          as its default
  --device N              cuda: the GPU to use (default: the launcher's local rank modulo
                          the visible GPUs, else 0)
  --tf32                  cuda: TF32 tensor-core GEMMs (about 10 mantissa bits; default off)
  --threads T             OpenMP threads (default: all cores)
distribution (several processes: mpirun -np P mixgcn-train --strategy graph ...):
  --strategy single|graph|feature|mixture|data|auto
                          auto: the planner (mixgcn-plan) picks from this graph; single
                          process; graph: rows partitioned over ranks with ghost
                          nodes; feature: whole graph on every rank, feature columns
                          split; mixture (MixGCN): aggregation column-split, dense update
                          row-split, an all-to-all between; data: Cluster-GCN batches per
                          rank with gradients all-reduced (docs/mixture.md)
  --chunks K              mixture: column chunks pipelined per layout switch (default 1)
  --clusters N --clusters-per-batch K   data: clusters of the graph (40), per batch (10)
  --partition block|random|spectral|metis   rows to ranks (graph, and the row blocks of
                          feature/mixture) or nodes to clusters (data); default metis
  --partition-file FILE   owners from a file (one rank per line; see mixgcn-partition)
  --comm local|mpi|gloo   communicator (default: local for single, mpi otherwise); Gloo
                          ranks take rank and size from the launcher (MIXGCN_RANK and
                          MIXGCN_WORLD_SIZE, mpirun, srun, torchrun) and rendezvous in the
                          MIXGCN_GLOO_STORE folder, or through MPI when started by mpirun
  --comm-timeout S        gloo: seconds any one operation may wait for a peer (default:
                          MIXGCN_GLOO_TIMEOUT, else 60 s until the first epoch ends, then
                          max(60 s, 10 x that epoch's time))
checkpoints and output:
  --checkpoint FILE --checkpoint-every K   write a checkpoint every K epochs (rank 0
                          writes one file; distributed ranks must all see it to resume)
  --resume FILE           continue from a checkpoint (bit for bit the uninterrupted run;
                          --strategy data only on the rank count that wrote it)
  --json FILE             write config, dataset stats, per-epoch metrics, timing, memory
  --memory-limit SIZE|off per-rank memory the run may use (e.g. 8G; default: this host's
                          available memory shared by its ranks, or the GPU's free memory):
                          a run the planner predicts above it stops before allocating
  --quiet                 print only the final summary
  --help
)";

struct config {
    cli::args* a;
    std::string data, generate, backend, precision;
};

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

template <class V, class Comm>
std::vector<int> obtain_owners(const cli::args& a, Comm& comm, const storage::csr<index_t, V>& adjacency, int parts) {
    if (a.has("partition-file")) return partition::read_partition_file(a.get("partition-file", ""), adjacency.rows, parts);
    const auto method = a.choice("partition", "metis", {"block", "random", "spectral", "metis"});
    std::vector<std::int32_t> owner(static_cast<std::size_t>(adjacency.rows));
    if (comm.rank() == 0) {  // one rank partitions, everyone receives the same owners
        std::vector<int> o;
        const auto seed = a.number<std::uint64_t>("seed", 42);
        if (method == "block") o = partition::block{}.partition(adjacency, parts);
        if (method == "random") o = partition::random{seed}.partition(adjacency, parts);
        if (method == "spectral") o = partition::spectral{}.partition(adjacency, parts);
        if (method == "metis") o = partition::metis{}.partition(adjacency, parts);
        std::copy(o.begin(), o.end(), owner.begin());
    }
    comm.broadcast(std::span<std::int32_t>(owner), 0);
    return {owner.begin(), owner.end()};
}

// The host backends' strategies. Full-graph ones (single, graph, feature, mixture) come
// from one factory (parallel::with_strategy): the whole operator, an owner vector and the
// dataset in, the strategy and its inputs out. `data` trains Cluster-GCN batches per rank.
template <class B, class V, class Comm>
void train_on_host(train_tool::run_context<B, V, Comm>& ctx, const tool_hooks& hooks) {
    const cli::args& a = ctx.a;
    Comm& comm = ctx.comm;
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
    if (ctx.strategy_name == "data") {
        parallel::data_options dopt;
        dopt.clusters = a.number<int>("clusters", dopt.clusters);
        dopt.clusters_per_batch = a.number<int>("clusters-per-batch", dopt.clusters_per_batch);
        dopt.seed = ctx.seed;
        require(dopt.clusters >= 1, "--clusters must be >= 1, got ", dopt.clusters);
        const auto cluster_of = obtain_owners<V>(a, comm, adjacency, dopt.clusters);
        {
            auto p = parallel::plan::problem_for(std::uint64_t(adjacency.rows), adjacency.nnz(), ctx.model.options(),
                                                 comm.size(), sizeof(V));
            p.clusters = dopt.clusters;
            p.clusters_per_batch = dopt.clusters_per_batch;
            // The dataset's features are loaded already; the strategy's are counted on top.
            train_tool::check_host_memory(a, comm, p, "data", double(ds.features.bytes()));
        }
        parallel::data_report r;
        if (!ctx.quiet)
            std::printf("%s: %d nodes, %zu non-zeros, %zu features, %d classes; backend %s, %s, strategy data "
                        "(%d clusters, %d per batch) on %d rank(s)\n",
                        ds.name.c_str(), ds.num_nodes(), adjacency.nnz(), ds.features.cols(), ds.num_classes, B::name(),
                        sizeof(V) == 4 ? "float" : "double", dopt.clusters, dopt.clusters_per_batch, comm.size());
        const auto to = tool_options(
            ctx.to, hooks,
            {{"strategy_family", "data"},
             {"ranks", std::to_string(comm.size())},
             {"clusters", std::to_string(dopt.clusters)},
             {"clusters_per_batch", std::to_string(dopt.clusters_per_batch)},
             {"partition", a.has("partition-file") ? "file:" + a.get("partition-file", "") : a.get("partition", "metis")}});
        ctx.res = parallel::train_clusters<B, V>(comm, ds, adjacency, cluster_of, dopt, ctx.model, ctx.opt, to, &r);
        ctx.mem.graph = 2 * adjacency.bytes();  // the graph and its normalised copy for evaluation
        ctx.mem.features = ds.features.bytes();
        ctx.mine.bytes_sent = double(r.bytes_sent);
        ctx.mine.bytes_received = double(r.bytes_received);
        ctx.mine.comm_seconds = r.comm_seconds;
        ctx.mine.compute_seconds = r.compute_seconds;
        ctx.mine.owned = double(ds.num_nodes());
        return;
    }
    parallel::strategy_options so;
    so.kind = parallel::parse_strategy_kind(ctx.strategy_name);
    so.chunks = a.number<int>("chunks", 1);
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
    const auto op = graph::gcn_normalize<V>(adjacency, ctx.mode);
    parallel::strategy_report r;
    const auto to = tool_options(ctx.to, hooks, {{"strategy_family", "full-graph"}});
    // ctx with the options above: the same training call, the tool's options.
    train_tool::run_context<B, V, Comm> inner{ctx.a,     ctx.comm, ctx.quiet, ctx.strategy_name, ctx.ds,
                                               ctx.adjacency, ctx.mode, ctx.model, ctx.opt,       to,
                                               ctx.seed,  {},       {},        {},                ctx.device,
                                               ctx.device_peak_bytes};
    parallel::with_strategy<B, V>(comm, op, owner, ds, so, [&](auto& strategy, const parallel::strategy_inputs<V>& in) {
        inner.train_with(strategy, in.data());
        ctx.res = std::move(inner.res);
        r = strategy.report();
        ctx.mem.features = in.bytes();
    });
    // The cost model's bytes for this run, beside the measured ones.
    const auto predicted = parallel::cost::predict(so, parallel::cost::model_shape::of(ctx.model.options()), layout,
                                                   comm.rank(), int(ctx.res.history.size()) - ctx.res.resumed_from_epoch,
                                                   sizeof(V));  // the epochs this run trained (not the resumed ones)
    ctx.mem.graph = so.kind == parallel::strategy_kind::single ? op.bytes() : r.graph_bytes;
    ctx.mem.communication = r.buffer_bytes;
    auto& f = ctx.mine;
    f.bytes_sent = double(r.bytes_sent);
    f.bytes_received = double(r.bytes_received);
    f.predicted_sent = double(predicted.total().sent);
    f.predicted_received = double(predicted.total().received);
    f.comm_seconds = r.comm_seconds;
    f.compute_seconds = r.compute_seconds;
    f.owned = double(r.owned_nodes);
    f.halo = double(r.halo_nodes);
    f.layers.assign(3 * static_cast<std::size_t>(ctx.model.options().layers), 0.0);
    for (std::size_t l = 0; l < r.layers.size() && 3 * l + 2 < f.layers.size(); ++l) {
        f.layers[3 * l] = double(r.layers[l].exchanges);
        f.layers[3 * l + 1] = r.layers[l].in_flight_seconds;
        f.layers[3 * l + 2] = r.layers[l].blocked_seconds;
    }
}

// Starts the communicator the flags ask for; a rank that fails takes every rank down
// with its message (comm::run_guarded) instead of leaving the others waiting.
template <class B, class V>
int run_on_ranks(const cli::args& a, int& argc, char**& argv) {
    const bool distributed = a.get("strategy", "single") != "single";
    const auto kind = a.choice("comm", distributed ? "mpi" : "local", {"local", "mpi", "gloo"});
    if (a.has("comm-timeout") && kind != "gloo")
        throw cli::usage_error("flag --comm-timeout applies to --comm gloo, not " + kind +
                               (kind == "mpi" ? " (MPI has no operation timeout; mpirun ends the job when a rank dies)" : ""));
    if (kind == "mpi") {
#ifdef MIXGCN_HAS_MPI
        comm::mpi::environment env(argc, argv);
        comm::mpi c;
        return comm::run_guarded(c, [&] {
            return train_tool::run<B, V>(a, c, [](auto& ctx) { train_on_host<B, V, comm::mpi>(ctx, {}); });
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
            return train_tool::run<B, V>(a, c, [&](auto& ctx) { train_on_host<B, V, comm::gloo>(ctx, hooks); });
        });
#else
        throw cli::usage_error("flag --comm: gloo was not found when mixgcn-train was built (MIXGCN_WITH_GLOO)");
#endif
    }
    comm::local c;
    return train_tool::run<B, V>(a, c, [](auto& ctx) { train_on_host<B, V, comm::local>(ctx, {}); });
}

// The table of instantiated configurations: run-time flags pick a compile-time pipeline.
template <class V>
int dispatch_backend(const cli::args& a, int& argc, char**& argv) {
    const auto b = a.choice("backend", "host", {"host", "reference", "kokkos", "cuda"});
    if (b != "cuda" && (a.has("tf32") || a.has("device")))
        throw cli::usage_error(std::string("flags --tf32 and --device apply to --backend cuda, not ") + b);
    if (b == "cuda") {
#ifdef MIXGCN_TRAIN_WITH_CUDA
        if (a.get("comm", "local") != "local")
            throw cli::usage_error("--backend cuda runs in one process (--comm local); the graph and data "
                                   "strategies run on the host backends");
        return train_tool::run_cuda(a, sizeof(V) == 8,
                                    [&a](std::uint64_t nodes, std::uint64_t nnz, const nn::model_options& mo,
                                         std::size_t value_bytes, double free_bytes, const std::string& gpu) {
                                        const auto p = parallel::plan::problem_for(nodes, nnz, mo, 1, value_bytes);
                                        train_tool::check_memory(a, p, "single", free_bytes,
                                                                 "free memory of the GPU (" + gpu +
                                                                     "); --memory-limit SIZE or off overrides");
                                    });
#else
        throw cli::usage_error("flag --backend: cuda was not built into mixgcn-train (MIXGCN_WITH_CUDA off or nvcc "
                               "not found)");
#endif
    }
    if (b == "reference") return run_on_ranks<backend::reference, V>(a, argc, argv);
    if (b == "kokkos") {
#ifdef MIXGCN_HAS_KOKKOS
        backend::kokkos_scope scope;
        return run_on_ranks<backend::kokkos<Kokkos::DefaultHostExecutionSpace>, V>(a, argc, argv);
#else
        throw cli::usage_error("flag --backend: kokkos was not found when mixgcn-train was built (MIXGCN_WITH_KOKKOS)");
#endif
    }
    return run_on_ranks<backend::host, V>(a, argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const cli::args a(argc, argv,
                          {"data", "generate", "nodes", "avg-degree", "classes", "homophily", "features", "scale",
                           "edge-factor", "graph-seed", "export-dataset", "feature-norm", "normalization", "layers",
                           "hidden", "epochs", "lr", "weight-decay", "dropout", "optimizer", "patience", "seed",
                           "precision", "backend", "threads", "checkpoint", "checkpoint-every", "resume", "json",
                           "strategy", "partition", "partition-file", "comm", "clusters", "clusters-per-batch", "device",
                           "chunks", "comm-timeout", "memory-limit"},
                          {"quiet", "help", "decay-all-layers", "tf32", "no-eval-cache"});
        if (a.has("help")) {
            std::fputs(usage, stdout);
            return 0;
        }
        if (a.has("threads")) {
            const int t = a.number<int>("threads", 1);
            if (t < 1) throw cli::usage_error("flag --threads: must be >= 1, got " + std::to_string(t));
#ifdef _OPENMP
            omp_set_num_threads(t);
#endif
        }
        if (a.choice("precision", "float", {"float", "double"}) == "double") return dispatch_backend<double>(a, argc, argv);
        return dispatch_backend<float>(a, argc, argv);
    } catch (const cli::usage_error& e) {
        std::fprintf(stderr, "mixgcn-train: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mixgcn-train: error: %s\n", e.what());
        return 1;
    }
}
