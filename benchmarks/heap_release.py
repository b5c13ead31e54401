"""Peak RSS and epoch time of whole training runs with the trainer's per-epoch heap release
(`release_heap_each_epoch`) on and off, alternated in one invocation, one thread each. Not a test.

    PYTHONPATH=src python benchmarks/heap_release.py --data ../shared/datasets/sports --model sgl \\
        --set epochs=4 --rounds 1 --out benchmarks/results/heap_release_sports_sgl.csv

Per run: the process's peak RSS and the training loop's seconds per epoch (metrics.json's
train_wall_time_s / epochs: phases, evaluation, checkpoint writes and the release itself, whose
page faults land in the next epoch), and whether its numbers equal the other arm's of the same
round (`same_numbers.compare`: history, metrics and model.pt; the release moves memory, never a
number). The last lines give the ratios off / on of the medians over rounds.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from baselines import run_one
from same_numbers import compare

ARMS = ("true", "false")


def train(data: Path, model: str, seed: int, settings: list[str], release: str, out: Path) -> dict[str, object]:
    """One `mmdiffbench train` run in a fresh process: its peak RSS and seconds per epoch."""
    overrides = (*settings, f"release_heap_each_epoch={release}")
    metrics = run_one(data.parent, data.name, model, seed, out, threads=1, overrides=overrides)
    return {
        "release_heap_each_epoch": release,
        "peak_rss_mib": metrics["peak_rss_mb"],
        "epoch_s": metrics["train_wall_time_s"] / metrics["epochs_run"],
        "epochs": metrics["epochs_run"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--seed", type=int, default=421)
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            arms = ARMS if round_ % 2 == 0 else ARMS[::-1]
            folders = [Path(scratch) / f"{arm}{round_}" for arm in arms]
            runs = [train(args.data, args.model, args.seed, args.settings, *pair) for pair in zip(arms, folders)]
            same = compare(*folders)
            for run in runs:
                rows.append(
                    {"model": args.model, "dataset": args.data.name, "round": round_, **run, "same_numbers": same}
                )
                print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out, index=False)
    medians = frame.groupby("release_heap_each_epoch")[["peak_rss_mib", "epoch_s"]].median()
    print(medians.to_string())
    print(f"peak RSS off / on: {medians.loc['false', 'peak_rss_mib'] / medians.loc['true', 'peak_rss_mib']:.2f}x")
    print(f"epoch on / off: {medians.loc['true', 'epoch_s'] / medians.loc['false', 'epoch_s']:.3f}x")
    return 0 if frame["same_numbers"].all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
