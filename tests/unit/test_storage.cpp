#include <doctest/doctest.h>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "mixgcn/core/buffer.hpp"
#include "mixgcn/core/parallel_sort.hpp"
#include "mixgcn/core/sorted_ids.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/graph/ordering.hpp"
#include "mixgcn/storage/convert.hpp"
#include "thread_counts.hpp"


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

TEST_CASE("a large transpose on the threads equals a brute-force one, on 1, 2 and 3 threads") {
    // 1.5 M entries (above the threaded size) over 20,000 rows x 30,000 columns, rows of
    // very unequal lengths; then a wide matrix with few rows (the offsets cap the threads).
    rng g(11);
    storage::coo<index_t, float> a;
    a.rows = 20000;
    a.cols = 30000;
    for (int k = 0; k < 1500000; ++k) {
        const auto r = index_t(g.below(std::uint64_t(g.below(2) ? 20000 : 500)));
        a.row.push_back(r);
        a.col.push_back(index_t(g.below(30000)));
        a.val.push_back(float(k));
    }
    const auto c = storage::to_csr(a);
    REQUIRE(c.nnz() > (std::size_t(1) << 20));
    // Brute force: column by column, entries by ascending row.
    std::vector<std::vector<std::pair<index_t, float>>> by_col(30000);
    for (index_t r = 0; r < c.rows; ++r)
        for (auto k = c.row_begin(r); k < c.row_end(r); ++k)
            by_col[std::size_t(c.col_idx[std::size_t(k)])].push_back({r, c.val[std::size_t(k)]});
    on_thread_counts([&](int threads) {
        CAPTURE(threads);
        const auto t = storage::transpose(c);
        t.validate();
        REQUIRE(t.rows == 30000);
        bool same = true;
        for (index_t q = 0; q < t.rows; ++q) {
            const auto& want = by_col[std::size_t(q)];
            same = same && std::size_t(t.degree(q)) == want.size();
            for (std::size_t j = 0; same && j < want.size(); ++j) {
                const auto k = std::size_t(t.row_begin(q)) + j;
                same = t.col_idx[k] == want[j].first && t.val[k] == want[j].second;
            }
        }
        CHECK(same);
        // Wide: 3 rows x 2^21 columns, 1.5 M entries: more offsets than entries per thread.
        storage::csr<index_t, float> w;
        w.rows = 3;
        w.cols = index_t(1) << 21;
        w.row_ptr = {0, 500000, 1000000, 1500000};
        for (int k = 0; k < 1500000; ++k) w.col_idx.push_back(index_t((k % 500000) * 4 + k / 500000));
        for (index_t r = 0; r < 3; ++r) std::sort(w.col_idx.begin() + w.row_ptr[std::size_t(r)], w.col_idx.begin() + w.row_ptr[std::size_t(r) + 1]);
        const auto wt = storage::transpose(w);
        CHECK(wt.nnz() == 1500000);
        CHECK(storage::transpose(wt).col_idx == w.col_idx);
    });
}

