#pragma once
// Adaptive load balancing for the `graph` and `mixture` strategies (--balance on): every
// epoch each rank's busy time is measured; when the slowest rank's exceeds the mean by
// more than a threshold, ownership is re-cut between epochs, without restarting the job,
// with each rank's share of the row cost proportional to its measured speed.
//
//   busy_r   = the epoch's seconds minus rank r's seconds inside communication (waiting
//              for a slower peer is communication, so busy is what r itself computes)
//   speed_r  = work_r / busy_r, work_r = Σ row cost (non-zeros + 1) of r's rows
//   share_r  = speed_r / Σ speed   (the partitioner's target share of the row cost),
//              at most 2x and at least 1/2 of r's current share per re-cut (damped_shares:
//              fixed per-epoch costs make a small part look slow)
//
// The re-cut is the run's partitioner with those target shares (block, random, metis and
// fennel take them: partition::weighted_partitioner), computed on rank 0 and broadcast.
// For `mixture` the same shares also size each rank's slice of the columns it aggregates
// (its sparse work) while the re-cut rows carry its dense update; its work for the speed
// estimate is then the mean of its row-cost share and its column share.
// Rows move to their new owners with all-to-all-v (features, labels, split); the graph
// strategy is rebuilt from the global operator with the new owners (halos follow);
// parameters and optimizer state are replicated and stay where they are. Dropout masks
// are keyed by global node ids, so the model trained is the one `single` trains, to
// rounding, across any number of rebalances (tested against single in float64).
//
// The balancer owns the strategy and the inputs the trainer reads, at fixed addresses:
// the trainer is built over strategy() and data() and calls after_epoch through
// trainer_options::on_epoch. Measurement skips `warmup` epochs at the start and after
// each rebalance (first touch, buffers growing); a re-cut needs `patience` consecutive
// measured epochs over the threshold, and takes each rank's speed from its least busy
// time among them (noise only adds time).
//
// Over a device backend the rows still move between ranks in host memory (a re-cut is
// rare, and the host keeps each rank's inputs for it); after each re-cut the rank's new
// feature rows are copied to the device once, and the trainer copies the new labels and
// rows over (local_data::layout_version). The strategies keep their own device copies.
//
// Test and emulation hook: slow_rank/slow_factor make one rank F times slower, as a
// slower device would be: after each epoch it waits (F − 1) × its busy time, which
// counts as busy, while the others wait for it in the measurement's all-reduce.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <numeric>
#include <optional>
#include <span>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/exchange.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/parallel/balance_rule.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/mixture.hpp"
#include "mixgcn/parallel/renumbered.hpp"
#include "mixgcn/parallel/report.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::parallel {

// Inner: graph<B, V, Comm> or mixture<B, V, Comm>.
template <class B, class V, comm::communicator Comm, class Inner>
class balancer {
    static constexpr bool is_mixture = std::is_same_v<Inner, mixture<B, V, Comm>>;

public:
    using strategy_type = renumbered<Inner>;
    // Rank 0's re-cut: owners for the given target shares (one per rank).
    using recut_fn = std::function<std::vector<int>(std::span<const double> shares)>;

    // Collective. `op` (the whole operator), `adjacency` (row costs) and `original_ids`
    // must outlive the balancer; `ds` holds every node's rows and is read here only.
    // `chunks`: mixture's column chunks (ignored by graph).
    balancer(Comm& comm, const ::mixgcn::graph::gcn_operator<index_t, V>& op,
             const storage::csr<index_t, V>& adjacency, std::vector<int> owner, std::span<const index_t> original_ids,
             const dataset<V>& ds, recut_fn recut, nn::gcn_model<B, V>& model, balance_options o, int chunks = 1)
        : comm_(comm), op_(op), adjacency_(adjacency), owner_(std::move(owner)), original_(original_ids),
          recut_(std::move(recut)), model_(model), o_(o), chunks_(chunks), s_(make_strategy(owner_, {})) {
        require(o_.threshold > 1, "balance: threshold must be > 1, got ", o_.threshold);
        require(o_.warmup >= 0, "balance: warmup must be >= 0, got ", o_.warmup);
        require(o_.patience >= 1, "balance: patience must be >= 1, got ", o_.patience);
        require(o_.max_rebalances >= 0, "balance: max_rebalances must be >= 0, got ", o_.max_rebalances);
        require(o_.slow_rank < comm.size(), "balance: slow rank ", o_.slow_rank, " but only ", comm.size(), " ranks");
        require(o_.slow_factor >= 1, "balance: slow factor must be >= 1, got ", o_.slow_factor);
        require(static_cast<bool>(recut_), "balance: no re-cut function");
        in_ = s_.local_inputs(ds);
        place_inputs();
        report_.initial_rows = rows_per_rank();
        comm_before_ = s_.comm_seconds();
        skip_ = o_.warmup;
    }
    balancer(const balancer&) = delete;
    balancer& operator=(const balancer&) = delete;

