"""The id + per-modality graph branches fused by concatenation, shared by SLMRec and MMGCL.

Both reference implementations (MMRec's slmrec.py, the authors' MMGCL mmgcl.py) run one
LightGCN-style branch per item representation, the ID table and each modality's L2-normalised
fixed features through a Xavier-uniform Linear, every branch starting from the same user table,
and read users and items out by one Linear each over the concatenated branches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmdiffbench.graph import SparseOperator
from mmdiffbench.models.item_graphs import ModalityProjections
from mmdiffbench.models.lightgcn import propagate_mean

#: one branch's (users x d, items x d) after propagation
Branch = tuple[torch.Tensor, torch.Tensor]


def xavier_linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight)
    return layer


class ConcatBranches(nn.Module):
    """[U_b; I_b] = mean_{l=0..L} A_b^l [E_u; items_b] for b in (id, m_1..m_M), then
    U = F_u [U_id, U_m1, ...] and I = F_i [I_id, I_m1, ...] (branches in the order of `features`)."""

    def __init__(self, features: Mapping[str, torch.Tensor], dim: int, n_layers: int) -> None:
        super().__init__()
        self.modalities = list(features)
        self.n_layers = n_layers
        self.projections = ModalityProjections(features, dim, False, init="xavier_uniform", normalize=True)
        width = (len(self.modalities) + 1) * dim
        self.user_fusion = xavier_linear(width, dim)
        self.item_fusion = xavier_linear(width, dim)

    def propagate(
        self, graphs: Sequence[SparseOperator], user_table: torch.Tensor, item_table: torch.Tensor
    ) -> list[Branch]:
        """Every branch on its own graph (`graphs[0]` for the id branch, then one per modality)."""
        projected = self.projections()
        n_users = len(user_table)
        out = []
        for graph, items in zip(graphs, [item_table] + [projected[m] for m in self.modalities], strict=True):
            prop = propagate_mean(graph, torch.cat([user_table, items]), self.n_layers)
            out.append((prop[:n_users], prop[n_users:]))
        return out

    def fuse_users(self, branches: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.user_fusion(torch.cat(list(branches), dim=1))

    def fuse_items(self, branches: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.item_fusion(torch.cat(list(branches), dim=1))

    def fuse(self, branches: Sequence[Branch]) -> Branch:
        return self.fuse_users([u for u, _ in branches]), self.fuse_items([i for _, i in branches])
