"""HCCF: hypergraph contrastive collaborative filtering (local graph view vs global hypergraph view).

Reference: L. Xia, C. Huang, Y. Xu, J. Zhao, D. Yin, J. X. Huang. "Hypergraph Contrastive
Collaborative Filtering", SIGIR 2022.
Reference code read: akaxlh/HCCF @44fd819, torchVersion/Model.py, torchVersion/Main.py,
torchVersion/Params.py, torchVersion/Utils/Utils.py, torchVersion/DataHandler.py (makeTorchAdj).

Equations as coded (A = D^-1/2 [[0, R], [R^T, 0]] D^-1/2, no self-loops; E^(0) = [E_u; E_i]):
    H_u = E_u W_u (users x H),  H_i = E_i W_i (items x H)      (learnable hyperedge assignments)
    for l = 1..L, with keep rate p (training; 1 in evaluation):
        G^(l) = drop_p(A) E^(l-1)                               (local view; entries kept with
                                                                 probability p, scaled by 1/p)
        Z^(l) = [ H'_u H'_u^T E_u^(l-1) ; H'_i H'_i^T E_i^(l-1) ]  (hypergraph view, H' = dropout_{1-p}(H),
                                                                 one mask per layer shared by both products)
        E^(l) = G^(l) + Z^(l)
    e = sum_{l=0..L} E^(l)                                      (sum, not mean)
    loss = BPR(e) + reg * sum_{all parameters W} ||W||^2
         + ssl_reg * sum_l [ InfoNCE_batch(stopgrad(G^(l))_users, Z^(l)_users)
                             + InfoNCE_batch(stopgrad(G^(l))_items, Z^(l)_items) ]
InfoNCE_batch: cosine / tau, anchors from the local view, denominator over the batch's distinct
users (distinct positive items) only: models/contrastive.py `in_batch_info_nce` (HCCF's contrastLoss).
The GCN and HGNN layers are linear: the reference defines LeakyReLU activations but does not apply them.

Known deviations: the reference adds 1e-8 to the embeddings before normalising and to the InfoNCE
denominator; we do not. Its BPR is -log(sigmoid(.)) (logsigmoid here: the same up to rounding).

Decisions: none beyond the reference code; edge and hyperedge dropout draw from torch's generator.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, drop_edges, normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import in_batch_info_nce
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss
from mmdiffbench.tensors import tensor_sum


def hypergraph_propagate(assignment: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """H (H^T X): nodes -> hyperedges -> nodes, never forming the nodes x nodes product H H^T."""
    return assignment @ (assignment.T @ x)


class HCCF(GraphRecommender):
    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim, hyperedges = int(config["embedding_dim"]), int(config["hyperedges"])
        self.n_layers = int(config["n_layers"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.user_hyper = id_embedding(dim, hyperedges)  # Xavier-uniform, as the reference's uHyper / iHyper
        self.item_hyper = id_embedding(dim, hyperedges)
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)

    def views(self) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """(sum of E^(0..L), local views G^(1..L), hypergraph views Z^(1..L))."""
        keep = float(self.config["keep_rate"]) if self.training else 1.0
        user_assign = self.user_embedding @ self.user_hyper
        item_assign = self.item_embedding @ self.item_hyper
        layers = [torch.cat([self.user_embedding, self.item_embedding])]
        local, hyper = [], []
        for _ in range(self.n_layers):
            previous = layers[-1]
            graph = self.adj_op if keep == 1.0 else SparseOperator(drop_edges(self.adj, keep))
            local.append(graph @ previous)
            hyper_users = hypergraph_propagate(F.dropout(user_assign, 1.0 - keep), previous[: self.n_users])
            hyper_items = hypergraph_propagate(F.dropout(item_assign, 1.0 - keep), previous[self.n_users :])
            hyper.append(torch.cat([hyper_users, hyper_items]))
            layers.append(local[-1] + hyper[-1])
        return tensor_sum(layers), local, hyper

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.views()[0]
        return out[: self.n_users], out[self.n_users :]

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        out, local, hyper = self.views()
        nu, tau = self.n_users, float(self.config["tau"])
        u, p, n = out[batch.users], out[nu + batch.pos], out[nu + batch.neg]
        contrast = tensor_sum(
            in_batch_info_nce(g[:nu].detach(), z[:nu], batch.users, tau)
            + in_batch_info_nce(g[nu:].detach(), z[nu:], batch.pos, tau)
            for g, z in zip(local, hyper, strict=True)
        )
        reg = tensor_sum(w.pow(2).sum() for w in self.parameters())
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * reg,
            "ssl": self.config["ssl_weight"] * contrast,
        }
