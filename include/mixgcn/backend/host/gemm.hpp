#pragma once
// Dense c = alpha · op(a) · op(b) + beta · c on the row-major views with their strides, no
// copy made. float and double run the register-tiled kernel of gemm_kernel.hpp (faster than
// Eigen on GCN's tall, narrow shapes, docs/kernels.md); other value types go through Eigen
// (a RowMajor Map with an OuterStride is exactly such a view).
#include <cstddef>
#include <type_traits>

#include <Eigen/Core>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/backend/host/gemm_kernel.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/dense.hpp"

namespace mixgcn::backend::host_detail {

template <class V>
using eigen_row_major = Eigen::Matrix<V, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A view's row stride as the kernels take it: an empty or single-row view may carry
// stride 0, and only stride >= cols is meaningful.
template <class T>
std::size_t row_stride(matrix_view<T> m) noexcept {
    return m.stride() < m.cols() ? m.cols() : m.stride();
}

template <class T>
auto eigen_map(matrix_view<T> m) {
    using V = typename matrix_view<T>::value_type;
    using map_type = Eigen::Map<std::conditional_t<std::is_const_v<T>, const eigen_row_major<V>, eigen_row_major<V>>,
                                Eigen::Unaligned, Eigen::OuterStride<>>;
    return map_type(m.data(), static_cast<Eigen::Index>(m.rows()), static_cast<Eigen::Index>(m.cols()),
                    Eigen::OuterStride<>(static_cast<Eigen::Index>(row_stride(m))));
}

template <class V>
void gemm(transpose ta, transpose tb, V alpha, const_matrix_view<V> a, const_matrix_view<V> b, V beta,
          matrix_view<V> c) {
    const bool at = ta == transpose::yes, bt = tb == transpose::yes;
    const std::size_t m = at ? a.cols() : a.rows(), k = at ? a.rows() : a.cols();
    const std::size_t kb = bt ? b.cols() : b.rows(), n = bt ? b.rows() : b.cols();
    check_gemm_shapes(m, k, kb, n, c);
    if (m == 0 || n == 0) return;
    auto cm = eigen_map(c);
    if (k == 0 || alpha == V(0)) {
        // Nothing to add: c = beta · c, and beta == 0 must not read c (it may be garbage).
        if (beta == V(0))
            cm.setZero();
        else if (beta != V(1))
            cm *= beta;
        return;
    }
    if constexpr (std::is_same_v<V, float> || std::is_same_v<V, double>) {
        // op(a)(i, p) = a[i·rsa + p·csa], op(b)(p, j) = b[p·rsb + j·csb].
        const std::size_t sa = row_stride(a), sb = row_stride(b);
        gemm_kernel::gemm(m, n, k, alpha, a.data(), at ? 1 : sa, at ? sa : 1, b.data(), bt ? 1 : sb, bt ? sb : 1, beta,
                          c.data(), row_stride(c));
        return;
    }
    const auto am = eigen_map(a);
    const auto bm = eigen_map(b);
    // Eigen folds the scalar factor into its GEMM kernel. With beta == 0 the assignment
    // form (noalias, =) zero-fills or overwrites c without reading it.
    auto run = [&](const auto& lhs, const auto& rhs) {
        if (beta == V(0)) {
            cm.noalias() = alpha * lhs * rhs;
        } else {
            if (beta != V(1)) cm *= beta;
            cm.noalias() += alpha * lhs * rhs;
        }
    };
    if (!at && !bt)
        run(am, bm);
    else if (!at && bt)
        run(am, bm.transpose());
    else if (at && !bt)
        run(am.transpose(), bm);
    else
        run(am.transpose(), bm.transpose());
}

}  // namespace mixgcn::backend::host_detail
