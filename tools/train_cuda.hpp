#pragma once
// mixgcn-train's entry into backend::cuda, defined in train_cuda.cu (nvcc).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "cli.hpp"
#include "mixgcn/nn/model.hpp"

namespace mixgcn::train_tool {

// The memory check of a single-GPU run, given by the host TU (the planner's headers stay
// out of nvcc): nodes, non-zeros, model, value bytes, the GPU's free bytes and its name.
using gpu_memory_check = std::function<void(std::uint64_t, std::uint64_t, const nn::model_options&, std::size_t,
                                            double, const std::string&)>;

// Trains with backend::cuda on one GPU (strategy single, communicator local).
int run_cuda(const cli::args& a, bool double_precision, const gpu_memory_check& check);

}  // namespace mixgcn::train_tool
