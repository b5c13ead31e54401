"""Pieces the MMRec-line multimodal baselines share (FREEDOM, LATTICE, BM3, MGCN, SLMRec, MMGCL).

- `ModalityProjections`: every modality's item features through its own Linear to the model
  dimension. MMRec's FREEDOM, LATTICE, BM3 and MGCN keep the raw feature table itself trainable
  (`nn.Embedding.from_pretrained(feat, freeze=False)`); SLMRec L2-normalises fixed features.
- `modality_knn_graphs` / `mix_graphs`: the per-modality sparse kNN item graphs of
  `graph.knn.knn_item_graph` (FREEDOM, LATTICE's initial graphs, MGCN) and their weighted sum
  (FREEDOM's fixed image/text mix), never an items x items dense matrix.
- `kept_edges_operator`: the normalised user-item graph of a subset of the training edges.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.graph import SparseOperator, knn_item_graph
from mmdiffbench.tensors import tensor_sum

INITS = ("default", "xavier_normal", "xavier_uniform")


def feature_tables(dataset: InteractionDataset) -> dict[str, torch.Tensor]:
    """Every modality's items x dim feature table as float32, in `dataset.modalities` order."""
    return {m: torch.from_numpy(np.asarray(dataset.features[m], dtype=np.float32)) for m in dataset.modalities}


class ModalityProjections(nn.Module):
    """items x dim projections W_m f_m + b_m of every modality m.

    `trainable_features`: the raw table is a parameter (MMRec's `freeze=False`), else a buffer;
    `normalize`: rows L2-normalised first (SLMRec); `init`: of W_m (PyTorch's default Linear
    init in FREEDOM, LATTICE, MGCN; Xavier-normal in BM3; Xavier-uniform in SLMRec).
    """

    def __init__(
        self,
        features: Mapping[str, torch.Tensor],
        dim: int,
        trainable_features: bool,
        init: str = "default",
        normalize: bool = False,
    ) -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.modalities = list(features)
        self.linears = nn.ModuleDict()
        self.tables = nn.ParameterDict() if trainable_features else None
        for m, table in features.items():
            table = F.normalize(table, dim=1) if normalize else table
            if self.tables is not None:
                self.tables[m] = nn.Parameter(table.clone())
            else:
                self.register_buffer(f"table_{m}", table.clone(), persistent=False)
            linear = nn.Linear(table.shape[1], dim)
            if init == "xavier_normal":
                nn.init.xavier_normal_(linear.weight)
            elif init == "xavier_uniform":
                nn.init.xavier_uniform_(linear.weight)
            self.linears[m] = linear

    def table(self, modality: str) -> torch.Tensor:
        return self.tables[modality] if self.tables is not None else getattr(self, f"table_{modality}")

    def forward(self) -> dict[str, torch.Tensor]:
        return {m: self.linears[m](self.table(m)) for m in self.modalities}


def modality_knn_graphs(
    features: Mapping[str, torch.Tensor], k: int, weights: str, normalization: str
) -> dict[str, torch.Tensor]:
    """One sparse normalised kNN item graph per modality (`graph.knn.knn_item_graph`)."""
    return {m: knn_item_graph(f.detach(), k, weights, normalization) for m, f in features.items()}


def mix_graphs(graphs: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """sum_m w_m S_m as one coalesced sparse tensor (entries on shared positions add up)."""
    return tensor_sum(weights[m] * graphs[m] for m in graphs).coalesce()


def image_weighted(modalities: list[str], image_weight: float) -> dict[str, float]:
    """FREEDOM's fixed mix: `image` gets `image_weight`, the other modalities share the rest equally
    (with image + text this is the reference's w_v S_v + (1 - w_v) S_t; without image, equal weights)."""
    others = [m for m in modalities if m != "image"]
    if "image" not in modalities:
        return {m: 1.0 / len(modalities) for m in modalities}
    if not others:
        return {"image": 1.0}
    return {m: image_weight if m == "image" else (1.0 - image_weight) / len(others) for m in modalities}


def kept_edges_operator(users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int) -> SparseOperator:
    """D^-1/2 A D^-1/2 of the bipartite graph of the given user-item edges, degrees counted over
    these edges only (FREEDOM's pruned graph, MMGCL's edge- and node-dropped views)."""
    d_u = torch.bincount(users, minlength=n_users).float()
    d_i = torch.bincount(items, minlength=n_items).float()
    values = (d_u[users] * d_i[items]).rsqrt()
    shifted = items + n_users
    indices = torch.stack([torch.cat([users, shifted]), torch.cat([shifted, users])])
    n = n_users + n_items
    adj = torch.sparse_coo_tensor(indices, torch.cat([values, values]), (n, n), check_invariants=False)
    return SparseOperator(adj, symmetric=True)
