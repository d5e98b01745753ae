#pragma once
// Argument checks shared by the communicators. A mismatch between a span and its counts
// is the caller's bug; it is reported before any rank starts moving data, with the rank,
// the operation and both numbers, so it never turns into a hang or a buffer overrun.
#include <cstddef>
#include <numeric>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"

namespace mixgcn::comm::detail {

inline std::size_t sum(std::span<const std::size_t> counts) {
    return std::accumulate(counts.begin(), counts.end(), std::size_t{0});
}

// Exclusive prefix sum: where each rank's block starts.
inline std::vector<std::size_t> displacements(std::span<const std::size_t> counts) {
    std::vector<std::size_t> d(counts.size());
    std::size_t at = 0;
    for (std::size_t q = 0; q < counts.size(); ++q) {
        d[q] = at;
        at += counts[q];
    }
    return d;
}

// `counts` must have one entry per rank and add up to the span's length.
inline void check_counts(int rank, int size, std::string_view op, std::string_view which,
                         std::span<const std::size_t> counts, std::size_t span_size) {
    require(counts.size() == static_cast<std::size_t>(size), "rank ", rank, ": ", op, ": ", which,
            " has ", counts.size(), " entries, expected one per rank (", size, ")");
    const std::size_t total = sum(counts);
    require(total == span_size, "rank ", rank, ": ", op, ": ", which, " add up to ", total,
            " elements but the buffer holds ", span_size);
}

inline void check_size(int rank, std::string_view op, std::string_view what, std::size_t got,
                       std::size_t expected) {
    require(got == expected, "rank ", rank, ": ", op, ": ", what, " holds ", got, " elements, expected ",
            expected);
}

inline void check_peer(int rank, int size, std::string_view op, int peer) {
    require(peer >= 0 && peer < size, "rank ", rank, ": ", op, ": rank ", peer, " out of range [0, ", size,
            ")");
}

}  // namespace mixgcn::comm::detail
