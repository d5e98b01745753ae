#pragma once
// What the feature and mixture strategies share: the row layout (each rank's row block,
// from any owner vector), the column layout (every row, a slice of the columns), the
// whole operator renumbered so that each rank's row block is a contiguous range of
// positions, and the all-to-all that switches a block of columns between the layouts.
//
// Positions: the nodes of rank 0 in ascending global id, then those of rank 1, ... With
// the block partitioner a position is the global id. Because a rank's rows are one
// range of positions, the rows received from rank q land contiguously in a
// column-layout matrix, and the rows sent to q are one contiguous block of it: each
// switch packs (or unpacks) only on the row-layout side.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/row_moves.hpp"
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/dense.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/strategy.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/parallel/detail/data_engine.hpp"
#include "mixgcn/parallel/detail/flat_buffer.hpp"
#include "mixgcn/parallel/report.hpp"
#include "mixgcn/partition/feature_columns.hpp"
#include "mixgcn/storage/convert.hpp"

namespace mixgcn::parallel::detail {

// The slices of a width-w matrix, one per rank, sizes differing by at most one (larger
// first), empty ones allowed when w < P.
inline std::vector<column_slice> column_slices(std::size_t width, int parts) {
    const auto r = partition::feature_columns(static_cast<std::int64_t>(width), parts, partition::empty_slices::allowed);
    std::vector<column_slice> out;
    out.reserve(r.size());
    for (const auto& c : r) out.push_back({std::size_t(c.begin), std::size_t(c.size())});
    return out;
}

// The slices of a width-w matrix in proportion to `shares` (one per rank, any positive
// scale; empty: equal slices as above): the largest-remainder rounding of w·share, so the
// sizes add up to w; a rank whose share rounds to nothing gets an empty slice.
inline std::vector<column_slice> column_slices(std::size_t width, int parts, std::span<const double> shares) {
    if (shares.empty()) return column_slices(width, parts);
    require(shares.size() == static_cast<std::size_t>(parts), "column slices: ", shares.size(), " shares for ", parts,
            " ranks");
    double total = 0;
    for (const double s : shares) {
        require(s >= 0 && std::isfinite(s), "column slices: share ", s, " is not a non-negative number");
        total += s;
    }
    require(total > 0, "column slices: the shares add up to 0");
    std::vector<std::size_t> size(shares.size());
    std::vector<std::pair<double, std::size_t>> rest;
    std::size_t given = 0;
    for (std::size_t q = 0; q < shares.size(); ++q) {
        const double exact = double(width) * shares[q] / total;
        size[q] = static_cast<std::size_t>(exact);
        given += size[q];
        rest.emplace_back(exact - double(size[q]), q);
    }
    std::stable_sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::size_t k = 0; given < width; ++k, ++given) ++size[rest[k % rest.size()].second];
    std::vector<column_slice> out;
    std::size_t at = 0;
    for (const auto n : size) {
        out.push_back({at, n});
        at += n;
    }
    return out;
}

// Each rank's rows as a range of positions.
struct row_blocks {
    std::vector<index_t> order;        // position -> global id
    std::vector<std::size_t> offset;   // rank q holds positions [offset[q], offset[q + 1])

    row_blocks() = default;
    row_blocks(std::span<const int> owner, int P, int me) {
        std::vector<std::size_t> count(static_cast<std::size_t>(P), 0);
        for (std::size_t v = 0; v < owner.size(); ++v) {
            require(owner[v] >= 0 && owner[v] < P, "row layout (rank ", me, "): node ", v, " has owner ", owner[v],
                    " outside [0, ", P, ")");
            ++count[static_cast<std::size_t>(owner[v])];
        }
        offset.assign(static_cast<std::size_t>(P) + 1, 0);
        for (int q = 0; q < P; ++q) offset[std::size_t(q) + 1] = offset[std::size_t(q)] + count[std::size_t(q)];
        order.resize(owner.size());
        auto at = offset;
        for (std::size_t v = 0; v < owner.size(); ++v) order[at[static_cast<std::size_t>(owner[v])]++] = index_t(v);
    }
    std::size_t nodes() const noexcept { return order.size(); }
    std::size_t rows_of(int q) const noexcept { return offset[std::size_t(q) + 1] - offset[std::size_t(q)]; }
    std::size_t first_of(int q) const noexcept { return offset[std::size_t(q)]; }
    const index_t* ids_of(int q) const noexcept { return order.data() + offset[std::size_t(q)]; }
    std::size_t bytes() const noexcept { return order.size() * sizeof(index_t) + offset.size() * sizeof(std::size_t); }
};

