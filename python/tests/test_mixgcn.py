"""Tests of the Python package `mixgcn` (docs/python.md).

Run by ctest (python_tests, with PYTHONPATH at the built package and MIXGCN_TRAIN_BIN at
mixgcn-train), or by hand:
    PYTHONPATH=build/python MIXGCN_TRAIN_BIN=build/tools/mixgcn-train python3 -m pytest -q python/tests
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import mixgcn

REPO = pathlib.Path(__file__).resolve().parents[2]


def random_csr(rows, cols, density, rng, index_dtype=np.int64):
    """A random CSR matrix (indptr, indices int32, values float64) and its dense twin."""
    dense = np.where(rng.random((rows, cols)) < density, rng.standard_normal((rows, cols)), 0.0)
    indptr = [0]
    indices = []
    values = []
    for r in range(rows):
        cs = np.nonzero(dense[r])[0]
        indices.extend(cs.tolist())
        values.extend(dense[r, cs].tolist())
        indptr.append(len(indices))
    return (np.asarray(indptr, dtype=index_dtype), np.asarray(indices, dtype=np.int32),
            np.asarray(values, dtype=np.float64), dense)


# ---- aggregate --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("width", [1, 7, 16, 130])  # generic tail, an instantiated width, wider
def test_aggregate_matches_dense_reference(dtype, index_dtype, width):
    rng = np.random.default_rng(width)
    indptr, indices, values, dense = random_csr(37, 29, 0.2, rng, index_dtype)
    x = rng.standard_normal((29, width)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # Weighted.
    y = mixgcn.aggregate(indptr, indices, x, values.astype(dtype))
    assert y.dtype == dtype and y.shape == (37, width)
    np.testing.assert_allclose(y, dense @ x.astype(np.float64), rtol=tol, atol=tol)
    # Pattern only: every stored entry counts 1.
    y1 = mixgcn.aggregate(indptr, indices, x)
    np.testing.assert_allclose(y1, (dense != 0).astype(np.float64) @ x.astype(np.float64), rtol=tol, atol=tol)


def test_aggregate_empty_rows_and_readonly_input():
    indptr = np.array([0, 0, 2, 2], dtype=np.int64)
    indices = np.array([0, 2], dtype=np.int32)
    x = np.arange(6, dtype=np.float64).reshape(3, 2)
    x.setflags(write=False)
    y = mixgcn.aggregate(indptr, indices, x)
    np.testing.assert_array_equal(y, [[0, 0], [4, 6], [0, 0]])


def test_aggregate_rejects_bad_arguments():
    indptr, indices, values, _ = random_csr(5, 5, 0.5, np.random.default_rng(0))
    x = np.ones((5, 4))
    with pytest.raises(TypeError, match="'x'"):
        mixgcn.aggregate(indptr, indices, x.astype(np.int64))
    with pytest.raises(TypeError, match="'x'"):
        mixgcn.aggregate(indptr, indices, [[1.0] * 4] * 5)
    with pytest.raises(ValueError, match="'x'"):
        mixgcn.aggregate(indptr, indices, np.ones(5))
    with pytest.raises(ValueError, match="'x'.*C-contiguous"):
        mixgcn.aggregate(indptr, indices, np.ones((4, 5)).T)
    with pytest.raises(ValueError, match="'x'.*C-contiguous"):
        mixgcn.aggregate(indptr, indices, np.ones((5, 8))[:, ::2])
    with pytest.raises(TypeError, match="'indices'"):
        mixgcn.aggregate(indptr, indices.astype(np.int64), x)
    with pytest.raises(TypeError, match="'indptr'"):
        mixgcn.aggregate(indptr.astype(np.float64), indices, x)
    with pytest.raises(ValueError, match="'indptr'"):
        mixgcn.aggregate(indptr[:-1], indices, x)
    with pytest.raises(ValueError, match="'indices'"):
        mixgcn.aggregate(indptr, np.full_like(indices, 5), x)
    with pytest.raises(ValueError, match="'indices'"):
        mixgcn.aggregate(indptr, indices, np.ones((3, 4)))  # column ids beyond x's rows
    with pytest.raises(TypeError, match="'values'"):
        mixgcn.aggregate(indptr, indices, x, values.astype(np.float32))
    with pytest.raises(ValueError, match="'values'"):
        mixgcn.aggregate(indptr, indices, x, values[:-1])


# ---- datasets ---------------------------------------------------------------------------

def test_generate_sbm_shapes_and_dtypes():
    d = mixgcn.generate_sbm(nodes=2000, avg_degree=6, classes=5, features=24, seed=3)
    n = 2000
    assert d["edge_index"].dtype == np.int64 and d["edge_index"].shape[0] == 2
    assert d["edge_index"].flags.c_contiguous
    assert 0 < d["edge_index"].shape[1] <= n * 6 // 2
    assert (d["train_mask"].sum(), d["val_mask"].sum(), d["test_mask"].sum()) == (100, 500, 1000)
    assert d["edge_index"].min() >= 0 and d["edge_index"].max() < n
    assert d["x"].shape == (n, 24) and d["x"].dtype == np.float32
    assert d["y"].shape == (n,) and d["y"].dtype == np.int64
    assert set(np.unique(d["y"])) == set(range(5)) and d["num_classes"] == 5
    masks = [d[k] for k in ("train_mask", "val_mask", "test_mask")]
    for m in masks:
        assert m.shape == (n,) and m.dtype == np.bool_ and m.any()
    assert not (masks[0] & masks[1]).any() and not (masks[0] & masks[2]).any() and not (masks[1] & masks[2]).any()
    # Deterministic in the seed, and float64 on request.
    again = mixgcn.generate_sbm(nodes=2000, avg_degree=6, classes=5, features=24, seed=3, dtype="float64")
    assert again["x"].dtype == np.float64
    np.testing.assert_array_equal(again["edge_index"], d["edge_index"])
    np.testing.assert_array_equal(again["x"], d["x"].astype(np.float64))
    with pytest.raises(ValueError, match="'dtype'"):
        mixgcn.generate_sbm(nodes=50, dtype="int8")
    small = mixgcn.generate_sbm(nodes=100, classes=2, train_per_class=5, val=20, test=30)
    assert (small["train_mask"].sum(), small["val_mask"].sum(), small["test_mask"].sum()) == (10, 20, 30)


def test_load_dataset_missing_folder_raises(tmp_path):
    with pytest.raises(OSError):
        mixgcn.load_dataset(tmp_path / "nothing-here")


def datasets_dir():
    return pathlib.Path(os.environ.get("MIXGCN_DATASETS_DIR", REPO.parent / "shared" / "datasets"))


def test_cora_loads_and_trains():
    cora = datasets_dir() / "cora"
    if not cora.is_dir():
        pytest.skip(f"no Cora at {cora} (set MIXGCN_DATASETS_DIR)")
    d = mixgcn.load_dataset(cora)
    assert d["x"].shape == (2708, 1433)
    assert d["num_classes"] == 7
    assert (d["train_mask"].sum(), d["val_mask"].sum(), d["test_mask"].sum()) == (140, 500, 1000)
    r = mixgcn.train(d["edge_index"], d["x"], d["y"], d["train_mask"], d["val_mask"], d["test_mask"], epochs=100)
    assert len(r["history"]) == 100
    assert r["test_accuracy"] > 0.75  # Kipf & Welling report 0.815
    assert r["logits"].shape == (2708, 7)


# ---- train ------------------------------------------------------------------------------

N = 2000  # Planetoid split: 20 per class, 500 validation, 1000 test nodes


def small_graph(dtype="float64"):
    return mixgcn.generate_sbm(nodes=N, avg_degree=8, classes=4, features=32, seed=7, dtype=dtype)


def train_args(d):
    return d["edge_index"], d["x"], d["y"], d["train_mask"], d["val_mask"], d["test_mask"]


def test_train_result_and_logits():
    d = small_graph()
    r = mixgcn.train(*train_args(d), epochs=30, precision="double")
    assert [h["epoch"] for h in r["history"]] == list(range(1, 31))
    assert set(r["history"][0]) >= {"epoch", "loss", "train_acc", "val_acc"}
    assert r["history"][-1]["loss"] < r["history"][0]["loss"]
    best = r["history"][r["best_val_epoch"] - 1]
    assert best["val_acc"] == r["best_val_acc"] == max(h["val_acc"] for h in r["history"])
    logits = r["logits"]
    assert logits.shape == (N, 4) and logits.dtype == np.float64
    # The logits are the restored best model's: its validation accuracy is the best one.
    val = d["val_mask"]
    acc = float((logits[val].argmax(1) == d["y"][val]).mean())
    assert acc == pytest.approx(r["best_val_acc"], abs=1e-12)
    test = d["test_mask"]
    assert float((logits[test].argmax(1) == d["y"][test]).mean()) == pytest.approx(r["test_accuracy"], abs=1e-12)
    # The embeddings: the last hidden layer's outputs (after ReLU) from the same forward.
    emb = r["embeddings"]
    assert emb.shape == (N, 16) and emb.dtype == np.float64
    assert (emb >= 0).all() and (emb > 0).any()
    # Same seed, same run; float32 precision gives float32 logits.
    again = mixgcn.train(*train_args(d), epochs=30, precision="double")
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in r["history"]]
    np.testing.assert_array_equal(again["embeddings"], emb)
    f = mixgcn.train(*train_args(d), epochs=3)
    assert f["logits"].dtype == np.float32 and f["embeddings"].dtype == np.float32
    # A one-layer model has no hidden layer: no embeddings.
    assert mixgcn.train(*train_args(d), epochs=2, layers=1)["embeddings"] is None


@pytest.mark.parametrize("order", ["rcm", "degree"])
def test_node_order_keeps_the_given_ids(order):
    # Trained in another numbering, the logits and embeddings still come back in the
    # caller's node ids, and only rounding differs (dropout masks follow the given ids).
    d = small_graph()
    plain = mixgcn.train(*train_args(d), epochs=10, precision="double", order="none")
    ordered = mixgcn.train(*train_args(d), epochs=10, precision="double", order=order)
    assert ordered["config"]["order"] == order and plain["config"]["order"] == "none"
    np.testing.assert_allclose([h["loss"] for h in ordered["history"]], [h["loss"] for h in plain["history"]],
                               rtol=1e-9)
    np.testing.assert_allclose(ordered["logits"], plain["logits"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ordered["embeddings"], plain["embeddings"], rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="order"):
        mixgcn.train(*train_args(d), epochs=1, order="bfs")


def run_cli(flags, tmp):
    binary = os.environ.get("MIXGCN_TRAIN_BIN")
    if not binary or not os.path.exists(binary):
        pytest.skip("MIXGCN_TRAIN_BIN does not name a mixgcn-train binary (ctest sets it)")
    out = pathlib.Path(tmp) / "run.json"
    subprocess.run([binary, "--generate", "sbm", "--nodes", str(N), "--avg-degree", "8", "--classes", "4",
                    "--features", "32", "--graph-seed", "7", "--quiet", "--json", str(out)] + flags,
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


# The same options as mixgcn-train flags and as train() keywords.
CLI_CASES = {
    "adam": (["--epochs", "40", "--precision", "double", "--seed", "11", "--lr", "0.02", "--hidden", "12"],
             dict(epochs=40, precision="double", seed=11, lr=0.02, hidden=12)),
    "sgd-edge-weights": (["--epochs", "25", "--precision", "double", "--seed", "5", "--optimizer", "sgd", "--lr", "0.3",
                          "--layers", "3", "--dropout", "0.3", "--normalization", "edge-weights", "--decay-all-layers",
                          "--no-eval-cache", "--feature-norm", "none", "--threads", "1", "--memory-limit", "1G"],
                         dict(epochs=25, precision="double", seed=5, optimizer="sgd", lr=0.3, layers=3, dropout=0.3,
                              normalization="edge-weights", decay_all_layers=True, eval_cache=False,
                              feature_norm="none", threads=1, memory_limit="1G")),
    "data-float": (["--epochs", "15", "--strategy", "data", "--comm", "local", "--clusters", "12",
                    "--clusters-per-batch", "3", "--partition", "random", "--patience", "5", "--threads", "1"],
                   dict(epochs=15, strategy="data", comm="local", clusters=12, clusters_per_batch=3, partition="random",
                        patience=5, threads=1)),
    "data-accumulate": (["--epochs", "10", "--precision", "double", "--strategy", "data", "--comm", "local",
                         "--clusters", "12", "--clusters-per-batch", "2", "--accumulate", "3", "--threads", "1"],
                        dict(epochs=10, precision="double", strategy="data", comm="local", clusters=12,
                             clusters_per_batch=2, accumulate=3, threads=1)),
    "pipeline-one-stage": (["--epochs", "10", "--precision", "double", "--strategy", "pipeline", "--comm", "local",
                            "--stages", "1", "--micro-batches", "3", "--clusters", "12", "--clusters-per-batch", "2",
                            "--threads", "1"],
                           dict(epochs=10, precision="double", strategy="pipeline", comm="local", stages=1,
                                micro_batches=3, clusters=12, clusters_per_batch=2, threads=1)),
}


def test_pipeline_one_stage_equals_data_accumulating():
    """One stage, M micro-batches per step: the step of data accumulating M batches (float64)."""
    d = small_graph("float64")
    kw = dict(epochs=8, precision="double", comm="local", clusters=12, clusters_per_batch=2, threads=1)
    pipe = mixgcn.train(*train_args(d), strategy="pipeline", stages=1, micro_batches=3, **kw)
    data = mixgcn.train(*train_args(d), strategy="data", accumulate=3, **kw)
    assert [e["loss"] for e in pipe["history"]] == pytest.approx([e["loss"] for e in data["history"]], rel=1e-9, abs=0)
    assert pipe["pipeline"]["stages"] == 1 and pipe["pipeline"]["ranks"][0]["last_layer"] == 2


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_train_equals_cli(case, tmp_path):
    flags, kw = CLI_CASES[case]
    cli = run_cli(flags, tmp_path)
    d = small_graph("float64" if kw.get("precision") == "double" else "float32")
    r = mixgcn.train(*train_args(d), **kw)
    assert len(r["history"]) == len(cli["epochs"]) > 0
    rel = 1e-6 if kw.get("precision") == "double" else 1e-4
    for mine, theirs in zip(r["history"], cli["epochs"]):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=rel, abs=0)
        assert mine["train_acc"] == pytest.approx(theirs["train_acc"], abs=1e-12)
        assert mine["val_acc"] == pytest.approx(theirs["val_acc"], abs=1e-12)
    assert r["best_val_epoch"] == cli["best_val_epoch"]
    assert r["test_accuracy"] == pytest.approx(cli["test_accuracy"], abs=1e-12)
    assert r["stopped_early"] == cli["stopped_early"]
    # The report beside the metrics: the memory by purpose is the CLI's to the byte, the
    # dataset statistics and the configuration too (but for where the data came from).
    assert r["memory"] == cli["memory"]
    assert r["peak_rss_bytes"] > 0 and r["ranks"][0]["peak_rss_bytes"] == r["peak_rss_bytes"]
    assert r["rank"] == 0 and len(r["ranks"]) == 1
    drop = ("load_seconds", "name")
    assert {k: v for k, v in r["dataset"].items() if k not in drop} == \
        {k: v for k, v in cli["dataset"].items() if k not in drop}
    assert {k: v for k, v in r["config"].items() if k != "data"} == {k: v for k, v in cli["config"].items() if k != "data"}
    assert r["config"]["data"] == "python"


def test_train_json_file_and_checkpoint_resume(tmp_path):
    """json= writes mixgcn-train's --json file; a resumed run continues the interrupted one bit for bit."""
    d = small_graph()
    full = mixgcn.train(*train_args(d), epochs=20, precision="double", threads=1, json=tmp_path / "full.json")
    written = json.loads((tmp_path / "full.json").read_text())
    assert [e["loss"] for e in written["epochs"]] == [h["loss"] for h in full["history"]]
    assert "rank" not in written  # the file is the CLI's document
    ck = tmp_path / "run.ckpt"
    first = mixgcn.train(*train_args(d), epochs=10, precision="double", threads=1, checkpoint=ck, checkpoint_every=5)
    assert ck.exists() and [h["loss"] for h in first["history"]] == [h["loss"] for h in full["history"][:10]]
    resumed = mixgcn.train(*train_args(d), epochs=20, precision="double", threads=1, resume=ck)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    assert resumed["test_accuracy"] == full["test_accuracy"]


