#pragma once
// The five policy surfaces. Each is small on purpose: a new backend, partitioner or
// communicator is a struct that satisfies one of these, checked with static_assert at
// the point of composition (see mixgcn/config.hpp).
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/types.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn {

enum class transpose : bool { no = false, yes = true };

// Storage format: how one rank holds its adjacency block. It must expose its shape and
// non-zero count and hand kernels a sparse_view.
template <class S>
concept storage_format = requires(const S& s) {
    typename S::index_type;
    typename S::value_type;
    { s.rows } -> std::convertible_to<typename S::index_type>;
    { s.cols } -> std::convertible_to<typename S::index_type>;
    { s.nnz() } -> std::convertible_to<std::size_t>;
    s.validate();
};

// Execution backend (`mixgcn::execution_backend`; the namespace mixgcn::backend holds
// the implementations): where kernels run. Every operation works on views (pointer +
// shape) of memory the backend owns through `B::matrix<V>` / `B::array<T>`; the host
// and reference backends use host memory, the CUDA backend device memory.
template <class B, class V = float>
concept execution_backend = value_type<V> && requires(storage::sparse_view<index_t, V, offset_t> a,
                                             const_matrix_view<V> x, matrix_view<V> y, V s,
                                             const V* cptr, V* ptr, std::uint8_t* mask,
                                             const std::int32_t* labels, const index_t* rows,
                                             std::size_t n, std::uint64_t seed) {
    typename B::template matrix<V>;
    { B::name() } -> std::convertible_to<const char*>;
    B::aggregate(a, x, y);
    B::aggregate_rows(a, x, y, index_t{}, index_t{});
    B::gemm(transpose::no, transpose::no, s, x, x, s, y);
    B::bias_act(y, cptr, true);
    B::relu_backward(x, y);
    B::column_sum(x, ptr);
    B::dropout(x, y, mask, s, seed, dropout_index{});
    B::dropout_backward(y, mask, s);
    B::dropout_backward(y, s, seed, dropout_index{});  // the mask drawn again, none stored
    { B::softmax_cross_entropy(x, labels, rows, n, y, s) } -> std::convertible_to<double>;
    { B::count_correct(x, labels, rows, n) } -> std::convertible_to<std::size_t>;
    B::scale_add(n, s, cptr, ptr);  // ptr += s * cptr
};

}  // namespace mixgcn

#include "mixgcn/core/strategy.hpp"  // the parallel_strategy concept and its customisation points
