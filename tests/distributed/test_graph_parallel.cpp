// The `graph` strategy against the single-process trainer, with real processes (mpirun,
// or Gloo ranks started separately): same loss per epoch and same final weights, for
// every partitioner, in double (1e-9) and float (1e-4); halo bytes exactly as predicted.
#include "session.hpp"

#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/comm.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition.hpp"
#include "mixgcn/train/trainer.hpp"

using namespace mixgcn;

namespace {

constexpr std::size_t features_width = 16;
constexpr std::uint64_t model_seed = 5;

template <class V>
struct problem : test_session::problem<V> {
    problem() : test_session::problem<V>(test_session::sbm(3000, 8, features_width, 4, 11)) {}
};

struct model_case {
    int layers;
    std::size_t hidden;
    nn::product_order order;
    const char* what;
};
// Hidden narrower and wider than the input, each product order, 2 and 3 layers.
constexpr model_case model_cases[] = {
    {2, 8, nn::product_order::automatic, "2 layers, hidden 8 < input (transform first)"},
    {2, 32, nn::product_order::automatic, "2 layers, hidden 32 > input (aggregate first, then transform)"},
    {3, 24, nn::product_order::aggregate_first, "3 layers, hidden 24, aggregate first"},
    {3, 8, nn::product_order::transform_first, "3 layers, hidden 8, transform first"},
};

nn::model_options model(const model_case& c) {
    nn::model_options mo;
    mo.in = features_width;
    mo.classes = 4;
    mo.layers = c.layers;
    mo.hidden = c.hidden;
    mo.order = c.order;
    mo.dropout = 0.0;  // masks are drawn per local row; equivalence is without them
    return mo;
}

train::trainer_options trainer_opts() {
    train::trainer_options to;
    to.epochs = 20;
    to.seed = model_seed;
    return to;
}

template <class V>
void keep_weights(nn::gcn_model<backend::host, V>& m, std::vector<std::vector<V>>& weights) {
    for (auto* prm : m.parameters()) weights.emplace_back(prm->value.data(), prm->value.data() + prm->size());
}

// The independent reference: the single-process trainer on the whole graph.
template <class V>
train::train_result single_run(const problem<V>& p, const nn::model_options& mo, std::vector<std::vector<V>>& weights) {
    using B = backend::host;
    parallel::single<B, V> s(p.op);
    nn::gcn_model<B, V> m(mo);
    m.initialize(model_seed);
    nn::optimizer<B, V> opt(nn::optimizer_options{});
    train::local_data<V> local{p.ds.features.cview(), p.ds.labels.data(), p.ds.nodes_with(split_role::train),
                               p.ds.nodes_with(split_role::val), p.ds.nodes_with(split_role::test)};
    auto res = train::trainer(s, m, opt, local, trainer_opts()).run();
    keep_weights(m, weights);
    return res;
}

// The same run with the strategy driven by hand, to compare the final weights.
template <class V, class Comm>
train::train_result graph_run_weights(Comm& comm, const problem<V>& p, const std::vector<int>& owner,
                                      const nn::model_options& mo, std::vector<std::vector<V>>& weights) {
    using B = backend::host;
    parallel::graph<B, V, Comm> g(comm, p.adjacency, owner);
    const auto in = g.local_inputs(p.ds);
    const auto data = in.data();
    nn::gcn_model<B, V> m(mo);
    m.initialize(model_seed);
    nn::optimizer<B, V> opt(nn::optimizer_options{});
    auto res = train::trainer(g, m, opt, data, trainer_opts()).run();
    keep_weights(m, weights);
    return res;
}

// Owners computed on rank 0 and broadcast, as the CLI does.
using test_session::owners;

double worst_loss_difference(const train::train_result& got, const train::train_result& ref) {
    REQUIRE(got.history.size() == ref.history.size());
    double worst = 0;
    for (std::size_t e = 0; e < ref.history.size(); ++e)
        worst = std::max(worst, std::abs(got.history[e].loss - ref.history[e].loss) / std::abs(ref.history[e].loss));
    return worst;
}

// `cases`: indices into model_cases; the first two also run through the entry point
// when `entry` is set (Gloo's latency on a shared 2-core machine bounds how many runs
// fit in the test budget).
// Calls f with every partitioner this build has.
template <class F>
void for_each_partitioner(F&& f) {
    f(partition::block{});
    f(partition::random{});
    f(partition::spectral{});
#ifdef MIXGCN_HAS_METIS
    f(partition::metis{});
#endif
}

template <class V, class Comm>
void check_equivalence(Comm& comm, double tol, std::initializer_list<std::size_t> cases, bool entry) {
    const problem<V> p;
    const int me = comm.rank();
    auto check_with = [&](const auto& part) {
        const auto owner = owners(comm, part, p.adjacency);
        // The form a partitioned loader produces: this rank's rows only.
        const auto mine = p.ds.owned_rows(owner, me);
        for (const std::size_t c : cases) {
            const auto& mc = model_cases[c];
            CAPTURE(part.name());
            CAPTURE(mc.what);
            const auto mo = model(mc);
            std::vector<std::vector<V>> w_single, w_graph;
            const auto ref = single_run(p, mo, w_single);
            const auto got = graph_run_weights(comm, p, owner, mo, w_graph);
            const double worst = worst_loss_difference(got, ref);
            double worst_w = 0;
            REQUIRE(w_graph.size() == w_single.size());
            for (std::size_t i = 0; i < w_single.size(); ++i)
                for (std::size_t k = 0; k < w_single[i].size(); ++k)
                    worst_w = std::max(worst_w, std::abs(double(w_graph[i][k]) - double(w_single[i][k])) /
                                                    std::max(1e-3, std::abs(double(w_single[i][k]))));
            CHECK(worst < tol);
            CHECK(worst_w < tol);
            CHECK(got.best_val_epoch == ref.best_val_epoch);
            if (!entry || c > 1) {
                if (me == 0)
                    MESSAGE(part.name(), " ", mc.what, " ranks=", comm.size(), ": max relative loss difference ", worst,
                            ", weights ", worst_w, " (", p.adjacency.rows, " nodes)");
                continue;
            }
            // The CLI's entry point, with every node's rows (case 0) and with the owned
            // rows only (case 1): the same losses, and a report that adds up.
            parallel::graph_report rep;
            const auto via_entry = parallel::train_graph_parallel<backend::host, V>(
                comm, c % 2 ? mine : p.ds, owner, mo, nn::optimizer_options{}, trainer_opts(), &rep);
            const double worst_entry = worst_loss_difference(via_entry, ref);
            if (me == 0)
                MESSAGE(part.name(), " ", mc.what, " ranks=", comm.size(), ": max relative loss difference ", worst,
                        ", weights ", worst_w, ", entry point (", c % 2 ? "owned rows" : "global rows", ") ",
                        worst_entry, " (", p.adjacency.rows, " nodes)");
            CHECK(worst_entry < tol);
            CHECK(via_entry.best_val_epoch == ref.best_val_epoch);
            CHECK(rep.rank == me);
            CHECK(rep.owned_nodes == mine.features.rows());
            CHECK(rep.feature_bytes >= mine.features.bytes());
            CHECK(rep.interior_rows + rep.boundary_rows == rep.owned_nodes);
            CHECK((comm.size() > 1 || rep.halo_nodes == 0));
            CHECK(rep.total_bytes() > rep.graph_bytes);
        }
    };
    for_each_partitioner(check_with);
}

using test_session::with_comm;

}  // namespace

