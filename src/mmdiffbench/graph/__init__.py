"""Graph utilities shared by all graph-based models."""

from mmdiffbench.graph.adjacency import (
    bipartite_adjacency,
    drop_edges,
    normalized_adjacency,
    symmetric_normalize,
    to_torch_sparse,
)
from mmdiffbench.graph.spmm import sparse_matmul, to_csr

__all__ = ["bipartite_adjacency", "drop_edges", "normalized_adjacency", "symmetric_normalize", "sparse_matmul", "to_csr", "to_torch_sparse"]
