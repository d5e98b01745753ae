#pragma once
// comm::mpi: collectives over an MPI communicator (OpenMPI). The object owns a
// duplicate of the communicator it is given, so its messages never match the caller's,
// and switches that duplicate to MPI_ERRORS_RETURN so a failed call becomes a
// mixgcn::comm_error naming the rank instead of an abort deep inside MPI.
// MPI itself is started and stopped by comm::mpi::environment (RAII).
//
// Counts above 2^31: MPI 3 counts are int. Collectives whose counts every rank knows
// alike (all_reduce, broadcast, all_gather(_v), reduce_scatter(_v)) run as one call when
// they fit and as a sequence of calls on pieces otherwise; all_to_all_v, whose counts
// differ by rank, always runs as point-to-point pieces on a second duplicate of the
// communicator, so no rank needs to know whether another's blocks fit (what OpenMPI's
// own alltoallv does inside, minus the int limit). Pieces: comm/detail/pieces.hpp.
#ifndef MIXGCN_HAS_MPI
#error "mixgcn/comm/mpi.hpp needs MPI: configure with -DMIXGCN_WITH_MPI=ON and link mixgcn::mixgcn."
#endif

#include <mpi.h>

#include <algorithm>
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
#include "mixgcn/comm/detail/pieces.hpp"
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

// The most elements one MPI call carries: INT_MAX, or MIXGCN_DEBUG_MPI_MAX_COUNT (tests
// set it tiny so small runs take the piece-by-piece paths). Read once per process.
inline std::size_t mpi_max_count() {
    static const std::size_t max = [] {
        const char* v = std::getenv("MIXGCN_DEBUG_MPI_MAX_COUNT");
        if (!v || !*v) return static_cast<std::size_t>(INT_MAX);
        char* end = nullptr;
        const long long x = std::strtoll(v, &end, 10);
        if (!end || *end != '\0' || x < 1 || x > INT_MAX)
            throw invalid_argument(std::string("MIXGCN_DEBUG_MPI_MAX_COUNT='") + v + "' is not a count in [1, " +
                                   std::to_string(INT_MAX) + "]");
        return static_cast<std::size_t>(x);
    }();
    return max;
}

// A count already known to fit one call.
inline int mpi_int(std::size_t n) noexcept { return static_cast<int>(n); }

