#pragma once
// comm::local: one rank. Every collective is the identity or a self-copy, so the
// single-rank strategies run through the same code path as the distributed ones.
// Nothing ever leaves the rank, so every byte counter stays zero (calls and seconds are
// still recorded).
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <span>
#include <type_traits>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/detail/checks.hpp"
#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/comm/types.hpp"

namespace mixgcn::comm {

class local {
public:
    // A completed exchange: local copies finish at start, so progress() reports
    // completion at once.
    class pending {
    public:
        void wait() noexcept { done_ = true; }
        bool progress() noexcept {
            done_ = true;
            return true;
        }
        bool done() const noexcept { return done_; }

    private:
        bool done_ = false;
    };

    static constexpr const char* name() noexcept { return "local"; }
    int rank() const noexcept { return 0; }
    int size() const noexcept { return 1; }

    template <element T>
    void all_reduce(std::span<T>, reduce_op = reduce_op::sum) {
        scoped_record r(stats_, "all_reduce", {});
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                      std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        scoped_record r(stats_, "all_to_all_v", {});
        copy_exchange("all_to_all_v", send, send_counts, recv, recv_counts);
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    pending start_all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                               std::span<std::remove_const_t<S>> recv,
                               std::span<const std::size_t> recv_counts) {
        scoped_record r(stats_, "all_to_all_v", {});
        copy_exchange("start_all_to_all_v", send, send_counts, recv, recv_counts);
        r.done();
        return {};
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        scoped_record r(stats_, "all_gather", {});
        detail::check_size(0, "all_gather", "recv", recv.size(), send.size());
        std::copy(send.begin(), send.end(), recv.begin());
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather_v(std::span<S> send, std::span<std::remove_const_t<S>> recv,
                      std::span<const std::size_t> recv_counts) {
        scoped_record r(stats_, "all_gather_v", {});
        detail::check_counts(0, 1, "all_gather_v", "recv_counts", recv_counts, recv.size());
        detail::check_size(0, "all_gather_v", "send", send.size(), recv_counts[0]);
        std::copy(send.begin(), send.end(), recv.begin());
        r.done();
    }

    template <element T>
    void broadcast(std::span<T>, int root) {
        scoped_record r(stats_, "broadcast", {});
        detail::check_peer(0, 1, "broadcast", root);
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void reduce_scatter(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        scoped_record r(stats_, "reduce_scatter", {});
        detail::check_size(0, "reduce_scatter", "send", send.size(), recv.size());
        std::copy(send.begin(), send.end(), recv.begin());
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void reduce_scatter_v(std::span<S> send, std::span<std::remove_const_t<S>> recv,
                          std::span<const std::size_t> recv_counts) {
        scoped_record r(stats_, "reduce_scatter", {});
        detail::check_counts(0, 1, "reduce_scatter_v", "recv_counts", recv_counts, send.size());
        detail::check_size(0, "reduce_scatter_v", "recv", recv.size(), recv_counts[0]);
        std::copy(send.begin(), send.end(), recv.begin());
        r.done();
    }

    void barrier() {
        scoped_record r(stats_, "barrier", {});
        r.done();
    }

    // Point-to-point with oneself has no matching receive on one rank: reject it rather
    // than deadlock.
    template <class S>
        requires element<std::remove_const_t<S>>
    void send(std::span<S>, int dest, int = 0) {
        detail::check_peer(0, 1, "send", dest);
        throw invalid_argument("rank 0: send: comm::local has no other rank to send to");
    }
    template <element T>
    void recv(std::span<T>, int src, int = 0) {
        detail::check_peer(0, 1, "recv", src);
        throw invalid_argument("rank 0: recv: comm::local has no other rank to receive from");
    }

    const traffic& stats() const noexcept { return stats_.view(); }
    void reset_stats() noexcept { stats_.clear(); }
    // The one rank, alone with itself.
    local split(int, int) const { return local{}; }

    [[noreturn]] void abort(int code) noexcept { std::_Exit(code); }

private:
    template <class S, class T>
    static void copy_exchange(const char* op, std::span<S> send, std::span<const std::size_t> send_counts,
                              std::span<T> recv, std::span<const std::size_t> recv_counts) {
        detail::check_counts(0, 1, op, "send_counts", send_counts, send.size());
        detail::check_counts(0, 1, op, "recv_counts", recv_counts, recv.size());
        std::copy(send.begin(), send.end(), recv.begin());
    }

    traffic_store stats_;
};

static_assert(communicator<local>,
              "comm::local must provide every operation of comm::communicator (comm/concept.hpp).");

}  // namespace mixgcn::comm
