"""Cross-modal InfoNCE as DiffMM runs it (eq. 18-19; official `Utils.contrastLoss`).

For each anchor index n (duplicates count), with both tables row-L2-normalised:
    loss_n = -log( exp(cos(a_n, b_n) / tau) / sum_{v over ALL rows of b} exp(cos(a_n, b_v) / tau) )
and the result is the mean over the anchors. The denominator runs over the whole table,
not the batch (official code). Duplicate anchors give identical terms, so the loss is
computed once per distinct index and weighted by its count: the same value and gradient
with fewer rows in the (anchors x table) similarity product.

The denominator, the anchors' weighted logsumexp over the (anchors x table) logits, is one
autograd node (`weighted_log_sum_exp`) that forms its gradients in the forward pass and keeps
only those: autograd's own graph holds the logits and the exponentials at full size for each of
the four to six terms of a step, which is most of a Sports step's memory. Its three matmuls can
run in bfloat16 (`dtype`).

Two other forms, built on the same pieces for the ID-only baselines:
- `in_batch_info_nce` (SimGCL as SELFRec codes it, HCCF's `contrastLoss`): the denominator runs
  over the batch's distinct nodes only, each counted once;
- `info_nce_at` (NCL's ProtoNCE): the positive of anchor n is row `columns[n]` of a separate
  table (its cluster's prototype), the denominator every row of that table;
- `paired_info_nce` (MGCN, SLMRec, MMGCL): row n of `a` paired with row n of `b`, every row of the
  batch (duplicates included) a negative, optionally without the cosine normalisation and with
  one extra hard negative per row (MMGCL's CN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: logits per chunk of anchors on a CPU (8 MB in float32): a chunk's logits and softmax stay in a 32 MB last-level
#: cache; 1.24-1.44x faster than chunks of 2^24 on Sports' and TikTok's tables (benchmarks/info_nce_chunk.py)
CPU_CHUNK_ENTRIES = 1 << 21
#: logits per chunk of anchors elsewhere (64 MB in float32): Sports' ~2,000 batch users x 35,598 users go in 5
DEVICE_CHUNK_ENTRIES = 1 << 24


class _WeightedLogSumExpOfProducts(torch.autograd.Function):
    """sum_n w_n lse_n, lse_n = log sum_v exp(a_n . b_v), its gradients formed in the forward pass.

    d/da_n = w_n softmax_n b and d/db = softmax^T diag(w) a are the two products a backward pass
    would run on the saved softmax; run while the softmax exists, they are kept instead of it
    (anchors x d and table x d instead of anchors x table: about 850 MB at the end of a Sports
    DiffCL forward) and the backward only scales them by the incoming gradient. Outside grad mode
    (`with_grad` false) they are not formed. The anchors go in chunks of at most `CPU_CHUNK_ENTRIES`
    logits (`DEVICE_CHUNK_ENTRIES` off the CPU), so the (anchors x table) logits and softmax never
    exist whole either.

    For any column j, softmax_nj = exp(l_nj - lse_n), so lse_n = l_nj - log softmax_nj: read at
    one given column per row (`columns`, the anchor's own row of b), it costs no pass over the
    (anchors x table) matrix beyond the softmax. Where that weight underflows to zero (a cosine
    gap over about 80 tau), the row's largest weight is used instead.
    """

    @staticmethod
    def forward(
        ctx,
        a: torch.Tensor,
        b: torch.Tensor,
        columns: torch.Tensor,
        weights: torch.Tensor,
        dtype: torch.dtype,
        with_grad: bool,
    ) -> torch.Tensor:
        a_low, b_low = a.to(dtype), b.to(dtype)
        need_a, need_b = (with_grad and bool(need) for need in ctx.needs_input_grad[:2])
        grad_a = torch.empty(a.shape, dtype=torch.float32, device=a.device) if need_a else None
        grad_b = torch.zeros(b.shape, dtype=torch.float32, device=b.device) if need_b else None
        total = torch.zeros((), dtype=torch.float32, device=a.device)
        budget = CPU_CHUNK_ENTRIES if a.device.type == "cpu" else DEVICE_CHUNK_ENTRIES
        rows = max(1, budget // max(1, len(b)))
        for start in range(0, len(a), rows):
            part = slice(start, start + rows)
            a_part, w = a_low[part], weights[part]
            logits = a_part @ b_low.T
            soft = torch.softmax(logits, dim=1)  # accumulates in float32 whatever the storage dtype
            at = columns[part].unsqueeze(1)
            soft_at = soft.gather(1, at).squeeze(1)
            if not bool(soft_at.all()):
                soft_at, at = soft.max(dim=1, keepdim=True)
                soft_at = soft_at.squeeze(1)
            lse = logits.gather(1, at).squeeze(1).float() - torch.log(soft_at.float())
            total += (lse * w).sum()
            del logits
            # diag(w) W b and W^T diag(w) a: the row scale goes on the small operands, not on W
            if grad_a is not None:
                grad_a[part] = (soft @ b_low).float() * w.unsqueeze(1)
            if grad_b is not None:
                grad_b += (soft.T @ (a_part * w.to(dtype).unsqueeze(1))).float()
        ctx.save_for_backward(grad_a, grad_b)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None, None, None]:
        grad_a, grad_b = ctx.saved_tensors
        return (
            None if grad_a is None else grad_a * grad,
            None if grad_b is None else grad_b * grad,
            None,
            None,
            None,
            None,
        )


def weighted_log_sum_exp(
    a: torch.Tensor, b: torch.Tensor, columns: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """sum_n weights_n log sum_v exp(a_n . b_v), the (anchors x table) products in `dtype`."""
    return _WeightedLogSumExpOfProducts.apply(a, b, columns, weights, dtype, torch.is_grad_enabled())


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
    weights = counts / len(nodes)
    return weighted_log_sum_exp(anchors, targets, unique, weights, dtype) - (positive * weights).sum()


def in_batch_info_nce(view1: torch.Tensor, view2: torch.Tensor, nodes: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over the distinct `nodes` n of -log( exp(cos(v1_n, v2_n)/tau) / sum_m exp(cos(v1_n, v2_m)/tau) ),
    m over the distinct nodes too: a batch-local denominator."""
    unique = torch.unique(nodes)
    return info_nce(view1[unique], view2[unique], torch.arange(len(unique), device=unique.device), tau)


def paired_info_nce(
    a: torch.Tensor, b: torch.Tensor, tau: float, normalize: bool = True, hard: torch.Tensor | None = None
) -> torch.Tensor:
    """mean_n -log( exp(a_n . b_n / tau) / (sum_j exp(a_n . b_j / tau) [+ exp(a_n . hard_n / tau)]) ),
    rows cosine-normalised if asked; `hard` adds one extra negative per row (MMGCL's CN)."""
    if normalize:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        hard = None if hard is None else F.normalize(hard, dim=1)
    logits = a @ b.T / tau
    if hard is not None:
        logits = torch.cat([logits, (a * hard).sum(1, keepdim=True) / tau], dim=1)
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


def info_nce_at(anchors: torch.Tensor, targets: torch.Tensor, columns: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over anchor rows n of -log( exp(cos(a_n, t_{c_n})/tau) / sum_v exp(cos(a_n, t_v)/tau) ), c = `columns`."""
    scaled = F.normalize(anchors, dim=-1) / tau
    table = F.normalize(targets, dim=-1)
    positive = (scaled * table[columns]).sum(-1)
    weights = torch.full_like(positive, 1.0 / len(columns))
    return weighted_log_sum_exp(scaled, table, columns, weights, torch.float32) - (positive * weights).sum()
