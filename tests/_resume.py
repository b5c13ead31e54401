"""The resume check shared by model tests: a run stopped early and resumed must end as the straight run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset
from mmdiffbench.train.run import train_run


def assert_resume_continues_exactly(
    dataset: InteractionDataset,
    model: str,
    settings: list[str],
    out: Path,
    *,
    epochs: int = 4,
    stop_after: int = 2,
    seed: int = 1,
    keys: tuple[str, ...] = ("val", "test"),
) -> None:
    """Train `epochs` epochs straight (out/straight), and `stop_after` epochs then resume to `epochs` under another
    global torch seed (out/resumed): the results under `keys` and every epoch's losses must be equal."""
    device = torch.device("cpu")
    full = resolve(model, dataset.name, "full", [*settings, f"epochs={epochs}"])
    straight = train_run(dataset, full, seed, out / "straight", device)
    short = resolve(model, dataset.name, "full", [*settings, f"epochs={stop_after}", "keep_checkpoint=true"])
    train_run(dataset, short, seed, out / "resumed", device)
    torch.manual_seed(99)  # anything the resumed run draws must come from its checkpoint, not the global state
    resumed = train_run(dataset, full, seed, out / "resumed", device, resume=True)
    logging.getLogger().handlers.clear()
    for key in keys:
        assert json.dumps(resumed[key], sort_keys=True) == json.dumps(straight[key], sort_keys=True), key
    histories = [pd.read_csv(out / run / "history.csv") for run in ("straight", "resumed")]
    losses = [history[[c for c in history.columns if c.startswith("loss_")]] for history in histories]
    pd.testing.assert_frame_equal(losses[0], losses[1])
