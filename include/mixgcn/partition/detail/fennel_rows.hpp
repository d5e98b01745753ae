#pragma once
// Fennel over distributed rows: every rank streams its own range of rows at the same time,
// in R synchronised rounds per pass (round k: the k-th 1/R of each rank's rows, in id
// order). Within a round a rank sees its own placements at once and the other ranks' as
// of the round's start:
//   * part sizes and costs: all-reduced after every round (2·parts + 1 numbers);
//   * neighbours' parts: a rank keeps the parts of its ghosts (columns held by other
//     ranks), and after every round each rank sends the parts it just chose to the ranks
//     that have those rows as ghosts (the subscriptions, learned once from the ghost
//     requests), so round k sees every node placed before round k;
//   * capacity: a rank may add to part p at most its share of p's free room,
//     (limit_p − cost_p)·rem_r/rem, rem_r being the row cost it has still to place and rem
//     all ranks' — the ranks' additions in one round never sum past the limit, and a
//     rank's shares sum to at least what it has left (capacity ≥ 1). When one rank alone
//     has rows left (and on one rank) the limit is checked directly, so one rank gives
//     the whole-graph stream's answer exactly.
// Restreaming passes, target shares and the non-empty rule follow partition/fennel.hpp;
// an empty part takes the cheapest node (lowest id among equals) of the part with most
// nodes, found with one all-gather per empty part.
//
// Memory per rank: the rows it was given, one 32-bit slot per non-zero, its ghosts' ids
// and parts, its rows' subscriber lists (as many entries as other ranks' ghost edges into
// them, at most its non-zeros), an index of the ghosts over the id range (to find a
// ghost's slot: a bit and a count per 64 ids, 0.25 bytes per node, core/sorted_ids.hpp)
// and O(parts + ranks): no array of N entries. Setup runs on the OpenMP threads.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mixgcn/comm/exchange.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/parallel_sort.hpp"
#include "mixgcn/core/sorted_ids.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/detail/fennel_rule.hpp"
#include "mixgcn/partition/row_ranges.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::partition::detail {

