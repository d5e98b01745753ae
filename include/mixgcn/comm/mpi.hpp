#pragma once
// comm::mpi: collectives over an MPI communicator (OpenMPI). The object owns a
// duplicate of the communicator it is given, so its messages never match the caller's,
// and switches that duplicate to MPI_ERRORS_RETURN so a failed call becomes a
// mixgcn::comm_error naming the rank instead of an abort deep inside MPI.
// MPI itself is started and stopped by comm::mpi::environment (RAII).
#ifndef MIXGCN_HAS_MPI
#error "mixgcn/comm/mpi.hpp needs MPI: configure with -DMIXGCN_WITH_MPI=ON and link mixgcn::mixgcn."
#endif

#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/detail/checks.hpp"
#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/comm/types.hpp"
#include "mixgcn/core/error.hpp"

namespace mixgcn::comm {

namespace detail {

template <element T>
MPI_Datatype mpi_datatype() noexcept {
    if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
    else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
    else if constexpr (std::is_same_v<T, std::int32_t>) return MPI_INT32_T;
    else if constexpr (std::is_same_v<T, std::int64_t>) return MPI_INT64_T;
    else if constexpr (std::is_same_v<T, std::uint64_t>) return MPI_UINT64_T;
    else return MPI_UINT8_T;
}

// Wrap-around (mod 256) addition of uint8, the semantics of C++ and of Gloo. MPI_SUM
// cannot be trusted here: OpenMPI 4.1's AVX reduction component saturates 8-bit sums at
// 255 (seen with 4 ranks in tests/comm).
inline void mpi_wrapping_sum_u8(void* in, void* inout, int* len, MPI_Datatype*) {
    const auto* a = static_cast<const std::uint8_t*>(in);
    auto* b = static_cast<std::uint8_t*>(inout);
    for (int i = 0; i < *len; ++i) b[i] = static_cast<std::uint8_t>(b[i] + a[i]);
}

inline bool mpi_running() noexcept {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

inline std::string mpi_error_text(int rc) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return "MPI error code " + std::to_string(rc);
    return std::string(text, static_cast<std::size_t>(len));
}

// MPI counts are int. Larger blocks are refused with the value rather than truncated.
inline int mpi_count(int rank, const char* op, std::size_t n) {
    if (n > static_cast<std::size_t>(INT_MAX))
        throw comm_error(rank, std::string(op) + ": " + std::to_string(n) +
                                   " elements in one block exceed MPI's int count limit; split the exchange");
    return static_cast<int>(n);
}

inline std::vector<int> mpi_counts(int rank, const char* op, std::span<const std::size_t> counts) {
    std::vector<int> out(counts.size());
    for (std::size_t q = 0; q < counts.size(); ++q) out[q] = mpi_count(rank, op, counts[q]);
    return out;
}

inline std::vector<int> mpi_displs(int rank, const char* op, std::span<const std::size_t> counts) {
    return mpi_counts(rank, op, displacements(counts));
}

}  // namespace detail

class mpi {
public:
    // Starts MPI when nobody has (and then finalises it on destruction); leaves an MPI
    // started by someone else alone. One per process, created before any comm::mpi.
    class environment {
    public:
        environment() : environment(nullptr, nullptr) {}
        environment(int& argc, char**& argv, int required = MPI_THREAD_FUNNELED)
            : environment(&argc, &argv, required) {}
        environment(const environment&) = delete;
        environment& operator=(const environment&) = delete;
        ~environment() {
            int fin = 0;
            MPI_Finalized(&fin);
            if (owns_ && !fin) MPI_Finalize();
        }
        bool owns() const noexcept { return owns_; }
        int thread_level() const noexcept { return provided_; }

