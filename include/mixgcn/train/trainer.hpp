#pragma once
// The training loop: one optimisation step and one evaluation per epoch, model
// selection on validation accuracy (the weights of the best validation epoch are kept
// and restored at the end), optional patience, checkpoints every K epochs and resume.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/backend/row_moves.hpp"
#include "mixgcn/core/concepts.hpp"
#include "mixgcn/core/row_list.hpp"
#include "mixgcn/core/trace.hpp"
#include "mixgcn/io/checkpoint.hpp"
#include "mixgcn/nn/model.hpp"
#include "mixgcn/nn/optimizer.hpp"

namespace mixgcn::train {

struct epoch_metrics {
    int epoch = 0;  // 1-based
    double loss = 0;  // mean cross-entropy on training nodes + L2 term, before the step
    double train_acc = 0, val_acc = 0, test_acc = 0;
    double seconds = 0;
};

struct trainer_options {
    int epochs = 200;
    int patience = 0;  // stop after this many epochs without a better validation accuracy; 0 = never
    std::uint64_t seed = 42;
    std::filesystem::path checkpoint;  // written every `checkpoint_every` epochs when set
    int checkpoint_every = 0;
    std::filesystem::path resume;  // continue from this checkpoint when set
    // Recorded in every checkpoint; a resume must match each entry (e.g. the data
    // strategy's rank count and clusters, on which its batch schedule depends).
    std::map<std::string, std::string> checkpoint_identity;
    std::function<void(const epoch_metrics&)> on_epoch;
};

struct train_result {
    std::vector<epoch_metrics> history;
    int best_val_epoch = 0;
    double best_val_acc = 0;
    double test_acc = 0;  // at the best validation epoch
    bool stopped_early = false;
    int resumed_from_epoch = 0;

    double epoch_time_median() const {
        if (history.empty()) return 0;
        std::vector<double> t;
        for (const auto& h : history) t.push_back(h.seconds);
        std::sort(t.begin(), t.end());
        return t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
    }
};

// Model selection on validation accuracy: remembers the weights of the best epoch so far
// (strictly better wins; ties keep the earlier epoch) and puts them back at the end.
// Every training loop (full-batch, data-parallel) uses it, so they select alike. The
// copy stays in the backend's memory: a device run copies nothing to the host for it
// inside an epoch (checkpoints read it through kept() / keep()).
template <class B, class V>
class best_weights {
public:
    explicit best_weights(nn::gcn_model<B, V>& model) : model_(&model) { remember(); }

    // Records `m` in `res` and keeps the weights when it is the best validation epoch.
    bool offer(const epoch_metrics& m, train_result& res) {
        if (res.best_val_epoch != 0 && !(m.val_acc > res.best_val_acc)) return false;
        res.best_val_epoch = m.epoch;
        res.best_val_acc = m.val_acc;
        res.test_acc = m.test_acc;
        remember();
        return true;
    }
    void restore() {
        const auto params = model_->parameters();
        for (std::size_t i = 0; i < params.size() && i < kept_.size(); ++i)
            backend::copy_rows<B, V>(row_of(kept_[i].data(), kept_[i].size()), row_of(params[i]->value.data(), kept_[i].size()));
    }
    // The kept weights of parameter i on the host, and replaced from the host (checkpoints).
    std::vector<V> kept(std::size_t i) const { return backend::to_host_vector<B>(kept_.at(i).data(), kept_.at(i).size()); }
    void keep(std::size_t i, const std::vector<V>& values) {
        require(values.size() == kept_.at(i).size(), "best weights: parameter ", i, " holds ", kept_.at(i).size(),
                " values, got ", values.size());
        backend::copy_from_host<B>(values.data(), values.size(), kept_.at(i).data());
    }

private:
    static matrix_view<V> row_of(V* p, std::size_t n) noexcept { return {p, 1, n}; }
    void remember() {
        const auto params = model_->parameters();
        kept_.resize(params.size());
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (kept_[i].size() != params[i]->size()) kept_[i].resize(params[i]->size());
            backend::copy_rows<B, V>(row_of(params[i]->value.data(), params[i]->size()),
                                     row_of(kept_[i].data(), params[i]->size()));
        }
    }
    nn::gcn_model<B, V>* model_;
    std::vector<backend::array<B, V>> kept_;
};

