// Whole-model training on the GPU (nn::gcn_model + train::trainer over backend::cuda)
// against the same training on the host backend: same graph, seed and flags, and the
// per-epoch losses, accuracies and final weights must agree. Float runs within 1e-4
// relative (different summation orders, 20 Adam steps); double runs within 1e-9. The
// dropout masks are the same counter-based draw on both sides, so dropout stays on in
// some cases. Also: checkpoint/resume on the device continues the uninterrupted run,
// and after the first epoch the device memory pool does not grow.
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mixgcn/backend/cuda.cuh"
#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/memory.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/generators/sbm.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/train/trainer.hpp"

using namespace mixgcn;
namespace mc = mixgcn::gpu;

namespace {

struct run_config {
    int layers = 2;
    std::size_t hidden = 32;
    double dropout = 0.0;
    nn::optimizer_kind kind = nn::optimizer_kind::adam;
    graph::normalization_mode mode = graph::normalization_mode::fused;
    int epochs = 20;
    std::filesystem::path checkpoint, resume;
    int checkpoint_every = 0;
};

template <class V>
struct problem {
    dataset<V> ds;
    storage::csr<index_t, V> adjacency;
};

template <class V>
problem<V> make_problem() {
    graph::sbm_options o;
    o.nodes = 3000;
    o.avg_degree = 12;
    o.classes = 6;
    o.features = 64;
    o.seed = 7;
    problem<V> p{graph::generate_sbm<V>(o), {}};
    graph::row_normalize(p.ds.features);
    p.adjacency = graph::build_adjacency<index_t, V>(p.ds.edges);
    return p;
}

template <class V>
struct outcome {
    train::train_result res;
    std::vector<std::vector<V>> weights;  // final (best-epoch) parameters, on the host
    std::size_t pool_growth = 0;          // device pool bytes reserved after epoch 2 vs at the end
};

template <class B, class V>
outcome<V> train_once(const problem<V>& p, const run_config& c) {
    nn::model_options mo;
    mo.in = p.ds.features.cols();
    mo.classes = std::size_t(p.ds.num_classes);
    mo.hidden = c.hidden;
    mo.layers = c.layers;
    mo.dropout = c.dropout;
    nn::gcn_model<B, V> model(mo);
    model.initialize(42);
    nn::optimizer_options oo;
    oo.kind = c.kind;
    oo.lr = c.kind == nn::optimizer_kind::adam ? 0.01 : 0.2;
    oo.momentum = c.kind == nn::optimizer_kind::sgd ? 0.9 : 0.0;
    nn::optimizer<B, V> opt(oo);
    train::trainer_options to;
    to.epochs = c.epochs;
    to.seed = 42;
    to.checkpoint = c.checkpoint;
    to.checkpoint_every = c.checkpoint_every;
    to.resume = c.resume;
    const auto op = graph::gcn_normalize<V>(p.adjacency, c.mode);
    const auto train = p.ds.nodes_with(split_role::train), val = p.ds.nodes_with(split_role::val),
               test = p.ds.nodes_with(split_role::test);
    outcome<V> out;
    if constexpr (backend::host_accessible<B>()) {
        parallel::single<B, V> s(op);
        train::local_data<V> data{p.ds.features.cview(), p.ds.labels.data(), train, val, test};
        train::trainer<B, V, parallel::single<B, V>> t(s, model, opt, data, to);
        out.res = t.run();
    } else {
        const auto dop = mc::to_device(op);
        const auto x = mc::to_device(p.ds.features);
        parallel::single<B, V> s(dop);
        train::local_data<V> data{x.cview(), p.ds.labels.data(), train, val, test};
        cudaMemPool_t pool{};
        REQUIRE(cudaDeviceGetDefaultMemPool(&pool, mc::current_context().device()) == cudaSuccess);
        std::uint64_t after_second = 0;
        to.on_epoch = [&](const train::epoch_metrics& m) {
            if (m.epoch != 2) return;
            mc::current_context().synchronize();
            REQUIRE(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &after_second) == cudaSuccess);
        };
        train::trainer<B, V, parallel::single<B, V>> t(s, model, opt, data, to);
        out.res = t.run();
        mc::current_context().synchronize();
        std::uint64_t at_end = 0;
        REQUIRE(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &at_end) == cudaSuccess);
        out.pool_growth = after_second && at_end > after_second ? std::size_t(at_end - after_second) : 0;
    }
    for (auto* prm : model.parameters())
        out.weights.push_back(backend::to_host_vector<B>(prm->value.data(), prm->size()));
    return out;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(1.0, std::abs(b)); }

