"""Planted-structure checks shared by the model tests: a model must beat item popularity clearly."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import InteractionDataset, make_synthetic
from mmdiffbench.train.run import train_run


def planted_dataset(modalities: dict[str, int] | None = None) -> InteractionDataset:
    """300 users, 200 items in 8 clusters; features (when asked) reveal the clusters."""
    return make_synthetic(
        n_users=300, n_items=200, n_clusters=8, interactions_per_user=12, modalities=modalities, seed=4
    )


def popularity_recall(dataset: InteractionDataset, k: int = 20) -> float:
    """Test recall@k of ranking items by training popularity (training and validation items masked)."""
    popularity = np.asarray(dataset.train.sum(0)).ravel().astype(float)
    recalls = []
    for user in range(dataset.n_users):
        held = set(dataset.test.indices[dataset.test.indptr[user] : dataset.test.indptr[user + 1]])
        if not held:
            continue
        scores = popularity.copy()
        for split in (dataset.train, dataset.val):
            scores[split.indices[split.indptr[user] : split.indptr[user + 1]]] = -np.inf
        top = set(np.argsort(-scores)[:k])
        recalls.append(len(top & held) / len(held))
    return float(np.mean(recalls))


def trained_recall(dataset: InteractionDataset, model: str, overrides: list[str], out: Path) -> float:
    """Test recall@20 of the validation-selected epoch of a short run."""
    settings = ["eval_every=1", "patience=0", "topks=[20]", "group_edges=[0]", *overrides]
    metrics = train_run(dataset, resolve(model, dataset.name, "full", settings), 0, out, torch.device("cpu"))
    logging.getLogger().handlers.clear()
    return float(metrics["test"]["recall@20"])