    strategy_type& strategy() noexcept { return s_; }
    const train::local_data<V>& data() const noexcept { return data_; }
    const strategy_inputs<V>& inputs() const noexcept { return in_; }
    const std::vector<int>& owner() const noexcept { return owner_; }
    const balance_report& report() const noexcept { return report_; }

    // Collective, after every epoch (trainer_options::on_epoch): measures, and re-cuts
    // when the imbalance is over the threshold and `may_rebalance` (false after the last
    // epoch, where a re-cut would serve nothing).
    void after_epoch(const train::epoch_metrics& m, bool may_rebalance = true) {
        const int P = comm_.size(), me = comm_.rank();
        const double comm_now = s_.comm_seconds();
        double busy = std::max(0.0, m.seconds - (comm_now - comm_before_));
        if (me == o_.slow_rank && o_.slow_factor > 1) {
            const double extra = (o_.slow_factor - 1) * busy;
            std::this_thread::sleep_for(std::chrono::duration<double>(extra));
            busy += extra;
        }
        std::vector<double> all(static_cast<std::size_t>(P), 0.0);
        all[static_cast<std::size_t>(me)] = busy;
        comm_.all_reduce(std::span<double>(all), comm::reduce_op::sum);  // the same vector on every rank
        balance_epoch e;
        e.epoch = m.epoch;
        e.measured = skip_ == 0;
        e.ratio = imbalance(all);
        e.busy = all;
        report_.epochs.push_back(e);
        if (skip_ > 0) {
            --skip_;
        } else if (e.ratio > o_.threshold) {
            // Each rank's least busy time over the streak: preemption and other noise only
            // add time, so the minimum is the steadiest estimate of its speed.
            if (streak_.empty()) streak_ = all;
            for (std::size_t r = 0; r < all.size(); ++r) streak_[r] = std::min(streak_[r], all[r]);
            if (++streak_length_ >= o_.patience && may_rebalance &&
                int(report_.rebalances.size()) < o_.max_rebalances && P > 1)
                rebalance(m.epoch, imbalance(streak_), streak_);
        } else {
            streak_.clear();
            streak_length_ = 0;
        }
        comm_before_ = s_.comm_seconds();
    }

private:
    strategy_type make_strategy(const std::vector<int>& owner, std::vector<double> column_shares) {
        if constexpr (is_mixture) return strategy_type(original_, comm_, op_, owner, chunks_, std::move(column_shares));
        else return strategy_type(original_, comm_, op_, owner);
    }

    // data_ over in_, its features in B's memory (a device copy of the host rows), with a
    // new layout version so the trainer places the new labels and rows.
    void place_inputs() {
        data_ = in_.data();
        data_.layout_version = ++version_;
        if constexpr (!backend::host_accessible<B>()) {
            device_features_ = backend::matrix_from_host<B>(in_.feature_block());
            data_.features = device_features_.cview();
        }
    }

    std::vector<std::uint64_t> rows_per_rank() const {
        std::vector<std::uint64_t> rows(static_cast<std::size_t>(comm_.size()), 0);
        for (const int o : owner_) ++rows[static_cast<std::size_t>(o)];
        return rows;
    }

