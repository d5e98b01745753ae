#pragma once
// The communication cost model of the full-graph strategies: bytes every rank sends and
// receives in a training run, by collective, predicted from the model's widths and the
// layout alone (rows per rank, the graph strategy's halo rows). The strategies implement
// exactly these exchanges, so a measured run must equal the prediction byte for byte
// (tests/distributed/test_strategies.cpp holds them to it); the planner (mixgcn-plan)
// uses the same functions at sizes no test machine holds.
//
// Per epoch the trainer runs one training step (forward, backward, gradient reduction)
// and one evaluation forward, and all-reduces 4 metric doubles; once at the start it
// all-reduces 3 counts. Sparse products of layer l (width s_l = out_l when the layer
// transforms first, else in_l):
//   training forward: every layer;  backward: every transform-first layer, and every
//   aggregate-first layer but the first (its input gradient is not needed);
//   evaluation forward: every layer, except layer 0 aggregating first from epoch 2 on
//   (its Â·X is cached, nn::layer_options::cache_eval_aggregation).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "mixgcn/comm/traffic.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/parallel/detail/layouts.hpp"
#include "mixgcn/parallel/full_graph.hpp"

namespace mixgcn::parallel::cost {

// The model as the cost model sees it.
struct model_shape {
    std::vector<std::size_t> widths;   // in, hidden..., classes (layers + 1 entries)
    std::vector<bool> transform_first;  // per layer
    bool eval_cache = true;             // first layer caches Â·X across evaluations

