#pragma once
// comm::gloo: collectives over Gloo's TCP transport (Debian's libgloo-dev), for CPU
// ranks started as separate processes, with or without an MPI launcher.
//
// Rendezvous: every rank writes its listening addresses into a Gloo FileStore (a
// directory all ranks see, fresh for every job) or, when constructed from a comm::mpi
// or started by mpirun without a store, exchanges them through MPI. Every wait carries
// a timeout, and a peer that dies closes its sockets, so a lost rank surfaces as a
// comm_error on the survivors instead of a hang.
//
// all_reduce, broadcast and barrier use Gloo's own algorithms; the personalised
// exchanges (all_to_all_v, its non-blocking form, all_gather_v, reduce_scatter) are
// pairwise sends and receives on Gloo unbound buffers, which are asynchronous by
// nature, so the non-blocking exchange needs no helper thread.
#ifndef MIXGCN_HAS_GLOO
#error "mixgcn/comm/gloo.hpp needs Gloo: configure with -DMIXGCN_WITH_GLOO=ON and link mixgcn::mixgcn."
#endif

#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/context.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/transport/pair.h>
#include <gloo/transport/unbound_buffer.h>
#include <gloo/types.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/detail/checks.hpp"
#include "mixgcn/comm/detail/gloo_gathering_store.hpp"
#include "mixgcn/comm/detail/gloo_tcp_store.hpp"
#include "mixgcn/comm/launcher.hpp"
#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/comm/types.hpp"
#include "mixgcn/core/error.hpp"

#ifdef MIXGCN_HAS_MPI
#include "mixgcn/comm/detail/gloo_mpi_store.hpp"
#include "mixgcn/comm/mpi.hpp"
#endif

namespace mixgcn::comm {

namespace detail {

// Slot prefixes of our own pairwise operations, clear of Gloo's 0x01..0x08.
inline constexpr std::uint8_t gloo_exchange_prefix = 0x60;
inline constexpr std::uint8_t gloo_p2p_prefix = 0x61;

// True when an MPI launcher started this process: OpenMPI's mpirun, or any launcher
// speaking PMIx or PMI (MPICH's Hydra, Slurm's srun --mpi=...).
inline bool launched_by_mpi() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
        if (env_or_null(v)) return true;
    return false;
}

#ifdef MIXGCN_HAS_MPI
// MPI for a Gloo rank that mpirun started without a FileStore: initialised on first use
// unless someone else has (comm::mpi::environment leaves an MPI it did not start alone),
// and finalised at exit by the static's destructor. A function-local static is
// destroyed after main's objects and after every static constructed later (any
// comm::gloo built through it), so MPI outlives whatever uses it; if the program
// finalises MPI itself first, the destructor sees that and does nothing.
inline void start_mpi_for_gloo() {
    static mpi::environment env;
    (void)env;
}
#endif

// Who the peers are, learnt right after the rendezvous, so that a failed operation can
// say which rank was lost: Gloo's own message names only a socket address ("Connection
// closed by peer [127.0.0.1]:40123", "Read error [...]: Connection reset by peer").
struct gloo_peer_table {
    std::string host;                    // this rank's host name
    std::vector<std::string> hosts;      // hosts[q]: rank q's host name
    std::vector<long> pids;              // pids[q]: rank q's process id
    std::vector<std::string> addresses;  // addresses[q]: rank q's end of our pair, as it saw it
};

// True when process `pid` of this host has ended (gone, or a zombie not yet reaped).
inline bool process_ended(long pid) {
    if (pid <= 0) return false;
    if (::kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");  // "pid (name) STATE ..."
    std::string line;
    std::getline(f, line);
    const auto paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && (line[paren + 2] == 'Z' || line[paren + 2] == 'X');
}

// Appends which rank was lost to Gloo's message. A peer on this host whose process has
// ended is named for certain (a socket closes a moment before its process is reaped,
// so this waits up to a second for that); otherwise the rank whose pair address the
// message shows (Gloo reports a pair by one of its addresses, which is usually, not
// always, the one the peer saw). Neither: the message as Gloo wrote it.
inline std::string name_lost_peer(std::string what, const gloo_peer_table& t) {
    const bool connection_failure = what.find("by peer") != std::string::npos ||
                                    what.find("Connection") != std::string::npos ||
                                    what.find("Read error") != std::string::npos ||
                                    what.find("Write error") != std::string::npos;
    if (!connection_failure || t.pids.empty()) return what;
    std::string gone;
    int count = 0;
    for (int attempt = 0; attempt < 20 && count == 0; ++attempt) {
        if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        for (std::size_t q = 0; q < t.pids.size(); ++q)
            if (!t.hosts[q].empty() && t.hosts[q] == t.host && process_ended(t.pids[q])) {
                gone += (count++ ? ", " : "") + std::to_string(q);
            }
    }
    if (count == 1) return what + " (lost rank " + gone + ": its process on this host has ended)";
    if (count > 1) return what + " (lost ranks " + gone + ": their processes on this host have ended)";
    for (std::size_t q = 0; q < t.addresses.size(); ++q) {
        const auto& a = t.addresses[q];
        if (a.empty()) continue;
        for (auto at = what.find(a); at != std::string::npos; at = what.find(a, at + 1)) {
            const auto end = at + a.size();
            if (end < what.size() && what[end] >= '0' && what[end] <= '9') continue;  // a longer port
            return what + " (lost rank " + std::to_string(q) + ": the connection to it failed, host " + t.hosts[q] +
                   ", pid " + std::to_string(t.pids[q]) + ")";
        }
    }
    return what + " (a peer's connection failed; no rank on this host has ended)";
}

// One transfer of a pairwise exchange: `bytes` at `offset` to or from `peer`.
struct transfer {
    int peer;
    std::size_t offset;
    std::size_t bytes;
};

}  // namespace detail

// Where a Gloo rank finds its peers; unset fields come from the environment.
struct gloo_options {
    int rank = -1;                // -1: the launcher's (comm/launcher.hpp: MIXGCN_RANK, mpirun, srun, torchrun)
    int size = -1;                // -1: the launcher's world size
    std::string store;            // FileStore directory; empty: MIXGCN_GLOO_STORE
    std::string iface;            // network interface; empty: MIXGCN_GLOO_IFACE
    std::string address;          // host/IP to bind; empty: MIXGCN_GLOO_ADDR, else 127.0.0.1
    std::chrono::milliseconds timeout{0};  // 0: MIXGCN_GLOO_TIMEOUT seconds, else 60 s
};

class gloo {
public:
    using options = gloo_options;

