#pragma once
// Split of the feature columns [0, width) into P contiguous ranges for the feature and
// mixture strategies: sizes differ by at most one, the larger ranges first.
#include <cstdint>
#include <vector>

#include "mixgcn/core/error.hpp"

namespace mixgcn::partition {

struct column_range {
    std::int64_t begin = 0;
    std::int64_t end = 0;
    std::int64_t size() const noexcept { return end - begin; }
};

// Throws invalid_argument unless 1 <= parts <= width (an empty slice would leave a rank
// with nothing to compute and no shape for its buffers).
inline std::vector<column_range> feature_columns(std::int64_t width, int parts) {
    require(parts >= 1, "feature_columns: number of parts must be at least 1, got ", parts);
    require(width >= parts, "feature_columns: ", parts, " parts requested for ", width,
            " feature columns (parts must not exceed the width)");
    std::vector<column_range> out(static_cast<std::size_t>(parts));
    const std::int64_t base = width / parts, extra = width % parts;
    std::int64_t at = 0;
    for (int p = 0; p < parts; ++p) {
        const std::int64_t len = base + (p < extra ? 1 : 0);
        out[static_cast<std::size_t>(p)] = {at, at + len};
        at += len;
    }
    return out;
}

}  // namespace mixgcn::partition
