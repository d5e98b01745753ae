// backend::cuda against the float64 reference backend and the host graph builder.
// Tolerances: float results within 1e-4 of the reference relative to the sum of
// |terms| (aggregation) or the row's scale (GEMM, 1e-5 * k); double within 1e-12.
// Element-wise epilogues and dropout masks must match the reference bit for bit.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/backend/cuda.cuh"
#include "mixgcn/backend/cuda/graph_build.cuh"
#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/normalize.hpp"

using namespace mixgcn;
namespace mc = mixgcn::gpu;
using ref = backend::reference;
using dev = backend::cuda;

namespace {

// Random graph with a hub (node 0 linked to half the nodes), isolated nodes at the end,
// duplicates and self-loops in the raw list.
graph::edge_list<index_t> test_graph(index_t n, std::size_t m, std::uint64_t seed) {
    rng g(seed);
    graph::edge_list<index_t> l;
    l.num_nodes = n;
    const index_t live = n - n / 10;  // the last tenth stays isolated
    for (std::size_t k = 0; k < m; ++k)
        l.edges.emplace_back(static_cast<index_t>(g.below(live)), static_cast<index_t>(g.below(live)));
    for (index_t v = 1; v < live; v += 2) l.edges.emplace_back(0, v);
    l.edges.emplace_back(3, 3);
    l.edges.emplace_back(5, 7);
    l.edges.emplace_back(5, 7);
    return l;
}

template <class V>
dense_matrix<V> random_matrix(std::size_t r, std::size_t c, std::uint64_t seed) {
    rng g(seed);
    dense_matrix<V> m(r, c);
    for (auto& v : m.values()) v = static_cast<V>(g.uniform(-1, 1));
    return m;
}

template <class V>
dense_matrix<V> abs_of(const dense_matrix<V>& m) {
    dense_matrix<V> a(m.rows(), m.cols());
    for (std::size_t i = 0; i < m.size(); ++i) a.data()[i] = std::abs(m.data()[i]);
    return a;
}

template <class V>
constexpr double agg_tol = std::is_same_v<V, float> ? 1e-4 : 1e-12;

// Aggregates X with `host_view` (host pointers) on the reference and `dev_view` (device
// pointers, same operator) on the GPU; checks every entry.
template <class V>
void check_aggregate(const storage::sparse_view<index_t, V>& host_view, const storage::sparse_view<index_t, V>& dev_view,
                     std::size_t width, std::uint64_t seed) {
    const auto n = static_cast<std::size_t>(host_view.rows);
    const auto x = random_matrix<V>(static_cast<std::size_t>(host_view.cols), width, seed);
    dense_matrix<V> expect(n, width), bound(n, width);
    ref::aggregate(host_view, x.cview(), expect.view());
    // |weights| · |X| bounds the rounding error of any summation order.
    auto abs_view = host_view;
    ref::aggregate(abs_view, abs_of(x).cview(), bound.view());
    auto dx = mc::to_device(x);
    mc::device_matrix<V> dy(n, width);
    dev::aggregate(dev_view, dx.cview(), dy.view());
    const auto got = mc::to_host(dy);
    std::size_t bad = 0;
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < width; ++c) {
            const double err = std::abs(double(got(r, c)) - double(expect(r, c)));
            if (err > agg_tol<V> * (double(bound(r, c)) + 1e-30) && bad++ < 5)
                FAIL_CHECK("width ", width, " row ", r, " col ", c, ": got ", got(r, c), " expected ", expect(r, c));
        }
    CHECK(bad == 0);
}

constexpr std::size_t all_widths[] = {16, 32, 64, 128, 256, 512, 1, 3, 7, 33, 300};

}  // namespace

TEST_SUITE("cuda-host") {
TEST_CASE("width dispatch table") {
    for (std::size_t w : {16, 32, 64, 128, 256, 512}) CHECK(mc::has_fixed_width_kernel<float>(w));
    for (std::size_t w : {1, 3, 7, 8, 33, 300, 1024}) CHECK_FALSE(mc::has_fixed_width_kernel<float>(w));
}
}

