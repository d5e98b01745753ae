#pragma once
// The partitioner policy: something that assigns an owner rank to every node of a square
// adjacency. Owners are plain ints in [0, parts) so that the result can be written to a
// partition file and read back by any tool.
#include <concepts>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/types.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::partition {

template <class P, class V = float>
concept partitioner = requires(const P& p, const storage::csr<index_t, V>& adjacency, int parts) {
    { p.partition(adjacency, parts) } -> std::same_as<std::vector<int>>;
    { p.name() } -> std::convertible_to<std::string_view>;
};

// A partitioner that can also aim at unequal parts: `targets[p]` is part p's share of
// the total row cost (partition::target_shares checks and normalises them). The load
// balancer re-cuts with shares proportional to the ranks' measured speeds.
template <class P, class V = float>
concept weighted_partitioner =
    partitioner<P, V> && requires(const P& p, const storage::csr<index_t, V>& adjacency, int parts,
                                  std::span<const double> targets) {
        { p.partition(adjacency, parts, targets) } -> std::same_as<std::vector<int>>;
    };

}  // namespace mixgcn::partition
