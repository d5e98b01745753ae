#pragma once
// Index and value types used across the library. Node ids fit int32 up to 2^31 nodes;
// non-zero counts use int64 so R-MAT scale 24+ graphs (hundreds of millions of
// non-zeros) never overflow an offset.
#include <concepts>
#include <cstdint>
#include <type_traits>

namespace mixgcn {

using index_t = std::int32_t;  // default node id
using offset_t = std::int64_t;  // default offset into non-zeros

template <class T>
concept index_type = std::same_as<T, std::int32_t> || std::same_as<T, std::int64_t>;

template <class T>
concept value_type = std::same_as<T, float> || std::same_as<T, double>;

}  // namespace mixgcn