TEST_CASE("graph strategy, double: same losses and weights as single to 1e-9") {
    with_comm([](auto& c) { check_equivalence<double>(c, 1e-9, {0, 1, 2, 3}, true); });
}

TEST_CASE("graph strategy, float: same losses and weights as single to 1e-4") {
    with_comm([](auto& c) { check_equivalence<float>(c, 1e-4, {0, 2}, false); });
}

TEST_CASE("graph strategy: halo bytes equal the partition's halo volume, per layer and direction") {
    with_comm([](auto& comm) {
        using Comm = std::remove_reference_t<decltype(comm)>;
        using V = float;
        const problem<V> p;
        auto check_with = [&](const auto& part) {
            CAPTURE(part.name());
            const auto owner = owners(comm, part, p.adjacency);
            // Independent prediction: the partition metrics' halo of every rank.
            const auto q = partition::evaluate(p.adjacency, std::span<const int>(owner), comm.size());
            parallel::graph<backend::host, V, Comm> g(comm, p.adjacency, owner);
            CHECK(g.halo() == std::size_t(q.halo[std::size_t(comm.rank())]));
            for (const std::size_t d : {std::size_t(13), std::size_t(64)}) {
                CAPTURE(d);
                dense_matrix<V> x(g.rows(), d), y(g.rows(), d);
                for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = V(std::sin(double(i)));
                const auto before = g.report();
                g.forward(x.cview(), y.view());
                const auto mid = g.report();
                g.backward(y.cview(), x.view());
                const auto after = g.report();
                std::vector<double> bytes{double(mid.bytes_sent - before.bytes_sent),
                                          double(mid.bytes_received - before.bytes_received),
                                          double(after.bytes_sent - mid.bytes_sent),
                                          double(after.bytes_received - mid.bytes_received)};
                CHECK(bytes[1] == double(g.halo() * d * sizeof(V)));  // forward: this rank receives its halo
                CHECK(bytes[2] == double(g.halo() * d * sizeof(V)));  // backward: and sends it back
                comm.all_reduce(std::span<double>(bytes), comm::reduce_op::sum);
                const double predicted = double(std::uint64_t(q.total_halo) * d * sizeof(V));
                for (double b : bytes) CHECK(b == predicted);
                if (comm.rank() == 0 && d == 64)
                    MESSAGE(part.name(), " ranks=", comm.size(), ": halo ", q.total_halo, " rows, ", bytes[0],
                            " bytes per direction at width 64 (predicted ", predicted, ")");
            }
        };
        for_each_partitioner(check_with);
    });
}