def test_train_trace_file(tmp_path):
    """trace= writes the CLI's --trace timeline: one process, epochs in order, comm/compute spans."""
    d = small_graph()
    r = mixgcn.train(*train_args(d), epochs=3, threads=1, trace=tmp_path / "run.trace.json")
    t = json.loads((tmp_path / "run.trace.json").read_text())
    spans = [e for e in t["traceEvents"] if e["ph"] == "X"]
    epochs = sorted((e for e in spans if e["name"] == "epoch"), key=lambda e: e["ts"])
    assert len(epochs) == len(r["history"]) == 3
    assert all(a["ts"] + a["dur"] <= b["ts"] + 1e-3 for a, b in zip(epochs, epochs[1:]))
    assert {"layer forward L0", "layer backward L1", "aggregation", "dense update", "optimizer"} <= {e["name"] for e in spans}
    assert {e["pid"] for e in spans} == {0}


def test_train_memory_limit():
    d = small_graph()
    with pytest.raises(MemoryError, match="needs .* but 1.00 KiB is available"):
        mixgcn.train(*train_args(d), epochs=1, memory_limit=1024)
    r = mixgcn.train(*train_args(d), epochs=1, memory_limit="off")
    assert len(r["history"]) == 1


def test_train_rejects_bad_options():
    d = small_graph()
    a = train_args(d)
    for kw, exc, name in [
        (dict(strategy="everything"), ValueError, "strategy"),
        (dict(comm="carrier-pigeon"), ValueError, "comm"),
        (dict(partition="halves"), ValueError, "partition"),
        (dict(normalization="sym"), ValueError, "normalization"),
        (dict(chunks=2), ValueError, "chunks"),  # strategy single
        (dict(strategy="mixture", chunks=0), ValueError, "chunks"),
        (dict(clusters=4), ValueError, "clusters"),
        (dict(strategy="data", clusters_per_batch=0), ValueError, "clusters_per_batch"),
        (dict(accumulate=2), ValueError, "accumulate"),  # strategy single
        (dict(strategy="data", accumulate=0), ValueError, "accumulate"),
        (dict(strategy="data", stages=2), ValueError, "stages"),
        (dict(strategy="pipeline", micro_batches=0), ValueError, "micro_batches"),
        (dict(threads=0), ValueError, "threads"),
        (dict(checkpoint_every=5), ValueError, "checkpoint_every"),
        (dict(checkpoint=3.5), TypeError, "checkpoint"),
        (dict(memory_limit="12X"), ValueError, "memory_limit"),
        (dict(memory_limit=[1]), TypeError, "memory_limit"),
        (dict(comm_timeout=5.0), ValueError, "comm_timeout"),  # comm local
        (dict(json=""), ValueError, "json"),
        (dict(trace=""), ValueError, "trace"),
    ]:
        with pytest.raises(exc, match=f"'{name}'"):
            mixgcn.train(*a, epochs=1, **kw)
    if not mixgcn.has_mpi:
        with pytest.raises(ValueError, match="built without MPI"):
            mixgcn.train(*a, epochs=1, strategy="graph", comm="mpi")
    if not mixgcn.has_gloo:
        with pytest.raises(ValueError, match="built without Gloo"):
            mixgcn.train(*a, epochs=1, strategy="graph", comm="gloo")


