"""Compares a resumed mixgcn-train --json report with the uninterrupted run's.
   compare_resume.py FULL.json RESUMED.json RESUMED_FROM exact|TOLERANCE
Every epoch's loss, train and validation accuracy must be equal (exact: bit for bit,
the float64 values as written with 17 digits) or within the relative tolerance; the
resumed report must hold the whole curve (the checkpoint's history, then the new
epochs); and the best epoch and test accuracy must agree."""
import json
import sys

full, resumed = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
start, mode = int(sys.argv[3]), sys.argv[4]
fa, ra = full["epochs"], resumed["epochs"]
assert len(fa) == len(ra), f"epoch counts differ: {len(fa)} vs {len(ra)}"
assert [e["epoch"] for e in ra] == list(range(1, len(ra) + 1)), "the resumed report's epochs are not 1..E"
assert start < len(fa), f"resumed from epoch {start} of {len(fa)}: nothing was trained after the resume"


def same(x, y):
    if mode == "exact":
        return x == y
    return abs(x - y) <= float(mode) * max(abs(x), 1e-300)


worst = 0.0
for f, r in zip(fa, ra):
    for key in ("loss", "train_acc", "val_acc"):
        x, y = f[key], r[key]
        assert same(x, y), f"epoch {f['epoch']} ({'resumed' if f['epoch'] > start else 'from the checkpoint'}): " \
                           f"{key} {x!r} ({float(x).hex()}) != {y!r} ({float(y).hex()})"
        if x:
            worst = max(worst, abs(x - y) / abs(x))
for key in ("best_val_epoch", "best_val_acc", "test_accuracy"):
    assert same(full[key], resumed[key]), f"{key}: {full[key]!r} != {resumed[key]!r}"
print(f"epochs {start + 1}..{len(fa)} after the resume ({len(fa) - start} epochs) and 1..{start} from the checkpoint "
      f"match the uninterrupted run ({'bit for bit' if mode == 'exact' else f'max relative difference {worst:.2e}'}); "
      f"best epoch {resumed['best_val_epoch']}, test accuracy {resumed['test_accuracy']}")
