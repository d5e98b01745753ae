// The pipeline strategy and gradient accumulation with real processes (1 rank local, 2-4
// MPI ranks, 3 and 4 Gloo ranks): every (stages, replicas) layout of the world trains, in
// float64 with dropout on, to the losses and weights of the `data` strategy on ONE process
// accumulating replicas x micro-batches batches per step (the same schedule, summed in
// another order: 1e-9); `data --accumulate M` on the world equals the same one-process
// run; the stage cut balances predicted layer cost; bad layouts are named.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/pipeline.hpp"
#include "session.hpp"

using namespace mixgcn;
using test_session::with_comm;

namespace {

nn::model_options four_layers(const dataset<double>& ds) {
    nn::model_options mo;
    mo.in = ds.features.cols();
    mo.hidden = 8;
    mo.classes = std::size_t(ds.num_classes);
    mo.layers = 4;
    mo.dropout = 0.5;        // masks keyed by global node ids: every layout draws the same
    mo.decay_all_layers = true;  // every stage holds an L2 term
    return mo;
}

parallel::data_options schedule_options() {
    parallel::data_options o;
    o.clusters = 14;  // 7 groups of 2: with 3 or 4 batches per step the last groups are empty
    o.clusters_per_batch = 2;
    o.method = parallel::cluster_method::block;
    o.seed = 5;
    return o;
}

struct run_result {
    train::train_result res;
    std::vector<std::vector<double>> weights;
};

template <class Train>
run_result train_with(const dataset<double>& ds, Train&& train) {
    nn::gcn_model<backend::host, double> model(four_layers(ds));
    model.initialize(17);
    nn::optimizer<backend::host, double> opt(nn::optimizer_options{});
    train::trainer_options to;
    to.epochs = 4;
    to.seed = 23;
    run_result r;
    r.res = train(model, opt, to);
    for (auto* p : model.parameters()) r.weights.emplace_back(p->value.data(), p->value.data() + p->size());
    return r;
}

// One process, `batches` cluster batches accumulated per step: the reference.
run_result reference(const test_session::problem<double>& pr, const std::vector<int>& clusters, int batches) {
    comm::local solo;
    auto o = schedule_options();
    o.accumulate = batches;
    return train_with(pr.ds, [&](auto& model, auto& opt, const auto& to) {
        return parallel::train_clusters(solo, pr.ds, pr.adjacency, clusters, o, model, opt, to);
    });
}

void check_same(const run_result& got, const run_result& want, const std::string& what) {
    INFO(what);
    REQUIRE(got.res.history.size() == want.res.history.size());
    for (std::size_t e = 0; e < want.res.history.size(); ++e) {
        const double a = got.res.history[e].loss, b = want.res.history[e].loss;
        CHECK_MESSAGE(std::abs(a - b) <= 1e-9 * std::abs(b), "epoch ", e + 1, ": loss ", a, " vs ", b);
        CHECK(got.res.history[e].val_acc == want.res.history[e].val_acc);
    }
    REQUIRE(got.weights.size() == want.weights.size());
    double worst = 0;
    for (std::size_t p = 0; p < want.weights.size(); ++p)
        for (std::size_t i = 0; i < want.weights[p].size(); ++i)
            worst = std::max(worst, std::abs(got.weights[p][i] - want.weights[p][i]) /
                                        std::max(1.0, std::abs(want.weights[p][i])));
    CHECK_MESSAGE(worst <= 1e-9, "weights: max rel. diff ", worst);
    MESSAGE(what, ": final loss ", got.res.history.back().loss, ", max rel. weight diff ", worst);
}

}  // namespace

TEST_CASE("pipeline: the stage cut minimises the largest stage cost") {
    const std::vector<double> even{1, 1, 1, 1}, heavy{5, 1, 1, 1}, tail{1, 1, 1, 6};
    CHECK(parallel::pipeline_layer_split(even, 2) == std::vector<int>{0, 2});
    CHECK(parallel::pipeline_layer_split(even, 4) == std::vector<int>{0, 1, 2, 3});
    CHECK(parallel::pipeline_layer_split(heavy, 2) == std::vector<int>{0, 1});
    CHECK(parallel::pipeline_layer_split(tail, 2) == std::vector<int>{0, 3});
    const std::vector<double> ends{3, 1, 1, 1, 3};
    CHECK(parallel::pipeline_layer_split(ends, 3) == std::vector<int>{0, 1, 4});
    CHECK_THROWS_WITH_AS(parallel::pipeline_layer_split(even, 5), doctest::Contains("5 stages for 4 layers"),
                         mixgcn::error);
    // A first layer of width 602 into 256 (Reddit-shaped) outweighs the 256 -> 41 head.
    nn::model_options mo;
    mo.in = 602;
    mo.hidden = 256;
    mo.classes = 41;
    mo.layers = 3;
    const auto c = parallel::pipeline_layer_costs(mo, 50.0);
    CHECK(c[0] > c[1]);
    CHECK(c[1] > c[2]);
    CHECK(parallel::pipeline_layer_split(c, 2) == std::vector<int>{0, 1});
}

