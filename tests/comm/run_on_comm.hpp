#pragma once
// The communicator a multi-process test driver names with --comm=mpi|gloo, started and
// handed to `job(c)`. Returns job's status, or 2 with a message naming `program` when the
// name is unknown or the engine was not built.
#include <cstdio>
#include <string>

#include "mixgcn/comm.hpp"

namespace mixgcn::test_support {

template <class Job>
int run_on_comm(const std::string& kind, int& argc, char**& argv, const char* program, Job&& job) {
#ifdef MIXGCN_HAS_MPI
    if (kind == "mpi") {
        comm::mpi::environment env(argc, argv);
        comm::mpi c;
        return job(c);
    }
#endif
#ifdef MIXGCN_HAS_GLOO
    if (kind == "gloo") {
        comm::gloo c;
        return job(c);
    }
#endif
    (void)argc;
    (void)argv;
    std::fprintf(stderr, "%s: unknown or unavailable --comm=%s\n", program, kind.c_str());
    return 2;
}

}  // namespace mixgcn::test_support
