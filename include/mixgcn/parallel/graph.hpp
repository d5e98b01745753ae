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
// of size |V| x d. Beyond the caller's owner vector (4 bytes per node) it keeps an O(1)
// index of its owned ids (a bitmap with counts: 0.25 bytes per node; setup adds one
// transient bitmap of ghost ids per thread, 0.125 bytes per node). Two ways in: the
// global operator (every rank holds it, O(|E|)), or only this rank's rows of A, as
// parallel/partitioned_load.hpp reads them (O(|E|/P)); this rank then normalises them
// with the ghosts' degrees from their owners. Inputs likewise: local_inputs(dataset)
// from every node's rows (the caller holds |V| x d until it drops them), or
// local_inputs(ids, ...) from the owned rows only.
//
// Entry points: the class (strategy surface of parallel/single.hpp, for a custom loop),
// graph_inputs (this rank's features/labels/split in local order),
// train_graph_parallel (setup + inputs + trainer, fills a graph_report), and over a
// partitioned load make_graph and train_graph_partitioned.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/resident_csr.hpp"
#include "mixgcn/backend/row_moves.hpp"
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/buffer.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/identity.hpp"
#include "mixgcn/core/sorted_ids.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/parallel/detail/data_engine.hpp"
#include "mixgcn/parallel/detail/flat_buffer.hpp"
#include "mixgcn/parallel/partitioned_load.hpp"
#include "mixgcn/parallel/report.hpp"
#include "mixgcn/storage/convert.hpp"
#include "mixgcn/storage/csr.hpp"
#include "mixgcn/storage/sparse_view.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::parallel {

