#pragma once
// Which engine moves a strategy's activation buffers: the communicator itself when the
// backend's memory is host memory; for a backend over device memory, the device engine
// of a communicator that has one (comm::hybrid<nccl, mpi|gloo>: NCCL moves the device
// buffers, MPI or Gloo the host-side metrics). Private to the strategies.
#include <chrono>
#include <span>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/comm/types.hpp"
#include "mixgcn/core/trace.hpp"

namespace mixgcn::parallel::detail {

template <class B, class Comm>
inline constexpr bool has_data_engine =
    backend::host_accessible<B>() || requires(Comm& c) { c.template on<comm::memory_space::device>(); };

// A strategy states `static_assert(detail::data_engine_for<B, Comm>())`: a composition
// without an engine for its memory stops at compile time with this sentence.
template <class B, class Comm>
consteval bool data_engine_for() {
    static_assert(has_data_engine<B, Comm>,
                  "a strategy over device memory moves its buffers with a device engine: use a communicator that has "
                  "one, comm::hybrid<comm::nccl, comm::mpi> (or a Gloo host engine)");
    return true;
}

template <class B, class Comm>
auto& data_engine(Comm& c) {
    static_assert(data_engine_for<B, Comm>());
    if constexpr (backend::host_accessible<B>()) return c;
    else return c.template on<comm::memory_space::device>();
}

// Gradients summed over the ranks where they are, one all-reduce per parameter on the
// engine for B's memory (the default of core/strategy.hpp sums a host bucket). Returns
// the seconds it took (traced as "gradient all-reduce").
template <class B, class Comm, class Param>
double all_reduce_gradients(Comm& c, std::span<Param* const> params) {
    if (c.size() <= 1) return 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (auto* p : params)
        data_engine<B>(c).all_reduce(std::span(p->grad.data(), p->size()), comm::reduce_op::sum);
    return trace::interval("gradient all-reduce", trace::category::comm, t0, std::chrono::steady_clock::now());
}

}  // namespace mixgcn::parallel::detail