TEST_SUITE("cuda-device") {
TEST_CASE_TEMPLATE("aggregation at every width matches the reference", V, float, double) {
    const auto list = test_graph(700, 2500, 11);
    const auto adj = graph::build_adjacency<index_t, V>(list);  // pattern, empty rows
    const auto fused = graph::gcn_normalize<V>(adj, graph::normalization_mode::fused);
    const auto weighted = graph::gcn_normalize<V>(adj, graph::normalization_mode::edge_weights);
    const auto d_adj = mc::to_device(adj);
    const auto d_fused = mc::to_device(fused);
    const auto d_weighted = mc::to_device(weighted);
    auto& ctx = mc::current_context();
    for (long long groups : {0LL, 1LL, 7LL, 300LL}) {
        ctx.set_aggregate_groups(groups);
        for (std::size_t w : all_widths) {
            CAPTURE(groups);
            CAPTURE(w);
            check_aggregate<V>(storage::view_of(adj), d_adj.view(), w, 100 + w);
            check_aggregate<V>(fused.forward(), d_fused.forward(), w, 200 + w);
            check_aggregate<V>(weighted.forward(), d_weighted.forward(), w, 300 + w);
        }
    }
    ctx.set_aggregate_groups(0);
}

TEST_CASE_TEMPLATE("wide aggregation in column blocks and in whole rows matches the reference", V, float, double) {
    const auto list = test_graph(700, 2500, 12);
    const auto adj = graph::build_adjacency<index_t, V>(list);
    const auto fused = graph::gcn_normalize<V>(adj, graph::normalization_mode::fused);
    const auto d_fused = mc::to_device(fused);
    auto& ctx = mc::current_context();
    REQUIRE(ctx.aggregate_column_block() == 128);  // the default
    for (int block : {0, 32, 64, 128, 256}) {
        ctx.set_aggregate_column_block(block);
        for (long long groups : {0LL, 5LL}) {
            ctx.set_aggregate_groups(groups);
            for (std::size_t w : {64ul, 128ul, 256ul, 512ul, 300ul}) {
                CAPTURE(block);
                CAPTURE(groups);
                CAPTURE(w);
                check_aggregate<V>(fused.forward(), d_fused.forward(), w, 400 + w);
            }
        }
    }
    ctx.set_aggregate_column_block(128);
    ctx.set_aggregate_groups(0);
    CHECK_THROWS_AS(ctx.set_aggregate_column_block(48), invalid_argument);
}

TEST_CASE("transposed aggregation of a directed graph uses the stored transpose") {
    auto list = test_graph(400, 1500, 5);
    const auto adj = graph::build_adjacency<index_t, float>(list, {.symmetrize = false});
    const auto op = graph::gcn_normalize<float>(adj);
    REQUIRE_FALSE(op.symmetric);
    const auto d_op = mc::to_device(op);
    for (std::size_t w : {16ul, 64ul, 3ul, 300ul}) check_aggregate<float>(op.backward(), d_op.backward(), w, 7 + w);
}

TEST_CASE("row ranges, strided column blocks and unaligned views") {
    const auto list = test_graph(500, 2000, 3);
    const auto op = graph::gcn_normalize<float>(graph::build_adjacency<index_t, float>(list));
    const auto d_op = mc::to_device(op);
    const std::size_t n = 500, wide = 80;
    const auto x = random_matrix<float>(n, wide, 9);
    auto dx = mc::to_device(x);
    for (auto [c0, w] : {std::pair<std::size_t, std::size_t>{0, 64}, {16, 64}, {1, 32}, {3, 16}, {5, 7}}) {
        CAPTURE(c0);
        CAPTURE(w);
        dense_matrix<float> expect(n, wide), got_h(n, wide);
        expect.fill(-7.f);
        const index_t first = 37, last = 411;
        ref::aggregate_rows(op.forward(), x.cview().col_block(c0, w), expect.view().col_block(c0, w), first, last);
        mc::device_matrix<float> dy(n, wide);
        {
            dense_matrix<float> fill(n, wide);
            fill.fill(-7.f);
            mc::upload<float>(fill.cview(), dy.view());
        }
        dev::aggregate_rows(d_op.forward(), dx.cview().col_block(c0, w), dy.view().col_block(c0, w), first, last);
        mc::download<float>(dy.cview(), got_h.view());
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t c = 0; c < wide; ++c) REQUIRE(std::abs(got_h(r, c) - expect(r, c)) <= 1e-4f);
    }
}

