// A downstream program: trains two epochs on a generated graph through the public
// headers only, and fails when the loss is not finite or does not go down.
#include <cmath>
#include <cstdio>

#include <mixgcn/mixgcn.hpp>

int main() {
    using namespace mixgcn;
    graph::sbm_options gen;
    gen.nodes = 2000;
    gen.features = 32;
    auto data = graph::generate_sbm<float>(gen);
    const auto op = graph::gcn_normalize<float>(graph::build_adjacency<index_t, float>(data.edges));

    nn::model_options mo;
    mo.in = data.features.cols();
    mo.classes = std::size_t(data.num_classes);
    nn::gcn_model<backend::host, float> model(mo);
    model.initialize(42);
    nn::optimizer<backend::host, float> opt({});
    parallel::single<backend::host, float> strategy(op);

    train::local_data<float> local{data.features.cview(), data.labels.data(), data.nodes_with(split_role::train),
                                   data.nodes_with(split_role::val), data.nodes_with(split_role::test)};
    train::trainer_options to;
    to.epochs = 2;
    const auto result = train::trainer(strategy, model, opt, local, to).run();
    for (const auto& m : result.history) std::printf("epoch %d loss %.4f val %.3f\n", m.epoch, m.loss, m.val_acc);
    const bool ok = result.history.size() == 2 && std::isfinite(result.history[1].loss) &&
                    result.history[1].loss < result.history[0].loss;
    return ok ? 0 : 1;
}
