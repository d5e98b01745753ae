#pragma once
// Run-time feature width -> compile-time kernel instance (Ginkgo's implementation
// selection): the widths listed are instantiated, anything else takes the generic
// chunked fallback. Keep the list short; every entry is one more kernel per value type.
#include <cstddef>
#include <type_traits>

namespace mixgcn::backend::host_detail {

template <int... Widths>
struct width_list {};

// The widths the host aggregation instantiates: the usual GCN hidden sizes, and 8 for
// the last layer of transform-first models with a handful of classes (measured: the
// generic kernel took 6.5% of a 100k-node epoch at 8 classes).
using aggregate_widths = width_list<8, 16, 32, 64, 128, 256>;

// Calls fixed(std::integral_constant<int, W>{}) for the W in the list equal to `width`,
// or fallback() when none is.
template <int W, int... Rest, class Fixed, class Fallback>
decltype(auto) dispatch_width(width_list<W, Rest...>, std::size_t width, Fixed&& fixed, Fallback&& fallback) {
    if (width == static_cast<std::size_t>(W)) return fixed(std::integral_constant<int, W>{});
    if constexpr (sizeof...(Rest) == 0)
        return fallback();
    else
        return dispatch_width(width_list<Rest...>{}, width, static_cast<Fixed&&>(fixed),
                              static_cast<Fallback&&>(fallback));
}

template <int... Widths>
constexpr bool is_instantiated_width(width_list<Widths...>, std::size_t width) noexcept {
    return ((width == static_cast<std::size_t>(Widths)) || ...);
}

}  // namespace mixgcn::backend::host_detail
