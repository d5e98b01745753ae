// Published accuracy of the 2-layer GCN of Kipf & Welling (2017, Table 2) on the
// Planetoid splits: 81.5 % Cora, 70.3 % Citeseer. Mean test accuracy over 5 seeds at
// the best-validation epoch must reach 80.5 % / 69.5 %.
#include <doctest/doctest.h>

#include <filesystem>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/io/dataset.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/train/trainer.hpp"

using namespace mixgcn;

namespace {

double mean_test_accuracy(const std::string& name) {
    const auto dir = std::filesystem::path(MIXGCN_DATASETS_DIR) / name;
    auto ds = io::load_dataset<float>(dir);
    graph::row_normalize(ds.features);
    const auto op = graph::gcn_normalize<float>(graph::build_adjacency<index_t, float>(ds.edges));
    parallel::single<backend::host, float> s(op);
    train::local_data<float> local{ds.features.cview(), ds.labels.data(), ds.nodes_with(split_role::train),
                                   ds.nodes_with(split_role::val), ds.nodes_with(split_role::test)};
    double sum = 0;
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        nn::model_options mo;
        mo.in = ds.features.cols();
        mo.classes = std::size_t(ds.num_classes);
        mo.hidden = 16;
        mo.dropout = 0.5;
        mo.weight_decay = 5e-4;
        nn::gcn_model<backend::host, float> model(mo);
        model.initialize(seed);
        nn::optimizer<backend::host, float> opt(nn::optimizer_options{nn::optimizer_kind::adam, 0.01});
        train::trainer_options to;
        to.epochs = 200;
        to.seed = seed;
        const auto res = train::trainer(s, model, opt, local, to).run();
        MESSAGE(name, " seed ", seed, ": test ", res.test_acc, " (best val ", res.best_val_acc, " at epoch ",
                res.best_val_epoch, ")");
        sum += res.test_acc;
    }
    return sum / 5;
}

bool have(const std::string& name) {
    if (std::filesystem::exists(std::filesystem::path(MIXGCN_DATASETS_DIR) / name)) return true;
    MESSAGE("skipped: ", MIXGCN_DATASETS_DIR, "/", name, " not found");
    return false;
}

}  // namespace

TEST_CASE("Cora: mean test accuracy over 5 seeds >= 80.5%") {
    if (!have("cora")) return;
    const double acc = mean_test_accuracy("cora");
    MESSAGE("Cora mean test accuracy ", acc);
    CHECK(acc >= 0.805);
}

TEST_CASE("Citeseer: mean test accuracy over 5 seeds >= 69.5%") {
    if (!have("citeseer")) return;
    const double acc = mean_test_accuracy("citeseer");
    MESSAGE("Citeseer mean test accuracy ", acc);
    CHECK(acc >= 0.695);
}