template <class Comm, class Index, class Value, class Offset>
std::vector<int> fennel_rows(const fennel_knobs& knobs, int rounds, Comm& comm,
                             const storage::csr<Index, Value, Offset>& rows, std::int64_t first, std::int64_t nodes,
                             int parts, std::span<const double> targets) {
    constexpr std::string_view who = "partition::fennel (distributed)";
    check_fennel_knobs(knobs);
    const int me = comm.rank(), P = comm.size();
    require(rounds >= 1, who, ": rounds must be at least 1, got ", rounds);
    require(parts >= 1 && std::int64_t(parts) <= nodes, who, " (rank ", me, "): ", parts, " parts for ", nodes,
            " nodes (1 <= parts <= nodes)");
    {  // every rank must run the same rounds, passes and parts, or the collectives below pair up wrongly
        std::vector<double> mine{double(rounds), -double(rounds), double(knobs.passes), -double(knobs.passes),
                                 double(parts), -double(parts)};
        comm.all_reduce(std::span<double>(mine), comm::reduce_op::max);
        require(mine[0] == -mine[1] && mine[2] == -mine[3] && mine[4] == -mine[5], who, " (rank ", me,
                "): the ranks disagree on rounds, passes or parts (this rank: ", rounds, ", ", knobs.passes, ", ", parts,
                ")");
    }
    const auto ranges = gather_row_ranges(comm, first, std::int64_t(rows.rows), nodes, who);
    const auto n = static_cast<std::size_t>(rows.rows);
    // What this rank finds wrong in its rows; every rank learns that some rank did (one
    // all-reduce below) and throws, so none waits in a later collective.
    std::string fault;
    if (rows.row_ptr.size() != n + 1 || std::size_t(rows.row_ptr.back()) != rows.col_idx.size())
        fault = mixgcn::detail::concat("the rows' CSR has ", rows.row_ptr.size(), " row pointers for ", n,
                                       " rows and ", rows.col_idx.size(), " columns");

    // Slots: this rank's rows are [0, n), its ghosts n + their index in the sorted ghost
    // ids; self loops get none (kNone).
    constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint64_t> ghosts;
    std::int64_t my_cost = 0, loops = 0;
    const std::int64_t last = first + std::int64_t(n);
    for (std::size_t i = 0; fault.empty() && i < n; ++i) {
        const std::int64_t self = first + std::int64_t(i);
        my_cost += row_cost(rows, Index(i));
        for (const Index col : rows.row_cols(Index(i))) {
            const auto c = std::int64_t(col);
            if (c < 0 || c >= nodes) {
                if (fault.empty())
                    fault = mixgcn::detail::concat("row ", self, " has column ", c, " outside [0, ", nodes, ")");
            } else if (c == self) {
                ++loops;
            } else if (c < first || c >= last) {
                ghosts.push_back(std::uint64_t(c));
            }
        }
    }
    mixgcn::detail::parallel_sort_unique(ghosts, std::uint64_t(nodes), 0);
    if (fault.empty() && n + ghosts.size() >= kNone)
        fault = mixgcn::detail::concat(n, " rows and ", ghosts.size(), " ghosts exceed 32-bit slots");
    // Totals, and how many ranks found a fault.
    std::vector<double> totals{double(my_cost), double(std::int64_t(rows.col_idx.size()) - loops),
                               fault.empty() ? 0.0 : 1.0};
    comm.all_reduce(std::span<double>(totals));
    require(fault.empty(), who, " (rank ", me, "): ", fault);
    require(totals[2] == 0, who, " (rank ", me, "): another rank holds malformed rows or a column outside [0, ", nodes,
            ") (its error names it)");
    const mixgcn::detail::sorted_id_index<std::uint64_t> ghost_index(ghosts, std::uint64_t(nodes));
    std::vector<std::uint32_t> slot(rows.col_idx.size());
#pragma omp parallel for schedule(dynamic, 1024)
    for (std::int64_t i = 0; i < std::int64_t(n); ++i)
        for (auto e = rows.row_begin(Index(i)); e < rows.row_end(Index(i)); ++e) {
            const auto c = std::int64_t(rows.col_idx[std::size_t(e)]);
            if (c == first + i) {
                slot[std::size_t(e)] = kNone;
            } else if (c >= first && c < last) {
                slot[std::size_t(e)] = std::uint32_t(c - first);
            } else {
                slot[std::size_t(e)] = std::uint32_t(n + ghost_index.find(std::uint64_t(c)));
            }
        }

    // Ghost requests: sorted ghosts are grouped by holder (the ranges are consecutive).
    // What comes back, per requesting rank, are this rank's rows it needs, ascending.
    const auto np = static_cast<std::size_t>(P);
    std::vector<std::size_t> ask(np, 0), ghost_begin(np + 1, 0);
    for (const auto g : ghosts) ++ask[static_cast<std::size_t>(ranges.holder(std::int64_t(g)))];
    for (std::size_t q = 0; q < np; ++q) ghost_begin[q + 1] = ghost_begin[q] + ask[q];
    std::vector<std::size_t> asked_counts;
    const auto asked = comm::exchange_grouped<std::uint64_t>(comm, ghosts, ask, &asked_counts);
    std::vector<std::uint32_t> subscribed(asked.size());
    std::vector<std::size_t> sub_begin(np + 1, 0);
    for (std::size_t q = 0; q < np; ++q) sub_begin[q + 1] = sub_begin[q] + asked_counts[q];
    for (std::size_t k = 0; k < asked.size(); ++k) {
        const auto row = std::int64_t(asked[k]);
        require(row >= first && row < last, who, " (rank ", me, "): asked for row ", row, " outside its rows [", first,
                ", ", last, ")");
        subscribed[k] = std::uint32_t(row - first);
    }

    const auto total_cost = std::int64_t(totals[0]);
    const fennel_rule rule(knobs, parts, targets, total_cost, totals[1] / 2, double(nodes));

    const auto nparts = static_cast<std::size_t>(parts);
    std::vector<int> part(n + ghosts.size(), -1);
    std::vector<std::int64_t> g_nodes(nparts, 0), g_cost(nparts, 0), d_nodes(nparts, 0), d_cost(nparts, 0);
    std::vector<double> penalty(nparts), quota(nparts), sums(2 * nparts + 1);
    for (std::size_t p = 0; p < nparts; ++p) penalty[p] = rule.penalty(0, p);
    neighbour_parts shared(parts);
    const auto cost_of = [&](std::size_t p) { return g_cost[p] + d_cost[p]; };
    // Round k's rows of rank q: the k-th of R equal blocks of its range (local indices).
    const auto block = [&](int q, int k) {
        const std::int64_t m = ranges.rows(q), b = (m + rounds - 1) / rounds;
        return std::pair{std::min(m, b * k), std::min(m, b * (k + 1))};
    };
    std::vector<std::int32_t> out, in;
    std::vector<std::size_t> out_counts(np), in_counts(np), sub_next(np), ghost_next(np);

    for (int pass = 0; pass < knobs.passes; ++pass) {
        std::int64_t rem_mine = my_cost, rem_all = total_cost;  // cost still to place in this pass
        std::copy(sub_begin.begin(), sub_begin.end() - 1, sub_next.begin());
        std::copy(ghost_begin.begin(), ghost_begin.end() - 1, ghost_next.begin());
        for (int k = 0; k < rounds; ++k) {
            const bool alone = rem_mine == rem_all;  // no other rank places anything this round
            const double share = rem_all > 0 ? double(rem_mine) / double(rem_all) : 1.0;
            for (std::size_t p = 0; p < nparts; ++p) quota[p] = (rule.limit[p] - double(g_cost[p])) * share;
            const auto [lo, hi] = block(me, k);
            for (auto i = std::size_t(lo); i < std::size_t(hi); ++i) {
                const std::int64_t rc = row_cost(rows, Index(i));
                if (int& own = part[i]; own >= 0) {  // restreaming: i competes afresh, without its own weight
                    const auto o = static_cast<std::size_t>(own);
                    --d_nodes[o];
                    d_cost[o] -= rc;
                    penalty[o] = rule.penalty(g_nodes[o] + d_nodes[o], o);
                }
                for (auto e = rows.row_begin(Index(i)); e < rows.row_end(Index(i)); ++e) {
                    const auto s = slot[std::size_t(e)];
                    if (s != kNone && part[s] >= 0) shared.add(part[s]);
                }
                const auto b = static_cast<std::size_t>(rule.choose(shared.count, penalty, cost_of, [&](std::size_t p) {
                    return alone ? double(g_cost[p] + d_cost[p] + rc) <= rule.limit[p]
                                 : double(d_cost[p] + rc) <= quota[p];
                }));
                shared.clear();
                part[i] = int(b);
                ++d_nodes[b];
                d_cost[b] += rc;
                penalty[b] = rule.penalty(g_nodes[b] + d_nodes[b], b);
                rem_mine -= rc;
            }

            // Send this round's choices to their subscribers; receive the ghosts' parts.
            out.clear();
            for (std::size_t q = 0; q < np; ++q) {
                const std::size_t from = sub_next[q];
                while (sub_next[q] < sub_begin[q + 1] && subscribed[sub_next[q]] < std::uint32_t(hi))
                    out.push_back(part[subscribed[sub_next[q]++]]);
                out_counts[q] = sub_next[q] - from;
                const std::int64_t end = ranges.first(int(q)) + block(int(q), k).second;
                const std::size_t g0 = ghost_next[q];
                while (ghost_next[q] < ghost_begin[q + 1] && std::int64_t(ghosts[ghost_next[q]]) < end) ++ghost_next[q];
                in_counts[q] = ghost_next[q] - g0;
            }
            std::size_t incoming = 0;
            for (const auto c : in_counts) incoming += c;
            in.resize(incoming);
            comm.all_to_all_v(std::span<const std::int32_t>(out), std::span<const std::size_t>(out_counts),
                              std::span<std::int32_t>(in), std::span<const std::size_t>(in_counts));
            for (std::size_t q = 0, at = 0; q < np; ++q)
                for (std::size_t g = ghost_next[q] - in_counts[q]; g < ghost_next[q]; ++g) part[n + g] = in[at++];

            // Fold every rank's changes into the global sizes and costs.
            for (std::size_t p = 0; p < nparts; ++p) {
                sums[p] = double(d_nodes[p]);
                sums[nparts + p] = double(d_cost[p]);
            }
            sums[2 * nparts] = double(rem_mine);
            comm.all_reduce(std::span<double>(sums));
            for (std::size_t p = 0; p < nparts; ++p) {
                g_nodes[p] += std::int64_t(sums[p]);
                g_cost[p] += std::int64_t(sums[nparts + p]);
                d_nodes[p] = d_cost[p] = 0;
                penalty[p] = rule.penalty(g_nodes[p], p);
            }
            rem_all = std::int64_t(sums[2 * nparts]);
        }
    }

    // Every part non-empty: an empty part takes the cheapest node (lowest id among equals)
    // of the part with most nodes, as fill_empty_parts does on one process.
    for (std::size_t e = 0; e < nparts; ++e) {
        if (g_nodes[e] > 0) continue;
        std::size_t donor = 0;
        for (std::size_t p = 1; p < nparts; ++p)
            if (g_nodes[p] > g_nodes[donor]) donor = p;
        std::vector<std::int64_t> mine{std::numeric_limits<std::int64_t>::max(), 0}, all(2 * np);
        for (std::size_t i = 0; i < n; ++i)
            if (part[i] == int(donor) && row_cost(rows, Index(i)) < mine[0]) mine = {row_cost(rows, Index(i)), first + std::int64_t(i)};
        comm.all_gather(std::span<const std::int64_t>(mine), std::span<std::int64_t>(all));
        std::size_t pick = 0;
        for (std::size_t q = 1; q < np; ++q)
            if (all[2 * q] < all[2 * pick]) pick = q;  // ties: the lower rank holds the lower id
        if (pick == std::size_t(me)) part[std::size_t(mine[1] - first)] = int(e);
        --g_nodes[donor];
        ++g_nodes[e];
    }
    return {part.begin(), part.begin() + std::ptrdiff_t(n)};
}

}  // namespace mixgcn::partition::detail
