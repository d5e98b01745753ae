#pragma once
// mixgcn-train's entry into backend::cuda, defined in train_cuda.cu (nvcc).
#include "cli.hpp"

namespace mixgcn::train_tool {

// Trains with backend::cuda on one GPU (strategy single, communicator local).
int run_cuda(const cli::args& a, bool double_precision);

}  // namespace mixgcn::train_tool
