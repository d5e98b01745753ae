// mixgcn-train --backend cuda: the host prepares the graph and features as for every
// backend (train_run.hpp), then the adjacency and the features move to the GPU once
// (single builds Â there; the distributed strategies take their parts of the host's
// operator) and the whole epoch (aggregation, cuBLAS GEMMs, epilogues, loss, Adam) runs
// there; only the loss and the accuracy counts come back. One process: --strategy single,
// data or pipeline (one stage). Several (--comm mpi|gloo, built with NCCL): --strategy
// graph, feature, mixture, data or pipeline, one GPU per rank, the activations'
// exchanges and the gradients on NCCL, the metrics on the host engine (comm::hybrid).
// data, pipeline: Cluster-GCN batches built on the host, each batch's operator and index
// lists moved to the GPU and its feature rows gathered there from the features moved once.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "mixgcn/backend/cuda.cuh"
#include "mixgcn/backend/cuda/graph_build.cuh"
#include "mixgcn/comm/launcher.hpp"
#include "mixgcn/comm/local.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/pipeline.hpp"
#include "mixgcn/parallel/renumbered.hpp"
#include "mixgcn/parallel/single.hpp"
#include "train_cuda.hpp"
#include "train_data.hpp"
#include "train_run.hpp"

#if defined(MIXGCN_TRAIN_WITH_NCCL)
#include "mixgcn/comm/guard.hpp"
#include "mixgcn/comm/hybrid.hpp"
#include "mixgcn/comm/nccl.hpp"
#if defined(MIXGCN_HAS_GLOO)
#include "mixgcn/comm/gloo.hpp"
#endif
#if defined(MIXGCN_HAS_MPI)
#include "mixgcn/comm/mpi.hpp"
#endif
#include "mixgcn/parallel/feature.hpp"
#include "mixgcn/parallel/graph.hpp"
#include "mixgcn/parallel/mixture.hpp"
#endif

namespace mixgcn::train_tool {

namespace {

using cuda_backend = ::mixgcn::backend::cuda;

// Everything the backend allocated came from the device's default pool: its high-water
// mark of bytes in use (not the reserved, chunk-rounded size) compares with
// torch.cuda.max_memory_allocated.
std::size_t device_peak_bytes() {
    cudaMemPool_t pool{};
    MIXGCN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, gpu::current_context().device()));
    std::uint64_t high = 0;
    MIXGCN_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high));
    return std::size_t(high);
}

double free_device_bytes() {
    std::size_t free_bytes = 0, total_bytes = 0;
    MIXGCN_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    return double(free_bytes);
}

// --order on a GPU: an explicit order applies; `auto` keeps the loaded ids, since the
// host's ordering time (seconds for METIS on a Reddit-sized graph) has not been weighed
// against what it saves the device's gathers (docs/cuda.md).
template <class V>
node_orderer<V> gpu_orderer(const node_orderer<V>& host) {
    auto o = host;
    o.resolve = [r = host.resolve](const std::string& requested, std::size_t nodes) {
        return requested == "auto" ? std::string("none") : r(requested, nodes);
    };
    return o;
}

// --strategy single (data has its own path below; train.cpp refuses the others in one process),
// in the --order the host side computes (the rows keep the loaded ids: renumbered).
template <class V>
void train_on_gpu(run_context<cuda_backend, V, comm::local>& ctx, const gpu_memory_check& check,
                  const host_side<V>& host) {
    const auto original = apply_node_order(ctx, gpu_orderer(host.order));
    check(std::uint64_t(ctx.adjacency.rows), ctx.adjacency.nnz(), ctx.model.options(), sizeof(V), free_device_bytes(),
          ctx.device, 1, "single");
    // Â is built on the device from A's pattern (gpu::gcn_normalize: A + I, D^-1/2 in
    // double, the transpose when A is not symmetric; entry for entry the host's), A's
    // copy and the sort buffers freed before the features arrive.
    const auto dop = gpu::gcn_normalize<V>(gpu::to_device(ctx.adjacency), ctx.mode);
    const auto features = gpu::to_device(ctx.ds.features);
    parallel::renumbered<parallel::single<cuda_backend, V>> strategy(std::span<const index_t>(original), dop);
    train::local_data<V> data{features.cview(), ctx.ds.labels.data(), ctx.ds.nodes_with(split_role::train),
                              ctx.ds.nodes_with(split_role::val), ctx.ds.nodes_with(split_role::test)};
    ctx.train_with(strategy, data);
    ctx.device_peak_bytes = device_peak_bytes();
    ctx.mem.graph = dop.bytes();
    ctx.mem.features = features.bytes();
    ctx.mine.owned = double(ctx.ds.num_nodes());
}

