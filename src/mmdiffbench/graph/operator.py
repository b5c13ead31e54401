"""A sparse matrix as a fast autograd operator: y = A x with dA not needed.

torch.sparse.mm on COO is several times slower on CPU than on CSR, and the CSR backward
transposes A on every call. Models multiply the same graph with many dense matrices per
step, so `SparseOperator` converts A once to CSR, keeps A^T in CSR too (the same object
when A is symmetric), and uses it for the gradient d(Ax)/dx = A^T g.

Every product writes into a fresh row-major output through `addmm(out=, beta=0)`:
`torch.sparse.mm` zero-fills a buffer, multiplies into it and copies the result, and the
direct form is 1.4-1.5x faster (TikTok's 16,018-node graph, 64-192 columns, 2 threads;
`benchmarks/sparse_product.py`).
"""

from __future__ import annotations

import warnings

import torch


def sparse_product(matrix: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """matrix @ dense for a CSR `matrix`, without torch.sparse.mm's zero-fill and copy."""
    out = torch.empty(matrix.shape[0], dense.shape[1], dtype=dense.dtype, device=dense.device)
    return torch.addmm(out, matrix, dense.contiguous(), beta=0.0, out=out)


class _SparseMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, matrix: torch.Tensor, matrix_t: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        ctx.matrix_t = matrix_t
        return sparse_product(matrix, dense)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, None, torch.Tensor]:
        return None, None, sparse_product(ctx.matrix_t, grad)


class SparseOperator:
    """Holds A (coalesced COO, as built) and its CSR forms; `op @ x` is differentiable in x."""

    def __init__(self, coo: torch.Tensor, symmetric: bool = False) -> None:
        self.coo = coo.coalesce()
        with warnings.catch_warnings():  # "CSR support is in beta": only its matmul is used, which is stable
            warnings.simplefilter("ignore", UserWarning)
            self.csr = self.coo.to_sparse_csr()
            self.csr_t = self.csr if symmetric else self.coo.t().coalesce().to_sparse_csr()
        self.shape = self.coo.shape

    def __matmul__(self, dense: torch.Tensor) -> torch.Tensor:
        if dense.requires_grad:
            return _SparseMatmul.apply(self.csr, self.csr_t, dense)
        return sparse_product(self.csr, dense)


def propagate_sum(adj: SparseOperator, x: torch.Tensor, n_layers: int) -> torch.Tensor:
    """sum_{l=0..L} adj^l x (LightGCN-style propagation with sum pooling, layer 0 included)."""
    total, current = x, x
    for _ in range(n_layers):
        current = adj @ current
        total = total + current
    return total
