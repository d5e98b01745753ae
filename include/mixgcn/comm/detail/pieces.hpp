#pragma once
// Splitting transfers into pieces an engine's count type can carry. MPI 3 (OpenMPI 4.1,
// Debian's) counts elements in `int`, so a block of 2^31 elements or more, or one whose
// displacement passes 2^31, cannot go in one call; MPI-4's large-count calls are not
// there. comm::mpi therefore sends every block as pieces of at most `max` elements, each
// at a 64-bit element offset computed here. Pure arithmetic, no engine: tested on its own
// with counts far above 2^31 (tests/unit/test_large_counts.cpp).
#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "mixgcn/core/error.hpp"

namespace mixgcn::comm::detail {

// `count` elements at element `offset` of a buffer, to or from `peer`.
struct piece {
    int peer;
    std::size_t offset;
    std::size_t count;
};

// The pieces of one contiguous block, in order; none for an empty block.
inline void split_block(std::vector<piece>& out, int peer, std::size_t offset, std::size_t count, std::size_t max) {
    require(max > 0, "split_block: the largest piece must hold at least one element");
    for (std::size_t done = 0; done < count;) {
        const std::size_t n = std::min(max, count - done);
        out.push_back({peer, offset + done, n});
        done += n;
    }
}

// The pieces of an exchange whose block q (counts[q] elements) sits after blocks 0..q-1,
// peer `skip` left out (the block a rank keeps for itself; -1 keeps all).
inline std::vector<piece> split_blocks(std::span<const std::size_t> counts, std::size_t max, int skip = -1) {
    std::vector<piece> out;
    std::size_t at = 0;
    for (std::size_t q = 0; q < counts.size(); ++q) {
        if (static_cast<int>(q) != skip) split_block(out, static_cast<int>(q), at, counts[q], max);
        at += counts[q];
    }
    return out;
}

// True when one call can carry the blocks: every count, every displacement and the
// total at most `max`.
inline bool fits_one_call(std::span<const std::size_t> counts, std::size_t max) {
    std::size_t at = 0;
    for (const auto c : counts) {
        if (c > max || at > max) return false;
        at += c;
    }
    return at <= max;
}

}  // namespace mixgcn::comm::detail
