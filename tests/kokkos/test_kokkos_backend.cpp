// The Kokkos backend against the float64-accumulating reference backend (and brute
// force where the reference itself would be the thing under test).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "mixgcn/backend/kokkos/backend.hpp"
#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/storage/convert.hpp"

using namespace mixgcn;
using kk = backend::kokkos<Kokkos::DefaultHostExecutionSpace>;
using ref = backend::reference;

namespace {

// rows x cols with ~avg_degree entries per row; every third row empty, self loops on
// the diagonal where it exists, and row/column 1 a hub touching half the graph.
storage::csr<index_t, float> random_graph(index_t rows, index_t cols, int avg_degree, std::uint64_t seed,
                                          bool values) {
    rng g(seed);
    storage::coo<index_t, float> a;
    a.rows = rows;
    a.cols = cols;
    auto add = [&](index_t r, index_t c) {
        a.row.push_back(r);
        a.col.push_back(c);
        if (values) a.val.push_back(float(g.uniform(-1.0, 1.0)));
    };
    for (index_t r = 0; r < rows; ++r) {
        if (r % 3 == 2 && r != 1) continue;  // empty row
        if (r < cols) add(r, r);              // self loop
        const auto d = g.below(std::uint64_t(2 * avg_degree));
        for (std::uint64_t k = 0; k < d; ++k) add(r, index_t(g.below(std::uint64_t(cols))));
    }
    for (index_t c = 0; c < cols; c += 2) add(1 < rows ? 1 : 0, c);  // hub row
    for (index_t r = 0; r < rows; r += 2)
        if (r % 3 != 2 && cols > 1) add(r, 1);  // hub column
    return storage::to_csr(a);
}

dense_matrix<float> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed) {
    rng g(seed);
    dense_matrix<float> m(rows, cols);
    for (auto& v : m.values()) v = float(g.uniform(-1.0, 1.0));
    return m;
}

void check_close(const_matrix_view<float> got, const_matrix_view<float> want, double rel = 1e-5,
                 double abs = 1e-5) {
    REQUIRE(got.rows() == want.rows());
    REQUIRE(got.cols() == want.cols());
    std::size_t bad = 0;
    for (std::size_t r = 0; r < got.rows(); ++r)
        for (std::size_t c = 0; c < got.cols(); ++c) {
            const double g = got(r, c), w = want(r, c);
            if (!(std::abs(g - w) <= abs + rel * std::abs(w))) {
                if (bad++ < 5) FAIL_CHECK("(", r, ", ", c, "): got ", g, ", want ", w);
            }
        }
    CHECK(bad == 0);
}

struct scales {
    std::vector<float> row, col;
};
scales random_scales(index_t rows, index_t cols, std::uint64_t seed) {
    rng g(seed);
    scales s;
    for (index_t r = 0; r < rows; ++r) s.row.push_back(float(g.uniform(0.1, 1.0)));
    for (index_t c = 0; c < cols; ++c) s.col.push_back(float(g.uniform(0.1, 1.0)));
    return s;
}

}  // namespace

TEST_CASE("kokkos_scope leaves an initialised Kokkos alone") {
    CHECK(Kokkos::is_initialized());
    backend::kokkos_scope inner;
    CHECK_FALSE(inner.owns());
}

