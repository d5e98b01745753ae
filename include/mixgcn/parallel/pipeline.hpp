#pragma once
// The `pipeline` strategy: layer-wise model parallelism. The model's layers are cut into S
// consecutive ranges (stages) on S consecutive ranks; a step trains M micro-batches, each a
// Cluster-GCN batch of the `data` strategy's schedule, through the stages in a 1F1B order
// (PipeDream-flush): stage s runs min(S-1-s, M) forwards ahead, then alternates one
// forward with one backward, then drains. Activations go forward and their gradients back
// point to point; nothing else crosses stages inside a step.
//
// Full-graph rows are not independent micro-batches (every row's output reads its
// neighbours'), so a micro-batch is a cluster batch: its normalised operator Â_b is built
// by every stage from the deterministic schedule (no rank ships a graph), and dropout
// masks are keyed by global node ids, so a stage draws exactly the masks one process
// would. The gradients of the M micro-batches are summed before one optimizer step, the
// loss scaled by the training nodes of all of them: the step equals one step of `data`
// with --accumulate M over the same batches (tests/distributed/test_pipeline.cpp checks the
// weights to 1e-9 in float64, dropout on).
//
// Replicas: R = P/S copies of the pipeline on ranks r·S + s, replica r taking micro-batch
// k of a step from group r·M + k of the schedule (that of `data` on R ranks, accumulating
// M). Each stage's gradients are all-reduced among the R ranks holding it, over a
// sub-communicator (comm.split: MPI, Gloo, local, hybrid) where the communicator has one,
// else over the world with the other stages' entries zero.
//
// Each rank keeps the whole model's parameters (small next to activations): its stage's
// layers are trained, the rest are filled by a broadcast from their stage before each
// evaluation (evaluation and model selection run on the whole graph, as for `data`).
// A layer object holds the activations of one forward, and up to min(S-s, M) micro-batches
// are in flight on stage s, so a stage keeps that many copies of its layers ("slots"),
// their weights refreshed from the stage's master after every step. See docs/pipeline.md.
//
// Over a device backend: batches as `data` moves them (resident_batch.hpp: operator and
// index lists per batch, stage 0's feature rows gathered on the device from the features
// moved once), activations, their gradients and the weight broadcasts on the
// communicator's device engine, gradients summed and stepped where they are.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/row_moves.hpp"
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/error.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/graph/normalize.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/data.hpp"
#include "mixgcn/parallel/detail/data_batch.hpp"
#include "mixgcn/parallel/detail/data_engine.hpp"
#include "mixgcn/parallel/detail/data_strategy.hpp"
#include "mixgcn/parallel/detail/flat_buffer.hpp"
#include "mixgcn/parallel/detail/resident_batch.hpp"
#include "mixgcn/train/cluster_trainer.hpp"

