"""Pieces the multimodal baselines share: per-modality item features and bipartite edge lists.

Modalities are data: every model loops over `dataset.modalities` (sorted names), so TikTok's
image/text/audio and Baby's image/text need no code of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph.operator import SparseOperator

T = TypeVar("T")


class ModalityFeatures(nn.Module):
    """The dataset's item feature matrices, one per modality, as float32 tensors.

    Frozen features are non-persistent buffers (the data, not the model, owns them); trainable
    ones (LightGCN-M fine-tunes its inputs) are parameters and so part of the checkpoint.
    """

    def __init__(self, dataset: InteractionDataset, trainable: bool = False) -> None:
        super().__init__()
        self.names = list(dataset.modalities)
        self.trainable = trainable
        self.tables = nn.ParameterDict()
        for m in self.names:
            array = np.asarray(dataset.features[m], dtype=np.float32)
            if trainable:
                self.tables[m] = nn.Parameter(torch.from_numpy(array.copy()))
            else:  # never written: the dataset's own float32 array where it is one (no second copy)
                table = torch.from_numpy(array if array.flags.writeable else array.copy())
                self.register_buffer(f"feat_{m}", table, persistent=False)

    def __getitem__(self, m: str) -> torch.Tensor:
        return self.tables[m] if self.trainable else getattr(self, f"feat_{m}")

    def dim(self, m: str) -> int:
        return int(self[m].shape[1])

    def concatenated(self, l2_normalized: bool = False) -> torch.Tensor:
        """items x sum(dims): the modalities side by side, in `names` order, each row of each
        modality L2-normalised first when `l2_normalized`. Built anew at each call: a model whose
        features are frozen keeps the result as a buffer instead of rebuilding it every step (on
        Sports' shapes a 376 MB copy, the slowest part of CLCRec's step)."""
        return torch.cat([F.normalize(self[m], dim=1) if l2_normalized else self[m] for m in self.names], dim=1)


def bipartite_edges(interactions: sp.spmatrix) -> tuple[torch.Tensor, torch.Tensor]:
    """(source, target) node ids of every training edge in both directions, items offset by the
    user count: user->item edges first, then the same edges item->user (torch_geometric's
    `cat(edge_index, edge_index[[1, 0]])` layout that MMGCN, GRCN and DualGNN build)."""
    coo = sp.coo_matrix(interactions)
    users = torch.from_numpy(coo.row.astype(np.int64))
    items = torch.from_numpy(coo.col.astype(np.int64)) + interactions.shape[0]
    return torch.cat([users, items]), torch.cat([items, users])


def operator_of(module: nn.Module, buffer: str, symmetric: bool = False) -> SparseOperator:
    """The SparseOperator of the sparse buffer `buffer` of `module`, built once per device.

    GraphRecommender's `adj_op` for graphs other than one symmetric `adj` (MMGCN's mean
    aggregation D^-1 A is not symmetric); the cache lives on the module, outside its state.
    """
    matrix = getattr(module, buffer)
    cache: dict[str, SparseOperator] = module.__dict__.setdefault("_operators", {})
    op = cache.get(buffer)
    if op is None or op.csr.device != matrix.device:
        op = cache[buffer] = SparseOperator(matrix, symmetric=symmetric)
    return op


def pair_rows_l2(
    ids: torch.Tensor, n_users: int, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor
) -> torch.Tensor:
    """MMGCN's and GRCN's ID regularisation (weiyinwei/MMGCN, weiyinwei/GRCN): the mean over the
    2B (user, item) rows of (E_u^2 + E_i^2) of a users-then-items table, each user row counted twice."""
    ids_u = ids[users]
    ids_i = ids[n_users + torch.stack([pos, neg])]
    return (2 * ids_u.pow(2).sum() + ids_i.pow(2).sum()) / (2 * ids_u.numel())


def recomputed(enabled: bool, function: Callable[..., T], *args: object) -> T:
    """function(*args); when `enabled` and autograd records, its intermediate tensors are not held
    but rebuilt by running it again in the backward pass (torch.utils.checkpoint, which replays
    the random stream too): the same numbers for less memory and one more forward pass."""
    if enabled and torch.is_grad_enabled():
        out: T = checkpoint(function, *args, use_reentrant=False)
        return out
    return function(*args)
