#pragma once
// Distinct undirected pairs for the generators, drawn and deduplicated on the OpenMP
// threads. The answer depends on the seed only, never on the thread count: draws come in
// fixed chunks, each from its own derived stream, and the keys (u << 32 | v, u < v) are
// put in order by a bucket sort whose buckets are fixed by the node count
// (core/parallel_sort.hpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/parallel_sort.hpp"
#include "mixgcn/core/rng.hpp"

namespace mixgcn::graph::detail {

inline constexpr std::uint64_t no_pair = ~std::uint64_t{0};  // a self-loop draw, dropped

// Unique undirected pairs (u < v, u and v < nodes) until `target` of them exist; returns
// exactly `target`, sorted. Each round draws a little more than is missing, in chunks of
// 2^16 draws, chunk c of round r from rng::derive(seed ^ r·φ, c); draw(g) gives one pair.
// Duplicates and self-loops are dropped and re-drawn; a round that adds nothing means the
// model cannot place that many distinct edges. A surplus from the last round is removed
// at positions drawn from rng::derive(seed, ~0), keeping the order.
template <class Draw>
std::vector<std::uint64_t> unique_pairs(std::int64_t target, std::uint64_t nodes, std::uint64_t seed, Draw&& draw,
                                        const char* who) {
    const auto want = static_cast<std::size_t>(target);
    std::vector<std::uint64_t> keys;
    constexpr std::size_t chunk = std::size_t(1) << 16;
    for (std::uint64_t round = 0; keys.size() < want; ++round) {
        const std::size_t have = keys.size(), deficit = want - have;
        const std::size_t ask = deficit + deficit / 32 + 8;  // a little more than missing: rounds shrink fast
        keys.resize(have + ask);
        const std::size_t chunks = (ask + chunk - 1) / chunk;
        const std::uint64_t round_seed = seed ^ (round * 0x9E3779B97F4A7C15ull);
#pragma omp parallel for schedule(dynamic, 4)
        for (std::size_t c = 0; c < chunks; ++c) {
            rng g = rng::derive(round_seed, c);
            for (std::size_t i = c * chunk; i < std::min(ask, (c + 1) * chunk); ++i) {
                auto [u, v] = draw(g);
                if (u > v) std::swap(u, v);
                keys[have + i] = u == v ? no_pair : std::uint64_t(u) << 32 | std::uint64_t(v);
            }
        }
        mixgcn::detail::parallel_sort_unique(keys, nodes, 32);
        if (!keys.empty() && keys.back() == no_pair) keys.pop_back();
        if (keys.size() >= want) break;
        if (keys.size() == have || round > 200)
            throw error(mixgcn::detail::concat(who, ": cannot place ", target, " distinct edges (stuck at ", keys.size(),
                                               "); lower avg_degree or homophily"));
    }
    if (keys.size() > want) {  // drop the surplus at distinct random positions, in order
        rng g = rng::derive(seed, ~std::uint64_t{0});
        const std::size_t surplus = keys.size() - want;
        std::vector<std::size_t> drop;
        while (drop.size() < surplus) {
            for (std::size_t k = drop.size(); k < surplus; ++k) drop.push_back(std::size_t(g.below(keys.size())));
            std::sort(drop.begin(), drop.end());
            drop.erase(std::unique(drop.begin(), drop.end()), drop.end());
        }
        std::size_t out = 0, d = 0;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (d < drop.size() && drop[d] == i) {
                ++d;
                continue;
            }
            keys[out++] = keys[i];
        }
        keys.resize(out);
    }
    return keys;
}

}  // namespace mixgcn::graph::detail