namespace detail {

// Test hook for the fault tests (docs/faults.md), read at one point inside every epoch
// (after the training forward pass; in the data strategy before the middle step):
//   MIXGCN_DEBUG_KILL_AT=RANK:EPOCH          that rank raises SIGKILL there
//   MIXGCN_DEBUG_STALL_AT=RANK:EPOCH:SECONDS that rank sleeps there (alive, silent)
// Unset (always, outside tests): nothing.
inline void debug_fault_point(int rank, int epoch) {
    auto parse = [&](const char* name, int* seconds) {
        const char* env = std::getenv(name);
        if (!env || !*env) return false;
        int r = -1, e = -1, s = 0;
        const int got = std::sscanf(env, "%d:%d:%d", &r, &e, &s);
        if (seconds) *seconds = s;
        return got >= 2 && r == rank && e == epoch;
    };
    if (parse("MIXGCN_DEBUG_KILL_AT", nullptr)) {
        const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        std::fprintf(stderr, "mixgcn: debug: rank %d raises SIGKILL in epoch %d at %.6f (MIXGCN_DEBUG_KILL_AT)\n", rank,
                     epoch, now);
        std::fflush(stderr);
        std::raise(SIGKILL);
    }
    int seconds = 0;
    if (parse("MIXGCN_DEBUG_STALL_AT", &seconds)) {
        std::fprintf(stderr, "mixgcn: debug: rank %d stalls %d s in epoch %d (MIXGCN_DEBUG_STALL_AT)\n", rank, seconds,
                     epoch);
        std::fflush(stderr);
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
    }
}

// What a checkpoint holds and how it is written and read, for both training loops
// (train::trainer and the data strategy's cluster_trainer): parameters, the kept best
// weights, the optimizer's moments and step count, the history and the best epoch.
// With these and the epoch, a resumed run repeats the uninterrupted one bit for bit:
// dropout seeds and the data strategy's batch schedule are functions of (seed, epoch).
// Parameters are replicated on every rank, so rank 0 writes the one file and every rank
// reads it (docs/faults.md).
template <class B, class V>
class checkpoint_state {
public:
    checkpoint_state(nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt, best_weights<B, V>& best,
                     const trainer_options& o)
        : model_(model), opt_(opt), best_(best), o_(o) {}

    // Identifies the model a checkpoint belongs to, so a resume with other flags fails.
    std::string fingerprint() const {
        const auto& mo = model_.options();
        return ::mixgcn::detail::concat("in=", mo.in, " hidden=", mo.hidden, " classes=", mo.classes,
                                        " layers=", mo.layers, " seed=", o_.seed, " lr=", opt_.options().lr,
                                        " kind=", int(opt_.options().kind));
    }

