#pragma once
// mixgcn-train's check that a run fits before it allocates (docs/scaling.md): the
// planner's per-rank prediction for the chosen strategy against --memory-limit, or else
// this host's available memory shared by the ranks on it (or, with --backend cuda, the
// GPU's free memory). A run that cannot fit stops with the figures and what would fit,
// instead of std::bad_alloc or the OOM killer mid-epoch.
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mixgcn/parallel/plan.hpp"
#include "mixgcn/train/memory.hpp"

namespace mixgcn::train_tool {

// Ranks of the job on this host (1 for one process): a hash of the host name gathered
// from every rank.
template <class Comm>
int ranks_on_this_host(Comm& comm) {
    if (comm.size() == 1) return 1;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    const std::uint64_t mine = std::hash<std::string>{}(host);
    std::vector<std::uint64_t> all(static_cast<std::size_t>(comm.size()));
    comm.all_gather(std::span<const std::uint64_t>(&mine, 1), std::span<std::uint64_t>(all));
    int n = 0;
    for (const auto h : all) n += h == mine;
    return n;
}

// Throws memory_error when `strategy` on the problem's rank count needs more than the
// limit. `detected`/`source`: the default limit and where it comes from (0: unknown,
// then only --memory-limit checks). `borrowed`: bytes of the prediction already held.
inline void check_memory(const cli::args& a, const parallel::plan::problem& p, const std::string& strategy,
                         double detected, const std::string& source, double borrowed = 0) {
    const std::string flag = a.get("memory-limit", "");
    if (flag == "off") return;
    const bool given = !flag.empty();
    double limit = detected;
    if (given) {
        try {
            limit = double(parallel::plan::parse_bytes(flag, "flag --memory-limit"));
        } catch (const invalid_argument& e) {
            throw cli::usage_error(e.what());
        }
    }
    if (limit <= 0) return;
    parallel::plan::require_fits(p, strategy, limit, given ? "--memory-limit" : source, borrowed);
}

// This host's available memory for one of its `local_ranks` ranks, and its description.
inline std::pair<double, std::string> host_share(int local_ranks) {
    const double avail = double(train::available_memory_bytes());
    std::string what = "available memory of this host";
    if (local_ranks > 1) what += " shared by its " + std::to_string(local_ranks) + " ranks";
    return {avail / double(local_ranks), what + "; --memory-limit SIZE or off overrides"};
}

// check_memory against this host's share (a collective: every rank gathers host names).
template <class Comm>
void check_host_memory(const cli::args& a, Comm& comm, const parallel::plan::problem& p, const std::string& strategy,
                       double borrowed = 0) {
    const auto [limit, source] = host_share(ranks_on_this_host(comm));
    check_memory(a, p, strategy, limit, source, borrowed);
}

}  // namespace mixgcn::train_tool
