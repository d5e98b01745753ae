#pragma once
// Compressed sparse rows: the storage every aggregation kernel reads. Column ids within
// a row are sorted. `val` may be empty (pattern only), in which case kernels use the
// fused degree scaling instead of per-edge weights.
#include <cstddef>
#include <span>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"

namespace mixgcn::storage {

template <index_type Index = index_t, class Value = float, class Offset = offset_t>
struct csr {
    using index_type = Index;
    using value_type = Value;
    using offset_type = Offset;

    Index rows = 0;
    Index cols = 0;
    std::vector<Offset> row_ptr{0};  // rows + 1 entries
    std::vector<Index> col_idx;
    std::vector<Value> val;  // empty or nnz entries

    std::size_t nnz() const noexcept { return col_idx.size(); }
    bool has_values() const noexcept { return !val.empty(); }
    Offset row_begin(Index r) const noexcept { return row_ptr[static_cast<std::size_t>(r)]; }
    Offset row_end(Index r) const noexcept { return row_ptr[static_cast<std::size_t>(r) + 1]; }
    Index degree(Index r) const noexcept { return static_cast<Index>(row_end(r) - row_begin(r)); }
    std::span<const Index> row_cols(Index r) const noexcept {
        return {col_idx.data() + row_begin(r), static_cast<std::size_t>(degree(r))};
    }
    std::size_t bytes() const noexcept {
        return row_ptr.size() * sizeof(Offset) + col_idx.size() * sizeof(Index) + val.size() * sizeof(Value);
    }

    // Checks every structural invariant; used on anything that came from outside.
    void validate() const {
        require(rows >= 0 && cols >= 0, "csr: negative shape ", rows, "x", cols);
        require(row_ptr.size() == static_cast<std::size_t>(rows) + 1, "csr: row_ptr has ", row_ptr.size(),
                " entries for ", rows, " rows");
        require(row_ptr.front() == 0, "csr: row_ptr[0] is ", row_ptr.front());
        require(static_cast<std::size_t>(row_ptr.back()) == col_idx.size(), "csr: row_ptr ends at ", row_ptr.back(),
                " but there are ", col_idx.size(), " column ids");
        require(val.empty() || val.size() == col_idx.size(), "csr: ", val.size(), " values for ", col_idx.size(),
                " non-zeros");
        for (Index r = 0; r < rows; ++r) {
            require(row_end(r) >= row_begin(r), "csr: row ", r, " has negative length");
            for (Offset k = row_begin(r); k < row_end(r); ++k) {
                const Index c = col_idx[static_cast<std::size_t>(k)];
                require(c >= 0 && c < cols, "csr: row ", r, " has column ", c, " outside [0, ", cols, ")");
                require(k == row_begin(r) || col_idx[static_cast<std::size_t>(k) - 1] < c, "csr: row ", r,
                        " columns are not strictly increasing at column ", c);
            }
        }
    }
};

}  // namespace mixgcn::storage
