#pragma once
// Where a backend keeps its data, and the few moves the generic layers (nn, train) need
// to make across that boundary. Host-memory backends (host, reference, Kokkos on a host
// space) declare nothing and get plain host code: std::vector arrays and std::copy.
// A backend over device memory declares
//     static constexpr bool host_accessible = false;
//     template <class T> using array = ...;          // resize(n), data(), size()
//     static void upload(const T* host, std::size_t n, T* dev);
//     static void download(const T* dev, std::size_t n, T* host);  // complete on return
// and the optimizer steps of nn/optimizer.hpp (adam_step, sgd_step) on its memory.
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "mixgcn/core/dense.hpp"

namespace mixgcn::backend {

// True when the host may dereference the backend's pointers.
template <class B>
consteval bool host_accessible() {
    if constexpr (requires { B::host_accessible; }) return bool(B::host_accessible);
    else return true;
}

namespace memory_detail {
template <class B, class T>
struct array_of {
    // A silent std::vector here would hand host pointers to device kernels.
    static_assert(host_accessible<B>(),
                  "A backend over device memory (host_accessible = false) must declare its own "
                  "`template <class T> using array = ...;` (see backend/memory.hpp).");
    using type = std::vector<T>;
};
template <class B, class T>
    requires requires { typename B::template array<T>; }
struct array_of<B, T> {
    using type = typename B::template array<T>;
};
}  // namespace memory_detail

// A one-dimensional array in the backend's memory (masks, optimizer moments, labels).
template <class B, class T>
using array = typename memory_detail::array_of<B, T>::type;

// n elements from host memory into backend memory.
template <class B, class T>
void copy_from_host(const T* host, std::size_t n, T* dst) {
    if constexpr (host_accessible<B>()) std::copy(host, host + n, dst);
    else B::upload(host, n, dst);
}

// n elements from backend memory into host memory; the data is ready on return.
template <class B, class T>
void copy_to_host(const T* src, std::size_t n, T* host) {
    if constexpr (host_accessible<B>()) std::copy(src, src + n, host);
    else B::download(src, n, host);
}

template <class B, class T>
std::vector<T> to_host_vector(const T* src, std::size_t n) {
    std::vector<T> h(n);
    copy_to_host<B>(src, n, h.data());
    return h;
}

// A backend array holding a copy of host data.
template <class B, class T>
array<B, T> make_array(const std::vector<T>& host) {
    array<B, T> a;
    a.resize(host.size());
    copy_from_host<B>(host.data(), host.size(), a.data());
    return a;
}

// A matrix in B's memory holding a copy of a host matrix: one copy when the host rows
// are contiguous (a device backend waits once, not once per row), row by row otherwise.
template <class B, class V>
typename B::template matrix<V> matrix_from_host(const_matrix_view<V> host) {
    typename B::template matrix<V> m(host.rows(), host.cols());
    if (host.contiguous()) {
        copy_from_host<B>(host.data(), host.rows() * host.cols(), m.data());
    } else {
        for (std::size_t r = 0; r < host.rows(); ++r) copy_from_host<B>(host.row(r), host.cols(), m.view().row(r));
    }
    return m;
}

}  // namespace mixgcn::backend
