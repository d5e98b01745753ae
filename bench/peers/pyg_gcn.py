#!/usr/bin/env python3
"""PyTorch Geometric peer of mixgcn's 2-layer GCN, beside the plain-PyTorch peer torch_gcn.py.

Same dataset reader, model, loss, optimiser, dropout, seed, timing and JSON fields as
torch_gcn.py (it is imported from there, so the two cannot drift apart); only the layers
differ: torch_geometric.nn.GCNConv(cached=True). The graph handed to GCNConv is the edge
set of torch_gcn.py's operator without its diagonal (symmetrised, de-duplicated, no self
loops), so GCNConv's own gcn_norm (add self loops of weight 1, then D^-1/2 (A+I) D^-1/2)
gives the same A_hat as torch_gcn.py and mixgcn. cached=True computes that normalisation
once, on the first forward pass, as the other two build A_hat once before training.

--adj edge_index (default) is PyG's usual gather/scatter message passing;
--adj sparse hands GCNConv a torch sparse CSR adj_t instead, which PyG runs as an SpMM.

Exit code 77 (skipped) when torch or torch_geometric is not importable.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gcn import fail, gcn_operator, load_inputs, peer_arguments, train_and_report  # exits 77 itself when torch is missing

import torch
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.script deprecation, at import
try:
    import torch_geometric
    from torch_geometric.nn import GCNConv
except ImportError as exc:  # pragma: no cover - depends on the machine
    fail(f"torch_geometric is not importable ({exc}); install it (pip install torch_geometric) to run the peer", 77)


class GCN(torch.nn.Module):
    def __init__(self, dims, dropout):
        super().__init__()
        # GCNConv: glorot weight, zero bias, x W before propagation, as torch_gcn.GCN.
        self.layers = torch.nn.ModuleList(GCNConv(a, b, cached=True) for a, b in zip(dims[:-1], dims[1:]))
        self.dropout = dropout

    def forward(self, adj, x):
        h = x
        for i, conv in enumerate(self.layers):
            h = torch.nn.functional.dropout(h, self.dropout, self.training)
            h = conv(h, adj)
            if i + 1 < len(self.layers):
                h = torch.relu(h)
        return h


def pyg_graph(edges, n, kind):
    """The off-diagonal part of torch_gcn's operator: both directions, no duplicates, no loops."""
    a = gcn_operator(edges, n)
    crow, col = a.crow_indices(), a.col_indices()
    row = torch.repeat_interleave(torch.arange(n), crow[1:] - crow[:-1])
    keep = row != col
    edge_index = torch.stack([row[keep], col[keep]])
    if kind == "edge_index":
        return edge_index, int(a.values().numel())
    # Symmetric, so adj_t (target x source) is the same matrix; values 1, GCNConv normalises.
    ones = torch.ones(edge_index.shape[1])
    adj = torch.sparse_coo_tensor(edge_index, ones, (n, n)).coalesce().to_sparse_csr()
    return adj, int(a.values().numel())


def main():
    ap = peer_arguments(__doc__.split("\n")[0])
    ap.add_argument("--adj", choices=["edge_index", "sparse"], default="edge_index",
                    help="graph input of GCNConv: edge_index (scatter) or a sparse CSR adj_t (SpMM)")
    args = ap.parse_args()
    x, adj, nnz, y, split, classes, load_s = load_inputs(args, lambda edges, n: pyg_graph(edges, n, args.adj))
    dims = [x.shape[1]] + [args.hidden] * (args.layers - 1) + [classes]
    model = GCN(dims, args.dropout).to(x.device)
    # The loop and the JSON are torch_gcn.py's (train_and_report), so the peers time alike.
    train_and_report(model, adj, x, y, split, args, load_s, {
        "peer": "pyg",
        "torch_version": torch.__version__,
        "torch_geometric_version": torch_geometric.__version__,
        "adj": args.adj,
        "nonzeros_with_self_loops": nnz,
    })


if __name__ == "__main__":
    main()
