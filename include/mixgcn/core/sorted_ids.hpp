#pragma once
// Where an id sits in a sorted array of distinct ids, in O(1), without an array as long as
// the id range: a bitmap of the ids with, every 64 ids, the count of ids before them
// (16 bytes per 64 ids of the range: 0.25 bytes per id, so a rank's index over a
// 111 M-node graph is 28 MB and over 2.45 M nodes 0.6 MB, which stays in cache). An id's
// position is that count plus the set bits below it in its word. For the ids a rank
// keeps of a global range: its ghosts, its scattered owned rows. (A directory of 256-id
// windows searched by bisection made the partitioned load's row build 1.7x slower on the
// products shape: docs/scaling.md.)
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "mixgcn/core/error.hpp"

namespace mixgcn::detail {

template <class Id>
class sorted_id_index {
public:
    sorted_id_index() = default;  // no ids
    // ids: ascending, distinct, in [0, range), fewer than 2^32.
    sorted_id_index(std::span<const Id> ids, std::uint64_t range)
        : size_(ids.size()), range_(range), words_(std::size_t((range + 63) >> 6)) {
        require(ids.size() < (std::uint64_t(1) << 32), "sorted_id_index: ", ids.size(), " ids, at most 2^32 - 1");
        std::uint64_t previous = 0;
        for (std::size_t g = 0; g < ids.size(); ++g) {
            const auto id = std::uint64_t(ids[g]);
            require(id < range && (g == 0 || id > previous), "sorted_id_index: entry ", g, " is ", id,
                    ", the one before ", previous, " (ids must ascend strictly in [0, ", range, "))");
            words_[std::size_t(id >> 6)].bits |= std::uint64_t(1) << (id & 63);
            previous = id;
        }
        std::uint32_t before = 0;
        for (auto& w : words_) {
            w.before = before;
            before += std::uint32_t(std::popcount(w.bits));
        }
    }
    // The position of `id` in ids, or ids.size() when it is not there.
    std::size_t find(Id id) const noexcept {
        if constexpr (std::is_signed_v<Id>)
            if (id < Id(0)) return size_;
        const auto u = std::uint64_t(id);
        if (u >= range_) return size_;
        const word& w = words_[std::size_t(u >> 6)];
        const std::uint64_t bit = std::uint64_t(1) << (u & 63);
        if (!(w.bits & bit)) return size_;
        return std::size_t(w.before) + std::size_t(std::popcount(w.bits & (bit - 1)));
    }

    std::size_t size() const noexcept { return size_; }
    std::size_t bytes() const noexcept { return words_.size() * sizeof(word); }

private:
    struct alignas(16) word {
        std::uint64_t bits = 0;     // bit j: id 64·w + j is in ids
        std::uint32_t before = 0;   // ids below 64·w
    };
    std::size_t size_ = 0;
    std::uint64_t range_ = 0;
    std::vector<word> words_;
};

}  // namespace mixgcn::detail
