#!/usr/bin/env bash
# Epoch time and peak memory of mixgcn-train against its peers on the same generated
# graph: the plain-PyTorch peer (bench/peers/torch_gcn.py) and the PyTorch Geometric peer
# (bench/peers/pyg_gcn.py, GCNConv). Same 2-layer GCN (hidden width 128 by default), same
# normalisation, optimiser and thread count for all. Prints a table and writes DIR/epoch.json
# (bench/epoch_plot.py draws one or several of those).
#
# Graph (--shape): a power-law SBM from mixgcn-train's generator, exported once to
# DIR/sbm-n<N>-d<D>-f<F>-c<C> and reused while that folder is there (pass the same --out).
#   sbm       100,000 nodes, mean degree 20 (~1 M undirected edges), 128 features, 8 classes
#   reddit    Reddit's sizes: 232,965 nodes, mean degree 99.65 (~11.6 M edges), 602 features,
#             41 classes
#   products  ogbn-products' sizes: 2,449,029 nodes, mean degree 50.52 (~61.9 M edges),
#             100 features, 47 classes
# --nodes, --avg-degree, --features and --classes override the shape's values. The mean
# degree D is undirected: the generator draws N*D/2 edges, i.e. about N*D nonzeros of A.
#
# Every run (mixgcn and each peer) is supervised: one killed by SIGKILL (exit 137, the OOM
# killer) or that ran out of memory is recorded as "OOM", one past --timeout as "timeout",
# both with the peak RSS it reached; a peer whose package is not importable is recorded as
# "not installed". With --backend cuda all run on the GPU and the table adds device peaks.
#
# usage: bench/epoch.sh [--shape sbm|reddit|products] [--nodes N] [--avg-degree D]
#                       [--features F] [--classes C] [--threads T] [--epochs E]
#                       [--hidden H] [--backend host|cuda] [--peers torch,pyg|none]
#                       [--timeout SECONDS] [--train PATH] [--python PY] [--out DIR]
#                       [--dry-run]
#   --peers     comma list of peers to run beside mixgcn (default torch,pyg)
#   --timeout   wall-clock limit of each run, generation excluded (default 1800)
#   --dry-run   print the commands it would run, run nothing
set -euo pipefail

shape=sbm threads=2 epochs=20 hidden=128 backend=host peers=torch,pyg timeout_s=1800 dry_run=0
nodes="" avg_degree="" features="" classes=""
train="" python="${PYTHON:-python3}" out=""
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

die() { echo "epoch.sh: $*" >&2; exit 2; }
need() { [[ $# -ge 2 ]] || die "$1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shape) need "$@"; shape="$2"; shift 2 ;;
    --threads) need "$@"; threads="$2"; shift 2 ;;
    --epochs) need "$@"; epochs="$2"; shift 2 ;;
    --nodes) need "$@"; nodes="$2"; shift 2 ;;
    --avg-degree) need "$@"; avg_degree="$2"; shift 2 ;;
    --features) need "$@"; features="$2"; shift 2 ;;
    --classes) need "$@"; classes="$2"; shift 2 ;;
    --hidden) need "$@"; hidden="$2"; shift 2 ;;
    --backend) need "$@"; backend="$2"; shift 2 ;;
    --peers) need "$@"; peers="$2"; shift 2 ;;
    --timeout) need "$@"; timeout_s="$2"; shift 2 ;;
    --train) need "$@"; train="$2"; shift 2 ;;
    --python) need "$@"; python="$2"; shift 2 ;;
    --out) need "$@"; out="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# The shape gives the defaults; explicit flags win. Mean degrees: 2 * edges / nodes.
case "$shape" in
  sbm) d=(100000 20 128 8) ;;
  reddit) d=(232965 99.65 602 41) ;;      # 2 * 11,606,919 / 232,965
  products) d=(2449029 50.52 100 47) ;;   # 2 * 61,859,140 / 2,449,029
  *) die "--shape must be sbm, reddit or products, got '$shape'" ;;
