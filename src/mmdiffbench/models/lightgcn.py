"""LightGCN: linear propagation on the normalised user-item graph, layer-mean readout.

Reference: X. He, K. Deng, X. Wang, Y. Li, Y. Zhang, M. Wang. "LightGCN: Simplifying and
Powering Graph Convolution Network for Recommendation", SIGIR 2020.
Reference code: github.com/gusye1234/LightGCN-PyTorch.

E^(k+1) = D^-1/2 A D^-1/2 E^(k)          (eq. 7; no self-loops, no transform, no nonlinearity)
E = 1/(K+1) sum_k E^(k)                  (eq. 8; alpha_k = 1/(K+1))
s_ui = <e_u, e_i>                         (eq. 9)
loss = BPR + reg * 1/2 ||E^(0) of the batch||^2 / batch   (eq. 15, as in the official code)
"""

from __future__ import annotations

from typing import Any

import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, normalized_adjacency, propagate_sum
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss, embedding_l2


def propagate_mean(adj: SparseOperator, ego: torch.Tensor, n_layers: int) -> torch.Tensor:
    """Mean of E^(0..L) with E^(k+1) = adj @ E^(k)."""
    return propagate_sum(adj, ego, n_layers) / (n_layers + 1)


class LightGCN(GraphRecommender):
    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim = int(config["embedding_dim"])
        self.n_layers = int(config["n_layers"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        ego = torch.cat([self.user_embedding, self.item_embedding])
        out = propagate_mean(self.adj_op, ego, self.n_layers)
        return out[: self.n_users], out[self.n_users :]

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        users, items = self.final_embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        reg = embedding_l2(
            len(batch.users),
            self.user_embedding[batch.users],
            self.item_embedding[batch.pos],
            self.item_embedding[batch.neg],
        )
        return {"bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)), "reg": self.config["reg_weight"] * reg}