TEST_CASE("aggregation matches the reference for every instantiated and fallback width") {
    const index_t rows = 203, cols = 187;
    for (bool values : {true, false}) {
        const auto a = random_graph(rows, cols, 6, 11 + values, values);
        a.validate();
        const auto sc = random_scales(rows, cols, 5);
        // Values alone, values with fused scales, pattern with fused scales, bare pattern.
        std::vector<storage::sparse_view<index_t, float>> views{storage::view_of(a),
                                                                storage::view_of(a, sc.row.data(), sc.col.data())};
        views.push_back(storage::view_of(a, static_cast<const float*>(nullptr), sc.col.data()));
        for (int width : {16, 32, 64, 128, 256, 1, 3, 7, 33, 300}) {
            CAPTURE(width);
            CAPTURE(values);
            CHECK(kk::has_instance(std::size_t(width)) ==
                  (width == 16 || width == 32 || width == 64 || width == 128 || width == 256));
            const auto x = random_matrix(std::size_t(cols), std::size_t(width), std::uint64_t(width));
            for (const auto& v : views) {
                const auto r_count = std::size_t(rows), w_count = std::size_t(width);
                dense_matrix<float> want(r_count, w_count), got(r_count, w_count), generic(r_count, w_count);
                got.fill(42.0f);  // every row, empty ones included, must be overwritten
                ref::aggregate(v, x.cview(), want.view());
                kk::aggregate(v, x.cview(), got.view());
                check_close(got.cview(), want.cview());
                // The chunked fallback handles instantiated widths too.
                kk::aggregate_generic(v, x.cview(), generic.view(), index_t{0}, rows);
                check_close(generic.cview(), want.cview());
            }
        }
    }
}

TEST_CASE("each width instance is reachable directly and rejects other widths") {
    const auto a = random_graph(64, 64, 4, 3, true);
    const auto v = storage::view_of(a);
    auto run = [&]<int W>() {
        const auto x = random_matrix(64, W, W);
        dense_matrix<float> want(64, W), got(64, W);
        ref::aggregate(v, x.cview(), want.view());
        kk::aggregate_width<W>(v, x.cview(), got.view(), index_t{0}, index_t{64});
        check_close(got.cview(), want.cview());
        const auto wrong = random_matrix(64, W + 1, 1);
        dense_matrix<float> out(64, W + 1);
        CHECK_THROWS_AS(kk::aggregate_width<W>(v, wrong.cview(), out.view(), index_t{0}, index_t{64}),
                        invalid_argument);
    };
    run.template operator()<16>();
    run.template operator()<32>();
    run.template operator()<64>();
    run.template operator()<128>();
    run.template operator()<256>();
}

TEST_CASE("aggregation on strided column blocks and row ranges leaves the rest untouched") {
    const index_t n = 150;
    const auto a = random_graph(n, n, 5, 21, true);
    const auto v = storage::view_of(a);
    for (std::size_t width : {std::size_t(32), std::size_t(7)}) {
        CAPTURE(width);
        // X and Y are column blocks of wider matrices: row stride != width.
        const auto wide_x = random_matrix(std::size_t(n), width + 9, 4);
        const auto x = wide_x.cview().col_block(5, width);
        dense_matrix<float> wide_y(std::size_t(n), width + 6);
        wide_y.fill(-3.0f);
        auto y = wide_y.view().col_block(2, width);
        const index_t first = 17, last = 96;
        kk::aggregate_rows(v, x, y, first, last);
        dense_matrix<float> compact_x(std::size_t(n), width), want(std::size_t(n), width);
        copy(x, compact_x.view());
        ref::aggregate(v, compact_x.cview(), want.view());
        for (std::size_t r = 0; r < std::size_t(n); ++r)
            for (std::size_t c = 0; c < wide_y.cols(); ++c) {
                const bool inside = r >= std::size_t(first) && r < std::size_t(last) && c >= 2 && c < 2 + width;
                if (inside)
                    CHECK(wide_y(r, c) == doctest::Approx(want(r, c - 2)).epsilon(1e-5).scale(1.0));
                else
                    CHECK(wide_y(r, c) == -3.0f);
            }
    }
    dense_matrix<float> x(std::size_t(n), 16), y(std::size_t(n), 16);
    CHECK_THROWS_AS(kk::aggregate_rows(v, x.cview(), y.view(), index_t{10}, index_t{n + 1}), invalid_argument);
    dense_matrix<float> short_y(std::size_t(n) - 1, 16);
    CHECK_THROWS_AS(kk::aggregate(v, x.cview(), short_y.view()), invalid_argument);
}

