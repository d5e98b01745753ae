// Generators: determinism, sizes, the statistics each model promises (homophily, heavy
// tail, R-MAT quadrant frequencies), option checking, and that SBM features carry class
// signal without making the task trivial. Every expectation is computed here from the
// output with independent code (counting, brute force), never copied from a run.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <vector>

#include "mixgcn/graph/generators.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace mixgcn;
using namespace mixgcn::graph;

namespace {

std::vector<std::int64_t> degrees(const edge_list<index_t>& g) {
    std::vector<std::int64_t> deg(static_cast<std::size_t>(g.num_nodes), 0);
    for (auto [u, v] : g.edges) {
        ++deg[static_cast<std::size_t>(u)];
        if (u != v) ++deg[static_cast<std::size_t>(v)];
    }
    return deg;
}

double measured_homophily(const dataset<float>& d) {
    std::size_t same = 0;
    for (auto [u, v] : d.edges.edges) same += d.labels[static_cast<std::size_t>(u)] == d.labels[static_cast<std::size_t>(v)];
    return double(same) / double(d.edges.edges.size());
}

// Y = D^-1/2 (A + I) D^-1/2 X in double, straight from the edge list.
std::vector<double> aggregate(const dataset<float>& d, const std::vector<double>& x, std::size_t width) {
    const auto n = static_cast<std::size_t>(d.num_nodes());
    auto deg = degrees(d.edges);
    std::vector<double> s(n), y(n * width, 0.0);
    for (std::size_t i = 0; i < n; ++i) s[i] = 1.0 / std::sqrt(double(deg[i] + 1));
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < width; ++j) y[i * width + j] = s[i] * s[i] * x[i * width + j];
    for (auto [u, v] : d.edges.edges) {
        const auto a = static_cast<std::size_t>(u), b = static_cast<std::size_t>(v);
        const double w = s[a] * s[b];
        for (std::size_t j = 0; j < width; ++j) {
            y[a * width + j] += w * x[b * width + j];
            y[b * width + j] += w * x[a * width + j];
        }
    }
    return y;
}

// Nearest-class-mean classifier: class means from the training nodes, accuracy on test.
double ncm_accuracy(const dataset<float>& d, const std::vector<double>& x, std::size_t width) {
    const auto k = static_cast<std::size_t>(d.num_classes);
    std::vector<double> mean(k * width, 0.0);
    std::vector<double> count(k, 0.0);
    for (auto i : d.nodes_with(split_role::train)) {
        const auto c = static_cast<std::size_t>(d.labels[static_cast<std::size_t>(i)]);
        count[c] += 1;
        for (std::size_t j = 0; j < width; ++j) mean[c * width + j] += x[static_cast<std::size_t>(i) * width + j];
    }
    for (std::size_t c = 0; c < k; ++c)
        for (std::size_t j = 0; j < width; ++j) mean[c * width + j] /= count[c];
    std::size_t right = 0;
    const auto test = d.nodes_with(split_role::test);
    for (auto i : test) {
        std::size_t best = 0;
        double best_dist = 1e300;
        for (std::size_t c = 0; c < k; ++c) {
            double dist = 0;
            for (std::size_t j = 0; j < width; ++j) {
                const double diff = x[static_cast<std::size_t>(i) * width + j] - mean[c * width + j];
                dist += diff * diff;
            }
            if (dist < best_dist) best_dist = dist, best = c;
        }
        right += static_cast<std::int32_t>(best) == d.labels[static_cast<std::size_t>(i)];
    }
    return double(right) / double(test.size());
}

std::vector<double> as_double(const dense_matrix<float>& m) { return {m.values().begin(), m.values().end()}; }

}  // namespace

TEST_CASE("alias table draws follow the weights") {
    const std::vector<double> w{1, 0, 3, 0.5, 5.5};
    alias_table t(w);
    rng g(7);
    std::vector<double> hits(w.size(), 0);
    const int draws = 200000;
    for (int i = 0; i < draws; ++i) hits[t(g)] += 1;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const double p = w[i] / 10.0;
        CHECK(std::abs(hits[i] / draws - p) <= 5 * std::sqrt(p * (1 - p) / draws) + 1e-12);
    }
    CHECK_THROWS_AS(alias_table(std::vector<double>{0, 0}), invalid_argument);
    CHECK_THROWS_AS(alias_table(std::vector<double>{1, -1}), invalid_argument);
}

