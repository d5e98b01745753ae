#!/usr/bin/env bash
# Graph-parallel scaling: mixgcn-train --strategy graph on P = 1, 2, 4 ranks (mpirun) for
# every partitioner, on one generated graph (default: SBM, 50k nodes, ~1M undirected
# edges, 64 features, hidden 64). Prints epoch time, bytes per rank, halo sizes and
# balance as a table and writes a combined JSON. On a machine with fewer cores than
# ranks, P > cores shows correctness and volume, not speed.
#
# usage: bench/scaling.sh [--ranks "1 2 4"] [--methods "block random spectral metis"]
#                         [--nodes N] [--avg-degree D] [--features F] [--hidden H]
#                         [--epochs E] [--threads T] [--train PATH] [--out DIR]
set -euo pipefail
ranks="1 2 4" methods="block random spectral metis" nodes=50000 avg_degree=40 features=64 hidden=64
epochs=10 threads=1 train="" out=""
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --nodes) nodes="$2"; shift 2 ;;
    --avg-degree) avg_degree="$2"; shift 2 ;;
    --features) features="$2"; shift 2 ;;
    --hidden) hidden="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --train) train="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scaling.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
train="${train:-$(ls -t "$root"/build*/tools/mixgcn-train 2> /dev/null | head -n 1 || true)}"
[[ -x "$train" ]] || { echo "scaling.sh: mixgcn-train not found (build it or pass --train)" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "scaling.sh: mpirun not found" >&2; exit 2; }
out="${out:-$(mktemp -d "${TMPDIR:-/tmp}/mixgcn-scaling.XXXXXX")}"
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
data="$out/sbm-n$nodes-d$avg_degree-f$features"
[[ -f "$data/edges.npy" ]] || "$train" --nodes "$nodes" --avg-degree "$avg_degree" --features "$features" \
  --export-dataset "$data" --epochs 1 --quiet > /dev/null
for p in $ranks; do
  for m in $methods; do
    echo "== P=$p partition=$m"
    mpirun --oversubscribe -np "$p" "$train" --data "$data" --strategy graph --partition "$m" --hidden "$hidden" \
      --epochs "$epochs" --threads "$threads" --quiet --json "$out/p$p-$m.json" > "$out/p$p-$m.log" 2>&1 \
      || { cat "$out/p$p-$m.log" >&2; exit 1; }
  done
done
python3 - "$out" "$ranks" "$methods" "$epochs" << 'PY'
import json, os, sys
out, ranks, methods, epochs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4])
rows = []
print(f"{'P':>2} {'partition':<9} {'epoch ms':>9} {'MiB sent/rank/epoch':>20} {'halo total':>10} {'halo max':>9} "
      f"{'node bal':>8} {'comm s':>7} {'peak MiB max':>12}")
for p in ranks:
    for m in methods:
        j = json.load(open(os.path.join(out, f"p{p}-{m}.json")))
        r = j["ranks"]
        n = len(j["epochs"])
        owned = [x["owned_nodes"] for x in r]
        row = {"ranks": int(p), "partition": m, "epoch_time_median_s": j["epoch_time_median_s"],
               "bytes_sent_per_rank_per_epoch": [x["bytes_sent"] / n for x in r],
               "halo_nodes": [x["halo_nodes"] for x in r], "owned_nodes": owned,
               "comm_seconds": [x["comm_seconds"] for x in r], "peak_rss_bytes": [x["peak_rss_bytes"] for x in r],
               "test_accuracy": j["test_accuracy"]}
        rows.append(row)
        print(f"{p:>2} {m:<9} {1e3 * row['epoch_time_median_s']:9.1f} "
              f"{max(row['bytes_sent_per_rank_per_epoch']) / 2**20:20.2f} {sum(row['halo_nodes']):10d} "
              f"{max(row['halo_nodes']):9d} {max(owned) * len(owned) / sum(owned):8.3f} "
              f"{max(row['comm_seconds']):7.2f} {max(row['peak_rss_bytes']) / 2**20:12.1f}")
json.dump({"runs": rows}, open(os.path.join(out, "scaling.json"), "w"), indent=1)
print("JSON:", os.path.join(out, "scaling.json"))
PY
