#pragma once
// A strategy's flat scratch buffers in the backend's memory: std::vector on the host, the
// backend's array on a device. They only grow (alternating layer widths do not
// reallocate every call). Private to the strategies.
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include "mixgcn/backend/memory.hpp"

namespace mixgcn::parallel::detail {

// A flat buffer in the backend's memory (std::vector on the host), grown on demand.
template <class B, class V>
using flat_buffer = std::conditional_t<backend::host_accessible<B>(), std::vector<V>, backend::array<B, V>>;

// Elements a flat buffer holds allocated (a vector's capacity, a device array's size).
template <class Buffer>
std::size_t allocated(const Buffer& buf) noexcept {
    if constexpr (requires { buf.capacity(); }) return buf.capacity();
    else return buf.size();
}

// The first n elements of a buffer that only grows.
template <class Buffer>
auto grown(Buffer& buf, std::size_t n) {
    if (buf.size() < n) buf.resize(n);
    return std::span(buf.data(), n);
}

}  // namespace mixgcn::parallel::detail
