#pragma once
// Umbrella header of the CUDA backend. Graph building on the device (Thrust, slow to
// compile) is separate: include mixgcn/backend/cuda/graph_build.cuh where it is needed.
#include "mixgcn/backend/cuda/aggregate.cuh"
#include "mixgcn/backend/cuda/backend.cuh"
#include "mixgcn/backend/cuda/context.cuh"
#include "mixgcn/backend/cuda/csr.cuh"
#include "mixgcn/backend/cuda/dense.cuh"
#include "mixgcn/backend/cuda/device_matrix.cuh"
#include "mixgcn/backend/cuda/elementwise.cuh"
#include "mixgcn/backend/cuda/error.cuh"
#include "mixgcn/backend/cuda/memory.cuh"
#include "mixgcn/backend/cuda/reduce.cuh"
