#pragma once
// Where an id sits in a sorted array of distinct ids without an array as long as the id
// range: a directory of the first entry at or past every multiple of 256 ids (range/256
// offsets of 4 bytes), then a search among the entries of that one 256-id window. For
// the ids a rank keeps of a global range: its ghosts, its scattered owned rows.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

namespace mixgcn::detail {

template <class Id>
class sorted_id_index {
public:
    // ids: ascending, distinct, in [0, range), fewer than 2^32.
    sorted_id_index(std::span<const Id> ids, std::uint64_t range)
        : ids_(ids), range_(range), directory_(std::size_t(range >> window) + 2, 0) {
        for (std::size_t w = 0, g = 0; w < directory_.size(); ++w) {
            while (g < ids.size() && (std::uint64_t(ids[g]) >> window) < w) ++g;
            directory_[w] = std::uint32_t(g);
        }
    }
    // The position of `id` in ids, or ids.size() when it is not there.
    std::size_t find(Id id) const noexcept {
        if constexpr (std::is_signed_v<Id>)
            if (id < Id(0)) return ids_.size();
        if (std::uint64_t(id) >= range_) return ids_.size();
        const auto w = std::size_t(std::uint64_t(id) >> window);
        const auto last = ids_.begin() + directory_[w + 1];
        const auto it = std::lower_bound(ids_.begin() + directory_[w], last, id);
        return it != last && *it == id ? std::size_t(it - ids_.begin()) : ids_.size();
    }

private:
    static constexpr int window = 8;  // 256 ids per directory entry
    std::span<const Id> ids_;
    std::uint64_t range_;
    std::vector<std::uint32_t> directory_;
};

}  // namespace mixgcn::detail