    private:
        environment(int* argc, char*** argv, int required = MPI_THREAD_FUNNELED) {
            int init = 0, fin = 0;
            MPI_Initialized(&init);
            MPI_Finalized(&fin);
            if (fin) throw comm_error(-1, "MPI was already finalised; it cannot be started again");
            if (init) {
                MPI_Query_thread(&provided_);
                return;
            }
            const int rc = MPI_Init_thread(argc, argv, required, &provided_);
            if (rc != MPI_SUCCESS) throw comm_error(-1, "MPI_Init_thread failed: " + detail::mpi_error_text(rc));
            owns_ = true;
        }
        bool owns_ = false;
        int provided_ = MPI_THREAD_SINGLE;
    };

    // An all_to_all_v in flight (MPI_Ialltoallv). The count and displacement arrays
    // live here because MPI reads them until completion. Destroying an unfinished one
    // waits for it, since MPI may still write into the receive buffer.
    //
    // OpenMPI advances a non-blocking collective only inside MPI calls, so a caller that
    // computes between start and wait should call progress() now and then (MPI_Test):
    // it returns true once the exchange has completed, and the traffic is then recorded
    // (once; a later wait() returns at once). Seconds recorded = time in start + time in
    // every progress() + time in wait, i.e. the time blocked until completion.
    class pending {
    public:
        pending() = default;
        pending(const pending&) = delete;
        pending& operator=(const pending&) = delete;
        pending(pending&& o) noexcept { *this = std::move(o); }
        pending& operator=(pending&& o) noexcept {
            if (this != &o) {
                finish_quietly();
                req_ = std::exchange(o.req_, MPI_REQUEST_NULL);
                arrays_ = std::move(o.arrays_);
                account_ = std::move(o.account_);
                rank_ = o.rank_;
            }
            return *this;
        }
        ~pending() { finish_quietly(); }

        bool done() const noexcept { return req_ == MPI_REQUEST_NULL; }

        void wait() {
            if (req_ == MPI_REQUEST_NULL) return;
            const auto t0 = std::chrono::steady_clock::now();
            const int rc = MPI_Wait(&req_, MPI_STATUS_IGNORE);
            req_ = MPI_REQUEST_NULL;
            account_.add_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            finish(rc, "MPI_Wait");
        }

        // One MPI_Test: never blocks; true when the exchange has completed (also when it
        // had already). A failure is recorded and thrown as in wait().
        bool progress() {
            if (req_ == MPI_REQUEST_NULL) return true;
            const auto t0 = std::chrono::steady_clock::now();
            int flag = 0;
            const int rc = MPI_Test(&req_, &flag, MPI_STATUS_IGNORE);
            account_.add_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            if (rc == MPI_SUCCESS && !flag) return false;
            req_ = MPI_REQUEST_NULL;  // completed (MPI_Test freed it) or failed: nothing left to wait for
            finish(rc, "MPI_Test");
            return true;
        }

    private:
        friend class mpi;
        // Records the completed (or failed) exchange, exactly once.
        void finish(int rc, const char* call) {
            account_.record(rc == MPI_SUCCESS);
            if (rc != MPI_SUCCESS)
                throw comm_error(rank_, std::string(call) + "(all_to_all_v) failed: " + detail::mpi_error_text(rc));
        }
        void finish_quietly() noexcept {
            if (req_ != MPI_REQUEST_NULL && detail::mpi_running()) MPI_Wait(&req_, MPI_STATUS_IGNORE);
            req_ = MPI_REQUEST_NULL;
        }
        MPI_Request req_ = MPI_REQUEST_NULL;
        std::vector<int> arrays_;  // send counts | send displs | recv counts | recv displs
        pending_record account_;
        int rank_ = -1;
    };

