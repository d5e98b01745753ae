#pragma once
// run_guarded: the fault rule of every multi-rank program. A rank whose work throws
// prints "rank R: <what>" on stderr and takes the whole job down with a non-zero exit
// (MPI_Abort for comm::mpi; an immediate exit for Gloo, whose peers then fail on the
// closed sockets or their timeout and report in turn). No rank is left waiting in a
// collective for a peer that is gone.
#include <cstdio>
#include <exception>
#include <utility>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/error.hpp"

namespace mixgcn::comm {

inline constexpr int fault_exit_code = 3;

// Runs fn(); on an exception reports it and aborts the job. Returns fn's result.
template <class C, class F>
decltype(auto) run_guarded(C& c, F&& fn) {
    try {
        return std::forward<F>(fn)();
    } catch (const comm_error& e) {  // already "rank R: ..."
        std::fprintf(stderr, "%s\n", e.what());
        std::fflush(stderr);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: %s\n", c.rank(), e.what());
        std::fflush(stderr);
    } catch (...) {
        std::fprintf(stderr, "rank %d: unknown exception\n", c.rank());
        std::fflush(stderr);
    }
    c.abort(fault_exit_code);
}

}  // namespace mixgcn::comm
