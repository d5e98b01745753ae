#pragma once
// Contiguous ranges of node ids, balanced by row cost (non-zeros + 1 per node) rather
// than by node count: on power-law graphs equal node counts give very unequal work.
//
// Balance: every boundary sits at the node id whose prefix cost is nearest the ideal
// p·W/P, so each part's cost differs from W/P by at most one maximal row cost. Every
// part holds at least one node (boundaries are clamped to keep ranges non-empty). With
// target shares t the ideal boundaries are W·(t_0 + ... + t_{p-1}) instead.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/concept.hpp"

namespace mixgcn::partition {

struct block {
    static constexpr std::string_view name() noexcept { return "block"; }

    // First node of each part, P+1 entries (the last is the node count).
    template <class Index, class Value, class Offset>
    static std::vector<Index> boundaries(const storage::csr<Index, Value, Offset>& adjacency, int parts,
                                         std::span<const double> targets = {}) {
        check_parts(adjacency, parts, "partition::block");
        const auto shares = targets.empty() ? std::vector<double>{} : target_shares(targets, parts, "partition::block");
        const Index n = adjacency.rows;
        std::vector<std::int64_t> prefix(static_cast<std::size_t>(n) + 1, 0);
        for (Index r = 0; r < n; ++r)
            prefix[static_cast<std::size_t>(r) + 1] = prefix[static_cast<std::size_t>(r)] + row_cost(adjacency, r);
        const std::int64_t total = prefix.back();
        std::vector<Index> bounds(static_cast<std::size_t>(parts) + 1, 0);
        bounds.back() = n;
        double cumulative = 0;
        for (int p = 1; p < parts; ++p) {
            // Ideal cut point p·W/P, compared in integers scaled by P to stay exact; with
            // target shares W·Σ_{q<p} t_q, in doubles.
            if (!shares.empty()) cumulative += shares[static_cast<std::size_t>(p) - 1];
            const double target = shares.empty() ? double(static_cast<std::int64_t>(p) * total) : cumulative * double(total);
            auto scaled = [&](Index i) {
                return shares.empty() ? double(prefix[static_cast<std::size_t>(i)] * parts) : double(prefix[static_cast<std::size_t>(i)]);
            };
            Index lo = 0, hi = n;  // first i with scaled(i) >= target
            while (lo < hi) {
                const Index mid = lo + (hi - lo) / 2;
                if (scaled(mid) < target) lo = mid + 1;
                else hi = mid;
            }
            Index b = lo;
            if (b > 0 && target - scaled(b - 1) < scaled(b) - target) --b;
            const Index min_b = bounds[static_cast<std::size_t>(p) - 1] + 1;
            const Index max_b = n - static_cast<Index>(parts - p);
            bounds[static_cast<std::size_t>(p)] = std::clamp(b, min_b, max_b);
        }
        return bounds;
    }

    template <class Index, class Value, class Offset>
    std::vector<int> partition(const storage::csr<Index, Value, Offset>& adjacency, int parts,
                               std::span<const double> targets = {}) const {
        const auto bounds = boundaries(adjacency, parts, targets);
        std::vector<int> owner(static_cast<std::size_t>(adjacency.rows));
        for (int p = 0; p < parts; ++p)
            std::fill(owner.begin() + bounds[static_cast<std::size_t>(p)],
                      owner.begin() + bounds[static_cast<std::size_t>(p) + 1], p);
        return owner;
    }
};
static_assert(weighted_partitioner<block>, "partition::block must satisfy the partitioner concept.");

}  // namespace mixgcn::partition