    void save(const std::filesystem::path& path, int epoch, const train_result& res) {
        io::checkpoint ck;
        ck.epoch = static_cast<std::uint64_t>(epoch);
        ck.value_type = sizeof(V) == 4 ? "float32" : "float64";
        ck.meta["model"] = fingerprint();
        ck.meta["optimizer_steps"] = std::to_string(opt_.steps());
        ck.meta["best_val_epoch"] = std::to_string(res.best_val_epoch);
        for (const auto& [k, v] : o_.checkpoint_identity) ck.meta["identity." + k] = v;
        const auto params = model_.parameters();
        auto add = [&](const std::string& name, std::size_t rows, std::size_t cols, const V* v) {
            io::checkpoint_array a;
            a.name = name;
            a.shape = {rows, cols};
            a.values.assign(v, v + rows * cols);
            ck.arrays.push_back(std::move(a));
        };
        for (std::size_t i = 0; i < params.size(); ++i) {
            const auto& p = *params[i];
            add(p.name, p.value.rows(), p.value.cols(), backend::to_host_vector<B>(p.value.data(), p.size()).data());
            add("best." + p.name, p.value.rows(), p.value.cols(), best_.kept(i).data());
            if (opt_.has_state()) {
                add("optimizer.m." + p.name, p.value.rows(), p.value.cols(),
                    opt_.moment_to_host(nn::moment::first, i).data());
                add("optimizer.v." + p.name, p.value.rows(), p.value.cols(),
                    opt_.moment_to_host(nn::moment::second, i).data());
            }
        }
        // The history so far, so a resumed run reports the whole curve.
        io::checkpoint_array h;
        h.name = "history";
        h.shape = {res.history.size(), 6};
        for (const auto& m : res.history)
            h.values.insert(h.values.end(), {double(m.epoch), m.loss, m.train_acc, m.val_acc, m.test_acc, m.seconds});
        ck.arrays.push_back(std::move(h));
        ck.arrays.push_back({"best", {3}, {double(res.best_val_epoch), res.best_val_acc, res.test_acc}});
        io::write_checkpoint(path, ck);
    }

    void load(const std::filesystem::path& path, train_result& res) {
        const auto ck = io::read_checkpoint(path);
        const std::string file = path.string();
        const std::string expect = sizeof(V) == 4 ? "float32" : "float64";
        if (ck.value_type != expect)
            throw io_error(file, 0, ck.value_type, "checkpoint holds " + ck.value_type + " values but this run uses " + expect);
        const auto it = ck.meta.find("model");
        if (it == ck.meta.end() || it->second != fingerprint())
            throw io_error(file, 0, it == ck.meta.end() ? "" : it->second,
                           "checkpoint was written for another model/configuration (this run: " + fingerprint() + ")");
        for (const auto& [k, v] : o_.checkpoint_identity) {
            const auto m = ck.meta.find("identity." + k);
            if (m == ck.meta.end())
                throw io_error(file, 0, "", "checkpoint records no " + k + " (another kind of run wrote it); this run has " +
                                                k + "=" + v);
            if (m->second != v)
                throw io_error(file, 0, m->second, "checkpoint was written with " + k + "=" + m->second +
                                                       ", this run has " + k + "=" + v + "; resume with the same " + k);
        }
        const auto params = model_.parameters();
        auto values = [&](const std::string& name, std::size_t n) {
            const auto& a = ck.get(name);
            if (a.values.size() != n)
                throw io_error(file, 0, name, "array has " + std::to_string(a.values.size()) + " values, expected " +
                                                  std::to_string(n));
            return std::vector<V>(a.values.begin(), a.values.end());
        };
        opt_.reset(params);
        for (std::size_t i = 0; i < params.size(); ++i) {
            auto& p = *params[i];
            const auto w = values(p.name, p.size());
            backend::copy_from_host<B>(w.data(), w.size(), p.value.data());
            best_.keep(i, values("best." + p.name, p.size()));
            opt_.moment_from_host(nn::moment::first, i, values("optimizer.m." + p.name, p.size()));
            opt_.moment_from_host(nn::moment::second, i, values("optimizer.v." + p.name, p.size()));
        }
        // A checkpoint whose CRC holds but whose entries do not (another writer, a hand
        // edit) is an io_error naming the file, not a std::out_of_range.
        const auto steps = ck.meta.find("optimizer_steps");
        std::uint64_t step_count = 0;
        if (steps == ck.meta.end() ||
            std::from_chars(steps->second.data(), steps->second.data() + steps->second.size(), step_count).ec !=
                std::errc{})
            throw io_error(file, 0, steps == ck.meta.end() ? "" : steps->second,
                           "checkpoint has no valid optimizer_steps entry");
        opt_.set_steps(step_count);
        const auto& h = ck.get("history");
        for (std::size_t r = 0; r + 6 <= h.values.size(); r += 6)
            res.history.push_back({int(h.values[r]), h.values[r + 1], h.values[r + 2], h.values[r + 3], h.values[r + 4],
                                   h.values[r + 5]});
        const auto& b = ck.get("best");
        if (b.values.size() != 3)
            throw io_error(file, 0, "best", "array has " + std::to_string(b.values.size()) + " values, expected 3");
        res.best_val_epoch = int(b.values.at(0));
        res.best_val_acc = b.values.at(1);
        res.test_acc = b.values.at(2);
        res.resumed_from_epoch = int(ck.epoch);
    }

private:
    nn::gcn_model<B, V>& model_;
    nn::optimizer<B, V>& opt_;
    best_weights<B, V>& best_;
    const trainer_options& o_;
};

}  // namespace detail

