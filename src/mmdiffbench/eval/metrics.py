"""Top-K metrics from a hit matrix: pure functions, one row per evaluated user.

`hits[u, r]` is True when the item ranked r-th (0-based) for user u is a held-out item.
`n_relevant[u]` is the user's number of held-out items (>= 1 for every evaluated user).

- Recall@K    = hits in the top K / n_relevant (not capped at K; as RecBole and DiffMM)
- Precision@K = hits in the top K / K
- NDCG@K      = sum over hits at rank r < K of 1/log2(r + 2), divided by the ideal DCG of
                min(n_relevant, K) hits at the top ranks
Averages over users are taken by the caller, over evaluated users only (never all users).
"""

from __future__ import annotations

import numpy as np

METRICS = ("recall", "precision", "ndcg")


def metric_key(metric: str, k: int) -> str:
    return f"{metric}@{k}"


def per_user_metrics(hits: np.ndarray, n_relevant: np.ndarray, ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Recall, Precision and NDCG at every K for every row of `hits` ([n_users, max K])."""
    hits = np.asarray(hits, dtype=bool)
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    if hits.shape[1] < max(ks):
        raise ValueError(f"hits has {hits.shape[1]} ranks, fewer than K = {max(ks)}")
    if (n_relevant <= 0).any():
        raise ValueError("every evaluated user needs at least one held-out item")
    discount = 1.0 / np.log2(np.arange(hits.shape[1]) + 2.0)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])
    cum_hits = np.cumsum(hits, axis=1)
    cum_dcg = np.cumsum(hits * discount, axis=1)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        n_hit = cum_hits[:, k - 1]
        out[metric_key("recall", k)] = n_hit / n_relevant
        out[metric_key("precision", k)] = n_hit / k
        idcg = ideal[np.minimum(n_relevant, k).astype(int)]
        out[metric_key("ndcg", k)] = cum_dcg[:, k - 1] / idcg
    return out
