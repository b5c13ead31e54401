"""The training loop: the model's phases, periodic evaluation, selection, early stopping, checkpoints.

Each epoch runs the phases the model declares (models/phase.py), in order; the trainer builds
and steps one Adam per phase, samples the batches each phase eats (BPR triples or user rows)
and saves every optimiser's state in the checkpoint, never in the model.

Selection follows the validation split (`selection_metric`, default recall@20) with
`patience` evaluations of tolerance; the selected epoch's test metrics are the result.
The papers' protocol (the epoch with the best *test* score) is tracked separately and
reported under `paper_protocol`, never mixed with the selected result.
A checkpoint holding model, optimisers, sampler and every RNG state is written atomically
every `checkpoint_every` epochs (after the last only with `keep_checkpoint`), so `resume=True`
continues a killed run to exactly the same metrics.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from mmdiffbench.config import check_trainer
from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.eval.evaluate import evaluate_model
from mmdiffbench.eval.ranking import RankingResult
from mmdiffbench.memory import release_free_memory
from mmdiffbench.models.base import Recommender
from mmdiffbench.progress import clock
from mmdiffbench.train.checkpoint import load_tensors, save_torch, write_text
from mmdiffbench.train.phases import PhaseRunner, TrainingDiverged
from mmdiffbench.train.runinfo import UNRECORDED_PROCESS
from mmdiffbench.train.seeding import capture_rng, restore_rng
from mmdiffbench.train.stopping import Selection, patience_step

CHECKPOINT = "checkpoint.pt"


def _record(results: dict[str, RankingResult], dataset: InteractionDataset, edges: list[int]) -> dict[str, Any]:
    return {
        "val": results["val"].mean(),
        "test": results["test"].mean(),
        "test_groups": results["test"].by_group(dataset.train_counts(), edges),
    }


def cpu_copy(state: Any) -> Any:
    """A detached CPU copy of a state dict, nested containers (a model's extra state) included."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {key: cpu_copy(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(cpu_copy(value) for value in state)
    return copy.deepcopy(state)


class Trainer:
    def __init__(
        self,
        model: Recommender,
        dataset: InteractionDataset,
        trainer_config: dict[str, Any],
        seed: int,
        out_dir: Path,
        logger: logging.Logger,
    ) -> None:
        self.model = model
        self.dataset = dataset
        self.cfg = trainer_config
        self.out_dir = Path(out_dir)
        self.log = logger
        self.phases = PhaseRunner(model, dataset, trainer_config, seed)
        check_trainer(self.cfg)  # resolve() checked it too; a hand-made config is held to the same rules
        self.ks = tuple(self.cfg["topks"])
        self.selected = Selection("val", self.cfg["selection_metric"])
        self.paper = Selection("test", self.cfg["selection_metric"])
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, Any]] = []
        self.bad_evals = 0
        self.start_epoch = 0
        self.elapsed = 0.0
        self.stopped_early = False
        # who trained which epochs (runinfo.process_record), carried through checkpoints: filled by the caller
        self.processes: list[dict[str, Any]] = []

    # ---- checkpoints -------------------------------------------------------------------
    def _state(self, epoch: int) -> dict[str, Any]:
        model = self.model.state_dict()
        return {
            "epoch": epoch,
            "model": model,
            "phases": self.phases.state_dict(),
            "rng": capture_rng(),
            "selected": asdict(self.selected),
            "paper": asdict(self.paper),
            # selected at this epoch, the best state is (what model.pt keeps of) the model's: the
            # same tensors, which torch.save writes once
            "best_state": self.model.kept_state(model) if self.selected.epoch == epoch else self.best_state,
            "history": self.history,
            "bad_evals": self.bad_evals,
            "elapsed": self.elapsed,
            "stopped_early": self.stopped_early,
            "processes": self.processes,
        }

    def load_checkpoint(self) -> bool:
        """Restore from the run directory's checkpoint; False when there is none."""
        path = self.out_dir / CHECKPOINT
        if not path.is_file():
            return False
        state = load_tensors(path)
        self.model.load_state_dict(state["model"])
        self.phases.load_state_dict(state["phases"])
        restore_rng(state["rng"])
        self.selected, self.paper = Selection(**state["selected"]), Selection(**state["paper"])
        self.best_state, self.history = state["best_state"], state["history"]
        self.bad_evals, self.elapsed = state["bad_evals"], state["elapsed"]
        self.stopped_early = state["stopped_early"]
        self.processes = state.get("processes", [UNRECORDED_PROCESS])
        self.start_epoch = state["epoch"] + 1
        self.log.info("resumed from %s after epoch %d", path, state["epoch"])
        return True

    def _check_growth(self, epoch: int, row: dict[str, Any]) -> None:
        """Stop a run whose summed loss has grown past `divergence_factor` times its first epoch's:
        an exploding run (lr = 1e6 takes MF-BPR's loss from 0.69 to 1e12) is as diverged as a NaN."""
        factor = float(self.cfg["divergence_factor"])
        first = self.history[0] if self.history else row
        start, now = (sum(abs(v) for k, v in r.items() if k.startswith("loss_")) for r in (first, row))
        if factor > 0 and now > factor * max(start, 1e-12):
            raise TrainingDiverged(
                f"loss grew from {start:.4g} (epoch {first['epoch']}) to {now:.4g} at epoch {epoch}, "
                f"past divergence_factor = {factor:g} times the first epoch's"
            )

    def _evaluate(self, epoch: int, row: dict[str, Any]) -> bool:
        """Evaluate, update both selections; True when early stopping triggers."""
        results = evaluate_model(
            self.model, self.dataset, self.ks, self.cfg["eval_batch_size"], self.cfg["test_mask_val"]
        )
        record = _record(results, self.dataset, self.cfg["group_edges"])
        row.update({f"val_{k}": v for k, v in record["val"].items()})
        row.update({f"test_{k}": v for k, v in record["test"].items()})
        self.paper.offer(epoch, record)
        improved = self.selected.offer(epoch, record)
        if improved:
            # only what model.pt keeps: DiffMM's generators (107 MB on TikTok) are never read back
            self.best_state = cpu_copy(self.model.kept_state(self.model.state_dict()))
        self.bad_evals, stop = patience_step(self.bad_evals, improved, self.cfg["patience"])
        return stop

    def fit(self) -> None:
        epochs, every = self.cfg["epochs"], self.cfg["eval_every"]
        for epoch in range(self.start_epoch, epochs):
            if self.stopped_early:
                break
            started = time.perf_counter()
            row: dict[str, Any] = {"epoch": epoch}
            self.phases.run_epoch(epoch, row)
            self._check_growth(epoch, row)
            if (epoch + 1) % every == 0 or epoch == epochs - 1:
                t0 = time.perf_counter()
                self.stopped_early = self._evaluate(epoch, row)
                row["time_eval"] = time.perf_counter() - t0
            self.elapsed += time.perf_counter() - started
            self.history.append(row)
            self._log_epoch(row)
            write_text(pd.DataFrame(self.history).to_csv(index=False), self.out_dir / "history.csv")
            last = epoch == epochs - 1 or self.stopped_early
            # the last epoch's checkpoint only when kept: a kill before metrics.json resumes from
            # the one before, to the same result
            if (last and self.cfg["keep_checkpoint"]) or (not last and (epoch + 1) % self.cfg["checkpoint_every"] == 0):
                save_torch(self._state(epoch), self.out_dir / CHECKPOINT)
            if self.cfg["release_heap_each_epoch"]:
                release_free_memory()
        if self.stopped_early:
            self.log.info(
                "early stop: %d evaluations without a better validation %s", self.bad_evals, self.selected.metric
            )

    def _log_epoch(self, row: dict[str, Any]) -> None:
        metric = self.selected.metric
        parts = [f"epoch {row['epoch']}"]
        parts += [f"{k}={v:.4f}" for k, v in row.items() if k.startswith("loss_")]
        if f"val_{metric}" in row:
            parts.append(f"val {metric}={row[f'val_{metric}']:.4f} test {metric}={row[f'test_{metric}']:.4f}")
        seconds = sum(v for k, v in row.items() if k.startswith("time_"))
        parts.append(f"{seconds:.1f}s")
        left = self.cfg["epochs"] - row["epoch"] - 1
        if left > 0:  # at the mean epoch time so far; early stopping can end the run sooner
            parts.append(f"ETA {clock(self.elapsed / len(self.history) * left)} ({left} epoch{'s' * (left > 1)} left)")
        self.log.info(" ".join(parts))
