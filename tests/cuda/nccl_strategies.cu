// The graph, feature, mixture, data and pipeline strategies on backend::cuda across separate processes
// that may share one GPU (each its own NCCL_HOSTID, nccl_launch.hpp):
// comm::hybrid<nccl, gloo|mpi> moves halo rows, column blocks and gradients between
// device buffers through NCCL and the metrics through the host engine. Every rank trains
// the same 3-layer model, dropout on, and must reach the losses and weights the host
// `single` strategy reaches on the whole graph: float64 to 1e-9, float32 to 1e-4; data
// (Cluster-GCN batches) and the pipeline (as many stages as ranks, up to the model's 3
// layers) must reach what the same batches reach on the host. The same
// paths run on the host in tests/distributed/test_device_layout.cpp and
// test_device_data.cpp (host_as_device); this program is what a lent GPU runs. Exit 77
// (skip) when no GPU is visible.
//
// With MIXGCN_TEST_KILL_RANK=K, rank K vanishes (std::_Exit, no clean-up, as a killed
// process) at the end of epoch 3 of the float64 run; every other rank must then stop
// with a named error (comm::nccl's watchdog, or the host engine's) within 45 s, not hang.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <type_traits>
#include <vector>

#include "mixgcn/backend/cuda.cuh"
#include "mixgcn/backend/host.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/feature.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/mixture.hpp"
#include "mixgcn/parallel/pipeline.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition/random.hpp"
#include "mixgcn/train/trainer.hpp"
#include "../distributed/device_case.hpp"
#include "nccl_launch.hpp"

