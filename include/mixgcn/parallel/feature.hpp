#pragma once
// The `feature` strategy: every rank holds the whole Â and a contiguous slice of every
// activation's columns (partition::feature_columns), all rows. The sparse product then
// needs no communication at all. The dense update is where the ranks meet:
//   forward   Z = H·W = Σ_q H[:, slice_q] · W[slice_q, :]: each rank multiplies its
//             columns by its rows of W (an N x out partial product) and a reduce-scatter
//             over the output columns sums the partials and leaves each rank its slice
//             (an all-to-all of the column blocks and a local sum in rank order).
//   backward  dZ's slices are all-gathered (N x out on every rank); a rank computes its
//             rows of dW = Hᵀ·dZ and its columns of dH = dZ·W[slice, :]ᵀ alone.
// Parameters stay replicated: the gradient reduction is one all-gather of the shards
// (each rank computed the rows of every dW and the columns of every db that belong to
// its slices), not an all-reduce. The loss sees row layout: the last layer's logits are
// switched to rows by one all-to-all, and the loss gradient back.
//
// Volume per layer and pass (rank p, c_p = its slice of the output width `out`):
//   reduce-scatter  sent N·(out - c_p), received (P-1)·N·c_p (counted as all_to_all_v)
//   all-gather      sent (P-1)·N·c_p, received N·(out - c_p)
// Memory: the replicated Â, activations N x d/P, and one N x out partial product.
#include <algorithm>
#include <chrono>
#include <numeric>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/row_moves.hpp"
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/strategy.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/parameter.hpp"
#include "mixgcn/parallel/detail/data_engine.hpp"
#include "mixgcn/parallel/detail/layouts.hpp"
#include "mixgcn/parallel/detail/replicated_operator.hpp"
#include "mixgcn/parallel/report.hpp"

namespace mixgcn::parallel {

template <class B, class V, comm::communicator Comm>
class feature : public detail::replicated_operator<B, V, Comm> {
    using base = detail::replicated_operator<B, V, Comm>;
    using typename base::clock;
    using base::comm_, base::rows_, base::op_, base::comm_seconds_, base::compute_seconds_, base::seconds;

public:
    using base::rank, base::ranks, base::sum, base::begin_layer, base::row_layout;
    using backend_type = B;
    using value_type = V;
    static_assert(detail::data_engine_for<B, Comm>());

    // Collective: every rank passes the same operator and owner vector. The owners say
    // which rows each rank's loss sees (the row layout); the columns come from
    // partition::feature_columns.
    feature(Comm& comm, const ::mixgcn::graph::gcn_operator<index_t, V>& op, std::span<const int> owner)
        : base(comm, op, owner, "feature") {}

    static constexpr const char* name() { return "feature"; }
    std::size_t rows() const noexcept { return rows_.nodes(); }
    column_slice columns(std::size_t width) const { return detail::column_slices(width, ranks())[std::size_t(rank())]; }
    dropout_index row_ids() const noexcept { return this->positions_from(0); }
    // The same ids in host memory (row_ids() points into B's).
    std::span<const index_t> host_row_ids() const noexcept { return {rows_.order.data(), rows()}; }
    std::size_t loss_rows() const noexcept { return rows_.rows_of(rank()); }

    void forward(const_matrix_view<V> x, matrix_view<V> y) { aggregate(this->forward_operator(), x, y); }
    void backward(const_matrix_view<V> dy, matrix_view<V> dx) { aggregate(this->backward_operator(), dy, dx); }

