// mixgcn-bench-strategies: the full-graph strategies side by side (graph with a METIS and a
// random partition, feature, mixture with 1 and 4 column chunks), each trained through
// parallel::train_full_graph on the same generated graphs, on however many ranks mpirun
// started. Per graph and strategy: median epoch time, bytes sent per rank and epoch
// (measured, and predicted by parallel::cost::predict, which must agree byte for byte),
// compute time per rank (balance), memory per rank (accounted and peak RSS), and for
// mixture the fraction of its exchange time hidden behind compute. Rank 0 prints a table
// and writes the same as JSON.
//
//   for P in 2 4; do OMP_NUM_THREADS=1 mpirun --oversubscribe -np $P
//       build/bench/mixgcn-bench-strategies --json strategies-P$P.json; done   (one line)
//   bench/strategies.sh runs exactly that and plots the result (bench/strategies_plot.py).
//
// Options: --graphs sbm,rmat
//          --nodes N (100000) --avg-degree D (15)             SBM: N*D non-zeros + N self-loops
//          --scale S (16) --edge-factor K (16)                R-MAT: 2^S nodes, K*2^S edges drawn
//          --features F (64) --hidden H (64) --classes C (8) --epochs E (5)
//          --threads T (OpenMP threads per rank, 1)
//          --strategies graph-metis,graph-random,feature,mixture-1,mixture-4
//          --json FILE
// Every rank generates the same graph and holds the whole dataset and operator (feature
// and mixture need the whole Â on every rank; graph keeps its own block). Owners: the
// partitioner's vector computed on rank 0 and broadcast (graph); partition::block
// (feature, mixture: block keeps global ids contiguous, so the switches pack nothing).
//
// With more ranks than cores (P = 4 on a 2-core machine) the ranks share cores, so epoch
// and compute times are not scaling figures; the bytes are exact, and the compute balance
// (max/mean over ranks) is still measured, though noisier.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "mixgcn/backend/host.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/parallel/cost.hpp"
#include "mixgcn/parallel/full_graph.hpp"
#include "mixgcn/partition.hpp"
#include "mixgcn/train/json_writer.hpp"
#include "mixgcn/train/memory.hpp"

using namespace mixgcn;

namespace {

using V = float;
using B = backend::host;
constexpr const char* prog = "mixgcn-bench-strategies";

struct options {
    std::vector<std::string> graphs{"sbm", "rmat"};
    std::int64_t nodes = 100000;
    double avg_degree = 15;
    std::int64_t scale = 16, edge_factor = 16;
    std::int64_t features = 64, hidden = 64, classes = 8;
    int epochs = 5, threads = 1;
    std::vector<std::string> strategies{"graph-metis", "graph-random", "feature", "mixture-1", "mixture-4"};
    std::string json;
};

std::vector<std::string> split_list(const std::string& v) {
    std::vector<std::string> out;
    std::string s = v + ",";
    for (std::size_t p; (p = s.find(',')) != std::string::npos; s.erase(0, p + 1))
        if (p) out.push_back(s.substr(0, p));
    return out;
}

options parse(int argc, char** argv) {
    options o;
    std::map<std::string, std::string> kv;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        require(a.rfind("--", 0) == 0 && i + 1 < argc, prog, ": expected '--option value', got '", a, "'");
        kv[a.substr(2)] = argv[++i];
    }
    auto num = [&](const char* k, auto& v) {
        if (auto it = kv.find(k); it != kv.end()) {
            char* end = nullptr;
            const double x = std::strtod(it->second.c_str(), &end);
            require(end && *end == 0 && x > 0, prog, ": --", k, " needs a positive number, got '", it->second, "'");
            v = static_cast<std::remove_reference_t<decltype(v)>>(x);
            kv.erase(it);
        }
    };
    num("nodes", o.nodes);
    num("avg-degree", o.avg_degree);
    num("scale", o.scale);
    num("edge-factor", o.edge_factor);
    num("features", o.features);
    num("hidden", o.hidden);
    num("classes", o.classes);
    num("epochs", o.epochs);
    num("threads", o.threads);
    if (auto it = kv.find("graphs"); it != kv.end()) {
        o.graphs = split_list(it->second);
        kv.erase(it);
    }
    if (auto it = kv.find("strategies"); it != kv.end()) {
        o.strategies = split_list(it->second);
        kv.erase(it);
    }
    if (auto it = kv.find("json"); it != kv.end()) {
        o.json = it->second;
        kv.erase(it);
    }
    require(kv.empty(), prog, ": unknown option --", kv.empty() ? "" : kv.begin()->first);
    for (const auto& g : o.graphs)
        require(g == "sbm" || g == "rmat", prog, ": --graphs takes sbm and/or rmat, got '", g, "'");
    require(!o.graphs.empty() && !o.strategies.empty(), prog, ": --graphs and --strategies need at least one entry");
    return o;
}

