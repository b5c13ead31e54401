"""Sparse x dense products with a cheap backward pass.

torch's COO `sparse.mm` transposes and re-sorts the matrix in every backward pass, which
dominated LightGCN's step time on CPU. Graph matrices are constants, so the gradient only
flows into the dense operand: d(A X)/dX applied to G is A^T G. We keep A (and A^T when A is
not symmetric) in CSR and run both directions as CSR products.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch


class _SparseMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, matrix: torch.Tensor, transposed: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        ctx.transposed = transposed
        return matrix @ dense

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, None, torch.Tensor]:
        return None, None, ctx.transposed @ grad


def to_csr(matrix: torch.Tensor) -> torch.Tensor:
    """A torch sparse COO (or CSR) matrix in CSR layout."""
    if matrix.layout == torch.sparse_csr:
        return matrix
    with warnings.catch_warnings():  # "CSR support is in beta": we use only matmul, which is stable
        warnings.simplefilter("ignore", UserWarning)
        return matrix.coalesce().to_sparse_csr()


def sparse_matmul(matrix: torch.Tensor, dense: torch.Tensor, transposed: torch.Tensor | None = None) -> torch.Tensor:
    """`matrix @ dense`, differentiable in `dense` only.

    `matrix` is CSR (see `to_csr`); `transposed` is its transpose in CSR, omitted when the
    matrix is symmetric (normalised bipartite adjacencies are).
    """
    return _SparseMatmul.apply(matrix, matrix if transposed is None else transposed, dense)
