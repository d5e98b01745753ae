// The graph strategy over a device backend, with real processes and no GPU:
// test_device::host_as_device is the host kernels under a device backend's flag, so the
// run takes every path a CUDA run takes (the layout and the halo buffers as backend
// arrays, packing and ghost-gradient sums through B::gather_rows / B::add_row_lists, the
// exchanges on comm::hybrid's device engine, gradients summed there, the L2 term where
// the weights are). It must train the model `single` trains on the host (dropout on, the
// masks keyed by global ids), and an epoch must copy nothing between host and device:
// the metrics come back as scalars.
#include "session.hpp"

#include <cmath>
#include <vector>

#include "host_as_device.hpp"
#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/memory.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition.hpp"
#include "mixgcn/train/trainer.hpp"

using namespace mixgcn;
using test_device::host_as_device;

namespace {

constexpr std::uint64_t model_seed = 9;
constexpr int epochs = 12;

nn::model_options model() {
    nn::model_options mo;
    mo.in = 16;
    mo.classes = 4;
    mo.layers = 3;
    mo.hidden = 24;
    mo.dropout = 0.5;
    mo.weight_decay = 5e-4;
    return mo;
}
train::trainer_options trainer_opts() {
    train::trainer_options to;
    to.epochs = epochs;
    to.seed = model_seed;
    return to;
}

template <class V>
struct run_result {
    train::train_result res;
    std::vector<std::vector<V>> weights;
};

template <class V>
run_result<V> single_on_host(const test_session::problem<V>& p) {
    using B = backend::host;
    parallel::single<B, V> s(p.op);
    nn::gcn_model<B, V> m(model());
    m.initialize(model_seed);
    nn::optimizer<B, V> opt(nn::optimizer_options{});
    train::local_data<V> local{p.ds.features.cview(), p.ds.labels.data(), p.ds.nodes_with(split_role::train),
                               p.ds.nodes_with(split_role::val), p.ds.nodes_with(split_role::test)};
    run_result<V> out;
    out.res = train::trainer(s, m, opt, local, trainer_opts()).run();
    for (auto* prm : m.parameters()) out.weights.emplace_back(prm->value.data(), prm->value.data() + prm->size());
    return out;
}

// The graph strategy on the "device": features uploaded once, then trained; the
// transfers of every epoch counted.
template <class V, class Comm>
run_result<V> graph_on_device(Comm& comm, const test_session::problem<V>& p, const std::vector<int>& owner,
                              std::vector<std::size_t>& transfers_per_epoch) {
    using D = host_as_device;
    // The device engine and the host engine: two communicators over the same ranks.
    comm::hybrid<Comm, Comm> both(comm.split(0, comm.rank()), comm.split(0, comm.rank()));
    parallel::graph<D, V, comm::hybrid<Comm, Comm>> g(both, p.op, owner);
    const auto in = g.local_inputs(p.ds);
    typename D::template matrix<V> features(in.features.rows(), in.features.cols());
    backend::copy_from_host<D>(in.features.data(), in.features.size(), features.data());
    auto data = in.data();
    data.features = features.cview();
    nn::gcn_model<D, V> m(model());
    m.initialize(model_seed);
    nn::optimizer<D, V> opt(nn::optimizer_options{});
    auto to = trainer_opts();
    std::size_t last = D::uploads + D::downloads;
    to.on_epoch = [&](const train::epoch_metrics&) {
        const std::size_t now = D::uploads + D::downloads;
        transfers_per_epoch.push_back(now - last);
        last = now;
    };
    run_result<V> out;
    {
        train::trainer<D, V, parallel::graph<D, V, comm::hybrid<Comm, Comm>>> t(g, m, opt, data, to);
        last = D::uploads + D::downloads;  // after the trainer placed labels and rows
        out.res = t.run();
    }
    for (auto* prm : m.parameters()) out.weights.push_back(backend::to_host_vector<D>(prm->value.data(), prm->size()));
    // Traffic went through the device engine: the halo and the gradients.
    const auto dev = both.device().stats().total();
    CHECK((comm.size() == 1 || dev.bytes_sent > 0));
    return out;
}

template <class V, class Comm>
void check_against_single(Comm& comm, double tol) {
    const test_session::problem<V> p(test_session::sbm(2000, 8, 16, 4, 21));
    const auto owner = test_session::owners(comm, partition::random{}, p.adjacency);
    const auto ref = single_on_host(p);
    std::vector<std::size_t> transfers;
    const auto got = graph_on_device(comm, p, owner, transfers);
    REQUIRE(got.res.history.size() == ref.res.history.size());
    double worst = 0;
    for (std::size_t e = 0; e < ref.res.history.size(); ++e)
        worst = std::max(worst, std::abs(got.res.history[e].loss - ref.res.history[e].loss) /
                                    std::abs(ref.res.history[e].loss));
    double worst_w = 0;
    REQUIRE(got.weights.size() == ref.weights.size());
    for (std::size_t i = 0; i < ref.weights.size(); ++i)
        for (std::size_t k = 0; k < ref.weights[i].size(); ++k)
            worst_w = std::max(worst_w, std::abs(double(got.weights[i][k]) - double(ref.weights[i][k])) /
                                            std::max(1e-3, std::abs(double(ref.weights[i][k]))));
    if (comm.rank() == 0)
        MESSAGE("graph on host_as_device, ranks=", comm.size(), ": max relative loss difference ", worst, ", weights ",
                worst_w);
    CHECK(worst < tol);
    CHECK(worst_w < tol);
    CHECK(got.res.best_val_epoch == ref.res.best_val_epoch);
    // No copy between host and device inside an epoch: the loss, the counts and the L2
    // term come back as scalars.
    REQUIRE(transfers.size() == std::size_t(epochs));
    for (std::size_t e = 0; e < transfers.size(); ++e) {
        CAPTURE(e + 1);
        CHECK(transfers[e] == 0);
    }
}

using test_session::with_comm;

}  // namespace

TEST_CASE("graph strategy on a device backend (host-emulated), double: equals single on the host to 1e-9") {
    with_comm([](auto& comm) { check_against_single<double>(comm, 1e-9); });
}

TEST_CASE("graph strategy on a device backend (host-emulated), float: equals single on the host to 1e-4") {
    with_comm([](auto& comm) { check_against_single<float>(comm, 1e-4); });
}

int main(int argc, char** argv) { return test_session::main(argc, argv); }
