#pragma once
// mixgcn-train's entry into backend::cuda, defined in train_cuda.cu (nvcc).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/storage/csr.hpp"
#include "train_balance.hpp"
#include "train_run.hpp"

namespace mixgcn::train_tool {

// The memory check of a GPU run, given by the host TU (the planner's headers stay out of
// nvcc): nodes, non-zeros, model, value bytes, the GPU's free bytes and its name, the
// ranks and the strategy.
using gpu_memory_check = std::function<void(std::uint64_t, std::uint64_t, const nn::model_options&, std::size_t,
                                            double, const std::string&, int, const std::string&)>;

// The owners --partition asks for (or the data strategy's clusters), computed by the
// calling process (the host TU's partitioners: METIS, Scotch and Spectra stay out of nvcc).
template <class V>
using gpu_partitioner = std::function<std::vector<int>(const storage::csr<index_t, V>&, int)>;

// What the host translation unit computes for a GPU run: the owners or clusters, the
// node order, and the load balancer's re-cut (for an adjacency that outlives it).
template <class V>
struct host_side {
    gpu_partitioner<V> partition;
    node_orderer<V> order;
    std::function<balance_recut_fn(const storage::csr<index_t, V>&, int)> balance_recut;
};

// Trains with backend::cuda: --comm local, strategy single, data or pipeline on one GPU;
// --comm mpi|gloo, strategy graph, feature, mixture, data or pipeline with one GPU per
// rank (argc/argv go to MPI_Init).
int run_cuda(const cli::args& a, int* argc, char*** argv, bool double_precision, const gpu_memory_check& check,
             const host_side<float>& host_f32, const host_side<double>& host_f64);

}  // namespace mixgcn::train_tool
