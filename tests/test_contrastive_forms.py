"""The batch-local and the separate-table InfoNCE forms of models/contrastive.py (SimGCL, HCCF,
NCL): values and gradients against the literal float64 formulas."""

from __future__ import annotations

import pytest
import torch

from mmdiffbench.models import contrastive
from mmdiffbench.models.contrastive import in_batch_info_nce, info_nce, info_nce_at


def literal(anchors: torch.Tensor, table: torch.Tensor, positives: list[int], tau: float) -> torch.Tensor:
    """mean_n -log( exp(cos(a_n, t_{p_n})/tau) / sum_v exp(cos(a_n, t_v)/tau) ), term by term."""
    terms = []
    for n, p in enumerate(positives):
        cos = torch.stack([torch.cosine_similarity(anchors[n], t, dim=0) for t in table])
        terms.append(-torch.log(torch.exp(cos[p] / tau) / torch.exp(cos / tau).sum()))
    return torch.stack(terms).mean()


def test_in_batch_info_nce_counts_each_distinct_node_once() -> None:
    torch.manual_seed(0)
    v1, v2 = torch.randn(10, 5, requires_grad=True), torch.randn(10, 5, requires_grad=True)
    nodes = torch.tensor([7, 2, 2, 4, 7, 7])
    loss = in_batch_info_nce(v1, v2, nodes, 0.3)
    loss.backward()
    a, b = v1.detach().double().requires_grad_(), v2.detach().double().requires_grad_()
    distinct = [2, 4, 7]
    expected = literal(a[distinct], b[distinct], [0, 1, 2], 0.3)
    expected.backward()
    assert v1.grad is not None and v2.grad is not None and a.grad is not None and b.grad is not None
    torch.testing.assert_close(loss.double(), expected.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(v1.grad.double(), a.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(v2.grad.double(), b.grad, rtol=1e-4, atol=1e-6)


def test_info_nce_at_takes_the_positive_from_the_given_column() -> None:
    torch.manual_seed(1)
    anchors, table = torch.randn(6, 4, requires_grad=True), torch.randn(3, 4)
    columns = torch.tensor([2, 0, 0, 1, 2, 2])
    loss = info_nce_at(anchors, table, columns, 0.1)
    loss.backward()
    a = anchors.detach().double().requires_grad_()
    expected = literal(a, table.double(), columns.tolist(), 0.1)
    expected.backward()
    assert anchors.grad is not None and a.grad is not None
    torch.testing.assert_close(loss.double(), expected.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(anchors.grad.double(), a.grad, rtol=1e-4, atol=1e-6)


def test_info_nce_holds_no_anchors_x_table_tensor_and_scales_its_gradient() -> None:
    """The gradients are formed in forward and kept (anchors x d, table x d), never the softmax;
    the backward scales them by the incoming gradient."""
    torch.manual_seed(4)
    a, b = torch.randn(40, 3, requires_grad=True), torch.randn(50, 3, requires_grad=True)
    nodes = torch.tensor([0, 7, 7, 21, 39])
    saved: list[torch.Size] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor.shape)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = info_nce(a, b, nodes, 0.3)
    assert saved and all(shape.numel() <= 50 * 3 for shape in saved), saved
    (2.5 * loss).backward()
    x, y = a.detach().double().requires_grad_(), b.detach().double().requires_grad_()
    expected = 2.5 * literal(x[nodes], y, nodes.tolist(), 0.3)
    expected.backward()
    assert a.grad is not None and b.grad is not None and x.grad is not None and y.grad is not None
    torch.testing.assert_close(loss.double(), expected / 2.5, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.grad.double(), x.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(b.grad.double(), y.grad, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(info_nce(a, b, nodes, 0.3), loss.detach())


def test_info_nce_in_anchor_chunks_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anchors taken a few rows at a time (the Sports-sized case): the same loss and gradients."""
    torch.manual_seed(5)
    a, b = torch.randn(30, 4, requires_grad=True), torch.randn(20, 4, requires_grad=True)
    nodes = torch.tensor([0, 3, 3, 9, 11, 17, 19, 19, 2])
    whole = info_nce(a, b, nodes, 0.2)
    whole.backward()
    grads = a.grad.clone(), b.grad.clone()  # type: ignore[union-attr]
    a.grad = b.grad = None
    monkeypatch.setattr(contrastive, "CPU_CHUNK_ENTRIES", 3 * len(b))  # 3 anchors per chunk
    chunked = info_nce(a, b, nodes, 0.2)
    chunked.backward()
    torch.testing.assert_close(chunked, whole)
    torch.testing.assert_close(a.grad, grads[0])
    torch.testing.assert_close(b.grad, grads[1])
