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


def rank_split(
    score_fn: ScoreFn,
    heldout: sp.csr_matrix,
    exclude: list[sp.csr_matrix],
    ks: tuple[int, ...] = (10, 20, 50),
    batch_size: int = 2048,
    device: torch.device | str = "cpu",
    desc: str = "ranking",
) -> RankingResult:
    """Rank all items for every user with a held-out item; metrics per user (`desc` names the
    progress lines of a long ranking)."""
    n_items = heldout.shape[1]
    max_k = max(ks)
    n_relevant_all = np.diff(heldout.indptr)
    users = np.flatnonzero(n_relevant_all > 0)
    mask = sp.csr_matrix(heldout.shape, dtype=np.float32)
    for matrix in exclude:
        mask = mask + matrix
    mask = mask.tocsr()
    hit_rows: list[np.ndarray] = []
    starts = range(0, len(users), batch_size)
    for start in progress(starts, len(starts), desc):
        batch = users[start : start + batch_size]
        with torch.no_grad():
            scores = score_fn(torch.from_numpy(batch).to(device)).float()
        sub = mask[batch]
        if sub.nnz:
            row = torch.from_numpy(np.repeat(np.arange(len(batch)), np.diff(sub.indptr))).to(scores.device)
            col = torch.from_numpy(sub.indices.astype(np.int64)).to(scores.device)
            scores[row, col] = -torch.inf
        top = torch.topk(scores, max_k, dim=1).indices.cpu().numpy()
        keys = batch[:, None].astype(np.int64) * n_items + top
        hit_rows.append(np.isin(keys, _csr_rows_as_keys(heldout, batch, n_items)))
    hits = np.concatenate(hit_rows) if hit_rows else np.zeros((0, max_k), dtype=bool)
    return RankingResult(users, per_user_metrics(hits, n_relevant_all[users], ks))
