#!/usr/bin/env python3
"""Tabulate and plot the runs of bench/pipeline_balance.sh.

usage: bench/pipeline_balance_plot.py [--out F.png] [--table F.md] [--summary F.json] DIR

Left: median epoch time per configuration (data, data --accumulate, pipeline S=2, S=4),
with each pipeline's measured bubble (mean over ranks) beside the (S-1)/(M+S-1) formula.
Right: the slow-rank experiment, max/mean busy seconds per epoch with the balancer off
and on. A run that failed (no JSON) is listed as such. matplotlib is pip-installed if missing.
"""
import argparse
import json
import os
import subprocess
import sys

MiB = 2.0**20
CONFIGS = ["data", "data_accumulate", "pipeline_s2", "pipeline_s4"]


def need_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"]
        if subprocess.call(cmd) != 0:
            sys.exit("pipeline_balance_plot.py: matplotlib is missing and pip could not install it")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def load(d, name):
    path = os.path.join(d, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--out", default="pipeline_balance.png")
    ap.add_argument("--table", default=None)
    ap.add_argument("--summary", default=None)
    a = ap.parse_args()
    rows, summary = [], {"configs": {}, "slow_rank": {}}
    for name in CONFIGS:
        j = load(a.dir, name)
        if j is None:
            rows.append(f"| {name} | failed | | | | |")
            summary["configs"][name] = None
            continue
        ranks = j["ranks"]
        pipe = j.get("pipeline")
        bubble = sum(r["bubble"] for r in pipe["ranks"]) / len(pipe["ranks"]) if pipe else 0.0
        ideal = pipe["ideal_bubble"] if pipe else 0.0
        act = max(r["peak_activation_bytes"] for r in pipe["ranks"]) if pipe else None
        rss = max(r["peak_rss_bytes"] for r in ranks)
        s = {
            "ranks": len(ranks),
            "epoch_median_s": j["epoch_time_median_s"],
            "bubble": bubble,
            "ideal_bubble": ideal,
            "peak_activation_bytes": act,
            "peak_rss_bytes": rss,
            "final_loss": j["epochs"][-1]["loss"],
            "test_accuracy": j.get("test_accuracy"),
        }
        summary["configs"][name] = s
        rows.append(
            f"| {name} | {s['epoch_median_s']:.3f} | {bubble:.3f} | {ideal:.3f} | "
            + (f"{act / MiB:.1f}" if act is not None else "-")
            + f" | {rss / MiB:.0f} |"
        )
    for b in ("off", "on"):
        j = load(a.dir, "slow_rank_balance_" + b)
        summary["slow_rank"][b] = [e["ratio"] for e in j["balance"]["epochs"]] if j else None
    table = ["| run | median epoch s | measured bubble | (S-1)/(M+S-1) | peak activations MiB | peak RSS MiB |",
             "|---|---|---|---|---|---|"] + rows
    for b in ("off", "on"):
        r = summary["slow_rank"][b]
        table.append("")
        table.append(f"slow rank, balance {b}: max/mean busy per epoch " +
                     (", ".join(f"{x:.2f}" for x in r) if r else "failed"))
    print("\n".join(table))
    if a.table:
        with open(a.table, "w") as f:
            f.write("\n".join(table) + "\n")
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f, indent=1)
    plt = need_matplotlib()
    fig, (l, r) = plt.subplots(1, 2, figsize=(11, 4))
    names = [n for n in CONFIGS if summary["configs"][n]]
    l.bar(names, [summary["configs"][n]["epoch_median_s"] for n in names], color="#4c72b0")
    l.set_ylabel("median epoch (s)")
    for i, n in enumerate(names):
        c = summary["configs"][n]
        if n.startswith("pipeline"):
            l.annotate(f"bubble {c['bubble']:.2f}\n(ideal {c['ideal_bubble']:.2f})", (i, c["epoch_median_s"]),
                       ha="center", va="bottom", fontsize=8)
    l.set_title("pipeline vs data, same ranks")
    l.tick_params(axis="x", labelrotation=15)
    for b, style in (("off", "o-"), ("on", "s-")):
        v = summary["slow_rank"][b]
        if v:
            r.plot(range(1, len(v) + 1), v, style, label=f"balance {b}")
    r.axhline(1.0, color="grey", lw=0.8)
    r.set_xlabel("epoch")
    r.set_ylabel("max / mean busy seconds")
    r.set_title("rank 1 emulated 3x slower (graph, 2 ranks)")
    r.legend()
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