namespace mixgcn::parallel {

struct pipeline_options {
    int stages = 2;          // S: consecutive layer ranges on consecutive ranks
    int micro_batches = 4;   // M: cluster batches per step and replica
    // First layer of each stage (S entries, the first 0, ascending); empty: the ranges
    // that balance the predicted stage time (pipeline_layer_split).
    std::vector<int> first_layers;
    data_options data;       // clusters, per batch, method, schedule seed, steps per epoch
};

// Per-layer cost of one micro-batch in multiply-adds per row, forward and backward: the
// sparse products over the narrower width (the layer's product order) at nnz_per_row
// non-zeros per row, a sparse multiply-add counted as `sparse_weight` dense ones (it is
// bound by memory, not arithmetic), and the three GEMMs of width in x out.
inline std::vector<double> pipeline_layer_costs(const nn::model_options& mo, double nnz_per_row, double sparse_weight = 4.0) {
    std::vector<double> c;
    for (int l = 0; l < mo.layers; ++l) {
        const double in = double(l == 0 ? mo.in : mo.hidden), out = double(l == mo.layers - 1 ? mo.classes : mo.hidden);
        const double agg = mo.order == nn::product_order::transform_first   ? out
                           : mo.order == nn::product_order::aggregate_first ? in
                                                                            : std::min(in, out);
        c.push_back(2.0 * sparse_weight * nnz_per_row * agg + 3.0 * in * out);
    }
    return c;
}

// The cut of `costs` into `stages` consecutive non-empty ranges whose largest sum is the
// smallest (dynamic programming over prefixes; ties go to the earlier cut). Returns the
// first layer of each stage.
inline std::vector<int> pipeline_layer_split(std::span<const double> costs, int stages) {
    const int L = int(costs.size());
    require(stages >= 1 && stages <= L, "pipeline: ", stages, " stages for ", L, " layers (each stage needs a layer; "
            "--layers at least --stages)");
    std::vector<double> prefix(std::size_t(L) + 1, 0.0);
    for (int l = 0; l < L; ++l) prefix[std::size_t(l) + 1] = prefix[std::size_t(l)] + costs[std::size_t(l)];
    const double inf = 1e300;
    // best[s][l]: smallest max over s stages covering layers [0, l); cut[s][l]: where the last begins.
    std::vector<std::vector<double>> best(std::size_t(stages) + 1, std::vector<double>(std::size_t(L) + 1, inf));
    std::vector<std::vector<int>> cut(std::size_t(stages) + 1, std::vector<int>(std::size_t(L) + 1, 0));
    best[0][0] = 0;
    for (int s = 1; s <= stages; ++s)
        for (int l = s; l <= L; ++l)
            for (int b = s - 1; b < l; ++b) {
                const double v = std::max(best[std::size_t(s) - 1][std::size_t(b)], prefix[std::size_t(l)] - prefix[std::size_t(b)]);
                if (v < best[std::size_t(s)][std::size_t(l)]) {
                    best[std::size_t(s)][std::size_t(l)] = v;
                    cut[std::size_t(s)][std::size_t(l)] = b;
                }
            }
    std::vector<int> first(std::size_t(stages), 0);
    for (int s = stages, l = L; s >= 1; --s) {
        first[std::size_t(s) - 1] = cut[std::size_t(s)][std::size_t(l)];
        l = first[std::size_t(s) - 1];
    }
    return first;
}

// One rank's figures for a run.
struct pipeline_report {
    int rank = 0, ranks = 1, stage = 0, stages = 1, replica = 0, replicas = 1, micro_batches = 1;
    int first_layer = 0, last_layer = 0;  // this stage's layers [first, last)
    std::size_t steps = 0, micro_batches_run = 0, batch_nodes = 0, max_batch_nodes = 0;
    double step_seconds = 0;     // wall time of the training steps
    double p2p_seconds = 0;      // blocked in point-to-point sends and receives of the steps
    double reduce_seconds = 0;   // replica gradient all-reduce and the step's loss sum
    double compute_seconds = 0;  // the rest of the steps
    double eval_seconds = 0;     // weight broadcast and whole-graph evaluation
    std::size_t peak_activation_bytes = 0;  // the slots' activations at their joint largest (one meter)
    std::size_t slot_count = 0;
    std::uint64_t bytes_sent = 0, bytes_received = 0;

