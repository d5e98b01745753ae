#pragma once
// The part of mixgcn-train every backend shares: data from the flags, model and
// optimizer set-up, the printed summary and the JSON report. train.cpp adds the host
// backends and the distributed strategies; train_cuda.cu (compiled by nvcc when CUDA
// is on) adds backend::cuda, so the CUDA headers never reach the host-only TU and the
// distributed headers never reach nvcc.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "mixgcn/backend/memory.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/graph/ordering.hpp"
#include "mixgcn/graph/stats.hpp"
#include "mixgcn/io.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/balance_rule.hpp"
#include "mixgcn/parallel/partitioned_load.hpp"
#include "mixgcn/parallel/report.hpp"
#include "mixgcn/partition/fennel.hpp"
#include "mixgcn/partition/file.hpp"
#include "mixgcn/partition/ptscotch.hpp"
#include "mixgcn/train/json_writer.hpp"
#include "mixgcn/train/memory.hpp"
#include "mixgcn/train/trainer.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace mixgcn::train_tool {

template <class V>
dataset<V> obtain_dataset(const cli::args& a) {
    if (a.has("data")) {
        const std::filesystem::path dir = a.get("data", "");
        if (!std::filesystem::is_directory(dir)) throw io_error(dir.string(), 0, "", "dataset folder does not exist");
        return io::load_dataset<V>(dir, io::load_options{a.get("data-split", "")});
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

// Per-rank figures gathered to rank 0 for the JSON report: fixed fields, then three per
// layer (exchanges, seconds in flight, seconds blocked) for the layout-switching strategies.
// The backends a rank may run, by index: in an MPMD job (mpirun -np 1 A : -np 1 B) each
// rank picks its own, and the report names every rank's.
inline constexpr const char* rank_backends[] = {"host", "reference", "kokkos", "cuda"};

inline double backend_index(std::string_view name) {
    for (std::size_t i = 0; i < std::size(rank_backends); ++i)
        if (name == rank_backends[i]) return double(i);
    return -1;
}

struct rank_figures {
    static constexpr std::size_t fixed = 12;
    double bytes_sent = 0, bytes_received = 0, comm_seconds = 0, compute_seconds = 0, peak_rss = 0, owned = 0, halo = 0;
    double baseline_rss = 0;  // resident before the run loaded anything
    double predicted_sent = -1, predicted_received = -1;  // -1: no prediction for this strategy
    double threads = 1, backend = -1;  // this rank's OpenMP threads and rank_backends index
    std::vector<double> layers;
    std::vector<double> pack(std::size_t layer_count) const {
        std::vector<double> v{bytes_sent, bytes_received, comm_seconds, compute_seconds, peak_rss, owned, halo,
                              predicted_sent, predicted_received, baseline_rss, threads, backend};
        v.resize(fixed + 3 * layer_count, 0.0);
        for (std::size_t i = 0; i < layers.size() && fixed + i < v.size(); ++i) v[fixed + i] = layers[i];
        return v;
    }
};

// What a caller other than main() (the Python module) changes in run(): where the data
// comes from, whether rank 0 prints the summary, and a stream that receives the JSON
// report on every rank (each with its own memory figures), the best model's outputs.
template <class V>
struct run_extras {
    std::function<mixgcn::dataset<V>()> make_dataset;  // instead of --data / --generate
    std::string data_label;               // config.data of the report with make_dataset
    bool summary = true;                  // rank 0 prints "best validation accuracy ..."
    std::ostream* report = nullptr;       // the --json document and "rank", on every rank
    dense_matrix<V>* logits = nullptr;    // the best model's outputs, N x C on every rank
    dense_matrix<V>* embeddings = nullptr;  // its last hidden layer's outputs (the output layer's input), N x H
};

// --strategy pipeline: the layout and every rank's stage figures.
struct pipeline_figures {
    struct rank_stage {
        int stage = 0, first_layer = 0, last_layer = 0;
        double bubble = 0, step_seconds = 0, p2p_seconds = 0, activation_bytes = 0;
    };
    int stages = 1, replicas = 1, micro_batches = 1;
    double ideal_bubble = 0;  // (S-1)/(M+S-1)
    std::vector<rank_stage> ranks;
};

// What a strategy runner gets from run(): the loaded data and the configured model, and
// what it fills in: the training result and the figures for the report.
template <class B, class V, class Comm>
struct run_context {
    const cli::args& a;
    Comm& comm;
    bool quiet;
    std::string strategy_name;
    dataset<V>& ds;
    storage::csr<index_t, V>& adjacency;  // the host strategies may renumber both (--order)
    graph::normalization_mode mode;
    nn::gcn_model<B, V>& model;
    nn::optimizer<B, V>& opt;
    const train::trainer_options& to;
    std::uint64_t seed;
    train::train_result res{};
    train::memory_breakdown mem{};
    rank_figures mine{};
    std::string device;  // where the backend ran, for the report ("" = host)
    std::size_t device_peak_bytes = 0;  // device memory high-water mark (device backends)
    dense_matrix<V>* logits = nullptr;  // when set, the best model's outputs go here
    dense_matrix<V>* embeddings = nullptr;  // when set, its last hidden layer's outputs
    std::string order = "none";  // the node order the graph was trained in (--order)
    double order_seconds = 0;    // computing and applying it
    // --load partitioned: this rank's nodes (ascending) and every node's owner; `ds` and
    // `adjacency` then hold only this rank's rows (adjacency columns are global ids).
    const std::vector<index_t>* owned = nullptr;
    const std::vector<int>* owner = nullptr;
    std::size_t nonzeros = 0;  // of the whole graph, when `adjacency` holds a part
    // --balance on (or the --debug-slow-* emulation): the balancer's record.
    std::optional<parallel::balance_report> balance{};
    std::optional<pipeline_figures> pipeline{};  // --strategy pipeline

    std::size_t graph_nonzeros() const { return nonzeros ? nonzeros : adjacency.nnz(); }

    // Trains `strategy` over `data` with the single-process trainer.
    template <class S>
    void train_with(S& strategy, const train::local_data<V>& data) {
        if (!quiet)
            std::printf("%s: %d nodes, %zu non-zeros, %zu features, %d classes; backend %s%s%s, %s, strategy %s on %d rank(s)\n",
                        ds.name.c_str(), ds.num_nodes(), graph_nonzeros(), model.options().in, ds.num_classes, B::name(),
                        device.empty() ? "" : " on ", device.c_str(), sizeof(V) == 4 ? "float" : "double",
                        strategy.name(), comm.size());
        train::trainer<B, V, S> trainer(strategy, model, opt, data, to);
        train::return_free_memory();  // what set-up freed, before training's peak
        res = trainer.run();
    }

    // The restored best model's evaluation forward, every node's row in global order on
    // every rank: local row i is node row_ids()[i] (i itself when there are none); rows
    // spread over the ranks (graph, mixture) are gathered. Host backends only; called
    // after the strategy's report, so the gather is not counted in its traffic. The
    // embeddings are the last hidden layer's outputs from the same forward (none for a
    // one-layer model).
    template <class S>
    void gather_outputs(S& strategy, const train::local_data<V>& data) {
        // feature's rows are whole only for its loss rows: no outputs (left empty).
        if constexpr (requires { strategy.loss_rows(); }) return;
        const auto out = model.forward(strategy, data.features, false, 0);
        if (logits) gather_rows(strategy, out, *logits);
        if (embeddings && model.num_layers() > 1) {
            const auto h = model.layer(model.num_layers() - 2).output();
            if (h.cols() == model.layer(model.num_layers() - 2).options().out) gather_rows(strategy, h, *embeddings);
        }
    }

    template <class S>
    void gather_rows(S& strategy, const_matrix_view<V> out, dense_matrix<V>& into) {
        const std::size_t n = static_cast<std::size_t>(ds.num_nodes()), c = out.cols(), local_rows = out.rows();
        const index_t* ids = strategy.row_ids().row_ids;
        std::vector<index_t> my_ids(local_rows);
        std::vector<V> my_rows(local_rows * c);
        for (std::size_t i = 0; i < local_rows; ++i) {
            my_ids[i] = ids ? ids[i] : static_cast<index_t>(i);
            std::copy_n(out.row(i), c, my_rows.data() + i * c);
        }
        std::vector<index_t> all_ids = my_ids;
        std::vector<V> all_rows = my_rows;
        if (local_rows != n) {  // each rank holds some of the rows: every rank gets them all
            std::vector<std::uint64_t> counts(static_cast<std::size_t>(comm.size()));
            const std::uint64_t m = local_rows;
            comm.all_gather(std::span<const std::uint64_t>(&m, 1), std::span<std::uint64_t>(counts));
            std::size_t total = 0;
            for (const auto k : counts) total += static_cast<std::size_t>(k);
            if (total != n) return;  // not a partition of the nodes: no logits
            std::vector<std::size_t> id_counts(counts.begin(), counts.end()), value_counts(counts.size());
            for (std::size_t q = 0; q < counts.size(); ++q) value_counts[q] = id_counts[q] * c;
            all_ids.resize(n);
            all_rows.resize(n * c);
            comm.all_gather_v(std::span<const index_t>(my_ids), std::span<index_t>(all_ids),
                              std::span<const std::size_t>(id_counts));
            comm.all_gather_v(std::span<const V>(my_rows), std::span<V>(all_rows),
                              std::span<const std::size_t>(value_counts));
        }
        into = dense_matrix<V>(n, c);
        for (std::size_t i = 0; i < n; ++i)
            std::copy_n(all_rows.data() + i * c, c, into.row(static_cast<std::size_t>(all_ids[i])));
    }
};

// A per-node vector (owners, clusters) computed by rank 0 alone, since a partitioner need
// not give the same answer in every process; every rank receives the same vector.
template <class Comm, class Compute>
std::vector<int> from_rank_0(Comm& comm, std::size_t nodes, Compute&& compute) {
    std::vector<std::int32_t> v(nodes);
    if (comm.rank() == 0) {
        const auto o = compute();
        std::copy(o.begin(), o.end(), v.begin());
    }
    comm.broadcast(std::span<std::int32_t>(v), 0);
    return {v.begin(), v.end()};
}

// How the calling translation unit computes --order (partition::locality_order and
// METIS stay out of nvcc): `resolve` turns the request into the order to apply (auto:
// a name or "none"; the same on every rank), `order` computes it (order[new] = old).
template <class V>
struct node_orderer {
    std::function<std::string(const std::string& requested, std::size_t nodes)> resolve;
    std::function<std::vector<index_t>(const storage::csr<index_t, V>&, const std::string& chosen)> order;
};

// --order, applied to the dataset and A in place before anything reads node ids: rank 0
// orders, every rank renumbers its copy the same way. Returns order[new] = user's id,
// empty when the ids stay as loaded. The batch strategies refuse an explicit order.
template <class B, class V, class Comm>
std::vector<index_t> apply_node_order(run_context<B, V, Comm>& ctx, const node_orderer<V>& orderer) {
    const cli::args& a = ctx.a;
    const auto requested = a.choice("order", "auto", {"auto", "none", "metis", "rcm", "degree"});
    if (ctx.strategy_name == "data" || ctx.strategy_name == "pipeline") {
        if (requested != "auto" && requested != "none")
            throw cli::usage_error("flag --order applies to the full-graph strategies; --strategy " + ctx.strategy_name +
                                   " trains METIS clusters, which are already local");
        return {};
    }
    const auto n = static_cast<std::size_t>(ctx.adjacency.rows);
    const std::string chosen = orderer.resolve(requested, n);
    if (chosen == "none") return {};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<index_t> order(n);
    if (ctx.comm.rank() == 0) order = orderer.order(ctx.adjacency, chosen);
    ctx.comm.broadcast(std::span<index_t>(order), 0);
    ctx.adjacency = graph::permute(ctx.adjacency, std::span<const index_t>(order));
    graph::permute_nodes(ctx.ds, std::span<const index_t>(order));
    ctx.order = chosen;
    ctx.order_seconds = trace::interval("order nodes", trace::category::setup, t0, std::chrono::steady_clock::now());
    if (!ctx.quiet)
        std::printf("node order: %s (%.2f s; outputs keep the loaded ids)\n", chosen.c_str(), ctx.order_seconds);
    return order;
}

// A full-graph strategy's report into the rank's figures for the JSON (traffic, time,
// rows, per-layer exchanges) and its buffers into the memory breakdown.
template <class B, class V, class Comm>
void record_report(run_context<B, V, Comm>& ctx, const parallel::strategy_report& r) {
    ctx.mem.communication = r.buffer_bytes;
    auto& f = ctx.mine;
    f.bytes_sent = double(r.bytes_sent);
    f.bytes_received = double(r.bytes_received);
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

inline void write_pipeline(train::json_writer& j, const pipeline_figures& f) {
    j.key("pipeline").begin_object();
    j.field("stages", f.stages).field("replicas", f.replicas).field("micro_batches", f.micro_batches);
    j.field("ideal_bubble", f.ideal_bubble);
    j.key("ranks").begin_array();
    for (const auto& r : f.ranks) {
        j.begin_object();
        j.field("stage", r.stage).field("first_layer", r.first_layer).field("last_layer", r.last_layer);
        j.field("bubble", r.bubble).field("step_seconds", r.step_seconds).field("p2p_seconds", r.p2p_seconds);
        j.field("peak_activation_bytes", r.activation_bytes);
        j.end_object();
    }
    j.end_array();
    j.end_object();
}

// The balancer's record in the JSON: every epoch's busy seconds per rank and their
// max/mean, and every rebalance (target shares, rows per rank after, rows moved).
inline void write_balance(train::json_writer& j, const parallel::balance_report& b, const cli::args& a) {
    const auto numbers = [&](const char* name, const auto& values) {
        j.key(name).begin_array();
        for (const auto v : values) j.value(v);
        j.end_array();
    };
    j.key("balance").begin_object();
    j.field("enabled", a.get("balance", "off") == "on");
    j.field("threshold", a.number<double>("balance-threshold", 1.10));
    j.field("patience", a.number<int>("balance-patience", 2));
    if (a.has("debug-slow-rank"))
        j.field("debug_slow_rank", a.number<int>("debug-slow-rank", -1))
            .field("debug_slow_factor", a.number<double>("debug-slow-factor", 1));
    numbers("initial_rows", b.initial_rows);
    j.key("epochs").begin_array();
    for (const auto& e : b.epochs) {
        j.begin_object();
        j.field("epoch", e.epoch).field("measured", e.measured).field("ratio", e.ratio);
        numbers("busy_seconds", e.busy);
        j.end_object();
    }
    j.end_array();
    j.key("rebalances").begin_array();
    for (const auto& r : b.rebalances) {
        j.begin_object();
        j.field("after_epoch", r.epoch).field("ratio_before", r.ratio_before).field("rows_moved", r.rows_moved);
        j.field("seconds", r.seconds);
        numbers("shares", r.shares);
        numbers("rows", r.rows);
        j.end_object();
    }
    j.end_array();
    j.end_object();
}

// The trace's time zero on every rank: rank 0's clock reading after a barrier. A rank on
// rank 0's host reads the same monotonic clock (CLOCK_MONOTONIC is the kernel's), so it
// takes that reading as it is; a rank on another host estimates its clock's offset by
// Cristian's method (8 ping-pongs with rank 0; the round with the shortest round trip
// gives the offset to within half that trip). A barrier alone aligned the ranks only to
// its exit skew: 3 ms on 4 ranks sharing 2 cores. Collective.
template <class Comm>
void align_trace_origin(Comm& comm, trace::recorder& rec) {
    const auto now_ns = [] {
        return std::int64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                trace::clock::now().time_since_epoch()).count());
    };
    // Which ranks share rank 0's host (and so its clock).
    std::array<std::uint8_t, 64> host{};
    if (::gethostname(reinterpret_cast<char*>(host.data()), host.size() - 1) != 0) host.fill(0);
    std::vector<std::uint8_t> hosts(host.size() * static_cast<std::size_t>(comm.size()));
    comm.all_gather(std::span<const std::uint8_t>(host), std::span<std::uint8_t>(hosts));
    // Rank r reads rank 0's clock when their host names agree (an unknown name never does).
    // MIXGCN_TRACE_REMOTE_CLOCKS=1 treats every rank as remote (the tests' way to run the
    // ping-pongs on one host).
    const char* force = std::getenv("MIXGCN_TRACE_REMOTE_CLOCKS");
    const bool all_remote = force && std::string_view(force) == "1";
    const auto same_host_as_0 = [&](int r) {
        const auto at = hosts.begin() + std::ptrdiff_t(host.size()) * r;
        return !all_remote && hosts[0] != 0 && std::equal(hosts.begin(), hosts.begin() + std::ptrdiff_t(host.size()), at);
    };
    comm.barrier();
    std::int64_t origin = now_ns();  // rank 0's time zero, in rank 0's clock
    std::int64_t offset = 0;         // rank 0's clock minus this rank's
    constexpr int rounds = 8;
    if (comm.rank() == 0) {
        for (int r = 1; r < comm.size(); ++r)
            if (!same_host_as_0(r))
                for (int k = 0; k < rounds; ++k) {
                    std::int64_t t = 0;
                    comm.recv(std::span<std::int64_t>(&t, 1), r, 7);
                    t = now_ns();
                    comm.send(std::span<const std::int64_t>(&t, 1), r, 7);
                }
    } else if (!same_host_as_0(comm.rank())) {
        std::int64_t best = 0;
        for (int k = 0; k < rounds; ++k) {
            const std::int64_t t1 = now_ns();
            std::int64_t t2 = 0;
            comm.send(std::span<const std::int64_t>(&t1, 1), 0, 7);
            comm.recv(std::span<std::int64_t>(&t2, 1), 0, 7);
            const std::int64_t t3 = now_ns();
            if (k == 0 || t3 - t1 < best) {
                best = t3 - t1;
                offset = t2 - (t1 + t3) / 2;
            }
        }
    }
    comm.broadcast(std::span<std::int64_t>(&origin, 1), 0);
    rec.set_origin(trace::clock::time_point(std::chrono::duration_cast<trace::clock::duration>(
        std::chrono::nanoseconds(origin - offset))));
}

// --trace FILE: every rank's spans in one Chrome trace file written by rank 0 (ranks are
// processes "rank 0", "rank 1", ...; time zero is rank 0's clock at the start of the run,
// align_trace_origin).
// Collective: every rank calls it.
template <class Comm>
void write_trace(const std::string& path, Comm& comm, const trace::recorder& rec) {
    const std::string mine = rec.json_events(comm.rank(), "rank " + std::to_string(comm.rank()));
    std::vector<std::uint64_t> sizes(static_cast<std::size_t>(comm.size()));
    const std::uint64_t n = mine.size();
    comm.all_gather(std::span<const std::uint64_t>(&n, 1), std::span<std::uint64_t>(sizes));
    std::vector<std::size_t> counts(sizes.begin(), sizes.end());
    std::size_t total = 0;
    for (const auto c : counts) total += c;
    std::vector<std::uint8_t> all(total);
    comm.all_gather_v(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(mine.data()), mine.size()),
                      std::span<std::uint8_t>(all), std::span<const std::size_t>(counts));
    if (comm.rank() != 0) return;
    std::ofstream os(path, std::ios::binary);
    if (!os) throw io_error(path, 0, "", "cannot open the trace file for writing");
    os << "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"mixgcn-train\",\"ranks\":" << comm.size()
       << "},\"traceEvents\":[";
    std::size_t at = 0;
    for (std::size_t q = 0; q < counts.size(); ++q) {
        if (q > 0 && counts[q] > 0) os << ",";
        os.write(reinterpret_cast<const char*>(all.data() + at), std::streamsize(counts[q]));
        at += counts[q];
    }
    os << "]}\n";
    if (!os) throw io_error(path, 0, "", "write of the trace failed");
}

