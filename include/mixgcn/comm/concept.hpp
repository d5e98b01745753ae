#pragma once
// The communicator policy: what a parallel strategy may ask of the ranks. Every
// operation is typed (element types in comm/types.hpp), takes std::span views, and
// records its traffic in stats() under the rule of comm/traffic.hpp.
#include <concepts>
#include <cstddef>
#include <span>

#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/comm/types.hpp"

namespace mixgcn::comm {

template <class C>
concept communicator = requires(C& c, const C& cc, std::span<float> f, std::span<const float> cf,
                                std::span<double> d, std::span<const std::size_t> counts, int peer) {
    { C::name() } -> std::convertible_to<const char*>;
    { cc.rank() } -> std::convertible_to<int>;
    { cc.size() } -> std::convertible_to<int>;
    c.all_reduce(f, reduce_op::sum);
    c.all_reduce(d);
    c.all_to_all_v(cf, counts, f, counts);
    { c.start_all_to_all_v(cf, counts, f, counts) } -> std::same_as<typename C::pending>;
    // An exchange in flight: progress() advances it without blocking and says whether it
    // has completed; wait() blocks until it has.
    requires requires(typename C::pending& p) {
        p.wait();
        { p.progress() } -> std::convertible_to<bool>;
    };
    c.all_gather(cf, f);
    c.all_gather_v(cf, f, counts);
    c.broadcast(f, peer);
    c.reduce_scatter(cf, f);
    c.reduce_scatter_v(cf, f, counts);
    c.barrier();
    c.send(cf, peer, peer);
    c.recv(f, peer, peer);
    { cc.stats() } -> std::convertible_to<traffic>;
    c.reset_stats();
};

}  // namespace mixgcn::comm
