#!/usr/bin/env python3
"""Bar chart of bench/epoch.sh results: epoch time per graph for mixgcn, PyTorch and PyG.

usage: bench/epoch_plot.py EPOCH_JSON [EPOCH_JSON ...] [-o epoch.png] [--log]

Each EPOCH_JSON is the DIR/epoch.json that one bench/epoch.sh run writes (a folder holding
one works too); each becomes a group of bars labelled with its graph and thread count. A run
that did not finish (OOM, timeout, not installed, failed) gets a hatched bar to the top of
the axis with its status written on it, so a missing bar is never mistaken for a fast one.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt

SYSTEMS = [("mixgcn", "mixgcn", "tab:blue"), ("pytorch", "PyTorch", "tab:orange"), ("pyg", "PyG", "tab:green")]


def load(path):
    if os.path.isdir(path):
        path = os.path.join(path, "epoch.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        sys.exit(f"epoch_plot.py: cannot read {path}: {exc}")


def label(cfg):
    n = cfg.get("nodes", 0)
    size = f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else str(n)
    return (f"{cfg.get('shape', 'sbm')} {size} nodes\ndeg {cfg.get('avg_degree', 0):g}, "
            f"F {cfg.get('features', '?')}\n{cfg.get('threads', '?')} thr, {cfg.get('backend') or 'host'}")


def outcome(run):
    """(seconds or None, status): None when the run gave no epoch time."""
    if run is None:
        return None, None  # peer not requested in that run: no bar at all
    status = run.get("status", "ok")  # files from before statuses existed are all "ok"
    t = run.get("epoch_time_median_s")
    return (t, "ok") if status == "ok" and t else (None, status)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+", help="epoch.json files (or folders holding one)")
    ap.add_argument("-o", "--output", default="epoch.png", help="PNG to write (default epoch.png)")
    ap.add_argument("--log", action="store_true", help="logarithmic time axis")
    args = ap.parse_args()

    results = [load(p) for p in args.inputs]
    width = 0.8 / len(SYSTEMS)
    fig, ax = plt.subplots(figsize=(max(6, 2.4 * len(results)), 4.5))
    failed = []  # (x, status, colour): drawn once the axis range is known
    times = []
    for i, res in enumerate(results):
        for j, (key, name, colour) in enumerate(SYSTEMS):
            t, status = outcome(res.get(key))
            x = i + (j - (len(SYSTEMS) - 1) / 2) * width
            if t is not None:
                ax.bar(x, t * 1e3, width, color=colour, label=name if i == 0 else None)
                ax.text(x, t * 1e3, f"{t * 1e3:.0f}", ha="center", va="bottom", fontsize=7)
                times.append(t * 1e3)
            elif status is not None:
                failed.append((x, status, colour))
    top = max(times, default=1.0) * (3 if args.log else 1.25)
    if args.log:
        ax.set_yscale("log")
        ax.set_ylim(min(times, default=1.0) / 3, top)
    else:
        ax.set_ylim(0, top)
    for x, status, colour in failed:
        ax.bar(x, top, width, bottom=None, color="none", edgecolor=colour, hatch="//", linewidth=1)
        ax.text(x, top * (0.5 if not args.log else 0.3), status, rotation=90, ha="center", va="center",
                fontsize=8, color="black", bbox=dict(facecolor="white", edgecolor="none", pad=1))
    # Legend entries for systems that only ever failed still need their colour.
    handles, names = ax.get_legend_handles_labels()
    for key, name, colour in SYSTEMS:
        if name not in names and any(res.get(key) for res in results):
            handles.append(plt.Rectangle((0, 0), 1, 1, color="none", ec=colour, hatch="//"))
            names.append(name)
    ax.legend(handles, names, loc="upper left", fontsize=8)
    ax.set_xticks(range(len(results)), [label(r.get("config", {})) for r in results], fontsize=8)
    ax.set_ylabel("epoch time, median (ms)")
    ax.set_title("GCN epoch time (train step + evaluation)\nhatched: no result (OOM, timeout, not installed)", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