    // z (N x c_p(out)) = Σ_q h_q · W[slice_q(in), :], column slice p of the sum.
    void dense_forward(const_matrix_view<V> h, const_matrix_view<V> w, matrix_view<V> z) {
        const column_slice in = columns(w.rows());
        const auto out_slices = detail::column_slices(w.cols(), ranks());
        check_block(h, in, "dense_forward input");
        const std::size_t n = rows();
        last_out_ = w.cols();
        const auto t0 = clock::now();
        const std::size_t mine = out_slices[std::size_t(rank())].count;
        reserve_partial(std::max(n * w.cols(), n * mine * std::size_t(ranks())));  // it receives the blocks too
        const auto partial = partial_block(n, w.cols());
        if (in.count == 0) backend::fill_zero<B>(partial);
        else B::gemm(transpose::no, transpose::no, V(1), h, w.row_block(in.begin, in.count), V(0), partial);
        // Column blocks, one per destination rank, each contiguous N x c_q.
        const auto packed = detail::grown(pack_, n * w.cols());
        std::vector<std::size_t> counts(static_cast<std::size_t>(ranks()));
        V* o = packed.data();
        for (int q = 0; q < ranks(); ++q) {
            const auto& s = out_slices[std::size_t(q)];
            if (s.count > 0)
                backend::copy_rows<B>(const_matrix_view<V>(partial).col_block(s.begin, s.count),
                                      matrix_view<V>(o, n, s.count));
            o += n * s.count;
            counts[std::size_t(q)] = n * s.count;
        }
        compute_seconds_ += trace::interval("partial dense update", trace::category::compute, t0, clock::now());
        require(z.contiguous() && z.rows() == n && z.cols() == mine,
                "feature strategy (rank ", rank(), "): output block is ", z.rows(), "x", z.cols());
        // A reduce-scatter done as an all-to-all into the partial product's storage (free
        // once packed) and a local sum: the same bytes on the wire as MPI_Reduce_scatter,
        // without the N x out temporary an MPI library allocates out of sight of the
        // memory report, and summed in rank order on every engine.
        const std::vector<std::size_t> recv_counts(static_cast<std::size_t>(ranks()), n * mine);
        const auto gathered = partial_block(n * std::size_t(ranks()), mine);
        exchange("reduce-scatter", [&] {
            engine().all_to_all_v(std::span<const V>(packed), std::span<const std::size_t>(counts),
                                  std::span<V>(gathered.data(), n * mine * std::size_t(ranks())),
                                  std::span<const std::size_t>(recv_counts));
        });
        const auto t1 = clock::now();
        const std::size_t block = n * mine;
        backend::copy_rows<B>(const_matrix_view<V>(gathered.data(), n, mine), z);
        for (int q = 1; q < ranks(); ++q) B::scale_add(block, V(1), gathered.data() + std::size_t(q) * block, z.data());
        compute_seconds_ += trace::interval("partial sum", trace::category::compute, t1, clock::now());
    }

    // dW[slice(in), :] = hᵀ·dZ and dh = dZ·W[slice(in), :]ᵀ, with dZ all-gathered.
    void dense_backward(const_matrix_view<V> h, const_matrix_view<V> dz, const_matrix_view<V> w, matrix_view<V> dw,
                        std::optional<matrix_view<V>> dh) {
        const column_slice in = columns(w.rows());
        const auto out_slices = detail::column_slices(w.cols(), ranks());
        check_block(h, in, "dense_backward input");
        const std::size_t n = rows();
        std::vector<std::size_t> counts(static_cast<std::size_t>(ranks()));
        for (int q = 0; q < ranks(); ++q) counts[std::size_t(q)] = n * out_slices[std::size_t(q)].count;
        require(dz.contiguous() && dz.rows() == n && dz.cols() == out_slices[std::size_t(rank())].count,
                "feature strategy (rank ", rank(), "): gradient block is ", dz.rows(), "x", dz.cols());
        const auto packed = detail::grown(pack_, n * w.cols());
        exchange("all-gather", [&] {
            engine().all_gather_v(std::span<const V>(dz.data(), dz.size()), packed, std::span<const std::size_t>(counts));
        });
        const auto t0 = clock::now();
        const auto full = partial_block(n, w.cols());  // dZ, every column
        const V* g = packed.data();
        for (int q = 0; q < ranks(); ++q) {
            const auto& s = out_slices[std::size_t(q)];
            if (s.count > 0) backend::copy_rows<B>(const_matrix_view<V>(g, n, s.count), full.col_block(s.begin, s.count));
            g += n * s.count;
        }
        if (in.count > 0) {
            B::gemm(transpose::yes, transpose::no, V(1), h, const_matrix_view<V>(full), V(0),
                    dw.row_block(in.begin, in.count));
            if (dh)
                B::gemm(transpose::no, transpose::yes, V(1), const_matrix_view<V>(full), w.row_block(in.begin, in.count),
                        V(0), *dh);
        }
        compute_seconds_ += trace::interval("sliced dense backward", trace::category::compute, t0, clock::now());
    }

