#pragma once
// An all-to-all-v whose receive sizes are not known in advance: the per-destination
// counts travel first (one element each), then the data. For the exchanges that move
// rows or ids whose destinations only the sender knows (a partitioned load's edges and
// rows, the balancer's re-cut, a distributed partitioner's ghost requests).
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/types.hpp"

namespace mixgcn::comm {

// Sends send_counts[q] elements of `send` (grouped by destination rank) to each rank q
// and returns what this rank receives, grouped by source rank; `recv_counts`, when given,
// gets how many came from each rank.
template <element T, class Comm>
std::vector<T> exchange_grouped(Comm& comm, std::span<const T> send, std::span<const std::size_t> send_counts,
                                std::vector<std::size_t>* recv_counts = nullptr) {
    const auto P = static_cast<std::size_t>(comm.size());
    std::vector<std::size_t> one(P, 1), counts(P);
    std::vector<std::uint64_t> want(send_counts.begin(), send_counts.end()), got(P);
    comm.all_to_all_v(std::span<const std::uint64_t>(want), one, std::span<std::uint64_t>(got), one);
    std::copy(got.begin(), got.end(), counts.begin());
    std::vector<T> out(std::accumulate(counts.begin(), counts.end(), std::size_t{0}));
    comm.all_to_all_v(send, send_counts, std::span<T>(out), std::span<const std::size_t>(counts));
    if (recv_counts) *recv_counts = std::move(counts);
    return out;
}

}  // namespace mixgcn::comm
