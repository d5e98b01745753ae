#pragma once
// Coordinate format: the exchange format between builders, loaders and converters.
#include <cstddef>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"

namespace mixgcn::storage {

template <index_type Index = index_t, class Value = float>
struct coo {
    using index_type = Index;
    using value_type = Value;

    Index rows = 0;
    Index cols = 0;
    std::vector<Index> row;
    std::vector<Index> col;
    std::vector<Value> val;  // empty: pattern matrix (all ones)

    std::size_t nnz() const noexcept { return row.size(); }
    bool has_values() const noexcept { return !val.empty(); }
    Value value(std::size_t k) const noexcept { return val.empty() ? Value(1) : val[k]; }

    void validate() const {
        require(row.size() == col.size(), "coo: ", row.size(), " row ids but ", col.size(), " column ids");
        require(val.empty() || val.size() == row.size(), "coo: ", val.size(), " values for ", row.size(),
                " entries");
        for (std::size_t k = 0; k < row.size(); ++k) {
            require(row[k] >= 0 && row[k] < rows, "coo: entry ", k, " has row ", row[k], " outside [0, ", rows, ")");
            require(col[k] >= 0 && col[k] < cols, "coo: entry ", k, " has column ", col[k], " outside [0, ", cols,
                    ")");
        }
    }
};

}  // namespace mixgcn::storage
