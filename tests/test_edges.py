"""`edge_product`: chunked over edges, it gives the autograd form's output and gradients bit for bit
(at one thread, where the autograd form is itself reproducible), and the same at two threads."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from mmdiffbench.graph import edge_product

Product = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
Result = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]


def _edges(n: int, n_edges: int, d: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(n)
    rows = torch.randint(0, n, (n_edges,), generator=g)  # unsorted, repeated pairs included
    cols = torch.randint(0, n, (n_edges,), generator=g)
    return rows, cols, torch.rand(n_edges, generator=g), torch.randn(n, d, generator=g)


def _result(product: Product, edges: tuple[torch.Tensor, ...], values_grad: bool) -> Result:
    rows, cols, values, x = edges
    values = values.clone().requires_grad_(values_grad)
    x = x.clone().requires_grad_(True)
    out = product(rows, cols, values, x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return out.detach(), x.grad, values.grad


def _autograd_form(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x).index_add(0, rows, values.unsqueeze(1) * x[cols])


def _assert_equal(a: Result, b: Result) -> None:
    for left, right in zip(a, b, strict=True):
        assert (left is None and right is None) or (left is not None and right is not None and torch.equal(left, right))


SIZES = [(50, 400, 8, 7), (20_000, 200_000, 64, 1 << 16)]


@pytest.mark.parametrize("values_grad", [True, False])
@pytest.mark.parametrize(("n", "n_edges", "d", "chunk"), SIZES)
def test_edge_product_is_the_autograd_form_bit_for_bit(
    one_thread: None, n: int, n_edges: int, d: int, chunk: int, values_grad: bool
) -> None:
    edges = _edges(n, n_edges, d)
    ours = _result(lambda *a: edge_product(*a, chunk=chunk), edges, values_grad)
    _assert_equal(ours, _result(_autograd_form, edges, values_grad))
    assert (ours[2] is not None) == values_grad


def test_edge_product_gives_the_same_at_two_threads() -> None:
    n, n_edges, d, chunk = SIZES[1]
    edges = _edges(n, n_edges, d)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = _result(lambda *a: edge_product(*a, chunk=chunk), edges, True)
        torch.set_num_threads(2)
        _assert_equal(_result(lambda *a: edge_product(*a, chunk=chunk), edges, True), single)
    finally:
        torch.set_num_threads(threads)


def test_edge_product_refuses_mismatched_edges() -> None:
    with pytest.raises(ValueError, match="one vector each"):
        edge_product(
            torch.zeros(3, dtype=torch.long), torch.zeros(2, dtype=torch.long), torch.ones(3), torch.ones(4, 2)
        )