esac
nodes="${nodes:-${d[0]}}" avg_degree="${avg_degree:-${d[1]}}" features="${features:-${d[2]}}" classes="${classes:-${d[3]}}"

[[ "$backend" == host || "$backend" == cuda ]] || die "--backend must be host or cuda, got '$backend'"
torch_device=cpu
[[ "$backend" == cuda ]] && torch_device=cuda
for v in threads epochs nodes features classes hidden timeout_s; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v%_s} must be a positive integer, got '${!v}'"
done
[[ "$avg_degree" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--avg-degree must be a positive number, got '$avg_degree'"
peer_list=()
if [[ "$peers" != none ]]; then
  IFS=, read -ra requested <<< "$peers"
  for p in "${requested[@]}"; do
    case "$p" in
      torch|pytorch) peer_list+=(pytorch) ;;
      pyg) peer_list+=(pyg) ;;
      *) die "--peers takes a comma list of torch and pyg (or none), got '$p'" ;;
    esac
  done
fi

# mixgcn-train: --train, then PATH, then the newest build folder that has one.
if [[ -z "$train" ]]; then
  if command -v mixgcn-train > /dev/null; then
    train="$(command -v mixgcn-train)"
  else
    train="$(ls -t "$root"/build*/tools/mixgcn-train 2> /dev/null | head -n 1 || true)"
  fi
fi
if [[ $dry_run -eq 0 ]]; then
  [[ -n "$train" && -x "$train" ]] || die "mixgcn-train not found; build it (cmake --build BUILD --target mixgcn-train) or pass --train PATH"
  command -v "$python" > /dev/null || die "'$python' not found; it supervises the runs and formats the report (pass --python PY)"
fi
train="${train:-mixgcn-train}"

if [[ -z "$out" ]]; then
  if ((dry_run)); then out="${TMPDIR:-/tmp}/mixgcn-epoch.DRYRUN"; else out="$(mktemp -d "${TMPDIR:-/tmp}/mixgcn-epoch.XXXXXX")"; fi
fi
data="$out/sbm-n${nodes}-d${avg_degree}-f${features}-c${classes}"

# Runs a command under a wall-clock limit in its own process group and writes what
# became of it to a status JSON: wait4() gives the peak RSS even of a killed child.
# usage: python -c "$supervise" STATUS.json TIMEOUT_S LOG -- CMD...
supervise='
import json, os, re, signal, subprocess, sys, time
status_path, limit, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
cmd = sys.argv[5:]
t0 = time.monotonic()
with open(log, "w") as f:
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
timed_out = False
def kill(sig):
    try: os.killpg(p.pid, sig)
    except ProcessLookupError: pass
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
try:
    while True:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid: break
        elapsed = time.monotonic() - t0
        if elapsed > limit and not timed_out:
            timed_out = True
            kill(signal.SIGTERM)
        if timed_out and elapsed > limit + 10: kill(signal.SIGKILL)  # 10 s grace
        time.sleep(0.05)
except BaseException:  # Ctrl-C or SIGTERM of this script: take the run down too
    kill(signal.SIGKILL)
    raise
sig = os.WTERMSIG(st) if os.WIFSIGNALED(st) else None
rc = os.waitstatus_to_exitcode(st)
text = open(log, errors="replace").read()[-20000:]
if timed_out: state = "timeout"
elif rc == 0: state = "ok"
elif rc == 77: state = "skipped"
elif sig == signal.SIGKILL or rc == 137 or re.search(r"MemoryError|bad_alloc|[Oo]ut of memory|[Cc]an.t allocate memory|Cannot allocate memory|needs .* but .* is available", text): state = "OOM"
else: state = "failed"
json.dump({"status": state, "exit_code": rc, "signal": sig, "wall_s": time.monotonic() - t0,
           "peak_rss_bytes": ru.ru_maxrss * 1024, "timeout_s": limit, "log": log}, open(status_path, "w"), indent=2)