TEST_CASE("transposed aggregation through the operator's backward view equals a brute-force transpose") {
    // A directed graph: gcn_normalize stores the transpose and swaps the scales.
    const index_t n = 120;
    rng g(99);
    storage::coo<index_t, float> e;
    e.rows = e.cols = n;
    for (int k = 0; k < 700; ++k) {
        e.row.push_back(index_t(g.below(n)));
        e.col.push_back(index_t(g.below(n / 2)));  // columns concentrated: in-degree hubs
    }
    const auto adj = storage::to_csr(e);
    for (auto mode : {graph::normalization_mode::fused, graph::normalization_mode::edge_weights}) {
        const auto op = graph::gcn_normalize<float>(adj, mode);
        REQUIRE_FALSE(op.symmetric);
        // Dense Â from the forward view, transposed by hand.
        const auto fw = op.forward();
        std::vector<double> dense(std::size_t(n) * std::size_t(n), 0.0);
        for (index_t r = 0; r < n; ++r)
            for (auto k = fw.row_ptr[r]; k < fw.row_ptr[r + 1]; ++k)
                dense[std::size_t(fw.col_idx[k]) * std::size_t(n) + std::size_t(r)] += double(fw.weight(r, k));
        for (std::size_t width : {std::size_t(64), std::size_t(5)}) {
            const auto dy = random_matrix(std::size_t(n), width, 8);
            dense_matrix<float> got(std::size_t(n), width), want(std::size_t(n), width);
            kk::aggregate(op.backward(), dy.cview(), got.view());
            for (std::size_t r = 0; r < std::size_t(n); ++r)
                for (std::size_t c = 0; c < width; ++c) {
                    double acc = 0;
                    for (std::size_t l = 0; l < std::size_t(n); ++l) acc += dense[r * std::size_t(n) + l] * dy(l, c);
                    want(r, c) = float(acc);
                }
            check_close(got.cview(), want.cview());
        }
    }
}

TEST_CASE("gemm matches the reference for every transpose combination, alpha, beta and strides") {
    const std::size_t m = 37, k = 70, n = 45;  // n: one full and one partial tile
    for (auto ta : {transpose::no, transpose::yes})
        for (auto tb : {transpose::no, transpose::yes})
            for (float beta : {0.0f, 0.5f}) {
                CAPTURE(int(ta));
                CAPTURE(int(tb));
                CAPTURE(beta);
                const auto a = random_matrix(ta == transpose::yes ? k : m, ta == transpose::yes ? m : k, 1);
                // B as a column block of a wider matrix.
                const auto wide_b = random_matrix(tb == transpose::yes ? n : k, (tb == transpose::yes ? k : n) + 3, 2);
                const auto b = wide_b.cview().col_block(1, tb == transpose::yes ? k : n);
                auto c0 = random_matrix(m, n, 3);
                c0(0, 0) = std::nanf("");  // beta == 0 must not read C
                auto want = c0, got = c0;
                if (beta != 0.0f) want(0, 0) = got(0, 0) = 1.0f;
                ref::gemm(ta, tb, 1.5f, a.cview(), b, beta, want.view());
                kk::gemm(ta, tb, 1.5f, a.cview(), b, beta, got.view());
                check_close(got.cview(), want.cview(), 1e-5, 1e-4);
            }
    dense_matrix<float> a(3, 4), b(5, 2), c(3, 2);
    CHECK_THROWS_AS(kk::gemm(transpose::no, transpose::no, 1.0f, a.cview(), b.cview(), 0.0f, c.view()),
                    invalid_argument);
}