// --strategy data or pipeline: the clusters from --partition on rank 0 (every rank gets
// them), then Cluster-GCN batches on this rank's GPU (parallel::train_clusters or
// train_pipeline over device memory). The device holds what single's evaluation needs
// (the whole Â, features and one forward pass) and the batches in flight: the memory
// check is single's on one GPU.
template <class V, class Comm>
void train_batches_on_gpu(run_context<cuda_backend, V, Comm>& ctx, const gpu_memory_check& check,
                          const host_side<V>& host) {
    auto& comm = ctx.comm;  // --load partitioned is graph's alone (train_run.hpp refuses it here)
    (void)apply_node_order(ctx, host.order);  // refuses an explicit --order: clusters are local already
    const auto bo =
        batch_options_from(ctx.a, ctx.strategy_name, comm.size(), ctx.model.options().layers, ctx.seed);
    check(std::uint64_t(ctx.adjacency.rows), ctx.adjacency.nnz(), ctx.model.options(), sizeof(V), free_device_bytes(),
          ctx.device, 1, "single");
    require(bo.data.clusters <= ctx.adjacency.rows, "--clusters ", bo.data.clusters, " for ", ctx.adjacency.rows,
            " nodes");
    const auto cluster_of = from_rank_0(comm, static_cast<std::size_t>(ctx.adjacency.rows),
                                        [&] { return host.partition(ctx.adjacency, bo.data.clusters); });
    if (!ctx.quiet) print_batch_banner(ctx, bo);
    auto to = ctx.to;
    to.checkpoint_identity = batch_identity(ctx.a, comm.size(), bo);
    train_batch_strategy(ctx, cluster_of, bo, to);
    ctx.device_peak_bytes = device_peak_bytes();
}

#if defined(MIXGCN_TRAIN_WITH_NCCL)
// --load partitioned: each rank read only its rows (train_run.hpp); the graph strategy
// normalises them with the ghosts' degrees from their owners (over the host engine),
// keeps its local operator on its GPU, and the owned feature rows are uploaded once.
// No rank holds the whole graph, in host or device memory.
template <class V, class Hybrid>
void train_partitioned_on_gpu(run_context<cuda_backend, V, Hybrid>& ctx, const gpu_memory_check& check) {
    auto& comm = ctx.comm;
    dataset<V>& ds = ctx.ds;
    const auto& owned = *ctx.owned;
    check(std::uint64_t(ds.num_nodes()), ctx.nonzeros, ctx.model.options(), sizeof(V), free_device_bytes(), ctx.device,
          comm.size(), "graph");
    comm.device().wait_for(gpu::current_context().stream());  // NCCL reads what the kernels wrote
    parallel::graph<cuda_backend, V, Hybrid> s(comm, ds.num_nodes(), owned, ctx.adjacency, *ctx.owner, ctx.mode);
    ctx.adjacency = {};  // the strategy holds its normalised copy
    const auto in = s.local_inputs(owned, ds.features.cview(), ds.labels, ds.split);
    ds.features = {};
    const auto features = gpu::to_device(in.features);
    auto data = in.data();
    data.features = features.cview();
    ctx.train_with(s, data);
    const auto r = s.report();
    record_report(ctx, r);
    ctx.mem.graph = r.graph_bytes + ctx.owner->size() * sizeof(int) + owned.size() * sizeof(index_t);
    ctx.mem.features = features.bytes();
    ctx.device_peak_bytes = device_peak_bytes();
}

