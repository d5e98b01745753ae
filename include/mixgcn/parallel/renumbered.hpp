#pragma once
// A full-graph strategy over a graph trained in another numbering than the user's (a
// locality order applied at load, partition::locality_order): everything is S's, except
// that row_ids() names each local row by its id in the user's numbering. Dropout masks
// are drawn from those ids and outputs are gathered to them, so the order changes
// neither the masks nor the order of the logits: only the summation order of each
// aggregation row, a rounding difference (tests/unit/test_training.cpp checks 1e-9 in
// double). With no ids given it is S unchanged. Over a device backend the ids live in
// its memory (the dropout kernels read them there).
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "mixgcn/backend/memory.hpp"
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
        const std::size_t rows = static_cast<std::size_t>(S::rows());
        // S's own row ids (global ids of its layout), read where the host can: S keeps a
        // device copy for a device backend, and its host ids are what local_inputs uses.
        std::vector<index_t> inner(rows);
        if constexpr (requires(const S& s) { s.host_row_ids(); }) {
            const auto h = S::host_row_ids();
            std::copy(h.begin(), h.end(), inner.begin());
        } else {  // ids by offset (single), or a pointer the host may read
            const auto ids = S::row_ids();
            if constexpr (!backend::host_accessible<typename S::backend_type>())
                require(ids.row_ids == nullptr, S::name(), ": row ids in device memory and no host_row_ids()");
            for (std::size_t r = 0; r < rows; ++r) inner[r] = static_cast<index_t>(ids.row(r));
        }
        std::vector<index_t> mine(rows);
        for (std::size_t r = 0; r < rows; ++r) {
            const auto g = static_cast<std::size_t>(inner[r]);
            require(g < original.size(), S::name(), " rank ", S::rank(), ": row ", r, " is node ", g, ", outside the ",
                    original.size(), " ids of the original numbering");
            mine[r] = original[g];
        }
        ids_ = backend::make_array<typename S::backend_type>(mine);
    }

    dropout_index row_ids() const noexcept {
        return renamed_ ? dropout_index{ids_.data(), 0, S::row_ids().col_offset} : S::row_ids();
    }

private:
    bool renamed_ = false;
    backend::array<typename S::backend_type, index_t> ids_;  // the user's ids, where B reads them
};

}  // namespace mixgcn::parallel
