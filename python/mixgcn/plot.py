"""mixgcn-plot: pictures of one or several ``mixgcn-train --json`` files.

    mixgcn-plot run1.json run2.json [--out DIR] [--prefix NAME]

writes, into DIR (default: the current folder),

* ``<prefix>curves.png``: training loss and validation accuracy per epoch, one line per run;
* ``<prefix>ranks.png``: median epoch time and payload bytes sent per rank (measured, and
  the cost model's prediction where the JSON has it), grouped by run;
* ``<prefix>memory.png``: what the library holds by purpose (graph, features,
  activations, parameters and optimizer, communication) beside the peak RSS, per run.

A run is labelled by its strategy, rank count, communicator and dataset. Needs matplotlib
(``pip install matplotlib``); nothing else of mixgcn, so it also draws files written on
another machine.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

__all__ = ["label_of", "load_run", "main", "plot_runs"]

MEMORY_PARTS = ("graph", "features", "activations", "parameters_optimizer", "communication")


def load_run(path: str | pathlib.Path) -> dict:
    """The JSON of one run, checked for the fields the pictures need."""
    path = pathlib.Path(path)
    try:
        run = json.loads(path.read_text())
    except OSError as e:
        raise SystemExit(f"mixgcn-plot: {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise SystemExit(f"mixgcn-plot: {path}:{e.lineno}: not JSON ({e.msg})") from None
    for key in ("config", "epochs"):
        if key not in run:
            raise SystemExit(f"mixgcn-plot: {path}: no '{key}' field (is this a mixgcn-train --json file?)")
    return run


def label_of(run: dict) -> str:
    c = run["config"]
    name = run.get("dataset", {}).get("name", c.get("data", "?"))
    return f"{c.get('strategy', '?')} x{c.get('ranks', 1)} {c.get('comm', '')} ({name})".replace("  ", " ")


def _unique_labels(runs: list[dict]) -> list[str]:
    labels = [label_of(r) for r in runs]
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if labels.count(lab) == 1 else f"{lab} #{seen[lab]}")
    return out


def plot_runs(runs: list[dict], out: pathlib.Path, prefix: str = "") -> list[pathlib.Path]:
    """Draws the three pictures of `runs`; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    labels = _unique_labels(runs)
    written = []

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for run, lab in zip(runs, labels):
        ep = [e["epoch"] for e in run["epochs"]]
        loss_ax.plot(ep, [e["loss"] for e in run["epochs"]], label=lab)
        acc_ax.plot(ep, [e.get("val_acc", float("nan")) for e in run["epochs"]], label=lab)
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    acc_ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(out / f"{prefix}curves.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, (time_ax, bytes_ax) = plt.subplots(1, 2, figsize=(11, 4))
    time_ax.bar(range(len(runs)), [r.get("epoch_time_median_s", 0.0) * 1e3 for r in runs])
    time_ax.set_xticks(range(len(runs)), labels, rotation=20, ha="right", fontsize=8)
    time_ax.set(ylabel="median epoch time (ms)", title="epoch time")
    width = 0.8 / max(1, max(len(r.get("ranks", [])) for r in runs))
    named = set()  # one legend entry per rank number
    for i, run in enumerate(runs):
        for k, rank in enumerate(run.get("ranks", [])):
            x = i - 0.4 + (k + 0.5) * width
            bytes_ax.bar(x, rank.get("bytes_sent", 0) / 2**20, width * 0.9, color=f"C{k % 10}",
                         label=None if k in named else f"rank {k}")
            named.add(k)
            if "predicted_bytes_sent" in rank:
                bytes_ax.plot([x - width * 0.45, x + width * 0.45], [rank["predicted_bytes_sent"] / 2**20] * 2, "k-")
    bytes_ax.set_xticks(range(len(runs)), labels, rotation=20, ha="right", fontsize=8)
    bytes_ax.set(ylabel="MiB sent per rank (whole run)", title="sent per rank (bar: measured, line: predicted)")
    if any(run.get("ranks") for run in runs):
        bytes_ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(out / f"{prefix}ranks.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, run in enumerate(runs):
        mem = run.get("memory", {})
        bottom = 0.0
        for k, part in enumerate(MEMORY_PARTS):
            v = mem.get(part, 0) / 2**20
            ax.bar(i - 0.2, v, 0.4, bottom=bottom, color=f"C{k}", label=part if i == 0 else None)
            bottom += v
        ax.bar(i + 0.2, run.get("peak_rss_bytes", 0) / 2**20, 0.4, color="0.6", label="peak RSS" if i == 0 else None)
    ax.set_xticks(range(len(runs)), labels, rotation=20, ha="right", fontsize=8)
    ax.set(ylabel="MiB (rank 0)", title="memory by purpose beside peak RSS")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(out / f"{prefix}memory.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixgcn-plot", description="Pictures of mixgcn-train --json files.")
    parser.add_argument("json", nargs="+", help="mixgcn-train --json output files")
    parser.add_argument("--out", default=".", help="folder for the PNG files (default: .)")
    parser.add_argument("--prefix", default="", help="prefix of the file names")
    args = parser.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("mixgcn-plot: needs matplotlib (python3 -m pip install matplotlib)", file=sys.stderr)
        return 2
    runs = [load_run(p) for p in args.json]
    for path in plot_runs(runs, pathlib.Path(args.out), args.prefix):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