TEST_CASE("fused bias + ReLU, relu_backward, column_sum and scale_add match the reference") {
    const auto z0 = random_matrix(41, 19, 6);
    const auto bias = random_matrix(1, 19, 7);
    for (bool relu : {true, false})
        for (bool with_bias : {true, false}) {
            auto want = z0, got = z0;
            ref::bias_act(want.view(), with_bias ? bias.data() : nullptr, relu);
            kk::bias_act(got.view(), with_bias ? bias.data() : nullptr, relu);
            check_close(got.cview(), want.cview(), 0, 0);
        }
    auto act = z0;
    ref::bias_act(act.view(), bias.data(), true);
    auto g_want = random_matrix(41, 19, 8), g_got = g_want;
    ref::relu_backward(act.cview(), g_want.view());
    kk::relu_backward(act.cview(), g_got.view());
    check_close(g_got.cview(), g_want.cview(), 0, 0);

    const auto big = random_matrix(1001, 23, 9);
    std::vector<float> s_want(23), s_got(23, 7.0f);
    ref::column_sum(big.cview(), s_want.data());
    kk::column_sum(big.cview(), s_got.data());
    for (std::size_t c = 0; c < 23; ++c) CHECK(s_got[c] == doctest::Approx(s_want[c]).epsilon(1e-6));

    auto y_want = random_matrix(1, 333, 10), y_got = y_want;
    const auto x = random_matrix(1, 333, 11);
    ref::scale_add(333, -0.25f, x.data(), y_want.data());
    kk::scale_add(333, -0.25f, x.data(), y_got.data());
    check_close(y_got.cview(), y_want.cview(), 0, 0);
}

TEST_CASE("dropout draws the reference's mask and scales the same way") {
    const auto x = random_matrix(77, 29, 12);
    for (float p : {0.0f, 0.5f, 0.9f, 1.0f}) {
        CAPTURE(p);
        dense_matrix<float> y_want(77, 29), y_got(77, 29);
        std::vector<std::uint8_t> m_want(77 * 29), m_got(77 * 29, 2);
        ref::dropout(x.cview(), y_want.view(), m_want.data(), p, 1234, 500);
        kk::dropout(x.cview(), y_got.view(), m_got.data(), p, 1234, 500);
        CHECK(m_got == m_want);
        check_close(y_got.cview(), y_want.cview(), 0, 0);
        auto g_want = random_matrix(77, 29, 13), g_got = g_want;
        ref::dropout_backward(g_want.view(), m_want.data(), p);
        kk::dropout_backward(g_got.view(), m_got.data(), p);
        check_close(g_got.cview(), g_want.cview(), 0, 0);
        // Without a stored mask: the same output, and the mask drawn again in backward.
        dense_matrix<float> y_none(77, 29);
        kk::dropout(x.cview(), y_none.view(), static_cast<std::uint8_t*>(nullptr), p, 1234, 500);
        check_close(y_none.cview(), y_want.cview(), 0, 0);
        auto g_redrawn = random_matrix(77, 29, 13);
        kk::dropout_backward(g_redrawn.view(), p, 1234, 500);
        check_close(g_redrawn.cview(), g_want.cview(), 0, 0);
    }
    // Another row offset gives another mask (the mask depends on the global row).
    dense_matrix<float> y1(77, 29), y2(77, 29);
    std::vector<std::uint8_t> m1(77 * 29), m2(77 * 29);
    kk::dropout(x.cview(), y1.view(), m1.data(), 0.5f, 1234, 0);
    kk::dropout(x.cview(), y2.view(), m2.data(), 0.5f, 1234, 1);
    CHECK(m1 != m2);
    CHECK_THROWS_AS(kk::dropout(x.cview(), y1.view(), m1.data(), 1.5f, 1, 0), invalid_argument);
}

