#pragma once
// Dense c = alpha · op(a) · op(b) + beta · c through Eigen. The views are row-major with
// a row stride, which is exactly Eigen's RowMajor Map with an OuterStride, so no copy is
// made. Eigen's GEMM is cache-blocked, vectorised, and uses the OpenMP threads when the
// translation unit is compiled with OpenMP.
#include <cstddef>

#include <Eigen/Core>

#include "mixgcn/backend/common.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/dense.hpp"

namespace mixgcn::backend::host_detail {

template <class V>
using eigen_row_major = Eigen::Matrix<V, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class T>
auto eigen_map(matrix_view<T> m) {
    using V = typename matrix_view<T>::value_type;
    using map_type = Eigen::Map<std::conditional_t<std::is_const_v<T>, const eigen_row_major<V>, eigen_row_major<V>>,
                                Eigen::Unaligned, Eigen::OuterStride<>>;
    // An empty or single-row view may carry stride 0; Eigen only needs stride >= cols.
    const auto stride = static_cast<Eigen::Index>(m.stride() < m.cols() ? m.cols() : m.stride());
    return map_type(m.data(), static_cast<Eigen::Index>(m.rows()), static_cast<Eigen::Index>(m.cols()),
                    Eigen::OuterStride<>(stride));
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
