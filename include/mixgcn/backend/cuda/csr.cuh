#pragma once
// Device-resident csr blocks and the normalised GCN operator, mirroring storage::csr and
// graph::gcn_operator; their views are storage::sparse_view values over device memory.
// The non-zero count is kept on the host so no kernel launch needs to read it back.
#include <cstddef>

#include "mixgcn/backend/cuda/device_matrix.cuh"
#include "mixgcn/core/identity.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/storage/csr.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::gpu {

template <index_type Index = index_t, class Value = float, class Offset = offset_t>
struct device_csr {
    using index_type = Index;
    using value_type = Value;
    using offset_type = Offset;

    Index rows = 0;
    Index cols = 0;
    std::size_t nnz = 0;
    device_buffer<Offset> row_ptr;  // rows + 1
    device_buffer<Index> col_idx;   // nnz
    device_buffer<Value> val;       // empty (pattern) or nnz

    bool has_values() const noexcept { return !val.empty(); }
    std::size_t bytes() const noexcept { return row_ptr.bytes() + col_idx.bytes() + val.bytes(); }
    storage::sparse_view<Index, Value, Offset> view(const Value* row_scale = nullptr,
                                                     const Value* col_scale = nullptr) const {
        return {rows, cols, row_ptr.data(), col_idx.data(), has_values() ? val.data() : nullptr, row_scale, col_scale};
    }
};

template <class Index, class Value, class Offset>
device_csr<Index, Value, Offset> to_device(const storage::csr<Index, Value, Offset>& a) {
    device_csr<Index, Value, Offset> d;
    d.rows = a.rows;
    d.cols = a.cols;
    d.nnz = a.nnz();
    d.row_ptr = to_device(a.row_ptr);
    d.col_idx = to_device(a.col_idx);
    if (a.has_values()) d.val = to_device(a.val);
    return d;
}

template <class Index, class Value, class Offset>
storage::csr<Index, Value, Offset> to_host(const device_csr<Index, Value, Offset>& d) {
    storage::csr<Index, Value, Offset> a;
    a.rows = d.rows;
    a.cols = d.cols;
    a.row_ptr = to_host(d.row_ptr);
    a.col_idx = to_host(d.col_idx);
    if (d.has_values()) a.val = to_host(d.val);
    return a;
}

// Device twin of graph::gcn_operator.
template <index_type Index = index_t, class Value = float>
struct device_gcn_operator {
    device_csr<Index, Value> a;
    device_csr<Index, Value> at;  // empty when symmetric
    device_buffer<Value> row_scale, col_scale;
    bool symmetric = true;
    object_identity identity;  // as graph::gcn_operator's

    storage::sparse_view<Index, Value> forward() const {
        return a.view(row_scale.empty() ? nullptr : row_scale.data(), col_scale.empty() ? nullptr : col_scale.data());
    }
    // (R A C)^T = C A^T R.
    storage::sparse_view<Index, Value> backward() const {
        const auto& t = symmetric ? a : at;
        return t.view(col_scale.empty() ? nullptr : col_scale.data(), row_scale.empty() ? nullptr : row_scale.data());
    }
    std::size_t bytes() const noexcept { return a.bytes() + at.bytes() + row_scale.bytes() + col_scale.bytes(); }
};

template <class Index, class Value>
device_gcn_operator<Index, Value> to_device(const graph::gcn_operator<Index, Value>& op) {
    device_gcn_operator<Index, Value> d;
    d.a = to_device(op.a);
    if (!op.symmetric) d.at = to_device(op.at);
    if (!op.row_scale.empty()) d.row_scale = to_device(op.row_scale);
    if (!op.col_scale.empty()) d.col_scale = to_device(op.col_scale);
    d.symmetric = op.symmetric;
    return d;
}

}  // namespace mixgcn::gpu