// One GPU per rank: owners from --partition on rank 0 (broadcast over the host engine),
// the whole operator normalised on the host, then the strategy keeps its part of the
// layout on its GPU and trains there.
template <class V, class Hybrid>
void train_distributed_on_gpu(run_context<cuda_backend, V, Hybrid>& ctx, const gpu_memory_check& check,
                              const host_side<V>& host) {
    auto& comm = ctx.comm;
    const auto& name = ctx.strategy_name;  // graph, feature, mixture, data or pipeline (train.cpp refuses the others)
    if (name == "data" || name == "pipeline") return train_batches_on_gpu<V>(ctx, check, host);
    if (ctx.owned) return train_partitioned_on_gpu<V>(ctx, check);
    const auto original = apply_node_order(ctx, gpu_orderer(host.order));
    check(std::uint64_t(ctx.adjacency.rows), ctx.adjacency.nnz(), ctx.model.options(), sizeof(V), free_device_bytes(),
          ctx.device, comm.size(), name);
    const auto owner = from_rank_0(comm, static_cast<std::size_t>(ctx.adjacency.rows),
                                   [&] { return host.partition(ctx.adjacency, comm.size()); });
    const auto op = graph::gcn_normalize<V>(ctx.adjacency, ctx.mode);
    comm.device().wait_for(gpu::current_context().stream());  // NCCL reads what the kernels wrote
    parallel::strategy_report r;
    // --balance on (or the slow-rank emulation): graph or mixture under the balancer, which
    // moves rows between ranks on the host and copies each rank's new rows to its GPU.
    if (ctx.a.get("balance", "off") == "on" || ctx.a.has("debug-slow-rank")) {
        const int chunks = name == "mixture" ? ctx.a.template number<int>("chunks", 1) : 1;
        if (chunks < 1) throw cli::usage_error("flag --chunks: must be >= 1, got " + std::to_string(chunks));
        auto recut = host.balance_recut(ctx.adjacency, comm.size());
        const std::span<const index_t> ids(original);
        if (name == "mixture")
            r = train_balanced<parallel::mixture<cuda_backend, V, Hybrid>>(ctx, ctx.to, op, owner, ids, chunks, recut);
        else
            r = train_balanced<parallel::graph<cuda_backend, V, Hybrid>>(ctx, ctx.to, op, owner, ids, 1, recut);
        record_report(ctx, r);
        ctx.mem.graph = r.graph_bytes + owner.size() * sizeof(int);
        ctx.device_peak_bytes = device_peak_bytes();
        return;
    }
    const auto train = [&](auto& s) {
        const auto in = s.local_inputs(ctx.ds);
        const auto features = gpu::to_device(in.features);
        auto data = in.data();
        data.features = features.cview();
        ctx.train_with(s, data);
        r = s.report();
        ctx.mem.features = features.bytes();
    };
    // Rows named by the loaded ids when --order renumbered the graph.
    const std::span<const index_t> ids(original);
    if (name == "graph") {
        parallel::renumbered<parallel::graph<cuda_backend, V, Hybrid>> s(ids, comm, op, owner);
        train(s);
    } else if (name == "feature") {
        parallel::renumbered<parallel::feature<cuda_backend, V, Hybrid>> s(ids, comm, op, owner);
        train(s);
    } else {
        const int chunks = ctx.a.template number<int>("chunks", 1);
        if (chunks < 1) throw cli::usage_error("flag --chunks: must be >= 1, got " + std::to_string(chunks));
        parallel::renumbered<parallel::mixture<cuda_backend, V, Hybrid>> s(ids, comm, op, owner, chunks);
        train(s);
    }
    record_report(ctx, r);
    ctx.mem.graph = r.graph_bytes + owner.size() * sizeof(int);
    ctx.device_peak_bytes = device_peak_bytes();
}

// The NCCL clique of the host engine's ranks: rank 0 makes the id, the host engine
// broadcasts it (16 words), every rank joins on its GPU.
template <class HostComm>
comm::nccl nccl_over(HostComm& host, int device) {
    ncclUniqueId id{};
    static_assert(sizeof id % sizeof(std::uint64_t) == 0, "the NCCL id travels as 64-bit words");
    std::vector<std::uint64_t> words(sizeof id / sizeof(std::uint64_t));
    if (host.rank() == 0) {
        id = comm::nccl::new_unique_id();
        std::memcpy(words.data(), &id, sizeof id);
    }
    host.broadcast(std::span<std::uint64_t>(words), 0);
    std::memcpy(&id, words.data(), sizeof id);
    return comm::nccl(id, host.rank(), host.size(), device);
}

