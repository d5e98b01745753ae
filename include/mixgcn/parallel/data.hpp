#pragma once
// The `data` strategy: independent mini-batches on every rank, gradients all-reduced after
// each step so the parameters stay replicated. Two sources of batches:
//
//  * Cluster-GCN (Chiang et al., 2019): the graph is cut into `clusters` clusters by a
//    partitioner (METIS keeps communities together). Each epoch the cluster ids are shuffled
//    with a generator seeded by (seed, epoch) only, so every rank computes the same order
//    without talking; consecutive groups of `clusters_per_batch` clusters are the batches and
//    step s of rank r takes group s·P + r (cluster_schedule). An epoch visits every cluster
//    once: in its last step a rank with no group left trains on an empty batch. A batch is the
//    subgraph induced by its clusters' nodes (edges between the chosen clusters kept),
//    normalised on its own: D_b^-1/2 (A_b + I) D_b^-1/2. With accumulate = K a rank trains
//    K batches per step (the schedule of K·P ranks) and all-reduces their summed gradients once.
//  * Independent graphs: a list of disjoint node-classification graphs; graph g belongs to
//    rank g mod P, which visits its graphs in an order shuffled per epoch.
//
// The loop itself (loss scaling, all-reduce, model selection) is train::cluster_trainer.
// Evaluation runs on whole graphs, exactly as `single` does. See docs/data-parallel.md.
//
// Over a device backend (Cluster-GCN batches; train_clusters): the whole features, the
// labels and the whole graph's Â for evaluation move to the device once; each batch is
// built on the host as its index lists and operator (data_batch.hpp, no feature rows),
// moved over, and its feature rows gathered there (resident_batch.hpp). Gradients are
// accumulated and all-reduced on the device engine (comm::hybrid); nothing comes back
// inside an epoch but the loss and the accuracy counts.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <string_view>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/graph/builder.hpp"
#include "mixgcn/graph/dataset.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/detail/data_batch.hpp"
#include "mixgcn/parallel/detail/data_strategy.hpp"
#include "mixgcn/parallel/detail/resident_batch.hpp"
#include "mixgcn/parallel/single.hpp"
#include "mixgcn/partition/block.hpp"
#include "mixgcn/partition/metis.hpp"
#include "mixgcn/partition/random.hpp"
#include "mixgcn/train/cluster_trainer.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::parallel {

enum class cluster_method { block, metis, random };

inline cluster_method parse_cluster_method(std::string_view s) {
    if (s == "block") return cluster_method::block;
    if (s == "metis") return cluster_method::metis;
    if (s == "random") return cluster_method::random;
    throw invalid_argument(::mixgcn::detail::concat("data strategy: unknown cluster method '", s, "' (block, metis or random)"));
}

struct data_options {
    int clusters = 40;               // clusters the graph is cut into
    int clusters_per_batch = 10;     // q: clusters joined into one batch
    cluster_method method = cluster_method::metis;
    std::uint64_t seed = 1;          // cluster shuffle (and the random partitioner)
    int steps_per_epoch = 0;         // 0: ceil(batches / (ranks x accumulate)), every cluster
                                     // once per epoch; more: the groups are visited cyclically
    int accumulate = 1;              // K: batches per rank per step, gradients summed locally
                                     // and all-reduced once (one step of their union)
};

// Which clusters rank r trains on in step s of epoch e (1-based): group s·P + r of the
// epoch's shuffled cluster order, a group being q consecutive entries of the order. With
// the default number of steps, ceil(groups / P), groups past the last are empty, so an
// epoch visits every cluster exactly once over all ranks and steps; when more steps are
// asked for, the groups repeat cyclically.
class cluster_schedule {
public:
    cluster_schedule(int clusters, int per_batch, int ranks, std::uint64_t seed, int steps_per_epoch = 0)
        : clusters_(clusters), q_(per_batch), ranks_(ranks), seed_(seed), groups_((clusters + per_batch - 1) / per_batch),
          cyclic_(steps_per_epoch > 0), steps_(steps_per_epoch > 0 ? steps_per_epoch : (groups_ + ranks - 1) / ranks),
          order_(static_cast<std::size_t>(clusters)) {
        require(clusters >= 1, "data strategy: clusters is ", clusters);
        require(per_batch >= 1 && per_batch <= clusters, "data strategy: clusters_per_batch is ", per_batch,
                ", expected 1..", clusters);
        require(ranks >= 1, "data strategy: ", ranks, " ranks");
        require(steps_per_epoch >= 0, "data strategy: steps_per_epoch is ", steps_per_epoch);
    }
    int steps() const noexcept { return steps_; }
    int groups() const noexcept { return groups_; }

