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
#include <utility>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/ordering.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/concept.hpp"

namespace mixgcn::partition {

struct fennel {
    std::uint64_t seed = 0;  // used only with shuffle
    double gamma = 1.5;      // size-penalty exponent (> 1)
    double alpha = 0;        // 0: sqrt(P)·m/n^1.5 as in the paper (m undirected edges)
    double capacity = 1.1;   // max part row cost = capacity·W/P
    int passes = 1;          // restreaming: later passes see earlier assignments
    bool shuffle = false;    // stream in a seeded random order instead of id order

    static constexpr std::string_view name() noexcept { return "fennel"; }

    template <class Index, class Value, class Offset>
    std::vector<int> partition(const storage::csr<Index, Value, Offset>& adjacency, int parts,
                               std::span<const double> targets = {}) const {
        check_parts(adjacency, parts, "partition::fennel");
        const bool weighted = !targets.empty();
        const auto shares = target_shares(targets, parts, "partition::fennel");
        require(capacity >= 1 && std::isfinite(capacity), "partition::fennel: capacity must be finite and at least 1, got ",
                capacity);
        require(gamma > 1 && std::isfinite(gamma), "partition::fennel: gamma must be finite and greater than 1, got ",
                gamma);
        require(alpha >= 0 && std::isfinite(alpha), "partition::fennel: alpha must be finite and at least 0, got ",
                alpha);
        require(passes >= 1, "partition::fennel: passes must be at least 1, got ", passes);

        const Index n = adjacency.rows;
        const auto np = static_cast<std::size_t>(parts);
        std::vector<int> owner(static_cast<std::size_t>(n), -1);

        std::int64_t total_cost = 0, loops = 0;
        for (Index r = 0; r < n; ++r) {
            total_cost += row_cost(adjacency, r);
            for (Index c : adjacency.row_cols(r)) loops += c == r;
        }
        const double edges = static_cast<double>(static_cast<std::int64_t>(adjacency.nnz()) - loops) / 2;
        const double nd = static_cast<double>(n);
        const double a = alpha > 0 ? alpha : std::sqrt(static_cast<double>(parts)) * edges / std::pow(nd, 1.5);
        // Per part: the cost limit and the scale of its size in the penalty (1 unweighted).
        std::vector<double> limit(np), size_scale(np, 1.0);
        for (std::size_t p = 0; p < np; ++p) {
            limit[p] = weighted ? capacity * static_cast<double>(total_cost) * shares[p]
                                : capacity * static_cast<double>(total_cost) / parts;
            if (weighted) size_scale[p] = 1.0 / (shares[p] * parts);
        }

        std::vector<std::int64_t> nodes(np, 0), cost(np, 0), shared(np, 0);
        // Each part's size penalty a·γ·|S_p|^(γ-1), recomputed only when its size changes
        // (one pow per placement instead of one per part per node).
        const auto penalty_of = [&](std::int64_t size, std::size_t p) {
            return a * gamma * std::pow(static_cast<double>(size) * size_scale[p], gamma - 1);
        };
        std::vector<double> penalty(np);
        for (std::size_t p = 0; p < np; ++p) penalty[p] = penalty_of(0, p);
        // "Least loaded": lowest cost, relative to the target share when there is one.
        const auto lighter = [&](std::size_t p, std::size_t q) {
            return weighted ? static_cast<double>(cost[p]) * shares[q] < static_cast<double>(cost[q]) * shares[p]
                            : cost[p] < cost[q];
        };
        std::vector<int> touched;  // parts with shared > 0, so the reset is O(touched), not O(P)
        touched.reserve(np);

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
                    penalty[o] = penalty_of(--nodes[o], o);
                    cost[o] -= rc;
                }
                for (Index c : adjacency.row_cols(v)) {
                    const int oc = owner[static_cast<std::size_t>(c)];
                    if (c == v || oc < 0) continue;
                    if (shared[static_cast<std::size_t>(oc)]++ == 0) touched.push_back(oc);
                }
                int best = -1, least = 0;
                double best_score = 0;
                for (std::size_t p = 0; p < np; ++p) {
                    if (lighter(p, static_cast<std::size_t>(least))) least = static_cast<int>(p);
                    if (static_cast<double>(cost[p] + rc) > limit[p]) continue;
                    const double score = static_cast<double>(shared[p]) - penalty[p];
                    // Strictly better score, or equal score and lower load; index order
                    // breaks the remaining ties.
                    if (best < 0 || score > best_score ||
                        (score == best_score && lighter(p, static_cast<std::size_t>(best)))) {
                        best = static_cast<int>(p);
                        best_score = score;
                    }
                }
                if (best < 0) best = least;
                own = best;
                penalty[static_cast<std::size_t>(best)] =
                    penalty_of(++nodes[static_cast<std::size_t>(best)], static_cast<std::size_t>(best));
                cost[static_cast<std::size_t>(best)] += rc;
                for (int p : touched) shared[static_cast<std::size_t>(p)] = 0;
                touched.clear();
            }
        }

        fill_empty_parts(adjacency, owner, parts);  // possible when the penalty is weak or P is close to N
        return owner;
    }
};
static_assert(weighted_partitioner<fennel>, "partition::fennel must satisfy the partitioner concept.");

}  // namespace mixgcn::partition
