#pragma once
// The `mixture` strategy: MixGCN's mixture of parallelism (Wan et al., 2025; NeutronTP,
// Ai et al., 2024). Activations live in the row layout (rank p holds its row block, every
// column), where the dense update H·W runs with the replicated W and the loss sees its
// rows. The sparse product runs in the column layout: every rank holds the whole Â and
// aggregates a slice of the columns, so the aggregation needs no halo and its work is
// balanced by construction. An all-to-all switches the layouts before and after each
// sparse product, forward and backward.
//
// Pipelined in column chunks: the width is cut into K chunks, each split over the ranks;
// chunk k+1's switch into the column layout is in flight while chunk k is aggregated,
// and chunk k's switch back while chunk k+1 is aggregated. Between row blocks of every
// aggregation the in-flight exchanges are polled, so MPI progresses them (OpenMPI moves
// non-blocking collectives only inside MPI calls).
//
// Volume per switch of a width-d matrix, rank p (n_q rows on rank q, c_q = its columns):
//   sent = received = n_p·(d - c_p) + c_p·(N - n_p)   elements,
// in total about N·d·(P-1)/P per switch whatever the graph's structure (docs/mixture.md).
// Memory: the replicated Â (O(|E|)) and column blocks of N x d/P per chunk in flight.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/strategy.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/parallel/detail/data_engine.hpp"
#include "mixgcn/parallel/detail/layouts.hpp"
#include "mixgcn/parallel/detail/replicated_operator.hpp"
#include "mixgcn/parallel/report.hpp"

namespace mixgcn::parallel {

template <class B, class V, comm::communicator Comm>
class mixture : public detail::replicated_operator<B, V, Comm> {
    using base = detail::replicated_operator<B, V, Comm>;
    using typename base::clock;
    using base::comm_, base::rows_, base::op_, base::compute_seconds_, base::seconds;

public:
    using base::rank, base::ranks, base::sum, base::begin_layer, base::row_layout;
    using backend_type = B;
    using value_type = V;
    static_assert(detail::data_engine_for<B, Comm>());

    // Collective: every rank passes the same operator (graph::gcn_normalize of the whole
    // graph) and owner vector. `chunks` >= 1 column chunks pipeline each switch.
    // `column_shares` (one per rank; empty: equal) sizes each rank's slice of every chunk's
    // columns, hence its share of the aggregation (the load balancer's second knob).
    mixture(Comm& comm, const ::mixgcn::graph::gcn_operator<index_t, V>& op, std::span<const int> owner, int chunks = 1,
            std::vector<double> column_shares = {})
        : base(comm, op, owner, "mixture"), chunks_(chunks), column_shares_(std::move(column_shares)) {
        require(chunks >= 1, "mixture strategy (rank ", comm.rank(), "): chunks must be >= 1, got ", chunks);
        require(column_shares_.empty() || column_shares_.size() == std::size_t(comm.size()), "mixture strategy (rank ",
                comm.rank(), "): ", column_shares_.size(), " column shares for ", comm.size(), " ranks");
    }
    const std::vector<double>& column_shares() const noexcept { return column_shares_; }
    void continue_counters(const mixture& earlier) { this->continue_counters_of(earlier); }

    static constexpr const char* name() { return "mixture"; }
    std::size_t rows() const noexcept { return rows_.rows_of(rank()); }
    column_slice columns(std::size_t width) const noexcept { return {0, width}; }
    dropout_index row_ids() const noexcept { return this->positions_from(rows_.first_of(rank())); }
    // The same ids in host memory (row_ids() points into B's).
    std::span<const index_t> host_row_ids() const noexcept { return this->global_ids(); }
    int chunks() const noexcept { return chunks_; }

    void forward(const_matrix_view<V> x, matrix_view<V> y) { product(this->forward_operator(), x, y, "forward"); }
    void backward(const_matrix_view<V> dy, matrix_view<V> dx) {
        product(this->backward_operator(), dy, dx, "backward");
    }

    // Over device memory the replicated parameters' gradients are summed where they are
    // (the default bucket is host memory).
    template <class Param>
        requires(!backend::host_accessible<B>())
    void reduce_gradients(std::span<Param* const> params) {
        this->comm_seconds_ += detail::all_reduce_gradients<B>(*comm_, params);
    }

    // This rank's inputs: its rows of the features (row layout), labels and split.
    strategy_inputs<V> local_inputs(const dataset<V>& ds) const {
        require(ds.features.rows() == rows_.nodes(), "mixture strategy (rank ", rank(), "): dataset has ",
                ds.features.rows(), " feature rows for ", rows_.nodes(), " nodes");
        strategy_inputs<V> in;
        const std::size_t mine = rows();
        in.features = dense_matrix<V>(mine, ds.features.cols());
        for (std::size_t i = 0; i < mine; ++i)
            std::copy_n(ds.features.row(static_cast<std::size_t>(rows_.ids_of(rank())[i])), ds.features.cols(),
                        in.features.row(i));
        detail::row_layout_labels(ds, rows_, rank(), in);
        return in;
    }

