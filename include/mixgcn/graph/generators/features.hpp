#pragma once
// Class-dependent node features for generated datasets, in two models:
//
// `gaussian`: each class gets a random mean vector (entries N(0, 1)); a node's features
// are its class mean plus isotropic noise. The noise sd is `noise * sqrt(width / 2)`, so
// `noise` is the ratio of noise to half the distance between two class means, whatever
// the width (pairwise Bayes error about Q(1 / noise)). Entries are rescaled to unit
// variance. They have mixed signs: do not row-normalise them.
//
// `bag_of_words`: each class gets a topic, 2 * width / classes random words (topics
// overlap); a node draws `words_per_node` words, a fraction `word_noise` of them uniformly
// from the whole vocabulary, and has a 1 for every word drawn. Entries are 0/1 like
// Cora's, and row normalisation is safe. It is the default for that reason: mixgcn-train
// row-normalises features unless told otherwise.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"

namespace mixgcn::graph {

enum class feature_model { gaussian, bag_of_words };

struct feature_options {
    feature_model model = feature_model::bag_of_words;
    std::int64_t width = 128;
    double noise = 1.0;                // gaussian
    std::int64_t words_per_node = 20;  // bag_of_words
    double word_noise = 0.8;           // bag_of_words
};

inline void check(const feature_options& o) {
    require(o.width >= 1, "features: width is ", o.width, ", expected >= 1");
    require(std::isfinite(o.noise) && o.noise >= 0, "features: noise is ", o.noise, ", expected >= 0");
    require(o.words_per_node >= 1, "features: words_per_node is ", o.words_per_node, ", expected >= 1");
    require(o.word_noise >= 0 && o.word_noise <= 1, "features: word_noise is ", o.word_noise,
            ", expected in [0, 1]");
}

template <class Value>
dense_matrix<Value> make_class_features(const std::vector<std::int32_t>& labels, std::int32_t classes,
                                        const feature_options& o, rng& g) {
    check(o);
    require(classes >= 1, "features: classes is ", classes, ", expected >= 1");
    const std::size_t n = labels.size();
    const auto k = static_cast<std::size_t>(classes);
    const auto width = static_cast<std::size_t>(o.width);
    for (std::size_t i = 0; i < n; ++i)
        require(labels[i] >= 0 && labels[i] < classes, "features: node ", i, " has label ", labels[i],
                " outside [0, ", classes, ")");
    dense_matrix<Value> x(n, width);
    // Nodes in fixed chunks, each drawing from its own stream (seeded after the class
    // parameters), so the threads fill rows at once and the values ignore the thread count.
    constexpr std::size_t chunk = 4096;
    const auto chunks = static_cast<std::int64_t>((n + chunk - 1) / chunk);
    if (o.model == feature_model::gaussian) {
        dense_matrix<double> mean(k, width);
        for (auto& m : mean.values()) m = g.normal();
        const std::uint64_t base = g();
        const double sd = o.noise * std::sqrt(double(width) / 2);
        const double scale = 1.0 / std::sqrt(1.0 + sd * sd);
#pragma omp parallel for schedule(static)
        for (std::int64_t c = 0; c < chunks; ++c) {
            rng gc = rng::derive(base, static_cast<std::uint64_t>(c));
            for (auto i = static_cast<std::size_t>(c) * chunk; i < std::min(n, static_cast<std::size_t>(c + 1) * chunk); ++i) {
                const double* mu = mean.row(static_cast<std::size_t>(labels[i]));
                Value* row = x.row(i);
                for (std::size_t j = 0; j < width; ++j) row[j] = static_cast<Value>((mu[j] + sd * gc.normal()) * scale);
            }
        }
        return x;
    }
    const std::size_t topic = std::max<std::size_t>(2, std::min(width, 2 * width / k));
    std::vector<std::uint32_t> vocab(width), topics(k * topic);
    for (std::size_t c = 0; c < k; ++c) {
        for (std::size_t j = 0; j < width; ++j) vocab[j] = static_cast<std::uint32_t>(j);
        for (std::size_t j = 0; j < std::min(topic, width); ++j) std::swap(vocab[j], vocab[j + g.below(width - j)]);
        for (std::size_t j = 0; j < topic; ++j) topics[c * topic + j] = vocab[j % width];
    }
    const std::uint64_t base = g();
#pragma omp parallel for schedule(static)
    for (std::int64_t c = 0; c < chunks; ++c) {
        rng gc = rng::derive(base, static_cast<std::uint64_t>(c));
        for (auto i = static_cast<std::size_t>(c) * chunk; i < std::min(n, static_cast<std::size_t>(c + 1) * chunk); ++i) {
            const std::uint32_t* t = topics.data() + static_cast<std::size_t>(labels[i]) * topic;
            Value* row = x.row(i);
            for (std::int64_t r = 0; r < o.words_per_node; ++r) {
                const std::size_t word = gc.uniform() < o.word_noise ? gc.below(width) : t[gc.below(topic)];
                row[word] = Value(1);
            }
        }
    }
    return x;
}

}  // namespace mixgcn::graph
