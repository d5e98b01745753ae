#pragma once
// The `graph` strategy: a 1-D row partition with ghost (halo) nodes.
//
// Rank p owns the rows V_p (any owner vector: block, random, spectral, METIS, a file)
// and keeps a local operator whose rows are its own nodes and whose columns are
// renumbered: own nodes first (interior rows, whose neighbours are all owned, then
// boundary rows), then the ghosts grouped by owning rank, so the rows received from
// rank q land contiguously in the extended matrix without a copy.
//   forward:  send the own rows others need, receive the ghost rows (all-to-all-v),
//             aggregating the interior rows while the exchange is in flight, then the
//             boundary rows.
//   backward: aggregate with the transposed local operator into own + ghost rows, send
//             the ghost-row gradients back to their owners, who add them in rank order
//             (deterministic).
// The normalisation uses the GLOBAL degrees, so the local operator's rows equal the
// rows of the single-process Â: every strategy trains the same model.
//
// Memory per rank: the local operator and its transpose (O(nnz_p + halo_p)), the
// extended matrices ((|V_p| + halo_p) x d) and send buffers (Σ_q |send_q| x d): nothing
// of size |V| x d. Setup reads the global adjacency pattern (O(|E|) integers), which
// every rank holds today.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/storage/convert.hpp"
#include "mixgcn/storage/csr.hpp"
#include "mixgcn/storage/sparse_view.hpp"

namespace mixgcn::parallel {

// What one rank held, sent and spent (the CLI writes one per rank into its JSON).
struct graph_report {
    int rank = 0;
    std::size_t owned_nodes = 0, halo_nodes = 0, interior_rows = 0, boundary_rows = 0;
    std::size_t local_nonzeros = 0;
    std::uint64_t bytes_sent = 0, bytes_received = 0;  // halo exchanges, both directions
    double comm_seconds = 0, compute_seconds = 0;     // inside forward/backward/sum
    std::size_t graph_bytes = 0, buffer_bytes = 0;
};

template <class B, class V, comm::communicator Comm>
class graph {
public:
    using backend_type = B;
    using value_type = V;

    // Collective: every rank calls it with the same adjacency pattern (symmetric;
    // self-loops optional) and owner vector.
    graph(Comm& comm, const storage::csr<index_t, V>& adjacency, std::span<const int> owner) : comm_(&comm) {
        const index_t n = adjacency.rows;
        const int P = comm.size(), me = comm.rank();
        require(adjacency.rows == adjacency.cols, "graph strategy: adjacency is ", adjacency.rows, "x",
                adjacency.cols, ", expected square");
        require(owner.size() == static_cast<std::size_t>(n), "graph strategy (rank ", me, "): owner vector has ",
                owner.size(), " entries for ", n, " nodes");
        for (std::size_t v = 0; v < owner.size(); ++v)
            require(owner[v] >= 0 && owner[v] < P, "graph strategy (rank ", me, "): node ", v, " has owner ", owner[v],
                    " outside [0, ", P, ")");

        // Global D^-1/2 of A + I, computed exactly as graph::gcn_normalize does.
        auto degree_with_loop = [&](index_t v) {
            const auto cols = adjacency.row_cols(v);
            const bool loop = std::binary_search(cols.begin(), cols.end(), v);
            return static_cast<double>(cols.size() + (loop ? 0 : 1));
        };
        // Own nodes: interior first, then boundary, each ascending by global id.
        std::vector<index_t> interior, boundary;
        std::vector<char> is_ghost(static_cast<std::size_t>(n), 0);
        for (index_t v = 0; v < n; ++v) {
            if (owner[static_cast<std::size_t>(v)] != me) continue;
            bool has_ghost = false;
            for (index_t c : adjacency.row_cols(v))
                if (owner[static_cast<std::size_t>(c)] != me) {
                    has_ghost = true;
                    is_ghost[static_cast<std::size_t>(c)] = 1;
                }
            (has_ghost ? boundary : interior).push_back(v);
        }
        interior_ = static_cast<index_t>(interior.size());
        global_ = interior;
        global_.insert(global_.end(), boundary.begin(), boundary.end());
        own_ = static_cast<index_t>(global_.size());
        // Ghosts grouped by owner, ascending global id within each owner.
        ghost_count_.assign(static_cast<std::size_t>(P), 0);
        std::vector<index_t> ghosts;
        for (index_t v = 0; v < n; ++v)
            if (is_ghost[static_cast<std::size_t>(v)]) ghosts.push_back(v);
        std::stable_sort(ghosts.begin(), ghosts.end(), [&](index_t a, index_t b) {
            return owner[static_cast<std::size_t>(a)] < owner[static_cast<std::size_t>(b)];
        });
        for (index_t g : ghosts) ++ghost_count_[static_cast<std::size_t>(owner[static_cast<std::size_t>(g)])];
        global_.insert(global_.end(), ghosts.begin(), ghosts.end());

        std::vector<index_t> local_of(static_cast<std::size_t>(n), -1);
        for (std::size_t i = 0; i < global_.size(); ++i) local_of[static_cast<std::size_t>(global_[i])] = index_t(i);

        // Local rows of A + I with columns in the global order of the single operator,
        // so each row sums its terms in the same order as `single`.
        auto& a = op_;
        a.rows = own_;
        a.cols = static_cast<index_t>(global_.size());
        a.row_ptr.assign(static_cast<std::size_t>(own_) + 1, 0);
        for (index_t i = 0; i < own_; ++i) {
            const index_t v = global_[static_cast<std::size_t>(i)];
            bool placed = false;
            for (index_t c : adjacency.row_cols(v)) {
                if (!placed && c >= v) {
                    if (c != v) a.col_idx.push_back(i);
                    placed = true;
                }
                a.col_idx.push_back(local_of[static_cast<std::size_t>(c)]);
            }
            if (!placed) a.col_idx.push_back(i);
            a.row_ptr[static_cast<std::size_t>(i) + 1] = static_cast<offset_t>(a.col_idx.size());
        }
        at_ = storage::transpose(op_);
        scale_.resize(global_.size());
        for (std::size_t i = 0; i < global_.size(); ++i)
            scale_[i] = static_cast<V>(1.0 / std::sqrt(degree_with_loop(global_[i])));

        // Tell every owner which of its rows this rank needs (in this rank's ghost order).
        std::vector<std::size_t> one(static_cast<std::size_t>(P), 1), counts(static_cast<std::size_t>(P));
        std::vector<std::uint64_t> want(ghost_count_.begin(), ghost_count_.end()), got(static_cast<std::size_t>(P));
        comm.all_to_all_v(std::span<const std::uint64_t>(want), one, std::span<std::uint64_t>(got), one);
        send_count_.assign(got.begin(), got.end());
        std::vector<std::int64_t> request(ghosts.begin(), ghosts.end());
        std::vector<std::int64_t> requested(std::accumulate(send_count_.begin(), send_count_.end(), std::size_t{0}));
        comm.all_to_all_v(std::span<const std::int64_t>(request), ghost_count_, std::span<std::int64_t>(requested),
                          send_count_);
        send_rows_.resize(requested.size());
        for (std::size_t k = 0; k < requested.size(); ++k) {
            const auto v = requested[k];
            require(v >= 0 && v < n && owner[static_cast<std::size_t>(v)] == me, "graph strategy (rank ", me,
                    "): a peer asked for node ", v, ", which this rank does not own");
            send_rows_[k] = local_of[static_cast<std::size_t>(v)];
        }
        comm.reset_stats();
    }