    // Duplicates `parent` (MPI must be running: see environment).
    explicit mpi(MPI_Comm parent = MPI_COMM_WORLD) {
        if (!detail::mpi_running())
            throw comm_error(-1, "comm::mpi needs a running MPI: create a comm::mpi::environment first");
        int rc = MPI_Comm_dup(parent, &comm_);
        if (rc != MPI_SUCCESS) throw comm_error(-1, "MPI_Comm_dup failed: " + detail::mpi_error_text(rc));
        MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
        MPI_Comm_rank(comm_, &rank_);
        MPI_Comm_size(comm_, &size_);
        rc = MPI_Op_create(&detail::mpi_wrapping_sum_u8, 1, &u8_sum_);
        if (rc != MPI_SUCCESS) {
            release();
            throw comm_error(rank_, "MPI_Op_create failed: " + detail::mpi_error_text(rc));
        }
    }
    mpi(const mpi&) = delete;
    mpi& operator=(const mpi&) = delete;
    mpi(mpi&& o) noexcept
        : comm_(std::exchange(o.comm_, MPI_COMM_NULL)), u8_sum_(std::exchange(o.u8_sum_, MPI_OP_NULL)),
          rank_(o.rank_), size_(o.size_), stats_(std::move(o.stats_)) {}
    mpi& operator=(mpi&& o) noexcept {
        if (this != &o) {
            release();
            comm_ = std::exchange(o.comm_, MPI_COMM_NULL);
            u8_sum_ = std::exchange(o.u8_sum_, MPI_OP_NULL);
            rank_ = o.rank_;
            size_ = o.size_;
            stats_ = std::move(o.stats_);
        }
        return *this;
    }
    ~mpi() { release(); }

    static constexpr const char* name() noexcept { return "mpi"; }
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    MPI_Comm native() const noexcept { return comm_; }

    template <element T>
    void all_reduce(std::span<T> buf, reduce_op op = reduce_op::sum) {
        scoped_record r(stats_, "all_reduce", volume::all_reduce(rank_, size_, buf.size(), sizeof(T)));
        check(MPI_Allreduce(MPI_IN_PLACE, buf.data(), detail::mpi_count(rank_, "all_reduce", buf.size()),
                            detail::mpi_datatype<T>(), op_for<T>(op), comm_),
              "MPI_Allreduce");
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                      std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        check_exchange("all_to_all_v", send.size(), send_counts, recv.size(), recv_counts);
        scoped_record r(stats_, "all_to_all_v", volume::all_to_all_v(rank_, send_counts, recv_counts, sizeof(T)));
        const auto sc = detail::mpi_counts(rank_, "all_to_all_v", send_counts);
        const auto sd = detail::mpi_displs(rank_, "all_to_all_v", send_counts);
        const auto rc = detail::mpi_counts(rank_, "all_to_all_v", recv_counts);
        const auto rd = detail::mpi_displs(rank_, "all_to_all_v", recv_counts);
        check(MPI_Alltoallv(send.data(), sc.data(), sd.data(), detail::mpi_datatype<T>(), recv.data(), rc.data(),
                            rd.data(), detail::mpi_datatype<T>(), comm_),
              "MPI_Alltoallv");
        r.done();
    }

