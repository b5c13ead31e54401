"""LATTICE: an item-item graph learned from projected features, mixed with the initial one.

Reference: J. Zhang, Y. Zhu, Q. Liu, S. Wu, S. Wang, L. Wang. "Mining Latent Structures for
Multimedia Recommendation", ACM MM 2021. Reference implementation read: enoche/MMRec @a75d89a,
src/models/lattice.py, src/configs/model/LATTICE.yaml, src/utils/utils.py (build_sim,
build_knn_neighbourhood, compute_normalized_laplacian); authors' code CRIPAC-DIG/LATTICE.

As coded (modalities m = dataset.modalities, f_m the trainable feature tables, E the ID tables):
    w = softmax(alpha)                                     (alpha initialised equal, 0.5 each)
    O = sum_m w_m O_m,  O_m = D^-1/2 kNN_k(cos(f_m)) D^-1/2   (similarity weights, from the
        raw features once: the initial graph)
    p_m = W_m f_m + b_m;  L = D^-1/2 (sum_m w_m kNN_k(cos(p_m))) D^-1/2   (similarity weights,
        D the row sums of the mixed learned graph)
    S = (1 - lambda) L + lambda O
    h = S^{L_item} E_items
    [U; I] = mean_{l=0..L} A^l [E_u; E_i],  A = D^-1 (R_bip + I)   (row-normalised, self-loops:
        the reference's `get_adj_mat` with cf_model lightgcn)
    items: I + h / ||h||
    loss = BPR + reg * 1/2 (||u||^2 + ||i+||^2 + ||i-||^2) / batch   (on the final embeddings)
S is rebuilt with gradient at the first step of each epoch (gradient reaches W_m, f_m, alpha
through that step only) and used detached by the epoch's other steps, as the reference's
`build_item_graph` flag does; evaluation rebuilds it from the current parameters.

Known deviations: the reference holds the learned and mixed graphs as dense items x items
matrices (out of memory on large item sets, CRIPAC-DIG/LATTICE#3); here every graph is an edge
list on the kNN support (k neighbours per item and modality), which is the same matrix, since
the reference's top-k scatter leaves zeros elsewhere; S h is `graph.edges.edge_product`, over
chunks of edges with nothing edge-sized held for backward (the same numbers). The kNN never picks
the item itself (`graph.knn`), where the reference's dense top-k includes the item (cosine 1) as
one of its k.
Not a deviation: MMRec's learning-rate decay (x0.96 every 50 epochs) is the trainer's
`lr_decay` / `lr_decay_step` (lattice.yaml).

Decisions: the top-k of the learned graph is taken on the projected features without gradient
(top-k selection has none in the reference either); the cosine values on the chosen pairs carry
it. More than two modalities: softmax over one weight per modality, as the paper's eq. 5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, bipartite_adjacency, edge_product, knn_neighbours, to_torch_sparse
from mmdiffbench.models.base import BPRBatch, EmbeddingRecommender
from mmdiffbench.models.embedding import id_embedding
from mmdiffbench.models.item_graphs import ModalityProjections, feature_tables, modality_knn_graphs
from mmdiffbench.models.lightgcn import propagate_mean
from mmdiffbench.models.losses import bpr_loss, embedding_l2
from mmdiffbench.models.phase import Phase

#: an item graph as an edge list: (rows, cols, values); repeated positions add up
EdgeList = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def row_normalized_with_self_loops(interactions: sp.spmatrix) -> sp.csr_matrix:
    """D^-1 (A + I) of the bipartite graph A (LATTICE's user-item propagation matrix)."""
    adj = bipartite_adjacency(interactions, self_loops=True)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    return (sp.diags(1.0 / degree) @ adj).tocsr().astype(np.float32)


def concatenated(graphs: list[EdgeList]) -> EdgeList:
    """The sum of edge-list graphs as one edge list."""
    rows, cols, values = zip(*graphs, strict=True)
    return torch.cat(rows), torch.cat(cols), torch.cat(values)


def sym_normalized(edges: EdgeList, n: int) -> EdgeList:
    """D^-1/2 S D^-1/2 with D the row sums of S (zero rows stay zero)."""
    rows, cols, values = edges
    degree = torch.zeros(n, dtype=values.dtype, device=values.device).index_add(0, rows, values)
    inv = torch.where(degree > 0, degree.clamp(min=1e-30).rsqrt(), torch.zeros_like(degree))
    return rows, cols, inv[rows] * values * inv[cols]


class Lattice(EmbeddingRecommender):
    requires_features = True
    ui_adj: torch.Tensor

    def __init__(self, dataset: InteractionDataset, config: dict[str, Any]) -> None:
        super().__init__(dataset, config)
        c = self.config
        dim = int(c["embedding_dim"])
        self.k = int(c["knn_k"])
        self.user_embedding = id_embedding(self.n_users, dim)
        self.item_embedding = id_embedding(self.n_items, dim)
        features = feature_tables(dataset)
        self.modalities = list(features)
        self.projections = ModalityProjections(features, int(c["feat_embed_dim"]), trainable_features=True)
        self.modal_weight = nn.Parameter(torch.full((len(self.modalities),), 0.5))
        for m, initial in modality_knn_graphs(features, self.k, "similarity", "sym").items():
            self.register_buffer(f"initial_{m}", initial, persistent=False)
        self.register_buffer("ui_adj", to_torch_sparse(row_normalized_with_self_loops(dataset.train)), persistent=False)
        self._ui_op: SparseOperator | None = None
        self._epoch_graph: EdgeList | None = None

    def phases(self) -> list[Phase]:
        return [Phase("recommender", list(self.parameters()), "bpr", self._bpr_loss_parts, before=self.new_epoch)]

    def new_epoch(self) -> None:
        """The epoch's first step rebuilds the item graph with gradient (the reference's flag)."""
        self._epoch_graph = None

    @property
    def ui_op(self) -> SparseOperator:
        if self._ui_op is None or self._ui_op.csr.device != self.ui_adj.device:
            self._ui_op = SparseOperator(self.ui_adj)
        return self._ui_op

    def item_graph(self) -> EdgeList:
        """S = (1 - lambda) L + lambda O as one edge list, differentiable in W_m, f_m and alpha."""
        weights = torch.softmax(self.modal_weight, dim=0)
        projected = self.projections()
        learned: list[EdgeList] = []
        initial: list[EdgeList] = []
        for w, m in zip(weights, self.modalities, strict=True):
            neighbours, _ = knn_neighbours(projected[m].detach(), self.k)
            rows = torch.arange(self.n_items, device=neighbours.device).repeat_interleave(self.k)
            cols = neighbours.reshape(-1)
            unit = F.normalize(projected[m], dim=1)
            learned.append((rows, cols, w * (unit[rows] * unit[cols]).sum(-1)))
            graph = getattr(self, f"initial_{m}")
            initial.append((graph.indices()[0], graph.indices()[1], w * graph.values()))
        rows, cols, values = sym_normalized(concatenated(learned), self.n_items)
        lam = float(self.config["lambda_coeff"])
        return concatenated([(rows, cols, (1.0 - lam) * values)] + [(r, c, lam * v) for r, c, v in initial])

    def propagate(self, graph: EdgeList) -> tuple[torch.Tensor, torch.Tensor]:
        h: torch.Tensor = self.item_embedding
        for _ in range(int(self.config["n_layers"])):
            h = edge_product(*graph, h)
        ego = torch.cat([self.user_embedding, self.item_embedding])
        out = propagate_mean(self.ui_op, ego, int(self.config["n_ui_layers"]))
        return out[: self.n_users], out[self.n_users :] + F.normalize(h, dim=1)

    def final_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate(self.item_graph())

    def losses(self, batch: BPRBatch) -> dict[str, torch.Tensor]:
        if self._epoch_graph is None:
            graph = self.item_graph()
            self._epoch_graph = (graph[0], graph[1], graph[2].detach())
        else:
            graph = self._epoch_graph
        users, items = self.propagate(graph)
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]
        reg = self.config["reg_weight"] * embedding_l2(len(batch.users), u, p, n)
        return {"bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)), "reg": reg}
