// The load balancer with real processes (mpirun 2-4 ranks, Gloo 3): re-cutting ownership
// between epochs leaves the model that of `single` (double, dropout on, 1e-9) over any
// number of rebalances, for every weighted partitioner; the re-cut gives each rank the
// share of the row cost its measured speed asks for; and with one rank emulated three
// times slower the slowest/mean busy ratio's excess over 1 falls by at least half within
// 10 epochs.
#include "session.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "mixgcn/backend/host.hpp"
#include "mixgcn/parallel/balance.hpp"
#include "mixgcn/parallel/full_graph.hpp"
#include "mixgcn/partition.hpp"

using namespace mixgcn;
using test_session::with_comm;

namespace {

using recut_fn = std::function<std::vector<int>(std::span<const double>)>;

template <class V>
recut_fn recut_with(const std::string& how, const storage::csr<index_t, V>& adjacency, int parts) {
    return [how, &adjacency, parts](std::span<const double> shares) {
        if (how == "block") return partition::block{}.partition(adjacency, parts, shares);
        if (how == "random") return partition::random{5}.partition(adjacency, parts, shares);
        if (how == "fennel") return partition::fennel{}.partition(adjacency, parts, shares);
        return partition::metis{}.partition(adjacency, parts, shares);
    };
}

template <class V>
std::vector<int> first_cut(const std::string& how, const storage::csr<index_t, V>& adjacency, int parts) {
    return recut_with(how, adjacency, parts)({});
}

nn::model_options model_for(const dataset<double>& ds) {
    nn::model_options mo;
    mo.in = ds.features.cols();
    mo.classes = std::size_t(ds.num_classes);
    mo.layers = 2;
    mo.hidden = 16;
    mo.dropout = 0.5;
    return mo;
}

}  // namespace

TEST_CASE("balance: rebalancing between epochs leaves the model that of single (double, dropout on)") {
    with_comm([](auto& comm) {
        const test_session::problem<double> pr(test_session::sbm(600, 8, 12, 4, 21));
        const auto mo = model_for(pr.ds);
        train::trainer_options to;
        to.epochs = 12;
        to.seed = 5;
        comm::local self;
        nn::gcn_model<backend::host, double> ref_model(mo);
        ref_model.initialize(to.seed);
        nn::optimizer<backend::host, double> ref_opt(nn::optimizer_options{});
        const std::vector<int> all_mine(pr.ds.features.rows(), 0);
        const auto ref = parallel::train_full_graph<backend::host, double>(
            self, pr.ds, pr.op, all_mine, {parallel::strategy_kind::single, 1}, ref_model, ref_opt, to);
        std::vector<std::string> methods{"block", "random", "fennel", "mixture:random", "mixture:fennel"};
        if (partition::metis::available()) methods.push_back("metis");
        for (const auto& name : methods) {
            CAPTURE(name);
            const bool mixture = name.starts_with("mixture:");
            const std::string how = mixture ? name.substr(8) : name;
            nn::gcn_model<backend::host, double> m(mo);
            m.initialize(to.seed);
            nn::optimizer<backend::host, double> opt(nn::optimizer_options{});
            parallel::balance_options bo;
            bo.threshold = 1.000001;  // re-cut after nearly every epoch, whatever the timings
            bo.warmup = 0;
            bo.patience = 1;
            bo.slow_rank = comm.size() - 1;
            bo.slow_factor = 2.5;
            parallel::balance_report br;
            parallel::strategy_report sr;
            const auto got =
                mixture ? parallel::train_mixture_balanced<backend::host, double>(
                              comm, pr.ds, pr.op, pr.adjacency, first_cut(how, pr.adjacency, comm.size()),
                              recut_with(how, pr.adjacency, comm.size()), m, opt, to, bo, 2, &sr, &br)
                        : parallel::train_graph_balanced<backend::host, double>(
                              comm, pr.ds, pr.op, pr.adjacency, first_cut(how, pr.adjacency, comm.size()),
                              recut_with(how, pr.adjacency, comm.size()), m, opt, to, bo, &sr, &br);
            REQUIRE(got.history.size() == ref.history.size());
            double worst = 0;
            for (std::size_t e = 0; e < ref.history.size(); ++e) {
                worst = std::max(worst, std::abs(got.history[e].loss - ref.history[e].loss) / std::abs(ref.history[e].loss));
                CHECK(got.history[e].val_acc == doctest::Approx(ref.history[e].val_acc).epsilon(1e-12));
            }
            CHECK(worst < 1e-9);
            CHECK(br.epochs.size() == ref.history.size());
            if (comm.size() > 1) {  // one rank has nothing to balance
                REQUIRE(br.rebalances.size() >= 5);
                // After each re-cut the rows are a partition of the nodes.
                std::uint64_t rows = 0;
                for (auto r : br.rebalances.back().rows) rows += r;
                CHECK(rows == std::uint64_t(pr.ds.num_nodes()));
            } else {
                CHECK(br.rebalances.empty());
            }
            std::vector<std::uint64_t> owned{sr.owned_nodes};
            comm.all_reduce(std::span<std::uint64_t>(owned));
            CHECK(owned[0] == std::uint64_t(pr.ds.num_nodes()));
            if (comm.rank() == 0)
                MESSAGE(name, ", ", comm.size(), " ranks: ", br.rebalances.size(), " rebalances, loss vs single ", worst);
        }
    });
}

