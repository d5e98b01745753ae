#pragma once
// Dense products through cuBLAS. cuBLAS is column-major; a row-major M (r x c, stride s)
// is the column-major Mᵀ with leading dimension s, so C = op(A) op(B) is computed as
// Cᵀ = op(B)ᵀ op(A)ᵀ: operands swapped, transpose flags unchanged.
#include <cublas_v2.h>

#include <algorithm>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/backend/cuda/context.cuh"
#include "mixgcn/core/concepts.hpp"

namespace mixgcn::gpu {

// c = alpha * op(a) * op(b) + beta * c on device views. With beta == 0, c is not read
// (NaN in c does not propagate), as in the reference backend. Float GEMMs use TF32
// tensor cores only when the context says so (context::set_tf32).
template <class V>
void gemm(transpose ta, transpose tb, V alpha, const_matrix_view<V> a, const_matrix_view<V> b, V beta,
          matrix_view<V> c) {
    const bool at = ta == transpose::yes, bt = tb == transpose::yes;
    const std::size_t m = at ? a.cols() : a.rows(), k = at ? a.rows() : a.cols();
    const std::size_t kb = bt ? b.cols() : b.rows(), n = bt ? b.rows() : b.cols();
    backend::check_gemm_shapes(m, k, kb, n, c);
    if (m == 0 || n == 0) return;
    const auto opa = at ? CUBLAS_OP_T : CUBLAS_OP_N, opb = bt ? CUBLAS_OP_T : CUBLAS_OP_N;
    // Leading dimensions must be at least the column-major row count, even for views of
    // one row whose stride was left at 0.
    const auto ld = [](const auto& v) { return static_cast<long long>(std::max<std::size_t>({v.stride(), v.cols(), 1})); };
    require(m <= 0x7fffffffu && n <= 0x7fffffffu && k <= 0x7fffffffu, "gpu::gemm: ", m, "x", n, "x", k,
            " exceeds cuBLAS's 32-bit sizes");
    const auto mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    const auto lda = static_cast<int>(ld(a)), ldb = static_cast<int>(ld(b)), ldc = static_cast<int>(ld(c));
    cublasHandle_t h = current_context().blas();
    if constexpr (std::is_same_v<V, float>) {
        MIXGCN_CUDA_CHECK(cublasSgemm(h, opb, opa, ni, mi, ki, &alpha, b.data(), ldb, a.data(), lda, &beta, c.data(), ldc));
    } else {
        MIXGCN_CUDA_CHECK(cublasDgemm(h, opb, opa, ni, mi, ki, &alpha, b.data(), ldb, a.data(), lda, &beta, c.data(), ldc));
    }
}

}  // namespace mixgcn::gpu