    // Share of the steps this stage spent waiting on its neighbours: the measured bubble
    // (it also holds the transfers themselves, which a formula leaves out).
    double bubble() const noexcept { return step_seconds > 0 ? p2p_seconds / step_seconds : 0.0; }
    // The 1F1B (and GPipe) bubble for equal stage times: (S-1)/(M+S-1).
    double ideal_bubble() const noexcept { return double(stages - 1) / double(micro_batches + stages - 1); }
};

namespace detail {

// Sum of `from`'s gradients over the parameters of layers [first, last) into `acc`
// (buffers in B's memory, one per parameter).
template <class B, class V, class Acc>
void add_layer_grads(nn::gcn_model<B, V>& from, int first, int last, std::vector<Acc>& acc) {
    std::size_t k = 0;
    for (int l = first; l < last; ++l)
        for (auto* p : {&from.layer(std::size_t(l)).weight(), &from.layer(std::size_t(l)).bias()})
            B::scale_add(p->size(), V(1), p->grad.data(), acc[k++].data());
}

// n values from `src` to `dst`, both in B's memory.
template <class B, class V>
void copy_values(const V* src, std::size_t n, V* dst) {
    backend::copy_rows<B>(const_matrix_view<V>(src, 1, n), matrix_view<V>(dst, 1, n));
}

template <class B, class V>
std::vector<nn::parameter<B, V>*> layer_params(nn::gcn_model<B, V>& m, int first, int last) {
    std::vector<nn::parameter<B, V>*> out;
    for (int l = first; l < last; ++l) {
        out.push_back(&m.layer(std::size_t(l)).weight());
        out.push_back(&m.layer(std::size_t(l)).bias());
    }
    return out;
}

}  // namespace detail

template <class B, class V, comm::communicator Comm>
class pipeline_trainer {
    static constexpr bool on_host = backend::host_accessible<B>();
    // One rank (comm::local) moves nothing; more need an engine for B's memory.
    static consteval bool has_engine() {
        if constexpr (std::is_same_v<Comm, comm::local>) return true;
        else return detail::data_engine_for<B, Comm>();
    }
    static_assert(has_engine());

public:
    pipeline_trainer(Comm& comm, const dataset<V>& ds, const storage::csr<index_t, V>& adjacency,
                     const std::vector<int>& cluster_of, pipeline_options o, nn::gcn_model<B, V>& model,
                     nn::optimizer<B, V>& opt)
        : comm_(comm), ds_(ds), adjacency_(adjacency), o_(std::move(o)), model_(model), opt_(opt),
          S_(o_.stages), M_(o_.micro_batches) {
        const int P = comm.size();
        require(S_ >= 1 && P % S_ == 0, "pipeline: ", S_, " stages do not divide ", P, " ranks (ranks = replicas x stages)");
        require(M_ >= 1, "pipeline: ", M_, " micro-batches per step, expected >= 1");
        const int L = int(model.num_layers());
        R_ = P / S_;
        stage_ = comm.rank() % S_;
        replica_ = comm.rank() / S_;
        if (o_.first_layers.empty()) {
            const double nnz_per_row = adjacency.rows ? double(adjacency.nnz()) / double(adjacency.rows) + 1.0 : 1.0;
            const auto costs = pipeline_layer_costs(model.options(), nnz_per_row);
            o_.first_layers = pipeline_layer_split(costs, S_);
        }
        require(int(o_.first_layers.size()) == S_ && o_.first_layers[0] == 0, "pipeline: ", o_.first_layers.size(),
                " first layers for ", S_, " stages (the first must be 0)");
        for (int s = 1; s < S_; ++s)
            require(o_.first_layers[std::size_t(s)] > o_.first_layers[std::size_t(s) - 1] &&
                        o_.first_layers[std::size_t(s)] < L,
                    "pipeline: stage ", s, " begins at layer ", o_.first_layers[std::size_t(s)], ", after stage ", s - 1,
                    "'s first layer ", o_.first_layers[std::size_t(s) - 1], " and before layer ", L);
        first_ = o_.first_layers[std::size_t(stage_)];
        last_ = stage_ + 1 < S_ ? o_.first_layers[std::size_t(stage_) + 1] : L;
        require(cluster_of.size() == std::size_t(adjacency.rows), "pipeline: ", cluster_of.size(), " cluster ids for ",
                adjacency.rows, " nodes");
        members_.resize(std::size_t(o_.data.clusters));
        train_in_cluster_.assign(std::size_t(o_.data.clusters), 0);
        for (std::size_t v = 0; v < cluster_of.size(); ++v) {
            const int c = cluster_of[v];
            require(c >= 0 && c < o_.data.clusters, "pipeline: node ", v, " has cluster ", c, " outside [0, ",
                    o_.data.clusters, ")");
            members_[std::size_t(c)].push_back(index_t(v));
            if (ds.split[v] == split_role::train) ++train_in_cluster_[std::size_t(c)];
        }
        if constexpr (requires { comm.split(0, 0); }) {
            if (R_ > 1) stage_comm_.emplace(comm.split(stage_, replica_));
        }
        const int in_flight = std::min(S_ - stage_, M_);  // warm-up forwards + the one of the 1F1B pair
        for (int k = 0; k < in_flight; ++k) slots_.emplace_back(model.options());
        for (auto& sl : slots_) {  // one meter: the slots' peak is their joint peak
            sl.model.attach(meter_);
            sl.input.attach(meter_);
            sl.grad.attach(meter_);
        }
        for (const auto* p : detail::layer_params(model_, first_, last_)) {
            acc_.emplace_back();
            acc_.back().resize(p->size());
        }
    }