# ---- save_dataset -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_dataset_round_trip(tmp_path, dtype):
    d = mixgcn.generate_sbm(nodes=300, classes=3, features=8, seed=2, val=50, test=60, dtype=dtype)
    outside = np.flatnonzero(~(d["train_mask"] | d["val_mask"] | d["test_mask"]))[0]
    d["y"][outside] = -1  # an unlabelled node outside the split survives the trip
    mixgcn.save_dataset(tmp_path / "ds", d)
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["edges.npy", "features.npy", "labels.npy",
                                                                   "split.npy"]
    back = mixgcn.load_dataset(tmp_path / "ds", dtype=dtype)
    for k in ("edge_index", "x", "y", "train_mask", "val_mask", "test_mask"):
        np.testing.assert_array_equal(back[k], d[k], err_msg=k)
    assert back["x"].dtype == d["x"].dtype and back["num_classes"] == 3 and back["name"] == "ds"
    # Keyword arrays alone (int32 ids and labels are widened on the way), or over a dict.
    mixgcn.save_dataset(tmp_path / "kw", edge_index=d["edge_index"].astype(np.int32), x=d["x"],
                        y=d["y"].astype(np.int32), train_mask=d["train_mask"], val_mask=d["val_mask"],
                        test_mask=d["test_mask"])
    np.testing.assert_array_equal(mixgcn.load_dataset(tmp_path / "kw")["edge_index"], d["edge_index"])
    shuffled = np.ascontiguousarray(d["x"][::-1])
    mixgcn.save_dataset(tmp_path / "over", d, x=shuffled)
    np.testing.assert_array_equal(mixgcn.load_dataset(tmp_path / "over", dtype=dtype)["x"], shuffled)


