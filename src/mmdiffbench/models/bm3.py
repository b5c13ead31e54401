"""BM3: bootstrapped latent views, an online predictor against dropout targets, no negatives.

Reference: X. Zhou, H. Zhou, Y. Liu, Z. Zeng, C. Miao, P. Wang, Y. You, F. Jiang. "Bootstrap
Latent Representations for Multi-modal Recommendation", WWW 2023. Reference implementation
read: enoche/MMRec @a75d89a, src/models/bm3.py, src/configs/model/BM3.yaml, src/common/loss.py
(EmbLoss).

As coded (modalities m = dataset.modalities, f_m the trainable feature tables, E the ID tables):
    [U; I] = mean_{l=0..L} A^l [E_u; E_i]  (A = D^-1/2 A D^-1/2, no self-loops);  I <- I + E_i
    t_m = W_m f_m + b_m
    targets (no gradient): U~ = dropout_p(U), I~ = dropout_p(I), t~_m = dropout_p(t_m), drawn in
        this order, with the 1/(1-p) scaling of inverted dropout
    online: the predictor g (one Linear d -> d) on U, I, t_m
    for the batch's users u and positives i (its negatives are not used):
        L_rec = (1 - mean cos(g(U)_u, I~_i)) + (1 - mean cos(g(I)_i, U~_u))
        L_cl  = sum_m (1 - mean cos(g(t_m)_i, I~_i)) + (1 - mean cos(g(t_m)_i, t~_m,i))
        L_reg = (||U||_F + ||I||_F) / n_items    (MMRec's EmbLoss: norms, not squared, over the
                whole tables, divided by the row count of the last one)
    loss = L_rec + reg * L_reg + cl_weight * L_cl;  score(u, i) = <g(U)_u, g(I)_i>

Known deviations: none in the equations. The target network is the online one with dropout and
a stopped gradient, as in the reference code (the paper's "target encoder" shares its weights).

Decisions: with modalities other than image + text, every modality contributes its two L_cl
terms (the reference has one pair per modality it has).
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
from mmdiffbench.models.item_graphs import ModalityProjections, feature_tables
from mmdiffbench.models.lightgcn import propagate_mean
from mmdiffbench.tensors import tensor_sum


def cosine_gap(online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - mean cosine similarity of matching rows."""
    return 1.0 - F.cosine_similarity(online, target, dim=-1).mean()


class BM3(GraphRecommender):
    requires_features = True

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim = int(self.config["embedding_dim"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        self.predictor = nn.Linear(dim, dim)
        nn.init.xavier_normal_(self.predictor.weight)
        self.projections = ModalityProjections(feature_tables(dataset), dim, True, init="xavier_normal")
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)

    def encode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(U, I) before the predictor."""
        ego = torch.cat([self.user_embedding, self.item_embedding])
        out = propagate_mean(self.adj_op, ego, int(self.config["n_layers"]))
        return out[: self.n_users], out[self.n_users :] + self.item_embedding

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items = self.encode()
        return self.predictor(users), self.predictor(items)

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        p = float(self.config["dropout"])
        users, items = self.encode()
        modal = self.projections()
        with torch.no_grad():  # the targets: no gradient flows through them
            users_t, items_t = F.dropout(users, p), F.dropout(items, p)
            modal_t = {m: F.dropout(t, p) for m, t in modal.items()}
        u, i = batch.users, batch.pos
        item_target = items_t[i]
        rec = cosine_gap(self.predictor(users[u]), item_target) + cosine_gap(self.predictor(items[i]), users_t[u])
        cl = tensor_sum(
            cosine_gap(online, item_target) + cosine_gap(online, modal_t[m][i])
            for m, online in ((m, self.predictor(t[i])) for m, t in modal.items())
        )
        reg = (users.norm() + items.norm()) / self.n_items
        return {
            "rec": rec,
            "reg": self.config["reg_weight"] * reg,
            "cl": self.config["cl_weight"] * cl,
        }
