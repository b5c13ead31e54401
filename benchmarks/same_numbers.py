"""Does a code change keep a model's numbers? One run with the library at git revision REV and one
with the working tree, same data, model, seed and settings, one thread each (a one-thread CPU run
is bit-identical for a seed), then every shared history column, the metrics and every tensor of
model.pt compared exactly. Not a test: run it by hand after a refactoring.

    PYTHONPATH=src python benchmarks/same_numbers.py --baseline-ref 08853eb \
        --data ../shared/datasets/tiktok --model diffmm --seed 421 --set epochs=1

Columns and model.pt tensors that exist on one side only (a renamed loss term, weights a
revision no longer keeps in model.pt) are listed, not compared. Where numbers differ, the largest
relative difference of each history column and of each tensor is printed (a change meant to
differ by float rounding only shows it there).

`--runs BEFORE AFTER` compares two run directories already made instead (whole runs too long to
make twice here, e.g. a grid run and the same run with a later revision), and prints their peak RSS;
`--csv OUT` writes a row per run (what its metrics.json says, and the verdict), for
benchmarks/run_records.py to keep both records.

    PYTHONPATH=src python benchmarks/same_numbers.py \
        --runs /work/runs/grid/sports/sgl/tau_0.2_ssl_weight_0.05/seed421 /work/runs/heap/sports/sgl/seed421 \
        --csv benchmarks/results/same_numbers_sports_sgl_heap_release.csv
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch
from common import library_at

METRIC_KEYS = ("selected_epoch", "val", "test", "test_groups", "paper_protocol")


def train(src: Path | None, out: Path, args: argparse.Namespace) -> None:
    """`mmdiffbench train` in a child process importing the library from `src` (None: installed)."""
    command = [sys.executable, "-m", "mmdiffbench", "train", "--data", str(args.data), "--model", args.model]
    command += ["--seed", str(args.seed), "--threads", "1", "--out", str(out)]
    for item in args.overrides:
        command += ["--set", item]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tensors(path: Path) -> dict[str, torch.Tensor]:
    """The plain tensors of a model.pt (any extra state left out: its format may differ by revision)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {key: value for key, value in state.items() if isinstance(value, torch.Tensor) and "_extra_state" not in key}


def compare(before: Path, after: Path) -> bool:
    old, new = (pd.read_csv(d / "history.csv") for d in (before, after))
    shared = [c for c in old.columns if c in new.columns and not c.startswith("time_")]
    differing = [c for c in shared if not old[c].equals(new[c])]  # equals: empty cells (epochs not evaluated) match
    print(f"history: {len(shared)} shared columns, {len(differing)} differ {differing}")
    for column in differing:
        gap = ((new[column] - old[column]).abs() / old[column].abs().clip(lower=1e-30)).max()
        print(f"  {column}: largest relative difference {gap:.2e}")
    print(f"  only before: {sorted(set(old.columns) - set(new.columns))}")
    print(f"  only after:  {sorted(set(new.columns) - set(old.columns))}")
    metrics_old, metrics_new = (json.loads((d / "metrics.json").read_text()) for d in (before, after))
    metric_diff = [k for k in METRIC_KEYS if metrics_old[k] != metrics_new[k]]
    print(f"metrics.json: {', '.join(METRIC_KEYS)}: {'identical' if not metric_diff else f'differ {metric_diff}'}")
    weights_old, weights_new = tensors(before / "model.pt"), tensors(after / "model.pt")
    both = [k for k in weights_old if k in weights_new]
    same = [k for k in both if torch.equal(weights_old[k], weights_new[k])]
    print(f"model.pt: {len(same)} of {len(both)} shared tensors identical")
    for key in (k for k in both if k not in same):
        new_value, old_value = weights_new[key].double(), weights_old[key].double()
        gap = (new_value - old_value).norm() / old_value.norm().clamp(min=1e-30)
        print(f"  {key}: relative difference (Frobenius) {float(gap):.2e}")
    for side, keys in (("before", set(weights_old) - set(both)), ("after", set(weights_new) - set(both))):
        if keys:  # e.g. parts a revision's kept_state leaves out of model.pt: listed, not compared
            print(f"  only {side}: {len(keys)} tensors, {sorted(keys)[:4]}{' ...' if len(keys) > 4 else ''}")
    peaks = [metrics.get("peak_rss_mb") for metrics in (metrics_old, metrics_new)]
    print(
        f"peak RSS (MiB): before {peaks[0]:.0f}, after {peaks[1]:.0f}"
        if None not in peaks
        else "peak RSS: not recorded"
    )
    return not differing and not metric_diff and len(same) == len(both) > 0


def run_row(run_dir: Path, side: str, same: bool) -> dict[str, object]:
    """One compared run as its metrics.json and config.json record it."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    return {
        "side": side,
        "model": metrics["model"],
        "dataset": metrics["dataset"],
        "seed": metrics["seed"],
        "code": metrics["git_commit"],
        "overrides": " ".join(config["overrides"]),
        "release_heap_each_epoch": config["trainer"].get("release_heap_each_epoch", False),
        "epochs_run": metrics["epochs_run"],
        "selected_epoch": metrics["selected_epoch"],
        "peak_rss_mib": metrics["peak_rss_mb"],
        "same_numbers": same,
        "run_dir": str(run_dir),
    }


def train_and_compare(args: argparse.Namespace) -> bool:
    """One run at --baseline-ref, one with the working tree, in a scratch folder; compared."""
    with library_at(args.baseline_ref) as src, tempfile.TemporaryDirectory() as tmp:
        before, after = Path(tmp) / "before", Path(tmp) / "after"
        train(src, before, args)
        train(None, after, args)
        return compare(before, after)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--baseline-ref", metavar="REV", help="train at REV and with the working tree")
    source.add_argument("--runs", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="two run directories made")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--seed", type=int, default=421)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--csv", type=Path, help="with --runs: a row per run written here")
    args = parser.parse_args()
    if args.runs is None and (args.data is None or args.model is None or args.csv):
        parser.error("--baseline-ref needs --data and --model, and writes no --csv")
    same = compare(*args.runs) if args.runs else train_and_compare(args)
    if args.csv:
        rows = [run_row(run_dir, side, same) for run_dir, side in zip(args.runs, ("before", "after"))]
        pd.DataFrame(rows).to_csv(args.csv, index=False)
    print("same numbers" if same else "NUMBERS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
