#pragma once
// comm::nccl: the communicator for device buffers. Every span handed to it must point at
// GPU memory (checked: a host pointer is an invalid_argument, not a crash inside NCCL).
// Collectives run on the communicator's own CUDA stream and are complete on return, like
// the host engines; start_all_to_all_v returns a `pending` that waits on a CUDA event.
// That stream is a blocking one, so it runs after work on the legacy default stream; for
// buffers written on another stream (backend::cuda's is non-blocking) call wait_for(s).
// A test caught the race this prevents: a self block copied before its upload landed.
//
// Bootstrapping: NCCL needs one ncclUniqueId shared by all ranks. `from_mpi` makes it on
// rank 0 and broadcasts it through MPI; `from_file` publishes it through a file on a
// shared file system (written to a temporary name and renamed, so readers never see a
// partial id). Or pass an id obtained any other way to the constructor.
//
// Faults: no wait blocks in the CUDA runtime. Every wait polls the stream or event and
// NCCL's asynchronous error (ncclCommGetAsyncError); an NCCL error, or no completion
// within the timeout (MIXGCN_NCCL_TIMEOUT seconds, default 30; 0 waits for ever: a peer
// that died leaves the others' kernels waiting for its data), aborts the communicator
// (ncclCommAbort, which makes those kernels return) and throws comm_error naming the
// rank, the operation and the cause.
//
// NCCL has no message tags: send/recv between one pair of ranks match in issue order,
// and the tag argument only exists for the concept. Byte accounting follows
// comm/traffic.hpp, so numbers compare with the MPI and Gloo engines.
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/detail/checks.hpp"
#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/comm/types.hpp"
#include "mixgcn/core/error.hpp"

#if defined(MIXGCN_HAS_MPI)
#include <mpi.h>
#endif

namespace mixgcn::comm {

namespace detail {

template <element T>
ncclDataType_t nccl_datatype() noexcept {
    if constexpr (std::is_same_v<T, float>) return ncclFloat32;
    else if constexpr (std::is_same_v<T, double>) return ncclFloat64;
    else if constexpr (std::is_same_v<T, std::int32_t>) return ncclInt32;
    else if constexpr (std::is_same_v<T, std::int64_t>) return ncclInt64;
    else if constexpr (std::is_same_v<T, std::uint64_t>) return ncclUint64;
    else return ncclUint8;
}

inline ncclRedOp_t nccl_op(reduce_op op) noexcept { return op == reduce_op::sum ? ncclSum : ncclMax; }

}  // namespace detail

class nccl {
public:
    // An all_to_all_v in flight on the communicator's stream. wait() blocks until the
    // receive buffer is complete; progress() asks the event without blocking
    // (cudaEventQuery) and returns true once it is complete, recording the traffic then
    // (once; a later wait() returns at once). Destroying an unfinished one waits too,
    // since NCCL may still write into the buffer.
    class pending {
    public:
        pending() = default;
        pending(const pending&) = delete;
        pending& operator=(const pending&) = delete;
        pending(pending&& o) noexcept { *this = std::move(o); }
        pending& operator=(pending&& o) noexcept {
            if (this != &o) {
                finish_quietly();
                event_ = std::exchange(o.event_, nullptr);
                account_ = std::move(o.account_);
                rank_ = o.rank_;
                owner_ = o.owner_;
            }
            return *this;
        }
        ~pending() { finish_quietly(); }

        bool done() const noexcept { return event_ == nullptr; }
        void wait() {
            if (!event_) return;
            const auto t0 = std::chrono::steady_clock::now();
            cudaError_t rc = cudaSuccess;
            try {
                rc = owner_->wait_watched([this] { return cudaEventQuery(event_); }, "all_to_all_v");
            } catch (...) {  // the communicator was aborted: the exchange failed
                (void)cudaEventDestroy(std::exchange(event_, nullptr));
                account_.record(false);
                throw;
            }
            account_.add_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            finish(rc, "cudaEventQuery");
        }

