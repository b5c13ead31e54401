"""FREEDOM: a frozen item-item graph and degree-sensitive pruning of the user-item graph.

Reference: X. Zhou, Z. Shen. "A Tale of Two Graphs: Freezing and Denoising Graph Structures for
Multimodal Recommendation", ACM MM 2023. Reference implementation read: enoche/MMRec @a75d89a,
src/models/freedom.py and src/configs/model/FREEDOM.yaml.

As coded (modalities m = dataset.modalities; E the ID tables; f_m the trainable feature tables):
    S = sum_m w_m S_m,  S_m = D^-1/2 kNN_k(f_m) D^-1/2 (binary, built once from the raw
        features and frozen); w_image = image_weight, the other modalities share 1 - w_image
    h = S^{L_mm} E_items
    pruning, once per epoch: draw int((1 - p) |E|) user-item edges without replacement with
        probability proportional to 1 / sqrt(d_u d_i) (degrees of the full training graph), then
        normalise the kept edges by their own degrees, 1 / sqrt(d'_u d'_i), in both directions
    [U; I] = mean_{l=0..L} A^l [E_u; E_i]  (A the pruned graph in training, the full
        D^-1/2 A D^-1/2 in evaluation);  items: I + h
    loss = BPR(U, I + h) + reg * sum_m BPR(U, W_m f_m + b_m)   (the modality BPR terms score
        each modality's projected features against the same propagated users)

Known deviations: an item is never its own kNN neighbour here (`graph.knn`); the reference's
dense top-k usually picks the item itself as one of its k. Degrees carry no 1e-7 epsilon: every
kNN row has k entries and every kept edge has two endpoints of degree >= 1, so none is zero.

Decisions: the paper names two modalities (visual, textual); with any other set of modalities
`image` keeps `image_weight` and the others share the rest equally (models/item_graphs.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.item_graphs import (
    ModalityProjections,
    feature_tables,
    image_weighted,
    kept_edges_operator,
    mix_graphs,
    modality_knn_graphs,
)
from mmdiffbench.models.lightgcn import propagate_mean
from mmdiffbench.models.losses import bpr_loss
from mmdiffbench.models.phase import Phase
from mmdiffbench.tensors import tensor_sum


class Freedom(GraphRecommender):
    requires_features = True
    item_graph: torch.Tensor
    edge_users: torch.Tensor
    edge_items: torch.Tensor
    edge_weights: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        c = self.config
        if not 0.0 <= c["dropout"] < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {c['dropout']}")
        dim = int(c["embedding_dim"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        features = feature_tables(dataset)
        self.projections = ModalityProjections(features, dim, trainable_features=True)
        graphs = modality_knn_graphs(features, int(c["knn_k"]), "binary", "sym")
        mixed = mix_graphs(graphs, image_weighted(list(features), float(c["image_weight"])))
        self.register_buffer("item_graph", mixed, persistent=False)
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)
        train = sp.coo_matrix(sp.csr_matrix(dataset.train, dtype=np.float32))  # row-major edge order
        self.register_buffer("edge_users", torch.from_numpy(train.row.astype(np.int64)), persistent=False)
        self.register_buffer("edge_items", torch.from_numpy(train.col.astype(np.int64)), persistent=False)
        self.register_buffer("edge_weights", self._edge_norm(self.edge_users, self.edge_items), persistent=False)
        self._item_op: SparseOperator | None = None
        self._pruned_op: SparseOperator | None = None

    def phases(self) -> list[Phase]:
        return [Phase("recommender", list(self.parameters()), "bpr", self._bpr_loss_parts, before=self.prune_edges)]

    def _edge_norm(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """1 / sqrt(d_u d_i) of each edge: the pruning's sampling weights (full-graph degrees)."""
        d_u = torch.bincount(users, minlength=self.n_users).float()
        d_i = torch.bincount(items, minlength=self.n_items).float()
        return (d_u[users] * d_i[items]).rsqrt()

    def prune_edges(self) -> None:
        """Degree-sensitive edge pruning: the training graph of the coming epoch."""
        keep = int(len(self.edge_weights) * (1.0 - self.config["dropout"]))
        chosen = torch.multinomial(self.edge_weights, keep) if keep < len(self.edge_weights) else None
        users = self.edge_users if chosen is None else self.edge_users[chosen]
        items = self.edge_items if chosen is None else self.edge_items[chosen]
        self._pruned_op = kept_edges_operator(users, items, self.n_users, self.n_items)

    @property
    def item_op(self) -> SparseOperator:
        if self._item_op is None or self._item_op.csr.device != self.item_graph.device:
            self._item_op = SparseOperator(self.item_graph)
        return self._item_op

    def propagate(self, adj: SparseOperator) -> tuple[torch.Tensor, torch.Tensor]:
        h: torch.Tensor = self.item_embedding
        for _ in range(int(self.config["n_mm_layers"])):
            h = self.item_op @ h
        ego = torch.cat([self.user_embedding, self.item_embedding])
        out = propagate_mean(adj, ego, int(self.config["n_ui_layers"]))
        return out[: self.n_users], out[self.n_users :] + h

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate(self.adj_op)

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        if self._pruned_op is None or self._pruned_op.csr.device != self.adj.device:
            self.prune_edges()
        assert self._pruned_op is not None
        users, items = self.propagate(self._pruned_op)
        u = users[batch.users]
        terms = {"bpr": bpr_loss((u * items[batch.pos]).sum(-1), (u * items[batch.neg]).sum(-1))}
        projected = self.projections()
        modal = tensor_sum(bpr_loss((u * f[batch.pos]).sum(-1), (u * f[batch.neg]).sum(-1)) for f in projected.values())
        terms["modal_bpr"] = self.config["reg_weight"] * modal
        return terms