    int stage() const noexcept { return stage_; }
    int replica() const noexcept { return replica_; }
    int first_layer() const noexcept { return first_; }
    int last_layer() const noexcept { return last_; }

    // The schedule the replicas draw from: that of `data` on R ranks accumulating M.
    cluster_schedule schedule() const {
        return cluster_schedule(o_.data.clusters, o_.data.clusters_per_batch, R_ * M_, o_.data.seed, o_.data.steps_per_epoch);
    }

    // Trains `to.epochs` epochs; every rank returns the same result and ends with the whole
    // model (the best validation epoch's weights).
    train::train_result run(const train::trainer_options& to) {
        require(to.checkpoint.empty() && to.resume.empty(),
                "pipeline: checkpoints are not written for the pipeline strategy (each stage's optimizer holds only its "
                "layers' moments); train without --checkpoint/--resume");
        const auto before = comm_.stats().total();
        refresh_slots();
        auto sched = schedule();
        // The whole graph for evaluation (and, on a device, the features stage 0 gathers
        // its batches' rows from), in B's memory.
        const auto full = ::mixgcn::graph::gcn_normalize<V>(adjacency_);
        std::optional<detail::resident_graph<B, V>> whole;
        if constexpr (!on_host) {
            whole.emplace(full, ds_);
            features_ = whole->features.cview();
        }
        if (!opt_.has_state()) opt_.reset(detail::layer_params(model_, first_, last_));
        train::cluster_trainer<B, V, Comm> t(comm_, model_, opt_, to);
        auto step = [&](int epoch, int s, std::uint64_t seed) { return train_step(sched, epoch, s, seed); };
        auto evaluate = [&] {
            const auto t0 = std::chrono::steady_clock::now();
            share_weights();
            double c[6] = {0, 0, 0, 0, 0, 0};
            if constexpr (on_host) detail::count_whole_graph(model_, full, ds_, std::span<double, 6>(c));
            else detail::count_whole_graph(model_, *whole, std::span<double, 6>(c));
            report_.eval_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return detail::to_accuracies(std::span<const double, 6>(c));
        };
        auto res = t.run_steps(sched.steps(), step, evaluate);
        const auto after = comm_.stats().total();
        report_.bytes_sent = after.bytes_sent - before.bytes_sent;
        report_.bytes_received = after.bytes_received - before.bytes_received;
        report_.compute_seconds = report_.step_seconds - report_.p2p_seconds - report_.reduce_seconds;
        return res;
    }

    pipeline_report report() const {
        pipeline_report r = report_;
        r.rank = comm_.rank();
        r.ranks = comm_.size();
        r.stage = stage_;
        r.stages = S_;
        r.replica = replica_;
        r.replicas = R_;
        r.micro_batches = M_;
        r.first_layer = first_;
        r.last_layer = last_;
        r.slot_count = slots_.size();
        r.peak_activation_bytes = meter_->peak();
        return r;
    }

private:
    // Training nodes of micro-batch k of replica r in step s (the loss scale needs all).
    std::size_t train_nodes(cluster_schedule& sched, int epoch, int s, int r, int k) const {
        std::size_t n = 0;
        for (const int c : sched.clusters(epoch, s, r * M_ + k)) n += train_in_cluster_[std::size_t(c)];
        return n;
    }

