// The `data` strategy with real processes: Cora on 2 ranks reaches >= 78 % test accuracy
// with Cluster-GCN batches (METIS clusters), and the parameters stay identical on every
// rank (bit for bit) after training.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/io/dataset.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/partition.hpp"

using namespace mixgcn;

namespace {

std::unique_ptr<comm::mpi> the_comm;

template <class Comm>
void check_replicated(Comm& comm, nn::gcn_model<backend::host, float>& model) {
    for (auto* p : model.parameters()) {
        std::vector<float> mine(p->value.data(), p->value.data() + p->size()), root = mine;
        comm.broadcast(std::span<float>(root), 0);
        CHECK(mine == root);
    }
}

template <class Comm>
train::train_result train_on(Comm& comm, dataset<float>& ds, int clusters, int per_batch, int epochs,
                             nn::gcn_model<backend::host, float>& model) {
    const auto adjacency = graph::build_adjacency<index_t, float>(ds.edges);
    std::vector<std::int32_t> cluster(static_cast<std::size_t>(adjacency.rows));
    if (comm.rank() == 0) {
#ifdef MIXGCN_HAS_METIS
        const auto c = partition::metis{}.partition(adjacency, clusters);
#else
        const auto c = partition::block{}.partition(adjacency, clusters);
#endif
        std::copy(c.begin(), c.end(), cluster.begin());
    }
    comm.broadcast(std::span<std::int32_t>(cluster), 0);
    model.initialize(3);
    nn::optimizer<backend::host, float> opt(nn::optimizer_options{});
    train::trainer_options to;
    to.epochs = epochs;
    to.seed = 7;
    parallel::data_options o;
    o.clusters_per_batch = per_batch;
    parallel::data_report rep;
    const auto res = parallel::train_data_parallel(comm, ds, adjacency, std::vector<int>(cluster.begin(), cluster.end()),
                                                   clusters, o, model, opt, to, &rep);
    if (comm.rank() == 0)
        MESSAGE(ds.name, ": ", comm.size(), " ranks, ", rep.steps, " steps, mean batch ",
                rep.steps ? rep.batch_nodes / rep.steps : 0, " nodes; test accuracy ", res.test_acc,
                " (best val ", res.best_val_acc, " at epoch ", res.best_val_epoch, ")");
    CHECK(rep.steps > 0);
    CHECK(rep.bytes_sent > 0);
    return res;
}

}  // namespace

TEST_CASE("Cora with 2 ranks: test accuracy >= 78%, parameters replicated") {
    const auto dir = std::filesystem::path(MIXGCN_DATASETS_DIR) / "cora";
    if (!std::filesystem::exists(dir)) {
        MESSAGE("skipped: ", dir.string(), " not found");
        return;
    }
    auto ds = io::load_dataset<float>(dir);
    graph::row_normalize(ds.features);
    nn::model_options mo;
    mo.in = ds.features.cols();
    mo.classes = std::size_t(ds.num_classes);
    nn::gcn_model<backend::host, float> model(mo);
    const auto res = train_on(*the_comm, ds, 40, 10, 200, model);
    CHECK(res.test_acc >= 0.78);
    check_replicated(*the_comm, model);
}

TEST_CASE("generated graph: learns well above chance, parameters replicated") {
    graph::sbm_options o;
    o.nodes = 3000;
    o.classes = 4;
    o.features = 32;
    o.model = graph::feature_model::gaussian;
    auto ds = graph::generate_sbm<float>(o);
    nn::model_options mo;
    mo.in = 32;
    mo.classes = 4;
    nn::gcn_model<backend::host, float> model(mo);
    const auto res = train_on(*the_comm, ds, 24, 4, 60, model);
    CHECK(res.test_acc > 0.6);  // chance is 0.25
    check_replicated(*the_comm, model);
}

TEST_CASE("independent graphs: 5 graphs over the ranks learn, parameters replicated") {
    std::vector<dataset<float>> graphs;
    for (std::uint64_t k = 0; k < 5; ++k) {
        graph::sbm_options o;
        o.nodes = 800;
        o.classes = 4;
        o.features = 16;
        o.model = graph::feature_model::gaussian;
        o.seed = 100 + k;  // disjoint graphs, same generative model
        graphs.push_back(graph::generate_sbm<float>(o));
    }
    nn::model_options mo;
    mo.in = 16;
    mo.classes = 4;
    nn::gcn_model<backend::host, float> model(mo);
    model.initialize(9);
    nn::optimizer<backend::host, float> opt(nn::optimizer_options{});
    train::trainer_options to;
    to.epochs = 120;
    const auto res = parallel::train_independent_graphs(*the_comm, graphs, model, opt, to);
    if (the_comm->rank() == 0) MESSAGE("independent graphs: test accuracy ", res.test_acc);
    CHECK(res.test_acc > 0.6);  // chance is 0.25
    check_replicated(*the_comm, model);
}

int main(int argc, char** argv) {
    comm::mpi::environment env(argc, argv);
    the_comm = std::make_unique<comm::mpi>();
    doctest::Context ctx(argc, argv);
    const int rc = ctx.run();
    the_comm.reset();
    return rc;
}
