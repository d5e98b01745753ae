// The README's example, compiled so it cannot rot: trains a 2-layer GCN on a dataset
// folder given as the first argument, or on a generated graph without one.
#include <cstdio>

#include <mixgcn/mixgcn.hpp>
using namespace mixgcn;

int main(int argc, char** argv) try {
    auto data = argc > 1 ? io::load_dataset<float>(argv[1]) : graph::generate_sbm<float>({});
    if (argc > 1) graph::row_normalize(data.features);
    auto op = graph::gcn_normalize<float>(graph::build_adjacency<index_t, float>(data.edges));
    nn::model_options mo;  // 2 layers, hidden 16, dropout 0.5, weight decay 5e-4 on layer 1
    mo.in = data.features.cols();
    mo.classes = std::size_t(data.num_classes);
    nn::gcn_model<backend::host, float> model(mo);
    model.initialize(/*seed=*/42);
    nn::optimizer<backend::host, float> adam(nn::optimizer_options{});  // Adam, lr 0.01
    parallel::single<backend::host, float> strategy(op);
    train::local_data<float> local{data.features.cview(), data.labels.data(), data.nodes_with(split_role::train),
                                   data.nodes_with(split_role::val), data.nodes_with(split_role::test)};
    train::trainer_options to;  // 200 epochs, best-validation model selection
    auto result = train::trainer(strategy, model, adam, local, to).run();
    std::printf("test accuracy %.3f\n", result.test_acc);
} catch (const mixgcn::error& e) {
    std::fprintf(stderr, "quickstart: %s\n", e.what());
    return 1;
}
