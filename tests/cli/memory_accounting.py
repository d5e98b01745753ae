"""Checks mixgcn-train --json reports against the kernel's count: the memory breakdown's
total (graph, features, activations at their peak, parameters and optimizer,
communication buffers) within 10 % of the peak resident set above the resident set the
run started from (libraries, the MPI runtime). A figure the breakdown misses, a buffer
held twice, or a peak it does not see (issue #11) moves the ratio out of the band."""
import json
import sys

worst = 0.0
for path in sys.argv[1:]:
    r = json.load(open(path))
    m = r["memory"]
    added = r["peak_rss_bytes"] - r["baseline_rss_bytes"]
    assert added > 0, f"{path}: peak {r['peak_rss_bytes']} not above baseline {r['baseline_rss_bytes']}"
    ratio = m["total"] / added
    parts = ", ".join(f"{k} {v / 2**20:.1f}" for k, v in m.items() if k != "total")
    print(f"{path}: {r['config']['strategy']} on {r['config']['ranks']} rank(s): counted {m['total'] / 2**20:.1f} MiB "
          f"({parts}), resident above baseline {added / 2**20:.1f} MiB: ratio {ratio:.3f}")
    worst = max(worst, abs(ratio - 1))
assert worst <= 0.10, f"a breakdown is {100 * worst:.1f} % off the resident set (allowed 10 %)"