TEST_CASE("SBM is deterministic by seed") {
    sbm_options o;
    o.nodes = 3000;
    o.features = 16;
    const auto a = generate_sbm<float>(o), b = generate_sbm<float>(o);
    CHECK(a.edges.edges == b.edges.edges);
    CHECK(a.labels == b.labels);
    CHECK(a.split == b.split);
    CHECK(std::equal(a.features.values().begin(), a.features.values().end(), b.features.values().begin()));
    o.seed = 2;
    const auto c = generate_sbm<float>(o);
    CHECK(a.edges.edges != c.edges.edges);
    CHECK(a.labels != c.labels);
    CHECK(!std::equal(a.features.values().begin(), a.features.values().end(), c.features.values().begin()));
    // Streams are separate: a different width leaves the graph alone.
    o.seed = 1;
    o.features = 32;
    CHECK(generate_sbm<float>(o).edges.edges == a.edges.edges);
}

TEST_CASE("SBM sizes, homophily and split") {
    for (double h : {0.75, 0.3, 0.95}) {
        sbm_options o;
        o.nodes = 20000;
        o.avg_degree = 12;
        o.classes = 5;
        o.homophily = h;
        o.features = 8;
        const auto d = generate_sbm<float>(o);
        d.validate();
        CHECK(d.num_nodes() == 20000);
        CHECK(d.edges.edges.size() == 120000);  // nodes * avg_degree / 2 distinct pairs
        std::set<std::pair<index_t, index_t>> seen;
        for (auto [u, v] : d.edges.edges) {
            REQUIRE(u != v);
            seen.insert({std::min(u, v), std::max(u, v)});
        }
        CHECK(seen.size() == d.edges.edges.size());
        CHECK(std::is_sorted(d.edges.edges.begin(), d.edges.edges.end()));
        // 120000 edges: binomial sd of the fraction < 0.0015.
        CHECK(std::abs(measured_homophily(d) - h) < 0.01);
        std::vector<int> per_class(5, 0);
        for (auto i : d.nodes_with(split_role::train)) ++per_class[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(i)])];
        for (int c : per_class) CHECK(c == 20);
        CHECK(d.nodes_with(split_role::val).size() == 500);
        CHECK(d.nodes_with(split_role::test).size() == 1000);
    }
}

TEST_CASE("SBM split clips on tiny graphs and honours fractions") {
    sbm_options o;
    o.nodes = 40;
    o.avg_degree = 4;
    o.classes = 4;
    o.features = 4;
    const auto d = generate_sbm<float>(o);
    d.validate();
    CHECK(d.nodes_with(split_role::train).size() == 20);  // 5 of 10 per class
    CHECK(d.nodes_with(split_role::val).size() == 20);    // the rest
    CHECK(d.nodes_with(split_role::test).size() == 0);
    o.nodes = 1000;
    o.split.val_fraction = 0.1;
    o.split.test_fraction = 0.3;
    const auto f = generate_sbm<float>(o);
    CHECK(f.nodes_with(split_role::val).size() == 100);
    CHECK(f.nodes_with(split_role::test).size() == 300);
}

TEST_CASE("SBM degrees are heavy-tailed, unlike Erdos-Renyi") {
    sbm_options o;
    o.nodes = 50000;
    o.avg_degree = 10;
    o.features = 2;
    const auto d = generate_sbm<float>(o);
    auto deg = degrees(d.edges);
    double mean = 0, sq = 0;
    for (auto x : deg) mean += double(x), sq += double(x) * double(x);
    mean /= double(deg.size());
    const double sd = std::sqrt(sq / double(deg.size()) - mean * mean);
    std::sort(deg.begin(), deg.end());
    const double max = double(deg.back());
    MESSAGE("SBM degrees: mean ", mean, " sd ", sd, " max ", max);
    CHECK(mean == doctest::Approx(10).epsilon(0.001));
    // Poisson(10) over 50k nodes: sd ~3.2, max ~ 30. A power law with gamma 2.5 and the
    // structural cutoff sqrt(5e5) ~ 700 gives far more.
    CHECK(sd > 2 * std::sqrt(mean));
    CHECK(max > 20 * mean);
    // Hill estimate of the tail index on the top 2% should be near gamma - 1 = 1.5
    // (loose: the cutoff and sampling noise bias it), far from a Poisson tail's huge value.
    const std::size_t top = deg.size() / 50;
    const double xk = double(deg[deg.size() - top - 1]);
    double s = 0;
    for (std::size_t i = deg.size() - top; i < deg.size(); ++i) s += std::log(double(deg[i]) / xk);
    const double alpha = double(top) / s;
    MESSAGE("Hill tail index ", alpha);
    CHECK(alpha > 1.0);
    CHECK(alpha < 2.5);
}