template <class V, class HostComm>
int run_on_ranks_with_nccl(const cli::args& a, HostComm& host, int device, const std::string& gpu_name,
                           const gpu_memory_check& check, const host_side<V>& host_fns) {
    comm::hybrid<comm::nccl, HostComm> c(nccl_over(host, device), std::move(host));
    return comm::run_guarded(c, [&] {
        return run<cuda_backend, V>(a, c, [&](run_context<cuda_backend, V, comm::hybrid<comm::nccl, HostComm>>& rc) {
            rc.device = gpu_name + (a.has("tf32") ? " (TF32)" : "");
            train_distributed_on_gpu<V>(rc, check, host_fns);
        });
    });
}
#endif

template <class V>
int run_with(const cli::args& a, int* argc, char*** argv, const gpu_memory_check& check,
             const host_side<V>& host_fns) {
    const int visible = gpu::device_count();
    if (visible == 0) throw error("--backend cuda: no CUDA device is visible (driver or GPU missing)");
    // Default: the launcher's local rank (mpirun, srun, torchrun), modulo the visible
    // GPUs, so ranks of one node take different GPUs, also when each sees only its own.
    const int local = comm::detect_launch().local_rank;
    const int device = a.number<int>("device", local > 0 ? local % visible : 0);
    if (device < 0 || device >= visible)
        throw cli::usage_error("flag --device: " + std::to_string(device) + " is not one of the " +
                               std::to_string(visible) + " visible GPU(s)");
    gpu::context ctx(device);
    ctx.set_tf32(a.has("tf32"));
    gpu::scoped_context use(ctx);
    cudaDeviceProp prop{};
    MIXGCN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    const std::string name = prop.name;
    const std::string kind = a.get("comm", "local");
    int rc = 0;
    if (kind == "local") {
        comm::local c;
        rc = run<cuda_backend, V>(a, c, [&](run_context<cuda_backend, V, comm::local>& rc_ctx) {
            rc_ctx.device = name + (a.has("tf32") ? " (TF32)" : "");
            if (rc_ctx.strategy_name == "data" || rc_ctx.strategy_name == "pipeline")
                train_batches_on_gpu<V>(rc_ctx, check, host_fns);
            else train_on_gpu<V>(rc_ctx, check, host_fns);
        });
    } else {
#if defined(MIXGCN_TRAIN_WITH_NCCL)
        if (kind == "mpi") {
#if defined(MIXGCN_HAS_MPI)
            comm::mpi::environment env(*argc, *argv);
            comm::mpi host;
            rc = run_on_ranks_with_nccl<V>(a, host, device, name, check, host_fns);
#else
            throw cli::usage_error("flag --comm: mpi was not found when mixgcn-train was built (MIXGCN_WITH_MPI)");
#endif
        } else {
#if defined(MIXGCN_HAS_GLOO)
            comm::gloo host;
            rc = run_on_ranks_with_nccl<V>(a, host, device, name, check, host_fns);
#else
            throw cli::usage_error("flag --comm: gloo was not found when mixgcn-train was built (MIXGCN_WITH_GLOO)");
#endif
        }
#else
        (void)argc;
        (void)argv;
        throw cli::usage_error("--backend cuda on several ranks needs NCCL, which was not found when mixgcn-train "
                               "was built; --comm local trains on one GPU");
#endif
    }
    ctx.synchronize();
    return rc;
}

}  // namespace

int run_cuda(const cli::args& a, int* argc, char*** argv, bool double_precision, const gpu_memory_check& check,
             const host_side<float>& host_f32, const host_side<double>& host_f64) {
    return double_precision ? run_with<double>(a, argc, argv, check, host_f64)
                            : run_with<float>(a, argc, argv, check, host_f32);
}

}  // namespace mixgcn::train_tool
