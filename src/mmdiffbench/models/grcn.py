"""GRCN: content graphs refine the user-item graph's edge weights for an ID-embedding GCN.

Reference: Y. Wei, X. Wang, L. Nie, X. He, T.-S. Chua. "Graph-Refined Convolutional Network for
Multimedia Recommendation with Implicit Feedback", ACM MM 2020. Reference code read: enoche/MMRec
@a75d89a src/models/grcn.py + configs/model/GRCN.yaml and the authors' weiyinwei/GRCN
Model_routing.py, GATConv.py, main.py (the same network; the authors add every modality's
preference to the reg term, MMRec adds the image one twice). Message passing with index_add over
the edge list instead of torch_geometric. Directed edges j -> i run both ways over the training pairs.

Per modality m (`CGCN`, has_norm on, no activation):
    F_m = Norm(lrelu(MLP_m(f_m))),  P_m = Norm(preference_m)
    routing, r = 1..R: P_u <- Norm(P_u + sum_{i in N(u)} softmax_i(<P_u, F_i>) F_i)
    x_m = [P_m; F_m];  alpha_m(j->i) = softmax over the j of i of <x_i, x_j>    (attention, no weights;
                                        the logit computed once per user-item pair, both directions)
    C_m = x_m + sum_j alpha_m(j->i) x_j                                        (content representation)
Graph refining (weight_mode `confid`, pruning on):
    w(j->i) = relu( max_m alpha_m(j->i) * conf[j, m] )          (conf: a learned (U+I) x M table, source node's row)
ID GCN (`EGCN`, aggregation `add`):
    x = Norm(E_id);  x1_i = sum_j w(j->i) x_j;  x2 = the same on x1;  R_id = x + x1 + x2
Fusion `concat`: r = [R_id; C_1; ...; C_M],  s_ui = <r_u, r_i>
    loss = BPR + reg * ( mean over the 2B (user, item) rows of (E_id[u]^2 + E_id[i]^2) + sum_m mean(preference_m[u]^2) )

Known deviations: MMRec also adds the image preference table's full mean square (an MMRec-only
term; the authors' code does not). The edge dropout (`dropout`, 0 in both codes) is not implemented.

Decisions: in both codes the routing messages go user -> item (torch_geometric aggregates at
edge_index[1], the items), so the user rows receive nothing and the routing leaves the
preferences unchanged. `n_routing: 0` reproduces that, and is the default; `n_routing > 0` runs
the paper's routing (Sec. 3.2: users gather their items). MLP_m is Xavier-normal as in MMRec;
the preference and confidence tables are Xavier-normal draws, as in both codes.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import edge_product
from mmdiffbench.models.base import BPRBatch, EmbeddingRecommender
from mmdiffbench.models.losses import bpr_loss
from mmdiffbench.models.modal import ModalityFeatures, bipartite_edges, pair_rows_l2, recomputed


def xavier_normal(rows: int, cols: int) -> nn.Parameter:
    return nn.Parameter(nn.init.xavier_normal_(torch.empty(rows, cols)))


def segment_softmax(logits: torch.Tensor, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Softmax of `logits` within each group (torch_geometric.utils.softmax)."""
    peak = logits.new_full((n_groups,), float("-inf")).scatter_reduce(0, groups, logits, "amax")
    weights = torch.exp(logits - peak.index_select(0, groups))
    return weights / weights.new_zeros(n_groups).index_add(0, groups, weights).index_select(0, groups)


class GRCN(EmbeddingRecommender):
    requires_features = True
    source: torch.Tensor
    target: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        dim, latent = int(config["embedding_dim"]), int(config["latent_dim"])
        self.n_routing = int(config["n_routing"])
        self.features = ModalityFeatures(dataset)
        self.id_embedding = xavier_normal(self.n_users + self.n_items, dim)
        self.mlp = nn.ModuleDict()
        self.preference = nn.ParameterDict()
        for m in self.features.names:
            mlp = nn.Linear(self.features.dim(m), latent)
            nn.init.xavier_normal_(mlp.weight)
            self.mlp[m] = mlp
            self.preference[m] = xavier_normal(self.n_users, latent)
        self.confidence = xavier_normal(self.n_users + self.n_items, len(self.features.names))
        source, target = bipartite_edges(dataset.train)
        self.register_buffer("source", source, persistent=False)
        self.register_buffer("target", target, persistent=False)

    @property
    def n_nodes(self) -> int:
        return self.n_users + self.n_items

    def routed_preference(self, m: str, items: torch.Tensor) -> torch.Tensor:
        """P_m after `n_routing` rounds of users gathering their items' features by attention."""
        preference = F.normalize(self.preference[m], dim=1)
        half = len(self.source) // 2  # the item -> user edges
        item, user = self.source[half:] - self.n_users, self.target[half:]
        for _ in range(self.n_routing):
            sent = items.index_select(0, item)
            alpha = segment_softmax((preference.index_select(0, user) * sent).sum(1), user, self.n_users)
            gathered = torch.zeros_like(preference).index_add(0, user, alpha.unsqueeze(1) * sent)
            preference = F.normalize(preference + gathered, dim=1)
        return preference

    def content(self, m: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(C_m, alpha_m): the modality's representation and its attention on every directed edge."""
        items = F.normalize(F.leaky_relu(self.mlp[m](self.features[m])), dim=1)
        x = torch.cat([self.routed_preference(m, items), items])
        half = len(self.source) // 2  # the two directions of a pair share <x_u, x_i>: computed once
        logit = (x.index_select(0, self.source[:half]) * x.index_select(0, self.target[:half])).sum(1)
        alpha = segment_softmax(torch.cat([logit, logit]), self.target, self.n_nodes)
        return x + edge_product(self.target, self.source, alpha, x), alpha

    def id_gcn(self, weight: torch.Tensor) -> torch.Tensor:
        """R_id = x + x1 + x2 on the refined edge weights."""
        x = F.normalize(self.id_embedding, dim=1)
        x1 = edge_product(self.target, self.source, weight, x)
        x2 = edge_product(self.target, self.source, weight, x1)
        return x + x1 + x2

    def representation(self) -> torch.Tensor:
        """[R_id; C_1; ...]; with `recompute` each edge-wise pass (a few 2|E| x d gathers, about
        1 GB held on Sports) runs again in backward instead of being held: the same numbers."""
        again = bool(self.config["recompute"])
        contents, alphas = zip(*(recomputed(again, self.content, m) for m in self.features.names), strict=True)
        scores = torch.stack(alphas, dim=1) * self.confidence.index_select(0, self.source)
        weight = torch.relu(scores.max(dim=1).values)
        return torch.cat([recomputed(again, self.id_gcn, weight), *contents], dim=1)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.representation()
        return out[: self.n_users], out[self.n_users :]

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        users, items = self.final_embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        id_term = pair_rows_l2(self.id_embedding, self.n_users, batch.users, batch.pos, batch.neg)
        preference_term = sum(self.preference[m][batch.users].pow(2).mean() for m in self.features.names)
        return {
            "bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)),
            "reg": self.config["reg_weight"] * (id_term + preference_term),
        }