TEST_CASE("SBM features are informative but not separable; the graph helps") {
    for (auto model : {feature_model::gaussian, feature_model::bag_of_words}) {
        CAPTURE(int(model));
        sbm_options o;  // defaults, except the model
        o.model = model;
        const auto d = generate_sbm<float>(o);
        const auto width = static_cast<std::size_t>(o.features);
        const auto x = as_double(d.features);
        const double chance = 1.0 / o.classes;
        const double raw = ncm_accuracy(d, x, width);
        const auto ax = aggregate(d, x, width);
        const double one_hop = ncm_accuracy(d, ax, width);
        const double two_hop = ncm_accuracy(d, aggregate(d, ax, width), width);
        MESSAGE("nearest class mean: raw ", raw, ", A X ", one_hop, ", A^2 X ", two_hop, " (homophily ",
                measured_homophily(d), ")");
        CHECK(raw > chance + 0.1);
        CHECK(raw < 0.75);
        CHECK(one_hop > raw + 0.1);
        CHECK(two_hop < 0.995);
    }
}

TEST_CASE("SBM rejects bad options") {
    auto bad = [](auto change) {
        sbm_options o;
        change(o);
        return o;
    };
    CHECK_THROWS_AS(generate_sbm<float>(bad([](sbm_options& o) { o.nodes = -5; })), invalid_argument);
    CHECK_THROWS_AS(generate_sbm<float>(bad([](sbm_options& o) { o.homophily = 1.2; })), invalid_argument);
    CHECK_THROWS_AS(generate_sbm<float>(bad([](sbm_options& o) { o.homophily = -0.1; })), invalid_argument);
    CHECK_THROWS_AS(generate_sbm<float>(bad([](sbm_options& o) { o.classes = 0; })), invalid_argument);
    CHECK_THROWS_AS(generate_sbm<float>(bad([](sbm_options& o) { o.power_law_exponent = 2.0; })), invalid_argument);
    CHECK_THROWS_AS(generate_sbm<float>(bad([](sbm_options& o) { o.avg_degree = 6000; })), invalid_argument);
    CHECK_THROWS_AS(generate_sbm<float>(bad([](sbm_options& o) { o.features = 0; })), invalid_argument);
    CHECK_THROWS_AS(generate_sbm<float>(bad([](sbm_options& o) { o.split.val_fraction = 1.5; })), invalid_argument);
    try {
        generate_sbm<float>(bad([](sbm_options& o) { o.homophily = 1.2; }));
    } catch (const invalid_argument& e) {
        CHECK(std::string(e.what()).find("1.2") != std::string::npos);
    }
}

TEST_CASE("R-MAT sizes, determinism and scrambling") {
    rmat_options o;
    o.scale = 12;
    const auto a = generate_rmat(o), b = generate_rmat(o);
    CHECK(a.num_nodes == 4096);
    CHECK(a.edges.size() == 16u * 4096u);
    CHECK(a.edges == b.edges);
    for (auto [u, v] : a.edges) REQUIRE((u >= 0 && u < 4096 && v >= 0 && v < 4096));
    o.seed = 9;
    CHECK(generate_rmat(o).edges != a.edges);
    // Scrambling only renames vertices: the degree multiset is unchanged.
    o.seed = 1;
    o.scramble = false;
    const auto plain = generate_rmat(o);
    CHECK(plain.edges != a.edges);
    auto da = degrees(a), dp = degrees(plain);
    std::sort(da.begin(), da.end());
    std::sort(dp.begin(), dp.end());
    CHECK(da == dp);
    // Unscrambled, vertex 0 is the corner every level favours: by far the largest degree.
    const auto dp0 = degrees(plain);
    CHECK(dp0[0] == *std::max_element(dp0.begin(), dp0.end()));
}

#ifdef _OPENMP
TEST_CASE("R-MAT output does not depend on the thread count") {
    rmat_options o;
    o.scale = 13;  // 131072 edges: two chunks, so threads really split the work
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = generate_rmat(o);
    omp_set_num_threads(3);
    const auto three = generate_rmat(o);
    omp_set_num_threads(before);
    CHECK(one.edges == three.edges);
}

TEST_CASE("SBM output does not depend on the thread count") {
    for (auto model : {feature_model::gaussian, feature_model::bag_of_words}) {
        CAPTURE(int(model));
        sbm_options o;
        o.nodes = 30000;  // 150k pairs: three draw chunks, many feature chunks and sort buckets
        o.features = 24;
        o.model = model;
        const int before = omp_get_max_threads();
        omp_set_num_threads(1);
        const auto one = generate_sbm<float>(o);
        omp_set_num_threads(3);
        const auto three = generate_sbm<float>(o);
        omp_set_num_threads(before);
        CHECK(one.edges.edges == three.edges.edges);
        CHECK(std::equal(one.features.values().begin(), one.features.values().end(), three.features.values().begin()));
        CHECK(one.labels == three.labels);
    }
}
#endif