    // The clusters of (epoch, step, rank), in the epoch's order; empty past the last group.
    std::span<const int> clusters(int epoch, int step, int rank) {
        if (epoch_ != epoch) {  // the same permutation on every rank, from (seed, epoch) only
            std::iota(order_.begin(), order_.end(), 0);
            rng g = rng::derive(seed_, 0xC105u + std::uint64_t(epoch));
            for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[g.below(i)]);
            epoch_ = epoch;
        }
        int group = step * ranks_ + rank;
        if (group >= groups_) {
            if (!cyclic_) return {};
            group %= groups_;
        }
        const int first = group * q_, last = std::min(clusters_, first + q_);
        return std::span<const int>(order_).subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(last - first));
    }

private:
    int clusters_, q_, ranks_;
    std::uint64_t seed_;
    int groups_;
    bool cyclic_;
    int steps_;
    std::vector<int> order_;
    int epoch_ = 0;
};

// One rank's figures for a run.
struct data_report {
    int rank = 0, ranks = 1;
    int clusters = 0;                   // clusters (or graphs) the batches were drawn from
    std::size_t steps = 0;              // synchronous steps
    std::size_t batch_nodes = 0;        // rows over all of this rank's batches
    std::size_t max_batch_nodes = 0;
    std::size_t batch_nonzeros = 0;     // non-zeros of the batch operators, summed
    std::size_t max_batch_graph_bytes = 0, max_batch_row_bytes = 0;  // the largest batch's
    std::size_t eval_operator_bytes = 0;  // the whole graph's Â, for evaluation (host memory)
    std::size_t resident_bytes = 0;       // device backends: Â, features, labels, rows moved there once
    std::size_t index_bytes = 0;          // cluster member lists and the batch builder's scratch
    std::uint64_t bytes_sent = 0, bytes_received = 0;  // communicator payload during the run
    double comm_seconds = 0, compute_seconds = 0, eval_seconds = 0;

    double mean_batch_nodes() const noexcept { return steps ? double(batch_nodes) / double(steps) : 0.0; }
};

// The cluster of every node: computed on rank 0 (a partitioner need not be deterministic
// across processes) and broadcast, so every rank holds the same vector.
template <class V, comm::communicator Comm>
std::vector<int> cluster_assignment(Comm& comm, const storage::csr<index_t, V>& adjacency, const data_options& o) {
    require(o.clusters >= 1 && o.clusters <= adjacency.rows, "data strategy: ", o.clusters, " clusters for ",
            adjacency.rows, " nodes");
    std::vector<std::int32_t> c(static_cast<std::size_t>(adjacency.rows), 0);
    if (comm.rank() == 0) {
        std::vector<int> owner;
        switch (o.method) {
            case cluster_method::block: owner = partition::block{}.partition(adjacency, o.clusters); break;
            case cluster_method::metis: owner = partition::metis{}.partition(adjacency, o.clusters); break;
            case cluster_method::random: owner = partition::random{o.seed}.partition(adjacency, o.clusters); break;
        }
        std::copy(owner.begin(), owner.end(), c.begin());
    }
    comm.broadcast(std::span<std::int32_t>(c), 0);
    return {c.begin(), c.end()};
}

