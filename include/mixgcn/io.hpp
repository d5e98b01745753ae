#pragma once
// Input/output: edge lists, features, labels and splits in text (optionally gzipped),
// CSV, .npy, .npz (SciPy sparse) and Matrix Market; SNAP edge lists; dataset folders and
// OGB's raw layout; checkpoints.
#include "mixgcn/io/checkpoint.hpp"
#include "mixgcn/io/crc32c.hpp"
#include "mixgcn/io/dataset.hpp"
#include "mixgcn/io/edge_list.hpp"
#include "mixgcn/io/features.hpp"
#include "mixgcn/io/file.hpp"
#include "mixgcn/io/gzip.hpp"
#include "mixgcn/io/labels.hpp"
#include "mixgcn/io/matrix_market.hpp"
#include "mixgcn/io/npy.hpp"
#include "mixgcn/io/npz.hpp"
#include "mixgcn/io/ogb.hpp"
#include "mixgcn/io/text_reader.hpp"
#include "mixgcn/io/zip.hpp"