    // An exchange in flight: sends and receives are posted, wait() completes them.
    // Destroying an unfinished one waits (errors swallowed), since Gloo may still write
    // into the receive buffer.
    //
    // progress() cannot report completion early: Gloo's own I/O threads move the bytes
    // (nothing for the caller to drive), and Gloo has no non-blocking test of an unbound
    // buffer. The only probe, waitRecv/waitSend with a short timeout, is destructive:
    // on expiry it signals a timeout to every pair of the context, which fails every
    // pending operation. So progress() returns false until wait() has completed the
    // exchange (true afterwards), and wait() remains the completion.
    class pending {
    public:
        pending() = default;
        pending(const pending&) = delete;
        pending& operator=(const pending&) = delete;
        pending(pending&& o) noexcept { *this = std::move(o); }
        pending& operator=(pending&& o) noexcept {
            if (this != &o) {
                finish_quietly();
                in_ = std::move(o.in_);
                out_ = std::move(o.out_);
                sends_ = std::exchange(o.sends_, 0);
                recvs_ = std::exchange(o.recvs_, 0);
                timeout_ = o.timeout_;
                op_ = o.op_;
                account_ = std::move(o.account_);
                rank_ = o.rank_;
                peers_ = std::move(o.peers_);
            }
            return *this;
        }
        ~pending() { finish_quietly(); }

        bool done() const noexcept { return sends_ == 0 && recvs_ == 0; }

        // Never blocks; see above for why it does not complete the exchange.
        bool progress() {
            if (!done()) return false;
            record(true, std::chrono::steady_clock::now());  // nothing was posted (one rank)
            return true;
        }

        void wait() {
            if (done()) {
                record(true, std::chrono::steady_clock::now());  // nothing was posted (one rank)
                return;
            }
            const auto t0 = std::chrono::steady_clock::now();
            try {
                complete();
            } catch (const std::exception& e) {
                record(false, t0);
                throw comm_error(rank_, std::string(op_) + " failed: " +
                                            (peers_ ? detail::name_lost_peer(e.what(), *peers_) : std::string(e.what())));
            }
            record(true, t0);
        }

