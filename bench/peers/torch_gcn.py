#!/usr/bin/env python3
"""PyTorch peer of mixgcn's 2-layer GCN (Kipf & Welling 2017), for epoch-time and memory
comparisons on the same dataset folder (docs: /work/shared/datasets/FORMAT.md).

Model: A_hat = D^-1/2 (A + I) D^-1/2 as a torch sparse CSR tensor; each layer is
A_hat @ (H W) + b with Glorot-uniform W and zero b; ReLU and dropout 0.5 between layers
(and on the input, as Kipf does); Adam lr 0.01 with weight decay 5e-4 on the first
layer only; cross-entropy on the training nodes. Reports the test accuracy at the epoch
of best validation accuracy, as mixgcn-train does.

Timing, as mixgcn-train counts it: one epoch = forward + backward + optimizer step on
the training loss, then the evaluation forward pass (dropout off); the training step
alone is also reported. Exit code 77 (the "skipped" code of ctest and
automake) when torch is not importable.
"""
import argparse
import ast
import json
import os
import resource
import statistics
import struct
import sys
import time
import warnings


def fail(msg, code=2):
    print(f"torch_gcn.py: {msg}", file=sys.stderr)
    sys.exit(code)


warnings.filterwarnings("ignore", category=UserWarning)  # numpy missing, sparse CSR "beta"
try:
    import torch
except ImportError as exc:  # pragma: no cover - depends on the machine
    fail(f"PyTorch is not importable ({exc}); install it (pip install torch) to run the peer", 77)

try:
    import numpy as np
except ImportError:
    np = None

# ---- dataset reading --------------------------------------------------------------------

NPY_DTYPES = {"<i1": (torch.int8, 1), "|i1": (torch.int8, 1), "<i4": (torch.int32, 4), "<i8": (torch.int64, 8),
              "<f4": (torch.float32, 4), "<f8": (torch.float64, 8), "|u1": (torch.uint8, 1), "<u1": (torch.uint8, 1)}


def load_npy(path):
    """numpy.load when numpy is there; otherwise a reader for the plain C-order arrays
    that io::save_dataset writes (format versions 1-3, little-endian numbers)."""
    if np is not None:
        return torch.from_numpy(np.ascontiguousarray(np.load(path, allow_pickle=False)))
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        fail(f"{path}: not an .npy file (bad magic)")
    major = data[6]
    if major == 1:
        hlen, start = struct.unpack("<H", data[8:10])[0], 10
    else:
        hlen, start = struct.unpack("<I", data[8:12])[0], 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    if header.get("fortran_order"):
        fail(f"{path}: Fortran-order arrays are not supported")
    descr = header["descr"]
    if descr not in NPY_DTYPES:
        fail(f"{path}: dtype {descr} not supported")
    dtype, size = NPY_DTYPES[descr]
    shape = tuple(header["shape"])
    count = 1
    for s in shape:
        count *= s
    body = bytearray(data[start + hlen:start + hlen + count * size])
    if len(body) != count * size:
        fail(f"{path}: file holds {len(body)} bytes of data, shape {shape} needs {count * size}")
    return torch.frombuffer(body, dtype=dtype).reshape(shape) if count else torch.empty(shape, dtype=dtype)


