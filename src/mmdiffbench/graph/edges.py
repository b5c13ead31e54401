"""y = S x for a sparse S given as an edge list whose values carry gradient (LATTICE's learned item
graph), computed over chunks of edges.

The autograd form `zeros.index_add(0, rows, values[:, None] * x[cols])` keeps two edges x d
tensors for its backward (the gathered rows and the weighted ones: 2 x 179 MiB for LATTICE's
734,280 Sports edges at d = 64) and its backward makes three more of that size. `edge_product`
runs the same operations chunk by chunk and keeps only x, the values and the indices. index_add
adds edge after edge in index order, so chunks change nothing: at one thread, output and
gradients are the autograd form's bit for bit (tests/test_edges.py). Its backward scatters the
gradient of x with index_add too, where autograd uses an accumulating index_put, whose order
depends on the threads (at two threads two runs of the autograd form differ in the last bits):
here the gradient is the same at any thread count.
"""

from __future__ import annotations

from typing import Any

import torch

#: edges per chunk: 64 Ki edges x 64 columns are 16 MiB per temporary
EDGE_CHUNK = 1 << 16


class _EdgeProduct(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, x: torch.Tensor, chunk: int
    ) -> torch.Tensor:
        out = torch.zeros_like(x)
        for start in range(0, len(rows), chunk):
            part = slice(start, start + chunk)
            out.index_add_(0, rows[part], values[part].unsqueeze(1) * x.index_select(0, cols[part]))
        ctx.save_for_backward(rows, cols, values, x)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, None, torch.Tensor | None, torch.Tensor | None, None]:
        """The unchunked form's gradients: index_add's grad.index_select(rows), then the product's
        (grad * x[cols]).sum(1) for the values, and grad * values added onto the rows `cols` of x's."""
        rows, cols, values, x = ctx.saved_tensors
        need_values, need_x = ctx.needs_input_grad[2], ctx.needs_input_grad[3]
        grad_values = torch.empty_like(values) if need_values else None
        grad_x = torch.zeros_like(x) if need_x else None
        for start in range(0, len(rows), ctx.chunk):
            part = slice(start, start + ctx.chunk)
            gathered = grad.index_select(0, rows[part])
            if grad_values is not None:
                grad_values[part] = (gathered * x.index_select(0, cols[part])).sum(1)
            if grad_x is not None:
                grad_x.index_add_(0, cols[part], gathered * values[part].unsqueeze(1))
        return None, None, grad_values, grad_x, None


def edge_product(
    rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, x: torch.Tensor, chunk: int = EDGE_CHUNK
) -> torch.Tensor:
    """out[r] = sum over edges e with rows[e] = r of values[e] x[cols[e]], differentiable in values
    and x; repeated (row, col) pairs add up."""
    if not (rows.shape == cols.shape == values.shape and rows.dim() == 1):
        raise ValueError(
            f"rows, cols and values must be one vector each, got {rows.shape}, {cols.shape}, {values.shape}"
        )
    out: torch.Tensor = _EdgeProduct.apply(rows, cols, values, x, chunk)
    return out