// --load partitioned trains --strategy graph (on the host backends, or one GPU per rank)
// from a folder of .npy parts; what needs the whole graph or dataset on one rank is
// refused by name.
template <class B>
void require_partitioned_flags(const cli::args& a, const std::string& strategy, bool dataset_in_memory) {
    const auto refuse = [](const std::string& why) { throw cli::usage_error("flag --load partitioned: " + why); };
    if (dataset_in_memory) refuse("it reads a dataset folder, but this caller hands the dataset over in memory");
    if (!a.has("data")) refuse("needs --data DIR, a folder of .npy parts (--export-dataset DIR writes one)");
    if (strategy != "graph")
        refuse("trains --strategy graph, not " + strategy +
               " (feature and mixture replicate the graph on every rank by design; single and data hold all of it)");
    for (const char* f : {"export-dataset", "data-split"})
        if (a.has(f)) refuse(std::string("--") + f + " needs the whole dataset on one rank");
    if (const auto m = a.get("partition", "range"); m != "range" && m != "ptscotch" && m != "fennel")
        refuse("--partition " + m +
               " needs the whole graph on one rank; use range (the default: each rank owns the rows it reads), "
               "ptscotch (distributed: PT-Scotch over the ranks' rows), fennel (distributed streaming over the "
               "ranks' rows) or --partition-file FILE (from mixgcn-partition --out FILE)");
    if (a.get("partition", "range") == "ptscotch" && a.get("comm", "mpi") != "mpi")
        refuse("--partition ptscotch runs PT-Scotch over MPI: use --comm mpi");
    const auto order = a.get("order", "auto");
    if (order != "auto" && order != "none") refuse("--order " + order + " needs the whole graph on one rank");
}

