"""Does a precision switch change what a model learns? Two `mmdiffbench train` runs from the same
seed (the same initial weights and batches), one with the model's float32 settings and one with
the switches under test, side by side per epoch: every loss term, validation Recall@20 / NDCG@20
and the training seconds. Not a test: run it by hand.

    PYTHONPATH=src python benchmarks/precision_check.py --data ../shared/datasets/tiktok --model diffcl \\
        --epochs 7 --switch denoiser_bf16=cpu --switch contrastive_bf16=cpu --threads 1

The two runs go in parallel (`--threads` each), so both see the same machine load and their
training seconds compare; the epochs are not early-stopped (patience = epochs).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

KEYS = ("val_recall@20", "val_ndcg@20")


def command(args: argparse.Namespace, out: Path, overrides: list[str]) -> list[str]:
    settings = [f"epochs={args.epochs}", f"patience={args.epochs}", *overrides]
    line = [sys.executable, "-m", "mmdiffbench", "train", "--data", str(args.data), "--model", args.model]
    line += ["--seed", str(args.seed), "--threads", str(args.threads), "--out", str(out)]
    return line + [arg for item in settings for arg in ("--set", item)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=421)
    parser.add_argument("--threads", type=int, default=1, help="per run (the two run at once)")
    parser.add_argument("--switch", action="append", required=True, metavar="KEY=VALUE", help="the setting under test")
    parser.add_argument("--reference", action="append", default=[], metavar="KEY=VALUE", help="float32 settings")
    parser.add_argument("--out", type=Path, default=None, help="CSV of both histories (default: print only)")
    args = parser.parse_args()
    reference = args.reference or [f"{item.split('=')[0]}=never" for item in args.switch]
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"float32": (Path(tmp) / "float32", reference), "switched": (Path(tmp) / "switched", args.switch)}
        children = [subprocess.Popen(command(args, out, overrides)) for out, overrides in runs.values()]
        if any(child.wait() != 0 for child in children):
            print("a training run failed", file=sys.stderr)
            return 1
        history = {name: pd.read_csv(out / "history.csv") for name, (out, _) in runs.items()}
    timed = [c for c in history["float32"].columns if c.startswith("time_") and c != "time_epoch_start"]
    columns = [c for c in history["float32"].columns if c.startswith("loss_") or c in KEYS] + timed
    side = pd.concat({name: frame[["epoch", *columns]].set_index("epoch") for name, frame in history.items()}, axis=1)
    print(f"{args.model}: float32 = {' '.join(reference)}; switched = {' '.join(args.switch)}")
    print(side.swaplevel(axis=1).sort_index(axis=1).to_string(float_format=lambda v: f"{v:.4f}"))
    gaps = (history["switched"][columns] - history["float32"][columns]) / history["float32"][columns].abs()
    print("relative gap switched vs float32, last epoch: " + ", ".join(f"{c} {gaps[c].iloc[-1]:+.2%}" for c in columns))
    if args.out:
        side.to_csv(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
