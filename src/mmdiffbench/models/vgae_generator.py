"""A VGAE that generates a modality graph, for DiffMM's `w/o DM` ablation (paper Table 2).

The paper replaces the diffusion generator by "another generative model VGAE" without
details; this follows Kipf & Welling (2016): a two-layer GCN encoder on the normalised
training graph (with self-loops, as DiffMM's) over [user ID embeddings; projected item
features of the modality], Gaussian latents (mu, logvar), an inner-product decoder,
and the loss pos-weighted BCE over each user batch's full rows + KL / n_nodes.
Generation keeps, per user, the top-k items by <mu_u, mu_i> over all items, in user
batches, so no users x items matrix exists at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.graph.operator import SparseOperator


class VGAEGenerator(nn.Module):
    def __init__(self, n_users: int, feature_dim: int, dim: int) -> None:
        super().__init__()
        self.n_users = n_users
        self.user_embedding = nn.Parameter(torch.empty(n_users, dim))
        self.item_projection = nn.Linear(feature_dim, dim)
        self.hidden = nn.Linear(dim, dim)
        self.mu = nn.Linear(dim, dim)
        self.logvar = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.user_embedding)

    def encode(self, adj: SparseOperator, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.user_embedding, self.item_projection(features)])
        h = F.relu(adj @ self.hidden(x))
        return adj @ self.mu(h), adj @ self.logvar(h)

    def loss(
        self, adj: SparseOperator, features: torch.Tensor, users: torch.Tensor, rows: torch.Tensor
    ) -> torch.Tensor:
        """VGAE loss of one user batch; `rows` are the users' dense 0/1 training rows."""
        mu, logvar = self.encode(adj, features)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = z[users] @ z[self.n_users :].T
        positives = rows.sum().clamp(min=1.0)
        pos_weight = (rows.numel() - positives) / positives
        recon = F.binary_cross_entropy_with_logits(logits, rows, pos_weight=pos_weight)
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1))
        return recon + kl / mu.shape[0]

    @torch.no_grad()
    def item_user_latents(self, adj: SparseOperator, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(user mu, item mu): the generated graph links u to the top-k items by <mu_u, mu_i>."""
        mu, _ = self.encode(adj, features)
        return mu[: self.n_users], mu[self.n_users :]