    private:
        friend class gloo;
        void complete() {
            // Zero the counters first: after a failure nothing is left to wait for.
            const int s = std::exchange(sends_, 0), r = std::exchange(recvs_, 0);
            for (int i = 0; i < r; ++i)
                if (!out_->waitRecv(timeout_)) throw comm_error(rank_, "receive aborted");
            for (int i = 0; i < s; ++i)
                if (!in_->waitSend(timeout_)) throw comm_error(rank_, "send aborted");
        }
        void record(bool ok, std::chrono::steady_clock::time_point t0) {
            account_.add_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            account_.record(ok);
        }
        // Waits for an unfinished exchange, except while an exception unwinds the stack:
        // then the job is failing, and waiting could deadlock until the timeout on peers
        // that failed too (each stuck in the same wait), so the exchange is abandoned.
        void finish_quietly() noexcept {
            if (std::uncaught_exceptions() > 0) {
                abandon();
                return;
            }
            try {
                if (!done()) complete();
            } catch (...) {  // destructor: the error was the caller's to collect with wait()
            }
        }
        // Drops the posted operations without waiting: destroying Gloo's unbound buffers
        // detaches them from the pairs, which then write into them no more.
        void abandon() noexcept {
            sends_ = 0;
            recvs_ = 0;
            in_.reset();
            out_.reset();
        }

        std::unique_ptr<::gloo::transport::UnboundBuffer> in_, out_;
        int sends_ = 0, recvs_ = 0;
        std::chrono::milliseconds timeout_{0};
        const char* op_ = "all_to_all_v";  // for error messages
        pending_record account_;
        int rank_ = -1;
        // The communicator's, for error messages; shared, so it outlives a move of it.
        std::shared_ptr<const detail::gloo_peer_table> peers_;
    };

    // Fills what `o` leaves unset from the environment (see options).
    static options from_env(options o = {}) {
        if (o.rank < 0 || o.size < 0) {  // from the launcher (comm/launcher.hpp)
            const auto l = detect_launch();
            if (o.rank < 0) o.rank = l.rank;
            if (o.size < 0) o.size = l.size;
        }
        if (o.store.empty())
            if (auto v = detail::env_or_null("MIXGCN_GLOO_STORE")) o.store = v;
        if (o.iface.empty())
            if (auto v = detail::env_or_null("MIXGCN_GLOO_IFACE")) o.iface = v;
        if (o.address.empty())
            if (auto v = detail::env_or_null("MIXGCN_GLOO_ADDR")) o.address = v;
        if (o.timeout.count() <= 0) {
            if (auto v = detail::env_or_null("MIXGCN_GLOO_TIMEOUT"))
                o.timeout = std::chrono::seconds(detail::env_int("MIXGCN_GLOO_TIMEOUT", v));
            else
                o.timeout = std::chrono::seconds(60);
        }
        return o;
    }

    // Rendezvous through a FileStore directory or, when none is given, through
    // MPI_COMM_WORLD when mpirun started the process (MPI is initialised here if nobody
    // has, and finalised at exit: detail::start_mpi_for_gloo), else through the TCP store
    // rank 0 serves at MASTER_ADDR:MASTER_PORT (detail::gloo_tcp_store; torchrun's
    // variables).
    explicit gloo(options opts = {}) {
        opts = from_env(std::move(opts));
        if (opts.store.empty() && detail::launched_by_mpi()) {
#ifdef MIXGCN_HAS_MPI
            detail::start_mpi_for_gloo();
            const mpi world;  // a duplicate of MPI_COMM_WORLD, for the rendezvous only
            check_matches(world, opts);
            connect_through(world, std::move(opts));
            return;
#else
            validate(opts);
            require(false, "comm::gloo rank ", opts.rank,
                    ": started by mpirun, but this build has no MPI to rendezvous through (MIXGCN_WITH_MPI); "
                    "set MIXGCN_GLOO_STORE (or pass options::store) to a directory every rank sees");
#endif
        }
        validate(opts);
        if (opts.store.empty()) {
            const char* host = detail::env_or_null("MASTER_ADDR");
            const char* port = detail::env_or_null("MASTER_PORT");
            require(host && port, "comm::gloo rank ", opts.rank,
                    ": no rendezvous; set MIXGCN_GLOO_STORE (or pass options::store) to a fresh directory every "
                    "rank sees, or MASTER_ADDR and MASTER_PORT (rank 0 serves a TCP store there; torchrun sets "
                    "them), or start the ranks under mpirun to rendezvous through MPI");
            detail::gloo_tcp_store store(host, detail::env_int("MASTER_PORT", port), opts.rank, opts.size, opts.timeout);
            connect(opts, store);
            return;
        }
        ::gloo::rendezvous::FileStore store(opts.store);
        connect(opts, store);
    }

#ifdef MIXGCN_HAS_MPI
    // Rank and size from the MPI communicator; addresses exchanged through MPI unless a
    // FileStore directory is given.
    explicit gloo(const mpi& m, options opts = {}) { connect_through(m, std::move(opts)); }
#endif

