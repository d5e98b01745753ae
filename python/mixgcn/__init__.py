"""mixgcn: full-graph GCN training on mixgcn's header-only C++ core (docs/python.md).

Everything here is the compiled module ``mixgcn._mixgcn`` (nanobind, host backend,
float32 and float64): arrays go in through the buffer protocol / DLPack without a copy
where the layout allows, and come back as NumPy arrays.
"""

from ._mixgcn import aggregate, generate_sbm, has_gloo, has_metis, has_mpi, load_dataset, partition, train
from ._mixgcn import save_dataset as _save_dataset

__all__ = ["aggregate", "generate_sbm", "has_gloo", "has_metis", "has_mpi", "load_dataset", "partition",
           "save_dataset", "train"]
__version__ = "0.1.0"

_FIELDS = ("edge_index", "x", "y", "train_mask", "val_mask", "test_mask")


def save_dataset(path, dataset=None, **arrays):
    """Writes a dataset folder (edges.npy, features.npy, labels.npy, split.npy) that
    ``load_dataset`` and ``mixgcn-train --data`` read.

    ``dataset`` is a dict such as ``load_dataset``/``generate_sbm`` return, or an object
    with those attributes (a ``torch_geometric.data.Data``); keyword arrays
    (``edge_index``, ``x``, ``y``, ``train_mask``, ``val_mask``, ``test_mask``) replace
    its entries or stand alone.
    """
    unknown = sorted(set(arrays) - set(_FIELDS))
    if unknown:
        raise TypeError(f"save_dataset() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                        f"expected {', '.join(_FIELDS)}")
    values = {}
    for name in _FIELDS:
        if name in arrays:
            values[name] = arrays[name]
        elif dataset is None:
            values[name] = None
        elif isinstance(dataset, dict):
            values[name] = dataset.get(name)
        else:
            values[name] = getattr(dataset, name, None)
    for name, v in values.items():
        if v is None:
            raise TypeError(f"argument '{name}': expected an array, got None "
                            f"(give it in the dataset or as save_dataset(..., {name}=...))")
    return _save_dataset(path, *(values[name] for name in _FIELDS))
