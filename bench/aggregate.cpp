// Aggregation throughput of backend::host per feature width and graph shape, next to
// the copy bandwidth of the same machine measured in the same run with the same
// threads.
//
//   mixgcn-bench-aggregate [--threads N] [--nodes N] [--degree D] [--width 16,32,...]
//                          [--graph sbm,rmat] [--order none,shuffle,rcm,degree,metis]
//                          [--repeat R] [--json FILE]
//
// Bytes model (float32 values, int32 column ids, int64 row offsets, fused D^-1/2):
//   compulsory = (rows+1)·8 + nnz·4 + 2·rows·4 + cols·d·4 (X read once) + rows·d·4 (Y)
//   gathered   = the same with nnz·d·4 for X (every non-zero fetches its X row)
// compulsory/time is the figure compared with the copy bandwidth: it is what a kernel
// running at the memory roofline would reach. gathered/time counts the cache traffic
// the gather actually asks for and is printed next to it (an upper bound on DRAM bytes).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <numeric>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/graph/ordering.hpp"
#include "mixgcn/partition/metis.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace mixgcn;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
    int threads = 0;  // 0: OpenMP default
    index_t nodes = 100000;
    double degree = 16;
    std::vector<std::size_t> widths = {8, 16, 32, 64, 128, 256, 41, 47, 100, 602};
    std::vector<std::string> graphs = {"sbm", "rmat"};
    std::vector<std::string> orders = {"none"};  // none, shuffle, rcm, degree, metis
    int repeat = 10;
    std::string json;
};

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        auto value = [&]() -> std::string {
            require(i + 1 < argc, "flag ", flag, " needs a value");
            return argv[++i];
        };
        if (flag == "--threads")
            o.threads = std::stoi(value());
        else if (flag == "--nodes")
            o.nodes = static_cast<index_t>(std::stol(value()));
        else if (flag == "--degree")
            o.degree = std::stod(value());
        else if (flag == "--width") {
            o.widths.clear();
            for (const auto& w : split(value())) o.widths.push_back(std::stoul(w));
        } else if (flag == "--graph")
            o.graphs = split(value());
        else if (flag == "--order")
            o.orders = split(value());
        else if (flag == "--repeat")
            o.repeat = std::stoi(value());
        else if (flag == "--json")
            o.json = value();
        else
            throw invalid_argument("unknown flag '" + flag + "' (see the header of bench/aggregate.cpp)");
    }
    require(o.nodes > 1 && o.degree > 0 && o.repeat > 0 && !o.widths.empty(), "bad sizes: nodes ", o.nodes,
            ", degree ", o.degree, ", repeat ", o.repeat);
    for (const auto& g : o.graphs) require(g == "sbm" || g == "rmat", "unknown graph shape '", g, "'");
    return o;
}

// SBM-like: 64 equal blocks, 80% of edges inside the block; degrees are near-uniform.
graph::edge_list<index_t> sbm_like(index_t n, double degree, std::uint64_t seed) {
    rng g(seed);
    graph::edge_list<index_t> list;
    list.num_nodes = n;
    const std::uint64_t blocks = 64, block = (std::uint64_t(n) + blocks - 1) / blocks;
    const auto m = static_cast<std::size_t>(degree * n / 2);
    list.edges.reserve(m);
    for (std::size_t k = 0; k < m; ++k) {
        const auto u = g.below(std::uint64_t(n));
        std::uint64_t v;
        if (g.uniform() < 0.8) {
            const auto b0 = u / block * block;
            v = b0 + g.below(std::min<std::uint64_t>(block, std::uint64_t(n) - b0));
        } else {
            v = g.below(std::uint64_t(n));
        }
        list.edges.emplace_back(index_t(u), index_t(v));
    }
    return list;
}