        // Never blocks: true when the exchange has completed (also when it had already).
        bool progress() {
            if (!event_) return true;
            const auto t0 = std::chrono::steady_clock::now();
            const cudaError_t rc = cudaEventQuery(event_);
            account_.add_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            if (rc == cudaErrorNotReady) {
                (void)cudaGetLastError();  // "not ready" is not an error; keep it out of the next check
                return false;
            }
            finish(rc, "cudaEventQuery");
            return true;
        }

    private:
        friend class nccl;
        // Releases the event and records the completed (or failed) exchange, exactly once.
        void finish(cudaError_t rc, const char* call) {
            (void)cudaEventDestroy(std::exchange(event_, nullptr));
            account_.record(rc == cudaSuccess);
            if (rc != cudaSuccess)
                throw comm_error(rank_, std::string("all_to_all_v: ") + call + " failed: " + cudaGetErrorString(rc));
        }
        void finish_quietly() noexcept {
            if (event_) {
                try {  // bounded: a dead peer aborts the communicator after the timeout
                    (void)owner_->wait_watched([this] { return cudaEventQuery(event_); }, "all_to_all_v");
                } catch (...) {
                }
                (void)cudaEventDestroy(event_);
            }
            event_ = nullptr;
        }
        cudaEvent_t event_ = nullptr;
        pending_record account_;
        int rank_ = -1;
        nccl* owner_ = nullptr;  // the communicator must outlive (and not move under) its pending exchanges
    };

    static ncclUniqueId new_unique_id() {
        ncclUniqueId id{};
        const ncclResult_t r = ncclGetUniqueId(&id);
        if (r != ncclSuccess) throw comm_error(-1, std::string("ncclGetUniqueId failed: ") + ncclGetErrorString(r));
        return id;
    }

    // Joins the clique `id` as `rank` of `size` on `device` (-1: the current device).
    nccl(const ncclUniqueId& id, int rank, int size, int device = -1)
        : rank_(rank), size_(size), timeout_seconds_(timeout_from_environment(rank)) {
        require(size >= 1 && rank >= 0 && rank < size, "comm::nccl: rank ", rank, " outside [0, ", size, ")");
        if (device >= 0) cuda_check(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
        cuda_check(cudaGetDevice(&device_), "cudaGetDevice");
        // A blocking stream: ordered after work on the legacy default stream (cudaMemcpy,
        // default-stream kernels). Work on other streams: see wait_for.
        cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamDefault), "cudaStreamCreate");
        cuda_check(cudaEventCreateWithFlags(&inputs_ready_, cudaEventDisableTiming), "cudaEventCreate");
        void* p = nullptr;
        cuda_check(cudaMalloc(&p, sizeof(std::int32_t)), "cudaMalloc");
        scratch_ = static_cast<std::int32_t*>(p);
        const ncclResult_t r = ncclCommInitRank(&comm_, size, id, rank);
        if (r != ncclSuccess) {
            release();
            throw comm_error(rank, std::string("ncclCommInitRank failed: ") + ncclGetErrorString(r));
        }
    }

#if defined(MIXGCN_HAS_MPI)
    // One rank per process of `c`; rank and size are those of `c`. MPI must be running.
    static nccl from_mpi(MPI_Comm c, int device = -1) {
        int rank = 0, size = 1;
        MPI_Comm_rank(c, &rank);
        MPI_Comm_size(c, &size);
        ncclUniqueId id{};
        if (rank == 0) id = new_unique_id();
        const int rc = MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, c);
        if (rc != MPI_SUCCESS) throw comm_error(rank, "comm::nccl::from_mpi: MPI_Bcast of the NCCL id failed");
        return nccl(id, rank, size, device);
    }