// Â renumbered to positions. Each row keeps its entries in the order of the global row
// (ascending global id), so a row sums its terms in the same order as `single`.
template <class V>
::mixgcn::graph::gcn_operator<index_t, V> permute_operator(const ::mixgcn::graph::gcn_operator<index_t, V>& op,
                                                          const row_blocks& rows) {
    const std::size_t n = rows.nodes();
    require(static_cast<std::size_t>(op.a.rows) == n && static_cast<std::size_t>(op.a.cols) == n,
            "row layout: operator is ", op.a.rows, "x", op.a.cols, " for ", n, " nodes");
    std::vector<index_t> position(n);
    for (std::size_t i = 0; i < n; ++i) position[static_cast<std::size_t>(rows.order[i])] = index_t(i);
    ::mixgcn::graph::gcn_operator<index_t, V> out;
    auto& a = out.a;
    a.rows = a.cols = op.a.rows;
    a.row_ptr.assign(n + 1, 0);
    a.col_idx.reserve(op.a.nnz());
    if (op.a.has_values()) a.val.reserve(op.a.nnz());
    for (std::size_t i = 0; i < n; ++i) {
        const index_t v = rows.order[i];
        for (offset_t k = op.a.row_begin(v); k < op.a.row_end(v); ++k) {
            a.col_idx.push_back(position[static_cast<std::size_t>(op.a.col_idx[static_cast<std::size_t>(k)])]);
            if (op.a.has_values()) a.val.push_back(op.a.val[static_cast<std::size_t>(k)]);
        }
        a.row_ptr[i + 1] = static_cast<offset_t>(a.col_idx.size());
    }
    auto permute = [&](const std::vector<V>& s) {
        std::vector<V> p(s.empty() ? 0 : n);
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = s[static_cast<std::size_t>(rows.order[i])];
        return p;
    };
    out.row_scale = permute(op.row_scale);
    out.col_scale = permute(op.col_scale);
    out.symmetric = op.symmetric;
    if (!op.symmetric) out.at = storage::transpose(a);
    return out;
}

// Times one exchange in flight: blocked time (inside start and wait) and the time from
// start until it was seen complete. `progress()` is the transport's non-blocking poll.
template <class Pending>
class tracked_exchange {
public:
    using clock = std::chrono::steady_clock;
    tracked_exchange() = default;
    template <class Start>
        requires(!std::is_same_v<std::remove_cvref_t<Start>, tracked_exchange>)
    explicit tracked_exchange(Start&& start) {
        start_ = clock::now();
        p_ = start();
        blocked_ += trace::interval("exchange start", trace::category::comm, start_, clock::now());
        active_ = true;
    }
    // Lets the transport advance; never blocks.
    void poll() {
        if (!active_ || done_) return;
        if constexpr (requires(Pending& p) { { p.progress() } -> std::convertible_to<bool>; }) {
            if (p_.progress()) {
                done_ = true;
                in_flight_ = seconds(start_, clock::now());
            }
        }
    }
    void wait() {
        if (!active_) return;
        const auto t0 = clock::now();
        p_.wait();
        const auto t1 = clock::now();
        blocked_ += trace::interval("exchange wait", trace::category::comm, t0, t1);
        if (!done_) in_flight_ = seconds(start_, t1);
        done_ = true;
    }
    void add_to(exchange_figures& f) const {
        if (!active_) return;
        ++f.exchanges;
        f.in_flight_seconds += in_flight_;
        f.blocked_seconds += blocked_;
    }

private:
    static double seconds(clock::time_point a, clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    }
    Pending p_{};
    clock::time_point start_{};
    double blocked_ = 0, in_flight_ = 0;
    bool active_ = false, done_ = false;
};

// The switch of columns [first, first + width) of a row-layout matrix to and from the
// column layout, for one rank. `slices` split those `width` columns over the ranks. The
// blocks move through the backend (row_moves.hpp) and the communicator's engine for the
// backend's memory (data_engine.hpp), so the switch runs on device buffers as well.
template <class B, class V, comm::communicator Comm>
struct layout_switch {
    Comm* comm;
    const row_blocks* rows;
    using buffer = flat_buffer<B, V>;

