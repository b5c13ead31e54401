"""Dense float64 references shared by the ID-only baseline tests, written from the papers'
formulas and never through the library's sparse helpers."""

from __future__ import annotations

import numpy as np
import torch


def dense_norm_adj(train: object, n_users: int, n_items: int) -> torch.Tensor:
    """D^-1/2 [[0, R], [R^T, 0]] D^-1/2 in float64, isolated nodes 0 (R binarised)."""
    r = torch.from_numpy(np.asarray(train.toarray()) > 0).double()  # type: ignore[attr-defined]
    assert r.shape == (n_users, n_items)
    return dense_sym(r)


def dense_sym(r: torch.Tensor) -> torch.Tensor:
    """[[0, R], [R^T, 0]] of a dense users x items R, normalised by D^-1/2 on both sides (isolated nodes 0)."""
    n_users, n_items = r.shape
    a = torch.zeros(n_users + n_items, n_users + n_items, dtype=torch.float64)
    a[:n_users, n_users:] = r
    a[n_users:, :n_users] = r.T
    degree = a.sum(1)
    inv = torch.where(degree > 0, degree.clamp(min=1e-30) ** -0.5, torch.zeros_like(degree))
    return inv[:, None] * a * inv[None, :]


def batch_bpr(
    rep: torch.Tensor, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, n_users: int
) -> torch.Tensor:
    """BPR of a batch on a (users + items) x d representation, users first."""
    return dense_bpr(rep[users], rep[n_users + pos], rep[n_users + neg])


def paired_rows(
    users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, n_users: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (user, pos), (user, neg) rows of MMGCN-style references, which score each pair as its own row:
    user rows and node rows of the items, interleaved."""
    return users.repeat_interleave(2), n_users + torch.stack([pos, neg], 1).reshape(-1)


def dense_info_nce(anchors: torch.Tensor, table: torch.Tensor, positives: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over rows n of -log( exp(cos(a_n, t_{p_n})/tau) / sum_v exp(cos(a_n, t_v)/tau) )."""
    a = anchors.double() / anchors.double().norm(dim=1, keepdim=True)
    t = table.double() / table.double().norm(dim=1, keepdim=True)
    logits = a @ t.T / tau
    return (torch.logsumexp(logits, dim=1) - logits[torch.arange(len(a)), positives]).mean()


def dense_bpr(u: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    return -torch.log(torch.sigmoid((u * p).sum(1) - (u * n).sum(1))).mean()