// --balance on|off and the slow-rank emulation apply to --strategy graph over a whole
// load on the host backends (parallel/balance.hpp); the re-cut needs a partitioner that
// takes target shares.
template <class B>
void require_balance_flags(const cli::args& a, const std::string& strategy, int ranks) {
    const bool on = a.choice("balance", "off", {"on", "off"}) == "on";
    const bool slow = a.has("debug-slow-rank") || a.has("debug-slow-factor");
    for (const char* f : {"balance-threshold", "balance-patience"})
        if (a.has(f) && !on) throw cli::usage_error(std::string("flag --") + f + " applies to --balance on");
    if (!on && !slow) return;
    const std::string what = on ? "flag --balance on" : "flags --debug-slow-rank/--debug-slow-factor";
    if (strategy != "graph" && strategy != "mixture")
        throw cli::usage_error(what + " applies to --strategy graph or mixture, not " + strategy);
    if (a.get("load", "whole") != "whole")
        throw cli::usage_error(what + " needs --load whole (every rank holds the operator the re-cut rebuilds from)");
    if (on) {
        if (a.has("partition-file"))
            throw cli::usage_error("flag --balance on re-cuts with the partitioner: use --partition block, random, "
                                   "metis or fennel instead of --partition-file");
        const auto method = a.get("partition", "metis");
        if (method == "spectral")
            throw cli::usage_error("flag --balance on re-cuts with target shares, which --partition spectral does not "
                                   "take: use block, random, metis or fennel");
        const double threshold = a.number<double>("balance-threshold", 1.10);
        if (!(threshold > 1 && threshold < 1e6))
            throw cli::usage_error("flag --balance-threshold: the max/mean busy ratio that triggers a re-cut must be > 1, "
                                   "got " + a.get("balance-threshold", ""));
        if (a.number<int>("balance-patience", 2) < 1)
            throw cli::usage_error("flag --balance-patience: must be >= 1, got " + a.get("balance-patience", ""));
    }
    if (slow) {
        if (!a.has("debug-slow-rank") || !a.has("debug-slow-factor"))
            throw cli::usage_error("flags --debug-slow-rank R and --debug-slow-factor F go together");
        const int r = a.number<int>("debug-slow-rank", -1);
        if (r < 0 || r >= ranks)
            throw cli::usage_error("flag --debug-slow-rank: rank " + a.get("debug-slow-rank", "") + " outside [0, " +
                                   std::to_string(ranks) + ")");
        const double f = a.number<double>("debug-slow-factor", 1);
        if (!(f >= 1 && f <= 1000))
            throw cli::usage_error("flag --debug-slow-factor: must be between 1 and 1000, got " +
                                   a.get("debug-slow-factor", ""));
    }
}