def test_save_dataset_object_with_attributes(tmp_path):
    """A PyG-style object (attributes instead of keys) is saved as it is."""
    d = mixgcn.generate_sbm(nodes=200, classes=2, features=4, seed=1, val=40, test=40)

    class Data:
        pass
    obj = Data()
    for k, v in d.items():
        setattr(obj, k, v)
    mixgcn.save_dataset(str(tmp_path / "obj"), obj)
    np.testing.assert_array_equal(mixgcn.load_dataset(tmp_path / "obj")["y"], d["y"])


def test_save_dataset_rejects_bad_arguments(tmp_path):
    d = mixgcn.generate_sbm(nodes=200, classes=2, features=4, seed=1, val=40, test=40)
    path = tmp_path / "bad"
    with pytest.raises(TypeError, match="'x'"):
        mixgcn.save_dataset(path, d, x=d["x"].astype(np.int16))
    with pytest.raises(ValueError, match="'x'.*C-contiguous"):
        mixgcn.save_dataset(path, d, x=np.asfortranarray(d["x"]))
    with pytest.raises(ValueError, match="'edge_index'"):
        mixgcn.save_dataset(path, d, edge_index=d["edge_index"].T.copy())
    with pytest.raises(ValueError, match="'y'"):
        mixgcn.save_dataset(path, d, y=d["y"][:-1])
    with pytest.raises(TypeError, match="'val_mask'"):
        mixgcn.save_dataset(path, d, val_mask=d["val_mask"].astype(np.uint8))
    with pytest.raises(ValueError, match="'test_mask'"):
        mixgcn.save_dataset(path, d, test_mask=d["train_mask"])  # overlaps train_mask
    with pytest.raises(TypeError, match="'train_mask'"):
        mixgcn.save_dataset(path, {k: v for k, v in d.items() if k != "train_mask"})
    with pytest.raises(TypeError, match="'features'"):
        mixgcn.save_dataset(path, d, features=d["x"])
    (tmp_path / "shadow").mkdir()
    (tmp_path / "shadow" / "split.txt").write_text("train\n")
    with pytest.raises(OSError, match="split.txt"):
        mixgcn.save_dataset(tmp_path / "shadow", d)


