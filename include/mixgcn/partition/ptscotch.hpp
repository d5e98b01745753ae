#pragma once
// PT-Scotch (Pellegrini et al.) distributed multilevel partitioning through Debian's
// libptscotch (the 64-bit build, /usr/include/scotch-int64: SCOTCH_Num is int64_t, so
// graphs past METIS's 32-bit idx_t are taken). Two entry points:
//
//  * partition_rows(comm, rows, first_row, nodes, parts): distributed. Each MPI rank
//    passes its rows of the graph, a contiguous range [first_row, first_row + rows.rows)
//    following the previous rank's (the ranges of a partitioned load), with global column
//    ids; no rank holds more than its rows. Returns the part of each of its rows.
//  * partition(adjacency, parts): the partitioner concept, the whole graph in one process
//    (PT-Scotch on MPI_COMM_SELF), comparable with METIS.
//
// PT-Scotch sees the undirected, loop-free graph (each rank's rows without self-loops and
// repeats; the rows must hold both directions of every edge, as an undirected adjacency
// does); vertex weights are row costs (non-zeros + 1) unless disabled, so the balance it
// keeps, within `imbalance`, is the work balance. Target shares go to PT-Scotch as a
// weighted complete-graph architecture (SCOTCH_archCmpltw). The whole-graph form makes
// every part non-empty as the other partitioners do. Debian's build draws its random
// choices differently from run to run (measured: Cora P=4 cuts of 322-357), so callers
// that need one answer on every rank compute it once and share it, as the tools do.
//
// Built without PT-Scotch (MIXGCN_HAS_PTSCOTCH undefined) the type exists and its calls
// throw mixgcn::error saying how to enable it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/concept.hpp"
#include "mixgcn/partition/row_ranges.hpp"

#ifdef MIXGCN_HAS_PTSCOTCH
#include <mpi.h>
#include <ptscotch.h>

#include "mixgcn/comm/mpi.hpp"
#endif

namespace mixgcn::partition {

struct ptscotch {
    double imbalance = 0.03;     // allowed load imbalance ratio (PT-Scotch's balrat)
    bool weight_by_cost = true;  // vertex weights = row cost; false = node count

    static constexpr std::string_view name() noexcept { return "ptscotch"; }
    static constexpr bool available() noexcept {
#ifdef MIXGCN_HAS_PTSCOTCH
        return true;
#else
        return false;
#endif
    }

    // The whole graph in this process.
    template <class Index, class Value, class Offset>
    std::vector<int> partition(const storage::csr<Index, Value, Offset>& adjacency, int parts,
                               std::span<const double> targets = {}) const {
        check_parts(adjacency, parts, "partition::ptscotch");
        const auto shares = targets.empty() ? std::vector<double>{} : target_shares(targets, parts, "partition::ptscotch");
#ifndef MIXGCN_HAS_PTSCOTCH
        (void)shares;
        throw unavailable();
#else
        std::vector<int> owner(static_cast<std::size_t>(adjacency.rows), 0);
        if (parts == 1) return owner;
        static comm::mpi::environment mpi_for_scotch;  // MPI_COMM_SELF needs MPI started (a singleton here)
        (void)mpi_for_scotch;
        owner = run(MPI_COMM_SELF, adjacency, 0, std::int64_t(adjacency.rows), parts, shares);
        fill_empty_parts(adjacency, owner, parts);
        return owner;
#endif
    }

#ifdef MIXGCN_HAS_PTSCOTCH
    // Distributed: this rank's rows [first_row, first_row + rows.rows) of an `nodes`-node
    // graph (columns are global ids); collective over `comm`. Returns the part of each row.
    template <class Index, class Value, class Offset>
    std::vector<int> partition_rows(comm::mpi& comm, const storage::csr<Index, Value, Offset>& rows,
                                    std::int64_t first_row, std::int64_t nodes, int parts,
                                    std::span<const double> targets = {}) const {
        require(parts >= 1, "partition::ptscotch (rank ", comm.rank(), "): ", parts, " parts");
        // The ranges must tile [0, nodes) in rank order: PT-Scotch numbers rank r's vertices
        // after rank r-1's.
        (void)gather_row_ranges(comm, first_row, std::int64_t(rows.rows), nodes, "partition::ptscotch");
        const auto shares = targets.empty() ? std::vector<double>{} : target_shares(targets, parts, "partition::ptscotch");
        // PT-Scotch starts one thread per core in every process; with several ranks per
        // node they oversubscribe the cores and spin (measured: 22.6 s against 2.3 s on
        // 2 ranks, 2 cores). One thread per rank unless the user set SCOTCH_PTHREAD_NUMBER.
        if (comm.size() > 1) ::setenv("SCOTCH_PTHREAD_NUMBER", "1", 0);
        return run(comm.native(), rows, first_row, nodes, parts, shares);
    }
#endif

private:
    static error unavailable() {
        return error("partition::ptscotch: mixgcn was built without PT-Scotch (install libptscotch-dev and configure "
                     "with -DMIXGCN_WITH_PTSCOTCH=ON; it needs MPI)");
    }

#ifdef MIXGCN_HAS_PTSCOTCH
    struct dgraph {
        SCOTCH_Dgraph g;
        explicit dgraph(MPI_Comm c) { check(SCOTCH_dgraphInit(&g, c), "SCOTCH_dgraphInit"); }
        ~dgraph() { SCOTCH_dgraphExit(&g); }
        dgraph(const dgraph&) = delete;
        dgraph& operator=(const dgraph&) = delete;
    };
    struct strategy {
        SCOTCH_Strat s;
        strategy() { check(SCOTCH_stratInit(&s), "SCOTCH_stratInit"); }
        ~strategy() { SCOTCH_stratExit(&s); }
        strategy(const strategy&) = delete;
        strategy& operator=(const strategy&) = delete;
    };
    struct architecture {
        SCOTCH_Arch a;
        architecture() { check(SCOTCH_archInit(&a), "SCOTCH_archInit"); }
        ~architecture() { SCOTCH_archExit(&a); }
        architecture(const architecture&) = delete;
        architecture& operator=(const architecture&) = delete;
    };
    static void check(int rc, const char* what) {
        if (rc != 0)
            throw error(mixgcn::detail::concat("partition::ptscotch: ", what, " failed (status ", rc,
                                               "; PT-Scotch printed why on stderr)"));
    }

