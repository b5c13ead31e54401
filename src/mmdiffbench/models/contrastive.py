"""Cross-modal InfoNCE as DiffMM runs it (eq. 18-19; official `Utils.contrastLoss`).

For each anchor index n (duplicates count), with both tables row-L2-normalised:
    loss_n = -log( exp(cos(a_n, b_n) / tau) / sum_{v over ALL rows of b} exp(cos(a_n, b_v) / tau) )
and the result is the mean over the anchors. The denominator runs over the whole table,
not the batch (official code). Duplicate anchors give identical terms, so the loss is
computed once per distinct index and weighted by its count: the same value and gradient
with fewer rows in the (anchors x table) similarity product.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(anchor_table: torch.Tensor, target_table: torch.Tensor, nodes: torch.Tensor, tau: float) -> torch.Tensor:
    unique, counts = torch.unique(nodes, return_counts=True)
    anchors = F.normalize(anchor_table[unique], dim=-1) / tau  # scale the few anchors, not the big logits
    targets = F.normalize(target_table, dim=-1)
    logits = anchors @ targets.T
    positive = (anchors * targets[unique]).sum(-1)
    per_node = torch.logsumexp(logits, dim=-1) - positive
    return (per_node * counts).sum() / len(nodes)