'

# run NAME CMD...: supervised; prints one line of what became of it.
run() {
  local name="$1"; shift
  if ((dry_run)); then printf '  '; printf ' %q' "$@"; echo; return 0; fi
  rm -f "$out/$name.json" "$out/$name.status.json"
  "$python" -c "$supervise" "$out/$name.status.json" "$timeout_s" "$out/$name.log" -- "$@" \
    || die "could not supervise the $name run (python failed; see above)"
  local st; st="$("$python" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["status"], "exit", s["exit_code"], "peak RSS %.0f MiB" % (s["peak_rss_bytes"] / 2**20))' "$out/$name.status.json")"
  echo "   $st"
  [[ "$st" == ok* ]] || echo "   log: $out/$name.log"
  case "$st" in
    failed*) tail -n 20 "$out/$name.log" >&2 ;;
    skipped*) echo "   $(tail -n 1 "$out/$name.log")" ;;
  esac
}

((dry_run)) && echo "== dry run: nothing is executed; output folder $out"
if [[ ! -f "$data/split.npy" ]]; then
  echo "== generating $data"
  # One cheap epoch (one layer, hidden 16) is the way through the CLI to the export; it goes
  # to a .partial folder first so that an interrupted export is never reused.
  gen=("$train" --generate sbm --nodes "$nodes" --avg-degree "$avg_degree" --features "$features"
       --classes "$classes" --export-dataset "$data.partial" --layers 1 --epochs 1 --threads "$threads" --quiet)
  if ((dry_run)); then
    printf '  '; printf ' %q' "${gen[@]}"; echo
  else
    mkdir -p "$out"
    rm -rf "$data.partial"
    "${gen[@]}" > "$out/generate.log" 2>&1 || { cat "$out/generate.log" >&2; die "dataset generation failed (log above)"; }
    mv "$data.partial" "$data"
  fi
fi

echo "== mixgcn-train: backend $backend, $threads thread(s), $epochs epochs, hidden $hidden, timeout ${timeout_s} s"
run mixgcn "$train" --data "$data" --hidden "$hidden" --layers 2 --threads "$threads" --epochs "$epochs" \
  --backend "$backend" --json "$out/mixgcn.json" --quiet

for peer in "${peer_list[@]}"; do
  case "$peer" in
    pytorch) script=torch_gcn.py module=torch ;;
    pyg) script=pyg_gcn.py module=torch_geometric ;;
  esac
  echo "== $peer peer: device $torch_device, $threads thread(s)"
  if ((!dry_run)) && ! "$python" -c "import $module" > /dev/null 2>&1; then
    echo "   not installed: '$python' cannot import $module"
    echo '{"status": "not installed", "module": "'"$module"'"}' > "$out/$peer.status.json"
    rm -f "$out/$peer.json"
    continue
  fi
  run "$peer" "$python" "$here/peers/$script" --data "$data" --hidden "$hidden" --layers 2 --threads "$threads" \
    --epochs "$epochs" --device "$torch_device" --json "$out/$peer.json"
done
((dry_run)) && exit 0

peers_csv="$(IFS=,; echo "${peer_list[*]}")"
"$python" - "$out" "$shape" "$threads" "$epochs" "$hidden" "$nodes" "$avg_degree" "$features" "$classes" \
  "$timeout_s" "$peers_csv" << 'PY'
import json, os, sys
out, shape, threads, epochs, hidden, nodes, avg_degree, features, classes, timeout_s, peers = sys.argv[1:]
peers = [p for p in peers.split(",") if p]
load = lambda p: json.load(open(p)) if os.path.exists(p) else None

