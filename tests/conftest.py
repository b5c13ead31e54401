"""Shared fixtures: the real release (skipped when absent) and small synthetic datasets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from mmdiffbench.data import InteractionDataset, make_synthetic, write_release

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def real_dataset_dir(name: str) -> Path:
    """The public release folder of `name`; skips the test when the copy is absent."""
    path = DATASETS / name
    if not (path / "trnMat.pkl").is_file():
        pytest.skip(f"real data not found at {path}")
    return path


@pytest.fixture
def synthetic() -> InteractionDataset:
    return make_synthetic(n_users=120, n_items=80, n_clusters=4, interactions_per_user=10, seed=3)


@pytest.fixture
def release_dir(tmp_path: Path, synthetic: InteractionDataset) -> Path:
    """A synthetic dataset written in the release layout (coo pickles + float16 features)."""
    directory = tmp_path / "synthetic"
    write_release(synthetic, directory)
    return directory


@pytest.fixture
def one_thread() -> Iterator[None]:
    """torch at one thread for the test (a one-thread CPU run is bit-identical for a seed; two threads
    may sum in another order), restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