def test_train_rejects_bad_arguments():
    d = small_graph()
    ei, x, y, tr, va, te = train_args(d)
    with pytest.raises(TypeError, match="'edge_index'"):
        mixgcn.train(ei.astype(np.float64), x, y, tr, va, te, epochs=1)
    with pytest.raises(ValueError, match="'edge_index'"):
        mixgcn.train(ei.T.copy(), x, y, tr, va, te, epochs=1)
    with pytest.raises(ValueError, match="'edge_index'"):
        mixgcn.train(ei.T.copy().T, x, y, tr, va, te, epochs=1)  # (2, E) but column-major
    bad = ei.copy()
    bad[1, 3] = N
    with pytest.raises(ValueError, match="'edge_index'"):
        mixgcn.train(bad, x, y, tr, va, te, epochs=1)
    with pytest.raises(TypeError, match="'x'"):
        mixgcn.train(ei, x.astype(np.int32), y, tr, va, te, epochs=1)
    with pytest.raises(ValueError, match="'x'"):
        mixgcn.train(ei, np.asfortranarray(x), y, tr, va, te, epochs=1)
    with pytest.raises(TypeError, match="'y'"):
        mixgcn.train(ei, x, y.astype(np.float32), tr, va, te, epochs=1)
    with pytest.raises(ValueError, match="'y'"):
        mixgcn.train(ei, x, y[:-1], tr, va, te, epochs=1)
    with pytest.raises(TypeError, match="'train_mask'"):
        mixgcn.train(ei, x, y, tr.astype(np.int8), va, te, epochs=1)
    with pytest.raises(ValueError, match="'val_mask'"):
        mixgcn.train(ei, x, y, tr, va[:10], te, epochs=1)
    with pytest.raises(ValueError, match="'test_mask'"):
        mixgcn.train(ei, x, y, tr, va, tr, epochs=1)  # overlaps train_mask
    with pytest.raises(TypeError, match="'test_mask'"):
        mixgcn.train(ei, x, y, tr, va, None, epochs=1)
    with pytest.raises(ValueError, match="'precision'"):
        mixgcn.train(ei, x, y, tr, va, te, epochs=1, precision="half")
    with pytest.raises(ValueError, match="'dropout'"):
        mixgcn.train(ei, x, y, tr, va, te, epochs=1, dropout=1.5)