    // Each rank computed the rows of every weight gradient and the columns of every bias
    // gradient in its slices: one all-gather of those shards completes every gradient.
    template <class Param>
    void reduce_gradients(std::span<Param* const> params) {
        const int P = ranks();
        if (P <= 1) return;
        // Elements [begin, end) of parameter i that rank q computed.
        auto shard = [&](const Param& p, int q) {
            if (p.role == nn::parameter_role::bias) {
                const auto s = detail::column_slices(p.value.cols(), P)[std::size_t(q)];
                return std::pair{s.begin, s.begin + s.count};
            }
            const auto s = detail::column_slices(p.value.rows(), P)[std::size_t(q)];
            return std::pair{s.begin * p.value.cols(), (s.begin + s.count) * p.value.cols()};
        };
        std::vector<std::size_t> counts(std::size_t(P), 0);
        for (int q = 0; q < P; ++q)
            for (const auto* p : params) {
                const auto [b, e] = shard(*p, q);
                counts[std::size_t(q)] += e - b;
            }
        // Copies of parameter ranges in the backend's memory, as one-row blocks.
        const auto span_of = [](const V* p, std::size_t n) { return const_matrix_view<V>(p, 1, n); };
        detail::flat_buffer<B, V> mine, all;
        const auto my_shards = detail::grown(mine, counts[std::size_t(rank())]);
        V* put = my_shards.data();
        for (const auto* p : params) {
            const auto [b, e] = shard(*p, rank());
            if (e > b) backend::copy_rows<B>(span_of(p->grad.data() + b, e - b), matrix_view<V>(put, 1, e - b));
            put += e - b;
        }
        const auto every = detail::grown(all, std::accumulate(counts.begin(), counts.end(), std::size_t{0}));
        timed("gradient all-gather", [&] {
            engine().all_gather_v(std::span<const V>(my_shards), every, std::span<const std::size_t>(counts));
        });
        const V* at = every.data();
        for (int q = 0; q < P; ++q)
            for (auto* p : params) {
                const auto [b, e] = shard(*p, q);
                if (e > b) backend::copy_rows<B>(span_of(at, e - b), matrix_view<V>(p->grad.data() + b, 1, e - b));
                at += e - b;
            }
    }

    // Logits N x c_p(C) in the column layout -> this rank's rows x C.
    const_matrix_view<V> to_rows(const_matrix_view<V> logits) {
        const std::size_t C = logits_width(logits.cols());
        const auto slices = detail::column_slices(C, ranks());
        const detail::layout_switch<B, V, Comm> sw{comm_, &rows_};
        rows_logits_.resize(loss_rows(), C);
        auto e = sw.start_to_rows(logits, slices, recv_);
        e.wait();
        sw.unpack_into_rows(recv_, slices, 0, rows_logits_.view());
        record(e);
        return rows_logits_.cview();
    }
    // The loss gradient (this rank's rows x C) -> the column layout.
    matrix_view<V> from_rows(matrix_view<V> dlogits) {
        const std::size_t C = dlogits.cols();
        const auto slices = detail::column_slices(C, ranks());
        const detail::layout_switch<B, V, Comm> sw{comm_, &rows_};
        cols_grad_.resize(rows(), slices[std::size_t(rank())].count);
        auto e = sw.start_to_columns(const_matrix_view<V>(dlogits), 0, slices, send_, cols_grad_.view());
        e.wait();
        record(e);
        return cols_grad_.view();
    }