TEST_CASE("aggregation reuses pooled memory: no new device memory after the first call") {
    const auto op = graph::gcn_normalize<float>(graph::build_adjacency<index_t, float>(test_graph(2000, 20000, 4)));
    const auto d_op = mc::to_device(op);
    mc::device_matrix<float> x(2000, 256), y(2000, 256);
    dev::aggregate(d_op.forward(), x.cview(), y.view());
    dev::synchronize();
    cudaMemPool_t pool{};
    REQUIRE(cudaDeviceGetDefaultMemPool(&pool, mc::current_context().device()) == cudaSuccess);
    std::uint64_t before = 0, after = 0;
    REQUIRE(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &before) == cudaSuccess);
    for (int epoch = 0; epoch < 5; ++epoch) dev::aggregate(d_op.forward(), x.cview(), y.view());
    dev::synchronize();
    REQUIRE(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &after) == cudaSuccess);
    CHECK(after == before);
}

TEST_CASE("device graph build and normalisation equal the host's") {
    for (bool sym : {true, false})
        for (auto loops : {graph::self_loops::remove, graph::self_loops::keep, graph::self_loops::add}) {
            CAPTURE(sym);
            CAPTURE(int(loops));
            const auto list = test_graph(900, 6000, sym ? 21 : 22);
            const graph::build_options opt{.symmetrize = sym, .loops = loops};
            const auto host = graph::build_adjacency<index_t, float>(list, opt);
            const auto built = mc::build_adjacency<float>(list, opt);
            const auto back = mc::to_host(built);
            CHECK(back.rows == host.rows);
            CHECK(back.row_ptr == host.row_ptr);
            CHECK(back.col_idx == host.col_idx);
            for (auto mode : {graph::normalization_mode::fused, graph::normalization_mode::edge_weights}) {
                const auto h_op = graph::gcn_normalize<float>(host, mode);
                const auto d_op = mc::gcn_normalize<float>(built, mode);
                CHECK(d_op.symmetric == h_op.symmetric);
                const auto a = mc::to_host(d_op.a);
                CHECK(a.row_ptr == h_op.a.row_ptr);
                CHECK(a.col_idx == h_op.a.col_idx);
                CHECK(a.val == h_op.a.val);  // bit for bit
                CHECK(mc::to_host(d_op.row_scale) == h_op.row_scale);
                CHECK(mc::to_host(d_op.col_scale) == h_op.col_scale);
                if (!h_op.symmetric) {
                    const auto at = mc::to_host(d_op.at);
                    CHECK(at.row_ptr == h_op.at.row_ptr);
                    CHECK(at.col_idx == h_op.at.col_idx);
                    CHECK(at.val == h_op.at.val);
                }
            }
        }
    graph::edge_list<index_t> bad{10, {{1, 2}, {3, 12}, {4, 5}}};
    CHECK_THROWS_WITH_AS(mc::build_adjacency<float>(bad), doctest::Contains("edge 1 (3, 12)"), invalid_argument);
}

