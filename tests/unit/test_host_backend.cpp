// backend::host dense and elementwise kernels against backend::reference, and the loss
// gradient against central finite differences in double.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/core/rng.hpp"

using namespace mixgcn;
using backend::host;
using backend::reference;

namespace {

template <class V>
constexpr double tolerance = std::is_same_v<V, float> ? 1e-5 : 1e-12;

// rows x cols view over `buf` with row stride `stride`; padding holds `pad`.
template <class V>
matrix_view<V> make_view(std::vector<V>& buf, std::size_t rows, std::size_t cols, std::size_t stride, V pad) {
    buf.assign(std::max<std::size_t>(rows * stride, 1), pad);
    return {buf.data(), rows, cols, stride};
}

template <class V>
void fill_random(matrix_view<V> m, std::uint64_t seed, double lo = -1, double hi = 1) {
    rng g(seed);
    for (std::size_t r = 0; r < m.rows(); ++r)
        for (std::size_t c = 0; c < m.cols(); ++c) m(r, c) = static_cast<V>(g.uniform(lo, hi));
}

template <class V>
bool bitwise_equal(const_matrix_view<V> a, const_matrix_view<V> b) {
    for (std::size_t r = 0; r < a.rows(); ++r)
        for (std::size_t c = 0; c < a.cols(); ++c)
            if (!(a(r, c) == b(r, c)) && !(std::isnan(a(r, c)) && std::isnan(b(r, c)))) return false;
    return true;
}

struct gemm_case {
    std::size_t m, k, n;
};

}  // namespace

TEST_CASE_TEMPLATE("host gemm matches the reference for all transposes, betas, odd shapes and strides", V, float,
                   double) {
    // k = 600 spans three inner blocks of the kernel; 1000 rows run on the threads.
    const gemm_case cases[] = {{1, 1, 1},   {7, 13, 5},  {33, 1, 17},    {64, 70, 3},  {129, 40, 65},
                               {5, 0, 4},   {0, 3, 2},   {37, 600, 20},  {1000, 64, 17}, {15, 9, 8}};
    const V nan = std::numeric_limits<V>::quiet_NaN();
    std::uint64_t seed = 100;
    for (const auto& gc : cases)
        for (bool ta : {false, true})
            for (bool tb : {false, true})
                for (V beta : {V(0), V(1), V(-0.5)})
                    for (std::size_t pad : {std::size_t(0), std::size_t(3)}) {
                        CAPTURE(gc.m);
                        CAPTURE(gc.k);
                        CAPTURE(gc.n);
                        CAPTURE(ta);
                        CAPTURE(tb);
                        CAPTURE(beta);
                        CAPTURE(pad);
                        const std::size_t ar = ta ? gc.k : gc.m, ac = ta ? gc.m : gc.k;
                        const std::size_t br = tb ? gc.n : gc.k, bc = tb ? gc.k : gc.n;
                        std::vector<V> ab, bb, cb, rb;
                        auto a = make_view(ab, ar, ac, ac + pad, nan);
                        auto b = make_view(bb, br, bc, bc + pad, nan);
                        auto c = make_view(cb, gc.m, gc.n, gc.n + pad, V(7));
                        fill_random(a, ++seed);
                        fill_random(b, ++seed);
                        if (beta == V(0))
                            std::fill(cb.begin(), cb.end(), nan);  // beta == 0 must not read C
                        else
                            fill_random(c, ++seed);
                        auto want = make_view(rb, gc.m, gc.n, gc.n, V(0));
                        copy(const_matrix_view<V>(c), want);
                        const V alpha = V(1.5);
                        const auto top = ta ? transpose::yes : transpose::no, tob = tb ? transpose::yes : transpose::no;
                        host::gemm(top, tob, alpha, const_matrix_view<V>(a), const_matrix_view<V>(b), beta, c);
                        reference::gemm(top, tob, alpha, const_matrix_view<V>(a), const_matrix_view<V>(b), beta, want);
                        std::size_t bad = 0;
                        for (std::size_t i = 0; i < gc.m; ++i)
                            for (std::size_t j = 0; j < gc.n; ++j) {
                                // Error scale: |alpha| Σ|a||b| + |beta c|, with |c| <= 1.
                                double mag = 0;
                                for (std::size_t l = 0; l < gc.k; ++l)
                                    mag += 1.5 * std::abs(double(ta ? a(l, i) : a(i, l)) * double(tb ? b(j, l) : b(l, j)));
                                mag += std::abs(double(beta));
                                bad += !(std::abs(double(c(i, j)) - double(want(i, j))) <= tolerance<V> * mag);
                            }
                        CHECK(bad == 0);
                        // Padding of C untouched.
                        std::size_t touched = 0;
                        for (std::size_t i = 0; i < gc.m; ++i)
                            for (std::size_t j = gc.n; j < gc.n + pad; ++j)
                                touched += !(cb[i * (gc.n + pad) + j] == V(7) ||
                                             (beta == V(0) && std::isnan(cb[i * (gc.n + pad) + j])));
                        CHECK(touched == 0);
                    }
}