# ---- partition --------------------------------------------------------------------------

def csr_of(edge_index, n):
    """Symmetric, duplicate-free CSR (int64 indptr, int32 indices) of an edge list."""
    u, v = edge_index
    keep = u != v
    pairs = np.unique(np.concatenate([np.stack([u[keep], v[keep]], 1), np.stack([v[keep], u[keep]], 1)]), axis=0)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, pairs[:, 0] + 1, 1)
    return np.cumsum(indptr), pairs[:, 1].astype(np.int32)


@pytest.mark.parametrize("method", ["block", "random", "metis"])
def test_partition(method):
    if method == "metis" and not mixgcn.has_metis:
        pytest.skip("mixgcn was built without METIS")
    d = small_graph()
    indptr, indices = csr_of(d["edge_index"], N)
    owner = mixgcn.partition(indptr, indices, 4, method=method)
    assert owner.shape == (N,) and owner.dtype == np.int32
    assert set(np.unique(owner)) == {0, 1, 2, 3}
    if method == "block":  # contiguous row blocks
        assert (np.diff(owner) >= 0).all()
    with pytest.raises(ValueError, match="'parts'"):
        mixgcn.partition(indptr, indices, 0, method=method)
    with pytest.raises(ValueError, match="'method'"):
        mixgcn.partition(indptr, indices, 2, method="spectral-ish")


