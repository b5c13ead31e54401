"""SGL: self-supervised graph learning with node / edge dropout views, redrawn every epoch.

Reference: J. Wu, X. Wang, F. Feng, X. He, L. Chen, J. Lian, X. Xie. "Self-supervised Graph
Learning for Recommendation", SIGIR 2021.
Reference code read: RUCAIBox/RecBole @7b02be5, recbole/model/general_recommender/sgl.py and
recbole/properties/model/SGL.yaml (the implementation named first in baselines.md); SELFRec
(Coder-Yu/SELFRec @5b02294, model/graph/SGL.py) read for comparison.

Equations as coded (LightGCN encoder, A(G) = D^-1/2 [[0, R_G], [R_G^T, 0]] D^-1/2 of a graph G):
    E(G) = 1/(L+1) sum_{k=0..L} A(G)^k E^(0)            (layer 0 included)
    views, redrawn at the start of every epoch (RecBole's `train()` hook), two independent draws:
      ED: keep floor(|R| (1 - rho)) interactions drawn uniformly without replacement, renormalise;
      ND: remove floor(rho |U|) users and floor(rho |I|) items with all their interactions;
      RW: ED drawn independently for every layer.
    loss = BPR(E(G)) + reg * (||e0_u|| + ||e0_i+|| + ||e0_i-||) / B^2
         + ssl_weight * (InfoNCE(E'(users), E''(users)) + InfoNCE(E'(items), E''(items)))
InfoNCE: cosine / tau over the batch's users (positive items), duplicates counted, denominator
over ALL users (items) of the second view: models/contrastive.py `info_nce`, the paper's eq. 10.

Known deviations: RecBole sums BPR and the InfoNCE terms over the batch; we take means, i.e. the
whole objective divided by the batch size B (so the regulariser, RecBole's EmbLoss = sum of
unsquared norms / B, is divided once more). With Adam a constant scale of the loss changes nothing
but the effect of its epsilon. Subgraphs are drawn from torch's generator (RecBole: numpy), so
resumed runs redraw the same views.

Decisions: SELFRec's SGL differs (2 layers, tau 0.2, lambda 0.1, one InfoNCE over the batch's
users and items together, batch-local denominator); we follow RecBole, the paper's eq. 10.
`contrastive_bf16` (ours, `cpu` by default): the InfoNCE products in bfloat16 on CPU, a speed
switch checked against float32 (benchmarks/README.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import info_nce
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss, embedding_norms
from mmdiffbench.models.phase import Phase
from mmdiffbench.precision import check_mode, compute_dtype

AUGMENTATIONS = ("ED", "ND", "RW")


class SGL(GraphRecommender):
    #: the two views of the current epoch: one operator per layer each
    views: tuple[list[SparseOperator], list[SparseOperator]] | None = None

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        if config["augmentation"] not in AUGMENTATIONS:
            raise ValueError(f"augmentation must be one of {AUGMENTATIONS}, got {config['augmentation']!r}")
        check_mode("contrastive_bf16", config["contrastive_bf16"])
        dim = int(config["embedding_dim"])
        self.n_layers = int(config["n_layers"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)
        coo = sp.coo_matrix(dataset.train)
        self._rows, self._cols = coo.row.astype(np.int64), coo.col.astype(np.int64)

    def phases(self) -> list[Phase]:
        """The default BPR phase, with both views redrawn before each epoch's first step."""
        return [Phase("recommender", list(self.parameters()), "bpr", self._bpr_loss_parts, before=self.draw_views)]

    def draw_views(self) -> None:
        self.views = (self._draw_view(), self._draw_view())

    def _draw_view(self) -> list[SparseOperator]:
        if self.config["augmentation"] == "RW":
            return [self._subgraph() for _ in range(self.n_layers)]
        return [self._subgraph()] * self.n_layers

    def _subgraph(self) -> SparseOperator:
        """The normalised adjacency of one random subgraph of the training graph."""
        rho = float(self.config["drop_ratio"])
        if self.config["augmentation"] == "ND":
            dropped_users = torch.randperm(self.n_users)[: int(self.n_users * rho)].numpy()
            dropped_items = torch.randperm(self.n_items)[: int(self.n_items * rho)].numpy()
            keep = ~np.isin(self._rows, dropped_users) & ~np.isin(self._cols, dropped_items)
        else:
            keep = torch.randperm(len(self._rows))[: int(len(self._rows) * (1 - rho))].numpy()
        rows, cols = self._rows[keep], self._cols[keep]
        sub = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(self.n_users, self.n_items))
        return SparseOperator(normalized_adjacency(sub, device=self.adj.device), symmetric=True)

    def encode(self, graphs: list[SparseOperator]) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer mean over 0..L with layer k propagated over graphs[k]."""
        x = torch.cat([self.user_embedding, self.item_embedding])
        total = x
        for graph in graphs:
            x = graph @ x
            total = total + x
        out = total / (len(graphs) + 1)
        return out[: self.n_users], out[self.n_users :]

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode([self.adj_op] * self.n_layers)

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        if self.views is None:
            self.draw_views()
        assert self.views is not None
        users, items = self.final_embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        users1, items1 = self.encode(self.views[0])
        users2, items2 = self.encode(self.views[1])
        tau = float(self.config["tau"])
        dtype = compute_dtype(self.config["contrastive_bf16"], users1.device)
        ssl = info_nce(users1, users2, batch.users, tau, dtype) + info_nce(items1, items2, batch.pos, tau, dtype)
        size = len(batch.users)
        reg = embedding_norms(
            size, self.user_embedding[batch.users], self.item_embedding[batch.pos], self.item_embedding[batch.neg]
        )
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * reg / size,
            "ssl": self.config["ssl_weight"] * ssl,
        }
