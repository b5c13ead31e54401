"""Graph utilities shared by all graph-based models."""

from mmdiffbench.graph.adjacency import (
    bipartite_adjacency,
    drop_edges,
    keep_entries,
    normalized_adjacency,
    symmetric_normalize,
    to_torch_sparse,
)
from mmdiffbench.graph.edges import edge_product
from mmdiffbench.graph.knn import knn_item_graph, knn_neighbours
from mmdiffbench.graph.operator import SparseOperator, propagate_sum

__all__ = [
    "SparseOperator",
    "bipartite_adjacency",
    "drop_edges",
    "edge_product",
    "keep_entries",
    "knn_item_graph",
    "knn_neighbours",
    "normalized_adjacency",
    "propagate_sum",
    "symmetric_normalize",
    "to_torch_sparse",
]
