// backend::host aggregation against backend::reference (float64 accumulation).
//
// Tolerance: the two backends add the same terms in different precision and order, so
// the comparison is relative to the magnitude the sum was built from, not to the
// (possibly cancelled) result: |host - ref| <= tol · Σ_k |w_k · x_k| per output, with
// tol = 1e-5 for float and 1e-12 for double.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/backend/reference/backend.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/storage/convert.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace mixgcn;
using backend::host;
using backend::reference;

namespace {

template <class V>
constexpr double tolerance = std::is_same_v<V, float> ? 1e-5 : 1e-12;

struct graph_shape {
    index_t rows = 300;
    index_t cols = 300;
    double avg_degree = 6;
    bool hub = true;          // row 0 links to half the columns, half the rows link to column 1
    bool self_loops = true;   // diagonal entries on square graphs
    double empty_rows = 0.1;  // share of rows with no entry at all
    bool weights = false;     // random signed edge weights
};

// Random sparse operator with the awkward cases a kernel must survive: empty rows,
// self-loops, a power-law hub row and hub column, duplicate draws merged by to_csr.
template <class V>
storage::csr<index_t, V> random_graph(const graph_shape& s, std::uint64_t seed) {
    rng g(seed);
    storage::coo<index_t, V> a;
    a.rows = s.rows;
    a.cols = s.cols;
    std::vector<bool> empty(static_cast<std::size_t>(s.rows));
    for (auto&& e : empty) e = g.uniform() < s.empty_rows;
    if (s.hub && s.rows > 0) empty[0] = false;
    auto add = [&](index_t r, index_t c) {
        if (empty[static_cast<std::size_t>(r)]) return;
        a.row.push_back(r);
        a.col.push_back(c);
        if (s.weights) a.val.push_back(static_cast<V>(g.uniform(-1.0, 1.0)));
    };
    const auto draws = static_cast<std::size_t>(s.avg_degree * s.rows);
    for (std::size_t k = 0; k < draws; ++k)
        add(index_t(g.below(std::uint64_t(s.rows))), index_t(g.below(std::uint64_t(s.cols))));
    if (s.self_loops && s.rows == s.cols)
        for (index_t r = 0; r < s.rows; r += 3) add(r, r);
    if (s.hub) {
        for (index_t c = 0; c < s.cols; c += 2) add(0, c);
        for (index_t r = 0; r < s.rows; r += 2) add(r, std::min<index_t>(1, s.cols - 1));
    }
    auto out = storage::to_csr(a);
    out.validate();
    return out;
}

template <class V>
std::vector<V> random_vector(std::size_t n, std::uint64_t seed, double lo, double hi) {
    rng g(seed);
    std::vector<V> v(n);
    for (auto& x : v) x = static_cast<V>(g.uniform(lo, hi));
    return v;
}

// A rows x cols view with row stride `stride` over `buf`, padding set to `pad`.
template <class V>
matrix_view<V> strided(std::vector<V>& buf, std::size_t rows, std::size_t cols, std::size_t stride, V pad) {
    buf.assign(rows * stride, pad);
    return {buf.data(), rows, cols, stride};
}

template <class V>
void fill_random(matrix_view<V> m, std::uint64_t seed) {
    rng g(seed);
    for (std::size_t r = 0; r < m.rows(); ++r)
        for (std::size_t c = 0; c < m.cols(); ++c) m(r, c) = static_cast<V>(g.uniform(-1.0, 1.0));
}

// Σ_k |w_k| · |x_k| for every output: the scale the rounding error is measured against.
template <class V>
dense_matrix<double> magnitude(const storage::sparse_view<index_t, V, offset_t>& a, const_matrix_view<V> x) {
    dense_matrix<double> m(static_cast<std::size_t>(a.rows), x.cols());
    for (index_t r = 0; r < a.rows; ++r)
        for (offset_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k)
            for (std::size_t c = 0; c < x.cols(); ++c)
                m(static_cast<std::size_t>(r), c) +=
                    std::abs(double(a.weight(r, k))) * std::abs(double(x(static_cast<std::size_t>(a.col_idx[k]), c)));
    return m;
}

// Rows [first, last) of `got` match the reference; returns the number of mismatches.
template <class V>
std::size_t mismatches(const storage::sparse_view<index_t, V, offset_t>& a, const_matrix_view<V> x,
                       const_matrix_view<V> got, index_t first, index_t last) {
    dense_matrix<V> want(static_cast<std::size_t>(a.rows), x.cols());
    reference::aggregate(a, x, want.view());
    const auto mag = magnitude(a, x);
    std::size_t bad = 0;
    for (auto r = static_cast<std::size_t>(first); r < static_cast<std::size_t>(last); ++r)
        for (std::size_t c = 0; c < x.cols(); ++c) {
            const double err = std::abs(double(got(r, c)) - double(want(r, c)));
            if (!(err <= tolerance<V> * mag(r, c) + std::numeric_limits<double>::min())) {
                if (bad < 5)
                    MESSAGE("row ", r, " col ", c, ": host ", double(got(r, c)), " reference ", double(want(r, c)),
                            " magnitude ", mag(r, c));
                ++bad;
            }
        }
    return bad;
}

const std::size_t all_widths[] = {8, 16, 32, 64, 128, 256, 1, 3, 7, 33, 41, 47, 100, 300, 602};

enum class weighting { pattern, fused_scales, edge_weights, weights_and_scales };

template <class V>
void check_widths(graph_shape s, weighting w, std::uint64_t seed) {
    s.weights = w == weighting::edge_weights || w == weighting::weights_and_scales;
    const auto a = random_graph<V>(s, seed);
    const bool scaled = w == weighting::fused_scales || w == weighting::weights_and_scales;
    const auto rs = random_vector<V>(std::size_t(s.rows), seed + 1, 0.5, 1.5);
    const auto cs = random_vector<V>(std::size_t(s.cols), seed + 2, 0.5, 1.5);
    const auto op = storage::view_of(a, scaled ? rs.data() : nullptr, scaled ? cs.data() : nullptr);
    for (std::size_t d : all_widths) {
        CAPTURE(d);
        dense_matrix<V> x(std::size_t(s.cols), d), y(std::size_t(s.rows), d);
        fill_random(x.view(), seed + d);
        y.fill(std::numeric_limits<V>::quiet_NaN());  // every output must be written
        host::aggregate(op, x.cview(), y.view());
        CHECK(mismatches(op, x.cview(), y.cview(), 0, s.rows) == 0);
    }
}

}  // namespace