// R-MAT-like (Graph500 quadrant probabilities 0.57/0.19/0.19/0.05), ids scrambled by a
// hash so hubs are spread over the id range: power-law degrees.
graph::edge_list<index_t> rmat_like(index_t n, double degree, std::uint64_t seed) {
    rng g(seed);
    graph::edge_list<index_t> list;
    list.num_nodes = n;
    int scale = 0;
    while ((std::int64_t{1} << scale) < n) ++scale;
    const auto m = static_cast<std::size_t>(degree * n / 2);
    list.edges.reserve(m);
    std::vector<index_t> perm(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) perm[std::size_t(i)] = i;
    for (index_t i = n - 1; i > 0; --i) std::swap(perm[std::size_t(i)], perm[g.below(std::uint64_t(i) + 1)]);
    while (list.edges.size() < m) {
        std::uint64_t u = 0, v = 0;
        for (int l = 0; l < scale; ++l) {
            const double p = g.uniform();
            const int q = p < 0.57 ? 0 : p < 0.76 ? 1 : p < 0.95 ? 2 : 3;
            u = (u << 1) | std::uint64_t(q >> 1);
            v = (v << 1) | std::uint64_t(q & 1);
        }
        if (u >= std::uint64_t(n) || v >= std::uint64_t(n)) continue;
        list.edges.emplace_back(perm[u], perm[v]);
    }
    return list;
}

// Process CPU seconds (all threads): with the wall time it tells how much of the cores
// the run actually got on a shared machine.
double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct timing {
    double best = 1e300;   // wall seconds of the fastest repetition
    double cpu_share = 0;  // CPU seconds / (wall seconds x threads) over all repetitions
};

template <class F>
timing time_best(int repeat, int threads, F&& f) {
    f();  // warm-up: page faults, caches
    timing t;
    const double c0 = cpu_seconds();
    const auto w0 = clock_type::now();
    for (int i = 0; i < repeat; ++i) {
        const auto t0 = clock_type::now();
        f();
        t.best = std::min(t.best, std::chrono::duration<double>(clock_type::now() - t0).count());
    }
    const double wall = std::chrono::duration<double>(clock_type::now() - w0).count();
    t.cpu_share = (cpu_seconds() - c0) / (wall * threads);
    return t;
}

// STREAM-style copy with the benchmark's threads: bytes = 2 · size (read + write;
// write-allocate traffic not counted, as STREAM does).
timing copy_bandwidth(int repeat, int threads) {
    const std::size_t n = std::size_t{64} << 20;  // 64 Mi floats = 256 MiB per array
    aligned_buffer<float> src(n), dst(n);
    for (std::size_t i = 0; i < n; ++i) src[i] = float(i & 1023);
    timing result = time_best(repeat, threads, [&] {
#ifdef _OPENMP
#pragma omp parallel
        {
            const auto t = std::size_t(omp_get_thread_num()), k = std::size_t(omp_get_num_threads());
            const std::size_t b = n * t / k, e = n * (t + 1) / k;
            std::memcpy(dst.data() + b, src.data() + b, (e - b) * sizeof(float));
        }
#else
        std::memcpy(dst.data(), src.data(), n * sizeof(float));
#endif
    });
    result.best = 2.0 * double(n * sizeof(float)) / result.best / 1e9;  // GB/s
    return result;
}

// Plain CSR kernel with a run-time width, accumulating into Y: what the per-width
// instances are measured against.
void naive_aggregate(const storage::sparse_view<index_t, float, offset_t>& a, const_matrix_view<float> x,
                     matrix_view<float> y) {
    const std::size_t d = x.cols();
#pragma omp parallel for schedule(dynamic, 256)
    for (index_t r = 0; r < a.rows; ++r) {
        float* yr = y.row(std::size_t(r));
        std::fill_n(yr, d, 0.0f);
        for (offset_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
            const index_t c = a.col_idx[k];
            const float w = a.col_scale[c];
            const float* xr = x.row(std::size_t(c));
            for (std::size_t j = 0; j < d; ++j) yr[j] += w * xr[j];
        }
        const float rs = a.row_scale[r];
        for (std::size_t j = 0; j < d; ++j) yr[j] *= rs;
    }
}

