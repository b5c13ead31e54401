"""The ID embedding tables every model starts from, initialised in one place."""

from __future__ import annotations

import torch
from torch import nn


def id_embedding(rows: int, dim: int) -> nn.Parameter:
    """A rows x dim table, Xavier-uniform: the init of every model of the three papers' code
    (DiffMM's official `xavier_uniform_`, LightGCN's and the MMRec baselines')."""
    table = nn.Parameter(torch.empty(rows, dim))
    nn.init.xavier_uniform_(table)
    return table
