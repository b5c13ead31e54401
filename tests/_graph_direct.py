"""Dense float64 references shared by the ID-only baseline tests, written from the papers'
formulas and never through the library's sparse helpers."""

from __future__ import annotations

import numpy as np
import torch


def dense_norm_adj(train: object, n_users: int, n_items: int) -> torch.Tensor:
    """D^-1/2 [[0, R], [R^T, 0]] D^-1/2 in float64, isolated nodes 0 (R binarised)."""
    r = torch.from_numpy(np.asarray(train.toarray()) > 0).double()  # type: ignore[attr-defined]
    a = torch.zeros(n_users + n_items, n_users + n_items, dtype=torch.float64)
    a[:n_users, n_users:] = r
    a[n_users:, :n_users] = r.T
    degree = a.sum(1)
    inv = torch.where(degree > 0, degree.clamp(min=1e-30) ** -0.5, torch.zeros_like(degree))
    return inv[:, None] * a * inv[None, :]


def dense_info_nce(anchors: torch.Tensor, table: torch.Tensor, positives: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over rows n of -log( exp(cos(a_n, t_{p_n})/tau) / sum_v exp(cos(a_n, t_v)/tau) )."""
    a = anchors.double() / anchors.double().norm(dim=1, keepdim=True)
    t = table.double() / table.double().norm(dim=1, keepdim=True)
    logits = a @ t.T / tau
    return (torch.logsumexp(logits, dim=1) - logits[torch.arange(len(a)), positives]).mean()


def dense_bpr(u: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    return -torch.log(torch.sigmoid((u * p).sum(1) - (u * n).sum(1))).mean()
