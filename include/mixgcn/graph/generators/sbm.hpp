#pragma once
// Degree-corrected stochastic block model with power-law degrees: a node-classification
// dataset of any size whose difficulty is set by two knobs, how often edges stay inside a
// class (homophily) and how noisy the class signal in the features is.
//
// Graph: every node gets a Chung-Lu weight from a Pareto law, P(w > x) = x^-(gamma-1),
// truncated at the structural cutoff sqrt(N * avg_degree) so hubs rarely need the same
// edge twice. Each edge picks its first endpoint by weight over all nodes; with
// probability `homophily` the second by weight inside the first one's block, otherwise by
// weight among the other blocks. Expected degrees are then proportional to the weights
// and the fraction of intra-class edges is `homophily`. Sampling uses alias tables, so the
// cost is O(N + E log E) (the log from removing duplicate pairs), never O(N^2). Edges and
// features are drawn on the OpenMP threads; the dataset depends on the seed alone.
//
// Features: class mean + noise, or class topics as bag of words (features.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/generators/alias_table.hpp"
#include "mixgcn/graph/generators/features.hpp"
#include "mixgcn/graph/generators/split.hpp"
#include "mixgcn/graph/generators/unique_pairs.hpp"

namespace mixgcn::graph {

struct sbm_options {
    std::int64_t nodes = 10000;
    double avg_degree = 10;            // mean undirected degree: nodes * avg_degree / 2 edges
    std::int32_t classes = 8;          // blocks = labels, of equal size (+-1)
    double homophily = 0.75;           // fraction of edges inside a block
    double power_law_exponent = 2.5;   // gamma of the degree tail; > 2 keeps the mean finite
    double max_degree = 0;             // expected-degree cap; 0 = structural cutoff sqrt(N * avg_degree)
    std::int64_t features = 128;       // feature width
    feature_model model = feature_model::bag_of_words;
    double feature_noise = 1.0;        // gaussian: noise / half the distance between class means
    std::int64_t words_per_node = 20;  // bag_of_words: words drawn per node
    double word_noise = 0.8;           // bag_of_words: fraction of words drawn off-topic
    std::uint64_t seed = 1;
    split_options split;
};

inline feature_options features_of(const sbm_options& o) {
    return {o.model, o.features, o.feature_noise, o.words_per_node, o.word_noise};
}

inline void check(const sbm_options& o) {
    require(o.nodes >= 2 && o.nodes <= std::numeric_limits<index_t>::max(), "generate_sbm: nodes is ", o.nodes,
            ", expected in [2, ", std::numeric_limits<index_t>::max(), "]");
    require(o.classes >= 1 && o.classes <= o.nodes, "generate_sbm: classes is ", o.classes, ", expected in [1, ",
            o.nodes, "]");
    require(std::isfinite(o.avg_degree) && o.avg_degree > 0 && o.avg_degree <= double(o.nodes - 1) / 2,
            "generate_sbm: avg_degree is ", o.avg_degree, ", expected in (0, (nodes - 1) / 2 = ",
            double(o.nodes - 1) / 2, "]");
    require(o.homophily >= 0 && o.homophily <= 1, "generate_sbm: homophily is ", o.homophily,
            ", expected in [0, 1]");
    require(o.classes > 1 || o.homophily == 1, "generate_sbm: homophily ", o.homophily,
            " < 1 needs at least two classes");
    require(o.power_law_exponent > 2, "generate_sbm: power_law_exponent is ", o.power_law_exponent,
            ", expected > 2 (finite mean degree)");
    require(o.max_degree >= 0, "generate_sbm: max_degree is ", o.max_degree, ", expected >= 0 (0 = automatic)");
    check(features_of(o));
    check(o.split);
}

namespace detail {

// Stream tags: each part of the dataset draws from its own stream, so changing the
// feature width does not change the graph and vice versa.
enum sbm_stream : std::uint64_t { weights_stream = 1, labels_stream, edges_stream, features_stream, split_stream };

}  // namespace detail

// Expected degree weights (Pareto, truncated), one per node.
inline std::vector<double> sbm_weights(const sbm_options& o) {
    rng g = rng::derive(o.seed, detail::weights_stream);
    const auto n = static_cast<std::size_t>(o.nodes);
    std::vector<double> w(n);
    const double inv = -1.0 / (o.power_law_exponent - 1.0);
    double sum = 0;
    for (auto& x : w) {
        x = std::pow(1.0 - g.uniform(), inv);  // inverse CDF of Pareto(x_min = 1)
        sum += x;
    }
    const double cap_degree = o.max_degree > 0 ? o.max_degree : std::sqrt(double(o.nodes) * o.avg_degree);
    // A weight w means expected degree avg_degree * w / mean(w).
    const double cap = std::max(1.0, cap_degree * (sum / double(n)) / o.avg_degree);
    for (auto& x : w) x = std::min(x, cap);
    return w;
}

template <class Value = float>
dataset<Value> generate_sbm(const sbm_options& o) {
    check(o);
    const auto n = static_cast<std::size_t>(o.nodes);
    const auto k = static_cast<std::size_t>(o.classes);
    dataset<Value> d;
    d.name = mixgcn::detail::concat("sbm-n", o.nodes, "-deg", o.avg_degree, "-c", o.classes, "-h", o.homophily, "-s", o.seed);
    d.num_classes = o.classes;
    d.edges.num_nodes = static_cast<index_t>(o.nodes);

    // Balanced blocks in random order: no class is empty, and block membership does not
    // follow node ids (a contiguous partitioner must not find the classes for free).
    d.labels.resize(n);
    {
        std::vector<std::uint32_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
        rng g = rng::derive(o.seed, detail::labels_stream);
        for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[g.below(i)]);
        for (std::size_t i = 0; i < n; ++i) d.labels[order[i]] = static_cast<std::int32_t>(i % k);
    }