TEST_CASE("softmax cross-entropy and count_correct match the reference") {
    const std::size_t n = 90, classes = 7;
    auto logits = random_matrix(n, classes, 14);
    for (auto& v : logits.values()) v *= 8.0f;  // large logits: the max shift matters
    std::vector<std::int32_t> labels(n);
    rng g(15);
    for (auto& l : labels) l = std::int32_t(g.below(classes));
    // Ties: the first maximum wins in every backend.
    logits(4, 2) = logits(4, 5) = 100.0f;
    labels[4] = 2;
    logits(6, 1) = logits(6, 3) = 100.0f;
    labels[6] = 3;
    std::vector<index_t> rows;
    for (index_t r = 0; r < index_t(n); r += 2) rows.push_back(r);
    dense_matrix<float> g_want(n, classes), g_got(n, classes);
    g_got.fill(5.0f);  // rows not listed must become 0
    const double l_want = ref::softmax_cross_entropy(logits.cview(), labels.data(), rows.data(), rows.size(),
                                                     g_want.view(), 1.0f / float(rows.size()));
    const double l_got = kk::softmax_cross_entropy(logits.cview(), labels.data(), rows.data(), rows.size(),
                                                   g_got.view(), 1.0f / float(rows.size()));
    CHECK(l_got == doctest::Approx(l_want).epsilon(1e-12));
    check_close(g_got.cview(), g_want.cview(), 1e-6, 1e-7);
    const auto c_want = ref::count_correct(logits.cview(), labels.data(), rows.data(), rows.size());
    const auto c_got = kk::count_correct(logits.cview(), labels.data(), rows.data(), rows.size());
    CHECK(c_got == c_want);
    CHECK(c_want > 0);  // the tie rows 4 (label 2, first max) count
    CHECK(kk::count_correct(logits.cview(), labels.data(), rows.data(), 0) == 0);
    CHECK(kk::softmax_cross_entropy(logits.cview(), labels.data(), rows.data(), 0, g_got.view(), 1.0f) == 0.0);
}

TEST_CASE("double precision runs through the same kernels") {
    const auto a32 = random_graph(80, 80, 5, 31, true);
    storage::csr<index_t, double> a;
    a.rows = a32.rows;
    a.cols = a32.cols;
    a.row_ptr = a32.row_ptr;
    a.col_idx = a32.col_idx;
    a.val.assign(a32.val.begin(), a32.val.end());
    const auto x = convert<double>(random_matrix(80, 33, 32));
    dense_matrix<double> want(80, 33), got(80, 33);
    ref::aggregate(storage::view_of(a), x.cview(), want.view());
    kk::aggregate(storage::view_of(a), x.cview(), got.view());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got.data()[i] == doctest::Approx(want.data()[i]).epsilon(1e-12));
}

// ---- training: the same model, seed and data on the Kokkos and the host backend -----
#include "mixgcn/backend/host.hpp"
#include "mixgcn/graph/generators.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/train/trainer.hpp"

namespace {

template <class B>
train::train_result train_sbm(const dataset<float>& ds, const graph::gcn_operator<index_t, float>& op) {
    nn::model_options mo;
    mo.in = ds.features.cols();
    mo.hidden = 16;
    mo.classes = 4;
    mo.dropout = 0.0;  // dropout masks agree anyway (tested above); off keeps the test about kernels
    nn::gcn_model<B, float> model(mo);
    model.initialize(7);
    nn::optimizer<B, float> opt(nn::optimizer_options{});
    parallel::single<B, float> strategy(op);
    const train::local_data<float> local{ds.features.cview(), ds.labels.data(), ds.nodes_with(split_role::train),
                                         ds.nodes_with(split_role::val), ds.nodes_with(split_role::test)};
    train::trainer_options to;
    to.epochs = 20;
    to.seed = 3;
    return train::trainer(strategy, model, opt, local, to).run();
}

}  // namespace

TEST_CASE("20 epochs on the Kokkos backend follow the host backend's loss curve") {
    graph::sbm_options o;
    o.nodes = 800;
    o.features = 40;  // generic-width aggregation in layer 1, width 16 in layer 2
    o.classes = 4;
    o.seed = 5;
    const auto ds = graph::generate_sbm<float>(o);
    const auto op = graph::gcn_normalize<float>(graph::build_adjacency<index_t, float>(ds.edges));
    const auto host = train_sbm<backend::host>(ds, op);
    const auto kk_run = train_sbm<kk>(ds, op);
    REQUIRE(host.history.size() == 20);
    REQUIRE(kk_run.history.size() == 20);
    for (std::size_t e = 0; e < 20; ++e) {
        CAPTURE(e);
        CHECK(kk_run.history[e].loss == doctest::Approx(host.history[e].loss).epsilon(1e-4));
        CHECK(kk_run.history[e].train_acc == doctest::Approx(host.history[e].train_acc).epsilon(0.01));
    }
    CHECK(kk_run.history.back().loss < 0.9 * kk_run.history.front().loss);  // it learns
}
