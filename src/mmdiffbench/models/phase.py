"""What a model declares about its training (DESIGN.md, "Contracts"): phases, their batches and losses.

A model lists its phases in the order they run each epoch. The trainer owns everything that
steps: it builds one optimiser per phase from the phase's settings, samples the batches the
phase eats, sums each loss part, backpropagates, steps, logs and checkpoints. A model keeps no
optimiser and no optimiser state, so its `state_dict` is the model alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import scipy.sparse as sp
import torch
from torch import nn

#: what a phase eats: BPR (user, positive, negative) triples, the training rows of a batch of
#: users, or nothing (one step per epoch on the whole graph)
BatchKind = Literal["bpr", "user_rows", "none"]


@dataclass
class BPRBatch:
    """(user, positive item, negative item) index triples on the model's device."""

    users: torch.Tensor
    pos: torch.Tensor
    neg: torch.Tensor


@dataclass
class UserRowBatch:
    """A batch of users and their binary training rows (scipy CSR, users x items)."""

    users: torch.Tensor
    rows: sp.csr_matrix

    def dense(self) -> torch.Tensor:
        """The rows as a dense float32 tensor on the users' device (densified per batch only)."""
        return torch.from_numpy(self.rows.toarray()).to(self.users.device)


Batch = BPRBatch | UserRowBatch | None
#: the loss of one step in independent parts, each backpropagated as soon as it is made, so that
#: only one part's activations are alive at a time (DiffMM: one part per modality's generator);
#: a part maps term names (logged as `loss_<name>`) to weighted scalar terms that are summed
LossParts = Callable[[Batch], Iterable[dict[str, torch.Tensor]]]


@dataclass(frozen=True)
class OptimizerSettings:
    """Adam settings of one phase; None takes the trainer's `lr` / `weight_decay`."""

    lr: float | None = None
    weight_decay: float | None = None
    #: one fused pass per tensor: for very large parameters (DiffMM's denoisers), where the
    #: multi-tensor Adam allocates copies as large as the parameters themselves
    fused: bool = False


@dataclass
class Phase:
    """One training phase of an epoch.

    `before` runs once before the phase's first batch (e.g. detached targets shared by every
    step); `after` runs once after its last step and returns values for history.csv (DiffMM's
    graph rebuild), timed as `time_<after_name>`.
    """

    name: str
    parameters: list[nn.Parameter]
    batches: BatchKind
    loss_parts: LossParts
    optimizer: OptimizerSettings = OptimizerSettings()
    #: None takes the trainer's `batch_size`
    batch_size: int | None = None
    before: Callable[[], None] | None = None
    after: Callable[[], dict[str, float]] | None = None
    after_name: str = "after"

    def __post_init__(self) -> None:
        if self.batches not in ("bpr", "user_rows", "none"):
            raise ValueError(f"phase {self.name!r}: batches must be bpr, user_rows or none, got {self.batches!r}")
        if not self.parameters:
            raise ValueError(f"phase {self.name!r} has no parameters to train")
