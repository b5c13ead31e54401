"""VBPR: matrix factorisation whose item factors include a linear map of the item's content.

Reference: R. He, J. McAuley. "VBPR: Visual Bayesian Personalized Ranking from Implicit
Feedback", AAAI 2016. Reference code read: enoche/MMRec @a75d89a src/models/vbpr.py and
src/configs/model/VBPR.yaml (the version the papers' baselines run; DiffMM, DiffCL, LD4MRec).

    f_i = concat over modalities of the raw features (MMRec: cat(text, image))
    e_i = [gamma_i ; E f_i + b]            (item: d ID factors, d content factors)
    s_ui = theta_u^T e_i = gamma_u^T gamma_i + theta_u^T (E f_i + b)   (theta_u: 2d user factors)
    loss = BPR + reg * (||U_b|| + ||P_b|| + ||N_b||) / batch            (MMRec EmbLoss: Frobenius
           norms, not squared, of the batch's user and item vectors, content part included)

Known deviations: none in the equations. The paper's item bias beta_i and visual bias beta'^T f_i
are absent, as in MMRec (the bias terms cancel against nothing in the BPR difference except the
item's own, and the papers' baseline runs use MMRec's form).

Decisions: the modalities are concatenated in `dataset.modalities` order (MMRec: text then
image); the order only permutes E's columns. MMRec's `forward(dropout)` is always called with
dropout 0, so there is no dropout.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.models.base import BPRBatch, EmbeddingRecommender
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss
from mmdiffbench.models.modal import ModalityFeatures
from mmdiffbench.tensors import tensor_sum


def embedding_norms(batch_size: int, *tensors: torch.Tensor) -> torch.Tensor:
    """MMRec's EmbLoss: the sum of the tensors' Frobenius norms (not squared) over the batch size."""
    return tensor_sum(torch.linalg.norm(t) for t in tensors) / batch_size


class VBPR(EmbeddingRecommender):
    requires_features = True
    content_input: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim = int(config["embedding_dim"])
        # the frozen features side by side, built once (not every step); not persistent: rebuilt from the data, never saved
        self.register_buffer("content_input", ModalityFeatures(dataset).concatenated(), persistent=False)
        self.user_embedding = id_embedding(self.n_users, 2 * dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.content = nn.Linear(self.content_input.shape[1], dim)
        nn.init.xavier_normal_(self.content.weight)  # MMRec: xavier_normal_initialization, bias 0
        nn.init.zeros_(self.content.bias)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        items = torch.cat([self.item_embedding, self.content(self.content_input)], dim=1)
        return self.user_embedding, items

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        users, items = self.final_embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * embedding_norms(len(batch.users), u, p, n),
        }