TEST_CASE_TEMPLATE("gemm through cuBLAS matches the reference for every transpose combination", V, float, double) {
    const std::size_t m = 67, k = 45, n = 33;
    for (auto ta : {transpose::no, transpose::yes})
        for (auto tb : {transpose::no, transpose::yes}) {
            const bool at = ta == transpose::yes, bt = tb == transpose::yes;
            const auto a = random_matrix<V>(at ? k : m, at ? m : k, 1);
            const auto b = random_matrix<V>(bt ? n : k, bt ? k : n, 2);
            auto c = random_matrix<V>(m, n, 3);
            auto da = mc::to_device(a), db = mc::to_device(b), dc = mc::to_device(c);
            ref::gemm(ta, tb, V(0.5), a.cview(), b.cview(), V(2), c.view());
            dev::gemm(ta, tb, V(0.5), da.cview(), db.cview(), V(2), dc.view());
            const auto got = mc::to_host(dc);
            const double tol = std::is_same_v<V, float> ? 1e-5 * k : 1e-12 * k;
            for (std::size_t i = 0; i < m; ++i)
                for (std::size_t j = 0; j < n; ++j) REQUIRE(std::abs(double(got(i, j)) - double(c(i, j))) <= tol);
        }
    // Column block of a wider matrix (row stride != cols) for A and C.
    const auto a = random_matrix<V>(m, 2 * k, 4);
    const auto b = random_matrix<V>(k, n, 5);
    auto da = mc::to_device(a), db = mc::to_device(b);
    mc::device_matrix<V> dc(m, 2 * n);
    dense_matrix<V> c(m, 2 * n);
    ref::gemm(transpose::no, transpose::no, V(1), a.cview().col_block(k, k), b.cview(), V(0), c.view().col_block(n, n));
    dev::gemm(transpose::no, transpose::no, V(1), da.cview().col_block(k, k), db.cview(), V(0),
              dc.view().col_block(n, n));
    const auto got = mc::to_host(dc);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < 2 * n; ++j) REQUIRE(std::abs(double(got(i, j)) - double(c(i, j))) <= 1e-4);
    CHECK_THROWS_AS(dev::gemm(transpose::no, transpose::no, V(1), da.cview(), db.cview(), V(0), dc.view()),
                    invalid_argument);
}

TEST_CASE("TF32 gemm stays within TF32 accuracy") {
    auto& ctx = mc::current_context();
    const std::size_t m = 256, k = 128, n = 64;
    const auto a = random_matrix<float>(m, k, 6), b = random_matrix<float>(k, n, 7);
    dense_matrix<float> c(m, n);
    ref::gemm(transpose::no, transpose::no, 1.f, a.cview(), b.cview(), 0.f, c.view());
    auto da = mc::to_device(a), db = mc::to_device(b);
    mc::device_matrix<float> dc(m, n);
    ctx.set_tf32(true);
    dev::gemm(transpose::no, transpose::no, 1.f, da.cview(), db.cview(), 0.f, dc.view());
    ctx.set_tf32(false);
    const auto got = mc::to_host(dc);
    for (std::size_t i = 0; i < m * n; ++i) REQUIRE(std::abs(got.data()[i] - c.data()[i]) <= 2e-3f * float(k));
}

