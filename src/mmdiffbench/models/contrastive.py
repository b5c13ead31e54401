"""Cross-modal InfoNCE as DiffMM runs it (eq. 18-19; official `Utils.contrastLoss`).

For each anchor index n (duplicates count), with both tables row-L2-normalised:
    loss_n = -log( exp(cos(a_n, b_n) / tau) / sum_{v over ALL rows of b} exp(cos(a_n, b_v) / tau) )
and the result is the mean over the anchors. The denominator runs over the whole table,
not the batch (official code). Duplicate anchors give identical terms, so the loss is
computed once per distinct index and weighted by its count: the same value and gradient
with fewer rows in the (anchors x table) similarity product.

The denominator, logsumexp over the (anchors x table) logits, is one autograd node
(`_LogSumExpOfProducts`) that keeps only the softmax for its backward: autograd's own graph
holds the logits and the exponentials at full size for each of the four to six terms of a
step, which is most of a Sports step's memory. Its two matmuls can run in bfloat16 (`dtype`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _LogSumExpOfProducts(torch.autograd.Function):
    """lse_n = log sum_v exp(a_n . b_v), with d lse_n / d(a_n . b_v) = softmax_v, saved in `dtype`."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        a_low, b_low = a.to(dtype), b.to(dtype)
        logits = a_low @ b_low.T
        weights = torch.softmax(logits, dim=1)  # accumulates in float32 whatever the storage dtype
        # log sum exp = max + log sum exp(l - max), and sum exp(l - max) = 1 / (softmax at the max)
        lse = logits.amax(dim=1).float() - torch.log(weights.amax(dim=1).float())
        ctx.save_for_backward(a_low, b_low, weights)
        return lse

    @staticmethod
    def backward(ctx, grad_lse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        a_low, b_low, weights = ctx.saved_tensors
        scaled = weights * grad_lse.to(weights.dtype).unsqueeze(1)
        grad_a = (scaled @ b_low).float() if ctx.needs_input_grad[0] else None
        grad_b = (scaled.T @ a_low).float() if ctx.needs_input_grad[1] else None
        return grad_a, grad_b, None


def info_nce(
    anchor_table: torch.Tensor,
    target_table: torch.Tensor,
    nodes: torch.Tensor,
    tau: float,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Mean InfoNCE over `nodes`; `dtype` is the precision of the (anchors x table) products."""
    unique, counts = torch.unique(nodes, return_counts=True)
    anchors = F.normalize(anchor_table[unique], dim=-1) / tau  # scale the few anchors, not the big logits
    targets = F.normalize(target_table, dim=-1)
    positive = (anchors * targets[unique]).sum(-1)  # float32 always: the one logit that is not averaged
    per_node = _LogSumExpOfProducts.apply(anchors, targets, dtype) - positive
    return (per_node * counts).sum() / len(nodes)
