#pragma once
// The `graph` strategy: a 1-D row partition with ghost (halo) nodes.
//
// Rank p owns the rows V_p (any owner vector: block, random, spectral, METIS, a file)
// and keeps a local operator whose rows are its own nodes and whose columns are
// renumbered: own nodes first (interior rows, whose neighbours are all owned, then
// boundary rows), then the ghosts grouped by owning rank, so the rows received from
// rank q land contiguously in the extended matrix without a copy.
//   forward:  send the own rows others need, receive the ghost rows (all-to-all-v),
//             aggregating the interior rows while the exchange is in flight (polled
//             between row blocks so MPI moves it), then the boundary rows.
//   backward: aggregate with the transposed local operator into own + ghost rows, send
//             the ghost-row gradients back to their owners, who add them in rank order
//             (deterministic).
// The normalisation uses the GLOBAL degrees, so the local operator's rows equal the
// rows of the single-process Â: every strategy trains the same model.
//
// Memory per rank: the local operator and its transpose (O(nnz_p + halo_p)), the
// extended matrices ((|V_p| + halo_p) x d) and send buffers (Σ_q |send_q| x d): nothing
// of size |V| x d. Setup reads the global adjacency pattern (O(|E|) integers, every
// rank holds it today) and keeps O(|V|) integers only while it runs. The one |V| x d
// copy left is the caller's, when it loads every node's features before handing this
// rank its rows (local_inputs(dataset)); local_inputs(ids, ...) takes the owned rows
// only, and train_graph_parallel accepts either.
//
// Entry points: the class (strategy surface of parallel/single.hpp, for a custom loop),
// graph_inputs (this rank's features/labels/split in local order) and
// train_graph_parallel (setup + inputs + trainer, fills a graph_report).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/buffer.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/identity.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/parallel/report.hpp"
#include "mixgcn/storage/convert.hpp"
#include "mixgcn/storage/csr.hpp"
#include "mixgcn/storage/sparse_view.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::parallel {

template <class B, class V, comm::communicator Comm>
class graph {
public:
    using backend_type = B;
    using value_type = V;

    // Collective: every rank calls it with the same adjacency pattern (symmetric;
    // self-loops optional) and owner vector.
    graph(Comm& comm, const storage::csr<index_t, V>& adjacency, std::span<const int> owner)
        : graph(comm, ::mixgcn::graph::gcn_normalize<V>(adjacency), owner) {}