TEST_CASE("pipeline: every stages x replicas layout equals one process accumulating the same batches (float64, dropout)") {
    with_comm([](auto& comm) {
        const int P = comm.size();
        const test_session::problem<double> pr(test_session::sbm(700, 8, 12, 4, 31));
        const auto clusters = parallel::cluster_assignment<double>(comm, pr.adjacency, schedule_options());
        for (int S = 1; S <= std::min(P, 4); ++S) {
            if (P % S != 0) continue;
            const int R = P / S;
            for (const int M : {1, 3}) {
                parallel::pipeline_options po;
                po.stages = S;
                po.micro_batches = M;
                po.data = schedule_options();
                parallel::pipeline_report rep;
                const auto got = train_with(pr.ds, [&](auto& model, auto& opt, const auto& to) {
                    return parallel::train_pipeline(comm, pr.ds, pr.adjacency, clusters, po, model, opt, to, &rep);
                });
                const auto want = reference(pr, clusters, R * M);
                check_same(got, want, "S=" + std::to_string(S) + " R=" + std::to_string(R) + " M=" + std::to_string(M) +
                                          " (rank " + std::to_string(comm.rank()) + ")");
                CHECK(rep.stage == comm.rank() % S);
                CHECK(rep.replica == comm.rank() / S);
                CHECK(rep.last_layer > rep.first_layer);
                CHECK(rep.slot_count == std::size_t(std::min(S - rep.stage, M)));
                CHECK((rep.peak_activation_bytes > 0) == (rep.batch_nodes > 0));  // a replica past the last group trains nothing
                CHECK(rep.steps > 0);
                if (S > 1) CHECK(rep.p2p_seconds > 0);
                CHECK(rep.ideal_bubble() == doctest::Approx(double(S - 1) / double(M + S - 1)));
                MESSAGE("S=", S, " R=", R, " M=", M, " stage ", rep.stage, " layers [", rep.first_layer, ", ",
                        rep.last_layer, "): bubble ", rep.bubble(), " (ideal ", rep.ideal_bubble(), "), ",
                        rep.peak_activation_bytes, " B of activations, sent ", rep.bytes_sent, " B");
            }
        }
    });
}

TEST_CASE("data --accumulate M on the world equals one process accumulating P x M batches") {
    with_comm([](auto& comm) {
        const int P = comm.size();
        const test_session::problem<double> pr(test_session::sbm(700, 8, 12, 4, 32));
        const auto clusters = parallel::cluster_assignment<double>(comm, pr.adjacency, schedule_options());
        for (const int M : {2, 3}) {
            auto o = schedule_options();
            o.accumulate = M;
            const auto got = train_with(pr.ds, [&](auto& model, auto& opt, const auto& to) {
                return parallel::train_clusters(comm, pr.ds, pr.adjacency, clusters, o, model, opt, to);
            });
            check_same(got, reference(pr, clusters, P * M),
                       "accumulate " + std::to_string(M) + " on " + std::to_string(P) + " rank(s)");
        }
    });
}

TEST_CASE("pipeline: bad layouts are named") {
    with_comm([](auto& comm) {
        const test_session::problem<double> pr(test_session::sbm(300, 6, 8, 3, 4));
        const auto clusters = parallel::cluster_assignment<double>(comm, pr.adjacency, schedule_options());
        nn::gcn_model<backend::host, double> model(four_layers(pr.ds));
        nn::optimizer<backend::host, double> opt(nn::optimizer_options{});
        using trainer = parallel::pipeline_trainer<backend::host, double, std::remove_cvref_t<decltype(comm)>>;
        parallel::pipeline_options po;
        po.data = schedule_options();
        po.stages = comm.size() + 1;
        CHECK_THROWS_WITH_AS(trainer(comm, pr.ds, pr.adjacency, clusters, po, model, opt),
                             doctest::Contains("stages do not divide"), mixgcn::error);
        po.stages = 1;
        po.first_layers = {1};
        CHECK_THROWS_WITH_AS(trainer(comm, pr.ds, pr.adjacency, clusters, po, model, opt),
                             doctest::Contains("the first must be 0"), mixgcn::error);
        po.first_layers = {};
        po.micro_batches = 0;
        CHECK_THROWS_WITH_AS(trainer(comm, pr.ds, pr.adjacency, clusters, po, model, opt),
                             doctest::Contains("micro-batches"), mixgcn::error);
        po.micro_batches = 2;
        trainer t(comm, pr.ds, pr.adjacency, clusters, po, model, opt);
        train::trainer_options to;
        to.checkpoint = "/tmp/never-written.ckpt";
        CHECK_THROWS_WITH_AS(t.run(to), doctest::Contains("checkpoints are not written"), mixgcn::error);
    });
}

int main(int argc, char** argv) { return test_session::main(argc, argv); }
