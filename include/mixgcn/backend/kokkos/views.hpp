#pragma once
// Unmanaged Kokkos Views over mixgcn's pointer + shape views, and an owning matrix for
// memory spaces the host cannot touch. The wrapped pointers must live in `Space`'s
// memory: host memory for Serial/OpenMP, device memory for CUDA.
#if defined(MIXGCN_HAS_KOKKOS)
#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>
#include <type_traits>

#include "mixgcn/core/dense.hpp"

namespace mixgcn::backend::kokkos_detail {

template <class T, class Space>
using unmanaged_2d = Kokkos::View<T**, Kokkos::LayoutStride, Space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
template <class T, class Space>
using unmanaged_1d = Kokkos::View<T*, Kokkos::LayoutRight, Space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

// A row-major view with a row stride (column blocks of wider matrices stay copy-free).
template <class Space, class T>
unmanaged_2d<T, Space> wrap(matrix_view<T> m) {
    return unmanaged_2d<T, Space>(m.data(), Kokkos::LayoutStride(m.rows(), m.stride(), m.cols(), 1));
}
template <class Space, class T>
unmanaged_1d<T, Space> wrap(T* p, std::size_t n) {
    return unmanaged_1d<T, Space>(p, n);
}

template <class Space>
inline constexpr bool host_accessible = Kokkos::SpaceAccessibility<Kokkos::HostSpace, Space>::accessible;

// Reads one element that may live in device memory.
template <class Space, class T>
T read_one(const T* p) {
    if constexpr (host_accessible<Space>) {
        return *p;
    } else {
        T out{};
        Kokkos::deep_copy(Kokkos::View<T, Kokkos::HostSpace>(&out), Kokkos::View<const T, Space>(p));
        return out;
    }
}

}  // namespace mixgcn::backend::kokkos_detail

namespace mixgcn::backend {

// Owning row-major matrix in a Kokkos memory space, with the same surface kernels use
// from dense_matrix (rows, cols, data, view). Used for spaces the host cannot access.
template <class T, class MemorySpace>
class kokkos_matrix {
public:
    using value_type = T;
    using memory_space = MemorySpace;

    kokkos_matrix() = default;
    kokkos_matrix(std::size_t rows, std::size_t cols)
        : v_(std::string("mixgcn::kokkos_matrix"), rows, cols) {}

    std::size_t rows() const noexcept { return v_.extent(0); }
    std::size_t cols() const noexcept { return v_.extent(1); }
    std::size_t size() const noexcept { return rows() * cols(); }
    std::size_t bytes() const noexcept { return size() * sizeof(T); }
    T* data() const noexcept { return v_.data(); }
    matrix_view<T> view() const noexcept { return {v_.data(), rows(), cols()}; }
    const_matrix_view<T> cview() const noexcept { return view(); }
    operator matrix_view<T>() const noexcept { return view(); }
    operator const_matrix_view<T>() const noexcept { return view(); }
    void fill(T v) const { Kokkos::deep_copy(v_, v); }
    void resize(std::size_t rows, std::size_t cols) {
        if (rows != this->rows() || cols != this->cols()) v_ = decltype(v_)(std::string("mixgcn::kokkos_matrix"), rows, cols);
    }
    const Kokkos::View<T**, Kokkos::LayoutRight, MemorySpace>& kokkos_view() const noexcept { return v_; }

private:
    Kokkos::View<T**, Kokkos::LayoutRight, MemorySpace> v_;
};

}  // namespace mixgcn::backend
#endif  // MIXGCN_HAS_KOKKOS
