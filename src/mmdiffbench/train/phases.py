"""The phases of an epoch, stepped: one Adam per phase, its batches sampled, its loss parts summed.

Used by the trainer (which adds evaluation, selection and checkpoints) and by the benchmarks
and tests that time or drive single phases. Its `state_dict` (every optimiser and the BPR
sampler) goes into the checkpoint, never into the model's weights.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.memory import apply_heap_settings
from mmdiffbench.models.base import Recommender
from mmdiffbench.models.phase import Batch, BPRBatch, Phase, UserRowBatch
from mmdiffbench.progress import progress
from mmdiffbench.tensors import tensor_sum
from mmdiffbench.train.sampling import BPRSampler, UserRowSampler


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run stops without writing metrics.json."""


def check_phases(model: Recommender, phases: list[Phase]) -> None:
    """Each trainable parameter in exactly one phase: none left untrained, none stepped twice."""
    if len({phase.name for phase in phases}) != len(phases):
        raise ValueError(f"{type(model).__name__}: phase names must differ: {[p.name for p in phases]}")
    owner: dict[int, str] = {}
    for phase in phases:
        for param in phase.parameters:
            if id(param) in owner:
                raise ValueError(
                    f"{type(model).__name__}: a parameter is in phases {owner[id(param)]!r} and {phase.name!r}"
                )
            owner[id(param)] = phase.name
    untrained = [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in owner]
    if untrained:
        raise ValueError(f"{type(model).__name__}: parameters in no phase: {', '.join(untrained)}")


class PhaseRunner:
    """Steps a model's phases with the trainer settings `cfg` (`lr`, `weight_decay`, `batch_size`;
    `lr_decay`, `lr_decay_step`, `fused_adam`, `mmap_threshold_mib`, `trim_threshold_mib` optional,
    absent = a constant rate, torch's default Adam, glibc's own heap thresholds)."""

    def __init__(self, model: Recommender, dataset: InteractionDataset, cfg: dict[str, Any], seed: int) -> None:
        self.model = model
        self.cfg = cfg
        self.device = model.device
        # process-wide: see mmdiffbench.memory
        apply_heap_settings(int(cfg.get("mmap_threshold_mib", 0)), int(cfg.get("trim_threshold_mib", 0)))
        self.phases = model.phases()
        check_phases(model, self.phases)
        self.by_name = {phase.name: phase for phase in self.phases}
        self.sampler = BPRSampler(dataset.train, seed)
        self.row_sampler = UserRowSampler(dataset.train) if any(p.batches == "user_rows" for p in self.phases) else None
        self.optimizers = {phase.name: self._optimizer(phase) for phase in self.phases}
        self.base_lrs = {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "bpr_sampler": self.sampler.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.sampler.state = state["bpr_sampler"]

    def _optimizer(self, phase: Phase) -> torch.optim.Adam:
        settings = phase.optimizer
        lr = self.cfg["lr"] if settings.lr is None else settings.lr
        decay = self.cfg["weight_decay"] if settings.weight_decay is None else settings.weight_decay
        # fused: one pass per tensor, no temporaries; torch's per-tensor loop allocates two copies of
        # every parameter for the denominator (600 MB for a trainable 4096-d Sports feature table)
        fused = settings.fused or bool(self.cfg.get("fused_adam", False))
        return torch.optim.Adam(phase.parameters, lr=lr, weight_decay=decay, fused=fused or None)

    def lr_factor(self, epoch: int) -> float:
        """decay^(epoch / step): MMRec's `learning_rate_scheduler: [decay, step]` (a LambdaLR stepped
        after every epoch, so epoch e, counted from 0, trains at lr * decay^(e / step)). A function of
        the epoch alone, so a resumed run sets the same rate without any scheduler state."""
        return float(self.cfg.get("lr_decay", 1.0)) ** (epoch / float(self.cfg.get("lr_decay_step", 1)))

    def batches(self, phase: Phase, batch_size: int) -> tuple[Iterator[Batch], int]:
        """The phase's batches for one epoch, on the model's device, and how many there are."""
        if phase.batches == "none":
            return iter([None]), 1
        if phase.batches == "user_rows":
            assert self.row_sampler is not None
            rows = (
                UserRowBatch(torch.from_numpy(users).to(self.device), part)
                for users, part in self.row_sampler.epoch(batch_size)
            )
            return rows, self.row_sampler.n_batches(batch_size)
        triples = (
            BPRBatch(*(torch.from_numpy(a).to(self.device) for a in arrays))
            for arrays in self.sampler.epoch(batch_size)
        )
        return triples, self.sampler.n_batches(batch_size)

    def run_phase(self, phase: Phase, epoch: int, max_steps: int | None = None) -> dict[str, float]:
        """One pass of `phase` over its batches; the mean of each loss term over the steps.

        `max_steps` stops the pass early (memory benchmarks; a training epoch never sets it).
        """
        self.model.train()
        optimizer = self.optimizers[phase.name]
        for group in optimizer.param_groups:
            group["lr"] = self.base_lrs[phase.name] * self.lr_factor(epoch)
        if phase.before is not None:
            phase.before()
        sums: dict[str, float] = defaultdict(float)
        batches, n_batches = self.batches(phase, phase.batch_size or self.cfg["batch_size"])
        for step, batch in enumerate(progress(batches, n_batches, f"epoch {epoch} {phase.name}")):
            if max_steps is not None and step >= max_steps:
                n_batches = step
                break
            optimizer.zero_grad(set_to_none=True)
            for terms in phase.loss_parts(batch):
                loss = tensor_sum(terms.values())
                if not torch.isfinite(loss):
                    values = {k: float(v.detach()) for k, v in terms.items()}
                    raise TrainingDiverged(
                        f"non-finite loss in phase {phase.name}, epoch {epoch}, step {step}: {values}"
                    )
                loss.backward()
                for key, value in terms.items():
                    sums[f"loss_{key}"] += float(value.detach())
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # no gradients held through the phases that follow
        return {key: value / n_batches for key, value in sums.items()}

    def run_epoch(self, epoch: int, row: dict[str, Any]) -> None:
        """Every phase in order, each timed as `time_<phase>` (and its hook as `time_<after_name>`)."""
        for phase in self.phases:
            t0 = time.perf_counter()
            losses = self.run_phase(phase, epoch)
            if clash := set(losses) & set(row):
                raise ValueError(f"phase {phase.name!r} logs loss terms another phase logs: {sorted(clash)}")
            row.update(losses)
            row[f"time_{phase.name}"] = time.perf_counter() - t0
            if phase.after is not None:
                t0 = time.perf_counter()
                row.update(phase.after())
                row[f"time_{phase.after_name}"] = time.perf_counter() - t0