    std::size_t layers() const noexcept { return transform_first.size(); }
    std::size_t in(std::size_t l) const { return widths[l]; }
    std::size_t out(std::size_t l) const { return widths[l + 1]; }
    std::size_t sparse_width(std::size_t l) const { return transform_first[l] ? out(l) : in(l); }
    std::size_t parameters() const {
        std::size_t n = 0;
        for (std::size_t l = 0; l < layers(); ++l) n += in(l) * out(l) + out(l);
        return n;
    }
    // The shape a gcn_model with these options builds (nn::gcn_layer's order rule).
    static model_shape of(const nn::model_options& mo) {
        model_shape m;
        for (int l = 0; l <= mo.layers; ++l)
            m.widths.push_back(l == 0 ? mo.in : l == mo.layers ? mo.classes : mo.hidden);
        for (int l = 0; l < mo.layers; ++l) {
            const std::size_t in = m.widths[std::size_t(l)], out = m.widths[std::size_t(l) + 1];
            m.transform_first.push_back(mo.order == nn::product_order::transform_first ||
                                        (mo.order == nn::product_order::automatic && out < in));
        }
        m.eval_cache = mo.cache_input_aggregation;
        return m;
    }
};

// Rows per rank and, for `graph`, the halo rows each rank receives and sends per
// sparse product.
struct layout {
    int ranks = 1;
    std::vector<std::size_t> rows;                  // per rank
    std::vector<std::size_t> halo_recv, halo_send;  // per rank (graph)
    std::size_t nodes() const {
        std::size_t n = 0;
        for (auto r : rows) n += r;
        return n;
    }
};

// Rows per rank and the graph strategy's halo from an owner vector over a symmetric
// adjacency pattern: rank p receives each distinct non-owned column of its rows once,
// and sends each of its rows once to every other rank that has it as a ghost.
template <class Index, class Value, class Offset>
layout layout_of(const storage::csr<Index, Value, Offset>& adjacency, std::span<const int> owner, int P) {
    layout L;
    L.ranks = P;
    L.rows.assign(std::size_t(P), 0);
    L.halo_recv.assign(std::size_t(P), 0);
    L.halo_send.assign(std::size_t(P), 0);
    std::vector<std::vector<Index>> rows_of(static_cast<std::size_t>(P));
    for (Index v = 0; v < adjacency.rows; ++v) {
        const int o = owner[std::size_t(v)];
        require(o >= 0 && o < P, "cost::layout_of: node ", v, " has owner ", o, " outside [0, ", P, ")");
        rows_of[std::size_t(o)].push_back(v);
        ++L.rows[std::size_t(o)];
    }
    std::vector<int> seen(std::size_t(adjacency.rows), -1);
    for (int p = 0; p < P; ++p)
        for (Index r : rows_of[std::size_t(p)])
            for (Index c : adjacency.row_cols(r)) {
                const int o = owner[std::size_t(c)];
                if (o == p || seen[std::size_t(c)] == p) continue;
                seen[std::size_t(c)] = p;
                ++L.halo_recv[std::size_t(p)];
                ++L.halo_send[std::size_t(o)];
            }
    return L;
}

// Bytes one rank sends and receives, by collective (the names comm::traffic uses).
struct prediction {
    std::map<std::string, comm::volume::bytes, std::less<>> ops;
    void add(const std::string& op, std::uint64_t sent, std::uint64_t received) {
        auto& b = ops[op];
        b.sent += sent;
        b.received += received;
    }
    comm::volume::bytes total() const {
        comm::volume::bytes t;
        for (const auto& [name, b] : ops) {
            t.sent += b.sent;
            t.received += b.received;
        }
        return t;
    }
};

namespace detail {
inline std::size_t slice(std::size_t width, int P, int p) {
    return parallel::detail::column_slices(width, P)[std::size_t(p)].count;
}
}  // namespace detail

// Sparse products of layer l in one epoch (1-based), training and evaluation together.
inline int sparse_products(const model_shape& m, std::size_t l, int epoch) {
    int k = 1;  // training forward
    if (m.transform_first[l] || l > 0) ++k;  // backward
    const bool cached = l == 0 && !m.transform_first[0] && m.eval_cache && epoch > 1;
    if (!cached) ++k;  // evaluation forward
    return k;
}

// What `rank` sends and receives in `epochs` epochs of strategy `o.kind`, with values of
// `value_bytes` bytes (4 or 8), counted under the rule of comm/traffic.hpp.
inline prediction predict(const strategy_options& o, const model_shape& m, const layout& L, int rank, int epochs,
                          std::size_t value_bytes) {
    prediction pr;
    const int P = L.ranks;
    const std::size_t N = L.nodes(), np = L.rows[std::size_t(rank)], V = value_bytes;
    // The trainer's counts (3 doubles) and metrics (4 doubles per epoch); gradients.
    const auto counts = comm::volume::all_reduce(rank, P, 3, sizeof(double));
    const auto metrics = comm::volume::all_reduce(rank, P, 4, sizeof(double));
    pr.add("all_reduce", counts.sent + std::uint64_t(epochs) * metrics.sent,
           counts.received + std::uint64_t(epochs) * metrics.received);
    if (o.kind == strategy_kind::single || P == 1) {
        if (P == 1) pr.ops.clear();
        return pr;
    }
    if (o.kind != strategy_kind::feature) {
        const auto g = comm::volume::all_reduce(rank, P, m.parameters(), V);
        pr.add("all_reduce", std::uint64_t(epochs) * g.sent, std::uint64_t(epochs) * g.received);
    }
    for (int e = 1; e <= epochs; ++e) {
        for (std::size_t l = 0; l < m.layers(); ++l) {
            const std::size_t s = m.sparse_width(l);
            const int passes = sparse_products(m, l, e);
            if (o.kind == strategy_kind::graph) {
                // forward: receive the halo, send own boundary rows; backward the reverse.
                const std::uint64_t fwd_passes = std::uint64_t(passes - ((m.transform_first[l] || l > 0) ? 1 : 0));
                const std::uint64_t bwd_passes = std::uint64_t(passes) - fwd_passes;
                const std::uint64_t in = L.halo_recv[std::size_t(rank)] * s * V,
                                    out = L.halo_send[std::size_t(rank)] * s * V;
                pr.add("all_to_all_v", fwd_passes * out + bwd_passes * in, fwd_passes * in + bwd_passes * out);
            } else if (o.kind == strategy_kind::mixture) {
                const std::size_t K = std::max<std::size_t>(1, std::min<std::size_t>(std::size_t(o.chunks), s));
                std::uint64_t per = 0;
                for (const auto& c : parallel::detail::column_slices(s, int(K))) {
                    const std::size_t cp = detail::slice(c.count, P, rank);
                    per += (np * (c.count - cp) + (N - np) * cp) * V;
                }
                pr.add("all_to_all_v", std::uint64_t(passes) * per, std::uint64_t(passes) * per);
            } else {  // feature: the dense update, twice forward (train, eval), once backward
                const std::size_t out = m.out(l), cp = detail::slice(out, P, rank);
                const std::uint64_t rs_sent = N * (out - cp) * V, rs_recv = std::uint64_t(P - 1) * N * cp * V;
                pr.add("all_to_all_v", 2 * rs_sent, 2 * rs_recv);  // the reduce-scatter
                pr.add("all_gather_v", rs_recv, rs_sent);
            }
        }
        if (o.kind == strategy_kind::feature) {
            // Logits to rows (train, eval), the loss gradient back (train).
            const std::size_t C = m.widths.back(), cp = detail::slice(C, P, rank);
            const std::uint64_t to_sent = (N - np) * cp * V, to_recv = np * (C - cp) * V;
            pr.add("all_to_all_v", 2 * to_sent + to_recv, 2 * to_recv + to_sent);
        }
    }
    if (o.kind == strategy_kind::feature) {
        // One all-gather of the gradient shards per step.
        std::vector<std::size_t> shard(std::size_t(P), 0);
        for (int q = 0; q < P; ++q)
            for (std::size_t l = 0; l < m.layers(); ++l)
                shard[std::size_t(q)] += detail::slice(m.in(l), P, q) * m.out(l) + detail::slice(m.out(l), P, q);
        const auto b = comm::volume::all_gather_v(rank, P, shard, V);
        pr.add("all_gather_v", std::uint64_t(epochs) * b.sent, std::uint64_t(epochs) * b.received);
    }
    return pr;
}

}  // namespace mixgcn::parallel::cost