inline std::vector<int> mpi_ints(std::span<const std::size_t> counts) {
    std::vector<int> out(counts.size());
    for (std::size_t q = 0; q < counts.size(); ++q) out[q] = mpi_int(counts[q]);
    return out;
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

    // An exchange in flight: the point-to-point pieces of one all_to_all_v or
    // all_gather_v, posted on the communicator's bulk duplicate. Destroying an
    // unfinished one waits for it, since MPI may still write into the receive buffer.
    //
    // OpenMPI advances messages only inside MPI calls, so a caller that computes between
    // start and wait should call progress() now and then (MPI_Testall): it returns true
    // once the exchange has completed, and the traffic is then recorded (once; a later
    // wait() returns at once). Seconds recorded = time in start + time in every
    // progress() + time in wait, i.e. the time blocked until completion. Each received
    // piece is checked against the count this rank expected, so a sender whose counts
    // disagree is an error naming both ranks rather than a short block.
    class pending {
    public:
        pending() = default;
        pending(const pending&) = delete;
        pending& operator=(const pending&) = delete;
        pending(pending&& o) noexcept { *this = std::move(o); }
        pending& operator=(pending&& o) noexcept {
            if (this != &o) {
                finish_quietly();
                reqs_ = std::exchange(o.reqs_, {});
                expected_ = std::exchange(o.expected_, {});
                type_ = o.type_;
                op_ = o.op_;
                account_ = std::move(o.account_);
                rank_ = o.rank_;
            }
            return *this;
        }
        ~pending() { finish_quietly(); }

        bool done() const noexcept { return reqs_.empty(); }

        void wait() {
            if (reqs_.empty()) return;
            const auto t0 = std::chrono::steady_clock::now();
            std::vector<MPI_Status> st(reqs_.size());
            const int rc = MPI_Waitall(static_cast<int>(reqs_.size()), reqs_.data(), st.data());
            account_.add_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            finish(rc, "MPI_Waitall", st);
        }

        // One MPI_Testall: never blocks; true when the exchange has completed (also when
        // it had already). A failure is recorded and thrown as in wait().
        bool progress() {
            if (reqs_.empty()) return true;
            const auto t0 = std::chrono::steady_clock::now();
            int flag = 0;
            std::vector<MPI_Status> st(reqs_.size());
            const int rc = MPI_Testall(static_cast<int>(reqs_.size()), reqs_.data(), &flag, st.data());
            account_.add_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            if (rc == MPI_SUCCESS && !flag) return false;
            finish(rc, "MPI_Testall", st);
            return true;
        }

    private:
        friend class mpi;
        // Records the completed (or failed) exchange, exactly once: nothing is left to
        // wait for afterwards (a failed request is not waited on again).
        void finish(int rc, const char* call, const std::vector<MPI_Status>& st) {
            reqs_.clear();
            std::string bad;
            if (rc == MPI_ERR_IN_STATUS) {
                for (const auto& s : st)
                    if (s.MPI_ERROR != MPI_SUCCESS && s.MPI_ERROR != MPI_ERR_PENDING) {
                        bad = detail::mpi_error_text(s.MPI_ERROR);
                        break;
                    }
            } else if (rc != MPI_SUCCESS) {
                bad = detail::mpi_error_text(rc);
            } else {
                for (std::size_t i = 0; i < expected_.size() && bad.empty(); ++i) {
                    int got = 0;
                    MPI_Get_count(&st[i], type_, &got);
                    if (static_cast<std::size_t>(got) != expected_[i].count)
                        bad = "received " + std::to_string(got) + " elements in a piece from rank " +
                              std::to_string(expected_[i].peer) + ", expected " + std::to_string(expected_[i].count) +
                              " (the ranks' send and receive counts disagree)";
                }
            }
            account_.record(bad.empty());
            if (!bad.empty()) throw comm_error(rank_, std::string(call) + "(" + op_ + ") failed: " + bad);
        }
        // Posting failed part-way: what was posted is cancelled, not waited for (its
        // peers fail the same way and may never send).
        void abandon() noexcept {
            if (detail::mpi_running())
                for (auto& r : reqs_)
                    if (r != MPI_REQUEST_NULL) {
                        MPI_Cancel(&r);
                        MPI_Request_free(&r);
                    }
            reqs_.clear();
        }
        void finish_quietly() noexcept {
            if (!reqs_.empty() && detail::mpi_running())
                MPI_Waitall(static_cast<int>(reqs_.size()), reqs_.data(), MPI_STATUSES_IGNORE);
            reqs_.clear();
        }
        std::vector<MPI_Request> reqs_;        // receives first (one per entry of expected_), then sends
        std::vector<detail::piece> expected_;  // what each receive must bring
        MPI_Datatype type_ = MPI_DATATYPE_NULL;
        const char* op_ = "";
        pending_record account_;
        int rank_ = -1;
    };

    // Duplicates `parent` twice (MPI must be running: see environment): one duplicate
    // for collectives and the caller's send/recv, one for the pieces of exchanges, so
    // the caller's tags can never match them.
    explicit mpi(MPI_Comm parent = MPI_COMM_WORLD) {
        if (!detail::mpi_running())
            throw comm_error(-1, "comm::mpi needs a running MPI: create a comm::mpi::environment first");
        int rc = MPI_Comm_dup(parent, &comm_);
        if (rc != MPI_SUCCESS) throw comm_error(-1, "MPI_Comm_dup failed: " + detail::mpi_error_text(rc));
        MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
        MPI_Comm_rank(comm_, &rank_);
        MPI_Comm_size(comm_, &size_);
        rc = MPI_Comm_dup(comm_, &bulk_);
        if (rc == MPI_SUCCESS) MPI_Comm_set_errhandler(bulk_, MPI_ERRORS_RETURN);
        if (rc == MPI_SUCCESS) rc = MPI_Op_create(&detail::mpi_wrapping_sum_u8, 1, &u8_sum_);
        if (rc != MPI_SUCCESS) {
            release();
            throw comm_error(rank_, "MPI_Comm_dup/MPI_Op_create failed: " + detail::mpi_error_text(rc));
        }
        int* ub = nullptr;
        int flag = 0;
        MPI_Comm_get_attr(comm_, MPI_TAG_UB, &ub, &flag);
        tag_ub_ = flag && ub ? *ub : 32767;
    }
    mpi(const mpi&) = delete;
    mpi& operator=(const mpi&) = delete;
    mpi(mpi&& o) noexcept { *this = std::move(o); }
    mpi& operator=(mpi&& o) noexcept {
        if (this != &o) {
            release();
            comm_ = std::exchange(o.comm_, MPI_COMM_NULL);
            bulk_ = std::exchange(o.bulk_, MPI_COMM_NULL);
            u8_sum_ = std::exchange(o.u8_sum_, MPI_OP_NULL);
            rank_ = o.rank_;
            size_ = o.size_;
            tag_ = o.tag_;
            tag_ub_ = o.tag_ub_;
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
        for_each_piece(buf.size(), [&](std::size_t at, int n) {
            check(MPI_Allreduce(MPI_IN_PLACE, buf.data() + at, n, detail::mpi_datatype<T>(), op_for<T>(op), comm_),
                  "MPI_Allreduce");
        });
        r.done();
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                      std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        start_exchange("all_to_all_v", send, send_counts, recv, recv_counts).wait();
    }

    // Starts the exchange and returns at once; the buffers must stay untouched until
    // wait() or a progress() that returned true. Seconds recorded = time blocked in
    // start + progress + wait, not the overlap.
    template <class S>
        requires element<std::remove_const_t<S>>
    pending start_all_to_all_v(std::span<S> send, std::span<const std::size_t> send_counts,
                               std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        return start_exchange("start_all_to_all_v", send, send_counts, recv, recv_counts);
    }

    template <class S>
        requires element<std::remove_const_t<S>>
    void all_gather(std::span<S> send, std::span<std::remove_const_t<S>> recv) {
        using T = std::remove_const_t<S>;
        detail::check_size(rank_, "all_gather", "recv", recv.size(), send.size() * static_cast<std::size_t>(size_));
        const std::vector<std::size_t> counts(static_cast<std::size_t>(size_), send.size());
        if (!detail::fits_one_call(counts, detail::mpi_max_count())) return gather_in_pieces("all_gather", send, recv, counts);
        scoped_record r(stats_, "all_gather", volume::all_gather_v(rank_, size_, counts, sizeof(T)));
        const int n = detail::mpi_int(send.size());
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
        if (!detail::fits_one_call(recv_counts, detail::mpi_max_count()))
            return gather_in_pieces("all_gather_v", send, recv, recv_counts);
        scoped_record r(stats_, "all_gather_v", volume::all_gather_v(rank_, size_, recv_counts, sizeof(T)));
        const auto rc = detail::mpi_ints(recv_counts);
        const auto rd = detail::mpi_ints(detail::displacements(recv_counts));
        check(MPI_Allgatherv(send.data(), detail::mpi_int(send.size()), detail::mpi_datatype<T>(), recv.data(),
                             rc.data(), rd.data(), detail::mpi_datatype<T>(), comm_),
              "MPI_Allgatherv");
        r.done();
    }

    template <element T>
    void broadcast(std::span<T> buf, int root) {
        detail::check_peer(rank_, size_, "broadcast", root);
        scoped_record r(stats_, "broadcast", volume::broadcast(rank_, size_, root, buf.size(), sizeof(T)));
        for_each_piece(buf.size(), [&](std::size_t at, int n) {
            check(MPI_Bcast(buf.data() + at, n, detail::mpi_datatype<T>(), root, comm_), "MPI_Bcast");
        });
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
        if (detail::fits_one_call(counts, detail::mpi_max_count()))
            check(MPI_Reduce_scatter_block(send.data(), recv.data(), detail::mpi_int(recv.size()),
                                           detail::mpi_datatype<T>(), op_for<T>(reduce_op::sum), comm_),
                  "MPI_Reduce_scatter_block");
        else
            reduce_in_pieces(send, recv, counts);
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
        if (detail::fits_one_call(recv_counts, detail::mpi_max_count())) {
            const auto rc = detail::mpi_ints(recv_counts);
            check(MPI_Reduce_scatter(send.data(), recv.data(), rc.data(), detail::mpi_datatype<T>(),
                                     op_for<T>(reduce_op::sum), comm_),
                  "MPI_Reduce_scatter");
        } else {
            reduce_in_pieces(send, recv, recv_counts);
        }
        r.done();
    }

    void barrier() {
        scoped_record r(stats_, "barrier", {});
        check(MPI_Barrier(comm_), "MPI_Barrier");
        r.done();
    }

    // Blocking point-to-point; a buffer above the count limit goes as several messages
    // with the same tag, which MPI delivers in order.
    template <class S>
        requires element<std::remove_const_t<S>>
    void send(std::span<S> buf, int dest, int tag = 0) {
        using T = std::remove_const_t<S>;
        detail::check_peer(rank_, size_, "send", dest);
        const std::uint64_t b = dest == rank_ ? 0 : buf.size() * sizeof(T);
        scoped_record r(stats_, "send", {b, 0});
        if (buf.empty())
            check(MPI_Send(buf.data(), 0, detail::mpi_datatype<T>(), dest, tag, comm_),
                  "MPI_Send to rank " + std::to_string(dest));
        for_each_piece(buf.size(), [&](std::size_t at, int n) {
            check(MPI_Send(buf.data() + at, n, detail::mpi_datatype<T>(), dest, tag, comm_),
                  "MPI_Send to rank " + std::to_string(dest));
        });
        r.done();
    }

    // Receives exactly buf.size() elements (as the pieces send() cut them); a shorter or
    // longer message is an error.
    template <element T>
    void recv(std::span<T> buf, int src, int tag = 0) {
        detail::check_peer(rank_, size_, "recv", src);
        const std::uint64_t b = src == rank_ ? 0 : buf.size() * sizeof(T);
        scoped_record r(stats_, "recv", {0, b});
        auto one = [&](std::size_t at, int n) {
            MPI_Status st;
            check(MPI_Recv(buf.data() + at, n, detail::mpi_datatype<T>(), src, tag, comm_, &st),
                  "MPI_Recv from rank " + std::to_string(src));
            int got = 0;
            MPI_Get_count(&st, detail::mpi_datatype<T>(), &got);
            if (got != n)
                throw comm_error(rank_, "recv from rank " + std::to_string(src) + ": got " + std::to_string(at + static_cast<std::size_t>(got)) +
                                            " elements, expected " + std::to_string(buf.size()));
        };
        if (buf.empty()) one(0, 0);
        for_each_piece(buf.size(), one);
        r.done();
    }

    // The ranks passing the same `color`, ranked by `key` (MPI_Comm_split): a communicator
    // of their own (a pipeline stage's replicas, say). Collective over this communicator.
    mpi split(int color, int key) const {
        MPI_Comm sub = MPI_COMM_NULL;
        check(MPI_Comm_split(comm_, color, key, &sub), "MPI_Comm_split (color " + std::to_string(color) + ")");
        mpi m(sub);  // duplicates: the object owns its own handles
        MPI_Comm_free(&sub);
        return m;
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
            if (bulk_ != MPI_COMM_NULL) MPI_Comm_free(&bulk_);
            if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
        }
        u8_sum_ = MPI_OP_NULL;
        bulk_ = MPI_COMM_NULL;
        comm_ = MPI_COMM_NULL;
    }

    static double since(std::chrono::steady_clock::time_point t0) noexcept {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    // f(offset, count) for consecutive pieces of at most mpi_max_count() elements.
    // Inline, no piece list: all_reduce runs this every step.
    template <class F>
    static void for_each_piece(std::size_t n, F&& f) {
        const std::size_t max = detail::mpi_max_count();
        for (std::size_t at = 0; at < n; at += max) f(at, detail::mpi_int(std::min(max, n - at)));
    }

    template <class S>
    pending start_exchange(const char* op, std::span<S> send, std::span<const std::size_t> send_counts,
                           std::span<std::remove_const_t<S>> recv, std::span<const std::size_t> recv_counts) {
        using T = std::remove_const_t<S>;
        const auto t0 = std::chrono::steady_clock::now();
        check_exchange(op, send.size(), send_counts, recv.size(), recv_counts);
        const auto me = static_cast<std::size_t>(rank_);
        detail::check_size(rank_, op, "recv_counts[rank] (the block a rank keeps)", recv_counts[me], send_counts[me]);
        const auto sd = detail::displacements(send_counts);
        const auto rd = detail::displacements(recv_counts);
        std::copy_n(send.data() + sd[me], send_counts[me], recv.data() + rd[me]);
        const auto max = detail::mpi_max_count();
        pending p = post<T>("all_to_all_v", send.data(), detail::split_blocks(send_counts, max, rank_), recv.data(),
                            detail::split_blocks(recv_counts, max, rank_));
        p.account_ = pending_record(stats_.share(), "all_to_all_v",
                                    volume::all_to_all_v(rank_, send_counts, recv_counts, sizeof(T)), since(t0));
        if (p.done()) p.account_.record(true);
        return p;
    }

    // Posts the receives, then the sends, of one exchange's pieces under a tag every
    // rank draws from the same sequence (collectives are called in the same order).
    template <class T>
    pending post(const char* op, const T* send, const std::vector<detail::piece>& sends, T* recv,
                 std::vector<detail::piece> recvs) {
        pending p;
        p.rank_ = rank_;
        p.op_ = op;
        p.type_ = detail::mpi_datatype<T>();
        const int tag = tag_;
        tag_ = tag_ >= tag_ub_ ? 0 : tag_ + 1;
        p.reqs_.reserve(recvs.size() + sends.size());
        auto failed = [&](int rc, const char* call, const char* dir, int peer) {
            p.abandon();
            throw comm_error(rank_, std::string(call) + "(" + op + ") " + dir + " rank " + std::to_string(peer) +
                                        " failed: " + detail::mpi_error_text(rc));
        };
        for (const auto& r : recvs) {
            p.reqs_.push_back(MPI_REQUEST_NULL);
            const int rc = MPI_Irecv(recv + r.offset, detail::mpi_int(r.count), p.type_, r.peer, tag, bulk_,
                                     &p.reqs_.back());
            if (rc != MPI_SUCCESS) failed(rc, "MPI_Irecv", "from", r.peer);
        }
        p.expected_ = std::move(recvs);
        for (const auto& s : sends) {
            p.reqs_.push_back(MPI_REQUEST_NULL);
            const int rc = MPI_Isend(send + s.offset, detail::mpi_int(s.count), p.type_, s.peer, tag, bulk_,
                                     &p.reqs_.back());
            if (rc != MPI_SUCCESS) failed(rc, "MPI_Isend", "to", s.peer);
        }
        return p;
    }

    // all_gather(_v) beyond the count limit: this rank's block to every peer and every
    // peer's block in, as point-to-point pieces.
    template <class S, class T>
    void gather_in_pieces(const char* op, std::span<S> send, std::span<T> recv, std::span<const std::size_t> counts) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto me = static_cast<std::size_t>(rank_);
        const auto d = detail::displacements(counts);
        std::copy(send.begin(), send.end(), recv.begin() + static_cast<std::ptrdiff_t>(d[me]));
        const auto max = detail::mpi_max_count();
        std::vector<detail::piece> sends;
        for (int q = 0; q < size_; ++q)
            if (q != rank_) detail::split_block(sends, q, 0, send.size(), max);
        pending p = post<T>(op, send.data(), sends, recv.data(), detail::split_blocks(counts, max, rank_));
        p.account_ = pending_record(stats_.share(), op, volume::all_gather_v(rank_, size_, counts, sizeof(T)), since(t0));
        if (p.done()) p.account_.record(true);
        p.wait();
    }

    // reduce_scatter(_v) beyond the count limit: block q summed onto rank q, piece by piece.
    template <class S, class T>
    void reduce_in_pieces(std::span<S> send, std::span<T> recv, std::span<const std::size_t> counts) {
        const auto d = detail::displacements(counts);
        for (int q = 0; q < size_; ++q) {
            const auto i = static_cast<std::size_t>(q);
            std::vector<detail::piece> ps;
            detail::split_block(ps, q, 0, counts[i], detail::mpi_max_count());
            for (const auto& p : ps)
                check(MPI_Reduce(send.data() + d[i] + p.offset, q == rank_ ? recv.data() + p.offset : nullptr,
                                 detail::mpi_int(p.count), detail::mpi_datatype<T>(), op_for<T>(reduce_op::sum), q,
                                 comm_),
                      "MPI_Reduce (reduce_scatter to rank " + std::to_string(q) + ")");
        }
    }

    template <element T>
    MPI_Op op_for(reduce_op op) const noexcept {
        if (op == reduce_op::max) return MPI_MAX;
        if constexpr (std::is_same_v<T, std::uint8_t>) return u8_sum_;
        else return MPI_SUM;
    }

    MPI_Comm comm_ = MPI_COMM_NULL;
    MPI_Comm bulk_ = MPI_COMM_NULL;  // exchange pieces only
    MPI_Op u8_sum_ = MPI_OP_NULL;
    int rank_ = 0;
    int size_ = 1;
    int tag_ = 0;
    int tag_ub_ = 32767;
    traffic_store stats_;
};

static_assert(communicator<mpi>,
              "comm::mpi must provide every operation of comm::communicator (comm/concept.hpp).");

}  // namespace mixgcn::comm
