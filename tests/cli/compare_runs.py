"""Compares the per-epoch losses of two mixgcn-train --json reports (relative tolerance),
and checks the per-rank report of the second: bytes add up across ranks, every rank's
measured bytes equal the cost model's prediction, and the graph strategy has a halo.
`--order NAME` also checks that the second run trained in that node order, `--load NAME`
that it loaded the data that way, `--rebalanced yes` that the load balancer re-cut the
ownership at least once (and that every re-cut's rows cover the graph), `--pipeline S` that
the second run is a pipeline of S stages whose report names every rank's stage and layers
(every rank holds the whole graph there, as in data), `--backends A,B,...` and
`--threads N,M,...` that rank q of the second run ran backend A_q with N_q threads (a
heterogeneous MPMD job).

usage: compare_runs.py FIRST.json SECOND.json TOLERANCE [--order NAME] [--load NAME] [--rebalanced yes]
                       [--pipeline S] [--backends LIST] [--threads LIST]"""
import json
import sys

a, b, tol = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
for flag, value in zip(sys.argv[4::2], sys.argv[5::2]):
    if flag == "--rebalanced":
        events = b["balance"]["rebalances"]
        assert events, "the balancer never re-cut"
        for e in events:
            assert sum(e["rows"]) == b["dataset"]["nodes"], f"re-cut after epoch {e['after_epoch']}: rows {e['rows']}"
        assert len(b["balance"]["epochs"]) == len(b["epochs"]), "one balance record per epoch"
        print(f"{len(events)} rebalances; rows after the last {events[-1]['rows']}")
        continue
    if flag == "--pipeline":
        p = b["pipeline"]
        assert p["stages"] == int(value), f"pipeline of {p['stages']} stages, expected {value}"
        assert len(p["ranks"]) == b["config"]["ranks"], "one stage record per rank"
        S = p["stages"]
        for q, r in enumerate(p["ranks"]):
            assert r["stage"] == q % S, f"rank {q} holds stage {r['stage']}"
            assert r["last_layer"] > r["first_layer"], f"rank {q}: layers [{r['first_layer']}, {r['last_layer']})"
            assert 0 <= r["bubble"] <= 1 and r["peak_activation_bytes"] > 0, f"rank {q}: {r}"
        assert p["ranks"][-1]["last_layer"] == b["config"]["layers"], "the last stage ends at the last layer"
        print("stages:", [(r["stage"], r["first_layer"], r["last_layer"], round(r["bubble"], 3)) for r in p["ranks"]],
              "ideal bubble", p["ideal_bubble"])
        continue
    if flag in ("--backends", "--threads"):
        field = flag[2:-1] if flag == "--backends" else "threads"
        want = [v if flag == "--backends" else int(v) for v in value.split(",")]
        have = [r[field] for r in b["ranks"]]
        assert have == want, f"per-rank {field}: {have}, expected {want}"
        print(f"per-rank {field}: {have}")
        continue
    key = {"--order": "order", "--load": "load"}[flag]
    assert b["config"][key] == value, f"config.{key} is {b['config'][key]!r}, expected {value!r}"
la = [e["loss"] for e in a["epochs"]]
lb = [e["loss"] for e in b["epochs"]]
assert len(la) == len(lb) and la, f"epoch counts differ: {len(la)} vs {len(lb)}"
worst = max(abs(x - y) / abs(x) for x, y in zip(la, lb))
print(f"max relative loss difference over {len(la)} epochs: {worst:.3e} (tolerance {tol:g})")
assert worst <= tol, "losses differ"
ranks = b["ranks"]
assert len(ranks) == b["config"]["ranks"], "one report per rank"
sent = sum(r["bytes_sent"] for r in ranks)
received = sum(r["bytes_received"] for r in ranks)
assert sent == received, f"bytes sent {sent} != received {received}"
whole_graph_per_rank = b["config"]["strategy"] in ("data", "pipeline")
assert sum(r["owned_nodes"] for r in ranks) == b["dataset"]["nodes"] * (len(ranks) if whole_graph_per_rank else 1), \
    "owned nodes do not cover the graph"
for r in ranks:
    if "predicted_bytes_sent" in r:
        assert r["bytes_sent"] == r["predicted_bytes_sent"], f"rank {r['rank']}: sent {r['bytes_sent']} != predicted {r['predicted_bytes_sent']}"
        assert r["bytes_received"] == r["predicted_bytes_received"], f"rank {r['rank']}: received != predicted"
if len(ranks) > 1:
    assert sent > 0, "no traffic"
    if b["config"]["strategy"] == "graph":
        assert all(r["halo_nodes"] > 0 for r in ranks), "no halo traffic"
    if b["config"]["strategy"] == "mixture":
        assert all(len(r["layers"]) == b["config"]["layers"] for r in ranks), "per-layer exchange figures missing"
print("ranks:", [(r["rank"], r["owned_nodes"], r["halo_nodes"], r["bytes_sent"]) for r in ranks])