    static constexpr const char* name() { return "graph"; }
    index_t rows() const noexcept { return own_; }
    int rank() const noexcept { return comm_->rank(); }
    int ranks() const noexcept { return comm_->size(); }
    std::size_t halo() const noexcept { return global_.size() - static_cast<std::size_t>(own_); }
    // Global id of local row / extended column i.
    const std::vector<index_t>& global_ids() const noexcept { return global_; }

    void forward(const_matrix_view<V> x, matrix_view<V> y) {
        const std::size_t d = x.cols();
        check(x, y, "forward");
        const auto t0 = clock::now();
        ext_.resize(global_.size(), d);
        for (index_t i = 0; i < own_; ++i) std::copy_n(x.row(std::size_t(i)), d, ext_.row(std::size_t(i)));
        pack(x, send_);
        const auto scounts = scaled(send_count_, d), rcounts = scaled(ghost_count_, d);
        auto ghost_rows = std::span<V>(ext_.row(std::size_t(own_)), halo() * d);
        const auto t1 = clock::now();
        auto pending = comm_->start_all_to_all_v(std::span<const V>(send_), scounts, ghost_rows, rcounts);
        const auto t2 = clock::now();
        B::aggregate_rows(view(), ext_.cview(), y, index_t{0}, interior_);
        const auto t3 = clock::now();
        pending.wait();
        const auto t4 = clock::now();
        B::aggregate_rows(view(), ext_.cview(), y, interior_, own_);
        const auto t5 = clock::now();
        comm_seconds_ += seconds(t1, t2) + seconds(t3, t4);
        compute_seconds_ += seconds(t0, t1) + seconds(t2, t3) + seconds(t4, t5);
    }

    void backward(const_matrix_view<V> dy, matrix_view<V> dx) {
        const std::size_t d = dy.cols();
        check(dx, dy, "backward");
        const auto t0 = clock::now();
        ext_.resize(global_.size(), d);
        B::aggregate(back_view(), dy, ext_.view());
        recv_.resize(send_rows_.size() * d);
        const auto scounts = scaled(ghost_count_, d), rcounts = scaled(send_count_, d);
        const auto t1 = clock::now();
        comm_->all_to_all_v(std::span<const V>(ext_.row(std::size_t(own_)), halo() * d), scounts,
                            std::span<V>(recv_), rcounts);
        const auto t2 = clock::now();
        for (index_t i = 0; i < own_; ++i) std::copy_n(ext_.row(std::size_t(i)), d, dx.row(std::size_t(i)));
        // Ghost gradients from every peer, added in rank order.
        for (std::size_t k = 0; k < send_rows_.size(); ++k) {
            V* row = dx.row(static_cast<std::size_t>(send_rows_[k]));
            const V* add = recv_.data() + k * d;
            for (std::size_t c = 0; c < d; ++c) row[c] += add[c];
        }
        const auto t3 = clock::now();
        comm_seconds_ += seconds(t1, t2);
        compute_seconds_ += seconds(t0, t1) + seconds(t2, t3);
    }

