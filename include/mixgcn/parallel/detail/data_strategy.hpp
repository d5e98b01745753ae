#pragma once
// The strategy the model sees inside one `data` step: aggregation over this rank's batch
// operator (no communication, the batch is self-contained), rows named by their global
// node ids (dropout masks), and sum() through the communicator so the model's bucketed
// gradient all-reduce spans every rank's batch.
#include <chrono>
#include <span>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/normalize.hpp"

namespace mixgcn::parallel {

template <class B, class V, comm::communicator Comm>
class data_batch_strategy {
public:
    using backend_type = B;
    using value_type = V;

    // `comm_seconds` accumulates the time spent in sum(); `global_ids` (one per batch row)
    // and the referents must outlive this.
    data_batch_strategy(Comm& comm, const ::mixgcn::graph::gcn_operator<index_t, V>& op, const index_t* global_ids,
                        double& comm_seconds)
        : comm_(&comm), op_(&op), ids_(global_ids), comm_seconds_(&comm_seconds) {}
    static constexpr const char* name() { return "data"; }

    index_t rows() const noexcept { return op_->a.rows; }
    column_slice columns(std::size_t width) const noexcept { return {0, width}; }
    dropout_index row_ids() const noexcept { return {ids_, 0, 0}; }
    std::uint64_t product_identity() const noexcept { return op_->identity.value(); }
    void forward(const_matrix_view<V> x, matrix_view<V> y) { B::aggregate(op_->forward(), x, y); }
    void backward(const_matrix_view<V> dy, matrix_view<V> dx) { B::aggregate(op_->backward(), dy, dx); }
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
    const ::mixgcn::graph::gcn_operator<index_t, V>* op_;
    const index_t* ids_;
    double* comm_seconds_;
};

}  // namespace mixgcn::parallel