TEST_CASE_TEMPLATE("host aggregate matches the reference at every instantiated and fallback width", V, float,
                   double) {
    for (auto w : {weighting::pattern, weighting::fused_scales, weighting::edge_weights, weighting::weights_and_scales}) {
        CAPTURE(int(w));
        check_widths<V>(graph_shape{}, w, 11 + std::uint64_t(w));
    }
}

// The fallback's tail is whole registers (one instance per count) plus pieces of 8, 4,
// 2 and 1 columns: every width up to one chunk and a register past it reaches each
// register count and each combination of pieces, on this machine's vector width.
TEST_CASE_TEMPLATE("host aggregate matches the reference at every tail length of the fallback", V, float, double) {
    graph_shape s;
    s.rows = 40;
    s.cols = 40;
    s.avg_degree = 6;
    const auto a = random_graph<V>(s, 51);
    const auto cs = random_vector<V>(std::size_t(s.cols), 52, 0.5, 1.5);
    const auto op = storage::view_of(a, cs.data(), cs.data());
    const auto last = std::size_t(backend::host_detail::chunk<V> + backend::host_detail::lanes<V> + 1);
    for (std::size_t d = 1; d <= last; ++d) {
        CAPTURE(d);
        dense_matrix<V> x(std::size_t(s.cols), d), y(std::size_t(s.rows), d);
        fill_random(x.view(), 53 + d);
        y.fill(std::numeric_limits<V>::quiet_NaN());
        host::aggregate(op, x.cview(), y.view());
        REQUIRE(mismatches(op, x.cview(), y.cview(), 0, s.rows) == 0);
    }
}

TEST_CASE_TEMPLATE("host aggregate on a rectangular block with ghost columns", V, float, double) {
    graph_shape s;
    s.rows = 120;  // owned rows
    s.cols = 410;  // owned + ghost columns
    s.avg_degree = 9;
    check_widths<V>(s, weighting::fused_scales, 21);
    check_widths<V>(s, weighting::edge_weights, 22);
}

