#pragma once
// Checks of a list of row ids handed to a loss or metric: every id inside [0, n) and
// none twice. A repeated row would be counted twice in the loss, and the threads that
// write its gradient row would race.
#include <cstddef>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"

namespace mixgcn {

inline void require_row_list(const char* what, const index_t* rows, std::size_t count, std::size_t n) {
    std::vector<bool> seen(n, false);
    for (std::size_t i = 0; i < count; ++i) {
        const auto r = rows[i];
        require(r >= 0 && static_cast<std::size_t>(r) < n, what, ": row ", r, " (entry ", i, ") outside [0, ", n, ")");
        require(!seen[static_cast<std::size_t>(r)], what, ": row ", r, " (entry ", i, ") is listed twice");
        seen[static_cast<std::size_t>(r)] = true;
    }
}

}  // namespace mixgcn