template <class B, class V, comm::communicator Comm>
class graph {
    static constexpr bool on_host = backend::host_accessible<B>();

public:
    using backend_type = B;
    using value_type = V;
    static_assert(detail::data_engine_for<B, Comm>());

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
        const int me = comm.rank();
        require(adjacency.rows == adjacency.cols, "graph strategy: operator is ", adjacency.rows, "x",
                adjacency.cols, ", expected square");
        require(gop.symmetric, "graph strategy (rank ", me, "): the operator is not symmetric; the halo exchange "
                "sends ghost gradients back along the same edges, which needs Â = Âᵀ");
        check_owners(n, owner);
        std::vector<index_t> own;
        for (index_t v = 0; v < n; ++v)
            if (owner[static_cast<std::size_t>(v)] == me) own.push_back(v);
        const bool weighted = adjacency.has_values();
        setup(n, own, owner, [&](std::size_t k) {
            const index_t v = own[k];
            const auto b = static_cast<std::size_t>(adjacency.row_begin(v)), e = static_cast<std::size_t>(adjacency.row_end(v));
            return std::pair{std::span<const index_t>(adjacency.col_idx.data() + b, e - b),
                             weighted ? std::span<const V>(adjacency.val.data() + b, e - b) : std::span<const V>{}};
        });
        at_ = storage::transpose(op_);
        if (!gop.row_scale.empty()) {
            scale_.resize(global_.size());
            for (std::size_t i = 0; i < global_.size(); ++i)
                scale_[i] = gop.row_scale[static_cast<std::size_t>(global_[i])];
        }
        place_in_backend();
        since_ = comm.stats();  // the report counts training traffic, not this setup
    }

    // Collective, for a rank that holds only its own rows (parallel/partitioned_load.hpp):
    // `rows` are the rows of the symmetric adjacency A (no self-loops needed, columns are
    // global ids, ascending) of the nodes `owned` (ascending, exactly the nodes `owner`
    // gives this rank) in a graph of `nodes` nodes. This rank normalises its rows as
    // graph::gcn_normalize would (A + I, D from the row lengths in double): its own
    // degrees it counts, the ghosts' degrees their owners send over the halo pattern. So
    // the local operator equals the one cut from the global Â, value for value.
    graph(Comm& comm, index_t nodes, std::span<const index_t> owned, const storage::csr<index_t, V>& rows,
          std::span<const int> owner,
          ::mixgcn::graph::normalization_mode mode = ::mixgcn::graph::normalization_mode::fused)
        : comm_(&comm) {
        const int me = comm.rank();
        check_owners(nodes, owner);
        require(rows.rows == static_cast<index_t>(owned.size()) && rows.cols == nodes, "graph strategy (rank ", me,
                "): ", rows.rows, "x", rows.cols, " local rows for ", owned.size(), " owned nodes of ", nodes);
        std::size_t mine = 0;
        for (auto o : owner) mine += o == me;
        require(mine == owned.size(), "graph strategy (rank ", me, "): the owner vector gives this rank ", mine,
                " nodes, but ", owned.size(), " rows were given");
        for (std::size_t k = 0; k < owned.size(); ++k)
            require(owned[k] >= 0 && owned[k] < nodes && owner[static_cast<std::size_t>(owned[k])] == me &&
                        (k == 0 || owned[k - 1] < owned[k]),
                    "graph strategy (rank ", me, "): owned node ", owned[k], " (row ", k,
                    ") is out of order or not this rank's");
        // A + I, the self-loop placed where gcn_normalize places it (setup names a row
        // with a column outside the graph).
        storage::csr<index_t, V> api;
        ::mixgcn::graph::detail::pattern_with_self_loops(rows, [owned](std::size_t k) { return owned[k]; }, api);
        setup(nodes, owned, owner, [&](std::size_t k) {
            const auto b = static_cast<std::size_t>(api.row_ptr[k]), e = static_cast<std::size_t>(api.row_ptr[k + 1]);
            return std::pair{std::span<const index_t>(api.col_idx.data() + b, e - b), std::span<const V>{}};
        });
        // D^-1/2 of own rows (in local order), then of the ghosts from their owners.
        std::vector<double> dinv(global_.size());
        for (index_t i = 0; i < own_; ++i) dinv[std::size_t(i)] = 1.0 / std::sqrt(double(op_.degree(i)));
        std::vector<double> send(send_rows_.size());
        for (std::size_t k = 0; k < send_rows_.size(); ++k) send[k] = dinv[static_cast<std::size_t>(send_rows_[k])];
        comm.all_to_all_v(std::span<const double>(send), send_count_,
                          std::span<double>(dinv.data() + own_, halo()), ghost_count_);
        if (mode == ::mixgcn::graph::normalization_mode::fused) {
            scale_.assign(dinv.begin(), dinv.end());  // double -> V, as gcn_normalize's row_scale
        } else {
            op_.val.resize(op_.nnz());
            for (index_t i = 0; i < own_; ++i)
                for (offset_t k = op_.row_begin(i); k < op_.row_end(i); ++k)
                    op_.val[static_cast<std::size_t>(k)] = static_cast<V>(
                        dinv[std::size_t(i)] * dinv[static_cast<std::size_t>(op_.col_idx[static_cast<std::size_t>(k)])]);
        }
        at_ = storage::transpose(op_);
        place_in_backend();
        since_ = comm.stats();  // the report counts training traffic, not this setup
    }

    static constexpr const char* name() { return "graph"; }
    index_t rows() const noexcept { return own_; }
    column_slice columns(std::size_t width) const noexcept { return {0, width}; }
    // Local row i is global node global_ids()[i]: dropout masks follow the node (the ids
    // in the backend's memory, where its dropout kernels read them).
    dropout_index row_ids() const noexcept {
        if constexpr (on_host) return {global_.data(), 0, 0};
        else return {dev_.global.data(), 0, 0};
    }
    // The same ids in host memory (row_ids() points into B's).
    std::span<const index_t> host_row_ids() const noexcept { return {global_.data(), std::size_t(own_)}; }
    std::uint64_t product_identity() const noexcept { return identity_.value(); }
    // Seconds inside communication since setup (the load balancer's per-epoch measure).
    double comm_seconds() const noexcept { return comm_seconds_; }
    // Carries on the counters of `earlier`, the strategy this one replaces (a rebalance):
    // the report's traffic and seconds then cover the whole run, the rebuild included.
    void continue_counters(const graph& earlier) {
        since_ = earlier.since_;
        comm_seconds_ += earlier.comm_seconds_;
        compute_seconds_ += earlier.compute_seconds_;
    }
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
        backend::copy_rows<B>(x, ext.row_block(0, std::size_t(own_)));
        const auto send = detail::grown(send_, send_rows_.size() * d);
        backend::gather_rows<B>(x, send_rows_data(), matrix_view<V>(send.data(), send_rows_.size(), d));
        const auto scounts = scaled(send_count_, d), rcounts = scaled(ghost_count_, d);
        auto ghost_rows = std::span<V>(ext.row(std::size_t(own_)), halo() * d);
        const auto t1 = clock::now();
        auto pending = detail::data_engine<B>(*comm_).start_all_to_all_v(std::span<const V>(send), scounts,
                                                                          ghost_rows, rcounts);
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
        const auto recv = detail::grown(recv_, send_rows_.size() * d);
        const auto scounts = scaled(ghost_count_, d), rcounts = scaled(send_count_, d);
        const auto t1 = clock::now();
        detail::data_engine<B>(*comm_).all_to_all_v(std::span<const V>(ext.row(std::size_t(own_)), halo() * d),
                                                     scounts, recv, rcounts);
        const auto t2 = clock::now();
        backend::copy_rows<B>(const_matrix_view<V>(ext.row_block(0, std::size_t(own_))), dx);
        // Ghost gradients from every peer, added to each row in rank order.
        backend::add_row_lists<B>(const_matrix_view<V>(recv.data(), send_rows_.size(), d), add_ptr_data(),
                                  add_pos_data(), dx);
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
    // Over device memory the gradients are summed where they are, by the device engine,
    // one all-reduce per parameter (the default bucket is host memory).
    template <class Param>
        requires(!backend::host_accessible<B>())
    void reduce_gradients(std::span<Param* const> params) {
        comm_seconds_ += detail::all_reduce_gradients<B>(*comm_, params);
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
    std::vector<index_t> owned_ids() const { return own_ids_; }
    // Local row of an owned global node, -1 when this rank does not own it.
    index_t local_row(index_t global) const noexcept {
        const std::size_t p = own_index_.find(global);
        return p < own_local_.size() ? own_local_[p] : index_t{-1};
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
                        (global_.size() + send_rows_.size() + own_ids_.size() + own_local_.size() + add_pos_.size()) *
                            sizeof(index_t) +
                        add_ptr_.size() * sizeof(offset_t) + own_index_.bytes();
        if constexpr (!on_host) r.graph_bytes += dev_.bytes();  // the device copies, beside the host ones
        r.buffer_bytes = (ext_.size() + detail::allocated(send_) + detail::allocated(recv_)) * sizeof(V);
        return r;
    }

private:
    using clock = std::chrono::steady_clock;

    void check_owners(index_t n, std::span<const int> owner) const {
        const int P = comm_->size(), me = comm_->rank();
        require(owner.size() == static_cast<std::size_t>(n), "graph strategy (rank ", me, "): owner vector has ",
                owner.size(), " entries for ", n, " nodes");
        for (std::size_t v = 0; v < owner.size(); ++v)
            require(owner[v] >= 0 && owner[v] < P, "graph strategy (rank ", me, "): node ", v, " has owner ", owner[v],
                    " outside [0, ", P, ")");
    }

    // The layout from this rank's rows: `own` lists its nodes ascending, row_of(k) gives
    // the columns (global ids, ascending, A + I) and, when weighted, the values of node
    // own[k]'s row. Own nodes: interior first, then boundary, each ascending by global id;
    // ghosts grouped by owner, ascending within each. On the OpenMP threads, with O(1)
    // lookups per non-zero (core/sorted_ids.hpp): a binary search per non-zero on one
    // thread took 15 s of a 34 s products-shaped run at P = 1. Same layout, same bits.
    // Beyond the caller's owner vector it keeps an index of the owned ids (N/4 bytes) and
    // holds, while it runs, one bitmap of ghost ids per thread (N/8 bytes each).
    template <class RowOf>
    void setup(index_t n, std::span<const index_t> own, std::span<const int> owner, RowOf&& row_of) {
        Comm& comm = *comm_;
        const int P = comm.size(), me = comm.rank();
        auto owner_of = [&](index_t v) { return owner[static_cast<std::size_t>(v)]; };
        const std::size_t R = own.size();
        own_ids_.assign(own.begin(), own.end());
        own_index_ = ::mixgcn::detail::sorted_id_index<index_t>(own_ids_, std::uint64_t(n));

        // Rows with a neighbour on another rank, and every such neighbour (ghost) once: a
        // bitmap of the ids per thread (N/8 bytes each, freed below), OR-ed together.
        std::vector<std::uint8_t> boundary_row(R, 0);
        const std::size_t words = (static_cast<std::size_t>(n) + 63) / 64;
        std::vector<std::uint64_t> ghost_bits(words, 0);
        std::size_t bad_row = R;  // the first row with a column outside [0, n), if any
#pragma omp parallel
        {
            std::vector<std::uint64_t> seen(words, 0);
            std::size_t bad = R;
#pragma omp for schedule(dynamic, 4096) nowait
            for (std::size_t k = 0; k < R; ++k) {
                bool any = false;
                for (index_t c : row_of(k).first) {
                    if (c < 0 || c >= n) {
                        bad = std::min(bad, k);
                        break;
                    }
                    if (own_index_.find(c) == R) {
                        any = true;
                        seen[static_cast<std::size_t>(c) >> 6] |= std::uint64_t(1) << (c & 63);
                    }
                }
                boundary_row[k] = any;
            }
#pragma omp critical(mixgcn_graph_ghost_bits)
            {
                for (std::size_t w = 0; w < words; ++w) ghost_bits[w] |= seen[w];
                bad_row = std::min(bad_row, bad);
            }
        }
        require(bad_row == R, "graph strategy (rank ", me, "): the row of node ", bad_row < R ? own[bad_row] : 0,
                " has a column outside [0, ", n, ")");
        std::vector<index_t> ghost_by_id;  // ascending
        for (std::size_t w = 0; w < words; ++w)
            for (std::uint64_t b = ghost_bits[w]; b; b &= b - 1)
                ghost_by_id.push_back(static_cast<index_t>(64 * w + std::size_t(std::countr_zero(b))));
        ghost_bits = {};
        // Ghosts grouped by owning rank, ascending within: the rows received from rank q
        // land contiguously. ghost_slot[i]: where ghost_by_id[i] sits in that order.
        ghost_count_.assign(static_cast<std::size_t>(P), 0);
        for (index_t g : ghost_by_id) ++ghost_count_[static_cast<std::size_t>(owner_of(g))];
        std::vector<std::size_t> next(static_cast<std::size_t>(P), 0);
        for (std::size_t q = 1; q < next.size(); ++q) next[q] = next[q - 1] + ghost_count_[q - 1];
        std::vector<index_t> ghosts(ghost_by_id.size());
        std::vector<index_t> ghost_slot(ghost_by_id.size());
        for (std::size_t i = 0; i < ghost_by_id.size(); ++i) {
            const std::size_t slot = next[static_cast<std::size_t>(owner_of(ghost_by_id[i]))]++;
            ghosts[slot] = ghost_by_id[i];
            ghost_slot[i] = static_cast<index_t>(slot);
        }
        const ::mixgcn::detail::sorted_id_index<index_t> ghost_index(ghost_by_id, std::uint64_t(n));

        // Local rows: interior (no ghost neighbour) first, then boundary, each in `own` order.
        std::vector<std::size_t> order;  // own position of local row i
        order.reserve(R);
        for (std::size_t k = 0; k < R; ++k)
            if (!boundary_row[k]) order.push_back(k);
        interior_ = static_cast<index_t>(order.size());
        for (std::size_t k = 0; k < R; ++k)
            if (boundary_row[k]) order.push_back(k);
        own_ = static_cast<index_t>(R);
        global_.resize(R + ghosts.size());
        own_local_.resize(R);
        for (std::size_t i = 0; i < R; ++i) {
            global_[i] = own[order[i]];
            own_local_[order[i]] = static_cast<index_t>(i);
        }
        std::copy(ghosts.begin(), ghosts.end(), global_.begin() + std::ptrdiff_t(R));
        nodes_ = n;
        auto local_of = [&](index_t c) {
            const std::size_t p = own_index_.find(c);
            if (p < R) return own_local_[p];
            return static_cast<index_t>(own_ + ghost_slot[ghost_index.find(c)]);
        };

        // Local rows of A + I with columns in the global order of the single operator,
        // so each row sums its terms in the same order as `single`.
        auto& a = op_;
        a = {};
        a.rows = own_;
        a.cols = static_cast<index_t>(global_.size());
        a.row_ptr.assign(R + 1, 0);
        std::size_t values = 0;
        for (std::size_t i = 0; i < R; ++i) {
            const auto [cols, vals] = row_of(order[i]);
            a.row_ptr[i + 1] = a.row_ptr[i] + static_cast<offset_t>(cols.size());
            values += vals.size();
        }
        const auto nnz = static_cast<std::size_t>(a.row_ptr[R]);
        require(values == 0 || values == nnz, "graph strategy (rank ", me, "): ", values, " values for ", nnz,
                " non-zeros (every row has values, or none)");
        a.col_idx.resize(nnz);
        a.val.resize(values);
#pragma omp parallel for schedule(dynamic, 1024)
        for (std::size_t i = 0; i < R; ++i) {
            const auto [cols, vals] = row_of(order[i]);
            const auto at = static_cast<std::size_t>(a.row_ptr[i]);
            for (std::size_t j = 0; j < cols.size(); ++j) a.col_idx[at + j] = local_of(cols[j]);
            if (!vals.empty()) std::copy(vals.begin(), vals.end(), a.val.data() + at);  // no values: a.val is empty
        }
        // The transpose is the caller's to take, once op_'s values are final.

        // Tell every owner which of its rows this rank needs (in this rank's ghost order).
        std::vector<std::size_t> one(static_cast<std::size_t>(P), 1);
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
            require(v >= 0 && v < n && owner_of(index_t(v)) == me, "graph strategy (rank ", me, "): rank ", q,
                    " asked for node ", v, ", which this rank does not own (do the ranks hold different owner "
                    "vectors?)");
            send_rows_[k] = local_row(index_t(v));
        }
        // For each own row, the positions of the gradients sent back for it, ascending
        // (rank order): backward adds them in that order.
        add_ptr_.assign(R + 1, 0);
        for (const index_t r : send_rows_) ++add_ptr_[static_cast<std::size_t>(r) + 1];
        std::partial_sum(add_ptr_.begin(), add_ptr_.end(), add_ptr_.begin());
        add_pos_.resize(send_rows_.size());
        std::vector<offset_t> at(add_ptr_.begin(), add_ptr_.end() - 1);
        for (std::size_t k = 0; k < send_rows_.size(); ++k)
            add_pos_[static_cast<std::size_t>(at[static_cast<std::size_t>(send_rows_[k])]++)] = static_cast<index_t>(k);
    }
    // A backend over device memory gets its copies of the layout (the host keeps its own
    // for setup, the report and local_inputs); a host backend reads the host arrays.
    void place_in_backend() {
        if constexpr (!on_host) {
            dev_.op = backend::resident_csr<B, index_t, V>(op_);
            dev_.at = backend::resident_csr<B, index_t, V>(at_);
            dev_.scale = backend::make_array<B>(scale_);
            dev_.global = backend::make_array<B>(global_);
            dev_.send_rows = backend::make_array<B>(send_rows_);
            dev_.add_ptr = backend::make_array<B>(add_ptr_);
            dev_.add_pos = backend::make_array<B>(add_pos_);
        }
    }
    static double seconds(clock::time_point a, clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    }
    matrix_view<V> extended(std::size_t d) {
        const std::size_t need = global_.size() * d;
        if (ext_.size() < need) {
            if constexpr (on_host) ext_ = aligned_buffer<V>(need);
            else ext_.resize(need);
        }
        return {ext_.data(), global_.size(), d};
    }
    const V* scales() const noexcept {
        if constexpr (on_host) return scale_.empty() ? nullptr : scale_.data();
        else return dev_.scale.size() ? dev_.scale.data() : nullptr;
    }
    const index_t* send_rows_data() const noexcept {
        if constexpr (on_host) return send_rows_.data();
        else return dev_.send_rows.data();
    }
    const offset_t* add_ptr_data() const noexcept {
        if constexpr (on_host) return add_ptr_.data();
        else return dev_.add_ptr.data();
    }
    const index_t* add_pos_data() const noexcept {
        if constexpr (on_host) return add_pos_.data();
        else return dev_.add_pos.data();
    }
    storage::sparse_view<index_t, V> view() const {
        if constexpr (on_host) return storage::view_of(op_, scales(), scales());
        else return dev_.op.view(scales(), scales());
    }
    storage::sparse_view<index_t, V> back_view() const {
        if constexpr (on_host) return storage::view_of(at_, scales(), scales());
        else return dev_.at.view(scales(), scales());
    }
    static std::vector<std::size_t> scaled(const std::vector<std::size_t>& rows, std::size_t d) {
        std::vector<std::size_t> out(rows.size());
        for (std::size_t q = 0; q < rows.size(); ++q) out[q] = rows[q] * d;
        return out;
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
    std::vector<index_t> own_ids_;                          // owned global ids, ascending
    std::vector<index_t> own_local_;                        // local row of own_ids_[k]
    ::mixgcn::detail::sorted_id_index<index_t> own_index_;  // position in own_ids_ of an id, O(1)
    std::vector<index_t> global_;           // local row/column -> global node
    std::vector<std::size_t> ghost_count_;  // ghost rows received from each rank
    std::vector<std::size_t> send_count_;   // own rows sent to each rank
    std::vector<index_t> send_rows_;        // local rows sent, grouped by destination
    std::vector<offset_t> add_ptr_;         // own row i's returned gradients: add_pos_[add_ptr_[i], add_ptr_[i+1])
    std::vector<index_t> add_pos_;          // positions in the returned block, ascending per row
    storage::csr<index_t, V> op_, at_;      // own x (own + ghost), and its transpose
    object_identity identity_;              // of op_ and the halo layout
    std::vector<V> scale_;                  // fused: global D^-1/2 of own + ghost nodes
    comm::traffic since_;                   // the communicator's counters after setup
    // The layout's arrays in device memory (an empty member on the host).
    struct device_copies {
        backend::resident_csr<B, index_t, V> op, at;
        backend::array<B, V> scale;
        backend::array<B, index_t> global, send_rows, add_pos;
        backend::array<B, offset_t> add_ptr;
        std::size_t bytes() const noexcept {
            return op.bytes() + at.bytes() + scale.size() * sizeof(V) +
                   (global.size() + send_rows.size() + add_pos.size()) * sizeof(index_t) + add_ptr.size() * sizeof(offset_t);
        }
    };
    struct no_copies {};
    [[no_unique_address]] std::conditional_t<on_host, no_copies, device_copies> dev_;
    // Own + ghost rows of X (forward) or dX (backward), and the send and receive blocks,
    // in the backend's memory, sized for the widest pass seen.
    std::conditional_t<on_host, aligned_buffer<V>, backend::array<B, V>> ext_;
    detail::flat_buffer<B, V> send_, recv_;
    double comm_seconds_ = 0, compute_seconds_ = 0;
};

