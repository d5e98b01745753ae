// mixgcn-train --backend cuda: the host prepares the graph and features as for every
// backend (train_run.hpp), then the normalised operator and the features move to the
// GPU once and the whole epoch (aggregation, cuBLAS GEMMs, epilogues, loss, Adam) runs
// there; only the loss, the accuracy counts and the small weight matrices come back.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "mixgcn/backend/cuda.cuh"
#include "mixgcn/comm/launcher.hpp"
#include "mixgcn/comm/local.hpp"
#include "mixgcn/parallel/single.hpp"
#include "train_cuda.hpp"
#include "train_run.hpp"

namespace mixgcn::train_tool {

namespace {

using cuda_backend = ::mixgcn::backend::cuda;

template <class V>
void train_on_gpu(run_context<cuda_backend, V, comm::local>& ctx, const gpu_memory_check& check) {
    if (ctx.strategy_name != "single")
        throw cli::usage_error("--backend cuda trains with --strategy single on one GPU; --strategy " +
                               ctx.strategy_name + " runs on the host backends");
    std::size_t free_bytes = 0, total_bytes = 0;
    MIXGCN_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    check(std::uint64_t(ctx.adjacency.rows), ctx.adjacency.nnz(), ctx.model.options(), sizeof(V), double(free_bytes),
          ctx.device);
    const auto op = graph::gcn_normalize<V>(ctx.adjacency, ctx.mode);
    const auto dop = gpu::to_device(op);
    const auto features = gpu::to_device(ctx.ds.features);
    parallel::single<cuda_backend, V> strategy(dop);
    train::local_data<V> data{features.cview(), ctx.ds.labels.data(), ctx.ds.nodes_with(split_role::train),
                              ctx.ds.nodes_with(split_role::val), ctx.ds.nodes_with(split_role::test)};
    ctx.train_with(strategy, data);
    // Everything the backend allocated came from the device's default pool: its high-water
    // mark of bytes in use (not the reserved, chunk-rounded size) compares with
    // torch.cuda.max_memory_allocated.
    cudaMemPool_t pool{};
    MIXGCN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, gpu::current_context().device()));
    std::uint64_t high = 0;
    MIXGCN_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high));
    ctx.device_peak_bytes = std::size_t(high);
    ctx.mem.graph = dop.bytes();
    ctx.mem.features = features.bytes();
    ctx.mine.owned = double(ctx.ds.num_nodes());
}

template <class V>
int run_with(const cli::args& a, const gpu_memory_check& check) {
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
    comm::local c;
    const int rc = run<cuda_backend, V>(a, c, [&](run_context<cuda_backend, V, comm::local>& rc_ctx) {
        rc_ctx.device = name + (a.has("tf32") ? " (TF32)" : "");
        train_on_gpu<V>(rc_ctx, check);
    });
    ctx.synchronize();
    return rc;
}

}  // namespace

int run_cuda(const cli::args& a, bool double_precision, const gpu_memory_check& check) {
    return double_precision ? run_with<double>(a, check) : run_with<float>(a, check);
}

}  // namespace mixgcn::train_tool