    using batch = std::conditional_t<on_host, detail::data_batch<V>, detail::resident_batch<B, V>>;
    using strategy = data_batch_strategy<B, V, Comm>;

    // Where B's buffers travel: the communicator, or its device engine.
    static auto& engine_of(Comm& c) {
        if constexpr (std::is_same_v<Comm, comm::local>) return c;
        else return detail::data_engine<B>(c);
    }
    auto& engine() { return engine_of(comm_); }

    // One micro-batch in flight on this stage: its batch, the layers that hold its
    // activations, and the buffers that arrived for it.
    struct slot {
        explicit slot(const nn::model_options& mo) : model(mo) {}
        nn::gcn_model<B, V> model;
        batch b;
        nn::metered_matrix<B, V> input;  // activation from the stage before (stage > 0)
        nn::metered_matrix<B, V> grad;   // gradient of this stage's output from the stage after
        const_matrix_view<V> output;
        double unused_seconds = 0;
    };

    int peer(int stage) const noexcept { return replica_ * S_ + stage; }
    std::size_t width_in(int layer) const { return model_.layer(std::size_t(layer)).options().in; }
    std::size_t width_out(int layer) const { return model_.layer(std::size_t(layer)).options().out; }

    template <class Fn>
    void timed_p2p(Fn&& fn) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        report_.p2p_seconds += trace::interval("pipeline p2p", trace::category::comm, t0, std::chrono::steady_clock::now());
    }

    // Copies the stage's master weights into every slot (after each optimizer step).
    void refresh_slots() {
        const auto master = detail::layer_params(model_, first_, last_);
        for (auto& sl : slots_) {
            const auto mine = detail::layer_params(sl.model, first_, last_);
            for (std::size_t p = 0; p < master.size(); ++p)
                detail::copy_values<B>(master[p]->value.data(), master[p]->size(), mine[p]->value.data());
        }
    }

    // Every rank gets every layer's current weights from replica 0's stage holding it.
    void share_weights() {
        for (int s = 0; s < S_; ++s) {
            const int first = o_.first_layers[std::size_t(s)], last = s + 1 < S_ ? o_.first_layers[std::size_t(s) + 1]
                                                                                  : int(model_.num_layers());
            for (auto* p : detail::layer_params(model_, first, last))
                engine().broadcast(std::span<V>(p->value.data(), p->size()), s);
        }
    }

    void forward(cluster_schedule& sched, int epoch, int step, int m, std::uint64_t seed) {
        slot& sl = slots_[std::size_t(m) % slots_.size()];
        std::vector<index_t> nodes;
        for (const int c : sched.clusters(epoch, step, replica_ * M_ + m)) {
            const auto& mem = members_[std::size_t(c)];
            nodes.insert(nodes.end(), mem.begin(), mem.end());
        }
        if constexpr (on_host) {
            sl.b = detail::induced_batch(ds_, adjacency_, std::move(nodes), scratch_, stage_ == 0);
        } else {
            sl.b = detail::make_resident<B>(detail::induced_batch(ds_, adjacency_, std::move(nodes), scratch_, false),
                                            features_, stage_ == 0);
        }
        ++report_.micro_batches_run;
        report_.batch_nodes += sl.b.nodes.size();
        report_.max_batch_nodes = std::max(report_.max_batch_nodes, sl.b.nodes.size());
        const std::size_t n = sl.b.nodes.size();
        const_matrix_view<V> x = sl.b.features.cview();
        if (stage_ > 0) {
            sl.input.resize(n, width_in(first_));
            timed_p2p([&] { engine().recv(std::span<V>(sl.input.data(), sl.input.rows() * sl.input.cols()), peer(stage_ - 1), 2 * m); });
            x = sl.input.cview();
        }
        if (n == 0) {
            sl.output = {};
            return;
        }
        strategy st(comm_, sl.b.op, sl.b.nodes.data(), sl.unused_seconds, detail::identity_of(sl.b));
        sl.output = sl.model.forward_layers(st, x, std::size_t(first_), std::size_t(last_), true, seed);
    }