TEST_CASE("R-MAT quadrant frequencies match a, b, c, d at every level") {
    for (double noise : {0.0, 0.1}) {
        CAPTURE(noise);
        rmat_options o;
        o.scale = 14;
        o.scramble = false;
        o.noise = noise;
        o.seed = 3;
        const auto g = generate_rmat(o);
        const auto levels = rmat_levels(o);
        const double m = double(g.edges.size());
        for (int level = 0; level < o.scale; ++level) {
            const int bit = o.scale - 1 - level;
            double q[4] = {0, 0, 0, 0};
            for (auto [u, v] : g.edges) q[((u >> bit) & 1) * 2 + ((v >> bit) & 1)] += 1;
            const auto& t = levels[static_cast<std::size_t>(level)];
            const double p[4] = {t[0], t[1] - t[0], t[2] - t[1], 1 - t[2]};
            for (int k = 0; k < 4; ++k)
                CHECK(std::abs(q[k] / m - p[k]) <= 5 * std::sqrt(p[k] * (1 - p[k]) / m));
            if (noise == 0) {
                const double want[4] = {0.57, 0.19, 0.19, 0.05};
                for (int k = 0; k < 4; ++k) CHECK(p[k] == doctest::Approx(want[k]));
            } else {
                // NSKG keeps a level a probability distribution and moves b, c by the same mu.
                CHECK(p[1] == doctest::Approx(p[2]));
                CHECK(std::abs(p[1] - 0.19) <= 0.1 + 1e-12);
                CHECK(p[0] / p[3] == doctest::Approx(0.57 / 0.05));
            }
        }
    }
}

TEST_CASE("R-MAT rejects bad options") {
    auto with = [](int scale, double noise = 0, double a = 0.57) {
        rmat_options o;
        o.scale = scale;
        o.noise = noise;
        o.a = a;
        return o;
    };
    CHECK_THROWS_AS(generate_rmat(with(9)), invalid_argument);
    CHECK_THROWS_AS(generate_rmat(with(25)), invalid_argument);
    CHECK_THROWS_AS(generate_rmat(with(12, 0.3)), invalid_argument);
    CHECK_THROWS_AS(generate_rmat(with(12, 0, 0.7)), invalid_argument);  // d < 0
    try {
        generate_rmat(with(25));
    } catch (const invalid_argument& e) {
        CHECK(std::string(e.what()).find("25") != std::string::npos);
    }
}

TEST_CASE("R-MAT dataset is consistent") {
    rmat_dataset_options o;
    o.graph.scale = 10;
    o.classes = 6;
    o.features.width = 16;
    const auto d = generate_rmat_dataset<float>(o);
    d.validate();
    CHECK(d.features.rows() == 1024);
    CHECK(d.features.cols() == 16);
    CHECK(d.nodes_with(split_role::test).size() == 204);
    CHECK(std::set<std::int32_t>(d.labels.begin(), d.labels.end()).size() == 6);
}

TEST_CASE("SBM at benchmark size: 100k nodes, 1M edges") {
    sbm_options o;
    o.nodes = 100000;
    o.avg_degree = 20;
    o.features = 128;
    const auto t0 = std::chrono::steady_clock::now();
    const auto d = generate_sbm<float>(o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("generate_sbm 100k nodes, 1M edges, 128 features: ", s, " s");
    CHECK(d.edges.edges.size() == 1000000);
    CHECK(std::abs(measured_homophily(d) - 0.75) < 0.01);
}

TEST_CASE("dataset::owned_rows keeps a rank's rows in global order, with the whole edge list") {
    graph::sbm_options o;
    o.nodes = 500;
    o.features = 6;
    const auto ds = graph::generate_sbm<double>(o);
    std::vector<int> owner(static_cast<std::size_t>(ds.num_nodes()));
    for (std::size_t v = 0; v < owner.size(); ++v) owner[v] = static_cast<int>((v * 7) % 3);
    std::size_t total = 0;
    for (int r = 0; r < 3; ++r) {
        const auto part = ds.owned_rows(owner, r);
        CHECK(part.edges.edges == ds.edges.edges);
        CHECK(part.num_classes == ds.num_classes);
        std::size_t k = 0;
        for (std::size_t v = 0; v < owner.size(); ++v) {
            if (owner[v] != r) continue;
            REQUIRE(k < part.features.rows());
            for (std::size_t c = 0; c < ds.features.cols(); ++c) CHECK(part.features(k, c) == ds.features(v, c));
            CHECK(part.labels[k] == ds.labels[v]);
            CHECK(part.split[k] == ds.split[v]);
            ++k;
        }
        CHECK(k == part.features.rows());
        total += k;
    }
    CHECK(total == owner.size());
    owner.pop_back();
    CHECK_THROWS_WITH_AS(ds.owned_rows(owner, 0), doctest::Contains("owner vector has 499 entries for 500 nodes"),
                         invalid_argument);
}
