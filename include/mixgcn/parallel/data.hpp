#pragma once
// The `data` strategy: Cluster-GCN style mini-batches (Chiang et al., 2019) trained on
// every rank, gradients all-reduced after each step so the parameters stay replicated.
//
// The graph is cut into many clusters (an owner vector from any partitioner: METIS
// keeps communities together). Each epoch the cluster ids are shuffled with a seed that
// depends only on (seed, epoch), so every rank draws the same order without talking;
// consecutive groups of `clusters_per_batch` clusters form the batches, dealt round
// robin to the ranks. A batch is the subgraph induced by its clusters' nodes, edges
// between the chosen clusters kept, normalised on its own (D_b^-1/2 (A_b + I) D_b^-1/2,
// as Cluster-GCN does). The loss of one step is the mean cross-entropy over the
// training nodes of ALL ranks' batches in that step; each rank's gradient is its sum
// divided by that global count, and the all-reduce adds them: one synchronous step of
// a larger batch.
//
// Evaluation uses the full graph (exact, like `single`) on every rank, and model
// selection keeps the weights of the best validation epoch, as the full-batch trainer.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::parallel {

struct data_options {
    int clusters_per_batch = 4;
    int steps_per_epoch = 0;  // 0: every cluster visited about once per epoch
};

struct data_report {
    int rank = 0;
    std::size_t steps = 0, batch_nodes = 0, batch_nonzeros = 0;  // totals over the run
    std::uint64_t bytes_sent = 0, bytes_received = 0;
    double comm_seconds = 0, compute_seconds = 0;
};