    gloo(const gloo&) = delete;
    gloo& operator=(const gloo&) = delete;
    gloo(gloo&&) noexcept = default;
    gloo& operator=(gloo&&) noexcept = default;
    ~gloo() = default;

    static constexpr const char* name() noexcept { return "gloo"; }
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    std::chrono::milliseconds timeout() const noexcept { return timeout_; }

    // Changes the timeout of every later operation (exchanges already posted keep theirs).
    // Gloo takes a timeout per operation, and comm::gloo passes this one to each, so it
    // applies to a live context; the pairs' own timeout is fixed at connection time but
    // only bounds connecting. mixgcn-train derives it from the first epoch (docs/faults.md).
    void set_timeout(std::chrono::milliseconds t) {
        require(t.count() > 0, "comm::gloo rank ", rank_, ": timeout must be positive, got ", t.count(), " ms");
        timeout_ = t;
        if (ctx_) ctx_->setTimeout(t);
    }
    const std::shared_ptr<::gloo::Context>& native() const noexcept { return ctx_; }

    template <element T>
    void all_reduce(std::span<T> buf, reduce_op op = reduce_op::sum) {
        scoped_record r(stats_, "all_reduce", volume::all_reduce(rank_, size_, buf.size(), sizeof(T)));
        if (size_ > 1 && !buf.empty()) {
            guarded("all_reduce", [&] {
                ::gloo::AllreduceOptions o(ctx_);
                o.setOutput(buf.data(), buf.size());
                using fn = void (*)(void*, const void*, const void*, std::size_t);
                o.setReduceFunction(op == reduce_op::sum ? static_cast<fn>(&::gloo::sum<T>)
                                                         : static_cast<fn>(&::gloo::max<T>));
                o.setTag(next_tag());
                o.setTimeout(timeout_);
                ::gloo::allreduce(o);
            });
        }
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                      std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        start_all_to_all_v(send, send_counts, recv, recv_counts).wait();
    }

    // Posts every send and receive and returns; the buffers must stay untouched until
    // wait(). Seconds recorded = time blocked in start + wait, not the overlap.
    template <class S>
        requires element<std::remove_const_t<S>>
    pending start_all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                               std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        const auto t0 = std::chrono::steady_clock::now();
        detail::check_counts(rank_, size_, "all_to_all_v", "send_counts", send_counts, send.size());
        detail::check_counts(rank_, size_, "all_to_all_v", "recv_counts", recv_counts, recv.size());
        const auto sd = detail::displacements(send_counts);
        const auto rd = detail::displacements(recv_counts);
        std::vector<detail::transfer> sends, recvs;
        for (int q = 0; q < size_; ++q) {
            const auto i = static_cast<std::size_t>(q);
            if (q == rank_) {
                detail::check_size(rank_, "all_to_all_v", "the block to self (recv_counts[rank])", recv_counts[i],
                                   send_counts[i]);
                std::copy_n(send.data() + sd[i], send_counts[i], recv.data() + rd[i]);
                continue;
            }
            sends.push_back({q, sd[i] * sizeof(T), send_counts[i] * sizeof(T)});
            recvs.push_back({q, rd[i] * sizeof(T), recv_counts[i] * sizeof(T)});
        }
        pending p = post("all_to_all_v", std::as_bytes(send), sends, std::as_writable_bytes(recv), recvs);
        p.account_ = pending_record(stats_.share(), "all_to_all_v",
                                    volume::all_to_all_v(rank_, send_counts, recv_counts, sizeof(T)), since(t0));
        return p;
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        detail::check_size(rank_, "all_gather", "recv", recv.size(), send.size() * static_cast<std::size_t>(size_));
        const std::vector<std::size_t> counts(static_cast<std::size_t>(size_), send.size());
        gather_v("all_gather", send, recv, counts);
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather_v(std::span<S> send, std::span<std::remove_const_t<S>> recv,
                      std::span<const std::size_t> recv_counts) {
        detail::check_counts(rank_, size_, "all_gather_v", "recv_counts", recv_counts, recv.size());
        detail::check_size(rank_, "all_gather_v", "send", send.size(), recv_counts[static_cast<std::size_t>(rank_)]);
        gather_v("all_gather_v", send, recv, recv_counts);
    }

