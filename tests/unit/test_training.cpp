// The training loop: learning happens, resume continues the curve exactly, model
// selection keeps the weights of the best validation epoch, bad checkpoints are refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/io/checkpoint.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/graph/ordering.hpp"
#include "mixgcn/parallel/renumbered.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition/locality_order.hpp"
#include "mixgcn/train/trainer.hpp"

using namespace mixgcn;
namespace fs = std::filesystem;

namespace {

template <class V>
struct fixture {
    dataset<V> ds;
    graph::gcn_operator<index_t, V> op;
    train::local_data<V> local;
    explicit fixture(std::int64_t nodes = 600) {
        graph::sbm_options o;
        o.nodes = nodes;
        o.features = 24;
        o.classes = 4;
        o.seed = 5;
        o.model = graph::feature_model::gaussian;  // signed features: no row normalisation
        ds = graph::generate_sbm<V>(o);
        op = graph::gcn_normalize<V>(graph::build_adjacency<index_t, V>(ds.edges));
        local = {ds.features.cview(), ds.labels.data(), ds.nodes_with(split_role::train),
                 ds.nodes_with(split_role::val), ds.nodes_with(split_role::test)};
    }
};

template <class B, class V>
struct run_state {
    nn::gcn_model<B, V> model;
    nn::optimizer<B, V> opt;
    run_state() : model(options()), opt(nn::optimizer_options{}) { model.initialize(7); }
    static nn::model_options options() {
        nn::model_options mo;
        mo.in = 24;
        mo.hidden = 8;
        mo.classes = 4;
        return mo;
    }
};

fs::path tmp(const std::string& name) {
    fs::create_directories(MIXGCN_TEST_TMPDIR);
    return fs::path(MIXGCN_TEST_TMPDIR) / name;
}

}  // namespace

TEST_CASE("resuming from a checkpoint continues the same loss curve and ends at the same weights") {
    using B = backend::reference;
    fixture<double> f;
    train::trainer_options to;
    to.epochs = 20;
    to.seed = 3;
    run_state<B, double> whole;
    parallel::single<B, double> s1(f.op);
    const auto full = train::trainer(s1, whole.model, whole.opt, f.local, to).run();

    const auto ck = tmp("resume.ckpt");
    fs::remove(ck);
    run_state<B, double> first;
    auto to_first = to;
    to_first.epochs = 10;
    to_first.checkpoint = ck;
    to_first.checkpoint_every = 5;
    parallel::single<B, double> s2(f.op);
    train::trainer(s2, first.model, first.opt, f.local, to_first).run();
    REQUIRE(fs::exists(ck));

    run_state<B, double> second;  // fresh weights: everything must come from the file
    second.model.initialize(999);
    auto to_second = to;
    to_second.resume = ck;
    parallel::single<B, double> s3(f.op);
    const auto resumed = train::trainer(s3, second.model, second.opt, f.local, to_second).run();
    CHECK(resumed.resumed_from_epoch == 10);
    REQUIRE(resumed.history.size() == full.history.size());
    for (std::size_t e = 0; e < full.history.size(); ++e) {
        CAPTURE(e);
        CHECK(resumed.history[e].loss == full.history[e].loss);
        CHECK(resumed.history[e].val_acc == full.history[e].val_acc);
    }
    CHECK(resumed.best_val_epoch == full.best_val_epoch);
    CHECK(resumed.test_acc == full.test_acc);
    auto pa = whole.model.parameters(), pb = second.model.parameters();
    for (std::size_t i = 0; i < pa.size(); ++i)
        for (std::size_t k = 0; k < pa[i]->size(); ++k) CHECK(pa[i]->value.data()[k] == pb[i]->value.data()[k]);
}