namespace detail {

// Accuracy of the current weights on a whole graph: {correct, total} for train/val/test.
template <class B, class V>
void count_whole_graph(nn::gcn_model<B, V>& model, const ::mixgcn::graph::gcn_operator<index_t, V>& op,
                       const dataset<V>& ds, std::span<double, 6> counts) {
    single<B, V> s(op);
    const auto logits = model.forward(s, ds.features.cview(), false, 0);
    const split_role roles[3] = {split_role::train, split_role::val, split_role::test};
    for (int k = 0; k < 3; ++k) {
        const auto rows = ds.nodes_with(roles[k]);
        counts[std::size_t(2 * k)] += double(B::count_correct(logits, ds.labels.data(), rows.data(), rows.size()));
        counts[std::size_t(2 * k + 1)] += double(rows.size());
    }
}

// The whole graph's evaluation inputs in a device backend's memory, moved once: Â, the
// features, the labels and the train/val/test rows.
template <class B, class V>
struct resident_graph {
    backend::resident_operator<B, index_t, V> op;
    typename B::template matrix<V> features;
    backend::array<B, std::int32_t> labels;
    backend::array<B, index_t> rows[3];
    std::size_t counts[3] = {0, 0, 0};

    resident_graph(const ::mixgcn::graph::gcn_operator<index_t, V>& a, const dataset<V>& ds)
        : op(a), features(backend::matrix_from_host<B>(ds.features.cview())), labels(backend::make_array<B>(ds.labels)) {
        const split_role roles[3] = {split_role::train, split_role::val, split_role::test};
        for (int k = 0; k < 3; ++k) {
            const auto ids = ds.nodes_with(roles[k]);
            counts[k] = ids.size();
            rows[k] = backend::make_array<B>(ids);
        }
    }
    std::size_t bytes() const noexcept {
        std::size_t b = op.bytes() + features.rows() * features.cols() * sizeof(V) + labels.size() * sizeof(std::int32_t);
        for (const auto& r : rows) b += r.size() * sizeof(index_t);
        return b;
    }
};

template <class B, class V>
void count_whole_graph(nn::gcn_model<B, V>& model, const resident_graph<B, V>& g, std::span<double, 6> counts) {
    single<B, V> s(g.op);
    const auto logits = model.forward(s, g.features.cview(), false, 0);
    for (int k = 0; k < 3; ++k) {
        counts[std::size_t(2 * k)] += double(B::count_correct(logits, g.labels.data(), g.rows[k].data(), g.counts[k]));
        counts[std::size_t(2 * k + 1)] += double(g.counts[k]);
    }
}

inline train::accuracies to_accuracies(std::span<const double, 6> c) {
    auto r = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    return {r(c[0], c[1]), r(c[2], c[3]), r(c[4], c[5])};
}

template <class B, class V, class Comm>
void fill_report(data_report* out, const Comm& comm, const train::cluster_trainer_stats& st, int clusters,
                 const comm::op_counters& before) {
    if (!out) return;
    const auto after = comm.stats().total();
    data_report r;
    r.rank = comm.rank();
    r.ranks = comm.size();
    r.clusters = clusters;
    r.steps = st.steps;
    r.batch_nodes = st.batch_nodes;
    r.max_batch_nodes = st.max_batch_nodes;
    r.batch_nonzeros = st.batch_nonzeros;
    r.max_batch_graph_bytes = st.max_batch_graph_bytes;
    r.max_batch_row_bytes = st.max_batch_row_bytes;
    r.bytes_sent = after.bytes_sent - before.bytes_sent;
    r.bytes_received = after.bytes_received - before.bytes_received;
    r.comm_seconds = st.comm_seconds;
    r.compute_seconds = st.compute_seconds;
    r.eval_seconds = st.eval_seconds;
    *out = r;
}

}  // namespace detail