TEST_CASE("epilogues and dropout match the reference bit for bit") {
    const std::size_t r = 300, c = 37;
    const auto z0 = random_matrix<float>(r, c, 8);
    const auto bias = random_matrix<float>(1, c, 9);
    auto d_bias = mc::to_device(bias);
    for (bool relu : {false, true}) {
        auto z = z0;
        auto dz = mc::to_device(z0);
        ref::bias_act(z.view(), bias.data(), relu);
        dev::bias_act(dz.view(), d_bias.data(), relu);
        const auto got = mc::to_host(dz);
        CHECK(std::equal(got.values().begin(), got.values().end(), z.values().begin()));
    }
    for (float p : {0.f, 0.3f, 0.5f, 1.f}) {
        CAPTURE(p);
        dense_matrix<float> y(r, c);
        std::vector<std::uint8_t> mask(r * c);
        ref::dropout(z0.cview(), y.view(), mask.data(), p, 42, 1000);
        auto dx = mc::to_device(z0);
        mc::device_matrix<float> dy(r, c);
        mc::device_buffer<std::uint8_t> dmask(r * c, mc::current_context().stream());
        dev::dropout(dx.cview(), dy.view(), dmask.data(), p, 42, 1000);
        CHECK(mc::to_host(dmask) == mask);
        const auto got = mc::to_host(dy);
        CHECK(std::equal(got.values().begin(), got.values().end(), y.values().begin()));
        // Backward with the same mask.
        auto g = random_matrix<float>(r, c, 10);
        auto dg = mc::to_device(g);
        ref::dropout_backward(g.view(), mask.data(), p);
        dev::dropout_backward(dg.view(), dmask.data(), p);
        const auto gg = mc::to_host(dg);
        CHECK(std::equal(gg.values().begin(), gg.values().end(), g.values().begin()));
        // Without a stored mask: the same output, and backward draws the mask again.
        mc::device_matrix<float> dn(r, c);
        dev::dropout(dx.cview(), dn.view(), static_cast<std::uint8_t*>(nullptr), p, 42, 1000);
        const auto gn = mc::to_host(dn);
        CHECK(std::equal(gn.values().begin(), gn.values().end(), y.values().begin()));
        auto dr = mc::to_device(random_matrix<float>(r, c, 10));
        dev::dropout_backward(dr.view(), p, 42, 1000);
        const auto gr = mc::to_host(dr);
        CHECK(std::equal(gr.values().begin(), gr.values().end(), g.values().begin()));
        // Fused bias + ReLU + dropout equals the three steps.
        auto z = z0;
        ref::bias_act(z.view(), bias.data(), true);
        dense_matrix<float> yz(r, c);
        std::vector<std::uint8_t> mz(r * c);
        ref::dropout(z.cview(), yz.view(), mz.data(), p, 7, 0);
        auto dz = mc::to_device(z0);
        mc::device_matrix<float> dout(r, c);
        dev::bias_act_dropout(dz.view(), d_bias.data(), true, dout.view(), dmask.data(), p, 7, 0);
        CHECK(mc::to_host(dmask) == mz);
        const auto fo = mc::to_host(dout);
        const auto fz = mc::to_host(dz);
        CHECK(std::equal(fo.values().begin(), fo.values().end(), yz.values().begin()));
        CHECK(std::equal(fz.values().begin(), fz.values().end(), z.values().begin()));
    }
    auto act = random_matrix<float>(r, c, 11);
    auto g = random_matrix<float>(r, c, 12);
    auto dact = mc::to_device(act), dg = mc::to_device(g);
    ref::relu_backward(act.cview(), g.view());
    dev::relu_backward(dact.cview(), dg.view());
    const auto gg = mc::to_host(dg);
    CHECK(std::equal(gg.values().begin(), gg.values().end(), g.values().begin()));
}

