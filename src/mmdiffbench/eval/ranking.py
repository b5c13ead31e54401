"""Full-ranking evaluation over all items, in user batches (never a dense users x items matrix).

For each evaluated user (>= 1 held-out item in the split) every item is scored, items in
the exclusion splits are pushed to -inf, and the top max(K) items are compared with the
held-out set. Memory is bounded by `batch_size x n_items` scores.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from mmdiffbench.eval.metrics import per_user_metrics
from mmdiffbench.progress import progress

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class RankingResult:
    """Per-user metrics of one split; `users` are the evaluated user ids."""

    users: np.ndarray
    per_user: dict[str, np.ndarray]

    def mean(self) -> dict[str, float]:
        """Means over evaluated users."""
        return {key: float(values.mean()) for key, values in self.per_user.items()}

    def by_group(self, train_counts: np.ndarray, edges: list[int]) -> dict[str, dict[str, float]]:
        """Means per user group; group g holds users with edges[g] <= #train < edges[g+1]."""
        counts = train_counts[self.users]
        groups: dict[str, dict[str, float]] = {}
        bounds = list(edges) + [np.inf]
        for lo, hi in itertools.pairwise(bounds):
            label = f"{lo}+" if hi == np.inf else f"{lo}-{int(hi) - 1}"
            inside = (counts >= lo) & (counts < hi)
            row: dict[str, float] = {"n_users": int(inside.sum())}
            if inside.any():
                row.update({key: float(values[inside].mean()) for key, values in self.per_user.items()})
            groups[label] = row
        return groups


def _csr_rows_as_keys(matrix: sp.csr_matrix, rows: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted keys user * n_items + item for the non-zeros of the given rows."""
    sub = matrix[rows]
    local = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
    return rows[local].astype(np.int64) * n_items + sub.indices


@dataclass(frozen=True)
class NestedSplit:
    """A held-out split ranked with `adds_mask` excluded on top of what the splits ranked before
    it in the same `rank_splits` call exclude (validation: + training; test: + validation)."""

    heldout: sp.csr_matrix
    adds_mask: tuple[sp.csr_matrix, ...] = ()


def _union(matrices: tuple[sp.csr_matrix, ...], shape: tuple[int, int]) -> sp.csr_matrix:
    mask = sp.csr_matrix(shape, dtype=np.float32)
    for matrix in matrices:
        mask = mask + matrix
    return mask.tocsr()


def _mask_rows(scores: torch.Tensor, mask: sp.csr_matrix, batch: np.ndarray) -> None:
    """Push the masked items of the batch's users to -inf, in place."""
    sub = mask[batch]
    if sub.nnz:
        row = torch.from_numpy(np.repeat(np.arange(len(batch)), np.diff(sub.indptr))).to(scores.device)
        col = torch.from_numpy(sub.indices.astype(np.int64)).to(scores.device)
        scores[row, col] = -torch.inf


def rank_splits(
    score_fn: ScoreFn,
    splits: list[NestedSplit],
    ks: tuple[int, ...] = (10, 20, 50),
    batch_size: int = 2048,
    device: torch.device | str = "cpu",
    desc: str = "ranking",
) -> list[RankingResult]:
    """Rank all items for every user with a held-out item in any split; metrics per split and user.

    Each user is scored once for all splits: the exclusions are nested, so one score matrix per
    batch serves every split, masked further in place between them. A diffusion model's score
    runs its denoiser, the larger part of its evaluation (DiffRec on Sports), so scoring once
    instead of once per split saves that part's second pass. `desc` names the progress lines."""
    n_items = splits[0].heldout.shape[1]
    max_k = max(ks)
    n_relevant = [np.diff(split.heldout.indptr) for split in splits]
    users = np.flatnonzero(np.logical_or.reduce([counts > 0 for counts in n_relevant]))
    masks = [_union(split.adds_mask, split.heldout.shape) for split in splits]
    hit_rows: list[list[np.ndarray]] = [[] for _ in splits]
    starts = range(0, len(users), batch_size)
    for start in progress(starts, len(starts), desc):
        batch = users[start : start + batch_size]
        with torch.no_grad():
            scores = score_fn(torch.from_numpy(batch).to(device)).float()
        for index, split in enumerate(splits):
            _mask_rows(scores, masks[index], batch)
            inside = n_relevant[index][batch] > 0
            if inside.all():
                rows, ranked = batch, scores
            else:
                rows = batch[inside]
                ranked = scores[torch.from_numpy(np.flatnonzero(inside)).to(scores.device)]
            top = torch.topk(ranked, max_k, dim=1).indices.cpu().numpy()
            keys = rows[:, None].astype(np.int64) * n_items + top
            hit_rows[index].append(np.isin(keys, _csr_rows_as_keys(split.heldout, rows, n_items)))
    results = []
    for counts, rows_of_hits in zip(n_relevant, hit_rows, strict=True):
        evaluated = users[counts[users] > 0]
        hits = np.concatenate(rows_of_hits) if rows_of_hits else np.zeros((0, max_k), dtype=bool)
        results.append(RankingResult(evaluated, per_user_metrics(hits, counts[evaluated], ks)))
    return results


def rank_split(
    score_fn: ScoreFn,
    heldout: sp.csr_matrix,
    exclude: list[sp.csr_matrix],
    ks: tuple[int, ...] = (10, 20, 50),
    batch_size: int = 2048,
    device: torch.device | str = "cpu",
    desc: str = "ranking",
) -> RankingResult:
    """One split: every item ranked for each user with a held-out item, `exclude` masked."""
    return rank_splits(score_fn, [NestedSplit(heldout, tuple(exclude))], ks, batch_size, device, desc)[0]
