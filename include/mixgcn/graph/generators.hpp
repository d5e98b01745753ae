#pragma once
// Synthetic graphs and datasets: a degree-corrected stochastic block model with power-law
// degrees and class-dependent features (node classification of any size), and Graph500
// R-MAT (raw edge lists for scaling runs). See docs/generators.md.
#include "mixgcn/graph/generators/alias_table.hpp"
#include "mixgcn/graph/generators/features.hpp"
#include "mixgcn/graph/generators/rmat.hpp"
#include "mixgcn/graph/generators/sbm.hpp"
#include "mixgcn/graph/generators/split.hpp"
