"""Metric functions against hand-computed cases, and full ranking against a brute-force loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mmdiffbench.eval.metrics import per_user_metrics
from mmdiffbench.eval.ranking import NestedSplit, rank_split, rank_splits


def test_hand_computed_user() -> None:
    # ranks 0 and 2 are hits, the user has 3 held-out items
    hits = np.array([[True, False, True, False]])
    out = per_user_metrics(hits, np.array([3]), ks=(1, 2, 4))
    assert out["recall@1"][0] == pytest.approx(1 / 3)
    assert out["recall@4"][0] == pytest.approx(2 / 3)
    assert out["precision@2"][0] == pytest.approx(1 / 2)
    assert out["precision@4"][0] == pytest.approx(2 / 4)
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert out["ndcg@4"][0] == pytest.approx(dcg / idcg)
    # at K=2 only one hit (rank 0) counts; the ideal has min(3, 2) = 2 hits
    assert out["ndcg@2"][0] == pytest.approx(1.0 / (1 + 1 / math.log2(3)))


def test_perfect_and_empty_rankings() -> None:
    hits = np.array([[True, True, False], [False, False, False]])
    out = per_user_metrics(hits, np.array([2, 5]), ks=(3,))
    assert out["ndcg@3"].tolist() == [1.0, 0.0]
    assert out["recall@3"].tolist() == [1.0, 0.0]


def test_recall_is_not_capped_at_k() -> None:
    hits = np.ones((1, 2), dtype=bool)
    assert per_user_metrics(hits, np.array([10]), ks=(2,))["recall@2"][0] == pytest.approx(0.2)


def test_rejects_users_without_heldout_items_and_short_rankings() -> None:
    with pytest.raises(ValueError, match="held-out"):
        per_user_metrics(np.zeros((1, 5), dtype=bool), np.array([0]), ks=(5,))
    with pytest.raises(ValueError, match="fewer than K"):
        per_user_metrics(np.zeros((1, 5), dtype=bool), np.array([1]), ks=(10,))


def _random_split(rng: np.random.Generator, shape: tuple[int, int], density: float) -> sp.csr_matrix:
    return sp.csr_matrix((rng.random(shape) < density).astype(np.float32))


def _without(matrix: sp.csr_matrix, *others: sp.csr_matrix) -> sp.csr_matrix:
    """`matrix` with every entry present in `others` removed (held-out items are new items)."""
    dense = matrix.toarray()
    for other in others:
        dense[other.toarray() > 0] = 0
    return sp.csr_matrix(dense)


def _brute_force(scores: np.ndarray, heldout: sp.csr_matrix, exclude: sp.csr_matrix, k: int) -> dict[str, float]:
    """Per-user Python loop over a dense score matrix: an independent reference."""
    recalls, precisions, ndcgs = [], [], []
    for user in range(scores.shape[0]):
        relevant = set(heldout[user].indices)
        if not relevant:
            continue
        banned = set(exclude[user].indices)
        candidates = [i for i in range(scores.shape[1]) if i not in banned]
        ranked = sorted(candidates, key=lambda i: -scores[user, i])[:k]
        gains = [1.0 if item in relevant else 0.0 for item in ranked]
        dcg = sum(g / math.log2(r + 2) for r, g in enumerate(gains))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
        recalls.append(sum(gains) / len(relevant))
        precisions.append(sum(gains) / k)
        ndcgs.append(dcg / idcg)
    return {f"recall@{k}": np.mean(recalls), f"precision@{k}": np.mean(precisions), f"ndcg@{k}": np.mean(ndcgs)}


def _splits_and_scores(
    rng: np.random.Generator, n_users: int, n_items: int
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Disjoint train / val / test interactions and random scores (ties have probability 0)."""
    train = _random_split(rng, (n_users, n_items), 0.15)
    val = _without(_random_split(rng, (n_users, n_items), 0.05), train)
    test = _without(_random_split(rng, (n_users, n_items), 0.08), train, val)
    return train, val, test, rng.normal(size=(n_users, n_items)).astype(np.float32)


@pytest.mark.parametrize("batch_size", [7, 1000])
def test_rank_split_matches_brute_force(batch_size: int) -> None:
    train, val, test, scores = _splits_and_scores(np.random.default_rng(0), 40, 60)

    result = rank_split(
        lambda users: torch.from_numpy(scores[users.numpy()]), test, [train, val], ks=(5, 10), batch_size=batch_size
    )
    mean = result.mean()
    for k in (5, 10):
        reference = _brute_force(scores, test, (train + val).tocsr(), k)
        for key, value in reference.items():
            assert mean[key] == pytest.approx(value, abs=1e-12), key
    assert len(result.users) == int((np.diff(test.indptr) > 0).sum())


@pytest.mark.parametrize("test_masks_val", [True, False])
def test_nested_splits_score_each_user_once_and_match_brute_force(test_masks_val: bool) -> None:
    train, val, test, scores = _splits_and_scores(np.random.default_rng(2), 45, 60)
    scored: list[int] = []

    def score(users: torch.Tensor) -> torch.Tensor:
        scored.extend(users.tolist())
        return torch.from_numpy(scores[users.numpy()].copy())

    splits = [NestedSplit(val, (train,)), NestedSplit(test, (val,) if test_masks_val else ())]
    val_result, test_result = rank_splits(score, splits, ks=(5, 10), batch_size=8)
    with_heldout = (np.diff(val.indptr) > 0) | (np.diff(test.indptr) > 0)
    assert sorted(scored) == np.flatnonzero(with_heldout).tolist()
    test_exclude = (train + val).tocsr() if test_masks_val else train
    for result, heldout, exclude in ((val_result, val, train), (test_result, test, test_exclude)):
        assert result.users.tolist() == np.flatnonzero(np.diff(heldout.indptr) > 0).tolist()
        mean = result.mean()
        for k in (5, 10):
            for key, value in _brute_force(scores, heldout, exclude, k).items():
                assert mean[key] == pytest.approx(value, abs=1e-12), key


def test_masked_items_are_never_recommended() -> None:
    train = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 1, 0]], dtype=np.float32))
    # training items score highest, but are masked: the test item is ranked first
    scores = torch.tensor([[9.0, 8.0, 1.0, 0.0]])
    result = rank_split(lambda users: scores[users], test, [train], ks=(1,))
    assert result.mean()["recall@1"] == 1.0


def test_groups_partition_users() -> None:
    rng = np.random.default_rng(1)
    train = _random_split(rng, (50, 30), 0.3)
    test = _without(_random_split(rng, (50, 30), 0.1), train)
    scores = torch.from_numpy(rng.normal(size=(50, 30)).astype(np.float32))
    result = rank_split(lambda users: scores[users], test, [train], ks=(5,))
    counts = np.diff(train.indptr)
    groups = result.by_group(counts, [0, 6, 11])
    assert list(groups) == ["0-5", "6-10", "11+"]
    assert sum(g["n_users"] for g in groups.values()) == len(result.users)
    weighted = sum(g["n_users"] * g.get("recall@5", 0.0) for g in groups.values()) / len(result.users)
    assert weighted == pytest.approx(result.mean()["recall@5"])
    members = result.users[(counts[result.users] >= 6) & (counts[result.users] < 11)]
    expected = result.per_user["recall@5"][np.isin(result.users, members)].mean()
    assert groups["6-10"]["recall@5"] == pytest.approx(expected)
