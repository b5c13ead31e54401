"""The pieces of benchmarks/reference_epoch.py that shape what MMRec's side is given: DualGNN's
user-user file against a pairwise count, and the choice of one value from an MMRec grid."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from mmdiffbench.data import make_synthetic

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def benchmarks() -> dict[str, ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return {name: importlib.import_module(name) for name in ("reference_epoch", "mmrec_epoch")}
    finally:
        sys.path.remove(str(BENCHMARKS))


def shared_items(train) -> dict[int, dict[int, int]]:
    """For every user, every other user with at least one shared training item and how many: by sets."""
    items = {u: set(train[u].indices.tolist()) for u in range(train.shape[0])}
    return {
        u: {v: len(items[u] & items[v]) for v in items if v != u and items[u] & items[v]} for u in range(len(items))
    }


def test_user_graph_is_the_pairwise_count(benchmarks, tmp_path):
    dataset = make_synthetic(n_users=60, n_items=40, seed=3)
    path = tmp_path / "user_graph_dict.npy"
    benchmarks["reference_epoch"].write_user_graph(dataset, path, keep=dataset.n_users)
    graph = np.load(path, allow_pickle=True).item()
    expected = shared_items(dataset.train.tocsr())
    assert sorted(graph) == list(range(dataset.n_users))
    for user, (neighbours, counts) in graph.items():
        assert dict(zip(neighbours, counts, strict=True)) == expected[user]
        assert counts == sorted(counts, reverse=True)


def test_user_graph_keeps_the_largest_counts(benchmarks, tmp_path):
    dataset = make_synthetic(n_users=60, n_items=40, seed=4)
    path = tmp_path / "user_graph_dict.npy"
    benchmarks["reference_epoch"].write_user_graph(dataset, path, keep=3)
    graph = np.load(path, allow_pickle=True).item()
    expected = shared_items(dataset.train.tocsr())
    for user, (neighbours, counts) in graph.items():
        assert counts == sorted(expected[user].values(), reverse=True)[:3]
        assert all(expected[user][v] == c for v, c in zip(neighbours, counts, strict=True))


def test_pick_takes_our_value_from_the_grid_else_its_first(benchmarks):
    pick = benchmarks["mmrec_epoch"].pick
    assert pick([0.1, 1e-2, 1e-3], 0.01) == 1e-2
    assert pick([0.1, 1e-2], 5e-4) == 0.1
    assert pick([1, 2], None) == 1
    assert pick(["add"], "mean") == "add"
    assert pick(0.9, 0.5) == 0.9  # a single setting is MMRec's, never replaced
