#pragma once
// --balance on (or the slow-rank emulation): --strategy graph or mixture under the load
// balancer, shared by the host strategies (train_host.hpp) and backend::cuda
// (train_cuda.cu). The re-cut comes from the caller: the partitioners stay in the host
// translation unit.
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mixgcn/backend/memory.hpp"
#include "mixgcn/parallel/balance.hpp"
#include "train_run.hpp"

namespace mixgcn::train_tool {

// Rank 0's re-cut for the given target shares (one per rank).
using balance_recut_fn = std::function<std::vector<int>(std::span<const double>)>;

// ctx with the tool's trainer options `to`: the same training call, the same outputs.
template <class B, class V, class Comm>
run_context<B, V, Comm> with_options(run_context<B, V, Comm>& ctx, const train::trainer_options& to) {
    run_context<B, V, Comm> inner{ctx.a,        ctx.comm,  ctx.quiet, ctx.strategy_name, ctx.ds,
                                  ctx.adjacency, ctx.mode, ctx.model, ctx.opt,           to,
                                  ctx.seed,     {},        {},        {},                ctx.device,
                                  ctx.device_peak_bytes, ctx.logits, ctx.embeddings};
    inner.nonzeros = ctx.nonzeros;
    return inner;
}

// Inner: parallel::graph or parallel::mixture over (B, V, Comm). `to` carries the run's
// trainer options (the balancer adds its per-epoch step); rank 0 prints every rebalance.
template <class Inner, class B, class V, class Comm>
parallel::strategy_report train_balanced(run_context<B, V, Comm>& ctx, train::trainer_options to,
                                         const graph::gcn_operator<index_t, V>& op, std::vector<int> owner,
                                         std::span<const index_t> original_ids, int chunks, balance_recut_fn recut) {
    const cli::args& a = ctx.a;
    parallel::balance_options bo;
    const bool on = a.get("balance", "off") == "on";
    bo.threshold = a.number<double>("balance-threshold", bo.threshold);
    bo.patience = a.number<int>("balance-patience", bo.patience);
    bo.max_rebalances = on ? bo.max_rebalances : 0;
    bo.slow_rank = a.number<int>("debug-slow-rank", -1);
    bo.slow_factor = a.number<double>("debug-slow-factor", 1);
    parallel::balancer<B, V, Comm, Inner> bal(ctx.comm, op, ctx.adjacency, std::move(owner), original_ids, ctx.ds,
                                              std::move(recut), ctx.model, bo, chunks);
    to.on_epoch = [&bal, &ctx, prev = to.on_epoch, last = ctx.to.epochs](const train::epoch_metrics& m) {
        if (prev) prev(m);
        const auto before = bal.report().rebalances.size();
        bal.after_epoch(m, m.epoch < last);
        const auto& r = bal.report();
        if (ctx.quiet || r.rebalances.size() == before) return;
        const auto& e = r.rebalances.back();
        std::string rows;
        for (const auto n : e.rows) rows += " " + std::to_string(n);
        std::printf("rebalance after epoch %d: busy max/mean %.3f; rows per rank%s (%llu moved, %.3f s)\n", e.epoch,
                    e.ratio_before, rows.c_str(), static_cast<unsigned long long>(e.rows_moved), e.seconds);
    };
    auto inner = with_options(ctx, to);
    inner.train_with(bal.strategy(), bal.data());
    ctx.res = std::move(inner.res);
    const auto r = bal.strategy().report();
    ctx.mem.features = bal.inputs().bytes();
    if constexpr (backend::host_accessible<B>())  // outputs are gathered on the host backends only
        if (inner.logits || inner.embeddings) inner.gather_outputs(bal.strategy(), bal.data());
    ctx.balance = bal.report();
    return r;
}

}  // namespace mixgcn::train_tool
