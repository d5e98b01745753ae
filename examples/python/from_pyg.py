"""Train mixgcn on a PyG-style graph without copying its tensors.

    python3 examples/python/from_pyg.py [DATASET_DIR]

A ``torch_geometric.data.Data`` (or, without PyG, any object with the same attributes:
``edge_index`` int64 [2, E], ``x`` float [N, F], ``y`` int64 [N], boolean
``train_mask``/``val_mask``/``test_mask``) goes to ``mixgcn.train`` as it is: the module
reads PyTorch tensors through DLPack, in place, and never imports torch itself. The graph
is Cora from DATASET_DIR (mixgcn's folder format) when given, else a generated SBM.

Exits 77 with a message when PyTorch is not installed (the test suite reports a skip).
"""

import sys
import types

try:
    import torch
except ImportError:
    print("SKIP: PyTorch is not installed (python3 -m pip install torch); this example converts torch tensors")
    sys.exit(77)

import mixgcn


def as_data(**tensors):
    """A torch_geometric.data.Data when PyG is installed, else a plain object alike."""
    try:
        from torch_geometric.data import Data
    except ImportError:
        return types.SimpleNamespace(**tensors)
    return Data(**tensors)


def graph_as_tensors(folder=None):
    g = mixgcn.load_dataset(folder) if folder else mixgcn.generate_sbm(nodes=3000, features=64, classes=6, seed=3)
    # torch.from_numpy shares memory: the tensors are views of mixgcn's arrays, as a
    # loader's tensors would be; from here on only tensors are used.
    t = {k: torch.from_numpy(g[k]) for k in ("edge_index", "x", "y", "train_mask", "val_mask", "test_mask")}
    t["edge_index"] = t["edge_index"].to(torch.int64)  # PyG's index dtype
    t["y"] = t["y"].to(torch.int64)
    return as_data(**t)


def main():
    data = graph_as_tensors(sys.argv[1] if len(sys.argv) > 1 else None)
    # The module sees the tensors' own memory (no copy on the way in).
    for name, ndim in (("x", 2), ("edge_index", 2), ("train_mask", 1)):
        t = getattr(data, name)
        assert mixgcn._mixgcn._data_address(t, ndim) == t.data_ptr(), f"{name} was copied"
    r = mixgcn.train(data.edge_index, data.x, data.y, data.train_mask, data.val_mask, data.test_mask, epochs=100)
    logits = torch.from_dlpack(r["logits"])  # the result comes back the same way
    pred = logits.argmax(1)
    test_acc = float((pred[data.test_mask] == data.y[data.test_mask]).double().mean())
    print(f"{type(data).__name__}: {data.x.shape[0]} nodes, {data.edge_index.shape[1]} edges; "
          f"best validation accuracy {r['best_val_acc']:.4f} at epoch {r['best_val_epoch']}, "
          f"test accuracy {r['test_accuracy']:.4f} (from the returned logits: {test_acc:.4f})")
    assert abs(test_acc - r["test_accuracy"]) < 1e-12


if __name__ == "__main__":
    main()