    void rebalance(int epoch, double ratio, std::span<const double> busy) {
        using clock = std::chrono::steady_clock;
        const auto t0 = clock::now();
        trace::span sp("rebalance", trace::category::setup);
        const int P = comm_.size();
        const auto np = static_cast<std::size_t>(P);
        std::vector<double> work(np, 0.0);
        double total = 0;
        for (std::size_t v = 0; v < owner_.size(); ++v) {
            const double c = double(partition::row_cost(adjacency_, index_t(v)));
            work[static_cast<std::size_t>(owner_[v])] += c;
            total += c;
        }
        if constexpr (is_mixture) {  // half the work follows the rows, half the columns
            const auto& cs = s_.column_shares();
            for (std::size_t q = 0; q < np; ++q)
                work[q] = 0.5 * work[q] / std::max(total, 1.0) + 0.5 * (cs.empty() ? 1.0 / double(P) : cs[q]);
        }
        const auto shares = damped_shares(work, shares_from_speed(work, busy));

        // Rank 0 re-cuts; everyone receives the same owners.
        std::vector<std::int32_t> next(owner_.size());
        if (comm_.rank() == 0) {
            auto o = recut_(shares);
            require(o.size() == owner_.size(), "balance: the re-cut gave ", o.size(), " owners for ", owner_.size(),
                    " nodes");
            for (std::size_t v = 0; v < o.size(); ++v)
                require(o[v] >= 0 && o[v] < P, "balance: the re-cut gave node ", v, " owner ", o[v], " outside [0, ", P,
                        ")");
            partition::fill_empty_parts(adjacency_, o, P);  // every rank keeps rows
            std::copy(o.begin(), o.end(), next.begin());
        }
        comm_.broadcast(std::span<std::int32_t>(next), 0);
        std::vector<int> owner(next.begin(), next.end());
        std::uint64_t moved = 0;
        for (std::size_t v = 0; v < owner.size(); ++v) moved += owner[v] != owner_[v];

        // This rank's rows to their new owners: ids, features, labels, roles.
        const auto& ids = s_.global_ids();
        const std::size_t own = static_cast<std::size_t>(s_.rows()), d = in_.features.cols();
        std::vector<std::uint8_t> role(own, std::uint8_t(split_role::none));
        for (auto r : in_.train) role[std::size_t(r)] = std::uint8_t(split_role::train);
        for (auto r : in_.val) role[std::size_t(r)] = std::uint8_t(split_role::val);
        for (auto r : in_.test) role[std::size_t(r)] = std::uint8_t(split_role::test);
        std::vector<std::size_t> count(np, 0);
        for (std::size_t i = 0; i < own; ++i) ++count[static_cast<std::size_t>(owner[std::size_t(ids[i])])];
        std::vector<std::size_t> at(np, 0);
        for (std::size_t q = 1; q < np; ++q) at[q] = at[q - 1] + count[q - 1];
        std::vector<std::int64_t> send_ids(own);
        std::vector<std::int32_t> send_labels(own);
        std::vector<std::uint8_t> send_roles(own);
        std::vector<V> send_features(own * d);
        for (std::size_t i = 0; i < own; ++i) {
            const std::size_t k = at[static_cast<std::size_t>(owner[std::size_t(ids[i])])]++;
            send_ids[k] = ids[i];
            send_labels[k] = in_.labels[i];
            send_roles[k] = role[i];
            std::copy_n(in_.features.row(i), d, send_features.data() + k * d);
        }
        std::vector<std::size_t> values(count);
        for (auto& c : values) c *= d;
        const auto got_ids = comm::exchange_grouped<std::int64_t>(comm_, send_ids, count);
        const auto got_labels = comm::exchange_grouped<std::int32_t>(comm_, send_labels, count);
        const auto got_roles = comm::exchange_grouped<std::uint8_t>(comm_, send_roles, count);
        const auto got_features = comm::exchange_grouped<V>(comm_, send_features, values);
        in_ = {};  // the old rows go before the new strategy's buffers grow

        strategy_type fresh = make_strategy(owner, is_mixture ? shares : std::vector<double>{});
        fresh.continue_counters(s_);
        s_ = std::move(fresh);
        std::vector<index_t> new_ids(got_ids.begin(), got_ids.end());
        std::vector<split_role> new_split(got_roles.size());
        for (std::size_t k = 0; k < got_roles.size(); ++k) new_split[k] = static_cast<split_role>(got_roles[k]);
        in_ = s_.local_inputs(new_ids, const_matrix_view<V>(got_features.data(), new_ids.size(), d), got_labels,
                              new_split);
        place_inputs();
        model_.invalidate_cache();  // the cached Â·X belongs to the old rows
        owner_ = std::move(owner);
        skip_ = o_.warmup;
        streak_.clear();
        streak_length_ = 0;

        rebalance_event ev;
        ev.epoch = epoch;
        ev.ratio_before = ratio;
        ev.shares = shares;
        ev.rows = rows_per_rank();
        ev.rows_moved = moved;
        ev.seconds = std::chrono::duration<double>(clock::now() - t0).count();
        report_.rebalances.push_back(std::move(ev));
    }