def text_lines(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and not line.startswith("%"):
                yield line


def read_mtx(path):
    """Matrix Market coordinate file -> (rows, cols, list of (r, c, v)), 0-based."""
    with open(path) as f:
        banner = f.readline().lower().split()
        if len(banner) < 4 or banner[0] != "%%matrixmarket" or banner[2] != "coordinate":
            fail(f"{path}:1: expected a Matrix Market coordinate banner")
        pattern, symmetric = banner[3] == "pattern", len(banner) > 4 and banner[4] == "symmetric"
        line = f.readline()
        while line.startswith("%"):
            line = f.readline()
        rows, cols, _ = (int(x) for x in line.split())
        entries = []
        for line in f:
            p = line.split()
            if not p:
                continue
            r, c = int(p[0]) - 1, int(p[1]) - 1
            v = 1.0 if pattern else float(p[2])
            entries.append((r, c, v))
            if symmetric and r != c:
                entries.append((c, r, v))
    return rows, cols, entries


def first(folder, names):
    for n in names:
        p = os.path.join(folder, n)
        if os.path.exists(p):
            return p
    fail(f"{folder}: none of {', '.join(names)} found")


def load_dataset(folder):
    if not os.path.isdir(folder):
        fail(f"{folder}: dataset folder does not exist")
    fpath = first(folder, ["features.npy", "features.mtx"])
    if fpath.endswith(".npy"):
        x = load_npy(fpath).to(torch.float32)
    else:
        rows, cols, entries = read_mtx(fpath)
        x = torch.zeros(rows, cols)
        for r, c, v in entries:
            x[r, c] = v
    n = x.shape[0]

    epath = first(folder, ["edges.npy", "edges.tsv", "edges.mtx"])
    if epath.endswith(".npy"):
        edges = load_npy(epath).to(torch.int64).reshape(-1, 2)
    elif epath.endswith(".tsv"):
        edges = torch.tensor([[int(t) for t in l.split()[:2]] for l in text_lines(epath)], dtype=torch.int64)
    else:
        _, _, entries = read_mtx(epath)
        edges = torch.tensor([[r, c] for r, c, _ in entries], dtype=torch.int64)
    edges = edges.reshape(-1, 2)
    if edges.numel() and (edges.min() < 0 or edges.max() >= n):
        fail(f"{epath}: node id outside [0, {n})")

    lpath = first(folder, ["labels.npy", "labels.txt"])
    y = load_npy(lpath).to(torch.int64) if lpath.endswith(".npy") else \
        torch.tensor([int(l) for l in text_lines(lpath)], dtype=torch.int64)
    spath = first(folder, ["split.txt", "split.npy"])
    if spath.endswith(".npy"):
        split = load_npy(spath).to(torch.int64)
    else:
        code = {"none": 0, "train": 1, "val": 2, "test": 3}
        split = torch.tensor([code[l] for l in text_lines(spath)], dtype=torch.int64)
    if y.numel() != n or split.numel() != n:
        fail(f"{folder}: {n} feature rows but {y.numel()} labels and {split.numel()} split entries")
    return x, edges, y.reshape(-1), split.reshape(-1)


def gcn_operator(edges, n):
    """D^-1/2 (A + I) D^-1/2 of the symmetrised, de-duplicated graph, as sparse CSR."""
    u, v = edges[:, 0], edges[:, 1]
    keep = u != v
    u, v = u[keep], v[keep]
    loops = torch.arange(n, dtype=torch.int64)
    rows = torch.cat([u, v, loops])
    cols = torch.cat([v, u, loops])
    key = torch.unique(rows * n + cols)  # sorted: row-major order, duplicates gone
    rows, cols = key // n, key % n
    deg = torch.bincount(rows, minlength=n).to(torch.float64)
    dinv = deg.rsqrt()
    vals = (dinv[rows] * dinv[cols]).to(torch.float32)
    crow = torch.zeros(n + 1, dtype=torch.int64)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n), 0)
    return torch.sparse_csr_tensor(crow, cols, vals, size=(n, n))


class SymmetricSpMM(torch.autograd.Function):
    """A_hat @ H whose backward reuses A_hat (it is symmetric), as mixgcn does, instead of
    letting autograd transpose the CSR matrix every step."""

    @staticmethod
    def forward(ctx, a_hat, h):
        ctx.a_hat = a_hat
        return torch.sparse.mm(a_hat, h)

    @staticmethod
    def backward(ctx, grad):
        return None, torch.sparse.mm(ctx.a_hat, grad)


class GCN(torch.nn.Module):
    def __init__(self, dims, dropout):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        for lin in self.layers:
            torch.nn.init.xavier_uniform_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
        self.dropout = dropout

    def forward(self, a_hat, x):
        h = x
        for i, lin in enumerate(self.layers):
            h = torch.nn.functional.dropout(h, self.dropout, self.training)
            h = SymmetricSpMM.apply(a_hat, h @ lin.weight.t()) + lin.bias
            if i + 1 < len(self.layers):
                h = torch.relu(h)
        return h


