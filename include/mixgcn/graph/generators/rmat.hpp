#pragma once
// R-MAT (Chakrabarti, Zhan, Faloutsos 2004) with the Graph500 parameters: each edge picks
// one quadrant of the adjacency matrix per level, with probabilities a, b, c, d, down to a
// single cell. The result is raw like Graph500's generator output: duplicates and
// self-loops stay, and vertex ids are scrambled by a random permutation so high-degree
// vertices are not clustered at id 0.
//
// Optional per-level noise follows the "noisy SKG" of Seshadhri, Pinar and Kolda (2013):
// level i draws mu_i in [-noise, noise] and uses a - 2 mu a/(a+d), b + mu, c + mu,
// d - 2 mu d/(a+d), which smooths the oscillating degree distribution of pure R-MAT.
//
// Edges are generated in fixed-size chunks, each with its own random stream, so the
// output depends on the seed only, not on the number of OpenMP threads.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/core/types.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/generators/features.hpp"
#include "mixgcn/graph/generators/split.hpp"

namespace mixgcn::graph {

struct rmat_options {
    int scale = 16;                 // 2^scale vertices, scale in [10, 24]
    std::int64_t edge_factor = 16;  // edges = edge_factor * 2^scale
    double a = 0.57, b = 0.19, c = 0.19;  // d = 1 - a - b - c (Graph500: 0.05)
    double noise = 0;               // per-level noise bound; 0 = plain Graph500 R-MAT
    bool scramble = true;           // permute vertex ids, as Graph500 does
    std::uint64_t seed = 1;

