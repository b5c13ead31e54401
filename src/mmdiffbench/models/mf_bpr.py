"""MF-BPR: matrix factorisation trained with the BPR loss.

Reference: S. Rendle, C. Freudenthaler, Z. Gantner, L. Schmidt-Thieme. "BPR: Bayesian
Personalized Ranking from Implicit Feedback", UAI 2009.
Score s_ui = <e_u, e_i>; loss = BPR + reg * 1/2 ||batch embeddings||^2 / batch (section 4).
Xavier-uniform init and d = 64 as in the DiffMM paper's shared baseline setting (A.3).
"""

from __future__ import annotations

from typing import Any

import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.models.base import BPRBatch, EmbeddingRecommender
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss, embedding_l2


class MFBPR(EmbeddingRecommender):
    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim = int(config["embedding_dim"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_embedding, self.item_embedding

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        u = self.user_embedding[batch.users]
        p = self.item_embedding[batch.pos]
        n = self.item_embedding[batch.neg]
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * embedding_l2(len(batch.users), u, p, n),
        }
