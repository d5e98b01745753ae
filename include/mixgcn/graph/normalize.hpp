#pragma once
// GCN normalisation Â = D^-1/2 (A + I) D^-1/2 (Kipf & Welling), either fused (pattern +
// D^-1/2 vectors, applied inside the aggregation loop) or materialised as edge weights,
// and row normalisation of features.
#include <cmath>
#include <vector>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/identity.hpp"
#include "mixgcn/storage/convert.hpp"
#include "mixgcn/storage/csr.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::graph {

enum class normalization_mode { fused, edge_weights };

// The normalised operator and what backward needs: for a symmetric Â the transpose is
// the operator itself; otherwise (directed input, rectangular blocks) it is stored.
template <index_type Index = index_t, class Value = float>
struct gcn_operator {
    storage::csr<Index, Value> a;   // rows x cols; pattern when fused
    storage::csr<Index, Value> at;  // transpose; empty when symmetric
    std::vector<Value> row_scale;   // fused: D^-1/2 of rows; empty with edge weights
    std::vector<Value> col_scale;   // fused: D^-1/2 of columns
    bool symmetric = true;
    // What caches of Â·X key on (nn::layer_options::cache_eval_aggregation): an operator
    // changed in place keeps its identity, so call the model's invalidate_cache() then.
    object_identity identity;

    storage::sparse_view<Index, Value> forward() const {
        return storage::view_of(a, row_scale.empty() ? nullptr : row_scale.data(),
                                col_scale.empty() ? nullptr : col_scale.data());
    }
    storage::sparse_view<Index, Value> backward() const {
        const auto& t = symmetric ? a : at;
        // (R A C)ᵀ = C Aᵀ R: the scales swap roles.
        return storage::view_of(t, col_scale.empty() ? nullptr : col_scale.data(),
                                row_scale.empty() ? nullptr : row_scale.data());
    }
    std::size_t bytes() const noexcept {
        return a.bytes() + at.bytes() + (row_scale.size() + col_scale.size()) * sizeof(Value);
    }
};

namespace detail {
// Appends row r's columns (ascending) to `out` with the self-loop r in its place, added
// when missing: one row of A + I, as gcn_normalize and parallel::graph build it.
template <class Index, class Cols>
void append_with_self_loop(Index r, const Cols& cols, std::vector<Index>& out) {
    bool placed = false;
    for (Index c : cols) {
        if (!placed && c >= r) {
            if (c != r) out.push_back(r);
            placed = true;
        }
        out.push_back(c);
    }
    if (!placed) out.push_back(r);
}
}  // namespace detail

// Adds I (where a self-loop is missing) and normalises. The input pattern's values are
// ignored; degrees count the self-loop, so isolated nodes get degree 1.
template <class Value, class Index>
gcn_operator<Index, Value> gcn_normalize(const storage::csr<Index, Value>& adjacency,
                                         normalization_mode mode = normalization_mode::fused) {
    require(adjacency.rows == adjacency.cols, "gcn_normalize: adjacency is ", adjacency.rows, "x", adjacency.cols,
            ", expected square");
    const Index n = adjacency.rows;
    gcn_operator<Index, Value> op;
    auto& a = op.a;
    a.rows = a.cols = n;
    a.row_ptr.assign(static_cast<std::size_t>(n) + 1, 0);
    a.col_idx.reserve(adjacency.nnz() + static_cast<std::size_t>(n));
    for (Index r = 0; r < n; ++r) {
        detail::append_with_self_loop(r, adjacency.row_cols(r), a.col_idx);
        a.row_ptr[static_cast<std::size_t>(r) + 1] = static_cast<offset_t>(a.col_idx.size());
    }
    // Degrees in double so float runs see the same normalisation as double runs.
    std::vector<double> dinv(static_cast<std::size_t>(n));
    for (Index r = 0; r < n; ++r) dinv[static_cast<std::size_t>(r)] = 1.0 / std::sqrt(double(a.degree(r)));
    op.symmetric = storage::is_symmetric(adjacency);
    if (!op.symmetric) {
        // Column degrees of a directed graph would differ; GCN uses the row degree
        // (out-degree + 1) on both sides, as PyG's gcn_norm does for the source side.
        op.at = storage::transpose(a);
    }
    if (mode == normalization_mode::fused) {
        op.row_scale.assign(dinv.begin(), dinv.end());
        op.col_scale = op.row_scale;
    } else {
        a.val.resize(a.nnz());
        for (Index r = 0; r < n; ++r)
            for (offset_t k = a.row_begin(r); k < a.row_end(r); ++k)
                a.val[static_cast<std::size_t>(k)] = static_cast<Value>(
                    dinv[static_cast<std::size_t>(r)] * dinv[static_cast<std::size_t>(a.col_idx[static_cast<std::size_t>(k)])]);
        if (!op.symmetric) op.at = storage::transpose(a);
    }
    return op;
}

// Scales every row to sum 1 (rows of zeros stay zero), as Kipf & Welling preprocess
// bag-of-words features.
template <class Value>
void row_normalize(dense_matrix<Value>& x) {
    for (std::size_t r = 0; r < x.rows(); ++r) {
        double s = 0;
        for (std::size_t c = 0; c < x.cols(); ++c) s += x(r, c);
        if (s == 0) continue;
        for (std::size_t c = 0; c < x.cols(); ++c) x(r, c) = static_cast<Value>(x(r, c) / s);
    }
}

}  // namespace mixgcn::graph
