#pragma once
// Fennel streaming partitioning (Tsourakakis, Gkantsidis, Radunovic & Vojnovic, WSDM 2014):
// one look at each node, in stream order, placing it in the part i that maximises
//     |N(v) ∩ P_i| − alpha·gamma·|P_i|^(gamma−1)        (|P_i| = nodes in part i)
// among the parts whose row cost stays ≤ capacity·W/P after taking v; if none fits, the
// part of least row cost. Ties: lower row cost, then lower index (deterministic).
//
// Assumes a symmetric adjacency (what graph::build_adjacency gives by default), so row v's
// columns are all of v's neighbours; self loops are skipped. On a directed adjacency only
// out-neighbours are seen.
//
// Restreaming (Nishimura & Ugander, KDD 2013): with passes > 1 every later pass takes each
// node out of its part and places it again, now seeing all other nodes' assignments.
//
// Memory: the owner vector (the result, the only O(N) array; unassigned nodes hold −1
// during the first pass) plus O(P) per-part counts. shuffle = true adds the O(N) stream
// order. Balance: a part's row cost stays ≤ capacity·W/P + one row cost (the least loaded
// part is below W/P when a node fits nowhere). Every part is made non-empty at the end.
//
// Target shares t (the load balancer's re-cut): part p's capacity is capacity·W·t_p, its
// size penalty is taken at |P_p|/(t_p·P), and "least loaded" compares cost/t_p; equal
// shares give the plain algorithm exactly.
#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/ordering.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/concept.hpp"
#include "mixgcn/partition/detail/fennel_rows.hpp"
#include "mixgcn/partition/detail/fennel_rule.hpp"

namespace mixgcn::partition {

struct fennel {
    std::uint64_t seed = 0;  // used only with shuffle
    double gamma = 1.5;      // size-penalty exponent (> 1)
    double alpha = 0;        // 0: sqrt(P)·m/n^1.5 as in the paper (m undirected edges)
    double capacity = 1.1;   // max part row cost = capacity·W/P
    int passes = 1;          // restreaming: later passes see earlier assignments
    bool shuffle = false;    // stream in a seeded random order instead of id order
    int rounds = 256;        // partition_rows: synchronisations per pass (more: fresher, more messages)

    static constexpr std::string_view name() noexcept { return "fennel"; }

    template <class Index, class Value, class Offset>
    std::vector<int> partition(const storage::csr<Index, Value, Offset>& adjacency, int parts,
                               std::span<const double> targets = {}) const {
        check_parts(adjacency, parts, "partition::fennel");
        detail::check_fennel_knobs(knobs());

        const Index n = adjacency.rows;
        const auto np = static_cast<std::size_t>(parts);
        std::vector<int> owner(static_cast<std::size_t>(n), -1);

        std::int64_t total_cost = 0, loops = 0;
        for (Index r = 0; r < n; ++r) {
            total_cost += row_cost(adjacency, r);
            for (Index c : adjacency.row_cols(r)) loops += c == r;
        }
        const double edges = static_cast<double>(static_cast<std::int64_t>(adjacency.nnz()) - loops) / 2;
        const detail::fennel_rule rule(knobs(), parts, targets, total_cost, edges, static_cast<double>(n));

        std::vector<std::int64_t> nodes(np, 0), cost(np, 0);
        std::vector<double> penalty(np);  // rule.penalty of each part's size, kept current
        for (std::size_t p = 0; p < np; ++p) penalty[p] = rule.penalty(0, p);
        detail::neighbour_parts shared(parts);
        const auto cost_of = [&](std::size_t p) { return cost[p]; };

        std::vector<Index> order;
        if (shuffle) {
            rng g(seed);
            order = graph::random_order<Index>(static_cast<std::size_t>(n), g);
        }

        for (int pass = 0; pass < passes; ++pass) {
            for (Index k = 0; k < n; ++k) {
                const Index v = shuffle ? order[static_cast<std::size_t>(k)] : k;
                const std::int64_t rc = row_cost(adjacency, v);
                int& own = owner[static_cast<std::size_t>(v)];
                if (own >= 0) {  // restreaming: v competes afresh, without its own weight
                    const auto o = static_cast<std::size_t>(own);
                    penalty[o] = rule.penalty(--nodes[o], o);
                    cost[o] -= rc;
                }
                for (Index c : adjacency.row_cols(v)) {
                    const int oc = owner[static_cast<std::size_t>(c)];
                    if (c != v && oc >= 0) shared.add(oc);
                }
                const int best = rule.choose(shared.count, penalty, cost_of, [&](std::size_t p) {
                    return static_cast<double>(cost[p] + rc) <= rule.limit[p];
                });
                own = best;
                const auto b = static_cast<std::size_t>(best);
                penalty[b] = rule.penalty(++nodes[b], b);
                cost[b] += rc;
                shared.clear();
            }
        }

        fill_empty_parts(adjacency, owner, parts);  // possible when the penalty is weak or P is close to N
        return owner;
    }

    // Distributed streaming: this rank's rows [first_row, first_row + rows.rows) of a
    // `nodes`-node graph (global column ids; the ranks' ranges consecutive in rank order,
    // as a partitioned load's); collective over `comm`. Returns the part of each row.
    // The ranks stream their rows at once, in `rounds` synchronised rounds per pass (see
    // partition/detail/fennel_rows.hpp); memory O(rows + their non-zeros + parts) per rank.
    // On one rank it gives partition()'s answer (id order, shuffle is not used).
    template <class Comm, class Index, class Value, class Offset>
    std::vector<int> partition_rows(Comm& comm, const storage::csr<Index, Value, Offset>& rows, std::int64_t first_row,
                                    std::int64_t nodes, int parts, std::span<const double> targets = {}) const {
        return detail::fennel_rows(knobs(), rounds, comm, rows, first_row, nodes, parts, targets);
    }

private:
    detail::fennel_knobs knobs() const noexcept { return {gamma, alpha, capacity, passes}; }
};
static_assert(weighted_partitioner<fennel>, "partition::fennel must satisfy the partitioner concept.");

}  // namespace mixgcn::partition
