#pragma once
// Which engine moves a strategy's activation buffers: the communicator itself when the
// backend's memory is host memory; for a backend over device memory, the device engine
// of a communicator that has one (comm::hybrid<nccl, mpi|gloo>: NCCL moves the device
// buffers, MPI or Gloo the host-side metrics). Private to the strategies.
#include "mixgcn/backend/memory.hpp"
#include "mixgcn/comm/types.hpp"

namespace mixgcn::parallel::detail {

template <class B, class Comm>
inline constexpr bool has_data_engine =
    backend::host_accessible<B>() || requires(Comm& c) { c.template on<comm::memory_space::device>(); };

template <class B, class Comm>
auto& data_engine(Comm& c) {
    static_assert(has_data_engine<B, Comm>,
                  "a strategy over device memory moves its buffers with a device engine: use a communicator that has "
                  "one, comm::hybrid<comm::nccl, comm::mpi> (or a Gloo host engine)");
    if constexpr (backend::host_accessible<B>()) return c;
    else return c.template on<comm::memory_space::device>();
}

}  // namespace mixgcn::parallel::detail