namespace detail {
// A model (`mo.in` 0: the features' width) initialised from `to.seed`, the optimizer and
// the trainer over a built strategy and its inputs; fills `out`.
template <class B, class V, comm::communicator Comm>
train::train_result train_on_inputs(graph<B, V, Comm>& g, const graph_inputs<V>& in, nn::model_options mo,
                                    const nn::optimizer_options& oo, const train::trainer_options& to,
                                    graph_report* out, const char* who) {
    if (mo.in == 0) mo.in = in.features.cols();
    require(mo.in == in.features.cols(), who, ": model input width ", mo.in, " but features have ",
            in.features.cols(), " columns");
    nn::gcn_model<B, V> model(mo);
    model.initialize(to.seed);
    nn::optimizer<B, V> opt(oo);
    const auto data = in.data();
    auto res = train::trainer<B, V, graph<B, V, Comm>>(g, model, opt, data, to).run();
    finish_report(out, g, in, model);
    return res;
}
}  // namespace detail

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
    if (mo.classes == 0) mo.classes = static_cast<std::size_t>(ds.num_classes);
    return detail::train_on_inputs(g, in, mo, oo, to, out, "train_graph_parallel");
}

// The graph strategy over a partitioned load: the local-rows constructor (collective).
template <class B, class V, comm::communicator Comm>
graph<B, V, Comm> make_graph(Comm& comm, const local_part<V>& part,
                             ::mixgcn::graph::normalization_mode mode = ::mixgcn::graph::normalization_mode::fused) {
    return graph<B, V, Comm>(comm, part.nodes, part.owned, part.rows, part.owner, mode);
}

