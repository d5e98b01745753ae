#pragma once
// Non-zero balanced row ranges for CSR kernels. Splitting rows evenly leaves power-law
// graphs badly skewed (one hub row can hold half the non-zeros), so a thread's share is
// a contiguous row range whose cost, nnz + rows (an empty row still costs a store), is
// as close as possible to total / parts. The boundaries come from a binary search on
// the monotone prefix cost row_ptr[r] + r: O(parts · log rows), cheap enough to redo
// on every call, so nothing is cached behind the caller's back.
#include <cstddef>
#include <cstdint>

namespace mixgcn::backend::host_detail {

// First row r in [first, last] with row_ptr[r] + r >= target (last when none).
template <class I, class O>
I first_row_with_cost(const O* row_ptr, I first, I last, std::int64_t target) noexcept {
    I lo = first, hi = last;
    while (lo < hi) {
        const I mid = lo + (hi - lo) / 2;
        if (static_cast<std::int64_t>(row_ptr[mid]) + static_cast<std::int64_t>(mid) < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

// Start row of part `part` of `parts` over rows [first, last); part == parts gives last.
// Consecutive parts tile the range exactly, whatever the graph.
template <class I, class O>
I balanced_row_begin(const O* row_ptr, I first, I last, std::size_t part, std::size_t parts) noexcept {
    if (part == 0) return first;
    if (part >= parts) return last;
    const std::int64_t lo = static_cast<std::int64_t>(row_ptr[first]) + static_cast<std::int64_t>(first);
    const std::int64_t hi = static_cast<std::int64_t>(row_ptr[last]) + static_cast<std::int64_t>(last);
    // (hi - lo) * part fits in int64 for any graph below 2^40 non-zeros and 2^20 threads.
    const std::int64_t target =
        lo + (hi - lo) * static_cast<std::int64_t>(part) / static_cast<std::int64_t>(parts);
    return first_row_with_cost(row_ptr, first, last, target);
}

}  // namespace mixgcn::backend::host_detail
