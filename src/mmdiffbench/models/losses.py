"""Loss terms shared by the models (one definition each, so every model means the same)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmdiffbench.tensors import tensor_sum


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """BPR (Rendle et al. 2009): mean over the batch of -log sigmoid(s_ui - s_uj)."""
    return -F.logsigmoid(pos_scores - neg_scores).mean()


def embedding_l2(batch_size: int, *tensors: torch.Tensor) -> torch.Tensor:
    """1/2 sum of squared L2 norms of the batch's embedding rows, divided by the batch size
    (LightGCN paper eq. 15 as in its official code)."""
    return tensor_sum(t.pow(2).sum() for t in tensors) / (2.0 * batch_size)


def embedding_norms(batch_size: int, *tensors: torch.Tensor) -> torch.Tensor:
    """Sum of the (unsquared) Frobenius norms of the batch's embedding rows, divided by the batch
    size: RecBole's `EmbLoss` (require_pow=False) and SELFRec's `l2_reg_loss`."""
    return tensor_sum(torch.linalg.vector_norm(t) for t in tensors) / batch_size
