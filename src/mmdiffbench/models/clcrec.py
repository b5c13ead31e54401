"""CLCRec: contrastive learning between users and items and between item IDs and item content.

Reference: Y. Wei, X. Wang, Q. Li, L. Nie, Y. Li, X. Li, T.-S. Chua. "Contrastive Learning for
Cold-start Recommendation", ACM MM 2021. Reference code read: the authors' weiyinwei/CLCRec
model_CLCRec.py, Dataset.py, main.py, README.md (the Movielens command line: the micro-video
setting with visual, acoustic and textual features).

Each training pair (u, i) gets N negatives j_1..j_N (items u has not interacted with), the
candidates c = (i, j_1, ..., j_N), and with g(x) = Norm over rows of the concatenated,
per-modality L2-normalised features, passed through W2 lrelu(W1 g + b1) + b2 (the encoder):
    L_ui = -log( exp(<e_u, h_c0> / tau) / sum_n exp(<e_u, h_cn> / tau) )         (U-I term, eq. 6)
           with h_c = e_c, except for a share `num_sample` of the candidate rows, drawn with
           replacement over the batch's rows, where h_c = encoder(f_c) (hybrid training)
    L_ri = -log( exp(cos(e_i, enc(f_c0)) / tau) / sum_n exp(cos(e_i, enc(f_cn)) / tau) )   (R-E term, eq. 9)
    loss = lambda L_ri + (1 - lambda) L_ui + reg * ( mean_u ||e_u|| + mean_c ||e_c|| ) / 2   (norms, not squared)
Scores: s_ui = <e_u, e_i> for the warm items; a cold item (no training interaction) is scored
with its encoded content enc(f_i) instead of its ID embedding (the reference's `result`).

Known deviations: negatives are drawn uniformly with replacement among the items outside the
user's *training* items (the reference: without replacement, outside all of the user's items,
validation and test included, which leaks the held-out items into training). The BPR triple's
own negative is not used. The logsumexp form of the two terms is the reference's exp/sum/log,
computed stably.

Decisions: "cold" means no training interaction, decided from the training matrix (the
reference reads a cold-item list from its split files); on warm-start data every item is warm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.models.base import BPRBatch, EmbeddingRecommender
from mmdiffbench.models.modal import ModalityFeatures

#: rounds of redrawing negatives that hit a training item; what is left after them is kept
REDRAWS = 10


def sampled_info_nce(anchors: torch.Tensor, candidates: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over rows of -log softmax_0(<anchor, candidate_n> / tau); candidates are rows x (1 + N) x d,
    the positive first (the reference's `loss_contrastive`)."""
    logits = (anchors.unsqueeze(1) * candidates).sum(-1) / tau
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


class CLCRec(EmbeddingRecommender):
    requires_features = True
    content: torch.Tensor
    train_keys: torch.Tensor
    cold_items: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim = int(config["embedding_dim"])
        # g: the frozen features' encoder input, built once (it was rebuilt every step: half of a
        # Sports step); not persistent: rebuilt from the data, never saved
        self.register_buffer("content", ModalityFeatures(dataset).concatenated(l2_normalized=True), persistent=False)
        self.id_embedding = nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_users + self.n_items, dim)))
        hidden = int(config["encoder_hidden"])
        self.encoder = nn.Sequential(nn.Linear(self.content.shape[1], hidden), nn.LeakyReLU(), nn.Linear(hidden, dim))
        coo = sp.coo_matrix(dataset.train)
        keys = np.unique(coo.row.astype(np.int64) * self.n_items + coo.col)
        self.register_buffer("train_keys", torch.from_numpy(keys), persistent=False)
        cold = np.asarray(dataset.train.sum(0)).ravel() == 0
        self.register_buffer("cold_items", torch.from_numpy(np.flatnonzero(cold)), persistent=False)

    def encoded(self) -> torch.Tensor:
        """enc(g): items x d, from the per-modality L2-normalised features side by side."""
        return self.encoder(self.content)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        items = self.id_embedding[self.n_users :]
        if len(self.cold_items):
            items = items.index_copy(0, self.cold_items, self.encoded()[self.cold_items])
        return self.id_embedding[: self.n_users], items

    def is_training_pair(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        keys = users * self.n_items + items
        found = torch.searchsorted(self.train_keys, keys).clamp(max=len(self.train_keys) - 1)
        return self.train_keys[found] == keys

    def sample_negatives(self, users: torch.Tensor) -> torch.Tensor:
        """rows x N items drawn uniformly, redrawn where they are a training item of the row's user."""
        rows = users.unsqueeze(1).expand(-1, int(self.config["num_neg"]))
        negatives = torch.randint(self.n_items, rows.shape, device=users.device)
        for _ in range(REDRAWS):
            hits = self.is_training_pair(rows, negatives)
            if not bool(hits.any()):
                break
            negatives[hits] = torch.randint(self.n_items, (int(hits.sum()),), device=users.device)
        return negatives

    def contrastive_terms(
        self, users: torch.Tensor, candidates: torch.Tensor, replaced: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The weighted loss terms for rows `users` x `candidates` (positive first), the candidate
        rows in `replaced` (flat indices) taking their encoded content in the U-I term."""
        c = self.config
        encoded = self.encoded()[candidates]  # rows x (1 + N) x d
        user_rows = self.id_embedding[users]
        item_rows = self.id_embedding[self.n_users + candidates]
        hybrid = item_rows.reshape(-1, item_rows.shape[-1]).clone()
        hybrid[replaced] = encoded.reshape(hybrid.shape)[replaced]
        user_item = sampled_info_nce(user_rows, hybrid.reshape(item_rows.shape), c["temperature"])
        id_content = sampled_info_nce(
            F.normalize(item_rows[:, 0], dim=-1), F.normalize(encoded, dim=-1), c["temperature"]
        )
        reg = (user_rows.norm(dim=1).mean() + item_rows.norm(dim=2).mean()) / 2
        return {
            "id_content": c["lambda"] * id_content,
            "user_item": (1 - c["lambda"]) * user_item,
            "reg": c["reg_weight"] * reg,
        }

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        candidates = torch.cat([batch.pos.unsqueeze(1), self.sample_negatives(batch.users)], dim=1)
        n_rows = candidates.numel()
        replaced = torch.randint(n_rows, (int(n_rows * self.config["num_sample"]),), device=candidates.device)
        return self.contrastive_terms(batch.users, candidates, replaced)
