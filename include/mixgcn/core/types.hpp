#pragma once
// Index and value types used across the library. Node ids fit int32 up to 2^31 nodes;
// non-zero counts use int64 so R-MAT scale 24+ graphs (hundreds of millions of
// non-zeros) never overflow an offset.
#include <concepts>
#include <cstddef>
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

namespace mixgcn {

// Where a local block of an activation sits in the global matrix, so a dropout mask
// drawn on it is a pure function of (seed, global row, global column) whatever the
// layout: local row r is global row `row_ids[r]` (when given, in the backend's memory)
// or `row_offset + r`; local column c is global column `col_offset + c`. Converts from a
// plain row offset, the contiguous case.
struct dropout_index {
    const index_t* row_ids = nullptr;
    std::uint64_t row_offset = 0;
    std::uint64_t col_offset = 0;

    constexpr dropout_index() noexcept = default;
    constexpr dropout_index(std::uint64_t offset) noexcept : row_offset(offset) {}  // NOLINT: implicit on purpose
    constexpr dropout_index(const index_t* ids, std::uint64_t offset, std::uint64_t cols) noexcept
        : row_ids(ids), row_offset(offset), col_offset(cols) {}
#if defined(__CUDACC__)
    __host__ __device__
#endif
    constexpr std::uint64_t row(std::size_t r) const noexcept {
        return row_ids ? static_cast<std::uint64_t>(row_ids[r]) : row_offset + r;
    }
};

}  // namespace mixgcn
