#pragma once
// Sorting and deduplicating large arrays of 64-bit keys on the OpenMP threads, with a
// result that does not depend on the thread count: keys are scattered into buckets
// fixed by the key range (not by the threads), each bucket is sorted and deduplicated on
// a thread, and the buckets are put back together in order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace mixgcn::detail {

// Sorts `keys` and removes repeats. Buckets split [0, limit) of `key >> shift` evenly;
// keys with key >> shift >= limit (sentinels) go to the last bucket, so they still sort
// last. Needs one more array as large as `keys`.
inline void parallel_sort_unique(std::vector<std::uint64_t>& keys, std::uint64_t limit, int shift) {
    const std::size_t n = keys.size();
    constexpr std::size_t buckets = 4096, chunk = std::size_t(1) << 20;
    const std::size_t chunks = (n + chunk - 1) / chunk;
    limit = std::max<std::uint64_t>(limit, 1);
    const auto bucket_of = [&](std::uint64_t k) {
        const std::uint64_t v = k >> shift;
        // v < limit < 2^52 here, so v·buckets cannot overflow
        return v >= limit ? buckets - 1 : std::size_t(v * buckets / limit);
    };
    // Counts per (chunk, bucket), then every chunk's start in every bucket, bucket-major.
    std::vector<std::size_t> at(chunks * buckets, 0), begin(buckets + 1, 0);
#pragma omp parallel for schedule(static)
    for (std::size_t c = 0; c < chunks; ++c)
        for (std::size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i) ++at[c * buckets + bucket_of(keys[i])];
    std::size_t offset = 0;
    for (std::size_t b = 0; b < buckets; ++b) {
        begin[b] = offset;
        for (std::size_t c = 0; c < chunks; ++c) {
            const std::size_t count = at[c * buckets + b];
            at[c * buckets + b] = offset;
            offset += count;
        }
    }
    begin[buckets] = offset;
    std::vector<std::uint64_t> out(n);
#pragma omp parallel for schedule(static)
    for (std::size_t c = 0; c < chunks; ++c)
        for (std::size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i)
            out[at[c * buckets + bucket_of(keys[i])]++] = keys[i];
    std::vector<std::size_t> kept(buckets, 0);
#pragma omp parallel for schedule(dynamic, 16)
    for (std::size_t b = 0; b < buckets; ++b) {
        auto* first = out.data() + begin[b];
        auto* last = out.data() + begin[b + 1];
        std::sort(first, last);
        kept[b] = std::size_t(std::unique(first, last) - first);
    }
    std::size_t size = 0;
    for (std::size_t b = 0; b < buckets; ++b) {  // forward over the gaps: std::copy's target lies before its source
        if (size != begin[b])
            std::copy(out.begin() + std::ptrdiff_t(begin[b]), out.begin() + std::ptrdiff_t(begin[b] + kept[b]),
                      out.begin() + std::ptrdiff_t(size));
        size += kept[b];
    }
    out.resize(size);
    keys = std::move(out);
}

}  // namespace mixgcn::detail