#ifdef _OPENMP
TEST_CASE_TEMPLATE("host gemm gives the same bits on 1 and 2 threads", V, float, double) {
    // Each element of C is summed by one thread in one order (gemm_kernel.hpp).
    for (const bool ta : {false, true}) {
        const std::size_t m = 2000, k = 300, n = 40;
        std::vector<V> ab, bb, c1b, c2b;
        auto a = make_view(ab, ta ? k : m, ta ? m : k, ta ? m : k, V(0));
        auto b = make_view(bb, k, n, n, V(0));
        fill_random(a, 5);
        fill_random(b, 6);
        auto c1 = make_view(c1b, m, n, n, V(0));
        auto c2 = make_view(c2b, m, n, n, V(0));
        const int before = omp_get_max_threads();
        const auto top = ta ? transpose::yes : transpose::no;
        omp_set_num_threads(1);
        host::gemm(top, transpose::no, V(1), const_matrix_view<V>(a), const_matrix_view<V>(b), V(0), c1);
        omp_set_num_threads(2);
        host::gemm(top, transpose::no, V(1), const_matrix_view<V>(a), const_matrix_view<V>(b), V(0), c2);
        omp_set_num_threads(before);
        CHECK(c1b == c2b);
    }
}
#endif

TEST_CASE_TEMPLATE("host gemm rejects mismatched shapes", V, float, double) {
    dense_matrix<V> a(4, 5), b(6, 3), c(4, 3);
    CHECK_THROWS_AS(host::gemm(transpose::no, transpose::no, V(1), a.cview(), b.cview(), V(0), c.view()),
                    invalid_argument);
    dense_matrix<V> b2(5, 3), c2(3, 3);
    CHECK_THROWS_AS(host::gemm(transpose::no, transpose::no, V(1), a.cview(), b2.cview(), V(0), c2.view()),
                    invalid_argument);
}

TEST_CASE_TEMPLATE("host elementwise ops equal the reference", V, float, double) {
    // 700 x 67 is large enough for the parallel path (> 2^15 elements) and an odd width.
    for (std::size_t rows : {std::size_t(3), std::size_t(700)}) {
        const std::size_t cols = 67;
        CAPTURE(rows);
        dense_matrix<V> z(rows, cols), bias(1, cols);
        fill_random(z.view(), 1);
        fill_random(bias.view(), 2);

        for (bool relu : {false, true})
            for (bool with_bias : {false, true}) {
                auto h = z, r = z;
                host::bias_act(h.view(), with_bias ? bias.data() : nullptr, relu);
                reference::bias_act(r.view(), with_bias ? bias.data() : nullptr, relu);
                CHECK(bitwise_equal(h.cview(), r.cview()));
            }

        {
            dense_matrix<V> act(rows, cols), gh(rows, cols);
            fill_random(act.view(), 3);
            fill_random(gh.view(), 4);
            act(0, 0) = V(0);  // exactly zero counts as inactive
            auto gr = gh;
            host::relu_backward(act.cview(), gh.view());
            reference::relu_backward(act.cview(), gr.view());
            CHECK(bitwise_equal(gh.cview(), gr.cview()));
        }

        {
            std::vector<V> sh(cols), sr(cols);
            host::column_sum(z.cview(), sh.data());
            reference::column_sum(z.cview(), sr.data());
            for (std::size_t c = 0; c < cols; ++c)
                CHECK(std::abs(double(sh[c]) - double(sr[c])) <= tolerance<V> * double(rows));
        }

        for (V p : {V(0), V(0.3), V(1)}) {
            CAPTURE(p);
            dense_matrix<V> yh(rows, cols), yr(rows, cols);
            std::vector<std::uint8_t> mh(rows * cols, 9), mr(rows * cols, 7);
            host::dropout(z.cview(), yh.view(), mh.data(), p, 1234, 50);
            reference::dropout(z.cview(), yr.view(), mr.data(), p, 1234, 50);
            CHECK(mh == mr);
            CHECK(bitwise_equal(yh.cview(), yr.cview()));
            auto gh = z, gr = z;
            host::dropout_backward(gh.view(), mh.data(), p);
            reference::dropout_backward(gr.view(), mr.data(), p);
            CHECK(bitwise_equal(gh.cview(), gr.cview()));
            // Without a stored mask: forward stores nothing, backward draws the mask
            // again, and both equal the stored-mask results bit for bit.
            dense_matrix<V> yn(rows, cols);
            host::dropout(z.cview(), yn.view(), static_cast<std::uint8_t*>(nullptr), p, 1234, 50);
            CHECK(bitwise_equal(yn.cview(), yr.cview()));
            auto gn = z, gq = z;
            host::dropout_backward(gn.view(), p, 1234, 50);
            reference::dropout_backward(gq.view(), p, 1234, 50);
            CHECK(bitwise_equal(gn.cview(), gr.cview()));
            CHECK(bitwise_equal(gq.cview(), gr.cview()));
            // Rows named by global ids and a column offset draw the mask of those positions.
            std::vector<index_t> ids(rows);
            for (std::size_t i = 0; i < rows; ++i) ids[i] = static_cast<index_t>(3 * (rows - 1 - i) + 1);
            const dropout_index at(ids.data(), 0, 17);
            auto gi = z, gm = z;
            host::dropout(z.cview(), yh.view(), mh.data(), p, 99, at);
            host::dropout_backward(gm.view(), mh.data(), p);
            host::dropout_backward(gi.view(), p, 99, at);
            CHECK(bitwise_equal(gi.cview(), gm.cview()));
        }

        {
            std::vector<V> xs(rows * cols), yh(rows * cols), yr;
            rng g(5);
            for (auto& v : xs) v = static_cast<V>(g.uniform(-1, 1));
            for (auto& v : yh) v = static_cast<V>(g.uniform(-1, 1));
            yr = yh;
            host::scale_add(xs.size(), V(-0.25), xs.data(), yh.data());
            reference::scale_add(xs.size(), V(-0.25), xs.data(), yr.data());
            CHECK(yh == yr);
        }
    }
}