// The inputs of one rank: features in the strategy's layout (its rows, the feature
// columns it holds), and the labels and train/val/test rows of its row layout, where the
// loss runs. `features` is in the backend's memory (a device view for a device
// backend); labels and row lists are host data, which the trainer copies where the
// backend needs them.
template <class V>
struct local_data {
    const_matrix_view<V> features;
    const std::int32_t* labels = nullptr;  // one per row of the row layout
    std::vector<index_t> train, val, test;
    // Changed by whoever changes the rows under a running trainer (the load balancer's
    // re-cut): a device backend's trainer then copies the labels and rows over again.
    std::uint64_t layout_version = 0;
};

template <class B, class V, parallel_strategy S>
class trainer {
public:
    trainer(S& strategy, nn::gcn_model<B, V>& model, nn::optimizer<B, V>& opt, const local_data<V>& data,
            trainer_options options)
        : s_(strategy), model_(model), opt_(opt), data_(data), o_(std::move(options)) {
        require(o_.epochs >= 0, "trainer: epochs must be >= 0, got ", o_.epochs);
        require(o_.checkpoint_every >= 0, "trainer: checkpoint_every must be >= 0, got ", o_.checkpoint_every);
        std::vector<double> counts{double(data.train.size()), double(data.val.size()), double(data.test.size())};
        s_.sum(std::span<double>(counts));
        global_train_ = static_cast<std::size_t>(counts[0]);
        global_val_ = static_cast<std::size_t>(counts[1]);
        global_test_ = static_cast<std::size_t>(counts[2]);
        require(global_train_ > 0, "trainer: no training nodes");
        const std::size_t loss_rows = seam::loss_rows(strategy);
        require_row_list("trainer: training rows", data.train.data(), data.train.size(), loss_rows);
        require_row_list("trainer: validation rows", data.val.data(), data.val.size(), loss_rows);
        require_row_list("trainer: test rows", data.test.data(), data.test.size(), loss_rows);
        // The features may sit where an earlier run's did (an allocator reuses addresses)
        // with other values: the first layer's cached Â·X must not outlive that run.
        model_.invalidate_cache();
        // The optimizer's moments exist before the first epoch (a device run then
        // uploads nothing inside one); a resumed run replaces them from the checkpoint.
        if (!opt_.has_state()) opt_.reset(model_.parameters());
        place_labels_and_rows();
    }

