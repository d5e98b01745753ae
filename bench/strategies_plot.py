#!/usr/bin/env python3
"""Plot and tabulate mixgcn-bench-strategies JSON files (bench/strategies.sh writes them).

usage: bench/strategies_plot.py [--out strategies.png] [--table strategies.md] FILE.json...

One row of panels per graph: MiB sent per rank per epoch (bar = largest rank, dot = mean
over ranks, cross = cost-model prediction for the largest rank) and median epoch time, by
strategy, one bar per rank count. Runs with more ranks x threads than cores are marked
"oversubscribed": their times are not scaling figures. The table (markdown) has one row
per graph x strategy x P. matplotlib is pip-installed for this user if it is missing.
"""
import argparse
import json
import subprocess
import sys

MiB = 2.0**20


def need_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("strategies_plot.py: installing matplotlib (pip --user)", file=sys.stderr)
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"]
        if subprocess.call(cmd) != 0 and subprocess.call(cmd[:4] + ["--user"] + cmd[4:]) != 0:
            sys.exit("strategies_plot.py: matplotlib is missing and pip could not install it")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def load(paths):
    runs = []  # one dict per graph x strategy x P
    for path in paths:
        with open(path) as f:
            j = json.load(f)
        graphs = {g["name"]: g for g in j["graphs"]}
        for r in j["runs"]:
            g = graphs[r["graph"]]
            e = j["epochs"]
            ranks = r["per_rank"]
            comp = [p["compute_seconds"] / e for p in ranks]
            mixture = r["strategy"].startswith("mixture")
            runs.append(
                {
                    "graph": r["graph"],
                    "graph_desc": f'{g["description"]}; {g["nodes"]} nodes, {g["nonzeros"] / 1e6:.2f} M non-zeros',
                    "P": j["ranks"],
                    "cores": j.get("cores", 0),
                    "oversubscribed": j.get("oversubscribed", False),
                    "strategy": r["strategy"],
                    "epoch_ms": r["epoch_time_median_s"] * 1e3,
                    "sent_max": r["bytes_sent_per_epoch_max"] / MiB,
                    "sent_mean": r["bytes_sent_per_epoch_mean"] / MiB,
                    "pred_max": r["predicted_bytes_sent_per_epoch_max"] / MiB,
                    "exact": r["bytes_match_prediction"],
                    "comp_max": max(comp) * 1e3,
                    "comp_mean": sum(comp) / len(comp) * 1e3,
                    "mem_max": r["total_bytes_max"] / MiB,
                    "rss_max": r["peak_rss_bytes_max"] / MiB,
                    "hidden": r["hidden_fraction"] if mixture else None,
                    "halo": r.get("total_halo", 0),
                }
            )
    return runs


def table(runs):
    order = {}
    for r in runs:
        order.setdefault(r["strategy"], len(order))
    gorder = {}
    for r in runs:
        gorder.setdefault(r["graph"], len(gorder))
    rows = sorted(runs, key=lambda r: (gorder[r["graph"]], r["P"], order[r["strategy"]]))
    head = (
        "| graph | P | strategy | epoch ms | MiB sent/rank/epoch max | mean | predicted max | = pred | "
        "compute ms max | mean | max/mean | mem MiB max | RSS MiB max | hidden |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        P = f'{r["P"]}' + ("*" if r["oversubscribed"] else "")
        hidden = f'{100 * r["hidden"]:.0f} %' if r["hidden"] is not None else "-"
        lines.append(
            f'| {r["graph"]} | {P} | {r["strategy"]} | {r["epoch_ms"]:.0f} | {r["sent_max"]:.2f} | '
            f'{r["sent_mean"]:.2f} | {r["pred_max"]:.2f} | {"yes" if r["exact"] else "NO"} | '
            f'{r["comp_max"]:.0f} | {r["comp_mean"]:.0f} | {r["comp_max"] / r["comp_mean"]:.2f} | '
            f'{r["mem_max"]:.1f} | {r["rss_max"]:.0f} | {hidden} |'
        )
    if any(r["oversubscribed"] for r in runs):
        cores = max(r["cores"] for r in runs)
        lines.append("")
        lines.append(
            f"\\* P ranks on {cores} cores: oversubscribed, so epoch and compute times are not scaling "
            "figures; byte volumes are exact; the compute balance (max/mean) is measured under core sharing, so noisier."
        )
    return "\n".join(lines)


def plot(runs, out):
    plt = need_matplotlib()
    graphs = list(dict.fromkeys(r["graph"] for r in runs))
    strategies = list(dict.fromkeys(r["strategy"] for r in runs))
    Ps = sorted({r["P"] for r in runs})
    fig, axes = plt.subplots(len(graphs), 2, figsize=(13, 4.2 * len(graphs)), squeeze=False)
    width = 0.8 / len(Ps)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, g in enumerate(graphs):
        by = {(r["strategy"], r["P"]): r for r in runs if r["graph"] == g}
        desc = next(r["graph_desc"] for r in runs if r["graph"] == g)
        for ai, (key, ylabel) in enumerate([("sent_max", "MiB sent per rank per epoch"), ("epoch_ms", "epoch time, median (ms)")]):
            ax = axes[gi][ai]
            for pi, P in enumerate(Ps):
                xs, ys = [], []
                for si, s in enumerate(strategies):
                    if (s, P) in by:
                        xs.append(si + (pi - (len(Ps) - 1) / 2) * width)
                        ys.append(by[(s, P)][key])
                over = any(by[(s, P)]["oversubscribed"] for s in strategies if (s, P) in by)
                label = f"P = {P}" + (" (oversubscribed: time not a scaling figure)" if over and key == "epoch_ms" else "")
                ax.bar(xs, ys, width * 0.95, color=colors[pi % len(colors)], label=label,
                       hatch="//" if over and key == "epoch_ms" else None, edgecolor="white")
                if key == "sent_max":
                    means = [by[(s, P)]["sent_mean"] for s in strategies if (s, P) in by]
                    preds = [by[(s, P)]["pred_max"] for s in strategies if (s, P) in by]
                    ax.plot(xs, means, "o", color="black", ms=4, label="mean over ranks" if pi == 0 else None)
                    ax.plot(xs, preds, "x", color="red", ms=7, label="predicted (cost model), max" if pi == 0 else None)
            ax.set_xticks(range(len(strategies)))
            ax.set_xticklabels(strategies)
            ax.set_ylabel(ylabel)
            ax.grid(axis="y", alpha=0.3)
            ax.set_title(f"{g}: {ylabel.split(',')[0]}", fontsize=10)
            ax.legend(fontsize=8)
        axes[gi][0].annotate(desc, (0, 1.09), xycoords="axes fraction", fontsize=8, color="0.3")
    cores = max(r["cores"] for r in runs)
    fig.suptitle(
        f"mixgcn full-graph strategies, 2-layer GCN, float, 1 thread per rank, {cores} cores"
        + ("; P > cores oversubscribes: byte volumes exact, times not scaling figures" if any(r["oversubscribed"] for r in runs) else ""),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("--out", default="strategies.png")
    ap.add_argument("--table", default="")
    a = ap.parse_args()
    runs = load(a.json)
    t = table(runs)
    print(t)
    if a.table:
        with open(a.table, "w") as f:
            f.write(t + "\n")
        print(f"table: {a.table}")
    plot(runs, a.out)


if __name__ == "__main__":
    main()