TEST_CASE_TEMPLATE("column sums, loss, accuracy, scale_add and Adam", V, float, double) {
    const std::size_t r = 2500, c = 7;
    auto x = random_matrix<V>(r, c, 13);
    // Ties for argmax: row 0 has equal maxima in classes 2 and 5.
    x(0, 2) = x(0, 5) = V(3);
    auto dx = mc::to_device(x);
    std::vector<V> sum(c);
    ref::column_sum(x.cview(), sum.data());
    mc::device_buffer<V> dsum(c, mc::current_context().stream());
    dev::column_sum(dx.cview(), dsum.data());
    const auto gsum = mc::to_host(dsum);
    for (std::size_t j = 0; j < c; ++j) CHECK(std::abs(double(gsum[j]) - double(sum[j])) <= 1e-5 * (1 + std::abs(double(sum[j]))));

    rng g(14);
    std::vector<std::int32_t> labels(r);
    for (auto& l : labels) l = static_cast<std::int32_t>(g.below(c));
    labels[0] = 5;  // the tie resolves to class 2: a wrong prediction in every backend
    std::vector<index_t> rows;
    for (index_t i = 0; i < static_cast<index_t>(r); i += 3) rows.push_back(i);
    auto dlabels = mc::to_device(labels);
    auto drows = mc::to_device(rows);
    dense_matrix<V> grad(r, c);
    const double loss = ref::softmax_cross_entropy(x.cview(), labels.data(), rows.data(), rows.size(), grad.view(), V(0.25));
    mc::device_matrix<V> dgrad(r, c);
    const double dloss = dev::softmax_cross_entropy(dx.cview(), dlabels.data(), drows.data(), rows.size(), dgrad.view(), V(0.25));
    CHECK(dloss == doctest::Approx(loss).epsilon(1e-10));
    const auto gg = mc::to_host(dgrad);
    for (std::size_t i = 0; i < r * c; ++i) REQUIRE(std::abs(double(gg.data()[i]) - double(grad.data()[i])) <= 1e-6);
    CHECK(dev::count_correct(dx.cview(), dlabels.data(), drows.data(), rows.size()) ==
          ref::count_correct(x.cview(), labels.data(), rows.data(), rows.size()));

    const std::size_t n = 1000;
    const auto a = random_matrix<V>(1, n, 15), b = random_matrix<V>(1, n, 16);
    auto y = b;
    ref::scale_add(n, V(-0.75), a.data(), y.data());
    auto da = mc::to_device(a), dy = mc::to_device(b);
    dev::scale_add(n, V(-0.75), da.data(), dy.data());
    const auto gy = mc::to_host(dy);
    CHECK(std::equal(gy.values().begin(), gy.values().end(), y.values().begin()));

    // Adam: three steps against nn::optimizer's update written out in double.
    auto w = random_matrix<V>(1, n, 17);
    auto dw = mc::to_device(w);
    mc::device_matrix<V> dm(1, n), dv(1, n);
    std::vector<double> hw(w.values().begin(), w.values().end()), hm(n), hv(n);
    const mc::adam_options o{.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 5e-4};
    for (std::uint64_t t = 1; t <= 3; ++t) {
        const auto gr = random_matrix<V>(1, n, 100 + t);
        auto dgr = mc::to_device(gr);
        dev::adam(n, dw.data(), dgr.data(), dm.data(), dv.data(), t, o);
        const double c1 = 1 / (1 - std::pow(o.beta1, double(t))), c2 = 1 / (1 - std::pow(o.beta2, double(t)));
        for (std::size_t i = 0; i < n; ++i) {
            const double gi = double(gr.data()[i]) + o.weight_decay * hw[i];
            hm[i] = o.beta1 * hm[i] + (1 - o.beta1) * gi;
            hv[i] = o.beta2 * hv[i] + (1 - o.beta2) * gi * gi;
            hw[i] -= o.lr * (hm[i] * c1) / (std::sqrt(hv[i] * c2) + o.eps);
        }
    }
    const auto gw = mc::to_host(dw);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(std::abs(double(gw.data()[i]) - hw[i]) <= 1e-5);
}

TEST_CASE("CUDA and cuBLAS failures become cuda_error naming the call and the line") {
    try {
        MIXGCN_CUDA_CHECK(cudaSetDevice(100000));
        FAIL("no exception");
    } catch (const cuda_error& e) {
        const std::string what = e.what();
        CHECK(what.find("cudaSetDevice(100000)") != std::string::npos);
        CHECK(what.find("test_cuda_backend.cu:") != std::string::npos);
        CHECK(e.code() == int(cudaErrorInvalidDevice));
    }
    float one = 1;
    CHECK_THROWS_WITH_AS(MIXGCN_CUDA_CHECK(cublasSgemm(mc::current_context().blas(), CUBLAS_OP_N, CUBLAS_OP_N, -1, 1, 1,
                                                       &one, nullptr, 1, nullptr, 1, &one, nullptr, 1)),
                         doctest::Contains("CUBLAS_STATUS_INVALID_VALUE"), cuda_error);
    // The backend still works after an error.
    mc::device_matrix<float> m(4, 4);
    CHECK(mc::to_host(m).values()[0] == 0.f);
    m.fill(2.5f);
    const auto filled = mc::to_host(m);  // a named copy: a temporary's values() would dangle in the loop
    for (float v : filled.values()) CHECK(v == 2.5f);
}
}