    train_result run() {
        train_result res;
        if (!o_.resume.empty()) load(o_.resume, res);
        for (int epoch = res.resumed_from_epoch + 1; epoch <= o_.epochs; ++epoch) {
            const auto t0 = std::chrono::steady_clock::now();
            trace::span epoch_span("epoch", trace::category::step);
            epoch_metrics m;
            m.epoch = epoch;
            if (data_.layout_version != placed_version_) place_labels_and_rows();  // re-cut rows
            // Training step.
            {
                trace::span sp("forward", trace::category::step);
                model_.forward(s_, data_.features, true, splitmix64(o_.seed ^ splitmix64(std::uint64_t(epoch))));
            }
            detail::debug_fault_point(s_.rank(), epoch);
            const double l2 = model_.l2_penalty();
            const auto params = model_.parameters();
            std::vector<double> sums(4, 0.0);
            {
                trace::span sp("backward", trace::category::step);
                sums[0] = model_.backward(s_, labels(), std::span<const index_t>(rows(0), data_.train.size()),
                                          global_train_);
            }
            {
                trace::span sp("optimizer", trace::category::optimizer);
                opt_.step(params);
            }
            {  // Evaluation with dropout off on the updated weights.
                trace::span sp("evaluation", trace::category::eval);
                const auto logits = model_.forward(s_, data_.features, false, 0);
                sums[1] = double(B::count_correct(logits, labels(), rows(0), data_.train.size()));
                sums[2] = double(B::count_correct(logits, labels(), rows(1), data_.val.size()));
                sums[3] = double(B::count_correct(logits, labels(), rows(2), data_.test.size()));
                s_.sum(std::span<double>(sums));
            }
            m.loss = sums[0] / double(global_train_) + l2;
            m.train_acc = sums[1] / double(global_train_);
            m.val_acc = global_val_ ? sums[2] / double(global_val_) : 0.0;
            m.test_acc = global_test_ ? sums[3] / double(global_test_) : 0.0;
            m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            res.history.push_back(m);
            best_.offer(m, res);
            if (o_.on_epoch) o_.on_epoch(m);
            if (!o_.checkpoint.empty() && o_.checkpoint_every > 0 && epoch % o_.checkpoint_every == 0)
                save(o_.checkpoint, epoch, res);
            if (o_.patience > 0 && epoch - res.best_val_epoch >= o_.patience) {
                res.stopped_early = true;
                break;
            }
        }
        best_.restore();
        return res;
    }

    std::size_t global_train() const noexcept { return global_train_; }

private:
    // A device backend's copies of the labels and train/val/test rows (the host reads
    // data_ directly).
    void place_labels_and_rows() {
        placed_version_ = data_.layout_version;
        if constexpr (!backend::host_accessible<B>()) {
            require(data_.labels != nullptr || seam::loss_rows(s_) == 0, "trainer: no labels");
            const std::size_t n = seam::loss_rows(s_);
            labels_ = backend::make_array<B>(std::vector<std::int32_t>(data_.labels, data_.labels + n));
            rows_[0] = backend::make_array<B>(data_.train);
            rows_[1] = backend::make_array<B>(data_.val);
            rows_[2] = backend::make_array<B>(data_.test);
        }
    }

    // Labels and train/val/test rows where the backend reads them.
    const std::int32_t* labels() const {
        if constexpr (backend::host_accessible<B>()) return data_.labels;
        else return labels_.data();
    }
    const index_t* rows(int which) const {
        if constexpr (backend::host_accessible<B>())
            return which == 0 ? data_.train.data() : which == 1 ? data_.val.data() : data_.test.data();
        else return rows_[which].data();
    }

    // Parameters are replicated; rank 0 writes the checkpoint (detail::checkpoint_state).
    void save(const std::filesystem::path& path, int epoch, const train_result& res) {
        if (s_.rank() != 0) return;
        ck_.save(path, epoch, res);
    }
    void load(const std::filesystem::path& path, train_result& res) { ck_.load(path, res); }

    S& s_;
    nn::gcn_model<B, V>& model_;
    nn::optimizer<B, V>& opt_;
    const local_data<V>& data_;
    trainer_options o_;
    std::size_t global_train_ = 0, global_val_ = 0, global_test_ = 0;
    backend::array<B, std::int32_t> labels_;  // device backends only
    backend::array<B, index_t> rows_[3];
    std::uint64_t placed_version_ = 0;
    best_weights<B, V> best_{model_};
    detail::checkpoint_state<B, V> ck_{model_, opt_, best_, o_};
};

}  // namespace mixgcn::train
