#pragma once
// The partitioned load's edge phase: every edge of a rank's range becomes two directed
// keys (row << 32 | column), each appended to the bucket of its row's owner. Private to
// parallel/partitioned_load.hpp.
//
// It runs on the OpenMP threads: each thread takes a contiguous share of a slice of
// edges, counts its keys per bucket, and after one prefix writes them at its own offsets.
// Thread t's keys follow thread t-1's in every bucket, so the buckets hold the keys in the
// order one thread would have appended them. New bucket space is not zeroed (the writing
// thread's first touch faults the pages in, on both threads): the keys are ~8 bytes per
// directed edge, 1 GB on the products shape, and zeroing or faulting them in on one
// thread was most of this phase.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <numeric>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgcn/core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mixgcn::parallel::detail {

// std::allocator whose value-initialisation leaves trivial elements unwritten: resize()
// only moves the end, the writer fills.
template <class T>
struct uninitialized_allocator : std::allocator<T> {
    using value_type = T;
    template <class U>
    struct rebind {
        using other = uninitialized_allocator<U>;
    };
    uninitialized_allocator() noexcept = default;
    template <class U>
    uninitialized_allocator(const uninitialized_allocator<U>&) noexcept {}
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... A>
    void construct(U* p, A&&... a) {
        ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
    }
};

using key_vector = std::vector<std::uint64_t, uninitialized_allocator<std::uint64_t>>;

inline std::uint64_t edge_key(index_t row, index_t col) noexcept {
    return (std::uint64_t(std::uint32_t(row)) << 32) | std::uint32_t(col);
}

struct edge_bucket_counts {
    std::uint64_t self_loops = 0, directed = 0;
};

// Appends the keys of `edges` edges, ids[2i] -> ids[2i+1] read through `id(k)` (an id of
// any integer type), to bucket[owner[row]] for both directions; self-loops are dropped and
// counted. Returns false, appending nothing, when an id lies outside [0, nodes): the caller
// names it (the serial reader's message says which entry and where).
// `owner_of(v)` gives node v's rank: a lookup in the owner vector, or arithmetic where
// the caller knows the owners' shape.
template <class IdFn, class OwnerFn>
    requires std::is_invocable_r_v<int, OwnerFn&, index_t>
bool bucket_edges(IdFn&& id, std::size_t edges, index_t nodes, OwnerFn&& owner_of,
                  std::vector<key_vector>& bucket, edge_bucket_counts& counts) {
    const std::size_t P = bucket.size();
    [[maybe_unused]] int threads = 1;
#ifdef _OPENMP
    if (edges >= (std::size_t(1) << 16)) threads = std::max(1, omp_get_max_threads());
#endif
    const auto T = std::size_t(threads);
    std::vector<std::size_t> count(T * P, 0);
    std::vector<std::uint64_t> loops(T, 0);
    bool bad = false;
    const auto in_range = [nodes](std::int64_t v) { return v >= 0 && v < std::int64_t(nodes); };
#pragma omp parallel num_threads(threads) reduction(|| : bad)
    {
#ifdef _OPENMP
        const auto t = std::size_t(omp_get_thread_num());
#else
        const std::size_t t = 0;
#endif
        const std::size_t b = edges * t / T, e = edges * (t + 1) / T;
        std::size_t* c = count.data() + t * P;
        for (std::size_t i = b; i < e; ++i) {
            const std::int64_t u = id(2 * i), v = id(2 * i + 1);
            if (!in_range(u) || !in_range(v)) {
                bad = true;
                break;
            }
            if (u == v) {
                ++loops[t];
                continue;
            }
            ++c[std::size_t(owner_of(index_t(u)))];
            ++c[std::size_t(owner_of(index_t(v)))];
        }
    }
    if (bad) return false;
    // Thread t's offsets in bucket q: after what q held and what threads < t append.
    for (std::size_t q = 0; q < P; ++q) {
        std::size_t at = bucket[q].size();
        for (std::size_t t = 0; t < T; ++t) {
            const std::size_t n = count[t * P + q];
            count[t * P + q] = at;
            at += n;
        }
        bucket[q].resize(at);
    }
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        const auto t = std::size_t(omp_get_thread_num());
#else
        const std::size_t t = 0;
#endif
        const std::size_t b = edges * t / T, e = edges * (t + 1) / T;
        std::size_t* at = count.data() + t * P;
        for (std::size_t i = b; i < e; ++i) {
            const auto u = index_t(id(2 * i)), v = index_t(id(2 * i + 1));
            if (u == v) continue;
            const auto ou = std::size_t(owner_of(u)), ov = std::size_t(owner_of(v));
            bucket[ou][at[ou]++] = edge_key(u, v);
            bucket[ov][at[ov]++] = edge_key(v, u);
        }
    }
    const std::uint64_t dropped = std::accumulate(loops.begin(), loops.end(), std::uint64_t{0});
    counts.self_loops += dropped;
    counts.directed += 2 * (std::uint64_t(edges) - dropped);
    return true;
}