// Cluster-GCN training of `model` on every rank of `comm`. `cluster_of[v]` in [0, clusters)
// must be the same vector on every rank (cluster_assignment gives one).
template <class B, class V, comm::communicator Comm>
train::train_result train_clusters(Comm& comm, const dataset<V>& ds, const storage::csr<index_t, V>& adjacency,
                                   const std::vector<int>& cluster_of, const data_options& o,
                                   nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt,
                                   const train::trainer_options& to, data_report* report = nullptr) {
    const auto before = comm.stats().total();
    const int P = comm.size();
    require(cluster_of.size() == static_cast<std::size_t>(adjacency.rows), "data strategy: ", cluster_of.size(),
            " cluster ids for ", adjacency.rows, " nodes");
    require(o.accumulate >= 1, "data strategy: accumulate is ", o.accumulate, ", expected >= 1");
    // K micro-batches per rank: the schedule of K·P ranks, rank r taking the groups of
    // "ranks" r·K .. r·K + K-1, so a step trains the same union as K·P ranks would.
    const int K = o.accumulate;
    cluster_schedule schedule(o.clusters, o.clusters_per_batch, P * K, o.seed, o.steps_per_epoch);
    std::vector<std::vector<index_t>> members(static_cast<std::size_t>(o.clusters));
    std::vector<std::size_t> train_in(static_cast<std::size_t>(o.clusters), 0);
    for (std::size_t v = 0; v < cluster_of.size(); ++v) {
        require(cluster_of[v] >= 0 && cluster_of[v] < o.clusters, "data strategy: node ", v, " has cluster ",
                cluster_of[v], " outside [0, ", o.clusters, ")");
        members[static_cast<std::size_t>(cluster_of[v])].push_back(index_t(v));
        if (ds.split[v] == split_role::train) ++train_in[static_cast<std::size_t>(cluster_of[v])];
    }
    std::vector<index_t> scratch;
    auto host_batch = [&](int epoch, int step, int k, bool with_features) {
        std::vector<index_t> nodes;
        for (const int c : schedule.clusters(epoch, step, comm.rank() * K + k)) {
            const auto& m = members[static_cast<std::size_t>(c)];
            nodes.insert(nodes.end(), m.begin(), m.end());
        }
        return detail::induced_batch(ds, adjacency, std::move(nodes), scratch, with_features);
    };
    auto train_nodes = [&](int epoch, int step, int k) {
        std::size_t n = 0;
        for (const int c : schedule.clusters(epoch, step, comm.rank() * K + k)) n += train_in[static_cast<std::size_t>(c)];
        return n;
    };
    // The optimizer's moments exist before the first step (a device run then uploads
    // nothing for them inside an epoch); a resumed run replaces them from the checkpoint.
    if (!opt.has_state()) opt.reset(model.parameters());
    train::cluster_trainer<B, V, Comm> t(comm, model, opt, to);
    train::train_result res;
    std::size_t eval_bytes = 0, resident_bytes = 0;
    if constexpr (backend::host_accessible<B>()) {
        const auto full = ::mixgcn::graph::gcn_normalize<V>(adjacency);
        eval_bytes = full.bytes();
        auto evaluate = [&] {
            double c[6] = {0, 0, 0, 0, 0, 0};
            detail::count_whole_graph(model, full, ds, std::span<double, 6>(c));
            return detail::to_accuracies(std::span<const double, 6>(c));
        };
        res = t.run(schedule.steps(), K, [&](int e, int s, int k) { return host_batch(e, s, k, true); }, train_nodes,
                    evaluate);
    } else {
        const detail::resident_graph<B, V> whole(::mixgcn::graph::gcn_normalize<V>(adjacency), ds);
        resident_bytes = whole.bytes();
        auto evaluate = [&] {
            double c[6] = {0, 0, 0, 0, 0, 0};
            detail::count_whole_graph(model, whole, std::span<double, 6>(c));
            return detail::to_accuracies(std::span<const double, 6>(c));
        };
        auto batch_for = [&](int e, int s, int k) {
            return detail::make_resident<B>(host_batch(e, s, k, false), whole.features.cview());
        };
        res = t.run(schedule.steps(), K, batch_for, train_nodes, evaluate);
    }
    detail::fill_report<B, V>(report, comm, t.stats(), o.clusters, before);
    if (report) {
        report->eval_operator_bytes = eval_bytes;
        report->resident_bytes = resident_bytes;
        std::size_t ids = scratch.capacity() + members.capacity() * sizeof(members[0]) / sizeof(index_t);
        for (const auto& m : members) ids += m.capacity();
        report->index_bytes = ids * sizeof(index_t) + train_in.capacity() * sizeof(std::size_t);
    }
    return res;
}

