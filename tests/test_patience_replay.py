"""Replaying early stopping on a finished run's history: the trainer's rule, by hand and end to end."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.train.run import train_run
from mmdiffbench.train.stopping import replay_patience

# validation rises to 0.3 (epoch 1), dips twice, rises higher to 0.4 (epoch 4), then falls; every
# second epoch unevaluated (NaN), as with eval_every > 1
VAL = [0.1, 0.3, 0.2, 0.25, 0.4, 0.1, 0.1, 0.1]
HISTORY = pd.DataFrame(
    {
        "epoch": range(8),
        "val_recall@20": VAL,
        "test_recall@20": [v / 2 for v in VAL],
        "test_ndcg@20": [v / 4 for v in VAL],
    }
)


@pytest.mark.parametrize(
    ("patience", "selected", "stop"),
    [
        (1, 1, 2),  # 0.2 at epoch 2 is the first worse evaluation: stop there, epoch 1 kept
        (2, 1, 3),  # 0.25 is still below 0.3: second bad evaluation, stop at 3
        (3, 4, 7),  # survives the dip, reaches 0.4, then three worse evaluations: 5, 6, 7
        (0, 4, 7),  # no early stopping: the history's end
    ],
)
def test_replay_by_hand(patience: int, selected: int, stop: int) -> None:
    replayed = replay_patience(HISTORY, patience, stopped_early=False)
    assert (replayed.selected_epoch, replayed.stop_epoch) == (selected, stop)
    assert replayed.test == {"recall@20": VAL[selected] / 2, "ndcg@20": VAL[selected] / 4}


def test_unevaluated_epochs_are_not_counted() -> None:
    sparse = HISTORY.copy()
    sparse.loc[[2, 3], "val_recall@20"] = float("nan")  # the dip not evaluated: epoch 4 follows epoch 1
    assert replay_patience(sparse, 1, stopped_early=False).selected_epoch == 4


def test_a_patience_beyond_an_early_stopped_run_is_refused() -> None:
    with pytest.raises(ValueError, match="outlasts this run"):
        replay_patience(HISTORY, 5, stopped_early=True)


def _run(dataset: InteractionDataset, patience: int, out: Path) -> dict:
    settings = ["eval_every=1", "epochs=40", f"patience={patience}", "topks=[20]", "group_edges=[0]", "lr=0.005"]
    metrics = train_run(dataset, resolve("mf_bpr", dataset.name, "full", settings), 0, out, torch.device("cpu"))
    logging.getLogger().handlers.clear()
    return metrics


def test_a_long_run_replayed_gives_the_short_runs_result(synthetic: InteractionDataset, tmp_path: Path) -> None:
    long = _run(synthetic, 0, tmp_path / "long")
    history = pd.read_csv(tmp_path / "long" / "history.csv")
    # this run rises again after its first peak: the short runs must select another epoch
    assert replay_patience(history, 1, stopped_early=False).selected_epoch != long["selected_epoch"]
    for patience in (1, 3, 10):
        short = _run(synthetic, patience, tmp_path / f"short{patience}")
        replayed = replay_patience(history, patience, stopped_early=long["stopped_early"])
        assert replayed.selected_epoch == short["selected_epoch"]
        assert replayed.stop_epoch == short["epochs_run"] - 1
        assert replayed.test["recall@20"] == pytest.approx(short["test"]["recall@20"], abs=1e-12)
        assert replayed.test["ndcg@20"] == pytest.approx(short["test"]["ndcg@20"], abs=1e-12)
