#pragma once
// Hash partitioning: nodes sorted by splitmix64(seed, id) and dealt round robin. The
// result looks random (no locality), depends only on the seed and the node count, and is
// exactly balanced in node count: part sizes differ by at most one. Non-zeros are
// balanced only in expectation. With target shares t the nodes are dealt by weighted
// round robin (each node to the part furthest below t_p·k, lowest index on ties), so
// part p holds t_p·N nodes to within one.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/rng.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/concept.hpp"

namespace mixgcn::partition {

struct random {
    std::uint64_t seed = 0;

    static constexpr std::string_view name() noexcept { return "random"; }

    template <class Index, class Value, class Offset>
    std::vector<int> partition(const storage::csr<Index, Value, Offset>& adjacency, int parts,
                               std::span<const double> targets = {}) const {
        check_parts(adjacency, parts, "partition::random");
        const auto shares = targets.empty() ? std::vector<double>{} : target_shares(targets, parts, "partition::random");
        const auto n = static_cast<std::size_t>(adjacency.rows);
        const std::uint64_t salt = splitmix64(seed ^ 0x6A09E667F3BCC909ull);
        std::vector<std::pair<std::uint64_t, std::size_t>> keyed(n);
        for (std::size_t i = 0; i < n; ++i) keyed[i] = {splitmix64(salt + i), i};
        std::sort(keyed.begin(), keyed.end());  // ties (astronomically rare) broken by id
        std::vector<int> owner(n);
        if (shares.empty()) {
            for (std::size_t k = 0; k < n; ++k) owner[keyed[k].second] = static_cast<int>(k % static_cast<std::size_t>(parts));
            return owner;
        }
        std::vector<std::size_t> held(shares.size(), 0);
        for (std::size_t k = 0; k < n; ++k) {
            std::size_t best = 0;
            double most = -1e300;
            for (std::size_t p = 0; p < shares.size(); ++p) {
                const double deficit = shares[p] * double(k + 1) - double(held[p]);
                if (deficit > most) {
                    most = deficit;
                    best = p;
                }
            }
            ++held[best];
            owner[keyed[k].second] = static_cast<int>(best);
        }
        // Every part non-empty (a tiny share on a small graph): take one node from the largest.
        for (std::size_t p = 0; p < held.size(); ++p) {
            if (held[p] > 0) continue;
            const auto donor = static_cast<int>(std::max_element(held.begin(), held.end()) - held.begin());
            for (std::size_t k = 0; k < n; ++k)
                if (owner[keyed[k].second] == donor) {
                    owner[keyed[k].second] = static_cast<int>(p);
                    break;
                }
            --held[static_cast<std::size_t>(donor)];
            ++held[p];
        }
        return owner;
    }
};
static_assert(weighted_partitioner<random>, "partition::random must satisfy the partitioner concept.");

}  // namespace mixgcn::partition
