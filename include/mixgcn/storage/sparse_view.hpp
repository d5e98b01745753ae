#pragma once
// The non-owning operator every aggregation kernel consumes:
//   Y = diag(row_scale) · A · diag(col_scale) · X
// where A is a csr block (values, or all ones when `val` is null) and a null scale
// means 1. The GCN normalisation D^-1/2 (A+I) D^-1/2 is either fused this way (pattern
// plus two scale vectors: 4 fewer bytes per non-zero) or stored as edge weights.
#include <cstddef>

#include "mixgcn/core/types.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::storage {

template <class Index = index_t, class Value = float, class Offset = offset_t>
struct sparse_view {
    using index_type = Index;
    using value_type = Value;
    using offset_type = Offset;

    Index rows = 0;
    Index cols = 0;
    const Offset* row_ptr = nullptr;
    const Index* col_idx = nullptr;
    const Value* val = nullptr;
    const Value* row_scale = nullptr;
    const Value* col_scale = nullptr;

    std::size_t nnz() const noexcept { return rows == 0 ? 0 : static_cast<std::size_t>(row_ptr[rows]); }
    Value weight(Index r, Offset k) const noexcept {
        Value w = val ? val[k] : Value(1);
        if (row_scale) w *= row_scale[r];
        if (col_scale) w *= col_scale[col_idx[k]];
        return w;
    }
};

template <class Index, class Value, class Offset>
sparse_view<Index, Value, Offset> view_of(const csr<Index, Value, Offset>& a, const Value* row_scale = nullptr,
                                          const Value* col_scale = nullptr) {
    return {a.rows, a.cols, a.row_ptr.data(), a.col_idx.data(), a.has_values() ? a.val.data() : nullptr,
            row_scale, col_scale};
}

}  // namespace mixgcn::storage
