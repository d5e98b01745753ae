#pragma once
// Byte accounting. Every communicator keeps, per operation name, the number of calls,
// the payload bytes this rank sent to and received from OTHER ranks, and the seconds
// spent blocked inside the call. The volumes follow one rule for every transport (see
// docs/communicators.md and the `volume` functions below), so numbers measured with
// MPI, Gloo or a future NCCL engine compare directly and match the cost model:
// self-copies never count, and collectives count the bandwidth-optimal algorithm's
// payload, not whatever the engine happens to put on the wire.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace mixgcn::comm {

struct op_counters {
    std::uint64_t calls = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    double seconds = 0.0;

    op_counters& operator+=(const op_counters& o) noexcept {
        calls += o.calls;
        bytes_sent += o.bytes_sent;
        bytes_received += o.bytes_received;
        seconds += o.seconds;
        return *this;
    }
};

// Counters per operation name ("all_reduce", "all_to_all_v", ...).
struct traffic {
    std::map<std::string, op_counters, std::less<>> ops;

    // Counters of one operation; zeros when it was never called.
    op_counters operator[](std::string_view op) const {
        auto it = ops.find(op);
        return it == ops.end() ? op_counters{} : it->second;
    }
    op_counters total() const {
        op_counters t;
        for (const auto& [name, c] : ops) t += c;
        return t;
    }
    void record(std::string_view op, std::uint64_t sent, std::uint64_t received, double seconds,
                std::uint64_t calls = 1) {
        auto it = ops.find(op);
        if (it == ops.end()) it = ops.emplace(std::string(op), op_counters{}).first;
        it->second += op_counters{calls, sent, received, seconds};
    }
    traffic& operator+=(const traffic& o) {
        for (const auto& [name, c] : o.ops) record(name, c.bytes_sent, c.bytes_received, c.seconds, c.calls);
        return *this;
    }
    void clear() noexcept { ops.clear(); }
};

// The accounting rule, one function per operation. `rank`/`size` are this rank and the
// number of ranks, `elem` the element size in bytes. Each returns {sent, received}.
namespace volume {

struct bytes {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
};

// Personalised exchange: what goes to / comes from every other rank.
inline bytes all_to_all_v(int rank, std::span<const std::size_t> send_counts,
                          std::span<const std::size_t> recv_counts, std::size_t elem) {
    bytes b;
    for (std::size_t q = 0; q < send_counts.size(); ++q)
        if (static_cast<int>(q) != rank) b.sent += send_counts[q] * elem;
    for (std::size_t q = 0; q < recv_counts.size(); ++q)
        if (static_cast<int>(q) != rank) b.received += recv_counts[q] * elem;
    return b;
}

// Own block to each of the P-1 others; every other block received once.
inline bytes all_gather_v(int rank, int size, std::span<const std::size_t> counts, std::size_t elem) {
    bytes b;
    b.sent = static_cast<std::uint64_t>(size - 1) * counts[static_cast<std::size_t>(rank)] * elem;
    for (std::size_t q = 0; q < counts.size(); ++q)
        if (static_cast<int>(q) != rank) b.received += counts[q] * elem;
    return b;
}

// Root sends the buffer to each of the P-1 others; each of them receives it once.
inline bytes broadcast(int rank, int size, int root, std::size_t n, std::size_t elem) {
    if (rank == root) return {static_cast<std::uint64_t>(size - 1) * n * elem, 0};
    return {0, static_cast<std::uint64_t>(n) * elem};
}

// Pairwise reduce-scatter: block q of my input goes to rank q; I receive my block from
// each of the P-1 others.
inline bytes reduce_scatter_v(int rank, int size, std::span<const std::size_t> counts, std::size_t elem) {
    bytes b;
    for (std::size_t q = 0; q < counts.size(); ++q)
        if (static_cast<int>(q) != rank) b.sent += counts[q] * elem;
    b.received = static_cast<std::uint64_t>(size - 1) * counts[static_cast<std::size_t>(rank)] * elem;
    return b;
}

// Block split used by all_reduce's rule: n elements into `size` blocks, the first
// n % size blocks one element longer.
inline std::size_t block_of(std::size_t n, int size, int rank) {
    const auto p = static_cast<std::size_t>(size);
    const auto r = static_cast<std::size_t>(rank);
    return n / p + (r < n % p ? 1 : 0);
}

// all_reduce = reduce-scatter + all-gather over that block split (the ring/
// halving-doubling volume): 2 * (n - my block) elements each way.
inline bytes all_reduce(int rank, int size, std::size_t n, std::size_t elem) {
    if (size <= 1) return {};
    const std::uint64_t v = 2 * static_cast<std::uint64_t>(n - block_of(n, size, rank)) * elem;
    return {v, v};
}

}  // namespace volume

// The counters a communicator records into. They live on the heap and are shared with
// the exchanges the communicator starts, so an exchange that completes after its
// communicator was moved (or destroyed) still records into live counters.
class traffic_store {
public:
    traffic_store() : p_(std::make_shared<traffic>()) {}
    std::shared_ptr<traffic> share() {
        if (!p_) p_ = std::make_shared<traffic>();  // a moved-from communicator
        return p_;
    }
    traffic& operator*() { return *share(); }
    const traffic& view() const noexcept {
        static const traffic none;
        return p_ ? *p_ : none;
    }
    void clear() noexcept {
        if (p_) p_->clear();
    }

private:
    std::shared_ptr<traffic> p_;
};

// What an exchange in flight records when it completes: the operation, its volume and
// the seconds blocked so far (in start, progress and wait). Records exactly once; a
// default-constructed or moved-from one records nothing.
class pending_record {
public:
    pending_record() = default;
    pending_record(std::shared_ptr<traffic> to, const char* op, volume::bytes b, double seconds)
        : to_(std::move(to)), op_(op), b_(b), seconds_(seconds) {}
    void add_seconds(double s) noexcept { seconds_ += s; }
    // `ok`: the data arrived (bytes count); otherwise only the seconds do.
    void record(bool ok) {
        if (const auto t = std::exchange(to_, nullptr)) t->record(op_, ok ? b_.sent : 0, ok ? b_.received : 0, seconds_);
    }

private:
    std::shared_ptr<traffic> to_;
    const char* op_ = "";
    volume::bytes b_{};
    double seconds_ = 0.0;
};

// Measures the seconds of one call and records it on destruction, so an operation that
// throws is still counted (its bytes are not: they did not arrive).
class scoped_record {
public:
    scoped_record(traffic& t, std::string_view op, volume::bytes b) : t_(t), op_(op), b_(b) {}
    scoped_record(traffic_store& t, std::string_view op, volume::bytes b) : scoped_record(*t, op, b) {}
    scoped_record(const scoped_record&) = delete;
    scoped_record& operator=(const scoped_record&) = delete;
    void done() noexcept { ok_ = true; }
    ~scoped_record() {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        try {
            if (ok_) t_.record(op_, b_.sent, b_.received, s);
            else t_.record(op_, 0, 0, s);
        } catch (...) {  // a failed map insertion must not escape a destructor
        }
    }

private:
    traffic& t_;
    std::string_view op_;
    volume::bytes b_;
    bool ok_ = false;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace mixgcn::comm