def result(name):
    """The run's own JSON with its supervision status; peak RSS from wait4 when it died."""
    st = load(os.path.join(out, f"{name}.status.json")) or {"status": "missing"}
    r = load(os.path.join(out, f"{name}.json")) if st["status"] == "ok" else None
    if r is None:
        return {"status": st["status"] if st["status"] != "ok" else "no JSON",
                "peak_rss_bytes": st.get("peak_rss_bytes"), "wall_s": st.get("wall_s"), "exit_code": st.get("exit_code")}
    return dict(r, status="ok", wall_s=st.get("wall_s"), exit_code=0)

names = ["mixgcn"] + peers
res = {n: result(n) for n in names}
m = res["mixgcn"]
ok = lambda r: r["status"] == "ok"

def cell(r, key, scale=1.0, always=False):
    if not ok(r) and not always:
        return r["status"]
    v = r.get(key)
    return f"{v * scale:.3f}" if v is not None else "-"

ratio = {p: res[p]["epoch_time_median_s"] / m["epoch_time_median_s"] if ok(m) and ok(res[p]) else None for p in peers}
rows = [("status", [r["status"] for r in res.values()]),
        ("epoch time median (ms)", [cell(r, "epoch_time_median_s", 1e3) for r in res.values()]),
        ("peak RSS (MiB)", [cell(r, "peak_rss_bytes", 2**-20, always=True) for r in res.values()]),
        ("device peak (MiB)", [cell(r, "device_peak_bytes", 2**-20) for r in res.values()]),
        ("test accuracy", [cell(r, "test_accuracy") for r in res.values()]),
        ("peer / mixgcn epoch time", ["1.00" if ok(m) else "-"] + [f"{ratio[p]:.2f}x" if ratio[p] else "-" for p in peers])]
print(f"\n{'':26}" + "".join(f"{n:>15}" for n in names))
for label, cells in rows:
    if label == "device peak (MiB)" and not any(r.get("device_peak_bytes") for r in res.values()):
        continue
    print(f"{label:26}" + "".join(f"{c:>15}" for c in cells))
def version(package):  # the installed one, also when no peer run got as far as reporting it
    from importlib import metadata
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
reported = lambda key: next((res[p][key] for p in peers if ok(res[p]) and res[p].get(key)), None)
tv = reported("torch_version") or version("torch")  # the peer's has the local tag (+cpu, +cu132)
gv = reported("torch_geometric_version") or version("torch_geometric")
print(f"\n{shape}: {nodes} nodes, mean degree {avg_degree}, {features} features, {classes} classes; "
      f"{threads} thread(s); torch {tv or '-'}, torch_geometric {gv or '-'}")

combined = {"config": {"shape": shape, "backend": m.get("config", {}).get("backend"),
                       "device": m.get("config", {}).get("device", "host"), "threads": int(threads),
                       "epochs": int(epochs), "hidden": int(hidden), "layers": 2, "nodes": int(nodes),
                       "avg_degree": float(avg_degree), "features": int(features), "classes": int(classes),
                       "timeout_s": int(timeout_s), "peers": peers},
            "mixgcn": {k: m.get(k) for k in ("status", "epoch_time_median_s", "peak_rss_bytes", "device_peak_bytes",
                                             "test_accuracy", "dataset", "wall_s", "exit_code")},
            "pytorch": res.get("pytorch"), "pyg": res.get("pyg"),
            "torch_over_mixgcn_epoch_time": ratio.get("pytorch"), "pyg_over_mixgcn_epoch_time": ratio.get("pyg"),
            "torch_version": tv, "torch_geometric_version": gv}
with open(os.path.join(out, "epoch.json"), "w") as f:
    json.dump(combined, f, indent=2)
    f.write("\n")
print(f"combined JSON: {os.path.join(out, 'epoch.json')}")
# A run that failed for another reason than memory or time is an error of the benchmark.
sys.exit(1 if any(r["status"] in ("failed", "no JSON", "missing") for r in res.values()) else 0)
PY
