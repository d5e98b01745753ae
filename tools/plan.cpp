// mixgcn-plan: per-rank memory by purpose and bytes per epoch of every strategy for a
// graph of the given size, from the cost model (parallel/plan.hpp), and a recommendation.
#include <cstdio>
#include <fstream>
#include <string>

#include "cli.hpp"
#include "mixgcn/parallel/plan.hpp"
#include "mixgcn/train/json_writer.hpp"

namespace {

constexpr const char* usage = R"(usage: mixgcn-plan --nodes N --edges E --features F --classes C --ranks P [flags]

Predicts, per strategy (single, graph, feature, mixture, data), the memory of the rank
that holds the most (graph, features, activations, buffers, parameters) and the bytes
its busiest rank sends per epoch, and recommends one. Bytes follow the strategies
exactly (parallel/cost.hpp); the assumptions are in docs/scaling.md.

  --nodes N --edges E     nodes; non-zeros of the adjacency (each undirected edge twice)
  --features F --classes C
  --hidden H --layers L   (16, 2)
  --ranks P               processes (1)
  --partition-stats FILE  rows and halo per rank (mixgcn-partition --stats); else the
                          graph strategy's halo is estimated for a random partition
  --device-memory BYTES   per rank; strategies that do not fit are marked (default none)
  --precision float|double   (float)
  --dropout P             (0.5; 0 drops the dropout copies)
  --chunks K              mixture's column chunks (1)
  --clusters N --clusters-per-batch K   data strategy (40, 10)
  --json FILE             the same figures as JSON
)";

double mib(double b) { return b / 1048576.0; }

}  // namespace

int main(int argc, char** argv) {
    using namespace mixgcn;
    try {
        const cli::args a(argc, argv,
                          {"nodes", "edges", "features", "hidden", "layers", "classes", "ranks", "partition-stats",
                           "device-memory", "precision", "dropout", "chunks", "clusters", "clusters-per-batch", "json"},
                          {"help"});
        if (a.has("help")) {
            std::fputs(usage, stdout);
            return 0;
        }
        for (const char* f : {"nodes", "edges", "features", "classes"})
            if (!a.has(f)) throw cli::usage_error(std::string("--") + f + " is required");
        parallel::plan::problem p;
        p.nodes = a.number<std::uint64_t>("nodes", 0);
        p.edges = a.number<std::uint64_t>("edges", 0);
        p.features = a.number<std::size_t>("features", 0);
        p.classes = a.number<std::size_t>("classes", 0);
        p.hidden = a.number<std::size_t>("hidden", 16);
        p.layers = a.number<int>("layers", 2);
        p.ranks = a.number<int>("ranks", 1);
        p.value_bytes = a.choice("precision", "float", {"float", "double"}) == "double" ? 8 : 4;
        p.dropout = a.number<double>("dropout", 0.5);
        p.chunks = a.number<int>("chunks", 1);
        p.clusters = a.number<int>("clusters", 40);
        p.clusters_per_batch = a.number<int>("clusters-per-batch", 10);
        p.device_memory = a.number<std::uint64_t>("device-memory", 0);
        if (p.ranks < 1) throw cli::usage_error("--ranks must be >= 1");
        if (p.chunks < 1) throw cli::usage_error("--chunks must be >= 1");
        if (p.classes < 2) throw cli::usage_error("--classes must be >= 2");
        if (a.has("partition-stats")) parallel::plan::read_partition_stats(a.get("partition-stats", ""), p);
        const auto plan = parallel::plan::make_plan(p);

        std::printf("%llu nodes, %llu non-zeros, %zu features, hidden %zu, %d layers, %zu classes, %d rank(s), %s\n",
                    (unsigned long long)p.nodes, (unsigned long long)p.edges, p.features, p.hidden, p.layers,
                    p.classes, p.ranks, p.value_bytes == 4 ? "float" : "double");
        std::printf("%-8s %10s %10s %11s %10s %10s %11s %14s %5s  %s\n", "strategy", "graph MiB", "feat MiB",
                    "activ MiB", "buf MiB", "param MiB", "total MiB", "MiB/epoch/rank", "fits", "note");
        for (const auto& e : plan.strategies)
            std::printf("%-8s %10.1f %10.1f %11.1f %10.1f %10.2f %11.1f %14.2f %5s  %s\n", e.strategy.c_str(),
                        mib(e.mem.graph), mib(e.mem.features), mib(e.mem.activations), mib(e.mem.buffers),
                        mib(e.mem.parameters), mib(e.mem.total()), mib(e.bytes_per_epoch), e.fits ? "yes" : "no",
                        e.note.c_str());
        std::printf("recommended: %s (%s)\n", plan.recommended.c_str(), plan.reason.c_str());
        if (a.has("json")) {
            const std::string path = a.get("json", "");
            std::ofstream os(path);
            if (!os) throw io_error(path, 0, "", "cannot open for writing");
            train::json_writer j(os);
            j.begin_object();
            j.field("nodes", p.nodes).field("edges", p.edges).field("features", p.features).field("hidden", p.hidden);
            j.field("layers", p.layers).field("classes", p.classes).field("ranks", p.ranks);
            j.field("value_bytes", p.value_bytes).field("device_memory", p.device_memory);
            j.key("strategies").begin_array();
            for (const auto& e : plan.strategies) {
                j.begin_object();
                j.field("strategy", e.strategy).field("graph_bytes", e.mem.graph).field("feature_bytes", e.mem.features);
                j.field("activation_bytes", e.mem.activations).field("buffer_bytes", e.mem.buffers);
                j.field("parameter_bytes", e.mem.parameters).field("total_bytes", e.mem.total());
                j.field("bytes_per_epoch_busiest_rank", e.bytes_per_epoch);
                j.field("bytes_per_epoch_all_ranks", e.total_bytes_per_epoch);
                j.field("fits", e.fits).field("note", e.note);
                j.end_object();
            }
            j.end_array();
            j.field("recommended", plan.recommended).field("reason", plan.reason);
            j.end_object();
            os << "\n";
        }
        return 0;
    } catch (const cli::usage_error& e) {
        std::fprintf(stderr, "mixgcn-plan: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mixgcn-plan: error: %s\n", e.what());
        return 1;
    }
}
