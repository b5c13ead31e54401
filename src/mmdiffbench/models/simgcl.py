"""SimGCL: graph contrastive learning with uniform noise instead of graph augmentations.

Reference: J. Yu, H. Yin, X. Xia, T. Chen, L. Cui, Q. V. H. Nguyen. "Are Graph Augmentations
Necessary? Simple Graph Contrastive Learning for Recommendation", SIGIR 2022.
Reference code read: Coder-Yu/SELFRec @5b02294, model/graph/SimGCL.py (PyTorch version),
util/loss_torch.py, conf/SimGCL.yaml.

Equations as coded (A = D^-1/2 R~ D^-1/2 of the user-item graph, no self-loops):
    E^(k+1) = A E^(k)                                  (main view)
    E'^(k+1) = A E'^(k) + eps * sign(A E'^(k)) * normalize(U(0,1)^d)   (each perturbed view, fresh noise
                                                         per layer and per view; the noise is added to
                                                         the propagated layer and carried to the next)
    E = 1/L sum_{k=1..L} E^(k)                         (layer 0 excluded, as in the reference)
    loss = BPR(E) + reg * (||e_u|| + ||e_i+||) / B     (unsquared norms of the batch's FINAL user and
                                                         positive-item rows, SELFRec's l2_reg_loss)
         + lambda * (InfoNCE_batch(E'_users, E''_users) + InfoNCE_batch(E'_items, E''_items))
InfoNCE_batch: cosine / tau, denominator over the batch's distinct users (distinct positive items),
models/contrastive.py `in_batch_info_nce`; tau = 0.2, hard-coded in the reference.

Known deviations: BPR is -log sigmoid (logsigmoid) where SELFRec adds 1e-5 inside the log.

Decisions: none beyond the reference code; the noise is drawn from torch's global generator, so
resumed runs draw the same noise (the trainer restores the RNG state).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import in_batch_info_nce
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.losses import bpr_loss, embedding_norms


def uniform_noise(x: torch.Tensor, eps: float) -> torch.Tensor:
    """eps * sign(x) * (row-normalised U(0,1) noise): a random direction in x's hyperoctant."""
    return torch.sign(x) * F.normalize(torch.rand_like(x), dim=-1) * eps


class SimGCL(GraphRecommender):
    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim = int(config["embedding_dim"])
        self.n_layers = int(config["n_layers"])
        self.eps = float(config["eps"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)

    def encode(self, perturbed: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean of layers 1..L; with `perturbed`, uniform noise is added after every propagation."""
        x = torch.cat([self.user_embedding, self.item_embedding])
        total = torch.zeros_like(x)
        for _ in range(self.n_layers):
            x = self.adj_op @ x
            if perturbed:
                x = x + uniform_noise(x, self.eps)
            total = total + x
        out = total / self.n_layers
        return out[: self.n_users], out[self.n_users :]

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(perturbed=False)

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        users, items = self.final_embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        users1, items1 = self.encode(perturbed=True)
        users2, items2 = self.encode(perturbed=True)
        tau = float(self.config["tau"])
        contrast = in_batch_info_nce(users1, users2, batch.users, tau) + in_batch_info_nce(
            items1, items2, batch.pos, tau
        )
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * embedding_norms(len(batch.users), u, p),
            "cl": self.config["cl_weight"] * contrast,
        }