    // The same from this rank's rows only, in any order (a rebalance moves them here):
    // `ids` must be exactly the nodes this rank owns.
    strategy_inputs<V> local_inputs(std::span<const index_t> ids, const_matrix_view<V> features,
                                    std::span<const std::int32_t> labels, std::span<const split_role> split) const {
        const std::size_t mine = rows(), d = features.cols();
        require(ids.size() == mine && features.rows() == mine && labels.size() == mine && split.size() == mine,
                "mixture strategy (rank ", rank(), "): given ", ids.size(), " rows, but this rank owns ", mine);
        const auto own = this->global_ids();  // ascending
        strategy_inputs<V> in;
        in.features = dense_matrix<V>(mine, d);
        in.labels.assign(mine, 0);
        std::vector<split_role> role(mine, split_role::none);
        std::vector<bool> seen(mine, false);
        for (std::size_t k = 0; k < mine; ++k) {
            const auto it = std::lower_bound(own.begin(), own.end(), ids[k]);
            require(it != own.end() && *it == ids[k], "mixture strategy (rank ", rank(), "): given node ", ids[k],
                    ", which this rank does not own");
            const auto i = static_cast<std::size_t>(it - own.begin());
            require(!seen[i], "mixture strategy (rank ", rank(), "): node ", ids[k], " given twice");
            seen[i] = true;
            std::copy_n(features.row(k), d, in.features.row(i));
            in.labels[i] = labels[k];
            role[i] = split[k];
        }
        for (std::size_t i = 0; i < mine; ++i) {
            if (role[i] == split_role::train) in.train.push_back(index_t(i));
            if (role[i] == split_role::val) in.val.push_back(index_t(i));
            if (role[i] == split_role::test) in.test.push_back(index_t(i));
        }
        return in;
    }

    strategy_report report() const {
        auto r = this->base_report(name(), rows());
        for (const auto& c : chunk_)
            r.buffer_bytes += (detail::allocated(c.in) + detail::allocated(c.out) + detail::allocated(c.pack) +
                               detail::allocated(c.recv)) *
                              sizeof(V);
        return r;
    }

private:
    struct chunk_buffers {
        detail::flat_buffer<B, V> in, out, pack, recv;  // column blocks (N x c), row-side pack/receive
    };

    template <class Op>
    void product(const Op& a, const_matrix_view<V> x, matrix_view<V> y, const char* what) {
        const int P = ranks(), me = rank();
        const std::size_t d = x.cols(), n = rows_.nodes();
        require(x.rows() == rows() && y.rows() == rows() && y.cols() == d, "mixture strategy ", what, " (rank ", me,
                "): blocks ", x.rows(), "x", d, " and ", y.rows(), "x", y.cols(), ", this rank owns ", rows(), " rows");
        const auto t_start = clock::now();
        // Chunks of the width (no more chunks than columns), each split over the ranks.
        const std::size_t K = std::max<std::size_t>(1, std::min<std::size_t>(std::size_t(chunks_), d));
        const auto bounds = detail::column_slices(d, int(K));
        if (chunk_.size() < K) chunk_.resize(K);
        std::vector<std::vector<column_slice>> slices(K);
        for (std::size_t k = 0; k < K; ++k)
            slices[k] = detail::column_slices(bounds[k].count, P, std::span<const double>(column_shares_));
        const detail::layout_switch<B, V, Comm> sw{comm_, &rows_};
        using exchange = decltype(sw.start_to_columns(x, 0, slices[0], chunk_[0].pack, matrix_view<V>()));
        std::vector<exchange> to_cols(K), to_rows(K);
        auto col_block = [&](detail::flat_buffer<B, V>& buf, std::size_t k) {
            const std::size_t c = slices[k][std::size_t(me)].count;
            return matrix_view<V>(detail::grown(buf, n * c).data(), n, c);
        };
        auto poll_all = [&] {
            for (auto& e : to_cols) e.poll();
            for (auto& e : to_rows) e.poll();
        };
        to_cols[0] = sw.start_to_columns(x, bounds[0].begin, slices[0], chunk_[0].pack, col_block(chunk_[0].in, 0));
        for (std::size_t k = 0; k < K; ++k) {
            to_cols[k].wait();
            if (k + 1 < K)
                to_cols[k + 1] = sw.start_to_columns(x, bounds[k + 1].begin, slices[k + 1], chunk_[k + 1].pack,
                                                     col_block(chunk_[k + 1].in, k + 1));
            const auto in = col_block(chunk_[k].in, k);
            const auto out = col_block(chunk_[k].out, k);
            aggregate_polling(a, const_matrix_view<V>(in), out, poll_all);
            to_rows[k] = sw.start_to_rows(const_matrix_view<V>(out), slices[k], chunk_[k].recv);
        }
        for (std::size_t k = 0; k < K; ++k) {
            to_rows[k].wait();
            sw.unpack_into_rows(chunk_[k].recv, slices[k], bounds[k].begin, y);
        }
        exchange_figures f;
        for (std::size_t k = 0; k < K; ++k) {
            to_cols[k].add_to(f);
            to_rows[k].add_to(f);
        }
        this->add_exchange(f);
        // One compute span around the overlapped switch; its exchanges' start and wait
        // spans nest inside and are not compute time.
        compute_seconds_ += trace::interval("switched product", trace::category::compute, t_start, clock::now()) -
                            f.blocked_seconds;
    }

    // Â·x over every position, in row blocks with the exchanges polled in between.
    template <class Op, class Poll>
    static void aggregate_polling(const Op& a, const_matrix_view<V> x, matrix_view<V> y, Poll&& poll) {
        if (x.cols() == 0) return;
        const index_t n = a.rows;
        const index_t step = std::max<index_t>(1024, n / 8);
        for (index_t first = 0; first < n; first += step) {
            B::aggregate_rows(a, x, y, first, std::min<index_t>(n, first + step));
            poll();
        }
    }

    int chunks_ = 1;
    std::vector<double> column_shares_;  // empty: equal slices
    std::vector<chunk_buffers> chunk_;
};

}  // namespace mixgcn::parallel