TEST_CASE("balance: shares follow speed, and the re-cut gives each rank its share of the row cost") {
    const double work[] = {100, 100, 200}, busy[] = {1, 2, 1};
    const auto s = parallel::shares_from_speed(work, busy);  // speeds 100, 50, 200
    REQUIRE(s.size() == 3);
    CHECK(s[0] == doctest::Approx(100.0 / 350));
    CHECK(s[1] == doctest::Approx(50.0 / 350));
    CHECK(s[2] == doctest::Approx(200.0 / 350));
    const double none[] = {0, 100, 100}, zero[] = {1, 0, 1};
    const auto f = parallel::shares_from_speed(none, zero);  // unknown speeds take the known mean
    CHECK(f[0] == doctest::Approx(1.0 / 3));
    CHECK(parallel::imbalance(std::vector<double>{3, 1}) == doctest::Approx(1.5));
    // Damped: at most twice or half the current share per re-cut, renormalised.
    const double current[] = {1, 1}, far[] = {0.01, 0.99}, near[] = {0.4, 0.6};
    const auto d = parallel::damped_shares(current, far);
    CHECK(d[0] == doctest::Approx(0.25 / 1.24));  // 0.01 clamped up to 0.25; 0.99 within [0.25, 1]; renormalised
    CHECK(d[0] + d[1] == doctest::Approx(1.0));
    const auto n = parallel::damped_shares(current, near);  // within the bound: unchanged
    CHECK(n[0] == doctest::Approx(0.4));
    CHECK(parallel::imbalance(std::vector<double>{}) == 1);

    const test_session::problem<double> pr(test_session::sbm(2000, 10, 4, 4, 3));
    const std::vector<double> shares{0.5, 0.3, 0.2};
    std::vector<std::string> methods{"block", "random", "fennel"};
    if (partition::metis::available()) methods.push_back("metis");
    for (const auto& how : methods) {
        CAPTURE(how);
        const auto owner = recut_with(how, pr.adjacency, 3)(shares);
        std::vector<double> cost(3, 0), nodes(3, 0);
        double total = 0;
        for (std::size_t v = 0; v < owner.size(); ++v) {
            REQUIRE(owner[v] >= 0);
            REQUIRE(owner[v] < 3);
            const double c = double(partition::row_cost(pr.adjacency, index_t(v)));
            cost[std::size_t(owner[v])] += c;
            nodes[std::size_t(owner[v])] += 1;
            total += c;
        }
        for (std::size_t p = 0; p < 3; ++p) {
            CAPTURE(p);
            // random balances node counts exactly, block and METIS the row cost (METIS to
            // its 3 % ufactor); Fennel only bounds it by its capacity, 1.1 x the share.
            const double got = how == "random" ? nodes[p] / double(owner.size()) : cost[p] / total;
            if (how == "fennel") CHECK(got <= 1.1 * shares[p] + 0.005);
            else CHECK(std::abs(got - shares[p]) < 0.04 * shares[p] + 0.005);
        }
        CHECK(cost[0] > cost[1]);
        CHECK(cost[1] > cost[2]);
        MESSAGE(how, ": cost shares ", cost[0] / total, " ", cost[1] / total, " ", cost[2] / total);
    }
    CHECK_THROWS_AS(partition::block{}.partition(pr.adjacency, 3, std::vector<double>{1, 2}), invalid_argument);
    CHECK_THROWS_AS(partition::fennel{}.partition(pr.adjacency, 2, std::vector<double>{1, -1}), invalid_argument);
}