template <class IdFn>
bool bucket_edges(IdFn&& id, std::size_t edges, index_t nodes, std::span<const int> owner,
                  std::vector<key_vector>& bucket, edge_bucket_counts& counts) {
    return bucket_edges(id, edges, nodes, [owner](index_t v) { return owner[std::size_t(v)]; }, bucket, counts);
}

// The buckets other than `skip`, one after another in bucket order, copied on the threads.
inline key_vector concatenate_buckets(const std::vector<key_vector>& bucket, std::size_t skip) {
    std::vector<std::size_t> start(bucket.size() + 1, 0);
    for (std::size_t q = 0; q < bucket.size(); ++q) start[q + 1] = start[q] + (q == skip ? 0 : bucket[q].size());
    key_vector out(start.back());
    const std::size_t total = start.back();
    [[maybe_unused]] int threads = 1;
#ifdef _OPENMP
    if (total >= (std::size_t(1) << 18)) threads = std::max(1, omp_get_max_threads());
#endif
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        const auto t = std::size_t(omp_get_thread_num()), T = std::size_t(omp_get_num_threads());
#else
        const std::size_t t = 0, T = 1;
#endif
        const std::size_t b = total * t / T, e = total * (t + 1) / T;
        for (std::size_t q = 0; q < bucket.size(); ++q) {
            const std::size_t lo = std::max(b, start[q]), hi = std::min(e, start[q + 1]);
            if (lo < hi) std::copy(bucket[q].begin() + std::ptrdiff_t(lo - start[q]),
                                   bucket[q].begin() + std::ptrdiff_t(hi - start[q]), out.begin() + std::ptrdiff_t(lo));
        }
    }
    return out;
}