    void send_output(int m) {
        const slot& sl = slots_[std::size_t(m) % slots_.size()];
        const std::size_t n = sl.b.nodes.size(), w = width_out(last_ - 1);
        timed_p2p([&] { engine().send(std::span<const V>(sl.output.data(), n * w), peer(stage_ + 1), 2 * m); });
    }

    void receive_gradient(int m) {
        slot& sl = slots_[std::size_t(m) % slots_.size()];
        sl.grad.resize(sl.b.nodes.size(), width_out(last_ - 1));
        timed_p2p([&] { engine().recv(std::span<V>(sl.grad.data(), sl.grad.rows() * sl.grad.cols()), peer(stage_ + 1), 2 * m + 1); });
    }

    // Backward of micro-batch m on this stage; returns the summed loss on the last stage.
    double backward(int m, std::size_t count) {
        slot& sl = slots_[std::size_t(m) % slots_.size()];
        const std::size_t n = sl.b.nodes.size();
        double loss = 0;
        if (n > 0) {
            strategy st(comm_, sl.b.op, sl.b.nodes.data(), sl.unused_seconds, detail::identity_of(sl.b));
            matrix_view<V> dz;
            if (last_ == int(model_.num_layers())) {
                const auto g = sl.model.loss_gradient(st, sl.b.labels.data(),
                                                      std::span<const index_t>(sl.b.train.data(), sl.b.train.size()), count);
                loss = g.loss;
                dz = g.grad;
            } else {
                dz = sl.grad.view();
            }
            const auto dh = sl.model.backward_layers(st, dz, std::size_t(first_), std::size_t(last_), stage_ > 0);
            detail::add_layer_grads(sl.model, first_, last_, acc_);
            if (stage_ > 0)
                timed_p2p([&] { engine().send(std::span<const V>(dh.data(), n * width_in(first_)), peer(stage_ - 1), 2 * m + 1); });
        } else if (stage_ > 0) {
            timed_p2p([&] { engine().send(std::span<const V>(), peer(stage_ - 1), 2 * m + 1); });
        }
        return loss;
    }

    // One step: M micro-batches in 1F1B order, the replicas' gradients summed, one
    // optimizer step of this stage's layers. Returns the step's loss (the mean
    // cross-entropy over its training nodes plus the whole model's L2 term), the same on
    // every rank, or nothing when no micro-batch of the step holds a training node.
    std::optional<double> train_step(cluster_schedule& sched, int epoch, int step, std::uint64_t seed) {
        const auto t0 = std::chrono::steady_clock::now();
        std::size_t count = 0;
        for (int r = 0; r < R_; ++r)
            for (int k = 0; k < M_; ++k) count += train_nodes(sched, epoch, step, r, k);
        if (count == 0) return std::nullopt;  // every rank knows it: no message is sent
        for (auto& a : acc_) backend::fill_zero<B>(matrix_view<V>(a.data(), 1, a.size()));
        const bool last = stage_ == S_ - 1;
        const int warm = std::min(S_ - 1 - stage_, M_);
        double loss = 0;
        // Warm-up: forwards ahead of the first backward.
        for (int m = 0; m < warm; ++m) {
            forward(sched, epoch, step, m, seed);
            if (!last) send_output(m);
        }
        // Steady 1F1B: forward m + warm, then backward m. The gradient of m is received
        // before the output of m + warm is sent: the order the next stage (one forward
        // fewer ahead) sends and receives them in, so blocking point-to-point cannot deadlock.
        for (int m = 0; m + warm < M_; ++m) {
            forward(sched, epoch, step, m + warm, seed);
            if (!last) {
                receive_gradient(m);
                send_output(m + warm);
            }
            loss += backward(m, count);
        }
        // Drain.
        for (int m = M_ - warm; m < M_; ++m) {
            if (!last) receive_gradient(m);
            loss += backward(m, count);
        }
        // The replicas' sum of this stage's gradients, then the update.
        const auto tr = std::chrono::steady_clock::now();
        reduce_replicas();
        const auto params = detail::layer_params(model_, first_, last_);
        double l2 = 0;
        for (std::size_t p = 0; p < params.size(); ++p) {
            detail::copy_values<B>(acc_[p].data(), acc_[p].size(), params[p]->grad.data());
            if (params[p]->weight_decay != V(0))
                l2 += 0.5 * double(params[p]->weight_decay) * nn::squared_norm(*params[p]);
        }
        // The step's loss on every rank: last stages hold the cross-entropy, every stage its
        // layers' L2 (each counted by R replicas).
        std::vector<double> sums{last ? loss : 0.0, l2 / double(R_)};
        comm_.all_reduce(std::span<double>(sums), comm::reduce_op::sum);
        report_.reduce_seconds += trace::interval("pipeline reduce", trace::category::comm, tr, std::chrono::steady_clock::now());
        opt_.step(params);
        refresh_slots();
        ++report_.steps;
        report_.step_seconds += trace::interval("pipeline step", trace::category::step, t0, std::chrono::steady_clock::now());
        return sums[0] / double(count) + sums[1];
    }