TEST_CASE("A + I on the threads: every self-loop in its place, added where missing, on 1, 2 and 3 threads") {
    // 1.2 M entries over 40,000 rows (above the threaded size); a third of the rows hold
    // their self-loop already, some rows are empty, some hold only columns below the row.
    rng g(17);
    storage::csr<index_t, float> a;
    a.rows = a.cols = 40000;
    a.row_ptr.assign(1, 0);
    for (index_t r = 0; r < a.rows; ++r) {
        std::set<index_t> cols;
        const auto len = r % 97 == 0 ? 0 : g.below(60);
        for (std::uint64_t k = 0; k < len; ++k)
            cols.insert(index_t(r % 89 == 0 ? g.below(std::uint64_t(r) + 1) : g.below(std::uint64_t(a.cols))));
        if (r % 3 == 0 && len > 0) cols.insert(r);
        a.col_idx.insert(a.col_idx.end(), cols.begin(), cols.end());
        a.row_ptr.push_back(offset_t(a.col_idx.size()));
    }
    REQUIRE(a.nnz() > (std::size_t(1) << 20));
    // Brute force: row r's set of columns with r, ascending.
    std::vector<index_t> want;
    std::vector<offset_t> want_ptr{0};
    for (index_t r = 0; r < a.rows; ++r) {
        std::set<index_t> cols(a.col_idx.begin() + a.row_ptr[std::size_t(r)], a.col_idx.begin() + a.row_ptr[std::size_t(r) + 1]);
        cols.insert(r);
        want.insert(want.end(), cols.begin(), cols.end());
        want_ptr.push_back(offset_t(want.size()));
    }
    on_thread_counts([&](int threads) {
        CAPTURE(threads);
        const auto op = graph::gcn_normalize(a);
        CHECK(op.a.row_ptr == want_ptr);
        CHECK(op.a.col_idx == want);
        // Rows named by other ids (parallel::graph's local rows): row k is node 2k here.
        storage::csr<index_t, float> half;
        half.rows = 20000;
        half.cols = a.cols;
        half.row_ptr.assign(a.row_ptr.begin(), a.row_ptr.begin() + 20001);
        half.col_idx.assign(a.col_idx.begin(), a.col_idx.begin() + a.row_ptr[20000]);
        storage::csr<index_t, float> api;
        graph::detail::pattern_with_self_loops(half, [](std::size_t k) { return index_t(2 * k); }, api);
        bool same = api.rows == 20000 && api.cols == a.cols;
        for (index_t k = 0; same && k < 20000; ++k) {
            std::set<index_t> cols(half.col_idx.begin() + half.row_ptr[std::size_t(k)],
                                   half.col_idx.begin() + half.row_ptr[std::size_t(k) + 1]);
            cols.insert(2 * k);
            same = std::equal(cols.begin(), cols.end(), api.col_idx.begin() + api.row_ptr[std::size_t(k)],
                              api.col_idx.begin() + api.row_ptr[std::size_t(k) + 1]);
        }
        CHECK(same);
    });
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

namespace {

// A copy of `list` with its node ids shuffled (seeded), as unordered real-world ids are.
graph::edge_list<index_t> shuffled(const graph::edge_list<index_t>& list, std::uint64_t seed) {
    rng g(seed);
    const auto perm = graph::random_order<index_t>(std::size_t(list.num_nodes), g);
    return graph::relabel(list, std::span<const index_t>(perm));
}

// max |u - v| over the edges: what an ordering for locality shrinks.
index_t bandwidth(const graph::edge_list<index_t>& list) {
    index_t b = 0;
    for (const auto& [u, v] : list.edges) b = std::max(b, index_t(std::abs(u - v)));
    return b;
}

bool is_permutation_of_nodes(const std::vector<index_t>& order, index_t n) {
    std::vector<index_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (index_t i = 0; i < n; ++i)
        if (std::size_t(i) >= sorted.size() || sorted[std::size_t(i)] != i) return false;
    return sorted.size() == std::size_t(n);
}

}  // namespace

TEST_CASE("node order: inverse_permutation inverts and rejects what is not a permutation") {
    const std::vector<index_t> order{3, 0, 2, 1};
    const auto inv = graph::inverse_permutation(std::span<const index_t>(order));
    for (std::size_t i = 0; i < order.size(); ++i) CHECK(inv[std::size_t(order[i])] == index_t(i));
    const std::vector<index_t> repeated{0, 1, 1}, outside{0, 3, 1};
    CHECK_THROWS_AS(graph::inverse_permutation(std::span<const index_t>(repeated)), invalid_argument);
    CHECK_THROWS_AS(graph::inverse_permutation(std::span<const index_t>(outside)), invalid_argument);
    graph::edge_list<index_t> list{3, {{0, 1}}};
    CHECK_THROWS_AS(graph::relabel(list, std::span<const index_t>(order)), invalid_argument);
}

TEST_CASE("node order: reverse Cuthill-McKee restores a shuffled path and narrows a shuffled grid") {
    graph::edge_list<index_t> path{60, {}};
    for (index_t i = 0; i + 1 < 60; ++i) path.edges.emplace_back(i, i + 1);
    const auto p = shuffled(path, 3);
    REQUIRE(bandwidth(p) > 10);
    const auto order = graph::reverse_cuthill_mckee(graph::build_adjacency(p, {.symmetrize = true}));
    REQUIRE(is_permutation_of_nodes(order, 60));
    CHECK(bandwidth(graph::relabel(p, std::span<const index_t>(order))) == 1);

    // A 12 x 9 grid, two further components (a triangle, an isolated node): every node
    // is ordered once, and the grid's bandwidth comes back to about one level of width.
    const index_t w = 12, h = 9, n = w * h + 4;
    graph::edge_list<index_t> grid{n, {}};
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x) {
            if (x + 1 < w) grid.edges.emplace_back(y * w + x, y * w + x + 1);
            if (y + 1 < h) grid.edges.emplace_back(y * w + x, (y + 1) * w + x);
        }
    grid.edges.insert(grid.edges.end(), {{w * h, w * h + 1}, {w * h + 1, w * h + 2}, {w * h + 2, w * h}});
    const auto g = shuffled(grid, 4);
    const auto grid_order = graph::reverse_cuthill_mckee(graph::build_adjacency(g, {.symmetrize = true}));
    REQUIRE(is_permutation_of_nodes(grid_order, n));
    const auto narrowed = bandwidth(graph::relabel(g, std::span<const index_t>(grid_order)));
    MESSAGE("grid bandwidth shuffled ", bandwidth(g), ", after RCM ", narrowed);
    CHECK(narrowed <= 2 * h);
    CHECK(narrowed * 4 < bandwidth(g));
}

