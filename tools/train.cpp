// mixgcn-train: trains a GCN on a dataset folder or a generated graph and reports
// per-epoch metrics, the test accuracy at the best validation epoch, time and memory.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <optional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "cli.hpp"
#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/graph/stats.hpp"
#include "mixgcn/io.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition.hpp"
#include "mixgcn/train/json_writer.hpp"
#include "mixgcn/train/memory.hpp"
#include "mixgcn/train/trainer.hpp"
#ifdef _OPENMP
#include <omp.h>
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
  --dropout P             dropout probability (default 0.5)
  --optimizer adam|sgd    (default adam)
  --patience K            stop after K epochs without better validation accuracy (default off)
  --seed S                seed of initialisation and dropout (default 42)
  --precision float|double
  --backend host|reference|kokkos   execution backend (default host)
  --threads T             OpenMP threads (default: all cores)
distribution (several processes: mpirun -np P mixgcn-train --strategy graph ...):
  --strategy single|graph|data   single process; rows partitioned over ranks with ghost
                          nodes; or Cluster-GCN batches per rank with gradients all-reduced
  --clusters N --clusters-per-batch K   data: clusters of the graph (40), per batch (10)
  --partition block|random|spectral|metis   rows to ranks (graph) or nodes to clusters (data); default metis
  --partition-file FILE   owners from a file (one rank per line; see mixgcn-partition)
  --comm local|mpi|gloo   communicator (default: local for single, mpi for graph); Gloo
                          ranks read MIXGCN_RANK, MIXGCN_WORLD_SIZE, MIXGCN_GLOO_STORE
checkpoints and output:
  --checkpoint FILE --checkpoint-every K   write a checkpoint every K epochs
  --resume FILE           continue from a checkpoint
  --json FILE             write config, dataset stats, per-epoch metrics, timing, memory
  --quiet                 print only the final summary
  --help
)";

struct config {
    cli::args* a;
    std::string data, generate, backend, precision;
};

template <class V>
dataset<V> obtain_dataset(const cli::args& a) {
    if (a.has("data")) {
        const std::filesystem::path dir = a.get("data", "");
        if (!std::filesystem::is_directory(dir)) throw io_error(dir.string(), 0, "", "dataset folder does not exist");
        return io::load_dataset<V>(dir);
    }
    const auto kind = a.choice("generate", "sbm", {"sbm", "rmat"});
    if (kind == "sbm") {
        graph::sbm_options o;
        o.nodes = a.number<std::int64_t>("nodes", o.nodes);
        o.avg_degree = a.number<double>("avg-degree", o.avg_degree);
        o.classes = a.number<std::int32_t>("classes", o.classes);
        o.homophily = a.number<double>("homophily", o.homophily);
        o.features = a.number<std::int64_t>("features", o.features);
        o.seed = a.number<std::uint64_t>("graph-seed", o.seed);
        return graph::generate_sbm<V>(o);
    }
    graph::rmat_dataset_options o;
    o.graph.scale = a.number<int>("scale", 14);
    o.graph.edge_factor = a.number<std::int64_t>("edge-factor", o.graph.edge_factor);
    o.graph.seed = a.number<std::uint64_t>("graph-seed", o.graph.seed);
    o.classes = a.number<std::int32_t>("classes", o.classes);
    o.features.width = a.number<std::int64_t>("features", o.features.width);
    return graph::generate_rmat_dataset<V>(o);
}

// Per-rank figures gathered to rank 0 for the JSON report.
struct rank_figures {
    static constexpr std::size_t count = 7;
    double bytes_sent = 0, bytes_received = 0, comm_seconds = 0, compute_seconds = 0, peak_rss = 0, owned = 0, halo = 0;
    std::array<double, count> pack() const {
        return {bytes_sent, bytes_received, comm_seconds, compute_seconds, peak_rss, owned, halo};
    }
};

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

