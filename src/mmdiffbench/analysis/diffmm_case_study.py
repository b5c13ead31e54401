"""Data for DiffMM's case study (paper Fig. 5 / A.5): do generated edges follow modality similarity?

For a random sample of users, writes
  generated_edges.csv  modality, user, item, in_train   (the modality graph's user-item edges)
  original_edges.csv   user, item                       (their training edges)
  item_similarity.csv  modality, item_a, item_b, cosine (raw features; a sampled user's generated item
                       with each other item of that user)
and, over all users, summary.json with the mean feature cosine of item pairs (a pair counts once
per user that links it, so popular pairs weigh more; null where there is no pair)
  generated_pairs:    two items linked to the same user by the generated graph (needs k >= 2),
  generated_history:  a generated item and one of the same user's training items,
  original_pairs:     two items linked to the same user in the training graph,
  random_pairs:       uniformly drawn item pairs (as many as original_pairs).
The report draws the figure (report/figures.py); this module only exports the numbers.

    mmdiffbench case-study RUN_DIR --out DIR [--data DIR] [--k 5] [--users 20] [--seed 0]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.models.diffmm import DiffMM
from mmdiffbench.train.restore import restore_run


def _unit_rows(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)


def _co_linked_pairs(matrix: sp.csr_matrix, max_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """Item pairs (a < b) linked to a common user, once per such user; at most `max_pairs` sampled."""
    per_user: list[np.ndarray] = []
    for user in range(matrix.shape[0]):
        items = matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]
        if len(items) >= 2:
            a, b = np.triu_indices(len(items), k=1)
            per_user.append(np.stack([items[a], items[b]], axis=1))
    if not per_user:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(per_user)
    return pairs[rng.choice(len(pairs), max_pairs, replace=False)] if len(pairs) > max_pairs else pairs


def _mean_cosine(unit: np.ndarray, pairs: np.ndarray) -> float:
    if len(pairs) == 0:
        return float("nan")
    return float(np.mean(np.sum(unit[pairs[:, 0]] * unit[pairs[:, 1]], axis=1)))


def generated_matrix(model: DiffMM, m: str, k: int | None) -> sp.csr_matrix:
    """The users x items generated edges of modality m: the model's graph, or its first k
    generated items per user (the ranked items the run kept, else re-generated)."""
    if k is None:
        topk = model.topk[m].numpy()
    elif m in model.ranked and k <= model.ranked[m].shape[1]:
        topk = model.ranked[m][:, :k].numpy()
    else:
        topk = torch.cat([model.generate_topk(m, u, k) for u in model.user_chunks()]).cpu().numpy()
    users = np.repeat(np.arange(model.n_users), topk.shape[1])
    return sp.csr_matrix((np.ones(topk.size, np.float32), (users, topk.ravel())), shape=(model.n_users, model.n_items))


def _user_pair_rows(
    m: str, unit: np.ndarray, generated: sp.csr_matrix, train: sp.csr_matrix, sample: np.ndarray
) -> list[tuple[str, int, int, float]]:
    """Feature cosine between each sampled user's generated items and all of that user's items
    (generated and training; each pair once, item_a < item_b): what the per-user panels draw.
    Training-training pairs are left out: a TikTok user with 500 items alone would add 125k rows."""
    pairs: set[tuple[int, int]] = set()
    for u in sample:
        gen = generated.indices[generated.indptr[u] : generated.indptr[u + 1]]
        own = np.union1d(gen, train.indices[train.indptr[u] : train.indptr[u + 1]])
        pairs.update((min(a, b), max(a, b)) for a in gen.tolist() for b in own.tolist() if a != b)
    return [(m, a, b, float(unit[a] @ unit[b])) for a, b in sorted(pairs)]


def _nan_to_null(summary: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """JSON has no NaN: a mean over no pairs (k = 1 has no generated pairs) is written as null."""
    return {
        m: {key: (None if isinstance(v, float) and np.isnan(v) else v) for key, v in row.items()}
        for m, row in summary.items()
    }


def export_case_study(
    model: DiffMM,
    dataset: InteractionDataset,
    out_dir: Path,
    n_users: int = 20,
    k: int | None = None,
    seed: int = 0,
    max_pairs: int = 200_000,
) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train = sp.csr_matrix(dataset.train)
    candidates = np.flatnonzero(np.diff(train.indptr) >= 2)
    sample = np.sort(rng.choice(candidates, min(n_users, len(candidates)), replace=False))
    original = [(u, i) for u in sample for i in train.indices[train.indptr[u] : train.indptr[u + 1]]]
    pd.DataFrame(original, columns=["user", "item"]).to_csv(out_dir / "original_edges.csv", index=False)
    generated_rows, similarity_rows, summary = [], [], {}
    for m in model.modalities:
        generated = generated_matrix(model, m, k)
        unit = _unit_rows(np.asarray(dataset.features[m], dtype=np.float64))
        for u in sample:
            for i in generated.indices[generated.indptr[u] : generated.indptr[u + 1]]:
                generated_rows.append((m, int(u), int(i), bool(train[u, i] > 0)))
        similarity_rows += _user_pair_rows(m, unit, generated, train, sample)
        original_pairs = _co_linked_pairs(train, max_pairs, rng)
        history_pairs: list[tuple[int, int]] = []
        for u in range(model.n_users):
            gen = generated.indices[generated.indptr[u] : generated.indptr[u + 1]]
            own = train.indices[train.indptr[u] : train.indptr[u + 1]]
            history_pairs += [(g, o) for g in gen for o in own if g != o]
        history = np.array(history_pairs, dtype=np.int64).reshape(-1, 2)
        random_pairs = rng.integers(0, model.n_items, size=(max(len(original_pairs), 1), 2))
        summary[m] = {
            "generated_pairs": _mean_cosine(unit, _co_linked_pairs(generated, max_pairs, rng)),
            "generated_history": _mean_cosine(unit, history),
            "original_pairs": _mean_cosine(unit, original_pairs),
            "random_pairs": _mean_cosine(unit, random_pairs[random_pairs[:, 0] != random_pairs[:, 1]]),
            "edges_per_user": int(generated.getnnz() // model.n_users),
        }
    pd.DataFrame(generated_rows, columns=["modality", "user", "item", "in_train"]).to_csv(
        out_dir / "generated_edges.csv", index=False
    )
    pd.DataFrame(similarity_rows, columns=["modality", "item_a", "item_b", "cosine"]).to_csv(
        out_dir / "item_similarity.csv", index=False
    )
    (out_dir / "summary.json").write_text(json.dumps(_nan_to_null(summary), indent=2) + "\n")
    return summary


def run_case_study(
    run_dir: Path, out_dir: Path, data_dir: Path | None = None, n_users: int = 20, k: int | None = None, seed: int = 0
) -> dict[str, Any]:
    """`mmdiffbench case-study`: export for the selected model of a DiffMM run (for a run not
    finished, its checkpoint's best state so far). CPU only: the workflow gives this job no GPU."""
    dataset, _, model = restore_run(run_dir, data_dir, torch.device("cpu"), model_name="diffmm", partial=True)
    assert isinstance(model, DiffMM)
    return export_case_study(model, dataset, out_dir, n_users, k, seed)
