"""NGCF: neural graph collaborative filtering with bi-interaction message passing.

Reference: X. Wang, X. He, M. Wang, F. Feng, T.-S. Chua. "Neural Graph Collaborative Filtering",
SIGIR 2019.
Reference code read: RUCAIBox/RecBole @7b02be5, recbole/model/general_recommender/ngcf.py,
recbole/model/layers.py (BiGNNLayer, SparseDropout), recbole/model/loss.py (BPRLoss, EmbLoss),
recbole/properties/model/NGCF.yaml.

Equations as coded (L = D^-1/2 [[0, R], [R^T, 0]] D^-1/2, no self-loops):
    E^(k+1) = normalize_rows( dropout( LeakyReLU_0.2( W1 (L + I) E^(k) + b1 + W2 (L E^(k) ⊙ E^(k)) + b2 ) ) )
                                                  (eq. 7 in matrix form; dropout = message dropout)
    e = E^(0) || E^(1) || ... || E^(K)           (concatenation, eq. 9)
    loss = BPR(e) + reg * (||e_u|| + ||e_i+|| + ||e_i-||) / B   (unsquared norms of the batch's
                                                  FINAL rows, RecBole's EmbLoss)
Node dropout (off by default, as in RecBole) drops entries of L independently in training,
survivors scaled by 1 / (1 - p).

Known deviations: ID tables use the project's Xavier-uniform `id_embedding` (RecBole applies
Xavier-normal to them); the linear layers keep RecBole's Xavier-normal weights and zero biases.
BPR is -log sigmoid where RecBole adds 1e-10 inside the log.

Decisions: none beyond the reference code.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, drop_edges, normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss, embedding_norms


class BiInteractionLayer(nn.Module):
    """W1 (L + I) E + W2 (L E ⊙ E), both with biases: sum and element-wise product messages."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.sum_transform = nn.Linear(in_dim, out_dim)
        self.product_transform = nn.Linear(in_dim, out_dim)
        for layer in (self.sum_transform, self.product_transform):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, adj: SparseOperator, x: torch.Tensor) -> torch.Tensor:
        neighbours = adj @ x
        return self.sum_transform(x + neighbours) + self.product_transform(neighbours * x)


class NGCF(GraphRecommender):
    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dims = [int(config["embedding_dim"]), *(int(d) for d in config["hidden_dims"])]
        self.user_embedding = id_embedding(self.n_users, dims[0])
        self.item_embedding = id_embedding(self.n_items, dims[0])
        self.layers = nn.ModuleList(BiInteractionLayer(a, b) for a, b in itertools.pairwise(dims))
        self.message_dropout = nn.Dropout(float(config["message_dropout"]))
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)

    def _graph(self) -> SparseOperator:
        """L, with node dropout on its entries in training."""
        rate = float(self.config["node_dropout"])
        if not self.training or rate == 0.0:
            return self.adj_op
        return SparseOperator(drop_edges(self.adj, 1.0 - rate), symmetric=False)

    def layer_outputs(self) -> list[torch.Tensor]:
        """E^(0), ..., E^(K) over all nodes (users first), each (users + items) x d_k."""
        adj = self._graph()
        x = torch.cat([self.user_embedding, self.item_embedding])
        layers = [x]
        for layer in self.layers:
            x = F.normalize(self.message_dropout(F.leaky_relu(layer(adj, x), 0.2)), dim=1)
            layers.append(x)
        return layers

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.cat(self.layer_outputs(), dim=1)
        return out[: self.n_users], out[self.n_users :]

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        """The batch's rows gathered from each layer before the concatenation: the same rows as
        slicing `final_embeddings`, without a (nodes x sum d_k) concatenation and its backward."""
        nodes = torch.cat([batch.users, self.n_users + batch.pos, self.n_users + batch.neg])
        rows = torch.cat([x[nodes] for x in self.layer_outputs()], dim=1)
        u, p, n = rows.split(len(batch.users))
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * embedding_norms(len(batch.users), u, p, n),
        }
