// The `graph` strategy against the single-process trainer, with real processes (mpirun,
// or Gloo ranks started separately): same loss per epoch and same final weights, for
// every partitioner, in double (1e-9) and float (1e-4); halo bytes exactly as predicted.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
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

template <class V>
struct problem {
    dataset<V> ds;
    storage::csr<index_t, V> adjacency;
    graph::gcn_operator<index_t, V> op;
    problem() {
        graph::sbm_options o;
        o.nodes = 1200;
        o.avg_degree = 8;
        o.classes = 4;
        o.features = 16;
        o.model = graph::feature_model::gaussian;
        o.seed = 11;
        ds = graph::generate_sbm<V>(o);
        adjacency = graph::build_adjacency<index_t, V>(ds.edges);
        op = graph::gcn_normalize<V>(adjacency);
    }
};

nn::model_options model(int layers, std::size_t hidden) {
    nn::model_options mo;
    mo.in = 16;
    mo.classes = 4;
    mo.layers = layers;
    mo.hidden = hidden;
    mo.dropout = 0.0;  // masks depend on the row numbering; equivalence is without them
    return mo;
}

template <class V>
train::train_result single_run(const problem<V>& p, const nn::model_options& mo, std::vector<std::vector<V>>& weights) {
    using B = backend::host;
    parallel::single<B, V> s(p.op);
    nn::gcn_model<B, V> m(mo);
    m.initialize(5);
    nn::optimizer<B, V> opt(nn::optimizer_options{});
    train::local_data<V> local{p.ds.features.cview(), p.ds.labels.data(), p.ds.nodes_with(split_role::train),
                               p.ds.nodes_with(split_role::val), p.ds.nodes_with(split_role::test)};
    train::trainer_options to;
    to.epochs = 20;
    auto res = train::trainer(s, m, opt, local, to).run();
    for (auto* prm : m.parameters()) weights.emplace_back(prm->value.data(), prm->value.data() + prm->size());
    return res;
}

template <class V, class Comm>
train::train_result graph_run(Comm& comm, const problem<V>& p, const std::vector<int>& owner,
                              const nn::model_options& mo, std::vector<std::vector<V>>& weights) {
    using B = backend::host;
    parallel::graph<B, V, Comm> g(comm, p.adjacency, owner);
    const auto x = g.local_rows(p.ds.features);
    const auto labels = g.local_values(p.ds.labels);
    train::local_data<V> local{x.cview(), labels.data(), g.local_rows_with(p.ds.split, split_role::train),
                               g.local_rows_with(p.ds.split, split_role::val),
                               g.local_rows_with(p.ds.split, split_role::test)};
    nn::gcn_model<B, V> m(mo);
    m.initialize(5);
    nn::optimizer<B, V> opt(nn::optimizer_options{});
    train::trainer_options to;
    to.epochs = 20;
    auto res = train::trainer(g, m, opt, local, to).run();
    for (auto* prm : m.parameters()) weights.emplace_back(prm->value.data(), prm->value.data() + prm->size());
    return res;
}

// Owners computed on rank 0 and broadcast, as the CLI does.
template <class Comm, class Part, class V>
std::vector<int> owners(Comm& comm, const Part& part, const storage::csr<index_t, V>& adjacency) {
    std::vector<std::int32_t> owner(static_cast<std::size_t>(adjacency.rows));
    if (comm.rank() == 0) {
        const auto o = part.partition(adjacency, comm.size());
        std::copy(o.begin(), o.end(), owner.begin());
    }
    comm.broadcast(std::span<std::int32_t>(owner), 0);
    return {owner.begin(), owner.end()};
}

