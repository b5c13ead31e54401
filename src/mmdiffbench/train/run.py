"""One training run from data folder to run directory (DESIGN.md run-directory contract).

Writes `config.json` (resolved), `train.log`, `history.csv` and `checkpoint.pt` while it
runs, and `model.pt` (the selected state) plus `metrics.json` only when it completes:
a failed or killed run never leaves a `metrics.json` that looks complete.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch

from mmdiffbench.config import ConfigError, RunConfig
from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.data.errors import DataError
from mmdiffbench.environment import EnvironmentProblem
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import Recommender
from mmdiffbench.train.checkpoint import save_torch, write_json
from mmdiffbench.train.rundir import check_resume, clear_results, run_lock
from mmdiffbench.train.runinfo import machine, peak_rss_mb, process_changes, process_record, versions
from mmdiffbench.train.seeding import seed_everything
from mmdiffbench.train.trainer import CHECKPOINT, Trainer


def run_logger(out_dir: Path) -> logging.Logger:
    """Log to `train.log` (appending across resumes) and to stderr."""
    logger = logging.getLogger(f"mmdiffbench.run.{out_dir.resolve()}")
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    formatter = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
    for handler in (logging.FileHandler(out_dir / "train.log"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger


def build_model(dataset: InteractionDataset, config: RunConfig, device: torch.device) -> Recommender:
    """The model; a value the model refuses (e.g. fusion_ratio=2) is a ConfigError naming the model."""
    try:
        model = get_model_class(config.model_name)(dataset, config.model)
    except DataError:
        raise  # e.g. a multimodal model on a dataset without features: the data's fault
    except ValueError as err:
        raise ConfigError(f"{config.model_name}: {err}") from None
    return model.to(device)


def train_run(
    dataset: InteractionDataset,
    config: RunConfig,
    seed: int,
    out_dir: str | Path,
    device: torch.device,
    resume: bool = False,
    provenance: dict[str, Any] | None = None,
    workflow_variant: str | None = None,
    release_features: bool = False,
) -> dict[str, Any]:
    """Train, select, and write the run directory; returns the metrics.json content.

    `workflow_variant` is the workflow's name for the run (`lambda0_0.1`: a library variant plus
    overrides), recorded in config.json and metrics.json so that reports need not parse paths.
    `release_features`: the caller hands the dataset over; its feature arrays are dropped once the
    model is built (`InteractionDataset.release_features`), which changes no number.
    """
    out_dir = Path(out_dir)
    workflow_variant = workflow_variant or config.variant
    record = {
        **config.as_dict(),
        "workflow_variant": workflow_variant,
        "seed": seed,
        "device": str(device),
        "data_fingerprint": dataset.fingerprint(),
        **(provenance or {}),
    }
    started = time.perf_counter()
    if max(config.trainer["topks"]) > dataset.n_items:
        raise ConfigError(
            f"topks {config.trainer['topks']}: a cut-off above the {dataset.n_items} items of {dataset.name}"
        )
    seed_everything(seed)
    model = build_model(dataset, config, device)  # every setting checked before the folder is touched
    if release_features:
        dataset.release_features()
    if out_dir.exists() and not out_dir.is_dir():
        raise EnvironmentProblem(f"{out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EnvironmentProblem(f"{out_dir}: cannot create the run folder ({err.strerror})") from None
    with run_lock(out_dir):
        return _train_locked(dataset, config, seed, out_dir, model, resume, record, started)


def _train_locked(
    dataset: InteractionDataset,
    config: RunConfig,
    seed: int,
    out_dir: Path,
    model: Recommender,
    resume: bool,
    record: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    device = model.device
    if resume and (out_dir / "metrics.json").is_file() and not (out_dir / CHECKPOINT).is_file():
        saved = check_resume(out_dir, record)
        if config.trainer["epochs"] != saved["trainer"]["epochs"]:
            raise ConfigError(
                f"--resume refused: {out_dir} finished and kept no checkpoint to continue from with other epochs "
                "(train with keep_checkpoint=true to extend a run later)"
            )
        return json.loads((out_dir / "metrics.json").read_text())  # finished with these settings: nothing to do
    resuming = resume and (out_dir / CHECKPOINT).is_file()
    if resuming:
        check_resume(out_dir, record)
    else:
        clear_results(out_dir)  # a fresh run never leaves an earlier run's files beside its own
    logger = run_logger(out_dir)
    trainer = Trainer(model, dataset, config.trainer, seed, out_dir, logger)
    process = process_record(0, record["device"])
    if resuming:
        trainer.load_checkpoint()
        process["first_epoch"] = trainer.start_epoch
        changes = process_changes(trainer.processes[-1], process)
        if changes:
            logger.warning(
                "resumed by another process kind (%s): the epochs from %d on need not equal an uninterrupted "
                "run's to the last bit; metrics.json lists each process",
                "; ".join(changes),
                trainer.start_epoch,
            )
    else:
        logger.info(
            "training %s/%s on %s, seed %d, device %s (%s)",
            config.model_name,
            config.variant,
            dataset.name,
            seed,
            record["device"],
            ", ".join(f"{key} {value}" for key, value in machine().items()),
        )
    trainer.processes.append(process)
    write_json(record, out_dir / "config.json")  # on resume: the same settings, `epochs` as now
    trainer.fit()
    if trainer.best_state is None:
        raise RuntimeError("no evaluation happened; check epochs and eval_every")
    save_torch(model.kept_state(trainer.best_state), out_dir / "model.pt")
    selected, paper = trainer.selected, trainer.paper
    metrics = {
        "model": config.model_name,
        "variant": config.variant,
        "workflow_variant": record["workflow_variant"],
        "dataset": dataset.name,
        "seed": seed,
        "selection": {"split": "val", "metric": selected.metric},
        "selected_epoch": selected.epoch,
        "val": selected.record["val"],
        "test": selected.record["test"],
        "test_groups": selected.record["test_groups"],
        "paper_protocol": {
            "description": "epoch with the best test score (the papers' and official code's protocol)",
            "epoch": paper.epoch,
            "val": paper.record["val"],
            "test": paper.record["test"],
            "test_groups": paper.record["test_groups"],
        },
        "epochs_run": len(trainer.history),
        "stopped_early": trainer.stopped_early,
        "train_wall_time_s": trainer.elapsed,
        "process_wall_time_s": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
        "cuda_peak_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "versions": versions(),
        "machine": machine(),
        "git_commit": process["git_commit"],  # of this, the last process: `processes` lists every one
        "processes": trainer.processes,
        "data_verification": dataset.verification,
    }
    write_json(metrics, out_dir / "metrics.json")
    if not config.trainer["keep_checkpoint"]:
        (out_dir / CHECKPOINT).unlink(missing_ok=True)  # a finished run keeps what evaluate and the report read
    logger.info(
        "done: selected epoch %d, test %s=%.4f (paper protocol: epoch %d, %.4f)",
        selected.epoch,
        selected.metric,
        selected.record["test"][selected.metric],
        paper.epoch,
        paper.record["test"][paper.metric],
    )
    return metrics
