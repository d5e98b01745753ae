#pragma once
// A `data` mini-batch in a device backend's memory: its operator, its rows' global ids
// (dropout masks), its labels and training rows, and its feature rows gathered on the
// device from the whole feature matrix, which stays resident for the run. Built from the
// host batch (data_batch.hpp, built without feature rows): what crosses to the device
// per batch is the operator and the index lists, never feature rows, and nothing comes
// back. The members carry data_batch's names, so train::cluster_trainer takes either.
// Private to parallel/data.hpp and train/cluster_trainer.hpp.
#include <cstddef>
#include <cstdint>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/resident_csr.hpp"
#include "mixgcn/backend/row_moves.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/identity.hpp"
#include "mixgcn/parallel/detail/data_batch.hpp"

namespace mixgcn::parallel::detail {

template <class B, class V>
struct resident_batch {
    backend::array<B, index_t> nodes;  // global ids of the rows, ascending
    backend::resident_operator<B, index_t, V> op;
    typename B::template matrix<V> features;
    backend::array<B, std::int32_t> labels;
    backend::array<B, index_t> train;  // local rows of training nodes
    object_identity identity;          // the operator's (a fresh one per batch)

    bool empty() const noexcept { return nodes.size() == 0; }
    std::size_t graph_bytes() const noexcept { return op.bytes() + (nodes.size() + train.size()) * sizeof(index_t); }
    std::size_t row_bytes() const noexcept {
        return features.rows() * features.cols() * sizeof(V) + labels.size() * sizeof(std::int32_t);
    }
};

// `host` moved to B's memory; its feature rows gathered from `features` (every node's
// row, in B's memory) by the batch's ids, unless `with_features` is false (a pipeline
// stage past the first reads its input from the stage before).
template <class B, class V>
resident_batch<B, V> make_resident(const data_batch<V>& host, const_matrix_view<V> features,
                                   bool with_features = true) {
    resident_batch<B, V> b;
    b.nodes = backend::make_array<B>(host.nodes);
    b.op = backend::resident_operator<B, index_t, V>(host.op);
    b.labels = backend::make_array<B>(host.labels);
    b.train = backend::make_array<B>(host.train);
    if (with_features && !host.empty()) {
        b.features = typename B::template matrix<V>(host.nodes.size(), features.cols());
        backend::gather_rows<B>(features, b.nodes.data(), b.features.view());
    }
    return b;
}

// What a batch's products are named by (the first layer's evaluation cache): a resident
// batch's own identity, or 0 for a host batch, whose operator names itself.
template <class Batch>
std::uint64_t identity_of(const Batch& b) noexcept {
    if constexpr (requires { b.identity.value(); }) return b.identity.value();
    else return 0;
}

}  // namespace mixgcn::parallel::detail