TEST_CASE("a checkpoint of another configuration or a damaged one is refused") {
    using B = backend::host;
    fixture<float> f;
    const auto ck = tmp("other.ckpt");
    fs::remove(ck);
    {
        run_state<B, float> r;
        train::trainer_options to;
        to.epochs = 2;
        to.checkpoint = ck;
        to.checkpoint_every = 1;
        parallel::single<B, float> s(f.op);
        train::trainer(s, r.model, r.opt, f.local, to).run();
    }
    // A float run of 4 epochs resumed from `ck` (the seed is part of the model's identity).
    auto resume = [&](std::uint64_t seed = train::trainer_options{}.seed) {
        run_state<B, float> r;
        train::trainer_options to;
        to.epochs = 4;
        to.seed = seed;
        to.resume = ck;
        parallel::single<B, float> s(f.op);
        train::trainer(s, r.model, r.opt, f.local, to).run();
    };
    SUBCASE("other seed") {
        CHECK_THROWS_WITH_AS(resume(1234), doctest::Contains("another model"), io_error);
    }
    SUBCASE("other precision") {
        run_state<B, double> r;
        fixture<double> fd;
        train::trainer_options to;
        to.epochs = 4;
        to.resume = ck;
        parallel::single<B, double> s(fd.op);
        CHECK_THROWS_WITH_AS(train::trainer(s, r.model, r.opt, fd.local, to).run(), doctest::Contains("float32"),
                             io_error);
    }
    SUBCASE("truncated") {
        const auto size = fs::file_size(ck);
        fs::resize_file(ck, size / 2);
        CHECK_THROWS_AS(resume(), io_error);
    }
    // Well-formed files (the CRC holds) whose entries do not: io_error naming the file,
    // not std::out_of_range from a missing entry.
    SUBCASE("no optimizer step count") {
        auto c = io::read_checkpoint(ck);
        c.meta.erase("optimizer_steps");
        io::write_checkpoint(ck, c);
        CHECK_THROWS_WITH_AS(resume(), doctest::Contains("other.ckpt: checkpoint has no valid optimizer_steps entry"),
                             io_error);
    }
    SUBCASE("a short best-epoch record") {
        auto c = io::read_checkpoint(ck);
        for (auto& a : c.arrays)
            if (a.name == "best") a = {"best", {1}, {1.0}};
        io::write_checkpoint(ck, c);
        CHECK_THROWS_WITH_AS(resume(), doctest::Contains("array has 1 values, expected 3"), io_error);
    }
}

TEST_CASE("training learns, and the kept weights are those of the best validation epoch") {
    using B = backend::host;
    fixture<float> f(2000);
    run_state<B, float> r;
    train::trainer_options to;
    to.epochs = 60;
    parallel::single<B, float> s(f.op);
    const auto res = train::trainer(s, r.model, r.opt, f.local, to).run();
    CHECK(res.history.back().loss < 0.7 * res.history.front().loss);
    // Chance is 1/4; the generated graph is learnable but not trivially.
    CHECK(res.best_val_acc > 0.5);
    const auto logits = r.model.forward(s, f.local.features, false, 0);
    const double val = double(B::count_correct(logits, f.local.labels, f.local.val.data(), f.local.val.size())) /
                       double(f.local.val.size());
    CHECK(val == doctest::Approx(res.best_val_acc).epsilon(1e-12));
    CHECK(res.best_val_acc == doctest::Approx(res.history[std::size_t(res.best_val_epoch - 1)].val_acc));
    for (const auto& m : res.history) CHECK(m.val_acc <= res.best_val_acc);
}

TEST_CASE("a node order at load changes only rounding: the same losses and outputs in the loaded ids") {
    using B = backend::host;
    fixture<double> f(3000);
    train::trainer_options to;
    to.epochs = 20;
    run_state<B, double> plain;
    REQUIRE(plain.model.options().dropout > 0);  // masks must follow the loaded ids
    parallel::single<B, double> s(f.op);
    const auto want = train::trainer(s, plain.model, plain.opt, f.local, to).run();
    const auto want_out = plain.model.forward(s, f.local.features, false, 0);

    // Parts of 256 nodes (12 here) so the METIS order moves nodes; RCM without METIS.
    const auto method = partition::metis::available() ? partition::node_order::metis : partition::node_order::rcm;
    dataset<double> ds = f.ds;
    const auto order = partition::locality_order(graph::build_adjacency<index_t, double>(ds.edges), method, 256);
    std::size_t moved = 0;
    for (std::size_t i = 0; i < order.size(); ++i) moved += order[i] != index_t(i);
    REQUIRE(moved > order.size() / 2);
    graph::permute_nodes(ds, std::span<const index_t>(order));
    const auto op = graph::gcn_normalize<double>(
        graph::permute(graph::build_adjacency<index_t, double>(f.ds.edges), std::span<const index_t>(order)));
    const train::local_data<double> local{ds.features.cview(), ds.labels.data(), ds.nodes_with(split_role::train),
                                          ds.nodes_with(split_role::val), ds.nodes_with(split_role::test)};
    run_state<B, double> ordered;
    parallel::renumbered<parallel::single<B, double>> rs(std::span<const index_t>(order), op);
    CHECK(rs.row_ids().row(5) == std::uint64_t(order[5]));
    const auto got = train::trainer(rs, ordered.model, ordered.opt, local, to).run();
    REQUIRE(got.history.size() == want.history.size());
    for (std::size_t e = 0; e < want.history.size(); ++e) {
        CHECK(got.history[e].loss == doctest::Approx(want.history[e].loss).epsilon(1e-9));
        CHECK(got.history[e].val_acc == want.history[e].val_acc);
    }
    CHECK(got.test_acc == want.test_acc);
    // Output row i of the ordered run is the loaded node order[i]'s.
    const auto out = ordered.model.forward(rs, local.features, false, 0);
    double worst = 0;
    for (std::size_t i = 0; i < out.rows(); ++i)
        for (std::size_t c = 0; c < out.cols(); ++c)
            worst = std::max(worst, std::abs(out(i, c) - want_out(std::size_t(order[i]), c)));
    CHECK(worst < 1e-9);

    // The control: the same ordered data without the renaming draws other masks.
    run_state<B, double> unnamed;
    parallel::single<B, double> us(op);
    const auto other = train::trainer(us, unnamed.model, unnamed.opt, local, to).run();
    CHECK(std::abs(other.history.back().loss - want.history.back().loss) > 1e-6);
}

