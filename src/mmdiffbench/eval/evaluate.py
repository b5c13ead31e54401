"""Evaluate a model on the validation and test splits with the configured masking."""

from __future__ import annotations

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.eval.ranking import RankingResult, rank_split
from mmdiffbench.models.base import Recommender


def evaluate_model(
    model: Recommender,
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
                "val": rank_split(model.score, dataset.val, [dataset.train], ks, batch_size, model.device),
                "test": rank_split(
                    model.score,
                    dataset.test,
                    [dataset.train, dataset.val] if test_mask_val else [dataset.train],
                    ks,
                    batch_size,
                    model.device,
                ),
            }
    finally:
        model.train(was_training)
    return results