// The column lists of `rows` local rows from directed keys (row << 32 | column) held in
// `arrays` (this rank's own keys and the received ones), which are rewritten in place.
// `local_of(key)` gives a key's local row, or `rows` when this rank does not own the row:
// then nothing is built, `bad_key` is the first such key of the first array holding one,
// and the result is false. Else `start` (rows + 1 offsets) and `cols` hold every row's
// columns, in no particular order (the caller sorts each row).
//
// A scatter of every key straight to its row's place in `cols` misses the cache and the
// TLB once per key (10.8 s of an 11.9 s build for 124 M keys on an 8 MiB-L3 VM). So it is
// two cache-sized steps: each thread's share of the keys is first permuted in place into
// blocks of consecutive rows (an American-flag pass: one head per block, no second key
// buffer), then each block's keys, whose part of `cols` and row counters fit in L2, are
// counted and scattered by the thread that takes the block.
template <class LocalOf>
bool rows_from_keys(std::span<const std::span<std::uint64_t>> arrays, std::size_t rows, LocalOf&& local_of,
                    std::vector<offset_t>& start, std::vector<index_t>& cols, std::uint64_t& bad_key) {
    std::size_t total = 0;
    for (const auto& a : arrays) total += a.size();
    // Blocks of 2^shift rows holding ~64 Ki keys (256 KiB of columns) on average, at most 8 Ki blocks.
    const std::size_t per_row = total / (rows + 1) + 1;
    unsigned shift = 0;
    while ((std::size_t(2) << shift) * per_row <= (std::size_t(1) << 16)) ++shift;
    while ((rows >> shift) + 1 > (std::size_t(1) << 13)) ++shift;
    const std::size_t blocks = (rows >> shift) + 1;
    const auto block_of = [shift](std::uint64_t key) { return std::size_t(key >> 32) >> shift; };
    int threads = 1;
#ifdef _OPENMP
    if (total >= (std::size_t(1) << 16)) threads = std::max(1, omp_get_max_threads());
#endif
    // Each array cut into `threads` chunks; chunk c's keys of block b end up in
    // [first[c][b], first[c][b + 1]) of the chunk.
    std::vector<std::span<std::uint64_t>> chunk;
    for (const auto& a : arrays)
        for (int t = 0; t < threads; ++t) {
            const std::size_t b = a.size() * std::size_t(t) / std::size_t(threads),
                              e = a.size() * std::size_t(t + 1) / std::size_t(threads);
            chunk.push_back(a.subspan(b, e - b));
        }
    const std::size_t C = chunk.size();
    std::vector<std::size_t> first(C * (blocks + 1), 0);
    std::vector<std::uint64_t> bad(C, ~std::uint64_t{0});
    std::vector<char> failed(C, 0);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (std::ptrdiff_t ci = 0; ci < std::ptrdiff_t(C); ++ci) {
        const auto c = std::size_t(ci);
        auto a = chunk[c];
        std::size_t* f = first.data() + c * (blocks + 1);
        for (auto& key : a) {  // to (local row << 32 | column), counted per block
            const std::size_t l = local_of(key);
            if (l >= rows) {
                bad[c] = key;
                failed[c] = 1;
                break;
            }
            key = (std::uint64_t(l) << 32) | (key & 0xffffffffu);
            ++f[block_of(key) + 1];
        }
        if (failed[c]) continue;
        for (std::size_t b = 0; b < blocks; ++b) f[b + 1] += f[b];
        std::vector<std::size_t> next(f, f + blocks);
        for (std::size_t b = 0; b < blocks; ++b)
            while (next[b] < f[b + 1]) {  // place the key at the head of block b, then those it displaces
                std::uint64_t v = a[next[b]];
                for (std::size_t d = block_of(v); d != b; d = block_of(v)) std::swap(v, a[next[d]++]);
                a[next[b]++] = v;
            }
    }
    for (std::size_t c = 0; c < C; ++c)
        if (failed[c]) {
            bad_key = bad[c];
            return false;
        }
    std::vector<std::size_t> block_start(blocks + 1, 0);  // where block b's columns begin in cols
    for (std::size_t b = 0; b < blocks; ++b) {
        std::size_t n = 0;
        for (std::size_t c = 0; c < C; ++c) n += first[c * (blocks + 1) + b + 1] - first[c * (blocks + 1) + b];
        block_start[b + 1] = block_start[b] + n;
    }
    start.assign(rows + 1, 0);
    cols.resize(total);
#pragma omp parallel num_threads(threads)
    {
        std::vector<std::size_t> at(std::size_t(1) << shift);
#pragma omp for schedule(dynamic, 1)
        for (std::ptrdiff_t bi = 0; bi < std::ptrdiff_t(blocks); ++bi) {
            const auto b = std::size_t(bi);
            const std::size_t r0 = b << shift, r1 = std::min(rows, (b + 1) << shift);
            if (r0 >= r1) continue;
            std::fill(at.begin(), at.begin() + std::ptrdiff_t(r1 - r0), 0);
            const auto each_key = [&](auto&& f) {
                for (std::size_t c = 0; c < C; ++c) {
                    const std::size_t* fc = first.data() + c * (blocks + 1);
                    for (std::size_t i = fc[b]; i < fc[b + 1]; ++i) f(chunk[c][i]);
                }
            };
            each_key([&](std::uint64_t key) { ++at[std::size_t(key >> 32) - r0]; });
            std::size_t acc = block_start[b];
            for (std::size_t r = r0; r < r1; ++r) {
                start[r] = offset_t(acc);
                const std::size_t n = at[r - r0];
                at[r - r0] = acc;
                acc += n;
            }
            each_key([&](std::uint64_t key) {
                cols[at[std::size_t(key >> 32) - r0]++] = static_cast<index_t>(key & 0xffffffffu);
            });
        }
    }
    start[rows] = offset_t(total);
    return true;
}

}  // namespace mixgcn::parallel::detail
