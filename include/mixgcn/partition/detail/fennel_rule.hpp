#pragma once
// Fennel's placement rule, shared by the whole-graph stream (partition/fennel.hpp) and the
// distributed one (partition/detail/fennel_rows.hpp): the score of part p for node v is
//     |N(v) ∩ P_p| − alpha·gamma·(|P_p|·s_p)^(gamma−1)
// among the parts where v fits, else the least loaded part. Only how "fits" and the part
// sizes are known differs between the two forms, so they pass those in.
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/partition/common.hpp"

namespace mixgcn::partition::detail {

struct fennel_knobs {
    double gamma, alpha, capacity;
    int passes;
};

inline void check_fennel_knobs(const fennel_knobs& k) {
    require(k.capacity >= 1 && std::isfinite(k.capacity),
            "partition::fennel: capacity must be finite and at least 1, got ", k.capacity);
    require(k.gamma > 1 && std::isfinite(k.gamma), "partition::fennel: gamma must be finite and greater than 1, got ",
            k.gamma);
    require(k.alpha >= 0 && std::isfinite(k.alpha), "partition::fennel: alpha must be finite and at least 0, got ",
            k.alpha);
    require(k.passes >= 1, "partition::fennel: passes must be at least 1, got ", k.passes);
}

struct fennel_rule {
    double a = 0, gamma = 1.5;
    bool weighted = false;
    std::vector<double> limit, size_scale, shares;  // per part: cost limit, size scale, target share

    // total_cost: the graph's row cost; edges: undirected edges without loops.
    fennel_rule(const fennel_knobs& k, int parts, std::span<const double> targets, std::int64_t total_cost,
                double edges, double nodes)
        : gamma(k.gamma), weighted(!targets.empty()) {
        shares = target_shares(targets, parts, "partition::fennel");
        a = k.alpha > 0 ? k.alpha : std::sqrt(static_cast<double>(parts)) * edges / std::pow(nodes, 1.5);
        const auto np = static_cast<std::size_t>(parts);
        limit.resize(np);
        size_scale.assign(np, 1.0);
        for (std::size_t p = 0; p < np; ++p) {
            limit[p] = weighted ? k.capacity * static_cast<double>(total_cost) * shares[p]
                                : k.capacity * static_cast<double>(total_cost) / parts;
            if (weighted) size_scale[p] = 1.0 / (shares[p] * parts);
        }
    }

    // a·γ·|S_p|^(γ−1): callers keep one per part and recompute it when the size changes.
    double penalty(std::int64_t size, std::size_t p) const {
        return a * gamma * std::pow(static_cast<double>(size) * size_scale[p], gamma - 1);
    }
    // "Less loaded": lower cost, relative to the target share when there is one.
    bool lighter(std::int64_t cost_p, std::size_t p, std::int64_t cost_q, std::size_t q) const {
        return weighted ? static_cast<double>(cost_p) * shares[q] < static_cast<double>(cost_q) * shares[p]
                        : cost_p < cost_q;
    }

    // The part for a node: the best score among the parts where it fits (strictly better,
    // or equal and less loaded; index order breaks the remaining ties), else the least
    // loaded part. cost(p): the part's current row cost; fits(p): whether the node may go.
    template <class Cost, class Fits>
    int choose(std::span<const std::int64_t> shared, std::span<const double> penalties, Cost&& cost, Fits&& fits) const {
        int best = -1, least = 0;
        double best_score = 0;
        for (std::size_t p = 0; p < shared.size(); ++p) {
            const auto l = static_cast<std::size_t>(least);
            if (lighter(cost(p), p, cost(l), l)) least = static_cast<int>(p);
            if (!fits(p)) continue;
            const double score = static_cast<double>(shared[p]) - penalties[p];
            const auto b = static_cast<std::size_t>(best);
            if (best < 0 || score > best_score || (score == best_score && lighter(cost(p), p, cost(b), b))) {
                best = static_cast<int>(p);
                best_score = score;
            }
        }
        return best < 0 ? least : best;
    }
};

// How many of a node's neighbours each part holds, reset in O(parts touched).
struct neighbour_parts {
    std::vector<std::int64_t> count;
    std::vector<int> touched;
    explicit neighbour_parts(int parts) : count(static_cast<std::size_t>(parts), 0) {
        touched.reserve(count.size());
    }
    void add(int part) {
        if (count[static_cast<std::size_t>(part)]++ == 0) touched.push_back(part);
    }
    void clear() {
        for (const int p : touched) count[static_cast<std::size_t>(p)] = 0;
        touched.clear();
    }
};

}  // namespace mixgcn::partition::detail
