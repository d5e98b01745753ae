// PT-Scotch with real processes (1 rank local, 2-4 MPI ranks): the whole-graph form on
// Cora and Citeseer (skipped with a message where the folders are absent) and an SBM gives
// valid owners, every part non-empty, the work balance within the tolerance, and a cut
// no worse than 2x METIS's; the distributed form, each rank passing only its range of
// rows, does the same on the SBM; target shares are honoured; a rank whose rows do not
// follow the previous rank's is named.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "mixgcn/io/dataset.hpp"
#include "mixgcn/parallel/partitioned_load.hpp"
#include "mixgcn/partition.hpp"
#include "session.hpp"

using namespace mixgcn;
using test_session::with_comm;

namespace {

// The largest part's row cost over the mean, allowing one row of rounding per part.
template <class A>
void check_balance(const A& a, const partition::quality& q, double tolerance) {
    std::int64_t heaviest_row = 0;
    for (index_t r = 0; r < a.rows; ++r) heaviest_row = std::max<std::int64_t>(heaviest_row, partition::row_cost(a, r));
    const double mean = double(a.nnz() + std::size_t(a.rows)) / double(q.parts);
    CHECK_MESSAGE(q.cost_balance <= 1 + tolerance + double(heaviest_row) / mean, "cost balance ", q.cost_balance);
    for (const auto n : q.owned_nodes) CHECK(n > 0);
}

template <class A>
void check_against_metis(const A& a, const std::vector<int>& owner, int parts, const std::string& what) {
    const auto q = partition::evaluate(a, owner, parts);
    check_balance(a, q, 0.05);
    if (!partition::metis::available()) {
        MESSAGE(what, " P=", parts, ": cut ", q.edge_cut, " (METIS not built in: no comparison)");
        return;
    }
    const auto m = partition::evaluate(a, partition::metis{}.partition(a, parts), parts);
    MESSAGE(what, " P=", parts, ": PT-Scotch cut ", q.edge_cut, " (balance ", q.cost_balance, "), METIS ", m.edge_cut,
            " (", m.cost_balance, ")");
    CHECK(q.edge_cut <= 2 * m.edge_cut);
}

}  // namespace

TEST_CASE("ptscotch: Cora, Citeseer and an SBM, whole graph: valid, balanced, cut within 2x METIS") {
    if (!partition::ptscotch::available()) {
        MESSAGE("built without PT-Scotch: skipped");
        return;
    }
    with_comm([](auto& comm) {
        if (comm.rank() != 0) return;  // one process, MPI_COMM_SELF
        namespace fs = std::filesystem;
        for (const char* name : {"cora", "citeseer"}) {
            const fs::path dir = fs::path(MIXGCN_DATASETS_DIR) / name;
            if (!fs::exists(dir)) {
                MESSAGE(name, " not found under ", dir.string(), ": skipped");
                continue;
            }
            const auto ds = io::load_dataset<float>(dir);
            const auto a = graph::build_adjacency<index_t, float>(ds.edges);
            for (const int parts : {2, 4, 8}) {
                const auto owner = partition::ptscotch{}.partition(a, parts);
                partition::check_owners(owner, a.rows, parts);
                check_against_metis(a, owner, parts, name);
            }
        }
        const test_session::problem<float> pr(test_session::sbm(20000, 10, 4, 8, 3));
        for (const int parts : {3, 8}) {
            const auto owner = partition::ptscotch{}.partition(pr.adjacency, parts);
            partition::check_owners(owner, pr.adjacency.rows, parts);
            check_against_metis(pr.adjacency, owner, parts, "SBM 20k");
        }
        // Target shares: the parts' row-cost shares follow them.
        const std::vector<double> shares{0.5, 0.3, 0.2};
        const auto owner = partition::ptscotch{}.partition(pr.adjacency, 3, shares);
        const auto q = partition::evaluate(pr.adjacency, owner, 3);
        double total = 0;
        for (const auto c : q.owned_cost) total += double(c);
        for (std::size_t p = 0; p < 3; ++p) {
            CAPTURE(p);
            CHECK(std::abs(double(q.owned_cost[p]) / total - shares[p]) < 0.05 * shares[p] + 0.005);
        }
    });
}

#ifdef MIXGCN_HAS_PTSCOTCH
TEST_CASE("ptscotch: distributed, each rank passing only its rows: valid, balanced, cut within 2x METIS") {
    with_comm([](auto& comm) {
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(comm)>, comm::mpi>) {
            const int P = comm.size(), r = comm.rank();
            const test_session::problem<float> pr(test_session::sbm(20000, 10, 4, 8, 3));
            const auto& a = pr.adjacency;
            const auto n = std::uint64_t(a.rows);
            const auto [first, last] = parallel::read_range(n, r, P);
            const auto mine = test_session::row_range(a, first, last);  // this rank's rows only
            std::vector<std::size_t> counts(static_cast<std::size_t>(P));
            for (int q = 0; q < P; ++q) {
                const auto [b, e] = parallel::read_range(n, q, P);
                counts[std::size_t(q)] = std::size_t(e - b);
            }
            for (const int parts : {P, 2 * P + 1}) {
                const auto local = partition::ptscotch{}.partition_rows(comm, mine, std::int64_t(first), std::int64_t(n), parts);
                REQUIRE(local.size() == std::size_t(last - first));
                const auto owner = test_session::gather_parts(comm, local, counts);
                partition::check_owners(owner, a.rows, parts);
                if (r == 0) check_against_metis(a, owner, parts, "distributed SBM 20k on " + std::to_string(P) + " ranks");
            }
            if (P > 1) {  // rank 1 claims rows that do not follow rank 0's
                const std::int64_t wrong = r == 1 ? std::int64_t(first) + 1 : std::int64_t(first);
                CHECK_THROWS_WITH_AS(partition::ptscotch{}.partition_rows(comm, mine, wrong, std::int64_t(n), P),
                                     doctest::Contains("rank 1's rows begin at"), mixgcn::error);
            }
        } else {
            MESSAGE(std::string(comm.name()), ": the distributed form runs over MPI only");
        }
    });
}
#endif

int main(int argc, char** argv) { return test_session::main(argc, argv); }