    // Rows [first, first + rows.rows) of the graph on the ranks of `c`.
    template <class Index, class Value, class Offset>
    std::vector<int> run(MPI_Comm c, const storage::csr<Index, Value, Offset>& rows, std::int64_t first,
                         std::int64_t nodes, int parts, const std::vector<double>& shares) const {
        require(imbalance > 0 && imbalance < 1, "partition::ptscotch: imbalance ", imbalance, " outside (0, 1)");
        int procs = 1;
        MPI_Comm_size(c, &procs);
        const auto n = static_cast<std::size_t>(rows.rows);
        require(rows.row_ptr.size() == n + 1 && std::size_t(rows.row_ptr.back()) == rows.col_idx.size(),
                "partition::ptscotch: the rows' CSR has ", rows.row_ptr.size(), " row pointers for ", n, " rows and ends at ",
                rows.row_ptr.empty() ? 0 : std::size_t(rows.row_ptr.back()), " of ", rows.col_idx.size(), " columns");
        std::vector<SCOTCH_Num> vert(n + 1, 0), weight(n, 1), edge;
        edge.reserve(static_cast<std::size_t>(rows.nnz()));
        std::vector<Index> cols;
        for (std::size_t i = 0; i < n; ++i) {
            const std::int64_t self = first + std::int64_t(i);
            const auto rc = rows.row_cols(Index(i));
            cols.assign(rc.begin(), rc.end());
            std::sort(cols.begin(), cols.end());
            cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
            for (const Index col : cols) {
                require(std::int64_t(col) >= 0 && std::int64_t(col) < nodes, "partition::ptscotch: row ", self,
                        " has column ", col, " outside [0, ", nodes, ")");
                if (std::int64_t(col) != self) edge.push_back(SCOTCH_Num(col));
            }
            vert[i + 1] = SCOTCH_Num(edge.size());
            if (weight_by_cost) weight[i] = SCOTCH_Num(rc.size()) + 1;
        }
        dgraph g(c);
        check(SCOTCH_dgraphBuild(&g.g, 0, SCOTCH_Num(n), SCOTCH_Num(n), vert.data(), nullptr, weight.data(), nullptr,
                                 SCOTCH_Num(edge.size()), SCOTCH_Num(edge.size()), edge.data(), nullptr, nullptr),
              "SCOTCH_dgraphBuild");
        // A malformed graph (one direction of an edge missing, ranges that disagree) is an
        // error here, not a crash inside the partitioner: one O(E) check, cheap beside it.
        check(SCOTCH_dgraphCheck(&g.g), "SCOTCH_dgraphCheck (is every edge present in both directions?)");
        strategy s;
        check(SCOTCH_stratDgraphMapBuild(&s.s, SCOTCH_STRATDEFAULT, SCOTCH_Num(procs), SCOTCH_Num(parts), imbalance),
              "SCOTCH_stratDgraphMapBuild");
        std::vector<SCOTCH_Num> part(n, 0);
        if (shares.empty()) {
            check(SCOTCH_dgraphPart(&g.g, SCOTCH_Num(parts), &s.s, part.data()), "SCOTCH_dgraphPart");
        } else {  // target shares as the weights of a complete-graph architecture
            std::vector<SCOTCH_Num> w(shares.size());
            for (std::size_t p = 0; p < shares.size(); ++p)
                w[p] = std::max<SCOTCH_Num>(1, SCOTCH_Num(std::llround(shares[p] * 1e6)));
            architecture arch;
            check(SCOTCH_archCmpltw(&arch.a, SCOTCH_Num(parts), w.data()), "SCOTCH_archCmpltw");
            check(SCOTCH_dgraphMap(&g.g, &arch.a, &s.s, part.data()), "SCOTCH_dgraphMap");
        }
        std::vector<int> owner(n);
        for (std::size_t i = 0; i < n; ++i) {
            require(part[i] >= 0 && part[i] < parts, "partition::ptscotch: part ", part[i], " of row ",
                    first + std::int64_t(i), " outside [0, ", parts, ")");
            owner[i] = int(part[i]);
        }
        return owner;
    }
#endif
};
static_assert(weighted_partitioner<ptscotch>, "partition::ptscotch must satisfy the partitioner concept.");

}  // namespace mixgcn::partition
