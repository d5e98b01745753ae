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

// Whether a part may get no column. The feature and mixture strategies allow it for
// layers narrower than the rank count (7 classes on 8 ranks): such a rank holds an
// N x 0 block of that layer and computes nothing for it (docs/mixture.md).
enum class empty_slices { refused, allowed };

// Throws invalid_argument unless 1 <= parts and, unless empty slices are allowed,
// parts <= width (an empty slice leaves a rank with nothing to compute).
inline std::vector<column_range> feature_columns(std::int64_t width, int parts,
                                                 empty_slices empty = empty_slices::refused) {
    require(parts >= 1, "feature_columns: number of parts must be at least 1, got ", parts);
    require(width >= 0, "feature_columns: negative width ", width);
    require(empty == empty_slices::allowed || width >= parts, "feature_columns: ", parts, " parts requested for ",
            width, " feature columns (parts must not exceed the width)");
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
