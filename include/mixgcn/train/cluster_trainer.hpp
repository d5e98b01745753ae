#pragma once
// The synchronous mini-batch loop of the `data` strategy (Cluster-GCN batches or
// independent graphs). Every step each rank runs forward/backward on its own batch (or on
// K micro-batches, their gradients summed: --accumulate K); the gradients are all-reduced
// once, and the loss is scaled by the number of training nodes in ALL ranks' batches of
// that step, so the summed gradient is the gradient of the mean cross-entropy over those
// nodes: one step of the union batch. run_steps() is the epoch loop alone, which the
// pipeline strategy drives with its own step. The optimizer then runs
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
#include <type_traits>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/row_moves.hpp"
#include "mixgcn/comm/concept.hpp"
#include "mixgcn/comm/local.hpp"
#include "mixgcn/core/rng.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"
#include "mixgcn/parallel/detail/data_batch.hpp"
#include "mixgcn/parallel/detail/data_engine.hpp"
#include "mixgcn/parallel/detail/data_strategy.hpp"
#include "mixgcn/parallel/detail/flat_buffer.hpp"
#include "mixgcn/parallel/detail/resident_batch.hpp"
#include "mixgcn/train/trainer.hpp"

namespace mixgcn::train {

// What one rank did, summed over the run.
struct cluster_trainer_stats {
    std::size_t steps = 0;            // synchronous steps taken (all ranks take the same number)
    std::size_t batch_nodes = 0;      // rows of this rank's batches
    std::size_t batch_nonzeros = 0;   // non-zeros of their normalised operators
    std::size_t max_batch_nodes = 0;  // largest batch
    // The largest batch's bytes (the one held at a time while a cluster run trains): its
    // operator and ids, and its feature and label rows.
    std::size_t max_batch_graph_bytes = 0, max_batch_row_bytes = 0;
    double comm_seconds = 0;          // inside all-reduces (training steps)
    double compute_seconds = 0;       // rest of the training steps: batch building, kernels, optimizer
    double eval_seconds = 0;          // per-epoch evaluation
};

struct accuracies {
    double train = 0, val = 0, test = 0;
};

// A batch is a parallel::detail::data_batch in host memory, or, for a device backend, a
// parallel::detail::resident_batch (the same members in B's memory). Over device memory
// the gradients are accumulated and all-reduced where they are (the communicator's device
// engine; comm::local has nothing to reduce), so a step copies nothing back but scalars.
template <class B, class V, comm::communicator Comm>
class cluster_trainer {
    // One rank (comm::local) has nothing to reduce; more need an engine for B's memory.
    static consteval bool has_engine() {
        if constexpr (std::is_same_v<Comm, comm::local>) return true;
        else return parallel::detail::data_engine_for<B, Comm>();
    }
    static_assert(has_engine());

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
    template <class Batch>
    std::optional<double> gradients(const Batch& b, std::uint64_t dropout_seed) {
        return gradients(1, b.train.size(), [&](int) -> const Batch& { return b; }, dropout_seed);
    }

    // The same over K micro-batches per rank (gradient accumulation): micro(k), k < K, gives
    // this rank's k-th batch (built when asked, so one batch is held at a time) and
    // `local_train` their training nodes together. Each micro-batch's gradients are summed
    // locally, k in order, and the sum is all-reduced once: with the loss scaled by the
    // training nodes of all K·P batches, that is one step of their union (a
    // block-diagonal graph: the batches share no edge), and equals K·P ranks taking one
    // batch each.
    template <class MicroFn>
    std::optional<double> gradients(int micro_batches, std::size_t local_train, MicroFn&& micro,
                                    std::uint64_t dropout_seed) {
        std::vector<double> count{double(local_train)};
        sum(std::span<double>(count));
        if (count[0] == 0) return std::nullopt;
        const auto params = model_.parameters();
        std::size_t total = 0;
        for (const auto* p : params) total += p->size();
        const auto accumulated = parallel::detail::grown(accumulated_, total);
        backend::fill_zero<B>(matrix_view<V>(accumulated.data(), 1, total));
        std::vector<double> loss{0.0};
        for (int k = 0; k < micro_batches; ++k) {
            auto&& b = micro(k);  // a temporary lives to the end of this micro-batch
            stats_.batch_nodes += b.nodes.size();
            stats_.batch_nonzeros += b.op.a.nnz();
            stats_.max_batch_nodes = std::max(stats_.max_batch_nodes, b.nodes.size());
            if (b.graph_bytes() + b.row_bytes() > stats_.max_batch_graph_bytes + stats_.max_batch_row_bytes) {
                stats_.max_batch_graph_bytes = b.graph_bytes();
                stats_.max_batch_row_bytes = b.row_bytes();
            }
            if (b.empty()) continue;  // contributes nothing; the collectives below still match
            parallel::data_batch_strategy<B, V, Comm> s(comm_, b.op, b.nodes.data(), stats_.comm_seconds,
                                                        parallel::detail::identity_of(b));
            model_.forward(s, b.features.cview(), true, dropout_seed);
            loss[0] += model_.local_backward(s, b.labels.data(), std::span<const index_t>(b.train.data(), b.train.size()),
                                             std::size_t(count[0]));
            std::size_t at = 0;
            for (const auto* p : params) {  // accumulated += grad, micro-batch by micro-batch
                B::scale_add(p->size(), V(1), p->grad.data(), accumulated.data() + at);
                at += p->size();
            }
        }
        std::size_t at = 0;
        for (auto* p : params) {
            backend::copy_rows<B>(const_matrix_view<V>(accumulated.data() + at, 1, p->size()),
                                  matrix_view<V>(p->grad.data(), 1, p->size()));
            at += p->size();
        }
        reduce_gradients(params);
        sum(std::span<double>(loss));
        return loss[0] / count[0];
    }

