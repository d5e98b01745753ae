#pragma once
// Graph building and GCN normalisation on the device (Thrust): the edge list is copied
// once, then everything is sort / unique / segmented reduce / scan, so graphs with
// hundreds of millions of edges are built in seconds. The results equal
// graph::build_adjacency and graph::gcn_normalize on the host entry for entry (the
// D^-1/2 values bit for bit: both compute 1/sqrt in double and round once).
//
// Only translation units that build graphs include this header (Thrust is slow to
// compile); the aggregation and dense kernels do not need it.
#include <thrust/binary_search.h>
#include <thrust/count.h>
#include <thrust/equal.h>
#include <thrust/execution_policy.h>
#include <thrust/find.h>
#include <thrust/for_each.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/merge.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/scatter.h>
#include <thrust/sort.h>
#include <thrust/unique.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "mixgcn/backend/cuda/csr.cuh"
#include "mixgcn/graph/builder.hpp"

namespace mixgcn::gpu {

namespace detail {

// (row, col) packed so that sorting keys sorts by row then column; ids are < 2^32.
using edge_key = std::uint64_t;
inline constexpr edge_key dropped_key = std::numeric_limits<edge_key>::max();

__host__ __device__ inline edge_key pack(std::uint64_t r, std::uint64_t c) { return (r << 32) | c; }
__host__ __device__ inline std::uint32_t key_row(edge_key k) { return static_cast<std::uint32_t>(k >> 32); }
__host__ __device__ inline std::uint32_t key_col(edge_key k) { return static_cast<std::uint32_t>(k & 0xffffffffu); }

template <class Index>
__global__ void emit_edge_keys(const Index* u, const Index* v, std::size_t m, bool symmetrize, int loops,
                               edge_key* keys) {
    const std::size_t k = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    if (k >= m) return;
    const auto a = static_cast<std::uint64_t>(u[k]), b = static_cast<std::uint64_t>(v[k]);
    const bool keep = !(a == b && loops != static_cast<int>(graph::self_loops::keep));
    keys[k] = keep ? pack(a, b) : dropped_key;
    if (symmetrize) keys[m + k] = keep && a != b ? pack(b, a) : dropped_key;
}

template <class Key>  // a template so the kernel may live in a header (one definition per program)
__global__ void emit_loop_keys(std::uint64_t n, Key* keys) {
    const std::uint64_t i = blockIdx.x * std::uint64_t(blockDim.x) + threadIdx.x;
    if (i < n) keys[i] = pack(i, i);
}

template <class Key>
__global__ void swap_key_halves(Key* keys, std::size_t m) {
    const std::size_t k = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    if (k < m) keys[k] = pack(key_col(keys[k]), key_row(keys[k]));
}

template <class Index>
__global__ void split_keys(const edge_key* keys, std::size_t m, Index* rows, Index* cols) {
    const std::size_t k = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    if (k >= m) return;
    rows[k] = static_cast<Index>(key_row(keys[k]));
    cols[k] = static_cast<Index>(key_col(keys[k]));
}

template <class Index, class Value>
__global__ void inverse_sqrt_degree(const offset_t* row_ptr, Index n, Value* dinv, double* dinv64) {
    const Index r = static_cast<Index>(blockIdx.x * blockDim.x + threadIdx.x);
    if (r >= n) return;
    const double d = 1.0 / sqrt(double(row_ptr[r + 1] - row_ptr[r]));
    dinv64[r] = d;
    if (dinv) dinv[r] = static_cast<Value>(d);
}

template <class Index, class Value>
__global__ void edge_weights(const offset_t* row_ptr, const Index* col_idx, Index n, const double* dinv64,
                             Value* val) {
    const Index r = static_cast<Index>(blockIdx.x * blockDim.x + threadIdx.x);
    if (r >= n) return;
    for (offset_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) val[k] = static_cast<Value>(dinv64[r] * dinv64[col_idx[k]]);
}

// Functors rather than extended lambdas, so users need no --extended-lambda flag.
template <class Index>
struct bad_edge {
    const Index* u;
    const Index* v;
    Index n;
    __device__ bool operator()(std::size_t k) const { return u[k] < 0 || u[k] >= n || v[k] < 0 || v[k] >= n; }
};

template <class Index>
struct key_of_nonzero {
    const offset_t* row_ptr;
    const Index* col_idx;
    Index n;
    edge_key* out;
    // Row of non-zero k: the last row whose start is <= k (binary search on row_ptr).
    __device__ void operator()(std::size_t k) const {
        Index lo = 0, hi = n;
        while (hi - lo > 1) {
            const Index mid = lo + (hi - lo) / 2;
            if (row_ptr[mid] <= static_cast<offset_t>(k)) lo = mid;
            else hi = mid;
        }
        out[k] = pack(static_cast<std::uint64_t>(lo), static_cast<std::uint64_t>(col_idx[k]));
    }
};

inline unsigned blocks_for(std::size_t n, unsigned threads = 256) {
    return static_cast<unsigned>((n + threads - 1) / threads);
}

// Sorted, duplicate-free keys (dropped keys already removed) -> pattern csr with
// row_ptr by a segmented count of each row and an exclusive scan.
template <class Index, class Value>
device_csr<Index, Value> csr_from_sorted_keys(const device_buffer<edge_key>& keys, std::size_t m, Index rows,
                                              Index cols, cudaStream_t s) {
    const auto policy = thrust::cuda::par.on(s);
    device_csr<Index, Value> a;
    a.rows = rows;
    a.cols = cols;
    a.nnz = m;
    a.row_ptr = device_buffer<offset_t>(static_cast<std::size_t>(rows) + 1, s);
    a.col_idx = device_buffer<Index>(m, s);
    device_buffer<Index> row_of(m, s);
    if (m) {
        split_keys<<<blocks_for(m), 256, 0, s>>>(keys.data(), m, row_of.data(), a.col_idx.data());
        MIXGCN_CUDA_CHECK_LAUNCH();
    }
    // Degrees: reduce_by_key over the (sorted) row ids, scattered into a dense vector.
    device_buffer<Index> present(m, s);
    device_buffer<offset_t> counts(m, s), degree(static_cast<std::size_t>(rows) + 1, s);
    degree.zero();
    const auto ends = thrust::reduce_by_key(policy, row_of.data(), row_of.data() + m,
                                            thrust::make_constant_iterator<offset_t>(1), present.data(),
                                            counts.data());
    const auto distinct = static_cast<std::size_t>(ends.first - present.data());
    thrust::scatter(policy, counts.data(), counts.data() + distinct, present.data(), degree.data());
    thrust::exclusive_scan(policy, degree.data(), degree.data() + degree.size(), a.row_ptr.data());
    return a;
}

template <class Index>
std::size_t sort_unique_keys(device_buffer<edge_key>& keys, std::size_t m, cudaStream_t s) {
    const auto policy = thrust::cuda::par.on(s);
    thrust::sort(policy, keys.data(), keys.data() + m);
    auto end = thrust::unique(policy, keys.data(), keys.data() + m);
    // Dropped keys sort last; cut them off.
    end = thrust::lower_bound(policy, keys.data(), end, dropped_key);
    return static_cast<std::size_t>(end - keys.data());
}

}  // namespace detail

// Device twin of graph::build_adjacency (pattern csr, columns sorted, duplicates merged).
// The edge list is validated on the device; the first edge with an id outside
// [0, num_nodes) is named in the error.
template <class Value = float, index_type Index = index_t>
device_csr<Index, Value> build_adjacency(const graph::edge_list<Index>& list, graph::build_options opt = {}) {
    const Index n = list.num_nodes;
    require(n >= 0, "gpu::build_adjacency: negative node count ", n);
    require(static_cast<std::uint64_t>(n) <= (std::uint64_t(1) << 32),
            "gpu::build_adjacency: ", n, " nodes exceed the 2^32 ids the device builder packs into one key");
    auto& ctx = current_context();
    const cudaStream_t s = ctx.stream();
    const auto policy = thrust::cuda::par.on(s);
    const std::size_t m = list.edges.size();
    std::vector<Index> hu(m), hv(m);
    for (std::size_t k = 0; k < m; ++k) {
        hu[k] = list.edges[k].first;
        hv[k] = list.edges[k].second;
    }
    auto du = to_device(hu), dv = to_device(hv);
    {
        const Index* pu = du.data();
        const Index* pv = dv.data();
        const auto bad = thrust::find_if(policy, thrust::counting_iterator<std::size_t>(0),
                                         thrust::counting_iterator<std::size_t>(m),
                                         detail::bad_edge<Index>{du.data(), dv.data(), n});
        const std::size_t k = *bad;
        require(k == m, "gpu::build_adjacency: edge ", k, " (", k < m ? hu[k] : 0, ", ", k < m ? hv[k] : 0,
                ") has a node id outside [0, ", n, ")");
    }
    const bool add = opt.loops == graph::self_loops::add;
    const std::size_t total = m * (opt.symmetrize ? 2 : 1) + (add ? static_cast<std::size_t>(n) : 0);
    device_buffer<detail::edge_key> keys(total, s);
    if (m) {
        detail::emit_edge_keys<<<detail::blocks_for(m), 256, 0, s>>>(du.data(), dv.data(), m, opt.symmetrize,
                                                                     static_cast<int>(opt.loops), keys.data());
        MIXGCN_CUDA_CHECK_LAUNCH();
    }
    if (add && n > 0) {
        detail::emit_loop_keys<<<detail::blocks_for(static_cast<std::size_t>(n)), 256, 0, s>>>(
            static_cast<std::uint64_t>(n), keys.data() + (total - static_cast<std::size_t>(n)));
        MIXGCN_CUDA_CHECK_LAUNCH();
    }
    const std::size_t kept = detail::sort_unique_keys<Index>(keys, total, s);
    return detail::csr_from_sorted_keys<Index, Value>(keys, kept, n, n, s);
}

// Device twin of graph::gcn_normalize: adds I where missing, computes D^-1/2 (double,
// rounded once to Value), and stores the transpose when the adjacency is not symmetric.
template <class Value, class Index>
device_gcn_operator<Index, Value> gcn_normalize(const device_csr<Index, Value>& adjacency,
                                                graph::normalization_mode mode = graph::normalization_mode::fused) {
    require(adjacency.rows == adjacency.cols, "gpu::gcn_normalize: adjacency is ", adjacency.rows, "x",
            adjacency.cols, ", expected square");
    const Index n = adjacency.rows;
    const auto un = static_cast<std::size_t>(n);
    auto& ctx = current_context();
    const cudaStream_t s = ctx.stream();
    const auto policy = thrust::cuda::par.on(s);
    const std::size_t m = adjacency.nnz;

    // Keys of A (already sorted: csr order) and of its transpose.
    device_buffer<detail::edge_key> a_keys(m, s), t_keys(m, s);
    {
        thrust::for_each(policy, thrust::counting_iterator<std::size_t>(0), thrust::counting_iterator<std::size_t>(m),
                         detail::key_of_nonzero<Index>{adjacency.row_ptr.data(), adjacency.col_idx.data(), n,
                                                       a_keys.data()});
    }
    if (m) {
        MIXGCN_CUDA_CHECK(cudaMemcpyAsync(t_keys.data(), a_keys.data(), a_keys.bytes(), cudaMemcpyDeviceToDevice, s));
        detail::swap_key_halves<<<detail::blocks_for(m), 256, 0, s>>>(t_keys.data(), m);
        MIXGCN_CUDA_CHECK_LAUNCH();
        thrust::sort(policy, t_keys.data(), t_keys.data() + m);
    }
    device_gcn_operator<Index, Value> op;
    op.symmetric = thrust::equal(policy, a_keys.data(), a_keys.data() + m, t_keys.data());

    // A + I: merge the loop keys in, drop the loops that were already there.
    device_buffer<detail::edge_key> loops(un, s), merged(m + un, s);
    if (n > 0) {
        detail::emit_loop_keys<<<detail::blocks_for(un), 256, 0, s>>>(un, loops.data());
        MIXGCN_CUDA_CHECK_LAUNCH();
    }
    thrust::merge(policy, a_keys.data(), a_keys.data() + m, loops.data(), loops.data() + un, merged.data());
    const auto kept = static_cast<std::size_t>(thrust::unique(policy, merged.data(), merged.data() + m + un) -
                                               merged.data());
    op.a = detail::csr_from_sorted_keys<Index, Value>(merged, kept, n, n, s);

    device_buffer<double> dinv64(un, s);
    const bool fused = mode == graph::normalization_mode::fused;
    if (fused) op.row_scale = device_buffer<Value>(un, s);
    if (n > 0) {
        detail::inverse_sqrt_degree<<<detail::blocks_for(un), 256, 0, s>>>(
            op.a.row_ptr.data(), n, fused ? op.row_scale.data() : static_cast<Value*>(nullptr), dinv64.data());
        MIXGCN_CUDA_CHECK_LAUNCH();
    }
    if (!op.symmetric) {
        thrust::merge(policy, t_keys.data(), t_keys.data() + m, loops.data(), loops.data() + un, merged.data());
        const auto tk = static_cast<std::size_t>(thrust::unique(policy, merged.data(), merged.data() + m + un) -
                                                 merged.data());
        op.at = detail::csr_from_sorted_keys<Index, Value>(merged, tk, n, n, s);
    }
    if (fused) {
        op.col_scale = device_buffer<Value>(un, s);
        if (n > 0)
            MIXGCN_CUDA_CHECK(cudaMemcpyAsync(op.col_scale.data(), op.row_scale.data(), op.row_scale.bytes(),
                                              cudaMemcpyDeviceToDevice, s));
    } else {
        // Weights of the transpose are computed, not permuted: dinv[r]*dinv[c] is exact
        // the same product either way round.
        for (auto* t : {&op.a, op.symmetric ? nullptr : &op.at}) {
            if (!t) continue;
            t->val = device_buffer<Value>(t->nnz, s);
            if (n > 0) {
                detail::edge_weights<<<detail::blocks_for(un), 256, 0, s>>>(t->row_ptr.data(), t->col_idx.data(), n,
                                                                            dinv64.data(), t->val.data());
                MIXGCN_CUDA_CHECK_LAUNCH();
            }
        }
    }
    ctx.synchronize();  // dinv64 and the key buffers are released on return
    return op;
}

// Convenience: edge list on the host -> normalised operator on the device.
template <class Value = float, index_type Index = index_t>
device_gcn_operator<Index, Value> build_gcn_operator(const graph::edge_list<Index>& list,
                                                     graph::build_options opt = {},
                                                     graph::normalization_mode mode = graph::normalization_mode::fused) {
    return gcn_normalize<Value>(build_adjacency<Value>(list, opt), mode);
}

}  // namespace mixgcn::gpu
