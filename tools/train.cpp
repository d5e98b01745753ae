// mixgcn-train: trains a GCN on a dataset folder or a generated graph and reports
// per-epoch metrics, the test accuracy at the best validation epoch, time and memory.
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/reference/backend.hpp"
#include "train_host.hpp"
#ifdef MIXGCN_TRAIN_WITH_CUDA
#include "train_cuda.hpp"
#endif
#ifdef MIXGCN_HAS_KOKKOS
#include "mixgcn/backend/kokkos/backend.hpp"
#endif

namespace {

using namespace mixgcn;
using train_tool::run_on_ranks;

constexpr const char* usage = R"(usage: mixgcn-train [flags]

Trains a graph convolutional network (Kipf & Welling) and reports the test accuracy at
the epoch of best validation accuracy. Without --data it trains on a generated graph.

data:
  --data DIR              dataset folder (edges, features, labels, split; or OGB's raw layout; see
                          docs/data-formats.md)
  --data-split NAME       OGB layout: the folder under split/ to use (default: the only one)
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
  --order auto|none|metis|rcm|degree   the node numbering the full-graph strategies train
                          in, for the aggregation's locality (docs/kernels.md); logits,
                          embeddings and dropout masks keep the loaded ids, so only
                          rounding changes. auto: metis when METIS is built and the graph
                          has >= 65536 nodes, else none; with --backend cuda, none
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
  --strategy single|graph|feature|mixture|data|pipeline|auto
                          auto: the planner (mixgcn-plan) picks from this graph; single
                          process; graph: rows partitioned over ranks with ghost
                          nodes; feature: whole graph on every rank, feature columns
                          split; mixture (MixGCN): aggregation column-split, dense update
                          row-split, an all-to-all between; data: Cluster-GCN batches per
                          rank with gradients all-reduced; pipeline: the layers cut
                          into stages on consecutive ranks, cluster micro-batches through
                          them in 1F1B order (docs/mixture.md, docs/pipeline.md)
  --chunks K              mixture: column chunks pipelined per layout switch (default 1)
  --clusters N --clusters-per-batch K   data, pipeline: clusters of the graph (40), per batch (10)
  --accumulate K          data: K batches per rank per step, gradients summed, one
                          all-reduce (one step of their union; default 1)
  --stages S              pipeline: stages (default 2; ranks = replicas x S; --layers >= S);
                          layer ranges balance the predicted cost per stage
  --micro-batches M       pipeline: cluster batches per step and replica (default 4)
  --partition block|random|spectral|metis|fennel|ptscotch   rows to ranks (graph, and the
                          row blocks of feature/mixture) or nodes to clusters (data);
                          default metis (ptscotch: PT-Scotch, and fennel: streaming, also
                          over a partitioned load)
  --partition-file FILE   owners from a file (one rank per line; see mixgcn-partition)
  --load whole|partitioned   whole (default): every rank reads the whole dataset;
                          partitioned: each rank reads only its share of a --data folder
                          of .npy parts and holds only its rows (--strategy graph; owners
                          from --partition range, the default: the rows each rank reads,
                          ptscotch: PT-Scotch over those rows, fennel: streaming Fennel
                          over those rows, or --partition-file;
                          docs/graph-parallel.md)
  --balance on|off        graph, mixture: re-cut ownership between epochs when the
                          slowest rank's busy time exceeds the mean by the threshold, with
                          row-cost shares (and mixture's column slices) proportional to
                          measured speed (--partition block, random, metis or fennel;
                          docs/balance.md). Default off
  --balance-threshold X   max/mean busy ratio that triggers a re-cut (default 1.10)
  --balance-patience K    consecutive epochs over the threshold before a re-cut (default 2)
  --debug-slow-rank R --debug-slow-factor F   emulate rank R being F times slower (it
                          waits (F-1) x its busy time each epoch); for tests and bench
  --comm local|mpi|gloo   communicator (default: local for single; otherwise gloo when
                          a launcher other than MPI's started the ranks (torchrun, srun
                          without PMI, MIXGCN_RANK) and Gloo is built, else mpi); Gloo
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
  --trace FILE            write a timeline of every rank (Chrome trace JSON: open it in
                          ui.perfetto.dev or chrome://tracing; docs/profiling.md)
  --quiet                 print only the final summary
  --help
)";

struct config {
    cli::args* a;
    std::string data, generate, backend, precision;
};

// The table of instantiated configurations: run-time flags pick a compile-time pipeline.
template <class V>
int dispatch_backend(const cli::args& a, int& argc, char**& argv) {
    const auto b = a.choice("backend", "host", {"host", "reference", "kokkos", "cuda"});
    if (b != "cuda" && (a.has("tf32") || a.has("device")))
        throw cli::usage_error(std::string("flags --tf32 and --device apply to --backend cuda, not ") + b);
    if (b == "cuda") {
#ifdef MIXGCN_TRAIN_WITH_CUDA
        const auto comm_kind = a.choice("comm", "local", {"local", "mpi", "gloo"});
        const auto strategy = a.get("strategy", "single");
        if (comm_kind == "local" && strategy != "single" && strategy != "data" && strategy != "pipeline")
            throw cli::usage_error("--backend cuda in one process (--comm local) trains --strategy single, data or "
                                   "pipeline; graph, feature and mixture need several ranks (--comm mpi or gloo)");
        if (comm_kind != "local" && strategy != "graph" && strategy != "feature" && strategy != "mixture" &&
            strategy != "data" && strategy != "pipeline")
            throw cli::usage_error("--backend cuda on several ranks trains --strategy graph, feature, mixture, data "
                                   "or pipeline, not " + strategy + " (single runs in one process, --comm local)");
        const auto partitioner = [&a](const auto& adjacency, int parts) {
            return train_tool::partition_by_flags(a, adjacency, parts);
        };
        const auto recut = [&a](const auto& adjacency, int parts) { return train_tool::balance_recut(a, adjacency, parts); };
        const train_tool::host_side<float> host_f32{partitioner, train_tool::host_node_orderer<float>(), recut};
        const train_tool::host_side<double> host_f64{partitioner, train_tool::host_node_orderer<double>(), recut};
        return train_tool::run_cuda(
            a, &argc, &argv, sizeof(V) == 8,
            [&a](std::uint64_t nodes, std::uint64_t nnz, const nn::model_options& mo, std::size_t value_bytes,
                 double free_bytes, const std::string& gpu, int ranks, const std::string& strategy_name) {
                const auto p = parallel::plan::problem_for(nodes, nnz, mo, ranks, value_bytes);
                train_tool::check_memory(a, p, strategy_name, free_bytes,
                                         "free memory of the GPU (" + gpu + "); --memory-limit SIZE or off overrides");
            },
            host_f32, host_f64);
#else
        throw cli::usage_error("flag --backend: cuda was not built into mixgcn-train (MIXGCN_WITH_CUDA off or nvcc "
                               "not found)");
#endif
    }
    if (b == "reference") return run_on_ranks<backend::reference, V>(a, &argc, &argv);
    if (b == "kokkos") {
#ifdef MIXGCN_HAS_KOKKOS
        backend::kokkos_scope scope;
        return run_on_ranks<backend::kokkos<Kokkos::DefaultHostExecutionSpace>, V>(a, &argc, &argv);
#else
        throw cli::usage_error("flag --backend: kokkos was not found when mixgcn-train was built (MIXGCN_WITH_KOKKOS)");
#endif
    }
    return run_on_ranks<backend::host, V>(a, &argc, &argv);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const cli::args a(argc, argv,
                          {"data", "data-split", "generate", "nodes", "avg-degree", "classes", "homophily", "features", "scale",
                           "edge-factor", "graph-seed", "export-dataset", "feature-norm", "normalization", "layers",
                           "hidden", "epochs", "lr", "weight-decay", "dropout", "optimizer", "patience", "seed",
                           "precision", "backend", "threads", "checkpoint", "checkpoint-every", "resume", "json",
                           "strategy", "partition", "partition-file", "comm", "clusters", "clusters-per-batch", "device",
                           "chunks", "comm-timeout", "memory-limit", "trace", "order", "load", "balance", "balance-threshold",
                           "balance-patience", "debug-slow-rank", "debug-slow-factor", "accumulate", "stages", "micro-batches"},
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
