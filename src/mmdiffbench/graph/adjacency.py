"""Sparse user-item graphs as torch tensors: symmetric normalisation and edge dropout."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch


def bipartite_adjacency(interactions: sp.spmatrix, self_loops: bool = False) -> sp.csr_matrix:
    """The (U+I) x (U+I) symmetric binary matrix [[0, R], [R^T, 0]] (+ I if `self_loops`)."""
    r = sp.csr_matrix(interactions, dtype=np.float32)
    r.data[:] = 1.0
    n_users, n_items = r.shape
    adj = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    if self_loops:
        adj = adj + sp.identity(n_users + n_items, dtype=np.float32, format="csr")
    adj.data[:] = 1.0
    return adj.tocsr()


def symmetric_normalize(adj: sp.spmatrix) -> sp.csr_matrix:
    """D^-1/2 A D^-1/2 with degrees from row sums; isolated nodes get 0, not inf."""
    adj = sp.csr_matrix(adj, dtype=np.float32)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(degree)
    nonzero = degree > 0
    inv_sqrt[nonzero] = degree[nonzero] ** -0.5
    d = sp.diags(inv_sqrt)
    return (d @ adj @ d).tocsr().astype(np.float32)


def to_torch_sparse(matrix: sp.spmatrix, device: torch.device | str = "cpu") -> torch.Tensor:
    """A scipy matrix as a coalesced torch sparse COO tensor (float32)."""
    coo = sp.coo_matrix(matrix, dtype=np.float32)
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, coo.shape, device=device, check_invariants=False).coalesce()


def normalized_adjacency(
    interactions: sp.spmatrix, self_loops: bool = False, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Symmetric normalised bipartite adjacency as torch sparse (LightGCN: no self-loops;
    the DiffMM official code adds them)."""
    return to_torch_sparse(symmetric_normalize(bipartite_adjacency(interactions, self_loops)), device)


def drop_edges(adj: torch.Tensor, keep_rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep each stored entry with probability `keep_rate`, rescaling kept values by 1/keep_rate.

    Entries are dropped independently (both directions of an edge separately), as in the
    DiffMM official `SpAdjDropEdge`; keep_rate = 1 returns `adj` unchanged.
    """
    if not 0.0 < keep_rate <= 1.0:
        raise ValueError(f"keep_rate must be in (0, 1], got {keep_rate}")
    if keep_rate == 1.0:
        return adj
    adj = adj.coalesce()
    keep = torch.rand(adj.values().shape, generator=generator, device=adj.device) < keep_rate
    return keep_entries(adj, keep, keep_rate)


def keep_entries(adj: torch.Tensor, keep: torch.Tensor, keep_rate: float) -> torch.Tensor:
    """The coalesced `adj` with the stored entries where `keep` is False removed, the rest / keep_rate."""
    return torch.sparse_coo_tensor(
        adj.indices()[:, keep], adj.values()[keep] / keep_rate, adj.shape, device=adj.device, check_invariants=False
    ).coalesce()
