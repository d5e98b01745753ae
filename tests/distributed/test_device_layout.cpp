// The graph (from the global operator, and from this rank's rows as --load partitioned
// builds it), feature and mixture strategies over a device backend, with real processes
// and no GPU: test_device::host_as_device is the host kernels under a device backend's
// flag, so the run takes every path a CUDA run takes (the layout and the buffers as
// backend arrays, halo packing, ghost-gradient sums, column blocks and layout switches
// through B::copy_rows / gather_rows / add_row_lists / fill_zero, the exchanges on
// comm::hybrid's device engine, gradients reduced there, the L2 term where the weights
// are). Each must train the model `single` trains on the host (dropout on, the masks
// keyed by global ids), and an epoch must copy nothing between host and device: the
// metrics come back as scalars.
#include "session.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "device_case.hpp"
#include "device_checks.hpp"
#include "host_as_device.hpp"
#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/resident_csr.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/graph/ordering.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/balance.hpp"
#include "mixgcn/parallel/feature.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/mixture.hpp"
#include "mixgcn/parallel/renumbered.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition.hpp"
#include "mixgcn/train/trainer.hpp"

using namespace mixgcn;
using test_device::host_as_device;

namespace {

using device_case::epochs;
using device_case::model;
using device_case::model_seed;
using device_case::run_result;
using device_case::trainer_opts;

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

// A strategy on the "device": features uploaded once, then trained; the transfers of
// every epoch counted.
template <class V, class S>
run_result<V> train_on_device(S& s, const test_session::problem<V>& p, std::vector<std::size_t>& transfers_per_epoch) {
    using D = host_as_device;
    const auto in = s.local_inputs(p.ds);
    const auto features = backend::matrix_from_host<D>(in.feature_block());
    auto data = in.data();
    data.features = features.cview();
    nn::gcn_model<D, V> m(model());
    m.initialize(model_seed);
    nn::optimizer<D, V> opt(nn::optimizer_options{});
    auto to = trainer_opts();
    std::size_t last = 0;
    to.on_epoch = [&](const train::epoch_metrics&) {
        const std::size_t now = D::uploads + D::downloads;
        transfers_per_epoch.push_back(now - last);
        last = now;
    };
    run_result<V> out;
    {
        train::trainer<D, V, S> t(s, m, opt, data, to);
        last = D::uploads + D::downloads;  // after the trainer placed labels and rows
        out.res = t.run();
    }
    for (auto* prm : m.parameters()) out.weights.push_back(backend::to_host_vector<D>(prm->value.data(), prm->size()));
    return out;
}

enum class strategy_case { graph, graph_local_rows, feature, mixture, mixture_3_chunks };
const char* name_of(strategy_case c) {
    switch (c) {
        case strategy_case::graph: return "graph";
        case strategy_case::graph_local_rows: return "graph from this rank's rows";
        case strategy_case::feature: return "feature";
        case strategy_case::mixture: return "mixture";
        case strategy_case::mixture_3_chunks: return "mixture, 3 chunks";
    }
    return "?";
}

// The strategy composed with host_as_device over two communicators of the same ranks
// (the device engine and the host engine).
template <class V, class Comm>
run_result<V> on_device(Comm& comm, strategy_case c, const test_session::problem<V>& p, const std::vector<int>& owner,
                        std::vector<std::size_t>& transfers) {
    using D = host_as_device;
    using H = comm::hybrid<Comm, Comm>;
    H both(comm.split(0, comm.rank()), comm.split(0, comm.rank()));
    run_result<V> out;
    switch (c) {
        case strategy_case::graph: {
            parallel::graph<D, V, H> s(both, p.op, owner);
            out = train_on_device(s, p, transfers);
            break;
        }
        case strategy_case::graph_local_rows: {  // what --load partitioned builds: no global operator
            std::vector<index_t> owned;
            storage::csr<index_t, V> rows;
            rows.cols = p.adjacency.cols;
            for (std::size_t v = 0; v < owner.size(); ++v) {
                if (owner[v] != comm.rank()) continue;
                owned.push_back(index_t(v));
                for (const index_t col : p.adjacency.row_cols(index_t(v))) rows.col_idx.push_back(col);
                rows.row_ptr.push_back(offset_t(rows.col_idx.size()));
            }
            rows.rows = index_t(owned.size());
            parallel::graph<D, V, H> s(both, p.adjacency.rows, owned, rows, owner);
            out = train_on_device(s, p, transfers);
            break;
        }
        case strategy_case::feature: {
            parallel::feature<D, V, H> s(both, p.op, owner);
            out = train_on_device(s, p, transfers);
            break;
        }
        case strategy_case::mixture:
        case strategy_case::mixture_3_chunks: {
            parallel::mixture<D, V, H> s(both, p.op, owner, c == strategy_case::mixture ? 1 : 3);
            out = train_on_device(s, p, transfers);
            break;
        }
    }
    // The activations moved on the device engine (the host engine only carried metrics).
    CHECK((comm.size() == 1 || both.device().stats().total().bytes_sent > 0));
    return out;
}

template <class V, class Comm>
void check_one(Comm& comm, strategy_case c, const test_session::problem<V>& p, const std::vector<int>& owner,
               const run_result<V>& ref, double tol) {
    std::vector<std::size_t> transfers;
    const auto got = on_device(comm, c, p, owner, transfers);
    device_checks::check_same_model(comm, name_of(c), got, ref, tol);
    // No copy between host and device inside an epoch: the loss, the counts and the L2
    // term come back as scalars.
    REQUIRE(transfers.size() == std::size_t(epochs));
    for (std::size_t e = 0; e < transfers.size(); ++e) {
        CAPTURE(e + 1);
        CHECK(transfers[e] == 0);
    }
}

template <class V, class Comm>
void check_against_single(Comm& comm, double tol) {
    const test_session::problem<V> p(device_case::graph());
    const auto owner = test_session::owners(comm, partition::random{}, p.adjacency);
    const auto ref = single_on_host(p);
    for (const auto c : {strategy_case::graph, strategy_case::graph_local_rows, strategy_case::feature,
                         strategy_case::mixture, strategy_case::mixture_3_chunks}) {
        CAPTURE(name_of(c));
        check_one(comm, c, p, owner, ref, tol);
    }
}

// The graph renumbered by decreasing degree, as --order degree does at load, trained by
// single (one rank) or graph and mixture (several) on the device with rows named by the
// loaded ids (parallel::renumbered, its ids in device memory): the losses and weights
// of single on the host in the loaded ids, up to the summation order of each row.
template <class V, class Comm>
void check_in_degree_order(Comm& comm, double tol) {
    using D = host_as_device;
    using H = comm::hybrid<Comm, Comm>;
    const test_session::problem<V> p(device_case::graph());
    const auto ref = single_on_host(p);
    test_session::problem<V> q(device_case::graph());
    const auto order = graph::degree_order(q.adjacency);  // order[new] = loaded id
    const std::span<const index_t> original(order);
    q.adjacency = graph::permute(q.adjacency, original);
    graph::permute_nodes(q.ds, original);
    q.op = graph::gcn_normalize<V>(q.adjacency);
    H both(comm.split(0, comm.rank()), comm.split(0, comm.rank()));
    const auto owner = test_session::owners(comm, partition::random{}, q.adjacency);
    auto check = [&](auto& s, const char* what) {
        std::vector<std::size_t> transfers;
        const auto got = train_on_device(s, q, transfers);
        device_checks::check_same_model(comm, std::string(what) + " in degree order", got, ref, tol);
        for (const auto t : transfers) CHECK(t == 0);
    };
    if (comm.size() == 1) {
        const backend::resident_operator<D, index_t, V> op(q.op);
        parallel::renumbered<parallel::single<D, V>> s(original, op);
        check(s, "single");
    }
    {
        parallel::renumbered<parallel::graph<D, V, H>> s(original, both, q.op, owner);
        check(s, "graph");
    }
    {
        parallel::renumbered<parallel::mixture<D, V, H>> s(original, both, q.op, owner, 2);
        check(s, "mixture");
    }
}

// graph and mixture under the load balancer on the device, re-cut after nearly every
// epoch (the rows move between ranks, the new feature rows go to the device, the trainer
// places the new labels and rows): still single's model on the host, and nothing copied
// back inside any epoch.
template <class V, class Comm>
void check_balanced(Comm& comm, double tol) {
    using D = host_as_device;
    using H = comm::hybrid<Comm, Comm>;
    const test_session::problem<V> p(device_case::graph());
    const auto ref = single_on_host(p);
    H both(comm.split(0, comm.rank()), comm.split(0, comm.rank()));
    const int P = comm.size();
    const auto recut = [&](std::span<const double> shares) { return partition::random{5}.partition(p.adjacency, P, shares); };
    for (const bool mixture : {false, true}) {
        CAPTURE(mixture);
        nn::gcn_model<D, V> m(model());
        m.initialize(model_seed);
        nn::optimizer<D, V> opt(nn::optimizer_options{});
        auto to = device_case::trainer_opts();
        std::vector<std::size_t> downloads;
        std::size_t last = D::downloads;
        to.on_epoch = [&](const train::epoch_metrics&) {
            downloads.push_back(D::downloads - last);
            last = D::downloads;
        };
        parallel::balance_options bo;
        bo.threshold = 1.000001;  // re-cut after nearly every epoch, whatever the timings
        bo.warmup = 0;
        bo.patience = 1;
        bo.slow_rank = P - 1;
        bo.slow_factor = 1.5;
        parallel::balance_report br;
        run_result<V> got;
        got.res = mixture ? parallel::train_mixture_balanced<D, V>(both, p.ds, p.op, p.adjacency, recut({}), recut, m, opt,
                                                                   to, bo, 2, nullptr, &br)
                          : parallel::train_graph_balanced<D, V>(both, p.ds, p.op, p.adjacency, recut({}), recut, m, opt,
                                                                 to, bo, nullptr, &br);
        for (auto* prm : m.parameters()) got.weights.push_back(backend::to_host_vector<D>(prm->value.data(), prm->size()));
        device_checks::check_same_model(comm,
                                        std::string(mixture ? "mixture" : "graph") + " balanced (" +
                                            std::to_string(br.rebalances.size()) + " re-cuts)",
                                        got, ref, tol);
        if (P > 1) CHECK(br.rebalances.size() >= 3);
        for (const auto n : downloads) CHECK(n == 0);
    }
}

using test_session::with_comm;

}  // namespace

TEST_CASE("graph, feature, mixture on a device backend (host-emulated), double: equal single on the host to 1e-9") {
    with_comm([](auto& comm) { check_against_single<double>(comm, 1e-9); });
}

TEST_CASE("graph, feature, mixture on a device backend (host-emulated), float: equal single on the host to 1e-4") {
    with_comm([](auto& comm) { check_against_single<float>(comm, 1e-4); });
}


TEST_CASE("single, graph and mixture in degree order on a device backend (host-emulated): single in the loaded ids") {
    with_comm([](auto& comm) { check_in_degree_order<double>(comm, 1e-9); });
}

TEST_CASE("graph and mixture under the load balancer on a device backend (host-emulated): single's model") {
    with_comm([](auto& comm) { check_balanced<double>(comm, 1e-9); });
}

int main(int argc, char** argv) { return test_session::main(argc, argv); }
