"""MMGCN: one graph convolution network per modality on the user-item graph, outputs averaged.

Reference: Y. Wei, X. Wang, L. Nie, X. He, R. Hong, T.-S. Chua. "MMGCN: Multi-modal Graph
Convolution Network for Personalized Recommendation of Micro-video", ACM MM 2019.
Reference code read: enoche/MMRec @a75d89a src/models/mmgcn.py + configs/model/MMGCN.yaml (the
version DiffCL and LD4MRec ran) and the authors' weiyinwei/MMGCN Model_MMGCN.py + main.py (the same
network). Message passing as sparse products instead of torch_geometric.

Per modality m, with P_m the users' preference table and leaky_relu slope 0.01 (lrelu):
    x^0 = Norm([P_m ; MLP_m(f_m)])   (rows L2-normalised; MLP only for `latent_modalities`, else f_m)
    for l = 1..L:
        h   = lrelu(D^-1 A (x^(l-1) W_l))               (eq. 1: mean over graph neighbours, no bias)
        x^  = lrelu(Lin_l(x^(l-1))) + E_id              (eq. 5: the shared ID embedding [E_u; E_i])
        x^l = lrelu(G_l([h ; x^]))                      (combination, `concat`)  or  lrelu(G_l(h) + x^)  (`add`)
    r = 1/M sum_m x^L_m ;  s_ui = <r_u, r_i>
    loss = BPR + reg * ( mean((E_id[u]^2 + E_id[i]^2)) over the 2B (user, item) rows + sum_m mean(P_m^2) )

Known deviations: the reference adds the preference term of the image modality only (`v_gcn`);
here every modality's, so that no modality is special.

Decisions: both reference codes register E_id and P_m as plain tensors, not parameters, so Adam
never updates them: they stay at their Xavier-normal draw and only the layers learn. That is
the default (`train_embeddings: false`; the tensors are persistent buffers so a checkpoint
restores them; the reg term is then a constant, as there); `true` trains them as the paper
describes. Both codes hard-code three layers whatever `n_layers`/`num_layer` says (2), so
`n_layers` defaults to 3. Both pass `concate='False'`,
a non-empty string, so the concatenating combination is the one that runs (`combine: concat`).
G_1 is Xavier-normal and G_2.. keep PyTorch's default init, as in the references.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import bipartite_adjacency, to_torch_sparse
from mmdiffbench.graph.operator import SparseOperator
from mmdiffbench.models.base import BPRBatch, EmbeddingRecommender
from mmdiffbench.models.losses import bpr_loss
from mmdiffbench.models.modal import ModalityFeatures, operator_of, pair_rows_l2, recomputed


def mean_adjacency(interactions: sp.spmatrix) -> torch.Tensor:
    """D^-1 A of the bipartite graph: row i averages node i's neighbours (torch_geometric aggr='mean')."""
    adj = bipartite_adjacency(interactions)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    return to_torch_sparse(sp.diags(inverse) @ adj)


def xavier_normal(rows: int, cols: int) -> torch.Tensor:
    return nn.init.xavier_normal_(torch.empty(rows, cols))


class ModalityGCN(nn.Module):
    """The L-layer network of one modality (the references' `GCN`)."""

    def __init__(self, in_dim: int, dim: int, n_layers: int, combine: str) -> None:
        super().__init__()
        self.combine = combine
        self.conv = nn.ParameterList()
        self.linear = nn.ModuleList()
        self.gate = nn.ModuleList()
        for layer in range(n_layers):
            width = in_dim if layer == 0 else dim
            self.conv.append(nn.Parameter(xavier_normal(width, width)))  # no bias (torch_geometric BaseModel)
            linear = nn.Linear(width, dim)
            nn.init.xavier_normal_(linear.weight)
            gate = nn.Linear(width + dim if combine == "concat" else width, dim)
            if layer == 0:
                nn.init.xavier_normal_(gate.weight)
            self.linear.append(linear)
            self.gate.append(gate)

    def forward(self, x: torch.Tensor, mean_adj: SparseOperator, id_embedding: torch.Tensor) -> torch.Tensor:
        x = F.normalize(x, dim=1)
        for conv, linear, gate in zip(self.conv, self.linear, self.gate, strict=True):
            h = F.leaky_relu(mean_adj @ (x @ conv))
            x_hat = F.leaky_relu(linear(x)) + id_embedding
            x = F.leaky_relu(gate(torch.cat([h, x_hat], dim=1)) if self.combine == "concat" else gate(h) + x_hat)
        return x


class MMGCN(EmbeddingRecommender):
    requires_features = True
    id_embedding: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        c = self.config
        if c["combine"] not in ("concat", "add"):
            raise ValueError(f"combine must be 'concat' or 'add', got {c['combine']!r}")
        dim, latent = int(c["embedding_dim"]), int(c["latent_dim"])
        self.features = ModalityFeatures(dataset)
        self.mlp = nn.ModuleDict()
        self.gcn = nn.ModuleDict()
        widths = {}
        for m in self.features.names:
            width = self.features.dim(m)
            if m in c["latent_modalities"]:
                self.mlp[m] = nn.Linear(width, latent)
                width = latent
            widths[m] = width
            self.gcn[m] = ModalityGCN(width, dim, int(c["n_layers"]), c["combine"])
        tables = {"id_embedding": xavier_normal(self.n_users + self.n_items, dim)}
        tables |= {f"preference_{m}": xavier_normal(self.n_users, w) for m, w in widths.items()}
        for name, table in tables.items():
            if c["train_embeddings"]:
                setattr(self, name, nn.Parameter(table))
            else:
                self.register_buffer(name, table)
        self.register_buffer("mean_adj", mean_adjacency(dataset.train), persistent=False)

    def preference(self, m: str) -> torch.Tensor:
        return getattr(self, f"preference_{m}")

    def modality_representation(self, m: str) -> torch.Tensor:
        """x^L of modality m for all users and items, (U + I) x d."""
        items = self.mlp[m](self.features[m]) if m in self.mlp else self.features[m]
        x = torch.cat([self.preference(m), items])
        return self.gcn[m](x, operator_of(self, "mean_adj"), self.id_embedding)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The modalities' mean; with `recompute` each modality's network runs again in backward
        instead of holding its (U + I) x width layers (text: 1024-d, about 1 GB on Sports)."""
        again = bool(self.config["recompute"])
        out = torch.stack([recomputed(again, self.modality_representation, m) for m in self.gcn]).mean(0)
        return out[: self.n_users], out[self.n_users :]

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        users, items = self.final_embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        id_term = pair_rows_l2(self.id_embedding, self.n_users, batch.users, batch.pos, batch.neg)
        preference_term = sum(self.preference(m).pow(2).mean() for m in self.gcn)
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * (id_term + preference_term),
        }