    // Collective: every rank calls it with the same global operator (graph::gcn_normalize,
    // fused or with edge weights) and owner vector. The local rows are copied from the
    // operator's rows, so they equal the rows of `single`'s Â term for term.
    graph(Comm& comm, const ::mixgcn::graph::gcn_operator<index_t, V>& gop, std::span<const int> owner)
        : comm_(&comm) {
        const auto& adjacency = gop.a;  // A + I, columns ascending
        const index_t n = adjacency.rows;
        const int P = comm.size(), me = comm.rank();
        require(adjacency.rows == adjacency.cols, "graph strategy: operator is ", adjacency.rows, "x",
                adjacency.cols, ", expected square");
        require(gop.symmetric, "graph strategy (rank ", me, "): the operator is not symmetric; the halo exchange "
                "sends ghost gradients back along the same edges, which needs Â = Âᵀ");
        require(owner.size() == static_cast<std::size_t>(n), "graph strategy (rank ", me, "): owner vector has ",
                owner.size(), " entries for ", n, " nodes");
        for (std::size_t v = 0; v < owner.size(); ++v)
            require(owner[v] >= 0 && owner[v] < P, "graph strategy (rank ", me, "): node ", v, " has owner ", owner[v],
                    " outside [0, ", P, ")");
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

        owned_sorted_.reserve(static_cast<std::size_t>(own_));
        for (index_t i = 0; i < own_; ++i) owned_sorted_.push_back({global_[std::size_t(i)], i});
        std::sort(owned_sorted_.begin(), owned_sorted_.end());
        nodes_ = n;

        std::vector<index_t> local_of(static_cast<std::size_t>(n), -1);
        for (std::size_t i = 0; i < global_.size(); ++i) local_of[static_cast<std::size_t>(global_[i])] = index_t(i);

        // Local rows of A + I with columns in the global order of the single operator,
        // so each row sums its terms in the same order as `single`.
        auto& a = op_;
        const bool weighted = adjacency.has_values();
        a.rows = own_;
        a.cols = static_cast<index_t>(global_.size());
        a.row_ptr.assign(static_cast<std::size_t>(own_) + 1, 0);
        for (index_t i = 0; i < own_; ++i) {
            const index_t v = global_[static_cast<std::size_t>(i)];
            for (offset_t k = adjacency.row_begin(v); k < adjacency.row_end(v); ++k) {
                a.col_idx.push_back(local_of[static_cast<std::size_t>(adjacency.col_idx[static_cast<std::size_t>(k)])]);
                if (weighted) a.val.push_back(adjacency.val[static_cast<std::size_t>(k)]);
            }
            a.row_ptr[static_cast<std::size_t>(i) + 1] = static_cast<offset_t>(a.col_idx.size());
        }
        at_ = storage::transpose(op_);
        if (!gop.row_scale.empty()) {
            scale_.resize(global_.size());
            for (std::size_t i = 0; i < global_.size(); ++i)
                scale_[i] = gop.row_scale[static_cast<std::size_t>(global_[i])];
        }

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
        for (std::size_t k = 0, q = 0, end = send_count_.empty() ? 0 : send_count_[0]; k < requested.size(); ++k) {
            while (k >= end) end += send_count_[++q];  // requests arrive grouped by the asking rank
            const auto v = requested[k];
            require(v >= 0 && v < n && owner[static_cast<std::size_t>(v)] == me, "graph strategy (rank ", me,
                    "): rank ", q, " asked for node ", v, ", which this rank does not own (do the ranks hold "
                    "different owner vectors?)");
            send_rows_[k] = local_of[static_cast<std::size_t>(v)];
        }
        since_ = comm.stats();  // the report counts training traffic, not this setup
    }

    static constexpr const char* name() { return "graph"; }
    index_t rows() const noexcept { return own_; }
    column_slice columns(std::size_t width) const noexcept { return {0, width}; }
    // Local row i is global node global_ids()[i]: dropout masks follow the node.
    dropout_index row_ids() const noexcept { return {global_.data(), 0, 0}; }
    std::uint64_t product_identity() const noexcept { return identity_.value(); }
    int rank() const noexcept { return comm_->rank(); }
    int ranks() const noexcept { return comm_->size(); }
    std::size_t halo() const noexcept { return global_.size() - static_cast<std::size_t>(own_); }
    // Global id of local row / extended column i.
    const std::vector<index_t>& global_ids() const noexcept { return global_; }

    void forward(const_matrix_view<V> x, matrix_view<V> y) {
        const std::size_t d = x.cols();
        check(x, y, "forward");
        const auto t0 = clock::now();
        const auto ext = extended(d);
        for (index_t i = 0; i < own_; ++i) std::copy_n(x.row(std::size_t(i)), d, ext.row(std::size_t(i)));
        pack(x, send_);
        const auto scounts = scaled(send_count_, d), rcounts = scaled(ghost_count_, d);
        auto ghost_rows = std::span<V>(ext.row(std::size_t(own_)), halo() * d);
        const auto t1 = clock::now();
        auto pending = comm_->start_all_to_all_v(std::span<const V>(send_), scounts, ghost_rows, rcounts);
        const auto t2 = clock::now();
        // Interior rows in blocks, polling the exchange in between: OpenMPI progresses a
        // non-blocking collective only inside MPI calls.
        const index_t step = std::max<index_t>(1024, interior_ / 8);
        for (index_t first = 0; first < interior_; first += step) {
            B::aggregate_rows(view(), const_matrix_view<V>(ext), y, first, std::min<index_t>(interior_, first + step));
            (void)pending.progress();
        }
        const auto t3 = clock::now();
        pending.wait();
        const auto t4 = clock::now();
        B::aggregate_rows(view(), const_matrix_view<V>(ext), y, interior_, own_);
        const auto t5 = clock::now();
        using trace::category;
        comm_seconds_ += trace::interval("halo start", category::comm, t1, t2) +
                         trace::interval("halo wait", category::comm, t3, t4);
        compute_seconds_ += trace::interval("halo pack", category::compute, t0, t1) +
                            trace::interval("interior rows", category::compute, t2, t3) +
                            trace::interval("boundary rows", category::compute, t4, t5);
    }