    Comm& comm_;
    const ::mixgcn::graph::gcn_operator<index_t, V>& op_;
    const storage::csr<index_t, V>& adjacency_;
    std::vector<int> owner_;
    std::span<const index_t> original_;
    recut_fn recut_;
    nn::gcn_model<B, V>& model_;
    balance_options o_;
    int chunks_ = 1;
    strategy_type s_;
    strategy_inputs<V> in_;
    train::local_data<V> data_;
    std::uint64_t version_ = 0;
    std::conditional_t<backend::host_accessible<B>(), std::monostate, typename B::template matrix<V>> device_features_;
    balance_report report_;
    double comm_before_ = 0;
    int skip_ = 0;  // epochs still to skip before measuring
    std::vector<double> streak_;  // per rank, the least busy seconds of the epochs over the threshold
    int streak_length_ = 0;
};

template <class B, class V, comm::communicator Comm>
using graph_balancer = balancer<B, V, Comm, graph<B, V, Comm>>;
template <class B, class V, comm::communicator Comm>
using mixture_balancer = balancer<B, V, Comm, mixture<B, V, Comm>>;

namespace detail {

template <class Balancer, class B, class V>
train::train_result train_under(Balancer& b, nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt,
                                const train::trainer_options& to, strategy_report* out, balance_report* balance) {
    train::trainer_options o = to;
    o.on_epoch = [&b, outer = to.on_epoch, last = to.epochs](const train::epoch_metrics& m) {
        if (outer) outer(m);
        b.after_epoch(m, m.epoch < last);
    };
    using S = typename Balancer::strategy_type;
    auto res = train::trainer<B, V, S>(b.strategy(), model, opt, b.data(), o).run();
    finish_report(out, b.strategy(), b.inputs(), model);
    if (balance) *balance = b.report();
    return res;
}

}  // namespace detail

// Trains `model` with the graph strategy under the balancer: every rank passes the same
// arguments (`recut` is called on rank 0 only). `out` receives this rank's strategy
// figures over the whole run (rebalances included), `balance` the balancer's record.
template <class B, class V, comm::communicator Comm>
train::train_result train_graph_balanced(Comm& comm, const dataset<V>& ds,
                                         const ::mixgcn::graph::gcn_operator<index_t, V>& op,
                                         const storage::csr<index_t, V>& adjacency, std::vector<int> owner,
                                         typename graph_balancer<B, V, Comm>::recut_fn recut,
                                         nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt,
                                         const train::trainer_options& to, const balance_options& bo,
                                         strategy_report* out = nullptr, balance_report* balance = nullptr,
                                         std::span<const index_t> original_ids = {}) {
    graph_balancer<B, V, Comm> b(comm, op, adjacency, std::move(owner), original_ids, ds, std::move(recut), model, bo);
    return detail::train_under(b, model, opt, to, out, balance);
}

// The same for the mixture strategy (`chunks` column chunks per switch): a re-cut moves
// row blocks and resizes every rank's column slices by the same speed shares.
template <class B, class V, comm::communicator Comm>
train::train_result train_mixture_balanced(Comm& comm, const dataset<V>& ds,
                                           const ::mixgcn::graph::gcn_operator<index_t, V>& op,
                                           const storage::csr<index_t, V>& adjacency, std::vector<int> owner,
                                           typename mixture_balancer<B, V, Comm>::recut_fn recut,
                                           nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt,
                                           const train::trainer_options& to, const balance_options& bo, int chunks = 1,
                                           strategy_report* out = nullptr, balance_report* balance = nullptr,
                                           std::span<const index_t> original_ids = {}) {
    mixture_balancer<B, V, Comm> b(comm, op, adjacency, std::move(owner), original_ids, ds, std::move(recut), model, bo,
                                   chunks);
    return detail::train_under(b, model, opt, to, out, balance);
}

}  // namespace mixgcn::parallel
