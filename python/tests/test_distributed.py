"""mixgcn.train with distributed strategies (docs/python.md, "Distributed runs"): two
ranks started by mpirun (comm='mpi', and 'gloo' through MPI's rendezvous) and two started
with torchrun's variables only (comm's default, Gloo over the TCP store), each compared
with the same training in this process (strategy single).

Skipped with a message when mpirun, MPI or Gloo is missing from this machine or module.
"""

import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest

import mixgcn

# Every rank runs this with the full arrays, as every rank of mixgcn-train loads the
# whole dataset; each writes what it got to OUT.<rank>.
SCRIPT = r"""
import json, sys
import mixgcn
out, runs = sys.argv[1], json.loads(sys.argv[2])
d = mixgcn.generate_sbm(nodes=600, avg_degree=6, classes=3, features=16, seed=5, val=150, test=200,
                        dtype="float64")
arrays = [d[k] for k in ("edge_index", "x", "y", "train_mask", "val_mask", "test_mask")]
got = {}
for name, kw in runs.items():
    r = mixgcn.train(*arrays, epochs=12, seed=3, **kw)
    got[name] = {"loss": [h["loss"] for h in r["history"]], "val": [h["val_acc"] for h in r["history"]],
                 "test": r["test_accuracy"], "best": r["best_val_epoch"], "rank": r["rank"],
                 "config": r["config"], "ranks": r["ranks"], "memory": r["memory"],
                 "logits": None if r["logits"] is None else r["logits"].tolist(),
                 "embeddings": None if r["embeddings"] is None else r["embeddings"].tolist()}
with open(out + "." + str(got[next(iter(got))]["rank"]), "w") as f:
    json.dump(got, f)
"""

SINGLE = {}


def single(precision):
    """The reference: strategy single in this process, on the script's graph."""
    if precision not in SINGLE:
        d = mixgcn.generate_sbm(nodes=600, avg_degree=6, classes=3, features=16, seed=5, val=150, test=200,
                                dtype="float64")
        r = mixgcn.train(*(d[k] for k in ("edge_index", "x", "y", "train_mask", "val_mask", "test_mask")),
                         epochs=12, seed=3, precision=precision)
        SINGLE[precision] = r
    return SINGLE[precision]


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMIX_", "PMI_", "SLURM_", "MIXGCN_RANK", "MIXGCN_WORLD", "MIXGCN_GLOO_STORE"))
           and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def read_ranks(out, n):
    ranks = []
    for r in range(n):
        with open(f"{out}.{r}") as f:
            ranks.append(json.load(f))
    return ranks


def check_equals_single(ranks, name, precision, strategy, comm):
    ref = single(precision)
    ref_loss = [h["loss"] for h in ref["history"]]
    rel = 1e-9 if precision == "double" else 1e-4
    for rank, got in enumerate(ranks):
        g = got[name]
        assert g["rank"] == rank
        assert g["config"]["strategy"] == strategy and g["config"]["comm"] == comm and g["config"]["ranks"] == 2
        assert len(g["ranks"]) == 2 and [f["rank"] for f in g["ranks"]] == [0, 1]
        assert all(f["owned_nodes"] > 0 and f["peak_rss_bytes"] > 0 for f in g["ranks"])
        assert g["memory"]["total"] > 0
        # Every node's logits in global order, gathered to every rank: single's (none
        # from feature, whose rows are whole only for each rank's loss rows).
        if strategy == "feature":
            assert g["logits"] is None and g["embeddings"] is None
        else:
            np.testing.assert_allclose(np.asarray(g["logits"]), ref["logits"], rtol=rel, atol=rel)
            np.testing.assert_allclose(np.asarray(g["embeddings"]), ref["embeddings"], rtol=rel, atol=rel)
        assert g["loss"] == pytest.approx(ref_loss, rel=rel, abs=0), f"{name} rank {rank}"
        if precision == "double":
            assert g["val"] == pytest.approx([h["val_acc"] for h in ref["history"]], abs=1e-12)
            assert g["best"] == ref["best_val_epoch"]
            assert g["test"] == pytest.approx(ref["test_accuracy"], abs=1e-12)
    # Every rank returns the same run.
    assert ranks[0][name]["loss"] == ranks[1][name]["loss"]