    double d() const noexcept { return 1.0 - a - b - c; }
};

inline constexpr int rmat_min_scale = 10;
inline constexpr int rmat_max_scale = 24;

inline void check(const rmat_options& o) {
    require(o.scale >= rmat_min_scale && o.scale <= rmat_max_scale, "generate_rmat: scale is ", o.scale,
            ", expected in [", rmat_min_scale, ", ", rmat_max_scale, "]");
    require(o.edge_factor >= 1 && o.edge_factor <= 1024, "generate_rmat: edge_factor is ", o.edge_factor,
            ", expected in [1, 1024]");
    require(o.a > 0 && o.b > 0 && o.c > 0 && o.d() > 0, "generate_rmat: quadrant probabilities a=", o.a,
            " b=", o.b, " c=", o.c, " d=", o.d(), " must all be > 0");
    const double bound = std::min({o.b, o.c, (o.a + o.d()) / 2});
    require(o.noise >= 0 && o.noise <= bound, "generate_rmat: noise is ", o.noise, ", expected in [0, ", bound,
            "] so no quadrant probability turns negative");
}

// The cumulative quadrant thresholds of every level (a, a+b, a+b+c), noise applied.
inline std::vector<std::array<double, 3>> rmat_levels(const rmat_options& o) {
    check(o);
    rng g = rng::derive(o.seed, 0x4e6f697365ull);  // "Noise"
    std::vector<std::array<double, 3>> t(static_cast<std::size_t>(o.scale));
    const double ad = o.a + o.d();
    for (auto& level : t) {
        const double mu = o.noise > 0 ? g.uniform(-o.noise, o.noise) : 0.0;
        const double a = o.a - 2 * mu * o.a / ad, b = o.b + mu, c = o.c + mu;
        level = {a, a + b, a + b + c};
    }
    return t;
}

inline edge_list<index_t> generate_rmat(const rmat_options& o) {
    check(o);
    const auto levels = rmat_levels(o);
    const std::int64_t n = std::int64_t(1) << o.scale;
    const std::int64_t m = o.edge_factor * n;
    edge_list<index_t> out;
    out.num_nodes = static_cast<index_t>(n);
    out.edges.resize(static_cast<std::size_t>(m));

    std::vector<index_t> perm;
    if (o.scramble) {
        perm.resize(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = static_cast<index_t>(i);
        rng g = rng::derive(o.seed, 0x5065726dull);  // "Perm"
        for (std::size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[g.below(i)]);
    }

    // Thresholds in units of 2^-32: each 64-bit draw serves two levels, compared as
    // integers (the rounding moves a probability by at most 2^-32).
    std::vector<std::array<std::uint64_t, 3>> th(levels.size());
    for (std::size_t l = 0; l < levels.size(); ++l)
        for (std::size_t q = 0; q < 3; ++q) th[l][q] = static_cast<std::uint64_t>(std::ldexp(levels[l][q], 32));
    constexpr std::int64_t chunk = std::int64_t(1) << 16;
    const std::int64_t chunks = (m + chunk - 1) / chunk;
    auto* edges = out.edges.data();
#pragma omp parallel for schedule(static)
    for (std::int64_t ch = 0; ch < chunks; ++ch) {
        rng g = rng::derive(o.seed, static_cast<std::uint64_t>(ch) + 1);
        const std::int64_t end = std::min(m, (ch + 1) * chunk);
        for (std::int64_t e = ch * chunk; e < end; ++e) {
            std::uint32_t u = 0, v = 0;
            std::uint64_t bits = 0;
            for (std::size_t l = 0; l < th.size(); ++l) {
                if (l % 2 == 0) bits = g();
                const std::uint64_t r = (l % 2 == 0) ? (bits & 0xffffffffu) : (bits >> 32);
                const auto& t = th[l];
                // Quadrants in row-major order: a = (0,0), b = (0,1), c = (1,0), d = (1,1).
                const std::uint32_t down = r >= t[1], right = (r >= t[0] && r < t[1]) || r >= t[2];
                u = (u << 1) | down;
                v = (v << 1) | right;
            }
            auto iu = static_cast<index_t>(u), iv = static_cast<index_t>(v);
            if (!perm.empty()) iu = perm[u], iv = perm[v];
            edges[e] = {iu, iv};
        }
    }
    return out;
}

// R-MAT graph packaged as a dataset for benchmarks. R-MAT has no ground-truth classes:
// labels are a hash of the vertex id, and features carry that label's signal (see
// features.hpp), so training runs and converges but the accuracy says nothing about a
// real task. Use it for timing and memory, not for model quality.
struct rmat_dataset_options {
    rmat_options graph;
    std::int32_t classes = 16;
    feature_options features;
    split_options split{.train_per_class = 20, .val = 0, .test = 0, .val_fraction = 0.1, .test_fraction = 0.2};
};

template <class Value = float>
dataset<Value> generate_rmat_dataset(const rmat_dataset_options& o) {
    require(o.classes >= 1, "generate_rmat_dataset: classes is ", o.classes, ", expected >= 1");
    check(o.features);
    check(o.split);
    dataset<Value> d;
    d.edges = generate_rmat(o.graph);
    d.name = mixgcn::detail::concat("rmat-s", o.graph.scale, "-ef", o.graph.edge_factor, "-s", o.graph.seed);
    d.num_classes = o.classes;
    const auto n = static_cast<std::size_t>(d.edges.num_nodes);
    d.labels.resize(n);
    const std::uint64_t salt = splitmix64(o.graph.seed ^ 0x4c6162656cull);  // "Label"
    for (std::size_t i = 0; i < n; ++i)
        d.labels[i] = static_cast<std::int32_t>(splitmix64(salt + i) % static_cast<std::uint64_t>(o.classes));
    rng fg = rng::derive(o.graph.seed, 0x46656174ull);  // "Feat"
    d.features = make_class_features<Value>(d.labels, o.classes, o.features, fg);
    d.split = make_split(d.labels, o.classes, o.split, rng::derive(o.graph.seed, 0x53706c6974ull)());
    return d;
}

// Shorthand used by mixgcn-train: Gaussian features of the given width, `classes` hashed
// labels, the default split fractions.
template <class Value = float>
dataset<Value> rmat_dataset(const rmat_options& graph, std::int64_t features, std::int32_t classes) {
    rmat_dataset_options o;
    o.graph = graph;
    o.features.width = features;
    o.classes = classes;
    return generate_rmat_dataset<Value>(o);
}

}  // namespace mixgcn::graph
