#pragma once
// Conversions between coo and csr, and the transpose (used for backward aggregation on
// rectangular or directed blocks). All are O(nnz) counting sorts, deterministic.
#include <algorithm>
#include <numeric>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "mixgcn/storage/coo.hpp"
#include "mixgcn/storage/csr.hpp"

namespace mixgcn::storage {

// Builds a csr from coo; entries with the same (row, col) are summed (values) or
// merged (pattern). Columns end up sorted within each row.
template <class Index, class Value>
csr<Index, Value> to_csr(const coo<Index, Value>& a) {
    a.validate();
    csr<Index, Value> out;
    out.rows = a.rows;
    out.cols = a.cols;
    const std::size_t n = static_cast<std::size_t>(a.rows);
    std::vector<offset_t> count(n + 1, 0);
    for (Index r : a.row) ++count[static_cast<std::size_t>(r) + 1];
    std::partial_sum(count.begin(), count.end(), count.begin());
    std::vector<Index> cols(a.nnz());
    std::vector<Value> vals(a.has_values() ? a.nnz() : 0);
    {
        std::vector<offset_t> next(count.begin(), count.end() - 1);
        for (std::size_t k = 0; k < a.nnz(); ++k) {
            const auto pos = static_cast<std::size_t>(next[static_cast<std::size_t>(a.row[k])]++);
            cols[pos] = a.col[k];
            if (a.has_values()) vals[pos] = a.val[k];
        }
    }
    // Sort each row by column and merge duplicates.
    out.row_ptr.assign(n + 1, 0);
    out.col_idx.reserve(a.nnz());
    if (a.has_values()) out.val.reserve(a.nnz());
    std::vector<std::size_t> perm;
    for (std::size_t r = 0; r < n; ++r) {
        const auto b = static_cast<std::size_t>(count[r]), e = static_cast<std::size_t>(count[r + 1]);
        perm.resize(e - b);
        std::iota(perm.begin(), perm.end(), b);
        std::stable_sort(perm.begin(), perm.end(), [&](std::size_t x, std::size_t y) { return cols[x] < cols[y]; });
        for (std::size_t i = 0; i < perm.size(); ++i) {
            const Index c = cols[perm[i]];
            const bool dup = i > 0 && cols[perm[i - 1]] == c;
            if (dup) {
                if (a.has_values()) out.val.back() += vals[perm[i]];
                continue;
            }
            out.col_idx.push_back(c);
            if (a.has_values()) out.val.push_back(vals[perm[i]]);
        }
        out.row_ptr[r + 1] = static_cast<offset_t>(out.col_idx.size());
    }
    return out;
}

template <class Index, class Value, class Offset>
coo<Index, Value> to_coo(const csr<Index, Value, Offset>& a) {
    coo<Index, Value> out;
    out.rows = a.rows;
    out.cols = a.cols;
    out.row.reserve(a.nnz());
    for (Index r = 0; r < a.rows; ++r)
        for (Offset k = a.row_begin(r); k < a.row_end(r); ++k) out.row.push_back(r);
    out.col = a.col_idx;
    out.val = a.val;
    return out;
}

// Aᵀ as csr (equivalently A in csc). Counting sort keeps columns sorted per row. Large
// matrices are transposed on the OpenMP threads: thread t counts the columns of its block
// of rows, its writes into each output row start after those of threads < t, so every
// output row lists its entries by ascending input row, as one thread would (same result
// on any thread count). It holds threads x (cols + 1) offsets while it runs.
template <class Index, class Value, class Offset>
csr<Index, Value, Offset> transpose(const csr<Index, Value, Offset>& a) {
    csr<Index, Value, Offset> t;
    t.rows = a.cols;
    t.cols = a.rows;
    const auto cols = static_cast<std::size_t>(a.cols);
    const bool values = a.has_values();
    t.row_ptr.assign(cols + 1, 0);
    t.col_idx.resize(a.nnz());
    if (values) t.val.resize(a.nnz());
    std::size_t T = 1;
#ifdef _OPENMP
    if (a.nnz() >= (std::size_t(1) << 20)) T = std::size_t(std::max(1, omp_get_max_threads()));
    // The per-thread offsets may not outgrow the entries (a wide block with few rows).
    while (T > 1 && T * cols > a.nnz()) --T;
#endif
    // next[t * cols + c]: thread t's count of column c, then where its next entry goes.
    std::vector<Offset> next(T * cols, 0);
    const auto first_row = [&](std::size_t part) { return static_cast<Index>(std::size_t(a.rows) * part / T); };
#pragma omp parallel num_threads(int(T))
    {
#ifdef _OPENMP
        const auto part = std::size_t(omp_get_thread_num());
#else
        const std::size_t part = 0;
#endif
        Offset* mine = next.data() + part * cols;
        const auto kb = static_cast<std::size_t>(a.row_begin(first_row(part)));
        const auto ke = static_cast<std::size_t>(a.row_begin(first_row(part + 1)));
        for (std::size_t k = kb; k < ke; ++k) ++mine[static_cast<std::size_t>(a.col_idx[k])];
#pragma omp barrier
#pragma omp single
        {
            Offset at = 0;
            for (std::size_t c = 0; c < cols; ++c) {
                t.row_ptr[c] = at;
                for (std::size_t q = 0; q < T; ++q) {
                    const Offset n = next[q * cols + c];
                    next[q * cols + c] = at;
                    at += n;
                }
            }
            t.row_ptr[cols] = at;
        }
        for (Index r = first_row(part); r < first_row(part + 1); ++r)
            for (Offset k = a.row_begin(r); k < a.row_end(r); ++k) {
                const auto c = static_cast<std::size_t>(a.col_idx[static_cast<std::size_t>(k)]);
                const auto pos = static_cast<std::size_t>(mine[c]++);
                t.col_idx[pos] = r;
                if (values) t.val[pos] = a.val[static_cast<std::size_t>(k)];
            }
    }
    return t;
}

// True when the pattern (and values, if any) equal their transpose.
template <class Index, class Value, class Offset>
bool is_symmetric(const csr<Index, Value, Offset>& a) {
    if (a.rows != a.cols) return false;
    const auto t = transpose(a);
    return t.row_ptr == a.row_ptr && t.col_idx == a.col_idx && t.val == a.val;
}

}  // namespace mixgcn::storage