    void backward(const_matrix_view<V> dy, matrix_view<V> dx) {
        const std::size_t d = dy.cols();
        check(dx, dy, "backward");
        const auto t0 = clock::now();
        const auto ext = extended(d);
        B::aggregate(back_view(), dy, ext);
        recv_.resize(send_rows_.size() * d);
        const auto scounts = scaled(ghost_count_, d), rcounts = scaled(send_count_, d);
        const auto t1 = clock::now();
        comm_->all_to_all_v(std::span<const V>(ext.row(std::size_t(own_)), halo() * d), scounts,
                            std::span<V>(recv_), rcounts);
        const auto t2 = clock::now();
        for (index_t i = 0; i < own_; ++i) std::copy_n(ext.row(std::size_t(i)), d, dx.row(std::size_t(i)));
        // Ghost gradients from every peer, added in rank order.
        for (std::size_t k = 0; k < send_rows_.size(); ++k) {
            V* row = dx.row(static_cast<std::size_t>(send_rows_[k]));
            const V* add = recv_.data() + k * d;
            for (std::size_t c = 0; c < d; ++c) row[c] += add[c];
        }
        const auto t3 = clock::now();
        using trace::category;
        comm_seconds_ += trace::interval("ghost gradients exchange", category::comm, t1, t2);
        compute_seconds_ += trace::interval("transposed product", category::compute, t0, t1) +
                            trace::interval("ghost gradients add", category::compute, t2, t3);
    }

