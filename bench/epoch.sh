#!/usr/bin/env bash
# Epoch time and peak memory of mixgcn-train against the PyTorch peer
# (bench/peers/torch_gcn.py) on the same generated graph: a power-law SBM with 100k nodes,
# ~1M undirected edges and 128 features, a 2-layer GCN with hidden width 128, the same
# thread count for both. Prints a table and writes a combined JSON.
#
# With --backend cuda both run on the GPU (mixgcn-train --backend cuda, torch on
# device cuda) and the table adds the device memory peaks.
#
# usage: bench/epoch.sh [--threads T] [--epochs E] [--nodes N] [--avg-degree D]
#                       [--features F] [--hidden H] [--backend host|cuda]
#                       [--train PATH] [--python PY] [--out DIR]
set -euo pipefail

threads=2 epochs=20 nodes=100000 avg_degree=20 features=128 hidden=128 backend=host
train="" python="${PYTHON:-python3}" out=""
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

die() { echo "epoch.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --nodes) nodes="$2"; shift 2 ;;
    --avg-degree) avg_degree="$2"; shift 2 ;;
    --features) features="$2"; shift 2 ;;
    --hidden) hidden="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --train) train="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$backend" == host || "$backend" == cuda ]] || die "--backend must be host or cuda, got '$backend'"
torch_device=cpu
[[ "$backend" == cuda ]] && torch_device=cuda
for v in threads epochs nodes features hidden; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v} must be a positive integer, got '${!v}'"
done

# mixgcn-train: --train, then PATH, then the newest build folder that has one.
if [[ -z "$train" ]]; then
  if command -v mixgcn-train > /dev/null; then
    train="$(command -v mixgcn-train)"
  else
    train="$(ls -t "$root"/build*/tools/mixgcn-train 2> /dev/null | head -n 1 || true)"
  fi
fi
[[ -n "$train" && -x "$train" ]] || die "mixgcn-train not found; build it (cmake --build BUILD --target mixgcn-train) or pass --train PATH"
command -v "$python" > /dev/null || die "'$python' not found; it formats the report (pass --python PY)"

out="${out:-$(mktemp -d "${TMPDIR:-/tmp}/mixgcn-epoch.XXXXXX")}"
mkdir -p "$out"
data="$out/sbm-n${nodes}-d${avg_degree}-f${features}"

if [[ ! -f "$data/edges.npy" ]]; then
  echo "== generating $data"
  # One epoch is the cheapest way through the CLI to the export.
  "$train" --generate sbm --nodes "$nodes" --avg-degree "$avg_degree" --features "$features" \
    --export-dataset "$data" --epochs 1 --quiet > "$out/generate.log" 2>&1 \
    || { cat "$out/generate.log" >&2; die "dataset generation failed (log above)"; }
fi

echo "== mixgcn-train: backend $backend, $threads thread(s), $epochs epochs, hidden $hidden"
"$train" --data "$data" --hidden "$hidden" --layers 2 --threads "$threads" --epochs "$epochs" \
  --backend "$backend" --json "$out/mixgcn.json" --quiet

echo "== PyTorch peer: device $torch_device, $threads thread(s)"
peer_rc=0
"$python" "$here/peers/torch_gcn.py" --data "$data" --hidden "$hidden" --layers 2 --threads "$threads" \
  --epochs "$epochs" --device "$torch_device" --json "$out/torch.json" > "$out/torch.log" 2>&1 || peer_rc=$?
if [[ $peer_rc -eq 77 ]]; then
  echo "   skipped: $(tail -n 1 "$out/torch.log")"
  rm -f "$out/torch.json"
elif [[ $peer_rc -ne 0 ]]; then
  cat "$out/torch.log" >&2
  die "the PyTorch peer failed with exit code $peer_rc (log above)"
fi

"$python" - "$out" "$threads" "$epochs" "$hidden" "$nodes" "$avg_degree" "$features" << 'PY'
import json, os, sys
out, threads, epochs, hidden, nodes, avg_degree, features = sys.argv[1:]
m = json.load(open(os.path.join(out, "mixgcn.json")))
tp = os.path.join(out, "torch.json")
t = json.load(open(tp)) if os.path.exists(tp) else None
mib = lambda b: b / 2**20
rows = [("epoch time median (ms)", m["epoch_time_median_s"] * 1e3, t and t["epoch_time_median_s"] * 1e3),
        ("peak RSS (MiB)", mib(m["peak_rss_bytes"]), t and mib(t["peak_rss_bytes"])),
        ("device peak (MiB)", m.get("device_peak_bytes") and mib(m["device_peak_bytes"]),
         t and t.get("device_peak_bytes") and mib(t["device_peak_bytes"])),
        ("test accuracy", m["test_accuracy"], t and t["test_accuracy"])]
print(f"\n{'':24}{'mixgcn':>12}{'pytorch':>12}")
for name, a, b in rows:
    if a is None and b is None:
        continue
    print(f"{name:24}" + (f"{a:12.3f}" if a is not None else f"{'-':>12}") +
          (f"{b:12.3f}" if b is not None else f"{'skipped':>12}"))
ratio = t["epoch_time_median_s"] / m["epoch_time_median_s"] if t else None
if t:
    print(f"\npytorch / mixgcn epoch time: {ratio:.2f}x   (torch {t['torch_version']}, {threads} thread(s), "
          f"device {t.get('device', 'cpu')})")
combined = {"config": {"backend": m["config"]["backend"], "device": m["config"].get("device", "host"), "threads": int(threads), "epochs": int(epochs), "hidden": int(hidden), "layers": 2,
                       "nodes": int(nodes), "avg_degree": float(avg_degree), "features": int(features)},
            "mixgcn": {k: m.get(k) for k in ("epoch_time_median_s", "peak_rss_bytes", "device_peak_bytes", "test_accuracy", "dataset")},
            "pytorch": t, "torch_over_mixgcn_epoch_time": ratio,
            "torch_version": t["torch_version"] if t else None}
with open(os.path.join(out, "epoch.json"), "w") as f:
    json.dump(combined, f, indent=2)
    f.write("\n")
print(f"combined JSON: {os.path.join(out, 'epoch.json')}")
PY