TEST_CASE("graph strategy: a bad owner vector is refused with the rank and the value") {
    with_comm([](auto& comm) {
        using Comm = std::remove_reference_t<decltype(comm)>;
        const problem<float> p;
        std::vector<int> owner(std::size_t(p.adjacency.rows), 0);
        owner[7] = comm.size();  // out of range on every rank: all ranks throw before any collective
        CHECK_THROWS_WITH_AS((parallel::graph<backend::host, float, Comm>(comm, p.adjacency, owner)),
                             doctest::Contains("node 7 has owner"), invalid_argument);
    });
}

TEST_CASE("graph strategy: an operator column outside the graph is refused, naming the row") {
    with_comm([](auto& comm) {
        using Comm = std::remove_reference_t<decltype(comm)>;
        const problem<float> p;
        auto op = graph::gcn_normalize<float>(p.adjacency);
        const auto n = op.a.rows;
        op.a.col_idx[static_cast<std::size_t>(op.a.row_ptr[5])] = n + 3;  // node 5's first column
        std::vector<int> owner(std::size_t(n), 0);  // all on rank 0: its setup reads every row
        if (comm.size() == 1) {
            CHECK_THROWS_WITH_AS((parallel::graph<backend::host, float, Comm>(comm, op, owner)),
                                 doctest::Contains("row of node 5 has a column outside [0, "), invalid_argument);
        } else {
            MESSAGE("checked on one rank only (the refusal is local to the rank that reads the row)");
        }
    });
}

int main(int argc, char** argv) { return test_session::main(argc, argv); }
