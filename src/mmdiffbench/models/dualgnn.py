"""DualGNN: per-modality GCNs on the user-item graph, fused per user, then smoothed over a user
co-occurrence graph.

Reference: Q. Wang, Y. Wei, J. Yin, J. Wu, X. Song, L. Nie. "DualGNN: Dual Graph Neural Network
for Multimedia Recommendation", IEEE TMM 2021. Reference code read: enoche/MMRec @a75d89a
src/models/dualgnn.py + configs/model/DualGNN.yaml and preprocessing/dualgnn-gen-u-u-matrix.py
(the user graph, which MMRec reads from a file; built here from the training matrix).

User graph (built once): c(u, v) = |items(u) & items(v)|, u != v (R R^T off the diagonal); each user
keeps its k neighbours of largest count (ties by id). Each epoch (MMRec `pre_epoch_processing`), a
user with 0 < n < k neighbours is padded to k by copying uniformly drawn entries of its growing
list; weights w_u = softmax of the k counts; a user without neighbours gets zero weights.
Per modality m, with Â = D^-1/2 A D^-1/2 (no self-loops):
    x_m = Norm([P_m; W2 lrelu(W1 f_m + b1) + b2]),   X_m = x_m + Â x_m + Â^2 x_m
    items: r_i = sum_m X_m[i];   users: z_u = sum_m a_um X_m[u]      (a: a learned users x M table)
    r_u = z_u + sum_k w_uk z_{nbr_uk}
    s_ui = <r_u, r_i>
    loss = -mean log2 sigmoid(s_ui - s_uj) + reg * ( sum_m mean(P_m[u]^2) + mean(a^2) + mean(b^2) )
(b: the reference's items x M table, initialised like a, used only in the reg term.)

Known deviations: in MMRec `representation += t_rep` adds in place to the image tensor, so its
users get a_u0 (X_v + X_t) + a_u1 X_t; here the fusion the paper and the code's names intend,
sum_m a_um X_m. MMRec scores with the representation of the last training batch; here it is
recomputed (the same parameters after the last step). The per-modality edge-dropped graphs MMRec
builds are never used by its forward (it passes the full graph), so they do not exist here.

Decisions: neighbour ties are broken by user id (torch.topk leaves them unspecified); the
padding draws from torch's generator. a and b start as softmax over modalities of Xavier-normal
draws (the reference's init of weight_u / weight_i) and are not re-normalised in training, as there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, normalized_adjacency, propagate_sum
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.losses import bpr_loss
from mmdiffbench.models.modal import ModalityFeatures
from mmdiffbench.models.phase import Phase


def cooccurrence_neighbours(interactions: sp.spmatrix, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(neighbours, counts, lengths): each user's top-k co-interacting users by shared items,
    users x k, rows padded with zeros after `lengths[u]` entries. Sparse R R^T, never users x users dense."""
    r = sp.csr_matrix(interactions, dtype=np.float32)
    r.data[:] = 1.0
    counts = (r @ r.T).tocsr()
    counts.setdiag(0)
    counts.eliminate_zeros()
    n_users = r.shape[0]
    neighbours = np.zeros((n_users, k), dtype=np.int64)
    values = np.zeros((n_users, k), dtype=np.float32)
    lengths = np.zeros(n_users, dtype=np.int64)
    for user in range(n_users):
        cols = counts.indices[counts.indptr[user] : counts.indptr[user + 1]]
        data = counts.data[counts.indptr[user] : counts.indptr[user + 1]]
        order = np.lexsort((cols, -data))[:k]  # largest count first, ties by id
        lengths[user] = len(order)
        neighbours[user, : len(order)], values[user, : len(order)] = cols[order], data[order]
    return torch.from_numpy(neighbours), torch.from_numpy(values), torch.from_numpy(lengths)


