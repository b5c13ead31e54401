"""Model selection and early stopping, shared by the trainer and by its replay on a finished run.

A run's stopping rule only decides when training ends, never what an epoch computes: a run with a
longer patience passes through exactly the evaluations of the shorter one first. So one run with
patience P answers, from its history.csv alone, what every patience p <= P would have selected
(`replay_patience`), where a second run per patience would cost the training again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Selection:
    """Best evaluation so far under one criterion (validation, or the papers' test protocol)."""

    split: str
    metric: str
    best: float = float("-inf")
    epoch: int = -1
    record: dict[str, Any] = field(default_factory=dict)

    def offer(self, epoch: int, record: dict[str, Any]) -> bool:
        score = record[self.split][self.metric]
        if score > self.best:  # strict: ties keep the earlier epoch, as the official code
            self.best, self.epoch, self.record = score, epoch, record
            return True
        return False


def patience_step(bad_evals: int, improved: bool, patience: int) -> tuple[int, bool]:
    """Evaluations without a better validation score after this one, and whether training stops
    (`patience` 0: never)."""
    bad = 0 if improved else bad_evals + 1
    return bad, patience > 0 and bad >= patience


@dataclass(frozen=True)
class Replayed:
    """What a run would have selected under another patience."""

    patience: int
    selected_epoch: int
    stop_epoch: int  # the epoch of the evaluation that stops it (the history's last when it ran out)
    test: dict[str, float]


def replay_patience(history: pd.DataFrame, patience: int, stopped_early: bool, metric: str = "recall@20") -> Replayed:
    """The validation selection of a finished run's `history` had it stopped with `patience`.

    Raises ValueError when the history cannot tell: the replayed run would still be going where
    the real one stopped early (it ran with a shorter patience than asked)."""
    evaluations = history[history[f"val_{metric}"].notna()]
    if evaluations.empty:
        raise ValueError(f"the history holds no validation {metric}")
    selection, bad = Selection("val", metric), 0
    for _, row in evaluations.iterrows():
        epoch = int(row["epoch"])
        record = {"val": {metric: float(row[f"val_{metric}"])}}
        bad, stop = patience_step(bad, selection.offer(epoch, record), patience)
        if stop:
            break
    else:
        if stopped_early:
            raise ValueError(
                f"patience {patience} outlasts this run (it stopped early at epoch {int(history['epoch'].max())})"
            )
    chosen = evaluations[evaluations["epoch"] == selection.epoch].iloc[0]
    test = {
        column.removeprefix("test_"): float(chosen[column])
        for column in evaluations.columns
        if column.startswith("test_") and not math.isnan(float(chosen[column]))
    }
    return Replayed(patience, selection.epoch, epoch, test)
