#pragma once
// What the load balancer (parallel/balance.hpp) decides from and what it records: its
// options, the imbalance measure, target shares from measured speed, and the per-epoch
// and per-rebalance record the tools write to their JSON. No strategy or communicator
// here, so the tools' shared code (and the CUDA build) can name it alone.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "mixgcn/core/error.hpp"

namespace mixgcn::parallel {

struct balance_options {
    double threshold = 1.10;  // rebalance when max/mean busy seconds exceeds this (> 1)
    int warmup = 1;           // epochs not measured at the start and after each rebalance
    int patience = 2;         // consecutive measured epochs over the threshold before a re-cut
                              // (each rank's least busy time among them gives its speed:
                              // one noisy epoch neither triggers nor steers a re-cut)
    int max_rebalances = 10;  // at most this many re-cuts per run
    int slow_rank = -1;       // emulation (tests, bench): this rank is slow_factor times slower
    double slow_factor = 1;
};

// One epoch as the balancer saw it.
struct balance_epoch {
    int epoch = 0;
    bool measured = false;      // false in warm-up epochs (busy still recorded)
    std::vector<double> busy;   // seconds per rank
    double ratio = 1;           // max/mean of busy
};

struct rebalance_event {
    int epoch = 0;                    // after which epoch
    double ratio_before = 1;          // max/mean of the busy times the speeds came from
    std::vector<double> shares;       // target shares of the row cost, per rank
    std::vector<std::uint64_t> rows;  // rows per rank after
    std::uint64_t rows_moved = 0;     // nodes whose owner changed
    double seconds = 0;               // the whole rebalance (re-cut, moving rows, rebuild)
};

struct balance_report {
    std::vector<balance_epoch> epochs;
    std::vector<rebalance_event> rebalances;
    std::vector<std::uint64_t> initial_rows;  // rows per rank before the first epoch
};

// max/mean of the ranks' busy seconds (1 when nothing was measured).
inline double imbalance(std::span<const double> busy) {
    if (busy.empty()) return 1;
    const double total = std::accumulate(busy.begin(), busy.end(), 0.0);
    const double most = *std::max_element(busy.begin(), busy.end());
    return total > 0 ? most * double(busy.size()) / total : 1.0;
}

// Target shares of the row cost from each rank's work and busy seconds: proportional to
// speed = work / busy. A rank with no work or no measurable time keeps the mean speed.
inline std::vector<double> shares_from_speed(std::span<const double> work, std::span<const double> busy) {
    require(work.size() == busy.size() && !work.empty(), "balance: ", work.size(), " work figures for ", busy.size(),
            " busy times");
    std::vector<double> speed(work.size(), 0.0);
    double known = 0;
    std::size_t counted = 0;
    for (std::size_t r = 0; r < work.size(); ++r)
        if (work[r] > 0 && busy[r] > 0) {
            speed[r] = work[r] / busy[r];
            known += speed[r];
            ++counted;
        }
    const double fallback = counted ? known / double(counted) : 1.0;
    double total = 0;
    for (auto& s : speed) {
        if (s <= 0) s = fallback;
        total += s;
    }
    for (auto& s : speed) s /= total;
    return speed;
}

// `target` shares moved towards, but each rank's share at most `factor` times larger or
// smaller than its `current` one (both any positive scale; the result sums to 1). A rank's
// epoch has fixed costs (kernel launches, synchronisation) that do not shrink with its
// rows, so a small part looks slow and would shrink again at every re-cut; bounding the
// step keeps an over-estimate from collapsing a rank to a handful of rows in one go.
inline std::vector<double> damped_shares(std::span<const double> current, std::span<const double> target,
                                         double factor = 2.0) {
    require(current.size() == target.size() && !current.empty(), "balance: ", current.size(), " current shares for ",
            target.size(), " targets");
    require(factor >= 1, "balance: damping factor ", factor, " below 1");
    double c_total = 0, t_total = 0;
    for (std::size_t r = 0; r < current.size(); ++r) {
        c_total += current[r];
        t_total += target[r];
    }
    require(c_total > 0 && t_total > 0, "balance: shares add up to 0");
    std::vector<double> out(current.size());
    double total = 0;
    for (std::size_t r = 0; r < current.size(); ++r) {
        const double c = current[r] / c_total, t = target[r] / t_total;
        out[r] = c > 0 ? std::clamp(t, c / factor, c * factor) : t;
        total += out[r];
    }
    for (auto& s : out) s /= total;
    return out;
}

}  // namespace mixgcn::parallel