    // Row layout (this rank's rows, columns [first, first + Σ slices)) -> column layout
    // `cols` (every position, this rank's slice), as a started exchange. `pack` must live
    // until the exchange completes.
    auto start_to_columns(const_matrix_view<V> x, std::size_t first, const std::vector<column_slice>& slices,
                          buffer& pack, matrix_view<V> cols) const {
        const int P = comm->size(), me = comm->rank();
        const std::size_t mine = rows->rows_of(me);
        require(x.rows() == mine, "layout switch (rank ", me, "): row block has ", x.rows(), " rows, this rank owns ",
                mine);
        require(cols.rows() == rows->nodes() && cols.cols() == slices[std::size_t(me)].count && cols.contiguous(),
                "layout switch (rank ", me, "): column block is ", cols.rows(), "x", cols.cols(), ", expected ",
                rows->nodes(), "x", slices[std::size_t(me)].count);
        std::size_t total = 0;
        for (const auto& s : slices) total += s.count;
        const auto packed = grown(pack, mine * total);
        std::vector<std::size_t> send(static_cast<std::size_t>(P)), recv(static_cast<std::size_t>(P));
        V* out = packed.data();
        for (int q = 0; q < P; ++q) {
            const auto& s = slices[std::size_t(q)];
            if (s.count > 0)
                backend::copy_rows<B>(x.col_block(first + s.begin, s.count), matrix_view<V>(out, mine, s.count));
            out += mine * s.count;
            send[std::size_t(q)] = mine * s.count;
            recv[std::size_t(q)] = rows->rows_of(q) * slices[std::size_t(me)].count;
        }
        auto& engine = data_engine<B>(*comm);
        using P_t = decltype(engine.start_all_to_all_v(std::span<const V>(), std::span<const std::size_t>(),
                                                       std::span<V>(), std::span<const std::size_t>()));
        return tracked_exchange<P_t>([&, send, recv] {
            return engine.start_all_to_all_v(std::span<const V>(packed), std::span<const std::size_t>(send),
                                             std::span<V>(cols.data(), cols.size()), std::span<const std::size_t>(recv));
        });
    }

    // Column layout -> row layout, as a started exchange; `unpack_into_rows` places the
    // received blocks once it has completed.
    auto start_to_rows(const_matrix_view<V> cols, const std::vector<column_slice>& slices, buffer& recv_buf) const {
        const int P = comm->size(), me = comm->rank();
        require(cols.rows() == rows->nodes() && cols.contiguous(), "layout switch (rank ", me, "): column block has ",
                cols.rows(), " rows, expected ", rows->nodes());
        const std::size_t mine = rows->rows_of(me);
        std::size_t total = 0;
        for (const auto& s : slices) total += s.count;
        const auto received = grown(recv_buf, mine * total);
        std::vector<std::size_t> send(static_cast<std::size_t>(P)), recv(static_cast<std::size_t>(P));
        for (int q = 0; q < P; ++q) {
            send[std::size_t(q)] = rows->rows_of(q) * cols.cols();
            recv[std::size_t(q)] = mine * slices[std::size_t(q)].count;
        }
        auto& engine = data_engine<B>(*comm);
        using P_t = decltype(engine.start_all_to_all_v(std::span<const V>(), std::span<const std::size_t>(),
                                                       std::span<V>(), std::span<const std::size_t>()));
        return tracked_exchange<P_t>([&, send, recv] {
            return engine.start_all_to_all_v(std::span<const V>(cols.data(), cols.size()),
                                             std::span<const std::size_t>(send), received,
                                             std::span<const std::size_t>(recv));
        });
    }
    // Received blocks (rank-major, each this rank's rows x slice q) into columns
    // [first + slice.begin, ...) of the row-layout matrix y.
    void unpack_into_rows(const buffer& recv_buf, const std::vector<column_slice>& slices, std::size_t first,
                          matrix_view<V> y) const {
        const std::size_t mine = rows->rows_of(comm->rank());
        const V* in = recv_buf.data();
        for (const auto& s : slices) {
            if (s.count > 0)
                backend::copy_rows<B>(const_matrix_view<V>(in, mine, s.count), y.col_block(first + s.begin, s.count));
            in += mine * s.count;
        }
    }
};

// This rank's rows of a dataset in the row layout (ascending global id): labels and
// train/val/test rows. Features are the caller's: they depend on the layout.
template <class V>
void row_layout_labels(const dataset<V>& ds, const row_blocks& rows, int me, strategy_inputs<V>& in) {
    const std::size_t mine = rows.rows_of(me);
    const index_t* ids = rows.ids_of(me);
    in.labels.resize(mine);
    for (std::size_t i = 0; i < mine; ++i) {
        const auto v = static_cast<std::size_t>(ids[i]);
        in.labels[i] = ds.labels[v];
        if (ds.split[v] == split_role::train) in.train.push_back(index_t(i));
        if (ds.split[v] == split_role::val) in.val.push_back(index_t(i));
        if (ds.split[v] == split_role::test) in.test.push_back(index_t(i));
    }
}

}  // namespace mixgcn::parallel::detail
