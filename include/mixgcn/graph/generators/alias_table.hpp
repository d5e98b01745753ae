#pragma once
// Walker's alias method (Vose's construction): O(n) setup, O(1) draws from a discrete
// distribution. Generators sample every edge endpoint by node weight with it, which keeps
// graph generation O(E) instead of the O(N^2) of testing every pair.
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"

namespace mixgcn::graph {

class alias_table {
public:
    alias_table() = default;

    // Weights need not be normalised; they must be finite, non-negative and not all zero.
    explicit alias_table(std::span<const double> weights) {
        const std::size_t n = weights.size();
        require(n > 0, "alias_table: no weights");
        double total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            require(std::isfinite(weights[i]) && weights[i] >= 0, "alias_table: weight ", i, " is ", weights[i],
                    ", expected a finite non-negative number");
            total += weights[i];
        }
        require(total > 0, "alias_table: all ", n, " weights are zero");
        prob_.resize(n);
        alias_.resize(n);
        // Scaled so the average bucket holds exactly 1; "small" buckets get topped up by a
        // "large" one, which then shrinks by what it gave.
        std::vector<double> scaled(n);
        std::vector<std::uint32_t> small, large;
        small.reserve(n);
        large.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            scaled[i] = weights[i] * double(n) / total;
            (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
        }
        while (!small.empty() && !large.empty()) {
            const std::uint32_t s = small.back(), l = large.back();
            small.pop_back();
            prob_[s] = scaled[s];
            alias_[s] = l;
            scaled[l] -= 1.0 - scaled[s];
            if (scaled[l] < 1.0) {
                large.pop_back();
                small.push_back(l);
            }
        }
        // Leftovers are 1 up to rounding.
        for (auto i : large) prob_[i] = 1.0, alias_[i] = i;
        for (auto i : small) prob_[i] = 1.0, alias_[i] = i;
    }

    std::size_t size() const noexcept { return prob_.size(); }

    // One draw: a uniform bucket, then the bucket's own entry or its alias.
    std::uint32_t operator()(rng& g) const noexcept {
        const auto bucket = static_cast<std::uint32_t>(g.below(prob_.size()));
        return g.uniform() < prob_[bucket] ? bucket : alias_[bucket];
    }

private:
    std::vector<double> prob_;
    std::vector<std::uint32_t> alias_;
};

}  // namespace mixgcn::graph
