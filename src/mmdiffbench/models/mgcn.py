"""MGCN: behaviour-purified modality views on item-item graphs, an attentive fuser, and InfoNCE
between the fused modality view and the user-item view.

Reference: P. Yu, Z. Tan, G. Lu, B.-K. Bao. "Multi-View Graph Convolutional Network for
Multimedia Recommendation", ACM MM 2023. Reference implementation read: enoche/MMRec @a5b713d,
src/models/mgcn.py, src/configs/model/MGCN.yaml, src/utils/utils.py (build_knn_normalized_graph);
authors' code demonph10/MGCN.

As coded (modalities m = dataset.modalities, M of them; f_m trainable feature tables; E the ID
tables; R~ the user-item block of D^-1/2 A D^-1/2):
    p_m = W_m f_m + b_m
    x_m = E_i * sigmoid(G_m p_m + c_m)                       (behaviour-guided purifier)
    C = mean_{l=0..L} A^l [E_u; E_i]  (A = D^-1/2 A D^-1/2)  (user-item view)
    x_m <- S_m^{L_item} x_m,  S_m = D^-1/2 kNN_k(cos(f_m)) D^-1/2 (similarity weights, from the
        raw features once);  V_m = [R~ x_m; x_m]              (item-item view, users from items)
    a_m = q(V_m) = w^T tanh(Q V_m + q0);  beta = softmax_m(a_m)   (per node)
    common = sum_m beta_m V_m;  spec_m = sigmoid(P_m C + p0_m) * (V_m - common)
    side = (common + sum_m spec_m) / (M + 1)
    [U; I] = C + side
    loss = BPR(U, I) + reg * 1/2 (||u||^2 + ||i+||^2 + ||i-||^2) / batch
           + cl * (InfoNCE(side_i, C_i) over the positives + InfoNCE(side_u, C_u) over the users)
    InfoNCE in-batch, cosine, temperature 0.2 (models/contrastive.paired_info_nce)

Known deviations: the kNN never picks the item itself (`graph.knn`), where the reference's
dense top-k includes it. Not a deviation: MMRec's learning-rate decay (x0.96 every 50 epochs)
is the trainer's `lr_decay` / `lr_decay_step` (mgcn.yaml).

Decisions: with M modalities the fuser's softmax runs over M scores and the side view divides
by M + 1 (the reference's 3 for image + text).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import (
    SparseOperator,
    bipartite_adjacency,
    normalized_adjacency,
    symmetric_normalize,
    to_torch_sparse,
)
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import paired_info_nce
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.item_graphs import ModalityProjections, feature_tables, modality_knn_graphs
from mmdiffbench.models.lightgcn import propagate_mean
from mmdiffbench.models.losses import bpr_loss, embedding_l2
from mmdiffbench.tensors import tensor_sum


def gate(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.Sigmoid())


class MGCN(GraphRecommender):
    requires_features = True
    user_item: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim = int(self.config["embedding_dim"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        features = feature_tables(dataset)
        self.modalities = list(features)
        self.projections = ModalityProjections(features, dim, trainable_features=True)
        for m, graph in modality_knn_graphs(features, int(self.config["knn_k"]), "similarity", "sym").items():
            self.register_buffer(f"item_graph_{m}", graph, persistent=False)
        self.purifiers = nn.ModuleDict({m: gate(dim) for m in self.modalities})
        self.preferences = nn.ModuleDict({m: gate(dim) for m in self.modalities})
        self.query = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1, bias=False))
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)
        normalized = symmetric_normalize(bipartite_adjacency(dataset.train))
        self.register_buffer("user_item", to_torch_sparse(normalized[: self.n_users, self.n_users :]), persistent=False)
        self._ops: dict[str, SparseOperator] = {}

    def operator(self, name: str) -> SparseOperator:
        """The buffer `name` as a sparse operator, built once per device."""
        matrix = getattr(self, name)
        if name not in self._ops or self._ops[name].csr.device != matrix.device:
            self._ops[name] = SparseOperator(matrix)
        return self._ops[name]

    def views(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(content C, side) over all users then items."""
        content = propagate_mean(
            self.adj_op, torch.cat([self.user_embedding, self.item_embedding]), int(self.config["n_ui_layers"])
        )
        projected = self.projections()
        modal = []
        for m in self.modalities:
            x = self.item_embedding * self.purifiers[m](projected[m])
            for _ in range(int(self.config["n_layers"])):
                x = self.operator(f"item_graph_{m}") @ x
            modal.append(torch.cat([self.operator("user_item") @ x, x]))
        attention = torch.softmax(torch.cat([self.query(v) for v in modal], dim=1), dim=1)
        common = tensor_sum(attention[:, k : k + 1] * v for k, v in enumerate(modal))
        specific = [self.preferences[m](content) * (v - common) for m, v in zip(self.modalities, modal, strict=True)]
        side = (common + tensor_sum(specific)) / (len(modal) + 1)
        return content, side

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        content, side = self.views()
        out = content + side
        return out[: self.n_users], out[self.n_users :]

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        content, side = self.views()
        out = content + side
        users, items = out[: self.n_users], out[self.n_users :]
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        tau = float(self.config["cl_temperature"])
        item_rows = self.n_users + batch.pos
        cl = paired_info_nce(side[item_rows], content[item_rows], tau) + paired_info_nce(
            side[batch.users], content[batch.users], tau
        )
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * embedding_l2(len(batch.users), u, p, n),
            "cl": self.config["cl_weight"] * cl,
        }