template <class B, class V, class Comm>
int run(const cli::args& a, Comm& comm) {
    const bool lead = comm.rank() == 0;
    const bool quiet = a.has("quiet") || !lead;
    const bool tty = isatty(fileno(stdout));
    const auto strategy_name = a.choice("strategy", "single", {"single", "graph", "data"});
    if (strategy_name == "single" && comm.size() > 1)
        throw cli::usage_error("--strategy single runs on one rank, but " + std::to_string(comm.size()) +
                               " were started (use --strategy graph)");
    const auto t_load = std::chrono::steady_clock::now();
    dataset<V> ds = obtain_dataset<V>(a);
    ds.validate();
    if (a.has("export-dataset") && lead) io::save_dataset(a.get("export-dataset", ""), ds);
    // Row normalisation suits non-negative (bag-of-words) features; on signed features
    // a row sum near zero would blow the row up, so `auto` leaves those alone.
    const auto feature_norm = a.choice("feature-norm", "auto", {"auto", "row", "none"});
    const bool non_negative = std::all_of(ds.features.values().begin(), ds.features.values().end(),
                                          [](V v) { return v >= V(0); });
    if (feature_norm == "row" || (feature_norm == "auto" && non_negative)) graph::row_normalize(ds.features);
    graph::build_report report;
    const auto adjacency = graph::build_adjacency<index_t, V>(ds.edges, {}, &report);
    const auto mode = a.choice("normalization", "fused", {"fused", "edge-weights"}) == "fused"
                          ? graph::normalization_mode::fused
                          : graph::normalization_mode::edge_weights;
    const auto stats = graph::compute_degree_stats(adjacency);

    nn::model_options mo;
    mo.in = ds.features.cols();
    mo.classes = static_cast<std::size_t>(ds.num_classes);
    mo.hidden = a.number<std::size_t>("hidden", 16);
    mo.layers = a.number<int>("layers", 2);
    mo.dropout = a.number<double>("dropout", 0.5);
    mo.weight_decay = a.number<double>("weight-decay", 5e-4);
    mo.decay_all_layers = a.has("decay-all-layers");
    require(mo.weight_decay >= 0, "--weight-decay must be >= 0, got ", mo.weight_decay);
    nn::gcn_model<B, V> model(mo);
    const auto seed = a.number<std::uint64_t>("seed", 42);
    model.initialize(seed);
    nn::optimizer_options oo;
    oo.lr = a.number<double>("lr", 0.01);
    oo.kind = a.choice("optimizer", "adam", {"adam", "sgd"}) == "adam" ? nn::optimizer_kind::adam : nn::optimizer_kind::sgd;
    nn::optimizer<B, V> opt(oo);

    train::trainer_options to;
    to.epochs = a.number<int>("epochs", 200);
    to.patience = a.number<int>("patience", 0);
    to.seed = seed;
    to.checkpoint = a.get("checkpoint", "");
    to.checkpoint_every = a.number<int>("checkpoint-every", to.checkpoint.empty() ? 0 : 10);
    to.resume = a.get("resume", "");
    require(to.checkpoint_every == 0 || !to.checkpoint.empty(), "--checkpoint-every needs --checkpoint FILE");
    to.on_epoch = [&](const train::epoch_metrics& m) {
        if (quiet) return;
        std::printf("%sepoch %4d/%d  loss %.4f  train %.3f  val %.3f  %.2f ms%s", tty ? "\r" : "", m.epoch, to.epochs,
                    m.loss, m.train_acc, m.val_acc, m.seconds * 1e3, tty ? "   " : "\n");
        std::fflush(stdout);
    };

    // The strategy: the whole graph here, or this rank's rows with their halo.
    std::optional<graph::gcn_operator<index_t, V>> op;
    std::optional<parallel::graph<B, V, Comm>> part;
    dense_matrix<V> local_features;
    std::vector<std::int32_t> local_labels;
    train::local_data<V> data;
    train::train_result res;
    train::memory_breakdown mem;
    rank_figures mine;
    auto train_with = [&](auto& strategy) {
        if (!quiet)
            std::printf("%s: %d nodes, %zu non-zeros, %zu features, %d classes; backend %s, %s, strategy %s on %d rank(s)\n",
                        ds.name.c_str(), ds.num_nodes(), adjacency.nnz(), ds.features.cols(), ds.num_classes, B::name(),
                        sizeof(V) == 4 ? "float" : "double", strategy.name(), comm.size());
        train::trainer<B, V, std::remove_reference_t<decltype(strategy)>> trainer(strategy, model, opt, data, to);
        res = trainer.run();
    };
    if (strategy_name == "single") {
        op = graph::gcn_normalize<V>(adjacency, mode);
        parallel::single<B, V> strategy(*op);
        data = {ds.features.cview(), ds.labels.data(), ds.nodes_with(split_role::train), ds.nodes_with(split_role::val),
                ds.nodes_with(split_role::test)};
        train_with(strategy);
        mem.graph = op->bytes();
        mem.features = ds.features.bytes();
        mine.owned = double(ds.num_nodes());
    } else if (strategy_name == "data") {
        parallel::data_options dopt;
        dopt.clusters = a.number<int>("clusters", dopt.clusters);
        dopt.clusters_per_batch = a.number<int>("clusters-per-batch", dopt.clusters_per_batch);
        dopt.seed = seed;
        const int clusters = dopt.clusters;
        require(clusters >= 1, "--clusters must be >= 1, got ", clusters);
        const auto cluster_of = obtain_owners<V>(a, comm, adjacency, clusters);
        parallel::data_report r;
        if (!quiet)
            std::printf("%s: %d nodes, %zu non-zeros, %zu features, %d classes; backend %s, %s, strategy data "
                        "(%d clusters, %d per batch) on %d rank(s)\n",
                        ds.name.c_str(), ds.num_nodes(), adjacency.nnz(), ds.features.cols(), ds.num_classes, B::name(),
                        sizeof(V) == 4 ? "float" : "double", clusters, dopt.clusters_per_batch, comm.size());
        res = parallel::train_clusters<B, V>(comm, ds, adjacency, cluster_of, dopt, model, opt, to, &r);
        mem.graph = 2 * adjacency.bytes();  // the graph and its normalised copy for evaluation
        mem.features = ds.features.bytes();
        mine = {double(r.bytes_sent), double(r.bytes_received), r.comm_seconds, r.compute_seconds, 0,
                double(ds.num_nodes()), 0};
    } else {
        require(mode == graph::normalization_mode::fused, "--strategy graph applies the normalisation fused; drop "
                "--normalization edge-weights");
        const auto owner = obtain_owners<V>(a, comm, adjacency, comm.size());
        part.emplace(comm, adjacency, owner);
        local_features = part->local_rows(ds.features);
        local_labels = part->local_values(ds.labels);
        data = {local_features.cview(), local_labels.data(), part->local_rows_with(ds.split, split_role::train),
                part->local_rows_with(ds.split, split_role::val), part->local_rows_with(ds.split, split_role::test)};
        ds.features = dense_matrix<V>();  // the global copy goes before training starts
        train_with(*part);
        const auto r = part->report();
        mem.graph = r.graph_bytes;
        mem.features = local_features.bytes();
        mem.communication = r.buffer_bytes;
        mine = {double(r.bytes_sent), double(r.bytes_received), r.comm_seconds, r.compute_seconds, 0,
                double(r.owned_nodes), double(r.halo_nodes)};
    }
    if (!quiet && tty) std::printf("\n");
    mem.activations = model.activation_bytes();
    mem.parameters_and_optimizer = model.parameter_count() * sizeof(V) * 4;  // value, grad, two moments
    const auto peak = train::peak_rss_bytes();
    mine.peak_rss = double(peak);
    const auto packed = mine.pack();
    std::vector<double> everyone(rank_figures::count * static_cast<std::size_t>(comm.size()));
    comm.all_gather(std::span<const double>(packed), std::span<double>(everyone));
    const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
    if (!lead) return 0;
    std::printf("best validation accuracy %.4f at epoch %d; test accuracy %.4f; median epoch %.3f ms; peak RSS %.1f MiB\n",
                res.best_val_acc, res.best_val_epoch, res.test_acc, res.epoch_time_median() * 1e3, double(peak) / 1048576.0);

    if (a.has("json")) {
        const std::filesystem::path path = a.get("json", "");
        std::ofstream os(path);
        if (!os) throw io_error(path.string(), 0, "", "cannot open for writing");
        train::json_writer j(os);
        j.begin_object();
        j.key("config").begin_object();
        j.field("data", a.get("data", "generated:" + a.get("generate", "sbm")));
        j.field("backend", B::name()).field("precision", sizeof(V) == 4 ? "float" : "double");
        j.field("strategy", strategy_name).field("comm", Comm::name()).field("ranks", comm.size());
        if (strategy_name != "single")
            j.field("partition", a.has("partition-file") ? "file:" + a.get("partition-file", "") : a.get("partition", "metis"));
        j.field("layers", mo.layers).field("hidden", mo.hidden);
        j.field("epochs", to.epochs).field("lr", oo.lr).field("weight_decay", mo.weight_decay);
        j.field("dropout", mo.dropout).field("seed", seed);
#ifdef _OPENMP
        j.field("threads", omp_get_max_threads());
#else
        j.field("threads", 1);
#endif
        j.end_object();
        j.key("dataset").begin_object();
        j.field("name", ds.name).field("nodes", ds.num_nodes()).field("edges_in_file", report.input_edges);
        j.field("nonzeros", adjacency.nnz()).field("nonzeros_with_self_loops", adjacency.nnz() + stats.nodes - stats.self_loops);
        j.field("duplicates_dropped", report.duplicates_dropped).field("self_loops_dropped", report.self_loops_dropped);
        j.field("features", mo.in).field("classes", ds.num_classes);
        j.field("train", ds.nodes_with(split_role::train).size()).field("val", ds.nodes_with(split_role::val).size());
        j.field("test", ds.nodes_with(split_role::test).size());
        j.field("degree_mean", stats.mean).field("degree_max", stats.max).field("degree_median", stats.median);
        j.field("load_seconds", load_seconds);
        j.end_object();
        j.key("epochs").begin_array();
        for (const auto& m : res.history) {
            j.begin_object();
            j.field("epoch", m.epoch).field("loss", m.loss).field("train_acc", m.train_acc);
            j.field("val_acc", m.val_acc).field("seconds", m.seconds);
            j.end_object();
        }
        j.end_array();
        j.field("best_val_epoch", res.best_val_epoch).field("best_val_acc", res.best_val_acc);
        j.field("test_accuracy", res.test_acc).field("stopped_early", res.stopped_early);
        j.field("epoch_time_median_s", res.epoch_time_median()).field("peak_rss_bytes", peak);
        j.key("memory").begin_object();  // rank 0's
        j.field("graph", mem.graph).field("features", mem.features).field("activations", mem.activations);
        j.field("parameters_optimizer", mem.parameters_and_optimizer).field("communication", mem.communication);
        j.field("total", mem.total());
        j.end_object();
        j.key("ranks").begin_array();
        for (int r = 0; r < comm.size(); ++r) {
            const double* f = everyone.data() + std::size_t(r) * rank_figures::count;
            j.begin_object();
            j.field("rank", r).field("bytes_sent", std::uint64_t(f[0])).field("bytes_received", std::uint64_t(f[1]));
            j.field("comm_seconds", f[2]).field("compute_seconds", f[3]).field("peak_rss_bytes", std::uint64_t(f[4]));
            j.field("owned_nodes", std::uint64_t(f[5])).field("halo_nodes", std::uint64_t(f[6]));
            j.end_object();
        }
        j.end_array();
        j.end_object();
        os << "\n";
        if (!os) throw io_error(path.string(), 0, "", "write failed");
    }
    return 0;
}