def peer_arguments(description):
    """The command line every peer shares (pyg_gcn.py adds its own on top)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", required=True, help="dataset folder (FORMAT.md)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch default)")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--feature-norm", choices=["row", "none"], default="row",
                    help="row-normalise features, as mixgcn-train does by default")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda")
    ap.add_argument("--json", help="also write the result to this file")
    return ap


def load_inputs(args, build_graph):
    """Threads, seed, dataset, feature normalisation, graph (build_graph(edges, n) gives the
    peer's graph object and its non-zeros with self loops), device: what every peer does
    before training. Returns x, graph, nnz, y, split, classes and the seconds it took."""
    if args.layers < 1 or args.epochs < 1 or args.hidden < 1:
        fail("--layers, --epochs and --hidden must be >= 1")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    x, edges, y, split = load_dataset(args.data)
    n = x.shape[0]
    if args.feature_norm == "row":
        s = x.sum(1, keepdim=True)
        x = torch.where(s != 0, x / torch.where(s != 0, s, torch.ones_like(s)), x)
    graph, nnz = build_graph(edges, n)
    del edges
    if args.device != "cpu":
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            fail("--device cuda: torch sees no GPU", 77)
        dev = torch.device(args.device)
        x, graph, y, split = x.to(dev), graph.to(dev), y.to(dev), split.to(dev)
    load_s = time.perf_counter() - t0
    if int((split == 1).sum()) == 0:
        fail(f"{args.data}: no training nodes")
    return x, graph, nnz, y, split, int(y.max()) + 1, load_s


def main():
    args = peer_arguments(__doc__.split("\n")[0]).parse_args()

    def operator(edges, n):
        a_hat = gcn_operator(edges, n)
        return a_hat, int(a_hat.values().numel())

    x, a_hat, nnz, y, split, classes, load_s = load_inputs(args, operator)
    dims = [x.shape[1]] + [args.hidden] * (args.layers - 1) + [classes]
    model = GCN(dims, args.dropout).to(x.device)
    train_and_report(model, a_hat, x, y, split, args, load_s, {
        "peer": "pytorch",
        "torch_version": torch.__version__,
        "nonzeros_with_self_loops": nnz,
    })


def train_and_report(model, graph, x, y, split, args, load_s, peer_fields):
    """The part every peer shares: Adam (weight decay on the first layer only), the timed
    epoch loop (training step + evaluation pass, as mixgcn-train counts an epoch), and the
    JSON result (peer_fields first). model(graph, x) gives the logits."""
    on_gpu = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    classes = int(y.max()) + 1
    train, val, test = split == 1, split == 2, split == 3
    first_layer = list(model.layers[0].parameters())
    rest = [p for layer in model.layers[1:] for p in layer.parameters()]
    groups = [{"params": first_layer, "weight_decay": args.weight_decay}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    opt = torch.optim.Adam(groups, lr=args.lr)

    def accuracy(logits, mask):
        m = int(mask.sum())
        return float((logits[mask].argmax(1) == y[mask]).sum()) / m if m else float("nan")

    epoch_times, step_times = [], []
    best_val, best_epoch, test_at_best, last_loss = -1.0, 0, float("nan"), float("nan")
    for epoch in range(1, args.epochs + 1):
        sync()
        t = time.perf_counter()
        model.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(graph, x)[train], y[train])
        loss.backward()
        opt.step()
        sync()
        step_times.append(time.perf_counter() - t)
        model.eval()
        with torch.no_grad():
            logits = model(graph, x)
        # mixgcn's epoch ends with the accuracy counts on the host: so does this one.
        va = accuracy(logits, val) if int(val.sum()) else accuracy(logits, train)
        epoch_times.append(time.perf_counter() - t)
        last_loss = loss.item()
        if va > best_val:
            best_val, best_epoch, test_at_best = va, epoch, accuracy(logits, test)

    result = dict(peer_fields)
    result.update({
        "threads": torch.get_num_threads(),
        "nodes": int(x.shape[0]),
        "features": int(x.shape[1]),
        "classes": classes,
        "hidden": args.hidden,
        "layers": args.layers,
        "epochs": args.epochs,
        "load_seconds": load_s,
        "epoch_time_median_s": statistics.median(epoch_times),
        "train_step_median_s": statistics.median(step_times),
        "final_loss": last_loss,
        "best_val_epoch": best_epoch,
        "best_val_acc": best_val,
        "test_accuracy": test_at_best,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "device_peak_bytes": torch.cuda.max_memory_allocated() if on_gpu else None,
    })
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