template <class V, class Comm>
void check_equivalence(Comm& comm, double tol) {
    const problem<V> p;
    auto check_with = [&](const auto& part) {
        const auto owner = owners(comm, part, p.adjacency);
        for (auto [layers, hidden] : {std::pair{2, std::size_t(8)}, std::pair{3, std::size_t(24)}}) {
            CAPTURE(part.name());
            CAPTURE(layers);
            CAPTURE(hidden);
            const auto mo = model(layers, hidden);
            std::vector<std::vector<V>> w_single, w_graph;
            const auto ref = single_run(p, mo, w_single);
            const auto got = graph_run(comm, p, owner, mo, w_graph);
            REQUIRE(got.history.size() == ref.history.size());
            double worst = 0;
            for (std::size_t e = 0; e < ref.history.size(); ++e)
                worst = std::max(worst, std::abs(got.history[e].loss - ref.history[e].loss) / std::abs(ref.history[e].loss));
            double worst_w = 0;
            for (std::size_t i = 0; i < w_single.size(); ++i)
                for (std::size_t k = 0; k < w_single[i].size(); ++k)
                    worst_w = std::max(worst_w, std::abs(double(w_graph[i][k]) - double(w_single[i][k])) /
                                                    std::max(1e-3, std::abs(double(w_single[i][k]))));
            if (comm.rank() == 0)
                MESSAGE(part.name(), " layers=", layers, " hidden=", hidden, " ranks=", comm.size(),
                        ": max relative loss difference ", worst, ", weights ", worst_w, " (",
                        p.adjacency.rows, " nodes)");
            CHECK(worst < tol);
            CHECK(worst_w < tol);
            CHECK(got.best_val_epoch == ref.best_val_epoch);
        }
    };
    check_with(partition::block{});
    check_with(partition::random{});
    check_with(partition::spectral{});
#ifdef MIXGCN_HAS_METIS
    check_with(partition::metis{});
#endif
}

// One communicator per process for the whole run (a Gloo rendezvous cannot be repeated
// on the same store), created in main after MPI starts and destroyed before it ends.
#ifdef MIXGCN_HAS_MPI
std::unique_ptr<comm::mpi> mpi_comm;
#endif
#ifdef MIXGCN_HAS_GLOO
std::unique_ptr<comm::gloo> gloo_comm;
#endif
std::unique_ptr<comm::local> local_comm;

template <class F>
void with_comm(F&& f) {
#ifdef MIXGCN_HAS_MPI
    if (mpi_comm) return f(*mpi_comm);
#endif
#ifdef MIXGCN_HAS_GLOO
    if (gloo_comm) return f(*gloo_comm);
#endif
    f(*local_comm);
}

}  // namespace

TEST_CASE("graph strategy, double: same losses and weights as single to 1e-9") {
    with_comm([](auto& c) { check_equivalence<double>(c, 1e-9); });
}

TEST_CASE("graph strategy, float: same losses and weights as single to 1e-4") {
    with_comm([](auto& c) { check_equivalence<float>(c, 1e-4); });
}

TEST_CASE("graph strategy: halo bytes equal the partition's halo volume, per layer and direction") {
    with_comm([](auto& comm) {
        using Comm = std::remove_reference_t<decltype(comm)>;
        using V = float;
        const problem<V> p;
        const auto owner = owners(comm, partition::random{}, p.adjacency);
        // Independent prediction: the partition metrics' halo of every rank.
        const auto q = partition::evaluate(p.adjacency, std::span<const int>(owner), comm.size());
        parallel::graph<backend::host, V, Comm> g(comm, p.adjacency, owner);
        CHECK(g.halo() == std::size_t(q.halo[std::size_t(comm.rank())]));
        const std::size_t d = 13;
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

int main(int argc, char** argv) {
    std::string kind = "mpi";
    if (const char* k = std::getenv("MIXGCN_TEST_COMM")) kind = k;
#ifdef MIXGCN_HAS_MPI
    std::unique_ptr<comm::mpi::environment> env;
    if (kind == "mpi") {
        env = std::make_unique<comm::mpi::environment>(argc, argv);
        mpi_comm = std::make_unique<comm::mpi>();
    }
#endif
#ifdef MIXGCN_HAS_GLOO
    if (kind == "gloo") gloo_comm = std::make_unique<comm::gloo>();
#endif
    local_comm = std::make_unique<comm::local>();
    doctest::Context ctx(argc, argv);
    const int rc = ctx.run();
#ifdef MIXGCN_HAS_MPI
    mpi_comm.reset();
#endif
#ifdef MIXGCN_HAS_GLOO
    gloo_comm.reset();
#endif
    return rc;
}