TEST_CASE("node order: degree order puts high degrees first, ties by id, and relabel keeps every edge") {
    rng r(9);
    graph::edge_list<index_t> list{40, {}};
    for (int k = 0; k < 120; ++k) {
        const auto u = index_t(r.below(40)), v = index_t(r.below(8));  // nodes 0-7 become hubs
        if (u != v) list.edges.emplace_back(u, v);
    }
    const auto a = graph::build_adjacency(list, {.symmetrize = true});
    const auto order = graph::degree_order(a);
    REQUIRE(is_permutation_of_nodes(order, 40));
    for (std::size_t i = 1; i < order.size(); ++i) {
        const auto d0 = a.degree(order[i - 1]), d1 = a.degree(order[i]);
        CHECK((d0 > d1 || (d0 == d1 && order[i - 1] < order[i])));
    }
    // relabel then map back through `order`: the same set of edges.
    const auto renamed = graph::relabel(list, std::span<const index_t>(order));
    std::multiset<std::pair<index_t, index_t>> before(list.edges.begin(), list.edges.end()), after;
    for (const auto& [u, v] : renamed.edges) after.emplace(order[std::size_t(u)], order[std::size_t(v)]);
    CHECK(before == after);
}

TEST_CASE("node order: part order numbers nodes part by part, ids ascending within a part") {
    const std::vector<int> owner{2, 0, 1, 0, 2, 1, 0};
    const auto order = graph::part_order<index_t>(std::span<const int>(owner));
    CHECK(order == std::vector<index_t>{1, 3, 6, 2, 5, 0, 4});
    const std::vector<int> bad{0, -1};
    CHECK_THROWS_AS(graph::part_order<index_t>(std::span<const int>(bad)), invalid_argument);
}

