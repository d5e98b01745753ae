"""mixgcn: full-graph GCN training on mixgcn's header-only C++ core (docs/python.md).

Everything here is the compiled module ``mixgcn._mixgcn`` (nanobind, host backend,
float32 and float64): arrays go in through the buffer protocol / DLPack without a copy
where the layout allows, and come back as NumPy arrays.
"""

from ._mixgcn import aggregate, generate_sbm, has_metis, load_dataset, partition, train

__all__ = ["aggregate", "generate_sbm", "has_metis", "load_dataset", "partition", "train"]
__version__ = "0.1.0"