// Node classification on several disjoint graphs: graph g is trained and evaluated by rank
// g mod P; every rank must pass the same list (it only touches its share). Accuracies are
// over the nodes of all graphs.
template <class B, class V, comm::communicator Comm>
train::train_result train_independent_graphs(Comm& comm, const std::vector<dataset<V>>& graphs,
                                             nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt,
                                             const train::trainer_options& to, std::uint64_t shuffle_seed = 1,
                                             data_report* report = nullptr) {
    static_assert(backend::host_accessible<B>(),
                  "parallel::train_independent_graphs trains in host memory; on a device backend, "
                  "parallel::train_clusters trains Cluster-GCN batches");
    const auto before = comm.stats().total();
    const int P = comm.size(), r = comm.rank();
    require(!graphs.empty(), "data strategy: no graphs");
    std::vector<std::size_t> mine;
    for (std::size_t g = 0; g < graphs.size(); ++g)
        if (int(g % std::size_t(P)) == r) mine.push_back(g);
    // Whole-graph batches, built once.
    std::vector<detail::data_batch<V>> batches;
    std::vector<index_t> scratch;
    for (auto g : mine) {
        const auto& ds = graphs[g];
        ds.validate();
        require(ds.features.cols() == model.options().in, "data strategy: graph ", g, " (", ds.name, ") has ",
                ds.features.cols(), " features, the model takes ", model.options().in);
        const auto adjacency = ::mixgcn::graph::build_adjacency<index_t, V>(ds.edges);
        std::vector<index_t> all(static_cast<std::size_t>(adjacency.rows));
        std::iota(all.begin(), all.end(), index_t(0));
        batches.push_back(detail::induced_batch(ds, adjacency, std::move(all), scratch));
    }
    const int steps = int((graphs.size() + std::size_t(P) - 1) / std::size_t(P));
    std::vector<std::size_t> order(mine.size());
    int order_epoch = 0;
    const detail::data_batch<V> none;
    auto batch_for = [&](int epoch, int step) -> const detail::data_batch<V>& {
        if (mine.empty()) return none;
        if (order_epoch != epoch) {
            std::iota(order.begin(), order.end(), std::size_t(0));
            rng g = rng::derive(shuffle_seed, (std::uint64_t(epoch) << 20) + std::uint64_t(r));
            for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[g.below(i)]);
            order_epoch = epoch;
        }
        return batches[order[std::size_t(step) % order.size()]];
    };
    auto evaluate = [&] {
        double c[6] = {0, 0, 0, 0, 0, 0};
        for (std::size_t i = 0; i < mine.size(); ++i)
            detail::count_whole_graph(model, batches[i].op, graphs[mine[i]], std::span<double, 6>(c));
        comm.all_reduce(std::span<double>(c, 6), comm::reduce_op::sum);
        return detail::to_accuracies(std::span<const double, 6>(c));
    };
    train::cluster_trainer<B, V, Comm> t(comm, model, opt, to);
    auto res = t.run(steps, batch_for, evaluate);
    detail::fill_report<B, V>(report, comm, t.stats(), int(graphs.size()), before);
    return res;
}

// The CLI's entry point: builds the adjacency, the clusters, a model initialised from
// `to.seed` and the optimizer, then trains. Every rank passes the same arguments.
template <class B, class V, comm::communicator Comm>
train::train_result train_data_parallel(Comm& comm, const dataset<V>& ds, const data_options& o,
                                        nn::model_options mo, nn::optimizer_options oo,
                                        const train::trainer_options& to, data_report* report = nullptr) {
    ds.validate();
    if (mo.in == 0) mo.in = ds.features.cols();
    if (mo.classes == 0) mo.classes = static_cast<std::size_t>(ds.num_classes);
    require(mo.in == ds.features.cols(), "data strategy: model input width ", mo.in, " but ", ds.name, " has ",
            ds.features.cols(), " features");
    const auto adjacency = ::mixgcn::graph::build_adjacency<index_t, V>(ds.edges);
    const auto clusters = cluster_assignment<V>(comm, adjacency, o);
    nn::gcn_model<B, V> model(mo);
    model.initialize(to.seed);
    nn::optimizer<B, V> opt(oo);
    return train_clusters<B, V>(comm, ds, adjacency, clusters, o, model, opt, to, report);
}

}  // namespace mixgcn::parallel