TEST_CASE("patience stops early after the given number of epochs without improvement") {
    using B = backend::host;
    fixture<float> f;
    run_state<B, float> r;
    train::trainer_options to;
    to.epochs = 500;
    to.patience = 5;
    parallel::single<B, float> s(f.op);
    const auto res = train::trainer(s, r.model, r.opt, f.local, to).run();
    CHECK(res.stopped_early);
    CHECK(int(res.history.size()) == res.best_val_epoch + 5);
}

namespace {

// Logits of `model` on x through s with a model that caches nothing, same weights.
template <class B, class V, class S>
dense_matrix<V> uncached_logits(nn::gcn_model<B, V>& model, S& s, const_matrix_view<V> x) {
    auto mo = model.options();
    mo.cache_input_aggregation = false;
    nn::gcn_model<B, V> fresh(mo);
    const auto from = model.parameters();
    const auto to = fresh.parameters();
    for (std::size_t k = 0; k < from.size(); ++k)
        std::copy_n(from[k]->value.data(), from[k]->size(), to[k]->value.data());
    const auto y = fresh.forward(s, x, false, 0);
    dense_matrix<V> out(y.rows(), y.cols());
    for (std::size_t i = 0; i < y.rows(); ++i) std::copy_n(y.row(i), y.cols(), out.view().row(i));
    return out;
}

// A model whose first layer aggregates before it transforms (in 24 < hidden 64), the
// order in which Â·X is cached.
struct wide_state {
    nn::gcn_model<backend::host, float> model;
    nn::optimizer<backend::host, float> opt;
    wide_state() : model(options()), opt(nn::optimizer_options{}) { model.initialize(7); }
    static nn::model_options options() {
        auto mo = run_state<backend::host, float>::options();
        mo.hidden = 64;
        return mo;
    }
};

template <class V>
void check_equal(const_matrix_view<V> a, const_matrix_view<V> b) {
    REQUIRE(a.rows() == b.rows());
    REQUIRE(a.cols() == b.cols());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < a.rows(); ++i)
        for (std::size_t j = 0; j < a.cols(); ++j) differ += a(i, j) != b(i, j);
    CHECK(differ == 0);
}

}  // namespace

TEST_CASE("the evaluation cache of Â·X follows the operator, not only the input's address") {
    using B = backend::host;
    fixture<float> f;
    // Same node count and features, another graph: a different Â over the same buffer.
    graph::sbm_options o;
    o.nodes = 600;
    o.seed = 99;
    o.avg_degree = 3;
    const auto g = graph::generate_sbm<float>(o);
    const auto op2 = graph::gcn_normalize<float>(graph::build_adjacency<index_t, float>(g.edges));
    wide_state r;
    parallel::single<B, float> s1(f.op), s2(op2);
    r.model.forward(s1, f.local.features, false, 0);  // caches Â₁·X
    const auto y2 = r.model.forward(s2, f.local.features, false, 0);
    check_equal<float>(y2, uncached_logits(r.model, s2, f.local.features).cview());
    // Another strategy over the first operator computes the same products: still cached.
    parallel::single<B, float> s1_again(f.op);
    CHECK(seam::product_identity(s1_again) == seam::product_identity(s1));
    CHECK(seam::product_identity(s1) != seam::product_identity(s2));
    const auto y1 = r.model.forward(s1_again, f.local.features, false, 0);
    check_equal<float>(y1, uncached_logits(r.model, s1, f.local.features).cview());
}

