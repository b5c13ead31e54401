"""Read run folders (metrics.json) into tidy DataFrames; mean and std over seeds.

Two epoch selections, never mixed:
- `val_selected`: the epoch with the best validation score (metrics.json `test`);
- `best_test_epoch`: the epoch with the best test score, the selection of the papers'
  official code (metrics.json `paper_protocol.test`). It covers the epoch only: scores still
  use our evaluation (validation items masked, DiffMM on its undropped graphs); a DiffMM
  `official_eval` run evaluates as the official code does.
Each metrics.json comes with the variant of the cell that reads it (from the plan): one run
shared by two cells (equal resolved settings) gives a row to each.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

PROTOCOLS = {  # what each column is; both score with our evaluation (official_eval rows: the official code's)
    "val_selected": "validation-selected epoch",
    "best_test_epoch": "best test epoch (the paper's epoch selection only)",
}
KEYS = ["dataset", "model", "variant"]


CellRuns = Sequence[tuple[str, str | Path]]  # (cell variant, metrics.json or its run folder)


def _base(variant: str, metrics: dict) -> dict:
    """The columns that name a row: dataset, model, the reading cell's variant, seed."""
    return {"dataset": metrics["dataset"], "model": metrics["model"], "variant": variant, "seed": int(metrics["seed"])}


def _read(runs: CellRuns) -> list[tuple[str, dict]]:
    out = []
    for variant, path in runs:
        path = Path(path)
        if path.is_dir():
            path = path / "metrics.json"
        out.append((variant, json.loads(path.read_text())))
    return out


def tidy_metrics(runs: CellRuns) -> pd.DataFrame:
    """One row per (dataset, model, variant, seed, protocol, metric); `runs`: ExperimentPlan.cell_metrics()."""
    rows = []
    for variant, m in _read(runs):
        base = _base(variant, m)
        sources = {
            "val_selected": (m["selected_epoch"], m["test"]),
            "best_test_epoch": (m["paper_protocol"]["epoch"], m["paper_protocol"]["test"]),
        }
        for protocol, (epoch, values) in sources.items():
            for metric, value in values.items():
                rows.append({**base, "protocol": protocol, "epoch": epoch, "metric": metric, "value": float(value)})
    return pd.DataFrame(rows, columns=KEYS + ["seed", "protocol", "epoch", "metric", "value"])


def tidy_splits(runs: CellRuns) -> pd.DataFrame:
    """One row per (dataset, model, variant, seed, split, metric) at the validation-selected epoch:
    the validation scores a grid is chosen by (`val`) beside the test scores it must not be (`test`)."""
    rows = [
        {**_base(variant, m), "split": split, "metric": metric, "value": float(value)}
        for variant, m in _read(runs)
        for split in ("val", "test")
        for metric, value in m[split].items()
    ]
    return pd.DataFrame(rows, columns=KEYS + ["seed", "split", "metric", "value"])


def tidy_groups(runs: CellRuns) -> pd.DataFrame:
    """One row per (dataset, model, variant, seed, protocol, user group, metric). A group that
    holds no test user (n_users 0, no metric recorded) keeps its rows, with value NaN."""
    rows = []
    for variant, m in _read(runs):
        base = _base(variant, m)
        sources = {
            "val_selected": m.get("test_groups", {}),
            "best_test_epoch": m["paper_protocol"].get("test_groups", {}),
        }
        for protocol, groups in sources.items():
            metrics = dict.fromkeys(k for values in groups.values() for k in values if k != "n_users")
            for group, values in groups.items():
                for metric in metrics:
                    rows.append(
                        {
                            **base,
                            "protocol": protocol,
                            "group": group,
                            "n_users": values.get("n_users"),
                            "metric": metric,
                            "value": float(values.get(metric, float("nan"))),
                        }
                    )
    return pd.DataFrame(rows, columns=KEYS + ["seed", "protocol", "group", "n_users", "metric", "value"])


def summarize(tidy: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean, sample std (ddof=1; NaN for one seed) and number of seeds per group of `by`."""
    by = by or KEYS + ["protocol", "metric"]
    if tidy.empty:
        return pd.DataFrame(columns=by + ["mean", "std", "n_seeds"])
    grouped = tidy.groupby(by, sort=False)["value"]
    out = grouped.agg(mean="mean", std="std", n_seeds="count").reset_index()
    return out


def mean_pm_std(mean: float, std: float, digits: int = 4) -> str:
    if pd.isna(mean):
        return ""
    if pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