TEST_CASE_TEMPLATE("host softmax cross-entropy and accuracy equal the reference", V, float, double) {
    const std::size_t rows = 900, classes = 7;
    dense_matrix<V> logits(rows, classes);
    fill_random(logits.view(), 11, -4, 4);
    logits(1, 2) = V(1000);  // large logits must not overflow
    logits(1, 5) = V(999);
    for (std::size_t c = 0; c < classes; ++c) logits(2, c) = V(0.5);  // a full tie: class 0 wins
    std::vector<std::int32_t> labels(rows);
    rng g(12);
    for (auto& l : labels) l = std::int32_t(g.below(classes));
    std::vector<index_t> listed;
    for (index_t r = 0; r < index_t(rows); r += 2) listed.push_back(r);  // odd rows unlisted
    const V scale = V(1) / V(listed.size());

    dense_matrix<V> gh(rows, classes), gr(rows, classes);
    gh.fill(std::numeric_limits<V>::quiet_NaN());  // unlisted rows must be zeroed
    const double lh = host::softmax_cross_entropy(logits.cview(), labels.data(), listed.data(), listed.size(),
                                                  gh.view(), scale);
    const double lr = reference::softmax_cross_entropy(logits.cview(), labels.data(), listed.data(), listed.size(),
                                                       gr.view(), scale);
    CHECK(std::isfinite(lh));
    CHECK(std::abs(lh - lr) <= 1e-12 * std::abs(lr));
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < classes; ++c)
            CHECK(std::abs(double(gh(r, c)) - double(gr(r, c))) <= 1e-6 * double(scale));
    for (std::size_t c = 0; c < classes; ++c) CHECK(gh(1, c) == gr(1, c));
    CHECK(host::count_correct(logits.cview(), labels.data(), listed.data(), listed.size()) ==
          reference::count_correct(logits.cview(), labels.data(), listed.data(), listed.size()));

    labels[2] = 0;
    const index_t tie_row[] = {2};
    CHECK(host::count_correct(logits.cview(), labels.data(), tie_row, 1) == 1);
    labels[2] = 3;
    CHECK(host::count_correct(logits.cview(), labels.data(), tie_row, 1) == 0);

    const index_t bad_row[] = {index_t(rows)};
    CHECK_THROWS_AS(host::softmax_cross_entropy(logits.cview(), labels.data(), bad_row, 1, gh.view(), scale),
                    invalid_argument);
    // A row listed twice would count twice and two threads would write its gradient row.
    const index_t twice[] = {1, 3, 1};
    CHECK_THROWS_WITH_AS(host::softmax_cross_entropy(logits.cview(), labels.data(), twice, 3, gh.view(), scale),
                         doctest::Contains("row 1 (entry 2) is listed twice"), invalid_argument);
}

TEST_CASE("host softmax cross-entropy gradient equals central finite differences") {
    const std::size_t rows = 6, classes = 5;
    dense_matrix<double> logits(rows, classes), grad(rows, classes), scratch(rows, classes);
    fill_random(logits.view(), 21, -2, 2);
    const std::vector<std::int32_t> labels = {0, 4, 2, 2, 1, 3};
    const std::vector<index_t> listed = {0, 2, 3, 5};
    const double scale = 0.25;
    host::softmax_cross_entropy(logits.cview(), labels.data(), listed.data(), listed.size(), grad.view(), scale);
    const double h = 1e-6;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < classes; ++c) {
            auto plus = logits, minus = logits;
            plus(r, c) += h;
            minus(r, c) -= h;
            const double lp =
                host::softmax_cross_entropy(plus.cview(), labels.data(), listed.data(), listed.size(), scratch.view(), 1.0);
            const double lm =
                host::softmax_cross_entropy(minus.cview(), labels.data(), listed.data(), listed.size(), scratch.view(), 1.0);
            const double fd = scale * (lp - lm) / (2 * h);
            CAPTURE(r);
            CAPTURE(c);
            CHECK(std::abs(grad(r, c) - fd) <= 1e-7);
        }
}