def pad_by_resampling(
    neighbours: torch.Tensor, counts: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill column t >= lengths[u] of each row with a copy of a uniform draw from columns < t
    (the reference's `append(sample[randint(0, len(sample))])` loop, for all users at once)."""
    neighbours, counts = neighbours.clone(), counts.clone()
    for t in range(1, neighbours.shape[1]):
        rows = torch.nonzero((lengths > 0) & (lengths <= t)).squeeze(1)
        pick = (torch.rand(len(rows)) * t).long()
        neighbours[rows, t], counts[rows, t] = neighbours[rows, pick], counts[rows, pick]
    return neighbours, counts


def modality_simplex(rows: int, n_modalities: int) -> nn.Parameter:
    """rows x M weights: softmax over modalities of a Xavier-normal draw (the reference's init)."""
    return nn.Parameter(torch.softmax(nn.init.xavier_normal_(torch.empty(rows, n_modalities)), dim=1))


class DualGNN(GraphRecommender):
    requires_features = True
    top_neighbours: torch.Tensor
    top_counts: torch.Tensor
    neighbour_lengths: torch.Tensor
    user_neighbours: torch.Tensor
    user_weights: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim, hidden = int(config["embedding_dim"]), int(config["hidden_dim"])
        self.n_layers = int(config["n_layers"])
        self.features = ModalityFeatures(dataset)
        self.mlp = nn.ModuleDict(
            {
                m: nn.Sequential(nn.Linear(self.features.dim(m), hidden), nn.LeakyReLU(), nn.Linear(hidden, dim))
                for m in self.features.names
            }
        )
        self.preference = nn.ParameterDict(
            {m: nn.Parameter(nn.init.xavier_normal_(torch.empty(self.n_users, dim))) for m in self.features.names}
        )
        self.user_modal_weight = modality_simplex(self.n_users, len(self.features.names))
        self.item_modal_weight = modality_simplex(self.n_items, len(self.features.names))
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)
        neighbours, counts, lengths = cooccurrence_neighbours(dataset.train, int(config["user_neighbours"]))
        self.register_buffer("top_neighbours", neighbours, persistent=False)
        self.register_buffer("top_counts", counts, persistent=False)
        self.register_buffer("neighbour_lengths", lengths, persistent=False)
        # the epoch's padded sample, checkpointed so that a resumed run scores with the same graph
        self.register_buffer("user_neighbours", neighbours.clone())
        self.register_buffer("user_weights", torch.zeros_like(counts))
        self.sample_user_graph()

    def sample_user_graph(self) -> None:
        """Draw the epoch's padding and the softmax weights of each user's k neighbours."""
        neighbours, counts = pad_by_resampling(
            self.top_neighbours.cpu(), self.top_counts.cpu(), self.neighbour_lengths.cpu()
        )
        weights = torch.where((self.neighbour_lengths.cpu() > 0).unsqueeze(1), torch.softmax(counts, 1), 0.0)
        self.user_neighbours.copy_(neighbours)
        self.user_weights.copy_(weights)

    def user_graph(self) -> SparseOperator:
        """The epoch's user graph as a sparse users x users matrix W (W[u, v] = the weights of v among
        u's k neighbours, added up where padding repeats v), so that sum_k w_uk z_{nbr_uk} = (W z)_u is
        one sparse product instead of a users x k x d gather (95 MB on TikTok). Rebuilt when the
        sampled buffers change (a new epoch's draw, or a checkpoint loaded into them)."""
        key = (self.user_neighbours._version, self.user_weights._version, self.user_weights.device)
        cached = self.__dict__.get("_user_graph")
        if cached is None or cached[0] != key:
            n_users, k = self.user_neighbours.shape
            rows = torch.arange(n_users, device=self.user_neighbours.device).repeat_interleave(k)
            indices = torch.stack([rows, self.user_neighbours.reshape(-1)])
            weights = self.user_weights.reshape(-1)
            matrix = torch.sparse_coo_tensor(indices, weights, (n_users, n_users), check_invariants=True)
            cached = self.__dict__["_user_graph"] = (key, SparseOperator(matrix))
        return cached[1]

    def phases(self) -> list[Phase]:
        return [
            Phase("recommender", list(self.parameters()), "bpr", self._bpr_loss_parts, before=self.sample_user_graph)
        ]

    def modality_representation(self, m: str) -> torch.Tensor:
        """X_m = sum_{l <= L} Â^l Norm([P_m; MLP_m(f_m)]), (U + I) x d."""
        x = F.normalize(torch.cat([self.preference[m], self.mlp[m](self.features[m])]), dim=1)
        return propagate_sum(self.adj_op, x, self.n_layers)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        reps = torch.stack([self.modality_representation(m) for m in self.features.names], dim=1)  # N x M x d
        items = reps[self.n_users :].sum(1)
        users = (reps[: self.n_users] * self.user_modal_weight.unsqueeze(2)).sum(1)
        return users + self.user_graph() @ users, items

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        users, items = self.final_embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        preference = sum(self.preference[m][batch.users].pow(2).mean() for m in self.features.names)
        reg = preference + self.user_modal_weight.pow(2).mean() + self.item_modal_weight.pow(2).mean()
        return {
            # the reference's log2: BPR in bits
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)) / math.log(2),
            "reg": self.config["reg_weight"] * reg,
        }
