#include <doctest/doctest.h>

#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/storage/convert.hpp"

using namespace mixgcn;

TEST_CASE("coo to csr merges duplicates and sorts columns") {
    storage::coo<index_t, double> a;
    a.rows = 3;
    a.cols = 4;
    a.row = {2, 0, 0, 2, 0};
    a.col = {1, 3, 1, 1, 3};
    a.val = {1.0, 2.0, 3.0, 4.0, 5.0};
    const auto c = storage::to_csr(a);
    c.validate();
    CHECK(c.row_ptr == std::vector<offset_t>{0, 2, 2, 3});
    CHECK(c.col_idx == std::vector<index_t>{1, 3, 1});
    CHECK(c.val == std::vector<double>{3.0, 7.0, 5.0});
}

TEST_CASE("transpose twice is the identity, and matches a brute-force transpose") {
    rng g(7);
    storage::coo<index_t, double> a;
    a.rows = 17;
    a.cols = 11;
    for (int k = 0; k < 60; ++k) {
        a.row.push_back(index_t(g.below(17)));
        a.col.push_back(index_t(g.below(11)));
        a.val.push_back(g.uniform());
    }
    const auto c = storage::to_csr(a);
    const auto t = storage::transpose(c);
    t.validate();
    CHECK(t.rows == 11);
    CHECK(t.cols == 17);
    std::vector<double> dense(17 * 11, 0.0), dense_t(17 * 11, 0.0);
    for (index_t r = 0; r < c.rows; ++r)
        for (auto k = c.row_begin(r); k < c.row_end(r); ++k) dense[size_t(r) * 11 + size_t(c.col_idx[size_t(k)])] = c.val[size_t(k)];
    for (index_t r = 0; r < t.rows; ++r)
        for (auto k = t.row_begin(r); k < t.row_end(r); ++k) dense_t[size_t(t.col_idx[size_t(k)]) * 11 + size_t(r)] = t.val[size_t(k)];
    CHECK(dense == dense_t);
    const auto tt = storage::transpose(t);
    CHECK(tt.row_ptr == c.row_ptr);
    CHECK(tt.col_idx == c.col_idx);
    CHECK(tt.val == c.val);
    const auto back = storage::to_csr(storage::to_coo(c));
    CHECK(back.col_idx == c.col_idx);
}

TEST_CASE("builder symmetrises, drops duplicates and self-loops, rejects bad ids") {
    graph::edge_list<index_t> el{4, {{0, 1}, {1, 0}, {0, 1}, {2, 2}, {3, 1}}};
    graph::build_report rep;
    const auto a = graph::build_adjacency(el, {}, &rep);
    a.validate();
    CHECK(a.row_ptr == std::vector<offset_t>{0, 1, 3, 3, 4});
    CHECK(a.col_idx == std::vector<index_t>{1, 0, 3, 1});
    CHECK(rep.self_loops_dropped == 1);
    CHECK(storage::is_symmetric(a));

    graph::edge_list<index_t> bad{3, {{0, 1}, {1, 3}}};
    CHECK_THROWS_AS(graph::build_adjacency(bad), invalid_argument);
    try {
        graph::build_adjacency(bad);
    } catch (const error& e) {
        CHECK(std::string(e.what()).find("(1, 3)") != std::string::npos);
    }
}

TEST_CASE("gcn normalisation: fused and edge-weight forms agree with the dense formula") {
    graph::edge_list<index_t> el{5, {{0, 1}, {1, 2}, {2, 0}, {3, 4}, {1, 1}}};
    const auto a = graph::build_adjacency<index_t, double>(el, {true, graph::self_loops::remove});
    const auto fused = graph::gcn_normalize(a, graph::normalization_mode::fused);
    const auto weighted = graph::gcn_normalize(a, graph::normalization_mode::edge_weights);
    // Dense reference: (A + I) with degree from row sums.
    double dense[5][5] = {};
    for (index_t r = 0; r < 5; ++r) {
        dense[r][r] = 1;
        for (index_t c : a.row_cols(r)) dense[r][c] = 1;
    }
    double deg[5] = {};
    for (int r = 0; r < 5; ++r)
        for (int c = 0; c < 5; ++c) deg[r] += dense[r][c];
    const auto fv = fused.forward();
    const auto wv = weighted.forward();
    for (index_t r = 0; r < 5; ++r)
        for (offset_t k = fv.row_ptr[r]; k < fv.row_ptr[r + 1]; ++k) {
            const index_t c = fv.col_idx[k];
            const double expect = dense[r][c] / std::sqrt(deg[r] * deg[c]);
            CHECK(fv.weight(r, k) == doctest::Approx(expect).epsilon(1e-15));
            CHECK(wv.weight(r, k) == doctest::Approx(expect).epsilon(1e-15));
        }
    CHECK(fused.a.nnz() == 5 + 8);
}
