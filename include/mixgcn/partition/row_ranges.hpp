#pragma once
// The rows a distributed partitioner is given: each rank passes a contiguous range of
// global rows, rank r's range following rank r-1's, together tiling [0, nodes) (the
// ranges of a partitioned load). The ranges are gathered once, checked, and answer which
// rank holds a global row.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"

namespace mixgcn::partition {

struct row_ranges {
    std::vector<std::int64_t> start;  // rank q holds [start[q], start[q + 1]); start.back() = nodes

    int ranks() const noexcept { return static_cast<int>(start.size()) - 1; }
    std::int64_t first(int q) const noexcept { return start[static_cast<std::size_t>(q)]; }
    std::int64_t rows(int q) const noexcept {
        return start[static_cast<std::size_t>(q) + 1] - start[static_cast<std::size_t>(q)];
    }
    // The rank whose range holds global row `id` (in [0, nodes)); empty ranges hold none.
    int holder(std::int64_t id) const noexcept {
        return static_cast<int>(std::upper_bound(start.begin(), start.end(), id) - start.begin()) - 1;
    }
};

// Collective: gathers every rank's (first_row, rows) and checks that they tile [0, nodes)
// in rank order; the error names the first rank at fault.
template <class Comm>
row_ranges gather_row_ranges(Comm& comm, std::int64_t first_row, std::int64_t rows, std::int64_t nodes,
                             std::string_view who) {
    const auto P = static_cast<std::size_t>(comm.size());
    const std::vector<std::int64_t> mine{first_row, rows};
    std::vector<std::int64_t> all(2 * P);
    comm.all_gather(std::span<const std::int64_t>(mine), std::span<std::int64_t>(all));
    row_ranges r;
    r.start.assign(P + 1, 0);
    std::int64_t expect = 0;
    for (std::size_t q = 0; q < P; ++q) {
        require(all[2 * q] == expect && all[2 * q + 1] >= 0, who, " (rank ", comm.rank(), "): rank ", q,
                "'s rows begin at ", all[2 * q], " (", all[2 * q + 1], " rows), expected ", expect,
                " (the ranks' rows must be consecutive ranges in rank order, as a partitioned load's are)");
        r.start[q] = expect;
        expect += all[2 * q + 1];
    }
    r.start[P] = expect;
    require(expect == nodes, who, " (rank ", comm.rank(), "): the ranks hold ", expect, " rows of ", nodes, " nodes");
    return r;
}

}  // namespace mixgcn::partition
