#pragma once
// A sparse matrix's arrays copied into a backend's memory, for a strategy that keeps its
// local operator on a device: row offsets, columns and (when present) values as
// backend arrays, and a storage::sparse_view over them for the backend's kernels. A
// host-memory backend reads the host CSR directly and needs no copy.
#include <cstddef>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/core/types.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/storage/csr.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::backend {

template <class B, class Index, class Value, class Offset = offset_t>
struct resident_csr {
    Index rows = 0, cols = 0;
    array<B, Offset> row_ptr;
    array<B, Index> col_idx;
    array<B, Value> val;

    resident_csr() = default;
    explicit resident_csr(const storage::csr<Index, Value, Offset>& a)
        : rows(a.rows), cols(a.cols), row_ptr(make_array<B>(a.row_ptr)), col_idx(make_array<B>(a.col_idx)),
          val(make_array<B>(a.val)) {}

    // Never reads the arrays on the host (sparse_view::nnz() would): the kernels do.
    storage::sparse_view<Index, Value, Offset> view(const Value* row_scale = nullptr,
                                                    const Value* col_scale = nullptr) const {
        return {rows, cols, row_ptr.data(), col_idx.data(), val.size() ? val.data() : nullptr, row_scale, col_scale};
    }
    // From the column array's length, on the host side.
    std::size_t nnz() const noexcept { return col_idx.size(); }
    std::size_t bytes() const noexcept {
        return row_ptr.size() * sizeof(Offset) + col_idx.size() * sizeof(Index) + val.size() * sizeof(Value);
    }
};

// A graph::gcn_operator in a backend's memory, with the same forward() / backward()
// views (backward: the stored transpose, or the operator itself when symmetric, with the
// scales swapped).
template <class B, class Index, class Value>
struct resident_operator {
    resident_csr<B, Index, Value> a, at;
    array<B, Value> row_scale, col_scale;
    bool symmetric = true;

    resident_operator() = default;
    explicit resident_operator(const ::mixgcn::graph::gcn_operator<Index, Value>& op)
        : a(op.a), row_scale(make_array<B>(op.row_scale)), col_scale(make_array<B>(op.col_scale)),
          symmetric(op.symmetric) {
        if (!symmetric) at = resident_csr<B, Index, Value>(op.at);  // a symmetric Â is its own transpose
    }

    storage::sparse_view<Index, Value> forward() const { return a.view(scale(row_scale), scale(col_scale)); }
    storage::sparse_view<Index, Value> backward() const {
        return (symmetric ? a : at).view(scale(col_scale), scale(row_scale));
    }
    std::size_t bytes() const noexcept {
        return a.bytes() + at.bytes() + (row_scale.size() + col_scale.size()) * sizeof(Value);
    }

private:
    static const Value* scale(const array<B, Value>& s) noexcept { return s.size() ? s.data() : nullptr; }
};

}  // namespace mixgcn::backend
