// mixgcn-bench-scaling: graph-parallel training (parallel::train_graph_parallel) on a
// generated SBM graph, once per partitioner, on however many ranks mpirun started.
// Prints per partitioner: epoch time, bytes per rank and epoch, halo sizes, time in
// communication vs. compute, memory per rank; and writes the same as JSON.
//
//   for P in 1 2 4; do mpirun --oversubscribe -np $P build/bench/mixgcn-bench-scaling
//       --json scaling-P$P.json; done          (one line)
//
// Options: --nodes N (50000) --avg-degree D (40: N*D/2 = 1M undirected edges)
//          --features F (64) --hidden H (64) --classes C (8) --epochs E (5)
//          --threads T (OpenMP threads per rank, 1) --methods block,random,spectral,metis
//          --json FILE
// Every rank generates the same graph, keeps only its own feature rows (the form a
// partitioned loader produces) and frees the rest before training.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "mixgcn/backend/host.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/partition.hpp"
#include "mixgcn/train/json_writer.hpp"
#include "mixgcn/train/memory.hpp"

using namespace mixgcn;

namespace {

using V = float;
using B = backend::host;

struct options {
    std::int64_t nodes = 50000;
    double avg_degree = 40;
    std::int64_t features = 64, hidden = 64, classes = 8;
    int epochs = 5, threads = 1;
    std::vector<std::string> methods{"block", "random", "spectral", "metis"};
    std::string json;
};

options parse(int argc, char** argv) {
    options o;
    std::map<std::string, std::string> kv;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        require(a.rfind("--", 0) == 0 && i + 1 < argc, "mixgcn-bench-scaling: expected '--option value', got '", a,
                "'");
        kv[a.substr(2)] = argv[++i];
    }
    auto num = [&](const char* k, auto& v) {
        if (auto it = kv.find(k); it != kv.end()) {
            char* end = nullptr;
            const double x = std::strtod(it->second.c_str(), &end);
            require(end && *end == 0 && x > 0, "mixgcn-bench-scaling: --", k, " needs a positive number, got '",
                    it->second, "'");
            v = static_cast<std::remove_reference_t<decltype(v)>>(x);
            kv.erase(it);
        }
    };
    num("nodes", o.nodes);
    num("avg-degree", o.avg_degree);
    num("features", o.features);
    num("hidden", o.hidden);
    num("classes", o.classes);
    num("epochs", o.epochs);
    num("threads", o.threads);
    if (auto it = kv.find("methods"); it != kv.end()) {
        o.methods.clear();
        std::string s = it->second + ",";
        for (std::size_t p; (p = s.find(',')) != std::string::npos; s.erase(0, p + 1))
            if (p) o.methods.push_back(s.substr(0, p));
        kv.erase(it);
    }
    if (auto it = kv.find("json"); it != kv.end()) {
        o.json = it->second;
        kv.erase(it);
    }
    require(kv.empty(), "mixgcn-bench-scaling: unknown option --", kv.empty() ? "" : kv.begin()->first);
    return o;
}

std::vector<int> partition_with(const std::string& m, const storage::csr<index_t, V>& a, int parts) {
    if (m == "block") return partition::block{}.partition(a, parts);
    if (m == "random") return partition::random{}.partition(a, parts);
    if (m == "spectral") return partition::spectral{}.partition(a, parts);
#ifdef MIXGCN_HAS_METIS
    if (m == "metis") return partition::metis{}.partition(a, parts);
#endif
    throw invalid_argument("mixgcn-bench-scaling: unknown or unavailable partitioner '" + m + "'");
}

// Per-rank figures gathered to rank 0, in this order.
enum field : std::size_t {
    f_owned, f_halo, f_sent, f_received, f_comm, f_compute, f_graph, f_features, f_buffers, f_activations,
    f_parameters, f_total, f_rss, f_count
};

struct row {
    std::string method;
    double partition_seconds = 0, epoch_seconds = 0, test_acc = 0;
    std::int64_t total_halo = 0, max_halo = 0, cut = 0;
    std::vector<double> ranks;  // f_count per rank
};

