#pragma once
// comm::hybrid<DeviceComm, HostComm>: two engines over the same ranks. Device buffers
// go through the first (NCCL when it lands), host buffers through the second (Gloo or
// MPI). The caller says where a buffer lives with a leading tag
//     c.all_reduce(comm::device_buffer, grads);
// or picks the engine by a memory-space template argument
//     c.on<comm::memory_space::device>().all_reduce(grads);
// and an untagged call is a host call, so hybrid is itself a communicator.
// stats() merges both engines' counters; device().stats() / host().stats() split them.
#include <concepts>
#include <string>
#include <type_traits>
#include <utility>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/comm/types.hpp"
#include "mixgcn/core/error.hpp"

namespace mixgcn::comm {

template <class T>
concept buffer_tag = std::same_as<T, device_buffer_t> || std::same_as<T, host_buffer_t>;

template <class DeviceComm, class HostComm>
class hybrid {
    static_assert(communicator<DeviceComm>,
                  "hybrid's first argument must be a communicator (comm::communicator) for device buffers.");
    static_assert(communicator<HostComm>,
                  "hybrid's second argument must be a communicator (comm::communicator) for host buffers.");

public:
    using device_type = DeviceComm;
    using host_type = HostComm;
    using pending = typename HostComm::pending;

    // Both engines must number the same ranks the same way.
    hybrid(DeviceComm dev, HostComm host) : dev_(std::move(dev)), host_(std::move(host)) {
        if (dev_.rank() != host_.rank() || dev_.size() != host_.size())
            throw comm_error(host_.rank(), std::string("hybrid: device communicator is rank ") +
                                               std::to_string(dev_.rank()) + " of " + std::to_string(dev_.size()) +
                                               " but host communicator is rank " + std::to_string(host_.rank()) +
                                               " of " + std::to_string(host_.size()));
    }

    static constexpr const char* name() noexcept { return "hybrid"; }
    int rank() const noexcept { return host_.rank(); }
    int size() const noexcept { return host_.size(); }

    // Both engines split alike (where both can): the same ranks, in the same order.
    hybrid split(int color, int key)
        requires requires(DeviceComm& d, HostComm& h) {
            d.split(0, 0);
            h.split(0, 0);
        }
    {
        auto d = dev_.split(color, key);
        return hybrid(std::move(d), host_.split(color, key));
    }

    DeviceComm& device() noexcept { return dev_; }
    HostComm& host() noexcept { return host_; }
    const DeviceComm& device() const noexcept { return dev_; }
    const HostComm& host() const noexcept { return host_; }

    // The engine for a memory space: c.on<memory_space::device>().all_reduce(x).
    template <memory_space S>
    auto& on() noexcept {
        if constexpr (S == memory_space::device) return dev_;
        else return host_;
    }

    // Each operation: a tagged form routed by the tag, and an untagged host form.
    template <buffer_tag Tag, class... A>
    decltype(auto) all_reduce(Tag, A&&... a) {
        return on<Tag::space>().all_reduce(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) all_reduce(A0&& a0, A&&... a) {
        return host_.all_reduce(std::forward<A0>(a0), std::forward<A>(a)...);
    }
    template <buffer_tag Tag, class... A>
    decltype(auto) all_to_all_v(Tag, A&&... a) {
        return on<Tag::space>().all_to_all_v(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) all_to_all_v(A0&& a0, A&&... a) {
        return host_.all_to_all_v(std::forward<A0>(a0), std::forward<A>(a)...);
    }
    template <buffer_tag Tag, class... A>
    decltype(auto) all_gather(Tag, A&&... a) {
        return on<Tag::space>().all_gather(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) all_gather(A0&& a0, A&&... a) {
        return host_.all_gather(std::forward<A0>(a0), std::forward<A>(a)...);
    }
    template <buffer_tag Tag, class... A>
    decltype(auto) all_gather_v(Tag, A&&... a) {
        return on<Tag::space>().all_gather_v(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) all_gather_v(A0&& a0, A&&... a) {
        return host_.all_gather_v(std::forward<A0>(a0), std::forward<A>(a)...);
    }
    template <buffer_tag Tag, class... A>
    decltype(auto) broadcast(Tag, A&&... a) {
        return on<Tag::space>().broadcast(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) broadcast(A0&& a0, A&&... a) {
        return host_.broadcast(std::forward<A0>(a0), std::forward<A>(a)...);
    }
    template <buffer_tag Tag, class... A>
    decltype(auto) reduce_scatter(Tag, A&&... a) {
        return on<Tag::space>().reduce_scatter(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) reduce_scatter(A0&& a0, A&&... a) {
        return host_.reduce_scatter(std::forward<A0>(a0), std::forward<A>(a)...);
    }
    template <buffer_tag Tag, class... A>
    decltype(auto) reduce_scatter_v(Tag, A&&... a) {
        return on<Tag::space>().reduce_scatter_v(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) reduce_scatter_v(A0&& a0, A&&... a) {
        return host_.reduce_scatter_v(std::forward<A0>(a0), std::forward<A>(a)...);
    }
    template <buffer_tag Tag, class... A>
    decltype(auto) send(Tag, A&&... a) {
        return on<Tag::space>().send(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) send(A0&& a0, A&&... a) {
        return host_.send(std::forward<A0>(a0), std::forward<A>(a)...);
    }
    template <buffer_tag Tag, class... A>
    decltype(auto) recv(Tag, A&&... a) {
        return on<Tag::space>().recv(std::forward<A>(a)...);
    }
    template <class A0, class... A>
        requires(!buffer_tag<std::remove_cvref_t<A0>>)
    decltype(auto) recv(A0&& a0, A&&... a) {
        return host_.recv(std::forward<A0>(a0), std::forward<A>(a)...);
    }

    // Only the host engine's pending type is nameable here (with its wait() and
    // progress()); a device exchange in flight is started on device() directly and
    // progresses through the device engine's pending.
    template <class... A>
    pending start_all_to_all_v(A&&... a) {
        return host_.start_all_to_all_v(std::forward<A>(a)...);
    }

    // Both engines: device work must be ordered before host work that follows.
    void barrier() {
        dev_.barrier();
        host_.barrier();
    }

    traffic stats() const {
        traffic t = dev_.stats();
        t += host_.stats();
        return t;
    }
    void reset_stats() {
        dev_.reset_stats();
        host_.reset_stats();
    }

    [[noreturn]] void abort(int code) noexcept { host_.abort(code); }

private:
    DeviceComm dev_;
    HostComm host_;
};

}  // namespace mixgcn::comm