    // This rank's inputs: every row of its feature columns (in positions), and the
    // labels and split of its row block.
    strategy_inputs<V> local_inputs(const dataset<V>& ds) const {
        require(ds.features.rows() == rows_.nodes(), "feature strategy (rank ", rank(), "): dataset has ",
                ds.features.rows(), " feature rows for ", rows_.nodes(), " nodes");
        strategy_inputs<V> in;
        const auto s = columns(ds.features.cols());
        in.features = dense_matrix<V>(rows(), s.count);
        for (std::size_t i = 0; i < rows(); ++i)
            std::copy_n(ds.features.row(static_cast<std::size_t>(rows_.order[i])) + s.begin, s.count,
                        in.features.row(i));
        detail::row_layout_labels(ds, rows_, rank(), in);
        return in;
    }

    strategy_report report() const {
        auto r = this->base_report(name(), loss_rows());
        r.buffer_bytes = rows_logits_.bytes() + cols_grad_.bytes() +
                         (detail::allocated(partial_) + detail::allocated(pack_) + detail::allocated(recv_) +
                          detail::allocated(send_)) *
                             sizeof(V);
        return r;
    }

private:
    // The logits' full width: a slice alone does not tell it, so the strategy keeps the
    // output width of the last dense update it ran (the last layer's).
    std::size_t logits_width(std::size_t slice) const {
        require(last_out_ > 0 && columns(last_out_).count == slice, "feature strategy (rank ", rank(),
                "): logits block of width ", slice, " does not follow a dense update of this strategy");
        return last_out_;
    }

    template <class Op>
    void aggregate(const Op& a, const_matrix_view<V> x, matrix_view<V> y) {
        require(x.rows() == rows() && y.rows() == rows() && x.cols() == y.cols(), "feature strategy (rank ", rank(),
                "): blocks ", x.rows(), "x", x.cols(), " and ", y.rows(), "x", y.cols(), " for ", rows(), " rows");
        const auto t0 = clock::now();
        if (x.cols() > 0) B::aggregate(a, x, y);
        compute_seconds_ += trace::interval("column slice product", trace::category::compute, t0, clock::now());
    }
    // The N x width partial product (or gathered dZ), kept at its widest size. Its
    // contents never outlive a call, so growing drops them first (no copy, no second
    // buffer at the peak) and allocates exactly what is asked.
    matrix_view<V> partial_block(std::size_t n, std::size_t width) {
        reserve_partial(n * width);
        return {partial_.data(), n, width};
    }
    void reserve_partial(std::size_t elements) {
        if (partial_.size() >= elements) return;
        if constexpr (backend::host_accessible<B>()) {
            partial_.clear();
            partial_.shrink_to_fit();
        }
        partial_.resize(elements);  // a device array reallocates without a copy
    }
    auto& engine() { return detail::data_engine<B>(*comm_); }
    void check_block(const_matrix_view<V> h, column_slice in, const char* what) const {
        require(h.rows() == rows() && h.cols() == in.count, "feature strategy ", what, " (rank ", rank(), "): block is ",
                h.rows(), "x", h.cols(), ", expected ", rows(), "x", in.count);
    }
    template <class F>
    void timed(const char* what, F&& f) {
        const auto t0 = clock::now();
        f();
        comm_seconds_ += trace::interval(what, trace::category::comm, t0, clock::now());
    }
    // A blocking exchange of the dense update, counted in this layer's figures.
    template <class F>
    void exchange(const char* what, F&& f) {
        const auto t0 = clock::now();
        f();
        const double s = trace::interval(what, trace::category::comm, t0, clock::now());
        this->add_exchange({1, s, s});
    }
    template <class E>
    void record(const E& e) {
        exchange_figures f;
        e.add_to(f);
        this->add_exchange(f);
    }

    typename B::template matrix<V> rows_logits_, cols_grad_;
    detail::flat_buffer<B, V> partial_, pack_, recv_, send_;
    std::size_t last_out_ = 0;
};

}  // namespace mixgcn::parallel