// --load partitioned --partition ptscotch|fennel: each rank loads the rows of its range, the
// distributed partitioner (PT-Scotch, or the streaming Fennel of partition/fennel.hpp) cuts
// the distributed graph, and the owners are all-gathered (the one O(N) array a partitioned
// load holds); the caller then loads again with them, so the rows are read twice (the
// first load's rows are dropped here). Records the partitioning time.
template <class V, class Comm>
std::vector<int> distributed_owners(Comm& comm, const std::filesystem::path& dir, const std::string& method,
                                    parallel::partitioned_load_report& r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int> owner;
    {
        auto range = parallel::load_partitioned<V>(comm, dir, {});  // range owners: rank r reads and holds its rows
        const auto n = std::uint64_t(range.nodes);
        const auto first = std::int64_t(parallel::read_range(n, comm.rank(), comm.size()).first);
        std::vector<int> mine;
        if (method == "fennel") {
            mine = partition::fennel{}.partition_rows(comm, range.rows, first, std::int64_t(n), comm.size());
        } else {
#ifdef MIXGCN_HAS_PTSCOTCH
            if constexpr (std::is_same_v<Comm, comm::mpi>)
                mine = partition::ptscotch{}.partition_rows(comm, range.rows, first, std::int64_t(n), comm.size());
            else
                throw cli::usage_error("flag --load partitioned: --partition ptscotch runs PT-Scotch over MPI: use --comm mpi");
#else
            throw cli::usage_error("flag --partition ptscotch: mixgcn was built without PT-Scotch (libptscotch-dev, "
                                   "-DMIXGCN_WITH_PTSCOTCH=ON)");
#endif
        }
        std::vector<std::size_t> counts(std::size_t(comm.size()));
        for (int q = 0; q < comm.size(); ++q) {
            const auto [b, e] = parallel::read_range(n, q, comm.size());
            counts[std::size_t(q)] = std::size_t(e - b);
        }
        std::vector<std::int32_t> all(static_cast<std::size_t>(n)), m(mine.begin(), mine.end());
        comm.all_gather_v(std::span<const std::int32_t>(m), std::span<std::int32_t>(all),
                          std::span<const std::size_t>(counts));
        owner.assign(all.begin(), all.end());
    }
    r.partition_seconds = trace::interval(method == "fennel" ? "partition (fennel)" : "partition (ptscotch)",
                                          trace::category::setup, t0,
                                          std::chrono::steady_clock::now());
    return owner;
}