TEST_CASE("node order: permute gives the graph built from the relabelled edges, values with their columns") {
    rng r(13);
    graph::edge_list<index_t> list{300, {}};
    for (int k = 0; k < 2000; ++k) list.edges.emplace_back(index_t(r.below(300)), index_t(r.below(300)));
    const auto a = graph::build_adjacency<index_t, double>(list, {.symmetrize = true});
    rng g(4);
    const auto order = graph::random_order<index_t>(300, g);
    const auto p = graph::permute(a, std::span<const index_t>(order));
    p.validate();  // sorted, in range
    const auto expect = graph::build_adjacency<index_t, double>(graph::relabel(list, std::span<const index_t>(order)),
                                                                {.symmetrize = true});
    CHECK(p.row_ptr == expect.row_ptr);
    CHECK(p.col_idx == expect.col_idx);
    // With values: entry (i, j) of P·A·Pᵀ is entry (order[i], order[j]) of A.
    auto weighted = a;
    weighted.val.resize(weighted.nnz());
    for (index_t u = 0; u < weighted.rows; ++u)
        for (auto k = weighted.row_begin(u); k < weighted.row_end(u); ++k)
            weighted.val[std::size_t(k)] = 1000.0 * u + weighted.col_idx[std::size_t(k)];
    const auto pw = graph::permute(weighted, std::span<const index_t>(order));
    for (index_t i = 0; i < pw.rows; ++i)
        for (auto k = pw.row_begin(i); k < pw.row_end(i); ++k)
            CHECK(pw.val[std::size_t(k)] == 1000.0 * order[std::size_t(i)] + order[std::size_t(pw.col_idx[std::size_t(k)])]);
    const std::vector<index_t> short_order{0, 1};
    CHECK_THROWS_AS(graph::permute(a, std::span<const index_t>(short_order)), invalid_argument);
}

TEST_CASE("node order: permute_nodes moves every feature row, label, split entry and edge in place") {
    dataset<float> ds;
    ds.name = "tiny";
    const std::size_t n = 257, f = 3;
    ds.edges.num_nodes = index_t(n);
    for (std::size_t v = 0; v + 1 < n; ++v) ds.edges.edges.emplace_back(index_t(v), index_t((v * 7 + 3) % n));
    ds.features = dense_matrix<float>(n, f);
    for (std::size_t v = 0; v < n; ++v)
        for (std::size_t c = 0; c < f; ++c) ds.features(v, c) = float(10 * v + c);
    ds.num_classes = 5;
    for (std::size_t v = 0; v < n; ++v) {
        ds.labels.push_back(std::int32_t(v % 5));
        ds.split.push_back(split_role(v % 4));
    }
    const dataset<float> before = ds;
    rng g(21);
    const auto order = graph::random_order<index_t>(n, g);  // many cycles of many lengths
    graph::permute_nodes(ds, std::span<const index_t>(order));
    ds.validate();
    for (std::size_t i = 0; i < n; ++i) {
        const auto old = std::size_t(order[i]);
        for (std::size_t c = 0; c < f; ++c) CHECK(ds.features(i, c) == before.features(old, c));
        CHECK(ds.labels[i] == before.labels[old]);
        CHECK(ds.split[i] == before.split[old]);
    }
    for (std::size_t k = 0; k < ds.edges.edges.size(); ++k) {
        CHECK(order[std::size_t(ds.edges.edges[k].first)] == before.edges.edges[k].first);
        CHECK(order[std::size_t(ds.edges.edges[k].second)] == before.edges.edges[k].second);
    }
    std::vector<index_t> twice(n, 0);
    CHECK_THROWS_AS(graph::permute_nodes(ds, std::span<const index_t>(twice)), invalid_argument);
}

#if defined(__linux__)
// Pages of [p, p + bytes) resident in memory (mincore), for the first-touch rule.
static std::size_t resident_pages(const void* p, std::size_t bytes) {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const auto first = reinterpret_cast<std::uintptr_t>(p) / page * page;
    const auto last = (reinterpret_cast<std::uintptr_t>(p) + bytes + page - 1) / page * page;
    std::vector<unsigned char> in((last - first) / page);
    REQUIRE(::mincore(reinterpret_cast<void*>(first), last - first, in.data()) == 0);
    std::size_t n = 0;
    for (auto c : in) n += c & 1;
    return n;
}

