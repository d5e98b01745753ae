#pragma once
// GCN normalisation Â = D^-1/2 (A + I) D^-1/2 (Kipf & Welling), either fused (pattern +
// D^-1/2 vectors, applied inside the aggregation loop) or materialised as edge weights,
// and row normalisation of features.
#include <cmath>
#include <cstddef>
#include <numeric>
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
// Row r of A + I from row r's columns (ascending): the self-loop r in its place, added
// when missing, as gcn_normalize and parallel::graph build it.
template <class Index, class Cols>
bool self_loop_missing(Index r, const Cols& cols) {
    for (Index c : cols)
        if (c >= r) return c != r;
    return true;
}
template <class Index, class Cols>
Index* write_with_self_loop(Index r, const Cols& cols, Index* out) {
    bool placed = false;
    for (Index c : cols) {
        if (!placed && c >= r) {
            if (c != r) *out++ = r;
            placed = true;
        }
        *out++ = c;
    }
    if (!placed) *out++ = r;
    return out;
}

// The pattern of A + I over the rows of `rows`, row k being node row_id(k): rows counted,
// then written at their offsets, on the OpenMP threads when they are many (the same
// result on any thread count).
template <class Index, class Value, class RowId>
void pattern_with_self_loops(const storage::csr<Index, Value>& rows, RowId&& row_id, storage::csr<Index, Value>& out) {
    const auto n = static_cast<std::ptrdiff_t>(rows.rows);
    [[maybe_unused]] const bool many = rows.nnz() >= (std::size_t(1) << 20);
    out.rows = rows.rows;
    out.cols = rows.cols;
    out.row_ptr.assign(static_cast<std::size_t>(n) + 1, 0);
    out.val.clear();
#pragma omp parallel for schedule(static) if (many)
    for (std::ptrdiff_t k = 0; k < n; ++k) {
        const auto cols = rows.row_cols(Index(k));
        out.row_ptr[std::size_t(k) + 1] =
            static_cast<offset_t>(cols.size() + (self_loop_missing(Index(row_id(std::size_t(k))), cols) ? 1 : 0));
    }
    std::partial_sum(out.row_ptr.begin(), out.row_ptr.end(), out.row_ptr.begin());
    out.col_idx.resize(static_cast<std::size_t>(out.row_ptr.back()));
#pragma omp parallel for schedule(static) if (many)
    for (std::ptrdiff_t k = 0; k < n; ++k)
        write_with_self_loop(Index(row_id(std::size_t(k))), rows.row_cols(Index(k)),
                             out.col_idx.data() + out.row_ptr[std::size_t(k)]);
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
    detail::pattern_with_self_loops(adjacency, [](std::size_t r) { return r; }, a);
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