// A batch's operator with the communicator's all-reduce for gradients and counts.
template <class B, class V, comm::communicator Comm>
class batch_strategy {
public:
    using backend_type = B;
    using value_type = V;
    batch_strategy(Comm& comm, const ::mixgcn::graph::gcn_operator<index_t, V>& op, double& comm_seconds)
        : comm_(&comm), inner_(op), comm_seconds_(&comm_seconds) {}
    static constexpr const char* name() { return "data"; }
    index_t rows() const noexcept { return inner_.rows(); }
    void forward(const_matrix_view<V> x, matrix_view<V> y) { inner_.forward(x, y); }
    void backward(const_matrix_view<V> dy, matrix_view<V> dx) { inner_.backward(dy, dx); }
    template <class T>
    void sum(std::span<T> values) {
        const auto t0 = std::chrono::steady_clock::now();
        comm_->all_reduce(values, comm::reduce_op::sum);
        *comm_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    int rank() const noexcept { return comm_->rank(); }
    int ranks() const noexcept { return comm_->size(); }

private:
    Comm* comm_;
    single<B, V> inner_;
    double* comm_seconds_;
};

// The subgraph induced by `nodes` (sorted global ids) with its features, labels and the
// local rows of its training nodes.
template <class V>
struct batch {
    std::vector<index_t> nodes;
    ::mixgcn::graph::gcn_operator<index_t, V> op;
    dense_matrix<V> features;
    std::vector<std::int32_t> labels;
    std::vector<index_t> train;
};

template <class V>
batch<V> make_batch(const dataset<V>& ds, const storage::csr<index_t, V>& adjacency, std::vector<index_t> nodes) {
    batch<V> b;
    std::sort(nodes.begin(), nodes.end());
    b.nodes = std::move(nodes);
    std::vector<index_t> local(static_cast<std::size_t>(adjacency.rows), -1);
    for (std::size_t i = 0; i < b.nodes.size(); ++i) local[static_cast<std::size_t>(b.nodes[i])] = index_t(i);
    storage::csr<index_t, V> sub;
    sub.rows = sub.cols = static_cast<index_t>(b.nodes.size());
    sub.row_ptr.assign(b.nodes.size() + 1, 0);
    for (std::size_t i = 0; i < b.nodes.size(); ++i) {
        for (index_t c : adjacency.row_cols(b.nodes[i]))
            if (local[static_cast<std::size_t>(c)] >= 0) sub.col_idx.push_back(local[static_cast<std::size_t>(c)]);
        sub.row_ptr[i + 1] = static_cast<offset_t>(sub.col_idx.size());
    }
    b.op = ::mixgcn::graph::gcn_normalize<V>(sub);
    b.features.resize(b.nodes.size(), ds.features.cols());
    b.labels.resize(b.nodes.size());
    for (std::size_t i = 0; i < b.nodes.size(); ++i) {
        const auto v = static_cast<std::size_t>(b.nodes[i]);
        std::copy_n(ds.features.row(v), ds.features.cols(), b.features.row(i));
        b.labels[i] = ds.labels[v];
        if (ds.split[v] == split_role::train) b.train.push_back(index_t(i));
    }
    return b;
}

// Trains `model` with Cluster-GCN batches on every rank of `comm`. `cluster_of` assigns
// every node to one of `clusters` clusters (the same vector on every rank).
template <class B, class V, comm::communicator Comm>
train::train_result train_data_parallel(Comm& comm, const dataset<V>& ds, const storage::csr<index_t, V>& adjacency,
                                        const std::vector<int>& cluster_of, int clusters, const data_options& opt,
                                        nn::gcn_model<B, V>& model, nn::optimizer<B, V>& optimizer,
                                        const train::trainer_options& to, data_report* report = nullptr) {
    using clock = std::chrono::steady_clock;
    const int P = comm.size();
    require(cluster_of.size() == static_cast<std::size_t>(adjacency.rows), "data strategy: ", cluster_of.size(),
            " cluster ids for ", adjacency.rows, " nodes");
    require(opt.clusters_per_batch >= 1, "data strategy: clusters_per_batch is ", opt.clusters_per_batch);
    const int groups = clusters / opt.clusters_per_batch;
    require(groups >= P, "data strategy: ", clusters, " clusters in batches of ", opt.clusters_per_batch, " make ",
            groups, " batches, fewer than the ", P, " ranks");
    const int steps = opt.steps_per_epoch > 0 ? opt.steps_per_epoch : groups / P;
    std::vector<std::vector<index_t>> members(static_cast<std::size_t>(clusters));
    for (std::size_t v = 0; v < cluster_of.size(); ++v) {
        require(cluster_of[v] >= 0 && cluster_of[v] < clusters, "data strategy: node ", v, " has cluster ",
                cluster_of[v], " outside [0, ", clusters, ")");
        members[static_cast<std::size_t>(cluster_of[v])].push_back(index_t(v));
    }
    // Full-graph evaluation, identical on every rank.
    const auto full_op = ::mixgcn::graph::gcn_normalize<V>(adjacency);
    single<B, V> full(full_op);
    const auto train_rows = ds.nodes_with(split_role::train), val_rows = ds.nodes_with(split_role::val),
               test_rows = ds.nodes_with(split_role::test);

    data_report rep;
    rep.rank = comm.rank();
    train::train_result res;
    std::vector<std::vector<V>> best;
    auto snapshot = [&] {
        best.clear();
        for (auto* p : model.parameters()) best.emplace_back(p->value.data(), p->value.data() + p->size());
    };
    snapshot();
    for (int epoch = 1; epoch <= to.epochs; ++epoch) {
        const auto t0 = clock::now();
        std::vector<int> order(static_cast<std::size_t>(clusters));
        std::iota(order.begin(), order.end(), 0);
        rng g = rng::derive(to.seed, 0xC1u + std::uint64_t(epoch));
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[g.below(i)]);
        double loss_sum = 0, train_count = 0;
        for (int s = 0; s < steps; ++s) {
            const auto tc = clock::now();
            const int group = (s * P + comm.rank()) % groups;
            std::vector<index_t> nodes;
            for (int k = 0; k < opt.clusters_per_batch; ++k) {
                const auto& m = members[static_cast<std::size_t>(order[std::size_t(group * opt.clusters_per_batch + k)])];
                nodes.insert(nodes.end(), m.begin(), m.end());
            }
            auto b = make_batch(ds, adjacency, std::move(nodes));
            rep.batch_nodes += b.nodes.size();
            rep.batch_nonzeros += b.op.a.nnz();
            batch_strategy<B, V, Comm> strategy(comm, b.op, rep.comm_seconds);
            std::vector<double> count{double(b.train.size())};
            strategy.sum(std::span<double>(count));
            rep.compute_seconds += std::chrono::duration<double>(clock::now() - tc).count();
            if (count[0] == 0) continue;  // no labelled node in any rank's batch
            model.forward(strategy, b.features.cview(), true,
                          splitmix64(to.seed ^ splitmix64((std::uint64_t(epoch) * 1000003u + std::uint64_t(s)) * 64u +
                                                          std::uint64_t(comm.rank()))));
            const double l2 = model.l2_penalty();
            std::vector<double> loss{model.backward(strategy, b.labels.data(), b.train, std::size_t(count[0]))};
            strategy.sum(std::span<double>(loss));
            optimizer.step(model.parameters());
            loss_sum += loss[0] / count[0] + l2;
            train_count += 1;
            ++rep.steps;
        }
        // Evaluation on the full graph.
        train::epoch_metrics m;
        m.epoch = epoch;
        const auto logits = model.forward(full, ds.features.cview(), false, 0);
        auto acc = [&](const std::vector<index_t>& rows) {
            return rows.empty() ? 0.0
                                : double(B::count_correct(logits, ds.labels.data(), rows.data(), rows.size())) /
                                      double(rows.size());
        };
        m.loss = train_count > 0 ? loss_sum / train_count : 0.0;
        m.train_acc = acc(train_rows);
        m.val_acc = acc(val_rows);
        m.test_acc = acc(test_rows);
        m.seconds = std::chrono::duration<double>(clock::now() - t0).count();
        res.history.push_back(m);
        if (res.best_val_epoch == 0 || m.val_acc > res.best_val_acc) {
            res.best_val_epoch = epoch;
            res.best_val_acc = m.val_acc;
            res.test_acc = m.test_acc;
            snapshot();
        }
        if (to.on_epoch) to.on_epoch(m);
        if (to.patience > 0 && epoch - res.best_val_epoch >= to.patience) {
            res.stopped_early = true;
            break;
        }
    }
    const auto params = model.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) std::copy(best[i].begin(), best[i].end(), params[i]->value.data());
    const auto t = comm.stats().total();
    rep.bytes_sent = t.bytes_sent;
    rep.bytes_received = t.bytes_received;
    if (report) *report = rep;
    return res;
}