TEST_CASE_TEMPLATE("host aggregate reads and writes strided views only inside their columns", V, float, double) {
    const auto a = random_graph<V>(graph_shape{}, 31);
    const auto rs = random_vector<V>(std::size_t(a.rows), 32, 0.5, 1.5);
    const auto op = storage::view_of(a, rs.data(), rs.data());
    const V nan = std::numeric_limits<V>::quiet_NaN(), sentinel = V(12345);
    for (std::size_t d : all_widths) {
        CAPTURE(d);
        std::vector<V> xb, yb;
        // NaN padding in X: a read past the row's columns poisons the result.
        auto x = strided(xb, std::size_t(a.cols), d, d + 5, nan);
        auto y = strided(yb, std::size_t(a.rows), d, d + 3, sentinel);
        fill_random(x, 33 + d);
        host::aggregate(op, const_matrix_view<V>(x), y);
        CHECK(mismatches(op, const_matrix_view<V>(x), const_matrix_view<V>(y), 0, a.rows) == 0);
        std::size_t touched = 0;
        for (std::size_t r = 0; r < y.rows(); ++r)
            for (std::size_t c = d; c < d + 3; ++c) touched += yb[r * (d + 3) + c] != sentinel;
        CHECK(touched == 0);
    }
}

TEST_CASE_TEMPLATE("host aggregate_rows writes exactly the requested row range", V, float, double) {
    const auto a = random_graph<V>(graph_shape{}, 41);
    const auto cs = random_vector<V>(std::size_t(a.cols), 42, 0.5, 1.5);
    const auto op = storage::view_of(a, static_cast<const V*>(nullptr), cs.data());
    const V sentinel = V(-777);
    const std::pair<index_t, index_t> ranges[] = {{0, 0}, {0, 1}, {5, 6}, {1, 150}, {37, 300}, {0, 300}, {299, 300}};
    for (std::size_t d : {std::size_t(64), std::size_t(7)}) {
        dense_matrix<V> x(std::size_t(a.cols), d);
        fill_random(x.view(), 43);
        for (const auto& range : ranges) {
            // Named locals, not a structured binding: CAPTURE's lambda cannot capture a
            // binding before clang 16, and the sanitizer builds use clang 14.
            const index_t first = range.first, last = range.second;
            CAPTURE(d);
            CAPTURE(first);
            CAPTURE(last);
            dense_matrix<V> y(std::size_t(a.rows), d);
            y.fill(sentinel);
            host::aggregate_rows(op, x.cview(), y.view(), first, last);
            CHECK(mismatches(op, x.cview(), y.cview(), first, last) == 0);
            std::size_t outside = 0;
            for (std::size_t r = 0; r < y.rows(); ++r)
                if (r < std::size_t(first) || r >= std::size_t(last))
                    for (std::size_t c = 0; c < d; ++c) outside += y(r, c) != sentinel;
            CHECK(outside == 0);
        }
        dense_matrix<V> y(std::size_t(a.rows), d);
        CHECK_THROWS_AS(host::aggregate_rows(op, x.cview(), y.view(), index_t(10), index_t(5)), invalid_argument);
        CHECK_THROWS_AS(host::aggregate_rows(op, x.cview(), y.view(), index_t(0), index_t(301)), invalid_argument);
    }
}

TEST_CASE_TEMPLATE("host aggregate with the transposed operator of a directed graph", V, float, double) {
    // A directed graph: the GCN operator is not symmetric, backward() uses the stored Aᵀ.
    graph::edge_list<index_t> list;
    list.num_nodes = 257;
    rng g(51);
    for (int k = 0; k < 2000; ++k)
        list.edges.emplace_back(index_t(g.below(257)), index_t(g.below(257)));
    for (index_t v = 1; v < 257; v += 2) list.edges.emplace_back(index_t(3), v);  // out-hub
    const auto adj = graph::build_adjacency<index_t, V>(list, {.symmetrize = false, .loops = graph::self_loops::remove});
    for (auto mode : {graph::normalization_mode::fused, graph::normalization_mode::edge_weights}) {
        const auto op = graph::gcn_normalize<V>(adj, mode);
        REQUIRE_FALSE(op.symmetric);
        const auto back = op.backward();
        // Independent transpose for the reference: storage::transpose of the forward
        // pattern, the scales swapped.
        const auto t = storage::transpose(op.a);
        const auto ref_back = storage::view_of(t, op.col_scale.empty() ? nullptr : op.col_scale.data(),
                                               op.row_scale.empty() ? nullptr : op.row_scale.data());
        for (std::size_t d : {std::size_t(32), std::size_t(128), std::size_t(5)}) {
            CAPTURE(d);
            dense_matrix<V> x(257, d), y(257, d), want(257, d);
            fill_random(x.view(), 52 + d);
            host::aggregate(back, x.cview(), y.view());
            CHECK(mismatches(ref_back, x.cview(), y.cview(), 0, 257) == 0);

            // Adjoint identity <A u, v> = <u, Aᵀ v>, which holds whatever the transpose
            // code did: a check independent of storage::transpose.
            dense_matrix<V> u(257, d), au(257, d);
            fill_random(u.view(), 60 + d);
            host::aggregate(op.forward(), u.cview(), au.view());
            double lhs = 0, rhs = 0, scale = 0;
            for (std::size_t i = 0; i < 257 * d; ++i) {
                lhs += double(au.data()[i]) * double(x.data()[i]);
                rhs += double(u.data()[i]) * double(y.data()[i]);
                scale += std::abs(double(au.data()[i]) * double(x.data()[i]));
            }
            CHECK(std::abs(lhs - rhs) <= 10 * tolerance<V> * scale);
        }
    }
}