    // Starts the exchange and returns at once; the buffers must stay untouched until
    // wait() or a progress() that returned true. Seconds recorded = time blocked in
    // start + progress + wait, not the overlap.
    template <class S>
        requires element<std::remove_const_t<S>>
    pending start_all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                               std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        const auto t0 = std::chrono::steady_clock::now();
        check_exchange("start_all_to_all_v", send.size(), send_counts, recv.size(), recv_counts);
        pending p;
        const auto p_ = static_cast<std::size_t>(size_);
        p.arrays_.resize(4 * p_);
        const auto sc = detail::mpi_counts(rank_, "start_all_to_all_v", send_counts);
        const auto sd = detail::mpi_displs(rank_, "start_all_to_all_v", send_counts);
        const auto rc = detail::mpi_counts(rank_, "start_all_to_all_v", recv_counts);
        const auto rd = detail::mpi_displs(rank_, "start_all_to_all_v", recv_counts);
        std::copy(sc.begin(), sc.end(), p.arrays_.begin());
        std::copy(sd.begin(), sd.end(), p.arrays_.begin() + static_cast<std::ptrdiff_t>(p_));
        std::copy(rc.begin(), rc.end(), p.arrays_.begin() + static_cast<std::ptrdiff_t>(2 * p_));
        std::copy(rd.begin(), rd.end(), p.arrays_.begin() + static_cast<std::ptrdiff_t>(3 * p_));
        const int* a = p.arrays_.data();
        check(MPI_Ialltoallv(send.data(), a, a + p_, detail::mpi_datatype<T>(), recv.data(), a + 2 * p_, a + 3 * p_,
                             detail::mpi_datatype<T>(), comm_, &p.req_),
              "MPI_Ialltoallv");
        p.rank_ = rank_;
        p.account_ = pending_record(stats_.share(), "all_to_all_v",
                                    volume::all_to_all_v(rank_, send_counts, recv_counts, sizeof(T)),
                                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        return p;
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        using T = std::remove_const_t<S>;
        detail::check_size(rank_, "all_gather", "recv", recv.size(), send.size() * static_cast<std::size_t>(size_));
        const std::vector<std::size_t> counts(static_cast<std::size_t>(size_), send.size());
        scoped_record r(stats_, "all_gather", volume::all_gather_v(rank_, size_, counts, sizeof(T)));
        const int n = detail::mpi_count(rank_, "all_gather", send.size());
        check(MPI_Allgather(send.data(), n, detail::mpi_datatype<T>(), recv.data(), n, detail::mpi_datatype<T>(),
                            comm_),
              "MPI_Allgather");
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather_v(std::span<S> send, std::span<std::remove_const_t<S>> recv,
                      std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        detail::check_counts(rank_, size_, "all_gather_v", "recv_counts", recv_counts, recv.size());
        detail::check_size(rank_, "all_gather_v", "send", send.size(), recv_counts[static_cast<std::size_t>(rank_)]);
        scoped_record r(stats_, "all_gather_v", volume::all_gather_v(rank_, size_, recv_counts, sizeof(T)));
        const auto rc = detail::mpi_counts(rank_, "all_gather_v", recv_counts);
        const auto rd = detail::mpi_displs(rank_, "all_gather_v", recv_counts);
        check(MPI_Allgatherv(send.data(), detail::mpi_count(rank_, "all_gather_v", send.size()),
                             detail::mpi_datatype<T>(), recv.data(), rc.data(), rd.data(), detail::mpi_datatype<T>(),
                             comm_),
              "MPI_Allgatherv");
        r.done();
    }

    template <element T>
    void broadcast(std::span<T> buf, int root) {
        detail::check_peer(rank_, size_, "broadcast", root);
        scoped_record r(stats_, "broadcast", volume::broadcast(rank_, size_, root, buf.size(), sizeof(T)));
        check(MPI_Bcast(buf.data(), detail::mpi_count(rank_, "broadcast", buf.size()), detail::mpi_datatype<T>(),
                        root, comm_),
              "MPI_Bcast");
        r.done();
    }

    // Sum of every rank's `send`, block `rank` of it landing in `recv`.
    template <class S>
        requires element<std::remove_const_t<S>>
    void reduce_scatter(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        using T = std::remove_const_t<S>;
        detail::check_size(rank_, "reduce_scatter", "send", send.size(), recv.size() * static_cast<std::size_t>(size_));
        const std::vector<std::size_t> counts(static_cast<std::size_t>(size_), recv.size());
        scoped_record r(stats_, "reduce_scatter", volume::reduce_scatter_v(rank_, size_, counts, sizeof(T)));
        check(MPI_Reduce_scatter_block(send.data(), recv.data(), detail::mpi_count(rank_, "reduce_scatter", recv.size()),
                                       detail::mpi_datatype<T>(), op_for<T>(reduce_op::sum), comm_),
              "MPI_Reduce_scatter_block");
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void reduce_scatter_v(std::span<S> send, std::span<std::remove_const_t<S>> recv,
                          std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        detail::check_counts(rank_, size_, "reduce_scatter_v", "recv_counts", recv_counts, send.size());
        detail::check_size(rank_, "reduce_scatter_v", "recv", recv.size(), recv_counts[static_cast<std::size_t>(rank_)]);
        scoped_record r(stats_, "reduce_scatter", volume::reduce_scatter_v(rank_, size_, recv_counts, sizeof(T)));
        const auto rc = detail::mpi_counts(rank_, "reduce_scatter_v", recv_counts);
        check(MPI_Reduce_scatter(send.data(), recv.data(), rc.data(), detail::mpi_datatype<T>(), op_for<T>(reduce_op::sum), comm_),
              "MPI_Reduce_scatter");
        r.done();
    }

    void barrier() {
        scoped_record r(stats_, "barrier", {});
        check(MPI_Barrier(comm_), "MPI_Barrier");
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void send(std::span<S> buf, int dest, int tag = 0) {
        using T = std::remove_const_t<S>;
        detail::check_peer(rank_, size_, "send", dest);
        const std::uint64_t b = dest == rank_ ? 0 : buf.size() * sizeof(T);
        scoped_record r(stats_, "send", {b, 0});
        check(MPI_Send(buf.data(), detail::mpi_count(rank_, "send", buf.size()), detail::mpi_datatype<T>(), dest, tag,
                       comm_),
              "MPI_Send to rank " + std::to_string(dest));
        r.done();
    }

    // Receives exactly buf.size() elements; a shorter or longer message is an error.
    template <element T>
    void recv(std::span<T> buf, int src, int tag = 0) {
        detail::check_peer(rank_, size_, "recv", src);
        const std::uint64_t b = src == rank_ ? 0 : buf.size() * sizeof(T);
        scoped_record r(stats_, "recv", {0, b});
        MPI_Status st;
        check(MPI_Recv(buf.data(), detail::mpi_count(rank_, "recv", buf.size()), detail::mpi_datatype<T>(), src, tag,
                       comm_, &st),
              "MPI_Recv from rank " + std::to_string(src));
        int got = 0;
        MPI_Get_count(&st, detail::mpi_datatype<T>(), &got);
        if (static_cast<std::size_t>(got) != buf.size())
            throw comm_error(rank_, "recv from rank " + std::to_string(src) + ": got " + std::to_string(got) +
                                        " elements, expected " + std::to_string(buf.size()));
        r.done();
    }

    const traffic& stats() const noexcept { return stats_.view(); }
    void reset_stats() noexcept { stats_.clear(); }

    // Ends every rank of the job: mpirun sees the code and kills the rest.
    [[noreturn]] void abort(int code) noexcept {
        MPI_Abort(comm_ == MPI_COMM_NULL ? MPI_COMM_WORLD : comm_, code);
        std::_Exit(code);
    }

private:
    void check(int rc, const std::string& what) const {
        if (rc != MPI_SUCCESS) throw comm_error(rank_, what + " failed: " + detail::mpi_error_text(rc));
    }
    void check_exchange(const char* op, std::size_t send_size, std::span<const std::size_t> send_counts,
                        std::size_t recv_size, std::span<const std::size_t> recv_counts) const {
        detail::check_counts(rank_, size_, op, "send_counts", send_counts, send_size);
        detail::check_counts(rank_, size_, op, "recv_counts", recv_counts, recv_size);
    }
    void release() noexcept {
        if (detail::mpi_running()) {
            if (u8_sum_ != MPI_OP_NULL) MPI_Op_free(&u8_sum_);
            if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
        }
        u8_sum_ = MPI_OP_NULL;
        comm_ = MPI_COMM_NULL;
    }

    template <element T>
    MPI_Op op_for(reduce_op op) const noexcept {
        if (op == reduce_op::max) return MPI_MAX;
        if constexpr (std::is_same_v<T, std::uint8_t>) return u8_sum_;
        else return MPI_SUM;
    }

    MPI_Comm comm_ = MPI_COMM_NULL;
    MPI_Op u8_sum_ = MPI_OP_NULL;
    int rank_ = 0;
    int size_ = 1;
    traffic_store stats_;
};

static_assert(communicator<mpi>,
              "comm::mpi must provide every operation of comm::communicator (comm/concept.hpp).");

}  // namespace mixgcn::comm