// --accumulate belongs to data; --stages and --micro-batches to pipeline, which writes no
// checkpoints (each stage's optimizer holds only its layers' moments).
inline void require_batch_flags(const cli::args& a, const std::string& strategy) {
    if (a.has("accumulate") && strategy != "data")
        throw cli::usage_error("flag --accumulate applies to --strategy data (pipeline: --micro-batches), not " + strategy);
    for (const char* f : {"stages", "micro-batches"})
        if (a.has(f) && strategy != "pipeline")
            throw cli::usage_error(std::string("flag --") + f + " applies to --strategy pipeline, not " + strategy);
    if (strategy == "pipeline" && (a.has("checkpoint") || a.has("resume")))
        throw cli::usage_error("--strategy pipeline writes no checkpoints (each stage's optimizer holds only its "
                               "layers' moments): drop --checkpoint/--resume");
}

// Loads or generates the data, builds the model and optimizer from the flags, lets
// `train_strategy(run_context&)` train, then prints the summary and writes the JSON.
template <class B, class V, class Comm, class Runner>
int run(const cli::args& a, Comm& comm, Runner&& train_strategy, const run_extras<V>& extras = {}) {
    const bool lead = comm.rank() == 0;
    const bool quiet = a.has("quiet") || !lead;
    const bool tty = isatty(fileno(stdout));
    const std::string strategy_name =
        a.choice("strategy", "single", {"single", "graph", "feature", "mixture", "data", "pipeline", "auto"});
    if (strategy_name == "single" && comm.size() > 1)
        throw cli::usage_error("--strategy single runs on one rank, but " + std::to_string(comm.size()) +
                               " were started (use --strategy graph, feature, mixture, data or pipeline)");
    if (a.has("chunks") && strategy_name != "mixture" && strategy_name != "auto")
        throw cli::usage_error("flag --chunks applies to --strategy mixture, not " + strategy_name);
    require_balance_flags<B>(a, strategy_name, comm.size());
    require_batch_flags(a, strategy_name);
    // --trace: recording starts at one time zero for every rank (align_trace_origin).
    std::optional<trace::recorder> recorder;
    if (a.has("trace")) {
        if (a.get("trace", "").empty()) throw cli::usage_error("flag --trace needs a file name");
        recorder.emplace();
        align_trace_origin(comm, *recorder);
    }
    trace::scoped_recording recording(recorder ? &*recorder : nullptr);
    const std::size_t baseline_rss = train::rss_bytes();
    const auto t_load = std::chrono::steady_clock::now();
    // --load partitioned: every rank reads only its share (parallel/partitioned_load.hpp)
    // and holds only its rows; the figures of the whole graph are summed over the ranks.
    const bool partitioned = a.choice("load", "whole", {"whole", "partitioned"}) == "partitioned";
    if (partitioned) require_partitioned_flags<B>(a, strategy_name, extras.make_dataset != nullptr);
    dataset<V> ds;
    storage::csr<index_t, V> adjacency;
    graph::build_report report;
    parallel::partitioned_load_report load;
    std::vector<index_t> owned;
    std::vector<int> owner;
    std::size_t global_nonzeros = 0;
    if (partitioned) {
        const std::filesystem::path dir = a.get("data", "");
        parallel::partitioned_load_options lo;
        if (a.has("partition-file"))
            lo.owner = partition::read_partition_file(a.get("partition-file", ""),
                                                      std::int64_t(parallel::dataset_nodes(dir)), comm.size());
        else if (const auto m = a.get("partition", "range"); m == "ptscotch" || m == "fennel")
            lo.owner = distributed_owners<V>(comm, dir, m, load);
        auto part = parallel::load_partitioned<V>(comm, dir, std::move(lo));
        ds.name = part.name;
        ds.features = std::move(part.features);
        ds.labels = std::move(part.labels);
        ds.split = std::move(part.split);
        ds.num_classes = part.num_classes;
        ds.edges.num_nodes = part.nodes;
        adjacency = std::move(part.rows);
        owned = std::move(part.owned);
        owner = std::move(part.owner);
        const double partition_seconds = load.partition_seconds;
        load = part.report;
        load.partition_seconds = partition_seconds;
        std::vector<std::uint64_t> sums{adjacency.nnz(), load.self_loops_dropped, load.directed_entries};
        comm.all_reduce(std::span<std::uint64_t>(sums));
        global_nonzeros = sums[0];
        report.input_edges = part.edge_rows;
        report.self_loops_dropped = sums[1];
        report.duplicates_dropped = sums[2] - sums[0];
    } else {
        ds = extras.make_dataset ? extras.make_dataset() : obtain_dataset<V>(a);
        ds.validate();
        if (a.has("export-dataset") && lead) io::save_dataset(a.get("export-dataset", ""), ds);
    }
    // Row normalisation suits non-negative (bag-of-words) features; on signed features
    // a row sum near zero would blow the row up, so `auto` leaves those alone.
    const auto feature_norm = a.choice("feature-norm", "auto", {"auto", "row", "none"});
    std::int32_t negative = std::any_of(ds.features.values().begin(), ds.features.values().end(),
                                        [](V v) { return v < V(0); });
    if (partitioned) comm.all_reduce(std::span<std::int32_t>(&negative, 1), comm::reduce_op::max);  // any rank's
    const bool non_negative = negative == 0;
    if (feature_norm == "row" || (feature_norm == "auto" && non_negative)) graph::row_normalize(ds.features);
    if (!partitioned) {
        adjacency = graph::build_adjacency<index_t, V>(ds.edges, {}, &report);
        // Nothing reads the edge list after A exists (ds.edges.num_nodes stays): not held
        // through training.
        ds.edges.edges = decltype(ds.edges.edges)();
    }
    // Reading (or generating), validating, normalising the features and building Â.
    const double load_seconds =
        trace::interval("load dataset", trace::category::setup, t_load, std::chrono::steady_clock::now());
    // On a device the stored weights are read in sequence, where the fused scales cost a
    // random gather per non-zero (docs/cuda.md), so device backends default to weights.
    const auto mode = a.choice("normalization", backend::host_accessible<B>() ? "fused" : "edge-weights",
                               {"fused", "edge-weights"}) == "fused"
                          ? graph::normalization_mode::fused
                          : graph::normalization_mode::edge_weights;
    auto stats = graph::compute_degree_stats(adjacency);
    std::array<std::size_t, 3> split_counts{ds.nodes_with(split_role::train).size(), ds.nodes_with(split_role::val).size(),
                                            ds.nodes_with(split_role::test).size()};
    if (partitioned) {  // this rank's rows only: the whole graph's figures from every rank's
        std::vector<std::uint64_t> counts(split_counts.begin(), split_counts.end());
        comm.all_reduce(std::span<std::uint64_t>(counts));
        std::copy(counts.begin(), counts.end(), split_counts.begin());
        std::vector<std::uint64_t> most{stats.max};
        comm.all_reduce(std::span<std::uint64_t>(most), comm::reduce_op::max);
        stats.nodes = static_cast<std::size_t>(ds.num_nodes());
        stats.nonzeros = global_nonzeros;
        stats.mean = double(global_nonzeros) / double(std::max<std::size_t>(stats.nodes, 1));
        stats.max = most[0];
        stats.self_loops = 0;  // the loader drops them
    }

    nn::model_options mo;
    mo.in = ds.features.cols();
    mo.classes = static_cast<std::size_t>(ds.num_classes);
    mo.hidden = a.number<std::size_t>("hidden", 16);
    mo.layers = a.number<int>("layers", 2);
    mo.dropout = a.number<double>("dropout", 0.5);
    mo.weight_decay = a.number<double>("weight-decay", 5e-4);
    mo.decay_all_layers = a.has("decay-all-layers");
    mo.cache_input_aggregation = !a.has("no-eval-cache");
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

    run_context<B, V, Comm> ctx{a,  comm, quiet, strategy_name, ds, adjacency, mode, model, opt, to, seed, {}, {}, {},
                                {}, 0,    extras.logits, extras.embeddings};
    if (partitioned) {
        ctx.owned = &owned;
        ctx.owner = &owner;
        ctx.nonzeros = global_nonzeros;
    }
    train_strategy(ctx);
    const std::string& ran = ctx.strategy_name;  // what --strategy auto resolved to
    auto& res = ctx.res;
    auto& mem = ctx.mem;
    auto& mine = ctx.mine;

    if (!quiet && tty) std::printf("\n");
    mem.activations = model.peak_activation_bytes();  // the most held at once, not what is left
    mem.parameters_and_optimizer = model.parameter_count() * sizeof(V) * 4;  // value, grad, two moments
    const auto peak = train::peak_rss_bytes();
    mine.peak_rss = double(peak);
    mine.baseline_rss = double(baseline_rss);
    mine.backend = backend_index(B::name());
#ifdef _OPENMP
    mine.threads = double(omp_get_max_threads());
#endif
    const std::size_t layer_count = static_cast<std::size_t>(mo.layers);
    const auto packed = mine.pack(layer_count);
    const std::size_t stride = packed.size();
    std::vector<double> everyone(stride * static_cast<std::size_t>(comm.size()));
    comm.all_gather(std::span<const double>(packed), std::span<double>(everyone));
    if (recorder) {
        recording.stop();
        write_trace(a.get("trace", ""), comm, *recorder);
    }
    if (!lead && !extras.report) return 0;
    if (lead && extras.summary) {
        std::printf("best validation accuracy %.4f at epoch %d; test accuracy %.4f; median epoch %.3f ms; peak RSS %.1f MiB",
                    res.best_val_acc, res.best_val_epoch, res.test_acc, res.epoch_time_median() * 1e3,
                    double(peak) / 1048576.0);
        if (ctx.device_peak_bytes) std::printf("; device peak %.1f MiB", double(ctx.device_peak_bytes) / 1048576.0);
        std::printf("\n");
    }

    const auto write_report = [&](std::ostream& os, bool with_rank) {
        train::json_writer j(os);
        j.begin_object();
        if (with_rank) j.field("rank", comm.rank());  // which rank's memory figures these are
        j.key("config").begin_object();
        j.field("data", extras.make_dataset ? extras.data_label : a.get("data", "generated:" + a.get("generate", "sbm")));
        j.field("backend", B::name()).field("precision", sizeof(V) == 4 ? "float" : "double");
        if (!ctx.device.empty()) j.field("device", ctx.device);
        j.field("normalization", mode == graph::normalization_mode::fused ? "fused" : "edge-weights");
        j.field("strategy", ran).field("comm", Comm::name()).field("ranks", comm.size());
        if (strategy_name == "auto") j.field("strategy_requested", "auto");
        if (ran == "mixture") j.field("chunks", a.number<int>("chunks", 1));
        j.field("order", ctx.order).field("load", partitioned ? "partitioned" : "whole");
        if (a.get("order", "auto") != ctx.order) j.field("order_requested", a.get("order", "auto"));
        if (ran != "single")
            j.field("partition", a.has("partition-file") ? "file:" + a.get("partition-file", "")
                                                         : a.get("partition", partitioned ? "range" : "metis"));
        j.field("layers", mo.layers).field("hidden", mo.hidden);
        j.field("epochs", to.epochs).field("lr", oo.lr).field("weight_decay", mo.weight_decay);
        j.field("dropout", mo.dropout).field("seed", seed).field("eval_cache", mo.cache_input_aggregation);
#ifdef _OPENMP
        j.field("threads", omp_get_max_threads());
#else
        j.field("threads", 1);
#endif
        j.end_object();
        j.key("dataset").begin_object();
        j.field("name", ds.name).field("nodes", ds.num_nodes()).field("edges_in_file", report.input_edges);
        j.field("nonzeros", stats.nonzeros).field("nonzeros_with_self_loops", stats.nonzeros + stats.nodes - stats.self_loops);
        j.field("duplicates_dropped", report.duplicates_dropped).field("self_loops_dropped", report.self_loops_dropped);
        j.field("features", mo.in).field("classes", ds.num_classes);
        j.field("train", split_counts[0]).field("val", split_counts[1]).field("test", split_counts[2]);
        j.field("degree_mean", stats.mean).field("degree_max", stats.max);
        if (!partitioned) j.field("degree_median", stats.median);  // not gathered from the parts
        j.field("load_seconds", load_seconds).field("order_seconds", ctx.order_seconds);
        if (partitioned) {  // the writing rank's
            j.key("load").begin_object();
            j.field("bytes_read", load.bytes_read()).field("features_bytes_read", load.features_bytes_read);
            j.field("edges_bytes_read", load.edges_bytes_read).field("bytes_sent", load.bytes_sent);
            j.field("headers_seconds", load.headers_seconds).field("rows_seconds", load.rows_seconds);
            j.field("redistribute_seconds", load.redistribute_seconds).field("edges_read_seconds", load.edges_read_seconds);
            j.field("edges_exchange_seconds", load.edges_exchange_seconds).field("build_seconds", load.build_seconds);
            j.field("partition_seconds", load.partition_seconds);  // --partition ptscotch|fennel: its own load, the partitioner, the gather
            j.end_object();
        }
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
        j.field("baseline_rss_bytes", baseline_rss);
        if (ctx.device_peak_bytes) j.field("device_peak_bytes", ctx.device_peak_bytes);
        if (ctx.balance) write_balance(j, *ctx.balance, a);
        if (ctx.pipeline) write_pipeline(j, *ctx.pipeline);
        j.key("memory").begin_object();  // the writing rank's (rank 0's in the file)
        j.field("graph", mem.graph).field("features", mem.features).field("activations", mem.activations);
        j.field("parameters_optimizer", mem.parameters_and_optimizer).field("communication", mem.communication);
        j.field("total", mem.total());
        j.end_object();
        j.key("ranks").begin_array();
        for (int r = 0; r < comm.size(); ++r) {
            const double* f = everyone.data() + std::size_t(r) * stride;
            j.begin_object();
            j.field("rank", r).field("bytes_sent", std::uint64_t(f[0])).field("bytes_received", std::uint64_t(f[1]));
            j.field("comm_seconds", f[2]).field("compute_seconds", f[3]).field("peak_rss_bytes", std::uint64_t(f[4]));
            j.field("baseline_rss_bytes", std::uint64_t(f[9]));
            j.field("backend", f[11] >= 0 ? rank_backends[std::size_t(f[11])] : "other").field("threads", int(f[10]));
            j.field("owned_nodes", std::uint64_t(f[5])).field("halo_nodes", std::uint64_t(f[6]));
            if (f[7] >= 0)
                j.field("predicted_bytes_sent", std::uint64_t(f[7])).field("predicted_bytes_received", std::uint64_t(f[8]));
            if (ran == "mixture" || ran == "feature") {
                j.key("layers").begin_array();
                for (std::size_t l = 0; l < layer_count; ++l) {
                    const double* g = f + rank_figures::fixed + 3 * l;
                    const parallel::exchange_figures e{std::uint64_t(g[0]), g[1], g[2]};
                    j.begin_object();
                    j.field("layer", l).field("exchanges", e.exchanges).field("exchange_seconds", e.in_flight_seconds);
                    j.field("blocked_seconds", e.blocked_seconds).field("hidden_fraction", e.hidden_fraction());
                    j.end_object();
                }
                j.end_array();
            }
            j.end_object();
        }
        j.end_array();
        j.end_object();
        os << "\n";
    };
    if (lead && a.has("json")) {
        const std::filesystem::path path = a.get("json", "");
        std::ofstream os(path);
        if (!os) throw io_error(path.string(), 0, "", "cannot open for writing");
        write_report(os, false);
        if (!os) throw io_error(path.string(), 0, "", "write failed");
    }
    if (extras.report) write_report(*extras.report, true);
    return 0;
}


}  // namespace mixgcn::train_tool
