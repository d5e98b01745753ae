// mixgcn-partition: partitions a dataset's graph with one or all methods, prints their
// quality metrics side by side and writes the owner of every node to a file that
// `mixgcn-train --partition-file` reads.
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/stats.hpp"
#include "mixgcn/io/dataset.hpp"
#include "mixgcn/parallel/plan.hpp"
#include "mixgcn/partition.hpp"

namespace {

constexpr const char* usage =
    "usage: mixgcn-partition (--data DIR | --generate sbm|rmat) --parts P\n"
    "                        [--method block|random|spectral|metis|fennel|ptscotch|all] [--out FILE] [--seed S]\n"
    "                        [--imbalance E] [--passes K] [--per-rank] [--stats FILE]\n"
    "  --data DIR        dataset folder (see docs/datasets); only its graph is used\n"
    "  --generate sbm    power-law stochastic block model: --nodes N --avg-degree D --classes C\n"
    "                    --homophily H --graph-seed S\n"
    "  --generate rmat   Graph500 R-MAT: --scale S --edge-factor F --graph-seed S\n"
    "  --method          one method, or all of them side by side (default all)\n"
    "  --out FILE        owners, one per line; with --method all, FILE.<method> per method\n"
    "  --seed S          seed of random, spectral and metis (default 0)\n"
    "  --imbalance E     spectral's and ptscotch's balance tolerance (default 0.03); metis: ufactor = 1000 E\n"
    "  --passes K        fennel's streaming passes (default 1; later passes restream)\n"
    "  --per-rank        also print owned nodes, non-zeros and halo of every rank\n"
    "  --stats FILE      rows and halo rows (received, sent) per rank for mixgcn-plan\n"
    "                    --partition-stats; with --method all, FILE.<method> per method\n";

struct result {
    std::string method;
    double seconds = 0;
    std::vector<int> owner;
    mixgcn::partition::quality q;
};

template <class P>
result run(const P& p, const mixgcn::storage::csr<mixgcn::index_t, float>& a, int parts) {
    result r;
    r.method = std::string(p.name());
    const auto t0 = std::chrono::steady_clock::now();
    r.owner = p.partition(a, parts);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.q = mixgcn::partition::evaluate(a, r.owner, parts);
    return r;
}

void print_table(const std::vector<result>& rs, std::int64_t undirected_edges) {
    auto row = [&](const std::string& label, auto value) {
        std::cout << std::left << std::setw(18) << label << std::right;
        for (const auto& r : rs) std::cout << std::setw(13) << value(r);
        std::cout << '\n';
    };
    row("metric", [](const result& r) { return r.method; });
    auto fixed = [](double v, int digits) {
        std::ostringstream os;
        os << std::fixed << std::setprecision(digits) << v;
        return os.str();
    };
    row("edge cut", [](const result& r) { return r.q.edge_cut; });
    row("cut fraction", [&](const result& r) {
        return fixed(undirected_edges ? double(r.q.edge_cut) / double(undirected_edges) : 0.0, 4);
    });
    row("total halo", [](const result& r) { return r.q.total_halo; });
    row("max halo", [](const result& r) { return r.q.max_halo; });
    row("node balance", [&](const result& r) { return fixed(r.q.node_balance, 4); });
    row("nonzero balance", [&](const result& r) { return fixed(r.q.nonzero_balance, 4); });
    row("cost balance", [&](const result& r) { return fixed(r.q.cost_balance, 4); });
    row("time [s]", [&](const result& r) { return fixed(r.seconds, 3); });
}

int run_tool(int argc, char** argv) {
    namespace mp = mixgcn::partition;
    mixgcn::cli::args args(argc, argv,
                           {"data", "generate", "parts", "method", "out", "seed", "imbalance", "nodes", "avg-degree",
                            "classes", "homophily", "scale", "edge-factor", "graph-seed", "stats", "passes"},
                           {"per-rank", "help"});
    if (args.has("help")) {
        std::cout << usage;
        return 0;
    }
    if (args.has("data") == args.has("generate"))
        throw mixgcn::cli::usage_error("give exactly one of --data DIR and --generate sbm|rmat");
    if (!args.has("parts")) throw mixgcn::cli::usage_error("--parts P is required");
    const int parts = args.number<int>("parts", 0);
    if (parts < 1) throw mixgcn::cli::usage_error("--parts " + std::to_string(parts) + " must be at least 1");
    const auto method =
        args.choice("method", "all", {"block", "random", "spectral", "metis", "fennel", "ptscotch", "all"});
    const auto seed = args.number<std::uint64_t>("seed", 0);
    const double imbalance = args.number<double>("imbalance", 0.03);
    if (!(imbalance > 0 && imbalance < 1))
        throw mixgcn::cli::usage_error("--imbalance " + std::to_string(imbalance) + " must be in (0, 1)");
    const int passes = args.number<int>("passes", 1);
    if (passes < 1) throw mixgcn::cli::usage_error("--passes " + std::to_string(passes) + " must be at least 1");

    mixgcn::graph::edge_list<mixgcn::index_t> edges;
    std::string source;
    if (args.has("data")) {
        source = args.get("data", "");
        edges = mixgcn::io::load_dataset<float>(source).edges;
    } else {
        const auto kind = args.choice("generate", "sbm", {"sbm", "rmat"});
        if (kind == "sbm") {
            mixgcn::graph::sbm_options o;
            o.nodes = args.number<std::int64_t>("nodes", 100000);
            o.avg_degree = args.number<double>("avg-degree", 10.0);
            o.classes = args.number<std::int32_t>("classes", 8);
            o.homophily = args.number<double>("homophily", 0.75);
            o.seed = args.number<std::uint64_t>("graph-seed", 1);
            o.features = 1;  // only the graph is partitioned
            edges = mixgcn::graph::generate_sbm<float>(o).edges;
            source = "sbm(nodes=" + std::to_string(o.nodes) + ", avg_degree=" + args.get("avg-degree", "10") +
                     ", classes=" + std::to_string(o.classes) + ", homophily=" + args.get("homophily", "0.75") + ")";
        } else {
            mixgcn::graph::rmat_options o;
            o.scale = args.number<int>("scale", 16);
            o.edge_factor = args.number<std::int64_t>("edge-factor", 16);
            o.seed = args.number<std::uint64_t>("graph-seed", 1);
            edges = mixgcn::graph::generate_rmat(o);
            source = "rmat(scale=" + std::to_string(o.scale) + ", edge_factor=" + std::to_string(o.edge_factor) + ")";
        }
    }
    const auto a = mixgcn::graph::build_adjacency<mixgcn::index_t, float>(edges);
    const auto stats = mixgcn::graph::compute_degree_stats(a);
    const auto undirected_edges = static_cast<std::int64_t>(a.nnz() / 2);
    std::cout << "graph: " << source << ": " << a.rows << " nodes, " << undirected_edges
              << " undirected edges, degree mean " << std::setprecision(3) << stats.mean << " max " << stats.max
              << ", " << stats.isolated << " isolated\n"
              << "parts: " << parts << "\n\n";

    std::vector<result> results;
    auto want = [&](const char* m) { return method == "all" || method == m; };
    if (want("block")) results.push_back(run(mp::block{}, a, parts));
    if (want("random")) results.push_back(run(mp::random{.seed = seed}, a, parts));
    if (want("spectral")) results.push_back(run(mp::spectral{.seed = seed, .imbalance = imbalance}, a, parts));
    if (want("fennel")) results.push_back(run(mp::fennel{.seed = seed, .passes = passes}, a, parts));
    if (want("metis")) {
        if (mp::metis::available() || method == "metis")
            results.push_back(run(mp::metis{.seed = seed, .ufactor = static_cast<int>(imbalance * 1000 + 0.5)}, a, parts));
        else
            std::cout << "(metis skipped: built without METIS)\n";
    }
    if (want("ptscotch")) {  // the whole graph in this process (PT-Scotch on MPI_COMM_SELF)
        if (mp::ptscotch::available() || method == "ptscotch")
            results.push_back(run(mp::ptscotch{.imbalance = imbalance}, a, parts));
        else
            std::cout << "(ptscotch skipped: built without PT-Scotch)\n";
    }
    print_table(results, undirected_edges);

    if (args.has("per-rank"))
        for (const auto& r : results) {
            std::cout << "\n" << r.method << " per rank: rank nodes nonzeros halo\n";
            for (int p = 0; p < parts; ++p)
                std::cout << "  " << p << ' ' << r.q.owned_nodes[static_cast<std::size_t>(p)] << ' '
                          << r.q.owned_nonzeros[static_cast<std::size_t>(p)] << ' '
                          << r.q.halo[static_cast<std::size_t>(p)] << '\n';
        }
    if (args.has("stats")) {
        const auto out = args.get("stats", "");
        for (const auto& r : results) {
            const auto path = method == "all" ? out + "." + r.method : out;
            mixgcn::parallel::plan::write_partition_stats(
                path, mixgcn::parallel::cost::layout_of(a, std::span<const int>(r.owner), parts), source + " " + r.method);
            std::cout << "wrote " << path << '\n';
        }
    }
    if (args.has("out")) {
        const auto out = args.get("out", "");
        for (const auto& r : results) {
            const auto path = method == "all" ? out + "." + r.method : out;
            mp::write_partition_file(path, r.owner, parts, r.method);
            std::cout << "wrote " << path << '\n';
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run_tool(argc, argv);
    } catch (const mixgcn::cli::usage_error& e) {
        std::cerr << "mixgcn-partition: " << e.what() << "\n" << usage;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mixgcn-partition: " << e.what() << '\n';
        return 1;
    }
}
