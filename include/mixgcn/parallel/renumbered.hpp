#pragma once
// A full-graph strategy over a graph trained in another numbering than the user's (a
// locality order applied at load, partition::locality_order): everything is S's, except
// that row_ids() names each local row by its id in the user's numbering. Dropout masks
// are drawn from those ids and outputs are gathered to them, so the order changes
// neither the masks nor the order of the logits: only the summation order of each
// aggregation row, a rounding difference (tests/unit/test_training.cpp checks 1e-9 in
// double). With no ids given it is S unchanged.
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/core/types.hpp"

namespace mixgcn::parallel {

template <class S>
class renumbered : public S {
public:
    // `original[i]`: the user's id of node i of the graph S is built on (empty: the same
    // numbering). The rest are S's constructor arguments.
    template <class... A>
    explicit renumbered(std::span<const index_t> original, A&&... args) : S(std::forward<A>(args)...) {
        if (original.empty()) return;
        renamed_ = true;
        const auto inner = S::row_ids();
        const std::size_t rows = static_cast<std::size_t>(S::rows());
        ids_.resize(rows);
        for (std::size_t r = 0; r < rows; ++r) {
            const auto g = inner.row(r);
            require(g < original.size(), S::name(), " rank ", S::rank(), ": row ", r, " is node ", g, ", outside the ",
                    original.size(), " ids of the original numbering");
            ids_[r] = original[static_cast<std::size_t>(g)];
        }
    }

    dropout_index row_ids() const noexcept {
        return renamed_ ? dropout_index{ids_.data(), 0, S::row_ids().col_offset} : S::row_ids();
    }

private:
    bool renamed_ = false;
    std::vector<index_t> ids_;
};

}  // namespace mixgcn::parallel
