"""What a longer early-stopping patience changes, from one long run per seed. Not a test.

    PYTHONPATH=src python benchmarks/patience_replay.py --runs /work/runs/patience/tiktok/bm3 \\
        --patience 20 60 --out benchmarks/results/patience_bm3_tiktok.csv

`--runs` holds `seed<N>/` run folders trained with the longest patience asked (or none). Stopping
never changes what an epoch computes, so each shorter patience is replayed on the run's
history.csv (`mmdiffbench.train.stopping.replay_patience`): the epoch it selects on validation,
where it stops, and that epoch's test metrics. Then per metric the paired t-test over the seeds of
each patience against the first (the reference's). Selection stays on validation throughout: the
test columns only report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from mmdiffbench.report.significance import paired_t_test
from mmdiffbench.train.stopping import replay_patience

METRICS = ("recall@20", "ndcg@20")


def replayed_rows(run_dir: Path, patiences: list[int]) -> list[dict]:
    """One row per patience for one finished run folder."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = pd.read_csv(run_dir / "history.csv")
    trainer = json.loads((run_dir / "config.json").read_text())["trainer"]
    rows = []
    for patience in patiences:
        # replayed on the metric the run itself selected on, as its trainer did
        replayed = replay_patience(history, patience, metrics["stopped_early"], trainer["selection_metric"])
        rows.append(
            {
                "model": metrics["model"],
                "dataset": metrics["dataset"],
                "seed": metrics["seed"],
                "patience": patience,
                "selected_epoch": replayed.selected_epoch,
                "stop_epoch": replayed.stop_epoch,
                **{f"test {m}": replayed.test[m] for m in METRICS},
                "run_patience": trainer["patience"],
                "run_dir": str(run_dir),
                "code": metrics.get("git_commit"),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="folder of seed<N>/ run folders")
    parser.add_argument("--patience", type=int, nargs="+", required=True, help="the reference's first")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    folders = sorted(p.parent for p in args.runs.glob("seed*/metrics.json"))
    if not folders:
        raise SystemExit(f"{args.runs}: no seed*/metrics.json (no finished run)")
    table = pd.DataFrame([row for folder in folders for row in replayed_rows(folder, args.patience)])
    print(table.drop(columns=["run_dir", "code"]).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    by_patience = {p: rows.set_index("seed") for p, rows in table.groupby("patience")}
    reference = by_patience[args.patience[0]]
    for patience in args.patience[1:]:
        for metric in METRICS:
            column = f"test {metric}"
            test = paired_t_test(by_patience[patience][column], reference[column])
            print(f"{metric}: patience {patience} - patience {args.patience[0]} = {test.mean:+.4f} ({test.text()})")
    if args.out:
        table.to_csv(args.out, index=False, float_format="%.5f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