    template <element T>
    void broadcast(std::span<T> buf, int root) {
        detail::check_peer(rank_, size_, "broadcast", root);
        scoped_record r(stats_, "broadcast", volume::broadcast(rank_, size_, root, buf.size(), sizeof(T)));
        if (size_ > 1 && !buf.empty()) {
            guarded("broadcast", [&] {
                ::gloo::BroadcastOptions o(ctx_);
                o.setOutput(buf.data(), buf.size());
                o.setRoot(root);
                o.setTag(next_tag());
                o.setTimeout(timeout_);
                ::gloo::broadcast(o);
            });
        }
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void reduce_scatter(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        detail::check_size(rank_, "reduce_scatter", "send", send.size(), recv.size() * static_cast<std::size_t>(size_));
        const std::vector<std::size_t> counts(static_cast<std::size_t>(size_), recv.size());
        scatter_sum("reduce_scatter", send, recv, counts);
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void reduce_scatter_v(std::span<S> send, std::span<std::remove_const_t<S>> recv,
                          std::span<const std::size_t> recv_counts) {
        detail::check_counts(rank_, size_, "reduce_scatter_v", "recv_counts", recv_counts, send.size());
        detail::check_size(rank_, "reduce_scatter_v", "recv", recv.size(), recv_counts[static_cast<std::size_t>(rank_)]);
        scatter_sum("reduce_scatter_v", send, recv, recv_counts);
    }

    void barrier() {
        scoped_record r(stats_, "barrier", {});
        if (size_ > 1) {
            guarded("barrier", [&] {
                ::gloo::BarrierOptions o(ctx_);
                o.setTag(next_tag());
                o.setTimeout(timeout_);
                ::gloo::barrier(o);
            });
        }
        r.done();
    }

    // Blocking point-to-point; messages between a pair with the same tag arrive in order.
    template <class S>
        requires element<std::remove_const_t<S>>
    void send(std::span<S> buf, int dest, int tag = 0) {
        using T = std::remove_const_t<S>;
        check_p2p("send", dest, tag);
        scoped_record r(stats_, "send", {buf.size() * sizeof(T), 0});
        guarded("send to rank " + std::to_string(dest), [&] {
            auto b = ctx_->createUnboundBuffer(non_null(const_cast<T*>(buf.data())), buf.size() * sizeof(T));
            b->send(dest, ::gloo::Slot::build(detail::gloo_p2p_prefix, static_cast<std::uint32_t>(tag)));
            if (!b->waitSend(timeout_)) throw comm_error(rank_, "send aborted");
        });
        r.done();
    }

    // Receives exactly buf.size() elements.
    template <element T>
    void recv(std::span<T> buf, int src, int tag = 0) {
        check_p2p("recv", src, tag);
        scoped_record r(stats_, "recv", {0, buf.size() * sizeof(T)});
        guarded("recv from rank " + std::to_string(src), [&] {
            auto b = ctx_->createUnboundBuffer(non_null(buf.data()), buf.size() * sizeof(T));
            b->recv(src, ::gloo::Slot::build(detail::gloo_p2p_prefix, static_cast<std::uint32_t>(tag)));
            if (!b->waitRecv(timeout_)) throw comm_error(rank_, "receive aborted");
        });
        r.done();
    }

    // The ranks passing the same `color`, ranked by `key` (ties by rank), as a communicator
    // of their own (a pipeline stage's replicas, say), as MPI_Comm_split does. Collective
    // over this communicator. The new context has its own connections; they rendezvous over
    // this communicator (detail::gloo_gathering_store, one store scope per colour), so no
    // store directory or launcher is needed again. Same timeout, interface and address.
    gloo split(int color, int key) {
        const int mine[2] = {color, key};
        std::vector<int> all(2 * static_cast<std::size_t>(size_));
        all_gather(std::span<const int>(mine), std::span<int>(all));
        options o = opts_;
        o.rank = 0;
        o.size = 0;
        for (int q = 0; q < size_; ++q) {
            const auto i = 2 * static_cast<std::size_t>(q);
            if (all[i] != color) continue;
            ++o.size;
            if (all[i + 1] < key || (all[i + 1] == key && q < rank_)) ++o.rank;
        }
        detail::gloo_gathering_store store(
            rank_, "comm::gloo split (colour " + std::to_string(color) + ")",
            [this](const std::vector<char>& bytes) { return gather_bytes(bytes); }, std::to_string(color));
        gloo sub{unconnected{}};
        sub.connect(o, store);
        return sub;
    }

    const traffic& stats() const noexcept { return stats_.view(); }
    void reset_stats() noexcept { stats_.clear(); }

    // Gloo has no job-wide abort: leave at once with `code`; the peers see the closed
    // sockets (or their timeout) and fail in turn.
    [[noreturn]] void abort(int code) noexcept { std::_Exit(code); }

private:
#ifdef MIXGCN_HAS_MPI
    // A rank or size given by options or MIXGCN_RANK / MIXGCN_WORLD_SIZE must be MPI's.
    // Decided together (all-reduced), so either every rank throws or none does: a rank
    // that threw alone would sit in MPI_Finalize at exit while the others wait in the
    // rendezvous, and the job would hang.
    static void check_matches(const mpi& m, const options& o) {
        const bool rank_ok = o.rank < 0 || o.rank == m.rank();
        const bool size_ok = o.size < 0 || o.size == m.size();
        int bad = rank_ok && size_ok ? 0 : 1;
        if (MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, m.native()) != MPI_SUCCESS)
            throw comm_error(m.rank(), "comm::gloo: MPI_Allreduce of the rank check failed");
        require(rank_ok, "comm::gloo: rank ", o.rank, " (options::rank or MIXGCN_RANK) disagrees with the MPI rank ",
                m.rank(), " under mpirun");
        require(size_ok, "comm::gloo: world size ", o.size,
                " (options::size or MIXGCN_WORLD_SIZE) disagrees with the MPI world size ", m.size(), " under mpirun");
        require(bad == 0, "comm::gloo rank ", m.rank(),
                ": another rank's options::rank/size or MIXGCN_RANK/MIXGCN_WORLD_SIZE disagree with MPI under mpirun");
    }

    void connect_through(const mpi& m, options opts) {
        opts.rank = m.rank();
        opts.size = m.size();
        opts = from_env(std::move(opts));
        if (!opts.store.empty()) {
            ::gloo::rendezvous::FileStore store(opts.store);
            connect(opts, store);
        } else {
            auto store = detail::gloo_mpi_store(m.native());
            connect(opts, store);
        }
    }
#endif

    static void validate(const options& o) {
        require(o.size >= 1, "comm::gloo: world size ", o.size,
                " is not positive; pass options::size, or start the ranks with mpirun, srun or torchrun, or set "
                "MIXGCN_WORLD_SIZE");
        require(o.rank >= 0 && o.rank < o.size, "comm::gloo: rank ", o.rank, " out of range [0, ", o.size,
                "); pass options::rank or set MIXGCN_RANK");
    }

    struct unconnected {};
    explicit gloo(unconnected) {}  // for split: connect() makes it a communicator

    // Every rank's bytes, in rank order (split's rendezvous).
    std::vector<std::vector<char>> gather_bytes(const std::vector<char>& mine) {
        const auto n = static_cast<std::size_t>(size_);
        const std::uint64_t len = mine.size();
        std::vector<std::uint64_t> lens(n);
        all_gather(std::span<const std::uint64_t>(&len, 1), std::span<std::uint64_t>(lens));
        const std::vector<std::size_t> counts(lens.begin(), lens.end());
        std::vector<char> all(std::accumulate(counts.begin(), counts.end(), std::size_t{0}));
        gather_v("all_gather_v", std::span<const char>(mine), std::span<char>(all), std::span<const std::size_t>(counts));
        std::vector<std::vector<char>> out(n);
        auto at = all.begin();
        for (std::size_t q = 0; q < n; ++q) {
            out[q].assign(at, at + std::ptrdiff_t(counts[q]));
            at += std::ptrdiff_t(counts[q]);
        }
        return out;
    }

    void connect(const options& o, ::gloo::rendezvous::Store& store) {
        validate(o);
        opts_ = o;
        opts_.store.clear();
        rank_ = o.rank;
        size_ = o.size;
        timeout_ = o.timeout;
        guarded("rendezvous", [&] {
            ::gloo::transport::tcp::attr attr;
            if (!o.iface.empty()) attr.iface = o.iface;
            else attr.hostname = o.address.empty() ? "127.0.0.1" : o.address;
            auto dev = ::gloo::transport::tcp::CreateDevice(attr);
            auto ctx = std::make_shared<::gloo::rendezvous::Context>(rank_, size_);
            ctx->setTimeout(timeout_);
            ctx->connectFullMesh(store, dev);
            ctx_ = std::move(ctx);
        });
        learn_peer_addresses(store);
    }

    // Every rank publishes its host name, process id and the local address of its pair
    // to each peer (detail::gloo_peer_table), through the rendezvous store.
    void learn_peer_addresses(::gloo::rendezvous::Store& store) {
        const auto n = static_cast<std::size_t>(size_);
        auto& table = *peers_;
        table = {};
        auto key = [](int q) { return "mixgcn_peer_table_" + std::to_string(q); };
        if (size_ == 1) {
            // Nothing to learn, but publish as every rank does: a split's store gathers
            // over the parent on each set(), so every colour must set as often.
            guarded("rendezvous (peer table)", [&] { store.set(key(rank_), {}); });
            return;
        }
        char host[256] = {};
        if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
        table.host = host;
        table.hosts.assign(n, std::string());
        table.pids.assign(n, 0);
        table.addresses.assign(n, std::string());
        guarded("rendezvous (peer table)", [&] {
            std::string mine = table.host + '\n' + std::to_string(static_cast<long>(::getpid())) + '\n';
            for (int q = 0; q < size_; ++q) {
                if (q != rank_) mine += ctx_->getPair(q)->address().str();
                mine += '\n';
            }
            store.set(key(rank_), std::vector<char>(mine.begin(), mine.end()));
            std::vector<std::string> keys;
            for (int q = 0; q < size_; ++q)
                if (q != rank_) keys.push_back(key(q));
            store.wait(keys, timeout_);
            for (int q = 0; q < size_; ++q) {
                if (q == rank_) continue;
                const auto v = store.get(key(q));
                std::vector<std::string> lines(1);
                for (const char c : v) {
                    if (c == '\n') lines.emplace_back();
                    else lines.back() += c;
                }
                const auto i = static_cast<std::size_t>(q);
                if (lines.size() < 2 + n) throw comm_error(rank_, "rank " + std::to_string(q) + " published a malformed peer table");
                table.hosts[i] = lines[0];
                table.pids[i] = std::strtol(lines[1].c_str(), nullptr, 10);
                table.addresses[i] = lines[2 + static_cast<std::size_t>(rank_)];
            }
        });
    }

    // Gloo reports failures as its own exception types; callers get comm_error.
    template <class F>
    void guarded(const std::string& op, F&& f) const {
        try {
            f();
        } catch (const mixgcn::error&) {
            throw;
        } catch (const std::exception& e) {
            throw comm_error(rank_, op + " failed: " +
                                        (peers_ ? detail::name_lost_peer(e.what(), *peers_) : std::string(e.what())));
        }
    }

    void check_p2p(const char* op, int peer, int tag) const {
        detail::check_peer(rank_, size_, op, peer);
        require(peer != rank_, "rank ", rank_, ": ", op, ": a rank cannot ", op, " to itself with comm::gloo");
        require(tag >= 0, "rank ", rank_, ": ", op, ": tag ", tag, " is negative");
    }

    std::uint32_t next_tag() noexcept { return tag_++; }

    static double since(std::chrono::steady_clock::time_point t0) noexcept {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    // Gloo wants a real address even for an empty buffer.
    template <class T>
    void* non_null(T* p) noexcept {
        return p ? static_cast<void*>(p) : static_cast<void*>(&scratch_);
    }

    // Posts the pairwise transfers of one exchange (every rank calls this in the same
    // order, so the slot built from the shared tag counter matches).
    pending post(const char* op, std::span<const std::byte> in, const std::vector<detail::transfer>& sends,
                 std::span<std::byte> out, const std::vector<detail::transfer>& recvs) {
        pending p;
        p.op_ = op;
        p.rank_ = rank_;
        p.peers_ = peers_;
        p.timeout_ = timeout_;
        const std::uint64_t slot = ::gloo::Slot::build(detail::gloo_exchange_prefix, next_tag());
        try {
            guarded(op, [&] {
                p.in_ = ctx_->createUnboundBuffer(non_null(const_cast<std::byte*>(in.data())), in.size());
                p.out_ = ctx_->createUnboundBuffer(non_null(out.data()), out.size());
                for (const auto& t : recvs) {
                    p.out_->recv(t.peer, slot, t.offset, t.bytes);
                    ++p.recvs_;
                }
                for (const auto& t : sends) {
                    p.in_->send(t.peer, slot, t.offset, t.bytes);
                    ++p.sends_;
                }
            });
        } catch (...) {
            // Posting failed part-way (a pair already broken by a lost rank): the posted
            // receives must not be waited for, since the peers they wait on fail the same
            // way before sending (they used to wait here for the whole timeout, each).
            p.abandon();
            throw;
        }
        return p;
    }

    template <class S, class T>
    void gather_v(const char* op, std::span<S> send, std::span<T> recv, std::span<const std::size_t> counts) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto d = detail::displacements(counts);
        std::copy(send.begin(), send.end(), recv.begin() + static_cast<std::ptrdiff_t>(d[static_cast<std::size_t>(rank_)]));
        std::vector<detail::transfer> sends, recvs;
        for (int q = 0; q < size_; ++q) {
            if (q == rank_) continue;
            const auto i = static_cast<std::size_t>(q);
            sends.push_back({q, 0, send.size() * sizeof(T)});
            recvs.push_back({q, d[i] * sizeof(T), counts[i] * sizeof(T)});
        }
        pending p = post(op, std::as_bytes(send), sends, std::as_writable_bytes(recv), recvs);
        p.account_ = pending_record(stats_.share(), op, volume::all_gather_v(rank_, size_, counts, sizeof(T)), since(t0));
        p.wait();
    }

    // Pairwise reduce-scatter: block q of `send` goes to rank q, this rank's block from
    // every rank lands in a staging area and is summed in rank order.
    template <class S, class T>
    void scatter_sum(const char* op, std::span<S> send, std::span<T> recv, std::span<const std::size_t> counts) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto me = static_cast<std::size_t>(rank_);
        const std::size_t n = counts[me];
        const auto d = detail::displacements(counts);
        std::vector<T> staging(n * static_cast<std::size_t>(size_));
        std::vector<detail::transfer> sends, recvs;
        for (int q = 0; q < size_; ++q) {
            const auto i = static_cast<std::size_t>(q);
            if (q == rank_) {
                std::copy_n(send.data() + d[me], n, staging.data() + i * n);
                continue;
            }
            sends.push_back({q, d[i] * sizeof(T), counts[i] * sizeof(T)});
            recvs.push_back({q, i * n * sizeof(T), n * sizeof(T)});
        }
        pending p = post(op, std::as_bytes(send), sends, std::as_writable_bytes(std::span<T>(staging)), recvs);
        p.account_ = pending_record(stats_.share(), "reduce_scatter", volume::reduce_scatter_v(rank_, size_, counts, sizeof(T)),
                                    since(t0));
        p.wait();
        std::fill(recv.begin(), recv.end(), T{});
        for (std::size_t q = 0; q < static_cast<std::size_t>(size_); ++q)
            for (std::size_t k = 0; k < n; ++k) recv[k] += staging[q * n + k];
    }

    std::shared_ptr<::gloo::Context> ctx_;
    options opts_;  // as connected (no store): what split() connects with
    int rank_ = 0;
    int size_ = 1;
    std::chrono::milliseconds timeout_{60000};
    std::uint32_t tag_ = 0;
    std::uint64_t scratch_ = 0;
    // Who the peers are, for naming a lost rank in errors (shared with pending exchanges).
    std::shared_ptr<detail::gloo_peer_table> peers_ = std::make_shared<detail::gloo_peer_table>();
    traffic_store stats_;
};

static_assert(communicator<gloo>,
              "comm::gloo must provide every operation of comm::communicator (comm/concept.hpp).");

}  // namespace mixgcn::comm
