"""Item-item kNN graphs from item features (LATTICE, FREEDOM, MGCN, DiffCL), always sparse.

For each item the k most cosine-similar other items are kept (computed in chunks of rows, so no
items x items matrix is ever held: on Sports 18,357^2 floats would be 1.3 GB), with weight 1
(FREEDOM, MGCN, DiffCL eq. 18-20) or the similarity itself (LATTICE's `build_knn_neighbourhood`).
The graph is then normalised, `sym` D^-1/2 S D^-1/2 with D the row sums (DiffCL eq. 21-22,
LATTICE, FREEDOM) or `rw` D^-1 S, or left as it is (`none`). The kNN relation is not symmetric:
item a may be among b's neighbours without the converse, as in every reference implementation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from mmdiffbench.graph.adjacency import symmetric_normalize, to_torch_sparse

NORMALISATIONS = ("sym", "rw", "none")


def knn_neighbours(features: torch.Tensor, k: int, chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, cosine similarities), each items x k: every item's k nearest other items.

    An item is never its own neighbour (its similarity is set to -inf before the top-k), which
    the reference codes leave to chance (a duplicate item can outrank the item itself).
    """
    n = features.shape[0]
    if not 0 < k < n:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} items, got {k}")
    unit = F.normalize(features.float(), dim=1)
    indices, values = [], []
    for start in range(0, n, chunk):
        rows = unit[start : start + chunk]
        sim = rows @ unit.T
        own = torch.arange(start, start + len(rows), device=sim.device)
        sim[torch.arange(len(rows), device=sim.device), own] = float("-inf")
        top = torch.topk(sim, k, dim=1)
        indices.append(top.indices)
        values.append(top.values)
    return torch.cat(indices), torch.cat(values)


def knn_item_graph(
    features: torch.Tensor, k: int, weights: str = "binary", normalization: str = "sym", chunk: int = 2048
) -> torch.Tensor:
    """The normalised items x items kNN graph as a coalesced torch sparse tensor (k entries per row)."""
    if weights not in ("binary", "similarity"):
        raise ValueError(f"weights must be 'binary' or 'similarity', got {weights!r}")
    if normalization not in NORMALISATIONS:
        raise ValueError(f"normalization must be one of {NORMALISATIONS}, got {normalization!r}")
    indices, values = knn_neighbours(features, k, chunk)
    n = features.shape[0]
    rows = np.repeat(np.arange(n), k)
    data = np.ones(n * k, np.float32) if weights == "binary" else values.cpu().numpy().ravel().astype(np.float32)
    graph = sp.csr_matrix((data, (rows, indices.cpu().numpy().ravel())), shape=(n, n))
    if normalization == "sym":
        graph = symmetric_normalize(graph)
    elif normalization == "rw":
        degree = np.asarray(graph.sum(axis=1)).ravel()
        graph = sp.diags(np.where(degree > 0, 1.0 / np.where(degree > 0, degree, 1.0), 0.0)) @ graph
    return to_torch_sparse(graph, features.device)
