#pragma once
// The part feature and mixture share as strategies: the communicator, the row layout from
// the owner vector, the whole Â renumbered to positions (replicated on every rank; for a
// backend over device memory also copied there, with the positions' global ids for the
// dropout masks), the per-layer exchange figures, timing, metric sums and the common
// fields of the report.
#include <chrono>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/resident_csr.hpp"
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/parallel/detail/layouts.hpp"
#include "mixgcn/parallel/report.hpp"

namespace mixgcn::parallel::detail {

template <class B, class V, comm::communicator Comm>
class replicated_operator {
    static constexpr bool on_host = backend::host_accessible<B>();

public:
    int rank() const noexcept { return comm_->rank(); }
    int ranks() const noexcept { return comm_->size(); }
    const row_blocks& row_layout() const noexcept { return rows_; }
    std::uint64_t product_identity() const noexcept { return op_.identity.value(); }

    void begin_layer(std::size_t l) {
        layer_ = l;
        if (figures_.size() <= l) figures_.resize(l + 1);
    }

    // Seconds inside communication since setup (the load balancer's per-epoch measure).
    double comm_seconds() const noexcept { return comm_seconds_; }
    // This rank's rows in local order (ascending global ids), as graph::global_ids() names its own.
    std::span<const index_t> global_ids() const noexcept { return {rows_.ids_of(rank()), rows_.rows_of(rank())}; }

    template <class T>
    void sum(std::span<T> values) {
        const auto t0 = clock::now();
        comm_->all_reduce(values, comm::reduce_op::sum);
        comm_seconds_ += trace::interval("all-reduce", trace::category::comm, t0, clock::now());
    }

protected:
    using clock = std::chrono::steady_clock;
    static double seconds(clock::time_point a, clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    }

    // Collective only in that every rank must pass the same operator and owners; `who`
    // names the strategy in errors.
    replicated_operator(Comm& comm, const ::mixgcn::graph::gcn_operator<index_t, V>& op, std::span<const int> owner,
                        const char* who)
        : comm_(&comm), rows_(owner, comm.size(), comm.rank()) {
        require(owner.size() == static_cast<std::size_t>(op.a.rows), who, " strategy (rank ", comm.rank(),
                "): owner vector has ", owner.size(), " entries for ", op.a.rows, " nodes");
        op_ = permute_operator(op, rows_);
        if constexpr (!on_host) {
            dev_.op = backend::resident_operator<B, index_t, V>(op_);
            dev_.order = backend::make_array<B>(rows_.order);
        }
        since_ = comm.stats();
    }

    // Â and Âᵀ in positions, where the backend's kernels read them.
    storage::sparse_view<index_t, V> forward_operator() const {
        if constexpr (on_host) return op_.forward();
        else return dev_.op.forward();
    }
    storage::sparse_view<index_t, V> backward_operator() const {
        if constexpr (on_host) return op_.backward();
        else return dev_.op.backward();
    }
    // Global ids of positions [first, ...) where the backend's dropout kernels read them.
    dropout_index positions_from(std::size_t first) const noexcept {
        if constexpr (on_host) return {rows_.order.data() + first, 0, 0};
        else return {dev_.order.data() + first, 0, 0};
    }

    // Carries on the counters of `earlier`, the strategy this one replaces (a rebalance):
    // the report's traffic, seconds and per-layer figures then cover the whole run.
    void continue_counters_of(const replicated_operator& earlier) {
        since_ = earlier.since_;
        comm_seconds_ += earlier.comm_seconds_;
        compute_seconds_ += earlier.compute_seconds_;
        if (figures_.size() < earlier.figures_.size()) figures_.resize(earlier.figures_.size());
        for (std::size_t l = 0; l < earlier.figures_.size(); ++l) {
            figures_[l].exchanges += earlier.figures_[l].exchanges;
            figures_[l].in_flight_seconds += earlier.figures_[l].in_flight_seconds;
            figures_[l].blocked_seconds += earlier.figures_[l].blocked_seconds;
        }
    }

    // An exchange of the current layer: its time in flight and blocked.
    void add_exchange(const exchange_figures& f) {
        if (figures_.size() <= layer_) figures_.resize(layer_ + 1);
        auto& g = figures_[layer_];
        g.exchanges += f.exchanges;
        g.in_flight_seconds += f.in_flight_seconds;
        g.blocked_seconds += f.blocked_seconds;
        comm_seconds_ += f.blocked_seconds;
    }

    // The report's fields both strategies fill alike; the caller adds its buffers.
    strategy_report base_report(const char* name, std::size_t owned_rows) const {
        strategy_report r;
        r.strategy = name;
        r.rank = rank();
        r.owned_nodes = owned_rows;
        r.local_nonzeros = op_.a.nnz();
        r.traffic = traffic_since(comm_->stats(), since_);
        const auto t = r.traffic.total();
        r.bytes_sent = t.bytes_sent;
        r.bytes_received = t.bytes_received;
        r.comm_seconds = comm_seconds_;
        r.compute_seconds = compute_seconds_;
        r.layers = figures_;
        r.graph_bytes = op_.bytes() + rows_.bytes();
        if constexpr (!on_host) r.graph_bytes += dev_.op.bytes() + dev_.order.size() * sizeof(index_t);
        return r;
    }

    Comm* comm_;
    row_blocks rows_;
    ::mixgcn::graph::gcn_operator<index_t, V> op_;  // whole Â, in positions
    struct device_copies {
        backend::resident_operator<B, index_t, V> op;
        backend::array<B, index_t> order;
    };
    struct no_copies {};
    [[no_unique_address]] std::conditional_t<on_host, no_copies, device_copies> dev_;
    std::size_t layer_ = 0;
    std::vector<exchange_figures> figures_;
    comm::traffic since_;
    double comm_seconds_ = 0, compute_seconds_ = 0;
};

}  // namespace mixgcn::parallel::detail