    template <class T>
    void sum(std::span<T> values) {
        const auto t0 = clock::now();
        comm_->all_reduce(values, comm::reduce_op::sum);
        comm_seconds_ += trace::interval("all-reduce", trace::category::comm, t0, clock::now());
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

    // Global ids of the owned nodes, ascending: the rows a loader that reads only this
    // rank's part of the dataset must read (see local_inputs below).
    std::vector<index_t> owned_ids() const {
        std::vector<index_t> out;
        out.reserve(owned_sorted_.size());
        for (const auto& [g, l] : owned_sorted_) out.push_back(g);
        return out;
    }
    // Local row of an owned global node, -1 when this rank does not own it.
    index_t local_row(index_t global) const noexcept {
        const auto it = std::lower_bound(owned_sorted_.begin(), owned_sorted_.end(), std::pair{global, index_t{0}});
        return it != owned_sorted_.end() && it->first == global ? it->second : index_t{-1};
    }

    // This rank's inputs from a dataset that holds every node's row. The caller holds
    // |V| x d features here: drop the global matrix right after this call.
    graph_inputs<V> local_inputs(const dataset<V>& ds) const {
        require(ds.features.rows() == static_cast<std::size_t>(nodes_) && ds.labels.size() == ds.features.rows() &&
                    ds.split.size() == ds.features.rows(),
                "graph strategy (rank ", rank(), "): dataset has ", ds.features.rows(), " feature rows, ",
                ds.labels.size(), " labels and ", ds.split.size(), " split entries for ", nodes_, " nodes");
        graph_inputs<V> in;
        in.features = local_rows(ds.features);
        in.labels = local_values(ds.labels);
        in.train = local_rows_with(ds.split, split_role::train);
        in.val = local_rows_with(ds.split, split_role::val);
        in.test = local_rows_with(ds.split, split_role::test);
        return in;
    }

    // This rank's inputs from its owned rows only (what a partitioned loader reads):
    // row k of `features`, `labels[k]` and `split[k]` belong to global node `ids[k]`;
    // the ids may come in any order but must be exactly the nodes this rank owns.
    graph_inputs<V> local_inputs(std::span<const index_t> ids, const_matrix_view<V> features,
                                 std::span<const std::int32_t> labels, std::span<const split_role> split) const {
        const int me = rank();
        require(ids.size() == static_cast<std::size_t>(own_), "graph strategy (rank ", me, "): given ", ids.size(),
                " rows, but this rank owns ", own_, " nodes");
        require(features.rows() == ids.size() && labels.size() == ids.size() && split.size() == ids.size(),
                "graph strategy (rank ", me, "): ", ids.size(), " ids but ", features.rows(), " feature rows, ",
                labels.size(), " labels and ", split.size(), " split entries");
        graph_inputs<V> in;
        in.features = dense_matrix<V>(static_cast<std::size_t>(own_), features.cols());
        in.labels.assign(static_cast<std::size_t>(own_), -1);
        std::vector<split_role> role(static_cast<std::size_t>(own_), split_role::none);
        std::vector<char> seen(static_cast<std::size_t>(own_), 0);
        for (std::size_t k = 0; k < ids.size(); ++k) {
            const index_t i = local_row(ids[k]);
            require(i >= 0, "graph strategy (rank ", me, "): row ", k, " is node ", ids[k],
                    ", which this rank does not own");
            require(!seen[std::size_t(i)], "graph strategy (rank ", me, "): node ", ids[k], " is given twice (row ", k,
                    ")");
            seen[std::size_t(i)] = 1;
            std::copy_n(features.row(k), features.cols(), in.features.row(std::size_t(i)));
            in.labels[std::size_t(i)] = labels[k];
            role[std::size_t(i)] = split[k];
        }
        for (index_t i = 0; i < own_; ++i) {
            if (role[std::size_t(i)] == split_role::train) in.train.push_back(i);
            if (role[std::size_t(i)] == split_role::val) in.val.push_back(i);
            if (role[std::size_t(i)] == split_role::test) in.test.push_back(i);
        }
        return in;
    }

    graph_report report() const {
        graph_report r;
        r.rank = comm_->rank();
        r.owned_nodes = static_cast<std::size_t>(own_);
        r.halo_nodes = halo();
        r.interior_rows = static_cast<std::size_t>(interior_);
        r.boundary_rows = static_cast<std::size_t>(own_ - interior_);
        r.local_nonzeros = op_.nnz();
        r.strategy = name();
        r.traffic = detail::traffic_since(comm_->stats(), since_);
        const auto t = r.traffic.total();
        r.bytes_sent = t.bytes_sent;
        r.bytes_received = t.bytes_received;
        r.comm_seconds = comm_seconds_;
        r.compute_seconds = compute_seconds_;
        r.graph_bytes = op_.bytes() + at_.bytes() + scale_.size() * sizeof(V) +
                        (global_.size() + send_rows_.size() + 2 * owned_sorted_.size()) * sizeof(index_t);
        r.buffer_bytes = (ext_.size() + send_.capacity() + recv_.capacity()) * sizeof(V);
        return r;
    }

private:
    using clock = std::chrono::steady_clock;
    static double seconds(clock::time_point a, clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    }
    matrix_view<V> extended(std::size_t d) {
        const std::size_t need = global_.size() * d;
        if (ext_.size() < need) ext_ = aligned_buffer<V>(need);
        return {ext_.data(), global_.size(), d};
    }
    const V* scales() const noexcept { return scale_.empty() ? nullptr : scale_.data(); }
    storage::sparse_view<index_t, V> view() const { return storage::view_of(op_, scales(), scales()); }
    storage::sparse_view<index_t, V> back_view() const { return storage::view_of(at_, scales(), scales()); }
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
    index_t nodes_ = 0, own_ = 0, interior_ = 0;
    std::vector<std::pair<index_t, index_t>> owned_sorted_;  // (global id, local row), by global id
    std::vector<index_t> global_;           // local row/column -> global node
    std::vector<std::size_t> ghost_count_;  // ghost rows received from each rank
    std::vector<std::size_t> send_count_;   // own rows sent to each rank
    std::vector<index_t> send_rows_;        // local rows sent, grouped by destination
    storage::csr<index_t, V> op_, at_;      // own x (own + ghost), and its transpose
    object_identity identity_;              // of op_ and the halo layout
    std::vector<V> scale_;                  // fused: global D^-1/2 of own + ghost nodes
    comm::traffic since_;                   // the communicator's counters after setup
    // Own + ghost rows of X (forward) or dX (backward), sized for the widest pass seen,
    // so alternating layer widths do not reallocate every call.
    aligned_buffer<V> ext_;
    std::vector<V> send_, recv_;
    double comm_seconds_ = 0, compute_seconds_ = 0;
};

// The entry point for a program that trains with the graph strategy (mixgcn-train):
// setup (collective), this rank's inputs, a model initialised from `to.seed`, the
// trainer. Every rank calls it with the same owner vector and options.
//   ds: the global edge list, and either every node's rows (features, labels and split
//       with |V| rows) or only this rank's rows in ascending global id, as a loader
//       that reads owned_ids() would produce. With the global rows the caller holds
//       |V| x d until this returns; pass the local form to avoid it.
//   mo: `in` and `classes` may be 0 (taken from the dataset). Dropout masks are keyed
//       by global node ids, so with dropout on the run trains the same model as `single`.
// Returns the trainer's result, identical on every rank; `out`, when given, receives
// this rank's figures (traffic since setup, time, memory).
template <class B, class V, comm::communicator Comm>
train::train_result train_graph_parallel(Comm& comm, const dataset<V>& ds, const std::vector<int>& owner,
                                         nn::model_options mo, const nn::optimizer_options& oo,
                                         const train::trainer_options& to, graph_report* out = nullptr) {
    static_assert(parallel_strategy<graph<B, V, Comm>>,
                  "parallel::graph must satisfy parallel_strategy; a change to its surface broke it.");
    const std::size_t rows = ds.features.rows();
    // The adjacency pattern lives only as long as the setup needs it.
    auto g = [&] {
        const auto adjacency = ::mixgcn::graph::build_adjacency<index_t, V>(ds.edges);
        return graph<B, V, Comm>(comm, adjacency, owner);
    }();
    graph_inputs<V> in;
    if (rows == static_cast<std::size_t>(ds.num_nodes())) {
        in = g.local_inputs(ds);
    } else {
        require(rows == static_cast<std::size_t>(g.rows()), "train_graph_parallel (rank ", comm.rank(), "): dataset '", ds.name, "' has ", rows,
                " feature rows: expected every node (", ds.num_nodes(), ") or this rank's ", g.rows(), " nodes");
        const auto ids = g.owned_ids();
        in = g.local_inputs(ids, ds.features.cview(), ds.labels, ds.split);
    }
    if (mo.in == 0) mo.in = in.features.cols();
    if (mo.classes == 0) mo.classes = static_cast<std::size_t>(ds.num_classes);
    require(mo.in == in.features.cols(), "train_graph_parallel: model input width ", mo.in, " but features have ",
            in.features.cols(), " columns");
    nn::gcn_model<B, V> model(mo);
    model.initialize(to.seed);
    nn::optimizer<B, V> opt(oo);
    const auto data = in.data();
    auto res = train::trainer<B, V, graph<B, V, Comm>>(g, model, opt, data, to).run();
    detail::finish_report(out, g, in, model);
    return res;
}

}  // namespace mixgcn::parallel