namespace {

using namespace mixgcn;

int my_rank = -1;
using device_case::model;
using device_case::model_seed;
using device_case::trainer_opts;

template <class B, class V>
std::vector<std::vector<V>> weights_of(nn::gcn_model<B, V>& m) {
    std::vector<std::vector<V>> w;
    for (auto* p : m.parameters()) w.push_back(backend::to_host_vector<B>(p->value.data(), p->size()));
    return w;
}

enum class strategy_case { graph, feature, mixture };
const char* name_of(strategy_case k) {
    return k == strategy_case::graph ? "graph" : k == strategy_case::feature ? "feature" : "mixture (2 chunks)";
}

// Calls f(strategy) with strategy `k` built on this rank's GPU.
template <class V, class Hybrid, class F>
int with_strategy(strategy_case k, Hybrid& c, const graph::gcn_operator<index_t, V>& op, const std::vector<int>& owner,
                  F&& f) {
    using D = backend::cuda;
    switch (k) {
        case strategy_case::graph: {
            parallel::graph<D, V, Hybrid> s(c, op, owner);
            return f(s);
        }
        case strategy_case::feature: {
            parallel::feature<D, V, Hybrid> s(c, op, owner);
            return f(s);
        }
        case strategy_case::mixture: {
            parallel::mixture<D, V, Hybrid> s(c, op, owner, 2);
            return f(s);
        }
    }
    return 1;
}

// Returns the number of failed checks on this rank.
template <class V, class Hybrid>
int check(Hybrid& c, strategy_case kind, double tol, int kill_rank = -1) {
    const auto ds = graph::generate_sbm<V>(device_case::graph());
    const auto adjacency = graph::build_adjacency<index_t, V>(ds.edges);
    const auto op = graph::gcn_normalize<V>(adjacency);
    // The same owners on every rank (a fixed seed): no broadcast needed.
    const auto parts = partition::random{}.partition(adjacency, c.size());
    const std::vector<int> owner(parts.begin(), parts.end());

    // The reference: single on the host, the whole graph.
    device_case::run_result<V> ref, got;
    {
        using H = backend::host;
        parallel::single<H, V> s(op);
        nn::gcn_model<H, V> m(model());
        m.initialize(model_seed);
        nn::optimizer<H, V> opt(nn::optimizer_options{});
        train::local_data<V> local{ds.features.cview(), ds.labels.data(), ds.nodes_with(split_role::train),
                                   ds.nodes_with(split_role::val), ds.nodes_with(split_role::test)};
        ref.res = train::trainer(s, m, opt, local, trainer_opts()).run();
        ref.weights = weights_of(m);
    }

    // The strategy on this rank's GPU.
    using D = backend::cuda;
    c.device().wait_for(gpu::current_context().stream());  // NCCL reads what the kernels wrote
    const int early = with_strategy<V>(kind, c, op, owner, [&](auto& s) -> int {
        using S = std::remove_reference_t<decltype(s)>;
        const auto in = s.local_inputs(ds);
        const auto features = gpu::to_device(in.features);
        auto data = in.data();
        data.features = features.cview();
        nn::gcn_model<D, V> m(model());
        m.initialize(model_seed);
        nn::optimizer<D, V> opt(nn::optimizer_options{});
        auto to = trainer_opts();
        std::chrono::steady_clock::time_point killed_at{};
        if (kill_rank >= 0)
            to.on_epoch = [&](const train::epoch_metrics& e) {
                if (e.epoch != 3) return;
                if (c.rank() == kill_rank) {
                    std::cout << "nccl_strategies rank " << c.rank() << ": vanishing after epoch 3" << std::endl;
                    std::_Exit(0);
                }
                killed_at = std::chrono::steady_clock::now();
            };
        try {
            got.res = train::trainer<D, V, S>(s, m, opt, data, to).run();
        } catch (const std::exception& e) {
            if (kill_rank < 0) throw;
            const double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
            const bool named = std::string(e.what()).find("rank") != std::string::npos;
            std::cout << "nccl_strategies rank " << c.rank() << ": stopped " << after
                      << " s after the peer vanished: " << e.what() << (after <= 45 && named ? "  ok" : "  FAILED")
                      << std::endl;
            return after <= 45 && named ? 0 : 1;
        }
        if (kill_rank >= 0) {
            std::cout << "nccl_strategies rank " << c.rank() << ": trained to the end although rank " << kill_rank
                      << " vanished  FAILED" << std::endl;
            return 1;
        }
        got.weights = weights_of(m);
        return -1;  // trained: compare below
    });
    if (early >= 0) return early;

    int failed = 0;
    const auto d = device_case::compare(got, ref);
    const double worst = d.loss, worst_w = d.weights;
    const auto halo = c.device().stats().total();
    if (!(worst < tol) || !(worst_w < tol)) ++failed;
    if (c.size() > 1 && halo.bytes_sent == 0) ++failed;
    std::cout << "nccl_strategies rank " << c.rank() << " " << name_of(kind) << " ("
              << (sizeof(V) == 8 ? "float64" : "float32")
              << "): max relative loss difference " << worst << ", weights " << worst_w << " (bound " << tol
              << "), NCCL bytes sent " << halo.bytes_sent << (failed ? "  FAILED" : "  ok") << "\n";
    return failed;
}

// data (or the pipeline): the same Cluster-GCN batches on the host (gradients summed by
// the host engine) and on this rank's GPU (NCCL). Returns the failed checks on this rank.
template <class V, class Hybrid>
int check_data(Hybrid& c, double tol, bool pipeline = false) {
    const auto ds = graph::generate_sbm<V>(device_case::graph());
    const auto adjacency = graph::build_adjacency<index_t, V>(ds.edges);
    parallel::data_options o;
    o.clusters = 12;
    o.clusters_per_batch = 2;
    const auto parts = partition::random{}.partition(adjacency, o.clusters);  // a fixed seed: the same on every rank
    const std::vector<int> clusters(parts.begin(), parts.end());
    parallel::pipeline_options po;
    po.stages = std::min(c.size(), 3);
    po.micro_batches = 3;
    po.data = o;
    auto run = [&]<class B, class Comm>(Comm& comm) {
        nn::gcn_model<B, V> m(model());
        m.initialize(model_seed);
        nn::optimizer<B, V> opt(nn::optimizer_options{});
        device_case::run_result<V> r;
        if (pipeline) r.res = parallel::train_pipeline<B, V>(comm, ds, adjacency, clusters, po, m, opt, trainer_opts());
        else r.res = parallel::train_clusters<B, V>(comm, ds, adjacency, clusters, o, m, opt, trainer_opts());
        r.weights = weights_of(m);
        return r;
    };
    const auto ref = run.template operator()<backend::host>(c.host());
    const auto before = c.device().stats().total().bytes_sent;
    const auto got = run.template operator()<backend::cuda>(c);
    const auto d = device_case::compare(got, ref);
    const auto sent = c.device().stats().total().bytes_sent - before;
    const bool ok = d.loss < tol && d.weights < tol && (c.size() == 1 || sent > 0);
    std::cout << "nccl_strategies rank " << c.rank() << (pipeline ? " pipeline (" : " data (")
              << (sizeof(V) == 8 ? "float64" : "float32")
              << "): max relative loss difference " << d.loss << ", weights " << d.weights << " (bound " << tol
              << "), NCCL bytes sent " << sent << (ok ? "  ok" : "  FAILED") << "\n";
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    return nccl_launch::run("nccl_strategies", argc, argv, my_rank, [](auto& c, const char* engine, int devices) {
        gpu::context ctx(c.rank() % devices);
        gpu::scoped_context use(ctx);
        if (c.rank() == 0)
            std::cout << "nccl_strategies: " << c.size() << " processes on " << devices << " GPU(s), NCCL + " << engine
                      << "\n";
        if (const char* k = std::getenv("MIXGCN_TEST_KILL_RANK")) {
            // The survivors leave at once: the communicators are broken, and their
            // destructors must not wait on the dead peer.
            const int failed = check<double>(c, strategy_case::graph, 1e-9, std::atoi(k));
            std::cout.flush();
            std::_Exit(failed ? 1 : 0);
        }
        int failed = 0;
        for (const auto kind : {strategy_case::graph, strategy_case::feature, strategy_case::mixture}) {
            failed += check<double>(c, kind, 1e-9);
            failed += check<float>(c, kind, 1e-4);
        }
        failed += check_data<double>(c, 1e-9);
        failed += check_data<float>(c, 1e-4);
        failed += check_data<double>(c, 1e-9, true);
        failed += check_data<float>(c, 1e-4, true);
        ctx.synchronize();
        return failed ? 1 : 0;
    });
}
