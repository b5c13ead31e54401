"""The kNN item graph against a dense computation written here: exactly k neighbours per item,
never itself, the most cosine-similar ones, and D^-1/2 S D^-1/2 (or D^-1 S) normalisation."""

from __future__ import annotations

import pytest
import torch

from mmdiffbench.graph.knn import knn_item_graph, knn_neighbours


def dense_reference(features: torch.Tensor, k: int, weights: str) -> torch.Tensor:
    unit = features.double() / features.double().norm(dim=1, keepdim=True)
    sim = unit @ unit.T
    sim.fill_diagonal_(float("-inf"))
    top = torch.topk(sim, k, dim=1)
    graph = torch.zeros_like(sim)
    graph.scatter_(1, top.indices, 1.0 if weights == "binary" else top.values)
    return graph


@pytest.mark.parametrize("weights", ["binary", "similarity"])
@pytest.mark.parametrize("chunk", [7, 1000])
def test_knn_graph_is_the_symmetric_normalised_top_k(weights: str, chunk: int) -> None:
    torch.manual_seed(0)
    features = torch.randn(40, 6)
    k = 5
    expected = dense_reference(features, k, weights)
    degree = expected.sum(1)
    expected = expected / degree.sqrt()[:, None] / degree.sqrt()[None, :]
    graph = knn_item_graph(features, k, weights, "sym", chunk=chunk).to_dense().double()
    torch.testing.assert_close(graph, expected, rtol=1e-5, atol=1e-6)
    assert torch.equal((graph != 0).sum(1), torch.full((40,), k))
    assert torch.all(graph.diagonal() == 0)


def test_random_walk_and_raw_normalisations() -> None:
    torch.manual_seed(1)
    features = torch.randn(30, 4)
    raw = dense_reference(features, 3, "similarity")
    torch.testing.assert_close(knn_item_graph(features, 3, "similarity", "none").to_dense().double(), raw)
    torch.testing.assert_close(
        knn_item_graph(features, 3, "similarity", "rw").to_dense().double(), raw / raw.sum(1, keepdim=True)
    )


def test_an_exact_duplicate_item_is_a_neighbour_but_never_the_item_itself() -> None:
    features = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    indices, values = knn_neighbours(features, 1)
    assert indices[:, 0].tolist() == [1, 0, 3, 0] or indices[:, 0].tolist() == [1, 0, 3, 1]
    torch.testing.assert_close(values[:2, 0], torch.ones(2))


def test_bad_k_and_options_are_refused() -> None:
    features = torch.randn(5, 3)
    with pytest.raises(ValueError, match="k must be in"):
        knn_item_graph(features, 5)
    with pytest.raises(ValueError, match="normalization"):
        knn_item_graph(features, 2, normalization="row")
    with pytest.raises(ValueError, match="weights"):
        knn_item_graph(features, 2, weights="cosine")