// Independent graphs (node classification on several disjoint graphs): each step, rank r
// trains on graph (step * P + r) of the list — a rank without one that step contributes
// zero gradient — and the all-reduce makes it one synchronous step over P graphs.
// Evaluation: each rank scores its share of the graphs; counts are summed.
template <class B, class V, comm::communicator Comm>
train::train_result train_independent_graphs(Comm& comm, const std::vector<dataset<V>>& graphs,
                                             nn::gcn_model<B, V>& model, nn::optimizer<B, V>& optimizer,
                                             const train::trainer_options& to) {
    using clock = std::chrono::steady_clock;
    const int P = comm.size(), me = comm.rank();
    require(!graphs.empty(), "data strategy: no graphs");
    std::vector<::mixgcn::graph::gcn_operator<index_t, V>> ops;
    for (const auto& g : graphs) ops.push_back(::mixgcn::graph::gcn_normalize<V>(::mixgcn::graph::build_adjacency<index_t, V>(g.edges)));
    const int G = static_cast<int>(graphs.size());
    const int steps = (G + P - 1) / P;
    double comm_seconds = 0;
    train::train_result res;
    std::vector<std::vector<V>> best;
    auto snapshot = [&] {
        best.clear();
        for (auto* p : model.parameters()) best.emplace_back(p->value.data(), p->value.data() + p->size());
    };
    snapshot();
    for (int epoch = 1; epoch <= to.epochs; ++epoch) {
        const auto t0 = clock::now();
        double loss_sum = 0;
        for (int s = 0; s < steps; ++s) {
            const int gi = s * P + me;
            const bool have = gi < G;
            const auto& op = ops[static_cast<std::size_t>(have ? gi : 0)];
            const auto& ds = graphs[static_cast<std::size_t>(have ? gi : 0)];
            batch_strategy<B, V, Comm> strategy(comm, op, comm_seconds);
            const auto train_rows = have ? ds.nodes_with(split_role::train) : std::vector<index_t>{};
            std::vector<double> count{double(train_rows.size())};
            strategy.sum(std::span<double>(count));
            if (count[0] == 0) continue;
            model.forward(strategy, ds.features.cview(), true,
                          splitmix64(to.seed ^ splitmix64((std::uint64_t(epoch) * 1000003u + std::uint64_t(s)) * 64u +
                                                          std::uint64_t(me))));
            const double l2 = model.l2_penalty();
            // A rank without a graph this step still joins the gradient all-reduce, with
            // zero gradient (no listed rows).
            std::vector<double> loss{model.backward(strategy, ds.labels.data(), train_rows, std::size_t(count[0]))};
            strategy.sum(std::span<double>(loss));
            optimizer.step(model.parameters());
            loss_sum += loss[0] / count[0] + l2;
        }
        std::vector<double> counts(6, 0.0);  // correct and total for train, val, test
        for (int gi = me; gi < G; gi += P) {
            const auto& ds = graphs[static_cast<std::size_t>(gi)];
            single<B, V> full(ops[static_cast<std::size_t>(gi)]);
            const auto logits = model.forward(full, ds.features.cview(), false, 0);
            model.invalidate_cache();  // the next graph is another input
            int k = 0;
            for (auto role : {split_role::train, split_role::val, split_role::test}) {
                const auto rows = ds.nodes_with(role);
                counts[std::size_t(k++)] += double(B::count_correct(logits, ds.labels.data(), rows.data(), rows.size()));
                counts[std::size_t(k++)] += double(rows.size());
            }
        }
        comm.all_reduce(std::span<double>(counts), comm::reduce_op::sum);
        train::epoch_metrics m;
        m.epoch = epoch;
        m.loss = loss_sum / double(steps);
        m.train_acc = counts[1] > 0 ? counts[0] / counts[1] : 0;
        m.val_acc = counts[3] > 0 ? counts[2] / counts[3] : 0;
        m.test_acc = counts[5] > 0 ? counts[4] / counts[5] : 0;
        m.seconds = std::chrono::duration<double>(clock::now() - t0).count();
        res.history.push_back(m);
        if (res.best_val_epoch == 0 || m.val_acc > res.best_val_acc) {
            res.best_val_epoch = epoch;
            res.best_val_acc = m.val_acc;
            res.test_acc = m.test_acc;
            snapshot();
        }
        if (to.on_epoch) to.on_epoch(m);
    }
    const auto params = model.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) std::copy(best[i].begin(), best[i].end(), params[i]->value.data());
    return res;
}

}  // namespace mixgcn::parallel