template <class V>
void compare(const outcome<V>& gpu, const outcome<V>& host, double tol, std::size_t val_nodes) {
    REQUIRE(gpu.res.history.size() == host.res.history.size());
    double worst_loss = 0, worst_weight = 0;
    for (std::size_t e = 0; e < host.res.history.size(); ++e) {
        const auto& g = gpu.res.history[e];
        const auto& h = host.res.history[e];
        worst_loss = std::max(worst_loss, rel(g.loss, h.loss));
        // An accuracy may differ by a node whose two top logits are closer than the tolerance.
        CHECK(std::abs(g.val_acc - h.val_acc) <= 2.0 / double(val_nodes) + 1e-12);
    }
    for (std::size_t p = 0; p < host.weights.size(); ++p)
        for (std::size_t i = 0; i < host.weights[p].size(); ++i)
            worst_weight = std::max(worst_weight, rel(double(gpu.weights[p][i]), double(host.weights[p][i])));
    MESSAGE("largest relative difference GPU vs host over ", host.res.history.size(), " epochs: loss ", worst_loss,
            ", weights ", worst_weight, " (tolerance ", tol, ")");
    CHECK(worst_loss <= tol);
    CHECK(worst_weight <= tol * 10);
}

}  // namespace

TEST_SUITE("cuda-device") {
TEST_CASE_TEMPLATE("GPU training matches the host trainer epoch by epoch", V, float, double) {
    const double tol = std::is_same_v<V, float> ? 1e-4 : 1e-9;
    const auto p = make_problem<V>();
    const std::size_t val_nodes = p.ds.nodes_with(split_role::val).size();
    SUBCASE("2 layers, transform first, fused normalisation, dropout off") {
        run_config c;
        const auto g = train_once<backend::cuda, V>(p, c);
        const auto h = train_once<backend::host, V>(p, c);
        compare(g, h, tol, val_nodes);
        CHECK(g.res.history.front().loss > g.res.history.back().loss);  // it learns
        CHECK(g.pool_growth == 0);
    }
    SUBCASE("3 layers, aggregate first (hidden wider than input), stored edge weights, dropout on") {
        run_config c;
        c.layers = 3;
        c.hidden = 96;
        c.dropout = 0.5;
        c.mode = graph::normalization_mode::edge_weights;
        compare(train_once<backend::cuda, V>(p, c), train_once<backend::host, V>(p, c), tol, val_nodes);
    }
    SUBCASE("momentum SGD") {
        run_config c;
        c.kind = nn::optimizer_kind::sgd;
        c.dropout = 0.5;
        compare(train_once<backend::cuda, V>(p, c), train_once<backend::host, V>(p, c), tol, val_nodes);
    }
}

TEST_CASE("checkpoint and resume on the GPU continue the uninterrupted run") {
    const auto p = make_problem<double>();
    const auto dir = std::filesystem::path(MIXGCN_TEST_TMPDIR);
    std::filesystem::create_directories(dir);
    run_config whole;
    whole.epochs = 12;
    whole.dropout = 0.5;
    const auto reference = train_once<backend::cuda, double>(p, whole);
    run_config first = whole;
    first.epochs = 6;
    first.checkpoint = dir / "gpu_resume.ckpt";
    first.checkpoint_every = 6;
    train_once<backend::cuda, double>(p, first);
    run_config second = whole;
    second.resume = first.checkpoint;
    const auto resumed = train_once<backend::cuda, double>(p, second);
    REQUIRE(resumed.res.resumed_from_epoch == 6);
    REQUIRE(resumed.res.history.size() == reference.res.history.size());
    for (std::size_t e = 0; e < reference.res.history.size(); ++e)
        CHECK(rel(resumed.res.history[e].loss, reference.res.history[e].loss) <= 1e-12);
    for (std::size_t q = 0; q < reference.weights.size(); ++q)
        for (std::size_t i = 0; i < reference.weights[q].size(); ++i)
            REQUIRE(rel(resumed.weights[q][i], reference.weights[q][i]) <= 1e-12);
}
}