TEST_CASE("balance: mixture's column slices follow the shares, adding up to the width") {
    const std::vector<double> shares{0.5, 0.3, 0.2};
    const auto s = parallel::detail::column_slices(10, 3, std::span<const double>(shares));
    REQUIRE(s.size() == 3);
    CHECK(s[0].begin == 0);
    CHECK(s[0].count == 5);
    CHECK(s[1].begin == 5);
    CHECK(s[1].count == 3);
    CHECK(s[2].count == 2);
    const std::vector<double> thirds{1, 1, 1};
    const auto t = parallel::detail::column_slices(7, 3, std::span<const double>(thirds));
    CHECK(t[0].count + t[1].count + t[2].count == 7);
    const auto narrow = parallel::detail::column_slices(2, 3, std::span<const double>(shares));  // a rank gets none
    CHECK(narrow[0].count + narrow[1].count + narrow[2].count == 2);
    CHECK(parallel::detail::column_slices(9, 3, std::span<const double>()).at(2).count == 3);  // empty: equal
    const std::vector<double> bad{1, -1, 1};
    CHECK_THROWS_AS(parallel::detail::column_slices(9, 3, std::span<const double>(bad)), mixgcn::error);
}

TEST_CASE("balance: one rank three times slower, the imbalance halves within 10 epochs (graph and mixture)") {
    with_comm([](auto& comm) {
        if (comm.size() < 2) return;
        // Large enough that an epoch's busy time (tens of milliseconds) dwarfs timer and
        // scheduling noise.
        const test_session::problem<double> pr(test_session::sbm(20000, 12, 64, 4, 8));
        for (const bool mixture : {false, true}) {
            CAPTURE(mixture);
            auto mo = model_for(pr.ds);
            mo.hidden = 64;
            train::trainer_options to;
            to.epochs = 12;
            to.seed = 3;
            nn::gcn_model<backend::host, double> m(mo);
            m.initialize(to.seed);
            nn::optimizer<backend::host, double> opt(nn::optimizer_options{});
            parallel::balance_options bo;  // the defaults: threshold 1.10, one warm-up epoch
            bo.slow_rank = 0;
            bo.slow_factor = 3;
            parallel::balance_report br;
            const auto owner = first_cut("block", pr.adjacency, comm.size());
            const auto recut = recut_with("block", pr.adjacency, comm.size());
            if (mixture)
                (void)parallel::train_mixture_balanced<backend::host, double>(comm, pr.ds, pr.op, pr.adjacency, owner, recut,
                                                                              m, opt, to, bo, 1, nullptr, &br);
            else
                (void)parallel::train_graph_balanced<backend::host, double>(comm, pr.ds, pr.op, pr.adjacency, owner, recut,
                                                                            m, opt, to, bo, nullptr, &br);
            REQUIRE(br.epochs.size() == 12);
            const double before = br.epochs[1].ratio;  // the first measured epoch
            double after = before;  // the best of the next ten
            for (std::size_t e = 2; e < 12; ++e) after = std::min(after, br.epochs[e].ratio);
            // And it stays down: the median of the last three epochs, so that one epoch a
            // neighbouring ctest preempted does not decide (a CI run had 1.19, 1.26, 1.17
            // against a bound of 1.197).
            std::array<double, 3> tail{br.epochs[9].ratio, br.epochs[10].ratio, br.epochs[11].ratio};
            std::sort(tail.begin(), tail.end());
            const double last = tail[1];
            if (comm.rank() == 0) {
                std::string line;
                for (const auto& e : br.epochs) line += std::to_string(e.ratio).substr(0, 5) + " ";
                const std::string kind = mixture ? "mixture, " : "graph, ";
                MESSAGE(kind, comm.size(), " ranks: max/mean busy per epoch ", line, "; ",
                        br.rebalances.size(), " rebalances");
            }
            CHECK(!br.rebalances.empty());
            // Wall-clock busy times mean something only with a core per rank: oversubscribed
            // (3-4 ranks on CI's 2 cores), preemption dominates and the run only reports.
            if (unsigned(comm.size()) <= std::thread::hardware_concurrency()) {
                CHECK(before > 1.3);
                CHECK(after - 1 <= 0.5 * (before - 1));
                CHECK(last - 1 <= 0.5 * (before - 1));
            }
        }
    });
}

int main(int argc, char** argv) { return test_session::main(argc, argv); }
