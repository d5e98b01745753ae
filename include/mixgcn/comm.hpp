#pragma once
// Communicators: local always; MPI and Gloo when the build found them (MIXGCN_HAS_MPI,
// MIXGCN_HAS_GLOO); hybrid to pair a device engine with a host engine.
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/guard.hpp"
#include "mixgcn/comm/hybrid.hpp"
#include "mixgcn/comm/local.hpp"
#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/comm/types.hpp"

#ifdef MIXGCN_HAS_MPI
#include "mixgcn/comm/mpi.hpp"
#endif
#ifdef MIXGCN_HAS_GLOO
#include "mixgcn/comm/gloo.hpp"
#endif

namespace mixgcn::comm {

static_assert(communicator<hybrid<local, local>>,
              "comm::hybrid<local, local> must provide every operation of comm::communicator (comm/concept.hpp).");

}  // namespace mixgcn::comm
