#pragma once
// The strategy the model sees inside one `data` step: aggregation over this rank's batch
// operator (no communication, the batch is self-contained), rows named by their global
// node ids (dropout masks), and sum() through the communicator so the model's bucketed
// gradient all-reduce spans every rank's batch. The batch's operator is a
// graph::gcn_operator in host memory, or its twin in a device backend's memory
// (backend::resident_operator, with the batch's own identity).
#include <chrono>
#include <concepts>
#include <cstdint>
#include <span>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::parallel {

template <class B, class V, comm::communicator Comm>
class data_batch_strategy {
public:
    using backend_type = B;
    using value_type = V;

    // `comm_seconds` accumulates the time spent in sum(); `global_ids` (one per batch row,
    // in B's memory) and the referents must outlive this. `identity` names the operator's
    // products (the first layer's evaluation cache keys on it): a gcn_operator's own
    // identity by default.
    template <class Op>
        requires requires(const Op& o) {
            { o.forward() } -> std::convertible_to<storage::sparse_view<index_t, V>>;
            { o.backward() } -> std::convertible_to<storage::sparse_view<index_t, V>>;
        }
    data_batch_strategy(Comm& comm, const Op& op, const index_t* global_ids, double& comm_seconds,
                        std::uint64_t identity = 0)
        : comm_(&comm), forward_(op.forward()), backward_(op.backward()), ids_(global_ids),
          comm_seconds_(&comm_seconds), identity_(identity) {
        if constexpr (requires { op.identity.value(); })
            if (identity_ == 0) identity_ = op.identity.value();
    }
    static constexpr const char* name() { return "data"; }

    index_t rows() const noexcept { return forward_.rows; }
    column_slice columns(std::size_t width) const noexcept { return {0, width}; }
    dropout_index row_ids() const noexcept { return {ids_, 0, 0}; }
    std::uint64_t product_identity() const noexcept { return identity_; }
    void forward(const_matrix_view<V> x, matrix_view<V> y) { B::aggregate(forward_, x, y); }
    void backward(const_matrix_view<V> dy, matrix_view<V> dx) { B::aggregate(backward_, dy, dx); }
    template <class T>
    void sum(std::span<T> values) {
        const auto t0 = std::chrono::steady_clock::now();
        comm_->all_reduce(values, comm::reduce_op::sum);
        *comm_seconds_ += trace::interval("all-reduce", trace::category::comm, t0, std::chrono::steady_clock::now());
    }
    int rank() const noexcept { return comm_->rank(); }
    int ranks() const noexcept { return comm_->size(); }

private:
    Comm* comm_;
    storage::sparse_view<index_t, V> forward_, backward_;
    const index_t* ids_;
    double* comm_seconds_;
    std::uint64_t identity_;
};

}  // namespace mixgcn::parallel
