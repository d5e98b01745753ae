"""mixgcn-plot: pictures of one or several ``mixgcn-train --json`` files.

    mixgcn-plot run1.json run2.json [--out DIR] [--prefix NAME]
    mixgcn-plot --trace run.trace.json [--epochs FIRST:LAST] [--out DIR] [--prefix NAME]

writes, into DIR (default: the current folder),

* ``<prefix>curves.png``: training loss and validation accuracy per epoch, one line per run;
* ``<prefix>ranks.png``: median epoch time and payload bytes sent per rank (measured, and
  the cost model's prediction where the JSON has it), grouped by run;
* ``<prefix>memory.png``: what the library holds by purpose (graph, features,
  activations, parameters and optimizer, communication) beside the peak RSS, per run;
* with ``--trace``, ``<prefix>timeline.png``: a ``mixgcn-train --trace`` file drawn as
  Perfetto draws it, one band per rank, nested spans stacked below their parents, coloured
  by category (compute, comm, dense, ...), over the epochs FIRST..LAST (default: the last two).

A run is labelled by its strategy, rank count, communicator and dataset. Needs matplotlib
(``pip install matplotlib``); nothing else of mixgcn, so it also draws files written on
another machine.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

__all__ = ["label_of", "load_run", "load_trace", "main", "plot_runs", "plot_trace"]

MEMORY_PARTS = ("graph", "features", "activations", "parameters_optimizer", "communication")


def _read_json(path: pathlib.Path):
    """The parsed file; an unreadable or malformed one ends the program, named."""
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise SystemExit(f"mixgcn-plot: {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise SystemExit(f"mixgcn-plot: {path}:{e.lineno}: not JSON ({e.msg})") from None


def load_run(path: str | pathlib.Path) -> dict:
    """The JSON of one run, checked for the fields the pictures need."""
    path = pathlib.Path(path)
    run = _read_json(path)
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


CATEGORY_COLOURS = {"step": "0.82", "layer": "#9ecae1", "dense": "#fdae6b", "compute": "#74c476",
                    "comm": "#e6550d", "optimizer": "#9e9ac8", "eval": "#fdd0a2", "setup": "#bdbdbd"}


def load_trace(path: str | pathlib.Path) -> list[dict]:
    """The complete ("X") spans of a Chrome trace file, checked for the fields drawn."""
    path = pathlib.Path(path)
    trace = _read_json(path)
    events = trace.get("traceEvents") if isinstance(trace, dict) else None
    if not isinstance(events, list):
        raise SystemExit(f"mixgcn-plot: {path}: no 'traceEvents' list (is this a mixgcn-train --trace file?)")
    spans = [e for e in events if isinstance(e, dict) and e.get("ph") == "X"]
    for e in spans:
        for key in ("name", "cat", "pid", "ts", "dur"):
            if key not in e:
                raise SystemExit(f"mixgcn-plot: {path}: a span without '{key}': {e}")
    if not spans:
        raise SystemExit(f"mixgcn-plot: {path}: no spans")
    return spans


def _window(spans: list[dict], epochs: tuple[int, int] | None) -> tuple[float, float]:
    """[begin, end] in microseconds of rank 0's epochs FIRST..LAST (1-based; default the last two)."""
    first_rank = min(e["pid"] for e in spans)
    mine = sorted((e for e in spans if e["name"] == "epoch" and e["pid"] == first_rank), key=lambda e: e["ts"])
    if not mine:
        return min(e["ts"] for e in spans), max(e["ts"] + e["dur"] for e in spans)
    first, last = epochs if epochs else (max(1, len(mine) - 1), len(mine))
    if not 1 <= first <= last <= len(mine):
        raise SystemExit(f"mixgcn-plot: --epochs {first}:{last} is outside the trace's epochs 1..{len(mine)}")
    begin, end = mine[first - 1]["ts"], mine[last - 1]["ts"] + mine[last - 1]["dur"]
    return begin - 0.01 * (end - begin), end + 0.01 * (end - begin)


def plot_trace(spans: list[dict], out: pathlib.Path, prefix: str = "",
               epochs: tuple[int, int] | None = None) -> pathlib.Path:
    """Draws the timeline of a --trace file's spans; returns the file written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    out.mkdir(parents=True, exist_ok=True)
    begin, end = _window(spans, epochs)
    ranks = sorted({e["pid"] for e in spans})
    # Depth of each span in its rank's nesting (a span inside another goes one row lower).
    rows = {}
    for r in ranks:
        stack: list[float] = []
        for e in sorted((x for x in spans if x["pid"] == r), key=lambda x: (x["ts"], -x["dur"])):
            while stack and stack[-1] <= e["ts"] + 1e-3:
                stack.pop()
            rows[id(e)] = len(stack)
            stack.append(e["ts"] + e["dur"])
    depth = 1 + max(rows.values())
    fig, ax = plt.subplots(figsize=(14, 1.0 + 0.32 * depth * len(ranks)))
    seen = set()
    for i, r in enumerate(ranks):
        top = i * (depth + 1)
        for e in spans:
            if e["pid"] != r or e["ts"] + e["dur"] < begin or e["ts"] > end:
                continue
            y = top + rows[id(e)]
            x0, w = (e["ts"] - begin) / 1e3, e["dur"] / 1e3
            colour = CATEGORY_COLOURS.get(e["cat"], "0.6")
            ax.barh(y, w, left=x0, height=0.9, color=colour, edgecolor="0.3", linewidth=0.3)
            seen.add(e["cat"])
            if w > 0.045 * (end - begin) / 1e3:
                ax.text(x0 + w / 2, y, e["name"], ha="center", va="center", fontsize=6, clip_on=True)
    ax.set_yticks([i * (depth + 1) + (depth - 1) / 2 for i in range(len(ranks))], [f"rank {r}" for r in ranks])
    ax.set_ylim(len(ranks) * (depth + 1) - 1, -1)
    ax.set_xlim(0, (end - begin) / 1e3)
    ax.set_xlabel("ms")
    ax.legend(handles=[Patch(color=CATEGORY_COLOURS.get(c, "0.6"), label=c) for c in sorted(seen)],
              fontsize=7, ncol=len(seen), loc="lower right", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path = out / f"{prefix}timeline.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _epoch_range(text: str) -> tuple[int, int]:
    try:
        first, _, last = text.partition(":")
        return int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FIRST:LAST epochs, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixgcn-plot", description="Pictures of mixgcn-train --json files.")
    parser.add_argument("json", nargs="*", help="mixgcn-train --json output files")
    parser.add_argument("--trace", help="a mixgcn-train --trace file: draw its timeline")
    parser.add_argument("--epochs", type=_epoch_range, help="the trace's epochs to draw, FIRST:LAST (default: last two)")
    parser.add_argument("--out", default=".", help="folder for the PNG files (default: .)")
    parser.add_argument("--prefix", default="", help="prefix of the file names")
    args = parser.parse_args(argv)
    if not args.json and not args.trace:
        parser.error("give --json files, or --trace FILE")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("mixgcn-plot: needs matplotlib (python3 -m pip install matplotlib)", file=sys.stderr)
        return 2
    if args.trace:
        print(plot_trace(load_trace(args.trace), pathlib.Path(args.out), args.prefix, args.epochs))
    if args.json:
        runs = [load_run(p) for p in args.json]
        for path in plot_runs(runs, pathlib.Path(args.out), args.prefix):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