def test_mpirun_two_ranks_equal_single(tmp_path):
    mpirun = shutil.which("mpirun") or shutil.which("mpiexec")
    if not mpirun:
        pytest.skip("no mpirun on PATH")
    if not mixgcn.has_mpi:
        pytest.skip("this mixgcn module was built without MPI (MIXGCN_WITH_MPI)")
    runs = {
        "graph": {"strategy": "graph", "comm": "mpi", "partition": "block", "precision": "double"},
        "mixture": {"strategy": "mixture", "comm": "mpi", "chunks": 2, "partition": "random", "precision": "double"},
        "feature": {"strategy": "feature", "comm": "mpi", "partition": "block", "precision": "double"},
        "graph_f32": {"strategy": "graph", "partition": "block"},  # comm's default under mpirun: mpi
        "data": {"strategy": "data", "comm": "mpi", "clusters": 8, "clusters_per_batch": 2, "partition": "random"},
        "pipeline": {"strategy": "pipeline", "comm": "mpi", "stages": 2, "micro_batches": 2, "clusters": 8,
                     "clusters_per_batch": 2, "partition": "random"},
    }
    if mixgcn.has_gloo:  # Gloo ranks under mpirun rendezvous through MPI
        runs["graph_gloo"] = {"strategy": "graph", "comm": "gloo", "partition": "block", "precision": "double"}
    env = base_env()
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none")
    out = str(tmp_path / "out")
    p = subprocess.run([mpirun, "-np", "2", "--oversubscribe", sys.executable, "-c", SCRIPT, out, json.dumps(runs)],
                       env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    ranks = read_ranks(out, 2)
    check_equals_single(ranks, "graph", "double", "graph", "mpi")
    check_equals_single(ranks, "mixture", "double", "mixture", "mpi")
    check_equals_single(ranks, "feature", "double", "feature", "mpi")
    check_equals_single(ranks, "graph_f32", "float", "graph", "mpi")
    if mixgcn.has_gloo:
        check_equals_single(ranks, "graph_gloo", "double", "graph", "gloo")
    # data (Cluster-GCN batches) trains other batches than single: it runs, on both ranks.
    for got in ranks:
        assert got["data"]["config"]["strategy"] == "data" and len(got["data"]["loss"]) == 12
        assert got["data"]["logits"] is None  # Cluster-GCN batches: no full-graph forward
    assert ranks[0]["data"]["loss"] == ranks[1]["data"]["loss"]
    # pipeline: rank 0 holds layer 0, rank 1 layer 1; both report the step's whole loss.
    for got in ranks:
        assert got["pipeline"]["config"]["strategy"] == "pipeline" and len(got["pipeline"]["loss"]) == 12
    assert ranks[0]["pipeline"]["loss"] == ranks[1]["pipeline"]["loss"]


def test_torchrun_style_two_ranks_default_to_gloo(tmp_path):
    """RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT only: comm defaults to Gloo (TCP store)."""
    if not mixgcn.has_gloo:
        pytest.skip("this mixgcn module was built without Gloo (MIXGCN_WITH_GLOO)")
    runs = {"graph": {"strategy": "graph", "partition": "block", "precision": "double", "comm_timeout": 60}}
    out = str(tmp_path / "out")
    port = str(random.randint(20000, 50000))
    procs = []
    for r in range(2):
        env = base_env()
        env.update(RANK=str(r), WORLD_SIZE="2", LOCAL_RANK=str(r), MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        procs.append(subprocess.Popen([sys.executable, "-c", SCRIPT, out, json.dumps(runs)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = []
    for p in procs:
        try:
            logs.append(p.communicate(timeout=120)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    assert [p.returncode for p in procs] == [0, 0], "\n".join(logs)
    check_equals_single(read_ranks(out, 2), "graph", "double", "graph", "gloo")