// Starts the communicator the flags ask for; a rank that fails takes every rank down
// with its message (comm::run_guarded) instead of leaving the others waiting.
template <class B, class V>
int run_on_ranks(const cli::args& a, int& argc, char**& argv) {
    const bool distributed = a.get("strategy", "single") != "single";
    const auto kind = a.choice("comm", distributed ? "mpi" : "local", {"local", "mpi", "gloo"});
    if (kind == "mpi") {
#ifdef MIXGCN_HAS_MPI
        comm::mpi::environment env(argc, argv);
        comm::mpi c;
        return comm::run_guarded(c, [&] { return run<B, V>(a, c); });
#else
        throw cli::usage_error("flag --comm: mpi was not found when mixgcn-train was built (MIXGCN_WITH_MPI)");
#endif
    }
    if (kind == "gloo") {
#ifdef MIXGCN_HAS_GLOO
        comm::gloo c;
        return comm::run_guarded(c, [&] { return run<B, V>(a, c); });
#else
        throw cli::usage_error("flag --comm: gloo was not found when mixgcn-train was built (MIXGCN_WITH_GLOO)");
#endif
    }
    comm::local c;
    return run<B, V>(a, c);
}

// The table of instantiated configurations: run-time flags pick a compile-time pipeline.
template <class V>
int dispatch_backend(const cli::args& a, int& argc, char**& argv) {
    const auto b = a.choice("backend", "host", {"host", "reference", "kokkos"});
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
                           "strategy", "partition", "partition-file", "comm", "clusters", "clusters-per-batch"},
                          {"quiet", "help", "decay-all-layers"});
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