#endif

    // Rank 0 writes the id to `path`; the others wait for it up to `timeout`.
    static nccl from_file(const std::filesystem::path& path, int rank, int size, int device = -1,
                          std::chrono::seconds timeout = std::chrono::seconds(120)) {
        ncclUniqueId id{};
        if (rank == 0) {
            id = new_unique_id();
            const auto tmp = path.string() + ".tmp";
            {
                std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
                out.write(reinterpret_cast<const char*>(&id), sizeof id);
                if (!out) throw io_error(tmp, 0, "", "cannot write the NCCL unique id");
            }
            std::filesystem::rename(tmp, path);
        } else {
            const auto deadline = std::chrono::steady_clock::now() + timeout;
            for (;;) {
                std::ifstream in(path, std::ios::binary);
                if (in && in.read(reinterpret_cast<char*>(&id), sizeof id)) break;
                if (std::chrono::steady_clock::now() > deadline)
                    throw comm_error(rank, "comm::nccl::from_file: no NCCL id in '" + path.string() + "' after " +
                                               std::to_string(timeout.count()) + " s");
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
        return nccl(id, rank, size, device);
    }

    nccl(const nccl&) = delete;
    nccl& operator=(const nccl&) = delete;
    nccl(nccl&& o) noexcept { *this = std::move(o); }
    nccl& operator=(nccl&& o) noexcept {
        if (this != &o) {
            release();
            comm_ = std::exchange(o.comm_, nullptr);
            stream_ = std::exchange(o.stream_, nullptr);
            producer_ = std::exchange(o.producer_, nullptr);
            inputs_ready_ = std::exchange(o.inputs_ready_, nullptr);
            scratch_ = std::exchange(o.scratch_, nullptr);
            rank_ = o.rank_;
            size_ = o.size_;
            device_ = o.device_;
            timeout_seconds_ = o.timeout_seconds_;
            aborted_ = o.aborted_;
            stats_ = std::move(o.stats_);
        }
        return *this;
    }
    ~nccl() { release(); }

    static constexpr const char* name() noexcept { return "nccl"; }

    // Orders every later operation after the work queued on `producer` at the time of
    // the call (for example gpu::current_context().stream(), where backend::cuda writes
    // the buffers). Without it, buffers written on a non-blocking stream may be read
    // before they are complete. nullptr removes the producer.
    void wait_for(cudaStream_t producer) noexcept { producer_ = producer; }
    // Seconds a wait may see no completion before the communicator is aborted (0: none).
    void set_timeout(double seconds) {
        require(seconds >= 0, "comm::nccl (rank ", rank_, "): timeout must be >= 0 seconds, got ", seconds);
        timeout_seconds_ = seconds;
    }
    double timeout() const noexcept { return timeout_seconds_; }
    bool aborted() const noexcept { return aborted_; }
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    int device() const noexcept { return device_; }
    ncclComm_t native() const noexcept { return comm_; }
    cudaStream_t stream() const noexcept { return stream_; }
    const traffic& stats() const noexcept { return stats_.view(); }
    void reset_stats() noexcept { stats_.clear(); }

    template <element T>
    void all_reduce(std::span<T> buf, reduce_op op = reduce_op::sum) {
        require_device(buf.data(), "all_reduce");
        scoped_record r(stats_, "all_reduce", volume::all_reduce(rank_, size_, buf.size(), sizeof(T)));
        order_inputs();
        check(ncclAllReduce(buf.data(), buf.data(), buf.size(), detail::nccl_datatype<T>(), detail::nccl_op(op), comm_,
                            stream_),
              "ncclAllReduce");
        finish();
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                      std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        start_all_to_all_v(send, send_counts, recv, recv_counts).wait();
    }

    // Grouped point-to-point (NCCL has no all-to-all-v): one send and one receive per
    // peer, the self block copied on the stream.
    template <class S>
        requires element<std::remove_const_t<S>>
    pending start_all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                               std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        detail::check_counts(rank_, size_, "all_to_all_v", "send_counts", send_counts, send.size());
        detail::check_counts(rank_, size_, "all_to_all_v", "recv_counts", recv_counts, recv.size());
        const auto me = static_cast<std::size_t>(rank_);
        // Every check before anything is enqueued: the self block's size too, so a bad
        // count never copies past the receive block.
        detail::check_size(rank_, "all_to_all_v", "the block to self (recv_counts[rank])", recv_counts[me],
                           send_counts[me]);
        require_device(send.data(), "all_to_all_v");
        require_device(recv.data(), "all_to_all_v");
        const auto t0 = std::chrono::steady_clock::now();
        order_inputs();
        const auto sd = detail::displacements(send_counts), rd = detail::displacements(recv_counts);
        if (send_counts[me])
            cuda_check(cudaMemcpyAsync(recv.data() + rd[me], send.data() + sd[me], send_counts[me] * sizeof(T),
                                       cudaMemcpyDeviceToDevice, stream_),
                       "all_to_all_v: self copy");
        check(ncclGroupStart(), "ncclGroupStart");
        for (std::size_t q = 0; q < send_counts.size(); ++q) {
            if (q == me) continue;
            const int peer = static_cast<int>(q);
            if (send_counts[q])
                check(ncclSend(send.data() + sd[q], send_counts[q], detail::nccl_datatype<T>(), peer, comm_, stream_),
                      "ncclSend");
            if (recv_counts[q])
                check(ncclRecv(recv.data() + rd[q], recv_counts[q], detail::nccl_datatype<T>(), peer, comm_, stream_),
                      "ncclRecv");
        }
        check(ncclGroupEnd(), "ncclGroupEnd(all_to_all_v)");
        pending p;
        cuda_check(cudaEventCreateWithFlags(&p.event_, cudaEventDisableTiming), "cudaEventCreate");
        cuda_check(cudaEventRecord(p.event_, stream_), "cudaEventRecord");
        p.account_ = pending_record(stats_.share(), "all_to_all_v",
                                    volume::all_to_all_v(rank_, send_counts, recv_counts, sizeof(T)),
                                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        p.rank_ = rank_;
        p.owner_ = this;
        return p;
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        using T = std::remove_const_t<S>;
        detail::check_size(rank_, "all_gather", "recv", recv.size(), send.size() * static_cast<std::size_t>(size_));
        require_device(send.data(), "all_gather");
        require_device(recv.data(), "all_gather");
        const std::vector<std::size_t> counts(static_cast<std::size_t>(size_), send.size());
        scoped_record r(stats_, "all_gather", volume::all_gather_v(rank_, size_, counts, sizeof(T)));
        order_inputs();
        check(ncclAllGather(send.data(), recv.data(), send.size(), detail::nccl_datatype<T>(), comm_, stream_),
              "ncclAllGather");
        finish();
        r.done();
    }

    // Uneven blocks: one broadcast per root, grouped.
    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather_v(std::span<S> send, std::span<std::remove_const_t<S>> recv,
                      std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        detail::check_counts(rank_, size_, "all_gather_v", "recv_counts", recv_counts, recv.size());
        detail::check_size(rank_, "all_gather_v", "send", send.size(), recv_counts[static_cast<std::size_t>(rank_)]);
        require_device(recv.data(), "all_gather_v");
        scoped_record r(stats_, "all_gather_v", volume::all_gather_v(rank_, size_, recv_counts, sizeof(T)));
        order_inputs();
        const auto rd = detail::displacements(recv_counts);
        check(ncclGroupStart(), "ncclGroupStart");
        for (std::size_t q = 0; q < recv_counts.size(); ++q) {
            if (!recv_counts[q]) continue;
            const void* src = static_cast<int>(q) == rank_ ? static_cast<const void*>(send.data()) : nullptr;
            check(ncclBroadcast(src, recv.data() + rd[q], recv_counts[q], detail::nccl_datatype<T>(), static_cast<int>(q),
                                comm_, stream_),
                  "ncclBroadcast");
        }
        check(ncclGroupEnd(), "ncclGroupEnd(all_gather_v)");
        finish();
        r.done();
    }

    template <element T>
    void broadcast(std::span<T> buf, int root) {
        detail::check_peer(rank_, size_, "broadcast", root);
        require_device(buf.data(), "broadcast");
        scoped_record r(stats_, "broadcast", volume::broadcast(rank_, size_, root, buf.size(), sizeof(T)));
        order_inputs();
        check(ncclBroadcast(buf.data(), buf.data(), buf.size(), detail::nccl_datatype<T>(), root, comm_, stream_),
              "ncclBroadcast");
        finish();
        r.done();
    }

    // Sum of every rank's `send`, block `rank` of it landing in `recv`.
    template <class S>
        requires element<std::remove_const_t<S>>
    void reduce_scatter(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        using T = std::remove_const_t<S>;
        detail::check_size(rank_, "reduce_scatter", "send", send.size(), recv.size() * static_cast<std::size_t>(size_));
        require_device(send.data(), "reduce_scatter");
        require_device(recv.data(), "reduce_scatter");
        const std::vector<std::size_t> counts(static_cast<std::size_t>(size_), recv.size());
        scoped_record r(stats_, "reduce_scatter", volume::reduce_scatter_v(rank_, size_, counts, sizeof(T)));
        order_inputs();
        check(ncclReduceScatter(send.data(), recv.data(), recv.size(), detail::nccl_datatype<T>(), ncclSum, comm_,
                                stream_),
              "ncclReduceScatter");
        finish();
        r.done();
    }

    // Uneven blocks: one reduce per root, grouped.
    template <class S>
        requires element<std::remove_const_t<S>>
    void reduce_scatter_v(std::span<S> send, std::span<std::remove_const_t<S>> recv,
                          std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        detail::check_counts(rank_, size_, "reduce_scatter_v", "recv_counts", recv_counts, send.size());
        detail::check_size(rank_, "reduce_scatter_v", "recv", recv.size(), recv_counts[static_cast<std::size_t>(rank_)]);
        require_device(send.data(), "reduce_scatter_v");
        scoped_record r(stats_, "reduce_scatter", volume::reduce_scatter_v(rank_, size_, recv_counts, sizeof(T)));
        order_inputs();
        const auto sd = detail::displacements(recv_counts);
        check(ncclGroupStart(), "ncclGroupStart");
        for (std::size_t q = 0; q < recv_counts.size(); ++q) {
            if (!recv_counts[q]) continue;
            void* dst = static_cast<int>(q) == rank_ ? static_cast<void*>(recv.data()) : nullptr;
            check(ncclReduce(send.data() + sd[q], dst, recv_counts[q], detail::nccl_datatype<T>(), ncclSum,
                             static_cast<int>(q), comm_, stream_),
                  "ncclReduce");
        }
        check(ncclGroupEnd(), "ncclGroupEnd(reduce_scatter_v)");
        finish();
        r.done();
    }

    void barrier() {
        scoped_record r(stats_, "barrier", {});
        order_inputs();
        check(ncclAllReduce(scratch_, scratch_, 1, ncclInt32, ncclSum, comm_, stream_), "ncclAllReduce(barrier)");
        finish();
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void send(std::span<S> buf, int dest, int /*tag*/ = 0) {
        using T = std::remove_const_t<S>;
        detail::check_peer(rank_, size_, "send", dest);
        require(dest != rank_, "rank ", rank_, ": send: NCCL cannot send to itself");
        require_device(buf.data(), "send");
        scoped_record r(stats_, "send", {buf.size() * sizeof(T), 0});
        order_inputs();
        check(ncclSend(buf.data(), buf.size(), detail::nccl_datatype<T>(), dest, comm_, stream_), "ncclSend");
        finish();
        r.done();
    }

    // Receives buf.size() elements; NCCL cannot detect a sender that sent a different
    // count (the ranks must agree, as with every NCCL call).
    template <element T>
    void recv(std::span<T> buf, int src, int /*tag*/ = 0) {
        detail::check_peer(rank_, size_, "recv", src);
        require(src != rank_, "rank ", rank_, ": recv: NCCL cannot receive from itself");
        require_device(buf.data(), "recv");
        scoped_record r(stats_, "recv", {0, buf.size() * sizeof(T)});
        order_inputs();
        check(ncclRecv(buf.data(), buf.size(), detail::nccl_datatype<T>(), src, comm_, stream_), "ncclRecv");
        finish();
        r.done();
    }

private:
    void check(ncclResult_t r, const std::string& what) const {
        if (r == ncclSuccess || r == ncclInProgress) return;
        throw comm_error(rank_, what + " failed: " + ncclGetErrorString(r) + last_error());
    }
    void cuda_check(cudaError_t e, const std::string& what) const {
        if (e == cudaSuccess) return;
        (void)cudaGetLastError();
        throw comm_error(rank_, what + " failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
    }
    // Makes the communicator's stream wait for the producer stream's queued work.
    void order_inputs() {
        if (!producer_) return;
        cuda_check(cudaEventRecord(inputs_ready_, producer_), "cudaEventRecord(producer)");
        cuda_check(cudaStreamWaitEvent(stream_, inputs_ready_, 0), "cudaStreamWaitEvent(producer)");
    }
    // Collectives are blocking for the caller, as with the host engines.
    void finish() {
        cuda_check(wait_watched([this] { return cudaStreamQuery(stream_); }, "collective"), "cudaStreamQuery after NCCL");
    }

    // Waits until `query()` (cudaStreamQuery / cudaEventQuery) stops answering "not
    // ready", polling NCCL's asynchronous error meanwhile; returns the query's answer.
    // Spins for the first millisecond (short collectives), then sleeps 50 us per poll.
    template <class Query>
    cudaError_t wait_watched(Query&& query, const char* what) {
        using clock = std::chrono::steady_clock;
        const auto t0 = clock::now();
        for (;;) {
            const cudaError_t rc = query();
            if (rc != cudaErrorNotReady) return rc;
            (void)cudaGetLastError();  // "not ready" is not an error; keep it out of the next check
            ncclResult_t async = ncclSuccess;
            if (comm_ && ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async != ncclSuccess &&
                async != ncclInProgress)
                abort_and_throw(what, std::string("NCCL reported ") + ncclGetErrorString(async) + last_error());
            const double waited = std::chrono::duration<double>(clock::now() - t0).count();
            if (timeout_seconds_ > 0 && waited > timeout_seconds_)
                abort_and_throw(what, "no completion after " + std::to_string(waited) +
                                          " s (a peer may have died or stopped; MIXGCN_NCCL_TIMEOUT sets the limit, 0 "
                                          "waits for ever)");
            if (waited < 1e-3) std::this_thread::yield();
            else std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
    [[noreturn]] void abort_and_throw(const char* what, const std::string& why) {
        if (comm_) (void)ncclCommAbort(std::exchange(comm_, nullptr));  // the stuck kernels return
        aborted_ = true;
        throw comm_error(rank_, std::string("comm::nccl ") + what + ": " + why +
                                    "; the NCCL communicator was aborted (a failed or killed peer?)");
    }
    std::string last_error() const {
        const char* last = comm_ ? ncclGetLastError(comm_) : nullptr;
        return last && *last ? std::string(" (") + last + ")" : std::string();
    }
    static double timeout_from_environment(int rank) {
        const char* v = std::getenv("MIXGCN_NCCL_TIMEOUT");
        if (v == nullptr || *v == 0) return 30.0;
        char* end = nullptr;
        const double s = std::strtod(v, &end);
        if (end == v || *end != 0 || !(s >= 0))
            throw comm_error(rank, std::string("MIXGCN_NCCL_TIMEOUT='") + v +
                                       "' is not a number of seconds >= 0 (0 waits for ever)");
        return s;
    }

    void require_device(const void* p, const char* op) const {
        if (!p) return;
        cudaPointerAttributes a{};
        if (cudaPointerGetAttributes(&a, p) != cudaSuccess) (void)cudaGetLastError();
        require(a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged, "rank ", rank_, ": ", op,
                ": comm::nccl needs device buffers, got a host pointer (use comm::hybrid to route host buffers)");
    }

    void release() noexcept {
        if (comm_) (void)ncclCommDestroy(comm_);
        if (stream_) (void)cudaStreamDestroy(stream_);
        if (inputs_ready_) (void)cudaEventDestroy(inputs_ready_);
        if (scratch_) (void)cudaFree(scratch_);
        comm_ = nullptr;
        stream_ = nullptr;
        inputs_ready_ = nullptr;
        scratch_ = nullptr;
    }

    ncclComm_t comm_ = nullptr;
    cudaStream_t stream_ = nullptr;
    cudaStream_t producer_ = nullptr;     // see wait_for; not owned
    cudaEvent_t inputs_ready_ = nullptr;  // recorded on producer_ before each operation
    std::int32_t* scratch_ = nullptr;
    int rank_ = 0, size_ = 1, device_ = 0;
    double timeout_seconds_ = 30.0;
    bool aborted_ = false;
    traffic_store stats_;
};

static_assert(communicator<nccl>, "comm::nccl must satisfy mixgcn::comm::communicator.");

}  // namespace mixgcn::comm