template <class Comm>
int run(Comm& comm, const options& o) {
    const int P = comm.size(), me = comm.rank();
#ifdef _OPENMP
    omp_set_num_threads(o.threads);
#endif
    graph::sbm_options so;
    so.nodes = o.nodes;
    so.avg_degree = o.avg_degree;
    so.features = o.features;
    so.classes = static_cast<std::int32_t>(o.classes);
    so.seed = 7;
    const auto full = graph::generate_sbm<V>(so);
    const auto adjacency = graph::build_adjacency<index_t, V>(full.edges);
    if (me == 0)
        std::printf("SBM: %lld nodes, %zu non-zeros (%zu undirected edges), %lld features, hidden %lld, %d rank(s), "
                    "%d thread(s) per rank, %d epochs\n",
                    static_cast<long long>(o.nodes), adjacency.nnz(), adjacency.nnz() / 2,
                    static_cast<long long>(o.features), static_cast<long long>(o.hidden), P, o.threads, o.epochs);
    std::vector<row> rows;
    for (const auto& m : o.methods) {
        row r;
        r.method = m;
        std::vector<std::int32_t> owner(static_cast<std::size_t>(adjacency.rows));
        if (me == 0) {
            const auto t0 = std::chrono::steady_clock::now();
            const auto part = partition_with(m, adjacency, P);
            r.partition_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::copy(part.begin(), part.end(), owner.begin());
            const auto q = partition::evaluate(adjacency, std::span<const int>(part), P);
            r.total_halo = q.total_halo;
            r.max_halo = q.max_halo;
            r.cut = q.edge_cut;
        }
        comm.broadcast(std::span<std::int32_t>(owner), 0);
        const std::vector<int> own(owner.begin(), owner.end());
        // This rank's rows only, ascending by global id.
        const auto mine = full.owned_rows(own, me);
        nn::model_options mo;
        mo.hidden = static_cast<std::size_t>(o.hidden);
        train::trainer_options to;
        to.epochs = o.epochs;
        parallel::graph_report rep;
        const auto res = parallel::train_graph_parallel<B, V>(comm, mine, own, mo, nn::optimizer_options{}, to, &rep);
        r.epoch_seconds = res.epoch_time_median();
        r.test_acc = res.test_acc;
        const double E = double(o.epochs);
        std::vector<double> fig(f_count);
        fig[f_owned] = double(rep.owned_nodes);
        fig[f_halo] = double(rep.halo_nodes);
        fig[f_sent] = double(rep.bytes_sent) / E;
        fig[f_received] = double(rep.bytes_received) / E;
        fig[f_comm] = rep.comm_seconds / E;
        fig[f_compute] = rep.compute_seconds / E;
        fig[f_graph] = double(rep.graph_bytes);
        fig[f_features] = double(rep.feature_bytes);
        fig[f_buffers] = double(rep.buffer_bytes);
        fig[f_activations] = double(rep.activation_bytes);
        fig[f_parameters] = double(rep.parameter_bytes);
        fig[f_total] = double(rep.total_bytes());
        fig[f_rss] = double(train::peak_rss_bytes());
        r.ranks.resize(f_count * std::size_t(P));
        comm.all_gather(std::span<const double>(fig), std::span<double>(r.ranks));
        rows.push_back(std::move(r));
    }
    if (me != 0) return 0;

    auto max_of = [&](const row& r, field f) {
        double m = 0;
        for (int p = 0; p < P; ++p) m = std::max(m, r.ranks[std::size_t(p) * f_count + f]);
        return m;
    };
    auto sum_of = [&](const row& r, field f) {
        double s = 0;
        for (int p = 0; p < P; ++p) s += r.ranks[std::size_t(p) * f_count + f];
        return s;
    };
    const double MiB = 1048576.0;
    std::printf("\n%2s %-9s %8s %9s %10s %9s %12s %12s %8s %8s %9s %9s %9s\n", "P", "partition", "part s", "epoch ms",
                "halo total", "halo max", "MiB sent/ep", "sent/(halo)", "comm ms", "comp ms", "mem MiB", "halo MiB",
                "RSS MiB");
    for (const auto& r : rows) {
        // Bytes sent per epoch over all ranks divided by halo rows x sizeof(value): the
        // summed width of the sparse passes of one epoch (each moves the halo once).
        const double widths = r.total_halo ? sum_of(r, f_sent) / (double(r.total_halo) * sizeof(V)) : 0.0;
        std::printf("%2d %-9s %8.2f %9.1f %10lld %9lld %12.2f %12.1f %8.1f %8.1f %9.1f %9.1f %9.1f\n", P,
                    r.method.c_str(), r.partition_seconds, r.epoch_seconds * 1e3, static_cast<long long>(r.total_halo),
                    static_cast<long long>(r.max_halo), max_of(r, f_sent) / MiB, widths, max_of(r, f_comm) * 1e3,
                    max_of(r, f_compute) * 1e3, max_of(r, f_total) / MiB, max_of(r, f_buffers) / MiB,
                    max_of(r, f_rss) / MiB);
    }
    std::printf("(sent/(halo): bytes sent per epoch / (total halo x %zu B) = summed width of the epoch's halo "
                "exchanges; maxima over ranks)\n",
                sizeof(V));
    if (!o.json.empty()) {
        std::ofstream os(o.json);
        require(bool(os), "mixgcn-bench-scaling: cannot write ", o.json);
        train::json_writer j(os);
        j.begin_object();
        j.field("ranks", P).field("threads_per_rank", o.threads).field("nodes", o.nodes);
        j.field("nonzeros", adjacency.nnz()).field("features", o.features).field("hidden", o.hidden);
        j.field("epochs", o.epochs).field("value", "float32");
        j.key("runs").begin_array();
        const char* names[f_count] = {"owned_nodes",      "halo_nodes",     "bytes_sent_per_epoch",
                                      "bytes_received_per_epoch", "comm_seconds_per_epoch",
                                      "compute_seconds_per_epoch", "graph_bytes", "feature_bytes", "buffer_bytes",
                                      "activation_bytes", "parameter_bytes", "total_bytes", "peak_rss_bytes"};
        for (const auto& r : rows) {
            j.begin_object();
            j.field("partition", r.method).field("partition_seconds", r.partition_seconds);
            j.field("epoch_time_median_s", r.epoch_seconds).field("test_accuracy", r.test_acc);
            j.field("total_halo", r.total_halo).field("max_halo", r.max_halo).field("edge_cut", r.cut);
            j.key("per_rank").begin_array();
            for (int p = 0; p < P; ++p) {
                j.begin_object();
                j.field("rank", p);
                for (std::size_t f = 0; f < f_count; ++f) j.field(names[f], r.ranks[std::size_t(p) * f_count + f]);
                j.end_object();
            }
            j.end_array();
            j.end_object();
        }
        j.end_array();
        j.end_object();
        os << "\n";
        std::printf("JSON: %s\n", o.json.c_str());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef MIXGCN_HAS_MPI
    comm::mpi::environment env(argc, argv);
    comm::mpi c;
#else
    comm::local c;
#endif
    try {
        const auto o = parse(argc, argv);
        return comm::run_guarded(c, [&] { return run(c, o); });
    } catch (const std::exception& e) {  // option errors: every rank parses the same line
        if (c.rank() == 0) std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
}