TEST_CASE("aligned_buffer: a large buffer is zero yet untouched until its user writes it (first touch)") {
    const std::size_t n = (std::size_t(64) << 20) / sizeof(float);  // 64 MiB
    aligned_buffer<float> big(n);
    REQUIRE(big.size() == n);
    CHECK(reinterpret_cast<std::uintptr_t>(big.data()) % buffer_alignment == 0);
    // Nothing was written at allocation: no page is resident, so each page's first touch
    // (and, on a NUMA machine, its placement) belongs to the thread that first writes it.
    CHECK(resident_pages(big.data(), n * sizeof(float)) == 0);
    // Still zero-initialised, as the contract says (reading maps the shared zero page).
    bool zero = true;
    for (std::size_t i = 0; i < n; i += 4096) zero = zero && big[i] == 0.0f;
    CHECK(zero);
    for (std::size_t i = 0; i < n; ++i) big[i] = float(i % 7);
    CHECK(resident_pages(big.data(), n * sizeof(float)) * std::size_t(::sysconf(_SC_PAGESIZE)) >= n * sizeof(float));
    // Copies and moves keep the contents and the mapping's ownership.
    aligned_buffer<float> copy = big;
    CHECK(copy[n - 1] == float((n - 1) % 7));
    aligned_buffer<float> moved = std::move(copy);
    CHECK(moved[12345] == float(12345 % 7));
    CHECK(copy.empty());
    // Small buffers come zeroed from operator new.
    aligned_buffer<double> small(1000);
    bool small_zero = true;
    for (double v : small) small_zero = small_zero && v == 0.0;
    CHECK(small_zero);
}
#endif

TEST_CASE("sorted_id_index finds every id's position and nothing else, at word edges and with signed ids") {
    mixgcn::rng g(29);
    for (const std::uint64_t range : {std::uint64_t(1), std::uint64_t(63), std::uint64_t(64), std::uint64_t(65),
                                      std::uint64_t(1000), std::uint64_t(70001)}) {
        for (const double density : {0.0, 0.01, 0.5, 1.0}) {
            std::vector<index_t> ids;
            for (std::uint64_t v = 0; v < range; ++v)
                if (g.uniform() < density) ids.push_back(index_t(v));
            const mixgcn::detail::sorted_id_index<index_t> index(ids, range);
            for (std::uint64_t v = 0; v < range; ++v) {
                const auto it = std::lower_bound(ids.begin(), ids.end(), index_t(v));
                const std::size_t want = it != ids.end() && *it == index_t(v) ? std::size_t(it - ids.begin()) : ids.size();
                REQUIRE(index.find(index_t(v)) == want);
            }
            CHECK(index.find(index_t(-1)) == ids.size());
            CHECK(index.find(index_t(range)) == ids.size());
        }
    }
    const std::vector<index_t> unsorted{3, 2};
    CHECK_THROWS_AS((mixgcn::detail::sorted_id_index<index_t>(unsorted, 10)), mixgcn::invalid_argument);
    const std::vector<index_t> outside{3, 10};
    CHECK_THROWS_AS((mixgcn::detail::sorted_id_index<index_t>(outside, 10)), mixgcn::invalid_argument);
}

TEST_CASE("parallel_sort_unique equals std::sort + std::unique, sentinels last") {
    mixgcn::rng g(31);
    for (const std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(5000), std::size_t(3) << 20}) {
        std::vector<std::uint64_t> keys(n);
        const std::uint64_t limit = 1000;
        for (auto& k : keys) {
            const std::uint64_t hi = g.uniform() < 0.01 ? limit + 7 : std::uint64_t(g.uniform() * double(limit));
            k = (hi << 20) | std::uint64_t(g.uniform() * 64.0);  // many repeats
        }
        auto want = keys;
        std::sort(want.begin(), want.end());
        want.erase(std::unique(want.begin(), want.end()), want.end());
        mixgcn::detail::parallel_sort_unique(keys, limit, 20);
        REQUIRE(keys == want);
    }
}