struct result {
    std::string graph;
    std::size_t width;
    bool instantiated;
    double seconds, naive_seconds, compulsory_bytes, gathered_bytes, cpu_share;
};

}  // namespace

int main(int argc, char** argv) try {
    const options o = parse(argc, argv);
#ifdef _OPENMP
    if (o.threads > 0) omp_set_num_threads(o.threads);
    const int threads = omp_get_max_threads();
#else
    const int threads = 1;
#endif
    const timing copy = copy_bandwidth(o.repeat, threads);
    const double copy_gbs = copy.best;
    std::printf("threads %d, copy bandwidth %.2f GB/s (STREAM copy: 2 x 256 MiB per pass, best of %d; cpu share "
                "%.0f%%)\n",
                threads, copy_gbs, o.repeat, 100 * copy.cpu_share);
    std::printf("bytes: compulsory = (rows+1)*8 + nnz*4 + 2*rows*4 + cols*d*4 + rows*d*4; "
                "gathered = same with nnz*d*4 for X\n");
    std::printf("%-11s %9s %9s %5s %5s %10s %10s %10s %7s %5s %10s %8s\n", "graph", "rows", "nnz", "width", "inst",
                "ms", "GB/s comp", "GB/s gath", "of copy", "cpu%", "naive ms", "speedup");
    std::vector<result> results;
    for (const auto& generated : o.graphs) {
        const auto base_list =
            generated == "sbm" ? sbm_like(o.nodes, o.degree, 1) : rmat_like(o.nodes, o.degree, 2);
        for (const auto& order : o.orders) {
            // The node numbering the kernel sees: as generated (sbm's communities are id
            // ranges, rmat's ids are shuffled), shuffled, or reordered from the built graph.
            auto list = base_list;
            if (order == "shuffle") {
                rng g(5);
                const auto perm = graph::random_order<index_t>(std::size_t(o.nodes), g);
                list = graph::relabel(base_list, std::span<const index_t>(perm));
            } else if (order != "none") {
                require(order == "rcm" || order == "degree" || order == "metis", "--order: unknown ordering '",
                        order, "' (none, shuffle, rcm, degree, metis)");
                const auto built = graph::build_adjacency<index_t, float>(base_list, {.symmetrize = true});
                std::vector<index_t> perm;
                if (order == "metis") {
                    // Parts of ~4096 nodes: at width 128 a part's X rows (2 MiB) fit in L2.
                    const int parts = std::max(1, int(o.nodes / 4096));
                    const auto owner = partition::metis{}.partition(built, parts);
                    perm = graph::part_order<index_t>(std::span<const int>(owner));
                } else {
                    perm = order == "rcm" ? graph::reverse_cuthill_mckee(built) : graph::degree_order(built);
                }
                list = graph::relabel(base_list, std::span<const index_t>(perm));
            }
            const std::string shape = order == "none" ? generated : generated + "/" + order;
            const auto adj = graph::build_adjacency<index_t, float>(list, {.symmetrize = true});
            const auto op = graph::gcn_normalize<float>(adj, graph::normalization_mode::fused);
            const auto a = op.forward();
            const double rows = a.rows, nnz = double(a.nnz());
            for (std::size_t d : o.widths) {
                dense_matrix<float> x(std::size_t(a.cols), d), y(std::size_t(a.rows), d), y2(std::size_t(a.rows), d);
                rng g(3);
                for (auto& v : x.values()) v = float(g.uniform(-1, 1));
                const timing th =
                    time_best(o.repeat, threads, [&] { backend::host::aggregate(a, x.cview(), y.view()); });
                const double s = th.best;
                const double s_naive =
                    time_best(o.repeat, threads, [&] { naive_aggregate(a, x.cview(), y2.view()); }).best;
                double diff = 0;
                for (std::size_t i = 0; i < y.size(); ++i)
                    diff = std::max(diff, double(std::abs(y.data()[i] - y2.data()[i])));
                require(diff < 1e-3, "host and naive kernels disagree by ", diff, " at width ", d);
                const double base = (rows + 1) * 8 + nnz * 4 + 2 * rows * 4 + rows * double(d) * 4;
                result res{shape,
                           d,
                           backend::host_detail::is_instantiated_width(backend::host_detail::aggregate_widths{}, d),
                           s,
                           s_naive,
                           base + double(a.cols) * double(d) * 4,
                           base + nnz * double(d) * 4,
                           th.cpu_share};
                std::printf("%-11s %9.0f %9.0f %5zu %5s %10.3f %10.2f %10.2f %6.0f%% %4.0f%% %10.3f %7.2fx\n",
                            shape.c_str(), rows, nnz, d, res.instantiated ? "yes" : "no", s * 1e3,
                            res.compulsory_bytes / s / 1e9, res.gathered_bytes / s / 1e9,
                            100 * res.compulsory_bytes / s / 1e9 / copy_gbs, 100 * th.cpu_share, s_naive * 1e3,
                            s_naive / s);
                results.push_back(res);
            }
        }
    }
    // A fallback width against the nearest instantiated width measured on the same graph,
    // per compulsory byte (the goal: within 10 %, docs/kernels.md).
    std::vector<std::pair<std::size_t, double>> nearest(results.size(), {0, 0.0});
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (r.instantiated) continue;
        const result* best = nullptr;
        for (const auto& q : results) {
            if (!q.instantiated || q.graph != r.graph) continue;
            const auto dist = [&](const result& c) { return c.width > r.width ? c.width - r.width : r.width - c.width; };
            if (!best || dist(q) < dist(*best)) best = &q;
        }
        if (!best) continue;
        nearest[i] = {best->width, (r.compulsory_bytes / r.seconds) / (best->compulsory_bytes / best->seconds)};
        std::printf("%-11s width %zu: %.2fx the per-byte rate of width %zu\n", r.graph.c_str(), r.width,
                    nearest[i].second, best->width);
    }
    if (!o.json.empty()) {
        std::ofstream out(o.json);
        require(bool(out), "cannot write ", o.json);
        out << "{\n  \"threads\": " << threads << ",\n  \"copy_gbs\": " << copy_gbs
            << ",\n  \"copy_cpu_share\": " << copy.cpu_share
            << ",\n  \"bytes_model\": \"compulsory = (rows+1)*8 + nnz*4 + 2*rows*4 + cols*d*4 + rows*d*4; gathered "
               "uses nnz*d*4 for X\",\n  \"results\": [\n";
        for (std::size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            out << "    {\"graph\": \"" << r.graph << "\", \"width\": " << r.width
                << ", \"instantiated\": " << (r.instantiated ? "true" : "false") << ", \"seconds\": " << r.seconds
                << ", \"naive_seconds\": " << r.naive_seconds << ", \"gbs_compulsory\": "
                << r.compulsory_bytes / r.seconds / 1e9 << ", \"gbs_gathered\": " << r.gathered_bytes / r.seconds / 1e9
                << ", \"fraction_of_copy\": " << r.compulsory_bytes / r.seconds / 1e9 / copy_gbs
                << ", \"cpu_share\": " << r.cpu_share;
            if (nearest[i].first != 0)
                out << ", \"nearest_instance\": " << nearest[i].first
                    << ", \"per_byte_vs_nearest_instance\": " << nearest[i].second;
            out << "}"
                << (i + 1 < results.size() ? ",\n" : "\n");
        }
        out << "  ]\n}\n";
    }
    return 0;
} catch (const std::exception& e) {
    std::cerr << "mixgcn-bench-aggregate: " << e.what() << "\n";
    return 1;
}
