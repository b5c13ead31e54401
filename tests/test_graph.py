"""Adjacency normalisation, edge dropout and the sparse product against dense formulas."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mmdiffbench.graph import SparseOperator, bipartite_adjacency, drop_edges, normalized_adjacency


@pytest.fixture
def interactions() -> sp.csr_matrix:
    dense = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=np.float32)  # user 1 isolated
    return sp.csr_matrix(dense)


def _dense_normalized(r: np.ndarray, self_loops: bool) -> np.ndarray:
    n_users, n_items = r.shape
    a = np.zeros((n_users + n_items,) * 2)
    a[:n_users, n_users:] = r
    a[n_users:, :n_users] = r.T
    if self_loops:
        a += np.eye(len(a))
    degree = a.sum(1)
    inv = np.zeros_like(degree)
    inv[degree > 0] = degree[degree > 0] ** -0.5
    return inv[:, None] * a * inv[None, :]


@pytest.mark.parametrize("self_loops", [False, True])
def test_normalized_adjacency_matches_dense_formula(interactions: sp.csr_matrix, self_loops: bool) -> None:
    adj = normalized_adjacency(interactions, self_loops=self_loops).to_dense().numpy()
    np.testing.assert_allclose(adj, _dense_normalized(interactions.toarray(), self_loops), rtol=1e-6)
    np.testing.assert_allclose(adj, adj.T)


def test_bipartite_adjacency_is_binary(interactions: sp.csr_matrix) -> None:
    weighted = interactions * 5.0
    assert set(np.unique(bipartite_adjacency(weighted).data)) == {1.0}


def test_drop_edges_keeps_the_expected_fraction_and_rescales() -> None:
    rng = np.random.default_rng(0)
    adj = normalized_adjacency(sp.csr_matrix((rng.random((300, 200)) < 0.1).astype(np.float32)))
    generator = torch.Generator().manual_seed(0)
    dropped = drop_edges(adj, 0.5, generator)
    kept = dropped._nnz() / adj._nnz()
    assert 0.47 < kept < 0.53
    original = adj.to_dense()
    survivors = dropped.to_dense() != 0
    torch.testing.assert_close(dropped.to_dense()[survivors], original[survivors] / 0.5)
    assert drop_edges(adj, 1.0) is adj
    with pytest.raises(ValueError, match="keep_rate"):
        drop_edges(adj, 0.0)


@pytest.mark.parametrize("symmetric", [True, False])
def test_sparse_operator_value_and_gradient_match_dense(symmetric: bool) -> None:
    rng = np.random.default_rng(1)
    dense = rng.random((6, 6)) * (rng.random((6, 6)) < 0.5)
    if symmetric:
        dense = dense + dense.T
    matrix = torch.tensor(dense, dtype=torch.float32)
    operator = SparseOperator(matrix.to_sparse(), symmetric=symmetric)
    x = torch.randn(6, 3, requires_grad=True)
    weights = torch.randn(6, 3)
    ((operator @ x) * weights).sum().backward()
    grad = x.grad.clone()
    x.grad = None
    expected = matrix @ x
    (expected * weights).sum().backward()
    torch.testing.assert_close(operator @ x.detach(), expected.detach())
    torch.testing.assert_close(grad, x.grad)


def test_sparse_operator_takes_non_contiguous_operands() -> None:
    matrix = torch.tensor([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 0.5, 0.0]])
    operator = SparseOperator(matrix.to_sparse())
    x = torch.randn(4, 3).T  # 3 x 4, column-major
    assert not x.is_contiguous()
    torch.testing.assert_close(operator @ x, matrix @ x)
