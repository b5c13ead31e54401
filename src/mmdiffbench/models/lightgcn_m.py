"""LightGCN-M: LightGCN whose item nodes are projected multimodal features instead of item IDs.

No authors' code exists (DiffMM Table 1 takes its numbers from MMSSL's README). Reference code
read: sisinflab/Formal-MultiMod-Rec @60e2730 external/models/lightgcn_m/{LightGCNM.py,
LightGCNMModel.py} (Elliot; torch_geometric LGConv).

    P_m = Norm(W_m f_m + b_m)                   (per modality: Linear, then row L2 normalisation)
    E_i^(0) = mean_m P_m  (aggregation mean | sum) or Norm(W [f_1 .. f_M] + b)  (concat)
    E^(0) = [E_u; E_i^(0)],  E^(k+1) = D^-1/2 A D^-1/2 E^(k)   (LGConv normalize=True: no self-loops)
    E = 1/(K+1) sum_k E^(k),  s_ui = <e_u, e_i>
    loss = BPR + l_w * 1/2 (||E_u^(0) batch||^2 + ||E_i pos||^2 + ||E_i neg||^2) / batch
The features themselves are trained (reference: `Embedding.from_pretrained(freeze=False)`);
`train_features: false` freezes them. Items have no ID embedding.

Known deviations: none in the equations (the reference's softplus(s_neg - s_pos) is BPR). The
reg term is on the *propagated* item vectors and the *layer-0* user vectors, as in the reference.

Decisions: the Linear layers keep PyTorch's default init, as the reference (it re-initialises
only the user table, Xavier-uniform).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.lightgcn import propagate_mean
from mmdiffbench.models.losses import bpr_loss, embedding_l2
from mmdiffbench.models.modal import ModalityFeatures

AGGREGATIONS = ("mean", "sum", "concat")


class LightGCNM(GraphRecommender):
    requires_features = True

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        self.aggregation = config["aggregation"]
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        dim = int(config["embedding_dim"])
        self.n_layers = int(config["n_layers"])
        self.features = ModalityFeatures(dataset, trainable=bool(config["train_features"]))
        self.user_embedding = id_embedding(self.n_users, dim)
        names = self.features.names
        if self.aggregation == "concat":
            self.proj = nn.ModuleDict({"concat": nn.Linear(sum(self.features.dim(m) for m in names), dim)})
        else:
            self.proj = nn.ModuleDict({m: nn.Linear(self.features.dim(m), dim) for m in names})
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)

    def item_inputs(self) -> torch.Tensor:
        """E_i^(0): the items' layer-0 vectors, built from their features alone."""
        if self.aggregation == "concat":
            return F.normalize(self.proj["concat"](self.features.concatenated()), dim=1)
        projected = torch.stack([F.normalize(self.proj[m](self.features[m]), dim=1) for m in self.features.names])
        return projected.mean(0) if self.aggregation == "mean" else projected.sum(0)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        ego = torch.cat([self.user_embedding, self.item_inputs()])
        out = propagate_mean(self.adj_op, ego, self.n_layers)
        return out[: self.n_users], out[self.n_users :]

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        users, items = self.final_embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        reg = embedding_l2(len(batch.users), self.user_embedding[batch.users], p, n)
        return {"bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)), "reg": self.config["reg_weight"] * reg}
