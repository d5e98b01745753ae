#pragma once
// METIS (Karypis & Kumar) multilevel k-way partitioning through Debian's libmetis, the
// reference the other partitioners are measured against. METIS sees the undirected,
// loop-free graph; vertex weights are row costs (non-zeros + 1) unless disabled, so the
// balance it enforces is the work balance. Balance: METIS keeps each part's weight under
// (1 + ufactor/1000) · W/P where it can; it does not guarantee it on small or very skewed
// graphs (see docs/partitioning.md for measured values). Target shares go to METIS as
// its target part weights (tpwgts). Every part is made non-empty (METIS does not promise it).
//
// Built without METIS (MIXGCN_HAS_METIS undefined), the type still exists so that code
// naming it compiles, and partition() throws mixgcn::error saying how to enable it.
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/concept.hpp"
#include "mixgcn/partition/detail/undirected.hpp"

#ifdef MIXGCN_HAS_METIS
#include <metis.h>
#endif

namespace mixgcn::partition {

struct metis {
    enum class scheme { automatic, kway, recursive };

    std::uint64_t seed = 0;
    int ufactor = 30;                  // allowed imbalance in thousandths (METIS default 30 = 3 %)
    bool weight_by_cost = true;        // vertex weights = row cost; false = node count
    scheme method = scheme::automatic; // automatic: both for P <= 8 (keep the smaller cut), else k-way

    static constexpr std::string_view name() noexcept { return "metis"; }

    static constexpr bool available() noexcept {
#ifdef MIXGCN_HAS_METIS
        return true;
#else
        return false;
#endif
    }

    template <class Index, class Value, class Offset>
    std::vector<int> partition(const storage::csr<Index, Value, Offset>& adjacency, int parts,
                               std::span<const double> targets = {}) const {
        check_parts(adjacency, parts, "partition::metis");
        const auto shares = targets.empty() ? std::vector<double>{} : target_shares(targets, parts, "partition::metis");
#ifndef MIXGCN_HAS_METIS
        (void)shares;
        throw error("partition::metis: mixgcn was built without METIS (install libmetis-dev and configure with "
                    "-DMIXGCN_WITH_METIS=ON)");
#else
        require(ufactor >= 1, "partition::metis: ufactor must be at least 1, got ", ufactor);
        std::vector<int> owner(static_cast<std::size_t>(adjacency.rows), 0);
        if (parts == 1) return owner;
        const auto g = detail::symmetrize(adjacency);
        constexpr auto idx_max = std::numeric_limits<idx_t>::max();
        require(static_cast<std::uint64_t>(g.adj.size()) <= static_cast<std::uint64_t>(idx_max),
                "partition::metis: ", g.adj.size(), " undirected non-zeros exceed METIS's idx_t (", sizeof(idx_t) * 8,
                "-bit); rebuild METIS with IDXTYPEWIDTH=64, or use partition::ptscotch (--partition ptscotch, "
                "PT-Scotch's 64-bit build, distributed over the ranks' rows with --load partitioned) or "
                "partition::fennel (--partition fennel), which streams the graph in O(N) memory");
        std::int64_t total_weight = 0;
        for (auto w : g.weight) total_weight += w;
        require(static_cast<std::uint64_t>(total_weight) <= static_cast<std::uint64_t>(idx_max),
                "partition::metis: total vertex weight ", total_weight, " exceeds METIS's idx_t");
        idx_t nv = static_cast<idx_t>(g.size()), ncon = 1, np = static_cast<idx_t>(parts);
        std::vector<idx_t> xadj(g.ptr.begin(), g.ptr.end()), adjncy(g.adj.begin(), g.adj.end());
        std::vector<idx_t> vwgt(g.weight.begin(), g.weight.end());
        std::vector<real_t> tpwgts(shares.begin(), shares.end());
        real_t* tp = tpwgts.empty() ? nullptr : tpwgts.data();
        idx_t options[METIS_NOPTIONS];
        METIS_SetDefaultOptions(options);
        options[METIS_OPTION_NUMBERING] = 0;
        options[METIS_OPTION_UFACTOR] = static_cast<idx_t>(ufactor);
        // METIS seeds its own generator with an idx_t; fold the 64-bit seed into range.
        options[METIS_OPTION_SEED] = static_cast<idx_t>((seed ^ (seed >> 32)) & 0x3FFFFFFFu);
        auto run = [&](bool kway, std::vector<idx_t>& part) {
            idx_t cut = 0;
            part.assign(static_cast<std::size_t>(nv), 0);
            idx_t* w = weight_by_cost ? vwgt.data() : nullptr;
            const int rc = kway ? METIS_PartGraphKway(&nv, &ncon, xadj.data(), adjncy.data(), w, nullptr, nullptr, &np,
                                                      tp, nullptr, options, &cut, part.data())
                                : METIS_PartGraphRecursive(&nv, &ncon, xadj.data(), adjncy.data(), w, nullptr, nullptr,
                                                           &np, tp, nullptr, options, &cut, part.data());
            if (rc != METIS_OK)
                throw error(mixgcn::detail::concat("partition::metis: METIS_PartGraph", kway ? "Kway" : "Recursive",
                                                   " failed with status ", rc, " (",
                                                   rc == METIS_ERROR_MEMORY ? "out of memory" :
                                                   rc == METIS_ERROR_INPUT ? "input error" : "error",
                                                   ") for ", nv, " nodes and ", parts, " parts"));
            return cut;
        };
        std::vector<idx_t> part, other;
        const bool try_kway = method != scheme::recursive;
        const bool try_recursive = method == scheme::recursive || (method == scheme::automatic && parts <= 8);
        idx_t best = try_kway ? run(true, part) : run(false, part);
        if (try_kway && try_recursive) {
            const idx_t cut = run(false, other);
            if (cut < best) part.swap(other);
        }
        for (std::size_t i = 0; i < owner.size(); ++i) owner[i] = static_cast<int>(part[i]);
        fill_empty_parts(adjacency, owner, parts);  // METIS may leave a part empty (small shares)
        return owner;
#endif
    }
};
static_assert(weighted_partitioner<metis>, "partition::metis must satisfy the partitioner concept.");

}  // namespace mixgcn::partition
