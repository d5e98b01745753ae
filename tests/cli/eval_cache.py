"""Checks two mixgcn-train --json reports of the same run, with and without
--no-eval-cache: identical losses and accuracies (the cache only skips recomputing the
same Â·X), and exactly one N x F matrix fewer activation bytes without it."""
import json
import sys

cached, plain = (json.load(open(f)) for f in sys.argv[1:3])
assert cached["config"]["eval_cache"] and not plain["config"]["eval_cache"], "flags not as expected"
for a, b in zip(cached["epochs"], plain["epochs"]):
    assert a["loss"] == b["loss"] and a["val_acc"] == b["val_acc"], f"epoch {a['epoch']} differs: {a} vs {b}"
assert len(cached["epochs"]) == len(plain["epochs"]) > 0, "epoch counts differ"
width = 8 if cached["config"]["precision"] == "double" else 4
saved = cached["memory"]["activations"] - plain["memory"]["activations"]
expected = cached["dataset"]["nodes"] * cached["dataset"]["features"] * width
print(f"losses identical over {len(plain['epochs'])} epochs; activations {saved} bytes smaller (expected {expected})")
assert saved == expected, "the cache is not the only difference in memory"
