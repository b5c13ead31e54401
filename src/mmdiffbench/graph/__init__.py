"""Graph utilities shared by all graph-based models."""

from mmdiffbench.graph.adjacency import (
    bipartite_adjacency,
    drop_edges,
    normalized_adjacency,
    symmetric_normalize,
    to_torch_sparse,
)

__all__ = ["bipartite_adjacency", "drop_edges", "normalized_adjacency", "symmetric_normalize", "to_torch_sparse"]