def test_arrays_arrive_without_a_copy():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert mixgcn._mixgcn._data_address(x, 2) == x.ctypes.data
    # A read-only array (e.g. a memory-mapped file) is read in place too.
    x.setflags(write=False)
    assert mixgcn._mixgcn._data_address(x, 2) == x.ctypes.data
    with pytest.raises(ValueError, match="not C-contiguous"):
        mixgcn._mixgcn._data_address(np.asfortranarray(np.ones((3, 4), np.float32)), 2)


def test_pyg_style_example():
    """examples/python/from_pyg.py: a PyG-style Data object of torch tensors trains in place."""
    script = REPO / "examples" / "python" / "from_pyg.py"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    if r.returncode == 77:
        pytest.skip(r.stdout.strip())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "test accuracy" in r.stdout


def write_ogb_folder(root, splits):
    """A small OGB node-property folder (raw/*.csv.gz, split/<name>/*.csv.gz), as OGB ships it."""
    import gzip
    d = mixgcn.generate_sbm(nodes=300, features=8, classes=3, seed=4, train_per_class=10, val=50, test=100,
                            dtype="float64")
    raw = pathlib.Path(root) / "raw"
    raw.mkdir(parents=True)

    def put(path, lines):
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt") as f:
            f.write("".join(line + "\n" for line in lines))

    put(raw / "edge.csv.gz", [f"{u},{v}" for u, v in d["edge_index"].T])
    put(raw / "node-feat.csv.gz", [",".join(repr(float(v)) for v in row) for row in d["x"]])
    put(raw / "node-label.csv.gz", [str(int(y)) for y in d["y"]])
    put(raw / "num-node-list.csv.gz", ["300"])
    for name, shift in splits.items():
        for part, mask in (("train", "train_mask"), ("valid", "val_mask"), ("test", "test_mask")):
            ids = np.flatnonzero(d[mask]) if shift == 0 else np.flatnonzero(np.roll(d[mask], shift))
            put(pathlib.Path(root) / "split" / name / f"{part}.csv.gz", [str(i) for i in ids])
    return d


