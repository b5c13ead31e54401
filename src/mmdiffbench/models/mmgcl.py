"""MMGCL: BPR plus graph contrastive learning over two augmented views (modality edge dropout,
modality masking) with modality-replaced hard negatives.

Reference: Z. Yi, X. Wang, I. Ounis, C. Macdonald. "Multi-modal Graph Contrastive Learning for
Micro-video Recommendation", SIGIR 2022. Reference implementation read: the authors'
zxy-ml84/MMGCL, MMGCL-main/mmgcl/models/mmgcl.py and mmgcl/configs/model/MMGCL.yaml.

As coded (modalities in the reference's order image, text, audio, then any other; encoder of
models/modal_branches.py: id + per-modality LightGCN branches on D^-1/2 A D^-1/2, concat read-out):
    main = BPR(U, I) of the encoder on the full graph
    view ED: every branch on one graph keeping int((1 - rho) |E|) training edges drawn uniformly
        without replacement (renormalised over the kept edges)
    view MM: one modality m* drawn with probabilities mask_p; its branch runs on a node-dropped
        graph (int(rho n_users) users and int(rho n_items) items removed with their edges), the
        other branches on the full graph
    for each view: u_n, i_n the read-out user and positive item of the batch's pair n, and the
        hard negative h_n = the positive's read-out with the `hard_negative_modality` branch
        taken from the negative item (CN)
        ssl_view = mean_n -log( e^{c(u_n,i_n)/tau} / (sum_j e^{c(u_n,i_j)/tau} + e^{c(u_n,h_n)/tau}) )
        with c the cosine
    loss = main + ssl_alpha * (ssl_ED + ssl_MM);  L2 through Adam's weight decay (reference:
    weight_decay 1e-4; its `reg` 1.1e-4 is read but never used)

Known deviations (the reference code does not run as published; its apparent intent is coded):
its second InfoNCE term repeats the first view's logits (`logits_2` from `users_sub_1`), so the
masked view never enters the loss: here each view has its own term. Its CN term is computed but
not added: here the hard negative joins each view's denominator, as the paper describes. Its
masking branch swaps features (the audio or text branch is fed the image projection): here the
chosen modality's own branch is perturbed. Its TikTok read-out concatenates a user table into
the item read-out (`a_emb_u`): here items read out items. BPR is log-sigmoid without its 1e-5
inside the log.

Decisions: the modality replaced in the hard negative defaults to text, the one the reference
replaces on both of its datasets. `mask_p` lists image, text, audio probabilities (the reference
TikTok order); the probabilities of the modalities the data has are renormalised to sum to 1,
and any other modality gets the mean of the given ones before renormalising.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, normalized_adjacency
from mmdiffbench.models.base import BPRBatch, GraphRecommender
from mmdiffbench.models.contrastive import paired_info_nce
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.item_graphs import feature_tables, kept_edges_operator
from mmdiffbench.models.losses import bpr_loss
from mmdiffbench.models.modal_branches import Branch, ConcatBranches

MASK_ORDER = ("image", "text", "audio")


def mask_ordered(names: list[str]) -> list[str]:
    known = [m for m in MASK_ORDER if m in names]
    return known + sorted(set(names) - set(known))


def mask_probabilities(modalities: list[str], mask_p: list[float]) -> torch.Tensor:
    """The masking probability of each present modality, renormalised (module docstring)."""
    if len(mask_p) != len(MASK_ORDER):
        raise ValueError(f"mask_p lists {MASK_ORDER}: expected {len(MASK_ORDER)} values, got {mask_p}")
    given = dict(zip(MASK_ORDER, mask_p, strict=True))
    p = torch.tensor([given.get(m, float(np.mean(mask_p))) for m in modalities], dtype=torch.float64)
    return p / p.sum()


class MMGCL(GraphRecommender):
    requires_features = True
    edge_users: torch.Tensor
    edge_items: torch.Tensor
    mask_p: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        c = self.config
        dim = int(c["embedding_dim"])
        self.rate = float(c["dropout_rate"])
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.rate}")
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        tables = feature_tables(dataset)
        self.modalities = mask_ordered(list(tables))
        if c["hard_negative_modality"] in self.modalities:
            self.hard_branch = 1 + self.modalities.index(c["hard_negative_modality"])
        else:
            self.hard_branch = len(self.modalities)  # the last modality
        self.encoder = ConcatBranches({m: tables[m] for m in self.modalities}, dim, int(c["n_layers"]))
        self.register_buffer("mask_p", mask_probabilities(self.modalities, list(c["mask_p"])), persistent=False)
        self.register_buffer("adj", normalized_adjacency(dataset.train), persistent=False)
        train = sp.coo_matrix(sp.csr_matrix(dataset.train, dtype=np.float32))
        self.register_buffer("edge_users", torch.from_numpy(train.row.astype(np.int64)), persistent=False)
        self.register_buffer("edge_items", torch.from_numpy(train.col.astype(np.int64)), persistent=False)

    def propagate(self, graphs: list[SparseOperator]) -> list[Branch]:
        return self.encoder.propagate(graphs, self.user_embedding, self.item_embedding)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder.fuse(self.propagate([self.adj_op] * (len(self.modalities) + 1)))

    def edge_dropped(self) -> SparseOperator:
        keep = torch.randperm(len(self.edge_users), device=self.edge_users.device)
        keep = keep[: int(len(keep) * (1.0 - self.rate))]
        return kept_edges_operator(self.edge_users[keep], self.edge_items[keep], self.n_users, self.n_items)

    def node_dropped(self) -> SparseOperator:
        device = self.edge_users.device
        kept_users = torch.ones(self.n_users, dtype=torch.bool, device=device)
        kept_users[torch.randperm(self.n_users, device=device)[: int(self.n_users * self.rate)]] = False
        kept_items = torch.ones(self.n_items, dtype=torch.bool, device=device)
        kept_items[torch.randperm(self.n_items, device=device)[: int(self.n_items * self.rate)]] = False
        keep = kept_users[self.edge_users] & kept_items[self.edge_items]
        return kept_edges_operator(self.edge_users[keep], self.edge_items[keep], self.n_users, self.n_items)

    def view_graphs(self) -> tuple[list[SparseOperator], list[SparseOperator]]:
        """The branch graphs of the edge-dropout view and of the modality-masking view."""
        branches = len(self.modalities) + 1
        dropped = [self.edge_dropped()] * branches
        masked = [self.adj_op] * branches
        masked[1 + int(torch.multinomial(self.mask_p, 1))] = self.node_dropped()
        return dropped, masked

    def view_loss(self, view: list[Branch], batch: BPRBatch) -> torch.Tensor:
        users = self.encoder.fuse_users([u[batch.users] for u, _ in view])
        positives = [i[batch.pos] for _, i in view]
        hard = list(positives)
        hard[self.hard_branch] = view[self.hard_branch][1][batch.neg]
        items, hard_items = self.encoder.fuse_items(positives), self.encoder.fuse_items(hard)
        return paired_info_nce(users, items, float(self.config["ssl_temp"]), hard=hard_items)

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        users, items = self.final_embeddings()
        u = users[batch.users]
        main = bpr_loss((u * items[batch.pos]).sum(-1), (u * items[batch.neg]).sum(-1))
        dropped, masked = self.view_graphs()
        ssl = self.view_loss(self.propagate(dropped), batch) + self.view_loss(self.propagate(masked), batch)
        return {"bpr": main, "ssl": self.config["ssl_alpha"] * ssl}