    // `batch_for(epoch, step)` returns this rank's batch (epoch 1-based); `evaluate()` returns
    // the accuracies of the current weights, the same on every rank.
    template <class BatchFn, class EvalFn>
    train_result run(int steps_per_epoch, BatchFn&& batch_for, EvalFn&& evaluate) {
        return run_steps(
            steps_per_epoch,
            [&](int epoch, int s, std::uint64_t seed) {
                auto&& b = batch_for(epoch, s);
                return update(gradients(b, seed));
            },
            std::forward<EvalFn>(evaluate));
    }

    // K micro-batches per step: `batch_for(epoch, step, k)` and `train_nodes(epoch, step, k)`,
    // the training nodes of that batch (known before it is built: the loss scale needs them all).
    template <class BatchFn, class CountFn, class EvalFn>
    train_result run(int steps_per_epoch, int micro_batches, BatchFn&& batch_for, CountFn&& train_nodes,
                     EvalFn&& evaluate) {
        require(micro_batches >= 1, "data strategy: ", micro_batches, " micro-batches per step");
        return run_steps(
            steps_per_epoch,
            [&](int epoch, int s, std::uint64_t seed) {
                std::size_t local = 0;
                for (int k = 0; k < micro_batches; ++k) local += train_nodes(epoch, s, k);
                return update(gradients(micro_batches, local, [&](int k) { return batch_for(epoch, s, k); }, seed));
            },
            std::forward<EvalFn>(evaluate));
    }

    // The epoch loop around `step(epoch, s, dropout_seed)`, which trains step s and returns
    // its loss (with the L2 term, after the optimizer step), or nothing when it was
    // skipped. Evaluation, model selection, checkpoints and resume as train::trainer.
    template <class StepFn, class EvalFn>
    train_result run_steps(int steps_per_epoch, StepFn&& step, EvalFn&& evaluate) {
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
                // One seed per step; masks are keyed by global node ids, so a batch draws
                // the same masks on whichever rank (or pipeline stage) computes it.
                const auto seed = splitmix64(o_.seed ^ splitmix64((std::uint64_t(epoch) << 32) ^ std::uint64_t(s)));
                if (const auto loss = step(epoch, s, seed)) {
                    loss_sum += *loss;
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
    // The optimizer step after gradients(): the loss plus the L2 term of the weights stepped from.
    std::optional<double> update(std::optional<double> loss) {
        if (!loss) return loss;
        const double l2 = model_.l2_penalty();
        opt_.step(model_.parameters());
        return *loss + l2;
    }

    // What seam::reduce_gradients asks of a strategy: the rank count and a sum.
    struct gradient_sum {
        using value_type = V;
        cluster_trainer* t;
        int ranks() const noexcept { return t->comm_.size(); }
        template <class T>
        void sum(std::span<T> v) { t->sum(v); }
    };

    // Over the ranks, where the gradients are: the strategy seam's host bucket, or the
    // device engine.
    void reduce_gradients(const std::vector<nn::parameter<B, V>*>& params) {
        const std::span<nn::parameter<B, V>* const> all(params);
        if constexpr (backend::host_accessible<B>()) {
            gradient_sum reducer{this};
            seam::reduce_gradients(reducer, all);
        } else if constexpr (!std::is_same_v<Comm, comm::local>) {
            stats_.comm_seconds += parallel::detail::all_reduce_gradients<B>(comm_, all);
        }
    }

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
    parallel::detail::flat_buffer<B, V> accumulated_;  // the step's gradients summed over its micro-batches
};

}  // namespace mixgcn::train