// "graph-metis", "graph-random", "feature", "mixture-K".
struct strategy_spec {
    std::string label;
    parallel::strategy_options so;
    std::string partition;  // owners: metis, random or block
};

strategy_spec parse_spec(const std::string& s) {
    strategy_spec sp;
    sp.label = s;
    if (s.rfind("graph-", 0) == 0) {
        sp.so = {parallel::strategy_kind::graph, 1};
        sp.partition = s.substr(6);
        require(sp.partition == "random" || sp.partition == "block" || sp.partition == "spectral" ||
                    sp.partition == "metis",
                prog, ": unknown partitioner in '", s, "' (graph-metis, graph-random, graph-block, graph-spectral)");
#ifndef MIXGCN_HAS_METIS
        require(sp.partition != "metis", prog, ": '", s, "' needs METIS, which this build lacks");
#endif
    } else if (s == "feature") {
        sp.so = {parallel::strategy_kind::feature, 1};
        sp.partition = "block";
    } else if (s.rfind("mixture-", 0) == 0) {
        char* end = nullptr;
        const long k = std::strtol(s.c_str() + 8, &end, 10);
        require(end && *end == 0 && k >= 1, prog, ": '", s, "' needs a chunk count >= 1 (mixture-4)");
        sp.so = {parallel::strategy_kind::mixture, int(k)};
        sp.partition = "block";
    } else {
        throw invalid_argument(detail::concat(prog, ": unknown strategy '", s,
                                              "' (graph-metis, graph-random, feature, mixture-K)"));
    }
    return sp;
}

std::vector<int> partition_with(const std::string& m, const storage::csr<index_t, V>& a, int parts) {
    if (m == "block") return partition::block{}.partition(a, parts);
    if (m == "random") return partition::random{}.partition(a, parts);
    if (m == "spectral") return partition::spectral{}.partition(a, parts);
#ifdef MIXGCN_HAS_METIS
    if (m == "metis") return partition::metis{}.partition(a, parts);
#endif
    throw invalid_argument(detail::concat(prog, ": unknown or unavailable partitioner '", m, "'"));
}

// Resets the kernel's peak RSS (VmHWM) to the current RSS, so the peak read after a run
// is that run's. Linux >= 4.0; false where the write is refused.
bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    if (!f) return false;
    f << "5";
    f.flush();
    return bool(f);
}

// The collectives a strategy uses, in a fixed order so every rank gathers the same fields.
constexpr const char* op_names[] = {"all_reduce", "all_to_all_v", "reduce_scatter", "all_gather_v", "all_gather"};
constexpr std::size_t n_ops = std::size(op_names);

// Per-rank figures gathered to rank 0, in this order (run totals; per epoch at output).
enum field : std::size_t {
    f_owned, f_halo, f_sent, f_received, f_pred_sent, f_pred_received, f_comm, f_compute, f_graph, f_buffers,
    f_features, f_activations, f_parameters, f_total, f_rss, f_in_flight, f_blocked, f_exchanges,
    f_op_sent, f_op_received = f_op_sent + n_ops, f_pred_op_sent = f_op_received + n_ops,
    f_pred_op_received = f_pred_op_sent + n_ops, f_count = f_pred_op_received + n_ops
};