    // The replicas' sum of this stage's gradients, in one bucket in B's memory: over the
    // stage's sub-communicator, or (none) the whole model's gradient over the world with
    // the other stages' entries zero.
    void reduce_replicas() {
        if (R_ == 1) return;
        std::size_t n = 0, offset = 0;
        for (const auto& a : acc_) n += a.size();
        if (!stage_comm_) {
            n = 0;
            for (const auto* p : model_.parameters()) n += p->size();
            for (int l = 0; l < first_; ++l)
                offset += model_.layer(std::size_t(l)).weight().size() + model_.layer(std::size_t(l)).bias().size();
        }
        const auto bucket = detail::grown(bucket_, n);
        if (!stage_comm_) backend::fill_zero<B>(matrix_view<V>(bucket.data(), 1, n));
        std::size_t at = offset;
        for (const auto& a : acc_) {
            detail::copy_values<B>(a.data(), a.size(), bucket.data() + at);
            at += a.size();
        }
        engine_of(stage_comm_ ? *stage_comm_ : comm_).all_reduce(bucket, comm::reduce_op::sum);
        at = offset;
        for (auto& a : acc_) {
            detail::copy_values<B>(bucket.data() + at, a.size(), a.data());
            at += a.size();
        }
    }

    Comm& comm_;
    const dataset<V>& ds_;
    const storage::csr<index_t, V>& adjacency_;
    pipeline_options o_;
    nn::gcn_model<B, V>& model_;
    nn::optimizer<B, V>& opt_;
    int S_, M_, R_ = 1, stage_ = 0, replica_ = 0, first_ = 0, last_ = 0;
    std::vector<std::vector<index_t>> members_;
    std::vector<std::size_t> train_in_cluster_;
    std::vector<index_t> scratch_;
    std::shared_ptr<nn::activation_meter<B, V>> meter_ = std::make_shared<nn::activation_meter<B, V>>();
    std::vector<slot> slots_;
    std::vector<detail::flat_buffer<B, V>> acc_;  // this stage's gradients summed over the step's micro-batches
    detail::flat_buffer<B, V> bucket_;            // the replicas' all-reduce
    const_matrix_view<V> features_;               // device backends: every node's features, in B's memory
    std::optional<Comm> stage_comm_;
    pipeline_report report_;
};

// Pipeline training of `model` on every rank of `comm` (ranks = replicas x stages).
template <class B, class V, comm::communicator Comm>
train::train_result train_pipeline(Comm& comm, const dataset<V>& ds, const storage::csr<index_t, V>& adjacency,
                                   const std::vector<int>& cluster_of, const pipeline_options& o,
                                   nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt,
                                   const train::trainer_options& to, pipeline_report* report = nullptr) {
    pipeline_trainer<B, V, Comm> t(comm, ds, adjacency, cluster_of, o, model, opt);
    auto res = t.run(to);
    if (report) *report = t.report();
    return res;
}

}  // namespace mixgcn::parallel
