"""Evaluate a model on the validation and test splits with the configured masking.

Evaluation knows no model class: it needs only what `ScoringModel` names (scores of all items
for a batch of users, and a context for work shared by one evaluation's batches).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.eval.ranking import RankingResult, rank_split


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
    """Validation masks training items; test masks training (and, by default, validation) items."""
    was_training = model.training
    model.eval()
    try:
        with model.scoring():
            results = {
                "val": rank_split(
                    model.score, dataset.val, [dataset.train], ks, batch_size, model.device, "evaluation val"
                ),
                "test": rank_split(
                    model.score,
                    dataset.test,
                    [dataset.train, dataset.val] if test_mask_val else [dataset.train],
                    ks,
                    batch_size,
                    model.device,
                    "evaluation test",
                ),
            }
    finally:
        model.train(was_training)
    return results
