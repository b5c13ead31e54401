"""A validation grid's scores per cell and the setting it chooses per dataset.

The choice is the cell with the best mean validation score (the entry's first metric, the runs'
selection metric) over seeds, at each run's validation-selected epoch; ties go to the first cell
in grid order. Only cells with every planned seed finished compete. Test scores sit beside the
validation scores for reading, in columns that say they chose nothing. MMRec picks its grid on
test (reference/baselines.md); this module never reads test to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from mmdiffbench.collect import KEYS, mean_pm_std, summarize, tidy_splits
from mmdiffbench.experiments import Experiment, experiment
from mmdiffbench.plan_types import Cell, ExperimentPlan

NOT_USED = "not used for the choice"


def score_col(split: str, metric: str, stat: str) -> str:
    """`val recall@20 mean`; test columns say that they chose nothing."""
    return f"{split} {metric} {stat}" if split == "val" else f"{split} {metric} {stat} [{NOT_USED}]"


def choice_metric(entry: Experiment) -> str:
    return entry.metrics[0]


def choice_line(entry: Experiment) -> str:
    """The footnote that says what chose and what did not."""
    return (
        f"chosen = best mean validation {choice_metric(entry)} per dataset (validation-selected epochs; ties: "
        "first in grid order); test columns chose nothing"
    )


def grid_description(cells: list[Cell]) -> str:
    """`n_layers {1, 2} x reg_weight {0.01, 0.0001}`: the axes of the cells compared, values in grid order."""
    values: dict[str, list[Any]] = {}
    for cell in cells:
        for axis, value in cell.params.items():
            if value not in values.setdefault(axis, []):
                values[axis].append(value)
    return " x ".join(f"{axis} {{{', '.join(map(str, vals))}}}" for axis, vals in values.items())


def grid_table(plan: ExperimentPlan, tidy: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per planned cell: its axis values, seeds finished, validation and test mean/std, `chosen`."""
    entry = experiment(plan.name)
    if tidy is None:
        tidy = tidy_splits(plan.cell_metrics())
    summary = summarize(tidy, KEYS + ["split", "metric"])
    rows = []
    for cell in plan.cells:
        row: dict[str, Any] = {"dataset": cell.dataset, "model": cell.model, "variant": cell.variant, **cell.params}
        sel = summary[
            (summary.dataset == cell.dataset) & (summary.model == cell.model) & (summary.variant == cell.variant)
        ]
        row["n_seeds"] = int(sel["n_seeds"].max()) if len(sel) else 0
        row["complete"] = row["n_seeds"] == len(cell.run_dirs)
        for split in ("val", "test"):
            for metric in entry.metrics:
                hit = sel[(sel.split == split) & (sel.metric == metric)]
                for stat in ("mean", "std"):
                    row[score_col(split, metric, stat)] = float(hit[stat].iloc[0]) if len(hit) else float("nan")
        rows.append(row)
    scores = [score_col(split, m, s) for split in ("val", "test") for m in entry.metrics for s in ("mean", "std")]
    table = pd.DataFrame(
        rows, columns=["dataset", "model", "variant", *entry.sweep_axes, "n_seeds", "complete", *scores]
    )
    table["chosen"] = False
    score = score_col("val", choice_metric(entry), "mean")
    for _, part in table[table["complete"]].groupby("dataset", sort=False):
        if part[score].notna().any():
            table.loc[part[score].idxmax(), "chosen"] = True
    half = 2 * len(entry.metrics)  # validation columns, then the choice, then the test columns
    return table[
        ["dataset", "model", "variant", *entry.sweep_axes, "n_seeds", *scores[:half], "chosen", *scores[half:]]
    ]


@dataclass(frozen=True)
class Choice:
    """The setting a grid chose on one dataset, with what chose it."""

    experiment: str
    dataset: str
    model: str
    params: dict[str, Any]
    metric: str
    mean: float
    std: float
    seeds: tuple[int, ...]
    n_cells: int
    grid: str

    def summary(self) -> str:
        seeds = ", ".join(map(str, self.seeds))
        over = f"mean ± std over seeds {seeds}" if len(self.seeds) > 1 else f"seed {seeds}"
        return f"best validation {self.metric} {mean_pm_std(self.mean, self.std)} ({over}; test not used)"

    def comment(self) -> list[str]:
        """The comment lines written above the preset: score, seeds, grid, and the experiment key."""
        return [f"{self.experiment}: {self.summary()}", f"{self.experiment} grid ({self.n_cells} cells): {self.grid}"]


def choices(plan: ExperimentPlan, table: pd.DataFrame) -> list[Choice]:
    """The chosen cell of each dataset of `table` (a grid_table of `plan`)."""
    entry = experiment(plan.name)
    metric = choice_metric(entry)
    out = []
    for _, row in table[table["chosen"]].iterrows():
        cell = next(c for c in plan.cells if (c.dataset, c.variant) == (row["dataset"], row["variant"]))
        compared = [c for c in plan.cells if c.dataset == cell.dataset]
        out.append(
            Choice(
                plan.name,
                cell.dataset,
                cell.model,
                dict(cell.params),
                metric,
                float(row[score_col("val", metric, "mean")]),
                float(row[score_col("val", metric, "std")]),
                tuple(plan.seeds),
                len(compared),
                grid_description(compared),
            )
        )
    return out


def display_grid(entry: Experiment, table: pd.DataFrame) -> pd.DataFrame:
    """Strings for the PNG: the axis values, `mean ± std` per split and metric, the chosen cell marked."""
    shown = pd.DataFrame({"dataset": table["dataset"]})
    for axis in entry.sweep_axes:
        shown[axis] = [f"{v:g}" if isinstance(v, float) else str(v) for v in table[axis]]
    shown["seeds"] = table["n_seeds"]
    for split in ("val", "test"):
        for metric in entry.metrics:
            label = f"{metric}\nvalidation" if split == "val" else f"{metric}\ntest (not used)"
            means, stds = table[score_col(split, metric, "mean")], table[score_col(split, metric, "std")]
            shown[label] = [mean_pm_std(m, s) for m, s in zip(means, stds)]
        if split == "val":
            shown["chosen"] = ["chosen" if c else "" for c in table["chosen"]]
    return shown