// Loads `dir` partitioned and trains the graph strategy on it, as train_graph_parallel
// does over a fully loaded dataset (the same model, to rounding). `mo.in`/`mo.classes`
// may be 0 (taken from the data). `out` receives the strategy's figures; `load` the
// loader's.
template <class B, class V, comm::communicator Comm>
train::train_result train_graph_partitioned(Comm& comm, const std::filesystem::path& dir,
                                            partitioned_load_options lo, nn::model_options mo,
                                            const nn::optimizer_options& oo, const train::trainer_options& to,
                                            graph_report* out = nullptr, partitioned_load_report* load = nullptr) {
    // The loaded rows live only until the strategy and its inputs are built.
    auto part = std::make_unique<local_part<V>>(load_partitioned<V>(comm, dir, std::move(lo)));
    if (load) *load = part->report;
    graph<B, V, Comm> g(comm, part->nodes, part->owned, part->rows, part->owner);
    graph_inputs<V> in = g.local_inputs(part->owned, part->features.cview(), part->labels, part->split);
    if (mo.classes == 0) mo.classes = static_cast<std::size_t>(part->num_classes);
    part.reset();
    return detail::train_on_inputs(g, in, mo, oo, to, out, "train_graph_partitioned");
}

}  // namespace mixgcn::parallel
