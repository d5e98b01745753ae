"""mixgcn-plot draws the pictures of mixgcn-train --json files (skipped without matplotlib)."""

import json
import os
import pathlib
import struct
import subprocess

import pytest

matplotlib = pytest.importorskip("matplotlib", reason="mixgcn-plot needs matplotlib (pip install matplotlib)")

from mixgcn import plot  # noqa: E402


def png_size(path):
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def train_binary():
    """The mixgcn-train binary ctest names, or a skip."""
    binary = os.environ.get("MIXGCN_TRAIN_BIN")
    if not binary or not pathlib.Path(binary).exists():
        pytest.skip("MIXGCN_TRAIN_BIN does not name a mixgcn-train binary (ctest sets it)")
    return binary


def fake_run(strategy, ranks, epochs=5):
    return {
        "config": {"strategy": strategy, "ranks": ranks, "comm": "mpi", "data": "generated:sbm"},
        "dataset": {"name": "sbm"},
        "epochs": [{"epoch": e, "loss": 2.0 / e, "train_acc": 0.1 * e, "val_acc": 0.1 * e, "seconds": 0.01}
                   for e in range(1, epochs + 1)],
        "epoch_time_median_s": 0.01,
        "peak_rss_bytes": 100 << 20,
        "memory": {"graph": 1 << 20, "features": 2 << 20, "activations": 3 << 20, "parameters_optimizer": 1 << 10,
                   "communication": 1 << 19},
        "ranks": [{"rank": r, "bytes_sent": (r + 1) << 20, "predicted_bytes_sent": (r + 1) << 20}
                  for r in range(ranks)],
    }


def test_plots_several_runs(tmp_path):
    files = []
    for k, (s, p) in enumerate([("graph", 2), ("mixture", 4), ("graph", 2)]):
        files.append(tmp_path / f"run{k}.json")
        files[-1].write_text(json.dumps(fake_run(s, p)))
    assert plot.main([str(f) for f in files] + ["--out", str(tmp_path / "pics"), "--prefix", "x-"]) == 0
    sizes = {name: png_size(tmp_path / "pics" / f"x-{name}.png") for name in ("curves", "ranks", "memory")}
    assert sizes["curves"] == (1210, 440)
    assert sizes["ranks"] == (1210, 440)
    assert sizes["memory"] == (770, 440)
    # Two runs with one label are told apart.
    assert plot._unique_labels([fake_run("graph", 2), fake_run("graph", 2)]) == [
        "graph x2 mpi (sbm) #1", "graph x2 mpi (sbm) #2"]


def test_plots_a_real_mixgcn_train_json(tmp_path):
    binary = train_binary()
    out = tmp_path / "run.json"
    subprocess.run([binary, "--epochs", "3", "--nodes", "1000", "--threads", "1", "--json", str(out), "--quiet"],
                   check=True, capture_output=True)
    written = plot.plot_runs([plot.load_run(out)], tmp_path)
    assert [p.name for p in written] == ["curves.png", "ranks.png", "memory.png"]
    for p in written:
        assert p.stat().st_size > 5000


def test_bad_files_are_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit, match=r"bad.json:1: not JSON"):
        plot.load_run(bad)
    other = tmp_path / "other.json"
    other.write_text("{}")
    with pytest.raises(SystemExit, match=r"other.json: no 'config' field"):
        plot.load_run(other)
    with pytest.raises(SystemExit, match=r"missing.json"):
        plot.load_run(tmp_path / "missing.json")


def fake_trace(ranks=2, epochs=3):
    events = []
    for r in range(ranks):
        events.append({"name": "process_name", "ph": "M", "pid": r, "tid": 0, "args": {"name": f"rank {r}"}})
        for e in range(epochs):
            t = 1000.0 * e
            events += [
                {"name": "epoch", "cat": "step", "ph": "X", "pid": r, "tid": 0, "ts": t, "dur": 900.0},
                {"name": "forward", "cat": "step", "ph": "X", "pid": r, "tid": 0, "ts": t, "dur": 400.0},
                {"name": "aggregation", "cat": "layer", "ph": "X", "pid": r, "tid": 0, "ts": t + 10, "dur": 300.0},
                {"name": "halo wait", "cat": "comm", "ph": "X", "pid": r, "tid": 0, "ts": t + 20, "dur": 50.0},
                {"name": "optimizer", "cat": "optimizer", "ph": "X", "pid": r, "tid": 0, "ts": t + 500, "dur": 80.0},
            ]
    return {"traceEvents": events}


def test_plots_a_trace_timeline(tmp_path):
    trace = tmp_path / "run.trace.json"
    trace.write_text(json.dumps(fake_trace()))
    assert plot.main(["--trace", str(trace), "--out", str(tmp_path / "pics"), "--epochs", "1:3"]) == 0
    width, height = png_size(tmp_path / "pics" / "timeline.png")
    assert width == 1540
    # Two ranks of three nested rows each: taller than one rank's band.
    one = tmp_path / "one.trace.json"
    one.write_text(json.dumps(fake_trace(ranks=1)))
    assert plot.main(["--trace", str(one), "--out", str(tmp_path / "one")]) == 0
    assert png_size(tmp_path / "one" / "timeline.png")[1] < height
    with pytest.raises(SystemExit, match=r"--epochs 2:5 is outside the trace's epochs 1..3"):
        plot.plot_trace(plot.load_trace(trace), tmp_path, epochs=(2, 5))


def test_bad_traces_are_named(tmp_path):
    bad = tmp_path / "bad.trace.json"
    bad.write_text(json.dumps({"events": []}))
    with pytest.raises(SystemExit, match=r"bad.trace.json: no 'traceEvents' list"):
        plot.load_trace(bad)
    bad.write_text(json.dumps({"traceEvents": [{"name": "epoch", "ph": "X", "pid": 0, "ts": 0}]}))
    with pytest.raises(SystemExit, match=r"a span without 'cat'"):
        plot.load_trace(bad)


def test_plots_a_real_trace(tmp_path):
    binary = train_binary()
    trace = tmp_path / "run.trace.json"
    subprocess.run([binary, "--epochs", "3", "--nodes", "1000", "--threads", "1", "--trace", str(trace), "--quiet"],
                   check=True, capture_output=True)
    path = plot.plot_trace(plot.load_trace(trace), tmp_path)
    assert path.name == "timeline.png" and path.stat().st_size > 5000
