"""A trained model back from its run directory, with the data and configuration it was trained on.

Shared by `mmdiffbench evaluate` and `mmdiffbench case-study`, so that both rebuild the model
from the run's own `config.json` (never from re-resolved defaults that may have changed since).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from mmdiffbench.config import RunConfig
from mmdiffbench.data import DataError, InteractionDataset, load_dataset
from mmdiffbench.models.base import Recommender
from mmdiffbench.train.checkpoint import load_tensors
from mmdiffbench.train.run import build_model
from mmdiffbench.train.seeding import seed_everything
from mmdiffbench.train.trainer import CHECKPOINT


def saved_config(run_dir: Path) -> dict[str, Any]:
    """The run's config.json (written when training starts)."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise DataError(f"{path}: missing; {run_dir} is not a run directory")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: unreadable or truncated ({err})") from None


def selected_state(run_dir: Path, partial: bool = False) -> dict[str, torch.Tensor]:
    """model.pt; with `partial`, else the best state so far of checkpoint.pt (a run still going or killed)."""
    if (run_dir / "model.pt").is_file():
        return load_tensors(run_dir / "model.pt")
    if not partial:
        raise DataError(f"{run_dir / 'model.pt'}: missing; the run has not completed")
    if not (run_dir / CHECKPOINT).is_file():
        raise DataError(f"{run_dir}: neither model.pt nor {CHECKPOINT}; the run has not trained an epoch")
    state = load_tensors(run_dir / CHECKPOINT)["best_state"]
    if state is None:
        raise DataError(f"{run_dir / CHECKPOINT}: no evaluated epoch yet")
    return state


def restore_run(
    run_dir: Path, data_dir: Path | None, device: torch.device, model_name: str | None = None, partial: bool = False
) -> tuple[InteractionDataset, RunConfig, Recommender]:
    """(dataset, config, model with the selected state); `data_dir` defaults to the one config.json
    records, `model_name` is the model the caller needs (checked before any data is loaded)."""
    saved = saved_config(run_dir)
    if model_name is not None and saved["model_name"] != model_name:
        raise DataError(f"{run_dir}: a {saved['model_name']} run, not {model_name}")
    state = selected_state(run_dir, partial)
    if data_dir is None and "data_dir" not in saved:
        raise DataError(f"{run_dir / 'config.json'}: records no data folder; pass --data")
    dataset = load_dataset(data_dir or Path(saved["data_dir"]), saved.get("modalities"))
    config = RunConfig(saved["model_name"], saved["variant"], saved["dataset"], saved["model"], saved["trainer"])
    seed_everything(saved["seed"])
    model = build_model(dataset, config, device)
    model.load_selected_state(state)
    return dataset, config, model