def test_ogb_folder_loads_and_split_is_chosen(tmp_path):
    d = write_ogb_folder(tmp_path / "ogbn-tiny", {"random": 0, "shifted": 7})
    with pytest.raises(OSError, match="several splits"):
        mixgcn.load_dataset(tmp_path / "ogbn-tiny")
    got = mixgcn.load_dataset(tmp_path / "ogbn-tiny", dtype="float64", split="random")
    np.testing.assert_array_equal(got["x"], d["x"])
    np.testing.assert_array_equal(got["y"], d["y"])
    for mask in ("train_mask", "val_mask", "test_mask"):
        np.testing.assert_array_equal(got[mask], d[mask])
    shifted = mixgcn.load_dataset(tmp_path / "ogbn-tiny", split="shifted")
    np.testing.assert_array_equal(shifted["train_mask"], np.roll(d["train_mask"], 7))
    # mixgcn-train picks the same folder with --data-split.
    binary = os.environ.get("MIXGCN_TRAIN_BIN")
    if not binary or not os.path.exists(binary):
        pytest.skip("MIXGCN_TRAIN_BIN does not name a mixgcn-train binary (ctest sets it)")
    out = tmp_path / "ogb.json"
    p = subprocess.run([binary, "--data", str(tmp_path / "ogbn-tiny"), "--epochs", "3", "--quiet", "--json", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "--data-split" in p.stderr
    subprocess.run([binary, "--data", str(tmp_path / "ogbn-tiny"), "--data-split", "shifted", "--epochs", "3",
                    "--quiet", "--json", str(out)], check=True, stdout=subprocess.DEVNULL)
    report = json.loads(out.read_text())
    assert report["dataset"]["nodes"] == 300