    // ---- edges
    const std::vector<double> w = sbm_weights(o);
    std::vector<std::vector<std::uint32_t>> members(k);
    for (std::size_t i = 0; i < n; ++i) members[static_cast<std::size_t>(d.labels[i])].push_back(static_cast<std::uint32_t>(i));
    std::vector<alias_table> inside(k);
    {
        std::vector<double> bw;
        for (std::size_t c = 0; c < k; ++c) {
            bw.resize(members[c].size());
            for (std::size_t j = 0; j < bw.size(); ++j) bw[j] = w[members[c][j]];
            inside[c] = alias_table(bw);
        }
    }
    const alias_table global(w);
    const auto target = static_cast<std::int64_t>(std::llround(double(o.nodes) * o.avg_degree / 2));
    // One pair; read-only on the tables, so the threads draw at once (unique_pairs.hpp).
    const auto draw = [&](rng& g) -> std::pair<std::uint32_t, std::uint32_t> {
        const std::uint32_t u = global(g);
        const auto cu = static_cast<std::size_t>(d.labels[u]);
        if (k == 1 || g.uniform() < o.homophily) return {u, members[cu][inside[cu](g)]};
        // Other blocks by weight: rejection from the global table accepts with
        // probability about 1 - 1/classes >= 1/2 for balanced blocks.
        for (;;) {
            const std::uint32_t v = global(g);
            if (static_cast<std::size_t>(d.labels[v]) != cu) return {u, v};
        }
    };
    const std::vector<std::uint64_t> keys = detail::unique_pairs(
        target, std::uint64_t(o.nodes), rng::derive(o.seed, detail::edges_stream)(), draw, "generate_sbm");
    d.edges.edges.resize(keys.size());
#pragma omp parallel for schedule(static)
    for (std::size_t e = 0; e < keys.size(); ++e)
        d.edges.edges[e] = {static_cast<index_t>(keys[e] >> 32), static_cast<index_t>(keys[e] & 0xffffffffu)};

    // ---- features
    rng fg = rng::derive(o.seed, detail::features_stream);
    d.features = make_class_features<Value>(d.labels, o.classes, features_of(o), fg);
    d.split = make_split(d.labels, o.classes, o.split, rng::derive(o.seed, detail::split_stream)());
    return d;
}

}  // namespace mixgcn::graph
