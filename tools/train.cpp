// mixgcn-train: trains a GCN on a dataset folder or a generated graph and reports
// per-epoch metrics, the test accuracy at the best validation epoch, time and memory.
#include <optional>
#include <string>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition.hpp"
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
  --device N              cuda: the GPU to use (default 0)
  --tf32                  cuda: TF32 tensor-core GEMMs (about 10 mantissa bits; default off)
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

// The host backends' strategies: the whole graph in this process, rows partitioned over
// ranks with their halo (graph), or Cluster-GCN batches per rank (data).
template <class B, class V, class Comm>
void train_on_host(train_tool::run_context<B, V, Comm>& ctx) {
    const cli::args& a = ctx.a;
    Comm& comm = ctx.comm;
    const bool quiet = ctx.quiet;
    const std::string& strategy_name = ctx.strategy_name;
    dataset<V>& ds = ctx.ds;
    const storage::csr<index_t, V>& adjacency = ctx.adjacency;
    const auto mode = ctx.mode;
    nn::gcn_model<B, V>& model = ctx.model;
    nn::optimizer<B, V>& opt = ctx.opt;
    const train::trainer_options& to = ctx.to;
    const std::uint64_t seed = ctx.seed;
    train::train_result& res = ctx.res;
    train::memory_breakdown& mem = ctx.mem;
    train_tool::rank_figures& mine = ctx.mine;
    std::optional<graph::gcn_operator<index_t, V>> op;
    std::optional<parallel::graph<B, V, Comm>> part;
    dense_matrix<V> local_features;
    std::vector<std::int32_t> local_labels;
    train::local_data<V> data;
    if (strategy_name == "single") {
        op = graph::gcn_normalize<V>(adjacency, mode);
        parallel::single<B, V> strategy(*op);
        data = {ds.features.cview(), ds.labels.data(), ds.nodes_with(split_role::train), ds.nodes_with(split_role::val),
                ds.nodes_with(split_role::test)};
        ctx.train_with(strategy, data);
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
        ctx.train_with(*part, data);
        const auto r = part->report();
        mem.graph = r.graph_bytes;
        mem.features = local_features.bytes();
        mem.communication = r.buffer_bytes;
        mine = {double(r.bytes_sent), double(r.bytes_received), r.comm_seconds, r.compute_seconds, 0,
                double(r.owned_nodes), double(r.halo_nodes)};
    }
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
        return comm::run_guarded(c, [&] { return train_tool::run<B, V>(a, c, train_on_host<B, V, decltype(c)>); });
#else
        throw cli::usage_error("flag --comm: mpi was not found when mixgcn-train was built (MIXGCN_WITH_MPI)");
#endif
    }
    if (kind == "gloo") {
#ifdef MIXGCN_HAS_GLOO
        comm::gloo c;
        return comm::run_guarded(c, [&] { return train_tool::run<B, V>(a, c, train_on_host<B, V, decltype(c)>); });
#else
        throw cli::usage_error("flag --comm: gloo was not found when mixgcn-train was built (MIXGCN_WITH_GLOO)");
#endif
    }
    comm::local c;
    return train_tool::run<B, V>(a, c, train_on_host<B, V, comm::local>);
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
        return train_tool::run_cuda(a, sizeof(V) == 8);
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
                           "strategy", "partition", "partition-file", "comm", "clusters", "clusters-per-batch", "device"},
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