struct row {
    std::string graph, strategy, partition;
    int chunks = 1;
    double partition_seconds = 0, epoch_seconds = 0, run_seconds = 0, test_acc = 0;
    std::int64_t total_halo = 0, max_halo = 0;
    std::vector<double> ranks;  // f_count per rank
    double at(int p, std::size_t f) const { return ranks[std::size_t(p) * f_count + f]; }
};

struct graph_info {
    std::string name, description;
    std::size_t nodes = 0, nonzeros = 0;
};

template <class Comm>
void run_graph(Comm& comm, const options& o, const std::string& which, std::vector<row>& rows,
               std::vector<graph_info>& infos, bool& rss_reset) {
    const int P = comm.size(), me = comm.rank();
    dataset<V> ds;
    graph_info gi;
    if (which == "sbm") {
        graph::sbm_options so;
        so.nodes = o.nodes;
        so.avg_degree = o.avg_degree;
        so.features = o.features;
        so.classes = static_cast<std::int32_t>(o.classes);
        so.seed = 7;
        ds = graph::generate_sbm<V>(so);
        gi.description = detail::concat("power-law SBM, mean degree ", o.avg_degree,
                                        ", homophily ", so.homophily, ", ", o.classes, " blocks");
    } else {
        graph::rmat_dataset_options ro;
        ro.graph.scale = int(o.scale);
        ro.graph.edge_factor = o.edge_factor;
        ro.graph.seed = 7;
        ro.classes = static_cast<std::int32_t>(o.classes);
        ro.features.width = o.features;
        ds = graph::generate_rmat_dataset<V>(ro);
        gi.description = detail::concat("R-MAT (Graph500 a=0.57 b=c=0.19), scale ", o.scale, ", edge factor ",
                                        o.edge_factor, ", hashed labels");
    }
    const auto adjacency = graph::build_adjacency<index_t, V>(ds.edges);
    const auto op = graph::gcn_normalize<V>(adjacency);
    gi.name = which;
    gi.nodes = std::size_t(adjacency.rows);
    gi.nonzeros = adjacency.nnz();
    if (me == 0)
        std::printf("%s: %s; %zu nodes, %zu non-zeros of A (Â adds %zu self-loops), %lld features, hidden %lld, "
                    "%d rank(s), %d thread(s) per rank, %d epochs, float\n",
                    which.c_str(), gi.description.c_str(), gi.nodes, gi.nonzeros, gi.nodes,
                    static_cast<long long>(o.features), static_cast<long long>(o.hidden), P, o.threads, o.epochs);
    infos.push_back(gi);

    nn::model_options mo;
    mo.in = ds.features.cols();
    mo.classes = std::size_t(ds.num_classes);
    mo.hidden = std::size_t(o.hidden);
    const auto shape = parallel::cost::model_shape::of(mo);
    train::trainer_options to;
    to.epochs = o.epochs;

    std::map<std::string, std::vector<int>> owners;  // by partitioner, computed once per graph
    std::map<std::string, std::pair<double, partition::quality>> part_info;
    for (const auto& label : o.strategies) {
        const auto sp = parse_spec(label);
        row r;
        r.graph = which;
        r.strategy = label;
        r.partition = sp.partition;
        r.chunks = sp.so.chunks;
        if (!owners.count(sp.partition)) {
            std::vector<std::int32_t> owner(gi.nodes);
            double secs = 0;
            partition::quality q{};
            if (me == 0) {
                const auto t0 = std::chrono::steady_clock::now();
                const auto part = partition_with(sp.partition, adjacency, P);
                secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                std::copy(part.begin(), part.end(), owner.begin());
                q = partition::evaluate(adjacency, std::span<const int>(part), P);
            }
            comm.broadcast(std::span<std::int32_t>(owner), 0);
            owners[sp.partition] = std::vector<int>(owner.begin(), owner.end());
            part_info[sp.partition] = {secs, q};
        }
        const auto& own = owners[sp.partition];
        r.partition_seconds = part_info[sp.partition].first;
        if (sp.so.kind == parallel::strategy_kind::graph) {
            r.total_halo = part_info[sp.partition].second.total_halo;
            r.max_halo = part_info[sp.partition].second.max_halo;
        }
        const auto L = parallel::cost::layout_of(adjacency, std::span<const int>(own), P);
        const auto pred = parallel::cost::predict(sp.so, shape, L, me, o.epochs, sizeof(V));

        rss_reset = reset_peak_rss() && rss_reset;
        comm.barrier();
        const auto t0 = std::chrono::steady_clock::now();
        nn::gcn_model<B, V> model(mo);
        model.initialize(42);
        nn::optimizer<B, V> opt(nn::optimizer_options{});
        parallel::strategy_report rep;
        const auto res =
            parallel::train_full_graph<B, V>(comm, ds, op, std::span<const int>(own), sp.so, model, opt, to, &rep);
        r.run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        r.epoch_seconds = res.epoch_time_median();
        r.test_acc = res.test_acc;

        std::vector<double> fig(f_count, 0.0);
        fig[f_owned] = double(rep.owned_nodes);
        fig[f_halo] = double(rep.halo_nodes);
        fig[f_sent] = double(rep.bytes_sent);
        fig[f_received] = double(rep.bytes_received);
        const auto pt = pred.total();
        fig[f_pred_sent] = double(pt.sent);
        fig[f_pred_received] = double(pt.received);
        fig[f_comm] = rep.comm_seconds;
        fig[f_compute] = rep.compute_seconds;
        fig[f_graph] = double(rep.graph_bytes);
        fig[f_buffers] = double(rep.buffer_bytes);
        fig[f_features] = double(rep.feature_bytes);
        fig[f_activations] = double(rep.activation_bytes);
        fig[f_parameters] = double(rep.parameter_bytes);
        fig[f_total] = double(rep.total_bytes());
        fig[f_rss] = double(train::peak_rss_bytes());
        for (const auto& l : rep.layers) {
            fig[f_in_flight] += l.in_flight_seconds;
            fig[f_blocked] += l.blocked_seconds;
            fig[f_exchanges] += double(l.exchanges);
        }
        for (std::size_t k = 0; k < n_ops; ++k) {
            const auto c = rep.traffic[op_names[k]];
            fig[f_op_sent + k] = double(c.bytes_sent);
            fig[f_op_received + k] = double(c.bytes_received);
            if (auto it = pred.ops.find(op_names[k]); it != pred.ops.end()) {
                fig[f_pred_op_sent + k] = double(it->second.sent);
                fig[f_pred_op_received + k] = double(it->second.received);
            }
        }
        r.ranks.resize(f_count * std::size_t(P));
        comm.all_gather(std::span<const double>(fig), std::span<double>(r.ranks));
        if (me == 0)
            std::printf("  %-13s done in %6.1f s (epoch median %.1f ms)\n", label.c_str(), r.run_seconds,
                        r.epoch_seconds * 1e3);
        std::fflush(stdout);
        rows.push_back(std::move(r));
    }
}

