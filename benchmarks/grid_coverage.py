"""Which validation grids are made: for every model x dataset that the workflow's `tune.<model>`
entries plan at the paper scale (and every other grid CSV, `in workflow` False), the size of the
sweep, the settings run (`results/grid_<model>_<dataset>.csv`, or `..._pending.csv` while cells
are missing), and whether the choice is in the model's presets. One table instead of sixty preset
comments; not a test.

    python benchmarks/grid_coverage.py --data ../shared/datasets   # -> results/coverage_of_validation_grids.csv

Status, first that applies:
- `chosen`: the model's YAML `presets.<dataset>` cites the grid's CSV (whose choice it holds:
  tests/test_benchmark_reports.py); `choice` is the CSV's chosen setting with its mean validation score.
- `pending`: the cells so far are kept in a pending CSV; nothing chosen yet.
- `made, not written`: a grid CSV no preset cites.
- `no features here`: the model needs feature files the dataset's folder lacks (Baby and Sports here).
- `not made`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml
from grid import setting_scores, tuned_here
from run_csvs import RESULTS

from mmdiffbench.config import declaration
from mmdiffbench.experiments import registry

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["model", "dataset", "in workflow", "sweep cells", "settings run", "on 3 seeds", "status", "choice"]


def paper_datasets() -> list[str]:
    """The datasets of the workflow's paper scale (config.yaml)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    return list(config["scales"]["paper"]["datasets"])


def has_features(data: Path, dataset: str) -> bool:
    return any((data / dataset).glob("*_feat.npy"))


def coverage_row(model: str, dataset: str, sweep_cells: int, data: Path) -> dict[str, object]:
    made, pending = RESULTS / f"grid_{model}_{dataset}.csv", RESULTS / f"grid_{model}_{dataset}_pending.csv"
    row: dict[str, object] = {"model": model, "dataset": dataset, "sweep cells": sweep_cells}
    csv = made if made.is_file() else pending if pending.is_file() else None
    if csv is None:
        needs = declaration(model)["requires_features"] and not has_features(data, dataset)
        return row | {"settings run": 0, "on 3 seeds": 0, "status": "no features here" if needs else "not made"}
    table = pd.read_csv(csv)
    scores = setting_scores(table)
    row |= {"settings run": len(scores), "on 3 seeds": int((scores["seeds"] >= 3).sum())}
    if csv == pending:
        return row | {"status": "pending"}
    if not tuned_here(model, dataset):
        return row | {"status": "made, not written"}
    setting = table.loc[table["chosen"], "setting"].iloc[0]
    mean, seeds = scores.loc[setting, "mean"], int(scores.loc[setting, "seeds"])
    return row | {"status": "chosen", "choice": f"{setting} ({mean:.4f}, {seeds} seed{'s' * (seeds > 1)})"}


def coverage(data: Path) -> pd.DataFrame:
    """One row per grid the workflow plans at the paper scale, then per grid made by grid.py alone
    (a model run on a dataset where no paper table of the workflow has it, e.g. FREEDOM on TikTok)."""
    datasets = paper_datasets()
    sweeps = {entry.cells[0].model: entry for entry in registry().values() if entry.kind == "tuning"}
    planned = [(model, dataset) for model, entry in sweeps.items() for dataset in entry.datasets if dataset in datasets]
    made_alone = [
        (model, dataset)
        for model, entry in sweeps.items()
        for dataset in datasets
        if (model, dataset) not in planned and (RESULTS / f"grid_{model}_{dataset}.csv").is_file()
    ]
    rows = [
        coverage_row(model, dataset, sum(1 for cell in sweeps[model].cells if cell.params), data)
        | {"in workflow": (model, dataset) in planned}
        for model, dataset in planned + made_alone
    ]
    return pd.DataFrame(rows, columns=COLUMNS).fillna({"choice": ""})


def cells(row: pd.Series) -> list[str]:
    """A row as the README shows it."""
    return [("yes" if row[c] else "no") if c == "in workflow" else str(row[c]) for c in COLUMNS]


def markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(row)) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=RESULTS / "coverage_of_validation_grids.csv")
    args = parser.parse_args()
    table = coverage(args.data)
    table.to_csv(args.out, index=False)
    print(markdown(table))
    counts = table["status"].value_counts()
    print("\n" + ", ".join(f"{status}: {n}" for status, n in counts.items()))


if __name__ == "__main__":
    main()
