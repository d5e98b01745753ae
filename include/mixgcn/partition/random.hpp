#pragma once
// Hash partitioning: nodes sorted by splitmix64(seed, id) and dealt round robin. The
// result looks random (no locality), depends only on the seed and the node count, and is
// exactly balanced in node count: part sizes differ by at most one. Non-zeros are
// balanced only in expectation.
#include <algorithm>
#include <cstdint>
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
    std::vector<int> partition(const storage::csr<Index, Value, Offset>& adjacency, int parts) const {
        check_parts(adjacency, parts, "partition::random");
        const auto n = static_cast<std::size_t>(adjacency.rows);
        const std::uint64_t salt = splitmix64(seed ^ 0x6A09E667F3BCC909ull);
        std::vector<std::pair<std::uint64_t, std::size_t>> keyed(n);
        for (std::size_t i = 0; i < n; ++i) keyed[i] = {splitmix64(salt + i), i};
        std::sort(keyed.begin(), keyed.end());  // ties (astronomically rare) broken by id
        std::vector<int> owner(n);
        for (std::size_t k = 0; k < n; ++k) owner[keyed[k].second] = static_cast<int>(k % static_cast<std::size_t>(parts));
        return owner;
    }
};
static_assert(partitioner<random>, "partition::random must satisfy the partitioner concept.");

}  // namespace mixgcn::partition