template <class Comm>
int run(Comm& comm, const options& o) {
    const int P = comm.size(), me = comm.rank();
#ifdef _OPENMP
    omp_set_num_threads(o.threads);
#endif
    for (const auto& s : o.strategies) parse_spec(s);  // bad names fail before any work
    std::vector<row> rows;
    std::vector<graph_info> infos;
    bool rss_reset = true;
    for (const auto& g : o.graphs) run_graph(comm, o, g, rows, infos, rss_reset);
    if (me != 0) return 0;

    const double E = double(o.epochs), MiB = 1048576.0;
    auto max_of = [&](const row& r, std::size_t f) {
        double m = r.at(0, f);
        for (int p = 1; p < P; ++p) m = std::max(m, r.at(p, f));
        return m;
    };
    auto mean_of = [&](const row& r, std::size_t f) {
        double s = 0;
        for (int p = 0; p < P; ++p) s += r.at(p, f);
        return s / P;
    };
    auto exact = [&](const row& r) {
        for (int p = 0; p < P; ++p)
            if (r.at(p, f_sent) != r.at(p, f_pred_sent) || r.at(p, f_received) != r.at(p, f_pred_received))
                return false;
        return true;
    };
    auto hidden = [&](const row& r) {  // over all ranks and layers
        parallel::exchange_figures all;
        for (int p = 0; p < P; ++p) all.in_flight_seconds += r.at(p, f_in_flight), all.blocked_seconds += r.at(p, f_blocked);
        return all.in_flight_seconds > 0 ? all.hidden_fraction() : -1.0;
    };
    // Cores online on the machine (not the rank's affinity mask: mpirun binds each rank).
    const int cores = int(::sysconf(_SC_NPROCESSORS_ONLN));
    std::printf("\n%-5s %2s %-13s %9s %10s %10s %10s %6s %8s %8s %5s %8s %8s %8s %7s\n", "graph", "P", "strategy",
                "epoch ms", "MiB/ep max", "MiB/ep avg", "pred max", "exact", "comp max", "comp avg", "bal",
                "comm max", "mem MiB", "RSS MiB", "hidden");
    for (const auto& r : rows) {
        const double h = hidden(r);
        char hs[16];
        if (r.strategy.rfind("mixture", 0) == 0 && h >= 0)
            std::snprintf(hs, sizeof hs, "%6.1f%%", 100 * h);
        else
            std::snprintf(hs, sizeof hs, "%7s", "-");
        const double cmean = mean_of(r, f_compute);
        std::printf("%-5s %2d %-13s %9.1f %10.2f %10.2f %10.2f %6s %8.1f %8.1f %5.2f %8.1f %8.1f %8.1f %s\n",
                    r.graph.c_str(), P, r.strategy.c_str(), r.epoch_seconds * 1e3, max_of(r, f_sent) / E / MiB,
                    mean_of(r, f_sent) / E / MiB, max_of(r, f_pred_sent) / E / MiB, exact(r) ? "yes" : "NO",
                    max_of(r, f_compute) / E * 1e3, cmean / E * 1e3, cmean > 0 ? max_of(r, f_compute) / cmean : 0.0,
                    max_of(r, f_comm) / E * 1e3, max_of(r, f_total) / MiB, max_of(r, f_rss) / MiB, hs);
    }
    std::printf("(MiB/ep: bytes sent per rank per epoch, max and mean over ranks; pred max: parallel::cost::predict; "
                "exact: every rank's sent and received bytes equal the prediction; comp: compute ms per epoch, "
                "bal = max/mean over ranks; mem: accounted bytes per rank (strategy_report::total_bytes), max; "
                "RSS: peak RSS during the run%s, max over ranks, includes the whole generated dataset every rank "
                "holds; hidden: mixture's exchange time hidden behind compute, all ranks and layers)\n",
                rss_reset ? " (VmHWM reset before each run)" : " (VmHWM could not be reset: process peak so far)");
    if (cores > 0 && P * o.threads > cores)
        std::printf("NOTE: %d ranks x %d thread(s) on %d cores: the ranks share cores, so times are not scaling "
                    "figures; bytes are exact, compute balance (max/mean) is measured under core sharing.\n",
                    P, o.threads, cores);

    if (!o.json.empty()) {
        std::ofstream os(o.json);
        require(bool(os), prog, ": cannot write ", o.json);
        train::json_writer j(os);
        j.begin_object();
        j.field("benchmark", "strategies").field("ranks", P).field("threads_per_rank", o.threads);
        j.field("cores", cores).field("oversubscribed", cores > 0 && P * o.threads > cores);
        j.field("features", o.features).field("hidden", o.hidden).field("classes", o.classes);
        j.field("epochs", o.epochs).field("value", "float32").field("peak_rss_reset_per_run", rss_reset);
        j.key("graphs").begin_array();
        for (const auto& g : infos) {
            j.begin_object();
            j.field("name", g.name).field("description", g.description).field("nodes", g.nodes);
            j.field("nonzeros", g.nonzeros);
            j.end_object();
        }
        j.end_array();
        j.key("runs").begin_array();
        const char* names[f_op_sent] = {"owned_nodes",      "halo_nodes",       "bytes_sent",
                                        "bytes_received",   "predicted_bytes_sent", "predicted_bytes_received",
                                        "comm_seconds",     "compute_seconds",  "graph_bytes",
                                        "buffer_bytes",     "feature_bytes",    "activation_bytes",
                                        "parameter_bytes",  "total_bytes",      "peak_rss_bytes",
                                        "exchange_in_flight_seconds", "exchange_blocked_seconds", "exchanges"};
        for (const auto& r : rows) {
            j.begin_object();
            j.field("graph", r.graph).field("strategy", r.strategy).field("partition", r.partition);
            j.field("chunks", r.chunks).field("partition_seconds", r.partition_seconds);
            j.field("run_seconds", r.run_seconds).field("epoch_time_median_s", r.epoch_seconds);
            j.field("test_accuracy", r.test_acc).field("total_halo", r.total_halo).field("max_halo", r.max_halo);
            j.field("bytes_sent_per_epoch_max", max_of(r, f_sent) / E);
            j.field("bytes_sent_per_epoch_mean", mean_of(r, f_sent) / E);
            j.field("predicted_bytes_sent_per_epoch_max", max_of(r, f_pred_sent) / E);
            j.field("bytes_match_prediction", exact(r));
            j.field("compute_seconds_per_epoch_max", max_of(r, f_compute) / E);
            j.field("compute_seconds_per_epoch_mean", mean_of(r, f_compute) / E);
            j.field("comm_seconds_per_epoch_max", max_of(r, f_comm) / E);
            j.field("total_bytes_max", max_of(r, f_total)).field("peak_rss_bytes_max", max_of(r, f_rss));
            j.field("hidden_fraction", std::max(0.0, hidden(r)));
            j.key("per_rank").begin_array();
            for (int p = 0; p < P; ++p) {
                j.begin_object();
                j.field("rank", p);
                for (std::size_t f = 0; f < f_op_sent; ++f) j.field(names[f], r.at(p, f));
                const parallel::exchange_figures mine{0, r.at(p, f_in_flight), r.at(p, f_blocked)};
                j.field("hidden_fraction", mine.hidden_fraction());
                j.key("traffic").begin_object();
                for (std::size_t k = 0; k < n_ops; ++k) {
                    if (r.at(p, f_op_sent + k) + r.at(p, f_op_received + k) + r.at(p, f_pred_op_sent + k) +
                            r.at(p, f_pred_op_received + k) ==
                        0)
                        continue;
                    j.key(op_names[k]).begin_object();
                    j.field("bytes_sent", r.at(p, f_op_sent + k)).field("bytes_received", r.at(p, f_op_received + k));
                    j.field("predicted_bytes_sent", r.at(p, f_pred_op_sent + k));
                    j.field("predicted_bytes_received", r.at(p, f_pred_op_received + k));
                    j.end_object();
                }
                j.end_object();
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
        for (const auto& s : o.strategies) parse_spec(s);
        return comm::run_guarded(c, [&] { return run(c, o); });
    } catch (const std::exception& e) {  // option errors: every rank parses the same line
        if (c.rank() == 0) std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
}
