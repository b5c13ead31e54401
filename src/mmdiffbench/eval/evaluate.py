"""Evaluate a model on the validation and test splits with the configured masking.

Evaluation knows no model class: it needs only what `ScoringModel` names (scores of all items
for a batch of users, and a context for work shared by one evaluation's batches).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.eval.ranking import NestedSplit, RankingResult, rank_splits


class ScoringModel(Protocol):
    training: bool

    @property
    def device(self) -> torch.device: ...

    def score(self, users: torch.Tensor) -> torch.Tensor: ...

    def scoring(self) -> AbstractContextManager[None]: ...

    def train(self, mode: bool = True) -> object: ...

    def eval(self) -> object: ...


def evaluate_model(
    model: ScoringModel,
    dataset: InteractionDataset,
    ks: tuple[int, ...],
    batch_size: int,
    test_mask_val: bool = True,
) -> dict[str, RankingResult]:
    """Validation masks training items; test masks training (and, by default, validation) items.
    Each user is scored once for both splits (`rank_splits`)."""
    was_training = model.training
    model.eval()
    splits = [
        NestedSplit(dataset.val, (dataset.train,)),
        NestedSplit(dataset.test, (dataset.val,) if test_mask_val else ()),
    ]
    try:
        with model.scoring():
            val, test = rank_splits(model.score, splits, ks, batch_size, model.device, "evaluation")
    finally:
        model.train(was_training)
    return {"val": val, "test": test}
