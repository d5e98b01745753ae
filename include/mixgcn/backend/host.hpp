#pragma once
// The host (CPU) backend: OpenMP + per-width vectorised aggregation + Eigen GEMM.
#include "mixgcn/backend/host/backend.hpp"