TEST_CASE("a new trainer does not reuse an earlier run's cached Â·X of a buffer whose values changed") {
    using B = backend::host;
    fixture<float> f;
    wide_state r;
    train::trainer_options to;
    to.epochs = 2;
    parallel::single<B, float> s(f.op);
    train::trainer(s, r.model, r.opt, f.local, to).run();  // evaluations cache Â·X
    // New values where the old features were, as a new dataset allocated at the same
    // address would have.
    for (std::size_t k = 0; k < f.ds.features.size(); ++k) f.ds.features.data()[k] *= -0.5f;
    to.epochs = 0;
    train::trainer(s, r.model, r.opt, f.local, to);
    const auto y = r.model.forward(s, f.local.features, false, 0);
    check_equal<float>(y, uncached_logits(r.model, s, f.local.features).cview());
}

TEST_CASE("a trainer refuses a row listed twice or outside the strategy's rows") {
    using B = backend::host;
    fixture<float> f;
    run_state<B, float> r;
    train::trainer_options to;
    to.epochs = 1;
    parallel::single<B, float> s(f.op);
    auto twice = f.local;
    twice.train.push_back(twice.train.front());
    CHECK_THROWS_WITH_AS(train::trainer(s, r.model, r.opt, twice, to), doctest::Contains("training rows: row"),
                         invalid_argument);
    auto outside = f.local;
    outside.test.push_back(index_t(f.ds.num_nodes()));
    CHECK_THROWS_WITH_AS(train::trainer(s, r.model, r.opt, outside, to), doctest::Contains("test rows: row"),
                         invalid_argument);
}

TEST_CASE("trace: spans only while a recorder is active, nested, one epoch span per epoch, layers named") {
    using B = backend::host;
    fixture<float> f(300);
    run_state<B, float> r;
    train::trainer_options to;
    to.epochs = 3;
    parallel::single<B, float> s(f.op);
    trace::recorder outer, rec;
    train::trainer(s, r.model, r.opt, f.local, to).run();
    CHECK(outer.events().empty());  // nothing active: nothing recorded anywhere
    {
        trace::scoped_recording on_outer(outer);
        {
            trace::scoped_recording on(rec);
            CHECK(trace::active() == &rec);
            train::trainer(s, r.model, r.opt, f.local, to).run();
        }
        CHECK(trace::active() == &outer);  // the previous recorder again
    }
    CHECK(trace::active() == nullptr);
    CHECK(outer.events().empty());
    const auto& ev = rec.events();
    auto count = [&](const std::string& name, int layer) {
        return std::count_if(ev.begin(), ev.end(), [&](const trace::event& e) { return e.name == name && e.layer == layer; });
    };
    CHECK(count("epoch", -1) == 3);
    CHECK(count("optimizer", -1) == 3);
    CHECK(count("evaluation", -1) == 3);
    for (int l = 0; l < 2; ++l) {
        CHECK(count("layer forward", l) == 6);  // training and evaluation forward
        CHECK(count("layer backward", l) == 3);
    }
    // Both layers transform first (24 → 8 → 4): per epoch one Â· pass each in the training
    // and the evaluation forward, one Âᵀ· pass each in backward.
    CHECK(count("aggregation", -1) == 3 * 6);
    // Spans close in order: every span lies inside each span it starts in.
    std::vector<trace::event> sorted(ev.begin(), ev.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
        return a.begin_ns != b.begin_ns ? a.begin_ns < b.begin_ns : a.end_ns > b.end_ns;
    });
    std::vector<trace::event> open;
    for (const auto& e : sorted) {
        CHECK(e.end_ns >= e.begin_ns);
        while (!open.empty() && open.back().end_ns <= e.begin_ns) open.pop_back();
        if (!open.empty()) CHECK(e.end_ns <= open.back().end_ns);
        open.push_back(e);
    }
    const std::string json = rec.json_events(3, "rank \"3\"");
    CHECK(json.find("\"name\":\"layer forward L1\"") != std::string::npos);
    CHECK(json.find("rank \\\"3\\\"") != std::string::npos);  // quotes escaped
    CHECK(json.find("\"pid\":3") != std::string::npos);
    // interval() is the strategies' timer: the seconds it returns are the span it records.
    const auto a = trace::clock::now(), b = a + std::chrono::milliseconds(5);
    trace::recorder solo;
    {
        trace::scoped_recording on(solo);
        CHECK(trace::interval("x", trace::category::comm, a, b) == doctest::Approx(0.005));
    }
    REQUIRE(solo.events().size() == 1);
    CHECK(solo.events()[0].end_ns - solo.events()[0].begin_ns == 5000000);
    CHECK(trace::interval("off", trace::category::comm, a, b) == doctest::Approx(0.005));
    CHECK(solo.events().size() == 1);
}
