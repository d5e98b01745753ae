#pragma once
// Umbrella header for the partitioners, their quality metrics and partition files.
#include "mixgcn/partition/block.hpp"
#include "mixgcn/partition/common.hpp"
#include "mixgcn/partition/concept.hpp"
#include "mixgcn/partition/feature_columns.hpp"
#include "mixgcn/partition/fennel.hpp"
#include "mixgcn/partition/file.hpp"
#include "mixgcn/partition/metis.hpp"
#include "mixgcn/partition/metrics.hpp"
#include "mixgcn/partition/ptscotch.hpp"
#include "mixgcn/partition/random.hpp"
#include "mixgcn/partition/spectral.hpp"
