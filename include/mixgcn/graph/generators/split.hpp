#pragma once
// Planetoid-style splits for generated datasets: a fixed number of training nodes per
// class, then validation and test nodes drawn from the rest, all in a seeded random
// order so no split correlates with node ids (and so with block partitions).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/dataset.hpp"

namespace mixgcn::graph {

struct split_options {
    std::int64_t train_per_class = 20;
    std::int64_t val = 500;
    std::int64_t test = 1000;
    // When > 0 they replace the counts above by a fraction of all nodes.
    double val_fraction = 0;
    double test_fraction = 0;
};

inline void check(const split_options& o) {
    require(o.train_per_class >= 0, "split: train_per_class is ", o.train_per_class, ", expected >= 0");
    require(o.val >= 0, "split: val is ", o.val, ", expected >= 0");
    require(o.test >= 0, "split: test is ", o.test, ", expected >= 0");
    require(o.val_fraction >= 0 && o.val_fraction < 1, "split: val_fraction is ", o.val_fraction,
            ", expected in [0, 1)");
    require(o.test_fraction >= 0 && o.test_fraction < 1, "split: test_fraction is ", o.test_fraction,
            ", expected in [0, 1)");
    require(o.val_fraction + o.test_fraction < 1, "split: val_fraction + test_fraction is ",
            o.val_fraction + o.test_fraction, ", expected < 1");
}

// Assigns roles given labels in [0, classes). Small graphs are clipped rather than
// rejected: a class keeps at least half of its nodes out of training, and val/test
// take what is left in that order.
inline std::vector<split_role> make_split(const std::vector<std::int32_t>& labels, std::int32_t classes,
                                          const split_options& o, std::uint64_t seed) {
    check(o);
    const std::size_t n = labels.size();
    std::vector<std::uint32_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
    rng g(seed);
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[g.below(i)]);  // Fisher-Yates

    std::vector<std::int64_t> class_size(static_cast<std::size_t>(classes), 0);
    for (auto l : labels) {
        require(l >= 0 && l < classes, "make_split: label ", l, " outside [0, ", classes, ")");
        ++class_size[static_cast<std::size_t>(l)];
    }
    std::vector<std::int64_t> train_left(class_size.size());
    for (std::size_t c = 0; c < class_size.size(); ++c)
        train_left[c] = std::min(o.train_per_class, class_size[c] / 2);

    std::vector<split_role> split(n, split_role::none);
    std::vector<std::uint32_t> rest;
    rest.reserve(n);
    for (auto v : order) {
        auto& left = train_left[static_cast<std::size_t>(labels[v])];
        if (left > 0) {
            split[v] = split_role::train;
            --left;
        } else {
            rest.push_back(v);
        }
    }
    const auto total = static_cast<double>(n);
    const auto want_val = o.val_fraction > 0 ? static_cast<std::int64_t>(o.val_fraction * total) : o.val;
    const auto want_test = o.test_fraction > 0 ? static_cast<std::int64_t>(o.test_fraction * total) : o.test;
    const auto avail = static_cast<std::int64_t>(rest.size());
    const auto n_val = std::min(want_val, avail);
    const auto n_test = std::min(want_test, avail - n_val);
    for (std::int64_t k = 0; k < n_val; ++k) split[rest[static_cast<std::size_t>(k)]] = split_role::val;
    for (std::int64_t k = n_val; k < n_val + n_test; ++k) split[rest[static_cast<std::size_t>(k)]] = split_role::test;
    return split;
}

}  // namespace mixgcn::graph
