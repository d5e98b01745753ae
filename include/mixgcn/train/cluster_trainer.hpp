#pragma once
// The synchronous mini-batch loop of the `data` strategy (Cluster-GCN batches or
// independent graphs). Every step each rank runs forward/backward on its own batch; the
// gradients are all-reduced, and the loss is scaled by the number of training nodes in ALL
// ranks' batches of that step, so the summed gradient is the gradient of the mean
// cross-entropy over those nodes: one step of the union batch. The optimizer then runs
// the same update on every rank, so parameters stay replicated bit for bit (same inputs,
// same operations, same order). Evaluation and model selection per epoch as in
// train::trainer: the weights of the best validation epoch are kept. Checkpoints and
// resume as train::trainer (train::detail::checkpoint_state; rank 0 writes): the batch
// schedule and dropout seeds depend only on (seeds, epoch, step, rank, ranks), so a
// resumed run repeats the uninterrupted one bit for bit (docs/faults.md).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "mixgcn/comm/concept.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/detail/data_batch.hpp"
#include "mixgcn/parallel/detail/data_strategy.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::train {

// What one rank did, summed over the run.
struct cluster_trainer_stats {
    std::size_t steps = 0;            // synchronous steps taken (all ranks take the same number)
    std::size_t batch_nodes = 0;      // rows of this rank's batches
    std::size_t batch_nonzeros = 0;   // non-zeros of their normalised operators
    std::size_t max_batch_nodes = 0;  // largest batch
    double comm_seconds = 0;          // inside all-reduces (training steps)
    double compute_seconds = 0;       // rest of the training steps: batch building, kernels, optimizer
    double eval_seconds = 0;          // per-epoch evaluation
};

struct accuracies {
    double train = 0, val = 0, test = 0;
};

template <class B, class V, comm::communicator Comm>
class cluster_trainer {
public:
    using batch = parallel::detail::data_batch<V>;

    cluster_trainer(Comm& comm, nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt, trainer_options options)
        : comm_(comm), model_(model), opt_(opt), o_(std::move(options)) {
        require(o_.epochs >= 0, "data strategy: epochs must be >= 0, got ", o_.epochs);
        model_.invalidate_cache();  // as train::trainer: no cached Â·X from an earlier run
        require(o_.checkpoint_every >= 0, "data strategy: checkpoint_every must be >= 0, got ", o_.checkpoint_every);
    }

    // Gradients of one synchronous step, all-reduced into every parameter's `grad`. Returns
    // the mean cross-entropy over the step's training nodes of all ranks (no L2 term), or
    // nothing when no rank's batch holds a training node (then every rank skips the step).
    std::optional<double> gradients(const batch& b, std::uint64_t dropout_seed) {
        std::vector<double> count{double(b.train.size())};
        sum(std::span<double>(count));
        if (count[0] == 0) return std::nullopt;
        std::vector<double> loss{0.0};
        parallel::data_batch_strategy<B, V, Comm> s(comm_, b.op, b.nodes.data(), stats_.comm_seconds);
        if (b.empty()) {
            // Nothing to compute, but the collective must match the other ranks' one.
            const auto params = model_.parameters();
            for (auto* p : params) std::fill_n(p->grad.data(), p->size(), V(0));
            seam::reduce_gradients(s, std::span<nn::parameter<B, V>* const>(params));
        } else {
            model_.forward(s, b.features.cview(), true, dropout_seed);
            loss[0] = model_.backward(s, b.labels.data(), b.train, std::size_t(count[0]));
        }
        sum(std::span<double>(loss));
        return loss[0] / count[0];
    }

    // `batch_for(epoch, step)` returns this rank's batch (epoch 1-based); `evaluate()` returns
    // the accuracies of the current weights, the same on every rank.
    template <class BatchFn, class EvalFn>
    train_result run(int steps_per_epoch, BatchFn&& batch_for, EvalFn&& evaluate) {
        using clock = std::chrono::steady_clock;
        require(steps_per_epoch >= 1, "data strategy: ", steps_per_epoch, " steps per epoch");
        train_result res;
        best_weights<B, V> best(model_);
        detail::checkpoint_state<B, V> ck(model_, opt_, best, o_);
        // Resume: the schedule and the dropout seeds are functions of (seed, epoch, step,
        // rank, ranks), so restoring the state of the checkpoint's epoch is all it takes.
        if (!o_.resume.empty()) ck.load(o_.resume, res);
        for (int epoch = res.resumed_from_epoch + 1; epoch <= o_.epochs; ++epoch) {
            const auto t0 = clock::now();
            trace::span epoch_span("epoch", trace::category::step);
            double loss_sum = 0;
            int taken = 0;
            for (int s = 0; s < steps_per_epoch; ++s) {
                if (s == steps_per_epoch / 2) detail::debug_fault_point(comm_.rank(), epoch);
                const auto ts = clock::now();
                const double comm_before = stats_.comm_seconds;
                const auto& b = batch_for(epoch, s);  // a temporary lives to the end of the step
                stats_.batch_nodes += b.nodes.size();
                stats_.batch_nonzeros += b.op.a.nnz();
                stats_.max_batch_nodes = std::max(stats_.max_batch_nodes, b.nodes.size());
                // One seed per step; masks are keyed by global node ids, so a batch draws
                // the same masks on whichever rank (or pipeline stage) computes it.
                const auto seed = splitmix64(o_.seed ^ splitmix64((std::uint64_t(epoch) << 32) ^ std::uint64_t(s)));
                if (const auto loss = gradients(b, seed)) {
                    const double l2 = model_.l2_penalty();
                    opt_.step(model_.parameters());
                    loss_sum += *loss + l2;
                    ++taken;
                }
                ++stats_.steps;
                // One compute span per step; its all-reduces nest inside and are not compute.
                stats_.compute_seconds += trace::interval("training step", trace::category::compute, ts, clock::now()) -
                                          (stats_.comm_seconds - comm_before);
            }
            const auto te = clock::now();
            const accuracies a = evaluate();
            stats_.eval_seconds += trace::interval("evaluation", trace::category::eval, te, clock::now());
            epoch_metrics m;
            m.epoch = epoch;
            m.loss = taken ? loss_sum / taken : 0.0;
            m.train_acc = a.train;
            m.val_acc = a.val;
            m.test_acc = a.test;
            m.seconds = std::chrono::duration<double>(clock::now() - t0).count();
            res.history.push_back(m);
            best.offer(m, res);
            if (o_.on_epoch) o_.on_epoch(m);
            // Parameters are replicated bit for bit: rank 0 writes the one file.
            if (!o_.checkpoint.empty() && o_.checkpoint_every > 0 && epoch % o_.checkpoint_every == 0 &&
                comm_.rank() == 0)
                ck.save(o_.checkpoint, epoch, res);
            if (o_.patience > 0 && epoch - res.best_val_epoch >= o_.patience) {
                res.stopped_early = true;
                break;
            }
        }
        best.restore();
        return res;
    }

    const cluster_trainer_stats& stats() const noexcept { return stats_; }
    const trainer_options& options() const noexcept { return o_; }

private:
    template <class T>
    void sum(std::span<T> v) {
        const auto t0 = std::chrono::steady_clock::now();
        comm_.all_reduce(v, comm::reduce_op::sum);
        stats_.comm_seconds += trace::interval("all-reduce", trace::category::comm, t0, std::chrono::steady_clock::now());
    }

    Comm& comm_;
    nn::gcn_model<B, V>& model_;
    nn::optimizer<B, V>& opt_;
    trainer_options o_;
    cluster_trainer_stats stats_;
};

}  // namespace mixgcn::train