    template <class T>
    void sum(std::span<T> values) {
        const auto t0 = clock::now();
        comm_->all_reduce(values, comm::reduce_op::sum);
        comm_seconds_ += seconds(t0, clock::now());
    }

    // This rank's rows of a global per-node matrix, in local order.
    dense_matrix<V> local_rows(const dense_matrix<V>& global) const {
        dense_matrix<V> out(static_cast<std::size_t>(own_), global.cols());
        for (index_t i = 0; i < own_; ++i)
            std::copy_n(global.row(static_cast<std::size_t>(global_[std::size_t(i)])), global.cols(),
                        out.row(std::size_t(i)));
        return out;
    }
    template <class T>
    std::vector<T> local_values(const std::vector<T>& global) const {
        std::vector<T> out(static_cast<std::size_t>(own_));
        for (index_t i = 0; i < own_; ++i) out[std::size_t(i)] = global[static_cast<std::size_t>(global_[std::size_t(i)])];
        return out;
    }
    // Local rows whose node has the given role.
    std::vector<index_t> local_rows_with(const std::vector<split_role>& split, split_role role) const {
        std::vector<index_t> out;
        for (index_t i = 0; i < own_; ++i)
            if (split[static_cast<std::size_t>(global_[std::size_t(i)])] == role) out.push_back(i);
        return out;
    }

    graph_report report() const {
        graph_report r;
        r.rank = comm_->rank();
        r.owned_nodes = static_cast<std::size_t>(own_);
        r.halo_nodes = halo();
        r.interior_rows = static_cast<std::size_t>(interior_);
        r.boundary_rows = static_cast<std::size_t>(own_ - interior_);
        r.local_nonzeros = op_.nnz();
        const auto t = comm_->stats()["all_to_all_v"];
        r.bytes_sent = t.bytes_sent;
        r.bytes_received = t.bytes_received;
        r.comm_seconds = comm_seconds_;
        r.compute_seconds = compute_seconds_;
        r.graph_bytes = op_.bytes() + at_.bytes() + scale_.size() * sizeof(V) +
                        (global_.size() + send_rows_.size()) * sizeof(index_t);
        r.buffer_bytes = ext_.bytes() + (send_.size() + recv_.size()) * sizeof(V);
        return r;
    }

private:
    using clock = std::chrono::steady_clock;
    static double seconds(clock::time_point a, clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    }
    storage::sparse_view<index_t, V> view() const { return storage::view_of(op_, scale_.data(), scale_.data()); }
    storage::sparse_view<index_t, V> back_view() const { return storage::view_of(at_, scale_.data(), scale_.data()); }
    static std::vector<std::size_t> scaled(const std::vector<std::size_t>& rows, std::size_t d) {
        std::vector<std::size_t> out(rows.size());
        for (std::size_t q = 0; q < rows.size(); ++q) out[q] = rows[q] * d;
        return out;
    }
    void pack(const_matrix_view<V> x, std::vector<V>& buf) const {
        const std::size_t d = x.cols();
        buf.resize(send_rows_.size() * d);
        for (std::size_t k = 0; k < send_rows_.size(); ++k)
            std::copy_n(x.row(static_cast<std::size_t>(send_rows_[k])), d, buf.data() + k * d);
    }
    template <class X, class Y>
    void check(const X& own_rows, const Y& other, const char* what) const {
        require(own_rows.rows() == static_cast<std::size_t>(own_) && other.rows() == static_cast<std::size_t>(own_),
                "graph strategy ", what, " (rank ", comm_->rank(), "): matrices have ", own_rows.rows(), " and ",
                other.rows(), " rows, this rank owns ", own_);
        require(own_rows.cols() == other.cols(), "graph strategy ", what, ": widths ", own_rows.cols(), " and ",
                other.cols(), " differ");
    }

    Comm* comm_;
    index_t own_ = 0, interior_ = 0;
    std::vector<index_t> global_;           // local row/column -> global node
    std::vector<std::size_t> ghost_count_;  // ghost rows received from each rank
    std::vector<std::size_t> send_count_;   // own rows sent to each rank
    std::vector<index_t> send_rows_;        // local rows sent, grouped by destination
    storage::csr<index_t, V> op_, at_;      // own x (own + ghost), and its transpose
    std::vector<V> scale_;                  // global D^-1/2 of own + ghost nodes
    dense_matrix<V> ext_;                   // own + ghost rows of X (forward) or dX (backward)
    std::vector<V> send_, recv_;
    double comm_seconds_ = 0, compute_seconds_ = 0;
};

}  // namespace mixgcn::parallel
