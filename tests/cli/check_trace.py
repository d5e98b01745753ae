#!/usr/bin/env python3
"""Validates a mixgcn-train --trace file against the run's --json report.

  check_trace.py TRACE.json REPORT.json

Checks: the Chrome trace schema (complete "X" events with name, cat, pid, tid, ts, dur;
a process_name per rank); one process per rank of the report; spans on each rank
properly nested (a span that starts inside another ends inside it) and epochs in
order, one per reported epoch; each layer's forward and backward, aggregation, dense
update, optimizer and evaluation present; one `rebalance` span per re-cut the report's
`balance.rebalances` records, each inside the epoch it follows; and per rank, the comm spans' total within 5 %
of the report's comm_seconds and the compute spans' total (less the comm spans nested in
them) within 5 % of its compute_seconds (0.5 ms absolute slack for tiny totals).
"""
import json
import sys

EPS_US = 1e-3  # timestamps carry nanosecond decimals


def fail(msg):
    print("check_trace: FAIL:", msg)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        fail("usage: check_trace.py TRACE.json REPORT.json")
    with open(sys.argv[1]) as f:
        trace = json.load(f)
    with open(sys.argv[2]) as f:
        report = json.load(f)
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        fail("no traceEvents list")
    ranks = int(report["config"]["ranks"])
    strategy = report["config"]["strategy"]
    epochs = len(report["epochs"])
    layers = int(report["config"]["layers"])

    spans = {r: [] for r in range(ranks)}
    named = set()
    for e in trace["traceEvents"]:
        for key in ("name", "ph", "pid", "tid"):
            if key not in e:
                fail(f"event without {key!r}: {e}")
        if e["ph"] == "M":
            if e["name"] == "process_name":
                named.add(e["pid"])
            continue
        if e["ph"] != "X":
            fail(f"unexpected phase {e['ph']!r} in {e}")
        for key in ("cat", "ts", "dur"):
            if key not in e:
                fail(f"span without {key!r}: {e}")
        if not isinstance(e["name"], str) or not e["name"]:
            fail(f"span without a name: {e}")
        if e["ts"] < 0 or e["dur"] < 0:
            fail(f"negative time in {e}")
        if e["pid"] not in spans:
            fail(f"span of pid {e['pid']}, but the run had {ranks} rank(s)")
        spans[e["pid"]].append(e)
    if named != set(range(ranks)):
        fail(f"process_name metadata for pids {sorted(named)}, expected 0..{ranks - 1}")

    for r in range(ranks):
        ev = sorted(spans[r], key=lambda e: (e["ts"], -e["dur"]))
        names = {e["name"] for e in ev}
        want = {"epoch", "optimizer" if strategy != "data" else "training step", "evaluation", "load dataset"}
        if strategy != "data":
            want |= {"forward", "backward", "aggregation", "dense update", "gradient reduction"}
            for l in range(layers):
                want |= {f"layer forward L{l}", f"layer backward L{l}"}
        if ranks > 1:
            want.add("all-reduce" if strategy in ("graph", "data", "mixture") else "all-gather")
        missing = want - names
        if missing:
            fail(f"rank {r}: no span named {sorted(missing)} (have {sorted(names)})")
        # Nesting: a stack of open spans; every span lies within its parent.
        stack = []
        comm = compute = nested_comm = 0.0
        for e in ev:
            begin, end = e["ts"], e["ts"] + e["dur"]
            while stack and stack[-1][1] <= begin + EPS_US:
                stack.pop()
            if stack and end > stack[-1][1] + EPS_US:
                fail(f"rank {r}: span {e['name']!r} [{begin}, {end}] overlaps the end of "
                     f"{stack[-1][2]!r} [{stack[-1][0]}, {stack[-1][1]}]")
            if e["cat"] == "comm":
                comm += e["dur"]
                if any(s[3] == "compute" for s in stack):
                    nested_comm += e["dur"]
            elif e["cat"] == "compute":
                if any(s[3] == "compute" for s in stack):
                    fail(f"rank {r}: compute span {e['name']!r} inside another compute span")
                compute += e["dur"]
            stack.append((begin, end, e["name"], e["cat"]))
        epoch_spans = [e for e in ev if e["name"] == "epoch"]
        if len(epoch_spans) != epochs:
            fail(f"rank {r}: {len(epoch_spans)} epoch spans, the report has {epochs} epochs")
        for a, b in zip(epoch_spans, epoch_spans[1:]):
            if b["ts"] + EPS_US < a["ts"] + a["dur"]:
                fail(f"rank {r}: epochs overlap at {b['ts']}")
        recuts = report.get("balance", {}).get("rebalances", [])
        rebalance_spans = [e for e in ev if e["name"] == "rebalance"]
        if len(rebalance_spans) != len(recuts):
            fail(f"rank {r}: {len(rebalance_spans)} rebalance spans, the report has {len(recuts)} re-cuts")
        for e, cut in zip(rebalance_spans, recuts):
            host = epoch_spans[int(cut["after_epoch"]) - 1]
            if not (host["ts"] - EPS_US <= e["ts"] and e["ts"] + e["dur"] <= host["ts"] + host["dur"] + EPS_US):
                fail(f"rank {r}: the rebalance after epoch {cut['after_epoch']} lies outside that epoch's span")
        if recuts:
            print(f"rank {r}: {len(recuts)} rebalance span(s), each inside the epoch it follows")
        figures = next(x for x in report["ranks"] if x["rank"] == r)
        for what, traced in (("comm_seconds", comm * 1e-6), ("compute_seconds", (compute - nested_comm) * 1e-6)):
            reported = float(figures[what])
            if abs(traced - reported) > max(0.05 * reported, 5e-4):
                fail(f"rank {r}: {what} {reported:.6f} s in the report, {traced:.6f} s in the trace")
            print(f"rank {r}: {what} report {reported:.6f} s, trace {traced:.6f} s")
        print(f"rank {r}: {len(ev)} spans, nested and ordered")
    print("check_trace: OK")


if __name__ == "__main__":
    main()