TEST_CASE("host aggregate gives bitwise the same rows whatever the thread count") {
    graph_shape s;
    s.rows = s.cols = 2000;
    const auto a = random_graph<float>(s, 71);
    const auto rs = random_vector<float>(2000, 72, 0.5, 1.5);
    const auto op = storage::view_of(a, rs.data(), rs.data());
    for (std::size_t d : {std::size_t(64), std::size_t(33)}) {
        dense_matrix<float> x(2000, d), y1(2000, d), yn(2000, d);
        fill_random(x.view(), 73);
#ifdef _OPENMP
        const int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        host::aggregate(op, x.cview(), y1.view());
        for (int t : {2, 3, 7}) {
            CAPTURE(t);
            omp_set_num_threads(t);
            yn.fill(-1.0f);
            host::aggregate(op, x.cview(), yn.view());
            CHECK(std::equal(y1.values().begin(), y1.values().end(), yn.values().begin()));
        }
        omp_set_num_threads(saved);
#else
        host::aggregate(op, x.cview(), y1.view());
#endif
        CHECK(mismatches(op, x.cview(), y1.cview(), 0, 2000) == 0);
    }
}

TEST_CASE("nnz-balanced row ranges tile the rows and bound every part's cost") {
    graph_shape s;
    s.rows = s.cols = 5000;
    s.empty_rows = 0.3;
    const auto a = random_graph<float>(s, 81);  // row 0 holds ~2500 of ~32000 entries
    const offset_t* rp = a.row_ptr.data();
    auto cost = [&](index_t b, index_t e) { return (rp[e] - rp[b]) + (e - b); };
    offset_t max_row = 0;
    for (index_t r = 0; r < a.rows; ++r) max_row = std::max<offset_t>(max_row, cost(r, r + 1));
    for (index_t first : {index_t(0), index_t(1), index_t(1234)})
        for (std::size_t parts : {std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(8), std::size_t(64)}) {
            CAPTURE(first);
            CAPTURE(parts);
            const index_t last = a.rows;
            const double ideal = double(cost(first, last)) / double(parts);
            index_t prev = first;
            for (std::size_t p = 0; p <= parts; ++p) {
                const index_t b = backend::host_detail::balanced_row_begin(rp, first, last, p, parts);
                CHECK(b >= prev);
                if (p == 0) CHECK(b == first);
                if (p == parts) CHECK(b == last);
                if (p > 0) CHECK(double(cost(prev, b)) <= ideal + double(max_row));
                prev = b;
            }
        }
    // An even row split would give the hub's part far more than its share.
    const index_t split = backend::host_detail::balanced_row_begin(rp, index_t(0), a.rows, 1, 2);
    CHECK(std::abs(double(cost(0, split)) - double(cost(split, a.rows))) <= double(max_row));
}

TEST_CASE("host aggregate rejects operands of the wrong shape") {
    const auto a = random_graph<float>(graph_shape{}, 91);
    const auto op = storage::view_of(a);
    dense_matrix<float> x(300, 16), y(300, 16), bad_rows(299, 16), bad_width(300, 17);
    CHECK_THROWS_AS(host::aggregate(op, bad_rows.cview(), y.view()), invalid_argument);
    CHECK_THROWS_AS(host::aggregate(op, x.cview(), bad_rows.view()), invalid_argument);
    CHECK_THROWS_AS(host::aggregate(op, x.cview(), bad_width.view()), invalid_argument);
}
